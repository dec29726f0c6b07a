r"""Combinators: serial composition, parallel branches, fan-out and fan-in, repetition, Identity.

Kernel rules (independent branches have independent weights, so their covariances add):

* ``serial``: composition of the rules;
* ``FanOut(n)``: ``n`` copies of the same state;
* ``parallel(f_1, ..., f_n)``: ``f_i`` on branch ``i``;
* ``FanInSum``: :math:`\Sigma = \sum_i \Sigma_i`, :math:`\Theta = \sum_i \Theta_i` (the branches'
  parameters are disjoint; their pre-activations are independent given the input);
* ``FanInConcat``: along channels, the channel-weighted mean :math:`\sum_i c_i \Sigma_i / \sum_i c_i`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from lazyrich.nn._base import (
    KernelState,
    Layer,
    LayerError,
    any_need,
    check_shape,
    is_branches,
    raise_layer_error,
    reraise_within,
    split_keys,
    to_diagonal,
)


def _keep_layout(k):
    """The requirement that keeps every branch of ``k`` in its current layout."""
    if isinstance(k, tuple):
        return tuple(_keep_layout(b) for b in k)
    return k.full_spatial


def _check_layers(container: Any, layers: tuple) -> None:
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise_layer_error(
                container, f"element {i} must be a lazyrich.nn layer, got {type(layer).__name__}"
            )


@dataclasses.dataclass(frozen=True)
class Serial(Layer):
    """Layers applied one after another (built by :func:`serial`)."""

    layers: tuple
    display_name: str = "serial"

    def __post_init__(self):
        _check_layers(self, self.layers)

    def output_shape(self, input_shape):
        shape = input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except LayerError as err:
                raise reraise_within(err, i, self, layer) from None
        return shape

    def init(self, key, input_shape):
        params, shape = [], input_shape
        for i, (layer, k) in enumerate(zip(self.layers, split_keys(key, len(self.layers)))):
            try:
                params.append(layer.init(k, shape))
                shape = layer.output_shape(shape)
            except LayerError as err:
                raise reraise_within(err, i, self, layer) from None
        return tuple(params)

    def apply(self, params, x, *, key=None):
        if not isinstance(params, tuple | list) or len(params) != len(self.layers):
            raise_layer_error(
                self,
                f"`params` must be a tuple of {len(self.layers)} entries (from `init`), got "
                f"{type(params).__name__}"
                + (f" of {len(params)}" if hasattr(params, "__len__") else ""),
            )
        keys = split_keys(key, len(self.layers))
        for i, (layer, p, k) in enumerate(zip(self.layers, params, keys)):
            try:
                x = layer.apply(p, x, key=k)
            except LayerError as err:
                raise reraise_within(err, i, self, layer) from None
        return x

    def needs_full_spatial(self, out_full):
        for layer in reversed(self.layers):
            out_full = layer.needs_full_spatial(out_full)
        return out_full

    def output_needs(self, out_full) -> list:
        """The requirement at the output of each layer, given the requirement at the end."""
        needs = [out_full]
        for layer in reversed(self.layers[1:]):
            needs.append(layer.needs_full_spatial(needs[-1]))
        return needs[::-1]

    def kernel(self, k):
        return self.kernel_to(k, _keep_layout(k))

    def kernel_to(self, k, out_full):
        for i, (layer, need) in enumerate(zip(self.layers, self.output_needs(out_full))):
            try:
                k = layer.kernel_to(k, need)
            except LayerError as err:
                raise reraise_within(err, i, self, layer) from None
        return k

    def layout(self, input_shape, out_full, path=""):
        rows, shape = [], input_shape
        for i, (layer, need) in enumerate(zip(self.layers, self.output_needs(out_full))):
            rows += layer.layout(shape, need, f"{path}.{i}" if path else str(i))
            shape = layer.output_shape(shape)
        return rows


def serial(*layers: Layer) -> Serial:
    """Compose layers: ``serial(f, g)(x) = g(f(x))``; the kernel rule is the composition too.

    Example:
      >>> from lazyrich import nn
      >>> net = nn.serial(nn.Dense(64), nn.Relu(), nn.Dense(1))
    """
    return Serial(tuple(layers))


def repeat(layer: Layer, n: int) -> Serial:
    """``n`` copies of ``layer`` in series (independent weights in the finite network)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LayerError("repeat", f"`n` must be a positive integer, got {n!r}")
    return Serial((layer,) * n, display_name="repeat")


@dataclasses.dataclass(frozen=True)
class Parallel(Layer):
    """Layer ``i`` applied to branch ``i`` of a multi-branch value (built by :func:`parallel`)."""

    layers: tuple
    display_name: str = "parallel"

    def __post_init__(self):
        _check_layers(self, self.layers)

    def _branches(self, input_shape):
        if not is_branches(input_shape) or len(input_shape) != len(self.layers):
            raise_layer_error(
                self,
                f"needs {len(self.layers)} branches (e.g. after FanOut({len(self.layers)})), got "
                f"{'shape' if not is_branches(input_shape) else 'branch shapes'} {input_shape}",
            )
        return input_shape

    def output_shape(self, input_shape):
        out = []
        for i, (layer, shape) in enumerate(zip(self.layers, self._branches(input_shape))):
            try:
                out.append(layer.output_shape(shape))
            except LayerError as err:
                raise reraise_within(err, i, self, layer) from None
        return tuple(out)

    def init(self, key, input_shape):
        shapes = self._branches(input_shape)
        params = []
        for i, (layer, shape, k) in enumerate(
            zip(self.layers, shapes, split_keys(key, len(self.layers)))
        ):
            try:
                params.append(layer.init(k, shape))
            except LayerError as err:
                raise reraise_within(err, i, self, layer) from None
        return tuple(params)

    def apply(self, params, x, *, key=None):
        keys = split_keys(key, len(self.layers))
        return tuple(
            layer.apply(p, xi, key=k)
            for layer, p, xi, k in zip(self.layers, params, x, keys, strict=True)
        )

    def _needs(self, out_full):
        if isinstance(out_full, tuple):
            return out_full
        return (out_full,) * len(self.layers)

    def needs_full_spatial(self, out_full):
        return tuple(
            layer.needs_full_spatial(o)
            for layer, o in zip(self.layers, self._needs(out_full), strict=True)
        )

    def kernel(self, k):
        return self.kernel_to(k, _keep_layout(k))

    def kernel_to(self, k, out_full):
        out = []
        for i, (layer, b, o) in enumerate(zip(self.layers, k, self._needs(out_full), strict=True)):
            try:
                out.append(layer.kernel_to(b, o))
            except LayerError as err:
                raise reraise_within(err, i, self, layer) from None
        return tuple(out)

    def layout(self, input_shape, out_full, path=""):
        rows = []
        for i, (layer, shape, need) in enumerate(
            zip(self.layers, input_shape, self._needs(out_full), strict=True)
        ):
            rows += layer.layout(shape, need, f"{path}[{i}]" if path else f"[{i}]")
        return rows


def parallel(*layers: Layer) -> Parallel:
    """Apply ``layers[i]`` to branch ``i`` (use after :class:`FanOut`; combine with a fan-in).

    Example (a residual block):
      >>> from lazyrich import nn
      >>> block = nn.serial(nn.Relu(), nn.Dense(64))
      >>> res = nn.serial(nn.FanOut(2), nn.parallel(block, nn.Identity()), nn.FanInSum())
    """
    return Parallel(tuple(layers))


@dataclasses.dataclass(frozen=True)
class FanOut(Layer):
    """Copy the input into ``num`` branches."""

    num: int

    def __post_init__(self):
        if isinstance(self.num, bool) or not isinstance(self.num, int) or self.num < 1:
            raise_layer_error(self, f"`num` must be a positive integer, got {self.num!r}")

    def output_shape(self, input_shape):
        check_shape(self, input_shape)
        return (input_shape,) * self.num

    def apply(self, params, x, *, key=None):
        return (x,) * self.num

    def needs_full_spatial(self, out_full):
        return any_need(out_full)

    def kernel(self, k):
        return (k,) * self.num


def _fan_in_shapes(layer, input_shape):
    if not is_branches(input_shape):
        raise_layer_error(
            layer,
            f"needs several branches (e.g. after FanOut and parallel), got shape {input_shape}",
        )
    for shape in input_shape:
        check_shape(layer, shape)
    return input_shape


def _same_layout(states) -> tuple:
    """Bring branches to one spatial layout (diagonal unless all of them are full)."""
    if all(s.full_spatial for s in states):
        return tuple(states)
    return tuple(to_diagonal(s) for s in states)


def _combine(states, weights, channels: int) -> KernelState:
    def mix(field):
        parts = [getattr(s, field) for s in states]
        if any(p is None for p in parts):
            return None
        total = weights[0] * parts[0]
        for w, p in zip(weights[1:], parts[1:]):
            total = total + w * p
        return total

    first = states[0]
    return first.replace(
        nngp=mix("nngp"),
        ntk=mix("ntk"),
        cov1=mix("cov1"),
        cov2=mix("cov2"),
        channels=channels,
        is_gaussian=all(s.is_gaussian for s in states),
        is_input=False,
    )


@dataclasses.dataclass(frozen=True)
class FanInSum(Layer):
    """Sum the branches (all of the same shape); the kernels add."""

    def output_shape(self, input_shape):
        shapes = _fan_in_shapes(self, input_shape)
        if len(set(shapes)) != 1:
            raise_layer_error(self, f"needs branches of equal shapes, got {shapes}")
        return shapes[0]

    def apply(self, params, x, *, key=None):
        out = x[0]
        for xi in x[1:]:
            out = out + xi
        return out

    def kernel(self, k):
        states = _same_layout(k)
        return _combine(states, (1.0,) * len(states), states[0].channels)


@dataclasses.dataclass(frozen=True)
class FanInConcat(Layer):
    """Concatenate the branches along the channel (last) axis; the kernel is the channel-weighted mean.

    Only ``axis=-1`` (channels) is supported.
    """

    axis: int = -1

    def __post_init__(self):
        if self.axis != -1:
            raise_layer_error(self, f"only `axis=-1` (channels) is supported, got {self.axis!r}")

    def output_shape(self, input_shape):
        shapes = _fan_in_shapes(self, input_shape)
        if len({s[:-1] for s in shapes}) != 1:
            raise_layer_error(
                self, f"needs branches that differ only in their channels, got {shapes}"
            )
        return shapes[0][:-1] + (sum(s[-1] for s in shapes),)

    def apply(self, params, x, *, key=None):
        return jax.numpy.concatenate(x, axis=-1)

    def kernel(self, k):
        states = _same_layout(k)
        total = sum(s.channels for s in states)
        return _combine(states, tuple(s.channels / total for s in states), total)


@dataclasses.dataclass(frozen=True)
class Identity(Layer):
    """The identity layer (no parameters; kernel unchanged)."""

    def output_shape(self, input_shape):
        return input_shape

    def apply(self, params, x, *, key=None):
        return x

    def kernel(self, k):
        return k
