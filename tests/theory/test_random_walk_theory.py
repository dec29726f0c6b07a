"""Ultra-slow diffusion prediction: exponent 2/alpha, scaling form, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import theory


def test_diffusion_exponent_values():
    assert float(theory.diffusion_exponent(1.0)) == 2.0  # Sinai: ||w_t - w_0|| ~ (log t)^2
    assert float(theory.diffusion_exponent(2.0)) == 1.0  # Hoffer et al.: ~ log t
    np.testing.assert_allclose(theory.diffusion_exponent(jnp.array([0.5, 1.5])), [4.0, 4 / 3])
    assert float(jax.jit(theory.diffusion_exponent)(1.0)) == 2.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ultraslow_distance_scaling_form(dtype):
    with jax.enable_x64(dtype == "float64"):
        t = jnp.asarray([1.0, 10.0, 1e4], dtype)
        r = theory.ultraslow_distance(t, roughness=1.0, temperature=0.5, amplitude=4.0, tau0=1.0)
        assert r.dtype == jnp.dtype(dtype)
        expected = (0.5 * np.log([1.0, 10.0, 1e4]) / 2.0) ** 2
        np.testing.assert_allclose(r, expected, rtol=1e-5)
        # Doubling log t multiplies the distance by 2^(2/alpha).
        r2 = theory.ultraslow_distance(jnp.asarray([1e3, 1e6], dtype), roughness=2.0 / 3.0)
        np.testing.assert_allclose(r2[1] / r2[0], 2.0**3, rtol=1e-4)


@pytest.mark.parametrize("bad", [0.0, -1.0, 2.5, float("nan")])
def test_bad_roughness(bad):
    with pytest.raises(ValueError, match="roughness"):
        theory.diffusion_exponent(bad)
    with pytest.raises(ValueError, match="roughness"):
        theory.ultraslow_distance(10.0, roughness=bad)
