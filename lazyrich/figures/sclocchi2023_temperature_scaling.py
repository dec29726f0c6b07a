"""Sclocchi, Geiger, Wyart (2023), Fig. 3-4: lazy-regime ||dw||/||w0||, t* and test error against T for several P."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import sclocchi2023_temperature_scaling as EXPERIMENT  # noqa: F401 (figure protocol)

NAME = "sgd-temperature-scaling"
DESCRIPTION = "Lazy-regime weight change, t* and test error vs SGD temperature for several P; delta, gamma, a fits"
PAPER = "Sclocchi, Geiger, Wyart (ICML 2023), Figs. 3-4"


def plot(result) -> Figure:
    a, s = result.arrays, result.summary
    sizes, temps = np.asarray(a["num_train"]), np.asarray(a["temperature"])
    fig = Figure(figsize=(10, 3))
    ax_w, ax_t, ax_e, ax_c = fig.subplots(1, 4)
    for i, p in enumerate(sizes):
        color = f"C{i}"
        ax_w.loglog(temps, a["mean_weight_change"][i], "o-", ms=3, color=color, label=f"P={p}")
        ax_t.loglog(temps, a["mean_time"][i], "o-", ms=3, color=color)
        ax_e.semilogx(temps, a["mean_test_error"][i], "o-", ms=3, color=color)
    ax_w.axhline(s["threshold"], color="k", ls=":", lw=0.8, label="threshold for $T_c$")
    ax_w.set(
        xlabel="T",
        ylabel=r"$\|\Delta w\|/\|w_0\|$",
        title=rf"$\delta$={s['delta_fit']:.2f}, $\gamma$={s['gamma_fit']:.2f}",
    )
    ax_w.legend(fontsize=7)
    ax_t.set(
        xlabel="T",
        ylabel=r"$t^\star = \eta\,$steps",
        title=f"slope in T: {s['tstar_temperature_slope']:.2f}",
    )
    ax_e.set(xlabel="T", ylabel="test error", title=rf"$\alpha$ = {result.config.alpha:g} (lazy)")
    t_c = np.asarray(a["t_c"])
    ok = np.isfinite(t_c)
    ax_c.loglog(sizes[ok], t_c[ok], "ko", label=r"$T_c$ (crossing)")
    if ok.sum() >= 2:
        fit = np.polyfit(np.log(sizes[ok]), np.log(t_c[ok]), 1)
        ax_c.loglog(
            sizes[ok],
            np.exp(np.polyval(fit, np.log(sizes[ok]))),
            "k--",
            label=rf"$a$={s['a_fit']:.2f} [{s['a_interval'][0]:.2f}, {s['a_interval'][1]:.2f}]",
        )
    ax_c.set(xlabel="P", ylabel=r"$T_c$", title=rf"$\gamma/\delta$ = {s['gamma_over_delta']:.2f}")
    # Ticks at the simulated sizes only: log-axis minor labels of neighbouring sizes collide.
    from matplotlib.ticker import NullFormatter

    ax_c.set_xticks(sizes, [str(int(p)) for p in sizes])
    ax_c.xaxis.set_minor_formatter(NullFormatter())
    ax_c.legend(fontsize=7)
    return fig
