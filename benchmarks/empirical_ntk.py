"""Empirical NTK: lazyrich strategies against neural-tangents' three implementations (CPU).

Run from the repository root:

    PYTHONPATH=. /work/venv/bin/python benchmarks/empirical_ntk.py [--repeats 3] [--skip-nt]

neural-tangents 0.6.5 needs its pinned environment (jax 0.4.23); it runs in
a subprocess with the interpreter in ``$LAZYRICH_NT_PYTHON`` (default
``/work/ntvenv/bin/python``) and is skipped with a message if that is missing.
Both sides build the same plain-JAX models from the same NumPy parameters (written to a
temporary ``.npz``), compute the output-traced kernel ``K(x, x)`` (NT ``trace_axes=(-1,)``,
``vmap_axes=0``), are jitted and warmed up, and report the
median wall time of ``--repeats`` runs. Settings (the issue's):

* (a) MLP, 3 hidden layers of 512 (ReLU, NTK parameterisation), input dimension 128, n = 64, O = 10;
* (b) CNN, 3 conv layers (3x3, 32 channels, SAME, ReLU), global average pool, dense readout,
  inputs 16x16x3, n = 32, O = 10;
* (c) the n = 4,096 kernel of the MLP with ``batch_size=256`` (lazyrich ``auto``), and the same
  at n = 1,024 for comparison, each in a fresh process: time, XLA's compiled temporary memory
  (independent of n: one tile pair) and the peak resident memory of the process (after compiling
  and after the run; the latter includes the n^2 output).

Results: a table on stdout and ``benchmarks/results/empirical_ntk.json``.
"""

from __future__ import annotations

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
RESULTS = ROOT / "benchmarks" / "results" / "empirical_ntk.json"
NT_PYTHON = os.environ.get("LAZYRICH_NT_PYTHON", "/work/ntvenv/bin/python")
# A method whose first (compiling) call takes longer than this is timed on one more call only
# (the Jacobian and NTK-vector-product strategies on these models take 5-100 s).
SLOW_SECONDS = 5.0

# The model code is shared verbatim by both environments (jax 0.4.23 and current jax).
MODELS = textwrap.dedent(
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    def mlp(params, x):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w / jnp.sqrt(w.shape[0]) + 0.1 * b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return h

    def cnn(params, x):
        h = x
        for w, b in params[:-1]:
            fan_in = w.shape[0] * w.shape[1] * w.shape[2]
            h = jax.lax.conv_general_dilated(
                h, w / jnp.sqrt(fan_in), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            h = jax.nn.relu(h + 0.1 * b)
        w, b = params[-1]
        return jnp.mean(h, axis=(1, 2)) @ w / jnp.sqrt(w.shape[0]) + 0.1 * b

    def load(path):
        data = np.load(path)
        out = {}
        for name in ("mlp", "cnn"):
            count = int(data[name + "_layers"])
            params = [(jnp.asarray(data[f"{name}_w{i}"]), jnp.asarray(data[f"{name}_b{i}"]))
                      for i in range(count)]
            out[name] = (params, jnp.asarray(data[name + "_x"]))
        return out
    """
)

NT_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import jax
    import neural_tangents as nt
    {models}

    def median_time(fn, repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        if time.perf_counter() - t > SLOW:  # slow methods: time one warm call only
            repeats = 1
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - t)
        return sorted(times)[len(times) // 2]

    models = load(sys.argv[1])
    repeats = int(sys.argv[2])
    SLOW = float(sys.argv[3])
    impls = {{"jacobian": nt.NtkImplementation.JACOBIAN_CONTRACTION,
              "ntvp": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
              "structured": nt.NtkImplementation.STRUCTURED_DERIVATIVES}}
    out = {{"jax": jax.__version__}}
    for name, fn in (("mlp", mlp), ("cnn", cnn)):
        params, x = models[name]
        for impl_name, impl in impls.items():
            ntk = jax.jit(nt.empirical_ntk_fn(
                fn, trace_axes=(-1,), vmap_axes=0, implementation=impl))
            try:
                out[f"{{name}}/{{impl_name}}"] = median_time(lambda: ntk(x, None, params), repeats)
                kernel = np.asarray(ntk(x, None, params))
                np.save(sys.argv[1] + f".{{name}}.{{impl_name}}.npy", kernel)
            except Exception as err:  # report, do not abort the whole benchmark
                out[f"{{name}}/{{impl_name}}"] = None
                out[f"{{name}}/{{impl_name}}/error"] = repr(err)[:300]
    print("RESULT " + json.dumps(out))
    """
).format(models=MODELS)

MEMORY_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import jax, jax.numpy as jnp, numpy as np
    from lazyrich import dynamics
    {models}

    def peak_rss():
        # VmHWM: this process's own high-water mark (ru_maxrss would include the parent's peak,
        # which Linux carries across exec)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return -1

    n, batch = int(sys.argv[1]), int(sys.argv[2])
    params = load(sys.argv[3])["mlp"][0]
    x = jax.random.normal(jax.random.key(0), (n, params[0][0].shape[0]))
    fn = jax.jit(lambda p, x: dynamics.empirical_ntk(mlp, p, x, method="auto", batch_size=batch))
    compiled = fn.lower(params, x).compile()
    analysis = compiled.memory_analysis()
    rss_compiled = peak_rss()
    t = time.perf_counter()
    k = jax.block_until_ready(compiled(params, x))
    elapsed = time.perf_counter() - t
    rss = peak_rss()
    print("RESULT " + json.dumps({{
        "n": n, "batch_size": batch, "seconds": elapsed,
        "xla_temp_bytes": int(getattr(analysis, "temp_size_in_bytes", -1)),
        "xla_output_bytes": int(getattr(analysis, "output_size_in_bytes", -1)),
        "peak_rss_after_compile_bytes": int(rss_compiled),
        "peak_rss_bytes": int(rss), "finite": bool(np.isfinite(np.asarray(k)).all()),
        "kernel_bytes": int(k.size * k.dtype.itemsize)}}))
    """
).format(models=MODELS)


def make_inputs(path: pathlib.Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {}
    dims = (128, 512, 512, 512, 10)
    for i, (m, k) in enumerate(zip(dims[:-1], dims[1:])):
        arrays[f"mlp_w{i}"] = rng.standard_normal((m, k)).astype(np.float32)
        arrays[f"mlp_b{i}"] = rng.standard_normal(k).astype(np.float32)
    arrays["mlp_layers"] = np.array(len(dims) - 1)
    arrays["mlp_x"] = rng.standard_normal((64, 128)).astype(np.float32)
    channels = (3, 32, 32, 32)
    for i, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
        arrays[f"cnn_w{i}"] = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
        arrays[f"cnn_b{i}"] = rng.standard_normal(cout).astype(np.float32)
    arrays["cnn_w3"] = rng.standard_normal((32, 10)).astype(np.float32)
    arrays["cnn_b3"] = rng.standard_normal(10).astype(np.float32)
    arrays["cnn_layers"] = np.array(4)
    arrays["cnn_x"] = rng.standard_normal((32, 16, 16, 3)).astype(np.float32)
    np.savez(path, **arrays)


def _result_line(stdout: str) -> dict:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError("worker printed no RESULT line")


def run_lazyrich(path: pathlib.Path, repeats: int) -> tuple[dict, dict]:
    import jax

    from lazyrich import dynamics

    namespace: dict = {}
    exec(MODELS, namespace)  # noqa: S102 - the shared model definitions above
    models = namespace["load"](str(path))
    times, kernels = {}, {}
    for name in ("mlp", "cnn"):
        params, x = models[name]
        fn_model = namespace[name]
        for method in ("jacobian", "ntvp", "structured", "auto"):
            fn = jax.jit(
                lambda p, x, m=method, f=fn_model: dynamics.empirical_ntk(f, p, x, method=m)
            )
            t = time.perf_counter()
            kernels[f"{name}/{method}"] = np.asarray(jax.block_until_ready(fn(params, x)))
            slow = time.perf_counter() - t > SLOW_SECONDS  # slow methods: one warm call only
            samples = []
            for _ in range(1 if slow else repeats):
                t = time.perf_counter()
                jax.block_until_ready(fn(params, x))
                samples.append(time.perf_counter() - t)
            times[f"{name}/{method}"] = float(np.median(samples))
    return times, kernels


def run_nt(path: pathlib.Path, repeats: int) -> dict | None:
    if not pathlib.Path(NT_PYTHON).exists():
        print(
            f"neural-tangents interpreter {NT_PYTHON} not found (set LAZYRICH_NT_PYTHON); skipping"
        )
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JAX_ENABLE_X64")}
    proc = subprocess.run(
        [NT_PYTHON, "-c", NT_WORKER, str(path), str(repeats), str(SLOW_SECONDS)],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        print("neural-tangents worker failed:\n" + proc.stderr[-2000:])
        return None
    return _result_line(proc.stdout)


def run_memory(path: pathlib.Path, n: int, batch: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_WORKER, str(n), str(batch), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return _result_line(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-nt", action="store_true")
    parser.add_argument("--memory-n", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--memory-batch", type=int, default=256)
    args = parser.parse_args()
    import jax

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "inputs.npz"
        make_inputs(path)
        ours, kernels = run_lazyrich(path, args.repeats)
        theirs = None if args.skip_nt else run_nt(path, args.repeats)
        agreement = {}
        if theirs:
            for key in kernels:
                name = key.split("/")[0]
                ref_file = pathlib.Path(str(path) + f".{name}.jacobian.npy")
                if ref_file.exists():
                    ref = np.load(ref_file)
                    agreement[key] = float(np.abs(kernels[key] - ref).max() / np.abs(ref).max())
        memory = {f"n={n}": run_memory(path, n, args.memory_batch) for n in args.memory_n}

    rows, summary = [], {}
    for name in ("mlp", "cnn"):
        nt_times = {
            m: (theirs or {}).get(f"{name}/{m}") for m in ("jacobian", "ntvp", "structured")
        }
        valid = {m: t for m, t in nt_times.items() if t}
        fastest = min(valid, key=valid.get) if valid else None
        ratio = ours[f"{name}/auto"] / valid[fastest] if fastest else None
        summary[name] = {
            "lazyrich": {
                m: ours[f"{name}/{m}"] for m in ("jacobian", "ntvp", "structured", "auto")
            },
            "neural_tangents": nt_times,
            "fastest_neural_tangents": fastest,
            "ratio_auto_to_fastest_nt": ratio,
            "max_rel_diff_to_nt_jacobian": {
                k.split("/")[1]: v for k, v in agreement.items() if k.startswith(name)
            },
        }
        for m in ("jacobian", "ntvp", "structured", "auto"):
            rows.append((name, "lazyrich", m, ours[f"{name}/{m}"]))
        for m, t in nt_times.items():
            rows.append((name, "neural-tangents", m, t))
    print(f"\n{'model':6} {'library':16} {'method':11} {'median s':>10}")
    for name, lib, m, t in rows:
        shown = f"{t:.4f}" if t else "n/a"
        print(f"{name:6} {lib:16} {m:11} {shown:>10}")
    for name in ("mlp", "cnn"):
        r = summary[name]["ratio_auto_to_fastest_nt"]
        print(
            f"{name}: lazyrich auto / fastest NT ({summary[name]['fastest_neural_tangents']}) = "
            + (f"{r:.3f}" if r else "n/a")
        )
    for key, mem in memory.items():
        if "error" in mem:
            print(f"{key} batched kernel failed: {mem['error'][-500:]}")
            continue
        print(
            f"{key} batch_size={mem['batch_size']}: {mem['seconds']:.1f} s, XLA temp "
            f"{mem['xla_temp_bytes'] / 2**20:.1f} MiB, output {mem['xla_output_bytes'] / 2**20:.1f}"
            f" MiB, peak RSS {mem['peak_rss_after_compile_bytes'] / 2**20:.0f} MiB after compile,"
            f" {mem['peak_rss_bytes'] / 2**20:.0f} MiB after the run"
        )
    result = {
        "benchmark": "empirical_ntk",
        "settings": {
            "mlp": "3x512 ReLU, NTK param, input dim 128, n=64, O=10, traced",
            "cnn": "3 conv 3x3x32 SAME ReLU, global avg pool, dense; 16x16x3, n=32, O=10, traced",
            "repeats": args.repeats,
            "timing": "median wall seconds after a warm-up call (jitted); methods whose first "
            f"call exceeds {SLOW_SECONDS:g} s are timed once",
            "nt_options": "trace_axes=(-1,), vmap_axes=0",
        },
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
            "jax": jax.__version__,
            "nt_jax": (theirs or {}).get("jax"),
        },
        "results": summary,
        "batched_memory": memory,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
