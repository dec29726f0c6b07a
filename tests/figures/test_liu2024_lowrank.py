"""Smoke tests of the `lowrank-rnn` and `lowrank-theory` figures (tiny settings; the real quick runs are slow)."""

import json

import numpy as np
import pytest

import lazyrich.figures as figures
from tests.sims.test_liu2024_rank_sweep import TINY


def _check_rnn(paths, tasks):
    for ext in ("png", "pdf", "json"):
        assert paths[ext].exists()
    summary = json.loads(paths["json"].read_text())["summary"]
    for task in tasks:
        s = summary[task]
        for key in (
            "weight_change_spearman",
            "kernel_alignment_spearman",
            "representation_alignment_spearman",
            "aligned_rank1_kernel_alignment",
        ):
            assert key in s
    # Every claim of the figure is in its checks; at this tiny setting (2 ranks x 2 seeds) none can be
    # tested, and the checks say so rather than pass.
    checks = json.loads(paths["json"].read_text())["checks"]
    assert len(checks) == 3 and all(c["passed"] is None and c["reason"] for c in checks), checks


@pytest.mark.slow  # ~65 s on 2 cores (compilation); lowrank-theory keeps a default smoke test
def test_lowrank_rnn_tiny(tmp_path):
    plan = figures.prepare("lowrank-rnn", quick=True, overrides=dict(TINY, aligned_fit_steps=2))
    _check_rnn(figures.make(plan, tmp_path, progress=False), ("2af", "dms", "cxt"))


def test_lowrank_theory_tiny(tmp_path):
    plan = figures.prepare(
        "lowrank-theory",
        quick=True,
        overrides=dict(input_dim=6, hidden_dim=8, ranks="1,3,6", num_teachers=64),
    )
    paths = figures.make(plan, tmp_path, progress=False)
    summary = json.loads(paths["json"].read_text())["summary"]
    assert summary["readout"]["increasing_with_rank"] and summary["full"]["increasing_with_rank"]
    # 64 teachers: the simulated means lie within 4 standard errors of the closed form.
    assert summary["readout"]["max_abs_z"] < 4 and summary["full"]["max_abs_z"] < 4
    assert summary["readout"]["aligned_mean"] > 0.999


@pytest.mark.slow
def test_lowrank_rnn_quick(tmp_path):
    paths = figures.make(figures.prepare("lowrank-rnn", quick=True), tmp_path, progress=False)
    _check_rnn(paths, ("2af", "dms", "cxt"))
    summary = json.loads(paths["json"].read_text())["summary"]
    assert np.mean([summary[t]["kernel_alignment_spearman"] for t in ("2af", "dms", "cxt")]) > 0


@pytest.mark.slow
def test_lowrank_theory_quick(tmp_path):
    paths = figures.make(figures.prepare("lowrank-theory", quick=True), tmp_path, progress=False)
    summary = json.loads(paths["json"].read_text())["summary"]
    assert summary["readout"]["max_abs_z"] < 4 and summary["full"]["max_abs_z"] < 4
