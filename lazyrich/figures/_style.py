"""Shared plotting style and helpers for the figure modules."""

from __future__ import annotations

import numpy as np

STYLE = {
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
    "image.cmap": "viridis",
}


def curves_with_mean(ax, x, curves, *, color="C0", label=None, alpha=0.25):
    """Thin lines for each curve (rows of ``curves``) and a thick line for their mean."""
    curves = np.asarray(curves)
    for c in curves:
        ax.plot(x, c, color=color, alpha=alpha, lw=0.7)
    ax.plot(x, curves.mean(axis=0), color=color, lw=1.8, label=label)


def loglog_fit_line(ax, x, y, *, color="k", label_fmt="slope {:.2f}"):
    """Least-squares line in log-log space drawn over ``x``; returns the slope."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    slope, intercept = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    ax.plot(
        x[ok],
        np.exp(intercept) * x[ok] ** slope,
        ls="--",
        color=color,
        label=label_fmt.format(slope),
    )
    return slope
