"""Leaky rate RNNs with rank-controlled connectivity (Liu et al., ICLR 2024, https://arxiv.org/abs/2310.08513).

* the network: :func:`rnn_apply`, :func:`rnn_hidden`, :class:`LeakyRNN`, :func:`init_rnn_params`, and its
  tangent kernel with respect to the recurrent weights only, :func:`recurrent_tangent_kernel`;
* initial connectivity: :func:`gaussian_connectivity`, :func:`low_rank_connectivity` (truncated SVD of one
  Gaussian draw), :func:`truncate_rank`, :func:`rescale_connectivity`, :func:`shuffle_connectivity`,
  :func:`dale_connectivity`, :func:`aligned_rank_one_connectivity`;
* laziness measures, comparing the start and the end of training: :func:`weight_change`,
  :func:`representation_alignment`, :func:`recurrent_kernel_alignment`, and the effective-rank functionals
  :func:`connectivity_rank`, :func:`eigenvalue_ratio_rank`;
* training: :func:`train_rnn` (masked cross-entropy, one fresh batch per update), :func:`masked_cross_entropy`,
  and the task-aligned rank-1 fits :func:`fit_rank_one_network`, :func:`fit_rank_one_connectivity`.

Conventions: ``docs/conventions.md`` (the leak is ``leak``, the loss is the mean cross-entropy over the masked
(trial, step) entries).

Example:
  >>> import jax
  >>> from lazyrich.dynamics import rnn
  >>> w = rnn.low_rank_connectivity(jax.random.key(0), 50, rank=3, gain=1.25)
  >>> int(jax.numpy.linalg.matrix_rank(w))
  3
"""

from lazyrich.dynamics._init import aligned_rank_one_connectivity as aligned_rank_one_connectivity
from lazyrich.dynamics._init import dale_connectivity as dale_connectivity
from lazyrich.dynamics._init import gaussian_connectivity as gaussian_connectivity
from lazyrich.dynamics._init import low_rank_connectivity as low_rank_connectivity
from lazyrich.dynamics._init import rescale_connectivity as rescale_connectivity
from lazyrich.dynamics._init import shuffle_connectivity as shuffle_connectivity
from lazyrich.dynamics._init import truncate_rank as truncate_rank
from lazyrich.dynamics._rnn import LeakyRNN as LeakyRNN
from lazyrich.dynamics._rnn import init_rnn_params as init_rnn_params
from lazyrich.dynamics._rnn import recurrent_tangent_kernel as recurrent_tangent_kernel
from lazyrich.dynamics._rnn import rnn_apply as rnn_apply
from lazyrich.dynamics._rnn import rnn_hidden as rnn_hidden
from lazyrich.dynamics._rnn_measures import connectivity_rank as connectivity_rank
from lazyrich.dynamics._rnn_measures import eigenvalue_ratio_rank as eigenvalue_ratio_rank
from lazyrich.dynamics._rnn_measures import recurrent_kernel_alignment as recurrent_kernel_alignment
from lazyrich.dynamics._rnn_measures import representation_alignment as representation_alignment
from lazyrich.dynamics._rnn_measures import weight_change as weight_change
from lazyrich.dynamics._rnn_train import TrainRNNResult as TrainRNNResult
from lazyrich.dynamics._rnn_train import fit_rank_one_connectivity as fit_rank_one_connectivity
from lazyrich.dynamics._rnn_train import fit_rank_one_network as fit_rank_one_network
from lazyrich.dynamics._rnn_train import masked_cross_entropy as masked_cross_entropy
from lazyrich.dynamics._rnn_train import train_rnn as train_rnn

__all__ = [
    "aligned_rank_one_connectivity",
    "connectivity_rank",
    "dale_connectivity",
    "eigenvalue_ratio_rank",
    "fit_rank_one_connectivity",
    "fit_rank_one_network",
    "gaussian_connectivity",
    "init_rnn_params",
    "LeakyRNN",
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
    "TrainRNNResult",
    "truncate_rank",
    "weight_change",
]
