"""Bordelon & Pehlevan (NeurIPS 2022), Sec. 5 / Fig. 3: loss dynamics and kernel alignment against gamma0.

For each richness ``gamma0`` the training loss and the NTK-target alignment are computed three ways
(Bordelon & Pehlevan Sec. 5, eq. 13): the full DMFT (with response functions A, B), the
gradient-independence ansatz (A = B = 0) and the static NTK (``gamma0 = 0``). A seed ensemble of
finite mean-field networks of width ``net_width`` is the reference. Default: deep linear network
(closed equations, no sampling), ``depth = 3``; ``activation=tanh`` uses the alternating Monte-Carlo
solver.

Summary: ``final_loss`` and ``final_alignment`` as nested mappings ``{method: {gamma0: value}}`` (methods
``full``, ``gia``, ``static``, ``network``); ``loss_error`` ``{method: max over gamma0 and time of
|L_method - L_net| / L_net(0)}``; ``statuses`` of the DMFT solves.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims._experiment import Result
from lazyrich.sims.experiments.bordelon2022_dmft_vs_width import teacher_data, train_networks

NAME = "bordelon2022_dmft_richness"
TRACED = ("gamma0",)
METHODS = ("full", "gia", "static", "network")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings (defaults: full run)."""

    num_train: int = 8
    num_test: int = 4
    input_dim: int = 16
    depth: int = 3
    activation: Literal["linear", "tanh"] = "linear"
    gamma0s: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0)
    gamma0: float = 1.0  # the single point of `point` (sweep protocol; traced)
    t_max: float = 6.0
    num_times: int = 25
    net_width: int = 1000
    num_repeats: int = 3
    num_samples: int = 2000
    response_samples: int = 64
    substeps: int = 2

    def __post_init__(self):
        for name in (
            "num_train",
            "input_dim",
            "depth",
            "net_width",
            "num_samples",
            "response_samples",
            "substeps",
        ):
            _checks.check_int(name, getattr(self, name), minimum=1)
        _checks.check_int("num_test", self.num_test, minimum=0)
        _checks.check_int("num_times", self.num_times, minimum=2)
        _checks.check_int("num_repeats", self.num_repeats, minimum=1)
        if not self.gamma0s or min(self.gamma0s) <= 0:
            raise ValueError(
                f"`gamma0s` must be a non-empty list of positive numbers, got {self.gamma0s}."
            )
        if not np.isfinite(self.gamma0) or self.gamma0 < 0:
            raise ValueError(f"`gamma0` must be a finite number >= 0, got {self.gamma0}.")
        if self.activation not in ("linear", "tanh"):
            raise ValueError(f"`activation` must be 'linear' or 'tanh', got {self.activation!r}.")
        if not self.t_max > 0:
            raise ValueError(f"`t_max` must be > 0, got {self.t_max}.")


def default_config(*, quick: bool = False) -> Config:
    if quick:
        return Config(
            num_train=6,
            num_test=2,
            input_dim=12,
            gamma0s=(0.5, 1.0, 2.0),
            num_times=13,
            net_width=400,
            num_repeats=2,
        )
    return Config()


STATUS_CODES = {0: "converged", 1: "max_iterations", 2: "diverged"}


def _alignment(ntk, y):
    """Kernel-target alignment ``y^T K y / (|K|_F |y|^2)`` on the training block, per time (``(..., T)``)."""
    k = ntk[..., : y.shape[0], : y.shape[0]]
    return jnp.einsum("p,...pq,q->...", y, k, y) / (
        jnp.linalg.norm(k, axis=(-2, -1)) * jnp.dot(y, y)
    )


def point(config: Config, traced: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """One richness ``gamma0`` (traced; sweep protocol): loss and alignment curves of every method.

    Returns ``loss_<method>`` and ``alignment_<method>`` of shape ``(T,)`` for the methods of
    :data:`METHODS`, ``status_full`` / ``status_gia`` (the solver codes) and ``status`` (int32; 0 every solve
    converged, 1 a solve hit ``max_iterations``, 2 a solve diverged or the networks are not finite). The key
    draws the data, the field samples and the network initialisations (shared across ``gamma0``).
    """
    gamma0 = jnp.asarray(traced.get("gamma0", config.gamma0))
    dtype = gamma0.dtype if jnp.issubdtype(gamma0.dtype, jnp.floating) else jnp.result_type(float)
    gamma0 = gamma0.astype(dtype)
    data_key, dmft_key, net_key = jr.split(key, 3)
    x, y, _ = teacher_data(config, data_key, dtype=dtype)
    kx = x @ x.T / config.input_dim
    times = jnp.linspace(0.0, config.t_max, config.num_times, dtype=dtype)
    if config.activation == "linear":
        options = dict(method="linear")
    else:
        options = dict(
            method="deep",
            key=dmft_key,
            num_samples=config.num_samples,
            num_response_samples=min(config.response_samples, config.num_samples),
            response_chunk=min(16, config.response_samples, config.num_samples),
        )
    options.update(depth=config.depth, activation=config.activation)
    # Three solves in one program (vmapping them over the methods is slower on CPU: the batched fixed-point
    # loop runs until its slowest member converges).
    solves = {
        "full": theory.solve_dmft(kx, y, times, gamma0=gamma0, **options),
        "gia": theory.solve_dmft(
            kx, y, times, gamma0=gamma0, gradient_independence=True, **options
        ),
        "static": theory.solve_dmft(kx, y, times, gamma0=0.0 * gamma0, **options),
    }
    nets = train_networks(
        x,
        y,
        times,
        gamma0=gamma0,
        width=config.net_width,
        depth=config.depth,
        activation=config.activation,
        num_repeats=config.num_repeats,
        key=net_key,
        substeps=config.substeps,
    )
    out = {}
    for name, res in solves.items():
        out[f"loss_{name}"] = 0.5 * jnp.mean(res.delta_train**2, axis=-1)
        out[f"alignment_{name}"] = _alignment(res.ntk, y)
    out["loss_network"] = jnp.mean(0.5 * jnp.mean((y - nets["f_train"]) ** 2, axis=-1), axis=0)
    out["alignment_network"] = jnp.mean(_alignment(nets["ntk"], y), axis=0)
    status = jnp.maximum(
        jnp.maximum(solves["full"].status, solves["gia"].status), solves["static"].status
    )
    finite = jnp.all(jnp.isfinite(out["loss_network"])) & jnp.all(
        jnp.isfinite(out["alignment_network"])
    )
    out["status_full"] = solves["full"].status.astype(jnp.int32)
    out["status_gia"] = solves["gia"].status.astype(jnp.int32)
    out["status"] = jnp.where(finite, status, 2).astype(jnp.int32)
    return out


def summarise(config: Config, gamma0s, curves: dict[str, np.ndarray], metadata=None) -> Result:
    """The figure's :class:`Result` from per-``gamma0`` curves (shared by :func:`run` and sweeps).

    Args:
      gamma0s: shape ``(G,)``.
      curves: the outputs of :func:`point` stacked over ``gamma0`` (``(G, T)`` curves, ``(G,)`` statuses).
    """
    gamma0s = np.asarray(gamma0s, float)
    arrays = {
        "times": np.linspace(0.0, config.t_max, config.num_times),
        "gamma0s": gamma0s,
    }
    for m in METHODS:
        arrays[f"loss_{m}"] = np.asarray(curves[f"loss_{m}"])  # (G, T)
        arrays[f"alignment_{m}"] = np.asarray(curves[f"alignment_{m}"])  # (G, T)
    keys = [f"{g:g}" for g in gamma0s]
    loss0 = arrays["loss_network"][:, :1]
    statuses = {
        m: [STATUS_CODES.get(int(c), "missing") for c in np.ravel(curves[f"status_{m}"])]
        for m in ("full", "gia")
    }
    summary = {
        "final_loss": {m: dict(zip(keys, arrays[f"loss_{m}"][:, -1].tolist())) for m in METHODS},
        "final_alignment": {
            m: dict(zip(keys, arrays[f"alignment_{m}"][:, -1].tolist())) for m in METHODS
        },
        "loss_error": {
            m: float(np.max(np.abs(arrays[f"loss_{m}"] - arrays["loss_network"]) / loss0))
            for m in ("full", "gia", "static")
        },
        "statuses": statuses,
    }
    bad = [s for v in statuses.values() for s in v if s != "converged"]
    status = "ok" if not bad else f"DMFT not converged at some gamma0: {sorted(set(bad))}"
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        status=status,
        metadata={
            "loss": "(1/2P) sum (f - y)^2",
            "alignment": "y^T K y / (|K|_F |y|^2) on training points",
            **(metadata or {}),
        },
    )


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    """Every ``gamma0`` through one compiled :func:`point` (``gamma0`` traced), in float64."""
    del progress  # one short call per gamma0
    with jax.enable_x64(True):
        gammas = jnp.asarray(config.gamma0s, jnp.float64)
        # One compiled point (gamma0 traced) per gamma0: the vmapped grid as one program wedged XLA's CPU
        # runtime under its concurrency-optimised scheduler (jax 0.10.2, 2 cores: no progress after 300 s at
        # ~20 s of CPU time; see lazyrich/_xla_flags.py, which the command line applies). The loop also runs
        # where that flag is not set (e.g. a notebook); the three calls take ~11 s in all, compile included.
        one = jax.jit(lambda g: point(config, {"gamma0": g}, key))
        outs = [one(g) for g in gammas]
        curves = {k: np.stack([np.asarray(o[k]) for o in outs]) for k in outs[0]}
    return summarise(config, config.gamma0s, curves)


def result_from_dataset(config: Config, ds) -> Result:
    """The figure's :class:`Result` from a finished sweep over ``gamma0`` (curves averaged over ``seed``)."""
    if "gamma0" not in ds.dims:
        raise ValueError(
            f"a dmft-richness sweep needs a `gamma0` axis, got dimensions {list(ds.dims)}."
        )
    curves = {}
    for name in ds.data_vars:
        var = ds[name]
        if "seed" in var.dims:
            var = var.max("seed") if name.startswith("status") else var.mean("seed")
        curves[name] = np.asarray(var.transpose("gamma0", ...).values)
    return summarise(
        config,
        ds["gamma0"].values,
        curves,
        metadata={"sweep_dims": list(ds.dims), "seeds_averaged": int(ds.sizes.get("seed", 1))},
    )


def checks(result: Result) -> list[an.Check]:
    """Richness speeds training and aligns the NTK (full DMFT); the full DMFT tracks the networks, A = B = 0
    does not.

    The DMFT claims are exact orderings of deterministic solves (linear) or of Monte Carlo solves whose
    sampling error is far below the gaps; the network comparison allows finite-width fluctuations of the
    loss of relative size ``3 / sqrt(N * repeats)`` (fluctuations of mean-field networks are O(N^-1/2),
    averaged over the repeats); the gradient-independence ansatz (A = B = 0) is the alternative.
    """
    config, a, s = result.config, result.arrays, result.summary
    gammas = np.asarray(a["gamma0s"], float)
    out = []
    for quantity, increasing, claim in (
        ("loss", False, "final loss decreases with gamma0 (full DMFT)"),
        ("alignment", True, "final K-y alignment increases with gamma0 (full DMFT)"),
    ):
        y = a[f"{quantity}_full"][:, -1]
        out.append(an.monotone(claim, gammas, y, increasing=increasing))
    out.append(
        an.rank_trend(
            "final K-y alignment increases with gamma0 (networks; Spearman)",
            gammas,
            a["alignment_network"][:, -1],
            increasing=True,
        )
    )
    tol = 3 / np.sqrt(config.net_width * config.num_repeats)
    out.append(
        an.close(
            "full DMFT tracks the networks (max relative loss error)",
            s["loss_error"]["full"],
            0.0,
            tol,
            basis=f"3 / sqrt(N x repeats), N = {config.net_width}, {config.num_repeats} repeats",
            alternative=s["loss_error"]["gia"],
        )
    )
    return out
