#!/bin/bash
# The rank sweep at the paper's default (N = 300, g = 1.25, ranks 1/30/100/300, 10k SGD updates) under both
# protocols, 5 and 20 seeds, on one accelerator (~2 min per run on one H200; ~1 h per run on a CPU core).
#   bash examples/rnn_rank_protocols.sh OUTDIR
# Writes OUTDIR/<run>/summary_<step>.json and arrays_<step>.npz (examples/rnn_rank_checkpointed.py) for:
#   default_aligned  the default config (shared W_x, W_y and batches across ranks; aligned rank-1 runs on)
#   redraw           the paper code's protocol: fresh W_h draw, W_x, W_y and batch stream per rank
#   shared_20seeds, redraw_20seeds   the same two protocols with 20 seeds
# Results of 2026-11-29: examples/results/liu2024_rank_sweep_protocols_10000_updates.json.
set -u
OUT=$1
export PYTHONPATH=${PYTHONPATH:-$PWD} JAX_DEFAULT_MATMUL_PRECISION=highest
run() {
  name=$1; shift
  sets=(); for s in "$@"; do sets+=(--set "$s"); done
  python examples/rnn_rank_checkpointed.py --out "$OUT/$name" --checkpoints 1000,5000 "${sets[@]}"
}
run default_aligned
run redraw aligned=false redraw_per_rank=true
run shared_20seeds aligned=false num_seeds=20
run redraw_20seeds aligned=false num_seeds=20 redraw_per_rank=true
