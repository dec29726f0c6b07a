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
``opt_einsum`` picks the cheaper of this factored order and the explicit gradient per layer.

The layer inputs :math:`A` and output cotangents :math:`g` are obtained generically from the jaxpr
(``jax.make_jaxpr``): calls to ``jit``-ed sub-functions are inlined, a zero *probe* is added to the
output of each such ``dot_general`` and the VJP with respect to the probes gives :math:`g`. Every
other parameter (biases, convolution kernels, weights used inside ``lax.scan`` or used twice, ...)
gets its per-example Jacobian from the same backward pass, so the method is exact for any model.
"""

from __future__ import annotations

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
    for k, uses in terminal.items():
        if len(uses) == 1 and uses[0][0] >= 0:
            e_idx, pos = uses[0]
            e = eqns[e_idx]
            if e.prim.name != "dot_general":
                continue
            other = e.ins[1 - pos]
            same_leaf = not isinstance(other, _Const) and chain.get(other) == k
            if e.prim.name == "dot_general" and not same_leaf:
                structured[k] = (e_idx, pos)
                (lc, rc), (lb, rb) = e.params["dimension_numbers"]
                contract, batch = (lc, lb) if pos == 1 else (rc, rb)
                a_shape = _shape_of(other, dep)
                nb = math.prod(a_shape[d] for d in batch)
                nk = math.prod(a_shape[d] for d in contract)
                ns = math.prod(a_shape) // max(nb * nk, 1)
                nm = math.prod(_shape_of(e.ins[pos], dep)) // max(nb * nk, 1)
                factor_shapes[k] = (nb, ns, nk, nm)
    probe_eqns = sorted({e_idx for e_idx, _ in structured.values()})
    return _Plan(
        eqns, leaf_ids, x_id, outs, structured, probe_eqns, flops, chain_ops, factor_shapes
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
    that
    is ``c * leaf`` (tracked through the scalar chain; ``None`` for other operands).
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


def structured_factors(f: Callable, theta: list, x, plan: _Plan):
    """Per-example factors: (rest Jacobians ``(n, O, size)``, [(c, A, g)] per structured leaf)."""
    del f
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
        basis = jnp.eye(out.shape[0], dtype=out.dtype)
        g_rest, g_probe = jax.vmap(vjp_fn)(basis)
        factors = []
        for k, (c, a) in zip(order, aux):
            e_idx, pos = structured[k]
            dims = plan.eqns[e_idx].params["dimension_numbers"]
            a_c, g_c = _canonical(a, g_probe[e_idx], dims, pos)
            factors.append((c, a_c, g_c))
        return [r.reshape(r.shape[0], -1) for r in g_rest], factors

    g_rest, factors = jax.vmap(one)(x)
    # the scale is example-independent: keep the first copy
    return g_rest, [(c[0], a, g) for c, a, g in factors]


def structured_block(f, theta, x1, x2, same, trace, plan):
    r1, f1 = structured_factors(f, theta, x1, plan)
    r2, f2 = (r1, f1) if same else structured_factors(f, theta, x2, plan)
    return _contract_factors(r1, f1, r2, f2, trace)


def _contract_factors(r1, f1, r2, f2, trace):
    num_out = (r1[0] if r1 else f1[0][2]).shape[1]
    if trace:
        k = sum(jnp.einsum("aok,bok->ab", a, b) for a, b in zip(r1, r2))
        for (c, a1, g1), (_, a2, g2) in zip(f1, f2):
            k = k + c**2 * jnp.einsum(
                "aBsk,bBtk,aoBsm,boBtm->ab", a1, a2, g1, g2, optimize="optimal"
            )
        return k / num_out
    k = sum(jnp.einsum("aok,bpk->abop", a, b) for a, b in zip(r1, r2))
    for (c, a1, g1), (_, a2, g2) in zip(f1, f2):
        k = k + c**2 * jnp.einsum("aBsk,bBtk,aoBsm,bpBtm->abop", a1, a2, g1, g2, optimize="optimal")
    return k


def _tiled_factors(f, theta, x, plan, size):
    """Factors of every example, computed ``size`` examples at a time (a ``lax.map``)."""
    n = x.shape[0]
    num = -(-n // size)
    pad = num * size - n
    if pad:
        x = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad, *x.shape[1:]))], axis=0)
    rest, factors = jax.lax.map(
        lambda xb: structured_factors(f, theta, xb, plan), x.reshape(num, size, *x.shape[1:])
    )

    def merge(a):
        return a.reshape(num * size, *a.shape[2:])[:n]

    rest = [merge(r) for r in rest]
    factors = [(c[0], merge(a), merge(g)) for c, a, g in factors]
    return rest, factors


def structured_kernel_tiled(f, theta, x1, x2, same, trace, plan, size):
    """Tiled structured kernel: factors of all examples once (memory ``n x factor size``, not
    ``n x O x P``), then the kernel one block of ``size`` rows at a time against all columns."""
    r1, f1 = _tiled_factors(f, theta, x1, plan, size)
    r2, f2 = (r1, f1) if same else _tiled_factors(f, theta, x2, plan, size)
    n1 = x1.shape[0]
    num = -(-n1 // size)
    pad = num * size - n1

    def rows(a):
        if pad:
            a = jnp.concatenate([a, jnp.broadcast_to(a[:1], (pad, *a.shape[1:]))], axis=0)
        return a.reshape(num, size, *a.shape[1:])

    r1b = [rows(r) for r in r1]
    a1b = [rows(a) for _, a, _ in f1]
    g1b = [rows(g) for _, _, g in f1]

    def one(block):
        rb, ab, gb = block
        fb = [(c, a, g) for (c, _, _), a, g in zip(f1, ab, gb)]
        return _contract_factors(rb, fb, r2, f2, trace)

    k = jax.lax.map(one, (r1b, a1b, g1b))
    return k.reshape(num * size, *k.shape[2:])[:n1]
