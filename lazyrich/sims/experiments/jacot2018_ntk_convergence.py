"""Jacot, Gabriel, Hongler (NeurIPS 2018), Fig. 1: the finite-width NTK converges to its infinite-width limit.

Depth-4 (``depth=3`` hidden layers) ReLU networks in the NTK parameterization with bias scale 0.1. For each width
and initialization the kernel :math:`\\Theta(x_0, x(\\gamma))`, :math:`x_0 = (1, 0)`,
:math:`x(\\gamma) = (\\cos\\gamma, \\sin\\gamma)`, is measured at initialization and after ``num_steps`` full-batch
gradient-descent steps on :math:`f^\\star(x) = x_1 x_2` with Gaussian inputs (loss
:math:`\\frac{1}{2P}\\sum_\\mu (f(x_\\mu) - y_\\mu)^2`), and compared with :func:`lazyrich.theory.mlp_kernels`.

The seed-to-seed standard deviation of the kernel shrinks like ``width**-0.5`` (Jacot et al. Thm. 1
with the usual central-limit rate); the summary records the fitted slope over ``fit_widths`` (at
initialization, ``fit_seeds`` networks each: the sd of ``S`` samples carries a relative error of
about ``1/sqrt(2(S - 1))``, so few seeds give a noisy slope).

Sweeps: one grid point is one network (:func:`point`: its kernel at initialization and after training, at the
scalar ``width`` with the traced ``learning_rate``); ``examples/sweeps/ntk_convergence.toml`` runs widths x seeds,
and ``lazyrich figures make ntk-convergence --from DIR`` plots it (:func:`result_from_dataset`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import dynamics, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims._analysis import loglog_fit
from lazyrich.sims._experiment import Result, progress_bar

NAME = "jacot2018_ntk_convergence"
TRACED: tuple[str, ...] = ("learning_rate",)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of the NTK-convergence experiment (defaults: the paper's Fig. 1)."""

    widths: tuple[int, ...] = (500, 10_000)
    fit_widths: tuple[int, ...] = (500, 1_000, 2_000, 5_000, 10_000)
    depth: int = 3
    bias_std: float = 0.1
    num_seeds: int = 10
    fit_seeds: int = 32
    num_steps: int = 200
    learning_rate: float = 1.0
    num_train: int = 20
    num_angles: int = 65
    width: int = (
        1_000  # the width of one sweep point (:func:`point`); the figure's grid is `widths`
    )

    def __post_init__(self):
        if not self.widths or min(self.widths) < 1:
            raise ValueError(
                f"`widths` must be a non-empty list of positive integers, got {self.widths}."
            )
        if len(set(self.fit_widths)) < 3 or min(self.fit_widths) < 1:
            raise ValueError(
                f"`fit_widths` must hold at least three distinct positive widths, got {self.fit_widths}."
            )
        if self.width < 1:
            raise ValueError(f"`width` must be a positive integer, got {self.width}.")
        for name in ("depth", "num_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0, got {getattr(self, name)}.")
        for name in ("num_seeds", "fit_seeds", "num_train", "num_angles"):
            if getattr(self, name) < 2:
                raise ValueError(f"`{name}` must be >= 2, got {getattr(self, name)}.")
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate}.")
        if self.bias_std < 0:
            raise ValueError(f"`bias_std` must be >= 0, got {self.bias_std}.")


def default_config(*, quick: bool = False) -> Config:
    if quick:
        return Config(
            widths=(100, 1_000),
            fit_widths=(100, 300, 1_000, 3_000),
            num_seeds=8,
            fit_seeds=24,
            num_angles=33,
        )
    return Config()


def circle(angles):
    """Points :math:`(\\cos\\gamma, \\sin\\gamma)` on the unit circle, shape ``(len(angles), 2)``."""
    angles = jnp.asarray(angles)
    return jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)


def gradient_descent_mse(apply_fn, params, x, y, *, learning_rate, num_steps):
    """``num_steps`` full-batch GD steps on :math:`\\frac{1}{2P}\\sum (f - y)^2` (jit-compiled scan)."""

    def loss(p):
        return 0.5 * jnp.mean(jnp.sum((apply_fn(p, x) - y) ** 2, axis=-1))

    def step(p, _):
        g = jax.grad(loss)(p)
        return jax.tree.map(lambda a, b: a - learning_rate * b, p, g), None

    return jax.lax.scan(step, params, length=num_steps)[0]


def _one_network(config: Config, width: int, key, x_train, y_train, x0, xs, *, train: bool):
    apply_fn, params = dynamics.mlp(
        key, input_dim=2, width=width, depth=config.depth, bias_std=config.bias_std
    )
    # "auto" picks the per-layer (structured) NTK here: a forward and backward pass per input.
    theta0 = dynamics.empirical_ntk(apply_fn, params, x0, xs)[0]
    if not train:
        return theta0, None
    trained = gradient_descent_mse(
        apply_fn,
        params,
        x_train,
        y_train,
        learning_rate=config.learning_rate,
        num_steps=config.num_steps,
    )
    return theta0, dynamics.empirical_ntk(apply_fn, trained, x0, xs)[0]


def _setup(config: Config, data_key):
    """The probe angles and points (``x0``, ``xs``) and the training set."""
    angles = np.linspace(-np.pi, np.pi, config.num_angles)
    x0, xs = circle(jnp.zeros(1)), circle(angles)
    x_train = jax.random.normal(data_key, (config.num_train, 2))
    y_train = (x_train[:, 0] * x_train[:, 1])[:, None]
    return angles, x0, xs, x_train, y_train


def _theta_infinite(config: Config, x0, xs) -> np.ndarray:
    kernels = theory.mlp_kernels(x0, xs, depth=config.depth, bias_std=config.bias_std)
    return np.asarray(kernels.ntk[0])


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    data_key, init_key = jax.random.split(key)
    angles, x0, xs, x_train, y_train = _setup(config, data_key)
    theta_inf = _theta_infinite(config, x0, xs)
    widths = sorted(set(config.widths) | set(config.fit_widths))

    def seeds(w):
        return max(
            config.num_seeds if w in config.widths else 0,
            config.fit_seeds if w in config.fit_widths else 0,
        )

    jobs = [(w, s) for w in widths for s in range(seeds(w))]
    init, trained = {w: [] for w in widths}, {w: [] for w in config.widths}
    compiled = {}
    for width, seed in progress_bar(jobs, desc="ntk-convergence", enabled=progress):
        train = width in config.widths and seed < config.num_seeds
        if (width, train) not in compiled:
            compiled[width, train] = jax.jit(
                lambda k, w=width, t=train: _one_network(
                    config, w, k, x_train, y_train, x0, xs, train=t
                )
            )
        k = jax.random.fold_in(jax.random.fold_in(init_key, width), seed)
        theta0, theta_t = compiled[width, train](k)
        init[width].append(np.asarray(theta0))
        if train:
            trained[width].append(np.asarray(theta_t))
    init = {w: np.stack(v) for w, v in init.items()}
    trained = {w: np.stack(v) for w, v in trained.items()}
    return _summarise(config, angles, theta_inf, init, trained)


def _summarise(config, angles, theta_inf, init, trained) -> Result:
    """The figure's arrays and summary from per-width stacks ``init[w]``, ``trained[w]`` of shape (seeds, angles)."""
    spread = np.array(
        [np.mean(np.std(init[w][: config.fit_seeds], axis=0, ddof=1)) for w in config.fit_widths]
    )
    fit_w = np.array(config.fit_widths, float)
    slope = loglog_fit(fit_w, spread).slope
    arrays = {
        "angle": angles,
        "theta_infinite": theta_inf,
        "fit_widths": fit_w,
        "spread": spread,
        "fit_init": np.stack([init[w][: config.fit_seeds] for w in config.fit_widths]),
        "widths": np.array(config.widths),
    }
    summary = {
        "spread_slope": slope,
        "spread_slope_theory": -0.5,
        "max_mean_deviation_at_init": {},
        "relative_kernel_change": {},
    }
    for w in config.widths:
        t0, t1 = init[w][: config.num_seeds], trained[w]
        arrays[f"theta_init_{w}"], arrays[f"theta_trained_{w}"] = t0, t1
        summary["max_mean_deviation_at_init"][str(w)] = float(
            np.max(np.abs(t0.mean(0) - theta_inf))
        )
        change = np.linalg.norm(t1 - t0, axis=-1) / np.linalg.norm(t0, axis=-1)
        summary["relative_kernel_change"][str(w)] = float(np.mean(change))
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        metadata={"loss": "1/(2P) sum (f - y)^2", "time": "steps of learning_rate"},
    )


# The sweep protocol: every grid point shares the probe points and the training set (drawn from a fixed key, so
# they do not depend on the point's seed); the seed draws the network.
_SWEEP_DATA_KEY = 0


def point(config: Config, traced: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """One network of width ``config.width``: its kernel row at initialization and after training.

    Returns ``theta_init`` and ``theta_trained`` (shape ``(num_angles,)``), ``kernel_change`` (relative change of
    the row) and ``status`` (0 ok, 2 diverged: a non-finite trained kernel).
    """
    lr = traced.get("learning_rate", config.learning_rate)
    _, x0, xs, x_train, y_train = _setup(config, jax.random.key(_SWEEP_DATA_KEY))
    apply_fn, params = dynamics.mlp(
        key, input_dim=2, width=config.width, depth=config.depth, bias_std=config.bias_std
    )
    theta0 = dynamics.empirical_ntk(apply_fn, params, x0, xs, method="structured")[0]
    params = gradient_descent_mse(
        apply_fn, params, x_train, y_train, learning_rate=lr, num_steps=config.num_steps
    )
    theta_t = dynamics.empirical_ntk(apply_fn, params, x0, xs, method="structured")[0]
    change = jnp.linalg.norm(theta_t - theta0) / jnp.linalg.norm(theta0)
    status = jnp.where(jnp.all(jnp.isfinite(theta_t)), 0, 2).astype(jnp.int32)
    return {
        "theta_init": theta0,
        "theta_trained": theta_t,
        "kernel_change": change,
        "status": status,
    }


def result_from_dataset(config: Config, ds) -> Result:
    """The figure's :class:`Result` from a finished sweep over ``width`` and ``seed`` (other axes: their first value).

    Every swept width is both a plotted and a fitted width (at least three are needed for the slope).
    """
    for dim in ("width", "seed"):
        if dim not in ds.dims:
            raise ValueError(
                f"an ntk-convergence sweep needs a `{dim}` axis; this one has {list(ds.dims)}."
            )
    other_axes = [d for d in ds.dims if d in ds.coords and d not in ("width", "seed")]
    ds = ds.isel({d: 0 for d in other_axes})
    if int((ds.status < 0).sum()) > 0:
        raise ValueError(
            "the sweep is not finished (some points are missing); run it to the end first."
        )
    widths = tuple(int(w) for w in ds.width.values)
    num_seeds = int(ds.sizes["seed"])
    config = dataclasses.replace(
        config, widths=widths, fit_widths=widths, num_seeds=num_seeds, fit_seeds=num_seeds
    )
    angles, x0, xs, *_ = _setup(config, jax.random.key(_SWEEP_DATA_KEY))
    theta_inf = _theta_infinite(config, x0, xs)
    init = {w: np.asarray(ds.theta_init.sel(width=w).transpose("seed", ...).values) for w in widths}
    trained = {
        w: np.asarray(ds.theta_trained.sel(width=w).transpose("seed", ...).values) for w in widths
    }
    return _summarise(config, angles, theta_inf, init, trained)


def checks(result: Result) -> list[an.Check]:
    """Spread ~ width^-1/2, mean kernel at init = the infinite-width kernel, and the change of the kernel in
    training ~ 1/width (the kernel's velocity is O(1/n) in the NTK parameterisation: Dyer & Gur-Ari 2019,
    Huang & Yau 2020; Jacot et al. state its limit, a constant kernel).

    Tolerances: 3 bootstrap standard errors over the seeds (the slopes); a Bonferroni bound at family-wise
    level 1 % over the angles for the seed mean (z-scores of the mean against ``sd / sqrt(seeds)``).
    """
    a, config = result.arrays, result.config
    fit_w = np.asarray(a["fit_widths"], float)

    def spread_slope(init):  # init: (seeds, widths, angles)
        return loglog_fit(fit_w, init.std(axis=0, ddof=1).mean(axis=-1)).slope

    fit_init = np.moveaxis(np.asarray(a["fit_init"]), 1, 0)
    seeds = fit_init.shape[0]
    se = an.bootstrap_se(spread_slope, fit_init)
    basis = f"3 bootstrap SE ({seeds} seeds, widths {int(fit_w[0])}-{int(fit_w[-1])})"
    out = [
        an.close(
            "seed-to-seed NTK spread ~ width^-1/2 (slope)",
            spread_slope(fit_init),
            -0.5,
            3 * se,
            basis=basis,
            alternative=-0.25,
        )
    ]
    widest = max(config.widths)
    theta0 = np.asarray(a[f"theta_init_{widest}"])
    num_angles = theta0.shape[1]
    z = np.abs(theta0.mean(0) - a["theta_infinite"]) / (
        theta0.std(0, ddof=1) / np.sqrt(theta0.shape[0])
    )
    out.append(
        an.below(
            f"mean NTK at init = infinite-width NTK (max z over angles, n={widest})",
            float(z.max()),
            an.normal_quantile(1 - 0.005 / num_angles),
            basis=f"Bonferroni 1 % over {num_angles} angles, {theta0.shape[0]} seeds",
        )
    )
    if len(config.widths) >= 2:
        ws = np.asarray(sorted(config.widths), float)

        def change(stack):  # (seeds, widths, 2, angles) -> per-width mean relative change
            init, trained = stack[:, :, 0], stack[:, :, 1]
            rel = np.linalg.norm(trained - init, axis=-1) / np.linalg.norm(init, axis=-1)
            return loglog_fit(ws, rel.mean(axis=0)).slope

        stack = np.stack(
            [np.stack([a[f"theta_init_{int(w)}"], a[f"theta_trained_{int(w)}"]], 1) for w in ws], 1
        )
        out.append(
            an.close(
                "training changes the NTK by ~ 1/width (slope)",
                change(stack),
                -1.0,
                3 * an.bootstrap_se(change, stack),
                basis=f"3 bootstrap SE ({stack.shape[0]} seeds)",
                alternative=-0.5,
            )
        )
    return out
