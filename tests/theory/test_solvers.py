"""Preconditioned conjugate gradients: agreement with dense solves, status, residual history."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import theory
from lazyrich._status import Status
from lazyrich.theory import _solvers


def _problem(n, key=0, d=10):
    x = jax.random.normal(jax.random.key(key), (n, d), jnp.float64)
    k = theory.mlp_kernels(x, depth=3, bias_std=0.1).ntk
    b = jax.random.normal(jax.random.key(key + 1), (n, 3), jnp.float64)
    return k, b


def _agrees_with_dense(n, diag_reg):
    k, b = _problem(n)
    x, info = theory.cg_solve(k, b, diag_reg=diag_reg, tol=1e-12)
    kr = k + diag_reg * jnp.trace(k) / n * jnp.eye(n)
    ref = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(kr), b)
    assert int(info.status) == Status.OK
    # Relative error <= cond(K_r) x relative residual (1e-12), cond(K_r) <= 1 + n / diag_reg.
    err = float(jnp.max(jnp.abs(x - ref)) / jnp.max(jnp.abs(ref)))
    assert err < 1e-6, err
    hist = np.asarray(info.residual_history)
    k_iter = int(info.iterations)
    assert np.all(np.isfinite(hist[: k_iter + 1])) and np.all(np.isnan(hist[k_iter + 1 :]))
    assert hist[0] == pytest.approx(1.0) and hist[k_iter] <= 1e-12
    assert np.all(np.asarray(info.residual) <= 1e-12)
    return info


def test_cg_agrees_with_dense_small(x64):
    info = _agrees_with_dense(600, 1e-4)
    assert 0 < int(info.iterations) < 600


@pytest.mark.slow
def test_cg_agrees_with_dense_at_5000(x64):
    _agrees_with_dense(5000, 1e-4)


def test_block_right_hand_sides_equal_separate_solves(x64):
    k, b = _problem(200, key=3)
    x, info = theory.cg_solve(k, b, diag_reg=1e-3, tol=1e-12)
    assert info.residual.shape == (3,)
    for j in range(3):
        xj, _ = theory.cg_solve(k, b[:, j], diag_reg=1e-3, tol=1e-12)
        assert xj.shape == (200,)
        # Each column solved to residual 1e-12: they agree to cond(K_r) x 1e-12 (cond < 1e5 here).
        np.testing.assert_allclose(x[:, j], xj, rtol=1e-7, atol=1e-9)


def test_preconditioner_cuts_iterations(x64):
    k, b = _problem(400, key=5)
    _, with_p = theory.cg_solve(k, b, diag_reg=1e-5, rank=50)
    _, without = theory.cg_solve(k, b, diag_reg=1e-5, preconditioner=None)
    assert int(with_p.status) == int(without.status) == Status.OK
    assert int(with_p.iterations) < int(without.iterations) / 2


def test_pivoted_cholesky_recovers_a_low_rank_kernel(x64):
    x = jax.random.normal(jax.random.key(7), (50, 4), jnp.float64)
    k = x @ x.T
    op = _solvers.dense_operator(k, jnp.float64)
    lmat, resid = _solvers.pivoted_cholesky(op, 6)
    np.testing.assert_allclose(lmat @ lmat.T, k, atol=1e-10)
    assert float(jnp.max(resid)) < 1e-10
    assert float(jnp.max(jnp.abs(lmat[:, 4:]))) == 0.0  # exhausted after rank 4: zero columns


def test_ill_conditioned_kernel_is_not_converged(x64):
    # An erf kernel on 200 close 1-D points: condition number ~1e19 > 1/eps, no regulariser.
    x = jnp.linspace(-1, 1, 200)[:, None]
    k = theory.mlp_kernels(x, depth=1, activation="erf", bias_std=1.0).nngp
    y = jnp.sin(3 * x[:, 0]) + jnp.cos(17 * x[:, 0])
    for pre in ("pivoted_cholesky", None):
        sol, info = theory.cg_solve(k, y, tol=1e-10, preconditioner=pre, validate=False)
        assert int(info.status) == Status.NOT_CONVERGED
        assert float(info.residual[0]) > 1e-10  # the reported residual says so
        assert int(info.iterations) < 2000  # stopped by stagnation, before the cap
    # The same kernel, regularised, converges.
    _, info = theory.cg_solve(k, y, tol=1e-10, diag_reg=1e-3, validate=False)
    assert int(info.status) == Status.OK


def test_singular_inconsistent_system_is_not_converged(x64):
    # A rank-5 kernel on 30 points and targets outside its range: no solution without a ridge.
    feats = jax.random.normal(jax.random.key(9), (30, 5), jnp.float64)
    k = feats @ feats.T
    y = jax.random.normal(jax.random.key(10), (30,), jnp.float64)
    for pre in ("pivoted_cholesky", None):
        _, info = theory.cg_solve(k, y, tol=1e-8, max_iter=300, preconditioner=pre)
        assert int(info.status) == Status.NOT_CONVERGED
        assert float(info.residual[0]) > 0.1  # the part of y outside the range stays


def test_indefinite_matrix_without_validation_is_not_converged(x64):
    bad = jnp.array([[1.0, 2.0], [2.0, 1.0]])
    _, info = theory.cg_solve(bad, jnp.array([1.0, -1.0]), validate=False, preconditioner=None)
    assert int(info.status) == Status.NOT_CONVERGED


def test_float32_default(getkey):
    x = jax.random.normal(getkey(), (100, 5))
    k = theory.mlp_kernels(x, depth=2, bias_std=0.1).nngp
    b = jax.random.normal(getkey(), (100,))
    sol, info = theory.cg_solve(k, b, diag_reg=1e-2)
    assert sol.dtype == jnp.float32 and int(info.status) == Status.OK
    assert float(info.residual[0]) <= 1e-4
    # Asking float32 for more than its round-off allows (~1e-7 x cond) is reported, not hidden.
    _, info = theory.cg_solve(k, b, diag_reg=1e-2, tol=1e-7)
    assert int(info.status) == Status.NOT_CONVERGED and float(info.residual[0]) > 1e-7


def test_bad_options():
    k = jnp.eye(3)
    with pytest.raises(ValueError, match="`b` must have 3 rows"):
        theory.cg_solve(k, jnp.ones(4))
    with pytest.raises(ValueError, match="`diag_reg` must be >= 0"):
        theory.cg_solve(k, jnp.ones(3), diag_reg=-0.1)
    with pytest.raises(ValueError, match="`preconditioner` must be one of"):
        theory.cg_solve(k, jnp.ones(3), preconditioner="jacobi")
    with pytest.raises(ValueError, match="`rank` must be <= 3"):
        theory.cg_solve(k, jnp.ones(3), rank=4)
    with pytest.raises(ValueError, match="`b` must be finite"):
        theory.cg_solve(k, jnp.array([1.0, jnp.nan, 0.0]))
    with pytest.raises(ValueError, match="`tol` must be > 0"):
        theory.cg_solve(k, jnp.ones(3), tol=-1.0)
