r"""Large-batch training recipe (Hoffer, Hubara & Soudry 2017) and a scan-based classifier trainer.

Recipe, from a small-batch regime (batch :math:`B_S`, learning rate :math:`\eta_S`, ``E`` epochs, learning-rate
milestones :math:`m_i` in epochs) to a large batch :math:`B_L`:

* **square-root scaling** :math:`\eta_L = \eta_S \sqrt{B_L / B_S}`, which keeps the per-step covariance of the
  update :math:`\eta^2 C / B` fixed (``docs/conventions.md`` §4);
* **ghost batch norm** with ghost batches of :math:`B_S` examples (:class:`GhostBatchNorm`);
* **regime adaptation**: epochs and milestones multiplied by :math:`k = \lceil B_L / B_S \rceil`, so the large batch
  makes as many updates, with its learning-rate drops at the same iterations;
* gradient-norm clipping at 5 before every step (the authors' code), SGD with momentum 0.9 and weight decay
  :math:`10^{-4}` added to the gradient (PyTorch ``SGD`` convention), learning rate multiplied by 0.1 at each
  milestone.

:func:`train_bn_mlp` trains the F1-style network ``D -> depth x [Linear(width) -> (Ghost)BN -> ReLU] -> classes``
with cross-entropy (mean over the batch), one ``lax.scan`` over steps; each epoch draws a fresh permutation from
``fold_in(key, epoch)`` and drops the last incomplete batch. It records :math:`\|W^{(1)}_t - W^{(1)}_0\|_F`
(the first layer's weights, the tensor the paper plots) and :math:`\|w_t - w_0\|` (all parameters) after every
step. Ordinary batch norm is ``ghost_size = batch_size`` (identical to BN, tested).

References:
  Hoffer, Hubara, Soudry (2017), https://arxiv.org/abs/1705.08741, Secs. 3-5; code ``eladhoffer/bigBatch``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from flax import nnx

from lazyrich._checks import check_int
from lazyrich.dynamics._ghost_bn import GhostBatchNorm, ghost_batch_count
from lazyrich.dynamics._train import _tree_sq_norms

__all__ = [
    "BNMLP",
    "Regime",
    "TrainRecord",
    "adapt_regime",
    "large_batch_optimizer",
    "large_batch_regime",
    "num_training_steps",
    "sqrt_scaled_learning_rate",
    "train_bn_mlp",
]


def sqrt_scaled_learning_rate(learning_rate, *, batch_size: int, base_batch_size: int):
    r"""Square-root scaling :math:`\eta \sqrt{B / B_0}` (Hoffer et al. 2017, Sec. 3)."""
    check_int("batch_size", batch_size, minimum=1)
    check_int("base_batch_size", base_batch_size, minimum=1)
    return learning_rate * math.sqrt(batch_size / base_batch_size)


def adapt_regime(
    num_epochs: int, milestones: tuple[int, ...], *, batch_size: int, base_batch_size: int
) -> tuple[int, tuple[int, ...]]:
    r"""Regime adaptation: epochs and milestones times :math:`k = \lceil B / B_0 \rceil`.

    Returns:
      ``(num_epochs * k, tuple(m * k for m in milestones))``.
    """
    check_int("num_epochs", num_epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    check_int("base_batch_size", base_batch_size, minimum=1)
    k = -(-batch_size // base_batch_size)
    return num_epochs * k, tuple(int(m) * k for m in milestones)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Regime:
    """A training regime: batch and ghost sizes, learning rate, epochs and milestones (in epochs)."""

    batch_size: int
    ghost_size: int
    learning_rate: float
    num_epochs: int
    milestones: tuple[int, ...]

    def __post_init__(self):
        check_int("batch_size", self.batch_size, minimum=1)
        ghost_batch_count(self.batch_size, self.ghost_size)
        check_int("num_epochs", self.num_epochs, minimum=1)
        if any(m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(
                f"`milestones` must be increasing positive epochs, got {self.milestones!r}."
            )


def large_batch_regime(
    small: Regime,
    *,
    batch_size: int,
    sqrt_lr: bool = False,
    ghost_bn: bool = False,
    regime_adaptation: bool = False,
) -> Regime:
    """The large-batch regime derived from ``small`` with any subset of Hoffer et al.'s three fixes.

    Args:
      small: the small-batch regime (its ``batch_size`` is :math:`B_S`; ghost size = its batch size).
      batch_size: :math:`B_L`.
      sqrt_lr: scale the learning rate by :math:`\\sqrt{B_L/B_S}`.
      ghost_bn: ghost batches of :math:`B_S` (else ordinary BN over :math:`B_L`).
      regime_adaptation: epochs and milestones times :math:`\\lceil B_L/B_S \\rceil`.
    """
    lr = small.learning_rate
    if sqrt_lr:
        lr = sqrt_scaled_learning_rate(lr, batch_size=batch_size, base_batch_size=small.batch_size)
    epochs, milestones = small.num_epochs, small.milestones
    if regime_adaptation:
        epochs, milestones = adapt_regime(
            epochs, milestones, batch_size=batch_size, base_batch_size=small.batch_size
        )
    ghost = small.batch_size if ghost_bn else batch_size
    return Regime(
        batch_size=batch_size,
        ghost_size=ghost,
        learning_rate=float(lr),
        num_epochs=epochs,
        milestones=milestones,
    )


def large_batch_optimizer(
    *,
    learning_rate,
    steps_per_epoch: int,
    milestones: tuple[int, ...] = (),
    decay: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    clip_norm: float | None = 5.0,
) -> optax.GradientTransformation:
    """Clip the gradient norm, add weight decay, SGD with momentum and a step schedule (PyTorch order).

    The learning rate is ``learning_rate * decay**i`` after the ``i``-th milestone (epochs times
    ``steps_per_epoch``). ``learning_rate`` may be traced.
    """
    check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    boundaries = {int(m) * steps_per_epoch: decay for m in milestones}
    schedule = optax.piecewise_constant_schedule(1.0, boundaries)
    parts = [] if clip_norm is None else [optax.clip_by_global_norm(clip_norm)]
    parts += [
        optax.add_decayed_weights(weight_decay),
        optax.trace(decay=momentum),
        optax.scale_by_schedule(lambda step: -learning_rate * schedule(step)),
    ]
    return optax.chain(*parts)


def _torch_uniform(key, shape, dtype=jnp.float32, fan_in=None):
    bound = 1.0 / math.sqrt(fan_in if fan_in is not None else shape[0])
    return jr.uniform(key, shape, dtype, -bound, bound)


class BNMLP(nnx.Module):
    """``depth x [Linear(width) -> GhostBatchNorm -> ReLU] -> Linear(classes)`` (F1 of Keskar et al.).

    Linear layers use PyTorch's default initialisation, weights and biases uniform in
    :math:`\\pm 1/\\sqrt{\\text{fan-in}}`. ``ghost_size == batch_size`` is ordinary batch norm.
    """

    def __init__(
        self,
        *,
        input_dim: int,
        width: int,
        depth: int,
        num_classes: int,
        batch_size: int,
        ghost_size: int,
        ema_rate: float = 0.1,
        rngs: nnx.Rngs,
    ):
        dims = [input_dim] + [width] * depth
        self.hidden = nnx.List(
            [
                nnx.Linear(
                    d_in,
                    width,
                    kernel_init=_torch_uniform,
                    bias_init=lambda k, s, dt=jnp.float32, f=d_in: _torch_uniform(k, s, dt, f),
                    rngs=rngs,
                )
                for d_in in dims[:-1]
            ]
        )
        self.norms = nnx.List(
            [
                GhostBatchNorm(
                    width, ghost_size=ghost_size, batch_size=batch_size, ema_rate=ema_rate
                )
                for _ in range(depth)
            ]
        )
        self.readout = nnx.Linear(
            width,
            num_classes,
            kernel_init=_torch_uniform,
            bias_init=lambda k, s, dt=jnp.float32: _torch_uniform(k, s, dt, width),
            rngs=rngs,
        )

    def __call__(self, x, *, training: bool):
        for linear, norm in zip(self.hidden, self.norms):
            x = jax.nn.relu(norm(linear(x), use_running_average=not training))
        return self.readout(x)


class TrainRecord(NamedTuple):
    """Output of :func:`train_bn_mlp` (leading seed axes added by ``vmap``)."""

    test_accuracy: jax.Array  # ()
    test_loss: jax.Array  # ()
    train_accuracy: jax.Array  # ()
    first_layer_distance: jax.Array  # (num_steps,) ||W1_t - W1_0||_F after each step
    distance: jax.Array  # (num_steps,) ||w_t - w_0|| over all parameters after each step
    train_loss: jax.Array  # (num_steps,) minibatch loss before each step


class _State(NamedTuple):
    params: nnx.State
    stats: nnx.State
    opt_state: optax.OptState
    step: jax.Array


def train_bn_mlp(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    regime: Regime,
    learning_rate=None,
    width: int,
    depth: int,
    num_classes: int,
    key: jax.Array,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    clip_norm: float | None = 5.0,
    ema_rate: float = 0.1,
) -> TrainRecord:
    """Train :class:`BNMLP` under ``regime`` with :func:`large_batch_optimizer`; jit- and vmap-able over ``key``.

    Args:
      x_train, y_train: training inputs ``(P, D)`` and integer labels ``(P,)``.
      x_test, y_test: test inputs ``(Q, D)`` and labels ``(Q,)``.
      regime: batch size, ghost size, epochs, milestones (static) and learning rate.
      learning_rate: overrides ``regime.learning_rate`` (may be traced, e.g. for a vmapped sweep).
      width, depth, num_classes: network shape.
      key: typed key; split into the initialisation and the data-order keys.

    Returns:
      A :class:`TrainRecord`; the test metrics use the running statistics (evaluation mode).
    """
    num_train = x_train.shape[0]
    if regime.batch_size > num_train:
        raise ValueError(
            f"`regime.batch_size` ({regime.batch_size}) exceeds the {num_train} training points."
        )
    steps_per_epoch = num_train // regime.batch_size
    num_steps = steps_per_epoch * regime.num_epochs
    lr = regime.learning_rate if learning_rate is None else learning_rate
    tx = large_batch_optimizer(
        learning_rate=lr,
        steps_per_epoch=steps_per_epoch,
        milestones=regime.milestones,
        momentum=momentum,
        weight_decay=weight_decay,
        clip_norm=clip_norm,
    )

    def build(k):
        return BNMLP(
            input_dim=x_train.shape[1],
            width=width,
            depth=depth,
            num_classes=num_classes,
            batch_size=regime.batch_size,
            ghost_size=regime.ghost_size,
            ema_rate=ema_rate,
            rngs=nnx.Rngs(params=k),
        )

    init_key, data_key = jr.split(key)
    graphdef, params0, stats0 = nnx.split(build(init_key), nnx.Param, nnx.BatchStat)

    def loss_fn(params, stats, x, y):
        model = nnx.merge(graphdef, params, stats, copy=True)
        logits = model(x, training=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, nnx.state(model, nnx.BatchStat)

    def first_kernel(params):
        return params["hidden"][0]["kernel"][...]

    w1_0 = first_kernel(params0)

    def one_step(state, _):
        epoch, i = state.step // steps_per_epoch, state.step % steps_per_epoch
        order = jr.permutation(jr.fold_in(data_key, epoch), num_train)
        batch = jax.lax.dynamic_slice_in_dim(order, i * regime.batch_size, regime.batch_size)
        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, state.stats, x_train[batch], y_train[batch]
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        d1 = jnp.linalg.norm(first_kernel(params) - w1_0)
        d = jnp.sqrt(jnp.sum(_tree_sq_norms(jax.tree.map(jnp.subtract, params, params0))))
        return _State(params, stats, opt_state, state.step + 1), (d1, d, loss)

    init = _State(params0, stats0, tx.init(params0), jnp.zeros((), jnp.int32))
    final, (d1, d, losses) = jax.lax.scan(one_step, init, length=num_steps)

    model = nnx.merge(graphdef, final.params, final.stats)

    def evaluate(x, y):
        logits = model(x, training=False)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return jnp.mean(jnp.argmax(logits, -1) == y), loss

    test_acc, test_loss = evaluate(x_test, y_test)
    train_acc, _ = evaluate(x_train, y_train)
    return TrainRecord(test_acc, test_loss, train_acc, d1, d, losses)


def num_training_steps(num_train: int, regime: Regime) -> int:
    """Steps :func:`train_bn_mlp` takes: ``(num_train // batch_size) * num_epochs``."""
    return (num_train // regime.batch_size) * regime.num_epochs
