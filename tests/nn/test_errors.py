"""Bad input gets a clear error before any work, naming the layer (its path) and what was received."""

import jax
import jax.numpy as jnp
import pytest

from lazyrich import nn, theory


def kf_call(net, x, x2=None):
    return theory.kernel_fn(net)(x, x2)


CNN = nn.serial(nn.Conv(4, (3, 3)), nn.Relu(), nn.Flatten(), nn.Dense(1))


def test_spatial_layer_given_vectors():
    with pytest.raises(
        ValueError,
        match=r"layer 0 \(Conv\) of serial: needs per-example inputs with 2 spatial dims "
        r"\(H, W, channels\), got shape \(64,\)",
    ):
        kf_call(CNN, jnp.ones((3, 64)))
    with pytest.raises(
        ValueError, match=r"layer 2 \(GlobalAvgPool\) of serial: .*got shape \(5,\)"
    ):
        kf_call(nn.serial(nn.Dense(5), nn.Relu(), nn.GlobalAvgPool()), jnp.ones((3, 4)))


def test_channels_that_do_not_match(getkey):
    with pytest.raises(ValueError, match=r"`x1` and `x2` must have the same per-example shape"):
        kf_call(CNN, jnp.ones((2, 5, 5, 3)), jnp.ones((2, 5, 5, 2)))
    branches = nn.serial(nn.FanOut(2), nn.parallel(nn.Dense(3), nn.Dense(4)), nn.FanInSum())
    with pytest.raises(
        ValueError, match=r"layer 2 \(FanInSum\) of serial: needs branches of equal"
    ):
        kf_call(branches, jnp.ones((2, 5)))
    params = CNN.init(getkey(), (5, 5, 3))
    with pytest.raises(ValueError, match=r"layer 0 \(Conv\) of serial: got inputs with 2 channels"):
        CNN.apply(params, jnp.ones((2, 5, 5, 2)))


def test_unknown_activation_and_non_elementwise_callable():
    with pytest.raises(ValueError, match=r"Elementwise: .*must be one of .*'relu'.*got 'rleu'"):
        nn.Elementwise("rleu")
    with pytest.raises(ValueError, match=r"Elementwise: .*elementwise"):
        nn.Elementwise(lambda x: x - jnp.mean(x))
    with pytest.raises(ValueError, match=r"Elementwise: .*elementwise"):
        nn.Elementwise(lambda x: jnp.sum(x, axis=-1))


def test_empty_output_from_padding_and_strides():
    net = nn.serial(nn.Dense(3), nn.Conv(4, (3, 3), strides=(2, 2)), nn.Relu(), nn.Conv(4, (3, 3)))
    with pytest.raises(
        ValueError,
        match=r"layer 3 \(Conv\) of serial: window \(3, 3\) .* padding 'VALID' gives an empty "
        r"output from spatial shape \(2, 2\)",
    ):
        kf_call(net, jnp.ones((2, 5, 5, 1)))
    with pytest.raises(ValueError, match=r"AvgPool: .*empty output from spatial shape \(3,\)"):
        nn.AvgPool((4,)).output_shape((3, 2))
    with pytest.raises(ValueError, match=r"Conv: `padding` must be one of"):
        nn.Conv(3, (3,), padding="same")
    with pytest.raises(ValueError, match=r"Conv: `strides` must be a tuple of length 2"):
        nn.Conv(3, (3, 3), strides=(1, 0))


def test_negative_or_bad_std():
    with pytest.raises(ValueError, match=r"Dense: `W_std` must be a finite number >= 0, got -1.0"):
        nn.Dense(3, W_std=-1.0)
    with pytest.raises(ValueError, match=r"Conv: `b_std` must be a finite number >= 0, got nan"):
        nn.Conv(3, (3,), b_std=float("nan"))
    with pytest.raises(ValueError, match=r"Dense: `parameterization` must be one of"):
        nn.Dense(3, parameterization="mup")


def test_nan_in_inputs():
    x = jnp.ones((3, 5, 5, 2))
    with pytest.raises(ValueError, match=r"`x1` must be finite, got 1 non-finite entries"):
        kf_call(CNN, x.at[0, 1, 2, 0].set(jnp.nan))
    with pytest.raises(ValueError, match=r"`x2` must be finite, got 2 non-finite entries"):
        kf_call(CNN, x, x.at[0, 0, 0].set(jnp.inf))


def test_nonlinearity_needs_gaussian_inputs():
    with pytest.raises(ValueError, match=r"layer 2 \(Elementwise\[relu\]\) of serial: .*Gaussian"):
        kf_call(nn.serial(nn.Dense(3), nn.Relu(), nn.Relu(), nn.Dense(1)), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"layer 0 \(Elementwise\[erf\]\) .*network input"):
        kf_call(nn.serial(nn.Erf(), nn.Dense(1)), jnp.ones((2, 3)))


def test_bad_data_and_arguments():
    with pytest.raises(TypeError, match=r"`x1` must have a floating dtype"):
        kf_call(CNN, jnp.ones((2, 5, 5, 1), jnp.int32))
    with pytest.raises(ValueError, match=r"`x1` must have a batch axis"):
        kf_call(CNN, jnp.ones(5))
    with pytest.raises(TypeError, match=r"`net` must be a lazyrich.nn layer"):
        theory.kernel_fn(lambda x: x)
    with pytest.raises(ValueError, match=r"`batch_size` must be >= 1"):
        theory.kernel_fn(CNN, batch_size=0)
    with pytest.raises(ValueError, match=r"`get` must be one of"):
        theory.kernel_fn(CNN)(jnp.ones((2, 5, 5, 1)), get="cov")
    with pytest.raises(ValueError, match=r"ends with 2 branches"):
        kf_call(nn.FanOut(2), jnp.ones((2, 3)))
    with pytest.raises(TypeError, match=r"`keys` must be a typed PRNG key"):
        from lazyrich import dynamics

        dynamics.sample_kernels(CNN, jax.random.PRNGKey(0), jnp.ones((2, 5, 5, 1)))
