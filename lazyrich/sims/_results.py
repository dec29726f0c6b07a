"""Sweep result storage: atomic chunk files with checksums, a manifest, and ``load_results`` (xarray).

Folder layout (``DIR`` is the ``--out`` folder)::

    DIR/manifest.json            the sweep, its config hash, the grid layout, versions (and lazyrich's own
                                  commit when it runs from a source checkout)
    DIR/chunks/gGGGG-cCCCCCC.npz  the outputs of one chunk (leading axis = its points), the in-group flat
                                  index ``_index`` and the per-point coordinates ``coord:<axis>``
    DIR/chunks/gGGGG-cCCCCCC.json small record written after the .npz: the chunk's range, group, static values,
                                  config hash, the SHA-256 and size of the .npz, the process that wrote it,
                                  wall time, status counts

Every file is written to a hidden temporary name in the same folder and moved into place with
:func:`os.replace` (atomic on POSIX file systems), so a reader never sees a partial chunk. A chunk is
*finished* when its ``.json`` exists (it is written last) and its ``.npz`` matches the checksum recorded
there; a run killed mid-chunk leaves at most a hidden temporary file or an ``.npz`` without ``.json``, and the
rerun redoes that chunk. A chunk whose ``.json`` exists but whose ``.npz`` is missing, truncated or altered
(or whose ``.json`` cannot be read) is *damaged*: :func:`sweep_status` names its files, a rerun of the sweep
recomputes it, and :func:`load_results` refuses to load it (naming the file) unless asked to mark its points
missing. Every error about a stored file names the file.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import json
import os
import pathlib
import sys
import types
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from lazyrich import _version
from lazyrich._checks import check_choice
from lazyrich._errors import DataFileError
from lazyrich._io import atomic_write
from lazyrich.sims import _experiment

if TYPE_CHECKING:
    from lazyrich.sims import _sweep

__all__ = ["load_results", "sweep_status", "load_figure_result", "read_manifest"]

FORMAT = 2  # 2: chunk records carry the .npz checksum; 1 (read too): no checksum
READABLE_FORMATS = (1, 2)
STATUS_NAMES = {-1: "missing", 0: "ok", 1: "step_cap", 2: "diverged"}
MANIFEST_KEYS = ("format", "experiment", "config_hash", "identity", "layout", "provenance")
_CHUNK_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile)


# ----------------------------------------------------------------------------------------------------------------
# Manifest


def build_manifest(plan: _sweep.Plan) -> dict[str, Any]:
    """Everything needed to read the results back without the experiment code."""
    groups = [
        {
            "index": g.index,
            "static": _experiment.json_ready(g.static),
            "static_index": list(g.static_index),
            "num_points": g.num_points,
            "outputs": {k: [list(s), d] for k, (s, d) in plan.output_shapes[g.index].items()},
        }
        for g in plan.groups
    ]
    return {
        "format": FORMAT,
        "experiment": plan.sweep.experiment,
        "config_hash": plan.config_hash,
        "sweep": _experiment.json_ready(plan.sweep.to_dict()),
        "identity": plan.identity(),
        "layout": {
            "axes": _experiment.json_ready(plan.labels),
            "traced_axes": list(plan.traced_axes),
            "static_axes": list(plan.static_axes),
            "chunk_size": plan.chunk_size,
            "num_chunks": len(plan.chunks),
            "num_points": plan.num_points,
            "groups": groups,
        },
        "provenance": {
            **_version.version_info(),
            "jax_version": jax.__version__,
            "backend": jax.default_backend(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        },
    }


def write_manifest(plan: _sweep.Plan, folder: pathlib.Path, *, tag: str = "") -> dict[str, Any]:
    """Create ``folder/chunks`` and write ``folder/manifest.json`` atomically; returns the manifest."""
    manifest = build_manifest(plan)
    (folder / "chunks").mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2) + "\n"
    atomic_write(folder / "manifest.json", lambda h: h.write(text.encode()), tag=tag)
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a sweep folder.

    Raises:
      FileNotFoundError: if ``folder`` does not exist or has no ``manifest.json``.
      DataFileError: (a ``ValueError``) if ``manifest.json`` cannot be read, is not valid JSON or lacks a
        required entry; the message names the file and how to rebuild it.
      ValueError: if the manifest is of a storage format this lazyrich does not read.
    """
    folder = pathlib.Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{str(folder)!r} is not a sweep folder (no manifest.json).")
    rebuild = (
        f"rerunning `lazyrich sweep run CONFIG --out {folder}` with this sweep's CONFIG rebuilds it "
        f"and keeps the finished chunks"
    )
    try:
        manifest = json.loads(path.read_bytes())
    except OSError as err:
        raise DataFileError(f"sweep manifest {path} cannot be read: {err}.") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise DataFileError(
            f"sweep manifest {path} is damaged (not valid JSON: {err}); {rebuild}."
        ) from None
    if not isinstance(manifest, dict):
        raise DataFileError(
            f"sweep manifest {path} is damaged (a JSON {type(manifest).__name__}, expected an "
            f"object); {rebuild}."
        )
    if manifest.get("format") not in READABLE_FORMATS:
        raise ValueError(
            f"{str(path)!r} has format {manifest.get('format')!r}; this lazyrich reads "
            f"{', '.join(map(str, READABLE_FORMATS))}."
        )
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise DataFileError(
            f"sweep manifest {path} is damaged (no {', '.join(missing)}); {rebuild}."
        )
    return manifest


# ----------------------------------------------------------------------------------------------------------------
# Chunk files


def chunk_arrays(
    plan: _sweep.Plan, chunk: _sweep.Chunk, outputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The arrays stored in a chunk's ``.npz``: the outputs, ``_index`` and ``coord:<axis>``."""
    group = plan.groups[chunk.group]
    arrays = dict(outputs)
    arrays["_index"] = np.arange(chunk.start, chunk.stop)
    for axis, values in plan.coordinates(group, chunk.start, chunk.stop).items():
        arrays[f"coord:{axis}"] = values if values.dtype != object else values.astype(str)
    return arrays


def chunk_record(
    plan: _sweep.Plan,
    chunk: _sweep.Chunk,
    outputs: Mapping[str, np.ndarray],
    *,
    process: int,
    wall: float,
    devices: int = 1,
    data: bytes | None = None,
) -> dict[str, Any]:
    """The ``.json`` record of a chunk; ``data`` (the ``.npz`` bytes) adds its SHA-256 and size."""
    status = np.asarray(outputs["status"])
    values, counts = np.unique(status, return_counts=True)
    record = {
        "chunk": chunk.name,
        "id": chunk.id,
        "group": chunk.group,
        "index": chunk.index,
        "start": chunk.start,
        "stop": chunk.stop,
        "static": _experiment.json_ready(plan.groups[chunk.group].static),
        "config_hash": plan.config_hash,
        "process_index": process,
        "num_devices": devices,
        "wall_time_s": wall,
        "status_counts": {str(int(v)): int(c) for v, c in zip(values, counts)},
        "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if data is not None:
        record["npz_sha256"] = hashlib.sha256(data).hexdigest()
        record["npz_bytes"] = len(data)
    return record


def write_chunk(
    chunk_dir: pathlib.Path,
    plan: _sweep.Plan,
    chunk: _sweep.Chunk,
    outputs: Mapping[str, np.ndarray],
    *,
    process: int = 0,
    wall: float = 0.0,
    devices: int = 1,
    fsync: bool = False,
) -> dict[str, Any]:
    """Write a chunk's ``.npz`` and then its ``.json`` record (with the ``.npz`` checksum), atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **chunk_arrays(plan, chunk, outputs))
    data = buffer.getvalue()
    record = chunk_record(
        plan, chunk, outputs, process=process, wall=wall, devices=devices, data=data
    )
    tag = f"p{process}"
    atomic_write(chunk_dir / f"{chunk.name}.npz", lambda h: h.write(data), tag=tag, fsync=fsync)
    text = json.dumps(record) + "\n"
    atomic_write(
        chunk_dir / f"{chunk.name}.json", lambda h: h.write(text.encode()), tag=tag, fsync=fsync
    )
    return record


def _npz_damage(
    path: pathlib.Path,
    record: Mapping[str, Any],
    data: bytes | None = None,
    *,
    check_hash: bool = True,
) -> str | None:
    """Why the ``.npz`` of a finished chunk is damaged (a sentence naming the file), or ``None``.

    ``check_hash=False`` checks presence and size only (the caller verifies the checksum when it reads).
    """
    if not path.is_file():
        return f"{path} is missing (its record {path.with_suffix('.json').name} exists)"
    expected = record.get("npz_sha256")
    if expected is None:  # format 1: no checksum; only an empty file is detectable here
        return f"{path} is empty" if path.stat().st_size == 0 else None
    size = path.stat().st_size
    if size != record.get("npz_bytes", size):
        return (
            f"{path} has {size} bytes, its record says {record['npz_bytes']} (truncated or altered)"
        )
    if not check_hash:
        return None
    if data is None:
        data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        return f"{path} does not match the checksum in its record (altered after it was written)"
    return None


def scan_chunks(
    folder: pathlib.Path,
    config_hash: str,
    *,
    verify: bool | Iterable[str] = True,
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The finished chunks' records and the damaged chunks of a sweep folder.

    Args:
      folder: the sweep folder.
      config_hash: the sweep's hash; a record with another hash is an error.
      verify: hash every ``.npz`` against its record (``True``), none (``False``: presence and size
        only, for a caller that verifies when it reads), or only the chunks named in an iterable.

    Returns:
      ``(finished, damaged)``: ``finished`` maps a chunk name to its record (``.json`` readable,
      ``.npz`` present and matching its checksum); ``damaged`` maps a chunk name to a sentence naming
      the damaged file. A chunk with an ``.npz`` but no ``.json`` (interrupted) is in neither.

    Raises:
      ValueError: if a chunk record belongs to another sweep (another config hash).
    """
    chunk_dir = pathlib.Path(folder) / "chunks"
    finished: dict[str, dict[str, Any]] = {}
    damaged: dict[str, str] = {}
    if not chunk_dir.is_dir():
        return finished, damaged
    for path in sorted(chunk_dir.glob("g*-c*.json")):
        try:
            record = json.loads(path.read_bytes())
            if not isinstance(record, dict):
                raise ValueError(f"a JSON {type(record).__name__}, expected an object")
        except (OSError, ValueError) as err:  # e.g. a host crash without fsync
            damaged[path.stem] = f"{path} cannot be read ({err})"
            continue
        if record.get("config_hash") != config_hash:
            raise ValueError(
                f"chunk record {path} belongs to another sweep "
                f"(hash {record.get('config_hash')!r}, this sweep {config_hash!r})."
            )
        check = verify if isinstance(verify, bool) else path.stem in verify
        reason = _npz_damage(path.with_suffix(".npz"), record, check_hash=check)
        if reason is None:
            finished[path.stem] = record
        else:
            damaged[path.stem] = reason
    return finished, damaged


def read_chunk(path: pathlib.Path, record: Mapping[str, Any], names: Iterable[str]) -> dict:
    """The arrays of a chunk's ``.npz`` (checked against its record's checksum).

    Raises:
      DataFileError: naming ``path``, if the file is missing, does not match its checksum, cannot be
        read as an ``.npz`` or lacks one of ``names``.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataFileError(f"{path} cannot be read: {err}") from None
    reason = _npz_damage(path, record, data)
    if reason is not None:
        raise DataFileError(reason)
    try:
        with np.load(io.BytesIO(data)) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except _CHUNK_READ_ERRORS as err:
        raise DataFileError(
            f"{path} is not a readable chunk file ({type(err).__name__}: {err})"
        ) from None
    missing = [n for n in names if n not in arrays]
    if missing:
        raise DataFileError(f"{path} lacks the arrays {', '.join(missing)}")
    return arrays


def check_folder(plan: _sweep.Plan, folder: pathlib.Path) -> dict[str, Any] | None:
    """The existing manifest (``None`` for a new folder, or one to rebuild); raises if it holds another sweep.

    A folder whose ``manifest.json`` is missing or damaged but whose chunk records all belong to ``plan``
    (same config hash) is accepted: its manifest is rebuilt and its finished chunks are kept.
    """
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise ValueError(f"`--out` {str(folder)!r} exists and is not a folder.")
    if not (folder / "manifest.json").exists():
        if any(p.name != "chunks" for p in folder.iterdir()):
            raise ValueError(
                f"`--out` {str(folder)!r} is not empty and holds no sweep (no manifest.json); "
                f"choose a new or empty folder."
            )
        scan_chunks(folder, plan.config_hash)  # raises if the chunks belong to another sweep
        return None
    try:
        manifest = read_manifest(folder)
    except DataFileError as err:
        try:
            scan_chunks(folder, plan.config_hash)
        except ValueError as other:
            raise DataFileError(f"{err} Besides, {other}") from None
        print(f"lazyrich: note: {err}; rebuilding it.", file=sys.stderr)
        return None
    if manifest["config_hash"] != plan.config_hash:
        old, new = manifest["identity"], plan.identity()
        diffs = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        detail = []
        for k in diffs:
            if isinstance(old.get(k), dict) and isinstance(new.get(k), dict):
                sub = sorted(s for s in set(old[k]) | set(new[k]) if old[k].get(s) != new[k].get(s))
                detail.append(f"{k} ({', '.join(sub)})")
            else:
                detail.append(k)
        raise ValueError(
            f"`--out` {str(folder)!r} holds a different sweep (experiment {manifest['experiment']!r}, "
            f"config hash {manifest['config_hash']}) than the one requested (experiment "
            f"{plan.sweep.experiment!r}, hash {plan.config_hash}); they differ in: {'; '.join(detail)}. "
            f"Use a new --out folder, or delete this one to start over."
        )
    return manifest


# ----------------------------------------------------------------------------------------------------------------
# Reading


def _fill_value(dtype: np.dtype):
    if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating):
        return np.nan
    if np.issubdtype(dtype, np.bool_):
        return False
    return -1


def _coord_values(values: list[Any]) -> np.ndarray:
    if any(isinstance(v, list | tuple | dict) for v in values):
        return np.asarray([json.dumps(v) for v in values])
    return np.asarray(values)


def assemble(
    manifest: Mapping[str, Any],
    records: Iterable[tuple[Mapping[str, Any], Mapping[str, np.ndarray]]],
):
    """Build the ``xarray.Dataset`` from a manifest and ``(chunk record, chunk arrays)`` pairs."""
    import xarray as xr

    layout = manifest["layout"]
    axes = layout["axes"]
    names = list(axes)
    grid_shape = tuple(len(axes[a]) for a in names)
    traced_axes = layout["traced_axes"]
    static_axes = layout["static_axes"]
    traced_shape = tuple(len(axes[a]) for a in traced_axes)
    # Outputs may change shape across groups (a static axis such as the number of steps): pad to the largest.
    outputs: dict[str, tuple[list[int], np.dtype]] = {}
    for group in layout["groups"]:
        for name, (shape, dtype) in group["outputs"].items():
            dtype = np.dtype(dtype)
            if name in outputs:
                old_shape, old_dtype = outputs[name]
                if len(old_shape) != len(shape):
                    raise ValueError(
                        f"output `{name}` has rank {len(old_shape)} in one group and {len(shape)} "
                        f"in another; cannot stack it."
                    )
                shape = [max(a, b) for a, b in zip(old_shape, shape)]
                dtype = np.promote_types(old_dtype, dtype)
            outputs[name] = (list(shape), dtype)
    data = {
        name: np.full(grid_shape + tuple(shape), _fill_value(dtype), dtype=dtype)
        for name, (shape, dtype) in outputs.items()
    }
    done_points = 0
    for record, arrays in records:
        group = layout["groups"][record["group"]]
        flat = np.asarray(arrays["_index"])
        tidx = np.unravel_index(flat, traced_shape) if traced_shape else ()
        index = []
        for axis in names:
            if axis in static_axes:
                index.append(np.full(flat.shape, group["static_index"][static_axes.index(axis)]))
            else:
                index.append(tidx[traced_axes.index(axis)])
        index = tuple(index)
        for name in outputs:
            value = np.asarray(arrays[name])
            data[name][index + tuple(slice(0, s) for s in value.shape[1:])] = value
        done_points += len(flat)
    coords = {axis: _coord_values(axes[axis]) for axis in names}
    variables = {}
    for name, (shape, _) in outputs.items():
        extra = [f"{name}_dim{i}" for i in range(len(shape))]
        variables[name] = (names + extra, data[name])
    attrs = {
        "experiment": manifest["experiment"],
        "config_hash": manifest["config_hash"],
        "num_points": int(np.prod(grid_shape)),
        "points_done": done_points,
        "complete": int(done_points == int(np.prod(grid_shape))),
        "base_config": json.dumps(manifest["identity"]["base_config"]),
        "seed_base": manifest["identity"]["seed_base"],
        "status_codes": json.dumps(STATUS_NAMES),
        "lazyrich_version": str(manifest["provenance"].get("lazyrich_version")),
        "jax_version": str(manifest["provenance"].get("jax_version")),
        "lazyrich_commit": str(manifest["provenance"].get("lazyrich_commit", "")),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def load_results(folder: str | os.PathLike, *, damaged: str = "raise"):
    """Load a sweep folder as an ``xarray.Dataset``.

    One dimension per sweep axis (named as in the sweep, in grid order, with the axis values as coordinates),
    one variable per output of the experiment's ``point`` (trailing dimensions ``<name>_dim<i>``), and
    ``status`` (0 ok, 1 step cap, 2 diverged, -1 not computed yet). Points of unfinished chunks hold NaN
    (float outputs) or -1 (integer outputs). Attributes: experiment, config hash, points done, versions,
    and ``damaged_chunks`` (a JSON list of the damaged chunk files left out).

    Args:
      folder: the sweep's output folder.
      damaged: what to do with damaged chunks (an ``.npz`` that is missing, truncated, altered or
        unreadable while its record exists): ``"raise"`` (default) raises naming the files;
        ``"missing"`` loads the rest, marks their points missing (status -1, NaN) and warns.
        ``lazyrich sweep run`` with the same config recomputes them.

    Raises:
      FileNotFoundError: if ``folder`` is not a sweep folder.
      DataFileError: (a ``ValueError``) naming the file, for a damaged manifest, or damaged chunks with
        ``damaged="raise"``.
    """
    check_choice("damaged", damaged, ("raise", "missing"))
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    finished, bad = scan_chunks(
        folder, manifest["config_hash"], verify=False
    )  # read_chunk verifies
    names = {"_index"}
    for group in manifest["layout"]["groups"]:
        names.update(group["outputs"])
    pairs = []
    for name, record in finished.items():
        try:
            pairs.append((record, read_chunk(folder / "chunks" / f"{name}.npz", record, names)))
        except DataFileError as err:
            bad[name] = str(err)
    if bad:
        listing = "; ".join(bad[n] for n in sorted(bad))
        advice = (
            f"rerun `lazyrich sweep run CONFIG --out {folder}` with this sweep's CONFIG to recompute "
            f"them"
        )
        if damaged == "raise":
            raise DataFileError(
                f"{len(bad)} damaged chunk(s) in sweep folder {folder}: {listing}. Either {advice}, "
                f"or load the rest with load_results(..., damaged='missing') (their points are marked "
                f"missing, status -1)."
            )
        warnings.warn(
            f"left out {len(bad)} damaged chunk(s) of {folder} (their points have status -1): "
            f"{listing}. To repair, {advice}.",
            stacklevel=2,
        )
    ds = assemble(manifest, pairs)
    ds.attrs["damaged_chunks"] = json.dumps(sorted(bad))
    return ds


def sweep_status(folder: str | os.PathLike) -> dict[str, Any]:
    """Progress of a sweep folder: chunks and points done, status counts, which processes wrote them, and
    the damaged chunks (``"damaged_chunks"``: chunk name -> a sentence naming the damaged file).

    The ``.npz`` of every finished chunk is checked against the checksum in its record.
    """
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    finished, damaged = scan_chunks(folder, manifest["config_hash"])
    layout = manifest["layout"]
    counts: dict[str, int] = {}
    by_process: dict[str, int] = {}
    points_done = 0
    for record in finished.values():
        points_done += record["stop"] - record["start"]
        for code, n in record["status_counts"].items():
            label = STATUS_NAMES.get(int(code), f"status {code}")
            counts[label] = counts.get(label, 0) + n
        key = str(record["process_index"])
        by_process[key] = by_process.get(key, 0) + 1
    return {
        "experiment": manifest["experiment"],
        "config_hash": manifest["config_hash"],
        "chunks_done": len(finished),
        "chunks_total": layout["num_chunks"],
        "points_done": points_done,
        "points_total": layout["num_points"],
        "complete": points_done == layout["num_points"] and not damaged,
        "damaged_chunks": damaged,
        "status_counts": counts,
        "chunks_by_process": by_process,
        "axes": {a: len(v) for a, v in layout["axes"].items()},
        "created": manifest["provenance"].get("created"),
        "lazyrich_version": manifest["provenance"].get("lazyrich_version"),
        "lazyrich_commit": manifest["provenance"].get("lazyrich_commit"),
    }


def load_figure_result(folder: str | os.PathLike, experiment: types.ModuleType | str):
    """Turn a finished sweep of ``experiment`` into the :class:`~lazyrich.sims.Result` its figure plots.

    The experiment module must define ``result_from_dataset(config, ds) -> Result``, where ``config`` is the
    sweep's base config (the experiment's ``Config``) and ``ds`` the dataset of :func:`load_results`. This is
    what ``lazyrich figures make NAME --from DIR`` calls.

    Raises:
      FileNotFoundError: if ``folder`` is not a sweep folder.
      ValueError: if the folder holds a sweep of another experiment, or the experiment has no
        ``result_from_dataset``.
    """
    module = _experiment.get_experiment(experiment)
    manifest = read_manifest(folder)
    name = getattr(module, "NAME", module.__name__)
    if manifest["experiment"] != name:
        raise ValueError(
            f"{str(folder)!r} holds a sweep of experiment {manifest['experiment']!r}, but this "
            f"figure plots {name!r}."
        )
    if not hasattr(module, "result_from_dataset"):
        raise ValueError(
            f"experiment {name!r} cannot build its figure from a sweep (it defines no "
            f"`result_from_dataset(config, ds)`); run `lazyrich figures make` without --from."
        )
    config = _experiment.apply_overrides(
        module.default_config(), manifest["identity"]["base_config"]
    )
    ds = load_results(folder)
    result = module.result_from_dataset(config, ds)
    metadata = dict(result.metadata)
    metadata.setdefault(
        "provenance",
        {
            **{
                k: v
                for k, v in manifest["provenance"].items()
                if k in ("lazyrich_version", "lazyrich_commit", "jax_version", "backend")
            },
            "sweep_folder": str(folder),
            "config_hash": manifest["config_hash"],
        },
    )
    return dataclasses.replace(result, metadata=metadata)
