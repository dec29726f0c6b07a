"""The public entry point :func:`solve_dmft` and the whitened two-layer linear ODE."""

from __future__ import annotations

from functools import partial
from typing import Literal

import jax
import jax.numpy as jnp

from lazyrich import _checks
from lazyrich.theory._dmft import common, deep, two_layer


def solve_dmft(
    kx,
    y_train,
    times,
    *,
    gamma0,
    depth: int = 1,
    activation: common.Activation = "tanh",
    key=None,
    y_test=None,
    method: Literal["auto", "two_layer", "deep", "linear"] = "auto",
    **options,
) -> common.DMFTResult:
    r"""Solve the DMFT of a width-:math:`\infty` mean-field MLP trained by gradient flow on MSE.

    Conventions (network, ``1/P`` loss normalisation, time units, ``Delta = y - f = -P dL/df``, NTK
    ``K = sum_l G^{l+1} Phi^l``): see :mod:`lazyrich.theory._dmft.common` and
    ``docs/conventions.md`` §3. Methods:

    * ``"two_layer"`` (``depth == 1``): forward integration of the sampled single-neuron process
      (:func:`solve_dmft_two_layer`); exact up to Monte Carlo.
    * ``"linear"`` (``activation == "linear"``): the closed deep-linear equations (:func:`solve_dmft_linear`);
      no sampling.
    * ``"deep"``: alternating Monte Carlo with response functions (:func:`solve_dmft_deep`).
    * ``"auto"``: ``"linear"`` for linear activations, else ``"two_layer"`` at ``depth == 1``, else ``"deep"``.

    Args:
      kx: input Gram matrix ``x x^T / D`` over ``P`` train then ``Q`` test points, ``(P+Q, P+Q)``.
      y_train: ``(P,)``. times: ``(T,)`` strictly increasing from 0.
      gamma0: richness ``>= 0``. depth: hidden layers. activation: nonlinearity.
      key: typed PRNG key (needed by the sampling methods).
      y_test: optional ``(Q,)``.
      method: see above. **options: passed to the chosen solver.

    Returns:
      :class:`DMFTResult`.

    Raises:
      ValueError: for bad input (``gamma0 < 0``, non-increasing ``times``, non-PSD ``kx``, unknown method).

    References:
      Bordelon & Pehlevan (2022), https://arxiv.org/abs/2205.09653.
    """
    _checks.check_choice("method", method, ("auto", "two_layer", "deep", "linear"))
    _checks.check_int("depth", depth, minimum=1)
    if method == "auto":
        method = "linear" if activation == "linear" else ("two_layer" if depth == 1 else "deep")
    if method == "linear":
        if activation != "linear":
            raise ValueError(f"`method='linear'` needs `activation='linear'`, got {activation!r}.")
        return deep.solve_dmft_linear(
            kx, y_train, times, gamma0=gamma0, depth=depth, y_test=y_test, **options
        )
    if key is None:
        raise ValueError(f"`key` (a typed PRNG key) is required by method {method!r}.")
    if method == "two_layer":
        if depth != 1:
            raise ValueError(f"`method='two_layer'` needs `depth=1`, got {depth}.")
        return two_layer.solve_dmft_two_layer(
            kx,
            y_train,
            times,
            gamma0=gamma0,
            key=key,
            activation=activation,
            y_test=y_test,
            **options,
        )
    return deep.solve_dmft_deep(
        kx,
        y_train,
        times,
        gamma0=gamma0,
        key=key,
        depth=depth,
        activation=activation,
        y_test=y_test,
        **options,
    )


def whitened_linear_dmft(target_norm, times, *, gamma0, num_train: int, substeps: int = 8):
    r"""Closed ODE of a two-layer linear network on whitened data (``K^x = I``; derived).

    Derived from Bordelon & Pehlevan (2022) eqs. 11-12.

    ``f`` stays parallel to ``y`` and ``G^2 - gamma0^2 (|y| - Delta)^2`` is conserved, so with the ``1/P``
    normalisation

    .. math::
        \frac{d\Delta}{dt} = -\frac{2}{P}\sqrt{1 + \gamma_0^2 (y - \Delta)^2}\;\Delta,\qquad
        H_y(t) = \hat y^\top H(t) \hat y = \sqrt{1 + \gamma_0^2 (y - \Delta(t))^2},

    with ``y = |y|``, ``Delta = |y - f|``. (Bordelon & Pehlevan print the ODE without the factor 2 and without
    ``1/P``; at ``gamma0 = 0`` the NTK is ``2 K^x``, so the factor belongs there.)

    Args:
      target_norm: ``|y|`` (scalar). times: ``(T,)`` strictly increasing from 0.
      gamma0: richness ``>= 0``. num_train: ``P``. substeps: RK4 steps per grid interval.

    Returns:
      ``(delta, h_y)``, each of shape ``(T,)``.

    Raises:
      ValueError: for ``gamma0 < 0`` or a bad time grid.
    """
    _checks.check_increasing("times", times, start=0.0)
    _checks.check_nonnegative_scalar("gamma0", gamma0)
    _checks.check_int("num_train", num_train, minimum=1)
    _checks.check_int("substeps", substeps, minimum=1)
    return _whitened(target_norm, times, gamma0, num_train=num_train, substeps=substeps)


@partial(jax.jit, static_argnames=("num_train", "substeps"))
def _whitened(target_norm, times, gamma0, *, num_train, substeps):
    times = jnp.asarray(times)
    y = jnp.asarray(target_norm, times.dtype)

    def rate(d):
        return -(2.0 / num_train) * jnp.sqrt(1 + gamma0**2 * (y - d) ** 2) * d

    def interval(d, dt_interval):
        dt = dt_interval / substeps

        def rk4(_, d):
            k1 = rate(d)
            k2 = rate(d + 0.5 * dt * k1)
            k3 = rate(d + 0.5 * dt * k2)
            k4 = rate(d + dt * k3)
            return d + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

        d = jax.lax.fori_loop(0, substeps, rk4, d)
        return d, d

    _, ds = jax.lax.scan(interval, y, jnp.diff(times))
    delta = jnp.concatenate([y[None], ds])
    return delta, jnp.sqrt(1 + gamma0**2 * (y - delta) ** 2)
