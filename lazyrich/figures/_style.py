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


VERDICT_STRIP_INCHES = 0.2


def add_verdict(fig, checks):
    """Write the checks' verdict in the figure's lower right corner, in a strip kept free of the axes.

    The layout engine's rectangle is raised by :data:`VERDICT_STRIP_INCHES` so that no tick label or axis
    label can run into the line; green when every testable check passes, red when one fails, grey without
    checks.
    """
    from lazyrich import sims

    checks = list(checks)
    strip = VERDICT_STRIP_INCHES / fig.get_figheight()
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        engine.set(rect=(0.0, strip, 1.0, 1.0 - strip))
    failed = any(c.passed is False for c in checks)
    color = "0.45" if not checks else ("tab:red" if failed else "tab:green")
    text = sims.verdict(checks) if checks else "no checks"
    fig.text(0.995, 0.2 * strip, text, ha="right", va="bottom", fontsize=7, color=color)
