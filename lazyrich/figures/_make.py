"""Discovery of figure modules and the ``figures make`` pipeline (validate -> compute -> plot -> write)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pathlib
import pkgutil
import sys
import tempfile
import time
import types
from collections.abc import Mapping
from typing import Any

from lazyrich import sims
from lazyrich._io import atomic_write
from lazyrich.sims import _experiment

__all__ = ["check_out_dir", "figure_registry", "get_figure", "make", "prepare", "Plan", "settings"]


def figure_registry() -> dict[str, types.ModuleType]:
    """Every figure module, keyed by its CLI ``NAME``, in alphabetical order."""
    registry = {}
    for info in pkgutil.iter_modules([str(pathlib.Path(__file__).parent)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
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


def settings(name: str) -> list[dict[str, Any]]:
    """Every setting of a figure's experiment: name, type, default value and quick value.

    Returns:
      One dict per ``Config`` field, in field order, with ``"name"``, ``"type"`` (as ``--set`` reads it),
      ``"default"`` and ``"quick"`` (the values of ``default_config()`` and ``default_config(quick=True)``).
    """
    figure = get_figure(name)
    default = figure.EXPERIMENT.default_config(quick=False)
    quick = figure.EXPERIMENT.default_config(quick=True)
    return [
        {
            "name": field,
            "type": _experiment.describe_type(annotation),
            "default": getattr(default, field),
            "quick": getattr(quick, field),
        }
        for field, annotation in _experiment.config_fields(default).items()
    ]


def check_out_dir(out_dir: str | os.PathLike) -> pathlib.Path:
    """Check that ``out_dir`` is a folder that can be written (or created); nothing is created.

    Raises:
      ValueError: if ``out_dir`` (or the nearest existing folder above it) is a file, or is not writable.
    """
    out = pathlib.Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"`--out` {str(out)!r} exists and is not a folder; give a folder (it is created if missing)."
        )
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"`--out` {str(out)!r} cannot be created: {str(existing)!r} is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"`--out` {str(out)!r} is not writable (no write permission on {str(existing)!r})."
        )
    return out


def _save_elsewhere(name: str, writers: Mapping[str, Any]) -> pathlib.Path | None:
    """Write ``NAME.EXT`` files into a new temporary folder; returns it (``None`` if that fails too)."""
    try:
        folder = pathlib.Path(tempfile.mkdtemp(prefix=f"lazyrich-{name}-"))
        for ext, write in writers.items():
            atomic_write(folder / f"{name}.{ext}", write)
    except OSError:
        return None
    return folder


def make(
    plan: Plan,
    out_dir: str | os.PathLike,
    *,
    progress: bool = True,
    result: sims.Result | None = None,
) -> dict[str, pathlib.Path]:
    """Run ``plan`` (unless ``result`` is given) and write ``NAME.png``, ``NAME.pdf`` and ``NAME.json``.

    ``out_dir`` is checked before anything runs (:func:`check_out_dir`). Computed work is never lost: if
    the files cannot be written to ``out_dir`` after the computation, they are written to a new temporary
    folder named in the error; if ``plot`` fails, the JSON record (settings and summary) is saved there
    first and the error notes where.

    Returns:
      The written paths, keyed by ``"png"``, ``"pdf"`` and ``"json"``.

    Raises:
      ValueError: if ``out_dir`` is a file or not writable (before any work).
      OSError: if writing to ``out_dir`` fails after the computation; the message names the folder the
        results were written to instead.
    """
    import matplotlib

    matplotlib.use("Agg", force=False) if "matplotlib.pyplot" not in sys.modules else None
    import matplotlib.pyplot as plt

    from lazyrich.figures import _style

    figure = plan.figure
    out = check_out_dir(out_dir)
    start = time.perf_counter()
    if result is None:
        result = sims.run(figure.EXPERIMENT, plan.config, seed=plan.seed, progress=progress)
    checks = sims.checks(result)
    try:
        with plt.style.context(_style.STYLE):
            fig = figure.plot(result)
            _style.add_verdict(fig, checks)
    except Exception as err:
        text = _record_text(plan, result, checks, time.perf_counter() - start)
        saved = _save_elsewhere(figure.NAME, {"json": lambda h: h.write(text.encode())})
        if saved is not None:
            err.add_note(
                f"lazyrich: plotting failed after the computation; its settings and summary were "
                f"saved to {saved / (figure.NAME + '.json')}."
            )
        raise
    wall = time.perf_counter() - start
    text = _record_text(plan, result, checks, wall)
    writers = {
        "png": lambda h: fig.savefig(h, format="png", dpi=150),
        "pdf": lambda h: fig.savefig(h, format="pdf"),
        "json": lambda h: h.write(text.encode()),
    }
    paths = {ext: out / f"{figure.NAME}.{ext}" for ext in writers}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for ext, write in writers.items():
            atomic_write(paths[ext], write)
    except OSError as err:
        saved = _save_elsewhere(figure.NAME, writers)
        where = (
            f"the computed figure and its JSON were written to {saved} instead"
            if saved is not None
            else "writing them to a temporary folder failed too"
        )
        raise OSError(f"could not write {figure.NAME} to {str(out)!r} ({err}); {where}.") from err
    finally:
        plt.close(fig)
    return paths


def _record_text(plan: Plan, result: sims.Result, checks: list, wall: float) -> str:
    """The ``NAME.json`` record of a made figure, as text."""
    figure = plan.figure
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
        **{
            k: v
            for k, v in result.metadata.get("provenance", {}).items()
            if k.endswith("version") or k in ("lazyrich_commit", "lazyrich_dirty")
        },
        "backend": result.metadata.get("provenance", {}).get("backend"),
        "summary": sims.json_ready(result.summary),
        "verdict": sims.verdict(checks),
        "checks": [c.as_dict() for c in checks],
    }
    return json.dumps(record, indent=2, sort_keys=False) + "\n"
