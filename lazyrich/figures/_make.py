"""Discovery of figure modules and the ``figures make`` pipeline (validate -> compute -> plot -> write)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pathlib
import pkgutil
import sys
import time
import types
from collections.abc import Mapping
from typing import Any

from lazyrich import sims
from lazyrich._io import atomic_write

__all__ = ["figure_registry", "get_figure", "make", "prepare", "Plan"]


def figure_registry() -> dict[str, types.ModuleType]:
    """Every figure module, keyed by its CLI ``NAME``, in alphabetical order."""
    import lazyrich.figures as package

    registry = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "plot"):
            registry[module.NAME] = module
    return dict(sorted(registry.items()))


def get_figure(name: str) -> types.ModuleType:
    registry = figure_registry()
    if name not in registry:
        raise ValueError(f"unknown figure {name!r}; available: {', '.join(registry)} (or 'all').")
    return registry[name]


@dataclasses.dataclass(frozen=True)
class Plan:
    """A validated request to make one figure: nothing has run yet."""

    figure: types.ModuleType
    config: Any
    seed: int
    quick: bool


def prepare(
    name: str, *, quick: bool = False, overrides: Mapping[str, Any] | None = None, seed: int = 0
) -> Plan:
    """Resolve the figure and build its config with ``overrides`` applied; raises before any work."""
    figure = get_figure(name)
    config = figure.EXPERIMENT.default_config(quick=quick)
    config = sims.apply_overrides(config, dict(overrides or {}))
    return Plan(figure=figure, config=config, seed=int(seed), quick=bool(quick))


def make(
    plan: Plan,
    out_dir: str | os.PathLike,
    *,
    progress: bool = True,
    result: sims.Result | None = None,
) -> dict[str, pathlib.Path]:
    """Run ``plan`` (unless ``result`` is given) and write ``NAME.png``, ``NAME.pdf`` and ``NAME.json``.

    Returns:
      The written paths, keyed by ``"png"``, ``"pdf"`` and ``"json"``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False) if "matplotlib.pyplot" not in sys.modules else None
    import matplotlib.pyplot as plt

    from lazyrich.figures import _style

    figure = plan.figure
    start = time.perf_counter()
    if result is None:
        result = sims.run(figure.EXPERIMENT, plan.config, seed=plan.seed, progress=progress)
    checks = sims.checks(result)
    with plt.style.context(_style.STYLE):
        fig = figure.plot(result)
        _style.add_verdict(fig, checks)
    wall = time.perf_counter() - start
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {ext: out / f"{figure.NAME}.{ext}" for ext in ("png", "pdf", "json")}
    atomic_write(paths["png"], lambda h: fig.savefig(h, format="png", dpi=150))
    atomic_write(paths["pdf"], lambda h: fig.savefig(h, format="pdf"))
    plt.close(fig)
    record = {
        "figure": figure.NAME,
        "description": figure.DESCRIPTION,
        "paper": figure.PAPER,
        "experiment": result.experiment,
        "quick": plan.quick,
        "seed": plan.seed,
        "settings": sims.config_to_dict(result.config),
        "status": result.status,
        "wall_time_s": wall,
        **{k: v for k, v in result.metadata.get("provenance", {}).items() if k.endswith("version")},
        "backend": result.metadata.get("provenance", {}).get("backend"),
        "summary": sims.json_ready(result.summary),
        "verdict": sims.verdict(checks),
        "checks": [c.as_dict() for c in checks],
    }
    text = json.dumps(record, indent=2, sort_keys=False)
    atomic_write(paths["json"], lambda h: h.write((text + "\n").encode()))
    return paths
