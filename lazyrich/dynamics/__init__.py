"""Finite-width training dynamics: networks, empirical NTK, linearisation, training, observables.

The core lives here: the training loop for centred, alpha-scaled models (:func:`train`), the SGD
temperature, the alpha-scaled losses and the linearised model, the empirical NTK and NNGP, the MLP in the
NTK and standard parameterizations, and the adapters from Flax modules to pure ``(apply_fn, params)``
pairs. The papers' models and the diagnostics are submodules:

* :mod:`lazyrich.dynamics.models` -- bias-free MLP/CNN, perceptron, committee machine, mean-field MLP, ghost
  batch norm and the large-batch recipe;
* :mod:`lazyrich.dynamics.rnn` -- leaky RNNs, rank-controlled connectivity, laziness measures, RNN training;
* :mod:`lazyrich.dynamics.diagnostics` -- kernel alignments, kernel change, spectra, effective ranks.

Names that lived here before the submodules existed still resolve, with a :class:`DeprecationWarning`
naming their new location (``docs/namespaces.md``).
"""

from lazyrich._deprecation import deprecated_getattr as _deprecated_getattr
from lazyrich.dynamics import diagnostics as diagnostics
from lazyrich.dynamics import models as models
from lazyrich.dynamics import rnn as rnn

# Core: activations, networks and adapters.
from ._activations import NORMALIZED_ACTIVATIONS as NORMALIZED_ACTIVATIONS
from ._activations import normalized_activation as normalized_activation
from ._activations import second_moment as second_moment
from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp

# Core: empirical kernels.
from ._ntk import empirical_nngp as empirical_nngp
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import ntk_vector_product as ntk_vector_product
from ._ntk import param_path as param_path

# Core: centred alpha-scaled models, losses, linearisation, temperature, training.
from ._scaled import LOSSES as LOSSES
from ._scaled import centered as centered
from ._scaled import centered_outputs as centered_outputs
from ._scaled import linearize as linearize
from ._scaled import per_sample_loss as per_sample_loss
from ._scaled import scaled_loss as scaled_loss
from ._temperature import learning_rate_for_temperature as learning_rate_for_temperature
from ._temperature import temperature as temperature
from ._train import TrainConfig as TrainConfig
from ._train import TrainResult as TrainResult
from ._train import TrainState as TrainState
from ._train import train as train

__all__ = [
    # submodules
    "diagnostics",
    "models",
    "rnn",
    # activations, networks, adapters
    "ACTIVATIONS",
    "from_linen",
    "from_nnx",
    "mlp",
    "normalized_activation",
    "NORMALIZED_ACTIVATIONS",
    "second_moment",
    # empirical kernels
    "empirical_nngp",
    "empirical_ntk",
    "ntk_vector_product",
    "param_path",
    # scaled models, losses, temperature, training
    "centered",
    "centered_outputs",
    "learning_rate_for_temperature",
    "linearize",
    "LOSSES",
    "per_sample_loss",
    "scaled_loss",
    "temperature",
    "train",
    "TrainConfig",
    "TrainResult",
    "TrainState",
]


def _moved(submodule: str, private: str, names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    return {
        n: (f"lazyrich.dynamics.{submodule}.{n}", f"lazyrich.dynamics.{private}:{n}") for n in names
    }


# Deprecated for this release: old flat names of the submodules' contents, and internals.
_MOVED = {
    **_moved("diagnostics", "diagnostics", diagnostics.__all__),
    **_moved("models", "models", models.__all__),
    **_moved("rnn", "rnn", rnn.__all__),
    "check_train_inputs": (
        "nothing: it is internal (lazyrich.dynamics._train.check_train_inputs)",
        "lazyrich.dynamics._train:check_train_inputs",
    ),
    "layer_name": (
        "nothing: it is internal (lazyrich.dynamics._models.layer_name)",
        "lazyrich.dynamics._models:layer_name",
    ),
    "STATUS_OK": ("lazyrich.Status.OK", "lazyrich.dynamics._train:STATUS_OK"),
    "STATUS_CAP": ("lazyrich.Status.STEP_CAP", "lazyrich.dynamics._train:STATUS_CAP"),
    "STATUS_DIVERGED": ("lazyrich.Status.DIVERGED", "lazyrich.dynamics._train:STATUS_DIVERGED"),
}
__getattr__ = _deprecated_getattr(__name__, _MOVED)
