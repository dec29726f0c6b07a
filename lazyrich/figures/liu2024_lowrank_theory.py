"""Liu et al. (ICLR 2024), Theorem 1: expected NTK alignment against effective rank, two-layer linear network."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import liu2024_linear_theory

NAME = "lowrank-theory"
DESCRIPTION = (
    "Expected NTK alignment vs participation ratio of the initial weights: theory and simulation"
)
PAPER = "Liu, Baratin, Cornford, Mihalas, Shea-Brown, Lajoie (ICLR 2024), Theorem 1 / Fig. 3"
EXPERIMENT = liu2024_linear_theory


def plot(result) -> Figure:
    config = result.config
    arrays = result.arrays
    pr = arrays["participation_ratio"]
    grid = arrays["theory_participation_ratio"]
    fig = Figure(figsize=(7.5, 3.0))
    axes = fig.subplots(1, 2)
    for ax, kernel, title in zip(
        axes, ("readout", "full"), ("readout-side NTK ($W^T W$)", "full NTK")
    ):
        ax.plot(grid, arrays[f"theory_alignment_{kernel}"], color="k", label="theory")
        sim = arrays[f"alignment_{kernel}"]
        mean, se = sim.mean(axis=1), sim.std(axis=1, ddof=1) / np.sqrt(sim.shape[1])
        ax.errorbar(
            pr,
            mean,
            yerr=2 * se,
            color="C0",
            marker="o",
            ls="none",
            capsize=2,
            label="simulation (±2 s.e.)",
        )
        for i, (r, x, y) in enumerate(zip(config.ranks, pr, mean)):
            # Alternate below-right and above-left so that labels of neighbouring ranks never collide.
            offset, ha, va = (
                ((4, -4), "left", "top") if i % 2 == 0 else ((-4, 4), "right", "bottom")
            )
            ax.annotate(
                f"r={r}",
                (x, y),
                textcoords="offset points",
                xytext=offset,
                fontsize=7,
                ha=ha,
                va=va,
            )
        al = arrays[f"aligned_alignment_{kernel}"].mean()
        ax.axhline(al, color="C3", ls=":", label=f"aligned rank 1 ({al:.2f})")
        ax.set(
            xlabel="participation ratio of $W_0$",
            ylabel="NTK alignment $A(K_0, K_\\infty)$",
            title=title,
        )
    axes[0].legend(loc="center right")
    fig.suptitle(
        f"d = {config.input_dim}, h = {config.hidden_dim}, σ = {config.init_scale:g}, "
        f"{config.num_teachers} teachers"
    )
    return fig
