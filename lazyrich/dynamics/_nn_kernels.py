r"""Empirical kernels of finite networks built from a :mod:`lazyrich.nn` description.

For one draw of the parameters :math:`\theta` (``net.init(key, input_shape)``) with ``O`` outputs,

.. math::
    \hat\Sigma(x, x') = \frac1O \sum_{o} f_o(\theta, x) f_o(\theta, x'), \qquad
    \hat\Theta(x, x') = \frac1O \sum_o \nabla_\theta f_o(\theta, x) \cdot \nabla_\theta f_o(\theta, x'),

which converge to the infinite-width NNGP and NTK of the same description
(:func:`lazyrich.theory.kernel_fn`) as every hidden width grows, with fluctuations of one network
of relative size :math:`\sim \mathrm{width}^{-1/2}` (Jacot et al. 2018; Novak et al. 2019). The
empirical NNGP of one network needs many outputs (``O`` comparable to the width) to concentrate;
the NTK concentrates with one output.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from lazyrich._checks import check_key
from lazyrich.dynamics._ntk import empirical_ntk
from lazyrich.nn import Layer


def sample_kernels(
    net: Layer,
    keys: jax.Array,
    x1: jax.Array,
    x2: jax.Array | None = None,
    *,
    get: str | Sequence[str] = ("nngp", "ntk"),
    method: str = "auto",
) -> tuple[jax.Array | None, jax.Array | None]:
    r"""Empirical NNGP and NTK of finite networks ``net``, one per key (parameters from ``net.init``).

    Args:
      net: a :mod:`lazyrich.nn` network whose output is ``(n, O)``.
      keys: typed PRNG keys, shape ``(S,)`` (one network per key).
      x1: inputs ``(n1, *input_shape)``; x2: ``(n2, *input_shape)`` or ``None`` (``x1``).
      get: ``"nngp"``, ``"ntk"`` or both.
      method: :func:`lazyrich.dynamics.empirical_ntk`'s strategy.

    Returns:
      ``(nngp, ntk)``, each ``(S, n1, n2)`` (``None`` where not requested): the kernels averaged
      over the ``O`` outputs, as in :func:`lazyrich.dynamics.empirical_ntk`.

    Example:
      >>> import jax
      >>> from lazyrich import dynamics, nn
      >>> net = nn.serial(nn.Dense(64), nn.Relu(), nn.Dense(1))
      >>> x = jax.random.normal(jax.random.key(0), (3, 2))
      >>> _, ntk = dynamics.sample_kernels(net, jax.random.split(jax.random.key(1), 4), x)
      >>> ntk.shape
      (4, 3, 3)
    """
    check_key("keys", keys)
    if keys.ndim != 1:
        raise ValueError(f"`keys` must be a 1-D array of keys, got shape {keys.shape}.")
    names = (get,) if isinstance(get, str) else tuple(get)
    if not names or any(n not in ("nngp", "ntk") for n in names):
        raise ValueError(f"`get` must be 'nngp', 'ntk' or both, got {get!r}.")
    out_shape = net.output_shape(tuple(x1.shape[1:]))
    if len(out_shape) != 1:
        raise ValueError(f"`net` must output (n, O) arrays, got per-example shape {out_shape}.")

    @jax.jit
    def one(key):
        params = net.init(key, tuple(x1.shape[1:]))
        nngp = ntk = None
        if "nngp" in names:
            f1 = net.apply(params, x1)
            f2 = f1 if x2 is None else net.apply(params, x2)
            nngp = f1 @ f2.T / f1.shape[1]
        if "ntk" in names:
            ntk = empirical_ntk(net.apply, params, x1, x2, method=method)
        return nngp, ntk

    results = [one(key) for key in keys]
    nngp = None if "nngp" not in names else jnp.stack([r[0] for r in results])
    ntk = None if "ntk" not in names else jnp.stack([r[1] for r in results])
    return nngp, ntk
