r"""SGD on the perceptron with Sclocchi et al.'s alpha-scaled hinge loss, trained until every point is fitted.

Model and loss (Sclocchi, Geiger, Wyart 2023, Sec. 5). The perceptron is :math:`f(w, x) = w\cdot
x/\sqrt d`; only :math:`\Delta w = w - w_0` enters the centred predictor :math:`F = \alpha(f(w, x) -
f(w_0, x))`, and the per-sample loss is

.. math::
    \ell_\alpha = \tfrac1\alpha \max(0, 1 - \alpha y\,\Delta w\cdot x/\sqrt d),

a hinge with margin :math:`1/\alpha` and prefactor :math:`1/\alpha`. One SGD step draws a batch of B distinct
indices (independently across steps) and updates

.. math::
    \Delta w \leftarrow \Delta w + \frac{dt}{B} \sum_{\mu \in \text{batch},\ \alpha y_\mu f_\mu < 1}
    \frac{y_\mu x_\mu}{\sqrt d},

so every *unfit* point of the batch kicks :math:`\Delta w` by :math:`T y x/\sqrt d` with the
temperature :math:`T = dt/B` (``h = 1``, the ``sclocchi2023`` convention, ``docs/conventions.md``
§4). Training stops when :math:`\alpha y_\mu f_\mu \ge 1` for every training point (the loss is
exactly zero); time is :math:`t = dt \times \text{steps} = T B \times \text{steps}`.

Two exact simulators are provided:

* ``method="steps"``: one loop iteration per SGD step (the reference).
* ``method="events"``: event-driven. A step changes :math:`\Delta w` only if its batch holds an unfit point. With
  U unfit points out of P, a step is *null* with probability :math:`q = \binom{P-U}{B}/\binom{P}{B}
  = \prod_{j<B}(1 - U/(P-j))`, so the number of null steps before the next effective one is geometric; the
  effective step's number of unfit points k follows the hypergeometric law conditioned on ``k >= 1``, and the k
  points are a uniform subset of the unfit set. Late in training almost every step is null, so the cost is
  O(P d) per *effective* step instead of per step (millions of steps become thousands of events). Both methods
  sample the same process; they are not coupled path by path (except ``B = P``, gradient descent, where both
  are deterministic and agree exactly).

Per-event randomness is ``fold_in(key, event_index)``, so results do not depend on how the loop is chunked.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr

from lazyrich import _checks

__all__ = [
    "PerceptronState",
    "init_perceptron",
    "advance_perceptron",
    "train_perceptron",
    "STATUS_FITTED",
    "STATUS_MAX_STEPS",
    "STATUS_DIVERGED",
]

STATUS_FITTED = 0
STATUS_MAX_STEPS = 1
STATUS_DIVERGED = 2
_MAX_STEPS_LIMIT = 2**30
_NO_LIMIT = 2**31 - 1
_SEQUENTIAL_PICK_MAX_BATCH = 8


class PerceptronState(NamedTuple):
    """Loop state of the perceptron simulators (all fields are arrays; vmappable).

    Attributes:
      delta_w: :math:`\\Delta w = w - w_0`, shape ``(d,)``.
      step: number of SGD steps taken (int32).
      num_events: number of loop iterations so far (effective steps for ``"events"``, steps for ``"steps"``).
      num_updates: total number of single-point kicks applied (int32).
      num_unfit: number of training points with :math:`\\alpha y f < 1` at ``delta_w`` (int32).
      status: 0 fitted, 1 running or hit the step cap, 2 diverged (int32).
    """

    delta_w: jax.Array
    step: jax.Array
    num_events: jax.Array
    num_updates: jax.Array
    num_unfit: jax.Array
    status: jax.Array


def _validate(x, y, temperature, alpha, batch_size, max_steps, method):
    _checks.check_ndim("x", x, 2)
    _checks.check_ndim("y", y, 1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"`x` and `y` must have the same number of points, got {x.shape[0]} and {y.shape[0]}."
        )
    _checks.check_int("batch_size", batch_size, minimum=1)
    if batch_size > x.shape[0]:
        raise ValueError(
            f"`batch_size` must be <= the number of training points P = {x.shape[0]}, got {batch_size}."
        )
    _checks.check_int("max_steps", max_steps, minimum=1, maximum=_MAX_STEPS_LIMIT)
    _checks.check_positive("temperature", temperature, strict=False)
    _checks.check_positive("alpha", alpha)
    _checks.check_choice("method", method, ("events", "steps"))
    _checks.check_finite("x", x)
    if not isinstance(y, jax.core.Tracer):
        import numpy as np

        values = np.unique(np.asarray(y))
        if not set(values.tolist()) <= {-1.0, 1.0}:
            raise ValueError(
                f"`y` must hold labels in {{-1, +1}} for the hinge loss, got values {values[:5]}."
            )


def _margins(x, y, delta_w):
    """:math:`y f = y\\,\\Delta w\\cdot x/\\sqrt d` for every point, shape ``(P,)``."""
    return y * (x @ delta_w) / jnp.sqrt(jnp.asarray(x.shape[1], x.dtype))


def _status(x, y, delta_w, alpha, margins=None):
    margins = _margins(x, y, delta_w) if margins is None else margins
    num_unfit = jnp.sum(alpha * margins < 1).astype(jnp.int32)
    finite = jnp.all(jnp.isfinite(delta_w))
    status = jnp.where(
        ~finite, STATUS_DIVERGED, jnp.where(num_unfit == 0, STATUS_FITTED, STATUS_MAX_STEPS)
    )
    return num_unfit, status.astype(jnp.int32)


def init_perceptron(x: jax.Array, y: jax.Array, *, alpha) -> PerceptronState:
    """The state at :math:`\\Delta w = 0` (every point unfit, since the margin :math:`1/\\alpha` is positive)."""
    delta_w = jnp.zeros(x.shape[1], x.dtype)
    num_unfit, status = _status(x, y, delta_w, jnp.asarray(alpha, x.dtype))
    zero = jnp.zeros((), jnp.int32)
    return PerceptronState(delta_w, zero, zero, zero, num_unfit, status)


def _log_binomial_ratios(n, m, dtype):
    """:math:`\\log\\binom{n}{k}` for k = 0..m (``-inf`` for k > n), by cumulative sums of small logs."""
    k = jnp.arange(1, m + 1, dtype=dtype)
    terms = jnp.log(jnp.maximum(n - k + 1, 0.0)) - jnp.log(k)
    return jnp.concatenate([jnp.zeros((1,), dtype), jnp.cumsum(terms)])


def _event_step(state, margins, x, y, temperature, alpha, batch_size, max_steps, key):
    """One effective SGD step of the event-driven simulator (see the module docstring).

    ``margins`` are :func:`_margins` at ``state.delta_w``, carried by the loop so that each event costs one
    pass over the data (the margins after the kick) instead of two. Returns ``(state, margins)``.
    """
    num_points, dim = x.shape
    dtype = x.dtype
    # One uniform draw per event (few random call sites keep compilation fast): [skip, count, scores...].
    sequential = batch_size <= _SEQUENTIAL_PICK_MAX_BATCH
    num_uniforms = 2 + (batch_size if sequential else num_points)
    uniforms = jr.uniform(jr.fold_in(key, state.num_events), (num_uniforms,), dtype)
    unfit = alpha * margins < 1
    u = state.num_unfit.astype(dtype)
    # Probability that a batch of B distinct points misses all U unfit points.
    j = jnp.arange(batch_size, dtype=dtype)
    ratio = jnp.clip(u / (num_points - j), 0.0, 1.0)
    log_q = jnp.sum(jnp.log1p(-ratio))
    log_uniform = jnp.log(jnp.maximum(uniforms[0], jnp.finfo(dtype).tiny))
    safe_log_q = jnp.where(log_q < 0, log_q, -1.0)
    skip = jnp.where(log_q < 0, jnp.floor(log_uniform / safe_log_q), jnp.inf)
    # Null steps before the next effective one, as an exact integer (float32 cannot count past 2**24).
    skip = jnp.minimum(skip, jnp.asarray(max_steps, dtype)).astype(jnp.int32)
    capped = skip >= max_steps - state.step
    event_step = state.step + jnp.minimum(skip, max_steps - state.step) + 1
    # Number k >= 1 of unfit points in the effective batch: hypergeometric conditioned on k >= 1, drawn by
    # inverting its cumulative distribution.
    log_c_unfit = _log_binomial_ratios(u, batch_size, dtype)  # log C(U, k)
    log_c_fit = _log_binomial_ratios(num_points - u, batch_size, dtype)[::-1]  # log C(P - U, B - k)
    logits = (log_c_unfit + log_c_fit).at[0].set(-jnp.inf)
    logits = jnp.where(jnp.isnan(logits), -jnp.inf, logits)
    cdf = jnp.cumsum(jax.nn.softmax(logits))
    k = jnp.minimum(jnp.sum(cdf < uniforms[1] * cdf[-1]), batch_size)
    if sequential:
        # A uniform k-subset of the unfit points, drawn one point at a time without replacement: the r-th
        # (r uniform) of the still-available unfit points, located by a cumulative sum. O(B P), no O(P) draw.
        available = unfit
        picks = []
        for i in range(batch_size):
            remaining = jnp.maximum(state.num_unfit - i, 1)
            r = jnp.minimum(jnp.floor(uniforms[2 + i] * remaining), remaining - 1).astype(jnp.int32)
            index = jnp.argmax(jnp.cumsum(available.astype(jnp.int32)) > r)
            picks.append(index)
            available = available.at[index].set(False)
        picked = jnp.stack(picks)
    else:
        # A uniform k-subset: the k smallest of i.i.d. uniform scores over the unfit set.
        scores = jnp.where(unfit, uniforms[2:], 2.0)
        _, picked = jax.lax.top_k(-scores, batch_size)
    use = (jnp.arange(batch_size) < k).astype(dtype)
    kick = temperature * ((use * y[picked]) @ x[picked]) / jnp.sqrt(jnp.asarray(dim, dtype))
    delta_w = jnp.where(capped, state.delta_w, state.delta_w + kick)
    step = jnp.where(capped, max_steps, event_step).astype(jnp.int32)
    num_updates = state.num_updates + jnp.where(capped, 0, k).astype(jnp.int32)
    margins = _margins(x, y, delta_w)
    num_unfit, status = _status(x, y, delta_w, alpha, margins)
    return PerceptronState(
        delta_w, step, state.num_events + 1, num_updates, num_unfit, status
    ), margins


def _plain_step(state, unused_margins, x, y, temperature, alpha, batch_size, max_steps, key):
    """One SGD step of the reference simulator: a fresh batch of B distinct indices (``margins`` unused)."""
    num_points, dim = x.shape
    batch = jr.permutation(jr.fold_in(key, state.step), num_points)[:batch_size]
    margins = _margins(x[batch], y[batch], state.delta_w)
    unfit = (alpha * margins < 1).astype(x.dtype)
    kick = temperature * ((unfit * y[batch]) @ x[batch]) / jnp.sqrt(jnp.asarray(dim, x.dtype))
    delta_w = state.delta_w + kick
    num_unfit, status = _status(x, y, delta_w, alpha)
    new = PerceptronState(
        delta_w,
        state.step + 1,
        state.num_events + 1,
        state.num_updates + jnp.sum(unfit).astype(jnp.int32),
        num_unfit,
        status,
    )
    return new, unused_margins


def advance_perceptron(
    state: PerceptronState,
    x: jax.Array,
    y: jax.Array,
    *,
    temperature,
    alpha,
    batch_size: int,
    max_steps: int,
    key: jax.Array,
    max_events: int | jax.Array = _NO_LIMIT,
    method: Literal["events", "steps"] = "events",
) -> PerceptronState:
    """Advance ``state`` until fitted, diverged, ``max_steps`` SGD steps, or ``max_events`` loop iterations.

    ``max_events`` bounds one call (a chunk); calling again continues the same trajectory, because per-event
    randomness is ``fold_in(key, num_events)`` (``fold_in(key, step)`` for ``"steps"``). Arguments are those of
    :func:`train_perceptron`. A state with ``status`` 0 or 2 is returned unchanged.
    """
    _validate(x, y, temperature, alpha, batch_size, max_steps, method)
    _checks.check_key("key", key)
    temperature = jnp.asarray(temperature, x.dtype)
    alpha = jnp.asarray(alpha, x.dtype)
    step_fn = _event_step if method == "events" else _plain_step
    event_limit = state.num_events + jnp.asarray(max_events, jnp.int32)

    def cond(carry):
        s, _ = carry
        return (
            (s.status == STATUS_MAX_STEPS)
            & (s.step < max_steps)
            & (s.num_events < event_limit)
            & (temperature > 0)
        )

    def body(carry):
        return step_fn(*carry, x, y, temperature, alpha, batch_size, max_steps, key)

    margins = _margins(x, y, state.delta_w) if method == "events" else jnp.zeros((0,), x.dtype)
    state, _ = jax.lax.while_loop(cond, body, (state, margins))
    # At zero temperature nothing moves: the run can only end at the cap.
    stuck = (temperature <= 0) & (state.status == STATUS_MAX_STEPS)
    return state._replace(step=jnp.where(stuck, max_steps, state.step).astype(jnp.int32))


def train_perceptron(
    x: jax.Array,
    y: jax.Array,
    *,
    temperature,
    alpha,
    batch_size: int,
    max_steps: int,
    key: jax.Array,
    method: Literal["events", "steps"] = "events",
) -> PerceptronState:
    r"""Train the perceptron by SGD on the alpha-scaled hinge until every point is fitted (or the step cap).

    Args:
      x: training inputs, shape ``(P, d)``.
      y: labels in ``{-1, +1}``, shape ``(P,)``.
      temperature: SGD temperature :math:`T = dt/B` (``h = 1``), ``>= 0``; traced (vmappable).
      alpha: output scale :math:`\alpha > 0`; the hinge margin is :math:`1/\alpha`; traced.
      batch_size: B, distinct indices per step, ``1 <= B <= P`` (static).
      max_steps: step cap, ``<= 2**30`` (static).
      key: typed PRNG key for the batches.
      method: ``"events"`` (event-driven, fast late in training) or ``"steps"`` (one iteration per step).

    Returns:
      The final :class:`PerceptronState`: ``delta_w``, ``step`` (SGD steps; time is ``temperature *
      batch_size * step``), ``num_events``, ``num_updates`` (single-point kicks), ``num_unfit`` and ``status``
      (0 fitted, 1 hit ``max_steps``, 2 diverged).

    Raises:
      ValueError: for ``alpha <= 0``, ``temperature < 0``, ``batch_size > P``, labels outside ``{-1, +1}``,
        mismatched shapes, or an unknown ``method``.

    References:
      Sclocchi, Geiger, Wyart (ICML 2023), https://arxiv.org/abs/2301.13703, Sec. 5.
    """
    _validate(x, y, temperature, alpha, batch_size, max_steps, method)
    state = init_perceptron(x, y, alpha=alpha)
    return advance_perceptron(
        state,
        x,
        y,
        temperature=temperature,
        alpha=alpha,
        batch_size=batch_size,
        max_steps=max_steps,
        key=key,
        method=method,
    )
