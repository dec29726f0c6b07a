"""`theory.kernel_fn` at scale: tiles of any size, devices, compilation once, memory model."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import nn, theory

CNN_GAP = nn.serial(
    nn.Conv(8, (3, 3), padding="SAME", W_std=1.4, b_std=0.1),
    nn.Relu(),
    nn.Conv(8, (2, 2), strides=(2, 1), W_std=1.2),
    nn.Erf(),
    nn.GlobalAvgPool(),
    nn.Dense(1, b_std=0.2),
)
CNN_VEC = nn.serial(
    nn.Conv(8, (3, 3), padding="CIRCULAR", W_std=1.4, b_std=0.1),
    nn.Relu(),
    nn.Flatten(),
    nn.Dense(1, W_std=1.1),
)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("net", [CNN_GAP, CNN_VEC], ids=["gap", "vec"])
def test_tiled_equals_untiled_for_any_sizes(net, dtype, getkey):
    # 7 x 5 in tiles of 3 (neither divides): padded and cropped; symmetric, cross and diagonal.
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-6, atol=1e-7)
    with jax.enable_x64(dtype == "float64"):
        x = jax.random.normal(getkey(), (7, 5, 4, 2), dtype)
        y = jax.random.normal(getkey(), (5, 5, 4, 2), dtype)
        whole, tiled = theory.kernel_fn(net), theory.kernel_fn(net, batch_size=3)
        for args in ((x, y), (x, None)):
            a, b = whole(*args), tiled(*args)
            assert a.ntk.dtype == jnp.dtype(dtype) and a.ntk.shape == b.ntk.shape
            np.testing.assert_allclose(b.nngp, a.nngp, **tol)
            np.testing.assert_allclose(b.ntk, a.ntk, **tol)
        a, b = whole(x, diagonal=True), tiled(x, diagonal=True)
        np.testing.assert_allclose(b.ntk, a.ntk, **tol)
        np.testing.assert_allclose(a.ntk, jnp.diagonal(whole(x).ntk), **tol)


def test_repeated_calls_do_not_recompile(getkey):
    compiles = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    kf = theory.kernel_fn(CNN_GAP, batch_size=4)
    data = [
        (jax.random.normal(getkey(), (6, 5, 4, 2)), jax.random.normal(getkey(), (5, 5, 4, 2)))
        for _ in range(4)
    ]
    kf(*data[0])  # compiles (and the input checks' small programs) once
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        for x, y in data[1:]:
            k = kf(x, y)
        k.ntk.block_until_ready()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == [] and kf.trace_count == 1


SHARDED = textwrap.dedent(
    """
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    from lazyrich import nn, theory
    assert len(jax.local_devices()) == 8, jax.local_devices()
    net = nn.serial(nn.Conv(4, (3, 3), padding="SAME", b_std=0.1), nn.Relu(),
                    nn.GlobalAvgPool(), nn.Dense(1))
    x = jax.random.normal(jax.random.key(0), (11, 4, 4, 2), "float64")
    y = jax.random.normal(jax.random.key(1), (6, 4, 4, 2), "float64")
    one = theory.kernel_fn(net, devices=jax.local_devices()[:1])
    for batch in (None, 2):
        eight = theory.kernel_fn(net, batch_size=batch)
        for args in ((x, y), (x, None)):
            a, b = one(*args), eight(*args)
            np.testing.assert_allclose(b.nngp, a.nngp, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(b.ntk, a.ntk, rtol=1e-13, atol=1e-15)
    print("ok")
    """
)


def test_one_device_equals_eight_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


def test_memory_model_reports_the_layout():
    vec = theory.kernel_fn(CNN_VEC).memory_model((6, 6, 3))
    assert not vec.full_spatial_input and vec.peak_floats_per_pair == 36
    assert [r.layer for r in vec.rows] == ["Conv", "Elementwise[relu]", "Flatten", "Dense"]
    gap = theory.kernel_fn(CNN_GAP).memory_model((6, 6, 3))
    assert gap.full_spatial_input and gap.peak_floats_per_pair == 36**2
    assert [bool(r.full_spatial) for r in gap.rows] == [True] * 5 + [False]
    assert gap.peak_bytes(10, 10, itemsize=8) == 36**2 * 100 * 8 * 2
    assert "GlobalAvgPool" in str(gap)
