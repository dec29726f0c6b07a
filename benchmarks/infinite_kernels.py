"""Infinite-width kernels: lazyrich against neural-tangents, and the tiled 20,000-point kernel.

Run from the repository root:

    PYTHONPATH=. /work/venv/bin/python benchmarks/infinite_kernels.py [--quick]

* Depth-5 ReLU NNGP + NTK (NTK parameterization, W_std = 1, b_std = 0.1), float32, on the same
  inputs (n x 32 standard normal), n = 2,000 and 8,000. neural-tangents runs in its pinned venv
  (``LAZYRICH_NT_PYTHON``, default ``/work/ntvenv/bin/python``) as a subprocess; both sides are
  jitted, warmed up (compiled) first, and the median of several runs is reported. The ratio is
  lazyrich time / neural-tangents time (goal <= 1).
* The 20,000 x 20,000 float32 kernel with ``batch_size`` row tiles, in a fresh subprocess that
  reports its peak resident memory (``ru_maxrss``; tracemalloc does not see XLA buffers). The budget
  is the process baseline plus the two outputs (2 x 1.6 GB) plus 1 GiB; tiles are 250 rows.

Writes ``benchmarks/results/infinite_kernels.json``.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
NT_PYTHON = os.environ.get("LAZYRICH_NT_PYTHON", "/work/ntvenv/bin/python")
DEPTH, BIAS_STD, INPUT_DIM = 5, 0.1, 32

TIMER = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    import jax, jax.numpy as jnp

    def timed(fn, x, repeats):
        jax.block_until_ready(fn(x))  # compile + warm up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(fn(x))
            times.append(time.perf_counter() - start)
        return float(np.median(times)), times
    """
)

LAZYRICH_RUN = TIMER + textwrap.dedent(
    f"""
    from lazyrich import theory
    x = jnp.asarray(np.load(sys.argv[1]), jnp.float32)
    fn = jax.jit(lambda x: theory.mlp_kernels(x, depth={DEPTH}, bias_std={BIAS_STD}))
    median, times = timed(fn, x, int(sys.argv[2]))
    print(json.dumps(dict(median=median, times=times, jax=jax.__version__)))
    """
)

NT_RUN = TIMER + textwrap.dedent(
    f"""
    import warnings; warnings.filterwarnings("ignore")
    from neural_tangents import stax
    import neural_tangents as nt
    x = jnp.asarray(np.load(sys.argv[1]), jnp.float32)
    layers = []
    for _ in range({DEPTH}):
        layers += [stax.Dense(512, 1.0, {BIAS_STD}), stax.Relu()]
    _, _, kernel_fn = stax.serial(*layers, stax.Dense(1, 1.0, {BIAS_STD}))
    kfn = jax.jit(kernel_fn, static_argnames="get")
    fn = lambda x: kfn(x, None, ("nngp", "ntk"))
    median, times = timed(fn, x, int(sys.argv[2]))
    print(json.dumps(dict(median=median, times=times, jax=jax.__version__,
                          neural_tangents=getattr(nt, "__version__", "0.6.5"))))
    """
)

TILED_RUN = textwrap.dedent(
    f"""
    import json, resource, sys, time
    import numpy as np
    import jax, jax.numpy as jnp
    from lazyrich import theory
    n, batch = int(sys.argv[1]), int(sys.argv[2])
    x = jax.random.normal(jax.random.key(0), (n, {INPUT_DIM}), jnp.float32)
    x.block_until_ready()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    fn = jax.jit(lambda x: theory.mlp_kernels(x, depth={DEPTH}, bias_std={BIAS_STD},
    batch_size=batch))
    start = time.perf_counter()
    k = jax.block_until_ready(fn(x))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ok = bool(jnp.all(jnp.isfinite(k.ntk[:: max(1, n // 97)])))
    print(json.dumps(dict(n=n, batch_size=batch, seconds_with_compile=seconds, peak_rss_bytes=peak,
                          baseline_rss_bytes=base, output_bytes=2 * n * n * 4, finite=ok)))
    """
)


def run(python, code, *args, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run(
        [python, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 500, 1000 and a 4,000-point tile")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--tiled-only",
        action="store_true",
        help="rerun only the tiled kernel; keep the timing rows",
    )
    args = parser.parse_args()
    sizes = (500, 1000) if args.quick else (2000, 8000)
    tiled_n, tile = (4000, 250) if args.quick else (20000, 250)
    lazyrich_env = {"PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    nt_env = {"PYTHONPATH": "", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    have_nt = pathlib.Path(NT_PYTHON).exists()
    if not have_nt:
        print(
            f"neural-tangents interpreter {NT_PYTHON} not found (set LAZYRICH_NT_PYTHON); "
            "skipping it."
        )

    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = ROOT / "benchmarks" / "results" / "infinite_kernels.json"
        if args.tiled_only:
            rows, sizes = json.loads(out.read_text())["timing"], ()
        for n in sizes:
            path = pathlib.Path(tmp) / f"x{n}.npy"
            np.save(path, rng.normal(size=(n, INPUT_DIM)).astype(np.float32))
            repeats = args.repeats if n <= 2000 else max(1, args.repeats - 1)
            ours = run(sys.executable, LAZYRICH_RUN, path, repeats, env_extra=lazyrich_env)
            theirs = (
                run(NT_PYTHON, NT_RUN, path, repeats, env_extra=nt_env, cwd=tmp)
                if have_nt
                else None
            )
            ratio = ours["median"] / theirs["median"] if theirs else None
            rows.append(
                dict(
                    n=n,
                    lazyrich_s=ours["median"],
                    lazyrich_times=ours["times"],
                    neural_tangents_s=theirs and theirs["median"],
                    neural_tangents_times=theirs and theirs["times"],
                    ratio=ratio,
                )
            )
            nt_text = f"{theirs['median']:.3f} s" if theirs else "n/a"
            ratio_text = f"{ratio:.2f}" if ratio else "n/a"
            print(
                f"n={n:>6}: lazyrich {ours['median']:.3f} s   neural-tangents {nt_text}   "
                f"ratio {ratio_text}",
                flush=True,
            )
        tiled = run(sys.executable, TILED_RUN, tiled_n, tile, env_extra=lazyrich_env)
    budget = tiled["baseline_rss_bytes"] + tiled["output_bytes"] + 2**30
    tiled["budget_bytes"] = budget
    tiled["within_budget"] = tiled["peak_rss_bytes"] <= budget
    print(
        f"tiled n={tiled_n} (batch_size {tile}): {tiled['seconds_with_compile']:.1f} s, peak RSS "
        f"{tiled['peak_rss_bytes'] / 2**30:.2f} GiB "
        f"(outputs {tiled['output_bytes'] / 2**30:.2f} GiB, "
        f"budget {budget / 2**30:.2f} GiB): {'OK' if tiled['within_budget'] else 'OVER BUDGET'}"
    )
    result = dict(
        benchmark="infinite_kernels",
        setting=dict(
            depth=DEPTH,
            activation="relu",
            bias_std=BIAS_STD,
            weight_std=1.0,
            input_dim=INPUT_DIM,
            dtype="float32",
            get=("nngp", "ntk"),
            quick=args.quick,
        ),
        machine=dict(
            platform=platform.platform(), cpu_count=os.cpu_count(), load_average=os.getloadavg()
        ),
        timing=rows,
        tiled=tiled,
    )
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
