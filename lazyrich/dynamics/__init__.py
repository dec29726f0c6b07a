"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import param_path as param_path

__all__: list[str] = [
    "ACTIVATIONS",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "mlp",
    "param_path",
]
