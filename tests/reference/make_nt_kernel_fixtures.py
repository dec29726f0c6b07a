"""Generate neural-tangents reference values for `lazyrich.theory` (kernels and predictions).

Run in the pinned reference environment (jax 0.4.23, neural-tangents 0.6.5), from a
directory where `lazyrich` is not importable:

    cd /tmp && /work/ntvenv/bin/python /path/to/tests/reference/make_nt_kernel_fixtures.py

Writes `nt_kernels.npz` (float64 arrays) and `nt_kernels.json` (the environment and the settings)
next to this script. The tests read only these files; they never import neural-tangents.
"""

import json
import pathlib
import platform
import sys
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402
from neural_tangents import stax  # noqa: E402

warnings.filterwarnings("ignore")
HERE = pathlib.Path(__file__).parent
WIDTH = 7  # finite width used by the standard-parameterization NTK

ACTIVATIONS = {
    "relu": stax.Relu,
    "erf": stax.Erf,
    "abs": stax.Abs,
    "gelu": lambda: stax.Gelu(approximate=False),
    "identity": stax.Identity,
    "leaky_relu": lambda: stax.LeakyRelu(0.1),
    "sign": stax.Sign,
    "sin": stax.Sin,  # closed form in NT: sin(x)
    "tanh": lambda: stax.ElementwiseNumerical(jnp.tanh, deg=120),
}
SCALES = ((1.0, 0.0), (1.5, 0.1), (0.8, 0.5))


def network(act, depth, w_std, b_std, parameterization="ntk", width=WIDTH):
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, w_std, b_std, parameterization=parameterization), act()]
    layers += [stax.Dense(1, w_std, b_std, parameterization=parameterization)]
    return stax.serial(*layers)


def main():
    rng = np.random.default_rng(20181806)
    x1 = rng.normal(size=(6, 3))
    x2 = rng.normal(size=(4, 3))
    out = {"x1": x1, "x2": x2}
    cases = []
    for name, act in ACTIVATIONS.items():
        depths = range(1, 6) if name != "tanh" else range(1, 4)
        scales = SCALES if name != "tanh" else SCALES[1:2]
        for depth in depths:
            for w_std, b_std in scales:
                _, _, kernel_fn = network(act, depth, w_std, b_std)
                key = f"{name}/d{depth}/w{w_std}/b{b_std}"
                k11 = kernel_fn(x1, None, ("nngp", "ntk"))
                k12 = kernel_fn(x1, x2, ("nngp", "ntk"))
                out[key + "/sym/nngp"], out[key + "/sym/ntk"] = map(np.asarray, k11)
                out[key + "/cross/nngp"], out[key + "/cross/ntk"] = map(np.asarray, k12)
                cases.append(dict(activation=name, depth=depth, weight_std=w_std, bias_std=b_std))

    # Standard parameterization (finite width WIDTH enters the NTK), with and without biases.
    for depth in (1, 2, 3):
        for b_std in (0.2, None):
            _, _, kernel_fn = network(stax.Relu, depth, 1.3, b_std, "standard")
            key = f"standard/relu/d{depth}/b{b_std}"
            k12 = kernel_fn(x1, x2, ("nngp", "ntk"))
            out[key + "/nngp"], out[key + "/ntk"] = map(np.asarray, k12)

    # Predictions on a small regression problem (depth-2 ReLU, b_std = 0.1).
    _, _, kernel_fn = network(stax.Relu, 2, 1.0, 0.1)
    xtr, xte = x1, x2
    ytr = rng.normal(size=(6, 2))
    f0tr, f0te = rng.normal(size=(6, 2)), rng.normal(size=(4, 2))
    kdd = kernel_fn(xtr, None, ("nngp", "ntk"))
    ktd = kernel_fn(xte, xtr, ("nngp", "ntk"))
    ktt = kernel_fn(xte, None, "nngp")
    out.update(ytr=ytr, f0tr=f0tr, f0te=f0te)
    times = np.array([0.0, 0.5, 3.0, 40.0])
    out["times"] = times
    for diag_reg in (0.0, 0.1):
        predict = nt.predict.gradient_descent_mse(
            kdd.ntk, ytr, learning_rate=0.7, diag_reg=diag_reg
        )
        ftr, fte = predict(times, f0tr, f0te, ktd.ntk)
        out[f"gd_mse/reg{diag_reg}/train"], out[f"gd_mse/reg{diag_reg}/test"] = ftr, fte
        ftr, fte = predict(None, f0tr, f0te, ktd.ntk)
        out[f"gd_mse/reg{diag_reg}/train_inf"], out[f"gd_mse/reg{diag_reg}/test_inf"] = ftr, fte

        ens = nt.predict.gradient_descent_mse_ensemble(
            kernel_fn, xtr, ytr, learning_rate=0.7, diag_reg=diag_reg
        )
        for label, t in (("t", times[1:]), ("inf", None)):
            res = ens(t, xte, ("nngp", "ntk"), compute_cov=True)
            for g in ("nngp", "ntk"):
                out[f"ensemble/reg{diag_reg}/{label}/{g}/mean"] = np.asarray(getattr(res, g).mean)
                out[f"ensemble/reg{diag_reg}/{label}/{g}/cov"] = np.asarray(
                    getattr(res, g).covariance
                )
        res = ens(times[1:], None, ("nngp", "ntk"), compute_cov=True)
        for g in ("nngp", "ntk"):
            out[f"ensemble_train/reg{diag_reg}/{g}/mean"] = np.asarray(getattr(res, g).mean)
            out[f"ensemble_train/reg{diag_reg}/{g}/cov"] = np.asarray(getattr(res, g).covariance)

        gp = nt.predict.gp_inference(kdd, ytr, diag_reg=diag_reg)
        res = gp(("nngp", "ntk"), ktd, ktt)
        for g in ("nngp", "ntk"):
            out[f"gp/reg{diag_reg}/{g}/mean"] = np.asarray(getattr(res, g).mean)
            out[f"gp/reg{diag_reg}/{g}/cov"] = np.asarray(getattr(res, g).covariance)
    out.update(kdd_nngp=kdd.nngp, kdd_ntk=kdd.ntk, ktd_nngp=ktd.nngp, ktd_ntk=ktd.ntk, ktt_nngp=ktt)
    for momentum in (0.0, 0.9):
        out[f"max_lr/m{momentum}"] = np.asarray(
            nt.predict.max_learning_rate(kdd.ntk, y_train_size=ytr.size, momentum=momentum)
        )

    out = {k: np.asarray(v, np.float64) for k, v in out.items()}
    np.savez_compressed(HERE / "nt_kernels.npz", **out)
    env = dict(
        python=sys.version.split()[0],
        platform=platform.platform(),
        jax=jax.__version__,
        jaxlib=jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
        neural_tangents=nt.__version__ if hasattr(nt, "__version__") else "0.6.5",
        numpy=np.__version__,
        x64=True,
        script="tests/reference/make_nt_kernel_fixtures.py",
        network="stax.serial(*[Dense(WIDTH, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))",
        width_for_standard=WIDTH,
        activations={
            "leaky_relu": "LeakyRelu(0.1)",
            "gelu": "Gelu(approximate=False)",
            "sin": "Sin() closed form",
            "tanh": "ElementwiseNumerical(tanh, deg=120)",
        },
        scales=SCALES,
        predict=dict(
            learning_rate=0.7, network="depth 2 ReLU, W_std 1, b_std 0.1", times=times.tolist()
        ),
        num_arrays=len(out),
    )
    (HERE / "nt_kernels.json").write_text(json.dumps(env, indent=2) + "\n")
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    main()
