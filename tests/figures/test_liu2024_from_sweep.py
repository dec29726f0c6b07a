"""`figures make lowrank-theory / lowrank-rnn --from DIR`: the example sweeps, tiny, rebuilt into figure Results."""

import json
import pathlib

import numpy as np
import pytest

import lazyrich.figures as figures
from lazyrich import sims
from lazyrich.sims.experiments import liu2024_rank_sweep as rank_sweep

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _spec(name, base, axes):
    spec = sims.load_sweep(ROOT / "examples" / "sweeps" / name).to_dict()
    spec["base"] = dict(spec["base"], **base)
    spec["axes"] = axes
    return spec


def test_lowrank_theory_from_example_sweep(tmp_path):
    spec = _spec(
        "rnn_linear_theory.toml",
        dict(input_dim=4, hidden_dim=6, ranks=[1, 2, 4], num_teachers=8, num_steps=600),
        {"init_scale": [0.001, 0.01], "learning_rate": [0.1], "seed": [0, 1]},
    )
    out = tmp_path / "sweep"
    sims.run_sweep(spec, out, progress=False)
    result = sims.load_figure_result(out, "liu2024_linear_theory")
    # The base config's init_scale (the quick default, 1e-3) is selected, and the seeds' teachers pooled.
    assert (
        result.config.init_scale == 0.001 and result.metadata["sweep_point"]["init_scale"] == 0.001
    )
    assert result.arrays["alignment_readout"].shape == (3, 16)
    plan = figures.prepare("lowrank-theory", quick=True)
    paths = figures.make(plan, tmp_path / "fig", progress=False, result=result)
    summary = json.loads(paths["json"].read_text())["summary"]
    for kernel in ("readout", "full"):
        assert set(summary[kernel]) >= {"simulated_mean", "theory", "max_abs_z", "aligned_mean"}
        assert len(summary[kernel]["simulated_mean"]) == 3
    assert summary["readout"]["aligned_mean"] > 0.99


def _fake_rank_sweep_dataset(config, seeds, gains):
    """A dataset laid out as `load_results` lays out a sweep of `point` (dims: axes, then output dims)."""
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(0)
    t, r = len(config.tasks), len(config.ranks)
    grid = (len(gains), len(seeds))
    names = ["gain", "seed"]

    def var(name, *shape):
        return (names + [f"{name}_dim{i}" for i in range(len(shape))], rng.random(grid + shape))

    data = {
        m: var(m, t, r)
        for m in (
            "weight_change",
            "kernel_alignment",
            "representation_alignment",
            "accuracy",
            "erank_roy_vetterli",
            "erank_participation_ratio",
        )
    }
    data["loss_curve"] = var("loss_curve", t, r, 2)
    for m in ("weight_change", "kernel_alignment", "representation_alignment", "accuracy"):
        data[f"aligned_{m}"] = var(f"aligned_{m}", t)
    data["status"] = (names, np.zeros(grid, np.int32))
    return xr.Dataset(data, coords={"gain": gains, "seed": seeds})


def test_lowrank_rnn_result_from_dataset(tmp_path):
    config = sims.apply_overrides(
        rank_sweep.default_config(quick=True), {"tasks": "2af,dms", "ranks": "1,8,64"}
    )
    ds = _fake_rank_sweep_dataset(config, seeds=[0, 1, 2], gains=[0.8, 1.25])
    result = rank_sweep.result_from_dataset(config, ds)
    assert result.metadata["sweep_point"] == {"gain": 1.25} and result.config.num_seeds == 3
    assert result.arrays["kernel_alignment"].shape == (2, 3, 3)  # (task, seed, rank)
    assert result.arrays["aligned_kernel_alignment"].shape == (2, 3)
    np.testing.assert_array_equal(
        result.arrays["kernel_alignment"][1, 2], ds.kernel_alignment.sel(gain=1.25).values[2, 1]
    )
    paths = figures.make(
        figures.prepare("lowrank-rnn", quick=True), tmp_path, progress=False, result=result
    )
    summary = json.loads(paths["json"].read_text())["summary"]
    for task in ("2af", "dms"):
        assert {"weight_change_spearman", "kernel_alignment_spearman"} <= set(summary[task])
        assert "aligned_rank1_kernel_alignment" in summary[task]


@pytest.mark.slow  # compiles the full point (all tasks, ranks and the aligned stage): ~1-2 min on 2 cores
def test_lowrank_rnn_from_example_sweep(tmp_path):
    tiny = dict(
        tasks=["dms"],
        width=8,
        ranks=[1, 8],
        num_steps=4,
        log_every=2,
        num_probe=4,
        num_kernel_trials=2,
        kernel_batch_size=1,
        aligned_fit_steps=2,
    )
    spec = _spec("rnn_rank.toml", tiny, {"gain": [1.25], "learning_rate": [0.01], "seed": [0, 1]})
    out = tmp_path / "sweep"
    sims.run_sweep(spec, out, progress=False)
    result = sims.load_figure_result(out, rank_sweep)
    assert result.arrays["kernel_alignment"].shape == (1, 2, 2)
    paths = figures.make(
        figures.prepare("lowrank-rnn", quick=True), tmp_path / "fig", progress=False, result=result
    )
    assert "kernel_alignment_spearman" in json.loads(paths["json"].read_text())["summary"]["dms"]
