"""Throughput of a vmapped SGD sweep: 64 runs (4 seeds x 4 alphas x 4 temperatures) of the FC model on digits
parity for a fixed number of steps.

(a) one jit(vmap) over the 64 runs (one compiled program); (b) a Python loop over the 64 runs calling the same
jitted single-run function (hyper-parameters traced, so no recompilation); (c) the same runs in PyTorch, one at a
time, as the research codes do (``benchmarks/_torch_sgd.py`` in the torch venv; interpreter from
``LAZYRICH_TORCH_PYTHON``, default ``/work/torchvenv/bin/python``; skipped with a message if missing).

Run: ``PYTHONPATH=. python benchmarks/sweep_throughput.py [--steps N] [--repeats R]``. Compilation is excluded
(warm-up first); medians over repeats. Writes ``benchmarks/results/sweep_throughput.json``.

Also reported: the arithmetic rate of (a) and (b) (matmul FLOPs of the SGD steps: forward + two backward
products per layer, about 6 B sum_l n_(l-1) n_l per step and run) and a *ceiling* for (a): the time
of the same number of batched matmuls alone (``jit`` of a ``fori_loop`` over the steps of the per-step
(runs, B, n) x (runs, n, n) products, no RNG, gathers, losses or updates). (a) cannot beat that ceiling, so
``ceiling_vs_loop`` bounds the (a)/(b) ratio this machine's XLA CPU matmuls allow at this model size.

Measured (2026-11-29 15:07, bench lock held, load average 5.2-5.5 from other sessions' tests; 2 AMD EPYC cores,
AVX2 + FMA at 2.45 GHz, fp32 peak about 157 GFLOP/s; FC 3x64 as the quick experiments, P = 256, B = 16,
200 steps): (a) 1.32 s, (b) 2.13 s, (c) 241.6 s: (a)/(b) = 1.6x, (c)/(a) = 183x. (a) runs at 11.5 GFLOP/s,
(b) at 7.1 GFLOP/s, and the batched matmuls alone at 31 GFLOP/s, so even an (a) that did nothing but its
matmuls would be 4.9x faster than (b): the 10x goal is out of reach at this model size on this machine
(expected to shrink further for a larger model such as the paper's FC 5x128, where (b) carries less
per-step overhead relative to its arithmetic; not measured).

Re-measured 2026-11-29 17:49 (bench lock, load average 1.5, 500 steps, torch skipped): (a) 2.24 s, (b) 2.96 s,
(a)/(b) = 1.3x, matmul ceiling 4.8x. Where (b)'s time goes: the per-step minibatch draw (uniform + top-k over
P = 256) alone takes 1.77 s for the 64 unbatched runs (about 55 us per draw) and 0.31 s batched, and the
matmuls run at 54 GFLOP/s for one small (16 x 64) x (64 x 64) product against 37-55 GFLOP/s batched, so
batching gains little per FLOP on this CPU. At the best of those rates the 64 runs' matmuls alone need about
1.4 ms per step, while a 10x ratio would need the whole vmapped step in 1.06 ms: out of reach on 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import dynamics
from lazyrich.sims import datasets

HERE = pathlib.Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--torch-repeats",
        type=int,
        default=None,
        help="repeats of the slow PyTorch side (default --repeats)",
    )
    parser.add_argument("--num-train", type=int, default=256)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    x, y, _, _ = datasets.digits_parity(num_train=args.num_train, num_test=0, key=jax.random.key(0))
    seeds, alphas, temps = (
        range(4),
        (0.5, 8.0, 128.0, 2048.0),
        (2.0**-10, 2.0**-8, 2.0**-6, 2.0**-4),
    )
    grid = list(itertools.product(seeds, alphas, temps))
    width, depth, batch = args.width, args.depth, args.batch_size
    apply_fn = dynamics.models.bias_free_mlp_apply_fn(
        input_dim=x.shape[1], width=width, depth=depth
    )
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def one(alpha, temperature, key):
        init_key, noise_key = jax.random.split(key)
        params0 = dynamics.models.bias_free_mlp_init(
            input_dim=x.shape[1], width=width, depth=depth, key=init_key
        )
        config = dynamics.TrainConfig(
            method="sgd",
            batch_size=batch,
            width=width,
            max_steps=args.steps,
            check_every=args.steps,
            num_saves=1,
            stop="none",
            alpha=alpha,
            learning_rate=temperature * batch * width,
            temperature=temperature,
        )
        return dynamics.train(apply_fn, params0, xj, yj, key=noise_key, config=config).final(
            "train_loss"
        )

    a = jnp.asarray([g[1] for g in grid], jnp.float32)
    t = jnp.asarray([g[2] for g in grid], jnp.float32)
    keys = jnp.stack([jax.random.key(s) for s, _, _ in grid])
    vmapped = jax.jit(jax.vmap(one))
    single = jax.jit(one)

    def run_vmapped():
        return vmapped(a, t, keys).block_until_ready()

    def run_loop():
        return [single(a[i], t[i], keys[i]).block_until_ready() for i in range(len(grid))]

    results = {}
    for name, fn in (("jax_vmap", run_vmapped), ("jax_loop", run_loop)):
        fn()  # compile + warm up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        results[name] = statistics.median(times)
        print(
            f"{name:10s} {results[name]:8.2f} s   {len(grid) / results[name]:8.2f} runs/s",
            flush=True,
        )

    torch_python = os.environ.get("LAZYRICH_TORCH_PYTHON", "/work/torchvenv/bin/python")
    if pathlib.Path(torch_python).exists():
        with tempfile.TemporaryDirectory() as tmp:
            np.savez(f"{tmp}/data.npz", x=np.asarray(x, np.float32), y=np.asarray(y, np.float32))
            cfg = {
                "width": width,
                "depth": depth,
                "batch_size": batch,
                "steps": args.steps,
                "repeats": args.torch_repeats or args.repeats,
                "runs": [[g[1], g[2]] for g in grid],
            }
            pathlib.Path(f"{tmp}/cfg.json").write_text(json.dumps(cfg))
            out = subprocess.run(
                [torch_python, str(HERE / "_torch_sgd.py"), f"{tmp}/data.npz", f"{tmp}/cfg.json"],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": ""},
            )
        if out.returncode == 0:
            record = json.loads(out.stdout.strip().splitlines()[-1])
            results["torch_loop"] = record["median"]
            results["torch_version"] = record["torch_version"]
            print(
                f"{'torch_loop':10s} {results['torch_loop']:8.2f} s   {len(grid) / results['torch_loop']:8.2f} runs/s"
            )
        else:
            print(f"torch run failed: {out.stderr[-500:]}", file=sys.stderr)
    else:
        print(
            f"skipping PyTorch: {torch_python} not found (set LAZYRICH_TORCH_PYTHON)",
            file=sys.stderr,
        )

    # Matmul FLOPs per SGD step and run: forward 2 B n_in n_out per layer, backward twice that (the first layer's
    # input gradient is not needed, counted anyway: an upper bound within 10 %).
    sizes = [x.shape[1]] + [width] * depth + [1]
    flops_step = 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    total_flops = flops_step * args.steps * len(grid)
    gflops = {k: total_flops / v / 1e9 for k, v in results.items() if isinstance(v, float)}
    # Ceiling for (a): the batched matmuls alone (same shapes and count as the vmapped SGD steps).
    runs = len(grid)
    lhs = jax.random.normal(jax.random.key(1), (runs, batch, width), jnp.float32)
    mats = jax.random.normal(jax.random.key(2), (runs, width, width), jnp.float32) / width
    # Per hidden layer a forward product and a weight gradient, and a backward (delta) product for all but the
    # first layer: 3 depth - 1 products of (B, h) x (h, h) (the input dimension 64 equals h here).
    products_per_step = 3 * depth - 1

    @jax.jit
    def matmuls_only(h):
        def body(_, h):
            for _ in range(products_per_step):
                h = jnp.einsum("rbi,rij->rbj", h, mats)
            return h

        return jax.lax.fori_loop(0, args.steps, body, h)

    matmuls_only(lhs).block_until_ready()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        matmuls_only(lhs).block_until_ready()
        times.append(time.perf_counter() - start)
    results["matmul_ceiling"] = statistics.median(times)
    ceiling_flops = 2 * runs * batch * width * width * products_per_step * args.steps
    gflops["matmul_ceiling"] = ceiling_flops / results["matmul_ceiling"] / 1e9
    for k, v in gflops.items():
        print(f"{k:14s} {v:6.1f} GFLOP/s")
    ratios = {
        "vmap_vs_loop": results["jax_loop"] / results["jax_vmap"],
        "ceiling_vs_loop": results["jax_loop"] / results["matmul_ceiling"],
    }
    if "torch_loop" in results:
        ratios["vmap_vs_torch"] = results["torch_loop"] / results["jax_vmap"]
    for k, v in ratios.items():
        print(f"{k:14s} {v:6.1f}x")
    record = {
        "runs": len(grid),
        "steps": args.steps,
        "num_train": args.num_train,
        "width": width,
        "depth": depth,
        "batch_size": batch,
        "seconds": results,
        "runs_per_second": {
            k: len(grid) / v
            for k, v in results.items()
            if isinstance(v, float) and k != "matmul_ceiling"
        },
        "ratios": ratios,
        "flops_per_step_and_run": flops_step,
        "gflops_per_second": gflops,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "sweep_throughput.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
