"""Finite-width training dynamics: empirical NTK, scaled models, training loops, layers, observables."""

from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import param_path as param_path

__all__: list[str] = [
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "param_path",
]
