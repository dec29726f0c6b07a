"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._ghost_bn import BatchStats as BatchStats
from ._ghost_bn import GhostBatchNorm as GhostBatchNorm
from ._ghost_bn import ghost_batch_count as ghost_batch_count
from ._ghost_bn import ghost_batch_norm as ghost_batch_norm
from ._ghost_bn import sequential_ema as sequential_ema
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
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import param_path as param_path

__all__: list[str] = [
    "ACTIVATIONS",
    "BNMLP",
    "BatchStats",
    "GhostBatchNorm",
    "Regime",
    "TrainRecord",
    "adapt_regime",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "ghost_batch_count",
    "ghost_batch_norm",
    "large_batch_optimizer",
    "large_batch_regime",
    "mlp",
    "num_training_steps",
    "param_path",
    "sequential_ema",
    "sqrt_scaled_learning_rate",
    "train_bn_mlp",
]
