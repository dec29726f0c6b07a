"""Kill test: `kill -9` a sweep at random moments, rerun the same command, get the uninterrupted result."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import sweep_support as sup

from lazyrich import sims

# 128 points in 32 chunks of 4; 4000 steps per point so that the writing phase lasts long enough to be hit.
KILL_SWEEP = """
experiment = "toy_quadratic"
chunk_size = 4

[base]
num_steps = 4000
save_every = 400

[axes]
learning_rate = [0.1, 0.4, 1.6, 2.4]
temperature = [0.0, 0.01, 0.1, 1.0]
seed = [0, 1, 2, 3, 4, 5, 6, 7]
"""


def _check_visible_files(chunk_dir, seen):
    """Every visible chunk file is complete: JSON parses, every .npz array reads, a .json has its .npz."""
    if not chunk_dir.is_dir():
        return
    for path in sorted(chunk_dir.iterdir()):
        if path.name.startswith(".") or path in seen:
            continue
        if path.suffix == ".json":
            record = json.loads(path.read_text())
            assert path.with_suffix(".npz").is_file(), f"{path.name} written before its .npz"
            assert record["stop"] > record["start"]
        else:
            with np.load(path) as npz:
                arrays = {k: npz[k] for k in npz.files}
            assert len(arrays["_index"]) == len(arrays["status"]) > 0
        seen.add(path)


def _run_and_kill(path, out, env, rng, *, early):
    chunk_dir = out / "chunks"
    proc = subprocess.Popen(
        sup.cli("sweep", "run", str(path), "--out", str(out), "--quiet"),
        env=env,
        cwd=sup.ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen: set = set()
    done = lambda: len(list(chunk_dir.glob("g*.json"))) if chunk_dir.is_dir() else 0  # noqa: E731
    if early:  # somewhere in start-up: import, planning, manifest, compilation
        deadline = time.monotonic() + rng.uniform(0.5, 4.0)
        target = None
    else:  # while chunks are being written
        deadline = time.monotonic() + 300
        target = done() + int(rng.integers(1, 8))
    while (
        proc.poll() is None and time.monotonic() < deadline and (target is None or done() < target)
    ):
        _check_visible_files(chunk_dir, seen)
        time.sleep(0.002)
    if not early:
        time.sleep(rng.uniform(0.0, 0.03))
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    _check_visible_files(chunk_dir, seen)
    return proc.returncode


def _kill_test(tmp_path, num_kills, seed):
    rng = np.random.default_rng(seed)
    path = sup.write(tmp_path, KILL_SWEEP)
    out = tmp_path / "out"
    env = sup.env(cache=tmp_path / "jax-cache")
    codes = [_run_and_kill(path, out, env, rng, early=(k == 0)) for k in range(num_kills)]
    assert any(c == -signal.SIGKILL for c in codes), f"no run was killed: {codes}"
    proc = sup.run_cli("sweep", "run", str(path), "--out", str(out), "--quiet", env_vars=env)
    assert proc.returncode == 0, proc.stderr
    # No duplicated or missing grid point: the chunk files partition the 128 points exactly.
    indices = []
    for npz_path in sorted((out / "chunks").glob("g*.npz")):
        with np.load(npz_path) as npz:
            indices.extend(npz["_index"].tolist())
    assert sorted(indices) == list(range(128))
    assert len(list((out / "chunks").glob("g*.json"))) == 32
    assert not list((out / "chunks").glob(".*.tmp"))
    ds = sims.load_results(out)
    assert ds.attrs["complete"] == 1 and not np.any(ds.status.values < 0)
    sup.assert_same_results(ds, sims.run_sweep(path, progress=False))
    return codes


def test_kill_and_resume_equals_uninterrupted_run(tmp_path):
    _kill_test(tmp_path, num_kills=2, seed=0)  # one kill in start-up, one while chunks are written


@pytest.mark.slow
def test_kill_and_resume_many_times(tmp_path):
    _kill_test(tmp_path, num_kills=10, seed=1)
