"""Shared pieces of the Sclocchi, Geiger, Wyart (2023) experiments: data, the FC network, one grid point."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import dynamics
from lazyrich.sims import datasets

DATA_SETS = ("digits", "mnist", "cifar")


def check_data(data: str, data_dir: str, num_train: int, num_test: int) -> None:
    """Validate the data fields of a config (before any work)."""
    if data not in DATA_SETS:
        raise ValueError(f"`data` must be one of {DATA_SETS}, got {data!r}.")
    if data != "digits" and not data_dir:
        raise ValueError(
            f"`data_dir` must name the folder with the official {data} files when data={data!r}."
        )
    if data == "digits" and num_train + num_test > 1797:
        raise ValueError(
            f"digits has 1797 points: `num_train` + `num_test` must be <= 1797, got {num_train} + {num_test}."
        )


def load(data: str, data_dir: str, num_train: int, num_test: int, data_seed: int):
    """``(x_train, y_train, x_test, y_test)`` as NumPy float32 (flattened images), cached per setting.

    Safe to call while tracing (``point`` under jit/vmap): the split is computed eagerly.
    """
    with jax.ensure_compile_time_eval():
        return _load(data, data_dir, num_train, num_test, data_seed)


@functools.lru_cache(maxsize=4)
def _load(data: str, data_dir: str, num_train: int, num_test: int, data_seed: int):
    key = jr.key(data_seed)
    if data == "digits":
        out = datasets.digits_parity(num_train=num_train, num_test=num_test, key=key)
    elif data == "mnist":
        out = datasets.mnist_parity(data_dir, num_train=num_train, num_test=num_test, key=key)
    else:
        out = datasets.cifar_animals(
            data_dir, num_train=num_train, num_test=num_test, key=key, flatten=True
        )
    return tuple(np.asarray(a, np.float32) for a in out)


def fc_point(
    *,
    data,
    alpha,
    temperature,
    key,
    width,
    depth,
    activation,
    batch_size,
    method,
    max_steps,
    check_every,
    num_saves,
    ntk_size=0,
    train_size=None,
):
    """Train one FC network (mean-field readout) with SGD/Langevin at temperature T = lr/(B h) from ``key``.

    ``data`` is ``(x_train, y_train, x_test, y_test)`` (arrays); ``alpha``/``temperature``/``train_size`` may
    be traced. Returns the :class:`lazyrich.dynamics.TrainResult`.
    """
    x_train, y_train, x_test, y_test = data
    init_key, noise_key = jr.split(key)
    input_dim = x_train.shape[1]
    apply_fn = dynamics.bias_free_mlp_apply_fn(
        input_dim=input_dim,
        width=width,
        depth=depth,
        activation=activation,
        parameterization="mean_field",
    )
    params0 = dynamics.bias_free_mlp_init(
        input_dim=input_dim, width=width, depth=depth, key=init_key
    )
    temperature = jnp.asarray(temperature, jnp.float32)
    config = dynamics.TrainConfig(
        method=method,
        loss="hinge",
        loss_power=1,
        batch_size=batch_size,
        width=width,
        max_steps=max_steps,
        check_every=check_every,
        num_saves=num_saves,
        stop="fitted",
        ntk_size=ntk_size,
        alpha=jnp.asarray(alpha, jnp.float32),
        learning_rate=temperature * batch_size * width,
        temperature=temperature,
    )
    return dynamics.train(
        apply_fn,
        params0,
        x_train,
        y_train,
        key=noise_key,
        config=config,
        x_test=x_test,
        y_test=y_test,
        train_size=train_size,
    )


def point_summary(result) -> dict[str, jax.Array]:
    """The flat dict of scalars a sweep point returns."""
    return {
        "test_error": result.final("test_error"),
        "train_error": result.final("train_error"),
        "weight_change": result.final("weight_change"),
        "num_steps": result.num_steps,
        "time": result.time,
        "status": result.status.astype(jnp.int32),
    }


def log_crossing(x, y, level):
    """First x (log-interpolated) where y crosses ``level`` upwards; NaN if it never does."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    for i in range(1, len(x)):
        if np.isfinite(y[i - 1]) and np.isfinite(y[i]) and y[i - 1] < level <= y[i]:
            lx0, lx1, ly0, ly1 = np.log(x[i - 1]), np.log(x[i]), np.log(y[i - 1]), np.log(y[i])
            return float(np.exp(lx0 + (np.log(level) - ly0) * (lx1 - lx0) / (ly1 - ly0)))
        if i == 1 and np.isfinite(y[0]) and y[0] >= level:
            return float("nan")
    return float("nan")
