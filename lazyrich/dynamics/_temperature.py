r"""SGD temperature conventions (``docs/conventions.md`` §4).

Sclocchi, Geiger, Wyart (2023) define the temperature of constant-step minibatch SGD as

.. math::  T = \frac{\eta}{B\,h},

with :math:`\eta` the learning rate (their ``dt``), :math:`B` the batch size and :math:`h` the width
(:math:`h = 1` for the perceptron). The usual "noise scale" :math:`\eta/B` of the SGD literature is therefore
:math:`T h`: with the mean-field readout :math:`1/h` each weight's gradient is O(1/h), so the learning rate that
moves the network by O(1) in a fixed number of steps is O(h), and dividing by h makes T width independent.
The minibatch gradient noise has covariance :math:`(1/B - 1/P)\,C` (batches without replacement, see
:mod:`lazyrich.dynamics` ``langevin``), so per unit time :math:`t = \eta\,\mathrm{steps}` SGD is a diffusion with
coefficient :math:`\eta/B \approx T h` for :math:`B \ll P`.

Geiger et al.'s ``feature_lazy/sgd_jax.py`` uses :math:`T = \eta/(\alpha h B)`, a factor alpha away; the two are
never mixed (``convention="geiger2021"``).
"""

from __future__ import annotations

from typing import Literal

from lazyrich._checks import check_choice, check_int, check_positive

Convention = Literal["sclocchi2023", "geiger2021"]


def _scale(batch_size: int, width: int, alpha, convention: str):
    r"""The factor :math:`B h` (``"sclocchi2023"``) or :math:`\alpha h B` (``"geiger2021"``) in
    :math:`T = \eta/\mathrm{factor}`, after validating the arguments."""
    check_choice("convention", convention, ("sclocchi2023", "geiger2021"))
    check_int("batch_size", batch_size, minimum=1)
    check_int("width", width, minimum=1)
    if convention == "sclocchi2023":
        return batch_size * width
    if alpha is None:
        raise ValueError("`alpha` is required with convention='geiger2021' (T = lr/(alpha h B)).")
    check_positive("alpha", alpha)
    return alpha * width * batch_size


def temperature(
    learning_rate,
    batch_size: int,
    width: int,
    *,
    alpha=None,
    convention: Convention = "sclocchi2023",
):
    r"""SGD temperature :math:`T = \eta/(B h)` (``"sclocchi2023"``) or :math:`\eta/(\alpha h B)` (``"geiger2021"``).

    Works on Python floats and (traced) arrays alike.

    Args:
      learning_rate: step size :math:`\eta` (> 0).
      batch_size: B (>= 1).
      width: h (>= 1; 1 for the perceptron).
      alpha: output scale; required by ``"geiger2021"``.
      convention: which paper's definition.

    Raises:
      ValueError: for a non-positive learning rate, batch size or width, an unknown convention, or a missing
        ``alpha`` with ``"geiger2021"``.

    References:
      Sclocchi, Geiger, Wyart (2023), https://arxiv.org/abs/2301.13703 (code ``edm``: ``temp = dt/(bs h)``).
    """
    check_positive("learning_rate", learning_rate)
    return learning_rate / _scale(batch_size, width, alpha, convention)


def learning_rate_for_temperature(
    temperature, batch_size: int, width: int, *, alpha=None, convention: Convention = "sclocchi2023"
):
    r"""Inverse of :func:`temperature`: :math:`\eta = T B h` (or :math:`T \alpha h B` for ``"geiger2021"``)."""
    check_positive("temperature", temperature)
    return temperature * _scale(batch_size, width, alpha, convention)
