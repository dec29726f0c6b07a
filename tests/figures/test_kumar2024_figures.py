"""Smoke tests of the `grokking` and `grokking-phase` figures (settings smaller than --quick)."""

import json

import numpy as np
import pytest

import lazyrich.figures as figures


def test_grokking_figure(tmp_path):
    overrides = dict(
        input_dim=12, num_train=60, width=16, num_test=60, epsilon=0.25, num_steps=300, num_saves=30
    )
    paths = figures.make(
        figures.prepare("grokking", quick=True, overrides=overrides), tmp_path, progress=False
    )
    for path in paths.values():
        assert path.exists() and path.stat().st_size > 0
    record = json.loads(paths["json"].read_text())
    summary = record["summary"]
    for key in (
        "grokking_time",
        "t_train",
        "t_test",
        "kernel_regression_test_mse",
        "weight_norm_final",
    ):
        assert key in summary
    assert summary["final_train_loss"] < summary["initial_test_loss"]


def test_grokking_phase_figure(tmp_path):
    overrides = dict(
        alphas="0.5,1,2",
        epsilons="0.2,0.4",
        input_dim=10,
        num_train=55,
        width=8,
        num_test=50,
        num_steps=400,
        num_saves=40,
        learning_rate0=2.0,
    )  # stable GD at this small P
    paths = figures.make(
        figures.prepare("grokking-phase", quick=True, overrides=overrides), tmp_path, progress=False
    )
    summary = json.loads(paths["json"].read_text())["summary"]
    grid = summary["grokking_time"]
    assert set(grid) == {"0.5", "1", "2"} and all(set(v) == {"0.2", "0.4"} for v in grid.values())
    assert all(isinstance(x, float) for v in grid.values() for x in v.values())
    # The summary's rank correlation is Spearman's over the finite cells of the grid (scipy as reference).
    from scipy import stats

    cells = [(float(a), v) for a, row in grid.items() for v in row.values() if np.isfinite(v)]
    if len(cells) >= 3 and len({v for _, v in cells}) > 1:
        ref = stats.spearmanr(*zip(*cells)).statistic
        assert summary["spearman_alpha"] == pytest.approx(ref, abs=1e-12)


def test_grokking_phase_figure_from_a_sweep(tmp_path):
    """`sweep run examples/sweeps/grokking.toml` (tiny overrides) then `figures make grokking-phase --from`."""
    import pathlib
    import tomllib

    from lazyrich import sims
    from lazyrich.sims.experiments import kumar2024_grokking_phase as experiment

    root = pathlib.Path(__file__).resolve().parents[2]
    spec = tomllib.loads((root / "examples" / "sweeps" / "grokking.toml").read_text())
    spec["base"] = dict(
        input_dim=10, num_train=55, width=8, num_test=50, num_steps=300, num_saves=30
    )
    spec["base"]["learning_rate0"] = 2.0  # stable GD at this small P
    spec["axes"] = {"alpha": [0.5, 2.0], "epsilon": [0.2, 0.4], "seed": [0, 1]}
    ds = sims.run_sweep(spec, tmp_path / "sweep", progress=False)
    result = sims.load_figure_result(tmp_path / "sweep", experiment)
    assert result.arrays["train_loss"].shape == (2, 2, ds.sizes["train_loss_dim0"])
    np.testing.assert_allclose(
        result.arrays["t_train"], ds.t_train.mean("seed").values, equal_nan=True
    )
    paths = figures.make(
        figures.prepare("grokking-phase", quick=True),
        tmp_path / "fig",
        progress=False,
        result=result,
    )
    summary = json.loads(paths["json"].read_text())["summary"]
    assert set(summary["grokking_time"]) == {"0.5", "2"}
    assert all(set(v) == {"0.2", "0.4"} for v in summary["grokking_time"].values())


@pytest.mark.slow  # the paper's Fig. 1 setting: ~25 min on 2 heavily loaded cores (measured 1,495 s)
def test_grokking_full_setting_groks(tmp_path):
    """Kumar et al. Fig. 1: with the train loss ~0 the test loss stays near the K0-regression level, then falls by >10x."""
    paths = figures.make(figures.prepare("grokking"), tmp_path, progress=False)
    summary = json.loads(paths["json"].read_text())["summary"]
    assert summary["grokking_time"] > 0 and summary["t_train"] < summary["t_test"]
    assert summary["final_test_loss"] < 0.1 * summary["kernel_regression_test_mse"]
    assert summary["weight_norm_final"] > summary["weight_norm_initial"]
