"""Sclocchi, Geiger, Wyart (2023), Fig. 2: test error over the (alpha, T) plane, lazy/feature regimes and T_c."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import sclocchi2023_phase_diagram as EXPERIMENT  # noqa: F401 (figure protocol)

NAME = "sgd-phase-diagram"
DESCRIPTION = (
    "Test error heat map over (alpha, T) for SGD on an FC net; lazy/feature boundary and T_c marked"
)
PAPER = "Sclocchi, Geiger, Wyart (ICML 2023), Fig. 2"


def plot(result) -> Figure:
    a = result.arrays
    alphas, temps = np.asarray(a["alpha"]), np.asarray(a["temperature"])
    err, dw = np.asarray(a["mean_test_error"]), np.asarray(a["mean_weight_change"])
    la, lt = np.log2(alphas), np.log2(temps)
    fig = Figure(figsize=(7.5, 3.2))
    ax, ax2 = fig.subplots(1, 2)
    status = np.asarray(a["status"])  # (alpha, T, seed)
    fitted = np.all(status == 0, axis=-1)
    capped = np.any(status == 1, axis=-1) & ~np.all(status == 2, axis=-1)
    diverged = np.all(status == 2, axis=-1)
    # The colour scale spans the cells where every seed fitted, so that one step-capped (or nearly
    # diverged) cell cannot compress the lazy and feature regions into one colour.
    ok = fitted & np.isfinite(err)
    vmin, vmax = (np.nanmin(err[ok]), np.nanmax(err[ok])) if ok.any() else (None, None)
    masked = np.ma.masked_invalid(err.T)
    xe, ye = _edges(la), _edges(lt)
    image = ax.pcolormesh(xe, ye, masked, shading="flat", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_facecolor("0.85")  # diverged cells
    fig.colorbar(image, ax=ax, label="test error (fitted cells)", extend="both")
    from matplotlib.patches import Patch, Rectangle

    for mask, hatch in ((capped, "///"), (diverged, "xxx")):
        for i, j in zip(*np.nonzero(mask)):
            ax.add_patch(
                Rectangle(
                    (xe[i], ye[j]), xe[i + 1] - xe[i], ye[j + 1] - ye[j],
                    fill=False, hatch=hatch, edgecolor="0.3", lw=0,
                )
            )  # fmt: skip
    handles = [Patch(fill=False, hatch="///", edgecolor="0.3", label="step cap")] * bool(
        capped.any()
    )
    handles += [Patch(facecolor="0.85", hatch="xxx", edgecolor="0.3", label="diverged")] * bool(
        diverged.any()
    )
    cfg = result.config
    if np.isfinite(dw).sum() >= 4 and np.nanmin(dw) < cfg.lazy_threshold < np.nanmax(dw):
        ax.contour(
            la,
            lt,
            np.ma.masked_invalid(dw.T),
            levels=[cfg.lazy_threshold],
            colors="w",
            linestyles="--",
            linewidths=1.2,
        )
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.5", ls="--", label="lazy threshold (white)"))
    t_c = np.asarray(a["t_c"])
    ok = np.isfinite(t_c)
    ax.plot(la[ok], np.log2(t_c[ok]), "r.-", label=r"$T_c(\alpha)$")
    ax.text(0.97, 0.05, "lazy", color="w", ha="right", transform=ax.transAxes)
    ax.text(0.03, 0.05, "feature", color="w", ha="left", transform=ax.transAxes)
    ax.set(
        xlabel=r"$\log_2 \alpha$",
        ylabel=r"$\log_2 T$",
        title=f"{cfg.data} parity, P={cfg.num_train}, FC {cfg.depth}x{cfg.width}",
    )
    # Below the panels: over the heat map the entries would hide cells (and be hard to read).
    fig.legend(
        handles=ax.get_legend_handles_labels()[0] + handles,
        loc="outside lower left",
        ncol=4,
        fontsize=7,
    )
    for i in range(len(alphas)):
        ax2.loglog(
            temps,
            dw[i],
            "o-",
            ms=3,
            color=_cmap(i, len(alphas)),
            label=rf"$\alpha=2^{{{la[i]:.0f}}}$",
        )
    ax2.axhline(cfg.lazy_threshold, color="k", ls=":", lw=0.8, label="lazy threshold")
    ax2.set(
        xlabel="T",
        ylabel=r"$\|w - w_0\| / \|w_0\|$ at the stop",
        title=f"weight change (white dashes: {cfg.lazy_threshold:g})",
    )
    ax2.legend(fontsize=6, ncol=2)
    return fig


def _edges(centres):
    c = np.asarray(centres, float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def _cmap(i, n):
    from matplotlib import colormaps

    return colormaps["plasma"](i / max(n - 1, 1) * 0.9)
