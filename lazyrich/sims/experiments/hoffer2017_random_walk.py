r"""Hoffer, Hubara & Soudry (2017), Sec. 2: ultra-slow diffusion on a random landscape, and in a real network.

Part 1 (random landscape). For each roughness ``alpha``, ``num_walkers`` independent walkers, each on its own
periodic 1-D (or ``dim``-D) Gaussian field with structure function ``D(r) ~ r**alpha`` (``D(1) = 1``), follow
noisy gradient descent ``w <- w - eta grad U + sqrt(2 eta T) xi`` for ``num_steps`` steps
(:func:`lazyrich.sims.simulate_random_walk`). The mean distance ``<||w_t - w_0||>`` over walkers is fitted as a
power of ``log t`` (``t`` in steps) over ``t in [fit_start, num_steps]``: the slope of ``log <r>`` against
``log log t``, compared with the prediction ``2 / alpha`` (:func:`lazyrich.theory.diffusion_exponent`).

Part 2 (network). The F1-style BN MLP (:func:`lazyrich.dynamics.models.train_bn_mlp`) is trained on the bundled digits
at a small and a large batch (large batch with square-root learning-rate scaling, same number of epochs,
constant learning rate: the "initial high learning-rate phase"), recording ``||W1_t - W1_0||_F`` (first layer)
after every step. Both ``a + b log t`` and ``c t**beta`` are fitted over ``t >= mlp_fit_start``; their
coefficients of determination say which law describes the growth.

Sweeps. The random-landscape part implements the sweep protocol: :func:`point` runs the walks of every
``alpha`` at one ``learning_rate`` and ``temperature_scale`` (both traced; the walker temperature is
``temperature_scale`` times :func:`base_temperatures`), and :func:`result_from_dataset` turns a finished sweep
(e.g. ``examples/sweeps/random_walk.toml``) into the figure's Result with the same :func:`summarise` step as
:func:`run`.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import dynamics, theory
from lazyrich._checks import check_int
from lazyrich.sims import _analysis as an
from lazyrich.sims import datasets
from lazyrich.sims._analysis import loglog_fit
from lazyrich.sims._experiment import Result, progress_bar
from lazyrich.sims._random_landscape import random_potential, simulate_random_walk

NAME = "hoffer2017_random_walk"
TRACED = ("learning_rate", "temperature_scale")
NUM_GROUPS = (
    8  # walker groups of `point`'s ``group_distance`` (error estimate of the fitted exponent)
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    alpha: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
    temperature: tuple[float, ...] = ()
    temperature_scale: float = 1.0
    learning_rate: float = 0.5
    dim: int = 1
    size: int = 16384
    num_walkers: int = 256
    num_steps: int = 1_000_000
    num_saves: int = 60
    fit_start: int = 100
    mlp: bool = True
    mlp_batch_sizes: tuple[int, ...] = (16, 512)
    mlp_width: int = 512
    mlp_depth: int = 5
    mlp_epochs: int = 20
    mlp_learning_rate: float = 0.1
    mlp_num_train: int = 1024
    mlp_seeds: int = 4
    mlp_fit_start: int = 10

    def __post_init__(self):
        if not self.alpha:
            raise ValueError("`alpha` must list at least one roughness exponent.")
        for a in self.alpha:
            if not 0.0 < a <= 2.0:
                raise ValueError(
                    f"`alpha` (roughness) values must lie in (0, 2], got {self.alpha}."
                )
        if len(self.temperature) not in (0, 1, len(self.alpha)) or any(
            not T > 0 for T in self.temperature
        ):
            raise ValueError(
                "`temperature` must be empty (the default rule), one positive value, or one per "
                f"`alpha` value; got {self.temperature} for alpha {self.alpha}."
            )
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate}.")
        if not self.temperature_scale > 0:
            raise ValueError(f"`temperature_scale` must be > 0, got {self.temperature_scale}.")
        check_int("dim", self.dim, minimum=1, maximum=3)
        check_int("size", self.size, minimum=16)
        check_int("num_walkers", self.num_walkers, minimum=2)
        check_int("num_saves", self.num_saves, minimum=4)
        check_int("fit_start", self.fit_start, minimum=2)
        check_int("num_steps", self.num_steps, minimum=10 * self.fit_start)
        for b in self.mlp_batch_sizes:
            check_int("mlp_batch_sizes", b, minimum=1, maximum=self.mlp_num_train)
        check_int("mlp_seeds", self.mlp_seeds, minimum=1)
        check_int("mlp_epochs", self.mlp_epochs, minimum=1)


def default_config(*, quick: bool = False) -> Config:
    if quick:
        # The default window (10^6 steps, where the temperature rule is calibrated) with 64 walkers.
        return Config(
            alpha=(1.0, 2.0),
            num_walkers=64,
            num_steps=1_000_000,
            fit_start=100,
            mlp_batch_sizes=(16, 256),
            mlp_width=128,
            mlp_depth=3,
            mlp_epochs=8,
            mlp_seeds=2,
        )
    return Config()


# (alpha, T*) where the exponent of log t fitted over [100, 10^6] steps (default setting: 256 walkers,
# size 16384, learning rate 0.5, seed 0) equals 2/alpha; measured by scanning T at each default alpha.
TEMPERATURE_CALIBRATION = ((0.5, 4.5), (1.0, 0.57), (1.5, 0.36), (2.0, 0.059))


def base_temperatures(config: Config) -> tuple[float, ...]:
    """Walker temperature for each ``alpha`` before ``temperature_scale`` multiplies it.

    Default rule (empty ``temperature``): ``log T`` interpolated linearly in ``1/alpha`` through
    :data:`TEMPERATURE_CALIBRATION` (clamped outside ``[0.5, 2]``). The (log t)^(2/alpha) law is
    asymptotic; over a finite window the fitted exponent of ``log t`` rises with ``T`` (a warm walker first
    diffuses freely, which steepens the curve; a cold one starts barrier-limited at a larger offset, which
    flattens it), by about 25 % of ``2/alpha`` per doubling of ``T`` at every ``alpha``. So there is one
    temperature ``T*(alpha)`` per roughness where the window shows the asymptotic exponent, and the
    exponent stays within 15 % of ``2/alpha`` for ``T`` within about a factor 1.5 of it. ``T*`` is not a
    closed form: it falls steeply towards ``alpha = 2``, where the field (``D ~ r^2 log``) is dominated by
    long-wavelength slopes that a warm walker slides down. It was measured at the four default roughness
    values; the interpolation is tested at roughness values between them (0.75, 1.25, 1.75). The walks use
    ``temperature_scale`` times these values.
    """
    if not config.temperature:
        inv, log_t = zip(*sorted((1 / a, np.log(t)) for a, t in TEMPERATURE_CALIBRATION))
        return tuple(float(np.exp(np.interp(1 / a, inv, log_t))) for a in config.alpha)
    if len(config.temperature) == 1:
        return tuple(float(config.temperature[0]) for _ in config.alpha)
    return tuple(float(T) for T in config.temperature)


def save_steps(config: Config) -> np.ndarray:
    """Log-spaced save grid from 1 to ``num_steps`` (unique integers)."""
    return np.unique(np.geomspace(1, config.num_steps, config.num_saves).astype(np.int64))


def fit_log_power(t, r, *, start: int) -> float:
    """Slope of ``log r`` against ``log log t`` over ``t >= start`` (the exponent of ``log t``)."""
    t = np.asarray(t, np.float64)
    return loglog_fit(np.log(t), r, where=t >= start).slope


def _r2(y, fit):
    return float(1.0 - np.sum((y - fit) ** 2) / np.sum((y - y.mean()) ** 2))


def fit_log_vs_power(t, d, *, start: int) -> dict[str, float]:
    """Fit ``d = a + b log t`` and ``d = c t**beta`` (least squares on ``d`` and on ``log d``).

    Returns R^2 of both, measured on ``d`` itself, plus ``b`` and ``beta``.
    """
    t, d = np.asarray(t, np.float64), np.asarray(d, np.float64)
    m = (t >= start) & (d > 0)
    lt, dd = np.log(t[m]), d[m]
    b, a = np.polyfit(lt, dd, 1)
    beta, logc = np.polyfit(lt, np.log(dd), 1)
    return {
        "log_r2": _r2(dd, a + b * lt),
        "log_slope": float(b),
        "power_r2": _r2(dd, np.exp(logc) * t[m] ** beta),
        "power_exponent": float(beta),
    }


def _walk(config: Config, alpha: float, temperature, learning_rate, key) -> jax.Array:
    """Distances ``||w_t - w_0||`` of ``num_walkers`` walkers on the save grid, shape ``(S, E)`` (pure)."""
    field_key, walk_key = jr.split(key)
    fields = jax.vmap(
        lambda k: random_potential(size=config.size, dim=config.dim, roughness=alpha, key=k)
    )(jr.split(field_key, config.num_walkers))
    steps = tuple(int(s) for s in save_steps(config))
    return simulate_random_walk(
        fields, save_steps=steps, learning_rate=learning_rate, temperature=temperature, key=walk_key
    )


def point(config: Config, traced: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """The random-landscape walks of every ``config.alpha`` at one (learning rate, temperature scale).

    Sweep protocol (``TRACED = ("learning_rate", "temperature_scale")``): ``alpha`` (a tuple field: a sweep
    axis over it makes one compiled group per value), the grid and the step counts are static; walker ``i``
    of roughness ``config.alpha[j]`` uses ``fold_in(key, j)``. Returns ``mean_distance`` ``(A, S)`` (mean
    over walkers on the :func:`save_steps` grid), ``group_distance`` ``(A, G, S)`` (means over ``G`` =
    min(8, num_walkers) equal groups of walkers, for error estimates), ``diffusion_exponent`` ``(A,)`` (slope of
    ``log <r>`` against ``log log t`` over ``t >= fit_start``, float32), ``temperature`` ``(A,)`` (the walker
    temperatures used) and ``status`` (0, or 2 if a distance is not finite).
    """
    eta = jnp.asarray(traced.get("learning_rate", config.learning_rate), jnp.float32)
    scale = jnp.asarray(traced.get("temperature_scale", config.temperature_scale), jnp.float32)
    temps = jnp.asarray(base_temperatures(config), jnp.float32) * scale
    walks = [
        _walk(config, float(a), temps[j], eta, jr.fold_in(key, j))
        for j, a in enumerate(config.alpha)
    ]
    curves = jnp.stack([w.mean(axis=1) for w in walks])
    groups = min(NUM_GROUPS, config.num_walkers)
    size = config.num_walkers // groups
    group_curves = jnp.stack(
        [w[:, : groups * size].reshape(w.shape[0], groups, size).mean(-1).T for w in walks]
    )
    t = save_steps(config)
    x = np.log(np.log(t[t >= config.fit_start]))
    x = x - x.mean()
    y = jnp.log(curves[:, t >= config.fit_start])
    slope = ((y - y.mean(axis=1, keepdims=True)) * x).sum(axis=1) / np.sum(x * x)
    ok = jnp.all(jnp.isfinite(curves))
    return {
        "mean_distance": curves,
        "group_distance": group_curves,
        "diffusion_exponent": slope,
        "temperature": temps,
        "status": jnp.where(ok, 0, 2).astype(jnp.int32),
    }


def _row_key(alpha: float, extra: dict[str, Any]) -> str:
    """Summary key of one curve: ``str(alpha)``, plus the other sweep coordinates when there are any."""
    key = str(float(alpha))
    if extra:
        key += " (" + ", ".join(f"{k}={v:g}" for k, v in extra.items()) + ")"
    return key


def summarise(config: Config, rows, curves, temps) -> tuple[dict, dict]:
    """Arrays and summary of the random-landscape part (shared by :func:`run` and a finished sweep).

    Args:
      config: settings (``fit_start``, ``num_steps``, ``num_saves`` define the save grid and fit window).
      rows: one ``(alpha, extra)`` per curve, ``extra`` the other sweep coordinates of that curve.
      curves: mean distances, shape ``(R, S)``.
      temps: walker temperature of each curve, ``(R,)``.
    """
    t = save_steps(config)
    curves = np.asarray(curves, np.float64)
    keys = [_row_key(a, extra) for a, extra in rows]
    fitted = {k: fit_log_power(t, c, start=config.fit_start) for k, c in zip(keys, curves)}
    predicted = {k: float(theory.diffusion_exponent(float(a))) for k, (a, _) in zip(keys, rows)}
    arrays = {
        "steps": t,
        "mean_distance": curves,
        "alpha": np.asarray([float(a) for a, _ in rows]),
    }
    summary = {
        "diffusion_exponent_fit": fitted,
        "diffusion_exponent_theory": predicted,
        "relative_error": {k: abs(fitted[k] - predicted[k]) / predicted[k] for k in fitted},
        "fit_window_steps": [config.fit_start, config.num_steps],
        "decades_fitted": float(np.log10(config.num_steps / config.fit_start)),
        "temperature": {k: float(T) for k, T in zip(keys, np.asarray(temps))},
    }
    return arrays, summary


_METADATA = {
    "time": "steps t; continuous time is learning_rate * t",
    "potential": "periodic Gaussian field, spectrum |k|^-(d+alpha), D(1) = 1, multilinear interpolation",
    "fit": "slope of log <||w_t - w_0||> vs log log t over [fit_start, num_steps]",
    "mlp_distance": "||W1_t - W1_0||_F of the first layer, mean over seeds",
}


def _mlp_curves(config: Config, key, *, progress: bool = False):
    x, y = datasets.load_digits()
    x, y = jnp.asarray(x), jnp.asarray(y)
    base = min(config.mlp_batch_sizes)
    out = {}
    batches = config.mlp_batch_sizes
    for batch in progress_bar(batches, total=len(batches), desc="mlp", enabled=progress):
        regime = dynamics.models.Regime(
            batch_size=batch,
            ghost_size=batch,
            learning_rate=float(
                dynamics.models.sqrt_scaled_learning_rate(
                    config.mlp_learning_rate, batch_size=batch, base_batch_size=base
                )
            ),
            num_epochs=config.mlp_epochs,
            milestones=(),
        )

        def one(k, regime=regime):
            split_key, train_key = jr.split(k)
            perm = jr.permutation(split_key, x.shape[0])
            tr, te = perm[: config.mlp_num_train], perm[config.mlp_num_train :]
            return dynamics.models.train_bn_mlp(
                x[tr],
                y[tr],
                x[te],
                y[te],
                regime=regime,
                width=config.mlp_width,
                depth=config.mlp_depth,
                num_classes=10,
                key=train_key,
            )

        rec = jax.jit(jax.vmap(one))(jr.split(jr.fold_in(key, batch), config.mlp_seeds))
        out[batch] = (
            np.asarray(rec.first_layer_distance).mean(axis=0),
            float(np.asarray(rec.test_accuracy).mean()),
        )
    return out


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    walk_key, mlp_key = jr.split(key)
    traced = {name: jnp.asarray(getattr(config, name), jnp.float32) for name in TRACED}
    out = jax.device_get(jax.jit(lambda tr, k: point(config, tr, k))(traced, walk_key))
    rows = [(float(a), {}) for a in config.alpha]
    arrays, summary = summarise(config, rows, out["mean_distance"], out["temperature"])
    arrays["group_distance"] = np.asarray(out["group_distance"], np.float64)
    if config.mlp:
        curves = _mlp_curves(config, mlp_key, progress=progress)
        mlp_fit, mlp_acc = {}, {}
        for batch, (curve, acc) in curves.items():
            steps = np.arange(1, curve.size + 1)
            arrays[f"mlp_distance_b{batch}"] = curve
            mlp_fit[str(batch)] = fit_log_vs_power(steps, curve, start=config.mlp_fit_start)
            mlp_acc[str(batch)] = acc
        summary["mlp_fit"] = mlp_fit
        summary["mlp_test_accuracy"] = mlp_acc
    return Result(
        experiment=NAME, config=config, arrays=arrays, summary=summary, metadata=dict(_METADATA)
    )


def result_from_dataset(config: Config, ds: Any) -> Result:
    """The random-landscape part of the figure from a finished sweep (``lazyrich figures make --from``).

    Walker distances are averaged over the ``seed`` axis (every seed has ``num_walkers`` walkers); every
    other combination of sweep coordinates (``alpha`` values, temperature scales, learning rates) is one
    curve, fitted and summarised exactly as :func:`run` does (:func:`summarise`). The MLP panel is not part of
    a sweep. Points not computed yet (status -1) are left out of the seed average.
    """
    md, temps, status = ds["mean_distance"], ds["temperature"], ds["status"]
    sweep_dims = list(status.dims)
    inner, inner_t = md.dims[len(sweep_dims)], temps.dims[-1]  # index into the group's config.alpha
    if "seed" in sweep_dims:
        done = status >= 0
        md = md.where(done).mean("seed")
        temps = temps.where(done).mean("seed")
        sweep_dims.remove("seed")
    rows, curves, used = [], [], []
    for idx in itertools.product(*(range(ds.sizes[d]) for d in sweep_dims)):
        where = dict(zip(sweep_dims, idx))
        coords = {d: ds[d].values[i] for d, i in where.items()}
        for j in range(md.sizes[inner]):
            alpha = float(coords["alpha"]) if "alpha" in coords else float(config.alpha[j])
            extra = {d: float(v) for d, v in coords.items() if d != "alpha"}
            rows.append((alpha, extra))
            curves.append(md.isel(where | {inner: j}).values)
            used.append(float(temps.isel(where | {inner_t: j}).values))
    arrays, summary = summarise(config, rows, np.stack(curves), np.asarray(used))
    summary["points"] = int(status.size)
    summary["missing"] = int(np.sum(status.values < 0))
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        status="ok" if summary["missing"] == 0 else "incomplete",
        metadata=dict(_METADATA) | {"rows": [_row_key(a, e) for a, e in rows]},
    )


RELATIVE_TOLERANCE = 0.15  # finite-window criterion for the asymptotic exponent (see `checks`)


def checks(result: Result) -> list[an.Check]:
    """The exponent of ``log t`` is ``2/alpha`` for every curve; the BN MLP's first-layer distance grows like
    ``log t`` rather than a power of ``t``.

    The (log t)^(2/alpha) law is asymptotic: over a fit window of a few decades of ``t`` the fitted exponent
    carries a finite-window bias (the unknown microscopic time inside the logarithm), which
    :func:`base_temperatures` keeps small; the check allows 15 % of ``2/alpha`` for it, plus 3 standard
    errors of the fitted exponent over the walkers (a bootstrap over the ``group_distance`` groups). Alternative: ``1/alpha`` (barriers growing
    like ``D(r)`` instead of ``sqrt(D(r))``). The MLP claim compares the two fits' R^2 on the same points.
    """
    s, config = result.summary, result.config
    t = save_steps(config)
    groups = result.arrays.get("group_distance")  # (rows, G, S) from `run`; absent from a sweep
    out = []
    for i, (key, fitted) in enumerate(s["diffusion_exponent_fit"].items()):
        theory_value = s["diffusion_exponent_theory"][key]
        se, basis = 0.0, f"{RELATIVE_TOLERANCE:.0%} finite-window criterion"
        if groups is not None:
            se = an.bootstrap_se(
                lambda g: fit_log_power(t, g.mean(axis=0), start=config.fit_start), groups[i]
            )
            basis += f" + 3 bootstrap SE over {groups.shape[1]} groups of walkers"
        out.append(
            an.close(
                f"exponent of log t = 2/alpha (alpha = {key})",
                fitted,
                theory_value,
                RELATIVE_TOLERANCE * theory_value + 3 * se,
                basis=f"{basis} ({config.num_walkers} walkers)",
                alternative=theory_value / 2,
            )
        )
    for batch, fit in s.get("mlp_fit", {}).items():
        out.append(
            an.above(
                f"BN MLP (B = {batch}): log t fits better than a power of t (R^2 difference)",
                fit["log_r2"] - fit["power_r2"],
                0.0,
                basis="R^2 of both fits on the same points",
            )
        )
    return out
