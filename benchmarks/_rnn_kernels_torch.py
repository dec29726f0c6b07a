"""PyTorch reference for benchmarks/rnn_kernels.py: W_h-only tangent-kernel alignment with an autograd loop.

One ``torch.autograd.grad`` call per output (trial, step, class), as in the authors' code's approach; run by the
benchmark in the torch venv. Usage: python _rnn_kernels_torch.py IN.npz OUT.json REPEATS
"""

import json
import os
import statistics
import sys
import time

import numpy as np

if __name__ == "__main__":  # pin to the benchmark's cores before torch starts its thread pool
    os.sched_setaffinity(0, [int(c) for c in np.load(sys.argv[1])["cores"]])

import torch  # noqa: E402


def forward(w_x, w_h, w_y, x, leak):
    b, t, _ = x.shape
    h = torch.zeros(b, w_h.shape[0], dtype=x.dtype)
    outs = []
    for s in range(t):
        h = torch.relu((1 - leak) * h + leak * (x[:, s] @ w_x.T + h @ w_h.T))
        outs.append(h @ w_y.T)
    return torch.stack(outs, dim=1)  # (B, T, O)


def kernel(w_x, w_h, w_y, x, leak):
    w_h = w_h.clone().requires_grad_(True)
    y = forward(w_x, w_h, w_y, x, leak)
    b, t, o = y.shape
    rows = []
    for i in range(b):
        for s in range(t):
            for k in range(o):
                (g,) = torch.autograd.grad(y[i, s, k], w_h, retain_graph=True)
                rows.append(g.reshape(-1))
    jac = torch.stack(rows)
    return jac @ jac.T


def alignment(k0, k1):
    return float((k0 * k1).sum() / torch.sqrt((k0 * k0).sum() * (k1 * k1).sum()))


def main():
    data = np.load(sys.argv[1])
    repeats = int(sys.argv[3])
    torch.set_num_threads(int(data["threads"]))
    t = {k: torch.from_numpy(data[k]) for k in ("w_x", "w_h0", "w_h1", "w_y", "x")}
    leak = float(data["leak"])

    def measure():
        k0 = kernel(t["w_x"], t["w_h0"], t["w_y"], t["x"], leak)
        k1 = kernel(t["w_x"], t["w_h1"], t["w_y"], t["x"], leak)
        return alignment(k0, k1), k0

    value, k0 = measure()  # warm-up
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        measure()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
    np.save(sys.argv[2] + ".k0.npy", k0.numpy())
    with open(sys.argv[2], "w") as f:
        json.dump(
            {
                "alignment": value,
                "times": times,
                "cpu_times": cpu_times,
                "median_s": statistics.median(times),
                "median_cpu_s": statistics.median(cpu_times),
                "torch_version": torch.__version__,
                "threads": torch.get_num_threads(),
                "cores": sorted(os.sched_getaffinity(0)),
            },
            f,
        )


if __name__ == "__main__":
    main()
