"""Kumar et al.'s committee machine: exact (w_bar, M) recursion, eq. 6, kernel, alignment, grokking time."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import dynamics, theory
from lazyrich.sims import datasets


def _task(dtype, D=20, N=50, P=60, Q=200, seed=0):
    with jax.enable_x64(dtype == "float64"):
        k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
        teacher = jax.random.normal(k1, (D,), dtype)
        x, y = datasets.gaussian_quadratic(k2, num_points=P, teacher=teacher)
        x_test, y_test = datasets.gaussian_quadratic(k3, num_points=Q, teacher=teacher)
        w0 = jax.random.normal(k4, (N, D), dtype)
    return teacher, x, y, x_test, y_test, w0


@pytest.mark.parametrize(
    "dtype, centered", [("float32", True), ("float64", True), ("float64", False)]
)
def test_reduced_dynamics_equal_network_gd(dtype, centered):
    # Check of the exact reduced dynamics: D = 20, N = 50, P = 60, alpha = 2, eps = 0.25, eta0 =
    # 0.5, 300 full-batch steps.
    with jax.enable_x64(dtype == "float64"):
        teacher, x, y, x_test, y_test, w0 = _task(dtype)
        kw = dict(
            alpha=2.0,
            epsilon=0.25,
            learning_rate0=0.5,
            save_steps=(0, 1, 30, 300),
            centered=centered,
        )
        net = jax.jit(
            lambda w0: dynamics.models.train_committee(
                w0,
                x,
                y,
                observe=lambda w: (
                    dynamics.models.committee_apply(w, x_test, alpha=2.0, epsilon=0.25),
                    theory.committee_statistics(w),
                ),
                **kw,
            )
        )(w0)
        stats0 = theory.committee_statistics(w0)
        red = jax.jit(
            lambda s: theory.committee_gd(
                s.w_bar,
                s.M,
                x,
                y,
                observe=lambda wb, M: (
                    theory.committee_output(x_test, wb, M, alpha=2.0, epsilon=0.25),
                    (wb, M),
                ),
                **kw,
            )
        )(stats0)
        assert red[0].dtype == jnp.dtype(dtype)
        # float64: the two are the same arithmetic up to summation order, agreement ~1e-14 (target 1e-10).
        # float32: relative rounding ~1e-7 amplified over 300 steps; the dtype table's 5e-3.
        tol = dict(rtol=1e-10, atol=1e-10) if dtype == "float64" else dict(rtol=5e-3, atol=5e-3)
        np.testing.assert_allclose(net[0], red[0], **tol)
        np.testing.assert_allclose(net[1].M, red[1][1], **tol)
        np.testing.assert_allclose(net[1].w_bar, red[1][0], **tol)
        # Training reduced the loss: the recursion is not trivially constant.
        f0 = theory.committee_output(x, *stats0, alpha=2.0, epsilon=0.25) if centered else 0.0
        f_end = (
            theory.committee_output(x, red[1][0][-1], red[1][1][-1], alpha=2.0, epsilon=0.25) - f0
        )
        f_start = theory.committee_output(x, *stats0, alpha=2.0, epsilon=0.25) - f0
        assert jnp.mean((f_end - y) ** 2) < 0.5 * jnp.mean((f_start - y) ** 2)


def test_empirical_ntk_is_scaled_eq5_kernel(x64):
    teacher, x, y, x_test, y_test, w0 = _task("float64", N=7, P=5)
    alpha, eps = 1.5, 0.3
    K = dynamics.models.committee_empirical_ntk(w0, x, x_test[:4], alpha=alpha, epsilon=eps)
    stats = theory.committee_statistics(w0)
    expected = alpha**2 / w0.shape[0] * theory.committee_ntk(x, x_test[:4], *stats, epsilon=eps)
    np.testing.assert_allclose(K, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        dynamics.models.committee_apply(w0, x, alpha=alpha, epsilon=eps),
        theory.committee_output(x, *stats, alpha=alpha, epsilon=eps),
        rtol=1e-10,
    )


def test_eq6_matches_monte_carlo(x64):
    # A non-trivial (w_bar, M) after some training, centred predictor; Monte Carlo over 4 x 10^5 fresh inputs.
    # Relative standard error of the mean squared error ~ sqrt(Var(e^2)/n)/E[e^2] ~ 3e-3; allow 1.5 % (5 sigma).
    teacher, x, y, x_test, y_test, w0 = _task("float64", D=10, N=20, P=40)
    stats0 = theory.committee_statistics(w0)
    kw = dict(alpha=1.0, epsilon=0.5, learning_rate0=0.5, save_steps=(50,))
    w_bar, M = (v[0] for v in theory.committee_gd(stats0.w_bar, stats0.M, x, y, **kw))
    terms = theory.committee_test_loss_terms(
        w_bar, M, teacher, alpha=1.0, epsilon=0.5, w_bar0=stats0.w_bar, M0=stats0.M
    )
    xs, ys = datasets.gaussian_quadratic(jax.random.key(9), num_points=400_000, teacher=teacher)
    f = theory.committee_output(xs, w_bar, M, alpha=1.0, epsilon=0.5) - theory.committee_output(
        xs, *stats0, alpha=1.0, epsilon=0.5
    )
    mc = float(jnp.mean((f - ys) ** 2))
    assert min(float(t) for t in terms) > 0
    assert float(sum(terms)) == pytest.approx(mc, rel=1.5e-2)


def test_eq6_optimum_is_zero(x64):
    teacher = jnp.arange(1.0, 5.0)
    M = jnp.outer(teacher, teacher) / (2.0 * 0.5)
    terms = theory.committee_test_loss_terms(jnp.zeros(4), M, teacher, alpha=2.0, epsilon=0.5)
    np.testing.assert_allclose(terms, 0.0, atol=1e-12)


def test_alignment_and_kernel_regression(x64):
    y = jnp.array([1.0, -2.0, 0.5, 3.0])
    x = jnp.eye(4)
    # A rank-one kernel along the target is perfectly aligned.
    yc = y - y.mean()
    from lazyrich.theory import _committee

    assert float(_committee._kernel_target_alignment(jnp.outer(yc, yc), y)) == pytest.approx(1.0)
    # Linear kernel, linear target: ridgeless regression is exact.
    w = jnp.array([0.3, -1.0, 2.0])
    xs = jax.random.normal(jax.random.key(0), (12, 3))
    mse = theory.kernel_regression_mse(xs[:8] @ xs[:8].T, xs[8:] @ xs[:8].T, xs[:8] @ w, xs[8:] @ w)
    assert float(mse) < 1e-16
    a = theory.committee_ntk_alignment(x, y, jnp.zeros(4), jnp.eye(4), epsilon=0.1)
    assert -1.0 <= float(a) <= 1.0


def test_grokking_time():
    t = jnp.array([0.0, 1.0, 10.0, 100.0])
    train = jnp.array([1.0, 0.05, 0.01, 0.001])
    test = jnp.array([1.0, 0.9, 0.5, 0.05])
    assert float(theory.grokking_time(t, train, test)) == 99.0
    assert np.isnan(float(theory.grokking_time(t, train, test + 1.0)))
    assert float(theory.first_crossing_time(t, test, threshold=0.6)) == 10.0


def test_traced_alpha_epsilon_compile_once():
    teacher, x, y, _, _, w0 = _task("float32", D=6, N=5, P=12)
    s = theory.committee_statistics(w0)
    traces = []

    def one(a, e):
        traces.append(None)
        return theory.committee_gd(
            s.w_bar, s.M, x, y, alpha=a, epsilon=e, learning_rate0=0.5, save_steps=(5,)
        )

    run = jax.jit(jax.vmap(one))
    run(jnp.array([1.0, 2.0]), jnp.array([0.1, 0.2]))
    run(jnp.array([3.0, 0.5]), jnp.array([0.3, 0.05]))
    assert len(traces) == 1


def test_bad_input():
    teacher, x, y, _, _, w0 = _task("float32", D=6, N=5, P=12)
    s = theory.committee_statistics(w0)
    kw = dict(alpha=1.0, epsilon=0.1, learning_rate0=0.5, save_steps=(0, 5))
    with pytest.raises(ValueError, match="`alpha`"):
        theory.committee_gd(s.w_bar, s.M, x, y, **(kw | dict(alpha=0.0)))
    with pytest.raises(ValueError, match="`learning_rate0`"):
        theory.committee_gd(s.w_bar, s.M, x, y, **(kw | dict(learning_rate0=-1.0)))
    with pytest.raises(ValueError, match="`save_steps`"):
        theory.committee_gd(s.w_bar, s.M, x, y, **(kw | dict(save_steps=(5, 5))))
    with pytest.raises(ValueError, match="`x`"):
        theory.committee_gd(s.w_bar, s.M, x[:, :3], y, **kw)
    with pytest.raises(ValueError, match="`alpha`"):
        dynamics.models.train_committee(w0, x, y, **(kw | dict(alpha=-2.0)))
    with pytest.raises(ValueError, match="`save_steps`"):
        dynamics.models.train_committee(w0, x, y, **(kw | dict(save_steps=(3, 1))))
    with pytest.raises(ValueError, match="`M`"):
        theory.committee_test_loss_terms(s.w_bar, s.M[:3, :3], teacher, alpha=1.0, epsilon=0.1)
