"""Resumable kernel computation: kill -9 mid-way, rerun, finished tiles are loaded, not recomputed."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import kernel_tiles_worker as worker
import numpy as np
import pytest

from lazyrich import theory

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _records(store):
    return {p.name: json.loads(p.read_text()) for p in sorted(store.glob("tile-*.json"))}


def _reference():
    with jax.enable_x64(True):
        k = theory.kernel_matrix(
            theory.mlp_kernel_fn(depth=2, bias_std=0.1), worker.inputs(), tile_size=worker.TILE
        )
        return np.asarray(k.nngp), np.asarray(k.ntk)


def test_killed_kernel_computation_resumes_without_recomputing(tmp_path):
    store, out = tmp_path / "store", tmp_path / "k.npz"
    cmd = [sys.executable, str(pathlib.Path(worker.__file__)), str(store), str(out)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_records(store)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _records(store)
    assert 3 <= len(before) < 12, len(before)
    assert not out.exists()
    first_pid = {r["pid"] for r in before.values()}
    assert first_pid == {proc.pid}

    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _records(store)
    assert len(after) == 12
    for name, record in after.items():
        if name in before:  # a finished tile is loaded, not recomputed: its record is untouched
            assert record == before[name]
        else:
            assert record["pid"] != proc.pid
    got = np.load(out)
    nngp, ntk = _reference()
    np.testing.assert_array_equal(got["nngp"], nngp)
    np.testing.assert_array_equal(got["ntk"], ntk)


def test_store_refuses_other_inputs_and_repairs_a_damaged_tile(tmp_path, x64):
    kernel_fn = theory.mlp_kernel_fn(depth=2, bias_std=0.1)
    x = np.random.default_rng(0).normal(size=(20, 3))
    k1 = theory.kernel_matrix(kernel_fn, x, tile_size=8, store=tmp_path / "s")
    with pytest.raises(ValueError, match="holds another kernel computation"):
        theory.kernel_matrix(kernel_fn, x + 1, tile_size=8, store=tmp_path / "s")
    (tmp_path / "s" / "tile-000001.npz").write_bytes(b"truncated")
    k2 = theory.kernel_matrix(kernel_fn, x, tile_size=8, store=tmp_path / "s")
    np.testing.assert_array_equal(k1.ntk, k2.ntk)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file").write_text("x")
    with pytest.raises(ValueError, match="not empty and holds no kernel tiles"):
        theory.kernel_matrix(kernel_fn, x, tile_size=8, store=tmp_path / "other")
