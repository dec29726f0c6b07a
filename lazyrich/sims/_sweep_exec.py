"""Sweep execution: the sharded ``jit(vmap(point))`` of each group, chunk pipelining, resume and repair.

:mod:`lazyrich.sims._sweep` plans a sweep (nothing runs), this module computes its chunks, and
:mod:`lazyrich.sims._results` stores and reads them. :func:`execute` runs the chunks of a stored sweep that
are not finished yet, including chunks whose stored files are damaged (their checksum does not match, or
they cannot be read): those are recomputed and replaced, so a rerun of the same command repairs a folder.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import os
import pathlib
import sys
import time
import types
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich.sims import _results, _sweep

__all__ = ["Executor", "execute", "run_in_memory", "run_sweep"]


@functools.lru_cache(maxsize=64)
def _compiled_point(module: types.ModuleType, config: Any, seed_base: int, sharding: Any):
    return jax.jit(_sweep._vmapped_point(module, config, seed_base), out_shardings=sharding)


class Executor:
    """Compiles one sharded ``jit(vmap(point))`` per group and runs chunks on the local devices."""

    def __init__(self, plan: _sweep.Plan, *, devices: Sequence[jax.Device] | None = None):
        self.plan = plan
        self.devices = list(devices) if devices is not None else jax.local_devices()
        mesh = jax.sharding.Mesh(np.array(self.devices), ("sweep",))
        self.sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("sweep"))
        n = len(self.devices)
        # Every chunk gets the same padded shape: one compile per group.
        self.padded_size = -(-plan.chunk_size // n) * n
        self._compiled: dict[int, Any] = {}

    def _fn(self, group: _sweep.Group):
        if group.index not in self._compiled:
            self._compiled[group.index] = _compiled_point(
                self.plan.module, group.config, self.plan.sweep.seed_base, self.sharding
            )
        return self._compiled[group.index]

    def submit(self, chunk: _sweep.Chunk):
        """Dispatch a chunk (asynchronously); returns a handle for :meth:`fetch`."""
        group = self.plan.groups[chunk.group]
        values, seeds = self.plan.traced_values(group, chunk.start, chunk.stop)
        pad = self.padded_size - (chunk.stop - chunk.start)
        float_dtype = jnp.result_type(float)
        traced = {
            k: np.pad(v, (0, pad), mode="edge").astype(float_dtype) for k, v in values.items()
        }
        seeds = np.pad(seeds, (0, pad), mode="edge").astype(np.uint32)
        traced, seeds = jax.device_put((traced, seeds), self.sharding)
        return chunk, self._fn(group)(traced, seeds)

    @staticmethod
    def fetch(handle) -> tuple[_sweep.Chunk, dict[str, np.ndarray]]:
        """Wait for a submitted chunk; returns its outputs without the padding."""
        chunk, out = handle
        n = chunk.stop - chunk.start
        return chunk, {k: np.asarray(v)[:n] for k, v in out.items()}


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

    A finished chunk whose files are damaged (its ``.npz`` does not match the checksum in its ``.json``
    record, is missing, or its record is unreadable) is reported on stderr by file name and recomputed: the
    same program on the same inputs, so the repaired folder holds the same bits as an undamaged run. The
    statistics list those chunks under ``"repaired_chunks"``.
    """
    folder = pathlib.Path(folder)
    process, count = (jax.process_index(), jax.process_count()) if distributed else (0, 1)
    manifest = _results.check_folder(plan, folder)
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
        manifest = _results.write_manifest(plan, folder, tag=f"p{process}")
    if distributed:
        _barrier(f"lazyrich-sweep-start-{plan.config_hash}")
    chunk_dir = folder / "chunks"
    chunk_dir.mkdir(parents=True, exist_ok=True)
    for stale in chunk_dir.glob(f".*.p{process}.*.tmp"):  # our own leftovers from a killed run
        stale.unlink(missing_ok=True)

    mine = [c for c in plan.chunks if c.id % count == process]
    # Each process verifies the checksums of its own chunks only (it recomputes those that are damaged).
    finished, damaged = _results.scan_chunks(
        folder, plan.config_hash, verify={c.name for c in mine}
    )
    repair = [c.name for c in mine if c.name in damaged]
    if repair:
        print(
            f"lazyrich: note: recomputing {len(repair)} damaged chunk(s) of {folder}: "
            + "; ".join(f"{damaged[n]}" for n in repair),
            file=sys.stderr,
        )
    todo = [c for c in mine if c.name not in finished]
    done_points = sum(c.stop - c.start for c in mine if c.name in finished)
    total_points = sum(c.stop - c.start for c in mine)
    executor = Executor(plan)
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
            _results.write_chunk(
                chunk_dir,
                plan,
                chunk,
                outputs,
                process=process,
                wall=wall,
                devices=len(executor.devices),
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
        "repaired_chunks": repair,
        "wall_time_s": wall,
        "storage_wall_s": storage["wall_s"],  # time in the writer thread (overlaps computation)
        "storage_cpu_s": storage["cpu_s"],
        "config_hash": plan.config_hash,
    }


def run_in_memory(plan: _sweep.Plan, *, progress: bool):
    """Compute every chunk without storage and assemble the dataset."""
    executor = Executor(plan)
    records = []
    with _progress(plan.num_points, 0, progress, plan.sweep.experiment) as bar:
        pending = None
        for chunk in [*plan.chunks, None]:  # dispatch chunk i+1 before fetching chunk i
            handle = executor.submit(chunk) if chunk is not None else None
            if pending is not None:
                done, outputs = executor.fetch(pending)
                record = _results.chunk_record(plan, done, outputs, process=0, wall=0.0)
                records.append((record, _results.chunk_arrays(plan, done, outputs)))
                bar.update(done.stop - done.start)
            pending = handle
    return _results.assemble(_results.build_manifest(plan), records)


def run_sweep(
    sweep: _sweep.Sweep | Mapping[str, Any] | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    chunk_size: int | None = None,
    progress: bool = True,
    distributed: bool = False,
    fsync: bool = False,
):
    """Run a sweep and return its results as an ``xarray.Dataset`` (see :func:`~lazyrich.sims.load_results`).

    Args:
      sweep: a :class:`Sweep`, a mapping with its keys, or the path of a TOML file.
      out: output folder. With a folder, every finished chunk is stored atomically and a rerun resumes
        (finished chunks are skipped); a folder holding a different sweep is refused. ``None`` computes in
        memory.
      chunk_size: points per chunk (default: the sweep's ``chunk_size``, else up to 256); a resumed folder
        keeps the chunk size it was started with.
      progress: show a progress bar (points done, rate, ETA) on stderr.
      fsync: flush every chunk file to disk before renaming it (survives host crashes; slower).
      distributed: this process is one of ``jax.process_count()`` processes (``jax.distributed`` already
        initialized) sharing the chunks: chunk ``i`` is computed by process ``i % process_count``. The
        returned dataset then holds every point finished so far, by any process.

    Returns:
      An ``xarray.Dataset`` with one dimension per axis, a ``status`` variable (-1 = not computed).

    Raises:
      ValueError, TypeError: bad sweep (see :func:`~lazyrich.sims.plan_sweep`) or an ``out`` folder holding another sweep;
        raised before anything is computed or written.
    """
    if isinstance(sweep, str | os.PathLike):
        sweep = _sweep.load_sweep(sweep)
    plan = _sweep.plan_sweep(sweep, chunk_size=chunk_size)
    if out is None:
        return run_in_memory(plan, progress=progress)
    execute(
        plan,
        pathlib.Path(out),
        progress=progress,
        distributed=distributed,
        chunk_size_requested=chunk_size,
        fsync=fsync,
    )
    return _results.load_results(out)
