"""Hoffer, Hubara, Soudry (2017), Table 1 (F1): the large-batch gap and the fixes that close it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lazyrich.sims.experiments import hoffer2017_large_batch_gap as EXPERIMENT

NAME = "large-batch-gap"
DESCRIPTION = "test accuracy: small batch, large batch, + sqrt LR, + ghost BN, + regime adaptation"
PAPER = "Hoffer, Hubara, Soudry (NeurIPS 2017), Table 1 (F1 row) and Fig. 3"

__all__ = ["EXPERIMENT", "plot"]


def plot(result):
    a, s = result.arrays, result.summary
    names = list(result.metadata["regimes"])
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.1))
    acc = 100 * np.asarray(a["accuracy"])
    means = acc.mean(axis=1)
    sems = np.array([100 * s["accuracy"][n]["sem"] for n in names])
    ax = axes[0]
    ax.bar(
        range(len(names)), means, yerr=sems, color=[f"C{i}" for i in range(len(names))], capsize=3
    )
    for i, row in enumerate(acc):
        ax.plot(np.full(row.size, i), row, "k.", ms=3)
    lo = max(0.0, np.nanmin(acc) - 2.0)
    ax.set(
        xticks=range(len(names)),
        xticklabels=names,
        ylim=(lo, min(100.0, np.nanmax(acc) + 1.0)),
        ylabel="test accuracy (%)",
        title=f"B={result.config.small_batch} vs {result.config.large_batch} "
        f"({result.config.num_seeds} seeds)",
    )
    ax = axes[1]
    for i, n in enumerate(names):
        d = a["first_layer_distance"][i]
        d = d[np.isfinite(d)]
        ax.semilogx(np.arange(1, d.size + 1), d, color=f"C{i}", label=n)
    ax.set(xlabel="iteration", ylabel=r"$\|W^{(1)}_t - W^{(1)}_0\|_F$", title="weight distance")
    ax.legend()
    return fig
