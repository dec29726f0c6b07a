"""Data sets and tasks: bundled digits, synthetic generators, and loaders of official files at a user path."""

from lazyrich.sims.datasets._digits import load_digits as load_digits
from lazyrich.sims.datasets._digits import parity_labels as parity_labels
from lazyrich.sims.datasets._digits import split as split
from lazyrich.sims.datasets._files import load_cifar10 as load_cifar10
from lazyrich.sims.datasets._files import load_mnist as load_mnist
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
    "depleted_sign",
    "digits_parity",
    "gaussian_quadratic",
    "gaussian_teacher_student",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "mnist_parity",
    "parity_labels",
    "split",
]
