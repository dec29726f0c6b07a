"""Closed-form MSE dynamics: NT fixtures, kernel regression, ODE, linearized network."""

import pathlib

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from lazyrich import theory

FIXTURES = np.load(pathlib.Path(__file__).parents[1] / "reference" / "nt_kernels.npz")


def fixture_kernels():
    kdd = theory.Kernels(jnp.asarray(FIXTURES["kdd_nngp"]), jnp.asarray(FIXTURES["kdd_ntk"]))
    ktd = theory.Kernels(jnp.asarray(FIXTURES["ktd_nngp"]), jnp.asarray(FIXTURES["ktd_ntk"]))
    return kdd, ktd, jnp.asarray(FIXTURES["ktt_nngp"])


@pytest.mark.parametrize("diag_reg", [0.0, 0.1])
def test_gradient_flow_matches_neural_tangents(diag_reg, x64):
    kdd, ktd, _ = fixture_kernels()
    y, f0tr, f0te = (jnp.asarray(FIXTURES[k]) for k in ("ytr", "f0tr", "f0te"))
    times = jnp.asarray(FIXTURES["times"])
    kw = dict(
        learning_rate=0.7, f0_train=f0tr, k_test_train=ktd.ntk, f0_test=f0te, diag_reg=diag_reg
    )
    ftr, fte = theory.mse_gradient_flow(kdd.ntk, y, times, **kw)
    assert ftr.shape == (4, 6, 2) and fte.shape == (4, 4, 2)
    np.testing.assert_allclose(ftr, FIXTURES[f"gd_mse/reg{diag_reg}/train"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fte, FIXTURES[f"gd_mse/reg{diag_reg}/test"], rtol=1e-8, atol=1e-10)
    ftr, fte = theory.mse_gradient_flow(kdd.ntk, y, None, **kw)
    np.testing.assert_allclose(
        ftr, FIXTURES[f"gd_mse/reg{diag_reg}/train_inf"], rtol=1e-7, atol=1e-9
    )
    np.testing.assert_allclose(
        fte, FIXTURES[f"gd_mse/reg{diag_reg}/test_inf"], rtol=1e-7, atol=1e-9
    )


@pytest.mark.parametrize("kernel", ["ntk", "nngp"])
@pytest.mark.parametrize("diag_reg", [0.0, 0.1])
def test_ensemble_matches_neural_tangents(kernel, diag_reg, x64):
    kdd, ktd, ktt = fixture_kernels()
    y = jnp.asarray(FIXTURES["ytr"])
    times = jnp.asarray(FIXTURES["times"])[1:]
    tol = dict(rtol=1e-7, atol=1e-9)
    for label, t in (("t", times), ("inf", None)):
        g = theory.gradient_descent_mse_ensemble(
            kdd,
            y,
            t,
            k_test_train=ktd,
            nngp_test_test=ktt,
            kernel=kernel,
            learning_rate=0.7,
            diag_reg=diag_reg,
        )
        ref = f"ensemble/reg{diag_reg}/{label}/{kernel}"
        np.testing.assert_allclose(g.mean, FIXTURES[ref + "/mean"], **tol)
        np.testing.assert_allclose(g.covariance, FIXTURES[ref + "/cov"], **tol)
    # t = inf is NT's gp_inference (NNGP: the Bayesian posterior).
    g = theory.gradient_descent_mse_ensemble(
        kdd, y, None, k_test_train=ktd, nngp_test_test=ktt, kernel=kernel, diag_reg=diag_reg
    )
    np.testing.assert_allclose(g.mean, FIXTURES[f"gp/reg{diag_reg}/{kernel}/mean"], **tol)
    np.testing.assert_allclose(g.covariance, FIXTURES[f"gp/reg{diag_reg}/{kernel}/cov"], **tol)


@pytest.mark.parametrize("kernel", ["ntk", "nngp"])
def test_ensemble_on_training_set_matches_neural_tangents(kernel, x64):
    kdd, _, _ = fixture_kernels()
    y = jnp.asarray(FIXTURES["ytr"])
    times = jnp.asarray(FIXTURES["times"])[1:]
    g = theory.gradient_descent_mse_ensemble(kdd, y, times, kernel=kernel, learning_rate=0.7)
    ref = f"ensemble_train/reg0.0/{kernel}"
    np.testing.assert_allclose(g.mean, FIXTURES[ref + "/mean"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g.covariance, FIXTURES[ref + "/cov"], rtol=1e-7, atol=1e-9)


def test_max_learning_rate_matches_neural_tangents(x64):
    kdd, _, _ = fixture_kernels()
    for momentum in (0.0, 0.9):
        lr = theory.max_learning_rate(kdd.ntk, num_outputs=2, momentum=momentum)
        np.testing.assert_allclose(lr, FIXTURES[f"max_lr/m{momentum}"], rtol=1e-10)


def test_max_learning_rate_is_the_stability_edge(getkey, x64):
    x = jax.random.normal(getkey(), (8, 3), jnp.float64)
    k = theory.mlp_kernels(x, depth=2, bias_std=0.1).ntk
    y = jax.random.normal(getkey(), (8,), jnp.float64)
    eta = theory.max_learning_rate(k)

    def residual_after(lr, steps=400):
        f = jnp.zeros(8)
        for _ in range(steps):
            f = f - lr / 8 * k @ (f - y)
        return float(jnp.linalg.norm(f - y))

    assert residual_after(0.98 * eta) < residual_after(0.0 + 1e-9)
    assert residual_after(1.02 * eta) > 1e3


def _problem(key, num_train=7, num_test=5, num_out=2):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    x = jax.random.normal(k1, (num_train + num_test, 3), jnp.float64)
    k = theory.mlp_kernels(x, depth=3, bias_std=0.1, activation="erf", weight_std=1.5).ntk
    y = jax.random.normal(k2, (num_train, num_out), jnp.float64)
    f0 = jax.random.normal(k3, (num_train + num_test, num_out), jnp.float64)
    return k[:num_train, :num_train], k[num_train:, :num_train], y, f0[:num_train], f0[num_train:]


def test_infinite_time_is_kernel_regression(getkey, x64):
    kdd, ktd, y, f0, g0 = _problem(getkey())
    ftr, fte = theory.mse_gradient_flow(kdd, y, jnp.inf, f0_train=f0, k_test_train=ktd, f0_test=g0)
    np.testing.assert_allclose(ftr, y, atol=1e-8)
    np.testing.assert_allclose(fte, g0 + ktd @ jnp.linalg.solve(kdd, y - f0), rtol=1e-8, atol=1e-8)
    # A long finite time approaches the same limit.
    ftr_long, _ = theory.mse_gradient_flow(kdd, y, 1e9, f0_train=f0)
    np.testing.assert_allclose(ftr_long, y, atol=1e-6)


def test_agrees_with_ode_integration(getkey, x64):
    kdd, ktd, y, f0, g0 = _problem(getkey())
    num_train, num_out = y.shape
    eta = 0.3
    times = np.array([0.0, 0.7, 5.0, 30.0])

    def rhs(_, state):
        f = state[: f0.size].reshape(f0.shape)
        r = f - np.asarray(y)
        dtrain = -eta / (num_train * num_out) * np.asarray(kdd) @ r
        dtest = -eta / (num_train * num_out) * np.asarray(ktd) @ r
        return np.concatenate([dtrain.ravel(), dtest.ravel()])

    sol = solve_ivp(
        rhs,
        (0, times[-1]),
        np.concatenate([np.ravel(f0), np.ravel(g0)]),
        t_eval=times,
        rtol=1e-11,
        atol=1e-12,
        method="DOP853",
    )
    ftr, fte = theory.mse_gradient_flow(
        kdd, y, times, learning_rate=eta, f0_train=f0, k_test_train=ktd, f0_test=g0
    )
    ode_train = sol.y[: f0.size].T.reshape(len(times), *f0.shape)
    ode_test = sol.y[f0.size :].T.reshape(len(times), *g0.shape)
    # The integrator's tolerance is 1e-11 relative; allow 1e-8.
    np.testing.assert_allclose(ftr, ode_train, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fte, ode_test, rtol=1e-8, atol=1e-9)


def test_equals_linearized_network_trained_by_gradient_descent(getkey, x64):
    # A width-32, depth-2 tanh MLP (NTK parameterization), linearized at its initialization and
    # trained by full-batch GD on the loss 1/(2P) sum (f - y)^2; its empirical NTK drives the closed
    # form.
    widths = (3, 32, 32, 1)
    keys = jax.random.split(getkey(), 4)
    params = [
        (
            jax.random.normal(k, (m, n), jnp.float64),
            jax.random.normal(jax.random.fold_in(k, 1), (n,)),
        )
        for k, m, n in zip(keys, widths[:-1], widths[1:])
    ]

    def apply(p, x):
        h = x
        for i, (w, b) in enumerate(p):
            h = h @ w / jnp.sqrt(w.shape[0]) + 0.1 * b
            if i < len(p) - 1:
                h = jnp.tanh(h)
        return h[:, 0]

    x = jax.random.normal(keys[3], (10, 3), jnp.float64)
    xtr, xte = x[:6], x[6:]
    y = jnp.sin(xtr[:, 0])
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    jac = jax.jacrev(lambda w, xx: apply(unravel(w), xx))
    jtr, jte = jac(flat, xtr), jac(flat, xte)
    f0tr, f0te = apply(params, xtr), apply(params, xte)
    eta, steps = 0.02, 2000

    def train(lr, num_steps):
        def step(w, _):
            r = f0tr + jtr @ (w - flat) - y
            return w - lr * jtr.T @ r / 6, None

        w, _ = jax.lax.scan(step, flat, length=num_steps)
        return f0tr + jtr @ (w - flat), f0te + jte @ (w - flat)

    ktr, kte = jtr @ jtr.T, jte @ jtr.T
    ftr, fte = theory.mse_gradient_flow(
        ktr, y, steps, learning_rate=eta, f0_train=f0tr, k_test_train=kte, f0_test=f0te
    )
    lin_train, lin_test = train(eta, steps)
    half_train, half_test = train(eta / 2, 2 * steps)
    # GD multiplies each mode by (1 - eta lam / P)^k, the flow by exp(-eta lam k / P); per mode the
    # difference is <= k (eta lam / P)^2 exp(-eta lam k / P) / 2 <= 2 (eta lam_max / P) / e^2, times
    # the initial residual.
    lam_max = float(jnp.linalg.eigvalsh(ktr)[-1])
    bound = 2 * eta * lam_max / 6 / np.e**2 * float(jnp.linalg.norm(f0tr - y))
    assert bound < 0.05
    np.testing.assert_allclose(lin_train, ftr, atol=bound)
    # The discrepancy is first order in the step: halving the step halves it (train and test).
    for gd, gd_half, flow in ((lin_train, half_train, ftr), (lin_test, half_test, fte)):
        err, err_half = float(jnp.max(jnp.abs(gd - flow))), float(jnp.max(jnp.abs(gd_half - flow)))
        assert 0.4 < err_half / err < 0.6, (err, err_half)


def test_time_axis_and_one_eigendecomposition(getkey, x64):
    kdd, ktd, y, f0, g0 = _problem(getkey())
    times = jnp.array([0.0, 1.0, 2.0])
    ftr, fte = theory.mse_gradient_flow(kdd, y, times, f0_train=f0, k_test_train=ktd, f0_test=g0)
    for i, t in enumerate(times):
        a, b = theory.mse_gradient_flow(kdd, y, t, f0_train=f0, k_test_train=ktd, f0_test=g0)
        np.testing.assert_allclose(ftr[i], a, rtol=1e-12)
        np.testing.assert_allclose(fte[i], b, rtol=1e-12)
    np.testing.assert_allclose(ftr[0], f0, rtol=1e-12)
    # 1-D targets keep their shape; no test data gives None.
    a, b = theory.mse_gradient_flow(kdd, y[:, 0], times)
    assert a.shape == (3, y.shape[0]) and b is None
    text = str(jax.make_jaxpr(lambda t: theory.mse_gradient_flow(kdd, y, t))(times))
    assert text.count("= eigh[") == 1, text


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtypes_and_jit(dtype, getkey):
    with jax.enable_x64(dtype == "float64"):
        x = jax.random.normal(getkey(), (6, 3), dtype)
        k = theory.mlp_kernels(x, depth=2, bias_std=0.1)
        y = jax.random.normal(getkey(), (4, 1), dtype)
        kdd, ktd = (
            theory.Kernels(k.nngp[:4, :4], k.ntk[:4, :4]),
            theory.Kernels(k.nngp[4:, :4], k.ntk[4:, :4]),
        )
        f = jax.jit(
            lambda t, lr: theory.mse_gradient_flow(
                kdd.ntk, y, t, learning_rate=lr, k_test_train=ktd.ntk
            )
        )
        ftr, fte = f(jnp.asarray(2.0, dtype), jnp.asarray(0.5, dtype))
        assert ftr.dtype == fte.dtype == jnp.dtype(dtype)
        g = jax.jit(
            lambda t: theory.gradient_descent_mse_ensemble(
                kdd, y, t, k_test_train=ktd, nngp_test_test=k.nngp[4:, 4:]
            )
        )(jnp.asarray(3.0, dtype))
        assert g.mean.dtype == g.covariance.dtype == jnp.dtype(dtype)
        assert theory.max_learning_rate(kdd.ntk).dtype == jnp.dtype(dtype)


def test_bad_inputs():
    k = jnp.eye(3)
    y = jnp.ones((3, 1))
    with pytest.raises(ValueError, match="`k_train_train`"):
        theory.mse_gradient_flow(jnp.ones((3, 2)), y, 1.0)
    with pytest.raises(ValueError, match="`y_train`"):
        theory.mse_gradient_flow(k, jnp.ones((4, 1)), 1.0)
    with pytest.raises(ValueError, match="`k_test_train`"):
        theory.mse_gradient_flow(k, y, 1.0, k_test_train=jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="`f0_train`"):
        theory.mse_gradient_flow(k, y, 1.0, f0_train=jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="`f0_test`"):
        theory.mse_gradient_flow(k, y, 1.0, k_test_train=jnp.ones((2, 3)), f0_test=jnp.ones(2))
    with pytest.raises(ValueError, match="`t`"):
        theory.mse_gradient_flow(k, y, -1.0)
    with pytest.raises(ValueError, match="`t`"):
        theory.mse_gradient_flow(k, y, jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="`learning_rate`"):
        theory.mse_gradient_flow(k, y, 1.0, learning_rate=0.0)
    with pytest.raises(ValueError, match="`k_train_train`.*finite"):
        theory.mse_gradient_flow(k.at[0, 0].set(jnp.nan), y, 1.0)
    with pytest.raises(ValueError, match="`kernel`"):
        theory.gradient_descent_mse_ensemble(theory.Kernels(k, k), y, kernel="ntkgp")
    with pytest.raises(TypeError, match="`k_train_train`"):
        theory.gradient_descent_mse_ensemble(k, y)
    with pytest.raises(ValueError, match="`num_outputs`"):
        theory.max_learning_rate(k, num_outputs=0)
