"""Running sweeps in one process: storage, resume, chunk-size invariance, divergence, status, figures."""

import json

import numpy as np
import pytest
import sweep_support as sup

from lazyrich import _cli, sims
from lazyrich.sims.experiments import toy_quadratic


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The TINY sweep computed in memory (chunk size 8) -- the uninterrupted reference."""
    path = sup.write(tmp_path_factory.mktemp("ref"))
    return sims.run_sweep(path, progress=False)


def test_dataset_has_one_labelled_dim_per_axis_and_matches_single_runs(reference):
    ds = reference
    assert list(ds.status.dims) == ["learning_rate", "temperature", "seed"]
    assert ds.loss.dims == ("learning_rate", "temperature", "seed", "loss_dim0")
    np.testing.assert_array_equal(ds.learning_rate.values, [0.1, 0.5, 1.0, 3.5])
    np.testing.assert_array_equal(ds.seed.values, [0, 1, 2, 3])
    assert ds.attrs["complete"] == 1 and ds.attrs["points_done"] == 32
    # A grid point equals the experiment's own `run` with the key fold_in(key(seed_base), seed).
    config = toy_quadratic.Config(num_steps=20, save_every=5, learning_rate=0.5, temperature=0.1)
    import jax

    single = toy_quadratic.run(config, key=jax.random.fold_in(jax.random.key(0), 3))
    np.testing.assert_allclose(
        ds.loss.sel(learning_rate=0.5, temperature=0.1, seed=3).values,
        single.arrays["loss"],
        rtol=1e-6,
    )


def test_diverged_points_are_stored_with_their_status_and_do_not_stop_the_sweep(reference):
    status = reference.status.values
    # lr = 3.5 > 2 / max(h) = 2 diverges at every temperature and seed; every other point is fine.
    assert np.all(status[3] == 2) and np.all(status[:3] == 0)
    assert np.all(np.isnan(reference.final_loss.values[3]))
    assert np.all(np.isfinite(reference.final_loss.values[:3]))


def test_stored_run_resumes_and_equals_the_reference_for_any_chunk_size(
    tmp_path, reference, capsys
):
    path = sup.write(tmp_path)
    out = tmp_path / "out"
    assert (
        _cli.main(["sweep", "run", str(path), "--out", str(out), "--quiet", "--chunk-size", "5"])
        == 0
    )
    assert "computed 7 chunks (32 points)" in capsys.readouterr().out
    sup.assert_same_results(sims.load_results(out), reference)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["experiment"] == "toy_quadratic" and manifest["layout"]["chunk_size"] == 5
    for key in ("lazyrich_version", "jax_version", "created"):
        assert key in manifest["provenance"]
    chunk_dir = out / "chunks"
    record = json.loads((chunk_dir / "g0000-c000001.json").read_text())
    assert (record["start"], record["stop"]) == (5, 10)
    with np.load(chunk_dir / "g0000-c000001.npz") as npz:  # each chunk carries its grid coordinates
        np.testing.assert_array_equal(npz["_index"], np.arange(5, 10))
        np.testing.assert_array_equal(npz["coord:seed"], np.arange(5, 10) % 4)
    # Resume: everything finished is skipped.
    assert _cli.main(["sweep", "run", str(path), "--out", str(out), "--quiet"]) == 0
    assert "computed 0 chunks (0 points)" in capsys.readouterr().out
    # Simulate an interruption: one chunk lost its record (killed between .npz and .json), another is
    # gone, a stale temporary file is left behind. The rerun redoes exactly those two chunks.
    (chunk_dir / "g0000-c000002.json").unlink()
    (chunk_dir / "g0000-c000004.npz").unlink()
    (chunk_dir / "g0000-c000004.json").unlink()
    (chunk_dir / ".g0000-c000004.npz.p0.xyz.tmp").write_bytes(b"partial")
    status = sims.sweep_status(out)
    assert (status["chunks_done"], status["points_done"]) == (5, 22)
    partial = sims.load_results(out)
    assert int((partial.status.values == -1).sum()) == 10 and partial.attrs["complete"] == 0
    assert (
        _cli.main(["sweep", "run", str(path), "--out", str(out), "--quiet", "--chunk-size", "8"])
        == 0
    )
    captured = capsys.readouterr()
    assert "computed 2 chunks (10 points)" in captured.out
    assert "keeping it" in captured.err  # the folder keeps its chunk size
    assert not list(chunk_dir.glob(".*.tmp"))
    sup.assert_same_results(sims.load_results(out), reference)


def test_status_command_prints_progress(tmp_path, capsys):
    path = sup.write(tmp_path)
    sims.run_sweep(path, tmp_path / "out", progress=False)
    assert _cli.main(["sweep", "status", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "points: 32/32 (100.0%)" in out and "diverged 8" in out and "ok 24" in out
    assert "learning_rate[4] x temperature[2] x seed[4]" in out
    assert _cli.main(["sweep", "status", str(tmp_path / "nowhere")]) == 2
    assert "is not a sweep folder" in capsys.readouterr().err


def test_static_axes_are_separate_programs_traced_axes_compile_once(tmp_path):
    from lazyrich.sims import _sweep_exec

    spec = {
        "experiment": "toy_quadratic",
        "chunk_size": 8,
        "base": {"save_every": 5},
        "axes": {"num_steps": [10, 20], "learning_rate": [0.1, 0.2, 0.4, 0.8], "seed": [0, 1]},
    }
    ds = sims.run_sweep(spec, progress=False)
    # Output shapes differ between the groups (2 vs 4 saves): the shorter one is padded with NaN.
    assert ds.loss.shape == (2, 4, 2, 4)
    assert np.all(np.isnan(ds.loss.sel(num_steps=10).values[..., 2:]))
    assert np.all(np.isfinite(ds.loss.sel(num_steps=20).values))
    plan = sims.plan_sweep(spec)
    executor = _sweep_exec.Executor(plan)
    compiled = [executor._fn(g)._cache_size() for g in plan.groups]
    # New values of the traced axes reuse the compiled programs: no retrace, no recompile.
    spec["axes"]["learning_rate"] = [0.3, 0.6, 1.2, 1.5]
    again = sims.run_sweep(spec, progress=False)
    assert [executor._fn(g)._cache_size() for g in plan.groups] == compiled
    assert not np.array_equal(again.loss.values, ds.loss.values, equal_nan=True)


def test_figure_result_from_a_sweep(tmp_path):
    out = tmp_path / "out"
    sims.run_sweep(sup.write(tmp_path), out, progress=False)
    result = sims.load_figure_result(out, toy_quadratic)
    assert result.experiment == "toy_quadratic" and result.config.num_steps == 20
    assert result.arrays["status"].shape == (4, 2, 4) and result.summary["diverged"] == 8
    assert (
        result.metadata["provenance"]["config_hash"] == sims.load_results(out).attrs["config_hash"]
    )
    import types

    other = types.ModuleType("other")
    other.NAME = "other_experiment"
    with pytest.raises(ValueError, match="holds a sweep of experiment 'toy_quadratic'"):
        sims.load_figure_result(out, other)
    bare = types.ModuleType("bare")
    bare.NAME = "toy_quadratic"
    with pytest.raises(ValueError, match="defines no `result_from_dataset"):
        sims.load_figure_result(out, bare)


def test_smoke_sweep_runs_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "smoke"
    smoke = sup.ROOT / "examples" / "sweeps" / "smoke.toml"
    assert _cli.main(["sweep", "run", str(smoke), "--out", str(out), "--quiet"]) == 0
    assert "96/96 points done" in capsys.readouterr().out
    ds = sims.load_results(out)
    assert ds.status.shape == (8, 4, 3)
    # lr > 2 / max(h) = 2 diverges (lr = 2.2 and 3.0), every other point converges.
    assert np.all(ds.status.sel(learning_rate=[2.2, 3.0]) == 2)
    assert np.all(ds.status.sel(learning_rate=ds.learning_rate[ds.learning_rate < 2]) == 0)


def test_figures_make_from_a_sweep_of_another_experiment_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    sims.run_sweep(sup.write(tmp_path), out, progress=False)
    argv = [
        "figures",
        "make",
        "perceptron-scaling",
        "--from",
        str(out),
        "--out",
        str(tmp_path / "fig"),
    ]
    assert _cli.main(argv) == 2
    assert "holds a sweep of experiment 'toy_quadratic'" in capsys.readouterr().err
    assert not (tmp_path / "fig").exists()


def test_float64_sweep_keeps_float64(x64):
    spec = {
        "experiment": "toy_quadratic",
        "base": {"num_steps": 10, "save_every": 5},
        "axes": {"learning_rate": [0.1, 0.2], "seed": [0, 1]},
    }
    ds = sims.run_sweep(spec, progress=False)
    assert ds.loss.dtype == np.float64 and ds.status.dtype == np.int32
    assert np.all(ds.status.values == 0)
