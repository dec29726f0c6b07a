r"""Lazy-regime SGD temperature scaling (Sclocchi, Geiger, Wyart 2023, Figs. 3-4).

At a large output scale alpha (lazy regime), an FC network is trained with SGD at temperature
:math:`T = \eta/(Bh)` until the hinge loss is zero, for several training-set sizes P. Recorded: the relative
weight change :math:`\|\Delta w\|/\|w_0\|`, the time :math:`t^\star = \eta\cdot\mathrm{steps}` to the stop and
the test error. Fitted, with bootstrap confidence intervals (resampling seeds within each (P, T) cell):

* :math:`\|\Delta w\|/\|w_0\| \sim T^{\delta} P^{\gamma}` -- one least-squares fit of
  :math:`\log\|\Delta w\| = \delta\log T + \gamma\log P + c` over all fitted cells;
* :math:`T_c \sim P^{-a}` -- per P, the temperature where the weight change crosses ``threshold`` (by default
  the median over cells, so that every P crosses), then a log-log fit;
* the check :math:`a \approx \gamma/\delta` (it follows if leaving the lazy regime is a fixed weight change).

P is a traced training-set size (the first P rows of one random split), so the whole (P, T, seed) grid is one
vmapped program.

References:
  Sclocchi, Geiger, Wyart (ICML 2023), https://arxiv.org/abs/2301.13703, Sec. 4.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.random as jr
import numpy as np

from lazyrich import _checks
from lazyrich.sims import _analysis as an
from lazyrich.sims._experiment import Result
from lazyrich.sims.experiments import _sclocchi2023_common as common

NAME = "sclocchi2023_temperature_scaling"
TRACED: tuple[str, ...] = ("alpha", "temperature")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(common.SGDConfig):
    """Settings; ``num_train``/``temperature`` are the single-point values of :func:`point`; the data, network
    and SGD fields are those of :class:`~lazyrich.sims.experiments._sclocchi2023_common.SGDConfig`."""

    num_trains: tuple[int, ...] = (64, 128, 256, 512)
    alpha: float = 2.0**10
    num_seeds: int = 3
    max_steps: int = 4096
    check_every: int = 8
    num_train: int = 256
    temperature: float = 2.0**-7
    threshold: float = 0.0
    num_bootstrap: int = 200

    def __post_init__(self):
        if not self.num_trains:
            raise ValueError("`num_trains` must list at least one training-set size.")
        self.check_fields(
            max(max(self.num_trains), self.num_train),
            ("width", "batch_size", "num_seeds", "max_steps", "check_every", "num_train")
            + ("num_bootstrap", "chunk_size"),
        )
        for p in self.num_trains:
            _checks.check_int("num_trains", p, minimum=1)
        common.check_sgd_fields(self, self.num_trains + (self.num_train,))
        _checks.check_positive("alpha", self.alpha)
        _checks.check_positive("threshold", self.threshold, strict=False)


def default_config(*, quick: bool = False) -> Config:
    """Quick: digits, P = 64..512, 5 temperatures, 3 seeds, alpha = 2^10. Full: the paper's T-sweep protocol
    (alpha = 32768, B = 16, FC 5x128, T = 2^-13..2^2) on digits (``data=mnist`` for P up to 16384)."""
    if quick:
        return Config()
    return Config(
        num_trains=(128, 256, 512, 1024),
        num_test=512,
        width=128,
        depth=5,
        alpha=32768.0,
        temperatures=tuple(2.0**i for i in range(-13, 3)),
        num_seeds=5,
        max_steps=2**20,
        check_every=64,
        num_bootstrap=1000,
    )


def point(config: Config, traced: dict, key: jax.Array) -> dict[str, jax.Array]:
    """One grid point (sweep protocol) at P = ``config.num_train``; see the phase-diagram experiment."""
    return common.fc_point_summary(config, traced, key, config.load(config.num_train))


def _fit(mean_dw, mean_t, temps, sizes, threshold):
    lt, lp = np.log(temps), np.log(sizes)
    grid_t, grid_p = np.meshgrid(lt, lp)  # (P, T)
    ok = np.isfinite(mean_dw) & (mean_dw > 0)
    design = np.stack([grid_t[ok], grid_p[ok], np.ones(ok.sum())], axis=1)
    if ok.sum() < 4:
        return dict(
            delta=np.nan, gamma=np.nan, a=np.nan, t_c=np.full(len(sizes), np.nan), tstar_T=np.nan
        )
    delta, gamma, _ = np.linalg.lstsq(design, np.log(mean_dw[ok]), rcond=None)[0]
    t_c = np.array([common.log_crossing(temps, row, threshold) for row in mean_dw])
    good = np.isfinite(t_c)
    a = -np.polyfit(lp[good], np.log(t_c[good]), 1)[0] if good.sum() >= 2 else np.nan
    okt = np.isfinite(mean_t) & (mean_t > 0)
    tstar_T = (
        np.linalg.lstsq(
            np.stack([grid_t[okt], grid_p[okt], np.ones(okt.sum())], 1),
            np.log(mean_t[okt]),
            rcond=None,
        )[0][0]
        if okt.sum() >= 4
        else np.nan
    )
    return dict(delta=delta, gamma=gamma, a=a, t_c=t_c, tstar_T=tstar_T)


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    _checks.check_key("key", key)
    sizes = np.asarray(config.num_trains)
    temps = np.asarray(config.temperatures, np.float32)
    grid_p, grid_t, grid_s = np.meshgrid(sizes, temps, np.arange(config.num_seeds), indexing="ij")
    out = common.run_grid(
        lambda p, t, k, d: common.fc_point_summary(config, {"temperature": t}, k, d, p),
        (grid_p.ravel().astype(np.int32), grid_t.ravel()),
        jr.split(key, config.num_seeds)[grid_s.ravel()],
        config.load(int(sizes.max())),
        shape=grid_p.shape,
        chunk_size=config.chunk_size,
        desc=NAME,
        progress=progress,
    )
    return summarise(config, out)


def result_from_dataset(config: Config, ds) -> Result:
    """The figure's :class:`Result` from a finished sweep over (num_train, temperature, seed) (``--from``)."""
    dims = {
        "num_train": ("num_trains", config.num_train),
        "temperature": ("temperatures", config.temperature),
    }
    return summarise(*common.grid_from_dataset(config, ds, dims))


def summarise(config: Config, out: dict[str, np.ndarray]) -> Result:
    """Fits of delta, gamma, a (with bootstrap intervals) from the ``(P, T, seed)`` grid ``out``."""
    sizes = np.asarray(config.num_trains)
    temps = np.asarray(config.temperatures, np.float32)
    fitted = out["status"] == 0
    dw = np.where(fitted, out["weight_change"], np.nan)
    tstar = np.where(fitted, out["time"], np.nan)
    err = np.where(out["status"] == 2, np.nan, out["test_error"])

    def cell_means(idx):
        with np.errstate(invalid="ignore"):
            d, t = dw[..., idx], tstar[..., idx]
            keep = np.all(
                np.isfinite(d), axis=-1
            )  # a cell counts only if every resampled seed fitted
            return np.where(keep, np.exp(np.mean(np.log(d), -1)), np.nan), np.where(
                keep, np.exp(np.mean(np.log(t), -1)), np.nan
            )

    all_seeds = np.arange(config.num_seeds)
    mean_dw, mean_t = cell_means(all_seeds)
    finite = mean_dw[np.isfinite(mean_dw)]
    threshold = config.threshold or (
        float(np.exp(np.median(np.log(finite)))) if finite.size else 1.0
    )
    fit = _fit(mean_dw, mean_t, temps, sizes, threshold)
    rng = np.random.default_rng(0)
    boot = {k: [] for k in ("delta", "gamma", "a")}
    for _ in range(config.num_bootstrap):
        idx = rng.integers(0, config.num_seeds, config.num_seeds)
        b = _fit(*cell_means(idx), temps, sizes, threshold)
        for k in boot:
            boot[k].append(b[k])

    def interval(values):
        v = np.asarray(values, float)
        v = v[np.isfinite(v)]
        return (
            [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
            if v.size
            else [np.nan, np.nan]
        )

    with np.errstate(invalid="ignore"):
        mean_err = np.nanmean(np.where(np.isfinite(err), err, np.nan), axis=-1)
    ratio = fit["gamma"] / fit["delta"]
    summary = {
        "delta_fit": float(fit["delta"]),
        "delta_interval": interval(boot["delta"]),
        "gamma_fit": float(fit["gamma"]),
        "gamma_interval": interval(boot["gamma"]),
        "a_fit": float(fit["a"]),
        "a_interval": interval(boot["a"]),
        "gamma_over_delta": float(ratio),
        "a_matches_gamma_over_delta": bool(
            np.isfinite(fit["a"]) and abs(fit["a"] - ratio) <= 0.25 * abs(ratio) + 0.1
        ),
        "tstar_temperature_slope": float(fit["tstar_T"]),
        "threshold": float(threshold),
        "fraction_fitted": float(fitted.mean()),
        "fraction_diverged": float((out["status"] == 2).mean()),
    }
    arrays = {
        "num_train": sizes,
        "temperature": temps,
        "t_c": fit["t_c"],
        "weight_change": dw,
        "time": tstar,
        "test_error": err,
        "status": out["status"],
        "num_steps": out["num_steps"],
        "mean_weight_change": mean_dw,
        "mean_time": mean_t,
        "mean_test_error": mean_err,
    }
    metadata = {
        "conventions": {
            "temperature": "T = learning_rate / (batch_size * width) (Sclocchi et al. 2023 code)",
            "time": "t* = learning_rate * steps to zero hinge loss",
            "means": "geometric means over seeds; a cell with an unfitted seed is dropped",
        }
    }
    return Result(experiment=NAME, config=config, arrays=arrays, summary=summary, metadata=metadata)


LAZY_ALPHA_T = 10.0  # alpha * T from which the zero-margin hinge dynamics is homogeneous in T


def _exponent_of_t(values, temps, sizes):
    """T exponent of one least-squares fit ``log v = delta log T + gamma log P + c`` to the seed geometric
    means of ``values`` ``(P, T, seeds)`` (cells with an unfitted seed dropped)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.exp(np.mean(np.log(values), axis=-1))
    grid_t, grid_p = np.meshgrid(np.log(temps), np.log(sizes))
    ok = np.isfinite(mean) & (mean > 0)
    if ok.sum() < 3 or np.unique(grid_t[ok]).size < 2:
        return float("nan")
    design = np.stack([grid_t[ok], grid_p[ok], np.ones(ok.sum())], axis=1)
    return float(np.linalg.lstsq(design, np.log(mean[ok]), rcond=None)[0][0])


def checks(result: Result) -> list[an.Check]:
    """Lazy-regime homogeneity (Sclocchi et al.): where ``alpha T >> 1`` the hinge dynamics scales with T, so
    ``||dw||/||w0|| ~ T`` (delta = 1) and ``t* ~ T``; and ``a = gamma/delta`` (leaving the lazy regime at a
    fixed weight change).

    The exponents are fitted over the temperatures with ``alpha T >= 10`` only (at ``alpha T ~ 1`` the margin
    still matters); tolerance 3 bootstrap standard errors over seeds plus the first margin correction: the
    hinge's margin ``1/alpha`` against the O(T) weight change breaks the homogeneity at relative order
    ``1/(alpha T)``, largest at the coldest fitted temperature. Alternative: delta = 1/2 (diffusive).
    The ``a`` check uses the summary's bootstrap intervals (95 %: SE = width / 3.92) of ``a`` and ``gamma``.
    """
    config, a, s = result.config, result.arrays, result.summary
    temps, sizes = np.asarray(a["temperature"], float), np.asarray(a["num_train"], float)
    lazy = config.alpha * temps >= LAZY_ALPHA_T
    out = []
    for name, claim in (
        ("weight_change", "||dw||/||w0|| ~ T where alpha T >= 10 (delta)"),
        ("time", "t* ~ T where alpha T >= 10 (exponent)"),
    ):
        if lazy.sum() < 2 or config.num_seeds < 2:
            out.append(
                an.untestable(
                    claim,
                    f"{int(lazy.sum())} temperatures with alpha T >= {LAZY_ALPHA_T:g} and "
                    f"{config.num_seeds} seeds (needs 2 and 2)",
                )
            )
            continue
        values = np.asarray(a[name], float)[:, lazy]

        def stat(v):
            return _exponent_of_t(v, temps[lazy], sizes)

        margin = 1.0 / (config.alpha * temps[lazy].min())
        out.append(
            an.close(
                claim,
                stat(values),
                1.0,
                3 * an.bootstrap_se(stat, values, axis=-1) + margin,
                basis=f"3 bootstrap SE over {config.num_seeds} seeds + margin correction "
                f"1/(alpha T) = {margin:.2g} at the coldest of {int(lazy.sum())} temperatures",
                alternative=0.5,
            )
        )
    ratio = s["gamma_over_delta"]
    se_a = (s["a_interval"][1] - s["a_interval"][0]) / 3.92
    se_g = (s["gamma_interval"][1] - s["gamma_interval"][0]) / 3.92 / abs(s["delta_fit"])
    claim = "T_c ~ P^-a with a = gamma/delta"
    if not (np.isfinite(s["a_fit"]) and np.isfinite(se_a) and np.isfinite(ratio)):
        out.append(an.untestable(claim, "no crossing temperature at two or more P"))
    else:
        out.append(
            an.close(
                claim,
                s["a_fit"],
                ratio,
                3 * float(np.hypot(se_a, se_g)),
                basis="3 SE of a - gamma/delta from the bootstrap intervals",
            )
        )
    return out
