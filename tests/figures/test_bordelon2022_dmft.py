"""Smoke tests of the dmft-vs-width and dmft-richness figures (tiny overrides of the quick settings)."""

import json

import numpy as np
import pytest

import lazyrich.figures


@pytest.mark.slow  # ~55 s on 2 cores; dmft-richness keeps a default smoke test
def test_dmft_vs_width_figure(tmp_path):
    plan = lazyrich.figures.prepare(
        "dmft-vs-width",
        quick=True,
        overrides=dict(
            widths="50,200",
            num_repeats=2,
            num_times=5,
            num_samples=2000,
            deep_widths="50,200",
            deep_num_times=4,
            deep_num_samples=64,
            deep_response_samples=16,
            deep_depth=2,
        ),
    )
    paths = lazyrich.figures.make(plan, tmp_path, progress=False)
    assert all(p.exists() for p in paths.values())
    summary = json.loads(paths["json"].read_text())["summary"]
    for key in ("error_slope", "static_limit_error", "deep_error_slope", "deep_status"):
        assert key in summary
    assert summary["static_limit_error"] < 1e-3
    assert summary["error_slope"] < 0


def test_dmft_richness_quick_command_finishes(tmp_path):
    """`lazyrich figures make dmft-richness --quick` as a user runs it, in a fresh process (~20 s on 2 cores).

    Regression test: the quick run once vmapped the gamma0 grid into one program, which wedged XLA's CPU
    runtime on a 2-core machine (no progress in 300 s). `run` now calls one compiled point per gamma0, and the
    command line turns off the scheduler that wedged (lazyrich/_xla_flags.py).
    """
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "lazyrich", "figures", "make", "dmft-richness", "--quick"]
    done = subprocess.run(
        cmd + ["--quiet", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok", record["status"]
    final = record["summary"]["final_loss"]["full"]
    gammas = sorted(final, key=float)
    assert final[gammas[-1]] < final[gammas[0]]  # richer training learns faster


@pytest.mark.slow  # same point/summarise path as the default sweep test below
def test_dmft_richness_figure(tmp_path):
    plan = lazyrich.figures.prepare(
        "dmft-richness",
        quick=True,
        overrides=dict(gamma0s="0.5,2", num_times=7, net_width=100, depth=2),
    )
    paths = lazyrich.figures.make(plan, tmp_path, progress=False)
    summary = json.loads(paths["json"].read_text())["summary"]
    assert set(summary["final_loss"]) == {"full", "gia", "static", "network"}
    assert set(summary["final_loss"]["full"]) == {"0.5", "2"}
    # richer training learns faster: final loss decreases with gamma0 in the full DMFT
    assert summary["final_loss"]["full"]["2"] < summary["final_loss"]["full"]["0.5"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dmft-vs-width", "dmft-richness"])
def test_quick_figures(tmp_path, name):
    paths = lazyrich.figures.make(
        lazyrich.figures.prepare(name, quick=True), tmp_path, progress=False
    )
    assert paths["png"].exists()


def _sweep_from_example(name, base, axes):
    """The example sweep file ``examples/sweeps/<name>.toml`` with tiny ``base`` overrides and ``axes``."""
    import pathlib
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[2]
    spec = tomllib.loads((root / "examples" / "sweeps" / f"{name}.toml").read_text())
    assert set(axes) <= set(spec["axes"])
    return {**spec, "base": {**spec.get("base", {}), **base}, "axes": axes}


def test_dmft_richness_figure_from_a_sweep(tmp_path):
    """`sweep run examples/sweeps/dmft_richness.toml` then `figures make dmft-richness --from` (tiny)."""
    from lazyrich import sims
    from lazyrich.sims.experiments import bordelon2022_dmft_richness as experiment

    spec = _sweep_from_example(
        "dmft_richness",
        dict(num_train=4, num_test=1, input_dim=6, depth=2, num_times=5, net_width=40),
        {"gamma0": [0.5, 2.0], "seed": [0, 1]},
    )
    ds = sims.run_sweep(spec, tmp_path / "sweep", progress=False)
    assert ds.status.shape == (2, 2) and np.all(ds.status.values == 0)
    result = sims.load_figure_result(tmp_path / "sweep", experiment)
    assert result.arrays["loss_full"].shape == (2, 5)
    paths = lazyrich.figures.make(
        lazyrich.figures.prepare("dmft-richness"), tmp_path / "fig", progress=False, result=result
    )
    summary = json.loads(paths["json"].read_text())["summary"]
    assert set(summary["final_loss"]) == {"full", "gia", "static", "network"}
    assert set(summary["final_loss"]["full"]) == {"0.5", "2"}
    assert summary["statuses"] == {"full": ["converged"] * 2, "gia": ["converged"] * 2}
    # the seed-averaged curves are the mean of the per-seed point outputs
    np.testing.assert_allclose(
        result.arrays["loss_full"], ds.loss_full.mean("seed").values, rtol=1e-6
    )
    assert summary["final_loss"]["full"]["2"] < summary["final_loss"]["full"]["0.5"]
