"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from lazyrich.dynamics._committee import committee_apply as committee_apply
from lazyrich.dynamics._committee import committee_empirical_ntk as committee_empirical_ntk
from lazyrich.dynamics._committee import train_committee as train_committee
from lazyrich.dynamics._meanfield import meanfield_mlp_init as meanfield_mlp_init
from lazyrich.dynamics._meanfield import meanfield_mlp_kernels as meanfield_mlp_kernels
from lazyrich.dynamics._meanfield import (
    meanfield_mlp_preactivations as meanfield_mlp_preactivations,
)
from lazyrich.dynamics._meanfield import meanfield_mlp_readout as meanfield_mlp_readout
from lazyrich.dynamics._meanfield import (
    train_meanfield_gradient_flow as train_meanfield_gradient_flow,
)
from lazyrich.dynamics._perceptron import PerceptronState as PerceptronState
from lazyrich.dynamics._perceptron import advance_perceptron as advance_perceptron
from lazyrich.dynamics._perceptron import init_perceptron as init_perceptron
from lazyrich.dynamics._perceptron import train_perceptron as train_perceptron

from ._activations import NORMALIZED_ACTIVATIONS as NORMALIZED_ACTIVATIONS
from ._activations import normalized_activation as normalized_activation
from ._activations import second_moment as second_moment
from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
from ._models import BiasFreeCNN as BiasFreeCNN
from ._models import BiasFreeMLP as BiasFreeMLP
from ._models import bias_free_mlp as bias_free_mlp
from ._models import bias_free_mlp_apply_fn as bias_free_mlp_apply_fn
from ._models import bias_free_mlp_init as bias_free_mlp_init
from ._models import layer_name as layer_name
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import param_path as param_path
from ._scaled import LOSSES as LOSSES
from ._scaled import centered as centered
from ._scaled import centered_outputs as centered_outputs
from ._scaled import linearize as linearize
from ._scaled import per_sample_loss as per_sample_loss
from ._scaled import scaled_loss as scaled_loss
from ._temperature import learning_rate_for_temperature as learning_rate_for_temperature
from ._temperature import temperature as temperature
from ._train import STATUS_CAP as STATUS_CAP
from ._train import STATUS_DIVERGED as STATUS_DIVERGED
from ._train import STATUS_OK as STATUS_OK
from ._train import TrainConfig as TrainConfig
from ._train import TrainResult as TrainResult
from ._train import TrainState as TrainState
from ._train import check_train_inputs as check_train_inputs
from ._train import train as train

__all__: list[str] = [
    "ACTIVATIONS",
    "advance_perceptron",
    "bias_free_mlp",
    "bias_free_mlp_apply_fn",
    "bias_free_mlp_init",
    "BiasFreeCNN",
    "BiasFreeMLP",
    "centered",
    "centered_outputs",
    "check_train_inputs",
    "committee_apply",
    "committee_empirical_ntk",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "init_perceptron",
    "layer_name",
    "learning_rate_for_temperature",
    "linearize",
    "LOSSES",
    "meanfield_mlp_init",
    "meanfield_mlp_kernels",
    "meanfield_mlp_preactivations",
    "meanfield_mlp_readout",
    "mlp",
    "normalized_activation",
    "NORMALIZED_ACTIVATIONS",
    "param_path",
    "per_sample_loss",
    "PerceptronState",
    "scaled_loss",
    "second_moment",
    "STATUS_CAP",
    "STATUS_DIVERGED",
    "STATUS_OK",
    "temperature",
    "train",
    "train_committee",
    "train_meanfield_gradient_flow",
    "train_perceptron",
    "TrainConfig",
    "TrainResult",
    "TrainState",
]
