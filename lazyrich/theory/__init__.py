"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays (no Flax, no networks).
"""

from lazyrich.theory._perceptron import depleted_sign_density as depleted_sign_density
from lazyrich.theory._perceptron import perceptron_norm_exponent as perceptron_norm_exponent
from lazyrich.theory._perceptron import perceptron_temperature_exponent as perceptron_temperature_exponent
from lazyrich.theory._perceptron import perceptron_time_exponent as perceptron_time_exponent

__all__ = [
    "depleted_sign_density",
    "perceptron_norm_exponent",
    "perceptron_temperature_exponent",
    "perceptron_time_exponent",
]
