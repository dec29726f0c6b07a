r"""Ultra-slow diffusion of a random walk on a random landscape (Hoffer, Hubara & Soudry 2017, Sec. 2).

A particle follows noisy gradient descent on a random potential :math:`U` whose structure function grows as a
power of the distance,

.. math:: \mathbb{E}\,[U(w_1) - U(w_2)]^2 \simeq c\,\|w_1 - w_2\|^{\alpha}, \qquad 0 < \alpha \le 2

(``roughness`` :math:`\alpha`). Reaching distance :math:`r` requires crossing barriers of typical height
:math:`\sqrt{c}\,r^{\alpha/2}`, which at temperature :math:`T` takes an Arrhenius time
:math:`t \sim \tau_0 \exp(\sqrt{c}\,r^{\alpha/2}/T)`. Inverting (Bouchaud & Georges 1990; Marinari et al. 1983),

.. math::
    \|w_t - w_0\| \sim \Big(\frac{T}{\sqrt{c}} \log\frac{t}{\tau_0}\Big)^{2/\alpha},
    \qquad \mathbb{E}\|w_t - w_0\|^2 \sim (\log t)^{4/\alpha}.

The exponent of :math:`\log t` is :math:`2/\alpha`; Hoffer et al.'s observed :math:`\|w_t - w_0\| \propto \log t`
corresponds to :math:`\alpha = 2`. The prefactor is a scaling statement: order-one constants are not predicted.

References:
  Hoffer, Hubara, Soudry (2017), https://arxiv.org/abs/1705.08741, Sec. 2.
  Bouchaud & Georges (1990), Phys. Rep. 195, 127, Sec. 5 (random walks in random potentials).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check_roughness", "diffusion_exponent", "ultraslow_distance"]


def check_roughness(roughness) -> None:
    """Raise ``ValueError`` unless ``roughness`` (the exponent alpha) is a concrete scalar in ``(0, 2]``."""
    if isinstance(roughness, jax.core.Tracer):
        return
    value = np.asarray(roughness)
    if value.shape != () or not np.isfinite(value) or not 0.0 < float(value) <= 2.0:
        raise ValueError(
            f"`roughness` (the structure-function exponent alpha) must be a scalar in (0, 2], "
            f"got {roughness!r}."
        )


def diffusion_exponent(roughness):
    r"""Exponent :math:`2/\alpha` of :math:`\log t` in :math:`\|w_t - w_0\|` for roughness :math:`\alpha`.

    Args:
      roughness: structure-function exponent :math:`\alpha \in (0, 2]` (scalar or array).

    Returns:
      ``2 / roughness`` (same shape).

    Raises:
      ValueError: if a concrete ``roughness`` is outside ``(0, 2]``.
    """
    if np.ndim(roughness) == 0:
        check_roughness(roughness)
    elif not isinstance(roughness, jax.core.Tracer):
        for value in np.asarray(roughness).ravel():
            check_roughness(value)
    return 2.0 / jnp.asarray(roughness)


def ultraslow_distance(t, *, roughness, temperature=1.0, amplitude=1.0, tau0=1.0):
    r"""Scaling prediction :math:`(T \log(t/\tau_0)/\sqrt{c})^{2/\alpha}` for :math:`\|w_t - w_0\|`.

    Args:
      t: times (any shape), in the units of ``tau0``; values ``t <= tau0`` give 0.
      roughness: :math:`\alpha \in (0, 2]`.
      temperature: :math:`T`.
      amplitude: :math:`c` in the structure function :math:`c\,r^\alpha`.
      tau0: microscopic time (the intra-well relaxation time).

    Returns:
      The predicted distance, shape of ``t``.

    Raises:
      ValueError: if ``roughness`` is outside ``(0, 2]``.
    """
    check_roughness(roughness)
    t = jnp.asarray(t)
    log_t = jnp.log(jnp.maximum(t / tau0, 1.0))
    return (temperature * log_t / jnp.sqrt(amplitude)) ** (2.0 / roughness)
