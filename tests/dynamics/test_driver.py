"""The training driver `dynamics.solve`: each rule against a closed form or a hand-written reference, the stopping
rule and status codes, observables on the save grid, model state, vmapped hyper-parameters, bad input."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from lazyrich import dynamics as dy
from lazyrich._status import Status

H = np.asarray([0.5, 1.0, 2.0])


def _quadratic(w, _):
    return 0.5 * jnp.sum(H * w * w)


def test_gd_on_a_quadratic_matches_the_closed_form_and_saves_on_the_grid(x64):
    w0 = jnp.ones(3)
    sol = jax.jit(
        lambda lr: dy.solve(
            _quadratic, dy.gd(lr), w0, max_steps=12, save_steps=[0, 4, 12], observe=lambda w, _: w
        )
    )(0.3)
    for k, s in enumerate([0, 4, 12]):
        np.testing.assert_allclose(sol.observed[k], (1 - 0.3 * H) ** s, rtol=1e-13)
    # step_loss: the loss the step evaluated before its update; NaN before the first step.
    assert np.isnan(sol.step_loss[0])
    np.testing.assert_allclose(sol.step_loss[2], _quadratic((1 - 0.3 * H) ** 11, None), rtol=1e-13)
    assert int(sol.status) == Status.OK and int(sol.num_steps) == 12
    np.testing.assert_allclose(sol.time, 0.3 * 12)
    assert sol.conventions.time_unit == "learning_rate * steps"


def test_gradient_flow_rk4_matches_the_exponential(x64):
    times = jnp.asarray([0.0, 0.5, 2.0])
    sol = dy.solve(
        _quadratic,
        dy.gradient_flow(times, substeps=8),
        jnp.ones(3),
        max_steps=2,
        save_steps=[0, 1, 2],
        observe=lambda w, _: w,
    )

    # RK4 on w' = -H w multiplies by R(z) = 1 - z + z^2/2 - z^3/6 + z^4/24, z = H dt, per sub-step.
    def rk4_factor(dt):
        z = H * dt / 8
        return (1 - z + z**2 / 2 - z**3 / 6 + z**4 / 24) ** 8

    expected = np.stack([np.ones(3), rk4_factor(0.5), rk4_factor(0.5) * rk4_factor(1.5)])
    np.testing.assert_allclose(sol.observed, expected, rtol=1e-13)
    np.testing.assert_allclose(sol.observed, np.exp(-np.outer(times, H)), rtol=1e-3)
    np.testing.assert_allclose(sol.time, 2.0)
    euler = dy.solve(_quadratic, dy.gradient_flow(times, solver="euler"), jnp.ones(3), max_steps=2)
    np.testing.assert_allclose(euler.params, (1 - 0.5 * H) * (1 - 1.5 * H), rtol=1e-13)


def _linear_data(key, n=40, d=4):
    kx, kw = jr.split(key)
    x = jr.normal(kx, (n, d))
    return x, x @ jr.normal(kw, (d,))


def _mse(w, batch):
    x, y = batch
    return 0.5 * (x @ w - y) ** 2  # per-example


def test_sgd_samplers_match_hand_written_minibatch_steps(getkey):
    x, y = _linear_data(getkey())
    key = getkey()
    w0 = jnp.zeros(4)

    def by_hand(indices_of):
        w = w0
        for s in range(6):
            idx = indices_of(s)
            w = w - 0.1 * jax.grad(lambda v, i=idx: jnp.mean(_mse(v, (x[i], y[i]))))(w)
        return w

    def subset(s):
        return jax.lax.top_k(-jr.uniform(jr.fold_in(key, s), (40,)), 8)[1]

    def with_replacement(s):
        return jr.randint(jr.fold_in(key, s), (8,), 0, 40)

    def epochs(s):
        return jr.permutation(jr.fold_in(key, s // 5), 40)[(s % 5) * 8 : (s % 5 + 1) * 8]

    for kw, ref in (
        (dict(), subset),
        (dict(replace=True), with_replacement),
        (dict(epochs=True), epochs),
    ):
        sol = dy.solve(_mse, dy.sgd(0.1, batch_size=8, **kw), w0, (x, y), key=key, max_steps=6)
        np.testing.assert_allclose(sol.params, by_hand(ref), rtol=1e-5, atol=1e-6)


def test_optax_rule_equals_optax_loop_and_langevin_at_zero_temperature_is_gd(getkey):
    x, y = _linear_data(getkey())
    tx = optax.adam(0.05)
    w0 = jnp.zeros(4)
    sol = dy.solve(_mse, dy.optax_rule(tx), w0, (x, y), max_steps=5)
    w, state = w0, tx.init(w0)
    for _ in range(5):
        g = jax.grad(lambda v: jnp.mean(_mse(v, (x, y))))(w)
        u, state = tx.update(g, state, w)
        w = optax.apply_updates(w, u)
    np.testing.assert_allclose(sol.params, w, rtol=1e-6)
    # Langevin with T = 0 has no noise (s = 0): it is full-batch GD.
    lang = dy.solve(_mse, dy.langevin(0.1, 0.0), w0, (x, y), key=getkey(), max_steps=5)
    gd = dy.solve(_mse, dy.gd(0.1), w0, (x, y), max_steps=5)
    np.testing.assert_allclose(lang.params, gd.params, rtol=1e-6)


def test_stop_rules_and_status_codes(x64):
    w0 = jnp.ones(3)
    fitted = dy.solve(
        _quadratic, dy.gd(0.5), w0, max_steps=100, stop=dy.Stop(loss_below=1e-4, check_every=2)
    )
    assert int(fitted.status) == Status.OK and int(fitted.num_steps) % 2 == 0
    assert _quadratic(fitted.params, None) <= 1e-4
    assert (
        _quadratic(
            dy.solve(_quadratic, dy.gd(0.5), w0, max_steps=int(fitted.num_steps) - 2).params, None
        )
        > 1e-4
    )
    capped = dy.solve(_quadratic, dy.gd(0.5), w0, max_steps=4, stop=dy.Stop(loss_below=1e-4))
    assert int(capped.status) == Status.STEP_CAP
    # lr = 1.5 > 2 / max(H) = 1: the stiffest mode grows by |1 - 3| = 2 per step.
    diverged = dy.solve(
        _quadratic,
        dy.gd(1.5),
        w0,
        max_steps=100,
        save_steps=[50, 100],
        stop=dy.Stop(max_loss=1e3),
        observe=lambda w, _: w,
    )
    assert int(diverged.status) == Status.DIVERGED
    # The last checked finite state is kept, and frozen afterwards.
    last = (1 - 1.5 * H) ** (int(diverged.num_steps) - 1)
    np.testing.assert_allclose(diverged.params, last, rtol=1e-12)
    assert _quadratic(last, None) <= 1e3 < _quadratic(last * (1 - 1.5 * H), None)
    np.testing.assert_array_equal(diverged.observed[0], diverged.observed[1])
    by_weights = dy.solve(
        _quadratic, dy.gd(1.5), w0, max_steps=100, stop=dy.Stop(max_weight_change=10.0)
    )
    assert int(by_weights.status) == Status.DIVERGED
    margins = dy.solve(
        _quadratic,
        dy.gd(0.5),
        w0,
        max_steps=100,
        stop=dy.Stop(fitted=lambda w, _: jnp.all(w < 0.5)),
    )
    assert int(margins.status) == Status.OK and bool(jnp.all(margins.params < 0.5))


def test_model_state_and_aux_are_carried():
    # A "batch statistic" model: the state counts the steps and records the last batch mean.
    x = jnp.arange(6.0)

    def loss_fn(w, state, batch):
        new = {"count": state["count"] + 1, "mean": jnp.mean(batch)}
        return 0.5 * (w - batch) ** 2, (new, jnp.max(batch))

    sol = dy.solve(
        loss_fn,
        dy.gd(0.1),
        jnp.zeros(()),
        x,
        max_steps=3,
        save_steps=[1, 2, 3],
        has_state=True,
        has_aux=True,
        model_state={"count": 0, "mean": 0.0},
        observe=lambda w, s: s["count"],
    )
    np.testing.assert_array_equal(sol.observed, [1, 2, 3])
    np.testing.assert_allclose(sol.model_state["mean"], 2.5)
    np.testing.assert_allclose(sol.step_aux, [5.0, 5.0, 5.0])


def test_vmap_over_learning_rates_and_num_train_compiles_once(getkey):
    x, y = _linear_data(getkey())
    traces = []

    def run(lr, n):
        traces.append(1)
        return dy.solve(_mse, dy.gd(lr), jnp.zeros(4), (x, y), max_steps=20, num_train=n).params

    batched = jax.jit(jax.vmap(run))
    out = batched(jnp.asarray([0.05, 0.1]), jnp.asarray([40, 10]))
    batched(jnp.asarray([0.2, 0.3]), jnp.asarray([20, 30]))
    assert len(traces) == 1
    single = dy.solve(_mse, dy.gd(0.1), jnp.zeros(4), (x[:10], y[:10]), max_steps=20).params
    np.testing.assert_allclose(out[1], single, rtol=1e-5)


def test_bad_input_raises_before_any_work():
    w0 = jnp.ones(3)
    with pytest.raises(ValueError, match="`save_steps`"):
        dy.solve(_quadratic, dy.gd(0.1), w0, max_steps=10, save_steps=[5, 3, 10])
    with pytest.raises(ValueError, match="`save_steps`"):
        dy.solve(_quadratic, dy.gd(0.1), w0, max_steps=10, save_steps=[5])
    with pytest.raises(ValueError, match="`max_steps`"):
        dy.solve(_quadratic, dy.gd(0.1), w0, max_steps=10, stop=dy.Stop(check_every=3))
    with pytest.raises(ValueError, match="`data`"):
        dy.solve(_mse, dy.gd(0.1), w0, (jnp.ones((4, 3)), jnp.ones(5)), max_steps=1)
    with pytest.raises(TypeError, match="`key`"):
        dy.solve(_quadratic, dy.gd(0.1), w0, max_steps=1, key=np.uint32([0, 1]))
    with pytest.raises(ValueError, match="`batch_size`"):
        dy.sgd(0.1, batch_size=0)
    with pytest.raises(ValueError, match="per-example"):
        dy.solve(_quadratic, dy.langevin(0.1, 0.1), w0, (jnp.ones((4, 3)),), max_steps=1)


def test_every_status_table_uses_the_shared_codes():
    from lazyrich.dynamics import _perceptron, _train
    from lazyrich.sims import _results
    from lazyrich.theory._dmft import common

    ok, cap, diverged = int(Status.OK), int(Status.STEP_CAP), int(Status.DIVERGED)
    assert (_train.STATUS_OK, _train.STATUS_CAP, _train.STATUS_DIVERGED) == (ok, cap, diverged)
    assert (
        _perceptron.STATUS_FITTED,
        _perceptron.STATUS_MAX_STEPS,
        _perceptron.STATUS_DIVERGED,
    ) == (ok, cap, diverged)
    assert (common.STATUS_CONVERGED, common.STATUS_MAX_ITERATIONS, common.STATUS_DIVERGED) == (
        ok,
        cap,
        diverged,
    )
    assert _results.STATUS_NAMES == {-1: "missing", 0: "ok", 1: "step_cap", 2: "diverged"}


def test_perceptron_state_as_solution(getkey):
    x = jr.normal(getkey(), (16, 4))
    y = jnp.sign(x[:, 0])
    state = dy.models.train_perceptron(
        x, y, temperature=0.01, alpha=2.0, batch_size=2, max_steps=2000, key=getkey()
    )
    sol = state.as_solution(temperature=0.01, batch_size=2, alpha=2.0)
    assert isinstance(sol, dy.Solution) and int(sol.status) == int(state.status)
    np.testing.assert_allclose(sol.time, 0.01 * 2 * int(state.step), rtol=1e-6)
    assert sol.conventions.time_unit == "temperature * batch_size * steps"
    np.testing.assert_array_equal(sol.observed["num_unfit"], [state.num_unfit])
