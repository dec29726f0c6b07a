"""Jacot, Gabriel, Hongler (2018), Fig. 2: trained networks of two widths against the limiting Gaussian."""

from __future__ import annotations

import matplotlib.pyplot as plt

from lazyrich.sims.experiments import jacot2018_function_bands as EXPERIMENT

NAME = "ntk-function-bands"
DESCRIPTION = (
    "networks trained on 4 circle points vs the 10/50/90% bands of the infinite-width Gaussian"
)
PAPER = "Jacot, Gabriel, Hongler (NeurIPS 2018), Fig. 2"


def plot(result):
    a, config = result.arrays, result.config
    widths = [int(w) for w in a["widths"]]
    fig, axes = plt.subplots(1, len(widths), figsize=(3.4 * len(widths), 3.0), sharey=True)
    axes = [axes] if len(widths) == 1 else axes
    lo, hi = a["mean"] - EXPERIMENT.Z90 * a["sd"], a["mean"] + EXPERIMENT.Z90 * a["sd"]
    for ax, width in zip(axes, widths):
        ax.fill_between(a["angle"], lo, hi, color="0.85", label="10-90 % (n = inf)")
        ax.plot(a["angle"], a["mean"], "k--", lw=1.2, label="median (n = inf)")
        for i, curve in enumerate(a[f"f_test_{width}"]):
            ax.plot(
                a["angle"],
                curve,
                color="C0",
                lw=0.7,
                alpha=0.7,
                label="trained" if i == 0 else None,
            )
        ax.plot(config.train_angles, config.train_targets, "o", color="C3", ms=4, label="train")
        frac = result.summary["fraction_in_band"][str(width)]
        ax.set(title=f"width n = {width} ({100 * frac:.0f} % in band)", xlabel=r"$\gamma$")
    axes[0].set_ylabel(r"$f_\theta(x(\gamma))$")
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside upper center",
        ncol=min(4, 2 * len(widths)),
    )
    return fig
