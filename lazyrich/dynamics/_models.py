r"""Bias-free MLPs and a small CNN in the NTK and mean-field parameterizations.

Conventions: ``docs/conventions.md`` §2 (output scale) and §6 (parameterizations).

Fully connected network with ``depth`` hidden layers of ``width`` h, weights :math:`W \sim N(0, 1)`, no
biases and a unit-second-moment activation :math:`\phi` (:func:`normalized_activation`):

.. math::
    z^{(1)} = W^{(1)} x/\sqrt{d}, \qquad z^{(l+1)} = W^{(l+1)}\phi(z^{(l)})/\sqrt{h}, \qquad
    f(w, x) = \frac{1}{h^{s}} \sum_{i=1}^{h} W^{(L+1)}_i \phi(z^{(L)}_i),

with readout exponent :math:`s = 1/2` (``"ntk"``) or :math:`s = 1` (``"mean_field"``, Sclocchi et al.'s
``mlp``; with it the lazy/rich crossover of the centred model :math:`\alpha(f - f_0)` sits at
:math:`\alpha \sim 1` for every width).

Two forms are offered:

* :func:`bias_free_mlp` returns the pure pair ``(apply_fn, params)`` that the training loop uses (``params`` is a dict
  ``{"layer00": W1, ..., "layerL": W_out}``; weights are stored ``(fan_in, fan_out)``);
* :class:`BiasFreeMLP` and :class:`BiasFreeCNN` are Flax NNX modules; ``lazyrich.dynamics.from_nnx`` turns
  them into the pure pair.
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
from flax import nnx

from lazyrich._checks import check_choice, check_int, check_key
from lazyrich._types import ApplyFn, Array, Params
from lazyrich.dynamics._activations import NORMALIZED_ACTIVATIONS, normalized_activation

Parameterization = Literal["ntk", "mean_field"]
PARAMETERIZATIONS: tuple[str, ...] = ("ntk", "mean_field")


def _readout_scale(width: int, parameterization: str) -> float:
    return 1.0 / math.sqrt(width) if parameterization == "ntk" else 1.0 / width


def _check_architecture(input_dim, width, depth, activation, parameterization):
    check_int("input_dim", input_dim, minimum=1)
    check_int("width", width, minimum=1)
    check_int("depth", depth, minimum=1)
    check_choice("activation", activation, NORMALIZED_ACTIVATIONS)
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)


def layer_name(index: int) -> str:
    """Name of the ``index``-th weight matrix of :func:`bias_free_mlp` (0-based; sorts in layer order)."""
    return f"layer{index:02d}"


def bias_free_mlp(
    *,
    input_dim: int,
    width: int,
    depth: int,
    activation: str = "relu",
    parameterization: Parameterization = "mean_field",
    key: Array,
    dtype=jnp.float32,
) -> tuple[ApplyFn, Params]:
    r"""A bias-free fully connected network as a pure ``(apply_fn, params)`` pair.

    See the module docstring for the equations. ``apply_fn(params, x)`` maps ``x`` of shape ``(P, input_dim)``
    to outputs of shape ``(P,)``; it is jit-, vmap- and grad-compatible.

    Args:
      input_dim: input dimension d.
      width: hidden width h.
      depth: number of hidden layers L (>= 1).
      activation: ``"relu"``, ``"gelu"``, ``"tanh"`` or ``"linear"``, normalised to unit second moment.
      parameterization: ``"mean_field"`` (readout 1/h) or ``"ntk"`` (readout 1/sqrt(h)).
      key: typed PRNG key for the N(0, 1) weights.
      dtype: parameter dtype.

    Returns:
      ``(apply_fn, params)``.

    Raises:
      ValueError, TypeError: for a bad architecture argument or key.

    References:
      Sclocchi, Geiger, Wyart (2023), https://arxiv.org/abs/2301.13703, Sec. 2;
      Geiger et al. (2020), https://arxiv.org/abs/1906.08034.
    """
    _check_architecture(input_dim, width, depth, activation, parameterization)
    check_key("key", key)
    apply_fn = bias_free_mlp_apply_fn(
        input_dim=input_dim,
        width=width,
        depth=depth,
        activation=activation,
        parameterization=parameterization,
    )
    return apply_fn, bias_free_mlp_init(
        input_dim=input_dim, width=width, depth=depth, key=key, dtype=dtype
    )


def bias_free_mlp_init(
    *, input_dim: int, width: int, depth: int, key: Array, dtype=jnp.float32
) -> Params:
    """N(0, 1) weights of :func:`bias_free_mlp` (vmap this over keys for a seed ensemble)."""
    keys = jr.split(key, depth + 1)
    shapes = [(input_dim, width)] + [(width, width)] * (depth - 1) + [(width,)]
    return {layer_name(i): jr.normal(k, s, dtype) for i, (k, s) in enumerate(zip(keys, shapes))}


def bias_free_mlp_apply_fn(
    *,
    input_dim: int,
    width: int,
    depth: int,
    activation: str = "relu",
    parameterization: Parameterization = "mean_field",
) -> ApplyFn:
    """The pure forward function of :func:`bias_free_mlp` (no parameters created)."""
    _check_architecture(input_dim, width, depth, activation, parameterization)
    phi = normalized_activation(activation)
    readout = _readout_scale(width, parameterization)
    names = [layer_name(i) for i in range(depth + 1)]

    def apply_fn(params: Params, x: Array) -> Array:
        h = x @ params[names[0]] / math.sqrt(input_dim)
        for name in names[1:-1]:
            h = phi(h) @ params[name] / math.sqrt(width)
        return phi(h) @ params[names[-1]] * readout

    return apply_fn


class BiasFreeMLP(nnx.Module):
    """NNX version of :func:`bias_free_mlp` (same equations and initialisation law; use ``from_nnx`` to train)."""

    def __init__(
        self,
        *,
        input_dim: int,
        width: int,
        depth: int,
        activation: str = "relu",
        parameterization: Parameterization = "mean_field",
        rngs: nnx.Rngs,
    ):
        _check_architecture(input_dim, width, depth, activation, parameterization)
        self.input_dim, self.width, self.depth = input_dim, width, depth
        self.phi = normalized_activation(activation)
        self.readout = _readout_scale(width, parameterization)
        shapes = [(input_dim, width)] + [(width, width)] * (depth - 1) + [(width,)]
        self.weights = nnx.List([nnx.Param(jr.normal(rngs.params(), s)) for s in shapes])

    def __call__(self, x: Array) -> Array:
        h = x @ self.weights[0][...] / math.sqrt(self.input_dim)
        for w in list(self.weights)[1:-1]:
            h = self.phi(h) @ w[...] / math.sqrt(self.width)
        return self.phi(h) @ self.weights[-1][...] * self.readout


class BiasFreeCNN(nnx.Module):
    r"""A small bias-free CNN (inputs NHWC) in the NTK or mean-field parameterization.

    ``depth`` 3x3 'SAME' convolutions with ``width`` channels, the first with stride 2; each regular
    convolution is divided by :math:`k\sqrt{C_{in}}` (the square root of its fan-in), as in Sclocchi et al.'s
    ``mnas`` code; N(0, 1) weights; normalised activation; global average pooling; linear readout divided by
    ``width`` (mean field) or its square root (NTK). Output shape ``(P,)``. A lighter stand-in for the paper's
    MnasNet-like ``mnas`` network of Sclocchi et al.'s code, which is not reproduced here.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        width: int,
        depth: int = 2,
        activation: str = "relu",
        parameterization: Parameterization = "mean_field",
        kernel_size: int = 3,
        rngs: nnx.Rngs,
    ):
        check_int("in_channels", in_channels, minimum=1)
        _check_architecture(in_channels, width, depth, activation, parameterization)
        check_int("kernel_size", kernel_size, minimum=1)
        self.phi = normalized_activation(activation)
        self.readout = _readout_scale(width, parameterization)
        self.kernel_size = kernel_size
        channels = [in_channels] + [width] * depth
        self.kernels = nnx.List(
            [
                nnx.Param(jr.normal(rngs.params(), (kernel_size, kernel_size, c_in, c_out)))
                for c_in, c_out in zip(channels[:-1], channels[1:])
            ]
        )
        self.head = nnx.Param(jr.normal(rngs.params(), (width,)))

    def __call__(self, x: Array) -> Array:
        h = x
        for i, kernel in enumerate(self.kernels):
            k = kernel[...]
            if i > 0:
                h = self.phi(h)
            h = jax.lax.conv_general_dilated(
                h,
                k,
                window_strides=(2, 2) if i == 0 else (1, 1),
                padding="SAME",
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            ) / (self.kernel_size * math.sqrt(k.shape[2]))
        pooled = jnp.mean(self.phi(h), axis=(1, 2))
        return pooled @ self.head[...] * self.readout
