"""Mean-field / muP multilayer perceptron (Bordelon & Pehlevan 2022, eq. 1) and its gradient-flow trainer.

``h^1 = W^0 x / sqrt(D)``, ``h^{l+1} = W^l phi(h^l) / sqrt(N)`` (``l = 1..L-1``),
``f = w . phi(h^L) / (gamma0 N)``, all weights i.i.d. N(0, 1). The trained output is centred,
``f~(theta) = f(theta) - f(theta_0)``; the loss is ``(1/2P) sum_mu (f~_mu - y_mu)^2`` and the flow is
``d theta/dt = -gamma0^2 N grad L`` (so ``dL/dt`` at ``t = 0`` does not depend on ``gamma0``). This is the
network whose ``N -> infinity`` limit :func:`lazyrich.theory.solve_dmft` computes. With
``alpha = 1 / gamma0`` it is the centred ``alpha``-scaled mean-field network
(``docs/conventions.md`` §2).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.special as jsp

from lazyrich import _checks

_ACTIVATIONS = ("tanh", "relu", "linear", "erf")


def _activation(name: str):
    _checks.check_choice("activation", name, _ACTIVATIONS)
    if name == "tanh":
        return jnp.tanh, lambda h: 1.0 - jnp.tanh(h) ** 2
    if name == "relu":
        return (lambda h: jnp.maximum(h, 0.0)), (lambda h: (h > 0).astype(h.dtype))
    if name == "erf":
        return jsp.erf, lambda h: (2.0 / jnp.sqrt(jnp.pi)).astype(h.dtype) * jnp.exp(-(h**2))
    return (lambda h: h), jnp.ones_like


def meanfield_mlp_init(
    key, *, input_dim: int, width: int, depth: int = 1, dtype=jnp.float32
) -> dict:
    """Standard-normal weights of the mean-field MLP.

    Returns:
      ``{"hidden": [W^0 (N, D), W^1 (N, N), ..., W^{L-1} (N, N)], "readout": w (N,)}``.
    """
    _checks.check_key("key", key)
    _checks.check_int("input_dim", input_dim, minimum=1)
    _checks.check_int("width", width, minimum=1)
    _checks.check_int("depth", depth, minimum=1)
    keys = jr.split(key, depth + 1)
    hidden = [jr.normal(keys[0], (width, input_dim), dtype)]
    hidden += [jr.normal(keys[i], (width, width), dtype) for i in range(1, depth)]
    return {"hidden": hidden, "readout": jr.normal(keys[depth], (width,), dtype)}


def meanfield_mlp_preactivations(params: dict, x, *, activation: str = "tanh") -> list:
    """Preactivations ``[h^1, ..., h^L]``, each of shape ``(P, N)``."""
    phi, _ = _activation(activation)
    hs = [x @ params["hidden"][0].T / jnp.sqrt(x.shape[-1]).astype(x.dtype)]
    for w in params["hidden"][1:]:
        hs.append(phi(hs[-1]) @ w.T / jnp.sqrt(w.shape[1]).astype(x.dtype))
    return hs


def meanfield_mlp_readout(params: dict, x, *, activation: str = "tanh"):
    """The un-scaled readout ``w . phi(h^L) / N``, shape ``(P,)``; ``f = readout / gamma0``."""
    phi, _ = _activation(activation)
    h = meanfield_mlp_preactivations(params, x, activation=activation)[-1]
    return phi(h) @ params["readout"] / params["readout"].shape[0]


def meanfield_mlp_kernels(params: dict, x, *, activation: str = "tanh"):
    """Finite-width feature, gradient and neural tangent kernels at one time.

    ``Phi^l = phi(h^l) phi(h^l)^T / N``, ``G^l = g^l g^{l T} / N`` with ``g^L = phi'(h^L) w`` and
    ``g^l = phi'(h^l) (g^{l+1} W^l / sqrt(N))``; the NTK ``gamma0^2 N sum_p df/dp df/dp`` equals
    ``sum_{l=0}^{L} G^{l+1} * Phi^l`` with ``Phi^0 = x x^T / D``, ``G^{L+1} = 1``.

    Returns:
      ``(phi, g, ntk)`` with shapes ``(L, P, P)``, ``(L, P, P)``, ``(P, P)``.
    """
    phi_fn, dphi_fn = _activation(activation)
    hs = meanfield_mlp_preactivations(params, x, activation=activation)
    width = params["readout"].shape[0]
    phis = [phi_fn(h) for h in hs]
    g = dphi_fn(hs[-1]) * params["readout"]
    gs = [g]
    for layer in range(len(hs) - 1, 0, -1):
        w = params["hidden"][layer]
        g = dphi_fn(hs[layer - 1]) * (g @ w / jnp.sqrt(width).astype(x.dtype))
        gs.append(g)
    gs = gs[::-1]
    phi_k = jnp.stack([p @ p.T / width for p in phis])
    g_k = jnp.stack([q @ q.T / width for q in gs])
    kx = x @ x.T / x.shape[-1]
    ntk = g_k[0] * kx + sum(g_k[i + 1] * phi_k[i] for i in range(len(hs) - 1)) + phi_k[-1]
    return phi_k, g_k, ntk


def train_meanfield_gradient_flow(
    params0: dict,
    x_train,
    y_train,
    x_test,
    times,
    *,
    gamma0,
    activation: Literal["tanh", "relu", "linear", "erf"] = "tanh",
    substeps: int = 4,
) -> dict:
    r"""Gradient flow of the centred mean-field MLP on MSE, integrated with RK4 and saved on a time grid.

    .. math::
        \frac{d\theta}{dt} = -\gamma_0^2 N \nabla_\theta \frac{1}{2P}\sum_\mu (\tilde f_\mu - y_\mu)^2
        = \frac{\gamma_0 N}{P} \sum_\mu \Delta_\mu \nabla_\theta \Big(\frac{w\cdot\phi(h^L_\mu)}{N}\Big).

    Args:
      params0: initial parameters from :func:`meanfield_mlp_init`.
      x_train: shape ``(P, D)``; y_train: shape ``(P,)``; x_test: shape ``(Q, D)`` (``Q`` may be 0).
      times: strictly increasing grid starting at 0, shape ``(T,)``.
      gamma0: richness ``> 0`` (traced).
      activation: nonlinearity.
      substeps: RK4 steps per grid interval.

    Returns:
      dict of arrays: ``f_train (T, P)``, ``f_test (T, Q)``, ``ntk (T, P+Q, P+Q)``, ``phi (T, L, P+Q, P+Q)``,
      ``g (T, L, P+Q, P+Q)`` (equal-time kernels on train then test points) and ``params`` (final).

    Raises:
      ValueError: for ``gamma0 <= 0``, a bad time grid or mismatched shapes.

    References:
      Bordelon & Pehlevan (2022), https://arxiv.org/abs/2205.09653, eq. 1.
    """
    _checks.check_ndim("x_train", x_train, 2)
    _checks.check_ndim("x_test", x_test, 2)
    _checks.check_ndim("y_train", y_train, 1)
    _checks.check_same_features("x_train", x_train, "x_test", x_test)
    if y_train.shape[0] != x_train.shape[0]:
        raise ValueError(
            f"`y_train` has {y_train.shape[0]} entries, `x_train` {x_train.shape[0]} rows."
        )
    _checks.check_increasing("times", times, start=0.0)
    _checks.check_positive("gamma0", gamma0)
    _checks.check_int("substeps", substeps, minimum=1)
    _checks.check_choice("activation", activation, _ACTIVATIONS)
    return _train(
        params0, x_train, y_train, x_test, times, gamma0, activation=activation, substeps=substeps
    )


@partial(jax.jit, static_argnames=("activation", "substeps"))
def _train(params0, x_train, y_train, x_test, times, gamma0, *, activation, substeps):
    dtype = x_train.dtype
    gamma0 = jnp.asarray(gamma0, dtype)
    num_train = x_train.shape[0]
    x_all = jnp.concatenate([x_train, x_test], axis=0)
    width = params0["readout"].shape[0]
    readout = partial(meanfield_mlp_readout, activation=activation)
    r0_train = readout(params0, x_train)
    r0_all = readout(params0, x_all)

    def velocity(params):
        r, vjp = jax.vjp(lambda p: readout(p, x_train), params)
        delta = y_train - (r - r0_train) / gamma0
        (grad,) = vjp(delta * (gamma0 * width / num_train))
        return grad

    def rk4(params, dt):
        k1 = velocity(params)
        k2 = velocity(jax.tree.map(lambda p, k: p + 0.5 * dt * k, params, k1))
        k3 = velocity(jax.tree.map(lambda p, k: p + 0.5 * dt * k, params, k2))
        k4 = velocity(jax.tree.map(lambda p, k: p + dt * k, params, k3))
        return jax.tree.map(
            lambda p, a, b, c, d: p + dt / 6 * (a + 2 * b + 2 * c + d), params, k1, k2, k3, k4
        )

    def observe(params):
        f = (readout(params, x_all) - r0_all) / gamma0
        phi, g, ntk = meanfield_mlp_kernels(params, x_all, activation=activation)
        return {"f": f, "phi": phi, "g": g, "ntk": ntk}

    def interval(params, dt_interval):
        dt = dt_interval / substeps
        params = jax.lax.fori_loop(0, substeps, lambda _, p: rk4(p, dt), params)
        return params, observe(params)

    final, obs = jax.lax.scan(interval, params0, jnp.diff(jnp.asarray(times, dtype)))
    obs = jax.tree.map(lambda o0, o: jnp.concatenate([o0[None], o], axis=0), observe(params0), obs)
    return {
        "f_train": obs["f"][:, :num_train],
        "f_test": obs["f"][:, num_train:],
        "ntk": obs["ntk"],
        "phi": obs["phi"],
        "g": obs["g"],
        "params": final,
    }
