"""Pin `theory.mlp_kernels`'s outputs before its recursion was rebuilt on `theory.kernel_fn`.

Run once, from the repository root, with the implementation whose numbers are to be kept:

    PYTHONPATH=$PWD python tests/reference/make_mlp_kernels_pin.py

Writes `mlp_kernels_pin.npz` next to this script: every activation (closed forms and a quadrature
callable), both parameterizations, with and without biases, symmetric / cross / diagonal / tiled
modes, in float64 and float32. `tests/theory/test_mlp_kernels_pin.py` compares against it. The
file was generated with the three-copy recursion of commit 282be23 (before the refactor).
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import theory

HERE = pathlib.Path(__file__).parent
ACTIVATIONS = ("relu", "erf", "abs", "gelu", "identity", "leaky_relu", "sign", "tanh")
FLOAT32 = ("relu", "erf", "sign", "tanh")


def cases():
    """(key, dtype, kwargs, uses_x2) for every pinned call."""
    for dtype in ("float64", "float32"):
        names = ACTIVATIONS if dtype == "float64" else FLOAT32
        for name in names:
            base = dict(depth=3, activation=name, weight_std=1.4, bias_std=0.3, negative_slope=0.2)
            for mode, extra, cross in (
                ("sym", {}, False),
                ("cross", {}, True),
                ("diag", {"diagonal": True}, False),
                ("tiled_sym", {"batch_size": 3}, False),
                ("tiled_cross", {"batch_size": 4}, True),
            ):
                yield f"{dtype}/{name}/{mode}", dtype, base | extra, cross
        for b_std in (0.2, None):
            for mode, extra, cross in (("sym", {}, False), ("cross", {}, True)):
                kw = dict(depth=2, weight_std=1.3, bias_std=b_std, parameterization="standard")
                kw |= dict(width=(5, 9)) | extra
                yield f"{dtype}/standard/b{b_std}/{mode}", dtype, kw, cross


def call(kw, x, y, cross):
    kw = dict(kw)
    if kw.get("activation") == "tanh":
        kw["activation"] = jnp.tanh
        kw["quadrature_degree"] = 24
    return theory.mlp_kernels(x, y if cross else None, **kw)


def inputs(dtype):
    rng = np.random.default_rng(15)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    return jnp.asarray(x, dtype), jnp.asarray(y, dtype)


def main():
    out = {}
    for key, dtype, kw, cross in cases():
        with jax.enable_x64(dtype == "float64"):
            x, y = inputs(dtype)
            k = call(kw, x, y, cross)
            out[key + "/nngp"], out[key + "/ntk"] = np.asarray(k.nngp), np.asarray(k.ntk)
    np.savez_compressed(HERE / "mlp_kernels_pin.npz", **out)
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    main()
