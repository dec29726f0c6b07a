r"""Train-until-fitted loop for centred, alpha-scaled models: GD, minibatch SGD and matched Langevin noise.

One compiled program runs the whole protocol of Sclocchi, Geiger, Wyart (ICML 2023,
https://arxiv.org/abs/2301.13703, Secs. 2-3):

* the predictor is :math:`F(w, x) = \alpha[f(w, x) - f_0(x)]` with the stored initial outputs
  :math:`f_0 = f(w_0, X)`, and the objective :math:`\frac1P\sum_\mu \ell(F_\mu, y_\mu)/\alpha^{p}`
  (:mod:`lazyrich.dynamics` ``scaled_loss``);
* ``method="gd"``: full-batch gradient descent :math:`w \leftarrow w - \eta\nabla\mathcal L(w)`.
  With a small :math:`\eta` it is the Euler discretisation of gradient flow in the time :math:`t =
  \eta\cdot\mathrm{steps}`;
* ``method="sgd"``: each step draws a uniformly random subset of B of the P training points (no
  replacement within a step, independent across steps; the same law as the first B entries of a
  fresh permutation in the paper's code) and steps along the batch-mean gradient. Its temperature is
  :math:`T = \eta/(Bh)` (:func:`temperature`);
* ``method="langevin"``: full-batch gradient plus Gaussian noise with the *same per-step mean and
  covariance* as SGD at temperature T. Writing :math:`g_\mu = \nabla_w \ell_\mu/\alpha^p`,
  :math:`\bar g` their mean and :math:`C = \frac1P\sum_\mu (g_\mu - \bar g)(g_\mu - \bar g)^\top`, a
  batch of B drawn without replacement has :math:`\mathrm{Cov}[\hat g] = c_B C` with :math:`c_B =
  \frac{P - B}{B(P - 1)}`. The update

  .. math::
      w \leftarrow w - \eta\,\nabla_w \frac1P\sum_\mu \bigl(1 + s\,(\xi_\mu - \bar\xi)\bigr)\,
      \ell_\mu/\alpha^p, \qquad \xi_\mu \sim N(0, 1), \qquad s^2 = P\,c_B,

  has mean :math:`-\eta\bar g` and covariance :math:`\eta^2 s^2 C/P = \eta^2 c_B C` (derived:
  :math:`\sum_\mu(\xi_\mu - \bar\xi) g_\mu = \sum_\mu \xi_\mu (g_\mu - \bar g)` has covariance
  :math:`P C`). At temperature T and step :math:`\eta` the matching batch size is
  :math:`B_{\rm eff} = \eta/(T h)`, so :math:`s^2 = \frac{P}{P - 1}\,\max(0, PTh/\eta - 1)`; in the
  small-step limit both SGD and this update converge to the SDE
  :math:`dw = -\nabla\mathcal L\,dt + \sqrt{T h\,(1 - B/P)\,C(w)}\,dW_t` in :math:`t =
  \eta\cdot\mathrm{steps}` (for :math:`B \ll P`, diffusion :math:`T h\,C`). It costs one full-batch
  gradient per step and, unlike Sclocchi et al.'s ``gd_sde`` (which uses the decoupled product
  :math:`(1/B - 1/P)\,\overline{\ell'^2}\,\overline{\nabla f\nabla f^\top}`), reproduces the exact
  SGD covariance. Isotropic Langevin noise does not share SGD's covariance and is not offered.

**Stopping rule.** Every ``check_every`` steps the exact full training loss is recomputed.
``stop="fitted"`` stops when every point is fitted with margin, :math:`y_\mu F_\mu \ge 1` for all
:math:`\mu` -- the hinge loss is then exactly zero (the paper's criterion); ``stop="loss"`` stops
when the scaled loss is :math:`\le` ``stop_tolerance``; ``stop="none"`` runs ``max_steps``. A
non-finite loss or a relative weight change above ``max_weight_change`` ends the run as diverged.
``status``: 0 = fitted (or completed, with ``stop="none"``), 1 = hit the step cap, 2 = diverged.
Nothing raises inside the loop.

**Observables** are recorded on a log-spaced grid of steps (multiples of ``check_every``, the last
one ``max_steps``) inside the compiled loop; after a run stops its state is frozen, so later grid
points repeat the final values. Per-step randomness is ``fold_in(key, step)``, so trajectories do
not depend on the save grid or on how the loop is chunked.

Continuous hyper-parameters (``alpha``, ``learning_rate``, ``temperature``) are traced leaves of
:class:`TrainConfig`: a grid over them and over keys is one ``jax.vmap`` with no recompilation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich._checks import check_choice, check_finite, check_int, check_key, check_positive
from lazyrich._types import ApplyFn, Array, Params
from lazyrich.dynamics._scaled import LOSSES, per_sample_loss

METHODS: tuple[str, ...] = ("gd", "sgd", "langevin")
STOP_RULES: tuple[str, ...] = ("fitted", "loss", "none")
STATUS_OK, STATUS_CAP, STATUS_DIVERGED = 0, 1, 2


def _static(default):
    return dataclasses.field(default=default, metadata=dict(static=True))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training protocol: static fields fix the compiled program, ``alpha``/``learning_rate``/``temperature``
    are traced (stack them along a leading axis to vmap a sweep).

    Attributes:
      method: ``"gd"``, ``"sgd"`` or ``"langevin"`` (see the module docstring).
      loss: ``"hinge"``, ``"mse"`` or ``"cross_entropy"``.
      loss_power: p in the prefactor 1/alpha**p: 1 (Sclocchi et al.) or 2 (Chizat et al.).
      batch_size: B for ``"sgd"`` (ignored otherwise).
      width: h in T = lr/(B h), used by ``"langevin"`` to convert T to a noise level (1 for the
        perceptron).
      max_steps: step cap (the last save point).
      check_every: steps between exact full-training-set stopping checks (t* is resolved to this).
      num_saves: number of log-spaced save points (fewer if rounding merges some).
      stop: ``"fitted"``, ``"loss"`` or ``"none"``.
      stop_tolerance: threshold for ``stop="loss"``.
      max_weight_change: ||w - w0|| / ||w0|| above which a run counts as diverged.
      ntk_size: if > 0, the relative change of the empirical NTK on the first ``ntk_size`` training
        points is recorded at every save point (costs ``ntk_size`` backward passes per save).
      alpha: output scale (traced; > 0).
      learning_rate: step size eta (traced; > 0).
      temperature: T >= 0 for ``"langevin"`` (traced; ignored by the other methods, whose
        temperature is lr/(B h) for SGD and 0 for GD).
    """

    method: str = _static("sgd")
    loss: str = _static("hinge")
    loss_power: int = _static(1)
    batch_size: int = _static(1)
    width: int = _static(1)
    max_steps: int = _static(10_000)
    check_every: int = _static(1)
    num_saves: int = _static(32)
    stop: str = _static("fitted")
    stop_tolerance: float = _static(0.0)
    max_weight_change: float = _static(1e6)
    ntk_size: int = _static(0)
    alpha: Any = 1.0
    learning_rate: Any = 0.1
    temperature: Any = 0.0

    def __post_init__(self):
        check_choice("method", self.method, METHODS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("loss_power", self.loss_power, (1, 2))
        check_choice("stop", self.stop, STOP_RULES)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("max_steps", self.max_steps, minimum=1)
        check_int("check_every", self.check_every, minimum=1)
        check_int("num_saves", self.num_saves, minimum=1)
        check_int("ntk_size", self.ntk_size, minimum=0)
        if self.max_steps % self.check_every:
            raise ValueError(
                f"`max_steps` ({self.max_steps}) must be a multiple of `check_every` ({self.check_every})."
            )
        if not float(self.max_weight_change) > 0:
            raise ValueError(f"`max_weight_change` must be > 0, got {self.max_weight_change!r}.")

    def check_values(self) -> None:
        """Validate the traced fields when they are concrete (scalars or stacked sweep arrays).

        Raises:
          ValueError: if ``alpha <= 0``, ``learning_rate <= 0`` or ``temperature < 0`` anywhere.
        """
        check_positive("alpha", self.alpha)
        check_positive("learning_rate", self.learning_rate)
        check_positive("temperature", self.temperature, strict=False)

    @property
    def save_steps(self) -> np.ndarray:
        """The log-spaced save grid (int, increasing, multiples of ``check_every``, ending at ``max_steps``)."""
        blocks = self.max_steps // self.check_every
        grid = np.unique(np.ceil(np.geomspace(1, blocks, self.num_saves)).astype(np.int64))
        return (grid * self.check_every).astype(np.int32)


class TrainState(NamedTuple):
    """Loop state: parameters, steps taken, whether the run has stopped, and its status code."""

    params: Params
    step: Array
    done: Array
    status: Array


class TrainResult(NamedTuple):
    r"""What :func:`train` returns (every array gains leading axes under vmap).

    Attributes:
      params: final parameters.
      status: int32, 0 fitted/completed, 1 step cap, 2 diverged.
      num_steps: int32, steps taken until the stop (t* in steps).
      time: ``learning_rate * num_steps`` (the code time of Sclocchi et al.).
      save_steps: int32 ``(S,)``, the save grid.
      curves: dict of ``(S,)`` arrays: ``train_loss`` (scaled loss), ``train_error`` (fraction with
        :math:`yF \le 0`), ``train_unfit`` (fraction with :math:`yF < 1`), ``test_loss``,
        ``test_error`` (when a test set is given), ``weight_change`` (total :math:`\|w -
        w_0\|/\|w_0\|`), ``layer_weight_change`` ``(S, num_leaves)`` in the order of
        ``jax.tree.leaves(params)``, and ``ntk_change`` (:math:`\|\Theta_t -
        \Theta_0\|_F/\|\Theta_0\|_F`) when ``ntk_size > 0``.
      train_outputs: final :math:`F` on the training set, ``(P,)``.
      test_outputs: final :math:`F` on the test set, ``(Q,)`` (``(0,)`` without a test set).
    """

    params: Params
    status: Array
    num_steps: Array
    time: Array
    save_steps: Array
    curves: dict[str, Array]
    train_outputs: Array
    test_outputs: Array

    def final(self, name: str) -> Array:
        """The last saved value of a curve (its value at the stop)."""
        return (
            self.curves[name][..., -1]
            if name != "layer_weight_change"
            else self.curves[name][..., -1, :]
        )


def _check_labels(loss: str, y: Any, name: str) -> None:
    if loss == "mse" or isinstance(y, jax.core.Tracer):
        return
    values = np.unique(np.asarray(y))
    if not np.all(np.isin(values, (-1.0, 1.0))):
        raise ValueError(
            f"`{name}` must contain only -1 and +1 for the {loss} loss, got values {values[:6].tolist()}"
            f"{' ...' if values.size > 6 else ''}."
        )


def check_train_inputs(
    config: TrainConfig, x_train: Any, y_train: Any, x_test: Any = None, y_test: Any = None
) -> None:
    """Validate data shapes, labels and concrete hyper-parameters before a run (see :func:`train`)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig, got {type(config).__name__}.")
    config.check_values()
    num_train = np.shape(x_train)[0] if np.ndim(x_train) else 0
    if np.ndim(x_train) < 2 or np.shape(y_train) != (num_train,):
        raise ValueError(
            f"`x_train` must be (P, ...) and `y_train` (P,), got shapes {np.shape(x_train)} and "
            f"{np.shape(y_train)}."
        )
    if config.method == "sgd" and config.batch_size > num_train:
        raise ValueError(
            f"`batch_size` must be <= the number of training points P = {num_train}, got {config.batch_size}."
        )
    if config.method == "langevin" and num_train < 2:
        raise ValueError(
            f"`x_train` needs at least 2 points for method='langevin', got {num_train}."
        )
    if config.ntk_size > num_train:
        raise ValueError(f"`ntk_size` must be <= P = {num_train}, got {config.ntk_size}.")
    for name, value in (
        ("x_train", x_train),
        ("y_train", y_train),
        ("x_test", x_test),
        ("y_test", y_test),
    ):
        if value is not None:
            check_finite(name, value)
    _check_labels(config.loss, y_train, "y_train")
    if (x_test is None) != (y_test is None):
        raise ValueError("`x_test` and `y_test` must be given together.")
    if x_test is not None:
        if (
            np.shape(x_test)[1:] != np.shape(x_train)[1:]
            or np.shape(y_test) != np.shape(x_test)[:1]
        ):
            raise ValueError(
                f"`x_test`/`y_test` shapes {np.shape(x_test)}/{np.shape(y_test)} do not match the training "
                f"feature shape {np.shape(x_train)[1:]}."
            )
        _check_labels(config.loss, y_test, "y_test")


def _tree_sq_norms(tree: Params) -> Array:
    return jnp.stack([jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)])


def _ntk_gram(apply_fn: ApplyFn, params: Params, x: Array) -> Array:
    """Empirical NTK Gram :math:`J J^\\top` of a scalar-output model on ``x`` (jacobian contraction)."""
    jac = jax.jacrev(apply_fn)(params, x)
    flat = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree.leaves(jac)], axis=1)
    return flat @ flat.T


def train(
    apply_fn: ApplyFn,
    params0: Params,
    x_train: Array,
    y_train: Array,
    *,
    key: Array,
    config: TrainConfig,
    x_test: Array | None = None,
    y_test: Array | None = None,
    f0_train: Array | None = None,
    f0_test: Array | None = None,
    train_size: int | Array | None = None,
) -> TrainResult:
    r"""Train :math:`F = \alpha(f - f_0)` from ``params0`` until fitted, capped or diverged.

    See the module docstring for the update rules, the stopping rule and the observables. The
    function is pure and jit/vmap-compatible: vmap it over keys, parameters and a
    :class:`TrainConfig` whose traced fields are stacked arrays to run a whole (seed, alpha, T,
    learning-rate) grid as one program.

    Args:
      apply_fn: scalar-output model ``apply_fn(params, x) -> (P,)``.
      params0: initial parameters :math:`w_0`.
      x_train: training inputs ``(P, ...)``.
      y_train: training targets ``(P,)`` (in {-1, +1} for hinge and cross-entropy).
      key: typed PRNG key for minibatches / Langevin noise (per step ``fold_in(key, step)``).
      config: the :class:`TrainConfig`.
      x_test, y_test: optional test set ``(Q, ...)``, ``(Q,)``.
      f0_train, f0_test: stored initial outputs :math:`f(w_0, X)`; computed once here when omitted.
      train_size: if given (may be traced), only the first ``train_size`` rows of ``x_train`` are
        the training set: minibatches, gradients, the stopping rule and the train observables use
        them alone. This makes the training-set size P a vmappable hyper-parameter (one compiled
        program for several P).

    Returns:
      A :class:`TrainResult`.

    Raises:
      ValueError: before any work, for ``alpha <= 0``, ``learning_rate <= 0``, ``temperature < 0``
        (when concrete), ``batch_size > P`` (or ``> train_size``), ``train_size`` outside ``[1,
        P]``, labels outside {-1, +1} for hinge/cross-entropy, or mismatched shapes.
      TypeError: for a non-typed key or a config of the wrong type.

    References:
      Sclocchi, Geiger, Wyart (2023), https://arxiv.org/abs/2301.13703, Sec. 2 and code ``edm``;
      Chizat, Oyallon, Bach (2019), https://arxiv.org/abs/1812.07956.
    """
    check_train_inputs(config, x_train, y_train, x_test, y_test)
    check_key("key", key)
    c = config
    num_rows = x_train.shape[0]
    if train_size is not None and not isinstance(train_size, jax.core.Tracer):
        size = np.asarray(train_size)
        if size.ndim or not np.issubdtype(size.dtype, np.integer) or not 1 <= int(size) <= num_rows:
            raise ValueError(
                f"`train_size` must be an integer in [1, {num_rows}], got {train_size!r}."
            )
        if c.method == "sgd" and c.batch_size > int(size):
            raise ValueError(
                f"`batch_size` must be <= `train_size` = {int(size)}, got {c.batch_size}."
            )
        if c.ntk_size > int(size):
            raise ValueError(f"`ntk_size` must be <= `train_size` = {int(size)}, got {c.ntk_size}.")
    x_train = jnp.asarray(x_train)
    x_test = None if x_test is None else jnp.asarray(x_test)
    f0_train = apply_fn(params0, x_train) if f0_train is None else f0_train
    dtype = f0_train.dtype
    y_train = jnp.asarray(y_train, dtype)
    has_test = x_test is not None
    if has_test:
        f0_test = apply_fn(params0, x_test) if f0_test is None else f0_test
        y_test = jnp.asarray(y_test, dtype)
    if train_size is None:
        mask = jnp.ones((num_rows,), bool)
        num_train = jnp.asarray(num_rows, dtype)
    else:
        mask = jnp.arange(num_rows) < train_size
        num_train = jnp.asarray(train_size, dtype)
    alpha = jnp.asarray(c.alpha, dtype)
    lr = jnp.asarray(c.learning_rate, dtype)
    prefactor = 1.0 / alpha**c.loss_power
    w0_sq = _tree_sq_norms(params0)

    def masked_mean(values):
        return jnp.sum(jnp.where(mask, values, 0.0)) / num_train

    def per_sample(params, x, f0, y):
        return per_sample_loss(c.loss, alpha * (apply_fn(params, x) - f0), y) * prefactor

    if c.method == "langevin":
        temp = jnp.asarray(c.temperature, dtype)
        noise_sq = (
            num_train / (num_train - 1.0) * jnp.maximum(num_train * temp * c.width / lr - 1.0, 0.0)
        )
        noise_scale = jnp.sqrt(noise_sq)

    def step_fn(params, step):
        if c.method == "gd":
            grads = jax.grad(lambda p: masked_mean(per_sample(p, x_train, f0_train, y_train)))(
                params
            )
        elif c.method == "sgd":
            # The B smallest of P i.i.d. uniforms index a uniformly random B-subset (no replacement); a
            # top-k is ~15x cheaper on CPU than the sort-based `jr.permutation(P)[:B]` of the paper's code.
            u = jnp.where(mask, jr.uniform(jr.fold_in(key, step), (num_rows,), dtype), 2.0)
            idx = jax.lax.top_k(-u, c.batch_size)[1]
            grads = jax.grad(
                lambda p: jnp.mean(per_sample(p, x_train[idx], f0_train[idx], y_train[idx]))
            )(params)
        else:
            xi = jr.normal(jr.fold_in(key, step), (num_rows,), dtype)
            weights = 1.0 + noise_scale * (xi - masked_mean(xi))
            grads = jax.grad(
                lambda p: masked_mean(weights * per_sample(p, x_train, f0_train, y_train))
            )(params)
        return jax.tree.map(lambda w, g: w - lr * g, params, grads)

    def weight_change(params):
        delta_sq = _tree_sq_norms(jax.tree.map(jnp.subtract, params, params0))
        return jnp.sqrt(jnp.sum(delta_sq) / jnp.sum(w0_sq)), jnp.sqrt(delta_sq / w0_sq)

    def train_outputs(params):
        return alpha * (apply_fn(params, x_train) - f0_train)

    def stopping(params):
        outputs = train_outputs(params)
        loss = masked_mean(per_sample_loss(c.loss, outputs, y_train)) * prefactor
        if c.stop == "fitted":
            fitted = jnp.all(~mask | (y_train * outputs >= 1.0))
        elif c.stop == "loss":
            fitted = loss <= c.stop_tolerance
        else:
            fitted = jnp.zeros((), bool)
        total, _ = weight_change(params)
        diverged = ~jnp.isfinite(loss) | ~(total <= c.max_weight_change)
        return fitted & ~diverged, diverged

    def block(state: TrainState) -> TrainState:
        params = jax.lax.fori_loop(
            0, c.check_every, lambda i, p: step_fn(p, state.step + i), state.params
        )
        step = state.step + c.check_every
        fitted, diverged = stopping(params)
        status = jnp.where(diverged, STATUS_DIVERGED, jnp.where(fitted, STATUS_OK, state.status))
        return TrainState(params, step, fitted | diverged, status.astype(jnp.int32))

    if c.ntk_size:
        x_ntk = x_train[: c.ntk_size]
        ntk0 = _ntk_gram(apply_fn, params0, x_ntk)

    def observe(params):
        outputs = train_outputs(params)
        obs = {
            "train_loss": masked_mean(per_sample_loss(c.loss, outputs, y_train)) * prefactor,
            "train_error": masked_mean(y_train * outputs <= 0.0),
            "train_unfit": masked_mean(y_train * outputs < 1.0),
        }
        if has_test:
            test_out = alpha * (apply_fn(params, x_test) - f0_test)
            obs["test_loss"] = jnp.mean(per_sample_loss(c.loss, test_out, y_test)) * prefactor
            obs["test_error"] = jnp.mean(y_test * test_out <= 0.0)
        obs["weight_change"], obs["layer_weight_change"] = weight_change(params)
        if c.ntk_size:
            ntk = _ntk_gram(apply_fn, params, x_ntk)
            obs["ntk_change"] = jnp.linalg.norm(ntk - ntk0) / jnp.linalg.norm(ntk0)
        return obs

    def segment(state: TrainState, end: Array):
        state = jax.lax.while_loop(lambda s: ~s.done & (s.step < end), block, state)
        return state, observe(state.params)

    cap_status = STATUS_OK if c.stop == "none" else STATUS_CAP
    save_steps = jnp.asarray(c.save_steps)
    init = TrainState(
        params0, jnp.zeros((), jnp.int32), jnp.zeros((), bool), jnp.asarray(cap_status, jnp.int32)
    )
    state, curves = jax.lax.scan(segment, init, save_steps)
    test_outputs = (
        alpha * (apply_fn(state.params, x_test) - f0_test) if has_test else jnp.zeros((0,), dtype)
    )
    return TrainResult(
        params=state.params,
        status=state.status,
        num_steps=state.step,
        time=lr * state.step,
        save_steps=save_steps,
        curves=curves,
        train_outputs=train_outputs(state.params),
        test_outputs=test_outputs,
    )
