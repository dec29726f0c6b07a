r"""Shared linear algebra for kernels and weight matrices: alignments, spectra, effective ranks.

Pure functions of arrays (jit- and vmap-compatible; shapes static), each defined only here and re-exported
publicly from :mod:`lazyrich.dynamics.diagnostics`. "Centred" means double centring, :math:`HKH` with
:math:`H = I - 11^\top/P` (``docs/conventions.md`` §5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def _check_matrix(name: str, k) -> None:
    if np.ndim(k) != 2:
        raise ValueError(f"`{name}` must be a 2-D matrix, got shape {np.shape(k)}.")


def _check_square(name: str, k) -> None:
    shape = np.shape(k)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"`{name}` must be a square matrix, got shape {shape}.")


def _center(k: Array) -> Array:
    """H K H with H = I - 1 1^T / n (double centring)."""
    k = k - jnp.mean(k, axis=0, keepdims=True)
    return k - jnp.mean(k, axis=1, keepdims=True)


def kernel_alignment(k1: Array, k2: Array) -> Array:
    r"""Cosine similarity of two kernels, :math:`A(K_1, K_2) = \langle K_1, K_2\rangle_F /
    (\|K_1\|_F \|K_2\|_F)`.

    Args:
      k1: kernel, shape ``(P, Q)``.
      k2: kernel, shape ``(P, Q)``.

    Returns:
      Scalar in ``[-1, 1]``; 1 when ``k2`` is a positive multiple of ``k1``.

    Raises:
      ValueError: if the shapes are not equal 2-D shapes.

    References:
      Cristianini, Shawe-Taylor, Elisseeff, Kandola (2001), "On kernel-target alignment", NeurIPS.
    """
    _check_matrix("k1", k1)
    if np.shape(k1) != np.shape(k2):
        raise ValueError(
            f"`k1` and `k2` must have the same shape, got {np.shape(k1)} and {np.shape(k2)}."
        )
    return jnp.vdot(k1, k2) / (jnp.linalg.norm(k1) * jnp.linalg.norm(k2))


def centered_kernel_alignment(k1: Array, k2: Array) -> Array:
    r"""Centred kernel alignment :math:`A(HK_1H, HK_2H)` with :math:`H = I - \frac1P 11^\top`.

    Args:
      k1: square kernel ``(P, P)``.
      k2: square kernel ``(P, P)``.

    Returns:
      Scalar; invariant to adding constants to the features of either kernel.

    Raises:
      ValueError: if a kernel is not square or the shapes differ.

    References:
      Cortes, Mohri, Rostamizadeh (2012), https://arxiv.org/abs/1203.0550, Def. 1.
    """
    _check_square("k1", k1)
    _check_square("k2", k2)
    return kernel_alignment(_center(k1), _center(k2))


def kernel_target_alignment(k: Array, y: Array, *, centered: bool = False) -> Array:
    r"""Kernel-target alignment :math:`\frac{y^\top K y}{\|K\|_F \|y\|^2}`.

    For several targets ``y`` of shape ``(P, O)`` this is :math:`\mathrm{tr}(Y^\top K Y) /
    (\|K\|_F \|Y\|_F^2)`, the alignment of ``K`` with :math:`YY^\top`. With ``centered=True`` both
    ``K`` (double centring) and ``y`` (mean over points removed) are centred first.

    Args:
      k: square kernel ``(P, P)``.
      y: targets ``(P,)`` or ``(P, O)``.
      centered: centre ``K`` and ``y`` first.

    Returns:
      Scalar.

    Raises:
      ValueError: if ``k`` is not square or ``y`` has a different number of rows.
    """
    _check_square("k", k)
    if np.ndim(y) not in (1, 2) or np.shape(y)[0] != np.shape(k)[0]:
        raise ValueError(
            f"`y` must have shape ({np.shape(k)[0]},) or ({np.shape(k)[0]}, O), got {np.shape(y)}."
        )
    y = y.reshape(y.shape[0], -1)
    if centered:
        k = _center(k)
        y = y - jnp.mean(y, axis=0, keepdims=True)
    return jnp.sum(y * (k @ y)) / (jnp.linalg.norm(k) * jnp.sum(y * y))


def relative_kernel_change(k_t: Array, k_0: Array) -> Array:
    r"""Relative kernel change :math:`\|K_t - K_0\|_F / \|K_0\|_F`.

    Raises:
      ValueError: if the shapes differ or are not 2-D.
    """
    _check_matrix("k_0", k_0)
    if np.shape(k_t) != np.shape(k_0):
        raise ValueError(
            f"`k_t` and `k_0` must have the same shape, got {np.shape(k_t)} and {np.shape(k_0)}."
        )
    return jnp.linalg.norm(k_t - k_0) / jnp.linalg.norm(k_0)


def kernel_spectrum(k: Array) -> tuple[Array, Array]:
    """Eigen-decomposition of a symmetric kernel, eigenvalues in descending order.

    Args:
      k: symmetric kernel ``(P, P)`` (symmetrised as ``(K + K^T)/2`` first).

    Returns:
      ``(eigenvalues (P,), eigenvectors (P, P))`` with ``eigenvectors[:, i]`` the i-th.

    Raises:
      ValueError: if ``k`` is not square.
    """
    _check_square("k", k)
    evals, evecs = jnp.linalg.eigh((k + k.T) / 2)
    return evals[::-1], evecs[:, ::-1]


def kernel_pca(
    k: Array | Callable[[Array], Array],
    num_components: int,
    *,
    method: Literal["eigh", "subspace"] = "eigh",
    size: int | None = None,
    num_iterations: int = 100,
    oversample: int = 8,
    key: Array | None = None,
) -> tuple[Array, Array]:
    r"""Top-``num_components`` eigenpairs of a symmetric PSD kernel (kernel PCA).

    ``method="eigh"`` diagonalises the full matrix (:math:`O(P^3)`). ``method="subspace"`` runs
    block power (subspace) iteration :math:`Q \leftarrow \mathrm{qr}(K Q)` on ``num_components +
    oversample`` random vectors for ``num_iterations`` steps and finishes with a Rayleigh-Ritz step;
    it needs only products ``K Q``, so ``k`` may be a callable ``matvec(Q) -> K Q`` on ``(P, m)``
    blocks (e.g. built from :func:`lazyrich.dynamics.ntk_vector_product`), with ``size=P``. The
    error of the i-th eigenvector decays as
    :math:`(\lambda_{m+1}/\lambda_i)^{\text{num\_iterations}}`.

    Args:
      k: kernel ``(P, P)`` or a callable ``(P, m) -> (P, m)`` (subspace method only).
      num_components: number of leading eigenpairs.
      method: ``"eigh"`` or ``"subspace"``.
      size: ``P`` when ``k`` is a callable.
      num_iterations: subspace iterations.
      oversample: extra vectors in the iterated block.
      key: typed key for the random start (default ``jax.random.key(0)``).

    Returns:
      ``(eigenvalues (num_components,), eigenvectors (P, num_components))``, descending.

    Raises:
      ValueError: bad method, shapes, or ``num_components`` outside ``[1, P]``.
    """
    if method not in ("eigh", "subspace"):
        raise ValueError(f"`method` must be one of ('eigh', 'subspace'), got {method!r}.")
    if callable(k):
        if method != "subspace" or size is None:
            raise ValueError("a callable `k` needs `method='subspace'` and `size`.")
        matvec, n, dtype = k, int(size), None
    else:
        _check_square("k", k)
        n = np.shape(k)[0]
        matvec, dtype = (lambda q: k @ q), k.dtype
    if not 1 <= num_components <= n:
        raise ValueError(f"`num_components` must be in [1, {n}], got {num_components}.")
    if method == "eigh":
        evals, evecs = kernel_spectrum(k)
        return evals[:num_components], evecs[:, :num_components]
    m = min(num_components + oversample, n)
    key = jax.random.key(0) if key is None else key
    dtype = dtype or jnp.result_type(float)
    q0, _ = jnp.linalg.qr(jax.random.normal(key, (n, m), dtype=dtype))

    def step(_, q):
        q, _ = jnp.linalg.qr(matvec(q))
        return q

    q = jax.lax.fori_loop(0, num_iterations, step, q0)
    t = q.T @ matvec(q)
    evals, v = jnp.linalg.eigh((t + t.T) / 2)
    evals, v = evals[::-1][:num_components], v[:, ::-1][:, :num_components]
    return evals, q @ v


def _spectrum(matrix: Array, kind: str) -> Array:
    if kind not in ("kernel", "matrix"):
        raise ValueError(f"`kind` must be one of ('kernel', 'matrix'), got {kind!r}.")
    _check_matrix("matrix", matrix)
    s = jnp.linalg.svd(matrix, compute_uv=False)
    return s if kind == "kernel" else s**2


def effective_rank(matrix: Array) -> Array:
    r"""Effective rank of Roy & Vetterli, :math:`\exp(-\sum_i p_i \log p_i)` with
    :math:`p_i = \sigma_i / \sum_j \sigma_j`.

    :math:`\sigma_i` are the singular values (for a PSD kernel, its eigenvalues). The identity of
    size ``n`` has effective rank ``n``; a rank-1 matrix has 1.

    Args:
      matrix: any 2-D matrix (kernel or weights).

    Returns:
      Scalar in ``[1, min(shape)]``.

    References:
      Roy, Vetterli (2007), "The effective rank: a measure of effective dimensionality", EUSIPCO.
    """
    s = _spectrum(matrix, "kernel")
    p = s / jnp.sum(s)
    safe = jnp.where(p > 0, p, 1.0)
    return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(safe), 0.0)))


def participation_ratio(matrix: Array, *, kind: Literal["kernel", "matrix"] = "kernel") -> Array:
    r"""Participation ratio :math:`(\sum_i \lambda_i)^2 / \sum_i \lambda_i^2`.

    ``kind="kernel"``: :math:`\lambda_i` are the eigenvalues of the PSD kernel (its singular
    values).
    ``kind="matrix"``: :math:`\lambda_i = \sigma_i^2`, the squared singular values of a weight (or
    activity) matrix ``W``, i.e. the eigenvalues of :math:`W W^\top`.

    Args:
      matrix: 2-D matrix.
      kind: ``"kernel"`` or ``"matrix"``.

    Returns:
      Scalar in ``[1, min(shape)]``.
    """
    lam = _spectrum(matrix, kind)
    return jnp.sum(lam) ** 2 / jnp.sum(lam**2)
