"""Command-line user errors: one `lazyrich: error:` line (exit 2), no traceback, nothing computed or lost.

Also the `--set` syntax (several pairs after one `--set`, repeated `--set`, list values with spaces) and
`lazyrich figures settings NAME`.
"""

import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from test_cli import TINY

from lazyrich import _cli, figures, sims
from lazyrich.sims.experiments import jacot2018_ntk_convergence as ntk_convergence


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if any experiment starts: the request must be refused before any work."""

    def refuse(*args, **kwargs):
        raise AssertionError("the experiment ran although the request was bad")

    monkeypatch.setattr(sims, "run", refuse)


def _error(capsys, argv) -> str:
    assert _cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lazyrich: error: ") and "Traceback" not in err
    return err


# ----------------------------------------------------------------------------------------------------------------
# --set


@pytest.mark.parametrize(
    "tokens, expected",
    [
        (
            ["data=mnist", "data_dir=/path/to/mnist"],
            {"data": "mnist", "data_dir": "/path/to/mnist"},
        ),
        (["data=mnist data_dir=/path/to/mnist"], {"data": "mnist", "data_dir": "/path/to/mnist"}),
        (["alphas=[0.5, 1.0]", "seed=1"], {"alphas": "[0.5, 1.0]", "seed": "1"}),
        (["alphas=[0.5, 1.0] widths=(1, 2)"], {"alphas": "[0.5, 1.0]", "widths": "(1, 2)"}),
        (["alphas=0.5, 1.0"], {"alphas": "0.5, 1.0"}),
        (["data_dir=/my files/mnist x=1"], {"data_dir": "/my files/mnist", "x": "1"}),
        (["tasks=['2af', 'dms b']"], {"tasks": "['2af', 'dms b']"}),
    ],
)
def test_set_pairs_are_split_outside_brackets_only(tokens, expected):
    assert _cli._parse_sets(tokens) == expected


def test_set_key_given_twice_is_an_error(capsys, no_run, tmp_path):
    err = _error(capsys, ["figures", "make", "ntk-convergence", "--set", "depth=2", "--set",
                          "depth=3", "--out", str(tmp_path / "o")])  # fmt: skip
    assert "gives `depth` twice" in err


def test_set_syntax_of_the_readme_reaches_the_config():
    # `--set a=1 b=2`, a repeated `--set`, and a list written with spaces and brackets.
    args = _cli.build_parser().parse_args(
        [
            "figures",
            "make",
            "ntk-convergence",
            "--set",
            "widths=[16, 32]",
            "depth=2",
            "--set",
            "num_seeds=3 fit_widths=(16, 24, 32)",
        ]  # fmt: skip
    )
    plan = figures.prepare(args.name, quick=True, overrides=_cli._parse_sets(args.set))
    assert plan.config.widths == (16, 32) and plan.config.depth == 2
    assert plan.config.num_seeds == 3 and plan.config.fit_widths == (16, 24, 32)


def test_figure_name_after_set_pairs_is_the_name(capsys, no_run, tmp_path):
    err = _error(capsys, ["figures", "make", "--set", "depth=2", "bogus=1", "ntk-convergence",
                          "--out", str(tmp_path / "o")])  # fmt: skip
    assert "unknown setting `bogus` for Config" in err  # the name was taken as the figure
    assert "needs a figure name" in _error(capsys, ["figures", "make", "--set", "depth=2"])


def test_several_pairs_after_one_set_are_each_validated(capsys, no_run, tmp_path):
    err = _error(capsys, ["figures", "make", "ntk-convergence", "--set", "depth=2", "bogus=1",
                          "--out", str(tmp_path / "o")])  # fmt: skip
    assert "unknown setting `bogus`" in err
    err = _error(capsys, ["figures", "make", "ntk-convergence", "--set", "widths=[16, x]",
                          "--out", str(tmp_path / "o")])  # fmt: skip
    assert "`widths` expects an integer, got 'x'" in err


def test_figures_settings_lists_every_setting_with_type_default_and_quick(capsys):
    assert _cli.main(["figures", "settings", "ntk-convergence"]) == 0
    out = capsys.readouterr().out
    default, quick = ntk_convergence.default_config(), ntk_convergence.default_config(quick=True)
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    for field in sims.config_to_dict(default):
        assert field in lines, field
    assert lines["widths"].split()[1:] == [
        "a", "comma-separated", "list", "of", "int",
        ",".join(map(str, default.widths)), ",".join(map(str, quick.widths)),
    ]  # fmt: skip
    assert lines["num_seeds"].split()[1:] == ["int", str(default.num_seeds), str(quick.num_seeds)]
    assert lines["bias_std"].split()[1:] == ["float", repr(default.bias_std), repr(quick.bias_std)]
    assert _cli.main(["figures", "settings", "ntk-convergence", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {"name": "widths", "type": "a comma-separated list of int",
                       "default": list(default.widths), "quick": list(quick.widths)}  # fmt: skip
    assert "unknown figure 'nope'" in _error(capsys, ["figures", "settings", "nope"])


# ----------------------------------------------------------------------------------------------------------------
# --out


def test_out_that_is_a_file_is_refused_before_any_work(capsys, no_run, tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    err = _error(capsys, ["figures", "make", "ntk-convergence", "--quick", "--out", str(target)])
    assert "exists and is not a folder" in err and str(target) in err
    assert target.read_text() == "keep me"
    err = _error(capsys, ["figures", "make", "ntk-convergence", "--quick",
                          "--out", str(target / "sub")])  # fmt: skip
    assert "is a file, not a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_out_that_is_not_writable_is_refused_before_any_work(capsys, no_run, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    err = _error(capsys, ["figures", "make", "ntk-convergence", "--out", str(locked / "figs")])
    assert "is not writable" in err


def test_results_are_saved_elsewhere_when_writing_fails_after_the_work(
    capsys, tmp_path, monkeypatch
):
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    out = tmp_path / "figs"
    (out / "ntk-convergence.png").mkdir(
        parents=True
    )  # a folder where the PNG must go: the write fails
    err = _error(capsys, ["figures", "make", "ntk-convergence", "--quick", "--quiet", *TINY,
                          "--out", str(out)])  # fmt: skip
    assert "could not write ntk-convergence" in err and "written to" in err
    (saved,) = spare.glob("lazyrich-ntk-convergence-*")
    assert str(saved) in err
    for ext in ("png", "pdf", "json"):
        assert (saved / f"ntk-convergence.{ext}").stat().st_size > 0
    import json

    assert json.loads((saved / "ntk-convergence.json").read_text())["settings"]["widths"] == [
        16,
        32,
    ]


# ----------------------------------------------------------------------------------------------------------------
# Data files and sweeps


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + np.asarray(array, np.uint8).tobytes())


def test_truncated_mnist_file_is_one_line_naming_the_file(capsys, tmp_path):
    rng = np.random.default_rng(0)
    for stem, n in (("train", 300), ("t10k", 300)):
        _write_idx(
            tmp_path / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)), 2051
        )
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte.gz", rng.integers(0, 10, n), 2049)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:5000])  # truncated download
    err = _error(capsys, ["figures", "make", "sgd-phase-diagram", "--quick", "--quiet",
                          "--set", "data=mnist", f"data_dir={tmp_path}", "num_train=64",
                          "num_test=64", "--out", str(tmp_path / "figs")])  # fmt: skip
    assert f"corrupt IDX file {images}" in err
    assert not (tmp_path / "figs").exists()


def test_missing_data_folder_is_one_line(capsys, tmp_path):
    err = _error(capsys, ["figures", "make", "sgd-phase-diagram", "--quick", "--quiet",
                          "--set", "data=mnist", f"data_dir={tmp_path / 'nowhere'}",
                          "--out", str(tmp_path / "figs")])  # fmt: skip
    assert str(tmp_path / "nowhere") in err


def test_sweep_file_errors_are_one_line(capsys, tmp_path):
    err = _error(capsys, ["sweep", "run", str(tmp_path / "none.toml"), "--out", str(tmp_path)])
    assert "none.toml" in err and "does not exist" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("experiment = [")
    assert "is not valid TOML" in _error(capsys, ["sweep", "run", str(bad), "--out", str(tmp_path)])
    err = _error(capsys, ["sweep", "run", str(bad), "--out", str(tmp_path), "--coordinator", "h:1"])
    assert "--coordinator only apply with --distributed" in err


def test_distributed_on_one_host_without_a_coordinator_is_one_line(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text('experiment = "toy_quadratic"\n[axes]\nseed = [0, 1]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_", "TPU_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(_root()), env.get("PYTHONPATH", "")])
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-m", "lazyrich", "sweep", "run", str(config), "--out",
         str(tmp_path / "out"), "--distributed", "--quiet"],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.startswith("lazyrich: error: `--distributed`")
        and "Traceback" not in proc.stderr
    )
    assert "--coordinator HOST:PORT" in proc.stderr


def _root():
    import pathlib

    return pathlib.Path(__file__).resolve().parents[1]


def test_a_failing_plot_keeps_the_computed_summary(tmp_path, monkeypatch):
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    plan = figures.prepare("ntk-convergence", quick=True)

    def broken_plot(result):
        raise RuntimeError("plot bug")

    monkeypatch.setattr(plan.figure, "plot", broken_plot)
    result = sims.Result(
        experiment="jacot2018_ntk_convergence", config=plan.config, arrays={}, summary={"x": 1.5}
    )
    with pytest.raises(RuntimeError, match="plot bug") as info:
        figures.make(plan, tmp_path / "figs", progress=False, result=result)
    (saved,) = spare.glob("lazyrich-ntk-convergence-*/ntk-convergence.json")
    assert any(str(saved) in note for note in info.value.__notes__)
    import json

    assert json.loads(saved.read_text())["summary"] == {"x": 1.5}
