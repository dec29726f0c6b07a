"""Sclocchi, Geiger, Wyart (2023), perceptron: ||w|| ~ T P^gamma with gamma = 1/(1+chi), and t* ~ T."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lazyrich.sims.experiments import sclocchi2023_perceptron

EXPERIMENT = sclocchi2023_perceptron
NAME = "perceptron-scaling"
DESCRIPTION = (
    "Perceptron trained by SGD until fitted: ||w|| ~ T P^gamma, gamma = 1/(1+chi), and t* ~ T."
)
PAPER = "Sclocchi, Geiger, Wyart (ICML 2023), perceptron section (Fig. 5)"


def _geomean(values, ok, axis):
    logs = np.where(ok & (values > 0), np.log(np.where(values > 0, values, 1.0)), np.nan)
    return np.exp(np.nanmean(logs, axis=axis))


def plot(result) -> Figure:
    a, s = result.arrays, result.summary
    chis, temps = a["chi"], a["temperatures"]
    all_sizes = np.asarray(a["num_train"]).reshape(
        len(chis), -1
    )  # (chi, P): each chi has its own grid
    ok = a["status"] == 0
    fig = Figure(figsize=(10, 3.2))
    ax_p, ax_t, ax_time = fig.subplots(1, 3)
    temp_col = temps[:, None]
    for i, chi in enumerate(chis):
        key = f"{chi:g}"
        color = f"C{i}"
        sizes = all_sizes[i]
        # ||w|| / T against P (geometric mean over seeds and temperatures).
        norm_over_t = a["weight_norm"][i] / temp_col[None]
        y = _geomean(norm_over_t, ok[i], axis=(1, 2))
        ax_p.loglog(
            sizes,
            y,
            "o",
            color=color,
            label=rf"$\chi$={key}: fit {s['gamma_fit'][key]:.2f}, theory {s['gamma_theory'][key]:.2f}",
        )
        ref = y[0] * (sizes / sizes[0]) ** s["gamma_theory"][key]
        ax_p.loglog(sizes, ref, "--", color=color, lw=0.8)
        # ||w|| against T at the largest P.
        ax_t.loglog(
            temps,
            _geomean(a["weight_norm"][i, -1], ok[i, -1], axis=1),
            "o-",
            color=color,
            label=rf"$\chi$={key}, P={sizes[-1]}: $\delta$={s['delta_fit'][key]:.3f}",
        )
        # t* / T against P.
        time_over_t = a["time"][i] / temp_col[None]
        ax_time.loglog(
            sizes,
            _geomean(time_over_t, ok[i], axis=(1, 2)),
            "o-",
            color=color,
            label=rf"$\chi$={key}: fit {s['time_size_fit'][key]:.2f} (derived {s['time_size_theory'][key]:.2f})",
        )
    ax_p.set(
        xlabel="P",
        ylabel=r"$\|\Delta w\| / T$",
        title=r"$\|w\| \sim T P^{\gamma}$ (dashed: theory)",
    )
    ax_t.set(xlabel="T", ylabel=r"$\|\Delta w\|$", title=r"$\|w\| \sim T^{\delta}$")
    ax_time.set(xlabel="P", ylabel=r"$t_\star / T$", title=r"$t_\star \propto T\,P^{b}$")
    for ax in (ax_p, ax_t, ax_time):
        ax.legend(fontsize=6)
    cfg = result.config
    fig.suptitle(
        f"Perceptron, d={cfg.input_dim}, B={cfg.batch_size}, alpha={cfg.alpha:g}, {cfg.num_seeds} seeds "
        f"(geometric means; {s['num_not_fitted']} runs not fitted)",
        fontsize=8,
    )
    return fig
