"""Generate the neural-tangents empirical-NTK fixture used by tests/dynamics/test_ntk.py.

Run in the pinned environment (jax 0.4.23, neural-tangents 0.6.5), from a directory
where `lazyrich` is not importable:

    cd /tmp && /work/ntvenv/bin/python /path/to/tests/reference/make_nt_empirical_fixtures.py

It writes `nt_empirical_mlp.npz` (inputs, parameters, kernels) and `nt_empirical_mlp.json` (the
environment) next to this file. The MLP below is written in plain JAX and repeated verbatim in the test.
"""

import json
import os
import pathlib
import platform

os.environ["JAX_ENABLE_X64"] = "1"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402

HERE = pathlib.Path(__file__).parent
WIDTHS = (5, 16, 12, 3)  # input dim, two hidden layers, O = 3 outputs
BIAS_SCALE = 0.3


def mlp(params, x):
    """NTK-parameterised tanh MLP with biases: z = W x / sqrt(fan_in) + 0.3 b."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w / jnp.sqrt(w.shape[0]) + BIAS_SCALE * b
        if i < len(params) - 1:
            h = jnp.tanh(h)
    return h


def main():
    rng = np.random.default_rng(20261129)
    params = [
        (rng.standard_normal((m, n)), rng.standard_normal(n))
        for m, n in zip(WIDTHS[:-1], WIDTHS[1:])
    ]
    x1 = rng.standard_normal((6, WIDTHS[0]))
    x2 = rng.standard_normal((4, WIDTHS[0]))
    arrays = {"x1": x1, "x2": x2}
    for i, (w, b) in enumerate(params):
        arrays[f"w{i}"], arrays[f"b{i}"] = w, b
    jparams = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
    impls = {
        "jacobian": nt.NtkImplementation.JACOBIAN_CONTRACTION,
        "ntvp": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
        "structured": nt.NtkImplementation.STRUCTURED_DERIVATIVES,
    }
    for name, impl in impls.items():
        for traced, axes in (("traced", (-1,)), ("full", ())):
            fn = nt.empirical_ntk_fn(mlp, trace_axes=axes, implementation=impl)
            arrays[f"{name}_{traced}_x1x2"] = np.asarray(
                fn(jnp.asarray(x1), jnp.asarray(x2), jparams)
            )
            arrays[f"{name}_{traced}_x1x1"] = np.asarray(fn(jnp.asarray(x1), None, jparams))
    ref = arrays["jacobian_full_x1x2"]
    for k, v in arrays.items():
        if k.endswith("full_x1x2"):
            assert np.allclose(v, ref, rtol=1e-10), k
    np.savez(HERE / "nt_empirical_mlp.npz", **arrays)
    meta = {
        "generator": "tests/reference/make_nt_empirical_fixtures.py",
        "neural_tangents": nt.__version__ if hasattr(nt, "__version__") else "0.6.5",
        "jax": jax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "x64": True,
        "widths": WIDTHS,
        "bias_scale": BIAS_SCALE,
        "keys": sorted(arrays),
        "convention": "traced = mean over the O diagonal output blocks (trace_axes=(-1,)); "
        "full = trace_axes=() with shape (n1, n2, O, O)",
    }
    (HERE / "nt_empirical_mlp.json").write_text(json.dumps(meta, indent=2) + "\n")
    print("wrote", sorted(arrays))


if __name__ == "__main__":
    main()
