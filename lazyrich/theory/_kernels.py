r"""Infinite-width NNGP and NTK of fully connected networks (Jacot et al. 2018).

The network is ``depth`` times (Dense, activation) followed by a Dense readout, the convention of
neural-tangents' ``stax.serial(*[Dense(n, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))``.
With the NTK parameterization each Dense layer computes
:math:`z^{\ell+1} = \sigma_w W^{\ell} x^{\ell} / \sqrt{n_\ell} + \sigma_b b^{\ell}`, with
:math:`W, b` i.i.d. standard normal, and in the limit of infinite hidden widths (Jacot et al. 2018, Prop. 1 and Thm. 1):

.. math::
    \Sigma^{1}(x, x') = \sigma_w^2\, x^\top x' / n_0 + \sigma_b^2, \qquad \Theta^{1} = \Sigma^{1},

    \Sigma^{\ell+1} = \sigma_w^2\, \mathbb{E}_{(u,v)\sim N(0, \Sigma^{\ell})}[\phi(u)\phi(v)] +
    \sigma_b^2, \qquad
    \Theta^{\ell+1} = \Sigma^{\ell+1} + \sigma_w^2\, \Theta^{\ell}\,
    \mathbb{E}_{(u,v)\sim N(0, \Sigma^{\ell})}[\phi'(u)\phi'(v)].

The returned kernels are those of the readout, :math:`\ell = \mathrm{depth} + 1`.
:func:`mlp_kernels` builds this network with :mod:`lazyrich.nn` (:func:`mlp_network`) and evaluates
it with the general layer algebra of :func:`lazyrich.theory.kernel_fn`; the activations' Gaussian
expectations are those of :mod:`lazyrich.nn`'s registry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import nn
from lazyrich._checks import check_choice, check_finite, check_int, check_ndim, check_same_features
from lazyrich.theory._kernel_fn import Kernels, compute

CLOSED_FORM_ACTIVATIONS = ("relu", "erf", "abs", "gelu", "identity", "leaky_relu", "sign")
PARAMETERIZATIONS = ("ntk", "standard")


def mlp_network(
    depth: int,
    act: nn.Activation,
    weight_std,
    bias_std,
    *,
    parameterization: str,
    widths: tuple[int, ...],
) -> nn.Serial:
    """``depth`` times (Dense, act) and a Dense readout; scales may be traced arrays."""
    layers = []
    for width in widths:
        layers += [nn.Dense(width, weight_std, bias_std, parameterization), nn.Elementwise(act)]
    return nn.serial(*layers, nn.Dense(1, weight_std, bias_std, parameterization))


def _activation(activation, slope) -> nn.Activation:
    if isinstance(activation, nn.Activation):
        return activation
    if activation == "leaky_relu":
        return nn.activation("leaky_relu", alpha=slope)
    return nn.activation(activation)


@functools.partial(
    jax.jit,
    static_argnames=(
        "activation",
        "depth",
        "parameterization",
        "widths",
        "bias",
        "diagonal",
        "batch_size",
    ),
)
def _mlp_kernels(
    x1,
    x2,
    weight_std,
    bias_std,
    slope,
    *,
    activation,
    depth,
    parameterization,
    widths,
    bias,
    diagonal,
    batch_size,
):
    dtype = x1.dtype
    act = _activation(activation, jnp.asarray(slope, dtype))
    net = mlp_network(
        depth,
        act,
        jnp.asarray(weight_std, dtype),
        jnp.asarray(bias_std, dtype) if bias else None,
        parameterization=parameterization,
        widths=widths,
    )
    return Kernels(*compute(net, x1, x2, ntk=True, diagonal=diagonal, batch_size=batch_size))


def _check_scalar(name: str, value: Any) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, int | float | np.number) or hasattr(value, "shape")
    ):
        raise TypeError(
            f"`{name}` must be a real scalar, got {value!r} of type {type(value).__name__}."
        )
    if np.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {np.shape(value)}.")
    check_finite(name, value)


def mlp_kernels(
    x1: jax.Array,
    x2: jax.Array | None = None,
    *,
    depth: int,
    activation: str | Callable[[jax.Array], jax.Array] = "relu",
    weight_std: float | jax.Array = 1.0,
    bias_std: float | jax.Array | None = 0.0,
    parameterization: str = "ntk",
    negative_slope: float | jax.Array = 0.01,
    width: int | tuple[int, ...] | None = None,
    diagonal: bool = False,
    batch_size: int | None = None,
    quadrature_degree: int | None = None,
) -> Kernels:
    r"""Infinite-width NNGP and NTK of a fully connected network (Jacot et al. 2018; Lee et al. 2018).

    The network is ``depth`` hidden layers of (Dense, activation) and a Dense readout, the kernels
    are those of the readout, and the conventions are neural-tangents'
    ``stax.serial(*[Dense(n, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))``. In the NTK
    parameterization (``"ntk"``, pre-activations :math:`\sigma_w W x / \sqrt{n_{in}} + \sigma_b b`
    with standard normal :math:`W, b`):

    .. math::
        \Sigma^{1} = \sigma_w^2 \tfrac{x^\top x'}{n_0} + \sigma_b^2,\quad \Theta^1 = \Sigma^1,\quad
        \Sigma^{\ell+1} = \sigma_w^2\,\mathbb{E}[\phi(u)\phi(v)] + \sigma_b^2,\quad
        \Theta^{\ell+1} = \Sigma^{\ell+1} + \sigma_w^2\,\Theta^{\ell}\,\mathbb{E}[\phi'(u)\phi'(v)],

    with :math:`(u, v) \sim N(0, \Sigma^{\ell})` restricted to the pair :math:`(x, x')`.

    ``parameterization="standard"`` (:math:`W \sim N(0, \sigma_w^2/n_{in})`, :math:`b \sim N(0,
    \sigma_b^2)`, both trained directly) has the same NNGP, but the gradients with respect to the
    weights are not rescaled by :math:`\sigma_w/\sqrt{n_{in}}`, so every layer's weight term is
    multiplied by its fan-in and each bias contributes 1 (neural-tangents' convention with width
    scale ``s = 1``):
    :math:`\Theta^{1} = x^\top x' + 1` and
    :math:`\Theta^{\ell+1} = n_\ell\,\mathbb{E}[\phi(u)\phi(v)] + \sigma_w^2 \Theta^\ell
    \mathbb{E}[\phi'(u)\phi'(v)] + 1`. This NTK grows with the hidden widths :math:`n_\ell`, which
    must be given as ``width``; the bias terms are dropped with ``bias_std=None``.

    Activations with closed forms: ``"relu"`` (arc-cosine kernels of degree 1 and 0, no He factor),
    ``"erf"``, ``"abs"``, ``"gelu"`` (exact, :math:`x\Phi(x)`), ``"identity"``, ``"leaky_relu"``
    (:math:`\max(x, 0) + \text{negative\_slope}\cdot\min(x, 0)`) and ``"sign"``. For ``"sign"`` the
    derivative is a Dirac delta; like neural-tangents the almost-everywhere derivative 0 is used, so
    :math:`\mathbb{E}[\phi'\phi'] = 0` and only the layers above the last sign contribute to the
    NTK. Any other elementwise ``activation`` callable is integrated numerically over the bivariate
    Gaussian, its derivative by forward-mode autodiff (:func:`lazyrich.nn.from_callable`). By default
    (``quadrature_degree=None``) a trapezoidal rule on a sinh-mapped grid of 81 nodes per dimension
    is used, accurate to below 1e-6 relative for tanh and softplus at pre-activation variances up to
    25. An integer ``quadrature_degree`` selects ``degree`` x ``degree`` Gauss-Hermite quadrature
    instead, whose error decays like :math:`\exp(-c\sqrt{\text{degree}}/\sigma)` for an activation
    analytic in a strip (tanh: poles at :math:`\pm i\pi/2`) and pre-activation std :math:`\sigma`.
    Kinks converge slowly under either rule: use the closed forms.

    Args:
      x1: inputs, shape ``(n1, d)``.
      x2: second inputs, shape ``(n2, d)``; ``None`` means ``x1`` (the symmetric kernel).
      depth: number of hidden layers (>= 0; 0 is a linear model).
      activation: one of the names above, or an elementwise callable.
      weight_std: :math:`\sigma_w`.
      bias_std: :math:`\sigma_b`; ``None`` means no biases (same as 0 in the NTK parameterization).
      parameterization: ``"ntk"`` or ``"standard"``.
      negative_slope: slope for negative inputs of ``"leaky_relu"`` (ignored otherwise).
      width: hidden widths for the standard-parameterization NTK (an int or a tuple of ``depth``
        ints).
      diagonal: if True, return only :math:`k(x, x)` for each row of ``x1``, shape ``(n1,)``, without
        the matrix (``x2`` must be ``None``).
      batch_size: if given and smaller than ``n1``, compute the kernel in row blocks of
        ``batch_size`` rows with ``jax.lax.map``, so no intermediate is larger than ``(batch_size,
        n2)``. With ``x2=None`` the diagonal pairs use cos = 1 exactly; identical rows of distinct
        ``x1`` and ``x2`` carry float32 errors of order :math:`\sqrt{\epsilon}` in the arc-cosine
        angle.
      quadrature_degree: ``None`` (the sinh-mapped rule) or a Gauss-Hermite degree for callable
        activations.

    Returns:
      :class:`Kernels` with ``nngp`` and ``ntk`` of shape ``(n1, n2)`` (``(n1,)`` with
      ``diagonal``), in the dtype of ``x1``.

    Raises:
      ValueError: for inputs that are not 2-D, differ in feature dimension or are non-finite;
        ``depth < 0``; an unknown ``activation`` or ``parameterization``; a missing or malformed
        ``width`` for the standard parameterization; ``diagonal`` with ``x2``; ``batch_size < 1``.
      TypeError: for a non-integer ``depth`` / ``batch_size`` / ``quadrature_degree``, non-float
        inputs, or an ``activation`` that is neither a string nor a callable.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> k = mlp_kernels(x, depth=3, bias_std=0.1)
      >>> print(f"{float(k.ntk[0, 0]):.4f} {float(k.nngp[0, 0]):.5f}")
      0.2825 0.08125

    References:
      Jacot, Gabriel, Hongler (2018), https://arxiv.org/abs/1806.07572, Prop. 1 and Thm. 1.
      Lee et al. (2018), https://arxiv.org/abs/1711.00165; Cho & Saul (2009) for the arc-cosine
      kernels.
    """
    # --- validation, before any work ---
    check_int("depth", depth, minimum=0)
    if quadrature_degree is not None:
        check_int("quadrature_degree", quadrature_degree, minimum=1)
    if isinstance(activation, str):
        check_choice("activation", activation, CLOSED_FORM_ACTIVATIONS)
    elif not callable(activation):
        raise TypeError(
            f"`activation` must be one of {CLOSED_FORM_ACTIVATIONS} or a callable, "
            f"got {activation!r}."
        )
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    for name, x in (("x1", x1), ("x2", x2)):
        if x is None:
            continue
        if not hasattr(x, "dtype"):
            raise TypeError(f"`{name}` must be an array, got {type(x).__name__}.")
        check_ndim(name, x, 2)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"`{name}` must have a floating dtype, got {x.dtype}.")
        if x.shape[-1] == 0:
            raise ValueError(f"`{name}` must have at least one feature, got shape {x.shape}.")
        check_finite(name, x)
    if x2 is not None:
        check_same_features("x1", x1, "x2", x2)
        if x2.dtype != x1.dtype:
            raise TypeError(
                f"`x1` and `x2` must have the same dtype, got {x1.dtype} and {x2.dtype}."
            )
    _check_scalar("weight_std", weight_std)
    if bias_std is not None:
        _check_scalar("bias_std", bias_std)
    _check_scalar("negative_slope", negative_slope)
    if parameterization == "standard":
        if width is None:
            raise ValueError(
                "`width` is required for parameterization='standard' (its NTK scales with the "
                "hidden widths); pass an int or a tuple of `depth` ints."
            )
        widths = (width,) * depth if isinstance(width, int | np.integer) else tuple(width)
        if len(widths) != depth:
            raise ValueError(f"`width` must have `depth`={depth} entries, got {width!r}.")
        for w in widths:
            check_int("width", w, minimum=1)
        widths = tuple(int(w) for w in widths)
    else:
        widths = (1,) * depth  # the NTK parameterization's kernels do not depend on the widths
    if diagonal and x2 is not None:
        raise ValueError(
            "`diagonal=True` computes k(x, x) for the rows of `x1`; `x2` must be None."
        )
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1)

    if callable(activation):  # numerical quadrature (checked elementwise on a probe)
        if quadrature_degree is None:
            activation = nn.from_callable(activation)
        else:
            activation = nn.from_callable(activation, degree=quadrature_degree, rule="hermite")
    return _mlp_kernels(
        x1,
        x2,
        weight_std,
        0.0 if bias_std is None else bias_std,
        negative_slope,
        activation=activation,
        depth=depth,
        parameterization=parameterization,
        widths=widths,
        bias=bias_std is not None,
        diagonal=diagonal,
        batch_size=batch_size,
    )
