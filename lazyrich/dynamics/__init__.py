"""Finite-width training dynamics: empirical NTK, scaled models, training loops, layers, observables."""

from lazyrich.dynamics._meanfield import meanfield_mlp_init as meanfield_mlp_init
from lazyrich.dynamics._meanfield import meanfield_mlp_kernels as meanfield_mlp_kernels
from lazyrich.dynamics._meanfield import meanfield_mlp_preactivations as meanfield_mlp_preactivations
from lazyrich.dynamics._meanfield import meanfield_mlp_readout as meanfield_mlp_readout
from lazyrich.dynamics._meanfield import train_meanfield_gradient_flow as train_meanfield_gradient_flow

__all__: list[str] = [
    "meanfield_mlp_init",
    "meanfield_mlp_kernels",
    "meanfield_mlp_preactivations",
    "meanfield_mlp_readout",
    "train_meanfield_gradient_flow",
]
