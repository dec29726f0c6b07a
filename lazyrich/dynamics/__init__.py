"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from lazyrich.dynamics._meanfield import meanfield_mlp_init as meanfield_mlp_init
from lazyrich.dynamics._meanfield import meanfield_mlp_kernels as meanfield_mlp_kernels
from lazyrich.dynamics._meanfield import (
    meanfield_mlp_preactivations as meanfield_mlp_preactivations,
)
from lazyrich.dynamics._meanfield import meanfield_mlp_readout as meanfield_mlp_readout
from lazyrich.dynamics._meanfield import (
    train_meanfield_gradient_flow as train_meanfield_gradient_flow,
)

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
    "meanfield_mlp_init",
    "meanfield_mlp_kernels",
    "meanfield_mlp_preactivations",
    "meanfield_mlp_readout",
    "mlp",
    "param_path",
    "train_meanfield_gradient_flow",
]
