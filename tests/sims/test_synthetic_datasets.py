"""The perceptron's depleted-sign data and the quadratic-teacher task."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from lazyrich import theory
from lazyrich.sims import datasets


@pytest.mark.parametrize("chi", [0.0, 3.0, 2.5])
def test_depleted_sign_marginal_density(chi):
    x, y = datasets.depleted_sign(jax.random.key(3), num_points=20_000, input_dim=3, chi=chi)
    x = np.asarray(x, float)
    # |x1| has CDF P(|x1| <= r) = P(G <= r^2/2) = gammainc((chi+1)/2, r^2/2). KS critical value at level 1e-3
    # for n = 20000 samples: 1.95 / sqrt(n) = 0.0138.
    cdf = lambda r: special.gammainc((chi + 1) / 2, r**2 / 2)  # noqa: E731
    assert stats.kstest(np.abs(x[:, 0]), cdf).statistic < 1.95 / np.sqrt(x.shape[0])
    # The same law through the documented density: a histogram agrees with theory.depleted_sign_density.
    hist, edges = np.histogram(x[:, 0], bins=40, range=(-4, 4))
    centres = (edges[1:] + edges[:-1]) / 2
    expected = np.asarray(theory.depleted_sign_density(jnp.asarray(centres), chi=chi)) * (
        edges[1] - edges[0]
    )
    expected *= x.shape[0]
    # Poisson counts: |hist - expected| < 5 sqrt(expected) + 3 (bin-curvature bias ~ h^2 rho'' is below 1 %).
    assert np.all(np.abs(hist - expected) < 5 * np.sqrt(expected) + 3 + 0.01 * expected)
    # Symmetric signs, labels = sign(x1), other coordinates standard normal and independent of x1.
    np.testing.assert_array_equal(np.asarray(y), np.sign(x[:, 0]))
    assert abs(np.mean(y)) < 4 / np.sqrt(x.shape[0])
    assert np.abs(x[:, 1:].mean()) < 4 / np.sqrt(x[:, 1:].size)
    assert np.abs(x[:, 1:].var() - 1) < 6 * np.sqrt(2 / x[:, 1:].size)
    assert abs(np.corrcoef(np.abs(x[:, 0]), np.abs(x[:, 1]))[0, 1]) < 4 / np.sqrt(x.shape[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtypes_and_shapes(dtype):
    with jax.enable_x64(dtype == "float64"):
        x, y = datasets.depleted_sign(jax.random.key(0), num_points=7, input_dim=5, chi=1.0)
        assert x.shape == (7, 5) and y.shape == (7,)
        assert x.dtype == jnp.dtype(dtype) and y.dtype == jnp.dtype(dtype)
        teacher = jnp.ones(4, dtype)
        xq, yq = datasets.gaussian_quadratic(jax.random.key(1), num_points=6, teacher=teacher)
        assert xq.shape == (6, 4) and yq.shape == (6,) and xq.dtype == jnp.dtype(dtype)
        np.testing.assert_allclose(yq, 0.5 * (xq @ teacher) ** 2, rtol=1e-6)


def test_gaussian_quadratic_scaling():
    # x ~ N(0, I/D): E|x|^2 = 1; y = (beta.x)^2/2 has mean |beta|^2/(2D).
    teacher = jnp.arange(1.0, 11.0)
    x, y = datasets.gaussian_quadratic(jax.random.key(2), num_points=40_000, teacher=teacher)
    assert float(jnp.mean(jnp.sum(x**2, axis=1))) == pytest.approx(1.0, rel=0.01)
    # Relative MC error of the mean of a scaled chi^2_1: sqrt(2 / n) = 0.007; allow 4 sigma.
    assert float(jnp.mean(y)) == pytest.approx(float(jnp.sum(teacher**2)) / 20, rel=0.03)


@pytest.mark.parametrize("chi", [-1.0, -3.0, float("inf")])
def test_bad_chi(chi):
    with pytest.raises(ValueError, match="`chi`"):
        datasets.depleted_sign(jax.random.key(0), num_points=4, input_dim=2, chi=chi)


def test_bad_sizes_and_key():
    with pytest.raises(ValueError, match="`num_points`"):
        datasets.depleted_sign(jax.random.key(0), num_points=0, input_dim=2, chi=0.0)
    with pytest.raises(TypeError, match="`key`"):
        datasets.depleted_sign(0, num_points=3, input_dim=2, chi=0.0)
    with pytest.raises(ValueError, match="`teacher`"):
        datasets.gaussian_quadratic(jax.random.key(0), num_points=3, teacher=jnp.ones((2, 2)))
