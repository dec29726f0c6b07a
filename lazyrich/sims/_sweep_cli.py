"""``lazyrich sweep run CONFIG --out DIR`` and ``lazyrich sweep status DIR``."""

from __future__ import annotations

import argparse
import json
import pathlib

from lazyrich._errors import UsageError

__all__ = ["add_parser"]


def _usage_error(message: str) -> Exception:
    return UsageError(message)


def _initialize_distributed(args) -> None:
    import jax

    # CPU hosts need a collectives implementation for the start/end barriers (no effect on GPU/TPU).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = {}
    if args.coordinator is not None:
        kwargs["coordinator_address"] = args.coordinator
    if args.num_processes is not None:
        kwargs["num_processes"] = args.num_processes
    if args.process_id is not None:
        kwargs["process_id"] = args.process_id
    try:
        jax.distributed.initialize(**kwargs)
    except (ValueError, RuntimeError) as err:
        raise UsageError(
            f"`--distributed`: jax.distributed.initialize() failed: {err} On one host, drop "
            f"--distributed; on several, give --coordinator HOST:PORT, --num-processes and --process-id "
            f"(auto-detected only on TPU pods, SLURM and Open MPI)."
        ) from None


def _sweep_run(args) -> int:
    from lazyrich.sims import _results, _sweep, _sweep_exec

    given = [
        f for f in ("coordinator", "num_processes", "process_id") if getattr(args, f) is not None
    ]
    if given and not args.distributed:
        flags = ", ".join("--" + f.replace("_", "-") for f in given)
        raise _usage_error(f"{flags} only apply with --distributed.")
    try:
        sweep = _sweep.load_sweep(args.config)
    except (ValueError, TypeError) as err:
        raise _usage_error(str(err)) from None
    if args.distributed:
        # Before anything touches JAX: planning traces `point`, which may run JAX code (data loading).
        _initialize_distributed(args)
    try:
        plan = _sweep.plan_sweep(sweep, chunk_size=args.chunk_size)
        _results.check_folder(
            plan, pathlib.Path(args.out)
        )  # refuse a different sweep, write nothing
    except (ValueError, TypeError) as err:
        raise _usage_error(str(err)) from None
    try:
        stats = _sweep_exec.execute(
            plan,
            pathlib.Path(args.out),
            progress=not args.quiet,
            distributed=args.distributed,
            chunk_size_requested=args.chunk_size,
            fsync=args.fsync,
        )
    except (ValueError, TypeError) as err:  # only folder checks raise these before work starts
        raise _usage_error(str(err)) from None
    status = _results.sweep_status(args.out)
    prefix = (
        f"process {stats['process_index']}/{stats['process_count']}: "
        if stats["process_count"] > 1
        else ""
    )
    print(
        f"{prefix}computed {len(stats['computed_chunks'])} chunks ({stats['computed_points']} points) in "
        f"{stats['wall_time_s']:.1f} s, skipped {stats['skipped_chunks']} finished; folder {args.out}: "
        f"{status['points_done']}/{status['points_total']} points done."
    )
    if args.report is not None:
        pathlib.Path(args.report).write_text(json.dumps(stats) + "\n")
    return 0


def _sweep_status(args) -> int:
    from lazyrich.sims import _results

    try:
        status = _results.sweep_status(args.dir)
    except ValueError as err:
        raise _usage_error(str(err)) from None
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    done, total = status["points_done"], status["points_total"]
    axes = " x ".join(f"{a}[{n}]" for a, n in status["axes"].items())
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status["status_counts"].items())) or "none yet"
    by_process = ", ".join(
        f"process {k}: {v}" for k, v in sorted(status["chunks_by_process"].items())
    )
    print(f"sweep of {status['experiment']} (config {status['config_hash']}), grid {axes}")
    print(
        f"  points: {done}/{total} ({100.0 * done / max(total, 1):.1f}%), chunks: "
        f"{status['chunks_done']}/{status['chunks_total']}"
        + ("  [complete]" if status["complete"] else "")
    )
    print(f"  status: {counts}")
    if by_process:
        print(f"  chunks written by {by_process}")
    damaged = status["damaged_chunks"]
    if damaged:
        print(
            f"  damaged: {len(damaged)} chunk(s); `lazyrich sweep run CONFIG --out {args.dir}` with "
            f"this sweep's CONFIG recomputes them:"
        )
        for name in sorted(damaged):
            print(f"    {damaged[name]}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``sweep run`` and ``sweep status`` on the ``lazyrich`` command line."""
    sweep = subparsers.add_parser(
        "sweep", help="run a declarative sweep (TOML) into a resumable folder"
    )
    sub = sweep.add_subparsers(dest="action", required=True)
    run = sub.add_parser(
        "run",
        help="run (or resume) a sweep",
        description="Run a sweep TOML into DIR. Resumes by default: finished chunks are skipped, an "
        "interrupted chunk is redone; a folder holding a different sweep is refused.",
    )
    run.add_argument("config", help="sweep TOML file (see examples/sweeps/)")
    run.add_argument("--out", required=True, help="output folder (created; shared by all hosts)")
    run.add_argument("--chunk-size", type=int, default=None, help="points per stored chunk")
    run.add_argument("--quiet", action="store_true", help="no progress bar (batch logs)")
    run.add_argument(
        "--fsync",
        action="store_true",
        help="flush each chunk file to disk before renaming it (survives host crashes; slower)",
    )
    run.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() and share the chunks with the other processes",
    )
    run.add_argument(
        "--coordinator",
        default=None,
        help="with --distributed: coordinator host:port "
        "(auto-detected on TPU pods, SLURM and Open MPI)",
    )
    run.add_argument(
        "--num-processes", type=int, default=None, help="with --distributed: process count"
    )
    run.add_argument(
        "--process-id", type=int, default=None, help="with --distributed: this process's id"
    )
    run.add_argument(
        "--report", default=None, help=argparse.SUPPRESS
    )  # JSON run statistics (tests)
    run.set_defaults(func=_sweep_run)
    status = sub.add_parser("status", help="progress of a sweep folder")
    status.add_argument("dir", help="the sweep's output folder")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=_sweep_status)
    return sweep
