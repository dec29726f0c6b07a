"""`dynamics`' one activation registry uses theory's names for the same functions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import dynamics, theory
from lazyrich.dynamics._activations import ACTIVATIONS, activation_fn
from lazyrich.theory._kernels import CLOSED_FORM_ACTIVATIONS

# Gauss-Hermite (probabilists') nodes: exact to float64 for smooth activations; for the kinked ones (relu, abs,
# leaky_relu, sign) the error at 200 nodes is up to ~2e-2 (sign's jump), still far below the gap between any two
# registered functions' kernels (>= 0.07 here, except relu vs leaky_relu which share the test below).
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(200)
WEIGHTS = WEIGHTS / np.sqrt(2 * np.pi)
SMOOTH = ("erf", "gelu", "identity")


@pytest.mark.parametrize("name", CLOSED_FORM_ACTIVATIONS)
def test_registry_function_has_theory_kernel(x64, name):
    # Inputs of squared norm 2 in d = 2: the first-layer preactivations are standard normal with correlation
    # 0.6, and the depth-1 NNGP is E[phi(u) phi(v)].
    x = jnp.asarray([[1.0, 0.0]]) * np.sqrt(2.0)
    y = jnp.asarray([[0.6, 0.8]]) * np.sqrt(2.0)
    nngp = float(theory.mlp_kernels(x, y, depth=1, activation=name).nngp[0, 0])
    phi = activation_fn(name)
    u = jnp.asarray(NODES[:, None])
    v = jnp.asarray(0.6 * NODES[:, None] + 0.8 * NODES[None, :])
    quad = float(np.sum(np.outer(WEIGHTS, WEIGHTS) * np.asarray(phi(u) * phi(v))))
    np.testing.assert_allclose(quad, nngp, rtol=1e-10 if name in SMOOTH else 3e-2)


def test_names_and_aliases():
    assert set(CLOSED_FORM_ACTIVATIONS) <= set(ACTIVATIONS)
    assert dynamics.ACTIVATIONS is ACTIVATIONS
    assert activation_fn("linear") is ACTIVATIONS["identity"]
    np.testing.assert_allclose(activation_fn("leaky_relu")(jnp.asarray(-2.0)), -0.02)
    with pytest.raises(ValueError, match="`activation`"):
        activation_fn("swish")
    with pytest.raises(ValueError, match="`activation`"):
        dynamics.rnn.rnn_apply(
            dynamics.rnn.init_rnn_params(jax.random.key(0), input_dim=1, width=2, output_dim=1),
            jnp.ones((1, 2, 1)),
            activation="erf",
        )
