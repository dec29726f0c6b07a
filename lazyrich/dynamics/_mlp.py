"""Fully connected networks in the NTK and standard parameterizations (the finite twin of
:func:`lazyrich.theory.mlp_kernels`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp

from lazyrich import _checks
from lazyrich.dynamics._activations import ACTIVATIONS, activation_fn

__all__ = ["mlp", "ACTIVATIONS"]


def mlp(
    key: jax.Array,
    *,
    input_dim: int,
    width: int,
    depth: int,
    output_dim: int = 1,
    activation: str | Callable[[jax.Array], jax.Array] = "relu",
    weight_std: float = 1.0,
    bias_std: float = 0.0,
    parameterization: Literal["ntk", "standard"] = "ntk",
    dtype=jnp.float32,
):
    r"""A ``depth``-hidden-layer MLP as ``(apply_fn, params)``.

    The network is ``depth`` times (Dense, activation) followed by a Dense readout, the convention of
    neural-tangents' ``stax.serial(*[Dense(width, W_std, b_std), Act()] * depth, Dense(O, W_std, b_std))``.

    * ``parameterization="ntk"`` (Jacot et al.): :math:`z^{\ell+1} = \sigma_w W^\ell a^\ell/\sqrt{n_\ell}
      + \sigma_b b^\ell` with :math:`W, b \sim \mathcal N(0, 1)` trainable;
    * ``"standard"``: :math:`z^{\ell+1} = W^\ell a^\ell + b^\ell` with
      :math:`W \sim \mathcal N(0, \sigma_w^2/n_\ell)`, :math:`b \sim \mathcal N(0, \sigma_b^2)`.

    Both give the same function distribution at initialization (hence the same NNGP); their tangent kernels
    differ because the gradient of the NTK form carries the :math:`1/\sqrt{n_\ell}` factors.

    Args:
      key: typed PRNG key for the initial parameters.
      input_dim: number of input features.
      width: hidden width (all hidden layers).
      depth: number of hidden layers (>= 0).
      output_dim: number of outputs O.
      activation: a name in :data:`ACTIVATIONS` or a callable.
      weight_std, bias_std: :math:`\sigma_w, \sigma_b`.
      parameterization: ``"ntk"`` or ``"standard"``.
      dtype: parameter dtype.

    Returns:
      ``(apply_fn, params)``; ``apply_fn(params, x)`` maps ``(n, input_dim)`` to ``(n, output_dim)``, and
      ``params`` is a list of ``{"w": (n_in, n_out), "b": (n_out,)}`` dicts.
    """
    _checks.check_key("key", key)
    _checks.check_int("input_dim", input_dim, minimum=1)
    _checks.check_int("width", width, minimum=1)
    _checks.check_int("depth", depth, minimum=0)
    _checks.check_int("output_dim", output_dim, minimum=1)
    _checks.check_choice("parameterization", parameterization, ("ntk", "standard"))
    if isinstance(activation, str):
        phi = activation_fn(activation)
    elif callable(activation):
        phi = activation
    else:
        raise TypeError(f"`activation` must be a name or a callable, got {activation!r}.")

    sizes = [input_dim] + [width] * depth + [output_dim]
    keys = jax.random.split(key, len(sizes) - 1)
    params = []
    for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:]):
        kw, kb = jax.random.split(k)
        w = jax.random.normal(kw, (n_in, n_out), dtype)
        b = jax.random.normal(kb, (n_out,), dtype)
        if parameterization == "standard":
            w, b = w * (weight_std / n_in**0.5), b * bias_std
        params.append({"w": w, "b": b})

    def apply_fn(params, x):
        a = x
        for layer, p in enumerate(params):
            if parameterization == "ntk":
                z = (weight_std / p["w"].shape[0] ** 0.5) * (a @ p["w"]) + bias_std * p["b"]
            else:
                z = a @ p["w"] + p["b"]
            a = phi(z) if layer < len(params) - 1 else z
        return a

    return apply_fn, params
