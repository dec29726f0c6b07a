r"""Elementwise activations and their Gaussian expectations (minimal set: relu, erf, identity).

For :math:`(u, v) \sim N(0, [[a, c], [c, b]])`, :meth:`Activation.kernel` returns
:math:`(\mathbb{E}[\phi(u)\phi(v)], \mathbb{E}[\phi'(u)\phi'(v)])`, elementwise with broadcasting.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


def _cosine(var1, var2, cov, identical):
    prod = var1 * var2
    positive = prod > 0
    inv = jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, prod, 1.0)), 0.0)
    cos = jnp.clip(cov * inv, -1.0, 1.0)
    # Pairs known to be identical get cos = 1 exactly: rounding of order eps in cos would move the
    # angle by sqrt(eps) (3e-4 in float32).
    cos = cos if identical is None else jnp.where(identical, 1.0, cos)
    return jnp.sqrt(jnp.maximum(prod, 0.0)), cos


def _relu_kernel(var1, var2, cov, identical):
    norm, cos = _cosine(var1, var2, cov, identical)
    sin = jnp.sqrt(jnp.maximum(1.0 - cos * cos, 0.0))
    theta = jnp.arctan2(sin, cos)
    return norm / (2 * jnp.pi) * (sin + (jnp.pi - theta) * cos), (jnp.pi - theta) / (2 * jnp.pi)


def _erf_kernel(var1, var2, cov, identical):
    del identical
    prod = (1 + 2 * var1) * (1 + 2 * var2)
    nngp = 2 / jnp.pi * jnp.arcsin(jnp.clip(2 * cov * jax.lax.rsqrt(prod), -1.0, 1.0))
    return nngp, 4 / jnp.pi * jax.lax.rsqrt(prod - 4 * cov * cov)


def _identity_kernel(var1, var2, cov, identical):
    del identical
    shape = jnp.broadcast_shapes(jnp.shape(var1), jnp.shape(var2), jnp.shape(cov))
    return jnp.broadcast_to(cov, shape), jnp.ones(shape, jnp.result_type(cov))


_FUNCTIONS = {
    "relu": (jax.nn.relu, _relu_kernel),
    "erf": (jax.scipy.special.erf, _erf_kernel),
    "identity": (lambda x: x, _identity_kernel),
}
ACTIVATIONS: tuple[str, ...] = tuple(_FUNCTIONS)


@dataclasses.dataclass(frozen=True)
class Activation:
    """An elementwise activation: the function and its Gaussian expectations."""

    name: str

    def __call__(self, x):
        return _FUNCTIONS[self.name][0](x)

    def kernel(self, var1, var2, cov, identical=None):
        """``(E[phi(u) phi(v)], E[phi'(u) phi'(v)])`` for ``(u, v) ~ N(0, [[var1, cov], [cov, var2]])``."""
        return _FUNCTIONS[self.name][1](var1, var2, cov, identical)


def activation(name: str, **params) -> Activation:
    """The registered activation ``name``."""
    if name not in _FUNCTIONS:
        raise ValueError(f"`activation` must be one of {ACTIVATIONS}, got {name!r}.")
    if params:
        raise ValueError(f"activation {name!r} takes no parameters, got {sorted(params)}.")
    return Activation(name)
