"""Step time of a BN MLP with ghost batch norm vs ordinary batch norm vs chunked-loop implementations.

One SGD step (forward, backward, update; learning rate 0.1, no momentum or clipping) of
``input -> depth x [Linear(width) -> BN -> ReLU] -> Linear(10)`` on a batch of ``batch`` examples, with ghost
batches of ``ghost`` (``k = batch / ghost`` of them). JAX variants:

* ``gbn``: :func:`lazyrich.dynamics.models.ghost_batch_norm` (one reshape to ``(k, ghost, F)``, fused statistics,
  vectorised running-statistics update), one jitted step;
* ``bn``: the same function with ``ghost_size = batch`` (ordinary batch norm), one jitted step;
* ``bn_plain``: a textbook batch norm (``mean``/``var`` over the batch), one jitted step (a cross-check that
  ``bn`` is not a slow baseline);
* ``chunked_eager``: the original implementation (``eladhoffer/bigBatch``, ``main_gbn.py``), run the way
  PyTorch runs it: a Python loop over the ``k`` chunks, each forwarded and back-propagated separately through
  ordinary batch norm, op by op (no ``jit``), gradients summed and divided by ``k``, one update;
* ``concat_eager``: in-layer chunked ghost BN (Python loop over chunks inside each BN layer, batch norm per
  chunk, ``concatenate``), one forward/backward of the whole batch, op by op;
* ``chunked_jit`` / ``concat_jit``: the same two Python loops traced inside one ``jit`` (XLA sees the unrolled
  loop and can fuse across chunks): what a JAX user would write without a ghost-BN layer;
* ``chunked_jit_per_chunk``: the Python loop over chunks calling a jitted per-chunk gradient (dispatch per
  chunk).

PyTorch reference (eager, ``$LAZYRICH_TORCH_PYTHON``, default ``/work/torchvenv/bin/python``; skipped with a
message if missing): ``torch_bn``, ``torch_chunked`` (the authors' loop), ``torch_concat``.

Timing: every variant is compiled / warmed up first, then timed round-robin (one call of each per round, so
load changes on a shared machine hit all alike; ``--repeats`` rounds, the op-by-op variants in the first
``--eager-repeats`` only); medians are reported, and the first call (compile + one step) of each JAX variant. PyTorch runs with ``--torch-threads`` intra-op threads.

Run: ``PYTHONPATH=. /work/venv/bin/python benchmarks/ghost_bn.py [--nets small,large --repeats 20]``. Prints
one table per network and writes ``benchmarks/results/ghost_bn.json``. Goal (issue 7): ``gbn/bn <= 1.2`` and
``gbn`` faster than the chunked loop (``chunked_eager/gbn > 1``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import time

import jax
import jax.numpy as jnp
import jax.random as jr

from lazyrich import dynamics

HERE = pathlib.Path(__file__).resolve().parent
NETS = {
    "small": dict(input_dim=64, width=128, depth=3, batch=512, ghost=16),
    "large": dict(input_dim=784, width=256, depth=3, batch=1024, ghost=32),
}
EMA_RATE = 0.1


def init(key, sizes):
    params = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = {"w": jr.normal(jr.fold_in(key, i), (a, b)) / jnp.sqrt(a), "b": jnp.zeros(b)}
        if i < len(sizes) - 2:
            layer.update(scale=jnp.ones(b), bias=jnp.zeros(b))
        params.append(layer)
    stats = [dynamics.models.BatchStats(jnp.zeros(b), jnp.ones(b)) for b in sizes[1:-1]]
    return params, stats


def plain_bn(h, layer, st, eps=1e-5):
    """Textbook batch norm in train mode (biased variance), one EMA step of the running statistics."""
    mean, var = h.mean(axis=0), h.var(axis=0)
    y = (h - mean) * jax.lax.rsqrt(var + eps) * layer["scale"] + layer["bias"]
    m = EMA_RATE
    return y, dynamics.models.BatchStats((1 - m) * st.mean + m * mean, (1 - m) * st.var + m * var)


def lazyrich_bn(ghost):
    def norm(h, layer, st):
        return dynamics.models.ghost_batch_norm(
            h,
            scale=layer["scale"],
            bias=layer["bias"],
            stats=st,
            ghost_size=ghost,
            ema_rate=EMA_RATE,
        )

    return norm


def concat_bn(ghost):
    """Python loop over chunks inside the layer: batch norm per chunk, then concatenate."""

    def norm(h, layer, st):
        outs = []
        for c in range(h.shape[0] // ghost):
            y, st = plain_bn(h[c * ghost : (c + 1) * ghost], layer, st)
            outs.append(y)
        return jnp.concatenate(outs), st

    return norm


def loss_fn(params, stats, x, y, norm):
    new_stats = []
    for layer, st in zip(params[:-1], stats):
        h, st = norm(x @ layer["w"] + layer["b"], layer, st)
        new_stats.append(st)
        x = jax.nn.relu(h)
    logits = x @ params[-1]["w"] + params[-1]["b"]
    loss = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))
    return loss, new_stats


def sgd(params, grads, lr=0.1):
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def full_step(norm):
    def step(params, stats, x, y):
        (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, x, y, norm)
        return sgd(params, grads), stats

    return step


def chunked_step(batch, ghost, grad_chunk=None):
    """The authors' loop: forward/backward per chunk through ordinary BN, average the gradients, one step."""
    k = batch // ghost
    if grad_chunk is None:

        def grad_chunk(p, s, xs, ys):
            return jax.value_and_grad(loss_fn, has_aux=True)(p, s, xs, ys, plain_bn)

    def step(params, stats, x, y):
        total = None
        for c in range(k):
            xs, ys = x[c * ghost : (c + 1) * ghost], y[c * ghost : (c + 1) * ghost]
            (_, stats), grads = grad_chunk(params, stats, xs, ys)
            total = grads if total is None else jax.tree.map(jnp.add, total, grads)
        return sgd(params, jax.tree.map(lambda g: g / k, total)), stats

    return step


def implementations(batch, ghost):
    grad_chunk_jit = jax.jit(
        lambda p, s, xs, ys: jax.value_and_grad(loss_fn, has_aux=True)(p, s, xs, ys, plain_bn)
    )
    return {
        "gbn": jax.jit(full_step(lazyrich_bn(ghost))),
        "bn": jax.jit(full_step(lazyrich_bn(batch))),
        "bn_plain": jax.jit(full_step(plain_bn)),
        "chunked_eager": chunked_step(batch, ghost),
        "concat_eager": full_step(concat_bn(ghost)),
        "chunked_jit": jax.jit(chunked_step(batch, ghost)),
        "concat_jit": jax.jit(full_step(concat_bn(ghost))),
        "chunked_jit_per_chunk": chunked_step(batch, ghost, grad_chunk_jit),
    }


def time_steps(steps, args, repeats, eager_repeats):
    """Median step time of each implementation, timed round-robin (one call of each per round) so that
    load changes on a shared machine hit every implementation alike; op-by-op ones join the first
    ``eager_repeats`` rounds only."""
    first = {}
    for name, step in steps.items():
        start = time.perf_counter()
        jax.block_until_ready(step(*args))  # compile / warm up the per-op caches
        first[name] = time.perf_counter() - start
    times = {name: [] for name in steps}
    for r in range(repeats):
        for name, step in steps.items():
            if "eager" in name and r >= eager_repeats:
                continue
            start = time.perf_counter()
            jax.block_until_ready(step(*args))
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, first


def torch_times(net, sizes, repeats, threads):
    python = os.environ.get("LAZYRICH_TORCH_PYTHON", "/work/torchvenv/bin/python")
    if not pathlib.Path(python).exists():
        print(f"torch interpreter {python} not found; set LAZYRICH_TORCH_PYTHON. Skipping torch.")
        return {}, None
    cfg = dict(
        batch=net["batch"], ghost=net["ghost"], sizes=sizes, repeats=repeats, threads=threads
    )
    proc = subprocess.run(
        [python, str(HERE / "_ghost_bn_torch.py"), json.dumps(cfg)],
        check=True,
        capture_output=True,
        text=True,
        cwd="/tmp",
        env={"PATH": os.environ.get("PATH", "")},
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["median_step_s"], out["torch_version"]


def bench_net(name, net, repeats, eager_repeats, torch_threads):
    key = jr.key(0)
    sizes = [net["input_dim"]] + [net["width"]] * net["depth"] + [10]
    params, stats = init(key, sizes)
    x = jr.normal(jr.fold_in(key, 100), (net["batch"], net["input_dim"]))
    y = jr.randint(jr.fold_in(key, 101), (net["batch"],), 0, 10)
    args = (params, stats, x, y)
    steps = implementations(net["batch"], net["ghost"])
    times, first_call = time_steps(steps, args, repeats, eager_repeats)
    torch_version = None
    if torch_threads:
        extra, torch_version = torch_times(net, sizes, repeats, torch_threads)
        times |= extra
    ratios = {
        "gbn/bn": times["gbn"] / times["bn"],
        "gbn/bn_plain": times["gbn"] / times["bn_plain"],
    }
    for impl in times:
        if impl not in ("gbn", "bn", "bn_plain"):
            ratios[f"{impl}/gbn"] = times[impl] / times["gbn"]
    k = net["batch"] // net["ghost"]
    print(
        f"\n[{name}] BN MLP {sizes}, batch {net['batch']}, ghost {net['ghost']} ({k} ghost batches)"
    )
    print(f"{'implementation':<24}{'median step (ms)':>18}{'/ gbn':>10}{'first call (s)':>16}")
    for impl, t in times.items():
        first = f"{first_call[impl]:>16.2f}" if impl in first_call else ""
        print(f"{impl:<24}{1e3 * t:>18.2f}{t / times['gbn']:>10.2f}{first}")
    goal = {
        "gbn/bn <= 1.2": ratios["gbn/bn"] <= 1.2,
        "gbn faster than chunked_eager": ratios["chunked_eager/gbn"] > 1.0,
    }
    print("goal: " + "; ".join(f"{k}: {v}" for k, v in goal.items()))
    return {
        "config": net | {"sizes": sizes, "ghost_batches": k},
        "median_step_s": times,
        "first_call_s": first_call,
        "ratios": ratios,
        "goal": goal,
        "torch_version": torch_version,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default="small,large", help=f"comma list from {sorted(NETS)}")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--eager-repeats",
        type=int,
        default=3,
        help="repeats of the op-by-op variants (seconds each)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="PyTorch intra-op threads (default 1: fewer spinning threads on a shared machine); 0: skip",
    )
    parser.add_argument("--out", default="benchmarks/results/ghost_bn.json")
    args = parser.parse_args()
    names = [n for n in args.nets.split(",") if n]
    unknown = [n for n in names if n not in NETS]
    if unknown:
        parser.error(f"unknown nets {unknown}; choose from {sorted(NETS)}")
    load_before = os.getloadavg()
    print(f"backend {jax.default_backend()}, load average before {load_before}")
    nets = {
        n: bench_net(n, NETS[n], args.repeats, args.eager_repeats, args.torch_threads)
        for n in names
    }
    record = {
        "nets": nets,
        "repeats": args.repeats,
        "eager_repeats": args.eager_repeats,
        "torch_threads": args.torch_threads,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "cpu_count": os.cpu_count(),
        "jax_version": jax.__version__,
        "machine": platform.machine(),
    }
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
