"""Infinite-width kernels: lazyrich against neural-tangents, and the tiled 20,000-point kernel.

Run from the repository root:

    PYTHONPATH=. /work/venv/bin/python benchmarks/infinite_kernels.py [--quick]

* Depth-5 ReLU NNGP + NTK (NTK parameterization, W_std = 1, b_std = 0.1), float32, on the same
  inputs (n x 32 standard normal), n = 2,000 and 8,000. neural-tangents runs in its pinned venv
  (``LAZYRICH_NT_PYTHON``, default ``/work/ntvenv/bin/python``) as a subprocess; both sides are
  jitted, warmed up (compiled) first, and the median of several runs is reported. The ratio is
  lazyrich time / neural-tangents time (goal <= 1).
* Architectures (NNGP + NTK, float32, W_std = sqrt(2), b_std = 0.1, 3x3 SAME convolutions, ReLU):
  CNN-VEC (3 conv + Flatten + Dense) and CNN-GAP (5 conv + GlobalAvgPool + Dense) on 8x8x1 and
  16x16x3 inputs, and Myrtle-5 (conv, conv, pool, conv, pool, conv, pool, GlobalAvgPool, Dense; 2x2
  average pools) on 16x16x3. Same inputs on both sides; each run in a fresh subprocess that reports
  the median time after a compiling warm-up call and its peak resident memory (``ru_maxrss``, which
  includes the compilation). The pooled networks need the full ``(n1, n2, H, W, H, W)`` covariance;
  on 16x16x3 both sides tile it (lazyrich ``kernel_fn(batch_size=...)``, neural-tangents
  ``nt.batch``) with the same tile size. Goal: ratio <= 0.5 and peak memory <= neural-tangents'.
* The 20,000 x 20,000 float32 kernel with ``batch_size`` row tiles, in a fresh subprocess that
  reports its peak resident memory (``ru_maxrss``; tracemalloc does not see XLA buffers). The budget
  is the process baseline plus the two outputs (2 x 1.6 GB) plus 1 GiB; tiles are 250 rows.

Writes ``benchmarks/results/infinite_kernels.json`` (``--part archs`` or ``--part mlp`` reruns one
part and keeps the other's rows; ``--mlp-sizes`` and ``--no-tiled`` shorten the MLP part).
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
import time

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

# name -> (input shape, n, tile size for both sides or 0 for none)
ARCHS = {
    "cnn_vec/8x8x1": ((8, 8, 1), 256, 0),
    "cnn_vec/16x16x3": ((16, 16, 3), 128, 0),
    "cnn_gap/8x8x1": ((8, 8, 1), 32, 16),
    "cnn_gap/16x16x3": ((16, 16, 3), 16, 8),
    "myrtle5/16x16x3": ((16, 16, 3), 16, 8),
}
ARCH_W_STD, ARCH_B_STD, ARCH_WIDTH = 2**0.5, 0.1, 64

# The same three architectures written for each library: `L` is the layer namespace, `conv`,
# `relu`, `pool`, `gap`, `flatten`, `dense`, `serial` its constructors.
ARCH_NET = textwrap.dedent(
    """
    def network(name):
        c = [conv(), relu()]
        if name.startswith("cnn_vec"):
            return serial(*c * 3, flatten(), dense())
        if name.startswith("cnn_gap"):
            return serial(*c * 5, gap(), dense())
        return serial(*c * 2, pool(), *c, pool(), *c, pool(), gap(), dense())
    """
)

LAZYRICH_ARCH = (
    TIMER
    + textwrap.dedent(
        f"""
    from lazyrich import nn, theory
    conv = lambda: nn.Conv({ARCH_WIDTH}, (3, 3), padding="SAME", W_std={ARCH_W_STD},
                           b_std={ARCH_B_STD})
    relu, gap, flatten = nn.Relu, nn.GlobalAvgPool, nn.Flatten
    pool = lambda: nn.AvgPool((2, 2), (2, 2))
    dense = lambda: nn.Dense(1, {ARCH_W_STD}, {ARCH_B_STD})
    serial = nn.serial
    """
    )
    + ARCH_NET
    + textwrap.dedent(
        """
    name, path, repeats, tile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    x = jnp.asarray(np.load(path), jnp.float32)
    kf = theory.kernel_fn(network(name), batch_size=tile or None)
    median, times = timed(lambda x: kf(x), x, repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(median=median, times=times, peak_rss_bytes=peak,
                          full_spatial_input=kf.full_spatial_input)))
    """
    )
)

NT_ARCH = (
    TIMER
    + textwrap.dedent(
        f"""
    import warnings; warnings.filterwarnings("ignore")
    import neural_tangents as nt
    from neural_tangents import stax
    conv = lambda: stax.Conv({ARCH_WIDTH}, (3, 3), padding="SAME", W_std={ARCH_W_STD},
                             b_std={ARCH_B_STD})
    relu, gap, flatten, serial = stax.Relu, stax.GlobalAvgPool, stax.Flatten, stax.serial
    pool = lambda: stax.AvgPool((2, 2), (2, 2))
    dense = lambda: stax.Dense(1, {ARCH_W_STD}, {ARCH_B_STD})
    """
    )
    + ARCH_NET
    + textwrap.dedent(
        """
    name, path, repeats, tile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    x = jnp.asarray(np.load(path), jnp.float32)
    kfn = jax.jit(network(name)[2], static_argnames="get")
    if tile:
        kfn = nt.batch(kfn, batch_size=tile)
    median, times = timed(lambda x: kfn(x, None, ("nngp", "ntk")), x, repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(median=median, times=times, peak_rss_bytes=peak)))
    """
    )
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
    parser.add_argument("--part", choices=("all", "mlp", "archs"), default="all")
    parser.add_argument("--mlp-sizes", default=None, help="comma-separated n for the MLP rows")
    parser.add_argument("--no-tiled", action="store_true", help="keep the stored tiled result")
    parser.add_argument("--archs", default=None, help="comma-separated names of ARCHS to rerun")
    args = parser.parse_args()
    sizes = (500, 1000) if args.quick else (2000, 8000)
    if args.mlp_sizes:
        sizes = tuple(int(v) for v in args.mlp_sizes.split(","))
    tiled_n, tile = (4000, 250) if args.quick else (20000, 250)
    lazyrich_env = {"PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    nt_env = {"PYTHONPATH": "", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    have_nt = pathlib.Path(NT_PYTHON).exists()
    if not have_nt:
        print(
            f"neural-tangents interpreter {NT_PYTHON} not found (set LAZYRICH_NT_PYTHON); "
            "skipping it."
        )

    out = ROOT / "benchmarks" / "results" / "infinite_kernels.json"
    old = json.loads(out.read_text()) if out.exists() else {}
    rows, tiled, archs = old.get("timing", []), old.get("tiled"), old.get("architectures", [])
    envs = dict(ours=lazyrich_env, theirs=nt_env, have_nt=have_nt)
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiled_only:
            sizes = ()
        if args.part in ("all", "mlp") and not args.tiled_only:
            new_rows = mlp_rows(sizes, args.repeats, tmp, envs)
            done = {r["n"] for r in new_rows}
            rows = sorted([r for r in rows if r["n"] not in done] + new_rows, key=lambda r: r["n"])
        if args.part in ("all", "archs") and not args.tiled_only:
            names = args.archs.split(",") if args.archs else list(ARCHS)
            new = arch_rows(names, args.repeats, tmp, envs)
            archs = [r for r in archs if r["name"] not in names] + new
            archs.sort(key=lambda r: list(ARCHS).index(r["name"]))
        if args.part in ("all", "mlp") and not args.no_tiled:
            tiled = tiled_row(tiled_n, tile, lazyrich_env)
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
            architectures=dict(
                W_std=ARCH_W_STD,
                b_std=ARCH_B_STD,
                conv="3x3 SAME, ReLU",
                pools="AvgPool 2x2 stride 2 (Myrtle-5)",
                cases={k: dict(input_shape=v[0], n=v[1], tile=v[2]) for k, v in ARCHS.items()},
            ),
        ),
        machine=dict(
            platform=platform.platform(), cpu_count=os.cpu_count(), load_average=os.getloadavg()
        ),
        timing=rows,
        tiled=tiled,
        architectures=archs,
    )
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


def _stamp():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def mlp_rows(sizes, repeats_arg, tmp, envs):
    rows, rng = [], np.random.default_rng(0)
    for n in sizes:
        path = pathlib.Path(tmp) / f"x{n}.npy"
        np.save(path, rng.normal(size=(n, INPUT_DIM)).astype(np.float32))
        repeats = repeats_arg if n <= 2000 else max(1, repeats_arg - 1)
        ours = run(sys.executable, LAZYRICH_RUN, path, repeats, env_extra=envs["ours"])
        theirs = (
            run(NT_PYTHON, NT_RUN, path, repeats, env_extra=envs["theirs"], cwd=tmp)
            if envs["have_nt"]
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
                measured=_stamp(),
                load_average=os.getloadavg(),
            )
        )
        nt_text = f"{theirs['median']:.3f} s" if theirs else "n/a"
        ratio_text = f"{ratio:.2f}" if ratio else "n/a"
        print(
            f"MLP n={n:>6}: lazyrich {ours['median']:.3f} s   neural-tangents {nt_text}   "
            f"ratio {ratio_text}",
            flush=True,
        )
    return rows


def arch_rows(names, repeats, tmp, envs):
    rows, rng = [], np.random.default_rng(1)
    for name in names:
        shape, n, tile = ARCHS[name]
        path = pathlib.Path(tmp) / f"{name.replace('/', '_')}.npy"
        np.save(path, rng.normal(size=(n, *shape)).astype(np.float32))
        args = (name, path, repeats, tile)
        ours = run(sys.executable, LAZYRICH_ARCH, *args, env_extra=envs["ours"])
        theirs = (
            run(NT_PYTHON, NT_ARCH, *args, env_extra=envs["theirs"], cwd=tmp)
            if envs["have_nt"]
            else None
        )
        row = dict(
            name=name,
            input_shape=shape,
            n=n,
            tile=tile,
            lazyrich_s=ours["median"],
            lazyrich_times=ours["times"],
            lazyrich_peak_rss_bytes=ours["peak_rss_bytes"],
            full_spatial_input=ours["full_spatial_input"],
            measured=_stamp(),
            load_average=os.getloadavg(),
        )
        if theirs:
            row.update(
                neural_tangents_s=theirs["median"],
                neural_tangents_times=theirs["times"],
                neural_tangents_peak_rss_bytes=theirs["peak_rss_bytes"],
                ratio=ours["median"] / theirs["median"],
                memory_ratio=ours["peak_rss_bytes"] / theirs["peak_rss_bytes"],
            )
        rows.append(row)
        gib = 2.0**30
        text = f"{name:>16} n={n:>4}: lazyrich {ours['median']:.3f} s {ours['peak_rss_bytes'] / gib:.2f} GiB"
        if theirs:
            text += (
                f"   neural-tangents {theirs['median']:.3f} s "
                f"{theirs['peak_rss_bytes'] / gib:.2f} GiB   ratio {row['ratio']:.2f}   "
                f"memory ratio {row['memory_ratio']:.2f}"
            )
        print(text, flush=True)
    return rows


def tiled_row(tiled_n, tile, lazyrich_env):
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
    return tiled


if __name__ == "__main__":
    main()
