"""Declarative sweeps: a grid over an experiment's config, vmapped over traced fields, sharded over devices.

A sweep names an experiment that implements the *sweep protocol* (``TRACED`` and ``point``, see
:mod:`lazyrich.sims`), ``base`` overrides of its config and the ``axes`` of its grid. Axes over ``TRACED``
fields and the reserved ``seed`` axis are vmapped (one compiled program); every combination of the other
(shape-changing) axes is a separate *group*, a separate compiled program built with
``dataclasses.replace``. The key of a point is ``fold_in(key(seed_base), seed)``, so it depends on the seed
only: every point with the same seed shares its randomness (common random numbers across the grid).

Inside a group the points are numbered in C order over the vmapped axes and split into *chunks* of
``chunk_size`` points; a chunk is padded to a multiple of the local device count, placed on a one-axis
``Mesh`` of the local devices with ``NamedSharding`` and computed by ``jit(vmap(point))``; the padding is
dropped. With several processes (``jax.distributed``) the global chunk ``i`` belongs to process
``i % process_count``. This module plans (validates and lays out, nothing runs);
:mod:`lazyrich.sims._sweep_exec` executes and :mod:`lazyrich.sims._results` stores.

The sweep protocol (what an experiment module defines to be sweepable):

* ``TRACED: tuple[str, ...]`` -- float ``Config`` fields that may vary across grid points without recompiling;
* ``point(config, traced, key) -> dict[str, Array]`` -- one grid point, pure and jit/vmap-able: ``config``
  supplies the static fields, ``traced`` maps *every* ``TRACED`` name to a scalar array, ``key`` is a typed
  key. It returns fixed-shape arrays including ``"status"`` (int32: 0 ok, 1 step cap, 2 diverged); a diverged
  point returns finite-or-NaN values and status 2, never raises;
* optionally ``result_from_dataset(config, ds) -> Result`` -- turns a finished sweep (``ds`` from
  :func:`~lazyrich.sims.load_results`, ``config`` the sweep's base config) into the ``Result`` its figure's
  ``plot`` expects, so that ``lazyrich figures make NAME --from DIR`` plots a sweep without recomputing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import math
import os
import pathlib
import tomllib
import types
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich.sims import _experiment

__all__ = ["Sweep", "load_sweep", "plan_sweep", "SWEEP_KEYS"]

SEED_AXIS = "seed"
SWEEP_KEYS = ("experiment", "base", "axes", "quick", "seed_base", "chunk_size", "description")
DEFAULT_CHUNK_SIZE = 256


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A declarative sweep: an experiment, overrides of its config, and the axes of the grid.

    Attributes:
      experiment: the experiment's registry name (it must define ``TRACED`` and ``point``).
      axes: ``{name: [values...]}`` in grid order; a name is a config field or ``"seed"`` (integer seeds).
      base: ``{field: value}`` overrides applied to ``default_config(quick=quick)`` before the grid.
      quick: start from the experiment's quick config.
      seed_base: the key of seed ``s`` is ``fold_in(key(seed_base), s)``.
      chunk_size: points per stored chunk (an execution setting; not part of the sweep's identity).
      description: free text, stored in the manifest.

    Example:
      >>> Sweep(experiment="toy_quadratic", axes={"learning_rate": [0.1, 1.0], "seed": [0, 1]})  # doctest: +SKIP
    """

    experiment: str
    axes: Mapping[str, Sequence[Any]]
    base: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    quick: bool = False
    seed_base: int = 0
    chunk_size: int | None = None
    description: str = ""

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], *, source: str = "sweep") -> Sweep:
        """Build from a mapping with the keys of :data:`SWEEP_KEYS` (as read from TOML); checks key names."""
        if not isinstance(spec, Mapping):
            raise TypeError(f"`{source}` must be a table/mapping, got {type(spec).__name__}.")
        unknown = [k for k in spec if k not in SWEEP_KEYS]
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(repr(k) for k in unknown)} in {source}; valid keys: "
                f"{', '.join(SWEEP_KEYS)}."
            )
        for required in ("experiment", "axes"):
            if required not in spec:
                raise ValueError(f"{source} must set `{required}`.")
        return cls(**{k: spec[k] for k in SWEEP_KEYS if k in spec})

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "base": dict(self.base),
            "axes": {k: list(v) for k, v in self.axes.items()},
            "quick": self.quick,
            "seed_base": self.seed_base,
            "chunk_size": self.chunk_size,
            "description": self.description,
        }


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read a sweep from a TOML file (top-level keys of :data:`SWEEP_KEYS`, tables ``[base]``, ``[axes]``).

    Raises:
      FileNotFoundError: if ``path`` does not exist.
      ValueError: for malformed TOML or unknown keys.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {str(path)!r} does not exist.")
    try:
        spec = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"`{path}` is not valid TOML: {err}.") from None
    return Sweep.from_dict(spec, source=f"`{path}`")


# ----------------------------------------------------------------------------------------------------------------
# Planning: validate everything and lay out groups and chunks (nothing runs, nothing is written).


@dataclasses.dataclass(frozen=True)
class Group:
    """One compiled program: a combination of the static axes."""

    index: int
    static: dict[str, Any]  # static axis name -> value
    static_index: tuple[int, ...]  # position along each static axis
    config: Any  # the experiment config for this group (traced fields at their base values)
    num_points: int  # product of the vmapped axes' lengths


@dataclasses.dataclass(frozen=True)
class Chunk:
    """A contiguous range of points of one group; ``id`` is its global number (process ``id % count``)."""

    id: int
    group: int
    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"g{self.group:04d}-c{self.index:06d}"


@dataclasses.dataclass(frozen=True)
class Plan:
    """A validated sweep: its experiment module, resolved base config, coerced axes, groups and chunks."""

    sweep: Sweep
    module: types.ModuleType
    base_config: Any
    axes: dict[str, list[Any]]  # coerced values, grid order
    labels: dict[
        str, list[Any]
    ]  # coordinate labels (= axes, except scalars given for tuple fields)
    traced_axes: tuple[str, ...]  # vmapped axes (traced fields and seed), grid order
    static_axes: tuple[str, ...]
    groups: tuple[Group, ...]
    chunk_size: int
    chunks: tuple[Chunk, ...]
    config_hash: str
    output_shapes: dict[
        int, dict[str, tuple[tuple[int, ...], str]]
    ]  # group -> name -> (shape, dtype)

    @property
    def num_points(self) -> int:
        return sum(g.num_points for g in self.groups)

    def identity(self) -> dict[str, Any]:
        """What makes two sweeps the same (hashed into ``config_hash``)."""
        return {
            "experiment": self.sweep.experiment,
            "base_config": _experiment.config_to_dict(self.base_config),
            "axes": _experiment.json_ready(self.axes),
            "seed_base": self.sweep.seed_base,
        }

    def traced_values(
        self, group: Group, start: int, stop: int
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Traced-field values (every ``TRACED`` field, float) and seeds of points ``start:stop`` of a group."""
        shape = tuple(len(self.axes[a]) for a in self.traced_axes)
        flat = np.arange(start, stop)
        idx = np.unravel_index(flat, shape) if shape else ()
        values = {}
        for name in self.module.TRACED:
            if name in self.traced_axes:
                column = np.asarray(self.axes[name], dtype=np.float64)
                values[name] = column[idx[self.traced_axes.index(name)]]
            else:
                values[name] = np.full(flat.shape, float(getattr(group.config, name)))
        if SEED_AXIS in self.traced_axes:
            seeds = np.asarray(self.axes[SEED_AXIS], dtype=np.int64)[
                idx[self.traced_axes.index(SEED_AXIS)]
            ]
        else:
            seeds = np.zeros(flat.shape, np.int64)
        return values, seeds

    def coordinates(self, group: Group, start: int, stop: int) -> dict[str, np.ndarray]:
        """Per-point coordinates (one array per axis, grid order) of points ``start:stop`` of a group."""
        shape = tuple(len(self.axes[a]) for a in self.traced_axes)
        idx = np.unravel_index(np.arange(start, stop), shape) if shape else ()
        coords = {}
        for axis in self.sweep_axes:
            if axis in self.static_axes:
                label = self.labels[axis][group.static_index[self.static_axes.index(axis)]]
                if isinstance(label, list | tuple):
                    label = json.dumps(list(label))
                coords[axis] = np.full(stop - start, label)
            else:
                coords[axis] = np.asarray(self.labels[axis])[idx[self.traced_axes.index(axis)]]
        return coords

    def grid_index(self, group: Group, flat: np.ndarray) -> tuple[np.ndarray, ...]:
        """Full-grid multi-index (one array per axis, grid order) of flat in-group indices."""
        shape = tuple(len(self.axes[a]) for a in self.traced_axes)
        idx = np.unravel_index(flat, shape) if shape else ()
        out = []
        for axis in self.sweep_axes:
            if axis in self.static_axes:
                out.append(np.full(flat.shape, group.static_index[self.static_axes.index(axis)]))
            else:
                out.append(idx[self.traced_axes.index(axis)])
        return tuple(out)

    @property
    def sweep_axes(self) -> tuple[str, ...]:
        return tuple(self.axes)


def _check_protocol(module: types.ModuleType) -> None:
    missing = [n for n in ("TRACED", "point", "Config", "default_config") if not hasattr(module, n)]
    if missing:
        raise ValueError(
            f"experiment {module.NAME!r} does not implement the sweep protocol (missing "
            f"{', '.join(missing)}); sweepable experiments: {', '.join(sweepable_experiments())}."
        )


def sweepable_experiments() -> list[str]:
    """Registry names of the experiments that define ``TRACED`` and ``point``."""
    return sorted(
        n
        for n, m in _experiment.experiments_registry().items()
        if hasattr(m, "TRACED") and hasattr(m, "point")
    )


def _hash(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_sweep(
    sweep: Sweep | Mapping[str, Any], *, chunk_size: int | None = None, check_outputs: bool = True
) -> Plan:
    """Validate a sweep and lay out its groups and chunks; nothing is computed or written.

    ``check_outputs`` traces ``point`` once per group with :func:`jax.eval_shape` to check that it returns a
    dict of arrays with an int ``status`` (cheap; no computation).

    Raises:
      ValueError: unknown experiment or key, an experiment without the sweep protocol, an empty or
        duplicated axis, an axis set in ``base`` too, a value the config rejects.
      TypeError: a value of the wrong type (coerced by the config field's annotation).
    """
    if not isinstance(sweep, Sweep):
        sweep = Sweep.from_dict(sweep)
    if not isinstance(sweep.experiment, str):
        raise TypeError(f"`experiment` must be a string, got {sweep.experiment!r}.")
    registry = _experiment.experiments_registry()
    if sweep.experiment not in registry:
        raise ValueError(
            f"unknown experiment {sweep.experiment!r}; sweepable experiments: "
            f"{', '.join(sweepable_experiments())}."
        )
    module = registry[sweep.experiment]
    _check_protocol(module)
    for name, value in (("quick", sweep.quick),):
        if not isinstance(value, bool):
            raise TypeError(f"`{name}` must be true or false, got {value!r}.")
    if (
        isinstance(sweep.seed_base, bool)
        or not isinstance(sweep.seed_base, int)
        or sweep.seed_base < 0
    ):
        raise TypeError(f"`seed_base` must be a non-negative integer, got {sweep.seed_base!r}.")
    if not isinstance(sweep.description, str):
        raise TypeError(f"`description` must be a string, got {sweep.description!r}.")
    chunk_size = sweep.chunk_size if chunk_size is None else chunk_size
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"`chunk_size` must be a positive integer, got {chunk_size!r}.")
    if not isinstance(sweep.base, Mapping):
        raise TypeError(f"`base` must be a table of config settings, got {sweep.base!r}.")
    if not isinstance(sweep.axes, Mapping) or not sweep.axes:
        raise ValueError(
            f"`axes` must be a non-empty table of name = [values...], got {sweep.axes!r}."
        )

    base_config = _experiment.apply_overrides(
        module.default_config(quick=sweep.quick), dict(sweep.base)
    )
    fields = _experiment.config_fields(base_config)
    traced_fields = tuple(module.TRACED)
    for name in traced_fields:
        if name not in fields:
            raise ValueError(
                f"experiment {sweep.experiment!r} lists `{name}` in TRACED, but its Config "
                f"has no such field."
            )
    axes: dict[str, list[Any]] = {}
    labels: dict[str, list[Any]] = {}
    for name, values in sweep.axes.items():
        if name in sweep.base:
            raise ValueError(f"`{name}` is set in both `base` and `axes`; set it in one place.")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise TypeError(f"axis `{name}` must be a list of values, got {values!r}.")
        if len(values) == 0:
            raise ValueError(f"axis `{name}` is empty; give it at least one value.")
        if name == SEED_AXIS:
            coerced = []
            for v in values:
                if (
                    isinstance(v, bool)
                    or not isinstance(v, int | np.integer)
                    or v < 0
                    or v >= 2**31
                ):
                    raise TypeError(f"axis `seed` expects non-negative integers, got {v!r}.")
                coerced.append(int(v))
        elif name not in fields:
            raise ValueError(
                f"unknown axis `{name}` for experiment {sweep.experiment!r}; valid axes: "
                f"{', '.join(fields)}, seed."
            )
        else:
            # Coerce by the annotation and validate each value through the config itself.
            coerced = [
                getattr(_experiment.apply_overrides(base_config, {name: v}), name) for v in values
            ]
        # A scalar given for a tuple field (e.g. `num_train = [128, 256]`) becomes a 1-tuple in the config
        # but keeps the scalar as its coordinate label.
        labels[name] = [
            c[0] if isinstance(c, tuple) and len(c) == 1 and not isinstance(v, list | tuple) else c
            for c, v in zip(coerced, values)
        ]
        if len(set(map(repr, coerced))) != len(coerced):
            raise ValueError(
                f"axis `{name}` has repeated values {list(values)!r}; coordinates must be unique."
            )
        axes[name] = coerced
    traced_axes = tuple(a for a in axes if a in traced_fields or a == SEED_AXIS)
    static_axes = tuple(a for a in axes if a not in traced_axes)
    traced_shape = tuple(len(axes[a]) for a in traced_axes)
    num_vmapped = math.prod(traced_shape)

    groups = []
    for gi, combo in enumerate(itertools.product(*(range(len(axes[a])) for a in static_axes))):
        static = {a: axes[a][i] for a, i in zip(static_axes, combo)}
        config = dataclasses.replace(base_config, **static)
        groups.append(
            Group(
                index=gi,
                static=static,
                static_index=tuple(combo),
                config=config,
                num_points=num_vmapped,
            )
        )
    if chunk_size is None:
        chunk_size = min(num_vmapped, DEFAULT_CHUNK_SIZE)
    chunks = []
    for group in groups:
        for ci, start in enumerate(range(0, group.num_points, chunk_size)):
            chunks.append(
                Chunk(
                    id=len(chunks),
                    group=group.index,
                    index=ci,
                    start=start,
                    stop=min(start + chunk_size, group.num_points),
                )
            )
    plan = Plan(
        sweep=sweep,
        module=module,
        base_config=base_config,
        axes=axes,
        labels=labels,
        traced_axes=traced_axes,
        static_axes=static_axes,
        groups=tuple(groups),
        chunk_size=chunk_size,
        chunks=tuple(chunks),
        config_hash="",
        output_shapes={},
    )
    plan = dataclasses.replace(plan, config_hash=_hash(plan.identity()))
    if check_outputs:
        shapes = {g.index: _output_shapes(plan, g) for g in groups}
        plan = dataclasses.replace(plan, output_shapes=shapes)
    return plan


def _point_fn(plan: Plan, group: Group):
    return _vmapped_point(plan.module, group.config, plan.sweep.seed_base)


@functools.lru_cache(maxsize=64)
def _vmapped_point(module: types.ModuleType, config: Any, seed_base: int):
    """``vmap`` of ``point`` over (traced values, seeds); cached so reruns reuse the compiled program."""

    def one(traced, seed):
        key = jr.fold_in(jr.key(seed_base), seed)
        return module.point(config, traced, key)

    return jax.vmap(one)


def _output_shapes(plan: Plan, group: Group) -> dict[str, tuple[tuple[int, ...], str]]:
    float_dtype = jnp.result_type(float)
    traced = {n: jax.ShapeDtypeStruct((1,), float_dtype) for n in plan.module.TRACED}
    seeds = jax.ShapeDtypeStruct((1,), jnp.uint32)
    try:
        out = jax.eval_shape(_point_fn(plan, group), traced, seeds)
    except Exception as err:  # say which group failed to trace, keep the original error
        err.add_note(
            f"(raised while tracing {plan.sweep.experiment}.point for the "
            f"{group.static or 'base'} config of the sweep)"
        )
        raise
    if not isinstance(out, Mapping) or "status" not in out:
        raise ValueError(
            f"{plan.sweep.experiment}.point must return a dict of arrays including `status`, "
            f"got {type(out).__name__} with keys {list(out) if isinstance(out, Mapping) else ''}."
        )
    shapes = {}
    for name, leaf in out.items():
        if not hasattr(leaf, "shape"):
            raise ValueError(f"{plan.sweep.experiment}.point output `{name}` is not an array.")
        shapes[name] = (tuple(leaf.shape[1:]), str(leaf.dtype))
    if shapes["status"][0] != () or not np.issubdtype(np.dtype(shapes["status"][1]), np.integer):
        raise ValueError(
            f"{plan.sweep.experiment}.point `status` must be an int scalar, got {shapes['status']}."
        )
    return shapes
