r"""Infinite-width NNGP and NTK of fully connected networks (Jacot et al. 2018).

The network is ``depth`` times (Dense, activation) followed by a Dense readout, the convention of
neural-tangents' ``stax.serial(*[Dense(n, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))``.
With the NTK parameterization each Dense layer computes
:math:`z^{\ell+1} = \sigma_w W^{\ell} x^{\ell} / \sqrt{n_\ell} + \sigma_b b^{\ell}`, with
:math:`W, b` i.i.d. standard normal, and in the limit of infinite hidden widths (Jacot et al. 2018, Prop. 1 and Thm. 1):

.. math::
    \Sigma^{1}(x, x') = \sigma_w^2\, x^\top x' / n_0 + \sigma_b^2, \qquad \Theta^{1} = \Sigma^{1},

    \Sigma^{\ell+1} = \sigma_w^2\, \mathbb{E}_{(u,v)\sim N(0, \Sigma^{\ell})}[\phi(u)\phi(v)] +
    \sigma_b^2, \qquad
    \Theta^{\ell+1} = \Sigma^{\ell+1} + \sigma_w^2\, \Theta^{\ell}\,
    \mathbb{E}_{(u,v)\sim N(0, \Sigma^{\ell})}[\phi'(u)\phi'(v)].

The returned kernels are those of the readout, :math:`\ell = \mathrm{depth} + 1`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import check_choice, check_finite, check_int, check_ndim, check_same_features

CLOSED_FORM_ACTIVATIONS = ("relu", "erf", "abs", "gelu", "identity", "leaky_relu", "sign")
PARAMETERIZATIONS = ("ntk", "standard")
DEFAULT_QUADRATURE_DEGREE = 96


class Kernels(NamedTuple):
    """Infinite-width kernels of a network's readout.

    Attributes:
      nngp: the NNGP kernel :math:`\\Sigma(x, x')` (covariance of the outputs at initialization),
        shape ``(n1, n2)``, or ``(n,)`` in diagonal mode.
      ntk: the neural tangent kernel :math:`\\Theta(x, x')`, same shape.
    """

    nngp: jax.Array
    ntk: jax.Array


# --------------------------------------------------------------------------------------------------
# Gaussian expectations: each maps variances (a, b) and covariance c of
# (u, v) ~ N(0, [[a, c], [c, b]]) to (E[phi(u) phi(v)], E[phi'(u) phi'(v)]), elementwise with
# broadcasting. `ra`, `rb` are 1/sqrt(a), 1/sqrt(b) (zero where the variance is zero), precomputed
# once per layer on the vectors, never on the (n1, n2) grid.
# --------------------------------------------------------------------------------------------------


class _Roots(NamedTuple):
    inv: jax.Array  # 1 / sqrt(v), 0 where v = 0
    root: jax.Array  # sqrt(v)


def _roots(v) -> _Roots:
    positive = v > 0
    inv = jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, v, 1.0)), 0.0)
    return _Roots(inv, jnp.sqrt(jnp.maximum(v, 0.0)))


def _expand(r: _Roots, axis: int) -> _Roots:
    return _Roots(jnp.expand_dims(r.inv, axis), jnp.expand_dims(r.root, axis))


def _cosine(a, b, c, ra, rb, on_diag):
    del a, b
    cos = jnp.clip(c * ra.inv * rb.inv, -1.0, 1.0)
    # Pairs known to be identical get cos = 1 exactly: rounding of order eps in cos would move the
    # angle by sqrt(eps) (3e-4 in float32).
    return cos if on_diag is None else jnp.where(on_diag, 1.0, cos)


def _arc_parts(a, b, c, ra, rb, on_diag):
    """sqrt(ab), cos(theta), sin(theta), theta for the angle between u and v."""
    cos = _cosine(a, b, c, ra, rb, on_diag)
    norm = ra.root * rb.root
    sin = jnp.sqrt(jnp.maximum(1.0 - cos * cos, 0.0))
    theta = jnp.arctan2(sin, cos)
    return norm, cos, sin, theta


def _relu(a, b, c, ra, rb, slope, on_diag=None):
    del slope
    norm, cos, sin, theta = _arc_parts(a, b, c, ra, rb, on_diag)
    nngp = norm / (2 * jnp.pi) * (sin + (jnp.pi - theta) * cos)
    dot = (jnp.pi - theta) / (2 * jnp.pi)
    return nngp, dot


def _leaky_relu(a, b, c, ra, rb, slope, on_diag=None):
    # phi(x) = max(x, 0) + slope * min(x, 0) = relu(x) - slope * relu(-x).
    norm, cos, sin, theta = _arc_parts(a, b, c, ra, rb, on_diag)
    same = norm / (2 * jnp.pi) * (sin + (jnp.pi - theta) * cos)  # E[relu(u) relu(v)]
    cross = norm / (2 * jnp.pi) * (sin - theta * cos)  # E[relu(u) relu(-v)]
    nngp = (1 + slope * slope) * same - 2 * slope * cross
    dot = (1 + slope * slope) * (jnp.pi - theta) / (2 * jnp.pi) + slope * theta / jnp.pi
    return nngp, dot


def _abs(a, b, c, ra, rb, slope, on_diag=None):
    del slope
    norm, cos, sin, theta = _arc_parts(a, b, c, ra, rb, on_diag)
    nngp = 2 * norm / jnp.pi * (sin + (jnp.pi / 2 - theta) * cos)
    dot = 1 - 2 * theta / jnp.pi
    return nngp, dot


def _sign(a, b, c, ra, rb, slope, on_diag=None):
    # phi' is a Dirac delta; like neural-tangents we use the almost-everywhere derivative 0.
    del slope
    _, _, _, theta = _arc_parts(a, b, c, ra, rb, on_diag)
    nngp = jnp.where(ra.inv * rb.inv > 0, 1 - 2 * theta / jnp.pi, 0.0)
    return nngp, jnp.zeros_like(nngp)


def _identity(a, b, c, ra, rb, slope, on_diag=None):
    del a, b, ra, rb, slope, on_diag
    return c, jnp.ones_like(c)


def _erf(a, b, c, ra, rb, slope, on_diag=None):
    # E[erf(u) erf(v)] = (2/pi) arcsin(2c / sqrt((1+2a)(1+2b))); erf'(x) = 2/sqrt(pi) exp(-x^2), so
    # E[erf'(u) erf'(v)] = (4/pi) / sqrt((1+2a)(1+2b) - 4c^2).
    del ra, rb, slope, on_diag
    pa, pb = 1 + 2 * a, 1 + 2 * b
    nngp = 2 / jnp.pi * jnp.arcsin(jnp.clip(2 * c * jax.lax.rsqrt(pa * pb), -1.0, 1.0))
    dot = 4 / jnp.pi * jax.lax.rsqrt(pa * pb - 4 * c * c)
    return nngp, dot


def _gelu_nngp(a, b, c):
    # phi(x) = x Phi(x) = E_z[x 1{x - z >= 0}], z ~ N(0, 1). With w = (u - z1, v - z2) ~ N(0, M),
    # M = [[a+1, c], [c, b+1]], regress u = alpha.w + e_u, v = beta.w + e_v (e independent of w):
    # E[phi(u) phi(v)] = alpha^T E[w w^T 1{w >= 0}] beta + Cov(e_u, e_v) P(w >= 0).
    m1, m2 = a + 1, b + 1
    det = m1 * m2 - c * c
    alpha1, alpha2 = (a * m2 - c * c) / det, c / det
    beta1, beta2 = c / det, (b * m1 - c * c) / det
    cov_e = c - (a * c + c * (b * m1 - c * c)) / det
    s1, s2 = jnp.sqrt(m1), jnp.sqrt(m2)
    rho = jnp.clip(c / (s1 * s2), -1.0, 1.0)
    sin = jnp.sqrt(1 - rho * rho)
    theta = jnp.arctan2(sin, rho)
    orthant = (jnp.pi - theta) / (2 * jnp.pi)
    e11 = m1 * (jnp.pi - theta + rho * sin) / (2 * jnp.pi)
    e22 = m2 * (jnp.pi - theta + rho * sin) / (2 * jnp.pi)
    e12 = s1 * s2 * (rho * (jnp.pi - theta) + sin) / (2 * jnp.pi)
    quad = alpha1 * beta1 * e11 + (alpha1 * beta2 + alpha2 * beta1) * e12 + alpha2 * beta2 * e22
    return quad + cov_e * orthant


def _gelu(a, b, c, ra, rb, slope, on_diag=None):
    # Price's theorem: d/dc E[phi(u) phi(v)] = E[phi'(u) phi'(v)]; the closed form is smooth in c.
    del ra, rb, slope, on_diag
    nngp, dot = jax.jvp(lambda cc: _gelu_nngp(a, b, cc), (c,), (jnp.ones_like(c),))
    return nngp, dot


_CLOSED_FORMS = {
    "relu": _relu,
    "erf": _erf,
    "abs": _abs,
    "gelu": _gelu,
    "identity": _identity,
    "leaky_relu": _leaky_relu,
    "sign": _sign,
}


def _quadrature(fn: Callable, degree: int) -> Callable:
    """Gauss-Hermite quadrature of E[phi(u) phi(v)] and E[phi'(u) phi'(v)] for a callable phi.

    u = sqrt(2a) s_i, v = sqrt(2) (c / sqrt(a)) s_i + sqrt(2 (b - c^2 / a)) s_j (a Cholesky factor
    of the covariance), weights w_i w_j / pi; phi' by forward-mode autodiff (phi must act
    elementwise).
    """
    nodes, weights = np.polynomial.hermite.hermgauss(degree)

    def dfn(x):
        return jax.jvp(fn, (x,), (jnp.ones_like(x),))[1]

    def expectations(a, b, c, ra, rb, slope, on_diag=None):
        del slope, rb, on_diag
        dtype = jnp.result_type(c)
        shape = jnp.broadcast_shapes(jnp.shape(a), jnp.shape(b), jnp.shape(c))
        s = jnp.asarray(nodes, dtype)
        w = jnp.asarray(weights / np.sqrt(np.pi), dtype)
        s_j = s.reshape((degree,) + (1,) * len(shape))
        w_j = w.reshape((degree,) + (1,) * len(shape))
        sqrt_a = ra.root
        slope_v = c * ra.inv  # c / sqrt(a)
        resid = jnp.sqrt(jnp.maximum(b - slope_v * slope_v, 0.0))
        sq2 = jnp.asarray(np.sqrt(2.0), dtype)

        def outer(carry, node):
            acc_f, acc_d = carry
            s_i, w_i = node
            u = sq2 * sqrt_a * s_i
            v = sq2 * (slope_v * s_i + resid * s_j)  # (degree, *shape)
            inner_f = jnp.sum(w_j * fn(v), axis=0)
            inner_d = jnp.sum(w_j * dfn(v), axis=0)
            return (acc_f + w_i * fn(u) * inner_f, acc_d + w_i * dfn(u) * inner_d), None

        zeros = jnp.zeros(shape, dtype)
        (nngp, dot), _ = jax.lax.scan(outer, (zeros, zeros), (s, w))
        return nngp, dot

    return expectations


# --------------------------------------------------------------------------------------------------
# The recursion.
# --------------------------------------------------------------------------------------------------


def _layer(
    act,
    var1,
    var2,
    cov,
    ntk,
    *,
    weight_var,
    bias_var,
    slope,
    fan_in,
    parameterization,
    bias,
    on_diag,
):
    """One (activation, Dense) step: returns the next layer's (var1, var2, cov, ntk)."""
    r1, r2 = _roots(var1), _roots(var2)
    e_cov, e_dot = act(
        var1[:, None], var2[None, :], cov, _expand(r1, 1), _expand(r2, 0), slope, on_diag
    )
    e_var1, _ = act(var1, var1, var1, r1, r1, slope, True)
    e_var2, _ = act(var2, var2, var2, r2, r2, slope, True)
    new_cov = weight_var * e_cov + bias_var
    if parameterization == "ntk":
        new_ntk = new_cov + weight_var * ntk * e_dot
    else:
        new_ntk = fan_in * e_cov + weight_var * ntk * e_dot + (1.0 if bias else 0.0)
    return weight_var * e_var1 + bias_var, weight_var * e_var2 + bias_var, new_cov, new_ntk


def _layer_diag(act, var, ntk, *, weight_var, bias_var, slope, fan_in, parameterization, bias):
    r = _roots(var)
    e_var, e_dot = act(var, var, var, r, r, slope, True)
    new_var = weight_var * e_var + bias_var
    if parameterization == "ntk":
        new_ntk = new_var + weight_var * ntk * e_dot
    else:
        new_ntk = fan_in * e_var + weight_var * ntk * e_dot + (1.0 if bias else 0.0)
    return new_var, new_ntk


def _input_layer(k0, weight_var, bias_var, *, parameterization, input_dim, bias):
    cov = weight_var * k0 + bias_var
    if parameterization == "ntk":
        return cov, cov
    return cov, input_dim * k0 + (1.0 if bias else 0.0)


def _diag_kernels(x, weight_var, bias_var, slope, *, act, depth, parameterization, widths, bias):
    d = x.shape[-1]
    k0 = jnp.sum(x * x, axis=-1) / d
    var, ntk = _input_layer(
        k0, weight_var, bias_var, parameterization=parameterization, input_dim=d, bias=bias
    )
    for layer in range(depth):
        var, ntk = _layer_diag(
            act,
            var,
            ntk,
            weight_var=weight_var,
            bias_var=bias_var,
            slope=slope,
            fan_in=widths[layer],
            parameterization=parameterization,
            bias=bias,
        )
    return var, ntk


def _full_kernels(
    x1,
    x2,
    weight_var,
    bias_var,
    slope,
    *,
    act,
    depth,
    parameterization,
    widths,
    bias,
    symmetric,
    quadrature=False,
):
    d = x1.shape[-1]
    k0 = x1 @ x2.T / d
    cov, ntk = _input_layer(
        k0, weight_var, bias_var, parameterization=parameterization, input_dim=d, bias=bias
    )
    on_diag = None
    if symmetric:
        # Identical pairs sit on the diagonal: use cos = 1 there exactly (float32 accuracy).
        var1 = var2 = jnp.diagonal(cov)
        n = x1.shape[0]
        on_diag = jnp.arange(n)[:, None] == jnp.arange(n)[None, :]
    else:
        var1 = weight_var * jnp.sum(x1 * x1, axis=-1) / d + bias_var
        var2 = weight_var * jnp.sum(x2 * x2, axis=-1) / d + bias_var
    for layer in range(depth):
        var1, var2, cov, ntk = _layer(
            act,
            var1,
            var2,
            cov,
            ntk,
            weight_var=weight_var,
            bias_var=bias_var,
            slope=slope,
            fan_in=widths[layer],
            parameterization=parameterization,
            bias=bias,
            on_diag=on_diag,
        )
        if symmetric and quadrature:
            # Quadrature (a Cholesky factorization in one order) is not exactly symmetric.
            cov, ntk = (cov + cov.T) / 2, (ntk + ntk.T) / 2
    return cov, ntk


def _tiled_kernels(
    x1,
    x2,
    weight_var,
    bias_var,
    slope,
    *,
    act,
    depth,
    parameterization,
    widths,
    bias,
    batch_size,
    symmetric,
):
    """Row blocks of ``batch_size`` rows; intermediates are (batch_size, n2)."""
    d = x1.shape[-1]
    var2s = []
    var2 = weight_var * jnp.sum(x2 * x2, axis=-1) / d + bias_var
    for _ in range(depth):
        var2s.append(var2)
        r2 = _roots(var2)
        e_var2, _ = act(var2, var2, var2, r2, r2, slope, True)
        var2 = weight_var * e_var2 + bias_var
    columns = jnp.arange(x2.shape[0])

    def row(args):
        x, index = args
        on_diag = (columns == index) if symmetric else None
        k0 = (x2 @ x) / d
        cov, ntk = _input_layer(
            k0, weight_var, bias_var, parameterization=parameterization, input_dim=d, bias=bias
        )
        var1 = weight_var * jnp.sum(x * x) / d + bias_var
        for layer in range(depth):
            v2 = var2s[layer]
            r1, r2 = _roots(var1), _roots(v2)
            e_cov, e_dot = act(var1, v2, cov, r1, r2, slope, on_diag)
            e_var1, _ = act(var1, var1, var1, r1, r1, slope, True)
            new_cov = weight_var * e_cov + bias_var
            if parameterization == "ntk":
                ntk = new_cov + weight_var * ntk * e_dot
            else:
                ntk = widths[layer] * e_cov + weight_var * ntk * e_dot + (1.0 if bias else 0.0)
            cov = new_cov
            var1 = weight_var * e_var1 + bias_var
        return cov, ntk

    return jax.lax.map(row, (x1, jnp.arange(x1.shape[0])), batch_size=batch_size)


@functools.partial(
    jax.jit,
    static_argnames=(
        "activation",
        "depth",
        "parameterization",
        "widths",
        "bias",
        "diagonal",
        "batch_size",
        "symmetric",
        "quadrature_degree",
    ),
)
def _mlp_kernels(
    x1,
    x2,
    weight_std,
    bias_std,
    slope,
    *,
    activation,
    depth,
    parameterization,
    widths,
    bias,
    diagonal,
    batch_size,
    symmetric,
    quadrature_degree,
):
    dtype = x1.dtype
    weight_var = jnp.asarray(weight_std, dtype) ** 2
    bias_var = jnp.asarray(bias_std, dtype) ** 2
    slope = jnp.asarray(slope, dtype)
    if callable(activation):
        act = _quadrature(activation, quadrature_degree)
    else:
        act = _CLOSED_FORMS[activation]
    common = dict(act=act, depth=depth, parameterization=parameterization, widths=widths, bias=bias)
    if diagonal:
        return Kernels(*_diag_kernels(x1, weight_var, bias_var, slope, **common))
    if batch_size is not None and batch_size < x1.shape[0]:
        return Kernels(
            *_tiled_kernels(
                x1,
                x2,
                weight_var,
                bias_var,
                slope,
                batch_size=batch_size,
                symmetric=symmetric,
                **common,
            )
        )
    return Kernels(
        *_full_kernels(
            x1,
            x2,
            weight_var,
            bias_var,
            slope,
            symmetric=symmetric,
            quadrature=callable(activation),
            **common,
        )
    )


def _check_scalar(name: str, value: Any) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, int | float | np.number) or hasattr(value, "shape")
    ):
        raise TypeError(
            f"`{name}` must be a real scalar, got {value!r} of type {type(value).__name__}."
        )
    if np.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {np.shape(value)}.")
    check_finite(name, value)


def mlp_kernels(
    x1: jax.Array,
    x2: jax.Array | None = None,
    *,
    depth: int,
    activation: str | Callable[[jax.Array], jax.Array] = "relu",
    weight_std: float | jax.Array = 1.0,
    bias_std: float | jax.Array | None = 0.0,
    parameterization: str = "ntk",
    negative_slope: float | jax.Array = 0.01,
    width: int | tuple[int, ...] | None = None,
    diagonal: bool = False,
    batch_size: int | None = None,
    quadrature_degree: int = DEFAULT_QUADRATURE_DEGREE,
) -> Kernels:
    r"""Infinite-width NNGP and NTK of a fully connected network (Jacot et al. 2018; Lee et al. 2018).

    The network is ``depth`` hidden layers of (Dense, activation) and a Dense readout, the kernels
    are those of the readout, and the conventions are neural-tangents'
    ``stax.serial(*[Dense(n, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))``. In the NTK
    parameterization (``"ntk"``, pre-activations :math:`\sigma_w W x / \sqrt{n_{in}} + \sigma_b b`
    with standard normal :math:`W, b`):

    .. math::
        \Sigma^{1} = \sigma_w^2 \tfrac{x^\top x'}{n_0} + \sigma_b^2,\quad \Theta^1 = \Sigma^1,\quad
        \Sigma^{\ell+1} = \sigma_w^2\,\mathbb{E}[\phi(u)\phi(v)] + \sigma_b^2,\quad
        \Theta^{\ell+1} = \Sigma^{\ell+1} + \sigma_w^2\,\Theta^{\ell}\,\mathbb{E}[\phi'(u)\phi'(v)],

    with :math:`(u, v) \sim N(0, \Sigma^{\ell})` restricted to the pair :math:`(x, x')`.

    ``parameterization="standard"`` (:math:`W \sim N(0, \sigma_w^2/n_{in})`, :math:`b \sim N(0,
    \sigma_b^2)`, both trained directly) has the same NNGP, but the gradients with respect to the
    weights are not rescaled by :math:`\sigma_w/\sqrt{n_{in}}`, so every layer's weight term is
    multiplied by its fan-in and each bias contributes 1 (neural-tangents' convention with width
    scale ``s = 1``):
    :math:`\Theta^{1} = x^\top x' + 1` and
    :math:`\Theta^{\ell+1} = n_\ell\,\mathbb{E}[\phi(u)\phi(v)] + \sigma_w^2 \Theta^\ell
    \mathbb{E}[\phi'(u)\phi'(v)] + 1`. This NTK grows with the hidden widths :math:`n_\ell`, which
    must be given as ``width``; the bias terms are dropped with ``bias_std=None``.

    Activations with closed forms: ``"relu"`` (arc-cosine kernels of degree 1 and 0, no He factor),
    ``"erf"``, ``"abs"``, ``"gelu"`` (exact, :math:`x\Phi(x)`), ``"identity"``, ``"leaky_relu"``
    (:math:`\max(x, 0) + \text{negative\_slope}\cdot\min(x, 0)`) and ``"sign"``. For ``"sign"`` the
    derivative is a Dirac delta; like neural-tangents the almost-everywhere derivative 0 is used, so
    :math:`\mathbb{E}[\phi'\phi'] = 0` and only the layers above the last sign contribute to the
    NTK. Any other elementwise ``activation`` callable is integrated by ``quadrature_degree`` x
    ``quadrature_degree`` Gauss-Hermite quadrature of the bivariate Gaussian, its derivative by
    forward-mode autodiff. The error decays like :math:`\exp(-c\sqrt{\text{degree}}/\sigma)` for an
    activation analytic in a strip (tanh: poles at :math:`\pm i\pi/2`) and pre-activation std
    :math:`\sigma`; the default 96 keeps tanh within 1e-4 up to :math:`\sigma^2 \approx 7`. Kinks
    converge slowly: use the closed forms.

    Args:
      x1: inputs, shape ``(n1, d)``.
      x2: second inputs, shape ``(n2, d)``; ``None`` means ``x1`` (the symmetric kernel).
      depth: number of hidden layers (>= 0; 0 is a linear model).
      activation: one of the names above, or an elementwise callable.
      weight_std: :math:`\sigma_w`.
      bias_std: :math:`\sigma_b`; ``None`` means no biases (same as 0 in the NTK parameterization).
      parameterization: ``"ntk"`` or ``"standard"``.
      negative_slope: slope for negative inputs of ``"leaky_relu"`` (ignored otherwise).
      width: hidden widths for the standard-parameterization NTK (an int or a tuple of ``depth``
        ints).
      diagonal: if True, return only :math:`k(x, x)` for each row of ``x1``, shape ``(n1,)``, without
        the matrix (``x2`` must be ``None``).
      batch_size: if given and smaller than ``n1``, compute the kernel in row blocks of
        ``batch_size`` rows with ``jax.lax.map``, so no intermediate is larger than ``(batch_size,
        n2)``. With ``x2=None`` the diagonal pairs use cos = 1 exactly; identical rows of distinct
        ``x1`` and ``x2`` carry float32 errors of order :math:`\sqrt{\epsilon}` in the arc-cosine
        angle.
      quadrature_degree: Gauss-Hermite degree for callable activations.

    Returns:
      :class:`Kernels` with ``nngp`` and ``ntk`` of shape ``(n1, n2)`` (``(n1,)`` with
      ``diagonal``), in the dtype of ``x1``.

    Raises:
      ValueError: for inputs that are not 2-D, differ in feature dimension or are non-finite;
        ``depth < 0``; an unknown ``activation`` or ``parameterization``; a missing or malformed
        ``width`` for the standard parameterization; ``diagonal`` with ``x2``; ``batch_size < 1``.
      TypeError: for a non-integer ``depth`` / ``batch_size`` / ``quadrature_degree``, non-float
        inputs, or an ``activation`` that is neither a string nor a callable.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> k = mlp_kernels(x, depth=3, bias_std=0.1)
      >>> print(f"{float(k.ntk[0, 0]):.4f} {float(k.nngp[0, 0]):.5f}")
      0.2825 0.08125

    References:
      Jacot, Gabriel, Hongler (2018), https://arxiv.org/abs/1806.07572, Prop. 1 and Thm. 1.
      Lee et al. (2018), https://arxiv.org/abs/1711.00165; Cho & Saul (2009) for the arc-cosine
      kernels.
    """
    # --- validation, before any work ---
    check_int("depth", depth, minimum=0)
    check_int("quadrature_degree", quadrature_degree, minimum=1)
    if isinstance(activation, str):
        check_choice("activation", activation, CLOSED_FORM_ACTIVATIONS)
    elif not callable(activation):
        raise TypeError(
            f"`activation` must be one of {CLOSED_FORM_ACTIVATIONS} or a callable, "
            f"got {activation!r}."
        )
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    for name, x in (("x1", x1), ("x2", x2)):
        if x is None:
            continue
        if not hasattr(x, "dtype"):
            raise TypeError(f"`{name}` must be an array, got {type(x).__name__}.")
        check_ndim(name, x, 2)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"`{name}` must have a floating dtype, got {x.dtype}.")
        if x.shape[-1] == 0:
            raise ValueError(f"`{name}` must have at least one feature, got shape {x.shape}.")
        check_finite(name, x)
    if x2 is not None:
        check_same_features("x1", x1, "x2", x2)
        if x2.dtype != x1.dtype:
            raise TypeError(
                f"`x1` and `x2` must have the same dtype, got {x1.dtype} and {x2.dtype}."
            )
    _check_scalar("weight_std", weight_std)
    if bias_std is not None:
        _check_scalar("bias_std", bias_std)
    _check_scalar("negative_slope", negative_slope)
    if parameterization == "standard":
        if width is None:
            raise ValueError(
                "`width` is required for parameterization='standard' (its NTK scales with the "
                "hidden widths); pass an int or a tuple of `depth` ints."
            )
        widths = (width,) * depth if isinstance(width, int | np.integer) else tuple(width)
        if len(widths) != depth:
            raise ValueError(f"`width` must have `depth`={depth} entries, got {width!r}.")
        for w in widths:
            check_int("width", w, minimum=1)
        widths = tuple(int(w) for w in widths)
    else:
        widths = (0,) * depth
    if diagonal and x2 is not None:
        raise ValueError(
            "`diagonal=True` computes k(x, x) for the rows of `x1`; `x2` must be None."
        )
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1)

    return _mlp_kernels(
        x1,
        x1 if x2 is None else x2,
        weight_std,
        0.0 if bias_std is None else bias_std,
        negative_slope,
        activation=activation,
        depth=depth,
        parameterization=parameterization,
        widths=widths,
        bias=bias_std is not None,
        diagonal=diagonal,
        batch_size=batch_size,
        symmetric=x2 is None,
        quadrature_degree=quadrature_degree,
    )
