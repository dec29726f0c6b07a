"""Jacot, Gabriel, Hongler (2018), Fig. 1: NTK of finite networks at two widths, before and after training."""

from __future__ import annotations

import matplotlib.pyplot as plt

from lazyrich.figures import _style
from lazyrich.sims.experiments import jacot2018_ntk_convergence as EXPERIMENT  # noqa: F401

NAME = "ntk-convergence"
DESCRIPTION = (
    "finite-width NTK at init and after training vs the infinite-width kernel; spread ~ width^-1/2"
)
PAPER = "Jacot, Gabriel, Hongler (NeurIPS 2018), Fig. 1"


def plot(result):
    a = result.arrays
    widths = [int(w) for w in a["widths"]]
    fig, axes = plt.subplots(1, len(widths) + 1, figsize=(3.2 * (len(widths) + 1), 3.0))
    for ax, width in zip(axes, widths):
        _style.curves_with_mean(ax, a["angle"], a[f"theta_init_{width}"], color="C0", label="t = 0")
        _style.curves_with_mean(
            ax,
            a["angle"],
            a[f"theta_trained_{width}"],
            color="C3",
            label=f"t = {result.config.num_steps}",
        )
        ax.plot(a["angle"], a["theta_infinite"], "k--", lw=1.2, label=r"$n \to \infty$")
        ax.set(title=f"width n = {width}", xlabel=r"$\gamma$")
    axes[0].set_ylabel(r"$\Theta^{(4)}(x_0, x(\gamma))$")
    axes[0].legend()
    ax = axes[-1]
    ax.loglog(a["fit_widths"], a["spread"], "o", color="C0", label="seed-to-seed sd (t = 0)")
    slope = _style.loglog_fit_line(ax, a["fit_widths"], a["spread"], label_fmt="fit slope {:.2f}")
    ref = a["spread"][0] * (a["fit_widths"] / a["fit_widths"][0]) ** -0.5
    ax.loglog(a["fit_widths"], ref, ":", color="gray", label="slope -1/2")
    ax.set(xlabel="width n", ylabel=r"sd of $\Theta$", title=f"spread slope {slope:.2f}")
    ax.legend()
    return fig
