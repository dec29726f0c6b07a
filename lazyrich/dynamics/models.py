"""The papers' finite-width models and their trainers.

* bias-free MLP / CNN in the NTK and mean-field parameterizations (Sclocchi, Geiger, Wyart 2023; Geiger et al.
  2020): :func:`bias_free_mlp`, :class:`BiasFreeMLP`, :class:`BiasFreeCNN`;
* the perceptron trained by SGD until fitted (Sclocchi et al. 2023, Sec. 5): :func:`train_perceptron`;
* the committee machine of grokking (Kumar, Bordelon, Gershman, Pehlevan 2024): :func:`train_committee`;
* the mean-field / muP MLP and its gradient flow (Bordelon & Pehlevan 2022): :func:`meanfield_mlp_init`,
  :func:`train_meanfield_gradient_flow`;
* ghost batch norm and the large-batch recipe (Hoffer, Hubara, Soudry 2017): :class:`GhostBatchNorm`,
  :func:`train_bn_mlp`, :func:`large_batch_regime`.

Every convention these models differ in (output scale, loss normalisation, time unit) is listed in
``docs/conventions.md``; the recurrent networks of Liu et al. (2024) are in :mod:`lazyrich.dynamics.rnn`.

Example:
  >>> import jax
  >>> from lazyrich.dynamics import models
  >>> apply_fn, params = models.bias_free_mlp(
  ...     input_dim=4, width=8, depth=2, parameterization="mean_field", key=jax.random.key(0)
  ... )
  >>> apply_fn(params, jax.numpy.ones((3, 4))).shape[0]
  3
"""

from lazyrich.dynamics._committee import committee_apply as committee_apply
from lazyrich.dynamics._committee import committee_empirical_ntk as committee_empirical_ntk
from lazyrich.dynamics._committee import train_committee as train_committee
from lazyrich.dynamics._ghost_bn import BatchStats as BatchStats
from lazyrich.dynamics._ghost_bn import GhostBatchNorm as GhostBatchNorm
from lazyrich.dynamics._ghost_bn import ghost_batch_count as ghost_batch_count
from lazyrich.dynamics._ghost_bn import ghost_batch_norm as ghost_batch_norm
from lazyrich.dynamics._ghost_bn import sequential_ema as sequential_ema
from lazyrich.dynamics._large_batch import BNMLP as BNMLP
from lazyrich.dynamics._large_batch import Regime as Regime
from lazyrich.dynamics._large_batch import TrainRecord as TrainRecord
from lazyrich.dynamics._large_batch import adapt_regime as adapt_regime
from lazyrich.dynamics._large_batch import large_batch_optimizer as large_batch_optimizer
from lazyrich.dynamics._large_batch import large_batch_regime as large_batch_regime
from lazyrich.dynamics._large_batch import num_training_steps as num_training_steps
from lazyrich.dynamics._large_batch import sqrt_scaled_learning_rate as sqrt_scaled_learning_rate
from lazyrich.dynamics._large_batch import train_bn_mlp as train_bn_mlp
from lazyrich.dynamics._meanfield import meanfield_mlp_init as meanfield_mlp_init
from lazyrich.dynamics._meanfield import meanfield_mlp_kernels as meanfield_mlp_kernels
from lazyrich.dynamics._meanfield import (
    meanfield_mlp_preactivations as meanfield_mlp_preactivations,
)
from lazyrich.dynamics._meanfield import meanfield_mlp_readout as meanfield_mlp_readout
from lazyrich.dynamics._meanfield import (
    train_meanfield_gradient_flow as train_meanfield_gradient_flow,
)
from lazyrich.dynamics._models import BiasFreeCNN as BiasFreeCNN
from lazyrich.dynamics._models import BiasFreeMLP as BiasFreeMLP
from lazyrich.dynamics._models import bias_free_mlp as bias_free_mlp
from lazyrich.dynamics._models import bias_free_mlp_apply_fn as bias_free_mlp_apply_fn
from lazyrich.dynamics._models import bias_free_mlp_init as bias_free_mlp_init
from lazyrich.dynamics._perceptron import PerceptronState as PerceptronState
from lazyrich.dynamics._perceptron import advance_perceptron as advance_perceptron
from lazyrich.dynamics._perceptron import init_perceptron as init_perceptron
from lazyrich.dynamics._perceptron import train_perceptron as train_perceptron

__all__ = [
    "adapt_regime",
    "advance_perceptron",
    "BatchStats",
    "bias_free_mlp",
    "bias_free_mlp_apply_fn",
    "bias_free_mlp_init",
    "BiasFreeCNN",
    "BiasFreeMLP",
    "BNMLP",
    "committee_apply",
    "committee_empirical_ntk",
    "ghost_batch_count",
    "ghost_batch_norm",
    "GhostBatchNorm",
    "init_perceptron",
    "large_batch_optimizer",
    "large_batch_regime",
    "meanfield_mlp_init",
    "meanfield_mlp_kernels",
    "meanfield_mlp_preactivations",
    "meanfield_mlp_readout",
    "num_training_steps",
    "PerceptronState",
    "Regime",
    "sequential_ema",
    "sqrt_scaled_learning_rate",
    "train_bn_mlp",
    "train_committee",
    "train_meanfield_gradient_flow",
    "train_perceptron",
    "TrainRecord",
]
