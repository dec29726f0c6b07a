"""Infinite-width NNGP/NTK (`theory.mlp_kernels`): neural-tangents fixtures, identities."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import theory

REFERENCE = pathlib.Path(__file__).parents[1] / "reference"
FIXTURES = np.load(REFERENCE / "nt_kernels.npz")
SETTINGS = json.loads((REFERENCE / "nt_kernels.json").read_text())
CLOSED = ("relu", "erf", "abs", "gelu", "identity", "leaky_relu", "sign")
SCALES = [tuple(s) for s in SETTINGS["scales"]]
# Normwise relative error max|a - b| / max|b| (entries of some kernels, e.g. identity, cross zero).
RTOL = {"float64": 1e-6, "float32": 1e-4}


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def kernels(x1, x2, name, depth, w_std, b_std, **kw):
    if name in ("sin", "tanh"):
        activation = {"sin": jnp.sin, "tanh": jnp.tanh}[name]
    else:
        activation = name
    return theory.mlp_kernels(
        x1,
        x2,
        depth=depth,
        activation=activation,
        weight_std=w_std,
        bias_std=b_std,
        negative_slope=0.1,
        **kw,
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", CLOSED)
def test_closed_forms_match_neural_tangents(name, dtype):
    # One symmetric kernel on the 10 stacked inputs gives both fixtures: its top-left block is
    # kernel(x1) and its top-right block is kernel(x1, x2). float32: depths 2 and 5 (compile time).
    depths = range(1, 6) if dtype == "float64" else (2, 5)
    with jax.enable_x64(dtype == "float64"):
        x = jnp.asarray(np.concatenate([FIXTURES["x1"], FIXTURES["x2"]]), dtype)
        worst = 0.0
        for depth in depths:
            for w_std, b_std in SCALES:
                key = f"{name}/d{depth}/w{w_std}/b{b_std}"
                k = kernels(x, None, name, depth, w_std, b_std)
                assert k.nngp.dtype == jnp.dtype(dtype) and k.ntk.dtype == jnp.dtype(dtype)
                for part in ("nngp", "ntk"):
                    value = getattr(k, part)
                    for mode, block in (("sym", value[:6, :6]), ("cross", value[:6, 6:])):
                        err = rel_err(block, FIXTURES[f"{key}/{mode}/{part}"])
                        worst = max(worst, err)
                        assert err < RTOL[dtype], (key, mode, part, err)
    print(f"{name} {dtype}: worst normwise relative error {worst:.2e}")


@pytest.mark.parametrize("name", ["sin", "tanh"])
def test_quadrature_matches_neural_tangents(name, x64):
    # Default degree; NT's references: Sin() closed form, tanh by degree-120 quadrature.
    x1, x2 = jnp.asarray(FIXTURES["x1"]), jnp.asarray(FIXTURES["x2"])
    depths = range(1, 6) if name == "sin" else range(1, 4)
    scales = SCALES if name == "sin" else SCALES[1:2]
    for depth in depths:
        for w_std, b_std in scales:
            key = f"{name}/d{depth}/w{w_std}/b{b_std}/cross"
            k = kernels(x1, x2, name, depth, w_std, b_std)
            for part in ("nngp", "ntk"):
                assert rel_err(getattr(k, part), FIXTURES[f"{key}/{part}"]) < 1e-4, (key, part)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("b_std", [0.2, None])
def test_standard_parameterization_matches_neural_tangents(depth, b_std, x64):
    x1, x2 = jnp.asarray(FIXTURES["x1"]), jnp.asarray(FIXTURES["x2"])
    k = theory.mlp_kernels(
        x1,
        x2,
        depth=depth,
        weight_std=1.3,
        bias_std=b_std,
        parameterization="standard",
        width=SETTINGS["width_for_standard"],
    )
    key = f"standard/relu/d{depth}/b{b_std}"
    assert rel_err(k.nngp, FIXTURES[key + "/nngp"]) < 1e-6
    assert rel_err(k.ntk, FIXTURES[key + "/ntk"]) < 1e-6
    ntk_param = theory.mlp_kernels(x1, x2, depth=depth, weight_std=1.3, bias_std=b_std)
    np.testing.assert_allclose(k.nngp, ntk_param.nngp, rtol=1e-12)


def test_jacot_table(x64):
    # Jacot et al. 2018 Sec. 6 setting: depth 3 (L = 4), beta = 0.1, unit circle, x0 = (1, 0).
    gamma = jnp.array([0.0, jnp.pi / 4, jnp.pi / 2, 3 * jnp.pi / 4, jnp.pi])
    x = jnp.stack([jnp.cos(gamma), jnp.sin(gamma)], axis=-1)
    k = theory.mlp_kernels(x[:1], x, depth=3, bias_std=0.1)
    np.testing.assert_allclose(k.ntk[0], [0.28250, 0.16997, 0.09270, 0.06604, 0.06435], atol=1e-5)
    np.testing.assert_allclose(k.nngp[0], [0.08125, 0.06987, 0.05576, 0.04924, 0.04810], atol=1e-5)
    # Hand check at gamma = 0: Theta = 0.2825, Sigma = 0.08125 exactly. The symmetric call knows the
    # pair is identical (cos = 1 exactly); the cross call above carries a sqrt(eps) angle error.
    k = theory.mlp_kernels(x[:1], depth=3, bias_std=0.1)
    np.testing.assert_allclose([k.ntk[0, 0], k.nngp[0, 0]], [0.2825, 0.08125], rtol=1e-12)


@pytest.mark.parametrize("activation", [*CLOSED, "tanh"])
def test_depth_zero_and_first_layer_identity(activation, x64):
    # depth 0 is the linear readout: Theta = Sigma = w^2 x.x'/d + b^2 (Theta^(1) = Sigma^(1)).
    x = jnp.asarray(FIXTURES["x1"])
    act = jnp.tanh if activation == "tanh" else activation
    k = theory.mlp_kernels(x, depth=0, activation=act, weight_std=1.2, bias_std=0.3)
    expected = 1.44 * x @ x.T / 3 + 0.09
    np.testing.assert_allclose(k.nngp, expected, rtol=1e-12)
    np.testing.assert_allclose(k.ntk, expected, rtol=1e-12)


@pytest.mark.parametrize("activation", [*CLOSED, "tanh"])
def test_symmetric_and_positive_semidefinite(activation, getkey, x64):
    x = jax.random.normal(getkey(), (20, 4), jnp.float64)
    x = x.at[7].set(x[3])  # a repeated input: PSD but singular
    act = jnp.tanh if activation == "tanh" else activation
    k = theory.mlp_kernels(x, depth=3, activation=act, bias_std=0.2, quadrature_degree=24)
    for part in (k.nngp, k.ntk):
        np.testing.assert_allclose(part, part.T, rtol=0, atol=1e-14)
        # eigvalsh error is ~ n eps ||K||; allow 1e-10 relative.
        assert float(jnp.linalg.eigvalsh(part)[0]) > -1e-10 * float(jnp.max(jnp.abs(part)))


@pytest.mark.parametrize(
    "activation, dtype",
    [
        ("relu", "float32"),
        ("relu", "float64"),
        pytest.param("gelu", "float64", marks=pytest.mark.slow),  # ~35 s of compilation
        ("sign", "float32"),
    ],
)
def test_diagonal_and_tiled_modes_agree_with_full(activation, dtype, getkey):
    with jax.enable_x64(dtype == "float64"):
        x = jax.random.normal(getkey(), (13, 5), dtype)
        y = jax.random.normal(getkey(), (9, 5), dtype)
        kw = dict(depth=4, activation=activation, weight_std=1.4, bias_std=0.3)
        full = theory.mlp_kernels(x, **kw)
        diag = theory.mlp_kernels(x, diagonal=True, **kw)
        tiled = theory.mlp_kernels(x, batch_size=4, **kw)
        cross = theory.mlp_kernels(x, y, **kw)
        cross_tiled = theory.mlp_kernels(x, y, batch_size=5, **kw)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
        for part in ("nngp", "ntk"):
            assert getattr(diag, part).shape == (13,)
            np.testing.assert_allclose(
                getattr(diag, part), jnp.diagonal(getattr(full, part)), **tol
            )
            np.testing.assert_allclose(getattr(tiled, part), getattr(full, part), **tol)
            np.testing.assert_allclose(getattr(cross_tiled, part), getattr(cross, part), **tol)


def test_float32_diagonal_is_exact():
    # Identical pairs have cos = 1 exactly: the float32 diagonal matches the diagonal mode's value.
    x = jnp.asarray(FIXTURES["x1"], jnp.float32)
    full = theory.mlp_kernels(x, depth=5, bias_std=0.1)
    with jax.enable_x64(True):
        ref = theory.mlp_kernels(jnp.asarray(FIXTURES["x1"]), depth=5, bias_std=0.1)
    assert rel_err(np.diagonal(np.asarray(full.ntk)), np.diagonal(np.asarray(ref.ntk))) < 1e-6


def test_jit_vmap_grad(getkey):
    x = jax.random.normal(getkey(), (5, 3))

    @jax.jit
    def ntk_sum(w_std, b_std):
        return jnp.sum(theory.mlp_kernels(x, depth=2, weight_std=w_std, bias_std=b_std).ntk)

    values = jax.vmap(ntk_sum)(jnp.array([1.0, 1.5]), jnp.array([0.1, 0.2]))
    assert values.shape == (2,) and bool(jnp.all(jnp.isfinite(values)))
    # grad with respect to the scales, checked by central differences in float64.
    with jax.enable_x64(True):
        x64 = jnp.asarray(x, jnp.float64)

        def f(w):
            return jnp.sum(theory.mlp_kernels(x64, depth=2, weight_std=w, bias_std=0.1).ntk)

        g = jax.grad(f)(1.3)
        fd = (f(1.3 + 1e-6) - f(1.3 - 1e-6)) / 2e-6
        np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_traced_scales_do_not_recompile(getkey):
    x = jax.random.normal(getkey(), (4, 3))
    traces = []

    @jax.jit
    def f(w_std):
        traces.append(1)
        return theory.mlp_kernels(x, depth=2, weight_std=w_std).ntk

    for w in (1.0, 1.1, 1.2):
        f(jnp.asarray(w))
    assert len(traces) == 1


def test_quadrature_degree_converges(x64):
    x1, x2 = jnp.asarray(FIXTURES["x1"]), jnp.asarray(FIXTURES["x2"])
    ref = FIXTURES["tanh/d2/w1.5/b0.1/cross/ntk"]
    errors = [
        rel_err(kernels(x1, x2, "tanh", 2, 1.5, 0.1, quadrature_degree=deg).ntk, ref)
        for deg in (8, 16, 32)
    ]
    assert errors[0] > errors[1] > errors[2]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(depth=-1), ValueError, "`depth`"),
        (dict(depth=1.5), TypeError, "`depth`"),
        (dict(depth=2, activation="tanh"), ValueError, "`activation`"),
        (dict(depth=2, activation=3), TypeError, "`activation`"),
        (dict(depth=2, parameterization="mup"), ValueError, "`parameterization`"),
        (dict(depth=2, parameterization="standard"), ValueError, "`width`"),
        (dict(depth=2, parameterization="standard", width=(3,)), ValueError, "`width`"),
        (dict(depth=2, batch_size=0), ValueError, "`batch_size`"),
        (dict(depth=2, weight_std=jnp.ones(2)), ValueError, "`weight_std`"),
        (dict(depth=2, bias_std=float("nan")), ValueError, "`bias_std`"),
        (dict(depth=2, quadrature_degree=0), ValueError, "`quadrature_degree`"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    x = jnp.ones((3, 2))
    with pytest.raises(exc, match=match):
        theory.mlp_kernels(x, **kwargs)


def test_bad_inputs():
    x = jnp.ones((3, 2))
    with pytest.raises(ValueError, match="`x1` and `x2`"):
        theory.mlp_kernels(x, jnp.ones((3, 4)), depth=1)
    with pytest.raises(ValueError, match="`x1`.*finite"):
        theory.mlp_kernels(x.at[0, 0].set(jnp.nan), depth=1)
    with pytest.raises(ValueError, match="`x2`.*finite"):
        theory.mlp_kernels(x, x.at[1, 1].set(jnp.inf), depth=1)
    with pytest.raises(ValueError, match="`x1`"):
        theory.mlp_kernels(jnp.ones(3), depth=1)
    with pytest.raises(TypeError, match="`x1`"):
        theory.mlp_kernels(jnp.ones((3, 2), jnp.int32), depth=1)
    with pytest.raises(ValueError, match="`x2`"):
        theory.mlp_kernels(x, x, depth=1, diagonal=True)
