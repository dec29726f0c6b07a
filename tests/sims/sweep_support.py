"""Shared pieces of the sweep tests: small sweep files, a subprocess runner and result comparison."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]

# 4 x 2 x 4 = 32 points, one compiled program (every axis is traced or the seed); lr 3.5 diverges.
TINY = """
experiment = "toy_quadratic"
chunk_size = 8

[base]
num_steps = 20
save_every = 5

[axes]
learning_rate = [0.1, 0.5, 1.0, 3.5]
temperature = [0.0, 0.1]
seed = [0, 1, 2, 3]
"""


def write(tmp_path: pathlib.Path, text: str = TINY, name: str = "sweep.toml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def env(*, devices: int | None = None, cache: pathlib.Path | None = None) -> dict[str, str]:
    """Environment of a sweep subprocess: the source tree on the path, CPU, optional fake devices/cache."""
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    out["JAX_PLATFORMS"] = "cpu"
    if devices is not None:
        flags = out.get("XLA_FLAGS", "")  # keep the suite's flags (conftest), add the device count
        out["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}".strip()
    if cache is not None:  # persistent compilation cache: reruns skip the compile
        out["JAX_COMPILATION_CACHE_DIR"] = str(cache)
        out["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        out["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    return out


def cli(*args: str, **popen) -> list[str]:
    return [sys.executable, "-m", "lazyrich", *args]


def run_cli(*args: str, env_vars=None, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli(*args), env=env_vars or env(), capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_same_results(ds1, ds2) -> None:
    """Same coordinates and bitwise-equal variables (NaN == NaN)."""
    assert list(ds1.dims) == list(ds2.dims)
    for dim in ds1.dims:
        if dim in ds1.coords:
            np.testing.assert_array_equal(ds1[dim].values, ds2[dim].values)
    assert sorted(ds1.data_vars) == sorted(ds2.data_vars)
    for name in ds1.data_vars:
        np.testing.assert_array_equal(ds1[name].values, ds2[name].values, err_msg=name)
