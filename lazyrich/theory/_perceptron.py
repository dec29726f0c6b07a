r"""Scaling theory of SGD on the perceptron with depleted data near the decision boundary.

Setting (Sclocchi, Geiger, Wyart 2023, Sec. 5): :math:`f = w\cdot x/\sqrt d`, data with
:math:`\rho(x_1) \propto |x_1|^\chi e^{-x_1^2/2}` and labels :math:`y = \mathrm{sign}(x_1)`, SGD at
temperature :math:`T` on the hinge with a vanishing margin (:math:`\alpha T \gg 1`), trained until
every point is fitted. Write :math:`\Delta w = (w_1, w_\perp)`.

* Noise. Unfit points kick :math:`w_\perp` randomly by :math:`\sim T`, and the hinge's restoring drift balances
  them, so :math:`\|w_\perp\| \propto T` (stationary).
* Signal. The point nearest the boundary has :math:`|x_1|_{\min} \sim P^{-1/(1+\chi)}` (the mass within
  :math:`\epsilon` of the boundary is :math:`\sim\epsilon^{1+\chi}`); fitting it against
  :math:`|w_\perp\cdot x_\perp| \sim \|w_\perp\|` needs :math:`w_1/\|w_\perp\| \gtrsim P^{1/(1+\chi)}`.

Hence :math:`\|w\| \approx w_1 \sim T P^{\gamma}` with :math:`\gamma = 1/(1+\chi)` and :math:`\delta = 1` (the
whole trajectory is homogeneous of degree one in :math:`T` when the margin vanishes).

Training time (derived here, not a statement of the paper): at signal-to-noise ratio
:math:`r = w_1/\|w_\perp\|` the unfit fraction is :math:`\sim r^{-(1+\chi)}` and unfit points have
:math:`|x_1| \sim 1/r`, so :math:`dw_1/dt \sim r^{-(2+\chi)}/\sqrt d`; integrating up to :math:`r \sim P^\gamma`
gives :math:`t_\star \sim T\, d\, P^{b}` with :math:`b = (3+\chi)/(1+\chi)`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from lazyrich import _checks

__all__ = [
    "depleted_sign_density",
    "perceptron_norm_exponent",
    "perceptron_temperature_exponent",
    "perceptron_time_exponent",
]


def _check_chi(chi):
    if isinstance(chi, jax.core.Tracer):
        return
    _checks.check_finite("chi", chi)
    if not bool(jnp.all(jnp.asarray(chi) > -1)):
        raise ValueError(
            f"`chi` must be > -1 (a normalisable density near the boundary), got {chi!r}."
        )


def perceptron_norm_exponent(chi):
    r"""The exponent :math:`\gamma = 1/(1+\chi)` of :math:`\|w\| \sim T P^{\gamma}` at the end of training.

    Args:
      chi: depletion exponent of the data density near the boundary, ``chi > -1`` (scalar or array).

    Returns:
      :math:`\gamma`, same shape as ``chi``.

    Raises:
      ValueError: if ``chi <= -1``.

    References:
      Sclocchi, Geiger, Wyart (ICML 2023), https://arxiv.org/abs/2301.13703, Sec. 5.
    """
    _check_chi(chi)
    return 1.0 / (1.0 + jnp.asarray(chi, float))


def perceptron_temperature_exponent(chi):
    r"""The exponent :math:`\delta = 1` of :math:`\|w\| \sim T^{\delta}` (independent of :math:`\chi`).

    Exact for a vanishing margin (:math:`\alpha T \gg 1`): the dynamics of :math:`\Delta w/T` does not depend on
    :math:`T`. Departures signal margin effects (:math:`\alpha T = O(1)`, the gradient-descent plateau).

    Args:
      chi: depletion exponent, ``chi > -1`` (scalar or array; only its shape is used).

    Returns:
      ``1.0`` with the shape of ``chi``.

    References:
      Sclocchi, Geiger, Wyart (ICML 2023), https://arxiv.org/abs/2301.13703, Secs. 4-5.
    """
    _check_chi(chi)
    return jnp.ones_like(jnp.asarray(chi, float))


def perceptron_time_exponent(chi):
    r"""The exponent :math:`b = (3+\chi)/(1+\chi)` of :math:`t_\star \sim T\,d\,P^{b}` (derived).

    Derivation in the module docstring ("Training time"): b = 3, 2, 1.5 for
    :math:`\chi = 0, 1, 3`. The exponent in :math:`T` is 1.

    Args:
      chi: depletion exponent, ``chi > -1``.

    Returns:
      :math:`b`, same shape as ``chi``.
    """
    _check_chi(chi)
    chi = jnp.asarray(chi, float)
    return (3.0 + chi) / (1.0 + chi)


def depleted_sign_density(x1, *, chi):
    r"""The marginal density :math:`\rho(x_1) = |x_1|^\chi e^{-x_1^2/2}/(2^{(\chi+1)/2}\Gamma((\chi+1)/2))`.

    Normalised over :math:`x_1 \in \mathbb R`; ``chi = 0`` is the standard normal density.

    Args:
      x1: points, any shape.
      chi: depletion exponent, ``chi > -1``.

    Returns:
      :math:`\rho(x_1)`, same shape and dtype as ``x1``.
    """
    _check_chi(chi)
    x1 = jnp.asarray(x1)
    dtype = x1.dtype if jnp.issubdtype(x1.dtype, jnp.floating) else jnp.result_type(float)
    x1 = x1.astype(dtype)
    a = jnp.asarray((chi + 1.0) / 2.0, dtype)
    log_norm = a * jnp.log(jnp.asarray(2.0, dtype)) + gammaln(a)
    abs_x = jnp.abs(x1)
    log_power = jnp.where(
        abs_x > 0, jnp.asarray(chi, dtype) * jnp.log(jnp.where(abs_x > 0, abs_x, 1.0)), 0.0
    )
    density = jnp.exp(log_power - 0.5 * x1**2 - log_norm)
    # |x1|^chi at x1 = 0: 0 for chi > 0, 1 for chi = 0, +inf for -1 < chi < 0.
    at_zero = jnp.where(jnp.asarray(chi) > 0, 0.0, jnp.where(jnp.asarray(chi) == 0, 1.0, jnp.inf))
    return jnp.where(abs_x > 0, density, (at_zero * jnp.exp(-log_norm)).astype(dtype))
