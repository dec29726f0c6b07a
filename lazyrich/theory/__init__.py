"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays (no Flax, no networks).
"""

from lazyrich.theory._dmft.common import DMFTResult as DMFTResult
from lazyrich.theory._dmft.common import status_name as dmft_status_name
from lazyrich.theory._dmft.deep import solve_dmft_deep as solve_dmft_deep
from lazyrich.theory._dmft.deep import solve_dmft_linear as solve_dmft_linear
from lazyrich.theory._dmft.solve import solve_dmft as solve_dmft
from lazyrich.theory._dmft.solve import whitened_linear_dmft as whitened_linear_dmft
from lazyrich.theory._dmft.two_layer import solve_dmft_two_layer as solve_dmft_two_layer

__all__: list[str] = [
    "DMFTResult",
    "dmft_status_name",
    "solve_dmft",
    "solve_dmft_deep",
    "solve_dmft_linear",
    "solve_dmft_two_layer",
    "whitened_linear_dmft",
]
