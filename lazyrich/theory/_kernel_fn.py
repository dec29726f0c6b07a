r"""The infinite-width NNGP and NTK of any :mod:`lazyrich.nn` architecture.

:func:`kernel_fn` turns a network description into a jitted function of the data. It starts from the
input covariance averaged over channels,

.. math::
    \Sigma^0(x, x')_{s s'} = \frac{1}{C} \sum_{c} x_{s c}\, x'_{s' c}, \qquad \Theta^0 = 0,

(:math:`s, s'` spatial positions, :math:`C` input channels) and applies each layer's kernel rule
(``layer.kernel``) in order. Only what the readout needs is computed: the requirement "cross-position
covariances needed" is propagated from the output back to the input through
``layer.needs_full_spatial``, so a Flatten readout keeps every state diagonal in space
(:math:`(n_1, n_2, H, W)`) while global average pooling, local pooling or attention trigger the full
:math:`(n_1, n_2, H, W, H, W)` covariance upstream of them (Novak et al. 2019; Arora et al. 2019).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import nn
from lazyrich._checks import check_int
from lazyrich.nn._activations import identical_pairs
from lazyrich.nn._base import KernelState

GET = ("nngp", "ntk")


class Kernels(NamedTuple):
    """Infinite-width kernels of a network's readout.

    Attributes:
      nngp: the NNGP kernel :math:`\\Sigma(x, x')` (covariance of the outputs at initialization),
        shape ``(n1, n2)``, or ``(n,)`` in diagonal mode (trailing spatial axes for a spatial
        readout); ``None`` if not requested.
      ntk: the neural tangent kernel :math:`\\Theta(x, x')`, same shape; ``None`` if not requested.
    """

    nngp: jax.Array | None
    ntk: jax.Array | None


SPATIAL_OUTPUTS = ("diagonal", "full")


def input_state(x1, x2, *, full_spatial: bool, ntk: bool, same) -> KernelState:
    """The kernel state of the raw inputs ``x1``, ``x2`` (``x2=None``: ``x2`` is ``x1``)."""
    n1, spatial, channels = x1.shape[0], x1.shape[1:-1], x1.shape[-1]
    nd, size = len(spatial), math.prod(x1.shape[1:-1])
    f1 = x1.reshape(n1, size, channels)
    f2 = f1 if x2 is None else x2.reshape(x2.shape[0], size, channels)
    n2 = f2.shape[0]
    if full_spatial:
        nngp = jnp.einsum("apc,bqc->abpq", f1, f2) / channels
        nngp = nngp.reshape((n1, n2) + spatial + spatial)

        def self_cov(f):
            return (jnp.einsum("apc,aqc->apq", f, f) / channels).reshape(
                (f.shape[0],) + spatial + spatial
            )

    else:
        if nd == 0:
            nngp = (f1[:, 0] @ f2[:, 0].T) / channels
        else:
            nngp = (jnp.einsum("apc,bpc->abp", f1, f2) / channels).reshape((n1, n2) + spatial)

        def self_cov(f):
            return (jnp.sum(f * f, axis=-1) / channels).reshape((f.shape[0],) + spatial)

    return KernelState(
        nngp=nngp,
        ntk=jnp.zeros_like(nngp) if ntk else None,
        cov1=self_cov(f1),
        cov2=None if x2 is None else self_cov(f2),
        same=same,
        spatial=tuple(spatial),
        full_spatial=full_spatial,
        channels=int(channels),
        is_gaussian=False,
        is_input=True,
    )


def network_kernels(net, x1, x2, *, ntk: bool, out_full: bool, same=None) -> KernelState:
    """The readout's kernel state of ``net`` on ``x1``, ``x2`` (no validation, no tiling, no jit).

    Usable inside a caller's own jit with traced layer scales (``mlp_kernels`` does this).
    """
    full_in = nn._base.any_need(net.needs_full_spatial(out_full))
    if same is None:
        # Identical inputs stay identical through the network: their pairs get angle 0 exactly.
        same = identical_pairs(x1, x2)
    k = input_state(x1, x2, full_spatial=full_in, ntk=ntk, same=same)
    return net.kernel_to(k, out_full)


def _pad_rows(x, rows: int):
    """``x`` with rows appended (copies of row 0: a valid input for every layer) up to ``rows``."""
    extra = rows - x.shape[0]
    if extra == 0:
        return x
    return jnp.concatenate([x, jnp.broadcast_to(x[:1], (extra,) + x.shape[1:])])


def _tiles(x, count: int, size: int):
    return _pad_rows(x, count * size).reshape((count, size) + x.shape[1:])


def _untile(t, n1: int, n2: int):
    """``(T1, T2, b1, b2, *rest) -> (n1, n2, *rest)``."""
    t1, t2, b1, b2 = t.shape[:4]
    t = jnp.moveaxis(t, 2, 1).reshape((t1 * b1, t2 * b2) + t.shape[4:])
    return t[:n1, :n2]


def _tile_sizes(n1: int, n2: int, batch_size: int | None, ndev: int):
    """Row and column tile sizes and counts (row tiles a multiple of the device count)."""
    b1, b2 = math.ceil(n1 / ndev), n2
    if batch_size is not None:
        b1, b2 = min(b1, batch_size), min(n2, batch_size)
    t1 = math.ceil(math.ceil(n1 / b1) / ndev) * ndev
    return b1, b2, t1, math.ceil(n2 / b2)


def compute(
    net,
    x1,
    x2,
    *,
    ntk: bool,
    diagonal: bool = False,
    out_full: bool = False,
    batch_size: int | None = None,
    devices: Sequence[Any] = (),
):
    """``(nngp, ntk)`` of ``net`` on ``x1`` x ``x2``: tiled, sharded over ``devices`` (if more than
    one); traceable (no validation, no jit)."""
    ndev = max(len(devices), 1)
    if diagonal:
        return _diagonal(net, x1, ntk, out_full, batch_size)
    symmetric = x2 is None
    n1 = x1.shape[0]
    n2 = n1 if symmetric else x2.shape[0]
    b1, b2, t1, t2 = _tile_sizes(n1, n2, batch_size, ndev)
    if t1 == 1 and t2 == 1:
        k = network_kernels(net, x1, x2, ntk=ntk, out_full=out_full)
        nngp, ntk_ = k.nngp, k.ntk
    else:
        sizes = (b1, b2, t1, t2)
        nngp, ntk_ = _tiled(net, x1, x1 if symmetric else x2, ntk, out_full, sizes, devices)
    return nngp, ntk_


def _tiled(net, x1, x2, ntk, out_full, sizes, devices):
    b1, b2, t1, t2 = sizes
    rows, cols = _tiles(x1, t1, b1), _tiles(x2, t2, b2)

    def local_rows(rows, cols):
        def row(xa):
            def col(xb):
                k = network_kernels(net, xa, xb, ntk=ntk, out_full=out_full)
                return k.nngp, k.ntk

            return jax.lax.map(col, cols)

        return jax.lax.map(row, rows)

    if len(devices) > 1:
        mesh = jax.sharding.Mesh(np.asarray(devices), ("rows",))
        spec, rep = jax.sharding.PartitionSpec("rows"), jax.sharding.PartitionSpec()
        local_rows = jax.shard_map(
            local_rows, mesh=mesh, in_specs=(spec, rep), out_specs=spec, check_vma=False
        )
    nngp, ntk_ = local_rows(rows, cols)
    n1, n2 = x1.shape[0], x2.shape[0]
    return _untile(nngp, n1, n2), None if ntk_ is None else _untile(ntk_, n1, n2)


def _diagonal(net, x1, ntk, out_full, batch_size):
    n1 = x1.shape[0]
    b1, _, t1, _ = _tile_sizes(n1, 1, batch_size, 1)

    def one(x):
        k = network_kernels(net, x[None], None, ntk=ntk, out_full=out_full)
        return k.nngp[0, 0], None if k.ntk is None else k.ntk[0, 0]

    if t1 == 1:
        return jax.vmap(one)(x1)
    nngp, ntk_ = jax.lax.map(jax.vmap(one), _tiles(x1, t1, b1))

    def flat(a):
        return a.reshape((t1 * b1,) + a.shape[2:])[:n1]

    return flat(nngp), None if ntk_ is None else flat(ntk_)


@dataclasses.dataclass(frozen=True)
class MemoryModel:
    """Which covariance layout each layer's input needs, and the size of the largest state.

    ``rows``: one :class:`lazyrich.nn.LayoutRow` per leaf layer (path in the network, layer, input
    shape, full spatial covariance needed or not, entries of ``nngp`` per example pair);
    ``full_spatial_input``: whether the input covariance itself is full;
    ``peak_floats_per_pair``: the largest of these (``ntk`` doubles it).
    """

    rows: tuple
    full_spatial_input: bool
    peak_floats_per_pair: int

    def peak_bytes(self, n1: int, n2: int, *, itemsize: int = 4, ntk: bool = True) -> int:
        """Bytes of the largest ``nngp`` (+ ``ntk``) state for an ``n1`` x ``n2`` tile."""
        return self.peak_floats_per_pair * n1 * n2 * itemsize * (2 if ntk else 1)

    def __str__(self) -> str:
        lines = [f"{'path':>8}  {'layer':<22}{'input shape':<22} {'layout':<10}floats/pair"]
        for r in self.rows:
            layout = "full" if nn._base.any_need(r.full_spatial) else "diagonal"
            lines.append(
                f"{r.path:>8}  {r.layer:<22}{str(r.input_shape):<22} {layout:<10}{r.floats_per_pair}"
            )
        return "\n".join(lines)


class KernelFn:
    """The jitted kernel function of a network (built by :func:`kernel_fn`)."""

    def __init__(self, net, *, batch_size, devices, spatial_output):
        self.net = net
        self.batch_size = batch_size
        self.devices = tuple(devices)
        self.spatial_output = spatial_output
        self.trace_count = 0
        self._jitted = jax.jit(self._compute, static_argnames=("ntk", "diagonal"))

    @property
    def out_full(self) -> bool:
        return self.spatial_output == "full"

    @property
    def full_spatial_input(self) -> bool:
        """True if the network needs the cross-position covariance of its inputs."""
        return nn._base.any_need(self.net.needs_full_spatial(self.out_full))

    def memory_model(self, input_shape: tuple[int, ...]) -> MemoryModel:
        """The layout each layer needs for per-example inputs of ``input_shape``.

        Example:
          >>> from lazyrich import nn, theory
          >>> cnn = nn.serial(nn.Conv(8, (3, 3)), nn.Relu(), nn.GlobalAvgPool(), nn.Dense(1))
          >>> theory.kernel_fn(cnn).memory_model((8, 8, 1)).full_spatial_input
          True
        """
        input_shape = tuple(input_shape)
        self.net.output_shape(input_shape)
        rows = tuple(self.net.layout(input_shape, self.out_full))
        return MemoryModel(
            rows=rows,
            full_spatial_input=self.full_spatial_input,
            peak_floats_per_pair=max(r.floats_per_pair for r in rows),
        )

    def _compute(self, x1, x2, *, ntk: bool, diagonal: bool):
        self.trace_count += 1
        return compute(
            self.net,
            x1,
            x2,
            ntk=ntk,
            diagonal=diagonal,
            out_full=self.out_full,
            batch_size=self.batch_size,
            devices=self.devices,
        )

    # --- public -------------------------------------------------------------------------------------
    def __call__(self, x1, x2=None, *, get: str | Sequence[str] = GET, diagonal: bool = False):
        """NNGP and NTK of the readout on ``x1`` x ``x2`` (``x2=None``: ``x1`` with itself).

        Args:
          x1: inputs ``(n1, *input_shape)``, channels last.
          x2: ``(n2, *input_shape)`` or ``None``.
          get: ``"nngp"``, ``"ntk"`` or both (the default); the other field is ``None``.
          diagonal: only :math:`k(x, x)` for each row of ``x1`` (``x2`` must be ``None``).

        Returns:
          :class:`~lazyrich.theory.Kernels` with arrays of shape ``(n1, n2, *S)`` (``(n1, *S)``
          with ``diagonal``): ``S = ()`` for a vector readout, the readout's spatial shape
          (twice, with ``spatial_output="full"``) otherwise.
        """
        get = _check_get(get)
        _check_data(self.net, x1, x2)
        if diagonal and x2 is not None:
            raise ValueError(
                "`diagonal=True` computes k(x, x) for the rows of `x1`; `x2` must be None."
            )
        nngp, ntk = self._jitted(x1, x2, ntk="ntk" in get, diagonal=bool(diagonal))
        return Kernels(nngp if "nngp" in get else None, ntk)


def _check_get(get) -> tuple[str, ...]:
    names = (get,) if isinstance(get, str) else tuple(get)
    if not names or any(name not in GET for name in names):
        raise ValueError(f"`get` must be one of {GET} or a tuple of them, got {get!r}.")
    return names


def _check_data(net, x1, x2) -> None:
    for name, x in (("x1", x1), ("x2", x2)):
        if x is None:
            continue
        if not hasattr(x, "dtype") or not hasattr(x, "shape"):
            raise TypeError(f"`{name}` must be an array, got {type(x).__name__}.")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"`{name}` must have a floating dtype, got {x.dtype}.")
        if x.ndim < 2:
            raise ValueError(
                f"`{name}` must have a batch axis and at least one feature axis, got shape {x.shape}."
            )
        if x.shape[0] == 0 or x.shape[-1] == 0:
            raise ValueError(f"`{name}` must have examples and features, got shape {x.shape}.")
        if not isinstance(x, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(x))):
            bad = int(jnp.sum(~jnp.isfinite(x)))
            raise ValueError(
                f"`{name}` must be finite, got {bad} non-finite entries (shape {x.shape})."
            )
    if x2 is not None:
        if x2.shape[1:] != x1.shape[1:]:
            raise ValueError(
                f"`x1` and `x2` must have the same per-example shape, got {x1.shape[1:]} and "
                f"{x2.shape[1:]}."
            )
        if x2.dtype != x1.dtype:
            raise TypeError(
                f"`x1` and `x2` must have the same dtype, got {x1.dtype} and {x2.dtype}."
            )
    out = net.output_shape(tuple(x1.shape[1:]))
    if nn._base.is_branches(out):
        raise ValueError(
            f"the network ends with {len(out)} branches {out}; end it with a fan-in (FanInSum, "
            "FanInConcat) so that it has one output."
        )


def kernel_fn(
    net: Any,
    *,
    batch_size: int | None = None,
    devices: Sequence[Any] | None = None,
    spatial_output: str = "diagonal",
) -> KernelFn:
    r"""The infinite-width NNGP and NTK of ``net``, as a function built once and jitted.

    ``kf = kernel_fn(net)``; ``kf(x1, x2=None, *, get=("nngp", "ntk"))`` returns
    :class:`Kernels` of the readout, averaged over its channels (neural-tangents' convention). Calls
    with new data of the same shapes and dtypes reuse the compiled program.

    Args:
      net: a :mod:`lazyrich.nn` layer (usually ``nn.serial(...)``).
      batch_size: tile rows and columns into blocks of at most ``batch_size`` (any ``n1``, ``n2``:
        the last tile is padded and cropped); the intermediates of one tile are ``(batch_size,
        batch_size, *S)``. ``None``: one tile per device.
      devices: devices to shard the row tiles over (default: all local devices); results do not
        depend on the number of devices.
      spatial_output: for a readout with spatial axes, ``"diagonal"`` (same-position covariances,
        ``(n1, n2, *spatial)``) or ``"full"`` (``(n1, n2, *spatial, *spatial)``).

    Returns:
      A :class:`KernelFn`; ``kf.full_spatial_input`` says whether the network needs cross-position
      covariances.

    Example:
      >>> import jax.numpy as jnp
      >>> from lazyrich import nn, theory
      >>> net = nn.serial(nn.Dense(512, W_std=1.0, b_std=0.1), nn.Relu(), nn.Dense(1, b_std=0.1))
      >>> kf = theory.kernel_fn(net)
      >>> k = kf(jnp.eye(2))
      >>> print(f"{float(k.nngp[0, 0]):.4f} {float(k.ntk[0, 0]):.4f}")
      0.2650 0.5200
    """
    if not isinstance(net, nn.Layer):
        raise TypeError(f"`net` must be a lazyrich.nn layer, got {type(net).__name__}.")
    try:
        hash(net)
    except TypeError as err:
        raise TypeError(
            f"`net` must be hashable (layer settings such as W_std must be Python numbers): {err}"
        ) from None
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1)
    if spatial_output not in SPATIAL_OUTPUTS:
        raise ValueError(
            f"`spatial_output` must be one of {SPATIAL_OUTPUTS}, got {spatial_output!r}."
        )
    devices = jax.local_devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("`devices` must name at least one device, got an empty sequence.")
    return KernelFn(net, batch_size=batch_size, devices=devices, spatial_output=spatial_output)
