"""`empirical_ntk_fn` plans and compiles once per shape: repeated calls with new parameters or new data of the
same shapes compile nothing, and give the kernel of those parameters and data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import monitoring

from lazyrich import dynamics

_COMPILES = []
monitoring.register_event_duration_secs_listener(
    lambda name, *_, **__: (
        _COMPILES.append(name) if name.endswith("backend_compile_duration") else None
    )
)


def _direct(apply_fn, params, x1, x2, wrt_leaf=None):
    """Output-traced J(x1) J(x2)^T / O from full Jacobians (all leaves, or the leaf `wrt_leaf` of each pair)."""

    def flat(x):
        jac = jax.jacrev(apply_fn)(params, x)
        leaves = jax.tree.leaves(jac) if wrt_leaf is None else [jac[-1][wrt_leaf]]
        return jnp.concatenate([j.reshape(*j.shape[:2], -1) for j in leaves], axis=-1)

    j1, j2 = flat(x1), flat(x2)
    return jnp.einsum("aok,bok->ab", j1, j2) / j1.shape[1]


@pytest.mark.parametrize("method", ["auto", "jacobian", "ntvp"])
def test_kernel_fn_compiles_once_and_follows_new_params_and_data(getkey, method):
    def apply_fn(params, x):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jnp.tanh(h)
        return h

    shapes = [(3, 16), (16, 2)]

    def make():
        return [
            (jax.random.normal(getkey(), s), jax.random.normal(getkey(), s[1:])) for s in shapes
        ]

    params_a, params_b = make(), make()
    xa, xb, x2 = (jax.random.normal(getkey(), (5, 3)) for _ in range(3))
    kernel_fn = dynamics.empirical_ntk_fn(apply_fn, method=method)
    first = kernel_fn(params_a, xa, x2)
    before = len(_COMPILES)
    second = kernel_fn(params_b, xb, x2)
    assert len(_COMPILES) == before, "a repeated call with the same shapes compiled"
    assert kernel_fn._cache_size() == 1
    np.testing.assert_allclose(first, _direct(apply_fn, params_a, xa, x2), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(second, _direct(apply_fn, params_b, xb, x2), rtol=1e-4, atol=1e-5)
    # wrt: only the readout weight; the frozen first layer is an argument, not a constant of the plan.
    readout = dynamics.empirical_ntk_fn(apply_fn, method=method, wrt=lambda p: p == "1/0")
    for params in (params_a, params_b):
        np.testing.assert_allclose(
            readout(params, xa, x2),
            _direct(apply_fn, params, xa, x2, wrt_leaf=0),
            rtol=1e-4,
            atol=1e-5,
        )


def test_one_shot_empirical_ntk_reuses_the_compiled_program(getkey):
    apply_fn, params = dynamics.mlp(getkey(), input_dim=3, width=8, depth=2)
    x, y = jax.random.normal(getkey(), (4, 3)), jax.random.normal(getkey(), (4, 3))
    dynamics.empirical_ntk(apply_fn, params, x)
    before = len(_COMPILES)
    k = dynamics.empirical_ntk(apply_fn, params, y)
    assert len(_COMPILES) == before
    np.testing.assert_allclose(k, dynamics.empirical_ntk_fn(apply_fn)(params, y), rtol=1e-6)


def test_bad_options_raise_when_building():
    with pytest.raises(ValueError, match="`method`"):
        dynamics.empirical_ntk_fn(lambda p, x: x, method="fast")
    with pytest.raises(ValueError, match="`batch_size`"):
        dynamics.empirical_ntk_fn(lambda p, x: x, batch_size=0)


def test_mlp_kernels_with_a_callable_activation_compiles_once(getkey):
    from lazyrich import theory

    def phi(z):
        return jnp.tanh(z) + 0.1 * z

    x, y = jax.random.normal(getkey(), (4, 3)), jax.random.normal(getkey(), (4, 3))
    first = theory.mlp_kernels(x, depth=2, activation=phi)
    before = len(_COMPILES)
    second = theory.mlp_kernels(y, depth=2, activation=phi, weight_std=1.3)
    assert len(_COMPILES) == before
    assert first.ntk.shape == second.ntk.shape == (4, 4)
