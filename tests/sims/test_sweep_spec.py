"""Sweep files and objects: parsing, validation and refusals, all before anything runs or is written."""

import pytest
import sweep_support as sup

from lazyrich import _cli, sims


def _refused(tmp_path, capsys, text, message, *, out_exists=False):
    path = sup.write(tmp_path, text)
    out = tmp_path / "out"
    assert _cli.main(["sweep", "run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    if not out_exists:
        assert not out.exists(), "nothing may be written for a refused sweep"


@pytest.mark.parametrize(
    "text, message",
    [
        ("experiment = 'toy_quadratic'\n[axes\nseed = [0]", "is not valid TOML"),
        ("experiment = 'no_such_thing'\n[axes]\nseed = [0]", "unknown experiment 'no_such_thing'"),
        ("experiment = 'toy_quadratic'\nseeds = 3\n[axes]\nseed = [0]", "unknown key(s) 'seeds'"),
        (
            "experiment = 'toy_quadratic'\n[axes]\nlearning_rate = ['fast', 0.1]",
            "`learning_rate` expects a number",
        ),
        ("experiment = 'toy_quadratic'\n[axes]\ndim = [2.5]", "`dim` expects an integer"),
        (
            "experiment = 'toy_quadratic'\n[axes]\nlearning_rate = []",
            "axis `learning_rate` is empty",
        ),
        ("experiment = 'toy_quadratic'\n[axes]\nlearning_rate = 0.1", "must be a list of values"),
        ("experiment = 'toy_quadratic'\n[axes]\nwidth = [1, 2]", "unknown axis `width`"),
        (
            "experiment = 'toy_quadratic'\n[axes]\nlearning_rate = [-1.0]",
            "`learning_rate` must be > 0",
        ),
        ("experiment = 'toy_quadratic'\n[axes]\nseed = [0, 0]", "repeated values"),
        (
            "experiment = 'toy_quadratic'\n[axes]\nseed = [0.5]",
            "axis `seed` expects non-negative integers",
        ),
        (
            "experiment = 'toy_quadratic'\n[base]\nwidth = 3\n[axes]\nseed = [0]",
            "unknown setting `width`",
        ),
        (
            "experiment = 'toy_quadratic'\n[base]\nseed_base = 1\n[axes]\nseed = [0]",
            "unknown setting",
        ),
        ("experiment = 'toy_quadratic'\n[axes]", "`axes` must be a non-empty table"),
        ("[axes]\nseed = [0]", "must set `experiment`"),
        (
            "experiment = 'toy_quadratic'\nchunk_size = 0\n[axes]\nseed = [0]",
            "`chunk_size` must be a positive",
        ),
        (
            "experiment = 'toy_quadratic'\n[base]\nlearning_rate = 0.1\n[axes]\nlearning_rate = [0.2]",
            "set in both `base` and `axes`",
        ),
        (
            "experiment = 'jacot2018_function_bands'\n[axes]\nseed = [0]",
            "does not implement the sweep protocol",
        ),
    ],
)
def test_bad_sweep_is_refused_before_anything_is_written(tmp_path, capsys, text, message):
    _refused(tmp_path, capsys, text, message)


def test_missing_sweep_file_is_a_clear_error(tmp_path, capsys):
    assert (
        _cli.main(["sweep", "run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_folder_of_another_sweep_is_refused_and_left_untouched(tmp_path, capsys):
    sims.run_sweep(
        sup.write(tmp_path, sup.TINY.replace("seed = [0, 1, 2, 3]", "seed = [0]")),
        tmp_path / "out",
        progress=False,
    )
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")}
    _refused(tmp_path, capsys, sup.TINY, "holds a different sweep", out_exists=True)
    err_free = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")}
    assert before == err_free
    # A non-empty folder that is not a sweep folder is refused too.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert (
        _cli.main(["sweep", "run", str(sup.write(tmp_path)), "--out", str(other), "--quiet"]) == 2
    )
    assert "holds no sweep" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_plan_lays_out_groups_chunks_and_a_stable_hash():
    spec = {
        "experiment": "toy_quadratic",
        "axes": {"learning_rate": [0.1, 1.0, 1.5], "dim": [2, 4], "seed": [0, 1, 2]},
        "chunk_size": 4,
    }
    plan = sims.plan_sweep(spec)
    assert plan.traced_axes == ("learning_rate", "seed") and plan.static_axes == ("dim",)
    assert [g.static for g in plan.groups] == [{"dim": 2}, {"dim": 4}]
    assert plan.num_points == 18 and [(c.start, c.stop) for c in plan.chunks[:3]] == [
        (0, 4),
        (4, 8),
        (8, 9),
    ]
    assert len(plan.chunks) == 6
    assert (
        plan.output_shapes[0]["loss"] == ((10,), "float32")
        and plan.output_shapes[0]["status"][0] == ()
    )
    # The hash ignores the chunk size (an execution setting) but not the grid or the base config.
    assert sims.plan_sweep({**spec, "chunk_size": 9}).config_hash == plan.config_hash
    assert sims.plan_sweep({**spec, "seed_base": 1}).config_hash != plan.config_hash
    assert sims.plan_sweep({**spec, "base": {"h_min": 0.2}}).config_hash != plan.config_hash
    # Values are coerced by the config's annotations (an int learning rate becomes a float).
    assert sims.plan_sweep({**spec, "axes": {"learning_rate": [1, 2]}}).axes["learning_rate"] == [
        1.0,
        2.0,
    ]


def test_example_sweeps_parse():
    for path in sorted((sup.ROOT / "examples" / "sweeps").glob("*.toml")):
        plan = sims.plan_sweep(sims.load_sweep(path), check_outputs=False)
        assert plan.num_points >= 1, path
    smoke = sims.plan_sweep(
        sims.load_sweep(sup.ROOT / "examples" / "sweeps" / "smoke.toml"), check_outputs=False
    )
    assert smoke.num_points >= 64 and len(smoke.axes) >= 2
