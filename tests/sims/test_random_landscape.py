"""Random landscapes: structure function, free-diffusion control, reproducibility, ultra-slow exponents."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from lazyrich import sims, theory
from lazyrich.sims.experiments import hoffer2017_random_walk as rw


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 2.0])
def test_structure_function_empirical_matches_exact(alpha, getkey):
    size, num = 1024, 64
    fields = jax.vmap(lambda k: sims.random_potential(size=size, dim=1, roughness=alpha, key=k))(
        jr.split(getkey(), num)
    )
    lags = (1, 2, 4, 8, 16)
    emp = np.asarray(sims.empirical_structure_function(fields, lags))
    exact = sims.structure_function(lags, size=size, dim=1, roughness=alpha)
    # Each estimate averages num * size squared Gaussian increments; at lag r at least num * size / r of them
    # are roughly independent, so the relative sd is <= sqrt(2 r / (num size)) <= 2.2% at r = 16: 10% is > 4 sd.
    np.testing.assert_allclose(emp, exact, rtol=0.10)
    np.testing.assert_allclose(exact[0], 1.0, rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5])
def test_structure_function_is_a_power_law(alpha):
    lags = np.geomspace(8, 256, 12)
    d = sims.structure_function(lags, size=8192, dim=1, roughness=alpha)
    slope = np.polyfit(np.log(lags), np.log(d), 1)[0]
    # Exact sum, no noise: the deviation is the grid cutoff (missing |k| > pi, largest for small alpha:
    # slope 0.54 at alpha = 0.5) and the finite period (slope 1.45 at alpha = 1.5); 10% bounds both.
    assert abs(slope - alpha) < 0.10 * alpha, slope


def test_structure_function_alpha_two_is_marginal():
    """alpha = 2: D(r) = r^2 log(size / r) up to constants, a local slope just below 2."""
    lags = np.geomspace(4, 64, 8)
    d = sims.structure_function(lags, size=8192, dim=1, roughness=2.0)
    slope = np.polyfit(np.log(lags), np.log(d), 1)[0]
    assert 1.7 < slope < 2.0, slope


def test_structure_function_two_dimensions(getkey):
    fields = jax.vmap(lambda k: sims.random_potential(size=64, dim=2, roughness=1.0, key=k))(
        jr.split(getkey(), 32)
    )
    assert fields.shape == (32, 64, 64)
    emp = np.asarray(sims.empirical_structure_function(fields, (1, 4)))
    exact = sims.structure_function((1, 4), size=64, dim=2, roughness=1.0)
    np.testing.assert_allclose(emp, exact, rtol=0.10)  # 32 * 4096 increments per lag, as above


def test_free_diffusion_control(getkey):
    """U = 0: E ||w_t - w_0||^2 = 2 d eta T t exactly in expectation."""
    walkers, eta, temp, dim = 512, 0.3, 0.5, 2
    fields = jnp.zeros((walkers, 8, 8))
    d = sims.simulate_random_walk(
        fields, save_steps=(10, 100), learning_rate=eta, temperature=temp, key=getkey()
    )
    msd = np.mean(np.asarray(d) ** 2, axis=1)
    # ||w||^2 / (2 eta T t) is chi-square with d = 2 dof / 2: relative sd sqrt(2 / (d * 512)) = 4.4%; 20% > 4 sd.
    np.testing.assert_allclose(msd, 2 * dim * eta * temp * np.array([10, 100]), rtol=0.2)


def test_walk_reproducible_and_independent_of_save_grid(getkey):
    fields = jax.vmap(lambda k: sims.random_potential(size=256, dim=1, roughness=1.0, key=k))(
        jr.split(getkey(), 8)
    )
    key = getkey()
    a = sims.simulate_random_walk(
        fields, save_steps=(100,), learning_rate=0.5, temperature=1.0, key=key
    )
    b = sims.simulate_random_walk(
        fields, save_steps=(7, 50, 100), learning_rate=0.5, temperature=1.0, key=key
    )
    np.testing.assert_array_equal(a[-1], b[-1])


def test_bad_input(getkey):
    with pytest.raises(ValueError, match="roughness"):
        sims.random_potential(size=64, dim=1, roughness=0.0, key=getkey())
    with pytest.raises(ValueError, match="roughness"):
        sims.random_potential(size=64, dim=1, roughness=2.5, key=getkey())
    with pytest.raises(ValueError, match="save_steps"):
        sims.simulate_random_walk(
            jnp.zeros((2, 8)), save_steps=(5, 5), learning_rate=0.1, temperature=1.0, key=getkey()
        )
    with pytest.raises(ValueError, match="alpha"):
        rw.Config(alpha=(3.0,))


def _exponent(alpha, temperature, *, num_steps, start, walkers, size, getkey):
    config = rw.Config(
        alpha=(alpha,),
        temperature=(temperature,),
        size=size,
        num_walkers=walkers,
        num_steps=num_steps,
        fit_start=start,
        num_saves=50,
        mlp=False,
    )
    result = rw.run(config, key=getkey())
    return result.summary["diffusion_exponent_fit"][str(alpha)]


@pytest.mark.parametrize(("alpha", "temperature"), [(1.0, 0.5)])
def test_random_walk_exponent_fast(alpha, temperature, getkey):
    """Three decades (t in [1e2, 1e5]), 128 walkers: the exponent of log t within 15% of 2/alpha.

    alpha = 2 is only in the slow test: its walkers slide down long-wavelength slopes, the spread of
    distances across walkers is large and the fitted exponent needs >= 1024 walkers and a 16384 grid.
    """
    p = _exponent(
        alpha, temperature, num_steps=100_000, start=100, walkers=128, size=4096, getkey=getkey
    )
    predicted = float(theory.diffusion_exponent(alpha))
    assert abs(p - predicted) < 0.15 * predicted, (p, predicted)


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.5, 0.75, 1.0, 1.25, 1.75, 2.0])
def test_random_walk_exponent_four_decades(alpha, getkey):
    """Four decades (t in [1e2, 1e6]), 1024 walkers, the experiment's temperature rule (calibrated at
    alpha = 0.5, 1, 1.5, 2; 0.75, 1.25, 1.75 are between the nodes): exponent of log t within 15% of 2/alpha."""
    from lazyrich.sims.experiments import hoffer2017_random_walk as rw

    (temperature,) = rw.base_temperatures(rw.Config(alpha=(alpha,)))
    p = _exponent(
        alpha, temperature, num_steps=1_000_000, start=100, walkers=1024, size=16384, getkey=getkey
    )
    predicted = float(theory.diffusion_exponent(alpha))
    assert abs(p - predicted) < 0.15 * predicted, (p, predicted)
