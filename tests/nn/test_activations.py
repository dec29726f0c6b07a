"""The activation registry (`lazyrich.nn._activations`): every activation's two Gaussian expectations
against independent references, the numerical rules, collinear inputs and bad input."""

import functools
import json
import math
import pathlib
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.special

from lazyrich.nn import _activations as A
from lazyrich.nn._activations import ACTIVATIONS, activation, from_callable, identical_pairs

# Parameters that differ from the defaults, so that every field of every activation is exercised.
PARAMS = {
    "leaky_relu": dict(alpha=0.2),
    "ab_relu": dict(a=-0.4, b=1.3),
    "erf": dict(a=1.5, b=0.7, c=0.2),
    "sin": dict(a=1.2, b=0.8, c=0.3),
    "cos": dict(a=0.9, b=1.1, c=-0.4),
    "rbf": dict(gamma=0.6),
    "exp": dict(a=0.7, b=0.5),
    "gaussian": dict(a=1.3, b=-0.6),
    "monomial": dict(degree=3),
    "rectified_monomial": dict(degree=2),
    "polynomial": dict(coef=(0.3, -1.0, 0.5, 0.25)),
    "hermite": dict(degree=4),
}
# Positively homogeneous activations of degree n: an exact 1-D angular integral is their reference.
HOMOGENEOUS = {"relu": 1, "leaky_relu": 1, "ab_relu": 1, "abs": 1, "sign": 0}
NUMERICAL = ("tanh", "softplus")
# Independent numpy definitions (neural-tangents' conventions) of the kinked activations and their
# almost-everywhere derivatives, for the angular reference.
NUMPY = {
    "relu": lambda act: (lambda x: np.maximum(x, 0.0), lambda x: (x > 0) * 1.0),
    "leaky_relu": lambda act: (
        lambda x: np.where(x > 0, x, act.alpha * x),
        lambda x: np.where(x > 0, 1.0, act.alpha),
    ),
    "ab_relu": lambda act: (
        lambda x: act.a * np.minimum(x, 0) + act.b * np.maximum(x, 0),
        lambda x: np.where(x > 0, act.b, act.a),
    ),
    "abs": lambda act: (np.abs, np.sign),
    "sign": lambda act: (np.sign, np.zeros_like),
    "rectified_monomial": lambda act: (
        lambda x: np.where(x >= 0, x**act.degree, 0.0),
        lambda x: np.where(x > 0, act.degree * x ** (act.degree - 1), 0.0),
    ),
}
CLOSED = tuple(n for n in ACTIVATIONS if n not in NUMERICAL)
# (var1, var2, rho): generic pairs, (anti-)collinear ones and one with a tiny variance.
POINTS = [
    (1.0, 1.0, 0.0),
    (0.7, 1.9, 0.45),
    (1.6, 0.5, -0.8),
    (1.2, 1.2, 1.0),
    (0.9, 1.4, 1.0),
    (1.1, 0.6, -1.0),
    (2.0, 1.5, 0.99),
    (1e-3, 1.0, 0.3),
]


def _points(points=POINTS):
    var1, var2, rho = (np.array(v, np.float64) for v in zip(*points))
    return var1, var2, rho * np.sqrt(var1 * var2)


@functools.cache
def _phi_and_derivative(act):
    if act.name in NUMPY:
        return NUMPY[act.name](act)
    phi = jax.jit(lambda x: act(x))
    dphi = jax.jit(jax.vmap(jax.grad(lambda x: act(x))))
    return (lambda x: np.asarray(phi(jnp.asarray(x)), np.float64)), (
        lambda x: np.asarray(dphi(jnp.asarray(x).reshape(-1)), np.float64).reshape(np.shape(x))
    )


def gauss_hermite_reference(act, var1, var2, cov, degree=160):
    """Tensor Gauss-Hermite in Cholesky coordinates (exact for polynomials of degree < 320)."""
    x, w = scipy.special.roots_hermite(degree)
    z, w = np.sqrt(2) * x, w / np.sqrt(np.pi)
    phi, dphi = _phi_and_derivative(act)
    out = []
    for a, b, c in zip(var1, var2, cov):
        k = c / np.sqrt(a)
        r = np.sqrt(max(b - k * k, 0.0))
        u = np.broadcast_to(np.sqrt(a) * z[:, None], (degree, degree))
        v = k * z[:, None] + r * z[None, :]
        ww = w[:, None] * w[None, :]
        out.append((np.sum(ww * phi(u) * phi(v)), np.sum(ww * dphi(u) * dphi(v))))
    return np.array(out).T


def angular_reference(act, n, var1, var2, cov):
    """phi positively homogeneous of degree n: with (z1, z2) = r (cos t, sin t),
    E[phi(u) phi(v)] = 2^n n! / 2 pi * int_0^2pi phi(u(t)) phi(v(t)) dt (E[r^2n] = 2^n n!)."""
    phi, dphi = _phi_and_derivative(act)
    out = []
    for a, b, c in zip(var1, var2, cov):
        rho = np.clip(c / np.sqrt(a * b), -1, 1)
        s = np.sqrt(1 - rho * rho)
        t0 = np.arctan2(-rho, s) % np.pi
        points = sorted({np.pi / 2, 3 * np.pi / 2, t0, t0 + np.pi})

        def integral(f, m, a=a, b=b, rho=rho, s=s, points=points):
            def g(t):
                return f(np.sqrt(a) * np.cos(t)) * f(np.sqrt(b) * (rho * np.cos(t) + s * np.sin(t)))

            with warnings.catch_warnings():  # "roundoff detected" on piecewise-constant integrands
                warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
                value = scipy.integrate.quad(
                    g, 0, 2 * np.pi, points=points, epsabs=1e-15, epsrel=1e-13, limit=200
                )[0]
            return 2**m * math.factorial(m) / (2 * np.pi) * value

        out.append((integral(phi, n), integral(dphi, n - 1) if n > 0 else 0.0))
    return np.array(out).T


def reference(name, act, var1, var2, cov):
    if name in HOMOGENEOUS:
        return angular_reference(act, HOMOGENEOUS[name], var1, var2, cov)
    if name == "rectified_monomial":
        return angular_reference(act, act.degree, var1, var2, cov)
    return gauss_hermite_reference(act, var1, var2, cov)


def _scale(name, act, var1, var2):
    """Cauchy-Schwarz scale sqrt(E[phi(u)^2] E[phi(v)^2]) of each entry (and of the derivatives)."""
    d1 = reference(name, act, var1, var1, var1)
    d2 = reference(name, act, var2, var2, var2)
    return np.sqrt(np.abs(d1 * d2))


@pytest.mark.parametrize("name", CLOSED)
def test_closed_forms_match_independent_reference(name):
    act = activation(name, **PARAMS.get(name, {}))
    var1, var2, cov = _points()
    with jax.enable_x64(True):
        got = np.array(act.kernel(var1, var2, cov))
        ref = reference(name, act, var1, var2, cov)
        scale = np.maximum(_scale(name, act, var1, var2), 1e-300)
    # References accurate to ~1e-13 (quad) / exact up to rounding (Gauss-Hermite on smooth
    # functions of these variances).
    err = np.abs(got - ref) / scale
    assert np.all(err <= 1e-10), (name, err)
    got32 = act.kernel(*(jnp.asarray(v, jnp.float32) for v in (var1, var2, cov)))
    assert all(g.dtype == jnp.float32 for g in got32)
    # float32 rounding (eps 1.2e-7) amplified by the conditioning of each closed form; the angle
    # kernels at rho = 0.99 lose a factor 1/sin(theta) ~ 7.
    err32 = np.abs(np.array(got32, np.float64) - ref) / scale
    assert np.all(err32 <= 2e-5), (name, err32)


@pytest.mark.parametrize("name", [n for n in CLOSED if n not in ("exp",)])
def test_closed_forms_match_monte_carlo(name, x64):
    # Checks the kernel against the activation's own __call__ (conventions), independently of any
    # quadrature: 4e5 samples, tolerance 5 standard errors of the sample mean.
    act = activation(name, **PARAMS.get(name, {}))
    phi, dphi = _phi_and_derivative(act)
    rng = np.random.default_rng(7)
    var1, var2, rho = 0.8, 1.3, 0.6
    cov = rho * np.sqrt(var1 * var2)
    z1, z2 = rng.standard_normal((2, 400_000))
    u = np.sqrt(var1) * z1
    v = cov / np.sqrt(var1) * z1 + np.sqrt(var2 - cov**2 / var1) * z2
    got = act.kernel(var1, var2, cov)
    for sample, value in ((phi(u) * phi(v), got[0]), (dphi(u) * dphi(v), got[1])):
        sem = np.std(sample) / np.sqrt(sample.size)
        assert abs(np.mean(sample) - float(value)) <= 5 * sem + 1e-12, (
            name,
            np.mean(sample),
            value,
        )


def test_exp_matches_lognormal_moments(x64):
    # E[a e^{bu} a e^{bv}] = a^2 E[e^{b(u + v)}], u + v ~ N(0, var1 + var2 + 2 cov).
    act = activation("exp", a=0.7, b=0.5)
    var1, var2, cov = 0.8, 1.3, -0.4
    s = var1 + var2 + 2 * cov
    nngp, dot = act.kernel(var1, var2, cov)
    np.testing.assert_allclose(float(nngp), 0.49 * np.exp(0.25 * s / 2), rtol=1e-14)
    np.testing.assert_allclose(float(dot), 0.25 * 0.49 * np.exp(0.25 * s / 2), rtol=1e-14)


def test_neural_tangents_special_cases(x64):
    var1, var2, cov = _points()
    # relu, leaky_relu and abs are ab_relu(a, b) with (0, 1), (alpha, 1), (-1, 1);
    for name, (a, b) in (("relu", (0.0, 1.0)), ("leaky_relu", (0.2, 1.0)), ("abs", (-1.0, 1.0))):
        np.testing.assert_allclose(
            np.array(activation(name, **PARAMS.get(name, {})).kernel(var1, var2, cov)),
            np.array(activation("ab_relu", a=a, b=b).kernel(var1, var2, cov)),
            rtol=1e-14,
            atol=1e-15,
        )
    # sigmoid_like is erf(1/2, 1/2.4020563531719796, 1/2); cos(a, b, c) is sin(a, b, c + pi/2);
    pairs = (
        ("sigmoid_like", {}, "erf", dict(a=0.5, b=1 / 2.4020563531719796, c=0.5)),
        ("cos", dict(a=0.9, b=1.1, c=-0.4), "sin", dict(a=0.9, b=1.1, c=-0.4 + np.pi / 2)),
        ("monomial", dict(degree=3), "polynomial", dict(coef=(0, 0, 0, 1.0))),
        ("rectified_monomial", dict(degree=1), "relu", {}),
    )
    for n1, p1, n2, p2 in pairs:
        np.testing.assert_allclose(
            np.array(activation(n1, **p1).kernel(var1, var2, cov)),
            np.array(activation(n2, **p2).kernel(var1, var2, cov)),
            rtol=1e-12,
            atol=1e-14,
        )
    # Hermite at unit variances: neural-tangents' cov^n and n cov^(n-1).
    rho = np.linspace(-1, 1, 7)
    nngp, dot = activation("hermite", degree=5).kernel(1.0, 1.0, rho)
    np.testing.assert_allclose(nngp, rho**5, atol=1e-14)
    np.testing.assert_allclose(dot, 5 * rho**4, atol=1e-13)


def test_functions_follow_neural_tangents_definitions(x64):
    x = jnp.linspace(-3, 3, 13)
    expect = {
        "ab_relu": -0.4 * jnp.minimum(x, 0) + 1.3 * jnp.maximum(x, 0),
        "erf": 1.5 * jax.scipy.special.erf(0.7 * x) + 0.2,
        "sin": 1.2 * jnp.sin(0.8 * x + 0.3),
        "rbf": jnp.sqrt(2) * jnp.sin(jnp.sqrt(2 * 0.6) * x + jnp.pi / 4),
        "gaussian": 1.3 * jnp.exp(-0.6 * x**2),
        "rectified_monomial": (x >= 0) * x**2,
        "polynomial": np.polynomial.polynomial.polyval(np.asarray(x), PARAMS["polynomial"]["coef"]),
        "hermite": np.polynomial.hermite_e.hermeval(np.asarray(x), [0, 0, 0, 0, 1]) / np.sqrt(24),
        "sigmoid_like": 0.5 * jax.scipy.special.erf(x / 2.4020563531719796) + 0.5,
    }
    for name, value in expect.items():
        np.testing.assert_allclose(
            activation(name, **PARAMS.get(name, {}))(x), value, rtol=1e-12, atol=1e-12
        )


# --------------------------------------------------------------------------------------------------
# Numerical integration.
# --------------------------------------------------------------------------------------------------


def gauss_legendre_reference(fn, var1, var2, cov, panels=120, order=10, half_width=10.0):
    """Composite Gauss-Legendre on [-10, 10]^2 in Cholesky coordinates, numpy float64."""
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(-half_width, half_width, panels + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    z = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    wz = (half[:, None] * w[None, :]).ravel() * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    k = cov / np.sqrt(var1)
    r = np.sqrt(max(var2 - k * k, 0.0))
    fu = fn(np.sqrt(var1) * z)
    fv = fn(k * z[:, None] + r * z[None, :])
    return float(np.sum(wz * fu * (fv @ wz)))


TANH = (np.tanh, lambda x: 1 / np.cosh(x) ** 2)
SOFTPLUS = (lambda x: np.logaddexp(0, x), scipy.special.expit)
BIG_VARIANCE_POINTS = [
    (25.0, 25.0, 0.9),
    (25.0, 9.0, -0.6),
    (4.0, 25.0, 0.3),
    (25.0, 25.0, 0.999),
    (0.01, 25.0, 0.3),
    (25.0, 25.0, 1.0),
]


@pytest.mark.parametrize("name, fns", [("tanh", TANH), ("softplus", SOFTPLUS)])
def test_default_quadrature_accurate_to_variance_25(name, fns, x64):
    act = activation(name)
    var1, var2, cov = _points(BIG_VARIANCE_POINTS)
    got = np.array(act.kernel(var1, var2, cov))
    for i, (a, b, c) in enumerate(zip(var1, var2, cov)):
        for part, fn in enumerate(fns):
            ref = gauss_legendre_reference(fn, a, b, c)
            assert abs(got[part, i] / ref - 1) < 1e-6, (name, part, a, b, c, got[part, i], ref)


@pytest.mark.slow
@pytest.mark.parametrize("name, fns", [("tanh", TANH), ("softplus", SOFTPLUS)])
def test_default_quadrature_matches_scipy_dblquad(name, fns, x64):
    act = activation(name)
    for a, b, rho in [(25.0, 25.0, 0.9), (16.0, 25.0, -0.5)]:
        c = rho * np.sqrt(a * b)
        got = act.kernel(a, b, c)
        k, r = c / np.sqrt(a), np.sqrt(b - c * c / a)
        for part, fn in enumerate(fns):

            def integrand(z2, z1, fn=fn, a=a, k=k, r=r):
                g = np.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * np.pi)
                return fn(np.sqrt(a) * z1) * fn(k * z1 + r * z2) * g

            ref = scipy.integrate.dblquad(integrand, -10, 10, -10, 10, epsabs=1e-13, epsrel=1e-11)[
                0
            ]
            assert abs(float(got[part]) / ref - 1) < 1e-6, (name, part, a, b, rho)


def test_default_quadrature_matches_erf_closed_form_on_a_grid(x64):
    # erf(z) at standard deviation 5 is as sharp as tanh; its kernel is known in closed form.
    closed = activation("erf")
    numerical = from_callable(jax.scipy.special.erf)
    variances = np.array([0.01, 1.0, 5.0, 25.0])
    rho = np.array([-1.0, -0.9, -0.3, 0.0, 0.5, 0.99, 1.0])
    v1, v2, r = np.meshgrid(variances, variances, rho, indexing="ij")
    cov = r * np.sqrt(v1 * v2)
    got = np.array(numerical.kernel(v1, v2, cov))
    ref = np.array(closed.kernel(v1, v2, cov))
    scale = np.sqrt(np.array(closed.kernel(v1, v1, v1)) * np.array(closed.kernel(v2, v2, v2)))
    assert np.max(np.abs(got - ref) / scale) < 1e-6


@pytest.mark.parametrize("degree", [370, 371, 372, 700])
def test_hermite_rule_stable_at_high_degree(degree, x64):
    # numpy's hermgauss breaks at degree 371 (wrong) and 372 (NaN); scipy's roots do not.
    z, w = A._rule("hermite", degree)
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(w))
    np.testing.assert_allclose(np.sum(w * z**2), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.sum(w * z**4), 3.0, rtol=1e-12)
    act = from_callable(jnp.sin, rule="hermite", degree=degree)
    got = np.array(act.kernel(1.3, 0.8, 0.4))
    ref = np.array(activation("sin").kernel(1.3, 0.8, 0.4))
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_hermite_rule_exact_for_polynomials(x64):
    coef = (0.5, -1.0, 0.2, 0.7, -0.1)
    act = from_callable(lambda x: jnp.polyval(jnp.asarray(coef[::-1]), x), rule="hermite", degree=6)
    var1, var2, cov = _points()
    np.testing.assert_allclose(
        np.array(act.kernel(var1, var2, cov)),
        np.array(activation("polynomial", coef=coef).kernel(var1, var2, cov)),
        rtol=1e-12,
        atol=1e-12,
    )


def test_quadrature_identical_pairs_and_float32(x64):
    act = activation("tanh")
    var = np.array([0.5, 3.0, 25.0])
    # identical: v = u exactly, the 1-D expectations.
    got = np.array(act.kernel(var, var, var * (1 - 1e-9), identical=True))
    ref = np.array(act.kernel(var, var, var))
    for i, v in enumerate(var):
        assert abs(got[0, i] / gauss_legendre_reference(np.tanh, v, v, v) - 1) < 1e-9
    np.testing.assert_allclose(got, ref, rtol=1e-8)
    with jax.enable_x64(False):
        got32 = act.kernel(*(jnp.asarray(v, jnp.float32) for v in (var, var[::-1], 0.3 * var)))
        assert got32[0].dtype == jnp.float32
    ref = np.array(act.kernel(var, var[::-1], 0.3 * var))
    np.testing.assert_allclose(np.array(got32, np.float64), ref, rtol=2e-5, atol=1e-6)


def test_quadrature_large_shapes_use_the_memory_light_path(x64, monkeypatch):
    act = activation("softplus", degree=21)
    var1, var2, cov = _points()
    fast = np.array(act.kernel(var1, var2, cov))
    monkeypatch.setattr(A, "_INNER_VECTOR_LIMIT", 20)  # blocks of 2 nodes, 11 blocks (1 padded)
    A._compiled_kernel.clear_cache()
    slow = np.array(act.kernel(var1, var2, cov))
    np.testing.assert_allclose(slow, fast, rtol=1e-13)


# --------------------------------------------------------------------------------------------------
# Collinear inputs.
# --------------------------------------------------------------------------------------------------


ANGLE_KERNELS = ("relu", "leaky_relu", "ab_relu", "abs", "sign", "rectified_monomial")


@pytest.mark.parametrize("name", ANGLE_KERNELS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identical_and_rounded_collinear_pairs_are_exact(name, dtype):
    with jax.enable_x64(dtype == "float64"):
        act = activation(name, **PARAMS.get(name, {}))
        var = jnp.asarray([0.7, 2.3, 11.0], dtype)
        exact = act.kernel(var, var, var)
        # identical mask: cov rounded below var by 3 ulps.
        cov = var * (1 - 3 * jnp.finfo(dtype).eps)
        for got in (act.kernel(var, var, cov, identical=True), act.kernel(var, var, cov)):
            for g, e in zip(got, exact):
                np.testing.assert_array_equal(np.asarray(g), np.asarray(e))
        # Anti-collinear: cov = -var rounded, also snapped.
        anti = act.kernel(var, var, -var)
        rounded = act.kernel(var, var, -cov)
        for g, e in zip(rounded, anti):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(e))


def _sign_reference(x1, x2, depth, w_std, b_std):
    """Sign network NNGP, accurate for collinear inputs: tracks 1 - rho and 1 + rho.

    Layer 1: q1 q2 - c^2 = w^4 |x ^ x'|^2 / d^2 + w^2 b^2 |x - x'|^2 / d (Lagrange's identity, exact
    zero for collinear inputs); after a sign layer the variances are w^2 + b^2 and rho' =
    (w^2 (1 - 2 theta / pi) + b^2) / (w^2 + b^2), with theta from the smaller of 1 -+ rho.
    """
    w2, b2 = w_std**2, b_std**2
    d = x1.shape[1]
    out = np.zeros((len(x1), len(x2)))
    for i, x in enumerate(x1):
        for j, y in enumerate(x2):
            q1, q2, c = w2 * x @ x / d + b2, w2 * y @ y / d + b2, w2 * x @ y / d + b2
            wedge = sum((x[k] * y[m] - x[m] * y[k]) ** 2 for k in range(d) for m in range(k))
            gap = w2 * w2 * wedge / d**2 + w2 * b2 * np.sum((x - y) ** 2) / d  # q1 q2 - c^2
            root = np.sqrt(q1 * q2)
            one_minus = gap / (root * (root + c)) if c > 0 else 1 - c / root
            one_plus = gap / (root * (root - c)) if c < 0 else 1 + c / root
            for _ in range(depth):
                if one_minus <= one_plus:
                    theta = 2 * np.arcsin(np.sqrt(one_minus / 2))
                else:
                    theta = np.pi - 2 * np.arcsin(np.sqrt(one_plus / 2))
                e = 1 - 2 * theta / np.pi  # E[sign(u) sign(v)], var after sign = 1
                var = w2 + b2
                one_minus = w2 * (2 * theta / np.pi) / var
                one_plus = (w2 * (2 - 2 * theta / np.pi) + 2 * b2) / var
                c = w2 * e + b2
            out[i, j] = c
    return out


@jax.jit
def _sign_network(x1, x2, w_std, b_std):
    """NNGPs of (Dense, sign)^depth, Dense for depth 1..4, through Activation.kernel with the
    identical mask."""
    act = activation("sign")
    w2, b2 = w_std**2, b_std**2
    d = x1.shape[1]
    var1 = w2 * jnp.sum(x1 * x1, 1) / d + b2
    var2 = w2 * jnp.sum(x2 * x2, 1) / d + b2
    cov = w2 * x1 @ x2.T / d + b2
    same = identical_pairs(x1, x2)
    out = []
    for _ in range(4):
        e, _ = act.kernel(var1[:, None], var2[None, :], cov, identical=same)
        e1, _ = act.kernel(var1, var1, var1, identical=True)
        e2, _ = act.kernel(var2, var2, var2, identical=True)
        cov, var1, var2 = w2 * e + b2, w2 * e1 + b2, w2 * e2 + b2
        out.append(cov)
    return out


@pytest.mark.parametrize("b_std", [0.0, 0.3])
def test_sign_networks_exact_on_collinear_inputs(b_std, x64):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 3))
    cases = {
        "x2 = x1 explicitly": (x, x.copy()),
        "rows repeated across x1 and x2": (
            x,
            np.concatenate([x[3:], rng.normal(size=(2, 3)), x[:2]]),
        ),
        "1-D inputs": (rng.normal(size=(6, 1)), rng.normal(size=(4, 1))),
        "scaled rows": (x, np.concatenate([2 * x[:2], -0.5 * x[2:4]])),
    }
    for label, (x1, x2) in cases.items():
        kernels = _sign_network(jnp.asarray(x1), jnp.asarray(x2), 1.3, b_std)
        for depth in (2, 3, 4):
            got = np.asarray(kernels[depth - 1])
            ref = _sign_reference(x1, x2, depth, 1.3, b_std)
            err = np.max(np.abs(got - ref) / np.abs(ref).max())
            assert err < 1e-6, (label, depth, err)


def test_identical_pairs():
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(6, 2, 3)).astype(np.float32)
    x2 = np.concatenate([x1[[4, 1]], rng.normal(size=(2, 2, 3)).astype(np.float32), x1[[4]]])
    x2[1, 0, 0] = np.nextafter(x2[1, 0, 0], np.float32(10))  # one ulp away: not identical
    mask = np.asarray(identical_pairs(jnp.asarray(x1), jnp.asarray(x2)))
    expect = np.all(x1[:, None] == x2[None], axis=(2, 3))
    np.testing.assert_array_equal(mask, expect)
    assert mask.sum() == 2
    # x2 = None: the diagonal plus repeated rows of x1; -0.0 equals 0.0; jit-able; float64.
    with jax.enable_x64(True):
        x = jnp.asarray([[0.0, 1.0], [1.0, 2.0], [-0.0, 1.0]], jnp.float64)
        mask = np.asarray(jax.jit(identical_pairs)(x))
    np.testing.assert_array_equal(mask, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match="same trailing shape"):
        identical_pairs(jnp.ones((2, 3)), jnp.ones((2, 4)))


def test_identical_pairs_survives_hash_collisions(monkeypatch):
    # With a constant fingerprint every pair is a candidate: the exact checks still never flag
    # different rows (a collision can only unflag rows).
    monkeypatch.setattr(A, "_fingerprints", lambda rows: jnp.zeros((rows.shape[0], 2), jnp.uint32))
    A._identical_rows.clear_cache()
    x1 = jnp.asarray([[1.0, 2.0], [3.0, 4.0]])
    x2 = jnp.asarray([[1.0, 2.0], [1.0, 2.0], [5.0, 6.0]])
    np.testing.assert_array_equal(identical_pairs(x1, x2), [[1, 1, 0], [0, 0, 0]])
    mask = np.asarray(identical_pairs(x2))
    exact = np.all(np.asarray(x2)[:, None] == np.asarray(x2)[None], -1)
    assert not np.any(mask & ~exact) and mask[:2, :2].all()
    A._identical_rows.clear_cache()


# --------------------------------------------------------------------------------------------------
# Interface: broadcasting, jit, hashing, bad input.
# --------------------------------------------------------------------------------------------------


def test_registry_names_hashing_and_broadcasting():
    assert ACTIVATIONS == (
        "relu", "leaky_relu", "ab_relu", "abs", "erf", "gelu", "sign", "sin", "cos", "rbf", "exp",
        "gaussian", "monomial", "rectified_monomial", "polynomial", "hermite", "sigmoid_like",
        "identity", "tanh", "softplus",
    )  # fmt: skip
    var1, var2 = jnp.linspace(0.5, 1.5, 4)[:, None], jnp.linspace(0.7, 1.2, 3)[None, :]
    cov = 0.3 * jnp.sqrt(var1 * var2)
    for name in ACTIVATIONS:
        params = PARAMS.get(name, {})
        act = activation(name, **params)
        assert act.name == name
        assert act == activation(name, **params) and hash(act) == hash(activation(name, **params))
        nngp, dot = jax.eval_shape(
            lambda a, b, c, act=act: act.kernel(a, b, c, identical=jnp.zeros((4, 3), bool)),
            var1,
            var2,
            cov,
        )
        assert nngp.shape == dot.shape == (4, 3), name
        assert nngp.dtype == dot.dtype == jnp.float32, name
        scalar = jax.eval_shape(act.kernel, 1.0, 1.0, 0.0)
        assert scalar[0].shape == scalar[1].shape == ()
        assert jax.eval_shape(act, jnp.ones((2, 3))).shape == (2, 3)


def test_activations_are_static_arguments_and_parameters_may_be_traced():
    @jax.jit
    def leaky(alpha):
        return A.LeakyRelu(alpha=alpha).kernel(1.0, 2.0, 0.5)[0]

    got = [float(leaky(jnp.asarray(a))) for a in (0.1, 0.2)]
    want = [float(activation("leaky_relu", alpha=a).kernel(1.0, 2.0, 0.5)[0]) for a in (0.1, 0.2)]
    np.testing.assert_allclose(got, want, rtol=1e-6)

    @jax.jit
    def poly(c1):
        return A.Polynomial(coef=(0.3, c1, 0.5)).kernel(1.0, 2.0, 0.5)

    want = activation("polynomial", coef=(0.3, -1.0, 0.5)).kernel(1.0, 2.0, 0.5)
    np.testing.assert_allclose(poly(jnp.asarray(-1.0)), want, rtol=1e-6)

    # from_callable's elementwise probe runs on concrete values even under a trace.
    traced = jax.jit(lambda v: from_callable(jnp.sin, degree=41).kernel(v, v, 0.5 * v))(1.0)
    np.testing.assert_allclose(traced, activation("sin").kernel(1.0, 1.0, 0.5), rtol=1e-5)

    kernel = jax.jit(lambda act, c: act.kernel(1.0, 1.0, c), static_argnums=0)
    for name in ("relu", "erf"):
        np.testing.assert_allclose(
            kernel(activation(name), 0.5), activation(name).kernel(1.0, 1.0, 0.5)
        )


def _softmax(x):
    return jax.nn.softmax(x)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: activation("swish"), ValueError, "'relu', 'leaky_relu'"),
        (lambda: activation(3), TypeError, "activation name"),
        (
            lambda: activation("erf", d=1.0),
            ValueError,
            r"unknown parameter\(s\) \['d'\].*\('a', 'b', 'c'\)",
        ),
        (lambda: activation("ab_relu", a=1.0), ValueError, r"missing parameter\(s\) \['b'\]"),
        (lambda: activation("relu", alpha=0.1), ValueError, "unknown parameter"),
        (
            lambda: activation("leaky_relu", alpha="x"),
            TypeError,
            "`alpha` of activation 'leaky_relu'",
        ),
        (
            lambda: activation("erf", b=float("nan")),
            ValueError,
            "`b` of activation 'erf' must be finite",
        ),
        (lambda: activation("monomial", degree=-1), ValueError, "activation 'monomial'.*`degree`"),
        (lambda: activation("hermite", degree=2.0), TypeError, "activation 'hermite'.*`degree`"),
        (lambda: activation("rectified_monomial", degree=101), ValueError, "<= 100"),
        (lambda: activation("polynomial", coef=()), ValueError, "`coef`"),
        (lambda: activation("polynomial", coef="12"), TypeError, "`coef`"),
        (lambda: activation("polynomial", coef=(1.0, float("inf"))), ValueError, r"`coef\[1\]`"),
        (lambda: activation("rbf", gamma=-1.0), ValueError, "`gamma`"),
        (lambda: activation("tanh", degree=2), ValueError, "`degree`"),
        (lambda: activation("tanh", rule="simpson"), ValueError, "`rule`"),
        (lambda: from_callable("tanh"), TypeError, "`fn` must be callable"),
        (lambda: from_callable(_softmax), ValueError, "elementwise"),
        (lambda: from_callable(jnp.sum), ValueError, "elementwise"),
        (lambda: from_callable(jnp.tanh, rule="hermite", degree=0), ValueError, "`degree`"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --------------------------------------------------------------------------------------------------
# neural-tangents 0.6.5 (fixtures from tests/reference/make_nt_activation_fixtures.py).
# --------------------------------------------------------------------------------------------------

NT_REFERENCE = pathlib.Path(__file__).parents[1] / "reference"
NT_FIXTURES = np.load(NT_REFERENCE / "nt_activations.npz")
NT_SETTINGS = json.loads((NT_REFERENCE / "nt_activations.json").read_text())


@pytest.mark.parametrize("key", sorted(NT_SETTINGS["cases"]))
def test_matches_neural_tangents(key, x64):
    # stax.serial(Dense(1, W_std, b_std), Act): the NNGP is E[phi phi] at the Dense covariance and
    # the NTK is that covariance times E[phi' phi'] (NTK parameterization).
    act = activation(key.split("/")[0], **NT_SETTINGS["cases"][key])
    hermite = key.startswith("hermite")
    w2, b2 = (1.0, 0.0) if hermite else (NT_SETTINGS["W_std"] ** 2, NT_SETTINGS["b_std"] ** 2)
    x1 = NT_FIXTURES["unit1" if hermite else "x1"]
    x2 = NT_FIXTURES["unit2" if hermite else "x2"]
    # One call for both fixtures: columns of x2 then x1 (the identical mask covers x1 with x1).
    both = np.concatenate([x2, x1])
    cov = w2 * x1 @ both.T / 3 + b2
    var1, var2 = w2 * np.sum(x1**2, 1) / 3 + b2, w2 * np.sum(both**2, 1) / 3 + b2
    nngp, dot = act.kernel(var1[:, None], var2[None, :], cov, identical=identical_pairs(x1, both))
    for mode, cols in (("cross", slice(0, len(x2))), ("sym", slice(len(x2), None))):
        for part, value in (("nngp", nngp[:, cols]), ("ntk", (cov * dot)[:, cols])):
            ref = NT_FIXTURES[f"{key}/{mode}/{part}"]
            value = np.asarray(value)
            finite = np.isfinite(ref)
            if key.startswith("rectified_monomial") and mode == "sym":
                # neural-tangents divides by sin(theta) and returns NaN for identical pairs.
                # (degree 0's NTK is 0 everywhere: finite.)
                if not (act.degree == 0 and part == "ntk"):
                    np.testing.assert_array_equal(finite, ~np.eye(len(x1), dtype=bool))
                # E[phi(u)^2] = (2n-1)!!/2 var^n; E[phi'(u)^2] var = n^2 (2n-3)!!/2 var^n.
                n = act.degree
                diag = _double_factorial(2 * n - 1) / 2 * var1**n
                if part == "ntk":
                    diag = diag * (n * n / (2 * n - 1) if n else 0.0)
                np.testing.assert_allclose(np.diag(value), diag, rtol=1e-13)
            else:
                assert finite.all()
            scale = max(np.max(np.abs(ref[finite])), 1e-300)
            err = np.max(np.abs(value[finite] - ref[finite])) / scale
            assert err < 1e-10, (key, mode, part, err)


def _double_factorial(n):
    return math.prod(range(n, 0, -2)) if n > 0 else 1


@pytest.mark.parametrize("name", ["relu", "abs", "rectified_monomial", "gelu", "erf", "tanh"])
def test_gradients_finite_at_identical_and_generic_pairs(name, x64):
    # Kernels are differentiated with respect to the scales (e.g. weight_std): the angle's
    # infinite derivative at rho = 1 must not leak NaNs into identical or collinear pairs.
    act = activation(name, **PARAMS.get(name, {}))
    var = jnp.asarray([0.7, 1.5])
    same = jnp.asarray([True, False])

    def total(s):
        nngp, dot = act.kernel(s * var, s * var[::-1], s * jnp.asarray([0.7, 0.4]), identical=same)
        return jnp.sum(nngp + dot)

    g = jax.grad(total)(1.3)
    fd = (total(1.3 + 1e-6) - total(1.3 - 1e-6)) / 2e-6
    assert np.isfinite(g)
    np.testing.assert_allclose(g, fd, rtol=1e-6)


@pytest.mark.parametrize("name", ["sign", "rectified_monomial", "abs"])
def test_non_smooth_kernels_match_wide_networks(name, x64):
    # Depth-2 (Dense, phi) networks of width 1024, 8 seeds (numpy float64): the readout's
    # conditional covariance w^2 mean_k phi(h_k(x)) phi(h_k(x')) + b^2 fluctuates by O(N^-1/2)
    # around the infinite-width NNGP (bias O(1/N)). Units of one network share its first layer, so
    # the standard error is the larger of the one over units and the one over seeds; tolerance 5
    # of those plus 4/N for the bias. Inputs include identical and collinear rows.
    act = activation(name, **({"degree": 0} if name == "rectified_monomial" else {}))
    phi, _ = _phi_and_derivative(act)
    rng = np.random.default_rng(11)
    x1 = rng.normal(size=(3, 3))
    x2 = np.concatenate([x1[:1], -2 * x1[1:2], rng.normal(size=(2, 3))])
    w_std, b_std, width, seeds = 1.3, 0.3, 1024, 8
    products = []
    for _ in range(seeds):
        first, first_bias = rng.normal(size=(3, width)), rng.normal(size=width)
        h1, h2 = (w_std * x @ first / np.sqrt(3) + b_std * first_bias for x in (x1, x2))
        weights, bias = rng.normal(size=(width, width)), rng.normal(size=width)
        g1, g2 = (w_std * phi(h) @ weights / np.sqrt(width) + b_std * bias for h in (h1, h2))
        products.append(w_std**2 * phi(g1)[:, None, :] * phi(g2)[None, :, :] + b_std**2)
    products = np.stack(products)  # (seeds, 3, 4, width)
    estimate = products.mean((0, -1))
    sem_units = products.std((0, -1)) / np.sqrt(seeds * width)
    sem_seeds = products.mean(-1).std(0, ddof=1) / np.sqrt(seeds)
    sem = np.maximum(sem_units, sem_seeds)

    w2, b2 = w_std**2, b_std**2
    cov = w2 * x1 @ x2.T / 3 + b2
    var1, var2 = w2 * np.sum(x1**2, 1) / 3 + b2, w2 * np.sum(x2**2, 1) / 3 + b2
    same = identical_pairs(x1, x2)
    for _ in range(2):
        e, _ = act.kernel(var1[:, None], var2[None, :], cov, identical=same)
        e1, _ = act.kernel(var1, var1, var1, identical=True)
        e2, _ = act.kernel(var2, var2, var2, identical=True)
        cov, var1, var2 = (
            w2 * np.asarray(e) + b2,
            w2 * np.asarray(e1) + b2,
            w2 * np.asarray(e2) + b2,
        )
    assert np.all(np.abs(estimate - cov) <= 5 * sem + 4 / width), (estimate, cov, sem)
    assert np.all(sem < 0.03 * np.abs(cov).max())  # resolves errors of 15% of the kernel


def test_mlp_kernels_sign_exact_on_collinear_inputs(x64):
    # theory.mlp_kernels routes identical input pairs through the activations' `identical` mask
    # (identical_pairs) and the angle snaps (anti-)collinear pairs: depth 2-4 sign networks agree
    # with the exact recursion to 1e-6 (they were off by 1e-4 to 9e-2 before).
    from lazyrich import theory

    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 3))
    cases = {
        "x2 = x1 explicitly": (x, x.copy()),
        "rows repeated": (x, np.concatenate([x[3:], rng.normal(size=(2, 3)), x[:2]])),
        "1-D inputs": (rng.normal(size=(6, 1)), rng.normal(size=(4, 1))),
    }
    for b_std in (0.0, 0.3):
        for label, (x1, x2) in cases.items():
            for depth in (2, 3, 4):
                kw = dict(depth=depth, activation="sign", weight_std=1.3, bias_std=b_std)
                got = theory.mlp_kernels(jnp.asarray(x1), jnp.asarray(x2), **kw).nngp
                ref = _sign_reference(x1, x2, depth, 1.3, b_std)
                err = np.max(np.abs(np.asarray(got) - ref)) / np.abs(ref).max()
                assert err < 1e-6, (label, b_std, depth, err)
    # Tiled (rows and columns in blocks of 2) with x2 given: the same routing per tile.
    x1, x2 = cases["rows repeated"]
    got = theory.mlp_kernels(
        jnp.asarray(x1), jnp.asarray(x2), depth=3, activation="sign", weight_std=1.3, batch_size=2
    ).nngp
    ref = _sign_reference(x1, x2, 3, 1.3, 0.0)
    assert np.max(np.abs(np.asarray(got) - ref)) / np.abs(ref).max() < 1e-6
    # x2 = None with repeated rows of x1: the repeats are identical pairs too.
    x1 = np.concatenate([x, x[:2]])
    got = theory.mlp_kernels(jnp.asarray(x1), depth=3, activation="sign", weight_std=1.3).nngp
    ref = _sign_reference(x1, x1, 3, 1.3, 0.0)
    assert np.max(np.abs(np.asarray(got) - ref)) / np.abs(ref).max() < 1e-6
