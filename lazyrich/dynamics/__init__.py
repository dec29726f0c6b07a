"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from lazyrich._linalg import centered_kernel_alignment as centered_kernel_alignment
from lazyrich._linalg import effective_rank as effective_rank
from lazyrich._linalg import kernel_alignment as kernel_alignment
from lazyrich._linalg import kernel_pca as kernel_pca
from lazyrich._linalg import kernel_spectrum as kernel_spectrum
from lazyrich._linalg import kernel_target_alignment as kernel_target_alignment
from lazyrich._linalg import participation_ratio as participation_ratio
from lazyrich._linalg import relative_kernel_change as relative_kernel_change

from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._init import aligned_rank_one_connectivity as aligned_rank_one_connectivity
from ._init import dale_connectivity as dale_connectivity
from ._init import gaussian_connectivity as gaussian_connectivity
from ._init import low_rank_connectivity as low_rank_connectivity
from ._init import rescale_connectivity as rescale_connectivity
from ._init import shuffle_connectivity as shuffle_connectivity
from ._init import truncate_rank as truncate_rank
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
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
from ._rnn_train import masked_cross_entropy as masked_cross_entropy
from ._rnn_train import train_rnn as train_rnn

__all__: list[str] = [
    "ACTIVATIONS",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "mlp",
    "centered_kernel_alignment",
    "effective_rank",
    "empirical_nngp",
    "kernel_alignment",
    "kernel_pca",
    "kernel_spectrum",
    "kernel_target_alignment",
    "ntk_vector_product",
    "param_path",
    "participation_ratio",
    "relative_kernel_change",
]
# Low-rank RNNs (Liu et al. 2024)
__all__ += [
    "LeakyRNN",
    "TrainRNNResult",
    "aligned_rank_one_connectivity",
    "connectivity_rank",
    "dale_connectivity",
    "eigenvalue_ratio_rank",
    "gaussian_connectivity",
    "init_rnn_params",
    "low_rank_connectivity",
    "masked_cross_entropy",
    "recurrent_kernel_alignment",
    "recurrent_tangent_kernel",
    "representation_alignment",
    "rescale_connectivity",
    "rnn_apply",
    "rnn_hidden",
    "shuffle_connectivity",
    "train_rnn",
    "truncate_rank",
    "weight_change",
]
