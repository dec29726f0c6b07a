"""Hoffer, Hubara, Soudry (2017), Sec. 2: ||w_t - w_0|| grows as a power of log t (random landscape, MLP)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lazyrich.sims.experiments import hoffer2017_random_walk as EXPERIMENT

NAME = "random-walk-diffusion"
DESCRIPTION = (
    "ultra-slow diffusion ||w_t - w_0|| ~ (log t)^(2/alpha) on random landscapes, and in a BN MLP"
)
PAPER = "Hoffer, Hubara, Soudry (NeurIPS 2017), Sec. 2 and Fig. 2"

__all__ = ["EXPERIMENT", "plot"]


def plot(result):
    a, s, cfg = result.arrays, result.summary, result.config
    mlp_keys = sorted((k for k in a if k.startswith("mlp_distance_b")), key=lambda k: int(k[14:]))
    ncols = 2 + bool(mlp_keys)
    fig, axes = plt.subplots(1, ncols, figsize=(3.4 * ncols, 3.1))
    t = np.asarray(a["steps"], float)
    fit = t >= cfg.fit_start
    alphas = np.asarray(a["alpha"])
    # One curve per alpha (from `run`), or per alpha and sweep coordinate (from a sweep: metadata "rows").
    keys = result.metadata.get("rows") or [str(float(alpha)) for alpha in alphas]
    for i, key in enumerate(keys):
        r = a["mean_distance"][i]
        color = f"C{i}"
        axes[0].semilogx(t, r, color=color, label=rf"$\alpha$={key}")
        # Prediction (log t)^(2/alpha), amplitude matched at the end of the fit window.
        shape = np.log(t[fit]) ** s["diffusion_exponent_theory"][key]
        axes[0].semilogx(t[fit], shape * r[fit][-1] / shape[-1], "--", color=color, lw=0.9)
        axes[1].loglog(
            np.log(t[fit]),
            r[fit],
            "o",
            ms=2.5,
            color=color,
            label=f"fit {s['diffusion_exponent_fit'][key]:.2f} "
            f"(theory {s['diffusion_exponent_theory'][key]:.2f})",
        )
    axes[0].set(xlabel="step t", ylabel=r"$\langle\|w_t - w_0\|\rangle$", title="random landscape")
    from matplotlib.lines import Line2D

    handles = axes[0].get_legend_handles_labels()[0]
    handles.append(
        Line2D([], [], color="0.4", ls="--", lw=0.9, label=r"$\propto(\log t)^{2/\alpha}$")
    )
    axes[0].legend(handles=handles)
    axes[1].set(
        xlabel=r"$\log t$", ylabel=r"$\langle\|w_t - w_0\|\rangle$", title=r"exponent of $\log t$"
    )
    axes[1].legend()
    if mlp_keys:
        ax = axes[2]
        for j, k in enumerate(mlp_keys):
            d = a[k]
            steps = np.arange(1, d.size + 1)
            f = s["mlp_fit"][k[14:]]
            ax.semilogx(
                steps,
                d,
                color=f"C{j}",
                label=f"B={k[14:]}: R$^2$ log {f['log_r2']:.3f}, power {f['power_r2']:.3f}",
            )
        ax.set(
            xlabel="iteration t",
            ylabel=r"$\|W^{(1)}_t - W^{(1)}_0\|_F$",
            title="BN MLP on digits (first layer)",
        )
        ax.legend(loc="upper left")
    return fig
