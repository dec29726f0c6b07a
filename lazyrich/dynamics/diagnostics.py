"""Kernel and weight diagnostics: alignments, kernel change, spectra, effective ranks.

Each function is defined once, in :mod:`lazyrich._linalg`, and re-exported here. Conventions
(``docs/conventions.md`` §5): :func:`kernel_alignment` is the cosine of two kernels,
:math:`\\langle K_1, K_2\\rangle_F / (\\|K_1\\|_F \\|K_2\\|_F)`; "centred" always means double centring,
:math:`HKH` with :math:`H = I - \\frac1P 11^\\top` (:func:`centered_kernel_alignment`,
``kernel_target_alignment(..., centered=True)``, which also removes the mean of the targets).

Example:
  >>> import jax.numpy as jnp
  >>> from lazyrich.dynamics import diagnostics
  >>> k = jnp.array([[2.0, 1.0], [1.0, 2.0]])
  >>> print(f"{float(diagnostics.kernel_alignment(k, 3 * k)):.3f}")
  1.000
"""

from lazyrich._linalg import centered_kernel_alignment as centered_kernel_alignment
from lazyrich._linalg import effective_rank as effective_rank
from lazyrich._linalg import kernel_alignment as kernel_alignment
from lazyrich._linalg import kernel_pca as kernel_pca
from lazyrich._linalg import kernel_spectrum as kernel_spectrum
from lazyrich._linalg import kernel_target_alignment as kernel_target_alignment
from lazyrich._linalg import participation_ratio as participation_ratio
from lazyrich._linalg import relative_kernel_change as relative_kernel_change

__all__ = [
    "centered_kernel_alignment",
    "effective_rank",
    "kernel_alignment",
    "kernel_pca",
    "kernel_spectrum",
    "kernel_target_alignment",
    "participation_ratio",
    "relative_kernel_change",
]
