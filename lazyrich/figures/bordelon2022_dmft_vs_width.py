"""Finite-width mean-field networks against the DMFT (two-layer and deep tanh), Bordelon & Pehlevan (2022)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lazyrich.sims.experiments import bordelon2022_dmft_vs_width as EXPERIMENT  # noqa: F401

NAME = "dmft-vs-width"
DESCRIPTION = "Loss curves and final NTKs of finite-width networks approach the DMFT as width grows"
PAPER = "Bordelon & Pehlevan (NeurIPS 2022), Fig. 1 (width convergence) and the two-layer limit"


def _loss_panel(ax, arrays, name, title):
    times, widths = arrays[f"{name}_times"], arrays[f"{name}_widths"]
    colors = plt.cm.viridis(np.linspace(0.1, 0.9, len(widths)))
    for w, c, curves in zip(widths, colors, arrays[f"{name}_net_loss"]):
        for curve in curves:
            ax.plot(times, curve, color=c, alpha=0.35, lw=0.7)
        ax.plot(times, curves.mean(0), color=c, lw=1.2, label=f"N={int(w)}")
    ax.plot(times, arrays[f"{name}_dmft_loss"], "k--", lw=1.6, label="DMFT")
    ax.set(yscale="log", xlabel="t", ylabel="train loss", title=title)
    ax.legend(fontsize=6)


def _kernel_panel(ax, arrays, name, title):
    dmft = arrays[f"{name}_dmft_kernel"]
    net = arrays[f"{name}_net_kernel"][-1]  # largest width, (E, P', P')
    lo, hi = dmft.min(), dmft.max()
    for e, k in enumerate(net):
        ax.scatter(dmft.ravel(), k.ravel(), s=6, alpha=0.6, label=f"network {e + 1}")
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="y = x")
    ax.legend(fontsize=6)
    ax.set(
        xlabel="DMFT K(t_max)",
        ylabel=f"network K(t_max), N={int(arrays[f'{name}_widths'][-1])}",
        title=title,
    )


def plot(result):
    arrays, summary = result.arrays, result.summary
    has_deep = "deep_widths" in arrays
    fig, axes = plt.subplots(2, 3, figsize=(10, 6))
    _loss_panel(axes[0, 0], arrays, "two_layer", "two-layer tanh")
    im = axes[0, 1].imshow(arrays["two_layer_dmft_kernel"])
    axes[0, 1].set(
        title="two-layer DMFT K(t_max)",
        xlabel=r"training point $\nu$",
        ylabel=r"training point $\mu$",
    )
    fig.colorbar(im, ax=axes[0, 1], shrink=0.8)
    _kernel_panel(axes[0, 2], arrays, "two_layer", "final NTK entries (two-layer)")
    ax = axes[1, 1]
    for name, label, slope_key in (
        ("two_layer", "two-layer", "error_slope"),
        ("deep", "deep tanh", "deep_error_slope"),
    ):
        if f"{name}_widths" not in arrays:
            continue
        widths, err = arrays[f"{name}_widths"], arrays[f"{name}_kernel_error"]
        ax.errorbar(
            widths,
            err.mean(1),
            yerr=err.std(1),
            marker="o",
            ms=3,
            capsize=2,
            label=f"{label}: slope {summary[slope_key]:.2f}",
        )
    ref = arrays["two_layer_widths"].astype(float)
    ax.plot(
        ref,
        arrays["two_layer_kernel_error"].mean(1)[0] * (ref / ref[0]) ** -0.5,
        "k:",
        label="N^-1/2",
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="width N",
        ylabel="rel. error of final NTK",
        title="kernel error vs width",
    )
    ax.legend(fontsize=6)
    if has_deep:
        _loss_panel(axes[1, 0], arrays, "deep", f"deep tanh, L={result.config.deep_depth}")
        _kernel_panel(axes[1, 2], arrays, "deep", "final NTK entries (deep)")
    else:
        axes[1, 0].axis("off")
        axes[1, 2].axis("off")
    fig.suptitle(
        f"gamma0 = {result.config.gamma0:g}; static-limit error "
        f"{summary['static_limit_error']:.1e} at gamma0 = {result.config.small_gamma0:g}",
        fontsize=9,
    )
    return fig
