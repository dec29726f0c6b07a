"""DMFT solvers against simulating an ensemble of finite networks to the same accuracy (papers.md §6.6, Table 1).

Problem: ``P`` Gaussian inputs (D = 16, ``|x|^2 = D``), ``y = sign(x_1)``, richness ``gamma0 = 1``, gradient flow on
``t in [0, 5]`` saved on ``T`` equally spaced times, float32, for P in {10, 20, 40} and T in {50, 100, 200}.

Competitor: the mean over an ensemble of 10 mean-field networks of width 4,000 (two-layer, and ``L = 2`` tanh),
trained by RK4 on the same grid (``lazyrich.dynamics.train_meanfield_gradient_flow``, ``substeps=1``; the ten
networks vmapped, or mapped when that is faster -- the faster is timed).

Accuracy (the same measure for both): ``err = max(max_t |Delta(t) - Delta_ref(t)| / |y|,
max_t |K(t) - K_ref(t)|_F / |K_ref(t)|_F)``, residuals and NTK ``K(t, t)`` on the training points, against a
high-accuracy reference: the DMFT itself with ``S_ref`` samples (two-layer: 320,000 samples, 8x the ensemble's
40,000 neurons, on the same grid; deep: 8,000 samples and a grid twice as fine, so the reference also removes
the DMFT's own time-discretisation error). The ensemble's error is measured once per problem (T = 50; the time
horizon is fixed, so the Monte-Carlo accuracy does not depend on T); the DMFT sample count ``S`` is then the
smallest of a ladder whose error (median over 3 seeds) is at most the ensemble's. That ``S`` is timed on every
cell. Two-layer: calibrated for each P; deep: calibrated at P = 10 (its reference is the most expensive
computation here) and used for every P.

Timing: median of ``--repeats`` runs after a compile/warm-up run (compile time recorded separately); peak memory
= XLA argument + output + temporary buffers of the compiled program (``memory_analysis``). A method whose
cost, extrapolated from the previous cell (DMFT: ``(PT)^3`` deep, ``PT`` two-layer; ensemble: ``PT``), would
exceed ``--budget`` seconds is skipped and recorded as such.

Run (under the benchmark lock): ``flock /work/bench.lock env PYTHONPATH=$PWD /work/venv/bin/python
benchmarks/dmft.py [--quick] [--budget SECONDS]``. Writes ``benchmarks/results/dmft.json`` and prints the table
(time ratio = ensemble seconds / DMFT seconds; > 1: the DMFT is faster).
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
import numpy as np

from lazyrich import dynamics, theory

GAMMA0, T_MAX, INPUT_DIM = 1.0, 5.0, 16


def _problem(num_train, num_times):
    x = jr.normal(jr.key(0), (num_train, INPUT_DIM), jnp.float32)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True) * jnp.sqrt(float(INPUT_DIM))
    y = jnp.sign(x[:, 0])
    times = jnp.linspace(0.0, T_MAX, num_times, dtype=jnp.float32)
    return x, y, x @ x.T / INPUT_DIM, times


def _dmft(solver, seed, **options):
    """``(x, y, times) -> (Delta_train(t), K(t, t))`` of a DMFT solver at ``gamma0 = GAMMA0``."""

    def run(x, y, times):
        kx = x @ x.T / x.shape[1]
        res = solver(kx, y, times, gamma0=GAMMA0, key=jr.key(seed), **options)
        return res.delta_train, res.ntk

    return run


def two_layer_dmft(num_samples, seed=1, sampling="sobol"):
    return _dmft(
        theory.solve_dmft_two_layer,
        seed,
        num_samples=num_samples,
        substeps=1,
        two_time=False,
        sampling=sampling,
    )


def deep_dmft(num_samples, response_samples, seed=1):
    options = dict(depth=2, num_response_samples=response_samples, max_iterations=16, tol=1e-3)
    return _dmft(theory.solve_dmft_deep, seed, num_samples=num_samples, **options)


def ensemble(depth, size, width, *, batched):
    def one(x, y, times, k):
        params = dynamics.meanfield_mlp_init(k, input_dim=x.shape[1], width=width, depth=depth)
        out = dynamics.train_meanfield_gradient_flow(
            params, x, y, x[:0], times, gamma0=GAMMA0, substeps=1
        )
        return y - out["f_train"], out["ntk"]

    def run(x, y, times):
        keys = jr.split(jr.key(2), size)
        if batched:
            delta, ntk = jax.vmap(lambda k: one(x, y, times, k))(keys)
        else:
            delta, ntk = jax.lax.map(lambda k: one(x, y, times, k), keys)
        return delta.mean(0), ntk.mean(0)

    return run


def error(out, ref, y):
    """``max(max_t |Delta - Delta_ref| / |y|, max_t |K - K_ref|_F / |K_ref|_F)`` (training points)."""
    delta, ntk = (np.asarray(a, np.float64) for a in out)
    delta_ref, ntk_ref = (np.asarray(a, np.float64) for a in ref)
    e_delta = np.max(np.linalg.norm(delta - delta_ref, axis=-1)) / np.linalg.norm(np.asarray(y))
    e_ntk = np.max(
        np.linalg.norm(ntk - ntk_ref, axis=(-2, -1)) / np.linalg.norm(ntk_ref, axis=(-2, -1))
    )
    return float(max(e_delta, e_ntk))


def _peak_bytes(fn, *args):
    try:
        stats = jax.jit(fn).lower(*args).compile().memory_analysis()
        return int(
            stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
        )
    except Exception:  # memory_analysis is backend dependent
        return None


def _time(fn, *args, repeats):
    jitted = jax.jit(fn)
    start = time.perf_counter()
    out = jax.block_until_ready(jitted(*args))  # compile + first run
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(jitted(*args))
        runs.append(time.perf_counter() - start)
    median = statistics.median(runs)
    return median, max(first - median, 0.0), out


def calibrate(kind, num_train, *, ladder, ref_fn, ens_fn, dmft_fn, ref_refine, log):
    """Ensemble error and the smallest DMFT sample count that matches it (T = 50 grid)."""
    x, y, _, times = _problem(num_train, 50)
    fine = jnp.linspace(0.0, T_MAX, ref_refine * 49 + 1, dtype=jnp.float32)
    start = time.perf_counter()
    delta_ref, ntk_ref = jax.jit(ref_fn)(x, y, fine)
    ref = (np.asarray(delta_ref)[::ref_refine], np.asarray(ntk_ref)[::ref_refine])
    ref_seconds = time.perf_counter() - start
    ens_error = error(jax.jit(ens_fn)(x, y, times), ref, y)
    errors = {}
    chosen = None
    for samples in ladder:
        errs = [error(jax.jit(dmft_fn(samples, seed))(x, y, times), ref, y) for seed in (1, 2, 3)]
        errors[samples] = statistics.median(errs)
        log(f"  calibrate {kind} P={num_train}: S={samples} error {errors[samples]:.2e}")
        if errors[samples] <= ens_error:
            chosen = samples
            break
    record = {
        "ensemble_error": ens_error,
        "dmft_error_by_samples": {str(k): v for k, v in errors.items()},
        "num_samples": chosen if chosen is not None else ladder[-1],
        "matched": chosen is not None,
        "reference_seconds": ref_seconds,
    }
    log(f"  calibrate {kind} P={num_train}: ensemble error {ens_error:.2e} -> {record}")
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per timed run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-deep", action="store_true")
    parser.add_argument(
        "--calibrate-deep",
        action="store_true",
        help="calibrate the deep sample count against a reference (expensive); else fixed samples",
    )
    parser.add_argument("--deep-samples", type=int, default=2000)
    parser.add_argument(
        "--two-layer-samples",
        type=int,
        default=None,
        help="skip the two-layer calibration and use this sample count (e.g. from an earlier run)",
    )
    parser.add_argument("--deep-max-pt", type=int, default=10**9, help="largest P*T for deep")
    parser.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results" / "dmft.json")
    )
    args = parser.parse_args()
    if args.quick:
        sizes_p, sizes_t, size, width = (4, 6), (10, 20), 2, 200
        two_ladder, two_ref = (250, 1000, 4000), 16_000
        deep_ladder, deep_ref, resp = (100, 400), 800, 16
    else:
        sizes_p, sizes_t, size, width = (10, 20, 40), (50, 100, 200), 10, 4000
        two_ladder, two_ref = (500, 1000, 2000, 4000, 8000, 16_000, 40_000), 320_000
        deep_ladder, deep_ref, resp = (1000, 2000, 4000), 8000, 16
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "dmft",
        "quick": args.quick,
        "budget_s": args.budget,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "problem": f"D={INPUT_DIM}, |x|^2=D, y=sign(x_1), gamma0={GAMMA0}, t in [0, {T_MAX}], float32",
        "competitor": f"mean of {size} mean-field networks of width {width}, RK4 on the same grid",
        "accuracy": "max(max_t |Delta-Delta_ref|/|y|, max_t |K-K_ref|_F/|K_ref|_F) on training points",
        "calibration": {},
        "rows": [],
    }

    def log(msg):
        print(msg, flush=True)

    def save():
        record["load_average_end"] = os.getloadavg()
        path.write_text(json.dumps(record, indent=2) + "\n")

    # Faster competitor (vmapped or mapped ensemble), chosen on the smallest problem.
    x, y, _, times = _problem(sizes_p[0], sizes_t[0])
    batched = {}
    batched[2] = False  # ten L = 2 networks of width 4,000 one after the other (memory)
    for depth in (1,):
        secs = {
            mode: _time(ensemble(depth, size, width, batched=mode), x, y, times, repeats=1)[0]
            for mode in (True, False)
        }
        batched[depth] = min(secs, key=secs.get)
        log(f"ensemble depth {depth}: vmapped {secs[True]:.2f} s, mapped {secs[False]:.2f} s")
    kinds = {
        "two_layer": dict(
            depth=1,
            dmft=two_layer_dmft,
            ladder=two_ladder,
            ref=two_layer_dmft(two_ref, seed=0),
            refine=1,
            cost_exp=1.0,
            per_p=True,
        ),
    }
    if not args.skip_deep:
        kinds["deep_L2"] = dict(
            depth=2,
            dmft=lambda s, seed=1: deep_dmft(s, resp, seed),
            ladder=deep_ladder,
            ref=deep_dmft(deep_ref, resp, seed=0),
            refine=2,
            cost_exp=3.0,
            per_p=False,
        )
    samples = {}
    if "deep_L2" in kinds and not args.calibrate_deep:
        samples[("deep_L2", sizes_p[0])] = args.deep_samples
        record["calibration"]["deep_L2"] = {
            "num_samples": args.deep_samples,
            "matched": None,
            "note": "not calibrated (fixed sample count; run with --calibrate-deep)",
        }
        kinds["deep_L2"]["skip_calibration"] = True
    if args.two_layer_samples is not None:
        for num_train in sizes_p:
            samples[("two_layer", num_train)] = args.two_layer_samples
        record["calibration"]["two_layer"] = {
            "num_samples": args.two_layer_samples,
            "note": "given by --two-layer-samples (not calibrated in this run)",
        }
        kinds["two_layer"]["skip_calibration"] = True
    last = {}  # (name) -> (seconds, P*T) of the last timed cell
    for num_train in sizes_p:
        # calibrate before timing this P, so a partial table is usable
        for kind, spec in kinds.items():
            if spec.get("skip_calibration") or not (spec["per_p"] or num_train == sizes_p[0]):
                continue
            cal = calibrate(
                kind,
                num_train,
                ladder=spec["ladder"],
                ref_fn=spec["ref"],
                ens_fn=ensemble(spec["depth"], size, width, batched=batched[spec["depth"]]),
                dmft_fn=spec["dmft"],
                ref_refine=spec["refine"],
                log=log,
            )
            record["calibration"][f"{kind}_P{num_train}"] = cal
            samples[(kind, num_train)] = cal["num_samples"]
            save()
        for num_times in sizes_t:
            x, y, _, times = _problem(num_train, num_times)
            row = {"P": num_train, "T": num_times}
            record["rows"].append(row)
            for kind, spec in kinds.items():
                s = samples.get((kind, num_train), samples.get((kind, sizes_p[0])))
                methods = {
                    f"dmft_{kind}": (spec["dmft"](s), spec["cost_exp"], {"num_samples": s}),
                    f"ensemble_{kind}": (
                        ensemble(spec["depth"], size, width, batched=batched[spec["depth"]]),
                        1.0,
                        {"size": size, "width": width},
                    ),
                }
                for name, (fn, exponent, info) in methods.items():
                    if kind == "deep_L2" and num_train * num_times > args.deep_max_pt:
                        row[name] = {"status": f"skipped: P*T > --deep-max-pt {args.deep_max_pt}"}
                        log(f"P={num_train} T={num_times} {name}: {row[name]['status']}")
                        continue
                    if name in last:
                        prev_seconds, prev_pt = last[name]
                        estimate = prev_seconds * (num_train * num_times / prev_pt) ** exponent
                        if estimate > args.budget:
                            row[name] = {
                                "status": f"skipped: estimated {estimate:.0f} s > budget",
                                **info,
                            }
                            log(f"P={num_train} T={num_times} {name}: {row[name]['status']}")
                            continue
                    try:
                        seconds, compile_s, _ = _time(fn, x, y, times, repeats=args.repeats)
                        row[name] = {
                            "seconds": seconds,
                            "compile_seconds": compile_s,
                            "peak_bytes": _peak_bytes(fn, x, y, times),
                            "status": "ok",
                            **info,
                        }
                        last[name] = (seconds, num_train * num_times)
                    except Exception as err:  # e.g. out of memory
                        row[name] = {"status": f"failed: {type(err).__name__}: {str(err)[:200]}"}
                        last[name] = (float("inf"), num_train * num_times)
                    log(f"P={num_train} T={num_times} {name}: {row[name]}")
                    save()
                a = row[f"dmft_{kind}"].get("seconds")
                b = row[f"ensemble_{kind}"].get("seconds")
                row[f"ratio_{kind}"] = (b / a) if a and b else None
            save()
    names = [f"{p}_{k}" for k in kinds for p in ("dmft", "ensemble")]
    print(f"{'P':>3} {'T':>4} | " + " | ".join(f"{n:>24}" for n in names) + " | ratios")
    for row in record["rows"]:
        cells = [
            f"{row[n]['seconds']:9.2f}s {(row[n]['peak_bytes'] or 0) / 2**20:9.1f}MiB"
            if "seconds" in row[n]
            else f"{row[n]['status'][:24]:>24}"
            for n in names
        ]
        ratios = [f"{row[f'ratio_{k}']:7.2f}" if row[f"ratio_{k}"] else "      -" for k in kinds]
        print(f"{row['P']:>3} {row['T']:>4} | " + " | ".join(cells) + " | " + " ".join(ratios))
    print("calibration:", json.dumps(record["calibration"]))
    print("wrote", path)


if __name__ == "__main__":
    main()
