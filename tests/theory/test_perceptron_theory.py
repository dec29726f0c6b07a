"""Perceptron scaling predictions and the depleted-sign density (Sclocchi et al. 2023, Sec. 5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import theory


@pytest.mark.parametrize("chi, gamma, b", [(0.0, 1.0, 3.0), (1.0, 0.5, 2.0), (3.0, 0.25, 1.5)])
def test_exponents(chi, gamma, b):
    assert float(theory.perceptron_norm_exponent(chi)) == pytest.approx(gamma)
    assert float(theory.perceptron_temperature_exponent(chi)) == 1.0
    assert float(theory.perceptron_time_exponent(chi)) == pytest.approx(b)


def test_exponents_accept_arrays():
    chi = jnp.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(theory.perceptron_norm_exponent(chi), [1.0, 0.5, 0.25])
    assert theory.perceptron_temperature_exponent(chi).shape == (3,)


@pytest.mark.parametrize(
    "fn",
    [
        theory.perceptron_norm_exponent,
        theory.perceptron_temperature_exponent,
        theory.perceptron_time_exponent,
    ],
)
@pytest.mark.parametrize("chi", [-1.0, -2.0, float("nan")])
def test_bad_chi(fn, chi):
    with pytest.raises(ValueError, match="`chi`"):
        fn(chi)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("chi", [0.0, 1.0, 3.0])
def test_density_is_normalised(dtype, chi):
    with jax.enable_x64(dtype == "float64"):
        # Trapezoid on [-12, 12] with 20001 points: truncation error < e^-72, discretisation ~ h^2 < 1e-6.
        x = jnp.linspace(-12.0, 12.0, 20_001, dtype=dtype)
        rho = theory.depleted_sign_density(x, chi=chi)
        assert rho.dtype == jnp.dtype(dtype)
        rho = np.where(np.isfinite(np.asarray(rho, float)), np.asarray(rho, float), 0.0)
        total = np.trapezoid(rho, np.asarray(x, float))
        assert total == pytest.approx(1.0, abs=1e-5)


def test_density_chi0_is_standard_normal():
    x = jnp.linspace(-4.0, 4.0, 9)
    np.testing.assert_allclose(
        theory.depleted_sign_density(x, chi=0.0),
        np.exp(-(np.asarray(x) ** 2) / 2) / np.sqrt(2 * np.pi),
        rtol=1e-6,
    )


def test_density_negative_chi_formula():
    # -1 < chi < 0: integrable divergence at 0; check the closed form away from 0.
    chi = -0.5
    x = np.array([0.3, -1.0, 2.0])
    from math import gamma

    expected = (
        np.abs(x) ** chi * np.exp(-(x**2) / 2) / (2 ** ((chi + 1) / 2) * gamma((chi + 1) / 2))
    )
    np.testing.assert_allclose(
        theory.depleted_sign_density(jnp.asarray(x), chi=chi), expected, rtol=1e-5
    )
    assert np.isinf(float(theory.depleted_sign_density(jnp.asarray(0.0), chi=chi)))
