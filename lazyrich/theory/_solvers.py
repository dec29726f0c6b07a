r"""Linear solves with kernel matrices: preconditioned conjugate gradients, pivoted Cholesky.

:func:`cg_solve` solves :math:`(K + s I) X = B` for a symmetric positive semi-definite :math:`K`
(a dense matrix here; :mod:`lazyrich.theory._solvers_tiles` supplies matrix-free and sharded
operators to the same solver) and a block of right-hand sides :math:`B` (one column per output),
with a pivoted-Cholesky preconditioner.

Conventions:

* ``diag_reg`` is neural-tangents' relative scale, :math:`s = \text{diag\_reg}\cdot
  \operatorname{tr}(K)/n`.
* The stopping rule is on the *true* relative residual of every column,
  :math:`\|b_j - (K + sI)x_j\| / \|b_j\| \le \text{tol}`: when the recursively updated residual
  reaches ``tol``, the residual is recomputed from :math:`x` (one extra product) and CG restarts
  from it if the recomputed one has not (residual replacement, at most ``max_restarts`` times). So
  ``Status.OK`` is never reported for an answer whose residual exceeds ``tol``.
* ``Status.NOT_CONVERGED`` is returned when the iteration cap is reached, when the best residual
  has not improved for ``patience`` iterations (stagnation, typical of a kernel whose condition
  number exceeds 1/precision), after ``max_restarts`` residual replacements, or on non-positive
  curvature :math:`p^\top (K + sI) p \le 0` (an indefinite matrix).
* Accumulation: the iterates, residuals and inner products are kept in float64 when JAX's 64-bit
  mode is on (``jax.enable_x64``), whatever the kernel's dtype; each product :math:`K p` is computed
  from blocks of the kernel converted to float64 (``blocked_matmul``: the extra memory is one block,
  not a float64 copy of the matrix). A float32 kernel therefore only contributes its own rounding (relative :math:`\sim 10^{-7}` per
  entry), not float32 round-off of the recurrences, which would stall CG near :math:`10^{-4}` on
  kernels with condition number :math:`\gtrsim 10^{3}`. Without 64-bit mode everything is float32.

Preconditioner (``preconditioner="pivoted_cholesky"``): a rank-``r`` pivoted Cholesky factor
:math:`L` (greedy on the largest residual diagonal; Harbrecht, Peters, Schneider 2012) and the
diagonal of the remainder, :math:`P = L L^\top + D`, :math:`D = \operatorname{diag}(K - LL^\top)
+ s` (floored at :math:`10^{-10}` of the mean diagonal), applied by the Woodbury identity
:math:`P^{-1} = D^{-1} - D^{-1} L (I + L^\top D^{-1} L)^{-1} L^\top D^{-1}` (Gardner et al. 2018).
It costs ``r`` kernel rows and :math:`O(n r^2)` once, :math:`O(n r)` per iteration.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import check_choice, check_finite, check_int, check_ndim
from lazyrich._status import Status
from lazyrich.theory._predict_checks import check_kernel_matrix

PRECONDITIONERS = ("pivoted_cholesky", None)


class SolveInfo(NamedTuple):
    """Diagnostics of a linear solve.

    Attributes:
      status: ``Status.OK`` (0) or ``Status.NOT_CONVERGED`` (3), an ``int32`` scalar.
      iterations: number of CG iterations (0 for a dense solve).
      residual: final true relative residual of each right-hand side, shape ``(m,)``.
      residual_history: the largest relative (recursive) residual over the columns after each
        iteration, shape ``(max_iter + 1,)``, entry 0 at the start; NaN after the solver stopped.
    """

    status: jax.Array
    iterations: jax.Array
    residual: jax.Array
    residual_history: jax.Array


class Operator(NamedTuple):
    """A symmetric kernel operator for CG: products, its diagonal and single rows.

    ``matvec(v)`` maps ``(n, m)`` to ``(n, m)`` in the accumulation dtype; ``diag()`` gives
    ``(n,)``; ``row(i)`` gives ``K[i, :]`` as ``(n,)``. All three are traceable.
    """

    matvec: Callable[[jax.Array], jax.Array]
    diag: Callable[[], jax.Array]
    row: Callable[[jax.Array], jax.Array]
    size: int


def accumulation_dtype(dtype: Any) -> Any:
    """float64 when JAX's 64-bit mode is on, else the kernel's own dtype."""
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.dtype(dtype)


def blocked_matmul(k: jax.Array, v: jax.Array, acc: Any, block: int = 512) -> jax.Array:
    """``k @ v`` in dtype ``acc``; a lower-precision ``k`` is converted ``block`` rows at a time.

    The conversion of the whole matrix would double (float32 to float64) its memory; blocks keep
    the extra memory at ``block x n``. Rows are visited in blocks starting at ``min(i b, r - b)``,
    so the last block overlaps the previous one instead of needing padding.
    """
    v = v.astype(acc)
    if k.dtype == acc:
        return jnp.matmul(k, v)
    rows = k.shape[0]
    b = min(block, rows)

    def body(i, out):
        start = jnp.minimum(i * b, rows - b)
        blk = jax.lax.dynamic_slice_in_dim(k, start, b, 0).astype(acc)
        return jax.lax.dynamic_update_slice_in_dim(out, blk @ v, start, 0)

    return jax.lax.fori_loop(0, -(-rows // b), body, jnp.zeros((rows, v.shape[1]), acc))


def dense_operator(k: jax.Array, acc_dtype: Any) -> Operator:
    """Operator of a dense matrix."""
    return Operator(
        matvec=lambda v: blocked_matmul(k, v, acc_dtype),
        diag=lambda: jnp.diagonal(k).astype(acc_dtype),
        row=lambda i: jax.lax.dynamic_index_in_dim(k, i, 0, keepdims=False).astype(acc_dtype),
        size=k.shape[0],
    )


def pivoted_cholesky(op: Operator, rank: int) -> tuple[jax.Array, jax.Array]:
    """Rank-``rank`` greedy pivoted Cholesky of ``op``: ``(L (n, rank), residual diagonal (n,))``.

    Each step takes the largest remaining diagonal entry as pivot; a pivot below ``1e-14`` of the
    largest diagonal gives a zero column (the matrix is exhausted).
    """
    d0 = op.diag()
    n = d0.shape[0]
    floor = 1e-14 * jnp.max(d0)

    def step(k, carry):
        lmat, d = carry
        i = jnp.argmax(d)
        piv = d[i]
        ok = piv > floor
        row = op.row(i) - lmat @ lmat[i]
        col = jnp.where(ok, row / jnp.sqrt(jnp.where(ok, piv, 1.0)), 0.0)
        lmat = lmat.at[:, k].set(col)
        return lmat, jnp.maximum(d - col * col, 0.0)

    return jax.lax.fori_loop(0, rank, step, (jnp.zeros((n, rank), d0.dtype), d0))


def _woodbury(lmat: jax.Array, dvec: jax.Array) -> Callable[[jax.Array], jax.Array]:
    """v -> (L L^T + diag(d))^{-1} v."""
    dinv = 1.0 / dvec
    inner = jnp.eye(lmat.shape[1], dtype=lmat.dtype) + (lmat.T * dinv) @ lmat
    chol = jnp.linalg.cholesky(inner)

    def apply(v):
        w = dinv[:, None] * v
        u = jax.scipy.linalg.cho_solve((chol, True), lmat.T @ w)
        return w - dinv[:, None] * (lmat @ u)

    return apply


def make_preconditioner(op: Operator, shift: jax.Array, rank: int):
    if rank == 0:
        return lambda v: v
    lmat, resid = pivoted_cholesky(op, rank)
    floor = 1e-10 * jnp.mean(op.diag())
    return _woodbury(lmat, jnp.maximum(resid + shift, floor))


class _State(NamedTuple):
    x: jax.Array
    r: jax.Array
    p: jax.Array
    rz: jax.Array
    k: jax.Array
    best: jax.Array
    since_best: jax.Array
    restarts: jax.Array
    converged: jax.Array
    breakdown: jax.Array
    history: jax.Array


def conjugate_gradients(
    op: Operator,
    b: jax.Array,
    shift: jax.Array,
    *,
    tol: jax.Array,
    max_iter: int,
    rank: int,
    patience: int,
    max_restarts: int = 3,
) -> tuple[jax.Array, SolveInfo]:
    """Preconditioned block CG on ``(op + shift I) X = b``; traceable (call inside ``jax.jit``)."""
    acc = b.dtype
    shift = jnp.asarray(shift, acc)

    def amul(v):
        return op.matvec(v) + shift * v

    precond = make_preconditioner(op, shift, rank)
    bnorm = jnp.linalg.norm(b, axis=0)
    bsafe = jnp.where(bnorm > 0, bnorm, 1.0)

    def rel(r):
        return jnp.linalg.norm(r, axis=0) / bsafe

    x0 = jnp.zeros_like(b)
    r0 = b
    z0 = precond(r0)
    res0 = rel(r0)
    history = jnp.full((max_iter + 1,), jnp.nan, acc).at[0].set(jnp.max(res0))
    state = _State(
        x=x0,
        r=r0,
        p=z0,
        rz=jnp.sum(r0 * z0, axis=0),
        k=jnp.asarray(0, jnp.int32),
        best=jnp.max(res0),
        since_best=jnp.asarray(0, jnp.int32),
        restarts=jnp.asarray(0, jnp.int32),
        converged=jnp.all(res0 <= tol),
        breakdown=jnp.asarray(False),
        history=history,
    )

    def cond(s):
        return (
            ~s.converged
            & ~s.breakdown
            & (s.k < max_iter)
            & (s.since_best < patience)
            & (s.restarts <= max_restarts)
        )

    def body(s):
        active = rel(s.r) > tol
        ap = amul(s.p)
        pap = jnp.sum(s.p * ap, axis=0)
        good = pap > 0
        breakdown = jnp.any(active & ~good) | ~jnp.all(jnp.isfinite(pap))
        alpha = jnp.where(active & good, s.rz / jnp.where(good, pap, 1.0), 0.0)
        x = s.x + alpha * s.p
        r = s.r - alpha * ap
        res = rel(r)

        def replace(_):
            rt = b - amul(x)
            return rt, jnp.all(rel(rt) <= tol), jnp.asarray(True)

        def keep(_):
            return r, jnp.asarray(False), jnp.asarray(False)

        r, converged, restarted = jax.lax.cond(jnp.all(res <= tol), replace, keep, None)
        res = rel(r)
        z = precond(r)
        rz = jnp.sum(r * z, axis=0)
        beta = jnp.where(restarted, 0.0, rz / jnp.where(s.rz != 0, s.rz, 1.0))
        p = z + beta * s.p
        worst = jnp.max(res)
        improved = worst < s.best
        k = s.k + 1
        return _State(
            x=x,
            r=r,
            p=p,
            rz=rz,
            k=k,
            best=jnp.minimum(worst, s.best),
            since_best=jnp.where(improved, 0, s.since_best + 1),
            restarts=s.restarts + (restarted & ~converged).astype(jnp.int32),
            converged=converged,
            breakdown=breakdown,
            history=s.history.at[k].set(worst),
        )

    s = jax.lax.while_loop(cond, body, state)
    final = rel(b - amul(s.x))
    ok = jnp.all(final <= tol) & jnp.all(jnp.isfinite(s.x))
    status = jnp.where(ok, int(Status.OK), int(Status.NOT_CONVERGED)).astype(jnp.int32)
    return s.x, SolveInfo(status, s.k, final, s.history)


def relative_shift(diag: jax.Array, diag_reg: Any) -> jax.Array:
    """neural-tangents' relative regulariser: ``diag_reg * mean(diag K)``."""
    return diag_reg * jnp.mean(diag)


@functools.partial(jax.jit, static_argnames=("max_iter", "rank", "patience"))
def _cg_dense(k, b, diag_reg, tol, *, max_iter, rank, patience):
    acc = b.dtype
    op = dense_operator(k, acc)
    shift = relative_shift(op.diag(), jnp.asarray(diag_reg, acc))
    return conjugate_gradients(
        op, b, shift, tol=tol, max_iter=max_iter, rank=rank, patience=patience
    )


def default_tol(acc_dtype: Any) -> float:
    """Default relative residual tolerance: 1e-10 in float64 accumulation, 1e-5 in float32."""
    return 1e-10 if jnp.dtype(acc_dtype) == jnp.float64 else 1e-5


def check_solver_options(tol, max_iter, rank, patience, preconditioner, n):
    """Validate CG options; returns ``(max_iter, rank, patience)`` with defaults filled in."""
    check_choice("preconditioner", preconditioner, PRECONDITIONERS)
    if tol is not None:
        check_ndim("tol", tol, 0)
        check_finite("tol", tol)
        if not isinstance(tol, jax.core.Tracer) and not tol > 0:
            raise ValueError(f"`tol` must be > 0, got {tol!r}.")
    max_iter = max(10 * n, 100) if max_iter is None else max_iter
    check_int("max_iter", max_iter, minimum=1)
    rank = min(n, 100) if rank is None else rank
    check_int("rank", rank, minimum=0, maximum=n)
    if preconditioner is None:
        rank = 0
    patience = max(50, n // 10) if patience is None else patience
    check_int("patience", patience, minimum=1)
    return int(max_iter), int(rank), int(patience)


def cg_solve(
    k: jax.Array,
    b: jax.Array,
    *,
    diag_reg: float | jax.Array = 0.0,
    tol: float | None = None,
    max_iter: int | None = None,
    preconditioner: str | None = "pivoted_cholesky",
    rank: int | None = None,
    patience: int | None = None,
    validate: bool = True,
) -> tuple[jax.Array, SolveInfo]:
    r"""Solve :math:`(K + s I) X = B` by preconditioned conjugate gradients.

    :math:`s = \text{diag\_reg}\cdot\operatorname{tr}(K)/n` (neural-tangents' relative scale). The
    columns of ``b`` are solved together (one product with :math:`K` per iteration serves all of
    them), each with its own step sizes. See the module documentation for the stopping rule, the
    status and the float64 accumulation.

    Args:
      k: symmetric PSD kernel, shape ``(n, n)``; may be sharded over devices by rows.
      b: right-hand sides, shape ``(n,)`` or ``(n, m)``.
      diag_reg: relative diagonal regulariser (>= 0).
      tol: relative residual tolerance per column (default 1e-10 with float64 accumulation, 1e-5
        in float32).
      max_iter: iteration cap (default ``max(10 n, 100)``).
      preconditioner: ``"pivoted_cholesky"`` or ``None``.
      rank: rank of the pivoted-Cholesky preconditioner (default ``min(n, 100)``).
      patience: stop as stagnated after this many iterations without a new best residual
        (default ``max(50, n // 10)``).
      validate: check that ``k`` is symmetric PSD (see :mod:`lazyrich.theory._predict_checks`).

    Returns:
      ``(x, info)``: ``x`` of the shape of ``b`` in the accumulation dtype, and :class:`SolveInfo`.

    Raises:
      ValueError: on a non-square, non-finite, non-symmetric or indefinite ``k``, a ``b`` with the
        wrong number of rows or non-finite entries, ``diag_reg < 0``, bad options.

    Example:
      >>> import jax.numpy as jnp
      >>> x, info = cg_solve(jnp.array([[2.0, 1.0], [1.0, 2.0]]), jnp.array([3.0, 3.0]))
      >>> print(x, int(info.status))
      [1. 1.] 0
    """
    check_kernel_matrix("k", k, validate=validate)
    check_ndim("b", b, (1, 2))
    check_finite("b", b)
    n = np.shape(k)[0]
    if np.shape(b)[0] != n:
        raise ValueError(f"`b` must have {n} rows (one per row of `k`), got shape {np.shape(b)}.")
    check_ndim("diag_reg", diag_reg, 0)
    check_finite("diag_reg", diag_reg)
    if not isinstance(diag_reg, jax.core.Tracer) and diag_reg < 0:
        raise ValueError(f"`diag_reg` must be >= 0, got {diag_reg!r}.")
    max_iter, rank, patience = check_solver_options(
        tol, max_iter, rank, patience, preconditioner, n
    )
    k = jnp.asarray(k)
    acc = accumulation_dtype(k.dtype)
    tol = default_tol(acc) if tol is None else tol
    b2 = jnp.asarray(b, acc).reshape(n, -1)
    x, info = _cg_dense(
        k, b2, diag_reg, jnp.asarray(tol, acc), max_iter=max_iter, rank=rank, patience=patience
    )
    return x.reshape(np.shape(b)), info
