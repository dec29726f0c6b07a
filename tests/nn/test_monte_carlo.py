"""Finite networks from the same description converge to the infinite-width kernels.

For one network the relative error of the empirical kernel is a fluctuation ~ c / sqrt(width)
(the O(1/width) bias is smaller); the mean over seeds of that error must fall with a fitted
log-log slope within 0.15 of -0.5. NNGP: the channel-averaged kernel of the last hidden layer
(width outputs, `dynamics.sample_kernels` on the body); NTK: the one-output network (the NTK
concentrates with one output).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lazyrich import dynamics, nn, theory


def cnn_gap(w):
    return nn.serial(
        nn.Conv(w, (3, 3), padding="SAME", W_std=1.4, b_std=0.1),
        nn.Relu(),
        nn.Conv(w, (3, 3), padding="SAME", W_std=1.3),
        nn.Relu(),
        nn.GlobalAvgPool(),
    )


def residual(w):
    block = nn.serial(nn.Relu(), nn.Dense(w, W_std=1.3, b_std=0.1))
    return nn.serial(
        nn.Dense(w, W_std=1.2, b_std=0.1),
        nn.FanOut(2),
        nn.parallel(block, nn.Identity()),
        nn.FanInSum(),
        nn.Relu(),
    )


def attention(w):
    return nn.serial(
        nn.Dense(w, W_std=1.2, b_std=0.1),
        nn.GlobalSelfAttention(w, w, w, n_heads=1, W_key_std=1.4, b_std=0.2),
        nn.Relu(),
        nn.GlobalAvgPool(),
    )


ARCHS = {
    "cnn_gap": (cnn_gap, (4, 4, 2)),
    "residual": (residual, (3,)),
    "attention": (attention, (4, 3)),
}


def relative_errors(arch, widths, seeds, key, n=3):
    """Mean over seeds of ||K_hat - K|| / ||K|| (Frobenius) per width, for (NNGP, NTK)."""
    body_of, shape = ARCHS[arch]
    x = jax.random.normal(key, (n,) + shape, jnp.float64)

    def readout(body):
        return nn.serial(body, nn.Dense(1, W_std=1.1, b_std=0.1))

    # NTK parameterization: the infinite-width kernels do not depend on the widths.
    k_body = theory.kernel_fn(body_of(1))(x, get="nngp")
    k_net = theory.kernel_fn(readout(body_of(1)))(x, get="ntk")
    errors = []
    for i, width in enumerate(widths):
        body = body_of(int(width))
        keys = jax.random.split(jax.random.fold_in(key, i), seeds)
        nngp, _ = dynamics.sample_kernels(body, keys, x, get="nngp")
        _, ntk = dynamics.sample_kernels(readout(body), keys, x, get="ntk")
        errors.append(
            [
                float(jnp.mean(jnp.linalg.norm(e - k, axis=(1, 2)) / jnp.linalg.norm(k)))
                for e, k in ((nngp, k_body.nngp), (ntk, k_net.ntk))
            ]
        )
    return np.asarray(errors)


def check_slopes(widths, errors):
    for column, name in enumerate(("nngp", "ntk")):
        slope = np.polyfit(np.log(widths), np.log(errors[:, column]), 1)[0]
        assert abs(slope + 0.5) < 0.15, (name, slope, errors[:, column])


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_empirical_kernels_converge_like_inverse_sqrt_width(arch, getkey, x64):
    widths = np.array([16, 64, 256])
    errors = relative_errors(arch, widths, seeds=8, key=getkey())
    print(arch, errors)
    check_slopes(widths, errors)


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_empirical_kernels_converge_wide(arch, getkey, x64):
    widths = np.array([16, 32, 64, 128, 256, 512, 1024])
    errors = relative_errors(arch, widths, seeds=32, key=getkey())
    print(arch, errors)
    check_slopes(widths, errors)


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_finite_network_trains_with_optax_and_empirical_ntk(parameterization, getkey):
    net = nn.serial(
        nn.Conv(16, (3, 3), padding="SAME", b_std=0.1, parameterization=parameterization),
        nn.Relu(),
        nn.GlobalAvgPool(),
        nn.Dense(1, parameterization=parameterization),
    )
    x = jax.random.normal(getkey(), (8, 4, 4, 2))
    y = jnp.sin(x.sum(axis=(1, 2, 3)))[:, None]
    params = net.init(getkey(), x.shape[1:])
    ntk = dynamics.empirical_ntk(net.apply, params, x)
    assert ntk.shape == (8, 8) and bool(jnp.all(jnp.linalg.eigvalsh(ntk) > -1e-4))

    def loss(p):
        return jnp.mean((net.apply(p, x) - y) ** 2)

    opt = optax.sgd(0.1)
    state = opt.init(params)
    first = loss(params)
    for _ in range(20):
        grads = jax.grad(loss)(params)
        updates, state = opt.update(grads, state)
        params = optax.apply_updates(params, updates)
    assert loss(params) < 0.9 * first
