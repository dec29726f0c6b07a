r"""Elementwise activations and their Gaussian expectations: the one activation registry of lazyrich.

An :class:`Activation` is a frozen (hashable) dataclass holding an elementwise function
:math:`\phi` (``act(x)``, used by finite networks) and its infinite-width rule
``act.kernel(var1, var2, cov, identical=None)``, which returns

.. math::
    \bigl(\mathbb{E}[\phi(u)\phi(v)],\ \mathbb{E}[\phi'(u)\phi'(v)]\bigr), \qquad
    (u, v) \sim N\Bigl(0, \begin{pmatrix} \mathrm{var1} & \mathrm{cov} \\ \mathrm{cov} &
    \mathrm{var2} \end{pmatrix}\Bigr),

elementwise with broadcasting. A Dense layer after the activation turns these into the next NNGP
and NTK (Lee et al. 2018; Jacot et al. 2018): :math:`\Sigma' = \sigma_w^2 \mathbb{E}[\phi\phi] +
\sigma_b^2`, :math:`\Theta' = \Sigma' + \sigma_w^2\,\Theta\,\mathbb{E}[\phi'\phi']`.

The names and parameter conventions are neural-tangents' (``stax.Relu``, ``stax.Erf(a, b, c)``,
...), in snake case; :data:`ACTIVATIONS` lists them and :func:`activation` looks them up. Closed forms
(with :math:`\rho = \mathrm{cov}/\sqrt{\mathrm{var1}\,\mathrm{var2}} = \cos\theta`):

* ``ab_relu(a, b)`` :math:`= a\min(x, 0) + b\max(x, 0)`, and its special cases ``relu``,
  ``leaky_relu(alpha)`` (:math:`a = \alpha, b = 1`) and ``abs`` (:math:`a = -1, b = 1`): the
  arc-cosine kernels of degree 1 and 0 (Cho & Saul 2009),
  :math:`\mathbb{E}[\phi'\phi'] = [(a^2 + b^2)(\pi - \theta) + 2ab\theta] / 2\pi`,
  :math:`\mathbb{E}[\phi\phi] = \sqrt{\mathrm{var1}\,\mathrm{var2}}\,[(a - b)^2 \sin\theta / 2\pi +
  \rho\,\mathbb{E}[\phi'\phi']]`.
* ``sign``: :math:`1 - 2\theta/\pi`. Its derivative is a Dirac delta at 0; like neural-tangents
  the almost-everywhere derivative 0 is used, so :math:`\mathbb{E}[\phi'\phi'] = 0`.
* ``erf(a, b, c)`` :math:`= a\,\mathrm{erf}(bx) + c`:
  :math:`a^2 \tfrac{2}{\pi}\arcsin\tfrac{2b^2\mathrm{cov}}{\sqrt{(1 + 2b^2\mathrm{var1})(1 +
  2b^2\mathrm{var2})}} + c^2` and :math:`\tfrac{4a^2b^2}{\pi}[(1 + 2b^2\mathrm{var1})(1 +
  2b^2\mathrm{var2}) - 4b^4\mathrm{cov}^2]^{-1/2}`; ``sigmoid_like`` is
  ``erf(0.5, 1/2.4020563531719796, 0.5)`` (neural-tangents' constant).
* ``gelu`` (exact, :math:`x\Phi(x)`): :math:`x\Phi(x) = \mathbb{E}_z[x 1\{x \ge z\}]` reduces the
  expectation to Gaussian orthant moments; :math:`\mathbb{E}[\phi'\phi']` is its derivative in cov
  (Price's theorem).
* ``sin(a, b, c)`` :math:`= a\sin(bx + c)` and ``cos(a, b, c)`` :math:`= a\cos(bx + c)`, with
  :math:`e_\mp = \exp(-b^2(\mathrm{var1} + \mathrm{var2} \mp 2\mathrm{cov})/2)`:
  :math:`\tfrac{a^2}{2}(e_- \mp \cos(2c)\,e_+)` and :math:`\tfrac{a^2b^2}{2}(e_- \pm
  \cos(2c)\,e_+)` (upper signs for sin).
* ``rbf(gamma)`` :math:`= \sqrt{2}\sin(\sqrt{2\gamma}x + \pi/4)`:
  :math:`\exp(-\gamma(\mathrm{var1} + \mathrm{var2} - 2\mathrm{cov}))` and :math:`2\gamma` times it.
* ``exp(a, b)`` :math:`= a e^{bx}`: :math:`a^2\exp(b^2(\mathrm{var1} + \mathrm{var2} +
  2\mathrm{cov})/2)` and :math:`b^2` times it.
* ``gaussian(a, b)`` :math:`= a e^{bx^2}`: :math:`a^2 D^{-1/2}` and :math:`4a^2b^2\mathrm{cov}\,
  D^{-3/2}` with :math:`D = (1 - 2b\,\mathrm{var1})(1 - 2b\,\mathrm{var2}) - 4b^2\mathrm{cov}^2`
  (finite only for :math:`2b\,\mathrm{var} < 1`).
* ``polynomial(coef)`` :math:`= \sum_i \mathrm{coef}_i x^i`, ``monomial(degree)`` :math:`= x^n` and
  ``hermite(degree)`` :math:`= \mathrm{He}_n(x)/\sqrt{n!}` (probabilists' Hermite, unit norm under
  :math:`N(0, 1)`): with Wick's theorem, for :math:`p = \sum_i c_i P_i` in the basis
  :math:`P_i = x^i` (shift :math:`s = 0`) or :math:`P_i = \mathrm{He}_i` (:math:`s = 1`),
  :math:`\mathbb{E}[p(u)p(v)] = \sum_k k!\,\mathrm{cov}^k A_k(\mathrm{var1}) A_k(\mathrm{var2})`,
  :math:`A_k(q) = \sum_{j} c_{k+2j} \binom{k+2j}{k} (2j-1)!!\,(q - s)^j`; the derivative uses the
  coefficients :math:`(i+1)c_{i+1}`. These are exact at every variance. neural-tangents' Hermite
  rule :math:`\mathrm{cov}^n` assumes unit variances and agrees with this one there only.
* ``rectified_monomial(degree)`` :math:`= 1\{x \ge 0\}x^n`: the arc-cosine kernel of degree n,
  :math:`(\mathrm{var1}\,\mathrm{var2})^{n/2}[P_n(\rho)\sin\theta + Q_n(\rho)(\pi - \theta)]/2\pi`
  with polynomials :math:`P_n, Q_n` generated exactly from :math:`P_0 = 0, Q_0 = 1` by Price's
  theorem (:math:`\partial_\rho K_n = n^2 K_{n-1}`, :math:`K_n(1) = (2n-1)!!/2`), and
  :math:`\mathbb{E}[\phi'\phi'] = n^2 (\mathrm{var1}\,\mathrm{var2})^{(n-1)/2}K_{n-1}`; for
  :math:`n = 0` (a step) the almost-everywhere derivative 0 is used, as in neural-tangents.
* ``identity``: ``(cov, 1)``.

``tanh``, ``softplus`` and any elementwise callable (:func:`from_callable`) are integrated
numerically, :math:`\phi'` by forward-mode autodiff: see :func:`from_callable` for the rules.

Collinear inputs. Angle-based kernels (the ReLU family, sign, rectified monomials) are evaluated
at :math:`\theta = \arccos\rho`, whose derivative is infinite at :math:`\rho = \pm 1`: a rounding
error :math:`\epsilon` in :math:`\rho` becomes :math:`\sqrt{2\epsilon}` in :math:`\theta`, and the
sign kernel amplifies it at every layer. So pairs flagged by ``identical`` get :math:`\rho = 1`
exactly, and a computed :math:`|\rho|` within ``8 * eps(dtype)`` of 1, which is below the rounding
error of the variances and covariance it was computed from, is taken as exactly :math:`\pm 1`.
:func:`identical_pairs` computes the exact-equality mask of two input batches, to be carried
through a network.

References:
  Cho & Saul (2009), Kernel methods for deep learning (arc-cosine kernels).
  Williams (1997), Computing with infinite networks (erf).
  Novak et al. (2020), Neural Tangents, https://arxiv.org/abs/1912.02803 (conventions).
  Han et al. (2022), Fast neural kernel embeddings for general activations,
  https://arxiv.org/abs/2209.04121 (polynomial and Hermite kernels).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from lazyrich._checks import check_choice, check_finite, check_int

__all__ = ["ACTIVATIONS", "Activation", "activation", "from_callable", "identical_pairs"]

Array = jax.Array

#: A computed ``|cos|`` within this many ``eps(dtype)`` of 1 is taken as exactly 1.
COLLINEAR_ULPS = 8
#: Largest degree accepted by the polynomial-type activations (coefficients stay finite in float64).
MAX_POLYNOMIAL_DEGREE = 100
#: Numerical rules of :func:`from_callable` and their default number of nodes per dimension.
QUADRATURE_RULES = ("sinh", "hermite")
DEFAULT_DEGREE = {"sinh": 81, "hermite": 96}
_SINH_ALPHA = 0.5  # z = alpha sinh(t / alpha): node spacing h near 0, growing like |z| / alpha
_SINH_ZMAX = 10.0  # P(|z| > 10) = 1.5e-23
_INNER_VECTOR_LIMIT = 1 << 22  # entries of (nodes, *shape) held at once by the quadrature


# --------------------------------------------------------------------------------------------------
# Shared maths.
# --------------------------------------------------------------------------------------------------


def _broadcast(var1, var2, cov):
    var1, var2, cov = (jnp.asarray(v) for v in (var1, var2, cov))
    dtype = jnp.result_type(var1, var2, cov, float)
    return jnp.broadcast_arrays(var1.astype(dtype), var2.astype(dtype), cov.astype(dtype))


class _Angle(NamedTuple):
    norm: Array  # sqrt(var1 var2)
    cos: Array
    sin: Array
    theta: Array


def _rsqrt0(v):
    """1 / sqrt(v), 0 where v <= 0."""
    positive = v > 0
    return jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, v, 1.0)), 0.0)


def _angle(var1, var2, cov, identical) -> _Angle:
    """The angle between u and v, exact for identical and (anti-)collinear pairs.

    cos = 0 where a variance is 0 (neural-tangents' convention: theta = pi / 2 there).
    """
    eps = jnp.finfo(cov.dtype).eps
    cos = jnp.clip(cov * _rsqrt0(var1) * _rsqrt0(var2), -1.0, 1.0)
    tol = COLLINEAR_ULPS * eps
    cos = jnp.where(cos >= 1 - tol, 1.0, jnp.where(cos <= -1 + tol, -1.0, cos))
    if identical is not None:
        cos = jnp.where(jnp.asarray(identical) & (var1 > 0), 1.0, cos)
    sin = jnp.sqrt(jnp.maximum((1 - cos) * (1 + cos), 0.0))
    theta = jnp.arctan2(sin, cos)
    norm = jnp.sqrt(jnp.maximum(var1, 0.0)) * jnp.sqrt(jnp.maximum(var2, 0.0))
    return _Angle(norm, cos, sin, theta)


def _ab_relu_kernel(neg, pos, var1, var2, cov, identical):
    """phi = neg * min(x, 0) + pos * max(x, 0)."""
    g = _angle(var1, var2, cov, identical)
    dot = ((neg * neg + pos * pos) * (jnp.pi - g.theta) + 2 * neg * pos * g.theta) / (2 * jnp.pi)
    nngp = g.norm * ((neg - pos) ** 2 * g.sin / (2 * jnp.pi) + g.cos * dot)
    return nngp, dot


def _erf_kernel(a, b, c, var1, var2, cov):
    """phi = a erf(b x) + c (E[erf(b u)] = 0, so the shift adds c^2)."""
    b2 = b * b
    prod = (1 + 2 * b2 * var1) * (1 + 2 * b2 * var2)
    arg = jnp.clip(2 * b2 * cov * jax.lax.rsqrt(prod), -1.0, 1.0)
    nngp = a * a * (2 / jnp.pi) * jnp.arcsin(arg) + c * c
    dot = a * a * b2 * (4 / jnp.pi) * jax.lax.rsqrt(prod - 4 * b2 * b2 * cov * cov)
    return nngp, dot


def _gelu_nngp(var1, var2, cov):
    # phi(x) = x Phi(x) = E_z[x 1{x - z >= 0}], z ~ N(0, 1). With w = (u - z1, v - z2) ~ N(0, M),
    # M = [[var1 + 1, cov], [cov, var2 + 1]], regress u = alpha.w + e_u, v = beta.w + e_v (e
    # independent of w): E[phi(u) phi(v)] = alpha^T E[w w^T 1{w >= 0}] beta + Cov(e_u, e_v) P(w >= 0).
    m1, m2 = var1 + 1, var2 + 1
    det = m1 * m2 - cov * cov
    alpha1, alpha2 = (var1 * m2 - cov * cov) / det, cov / det
    beta1, beta2 = cov / det, (var2 * m1 - cov * cov) / det
    cov_e = cov - (var1 * cov + cov * (var2 * m1 - cov * cov)) / det
    s1, s2 = jnp.sqrt(m1), jnp.sqrt(m2)
    rho = jnp.clip(cov / (s1 * s2), -1.0, 1.0)
    sin = jnp.sqrt(1 - rho * rho)
    theta = jnp.arctan2(sin, rho)
    orthant = (jnp.pi - theta) / (2 * jnp.pi)
    e11 = m1 * (jnp.pi - theta + rho * sin) / (2 * jnp.pi)
    e22 = m2 * (jnp.pi - theta + rho * sin) / (2 * jnp.pi)
    e12 = s1 * s2 * (rho * (jnp.pi - theta) + sin) / (2 * jnp.pi)
    quad = alpha1 * beta1 * e11 + (alpha1 * beta2 + alpha2 * beta1) * e12 + alpha2 * beta2 * e22
    return quad + cov_e * orthant


def _sinusoid_kernel(a, b, cos2c, var1, var2, cov):
    """phi = a sin(b x + c) with cos2c = cos(2c) (cos(b x + c) is c -> c + pi/2: cos2c -> -cos2c)."""
    b2 = b * b
    e_minus = jnp.exp(-0.5 * b2 * (var1 + var2 - 2 * cov))
    e_plus = jnp.exp(-0.5 * b2 * (var1 + var2 + 2 * cov)) * cos2c
    half = a * a / 2
    return half * (e_minus - e_plus), half * b2 * (e_minus + e_plus)


# Wick (Isserlis) series for polynomials ----------------------------------------------------------


def _double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2)) if n > 0 else 1


@functools.lru_cache(maxsize=256)
def _wick_constants(m: int) -> tuple[tuple[float, ...], ...]:
    """W[k][j] = C(k + 2j, k) (2j - 1)!! for coefficient vectors of length m."""
    return tuple(
        tuple(
            float(math.comb(k + 2 * j, k) * _double_factorial(2 * j - 1))
            for j in range((m - 1 - k) // 2 + 1)
        )
        for k in range(m)
    )


def _wick_table(coef) -> list[list[Any]]:
    """T[k][j] = coef[k + 2j] * C(k + 2j, k) * (2j - 1)!!, so A_k(q) = sum_j T[k][j] q^j."""
    return [
        [coef[k + 2 * j] * w for j, w in enumerate(row)]
        for k, row in enumerate(_wick_constants(len(coef)))
    ]


def _derivative_coef(coef):
    # d/dx x^i = i x^(i-1) and He_i' = i He_(i-1): the same rule in both bases.
    return tuple(i * coef[i] for i in range(1, len(coef))) or (0.0,)


def _horner(coefs, x):
    out = jnp.zeros_like(x)
    for c in reversed(coefs):
        out = out * x + c
    return out


def _wick_expectation(coef, shift, var1, var2, cov):
    """E[p(u) p(v)] for p = sum_i coef[i] P_i, P_i = x^i (shift 0) or He_i (shift 1)."""
    q1, q2 = var1 - shift, var2 - shift
    out = jnp.zeros_like(cov)
    for k, row in enumerate(_wick_table(coef)):
        if any(isinstance(c, jax.core.Tracer) or c != 0 for c in row):
            out = out + float(math.factorial(k)) * cov**k * _horner(row, q1) * _horner(row, q2)
    return out


def _wick_kernel(coef, shift, var1, var2, cov):
    return (
        _wick_expectation(coef, shift, var1, var2, cov),
        _wick_expectation(_derivative_coef(coef), shift, var1, var2, cov),
    )


# Arc-cosine kernels of any degree ----------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _arccos_polynomials(n: int) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
    """Coefficients (ascending in rho) of P_n, Q_n with K_n = [P_n sin + Q_n (pi - theta)] / 2 pi.

    K_n(rho) = E[u_+^n v_+^n] at unit variances. Price's theorem gives dK_n/drho = n^2 K_(n-1); with
    s = sqrt(1 - rho^2), A = pi - arccos(rho) (A' = 1/s, s' = -rho/s) this is Q_n' = n^2 Q_(n-1) and
    (1 - rho^2) P_n' - rho P_n + Q_n = n^2 (1 - rho^2) P_(n-1); Q_n(1) = (2n - 1)!! fixes the
    constant (K_n(1) = E[u_+^2n]).
    """
    p: list[Fraction] = []
    q = [Fraction(1)]
    for m in range(1, n + 1):
        m2 = m * m
        q = [Fraction(0)] + [m2 * c / (i + 1) for i, c in enumerate(q)]
        q[0] = _double_factorial(2 * m - 1) - sum(q)
        # rhs = m^2 (1 - rho^2) P_(m-1) - Q_m, degree <= m.
        rhs = [Fraction(0)] * (m + 1)
        for i, c in enumerate(p):
            rhs[i] += m2 * c
            rhs[i + 2] -= m2 * c
        for i, c in enumerate(q):
            rhs[i] -= c
        # Coefficient of rho^k on the left: (k + 1) p_(k+1) - k p_(k-1); solve from the top.
        new = [Fraction(0)] * (m + 2)
        for k in range(m, 0, -1):
            new[k - 1] = ((k + 1) * new[k + 1] - rhs[k]) / k
        assert new[1] == rhs[0], "arc-cosine recursion is inconsistent"
        p = new[:m]
    return tuple(p), tuple(q)


def _arccos_kernel_unit(n, angle: _Angle):
    p, q = _arccos_polynomials(n)
    cos = angle.cos
    return (
        _horner([float(c) for c in p], cos) * angle.sin
        + _horner([float(c) for c in q], cos) * (jnp.pi - angle.theta)
    ) / (2 * jnp.pi)


# --------------------------------------------------------------------------------------------------
# Numerical integration.
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _rule(kind: str, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w (summing to 1) with sum_i w_i f(z_i) ~ E[f(z)], z ~ N(0, 1)."""
    if kind == "hermite":
        # scipy's roots_hermite: Golub-Welsch below 150 nodes, an asymptotic expansion above
        # (Townsend, Trogdon & Olver 2016); accurate at any degree.
        x, w = scipy.special.roots_hermite(degree)
        z = np.sqrt(2.0) * x
    else:
        top = _SINH_ALPHA * np.arcsinh(_SINH_ZMAX / _SINH_ALPHA)
        t = np.linspace(-top, top, degree)
        z = _SINH_ALPHA * np.sinh(t / _SINH_ALPHA)
        w = np.cosh(t / _SINH_ALPHA) * np.exp(-0.5 * z * z)
    return z, w / np.sum(w)


def _quadrature_kernel(phi, kind, degree, var1, var2, cov, identical):
    """E[phi(u) phi(v)], E[phi'(u) phi'(v)] by a tensor rule in Cholesky coordinates.

    u = sqrt(var1) z_i, v = (cov / sqrt(var1)) z_i + sqrt(var2 - cov^2 / var1) z_j.
    """
    var1, var2, cov = _broadcast(var1, var2, cov)
    dtype, shape = cov.dtype, cov.shape
    nodes, weights = _rule(kind, degree)
    z, w = jnp.asarray(nodes, dtype), jnp.asarray(weights, dtype)
    root1 = jnp.sqrt(jnp.maximum(var1, 0.0))
    slope = cov * _rsqrt0(var1)
    resid = jnp.sqrt(jnp.maximum(var2 - slope * slope, 0.0))
    if identical is not None:
        same = jnp.asarray(identical) & (var1 > 0)
        slope, resid = jnp.where(same, root1, slope), jnp.where(same, 0.0, resid)

    def both(x):
        return jax.jvp(phi, (x,), (jnp.ones_like(x),))

    # The inner sum runs over blocks of `chunk` nodes at once, (chunk, *shape) values in memory.
    chunk = max(1, min(degree, _INNER_VECTOR_LIMIT // max(math.prod(shape), 1)))
    blocks = -(-degree // chunk)
    pad = blocks * chunk - degree  # padded nodes carry weight 0
    z_blocks = jnp.pad(z, (0, pad)).reshape((blocks, chunk) + (1,) * len(shape))
    w_blocks = jnp.pad(w, (0, pad)).reshape((blocks, chunk) + (1,) * len(shape))

    def inner(mean):
        def step(acc, block):
            z_j, w_j = block
            f, d = both(mean + resid * z_j)
            return (acc[0] + jnp.sum(w_j * f, axis=0), acc[1] + jnp.sum(w_j * d, axis=0)), None

        zeros = jnp.zeros(shape, dtype)
        return jax.lax.scan(step, (zeros, zeros), (z_blocks, w_blocks))[0]

    def outer(acc, node):
        z_i, w_i = node
        f_u, d_u = both(root1 * z_i)
        f_v, d_v = inner(slope * z_i)
        return (acc[0] + w_i * f_u * f_v, acc[1] + w_i * d_u * d_v), None

    zeros = jnp.zeros(shape, dtype)
    (nngp, dot), _ = jax.lax.scan(outer, (zeros, zeros), (z, w))
    return nngp, dot


# --------------------------------------------------------------------------------------------------
# Validation.
# --------------------------------------------------------------------------------------------------


def _real(act: str, name: str, value: Any) -> Any:
    """A finite real scalar (a Python float when concrete; tracers pass through)."""
    if isinstance(value, jax.core.Tracer):
        return value
    if isinstance(value, bool) or not (
        isinstance(value, int | float | np.number)
        or (hasattr(value, "shape") and value.shape == ())
    ):
        raise TypeError(
            f"`{name}` of activation {act!r} must be a real scalar, got {value!r} of type "
            f"{type(value).__name__}."
        )
    try:
        check_finite(f"{name}` of activation `{act}", value)
    except ValueError:
        raise ValueError(f"`{name}` of activation {act!r} must be finite, got {value!r}.") from None
    return float(value)


def _degree(act: str, value: Any, *, maximum: int = MAX_POLYNOMIAL_DEGREE) -> int:
    try:
        check_int("degree", value, minimum=0, maximum=maximum)
    except (TypeError, ValueError) as err:
        raise type(err)(f"activation {act!r}: {err}") from None
    return int(value)


def _set(obj, **values):
    for name, value in values.items():
        object.__setattr__(obj, name, value)


# --------------------------------------------------------------------------------------------------
# The activations.
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Activation:
    """An elementwise activation and its infinite-width rule (see the module docstring).

    ``act(x)`` applies :math:`\\phi` elementwise; ``act.kernel(var1, var2, cov, identical=None)``
    returns ``(E[phi(u) phi(v)], E[phi'(u) phi'(v)])`` for :math:`(u, v)` centred Gaussian with
    variances ``var1``, ``var2`` and covariance ``cov`` (arrays broadcast together; the results
    have the broadcast shape and the floating dtype of the inputs). ``identical`` is an optional
    boolean mask, broadcastable to that shape, of pairs known to be the same variable (there
    ``var1 == var2 == cov`` and the angle is taken as exactly 0). Instances are hashable (their
    parameters are dataclass fields), so they can be static arguments of ``jax.jit``.
    """

    name: ClassVar[str] = ""

    def __call__(self, x: Array) -> Array:
        raise NotImplementedError

    def kernel(self, var1, var2, cov, identical=None) -> tuple[Array, Array]:
        """``(E[phi(u) phi(v)], E[phi'(u) phi'(v)])``, compiled once per activation and shapes."""
        fields = [getattr(self, f.name) for f in dataclasses.fields(self)]
        if any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(fields)):
            return self._kernel(var1, var2, cov, identical)  # traced parameters: not hashable
        return _compiled_kernel(self, var1, var2, cov, identical)

    def _kernel(self, var1, var2, cov, identical):
        raise NotImplementedError


@functools.partial(jax.jit, static_argnums=0)
def _compiled_kernel(act, var1, var2, cov, identical):
    return act._kernel(var1, var2, cov, identical)


@dataclasses.dataclass(frozen=True)
class Identity(Activation):
    """phi(x) = x."""

    name: ClassVar[str] = "identity"

    def __call__(self, x):
        return x

    def _kernel(self, var1, var2, cov, identical):
        del identical
        var1, var2, cov = _broadcast(var1, var2, cov)
        return cov, jnp.ones_like(cov)


@dataclasses.dataclass(frozen=True)
class ABRelu(Activation):
    """phi(x) = a min(x, 0) + b max(x, 0) (neural-tangents' ``ABRelu(a, b)``)."""

    a: float
    b: float
    name: ClassVar[str] = "ab_relu"

    def __post_init__(self):
        _set(self, a=_real(self.name, "a", self.a), b=_real(self.name, "b", self.b))

    def __call__(self, x):
        return self.a * jnp.minimum(x, 0) + self.b * jnp.maximum(x, 0)

    def _kernel(self, var1, var2, cov, identical):
        return _ab_relu_kernel(self.a, self.b, *_broadcast(var1, var2, cov), identical)


@dataclasses.dataclass(frozen=True)
class Relu(Activation):
    """phi(x) = max(x, 0)."""

    name: ClassVar[str] = "relu"

    def __call__(self, x):
        return jnp.maximum(x, 0)

    def _kernel(self, var1, var2, cov, identical):
        return _ab_relu_kernel(0.0, 1.0, *_broadcast(var1, var2, cov), identical)


@dataclasses.dataclass(frozen=True)
class LeakyRelu(Activation):
    """phi(x) = alpha min(x, 0) + max(x, 0) (neural-tangents' ``LeakyRelu(alpha)``)."""

    alpha: float = 0.01
    name: ClassVar[str] = "leaky_relu"

    def __post_init__(self):
        _set(self, alpha=_real(self.name, "alpha", self.alpha))

    def __call__(self, x):
        return self.alpha * jnp.minimum(x, 0) + jnp.maximum(x, 0)

    def _kernel(self, var1, var2, cov, identical):
        return _ab_relu_kernel(self.alpha, 1.0, *_broadcast(var1, var2, cov), identical)


@dataclasses.dataclass(frozen=True)
class Abs(Activation):
    """phi(x) = |x|."""

    name: ClassVar[str] = "abs"

    def __call__(self, x):
        return jnp.abs(x)

    def _kernel(self, var1, var2, cov, identical):
        return _ab_relu_kernel(-1.0, 1.0, *_broadcast(var1, var2, cov), identical)


@dataclasses.dataclass(frozen=True)
class Sign(Activation):
    """phi(x) = sign(x); E[phi' phi'] = 0 (the almost-everywhere derivative, as neural-tangents)."""

    name: ClassVar[str] = "sign"

    def __call__(self, x):
        return jnp.sign(x)

    def _kernel(self, var1, var2, cov, identical):
        g = _angle(*_broadcast(var1, var2, cov), identical)
        # A zero variance gives cos = 0, theta = pi / 2, hence 0 (sign(0) = 0).
        return 1 - 2 * g.theta / jnp.pi, jnp.zeros_like(g.theta)


@dataclasses.dataclass(frozen=True)
class Erf(Activation):
    """phi(x) = a erf(b x) + c (neural-tangents' ``Erf(a, b, c)``)."""

    a: float = 1.0
    b: float = 1.0
    c: float = 0.0
    name: ClassVar[str] = "erf"

    def __post_init__(self):
        _set(self, **{k: _real(self.name, k, getattr(self, k)) for k in ("a", "b", "c")})

    def __call__(self, x):
        return self.a * jax.scipy.special.erf(self.b * x) + self.c

    def _kernel(self, var1, var2, cov, identical):
        del identical
        return _erf_kernel(self.a, self.b, self.c, *_broadcast(var1, var2, cov))


_SIGMOID_LIKE_SCALE = 2.4020563531719796  # neural-tangents' Sigmoid_like constant


@dataclasses.dataclass(frozen=True)
class SigmoidLike(Activation):
    """phi(x) = erf(x / 2.4020563531719796) / 2 + 1/2 (neural-tangents' ``Sigmoid_like``)."""

    name: ClassVar[str] = "sigmoid_like"

    def __call__(self, x):
        return 0.5 * jax.scipy.special.erf(x / _SIGMOID_LIKE_SCALE) + 0.5

    def _kernel(self, var1, var2, cov, identical):
        del identical
        return _erf_kernel(0.5, 1 / _SIGMOID_LIKE_SCALE, 0.5, *_broadcast(var1, var2, cov))


@dataclasses.dataclass(frozen=True)
class Gelu(Activation):
    """phi(x) = x Phi(x) (exact GELU; neural-tangents' ``Gelu(approximate=False)``)."""

    name: ClassVar[str] = "gelu"

    def __call__(self, x):
        return jax.nn.gelu(x, approximate=False)

    def _kernel(self, var1, var2, cov, identical):
        del identical
        var1, var2, cov = _broadcast(var1, var2, cov)
        return jax.jvp(lambda c: _gelu_nngp(var1, var2, c), (cov,), (jnp.ones_like(cov),))


@dataclasses.dataclass(frozen=True)
class Sin(Activation):
    """phi(x) = a sin(b x + c) (neural-tangents' ``Sin(a, b, c)``)."""

    a: float = 1.0
    b: float = 1.0
    c: float = 0.0
    name: ClassVar[str] = "sin"

    def __post_init__(self):
        _set(self, **{k: _real(self.name, k, getattr(self, k)) for k in ("a", "b", "c")})

    def __call__(self, x):
        return self.a * jnp.sin(self.b * x + self.c)

    def _kernel(self, var1, var2, cov, identical):
        del identical
        cos2c = jnp.cos(2 * jnp.asarray(self.c, jnp.result_type(cov, float)))
        return _sinusoid_kernel(self.a, self.b, cos2c, *_broadcast(var1, var2, cov))


@dataclasses.dataclass(frozen=True)
class Cos(Activation):
    """phi(x) = a cos(b x + c) (neural-tangents' ``Cos(a, b, c)``)."""

    a: float = 1.0
    b: float = 1.0
    c: float = 0.0
    name: ClassVar[str] = "cos"

    def __post_init__(self):
        _set(self, **{k: _real(self.name, k, getattr(self, k)) for k in ("a", "b", "c")})

    def __call__(self, x):
        return self.a * jnp.cos(self.b * x + self.c)

    def _kernel(self, var1, var2, cov, identical):
        del identical
        cos2c = -jnp.cos(2 * jnp.asarray(self.c, jnp.result_type(cov, float)))
        return _sinusoid_kernel(self.a, self.b, cos2c, *_broadcast(var1, var2, cov))


@dataclasses.dataclass(frozen=True)
class Rbf(Activation):
    """phi(x) = sqrt(2) sin(sqrt(2 gamma) x + pi/4) (neural-tangents' ``Rbf(gamma)``).

    Its NNGP after a Dense layer on unit-normalized inputs is the RBF kernel
    :math:`\\exp(-\\gamma \\|x - x'\\|^2 / d)`.
    """

    gamma: float = 1.0
    name: ClassVar[str] = "rbf"

    def __post_init__(self):
        gamma = _real(self.name, "gamma", self.gamma)
        if not isinstance(gamma, jax.core.Tracer) and gamma < 0:
            raise ValueError(f"`gamma` of activation 'rbf' must be >= 0, got {gamma!r}.")
        _set(self, gamma=gamma)

    def __call__(self, x):
        return jnp.sqrt(2.0) * jnp.sin(jnp.sqrt(2 * self.gamma) * x + jnp.pi / 4)

    def _kernel(self, var1, var2, cov, identical):
        del identical
        var1, var2, cov = _broadcast(var1, var2, cov)
        nngp = jnp.exp(-self.gamma * (var1 + var2 - 2 * cov))
        return nngp, 2 * self.gamma * nngp


@dataclasses.dataclass(frozen=True)
class Exp(Activation):
    """phi(x) = a exp(b x) (neural-tangents' ``Exp(a, b)``)."""

    a: float = 1.0
    b: float = 1.0
    name: ClassVar[str] = "exp"

    def __post_init__(self):
        _set(self, **{k: _real(self.name, k, getattr(self, k)) for k in ("a", "b")})

    def __call__(self, x):
        return self.a * jnp.exp(self.b * x)

    def _kernel(self, var1, var2, cov, identical):
        del identical
        var1, var2, cov = _broadcast(var1, var2, cov)
        b2 = self.b * self.b
        nngp = self.a * self.a * jnp.exp(0.5 * b2 * (var1 + var2 + 2 * cov))
        return nngp, b2 * nngp


@dataclasses.dataclass(frozen=True)
class Gaussian(Activation):
    """phi(x) = a exp(b x^2) (neural-tangents' ``Gaussian(a, b)``); finite for 2 b var < 1."""

    a: float = 1.0
    b: float = -1.0
    name: ClassVar[str] = "gaussian"

    def __post_init__(self):
        _set(self, **{k: _real(self.name, k, getattr(self, k)) for k in ("a", "b")})

    def __call__(self, x):
        return self.a * jnp.exp(self.b * x * x)

    def _kernel(self, var1, var2, cov, identical):
        del identical
        var1, var2, cov = _broadcast(var1, var2, cov)
        b = self.b
        det = (1 - 2 * b * var1) * (1 - 2 * b * var2) - 4 * b * b * cov * cov
        inv = jax.lax.rsqrt(det)
        a2 = self.a * self.a
        return a2 * inv, a2 * 4 * b * b * cov * inv**3


@dataclasses.dataclass(frozen=True)
class Polynomial(Activation):
    """phi(x) = sum_i coef[i] x^i (neural-tangents' ``Polynomial(coef)``, numpy's order)."""

    coef: tuple[float, ...]
    name: ClassVar[str] = "polynomial"

    def __post_init__(self):
        coef = self.coef
        if isinstance(coef, np.ndarray | jax.Array) and coef.ndim == 1:
            coef = list(coef)
        if not isinstance(coef, list | tuple):
            raise TypeError(
                f"`coef` of activation 'polynomial' must be a sequence of real numbers, got "
                f"{coef!r}."
            )
        if not 1 <= len(coef) <= MAX_POLYNOMIAL_DEGREE + 1:
            raise ValueError(
                f"`coef` of activation 'polynomial' must have 1 to {MAX_POLYNOMIAL_DEGREE + 1} "
                f"entries, got {len(coef)}."
            )
        _set(self, coef=tuple(_real(self.name, f"coef[{i}]", c) for i, c in enumerate(coef)))

    def __call__(self, x):
        return _horner(self.coef, x)

    def _kernel(self, var1, var2, cov, identical):
        del identical
        return _wick_kernel(self.coef, 0.0, *_broadcast(var1, var2, cov))


@dataclasses.dataclass(frozen=True)
class Monomial(Activation):
    """phi(x) = x^degree (neural-tangents' ``Monomial(degree)``; here any degree up to 100)."""

    degree: int
    name: ClassVar[str] = "monomial"

    def __post_init__(self):
        _set(self, degree=_degree(self.name, self.degree))

    def __call__(self, x):
        return x**self.degree

    def _kernel(self, var1, var2, cov, identical):
        del identical
        coef = (0.0,) * self.degree + (1.0,)
        return _wick_kernel(coef, 0.0, *_broadcast(var1, var2, cov))


@dataclasses.dataclass(frozen=True)
class Hermite(Activation):
    """phi(x) = He_degree(x) / sqrt(degree!) (neural-tangents' ``Hermite(degree)``).

    The kernel is exact at every variance; neural-tangents' rule ``cov ** degree`` assumes unit
    variances (inputs normalized across features) and agrees with this one only there.
    """

    degree: int
    name: ClassVar[str] = "hermite"

    def __post_init__(self):
        _set(self, degree=_degree(self.name, self.degree))

    def __call__(self, x):
        # He_(k+1) = x He_k - k He_(k-1), normalized along the way: h_(k+1) = (x h_k - sqrt(k)
        # h_(k-1)) / sqrt(k + 1).
        prev, cur = jnp.zeros_like(x), jnp.ones_like(x)
        for k in range(self.degree):
            prev, cur = cur, (x * cur - math.sqrt(k) * prev) / math.sqrt(k + 1)
        return cur

    def _kernel(self, var1, var2, cov, identical):
        del identical
        n = self.degree
        coef = (0.0,) * n + (1.0 / math.sqrt(math.factorial(n)),)
        return _wick_kernel(coef, 1.0, *_broadcast(var1, var2, cov))


@dataclasses.dataclass(frozen=True)
class RectifiedMonomial(Activation):
    """phi(x) = 1{x >= 0} x^degree (neural-tangents' ``RectifiedMonomial(degree)``).

    For degree 0 (a step) E[phi' phi'] = 0, the almost-everywhere derivative, as neural-tangents.
    """

    degree: int
    name: ClassVar[str] = "rectified_monomial"

    def __post_init__(self):
        _set(self, degree=_degree(self.name, self.degree))

    def __call__(self, x):
        return jnp.where(x >= 0, x**self.degree, 0)

    def _kernel(self, var1, var2, cov, identical):
        n = self.degree
        g = _angle(*_broadcast(var1, var2, cov), identical)
        nngp = g.norm**n * _arccos_kernel_unit(n, g)
        if n == 0:
            return nngp, jnp.zeros_like(nngp)
        return nngp, n * n * g.norm ** (n - 1) * _arccos_kernel_unit(n - 1, g)


# Numerical activations ---------------------------------------------------------------------------


def _check_rule(rule: Any, degree: Any) -> tuple[str, int]:
    check_choice("rule", rule, QUADRATURE_RULES)
    if degree is None:
        return rule, DEFAULT_DEGREE[rule]
    check_int("degree", degree, minimum=1 if rule == "hermite" else 3)
    return rule, int(degree)


@dataclasses.dataclass(frozen=True)
class _Numerical(Activation):
    """Shared numerical rule; subclasses define ``__call__``."""

    degree: int | None = None
    rule: str = "sinh"

    def __post_init__(self):
        rule, degree = _check_rule(self.rule, self.degree)
        _set(self, rule=rule, degree=degree)

    def _kernel(self, var1, var2, cov, identical):
        return _quadrature_kernel(self, self.rule, self.degree, var1, var2, cov, identical)


@dataclasses.dataclass(frozen=True)
class Tanh(_Numerical):
    """phi(x) = tanh(x), by numerical integration (see :func:`from_callable`)."""

    name: ClassVar[str] = "tanh"

    def __call__(self, x):
        return jnp.tanh(x)


@dataclasses.dataclass(frozen=True)
class Softplus(_Numerical):
    """phi(x) = log(1 + exp(x)), by numerical integration (see :func:`from_callable`)."""

    name: ClassVar[str] = "softplus"

    def __call__(self, x):
        return jax.nn.softplus(x)


@dataclasses.dataclass(frozen=True)
class FromCallable(_Numerical):
    """A user's elementwise function, by numerical integration (see :func:`from_callable`)."""

    fn: Callable[[Array], Array] | None = None
    name: ClassVar[str] = "callable"

    def __call__(self, x):
        return self.fn(x)


def _check_elementwise(fn: Callable) -> None:
    """Raise unless fn maps arrays to arrays of the same shape, entry by entry."""
    with jax.ensure_compile_time_eval():  # concrete even when called under a trace
        _check_elementwise_concrete(fn)


def _check_elementwise_concrete(fn: Callable) -> None:
    x = jnp.linspace(-2.5, 2.5, 6, dtype=jnp.float32).reshape(2, 3)
    try:
        y = jnp.asarray(fn(x))
    except Exception as err:  # noqa: BLE001 - re-raised with context
        raise TypeError(
            f"`fn` must be a JAX-traceable elementwise function of an array, but calling it on a "
            f"(2, 3) float32 array failed: {type(err).__name__}: {err}"
        ) from err
    if y.shape != x.shape:
        raise ValueError(
            f"`fn` must act elementwise: on an input of shape {x.shape} it returned shape "
            f"{y.shape}."
        )
    if not jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError(f"`fn` must return floating values, got dtype {y.dtype}.")
    try:
        each = jax.vmap(jax.vmap(fn))(x)
    except Exception as err:  # noqa: BLE001 - re-raised with context
        raise ValueError(
            "`fn` must act elementwise, but it fails on scalars (each entry separately): "
            f"{type(err).__name__}: {err}"
        ) from err
    gap = float(jnp.max(jnp.abs(y - each)))
    if not gap <= 1e-5 * (1 + float(jnp.max(jnp.abs(y)))):
        raise ValueError(
            "`fn` must act elementwise: fn(x) differs from fn applied to each entry of x "
            f"separately by up to {gap:.3g} (a function mixing entries, e.g. a softmax or a "
            "normalization, has no elementwise kernel)."
        )


def from_callable(
    fn: Callable[[Array], Array], *, degree: int | None = None, rule: str = "sinh"
) -> Activation:
    r"""An activation for any elementwise function, with its kernel by numerical integration.

    :math:`\mathbb{E}[\phi(u)\phi(v)]` and :math:`\mathbb{E}[\phi'(u)\phi'(v)]` are computed with
    :math:`u = \sqrt{\mathrm{var1}}\,z_1`, :math:`v = (\mathrm{cov}/\sqrt{\mathrm{var1}})\,z_1 +
    \sqrt{\mathrm{var2} - \mathrm{cov}^2/\mathrm{var1}}\,z_2` (:math:`z_1, z_2` independent standard
    normals) by a ``degree`` x ``degree`` tensor rule; :math:`\phi'` by forward-mode autodiff.

    Rules for :math:`\mathbb{E}_{z \sim N(0,1)}[f(z)] \approx \sum_i w_i f(z_i)`:

    * ``"sinh"`` (default, 81 nodes): the trapezoidal rule in :math:`t` for
      :math:`z = \tfrac12\sinh(2t)` on :math:`|z| \le 10`, weights :math:`\propto \cosh(2t)
      e^{-z^2/2}`. Nodes are dense near :math:`z = 0` (spacing 0.046) and sparse in the tails,
      which suits activations that are sharp near 0 at large pre-activation variance
      :math:`\sigma^2`: the error of Gauss-Hermite quadrature for tanh decays only like
      :math:`\exp(-c\sqrt{\mathrm{degree}}/\sigma)` (poles at :math:`\pm i\pi/2`), while this
      rule resolves the width-:math:`1/\sigma` region around 0 at a fixed cost. Accuracy: below
      1e-6 relative for tanh and softplus at variances up to 25, both expectations
      (tests/nn/test_activations.py checks it against an independent integration); for larger
      variances raise ``degree`` in proportion to the standard deviation (about ``16 * sigma``
      nodes keep 1e-6 for a function as sharp as :math:`\mathrm{erf}(x)`). Functions growing faster than a polynomial (e.g.
      :math:`e^{bx}` at large :math:`b\sigma`) are cut off at :math:`|z| = 10`: use the closed
      forms or ``"hermite"``.
    * ``"hermite"`` (96 nodes by default): Gauss-Hermite quadrature, exact for polynomials of
      degree below ``2 * degree``; nodes from :func:`scipy.special.roots_hermite`, accurate at any
      degree. This is neural-tangents' ``ElementwiseNumerical(fn, deg)``.

    Kinks (relu-like functions) converge only algebraically under either rule (about 1e-5 to 1e-2
    relative at 81 nodes): use the closed forms for them.

    Args:
      fn: an elementwise, JAX-traceable function of an array (checked on a small array).
      degree: nodes per dimension (>= 3 for ``"sinh"``, >= 1 for ``"hermite"``); cost and memory
        grow like ``degree**2`` per pair.
      rule: ``"sinh"`` or ``"hermite"``.

    Returns:
      An :class:`Activation` named ``"callable"`` holding ``fn``.

    Raises:
      TypeError: ``fn`` not callable or not traceable, or a non-integer ``degree``.
      ValueError: ``fn`` not elementwise (output shape differs from its input's, or entries mix),
        an unknown ``rule`` or a ``degree`` below the minimum.

    Example:
      >>> import jax.numpy as jnp
      >>> act = from_callable(jnp.tanh)
      >>> nngp, dot = act.kernel(1.0, 1.0, 0.5)
      >>> print(f"{float(nngp):.6f} {float(dot):.6f}")
      0.186324 0.384747
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable, got {fn!r} of type {type(fn).__name__}.")
    rule, degree = _check_rule(rule, degree)
    _check_elementwise(fn)
    return FromCallable(fn=fn, degree=degree, rule=rule)


# --------------------------------------------------------------------------------------------------
# The registry.
# --------------------------------------------------------------------------------------------------

_REGISTRY: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (
        Relu,
        LeakyRelu,
        ABRelu,
        Abs,
        Erf,
        Gelu,
        Sign,
        Sin,
        Cos,
        Rbf,
        Exp,
        Gaussian,
        Monomial,
        RectifiedMonomial,
        Polynomial,
        Hermite,
        SigmoidLike,
        Identity,
        Tanh,
        Softplus,
    )
}
#: All registry names (neural-tangents' elementwise set in snake case, plus tanh and softplus).
ACTIVATIONS: tuple[str, ...] = tuple(_REGISTRY)


def _params(cls: type[Activation]) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != "fn"}


def activation(name: str, **params: Any) -> Activation:
    """The registry activation ``name`` with its parameters, validated.

    Args:
      name: one of :data:`ACTIVATIONS`.
      **params: the activation's parameters, by neural-tangents' names: ``leaky_relu(alpha=0.01)``,
        ``ab_relu(a, b)``, ``erf / sin / cos(a=1, b=1, c=0)``, ``rbf(gamma=1)``, ``exp(a=1, b=1)``,
        ``gaussian(a=1, b=-1)``, ``monomial / rectified_monomial / hermite(degree)``,
        ``polynomial(coef)``, ``tanh / softplus(degree=None, rule="sinh")``; none for the others.

    Returns:
      A hashable :class:`Activation`.

    Raises:
      ValueError: an unknown name (the message lists the names), an unknown or missing parameter
        (the message lists the activation's parameters) or a bad parameter value.
      TypeError: a parameter of the wrong type.

    Example:
      >>> act = activation("erf", b=2.0)
      >>> nngp, dot = act.kernel(1.0, 1.0, 1.0)
      >>> print(f"{float(nngp):.6f}")
      0.697044
    """
    if not isinstance(name, str):
        raise TypeError(
            f"`name` must be an activation name (one of {ACTIVATIONS}), got {name!r} of type "
            f"{type(name).__name__}."
        )
    check_choice("name", name, ACTIVATIONS)
    cls = _REGISTRY[name]
    fields = _params(cls)
    unknown = sorted(set(params) - set(fields))
    missing = sorted(
        k
        for k, f in fields.items()
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and k not in params
    )
    if unknown or missing:
        problem = (
            f"unknown parameter(s) {unknown}" if unknown else f"missing parameter(s) {missing}"
        )
        raise ValueError(
            f"activation {name!r}: {problem}; its parameters are {tuple(fields) or '(none)'}."
        )
    return cls(**params)


# --------------------------------------------------------------------------------------------------
# Identical inputs.
# --------------------------------------------------------------------------------------------------


def _mix32(h):
    """MurmurHash3's 32-bit finalizer (a bijection of uint32 with good avalanche)."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def _fingerprints(rows):
    """Two 32-bit hashes of each row's bit pattern, shape (n, 2); equal rows hash equally."""
    rows = jnp.where(rows == 0, jnp.zeros_like(rows), rows)  # -0.0 == 0.0
    if rows.dtype.itemsize == 8:
        bits = jax.lax.bitcast_convert_type(rows, jnp.uint32).reshape(rows.shape[0], -1)
    elif rows.dtype.itemsize == 4:
        bits = jax.lax.bitcast_convert_type(rows, jnp.uint32)
    else:
        bits = jax.lax.bitcast_convert_type(rows, jnp.uint16).astype(jnp.uint32)
    position = jnp.arange(bits.shape[1], dtype=jnp.uint32)
    out = []
    for seed in (0x9E3779B9, 0x7F4A7C15):
        salt = _mix32(position * jnp.uint32(0x01000193) + jnp.uint32(seed))
        out.append(jnp.sum(_mix32(bits ^ salt), axis=1, dtype=jnp.uint32))
    return jnp.stack(out, axis=1)


def identical_pairs(x1: Array, x2: Array | None = None) -> Array:
    """Boolean mask ``(n1, n2)`` of the pairs with ``x1[i] == x2[j]`` in every entry.

    Identical inputs stay identical through a network, so their kernel entries are those of one
    variable with itself (angle exactly 0); pass this mask as ``identical`` (via the kernel state)
    wherever ``x2`` is given explicitly, as the diagonal of ``x2=None`` only covers ``i == j``.
    ``x2=None`` means ``x1`` (repeated rows of ``x1`` are found too).

    Exact: rows are grouped by two 32-bit hashes of their bit patterns and each group is checked
    entry by entry against its first member, so a pair is flagged only if the rows are equal; a
    hash collision between different rows (probability about 2**-64 per pair) can only unflag
    the rows involved. Cost O((n1 + n2) d + n1 n2 + n2^2) for ``d`` entries per row; works under
    ``jax.jit``.

    Args:
      x1: inputs, shape ``(n1, ...)``, floating, finite.
      x2: inputs, shape ``(n2, ...)`` with the same trailing shape, or ``None``.

    Returns:
      A boolean array of shape ``(n1, n2)``.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> identical_pairs(x, jnp.array([[3.0, 4.0], [1.0, 2.0], [1.0, 2.5]])).astype(int).tolist()
      [[0, 1, 0], [1, 0, 0]]
    """
    x2 = x1 if x2 is None else x2
    if np.shape(x1)[1:] != np.shape(x2)[1:] or np.ndim(x1) < 1:
        raise ValueError(
            f"`x1` and `x2` must be batches with the same trailing shape, got shapes "
            f"{np.shape(x1)} and {np.shape(x2)}."
        )
    r1 = jnp.asarray(x1).reshape(np.shape(x1)[0], -1)
    r2 = jnp.asarray(x2).reshape(np.shape(x2)[0], -1).astype(r1.dtype)
    if not jnp.issubdtype(r1.dtype, jnp.floating):
        r1, r2 = r1.astype(jnp.float32), r2.astype(jnp.float32)
    return _identical_rows(r1, r2)


@jax.jit
def _identical_rows(r1, r2):
    h1, h2 = _fingerprints(r1), _fingerprints(r2)
    match = jnp.all(h1[:, None, :] == h2[None, :, :], axis=-1)  # (n1, n2)
    group = jnp.all(h2[:, None, :] == h2[None, :, :], axis=-1)  # (n2, n2)
    first = jnp.argmax(match, axis=1)  # first x2 row in x1[i]'s hash group
    rep = jnp.argmax(group, axis=1)  # first x2 row in x2[j]'s hash group
    ok1 = jnp.all(r1 == r2[first], axis=1)
    ok2 = jnp.all(r2 == r2[rep], axis=1)
    return match & ok1[:, None] & ok2[None, :]
