"""Recurrent connectivity initialisations: Gaussian, rank-truncated, task-aligned rank-1, Dale's law, user-supplied.

Every function is a pure function of a typed key (where random), a static width and parameters. The truncation
rank is applied by *masking* singular values, so it may be a traced integer: ``jax.vmap`` over ranks and seeds
compiles one program.

References:
  Liu, Baratin, Cornford, Mihalas, Shea-Brown, Lajoie (ICLR 2024), "How connectivity structure
  shapes rich and lazy learning in neural circuits", https://arxiv.org/abs/2310.08513, Sec. 3 and
  the authors' code ``Helena-Yuhan-Liu/BioRNN_RichLazy``.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks

__all__ = [
    "aligned_rank_one_connectivity",
    "dale_connectivity",
    "gaussian_connectivity",
    "low_rank_connectivity",
    "rescale_connectivity",
    "shuffle_connectivity",
    "truncate_rank",
]

Norm = Literal["fro", "spec"]


def _check_rank(rank, width: int, what: str = "width") -> None:
    """Validate a concrete rank (Python/NumPy int or concrete array); tracers are left alone."""
    if isinstance(rank, jax.core.Tracer):
        return
    if isinstance(rank, bool):
        raise TypeError(f"`rank` must be an integer, got {rank!r}.")
    arr = np.asarray(rank)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"`rank` must be an integer, got {rank!r} of dtype {arr.dtype}.")
    if np.any(arr < 1) or np.any(arr > width):
        raise ValueError(f"`rank` must satisfy 1 <= rank <= {what} = {width}, got {rank!r}.")


def _check_matrix(name: str, w) -> None:
    _checks.check_square(name, w)
    _checks.check_finite(name, w)


def _matrix_norm(w: jax.Array, norm: Norm) -> jax.Array:
    if norm == "fro":
        return jnp.sqrt(jnp.sum(w * w))
    return jnp.linalg.norm(w, ord=2)


def gaussian_connectivity(key: jax.Array, width: int, *, gain=1.25, dtype=jnp.float32) -> jax.Array:
    r"""Gaussian recurrent weights :math:`W_0 = g\,Z/\sqrt{N}`, :math:`Z_{ij} \sim \mathcal N(0, 1)`.

    Args:
      key: typed PRNG key.
      width: number of units N (static).
      gain: g (may be traced). ``||W_0||_F -> g sqrt(N)`` and ``||W_0||_2 -> 2 g`` as N grows.
      dtype: floating dtype of the result.

    Returns:
      ``(N, N)`` matrix acting on column vectors, ``W[i, j]`` the weight from unit j to unit i.

    Raises:
      TypeError: if ``key`` is not a typed key or ``width`` not an integer.
      ValueError: if ``width < 1``.
    """
    _checks.check_key("key", key)
    _checks.check_int("width", width, minimum=1)
    return gain * jr.normal(key, (width, width), dtype) / jnp.sqrt(jnp.asarray(width, dtype))


def truncate_rank(w: jax.Array, rank, *, norm: Norm = "fro") -> jax.Array:
    r"""Rank-r truncated SVD of ``w`` rescaled to the norm of ``w``.

    .. math::
        W = U S V^\top,\qquad W_r = c\, U\,\mathrm{diag}(S \odot 1[k < r])\,V^\top,\qquad
        c = \|W\| / \|U\,\mathrm{diag}(S \odot 1[k<r])\,V^\top\|

    with the Frobenius norm (``norm="fro"``, the paper's code) or the spectral norm (``norm="spec"``; the
    leading singular value is kept, so ``c = 1``). The singular values are masked rather than sliced, so
    ``rank`` may be a traced integer (vmap over ranks).

    Args:
      w: matrix ``(M, N)`` (square for recurrent weights; any 2-D shape is accepted).
      rank: number of kept singular values, ``1 <= rank <= min(M, N)``; Python int or int array (traced
        allowed).
      norm: ``"fro"`` or ``"spec"``.

    Returns:
      Matrix of the shape of ``w``, of rank exactly ``rank`` (for ``w`` of full rank) and the same ``norm``.

    Raises:
      ValueError: if ``w`` is not 2-D or has non-finite entries, ``rank`` is outside ``[1, min(M, N)]`` or ``norm``
        is unknown.
      TypeError: if ``rank`` is not an integer.
    """
    _checks.check_ndim("w", w, 2)
    _checks.check_finite("w", w)
    _checks.check_choice("norm", norm, ("fro", "spec"))
    width = min(w.shape)
    _check_rank(rank, width, "min(w.shape)")
    u, s, vt = jnp.linalg.svd(w, full_matrices=False)
    keep = jnp.arange(width) < rank
    s_r = jnp.where(keep, s, jnp.zeros_like(s))
    if norm == "fro":
        scale = jnp.sqrt(jnp.sum(s * s) / jnp.sum(s_r * s_r))
    else:
        scale = jnp.ones((), w.dtype)
    return (u * (scale * s_r)) @ vt


def low_rank_connectivity(
    key: jax.Array, width: int, rank, *, gain=1.25, norm: Norm = "fro", dtype=jnp.float32
) -> jax.Array:
    """Rank-r truncation of one Gaussian draw ``g Z / sqrt(N)``, matched in norm to that draw.

    ``low_rank_connectivity(key, N, r)`` equals ``truncate_rank(gaussian_connectivity(key, N), r)``; with the
    same key, all ranks share the singular vectors of one draw, as in the paper's code.

    Args:
      key: typed PRNG key.
      width: N (static).
      rank: ``1 <= rank <= N``, may be traced.
      gain: g (may be traced).
      norm: ``"fro"`` (paper's code) or ``"spec"``.
      dtype: floating dtype.

    Returns:
      ``(N, N)`` matrix.

    Raises:
      ValueError, TypeError: as :func:`gaussian_connectivity` and :func:`truncate_rank`.
    """
    _checks.check_int("width", width, minimum=1)
    _check_rank(rank, width)
    _checks.check_choice("norm", norm, ("fro", "spec"))
    return truncate_rank(gaussian_connectivity(key, width, gain=gain, dtype=dtype), rank, norm=norm)


def rescale_connectivity(w: jax.Array, *, target_norm, norm: Norm = "fro") -> jax.Array:
    """A user-supplied connectivity (e.g. from connectome data) rescaled to ``target_norm``.

    ``W' = W * target_norm / ||W||`` in the Frobenius (``"fro"``) or spectral (``"spec"``) norm.

    Args:
      w: square ``(N, N)`` matrix, finite, not all zero.
      target_norm: desired norm (may be traced); e.g. ``gain * sqrt(N)`` to match a Gaussian draw in Frobenius
        norm.
      norm: ``"fro"`` or ``"spec"``.

    Returns:
      ``(N, N)`` matrix with the requested norm.

    Raises:
      ValueError: if ``w`` is not square, has non-finite entries or is zero, or ``target_norm <= 0``.
    """
    _check_matrix("w", w)
    _checks.check_choice("norm", norm, ("fro", "spec"))
    _checks.check_positive("target_norm", target_norm)
    if not isinstance(w, jax.core.Tracer) and not np.any(np.asarray(w)):
        raise ValueError("`w` must not be the zero matrix (it cannot be rescaled).")
    w = jnp.asarray(w)
    return w * (target_norm / _matrix_norm(w, norm))


def aligned_rank_one_connectivity(
    direction: jax.Array, *, target_norm, norm: Norm = "fro"
) -> jax.Array:
    r"""Rank-1 connectivity aligned with a task direction: the leading singular pair of ``direction``.

    .. math:: W = c\, u_1 v_1^\top,\qquad \mathrm{direction} = \sum_k s_k u_k v_k^\top,\qquad \|W\| = c

    (a rank-1 matrix has equal Frobenius and spectral norm). ``direction`` carries the task
    structure, e.g. :math:`u\hat\beta^\top` in the two-layer linear network of the paper's
    Proposition 1, or the weight change ``W_h^{(f)} - W_h^{(0)}`` of a pilot RNN. For the RNN the
    latter is *not* lazy when trained (its kernel alignment stays low and its weight change exceeds
    the random rank-1 init's), because the pilot's weight change is useful only together with the
    pilot's full-rank bulk; the ``lowrank-rnn`` figure uses
    :func:`lazyrich.dynamics.rnn.fit_rank_one_connectivity` instead.

    Args:
      direction: square ``(N, N)`` matrix, finite.
      target_norm: norm of the result (may be traced).
      norm: unused for the value (both norms agree for rank 1); validated for symmetry with the other inits.

    Returns:
      ``(N, N)`` rank-1 matrix.

    Raises:
      ValueError: for a non-square or non-finite ``direction`` or ``target_norm <= 0``.
    """
    _check_matrix("direction", direction)
    _checks.check_choice("norm", norm, ("fro", "spec"))
    _checks.check_positive("target_norm", target_norm)
    u, _, vt = jnp.linalg.svd(direction, full_matrices=False)
    return target_norm * jnp.outer(u[:, 0], vt[0])


def dale_connectivity(
    key: jax.Array,
    width: int,
    *,
    excitatory_fraction=0.8,
    gain=1.25,
    balanced: bool = True,
    dtype=jnp.float32,
) -> jax.Array:
    r"""Dale's-law connectivity: each presynaptic unit (column) is excitatory (+) or inhibitory (-).

    The first ``round(f_E N)`` columns are excitatory. Magnitudes are :math:`|Z_{ij}|`; with ``balanced=True``
    inhibitory columns are scaled by :math:`f_E/(1-f_E)` so that every row has zero expected input
    (E/I balance). The matrix is finally rescaled to Frobenius norm :math:`g\sqrt N`, the expected norm of
    :func:`gaussian_connectivity` with the same gain.

    Args:
      key: typed PRNG key.
      width: N (static).
      excitatory_fraction: f_E in (0, 1) (Python float, static: it sets the block sizes).
      gain: g (may be traced).
      balanced: scale inhibition to balance excitation.
      dtype: floating dtype.

    Returns:
      ``(N, N)`` matrix with ``W[:, j] >= 0`` for excitatory j and ``<= 0`` for inhibitory j.

    Raises:
      ValueError: if ``excitatory_fraction`` is not in (0, 1) or leaves a block empty.
    """
    _checks.check_key("key", key)
    _checks.check_int("width", width, minimum=2)
    if not 0.0 < float(excitatory_fraction) < 1.0:
        raise ValueError(f"`excitatory_fraction` must lie in (0, 1), got {excitatory_fraction!r}.")
    num_e = int(round(float(excitatory_fraction) * width))
    if not 1 <= num_e <= width - 1:
        raise ValueError(
            f"`excitatory_fraction` = {excitatory_fraction} gives {num_e} excitatory units out of {width}; "
            "both populations must be non-empty."
        )
    magnitude = jnp.abs(jr.normal(key, (width, width), dtype))
    f_e = num_e / width
    inhibitory_scale = f_e / (1.0 - f_e) if balanced else 1.0
    sign = jnp.where(jnp.arange(width) < num_e, 1.0, -inhibitory_scale).astype(dtype)
    w = magnitude * sign[None, :]
    return w * (gain * jnp.sqrt(jnp.asarray(width, dtype)) / jnp.sqrt(jnp.sum(w * w)))


def shuffle_connectivity(key: jax.Array, w: jax.Array) -> jax.Array:
    """Shuffle control: the entries of ``w`` randomly permuted (same norm and entry distribution, high rank).

    Args:
      key: typed PRNG key.
      w: square ``(N, N)`` matrix.

    Returns:
      ``(N, N)`` matrix.

    Raises:
      ValueError: for a non-square or non-finite ``w``.
    """
    _checks.check_key("key", key)
    _check_matrix("w", w)
    w = jnp.asarray(w)
    return jr.permutation(key, w.reshape(-1)).reshape(w.shape)
