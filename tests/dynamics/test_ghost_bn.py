"""Ghost batch norm: identities with batch norm, per-chunk batch norm, the EMA closed form, and contracts."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from lazyrich import dynamics
from tests.conftest import TOLERANCE


def reference_bn(x, scale, bias, eps=1e-5):
    """Plain batch norm over all axes but the last (biased variance), written from the definition."""
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes)
    var = ((x - mean) ** 2).mean(axis=axes)
    return scale * (x - mean) / np.sqrt(var + eps) + bias, mean, var


def chunked_reference(x, scale, bias, mean0, var0, groups, m, eps=1e-5):
    """The authors' chunked loop: each chunk through batch norm, one EMA step per chunk (Python loop)."""
    outs, mean, var = [], mean0, var0
    for chunk in np.array_split(x, groups, axis=0):
        y, mu, v = reference_bn(chunk, scale, bias, eps)
        outs.append(y)
        mean, var = (1 - m) * mean + m * mu, (1 - m) * var + m * v
    return np.concatenate(outs, axis=0), mean, var


def _params(features, dtype, rng):
    scale = rng.uniform(0.5, 2.0, features).astype(dtype)
    bias = rng.normal(size=features).astype(dtype)
    stats = dynamics.models.BatchStats(
        rng.normal(size=features).astype(dtype), rng.uniform(0.5, 2, features).astype(dtype)
    )
    return scale, bias, stats


@pytest.mark.parametrize("shape", [(32, 5), (16, 3, 4, 6)])
def test_ghost_size_equal_batch_is_flax_batch_norm(shape, getkey):
    # float32 only: Flax keeps float32 batch statistics; float64 is covered by the hand-written reference below.
    x = 3.0 * jax.random.normal(getkey(), shape) + 1.0
    features = shape[-1]
    bn = nnx.BatchNorm(features, momentum=0.9, use_running_average=False, rngs=nnx.Rngs(0))
    gbn = dynamics.models.GhostBatchNorm(features, ghost_size=shape[0], ema_rate=0.1)

    @nnx.jit
    def both(bn, gbn, x):
        return bn(x), gbn(x)

    for step in range(3):
        y_bn, y_gbn = both(bn, gbn, x * (1.0 + step))
        np.testing.assert_allclose(y_gbn, y_bn, **TOLERANCE["float32"])
    np.testing.assert_allclose(gbn.mean[...], bn.mean[...], **TOLERANCE["float32"])
    np.testing.assert_allclose(gbn.var[...], bn.var[...], **TOLERANCE["float32"])
    bn.eval(), gbn.eval()
    y_bn, y_gbn = both(bn, gbn, x)
    np.testing.assert_allclose(y_gbn, y_bn, **TOLERANCE["float32"])
    assert y_gbn.dtype == jnp.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ghost_size_equal_batch_is_hand_written_batch_norm(dtype):
    with jax.enable_x64(dtype == "float64"):
        rng = np.random.default_rng(0)
        x = rng.normal(2.0, 3.0, (24, 4, 7)).astype(dtype)
        scale, bias, stats = _params(7, dtype, rng)
        y, new = dynamics.models.ghost_batch_norm(
            jnp.asarray(x), scale=scale, bias=bias, stats=stats, ghost_size=24, ema_rate=0.3
        )
        ref, mu, var = reference_bn(x, scale, bias)
        np.testing.assert_allclose(y, ref, **TOLERANCE[dtype])
        np.testing.assert_allclose(new.mean, 0.7 * stats.mean + 0.3 * mu, **TOLERANCE[dtype])
        np.testing.assert_allclose(new.var, 0.7 * stats.var + 0.3 * var, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("batch", "ghost", "groups"), [(32, 8, None), (30, None, 4), (9, None, 9)])
def test_equals_per_chunk_batch_norm_and_sequential_ema(dtype, batch, ghost, groups):
    with jax.enable_x64(dtype == "float64"):
        rng = np.random.default_rng(1)
        x = (
            rng.normal(-1.0, 2.0, (batch, 2, 5)).astype(dtype)
            * np.arange(1, batch + 1)[:, None, None]
        )
        scale, bias, stats = _params(5, dtype, rng)
        m = 0.25
        fn = jax.jit(
            lambda x: dynamics.models.ghost_batch_norm(
                x,
                scale=scale,
                bias=bias,
                stats=stats,
                ghost_size=ghost,
                num_ghost_batches=groups,
                ema_rate=m,
            )
        )
        y, new = fn(jnp.asarray(x))
        k = groups or batch // ghost
        ref, mu, var = chunked_reference(x, scale, bias, stats.mean, stats.var, k, m)
        np.testing.assert_allclose(y, ref, **TOLERANCE[dtype])
        np.testing.assert_allclose(new.mean, mu, **TOLERANCE[dtype])
        np.testing.assert_allclose(new.var, var, **TOLERANCE[dtype])


def test_sequential_ema_closed_form_is_exact(x64):
    rng = np.random.default_rng(2)
    r0, values, m = rng.normal(size=3), rng.normal(size=(7, 3)), 0.37
    loop = r0.copy()
    for v in values:
        loop = (1 - m) * loop + m * v
    np.testing.assert_allclose(
        dynamics.models.sequential_ema(jnp.asarray(r0), jnp.asarray(values), ema_rate=m),
        loop,
        rtol=1e-14,
        atol=1e-15,
    )
    # After k ghost batches of zeros the old value is weighted by exactly (1 - m)^k.
    out = dynamics.models.sequential_ema(jnp.asarray(r0), jnp.zeros((7, 3)), ema_rate=m)
    np.testing.assert_allclose(out, (1 - m) ** 7 * r0, rtol=1e-14)
    # Edge rates: m = 0 keeps the running value, m = 1 keeps the last ghost statistic.
    np.testing.assert_allclose(
        dynamics.models.sequential_ema(jnp.asarray(r0), jnp.asarray(values), ema_rate=0.0), r0
    )
    np.testing.assert_allclose(
        dynamics.models.sequential_ema(jnp.asarray(r0), jnp.asarray(values), ema_rate=1.0),
        values[-1],
    )


def test_running_stats_after_several_calls(x64):
    """Two calls of G ghost batches = 2G sequential EMA steps: old value weighted by (1 - m)^(2G)."""
    rng = np.random.default_rng(3)
    layer = dynamics.models.GhostBatchNorm(4, ghost_size=4, ema_rate=0.2, dtype=jnp.float64)
    x1, x2 = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    layer(jnp.asarray(x1)), layer(jnp.asarray(x2))
    means = [c.mean(0) for c in np.split(x1, 3) + np.split(x2, 3)]
    expected = 0.8**6 * 0.0 + sum(0.2 * 0.8 ** (5 - i) * mu for i, mu in enumerate(means))
    np.testing.assert_allclose(layer.mean[...], expected, rtol=1e-12)


def test_gradients_flow_and_match_chunked_mean_loss(getkey):
    x = jax.random.normal(getkey(), (16, 6))
    target = jax.random.normal(getkey(), (16, 6))
    stats = dynamics.models.BatchStats(jnp.zeros(6), jnp.ones(6))

    def loss_gbn(params, x):
        y, _ = dynamics.models.ghost_batch_norm(
            x, scale=params[0], bias=params[1], stats=stats, ghost_size=4
        )
        return jnp.mean((y - target) ** 2)

    def loss_chunked(
        params, x
    ):  # per-chunk forward/backward, gradients averaged over chunks (authors' code)
        total = 0.0
        for c in range(4):
            y, _ = dynamics.models.ghost_batch_norm(
                x[4 * c : 4 * c + 4], scale=params[0], bias=params[1], stats=stats, ghost_size=4
            )
            total = total + jnp.mean((y - target[4 * c : 4 * c + 4]) ** 2) / 4
        return total

    params = (jnp.linspace(0.5, 1.5, 6), jnp.linspace(-1.0, 1.0, 6))
    g1 = jax.jit(jax.grad(loss_gbn, argnums=(0, 1)))(params, x)
    g2 = jax.jit(jax.grad(loss_chunked, argnums=(0, 1)))(params, x)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        assert np.all(np.isfinite(a)) and np.abs(a).max() > 1e-3
        np.testing.assert_allclose(a, b, **TOLERANCE["float32"])
    # Per-ghost-batch normalisation: the input gradient of each ghost batch sums to zero per feature.
    gx = jax.jit(jax.grad(loss_gbn, argnums=1))(params, x).reshape(4, 4, 6)
    np.testing.assert_allclose(gx.sum(axis=1), 0.0, atol=1e-6)


def test_eval_mode_is_deterministic_and_per_example(getkey):
    layer = dynamics.models.GhostBatchNorm(3, ghost_size=4, ema_rate=0.5)
    layer(jax.random.normal(getkey(), (8, 3)) + 2.0)
    layer.eval()
    before = (np.asarray(layer.mean[...]), np.asarray(layer.var[...]))
    x = jax.random.normal(getkey(), (8, 3))
    y1, y2 = layer(x), layer(x)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(
        layer(x[:3]), y1[:3]
    )  # output of an example ignores the rest of the batch
    np.testing.assert_array_equal(layer.mean[...], before[0])
    np.testing.assert_array_equal(layer.var[...], before[1])
    expected = (x - before[0]) / np.sqrt(before[1] + 1e-5)
    np.testing.assert_allclose(y1, expected, **TOLERANCE["float32"])


def test_incomplete_last_batch_keeps_number_of_ghost_batches():
    rng = np.random.default_rng(4)
    layer = dynamics.models.GhostBatchNorm(2, ghost_size=8, batch_size=32, ema_rate=0.1)
    x = rng.normal(size=(20, 2)).astype(np.float32)
    y = layer(jnp.asarray(x))
    ref, mu, _ = chunked_reference(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), 4, 0.1)
    np.testing.assert_allclose(y, ref, **TOLERANCE["float32"])
    np.testing.assert_allclose(layer.mean[...], mu, **TOLERANCE["float32"])


def test_jit_vmap_and_traced_ema_rate_compile_once(getkey):
    xs = jax.random.normal(getkey(), (5, 16, 3))
    stats = dynamics.models.BatchStats(jnp.zeros(3), jnp.ones(3))
    traces = []

    def f(x, m):
        traces.append(1)
        return dynamics.models.ghost_batch_norm(
            x, scale=jnp.ones(3), bias=jnp.zeros(3), stats=stats, ghost_size=4, ema_rate=m
        )

    batched = jax.jit(jax.vmap(f, in_axes=(0, None)))
    for m in (0.1, 0.2, 0.9):
        y, new = batched(xs, jnp.float32(m))
        y0, new0 = f(xs[2], m)
        np.testing.assert_allclose(y[2], y0, **TOLERANCE["float32"])
        np.testing.assert_allclose(new.mean[2], new0.mean, **TOLERANCE["float32"])
    assert len(traces) == 1 + 3  # one trace for jit(vmap), plus the three eager calls


def test_sharded_batch_matches_unsharded():
    """Batch axis sharded over 4 (host) devices under jit gives the unsharded result."""
    code = textwrap.dedent("""
        import jax, jax.numpy as jnp, numpy as np
        from jax.sharding import NamedSharding, PartitionSpec as P
        from lazyrich import dynamics
        assert jax.device_count() == 4
        x = jax.random.normal(jax.random.key(0), (32, 5))
        stats = dynamics.models.BatchStats(jnp.zeros(5), jnp.ones(5))
        f = jax.jit(lambda x: dynamics.models.ghost_batch_norm(x, scale=jnp.ones(5), bias=jnp.zeros(5), stats=stats,
                                                        ghost_size=4))
        mesh = jax.make_mesh((4,), ("batch",))
        xs = jax.device_put(x, NamedSharding(mesh, P("batch")))
        (y1, s1), (y2, s2) = f(x), f(xs)
        np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s1.var, s2.var, rtol=1e-5, atol=1e-6)
        print("ok")
    """)
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(ghost_size=0), "ghost_size"),
        (dict(ghost_size=64), "ghost_size"),
        (dict(ghost_size=5), "ghost_size"),
        (dict(num_ghost_batches=0), "num_ghost_batches"),
        (dict(num_ghost_batches=17), "num_ghost_batches"),
        (dict(ghost_size=4, num_ghost_batches=4), "exactly one"),
        (dict(ghost_size=4, ema_rate=1.5), "ema_rate"),
        (dict(ghost_size=4, ema_rate=-0.1), "ema_rate"),
    ],
)
def test_bad_input(kwargs, match):
    stats = dynamics.models.BatchStats(jnp.zeros(3), jnp.ones(3))
    with pytest.raises(ValueError, match=match):
        dynamics.models.ghost_batch_norm(
            jnp.ones((16, 3)), scale=jnp.ones(3), bias=jnp.zeros(3), stats=stats, **kwargs
        )


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="ghost_size"):
        dynamics.models.GhostBatchNorm(3, ghost_size=5, batch_size=16)
    with pytest.raises(ValueError, match="ema_rate"):
        dynamics.models.GhostBatchNorm(3, ghost_size=4, ema_rate=2.0)
    with pytest.raises(ValueError, match="ghost_size"):
        dynamics.models.ghost_batch_count(4, 8)
    with pytest.raises(ValueError, match="scale"):
        dynamics.models.ghost_batch_norm(
            jnp.ones((8, 3)),
            scale=jnp.ones(4),
            bias=jnp.zeros(3),
            stats=dynamics.models.BatchStats(jnp.zeros(3), jnp.ones(3)),
            ghost_size=4,
        )


def test_one_fused_normalisation_whatever_the_number_of_ghost_batches():
    """The compiled forward + backward has the same reductions for 1, 32 or 128 ghost batches (one reshape,
    no per-chunk ops) and no float64 operation on float32 input (x64 off)."""
    x = jnp.ones((1024, 64), jnp.float32)
    features = x.shape[-1]
    stats = dynamics.models.BatchStats(jnp.zeros(features), jnp.ones(features))

    def hlo(ghost):
        def loss(x):
            y, new = dynamics.models.ghost_batch_norm(
                x,
                scale=jnp.ones(features),
                bias=jnp.zeros(features),
                stats=stats,
                ghost_size=ghost,
            )
            return jnp.sum(y * y), new

        grad = jax.jit(jax.value_and_grad(loss, has_aux=True))
        return grad.lower(x).as_text()

    texts = {ghost: hlo(ghost) for ghost in (1024, 32, 8)}
    counts = {ghost: text.count("stablehlo.reduce") for ghost, text in texts.items()}
    assert len(set(counts.values())) == 1, counts
    assert not any("f64" in text for text in texts.values())
