"""`theory.kernel_fn` against neural-tangents 0.6.5 on the architecture grid of `nt_arch_cases.py`.

Every case (a network spec shared with the fixture script `tests/reference/make_nt_arch_fixtures.py`)
is built from `lazyrich.nn` layers and evaluated in float64 with `x2 = None` and with `x2 != x1`; the
NNGP and the NTK must match neural-tangents' to a relative error (max abs difference / max abs value)
below 1e-6. Where neural-tangents approximates, the rule being compared is its approximation, and the
layer's docstring says so: `ElementwiseNumerical` (tanh) is neural-tangents' Gauss-Hermite quadrature
with 400 nodes, converged here (its 100 nodes are 3e-4 off), against our default quadrature;
LayerNorm's rule assumes centred Gaussian inputs (the grid uses it after Dense/Conv only); `Sign` uses
the a.e. derivative 0; attention uses the infinite-heads, infinite-key-channels limit. For
`RectifiedMonomial` neural-tangents returns NaN where the two inputs coincide (cos = 1, the diagonal
of `x2 = None`); there the finite entries are compared and ours must be finite. One case per family
runs by default (`_default_cases`), the whole grid with the slow tests.
"""

import importlib.util
import json
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import nn, theory

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "reference"
_spec = importlib.util.spec_from_file_location("nt_arch_cases", REFERENCE / "nt_arch_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

FIXTURES = np.load(REFERENCE / "nt_arch.npz")
META = json.loads(str(FIXTURES["meta"]))
RTOL = 1e-6
FUNCTIONS = {"tanh": jnp.tanh}

# neural-tangents' activation layers -> registry names of `lazyrich.nn.activation`.
ACTIVATION_NAMES = {
    "Relu": "relu",
    "LeakyRelu": "leaky_relu",
    "ABRelu": "ab_relu",
    "Abs": "abs",
    "Erf": "erf",
    "Gelu": "gelu",
    "Sign": "sign",
    "Sin": "sin",
    "Cos": "cos",
    "Rbf": "rbf",
    "Exp": "exp",
    "Gaussian": "gaussian",
    "Monomial": "monomial",
    "RectifiedMonomial": "rectified_monomial",
    "Polynomial": "polynomial",
    "Hermite": "hermite",
    "Sigmoid_like": "sigmoid_like",
}


class Missing(Exception):
    """A layer or activation of the spec that this branch does not implement."""


def _tuples(kw):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}


def build(spec):
    """A `lazyrich.nn` layer from a spec `[name, kwargs]` (neural-tangents' names and arguments)."""
    name, kw = spec
    if name == "serial":
        return nn.serial(*map(build, kw["layers"]))
    if name == "parallel":
        return nn.parallel(*map(build, kw["layers"]))
    if name == "repeat":
        return nn.repeat(build(kw["layer"]), kw["n"])
    if name == "ElementwiseNumerical":
        # Our default quadrature (converged); neural-tangents' Gauss-Hermite with `deg` nodes.
        return nn.Elementwise(nn._activations.from_callable(FUNCTIONS[kw["fn"]]))
    if name in ACTIVATION_NAMES:
        registry = ACTIVATION_NAMES[name]
        if registry not in nn.ACTIVATIONS:
            raise Missing(f"activation {registry!r} ({name})")
        kw = dict(kw)
        if name == "Gelu":
            assert (
                kw.pop("approximate") is False
            )  # the exact GELU (approximate=True: finite net only)
        return nn.Elementwise(nn.activation(registry, **_tuples(kw)))
    layer = getattr(nn, name, None)
    if layer is None:
        raise Missing(f"layer {name}")
    try:
        return layer(**_tuples(kw))
    except nn.LayerError as err:  # a setting neural-tangents accepts and this branch does not
        raise Missing(f"layer {name} with {kw}: {err}") from None


def test_case_table_matches_fixtures():
    assert DEFAULT <= set(cases.CASES)
    # The fixtures were generated from this very table (regenerate them after any edit).
    assert META["cases"] == json.loads(json.dumps(cases.CASES))
    assert META["neural_tangents"] == "0.6.5" and META["x64"]


def _rel_err(ours, ref):
    ours, ref = np.asarray(ours), np.asarray(ref)
    finite = np.isfinite(ref)
    assert np.all(np.isfinite(ours)), "lazyrich returned non-finite values"
    return float(np.max(np.abs(ours - ref)[finite]) / np.max(np.abs(ref[finite])))


def _default_cases() -> set[str]:
    """One case per family (the first two parts of the id), plus strides, attention variants and
    full-spatial LayerNorm/Dropout; the rest of the grid is marked slow."""
    first = {}
    for case_id in cases.CASES:
        first.setdefault("/".join(case_id.split("/")[:2]), case_id)
    extra = {
        "conv2d/SAME/s2x2/gap",
        "conv2d/VALID/s2x1/flatten",
        "conv1d/CIRCULAR/s2/gap",
        "pool/AvgPool/w3x2/s2x1/SAME",
        "attention/SOFTMAX/img/stds",
        "attention/IDENTITY/sqrt_scaling",
        "dropout/img/flatten",
        "layernorm/img/all",
    }
    return set(first.values()) | extra


DEFAULT = _default_cases()


@pytest.mark.parametrize(
    "case_id",
    [c if c in DEFAULT else pytest.param(c, marks=pytest.mark.slow) for c in cases.CASES],
)
def test_kernel_matches_neural_tangents(case_id, x64):
    case = cases.CASES[case_id]
    try:
        net = build(cases.serial(*case["net"]))
    except Missing as err:
        pytest.skip(f"not implemented on this branch: {err}")
    x1 = jnp.asarray(FIXTURES[f"x/{case['input']}/x1"])
    x2 = jnp.asarray(FIXTURES[f"x/{case['input']}/x2"])
    kf = theory.kernel_fn(net)
    errors = {}
    for label, second in (("sym", None), ("cross", x2)):
        k = kf(x1, second)
        for g in ("nngp", "ntk"):
            ref = FIXTURES[f"{case_id}/{label}/{g}"]
            assert getattr(k, g).shape == ref.shape
            errors[f"{label}/{g}"] = _rel_err(getattr(k, g), ref)
    assert max(errors.values()) < RTOL, errors


def test_grid_covers_every_layer_and_activation():
    names = {s[0] for case in cases.CASES.values() for s in cases.walk(cases.serial(*case["net"]))}
    layers = {"Dense", "Conv", "AvgPool", "SumPool", "GlobalAvgPool", "GlobalSumPool", "Flatten"}
    layers |= {"LayerNorm", "Identity", "Dropout", "GlobalSelfAttention", "serial", "parallel"}
    layers |= {"repeat", "FanOut", "FanInSum", "FanInConcat", "FanInProd", "ElementwiseNumerical"}
    assert layers | set(ACTIVATION_NAMES) <= names
    params = {
        s[1].get("parameterization", "ntk")
        for case in cases.CASES.values()
        for s in cases.walk(cases.serial(*case["net"]))
        if s[0] in ("Dense", "Conv")
    }
    assert params == {"ntk", "standard"}
    paddings = {
        s[1]["padding"]
        for case in cases.CASES.values()
        for s in cases.walk(cases.serial(*case["net"]))
        if s[0] == "Conv"
    }
    assert paddings == {"SAME", "VALID", "CIRCULAR"}
    assert set(META["input_shapes"]) == {"vec", "seq", "img", "img8"}
