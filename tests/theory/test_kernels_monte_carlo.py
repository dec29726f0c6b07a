"""Monte Carlo: empirical NTKs of finite MLPs converge to `mlp_kernels` as width^-1/2.

The finite networks are a plain jnp MLP written here (theory must not depend on
`lazyrich.dynamics`).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import theory

DEPTH, BIAS_STD, WEIGHT_STD = 2, 0.1, 1.0


def init(key, widths):
    keys = jax.random.split(key, len(widths) - 1)
    return [
        (jax.random.normal(k, (m, n)), jax.random.normal(jax.random.fold_in(k, 1), (n,)))
        for k, m, n in zip(keys, widths[:-1], widths[1:])
    ]


def apply(params, x):
    # NTK parameterization: z = W_std W h / sqrt(n_in) + b_std b, ReLU between layers.
    h = x
    for i, (w, b) in enumerate(params):
        h = WEIGHT_STD * h @ w / jnp.sqrt(w.shape[0]) + BIAS_STD * b
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h[:, 0]


def empirical_ntk(params, x):
    jac = jax.jacrev(apply)(params, x)
    flat = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree.leaves(jac)], axis=1)
    return flat @ flat.T


def ntk_samples(key, width, num_seeds, x):
    widths = (x.shape[1],) + (width,) * DEPTH + (1,)
    keys = jax.random.split(key, num_seeds)
    return jax.lax.map(lambda k: empirical_ntk(init(k, widths), x), keys, batch_size=8)


def inputs():
    angles = jnp.linspace(0.0, jnp.pi, 6)
    return jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)


def relative_errors(key, widths, num_seeds):
    x = inputs()
    limit = theory.mlp_kernels(x, depth=DEPTH, weight_std=WEIGHT_STD, bias_std=BIAS_STD).ntk
    rms, mean_err = [], []
    for i, width in enumerate(widths):
        samples = ntk_samples(jax.random.fold_in(key, i), width, num_seeds, x)
        dev = jnp.linalg.norm(samples - limit, axis=(1, 2)) / jnp.linalg.norm(limit)
        rms.append(float(jnp.sqrt(jnp.mean(dev**2))))
        mean_err.append(float(jnp.linalg.norm(samples.mean(0) - limit) / jnp.linalg.norm(limit)))
    return np.array(rms), np.array(mean_err)


def check(widths, num_seeds, band, key):
    rms, mean_err = relative_errors(key, widths, num_seeds)
    slope = np.polyfit(np.log(widths), np.log(rms), 1)[0]
    print(f"widths {widths}: rms rel. error {rms}, slope {slope:.3f}; mean-kernel error {mean_err}")
    assert band[0] < slope < band[1], slope
    # The seed-averaged kernel is unbiased up to O(1/width): its error is the fluctuation over
    # sqrt(num_seeds) (a chi-like variable, below 3x its rms with overwhelming probability) plus a
    # bias that we allow as 2/width.
    assert np.all(mean_err < 3 * rms / np.sqrt(num_seeds) + 2 / np.asarray(widths)), mean_err


def test_empirical_ntk_converges_small():
    # Fast version: 4 widths x 16 seeds. Standard error of the fitted slope: each log-RMS has
    # relative error ~ 1/sqrt(2 * 16 * ~3 effective entries) ~ 0.1, and sum (log n - mean)^2 = 1.2
    # for widths 32..256 (factor 2 apart), so SE(slope) ~ 0.1 / sqrt(1.2) ~ 0.09;
    # band: +-0.25 (~3 SE).
    check((32, 64, 128, 256), 16, (-0.75, -0.25), jax.random.key(0))


@pytest.mark.slow
def test_empirical_ntk_converges_wide():
    # 5 widths 64..1024 x 64 seeds: SE(slope) ~ 0.05 / sqrt(4.8) ~ 0.025; band +-0.1 (4 SE).
    check((64, 128, 256, 512, 1024), 64, (-0.6, -0.4), jax.random.key(1))
