"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays (no Flax, no networks).
"""

from ._dmft.common import DMFTResult as DMFTResult
from ._dmft.common import status_name as dmft_status_name
from ._dmft.deep import solve_dmft_deep as solve_dmft_deep
from ._dmft.deep import solve_dmft_linear as solve_dmft_linear
from ._dmft.solve import solve_dmft as solve_dmft
from ._dmft.solve import whitened_linear_dmft as whitened_linear_dmft
from ._dmft.two_layer import solve_dmft_two_layer as solve_dmft_two_layer
from ._kernel_dynamics import Gaussian as Gaussian
from ._kernel_dynamics import gradient_descent_mse_ensemble as gradient_descent_mse_ensemble
from ._kernel_dynamics import max_learning_rate as max_learning_rate
from ._kernel_dynamics import mse_gradient_flow as mse_gradient_flow
from ._kernels import Kernels as Kernels
from ._kernels import mlp_kernels as mlp_kernels

__all__: list[str] = [
    "dmft_status_name",
    "DMFTResult",
    "Gaussian",
    "gradient_descent_mse_ensemble",
    "Kernels",
    "max_learning_rate",
    "mlp_kernels",
    "mse_gradient_flow",
    "solve_dmft",
    "solve_dmft_deep",
    "solve_dmft_linear",
    "solve_dmft_two_layer",
    "whitened_linear_dmft",
]
