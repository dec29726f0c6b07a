"""Kumar, Bordelon, Gershman, Pehlevan (2024), Fig. 3e: grokking time over output scale and curvature."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import kumar2024_grokking_phase

EXPERIMENT = kumar2024_grokking_phase
NAME = "grokking-phase"
DESCRIPTION = "Grokking time t_test(0.1) - t_train(0.1) over a grid of alpha and epsilon."
PAPER = "Kumar, Bordelon, Gershman, Pehlevan (ICLR 2024), Fig. 3e"


def plot(result) -> Figure:
    a, s = result.arrays, result.summary
    alphas, epsilons = a["alphas"], a["epsilons"]
    amount = a["amount_of_grokking"]
    fig = Figure(figsize=(10, 3.3))
    ax_map, ax_alpha, ax_curves = fig.subplots(1, 3)
    image = ax_map.imshow(amount.T, origin="lower", aspect="auto", cmap="viridis")
    ax_map.set_xticks(range(len(alphas)), [f"{v:g}" for v in alphas])
    ax_map.set_yticks(range(len(epsilons)), [f"{v:g}" for v in epsilons])
    for i, j in zip(*np.nonzero(a["censored"])):
        ax_map.text(i, j, ">", ha="center", va="center", color="w")
    ax_map.set(
        xlabel=r"$\alpha$",
        ylabel=r"$\epsilon$",
        title=rf"max(0, $t_{{test}} - t_{{train}}$); Spearman($\alpha$) = {s['spearman_alpha']:.2f}",
    )
    fig.colorbar(image, ax=ax_map, label="steps")
    shown = np.where(
        np.isfinite(amount), np.maximum(amount, 1.0), np.nan
    )  # 0 drawn at 1 on the log axis
    for j, eps in enumerate(epsilons):
        ax_alpha.plot(alphas, shown[:, j], "o-", label=rf"$\epsilon$={eps:g}")
    ax_alpha.set(
        xscale="log",
        xlabel=r"$\alpha$",
        ylabel="grokking time (steps)",
        title=rf"Spearman($\epsilon$) = {s['spearman_epsilon']:.2f}",
    )
    if np.any(shown > 1):
        ax_alpha.set_yscale("log")
    ax_alpha.legend()
    t = np.maximum(a["steps"], 1)
    j = len(epsilons) // 2
    for i, alpha in enumerate(alphas):
        ax_curves.loglog(t, a["train_loss"][i, j], "--", color=f"C{i}")
        ax_curves.loglog(t, a["test_loss"][i, j], color=f"C{i}", label=rf"$\alpha$={alpha:g}")
    ax_curves.axhline(result.config.threshold, color="0.6", ls=":", lw=0.8)
    ax_curves.set(xlabel="step", ylabel="MSE (dashed: train)", title=rf"$\epsilon$={epsilons[j]:g}")
    ax_curves.legend()
    cfg = result.config
    fig.suptitle(
        f"D={cfg.input_dim}, P={cfg.num_train}, N={cfg.width}, eta={cfg.learning_rate0:g} N/alpha^2, "
        f"{cfg.num_steps} steps ('>' censored: lower bound)",
        fontsize=8,
    )
    return fig
