r"""Ghost batch normalisation (Hoffer, Hubara & Soudry 2017, Algorithm 1), functional core and an NNX layer.

A batch of ``B`` examples is split into ``G`` virtual ("ghost") batches; each is normalised with its own
statistics,

.. math::
    \mu_l = \frac{1}{|l|}\sum_{i\in l} x_i, \qquad
    \sigma_l^2 = \frac{1}{|l|}\sum_{i\in l}(x_i - \mu_l)^2, \qquad
    y_i = \gamma\,\frac{x_i - \mu_l}{\sqrt{\sigma_l^2 + \epsilon}} + \beta \quad (i \in l),

and the running statistics take one exponential-moving-average step per ghost batch, in the Hoffer/PyTorch
convention ``running <- (1 - m) * running + m * batch`` with ``m = ema_rate``. After the ``G`` sequential steps
of one call the closed form is

.. math::
    r_G = (1-m)^G\, r_0 + \sum_{l=1}^{G} m\,(1-m)^{G-l}\, s_l ,

computed in one vectorised expression by :func:`sequential_ema` (no Python loop over ghost batches).
Flax's ``nnx.BatchNorm(momentum=mu)`` writes ``running <- mu * running + (1 - mu) * batch``, so
``ema_rate = 1 - mu`` (PyTorch's default 0.1 is Flax's 0.9). At evaluation,
``y = gamma (x - mean_run) / sqrt(var_run + eps) + beta``.

Statistics reduce over every axis but the last (features), within each ghost batch. A full batch of ``B``
examples with ``B % ghost_size == 0`` is reshaped to ``(G, ghost_size, ...)``. A last, incomplete batch is split
into the *same* number ``G`` of ghost batches (``numpy.array_split`` sizes, differing by at most one), computed
with segment sums, as the authors' code does with ``input.chunk(B // ghost)``.

References:
  Hoffer, Hubara, Soudry (2017), https://arxiv.org/abs/1705.08741, Sec. 4.1 and Algorithm 1.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from lazyrich._checks import check_int

__all__ = [
    "BatchStats",
    "GhostBatchNorm",
    "ghost_batch_count",
    "ghost_batch_norm",
    "sequential_ema",
]


class BatchStats(NamedTuple):
    """Running statistics of a (ghost) batch-norm layer, each of shape ``(F,)``."""

    mean: jax.Array
    var: jax.Array


def _check_ema_rate(ema_rate) -> None:
    if isinstance(ema_rate, jax.core.Tracer):
        return
    value = np.asarray(ema_rate)
    if value.shape != () or not np.isfinite(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"`ema_rate` (momentum, PyTorch convention) must be a scalar in [0, 1], got {ema_rate!r}."
        )


def ghost_batch_count(batch_size: int, ghost_size: int) -> int:
    """Number of ghost batches ``G = batch_size / ghost_size``; raises unless it is a positive integer.

    Raises:
      TypeError: for non-integer sizes.
      ValueError: if ``ghost_size < 1``, ``ghost_size > batch_size`` or ``batch_size % ghost_size != 0``.
    """
    check_int("batch_size", batch_size, minimum=1)
    check_int("ghost_size", ghost_size, minimum=1)
    if ghost_size > batch_size or batch_size % ghost_size:
        raise ValueError(
            f"`ghost_size` ({ghost_size}) must divide the batch of {batch_size} examples into a positive number "
            "of ghost batches; for a last incomplete batch pass `num_ghost_batches` (as the full batch's)."
        )
    return batch_size // ghost_size


def sequential_ema(running: jax.Array, values: jax.Array, *, ema_rate) -> jax.Array:
    r"""``G`` sequential EMA steps ``r <- (1 - m) r + m s_l`` in closed form.

    .. math:: r_G = (1-m)^G r_0 + \sum_{l=1}^{G} m (1-m)^{G-l} s_l .

    Args:
      running: ``r_0``, shape ``(F,)`` (any shape ``S``).
      values: the ``G`` statistics in order, shape ``(G, *S)``.
      ema_rate: ``m`` in ``[0, 1]`` (may be traced).

    Returns:
      ``r_G``, shape ``S``.
    """
    _check_ema_rate(ema_rate)
    g = values.shape[0]
    m = jnp.asarray(ema_rate, running.dtype)
    powers = jnp.arange(g - 1, -1, -1, dtype=running.dtype)  # G - l for l = 1..G
    weights = m * (1 - m) ** powers
    return (1 - m) ** g * running + jnp.tensordot(weights, values.astype(running.dtype), axes=1)


def _segment_ids(batch_size: int, groups: int) -> np.ndarray:
    sizes = [len(c) for c in np.array_split(np.arange(batch_size), groups)]
    return np.repeat(np.arange(groups), sizes)


def ghost_batch_norm(
    x: jax.Array,
    *,
    scale: jax.Array,
    bias: jax.Array,
    stats: BatchStats,
    ghost_size: int | None = None,
    num_ghost_batches: int | None = None,
    ema_rate=0.1,
    epsilon: float = 1e-5,
    training: bool = True,
    unbiased_running_var: bool = False,
) -> tuple[jax.Array, BatchStats]:
    r"""Ghost batch norm of ``x`` of shape ``(B, ..., F)``; see the module docstring for the equations.

    Args:
      x: inputs, batch first and features last, shape ``(B, ..., F)``.
      scale: ``gamma``, shape ``(F,)``.
      bias: ``beta``, shape ``(F,)``.
      stats: running :class:`BatchStats` (``mean``, ``var``), each ``(F,)``.
      ghost_size: examples per ghost batch; ``B`` must be a positive multiple of it. Exactly one of
        ``ghost_size`` and ``num_ghost_batches`` is given in training.
      num_ghost_batches: ``G``; the batch is split into ``G`` ghost batches of ``array_split`` sizes (for a
        last incomplete batch pass the full batch's ``G``). ``1 <= G <= B``.
      ema_rate: running-statistics rate ``m`` in ``[0, 1]`` (PyTorch "momentum"; Flax momentum is ``1 - m``),
        one step per ghost batch. May be traced.
      epsilon: added to the variance.
      training: normalise with ghost-batch statistics and update ``stats``; otherwise use ``stats`` and return
        them unchanged.
      unbiased_running_var: store ``n/(n-1)`` times the ghost-batch variance in the running variance (PyTorch);
        the default stores the biased one (Flax).

    Returns:
      ``(y, new_stats)`` with ``y`` of the shape and dtype of ``x``.

    Raises:
      ValueError: if the sizes do not give a positive number of ghost batches, if ``ema_rate`` is outside
        ``[0, 1]``, or if the feature sizes disagree.

    References:
      Hoffer, Hubara, Soudry (2017), https://arxiv.org/abs/1705.08741, Algorithm 1.
    """
    if x.ndim < 2:
        raise ValueError(f"`x` must have a batch and a feature axis, got shape {x.shape}.")
    features = x.shape[-1]
    for name, arr in (
        ("scale", scale),
        ("bias", bias),
        ("stats.mean", stats.mean),
        ("stats.var", stats.var),
    ):
        if jnp.shape(arr) != (features,):
            raise ValueError(
                f"`{name}` must have shape ({features},) to match `x` {x.shape}, got {jnp.shape(arr)}."
            )
    _check_ema_rate(ema_rate)
    if not training:
        inv = jax.lax.rsqrt(stats.var + epsilon)
        return ((x - stats.mean) * (scale * inv) + bias).astype(x.dtype), stats

    batch = x.shape[0]
    if (ghost_size is None) == (num_ghost_batches is None):
        raise ValueError(
            f"give exactly one of `ghost_size` and `num_ghost_batches`, got {ghost_size!r} and {num_ghost_batches!r}."
        )
    if ghost_size is not None:
        groups = ghost_batch_count(batch, ghost_size)
    else:
        check_int("num_ghost_batches", num_ghost_batches, minimum=1)
        groups = int(num_ghost_batches)
        if groups > batch:
            raise ValueError(
                f"`num_ghost_batches` ({groups}) must be at most the batch size {batch} (no empty ghost batches)."
            )
    dtype = jnp.promote_types(x.dtype, jnp.float32)
    xf = x.astype(dtype)
    inner = x.shape[1:-1]
    per_example = int(np.prod(inner, dtype=np.int64))
    if batch % groups == 0:
        xg = xf.reshape((groups, batch // groups * per_example, features))
        mean = xg.mean(axis=1)  # (G, F)
        var = jnp.maximum((xg * xg).mean(axis=1) - mean * mean, 0.0)
        counts = jnp.full((groups,), batch // groups * per_example, dtype)
        inv = jax.lax.rsqrt(var + epsilon)
        y = ((xg - mean[:, None]) * (scale * inv)[:, None] + bias).reshape(x.shape)
    else:
        ids = _segment_ids(batch, groups)
        n = np.bincount(ids, minlength=groups) * per_example
        xr = xf.reshape((batch, per_example, features))
        sums = jax.ops.segment_sum(
            xr.sum(axis=1), ids, num_segments=groups, indices_are_sorted=True
        )
        squares = jax.ops.segment_sum(
            (xr * xr).sum(axis=1), ids, num_segments=groups, indices_are_sorted=True
        )
        counts = jnp.asarray(n, dtype)
        mean = sums / counts[:, None]
        var = jnp.maximum(squares / counts[:, None] - mean * mean, 0.0)
        inv = jax.lax.rsqrt(var + epsilon)
        y = ((xr - mean[ids][:, None]) * (scale * inv)[ids][:, None] + bias).reshape(x.shape)
    stored_var = (
        var * (counts / jnp.maximum(counts - 1, 1))[:, None] if unbiased_running_var else var
    )
    new_stats = BatchStats(
        mean=sequential_ema(stats.mean, mean, ema_rate=ema_rate).astype(stats.mean.dtype),
        var=sequential_ema(stats.var, stored_var, ema_rate=ema_rate).astype(stats.var.dtype),
    )
    return y.astype(x.dtype), new_stats


class GhostBatchNorm(nnx.Module):
    """Ghost batch norm as a Flax NNX layer (parameters ``scale``, ``bias``; batch stats ``mean``, ``var``).

    In training (``use_running_average=False``, set by ``model.train()``) each call splits its batch into ghost
    batches of ``ghost_size`` and applies one EMA step per ghost batch to the running statistics; with
    ``batch_size`` given, the number of ghost batches is fixed to ``batch_size // ghost_size`` for every call,
    so a last incomplete batch is split into the same number of (smaller) ghost batches. ``model.eval()``
    switches to the running statistics. See :func:`ghost_batch_norm` for the equations and conventions.

    Args:
      num_features: ``F``, the size of the last axis.
      ghost_size: examples per ghost batch.
      batch_size: nominal batch size (optional; fixes ``G``).
      ema_rate: PyTorch-convention momentum ``m`` in ``[0, 1]``: ``running <- (1 - m) running + m batch``.
      epsilon: added to the variance.
      use_running_average: evaluation mode.
      unbiased_running_var: see :func:`ghost_batch_norm`.
      dtype: parameter dtype.
      rngs: unused (for signature parity with ``nnx.BatchNorm``).

    References:
      Hoffer, Hubara, Soudry (2017), https://arxiv.org/abs/1705.08741, Algorithm 1.
    """

    def __init__(
        self,
        num_features: int,
        *,
        ghost_size: int,
        batch_size: int | None = None,
        ema_rate: float = 0.1,
        epsilon: float = 1e-5,
        use_running_average: bool = False,
        unbiased_running_var: bool = False,
        dtype=jnp.float32,
        rngs: nnx.Rngs | None = None,
    ):
        check_int("num_features", num_features, minimum=1)
        check_int("ghost_size", ghost_size, minimum=1)
        _check_ema_rate(ema_rate)
        self.num_ghost = None if batch_size is None else ghost_batch_count(batch_size, ghost_size)
        self.ghost_size = ghost_size
        self.ema_rate = ema_rate
        self.epsilon = epsilon
        self.use_running_average = use_running_average
        self.unbiased_running_var = unbiased_running_var
        self.scale = nnx.Param(jnp.ones((num_features,), dtype))
        self.bias = nnx.Param(jnp.zeros((num_features,), dtype))
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), dtype))
        self.var = nnx.BatchStat(jnp.ones((num_features,), dtype))

    def __call__(self, x: jax.Array, *, use_running_average: bool | None = None) -> jax.Array:
        evaluate = self.use_running_average if use_running_average is None else use_running_average
        if self.num_ghost is None:
            sizes = dict(ghost_size=self.ghost_size)
        else:
            sizes = dict(num_ghost_batches=min(self.num_ghost, x.shape[0]))
        y, stats = ghost_batch_norm(
            x,
            scale=self.scale[...],
            bias=self.bias[...],
            stats=BatchStats(self.mean[...], self.var[...]),
            ema_rate=self.ema_rate,
            epsilon=self.epsilon,
            training=not evaluate,
            unbiased_running_var=self.unbiased_running_var,
            **sizes,
        )
        if not evaluate:
            self.mean[...] = stats.mean
            self.var[...] = stats.var
        return y
