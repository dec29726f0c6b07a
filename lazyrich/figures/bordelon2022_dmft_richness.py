"""Loss dynamics and kernel alignment against gamma0: full DMFT, gradient independence and static NTK."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lazyrich.sims.experiments import bordelon2022_dmft_richness as EXPERIMENT  # noqa: F401

NAME = "dmft-richness"
DESCRIPTION = "Richness gamma0 speeds training and aligns the NTK; full DMFT vs A=B=0 vs static NTK vs networks"
PAPER = "Bordelon & Pehlevan (NeurIPS 2022), Sec. 5 and Fig. 3"

STYLES = {
    "full": ("-", "full DMFT"),
    "gia": ("--", "A = B = 0"),
    "static": (":", "static NTK"),
    "network": ("o", "networks"),
}


def plot(result):
    arrays, config = result.arrays, result.config
    times, gammas = arrays["times"], arrays["gamma0s"]
    colors = plt.cm.plasma(np.linspace(0.1, 0.85, len(gammas)))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for quantity, ax, ylabel in (
        ("loss", axes[0], "train loss"),
        ("alignment", axes[1], "K-y alignment"),
    ):
        for g, c, i in zip(gammas, colors, range(len(gammas))):
            for method in ("full", "gia", "network"):
                style, _ = STYLES[method]
                curve = arrays[f"{quantity}_{method}"][i]
                if method == "network":
                    ax.plot(times, curve, style, color=c, ms=2.5, alpha=0.8)
                else:
                    ax.plot(
                        times,
                        curve,
                        style,
                        color=c,
                        label=f"gamma0={g:g}" if method == "full" else None,
                    )
        ax.plot(times, arrays[f"{quantity}_static"][0], ":", color="k")
        ax.set(xlabel="t", ylabel=ylabel)
        if quantity == "loss":
            ax.set_yscale("log")
    axes[0].set_title(f"{config.activation} network, L = {config.depth}")
    axes[1].set_title("kernel alignment")
    # One legend for both curve panels: colour = gamma0, line style = method.
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, label=f"gamma0 = {g:g}") for g, c in zip(gammas, colors)]
    handles += [
        Line2D([], [], color="0.3", ls="-", label="full DMFT"),
        Line2D([], [], color="0.3", ls="--", label="A = B = 0"),
        Line2D([], [], color="0.3", ls="none", marker="o", ms=2.5, label="networks"),
        Line2D([], [], color="k", ls=":", label="static NTK"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=7)
    ax = axes[2]
    for method in ("full", "gia", "static", "network"):
        style, label = STYLES[method]
        ax.plot(
            gammas,
            arrays[f"alignment_{method}"][:, -1],
            style if method == "network" else style + "o",
            ms=3,
            label=label,
            color="k" if method == "network" else None,
        )
    ax.set(xlabel="gamma0", ylabel="final K-y alignment", title="alignment at t_max")
    ax.legend(fontsize=6)
    return fig
