"""Two-layer linear network: expected NTK alignment against the participation ratio of the initial weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import theory


def test_closed_form_values_and_monotonicity():
    # Closed-form values (d = 20): full 0.9587 at PR = 1; readout sqrt(PR)/d.
    np.testing.assert_allclose(
        theory.linear_rank_alignment(1.0, 20, kernel="full"), 0.9587, atol=1e-4
    )
    np.testing.assert_allclose(
        theory.linear_rank_alignment(13.46, 20, kernel="full"), 0.9786, atol=1e-4
    )
    np.testing.assert_allclose(theory.linear_rank_alignment(4.0, 20), 0.1, rtol=1e-6)
    pr = jnp.linspace(1.0, 20.0, 50)
    for kernel in ("readout", "full"):
        assert np.all(np.diff(np.asarray(theory.linear_rank_alignment(pr, 20, kernel=kernel))) > 0)


@pytest.mark.parametrize("kernel", ["readout", "full"])
def test_expectation_matches_monte_carlo_over_teachers(x64, kernel):
    d, h, num = 12, 16, 20000
    key = jax.random.key(0)
    k_w, k_v, k_t = jax.random.split(key, 3)
    u, _, vt = jnp.linalg.svd(jax.random.normal(k_w, (h, d)), full_matrices=False)
    s = jnp.asarray([3.0, 2.0, 1.0, 0.5] + [0.0] * (d - 4))
    w0 = 1e-3 * (u * s) @ vt / jnp.linalg.norm(s)
    v0 = 1e-3 * jax.random.normal(k_v, (h,))
    v0 = 1e-3 * v0 / jnp.linalg.norm(v0)
    teachers = jax.random.normal(k_t, (num, d))
    a = jax.vmap(lambda b: theory.linear_rank_alignment_endpoint(w0, v0, b, kernel=kernel))(
        teachers
    )
    pr = jnp.sum(s**2) ** 2 / jnp.sum(s**4)
    expected = theory.linear_rank_alignment(pr, d, kernel=kernel)
    # Monte-Carlo standard error sd/sqrt(num); allow 4 standard errors.
    se = float(jnp.std(a) / np.sqrt(num))
    assert abs(float(a.mean() - expected)) < 4 * se + 1e-12


def test_kernel_matrix_and_bad_input():
    w = jnp.arange(6.0).reshape(2, 3)
    v = jnp.asarray([1.0, 2.0])
    np.testing.assert_allclose(theory.linear_kernel_matrix(w, v), w.T @ w)
    np.testing.assert_allclose(
        theory.linear_kernel_matrix(w, v, kernel="full"), w.T @ w + 5.0 * jnp.eye(3)
    )
    with pytest.raises(ValueError, match="`participation_ratio`"):
        theory.linear_rank_alignment(30.0, 20)
    with pytest.raises(ValueError, match="`kernel`"):
        theory.linear_rank_alignment(2.0, 20, kernel="ntk")
    with pytest.raises(ValueError, match="`w_out`"):
        theory.linear_kernel_matrix(w, jnp.ones(3))
    with pytest.raises(ValueError, match="`teacher`"):
        theory.linear_rank_alignment_endpoint(w, v, jnp.ones(4))
