"""Activations normalised to unit second moment under a standard Gaussian (``docs/conventions.md`` §6).

The normalisation of Sclocchi, Geiger, Wyart (ICML 2023)'s code.

Sclocchi, Geiger and Wyart rescale every activation so that :math:`E_{z\\sim N(0,1)}[\\phi(z)^2] = 1`; ReLU
becomes :math:`\\sqrt{2}\\,\\mathrm{relu}`. Their code estimates the constant by Monte Carlo with 10^6 samples;
here the constant is exact where a closed form exists (ReLU: 2, linear: 1) and otherwise computed once by
Gauss-Hermite quadrature with 200 nodes (relative error far below float64 resolution for these smooth or
piecewise-smooth functions of polynomial growth).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import check_choice

Activation = Literal["relu", "gelu", "tanh", "linear"]
NORMALIZED_ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "tanh", "linear")

_NUMPY = {
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: (
        0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    ),  # exact (erf) GELU
    "tanh": np.tanh,
    "linear": lambda z: z,
}
_JAX = {
    "relu": jax.nn.relu,
    "gelu": lambda z: jax.nn.gelu(z, approximate=False),
    "tanh": jnp.tanh,
    "linear": lambda z: z,
}


@functools.cache
def second_moment(name: str) -> float:
    r"""Return :math:`E_{z\sim N(0,1)}[\phi(z)^2]` of the raw activation ``name``.

    Exact for ``relu`` (1/2) and ``linear`` (1); Gauss-Hermite quadrature (probabilists' weight, 200 nodes)
    otherwise.

    Raises:
      ValueError: if ``name`` is not one of :data:`NORMALIZED_ACTIVATIONS`.
    """
    check_choice("activation", name, NORMALIZED_ACTIVATIONS)
    if name == "relu":
        return 0.5
    if name == "linear":
        return 1.0
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    return float(np.sum(weights * _NUMPY[name](nodes) ** 2) / math.sqrt(2.0 * math.pi))


def normalized_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    r"""The activation :math:`\phi(z) = c\,\sigma(z)` with :math:`c = E[\sigma(z)^2]^{-1/2}`, z ~ N(0, 1).

    ``relu`` gives :math:`\sqrt{2}\,\mathrm{relu}(z)` exactly; ``gelu`` is the exact (erf) GELU with its
    constant computed by quadrature (:func:`second_moment`).

    Args:
      name: one of ``"relu"``, ``"gelu"``, ``"tanh"``, ``"linear"``.

    Returns:
      A jax-traceable elementwise function that preserves the input dtype.

    Raises:
      ValueError: for an unknown ``name``.

    References:
      Sclocchi, Geiger, Wyart (2023), https://arxiv.org/abs/2301.13703, Sec. 2 (code: ``edm``).
    """
    check_choice("activation", name, NORMALIZED_ACTIVATIONS)
    scale = 1.0 / math.sqrt(second_moment(name))
    raw = _JAX[name]

    def phi(z: jax.Array) -> jax.Array:
        return (scale * raw(z)).astype(z.dtype)

    return phi
