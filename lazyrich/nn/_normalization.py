r"""LayerNorm: normalisation over the channel axis (and optionally spatial axes).

Finite network: :math:`y = (x - \mu)/\sqrt{\epsilon + v}` with :math:`\mu, v` the mean and the
(biased) variance of :math:`x` over ``axis`` (no learned scale or shift, as in neural-tangents).

Kernel rule (neural-tangents' ``LayerNorm`` rule, which assumes **centred Gaussian inputs**): at
infinite width the channel mean of a centred Gaussian pre-activation vanishes and its channel
variance concentrates at :math:`\Sigma(x, x)_{ss}`, so with
:math:`m(x)_s = \epsilon + \operatorname{mean}_{s' \in A(s)} \Sigma(x, x)_{s' s'}` (the mean over the
normalised spatial axes :math:`A`, just :math:`\epsilon + \Sigma(x, x)_{ss}` for channel-only
normalisation)

.. math::
    \Sigma'(x, x')_{s t} = \frac{\Sigma(x, x')_{s t}}{\sqrt{m(x)_s\, m(x')_t}}, \qquad
    \Theta'(x, x')_{s t} = \frac{\Theta(x, x')_{s t}}{\sqrt{m(x)_s\, m(x')_t}}

(the Jacobian's rank-two corrections, along the mean and along :math:`x`, vanish in the channel
average). This is exact for centred Gaussian inputs (after a Dense or Conv layer, or a sum of such
branches). With normalisation over spatial axes as well, the spatial mean of the channel-averaged
values is still zero, so the rule stays exact. It is *not* the limit for non-Gaussian inputs (e.g.
after ReLU the channel mean does not vanish); the kernel rule refuses them, like neural-tangents.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from lazyrich.nn._base import KernelState, Layer, check_shape, raise_layer_error


@dataclasses.dataclass(frozen=True)
class LayerNorm(Layer):
    """Layer normalisation over ``axis`` (which must include the channel axis).

    Args:
      axis: axes of the *batched* input ``(n, *spatial, channels)`` to normalise over, as in
        neural-tangents (an int or a tuple of ints; negative counts from the end; the batch axis 0
        is not allowed). Default ``-1``: channels only.
      eps: :math:`\\epsilon > 0`, added to the variance.

    Example:
      >>> from lazyrich import nn
      >>> block = nn.serial(nn.Conv(64, (3, 3), padding="SAME"), nn.LayerNorm(axis=(1, 2, 3)),
      ...                   nn.Relu())
    """

    axis: Any = -1
    eps: float = 1e-12

    def __post_init__(self):
        axis = self.axis
        axes = (axis,) if isinstance(axis, int | np.integer) else axis
        if isinstance(axes, list):
            axes = tuple(axes)
        if (
            not isinstance(axes, tuple)
            or not axes
            or not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axes)
        ):
            raise_layer_error(self, f"`axis` must be an int or a tuple of ints, got {axis!r}")
        object.__setattr__(
            self, "axis", tuple(int(a) for a in axes) if len(axes) > 1 else int(axes[0])
        )
        eps = self.eps
        if isinstance(eps, bool) or not isinstance(eps, int | float | np.floating) or not eps > 0:
            raise_layer_error(self, f"`eps` must be a number > 0, got {eps!r}")

    def _axes(self, input_shape) -> tuple[int, ...]:
        """The normalised axes as positive axes of the batched input (batch axis 0)."""
        ndim = len(input_shape) + 1
        axes = (self.axis,) if isinstance(self.axis, int) else self.axis
        out = []
        for a in axes:
            if not -ndim <= a < ndim:
                raise_layer_error(
                    self,
                    f"`axis` {a} is out of range for batched inputs of {ndim} axes "
                    f"(per-example shape {input_shape})",
                )
            out.append(a % ndim)
        if 0 in out:
            raise_layer_error(self, "cannot normalise over the batch axis 0")
        if ndim - 1 not in out:
            raise_layer_error(
                self,
                f"`axis` must include the channel axis ({ndim - 1} or -1) for an infinite-width "
                f"limit, got {self.axis}",
            )
        if len(set(out)) != len(out):
            raise_layer_error(self, f"`axis` repeats an axis: {self.axis}")
        return tuple(sorted(out))

    def output_shape(self, input_shape):
        check_shape(self, input_shape)
        self._axes(input_shape)
        return input_shape

    def apply(self, params, x, *, key=None):
        axes = self._axes(tuple(x.shape[1:]))
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
        return (x - mean) / jnp.sqrt(var + jnp.asarray(self.eps, x.dtype))

    def kernel(self, k: KernelState) -> KernelState:
        if not k.is_gaussian:
            raise_layer_error(
                self,
                "the kernel rule holds for centred Gaussian inputs only (put LayerNorm after a "
                "Dense or Conv layer); got the output of a nonlinearity or of the network input",
            )
        nd = len(k.spatial)
        # Normalised spatial axes, as axes of a per-example spatial array (0 .. nd - 1).
        spatial_axes = tuple(a - 1 for a in self._axes(k.spatial + (k.channels,)) if a <= nd)

        def scale(cov):
            """``eps + `` the per-position variances, averaged over the normalised spatial axes."""
            if k.full_spatial and nd:
                size = int(np.prod(k.spatial))
                d = jnp.diagonal(cov.reshape(cov.shape[0], size, size), axis1=1, axis2=2)
                d = d.reshape((cov.shape[0],) + k.spatial)
            else:
                d = cov
            if spatial_axes:
                d = jnp.mean(d, axis=tuple(1 + a for a in spatial_axes), keepdims=True)
                d = jnp.broadcast_to(d, (cov.shape[0],) + k.spatial)
            return self.eps + d

        m1 = scale(k.cov1)
        m2 = m1 if k.cov2 is None else scale(k.cov2)
        if k.full_spatial and nd:
            p12 = _outer_full(m1, m2, nd, cross=True)
            p11 = _outer_full(m1, m1, nd, cross=False)
            p22 = None if k.cov2 is None else _outer_full(m2, m2, nd, cross=False)
        else:
            p12 = m1[:, None] * m2[None, :]
            p11 = m1 * m1
            p22 = None if k.cov2 is None else m2 * m2
        inv12 = 1.0 / jnp.sqrt(p12)
        return k.replace(
            nngp=k.nngp * inv12,
            ntk=None if k.ntk is None else k.ntk * inv12,
            cov1=k.cov1 / jnp.sqrt(p11),
            cov2=None if k.cov2 is None else k.cov2 / jnp.sqrt(p22),
        )


def _outer_full(a, b, nd: int, *, cross: bool):
    """Products of per-position scales in the full-spatial layout.

    ``cross``: ``(n1, *S), (n2, *S) -> (n1, n2, *S, *S)``; else the self products
    ``(n, *S), (n, *S) -> (n, *S, *S)`` (the same example at two positions).
    """
    if cross:
        a = a.reshape(a.shape[:1] + (1,) + a.shape[1:] + (1,) * nd)
        b = b.reshape((1,) + b.shape[:1] + (1,) * nd + b.shape[1:])
    else:
        a = a.reshape(a.shape + (1,) * nd)
        b = b.reshape(b.shape[:1] + (1,) * nd + b.shape[1:])
    return a * b
