"""Smoke test of the `perceptron-scaling` figure (smaller than --quick)."""

import json

import jax
import pytest

import lazyrich.figures as figures


def test_perceptron_scaling_figure(tmp_path):
    # Two chi values keep the number of compiled programs small; the default (0, 1, 3) is the same code path.
    overrides = dict(chi="1,3", num_train="16,32", input_dim=4, num_seeds=2, temperatures="0.1,1")
    plan = figures.prepare("perceptron-scaling", quick=True, overrides=overrides)
    paths = figures.make(plan, tmp_path, progress=False)
    for path in paths.values():
        assert path.exists() and path.stat().st_size > 0
    summary = json.loads(paths["json"].read_text())["summary"]
    for name in ("gamma_fit", "gamma_theory", "delta_fit"):
        assert set(summary[name]) == {"1", "3"}
    assert summary["gamma_theory"] == {"1": 0.5, "3": 0.25}
    # Common random numbers across T and a margin 1/alpha << T: delta = 1 up to margin effects.
    for value in summary["delta_fit"].values():
        assert abs(value - 1) < 0.05


def test_perceptron_scaling_chi_settings():
    assert figures.prepare("perceptron-scaling", quick=True).config.chi == (0.0, 1.0, 3.0)
    plan = figures.prepare("perceptron-scaling", quick=True, overrides={"chi": "3"})
    assert plan.config.chi == (3.0,)


@pytest.mark.slow
def test_perceptron_default_reproduction():
    """Sclocchi et al.'s perceptron exponents at the default setting (d = 64; about 6 CPU-minutes).

    Claim (Sclocchi et al. 2023, Sec. 5): ||w|| ~ T P^gamma with gamma = 1/(1+chi), delta = 1, t*
    proportional to T. The measured exponents and the finite-d correction (||w_perp|| still shrinking with
    P) are in docs/reproductions.md (perceptron-scaling).
    """
    from lazyrich.sims.experiments import sclocchi2023_perceptron as exp

    result = exp.run(exp.default_config(), key=jax.random.key(0))
    s = result.summary
    assert s["num_not_fitted"] == 0
    for chi in ("0", "1", "3"):
        # alpha T >= 3277 >> 1: the dynamics is homogeneous in T, so delta = 1 up to margin effects.
        assert abs(s["delta_fit"][chi] - 1) < 0.02
        assert abs(s["time_temperature_fit"][chi] - 1) < 0.05
        # The signal-to-noise ratio follows P^(1/(1+chi)) (5 standard errors ~ 0.1).
        assert abs(s["ratio_size_fit"][chi] - s["gamma_theory"][chi]) < 0.1
        # The check: ||w|| exponent within 0.1 of 1/(1+chi) (bias 0.04-0.08, seed error 0.01-0.02).
        assert abs(s["gamma_fit"][chi] - s["gamma_theory"][chi]) < 0.1
