r"""FanInProd: the elementwise product of branches.

For branches :math:`f_1, \dots, f_m` with disjoint parameters, the infinite-width pre-activations of
different branches are independent centred Gaussian processes given the input, so

.. math::
    \Sigma(x, x') = \prod_i \Sigma_i(x, x'), \qquad
    \Theta(x, x') = \sum_i \Theta_i(x, x') \prod_{j \ne i} \Sigma_j(x, x'),

(the product rule: :math:`\nabla (f_1 f_2) = f_2 \nabla f_1 + f_1 \nabla f_2`; the cross terms average
to zero because the branches' gradients are independent and centred). This is neural-tangents'
``FanInProd`` rule. It is exact for independent centred branches (each ending in a Dense or Conv
layer); branches that share their values (e.g. two ``Identity`` branches) are not independent and the
rule does not describe them.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from lazyrich.nn._base import KernelState, Layer
from lazyrich.nn._combinators import FanInSum, _same_layout


def _product(parts):
    if any(p is None for p in parts):
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out * p
    return out


@dataclasses.dataclass(frozen=True)
class FanInProd(Layer):
    """Multiply the branches elementwise (all of the same shape).

    Example (a multiplicative interaction of two dense branches):
      >>> from lazyrich import nn
      >>> net = nn.serial(nn.Dense(64), nn.FanOut(2), nn.parallel(nn.Dense(64), nn.Dense(64)),
      ...                 nn.FanInProd(), nn.Relu(), nn.Dense(1))
    """

    output_shape = FanInSum.output_shape  # branches of equal shapes, as for a sum

    def apply(self, params, x, *, key=None):
        return _product(list(x))

    def kernel(self, k) -> KernelState:
        states = _same_layout(k)
        nngp = _product([s.nngp for s in states])
        ntk = None
        if all(s.ntk is not None for s in states):
            ntk = jnp.zeros_like(nngp)
            for i, s in enumerate(states):
                ntk = ntk + _product([s.ntk] + [t.nngp for j, t in enumerate(states) if j != i])
        first = states[0]
        return first.replace(
            nngp=nngp,
            ntk=ntk,
            cov1=_product([s.cov1 for s in states]),
            cov2=_product([s.cov2 for s in states]),
            is_gaussian=len(states) == 1 and first.is_gaussian,
            is_input=False,
        )
