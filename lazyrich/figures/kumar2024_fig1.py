"""Kumar, Bordelon, Gershman, Pehlevan (2024), Fig. 1: grokking in the committee machine (lazy then rich)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import kumar2024_grokking

EXPERIMENT = kumar2024_grokking
NAME = "grokking"
DESCRIPTION = (
    "Train/test loss, eq. 6 terms, weight norm and NTK alignment of the grokking committee machine."
)
PAPER = "Kumar, Bordelon, Gershman, Pehlevan (ICLR 2024), Fig. 1"


def plot(result) -> Figure:
    a, s, cfg = result.arrays, result.summary, result.config
    t = np.maximum(a["steps"], 1)  # step 0 drawn at 1 on the log axis
    fig = Figure(figsize=(10, 3.2))
    ax_loss, ax_terms, ax_norm = fig.subplots(1, 3)
    ax_loss.loglog(t, a["train_loss"], "--", color="C0", label="train")
    ax_loss.loglog(t, a["test_loss"], color="C0", label="test")
    ax_loss.axhline(
        s["kernel_regression_test_mse"], color="C3", lw=0.8, label=r"$K_0$ regression (test)"
    )
    ax_loss.axhline(cfg.threshold, color="0.6", ls=":", lw=0.8)
    ax_loss.set(
        xlabel="step (epoch)", ylabel="MSE", title=f"grokking time {s['grokking_time']:g} steps"
    )
    ax_loss.legend()
    for name, color in (("variance", "C1"), ("misalignment", "C2"), ("linear_power", "C4")):
        ax_terms.loglog(t, np.maximum(a[name], 1e-12), color=color, label=name.replace("_", " "))
    total = a["variance"] + a["misalignment"] + a["linear_power"]
    ax_terms.loglog(t, total, "k:", label="sum (eq. 6)")
    ax_terms.set(xlabel="step (epoch)", ylabel="test-loss term", title="eq. 6 decomposition")
    ax_terms.legend()
    ax_norm.semilogx(t, a["weight_norm"], color="C5", label=r"$\|W\|_F$")
    ax_norm.set(xlabel="step (epoch)", ylabel=r"$\|W\|_F$", title="weight norm and NTK alignment")
    twin = ax_norm.twinx()
    twin.semilogx(t, a["alignment"], color="C2", ls="--", label="NTK-target alignment")
    twin.set_ylabel("alignment (test set)", color="C2")
    twin.tick_params(axis="y", colors="C2")
    top = float(np.nanmax(a["alignment"]))
    if float(np.nanmin(a["alignment"])) >= 0 and top > 0:
        twin.set_ylim(0.0, 1.1 * top)  # a non-negative quantity: no tick below zero
    twin.ticklabel_format(axis="y", style="plain", useOffset=False)
    lines = ax_norm.get_lines() + twin.get_lines()
    ax_norm.legend(lines, [line.get_label() for line in lines], loc="center left")
    fig.suptitle(
        f"D={cfg.input_dim}, P={cfg.num_train}, N={cfg.width}, eps={cfg.epsilon:g}, alpha={cfg.alpha:g}, "
        f"eta={cfg.learning_rate0:g} N/alpha^2 ({cfg.method})",
        fontsize=8,
    )
    return fig
