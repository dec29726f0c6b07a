"""Leaky RNN forward pass, NNX module, W_h-only tangent kernel, training loop and laziness measures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from lazyrich import dynamics
from tests.conftest import TOLERANCE


def _setup(key, dtype="float32", n=12, d=3, o=3, b=3, t=5):
    k1, k2 = jax.random.split(key)
    p = dynamics.rnn.init_rnn_params(k1, input_dim=d, width=n, output_dim=o, dtype=jnp.dtype(dtype))
    x = jax.random.normal(k2, (b, t, d), jnp.dtype(dtype))
    return p, x


def test_forward_matches_explicit_loop(getkey):
    p, x = _setup(getkey())
    leak = 0.3
    h = np.zeros((x.shape[0], 12), np.float32)
    outs = []
    for t in range(x.shape[1]):
        u = (1 - leak) * h + leak * (
            np.asarray(x[:, t]) @ np.asarray(p["w_x"]).T + h @ np.asarray(p["w_h"]).T
        )
        h = np.maximum(u, 0)
        outs.append(h @ np.asarray(p["w_y"]).T)
    np.testing.assert_allclose(
        dynamics.rnn.rnn_apply(p, x, leak=leak), np.stack(outs, 1), rtol=1e-5, atol=1e-6
    )


def test_nnx_module_equals_pure_function():
    model = dynamics.rnn.LeakyRNN(input_dim=3, width=10, output_dim=2, rngs=nnx.Rngs(0), leak=0.5)
    x = jnp.ones((2, 4, 3))
    np.testing.assert_allclose(
        model(x), dynamics.rnn.rnn_apply(model.params(), x, leak=0.5), rtol=1e-6
    )
    assert model(x).shape == (2, 4, 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tangent_kernel_equals_direct_jacobian(getkey, dtype):
    with jax.enable_x64(dtype == "float64"):
        p, x = _setup(getkey(), dtype, n=8, t=4, b=2)
        _, x2 = _setup(getkey(), dtype, n=8, t=4, b=3)
        leak = 0.7

        def flat(w_h):
            return dynamics.rnn.rnn_apply(
                dict(p, w_h=w_h), jnp.concatenate([x, x2]), leak=leak
            ).reshape(-1)

        jac = jax.jacrev(flat)(p["w_h"]).reshape(
            -1, 64
        )  # rows (trial, step, output), trials of x then x2
        direct = jac @ jac.T
        k12 = dynamics.rnn.recurrent_tangent_kernel(p, x, x2, leak=leak)
        k11 = dynamics.rnn.recurrent_tangent_kernel(p, x, leak=leak, batch_size=1)
        assert k12.shape == (2 * 4 * 3, 3 * 4 * 3) and k12.dtype == jnp.dtype(dtype)
        scale = float(jnp.abs(direct).max())
        np.testing.assert_allclose(k12 / scale, direct[:24, 24:] / scale, **TOLERANCE[dtype])
        np.testing.assert_allclose(k11 / scale, direct[:24, :24] / scale, **TOLERANCE[dtype])


@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_tangent_kernel_causal_lag_algorithm(getkey, activation):
    # The symmetric lag-pair path (x2 = None, no tiling) against the direct Jacobian Gram for the other
    # nonlinearities (phi' from h), and the cross-kernel path against its transpose; T = 1 gives K = 0
    # (y_0 does not depend on W_h).
    p, x = _setup(getkey(), n=7, t=5, b=2)
    _, x2 = _setup(getkey(), n=7, t=5, b=1)
    leak = 0.4

    def flat(w_h):
        return dynamics.rnn.rnn_apply(
            dict(p, w_h=w_h), x, leak=leak, activation=activation
        ).reshape(-1)

    jac = jax.jacrev(flat)(p["w_h"]).reshape(-1, 49)
    direct = jac @ jac.T
    k = dynamics.rnn.recurrent_tangent_kernel(p, x, leak=leak, activation=activation)
    scale = float(jnp.abs(direct).max())
    np.testing.assert_allclose(k / scale, direct / scale, **TOLERANCE["float32"])
    k12 = dynamics.rnn.recurrent_tangent_kernel(p, x, x2, leak=leak, activation=activation)
    k21 = dynamics.rnn.recurrent_tangent_kernel(p, x2, x, leak=leak, activation=activation)
    np.testing.assert_allclose(k12 / scale, k21.T / scale, **TOLERANCE["float32"])
    assert not np.any(dynamics.rnn.recurrent_tangent_kernel(p, x[:, :1], leak=leak))


def test_train_rnn_reproducible_and_learns(getkey):
    p, _ = _setup(getkey(), n=16)
    key = getkey()

    def batch_fn(k):
        x = jax.random.normal(k, (16, 5, 3))
        labels = jnp.where(
            jnp.arange(5) == 4, (x[:, :, 0].sum(1) > 0).astype(jnp.int32)[:, None] + 1, 0
        )
        return x, labels, jnp.ones((16, 5))

    train = jax.jit(
        lambda p, k: dynamics.rnn.train_rnn(
            p, batch_fn, key=k, num_steps=150, learning_rate=0.02, optimizer="adam"
        )
    )
    a, b = train(p, key), train(p, key)
    np.testing.assert_array_equal(a.params["w_h"], b.params["w_h"])
    assert a.loss.shape == (150,)
    assert float(a.loss[-20:].mean()) < 0.6 * float(a.loss[:5].mean())


def _parity_batches(k):
    x = jax.random.normal(k, (16, 5, 3))
    labels = jnp.where(
        jnp.arange(5) == 4, (x[:, :, 0].sum(1) > 0).astype(jnp.int32)[:, None] + 1, 0
    )
    return x, labels, jnp.ones((16, 5))


def test_train_rnn_resumes_in_segments(getkey):
    # Two segments of 3 updates (optimizer state and step index carried over) equal one run of 6.
    p, _ = _setup(getkey(), n=10)
    kw = dict(key=getkey(), learning_rate=0.01, momentum=0.9)

    @jax.jit  # one compiled program for the three runs
    def both(p):
        whole = dynamics.rnn.train_rnn(p, _parity_batches, num_steps=6, **kw)
        first = dynamics.rnn.train_rnn(p, _parity_batches, num_steps=3, **kw)
        second = dynamics.rnn.train_rnn(
            first.params,
            _parity_batches,
            num_steps=3,
            opt_state=first.opt_state,
            initial_step=3,
            **kw,
        )
        return whole, second

    whole, second = both(p)
    np.testing.assert_allclose(second.params["w_h"], whole.params["w_h"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(second.loss, whole.loss[3:], rtol=1e-5)


def test_fit_rank_one_connectivity_keeps_rank_norm_and_lowers_the_loss(getkey):
    p, _ = _setup(getkey(), n=16)
    p = dict(p, w_h=dynamics.rnn.truncate_rank(p["w_h"], 1))
    w, loss = jax.jit(
        lambda q: dynamics.rnn.fit_rank_one_connectivity(
            q, _parity_batches, key=jax.random.key(3), num_steps=200, learning_rate=0.05
        )
    )(p)
    s = np.linalg.svd(np.asarray(w), compute_uv=False)
    # Rank 1 with the norm of the starting matrix (float32 SVD: relative 1e-5 of s_1).
    np.testing.assert_allclose(s[0], float(jnp.linalg.norm(p["w_h"])), rtol=1e-5)
    assert s[1] < 1e-5 * s[0]
    assert loss.shape == (200,) and float(loss[-20:].mean()) < float(loss[:20].mean())


def test_fit_rank_one_network_is_rank_one_keeps_w_x_and_solves_better(getkey):
    # Guaranteed by construction: W_h exactly rank 1 (norm fixed when fit_scale=False), W_x untouched,
    # W_y fitted; and the fit lowers the loss on the same batch stream below that of the random rank-1
    # start, which the training run then sees.
    p, _ = _setup(getkey(), n=16)
    p = dict(p, w_h=dynamics.rnn.truncate_rank(p["w_h"], 1))
    key = jax.random.key(5)

    @jax.jit
    def fits(q):
        free, loss = dynamics.rnn.fit_rank_one_network(
            q, _parity_batches, key=key, num_steps=150, learning_rate=0.02
        )
        fixed, _ = dynamics.rnn.fit_rank_one_network(
            q, _parity_batches, key=key, num_steps=5, fit_scale=False, fit_readout=False
        )
        return free, loss, fixed

    free, loss, fixed = fits(p)
    for out in (free, fixed):
        s = np.linalg.svd(np.asarray(out["w_h"]), compute_uv=False)
        assert s[1] < 1e-5 * s[0]
        np.testing.assert_array_equal(out["w_x"], p["w_x"])
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(fixed["w_h"])), float(jnp.linalg.norm(p["w_h"])), rtol=1e-5
    )
    np.testing.assert_array_equal(fixed["w_y"], p["w_y"])
    assert not np.array_equal(free["w_y"], p["w_y"])
    assert loss.shape == (150,) and float(loss[-20:].mean()) < 0.8 * float(loss[:20].mean())
    with pytest.raises(ValueError, match="`optimizer`"):
        dynamics.rnn.fit_rank_one_network(
            p, _parity_batches, key=key, num_steps=2, optimizer="rmsprop"
        )


def test_measures_identities(getkey):
    p, x = _setup(getkey())
    np.testing.assert_allclose(dynamics.rnn.representation_alignment(p, p, x), 1.0, rtol=1e-5)
    np.testing.assert_allclose(dynamics.rnn.recurrent_kernel_alignment(p, p, x), 1.0, rtol=1e-5)
    q = dict(p, w_h=p["w_h"] + 1.0)
    np.testing.assert_allclose(dynamics.rnn.weight_change(p["w_h"], q["w_h"]), 12.0, rtol=1e-6)
    # Scaling W_y by c scales K by c^2 and leaves the alignment at 1.
    np.testing.assert_allclose(
        dynamics.rnn.recurrent_kernel_alignment(p, dict(p, w_y=3 * p["w_y"]), x), 1.0, rtol=1e-5
    )


def test_bad_shapes(getkey):
    p, x = _setup(getkey())
    with pytest.raises(ValueError, match="`x` must have shape"):
        dynamics.rnn.rnn_apply(p, x[..., :2])
    with pytest.raises(ValueError, match="`x` must be a 3-D"):
        dynamics.rnn.rnn_apply(p, x[0])
    with pytest.raises(ValueError, match="`activation`"):
        dynamics.rnn.rnn_apply(p, x, activation="gelu")
    with pytest.raises(ValueError, match="`params`"):
        dynamics.rnn.rnn_apply({"w": 1}, x)
    with pytest.raises(ValueError, match="`batch_size`"):
        dynamics.rnn.recurrent_tangent_kernel(p, x, batch_size=2)


def test_tangent_kernel_equals_empirical_ntk_wrt_w_h(getkey):
    p, x = _setup(getkey())

    def apply_fn(params, xs):  # one example = one trial; outputs (T * O) per trial
        return dynamics.rnn.rnn_apply(params, xs).reshape(xs.shape[0], -1)

    k = dynamics.empirical_ntk(
        apply_fn, p, x, trace_outputs=False, wrt={"w_x": False, "w_h": True, "w_y": False}
    )
    n, _, o, _ = k.shape
    k = jnp.transpose(k, (0, 2, 1, 3)).reshape(n * o, n * o)
    ours = dynamics.rnn.recurrent_tangent_kernel(p, x)
    scale = float(jnp.abs(ours).max())
    np.testing.assert_allclose(k / scale, ours / scale, **TOLERANCE["float32"])
