r"""Convolutions, local and global pooling, Flatten: channels-last, 1 to 3 spatial dimensions.

Conv (shared weights, filter :math:`F`, strides :math:`s`, dilation :math:`d`): with :math:`\Sigma`
averaged over input channels and zero (SAME) or periodic (CIRCULAR) padding,

.. math::
    \Sigma'(x, x')_{p q} = \frac{\sigma_w^2}{|F|} \sum_{f \in F}
        \Sigma(x, x')_{s p + d f,\; s q + d f} + \sigma_b^2,

the same offset :math:`f` on both sides (Novak et al. 2019, eq. 8; Arora et al. 2019). The same
positions :math:`p = q` of the output need only the same positions of the input, so a network
whose readout is :class:`Flatten` never forms cross-position covariances. The sum is separable: one
pass of :math:`|F_i|` shifted slices per spatial dimension (6 shifted adds for a 3x3 filter, not
9).

Pooling (window :math:`w`, strides :math:`s`), a linear map applied to each of the two positions
independently:

.. math::
    \Sigma'_{p q} = c_p c_q \sum_{u, v \in w} \Sigma_{s p + u,\; s q + v},

(:math:`c = 1/|w|` for AvgPool, 1 for SumPool), so it needs the cross-position covariance of its
input. GlobalAvgPool: :math:`\Sigma' = \frac{1}{P^2}\sum_{p q}\Sigma_{pq}` (full covariance).
Flatten: :math:`\Sigma' = \frac1P\sum_p \Sigma_{pp}` (diagonal only; a following Dense divides by
its fan-in :math:`P C`). The NTK follows the same linear maps.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich.nn._base import (
    KernelState,
    Layer,
    check_parameterization,
    check_shape,
    check_std,
    raise_layer_error,
    to_diagonal,
)
from lazyrich.nn._dense import affine_init, affine_kernel

PADDINGS = ("VALID", "SAME", "CIRCULAR")
_SPECS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}


def _int_tuple(layer, name: str, value, nd: int | None) -> tuple[int, ...]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value,) * (nd or 1)
    try:
        out = tuple(value)
    except TypeError:
        raise_layer_error(layer, f"`{name}` must be a tuple of positive integers, got {value!r}")
    if (
        not out
        or any(isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1 for v in out)
        or (nd is not None and len(out) != nd)
    ):
        want = f" of length {nd}" if nd is not None else ""
        raise_layer_error(
            layer, f"`{name}` must be a tuple{want} of positive integers, got {value!r}"
        )
    return tuple(int(v) for v in out)


def _check_padding(layer, padding) -> None:
    if padding not in PADDINGS:
        raise_layer_error(layer, f"`padding` must be one of {PADDINGS}, got {padding!r}")


def window_geometry(size: int, k: int, s: int, d: int, padding: str) -> tuple[int, int, int]:
    """``(out, lo, hi)``: output length and padding of a window ``k`` (dilation ``d``, stride ``s``)."""
    span = d * (k - 1) + 1
    if padding == "VALID":
        return (size - span) // s + 1 if size >= span else 0, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + span - size, 0)
    return out, total // 2, total - total // 2


def _pad_axis(a, axis: int, lo: int, hi: int, circular: bool):
    if lo == 0 and hi == 0:
        return a
    if circular:
        size = a.shape[axis]
        idx = np.arange(-lo, size + hi) % size
        return jnp.take(a, idx, axis=axis)
    widths = [(0, 0)] * a.ndim
    widths[axis] = (lo, hi)
    return jnp.pad(a, widths)


def window_sum(a, axes, size, k, s, d, padding):
    """Sum over the ``k`` window offsets, shifting all of ``axes`` together (strided, padded)."""
    out, lo, hi = window_geometry(size, k, s, d, padding)
    for ax in axes:
        a = _pad_axis(a, ax, lo, hi, padding == "CIRCULAR")
    total = None
    for f in range(k):
        part = a
        for ax in axes:
            part = jax.lax.slice_in_dim(part, d * f, d * f + s * (out - 1) + 1, s, ax)
        total = part if total is None else total + part
    return total


def _spatial_of(layer, input_shape, nd: int | None = None) -> tuple[int, ...]:
    if nd is None:
        check_shape(layer, input_shape, min_ndim=2)
        return input_shape[:-1]
    if (
        not isinstance(input_shape, tuple)
        or len(input_shape) != nd + 1
        or (input_shape and isinstance(input_shape[0], tuple))
    ):
        names = {1: "(L, channels)", 2: "(H, W, channels)", 3: "(D, H, W, channels)"}[nd]
        raise_layer_error(
            layer,
            f"needs per-example inputs with {nd} spatial dim{'s' if nd > 1 else ''} {names}, got "
            f"shape {input_shape}",
        )
    check_shape(layer, input_shape, min_ndim=nd + 1)
    return input_shape[:-1]


def _output_spatial(layer, spatial, window, strides, dilation, padding) -> tuple[int, ...]:
    out = tuple(
        window_geometry(n, k, s, d, padding)[0]
        for n, k, s, d in zip(spatial, window, strides, dilation, strict=True)
    )
    if any(o < 1 for o in out):
        raise_layer_error(
            layer,
            f"window {window} with strides {strides}, dilation {dilation} and padding "
            f"{padding!r} gives an empty output from spatial shape {spatial}",
        )
    return out


@dataclasses.dataclass(frozen=True)
class Conv(Layer):
    """Convolution with shared weights over 1, 2 or 3 spatial dimensions (channels last).

    Args:
      out_chan: output channels.
      filter_shape: filter size per spatial dimension, e.g. ``(3, 3)``; its length sets the
        number of spatial dimensions of the input.
      strides: per dimension (default 1).
      padding: ``"VALID"``, ``"SAME"`` (zeros) or ``"CIRCULAR"`` (periodic).
      W_std, b_std: weight and bias scales (``b_std=None``: no bias).
      parameterization: ``"ntk"`` (weights :math:`\\sigma_w W/\\sqrt{C_{in}|F|}`) or ``"standard"``.
      dilation: filter dilation per dimension (default 1).

    Example:
      >>> from lazyrich import nn
      >>> cnn = nn.serial(nn.Conv(32, (3, 3), padding="SAME"), nn.Relu(), nn.Flatten(), nn.Dense(1))
    """

    out_chan: int
    filter_shape: Any
    strides: Any = None
    padding: str = "VALID"
    W_std: Any = 1.0
    b_std: Any = None
    parameterization: str = "ntk"
    dilation: Any = None

    def __post_init__(self):
        if (
            isinstance(self.out_chan, bool)
            or not isinstance(self.out_chan, int)
            or self.out_chan < 1
        ):
            raise_layer_error(self, f"`out_chan` must be a positive integer, got {self.out_chan!r}")
        filt = _int_tuple(self, "filter_shape", self.filter_shape, None)
        if len(filt) > 3:
            raise_layer_error(self, f"supports 1 to 3 spatial dimensions, got filter {filt}")
        nd = len(filt)
        object.__setattr__(self, "filter_shape", filt)
        object.__setattr__(self, "strides", _int_tuple(self, "strides", self.strides or 1, nd))
        object.__setattr__(self, "dilation", _int_tuple(self, "dilation", self.dilation or 1, nd))
        _check_padding(self, self.padding)
        check_std(self, "W_std", self.W_std)
        check_std(self, "b_std", self.b_std, allow_none=True)
        check_parameterization(self, self.parameterization)

    @property
    def ndim(self) -> int:
        return len(self.filter_shape)

    def output_shape(self, input_shape):
        spatial = _spatial_of(self, input_shape, self.ndim)
        out = _output_spatial(
            self, spatial, self.filter_shape, self.strides, self.dilation, self.padding
        )
        return out + (self.out_chan,)

    def init(self, key, input_shape):
        self.output_shape(input_shape)
        return affine_init(
            self,
            key,
            self.filter_shape + (input_shape[-1], self.out_chan),
            fan_in=input_shape[-1] * math.prod(self.filter_shape),
        )

    def apply(self, params, x, *, key=None):
        w, b = params["W"].astype(x.dtype), params["b"]
        if x.shape[-1] != w.shape[-2]:
            raise_layer_error(
                self,
                f"got inputs with {x.shape[-1]} channels (shape {tuple(x.shape)}), but its "
                f"parameters were made for {w.shape[-2]}",
            )
        pads = []
        for i, (k, s, d) in enumerate(zip(self.filter_shape, self.strides, self.dilation)):
            _, lo, hi = window_geometry(x.shape[1 + i], k, s, d, self.padding)
            if self.padding == "CIRCULAR":
                x = _pad_axis(x, 1 + i, lo, hi, True)
                lo = hi = 0
            pads.append((lo, hi))
        y = jax.lax.conv_general_dilated(
            x,
            w,
            window_strides=self.strides,
            padding=pads,
            rhs_dilation=self.dilation,
            dimension_numbers=_SPECS[self.ndim],
        )
        if self.parameterization == "ntk":
            y = y * (self.W_std / (x.shape[-1] * math.prod(self.filter_shape)) ** 0.5)
            return y if b is None else y + self.b_std * b.astype(x.dtype)
        return y if b is None else y + b.astype(x.dtype)

    def kernel(self, k: KernelState) -> KernelState:
        nd, spatial = self.ndim, k.spatial
        size = math.prod(self.filter_shape)

        def reduce(a, lead):
            for i, (n, f, s, d) in enumerate(
                zip(spatial, self.filter_shape, self.strides, self.dilation, strict=True)
            ):
                axes = (lead + i, lead + nd + i) if k.full_spatial else (lead + i,)
                a = window_sum(a, axes, n, f, s, d, self.padding)
            return a / size

        out = affine_kernel(
            k,
            reduce,
            k.channels * size,
            self.W_std,
            self.b_std,
            self.parameterization,
            self.out_chan,
        )
        out_spatial = _output_spatial(
            self, spatial, self.filter_shape, self.strides, self.dilation, self.padding
        )
        return out.replace(spatial=out_spatial)


def Conv1D(out_chan: int, filter_size: int, **kwargs) -> Conv:
    """:class:`Conv` over one spatial dimension: inputs ``(L, channels)``."""
    return Conv(out_chan, (filter_size,), **kwargs)


@dataclasses.dataclass(frozen=True)
class _Pool(Layer):
    window_shape: Any
    strides: Any = None
    padding: str = "VALID"

    def __post_init__(self):
        window = _int_tuple(self, "window_shape", self.window_shape, None)
        object.__setattr__(self, "window_shape", window)
        object.__setattr__(
            self, "strides", _int_tuple(self, "strides", self.strides or 1, len(window))
        )
        _check_padding(self, self.padding)

    def output_shape(self, input_shape):
        spatial = _spatial_of(self, input_shape, len(self.window_shape))
        ones = (1,) * len(spatial)
        out = _output_spatial(self, spatial, self.window_shape, self.strides, ones, self.padding)
        return out + (input_shape[-1],)

    def needs_full_spatial(self, out_full):
        return True

    def _scales(self, spatial) -> list:
        """Per dimension, the factor of each output position (1 for SumPool)."""
        return [None] * len(spatial)

    def _pool(self, a, axes_per_dim, spatial):
        scales = self._scales(spatial)
        for i, (n, w, s) in enumerate(zip(spatial, self.window_shape, self.strides, strict=True)):
            for ax in axes_per_dim[i]:
                a = window_sum(a, (ax,), n, w, s, 1, self.padding)
                if scales[i] is not None:
                    shape = [1] * a.ndim
                    shape[ax] = scales[i].shape[0]
                    a = a * jnp.asarray(scales[i].reshape(shape), a.dtype)
        return a

    def apply(self, params, x, *, key=None):
        spatial = x.shape[1:-1]
        return self._pool(x, [(1 + i,) for i in range(len(spatial))], spatial)

    def kernel(self, k: KernelState) -> KernelState:
        if not k.full_spatial:
            raise_layer_error(self, "needs the full spatial covariance of its input")
        nd, spatial = len(k.spatial), k.spatial

        def pool(a, lead):
            if a is None:
                return None
            return self._pool(a, [(lead + i, lead + nd + i) for i in range(nd)], spatial)

        out = _output_spatial(
            self, spatial, self.window_shape, self.strides, (1,) * nd, self.padding
        )
        return k.replace(
            nngp=pool(k.nngp, 2),
            ntk=pool(k.ntk, 2),
            cov1=pool(k.cov1, 1),
            cov2=pool(k.cov2, 1),
            spatial=out,
            is_input=False,
        )


@dataclasses.dataclass(frozen=True)
class AvgPool(_Pool):
    """Average pooling over windows (strides default 1, as in neural-tangents).

    ``normalize_edges=True`` divides by the number of in-range positions of each window (SAME
    padding); otherwise by the window size.
    """

    normalize_edges: bool = False

    def _scales(self, spatial):
        scales = []
        for n, w, s in zip(spatial, self.window_shape, self.strides, strict=True):
            out, lo, _ = window_geometry(n, w, s, 1, self.padding)
            if self.normalize_edges and self.padding == "SAME":
                starts = np.arange(out) * s - lo
                count = np.minimum(starts + w, n) - np.maximum(starts, 0)
                scales.append(1.0 / count)
            else:
                scales.append(np.full(out, 1.0 / w))
        return scales


@dataclasses.dataclass(frozen=True)
class SumPool(_Pool):
    """Sum pooling over windows (strides default 1)."""


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool(Layer):
    """Average over all spatial positions: ``(*spatial, c) -> (c,)``."""

    def _factor(self, spatial) -> float:
        return 1.0 / math.prod(spatial)

    def output_shape(self, input_shape):
        _spatial_of(self, input_shape)
        return input_shape[-1:]

    def needs_full_spatial(self, out_full):
        return True

    def apply(self, params, x, *, key=None):
        return jnp.sum(x, axis=tuple(range(1, x.ndim - 1))) * self._factor(x.shape[1:-1])

    def kernel(self, k: KernelState) -> KernelState:
        if not k.full_spatial:
            raise_layer_error(self, "needs the full spatial covariance of its input")
        nd = len(k.spatial)
        c = self._factor(k.spatial) ** 2

        def pool(a, lead):
            return None if a is None else jnp.sum(a, axis=tuple(range(lead, lead + 2 * nd))) * c

        return k.replace(
            nngp=pool(k.nngp, 2),
            ntk=pool(k.ntk, 2),
            cov1=pool(k.cov1, 1),
            cov2=pool(k.cov2, 1),
            spatial=(),
            full_spatial=False,
            is_input=False,
        )


@dataclasses.dataclass(frozen=True)
class GlobalSumPool(GlobalAvgPool):
    """Sum over all spatial positions: ``(*spatial, c) -> (c,)``."""

    def _factor(self, spatial) -> float:
        return 1.0


@dataclasses.dataclass(frozen=True)
class Flatten(Layer):
    """Flatten every axis of an example: ``(*spatial, c) -> (prod(spatial) * c,)``.

    The kernel is the mean over positions of the same-position covariances.
    """

    def output_shape(self, input_shape):
        check_shape(self, input_shape)
        return (math.prod(input_shape),)

    def needs_full_spatial(self, out_full):
        return False

    def apply(self, params, x, *, key=None):
        return x.reshape(x.shape[0], -1)

    def kernel(self, k: KernelState) -> KernelState:
        k = to_diagonal(k)
        nd = len(k.spatial)

        def mean(a, lead):
            return None if a is None else jnp.mean(a, axis=tuple(range(lead, lead + nd)))

        return k.replace(
            nngp=mean(k.nngp, 2),
            ntk=mean(k.ntk, 2),
            cov1=mean(k.cov1, 1),
            cov2=mean(k.cov2, 1),
            spatial=(),
            channels=k.channels * math.prod(k.spatial),
            is_input=False,
        )
