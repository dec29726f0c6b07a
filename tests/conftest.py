"""Shared fixtures: fresh typed keys, the dtype tolerance table, and the `gpu` marker."""

import jax
import pytest

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
