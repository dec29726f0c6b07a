r"""Structured empirical NTK: dense layers through their factors instead of their Jacobians.

A parameter leaf :math:`W` that enters the network only through one ``dot_general``
:math:`y = \mathrm{dot}(A, cW)` (``c`` a parameter-free scalar such as
:math:`1/\sqrt{\mathrm{fan\_in}}`)
has the per-example gradient :math:`\partial f^o / \partial W = c\, A^\top g^o` with
:math:`g^o = \partial f^o / \partial y`. Its NTK block is therefore

.. math::
    \Theta^{op}_{ab} \mathrel{+}= c^2 \sum_{s,t} (A_{a,s} \cdot A_{b,t})\,(g^o_{a,s} \cdot
    g^p_{b,t}),

a contraction over ``fan_in + O^2 fan_out`` numbers per pair instead of ``O^2 fan_in fan_out`` (the
sums run over the free positions ``s, t`` of :math:`A`, e.g. tokens; for an MLP there is one).
A convolution has the same form with :math:`A` its input patches and ``s`` its output positions
(:func:`_conv_canonical`). Per leaf, the cheaper of this factored order and the explicit
per-example gradient :math:`c A^\top g` (a batched matmul, then contracted like a Jacobian) is
used (:func:`leaf_modes`).

The layer inputs :math:`A` and output cotangents :math:`g` are obtained generically from the jaxpr
(``jax.make_jaxpr``): calls to ``jit``-ed sub-functions are inlined, a zero *probe* is added to the
output of each such ``dot_general``/``conv_general_dilated`` and the VJP with respect to the
probes gives :math:`g`. Every other parameter (biases, grouped convolutions, weights used inside
``lax.scan`` or used twice, ...) gets its per-example Jacobian from the same backward pass, so
the method is exact for any model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

_CALLS = {"jit": "jaxpr", "pjit": "jaxpr", "closed_call": "call_jaxpr", "core_call": "call_jaxpr"}
_CHAIN = {"mul", "div", "convert_element_type", "copy", "copy_p"}


class _Const(NamedTuple):
    value: Any


class _Eqn(NamedTuple):
    prim: Any
    params: dict
    ins: tuple  # int (variable id) or _Const
    outs: tuple  # int ids
    avals: tuple  # abstract values of the outputs


def _inline(jaxpr, consts, ins, eqns: list, counter: list) -> list:
    """Flatten ``jaxpr`` (recursively inlining jit calls) into ``eqns``; return the output atoms."""
    env: dict = {}
    for v, c in zip(jaxpr.constvars, consts):
        env[v] = _Const(c)
    for v, a in zip(jaxpr.invars, ins):
        env[v] = a

    def read(v):
        return _Const(v.val) if isinstance(v, jcore.Literal) else env[v]

    for eqn in jaxpr.eqns:
        args = [read(v) for v in eqn.invars]
        key = _CALLS.get(eqn.primitive.name)
        sub = eqn.params.get(key) if key else None
        if sub is not None and hasattr(sub, "jaxpr"):
            outs = _inline(sub.jaxpr, sub.consts, args, eqns, counter)
        else:
            outs = []
            for _ in eqn.outvars:
                counter[0] += 1
                outs.append(counter[0])
            avals = tuple(v.aval for v in eqn.outvars)
            eqns.append(_Eqn(eqn.primitive, eqn.params, tuple(args), tuple(outs), avals))
        for v, a in zip(eqn.outvars, outs):
            env[v] = a
    return [read(v) for v in jaxpr.outvars]


class _Plan(NamedTuple):
    eqns: list
    leaf_ids: list  # variable id of each theta leaf
    x_id: int
    outs: list
    # structured leaf index -> (eqn index of its dot_general, operand side 0/1)
    structured: dict
    probe_eqns: list  # eqn indices of dot_generals that receive a probe
    forward_flops: float
    chain_ops: dict  # eqn index -> (primitive name, chained atom, other atom)
    factor_shapes: dict  # structured leaf index -> (B, S, K, M) of its canonical factors
    kernel_shapes: dict  # structured leaf index -> shape of the parameter operand


def _is_scalar_const(atom, dep: dict) -> bool:
    if isinstance(atom, _Const):
        return np.ndim(atom.value) == 0
    return atom in dep and not dep[atom][0] and not dep[atom][1] and dep[atom][2] == ()


def make_plan(g: Callable, theta: list, x_example) -> _Plan:
    """Trace ``g(theta, x) -> (O,)`` for one example and find the structured leaves."""
    closed = jax.make_jaxpr(g)(theta, x_example)
    counter = [0]
    leaf_ids = []
    for _ in theta:
        counter[0] += 1
        leaf_ids.append(counter[0])
    counter[0] += 1
    x_id = counter[0]
    eqns: list = []
    ins = leaf_ids + [x_id]
    outs = _inline(closed.jaxpr, closed.consts, ins, eqns, counter)

    # dependence: id -> (depends on theta, depends on x, shape)
    dep: dict = {i: (True, False, tuple(np.shape(t))) for i, t in zip(leaf_ids, theta)}
    dep[x_id] = (False, True, tuple(np.shape(x_example)))
    chain: dict = {i: k for k, i in enumerate(leaf_ids)}  # var id -> leaf index (var = c * leaf)
    terminal: dict = {k: [] for k in range(len(theta))}
    chain_ops: dict = {}
    flops = 0.0
    for e_idx, e in enumerate(eqns):
        var_ins = [a for a in e.ins if not isinstance(a, _Const)]
        dth = any(dep[a][0] for a in var_ins)
        dx = any(dep[a][1] for a in var_ins)
        for o, av in zip(e.outs, e.avals):
            dep[o] = (dth, dx, tuple(getattr(av, "shape", ())))
        name = e.prim.name
        if name == "dot_general":
            (lc, _), (lb, _) = e.params["dimension_numbers"]
            lhs_shape = _shape_of(e.ins[0], dep)
            contract = math.prod(lhs_shape[d] for d in lc)
            flops += 2.0 * math.prod(e.avals[0].shape) * contract
        elif name == "conv_general_dilated":
            rhs_shape = _shape_of(e.ins[1], dep)
            flops += (
                2.0
                * math.prod(e.avals[0].shape)
                * math.prod(rhs_shape)
                / max(e.avals[0].shape[e.params["dimension_numbers"].out_spec[1]], 1)
            )
        chained = [a for a in e.ins if not isinstance(a, _Const) and a in chain]
        if not chained:
            continue
        if (
            name in _CHAIN
            and len(chained) == 1
            and (name not in ("mul", "div") or _is_scalar_const(_other(e.ins, chained[0]), dep))
            and (name != "div" or e.ins[0] == chained[0])
        ):
            chain[e.outs[0]] = chain[chained[0]]
            chain_ops[e_idx] = (name, chained[0], _other(e.ins, chained[0]))
            continue
        for pos, a in enumerate(e.ins):
            if not isinstance(a, _Const) and a in chain:
                terminal[chain[a]].append((e_idx, pos))
    for o in outs:
        if not isinstance(o, _Const) and o in chain:
            terminal[chain[o]].append((-1, 0))
    structured = {}
    factor_shapes = {}
    kernel_shapes = {}
    for k, uses in terminal.items():
        if len(uses) != 1 or uses[0][0] < 0:
            continue
        e_idx, pos = uses[0]
        e = eqns[e_idx]
        if e.prim.name not in ("dot_general", "conv_general_dilated"):
            continue
        other = e.ins[1 - pos]
        if not isinstance(other, _Const) and chain.get(other) == k:
            continue  # the leaf multiplies itself
        if e.prim.name == "dot_general":
            (lc, rc), (lb, rb) = e.params["dimension_numbers"]
            contract, batch = (lc, lb) if pos == 1 else (rc, rb)
            a_shape = _shape_of(other, dep)
            nb = math.prod(a_shape[d] for d in batch)
            nk = math.prod(a_shape[d] for d in contract)
            ns = math.prod(a_shape) // max(nb * nk, 1)
            nm = math.prod(_shape_of(e.ins[pos], dep)) // max(nb * nk, 1)
        elif e.prim.name == "conv_general_dilated" and pos == 1 and _conv_supported(e.params):
            # kernel gradient = sum over output positions of (input patch) x (output cotangent)
            out_shape = e.avals[0].shape
            nm = out_shape[e.params["dimension_numbers"].out_spec[1]]
            nb, ns = 1, math.prod(out_shape) // nm
            nk = math.prod(_shape_of(e.ins[1], dep)) // nm
        else:
            continue
        structured[k] = (e_idx, pos)
        factor_shapes[k] = (nb, ns, nk, nm)
        kernel_shapes[k] = _shape_of(e.ins[pos], dep)
    probe_eqns = sorted({e_idx for e_idx, _ in structured.values()})
    return _Plan(
        eqns,
        leaf_ids,
        x_id,
        outs,
        structured,
        probe_eqns,
        flops,
        chain_ops,
        factor_shapes,
        kernel_shapes,
    )


def _conv_supported(params: dict) -> bool:
    """Convolutions whose kernel gradient is a patches-cotangent product (no groups, no lhs
    dilation)."""
    return (
        params["feature_group_count"] == 1
        and params["batch_group_count"] == 1
        and all(d == 1 for d in params["lhs_dilation"])
    )


def _shape_of(atom, dep):
    return tuple(np.shape(atom.value)) if isinstance(atom, _Const) else dep[atom][2]


def _other(ins, a):
    return ins[1] if ins[0] == a else ins[0]


def _bind(e: _Eqn, vals: list) -> list:
    params = e.prim.get_bind_params(e.params)
    subfuns = ()
    if isinstance(params, tuple):  # older JAX returned (subfuns, params)
        subfuns, params = params
    out = e.prim.bind(*subfuns, *vals, **params)
    return list(out) if e.prim.multiple_results else [out]


def _evaluate(plan: _Plan, theta: list, x, probes: dict) -> tuple[Any, dict]:
    """Run the flattened jaxpr, adding ``probes[e_idx]`` to each probed dot.

    Returns the output and, per probed dot, its two operands and the scale ``c`` of each operand
    that is ``c * leaf`` (tracked through the scalar chain; ``None`` for other operands).
    """
    env: dict = dict(zip(plan.leaf_ids, theta))
    env[plan.x_id] = x
    scale: dict = {i: 1.0 for i in plan.leaf_ids}
    captured = {}
    probe_set = set(plan.probe_eqns)

    def read(a):
        return a.value if isinstance(a, _Const) else env[a]

    for e_idx, e in enumerate(plan.eqns):
        vals = [read(a) for a in e.ins]
        outs = _bind(e, vals)
        if e_idx in plan.chain_ops:
            name, src, other = plan.chain_ops[e_idx]
            c = scale[src]
            if name == "mul":
                c = c * read(other)
            elif name == "div":
                c = c / read(other)
            scale[e.outs[0]] = c
        if e_idx in probe_set:
            scales = tuple(
                None if isinstance(a, _Const) or a not in scale else scale[a] for a in e.ins
            )
            captured[e_idx] = (vals, scales)
            outs = [outs[0] + probes[e_idx]]
        env.update(zip(e.outs, outs))
    (out,) = [read(o) for o in plan.outs]
    return out, captured


def _canonical(a, g, dims, pos: int):
    """Reshape the other operand to (B, S, K) and the cotangent to (O, B, S, M)."""
    (lc, rc), (lb, rb) = dims
    contract, batch = (lc, lb) if pos == 1 else (rc, rb)  # dims of the other operand `a`
    free = [d for d in range(a.ndim) if d not in contract and d not in batch]
    a_c = jnp.transpose(a, (*batch, *free, *contract))
    nb = math.prod(a.shape[d] for d in batch)
    ns = math.prod(a.shape[d] for d in free)
    a_c = a_c.reshape(nb, ns, -1)
    # y dims: (batch, lhs free, rhs free); g has a leading output axis O
    num_b = len(batch)
    g_nd = g.ndim - 1
    if pos == 1:  # other = lhs: y = (B, S..., M...)
        perm = list(range(g_nd))
        g_c = jnp.transpose(g, (0, *[p + 1 for p in perm]))
        g_c = g_c.reshape(g.shape[0], nb, ns, -1)
    else:  # other = rhs: y = (B, M..., S...)
        nfree_r = len(free)
        m_axes = list(range(num_b, g_nd - nfree_r))
        s_axes = list(range(g_nd - nfree_r, g_nd))
        order = [*range(num_b), *s_axes, *m_axes]
        g_c = jnp.transpose(g, (0, *[p + 1 for p in order]))
        g_c = g_c.reshape(g.shape[0], nb, ns, -1)
    return a_c, g_c


def _conv_canonical(lhs, g, params: dict, kernel_shape: tuple):
    r"""Input patches ``(1, S, K)`` and output cotangents ``(O, 1, S, M)`` of a convolution.

    ``conv_general_dilated`` is the cross-correlation :math:`y_{n,m,\mathbf{y}} =
    \sum_{c,\mathbf{k}} \tilde x_{n,c,\mathbf{y} \odot \mathbf{s} + \mathbf{k} \odot \mathbf{d}}
    W_{m,c,\mathbf{k}}` of the padded input :math:`\tilde x` (strides :math:`\mathbf{s}`, kernel
    dilation :math:`\mathbf{d}`), so :math:`\partial f^o/\partial W_{m,(c,\mathbf{k})} =
    \sum_{s=(n,\mathbf{y})} P_{s,(c,\mathbf{k})}\, g^o_{s,m}` with the patches
    :math:`P_{s,(c,\mathbf{k})} = \tilde x_{n,c,\mathbf{y}\odot\mathbf{s}+\mathbf{k}\odot
    \mathbf{d}}`: the dense-layer form with ``S`` = output positions, ``K`` = patch size. The
    order of ``(c, k)`` in ``K`` need not match the kernel's layout, only be the same for all
    examples; the patches are the shifted (strided) windows concatenated along the feature axis,
    in the input's own layout, so that no large transposes are needed.
    """
    dn = params["dimension_numbers"]
    sp_in, sp_out = dn.lhs_spec[2:], dn.out_spec[2:]
    pads = [(0, 0, 0)] * lhs.ndim
    for d, (lo, hi) in zip(sp_in, params["padding"]):
        pads[d] = (lo, hi, 0)
    x = jax.lax.pad(lhs, jnp.zeros((), lhs.dtype), pads)
    out_sp = [g.shape[1 + d] for d in sp_out]
    ksize = [kernel_shape[d] for d in dn.rhs_spec[2:]]
    strides, dil = params["window_strides"], params["rhs_dilation"]
    slices = []
    for offs in itertools.product(*[range(k) for k in ksize]):
        start, limit, step = [0] * x.ndim, list(x.shape), [1] * x.ndim
        for d, o, di, size, st in zip(sp_in, offs, dil, out_sp, strides):
            start[d], limit[d], step[d] = o * di, o * di + (size - 1) * st + 1, st
        slices.append(jax.lax.slice(x, start, limit, step))
    p = jnp.concatenate(slices, axis=dn.lhs_spec[1])  # features (k, c)
    p = jnp.transpose(p, (dn.lhs_spec[0], *sp_in, dn.lhs_spec[1]))  # (N, *spatial, K)
    g = jnp.transpose(g, (0, 1 + dn.out_spec[0], *[1 + d for d in sp_out], 1 + dn.out_spec[1]))
    return p.reshape(1, -1, p.shape[-1]), g.reshape(g.shape[0], 1, -1, g.shape[-1])


# The order in which dense/conv factors are combined: ``"factored"`` forms
# :math:`(A_a \cdot A_b)(g_a \cdot g_b)` per pair, ``"explicit"`` forms the per-example
# gradient :math:`A^\top g` once and contracts it like a Jacobian.
_MEMORY_WEIGHT = 8.0  # FLOP-equivalents per float written/read by memory-bound steps (CPU)


def factor_costs(shape, n1: int, n2: int, num_out: int, trace: bool, same: bool):
    """(factored, explicit) cost estimates of one structured leaf with factors ``(B, S, K, M)``."""
    nb, ns, nk, nm = shape
    o_pair = num_out if trace else num_out**2
    n_side = n1 if same else n1 + n2
    factored = 2.0 * n1 * n2 * nb * ns * ns * (nk + o_pair * nm)
    if ns > 1:  # the (a, b, s, t) intermediates are memory bound
        factored += _MEMORY_WEIGHT * n1 * n2 * nb * ns * ns * (1 + o_pair)
    grads = n_side * num_out * nb * nk * nm
    explicit = 2.0 * grads * ns + _MEMORY_WEIGHT * grads + 2.0 * n1 * n2 * o_pair * nb * nk * nm
    return factored, explicit


def leaf_modes(plan: _Plan, n1: int, n2: int, num_out: int, trace: bool, same: bool) -> dict:
    """``"factored"`` or ``"explicit"`` for each structured leaf, whichever is cheaper."""
    modes = {}
    for k, shape in plan.factor_shapes.items():
        factored, explicit = factor_costs(shape, n1, n2, num_out, trace, same)
        modes[k] = "factored" if factored <= explicit else "explicit"
    return modes


def structured_side(theta: list, x, plan: _Plan, modes: dict):
    """Per-example pieces of the kernel of the examples ``x`` (shape ``(n, ...)``).

    Returns ``(jacs, factors)``: ``jacs`` a list of ``(n, O, size)`` Jacobians (the parameters
    without structure, and structured leaves in ``"explicit"`` mode), ``factors`` a list of
    ``(A (n, B, S, K), g (n, O, B, S, M))`` for the leaves in ``"factored"`` mode, with the scale
    ``c`` folded into ``A``.
    """
    structured = plan.structured
    rest_idx = [k for k in range(len(theta)) if k not in structured]
    order = sorted(structured)

    def one(xi):
        probes0 = {
            e: jnp.zeros(plan.eqns[e].avals[0].shape, plan.eqns[e].avals[0].dtype)
            for e in plan.probe_eqns
        }

        def fun(rest, probes):
            th = list(theta)
            for k, v in zip(rest_idx, rest):
                th[k] = v
            out, captured = _evaluate(plan, th, xi, probes)
            aux = []
            for k in order:  # keep only the example-dependent operand and the scalar scale
                e_idx, pos = structured[k]
                vals, scales = captured[e_idx]
                aux.append((jnp.asarray(scales[pos], out.dtype), vals[1 - pos]))
            return out, aux

        rest0 = [theta[k] for k in rest_idx]
        out, vjp_fn, aux = jax.vjp(fun, rest0, probes0, has_aux=True)
        num_out = out.shape[0]
        g_rest, g_probe = jax.vmap(vjp_fn)(jnp.eye(num_out, dtype=out.dtype))
        jacs = [r.reshape(num_out, -1) for r in g_rest]
        factors = []
        for k, (c, a) in zip(order, aux):
            e_idx, pos = structured[k]
            e = plan.eqns[e_idx]
            if e.prim.name == "conv_general_dilated":
                a_c, g_c = _conv_canonical(a, g_probe[e_idx], e.params, plan.kernel_shapes[k])
            else:
                a_c, g_c = _canonical(a, g_probe[e_idx], e.params["dimension_numbers"], pos)
            factors.append((c * a_c, g_c))
        return jacs, factors

    jacs, factors = jax.vmap(one)(x)
    kept = []
    for k, (a, g) in zip(order, factors):
        if modes[k] == "factored":
            kept.append((a, g))
            continue
        # explicit per-example gradient A^T g, one batched matmul over (n, B), contracting S
        n, num_out, nb, ns, nm = g.shape
        g_t = jnp.transpose(g, (0, 2, 3, 1, 4)).reshape(n * nb, ns, num_out * nm)
        grad = jnp.matmul(jnp.swapaxes(a.reshape(n * nb, ns, -1), 1, 2), g_t)
        grad = grad.reshape(n, nb, -1, num_out, nm)
        jacs.append(jnp.transpose(grad, (0, 3, 1, 2, 4)).reshape(n, num_out, -1))
    return jacs, kept


def contract_sides(side1, side2, trace: bool):
    """Kernel block ``(n1, n2)`` (traced) or ``(n1, n2, O, O)`` of two sides (see
    :func:`structured_side`; a side with no factors is a plain Jacobian side)."""
    jacs1, fac1 = side1
    jacs2, fac2 = side2
    first1 = jacs1[0] if jacs1 else fac1[0][1]
    first2 = jacs2[0] if jacs2 else fac2[0][1]
    n1, num_out, n2 = first1.shape[0], first1.shape[1], first2.shape[0]
    if trace:
        # sum_{o,k} J1[a,o,k] J2[b,o,k] as one matmul over the flattened (o, k)
        k = sum(a.reshape(n1, -1) @ b.reshape(n2, -1).T for a, b in zip(jacs1, jacs2))
    else:
        k = sum(
            a.reshape(n1 * num_out, -1) @ b.reshape(n2 * num_out, -1).T
            for a, b in zip(jacs1, jacs2)
        )
        if jacs1:
            k = jnp.transpose(k.reshape(n1, num_out, n2, num_out), (0, 2, 1, 3))
    for (a1, g1), (a2, g2) in zip(fac1, fac2):
        k = k + _factored_block(a1, g1, a2, g2, trace)
    return k / num_out if trace else k


def _factored_block(a1, g1, a2, g2, trace: bool):
    """:math:`\\sum_{B,s,t} (A_{aBs}\\cdot A_{bBt}) (g^o_{aBs}\\cdot g^p_{bBt})` (summed over
    ``o = p`` when ``trace``)."""
    n1, num_out, nb, ns, nm = g1.shape
    n2 = g2.shape[0]
    if nb == 1 and ns == 1:  # dense layer: two matmuls and a Hadamard product
        ka = a1.reshape(n1, -1) @ a2.reshape(n2, -1).T
        if trace:
            return ka * (g1.reshape(n1, -1) @ g2.reshape(n2, -1).T)
        kg = g1.reshape(n1 * num_out, nm) @ g2.reshape(n2 * num_out, nm).T
        kg = jnp.transpose(kg.reshape(n1, num_out, n2, num_out), (0, 2, 1, 3))
        return ka[:, :, None, None] * kg
    ka = jnp.einsum("aBsk,bBtk->abBst", a1, a2)
    if trace:
        return jnp.sum(ka * jnp.einsum("aoBsm,boBtm->abBst", g1, g2), axis=(2, 3, 4))
    return jnp.einsum("abBst,aoBsm,bpBtm->abop", ka, g1, g2, optimize="optimal")
