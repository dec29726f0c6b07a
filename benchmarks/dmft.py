"""DMFT solver cost against simulating an ensemble of finite networks (papers.md §6.6, Table 1).

For P in {10, 20, 40} training points and T in {50, 100, 200} time points, measures the wall time (median of
``--repeats`` runs after a compile/warm-up run) and the peak XLA buffer memory (``memory_analysis`` of the compiled
program: arguments + outputs + temporaries) of

* the two-layer DMFT (sampled single-neuron process, ``S = 40,000`` samples with the t = 0 control variate:
  Monte-Carlo error at or below that of the mean of 10 networks of width 4,000, i.e. 40,000 neurons);
* the deep DMFT (``L = 2``, tanh, alternating Monte Carlo, ``S = 4,000`` samples, 64 response samples);
* an ensemble of 10 finite networks of width 4,000 trained by RK4 gradient flow on the same grid (two-layer and
  ``L = 2``), the simulation the DMFT replaces.

Sizes are run in increasing ``P*T``; once a method exceeds ``--budget`` seconds, larger sizes of that method are
skipped and recorded as such (the deep solver's O((PT)^3) cost is out of reach of a small CPU at PT = 8,000).
Writes ``benchmarks/results/dmft.json`` and prints a table with time ratios (ensemble / DMFT).

Run: ``PYTHONPATH=. /work/venv/bin/python benchmarks/dmft.py [--quick] [--budget SECONDS]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import jax.random as jr

from lazyrich import dynamics, theory

ENSEMBLE, WIDTH = 10, 4000


def _problem(num_train, num_times, input_dim=16):
    x = jr.normal(jr.key(0), (num_train, input_dim), jnp.float32)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True) * jnp.sqrt(float(input_dim))
    y = jnp.sign(x[:, 0])
    return x, y, x @ x.T / input_dim, jnp.linspace(0.0, 5.0, num_times, dtype=jnp.float32)


def _peak_bytes(fn, *args):
    try:
        stats = jax.jit(fn).lower(*args).compile().memory_analysis()
        return int(
            stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
        )
    except Exception:  # memory_analysis is backend dependent
        return None


def _time(fn, *args, repeats):
    jax.block_until_ready(fn(*args))  # compile + warm up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def _methods(num_samples_two, num_samples_deep, response_samples, ensemble, width):
    def two_layer(kx, y, times):
        return theory.solve_dmft_two_layer(
            kx,
            y,
            times,
            gamma0=1.0,
            key=jr.key(1),
            num_samples=num_samples_two,
            substeps=1,
            two_time=False,
        ).ntk

    def deep(kx, y, times):
        return theory.solve_dmft_deep(
            kx,
            y,
            times,
            gamma0=1.0,
            key=jr.key(1),
            depth=2,
            num_samples=num_samples_deep,
            num_response_samples=response_samples,
            max_iterations=8,
            tol=1e-3,
        ).ntk

    def nets(depth):
        def run(x, y, times):
            def one(k):
                p = dynamics.meanfield_mlp_init(k, input_dim=x.shape[1], width=width, depth=depth)
                return dynamics.train_meanfield_gradient_flow(
                    p, x, y, x[:0], times, gamma0=1.0, substeps=1
                )["ntk"]

            return jax.lax.map(one, jr.split(jr.key(2), ensemble))

        return run

    return {
        "dmft_two_layer": (two_layer, "kx"),
        f"ensemble{ensemble}_N{width}_two_layer": (nets(1), "x"),
        "dmft_deep_L2": (deep, "kx"),
        f"ensemble{ensemble}_N{width}_L2": (nets(2), "x"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--budget", type=float, default=120.0, help="seconds per run before skipping larger sizes"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results" / "dmft.json")
    )
    args = parser.parse_args()
    if args.quick:
        sizes = [(4, 10), (4, 20)]
        methods = _methods(2000, 200, 16, 2, 200)
    else:
        sizes = sorted(
            ((p, t) for p in (10, 20, 40) for t in (50, 100, 200)), key=lambda s: s[0] * s[1]
        )
        methods = _methods(40_000, 4_000, 64, ENSEMBLE, WIDTH)
    rows, over_budget = [], set()
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)

    def save():
        record = {
            "benchmark": "dmft",
            "quick": args.quick,
            "budget_s": args.budget,
            "jax": jax.__version__,
            "backend": jax.default_backend(),
            "machine": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
            "rows": rows,
            "notes": "ratio = ensemble seconds / DMFT seconds (> 1: the DMFT is faster); peak_bytes = XLA "
            "argument + output + temporary buffers of the compiled program.",
        }
        path.write_text(json.dumps(record, indent=2) + "\n")

    for num_train, num_times in sizes:
        x, y, kx, times = _problem(num_train, num_times)
        row = {"P": num_train, "T": num_times}
        rows.append(row)
        for name, (fn, first) in methods.items():
            inputs = (kx if first == "kx" else x, y, times)
            if name in over_budget:
                row[name] = {"status": "skipped (a smaller size exceeded the budget)"}
                continue
            try:
                seconds = _time(fn, *inputs, repeats=args.repeats)
                row[name] = {
                    "seconds": seconds,
                    "peak_bytes": _peak_bytes(fn, *inputs),
                    "status": "ok",
                }
                if seconds > args.budget:
                    over_budget.add(name)
            except Exception as err:  # e.g. out of memory
                row[name] = {"status": f"failed: {type(err).__name__}: {str(err)[:200]}"}
                over_budget.add(name)
            print(num_train, num_times, name, row[name], flush=True)
            save()
        for kind, dmft, ens in (
            (
                "two_layer",
                "dmft_two_layer",
                [k for k in methods if k.endswith("two_layer") and k.startswith("ens")][0],
            ),
            (
                "deep",
                "dmft_deep_L2",
                [k for k in methods if k.endswith("L2") and k.startswith("ens")][0],
            ),
        ):
            a, b = row.get(dmft, {}).get("seconds"), row.get(ens, {}).get("seconds")
            row[f"ratio_{kind}"] = (b / a) if a and b else None
        save()
    header = (
        f"{'P':>3} {'T':>4} | "
        + " | ".join(f"{n[:22]:>22}" for n in methods)
        + " | ratio2L | ratioL2"
    )
    print(header)
    for row in rows:
        cells = []
        for n in methods:
            r = row[n]
            cells.append(
                f"{r['seconds']:8.2f}s {((r['peak_bytes'] or 0) / 2**20):9.1f}MiB"
                if "seconds" in r
                else f"{'skipped':>22}"
            )
        ratios = [
            f"{row[k]:7.2f}" if row[k] else "      -" for k in ("ratio_two_layer", "ratio_deep")
        ]
        print(f"{row['P']:>3} {row['T']:>4} | " + " | ".join(cells) + " | " + " | ".join(ratios))
    print("wrote", path)


if __name__ == "__main__":
    main()
