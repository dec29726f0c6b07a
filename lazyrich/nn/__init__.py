"""Architectures with two meanings: finite networks and their infinite-width NNGP/NTK kernels.

A network is written once from layers and combinators, e.g. a CNN with global average pooling::

    from lazyrich import nn, theory
    net = nn.serial(nn.Conv(64, (3, 3)), nn.Relu(), nn.Conv(64, (3, 3)), nn.Relu(),
                    nn.GlobalAvgPool(), nn.Dense(1))
    params = net.init(jax.random.key(0), (8, 8, 1))      # the finite network
    y = net.apply(params, x)
    k = theory.kernel_fn(net)(x1, x2)                      # its infinite-width NNGP and NTK

Each layer is a frozen dataclass (hashable, so a jit static argument) with ``output_shape``,
``init``, ``apply``, ``kernel`` (the infinite-width rule on a :class:`KernelState`) and
``needs_full_spatial`` (the memory model). Pure JAX: this subpackage imports neither
:mod:`lazyrich.theory` nor :mod:`lazyrich.dynamics`; both may import it. See
``docs/design/architectures.md``.
"""

from lazyrich.nn._activations import ACTIVATIONS as ACTIVATIONS
from lazyrich.nn._activations import Activation as Activation
from lazyrich.nn._activations import activation as activation
from lazyrich.nn._activations import from_callable as from_callable
from lazyrich.nn._activations import identical_pairs as identical_pairs
from lazyrich.nn._base import KernelState as KernelState
from lazyrich.nn._base import Layer as Layer
from lazyrich.nn._base import LayerError as LayerError
from lazyrich.nn._base import LayoutRow as LayoutRow
from lazyrich.nn._combinators import FanInConcat as FanInConcat
from lazyrich.nn._combinators import FanInSum as FanInSum
from lazyrich.nn._combinators import FanOut as FanOut
from lazyrich.nn._combinators import Identity as Identity
from lazyrich.nn._combinators import Parallel as Parallel
from lazyrich.nn._combinators import Serial as Serial
from lazyrich.nn._combinators import parallel as parallel
from lazyrich.nn._combinators import repeat as repeat
from lazyrich.nn._combinators import serial as serial
from lazyrich.nn._conv import AvgPool as AvgPool
from lazyrich.nn._conv import Conv as Conv
from lazyrich.nn._conv import Conv1D as Conv1D
from lazyrich.nn._conv import Flatten as Flatten
from lazyrich.nn._conv import GlobalAvgPool as GlobalAvgPool
from lazyrich.nn._conv import GlobalSumPool as GlobalSumPool
from lazyrich.nn._conv import SumPool as SumPool
from lazyrich.nn._dense import Dense as Dense
from lazyrich.nn._elementwise import ABRelu as ABRelu
from lazyrich.nn._elementwise import Abs as Abs
from lazyrich.nn._elementwise import Cos as Cos
from lazyrich.nn._elementwise import Elementwise as Elementwise
from lazyrich.nn._elementwise import Erf as Erf
from lazyrich.nn._elementwise import Exp as Exp
from lazyrich.nn._elementwise import Gaussian as Gaussian
from lazyrich.nn._elementwise import Gelu as Gelu
from lazyrich.nn._elementwise import Hermite as Hermite
from lazyrich.nn._elementwise import LeakyRelu as LeakyRelu
from lazyrich.nn._elementwise import Monomial as Monomial
from lazyrich.nn._elementwise import Polynomial as Polynomial
from lazyrich.nn._elementwise import Rbf as Rbf
from lazyrich.nn._elementwise import RectifiedMonomial as RectifiedMonomial
from lazyrich.nn._elementwise import Relu as Relu
from lazyrich.nn._elementwise import SigmoidLike as SigmoidLike
from lazyrich.nn._elementwise import Sign as Sign
from lazyrich.nn._elementwise import Sin as Sin
from lazyrich.nn._elementwise import Softplus as Softplus
from lazyrich.nn._elementwise import Tanh as Tanh

__all__ = [
    "ABRelu",
    "Abs",
    "Activation",
    "activation",
    "ACTIVATIONS",
    "AvgPool",
    "Conv",
    "Conv1D",
    "Cos",
    "Dense",
    "Elementwise",
    "Erf",
    "Exp",
    "FanInConcat",
    "FanInSum",
    "FanOut",
    "Flatten",
    "from_callable",
    "Gaussian",
    "Gelu",
    "GlobalAvgPool",
    "GlobalSumPool",
    "Hermite",
    "identical_pairs",
    "Identity",
    "KernelState",
    "Layer",
    "LayerError",
    "LayoutRow",
    "LeakyRelu",
    "Monomial",
    "Parallel",
    "parallel",
    "Polynomial",
    "Rbf",
    "RectifiedMonomial",
    "Relu",
    "repeat",
    "Serial",
    "serial",
    "SigmoidLike",
    "Sign",
    "Sin",
    "Softplus",
    "SumPool",
    "Tanh",
]

# nn-extras: normalisation, attention, dropout, products.
from lazyrich.nn._attention import GlobalSelfAttention as GlobalSelfAttention  # noqa: E402
from lazyrich.nn._dropout import Dropout as Dropout  # noqa: E402
from lazyrich.nn._normalization import LayerNorm as LayerNorm  # noqa: E402
from lazyrich.nn._products import FanInProd as FanInProd  # noqa: E402

__all__ += ["Dropout", "FanInProd", "GlobalSelfAttention", "LayerNorm"]
