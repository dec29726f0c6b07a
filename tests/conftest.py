"""Shared fixtures: fresh typed keys, the dtype tolerance table, and the `gpu` marker."""

import os

# The suite is dominated by XLA compilation of many small programs, not by running them. On CPU, LLVM's
# optimisation level is the main compile cost: level 0 halves the CPU time of compile-bound tests (measured
# on the 2-core machine). The arithmetic is the same IEEE arithmetic (no fast-math either way); tests compare
# with tolerances, or two runs under the same flags. Set before JAX starts;
# subprocesses started by tests inherit it. `LAZYRICH_TEST_FULL_OPT=1` runs the suite at XLA's default level.
if os.environ.get("LAZYRICH_TEST_FULL_OPT", "0") != "1":
    _flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in _flags:
        os.environ["XLA_FLAGS"] = (_flags + " --xla_backend_optimization_level=0").strip()

# XLA's concurrency-optimised CPU scheduler can wedge the CPU runtime on a 2-core machine (lazyrich/_xla_flags.py);
# the command line turns it off, and so does the suite. Subprocesses inherit it.
from lazyrich import _xla_flags  # noqa: E402

_xla_flags.serial_cpu_scheduler()

import jax  # noqa: E402
import pytest  # noqa: E402

# Tolerances keyed by dtype (neural-tangents' choices); any other tolerance in a test carries its derivation.
TOLERANCE = {"float32": dict(rtol=5e-3, atol=5e-3), "float64": dict(rtol=1e-5, atol=1e-8)}


@pytest.fixture
def getkey():
    base, counter = jax.random.key(0), iter(range(1 << 30))
    return lambda: jax.random.fold_in(base, next(counter))


@pytest.fixture
def x64():
    """Run the test body with 64-bit JAX types enabled."""
    with jax.enable_x64(True):
        yield


def pytest_collection_modifyitems(config, items):
    if jax.default_backend() == "cpu":
        skip = pytest.mark.skip(reason="needs an accelerator")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
