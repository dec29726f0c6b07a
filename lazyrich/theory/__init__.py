"""Infinite-width theory: NNGP/NTK kernels, closed-form predictions, DMFT and toy-model theory.

Model-free: functions here take kernels, data and hyper-parameters as arrays (no Flax, no networks).
"""

from lazyrich.theory._random_walk import check_roughness as check_roughness
from lazyrich.theory._random_walk import diffusion_exponent as diffusion_exponent
from lazyrich.theory._random_walk import ultraslow_distance as ultraslow_distance

__all__: list[str] = [
    "check_roughness",
    "diffusion_exponent",
    "ultraslow_distance",
]
