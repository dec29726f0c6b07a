"""The perceptron and grokking experiments: configs, the sweep protocol (`TRACED`, `point`), reproduction runs."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import sims
from lazyrich.sims.experiments import kumar2024_grokking as grok
from lazyrich.sims.experiments import kumar2024_grokking_phase as phase
from lazyrich.sims.experiments import sclocchi2023_perceptron as perc


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(chi=(-1.0,)), "`chi`"),
        (dict(alpha=0.0), "`alpha`"),
        (dict(temperature=-1.0), "`temperature`"),
        (dict(temperatures=(0.1, -1.0)), "`temperatures`"),
        (dict(batch_size=300), "`batch_size`"),
        (dict(num_seeds=0), "`num_seeds`"),
    ],
)
def test_perceptron_config_rejects_bad_input(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(perc.default_config(quick=True), **change)


def test_perceptron_sweep_protocol_64_points():
    # The sweeps helper's smoke sweep: 4 seeds x 4 alphas x 4 temperatures in one vmapped program. (alpha T >= 1:
    # deep in the gradient-descent plateau, alpha T << 1, the number of effective steps grows like 1/(alpha T).)
    config = dataclasses.replace(
        perc.default_config(quick=True), chi=(1.0,), num_train=(64,), input_dim=8
    )
    assert set(perc.TRACED) == {"temperature", "alpha"}
    temps, alphas, seeds = np.meshgrid(
        [0.1, 0.3, 1.0, 3.0], [10.0, 100.0, 1e3, 1e4], np.arange(4), indexing="ij"
    )
    traced = {"temperature": jnp.asarray(temps.ravel()), "alpha": jnp.asarray(alphas.ravel())}
    keys = jax.vmap(jax.random.key)(jnp.asarray(seeds.ravel()))
    out = jax.jit(jax.vmap(lambda tr, k: perc.point(config, tr, k)))(traced, keys)
    for name in ("weight_norm", "time", "w1", "w_perp_norm", "status"):
        assert out[name].shape == (64,)
    assert out["status"].dtype == jnp.int32 and np.all(np.asarray(out["status"]) == 0)
    # Fitted: the signal beats the noise direction and t* = T B steps.
    assert np.all(np.asarray(out["w1"]) > 0)
    np.testing.assert_allclose(out["time"], traced["temperature"] * 2 * out["steps"], rtol=1e-6)
    capped = perc.point(
        dataclasses.replace(config, max_steps=2),
        {"temperature": jnp.asarray(1.0)},
        jax.random.key(0),
    )
    assert int(capped["status"]) == 1


def test_grokking_configs_reject_bad_input():
    with pytest.raises(ValueError, match="`alpha`"):
        dataclasses.replace(grok.default_config(quick=True), alpha=0.0)
    with pytest.raises(ValueError, match="`method`"):
        dataclasses.replace(grok.default_config(quick=True), method="dmft")
    with pytest.raises(ValueError, match="`alphas`"):
        dataclasses.replace(phase.default_config(quick=True), alphas=(1.0, -1.0))
    with pytest.raises(ValueError, match="`learning_rate0`"):
        dataclasses.replace(phase.default_config(quick=True), learning_rate0=0.0)


def test_grokking_phase_point_protocol():
    config = dataclasses.replace(
        phase.default_config(quick=True),
        input_dim=8,
        num_train=44,
        width=6,
        num_test=40,
        num_steps=200,
        num_saves=20,
        learning_rate0=2.0,
    )
    assert set(phase.TRACED) == {"alpha", "epsilon"}
    traced = {"alpha": jnp.array([0.5, 1.0, 2.0]), "epsilon": jnp.array([0.2, 0.2, 0.2])}
    out = jax.jit(jax.vmap(lambda tr: phase.point(config, tr, jax.random.key(0))))(traced)
    num_saves = len(
        grok.save_grid(config.num_steps, config.num_saves)
    )  # distinct log-spaced steps, <= 20
    assert out["train_loss"].shape == (3, num_saves) and out["status"].dtype == jnp.int32
    assert np.all(np.asarray(out["status"]) == 0)
    # Same data for every grid point (common random numbers): the initial losses coincide.
    np.testing.assert_allclose(out["test_loss"][:, 0], out["test_loss"][0, 0], rtol=1e-6)
    # A GD step far past the stability limit (2 eta0 lambda_max / P > 2) diverges into a status, not an exception.
    wild = phase.point(
        dataclasses.replace(config, learning_rate0=1e4),
        {"alpha": jnp.asarray(1.0)},
        jax.random.key(0),
    )
    assert int(wild["status"]) == 2


@pytest.mark.slow
def test_grokking_quick_run_groks():
    # Kumar et al. Fig. 1 (qualitative): the train loss falls first, the test loss falls later by an order of magnitude,
    # and the weight norm grows.
    s = sims.run(grok, grok.default_config(quick=True), seed=0).summary
    assert s["t_train"] < s["t_test"] and s["grokking_time"] > 0
    assert s["final_test_loss"] < 0.1 * s["initial_test_loss"]
    assert s["weight_norm_final"] > s["weight_norm_initial"]
    assert s["alignment_final"] > s["alignment_initial"]


@pytest.mark.slow
def test_grokking_phase_quick_grows_with_alpha():
    s = sims.run(phase, phase.default_config(quick=True), seed=0).summary
    assert s["spearman_alpha"] > 0.5
