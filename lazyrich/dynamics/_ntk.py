r"""Empirical neural tangent kernels of any ``apply_fn(params, x)``, by several strategies.

For a network :math:`f(\theta, x) \in \mathbb{R}^O` the empirical NTK between inputs :math:`x_a,
x_b` is the :math:`O \times O` block

.. math::
    \Theta_{ab}^{op} = \sum_k \frac{\partial f^o(\theta, x_a)}{\partial \theta_k}
                               \frac{\partial f^p(\theta, x_b)}{\partial \theta_k}
                     = [J(x_a) J(x_b)^\top]_{op}.

With ``trace_outputs=True`` the mean of the diagonal blocks :math:`\frac1O \sum_o \Theta_{ab}^{oo}`
is returned (neural-tangents' ``trace_axes=(-1,)``; ``docs/conventions.md`` §5), the quantity that
converges to the per-output infinite-width NTK.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from lazyrich._checks import (
    check_choice,
    check_finite,
    check_finite_tree,
    check_int,
    check_same_features,
)
from lazyrich._types import ApplyFn, Array, Params

from ._ntk_structured import (
    _MEMORY_WEIGHT,
    contract_sides,
    factor_costs,
    leaf_modes,
    make_plan,
    structured_side,
)

Method = Literal["auto", "jacobian", "ntvp", "structured"]
METHODS = ("auto", "jacobian", "ntvp", "structured")

# --------------------------------------------------------------------------------------------------
# Parameter selection (`wrt`)


def param_path(path: Sequence[Any]) -> str:
    """The string form of a ``jax.tree_util`` key path used by ``wrt`` predicates.

    Entries are joined with ``"/"``: a dict key gives ``str(key)``, a sequence index its integer, an
    attribute its name, a flattened index its key. A trailing ``.value`` attribute (how
    ``nnx.State`` stores the array of an ``nnx.Param``) is dropped. Examples: ``{"layers": [{"w":
    w}]}`` gives ``"layers/0/w"``; the kernel of the second layer of an ``nnx.Sequential`` gives
    ``"layers/1/kernel"``.
    """
    parts = []
    for entry in path:
        if isinstance(entry, jtu.DictKey):
            parts.append(str(entry.key))
        elif isinstance(entry, jtu.SequenceKey):
            parts.append(str(entry.idx))
        elif isinstance(entry, jtu.GetAttrKey):
            parts.append(entry.name)
        elif isinstance(entry, jtu.FlattenedIndexKey):
            parts.append(str(entry.key))
        else:
            parts.append(str(entry))
    if len(parts) > 1 and isinstance(path[-1], jtu.GetAttrKey) and path[-1].name == "value":
        parts.pop()
    return "/".join(parts)


def _selection(params: Params, wrt: Any) -> tuple[list[bool], list[Array], Any]:
    """Return (mask, leaves, treedef) of the parameters selected by ``wrt``."""
    paths_leaves, treedef = jtu.tree_flatten_with_path(params)
    if not paths_leaves:
        raise ValueError("`params` must contain at least one array leaf, got an empty pytree.")
    paths = [param_path(p) for p, _ in paths_leaves]
    leaves = [leaf for _, leaf in paths_leaves]
    if wrt is None:
        mask = [True] * len(leaves)
    elif callable(wrt) and not isinstance(wrt, bool):
        mask = [bool(wrt(p)) for p in paths]
    else:
        wrt_leaves, wrt_def = jtu.tree_flatten(wrt)
        if wrt_def != treedef:
            raise ValueError(
                "`wrt` must be None, a predicate on parameter paths, or a pytree of booleans with "
                f"the structure of `params`; got structure {wrt_def}, expected {treedef}."
            )
        bad = [w for w in wrt_leaves if not isinstance(w, bool | np.bool_)]
        if bad:
            raise TypeError(f"`wrt` leaves must be Python booleans, got {bad[0]!r}.")
        mask = [bool(w) for w in wrt_leaves]
    if not any(mask):
        raise ValueError(f"`wrt` selects no parameter; parameter paths are {paths}.")
    for p, leaf, m in zip(paths, leaves, mask):
        if m and not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            raise TypeError(
                f"`params` leaf {p!r} selected by `wrt` must be floating, got {leaf.dtype}."
            )
    return mask, leaves, treedef


def _restrict(apply_fn: ApplyFn, params: Params, wrt: Any) -> tuple[Callable, list[Array]]:
    """``f(theta, x)`` of the selected leaves ``theta`` (a list), the others frozen at their
    values."""
    mask, leaves, treedef = _selection(params, wrt)
    theta = [leaf for leaf, m in zip(leaves, mask) if m]

    def f(theta: list[Array], x: Array) -> Array:
        it = iter(theta)
        full = [next(it) if m else leaf for leaf, m in zip(leaves, mask)]
        return apply_fn(jtu.tree_unflatten(treedef, full), x)

    return f, theta


def _check_inputs(apply_fn, params, x1, x2) -> int:
    """Validate shapes and values before any work; return the number of outputs O.

    Concrete inputs and parameters must be finite. ``apply_fn`` is traced once on ``x1``
    (``jax.eval_shape``, no computation); if it rejects inputs of that shape (a feature dimension
    the model was not built for), the error names ``x1`` and its shape.
    """
    for name, x in (("x1", x1), ("x2", x2)):
        if np.ndim(x) < 1:
            raise ValueError(f"`{name}` must have a leading batch axis, got shape {np.shape(x)}.")
        check_finite(name, x)
    check_same_features("x1", x1, "x2", x2)
    check_finite_tree("params", params)
    try:
        out = jax.eval_shape(apply_fn, params, x1)
    except (TypeError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"`apply_fn(params, x)` cannot be applied to `x1` of shape {np.shape(x1)} "
            f"({type(err).__name__}: {first}); expected inputs (n, ...) with the feature shape the "
            f"model was built for (e.g. `input_dim` of `dynamics.mlp`)."
        ) from err
    if not hasattr(out, "shape") or len(out.shape) != 2 or out.shape[0] != np.shape(x1)[0]:
        raise ValueError(
            "`apply_fn(params, x)` must return a 2-D array (n, O) with n = x.shape[0]; for `x1` of "
            f"shape {np.shape(x1)} it returned {getattr(out, 'shape', type(out).__name__)}."
        )
    return int(out.shape[1])


# --------------------------------------------------------------------------------------------------
# Block strategies: each maps (f, theta, x1, x2, same, trace) -> (n1, n2) or (n1, n2, O, O)


def _per_example_jacobian(f: Callable, theta: list[Array], x: Array) -> list[Array]:
    """Per-example Jacobians, one ``(n, O, size)`` array per leaf of ``theta``."""

    def one(xi):
        return jax.jacrev(lambda th: f(th, xi[None])[0])(theta)

    jac = jax.vmap(one)(x)
    return [j.reshape(j.shape[0], j.shape[1], -1) for j in jac]


def _ntvp_block(f, theta, x1, x2, trace):
    """NTK-vector products: a VJP on each (x2 example, output) basis vector, then one JVP on x1."""
    out1, jvp1 = jax.linearize(lambda th: f(th, x1), theta)
    num_out = out1.shape[1]
    basis = jnp.eye(num_out, dtype=out1.dtype)

    def column(xb):
        _, vjp2 = jax.vjp(lambda th: f(th, xb[None])[0], theta)
        return jax.vmap(lambda e: jvp1(vjp2(e)[0]))(basis)  # (O_p, n1, O_o)

    cols = jax.vmap(column)(x2)  # (n2, O_p, n1, O_o)
    if trace:
        return jnp.einsum("bpap->ab", cols) / num_out
    return jnp.transpose(cols, (2, 0, 3, 1))


def _plan(f: Callable, theta: list[Array], x: Array):
    return make_plan(lambda th, xi: f(th, xi[None])[0], theta, x[0])


def _estimate_costs(plan, theta, n1: int, n2: int, num_out: int, trace: bool, same: bool):
    """Rough cost of each strategy in FLOP-equivalents (used by ``method="auto"``).

    With ``F`` the forward FLOPs of one example (dense and convolution layers, from the jaxpr),
    ``P`` the number of parameters and ``n`` the examples whose derivatives are taken
    (``n1``, plus ``n2`` unless ``x2`` is ``x1``): the Jacobian contraction costs a forward pass
    and ``O`` backward passes with weight gradients per example (``(1 + 2 O) n F``), writes and
    reads ``n O P`` Jacobian entries (memory bound, weighted by ``_MEMORY_WEIGHT``) and contracts
    them (``2 n1 n2 O P``, ``O^2`` untraced). NTK-vector products cost ``3 O F`` per ``x2``
    example plus ``2 F`` per (``x1`` example, ``x2`` example, output). The structured method
    back-propagates only activation cotangents (``(1 + O) n F``), keeps Jacobians for the
    unstructured parameters and treats each dense/conv leaf by the cheaper of its factored and
    explicit forms (:func:`factor_costs`).
    """
    sizes = [int(np.prod(np.shape(t))) for t in theta]
    num_params = sum(sizes)
    fp = plan.forward_flops or 2.0 * num_params
    o_pair = num_out if trace else num_out**2
    n_side = n1 if same else n1 + n2

    def jacobian_cost(size):
        return (_MEMORY_WEIGHT * n_side * num_out + 2.0 * n1 * n2 * o_pair) * size

    costs = {"jacobian": (1 + 2 * num_out) * n_side * fp + jacobian_cost(num_params)}
    costs["ntvp"] = 3.0 * n2 * num_out * fp + 2.0 * n1 * n2 * num_out * fp
    rest = sum(s for k, s in enumerate(sizes) if k not in plan.structured)
    struct = (1 + num_out) * n_side * fp + jacobian_cost(rest)
    for shape in plan.factor_shapes.values():
        struct += min(factor_costs(shape, n1, n2, num_out, trace, same))
    costs["structured"] = struct
    return costs


# --------------------------------------------------------------------------------------------------
# Tiling


def _tiled(prepare, pair, x1, x2, same: bool, batch_size: int | None) -> Array:
    """``pair(prepare(x1), prepare(x2))`` on tiles of at most ``batch_size`` rows.

    ``prepare`` maps a tile of examples to its per-example pieces (Jacobians, factors),
    ``pair`` two prepared tiles to their kernel block. Row tile ``i`` is prepared once, column
    tiles once per row tile, and every block is written into the preallocated output with
    ``dynamic_update_slice`` inside ``fori_loop`` (updated in place), so besides the output the
    memory is that of one tile pair, independent of ``n1, n2``. The last tile of each axis is
    shifted back to end at ``n`` (it overlaps its neighbour) instead of being padded. When ``x2``
    is ``x1`` only the blocks on and above the diagonal are computed and mirrored.
    """
    n1, n2 = x1.shape[0], x2.shape[0]
    if batch_size is None or (batch_size >= n1 and batch_size >= n2):
        side1 = prepare(x1)
        return pair(side1, side1 if same else prepare(x2))
    b1, b2 = min(batch_size, n1), min(batch_size, n2)
    m1, m2 = -(-n1 // b1), -(-n2 // b2)
    tile1, tile2 = x1[:b1], x2[:b2]
    shape = jax.eval_shape(lambda: pair(prepare(tile1), prepare(tile2)))
    out = jnp.zeros((n1, n2, *shape.shape[2:]), shape.dtype)
    tail = (0,) * (len(shape.shape) - 2)

    def mirror(block):  # K[b, a, p, o] = K[a, b, o, p]
        return jnp.transpose(block, (1, 0) if block.ndim == 2 else (1, 0, 3, 2))

    def row(i, out):
        r0 = jnp.minimum(i * b1, n1 - b1)
        side1 = prepare(jax.lax.dynamic_slice_in_dim(x1, r0, b1))

        def col(j, out):
            c0 = jnp.minimum(j * b2, n2 - b2)
            block = pair(side1, prepare(jax.lax.dynamic_slice_in_dim(x2, c0, b2)))
            out = jax.lax.dynamic_update_slice(out, block, (r0, c0, *tail))
            if same:
                out = jax.lax.dynamic_update_slice(out, mirror(block), (c0, r0, *tail))
            return out

        if not same:
            return jax.lax.fori_loop(0, m2, col, out)
        out = jax.lax.dynamic_update_slice(out, pair(side1, side1), (r0, r0, *tail))
        return jax.lax.fori_loop(i + 1, m2, col, out)

    return jax.lax.fori_loop(0, m1, row, out)


# --------------------------------------------------------------------------------------------------
# Public API


def _check_options(method, batch_size, devices):
    check_choice("method", method, METHODS)
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1)
    return tuple(jax.devices()) if devices is None else tuple(devices)


def empirical_ntk_fn(
    apply_fn: ApplyFn,
    *,
    method: Method = "auto",
    trace_outputs: bool = True,
    batch_size: int | None = None,
    wrt: Any = None,
    devices: Sequence[Any] | None = None,
) -> Callable[..., Array]:
    r"""Build the empirical-NTK function ``kernel_fn(params, x1, x2=None)`` once; call it many times.

    ``kernel_fn`` is a jitted function: the first call with given parameter and input shapes plans the
    strategy (``method="auto"``: from the jaxpr, see :func:`empirical_ntk`) and compiles one program; later
    calls with the same shapes (new parameter values, new data) run it without tracing or compiling. The
    options are those of :func:`empirical_ntk`, which is the one-shot convenience on top of this.

    Args:
      apply_fn: ``apply_fn(params, x) -> (n, O)``.
      method, trace_outputs, batch_size, wrt, devices: as for :func:`empirical_ntk`.

    Returns:
      ``kernel_fn(params, x1, x2=None) -> (n1, n2)`` (or ``(n1, n2, O, O)`` without ``trace_outputs``).

    Raises:
      ValueError, TypeError: for a bad ``method`` or ``batch_size`` here; for bad shapes or ``wrt`` at the
        first call with those shapes (before any computation).

    Example:
      >>> import jax
      >>> from lazyrich import dynamics
      >>> apply_fn, params = dynamics.mlp(jax.random.key(0), input_dim=3, width=8, depth=2)
      >>> kernel_fn = dynamics.empirical_ntk_fn(apply_fn)
      >>> kernel_fn(params, jax.numpy.ones((4, 3))).shape
      (4, 4)
    """
    devices = _check_options(method, batch_size, devices)
    options = dict(
        method=method, trace_outputs=trace_outputs, batch_size=batch_size, wrt=wrt, devices=devices
    )

    @jax.jit
    def compiled(params, x1, x2=None):
        return _kernel(apply_fn, params, x1, x2, **options)

    @functools.wraps(compiled)
    def kernel_fn(params, x1, x2=None):
        # Concrete values are checked here, before the compiled call (inside it they are tracers).
        for name, x in (("x1", x1), ("x2", x2)):
            if x is not None:
                check_finite(name, x)
        check_finite_tree("params", params)
        return compiled(params, x1, x2)

    kernel_fn._cache_size = compiled._cache_size
    return kernel_fn


@functools.lru_cache(maxsize=64)
def _cached_kernel_fn(apply_fn, method, trace_outputs, batch_size, wrt, devices):
    return empirical_ntk_fn(
        apply_fn,
        method=method,
        trace_outputs=trace_outputs,
        batch_size=batch_size,
        wrt=wrt,
        devices=devices,
    )


def empirical_ntk(
    apply_fn: ApplyFn,
    params: Params,
    x1: Array,
    x2: Array | None = None,
    *,
    method: Method = "auto",
    trace_outputs: bool = True,
    batch_size: int | None = None,
    wrt: Any = None,
    devices: Sequence[Any] | None = None,
) -> Array:
    r"""Empirical neural tangent kernel :math:`\Theta(x_1, x_2) = J(x_1) J(x_2)^\top`.

    .. math::
        \Theta_{ab}^{op} = \sum_{k \in \mathrm{wrt}} \partial_{\theta_k} f^o(\theta, x_{1,a})\,
                                              \partial_{\theta_k} f^p(\theta, x_{2,b}).

    With ``trace_outputs=True`` returns :math:`\frac1O\sum_o \Theta_{ab}^{oo}`, shape ``(n1, n2)``:
    the mean over the O diagonal output blocks, the convention of neural-tangents' default
    ``trace_axes=(-1,)`` (``docs/conventions.md`` §5), comparable with the per-output infinite-width
    NTK. Otherwise returns the full ``(n1, n2, O, O)`` array ``K[a, b, o, p]``.

    Strategies (all give the same kernel to float tolerance):

    * ``"jacobian"``: per-example Jacobians by reverse mode (``n O`` backward passes), contracted
      leaf by leaf; memory ``(n1 + n2) O P``.
    * ``"ntvp"``: NTK-vector products, a VJP per (x2 example, output) basis vector followed by a JVP
      on x1 (``n1 n2 O`` forward-pass cost, no Jacobian of x1 stored); best for cheap forward
      passes.
    * ``"structured"``: dense layers (``dot_general`` with a parameter operand) and convolutions
      (``conv_general_dilated`` with a parameter kernel, no feature groups) are handled by their
      factors, the layer input :math:`a` (for a convolution, its input patches) and the output
      cotangent :math:`g`: either factored, :math:`(a_1\cdot a_2)(g_1\cdot g_2)` per pair
      (wide dense layers), or through the per-example gradient :math:`a^\top g` formed by one
      batched matmul (convolutions, whose kernels are small), whichever is cheaper. Only
      activation cotangents are back-propagated. Every other parameter (biases, weights inside
      ``lax.scan``, weights used more than once or through non-scalar transformations) falls back
      to per-example Jacobians from the same backward pass, so the result is exact for every model.
    * ``"auto"``: picks the strategy with the smallest cost estimate, counted from the jaxpr
      (forward FLOPs of dense and convolution layers, backward passes, Jacobian sizes weighted as
      memory-bound traffic, factor sizes; see :func:`_estimate_costs`).

    Args:
      apply_fn: ``apply_fn(params, x) -> (n, O)``; any JAX-traceable function (see :func:`from_nnx`,
        :func:`from_linen` for Flax models). Examples are treated independently (no batch
        statistics).
      params: pytree of parameters.
      x1: inputs, shape ``(n1, ...)``.
      x2: inputs, shape ``(n2, ...)`` with the feature shape of ``x1``; ``None`` means ``x1``.
      method: one of ``"auto"``, ``"jacobian"``, ``"ntvp"``, ``"structured"``.
      trace_outputs: return the output-traced ``(n1, n2)`` kernel (default) or ``(n1, n2, O, O)``.
      batch_size: if given, the kernel is computed in tiles of at most ``batch_size`` rows of
        ``x1`` and ``x2`` each: the per-example pieces (Jacobians or factors) of one row tile are
        computed once, those of each column tile once per row tile, and every block is written in
        place into the output (``fori_loop``), so the memory is the output plus one tile pair,
        independent of ``n1, n2``. For ``x2=None`` only the blocks on and above the diagonal are
        computed.
      wrt: parameter subset. ``None`` (all), a pytree of Python booleans with the structure of
        ``params``, or a predicate ``wrt(path) -> bool`` on the path string of each leaf (see
        :func:`param_path`, e.g. ``lambda p: p.endswith("kernel")``). Unselected parameters are held
        fixed, so the result is the NTK of the function of the selected parameters alone.
      devices: devices over which the rows of the kernel are split (``jax.shard_map`` on a 1-D
        ``Mesh`` with axis ``"rows"``; ``x2`` and the parameters are replicated, the result is
        sharded by rows). ``None`` uses every device of ``jax.devices()`` when there are several.
        The result equals the single-device one (up to floating-point summation order).

    Returns:
      ``(n1, n2)`` if ``trace_outputs`` else ``(n1, n2, O, O)``, in the dtype of the parameters.

    Raises:
      ValueError: if ``method`` is unknown, ``apply_fn`` does not return a 2-D ``(n, O)`` array,
        ``x1``/``x2`` feature shapes differ, ``wrt`` does not match ``params`` or selects nothing,
        ``batch_size < 1``.
      TypeError: if ``wrt`` leaves are not booleans, a selected leaf is not floating, or
        ``batch_size`` is not an integer.

    The compiled program is kept per ``apply_fn`` and options (:func:`empirical_ntk_fn`, the last 64
    combinations), so repeated eager calls with the same function and shapes do not recompile; a ``wrt``
    given as a pytree of booleans is not hashable and compiles on every eager call (use
    :func:`empirical_ntk_fn` then). Inside a caller's ``jax.jit`` the computation is inlined.

    References:
      Jacot, Gabriel, Hongler (2018), https://arxiv.org/abs/1806.07572, Sec. 4.
      Novak, Sohl-Dickstein, Schoenholz (2022), "Fast finite width neural tangent kernel",
      https://arxiv.org/abs/2206.08720 (the three strategies).
    """
    devices = _check_options(method, batch_size, devices)
    try:
        kernel_fn = _cached_kernel_fn(apply_fn, method, trace_outputs, batch_size, wrt, devices)
    except TypeError:  # an unhashable `apply_fn` or `wrt`: build for this call only
        build = _cached_kernel_fn.__wrapped__
        kernel_fn = build(apply_fn, method, trace_outputs, batch_size, wrt, devices)
    return kernel_fn(params, x1, x2)


def _kernel(apply_fn, params, x1, x2, *, method, trace_outputs, batch_size, wrt, devices):
    """The kernel for one call (traced): validate, restrict to ``wrt``, plan, compute."""
    same = x2 is None
    x2 = x1 if same else x2
    num_out = _check_inputs(apply_fn, params, x1, x2)
    f, theta = _restrict(apply_fn, params, wrt)
    plan = _plan(f, theta, x1) if method in ("auto", "structured") else None
    tiled = batch_size is not None and (batch_size < x1.shape[0] or batch_size < x2.shape[0])
    tile1 = min(batch_size or x1.shape[0], x1.shape[0])
    tile2 = min(batch_size or x2.shape[0], x2.shape[0])
    if method == "auto":
        costs = _estimate_costs(
            plan, theta, tile1, tile2, num_out, trace_outputs, same and not tiled
        )
        method = min(costs, key=costs.get)
    modes = (
        leaf_modes(plan, tile1, tile2, num_out, trace_outputs, same and not tiled)
        if method == "structured"
        else None
    )

    def compute(theta, x1, x2):
        if method == "ntvp":

            def prepare(x):
                return x

            def pair(a, b):
                return _ntvp_block(f, theta, a, b, trace_outputs)

        else:

            def prepare(x):
                if method == "structured":
                    return structured_side(theta, x, plan, modes)
                return _per_example_jacobian(f, theta, x), []

            def pair(side1, side2):
                return contract_sides(side1, side2, trace_outputs)

        def kernel(rows, cols, same_rows):
            return _tiled(prepare, pair, rows, cols, same_rows, batch_size)

        if len(devices) <= 1:
            return kernel(x1, x2, same)
        return _sharded_rows(lambda rows: kernel(rows, x2, False), x1, devices)

    return compute(theta, x1, x2)


def _sharded_rows(rows_fn: Callable, x1: Array, devices: list) -> Array:
    """Split the rows of ``x1`` over ``devices`` and apply ``rows_fn`` on each shard."""
    num_dev, n1 = len(devices), x1.shape[0]
    per = -(-n1 // num_dev)
    pad = per * num_dev - n1
    if pad:
        x1 = jnp.concatenate([x1, jnp.broadcast_to(x1[:1], (pad, *x1.shape[1:]))], axis=0)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("rows",))
    spec = jax.sharding.PartitionSpec("rows")
    out = jax.shard_map(rows_fn, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)(x1)
    return out[:n1]


def ntk_vector_product(
    apply_fn: ApplyFn,
    params: Params,
    x1: Array,
    x2: Array | None,
    v: Array,
    *,
    wrt: Any = None,
) -> Array:
    r"""NTK-vector product :math:`\Theta(x_1, x_2)\, v` without forming the kernel.

    For ``v`` of shape ``(n2, O)`` returns :math:`(\Theta v)_{ao} = \sum_{b,p}
    \Theta_{ab}^{op} v_{bp} = [J(x_1) (J(x_2)^\top v)]_{ao}`, shape ``(n1, O)``: one VJP on ``x2``
    and one JVP on ``x1``. For ``v`` of shape ``(n2,)`` returns the product with the output-traced
    kernel of :func:`empirical_ntk`, :math:`\frac1O\sum_o \sum_b \Theta_{ab}^{oo} v_b`, shape
    ``(n1,)`` (O VJP/JVP pairs).

    Args:
      apply_fn: ``apply_fn(params, x) -> (n, O)``.
      params: pytree of parameters.
      x1: ``(n1, ...)``.
      x2: ``(n2, ...)`` or ``None`` for ``x1``.
      v: ``(n2, O)`` or ``(n2,)``.
      wrt: parameter subset, as in :func:`empirical_ntk`.

    Returns:
      ``(n1, O)`` or ``(n1,)``.

    Raises:
      ValueError: bad shapes (see :func:`empirical_ntk`), or ``v`` not ``(n2, O)`` / ``(n2,)``.
    """
    x2 = x1 if x2 is None else x2
    num_out = _check_inputs(apply_fn, params, x1, x2)
    n2 = np.shape(x2)[0]
    if np.shape(v) not in ((n2, num_out), (n2,)):
        raise ValueError(f"`v` must have shape ({n2}, {num_out}) or ({n2},), got {np.shape(v)}.")
    check_finite("v", v)
    f, theta = _restrict(apply_fn, params, wrt)

    @jax.jit
    def product(theta, x1, x2, v):
        _, vjp2 = jax.vjp(lambda th: f(th, x2), theta)
        _, jvp1 = jax.linearize(lambda th: f(th, x1), theta)
        dtype = jnp.result_type(*theta)
        if v.ndim == 2:
            return jvp1(vjp2(v.astype(dtype))[0])
        basis = jnp.eye(num_out, dtype=dtype)

        def one(e):
            return jvp1(vjp2(v.astype(dtype)[:, None] * e[None, :])[0]) @ e

        return jnp.mean(jax.vmap(one)(basis), axis=0)

    return product(theta, x1, x2, v)


def empirical_nngp(
    features_fn: ApplyFn,
    params: Params,
    x1: Array,
    x2: Array | None = None,
    *,
    trace_outputs: bool = True,
) -> Array:
    r"""Empirical NNGP (feature) kernel :math:`\frac1d \phi(x_1) \phi(x_2)^\top`.

    ``features_fn(params, x) -> (n, d)`` returns the features whose kernel is wanted: pass the
    network's ``apply_fn`` for the kernel of its outputs (neural-tangents' ``empirical_nngp_fn``),
    or a function returning the last hidden layer (post-activation) for the last-layer feature
    kernel, e.g. ``lambda p, x: model.features(x)`` or an ``apply_fn`` of the network without its
    readout. With ``trace_outputs=True`` the result is the mean over the ``d`` features, shape
    ``(n1, n2)``, which converges to the infinite-width NNGP of that layer; otherwise the full
    ``(n1, n2, d, d)`` products :math:`\phi^o(x_{1a}) \phi^p(x_{2b})`.

    Raises:
      ValueError: if ``features_fn`` does not return ``(n, d)`` or feature shapes of ``x1``, ``x2``
        differ.
    """
    same = x2 is None
    x2 = x1 if same else x2
    _check_inputs(features_fn, params, x1, x2)
    phi1 = features_fn(params, x1)
    phi2 = phi1 if same else features_fn(params, x2)
    if trace_outputs:
        return phi1 @ phi2.T / phi1.shape[1]
    return jnp.einsum("ao,bp->abop", phi1, phi2)
