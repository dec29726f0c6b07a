"""Jacot, Gabriel, Hongler (NeurIPS 2018), Fig. 2: trained networks against the limiting Gaussian process.

Depth-4 (``depth=3``) ReLU networks in the NTK parameterization (bias scale 0.1) are trained by
full-batch gradient descent (loss :math:`\\frac{1}{2P}\\sum_\\mu (f(x_\\mu) - y_\\mu)^2`) on four
points of the unit circle. At infinite width the trained function is Gaussian (Jacot et al. Sec. 5;
Lee et al. 2019, https://arxiv.org/abs/1902.06720): its mean and covariance at time ``learning_rate
* num_steps`` come from :func:`lazyrich.theory.gradient_descent_mse_ensemble`, with the NNGP as the
covariance of the initial function. The summary records the fraction of finite-network outputs
inside the 10-90 % band of that Gaussian (about 0.8 when the limit holds) for each width, the
largest distance of the seed-averaged function from the limiting mean in standard errors, and the
ratio of the seed-to-seed spread to the limiting one.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import dynamics, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims._experiment import Result, progress_bar
from lazyrich.sims.experiments.jacot2018_ntk_convergence import circle, gradient_descent_mse

NAME = "jacot2018_function_bands"
Z90 = 1.2815515655446004  # the 90 % quantile of the standard normal


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of the function-band experiment (defaults: the paper's Fig. 2)."""

    widths: tuple[int, ...] = (50, 1_000)
    depth: int = 3
    bias_std: float = 0.1
    num_seeds: int = 10
    num_steps: int = 1_000
    learning_rate: float = 1.0
    train_angles: tuple[float, ...] = (-2.2, -1.0, 1.0, 2.2)
    train_targets: tuple[float, ...] = (-0.4, -0.2, 0.3, 0.3)
    num_angles: int = 121

    def __post_init__(self):
        if not self.widths or min(self.widths) < 1:
            raise ValueError(
                f"`widths` must be a non-empty list of positive integers, got {self.widths}."
            )
        if len(self.train_angles) != len(self.train_targets):
            raise ValueError(
                f"`train_angles` and `train_targets` must have the same length, got "
                f"{len(self.train_angles)} and {len(self.train_targets)}."
            )
        for name in ("depth", "num_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0, got {getattr(self, name)}.")
        for name in ("num_seeds", "num_angles"):
            if getattr(self, name) < 2:
                raise ValueError(f"`{name}` must be >= 2, got {getattr(self, name)}.")
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate}.")


# Angles whose limiting sd is below this fraction of the largest are degenerate (the training angles).
INFORMATIVE_SD = 1e-2


def default_config(*, quick: bool = False) -> Config:
    return Config(num_seeds=8, num_angles=61) if quick else Config()


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    angles = np.linspace(-np.pi, np.pi, config.num_angles)
    x_test = circle(angles)
    x_train = circle(jnp.asarray(config.train_angles))
    y_train = jnp.asarray(config.train_targets)[:, None]
    time = config.learning_rate * config.num_steps

    gaussian = theory.gradient_descent_mse_ensemble(
        theory.mlp_kernels(x_train, depth=config.depth, bias_std=config.bias_std),
        y_train,
        time,
        k_test_train=theory.mlp_kernels(
            x_test, x_train, depth=config.depth, bias_std=config.bias_std
        ),
        nngp_test_test=theory.mlp_kernels(
            x_test, depth=config.depth, bias_std=config.bias_std
        ).nngp,
    )
    mean = np.asarray(gaussian.mean)[:, 0]
    sd = np.sqrt(np.clip(np.diag(np.asarray(gaussian.covariance)), 0.0, None))

    arrays = {"angle": angles, "mean": mean, "sd": sd, "widths": np.array(config.widths)}
    summary = {"fraction_in_band": {}, "max_mean_zscore": {}, "sd_ratio": {}, "time": time}
    for width in progress_bar(config.widths, desc="ntk-function-bands", enabled=progress):

        def train_one(k, width=width):
            apply_fn, params = dynamics.mlp(
                k, input_dim=2, width=width, depth=config.depth, bias_std=config.bias_std
            )
            trained = gradient_descent_mse(
                apply_fn,
                params,
                x_train,
                y_train,
                learning_rate=config.learning_rate,
                num_steps=config.num_steps,
            )
            return apply_fn(trained, x_test)[:, 0], apply_fn(trained, x_train)[:, 0]

        keys = jax.random.split(jax.random.fold_in(key, width), config.num_seeds)
        f_test, f_train = (np.asarray(a) for a in jax.jit(jax.vmap(train_one))(keys))
        arrays[f"f_test_{width}"], arrays[f"f_train_{width}"] = f_test, f_train
        inside = np.abs(f_test - mean) <= Z90 * sd
        summary["fraction_in_band"][str(width)] = float(inside.mean())
        # How far the seed average sits from the limiting mean, in standard errors of that average, at the
        # angles where the limiting Gaussian is not degenerate: at the training angles its variance is zero
        # up to rounding (it interpolates), so there is no spread to measure a distance in.
        informative = sd > INFORMATIVE_SD * sd.max()
        zscore = np.abs(f_test.mean(0) - mean)[informative] / (
            sd[informative] / np.sqrt(config.num_seeds)
        )
        summary["max_mean_zscore"][str(width)] = float(zscore.max())
        summary["sd_ratio"][str(width)] = float(f_test.std(0, ddof=1).mean() / sd.mean())
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        metadata={"loss": "1/(2P) sum (f - y)^2", "time": "learning_rate * steps"},
    )


def checks(result: Result) -> list[an.Check]:
    """At the largest width the trained networks follow the limiting Gaussian (Jacot et al., Fig. 2).

    Tolerances from the seeds: 3 standard errors of the fraction inside the 10-90 % band (spread of the
    per-network fractions) and of the sd ratio (bootstrap over networks); the seed mean is compared with
    the limiting mean by a Bonferroni bound over the angles (family-wise 1 %).
    """
    a = result.arrays
    width = int(max(a["widths"]))
    f = np.asarray(a[f"f_test_{width}"])  # (seeds, angles)
    seeds, num_angles = f.shape
    mean, sd = np.asarray(a["mean"]), np.asarray(a["sd"])
    per_net = (np.abs(f - mean) <= Z90 * sd).mean(axis=1)
    informative = sd > INFORMATIVE_SD * sd.max()  # the training angles are degenerate (module comment)
    z = np.abs(f.mean(0) - mean)[informative] / (sd[informative] / np.sqrt(seeds))
    num_angles = int(informative.sum())

    def sd_ratio(v):
        return float(v.std(0, ddof=1).mean() / sd.mean())

    return [
        an.close(
            f"fraction of network outputs in the 10-90 % band (n={width})",
            per_net.mean(),
            0.8,
            3 * per_net.std(ddof=1) / np.sqrt(seeds),
            basis=f"3 SE over {seeds} networks",
            alternative=0.5,
        ),
        an.below(
            f"seed mean = limiting mean (max z over angles, n={width})",
            float(z.max()),
            an.normal_quantile(1 - 0.005 / num_angles),
            basis=f"Bonferroni 1 % over {num_angles} angles, {seeds} networks",
        ),
        an.close(
            f"network sd / limiting sd (n={width})",
            sd_ratio(f),
            1.0,
            3 * an.bootstrap_se(sd_ratio, f),
            basis=f"3 bootstrap SE over {seeds} networks",
            alternative=0.5,
        ),
    ]
