"""Finite-width training dynamics: empirical NTK, scaled models, training loops, layers, observables."""

from lazyrich.dynamics._committee import committee_apply as committee_apply
from lazyrich.dynamics._committee import committee_empirical_ntk as committee_empirical_ntk
from lazyrich.dynamics._committee import train_committee as train_committee
from lazyrich.dynamics._perceptron import PerceptronState as PerceptronState
from lazyrich.dynamics._perceptron import advance_perceptron as advance_perceptron
from lazyrich.dynamics._perceptron import init_perceptron as init_perceptron
from lazyrich.dynamics._perceptron import train_perceptron as train_perceptron

__all__ = [
    "committee_apply",
    "committee_empirical_ntk",
    "train_committee",
    "PerceptronState",
    "advance_perceptron",
    "init_perceptron",
    "train_perceptron",
]
