"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._ghost_bn import BatchStats as BatchStats
from ._ghost_bn import GhostBatchNorm as GhostBatchNorm
from ._ghost_bn import ghost_batch_count as ghost_batch_count
from ._ghost_bn import ghost_batch_norm as ghost_batch_norm
from ._ghost_bn import sequential_ema as sequential_ema
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import param_path as param_path

__all__: list[str] = [
    "ACTIVATIONS",
    "BatchStats",
    "GhostBatchNorm",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "ghost_batch_count",
    "ghost_batch_norm",
    "mlp",
    "param_path",
    "sequential_ema",
]
