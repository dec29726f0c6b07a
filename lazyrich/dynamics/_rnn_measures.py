"""Laziness measures of Liu et al. (ICLR 2024) and the effective-rank functionals it compares.

All compare the network at initialisation (0) with the end of training (f) (Liu et al. Sec. 3 and
the authors' code):

* weight change :math:`\\|W_h^{(f)} - W_h^{(0)}\\|_F` (smaller = lazier);
* representation alignment :math:`A(H_0 H_0^\\top, H_f H_f^\\top)`, H = hidden states at the decision step
  on a fixed probe set (higher = lazier);
* tangent-kernel alignment :math:`A(K_0, K_f)` of the W_h-only NTK (higher = lazier);

with the cosine alignment :math:`A(K_1, K_2) = \\langle K_1, K_2\\rangle_F / (\\|K_1\\|_F \\|K_2\\|_F)`.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from lazyrich import _checks
from lazyrich._linalg import effective_rank, kernel_alignment, participation_ratio
from lazyrich.dynamics._rnn import Activation, recurrent_tangent_kernel, rnn_hidden

__all__ = [
    "connectivity_rank",
    "eigenvalue_ratio_rank",
    "recurrent_kernel_alignment",
    "representation_alignment",
    "weight_change",
]

RankMethod = Literal["roy_vetterli", "participation_ratio", "stable", "eigenvalue_ratio"]


def eigenvalue_ratio_rank(w: jax.Array) -> jax.Array:
    r"""Eigenvalue-ratio effective rank :math:`\sum_i |\lambda_i| / (N |\lambda_1|) \in (0, 1]`.

    :math:`\lambda_i` are the (complex) eigenvalues of the square matrix ``w`` and :math:`\lambda_1` the one of
    largest modulus (the measure quoted for the data-driven matrices of the submitted
    version). It is 1 for a matrix whose eigenvalues share one modulus (e.g. orthogonal) and 1/N for rank 1.
    Uses ``jnp.linalg.eig``, which runs on CPU only.

    Raises:
      ValueError: if ``w`` is not square.
    """
    _checks.check_square("w", w)
    lam = jnp.abs(jnp.linalg.eigvals(w))
    return jnp.sum(lam) / (w.shape[0] * jnp.max(lam))


def connectivity_rank(w: jax.Array, *, method: RankMethod = "roy_vetterli") -> jax.Array:
    r"""Effective rank of a connectivity matrix by one of four functionals.

    * ``"roy_vetterli"``: :math:`\exp(-\sum_k p_k\log p_k)`, :math:`p_k = \sigma_k / \sum_j \sigma_j`;
    * ``"participation_ratio"``: :math:`(\sum\sigma^2)^2 / \sum\sigma^4`;
    * ``"stable"``: :math:`\|W\|_F^2 / \|W\|_2^2`;
    * ``"eigenvalue_ratio"``: :func:`eigenvalue_ratio_rank`.

    Args:
      w: square ``(N, N)`` matrix.
      method: which functional.

    Returns:
      Scalar.

    Raises:
      ValueError: for a non-square ``w`` or an unknown ``method``.
    """
    _checks.check_choice(
        "method", method, ("roy_vetterli", "participation_ratio", "stable", "eigenvalue_ratio")
    )
    _checks.check_square("w", w)
    if method == "eigenvalue_ratio":
        return eigenvalue_ratio_rank(w)
    if method == "roy_vetterli":
        return effective_rank(w)
    if method == "participation_ratio":
        return participation_ratio(w, kind="matrix")
    s = jnp.linalg.svd(w, compute_uv=False)
    return jnp.sum(s * s) / (s[0] * s[0])


def weight_change(w0: jax.Array, w1: jax.Array) -> jax.Array:
    r""":math:`\|W_1 - W_0\|_F`.

    Raises:
      ValueError: if the shapes differ.
    """
    if jnp.shape(w0) != jnp.shape(w1):
        raise ValueError(
            f"`w0` and `w1` must have the same shape, got {jnp.shape(w0)} and {jnp.shape(w1)}."
        )
    return jnp.sqrt(jnp.sum((w1 - w0) ** 2))


def representation_alignment(
    params0, params1, x, *, step: int = -1, leak=1.0, activation: Activation = "relu"
) -> jax.Array:
    r"""Cosine alignment of the representation Grams :math:`H H^\top` at one time step, before and after.

    :math:`A(H_0 H_0^\top, H_1 H_1^\top)` with :math:`H` the ``(B, N)`` hidden states at ``step`` (the decision
    step; default the last) on the probe trials ``x``.

    Args:
      params0, params1: RNN parameters at initialisation and after training.
      x: probe inputs ``(B, T, D)``.
      step: time index of the representation (Python int, static).

    Returns:
      Scalar in [0, 1] for ReLU (non-negative Grams).
    """
    h0 = rnn_hidden(params0, x, leak=leak, activation=activation)[:, step]
    h1 = rnn_hidden(params1, x, leak=leak, activation=activation)[:, step]
    return kernel_alignment(h0 @ h0.T, h1 @ h1.T)


def recurrent_kernel_alignment(
    params0, params1, x, *, leak=1.0, activation: Activation = "relu", batch_size: int | None = None
) -> jax.Array:
    r"""Alignment :math:`A(K_0, K_1)` of the W_h-only tangent kernels (:func:`recurrent_tangent_kernel`).

    Over all steps, the trials of ``x`` and all outputs (Liu et al.: 8 steps x 32 trials x 3 outputs = 768).

    Returns:
      Scalar.
    """
    k0 = recurrent_tangent_kernel(
        params0, x, leak=leak, activation=activation, batch_size=batch_size
    )
    k1 = recurrent_tangent_kernel(
        params1, x, leak=leak, activation=activation, batch_size=batch_size
    )
    return kernel_alignment(k0, k1)
