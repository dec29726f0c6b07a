"""Data sets and tasks: bundled digits, synthetic generators, and loaders of official files at a user path."""

from lazyrich.sims.datasets._digits import load_digits as load_digits
from lazyrich.sims.datasets._digits import parity_labels as parity_labels
from lazyrich.sims.datasets._digits import split as split
from lazyrich.sims.datasets._files import load_cifar10 as load_cifar10
from lazyrich.sims.datasets._files import load_mnist as load_mnist
from lazyrich.sims.datasets._neurogym import NEUROGYM_TASKS as NEUROGYM_TASKS
from lazyrich.sims.datasets._neurogym import Trials as Trials
from lazyrich.sims.datasets._neurogym import context_decision as context_decision
from lazyrich.sims.datasets._neurogym import delay_match_sample as delay_match_sample
from lazyrich.sims.datasets._neurogym import neurogym_task as neurogym_task
from lazyrich.sims.datasets._neurogym import sequence_batches as sequence_batches
from lazyrich.sims.datasets._neurogym import sequential_digits as sequential_digits
from lazyrich.sims.datasets._neurogym import sequential_mnist as sequential_mnist
from lazyrich.sims.datasets._neurogym import two_afc as two_afc
from lazyrich.sims.datasets._parity import cifar_animal_labels as cifar_animal_labels
from lazyrich.sims.datasets._parity import cifar_animals as cifar_animals
from lazyrich.sims.datasets._parity import digits_parity as digits_parity
from lazyrich.sims.datasets._parity import gaussian_teacher_student as gaussian_teacher_student
from lazyrich.sims.datasets._parity import mnist_parity as mnist_parity
from lazyrich.sims.datasets._synthetic import depleted_sign as depleted_sign
from lazyrich.sims.datasets._synthetic import gaussian_quadratic as gaussian_quadratic

__all__: list[str] = [
    "cifar_animal_labels",
    "cifar_animals",
    "context_decision",
    "delay_match_sample",
    "depleted_sign",
    "digits_parity",
    "gaussian_quadratic",
    "gaussian_teacher_student",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "mnist_parity",
    "neurogym_task",
    "NEUROGYM_TASKS",
    "parity_labels",
    "sequence_batches",
    "sequential_digits",
    "sequential_mnist",
    "split",
    "Trials",
    "two_afc",
]
