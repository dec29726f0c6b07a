r"""Learning curves of NNGP and NTK regression and their spectral prediction.

Kernel regression with the infinite-width NNGP and NTK of a ReLU MLP (``depth`` hidden layers,
NTK parameterisation) is run on ``num_train`` = n training points (``num_seeds`` nested draws: the
set of size n is the first n points of the seed's largest set) and its
test error :math:`E_g(n) = \langle (f(x) - y(x))^2\rangle` measured on ``num_test`` points. Beside
it, the error predicted from the kernel's eigenspectrum alone (Bordelon, Canatar & Pehlevan 2020;
Canatar, Bordelon & Pehlevan 2021; :func:`lazyrich.theory.learning_curve`) with the eigenvalues and
target coefficients estimated on ``spectrum_size`` = M samples (:func:`lazyrich.theory.
empirical_spectrum`). Both curves are power laws over the range; the summary records their fitted
exponents (``exponent_fit``, from the measured errors, and ``exponent_theory``, from the predicted
ones, per kernel) and the largest n run.

Data (``data``): ``"teacher"`` (default, CPU-sized): inputs uniform on the sphere of radius
:math:`\sqrt{d}` in ``input_dim`` dimensions, target a fixed random one-hidden-layer ReLU network
of width ``teacher_width``, no noise; ``"digits"`` (bundled 8x8 digits, parity labels),
``"mnist"`` / ``"cifar10"`` (parity / animals-vs-vehicles labels, official files under
``data_dir``), where the "population" is a pool drawn once: the spectrum is estimated on M pool
points and training sets are drawn from the rest.

The checks: (1) the claim, the fitted exponents agree with the predicted ones within ``3 x`` their
seed-to-seed standard error plus 0.15, the allowance for the theory's finite-n and finite-M bias
(the theory is exact as n, M grow; a law off by 0.5 in the exponent fails); (2) a sanity check of
the magnitude, measured and predicted errors agree within a factor 3 in geometric mean over n.
With the spectrum estimated on M = 8n samples the theory underestimates the error (the tail of the
sample spectrum is too flat), by a factor up to 2-3 at the reduced size of the tests (3 seeds,
M = 1024) and less at larger M (about 1.1-2 at M = 2048, n <= 512, 4 seeds). ``spectrum_size`` must
be >= 8 max(n).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import theory
from lazyrich.sims import _analysis as an
from lazyrich.sims import datasets
from lazyrich.sims._experiment import Result, progress_bar

NAME = "kernel_learning_curves"
DATA = ("teacher", "digits", "mnist", "cifar10")
KERNELS = ("nngp", "ntk")
SLOPE_ALLOWANCE = 0.15
RATIO_ALLOWANCE = 3.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of the kernel learning-curve experiment."""

    data: str = "teacher"
    data_dir: str = ""
    input_dim: int = 3
    teacher_width: int = 64
    depth: int = 2
    weight_std: float = 1.0
    bias_std: float = 0.0
    num_train: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512, 1024)
    num_seeds: int = 4
    num_test: int = 1000
    spectrum_size: int = 8192
    diag_reg: float = 1e-8

    def __post_init__(self):
        if self.data not in DATA:
            raise ValueError(f"`data` must be one of {DATA}, got {self.data!r}.")
        if self.data in ("mnist", "cifar10") and not self.data_dir:
            raise ValueError(
                f"`data_dir` must name the folder with the official {self.data} files."
            )
        sizes = tuple(self.num_train)
        if len(set(sizes)) < 3 or min(sizes) < 2 or list(sizes) != sorted(set(sizes)):
            raise ValueError(
                f"`num_train` must hold at least three increasing sizes >= 2, got {sizes}."
            )
        if self.spectrum_size < 8 * max(sizes):
            raise ValueError(
                f"`spectrum_size` must be at least 8 x the largest `num_train` {max(sizes)} (the "
                f"theory needs the spectrum well beyond n), got {self.spectrum_size}."
            )
        for name in ("num_seeds", "num_test", "input_dim", "teacher_width"):
            if getattr(self, name) < 1 or (name == "num_seeds" and self.num_seeds < 2):
                raise ValueError(f"`{name}` must be >= {2 if name == 'num_seeds' else 1}.")
        if self.depth < 1:
            raise ValueError(f"`depth` must be >= 1, got {self.depth}.")
        if self.diag_reg < 0 or self.bias_std < 0 or not self.weight_std > 0:
            raise ValueError("`diag_reg` and `bias_std` must be >= 0 and `weight_std` > 0.")
        if self.data == "digits":
            need = self.spectrum_size + max(sizes) + self.num_test
            if need > 1797:
                raise ValueError(
                    f"digits has 1797 points: `spectrum_size` + max(`num_train`) + `num_test` "
                    f"must be <= 1797, got {need}."
                )


def default_config(*, quick: bool = False) -> Config:
    if quick:
        return Config(
            num_train=(4, 8, 16, 32, 64, 128, 256),
            num_seeds=3,
            num_test=500,
            spectrum_size=2048,
        )
    return Config()


def _sphere(key, n, d):
    x = jax.random.normal(key, (n, d), jnp.float64)
    return x / jnp.linalg.norm(x, axis=1, keepdims=True) * jnp.sqrt(d)


def _sampler(config: Config, key):
    """``draw(key, n) -> (x, y)`` of training sets, the spectrum sample and the test set."""
    if config.data == "teacher":
        kw, ka, km, kt = jax.random.split(key, 4)
        d, h = config.input_dim, config.teacher_width
        w = jax.random.normal(kw, (d, h), jnp.float64)
        a = jax.random.normal(ka, (h,), jnp.float64)

        def teacher(x):
            return jnp.maximum(x @ w / jnp.sqrt(d), 0.0) @ a / jnp.sqrt(h)

        def draw(k, n):
            x = _sphere(k, n, d)
            return x, teacher(x)

        return draw, draw(km, config.spectrum_size), draw(kt, config.num_test)
    pool_size = config.spectrum_size + max(config.num_train) + config.num_test
    kp, _ = jax.random.split(key)
    if config.data == "digits":
        x, y, _, _ = datasets.digits_parity(num_train=pool_size, num_test=0, key=kp)
    elif config.data == "mnist":
        x, y, _, _ = datasets.mnist_parity(config.data_dir, num_train=pool_size, num_test=0, key=kp)
    else:
        x, y, _, _ = datasets.cifar_animals(
            config.data_dir, num_train=pool_size, num_test=0, key=kp, flatten=True
        )
    x, y = jnp.asarray(x, jnp.float64), jnp.asarray(y, jnp.float64)
    m, q = config.spectrum_size, config.num_test
    rest_x, rest_y = x[m:-q], y[m:-q]

    def draw(k, n):
        idx = jax.random.choice(k, rest_x.shape[0], (n,), replace=False)
        return rest_x[idx], rest_y[idx]

    return draw, (x[:m], y[:m]), (x[-q:], y[-q:])


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    with jax.enable_x64(True):
        return _run(config, key, progress)


def _run(config: Config, key, progress):
    k_task, k_train = jax.random.split(key)
    draw, (x_m, y_m), (x_test, y_test) = _sampler(config, k_task)
    kernel_fn = theory.mlp_kernel_fn(
        depth=config.depth, weight_std=config.weight_std, bias_std=config.bias_std
    )
    sizes = np.array(config.num_train)
    errors = {g: np.zeros((config.num_seeds, len(sizes))) for g in KERNELS}
    # Nested training sets: seed s draws max(n) points and the set of size n is their first n
    # (the usual learning-curve protocol); one kernel per seed serves every n.
    for seed in progress_bar(
        range(config.num_seeds), desc="kernel-learning-curves", enabled=progress
    ):
        x, y = draw(jax.random.fold_in(k_train, seed), int(sizes.max()))
        k_dd, k_td = kernel_fn(x), kernel_fn(x_test, x)
        for i, n in enumerate(int(v) for v in sizes):
            pred = theory.predict(
                y[:n],
                k_train_train=theory.Kernels(k_dd.nngp[:n, :n], k_dd.ntk[:n, :n]),
                k_test_train=theory.Kernels(k_td.nngp[:, :n], k_td.ntk[:, :n]),
                diag_reg=config.diag_reg,
            )
            for g in KERNELS:
                errors[g][seed, i] = float(jnp.mean((getattr(pred, g).mean - y_test) ** 2))
    arrays = {"num_train": sizes}
    summary = {
        "exponent_fit": {},
        "exponent_theory": {},
        "exponent_fit_se": {},
        "mean_ratio": {},
        "largest_n": int(sizes.max()),
        "checks": [],
    }
    for g in KERNELS:
        k_mm = getattr(kernel_fn(x_m, get=g), g)
        eta, v = theory.empirical_spectrum(k_mm, y_m)
        ridge = config.diag_reg * float(jnp.mean(jnp.diagonal(k_mm)))
        predicted = theory.learning_curve(eta, v, sizes, ridge=ridge)
        mean = errors[g].mean(axis=0)
        per_seed = [theory.power_law_exponent(sizes, e) for e in errors[g]]
        fit, pred_slope = (theory.power_law_exponent(sizes, e) for e in (mean, predicted))
        se = float(np.std(per_seed, ddof=1) / np.sqrt(config.num_seeds))
        ratio = float(np.exp(np.mean(np.abs(np.log(mean / predicted)))))
        arrays[f"test_error_{g}"] = errors[g]
        arrays[f"theory_{g}"] = predicted
        arrays[f"eigenvalues_{g}"] = eta[: 4 * int(sizes.max())]
        summary["exponent_fit"][g] = fit
        summary["exponent_theory"][g] = pred_slope
        summary["exponent_fit_se"][g] = se
        summary["mean_ratio"][g] = ratio
        tol = 3 * se + SLOPE_ALLOWANCE
        summary["checks"] += [
            {
                "claim": f"{g}: learning-curve exponent = spectral theory's",
                "measured": fit,
                "theory": pred_slope,
                "tolerance": tol,
                "passed": bool(abs(fit - pred_slope) <= tol),
            },
            {
                "claim": f"{g}: measured / predicted error within a factor "
                f"{RATIO_ALLOWANCE:g} (geometric mean over n)",
                "measured": ratio,
                "theory": 1.0,
                "tolerance": RATIO_ALLOWANCE,
                "passed": bool(ratio <= RATIO_ALLOWANCE),
            },
        ]
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        metadata={
            "error": "mean over test points of (f(x) - y(x))^2, per seed",
            "ridge": "diag_reg * mean(diag K), the same in regression and theory",
        },
    )


def checks(result: Result) -> list[an.Check]:
    """The figure's checks (the records of ``summary["checks"]`` as :class:`lazyrich.sims.Check`).

    Per kernel: the fitted learning-curve exponent agrees with the spectral theory's within 3 standard
    errors of the fit plus ``SLOPE_ALLOWANCE`` (the wrong law ``n^-1`` as the alternative), and the
    measured error is within a factor ``RATIO_ALLOWANCE`` of the predicted one (geometric mean over n).
    """
    s = result.summary
    out = []
    for g in s["exponent_fit"]:
        tol = 3 * s["exponent_fit_se"][g] + SLOPE_ALLOWANCE
        out.append(
            an.close(
                f"{g}: learning-curve exponent = spectral theory's",
                s["exponent_fit"][g],
                s["exponent_theory"][g],
                tol,
                basis=f"3 seed-to-seed SE ({result.config.num_seeds} seeds) + {SLOPE_ALLOWANCE:g}",
                alternative=-1.0,
            )
        )
        out.append(
            an.below(
                f"{g}: measured / predicted error within a factor {RATIO_ALLOWANCE:g}",
                s["mean_ratio"][g],
                RATIO_ALLOWANCE,
                basis="geometric mean over n; the theory's finite-spectrum bias",
            )
        )
    return out
