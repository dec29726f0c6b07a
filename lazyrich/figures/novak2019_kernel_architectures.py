"""Kernel regression with the infinite-width NNGP and NTK of five architectures, next to the finite networks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lazyrich.sims.experiments import novak2019_kernel_architectures as EXPERIMENT

NAME = "kernel-architectures"
DESCRIPTION = (
    "test accuracy of NNGP / NTK kernel regression and finite networks: FC, CNN-VEC, CNN-GAP, "
    "Myrtle, ResNet"
)
PAPER = "Novak et al. (ICLR 2019); Arora et al. (NeurIPS 2019); Shankar et al. (ICML 2020)"
_COLORS = {"nngp": "C0", "ntk": "C3", "finite": "0.55"}
_LABELS = {"nngp": "NNGP posterior", "ntk": r"NTK, $t = \infty$", "finite": "finite network"}


def plot(result):
    a, config = result.arrays, result.config
    archs = list(result.metadata["archs"])
    kernels = [g for g in EXPERIMENT.KERNELS if g != "finite" or config.finite]
    acc = np.asarray(a["test_accuracy"])
    n = np.asarray(a["test_correct"]).shape[-1]
    fig, (ax, ax_reg) = plt.subplots(
        1, 2, figsize=(10.0, 3.6), gridspec_kw={"width_ratios": [1.6, 1.0]}
    )
    x = np.arange(len(archs))
    bar = 0.8 / len(kernels)
    for j, g in enumerate(kernels):
        k = EXPERIMENT.KERNELS.index(g)
        p = acc[:, k]
        ax.bar(
            x + (j - (len(kernels) - 1) / 2) * bar,
            p,
            bar,
            yerr=np.sqrt(p * (1 - p) / n),
            color=_COLORS[g],
            label=_LABELS[g],
            capsize=2,
        )
    ax.axhline(1.0 / EXPERIMENT.NUM_CLASSES, color="k", ls=":", lw=1, label="chance")
    ax.set(
        xticks=x,
        xticklabels=archs,
        ylabel=f"test accuracy ({n} images)",
        ylim=(0.0, 1.18),
        yticks=np.linspace(0.0, 1.0, 6),
        title=f"{config.data}, {config.num_train} training images",
    )
    ax.legend(loc="upper center", fontsize=7, ncol=4)
    regs = np.asarray(a["diag_regs"])
    curve = np.asarray(a["validation_curve"])
    for i, arch in enumerate(archs):
        for g, ls in (("nngp", "-"), ("ntk", "--")):
            k = EXPERIMENT.KERNELS.index(g)
            ax_reg.semilogx(
                np.where(regs > 0, regs, np.nan),
                curve[i, k, : len(regs)],
                ls=ls,
                color=f"C{i}",
                label=arch if g == "nngp" else None,
            )
    ax_reg.set(
        xlabel=r"relative regulariser $\lambda$",
        ylabel="validation accuracy",
        title="choice of $\\lambda$ (solid NNGP, dashed NTK)",
    )
    ax_reg.legend(fontsize=7)
    return fig
