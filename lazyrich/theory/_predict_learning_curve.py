r"""Spectral theory of the generalisation error of kernel regression (learning curves).

For kernel (ridge) regression :math:`f(x) = k(x, X)(K + \lambda I)^{-1} y` on :math:`P` samples of
:math:`x \sim p`, with the kernel's Mercer decomposition :math:`k(x, x') = \sum_k \eta_k
\phi_k(x)\phi_k(x')` (:math:`\mathbb{E}_p[\phi_k\phi_l] = \delta_{kl}`), a target :math:`f^\*(x) =
\sum_k \bar v_k \phi_k(x)` and label noise of variance :math:`\sigma^2`, the average test error
:math:`E_g = \mathbb{E}[(f(x) - f^\*(x))^2]` is (Bordelon, Canatar & Pehlevan 2020; Canatar,
Bordelon & Pehlevan 2021, eqs. 4-5)

.. math::
    E_g = \frac{1}{1 - \gamma}\sum_k \frac{\kappa^2 \bar v_k^2}{(P\eta_k + \kappa)^2}
          + \frac{\gamma\,\sigma^2}{1 - \gamma},\qquad
    \kappa = \lambda + \kappa\sum_k \frac{\eta_k}{P\eta_k + \kappa},\qquad
    \gamma = \sum_k \frac{P\eta_k^2}{(P\eta_k + \kappa)^2}.

In practice :math:`\eta_k` and :math:`\bar v_k` are estimated from :math:`M \gg P` samples: the
eigenvalues of :math:`K_{MM}/M` and :math:`\bar v_k = u_k^\top y_M/\sqrt{M}` with :math:`u_k` the
unit eigenvectors of :math:`K_{MM}` (:func:`empirical_spectrum`). The theory is exact as
:math:`P, M \to \infty`; at finite :math:`P` it is accurate to a few percent for typical kernels,
and it needs the spectrum well beyond index :math:`P` (take :math:`M \ge 4P`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lazyrich._checks import check_finite, check_ndim
from lazyrich.theory._predict_checks import check_kernel_matrix


def empirical_spectrum(k: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues ``eta`` of ``K/M`` (descending) and target coefficients ``v`` on a sample of M.

    Args:
      k: kernel on ``M`` samples of the input distribution, ``(M, M)``, symmetric PSD.
      y: target values on the same samples, ``(M,)``.

    Returns:
      ``(eta, v)``, each ``(M,)``, float64; ``sum(v**2) = mean(y**2)``.
    """
    check_kernel_matrix("k", k)
    check_ndim("y", y, 1)
    check_finite("y", y)
    m = np.shape(k)[0]
    if np.shape(y)[0] != m:
        raise ValueError(f"`y` must have {m} entries (one per row of `k`), got {np.shape(y)}.")
    evals, evecs = np.linalg.eigh(np.asarray(k, np.float64))
    evals, evecs = np.maximum(evals[::-1], 0.0) / m, evecs[:, ::-1]
    return evals, evecs.T @ np.asarray(y, np.float64) / np.sqrt(m)


def learning_curve(
    eigenvalues: Any,
    coefficients: Any,
    num_train: Any,
    *,
    ridge: float = 0.0,
    noise: float = 0.0,
) -> np.ndarray:
    r"""Predicted test error :math:`E_g(P)` of kernel regression (see the module documentation).

    :math:`\kappa` is the root of the increasing function :math:`1 - \lambda/\kappa - \sum_k
    \eta_k/(P\eta_k + \kappa)`, found by bisection on :math:`\log\kappa` (to relative 1e-12).

    Args:
      eigenvalues: Mercer eigenvalues :math:`\eta_k \ge 0`, ``(K,)``.
      coefficients: target coefficients :math:`\bar v_k`, ``(K,)``.
      num_train: :math:`P` (an int or a 1-D array of them), each < number of positive eigenvalues
        when ``ridge == 0``.
      ridge: :math:`\lambda \ge 0` (the absolute ridge added to the kernel matrix).
      noise: label-noise variance :math:`\sigma^2 \ge 0`.

    Returns:
      :math:`E_g` for each ``num_train``, float64, shape of ``num_train``.

    Example:
      >>> import numpy as np
      >>> eta = 1.0 / np.arange(1, 2001) ** 2
      >>> e = learning_curve(eta, np.sqrt(eta), [10, 100])
      >>> print(round(power_law_exponent([10, 100], e), 1))
      -1.0
    """
    eta = np.asarray(eigenvalues, np.float64)
    v = np.asarray(coefficients, np.float64)
    check_ndim("eigenvalues", eta, 1)
    check_finite("eigenvalues", eta)
    check_finite("coefficients", v)
    if v.shape != eta.shape:
        raise ValueError(
            f"`coefficients` must have the shape of `eigenvalues` {eta.shape}, got {v.shape}."
        )
    if np.any(eta < 0):
        raise ValueError(f"`eigenvalues` must be >= 0, got minimum {eta.min():.3g}.")
    if ridge < 0 or noise < 0:
        raise ValueError(f"`ridge` and `noise` must be >= 0, got {ridge!r} and {noise!r}.")
    p = np.atleast_1d(np.asarray(num_train, np.float64))
    positive = int(np.sum(eta > 0))
    if np.any(p < 1) or (ridge == 0 and np.any(p >= positive)):
        raise ValueError(
            f"`num_train` must be in [1, {positive}) (the number of positive eigenvalues; more "
            f"samples need `ridge` > 0), got {np.asarray(num_train)!r}."
        )
    pc = p[:, None]

    def g(kappa):
        return 1 - ridge / kappa - np.sum(eta / (pc * eta + kappa[:, None]), axis=1)

    lo = np.full(p.shape, 1e-300)
    hi = np.full(p.shape, ridge + np.sum(eta) + 1.0)
    llo, lhi = np.log(lo), np.log(hi)
    for _ in range(200):
        mid = 0.5 * (llo + lhi)
        up = g(np.exp(mid)) > 0
        lhi, llo = np.where(up, mid, lhi), np.where(up, llo, mid)
    kappa = np.exp(0.5 * (llo + lhi))[:, None]
    denom = pc * eta + kappa
    gamma = np.sum(pc * eta**2 / denom**2, axis=1)
    err = (np.sum(kappa**2 * v**2 / denom**2, axis=1) + gamma * noise) / (1 - gamma)
    return err.reshape(np.shape(num_train))


def power_law_exponent(num_train: Any, errors: Any) -> float:
    """Least-squares slope of ``log errors`` against ``log num_train``."""
    return float(np.polyfit(np.log(np.asarray(num_train, float)), np.log(errors), 1)[0])
