r"""The layer protocol and the kernel state shared by every layer of :mod:`lazyrich.nn`.

A network is a tree of frozen (hashable) dataclasses. Each :class:`Layer` has two meanings:

* the finite network: ``init(key, input_shape) -> params`` and ``apply(params, x, *, key=None)``;
* the infinite-width limit: ``kernel(k) -> k'``, the exact propagation of the NNGP covariance
  :math:`\Sigma` and the neural tangent kernel :math:`\Theta` (Lee et al. 2018; Jacot et al. 2018;
  Novak et al. 2019; Arora et al. 2019), averaged over channels.

Shapes are per example (no batch axis), channels last: ``(d,)``, ``(L, c)``, ``(H, W, c)``. The value
of a multi-branch network (after :class:`~lazyrich.nn.FanOut`) is a tuple; its shape and kernel state
are then tuples too.

The memory model: a :class:`KernelState` holds either only the same-position covariances
(``full_spatial=False``, ``nngp`` of shape ``(n1, n2, *spatial)``) or the covariance of every pair of
positions (``full_spatial=True``, ``(n1, n2, *spatial, *spatial)``). Which one a layer needs at its
input is :meth:`Layer.needs_full_spatial`, given what its output needs; the kernel function
propagates that requirement from the readout back to the input and computes only what is needed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

Shape: TypeAlias = tuple  # tuple[int, ...] for one branch, a tuple of shapes for several
Params: TypeAlias = Any
Need: TypeAlias = Any  # bool (all branches) or a tuple of Needs, one per branch

PARAMETERIZATIONS = ("ntk", "standard")


class LayerError(ValueError):
    """A layer rejected its input shape or its settings.

    The message names the layer and, once it has passed through containers, its path from the
    network's root: ``"layer 3 (Conv) of serial: needs ... got shape (64,)"``.
    """

    def __init__(self, name: str, message: str, path: tuple[str, ...] = ()):
        self.name, self.message, self.path = name, message, path
        where = " > ".join(path) if path else name
        super().__init__(f"{where}: {message}")


def layer_name(layer: Any) -> str:
    return getattr(layer, "display_name", type(layer).__name__)


def raise_layer_error(layer: Any, message: str) -> None:
    """Raise :class:`LayerError` for ``layer``; containers prefix the path of the failing layer."""
    raise LayerError(layer_name(layer), message)


def reraise_within(err: LayerError, index: int, container: Any, child: Any) -> LayerError:
    """``err`` raised by child ``index`` (the layer ``child``) of ``container``, with the path."""
    entry = f"layer {index} ({layer_name(child)}) of {layer_name(container)}"
    return LayerError(err.name, err.message, (entry, *err.path))


def is_branches(shape: Any) -> bool:
    """True for the shape of a multi-branch value (a tuple of shapes)."""
    return isinstance(shape, tuple) and len(shape) > 0 and isinstance(shape[0], tuple)


def check_shape(layer: Any, shape: Any, *, min_ndim: int = 1, max_ndim: int | None = None) -> None:
    """Validate a single-branch per-example shape for ``layer``."""
    if is_branches(shape):
        raise_layer_error(
            layer, f"expects a single input, got {len(shape)} branches with shapes {shape}"
        )
    if not isinstance(shape, tuple) or not all(isinstance(s, int | np.integer) for s in shape):
        raise_layer_error(layer, f"expects a shape (tuple of ints), got {shape!r}")
    if len(shape) < min_ndim or (max_ndim is not None and len(shape) > max_ndim):
        want = f"{min_ndim}" if max_ndim == min_ndim else f"at least {min_ndim}"
        if max_ndim is not None and max_ndim != min_ndim:
            want = f"{min_ndim} to {max_ndim}"
        raise_layer_error(
            layer,
            f"needs per-example inputs with {want} axes (channels last), got shape {shape}",
        )
    if any(s < 1 for s in shape):
        raise_layer_error(layer, f"got an empty input shape {shape}")


def check_std(layer: Any, name: str, value: Any, *, allow_none: bool = False) -> None:
    """A concrete, finite, non-negative scale (``W_std``, ``b_std``) of ``layer``."""
    if value is None and allow_none:
        return
    if isinstance(value, jax.core.Tracer):
        return
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        arr = np.asarray(value) if hasattr(value, "shape") else None
        if arr is None or arr.ndim != 0:
            raise_layer_error(layer, f"`{name}` must be a real scalar, got {value!r}")
        value = float(arr)
    if not math.isfinite(float(value)) or float(value) < 0:
        raise_layer_error(layer, f"`{name}` must be a finite number >= 0, got {value!r}")


def check_parameterization(layer: Any, value: str) -> None:
    if value not in PARAMETERIZATIONS:
        raise_layer_error(
            layer, f"`parameterization` must be one of {PARAMETERIZATIONS}, got {value!r}"
        )


@dataclasses.dataclass(frozen=True)
class KernelState:
    r"""Infinite-width state of a representation: covariances averaged over channels.

    Array fields (pytree children):

    * ``nngp``: :math:`\Sigma(x_1, x_2)`, shape ``(n1, n2, *S)``;
    * ``ntk``: :math:`\Theta(x_1, x_2)`, same shape, or ``None`` when not requested;
    * ``cov1``: :math:`\Sigma(x_1, x_1)` of each example with itself, shape ``(n1, *S)``;
    * ``cov2``: the same for ``x2``, ``(n2, *S)``, or ``None`` when ``x2`` is ``x1``;
    * ``same``: optional boolean ``(n1, n2)`` mask of pairs whose inputs are identical.

    Static fields: ``spatial`` (per-example spatial shape, ``()`` for vectors), ``full_spatial``
    (``S = spatial`` if False, ``S = spatial + spatial`` if True, positions of ``x1`` first),
    ``channels`` (the finite network's width here: the next layer's fan-in), ``is_gaussian``
    (values are Gaussian pre-activations) and ``is_input``.
    """

    nngp: jax.Array
    ntk: jax.Array | None
    cov1: jax.Array
    cov2: jax.Array | None
    same: jax.Array | None
    spatial: tuple[int, ...] = ()
    full_spatial: bool = False
    channels: int = 1
    is_gaussian: bool = False
    is_input: bool = False

    def replace(self, **changes) -> KernelState:
        return dataclasses.replace(self, **changes)

    @property
    def cov2_or_1(self) -> jax.Array:
        return self.cov1 if self.cov2 is None else self.cov2


jax.tree_util.register_dataclass(
    KernelState,
    data_fields=["nngp", "ntk", "cov1", "cov2", "same"],
    meta_fields=["spatial", "full_spatial", "channels", "is_gaussian", "is_input"],
)


# --------------------------------------------------------------------------------------------------
# Layout helpers.
# --------------------------------------------------------------------------------------------------


def spatial_diagonal(a: jax.Array, lead: int, ndim: int) -> jax.Array:
    """``(*lead, *S, *S) -> (*lead, *S)``: the same-position entries of a full spatial covariance."""
    if ndim == 0:
        return a
    size = int(np.prod(a.shape[lead : lead + ndim]))
    spatial = a.shape[lead : lead + ndim]
    flat = a.reshape(a.shape[:lead] + (size, size))
    return jnp.diagonal(flat, axis1=-2, axis2=-1).reshape(a.shape[:lead] + spatial)


def to_diagonal(k: KernelState) -> KernelState:
    """Drop the cross-position covariances of a full-spatial state (no-op on a diagonal one)."""
    if not k.full_spatial:
        return k
    nd = len(k.spatial)

    def diag(a, lead):
        return None if a is None else spatial_diagonal(a, lead, nd)

    return k.replace(
        nngp=diag(k.nngp, 2),
        ntk=diag(k.ntk, 2),
        cov1=diag(k.cov1, 1),
        cov2=diag(k.cov2, 1),
        full_spatial=False,
    )


def symmetrize(a: jax.Array, k: KernelState) -> jax.Array:
    """``(a + a^T) / 2`` for a cross covariance of ``x1`` with itself (swaps examples and, in the
    full layout, the two position blocks)."""
    nd = len(k.spatial)
    if k.full_spatial:
        perm = (1, 0) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    else:
        perm = (1, 0) + tuple(range(2, 2 + nd))
    return (a + jnp.transpose(a, perm)) / 2


def map_states(fn, k):
    """Apply ``fn`` to a KernelState or to every state of a tuple of branches."""
    if isinstance(k, tuple):
        return tuple(map_states(fn, b) for b in k)
    return fn(k)


def variances(k: KernelState, *, identical: bool = True):
    r"""Per-position variances broadcast against ``nngp``, and the identical-pairs mask.

    Returns ``(var1, var2, mask)`` for the cross covariance ``nngp`` (``mask`` is ``None`` or a
    boolean array broadcastable to ``nngp``: pairs at the same position of identical inputs),
    and ``(v1, mask1)`` for the self covariance ``cov1`` (``v2`` likewise for ``cov2``).
    """
    nd = len(k.spatial)
    if k.full_spatial:
        d1 = spatial_diagonal(k.cov1, 1, nd)
        d2 = spatial_diagonal(k.cov2_or_1, 1, nd)
        var1 = d1.reshape(d1.shape[:1] + (1,) + d1.shape[1:] + (1,) * nd)
        var2 = d2.reshape((1,) + d2.shape[:1] + (1,) * nd + d2.shape[1:])
        eye = _spatial_eye(k.spatial) if nd else None
        mask = None
        if k.same is not None:
            mask = k.same.reshape(k.same.shape + (1,) * (2 * nd))
            if eye is not None:
                mask = mask & eye
        return var1, var2, mask
    var1 = k.cov1[:, None]
    var2 = k.cov2_or_1[None, :]
    mask = None if k.same is None else k.same.reshape(k.same.shape + (1,) * nd)
    return var1, var2, mask


def self_variances(k: KernelState, cov: jax.Array):
    """``(var_a, var_b, mask)`` for a self covariance ``cov`` (``(n, *S)`` or ``(n, *S, *S)``)."""
    nd = len(k.spatial)
    if k.full_spatial and nd:
        d = spatial_diagonal(cov, 1, nd)
        va = d.reshape(d.shape + (1,) * nd)
        vb = d.reshape(d.shape[:1] + (1,) * nd + d.shape[1:])
        return va, vb, _spatial_eye(k.spatial)[None]
    return cov, cov, True


def _spatial_eye(spatial: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(spatial))
    return np.eye(size, dtype=bool).reshape(spatial + spatial)


# --------------------------------------------------------------------------------------------------
# The protocol.
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LayoutRow:
    """One leaf layer of the memory model: where it sits, its input and the covariance layout its
    input needs (``full_spatial``) and the floats per example pair of that input's ``nngp``."""

    path: str
    layer: str
    input_shape: Any
    full_spatial: Any
    floats_per_pair: int


def pair_floats(shape: Shape, need: Need) -> int:
    """Entries per example pair of ``nngp`` for a value of ``shape`` held in layout ``need``."""
    if is_branches(shape):
        needs = need if isinstance(need, tuple) else (need,) * len(shape)
        return sum(pair_floats(s, n) for s, n in zip(shape, needs, strict=True))
    positions = math.prod(shape[:-1])
    return positions * positions if any_need(need) else positions


class Layer:
    """Base class of every layer; subclasses are frozen dataclasses (hashable, static under jit).

    Subclasses implement :meth:`output_shape`, :meth:`apply`, :meth:`kernel`, and where they have
    parameters :meth:`init`; :meth:`needs_full_spatial` defaults to "whatever the output needs".
    """

    def output_shape(self, input_shape: Shape) -> Shape:
        """Per-example output shape (no batch axis) for ``input_shape``; raises on bad input."""
        raise NotImplementedError

    def init(self, key: jax.Array, input_shape: Shape) -> Params:
        """Parameters of the finite network (``()`` for parameter-free layers)."""
        self.output_shape(input_shape)
        return ()

    def apply(self, params: Params, x: Any, *, key: jax.Array | None = None) -> Any:
        """The finite network on a batch ``x`` of shape ``(n, *input_shape)``."""
        raise NotImplementedError

    def kernel(self, k: Any) -> Any:
        """Infinite-width rule: the output's :class:`KernelState` from the input's."""
        raise NotImplementedError

    def needs_full_spatial(self, out_full: Need) -> Need:
        """Does the input need cross-position covariances, given that the output does (``out_full``)?"""
        return out_full

    def kernel_to(self, k: Any, out_full: Need) -> Any:
        """:meth:`kernel`, then drop cross-position covariances the output does not need.

        Containers override this to pass each child the requirement at the child's output.
        """
        out = self.kernel(k)
        return drop_unneeded(out, out_full)

    def __call__(self, params: Params, x: Any, *, key: jax.Array | None = None) -> Any:
        return self.apply(params, x, key=key)

    def layout(self, input_shape: Shape, out_full: Need, path: str = "") -> list[LayoutRow]:
        """The memory model: one :class:`LayoutRow` per leaf layer (containers recurse)."""
        need = self.needs_full_spatial(out_full)
        return [
            LayoutRow(
                path or "0", layer_name(self), input_shape, need, pair_floats(input_shape, need)
            )
        ]


def drop_unneeded(k: Any, need: Need) -> Any:
    """Convert the states (or branches) whose requirement is False to the diagonal layout."""
    if isinstance(k, tuple):
        needs = need if isinstance(need, tuple) else (need,) * len(k)
        return tuple(drop_unneeded(b, n) for b, n in zip(k, needs, strict=True))
    return k if any_need(need) else to_diagonal(k)


def any_need(need: Need) -> bool:
    if isinstance(need, tuple):
        return any(any_need(n) for n in need)
    return bool(need)


def split_keys(key: jax.Array | None, n: int):
    """``n`` keys from ``key`` (``None`` stays ``None``)."""
    if key is None:
        return (None,) * n
    return tuple(jax.random.split(key, n))
