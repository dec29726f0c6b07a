"""Tangent-kernel alignment of a two-layer linear network against the effective rank of its initial weights.

Model (Liu et al., ICLR 2024, https://arxiv.org/abs/2310.08513, Theorem 1): :math:`f(x) = w^\\top W
x`, :math:`W \\in \\mathbb R^{h\\times d}`, whitened inputs (:math:`\\mathbb E\\, x x^\\top = I`),
target :math:`y = \\beta^\\top x`, gradient flow on the squared error from a small initialisation
with :math:`\\|W_0\\|_F = \\|w_0\\| = \\sigma`. Every NTK of this model is bilinear, :math:`K(x, x')
= x^\\top M x'`, and for whitened inputs the kernel alignment is :math:`A = \\mathrm{Tr}(M_0
M_\\infty)/(\\|M_0\\|_F\\|M_\\infty\\|_F)`, with

* readout-side NTK (gradient with respect to w only): :math:`M = W^\\top W`;
* full NTK: :math:`M = W^\\top W + \\|w\\|^2 I`.

As :math:`\\sigma \\to 0` gradient flow ends at :math:`W_\\infty^\\top W_\\infty = \\|\\beta\\|\\hat\\beta\\hat\\beta^\\top`,
:math:`\\|w_\\infty\\|^2 = \\|\\beta\\|` (balancedness :math:`W W^\\top - w w^\\top \\approx 0` is conserved), so
for :math:`\\hat\\beta` uniform on the sphere (:math:`\\mathbb E\\,\\hat\\beta\\hat\\beta^\\top = I/d`) and
:math:`\\mathrm{PR}(W_0) = (\\sum_k s_k^2)^2/\\sum_k s_k^4` over the singular values of :math:`W_0`:

.. math::
    \\mathbb E[A_{\\rm readout}] = \\frac{\\sqrt{\\mathrm{PR}(W_0)}}{d},\\qquad
    \\mathbb E[A_{\\rm full}] = \\frac{(d+1)^2}{d\\,\\sqrt{d+3}\\,\\sqrt{d + 2 + \\mathrm{PR}(W_0)^{-1}}}.

Both increase with PR, i.e. higher-rank initial weights give lazier (more aligned) learning on average over
tasks. The expectations are exact given the end point because A is linear in :math:`\\hat\\beta\\hat\\beta^\\top`
(a derivation, not a formula printed in the paper; checked against gradient-descent simulation in
``tests/theory/test_linear_rank.py`` and the ``lowrank-theory`` figure).

References:
  Liu et al. (ICLR 2024), https://arxiv.org/abs/2310.08513, Theorem 1 and Proposition 1 (Sec. 2.3).
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from lazyrich import _checks
from lazyrich._linalg import kernel_alignment

__all__ = [
    "linear_kernel_matrix",
    "linear_rank_alignment",
    "linear_rank_alignment_endpoint",
]

Kernel = Literal["readout", "full"]


def linear_kernel_matrix(
    w_in: jax.Array, w_out: jax.Array, *, kernel: Kernel = "readout"
) -> jax.Array:
    """The matrix M of the bilinear NTK :math:`K(x, x') = x^\\top M x'` of :math:`f(x) = w^\\top W x`.

    Args:
      w_in: first-layer weights W, shape ``(h, d)``.
      w_out: readout w, shape ``(h,)``.
      kernel: ``"readout"`` (:math:`W^\\top W`, gradient with respect to w only) or ``"full"``
        (:math:`W^\\top W + \\|w\\|^2 I`).

    Returns:
      ``(d, d)`` matrix.

    Raises:
      ValueError: for inconsistent shapes or an unknown ``kernel``.
    """
    _checks.check_ndim("w_in", w_in, 2)
    _checks.check_ndim("w_out", w_out, 1)
    _checks.check_choice("kernel", kernel, ("readout", "full"))
    if w_out.shape[0] != w_in.shape[0]:
        raise ValueError(
            f"`w_out` must have shape ({w_in.shape[0]},) to match `w_in` {w_in.shape}, got "
            f"{w_out.shape}."
        )
    m = w_in.T @ w_in
    if kernel == "full":
        m = m + jnp.sum(w_out * w_out) * jnp.eye(w_in.shape[1], dtype=m.dtype)
    return m


def linear_rank_alignment_endpoint(
    w_in0: jax.Array, w_out0: jax.Array, teacher: jax.Array, *, kernel: Kernel = "readout"
) -> jax.Array:
    """Alignment between the initial NTK and the small-initialisation end-point NTK, one task.

    :math:`A(M_0, M_\\infty)` with :math:`M_\\infty = \\|\\beta\\|\\hat\\beta\\hat\\beta^\\top` (readout) or
    :math:`\\|\\beta\\|(\\hat\\beta\\hat\\beta^\\top + I)` (full).

    Args:
      w_in0: ``(h, d)`` initial first layer.
      w_out0: ``(h,)`` initial readout.
      teacher: ``(d,)`` teacher vector beta.
      kernel: ``"readout"`` or ``"full"``.

    Returns:
      Scalar alignment.
    """
    _checks.check_ndim("teacher", teacher, 1)
    if teacher.shape[0] != jnp.shape(w_in0)[-1]:
        raise ValueError(
            f"`teacher` must have shape ({jnp.shape(w_in0)[-1]},), got {teacher.shape}."
        )
    m0 = linear_kernel_matrix(w_in0, w_out0, kernel=kernel)
    norm = jnp.sqrt(jnp.sum(teacher * teacher))
    b = teacher / norm
    m_inf = norm * jnp.outer(b, b)
    if kernel == "full":
        m_inf = m_inf + norm * jnp.eye(b.shape[0], dtype=m_inf.dtype)
    return kernel_alignment(m0, m_inf)


def linear_rank_alignment(
    participation_ratio, input_dim: int, *, kernel: Kernel = "readout"
) -> jax.Array:
    """Expected NTK alignment over uniformly random teacher directions at small initialisation.

    ``sqrt(PR) / d`` (readout) or ``(d+1)^2 / (d sqrt(d+3) sqrt(d+2+1/PR))`` (full); see the module docstring.

    Args:
      participation_ratio: PR of the initial first-layer weights, in ``[1, min(h, d)]`` (array-like, traced ok).
      input_dim: d.
      kernel: ``"readout"`` or ``"full"``.

    Returns:
      Array of the shape of ``participation_ratio``.

    Raises:
      ValueError: for ``input_dim < 1``, an unknown ``kernel`` or a concrete PR outside ``[1, input_dim]``.
    """
    _checks.check_int("input_dim", input_dim, minimum=1)
    _checks.check_choice("kernel", kernel, ("readout", "full"))
    if not isinstance(participation_ratio, jax.core.Tracer):
        import numpy as np

        pr = np.asarray(participation_ratio, dtype=float)
        if np.any(pr < 1 - 1e-6) or np.any(pr > input_dim + 1e-6):
            raise ValueError(
                f"`participation_ratio` must lie in [1, input_dim={input_dim}], got {participation_ratio!r}."
            )
    pr = jnp.asarray(participation_ratio)
    pr = pr if jnp.issubdtype(pr.dtype, jnp.floating) else pr.astype(jnp.float32)
    d = jnp.asarray(input_dim, pr.dtype)
    if kernel == "readout":
        return jnp.sqrt(pr) / d
    return (d + 1.0) ** 2 / (d * jnp.sqrt(d + 3.0) * jnp.sqrt(d + 2.0 + 1.0 / pr))
