r"""Exact sufficient-statistics dynamics of Kumar et al.'s grokking committee machine (model-free).

Model (Kumar et al. eq. 3): :math:`f(x) = \frac{\alpha}{N}\sum_i \phi(w_i\cdot x)` with
:math:`\phi(h) = h + \frac\epsilon2 h^2`, readouts fixed to one. It depends on the weights only through

.. math::
    \bar w = \frac1N\sum_i w_i, \qquad M = \frac1N\sum_i w_i w_i^\top, \qquad
    f(x) = \alpha\,\bar w\cdot x + \frac{\alpha\epsilon}{2}\,x^\top M x .

Training (Kumar et al. eqs. 4-7; the recursion below is derived here): full-batch GD on :math:`L =
\frac1P\sum_\mu(\tilde f_\mu - y_\mu)^2` (no 1/2) with learning rate :math:`\eta = \eta_0
N/\alpha^2`, where :math:`\tilde f = f - f_0` (centred, Kumar eq. 7 with :math:`f` already holding
:math:`\alpha`) or :math:`\tilde f = f`. With :math:`\Delta_\mu = y_\mu - \tilde f_\mu`, :math:`v =
\frac1P\sum_\mu\Delta_\mu x_\mu`, :math:`C = \frac1P\sum_\mu \Delta_\mu x_\mu x_\mu^\top` and
:math:`\kappa = 2\eta_0/\alpha`, every neuron moves as :math:`w_i \leftarrow w_i + \kappa(v +
\epsilon C w_i)`, which closes exactly on :math:`(\bar w, M)`:

.. math::
    \bar w &\leftarrow \bar w + \kappa(v + \epsilon C\bar w), \\
    M &\leftarrow M + \kappa(v\bar w^\top + \bar w v^\top) + \kappa\epsilon(CM + MC)
        + \kappa^2\big(vv^\top + \epsilon(C\bar w v^\top + v\bar w^\top C) + \epsilon^2 CMC\big).

Width enters only through :math:`(\bar w_0, M_0)`; :math:`\bar w_0 = 0, M_0 = I` is the infinite-width limit.
The recursion is exact at any width (tested against the network of :mod:`lazyrich.dynamics` to 1e-10 in float64).

References:
  Kumar, Bordelon, Gershman, Pehlevan, "Grokking as the transition from lazy to rich training dynamics"
  (ICLR 2024), https://arxiv.org/abs/2310.06110, eqs. 3-7.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import _checks

__all__ = [
    "CommitteeStatistics",
    "committee_statistics",
    "committee_output",
    "committee_ntk",
    "committee_ntk_alignment",
    "committee_gd",
    "committee_test_loss_terms",
    "kernel_regression_mse",
    "first_crossing_time",
    "grokking_time",
]


class CommitteeStatistics(NamedTuple):
    """Sufficient statistics :math:`\\bar w` (shape ``(D,)``) and :math:`M` (shape ``(D, D)``)."""

    w_bar: jax.Array
    M: jax.Array


def _check_scales(alpha, epsilon=None):
    _checks.check_positive("alpha", alpha)
    if epsilon is not None:
        _checks.check_finite("epsilon", epsilon)


def _check_stats(w_bar, M):
    _checks.check_ndim("w_bar", w_bar, 1)
    _checks.check_square("M", M)
    if M.shape[0] != w_bar.shape[0]:
        raise ValueError(
            f"`M` must be ({w_bar.shape[0]}, {w_bar.shape[0]}) to match `w_bar`, got {M.shape}."
        )


def committee_statistics(w: jax.Array) -> CommitteeStatistics:
    r""":math:`\bar w = \frac1N\sum_i w_i` and :math:`M = \frac1N\sum_i w_i w_i^\top` of first-layer weights.

    Args:
      w: first-layer weights, shape ``(N, D)`` (row i is :math:`w_i`).

    Returns:
      :class:`CommitteeStatistics` with shapes ``(D,)`` and ``(D, D)``.
    """
    _checks.check_ndim("w", w, 2)
    return CommitteeStatistics(jnp.mean(w, axis=0), w.T @ w / w.shape[0])


def committee_output(x, w_bar, M, *, alpha, epsilon):
    r""":math:`f(x) = \alpha\bar w\cdot x + \frac{\alpha\epsilon}2 x^\top M x` (uncentred), shape ``(P,)``.

    Args:
      x: inputs, shape ``(P, D)``.
      w_bar: shape ``(D,)``.
      M: shape ``(D, D)``.
      alpha: output scale.
      epsilon: quadratic coefficient of :math:`\phi`.
    """
    _checks.check_ndim("x", x, 2)
    _check_stats(w_bar, M)
    return alpha * (x @ w_bar) + 0.5 * alpha * epsilon * jnp.sum((x @ M) * x, axis=1)


def committee_ntk(x1, x2, w_bar, M, *, epsilon):
    r"""Kumar et al.'s eq. 5 kernel :math:`K = (x\cdot x')[1 + \epsilon\bar w\cdot(x + x') + \epsilon^2 x^\top M x']`.

    The true gradient kernel :math:`\sum_i \partial_{w_i} f(x)\cdot\partial_{w_i} f(x')` is :math:`(\alpha^2/N)`
    times this (``docs/conventions.md`` §5); alignments do not depend on that factor.

    Args:
      x1: shape ``(P, D)``; x2: shape ``(Q, D)``; w_bar: ``(D,)``; M: ``(D, D)``; epsilon: scalar.

    Returns:
      The kernel, shape ``(P, Q)``.
    """
    _checks.check_ndim("x1", x1, 2)
    _checks.check_ndim("x2", x2, 2)
    _checks.check_same_features("x1", x1, "x2", x2)
    _check_stats(w_bar, M)
    dots = x1 @ x2.T
    linear = (x1 @ w_bar)[:, None] + (x2 @ w_bar)[None, :]
    return dots * (1.0 + epsilon * linear + epsilon**2 * (x1 @ M @ x2.T))


def _kernel_target_alignment(K, y):
    """Kernel-target alignment ``y_c^T K_c y_c / (||K_c||_F ||y_c||^2)`` with only the column means of K
    removed, as in Kumar et al.'s code (not the double-centred alignment; ``docs/conventions.md`` §5)."""
    y_c = y - jnp.mean(y)
    K_c = K - jnp.mean(K, axis=0, keepdims=True)
    return (y_c @ K_c @ y_c) / (jnp.linalg.norm(K_c) * jnp.sum(y_c**2))


def committee_ntk_alignment(x, y, w_bar, M, *, epsilon):
    r"""Alignment of the NTK (eq. 5) with the target on ``x``, column means of the kernel removed.

    .. math::
        A = \frac{y_c^\top K_c y_c}{\|K_c\|_F \|y_c\|^2}, \quad y_c = y - \bar y,\quad
        K_c = K - \mathbf 1 \bar K^\top \text{ (column means removed, as in the authors' code)}.

    Args:
      x: inputs, shape ``(Q, D)``; y: targets, shape ``(Q,)``; w_bar, M: statistics; epsilon: scalar.

    Returns:
      Scalar alignment in [-1, 1]. Its numerator equals that of the double-centred alignment
      (``y_c`` sums to zero); its normaliser :math:`\|K_c\|_F` does not, so it differs from
      ``lazyrich.dynamics.diagnostics.kernel_target_alignment(K, y, centered=True)`` (``docs/conventions.md``
      §5).
    """
    _checks.check_ndim("y", y, 1)
    return _kernel_target_alignment(committee_ntk(x, x, w_bar, M, epsilon=epsilon), y)


def kernel_regression_mse(k_train, k_test_train, y_train, y_test):
    r"""Test MSE of ridgeless kernel regression :math:`\hat y = K_{\rm test,train} K_{\rm train}^{-1} y`.

    The solve uses ``eigh`` with eigenvalues clipped at ``1e-10 * max`` (documented jitter).

    Args:
      k_train: ``(P, P)``; k_test_train: ``(Q, P)``; y_train: ``(P,)``; y_test: ``(Q,)``.

    Returns:
      Scalar :math:`\frac1Q\sum(\hat y - y)^2` (no 1/2, Kumar's convention).
    """
    _checks.check_square("k_train", k_train)
    evals, evecs = jnp.linalg.eigh(k_train)
    floor = 1e-10 * jnp.max(jnp.abs(evals))
    inv = jnp.where(evals > floor, 1.0 / jnp.where(evals > floor, evals, 1.0), 0.0)
    coef = evecs @ (inv * (evecs.T @ y_train))
    return jnp.mean((k_test_train @ coef - y_test) ** 2)


def committee_test_loss_terms(w_bar, M, teacher, *, alpha, epsilon, w_bar0=None, M0=None):
    r"""Kumar et al.'s eq. 6: the population test MSE (no 1/2) as three terms, for :math:`x \sim N(0, I/D)`.

    .. math::
        L = \underbrace{\tfrac14\Big(\tfrac{|\beta|^2}{D} - \tfrac{\alpha\epsilon}{D}\mathrm{Tr}M\Big)^2}_{\rm variance}
          + \underbrace{\tfrac1{2D^2}\|\alpha\epsilon M - \beta\beta^\top\|_F^2}_{\rm misalignment}
          + \underbrace{\tfrac{\alpha^2}{D}|\bar w|^2}_{\rm linear\ power},

    from :math:`E[(x^\top Ax)^2] = ((\mathrm{tr}A)^2 + 2\mathrm{tr}A^2)/D^2`. For the centred predictor pass
    ``w_bar0, M0``: then :math:`M \to M - M_0`, :math:`\bar w \to \bar w - \bar w_0`.

    Args:
      w_bar: ``(D,)``; M: ``(D, D)``; teacher: :math:`\beta_\star`, ``(D,)``; alpha, epsilon: scalars.
      w_bar0, M0: initial statistics (both or neither).

    Returns:
      ``(variance, misalignment, linear_power)``; their sum is the test MSE.
    """
    _check_stats(w_bar, M)
    _checks.check_ndim("teacher", teacher, 1)
    if (w_bar0 is None) != (M0 is None):
        raise ValueError(
            "`w_bar0` and `M0` must be given together (centred predictor) or both omitted."
        )
    if w_bar0 is not None:
        w_bar, M = w_bar - w_bar0, M - M0
    D = w_bar.shape[0]
    A = alpha * epsilon * M - jnp.outer(teacher, teacher)
    variance = 0.25 * (jnp.trace(A) / D) ** 2
    misalignment = jnp.sum(A * A) / (2.0 * D**2)
    linear_power = alpha**2 * jnp.sum(w_bar**2) / D
    return variance, misalignment, linear_power


def _segments(save_steps) -> np.ndarray:
    steps = np.asarray(save_steps)
    if steps.ndim != 1 or steps.size == 0 or not np.issubdtype(steps.dtype, np.integer):
        raise ValueError(
            f"`save_steps` must be a non-empty 1-D sequence of integers, got {save_steps!r}."
        )
    if steps[0] < 0 or np.any(np.diff(steps) <= 0):
        raise ValueError(
            f"`save_steps` must be non-negative and strictly increasing, got {steps.tolist()[:8]}..."
        )
    return np.diff(np.concatenate([[0], steps])).astype(np.int32)


def committee_gd(
    w_bar0,
    M0,
    x,
    y,
    *,
    alpha,
    epsilon,
    learning_rate0,
    save_steps,
    centered: bool = True,
    observe: Callable[[jax.Array, jax.Array], Any] | None = None,
):
    r"""Full-batch GD of the committee machine, run exactly on :math:`(\bar w, M)` (module docstring).

    Args:
      w_bar0: initial :math:`\bar w`, shape ``(D,)``.
      M0: initial :math:`M`, shape ``(D, D)``.
      x: training inputs, shape ``(P, D)``.
      y: targets, shape ``(P,)``.
      alpha: output scale (> 0; traced).
      epsilon: quadratic coefficient of :math:`\phi` (traced).
      learning_rate0: :math:`\eta_0`; the network's learning rate is :math:`\eta_0 N/\alpha^2` (traced).
      save_steps: strictly increasing step counts (static) at which ``observe`` is evaluated; 0 means the
        initial state.
      centered: train :math:`f - f_0` (Kumar eq. 7) instead of :math:`f`.
      observe: ``observe(w_bar, M) -> pytree`` evaluated at each save step; default returns ``(w_bar, M)``.

    Returns:
      The pytree of ``observe`` outputs stacked along a leading axis of length ``len(save_steps)``.

    Raises:
      ValueError: for ``alpha <= 0``, mismatched shapes, or a ``save_steps`` that is not increasing.
    """
    _check_stats(w_bar0, M0)
    _checks.check_ndim("x", x, 2)
    _checks.check_ndim("y", y, 1)
    if x.shape != (y.shape[0], w_bar0.shape[0]):
        raise ValueError(f"`x` must have shape ({y.shape[0]}, {w_bar0.shape[0]}), got {x.shape}.")
    _check_scales(alpha, epsilon)
    _checks.check_positive("learning_rate0", learning_rate0)
    segments = jnp.asarray(_segments(save_steps))
    observe = observe if observe is not None else (lambda w_bar, M: (w_bar, M))
    dtype = x.dtype
    alpha, epsilon, learning_rate0 = (
        jnp.asarray(v, dtype) for v in (alpha, epsilon, learning_rate0)
    )
    kappa = 2.0 * learning_rate0 / alpha
    num_points = x.shape[0]
    f0 = (
        committee_output(x, w_bar0, M0, alpha=alpha, epsilon=epsilon)
        if centered
        else jnp.zeros_like(y)
    )

    def step(_, state):
        w_bar, M = state
        residual = y - (committee_output(x, w_bar, M, alpha=alpha, epsilon=epsilon) - f0)
        v = x.T @ residual / num_points
        C = (x.T * residual) @ x / num_points
        Cw = C @ w_bar
        CM = C @ M
        vw = jnp.outer(v, w_bar)
        new_w_bar = w_bar + kappa * (v + epsilon * Cw)
        cross = jnp.outer(Cw, v)
        new_M = (
            M
            + kappa * (vw + vw.T)
            + kappa * epsilon * (CM + CM.T)
            + kappa**2 * (jnp.outer(v, v) + epsilon * (cross + cross.T) + epsilon**2 * (CM @ C))
        )
        return new_w_bar, new_M

    def segment(state, length):
        state = jax.lax.fori_loop(0, length, step, state)
        return state, observe(*state)

    _, observed = jax.lax.scan(segment, (w_bar0.astype(dtype), M0.astype(dtype)), segments)
    return observed


def first_crossing_time(times, loss, *, threshold=0.1):
    """First time at which ``loss < threshold`` (``nan`` if never), on a saved grid.

    Args:
      times: shape ``(T,)`` increasing; loss: shape ``(..., T)``; threshold: scalar.

    Returns:
      Shape ``loss.shape[:-1]``.
    """
    below = loss < threshold
    index = jnp.argmax(below, axis=-1)
    return jnp.where(jnp.any(below, axis=-1), jnp.asarray(times)[index], jnp.nan)


def grokking_time(times, train_loss, test_loss, *, threshold=0.1):
    r"""Grokking time :math:`t_{\rm test}(\theta) - t_{\rm train}(\theta)`, :math:`t(\theta)` the first time the loss
    drops below :math:`\theta` (Kumar et al. Fig. 3e use :math:`\max(0, \cdot)` and :math:`\theta = 0.1`).

    ``nan`` when the test (or train) loss never crosses the threshold on the saved grid; the resolution is that
    of ``times``.
    """
    return first_crossing_time(times, test_loss, threshold=threshold) - first_crossing_time(
        times, train_loss, threshold=threshold
    )
