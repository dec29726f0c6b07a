"""A compact jitted optax training loop for sequence classifiers (the leaky RNN), one fresh batch per update.

Loss: masked cross-entropy

.. math:: L = \\frac{\\sum_{b,t} m_{bt}\\,\\mathrm{CE}(\\hat y_{bt}, c_{bt})}{\\sum_{b,t} m_{bt}}

with labels ``c`` (B, T) and weights ``m`` (B, T): all steps (Liu et al.'s neurogym runs; fixation label 0
outside the decision), the decision period, or the last step (sMNIST) depending on the mask the batch provides
(``docs/conventions.md`` §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import optax

from lazyrich import _checks
from lazyrich.dynamics._rnn import Activation, rnn_apply

__all__ = [
    "fit_rank_one_connectivity",
    "fit_rank_one_network",
    "masked_cross_entropy",
    "train_rnn",
    "TrainRNNResult",
]


def masked_cross_entropy(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean cross-entropy over entries with weight ``mask`` (logits ``(..., C)``, labels/mask ``(...)``)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    mask = mask.astype(ce.dtype)
    return jnp.sum(ce * mask) / jnp.maximum(jnp.sum(mask), 1.0)


class TrainRNNResult(NamedTuple):
    """Final parameters, per-step training loss (before each update) and masked accuracy, and the final
    optimizer state (pass it back with ``initial_step`` to continue training in segments)."""

    params: dict
    loss: jax.Array
    accuracy: jax.Array
    opt_state: optax.OptState = None


def _optimizer(optimizer: str, learning_rate, momentum) -> optax.GradientTransformation:
    """The validated optax transformation: ``"sgd"`` (heavy-ball ``momentum``) or ``"adam"``."""
    _checks.check_choice("optimizer", optimizer, ("sgd", "adam"))
    if optimizer == "sgd":
        return optax.sgd(learning_rate, momentum=momentum)
    return optax.adam(learning_rate)


def _optax_scan(loss_fn, theta, opt_state, tx, batch_fn, key, steps):
    """Minimise ``loss_fn(theta, x, labels, mask) -> (loss, aux)`` with ``tx``, one update per entry of
    ``steps`` on the batch ``batch_fn(fold_in(key, step))``; returns ``(theta, opt_state), (losses, auxs)``."""

    def step(carry, index):
        theta, opt_state = carry
        x, labels, mask = batch_fn(jr.fold_in(key, index))
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(theta, x, labels, mask)
        updates, opt_state = tx.update(grads, opt_state, theta)
        return (optax.apply_updates(theta, updates), opt_state), (loss, aux)

    return jax.lax.scan(step, (theta, opt_state), steps)


def train_rnn(
    params: dict,
    batch_fn: Callable[[jax.Array], tuple[jax.Array, jax.Array, jax.Array]],
    *,
    key: jax.Array,
    num_steps: int,
    learning_rate=0.003,
    optimizer: Literal["sgd", "adam"] = "sgd",
    momentum=0.9,
    leak=1.0,
    activation: Activation = "relu",
    opt_state: optax.OptState | None = None,
    initial_step=0,
) -> TrainRNNResult:
    """Train :func:`rnn_apply` parameters with optax on fresh batches ``batch_fn(fold_in(key, step))``.

    Pure and jit/vmap-able: ``learning_rate``, ``momentum`` and ``leak`` may be traced (vmap over them, over
    keys, over initial parameters). Per-step randomness is ``jax.random.fold_in(key, step)``.

    Args:
      params: initial ``{"w_x", "w_h", "w_y"}``.
      batch_fn: ``key -> (x (B, T, D), labels (B, T) int, mask (B, T))``; the mask selects the loss terms.
      key: typed PRNG key for the batches.
      num_steps: number of updates (static).
      learning_rate: step size.
      optimizer: ``"sgd"`` (SGD with ``momentum``; Liu et al.: lr 0.003, momentum 0.9) or ``"adam"``.
      momentum: heavy-ball momentum of ``"sgd"`` (0 = plain SGD).
      leak: RNN leak.
      activation: RNN nonlinearity.
      opt_state: optimizer state to resume from (``None``: a fresh one); with ``initial_step`` =
        the number of updates already done, ``k`` calls of ``n`` steps equal one call of ``k n`` steps.
      initial_step: index of the first update (may be traced); batch ``s`` uses ``fold_in(key, s)``.

    Returns:
      :class:`TrainRNNResult` with the final params and ``(num_steps,)`` loss and accuracy curves
      (accuracy = fraction of masked entries whose argmax equals the label).

    Raises:
      ValueError: for ``num_steps < 1`` or an unknown ``optimizer``.
    """
    _checks.check_key("key", key)
    _checks.check_int("num_steps", num_steps, minimum=1)
    tx = _optimizer(optimizer, learning_rate, momentum)

    def loss_fn(p, x, labels, mask):
        logits = rnn_apply(p, x, leak=leak, activation=activation)
        correct = (jnp.argmax(logits, axis=-1) == labels).astype(logits.dtype)
        m = mask.astype(logits.dtype)
        accuracy = jnp.sum(correct * m) / jnp.maximum(jnp.sum(m), 1.0)
        return masked_cross_entropy(logits, labels, mask), accuracy

    if opt_state is None:
        opt_state = tx.init(params)
    steps = jnp.asarray(initial_step, jnp.int32) + jnp.arange(num_steps, dtype=jnp.int32)
    (params, opt_state), (losses, accuracies) = _optax_scan(
        loss_fn, params, opt_state, tx, batch_fn, key, steps
    )
    return TrainRNNResult(params, losses, accuracies, opt_state)


def fit_rank_one_network(
    params: dict,
    batch_fn: Callable[[jax.Array], tuple[jax.Array, jax.Array, jax.Array]],
    *,
    key: jax.Array,
    num_steps: int,
    learning_rate=0.003,
    momentum=0.9,
    optimizer: Literal["sgd", "adam"] = "sgd",
    fit_readout: bool = True,
    fit_scale: bool = True,
    target_norm=None,
    leak=1.0,
    activation: Activation = "relu",
) -> tuple[dict, jax.Array]:
    r"""Task-aligned rank-1 initialisation: a rank-1 :math:`W_h` (and readout) that already solve the task.

    .. math::
        W_h^{\rm al} = c\,e^{\ell}\,\hat u \hat v^\top,\qquad
        (\hat u, \hat v, \ell, W_y) = \arg\min L(W_x, c\,e^{\ell}\hat u\hat v^\top, W_y),
        \qquad \|\hat u\| = \|\hat v\| = 1,

    with :math:`W_x` held at its (random) initial value, :math:`c` the target norm (for rank 1 the Frobenius
    and spectral norms agree), the log-scale :math:`\ell` fitted when ``fit_scale`` (else 0) and the readout
    :math:`W_y` fitted when ``fit_readout`` (else held). The minimisation is ``num_steps`` steps of
    ``optimizer`` on the unnormalised pair :math:`(u, v)` (the loss sees :math:`uv^\top/(\|u\|\|v\|)`), started
    from the leading singular pair of ``params["w_h"]`` (e.g. the random rank-1 initialisation) and
    :math:`\ell = 0`, on fresh batches ``batch_fn(fold_in(key, step))``.

    Why this is the RNN analogue of the aligned initialisation of Liu et al.'s Proposition 1: there, in
    :math:`f(x) = w^\top W x`, the aligned :math:`W(0) \propto u\hat\beta^\top` already carries the solution, so
    learning only rescales it, :math:`M_0 \parallel M_\infty` and the kernel alignment stays 1 with the
    minimal weight change. In the RNN the W_h-only kernel
    :math:`K_{ab} = \sum_{s,s'}(\delta^a_s\cdot\delta^b_{s'})(h_{s-1}\cdot h'_{s'-1})` depends on the readout
    through :math:`\delta^{(t,o)}_t = \phi'(u_t)\odot W_y[o]`, and with :math:`W_x, W_y` random a rank-1
    :math:`W_h` cannot solve the neurogym tasks: at the decision step the input is 0, so
    :math:`h = \mathrm{ReLU}(\pm\hat u)\,|m|` spans two fixed rays, and the fixation margin during the
    stimulus is bounded by the O(1) input drive through the fixed random readout (the best loss on that
    manifold is ~0.35-0.45, against ~0.04 after training). Training then has to rebuild the readout
    (:math:`\|\Delta W_y\|_F \approx 1.3-1.5 \approx \|W_y\|_F`), which rotates the kernel whatever
    :math:`W_h(0)` is. Fitting the readout together with the rank-1 structure gives an initialisation that
    carries the solution, so training only refines it: lazy. The optimiser should be the training one
    (SGD with momentum at the training step size, the default): an Adam fit at a larger step lands in a
    sharp minimum (loop gain :math:`c\,\hat u\cdot\hat v` of -8) that SGD then leaves with a large weight
    change.

    How lazy the fitted networks are when trained, task by task, is recorded in
    ``docs/reproductions.md`` (``lowrank-rnn``): the fit raises the kernel alignment on every task,
    but solves only some tasks.

    Args:
      params: ``{"w_x", "w_h", "w_y"}``; ``w_h`` supplies the starting pair, ``w_x`` stays fixed.
      batch_fn: ``key -> (x, labels, mask)`` as for :func:`train_rnn`.
      key: typed PRNG key for the batches.
      num_steps: optimiser steps (static).
      learning_rate: step size.
      momentum: SGD momentum (ignored by Adam).
      optimizer: ``"sgd"`` (with momentum) or ``"adam"``.
      fit_readout: also fit ``w_y``.
      fit_scale: also fit the log-scale :math:`\ell`.
      target_norm: :math:`c`; ``None`` = the Frobenius norm of ``params["w_h"]`` (may be traced).
      leak: RNN leak.
      activation: RNN nonlinearity.

    Returns:
      ``(params_aligned, loss (num_steps,))``: ``params_aligned`` has the rank-1 ``w_h``, the fitted (or
      given) ``w_y`` and the given ``w_x``.

    Raises:
      ValueError: for ``num_steps < 1`` or an unknown ``optimizer``.

    References:
      Liu et al. (ICLR 2024), https://arxiv.org/abs/2310.08513, Prop. 1 and Sec. 3.3.
    """
    _checks.check_key("key", key)
    _checks.check_int("num_steps", num_steps, minimum=1)
    tx = _optimizer(optimizer, learning_rate, momentum)
    w_h = params["w_h"]
    c = jnp.sqrt(jnp.sum(w_h * w_h)) if target_norm is None else jnp.asarray(target_norm, w_h.dtype)
    u, _, vt = jnp.linalg.svd(w_h, full_matrices=False)

    def network(theta):
        a, b = theta["u"], theta["v"]
        scale = c * jnp.exp(theta["log_scale"]) if fit_scale else c
        w = scale * jnp.outer(a / jnp.linalg.norm(a), b / jnp.linalg.norm(b))
        return dict(params, w_h=w, w_y=theta["w_y"] if fit_readout else params["w_y"])

    def loss_fn(theta, x, labels, mask):
        logits = rnn_apply(network(theta), x, leak=leak, activation=activation)
        return masked_cross_entropy(logits, labels, mask), None

    theta0 = {"u": u[:, 0], "v": vt[0], "log_scale": jnp.zeros((), w_h.dtype)}
    if fit_readout:
        theta0["w_y"] = params["w_y"]
    (theta, _), (losses, _) = _optax_scan(
        loss_fn, theta0, tx.init(theta0), tx, batch_fn, key, jnp.arange(num_steps)
    )
    return network(theta), losses


def fit_rank_one_connectivity(
    params: dict,
    batch_fn: Callable[[jax.Array], tuple[jax.Array, jax.Array, jax.Array]],
    *,
    key: jax.Array,
    num_steps: int,
    target_norm=None,
    learning_rate=0.01,
    leak=1.0,
    activation: Activation = "relu",
) -> tuple[jax.Array, jax.Array]:
    r"""Rank-1 :math:`W_h` of fixed norm that best solves the task at fixed :math:`W_x, W_y` (Adam fit).

    :func:`fit_rank_one_network` with ``fit_readout=False, fit_scale=False, optimizer="adam"``; returns
    ``(w_h (N, N), loss (num_steps,))``. With the random readout held this initialisation is NOT lazy
    (see :func:`fit_rank_one_network` and ``docs/reproductions.md``).

    Raises:
      ValueError: for ``num_steps < 1``.
    """
    out, losses = fit_rank_one_network(
        params,
        batch_fn,
        key=key,
        num_steps=num_steps,
        learning_rate=learning_rate,
        optimizer="adam",
        fit_readout=False,
        fit_scale=False,
        target_norm=target_norm,
        leak=leak,
        activation=activation,
    )
    return out["w_h"], losses
