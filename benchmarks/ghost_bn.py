"""Step time of a BN MLP with ghost batch norm vs ordinary batch norm vs the authors' chunked loop.

Three implementations of one SGD step (forward, backward, update) of
``input -> depth x [Linear(width) -> BN -> ReLU] -> Linear(classes)`` on a batch of ``batch`` examples:

* ``bn``: ordinary batch norm over the whole batch (``ghost_size = batch``), one jitted step;
* ``gbn``: :func:`lazyrich.dynamics.ghost_batch_norm` with ghost batches of ``ghost``, one jitted step;
* ``chunked``: the original implementation (``eladhoffer/bigBatch``): a Python loop over the ``batch / ghost``
  chunks, each chunk forwarded and back-propagated separately through ordinary batch norm (one jitted call
  per chunk), gradients averaged, then one update.

Run: ``PYTHONPATH=. /work/venv/bin/python benchmarks/ghost_bn.py [--batch 1024 --ghost 32 ...]``. Prints a table
of median step times and ratios and writes ``benchmarks/results/ghost_bn.json``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import jax.random as jr

from lazyrich import dynamics


def init(key, sizes):
    params = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = {"w": jr.normal(jr.fold_in(key, i), (a, b)) / jnp.sqrt(a), "b": jnp.zeros(b)}
        if i < len(sizes) - 2:
            layer.update(scale=jnp.ones(b), bias=jnp.zeros(b))
        params.append(layer)
    stats = [dynamics.BatchStats(jnp.zeros(b), jnp.ones(b)) for b in sizes[1:-1]]
    return params, stats


def loss_fn(params, stats, x, y, ghost):
    new_stats = []
    for layer, st in zip(params[:-1], stats):
        h = x @ layer["w"] + layer["b"]
        h, st = dynamics.ghost_batch_norm(
            h, scale=layer["scale"], bias=layer["bias"], stats=st, ghost_size=ghost
        )
        new_stats.append(st)
        x = jax.nn.relu(h)
    logits = x @ params[-1]["w"] + params[-1]["b"]
    loss = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))
    return loss, new_stats


def sgd(params, grads, lr=0.1):
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def make_fused(ghost):
    @jax.jit
    def step(params, stats, x, y):
        (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, x, y, ghost)
        return sgd(params, grads), stats

    return step


def make_chunked(batch, ghost):
    grad_chunk = jax.jit(
        lambda p, s, x, y: jax.value_and_grad(loss_fn, has_aux=True)(p, s, x, y, ghost)
    )
    apply = jax.jit(lambda p, g, n: sgd(p, jax.tree.map(lambda a: a / n, g)))
    add = jax.jit(lambda a, b: jax.tree.map(jnp.add, a, b))

    def step(params, stats, x, y):
        total = None
        for c in range(batch // ghost):  # the authors' Python loop over ghost batches
            xs, ys = x[c * ghost : (c + 1) * ghost], y[c * ghost : (c + 1) * ghost]
            (_, stats), grads = grad_chunk(params, stats, xs, ys)
            total = grads if total is None else add(total, grads)
        return apply(params, total, batch // ghost), stats

    return step


def time_step(step, params, stats, x, y, repeats):
    out = step(params, stats, x, y)
    jax.block_until_ready(out)  # compile / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(step(params, stats, x, y))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--ghost", type=int, default=32)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--input-dim", type=int, default=784)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/ghost_bn.json")
    args = parser.parse_args()
    key = jr.key(0)
    sizes = [args.input_dim] + [args.width] * args.depth + [10]
    params, stats = init(key, sizes)
    x = jr.normal(jr.fold_in(key, 100), (args.batch, args.input_dim))
    y = jr.randint(jr.fold_in(key, 101), (args.batch,), 0, 10)
    results = {
        "bn": time_step(make_fused(args.batch), params, stats, x, y, args.repeats),
        "gbn": time_step(make_fused(args.ghost), params, stats, x, y, args.repeats),
        "chunked": time_step(
            make_chunked(args.batch, args.ghost), params, stats, x, y, args.repeats
        ),
    }
    ratios = {
        "gbn/bn": results["gbn"] / results["bn"],
        "chunked/gbn": results["chunked"] / results["gbn"],
        "chunked/bn": results["chunked"] / results["bn"],
    }
    print(
        f"BN MLP {sizes}, batch {args.batch}, ghost {args.ghost} "
        f"({args.batch // args.ghost} ghost batches), backend {jax.default_backend()}"
    )
    print(f"{'implementation':<16}{'median step (ms)':>18}")
    for name, t in results.items():
        print(f"{name:<16}{1e3 * t:>18.2f}")
    for name, r in ratios.items():
        print(f"{name:<16}{r:>18.2f}x")
    print(
        f"goal gbn/bn <= 1.2: {ratios['gbn/bn'] <= 1.2}; gbn faster than chunked: "
        f"{ratios['chunked/gbn'] > 1}"
    )
    record = {
        "config": vars(args) | {"sizes": sizes},
        "median_step_s": results,
        "ratios": ratios,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "jax_version": jax.__version__,
        "machine": platform.machine(),
    }
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
