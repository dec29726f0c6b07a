r"""Elementwise nonlinearities as layers.

For Gaussian pre-activations with covariance :math:`\Sigma` and tangent kernel :math:`\Theta`, an
elementwise :math:`\phi` gives (Lee et al. 2018; Jacot et al. 2018)

.. math::
    \Sigma'(x, x') = \mathbb{E}[\phi(u)\phi(v)], \qquad
    \Theta'(x, x') = \Theta(x, x')\, \mathbb{E}[\phi'(u)\phi'(v)],

with :math:`(u, v) \sim N(0, [[\Sigma(x, x), \Sigma(x, x')], [\Sigma(x, x'), \Sigma(x', x')]])`, at
every pair of spatial positions that the kernel state holds. The expectations are the
activation's (:mod:`lazyrich.nn._activations`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lazyrich.nn import _activations
from lazyrich.nn._base import (
    KernelState,
    Layer,
    check_shape,
    raise_layer_error,
    self_variances,
    symmetrize,
    variances,
)


def as_activation(fn: Any) -> Any:
    """An :class:`Activation` from an Activation, a registry name or an elementwise callable."""
    if isinstance(fn, _activations.Activation):
        return fn
    if isinstance(fn, str):
        return _activations.activation(fn)
    if callable(fn):
        return _activations.from_callable(fn)
    raise TypeError(
        f"`activation` must be an Activation, one of {_activations.ACTIVATIONS} or an elementwise "
        f"callable, got {fn!r}."
    )


@dataclasses.dataclass(frozen=True)
class Elementwise(Layer):
    """Apply an activation elementwise (the finite network) and its Gaussian expectations (kernel).

    Args:
      activation: an :class:`~lazyrich.nn.Activation`, a registry name (``"relu"``, ...) or an
        elementwise callable (integrated by Gauss-Hermite quadrature, its derivative by autodiff).

    Example:
      >>> from lazyrich import nn
      >>> layer = nn.Elementwise("relu")
    """

    activation: Any

    def __post_init__(self):
        try:
            act = as_activation(self.activation)
        except (TypeError, ValueError) as err:
            raise_layer_error(self, str(err))
        object.__setattr__(self, "activation", act)

    @property
    def display_name(self) -> str:
        name = getattr(self.activation, "name", None)
        return f"Elementwise[{name}]" if isinstance(name, str) else "Elementwise"

    def output_shape(self, input_shape):
        check_shape(self, input_shape)
        return input_shape

    def apply(self, params, x, *, key=None):
        return self.activation(x)

    def kernel(self, k: KernelState) -> KernelState:
        if not k.is_gaussian:
            raise_layer_error(
                self,
                "the kernel rule needs Gaussian pre-activations (put a Dense, Conv or attention "
                "layer before it); got the "
                + ("network input" if k.is_input else "output of a nonlinearity"),
            )
        act = self.activation
        var1, var2, mask = variances(k)
        nngp, dot = act.kernel(var1, var2, k.nngp, mask)
        ntk = None if k.ntk is None else k.ntk * dot
        if k.cov2 is None and isinstance(act, _activations._Numerical):
            # x2 is x1: a quadrature rule (one Cholesky order) is not exactly symmetric in (u, v).
            nngp = symmetrize(nngp, k)
            ntk = None if ntk is None else symmetrize(ntk, k)

        def self_cov(cov):
            if cov is None:
                return None
            va, vb, m = self_variances(k, cov)
            return act.kernel(va, vb, cov, m)[0]

        return k.replace(
            nngp=nngp,
            ntk=ntk,
            cov1=self_cov(k.cov1),
            cov2=self_cov(k.cov2),
            is_gaussian=False,
            is_input=False,
        )


def _named(name: str, layer_name: str):
    """A constructor ``layer_name(*params, **params) -> Elementwise`` for registry entry ``name``."""
    cls = _activations._REGISTRY[name]
    fields = tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name != "fn")

    def make(*args, **params) -> Elementwise:
        if len(args) > len(fields):
            raise TypeError(
                f"{layer_name} takes at most {len(fields)} positional parameters {fields}, got "
                f"{len(args)}."
            )
        for field, value in zip(fields, args):
            if field in params:
                raise TypeError(f"{layer_name} got `{field}` twice.")
            params[field] = value
        return Elementwise(_activations.activation(name, **params))

    make.__name__ = make.__qualname__ = layer_name
    signature = ", ".join(fields)
    make.__doc__ = (
        f"Elementwise layer of the ``{name!r}`` activation: ``{layer_name}({signature})`` is "
        f"``Elementwise(activation({name!r}, ...))`` (parameters as in neural-tangents' stax)."
    )
    return make


Relu = _named("relu", "Relu")
LeakyRelu = _named("leaky_relu", "LeakyRelu")
ABRelu = _named("ab_relu", "ABRelu")
Abs = _named("abs", "Abs")
Erf = _named("erf", "Erf")
Gelu = _named("gelu", "Gelu")
Sign = _named("sign", "Sign")
Sin = _named("sin", "Sin")
Cos = _named("cos", "Cos")
Rbf = _named("rbf", "Rbf")
Exp = _named("exp", "Exp")
Gaussian = _named("gaussian", "Gaussian")
Monomial = _named("monomial", "Monomial")
RectifiedMonomial = _named("rectified_monomial", "RectifiedMonomial")
Polynomial = _named("polynomial", "Polynomial")
Hermite = _named("hermite", "Hermite")
SigmoidLike = _named("sigmoid_like", "SigmoidLike")
Tanh = _named("tanh", "Tanh")
Softplus = _named("softplus", "Softplus")
ELEMENTWISE_LAYERS = (
    Relu,
    LeakyRelu,
    ABRelu,
    Abs,
    Erf,
    Gelu,
    Sign,
    Sin,
    Cos,
    Rbf,
    Exp,
    Gaussian,
    Monomial,
    RectifiedMonomial,
    Polynomial,
    Hermite,
    SigmoidLike,
    Tanh,
    Softplus,
)
