r"""The training driver: one loop for every training protocol of the library (``docs/design/driver.md``).

:func:`solve` runs an update rule (:mod:`lazyrich.dynamics._rules`) on a loss from ``params0`` until a
:class:`Stop` fires or ``max_steps`` is reached, recording user observables on a save grid:

.. code-block:: text

    for each save step s_k:                               (lax.scan)
        while not done and step < s_k:                    (lax.while_loop)
            check_every rule steps                        (lax.fori_loop; step s uses fold_in(key, s))
            stop check: fitted -> ok, diverged -> diverged (the last checked finite state is kept)
        observed[k] = observe(params, model_state)

**Loss normalisation.** ``loss_fn(params, batch)`` returns per-example losses ``(n,)``, which every rule
averages over the examples of its step (the full training set, a minibatch, or weighted for Langevin), or a
scalar, used as is. Any prefactor (``1/2``, ``1/alpha**p``) belongs to ``loss_fn``.

**Models with state** (BatchNorm statistics): ``has_state=True`` and ``loss_fn(params, model_state, batch) ->
(losses, model_state)``; the new state of each step is carried. ``has_aux=True``: ``loss_fn`` returns
``(losses, aux)`` (or ``(losses, (model_state, aux))`` with state) and the aux of the last step before each
save point is returned as ``step_aux``.

**Status** (:class:`lazyrich._status.Status`): ``ok`` when the fitting criterion fired (or the run reached
``max_steps`` without one), ``step_cap`` when a criterion was set and not met, ``diverged`` on a non-finite or
too large loss or weight change. After a stop the state is frozen: later save points repeat it.

All of it is pure and traceable: ``jax.jit`` compiles a whole run into one program, and ``jax.vmap`` over keys,
initial parameters or a rule's continuous hyper-parameters runs a grid as one program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import check_int, check_key
from lazyrich._status import Status
from lazyrich._types import Array, Params

__all__ = ["Conventions", "Solution", "Stop", "solve", "weight_change", "tree_sq_norms"]


def tree_sq_norms(tree: Params) -> Array:
    """Squared Frobenius norm of each leaf of ``tree``, stacked in ``jax.tree.leaves`` order."""
    return jnp.stack([jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)])


def weight_change(params0: Params) -> Callable[[Params], tuple[Array, Array]]:
    r"""``params -> (total, per_leaf)``: :math:`\|w - w_0\|/\|w_0\|` over all leaves and per leaf."""
    w0_sq = tree_sq_norms(params0)

    def change(params):
        delta_sq = tree_sq_norms(jax.tree.map(jnp.subtract, params, params0))
        return jnp.sqrt(jnp.sum(delta_sq) / jnp.sum(w0_sq)), jnp.sqrt(delta_sq / w0_sq)

    return change


@dataclasses.dataclass(frozen=True)
class Conventions:
    """The conventions a run used, recorded in its :class:`Solution` (static metadata).

    Attributes:
      loss: how the loss is normalised (default: the mean over examples of ``loss_fn``).
      time_unit: the unit of :attr:`Solution.time` (the rule's, e.g. ``"learning_rate * steps"``).
      output_scale: the output scale's meaning (e.g. ``"F = alpha (f - f0)"``); its value is
        :attr:`Solution.alpha`.
    """

    loss: str = "mean over examples of loss_fn"
    time_unit: str = "steps"
    output_scale: str = "none (alpha = 1)"


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Stop:
    """When a run stops early (checked every ``check_every`` steps; static except the thresholds).

    Attributes:
      check_every: steps between checks; ``max_steps`` and the save steps are multiples of it.
      fitted: ``fitted(params, model_state) -> bool``; True stops the run with status ``ok``.
      loss_below: stop with ``ok`` when the full training loss is <= this (``None``: no such rule).
      max_loss: diverged when the full training loss is non-finite or above this (``None``: not checked;
        ``inf``: only a non-finite loss).
      max_weight_change: diverged when :math:`\\|w - w_0\\|/\\|w_0\\|` exceeds this (``None``: not checked).
    """

    check_every: int = dataclasses.field(default=1, metadata=dict(static=True))
    fitted: Callable | None = dataclasses.field(default=None, metadata=dict(static=True))
    loss_below: Any = None
    max_loss: Any = None
    max_weight_change: Any = None

    def __post_init__(self):
        check_int("check_every", self.check_every, minimum=1)

    @property
    def has_criterion(self) -> bool:
        return self.fitted is not None or self.loss_below is not None


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Solution:
    """What :func:`solve` returns (``jax.vmap`` adds leading axes to every array).

    Attributes:
      params: final parameters (the last finite checked state after a divergence).
      model_state: final model state (``None`` without one).
      rule_state: final rule state (e.g. the optax state; pass it back to continue).
      status: int32 :class:`lazyrich._status.Status` code.
      num_steps: int32, the step at which the run stopped (``max_steps`` if it did not).
      time: the run's duration in the rule's time unit (``conventions.time_unit``).
      save_steps: int32 ``(S,)``.
      observed: the ``observe`` pytree stacked along a leading axis ``S`` (``None`` without ``observe``).
      step_loss: ``(S,)``, the loss the rule evaluated at the last step before each save point (NaN at save
        points before the first step).
      step_aux: the ``aux`` of that step (``None`` without ``has_aux``).
      alpha: the output scale recorded by the caller (1 by default).
      conventions: :class:`Conventions` (static).
    """

    params: Params
    model_state: Any
    rule_state: Any
    status: Array
    num_steps: Array
    time: Array
    save_steps: Array
    observed: Any
    step_loss: Array
    step_aux: Any
    alpha: Array
    conventions: Conventions = dataclasses.field(default=Conventions(), metadata=dict(static=True))


class _Objective:
    """The loss as the rules see it: full-batch, minibatch, fresh-batch or weighted values and gradients."""

    def __init__(self, loss_fn, data, num_train, *, has_state, has_aux):
        self._fn = _normalise(loss_fn, has_state=has_state, has_aux=has_aux)
        self.data = data
        leaves = jax.tree.leaves(data)
        self.num_rows = leaves[0].shape[0] if leaves else None
        self.num_train = num_train
        self.mask = None if num_train is None else jnp.arange(self.num_rows) < num_train

    def count(self, dtype):
        return jnp.asarray(self.num_rows if self.num_train is None else self.num_train, dtype)

    def reduce(self, values, weights=None):
        """Mean over the training examples (masked by ``num_train``), optionally weighted."""
        if values.ndim == 0:
            if weights is not None:
                raise ValueError(
                    "`loss_fn` must return per-example losses (n,) for a rule that weights examples, "
                    "got a scalar."
                )
            return values
        values = values if weights is None else weights * values
        if self.mask is None:
            return jnp.mean(values)
        return jnp.sum(jnp.where(self.mask, values, 0.0)) / self.count(values.dtype)

    def value(self, params, model_state, *, indices=None, weights=None, batch=None):
        if batch is None:
            batch = self.data if indices is None else jax.tree.map(lambda a: a[indices], self.data)
        losses, (model_state, aux) = self._fn(params, model_state, batch)
        if indices is None and (batch is self.data):
            loss = self.reduce(losses, weights)
        else:
            loss = losses if losses.ndim == 0 else jnp.mean(losses)
        return loss, (model_state, aux)

    def value_and_grad(self, params, model_state, **kwargs):
        return jax.value_and_grad(lambda p: self.value(p, model_state, **kwargs), has_aux=True)(
            params
        )


def _normalise(loss_fn, *, has_state, has_aux):
    """``loss_fn`` as ``(params, model_state, batch) -> (losses, (model_state, aux))``."""

    def fn(params, model_state, batch):
        if has_state:
            out = loss_fn(params, model_state, batch)
            if has_aux:
                losses, (model_state, aux) = out
            else:
                (losses, model_state), aux = out, None
        else:
            out = loss_fn(params, batch)
            losses, aux = out if has_aux else (out, None)
        return jnp.asarray(losses), (model_state, aux)

    return fn


class _State(NamedTuple):
    params: Params
    model_state: Any
    rule_state: Any
    step: Array
    done: Array
    status: Array
    loss: Array
    aux: Any


def _check_save_steps(save_steps, max_steps, check_every):
    steps = np.asarray(save_steps)
    if (
        steps.ndim != 1
        or steps.size == 0
        or not np.issubdtype(steps.dtype, np.integer)
        or steps[0] < 0
        or np.any(np.diff(steps) <= 0)
        or steps[-1] != max_steps
        or np.any(steps % check_every)
    ):
        raise ValueError(
            "`save_steps` must be strictly increasing non-negative integers, multiples of "
            f"`stop.check_every` = {check_every}, ending at `max_steps` = {max_steps}; got {save_steps!r}."
        )
    return steps.astype(np.int32)


def solve(
    loss_fn: Callable,
    rule: Any,
    params0: Params,
    data: Any = None,
    *,
    key: Array | None = None,
    max_steps: int,
    save_steps: Any = None,
    stop: Stop | None = None,
    observe: Callable | None = None,
    model_state: Any = None,
    has_state: bool = False,
    has_aux: bool = False,
    num_train: int | Array | None = None,
    alpha: Any = 1.0,
    conventions: Conventions | None = None,
) -> Solution:
    r"""Run ``rule`` on ``loss_fn`` from ``params0`` (module docstring); one traceable program.

    Args:
      loss_fn: ``loss_fn(params, batch) -> (n,)`` per-example losses or a scalar (see ``has_state``,
        ``has_aux`` for the other signatures).
      rule: an update rule: :func:`gd`, :func:`sgd`, :func:`langevin`, :func:`gradient_flow`,
        :func:`optax_rule` (or any object with their ``init``/``step``/``time``/``time_unit``).
      params0: initial parameters (any pytree).
      data: the training set, a pytree of arrays with a common leading axis P (``None``: ``loss_fn``
        ignores its batch).
      key: typed PRNG key, needed by stochastic rules; step s uses ``fold_in(key, s)``.
      max_steps: the step cap (static; a multiple of ``stop.check_every``).
      save_steps: strictly increasing steps in ``[0, max_steps]`` ending at ``max_steps`` (static;
        default ``[max_steps]``); step 0 observes the initial state.
      stop: a :class:`Stop` (default: no early stop, ``check_every = 1``).
      observe: ``observe(params, model_state) -> pytree`` at each save step.
      model_state: initial model state (with ``has_state``).
      has_state: ``loss_fn(params, model_state, batch) -> (losses, model_state)``.
      has_aux: ``loss_fn`` also returns an aux pytree (``(losses, aux)``; ``(losses, (model_state, aux))``
        with state).
      num_train: only the first ``num_train`` rows of ``data`` are the training set (may be traced).
      alpha: the output scale, recorded in the result.
      conventions: recorded in the result (default: the mean loss and the rule's time unit).

    Returns:
      A :class:`Solution`.

    Raises:
      ValueError: for a bad ``max_steps`` / ``save_steps``, or data without a common leading axis.
      TypeError: for a non-typed ``key``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from lazyrich import dynamics
      >>> sol = dynamics.solve(lambda w, _: 0.5 * jnp.sum(w**2), dynamics.gd(0.1), jnp.ones(3),
      ...                      max_steps=10)
      >>> round(float(sol.params[0]), 4)  # 0.9**10
      0.3487
    """
    stop = Stop() if stop is None else stop
    check_int("max_steps", max_steps, minimum=1)
    if max_steps % stop.check_every:
        raise ValueError(
            f"`max_steps` ({max_steps}) must be a multiple of `stop.check_every` ({stop.check_every})."
        )
    save = _check_save_steps(
        [max_steps] if save_steps is None else save_steps, max_steps, stop.check_every
    )
    if key is None:
        key = jax.random.key(0)
    check_key("key", key)
    rows = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(data)}
    if len(rows) > 1 or None in rows:
        raise ValueError(
            f"`data` must be a pytree of arrays with a common leading axis, got leading sizes {rows}."
        )
    objective = _Objective(loss_fn, data, num_train, has_state=has_state, has_aux=has_aux)
    rule_state0 = rule.init(params0)
    (loss0, (_, aux0)) = jax.eval_shape(
        lambda p, m: _step_value_shape(rule, objective, p, m, rule_state0, key),
        params0,
        model_state,
    )
    check_weights = stop.max_weight_change is not None
    change = weight_change(params0) if check_weights else None
    check_loss = stop.loss_below is not None or stop.max_loss is not None

    def check(params, model_state):
        fitted = jnp.zeros((), bool)
        diverged = jnp.zeros((), bool)
        if check_loss:
            loss, _ = objective.value(params, model_state)
            if stop.max_loss is not None:
                diverged = ~jnp.isfinite(loss) | (loss > stop.max_loss)
            if stop.loss_below is not None:
                fitted = fitted | (loss <= stop.loss_below)
        if stop.fitted is not None:
            fitted = fitted | stop.fitted(params, model_state)
        if check_weights:
            diverged = diverged | ~(change(params)[0] <= stop.max_weight_change)
        return fitted & ~diverged, diverged

    def block(state: _State) -> _State:
        def one(i, carry):
            params, ms, rs, _, _ = carry
            return rule.step(objective, params, ms, rs, state.step + i, key)

        carry = (state.params, state.model_state, state.rule_state, state.loss, state.aux)
        params, ms, rs, loss, aux = jax.lax.fori_loop(0, stop.check_every, one, carry)
        step = state.step + stop.check_every
        fitted, diverged = check(params, ms)
        status = jnp.where(diverged, Status.DIVERGED, jnp.where(fitted, Status.OK, state.status))
        params, ms, rs = jax.tree.map(
            lambda old, new: jnp.where(diverged, old, new),
            (state.params, state.model_state, state.rule_state),
            (params, ms, rs),
        )
        return _State(params, ms, rs, step, fitted | diverged, status.astype(jnp.int32), loss, aux)

    def segment(state: _State, end: Array):
        state = jax.lax.while_loop(lambda s: ~s.done & (s.step < end), block, state)
        obs = None if observe is None else observe(state.params, state.model_state)
        return state, (obs, state.loss, state.aux)

    cap = Status.STEP_CAP if stop.has_criterion else Status.OK
    init = _State(
        params0,
        model_state,
        rule_state0,
        jnp.zeros((), jnp.int32),
        jnp.zeros((), bool),
        jnp.asarray(cap, jnp.int32),
        jnp.full(loss0.shape, jnp.nan, loss0.dtype),
        jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), aux0),
    )
    save_steps = jnp.asarray(save)
    final, (observed, step_loss, step_aux) = jax.lax.scan(segment, init, save_steps)
    if conventions is None:
        conventions = Conventions(time_unit=rule.time_unit)
    return Solution(
        params=final.params,
        model_state=final.model_state,
        rule_state=final.rule_state,
        status=final.status,
        num_steps=final.step,
        time=rule.time(final.step),
        save_steps=save_steps,
        observed=observed,
        step_loss=step_loss,
        step_aux=step_aux if has_aux else None,
        alpha=jnp.asarray(alpha),
        conventions=conventions,
    )


def _step_value_shape(rule, objective, params, model_state, rule_state, key):
    _, _, _, loss, aux = rule.step(
        objective, params, model_state, rule_state, jnp.zeros((), jnp.int32), key
    )
    return loss, (None, aux)
