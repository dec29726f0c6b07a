r"""Kumar et al.'s grokking network: a committee machine with a quadratic-plus-linear activation, trained by GD.

.. math::
    f(W, x) = \frac{\alpha}{N}\sum_{i=1}^N \phi(w_i\cdot x), \qquad \phi(h) = h + \frac\epsilon2 h^2,

readouts fixed to one, :math:`W \in \mathbb R^{N\times D}` with :math:`W_{ij} \sim N(0, 1)` at initialisation.
Training is full-batch GD on :math:`L = \frac1P\sum_\mu (\tilde f_\mu - y_\mu)^2` (mean, no 1/2) with learning
rate :math:`\eta = \eta_0 N/\alpha^2`, where :math:`\tilde f = f(W) - f(W_0)` (centred; Kumar et al. eq. 7, the
authors' notebook with ``CENTER_LOSS = True``) or :math:`\tilde f = f(W)`. The authors' code writes the same
update as ``mean((f - f0 - y)**2)`` with learning rate ``N / alpha**2`` (:math:`\eta_0 = 1`, Fig. 1) or
``20 N / alpha**2`` (Fig. 3e). Time is counted in steps (epochs of full-batch GD).

The model-free reduced dynamics of :math:`(\bar w, M)` lives in :func:`lazyrich.theory.committee_gd`.

References:
  Kumar, Bordelon, Gershman, Pehlevan (ICLR 2024), https://arxiv.org/abs/2310.06110, eqs. 3-7.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import _checks

__all__ = ["committee_apply", "committee_empirical_ntk", "train_committee"]


def committee_apply(w, x, *, alpha, epsilon):
    r""":math:`f(W, x) = \frac\alpha N\sum_i \phi(w_i\cdot x)`, :math:`\phi(h) = h + \frac\epsilon2h^2`.

    Args:
      w: weights, shape ``(N, D)``.
      x: inputs, shape ``(P, D)``.
      alpha: output scale.
      epsilon: quadratic coefficient.

    Returns:
      Outputs, shape ``(P,)``.
    """
    _checks.check_ndim("w", w, 2)
    _checks.check_ndim("x", x, 2)
    _checks.check_same_features("w", w, "x", x)
    h = x @ w.T
    return alpha * jnp.mean(h + 0.5 * epsilon * h**2, axis=1)


def committee_empirical_ntk(w, x1, x2=None, *, alpha, epsilon):
    r"""Empirical NTK :math:`\sum_{ij} \partial_{W_{ij}} f(x)\,\partial_{W_{ij}} f(x')` by ``jax.jacrev``.

    Equals :math:`(\alpha^2/N)` times Kumar et al.'s eq. 5 kernel (tested).

    Args:
      w: ``(N, D)``; x1: ``(P, D)``; x2: ``(Q, D)`` (default ``x1``).

    Returns:
      Shape ``(P, Q)``.
    """
    x2 = x1 if x2 is None else x2
    j1 = jax.jacrev(lambda p: committee_apply(p, x1, alpha=alpha, epsilon=epsilon))(w)
    j2 = jax.jacrev(lambda p: committee_apply(p, x2, alpha=alpha, epsilon=epsilon))(w)
    return jnp.einsum("pij,qij->pq", j1, j2)


def train_committee(
    w0,
    x,
    y,
    *,
    alpha,
    epsilon,
    learning_rate0,
    save_steps,
    centered: bool = True,
    observe: Callable[[jax.Array], Any] | None = None,
):
    r"""Full-batch GD of the committee machine (module docstring), observing the weights on a step grid.

    Args:
      w0: initial weights, shape ``(N, D)``.
      x: training inputs, shape ``(P, D)``.
      y: targets, shape ``(P,)``.
      alpha: output scale (> 0; traced).
      epsilon: quadratic coefficient (traced).
      learning_rate0: :math:`\eta_0`; the learning rate is :math:`\eta_0 N/\alpha^2` (traced, > 0).
      save_steps: strictly increasing step counts (static); 0 is the initial state.
      centered: train :math:`f - f_0` instead of :math:`f`.
      observe: ``observe(W) -> pytree`` evaluated at each save step (default: ``W`` itself).

    Returns:
      The stacked ``observe`` outputs, leading axis ``len(save_steps)``.

    Raises:
      ValueError: for ``alpha <= 0``, ``learning_rate0 <= 0``, mismatched shapes or a non-increasing
        ``save_steps``.
    """
    _checks.check_ndim("w0", w0, 2)
    _checks.check_ndim("x", x, 2)
    _checks.check_ndim("y", y, 1)
    _checks.check_same_features("w0", w0, "x", x)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"`x` and `y` must have the same number of points, got {x.shape[0]} and {y.shape[0]}."
        )
    _checks.check_positive("alpha", alpha)
    _checks.check_positive("learning_rate0", learning_rate0)
    steps = np.asarray(save_steps)
    if steps.ndim != 1 or steps.size == 0 or steps[0] < 0 or np.any(np.diff(steps) <= 0):
        raise ValueError(
            f"`save_steps` must be non-negative and strictly increasing, got {save_steps!r}."
        )
    segments = jnp.asarray(np.diff(np.concatenate([[0], steps])).astype(np.int32))
    observe = observe if observe is not None else (lambda w: w)
    dtype = x.dtype
    alpha, epsilon, learning_rate0 = (
        jnp.asarray(v, dtype) for v in (alpha, epsilon, learning_rate0)
    )
    width = w0.shape[0]
    learning_rate = learning_rate0 * width / alpha**2
    f0 = committee_apply(w0, x, alpha=alpha, epsilon=epsilon) if centered else jnp.zeros_like(y)

    def loss(w):
        return jnp.mean((committee_apply(w, x, alpha=alpha, epsilon=epsilon) - f0 - y) ** 2)

    def step(_, w):
        return w - learning_rate * jax.grad(loss)(w)

    def segment(w, length):
        w = jax.lax.fori_loop(0, length, step, w)
        return w, observe(w)

    _, observed = jax.lax.scan(segment, w0.astype(dtype), segments)
    return observed
