"""Sweep result storage: atomic chunk files, a manifest, resume, ``load_results`` as an ``xarray.Dataset``.

Folder layout (``DIR`` is the ``--out`` folder)::

    DIR/manifest.json            the sweep, its config hash, the grid layout, versions, git commit
    DIR/chunks/gGGGG-cCCCCCC.npz  the outputs of one chunk (leading axis = its points), the in-group flat
                                  index ``_index`` and the per-point coordinates ``coord:<axis>``
    DIR/chunks/gGGGG-cCCCCCC.json small record written after the .npz: the chunk's range, group, static values,
                                  config hash, the process that wrote it, wall time, status counts

Every file is written to a hidden temporary name in the same folder and moved into place with
:func:`os.replace` (atomic on POSIX file systems), so a reader never sees a partial chunk. A chunk is
*finished* when its ``.json`` exists (it is written last); a run killed mid-chunk leaves at most a hidden
temporary file or an ``.npz`` without ``.json``, and the rerun redoes that chunk.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time
import types
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import numpy as np

from lazyrich import _status
from lazyrich._io import atomic_write
from lazyrich._status import Status
from lazyrich.sims import _experiment, _sweep

__all__ = ["load_results", "sweep_status", "load_figure_result", "read_manifest"]

FORMAT = 1
# The codes a training sweep stores (lazyrich._status.Status, MISSING to DIVERGED).
STATUS_NAMES = {
    code: name for code, name in _status.STATUS_NAMES.items() if code <= Status.DIVERGED
}


# ----------------------------------------------------------------------------------------------------------------
# Manifest


def _git_info() -> dict[str, Any]:
    root = pathlib.Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no") != ""
        return {"git_commit": commit, "git_dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}


def build_manifest(plan: _sweep.Plan) -> dict[str, Any]:
    """Everything needed to read the results back without the experiment code."""
    import lazyrich

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
            "lazyrich_version": lazyrich.__version__,
            "jax_version": jax.__version__,
            "backend": jax.default_backend(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            **_git_info(),
        },
    }


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a sweep folder.

    Raises:
      FileNotFoundError: if ``folder`` does not exist or has no ``manifest.json``.
    """
    folder = pathlib.Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{str(folder)!r} is not a sweep folder (no manifest.json).")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} has format {manifest.get('format')!r}; this lazyrich reads {FORMAT}."
        )
    return manifest


def _finished_chunks(folder: pathlib.Path, config_hash: str) -> dict[str, dict[str, Any]]:
    """Records of the finished chunks (``.json`` present, matching hash, ``.npz`` present)."""
    chunk_dir = folder / "chunks"
    done = {}
    if not chunk_dir.is_dir():
        return done
    for path in sorted(chunk_dir.glob("g*-c*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):  # unreadable after a host crash without fsync: redo the chunk
            continue
        if record.get("config_hash") != config_hash:
            raise ValueError(
                f"chunk {path.name} in {str(folder)!r} belongs to another sweep "
                f"(hash {record.get('config_hash')!r}, manifest {config_hash!r})."
            )
        npz = path.with_suffix(".npz")
        if npz.is_file() and npz.stat().st_size > 0:
            done[path.stem] = record
    return done


def _check_folder(plan: _sweep.Plan, folder: pathlib.Path) -> dict[str, Any] | None:
    """The existing manifest (``None`` for a new folder); raises if the folder holds something else."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise ValueError(f"`--out` {str(folder)!r} exists and is not a folder.")
    if not (folder / "manifest.json").exists():
        if any(folder.iterdir()):
            raise ValueError(
                f"`--out` {str(folder)!r} is not empty and holds no sweep (no manifest.json); "
                f"choose a new or empty folder."
            )
        return None
    manifest = read_manifest(folder)
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
# Running


def _progress(total: int, initial: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="pt",
        disable=not enabled,
        dynamic_ncols=True,
        smoothing=0.1,
        file=sys.stderr,
    )


def _chunk_arrays(plan: _sweep.Plan, chunk: _sweep.Chunk, outputs: Mapping[str, np.ndarray]):
    group = plan.groups[chunk.group]
    arrays = dict(outputs)
    arrays["_index"] = np.arange(chunk.start, chunk.stop)
    for axis, values in plan.coordinates(group, chunk.start, chunk.stop).items():
        arrays[f"coord:{axis}"] = values if values.dtype != object else values.astype(str)
    return arrays


def _chunk_record(
    plan: _sweep.Plan, chunk: _sweep.Chunk, outputs, *, process: int, wall: float, devices: int = 1
):
    status = np.asarray(outputs["status"])
    values, counts = np.unique(status, return_counts=True)
    return {
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


def _barrier(name: str) -> None:
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices(name)


def execute(
    plan: _sweep.Plan,
    folder: pathlib.Path,
    *,
    progress: bool = True,
    distributed: bool = False,
    chunk_size_requested: int | None = None,
    fsync: bool = False,
) -> dict[str, Any]:
    """Run this process's unfinished chunks of ``plan`` into ``folder``; returns run statistics.

    Validates the folder first (raises before writing anything), writes the manifest (process 0), and then
    computes the chunks ``i`` with ``i % process_count == process_index`` that are not finished yet, pipelined:
    the next chunk is dispatched before the previous one is fetched and written (by a writer thread).

    Every file is written under a hidden temporary name and renamed into place, so a killed process never
    leaves a partial chunk. ``fsync=True`` also flushes each file to disk before the rename, which protects
    against a host crash (power loss, hard reset) at the cost of a disk flush per file; without it, a chunk
    file left empty or unreadable by a crash is detected and redone on resume.
    """
    folder = pathlib.Path(folder)
    process, count = (jax.process_index(), jax.process_count()) if distributed else (0, 1)
    manifest = _check_folder(plan, folder)
    if manifest is not None and manifest["layout"]["chunk_size"] != plan.chunk_size:
        stored = manifest["layout"]["chunk_size"]
        if chunk_size_requested is not None:
            print(
                f"lazyrich: note: {folder} was started with chunk size {stored}; keeping it "
                f"(requested {chunk_size_requested}).",
                file=sys.stderr,
            )
        plan = _sweep.plan_sweep(plan.sweep, chunk_size=stored)
    if manifest is None and process == 0:
        manifest = build_manifest(plan)
        (folder / "chunks").mkdir(parents=True, exist_ok=True)
        text = json.dumps(manifest, indent=2) + "\n"
        atomic_write(folder / "manifest.json", lambda h: h.write(text.encode()), tag=f"p{process}")
    if distributed:
        _barrier(f"lazyrich-sweep-start-{plan.config_hash}")
    chunk_dir = folder / "chunks"
    chunk_dir.mkdir(parents=True, exist_ok=True)
    for stale in chunk_dir.glob(f".*.p{process}.*.tmp"):  # our own leftovers from a killed run
        stale.unlink(missing_ok=True)

    finished = _finished_chunks(folder, plan.config_hash)
    mine = [c for c in plan.chunks if c.id % count == process]
    todo = [c for c in mine if c.name not in finished]
    done_points = sum(c.stop - c.start for c in mine if c.name in finished)
    total_points = sum(c.stop - c.start for c in mine)
    executor = _sweep.Executor(plan)
    desc = f"{plan.sweep.experiment}" + (f" [process {process}/{count}]" if count > 1 else "")
    start = time.perf_counter()
    # Pipeline: the main thread dispatches chunk i+1 before it waits for chunk i; a writer thread stores
    # finished chunks (npz, then json, each fsync'ed and renamed) while the devices compute the next ones.
    with (
        _progress(total_points, done_points, progress, desc) as bar,
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as writer,
    ):
        storage = {"wall_s": 0.0, "cpu_s": 0.0}

        def store(chunk, outputs, wall):
            start_wall, start_cpu = time.perf_counter(), time.thread_time()
            arrays = _chunk_arrays(plan, chunk, outputs)
            record = _chunk_record(
                plan, chunk, outputs, process=process, wall=wall, devices=len(executor.devices)
            )
            tag = f"p{process}"
            atomic_write(
                chunk_dir / f"{chunk.name}.npz",
                lambda h: np.savez(h, **arrays),
                tag=tag,
                fsync=fsync,
            )
            text = json.dumps(record) + "\n"
            atomic_write(
                chunk_dir / f"{chunk.name}.json",
                lambda h: h.write(text.encode()),
                tag=tag,
                fsync=fsync,
            )
            bar.update(chunk.stop - chunk.start)
            storage["wall_s"] += time.perf_counter() - start_wall
            storage["cpu_s"] += time.thread_time() - start_cpu

        writes: collections.deque = collections.deque()

        def finish(handle, submitted_at):
            chunk, outputs = executor.fetch(handle)
            while len(writes) >= 2:  # bound the chunks held in memory; re-raise a failed write
                writes.popleft().result()
            writes.append(writer.submit(store, chunk, outputs, time.perf_counter() - submitted_at))

        pending = None
        for chunk in todo:
            handle = (executor.submit(chunk), time.perf_counter())
            if pending is not None:
                finish(*pending)
            pending = handle
        if pending is not None:
            finish(*pending)
        while writes:
            writes.popleft().result()
    wall = time.perf_counter() - start
    if distributed:
        _barrier(f"lazyrich-sweep-end-{plan.config_hash}")
    return {
        "process_index": process,
        "process_count": count,
        "computed_chunks": [c.name for c in todo],
        "computed_points": sum(c.stop - c.start for c in todo),
        "skipped_chunks": len(mine) - len(todo),
        "wall_time_s": wall,
        "storage_wall_s": storage["wall_s"],  # time in the writer thread (overlaps computation)
        "storage_cpu_s": storage["cpu_s"],
        "config_hash": plan.config_hash,
    }


def run_stored(
    plan: _sweep.Plan,
    folder: pathlib.Path,
    *,
    progress: bool,
    distributed: bool,
    chunk_size_requested: int | None,
    fsync: bool = False,
):
    execute(
        plan,
        folder,
        progress=progress,
        distributed=distributed,
        chunk_size_requested=chunk_size_requested,
        fsync=fsync,
    )
    return load_results(folder)


def run_in_memory(plan: _sweep.Plan, *, progress: bool):
    """Compute every chunk without storage and assemble the dataset."""
    executor = _sweep.Executor(plan)
    records = []
    with _progress(plan.num_points, 0, progress, plan.sweep.experiment) as bar:
        pending = None
        for chunk in [*plan.chunks, None]:  # dispatch chunk i+1 before fetching chunk i
            handle = executor.submit(chunk) if chunk is not None else None
            if pending is not None:
                done, outputs = executor.fetch(pending)
                record = _chunk_record(plan, done, outputs, process=0, wall=0.0)
                records.append((record, _chunk_arrays(plan, done, outputs)))
                bar.update(done.stop - done.start)
            pending = handle
    return assemble(build_manifest(plan), records)


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
        "lazyrich_version": manifest["provenance"]["lazyrich_version"],
        "jax_version": manifest["provenance"]["jax_version"],
        "git_commit": str(manifest["provenance"].get("git_commit")),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def load_results(folder: str | os.PathLike):
    """Load a sweep folder as an ``xarray.Dataset``.

    One dimension per sweep axis (named as in the sweep, in grid order, with the axis values as coordinates),
    one variable per output of the experiment's ``point`` (trailing dimensions ``<name>_dim<i>``), and
    ``status`` (0 ok, 1 step cap, 2 diverged, -1 not computed yet). Points of unfinished chunks hold NaN
    (float outputs) or -1 (integer outputs). Attributes: experiment, config hash, points done, versions.

    Raises:
      FileNotFoundError: if ``folder`` is not a sweep folder.
    """
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    finished = _finished_chunks(folder, manifest["config_hash"])

    def records():
        for name, record in finished.items():
            with np.load(folder / "chunks" / f"{name}.npz") as npz:
                yield record, {k: npz[k] for k in npz.files}

    return assemble(manifest, records())


def sweep_status(folder: str | os.PathLike) -> dict[str, Any]:
    """Progress of a sweep folder: chunks and points done, status counts, and which processes wrote them."""
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    finished = _finished_chunks(folder, manifest["config_hash"])
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
        "status_counts": counts,
        "chunks_by_process": by_process,
        "axes": {a: len(v) for a, v in layout["axes"].items()},
        "created": manifest["provenance"]["created"],
        "git_commit": manifest["provenance"].get("git_commit"),
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
            "lazyrich_version": manifest["provenance"]["lazyrich_version"],
            "jax_version": manifest["provenance"]["jax_version"],
            "backend": manifest["provenance"]["backend"],
            "sweep_folder": str(folder),
            "config_hash": manifest["config_hash"],
        },
    )
    return dataclasses.replace(result, metadata=metadata)
