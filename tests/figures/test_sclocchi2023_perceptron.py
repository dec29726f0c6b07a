"""Smoke test of the `perceptron-scaling` figure (smaller than --quick)."""

import json

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
