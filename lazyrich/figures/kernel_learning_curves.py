"""Learning curves of NNGP and NTK regression beside their prediction from the kernel's spectrum."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lazyrich.sims.experiments import kernel_learning_curves as EXPERIMENT  # noqa: F401

NAME = "kernel-learning-curves"
DESCRIPTION = (
    "test error of NNGP and NTK regression vs training-set size n, with the spectral theory's "
    "prediction from the kernel's eigenvalues"
)
PAPER = (
    "Bordelon, Canatar, Pehlevan (ICML 2020), Fig. 2; Canatar, Bordelon, Pehlevan (Nat. Commun. "
    "2021), Fig. 2"
)
COLORS = {"nngp": "C0", "ntk": "C3"}


def plot(result):
    a, s = result.arrays, result.summary
    n = a["num_train"]
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained")
    ax = axes[0]
    for g, color in COLORS.items():
        err = a[f"test_error_{g}"]
        mean = err.mean(axis=0)
        sem = err.std(axis=0, ddof=1) / np.sqrt(err.shape[0])
        ax.errorbar(
            n,
            mean,
            yerr=sem,
            fmt="o",
            color=color,
            ms=4,
            label=f"{g.upper()} regression (slope {s['exponent_fit'][g]:.2f})",
        )
        ax.loglog(
            n,
            a[f"theory_{g}"],
            "-",
            color=color,
            lw=1.2,
            label=f"{g.upper()} spectral theory (slope {s['exponent_theory'][g]:.2f})",
        )
    ax.set(xlabel="training points n", ylabel=r"test error $E_g$", title="learning curves")
    ax.legend(fontsize=7)
    ax = axes[1]
    for g, color in COLORS.items():
        eta = a[f"eigenvalues_{g}"]
        ax.loglog(np.arange(1, len(eta) + 1), eta, "-", color=color, label=g.upper())
    ax.set(xlabel="index k", ylabel=r"eigenvalue $\eta_k$", title="kernel spectrum (K/M)")
    ax.legend(fontsize=7)
    return fig
