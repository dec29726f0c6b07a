"""Event-driven and per-step SGD simulators of the perceptron (Sclocchi et al. 2023, Sec. 5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import dynamics
from lazyrich.sims import datasets


def _data(dtype="float32", num_points=32, dim=4, chi=1.0, seed=0):
    with jax.enable_x64(dtype == "float64"):
        return datasets.depleted_sign(
            jax.random.key(seed), num_points=num_points, input_dim=dim, chi=chi
        )


@pytest.mark.parametrize(
    "dtype", ["float64"]
)  # float32 dtype preservation: test_homogeneous_in_temperature
def test_full_batch_events_equal_gradient_descent(dtype):
    # B = P: every step is effective and holds all unfit points, so both simulators are deterministic GD.
    with jax.enable_x64(dtype == "float64"):
        x, y = _data(dtype)
        kw = dict(
            temperature=0.25, alpha=1e3, batch_size=32, max_steps=10_000, key=jax.random.key(1)
        )
        a = dynamics.models.train_perceptron(x, y, method="events", **kw)
        b = dynamics.models.train_perceptron(x, y, method="steps", **kw)
        assert a.delta_w.dtype == jnp.dtype(dtype)
        # Same sums in a different order: rounding only (dtype table).
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a.delta_w, b.delta_w, **tol)
        assert int(a.step) == int(b.step) and int(a.status) == int(b.status) == 0
        assert int(a.num_updates) == int(b.num_updates)
        margins = y * (x @ a.delta_w) / np.sqrt(x.shape[1])
        assert np.all(1e3 * np.asarray(margins) >= 1)


def test_events_and_steps_sample_the_same_process():
    # B = 2 (the paper's): the simulators are not coupled path by path, so compare the laws over 256 seeds.
    # The difference of two sample means of n = 256 has standard error sqrt(s1^2 + s2^2)/16; allow 4 of them.
    x, y = _data()
    keys = jax.random.split(jax.random.key(5), 256)

    def law(method):
        run = jax.vmap(
            lambda k: dynamics.models.train_perceptron(
                x,
                y,
                temperature=1.0,
                alpha=1e4,
                batch_size=2,
                max_steps=10**6,
                key=k,
                method=method,
            )
        )
        state = jax.jit(run)(keys)
        assert np.all(np.asarray(state.status) == 0)
        return (
            np.log(np.asarray(jnp.linalg.norm(state.delta_w, axis=1))),
            np.log(np.asarray(state.step, float)),
        )

    (norm_e, step_e), (norm_s, step_s) = law("events"), law("steps")
    for a, b in ((norm_e, norm_s), (step_e, step_s)):
        se = np.sqrt(a.var() + b.var()) / 16
        assert abs(a.mean() - b.mean()) < 4 * se, (a.mean(), b.mean(), se)


def test_homogeneous_in_temperature():
    # With a vanishing margin the trajectory of delta_w / T does not depend on T (delta = 1 exactly): doubling T
    # doubles delta_w bit for bit (powers of two are exact) and leaves the step count unchanged.
    x, y = _data()
    run = jax.jit(
        jax.vmap(
            lambda t: dynamics.models.train_perceptron(
                x,
                y,
                temperature=t,
                alpha=1e12,
                batch_size=2,
                max_steps=10**6,
                key=jax.random.key(2),
            )
        )
    )
    state = run(jnp.array([0.5, 1.0, 2.0]))
    assert state.delta_w.dtype == jnp.float32 and state.step.dtype == jnp.int32
    np.testing.assert_array_equal(state.delta_w[1], 2 * state.delta_w[0])
    np.testing.assert_array_equal(state.delta_w[2], 2 * state.delta_w[1])
    assert len(set(np.asarray(state.step).tolist())) == 1


def test_chunking_and_determinism():
    x, y = _data()
    kw = dict(temperature=1.0, alpha=1e4, batch_size=2, max_steps=10**6, key=jax.random.key(3))
    whole = dynamics.models.train_perceptron(x, y, **kw)
    again = dynamics.models.train_perceptron(x, y, **kw)
    np.testing.assert_array_equal(whole.delta_w, again.delta_w)
    state = dynamics.models.init_perceptron(x, y, alpha=kw["alpha"])
    advance = jax.jit(lambda s: dynamics.models.advance_perceptron(s, x, y, max_events=3, **kw))
    for _ in range(1000):
        state = advance(state)
        if int(state.status) != 1:
            break
    np.testing.assert_array_equal(state.delta_w, whole.delta_w)
    assert int(state.step) == int(whole.step) and int(state.num_events) == int(whole.num_events)


def test_step_cap_and_zero_temperature():
    x, y = _data()
    run = jax.jit(
        lambda t: dynamics.models.train_perceptron(
            x, y, temperature=t, alpha=1e4, batch_size=2, max_steps=3, key=jax.random.key(0)
        )
    )
    capped = run(1.0)
    assert int(capped.status) == 1 and int(capped.step) == 3 and int(capped.num_unfit) > 0
    frozen = run(0.0)
    assert int(frozen.status) == 1 and int(frozen.step) == 3
    np.testing.assert_array_equal(frozen.delta_w, 0.0)


def test_traced_hyperparameters_compile_once():
    x, y = _data()
    traces = []

    def one(t, a, k):
        traces.append(None)
        return dynamics.models.train_perceptron(
            x, y, temperature=t, alpha=a, batch_size=2, max_steps=10**5, key=k
        )

    run = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.key(0), 2)
    run(jnp.array([0.1, 1.0]), jnp.array([10.0, 100.0]), keys)
    run(jnp.array([0.3, 3.0]), jnp.array([1.0, 1e4]), keys)
    assert len(traces) == 1


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(alpha=0.0), "`alpha`"),
        (dict(alpha=-1.0), "`alpha`"),
        (dict(temperature=-0.1), "`temperature`"),
        (dict(batch_size=33), "`batch_size`"),
        (dict(batch_size=0), "`batch_size`"),
        (dict(max_steps=0), "`max_steps`"),
        (dict(method="sde"), "`method`"),
    ],
)
def test_bad_input(change, match):
    x, y = _data()
    kw = (
        dict(temperature=1.0, alpha=1.0, batch_size=2, max_steps=10, key=jax.random.key(0)) | change
    )
    with pytest.raises(ValueError, match=match):
        dynamics.models.train_perceptron(x, y, **kw)


def test_bad_labels_and_shapes():
    x, y = _data()
    kw = dict(temperature=1.0, alpha=1.0, batch_size=2, max_steps=10, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`y`"):
        dynamics.models.train_perceptron(x, (y + 1) / 2, **kw)
    with pytest.raises(ValueError, match="same number"):
        dynamics.models.train_perceptron(x, y[:-1], **kw)
