"""Sharded predictions: 1 device == 8 fake CPU devices == 2 processes (jax.distributed over gloo)."""

import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import predict_devices_worker as worker

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKER = pathlib.Path(worker.__file__)


def _env(devices=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["JAX_PLATFORMS"] = "cpu"
    if devices is not None:
        flags = env.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_same(got, ref):
    # Each row's product is summed in the same order on any device count; the gathered iterates
    # then follow the same recurrences. Float64 round-off in the reductions is all that may differ.
    for key, value in ref.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-10, atol=1e-12, err_msg=key)


def _one_device():
    import jax

    with jax.enable_x64(True):
        return worker.run(None)


def test_eight_fake_devices_equal_one_device(tmp_path):
    out = tmp_path / "eight.npz"
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(out)],
        env=_env(devices=8),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = dict(np.load(out))
    assert int(got["num_devices"]) == 8
    ref = _one_device()
    assert all(int(ref[k]) == 0 for k in ref if k.endswith("status"))
    _assert_same(got, ref)


def test_two_processes_equal_one_device(tmp_path):
    out = tmp_path / "two.npz"
    coordinator = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(out), coordinator, "2", str(i)],
            env=_env(devices=2),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
    got = dict(np.load(out))
    assert int(got["num_processes"]) == 2 and int(got["num_devices"]) == 4
    _assert_same(got, _one_device())
