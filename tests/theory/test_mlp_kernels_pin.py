"""`theory.mlp_kernels` keeps its numbers: every mode against the outputs pinned before its
recursion was rebuilt on `theory.kernel_fn` (`tests/reference/make_mlp_kernels_pin.py`)."""

import importlib.util
import pathlib

import jax
import numpy as np
import pytest

REFERENCE = pathlib.Path(__file__).parents[1] / "reference"
_spec = importlib.util.spec_from_file_location("pin", REFERENCE / "make_mlp_kernels_pin.py")
pin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pin)
PINNED = np.load(REFERENCE / "mlp_kernels_pin.npz")
CASES = list(pin.cases())
# float64: the same arithmetic up to reassociation (1e-12); float32: float tolerance (the
# kernels are O(1) and the recursion is 3 layers deep).
TOL = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=2e-6, atol=2e-6)}


# The default suite checks the cheap-to-compile activations; gelu (a jvp of its closed form),
# abs, leaky_relu, identity and the quadrature callable compile for minutes on 2 cores: slow.
FAST = ("relu", "erf", "sign", "standard")


@pytest.mark.parametrize(
    "dtype, subset",
    [
        ("float64", "fast"),
        ("float32", "fast"),
        pytest.param("float64", "rest", marks=pytest.mark.slow),
        pytest.param("float32", "rest", marks=pytest.mark.slow),
    ],
)
def test_mlp_kernels_outputs_are_pinned(dtype, subset):
    with jax.enable_x64(dtype == "float64"):
        x, y = pin.inputs(dtype)
        for key, dt, kw, cross in CASES:
            if dt != dtype or (key.split("/")[1] in FAST) != (subset == "fast"):
                continue
            k = pin.call(kw, x, y, cross)
            for part in ("nngp", "ntk"):
                got = np.asarray(getattr(k, part))
                assert got.dtype == np.dtype(dtype), key
                np.testing.assert_allclose(
                    got, PINNED[f"{key}/{part}"], err_msg=f"{key}/{part}", **TOL[dtype]
                )
