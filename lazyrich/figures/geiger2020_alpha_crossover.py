"""Lazy/feature crossover: relative NTK change, trained-vs-linearised predictions and test error against alpha."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import geiger2020_alpha_crossover as EXPERIMENT  # noqa: F401 (figure protocol)

NAME = "alpha-crossover"
DESCRIPTION = (
    "Relative NTK change, trained-vs-linearised gap and test error against alpha for several widths"
)
PAPER = (
    "Chizat, Oyallon, Bach (NeurIPS 2019), Thm 2.2; Geiger et al. (J. Stat. Mech. 2020), Figs. 1-2"
)


def plot(result) -> Figure:
    a, s = result.arrays, result.summary
    alphas, widths = np.asarray(a["alpha"]), np.asarray(a["width"])
    fig = Figure(figsize=(9, 3))
    ax_k, ax_d, ax_e = fig.subplots(1, 3)
    for i, w in enumerate(widths):
        c = f"C{i}"
        ax_k.loglog(alphas, a["mean_ntk_change"][i], "o-", ms=3, color=c, label=f"h={w}")
        ax_d.loglog(alphas, a["mean_prediction_difference"][i], "o-", ms=3, color=c, label=f"h={w}")
        ax_e.semilogx(alphas, a["mean_test_error"][i], "o-", ms=3, color=c, label=f"network h={w}")
        ax_e.semilogx(alphas, a["mean_lin_test_error"][i], ":", color=c, label=f"linearised h={w}")
    lazy = alphas >= result.config.lazy_alpha_min
    for ax, key in ((ax_k, "mean_ntk_change"), (ax_d, "mean_prediction_difference")):
        ref = np.nanmean(np.asarray(a[key])[:, lazy][:, 0])
        if np.isfinite(ref):
            ax.loglog(
                alphas[lazy],
                ref * alphas[lazy][0] / alphas[lazy],
                "k--",
                lw=0.8,
                label=r"$\propto 1/\alpha$",
            )
        ax.legend(fontsize=7)
    ax_k.set(
        xlabel=r"$\alpha$",
        ylabel=r"$\|\Theta_t - \Theta_0\|_F/\|\Theta_0\|_F$",
        title=f"NTK change: slope {s['kernel_change_slope']:.2f}",
    )
    ax_d.set(
        xlabel=r"$\alpha$",
        ylabel=r"$\|F - \bar F\|/\|\bar F\|$ (test)",
        title=f"trained - linearised: slope {s['prediction_difference_slope']:.2f}",
    )
    ax_e.set(xlabel=r"$\alpha$", ylabel="test error", title=r"test error (lazy at large $\alpha$)")
    ax_e.legend(fontsize=6)
    return fig
