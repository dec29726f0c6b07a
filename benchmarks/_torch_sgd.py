"""PyTorch reference for benchmarks/sweep_throughput.py: the same SGD runs, one at a time (research-code style).

Run with the torch venv: ``python _torch_sgd.py DATA.npz CONFIG.json``; prints one JSON line with the times.
Same model as ``lazyrich.dynamics.models.bias_free_mlp`` (mean-field readout, sqrt(2) ReLU, no biases),
centred alpha-scaled hinge loss max(0, 1 - alpha y (f - f0))/alpha, batches = first B of a fresh permutation.
"""

import json
import math
import statistics
import sys
import time

import numpy as np
import torch


def one_run(x, y, *, width, depth, batch_size, steps, alpha, temperature, seed):
    gen = torch.Generator().manual_seed(seed)
    d = x.shape[1]
    shapes = [(d, width)] + [(width, width)] * (depth - 1) + [(width,)]
    weights = [torch.randn(s, generator=gen, requires_grad=True) for s in shapes]

    def forward(inputs):
        h = inputs @ weights[0] / math.sqrt(d)
        for w in weights[1:-1]:
            h = math.sqrt(2.0) * torch.relu(h) @ w / math.sqrt(width)
        return math.sqrt(2.0) * torch.relu(h) @ weights[-1] / width

    with torch.no_grad():
        f0 = forward(x)
    lr = temperature * batch_size * width
    for _ in range(steps):
        idx = torch.randperm(x.shape[0], generator=gen)[:batch_size]
        out = alpha * (forward(x[idx]) - f0[idx])
        loss = torch.relu(1.0 - y[idx] * out).mean() / alpha
        grads = torch.autograd.grad(loss, weights)
        with torch.no_grad():
            for w, g in zip(weights, grads):
                w -= lr * g
    return float(loss)


def main():
    data = np.load(sys.argv[1])
    cfg = json.loads(open(sys.argv[2]).read())
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    kwargs = dict(
        width=cfg["width"], depth=cfg["depth"], batch_size=cfg["batch_size"], steps=cfg["steps"]
    )
    one_run(
        x, y, alpha=1.0, temperature=cfg["runs"][0][1], seed=0, **{**kwargs, "steps": 10}
    )  # warm-up
    times = []
    for _ in range(cfg["repeats"]):
        start = time.perf_counter()
        for i, (alpha, temperature) in enumerate(cfg["runs"]):
            one_run(x, y, alpha=alpha, temperature=temperature, seed=i, **kwargs)
        times.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "torch_version": torch.__version__,
                "threads": torch.get_num_threads(),
                "times": times,
                "median": statistics.median(times),
            }
        )
    )


if __name__ == "__main__":
    main()
