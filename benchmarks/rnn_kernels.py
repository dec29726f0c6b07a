"""Benchmark: W_h-only tangent-kernel alignment of an N = 300 RNN over 768 trial-steps (32 trials x 8 steps x 3
outputs), lazyrich (JAX) against a PyTorch autograd-loop implementation of the same measure (CPU, separate venv).

Run: ``PYTHONPATH=. /work/venv/bin/python benchmarks/rnn_kernels.py [--repeats 3] [--threads 1|2]``. The torch
interpreter is ``$LAZYRICH_TORCH_PYTHON`` (default ``/work/torchvenv/bin/python``); if it is missing the torch
column is skipped with a message. Writes ``benchmarks/results/rnn_kernels.json``.

The torch side is the research code's measure: one forward pass over the 32 probe trials, then one
``torch.autograd.grad(y[b, t, k], W_h, retain_graph=True)`` per output row (768 backward passes), stacking the
rows into the 768 x N^2 Jacobian and taking J J^T: ~4 s per kernel on one core (~5 ms per backward).

Fair thread count: ``--threads n`` (default 1) pins BOTH processes to the same n cores with
``os.sched_setaffinity`` before JAX or torch is imported (the torch child pins itself first thing), and sets
``torch.set_num_threads(n)``; XLA then sees n cores. (The earlier ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`` restriction does not hold in jax 0.10: CPU time was ~2x wall.) Wall and CPU
(process) times and both ratios are reported; with one core CPU time <= wall time on both sides. Results go to
``benchmarks/results/rnn_kernels.json`` (1 thread) or ``rnn_kernels_threads{n}.json``.

On a shared, oversubscribed CPU, PyTorch with more than one OpenMP thread spins at the barrier of every small
parallel op while the other thread is descheduled (measured 0.29 s per backward with 2 threads against 0.019 s with
1 thread at load average ~15 on 2 cores), so the 2-thread mode is only meaningful on an idle machine.

Measured 2026-11-29 (2 shared AMD EPYC cores, AVX2): ``--threads 1`` at load average 2.2 (one other long job of
ours on the other core): torch 10.04 s wall / 10.01 s CPU, lazyrich structured 0.228 s / 0.228 s: 43.9x wall, 44.0x
CPU (dense jacrev 0.9x, generic ``empirical_ntk`` 0.8x); at load 6.2: 14.2 s / 10.4 s against 0.29 s / 0.19 s,
49x / 54x. ``--threads 2`` at load 5.0: torch 87.7 s / 55.1 s (OpenMP spinning),
lazyrich 0.41 s / 0.22 s: 212x / 256x.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent


def _time(fn, repeats):
    """Wall-clock times after a warm-up; CPU (process) times are printed too, robust on a shared machine."""
    import jax

    jax.block_until_ready(fn())  # compile + warm up
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        print(f"  run: wall {times[-1]:.3f} s, cpu {cpu_times[-1]:.3f} s", flush=True)
    return {
        "times": times,
        "cpu_times": cpu_times,
        "median_s": statistics.median(times),
        "median_cpu_s": statistics.median(cpu_times),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-dense", action="store_true", help="skip the dense jacrev baseline")
    parser.add_argument(
        "--skip-generic", action="store_true", help="skip the generic empirical_ntk(wrt=...)"
    )
    args = parser.parse_args()
    available = sorted(os.sched_getaffinity(0))
    if not 1 <= args.threads <= len(available):
        parser.error(f"`--threads` must be in [1, {len(available)}], got {args.threads}.")
    cores = available[: args.threads]
    os.sched_setaffinity(0, cores)  # before importing JAX: XLA's thread pool sees only these cores
    import jax
    import jax.numpy as jnp
    import numpy as np

    from lazyrich import dynamics
    from lazyrich.sims import datasets

    key = jax.random.key(0)
    k_p, k_x, k_d = jax.random.split(key, 3)
    params0 = dynamics.rnn.init_rnn_params(k_p, input_dim=3, width=args.width, output_dim=3)
    # A "trained" network: W_h moved by a random perturbation of 10% of its norm.
    delta = jax.random.normal(k_d, params0["w_h"].shape) / args.width**0.5 * 1.25 * 0.1
    params1 = dict(params0, w_h=params0["w_h"] + delta)
    x = datasets.two_afc(k_x, batch_size=args.trials).inputs
    num_rows = x.shape[0] * x.shape[1] * 3
    results = {
        "width": args.width,
        "trials": args.trials,
        "kernel_size": num_rows,
        "repeats": args.repeats,
        "backend": jax.default_backend(),
        "jax_version": jax.__version__,
        "threads": args.threads,
        "cores": cores,
        "pinning": "os.sched_setaffinity on both processes before importing jax / torch",
    }

    structured = jax.jit(lambda p0, p1, xx: dynamics.rnn.recurrent_kernel_alignment(p0, p1, xx))
    value = float(structured(params0, params1, x))
    results["lazyrich_structured"] = {
        "alignment": value,
        **_time(lambda: structured(params0, params1, x), max(args.repeats, 7)),  # ms-scale: more
    }

    def jacobian_kernel(p):
        def f(w_h):
            return dynamics.rnn.rnn_apply(dict(p, w_h=w_h), x).reshape(-1)

        jac = jax.jacrev(f)(p["w_h"]).reshape(num_rows, -1)
        return jac @ jac.T

    def jac_alignment(p0, p1):
        k0, k1 = jacobian_kernel(p0), jacobian_kernel(p1)
        return jnp.sum(k0 * k1) / jnp.sqrt(jnp.sum(k0 * k0) * jnp.sum(k1 * k1))

    if not args.skip_dense:
        dense = jax.jit(jac_alignment)
        value_dense = float(dense(params0, params1))
        results["lazyrich_jacrev_dense"] = {
            "alignment": value_dense,
            **_time(lambda: dense(params0, params1), args.repeats),
        }
    try:
        from lazyrich.dynamics import empirical_ntk  # from the entk branch, when merged
    except ImportError:
        empirical_ntk = None
    if empirical_ntk is not None and not args.skip_generic:

        def entk_alignment(p0, p1):
            def apply_fn(p, xx):
                return dynamics.rnn.rnn_apply(p, xx).reshape(
                    xx.shape[0], -1
                )  # (B, T*O) outputs per trial

            wrt = {"w_x": False, "w_h": True, "w_y": False}
            k0 = empirical_ntk(apply_fn, p0, x, trace_outputs=False, wrt=wrt)
            k1 = empirical_ntk(apply_fn, p1, x, trace_outputs=False, wrt=wrt)
            return jnp.sum(k0 * k1) / jnp.sqrt(jnp.sum(k0 * k0) * jnp.sum(k1 * k1))

        generic = jax.jit(entk_alignment)
        value_generic = float(generic(params0, params1))
        results["lazyrich_empirical_ntk"] = {
            "alignment": value_generic,
            **_time(lambda: generic(params0, params1), args.repeats),
        }

    torch_python = os.environ.get("LAZYRICH_TORCH_PYTHON", "/work/torchvenv/bin/python")
    if not pathlib.Path(torch_python).exists():
        print(
            f"torch interpreter {torch_python} not found; set LAZYRICH_TORCH_PYTHON. Skipping torch."
        )
    else:
        with tempfile.TemporaryDirectory() as tmp:
            inp, out = pathlib.Path(tmp) / "in.npz", pathlib.Path(tmp) / "out.json"
            np.savez(
                inp,
                w_x=np.asarray(params0["w_x"]),
                w_h0=np.asarray(params0["w_h"]),
                w_h1=np.asarray(params1["w_h"]),
                w_y=np.asarray(params0["w_y"]),
                x=np.asarray(x),
                leak=1.0,
                threads=args.threads,
                cores=np.asarray(cores),
            )
            subprocess.run(
                [
                    torch_python,
                    str(HERE / "_rnn_kernels_torch.py"),
                    str(inp),
                    str(out),
                    str(args.repeats),
                ],
                check=True,
                cwd=tmp,
                env={"PATH": os.environ.get("PATH", "")},
            )
            results["torch_autograd_loop"] = json.loads(out.read_text())
            k0_torch = np.load(str(out) + ".k0.npy")
        k0 = np.asarray(dynamics.rnn.recurrent_tangent_kernel(params0, x))
        # The torch rows are ordered (trial, step, output), the same as lazyrich's kernel.
        results["max_rel_kernel_difference_vs_torch"] = float(
            np.abs(k0 - k0_torch).max() / np.abs(k0).max()
        )

    torch_res = results.get("torch_autograd_loop", {})
    base, base_cpu = torch_res.get("median_s"), torch_res.get("median_cpu_s")
    print(
        f"W_h-only tangent-kernel alignment, N = {args.width}, {num_rows} x {num_rows} kernels "
        f"(two of them), {args.threads} thread(s)"
    )
    print(
        f"{'implementation':26s} {'wall s':>8s} {'cpu s':>8s} {'wall ratio':>11s} {'cpu ratio':>10s}"
        f" {'alignment':>10s}"
    )
    names = (
        "torch_autograd_loop",
        "lazyrich_jacrev_dense",
        "lazyrich_empirical_ntk",
        "lazyrich_structured",
    )
    for name in names:
        if name in results:
            r = results[name]
            ratio = f"{base / r['median_s']:.1f}x" if base else "-"
            cpu_ratio = f"{base_cpu / r['median_cpu_s']:.1f}x" if base_cpu else "-"
            print(
                f"{name:26s} {r['median_s']:8.3f} {r['median_cpu_s']:8.3f} {ratio:>11s}"
                f" {cpu_ratio:>10s} {r['alignment']:10.6f}"
            )
    if base:
        for name in names[1:]:
            if name in results:
                short = name.removeprefix("lazyrich_")
                results[f"speedup_{short}_vs_torch"] = base / results[name]["median_s"]
                results[f"cpu_speedup_{short}_vs_torch"] = base_cpu / results[name]["median_cpu_s"]
    results["load_average"] = os.getloadavg()
    print(f"load average (1, 5, 15 min): {results['load_average']}")
    suffix = "" if args.threads == 1 else f"_threads{args.threads}"
    path = HERE / "results" / f"rnn_kernels{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
