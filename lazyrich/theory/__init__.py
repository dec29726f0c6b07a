"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays (no Flax, no networks).
"""

from lazyrich.theory._linear_rank import linear_kernel_matrix as linear_kernel_matrix
from lazyrich.theory._linear_rank import linear_rank_alignment as linear_rank_alignment
from lazyrich.theory._linear_rank import (
    linear_rank_alignment_endpoint as linear_rank_alignment_endpoint,
)

__all__: list[str] = []
# Two-layer linear network, alignment vs effective rank (Liu et al. 2024)
__all__ += ["linear_kernel_matrix", "linear_rank_alignment", "linear_rank_alignment_endpoint"]
