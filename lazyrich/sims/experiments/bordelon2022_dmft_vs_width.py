"""Bordelon & Pehlevan (NeurIPS 2022): finite-width mean-field networks approach the DMFT as the width grows.

Two-layer (``depth=1``) and deep (``deep_depth=3``, tanh) mean-field networks (Bordelon & Pehlevan
eqs. 1-4; centred output, loss ``(1/2P) sum (f - y)^2``, gradient flow ``d theta/dt = -gamma0^2 N
grad L``) are trained by RK4 gradient flow at several widths ``N`` with ``num_repeats``
initialisations each, and compared with :func:`lazyrich.theory.solve_dmft` (two-layer: sampled
single-neuron process; deep: alternating Monte Carlo). Inputs are Gaussian, normalised to ``|x|^2 =
D``; targets ``y = sign(beta . x)`` for a random teacher.

Summary:
  ``error_slope``: slope of log(mean over repeats of the final-NTK relative error of single networks) against
  log N, two-layer case (theory: -0.5, finite-width fluctuations); ``deep_error_slope`` the same for the deep
  case; ``static_limit_error``: max |f_DMFT - f_NTK| over time and points at ``gamma0 = small_gamma0``
  (two-layer and deep), with ``f_NTK`` from :func:`lazyrich.theory.mse_gradient_flow` and
  :func:`lazyrich.theory.mlp_kernels`; ``delta_error_largest_width``: max over time of the relative error of the
  seed-averaged residual at the largest width; ``deep_status``: the deep solver's stop reason.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks, dynamics, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims._analysis import loglog_fit
from lazyrich.sims._experiment import Result, progress_bar

NAME = "bordelon2022_dmft_vs_width"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings (defaults: full run; see :func:`default_config` for the quick one)."""

    num_train: int = 8
    num_test: int = 4
    input_dim: int = 16
    gamma0: float = 1.0
    t_max: float = 8.0
    num_times: int = 33
    widths: tuple[int, ...] = (250, 500, 1000, 2000, 4000)
    num_repeats: int = 4
    num_samples: int = 50_000
    deep_depth: int = 3
    deep_widths: tuple[int, ...] = (250, 500, 1000, 2000)
    deep_num_times: int = 17
    deep_num_samples: int = 2_000
    deep_response_samples: int = 128
    small_gamma0: float = 1e-3
    substeps: int = 2

    def __post_init__(self):
        for name in (
            "num_train",
            "input_dim",
            "num_samples",
            "deep_num_samples",
            "deep_response_samples",
            "substeps",
        ):
            _checks.check_int(name, getattr(self, name), minimum=1)
        _checks.check_int("num_test", self.num_test, minimum=0)
        for name in ("num_times", "deep_num_times", "num_repeats"):
            _checks.check_int(name, getattr(self, name), minimum=2)
        for name in ("widths", "deep_widths"):
            widths = getattr(self, name)
            if len(widths) < 2 or min(widths) < 1:
                raise ValueError(f"`{name}` needs at least two positive widths, got {widths}.")
        if self.deep_depth < 0:
            raise ValueError(
                f"`deep_depth` must be >= 0 (0 skips the deep case), got {self.deep_depth}."
            )
        if not self.gamma0 > 0 or not self.small_gamma0 >= 0 or not self.t_max > 0:
            raise ValueError(
                f"`gamma0` and `t_max` must be > 0 and `small_gamma0` >= 0, got {self.gamma0}, {self.t_max}, "
                f"{self.small_gamma0}."
            )


def default_config(*, quick: bool = False) -> Config:
    if quick:
        return Config(
            num_train=4,
            num_test=2,
            input_dim=8,
            t_max=4.0,
            num_times=9,
            widths=(100, 400, 1600),
            num_repeats=2,
            num_samples=8_000,
            deep_widths=(100, 400),
            deep_num_times=7,
            deep_num_samples=600,
            deep_response_samples=32,
        )
    return Config()


def teacher_data(config, key, *, dtype=jnp.float64):
    """Gaussian inputs with ``|x|^2 = D`` (train then test) and ``y = sign(beta . x)`` (float64 default)."""
    kx_key, kb_key = jr.split(key)
    num = config.num_train + config.num_test
    x = jr.normal(kx_key, (num, config.input_dim), dtype)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True) * jnp.sqrt(float(config.input_dim))
    beta = jr.normal(kb_key, (config.input_dim,), dtype)
    y = jnp.sign(x @ beta)
    return x, y[: config.num_train], y[config.num_train :]


def train_networks(
    x, y_train, times, *, gamma0, width, depth, activation, num_repeats, key, substeps
):
    """Seed ensemble of centred mean-field networks; dict of ``(E, T, ...)`` arrays."""
    num_train = y_train.shape[0]

    def one(k):
        params = dynamics.models.meanfield_mlp_init(
            k, input_dim=x.shape[1], width=width, depth=depth, dtype=x.dtype
        )
        out = dynamics.models.train_meanfield_gradient_flow(
            params,
            x[:num_train],
            y_train,
            x[num_train:],
            times,
            gamma0=gamma0,
            activation=activation,
            substeps=substeps,
        )
        out.pop("params")
        return out

    return jax.lax.map(one, jr.split(key, num_repeats))


def _rel(a, b, axes):
    return np.linalg.norm(a - b, axis=axes) / np.linalg.norm(b, axis=axes)


def _slope(widths, errors):
    return loglog_fit(widths, errors).slope


def _static_error(res, x, y, depth):
    num_train = y.shape[0]
    # mlp_kernels integrates tanh (a callable there) by Gauss-Hermite quadrature
    k = theory.mlp_kernels(
        x, depth=depth, activation=jnp.tanh, weight_std=1.0, bias_std=0.0, quadrature_degree=96
    ).ntk
    f_train, f_test = theory.mse_gradient_flow(
        k[:num_train, :num_train], y, res.times, k_test_train=k[num_train:, :num_train]
    )
    err = np.max(np.abs(np.asarray(res.f_train - f_train)))
    if f_test is not None and f_test.size:
        err = max(err, float(np.max(np.abs(np.asarray(res.f_test - f_test)))))
    return float(err)


def _compare(name, res, x, y, times, widths, config, depth, key, progress):
    arrays = {}
    losses, kernels, k_err, d_err = [], [], [], []
    for i, width in enumerate(progress_bar(widths, desc=f"{name} widths", enabled=progress)):
        out = train_networks(
            x,
            y,
            times,
            gamma0=config.gamma0,
            width=width,
            depth=depth,
            activation="tanh",
            num_repeats=config.num_repeats,
            key=jr.fold_in(key, i),
            substeps=config.substeps,
        )
        delta = np.asarray(y - out["f_train"])  # (E, T, P)
        losses.append(0.5 * np.mean(delta**2, axis=-1))
        ntk = np.asarray(out["ntk"])
        kernels.append(ntk[:, -1])
        k_err.append(_rel(ntk[:, -1], np.asarray(res.ntk[-1])[None], (1, 2)))
        d_err.append(np.max(_rel(delta.mean(0), np.asarray(res.delta_train), 1)))
    arrays[f"{name}_times"] = np.asarray(times)
    arrays[f"{name}_widths"] = np.asarray(widths)
    arrays[f"{name}_net_loss"] = np.stack(losses)  # (W, E, T)
    arrays[f"{name}_net_kernel"] = np.stack(kernels)  # (W, E, P', P')
    arrays[f"{name}_kernel_error"] = np.stack(k_err)  # (W, E)
    arrays[f"{name}_delta_error"] = np.asarray(d_err)  # (W,)
    arrays[f"{name}_dmft_loss"] = 0.5 * np.mean(np.asarray(res.delta_train) ** 2, axis=-1)
    arrays[f"{name}_dmft_kernel"] = np.asarray(res.ntk[-1])
    return arrays


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    data_key, dmft_key, net_key = jr.split(key, 3)
    with jax.enable_x64(True):
        x, y, _ = teacher_data(config, data_key)
        kx = x @ x.T / config.input_dim
        times = jnp.linspace(0.0, config.t_max, config.num_times)
        res = theory.solve_dmft(
            kx,
            y,
            times,
            gamma0=config.gamma0,
            key=dmft_key,
            num_samples=config.num_samples,
            two_time=False,
        )
        arrays = _compare(
            "two_layer", res, x, y, times, config.widths, config, 1, net_key, progress
        )
        static = theory.solve_dmft(
            kx,
            y,
            times,
            gamma0=config.small_gamma0,
            key=dmft_key,
            num_samples=config.num_samples,
            two_time=False,
        )
        static_err = _static_error(static, x, y, 1)
        summary = {
            "error_slope": _slope(config.widths, arrays["two_layer_kernel_error"].mean(axis=1)),
            "delta_error_largest_width": float(arrays["two_layer_delta_error"][-1]),
            "kernel_error_largest_width": float(arrays["two_layer_kernel_error"][-1].mean()),
            "kernel_change": float(
                np.linalg.norm(res.ntk[-1] - res.ntk[0]) / np.linalg.norm(res.ntk[0])
            ),
        }
        status = "ok"
        if config.deep_depth >= 1:
            deep_times = jnp.linspace(0.0, config.t_max, config.deep_num_times)
            deep_kwargs = dict(
                depth=config.deep_depth,
                key=dmft_key,
                method="deep",
                num_samples=config.deep_num_samples,
                num_response_samples=min(config.deep_response_samples, config.deep_num_samples),
                response_chunk=min(16, config.deep_response_samples, config.deep_num_samples),
            )
            deep = theory.solve_dmft(kx, y, deep_times, gamma0=config.gamma0, **deep_kwargs)
            arrays.update(
                _compare(
                    "deep",
                    deep,
                    x,
                    y,
                    deep_times,
                    config.deep_widths,
                    config,
                    config.deep_depth,
                    jr.fold_in(net_key, 99),
                    progress,
                )
            )
            deep_static = theory.solve_dmft(
                kx, y, deep_times, gamma0=config.small_gamma0, **deep_kwargs
            )
            static_err = max(static_err, _static_error(deep_static, x, y, config.deep_depth))
            summary["deep_error_slope"] = _slope(
                config.deep_widths, arrays["deep_kernel_error"].mean(axis=1)
            )
            summary["deep_delta_error_largest_width"] = float(arrays["deep_delta_error"][-1])
            summary["deep_status"] = theory.dmft_status_name(deep.status)
            summary["deep_iterations"] = int(deep.num_iterations)
            arrays["deep_history"] = np.asarray(deep.history)
            if int(deep.status) != 0:
                status = f"deep DMFT {theory.dmft_status_name(deep.status)}"
        summary["static_limit_error"] = static_err
    metadata = {
        "loss": "(1/2P) sum (f - y)^2; time = gradient-flow time with d theta/dt = -gamma0^2 N grad L",
        "kernel_error": "||K_net(t_max) - K_DMFT(t_max)||_F / ||K_DMFT(t_max)||_F for single networks",
    }
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        status=status,
        metadata=metadata,
    )


def _expected_error_slope(widths, num_samples) -> float:
    """Slope of ``sqrt(1/N + 1/S)`` against ``N`` over ``widths``: width-N fluctuations plus the DMFT's own
    Monte Carlo error over ``S = num_samples`` sampled neurons (an independent error of a width-S average)."""
    widths = np.asarray(widths, float)
    return loglog_fit(widths, np.sqrt(1 / widths + 1 / num_samples)).slope


def checks(result: Result) -> list[an.Check]:
    """Final-NTK error ~ N^-1/2 (two-layer and deep), and DMFT = static NTK as gamma0 -> 0.

    The slope is fitted through every single network (width x repeat) so that its standard error follows
    from the scatter of independent networks (``n - 2`` degrees of freedom); the expected value is the slope
    of ``sqrt(1/N + 1/S)`` (the DMFT's sampling error acts as a width-S floor). Tolerance 3 SE; the
    alternative is the bias law 1/N. The static-limit error is a feature-learning effect of order
    ``small_gamma0^2`` (times targets of size 1).
    """
    config, a, s = result.config, result.arrays, result.summary
    out = []
    for name, samples, label in (
        ("two_layer", config.num_samples, "two-layer"),
        ("deep", config.deep_num_samples, "deep"),
    ):
        if f"{name}_widths" not in a:
            continue
        widths, err = np.asarray(a[f"{name}_widths"], float), np.asarray(a[f"{name}_kernel_error"])
        fit = loglog_fit(np.repeat(widths, err.shape[1]), err.ravel())
        claim = f"final NTK error ~ N^-1/2 ({label}; slope)"
        if not np.isfinite(fit.stderr):
            out.append(an.untestable(claim, "fewer than 3 networks", measured=fit.slope))
            continue
        out.append(
            an.close(
                claim,
                fit.slope,
                _expected_error_slope(widths, samples),
                3 * fit.stderr,
                basis=f"3 SE over {fit.num_points} networks; expected slope of sqrt(1/N + 1/S), S = "
                f"{samples} DMFT samples",
                alternative=-1.0,
            )
        )
    out.append(
        an.below(
            f"DMFT = static NTK at gamma0 = {config.small_gamma0:g} (max |f_DMFT - f_NTK|)",
            s["static_limit_error"],
            max(config.small_gamma0, 1e-6),
            basis="feature learning changes f by O(gamma0^2) (bounded here by gamma0, which leaves room "
            "for the time-stepping error); 1e-6 floor",
        )
    )
    return out
