r"""GlobalSelfAttention: multi-head dot-product self-attention over all spatial positions.

Conventions (neural-tangents' ``GlobalSelfAttention``; Hron et al. 2020, "Infinite attention: NNGP
and NTK for deep attention networks"). Inputs ``(n, *spatial, c)`` are flattened to ``P`` positions
:math:`x_s \in \mathbb{R}^c`. Every weight is :math:`N(0, 1)`; head :math:`h` has keys
:math:`K^h = x W_K^h`, queries :math:`Q^h = x W_Q^h` and values :math:`V^h = x W_V^h`, and

.. math::
    G^h = \phi\Bigl(\frac{\sigma_{QK}}{c\, d_k^{\alpha}}\, Q^h K^{h\top}\Bigr), \qquad
    f(x) = \frac{\sigma_{OV}}{\sqrt{c\, d_v H}}\,
        \bigl[G^1 V^1, \dots, G^H V^H\bigr] W_O + \sigma_b b,

with :math:`\sigma_{QK} = \sigma_Q \sigma_K`, :math:`\sigma_{OV} = \sigma_O \sigma_V`, :math:`\phi` the
attention mechanism (softmax over the key positions, identity, abs or relu), and either

* ``linear_scaling=True`` (default): :math:`\alpha = 1` and tied queries and keys, :math:`W_Q = W_K`;
  then :math:`\frac{1}{c\, d_k} Q K^\top \to \Sigma(x, x)` (the input's own covariance across
  positions) as :math:`d_k \to \infty`, so the attention weights become deterministic,
  :math:`G(x) = \phi(\sigma_{QK} \Sigma(x, x))`, and the output is Gaussian with

  .. math::
      \Sigma' = \sigma_{OV}^2\, G(x)\, \Sigma(x, x')\, G(x')^\top + \sigma_b^2, \qquad
      \Theta' = \sigma_{OV}^2\, G(x) \bigl(\Theta + 2\Sigma\bigr) G(x')^\top + \sigma_b^2

  (the :math:`2\Sigma`: gradients with respect to :math:`W_V` and :math:`W_O`; those with respect to
  :math:`W_K` and through :math:`G` vanish at infinite width);

* ``linear_scaling=False``: :math:`\alpha = 1/2` and independent :math:`W_Q, W_K`. A closed form
  exists for the identity mechanism only: with :math:`S = \sum_{s,t} \Sigma_{st}^2` and
  :math:`C = \sum_{s,t} \Sigma_{st}\Theta_{st}` (sums over all pairs of positions of the pair
  :math:`(x, x')`),

  .. math::
      \Sigma' = \sigma_{QK}^2 \sigma_{OV}^2\, S\, \Sigma + \sigma_b^2, \qquad
      \Theta' = \sigma_{QK}^2 \sigma_{OV}^2 \bigl(S\,(\Theta + 4\Sigma) + 2 C\, \Sigma\bigr)
          + \sigma_b^2

  (four weight matrices each contribute :math:`S\Sigma`; the input enters trilinearly). As in
  neural-tangents, the output is then marked Gaussian although it is a product of Gaussians.

The limit is taken as the numbers of heads, key and value channels go to infinity. No positional
embeddings. The kernel needs the full cross-position covariance of its input.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich.nn._base import KernelState, Layer, check_shape, check_std, raise_layer_error

MECHANISMS = ("SOFTMAX", "IDENTITY", "ABS", "RELU")


def _mechanism(name: str, g: jax.Array) -> jax.Array:
    if name == "SOFTMAX":
        return jax.nn.softmax(g, axis=-1)
    if name == "IDENTITY":
        return g
    if name == "ABS":
        return jnp.abs(g)
    return jnp.maximum(g, 0)


def _positive_int(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise_layer_error(layer, f"`{name}` must be a positive integer, got {value!r}")
    object.__setattr__(layer, name, int(value))


@dataclasses.dataclass(frozen=True)
class GlobalSelfAttention(Layer):
    """Multi-head self-attention over all spatial positions (neural-tangents' conventions).

    Args:
      n_chan_out: output channels.
      n_chan_key: key (and query) channels per head, :math:`d_k`.
      n_chan_val: value channels per head, :math:`d_v`.
      n_heads: number of heads :math:`H`.
      linear_scaling: ``True``: scale :math:`QK^\\top` by :math:`1/(c\\,d_k)` and tie queries to keys
        (closed-form kernel for every mechanism); ``False``: :math:`1/(c\\sqrt{d_k})`, independent
        queries (closed-form kernel for ``"IDENTITY"`` only).
      W_key_std, W_query_std: enter through :math:`\\sigma_{QK} = \\sigma_Q \\sigma_K` only.
      W_value_std, W_out_std: enter through :math:`\\sigma_{OV} = \\sigma_O \\sigma_V` only.
      b_std: output bias scale; ``None``: no bias.
      attention_mechanism: ``"SOFTMAX"``, ``"IDENTITY"``, ``"ABS"`` or ``"RELU"`` (any case).

    Example:
      >>> from lazyrich import nn
      >>> net = nn.serial(nn.Conv(64, (3,), padding="SAME"), nn.Relu(),
      ...                 nn.GlobalSelfAttention(64, 64, 64, n_heads=4), nn.GlobalAvgPool(),
      ...                 nn.Dense(1))
    """

    n_chan_out: int
    n_chan_key: int
    n_chan_val: int
    n_heads: int
    linear_scaling: bool = True
    W_key_std: Any = 1.0
    W_value_std: Any = 1.0
    W_query_std: Any = 1.0
    W_out_std: Any = 1.0
    b_std: Any = None
    attention_mechanism: str = "SOFTMAX"

    def __post_init__(self):
        for name in ("n_chan_out", "n_chan_key", "n_chan_val", "n_heads"):
            _positive_int(self, name, getattr(self, name))
        for name in ("W_key_std", "W_value_std", "W_query_std", "W_out_std"):
            check_std(self, name, getattr(self, name))
        check_std(self, "b_std", self.b_std, allow_none=True)
        mech = self.attention_mechanism
        if not isinstance(mech, str) or mech.upper() not in MECHANISMS:
            raise_layer_error(
                self, f"`attention_mechanism` must be one of {MECHANISMS}, got {mech!r}"
            )
        object.__setattr__(self, "attention_mechanism", mech.upper())
        if not isinstance(self.linear_scaling, bool):
            raise_layer_error(self, f"`linear_scaling` must be a bool, got {self.linear_scaling!r}")

    @property
    def _qk(self):
        return self.W_query_std * self.W_key_std

    @property
    def _ov(self):
        return self.W_out_std * self.W_value_std

    def output_shape(self, input_shape):
        check_shape(self, input_shape, min_ndim=2)
        return input_shape[:-1] + (self.n_chan_out,)

    def init(self, key, input_shape):
        self.output_shape(input_shape)
        c, h, dk, dv = input_shape[-1], self.n_heads, self.n_chan_key, self.n_chan_val
        kq, kk, kv, ko, kb = jax.random.split(key, 5)
        return {
            "W_query": None if self.linear_scaling else jax.random.normal(kq, (h, c, dk)),
            "W_key": jax.random.normal(kk, (h, c, dk)),
            "W_value": jax.random.normal(kv, (h, c, dv)),
            "W_out": jax.random.normal(ko, (h * dv, self.n_chan_out)),
            "b": None if self.b_std is None else jax.random.normal(kb, (self.n_chan_out,)),
        }

    def apply(self, params, x, *, key=None):
        n, spatial, c = x.shape[0], x.shape[1:-1], x.shape[-1]
        flat = x.reshape(n, math.prod(spatial), c)
        dtype = x.dtype
        keys = jnp.einsum("npc,hck->nhpk", flat, params["W_key"].astype(dtype))
        if self.linear_scaling:
            queries, norm = keys, c * self.n_chan_key
        else:
            queries = jnp.einsum("npc,hck->nhpk", flat, params["W_query"].astype(dtype))
            norm = c * self.n_chan_key**0.5
        g = jnp.einsum("nhpk,nhqk->nhpq", queries, keys) * (self._qk / norm)
        g = _mechanism(self.attention_mechanism, g)
        values = jnp.einsum("npc,hcv->nhpv", flat, params["W_value"].astype(dtype))
        heads = jnp.einsum("nhpq,nhqv->nphv", g, values).reshape(n, flat.shape[1], -1)
        scale = self._ov / (c * self.n_chan_val * self.n_heads) ** 0.5
        out = scale * (heads @ params["W_out"].astype(dtype))
        if params["b"] is not None:
            out = out + self.b_std * params["b"].astype(dtype)
        return out.reshape((n, *spatial, self.n_chan_out))

    def needs_full_spatial(self, out_full):
        return True

    def kernel(self, k: KernelState) -> KernelState:
        if not k.spatial:
            raise_layer_error(self, "needs inputs with at least one spatial axis")
        if not k.full_spatial:
            raise_layer_error(self, "needs the full cross-position covariance of its input")
        if not self.linear_scaling and self.attention_mechanism != "IDENTITY":
            raise_layer_error(
                self,
                "has no closed-form kernel with linear_scaling=False and attention_mechanism "
                f"{self.attention_mechanism!r} (only 'IDENTITY'); use linear_scaling=True",
            )
        p = math.prod(k.spatial)
        b2 = 0.0 if self.b_std is None else self.b_std**2

        def flat(a, lead):
            return None if a is None else a.reshape(a.shape[:lead] + (p, p))

        def unflat(a, lead):
            return None if a is None else a.reshape(a.shape[:lead] + k.spatial + k.spatial)

        nngp, ntk = flat(k.nngp, 2), flat(k.ntk, 2)
        cov1, cov2 = flat(k.cov1, 1), flat(k.cov2, 1)
        if self.linear_scaling:
            ov2 = self._ov**2
            g1 = _mechanism(self.attention_mechanism, self._qk * cov1)
            g2 = g1 if cov2 is None else _mechanism(self.attention_mechanism, self._qk * cov2)

            def weigh_cross(a):
                return jnp.einsum("asp,abpq,btq->abst", g1, a, g2)

            def weigh_self(g, a):
                return None if a is None else ov2 * jnp.einsum("asp,apq,atq->ast", g, a, g) + b2

            new_nngp = ov2 * weigh_cross(nngp) + b2
            new_ntk = None if ntk is None else ov2 * weigh_cross(ntk + 2 * nngp) + b2
            new_cov1, new_cov2 = weigh_self(g1, cov1), weigh_self(g2, cov2)
        else:
            c2 = (self._qk * self._ov) ** 2
            s12 = jnp.sum(nngp * nngp, axis=(-2, -1), keepdims=True)

            def self_rule(a):
                if a is None:
                    return None
                return c2 * jnp.sum(a * a, axis=(-2, -1), keepdims=True) * a + b2

            new_nngp = c2 * s12 * nngp + b2
            new_ntk = None
            if ntk is not None:
                c12 = jnp.sum(nngp * ntk, axis=(-2, -1), keepdims=True)
                new_ntk = c2 * (s12 * (ntk + 4 * nngp) + 2 * c12 * nngp) + b2
            new_cov1, new_cov2 = self_rule(cov1), self_rule(cov2)
        return k.replace(
            nngp=unflat(new_nngp, 2),
            ntk=unflat(new_ntk, 2),
            cov1=unflat(new_cov1, 1),
            cov2=unflat(new_cov2, 1),
            channels=self.n_chan_out,
            is_gaussian=True,
            is_input=False,
        )
