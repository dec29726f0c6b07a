"""Liu et al. (ICLR 2024), Theorem 1 / Proposition 1: NTK alignment against the effective rank of the initial
weights in a two-layer linear network, theory (:func:`lazyrich.theory.linear_rank_alignment`) against simulation.

Simulation: :math:`f(x) = w^\\top W x`, ``W`` of shape (hidden_dim, input_dim), whitened inputs, so the loss is
the population loss :math:`\\tfrac12\\|W^\\top w - \\beta\\|^2`; plain gradient descent (a discretised gradient
flow) from :math:`W_0` = rank-r truncated SVD of one Gaussian draw rescaled to :math:`\\|W_0\\|_F = \\sigma`,
:math:`w_0` Gaussian rescaled to :math:`\\|w_0\\| = \\sigma`, over ``num_teachers`` unit teachers
:math:`\\hat\\beta` uniform on the sphere. The alignment of the initial and final NTK (readout-only and full)
is averaged over teachers and compared with the closed forms. The *aligned* initialisation
:math:`W_0 = \\sigma u\\hat\\beta^\\top` (Proposition 1) should give alignment near 1.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks, dynamics, theory
from lazyrich.sims import _analysis as an
from lazyrich.sims import _experiment
from lazyrich.sims.experiments import _liu2024_common

NAME = "liu2024_linear_theory"
TRACED = ("init_scale", "learning_rate")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Settings (defaults: d = 20, h = 40, sigma = 1e-3)."""

    input_dim: int = 20
    hidden_dim: int = 40
    ranks: tuple[int, ...] = (1, 2, 5, 10, 20)
    num_teachers: int = 256
    init_scale: float = 1e-3
    learning_rate: float = 0.05
    num_steps: int = 4000

    def __post_init__(self):
        for name in ("input_dim", "hidden_dim", "num_teachers", "num_steps"):
            _checks.check_int(name, getattr(self, name), minimum=1)
        top = min(self.input_dim, self.hidden_dim)
        if not self.ranks or any((not isinstance(r, int)) or r < 1 or r > top for r in self.ranks):
            raise ValueError(
                f"`ranks` must be integers in [1, min(input_dim, hidden_dim)={top}], got "
                f"{self.ranks!r}."
            )
        if not self.init_scale > 0 or not self.learning_rate > 0:
            raise ValueError(
                f"`init_scale` and `learning_rate` must be > 0, got {self.init_scale}, "
                f"{self.learning_rate}."
            )


def default_config(*, quick: bool = False) -> Config:
    """d = 20, h = 40, sigma = 1e-3; quick: 64 teachers, 1500 steps of size 0.1 (same gradient-flow time)."""
    if quick:
        return Config(num_teachers=64, num_steps=1500, learning_rate=0.1)
    return Config()


def _simulate(w_in, w_out, teacher, learning_rate, num_steps):
    def step(carry, _):
        w, v = carry
        err = w.T @ v - teacher
        return (w - learning_rate * jnp.outer(v, err), v - learning_rate * (w @ err)), None

    (w, v), _ = jax.lax.scan(step, (w_in, w_out), length=num_steps)
    loss = 0.5 * jnp.sum((w.T @ v - teacher) ** 2)
    return w, v, loss


def _alignments(w_in0, w_out0, w_in1, w_out1, teacher):
    out = {}
    for kernel in ("readout", "full"):
        m0 = theory.linear_kernel_matrix(w_in0, w_out0, kernel=kernel)
        m1 = theory.linear_kernel_matrix(w_in1, w_out1, kernel=kernel)
        out[f"alignment_{kernel}"] = dynamics.diagnostics.kernel_alignment(m0, m1)
        out[f"endpoint_{kernel}"] = theory.linear_rank_alignment_endpoint(
            w_in0, w_out0, teacher, kernel=kernel
        )
    return out


def point(config: Config, traced: dict, key: jax.Array) -> dict[str, jax.Array]:
    """One seed: arrays ``(ranks, teachers)`` of simulated and end-point alignments, and the aligned init."""
    sigma = traced.get("init_scale", config.init_scale)
    lr = traced.get("learning_rate", config.learning_rate)
    k_w, k_v, k_t, k_u = jr.split(key, 4)
    h, d = config.hidden_dim, config.input_dim
    w_gauss = jr.normal(k_w, (h, d))
    w_out0 = jr.normal(k_v, (h,))
    w_out0 = sigma * w_out0 / jnp.linalg.norm(w_out0)
    teachers = jr.normal(k_t, (config.num_teachers, d))
    teachers = teachers / jnp.linalg.norm(teachers, axis=1, keepdims=True)

    def per_rank(r):
        w0 = dynamics.rnn.truncate_rank(w_gauss, r)
        w0 = sigma * w0 / jnp.sqrt(jnp.sum(w0 * w0))
        pr = dynamics.diagnostics.participation_ratio(w0, kind="matrix")

        def per_teacher(beta):
            w1, v1, loss = _simulate(w0, w_out0, beta, lr, config.num_steps)
            return dict(_alignments(w0, w_out0, w1, v1, beta), final_loss=loss)

        return dict(jax.vmap(per_teacher)(teachers), participation_ratio=pr)

    out = jax.vmap(per_rank)(jnp.asarray(config.ranks))
    u = jr.normal(k_u, (h,))
    u = u / jnp.linalg.norm(u)

    def aligned(beta):
        w0 = sigma * jnp.outer(u, beta)
        w1, v1, loss = _simulate(w0, w_out0, beta, lr, config.num_steps)
        return dict(_alignments(w0, w_out0, w1, v1, beta), final_loss=loss)

    out.update({f"aligned_{k}": v for k, v in jax.vmap(aligned)(teachers).items()})
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in out.values()]))
    converged = jnp.max(out["final_loss"]) < 1e-6
    out["status"] = jnp.where(finite, jnp.where(converged, 0, 1), 2).astype(jnp.int32)
    return out


def run(config: Config, *, key: jax.Array, progress: bool = False) -> _experiment.Result:
    """One seed of :func:`point` (arrays ``(rank, teacher)``), summarised by :func:`_result`."""
    traced = {n: jnp.asarray(getattr(config, n), jnp.float32) for n in TRACED}
    with _experiment.progress_bar(total=1, desc=NAME, enabled=progress) as bar:
        out = jax.device_get(jax.jit(lambda k: point(config, traced, k))(key))
        bar.update(1)
    return _result(config, {k: np.asarray(v) for k, v in out.items()}, {})


def result_from_dataset(config: Config, ds) -> _experiment.Result:
    """The :class:`Result` of one setting of a finished sweep (``lazyrich figures make lowrank-theory --from``).

    Non-seed axes are fixed at the base config's values (else their first coordinate); the teachers of all
    seeds are pooled (arrays ``(rank, seeds x teachers)``), the participation ratios averaged over seeds.
    """
    config, arrays, chosen = _liu2024_common.select_sweep_point(config, ds)
    pooled = {}
    for name, value in arrays.items():
        if name == "participation_ratio":
            pooled[name] = value.mean(axis=0)
        elif name == "status":
            pooled[name] = np.asarray(value.max(), np.int32)
        elif name.startswith("aligned_"):
            pooled[name] = value.reshape(-1)  # (seed, teacher) -> (seed x teacher,)
        else:  # (seed, rank, teacher) -> (rank, seed x teacher)
            pooled[name] = np.moveaxis(value, 0, 1).reshape(value.shape[1], -1)
    return _result(config, pooled, {"sweep_point": chosen, "seeds": int(arrays["status"].size)})


def _result(config: Config, arrays: dict, extra_metadata: dict) -> _experiment.Result:
    """Shared summary step of :func:`run` and :func:`result_from_dataset` (arrays ``(rank, teacher)``)."""
    pr = arrays["participation_ratio"]
    summary: dict = {"participation_ratio": pr.tolist()}
    for kernel in ("readout", "full"):
        sim = arrays[f"alignment_{kernel}"]
        mean, se = sim.mean(axis=1), sim.std(axis=1, ddof=1) / np.sqrt(sim.shape[1])
        pred = np.asarray(theory.linear_rank_alignment(pr, config.input_dim, kernel=kernel))
        summary[kernel] = {
            "simulated_mean": mean.tolist(),
            "simulated_se": se.tolist(),
            "theory": pred.tolist(),
            "max_abs_z": float(np.max(np.abs(mean - pred) / se)),
            "max_abs_endpoint_error": float(np.max(np.abs(sim - arrays[f"endpoint_{kernel}"]))),
            "increasing_with_rank": bool(np.all(np.diff(mean) > 0)),
            "aligned_mean": float(arrays[f"aligned_alignment_{kernel}"].mean()),
        }
    # The theory curves of the figure, on a grid of participation ratios.
    grid = np.linspace(1.0, min(config.input_dim, config.hidden_dim), 200)
    arrays = {**arrays, "theory_participation_ratio": grid}
    for kernel in ("readout", "full"):
        arrays[f"theory_alignment_{kernel}"] = np.asarray(
            theory.linear_rank_alignment(grid, config.input_dim, kernel=kernel)
        )
    summary["max_final_loss"] = float(
        max(arrays["final_loss"].max(), arrays["aligned_final_loss"].max())
    )
    status = {0: "ok", 1: "max_steps", 2: "diverged"}.get(int(arrays["status"]), "incomplete")
    metadata = {
        "ranks": list(config.ranks),
        "axes": "(rank, teacher)",
        "loss": "population squared error 1/2 ||W^T w - beta||^2 (whitened inputs), plain GD",
        **extra_metadata,
    }
    return _experiment.Result(NAME, config, arrays, summary, status, metadata)


def checks(result: _experiment.Result) -> list[an.Check]:
    """Simulated expected alignments equal Theorem 1 at every rank, and grow with the participation ratio.

    Tolerance: a Bonferroni bound (family-wise 1 %) on the largest z-score of the simulated means over the
    ranks, each z measured in standard errors over the teachers.
    """
    out = []
    ranks = len(result.config.ranks)
    bound = an.normal_quantile(1 - 0.005 / ranks)
    for kernel in ("readout", "full"):
        s = result.summary[kernel]
        out.append(
            an.below(
                f"{kernel} NTK alignment = Theorem 1 (max z over {ranks} ranks)",
                s["max_abs_z"],
                bound,
                basis=f"Bonferroni 1 % over {ranks} ranks, {result.config.num_teachers} teachers",
            )
        )
    if ranks >= 3:
        out.append(
            an.rank_trend(
                "alignment increases with the participation ratio (readout; Spearman)",
                result.arrays["participation_ratio"],
                result.summary["readout"]["simulated_mean"],
                increasing=True,
            )
        )
    return out
