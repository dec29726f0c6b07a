"""Data sets and tasks: bundled digits, synthetic generators, and loaders of official files at a user path."""

from lazyrich.sims.datasets._digits import load_digits as load_digits
from lazyrich.sims.datasets._digits import parity_labels as parity_labels
from lazyrich.sims.datasets._digits import split as split
from lazyrich.sims.datasets._files import load_cifar10 as load_cifar10
from lazyrich.sims.datasets._files import load_mnist as load_mnist
from lazyrich.sims.datasets._synthetic import depleted_sign as depleted_sign
from lazyrich.sims.datasets._synthetic import gaussian_quadratic as gaussian_quadratic

__all__ = [
    "depleted_sign",
    "gaussian_quadratic",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "parity_labels",
    "split",
]
