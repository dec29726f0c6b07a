r"""Noisy gradient descent on a quadratic: a tiny experiment that exercises the sweep machinery.

The loss is :math:`L(w) = \frac12 \sum_{i=1}^{D} h_i w_i^2` with Hessian eigenvalues
:math:`h_i` spaced linearly in ``[h_min, 1]``, and the update is the Euler--Maruyama step of Langevin dynamics

.. math::
    w_{t+1} = w_t - \eta\, h \odot w_t + \sqrt{2 \eta T}\, \xi_t, \qquad \xi_t \sim \mathcal N(0, I_D),

from :math:`w_0 \sim \mathcal N(0, I_D)`. Each mode contracts by :math:`|1 - \eta h_i|` per step, so the run
diverges for :math:`\eta > 2 / \max_i h_i = 2`; the stationary loss at small :math:`\eta` is
:math:`D T / 2` (equipartition). ``learning_rate`` and ``temperature`` are traced (see the sweep protocol in
:mod:`lazyrich.sims`), ``dim`` and ``num_steps`` are static.

A diverged run (non-finite or exploding loss) freezes its state, reports NaN losses from then on and status 2.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import dynamics
from lazyrich._status import Status
from lazyrich.sims._experiment import Result

NAME = "toy_quadratic"
TRACED = ("learning_rate", "temperature")
DIVERGENCE_THRESHOLD = 1e6  # loss above this (or non-finite) counts as diverged


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of :mod:`toy_quadratic` (``dim``, ``num_steps``, ``save_every`` static; the rest traced)."""

    dim: int = 8
    num_steps: int = 200
    save_every: int = 20
    h_min: float = 0.1
    learning_rate: float = 0.5
    temperature: float = 0.0

    def __post_init__(self):
        for name in ("dim", "num_steps", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        if self.num_steps % self.save_every:
            raise ValueError(
                f"`num_steps` ({self.num_steps}) must be a multiple of `save_every` ({self.save_every})."
            )
        if not 0 < self.h_min <= 1:
            raise ValueError(f"`h_min` must be in (0, 1], got {self.h_min!r}.")
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate!r}.")
        if self.temperature < 0:
            raise ValueError(f"`temperature` must be >= 0, got {self.temperature!r}.")


def default_config(*, quick: bool = False) -> Config:
    return Config(num_steps=100 if quick else 200, save_every=10 if quick else 20)


def point(config: Config, traced: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
    """One run: ``loss`` curve of shape ``(num_steps // save_every,)``, ``final_loss`` and ``status``."""
    eta = traced.get("learning_rate", config.learning_rate)
    temperature = traced.get("temperature", config.temperature)
    eta = jnp.asarray(eta)
    dtype = eta.dtype
    h = jnp.linspace(config.h_min, 1.0, config.dim, dtype=dtype)
    init_key, noise_key = jr.split(key)
    w0 = jr.normal(init_key, (config.dim,), dtype)

    def loss_of(w, _=None):
        return 0.5 * jnp.sum(h * w * w)

    # Overdamped Langevin w <- w - eta h w + sqrt(2 eta T) xi; a loss above the threshold (or non-finite)
    # stops the run as diverged, and every saved loss from that step on is NaN.
    save_steps = np.arange(config.save_every, config.num_steps + 1, config.save_every)
    sol = dynamics.solve(
        loss_of,
        dynamics.gd(eta, temperature=temperature),
        w0,
        key=noise_key,
        max_steps=config.num_steps,
        save_steps=save_steps,
        stop=dynamics.Stop(max_loss=DIVERGENCE_THRESHOLD),
        observe=loss_of,
    )
    diverged = sol.status == Status.DIVERGED
    losses = jnp.where(diverged & (save_steps >= sol.num_steps), jnp.nan, sol.observed)
    return {"loss": losses, "final_loss": losses[-1], "status": sol.status}


def run(config: Config, *, key: jax.Array, progress: bool = False) -> Result:
    del progress  # a single compiled call
    traced = {name: jnp.asarray(getattr(config, name), jnp.result_type(float)) for name in TRACED}
    out = jax.jit(lambda tr, k: point(config, tr, k))(traced, key)
    arrays = {k: np.asarray(v) for k, v in out.items()}
    status = {0: "ok", 1: "max_steps", 2: "diverged"}[int(arrays["status"])]
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary={
            "final_loss": float(arrays["final_loss"]),
            "equipartition_loss": config.dim * config.temperature / 2,
        },
        status=status,
        metadata={"steps": (np.arange(1, len(arrays["loss"]) + 1) * config.save_every).tolist()},
    )


def result_from_dataset(config: Config, ds: Any) -> Result:
    """Turn a finished sweep of this experiment (an ``xarray.Dataset``) into a :class:`Result`.

    The arrays are the dataset's variables as NumPy arrays (dimensions in the dataset's order) plus one
    ``coord:<axis>`` array per sweep axis; the summary counts the points per status.
    """
    arrays = {name: np.asarray(ds[name].values) for name in ds.data_vars}
    arrays.update(
        {f"coord:{dim}": np.asarray(ds[dim].values) for dim in ds.dims if dim in ds.coords}
    )
    status = arrays["status"]
    return Result(
        experiment=NAME,
        config=config,
        arrays=arrays,
        summary={
            "points": int(status.size),
            "diverged": int(np.sum(status == 2)),
            "missing": int(np.sum(status < 0)),
        },
        status="ok" if np.all(status >= 0) else "incomplete",
        metadata={"dims": list(ds.dims)},
    )
