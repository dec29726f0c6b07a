"""`theory.kernel_fn` on `lazyrich.nn` networks: fully connected stacks against `mlp_kernels`'s
recursion (pinned by the neural-tangents fixtures), combinator identities, errors with layer paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import nn, theory


def mlp(depth, w_std=1.5, b_std=0.1, parameterization="ntk", width=7, act=nn.Relu):
    hidden = [nn.Dense(width, w_std, b_std, parameterization), act()] * depth
    return nn.serial(*hidden, nn.Dense(1, w_std, b_std, parameterization))


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("act, name", [(nn.Relu, "relu"), (nn.Erf, "erf")])
def test_fully_connected_matches_mlp_kernels(act, name, parameterization, getkey, x64):
    x = jax.random.normal(getkey(), (6, 3), jnp.float64)
    y = jax.random.normal(getkey(), (4, 3), jnp.float64)
    kf = theory.kernel_fn(mlp(3, act=act, parameterization=parameterization))
    kw = dict(depth=3, activation=name, weight_std=1.5, bias_std=0.1)
    kw |= dict(
        parameterization=parameterization, width=7 if parameterization == "standard" else None
    )
    for a, b in ((x, y), (x, None)):
        ref, k = theory.mlp_kernels(a, b, **kw), kf(a, b)
        np.testing.assert_allclose(k.nngp, ref.nngp, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(k.ntk, ref.ntk, rtol=1e-12, atol=1e-14)


def test_get_selects_fields_and_diagonal(getkey, x64):
    x = jax.random.normal(getkey(), (5, 3), jnp.float64)
    kf = theory.kernel_fn(mlp(2))
    full = kf(x)
    only = kf(x, get="nngp")
    assert only.ntk is None and only.nngp.shape == (5, 5)
    assert kf(x, get=("ntk",)).nngp is None
    diag = kf(x, diagonal=True)
    np.testing.assert_allclose(diag.ntk, jnp.diagonal(full.ntk), rtol=1e-12)
    np.testing.assert_allclose(diag.nngp, jnp.diagonal(full.nngp), rtol=1e-12)


def test_residual_and_concat_rules(getkey, x64):
    # FanOut + parallel(f, Identity) + FanInSum adds the kernels of f(x) and x; FanInConcat of two
    # copies of the same branch leaves the kernel unchanged.
    x = jax.random.normal(getkey(), (4, 3), jnp.float64)
    block = nn.serial(nn.Dense(5, 1.2, 0.1), nn.Relu(), nn.Dense(3, 0.9))
    res = nn.serial(nn.FanOut(2), nn.parallel(block, nn.Identity()), nn.FanInSum())
    k_res = theory.kernel_fn(nn.serial(nn.Dense(3, 1.1), res))(x)
    k_block = theory.kernel_fn(nn.serial(nn.Dense(3, 1.1), block))(x)
    k_in = theory.kernel_fn(nn.Dense(3, 1.1))(x)
    np.testing.assert_allclose(k_res.nngp, k_block.nngp + k_in.nngp, rtol=1e-12)
    np.testing.assert_allclose(k_res.ntk, k_block.ntk + k_in.ntk, rtol=1e-12)
    cat = nn.serial(nn.FanOut(2), nn.parallel(block, block), nn.FanInConcat())
    k_cat = theory.kernel_fn(nn.serial(nn.Dense(3, 1.1), cat))(x)
    np.testing.assert_allclose(k_cat.ntk, k_block.ntk, rtol=1e-12)


def test_finite_network_shapes_and_errors_name_the_layer(getkey):
    net = mlp(2)
    params = net.init(getkey(), (3,))
    assert net.apply(params, jnp.ones((5, 3))).shape == (5, 1)
    with pytest.raises(ValueError, match=r"layer 1 \(FanInSum\) of serial: needs several branches"):
        nn.serial(nn.Dense(3), nn.FanInSum()).output_shape((3,))
    with pytest.raises(
        ValueError,
        match=r"layer 0 \(serial\) of serial > layer 1 \(parallel\) of serial: needs 1 br",
    ):
        nested = nn.serial(nn.serial(nn.Dense(3), nn.parallel(nn.Identity())))
        theory.kernel_fn(nested)(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="`W_std` must be a finite number >= 0"):
        nn.Dense(3, W_std=-1.0)
