r"""Centred, alpha-scaled predictors, their linearisation, and the alpha-scaled loss family.

Conventions: ``docs/conventions.md`` §2 (output scale and centring) and §3 (loss normalisation).

The lazy/rich knob of Chizat, Oyallon and Bach (2019), Geiger et al. (2020) and Sclocchi et al. (2023):

.. math::
    F(w, x) = \alpha\,[f(w, x) - f(w_0, x)], \qquad
    \mathcal{L}(w) = \frac{1}{P}\sum_\mu \frac{\ell(F(w, x_\mu), y_\mu)}{\alpha^{p}} .

* ``loss_power=1`` -- Sclocchi, Geiger, Wyart (2023) code: the hinge becomes
  :math:`\max(0, 1 - \alpha y (f - f_0))/\alpha = \max(0, 1/\alpha - y(f - f_0))`, a hinge on
  :math:`f - f_0` with margin :math:`1/\alpha`.
* ``loss_power=2`` -- Chizat, Oyallon, Bach (2019): :math:`F_\alpha(w) = \alpha^{-2} R(\alpha h(w))`. With it the
  linearised gradient flow of F does not depend on alpha (the NTK of F is :math:`\alpha^2 \Theta`), so the
  lazy limit :math:`\alpha \to \infty` at fixed time is the kernel gradient flow with the NTK at
  initialisation.

The initial outputs :math:`f(w_0, X)` are computed once per data set and passed around as arrays
(``f0``); they are never recomputed inside a training loop.

Per-sample losses :math:`\ell(F, y)` (outputs of shape ``(P,)``, labels ``y`` in {-1, +1} for the
classification losses):

* ``"hinge"``: :math:`\max(0, 1 - yF)`;
* ``"mse"``: :math:`\tfrac12 (F - y)^2`;
* ``"cross_entropy"``: the binary logistic loss :math:`\log(1 + e^{-yF})` (cross-entropy of
  :math:`\sigma(F)` against the label :math:`(1 + y)/2`).
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from lazyrich._checks import check_choice
from lazyrich._types import ApplyFn, Array, Params

Loss = Literal["hinge", "mse", "cross_entropy"]
LOSSES: tuple[str, ...] = ("hinge", "mse", "cross_entropy")


def centered(apply_fn: ApplyFn, params0: Params, *, alpha: float | Array) -> ApplyFn:
    r"""The predictor :math:`F(w, x) = \alpha\,(f(w, x) - f(w_0, x))` (``docs/conventions.md`` §2).

    This closure recomputes :math:`f(w_0, x)` at every call; training loops use :func:`centered_outputs`
    with stored initial outputs instead.
    """

    def centered_fn(params: Params, x: Array) -> Array:
        return alpha * (apply_fn(params, x) - apply_fn(params0, x))

    return centered_fn


def centered_outputs(
    apply_fn: ApplyFn, params: Params, x: Array, f0: Array, alpha: float | Array
) -> Array:
    r""":math:`\alpha\,(f(w, x) - f_0)` with the stored initial outputs ``f0 = f(w_0, x)``, shape ``(P,)``."""
    return alpha * (apply_fn(params, x) - f0)


def linearize(apply_fn: ApplyFn, params0: Params) -> ApplyFn:
    r"""The network linearised at :math:`w_0`: :math:`\bar f(w, x) = f(w_0, x) + \partial_w f(w_0, x)\,(w - w_0)`.

    Evaluated with one Jacobian-vector product (``jax.jvp``), so it costs about two forward passes and never
    forms the Jacobian. Trained with the same loop as the network it gives the "lazy twin" of Chizat et al.

    References:
      Chizat, Oyallon, Bach (2019), https://arxiv.org/abs/1812.07956, Sec. 2.
    """

    def linear_fn(params: Params, x: Array) -> Array:
        delta = jax.tree.map(jnp.subtract, params, params0)
        f0, df = jax.jvp(lambda p: apply_fn(p, x), (params0,), (delta,))
        return f0 + df

    return linear_fn


def per_sample_loss(loss: str, outputs: Array, labels: Array) -> Array:
    """Unscaled per-sample loss :math:`\\ell(F, y)` of the module docstring, shape ``(P,)``."""
    check_choice("loss", loss, LOSSES)
    if loss == "hinge":
        return jax.nn.relu(1.0 - labels * outputs)
    if loss == "mse":
        return 0.5 * (outputs - labels) ** 2
    return jax.nn.softplus(-labels * outputs)


def scaled_loss(
    loss: str, outputs: Array, labels: Array, *, alpha: float | Array, loss_power: int = 1
) -> Array:
    r"""Mean alpha-scaled loss :math:`\frac{1}{P}\sum_\mu \ell(F_\mu, y_\mu)/\alpha^{p}`.

    Args:
      loss: ``"hinge"``, ``"mse"`` or ``"cross_entropy"``.
      outputs: the scaled centred outputs :math:`F = \alpha(f - f_0)`, shape ``(P,)``.
      labels: targets, shape ``(P,)``.
      alpha: output scale (> 0).
      loss_power: p = 1 (Sclocchi et al.) or 2 (Chizat et al.).

    Returns:
      A scalar.
    """
    check_choice("loss_power", loss_power, (1, 2))
    return jnp.mean(per_sample_loss(loss, outputs, labels)) / alpha**loss_power
