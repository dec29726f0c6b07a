"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from lazyrich._linalg import centered_kernel_alignment as centered_kernel_alignment
from lazyrich._linalg import effective_rank as effective_rank
from lazyrich._linalg import kernel_alignment as kernel_alignment
from lazyrich._linalg import kernel_pca as kernel_pca
from lazyrich._linalg import kernel_spectrum as kernel_spectrum
from lazyrich._linalg import kernel_target_alignment as kernel_target_alignment
from lazyrich._linalg import participation_ratio as participation_ratio
from lazyrich._linalg import relative_kernel_change as relative_kernel_change
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
from ._ghost_bn import BatchStats as BatchStats
from ._ghost_bn import GhostBatchNorm as GhostBatchNorm
from ._ghost_bn import ghost_batch_count as ghost_batch_count
from ._ghost_bn import ghost_batch_norm as ghost_batch_norm
from ._ghost_bn import sequential_ema as sequential_ema
from ._init import aligned_rank_one_connectivity as aligned_rank_one_connectivity
from ._init import dale_connectivity as dale_connectivity
from ._init import gaussian_connectivity as gaussian_connectivity
from ._init import low_rank_connectivity as low_rank_connectivity
from ._init import rescale_connectivity as rescale_connectivity
from ._init import shuffle_connectivity as shuffle_connectivity
from ._init import truncate_rank as truncate_rank
from ._large_batch import BNMLP as BNMLP
from ._large_batch import Regime as Regime
from ._large_batch import TrainRecord as TrainRecord
from ._large_batch import adapt_regime as adapt_regime
from ._large_batch import large_batch_optimizer as large_batch_optimizer
from ._large_batch import large_batch_regime as large_batch_regime
from ._large_batch import num_training_steps as num_training_steps
from ._large_batch import sqrt_scaled_learning_rate as sqrt_scaled_learning_rate
from ._large_batch import train_bn_mlp as train_bn_mlp
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
from ._models import BiasFreeCNN as BiasFreeCNN
from ._models import BiasFreeMLP as BiasFreeMLP
from ._models import bias_free_mlp as bias_free_mlp
from ._models import bias_free_mlp_apply_fn as bias_free_mlp_apply_fn
from ._models import bias_free_mlp_init as bias_free_mlp_init
from ._models import layer_name as layer_name
from ._nn_kernels import sample_kernels as sample_kernels
from ._ntk import empirical_nngp as empirical_nngp
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import ntk_vector_product as ntk_vector_product
from ._ntk import param_path as param_path
from ._rnn import LeakyRNN as LeakyRNN
from ._rnn import init_rnn_params as init_rnn_params
from ._rnn import recurrent_tangent_kernel as recurrent_tangent_kernel
from ._rnn import rnn_apply as rnn_apply
from ._rnn import rnn_hidden as rnn_hidden
from ._rnn_measures import connectivity_rank as connectivity_rank
from ._rnn_measures import eigenvalue_ratio_rank as eigenvalue_ratio_rank
from ._rnn_measures import recurrent_kernel_alignment as recurrent_kernel_alignment
from ._rnn_measures import representation_alignment as representation_alignment
from ._rnn_measures import weight_change as weight_change
from ._rnn_train import TrainRNNResult as TrainRNNResult
from ._rnn_train import fit_rank_one_connectivity as fit_rank_one_connectivity
from ._rnn_train import fit_rank_one_network as fit_rank_one_network
from ._rnn_train import masked_cross_entropy as masked_cross_entropy
from ._rnn_train import train_rnn as train_rnn
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

__all__ = [
    "ACTIVATIONS",
    "adapt_regime",
    "advance_perceptron",
    "aligned_rank_one_connectivity",
    "BatchStats",
    "bias_free_mlp",
    "bias_free_mlp_apply_fn",
    "bias_free_mlp_init",
    "BiasFreeCNN",
    "BiasFreeMLP",
    "BNMLP",
    "centered",
    "centered_kernel_alignment",
    "centered_outputs",
    "check_train_inputs",
    "committee_apply",
    "committee_empirical_ntk",
    "connectivity_rank",
    "dale_connectivity",
    "effective_rank",
    "eigenvalue_ratio_rank",
    "empirical_nngp",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "gaussian_connectivity",
    "ghost_batch_count",
    "ghost_batch_norm",
    "GhostBatchNorm",
    "init_perceptron",
    "init_rnn_params",
    "kernel_alignment",
    "kernel_pca",
    "kernel_spectrum",
    "kernel_target_alignment",
    "large_batch_optimizer",
    "large_batch_regime",
    "layer_name",
    "LeakyRNN",
    "learning_rate_for_temperature",
    "linearize",
    "LOSSES",
    "low_rank_connectivity",
    "masked_cross_entropy",
    "meanfield_mlp_init",
    "meanfield_mlp_kernels",
    "meanfield_mlp_preactivations",
    "meanfield_mlp_readout",
    "mlp",
    "normalized_activation",
    "NORMALIZED_ACTIVATIONS",
    "ntk_vector_product",
    "num_training_steps",
    "param_path",
    "participation_ratio",
    "per_sample_loss",
    "PerceptronState",
    "recurrent_kernel_alignment",
    "recurrent_tangent_kernel",
    "Regime",
    "relative_kernel_change",
    "representation_alignment",
    "rescale_connectivity",
    "rnn_apply",
    "rnn_hidden",
    "sample_kernels",
    "scaled_loss",
    "second_moment",
    "sequential_ema",
    "shuffle_connectivity",
    "sqrt_scaled_learning_rate",
    "STATUS_CAP",
    "STATUS_DIVERGED",
    "STATUS_OK",
    "temperature",
    "train",
    "train_bn_mlp",
    "train_committee",
    "train_meanfield_gradient_flow",
    "train_perceptron",
    "train_rnn",
    "fit_rank_one_connectivity",
    "fit_rank_one_network",
    "TrainConfig",
    "TrainRecord",
    "TrainResult",
    "TrainRNNResult",
    "TrainState",
    "truncate_rank",
    "weight_change",
]
