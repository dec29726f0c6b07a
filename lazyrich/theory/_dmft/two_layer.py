"""Two-layer (L = 1) DMFT: the mean-field single-neuron process, sampled and integrated forward in time."""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

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
    sampling: common.Sampling = "sobol",
) -> common.DMFTResult:
    r"""Mean-field (DMFT) dynamics of a two-layer network trained by gradient flow on MSE.

    The single-neuron process of Bordelon & Pehlevan (2022) for ``L = 1`` (their eq. 10), with the
    ``1/P`` loss normalisation of :mod:`lazyrich.theory` (see ``common`` conventions):

    .. math::
        \frac{dh_\nu}{dt} = \frac{\gamma_0}{P} a \sum_\mu \Delta_\mu \dot\phi(h_\mu) K^x_{\mu\nu},\qquad
        \frac{da}{dt} = \frac{\gamma_0}{P}\sum_\mu \Delta_\mu \phi(h_\mu),\qquad
        \frac{df}{dt} = \frac{1}{P} K(t)\,\Delta,

    with ``(h(0), a(0)) = (u, r)``, ``u ~ N(0, K^x)``, ``r ~ N(0, 1)``, ``Delta = y - f_train`` and
    ``K = Phi + G * K^x``, ``Phi = <phi(h) phi(h)^T>``, ``G = <a^2 phi'(h) phi'(h)^T>``. ``S = num_samples``
    neurons are integrated together (RK4, ``substeps`` steps per grid interval); the only error is the
    quadrature error of the expectations. With ``control_variate=True`` the kernels are estimated as
    ``exact(0) + [MC(t) - MC(0)]`` (unbiased), so the Monte-Carlo error is that of the kernel *change*, which
    vanishes as ``gamma0 -> 0``: at ``gamma0 = 0`` the result is exactly static-NTK gradient flow.

    **Why any quadrature of the sources is valid.** Given the deterministic drive ``Delta(t)``, each neuron's
    trajectory is a deterministic function ``(h, a)(t) = F_t(u, r)`` of its initial Gaussian variables, so
    ``Phi(t)``, ``G(t)`` and hence ``K(t)`` are integrals ``E F(z)`` over ``z = (r, u) ~ N(0, diag(1, K^x))``,
    a Gaussian of dimension ``1 + rank(K^x) <= 1 + P'`` -- not over anything a network's ensemble must
    simulate. ``Delta`` follows from ``K`` by the (deterministic) ``df/dt`` equation. Any consistent rule for
    these integrals converges to the DMFT; ``sampling`` chooses it (``S`` points in every case):

    * ``"iid"``: ``S`` i.i.d. draws (error ``~ S^{-1/2}``; equivalent to one width-``S`` network).
    * ``"sobol"`` (default): randomised quasi-Monte Carlo. The first ``S`` points of the Sobol' sequence in
      ``1 + P'`` dimensions, scrambled by a random linear matrix scramble plus digital shift (from ``key``),
      mapped through the inverse normal CDF; coordinate 0 gives ``r``, the others the principal components
      of ``K^x`` (largest variance first). Each scrambled point is exactly uniform, so the estimator is
      unbiased for every ``S``, and the low discrepancy of the net makes its error decay faster than
      ``S^{-1/2}`` for the smooth integrands here (tanh/erf; errors against i.i.d. sampling in
      ``benchmarks/results/dmft.json``).
    * ``"antithetic"``: i.i.d. pairs ``(u, r)``, ``(u, -r)`` (and ``(-u, +-r)`` for relu). The law of
      ``(u, r)`` is invariant under these sign flips, so the average over a pair is unbiased; for an odd
      activation the flow commutes with ``(h, a) -> (-h, -a)``, under which the kernels are invariant, so
      ``(-u, -r)`` would duplicate ``(u, r)`` and one flip suffices. The flip of ``r`` cancels exactly the
      terms of the kernel change that are odd in ``r`` (the ``O(gamma0)`` part).
    * ``"sobol-antithetic"``: Sobol' points for the base pairs, then the same flips.

    Memory: only the ``(S, P')`` state is carried through the time loop and only ``P'^2`` numbers per grid
    time leave it, so peak memory is ``O(S P' + T P'^2)``; with ``two_time=True`` the neurons are afterwards
    re-integrated in chunks against the recorded drives to accumulate ``Phi(t, s)``, ``G(t, s)``
    (``O(chunk T P' + T^2 P'^2)``).

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
      sampling: ``"sobol"``, ``"sobol-antithetic"``, ``"antithetic"`` or ``"iid"`` (see above); the
        antithetic rules need ``num_samples`` divisible by 2 (4 for relu).

    Returns:
      A :class:`DMFTResult` (``status`` 0, ``num_iterations`` 1, empty ``history``; no response functions).

    Raises:
      ValueError: for ``gamma0 < 0``, a grid that is not strictly increasing from 0, a ``kx`` that is not
        PSD, shapes that disagree, an unknown ``sampling`` or a ``num_samples`` the antithetic rules cannot
        pair.

    References:
      Bordelon & Pehlevan (2022), https://arxiv.org/abs/2205.09653, eqs. 3, 10 (L = 1) and App. (two-layer).
      Owen (1995) / Matousek (1998), scrambled nets: https://doi.org/10.1006/jcom.1998.0476.
    """
    common.validate_problem(kx, y_train, times, gamma0, y_test)
    _checks.check_key("key", key)
    _checks.check_int("num_samples", num_samples, minimum=1)
    _checks.check_int("substeps", substeps, minimum=1)
    _checks.check_choice("activation", activation, common.ACTIVATIONS)
    _checks.check_choice("sampling", sampling, common.SAMPLINGS)
    num_base = num_samples
    if sampling.endswith("antithetic"):
        flips = 4 if activation == "relu" else 2
        if num_samples % flips:
            raise ValueError(
                f"`num_samples` must be a multiple of {flips} for `sampling={sampling!r}` with "
                f"activation {activation!r} (the sign-flipped copies), got {num_samples}."
            )
        num_base = num_samples // flips
    table = None
    if sampling.startswith("sobol"):
        table = common.sobol_table(num_base, np.shape(kx)[0] + 1)
    num_times = np.shape(times)[0]
    return _solve(
        kx,
        y_train,
        times,
        gamma0,
        key,
        y_test,
        table,
        activation=activation,
        num_samples=num_samples,
        substeps=substeps,
        control_variate=control_variate,
        two_time=two_time,
        sampling=sampling,
        chunk=min(num_samples, max(256, -(-num_samples // num_times))),
    )


def _sources(kx, key, dtype, table, *, sampling, num_samples, odd):
    """Initial fields ``u`` ``(S, P')`` (``~ N(0, kx)``) and readouts ``r`` ``(S,)`` (``~ N(0, 1)``)."""
    flips = 2 if odd else 4
    num_base = num_samples // flips if sampling.endswith("antithetic") else num_samples
    if sampling.startswith("sobol"):
        z = common.scrambled_sobol_normals(table, key, dtype)
        # principal-component factor, largest variance first: the leading Sobol' coordinates (the most
        # uniform ones) carry r and then the directions of largest input variance
        evals, evecs = jnp.linalg.eigh(0.5 * (kx + kx.T))
        evecs = evecs[:, ::-1]
        # sign convention (largest entry of each eigenvector positive): the same points in any precision
        big = jnp.take_along_axis(evecs, jnp.argmax(jnp.abs(evecs), axis=0)[None, :], axis=0)
        factor = (
            evecs
            * jnp.where(big < 0, -1.0, 1.0).astype(dtype)
            * jnp.sqrt(jnp.clip(evals[::-1], 0.0))
        )
        r, u = z[:, 0], z[:, 1:] @ factor.T
    else:
        key_u, key_r = jr.split(key)
        u = jr.normal(key_u, (num_base, kx.shape[0]), dtype) @ common.psd_sqrt(kx)
        r = jr.normal(key_r, (num_base,), dtype)
    if not sampling.endswith("antithetic"):
        return u, r
    if odd:  # (u, -r) ~ (-u, r) up to a global sign of the trajectory: one flip suffices
        return jnp.concatenate([u, u]), jnp.concatenate([r, -r])
    return jnp.concatenate([u, u, -u, -u]), jnp.concatenate([r, -r, r, -r])


def _drive(y_train, f, num_all):
    """``c = Delta / P`` on the training points, zero on test points, shape ``(P',)``."""
    num_train = y_train.shape[0]
    return jnp.zeros(num_all, f.dtype).at[:num_train].set((y_train - f[:num_train]) / num_train)


def _neurons(h, a, c, kx, gamma0, phi_fn, dphi_fn):
    """Per-neuron velocities ``(dh, da)`` and the pieces ``(phi(h), a^2 phi'(h) q)`` of ``K c``."""
    p, dp = phi_fn(h), dphi_fn(h)
    q = (dp * c[None, :]) @ kx  # q_{i nu} = sum_alpha phi'(h_{i alpha}) c_alpha K^x_{alpha nu}
    dh = gamma0 * a[:, None] * q
    da = gamma0 * (p @ c)
    return dh, da, p, (a * a)[:, None] * dp * q


def _rk4(velocity, state, dt, drives=None):
    """One RK4 step; ``velocity(state, drive) -> (dstate, drive used)``; returns the 4 stage drives too."""
    d = [None] * 4 if drives is None else [drives[i] for i in range(4)]
    k1, c1 = velocity(state, d[0])
    k2, c2 = velocity(jax.tree.map(lambda s, k: s + 0.5 * dt * k, state, k1), d[1])
    k3, c3 = velocity(jax.tree.map(lambda s, k: s + 0.5 * dt * k, state, k2), d[2])
    k4, c4 = velocity(jax.tree.map(lambda s, k: s + dt * k, state, k3), d[3])
    new = jax.tree.map(
        lambda s, a, b, c, e: s + dt / 6 * (a + 2 * b + 2 * c + e), state, k1, k2, k3, k4
    )
    return new, jnp.stack([c1, c2, c3, c4])


@partial(
    jax.jit,
    static_argnames=(
        "activation",
        "num_samples",
        "substeps",
        "control_variate",
        "two_time",
        "sampling",
        "chunk",
    ),
)
def _solve(
    kx,
    y_train,
    times,
    gamma0,
    key,
    y_test,
    table,
    *,
    activation,
    num_samples,
    substeps,
    control_variate,
    two_time,
    sampling,
    chunk,
):
    dtype, y_train, times, gamma0 = common.cast_problem(kx, y_train, times, gamma0)
    phi_fn, dphi_fn = common.activation_fns(activation)
    num_train = y_train.shape[0]
    num_all = kx.shape[0]
    u, r = _sources(
        kx,
        key,
        dtype,
        table,
        sampling=sampling,
        num_samples=num_samples,
        odd=activation != "relu",
    )

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
    shift_ntk = phi_shift + g_shift * kx

    def velocity(state: _State, _):
        # K c = (1/S) sum_i [phi_i (phi_i . c) + a_i^2 phi'_i * (K^x (phi'_i * c))] + shift c costs O(S P')
        # besides the (S, P') x (P', P') product that dh needs anyway
        c = _drive(y_train, state.f, num_all)
        dh, da, p, gk = _neurons(state.h, state.a, c, kx, gamma0, phi_fn, dphi_fn)
        df = (p.T @ (p @ c) + jnp.sum(gk, axis=0)) / num_samples + shift_ntk @ c
        return _State(dh, da, df), c

    def interval(state, dt_interval):
        dt = dt_interval / substeps
        state, drives = jax.lax.scan(lambda s, _: _rk4(velocity, s, dt), state, length=substeps)
        phi_t, g_t = kernels(state.h, state.a)
        return state, (state.f, phi_t + phi_shift, g_t + g_shift, drives)

    # Only O(S P') state and O(P'^2) per grid time leave the loop: peak memory O(S P' + T P'^2).
    state0 = _State(u, r, jnp.zeros(num_all, dtype))
    _, (f, phi_tt, g_tt, drives) = jax.lax.scan(interval, state0, jnp.diff(times))
    f = jnp.concatenate([state0.f[None], f])
    phi_tt = jnp.concatenate([(phi_mc0 + phi_shift)[None], phi_tt])
    g_tt = jnp.concatenate([(g_mc0 + g_shift)[None], g_tt])
    ntk_tt = phi_tt + g_tt * kx[None]
    if two_time:
        phi, g = _two_time_kernels(
            u, r, kx, gamma0, times, drives, phi_fn, dphi_fn, substeps=substeps, chunk=chunk
        )
        phi = phi + phi_shift[None, :, None, :]
        g = g + g_shift[None, :, None, :]
    else:
        phi, g = phi_tt, g_tt
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


def _two_time_kernels(u, r, kx, gamma0, times, drives, phi_fn, dphi_fn, *, substeps, chunk):
    """``Phi(t, s)``, ``G(t, s)`` (``(T, P', T, P')``, plain sample means) by replaying chunks of neurons.

    Given the recorded drives ``c`` of every RK4 stage, ``drives`` ``(T - 1, substeps, 4, P')``, the neurons
    are independent, so they are re-integrated ``chunk`` at a time and their two-time products accumulated:
    peak memory ``O(chunk T P' + T^2 P'^2)`` instead of ``O(S T P')``.
    """
    num_samples, num_all = u.shape
    num_chunks = -(-num_samples // chunk)
    pad = num_chunks * chunk - num_samples
    weights = jnp.concatenate([jnp.ones(num_samples, u.dtype), jnp.zeros(pad, u.dtype)])
    u = jnp.concatenate([u, jnp.zeros((pad, num_all), u.dtype)]).reshape(num_chunks, chunk, num_all)
    r = jnp.concatenate([r, jnp.zeros(pad, u.dtype)]).reshape(num_chunks, chunk)
    weights = weights.reshape(num_chunks, chunk) / num_samples

    def velocity(state, c):
        h, a = state
        dh, da, _, _ = _neurons(h, a, c, kx, gamma0, phi_fn, dphi_fn)
        return (dh, da), c

    def features(h, a):
        return phi_fn(h), a[:, None] * dphi_fn(h)

    def one_chunk(acc, inputs):
        h0, a0, w = inputs

        def interval(state, inputs):
            dt_interval, stage = inputs
            dt = dt_interval / substeps
            state, _ = jax.lax.scan(lambda s, d: _rk4(velocity, s, dt, d), state, stage)
            return state, features(*state)

        _, (p, ga) = jax.lax.scan(interval, (h0, a0), (jnp.diff(times), drives))
        p0, ga0 = features(h0, a0)
        p = jnp.concatenate([p0[None], p])  # (T, chunk, P')
        ga = jnp.concatenate([ga0[None], ga])
        phi = acc[0] + jnp.einsum("tsp,s,usq->tpuq", p, w, p)
        g = acc[1] + jnp.einsum("tsp,s,usq->tpuq", ga, w, ga)
        return (phi, g), None

    num_times = times.shape[0]
    zeros = jnp.zeros((num_times, num_all, num_times, num_all), u.dtype)
    (phi, g), _ = jax.lax.scan(one_chunk, (zeros, zeros), (u, r, weights))
    return phi, g
