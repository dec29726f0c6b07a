r"""Grokking as the lazy-to-rich transition: Kumar et al. (ICLR 2024) Fig. 1 in the committee machine.

Protocol (Kumar et al. eqs. 3-7 and the authors' supplementary notebook for Fig. 1): teacher
:math:`\beta_\star \sim N(0, I_D)`, inputs :math:`x \sim N(0, I/D)`, target :math:`y =
(\beta_\star\cdot x)^2/2`; network :math:`f = \frac\alpha N\sum_i\phi(w_i\cdot x)`, :math:`\phi(h) =
h + \frac\epsilon2h^2`, :math:`W_{ij}\sim N(0,1)`; full-batch GD on the centred MSE
:math:`\frac1P\sum(f - f_0 - y)^2` (no 1/2) with learning rate :math:`\eta_0 N/\alpha^2`
(:math:`\eta_0 = 1`: the notebook's ``eta = N / alpha**2``); time in steps (epochs). Fig. 1 uses D =
100, P = 550, N = 500, :math:`\epsilon = 0.02`, :math:`\alpha = 1`, :math:`10^5` epochs and 1000
test points.

``method="reduced"`` (default) integrates the exact :math:`(\bar w, M)` recursion of
:func:`lazyrich.theory.committee_gd` from the statistics of an actual :math:`W_0` of width N (identical to the
network's GD; tested to 1e-10 in float64), at a cost independent of N; ``method="network"`` trains the N x D
weights with :func:`lazyrich.dynamics.models.train_committee`.

Recorded on a log-spaced step grid: train loss, empirical test loss, the three terms of eq. 6 (variance,
misalignment, linear power; their sum is the population test loss), the parameter norm
:math:`\|W\|_F = \sqrt{N\,\mathrm{Tr}M}`, and the NTK-target alignment on the test set (Kumar eq. 5
kernel, column means removed as in the authors' code). The initial-kernel regression test MSE is a
reference level. ``summary`` holds the grokking time :math:`t_{\rm test}(0.1) - t_{\rm train}(0.1)`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks, dynamics, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims import datasets
from lazyrich.sims._analysis import first_crossing
from lazyrich.sims._experiment import Result

NAME = "kumar2024_grokking"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of the grokking run (defaults: Kumar et al. Fig. 1).

    Attributes:
      input_dim: D.
      num_train: P.
      width: N (enters through the initial statistics; the network's cost for ``method="network"``).
      num_test: test points for the empirical test loss and the alignment.
      alpha: output scale (> 0).
      epsilon: quadratic coefficient of the activation.
      learning_rate0: :math:`\\eta_0`; the learning rate is :math:`\\eta_0 N/\\alpha^2`.
      num_steps: GD steps (epochs).
      num_saves: points of the log-spaced save grid (step 0 included).
      threshold: loss level of the grokking time :math:`t(\\theta)`.
      centered: train :math:`f - f_0` (Kumar eq. 7).
      method: ``"reduced"`` (exact sufficient statistics) or ``"network"``.
    """

    input_dim: int = 100
    num_train: int = 550
    width: int = 500
    num_test: int = 1000
    alpha: float = 1.0
    epsilon: float = 0.02
    learning_rate0: float = 1.0
    num_steps: int = 100_000
    num_saves: int = 120
    threshold: float = 0.1
    centered: bool = True
    method: Literal["reduced", "network"] = "reduced"

    def __post_init__(self):
        for name in ("input_dim", "num_train", "width", "num_test", "num_steps"):
            _checks.check_int(name, getattr(self, name), minimum=1)
        _checks.check_int("num_saves", self.num_saves, minimum=2)
        if not np.isfinite(self.alpha) or self.alpha <= 0:
            raise ValueError(f"`alpha` must be > 0, got {self.alpha}.")
        if not np.isfinite(self.epsilon):
            raise ValueError(f"`epsilon` must be finite, got {self.epsilon}.")
        if not np.isfinite(self.learning_rate0) or self.learning_rate0 <= 0:
            raise ValueError(f"`learning_rate0` must be > 0, got {self.learning_rate0}.")
        if not self.threshold > 0:
            raise ValueError(f"`threshold` must be > 0, got {self.threshold}.")
        _checks.check_choice("method", self.method, ("reduced", "network"))


def default_config(*, quick: bool = False) -> Config:
    """Fig. 1 (D = 100, P = 550, N = 500, eps = 0.02, alpha = 1, 1e5 epochs) or a smaller quick run."""
    if quick:
        return Config(
            input_dim=40,
            num_train=240,
            width=200,
            num_test=400,
            epsilon=0.1,
            num_steps=20_000,
            num_saves=80,
        )
    return Config()


def save_grid(num_steps: int, num_saves: int) -> np.ndarray:
    """Step 0 and up to ``num_saves - 1`` log-spaced distinct steps up to ``num_steps`` (strictly increasing;
    duplicates after rounding are dropped, so short runs get fewer points)."""
    steps = np.unique(np.round(np.logspace(0, np.log10(num_steps), num_saves - 1)).astype(np.int64))
    return np.concatenate([[0], steps])


def make_task(config: Config, key: jax.Array):
    """Teacher, train/test data and initial weights of one run (a typed key in, arrays out)."""
    teacher_key, train_key, test_key, init_key = jr.split(key, 4)
    dtype = jnp.result_type(float)
    teacher = jr.normal(teacher_key, (config.input_dim,), dtype)
    x, y = datasets.gaussian_quadratic(train_key, num_points=config.num_train, teacher=teacher)
    x_test, y_test = datasets.gaussian_quadratic(
        test_key, num_points=config.num_test, teacher=teacher
    )
    w0 = jr.normal(init_key, (config.width, config.input_dim), dtype)
    return teacher, x, y, x_test, y_test, w0


def trajectory(config: Config, task, *, alpha, epsilon, save_steps, with_alignment: bool = True):
    """Observables on ``save_steps`` for one task; ``alpha`` and ``epsilon`` may be traced."""
    teacher, x, y, x_test, y_test, w0 = task
    stats0 = theory.committee_statistics(w0)
    f0_train = theory.committee_output(x, *stats0, alpha=alpha, epsilon=epsilon)
    f0_test = theory.committee_output(x_test, *stats0, alpha=alpha, epsilon=epsilon)

    def observe_stats(w_bar, M):
        shift = 1.0 if config.centered else 0.0
        f_train = (
            theory.committee_output(x, w_bar, M, alpha=alpha, epsilon=epsilon) - shift * f0_train
        )
        f_test = (
            theory.committee_output(x_test, w_bar, M, alpha=alpha, epsilon=epsilon)
            - shift * f0_test
        )
        centre = dict(w_bar0=stats0.w_bar, M0=stats0.M) if config.centered else {}
        terms = theory.committee_test_loss_terms(
            w_bar, M, teacher, alpha=alpha, epsilon=epsilon, **centre
        )
        out = {
            "train_loss": jnp.mean((f_train - y) ** 2),
            "test_loss": jnp.mean((f_test - y_test) ** 2),
            "variance": terms[0],
            "misalignment": terms[1],
            "linear_power": terms[2],
            "weight_norm": jnp.sqrt(config.width * jnp.trace(M)),
        }
        if with_alignment:
            out["alignment"] = theory.committee_ntk_alignment(
                x_test, y_test, w_bar, M, epsilon=epsilon
            )
        return out

    kwargs = dict(
        alpha=alpha,
        epsilon=epsilon,
        learning_rate0=config.learning_rate0,
        save_steps=save_steps,
        centered=config.centered,
    )
    if config.method == "reduced":
        return theory.committee_gd(stats0.w_bar, stats0.M, x, y, observe=observe_stats, **kwargs)
    return dynamics.models.train_committee(
        w0, x, y, observe=lambda w: observe_stats(*theory.committee_statistics(w)), **kwargs
    )


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    """One grokking trajectory (Fig. 1) and its summary numbers."""
    steps = save_grid(config.num_steps, config.num_saves)

    @jax.jit
    def compute(key):  # one compiled program: data, trajectory and the kernel-regression reference
        task = make_task(config, key)
        _, x, y, x_test, y_test, w0 = task
        out = trajectory(
            config,
            task,
            alpha=config.alpha,
            epsilon=config.epsilon,
            save_steps=tuple(int(s) for s in steps),
        )
        stats0 = theory.committee_statistics(w0)
        k_train = theory.committee_ntk(x, x, *stats0, epsilon=config.epsilon)
        k_test_train = theory.committee_ntk(x_test, x, *stats0, epsilon=config.epsilon)
        return out, theory.kernel_regression_mse(k_train, k_test_train, y, y_test)

    out, kernel_mse = compute(key)
    out = {k: np.asarray(v) for k, v in out.items()}
    kernel_mse = float(kernel_mse)
    t_train = first_crossing(steps, out["train_loss"], config.threshold)
    t_test = first_crossing(steps, out["test_loss"], config.threshold)
    finite = all(np.all(np.isfinite(v)) for v in out.values())
    summary = {
        "grokking_time": t_test - t_train,
        "t_train": t_train,
        "t_test": t_test,
        "initial_test_loss": float(out["test_loss"][0]),
        "final_train_loss": float(out["train_loss"][-1]),
        "final_test_loss": float(out["test_loss"][-1]),
        "kernel_regression_test_mse": kernel_mse,
        "weight_norm_initial": float(out["weight_norm"][0]),
        "weight_norm_final": float(out["weight_norm"][-1]),
        "alignment_initial": float(out["alignment"][0]),
        "alignment_final": float(out["alignment"][-1]),
        "eq6_final_relative_gap": float(
            abs(
                out["variance"][-1]
                + out["misalignment"][-1]
                + out["linear_power"][-1]
                - out["test_loss"][-1]
            )
            / out["test_loss"][-1]
        ),
    }
    arrays = {"steps": steps, **out}
    metadata = {
        "conventions": {
            "loss": "mean((f - f0 - y)**2), no 1/2 (Kumar et al.)",
            "learning_rate": "eta0 * N / alpha**2",
            "time": "GD steps (epochs)",
            "alignment": "NTK-target alignment on the test set, Kumar eq. 5 kernel, column means removed",
            "grokking_time": "t_test(threshold) - t_train(threshold), first saved step below threshold",
        }
    }
    status = "ok" if finite else "diverged"
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        status=status,
        metadata=metadata,
    )


def checks(result: Result) -> list[an.Check]:
    """Grokking: the test loss crosses the threshold later than the train loss, ends far below the kernel
    (lazy) predictor, while the weights grow and the NTK aligns with the task (Kumar et al., Fig. 1).

    One deterministic trajectory: the delay must exceed the save-grid spacing at ``t_test`` (the resolution
    of the crossing times); the other claims are strict inequalities, the test loss by a factor 10.
    """
    s, steps = result.summary, np.asarray(result.arrays["steps"], float)
    t_test = s["t_test"]
    if np.isfinite(t_test):
        i = int(np.searchsorted(steps, t_test))
        resolution = float(steps[i] - steps[max(i - 1, 0)])
    else:
        resolution = float("nan")
    return [
        an.above(
            "grokking delay t_test - t_train > 0 (steps)",
            s["grokking_time"],
            0.0,
            margin=resolution,
            basis="save-grid spacing at t_test",
        ),
        an.below(
            "final test loss << kernel-regression (lazy) test loss (ratio)",
            s["final_test_loss"] / s["kernel_regression_test_mse"],
            0.1,
            basis="a factor 10",
        ),
        an.above(
            "weight norm grows (final / initial)",
            s["weight_norm_final"] / s["weight_norm_initial"],
            1.0,
            basis="strict",
        ),
        an.above(
            "NTK-target alignment grows (final - initial)",
            s["alignment_final"] - s["alignment_initial"],
            0.0,
            basis="strict",
        ),
    ]
