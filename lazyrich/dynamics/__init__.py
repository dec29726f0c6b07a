"""Finite-width training dynamics: empirical NTK, scaled models, training loops, observables."""

from lazyrich._linalg import centered_kernel_alignment as centered_kernel_alignment
from lazyrich._linalg import effective_rank as effective_rank
from lazyrich._linalg import kernel_alignment as kernel_alignment
from lazyrich._linalg import kernel_pca as kernel_pca
from lazyrich._linalg import kernel_spectrum as kernel_spectrum
from lazyrich._linalg import kernel_target_alignment as kernel_target_alignment
from lazyrich._linalg import participation_ratio as participation_ratio
from lazyrich._linalg import relative_kernel_change as relative_kernel_change

from ._functional import from_linen as from_linen
from ._functional import from_nnx as from_nnx
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
from ._ntk import empirical_nngp as empirical_nngp
from ._ntk import empirical_ntk as empirical_ntk
from ._ntk import ntk_vector_product as ntk_vector_product
from ._ntk import param_path as param_path

__all__: list[str] = [
    "ACTIVATIONS",
    "empirical_ntk",
    "from_linen",
    "from_nnx",
    "mlp",
    "centered_kernel_alignment",
    "effective_rank",
    "empirical_nngp",
    "kernel_alignment",
    "kernel_pca",
    "kernel_spectrum",
    "kernel_target_alignment",
    "ntk_vector_product",
    "param_path",
    "participation_ratio",
    "relative_kernel_change",
]
