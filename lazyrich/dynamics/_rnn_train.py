"""A compact jitted optax training loop for sequence classifiers (the leaky RNN), one fresh batch per update.

Loss: masked cross-entropy

.. math:: L = \\frac{\\sum_{b,t} m_{bt}\\,\\mathrm{CE}(\\hat y_{bt}, c_{bt})}{\\sum_{b,t} m_{bt}}

with labels ``c`` (B, T) and weights ``m`` (B, T): all steps (Liu et al.'s neurogym runs; fixation label 0
outside the decision), the decision period, or the last step (sMNIST) depending on the mask the batch provides
(papers.md §0.3, §4.1).
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

__all__ = ["fit_rank_one_connectivity", "masked_cross_entropy", "train_rnn", "TrainRNNResult"]


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


class _State(NamedTuple):
    params: dict
    opt_state: optax.OptState
    step: jax.Array


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
    _checks.check_choice("optimizer", optimizer, ("sgd", "adam"))
    if optimizer == "sgd":
        tx = optax.sgd(learning_rate, momentum=momentum)
    else:
        tx = optax.adam(learning_rate)

    def loss_fn(p, x, labels, mask):
        logits = rnn_apply(p, x, leak=leak, activation=activation)
        correct = (jnp.argmax(logits, axis=-1) == labels).astype(logits.dtype)
        m = mask.astype(logits.dtype)
        accuracy = jnp.sum(correct * m) / jnp.maximum(jnp.sum(m), 1.0)
        return masked_cross_entropy(logits, labels, mask), accuracy

    def step(state: _State, _):
        x, labels, mask = batch_fn(jr.fold_in(key, state.step))
        (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, x, labels, mask
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return _State(params, opt_state, state.step + 1), (loss, accuracy)

    if opt_state is None:
        opt_state = tx.init(params)
    init = _State(params, opt_state, jnp.asarray(initial_step, jnp.int32))
    final, (losses, accuracies) = jax.lax.scan(step, init, length=num_steps)
    return TrainRNNResult(final.params, losses, accuracies, final.opt_state)


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
    r"""Task-aligned rank-1 connectivity: the rank-1 :math:`W_h` of fixed norm that best solves the task.

    .. math::
        W_h^{\rm al} = c\,\hat u \hat v^\top,\qquad
        (\hat u, \hat v) = \arg\min_{\|\hat u\| = \|\hat v\| = 1} L(W_x, c\,\hat u\hat v^\top, W_y)

    with :math:`W_x, W_y` held at their (random) initial values and :math:`c` the target norm (for rank 1 the
    Frobenius and spectral norms agree). The minimisation is ``num_steps`` Adam steps on the unnormalised
    pair :math:`(u, v)` (the loss sees :math:`c\,uv^\top/(\|u\|\|v\|)`), started from the leading singular
    pair of ``params["w_h"]`` (e.g. the random rank-1 initialisation), on fresh batches
    ``batch_fn(fold_in(key, step))``.

    Why this is the RNN analogue of the aligned initialisation of Liu et al.'s Proposition 1: there, in
    :math:`f(x) = w^\top W x`, the aligned :math:`W(0) \propto u\hat\beta^\top` already has the row space of
    the solution, so gradient flow only rescales it, the tangent kernel :math:`x^\top W^\top W x'` changes
    only by a factor and the kernel alignment stays 1 with the minimal weight change. For the RNN the
    solution's structure depends on the fixed input and readout weights and on the nonlinear dynamics, so
    "aligned" is defined operationally: among all rank-1 connectivities of the same norm as the random
    rank-1 initialisation, the one that already implements the task's latent dynamics for the given
    :math:`W_x, W_y`. Training from it starts near a minimum of the loss on the rank-1 manifold, so the
    full-rank gradients are small and stay in the span that the initial kernel already has: lazy learning
    (higher kernel alignment, smaller :math:`\|\Delta W_h\|_F`), measured in the ``lowrank-rnn`` figure.

    Measured (N = 64, g = 1.25, 2 seeds, 1000 SGD updates, lr 0.003, momentum 0.9; per task 2AF / DMS / CXT):
    random rank-1 init: kernel alignment 0.10 / 0.17 / 0.27, weight change 1.01 / 1.04 / 2.58; full rank:
    0.42 / 0.51 / 0.35 and 0.95 / 1.07 / 1.10; this init after 1500 Adam steps (lr 0.02): 0.67 / 0.67 / 0.46 and
    0.94 / 0.62 / 0.59 (300 steps, lr 0.01: 0.37 / 0.83 / 0.72 and 1.92 / 0.63 / 0.66). Its kernel alignment
    is higher than the random rank-1 init's on every task in every run so far (also in the quick figure
    setting), its weight change is not reliably smaller (quick: 2.2 / 0.65 / 9.3 against 1.07 / 1.07 / 1.47),
    and the alignment is not near 1: with W_x and W_y fixed
    the rank-1 manifold's best loss is ~0.35 (the trained networks reach ~0.07), so training still has to
    change the readout and the representation. (The leading singular pair of a full-rank pilot's weight
    change, :func:`aligned_rank_one_connectivity`, is not lazier: alignment 0.13-0.63.)

    Args:
      params: ``{"w_x", "w_h", "w_y"}``; ``w_h`` supplies the starting pair, ``w_x`` and ``w_y`` stay fixed.
      batch_fn: ``key -> (x, labels, mask)`` as for :func:`train_rnn`.
      key: typed PRNG key for the batches.
      num_steps: Adam steps (static).
      target_norm: :math:`c`; ``None`` = the Frobenius norm of ``params["w_h"]`` (may be traced).
      learning_rate: Adam step size.
      leak: RNN leak.
      activation: RNN nonlinearity.

    Returns:
      ``(w_h_aligned (N, N), loss (num_steps,))``.

    Raises:
      ValueError: for ``num_steps < 1``.

    References:
      Liu et al. (ICLR 2024), https://arxiv.org/abs/2310.08513, Prop. 1 and Sec. 3.3.
    """
    _checks.check_key("key", key)
    _checks.check_int("num_steps", num_steps, minimum=1)
    w_h = params["w_h"]
    c = jnp.sqrt(jnp.sum(w_h * w_h)) if target_norm is None else jnp.asarray(target_norm, w_h.dtype)
    u, _, vt = jnp.linalg.svd(w_h, full_matrices=False)

    def rank_one(uv):
        a, b = uv
        return c * jnp.outer(a / jnp.linalg.norm(a), b / jnp.linalg.norm(b))

    def loss_fn(uv, x, labels, mask):
        p = dict(params, w_h=rank_one(uv))
        return masked_cross_entropy(rnn_apply(p, x, leak=leak, activation=activation), labels, mask)

    tx = optax.adam(learning_rate)

    def step(carry, i):
        uv, opt_state = carry
        x, labels, mask = batch_fn(jr.fold_in(key, i))
        loss, grads = jax.value_and_grad(loss_fn)(uv, x, labels, mask)
        updates, opt_state = tx.update(grads, opt_state, uv)
        return (optax.apply_updates(uv, updates), opt_state), loss

    uv0 = (u[:, 0], vt[0])
    (uv, _), losses = jax.lax.scan(step, (uv0, tx.init(uv0)), jnp.arange(num_steps))
    return rank_one(uv), losses
