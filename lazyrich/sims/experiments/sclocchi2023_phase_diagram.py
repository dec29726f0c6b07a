r"""(alpha, T) phase diagram of SGD on a fully connected network (Sclocchi, Geiger, Wyart 2023, Fig. 1-2).

A bias-free FC network with mean-field readout (Sclocchi et al.'s ``mlp``), centred and scaled,
:math:`F = \alpha(f - f_0)`, is trained with minibatch SGD at temperature :math:`T = \eta/(Bh)` on
the hinge loss :math:`\max(0, 1 - yF)/\alpha` until every training point is fitted (zero hinge loss;
the paper's stopping rule). The grid over (alpha, T, seed) is one ``jax.vmap`` of :func:`point` (one
compiled program).

Recorded per grid point: test error, ``||w - w0||/||w0||`` at the stop, steps and time ``eta*steps`` to the
stop, and the status (0 fitted, 1 step cap, 2 diverged). Summary: the crossover temperature ``T_c`` at the
largest alpha (the T where the weight change reaches ``tc_factor`` times its small-T value, the point where
SGD noise starts to change the trained model), the lazy/feature boundary ``alpha_star`` at the smallest T (the
alpha where the weight change crosses ``lazy_threshold``), and the best test error.

Data: scikit-learn's digits parity by default; ``data="mnist"`` with ``data_dir`` for MNIST parity (or
``"cifar"`` for CIFAR-10 animals, flattened), with the papers' normalisations. Deviation from the paper: the
train/test split is fixed by ``data_seed`` (the paper redraws the training set with each seed).

References:
  Sclocchi, Geiger, Wyart (ICML 2023), https://arxiv.org/abs/2301.13703, Fig. 2 and Sec. 3.
"""

from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.random as jr
import numpy as np

from lazyrich import _checks
from lazyrich.sims import _analysis as an
from lazyrich.sims._experiment import Result
from lazyrich.sims.experiments import _sclocchi2023_common as common

NAME = "sclocchi2023_phase_diagram"
TRACED: tuple[str, ...] = ("alpha", "temperature")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(common.SGDConfig):
    """Settings (Python scalars; ``alpha`` and ``temperature`` are the TRACED single-point values); the data and
    network and SGD fields are those of :class:`~lazyrich.sims.experiments._sclocchi2023_common.SGDConfig`."""

    num_train: int = 256
    alphas: tuple[float, ...] = (2.0**-4, 2.0**-1, 2.0**2, 2.0**5, 2.0**8, 2.0**11)
    alpha: float = 1.0
    lazy_threshold: float = 0.1
    tc_factor: float = 2.0

    def __post_init__(self):
        self.check_fields(
            self.num_train,
            (
                "num_train",
                "width",
                "batch_size",
                "num_seeds",
                "max_steps",
                "check_every",
                "chunk_size",
            ),
        )
        common.check_sgd_fields(self, (self.num_train,))
        _checks.check_positive("alphas", np.asarray(self.alphas, float))
        _checks.check_positive("alpha", self.alpha)
        _checks.check_positive("lazy_threshold", self.lazy_threshold)
        if not self.tc_factor > 1:
            raise ValueError(f"`tc_factor` must be > 1, got {self.tc_factor}.")


def default_config(*, quick: bool = False) -> Config:
    """Quick: 6 x 5 grid, one seed, digits P=256, FC 3x64 (about a minute on 2 cores). Full: the paper's
    protocol on digits (GELU FC 5x128, P=1024, alpha = 2^-14..2^11, 4 seeds; use ``data=mnist`` for MNIST)."""
    if quick:
        return Config()
    return Config(
        num_train=1024,
        num_test=773,
        width=128,
        depth=5,
        activation="gelu",
        alphas=tuple(2.0**i for i in range(-14, 12)),
        temperatures=tuple(2.0**i for i in range(-14, 3)),
        num_seeds=4,
        max_steps=2**20,
        check_every=64,
    )


def _point(config: Config, traced, key, data):
    return common.fc_point_summary(config, traced, key, data)


def point(config: Config, traced: dict, key: jax.Array) -> dict[str, jax.Array]:
    """One grid point (sweep protocol): train from ``key`` at ``traced["alpha"]``, ``traced["temperature"]``.

    Returns scalars ``test_error``, ``train_error``, ``weight_change``, ``num_steps``, ``time`` and ``status``
    (int32: 0 fitted, 1 step cap, 2 diverged). Pure, jit- and vmap-able; never raises on divergence.
    """
    return _point(config, traced, key, config.load(config.num_train))


def run_grid(config: Config, alphas, temperatures, *, key, progress=False) -> dict[str, np.ndarray]:
    """Every (alpha, T, seed) combination, vmapped in chunks of ``chunk_size`` (one compiled program).

    Returns arrays of shape ``(len(alphas), len(temperatures), num_seeds)``.
    """
    alphas, temperatures = np.asarray(alphas, np.float32), np.asarray(temperatures, np.float32)
    grid_a, grid_t, grid_s = np.meshgrid(
        alphas, temperatures, np.arange(config.num_seeds), indexing="ij"
    )
    keys = jr.split(key, config.num_seeds)[
        grid_s.ravel()
    ]  # the same seed across the (alpha, T) grid
    return common.run_grid(
        lambda a, t, k, d: _point(config, {"alpha": a, "temperature": t}, k, d),
        (grid_a.ravel(), grid_t.ravel()),
        keys,
        config.load(config.num_train),
        shape=grid_a.shape,
        chunk_size=config.chunk_size,
        desc=NAME,
        progress=progress,
    )


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    _checks.check_key("key", key)
    return summarise(
        config, run_grid(config, config.alphas, config.temperatures, key=key, progress=progress)
    )


def result_from_dataset(config: Config, ds) -> Result:
    """The figure's :class:`Result` from a finished sweep over (alpha, temperature, seed) (``--from``)."""
    dims = {"alpha": ("alphas", config.alpha), "temperature": ("temperatures", config.temperature)}
    return summarise(*common.grid_from_dataset(config, ds, dims))


def summarise(config: Config, out: dict[str, np.ndarray]) -> Result:
    """Means over seeds, ``T_c``, ``alpha_star`` and the best cell from the ``(alpha, T, seed)`` grid ``out``."""
    alphas, temps = np.asarray(config.alphas), np.asarray(config.temperatures)
    ok = out["status"] == 0
    err = np.where(out["status"] == 2, np.nan, out["test_error"])
    dw = np.where(out["status"] == 2, np.nan, out["weight_change"])
    with warnings.catch_warnings():  # all-diverged cells are NaN by design
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_err = np.nanmean(err, axis=-1)
        mean_dw = np.nanmean(dw, axis=-1)
    # T_c(alpha): where the weight change first reaches tc_factor x its smallest-T value.
    t_c = np.array([common.log_crossing(temps, row, config.tc_factor * row[0]) for row in mean_dw])
    # alpha*(T): where the weight change falls below lazy_threshold (reported at the smallest T).
    alpha_star = common.log_crossing(alphas[::-1], mean_dw[::-1, 0], config.lazy_threshold)
    finite = np.isfinite(mean_err)
    best = np.unravel_index(np.nanargmin(np.where(finite, mean_err, np.inf)), mean_err.shape)
    arrays = {
        "alpha": alphas,
        "temperature": temps,
        "t_c": t_c,
        "test_error": err,
        "weight_change": dw,
        "num_steps": out["num_steps"],
        "time": out["time"],
        "status": out["status"],
        "mean_test_error": mean_err,
        "mean_weight_change": mean_dw,
    }
    summary = {
        "t_c_lazy": float(t_c[-1]),
        "alpha_star": float(alpha_star),
        "best_test_error": float(mean_err[best]),
        "best_alpha": float(alphas[best[0]]),
        "best_temperature": float(temps[best[1]]),
        "lazy_test_error": float(mean_err[-1, 0]),
        "fraction_fitted": float(ok.mean()),
        "fraction_diverged": float((out["status"] == 2).mean()),
        "fraction_capped": float((out["status"] == 1).mean()),
    }
    metadata = {
        "conventions": {
            "temperature": "T = learning_rate / (batch_size * width) (Sclocchi et al. 2023 code)",
            "loss": "(1/P) sum max(0, 1 - alpha y (f - f0)) / alpha (hinge, loss_power=1)",
            "time": "time = learning_rate * steps",
            "stop": "all training points fitted (zero hinge loss), checked every check_every steps",
        },
    }
    return Result(experiment=NAME, config=config, arrays=arrays, summary=summary, metadata=metadata)


def checks(result: Result) -> list[an.Check]:
    """The (alpha, T) plane holds both regimes: at the lowest T the relative weight change falls with alpha,
    from above ``lazy_threshold`` (feature regime, smallest alpha) to below it (lazy, largest alpha); in the
    lazy regime noise moves the weights more: the weight change grows with T at the largest alpha.

    Trends are one-sided rank tests (:func:`lazyrich.sims._analysis.rank_trend`, 1 %); the regime claims
    compare the seed-mean weight change with the threshold.
    """
    config, a = result.config, result.arrays
    dw = np.asarray(a["mean_weight_change"], float)
    threshold = config.lazy_threshold
    basis = f"seed mean ({config.num_seeds} seeds) against lazy_threshold"
    return [
        an.rank_trend(
            "weight change falls with alpha (lowest T)", a["alpha"], dw[:, 0], increasing=False
        ),
        an.above(
            f"feature regime at alpha = {config.alphas[0]:g} (weight change)",
            dw[0, 0],
            threshold,
            basis=basis,
        ),
        an.below(
            f"lazy regime at alpha = {config.alphas[-1]:g} (weight change)",
            dw[-1, 0],
            threshold,
            basis=basis,
        ),
        an.rank_trend(
            "weight change grows with T (largest alpha)", a["temperature"], dw[-1], increasing=True
        ),
    ]
