"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays (no Flax, no networks).
"""

from lazyrich.theory._dmft.common import DMFTResult as DMFTResult
from lazyrich.theory._dmft.two_layer import solve_dmft_two_layer as solve_dmft_two_layer

__all__: list[str] = [
    "DMFTResult",
    "solve_dmft_two_layer",
]
