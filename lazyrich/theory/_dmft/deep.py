"""Deep DMFT: the alternating Monte-Carlo solver (nonlinear) and the closed equations (deep linear networks).

Both solve the saddle-point equations (Bordelon & Pehlevan 2022, eq. 10) on the time grid ``t_0 = 0 < ... <
t_{T-1}``, written with the ``1/P`` loss normalisation of this package and trapezoid weights
``omega_{ik}`` for the time integrals ``int_0^{t_i} ds F(s) ~ sum_{k <= i} omega_{ik} F(t_k)``
(``c_k = Delta_k / P``, zero on test points):

    h^l_i = u^l_i + sum_k Atil^{l-1}(i, k) g^l_k + gamma0 sum_{k <= i} omega_{ik} Phi^{l-1}(i, k) (c_k * g^l_k)
    z^l_i = r^l_i + sum_{k <= i} [Btil^l(i, k) + gamma0 omega_{ik} G^{l+1}(i, k) c_k] phi(h^l_k)
    g^l_i = phi'(h^l_i) z^l_i

The equal-time (``k = i``) terms make each step implicit; it is solved by a few fixed-point sweeps (contraction
factor ``O(gamma0 dt)``) in the nonlinear solver and exactly in the linear one. The scheme is second order in
the step, like the residual march. It is the exact DMFT of the discretised dynamics, so the response functions
are Jacobians of the discrete solve.

with ``u^l ~ GP(0, Phi^{l-1})``, ``r^l ~ GP(0, G^{l+1})``, independent, and the (scaled) response functions
``Atil^l(i, k) = gamma0 A^l = <d phi(h^l_i) / d r^l_k>`` and ``Btil^l(i, k) = gamma0 B^l =
<d g^{l+1}_i / d u^{l+1}_k>`` (sample-averaged Jacobians through the causal solve). Base cases
``Phi^0 = K^x``, ``G^{L+1} = 1``, ``Atil^0 = Btil^L = 0``. ``Delta`` is marched with the NTK
``K(t, t) = sum_l G^{l+1}(t, t) * Phi^l(t, t)`` (:func:`common.residual_march`).
"""

from __future__ import annotations

from functools import partial
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr

from lazyrich import _checks
from lazyrich.theory._dmft import common


class _Kernels(NamedTuple):
    phi: jax.Array  # (L, T, P', T, P')  Phi^l, l = 1..L
    g: jax.Array  # (L, T, P', T, P')  G^l, l = 1..L
    a: jax.Array  # (L, T, P', T, P')  Atil^l, l = 1..L (last unused)
    b: jax.Array  # (L, T, P', T, P')  Btil^l, l = 0..L-1 (first unused)


class _Loop(NamedTuple):
    kernels: _Kernels
    f: jax.Array  # (T, P')
    iteration: jax.Array
    history: jax.Array
    status: jax.Array  # -1 while running
    change: jax.Array


def _flat(k):
    t, p = k.shape[0], k.shape[1]
    return k.reshape(t * p, t * p)


def _unflat(m, t, p):
    return m.reshape(t, p, t, p)


def _trapezoid_weights(times):
    """``omega[i, k]``: trapezoid weights of ``int_0^{t_i}`` on the nodes ``t_k``, ``k <= i``; shape ``(T, T)``."""
    w = jnp.diff(times)
    t = times.shape[0]
    left = jnp.concatenate([jnp.zeros((1,), times.dtype), w])  # t_k - t_{k-1}
    right = jnp.concatenate([w, jnp.zeros((1,), times.dtype)])  # t_{k+1} - t_k
    i = jnp.arange(t)[:, None]
    k = jnp.arange(t)[None, :]
    return 0.5 * (jnp.where(k <= i, left[None, :], 0.0) + jnp.where(k < i, right[None, :], 0.0))


def _causal_weighted(kernel, omega, c):
    """``kernel(i, k) * omega[i, k] * c_k`` (zero for ``k > i``); shape ``(T, P', T, P')``."""
    return kernel * omega[:, None, :, None] * c[None, None, :, :]


def _equal_time(k):
    """``k(t, t)`` blocks of a ``(T, P', T, P')`` kernel, shape ``(T, P', P')``."""
    t = jnp.arange(k.shape[0])
    return k[t, :, t, :]


def _ntk(kx, kernels: _Kernels):
    depth = kernels.phi.shape[0]
    phi_tt = jax.vmap(_equal_time)(kernels.phi)
    g_tt = jax.vmap(_equal_time)(kernels.g)
    ntk = g_tt[0] * kx[None] + phi_tt[depth - 1]
    for layer in range(1, depth):
        ntk = ntk + g_tt[layer] * phi_tt[layer - 1]
    return ntk


def _rel(new, old):
    return jnp.linalg.norm(new - old) / jnp.maximum(jnp.linalg.norm(old), jnp.finfo(old.dtype).tiny)


def _neighbours(kx, kernels: _Kernels, layer: int, num_times: int):
    """Kernels seen by the layer-``layer`` process (1-based): ``(Phi^{l-1}, Atil^{l-1}, G^{l+1}, Btil^l)``."""
    depth = kernels.phi.shape[0]
    tiled_kx = jnp.broadcast_to(
        kx[None, :, None, :], (num_times, kx.shape[0], num_times, kx.shape[0])
    )
    zeros = jnp.zeros_like(tiled_kx)
    phi_prev = tiled_kx if layer == 1 else kernels.phi[layer - 2]
    a_prev = zeros if layer == 1 else kernels.a[layer - 2]
    g_next = jnp.ones_like(tiled_kx) if layer == depth else kernels.g[layer]
    b_here = zeros if layer == depth else kernels.b[layer]
    return phi_prev, a_prev, g_next, b_here


def _iterate(update, kx, y_train, times, kernels0, controls):
    """Damped fixed-point iteration ``kernels <- (1 - damping) kernels + damping update(kernels, f)``.

    ``controls = (max_iterations, tol, damping)`` (``max_iterations`` static).
    """
    max_iterations, tol, damping = controls
    dtype = kx.dtype

    def march(kernels):
        return common.residual_march(_ntk(kx, kernels), y_train, times)

    f0 = march(kernels0)
    init = _Loop(
        kernels0,
        f0,
        jnp.asarray(0, jnp.int32),
        jnp.full((max_iterations,), jnp.nan, dtype),
        jnp.asarray(-1, jnp.int32),
        jnp.asarray(jnp.inf, dtype),
    )

    def cond(loop):
        return loop.status < 0

    def body(loop):
        estimate = update(loop.kernels, loop.f)
        kernels = jax.tree.map(
            lambda old, new: (1 - damping) * old + damping * new, loop.kernels, estimate
        )
        f = march(kernels)
        change = jnp.maximum(_rel(f, loop.f), _rel(_ntk(kx, kernels), _ntk(kx, loop.kernels)))
        finite = jnp.isfinite(change) & jnp.all(jnp.isfinite(f)) & (change < 1e8)
        history = loop.history.at[loop.iteration].set(change)
        iteration = loop.iteration + 1
        status = jnp.where(
            ~finite,
            common.STATUS_DIVERGED,
            jnp.where(
                change < tol,
                common.STATUS_CONVERGED,
                jnp.where(iteration >= max_iterations, common.STATUS_MAX_ITERATIONS, -1),
            ),
        ).astype(jnp.int32)
        # A diverged iterate is not accepted: the last finite kernels and outputs are returned.
        kernels = jax.tree.map(lambda new, old: jnp.where(finite, new, old), kernels, loop.kernels)
        f = jnp.where(finite, f, loop.f)
        return _Loop(kernels, f, iteration, history, status, change)

    return jax.lax.while_loop(cond, body, init)


def _result(kx, y_train, y_test, times, loop: _Loop) -> common.DMFTResult:
    num_train = y_train.shape[0]
    f = loop.f
    return common.DMFTResult(
        times=times,
        f_train=f[:, :num_train],
        f_test=f[:, num_train:],
        delta_train=y_train - f[:, :num_train],
        delta_test=None if y_test is None else jnp.asarray(y_test, f.dtype) - f[:, num_train:],
        ntk=_ntk(kx, loop.kernels),
        phi=loop.kernels.phi,
        g=loop.kernels.g,
        response_a=loop.kernels.a,
        response_b=loop.kernels.b,
        status=loop.status,
        num_iterations=loop.iteration,
        history=loop.history,
    )


def _lazy_kernels(kx, depth, activation, num_times):
    phi0, g0, _ = common.initial_kernels(kx, depth, activation)

    def tile(k):
        return jnp.broadcast_to(k[None, :, None, :], (num_times, k.shape[0], num_times, k.shape[1]))

    phi = jnp.stack([tile(phi0[layer]) for layer in range(1, depth + 1)])
    g = jnp.stack([tile(g0[layer]) for layer in range(1, depth + 1)])
    return _Kernels(phi, g, jnp.zeros_like(phi), jnp.zeros_like(phi)), phi0, g0


def _check_common(depth, max_iterations, damping, tol):
    _checks.check_int("depth", depth, minimum=1)
    _checks.check_int("max_iterations", max_iterations, minimum=1)
    _checks.check_nonnegative_scalar("tol", tol)
    _checks.check_nonnegative_scalar("damping", damping)
    if not _checks._is_tracer(damping) and not 0 < float(damping) <= 1:
        raise ValueError(f"`damping` must be in (0, 1], got {damping!r}.")


# ---------------------------------------------------------------------------------------------------------------
# Deep linear networks: closed equations


def solve_dmft_linear(
    kx,
    y_train,
    times,
    *,
    gamma0,
    depth: int = 1,
    y_test=None,
    max_iterations: int = 200,
    tol: float | None = None,
    damping: float = 1.0,
    gradient_independence: bool = False,
) -> common.DMFTResult:
    r"""DMFT of a deep linear network (``phi(h) = h``): the closed equations, no sampling.

    With every field linear in the Gaussian sources, the layer-``l`` process is
    ``h = u + C g``, ``g = r + D h`` with the causal operators (``PT x PT`` matrices)
    ``C = Atil^{l-1} + gamma0 [Phi^{l-1} omega c]_<=`` and ``D = Btil^l + gamma0 [G^{l+1} omega c]_<=``
    (trapezoid weights ``omega``, ``c = Delta / P``), so
    (Bordelon & Pehlevan 2022, eqs. 11-12)

    .. math::
        H^l = (I - CD)^{-1}\,[H^{l-1} + C G^{l+1} C^\top]\,(I - CD)^{-\top},\qquad
        G^l = (I - DC)^{-1}\,[G^{l+1} + D H^{l-1} D^\top]\,(I - DC)^{-\top},

    ``Atil^l = (I - CD)^{-1} C`` and ``Btil^{l-1} = (I - DC)^{-1} D``. ``C D`` is block lower triangular in
    time (causality) with ``O(gamma0^2 dt^2)`` diagonal blocks, so both inverses exist on any reasonable grid. The equations are iterated with the residual
    march until the outputs and the NTK stop changing (at most ``T`` iterations are needed in exact
    arithmetic, by causality). Whitened data are the special case ``kx = I`` (see
    :func:`whitened_linear_dmft` for the closed ODE at ``L = 1``).

    Args:
      kx: input Gram matrix over train then test points, shape ``(P + Q, P + Q)``, PSD.
      y_train: shape ``(P,)``. times: shape ``(T,)``, strictly increasing from 0.
      gamma0: richness ``>= 0`` (traced). depth: number ``L`` of hidden layers.
      y_test: optional test targets, shape ``(Q,)``.
      max_iterations, tol, damping: fixed-point iteration controls (``tol=None``: 1e-10 in float64, 1e-5 in
        float32).
      gradient_independence: drop the response functions (``A = B = 0``; Bordelon & Pehlevan
        Sec. 5); a bool or a traced 0/1 value.

    Returns:
      :class:`DMFTResult` with ``phi`` = ``H^l``, ``g`` = ``G^l``, the response functions, ``status``
      (0 converged, 1 max_iterations, 2 diverged) and the convergence ``history``.

    Raises:
      ValueError: for ``gamma0 < 0``, a bad time grid, a non-PSD ``kx`` or mismatched shapes.

    References:
      Bordelon & Pehlevan (2022), https://arxiv.org/abs/2205.09653, Sec. 4.2, eqs. 11-12, App. F.
    """
    common.validate_problem(kx, y_train, times, gamma0, y_test)
    if tol is None:
        tol = 1e-10 if jnp.asarray(kx).dtype == jnp.float64 else 1e-5
    _check_common(depth, max_iterations, damping, tol)
    # traced 0/1 switch: full DMFT and the gradient-independence ansatz share one compiled program (a bool or a
    # traced 0/1 value, so both can be vmapped together)
    keep_responses = 1.0 - jnp.asarray(gradient_independence, jnp.result_type(float))
    return _solve_linear(
        kx,
        y_train,
        times,
        gamma0,
        y_test,
        tol,
        damping,
        keep_responses,
        depth=depth,
        max_iterations=max_iterations,
    )


@partial(jax.jit, static_argnames=("depth", "max_iterations"))
def _solve_linear(
    kx, y_train, times, gamma0, y_test, tol, damping, keep_responses, *, depth, max_iterations
):
    dtype, y_train, times, gamma0 = common.cast_problem(kx, y_train, times, gamma0)
    num_times, num_all, num_train = times.shape[0], kx.shape[0], y_train.shape[0]
    omega = _trapezoid_weights(times)
    eye = jnp.eye(num_times * num_all, dtype=dtype)
    kernels0, _, _ = _lazy_kernels(kx, depth, "linear", num_times)

    def update(kernels: _Kernels, f):
        delta = (
            jnp.zeros((num_times, num_all), dtype).at[:, :num_train].set(y_train - f[:, :num_train])
        )
        c = delta / num_train
        phi, g, a, b = [], [], [], []
        for layer in range(1, depth + 1):
            phi_prev, a_prev, g_next, b_here = _neighbours(kx, kernels, layer, num_times)
            cmat = _flat(a_prev + gamma0 * _causal_weighted(phi_prev, omega, c))
            dmat = _flat(b_here + gamma0 * _causal_weighted(g_next, omega, c))
            # Block lower triangular (causal) with diagonal blocks I - O(gamma0^2 dt^2): always solvable.
            inv_cd = jnp.linalg.solve(eye - cmat @ dmat, eye)
            inv_dc = jnp.linalg.solve(eye - dmat @ cmat, eye)
            hp, gn = _flat(phi_prev), _flat(g_next)
            h_new = inv_cd @ (hp + cmat @ gn @ cmat.T) @ inv_cd.T
            g_new = inv_dc @ (gn + dmat @ hp @ dmat.T) @ inv_dc.T
            phi.append(_unflat(0.5 * (h_new + h_new.T), num_times, num_all))
            g.append(_unflat(0.5 * (g_new + g_new.T), num_times, num_all))
            a.append(_unflat(inv_cd @ cmat, num_times, num_all))
            b.append(_unflat(inv_dc @ dmat, num_times, num_all))
        zeros = jnp.zeros_like(phi[0])
        a = [keep_responses * ai for ai in a]
        b = [keep_responses * bi for bi in b]
        # a[l-1] = Atil^l (l = 1..L; Atil^L unused); b[l-1] = Btil^{l-1} (l = 1..L; Btil^0 unused).
        return _Kernels(
            jnp.stack(phi), jnp.stack(g), jnp.stack(a[:-1] + [zeros]), jnp.stack([zeros] + b[1:])
        )

    controls = (max_iterations, tol, damping)
    return _result(
        kx, y_train, y_test, times, _iterate(update, kx, y_train, times, kernels0, controls)
    )


# ---------------------------------------------------------------------------------------------------------------
# Nonlinear deep networks: alternating Monte Carlo


def solve_dmft_deep(
    kx,
    y_train,
    times,
    *,
    gamma0,
    key,
    depth: int = 2,
    activation: common.Activation = "tanh",
    num_samples: int = 2048,
    num_response_samples: int = 256,
    response_chunk: int = 16,
    y_test=None,
    max_iterations: int = 30,
    tol: float = 1e-4,
    damping: float = 1.0,
    control_variate: bool = True,
    gradient_independence: bool = False,
    response_method: Literal["solve", "autodiff"] = "autodiff",
    response_control_variate: bool = True,
) -> common.DMFTResult:
    r"""Deep nonlinear DMFT by alternating Monte Carlo (Bordelon & Pehlevan 2022, Algorithm 1).

    Starting from the lazy kernels (``Phi^l``, ``G^l`` frozen at their ``t = 0`` values, ``A = B = 0``),
    each iteration

    1. marches ``Delta`` with the current NTK ``K(t, t) = sum_l G^{l+1} Phi^l``;
    2. for every layer, samples ``S = num_samples`` pairs ``u^l ~ GP(0, Phi^{l-1})``,
       ``r^l ~ GP(0, G^{l+1})`` (symmetric PSD square root of the ``PT x PT`` kernel, negative eigenvalues
       clipped), solves the causal field equations of this module forward in time, and estimates
       ``Phi^l = <phi phi^T>``, ``G^l = <g g^T>`` and the response functions as sample-averaged Jacobians
       ``Atil^l = <d phi(h^l) / d r^l>``, ``Btil^{l-1} = <d g^l / d u^l>`` on the first
       ``num_response_samples`` samples (``response_method="solve"``: per sample, one LU factorisation of
       the linearised causal system ``I - M_h E`` gives both Jacobians in closed form, see
       ``solved_responses``; ``"autodiff"``, the default: forward-mode autodiff through the sequential
       solve, ``P'T`` tangents; the two agree up to the three fixed-point sweeps of the equal-time
       terms, ``O((gamma0 dt)^4)``);
    3. applies the damped update ``X <- (1 - damping) X + damping X_hat`` to ``Phi, G, A, B``;

    until the relative change of the outputs and of the NTK falls below ``tol`` (``status`` 0), or
    ``max_iterations`` is reached (1), or an iterate is not finite (2; the last finite iterate is
    kept). The standard normals behind the samples are drawn once (common random numbers), so the
    iteration is a deterministic map whose fixed point carries an O(S^{-1/2}) Monte-Carlo error.
    With ``control_variate=True`` kernels are estimated as ``exact(0) + [MC(t, s) - MC(0, 0)]``.
    ``gradient_independence=True`` keeps ``A = B = 0`` (the gradient-independence ansatz, Bordelon &
    Pehlevan Sec. 5). With ``response_control_variate=True`` (default) the response average uses the
    Jacobians' first-order terms (``D_1 M_h D_1`` and ``D_1 M_gb D_1 + diag(phi'' z)``, averaged
    over all ``S`` samples at ``O(S (P'T)^2)``) as control variates: ``<J> = <J - J_1>_{S_resp} +
    <J_1>_S``, unbiased, with the variance of the remainder only. On a P = 6, T = 9, L = 3, gamma0 =
    1.5 problem (error of outputs and NTK against an S = 100,000 solve, median of 3 keys) it cuts
    the error at S = 8,000 from 9.9e-2 to 4.1e-2 with 16 response samples and from 4.5e-2 to 1.4e-2
    with 64; the response error A drops ~3x.

    Memory: ``O(L P'^2 T^2)`` for the kernels plus ``O(S P' T)`` samples and ``response_chunk (P' T)^2`` for
    Jacobians; time per iteration ``O(L [S P'^2 T^2 + (P'T)^3 (1 + num_response_samples)])``.

    Args:
      kx: input Gram matrix over train then test points, shape ``(P + Q, P + Q)``, PSD.
      y_train: shape ``(P,)``. times: shape ``(T,)``, strictly increasing from 0 (the discretisation).
      gamma0: richness ``>= 0`` (traced). key: typed PRNG key.
      depth: hidden layers ``L``. activation: ``"tanh"``, ``"relu"``, ``"erf"`` or ``"linear"``.
      num_samples, num_response_samples, response_chunk: Monte-Carlo sizes (static).
      y_test: optional test targets ``(Q,)``. max_iterations, tol, damping: iteration controls.
      control_variate: use exact ``t = 0`` kernels as control variates.
      gradient_independence: drop the response functions (``A = B = 0``).
      response_control_variate: estimate the responses with the first-order control variate (above).
      response_method: ``"autodiff"`` (default; ``jax.jacfwd`` through the solve) or ``"solve"`` (one dense
        LU per response sample). Both cost ``O((P'T)^3)`` per sample; ``"solve"`` gave no reliable
        saving (``benchmarks/results/dmft.json``, ``deep_response_method_check``).

    Returns:
      :class:`DMFTResult` with ``status``, ``num_iterations`` and ``history`` (never raises on
      non-convergence).

    Raises:
      ValueError: for ``gamma0 < 0``, a bad time grid, a non-PSD ``kx`` or mismatched shapes.

    References:
      Bordelon & Pehlevan (2022), https://arxiv.org/abs/2205.09653, eq. 10, Sec. 5, App. B.
    """
    common.validate_problem(kx, y_train, times, gamma0, y_test)
    _check_common(depth, max_iterations, damping, tol)
    _checks.check_key("key", key)
    _checks.check_choice("activation", activation, common.ACTIVATIONS)
    _checks.check_int("num_samples", num_samples, minimum=1)
    _checks.check_int("num_response_samples", num_response_samples, minimum=1, maximum=num_samples)
    _checks.check_int("response_chunk", response_chunk, minimum=1)
    _checks.check_choice("response_method", response_method, ("solve", "autodiff"))
    num_response_samples = max(
        response_chunk, num_response_samples // response_chunk * response_chunk
    )
    num_response_samples = min(num_response_samples, num_samples // response_chunk * response_chunk)
    if num_response_samples < 1:
        response_chunk = num_response_samples = num_samples
    return _solve_deep(
        kx,
        y_train,
        times,
        gamma0,
        key,
        y_test,
        tol,
        damping,
        depth=depth,
        activation=activation,
        num_samples=num_samples,
        num_response_samples=num_response_samples,
        response_chunk=response_chunk,
        max_iterations=max_iterations,
        control_variate=control_variate,
        gradient_independence=gradient_independence,
        response_method=response_method,
        response_control_variate=bool(response_control_variate),
    )


@partial(
    jax.jit,
    static_argnames=(
        "depth",
        "activation",
        "num_samples",
        "num_response_samples",
        "response_chunk",
        "max_iterations",
        "control_variate",
        "gradient_independence",
        "response_method",
        "response_control_variate",
    ),
)
def _solve_deep(
    kx,
    y_train,
    times,
    gamma0,
    key,
    y_test,
    tol,
    damping,
    *,
    depth,
    activation,
    num_samples,
    num_response_samples,
    response_chunk,
    max_iterations,
    control_variate,
    gradient_independence,
    response_method,
    response_control_variate,
):
    dtype, y_train, times, gamma0 = common.cast_problem(kx, y_train, times, gamma0)
    phi_fn, dphi_fn = common.activation_fns(activation)
    num_times, num_all, num_train = times.shape[0], kx.shape[0], y_train.shape[0]
    size = num_times * num_all
    implicit_sweeps = 3
    omega = _trapezoid_weights(times)
    kernels0, phi0, g0 = _lazy_kernels(kx, depth, activation, num_times)
    keys = jr.split(key, 2 * depth)
    eps_u = [jr.normal(keys[2 * i], (num_samples, size), dtype) for i in range(depth)]
    eps_r = [jr.normal(keys[2 * i + 1], (num_samples, size), dtype) for i in range(depth)]
    kx_sqrt = common.psd_sqrt(kx)

    def process(u, r, m_h, m_b, m_g):
        """One sample's causal solve: returns ``(phi(h), g)``, each ``(T, P')``."""

        def step(carry, i):
            gs, ps = carry  # rows >= i are still zero: the sums below are over k < i
            known_h = u[i] + jnp.einsum("pkq,kq->p", m_h[i], gs)
            known_z = r[i] + jnp.einsum("pkq,kq->p", m_g[i] + m_b[i], ps)
            diag_h = m_h[i][:, i, :]
            diag_z = m_g[i][:, i, :] + m_b[i][:, i, :]

            def z_of(h):
                return known_z + diag_z @ phi_fn(h)

            h = known_h
            for _ in range(implicit_sweeps):  # equal-time terms: h = known_h + diag_h g(h)
                h = known_h + diag_h @ (dphi_fn(h) * z_of(h))
            z = z_of(h)
            g = dphi_fn(h) * z
            return (gs.at[i].set(g), ps.at[i].set(phi_fn(h))), (h, z)

        zeros = jnp.zeros((num_times, num_all), dtype)
        (gs, ps), (hs, zs) = jax.lax.scan(step, (zeros, zeros), jnp.arange(num_times))
        return ps, gs, hs, zs

    def mean_jacobian(fn, xs, others):
        """``< d fn(x) / d x >`` over the first ``num_response_samples`` samples, shape ``(T, P', T, P')``."""
        n_chunks = num_response_samples // response_chunk
        xs = xs[:num_response_samples].reshape(n_chunks, response_chunk, num_times, num_all)
        others = others[:num_response_samples].reshape(n_chunks, response_chunk, num_times, num_all)

        def chunk(total, inputs):
            x, o = inputs
            jac = jax.vmap(lambda xi, oi: jax.jacfwd(lambda v: fn(v, oi))(xi))(x, o)
            return total + jnp.sum(jac, axis=0), None

        total, _ = jax.lax.scan(
            chunk, jnp.zeros((num_times, num_all, num_times, num_all), dtype), (xs, others)
        )
        return total / num_response_samples

    causal = (jnp.arange(num_times)[:, None] >= jnp.arange(num_times)[None, :]).astype(dtype)
    causal = jnp.broadcast_to(
        causal[:, None, :, None], (num_times, num_all, num_times, num_all)
    ).reshape(size, size)
    eye = jnp.eye(size, dtype=dtype)

    def solved_responses(hs, zs, m_h, m_gb, *, want_a, want_b):
        """``<d phi(h) / d r>`` and ``<d g / d u>`` from the linearised causal solve, ``(T, P', T, P')``.

        Differentiating ``h = u + M_h g``, ``z = r + M_gb phi(h)``, ``g = phi'(h) z`` (``M`` the flattened
        causal operators) at a sample's solution gives ``dg = E dh`` on ``du``-perturbations and
        ``dh = (I - M_h E)^{-1} M_h D_1 dr`` with ``D_1 = diag phi'(h)``,
        ``E = D_1 M_gb D_1 + diag(phi''(h) z)``; hence ``d phi(h) / d r = D_1 (I - M_h E)^{-1} M_h D_1`` and
        ``d g / d u = E (I - M_h E)^{-1}``: one LU factorisation per sample, shared by both, in BLAS-3
        ``O((P'T)^3)`` flops, the same order as ``P'T`` forward-mode passes through the sequential solve.
        Samples are mapped one at a time (``lax.map``): a ``vmap``-batched LU inside the iteration's
        ``while_loop`` deadlocked the XLA CPU runtime at ``P'T >= 100`` (jax 0.10.2, 2 cores).
        """
        m_h = _flat(m_h) * causal
        m_gb = _flat(m_gb) * causal
        n_chunks = num_response_samples // response_chunk
        shape = (n_chunks, response_chunk, size)

        def one(h, z):
            d1, d2 = derivatives(h, z)
            e = d1[:, None] * m_gb * d1[None, :] + jnp.diag(d2)
            lu = jax.scipy.linalg.lu_factor(eye - m_h @ e)
            a = d1[:, None] * jax.scipy.linalg.lu_solve(lu, m_h * d1[None, :]) if want_a else 0.0
            b = jax.scipy.linalg.lu_solve(lu, e.T, trans=1).T if want_b else 0.0
            return a, b

        def chunk(total, inputs):
            a, b = jax.lax.map(lambda hz: one(*hz), inputs)
            return (total[0] + jnp.sum(a, axis=0), total[1] + jnp.sum(b, axis=0)), None

        zero = jnp.zeros((size, size), dtype)
        (a, b), _ = jax.lax.scan(
            chunk,
            (zero, zero),
            (hs[:num_response_samples].reshape(shape), zs[:num_response_samples].reshape(shape)),
        )
        a, b = a / num_response_samples, b / num_response_samples
        return _unflat(a, num_times, num_all), _unflat(b, num_times, num_all)

    def derivatives(h, z):
        """``(phi'(h), phi''(h) z)``, elementwise."""
        return dphi_fn(h), jax.jvp(dphi_fn, (h,), (jnp.ones_like(h),))[1] * z

    def first_order_correction(hs, zs, m_h, m_gb):
        """Control-variate corrections ``<J_1>_S - <J_1>_{S_resp}`` for ``(<d phi / d r>, <d g / d u>)``.

        The first-order (no-feedback) terms of the Jacobians above, ``J_1 = D_1 M_h D_1`` and
        ``E = D_1 M_gb D_1 + diag(phi''(h) z)``, carry most of their sample-to-sample variation, and
        their means over all ``S`` samples cost only ``O(S (P'T)^2)`` (``M_h * <d_1 d_1^T>``, ...). Adding
        this difference to the response-sample average gives ``<J - J_1>_{S_resp} + <J_1>_S``: still
        unbiased, with the variance of the remainder only.
        """
        m_h = _flat(m_h) * causal
        m_gb = _flat(m_gb) * causal
        d1, d2 = derivatives(hs.reshape(num_samples, size), zs.reshape(num_samples, size))
        r1, r2 = d1[:num_response_samples], d2[:num_response_samples]
        d1d1 = d1.T @ d1 / num_samples - r1.T @ r1 / num_response_samples
        d2_mean = jnp.mean(d2, axis=0) - jnp.mean(r2, axis=0)
        a = _unflat(m_h * d1d1, num_times, num_all)
        b = _unflat(m_gb * d1d1 + jnp.diag(d2_mean), num_times, num_all)
        return a, b

    def update(kernels: _Kernels, f):
        delta = (
            jnp.zeros((num_times, num_all), dtype).at[:, :num_train].set(y_train - f[:, :num_train])
        )
        c = delta / num_train
        phi, g, a, b = [], [], [], []
        for layer in range(1, depth + 1):
            i = layer - 1
            phi_prev, a_prev, g_next, b_here = _neighbours(kx, kernels, layer, num_times)
            m_h = a_prev + gamma0 * _causal_weighted(phi_prev, omega, c)
            m_g = gamma0 * _causal_weighted(g_next, omega, c)
            if layer == 1:
                u = jnp.broadcast_to(
                    (eps_u[i][:, :num_all] @ kx_sqrt)[:, None, :], (num_samples, num_times, num_all)
                )
            else:
                u = (eps_u[i] @ common.psd_sqrt(_flat(phi_prev))).reshape(
                    num_samples, num_times, num_all
                )
            if layer == depth:
                r = jnp.broadcast_to(eps_r[i][:, :1, None], (num_samples, num_times, num_all))
            else:
                r = (eps_r[i] @ common.psd_sqrt(_flat(g_next))).reshape(
                    num_samples, num_times, num_all
                )
            solve = partial(process, m_h=m_h, m_b=b_here, m_g=m_g)
            ps, gs, hs, zs = jax.vmap(solve)(u, r)
            p_flat = ps.reshape(num_samples, size)
            g_flat = gs.reshape(num_samples, size)
            phi_hat = _unflat(p_flat.T @ p_flat / num_samples, num_times, num_all)
            g_hat = _unflat(g_flat.T @ g_flat / num_samples, num_times, num_all)
            if control_variate:
                phi_hat = phi_hat + (phi0[layer] - phi_hat[0, :, 0, :])[None, :, None, :]
                g_hat = g_hat + (g0[layer] - g_hat[0, :, 0, :])[None, :, None, :]
            phi.append(phi_hat)
            g.append(g_hat)
            zeros = jnp.zeros_like(phi_hat)
            want_a = not gradient_independence and layer < depth
            want_b = not gradient_independence and layer > 1
            if not (want_a or want_b):
                a.append(zeros)
                b.append(zeros)
                continue
            if response_method == "solve":
                a_l, b_l = solved_responses(hs, zs, m_h, m_g + b_here, want_a=want_a, want_b=want_b)
            else:
                a_l = b_l = zeros
                if want_a:
                    a_l = mean_jacobian(lambda rr, uu, solve=solve: solve(uu, rr)[0], r, u)
                if want_b:
                    b_l = mean_jacobian(lambda uu, rr, solve=solve: solve(uu, rr)[1], u, r)
            if response_control_variate and num_response_samples < num_samples:
                corr_a, corr_b = first_order_correction(hs, zs, m_h, m_g + b_here)
                a_l, b_l = a_l + corr_a, b_l + corr_b
            a.append(a_l if want_a else zeros)
            b.append(b_l if want_b else zeros)
        # a[l-1] = Atil^l; b[l-1] = Btil^{l-1}, stored as kernels.b[l-1] (Btil^{l-1}, l = 1..L).
        return _Kernels(jnp.stack(phi), jnp.stack(g), jnp.stack(a), jnp.stack(b))

    controls = (max_iterations, tol, damping)
    return _result(
        kx, y_train, y_test, times, _iterate(update, kx, y_train, times, kernels0, controls)
    )
