"""Sweep throughput against chunk size and (fake) device count, and the cost of storage, progress and resume.

Run from the repository root::

    PYTHONPATH=. /work/venv/bin/python benchmarks/sweep_scaling.py [--points 1024] [--devices 1,2,4,8]

For every device count a subprocess is started with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
(the flag must be set before JAX starts). In each, a ``toy_quadratic`` sweep of ``--points`` grid points
(learning rate x temperature x seed, all vmapped) is timed, after a warm-up that compiles:

* ``bare``: the compiled, sharded ``jit(vmap(point))`` over the chunks, results fetched to host, nothing stored;
* ``stored``: ``lazyrich.sims`` storage into a fresh folder (atomic ``.npz`` + ``.json`` per chunk,
  manifest) with the progress bar drawn (to stderr);
* ``resume``: rerunning the finished folder (every chunk skipped).

The ``storage`` columns time the writer thread itself (npz + json + rename + progress update) relative to
the bare computation: wall time (inflated by waiting for a core on a busy machine) and CPU time (the cost).
Wall times are the best of ``--repeats`` interleaved runs (medians also recorded), CPU times
(all threads of the process) medians; on a shared machine the best-of and CPU numbers are the stable ones. The table prints throughput (points/s) and the overhead
``stored / bare - 1``; JSON goes to ``benchmarks/results/sweep_scaling.json``. Fake devices share the machine's
cores, so on a 2-core machine more devices cannot raise throughput: the device columns measure the sharding
overhead, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sweep_scaling.json"


def sweep_spec(num_points: int, num_steps: int) -> dict:
    seeds = max(num_points // 64, 1)
    return {
        "experiment": "toy_quadratic",
        "base": {"num_steps": num_steps, "save_every": num_steps // 10, "dim": 32},
        "axes": {
            "learning_rate": [0.05 * (i + 1) for i in range(16)],
            "temperature": [0.0, 0.01, 0.1, 1.0],
            "seed": list(range(seeds)),
        },
    }


def worker(args) -> dict:
    import jax

    from lazyrich import sims
    from lazyrich.sims import _sweep_exec

    spec = sweep_spec(args.points, args.steps)
    rows = []
    for chunk_size in [int(c) for c in args.chunk_sizes.split(",")]:
        plan = sims.plan_sweep(spec, chunk_size=chunk_size)
        executor = _sweep_exec.Executor(plan)
        executor.fetch(executor.submit(plan.chunks[0]))  # compile

        def bare(plan=plan, executor=executor):
            pending = None
            for (
                chunk
            ) in plan.chunks:  # same pipelining as the stored run: dispatch next, then fetch
                handle = executor.submit(chunk)
                if pending is not None:
                    executor.fetch(pending)
                pending = handle
            executor.fetch(pending)

        def stored(plan=plan):
            folder = pathlib.Path(tempfile.mkdtemp(prefix="sweep-bench-")) / "out"
            start = time.perf_counter()
            stats = _sweep_exec.execute(plan, folder, progress=True)
            wall = time.perf_counter() - start
            return wall, folder, stats

        bare_times, stored_times, resume_times, bare_cpu, stored_cpu = [], [], [], [], []
        storage_wall, storage_cpu = [], []
        for _ in range(args.repeats):  # interleaved, so that load changes hit both alike
            cpu, start = time.process_time(), time.perf_counter()
            bare()
            bare_times.append(time.perf_counter() - start)
            bare_cpu.append(time.process_time() - cpu)
            cpu = time.process_time()
            wall, folder, stats = stored()
            stored_times.append(wall)
            stored_cpu.append(time.process_time() - cpu)
            storage_wall.append(stats["storage_wall_s"])
            storage_cpu.append(stats["storage_cpu_s"])
            start = time.perf_counter()
            _sweep_exec.execute(plan, folder, progress=False)
            resume_times.append(time.perf_counter() - start)
            shutil.rmtree(folder.parent)
        t_bare, t_stored = min(bare_times), min(stored_times)
        rows.append(
            {
                "devices": jax.local_device_count(),
                "chunk_size": chunk_size,
                "num_chunks": len(plan.chunks),
                "points": plan.num_points,
                "bare_s": t_bare,
                "stored_s": t_stored,
                "bare_median_s": statistics.median(bare_times),
                "stored_median_s": statistics.median(stored_times),
                "resume_s": statistics.median(resume_times),
                "bare_points_per_s": plan.num_points / t_bare,
                "stored_points_per_s": plan.num_points / t_stored,
                "overhead_wall": t_stored / t_bare - 1.0,
                "overhead_wall_median": statistics.median(stored_times)
                / statistics.median(bare_times)
                - 1.0,
                "overhead_cpu": statistics.median(stored_cpu) / statistics.median(bare_cpu) - 1.0,
                # Direct cost of storage (npz + json + fsync + rename + progress update), measured in the
                # writer thread: an upper bound on the overhead were it not overlapped with computation.
                "storage_wall_fraction": statistics.median(storage_wall) / t_bare,
                "storage_cpu_fraction": statistics.median(storage_cpu)
                / statistics.median(bare_cpu),
                "bare_all_s": bare_times,
                "stored_all_s": stored_times,
            }
        )
        print(
            f"worker: {rows[-1]['devices']} devices, chunk {chunk_size}: bare {t_bare:.2f} s, "
            f"stored {t_stored:.2f} s",
            file=sys.stderr,
            flush=True,
        )
    return {"rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2000, help="steps per grid point")
    parser.add_argument("--devices", default="1,8")
    parser.add_argument("--chunk-sizes", default="32,256")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args)))
        return
    rows = []
    for devices in [int(d) for d in args.devices.split(",")]:
        env = dict(os.environ)
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        env["JAX_PLATFORMS"] = "cpu"
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--points",
            str(args.points),
            "--steps",
            str(args.steps),
            "--chunk-sizes",
            args.chunk_sizes,
            "--repeats",
            str(args.repeats),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"devices={devices}: worker failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.extend(json.loads(lines[-1][len("RESULT ") :])["rows"])
        print(f"  done: {devices} device(s)", file=sys.stderr)

    print(
        f"toy_quadratic sweep, {args.points} points x {args.steps} steps; wall = best of "
        f"{args.repeats} (median in brackets), cpu = median process CPU time"
    )
    print(
        f"{'devices':>7} {'chunk':>6} {'chunks':>6} {'bare pt/s':>10} {'stored pt/s':>11} "
        f"{'overhead wall':>20} {'overhead cpu':>12} {'storage wall':>12} "
        f"{'storage cpu':>11} {'resume s':>9}"
    )
    for r in rows:
        wall = f"{100 * r['overhead_wall']:+.1f}% ({100 * r['overhead_wall_median']:+.1f}%)"
        print(
            f"{r['devices']:>7} {r['chunk_size']:>6} {r['num_chunks']:>6} "
            f"{r['bare_points_per_s']:>10.0f} {r['stored_points_per_s']:>11.0f} {wall:>20} "
            f"{100 * r['overhead_cpu']:>+11.1f}% {100 * r['storage_wall_fraction']:>11.2f}% "
            f"{100 * r['storage_cpu_fraction']:>10.2f}% "
            f"{r['resume_s']:>9.3f}"
        )
    import jax

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "sweep_scaling",
        "points": args.points,
        "steps_per_point": args.steps,
        "repeats": args.repeats,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "jax_version": jax.__version__,
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
