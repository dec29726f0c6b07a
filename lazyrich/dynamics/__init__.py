"""Finite-width training dynamics: empirical NTK, scaled models, training loops, layers, observables."""

from lazyrich.dynamics._activations import ACTIVATIONS as ACTIVATIONS
from lazyrich.dynamics._activations import normalized_activation as normalized_activation
from lazyrich.dynamics._activations import second_moment as second_moment
from lazyrich.dynamics._models import CNN as CNN
from lazyrich.dynamics._models import MLP as MLP
from lazyrich.dynamics._models import from_nnx as from_nnx
from lazyrich.dynamics._models import layer_name as layer_name
from lazyrich.dynamics._models import mlp as mlp
from lazyrich.dynamics._models import mlp_apply_fn as mlp_apply_fn
from lazyrich.dynamics._models import mlp_init as mlp_init
from lazyrich.dynamics._scaled import LOSSES as LOSSES
from lazyrich.dynamics._scaled import centered as centered
from lazyrich.dynamics._scaled import centered_outputs as centered_outputs
from lazyrich.dynamics._scaled import linearize as linearize
from lazyrich.dynamics._scaled import per_sample_loss as per_sample_loss
from lazyrich.dynamics._scaled import scaled_loss as scaled_loss
from lazyrich.dynamics._temperature import learning_rate_for_temperature as learning_rate_for_temperature
from lazyrich.dynamics._temperature import temperature as temperature
from lazyrich.dynamics._train import STATUS_CAP as STATUS_CAP
from lazyrich.dynamics._train import STATUS_DIVERGED as STATUS_DIVERGED
from lazyrich.dynamics._train import STATUS_OK as STATUS_OK
from lazyrich.dynamics._train import TrainConfig as TrainConfig
from lazyrich.dynamics._train import TrainResult as TrainResult
from lazyrich.dynamics._train import TrainState as TrainState
from lazyrich.dynamics._train import check_train_inputs as check_train_inputs
from lazyrich.dynamics._train import train as train

__all__: list[str] = [
    "ACTIVATIONS",
    "CNN",
    "LOSSES",
    "MLP",
    "STATUS_CAP",
    "STATUS_DIVERGED",
    "STATUS_OK",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "centered",
    "centered_outputs",
    "check_train_inputs",
    "from_nnx",
    "layer_name",
    "learning_rate_for_temperature",
    "linearize",
    "mlp",
    "mlp_apply_fn",
    "mlp_init",
    "normalized_activation",
    "per_sample_loss",
    "scaled_loss",
    "second_moment",
    "temperature",
    "train",
]
