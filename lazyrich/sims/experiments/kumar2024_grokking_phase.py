r"""Grokking time over a grid of output scale alpha and activation curvature epsilon (Kumar et al. Fig. 3e).

Model and training as :mod:`lazyrich.sims.experiments.kumar2024_grokking` (committee machine, centred MSE without
1/2, learning rate :math:`\eta_0 N/\alpha^2`, time in GD steps), run on the exact :math:`(\bar w, M)` recursion.
Grokking time :math:`t_{\rm test}(\theta) - t_{\rm train}(\theta)` with :math:`\theta = 0.1`, :math:`t(\theta)`
the first saved step with loss below :math:`\theta`; the paper plots :math:`\max(0, \cdot)`. A run whose test
loss never drops below :math:`\theta` within ``num_steps`` is *censored*: its grokking time is reported as the
lower bound ``num_steps - t_train`` and flagged in ``arrays["censored"]``.

The paper's grid is :math:`\alpha \in \{0.4i\}`, :math:`\epsilon \in \{0.02i\}`, i = 1..14, at D = 100, P = 550,
N = 500, :math:`\eta = 20N/\alpha^2`, up to :math:`1.1\cdot10^5` steps. The default here is a smaller
problem with the same P/D = 5.5 and the same stability margin of GD (:math:`\eta_0 \propto P`: 8 at P = 220
instead of 20 at P = 550). The whole grid is one ``vmap`` with traced ``alpha`` and ``epsilon`` (one compiled
program); data, teacher and initial weights are shared across the grid (common random numbers).

Expected (paper): grokking time grows with alpha (laziness) and shrinks with epsilon (initial
alignment); the heuristic (derived from the reduced dynamics, not stated in the paper) is a delay
:math:`\propto \alpha/\epsilon` up to logarithms.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import _checks, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims._analysis import spearman
from lazyrich.sims._experiment import Result
from lazyrich.sims.experiments import kumar2024_grokking as _single

NAME = "kumar2024_grokking_phase"
TRACED = ("alpha", "epsilon")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of the (alpha, epsilon) grokking grid.

    Attributes:
      alphas, epsilons: the grid (``run``).
      alpha, epsilon: the single point of ``point`` (sweep protocol; traced).
      input_dim, num_train, width, num_test: D, P, N and test points.
      learning_rate0: :math:`\\eta_0` (learning rate :math:`\\eta_0 N/\\alpha^2`).
      num_steps: GD steps per run (a fixed budget; the paper stops on a loss plateau or at 1.1e5).
      num_saves: log-spaced save points (they set the time resolution of the grokking time).
      threshold: :math:`\\theta`.
    """

    alphas: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    epsilons: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2)
    alpha: float = 1.0
    epsilon: float = 0.1
    input_dim: int = 40
    num_train: int = 220
    width: int = 200
    num_test: int = 400
    learning_rate0: float = 8.0
    num_steps: int = 10_000
    num_saves: int = 200
    threshold: float = 0.1

    def __post_init__(self):
        if not self.alphas or any(not np.isfinite(a) or a <= 0 for a in self.alphas):
            raise ValueError(
                f"`alphas` must be a non-empty tuple of positive numbers, got {self.alphas}."
            )
        if not self.epsilons or any(not np.isfinite(e) for e in self.epsilons):
            raise ValueError(
                f"`epsilons` must be a non-empty tuple of finite numbers, got {self.epsilons}."
            )
        if not np.isfinite(self.alpha) or self.alpha <= 0:
            raise ValueError(f"`alpha` must be > 0, got {self.alpha}.")
        for name in ("input_dim", "num_train", "width", "num_test", "num_steps"):
            _checks.check_int(name, getattr(self, name), minimum=1)
        _checks.check_int("num_saves", self.num_saves, minimum=2)
        if not np.isfinite(self.learning_rate0) or self.learning_rate0 <= 0:
            raise ValueError(f"`learning_rate0` must be > 0, got {self.learning_rate0}.")
        if not self.threshold > 0:
            raise ValueError(f"`threshold` must be > 0, got {self.threshold}.")


def default_config(*, quick: bool = False) -> Config:
    """A 4 x 4 grid at D = 40, P = 220 (P/D as in the paper), or a 3 x 3 quick grid at D = 30, P = 165."""
    if quick:
        return Config(
            alphas=(0.5, 1.0, 2.0),
            epsilons=(0.05, 0.1, 0.2),
            input_dim=30,
            num_train=165,
            width=100,
            num_test=200,
            num_steps=4000,
            num_saves=120,
        )
    return Config()


def _single_config(config: Config) -> _single.Config:
    return _single.Config(
        input_dim=config.input_dim,
        num_train=config.num_train,
        width=config.width,
        num_test=config.num_test,
        alpha=config.alpha,
        epsilon=config.epsilon,
        learning_rate0=config.learning_rate0,
        num_steps=config.num_steps,
        num_saves=config.num_saves,
        threshold=config.threshold,
    )


def point(config: Config, traced: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """One (alpha, epsilon) run (sweep protocol): loss curves, crossing times, grokking time, status."""
    single = _single_config(config)
    steps_np = _single.save_grid(config.num_steps, config.num_saves)
    task = _single.make_task(single, key)
    dtype = task[1].dtype
    alpha = jnp.asarray(traced.get("alpha", config.alpha), dtype)
    epsilon = jnp.asarray(traced.get("epsilon", config.epsilon), dtype)
    out = _single.trajectory(
        single,
        task,
        alpha=alpha,
        epsilon=epsilon,
        save_steps=tuple(int(s) for s in steps_np),
        with_alignment=False,
    )
    steps = jnp.asarray(steps_np, dtype)
    t_train = theory.first_crossing_time(steps, out["train_loss"], threshold=config.threshold)
    t_test = theory.first_crossing_time(steps, out["test_loss"], threshold=config.threshold)
    finite = jnp.all(jnp.isfinite(out["train_loss"])) & jnp.all(jnp.isfinite(out["test_loss"]))
    return {
        "train_loss": out["train_loss"],
        "test_loss": out["test_loss"],
        "t_train": t_train,
        "t_test": t_test,
        "grokking_time": t_test - t_train,
        "status": jnp.where(finite, 0, 2).astype(jnp.int32),
    }


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    """The whole grid as one vmapped, jitted program; summary: nested grokking times and rank correlations."""
    alphas = np.asarray(config.alphas, float)
    epsilons = np.asarray(config.epsilons, float)
    grid_a, grid_e = np.meshgrid(alphas, epsilons, indexing="ij")
    dtype = jnp.result_type(float)
    traced = {
        "alpha": jnp.asarray(grid_a.ravel(), dtype),
        "epsilon": jnp.asarray(grid_e.ravel(), dtype),
    }
    fn = jax.jit(jax.vmap(lambda tr: point(config, tr, key)))
    out = {k: np.asarray(v).reshape(grid_a.shape + np.shape(v)[1:]) for k, v in fn(traced).items()}
    return summarise(config, alphas, epsilons, out)


def summarise(
    config: Config, alphas, epsilons, out: dict[str, np.ndarray], metadata=None
) -> Result:
    """The figure's :class:`Result` from the outputs of :func:`point` on an (alpha, epsilon) grid.

    Shared by :func:`run` and :func:`result_from_dataset`. ``out`` holds ``train_loss``/``test_loss``
    ``(A, E, saves)``, ``t_train``, ``t_test``, ``grokking_time`` and ``status`` ``(A, E)``.
    """
    alphas = np.asarray(alphas, float)
    epsilons = np.asarray(epsilons, float)
    grid_a, grid_e = np.meshgrid(alphas, epsilons, indexing="ij")
    steps = _single.save_grid(config.num_steps, config.num_saves)
    trained = np.isfinite(out["t_train"])
    censored = trained & ~np.isfinite(out["t_test"])
    grok = np.where(censored, config.num_steps - out["t_train"], out["grokking_time"])
    amount = np.maximum(grok, 0.0)
    arrays = {
        "steps": steps,
        "alphas": alphas,
        "epsilons": epsilons,
        "censored": censored,
        "amount_of_grokking": amount,
        **out,
    }
    summary = {
        "grokking_time": {
            f"{a:g}": {f"{e:g}": float(grok[i, j]) for j, e in enumerate(epsilons)}
            for i, a in enumerate(alphas)
        },
        "spearman_alpha": spearman(grid_a.ravel(), grok.ravel()),
        "spearman_epsilon": spearman(grid_e.ravel(), grok.ravel()),
        "num_censored": int(censored.sum()),
        "num_not_trained": int((~trained).sum()),
        "num_diverged": int(np.sum(out["status"] == 2)),
    }
    status = (
        "ok" if summary["num_diverged"] == 0 else f"{summary['num_diverged']} grid points diverged"
    )
    metadata = {
        "conventions": {
            "loss": "mean((f - f0 - y)**2), no 1/2 (Kumar et al.)",
            "learning_rate": "eta0 * N / alpha**2",
            "time": "GD steps (epochs)",
            "grokking_time": "t_test(threshold) - t_train(threshold); censored runs report num_steps - t_train",
        },
        "axes": ["alpha", "epsilon"],
        **(metadata or {}),
    }
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        status=status,
        metadata=metadata,
    )


def result_from_dataset(config: Config, ds) -> Result:
    """The figure's :class:`Result` from a finished (alpha, epsilon[, seed]) sweep.

    Over ``seed`` the loss curves and the crossing times are averaged (a seed that never crosses makes the
    point censored); the grokking time is recomputed from the averaged crossing times.
    """
    missing = [axis for axis in ("alpha", "epsilon") if axis not in ds.dims]
    if missing:
        raise ValueError(
            f"a grokking-phase sweep needs `alpha` and `epsilon` axes, got dimensions {list(ds.dims)}."
        )
    out = {}
    for name in ("train_loss", "test_loss", "t_train", "t_test", "status"):
        var = ds[name]
        if "seed" in var.dims:
            var = var.max("seed") if name == "status" else var.mean("seed", skipna=False)
        out[name] = np.asarray(var.transpose("alpha", "epsilon", ...).values)
    out["grokking_time"] = out["t_test"] - out["t_train"]
    return summarise(
        config,
        ds["alpha"].values,
        ds["epsilon"].values,
        out,
        metadata={"seeds_averaged": int(ds.sizes.get("seed", 1))},
    )


def checks(result: Result) -> list[an.Check]:
    """Grokking takes longer at larger output scale alpha (lazier start; Kumar et al., Fig. 3e).

    Test: Spearman correlation of alpha with the grokking time over the cells with a finite time, above the
    one-sided 1 % critical value ``z_0.99 / sqrt(n - 1)`` of no association (n cells).
    """
    a = result.arrays
    grid_a = np.broadcast_to(np.asarray(a["alphas"], float)[:, None], a["amount_of_grokking"].shape)
    grok = np.asarray(a["amount_of_grokking"], float)
    n = int(np.isfinite(grok).sum())
    claim = "grokking time grows with alpha (Spearman)"
    if n < 4:
        return [an.untestable(claim, f"only {n} cells with a finite grokking time")]
    rho = spearman(grid_a, grok)
    return [
        an.above(
            claim,
            rho,
            an.normal_quantile(0.99) / np.sqrt(n - 1),
            basis=f"one-sided 1 % critical value of no association over {n} cells",
        )
    ]
