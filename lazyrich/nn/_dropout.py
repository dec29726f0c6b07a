r"""Dropout: the finite network's random masks and neural-tangents' kernel rule.

Finite network (``mode="train"``): each unit is kept with probability ``rate`` (the *keep* rate, as in
neural-tangents and ``jax.example_libraries.stax``) and rescaled, :math:`y = m \odot x / \mathrm{rate}`
with :math:`m \sim \mathrm{Bernoulli}(\mathrm{rate})` drawn independently for every example and
unit from ``key``; ``mode="test"`` is the identity.

Kernel rule (``mode="train"``): the masks of different examples, or of different positions, are
independent with :math:`\mathbb{E}[m/\mathrm{rate}] = 1`, while an example at one position meets its
own mask, :math:`\mathbb{E}[m^2/\mathrm{rate}^2] = 1/\mathrm{rate}`. Averaged over the (infinitely
many) channels,

.. math::
    \Sigma'(x_a, x_b)_{s t} = \Sigma(x_a, x_b)_{s t}\,
        \bigl(1 + (1/\mathrm{rate} - 1)\,[a = b]\,[s = t]\bigr),

and :math:`\Theta` likewise. Here :math:`a = b` means *the same example of one evaluation* (the
batch diagonal of a state whose ``x2`` is ``x1``, ``cov2 is None``), not two equal inputs (the
state's ``same`` mask): two evaluations of a dropout network draw independent masks. The input of
the layer must not be the network's input (finitely many channels: the channel average would not
concentrate). ``mode="test"``: unchanged.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich.nn._base import KernelState, Layer, check_shape, raise_layer_error

MODES = ("train", "test")


@dataclasses.dataclass(frozen=True)
class Dropout(Layer):
    """Dropout with keep probability ``rate`` (neural-tangents' convention: ``rate=1`` keeps all).

    Args:
      rate: keep probability in ``(0, 1]``.
      mode: ``"train"`` (random masks from the ``key`` of ``apply``; the kernel rule above) or
        ``"test"`` (the identity, in the finite network and in the kernel).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from lazyrich import nn
      >>> net = nn.serial(nn.Dense(256), nn.Relu(), nn.Dropout(0.9), nn.Dense(1))
      >>> params = net.init(jax.random.key(0), (3,))
      >>> y = net.apply(params, jnp.ones((4, 3)), key=jax.random.key(1))
    """

    rate: float
    mode: str = "train"

    def __post_init__(self):
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, int | float | np.floating):
            raise_layer_error(self, f"`rate` must be a number in (0, 1], got {rate!r}")
        if not 0.0 < float(rate) <= 1.0:
            raise_layer_error(
                self, f"`rate` (the keep probability) must be in (0, 1], got {rate!r}"
            )
        if self.mode not in MODES:
            raise_layer_error(self, f"`mode` must be one of {MODES}, got {self.mode!r}")

    def output_shape(self, input_shape):
        check_shape(self, input_shape)
        return input_shape

    def apply(self, params, x, *, key=None):
        if self.mode == "test" or self.rate == 1.0:
            return x
        if key is None:
            raise ValueError(
                "Dropout in mode 'train' needs a PRNG `key` in apply(..., key=...); use "
                "mode='test' for the deterministic network."
            )
        keep = jax.random.bernoulli(key, self.rate, x.shape)
        return jnp.where(keep, x / jnp.asarray(self.rate, x.dtype), jnp.zeros((), x.dtype))

    def kernel(self, k: KernelState) -> KernelState:
        if self.mode == "test":
            return k
        if k.is_input:
            raise_layer_error(
                self,
                "cannot act on the network's input in the kernel (finitely many input channels); "
                "put it after a Dense/Conv layer or an activation",
            )
        factor = 1.0 / self.rate
        nd = len(k.spatial)
        eye = None
        if k.full_spatial and nd:
            size = int(np.prod(k.spatial))
            eye = np.eye(size, dtype=bool).reshape(k.spatial + k.spatial)

        def self_cov(cov):
            if cov is None:
                return None
            if eye is None:
                return cov * factor
            return jnp.where(eye[None], cov * factor, cov)

        def cross(a):
            # The same example of one evaluation: only when x2 is x1 (cov2 None), on the batch
            # diagonal. Not `k.same`, which marks identical inputs (independent masks).
            if a is None or k.cov2 is not None or a.shape[0] != a.shape[1]:
                return a
            mask = np.eye(a.shape[0], dtype=bool).reshape(a.shape[:2] + (1,) * (a.ndim - 2))
            if eye is not None:
                mask = mask & eye
            return jnp.where(mask, a * factor, a)

        return k.replace(
            nngp=cross(k.nngp),
            ntk=cross(k.ntk),
            cov1=self_cov(k.cov1),
            cov2=self_cov(k.cov2),
            is_gaussian=False,
            is_input=False,
        )
