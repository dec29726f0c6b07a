"""Mean-field MLP and its gradient-flow trainer."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from lazyrich import dynamics


@pytest.mark.parametrize("depth", [1, 2])
def test_kernel_formula_equals_autodiff_ntk(x64, depth):
    """gamma0^2 N sum_p df/dp df/dp == sum_l G^{l+1} Phi^l (exact identity for the bias-free MLP)."""
    x = jr.normal(jr.key(0), (5, 3))
    params = dynamics.models.meanfield_mlp_init(
        jr.key(1), input_dim=3, width=7, depth=depth, dtype=jnp.float64
    )
    gamma0 = 0.7
    width = 7

    def f(p):
        return dynamics.models.meanfield_mlp_readout(p, x, activation="tanh") / gamma0

    jac = jax.jacrev(f)(params)
    flat = jnp.concatenate([j.reshape(5, -1) for j in jax.tree.leaves(jac)], axis=1)
    ntk_autodiff = gamma0**2 * width * flat @ flat.T
    _, _, ntk = dynamics.models.meanfield_mlp_kernels(params, x, activation="tanh")
    np.testing.assert_allclose(ntk, ntk_autodiff, rtol=1e-10)


def test_gradient_flow_trainer_decreases_loss_and_matches_kernel_ode(x64):
    """df/dt = (1/P) K Delta: finite differences of the saved outputs match the saved NTK."""
    x = jr.normal(jr.key(0), (6, 4))
    y = jnp.sign(x[:4, 0])
    params = dynamics.models.meanfield_mlp_init(
        jr.key(1), input_dim=4, width=64, depth=2, dtype=jnp.float64
    )
    times = jnp.linspace(0.0, 0.02, 3)
    out = dynamics.models.train_meanfield_gradient_flow(
        params, x[:4], y, x[4:], times, gamma0=1.0, substeps=8
    )
    f = jnp.concatenate([out["f_train"], out["f_test"]], axis=1)
    dfdt = (f[2] - f[0]) / 0.02
    predicted = out["ntk"][1][:, :4] @ (y - out["f_train"][1]) / 4
    # central difference: O(dt^2) = 1e-4 relative
    np.testing.assert_allclose(dfdt, predicted, rtol=1e-3, atol=1e-6)
    assert out["f_train"].shape == (3, 4) and out["phi"].shape == (3, 2, 6, 6)


def test_trainer_rejects_bad_input():
    x = jnp.ones((3, 2))
    params = dynamics.models.meanfield_mlp_init(jr.key(1), input_dim=2, width=4)
    with pytest.raises(ValueError, match="`gamma0`"):
        dynamics.models.train_meanfield_gradient_flow(
            params, x, jnp.ones(3), x, jnp.linspace(0, 1, 3), gamma0=0.0
        )
    with pytest.raises(ValueError, match="`times`"):
        dynamics.models.train_meanfield_gradient_flow(
            params, x, jnp.ones(3), x, jnp.array([0.0, 2.0, 1.0]), gamma0=1.0
        )
