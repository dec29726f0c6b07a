"""Small models shared by the empirical-NTK tests (plain JAX and Flax NNX)."""

import jax
import jax.numpy as jnp
from flax import nnx

BIAS_SCALE = 0.3


def mlp(params, x):
    """The MLP of tests/reference/make_nt_empirical_fixtures.py (NTK parameterisation, tanh)."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w / jnp.sqrt(w.shape[0]) + BIAS_SCALE * b
        if i < len(params) - 1:
            h = jnp.tanh(h)
    return h


def mlp_params(key, widths, dtype):
    keys = jax.random.split(key, len(widths) - 1)
    return [
        (
            jax.random.normal(k, (m, n), dtype),
            jax.random.normal(jax.random.fold_in(k, 1), (n,), dtype),
        )
        for k, m, n in zip(keys, widths[:-1], widths[1:])
    ]


class CNN(nnx.Module):
    """Two convolutions with average pooling, global mean, dense readout (O = 3)."""

    def __init__(self, *, rngs, channels=4, num_out=3):
        self.conv1 = nnx.Conv(2, channels, (3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(channels, channels, (3, 3), padding="VALID", rngs=rngs)
        self.readout = nnx.Linear(channels, num_out, rngs=rngs)

    def __call__(self, x):
        x = jax.nn.relu(self.conv1(x))
        x = nnx.avg_pool(x, (2, 2), strides=(2, 2))
        x = jax.nn.relu(self.conv2(x))
        return self.readout(x.mean(axis=(1, 2)))


class DenseNet(nnx.Module):
    def __init__(self, *, rngs, widths=(3, 16, 16, 4)):
        self.layers = nnx.List(
            [nnx.Linear(m, n, rngs=rngs) for m, n in zip(widths[:-1], widths[1:])]
        )

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jax.nn.relu(layer(x))
        return self.layers[-1](x)


def rnn(params, x):
    """Vanilla RNN unrolled with lax.scan: h <- tanh(h W / sqrt(H) + x_t U); out h_T V / sqrt(H)."""
    hidden = params["rec"].shape[0]

    def step(h, xt):
        h = jnp.tanh(h @ params["rec"] / jnp.sqrt(hidden) + xt @ params["inp"])
        return h, None

    h0 = jnp.zeros((x.shape[0], hidden), x.dtype)
    h, _ = jax.lax.scan(step, h0, jnp.swapaxes(x, 0, 1))
    return h @ params["out"] / jnp.sqrt(hidden)


def rnn_params(key, dtype, *, inputs=2, hidden=8, outputs=2):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "inp": jax.random.normal(k1, (inputs, hidden), dtype),
        "rec": jax.random.normal(k2, (hidden, hidden), dtype),
        "out": jax.random.normal(k3, (hidden, outputs), dtype),
    }
