"""Worker for tests/theory/test_kernel_tiles_resume.py: a slow tiled kernel computation into a store.

    python kernel_tiles_worker.py STORE OUT.npz

Computes the depth-2 ReLU NNGP/NTK of 96 fixed points in tiles of 8 rows (12 tiles) into the
folder STORE, sleeping 0.25 s per kernel call so that a test can kill it mid-way; writes the
assembled matrices to OUT.npz when done.
"""

import sys
import time

import jax
import numpy as np

from lazyrich import theory

NUM, TILE = 96, 8


def inputs():
    return np.random.default_rng(5).normal(size=(NUM, 3))


def slow_kernel_fn():
    inner = theory.mlp_kernel_fn(depth=2, bias_std=0.1)

    def kernel_fn(x1, x2=None, *, get=("nngp", "ntk")):
        time.sleep(0.25)
        return inner(x1, x2, get=get)

    kernel_fn.spec = {"test": "slow mlp depth 2", **inner.spec}
    return kernel_fn


def main():
    store, out = sys.argv[1], sys.argv[2]
    jax.config.update("jax_enable_x64", True)  # here, not at import: the tests import this module
    k = theory.kernel_matrix(slow_kernel_fn(), inputs(), tile_size=TILE, store=store)
    np.savez(out, nngp=np.asarray(k.nngp), ntk=np.asarray(k.ntk))


if __name__ == "__main__":
    main()
