"""Conv, pooling, Flatten: each kernel rule against an independent exact computation.

A network that is linear in its parameters (one Conv, then pooling) has an NTK that does not depend on
the weights: :math:`\\Theta(x, x')_{pq} = \\sum_\\theta \\partial_\\theta f_p(x) \\partial_\\theta f_q(x')`
at any width, from the finite network's Jacobian (``jax.lax.conv_general_dilated``, XLA's own padding,
strides and dilation). The kernel rule must reproduce it to float64 rounding, cross-position
covariances included (``spatial_output="full"``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import nn, theory


def exact_ntk(net, x1, x2, key):
    """sum_theta d f(x1)_p d f(x2)_q for the single output channel: (n1, n2, *S, *S)."""
    params = net.init(key, x1.shape[1:])

    def jac(x):
        j = jax.jacobian(lambda p: net.apply(p, x)[..., 0])(params)
        leaves = jax.tree_util.tree_leaves(j)
        return jnp.concatenate(
            [leaf.reshape(leaf.shape[: x.ndim - 1] + (-1,)) for leaf in leaves], -1
        )

    j1, j2 = jac(x1), jac(x2)
    nd = x1.ndim - 2
    s1 = "ab"[:1] + "pqr"[:nd]
    s2 = "c" + "uvw"[:nd]
    return jnp.einsum(f"{s1}z,{s2}z->ac{s1[1:]}{s2[1:]}", j1, j2)


CASES = {
    "2d same": ((6, 5, 2), [nn.Conv(1, (3, 3), padding="SAME", W_std=1.3, b_std=0.4)]),
    "2d valid stride": ((7, 6, 2), [nn.Conv(1, (3, 2), strides=(2, 1), W_std=0.9)]),
    "2d circular stride": ((5, 6, 3), [nn.Conv(1, (3, 3), strides=(2, 2), padding="CIRCULAR")]),
    "2d dilation same": ((7, 7, 1), [nn.Conv(1, (3, 2), padding="SAME", dilation=(2, 3))]),
    "1d dilation circular": ((9, 2), [nn.Conv(1, (3,), padding="CIRCULAR", dilation=(2,))]),
    "1d standard": ((8, 2), [nn.Conv(1, (2,), parameterization="standard", W_std=1.5, b_std=0.3)]),
    "avgpool same": (
        (6, 5, 2),
        [nn.Conv(1, (2, 2), padding="SAME"), nn.AvgPool((3, 2), (2, 1), "SAME")],
    ),
    "avgpool normalized": (
        (5, 5, 1),
        [nn.Conv(1, (2, 2), b_std=0.2), nn.AvgPool((3, 3), (1, 2), "SAME", normalize_edges=True)],
    ),
    "sumpool circular": (
        (6, 2),
        [nn.Conv(1, (3,), padding="SAME"), nn.SumPool((3,), (2,), "CIRCULAR")],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_linear_layers_match_the_exact_jacobian_kernel(case, getkey, x64):
    shape, layers = CASES[case]
    net = nn.serial(*layers)
    x1 = jax.random.normal(getkey(), (3,) + shape, jnp.float64)
    x2 = jax.random.normal(getkey(), (2,) + shape, jnp.float64)
    exact = exact_ntk(net, x1, x2, getkey())
    k = theory.kernel_fn(net, spatial_output="full")(x1, x2)
    assert k.ntk.shape == exact.shape
    np.testing.assert_allclose(k.ntk, exact, rtol=1e-12, atol=1e-12)
    if layers[0].parameterization == "ntk":  # one layer from the input: Theta = Sigma
        np.testing.assert_allclose(k.nngp, exact, rtol=1e-12, atol=1e-12)
    # The diagonal layout is the diagonal of the full one.
    diag = theory.kernel_fn(net)(x1, x2)
    n = int(np.prod(exact.shape[2 : 2 + len(shape) - 1]))
    flat = np.asarray(exact).reshape(3, 2, n, n)
    np.testing.assert_allclose(
        np.asarray(diag.ntk).reshape(3, 2, n), np.diagonal(flat, axis1=2, axis2=3), rtol=1e-12
    )


def test_global_pooling_and_flatten_are_means(getkey, x64):
    x = jax.random.normal(getkey(), (3, 4, 5, 2), jnp.float64)
    conv = nn.Conv(1, (3, 3), padding="SAME", b_std=0.1)
    full = theory.kernel_fn(conv, spatial_output="full")(x)
    gap = theory.kernel_fn(nn.serial(conv, nn.GlobalAvgPool()))(x)
    gsp = theory.kernel_fn(nn.serial(conv, nn.GlobalSumPool()))(x)
    flat = theory.kernel_fn(nn.serial(conv, nn.Flatten()))(x)
    np.testing.assert_allclose(gap.nngp, full.nngp.mean(axis=(2, 3, 4, 5)), rtol=1e-12)
    np.testing.assert_allclose(gsp.ntk, full.ntk.sum(axis=(2, 3, 4, 5)), rtol=1e-12)
    diag = np.einsum("abijij->abij", np.asarray(full.nngp))
    np.testing.assert_allclose(flat.nngp, diag.mean(axis=(2, 3)), rtol=1e-12)


def test_memory_model_follows_the_readout():
    body = [nn.Conv(8, (3, 3), padding="SAME"), nn.Relu(), nn.Conv(8, (3, 3)), nn.Relu()]
    assert not theory.kernel_fn(nn.serial(*body, nn.Flatten(), nn.Dense(1))).full_spatial_input
    assert theory.kernel_fn(nn.serial(*body, nn.GlobalAvgPool(), nn.Dense(1))).full_spatial_input
    pooled = nn.serial(*body, nn.AvgPool((2, 2)), nn.Relu(), nn.Flatten(), nn.Dense(1))
    assert theory.kernel_fn(pooled).full_spatial_input
    # Two branches: one global pool anywhere makes the shared trunk full.
    mixed = nn.serial(
        nn.Conv(8, (3, 3)),
        nn.FanOut(2),
        nn.parallel(nn.serial(nn.Relu(), nn.Flatten()), nn.serial(nn.Relu(), nn.GlobalAvgPool())),
        nn.FanInConcat(),
        nn.Dense(1),
    )
    assert theory.kernel_fn(mixed).full_spatial_input
