"""Synthetic toy-model data: the perceptron's depleted-sign data and Kumar et al.'s quadratic teacher."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.random as jr

from lazyrich import _checks

__all__ = ["depleted_sign", "gaussian_quadratic"]


def _float_dtype(dtype):
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"`dtype` must be a floating dtype, got {dtype}.")
    return dtype


def depleted_sign(key: jax.Array, *, num_points: int, input_dim: int, chi: float, dtype=None):
    r"""Sclocchi et al.'s ``depleted_sign`` data: a sign teacher with a depleted density near the boundary.

    The first coordinate has density

    .. math::
        \rho(x_1) = \frac{|x_1|^{\chi} e^{-x_1^2/2}}{2^{(\chi+1)/2}\,\Gamma((\chi+1)/2)},

    drawn as :math:`|x_1| = \sqrt{2G}`, :math:`G \sim \mathrm{Gamma}((\chi+1)/2, 1)`, with a random sign (for
    integer ``chi``, :math:`2G` is drawn as a sum of ``chi + 1`` squared normals, the same law); the
    other coordinates are i.i.d. :math:`N(0, 1)`; the label is :math:`y = \mathrm{sign}(x_1)` (teacher
    :math:`e_1`). ``chi = 0`` is the Gaussian case; larger ``chi`` leaves fewer points near the boundary.

    Args:
      key: typed PRNG key.
      num_points: number of points P.
      input_dim: input dimension d (>= 1).
      chi: depletion exponent, ``chi > -1`` (a Python number; it sets the Gamma shape).
      dtype: floating dtype of the output (default: JAX's default float).

    Returns:
      ``(x, y)`` with shapes ``(P, d)`` and ``(P,)``, labels in ``{-1, +1}``.

    Raises:
      ValueError: if ``chi <= -1`` or a size is not a positive integer.

    References:
      Sclocchi, Geiger, Wyart (ICML 2023), https://arxiv.org/abs/2301.13703, Sec. 5 (perceptron);
      code ``AntonioScl/SGD_learning_regimes``, ``edm/dataset.py`` (``depleted_sign``).
    """
    _checks.check_key("key", key)
    _checks.check_int("num_points", num_points, minimum=1)
    _checks.check_int("input_dim", input_dim, minimum=1)
    if isinstance(chi, bool) or not isinstance(chi, int | float):
        raise TypeError(f"`chi` must be a Python number, got {chi!r}.")
    if not (math.isfinite(chi) and chi > -1):
        raise ValueError(f"`chi` must be a finite number > -1, got {chi!r}.")
    dtype = _float_dtype(dtype)
    if float(chi).is_integer() and chi <= 64:
        # 2G ~ chi-square with chi + 1 degrees of freedom, so |x1| is the norm of a (chi + 1)-dim Gaussian z,
        # and the sign of z_0 is independent of that norm. One normal draw (cheap to compile, unlike the
        # rejection sampler of `jax.random.gamma`); the law is the same.
        m = int(chi) + 1
        z = jr.normal(key, (num_points, m + input_dim - 1), dtype=dtype)
        sign = jnp.where(z[:, 0] >= 0, 1.0, -1.0).astype(dtype)
        radius = jnp.sqrt(jnp.sum(z[:, :m] ** 2, axis=1))
        x_perp = z[:, m:]
    else:
        gamma_key, normal_key = jr.split(key)
        z = jr.normal(normal_key, (num_points, input_dim), dtype=dtype)
        sign = jnp.where(z[:, 0] >= 0, 1.0, -1.0).astype(dtype)
        radius = jnp.sqrt(2.0 * jr.gamma(gamma_key, (chi + 1.0) / 2.0, (num_points,), dtype=dtype))
        x_perp = z[:, 1:]
    x = jnp.concatenate([(sign * radius)[:, None], x_perp], axis=1)
    return x, sign


def gaussian_quadratic(key: jax.Array, *, num_points: int, teacher: jax.Array):
    r"""Kumar et al.'s polynomial-regression task: :math:`x \sim N(0, I/D)`, :math:`y = (\beta_\star\cdot x)^2/2`.

    Args:
      key: typed PRNG key.
      num_points: number of points P.
      teacher: the teacher vector :math:`\beta_\star`, shape ``(D,)`` (its dtype sets the output dtype).

    Returns:
      ``(x, y)`` with shapes ``(P, D)`` and ``(P,)``.

    References:
      Kumar, Bordelon, Gershman, Pehlevan (ICLR 2024), https://arxiv.org/abs/2310.06110, eq. 3.
    """
    _checks.check_key("key", key)
    _checks.check_int("num_points", num_points, minimum=1)
    _checks.check_ndim("teacher", teacher, 1)
    teacher = jnp.asarray(teacher)
    dtype = _float_dtype(teacher.dtype)
    input_dim = teacher.shape[0]
    x = jr.normal(key, (num_points, input_dim), dtype=dtype) / jnp.sqrt(
        jnp.asarray(input_dim, dtype)
    )
    y = 0.5 * (x @ teacher) ** 2
    return x, y
