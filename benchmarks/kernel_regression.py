"""Kernel regression at scale: lazyrich's CG solvers against neural-tangents' ``gp_inference``.

Run from the repository root (each measurement runs in a fresh subprocess that reports its wall
time and peak resident memory, ``ru_maxrss``):

    PYTHONPATH=. /work/main/.venv/bin/python benchmarks/kernel_regression.py [--parts a,b,c] [--quick]

The task: depth-3 ReLU MLP NNGP (NTK parameterisation, W_std 1, b_std 0.1), float32 kernels,
synthetic inputs ``x ~ N(0, I_784)``, scalar targets ``y = sin(x_0) + 0.1 x_1``, ``diag_reg``
1e-3 (NT's relative scale), posterior mean on the test points.

* (a) neural-tangents (pinned venv, ``LAZYRICH_NT_PYTHON``, default ``/work/ntvenv/bin/python``;
  ``kernel_fn`` on the full training set, then ``predict.gp_inference`` = a Cholesky solve) and
  lazyrich (``theory.predict`` with ``mlp_kernel_fn``, ``solver="cg"``, tiles of 2,048 rows) on
  the same inputs for a ladder of n; the largest n that neural-tangents completes within the
  ladder and the time ratio lazyrich / neural-tangents there (goal <= 0.5). 1,000 test points.
* (b) n = 50,000 end to end with lazyrich (kernel 50,000^2 in float32 = 10 GB, CG with float64
  accumulation, predictions on 10,000 test points): wall time, CG iterations, final relative
  residual, peak memory (budget 16 GiB).
* (c) n = 200,000, matrix-free (``matrix_free=True``, tiles of 1,024 rows): the time of one CG
  product (one pass over all tiles) is extrapolated from ``--tiles`` timed tiles (after a warm-up
  tile), the total from the iteration count of (b); the peak memory of the tile pass is measured.

Writes ``benchmarks/results/kernel_regression.json`` and prints a table.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "kernel_regression.json"
NT_PYTHON = os.environ.get("LAZYRICH_NT_PYTHON", "/work/ntvenv/bin/python")
LAZYRICH_PYTHON = sys.executable
DEPTH, BIAS_STD, DIM, DIAG_REG = 3, 0.1, 784, 1e-3

COMMON = textwrap.dedent(
    f"""
    import json, resource, sys, time
    import numpy as np
    import jax, jax.numpy as jnp

    def data(n, q, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n + q, {DIM}), dtype=np.float32)
        y = (np.sin(x[:, 0]) + 0.1 * x[:, 1]).astype(np.float32)
        return x[:n], y[:n, None], x[n:]

    def report(**kw):
        kw["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        kw["jax"] = jax.__version__
        print("RESULT " + json.dumps(kw), flush=True)
    """
)

NT_RUN = COMMON + textwrap.dedent(
    f"""
    import neural_tangents as nt
    from neural_tangents import stax
    n, q = int(sys.argv[1]), int(sys.argv[2])
    layers = []
    for _ in range({DEPTH}):
        layers += [stax.Dense(512, 1.0, {BIAS_STD}), stax.Relu()]
    _, _, kernel_fn = stax.serial(*layers, stax.Dense(1, 1.0, {BIAS_STD}))
    kernel_fn = jax.jit(kernel_fn, static_argnames="get")
    x, y, xt = data(n, q)
    start = time.perf_counter()
    kdd = kernel_fn(x, None, "nngp")
    ktd = kernel_fn(xt, x, "nngp")
    predict = nt.predict.gp_inference(kdd, y, diag_reg={DIAG_REG})
    mean = predict("nngp", ktd)
    mean = np.asarray(jax.block_until_ready(mean))
    wall = time.perf_counter() - start
    report(side="neural-tangents", n=n, q=q, wall_s=wall, finite=bool(np.all(np.isfinite(mean))),
           mean_head=mean[:5, 0].tolist())
    """
)

LAZYRICH_RUN = COMMON + textwrap.dedent(
    f"""
    from lazyrich import theory
    n, q, x64, tile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
    jax.config.update("jax_enable_x64", x64)
    kernel_fn = theory.mlp_kernel_fn(depth={DEPTH}, bias_std={BIAS_STD})
    x, y, xt = data(n, q)
    x, y, xt = jnp.asarray(x), jnp.asarray(y), jnp.asarray(xt)
    start = time.perf_counter()
    k = theory.kernel_matrix(kernel_fn, x, get="nngp", tile_size=tile)
    jax.block_until_ready(k.nngp)
    kernel_s = time.perf_counter() - start
    out = theory.predict(y, k_train_train=k, k_test_train=theory.Kernels(
        theory.kernel_matrix(kernel_fn, xt, x, get="nngp", tile_size=tile).nngp, None),
        get="nngp", diag_reg={DIAG_REG}, solver="cg", validate=n <= 20000,
        tol=1e-6 if x64 else 1e-4)
    mean = np.asarray(jax.block_until_ready(out.nngp.mean))
    wall = time.perf_counter() - start
    info = out.info["nngp"]
    report(side="lazyrich", n=n, q=q, x64=x64, wall_s=wall, kernel_s=kernel_s,
           status=int(info.status), iterations=int(info.iterations),
           residual=float(np.max(np.asarray(info.residual))), mean_head=mean[:5, 0].tolist())
    """
)

MATRIX_FREE_RUN = COMMON + textwrap.dedent(
    f"""
    from lazyrich import theory
    from lazyrich.theory import _solvers_tiles as T
    n, tile, tiles = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    jax.config.update("jax_enable_x64", True)
    kernel_fn = theory.mlp_kernel_fn(depth={DEPTH}, bias_std={BIAS_STD})
    x, y, _ = data(n, 0)
    x, v = jnp.asarray(x), jnp.asarray(y, jnp.float64)
    # One CG product is n / tile of these tile products (rows_times over all tiles).
    part = jax.jit(lambda xr, xc, v: T.rows_times(kernel_fn, "nngp", xr, xc, v, tile, jnp.float64))
    jax.block_until_ready(part(x[:tile], x, v))  # compile + warm up
    start = time.perf_counter()
    for i in range(1, tiles + 1):
        jax.block_until_ready(part(x[i * tile:(i + 1) * tile], x, v))
    per_tile = (time.perf_counter() - start) / tiles
    report(side="lazyrich-matrix-free", n=n, tile=tile, timed_tiles=tiles, per_tile_s=per_tile,
           per_iteration_s=per_tile * n / tile)
    """
)


def run(python, script, *args, timeout=3600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    try:
        proc = subprocess.run(
            [python, "-c", script, *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/tmp",
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"timeout after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or "").strip().splitlines()[-3:]
    return {"failed": f"exit {proc.returncode}: {' | '.join(tail)}"}


def part_a(ladder, q, timeout):
    rows, largest = [], None
    for n in ladder:
        nt = run(NT_PYTHON, NT_RUN, n, q, timeout=timeout)
        lr = run(LAZYRICH_PYTHON, LAZYRICH_RUN, n, q, 0, 2048, timeout=timeout)
        row = {"n": n, "neural_tangents": nt, "lazyrich": lr}
        if "failed" not in nt and "failed" not in lr:
            row["ratio"] = lr["wall_s"] / nt["wall_s"]
            largest = row
        rows.append(row)
        print(
            f"(a) n={n}: NT {nt.get('wall_s', nt.get('failed'))}, lazyrich "
            f"{lr.get('wall_s', lr.get('failed'))}",
            flush=True,
        )
        if "failed" in nt:
            break
    return {
        "ladder": rows,
        "largest_nt_n": None if largest is None else largest["n"],
        "ratio_at_largest": None if largest is None else largest["ratio"],
        "goal": 0.5,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="a,b,c")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--tiles", type=int, default=3, help="(c): tiles timed")
    parser.add_argument("--b-size", type=int, default=50000, help="(b): training points")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results["machine"] = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "note": "shared by other jobs: the load average is recorded around each part",
    }
    if "a" in parts:
        ladder = (1000, 2000) if args.quick else (2500, 5000, 10000, 20000)
        load = os.getloadavg()[0]
        results["a"] = part_a(ladder, 200 if args.quick else 1000, 3600)
        results["a"]["load_average_1min"] = [load, os.getloadavg()[0]]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")  # after each part: a stop keeps the rest
    if "b" in parts:
        n, q = (4000, 500) if args.quick else (args.b_size, 10000)
        load = os.getloadavg()[0]
        results["b"] = run(LAZYRICH_PYTHON, LAZYRICH_RUN, n, q, 1, 2048, timeout=7200)
        key = "b" if n == 50000 or args.quick else f"b_at_{n}"
        results[key] = results.pop("b")
        results[key].update(budget_gib=16, load_average_1min=[load, os.getloadavg()[0]])
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    if "c" in parts:
        n = 20000 if args.quick else 200000
        load = os.getloadavg()[0]
        c = run(LAZYRICH_PYTHON, MATRIX_FREE_RUN, n, 1024, args.tiles, timeout=7200)
        c["load_average_1min"] = [load, os.getloadavg()[0]]
        iters = results.get("b", {}).get("iterations")
        if "failed" not in c and iters:
            c["iterations_from_b"] = iters
            c["extrapolated_total_s"] = c["per_iteration_s"] * (iters + 2)
        results["c"] = c
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
