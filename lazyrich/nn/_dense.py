r"""Dense: a fully connected layer acting on the channel (last) axis.

NTK parameterization (``"ntk"``): :math:`z = \sigma_w x W / \sqrt{n_{in}} + \sigma_b b`, standard
parameterization (``"standard"``): :math:`z = x W + b` with :math:`W \sim N(0, \sigma_w^2/n_{in})`,
:math:`b \sim N(0, \sigma_b^2)`. Both have the NNGP rule :math:`\Sigma' = \sigma_w^2 \Sigma +
\sigma_b^2`; the NTK rules are :math:`\Theta' = \Sigma' + \sigma_w^2 \Theta` (ntk) and
:math:`\Theta' = n_{in} \Sigma + \sigma_w^2 \Theta + 1_{\text{bias}}` (standard: the gradients with
respect to :math:`W, b` are not rescaled).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from lazyrich.nn._base import (
    KernelState,
    Layer,
    check_parameterization,
    check_shape,
    check_std,
    raise_layer_error,
)


def affine_kernel(
    k: KernelState, reduce, fan_in: int, W_std, b_std, parameterization: str, channels: int
) -> KernelState:
    r"""The NNGP/NTK rule of an affine layer whose pre-activations are ``reduce`` of the input's.

    ``reduce`` maps a covariance (``nngp``, ``ntk``, ``cov1``, ``cov2``; its ``lead`` batch axes
    given as the second argument) to the unscaled covariance of the layer's linear map (identity
    for Dense, the average over filter offsets for Conv); ``fan_in`` is the standard
    parameterization's factor.
    """
    w2 = W_std * W_std
    b2 = 0.0 if b_std is None else b_std * b_std

    def nngp_of(a, lead):
        return None if a is None else w2 * reduce(a, lead) + b2

    nngp = nngp_of(k.nngp, 2)
    ntk = None
    if k.ntk is not None:
        prev = w2 * reduce(k.ntk, 2)
        if parameterization == "ntk":
            ntk = nngp + prev
        else:
            ntk = fan_in * reduce(k.nngp, 2) + prev + (0.0 if b_std is None else 1.0)
    return k.replace(
        nngp=nngp,
        ntk=ntk,
        cov1=nngp_of(k.cov1, 1),
        cov2=nngp_of(k.cov2, 1),
        channels=channels,
        is_gaussian=True,
        is_input=False,
    )


@dataclasses.dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer on the last (channel) axis; other axes are kept.

    Args:
      out_dim: output channels (the width of the finite network).
      W_std: weight scale :math:`\\sigma_w`.
      b_std: bias scale :math:`\\sigma_b`; ``None`` means no bias.
      parameterization: ``"ntk"`` or ``"standard"``.

    Example:
      >>> from lazyrich import nn
      >>> net = nn.serial(nn.Dense(512, W_std=1.5, b_std=0.1), nn.Relu(), nn.Dense(1))
    """

    out_dim: int
    W_std: Any = 1.0
    b_std: Any = None
    parameterization: str = "ntk"

    def __post_init__(self):
        if isinstance(self.out_dim, bool) or not isinstance(self.out_dim, int) or self.out_dim < 1:
            raise_layer_error(self, f"`out_dim` must be a positive integer, got {self.out_dim!r}")
        check_std(self, "W_std", self.W_std)
        check_std(self, "b_std", self.b_std, allow_none=True)
        check_parameterization(self, self.parameterization)

    def output_shape(self, input_shape):
        check_shape(self, input_shape)
        return input_shape[:-1] + (self.out_dim,)

    def init(self, key, input_shape):
        self.output_shape(input_shape)
        return affine_init(self, key, (input_shape[-1], self.out_dim), fan_in=input_shape[-1])

    def apply(self, params, x, *, key=None):
        w, b = params["W"], params["b"]
        if x.shape[-1] != w.shape[-2]:
            raise_layer_error(
                self,
                f"got inputs with {x.shape[-1]} channels (shape {tuple(x.shape)}), but its "
                f"parameters were made for {w.shape[-2]}",
            )
        if self.parameterization == "ntk":
            y = (self.W_std / x.shape[-1] ** 0.5) * (x @ w.astype(x.dtype))
            return y if b is None else y + self.b_std * b.astype(x.dtype)
        y = x @ w.astype(x.dtype)
        return y if b is None else y + b.astype(x.dtype)

    def kernel(self, k):
        return affine_kernel(
            k, _identity, k.channels, self.W_std, self.b_std, self.parameterization, self.out_dim
        )


def _identity(a, lead):
    del lead
    return a


def affine_init(layer, key, w_shape, *, fan_in):
    """Standard-normal weights of ``w_shape`` (last axis: output channels) and bias of ``layer`` (Dense or
    Conv); in the standard parameterization they are scaled by ``W_std / sqrt(fan_in)`` and ``b_std``
    (in the NTK parameterization the scales are applied in ``apply``)."""
    kw, kb = jax.random.split(key)
    w = jax.random.normal(kw, w_shape)
    b = None if layer.b_std is None else jax.random.normal(kb, (w_shape[-1],))
    if layer.parameterization == "standard":
        w = w * (layer.W_std / fan_in**0.5)
        b = None if b is None else b * layer.b_std
    return {"W": w, "b": b}
