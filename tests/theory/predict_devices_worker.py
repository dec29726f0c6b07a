"""Worker for tests/theory/test_predict_devices.py: CG predictions with rows sharded over devices.

    python predict_devices_worker.py OUT.npz [COORDINATOR NUM_PROCESSES PROCESS_ID]

Without the last three arguments it uses this process's devices (e.g. 8 fake CPU devices via
XLA_FLAGS); with them it joins a `jax.distributed` job over gloo (CPU collectives) and shards over
the devices of every process. Process 0 writes OUT.npz.
"""

import sys

import jax


def problem():
    import jax.numpy as jnp

    x = jax.random.normal(jax.random.key(11), (45, 4), jnp.float64)
    y = jnp.stack([jnp.sin(x[:, 0]), jnp.cos(x[:, 1] * x[:, 2])], axis=1)
    return x[:37], x[37:], y[:37]


def run(devices):
    """Predictions on 37 training / 8 test points, stored and matrix-free; a dict of arrays."""
    import numpy as np

    from lazyrich import theory

    x_train, x_test, y = problem()
    kernel_fn = theory.mlp_kernel_fn(depth=2, bias_std=0.2)
    out = {}
    for mode in ("stored", "matrix_free"):
        pred = theory.predict(
            y,
            kernel_fn=kernel_fn,
            x_train=x_train,
            x_test=x_test,
            diag_reg=1e-3,
            compute_cov=True,
            solver="cg",
            tol=1e-12,
            tile_size=4,  # several tiles per device, the last one padded
            matrix_free=mode == "matrix_free",
            devices=devices,
        )
        for g in ("nngp", "ntk"):
            out[f"{mode}/{g}/mean"] = np.asarray(getattr(pred, g).mean)
            out[f"{mode}/{g}/cov"] = np.asarray(getattr(pred, g).covariance)
            out[f"{mode}/{g}/status"] = np.asarray(pred.info[g].status)
    return out


def main():
    import numpy as np

    out_path = sys.argv[1]
    jax.config.update("jax_enable_x64", True)  # here, not at import: the tests import this module
    if len(sys.argv) > 2:
        coordinator, num, pid = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator, num_processes=num, process_id=pid)
    out = run(jax.devices())
    out["num_devices"] = np.asarray(len(jax.devices()))
    out["num_processes"] = np.asarray(jax.process_count())
    if jax.process_index() == 0:
        np.savez(out_path, **out)


if __name__ == "__main__":
    main()
