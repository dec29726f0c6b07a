"""DMFT solvers against simulating an ensemble of finite networks to the same accuracy.

The solvers follow Bordelon & Pehlevan (NeurIPS 2022), https://arxiv.org/abs/2205.09653, Algorithm 1 and
App. B.

Problem: ``P`` Gaussian inputs (D = 16, ``|x|^2 = D``), ``y = sign(x_1)``, richness ``gamma0 = 1``, gradient flow on
``t in [0, 5]`` saved on ``T`` equally spaced times, float32, for P in {10, 20, 40} and T in {50, 100, 200}.

Competitor: the mean over an ensemble of 10 mean-field networks of width 4,000 (two-layer, and ``L = 2`` tanh),
trained by RK4 on the same grid (``lazyrich.dynamics.models.train_meanfield_gradient_flow``, ``substeps=1``; the ten
two-layer networks vmapped or mapped, whichever is faster; the ten deep networks run one after another, so one is
timed and the ensemble time is 10x that).

Accuracy (the same measure for both): ``err = max(max_t |Delta(t) - Delta_ref(t)| / |y|,
max_t |K(t) - K_ref(t)|_F / |K_ref(t)|_F)``, residuals and NTK ``K(t, t)`` on the training points, against a
high-accuracy reference: the two-layer DMFT with S = 2^18 scrambled-Sobol' points on the same grid (its own error
is checked against an independent 320,000-sample i.i.d. solve: ``reference_check`` in the JSON). For every P the
ensemble's error is measured (T = 50; the horizon is fixed, so the Monte-Carlo accuracy does not depend on T) and
the two-layer DMFT's ``S`` is the smallest of a ladder whose error (median over 3 seeds) is at most the
ensemble's; that ``S`` is timed on every cell of that P. The two-layer DMFT is
``solve_dmft_two_layer(sampling="sobol")``: randomised quasi-Monte Carlo over the ``1 + rank(K^x)``-dimensional
Gaussian of the initial variables, which a network ensemble cannot use. The deep DMFT (``L = 2``) runs with a
fixed, uncalibrated ``S = 2,000`` (16 response samples): its accuracy is not matched to the ensemble's.

Timing: two-layer: median of ``--repeats`` runs after a compile/warm-up run; deep: one run after an ahead-of-time
compile (compile time recorded separately). Peak memory = XLA argument + output + temporary buffers of the
compiled program (``memory_analysis``). Deep DMFT cells with ``P*T > --deep-max-pt`` and deep-ensemble cells
with ``P*T > --deep-ensemble-max-pt`` are not run and are recorded with a cost estimate extrapolated from a
measured cell (``(PT)^3`` for the DMFT's response functions, ``PT`` for the networks).

Run (under the benchmark lock): ``flock /work/bench.lock env PYTHONPATH=$PWD /work/venv/bin/python
benchmarks/dmft.py [--quick] [--deep-only --deep-max-pt 1000 --out FILE]``. Writes
``benchmarks/results/dmft.json`` and prints the table (time ratio = ensemble seconds / DMFT seconds; > 1: the
DMFT is faster).

Results (2026-11-29, 2 shared CPU cores, load average 8-10; ``benchmarks/results/dmft.json``): the two-layer
DMFT matches the ensemble's error with S = 8,192 / 6,144 / 4,096 Sobol' points at P = 10 / 20 / 40 and is faster
than the ensemble on all 9 cells, ratio (ensemble / DMFT) 4.4, 2.2, 2.9 (P = 10; T = 50, 100, 200), 4.1, 5.5, 4.7
(P = 20), 5.0, 6.5, 6.9 (P = 40). Deep L = 2 (uncalibrated S = 2,000): only P = 10, T = 50 was run, 132 s against
281 s for the ensemble (ratio 2.1); at P*T >= 1,000 the ~(PT)^3 response cost (estimated >= 1,055 s) exceeds the
ensembles' measured 290-1,001 s, so those cells were not run.

Deep accuracy calibration (``--deep-calibrate``, P = 10, T = 50, L = 2 tanh, float32; 2026-11-29, one core of the
2-core machine, the other busy; ``benchmarks/results/dmft_deep_calibration.json``): reference = deep DMFT with
S = 131,072 samples and 128 response samples (``response_method="solve"``, first-order control variate; 2,077 s);
a second reference with other samples differs from it by 5.6e-3. The 10-network width-4,000 ensemble's error is
1.49e-2 (174 s including its compile). The deep DMFT with 64 response samples: S = 4,096 gives 1.66e-2 / 1.69e-2
(2 keys) in 43 / 47 s; S = 16,384 gives 1.06e-2 / 1.00e-2 in 171 / 173 s. So the deep DMFT reaches the
ensemble's accuracy at about the ensemble's time on the smallest cell (ratio ~1.0; 3.9x faster at 1.13x its
error), and its cost grows as S (PT)^2 + R (PT)^3 against the ensemble's P T N^2: the larger cells are out of
reach, as Bordelon & Pehlevan's own cost table says (the DMFT wins only for N >> PT).

Deep timing on an accelerator (``--deep-timing``; one NVIDIA H200, jax 0.11.2, float32 at "highest" matmul
precision, 2026-11-29; ``benchmarks/results/dmft_deep_gpu.json``): the deep DMFT at the sample counts that match
the ensemble's accuracy on the smallest cell (S = 16,384, 64 response samples) against the 10 width-4,000
networks: (P, T) = (10, 50) 1.66 s vs 0.32 s, (20, 100) 7.0 s vs 0.69 s, (40, 200) 62.6 s vs 1.9 s, (10, 200)
8.5 s vs 1.27 s, i.e. the ensemble is 5-33x faster there. The networks' N^2 matrix products are what a GPU does
best, while the DMFT's time-causal solves and (PT)^3 response Jacobians are not, so the accelerator widens the
gap that the CPU calibration shows; the DMFT output differs from the ensemble's by 1.5-2.0e-2 on these cells.
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


def deep_dmft(num_samples, response_samples, seed=1, response_method="autodiff", tol=1e-3):
    options = dict(
        depth=2,
        num_response_samples=response_samples,
        response_chunk=min(16, response_samples),
        max_iterations=16,
        tol=tol,
        response_method=response_method,
    )
    return _dmft(theory.solve_dmft_deep, seed, num_samples=num_samples, **options)


def ensemble(depth, size, width, *, batched):
    def one(x, y, times, k):
        params = dynamics.models.meanfield_mlp_init(
            k, input_dim=x.shape[1], width=width, depth=depth
        )
        out = dynamics.models.train_meanfield_gradient_flow(
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


def deep_calibration(num_train, *, ladder, ref_samples, ref_response, response, log, seeds=(1, 2)):
    """Deep (L = 2, tanh) accuracy at T = 50: the 10-network ensemble's error and the DMFT's error against
    ``S`` (``response`` response samples, ``response_method="solve"`` with the first-order control
    variate), all against a DMFT reference with ``ref_samples`` samples and ``ref_response`` response
    samples; each DMFT run is timed (one run after an ahead-of-time compile)."""
    x, y, _, times = _problem(num_train, 50)
    start = time.perf_counter()
    ref = jax.jit(deep_dmft(ref_samples, ref_response, seed=0, response_method="solve", tol=1e-4))(
        x, y, times
    )
    ref = tuple(np.asarray(a) for a in ref)
    out = {"reference_seconds": time.perf_counter() - start, "reference_samples": ref_samples}
    out["reference_response_samples"] = ref_response
    log(f"  deep reference P={num_train}: {out}")
    # The reference's own error: a second reference-sized solve with other samples.
    other = jax.jit(
        deep_dmft(ref_samples, ref_response, seed=7, response_method="solve", tol=1e-4)
    )(x, y, times)
    out["reference_self_error"] = error(other, ref, y)
    log(f"  deep reference self error {out['reference_self_error']:.2e}")
    fn = ensemble(2, 10, 4000, batched=False)
    start = time.perf_counter()
    out["ensemble_error"] = error(jax.jit(fn)(x, y, times), ref, y)
    out["ensemble_seconds_with_compile"] = time.perf_counter() - start
    log(
        f"  deep ensemble error {out['ensemble_error']:.2e} ({out['ensemble_seconds_with_compile']:.0f} s)"
    )
    out["dmft"] = {}
    for samples in ladder:
        errs, secs = [], []
        for seed in seeds:
            fn = deep_dmft(samples, response, seed=seed, response_method="solve")
            seconds, _, res = _time_once(fn, x, y, times)
            secs.append(seconds)
            errs.append(error(res, ref, y))
        out["dmft"][str(samples)] = {"errors": errs, "seconds": secs, "load": os.getloadavg()}
        log(f"  deep DMFT S={samples} R={response}: errors {errs} seconds {secs}")
    return out


def deep_timing(cells, *, num_samples, response, width, log):
    """Deep (L = 2) DMFT at a fixed ``num_samples`` / ``response`` against the 10-network ensemble of
    ``width`` (vmapped and mapped), cell by cell: one timed run after an ahead-of-time compile each, plus the
    DMFT-to-ensemble difference (the accuracy of both is set by the ``--deep-calibrate`` run: at S = 16,384 and
    64 response samples the DMFT's error is below the ensemble's at P = 10, T = 50)."""
    rows = []
    for num_train, num_times in cells:
        x, y, _, times = _problem(num_train, num_times)
        row, outs = {"P": num_train, "T": num_times}, {}
        for name, fn in (
            ("ensemble_vmap", ensemble(2, 10, width, batched=True)),
            ("ensemble_map", ensemble(2, 10, width, batched=False)),
            ("dmft", deep_dmft(num_samples, response, seed=1, response_method="solve")),
        ):
            seconds, compile_s, outs[name] = _time_once(fn, x, y, times)
            row[name] = {"seconds": seconds, "compile": compile_s}
            log(f"  P={num_train} T={num_times} {name}: {row[name]}")
        for name in ("ensemble_vmap", "ensemble_map"):
            row[name]["dmft_vs_this_error"] = error(outs["dmft"], outs[name], y)
        row["ratio"] = (
            min(row["ensemble_vmap"]["seconds"], row["ensemble_map"]["seconds"])
            / row["dmft"]["seconds"]
        )
        rows.append(row)
    return rows


def _time_once(fn, *args):
    """``(seconds of one run, compile seconds, output)``: ahead-of-time compile, then a single timed run."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return time.perf_counter() - start, compile_s, out


def _timed(fn, x, y, times, *, repeats, info):
    try:
        if repeats:
            seconds, compile_s, _ = _time(fn, x, y, times, repeats=repeats)
        else:
            seconds, compile_s, _ = _time_once(fn, x, y, times)
        return {
            "seconds": seconds,
            "compile_seconds": compile_s,
            "peak_bytes": _peak_bytes(fn, x, y, times),
            "status": "ok",
            "load_average": os.getloadavg(),
            **info,
        }
    except Exception as err:  # e.g. out of memory
        return {"status": f"failed: {type(err).__name__}: {str(err)[:200]}", **info}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-deep", action="store_true")
    parser.add_argument("--deep-samples", type=int, default=2000)
    parser.add_argument("--deep-response-samples", type=int, default=16)
    parser.add_argument("--deep-response-method", default="autodiff", choices=("solve", "autodiff"))
    parser.add_argument(
        "--deep-only", action="store_true", help="time only the deep DMFT (no ensembles)"
    )
    parser.add_argument(
        "--deep-max-pt", type=int, default=500, help="largest P*T for the deep DMFT (cost ~ (PT)^3)"
    )
    parser.add_argument(
        "--deep-ensemble-max-pt",
        type=int,
        default=2000,
        help="largest P*T at which the deep ensemble is timed (cost ~ P T N^2)",
    )
    parser.add_argument(
        "--two-layer-samples",
        type=int,
        default=None,
        help="skip the two-layer calibration and use this sample count (e.g. from an earlier run)",
    )
    parser.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results" / "dmft.json")
    )
    parser.add_argument(
        "--deep-calibrate",
        action="store_true",
        help="only the deep accuracy calibration at P = 10, T = 50 (writes --out)",
    )
    parser.add_argument(
        "--deep-timing",
        action="store_true",
        help="only time the deep DMFT (S = 16,384, 64 response samples) against the deep ensemble on "
        "(P, T) = (10, 50), (20, 100), (40, 200), (10, 200) (writes --out; meant for an accelerator)",
    )
    args = parser.parse_args()
    if args.deep_timing:
        path = pathlib.Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        cells = [(4, 10)] if args.quick else [(10, 50), (20, 100), (40, 200), (10, 200)]
        samples, response, width = (512, 8, 200) if args.quick else (16384, 64, 4000)
        rows = deep_timing(
            cells,
            num_samples=samples,
            response=response,
            width=width,
            log=lambda msg: print(msg, flush=True),
        )
        record = {"jax": jax.__version__, "devices": str(jax.devices()), "num_samples": samples}
        record.update(num_response_samples=response, width=width, quick=args.quick, rows=rows)
        path.write_text(json.dumps(record, indent=2) + "\n")
        print("wrote", path)
        return
    if args.deep_calibrate:
        path = pathlib.Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        cal = deep_calibration(
            4 if args.quick else 10,
            ladder=(512, 1024) if args.quick else (4096, 16384),
            ref_samples=4096 if args.quick else 131072,
            ref_response=32 if args.quick else 128,
            response=16 if args.quick else 64,
            log=lambda msg: print(msg, flush=True),
        )
        cal.update(jax=jax.__version__, cpu_count=os.cpu_count(), quick=args.quick)
        path.write_text(json.dumps(cal, indent=2) + "\n")
        print("wrote", path)
        return
    if args.quick:
        sizes_p, sizes_t, size, width = (4, 6), (10, 20), 2, 200
        two_ladder, two_ref = (256, 1024, 4096), 2**14
    else:
        sizes_p, sizes_t, size, width = (10, 20, 40), (50, 100, 200), 10, 4000
        two_ladder = (1024, 2048, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152)
        two_ref = 2**18
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "dmft",
        "quick": args.quick,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "problem": f"D={INPUT_DIM}, |x|^2=D, y=sign(x_1), gamma0={GAMMA0}, t in [0, {T_MAX}], float32",
        "competitor": f"mean of {size} mean-field networks of width {width}, RK4 on the same grid",
        "accuracy": "max(max_t |Delta-Delta_ref|/|y|, max_t |K-K_ref|_F/|K_ref|_F) on training points",
        "two_layer_dmft": "solve_dmft_two_layer(sampling='sobol', substeps=1, two_time=False)",
        "two_layer_reference": f"the same solver with S = {two_ref} Sobol' points (seed 0)",
        "calibration": {},
        "rows": [],
    }

    def log(msg):
        print(msg, flush=True)

    def save():
        record["load_average_end"] = os.getloadavg()
        path.write_text(json.dumps(record, indent=2) + "\n")

    # Faster two-layer competitor (vmapped or mapped ensemble), chosen on the smallest problem.
    x, y, _, times = _problem(sizes_p[0], sizes_t[0])
    secs = (
        {}
        if args.deep_only
        else {
            mode: _time(ensemble(1, size, width, batched=mode), x, y, times, repeats=1)[0]
            for mode in (True, False)
        }
    )
    batched = min(secs, key=secs.get) if secs else False
    log(f"two-layer ensemble: {secs}")
    if not (
        args.quick or args.deep_only
    ):  # the reference's own error: an independent i.i.d. reference
        ref_sobol = jax.jit(two_layer_dmft(two_ref, seed=0))(x, y, times)
        ref_iid = jax.jit(two_layer_dmft(320_000, seed=0, sampling="iid"))(x, y, times)
        record["reference_check"] = {
            "P": sizes_p[0],
            "iid_320000_vs_sobol_reference": error(ref_iid, ref_sobol, y),
        }
        save()
    deep_info = {
        "response_method": args.deep_response_method,
        "num_samples": args.deep_samples,
        "num_response_samples": args.deep_response_samples,
        "accuracy": "not calibrated (fixed sample count)",
    }
    deep_fn = deep_dmft(
        args.deep_samples, args.deep_response_samples, response_method=args.deep_response_method
    )

    def time_deep(x, y, times):
        return _timed(deep_fn, x, y, times, repeats=0, info=deep_info)

    deep_first = None  # (seconds, P*T) of the first timed deep DMFT cell
    deep_ens_first = None  # the same for the deep ensemble
    for num_train in sizes_p:
        if args.deep_only:
            samples = None
        elif args.two_layer_samples is None:
            cal = calibrate(
                "two_layer",
                num_train,
                ladder=two_ladder,
                ref_fn=two_layer_dmft(two_ref, seed=0),
                ens_fn=ensemble(1, size, width, batched=batched),
                dmft_fn=two_layer_dmft,
                ref_refine=1,
                log=log,
            )
            record["calibration"][f"two_layer_P{num_train}"] = cal
            samples = cal["num_samples"]
            save()
        else:
            samples = args.two_layer_samples
        for num_times in sizes_t:
            x, y, _, times = _problem(num_train, num_times)
            row = {"P": num_train, "T": num_times}
            record["rows"].append(row)
            if args.deep_only:
                pt = num_train * num_times
                if pt <= args.deep_max_pt:
                    row["dmft_deep_L2"] = time_deep(x, y, times)
                    log(f"P={num_train} T={num_times} deep DMFT: {row}")
                    save()
                continue
            row["dmft_two_layer"] = _timed(
                two_layer_dmft(samples),
                x,
                y,
                times,
                repeats=args.repeats,
                info={"num_samples": samples, "sampling": "sobol"},
            )
            row["ensemble_two_layer"] = _timed(
                ensemble(1, size, width, batched=batched),
                x,
                y,
                times,
                repeats=args.repeats,
                info={"size": size, "width": width},
            )
            log(f"P={num_train} T={num_times} two-layer: {row}")
            save()
            if args.skip_deep:
                continue
            pt = num_train * num_times
            if pt <= args.deep_max_pt:
                row["dmft_deep_L2"] = time_deep(x, y, times)
                if deep_first is None and "seconds" in row["dmft_deep_L2"]:
                    deep_first = (row["dmft_deep_L2"]["seconds"], pt)
            else:
                estimate = (
                    f"estimated {deep_first[0] * (pt / deep_first[1]) ** 3:.0f} s from the "
                    f"(PT)^3 scaling of the P*T = {deep_first[1]} cell"
                    if deep_first
                    else "no measured cell to extrapolate from"
                )
                row["dmft_deep_L2"] = {
                    "status": f"not run: P*T = {pt} > --deep-max-pt {args.deep_max_pt}; {estimate}",
                    **deep_info,
                }
            # The 10 deep networks (width 4,000, L = 2) run one after another (lax.map): one network is
            # timed and the ensemble's time is 10x that (the mapped loop is exactly 10 repeats).
            if pt > args.deep_ensemble_max_pt:
                first = deep_ens_first
                estimate = (
                    f"; estimated {first[0] * pt / first[1]:.0f} s (linear in P*T from the P*T = "
                    f"{first[1]} cell)"
                    if first
                    else ""
                )
                row["ensemble_deep_L2"] = {
                    "status": f"not run: P*T = {pt} > --deep-ensemble-max-pt{estimate}",
                    "size": size,
                    "width": width,
                }
                log(f"P={num_train} T={num_times} deep: {row}")
                save()
                continue
            one = _timed(
                ensemble(2, 1, width, batched=False),
                x,
                y,
                times,
                repeats=0,
                info={"size": 1, "width": width},
            )
            if "seconds" in one and deep_ens_first is None:
                deep_ens_first = (size * one["seconds"], pt)
            if "seconds" in one:
                one["seconds_one_network"] = one["seconds"]
                one["seconds"] = size * one["seconds"]
                one["size"] = size
                one["note"] = f"time of 1 network x {size} (they run sequentially)"
            row["ensemble_deep_L2"] = one
            log(f"P={num_train} T={num_times} deep: {row}")
            save()
    for row in record["rows"]:
        for kind in ("two_layer", "deep_L2"):
            a = row.get(f"dmft_{kind}", {}).get("seconds")
            b = row.get(f"ensemble_{kind}", {}).get("seconds")
            row[f"ratio_{kind}"] = (b / a) if a and b else None
    save()
    kinds = ("two_layer",) if args.skip_deep else ("two_layer", "deep_L2")
    names = [f"{p}_{k}" for k in kinds for p in ("dmft", "ensemble")]
    print(f"{'P':>3} {'T':>4} | " + " | ".join(f"{n:>24}" for n in names) + " | ratios")
    for row in record["rows"]:
        cells = [
            f"{row[n]['seconds']:9.2f}s {(row[n]['peak_bytes'] or 0) / 2**20:9.1f}MiB"
            if "seconds" in row.get(n, {})
            else f"{row.get(n, {}).get('status', '-')[:24]:>24}"
            for n in names
        ]
        ratios = [f"{row[f'ratio_{k}']:7.2f}" if row[f"ratio_{k}"] else "      -" for k in kinds]
        print(f"{row['P']:>3} {row['T']:>4} | " + " | ".join(cells) + " | " + " ".join(ratios))
    print("calibration:", json.dumps(record["calibration"]))
    print("wrote", path)


if __name__ == "__main__":
    main()
