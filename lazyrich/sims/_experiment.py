"""Experiments: the protocol, the registry, the entry point :func:`run`, and typed ``--set`` overrides.

An *experiment* is a module in :mod:`lazyrich.sims.experiments` that defines

* ``NAME`` -- its registry name (e.g. ``"jacot2018_ntk_convergence"``);
* ``Config`` -- a frozen, keyword-only dataclass of Python scalars/tuples (validated in ``__post_init__``);
* ``default_config(*, quick=False) -> Config`` -- the paper's setting, or a seconds-to-minutes one;
* ``run(config, *, key, progress=False) -> Result``.

Figures, sweeps and the CLI reach experiments only through this protocol.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import numpy as np

__all__ = [
    "Result",
    "run",
    "experiments_registry",
    "get_experiment",
    "apply_overrides",
    "progress_bar",
]


@dataclasses.dataclass(frozen=True)
class Result:
    """What an experiment returns.

    Attributes:
      experiment: the experiment's registry name.
      config: the config that produced it (a frozen dataclass).
      arrays: named NumPy arrays (curves, grids, kernels) for plotting and storage.
      summary: JSON-serialisable numbers the figure is about (fits, errors, exponents).
      status: ``"ok"`` or a reason the run did not complete as configured (e.g. ``"diverged"``).
      metadata: anything else JSON-serialisable (coordinates, conventions, provenance).
    """

    experiment: str
    config: Any
    arrays: Mapping[str, np.ndarray]
    summary: Mapping[str, Any]
    status: str = "ok"
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def experiments_registry() -> dict[str, types.ModuleType]:
    """Every experiment module in :mod:`lazyrich.sims.experiments`, keyed by its ``NAME``."""
    from lazyrich.sims import experiments as package

    registry = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        registry[getattr(module, "NAME", info.name)] = module
    return registry


def get_experiment(experiment: str | types.ModuleType) -> types.ModuleType:
    """Resolve a registry name (or pass a module through)."""
    if isinstance(experiment, types.ModuleType):
        return experiment
    registry = experiments_registry()
    if experiment not in registry:
        raise ValueError(f"`experiment` must be one of {sorted(registry)}, got {experiment!r}.")
    return registry[experiment]


def run(
    experiment: str | types.ModuleType,
    config: Any = None,
    *,
    seed: int = 0,
    quick: bool = False,
    progress: bool = False,
) -> Result:
    """Run an experiment from an integer seed and attach provenance.

    Args:
      experiment: an experiment module or its registry name.
      config: its ``Config``; ``None`` takes ``default_config(quick=quick)``.
      seed: integer seed, turned into ``jax.random.key(seed)``.
      quick: only used when ``config`` is ``None``.
      progress: show a progress bar on long loops.

    Returns:
      The experiment's :class:`Result`, with ``metadata["provenance"]`` filled in.
    """
    module = get_experiment(experiment)
    if config is None:
        config = module.default_config(quick=quick)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"`seed` must be an integer, got {seed!r}.")
    start = time.perf_counter()
    result = module.run(config, key=jax.random.key(int(seed)), progress=progress)
    wall = time.perf_counter() - start
    metadata = dict(result.metadata)
    metadata["provenance"] = provenance(seed=int(seed), wall_time_s=wall)
    return dataclasses.replace(result, metadata=metadata)


def provenance(**extra: Any) -> dict[str, Any]:
    """Library and JAX versions, backend and device count, plus ``extra``.

    ``lazyrich_commit`` (and ``lazyrich_dirty``) are recorded only when lazyrich runs from a source
    checkout of itself (see :func:`lazyrich._version.source_commit`).
    """
    from lazyrich import _version

    return {
        **_version.version_info(),
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "device_count": jax.device_count(),
        **extra,
    }


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    enabled: bool = True,
):
    """A tqdm progress bar (to stderr), or a silent pass-through when ``enabled`` is false."""
    from tqdm.auto import tqdm

    return tqdm(
        iterable, total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True
    )


# ----------------------------------------------------------------------------------------------------------------
# Typed overrides (`--set key=value`)


def _coerce(key: str, raw: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (
            raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null"))
        ):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(key, raw, arg)
            except (TypeError, ValueError) as err:
                errors.append(str(err))
        raise TypeError(f"`{key}` expects {describe_type(annotation)}, got {raw!r}.")
    if origin is typing.Literal:
        for option in args:
            try:
                value = _coerce(key, raw, type(option))
            except (TypeError, ValueError):
                continue
            if value == option:
                return option
        raise ValueError(f"`{key}` must be one of {args}, got {raw!r}.")
    if origin is tuple:
        element = args[0] if args else str
        if isinstance(raw, str):
            text = raw.strip()
            if text[:1] + text[-1:] in (
                "()",
                "[]",
            ):  # one pair of outer brackets, as in "[0.5, 1.0]"
                text = text[1:-1]
            parts = [_unquote(p.strip()) for p in text.split(",") if p.strip() != ""]
        elif isinstance(raw, list | tuple):
            parts = list(raw)
        else:
            parts = [raw]
        if not parts and not isinstance(raw, list | tuple):
            # An empty list/tuple (a stored config, e.g. a sweep manifest) round-trips to (); the Config
            # itself decides whether an empty tuple is allowed.
            raise ValueError(f"`{key}` expects a non-empty comma-separated list, got {raw!r}.")
        return tuple(_coerce(key, p, element) for p in parts)
    if annotation is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.lower() in ("false", "0", "no", "off"):
            return False
        raise TypeError(f"`{key}` expects a boolean (true/false), got {raw!r}.")
    if annotation is int:
        if isinstance(raw, bool):
            raise TypeError(f"`{key}` expects an integer, got {raw!r}.")
        if isinstance(raw, int | np.integer):
            return int(raw)
        if isinstance(raw, str):
            try:
                return int(raw.replace("_", ""))
            except ValueError:
                pass
        raise TypeError(f"`{key}` expects an integer, got {raw!r}.")
    if annotation is float:
        if isinstance(raw, bool):
            raise TypeError(f"`{key}` expects a number, got {raw!r}.")
        if isinstance(raw, int | float | np.integer | np.floating):
            return float(raw)
        if isinstance(raw, str):
            try:
                return float(raw)
            except ValueError:
                pass
        raise TypeError(f"`{key}` expects a number, got {raw!r}.")
    if annotation is str:
        if isinstance(raw, str):
            return raw
        raise TypeError(f"`{key}` expects a string, got {raw!r}.")
    raise TypeError(
        f"`{key}` has a type ({describe_type(annotation)}) that cannot be set from the command line."
    )


def _unquote(text: str) -> str:
    """``'a'`` or ``"a"`` -> ``a`` (list elements written with quotes, as in ``["2af", "dms"]``)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def describe_type(annotation: Any) -> str:
    """How ``--set`` reads a config field of this annotation, in words (e.g. ``a comma-separated list of int``)."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return f"a comma-separated list of {describe_type(typing.get_args(annotation)[0])}"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def config_fields(config: Any) -> dict[str, Any]:
    """Field name -> type annotation of a config dataclass (instance or class)."""
    cls = config if isinstance(config, type) else type(config)
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def apply_overrides(config: Any, overrides: Mapping[str, Any]) -> Any:
    """Return ``config`` with fields replaced, values coerced from strings by the fields' annotations.

    Raises:
      ValueError: for an unknown key (the message lists the valid keys) or a value the config rejects.
      TypeError: for a value of the wrong type.
    """
    fields = config_fields(config)
    changes = {}
    for key, raw in overrides.items():
        if key not in fields:
            raise ValueError(
                f"unknown setting `{key}` for {type(config).__name__}; valid settings: {', '.join(fields)}."
            )
        changes[key] = _coerce(key, raw, fields[key])
    return dataclasses.replace(config, **changes)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a config dataclass (tuples become lists)."""
    return json_ready(dataclasses.asdict(config))


def json_ready(value: Any) -> Any:
    """Convert NumPy/JAX scalars and arrays, tuples and nested mappings into JSON-serialisable values."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray | jax.Array):
        return json_ready(np.asarray(value).tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return value if np.isfinite(value) else repr(value)
    return value
