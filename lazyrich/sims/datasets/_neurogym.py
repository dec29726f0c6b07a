"""Cognitive tasks of neurogym 0.0.2 as pure JAX trial generators (no gym dependency), plus sequential digits.

Every neurogym task has 8 steps of dt = 100 ms, input noise sd 0.1 (sigma / sqrt(dt) with sigma = 1
in neurogym's units) and 3 actions: label 0 ("fixate") at every step except the decision step, where
the label is the correct choice 1 or 2 (the task definitions of neurogym 0.0.2 used by Liu et al.,
ICLR 2024). Generators are pure functions of a typed key, jit- and vmap-able; ``batch_size`` is
static.

References:
  Liu et al. (ICLR 2024), https://arxiv.org/abs/2310.08513, Sec. 3 and App.; Molano-Mazon et al., NeuroGym
  (https://github.com/neurogym/neurogym), environments PerceptualDecisionMaking-v0, DelayMatchSample-v0 and
  ContextDecisionMaking-v0 (version 0.0.2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks

__all__ = [
    "NEUROGYM_TASKS",
    "Trials",
    "context_decision",
    "delay_match_sample",
    "neurogym_task",
    "sequence_batches",
    "sequential_digits",
    "sequential_mnist",
    "two_afc",
]

NUM_STEPS = 8
NUM_ACTIONS = 3


class Trials(NamedTuple):
    """A batch of trials.

    Attributes:
      inputs: observations ``(B, T, D)`` float32.
      labels: targets ``(B, T)`` int32 (0 = fixate outside the decision step).
      mask: ``(B, T)`` float32, 1 on the decision step(s), 0 elsewhere (the loss over "all" steps ignores it).
    """

    inputs: jax.Array
    labels: jax.Array
    mask: jax.Array


def _check(key, batch_size, noise):
    _checks.check_key("key", key)
    _checks.check_int("batch_size", batch_size, minimum=1)
    _checks.check_positive("noise", noise, strict=False)


def _decision_labels(choice: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Labels 0 except ``choice`` (1 or 2) at the last step; mask on the last step."""
    b = choice.shape[0]
    last = (jnp.arange(NUM_STEPS) == NUM_STEPS - 1)[None, :]
    labels = jnp.where(last, choice[:, None], 0).astype(jnp.int32)
    return labels, jnp.broadcast_to(last, (b, NUM_STEPS)).astype(jnp.float32)


def two_afc(
    key: jax.Array,
    *,
    batch_size: int,
    noise=0.1,
    coherences: tuple[float, ...] = (0.0, 6.4, 12.8, 25.6, 51.2),
) -> Trials:
    r"""Two-alternative forced choice (neurogym PerceptualDecisionMaking-v0).

    Timing: stimulus 700 ms (steps 0-6), decision 100 ms (step 7). Observation dim 3: fixation (1 except in the
    decision), and two ring channels at angles :math:`\theta_k \in \{0, \pi\}` carrying
    :math:`\cos(\theta_k - \theta^*)\,c/200 + 0.5 + \mathcal N(0, \sigma^2)` during the stimulus, 0 otherwise,
    with :math:`\theta^* = \theta_{\rm choice}` and coherence c drawn uniformly from ``coherences``. Label: the
    choice 1 or 2 at the decision step.

    Args:
      key: typed PRNG key.
      batch_size: B (static).
      noise: :math:`\sigma` (default 0.1, may be traced).
      coherences: coherence values in percent (static).

    Returns:
      :class:`Trials` with inputs ``(B, 8, 3)``.
    """
    _check(key, batch_size, noise)
    k_choice, k_coh, k_noise = jr.split(key, 3)
    choice = jr.randint(k_choice, (batch_size,), 1, 3)
    coh = jnp.asarray(coherences, jnp.float32)[jr.randint(k_coh, (batch_size,), 0, len(coherences))]
    theta_star = jnp.where(choice == 1, 0.0, jnp.pi)
    ring = jnp.asarray([0.0, jnp.pi], jnp.float32)
    stim = jnp.cos(ring[None, :] - theta_star[:, None]) * coh[:, None] / 200.0 + 0.5  # (B, 2)
    stimulus_period = (jnp.arange(NUM_STEPS) < NUM_STEPS - 1).astype(jnp.float32)  # (T,)
    ring_obs = stimulus_period[None, :, None] * (
        stim[:, None, :] + noise * jr.normal(k_noise, (batch_size, NUM_STEPS, 2))
    )
    fixation = jnp.broadcast_to(stimulus_period[None, :, None], (batch_size, NUM_STEPS, 1))
    labels, mask = _decision_labels(choice)
    return Trials(jnp.concatenate([fixation, ring_obs], axis=-1), labels, mask)


def delay_match_sample(key: jax.Array, *, batch_size: int, noise=0.1) -> Trials:
    r"""Delayed match-to-sample (neurogym DelayMatchSample-v0).

    Timing: sample 100 ms (step 0), delay 500 ms (steps 1-5), test 100 ms (step 6), decision 100 ms (step 7).
    Observation dim 3: fixation (1 except in the decision) and two ring channels at :math:`\{0, \pi\}` carrying
    :math:`0.5\cos(\theta_k - \theta) + 0.5 + \mathcal N(0,\sigma^2)` with :math:`\theta = \theta_s` (sample,
    uniform on the ring) in the sample step and :math:`\theta_s` (match) or :math:`\theta_s + \pi` (non-match)
    in the test step; 0 elsewhere. Label at the decision: 1 = match, 2 = non-match.

    Returns:
      :class:`Trials` with inputs ``(B, 8, 3)``.
    """
    _check(key, batch_size, noise)
    k_sample, k_match, k_noise = jr.split(key, 3)
    ring = jnp.asarray([0.0, jnp.pi], jnp.float32)
    theta_s = ring[jr.randint(k_sample, (batch_size,), 0, 2)]
    choice = jr.randint(k_match, (batch_size,), 1, 3)
    theta_t = jnp.where(choice == 1, theta_s, theta_s + jnp.pi)
    sample = 0.5 * jnp.cos(ring[None, :] - theta_s[:, None]) + 0.5
    test = 0.5 * jnp.cos(ring[None, :] - theta_t[:, None]) + 0.5
    t = jnp.arange(NUM_STEPS)
    is_sample = (t == 0).astype(jnp.float32)[None, :, None]
    is_test = (t == NUM_STEPS - 2).astype(jnp.float32)[None, :, None]
    ring_obs = is_sample * sample[:, None, :] + is_test * test[:, None, :]
    ring_obs = ring_obs + (is_sample + is_test) * noise * jr.normal(
        k_noise, (batch_size, NUM_STEPS, 2)
    )
    fixation = jnp.broadcast_to(
        (t < NUM_STEPS - 1).astype(jnp.float32)[None, :, None], (batch_size, NUM_STEPS, 1)
    )
    labels, mask = _decision_labels(choice)
    return Trials(jnp.concatenate([fixation, ring_obs], axis=-1), labels, mask)


def context_decision(
    key: jax.Array, *, batch_size: int, noise=0.1, coherences: tuple[float, ...] = (5.0, 15.0, 50.0)
) -> Trials:
    r"""Context-dependent decision making (neurogym ContextDecisionMaking-v0).

    Timing: stimulus 200 ms (steps 0-1), delay 500 ms (steps 2-6), decision 100 ms (step 7). Observation dim 7:
    ``[fixation, stim1_mod1, stim2_mod1, stim1_mod2, stim2_mod2, ctx1, ctx2]``. In each modality m a choice
    :math:`c_m \in \{1, 2\}` and a coherence from ``coherences`` are drawn, with signed coherence
    :math:`s_m = \pm c` (+ for choice 1); stim1 = :math:`(1 + s_m/100)/2`, stim2 = :math:`(1 - s_m/100)/2` in the
    stimulus period. Fixation is 1 before the decision. :math:`\mathcal N(0, \sigma^2)` noise is added to all
    channels in the stimulus period; all observations are zero in the decision step; finally the one-hot
    context (+1) is added at every step. Label: the choice of the cued modality.

    Returns:
      :class:`Trials` with inputs ``(B, 8, 7)``.
    """
    _check(key, batch_size, noise)
    k_choice, k_coh, k_ctx, k_noise = jr.split(key, 4)
    choices = jr.randint(k_choice, (batch_size, 2), 1, 3)
    coh = jnp.asarray(coherences, jnp.float32)[
        jr.randint(k_coh, (batch_size, 2), 0, len(coherences))
    ]
    context = jr.randint(k_ctx, (batch_size,), 0, 2)
    signed = jnp.where(choices == 1, coh, -coh) / 100.0  # (B, 2 modalities)
    stims = jnp.stack([(1.0 + signed) / 2.0, (1.0 - signed) / 2.0], axis=-1).reshape(batch_size, 4)
    t = jnp.arange(NUM_STEPS)
    is_stim = (t < 2).astype(jnp.float32)[None, :, None]
    before_decision = (t < NUM_STEPS - 1).astype(jnp.float32)[None, :, None]
    obs = jnp.concatenate(
        [
            jnp.ones((batch_size, NUM_STEPS, 1)),
            is_stim * stims[:, None, :],
            jnp.zeros((batch_size, NUM_STEPS, 2)),
        ],
        axis=-1,
    )
    obs = obs + is_stim * noise * jr.normal(k_noise, (batch_size, NUM_STEPS, 7))
    obs = obs * before_decision
    ctx = jax.nn.one_hot(context, 2, dtype=jnp.float32)  # (B, 2)
    obs = obs.at[:, :, 5:].add(ctx[:, None, :])
    choice = jnp.take_along_axis(choices, context[:, None], axis=1)[:, 0]
    labels, mask = _decision_labels(choice)
    return Trials(obs, labels, mask)


NEUROGYM_TASKS: dict[str, Callable[..., Trials]] = {
    "2af": two_afc,
    "dms": delay_match_sample,
    "cxt": context_decision,
}


def neurogym_task(name: str) -> Callable[..., Trials]:
    """The generator of a task tag ``"2af"``, ``"dms"`` or ``"cxt"``.

    Raises:
      ValueError: for an unknown tag.
    """
    _checks.check_choice("name", name, tuple(NEUROGYM_TASKS))
    return NEUROGYM_TASKS[name]


def sequential_digits(x, *, steps: int = 8) -> np.ndarray:
    """Digits ``(n, 64)`` (from :func:`load_digits`) as sequences of ``steps`` rows: ``(n, steps, 64 // steps)``.

    ``steps=8`` feeds one image row per step; ``steps=64`` one pixel per step.

    Raises:
      ValueError: if ``x`` is not ``(n, 64)`` or ``steps`` does not divide 64.
    """
    _checks.check_ndim("x", x, 2)
    if np.shape(x)[1] != 64:
        raise ValueError(f"`x` must have shape (n, 64), got {np.shape(x)}.")
    _checks.check_int("steps", steps, minimum=1, maximum=64)
    if 64 % steps:
        raise ValueError(f"`steps` must divide 64, got {steps}.")
    return np.asarray(x, np.float32).reshape(np.shape(x)[0], steps, 64 // steps)


def sequential_mnist(images) -> np.ndarray:
    """MNIST images ``(n, 28, 28)`` uint8 (from :func:`load_mnist`) as 28 rows of 28 pixels in [0, 1].

    Raises:
      ValueError: if ``images`` is not ``(n, 28, 28)``.
    """
    _checks.check_ndim("images", images, 3)
    if np.shape(images)[1:] != (28, 28):
        raise ValueError(f"`images` must have shape (n, 28, 28), got {np.shape(images)}.")
    return np.asarray(images, np.float32) / 255.0


def sequence_batches(inputs, labels, *, batch_size: int) -> Callable[[jax.Array], Trials]:
    """A ``key -> Trials`` sampler of random minibatches from a fixed sequence data set (labels at the last step).

    Args:
      inputs: ``(n, T, D)`` sequences.
      labels: ``(n,)`` integer classes.
      batch_size: B.

    Returns:
      A pure function ``batch_fn(key) -> Trials`` (inputs ``(B, T, D)``, the class label at the last step,
      mask = last step), usable by :func:`lazyrich.dynamics.rnn.train_rnn`.

    Raises:
      ValueError: for inconsistent lengths or ``batch_size > n``.
    """
    _checks.check_ndim("inputs", inputs, 3)
    n = np.shape(inputs)[0]
    if np.shape(labels) != (n,):
        raise ValueError(f"`labels` must have shape ({n},), got {np.shape(labels)}.")
    _checks.check_int("batch_size", batch_size, minimum=1, maximum=n)
    inputs = jnp.asarray(inputs)
    labels = jnp.asarray(labels, jnp.int32)
    steps = inputs.shape[1]
    last = (jnp.arange(steps) == steps - 1)[None, :]

    def batch_fn(key: jax.Array) -> Trials:
        idx = jr.choice(key, n, (batch_size,), replace=False)
        lab = jnp.where(last, labels[idx][:, None], 0).astype(jnp.int32)
        return Trials(inputs[idx], lab, jnp.broadcast_to(last, lab.shape).astype(jnp.float32))

    return batch_fn
