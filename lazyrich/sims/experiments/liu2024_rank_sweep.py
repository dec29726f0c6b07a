"""Liu et al. (ICLR 2024), Fig. 1: laziness of RNN learning against the rank of the initial connectivity.

For each task (2AF, DMS, CXT), seed and rank r, the recurrent weights start at the rank-r truncated
SVD of one Gaussian draw ``g Z / sqrt(N)`` rescaled to its Frobenius norm (Liu et al. Sec. 3 and the
authors' code ``Helena-Yuhan-Liu/BioRNN_RichLazy``;
:func:`lazyrich.dynamics.rnn.low_rank_connectivity`). W_x and W_y are shared across ranks and every rank
sees the same training batches (the paper's code re-draws all of them per rank; holding them fixed
is the cleaner control; ``redraw_per_rank=True`` gives the paper's protocol: a fresh Gaussian draw,
W_x, W_y and batch stream per rank). Each network is trained with SGD + momentum on the
cross-entropy over all steps. The paper's three laziness measures are recorded: ``weight_change``
||W_h^f - W_h^0||_F, ``representation_alignment`` (Gram of the decision-step hidden states on
``num_probe`` probe trials) and ``kernel_alignment`` (W_h-only NTK over all 8 steps x the first
``num_kernel_trials`` probe trials x 3 outputs).

The *aligned rank-1* initialisation (:func:`lazyrich.dynamics.rnn.fit_rank_one_network`) is the rank-1
matrix c e^l û v̂ᵀ and readout W_y that solve the task with the seed's fixed W_x, found by
``aligned_fit_steps`` SGD-momentum steps (the training optimiser, step
``aligned_fit_learning_rate``) on (u, v, l, W_y) started from the random rank-1 pair, its norm c and
the shared W_y, on a batch stream independent of the training batches. It is the RNN analogue of Liu
et al.'s Proposition 1 (W_1(0) ∝ u β̂ᵀ: the initial rank-1 structure already carries the solution,
so learning only refines it and the tangent kernel keeps its direction). The readout has to be part
of it: the W_h-only kernel depends on W_y through the backpropagated vectors, and with the random
W_y held fixed no rank-1 W_h solves the tasks. It is then trained like the others.

Compute layout: every (task, seed, rank) network and the aligned rank-1 networks share one flat
vmapped axis (ranks change only the initial W_h, not shapes), so one compiled program trains the
whole grid, in resumable segments of ``log_every`` updates; :func:`iterate` also yields partial
results at chosen update counts, so a long run stopped early still reports honest numbers
(``summary["num_steps_done"]``). The paper's default (N = 300, batch 32, 8 steps, 3 tasks x 5 seeds
x 4 ranks = 60 networks, 10k updates) costs about 140 MFLOP per network update and 4 GFLOP per W_h
kernel (768 x 768) and measurement.

Convention: loss = mean cross-entropy over (trial, step) (``docs/conventions.md`` §3), one fresh
batch per update.

Measured results at the quick and default settings, under both protocols and both of the paper's
gains, and where they differ from the paper (the weight change grows from rank 30 to rank 300 on DMS
and CXT): see ``docs/reproductions.md`` (``lowrank-rnn``) and
``examples/results/liu2024_rank_sweep_*.json``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from lazyrich import _checks, dynamics
from lazyrich.sims import _analysis as an
from lazyrich.sims import _experiment
from lazyrich.sims._analysis import spearman
from lazyrich.sims.datasets import _neurogym
from lazyrich.sims.experiments import _liu2024_common

NAME = "liu2024_rank_sweep"
TRACED = ("gain", "learning_rate", "momentum")
_TASKS = ("2af", "dms", "cxt")
_ALIGNED_STREAM = (
    2**20
)  # fold_in index of the aligned fit's batches (training uses 0 .. num_steps - 1)
_MEASURES = ("weight_change", "kernel_alignment", "representation_alignment")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of the rank sweep (defaults: the paper's N = 300, ranks {1, 30, 100, 300}, SGD lr 0.003)."""

    tasks: tuple[str, ...] = _TASKS
    width: int = 300
    ranks: tuple[int, ...] = (1, 30, 100, 300)
    num_seeds: int = 5
    num_steps: int = 10_000
    batch_size: int = 32
    learning_rate: float = 0.003
    momentum: float = 0.9
    gain: float = 1.25
    leak: float = 1.0
    noise: float = 0.1
    norm: Literal["fro", "spec"] = "fro"
    loss_steps: Literal["all", "decision"] = "all"
    num_probe: int = 320
    num_kernel_trials: int = 32
    aligned: bool = True
    aligned_fit_steps: int = 5000
    aligned_fit_learning_rate: float = 0.003
    kernel_batch_size: int = 32  # >= num_kernel_trials: one symmetric pass (fastest, small memory)
    log_every: int = 100
    # True: the paper code's protocol (a fresh W_h draw, W_x, W_y and batch stream per rank).
    redraw_per_rank: bool = False

    def __post_init__(self):
        if not self.tasks or any(t not in _TASKS for t in self.tasks):
            raise ValueError(f"`tasks` must be a non-empty tuple of {_TASKS}, got {self.tasks!r}.")
        for name in (
            "width",
            "num_seeds",
            "num_steps",
            "batch_size",
            "num_probe",
            "num_kernel_trials",
            "kernel_batch_size",
            "log_every",
            "aligned_fit_steps",
        ):
            _checks.check_int(name, getattr(self, name), minimum=1)
        if not self.ranks or any(
            (not isinstance(r, int)) or r < 1 or r > self.width for r in self.ranks
        ):
            raise ValueError(
                f"`ranks` must be integers in [1, width={self.width}], got {self.ranks!r}."
            )
        if list(self.ranks) != sorted(set(self.ranks)):
            raise ValueError(f"`ranks` must be strictly increasing, got {self.ranks!r}.")
        if self.num_kernel_trials > self.num_probe:
            raise ValueError(
                f"`num_kernel_trials` ({self.num_kernel_trials}) must be <= `num_probe` ({self.num_probe})."
            )
        if self.kernel_batch_size < self.num_kernel_trials and (
            self.num_kernel_trials % self.kernel_batch_size
        ):
            raise ValueError(
                f"`kernel_batch_size` ({self.kernel_batch_size}) must divide `num_kernel_trials` "
                f"({self.num_kernel_trials})."
            )
        if self.num_steps % self.log_every:
            raise ValueError(
                f"`log_every` ({self.log_every}) must divide `num_steps` ({self.num_steps})."
            )
        if not 0.0 < self.leak <= 1.0:
            raise ValueError(f"`leak` must lie in (0, 1], got {self.leak}.")
        for name in ("learning_rate", "gain", "aligned_fit_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"`{name}` must be > 0, got {getattr(self, name)}.")
        if self.noise < 0 or not 0 <= self.momentum < 1:
            raise ValueError(
                f"need `noise` >= 0 and 0 <= `momentum` < 1, got {self.noise}, {self.momentum}."
            )


def default_config(*, quick: bool = False) -> Config:
    """The paper's setting (N = 300, 10k SGD steps, 5 seeds); quick: N = 64, ranks {1, 4, 16, 64}, 300 steps."""
    if quick:
        return Config(
            width=64,
            ranks=(1, 4, 16, 64),
            num_seeds=3,
            num_steps=300,
            learning_rate=0.01,  # fewer steps: a larger step size for a comparable training time
            num_probe=64,
            num_kernel_trials=8,
            kernel_batch_size=8,
            log_every=50,
            aligned_fit_steps=300,
            aligned_fit_learning_rate=0.01,
        )
    return Config()


def _task_sampler(config: Config):
    """``(task_id, key, batch_size) -> Trials`` for a traced task index; inputs zero-padded to a common width.

    One compiled program then serves every task (vmap over the task index): the padded input channels are
    always zero, so they change neither the dynamics nor the gradients of the other weights.
    """
    dims = [
        _neurogym.NEUROGYM_TASKS[t](jr.key(0), batch_size=1).inputs.shape[-1] for t in config.tasks
    ]
    width = max(dims)

    def sample(task_id, key, batch_size):
        def branch(k, task):
            trials = _neurogym.NEUROGYM_TASKS[task](k, batch_size=batch_size, noise=config.noise)
            pad = width - trials.inputs.shape[-1]
            return trials._replace(inputs=jnp.pad(trials.inputs, ((0, 0), (0, 0), (0, pad))))

        branches = [lambda k, t=t: branch(k, t) for t in config.tasks]
        return jax.lax.switch(task_id, branches, key)

    return sample, jnp.asarray(dims), width


def _setup(config: Config, sample, dims, input_width, task_id, key, gain):
    """Per (task, seed): the Gaussian draw, shared W_x/W_y, the data key and the probe trials."""
    k_w, k_in, k_data, k_probe = jr.split(jr.fold_in(key, task_id), 4)
    probe = sample(task_id, k_probe, config.num_probe)
    w_gauss = dynamics.rnn.gaussian_connectivity(k_w, config.width, gain=gain)
    k_x, k_y = jr.split(k_in)
    d = dims[task_id]
    # PyTorch nn.Linear default U(-1/sqrt(fan_in), 1/sqrt(fan_in)); padded input columns are zero.
    w_x = jr.uniform(k_x, (config.width, input_width), minval=-1.0, maxval=1.0) / jnp.sqrt(d)
    w_x = w_x * (jnp.arange(input_width) < d)
    bound_y = 1.0 / jnp.sqrt(jnp.float32(config.width))
    w_y = jr.uniform(k_y, (_neurogym.NUM_ACTIONS, config.width), minval=-bound_y, maxval=bound_y)
    return {"w_gauss": w_gauss, "w_x": w_x, "w_y": w_y, "data_key": k_data, "probe": probe}


def _train(
    config: Config, sample, task_id, params, setup, lr, momentum, *, num_steps, opt=None, step=0
):
    """``num_steps`` SGD updates of one network on fresh batches, resumed at update ``step`` from the optimizer
    state ``opt`` (``None``: a fresh start): a :class:`lazyrich.dynamics.rnn.TrainRNNResult`."""
    return dynamics.rnn.train_rnn(
        params,
        _batch_fn(config, sample, task_id),
        key=setup["data_key"],
        num_steps=num_steps,
        learning_rate=lr,
        momentum=momentum,
        optimizer="sgd",
        leak=config.leak,
        opt_state=opt,
        initial_step=step,
    )


def _kernels(config: Config, params, probe):
    """W_h-only tangent kernel over the first ``num_kernel_trials`` probe trials (all steps and outputs)."""
    return dynamics.rnn.recurrent_tangent_kernel(
        params,
        probe.inputs[: config.num_kernel_trials],
        leak=config.leak,
        batch_size=None
        if config.kernel_batch_size >= config.num_kernel_trials
        else config.kernel_batch_size,
    )


def _measure(config: Config, params0, k0, params1, probe):
    """The three laziness measures plus decision accuracy (``k0``: the initial kernel, :func:`_kernels`)."""
    k1 = _kernels(config, params1, probe)
    h0, h1 = jax.vmap(lambda p: dynamics.rnn.rnn_hidden(p, probe.inputs, leak=config.leak)[:, -1])(
        jax.tree.map(lambda a, b: jnp.stack([a, b]), params0, params1)
    )
    logits = jnp.einsum("bn,on->bo", h1, params1["w_y"])
    return {
        "weight_change": dynamics.rnn.weight_change(params0["w_h"], params1["w_h"]),
        "representation_alignment": dynamics.diagnostics.kernel_alignment(h0 @ h0.T, h1 @ h1.T),
        "kernel_alignment": dynamics.diagnostics.kernel_alignment(k0, k1),
        "accuracy": jnp.mean(jnp.argmax(logits, axis=-1) == probe.labels[:, -1]),
    }


def _stage(config: Config, sample, task_id, w_h0, setup, lr, momentum, w_y0=None):
    """Train one network from ``w_h0`` (and ``w_y0``; ``None``: the shared readout) for ``num_steps``
    updates and measure it."""
    w_y0 = setup["w_y"] if w_y0 is None else w_y0
    params0 = {"w_x": setup["w_x"], "w_h": w_h0, "w_y": w_y0}
    res = _train(config, sample, task_id, params0, setup, lr, momentum, num_steps=config.num_steps)
    k0 = _kernels(config, params0, setup["probe"])
    out = _measure(config, params0, k0, res.params, setup["probe"])
    out["loss_curve"] = res.loss.reshape(-1, config.log_every).mean(axis=1)
    return out


def _batch_fn(config: Config, sample, task_id):
    def batch_fn(k):
        trials = sample(task_id, k, config.batch_size)
        mask = jnp.ones_like(trials.mask) if config.loss_steps == "all" else trials.mask
        return trials.inputs, trials.labels, mask

    return batch_fn


def _aligned_init(config: Config, sample, task_id, setup, momentum):
    """Task-aligned rank-1 initialisation (:func:`lazyrich.dynamics.rnn.fit_rank_one_network`): the rank-1 W_h
    (norm and direction) and readout W_y that solve the task with this seed's W_x, fitted by
    ``aligned_fit_steps`` SGD-momentum steps from the random rank-1 initialisation's singular pair and the
    shared readout, on a batch stream independent of the training batches. Returns ``(w_h, w_y)``."""
    w_r1 = dynamics.rnn.truncate_rank(setup["w_gauss"], 1, norm=config.norm)
    params = {"w_x": setup["w_x"], "w_h": w_r1, "w_y": setup["w_y"]}
    aligned, _ = dynamics.rnn.fit_rank_one_network(
        params,
        _batch_fn(config, sample, task_id),
        key=jr.fold_in(setup["data_key"], _ALIGNED_STREAM),
        num_steps=config.aligned_fit_steps,
        learning_rate=config.aligned_fit_learning_rate,
        momentum=momentum,
        leak=config.leak,
    )
    return aligned["w_h"], aligned["w_y"]


def _rank_keys(config: Config, seed_keys):
    """The setup key of each network of a ``(..., rank)`` grid of seed keys (the last axis runs over
    ``config.ranks``): the seed's key itself (shared draws), or with ``redraw_per_rank`` the seed's key folded
    with ``1 + rank index`` (independent draws per rank, as in the paper's code)."""
    if not config.redraw_per_rank:
        return seed_keys
    index = jnp.broadcast_to(jnp.arange(len(config.ranks)) + 1, seed_keys.shape)
    fold = jr.fold_in
    for _ in range(seed_keys.ndim):
        fold = jax.vmap(fold)
    return fold(seed_keys, index)


def _traced(config: Config, traced: dict):
    return (
        traced.get("gain", config.gain),
        traced.get("learning_rate", config.learning_rate),
        traced.get("momentum", config.momentum),
    )


def point(config: Config, traced: dict, key: jax.Array) -> dict[str, jax.Array]:
    """One seed: every task (vmapped over a task index), every rank (vmapped) and the aligned rank-1 run.

    Returns arrays with leading axes ``(tasks, ranks)`` (``(tasks,)`` for the aligned run) and ``status``.
    :func:`run` computes the same numbers with fewer compiled programs (one training program reused across
    ranks), which matters on CPU where compiling dominates the quick setting.
    """
    gain, lr, momentum = _traced(config, traced)
    sample, dims, input_width = _task_sampler(config)
    ranks = jnp.asarray(config.ranks)

    def one_task(task_id):
        setup = _setup(config, sample, dims, input_width, task_id, key, gain)
        rank_keys = _rank_keys(config, jnp.stack([key] * len(config.ranks)))
        setups = jax.vmap(lambda k: _setup(config, sample, dims, input_width, task_id, k, gain))(
            rank_keys
        )
        w_h0 = jax.vmap(lambda w, r: dynamics.rnn.truncate_rank(w, r, norm=config.norm))(
            setups["w_gauss"], ranks
        )
        out = jax.vmap(lambda w, s: _stage(config, sample, task_id, w, s, lr, momentum))(
            w_h0, setups
        )
        out["erank_roy_vetterli"] = jax.vmap(dynamics.rnn.connectivity_rank)(w_h0)
        out["erank_participation_ratio"] = jax.vmap(
            lambda w: dynamics.rnn.connectivity_rank(w, method="participation_ratio")
        )(w_h0)
        if config.aligned:
            w_al, wy_al = _aligned_init(config, sample, task_id, setup, momentum)
            aligned = _stage(config, sample, task_id, w_al, setup, lr, momentum, w_y0=wy_al)
            out.update({f"aligned_{k}": v for k, v in aligned.items()})
        return out

    result = jax.vmap(one_task)(jnp.arange(len(config.tasks)))
    finite = jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(v)) for k, v in result.items() if _is_training(k)])
    )
    result["status"] = jnp.where(finite, 0, 2).astype(jnp.int32)
    return result


def _is_training(name: str) -> bool:
    """Whether an output array records training itself (a non-finite entry means the network diverged)."""
    return name.removeprefix("aligned_") in ("loss_curve", "weight_change")


class _Networks:
    """Every network of a run on one flat vmapped axis, trained in segments of ``log_every`` updates.

    Compiles three programs (setup, one training segment, one measurement) whatever the numbers of tasks,
    seeds and ranks, since ranks only change the initial W_h, not any shape.
    """

    def __init__(self, config: Config, task_ids, seed_keys, init_w):
        """``init_w(setup, sample) -> ((n, N, N), (n, O, N))`` builds the initial W_h and W_y of every
        network from the per-network setup (``_setup``: Gaussian draw, W_x, W_y, data key, probe trials)
        and the task sampler."""
        self.config = config
        gain, lr, momentum = _traced(
            config, {n: jnp.asarray(getattr(config, n), jnp.float32) for n in TRACED}
        )
        sample, dims, input_width = _task_sampler(config)
        self.task_ids = task_ids
        self.setup = jax.jit(
            jax.vmap(lambda t, k: _setup(config, sample, dims, input_width, t, k, gain))
        )(task_ids, seed_keys)
        w = self.setup
        w_h0, w_y0 = init_w(w, sample)
        self.params0 = {"w_x": w["w_x"], "w_h": w_h0, "w_y": w_y0}
        self.params = self.params0
        self.opt_state = jax.vmap(lambda p: optax.sgd(lr, momentum=momentum).init(p))(self.params0)
        self.step = 0
        self.curve = []

        def segment(t, p, o, st, s):
            res = _train(
                config, sample, t, p, s, lr, momentum, num_steps=config.log_every, opt=o, step=st
            )
            return res.params, res.opt_state, res.loss.mean()

        self._segment = jax.jit(jax.vmap(segment, in_axes=(0, 0, 0, None, 0)))
        self._measure = jax.jit(jax.vmap(lambda p0, k0, p1, s: _measure(config, p0, k0, p1, s)))
        self.k0 = jax.jit(jax.vmap(lambda p, s: _kernels(config, p, s)))(self.params0, w["probe"])

    def advance(self):
        self.params, self.opt_state, loss = self._segment(
            self.task_ids,
            self.params,
            self.opt_state,
            jnp.asarray(self.step, jnp.int32),
            self.setup,
        )
        self.step += self.config.log_every
        self.curve.append(loss)

    def measure(self) -> dict[str, np.ndarray]:
        out = self._measure(self.params0, self.k0, self.params, self.setup["probe"])
        out["loss_curve"] = jnp.stack(self.curve, axis=1)
        return jax.device_get(out)


def iterate(
    config: Config, *, key: jax.Array, checkpoints: tuple[int, ...] = (), progress: bool = False
):
    """Train every (task, seed, rank) network and yield ``(step, Result)`` at each checkpoint and at the end.

    ``checkpoints`` are update counts (multiples of ``log_every``, < ``num_steps``) at which a partial
    :class:`Result` (the measures after that many updates, ``summary["num_steps_done"]``) is produced too, so a
    long run can be stopped early and still report honest numbers. The last item is ``run(config, key=key)``.
    """
    bad = [c for c in checkpoints if c % config.log_every or not 0 < c < config.num_steps]
    if bad:
        raise ValueError(
            f"`checkpoints` must be multiples of `log_every` ({config.log_every}) in (0, num_steps), "
            f"got {bad}."
        )
    num_tasks, num_seeds, num_ranks = len(config.tasks), config.num_seeds, len(config.ranks)
    # Flat network axis: (task, seed, rank) order, then the aligned rank-1 networks in (task, seed) order.
    seeds = jnp.tile(jr.split(key, num_seeds), num_tasks)
    task_ids = jnp.repeat(jnp.arange(num_tasks), num_seeds * num_ranks)
    seed_keys = _rank_keys(
        config, jnp.repeat(seeds, num_ranks).reshape(num_tasks * num_seeds, num_ranks)
    ).reshape(-1)
    ranks = jnp.tile(jnp.asarray(config.ranks), num_tasks * num_seeds)
    num_grid = len(ranks)
    if config.aligned:
        task_ids = jnp.concatenate([task_ids, jnp.repeat(jnp.arange(num_tasks), num_seeds)])
        seed_keys = jnp.concatenate([seed_keys, seeds])
        ranks = jnp.concatenate([ranks, jnp.ones((num_tasks * num_seeds,), ranks.dtype)])
    truncate = jax.jit(jax.vmap(lambda w, r: dynamics.rnn.truncate_rank(w, r, norm=config.norm)))

    def init_w(setup, sample):
        w_h0, w_y0 = truncate(setup["w_gauss"], ranks), setup["w_y"]
        if not config.aligned:
            return w_h0, w_y0
        momentum = jnp.float32(config.momentum)
        fit = jax.jit(jax.vmap(lambda t, s: _aligned_init(config, sample, t, s, momentum)))
        tail = jax.tree.map(lambda a: a[num_grid:], setup)
        w_al, wy_al = fit(task_ids[num_grid:], tail)
        return w_h0.at[num_grid:].set(w_al), w_y0.at[num_grid:].set(wy_al)

    nets = _Networks(config, task_ids, seed_keys, init_w)
    er = jax.jit(
        jax.vmap(
            lambda w: jnp.stack(
                [
                    dynamics.rnn.connectivity_rank(w),
                    dynamics.rnn.connectivity_rank(w, method="participation_ratio"),
                ]
            )
        )
    )(nets.params0["w_h"][:num_grid])
    eranks = {"erank_roy_vetterli": er[:, 0], "erank_participation_ratio": er[:, 1]}

    def split(
        out, with_aligned=config.aligned
    ):  # flat -> (task, seed, rank, ...), aligned_* (task, seed)
        arrays = {}
        for k, v in out.items():
            v = np.asarray(v)
            arrays[k] = v[:num_grid].reshape((num_tasks, num_seeds, num_ranks) + v.shape[1:])
            if with_aligned:
                arrays[f"aligned_{k}"] = v[num_grid:].reshape((num_tasks, num_seeds) + v.shape[1:])
        return arrays

    stops = sorted(set(checkpoints)) + [config.num_steps]
    bar = _experiment.progress_bar(
        total=config.num_steps // config.log_every, desc=NAME, enabled=progress
    )
    with bar:
        for stop in stops:
            while nets.step < stop:
                nets.advance()
                bar.update(1)
            arrays = split(nets.measure())
            arrays.update(split(jax.device_get(eranks), with_aligned=False))
            yield stop, _result(config, arrays, num_steps_done=stop)


def run(config: Config, *, key: jax.Array, progress: bool = False) -> _experiment.Result:
    """All (task, seed, rank) networks on one vmapped axis (one compiled training program for the whole grid),
    then the aligned rank-1 networks; the numbers equal ``vmap(point)`` over seeds."""
    return list(iterate(config, key=key, progress=progress))[-1][1]


def _summarise(config: Config, arrays: dict) -> dict:
    """Per task: Spearman correlation of each measure with rank over (seed, rank), per-rank seed means,
    strict monotonicity of the means, and the aligned rank-1 means when present.

    ``arrays`` hold ``(task, seed, rank)`` measures (``aligned_*``: ``(task, seed)``).
    """
    ranks = np.asarray(config.ranks)
    summary: dict = {}
    for i, task in enumerate(config.tasks):
        rank_grid = np.broadcast_to(ranks, arrays["weight_change"][i].shape)
        means = {m: np.nanmean(arrays[m][i], axis=0) for m in _MEASURES + ("accuracy",)}
        s = {f"{m}_spearman": spearman(rank_grid, arrays[m][i]) for m in _MEASURES}
        s["weight_change_decreasing"] = bool(np.all(np.diff(means["weight_change"]) < 0))
        for m in ("kernel_alignment", "representation_alignment"):
            s[f"{m}_increasing"] = bool(np.all(np.diff(means[m]) > 0))
        s.update({f"mean_{m}": means[m].tolist() for m in means})
        if "aligned_kernel_alignment" in arrays:
            for m in _MEASURES + ("accuracy",):
                s[f"aligned_rank1_{m}"] = float(np.nanmean(arrays[f"aligned_{m}"][i]))
        summary[task] = s
    return summary


def result_from_dataset(config: Config, ds) -> _experiment.Result:
    """The :class:`Result` of one setting of a finished sweep (``lazyrich figures make lowrank-rnn --from``).

    Non-seed axes (e.g. ``gain``, ``learning_rate``) are fixed at the base config's values (else their first
    coordinate); the sweep's seeds become the seed axis: arrays ``(task, seed, rank, ...)`` as in :func:`run`.
    """
    config, arrays, chosen = _liu2024_common.select_sweep_point(config, ds)
    status = arrays.pop("status")
    arrays = {
        k: np.moveaxis(v, 0, 1) for k, v in arrays.items()
    }  # (seed, task, ...) -> (task, seed, ...)
    config = dataclasses.replace(config, num_seeds=int(status.size))
    return _result(
        config,
        arrays,
        status=status,
        num_steps_done=config.num_steps,
        extra_metadata={"sweep_point": chosen},
    )


def _result(
    config: Config,
    arrays: dict,
    *,
    num_steps_done: int,
    status: np.ndarray | None = None,
    extra_metadata: dict | None = None,
) -> _experiment.Result:
    """The shared summary step of :func:`run`, :func:`iterate` and :func:`result_from_dataset`."""
    if status is None:
        # Per seed; arrays are (task, seed, ...). Alignments may be NaN without a divergence (a Gram matrix of
        # all-zero ReLU states at the decision step has no direction) and are left out of the means instead.
        finite = np.ones((config.num_seeds,), bool)
        for k, v in arrays.items():
            if _is_training(k):
                finite &= np.isfinite(v).reshape(v.shape[0], v.shape[1], -1).all(axis=(0, 2))
        status = np.where(finite, 0, 2).astype(np.int32)
    arrays = dict(arrays, status=np.asarray(status, np.int32))
    summary = _summarise(config, arrays)
    summary["num_steps_done"] = int(num_steps_done)
    status = "ok" if np.all(arrays["status"] == 0) else "diverged"
    metadata = {
        "tasks": list(config.tasks),
        "ranks": list(config.ranks),
        "axes": "(task, seed, rank[, log step])",
        "loss": "cross-entropy, mean over (trial, step)"
        if config.loss_steps == "all"
        else "cross-entropy at the decision step",
        "kernel": "W_h-only tangent kernel over (trial, step, output)",
        "aligned_rank1": "rank-1 W_h (direction and scale) and readout W_y fitted to the task at the shared "
        f"W_x ({config.aligned_fit_steps} SGD-momentum steps, lr {config.aligned_fit_learning_rate}, "
        "lazyrich.dynamics.rnn.fit_rank_one_network)",
        **(extra_metadata or {}),
    }
    return _experiment.Result(NAME, config, arrays, summary, status, metadata)


def checks(result: _experiment.Result) -> list[an.Check]:
    """Higher initial rank, lazier learning (Liu et al., Fig. 1): the tangent-kernel and representation
    alignments between initial and final network grow with rank, the weight change shrinks.

    Statistic: the Spearman correlation with rank over every (seed, rank) network of a task, averaged over
    the tasks; tested one-sided against no association at the 1 % level, whose critical value is
    ``z_0.99 / sqrt(T (n - 1))`` for T tasks of n networks each.
    """
    config = result.config
    ranks = np.asarray(config.ranks)
    out = []
    for measure, sign, claim in (
        ("kernel_alignment", 1, "tangent-kernel alignment grows with rank (mean Spearman)"),
        ("representation_alignment", 1, "representation alignment grows with rank (mean Spearman)"),
        ("weight_change", -1, "weight change shrinks with rank (mean Spearman)"),
    ):
        values = np.asarray(result.arrays[measure])  # (task, seed, rank)
        n = values.shape[1] * values.shape[2]
        if len(ranks) < 2 or n < 4:
            out.append(an.untestable(claim, f"{n} networks per task"))
            continue
        grid = np.broadcast_to(ranks, values.shape[1:])
        rho = float(np.nanmean([spearman(grid, v) for v in values]))
        critical = an.normal_quantile(0.99) / np.sqrt(values.shape[0] * (n - 1))
        basis = f"one-sided 1 % critical value, {values.shape[0]} tasks x {n} networks"
        check = an.above if sign > 0 else an.below
        out.append(check(claim, rho, sign * critical, basis=basis))
    return out
