"""Two-layer (L = 1) DMFT: the mean-field single-neuron process, sampled and integrated forward in time."""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr

from lazyrich import _checks
from lazyrich.theory._dmft import common


class _State(NamedTuple):
    h: jax.Array  # (S, P') preactivations
    a: jax.Array  # (S,) readout weights
    f: jax.Array  # (P',) centred outputs


def solve_dmft_two_layer(
    kx,
    y_train,
    times,
    *,
    gamma0,
    key,
    activation: common.Activation = "tanh",
    num_samples: int = 4096,
    substeps: int = 4,
    y_test=None,
    control_variate: bool = True,
    two_time: bool = True,
) -> common.DMFTResult:
    r"""Mean-field (DMFT) dynamics of a two-layer network trained by gradient flow on MSE.

    The single-neuron process of Bordelon & Pehlevan (2022) for ``L = 1`` (papers.md §6.3), with the
    ``1/P`` loss normalisation of :mod:`lazyrich.theory` (see ``common`` conventions):

    .. math::
        \frac{dh_\nu}{dt} = \frac{\gamma_0}{P} a \sum_\mu \Delta_\mu \dot\phi(h_\mu) K^x_{\mu\nu},\qquad
        \frac{da}{dt} = \frac{\gamma_0}{P}\sum_\mu \Delta_\mu \phi(h_\mu),\qquad
        \frac{df}{dt} = \frac{1}{P} K(t)\,\Delta,

    with ``(h(0), a(0)) = (u, r)``, ``u ~ N(0, K^x)``, ``r ~ N(0, 1)``, ``Delta = y - f_train`` and
    ``K = Phi + G * K^x``, ``Phi = <phi(h) phi(h)^T>``, ``G = <a^2 phi'(h) phi'(h)^T>``. ``S = num_samples``
    neurons are integrated together (RK4, ``substeps`` steps per grid interval); the only error is Monte Carlo,
    O(S^{-1/2}). With ``control_variate=True`` the kernels are estimated as
    ``exact(0) + [MC(t) - MC(0)]`` (unbiased), so the Monte-Carlo error is that of the kernel *change*, which
    vanishes as ``gamma0 -> 0``: at ``gamma0 = 0`` the result is exactly static-NTK gradient flow.

    Args:
      kx: input Gram matrix ``x x^T / D`` over the ``P`` training points followed by ``Q`` test points,
        shape ``(P + Q, P + Q)``, positive semi-definite.
      y_train: targets, shape ``(P,)``.
      times: strictly increasing grid starting at 0, shape ``(T,)``.
      gamma0: richness ``gamma0 >= 0`` (``gamma0 = 0`` is the lazy/NTK limit); traced.
      key: typed PRNG key for the field samples.
      activation: ``"tanh"``, ``"relu"``, ``"erf"`` or ``"linear"``.
      num_samples: number ``S`` of sampled neurons.
      substeps: RK4 steps per grid interval.
      y_test: test targets, shape ``(Q,)``, for ``delta_test`` (optional).
      control_variate: use the exact ``t = 0`` kernels as a control variate.
      two_time: also return ``Phi(t, s)`` and ``G(t, s)`` (cost ``O(S T^2 P'^2)``); otherwise those fields
        hold only the equal-time kernels ``Phi(t, t)``, ``G(t, t)`` with shape ``(1, T, P', P')``.

    Returns:
      A :class:`DMFTResult` (``status`` 0, ``num_iterations`` 1, empty ``history``; no response functions).

    Raises:
      ValueError: for ``gamma0 < 0``, a grid that is not strictly increasing from 0, a ``kx`` that is not
        PSD or shapes that disagree.

    References:
      Bordelon & Pehlevan (2022), https://arxiv.org/abs/2205.09653, eqs. 3, 10 (L = 1) and App. (two-layer).
    """
    common.validate_problem(kx, y_train, times, gamma0, y_test)
    _checks.check_key("key", key)
    _checks.check_int("num_samples", num_samples, minimum=1)
    _checks.check_int("substeps", substeps, minimum=1)
    _checks.check_choice("activation", activation, common.ACTIVATIONS)
    return _solve(
        kx,
        y_train,
        times,
        gamma0,
        key,
        y_test,
        activation=activation,
        num_samples=num_samples,
        substeps=substeps,
        control_variate=control_variate,
        two_time=two_time,
    )


@partial(
    jax.jit,
    static_argnames=("activation", "num_samples", "substeps", "control_variate", "two_time"),
)
def _solve(
    kx,
    y_train,
    times,
    gamma0,
    key,
    y_test,
    *,
    activation,
    num_samples,
    substeps,
    control_variate,
    two_time,
):
    dtype, y_train, times, gamma0 = common.cast_problem(kx, y_train, times, gamma0)
    phi_fn, dphi_fn = common.activation_fns(activation)
    num_train = y_train.shape[0]
    num_all = kx.shape[0]
    key_u, key_r = jr.split(key)
    u = jr.normal(key_u, (num_samples, num_all), dtype) @ common.psd_sqrt(kx)
    r = jr.normal(key_r, (num_samples,), dtype)

    def kernels(h, a):
        p = phi_fn(h)
        ga = a[:, None] * dphi_fn(h)
        return p.T @ p / num_samples, ga.T @ ga / num_samples

    phi_mc0, g_mc0 = kernels(u, r)
    if control_variate:
        phi_ex0, g_ex0 = common.gaussian_kernels(kx, activation)
        phi_shift, g_shift = phi_ex0 - phi_mc0, g_ex0 - g_mc0
    else:
        phi_shift = g_shift = jnp.zeros_like(kx)

    def ntk(h, a):
        p, g = kernels(h, a)
        return (p + phi_shift) + (g + g_shift) * kx

    def velocity(state: _State) -> _State:
        c = (
            jnp.zeros(num_all, dtype)
            .at[:num_train]
            .set((y_train - state.f[:num_train]) / num_train)
        )
        p = phi_fn(state.h)
        dh = gamma0 * state.a[:, None] * ((dphi_fn(state.h) * c) @ kx)
        da = gamma0 * (p @ c)
        df = ntk(state.h, state.a) @ c
        return _State(dh, da, df)

    def rk4(state, dt):
        k1 = velocity(state)
        k2 = velocity(jax.tree.map(lambda s, k: s + 0.5 * dt * k, state, k1))
        k3 = velocity(jax.tree.map(lambda s, k: s + 0.5 * dt * k, state, k2))
        k4 = velocity(jax.tree.map(lambda s, k: s + dt * k, state, k3))
        return jax.tree.map(
            lambda s, a, b, c, d: s + dt / 6 * (a + 2 * b + 2 * c + d), state, k1, k2, k3, k4
        )

    def interval(state, dt_interval):
        dt = dt_interval / substeps
        state = jax.lax.fori_loop(0, substeps, lambda _, s: rk4(s, dt), state)
        return state, state

    state0 = _State(u, r, jnp.zeros(num_all, dtype))
    _, traj = jax.lax.scan(interval, state0, jnp.diff(times))
    traj = jax.tree.map(lambda s0, s: jnp.concatenate([s0[None], s], axis=0), state0, traj)
    ntk_tt = jax.vmap(ntk)(traj.h, traj.a)
    if two_time:
        p = phi_fn(traj.h)  # (T, S, P')
        ga = traj.a[..., None] * dphi_fn(traj.h)
        phi = jnp.einsum("tsp,usq->tpuq", p, p) / num_samples + phi_shift[None, :, None, :]
        g = jnp.einsum("tsp,usq->tpuq", ga, ga) / num_samples + g_shift[None, :, None, :]
    else:
        phi, g = jax.vmap(kernels)(traj.h, traj.a)
        phi, g = phi + phi_shift, g + g_shift
    f = traj.f
    delta_test = None if y_test is None else jnp.asarray(y_test, dtype) - f[:, num_train:]
    zeros = jnp.zeros((0,), dtype)
    return common.DMFTResult(
        times=times,
        f_train=f[:, :num_train],
        f_test=f[:, num_train:],
        delta_train=y_train - f[:, :num_train],
        delta_test=delta_test,
        ntk=ntk_tt,
        phi=phi[None],
        g=g[None],
        response_a=zeros,
        response_b=zeros,
        status=jnp.asarray(common.STATUS_CONVERGED, jnp.int32),
        num_iterations=jnp.asarray(1, jnp.int32),
        history=zeros,
    )
