r"""Hoffer, Hubara & Soudry (2017), Sec. 2: ultra-slow diffusion on a random landscape, and in a real network.

Part 1 (random landscape). For each roughness ``alpha``, ``num_walkers`` independent walkers, each on its own
periodic 1-D (or ``dim``-D) Gaussian field with structure function ``D(r) ~ r**alpha`` (``D(1) = 1``), follow
noisy gradient descent ``w <- w - eta grad U + sqrt(2 eta T) xi`` for ``num_steps`` steps
(:func:`lazyrich.sims.simulate_random_walk`). The mean distance ``<||w_t - w_0||>`` over walkers is fitted as a
power of ``log t`` (``t`` in steps) over ``t in [fit_start, num_steps]``: the slope of ``log <r>`` against
``log log t``, compared with the prediction ``2 / alpha`` (:func:`lazyrich.theory.diffusion_exponent`).

Part 2 (network). The F1-style BN MLP (:func:`lazyrich.dynamics.train_bn_mlp`) is trained on the bundled digits
at a small and a large batch (large batch with square-root learning-rate scaling, same number of epochs,
constant learning rate: the "initial high learning-rate phase"), recording ``||W1_t - W1_0||_F`` (first layer)
after every step. Both ``a + b log t`` and ``c t**beta`` are fitted over ``t >= mlp_fit_start``; their
coefficients of determination say which law describes the growth.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import dynamics, theory
from lazyrich._checks import check_int
from lazyrich.sims import datasets
from lazyrich.sims._experiment import Result, progress_bar
from lazyrich.sims._random_landscape import random_potential, simulate_random_walk

NAME = "hoffer2017_random_walk"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    alpha: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
    temperature: tuple[float, ...] = ()
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
        return Config(
            alpha=(1.0, 2.0),
            size=4096,
            num_walkers=128,
            num_steps=100_000,
            fit_start=100,
            num_saves=40,
            mlp_batch_sizes=(16, 256),
            mlp_width=128,
            mlp_depth=3,
            mlp_epochs=8,
            mlp_seeds=2,
        )
    return Config()


def temperatures(config: Config) -> tuple[float, ...]:
    """Walker temperature for each ``alpha``.

    Default rule (empty ``temperature``): ``T = 0.07 ** max(alpha - 1, 0)``, i.e. ``T = 1`` up to
    ``alpha = 1`` and ``T = 0.07`` at ``alpha = 2``. This is an empirical calibration, not theory: the
    (log t)^(2/alpha) law is asymptotic and its onset depends on ``T``. At ``alpha = 1`` (Sinai) the
    continuum regime needs ``T`` of the grid-scale barrier ``sqrt(D(1)) = 1``; the marginal ``alpha = 2``
    field (``D ~ r^2 log``) has long-wavelength slopes that a warm walker slides down ballistically,
    so it needs ``T << 1``.
    """
    if not config.temperature:
        return tuple(float(0.07 ** max(a - 1.0, 0.0)) for a in config.alpha)
    if len(config.temperature) == 1:
        return tuple(float(config.temperature[0]) for _ in config.alpha)
    return tuple(float(T) for T in config.temperature)


def save_steps(config: Config) -> np.ndarray:
    """Log-spaced save grid from 1 to ``num_steps`` (unique integers)."""
    return np.unique(np.geomspace(1, config.num_steps, config.num_saves).astype(np.int64))


def fit_log_power(t, r, *, start: int) -> float:
    """Slope of ``log r`` against ``log log t`` over ``t >= start`` (the exponent of ``log t``)."""
    t, r = np.asarray(t, np.float64), np.asarray(r, np.float64)
    m = (t >= start) & (r > 0)
    return float(np.polyfit(np.log(np.log(t[m])), np.log(r[m]), 1)[0])


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


def _walk(config: Config, alpha: float, temperature: float, key):
    field_key, walk_key = jr.split(key)
    fields = jax.vmap(
        lambda k: random_potential(size=config.size, dim=config.dim, roughness=alpha, key=k)
    )(jr.split(field_key, config.num_walkers))
    steps = tuple(int(s) for s in save_steps(config))
    fn = jax.jit(
        lambda f, eta, temp, k: simulate_random_walk(
            f, save_steps=steps, learning_rate=eta, temperature=temp, key=k
        )
    )
    return np.asarray(fn(fields, config.learning_rate, temperature, walk_key))


def _mlp_curves(config: Config, key):
    x, y = datasets.load_digits()
    x, y = jnp.asarray(x), jnp.asarray(y)
    base = min(config.mlp_batch_sizes)
    out = {}
    for batch in config.mlp_batch_sizes:
        regime = dynamics.Regime(
            batch_size=batch,
            ghost_size=batch,
            learning_rate=float(
                dynamics.sqrt_scaled_learning_rate(
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
            return dynamics.train_bn_mlp(
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
    t = save_steps(config)
    walk_key, mlp_key = jr.split(key)
    distances, fitted, predicted = [], {}, {}
    temps = temperatures(config)
    for i, alpha in enumerate(
        progress_bar(config.alpha, total=len(config.alpha), desc="alpha", enabled=progress)
    ):
        d = _walk(config, float(alpha), temps[i], jr.fold_in(walk_key, i))
        distances.append(d.mean(axis=1))
        fitted[str(float(alpha))] = fit_log_power(t, d.mean(axis=1), start=config.fit_start)
        predicted[str(float(alpha))] = float(theory.diffusion_exponent(float(alpha)))
    arrays = {"steps": t, "mean_distance": np.stack(distances), "alpha": np.asarray(config.alpha)}
    summary = {
        "diffusion_exponent_fit": fitted,
        "diffusion_exponent_theory": predicted,
        "relative_error": {k: abs(fitted[k] - predicted[k]) / predicted[k] for k in fitted},
        "fit_window_steps": [config.fit_start, config.num_steps],
        "decades_fitted": float(np.log10(config.num_steps / config.fit_start)),
        "temperature": {str(float(a)): T for a, T in zip(config.alpha, temps)},
    }
    if config.mlp:
        curves = _mlp_curves(config, mlp_key)
        mlp_fit, mlp_acc = {}, {}
        for batch, (curve, acc) in curves.items():
            steps = np.arange(1, curve.size + 1)
            arrays[f"mlp_distance_b{batch}"] = curve
            mlp_fit[str(batch)] = fit_log_vs_power(steps, curve, start=config.mlp_fit_start)
            mlp_acc[str(batch)] = acc
        summary["mlp_fit"] = mlp_fit
        summary["mlp_test_accuracy"] = mlp_acc
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        metadata={
            "time": "steps t; continuous time is learning_rate * t",
            "potential": "periodic Gaussian field, spectrum |k|^-(d+alpha), D(1) = 1, multilinear "
            "interpolation",
            "fit": "slope of log <||w_t - w_0||> vs log log t over [fit_start, num_steps]",
            "mlp_distance": "||W1_t - W1_0||_F of the first layer, mean over seeds",
        },
    )
