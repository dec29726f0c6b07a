"""Generate neural-tangents reference predictions for `lazyrich.theory.predict` (float64).

Run in the pinned reference environment (jax 0.4.23, neural-tangents 0.6.5), from a directory where
`lazyrich` is not importable:

    cd /tmp && /work/ntvenv/bin/python /path/to/tests/reference/make_nt_predict_fixtures.py

The problem: a depth-3 ReLU MLP (W_std 1.5, b_std 0.05, NTK parameterization), 40 training and 12
test points in 5 dimensions, 3 outputs. Writes `nt_predict.npz` (float64 arrays: the inputs, the
targets, the kernels, `gp_inference` and `gradient_descent_mse_ensemble` means and covariances at
finite and infinite time, with and without `diag_reg`) and `nt_predict.json` (environment and
settings) next to this script. The tests read only these files; they never import neural-tangents.
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
DEPTH, W_STD, B_STD = 3, 1.5, 0.05
TIMES = np.array([0.0, 0.3, 5.0, 200.0, 1e5])
LEARNING_RATE = 0.5
DIAG_REGS = (0.0, 1e-3, 0.1)


def main():
    rng = np.random.default_rng(20190218)
    x_train = rng.normal(size=(40, 5))
    x_test = rng.normal(size=(12, 5))
    y_train = np.sin(x_train[:, :3]) + 0.1 * rng.normal(size=(40, 3))
    layers = []
    for _ in range(DEPTH):
        layers += [stax.Dense(512, W_STD, B_STD), stax.Relu()]
    layers += [stax.Dense(1, W_STD, B_STD)]
    _, _, kernel_fn = stax.serial(*layers)
    out = dict(x_train=x_train, x_test=x_test, y_train=y_train, times=TIMES)
    kdd = kernel_fn(x_train, None, ("nngp", "ntk"))
    ktd = kernel_fn(x_test, x_train, ("nngp", "ntk"))
    ktt = kernel_fn(x_test, None, ("nngp", "ntk"))
    out.update(
        kdd_nngp=kdd.nngp, kdd_ntk=kdd.ntk, ktd_nngp=ktd.nngp, ktd_ntk=ktd.ntk, ktt_nngp=ktt.nngp
    )
    for diag_reg in DIAG_REGS:
        gp = nt.predict.gp_inference(kdd, y_train, diag_reg=diag_reg)
        res = gp(("nngp", "ntk"), ktd, ktt)
        for g in ("nngp", "ntk"):
            out[f"gp/reg{diag_reg}/{g}/mean"] = getattr(res, g).mean
            out[f"gp/reg{diag_reg}/{g}/cov"] = getattr(res, g).covariance
        ens = nt.predict.gradient_descent_mse_ensemble(
            kernel_fn, x_train, y_train, learning_rate=LEARNING_RATE, diag_reg=diag_reg
        )
        for label, t in (("t", TIMES), ("inf", None)):
            res = ens(t, x_test, ("nngp", "ntk"), compute_cov=True)
            for g in ("nngp", "ntk"):
                out[f"ensemble/reg{diag_reg}/{label}/{g}/mean"] = getattr(res, g).mean
                out[f"ensemble/reg{diag_reg}/{label}/{g}/cov"] = getattr(res, g).covariance
            res = ens(t, None, ("nngp", "ntk"), compute_cov=True)
            for g in ("nngp", "ntk"):
                out[f"ensemble_train/reg{diag_reg}/{label}/{g}/mean"] = getattr(res, g).mean
                out[f"ensemble_train/reg{diag_reg}/{label}/{g}/cov"] = getattr(res, g).covariance
    out = {k: np.asarray(v, np.float64) for k, v in out.items()}
    np.savez_compressed(HERE / "nt_predict.npz", **out)
    env = dict(
        python=sys.version.split()[0],
        platform=platform.platform(),
        jax=jax.__version__,
        neural_tangents="0.6.5",
        numpy=np.__version__,
        x64=True,
        script="tests/reference/make_nt_predict_fixtures.py",
        network=f"stax.serial(*[Dense(512, {W_STD}, {B_STD}), Relu()] * {DEPTH}, "
        f"Dense(1, {W_STD}, {B_STD}))",
        learning_rate=LEARNING_RATE,
        times=TIMES.tolist(),
        diag_regs=list(DIAG_REGS),
        num_arrays=len(out),
    )
    (HERE / "nt_predict.json").write_text(json.dumps(env, indent=2) + "\n")
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    main()
