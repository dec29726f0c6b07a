"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from lazyrich.dynamics._mlp import ACTIVATIONS as ACTIVATIONS
from lazyrich.dynamics._mlp import mlp as mlp

__all__ = [
    "ACTIVATIONS",
    "mlp",
]
