"""Rank-controlled, Dale and user-supplied connectivity initialisations; effective-rank functionals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import dynamics

N = 24


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm", ["fro", "spec"])
def test_low_rank_has_exact_rank_and_norm(getkey, dtype, norm):
    with jax.enable_x64(dtype == "float64"):
        key = getkey()
        w_gauss = dynamics.rnn.gaussian_connectivity(key, N, gain=1.5, dtype=jnp.dtype(dtype))
        ranks = jnp.arange(1, N + 1)
        ws = jax.jit(
            jax.vmap(
                lambda r: dynamics.rnn.low_rank_connectivity(
                    key, N, r, gain=1.5, norm=norm, dtype=jnp.dtype(dtype)
                )
            )
        )(ranks)
        assert ws.dtype == jnp.dtype(dtype)
        s = np.linalg.svd(np.asarray(ws, np.float64), compute_uv=False)  # (N ranks, N)
        # Rank = number of singular values above the dtype's SVD noise floor (eps * sigma_max * N).
        tol = np.finfo(dtype).eps * s[:, :1] * N * 10
        np.testing.assert_array_equal((s > tol).sum(axis=1), np.asarray(ranks))
        if norm == "fro":
            target, got = np.linalg.norm(np.asarray(w_gauss)), np.sqrt((s**2).sum(axis=1))
        else:
            target, got = np.linalg.norm(np.asarray(w_gauss, np.float64), 2), s[:, 0]
        rtol = 1e-4 if dtype == "float32" else 1e-10  # a few float32 ulps through an SVD
        np.testing.assert_allclose(got, target, rtol=rtol)


def test_gaussian_norms_match_asymptotics(getkey):
    w = dynamics.rnn.gaussian_connectivity(getkey(), 300, gain=1.25)
    # ||W||_F^2 / (g^2 N) is a chi^2 mean with relative sd sqrt(2/N^2) ~ 0.5%; ||W||_2 -> 2g up to O(N^-2/3).
    assert abs(float(jnp.linalg.norm(w)) / (1.25 * np.sqrt(300)) - 1) < 0.02
    assert abs(float(jnp.linalg.norm(w, 2)) / 2.5 - 1) < 0.05


def test_rank_functionals_closed_forms():
    eye = jnp.eye(N)
    for method in ("roy_vetterli", "participation_ratio", "stable"):
        np.testing.assert_allclose(dynamics.rnn.connectivity_rank(eye, method=method), N, rtol=1e-5)
    np.testing.assert_allclose(dynamics.rnn.eigenvalue_ratio_rank(eye), 1.0, rtol=1e-6)
    u = jnp.arange(1.0, N + 1) / N
    v = jnp.cos(jnp.arange(N, dtype=jnp.float32))
    one = jnp.outer(u, v)
    for method in ("roy_vetterli", "participation_ratio", "stable"):
        np.testing.assert_allclose(
            dynamics.rnn.connectivity_rank(one, method=method), 1.0, rtol=1e-4
        )
    np.testing.assert_allclose(dynamics.rnn.eigenvalue_ratio_rank(one), 1.0 / N, rtol=1e-3)
    d = jnp.diag(jnp.asarray([1.0, 2.0, 3.0, 4.0]))
    p = np.array([1, 2, 3, 4]) / 10
    np.testing.assert_allclose(
        dynamics.rnn.connectivity_rank(d), np.exp(-(p * np.log(p)).sum()), rtol=1e-5
    )
    np.testing.assert_allclose(
        dynamics.rnn.connectivity_rank(d, method="participation_ratio"), 30**2 / 354, rtol=1e-5
    )
    np.testing.assert_allclose(
        dynamics.rnn.connectivity_rank(d, method="stable"), 30 / 16, rtol=1e-5
    )
    np.testing.assert_allclose(dynamics.rnn.eigenvalue_ratio_rank(d), 10 / 16, rtol=1e-5)


def test_dale_signs_balance_and_norm(getkey):
    w = np.asarray(
        dynamics.rnn.dale_connectivity(getkey(), 200, excitatory_fraction=0.8, gain=1.25)
    )
    assert np.all(w[:, :160] >= 0) and np.all(w[:, 160:] <= 0)
    np.testing.assert_allclose(np.linalg.norm(w), 1.25 * np.sqrt(200), rtol=1e-5)
    # E/I balance: the expected row sum is 0; each row sum is a sum of 200 terms of sd ~ 1.25/sqrt(200)*0.6.
    row_mean = w.sum(axis=1).mean()
    assert abs(row_mean) < 0.1, row_mean


def test_rescale_aligned_and_shuffle(getkey):
    w = jax.random.normal(getkey(), (N, N))
    np.testing.assert_allclose(
        jnp.linalg.norm(dynamics.rnn.rescale_connectivity(w, target_norm=3.0)), 3.0, rtol=1e-5
    )
    np.testing.assert_allclose(
        jnp.linalg.norm(dynamics.rnn.rescale_connectivity(w, target_norm=3.0, norm="spec"), 2),
        3.0,
        rtol=1e-4,
    )
    a = dynamics.rnn.aligned_rank_one_connectivity(w, target_norm=2.0)
    u, s, vt = np.linalg.svd(np.asarray(w))
    np.testing.assert_allclose(np.asarray(a), 2.0 * np.outer(u[:, 0], vt[0]), atol=1e-5)
    sh = dynamics.rnn.shuffle_connectivity(getkey(), w)
    np.testing.assert_allclose(np.sort(np.asarray(sh).ravel()), np.sort(np.asarray(w).ravel()))


def test_bad_input(getkey):
    key = getkey()
    with pytest.raises(ValueError, match="`rank`"):
        dynamics.rnn.low_rank_connectivity(key, N, 0)
    with pytest.raises(ValueError, match="`rank`"):
        dynamics.rnn.low_rank_connectivity(key, N, N + 1)
    with pytest.raises(TypeError, match="`rank`"):
        dynamics.rnn.low_rank_connectivity(key, N, 2.5)
    with pytest.raises(ValueError, match="`norm`"):
        dynamics.rnn.low_rank_connectivity(key, N, 2, norm="nuclear")
    with pytest.raises(ValueError, match="`w` must be a square"):
        dynamics.rnn.rescale_connectivity(jnp.ones((3, 4)), target_norm=1.0)
    with pytest.raises(ValueError, match="`w` must be finite"):
        dynamics.rnn.rescale_connectivity(jnp.full((3, 3), jnp.nan), target_norm=1.0)
    with pytest.raises(ValueError, match="`w` must not be the zero"):
        dynamics.rnn.rescale_connectivity(jnp.zeros((3, 3)), target_norm=1.0)
    with pytest.raises(ValueError, match="`target_norm`"):
        dynamics.rnn.rescale_connectivity(jnp.eye(3), target_norm=-1.0)
    with pytest.raises(ValueError, match="`w_h` must have shape"):
        dynamics.rnn.init_rnn_params(key, input_dim=3, width=N, output_dim=3, w_h=jnp.eye(N + 1))
    with pytest.raises(ValueError, match="`w_h` must be finite"):
        dynamics.rnn.init_rnn_params(
            key, input_dim=3, width=2, output_dim=3, w_h=jnp.array([[1.0, jnp.inf], [0, 1]])
        )
    with pytest.raises(ValueError, match="`excitatory_fraction`"):
        dynamics.rnn.dale_connectivity(key, N, excitatory_fraction=1.0)
    with pytest.raises(TypeError, match="`key`"):
        dynamics.rnn.gaussian_connectivity(0, N)
