"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays (no Flax, no networks).
"""

from ._kernel_dynamics import Gaussian as Gaussian
from ._kernel_dynamics import gradient_descent_mse_ensemble as gradient_descent_mse_ensemble
from ._kernel_dynamics import max_learning_rate as max_learning_rate
from ._kernel_dynamics import mse_gradient_flow as mse_gradient_flow
from ._kernels import Kernels as Kernels
from ._kernels import mlp_kernels as mlp_kernels

__all__: list[str] = [
    "Gaussian",
    "Kernels",
    "gradient_descent_mse_ensemble",
    "max_learning_rate",
    "mlp_kernels",
    "mse_gradient_flow",
]
