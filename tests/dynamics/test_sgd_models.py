"""Normalised activations, bias-free MLP/CNN parameterizations, alpha-scaled losses and temperature."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from lazyrich import dynamics as dy


@pytest.mark.parametrize("name", dy.NORMALIZED_ACTIVATIONS)
def test_normalized_activation_has_unit_second_moment(name):
    z = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    moment = float(jnp.mean(dy.normalized_activation(name)(jnp.asarray(z)) ** 2))
    # Monte-Carlo error of E[phi^2], S = 1e5: sd(phi^2) <= sqrt(5) (relu), so 7e-3; allow 4 sd.
    assert abs(moment - 1.0) < 0.03


def test_exact_constants():
    assert dy.second_moment("relu") == 0.5
    assert float(dy.normalized_activation("relu")(jnp.array(1.0))) == pytest.approx(math.sqrt(2.0))
    # E[gelu(z)^2] by independent trapezoid quadrature on a fine grid.
    z = np.linspace(-12, 12, 20_001)
    gelu = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    ref = np.trapezoid(gelu**2 * np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi), z)
    assert dy.second_moment("gelu") == pytest.approx(ref, rel=1e-8)
    with pytest.raises(ValueError, match="`activation`"):
        dy.normalized_activation("swish")


def test_mlp_parameterizations_and_nnx_twin(getkey):
    x = jax.random.normal(getkey(), (5, 7))
    key = getkey()
    f_mf, params = dy.models.bias_free_mlp(input_dim=7, width=16, depth=2, key=key)
    f_ntk, params_ntk = dy.models.bias_free_mlp(
        input_dim=7, width=16, depth=2, key=key, parameterization="ntk"
    )
    assert sorted(params) == ["layer00", "layer01", "layer02"]
    assert f_mf(params, x).shape == (5,)
    # Same weights: the mean-field readout is the NTK readout divided by sqrt(h).
    np.testing.assert_allclose(f_ntk(params_ntk, x) / 4.0, f_mf(params, x), rtol=1e-5)
    model = dy.models.BiasFreeMLP(input_dim=7, width=16, depth=2, rngs=nnx.Rngs(0))
    apply_fn, state = dy.from_nnx(model)
    weights = {dy._models.layer_name(i): model.weights[i][...] for i in range(3)}
    np.testing.assert_allclose(apply_fn(state, x), f_mf(weights, x), rtol=1e-5)
    with pytest.raises(ValueError, match="`parameterization`"):
        dy.models.bias_free_mlp(
            input_dim=7, width=16, depth=2, key=key, parameterization="standard"
        )


def test_mlp_float64_and_cnn(getkey, x64):
    f, params = dy.models.bias_free_mlp(
        input_dim=3, width=8, depth=1, key=getkey(), dtype=jnp.float64
    )
    assert f(params, jnp.ones((2, 3), jnp.float64)).dtype == jnp.float64
    cnn = dy.models.BiasFreeCNN(in_channels=3, width=8, rngs=nnx.Rngs(1))
    apply_fn, state = dy.from_nnx(cnn)
    out = apply_fn(state, jax.random.normal(getkey(), (4, 8, 8, 3)))
    assert out.shape == (4,) and bool(jnp.all(jnp.isfinite(out)))


def test_centering_and_scaled_losses(getkey):
    f, params = dy.models.bias_free_mlp(input_dim=4, width=8, depth=1, key=getkey())
    x = jax.random.normal(getkey(), (6, 4))
    assert float(jnp.max(jnp.abs(dy.centered(f, params, alpha=3.0)(params, x)))) == 0.0
    lin = dy.linearize(f, params)
    np.testing.assert_allclose(lin(params, x), f(params, x), rtol=1e-6)
    out, y = jnp.array([0.5, 2.0, -1.0]), jnp.array([1.0, 1.0, 1.0])
    # Sclocchi hinge: max(0, 1 - y F)/alpha = mean(0.5, 0, 2)/alpha.
    assert float(dy.scaled_loss("hinge", out, y, alpha=2.0)) == pytest.approx(2.5 / 3 / 2)
    assert float(dy.scaled_loss("mse", out, y, alpha=2.0, loss_power=2)) == pytest.approx(
        (0.125 + 0.5 + 2.0) / 3 / 4
    )
    assert float(
        dy.scaled_loss("cross_entropy", jnp.zeros(1), jnp.ones(1), alpha=1.0)
    ) == pytest.approx(math.log(2.0))


def test_temperature_conventions():
    assert dy.temperature(0.5, 16, 128) == pytest.approx(0.5 / 2048)
    assert dy.temperature(0.5, 16, 128, alpha=4.0, convention="geiger2021") == pytest.approx(
        0.5 / 8192
    )
    assert dy.learning_rate_for_temperature(dy.temperature(0.3, 4, 8), 4, 8) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="`alpha`"):
        dy.temperature(0.5, 16, 128, convention="geiger2021")
    with pytest.raises(ValueError, match="`learning_rate`"):
        dy.temperature(-0.5, 16, 128)
    with pytest.raises(ValueError, match="`batch_size`"):
        dy.temperature(0.5, 0, 128)
