"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from lazyrich.dynamics._committee import committee_apply as committee_apply
from lazyrich.dynamics._committee import committee_empirical_ntk as committee_empirical_ntk
from lazyrich.dynamics._committee import train_committee as train_committee
from lazyrich.dynamics._perceptron import PerceptronState as PerceptronState
from lazyrich.dynamics._perceptron import advance_perceptron as advance_perceptron
from lazyrich.dynamics._perceptron import init_perceptron as init_perceptron
from lazyrich.dynamics._perceptron import train_perceptron as train_perceptron

from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import param_path as param_path

__all__: list[str] = [
    "ACTIVATIONS",
    "advance_perceptron",
    "committee_apply",
    "committee_empirical_ntk",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "init_perceptron",
    "mlp",
    "param_path",
    "PerceptronState",
    "train_committee",
    "train_perceptron",
]
