r"""Validation of kernel matrices and kernel functions passed to the theory's prediction functions.

The policy, applied by :func:`lazyrich.theory.predict`, :func:`lazyrich.theory.gp_inference`,
:func:`lazyrich.theory.mse_gradient_flow`, :func:`lazyrich.theory.gradient_descent_mse_ensemble` and
:func:`lazyrich.theory.cg_solve`, before any work:

* shapes must match (a message names the argument, the shape received and the shape expected);
* NaN and infinite entries are always rejected;
* a train-train kernel must be symmetric, :math:`\max|K - K^\top| \le \text{rtol}\cdot\max|K|`, and
  positive semi-definite, :math:`\lambda_{\min}(K) \ge -\text{rtol}\cdot\lambda_{\max}(K)`. The
  default ``rtol`` is ``1e-6`` for float64 kernels and ``1e-4`` for lower precision (the rounding of
  a float32 kernel moves its eigenvalues by about :math:`\sqrt{n}\,\epsilon_{32}\lambda_{\max}`).
  Up to :data:`PSD_EIGH_LIMIT` points the eigenvalues are computed (float64, ``eigvalsh``); above it
  an :math:`O(n^3)` check would cost as much as the solve, so the check is the necessary condition
  :math:`K_{ii} \ge 0` and :math:`|K_{ij}| \le (1 + \text{rtol})\sqrt{K_{ii}K_{jj}}`, in row blocks,
  and the conjugate-gradient solver reports non-positive curvature :math:`p^\top K p \le 0` as
  ``Status.NOT_CONVERGED``.
* ``validate=False`` skips the symmetry and PSD checks (for users who know their kernel is fine and
  want to save the :math:`O(n^3)` check, or who deliberately pass an indefinite matrix); shapes and
  finiteness are still checked. Under ``jax.jit`` (traced arguments) value checks are skipped.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from lazyrich._checks import check_finite, check_ndim, check_square

PSD_EIGH_LIMIT = 4096
_BLOCK = 1024


def _is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def default_rtol(dtype: Any) -> float:
    """Relative tolerance of the symmetry / PSD checks for a kernel of this dtype."""
    return 1e-6 if np.dtype(dtype) == np.float64 else 1e-4


def check_kernel_matrix(
    name: str, k: Any, *, validate: bool = True, rtol: float | None = None
) -> None:
    """Check a train-train kernel: square, finite and (unless ``validate=False``) symmetric PSD.

    Raises ``ValueError`` naming ``name``, what was received and what was expected.
    """
    check_square(name, k)
    check_finite(name, k)
    if not validate or _is_tracer(k):
        return
    arr = np.asarray(k)
    rtol = default_rtol(arr.dtype) if rtol is None else float(rtol)
    n = arr.shape[0]
    if n == 0:
        raise ValueError(f"`{name}` must have at least one row, got shape {arr.shape}.")
    scale = 0.0
    asym = 0.0
    for i in range(0, n, _BLOCK):
        rows = np.asarray(arr[i : i + _BLOCK], np.float64)
        cols = np.asarray(arr[:, i : i + _BLOCK], np.float64).T
        scale = max(scale, float(np.max(np.abs(rows))))
        asym = max(asym, float(np.max(np.abs(rows - cols))))
    if asym > rtol * scale:
        raise ValueError(
            f"`{name}` must be symmetric to relative tolerance {rtol:g}, got max |K - K^T| = "
            f"{asym:.3g} with max |K| = {scale:.3g} (pass `validate=False` to skip this check)."
        )
    if n <= PSD_EIGH_LIMIT:
        sym = np.asarray(arr, np.float64)
        evals = np.linalg.eigvalsh(0.5 * (sym + sym.T))
        lo, hi = float(evals[0]), float(evals[-1])
        if lo < -rtol * max(hi, 0.0) or (hi <= 0 and lo < 0):
            raise ValueError(
                f"`{name}` must be positive semi-definite (smallest eigenvalue >= -{rtol:g} x "
                f"largest), got smallest eigenvalue {lo:.4g} and largest {hi:.4g} (pass "
                f"`validate=False` to skip this check)."
            )
        return
    diag = np.asarray(np.diagonal(arr), np.float64)
    if np.any(diag < 0):
        i = int(np.argmin(diag))
        raise ValueError(
            f"`{name}` must be positive semi-definite, got a negative diagonal entry "
            f"{name}[{i}, {i}] = {diag[i]:.4g}."
        )
    root = np.sqrt(diag)
    for i in range(0, n, _BLOCK):
        rows = np.abs(np.asarray(arr[i : i + _BLOCK], np.float64))
        bound = (1 + rtol) * np.outer(root[i : i + _BLOCK], root) + rtol * scale
        if np.any(rows > bound):
            a, b = np.unravel_index(int(np.argmax(rows - bound)), rows.shape)
            raise ValueError(
                f"`{name}` must be positive semi-definite, got |{name}[{i + a}, {b}]| = "
                f"{rows[a, b]:.4g} > sqrt({name}[{i + a}, {i + a}] {name}[{b}, {b}]) = "
                f"{root[i + a] * root[b]:.4g} (pass `validate=False` to skip this check)."
            )


def check_cross_kernel(name: str, k: Any, rows: int | None, cols: int) -> None:
    """Check a test-train (or test-test) kernel: 2-D, finite, ``(rows, cols)``."""
    check_ndim(name, k, 2)
    check_finite(name, k)
    shape = np.shape(k)
    if shape[1] != cols or (rows is not None and shape[0] != rows):
        want = f"({'Q' if rows is None else rows}, {cols})"
        raise ValueError(f"`{name}` must have shape {want}, got {shape}.")


def check_inputs(name: str, x: Any, features: tuple[int, ...] | None = None) -> None:
    """Check inputs for a kernel function: an array with a leading batch axis, finite."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"`{name}` must be an array, got {type(x).__name__}.")
    if np.ndim(x) < 2:
        raise ValueError(
            f"`{name}` must have a batch axis and feature axes (at least 2-D), got shape "
            f"{np.shape(x)}."
        )
    check_finite(name, x)
    if features is not None and tuple(np.shape(x)[1:]) != tuple(features):
        raise ValueError(
            f"`{name}` must have feature shape {tuple(features)} (that of `x_train`), got "
            f"{tuple(np.shape(x)[1:])} (full shape {np.shape(x)})."
        )
