"""`figures make NAME --from DIR` on the example sweeps of the SGD/perceptron experiments (tiny overrides)."""

import dataclasses
import json
import pathlib

import numpy as np
import pytest

from lazyrich import _cli, sims

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "sweeps"

# (example file, figure, tiny axes, tiny base, summary keys the figure reports)
CASES = [
    (
        "sgd_phase_diagram.toml",
        "sgd-phase-diagram",
        {"alpha": [0.5, 2048.0], "temperature": [2.0**-10, 2.0**-4], "seed": [0, 1]},
        {"num_train": 32, "num_test": 32, "width": 8, "depth": 1, "max_steps": 32},
        ("t_c_lazy", "alpha_star", "best_test_error", "fraction_fitted"),
    ),
    pytest.param(
        "sgd_temperature_scaling.toml",
        "sgd-temperature-scaling",
        {"num_train": [32, 64], "temperature": [2.0**-10, 2.0**-4], "seed": [0, 1]},
        {"num_test": 32, "width": 8, "depth": 1, "max_steps": 32, "num_bootstrap": 4},
        ("delta_fit", "gamma_fit", "a_fit", "delta_interval", "gamma_interval", "a_interval"),
        marks=pytest.mark.slow,  # two compiled programs (one per P): ~25 s
    ),
    pytest.param(
        "alpha_crossover.toml",
        "alpha-crossover",
        {"width": [8], "alpha": [1.0, 64.0, 512.0], "seed": [0]},
        {"num_train": 16, "num_test": 16, "depth": 1, "num_steps": 8, "ntk_size": 4},
        ("kernel_change_slope", "prediction_difference_slope"),
        marks=pytest.mark.slow,  # the network and its linearisation, with NTK: ~20 s
    ),
    (
        "perceptron.toml",
        "perceptron-scaling",
        {"chi": [3.0], "num_train": [16], "temperature": [0.1, 1.0], "seed": [0, 1]},
        {"input_dim": 4},
        ("gamma_fit", "gamma_theory", "delta_fit"),
    ),
]


def _id(case):
    return case.values[1] if hasattr(case, "values") else case[1]


@pytest.mark.parametrize("example, figure, axes, base, keys", CASES, ids=[_id(c) for c in CASES])
def test_figure_from_example_sweep(tmp_path, capsys, example, figure, axes, base, keys):
    sweep = sims.load_sweep(EXAMPLES / example)
    assert set(axes) == set(sweep.axes)  # the tiny grid keeps the example's axes
    sweep = dataclasses.replace(sweep, axes=axes, base={**sweep.base, **base}, chunk_size=None)
    folder = tmp_path / "sweep"
    sims.run_sweep(sweep, folder, progress=False)
    argv = ["figures", "make", figure, "--from", str(folder), "--out", str(tmp_path), "--quiet"]
    assert _cli.main(argv) == 0
    record = json.loads((tmp_path / f"{figure}.json").read_text())
    for key in keys:
        assert key in record["summary"]
    assert (tmp_path / f"{figure}.png").stat().st_size > 0
    # The figure's result is the experiment's summary of exactly the swept grid.
    result = sims.load_figure_result(folder, sims.get_experiment(sweep.experiment))
    grid_shape = tuple(len(v) for v in axes.values())
    assert result.arrays["status"].shape == grid_shape
    if figure == "perceptron-scaling":
        assert result.config.chi == (3.0,) and result.config.num_train == (16,)
        assert result.summary["gamma_theory"] == {"3": 0.25}
        # T enters only through the kick size at alpha T >> 1: delta = 1 (common random numbers per seed).
        assert abs(result.summary["delta_fit"]["3"] - 1) < 0.05
    if figure == "sgd-phase-diagram":
        assert result.config.alphas == (0.5, 2048.0) and result.config.num_seeds == 2
        assert np.isfinite(result.summary["best_test_error"])
