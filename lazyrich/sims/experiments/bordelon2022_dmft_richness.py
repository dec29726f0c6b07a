"""Bordelon & Pehlevan (NeurIPS 2022), Sec. 5 / Fig. 3: loss dynamics and kernel alignment against gamma0.

For each richness ``gamma0`` the training loss and the NTK-target alignment are computed three ways
(papers.md §6.5): the full DMFT (with response functions A, B), the gradient-independence ansatz (A = B = 0)
and the static NTK (``gamma0 = 0``). A seed ensemble of finite mean-field networks of width ``net_width`` is
the reference. Default: deep linear network (closed equations, no sampling), ``depth = 3``; ``activation=tanh``
uses the alternating Monte-Carlo solver.

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

from lazyrich import theory
from lazyrich.sims._experiment import Result, progress_bar
from lazyrich.sims.experiments.bordelon2022_dmft_vs_width import teacher_data, train_networks

NAME = "bordelon2022_dmft_richness"
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
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, got {getattr(self, name)}.")
        if self.num_test < 0:
            raise ValueError(f"`num_test` must be >= 0, got {self.num_test}.")
        if self.num_times < 2 or self.num_repeats < 1:
            raise ValueError(
                f"`num_times` must be >= 2 and `num_repeats` >= 1, got {self.num_times}, "
                f"{self.num_repeats}."
            )
        if not self.gamma0s or min(self.gamma0s) <= 0:
            raise ValueError(
                f"`gamma0s` must be a non-empty list of positive numbers, got {self.gamma0s}."
            )
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


def _alignment(ntk, y):
    """Kernel-target alignment ``y^T K y / (|K|_F |y|^2)`` on the training block, per time."""
    k = ntk[:, : y.shape[0], : y.shape[0]]
    return np.einsum("p,tpq,q->t", y, k, y) / (np.linalg.norm(k, axis=(1, 2)) * np.dot(y, y))


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    data_key, dmft_key, net_key = jr.split(key, 3)
    losses = {m: [] for m in METHODS}
    aligns = {m: [] for m in METHODS}
    statuses = {"full": [], "gia": []}
    with jax.enable_x64(True):
        x, y, _ = teacher_data(config, data_key)
        y_np = np.asarray(y)
        kx = x @ x.T / config.input_dim
        times = jnp.linspace(0.0, config.t_max, config.num_times)
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
        common = dict(depth=config.depth, activation=config.activation, **options)
        static = theory.solve_dmft(kx, y, times, gamma0=0.0, **common)
        for i, gamma0 in enumerate(progress_bar(config.gamma0s, desc="gamma0", enabled=progress)):
            full = theory.solve_dmft(kx, y, times, gamma0=gamma0, **common)
            gia = theory.solve_dmft(
                kx, y, times, gamma0=gamma0, gradient_independence=True, **common
            )
            nets = train_networks(
                x,
                y,
                times,
                gamma0=gamma0,
                width=config.net_width,
                depth=config.depth,
                activation=config.activation,
                num_repeats=config.num_repeats,
                key=jr.fold_in(net_key, i),
                substeps=config.substeps,
            )
            for name, res in (("full", full), ("gia", gia), ("static", static)):
                losses[name].append(0.5 * np.mean(np.asarray(res.delta_train) ** 2, axis=-1))
                aligns[name].append(_alignment(np.asarray(res.ntk), y_np))
            statuses["full"].append(theory.dmft_status_name(full.status))
            statuses["gia"].append(theory.dmft_status_name(gia.status))
            delta = np.asarray(y - nets["f_train"])
            losses["network"].append(np.mean(0.5 * np.mean(delta**2, axis=-1), axis=0))
            aligns["network"].append(
                np.mean([_alignment(k, y_np) for k in np.asarray(nets["ntk"])], axis=0)
            )
    arrays = {"times": np.asarray(times), "gamma0s": np.asarray(config.gamma0s)}
    for m in METHODS:
        arrays[f"loss_{m}"] = np.stack(losses[m])  # (G, T)
        arrays[f"alignment_{m}"] = np.stack(aligns[m])  # (G, T)
    keys = [f"{g:g}" for g in config.gamma0s]
    loss0 = arrays["loss_network"][:, :1]
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
    metadata = {
        "loss": "(1/2P) sum (f - y)^2",
        "alignment": "y^T K y / (|K|_F |y|^2) on training points",
    }
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary=summary,
        status=status,
        metadata=metadata,
    )
