r"""Random landscapes with power-law structure functions, and noisy gradient descent on them.

The potential is a periodic Gaussian field on a grid of ``size**dim`` points (unit spacing), synthesised
spectrally with power spectrum :math:`S(k) \propto |k|^{-(d+\alpha)}`, :math:`k \in (2\pi/\text{size})
\mathbb{Z}^d \setminus \{0\}`, and interpolated multilinearly between grid points. Its structure function is
exactly

.. math::
    D(r) = \mathbb{E}\,[U(x + r e_1) - U(x)]^2 = \frac{\sum_k S(k)\,(1 - \cos k_1 r)}{\sum_k S(k)\,(1 - \cos k_1)},

normalised to :math:`D(1) = 1` (one grid spacing). For :math:`1 \ll r \ll \text{size}` it grows as
:math:`r^\alpha` for :math:`\alpha < 2`; at :math:`\alpha = 2` the spectral sum gives
:math:`r^2 \log(\text{size}/r)`, the marginal case (a field with exactly :math:`r^2` would be a random linear
slope). :func:`structure_function` evaluates the exact sum, :func:`empirical_structure_function` estimates it
from samples.

The walker (``theory.ultraslow_distance``) follows

.. math:: w_{t+1} = w_t - \eta \nabla U(w_t) + \sqrt{2 \eta T}\,\xi_t, \qquad \xi_t \sim \mathcal{N}(0, I_d),

and records :math:`\|w_t - w_0\|` on a save grid. Time is counted in steps ``t``; the continuous time is
``eta * t``.

References:
  Hoffer, Hubara, Soudry (2017), https://arxiv.org/abs/1705.08741, Sec. 2.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks
from lazyrich.theory._random_walk import check_roughness

__all__ = [
    "empirical_structure_function",
    "random_potential",
    "simulate_random_walk",
    "structure_function",
]


def _spectrum(size: int, dim: int, roughness: float) -> np.ndarray:
    k1 = 2 * np.pi * np.fft.fftfreq(size) * 1.0
    grids = np.meshgrid(*([k1] * dim), indexing="ij")
    k2 = sum(g * g for g in grids)
    with np.errstate(divide="ignore"):
        s = np.where(k2 > 0, k2 ** (-(dim + roughness) / 2), 0.0)
    return s, grids[0]


def _check_grid(size, dim, roughness):
    _checks.check_int("size", size, minimum=4)
    _checks.check_int("dim", dim, minimum=1, maximum=3)
    check_roughness(roughness)


def structure_function(lags, *, size: int, dim: int, roughness: float) -> np.ndarray:
    """Exact structure function ``D(r)`` of :func:`random_potential` along the first axis (``D(1) = 1``).

    Args:
      lags: distances ``r`` in grid units (any shape).
      size: grid points per axis.
      dim: dimension ``d`` (1 to 3).
      roughness: :math:`\\alpha \\in (0, 2]`.

    Returns:
      ``D(r)``, float64 NumPy array of the shape of ``lags``.
    """
    _check_grid(size, dim, roughness)
    s, k1 = _spectrum(size, dim, float(roughness))
    lags = np.asarray(lags, dtype=np.float64)
    norm = np.sum(s * (1 - np.cos(k1)))
    flat = lags.ravel()
    out = np.array([np.sum(s * (1 - np.cos(k1 * r))) for r in flat]) / norm
    return out.reshape(lags.shape)


def random_potential(*, size: int, dim: int, roughness: float, key: jax.Array, dtype=jnp.float32):
    """One periodic Gaussian field of shape ``(size,) * dim`` with structure function :func:`structure_function`.

    Args:
      size: grid points per axis (unit spacing; the field has period ``size``).
      dim: dimension ``d`` (1 to 3).
      roughness: :math:`\\alpha \\in (0, 2]` (static: it shapes the spectrum).
      key: typed PRNG key.
      dtype: output dtype.

    Returns:
      The field values on the grid, shape ``(size,) * dim``.

    Raises:
      ValueError: for ``roughness`` outside ``(0, 2]`` or bad grid sizes.
    """
    _check_grid(size, dim, roughness)
    _checks.check_key("key", key)
    s, k1 = _spectrum(size, dim, float(roughness))
    # Re ifft of sqrt(S) (g1 + i g2): covariance (1/N^2) sum_k S cos(k.(x - y)); D(1) normalised to one.
    n = size**dim
    d1 = 2.0 / n**2 * np.sum(s * (1 - np.cos(k1)))
    amp = jnp.asarray(np.sqrt(s / d1))
    k_re, k_im = jr.split(key)
    noise = jr.normal(k_re, s.shape) + 1j * jr.normal(k_im, s.shape)
    return jnp.real(jnp.fft.ifftn(amp * noise)).astype(dtype)


def empirical_structure_function(fields: jax.Array, lags) -> jax.Array:
    """Sample mean of ``(U(x + r e_1) - U(x))^2`` over grid points and fields.

    Args:
      fields: fields of shape ``(E, size, ...)`` (periodic along every grid axis).
      lags: integer distances along the first grid axis (static tuple or list).

    Returns:
      Estimates of ``D(r)``, shape ``(len(lags),)``.
    """
    return jnp.stack([jnp.mean((jnp.roll(fields, -int(r), axis=1) - fields) ** 2) for r in lags])


def _interpolate(field: jax.Array, w: jax.Array) -> jax.Array:
    """Multilinear interpolation of a periodic grid field at one point ``w`` of shape ``(d,)``."""
    dim = field.ndim
    size = field.shape[0]
    base = jnp.floor(w)
    frac = w - base
    idx = base.astype(jnp.int32)
    total = jnp.zeros((), field.dtype)
    for corner in itertools.product((0, 1), repeat=dim):
        weight = jnp.prod(jnp.where(jnp.asarray(corner) == 1, frac, 1 - frac))
        total = total + weight * field[tuple(jnp.mod(idx + jnp.asarray(corner), size))]
    return total


class _WalkState(NamedTuple):
    position: jax.Array
    step: jax.Array


def simulate_random_walk(
    fields: jax.Array,
    *,
    save_steps: tuple[int, ...],
    learning_rate,
    temperature,
    key: jax.Array,
) -> jax.Array:
    r"""Noisy gradient descent of one walker per field; returns :math:`\|w_t - w_0\|` on the save grid.

    Each walker starts at the origin of its own field and follows
    ``w <- w - eta grad U(w) + sqrt(2 eta T) xi``, with ``xi`` drawn from ``fold_in(key, step)``.

    Args:
      fields: potentials on a periodic grid, shape ``(E, size, ...)`` (E walkers, one field each; zeros give
        free diffusion with ``E ||w_t - w_0||^2 = 2 d eta T t``).
      save_steps: strictly increasing positive step counts at which to record (static).
      learning_rate: :math:`\eta` (may be traced).
      temperature: :math:`T` (may be traced).
      key: typed PRNG key.

    Returns:
      Distances travelled (unwrapped), shape ``(len(save_steps), E)``.

    Raises:
      ValueError: for a bad save grid.
    """
    _checks.check_key("key", key)
    save = np.asarray(save_steps, dtype=np.int64)
    if save.ndim != 1 or save.size == 0 or save[0] < 1 or np.any(np.diff(save) <= 0):
        raise ValueError(
            f"`save_steps` must be strictly increasing positive integers, got {save_steps!r}."
        )
    num_walkers, dim = fields.shape[0], fields.ndim - 1
    dtype = fields.dtype
    eta = jnp.asarray(learning_rate, dtype)
    kick = jnp.sqrt(2 * eta * jnp.asarray(temperature, dtype))
    grad_u = jax.vmap(jax.grad(_interpolate, argnums=1))

    def one_step(_, state):
        xi = jr.normal(jr.fold_in(key, state.step), (num_walkers, dim), dtype)
        w = state.position - eta * grad_u(fields, state.position) + kick * xi
        return _WalkState(w, state.step + 1)

    def one_interval(state, length):
        state = jax.lax.fori_loop(0, length, one_step, state)
        return state, jnp.linalg.norm(state.position, axis=-1)

    intervals = jnp.asarray(np.diff(np.concatenate([[0], save])), jnp.int32)
    init = _WalkState(jnp.zeros((num_walkers, dim), dtype), jnp.zeros((), jnp.int32))
    _, distances = jax.lax.scan(one_interval, init, intervals)
    return distances
