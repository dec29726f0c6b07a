"""Run the ``liu2024_rank_sweep`` experiment with intermediate checkpoints, saving each partial result.

Long CPU runs (the paper's default: N = 300, 10k SGD updates, 5 seeds, 3 tasks) can then be stopped at any time
and still report the measures after the last finished checkpoint (``summary["num_steps_done"]``).

    PYTHONPATH=. nice -n 10 python examples/rnn_rank_checkpointed.py --out results/rnn-default \
        --checkpoints 500,1000,2000 --set aligned=false

Writes ``DIR/summary_<step>.json`` (summary + config) and ``DIR/arrays_<step>.npz`` at each checkpoint.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import jax
import numpy as np

from lazyrich import sims
from lazyrich.sims.experiments import liu2024_rank_sweep as rank_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoints", default="", help="comma-separated update counts")
    parser.add_argument("--set", action="append", default=[], help="Config override k=v")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    config = sims.apply_overrides(rank_sweep.default_config(quick=args.quick), overrides)
    checkpoints = tuple(int(c) for c in args.checkpoints.split(",") if c)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    for step, result in rank_sweep.iterate(
        config, key=jax.random.key(args.seed), checkpoints=checkpoints, progress=True
    ):
        record = {
            "step": step,
            "elapsed_s": time.time() - start,
            "config": sims.config_to_dict(config),
            "summary": sims.json_ready(result.summary),
        }
        (out / f"summary_{step}.json").write_text(json.dumps(record, indent=1) + "\n")
        np.savez(out / f"arrays_{step}.npz", **result.arrays)
        print(f"step {step}: {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
