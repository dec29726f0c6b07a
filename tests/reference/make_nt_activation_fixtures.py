"""Generate neural-tangents reference values for the activation registry (`lazyrich.nn._activations`).

For each activation of neural-tangents' elementwise set, the kernels of ``stax.serial(Dense(1, W_std,
b_std), Act)`` on small inputs: after the Dense layer the pre-activations have the known covariance
:math:`\\sigma_w^2 x^\\top x'/d + \\sigma_b^2`, so the NNGP is E[phi(u) phi(v)] and the NTK is that
covariance times E[phi'(u) phi'(v)] (NTK parameterization). Run in the pinned reference environment
(jax 0.4.23, neural-tangents 0.6.5), from a directory where `lazyrich` is not importable:

    cd /tmp && /work/ntvenv/bin/python /path/to/tests/reference/make_nt_activation_fixtures.py

Writes `nt_activations.npz` (float64) and `nt_activations.json` (environment and cases) next to this
script. The tests read only these files; they never import neural-tangents.
"""

import json
import pathlib
import platform
import sys
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402
from neural_tangents import stax  # noqa: E402

warnings.filterwarnings("ignore")
HERE = pathlib.Path(__file__).parent
W_STD, B_STD = 1.3, 0.2

# name -> (lazyrich parameters, neural-tangents layer)
CASES = {
    "relu": ({}, stax.Relu()),
    "leaky_relu": (dict(alpha=0.2), stax.LeakyRelu(0.2)),
    "ab_relu": (dict(a=-0.4, b=1.3), stax.ABRelu(-0.4, 1.3)),
    "abs": ({}, stax.Abs()),
    "erf": (dict(a=1.5, b=0.7, c=0.2), stax.Erf(1.5, 0.7, 0.2)),
    "gelu": ({}, stax.Gelu(approximate=False)),
    "sign": ({}, stax.Sign()),
    "sin": (dict(a=1.2, b=0.8, c=0.3), stax.Sin(1.2, 0.8, 0.3)),
    "cos": (dict(a=0.9, b=1.1, c=-0.4), stax.Cos(0.9, 1.1, -0.4)),
    "rbf": (dict(gamma=0.6), stax.Rbf(0.6)),
    "exp": (dict(a=0.7, b=0.5), stax.Exp(0.7, 0.5)),
    "gaussian": (dict(a=1.3, b=-0.6), stax.Gaussian(1.3, -0.6)),
    "polynomial": (dict(coef=[0.3, -1.0, 0.5, 0.25]), stax.Polynomial([0.3, -1.0, 0.5, 0.25])),
    "sigmoid_like": ({}, stax.Sigmoid_like()),
    "identity": ({}, stax.Identity()),
}
for degree in range(6):
    CASES[f"monomial/{degree}"] = (dict(degree=degree), stax.Monomial(degree))
for degree in range(4):
    CASES[f"rectified_monomial/{degree}"] = (dict(degree=degree), stax.RectifiedMonomial(degree))
# neural-tangents' Hermite rule assumes unit-variance pre-activations: W_std = 1, b_std = 0 and
# inputs with |x|^2 = d (the "unit" inputs below).
for degree in range(5):
    CASES[f"hermite/{degree}"] = (dict(degree=degree), stax.Hermite(degree))


def main():
    rng = np.random.default_rng(20260121)
    x1, x2 = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    unit1 = x1 / np.linalg.norm(x1, axis=1, keepdims=True) * np.sqrt(3)
    unit2 = x2 / np.linalg.norm(x2, axis=1, keepdims=True) * np.sqrt(3)
    out = {"x1": x1, "x2": x2, "unit1": unit1, "unit2": unit2}
    for key, (_, layer) in CASES.items():
        hermite = key.startswith("hermite")
        w_std, b_std = (1.0, 0.0) if hermite else (W_STD, B_STD)
        a, b = (unit1, unit2) if hermite else (x1, x2)
        _, _, kernel_fn = stax.serial(stax.Dense(1, w_std, b_std), layer)
        cross = kernel_fn(a, b, ("nngp", "ntk"))
        sym = kernel_fn(a, None, ("nngp", "ntk"))
        out[f"{key}/cross/nngp"], out[f"{key}/cross/ntk"] = map(np.asarray, cross)
        out[f"{key}/sym/nngp"], out[f"{key}/sym/ntk"] = map(np.asarray, sym)
    out = {k: np.asarray(v, np.float64) for k, v in out.items()}
    np.savez_compressed(HERE / "nt_activations.npz", **out)
    env = dict(
        python=sys.version.split()[0],
        platform=platform.platform(),
        jax=jax.__version__,
        neural_tangents=getattr(nt, "__version__", "0.6.5"),
        numpy=np.__version__,
        x64=True,
        script="tests/reference/make_nt_activation_fixtures.py",
        network="stax.serial(Dense(1, W_std, b_std), Act)",
        W_std=W_STD,
        b_std=B_STD,
        hermite="W_std = 1, b_std = 0 on inputs with |x|^2 = d (unit-variance pre-activations)",
        cases={k: v[0] for k, v in CASES.items()},
        num_arrays=len(out),
    )
    (HERE / "nt_activations.json").write_text(json.dumps(env, indent=2) + "\n")
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    main()
