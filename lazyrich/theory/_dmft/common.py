"""Shared pieces of the DMFT solvers: conventions, activations, t = 0 kernels, validation, results.

Conventions (``docs/conventions.md`` §3 and §5; Bordelon & Pehlevan, NeurIPS 2022,
https://arxiv.org/abs/2205.09653, eqs. 1-4), used by every solver of this package:

* Network (Bordelon & Pehlevan eq. 1, mean-field / muP): ``h^1 = W^0 x / sqrt(D)``,
  ``h^{l+1} = W^l phi(h^l) / sqrt(N)``, ``f = w^L . phi(h^L) / (gamma0 N)``, all weights N(0, 1) at
  initialisation; the output is centred, ``f <- f - f(theta_0)``, so ``f(0) = 0`` at every width.
* Loss ``L = (1 / 2P) sum_mu (f_mu - y_mu)^2`` over the ``P`` training points and gradient flow
  ``d theta / dt = -gamma0^2 N grad_theta L``. The residual is ``Delta_mu = y_mu - f_mu = -P dL/df_mu`` and
  ``df_mu/dt = (1/P) sum_alpha K_{mu alpha}(t) Delta_alpha(t)`` (the neural-tangents ``1/P`` normalisation;
  Bordelon's eq. 3 omits the ``1/P``: his time is ours divided by ``P``).
* ``K(t) = gamma0^2 N sum_p df/dtheta_p df/dtheta_p = sum_{l=0}^{L} G^{l+1} * Phi^l`` (elementwise), with
  ``Phi^0 = K^x = x x^T / D`` and ``G^{L+1} = 1``; at ``t = 0`` it equals the infinite-width NTK of an
  NTK-parameterised MLP without biases and unit weight variance (``weight_std=1``, ``bias_std=0``).
* Kernels over ``P' = P + Q`` points (training points first, then test points) and ``T`` times are arrays of shape
  ``(T, P', T, P')``; ``Phi^l_{mu alpha}(t, s) = <phi(h^l_mu(t)) phi(h^l_alpha(s))>``,
  ``G^l_{mu alpha}(t, s) = <g^l_mu(t) g^l_alpha(s)>``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from lazyrich import _checks

Activation = Literal["tanh", "relu", "linear", "erf"]
ACTIVATIONS = ("tanh", "relu", "linear", "erf")

STATUS_CONVERGED = 0
STATUS_MAX_ITERATIONS = 1
STATUS_DIVERGED = 2
STATUS_NAMES = {0: "converged", 1: "max_iterations", 2: "diverged"}


def activation_fns(name: str):
    """``(phi, dphi)`` for a named activation (``dphi`` is differentiable, for response functions)."""
    _checks.check_choice("activation", name, ACTIVATIONS)
    if name == "tanh":
        return jnp.tanh, lambda h: 1.0 - jnp.tanh(h) ** 2
    if name == "relu":
        return (lambda h: jnp.maximum(h, 0.0)), (lambda h: (h > 0).astype(h.dtype))
    if name == "erf":
        return jsp.erf, lambda h: (2.0 / math.sqrt(math.pi)) * jnp.exp(-(h**2))
    return (lambda h: h), jnp.ones_like


class DMFTResult(NamedTuple):
    """What :func:`lazyrich.theory.solve_dmft` returns (``P`` train points, ``Q`` test points, ``T`` times).

    Attributes:
      times: the time grid, shape ``(T,)`` (units: see the module conventions; ``1/P`` loss normalisation).
      f_train, f_test: centred network outputs, shapes ``(T, P)`` and ``(T, Q)``.
      delta_train: residuals ``y - f`` on the training points, shape ``(T, P)``.
      delta_test: residuals on the test points, shape ``(T, Q)`` (``None`` without ``y_test``).
      ntk: the NTK ``K(t, t)`` over all ``P + Q`` points, shape ``(T, P + Q, P + Q)``.
      phi: feature kernels ``Phi^l(t, s)``, ``l = 1..L``, shape ``(L, T, P+Q, T, P+Q)``.
      g: gradient kernels ``G^l(t, s)``, ``l = 1..L``, same shape.
      response_a: ``gamma0 A^l(t, s) = <d phi(h^l(t)) / d r^l(s)>``, ``l = 1..L`` (zeros where not used).
      response_b: ``gamma0 B^l(t, s) = <d g^{l+1}(t) / d u^{l+1}(s)>``, ``l = 0..L-1``.
      status: int32, 0 converged, 1 hit ``max_iterations``, 2 diverged (non-finite or exploding iterate).
      num_iterations: iterations performed (1 for the forward-integrated two-layer solver).
      history: relative change per iteration, shape ``(max_iterations,)``, NaN after the last iteration.
    """

    times: Any
    f_train: Any
    f_test: Any
    delta_train: Any
    delta_test: Any
    ntk: Any
    phi: Any
    g: Any
    response_a: Any
    response_b: Any
    status: Any
    num_iterations: Any
    history: Any


def status_name(status) -> str:
    """``"converged"``, ``"max_iterations"`` or ``"diverged"`` for a (concrete) status code."""
    return STATUS_NAMES[int(status)]


# ---------------------------------------------------------------------------------------------------------------
# Validation


def validate_problem(kx, y_train, times, gamma0, y_test=None) -> tuple[int, int]:
    """Check shapes and values common to every solver; returns ``(P, Q)``."""
    _checks.check_ndim("kx", kx, 2)
    _checks.check_square("kx", kx)
    _checks.check_ndim("y_train", y_train, 1)
    _checks.check_ndim("times", times, 1)
    num_all = np.shape(kx)[0]
    num_train = np.shape(y_train)[0]
    if num_train < 1 or num_train > num_all:
        raise ValueError(
            f"`y_train` has {num_train} entries but `kx` covers {num_all} points; expected "
            f"1 <= len(y_train) <= kx.shape[0] (training points first, then test points)."
        )
    num_test = num_all - num_train
    if y_test is not None:
        _checks.check_ndim("y_test", y_test, 1)
        if np.shape(y_test)[0] != num_test:
            raise ValueError(
                f"`y_test` has {np.shape(y_test)[0]} entries but `kx` has {num_test} test points "
                f"(kx.shape[0] - len(y_train))."
            )
    if np.shape(times)[0] < 2:
        raise ValueError(f"`times` needs at least 2 points, got shape {np.shape(times)}.")
    _checks.check_increasing("times", times, start=0.0)
    _checks.check_nonnegative_scalar("gamma0", gamma0)
    _checks.check_psd("kx", kx)
    _checks.check_finite("y_train", y_train)
    return num_train, num_test


def cast_problem(kx, y_train, times, gamma0):
    """``(dtype, y_train, times, gamma0)`` cast to the dtype of ``kx`` (inside the jitted solvers)."""
    dtype = kx.dtype
    return dtype, jnp.asarray(y_train, dtype), jnp.asarray(times, dtype), jnp.asarray(gamma0, dtype)


# ---------------------------------------------------------------------------------------------------------------
# Gaussian expectations at t = 0 (exact: closed forms for relu/erf/linear, Gauss-Hermite for tanh)


def _pair_cov(k):
    d = jnp.diag(k)
    return d[:, None], d[None, :], k


def gaussian_kernels(k, activation: str, *, num_nodes: int = 96):
    """``(E[phi(u) phi(u)^T], E[phi'(u) phi'(u)^T])`` for ``u ~ N(0, k)``, each of shape ``k.shape``.

    Closed forms for ``relu`` (arc-cosine), ``erf`` (arcsine) and ``linear``; a ``num_nodes^2``-point
    Gauss-Hermite rule for ``tanh`` (error ~1e-8 for variances of order one).
    """
    a, b, c = _pair_cov(k)
    if activation == "linear":
        return k, jnp.ones_like(k)
    if activation == "relu":
        norm = jnp.sqrt(a * b)
        safe = jnp.where(norm > 0, norm, 1.0)
        cos = jnp.clip(jnp.where(norm > 0, c / safe, 1.0), -1.0, 1.0)
        theta = jnp.arccos(cos)
        phi = norm / (2 * jnp.pi) * (jnp.sin(theta) + (jnp.pi - theta) * cos)
        dphi = (jnp.pi - theta) / (2 * jnp.pi)
        return phi, dphi
    if activation == "erf":
        phi = (2 / jnp.pi) * jnp.arcsin(
            jnp.clip(2 * c / jnp.sqrt((1 + 2 * a) * (1 + 2 * b)), -1.0, 1.0)
        )
        dphi = (4 / jnp.pi) / jnp.sqrt((1 + 2 * a) * (1 + 2 * b) - 4 * c**2)
        return phi, dphi
    phi_fn, dphi_fn = activation_fns(activation)
    nodes, weights = np.polynomial.hermite_e.hermegauss(num_nodes)
    nodes = jnp.asarray(nodes, k.dtype)
    weights = jnp.asarray(weights / math.sqrt(2 * math.pi), k.dtype)
    sa = jnp.sqrt(jnp.maximum(a, 0.0))
    safe_sa = jnp.where(sa > 0, sa, 1.0)
    rho = jnp.where(sa > 0, c / safe_sa, 0.0)  # v = rho xi1 + tau xi2
    tau = jnp.sqrt(jnp.maximum(b - rho**2, 0.0))
    u = sa[..., None, None] * nodes[:, None]
    v = rho[..., None, None] * nodes[:, None] + tau[..., None, None] * nodes[None, :]
    w2 = weights[:, None] * weights[None, :]
    phi = jnp.sum(w2 * phi_fn(u) * phi_fn(v), axis=(-2, -1))
    dphi = jnp.sum(w2 * dphi_fn(u) * dphi_fn(v), axis=(-2, -1))
    return phi, dphi


def initial_kernels(kx, depth: int, activation: str):
    """NNGP/NTK recursion at ``t = 0``: ``(Phi0, G0, K0)``.

    ``Phi0`` has shape ``(L + 1, P', P')`` (``Phi0[0] = kx``), ``G0`` has shape ``(L + 2, P', P')`` with
    ``G0[l]`` for ``l = 1..L+1`` (``G0[L+1] = 1``, ``G0[0]`` unused), and ``K0 = sum_l G0[l+1] * Phi0[l]``.
    """
    phis, dphis = [kx], []
    for _ in range(depth):
        p, dp = gaussian_kernels(phis[-1], activation)
        phis.append(p)
        dphis.append(dp)
    gs = [jnp.ones_like(kx)]
    for layer in range(depth, 0, -1):
        gs.append(gs[-1] * dphis[layer - 1])
    gs = gs[::-1]  # gs[l - 1] = G^l for l = 1..L+1
    g_all = jnp.stack([jnp.zeros_like(kx)] + gs)
    phi_all = jnp.stack(phis)
    k0 = sum(g_all[layer + 1] * phi_all[layer] for layer in range(depth + 1))
    return phi_all, g_all, k0


def psd_sqrt(m):
    """Symmetric PSD square root ``V sqrt(max(lambda, 0)) V^T`` (negative eigenvalues clipped)."""
    m = 0.5 * (m + m.T)
    evals, evecs = jnp.linalg.eigh(m)
    return (evecs * jnp.sqrt(jnp.clip(evals, 0.0))) @ evecs.T


def residual_march(ntk_tt, y_train, times):
    """Integrate ``df/dt = (1/P) K(t)[:, train] (y - f_train)`` on the grid with ``K`` piecewise constant.

    Uses the midpoint kernel ``(K_i + K_{i+1}) / 2`` on each interval and the exact exponential of the linear
    flow (second-order accurate in the step; exact for a static kernel).

    Args:
      ntk_tt: ``K(t, t)`` over all points, shape ``(T, P', P')``.
      y_train: shape ``(P,)``.
      times: shape ``(T,)``.

    Returns:
      ``f`` of shape ``(T, P')`` with ``f[0] = 0``.
    """
    num_train = y_train.shape[0]
    dts = jnp.diff(times)
    k_mid = 0.5 * (ntk_tt[1:] + ntk_tt[:-1])

    def step(f, inputs):
        k, dt = inputs
        m = k[:num_train, :num_train] / num_train
        evals, evecs = jnp.linalg.eigh(0.5 * (m + m.T))
        evals = jnp.clip(evals, 0.0)
        r0 = evecs.T @ (y_train - f[:num_train])
        decay = jnp.exp(-dt * evals)
        positive = evals > 0
        gain = jnp.where(positive, -jnp.expm1(-dt * evals) / jnp.where(positive, evals, 1.0), dt)
        f_train = y_train - evecs @ (decay * r0)
        f_other = f[num_train:] + (k[num_train:, :num_train] / num_train) @ (evecs @ (gain * r0))
        f_new = jnp.concatenate([f_train, f_other])
        return f_new, f_new

    f0 = jnp.zeros(ntk_tt.shape[-1], ntk_tt.dtype)
    _, fs = jax.lax.scan(step, f0, (k_mid, dts))
    return jnp.concatenate([f0[None], fs], axis=0)


# ---------------------------------------------------------------------------------------------------------------
# Gaussian sources for the sampled solvers: i.i.d., antithetic, randomised quasi-Monte Carlo (Sobol')

Sampling = Literal["iid", "antithetic", "sobol", "sobol-antithetic"]
SAMPLINGS = ("iid", "antithetic", "sobol", "sobol-antithetic")
_SOBOL_BITS = 32


@functools.lru_cache(maxsize=4)
def _sobol_table(num_points: int, dim: int) -> np.ndarray:
    """The first ``num_points`` unscrambled Sobol' points in ``dim`` dimensions as 32-bit integers."""
    # scipy is a dependency; imported lazily (only the Sobol' rule needs it)
    from scipy.stats import qmc

    m = max(int(math.ceil(math.log2(num_points))), 0)
    points = qmc.Sobol(dim, scramble=False, bits=_SOBOL_BITS).random_base2(m)[:num_points]
    return np.asarray(np.round(points * 2.0**_SOBOL_BITS), np.uint32)


def sobol_table(num_points: int, dim: int) -> jax.Array:
    """:func:`_sobol_table` as a ``uint32`` array ``(num_points, dim)`` (built outside ``jit``, cached)."""
    return jnp.asarray(_sobol_table(int(num_points), int(dim)))


def scrambled_sobol_normals(table, key, dtype):
    """Randomised Sobol' points mapped to standard normals, shape ``table.shape``.

    Each coordinate's 32-bit integer ``x`` is scrambled by a random linear matrix scramble and a random digital
    shift (Matousek 1998): ``y_j = x_j XOR (XOR_{k < j} M_{jk} x_k) XOR e_j`` on the bits ``j = 0`` (most
    significant) ... 31, with random binary ``M`` (lower triangular, unit diagonal) and ``e``, drawn per
    dimension from ``key``. Every scrambled point is uniform on the ``2^32`` dyadic cells and the net
    structure (hence the low discrepancy) is kept, so ``mean_i F(Phi^{-1}(y_i))`` is an unbiased estimator of
    ``E F(z)``, ``z ~ N(0, I)``, whose error for smooth ``F`` falls close to ``S^{-1}`` instead of
    ``S^{-1/2}``.
    """
    num_points, dim = table.shape
    key_m, key_e = jax.random.split(key)
    bits = jnp.arange(_SOBOL_BITS, dtype=jnp.uint32)  # j = 0 is the most significant bit
    lower = bits[:, None] > bits[None, :]  # strictly lower part of M (j > k)
    random_bits = jax.random.bits(key_m, (dim, _SOBOL_BITS, _SOBOL_BITS), jnp.uint32)  # dtype-free
    m = ((random_bits & jnp.uint32(1)) == 1) & lower
    m = m | (bits[:, None] == bits[None, :])
    # column k of M as a 32-bit mask: bit (31 - j) set where M[j, k] = 1
    weights = jnp.left_shift(jnp.uint32(1), jnp.uint32(_SOBOL_BITS - 1) - bits)  # (32,)
    columns = jnp.sum(jnp.where(m, weights[None, :, None], jnp.uint32(0)), axis=1, dtype=jnp.uint32)
    shift = jax.random.bits(key_e, (dim,), jnp.uint32)

    def scramble(k, out):
        bit_k = jnp.right_shift(table, jnp.uint32(_SOBOL_BITS - 1) - k.astype(jnp.uint32))
        return out ^ ((bit_k & jnp.uint32(1)) * columns[None, :, k])

    out = jax.lax.fori_loop(0, _SOBOL_BITS, scramble, jnp.broadcast_to(shift, table.shape))
    # keep as many bits as ``(cell + 1/2) / 2^bits`` represents exactly strictly inside (0, 1)
    keep = min(int(jnp.finfo(dtype).nmant), _SOBOL_BITS)
    cells = jnp.right_shift(out, jnp.uint32(_SOBOL_BITS - keep)).astype(dtype)
    uniform = (cells + 0.5) / jnp.asarray(2.0**keep, dtype)
    return jax.scipy.special.ndtri(uniform)
