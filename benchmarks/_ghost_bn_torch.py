"""PyTorch reference for benchmarks/ghost_bn.py: one SGD step of the same BN MLP, three ways (eager PyTorch).

Run with the torch venv: ``python _ghost_bn_torch.py CONFIG_JSON``; prints one JSON line with median step times.

* ``torch_bn``: ``nn.BatchNorm1d`` over the whole batch;
* ``torch_chunked``: the authors' loop (``eladhoffer/bigBatch``, ``main_gbn.py``): the batch is split with
  ``input.chunk(B // ghost)``, each chunk is forwarded and back-propagated separately in train mode,
  gradients divided by the number of chunks, one optimizer step;
* ``torch_concat``: an in-layer ghost BN (``x.chunk(k)``, ``BatchNorm1d`` per chunk, ``torch.cat``), one
  forward/backward of the whole batch (the Composer / Keras ``virtual_batch_size`` style).

Plain SGD (learning rate 0.1, no momentum, no clipping), as the JAX variants.
"""

import json
import statistics
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F


class ConcatGhostBN(nn.BatchNorm1d):
    def __init__(self, features, ghost):
        super().__init__(features)
        self.ghost = ghost

    def forward(self, x):
        return torch.cat(
            [super(ConcatGhostBN, self).forward(c) for c in x.chunk(x.shape[0] // self.ghost)]
        )


def make(sizes, norm):
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), norm(b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def median_times(steps, repeats):
    """Round-robin timing (one call of each step per round), medians."""
    for step in steps.values():
        step()  # warm-up
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    cfg = json.loads(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(cfg.get("threads", torch.get_num_threads()))
    batch, ghost, sizes = cfg["batch"], cfg["ghost"], cfg["sizes"]
    k = batch // ghost
    x = torch.randn(batch, sizes[0])
    y = torch.randint(0, sizes[-1], (batch,))

    def full_step(model, opt):
        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        return step

    def chunked_step(model, opt):
        def step():
            opt.zero_grad()
            for xc, yc in zip(x.chunk(k), y.chunk(k)):
                F.cross_entropy(model(xc), yc).backward()
            for p in model.parameters():
                p.grad.div_(k)
            opt.step()

        return step

    steps = {}
    for name, norm, make_step in (
        ("torch_bn", nn.BatchNorm1d, full_step),
        ("torch_chunked", nn.BatchNorm1d, chunked_step),
        ("torch_concat", lambda f: ConcatGhostBN(f, ghost), full_step),
    ):
        model = make(sizes, norm).train()
        steps[name] = make_step(model, torch.optim.SGD(model.parameters(), lr=0.1))
    out = median_times(steps, cfg["repeats"])
    print(
        json.dumps(
            {
                "median_step_s": out,
                "torch_version": torch.__version__,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
