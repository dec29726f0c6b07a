"""Shared by the Liu et al. (ICLR 2024) experiments: rebuild a run's arrays from a finished sweep."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


def select_sweep_point(config: Any, ds: Any) -> tuple[Any, dict[str, np.ndarray], dict[str, Any]]:
    """One setting of a sweep dataset, seeds kept: the arrays a figure of that setting plots.

    Every sweep axis other than ``seed`` is fixed at the coordinate equal to the base ``config``'s value of that
    field when the axis holds it, else at its first coordinate (the returned config carries the chosen values,
    so the figure is labelled with the setting it shows). The ``seed`` axis (a singleton when absent) is kept
    as the leading axis of every returned array.

    Args:
      config: the sweep's base config (the experiment's ``Config``).
      ds: the ``xarray.Dataset`` of :func:`lazyrich.sims.load_results`.

    Returns:
      ``(config, {name: array (seed, ...)}, {axis: chosen coordinate})``.
    """
    chosen: dict[str, Any] = {}
    for dim in ds.dims:
        if dim not in ds.coords or dim == "seed":
            continue
        coords = list(np.asarray(ds[dim].values).tolist())
        want = getattr(config, dim, None)
        chosen[dim] = want if want in coords else coords[0]
    sel = ds.sel(chosen) if chosen else ds
    if "seed" not in sel.dims:
        sel = sel.expand_dims("seed")
    arrays = {name: np.asarray(sel[name].transpose("seed", ...).values) for name in sel.data_vars}
    fields = {f.name for f in dataclasses.fields(config)}
    config = dataclasses.replace(config, **{k: v for k, v in chosen.items() if k in fields})
    return config, arrays, chosen
