"""DMFT solvers (Bordelon & Pehlevan 2022): contracts, exact limits, theory vs finite networks."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from lazyrich import dynamics, theory

P, Q, D = 4, 2, 8
# lazyrich.theory.mlp_kernels names: tanh has no closed form there (callable + Gauss-Hermite), linear = identity.
MLP_ACTIVATION = {"tanh": jnp.tanh, "relu": "relu", "erf": "erf", "linear": "identity"}


def _data(dtype=jnp.float64, num_train=P, num_test=Q, input_dim=D, seed=2):
    x = jr.normal(jr.key(seed), (num_train + num_test, input_dim), dtype)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True) * jnp.sqrt(jnp.asarray(input_dim, dtype))
    y = jnp.sign(x[:num_train, 0])
    return x, y, x @ x.T / input_dim


def _rel(a, b, axes):
    return np.linalg.norm(np.asarray(a) - np.asarray(b), axis=axes) / np.linalg.norm(
        np.asarray(b), axis=axes
    )


def _nets(x, y, times, *, gamma0, width, depth, seeds, activation="tanh", substeps=2):
    def one(k):
        p = dynamics.models.meanfield_mlp_init(
            k, input_dim=x.shape[1], width=width, depth=depth, dtype=x.dtype
        )
        return dynamics.models.train_meanfield_gradient_flow(
            p,
            x[: y.shape[0]],
            y,
            x[y.shape[0] :],
            times,
            gamma0=gamma0,
            activation=activation,
            substeps=substeps,
        )

    out = jax.lax.map(one, jr.split(jr.key(11), seeds))
    out.pop("params")
    return out


# ----------------------------------------------------------------------------------------------------------
# Contracts and bad input


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_two_layer_shapes_and_dtypes(dtype):
    with jax.enable_x64(dtype == jnp.float64):
        x, y, kx = _data(dtype)
        times = jnp.linspace(0.0, 2.0, 5, dtype=dtype)
        res = theory.solve_dmft(
            kx, y, times, gamma0=0.5, key=jr.key(0), num_samples=64, y_test=jnp.zeros(Q, dtype)
        )
        assert res.delta_train.shape == (5, P) and res.delta_test.shape == (5, Q)
        assert res.ntk.shape == (5, P + Q, P + Q)
        assert res.phi.shape == res.g.shape == (1, 5, P + Q, 5, P + Q)
        for leaf in (res.delta_train, res.ntk, res.phi, res.f_test):
            assert leaf.dtype == dtype
        assert theory.dmft_status_name(res.status) == "converged"


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_linear_shapes_and_dtypes(dtype):
    with jax.enable_x64(dtype == jnp.float64):
        x, y, kx = _data(dtype)
        times = jnp.linspace(0.0, 2.0, 5, dtype=dtype)
        res = theory.solve_dmft(kx, y, times, gamma0=0.5, depth=2, activation="linear")
        assert res.phi.shape == (2, 5, P + Q, 5, P + Q) and res.response_a.shape == res.phi.shape
        assert res.ntk.dtype == dtype and res.history.shape == (200,)
        assert int(res.status) == 0


def test_bad_input_raises():
    x, y, kx = _data(jnp.float32)
    times = jnp.linspace(0.0, 1.0, 4)
    with pytest.raises(ValueError, match="`gamma0`"):
        theory.solve_dmft(kx, y, times, gamma0=-0.1, key=jr.key(0))
    with pytest.raises(ValueError, match="`times` must be strictly increasing"):
        theory.solve_dmft(kx, y, jnp.array([0.0, 1.0, 1.0]), gamma0=1.0, key=jr.key(0))
    with pytest.raises(ValueError, match="`times` must start at 0"):
        theory.solve_dmft(kx, y, times + 1, gamma0=1.0, key=jr.key(0))
    bad = kx - 3.0 * jnp.eye(P + Q)
    with pytest.raises(ValueError, match="`kx` must be positive semi-definite"):
        theory.solve_dmft(bad, y, times, gamma0=1.0, key=jr.key(0))
    with pytest.raises(ValueError, match="`kx` must be symmetric"):
        theory.solve_dmft(kx.at[0, 1].add(1.0), y, times, gamma0=1.0, depth=2, activation="linear")
    with pytest.raises(ValueError, match="`y_train`"):
        theory.solve_dmft(kx, jnp.ones(P + Q + 1), times, gamma0=1.0, key=jr.key(0))
    with pytest.raises(ValueError, match="`key`"):
        theory.solve_dmft(kx, y, times, gamma0=1.0)
    with pytest.raises(TypeError, match="`key`"):
        theory.solve_dmft(kx, y, times, gamma0=1.0, key=0)
    with pytest.raises(ValueError, match="`damping`"):
        theory.solve_dmft_linear(kx, y, times, gamma0=1.0, damping=1.5)
    with pytest.raises(ValueError, match="`method`"):
        theory.solve_dmft(kx, y, times, gamma0=1.0, method="magic")


def test_non_converging_solve_returns_status_and_history(x64):
    x, y, kx = _data()
    times = jnp.linspace(0.0, 4.0, 9)
    res = theory.solve_dmft_linear(kx, y, times, gamma0=1.0, depth=2, max_iterations=2)
    assert theory.dmft_status_name(res.status) == "max_iterations"
    assert int(res.num_iterations) == 2
    hist = np.asarray(res.history)
    assert np.all(np.isfinite(hist[:2])) and np.all(np.isnan(hist[2:]))
    assert np.all(np.isfinite(np.asarray(res.delta_train)))


def test_exploding_solve_reports_diverged():
    # A grid with steps of 1e30 overflows float32 in the first update (trapezoid weights ~1e30, C D ~ 1e60):
    # the solver must stop with status 2, keep the last finite iterate and record the non-finite change.
    x, y, kx = _data(jnp.float32)
    times = jnp.array([0.0, 1e30, 2e30, 3e30], jnp.float32)
    res = theory.solve_dmft_linear(kx, y, times, gamma0=1.0, depth=2, max_iterations=10)
    assert theory.dmft_status_name(res.status) == "diverged"
    assert int(res.num_iterations) == 1 and not np.isfinite(np.asarray(res.history[0]))
    assert np.all(np.isfinite(np.asarray(res.delta_train)))


def test_gamma0_sweep_is_vmappable(x64):
    x, y, kx = _data()
    times = jnp.linspace(0.0, 2.0, 5)
    gammas = jnp.array([0.0, 0.5, 1.0])
    out = jax.vmap(
        lambda g: (
            theory.solve_dmft_two_layer(
                kx, y, times, gamma0=g, key=jr.key(0), num_samples=256
            ).delta_train
        )
    )(gammas)
    one = theory.solve_dmft_two_layer(kx, y, times, gamma0=1.0, key=jr.key(0), num_samples=256)
    np.testing.assert_allclose(out[2], one.delta_train, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------------------
# Exact limits


@pytest.mark.parametrize("activation", ["tanh", "relu", "erf", "linear"])
def test_initial_ntk_matches_mlp_kernels(x64, activation):
    """Mapping: Bordelon's K(0) = the NTK-parameterised MLP NTK with weight_std=1, bias_std=0."""
    x, y, kx = _data()
    times = jnp.linspace(0.0, 1.0, 3)
    ref = theory.mlp_kernels(
        x,
        depth=2,
        activation=MLP_ACTIVATION[activation],
        weight_std=1.0,
        bias_std=0.0,
        parameterization="ntk",
        quadrature_degree=96,
    ).ntk
    # gamma0 = 0: responses vanish, so the cheaper A = B = 0 program gives the same kernels
    res = theory.solve_dmft(
        kx,
        y,
        times,
        gamma0=0.0,
        depth=2,
        activation=activation,
        key=jr.key(0),
        method="deep",
        num_samples=16,
        num_response_samples=16,
        gradient_independence=True,
    )
    np.testing.assert_allclose(res.ntk[0], ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("depth", [1, 2])
def test_small_gamma0_reproduces_static_ntk_flow(x64, depth):
    """gamma0 -> 0: mse_gradient_flow with mlp_kernels' NTK (same 1/(2P) loss, learning_rate 1) to 1e-3."""
    x, y, kx = _data()
    times = jnp.linspace(0.0, 6.0, 13)
    k = theory.mlp_kernels(
        x, depth=depth, activation=jnp.tanh, weight_std=1.0, bias_std=0.0, quadrature_degree=96
    ).ntk
    f_train, f_test = theory.mse_gradient_flow(k[:P, :P], y, times, k_test_train=k[P:, :P])
    for gamma0 in (0.0, 1e-3):
        res = (
            theory.solve_dmft(
                kx,
                y,
                times,
                gamma0=gamma0,
                depth=depth,
                key=jr.key(0),
                num_samples=512,
                num_response_samples=16,
                response_chunk=16,
            )
            if depth > 1
            else theory.solve_dmft(kx, y, times, gamma0=gamma0, key=jr.key(0), num_samples=512)
        )
        err = max(np.max(np.abs(res.f_train - f_train)), np.max(np.abs(res.f_test - f_test)))
        assert err < 1e-3, (gamma0, err)
        if gamma0 == 0.0:  # exact up to the two Gauss-Hermite rules (~1e-8)
            assert err < 1e-6


def test_deep_solver_at_depth_one_matches_two_layer_solver(x64):
    # Same equations, different integrators (trapezoid quadrature on the grid vs RK4) and independent samples.
    # With the control variate each carries a Monte-Carlo error ~ S^{-1/2} = 1.1% of the kernel change (<= ~60%
    # of K here), so ~1% of K between the two, plus the O(dt^2) quadrature error (dt = 0.25): tolerance 3%.
    x, y, kx = _data()
    times = jnp.linspace(0.0, 4.0, 17)
    two = theory.solve_dmft_two_layer(
        kx, y, times, gamma0=1.0, key=jr.key(0), num_samples=8192, two_time=False
    )
    deep = theory.solve_dmft_deep(
        kx, y, times, gamma0=1.0, depth=1, key=jr.key(0), num_samples=8192
    )
    assert int(deep.status) == 0
    assert np.max(_rel(deep.delta_train, two.delta_train, 1)) < 0.03
    assert np.max(_rel(deep.ntk, two.ntk, (1, 2))) < 0.03


def test_linear_closed_equations_match_two_layer_and_whitened_ode(x64):
    """Whitened data (kx = I), L = 1: closed equations == sampled process == the closed ODE (factor 2)."""
    num = 3
    x = jnp.sqrt(3.0) * jnp.eye(num)
    y = jnp.array([1.0, -0.5, 0.8])
    kx = x @ x.T / num
    times = jnp.linspace(0.0, 6.0, 25)
    lin = theory.solve_dmft_linear(kx, y, times, gamma0=1.5)
    delta, h_y = theory.whitened_linear_dmft(jnp.linalg.norm(y), times, gamma0=1.5, num_train=num)
    # trapezoid quadrature error O(dt^2), dt = 0.25
    np.testing.assert_allclose(np.linalg.norm(lin.delta_train, axis=1), delta, rtol=1e-2, atol=1e-3)
    yhat = y / jnp.linalg.norm(y)
    h = lin.phi[0][np.arange(25), :, np.arange(25), :]
    np.testing.assert_allclose(jnp.einsum("p,tpq,q->t", yhat, h, yhat), h_y, rtol=1e-2)
    two = theory.solve_dmft_two_layer(
        kx,
        y,
        times,
        gamma0=1.5,
        key=jr.key(0),
        activation="linear",
        num_samples=8192,
        two_time=False,
    )
    # Monte Carlo: kernel changes carry S^{-1/2} ~ 1% error
    np.testing.assert_allclose(np.linalg.norm(two.delta_train, axis=1), delta, rtol=3e-2, atol=3e-3)


def test_deep_linear_closed_equations_match_sampled_solver(x64):
    # The sampled solver with a linear activation solves the same equations; with S = 8192 samples its
    # kernels carry ~S^{-1/2} ~ 1.1% Monte-Carlo error (responses are exact: the Jacobian is sample-free).
    x, y, kx = _data()
    times = jnp.linspace(0.0, 3.0, 9)
    lin = theory.solve_dmft_linear(kx, y, times, gamma0=1.0, depth=2)
    smp = theory.solve_dmft_deep(
        kx,
        y,
        times,
        gamma0=1.0,
        depth=2,
        activation="linear",
        key=jr.key(1),
        num_samples=8192,
        num_response_samples=16,
        response_chunk=16,
    )
    assert int(lin.status) == 0 and int(smp.status) == 0
    assert np.max(_rel(smp.ntk, lin.ntk, (1, 2))) < 0.03
    assert np.max(_rel(smp.delta_train, lin.delta_train, 1)) < 0.03


def _max_error(res, ref, y):
    """The benchmark's accuracy: max over t of |Delta - Delta_ref| / |y| and |K - K_ref|_F / |K_ref|_F."""
    e_delta = np.max(np.linalg.norm(np.asarray(res.delta_train - ref.delta_train), axis=1))
    return max(e_delta / float(np.linalg.norm(y)), float(np.max(_rel(res.ntk, ref.ntk, (1, 2)))))


def test_two_layer_sobol_sampling_is_consistent_with_iid_and_more_accurate(x64):
    """Scrambled Sobol' sources: same limit as i.i.d. sampling, smaller error at equal S, exact at gamma0 = 0.

    16 randomisations per sampling at S = 1024 (vmapped over keys: one compilation each). Reference: the mean
    of Sobol' runs 8..15 (error ~ 0.012 / sqrt(8) ~ 0.004, independent of runs 0..7). Measured per-run errors
    at S = 1024 on this problem (8 seeds, against S = 2^16): iid 0.026 +- 0.007, sobol 0.012 +- 0.003; so the
    mean over 8 runs has sd <= 0.0025 and "sobol < 0.75 iid" holds with a margin of > 3 sd. Consistency: the
    mean of the 16 i.i.d. runs (an S = 16384 i.i.d. estimate, error ~ 0.026 / 4 ~ 0.0065) agrees with the
    Sobol' reference within 0.02 (~ 3 sd of the difference).
    """
    x, y, kx = _data()
    times = jnp.linspace(0.0, 4.0, 5)
    gamma0s = jnp.concatenate([jnp.ones(16), jnp.zeros(1)])  # the last run is gamma0 = 0
    keys = jr.split(jr.key(7), 17)

    def runs(sampling):
        def one(gamma0, key):
            res = theory.solve_dmft_two_layer(
                kx,
                y,
                times,
                gamma0=gamma0,
                key=key,
                num_samples=1024,
                two_time=False,
                sampling=sampling,
            )
            return res.delta_train, res.ntk

        return jax.vmap(one)(gamma0s, keys)

    out = {sampling: runs(sampling) for sampling in ("iid", "sobol")}
    ref = theory.DMFTResult(*([None] * 13))._replace(
        delta_train=out["sobol"][0][8:16].mean(0), ntk=out["sobol"][1][8:16].mean(0)
    )

    def error(sampling, index):
        d, k = out[sampling]
        return _max_error(ref._replace(delta_train=d[index], ntk=k[index]), ref, y)

    errors = {s: np.mean([error(s, i) for i in range(8)]) for s in out}
    assert errors["sobol"] < 0.75 * errors["iid"], errors
    iid_mean = ref._replace(delta_train=out["iid"][0][:16].mean(0), ntk=out["iid"][1][:16].mean(0))
    assert _max_error(iid_mean, ref, y) < 0.02
    # gamma0 = 0: both give the exact static-NTK flow (control variate at t = 0)
    np.testing.assert_allclose(out["sobol"][0][16], out["iid"][0][16], rtol=1e-10, atol=1e-12)


def test_two_layer_sobol_sources_in_float32():
    # Same scrambled points (23 vs 32 bits before the inverse normal CDF): the float32 solve equals the
    # float64 one to the float32 tolerance and is finite (no uniform rounded to 0 or 1).
    times = jnp.linspace(0.0, 2.0, 5)
    with jax.enable_x64(True):
        _, y64, kx64 = _data(jnp.float64)
        ref = theory.solve_dmft_two_layer(
            kx64, y64, times, gamma0=1.0, key=jr.key(3), num_samples=512, two_time=False
        )
        kx, y = np.asarray(kx64, np.float32), np.asarray(y64, np.float32)
    res = theory.solve_dmft_two_layer(
        kx, y, times, gamma0=1.0, key=jr.key(3), num_samples=512, two_time=False
    )
    assert res.ntk.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(res.ntk)))
    np.testing.assert_allclose(np.asarray(res.ntk), np.asarray(ref.ntk), rtol=5e-3, atol=5e-3)
    np.testing.assert_allclose(res.delta_train, ref.delta_train, rtol=5e-3, atol=5e-3)


def test_two_layer_two_time_kernels_match_equal_time_and_bad_sampling():
    x, y, kx = _data(jnp.float32)
    times = jnp.linspace(0.0, 2.0, 6)
    res = theory.solve_dmft_two_layer(kx, y, times, gamma0=1.0, key=jr.key(0), num_samples=600)
    diag = np.arange(6)
    # the chunked replay (chunk 256, 3 chunks, the last padded) reproduces the equal-time kernels of the run
    k_replay = res.phi[0][diag, :, diag, :] + res.g[0][diag, :, diag, :] * kx[None]
    np.testing.assert_allclose(k_replay, res.ntk, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="`sampling`"):
        theory.solve_dmft_two_layer(kx, y, times, gamma0=1.0, key=jr.key(0), sampling="lhs")
    with pytest.raises(ValueError, match="`num_samples`"):
        theory.solve_dmft_two_layer(
            kx, y, times, gamma0=1.0, key=jr.key(0), num_samples=101, sampling="antithetic"
        )


@pytest.mark.slow
def test_deep_solved_responses_match_autodiff_responses(x64):
    """The closed-form Jacobians (one LU per response sample) equal jacfwd through the causal solve.

    They differ only by the 3 fixed-point sweeps of the equal-time terms in the forward solve, an
    O((gamma0 dt)^4) ~ 4e-3 relative effect at dt = 0.25 (measured 3e-5 on a T = 7 grid): tolerance 1e-3 of the
    largest response (same samples, same iteration count).
    """
    x, y, kx = _data()
    times = jnp.linspace(0.0, 1.0, 5)
    out = {
        method: theory.solve_dmft_deep(
            kx,
            y,
            times,
            gamma0=1.0,
            depth=2,
            key=jr.key(0),
            num_samples=64,
            num_response_samples=16,
            max_iterations=2,
            response_method=method,
        )
        for method in ("solve", "autodiff")
    }
    for name in ("response_a", "response_b", "ntk"):
        a, b = (np.asarray(getattr(out[m], name)) for m in ("solve", "autodiff"))
        assert np.max(np.abs(a)) > 0
        np.testing.assert_allclose(a, b, atol=1e-3 * np.max(np.abs(b)))


# ----------------------------------------------------------------------------------------------------------
# Theory against finite networks


def test_two_layer_matches_finite_networks_and_error_shrinks_with_width(x64):
    """N = 4000 (3 seeds): |Delta| and K within 5% along the trajectory; error at N = 250 is larger.

    The mean over E seeds of width-N networks deviates from the DMFT by O((N E)^{-1/2}) (~0.9% here for K);
    the DMFT itself uses S = 20000 samples with the t = 0 control variate.
    """
    x, y, kx = _data()
    times = jnp.linspace(0.0, 4.0, 9)
    res = theory.solve_dmft_two_layer(
        kx, y, times, gamma0=1.0, key=jr.key(0), num_samples=20000, two_time=False
    )
    errors = {}
    for width in (250, 4000):
        out = _nets(x, y, times, gamma0=1.0, width=width, depth=1, seeds=3)
        d_err = np.max(_rel(y - out["f_train"].mean(0), res.delta_train, 1))
        k_err = np.max(_rel(out["ntk"].mean(0), res.ntk, (1, 2)))
        errors[width] = (d_err, k_err)
    assert errors[4000][0] < 0.05 and errors[4000][1] < 0.05, errors
    assert errors[4000][1] < errors[250][1], errors


@pytest.mark.slow
def test_two_layer_matches_finite_networks_full(x64):
    """Full check: P = 10, T = 41, t up to 10, N = 4000 with 8 seeds, errors < 5% and shrinking in N."""
    x, y, kx = _data(num_train=10, num_test=4, input_dim=16)
    times = jnp.linspace(0.0, 10.0, 41)
    res = theory.solve_dmft_two_layer(
        kx, y, times, gamma0=1.0, key=jr.key(0), num_samples=50000, two_time=False
    )
    k_errors = []
    for width in (500, 1000, 4000):
        out = _nets(x, y, times, gamma0=1.0, width=width, depth=1, seeds=8)
        d_err = np.max(_rel(y - out["f_train"].mean(0), res.delta_train, 1))
        k_err = np.max(_rel(out["ntk"].mean(0), res.ntk, (1, 2)))
        k_errors.append(k_err)
        if width == 4000:
            assert d_err < 0.05 and k_err < 0.05
    assert k_errors[2] < k_errors[0]


@pytest.mark.slow
def test_deep_linear_matches_finite_networks(x64):
    # N = 2000, 4 seeds: kernel error ~ (N E)^{-1/2} ~ 1.1% at t = 0, growing mildly with training.
    x, y, kx = _data()
    times = jnp.linspace(0.0, 4.0, 17)
    lin = theory.solve_dmft_linear(kx, y, times, gamma0=1.0, depth=2)
    out = _nets(x, y, times, gamma0=1.0, width=2000, depth=2, seeds=4, activation="linear")
    assert np.max(_rel(out["ntk"].mean(0), lin.ntk, (1, 2))) < 0.04
    assert np.max(_rel(y - out["f_train"].mean(0), lin.delta_train, 1)[:12]) < 0.04


@pytest.mark.slow
def test_deep_tanh_matches_finite_networks(x64):
    x, y, kx = _data()
    times = jnp.linspace(0.0, 4.0, 13)
    res = theory.solve_dmft_deep(
        kx, y, times, gamma0=1.0, depth=2, key=jr.key(0), num_samples=4000, num_response_samples=128
    )
    out = _nets(x, y, times, gamma0=1.0, width=2000, depth=2, seeds=4)
    assert int(res.status) == 0
    assert np.max(_rel(out["ntk"].mean(0), res.ntk, (1, 2))) < 0.04
    assert np.max(_rel(y - out["f_train"].mean(0), res.delta_train, 1)) < 0.05


def test_deep_response_control_variate_reduces_response_noise(x64):
    """The first-order control variate keeps the response estimate centred on the all-sample average and
    shrinks its error: on the same 1024 samples (one iteration from the lazy kernels), 32 response samples
    with the control variate are closer to the 1024-sample Jacobian average than 32 plain ones. Measured RMS
    error ratios (4 keys): 0.21 for A, 0.13 for B (L = 2); 0.16 and 0.09 at L = 3."""
    x, y, kx = _data(num_train=3, num_test=0)
    times = jnp.linspace(0.0, 2.0, 5)

    def responses(key, num_response, cv):
        res = theory.solve_dmft_deep(
            kx,
            y,
            times,
            gamma0=1.5,
            depth=2,
            key=key,
            num_samples=1024,
            num_response_samples=num_response,
            response_chunk=32,
            max_iterations=1,
            response_method="solve",
            response_control_variate=cv,
        )
        return np.asarray(res.response_a[0]), np.asarray(res.response_b[1])

    err = {True: np.zeros(2), False: np.zeros(2)}
    for seed in range(4):
        key = jr.key(seed)
        full = responses(key, 1024, False)
        for cv in (True, False):
            est = responses(key, 32, cv)
            for i in range(2):
                err[cv][i] += np.sum((est[i] - full[i]) ** 2) / np.sum(full[i] ** 2)
    ratio = np.sqrt(err[True] / err[False])
    assert np.all(ratio < 0.5), ratio
