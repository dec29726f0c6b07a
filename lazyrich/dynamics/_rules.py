r"""Update rules for :func:`lazyrich.dynamics.solve`: small pytrees whose continuous hyper-parameters are traced.

A rule has ``init(params) -> rule_state``, ``step(objective, params, model_state, rule_state, step, key) ->
(params, model_state, rule_state, loss, aux)`` (``loss``/``aux``: the value the step evaluated, before its update)
and ``time(steps)`` (the run's time in the rule's unit). Per-step randomness is ``fold_in(key, step)``.

* :func:`gd`: full-batch gradient descent :math:`w \leftarrow w - \eta\nabla\mathcal L`; with a
  ``temperature`` T it adds isotropic Gaussian noise :math:`\sqrt{2\eta T}\,\xi` (overdamped Langevin).
* :func:`sgd`: minibatch SGD on a uniformly random B-subset per step (``replace=False``, the B smallest of P
  i.i.d. uniforms), B indices drawn with replacement (``replace=True``), or epochs of a fresh permutation
  (``epochs=True``, the last incomplete batch dropped).
* :func:`langevin`: the full-batch gradient with per-example weights :math:`1 + s(\xi_\mu - \bar\xi)`,
  :math:`s^2 = \frac{P}{P-1}\max(0, PTh/\eta - 1)`, whose per-step mean and covariance are those of SGD at
  temperature :math:`T = \eta/(Bh)` (derivation: :mod:`lazyrich.dynamics._train`).
* :func:`gradient_flow`: :math:`\dot w = -\nabla\mathcal L` integrated by RK4 or Euler; step k integrates over
  ``[times[k], times[k + 1]]`` in ``substeps`` equal sub-steps.
* :func:`optax_rule`: any ``optax.GradientTransformation`` on full batches, minibatches or fresh batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import optax

from lazyrich._checks import check_choice, check_int

__all__ = ["GD", "SGD", "Langevin", "GradientFlow", "OptaxRule"]


def _static(default=dataclasses.MISSING):
    return dataclasses.field(default=default, metadata=dict(static=True))


def _float_dtype(params):
    leaves = [leaf for leaf in jax.tree.leaves(params) if jnp.issubdtype(leaf.dtype, jnp.inexact)]
    return leaves[0].dtype if leaves else jnp.result_type(float)


def _descend(params, grads, learning_rate):
    return jax.tree.map(lambda w, g: w - learning_rate * g, params, grads)


def _sample(objective, key, step, dtype, *, batch_size, replace, epochs, batch_fn, step_offset):
    """The batch of one step: ``("batch", pytree)`` for fresh batches, else ``("indices", (B,))``."""
    if batch_fn is not None:
        return "batch", batch_fn(jr.fold_in(key, step_offset + step))
    num_rows = objective.num_rows
    if epochs:
        steps_per_epoch = objective.num_rows // batch_size
        epoch, i = step // steps_per_epoch, step % steps_per_epoch
        order = jr.permutation(jr.fold_in(key, epoch), num_rows)
        return "indices", jax.lax.dynamic_slice_in_dim(order, i * batch_size, batch_size)
    step_key = jr.fold_in(key, step)
    if replace:
        limit = num_rows if objective.num_train is None else objective.num_train
        return "indices", jr.randint(step_key, (batch_size,), 0, limit)
    # The B smallest of P i.i.d. uniforms index a uniformly random B-subset (no replacement); a top-k is
    # ~15x cheaper on CPU than the sort-based `permutation(P)[:B]`.
    u = jr.uniform(step_key, (num_rows,), dtype)
    if objective.mask is not None:
        u = jnp.where(objective.mask, u, 2.0)
    return "indices", jax.lax.top_k(-u, batch_size)[1]


def _batch_value_and_grad(rule, objective, params, model_state, step, key):
    """Value and gradient on the step's batch: full, a sampled minibatch, or a fresh ``batch_fn`` batch."""
    batch_fn = getattr(rule, "batch_fn", None)
    if batch_fn is None and rule.batch_size is None:
        return objective.value_and_grad(params, model_state)
    kind, value = _sample(
        objective,
        key,
        step,
        _float_dtype(params),
        batch_size=rule.batch_size,
        replace=rule.replace,
        epochs=rule.epochs,
        batch_fn=batch_fn,
        step_offset=getattr(rule, "step_offset", 0),
    )
    if kind == "batch":
        return objective.value_and_grad(params, model_state, batch=value)
    return objective.value_and_grad(params, model_state, indices=value)


class _Stateless:
    """Rules without state whose time is ``learning_rate * steps``."""

    time_unit = "learning_rate * steps"

    def init(self, params):
        return ()

    def time(self, steps):
        return self.learning_rate * steps


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GD(_Stateless):
    """Full-batch gradient descent (:func:`gd`)."""

    learning_rate: Any
    temperature: Any = None

    def step(self, objective, params, model_state, rule_state, step, key):
        (loss, (model_state, aux)), grads = objective.value_and_grad(params, model_state)
        params = _descend(params, grads, self.learning_rate)
        if self.temperature is not None:
            leaves, tree = jax.tree.flatten(params)
            keys = (
                [jr.fold_in(key, step)]
                if len(leaves) == 1
                else jr.split(jr.fold_in(key, step), len(leaves))
            )
            scale = jnp.sqrt(2.0 * self.learning_rate * self.temperature)
            leaves = [w + scale * jr.normal(k, w.shape, w.dtype) for w, k in zip(leaves, keys)]
            params = jax.tree.unflatten(tree, leaves)
        return params, model_state, rule_state, loss, aux


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SGD(_Stateless):
    """Minibatch SGD (:func:`sgd`)."""

    learning_rate: Any
    batch_size: int = _static()
    replace: bool = _static(False)
    epochs: bool = _static(False)

    def step(self, objective, params, model_state, rule_state, step, key):
        (loss, (model_state, aux)), grads = _batch_value_and_grad(
            self, objective, params, model_state, step, key
        )
        return _descend(params, grads, self.learning_rate), model_state, rule_state, loss, aux


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Langevin(_Stateless):
    """Full-batch gradient with SGD-matched multiplicative noise (:func:`langevin`)."""

    learning_rate: Any
    temperature: Any
    width: int = _static(1)

    def step(self, objective, params, model_state, rule_state, step, key):
        dtype = _float_dtype(params)
        num = objective.count(dtype)
        lr = jnp.asarray(self.learning_rate, dtype)
        temp = jnp.asarray(self.temperature, dtype)
        noise_sq = num / (num - 1.0) * jnp.maximum(num * temp * self.width / lr - 1.0, 0.0)
        xi = jr.normal(jr.fold_in(key, step), (objective.num_rows,), dtype)
        weights = 1.0 + jnp.sqrt(noise_sq) * (xi - objective.reduce(xi))
        (loss, (model_state, aux)), grads = objective.value_and_grad(
            params, model_state, weights=weights
        )
        return _descend(params, grads, self.learning_rate), model_state, rule_state, loss, aux


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GradientFlow:
    """Gradient flow by an explicit Runge-Kutta integrator (:func:`gradient_flow`)."""

    times: Any
    substeps: int = _static(1)
    solver: str = _static("rk4")
    time_unit = "flow time"

    def init(self, params):
        return ()

    def step(self, objective, params, model_state, rule_state, step, key):
        dt = jnp.diff(self.times)[step] / self.substeps

        def velocity(p):
            (loss, (ms, aux)), grads = objective.value_and_grad(p, model_state)
            return jax.tree.map(jnp.negative, grads), (loss, ms, aux)

        def shifted(p, k, c):
            return jax.tree.map(lambda a, b: a + c * dt * b, p, k)

        def substep(p):
            k1, value = velocity(p)
            if self.solver == "euler":
                return shifted(p, k1, 1.0), value
            k2, _ = velocity(shifted(p, k1, 0.5))
            k3, _ = velocity(shifted(p, k2, 0.5))
            k4, _ = velocity(shifted(p, k3, 1.0))
            new = jax.tree.map(
                lambda w, a, b, c, d: w + dt / 6 * (a + 2 * b + 2 * c + d), p, k1, k2, k3, k4
            )
            return new, value

        # The loss, model state and aux reported are those of the first evaluation of the step.
        params, (loss, model_state, aux) = substep(params)
        params = jax.lax.fori_loop(1, self.substeps, lambda _, p: substep(p)[0], params)
        return params, model_state, rule_state, loss, aux

    def time(self, steps):
        return jnp.asarray(self.times)[steps]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class OptaxRule:
    """Any ``optax.GradientTransformation`` (:func:`optax_rule`)."""

    transform: optax.GradientTransformation = _static()
    batch_size: int | None = _static(None)
    replace: bool = _static(False)
    epochs: bool = _static(False)
    batch_fn: Callable | None = _static(None)
    step_offset: Any = 0
    initial_state: Any = None
    time_unit = "steps"

    def init(self, params):
        return self.transform.init(params) if self.initial_state is None else self.initial_state

    def step(self, objective, params, model_state, rule_state, step, key):
        (loss, (model_state, aux)), grads = _batch_value_and_grad(
            self, objective, params, model_state, step, key
        )
        updates, rule_state = self.transform.update(grads, rule_state, params)
        return optax.apply_updates(params, updates), model_state, rule_state, loss, aux

    def time(self, steps):
        return steps


def gd(learning_rate, *, temperature=None) -> GD:
    r"""Full-batch gradient descent :math:`w \leftarrow w - \eta\nabla\mathcal L(w)`.

    Args:
      learning_rate: :math:`\eta` (traced).
      temperature: ``None`` (plain GD) or T >= 0 (traced): add :math:`\sqrt{2\eta T}\,\xi`,
        :math:`\xi \sim N(0, I)` per parameter, drawn from ``fold_in(key, step)``.

    Example:
      >>> rule = gd(0.1)
    """
    return GD(learning_rate, temperature)


def sgd(learning_rate, *, batch_size: int, replace: bool = False, epochs: bool = False) -> SGD:
    """Minibatch SGD on B examples per step (see the module docstring for the three samplers).

    Args:
      learning_rate: step size (traced).
      batch_size: B (static).
      replace: draw the B indices with replacement.
      epochs: walk through a fresh permutation per epoch (``fold_in(key, epoch)``), dropping the last
        incomplete batch.
    """
    check_int("batch_size", batch_size, minimum=1)
    if replace and epochs:
        raise ValueError("`replace` and `epochs` cannot both be True.")
    return SGD(learning_rate, batch_size, replace, epochs)


def langevin(learning_rate, temperature, *, width: int = 1) -> Langevin:
    """Full-batch gradient plus noise with SGD's per-step mean and covariance at temperature T.

    Args:
      learning_rate: step size (traced).
      temperature: T >= 0 (traced); the matching batch size is ``learning_rate / (T * width)``.
      width: h in T = lr / (B h).
    """
    check_int("width", width, minimum=1)
    return Langevin(learning_rate, temperature, width)


def gradient_flow(times, *, substeps: int = 1, solver: str = "rk4") -> GradientFlow:
    r"""Gradient flow :math:`\dot w = -\nabla\mathcal L(w)`; step k integrates over ``[times[k], times[k+1]]``.

    Args:
      times: increasing time grid ``(T,)`` (traced); run it with ``max_steps = T - 1``.
      substeps: equal integrator steps per interval.
      solver: ``"rk4"`` (classical Runge-Kutta) or ``"euler"``.
    """
    check_int("substeps", substeps, minimum=1)
    check_choice("solver", solver, ("rk4", "euler"))
    return GradientFlow(jnp.asarray(times), substeps, solver)


def optax_rule(
    transform: optax.GradientTransformation,
    *,
    batch_size: int | None = None,
    replace: bool = False,
    epochs: bool = False,
    batch_fn: Callable | None = None,
    step_offset=0,
    initial_state=None,
) -> OptaxRule:
    """Any optax transformation on full batches (default), minibatches (``batch_size``) or fresh batches.

    Args:
      transform: an ``optax.GradientTransformation``.
      batch_size, replace, epochs: minibatch sampler as for :func:`sgd`.
      batch_fn: ``batch_fn(key) -> batch`` draws a fresh batch per step from ``fold_in(key, step_offset + step)``
        (then ``data`` is not used).
      step_offset: index of the first step (may be traced), to continue a run in segments.
      initial_state: the optimizer state to start from (default ``transform.init(params)``).
    """
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1)
    return OptaxRule(transform, batch_size, replace, epochs, batch_fn, step_offset, initial_state)
