"""Liu et al. (ICLR 2024), Fig. 1: weight change, representation and kernel alignment against initial rank."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import liu2024_rank_sweep

NAME = "lowrank-rnn"
DESCRIPTION = (
    "RNN laziness measures against the rank of the initial recurrent weights (2AF, DMS, CXT)"
)
PAPER = "Liu, Baratin, Cornford, Mihalas, Shea-Brown, Lajoie (ICLR 2024), Fig. 1"
EXPERIMENT = liu2024_rank_sweep

_MEASURES = (
    ("weight_change", r"$\|W_h^{(f)} - W_h^{(0)}\|_F$"),
    ("representation_alignment", "representation alignment"),
    ("kernel_alignment", "tangent-kernel alignment"),
)


def plot(result) -> Figure:
    config = result.config
    arrays = result.arrays
    ranks = np.asarray(config.ranks)
    fig = Figure(figsize=(9.0, 2.6 * len(config.tasks) / 1.5 + 0.6))
    axes = fig.subplots(len(config.tasks), len(_MEASURES), squeeze=False)
    for i, task in enumerate(config.tasks):
        for j, (key, label) in enumerate(_MEASURES):
            ax = axes[i, j]
            values = arrays[key][i]  # (seeds, ranks)
            for seed_curve in values:
                ax.plot(ranks, seed_curve, color="C0", alpha=0.25, lw=0.7)
            mean = values.mean(axis=0)
            sd = values.std(axis=0)
            ax.errorbar(
                ranks, mean, yerr=sd, color="C0", marker="o", ms=3, capsize=2, label="random rank r"
            )
            if config.aligned:
                al = arrays[f"aligned_{key}"][i]
                ax.errorbar(
                    [ranks[0]],
                    [al.mean()],
                    yerr=[al.std()],
                    color="C3",
                    marker="*",
                    ms=8,
                    ls="none",
                    capsize=2,
                    label="aligned rank 1",
                )
            ax.set_xscale("log")
            ax.set_xticks(ranks)
            ax.set_xticklabels([str(r) for r in ranks])
            if i == len(config.tasks) - 1:
                ax.set_xlabel("initial rank r")
            if j == 0:
                ax.set_ylabel(f"{task.upper()}\n{label}")
            else:
                ax.set_ylabel(label)
            s = result.summary[task]
            rho = s[f"{key}_spearman"]
            ax.set_title(
                f"{task.upper()}: Spearman {rho:+.2f}" if np.isfinite(rho) else task.upper()
            )
    axes[0, 0].legend(loc="best")
    fig.suptitle(
        f"N = {config.width}, {config.num_seeds} seeds, {config.num_steps} SGD steps, g = {config.gain}"
    )
    return fig
