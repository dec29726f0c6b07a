"""Smoke tests of the SGD-noise figures on settings smaller than quick (the real quick runs are `slow`)."""

import json

import numpy as np
import pytest

import lazyrich.figures

TINY = {
    "sgd-phase-diagram": dict(
        num_train="64",
        num_test="128",
        width="16",
        depth="2",
        alphas="0.25,4,64",
        temperatures="0.001,0.01",
        max_steps="512",
        check_every="16",
    ),
    "sgd-temperature-scaling": dict(
        num_trains="32,64",
        num_test="128",
        width="16",
        depth="2",
        num_seeds="2",
        temperatures="0.001,0.004,0.016",
        max_steps="1024",
        num_bootstrap="20",
        num_train="32",
    ),
    "alpha-crossover": dict(
        num_train="32",
        num_test="64",
        widths="16",
        depth="2",
        alphas="1,8,64,512",
        num_seeds="1",
        num_steps="50",
        ntk_size="8",
    ),
}
KEYS = {
    "sgd-phase-diagram": ("t_c_lazy", "alpha_star", "best_test_error", "fraction_fitted"),
    "sgd-temperature-scaling": (
        "delta_fit",
        "gamma_fit",
        "a_fit",
        "delta_interval",
        "gamma_interval",
        "a_interval",
        "gamma_over_delta",
    ),
    "alpha-crossover": ("kernel_change_slope", "prediction_difference_slope"),
}


def _make(name, tmp_path, overrides):
    plan = lazyrich.figures.prepare(name, quick=True, overrides=overrides)
    paths = lazyrich.figures.make(plan, tmp_path, progress=False)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    return json.loads(paths["json"].read_text())["summary"]


@pytest.mark.parametrize("name", sorted(TINY))
def test_figure_smoke(name, tmp_path):
    summary = _make(name, tmp_path, TINY[name])
    for key in KEYS[name]:
        assert key in summary, key
    if name == "alpha-crossover":
        # Lazy limit: the kernel change falls roughly as 1/alpha (short training, width 16: loose band).
        assert -1.6 < summary["kernel_change_slope"] < -0.6
    if name == "sgd-temperature-scaling":
        assert np.isfinite(summary["delta_fit"]) and summary["delta_fit"] > 0


def test_figure_rejects_bad_settings():
    with pytest.raises(ValueError, match="`temperatures`"):
        lazyrich.figures.prepare(
            "sgd-phase-diagram", quick=True, overrides={"temperatures": "-1,0.1"}
        )
    with pytest.raises(ValueError, match="`alphas`"):
        lazyrich.figures.prepare("sgd-phase-diagram", quick=True, overrides={"alphas": "0,1"})
    with pytest.raises(ValueError, match="`batch_size`"):
        lazyrich.figures.prepare("sgd-phase-diagram", quick=True, overrides={"batch_size": "1000"})
    with pytest.raises(ValueError, match="`data_dir`"):
        lazyrich.figures.prepare("sgd-phase-diagram", quick=True, overrides={"data": "mnist"})


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_figure_quick(name, tmp_path):
    summary = _make(name, tmp_path, {})
    for key in KEYS[name]:
        assert key in summary
