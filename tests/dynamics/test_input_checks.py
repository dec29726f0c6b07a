"""Bad inputs to the empirical NTK, the Flax adapters and training: a clear error before any work.

NaN / inf inputs and parameters, a feature dimension the model was not built for, and an NNX module whose
BatchNorm is in training mode (or whose Dropout is active) are refused with errors that name the argument.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from lazyrich import dynamics

FN, PARAMS = dynamics.mlp(jax.random.key(0), input_dim=3, width=16, depth=2)
X = jax.random.normal(jax.random.key(1), (5, 3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused(bad):
    x_bad = X.at[2, 1].set(bad)
    with pytest.raises(
        ValueError, match=r"`x1` must be finite, got 1 non-finite entries \(shape \(5, 3\)\)"
    ):
        dynamics.empirical_ntk(FN, PARAMS, x_bad)
    with pytest.raises(ValueError, match="`x2` must be finite"):
        dynamics.empirical_ntk(FN, PARAMS, X, x_bad)
    with pytest.raises(ValueError, match="`x1` must be finite"):
        dynamics.empirical_nngp(FN, PARAMS, x_bad)
    with pytest.raises(ValueError, match="`v` must be finite"):
        dynamics.ntk_vector_product(FN, PARAMS, X, None, jnp.ones(5).at[0].set(bad))
    leaves, treedef = jax.tree.flatten(PARAMS)
    leaves[-1] = leaves[-1].at[0].set(bad)
    with pytest.raises(
        ValueError, match=r"`params` must be finite, got 1 non-finite entries in `params"
    ):
        dynamics.empirical_ntk(FN, jax.tree.unflatten(treedef, leaves), X)


def test_finite_inputs_pass_also_under_jit():
    kernel = dynamics.empirical_ntk(FN, PARAMS, X)
    assert kernel.shape == (5, 5) and bool(jnp.all(jnp.isfinite(kernel)))
    jitted = jax.jit(lambda x: dynamics.empirical_ntk(FN, PARAMS, x))(
        X
    )  # tracers are not inspected
    np.testing.assert_allclose(jitted, kernel, rtol=1e-5)


def test_wrong_feature_dimension_is_a_clear_error():
    with pytest.raises(ValueError, match=r"cannot be applied to `x1` of shape \(5, 4\)") as info:
        dynamics.empirical_ntk(FN, PARAMS, jnp.ones((5, 4)))
    assert "feature shape the model was built for" in str(info.value)
    assert "dot_general" in str(info.value)  # the cause is kept, in one line
    with pytest.raises(ValueError, match="`x1` and `x2` must have the same feature shape"):
        dynamics.empirical_ntk(FN, PARAMS, X, jnp.ones((2, 4)))


class _Net(nnx.Module):
    def __init__(self, *, dropout: float = 0.0, rngs: nnx.Rngs):
        self.dense = nnx.Linear(3, 8, rngs=rngs)
        self.norm = nnx.BatchNorm(8, rngs=rngs)
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(jax.nn.relu(self.norm(self.dense(x)))))


def test_nnx_batchnorm_in_training_mode_is_refused_and_eval_mode_works():
    model = _Net(rngs=nnx.Rngs(0))
    with pytest.raises(
        ValueError, match=r"BatchNorm in training mode \(use_running_average=False\) at norm"
    ) as info:
        dynamics.from_nnx(model)
    assert "module.eval()" in str(info.value)
    model.eval()
    fn, params = dynamics.from_nnx(model)
    kernel = dynamics.empirical_ntk(fn, params, X)
    # In evaluation mode examples are independent: the kernel of a sub-batch is a block of the full one.
    np.testing.assert_allclose(dynamics.empirical_ntk(fn, params, X[:2]), kernel[:2, :2], rtol=1e-5)


def test_nnx_active_dropout_is_refused():
    model = _Net(dropout=0.5, rngs=nnx.Rngs(0))
    model.norm.use_running_average = True
    with pytest.raises(ValueError, match=r"active Dropout \(deterministic=False\) at drop"):
        dynamics.from_nnx(model)


def test_non_finite_training_data_is_refused_before_training():
    config = dynamics.TrainConfig(method="gd", width=16, max_steps=64, check_every=8, num_saves=2)
    fn = dynamics.models.bias_free_mlp_apply_fn(input_dim=3, width=16, depth=2)
    params = dynamics.models.bias_free_mlp_init(input_dim=3, width=16, depth=2, key=jax.random.key(0))
    y = jnp.sign(X[:, 0])
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="`x_train` must be finite"):
        dynamics.train(fn, params, X.at[0, 0].set(jnp.nan), y, key=key, config=config)
    with pytest.raises(ValueError, match="`y_train` must be finite"):
        dynamics.train(fn, params, X, y.at[1].set(jnp.inf), key=key, config=config)
    with pytest.raises(ValueError, match="`x_test` must be finite"):
        dynamics.train(
            fn, params, X, y, key=key, config=config, x_test=X.at[3].set(jnp.nan), y_test=y
        )
