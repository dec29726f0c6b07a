"""The `lazyrich` command line: listing, making, and refusing bad requests before any work."""

import json
import subprocess
import sys

import pytest

from lazyrich import _cli

TINY = [
    "--set", "widths=16,32", "--set", "fit_widths=16,24,32", "--set", "num_seeds=3",
    "--set", "fit_seeds=3", "--set", "num_steps=3", "--set", "num_angles=5", "--set", "num_train=4",
]  # fmt: skip


def test_figures_list_names_every_figure(capsys):
    from lazyrich.figures import figure_registry

    assert _cli.main(["figures", "list"]) == 0
    out = capsys.readouterr().out
    for name, module in figure_registry().items():
        assert name in out and module.PAPER in out
    assert "ntk-convergence" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["figures", "make", "no-such-figure"], "unknown figure 'no-such-figure'"),
        (["figures", "make", "ntk-convergence", "--set", "bogus=1"], "unknown setting `bogus`"),
        (
            ["figures", "make", "ntk-convergence", "--set", "num_seeds=ten"],
            "`num_seeds` expects an integer",
        ),
        (
            ["figures", "make", "ntk-convergence", "--set", "num_seeds=1"],
            "`num_seeds` must be >= 2",
        ),
        (["figures", "make", "ntk-convergence", "--set", "widths"], "key=value"),
    ],
)
def test_bad_requests_fail_before_any_work(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert _cli.main([*argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists(), "nothing may be written on a bad request"


def test_make_writes_png_pdf_and_json(tmp_path):
    out = tmp_path / "figs"
    assert _cli.main(["figures", "make", "ntk-convergence", "--quick", "--quiet", *TINY,
                      "--seed", "3", "--out", str(out)]) == 0  # fmt: skip
    for ext in ("png", "pdf", "json"):
        assert (out / f"ntk-convergence.{ext}").stat().st_size > 0
    record = json.loads((out / "ntk-convergence.json").read_text())
    assert record["settings"]["widths"] == [16, 32] and record["settings"]["num_steps"] == 3
    assert record["seed"] == 3 and record["quick"] is True
    assert record["lazyrich_version"] and record["jax_version"] and record["wall_time_s"] > 0
    assert isinstance(record["summary"]["spread_slope"], float)
    assert not list(out.glob(".*tmp")), "temporary files must be renamed or removed"


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "lazyrich", "figures", "list"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "ntk-convergence" in proc.stdout


def test_serial_cpu_scheduler_flag():
    from lazyrich import _xla_flags

    flag = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
    env = {"XLA_FLAGS": "--xla_backend_optimization_level=0"}
    assert _xla_flags.serial_cpu_scheduler(env)
    assert env["XLA_FLAGS"] == f"--xla_backend_optimization_level=0 {flag}"
    assert not _xla_flags.serial_cpu_scheduler(env)  # already there: unchanged
    assert env["XLA_FLAGS"].count("concurrency_optimized_scheduler") == 1
    # The user's own choice wins.
    user = {"XLA_FLAGS": "--xla_cpu_enable_concurrency_optimized_scheduler=true"}
    assert not _xla_flags.serial_cpu_scheduler(user)
    assert user["XLA_FLAGS"] == "--xla_cpu_enable_concurrency_optimized_scheduler=true"
    opted_out = {_xla_flags.OPT_OUT: "1"}
    assert not _xla_flags.serial_cpu_scheduler(opted_out) and "XLA_FLAGS" not in opted_out
    empty = {}
    assert _xla_flags.serial_cpu_scheduler(empty) and empty["XLA_FLAGS"] == flag


def test_command_line_sets_the_flag_first(monkeypatch, capsys):
    import os

    from lazyrich import _cli, _xla_flags

    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/nonexistent-unused")
    monkeypatch.delenv(_xla_flags.OPT_OUT, raising=False)
    assert _cli.main(["figures", "list"]) == 0
    assert _xla_flags.FLAG in os.environ["XLA_FLAGS"]
    assert "dmft-richness" in capsys.readouterr().out
