"""Shared pieces of the Sclocchi, Geiger, Wyart (2023) and Geiger et al. (2020) experiments: the data and
network fields of their configs, data loading, the FC network, one grid point, the chunked vmapped grid, and
reading a finished sweep back into the grid the experiment's summary step expects."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks, dynamics
from lazyrich.sims import datasets
from lazyrich.sims._analysis import log_crossing as log_crossing
from lazyrich.sims._experiment import progress_bar

DATA_SETS = ("digits", "mnist", "cifar")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FCConfig:
    """Data and network fields shared by the FC experiments (subclasses add their grids and may override
    defaults).

    Attributes:
      data: ``"digits"`` (bundled), ``"mnist"`` or ``"cifar"`` (official files under ``data_dir``).
      data_dir: folder of the official files (unused for digits).
      data_seed: seed of the train/test split.
      num_test: test-set size.
      depth: number of hidden layers of the bias-free FC network (mean-field readout 1/h).
      activation: the (normalised) activation.
    """

    data: Literal["digits", "mnist", "cifar"] = "digits"
    data_dir: str = ""
    data_seed: int = 0
    num_test: int = 512
    depth: int = 3
    activation: Literal["relu", "gelu", "tanh", "linear"] = "relu"

    def check_fields(self, num_train: int, positive_ints: Sequence[str] = ()) -> None:
        """Validate the shared fields (``num_train`` is the largest training set) and ``positive_ints``."""
        check_data(self.data, self.data_dir, num_train, self.num_test)
        _checks.check_int("data_seed", self.data_seed, minimum=0)
        for name in ("num_test", "depth", *positive_ints):
            _checks.check_int(name, getattr(self, name), minimum=1)

    def load(self, num_train: int):
        """``(x_train, y_train, x_test, y_test)`` as jax arrays (cached split; see :func:`load`)."""
        return tuple(
            jnp.asarray(a)
            for a in load(self.data, self.data_dir, num_train, self.num_test, self.data_seed)
        )


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
    config: Any, *, data, alpha, temperature, key, num_saves=2, ntk_size=0, train_size=None
):
    """Train one FC network (mean-field readout) with SGD/Langevin at temperature T = lr/(B h) from ``key``.

    ``config`` supplies the network and SGD fields (:class:`SGDConfig`: ``width``, ``depth``, ``activation``,
    ``batch_size``, ``method``, ``max_steps``, ``check_every``); ``data`` is ``(x_train, y_train, x_test,
    y_test)`` (arrays); ``alpha``/``temperature``/``train_size`` may be traced. Returns the
    :class:`lazyrich.dynamics.TrainResult`.
    """
    width, depth, batch_size = config.width, config.depth, config.batch_size
    x_train, y_train, x_test, y_test = data
    init_key, noise_key = jr.split(key)
    input_dim = x_train.shape[1]
    apply_fn = dynamics.models.bias_free_mlp_apply_fn(
        input_dim=input_dim,
        width=width,
        depth=depth,
        activation=config.activation,
        parameterization="mean_field",
    )
    params0 = dynamics.models.bias_free_mlp_init(
        input_dim=input_dim, width=width, depth=depth, key=init_key
    )
    temperature = jnp.asarray(temperature, jnp.float32)
    config = dynamics.TrainConfig(
        method=config.method,
        loss="hinge",
        loss_power=1,
        batch_size=batch_size,
        width=width,
        max_steps=config.max_steps,
        check_every=config.check_every,
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class SGDConfig(FCConfig):
    """:class:`FCConfig` plus the SGD fields shared by the phase-diagram and temperature-scaling experiments.

    Attributes:
      width: hidden width h (mean-field readout 1/h; T = lr/(B h)).
      batch_size: B.
      method: ``"sgd"`` or ``"langevin"`` (matched Gaussian noise at the same T).
      temperatures: the temperature grid of ``run``.
      temperature: the single-point temperature of ``point`` (traced).
      num_seeds: seeds per grid cell.
      max_steps: step cap; ``check_every``: steps between exact stopping checks.
      chunk_size: grid points per vmapped call.
    """

    width: int = 64
    batch_size: int = 16
    method: Literal["sgd", "langevin"] = "sgd"
    temperatures: tuple[float, ...] = (2.0**-10, 2.0**-8.5, 2.0**-7, 2.0**-5.5, 2.0**-4)
    temperature: float = 2.0**-6
    num_seeds: int = 1
    max_steps: int = 2048
    check_every: int = 16
    chunk_size: int = 64


def check_sgd_fields(config: Any, sizes: Sequence[int]) -> None:
    """Validate the SGD fields of a config: ``batch_size`` <= every training-set size in ``sizes``,
    ``max_steps`` a multiple of ``check_every``, positive ``temperatures`` and ``temperature``."""
    if config.batch_size > min(sizes):
        raise ValueError(
            f"`batch_size` must be <= every training-set size {tuple(sizes)}, got {config.batch_size}."
        )
    if config.max_steps % config.check_every:
        raise ValueError(
            f"`max_steps` ({config.max_steps}) must be a multiple of `check_every` "
            f"({config.check_every})."
        )
    _checks.check_positive("temperatures", np.asarray(config.temperatures, float))
    _checks.check_positive("temperature", config.temperature)


def fc_point_summary(config: Any, traced: Mapping[str, Any], key, data, train_size=None):
    """:func:`fc_point` with the SGD fields of ``config`` (traced ``alpha``/``temperature`` override its
    single-point values), reduced by :func:`point_summary`."""
    result = fc_point(
        config,
        data=data,
        alpha=traced.get("alpha", config.alpha),
        temperature=traced.get("temperature", config.temperature),
        key=key,
        train_size=train_size,
    )
    return point_summary(result)


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


def run_grid(
    fn: Callable[..., dict[str, jax.Array]],
    columns: Sequence[np.ndarray],
    keys: jax.Array,
    data: Any,
    *,
    shape: tuple[int, ...],
    chunk_size: int,
    desc: str,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Evaluate ``fn(*column_values, key, data)`` over a flat grid, vmapped in chunks (one compiled program).

    ``columns`` are flat arrays of the grid's traced values (one entry per point, C order of ``shape``) and
    ``keys`` one key per point; the last chunk is padded by repeating the last point. Returns each output
    reshaped to ``shape``.
    """
    vmapped = jax.jit(jax.vmap(fn, in_axes=(0,) * (len(columns) + 1) + (None,)))
    n = int(np.prod(shape))
    chunk = min(chunk_size, n)
    pad = (-n) % chunk
    padded = [np.concatenate([c, np.repeat(c[-1:], pad)]) for c in columns]
    padded_keys = jnp.concatenate([keys, jnp.repeat(keys[-1:], pad)])
    outs = []
    for start in progress_bar(range(0, n + pad, chunk), desc=desc, enabled=progress):
        sl = slice(start, start + chunk)
        outs.append(jax.device_get(vmapped(*(c[sl] for c in padded), padded_keys[sl], data)))
    return {k: np.concatenate([o[k] for o in outs])[:n].reshape(shape) for k in outs[0]}


def grid_from_dataset(
    config: Any, ds: Any, dims: Mapping[str, tuple[str, Any]]
) -> tuple[Any, dict[str, np.ndarray]]:
    """A finished sweep as ``(config, arrays)``: the config of exactly the swept grid, and the dataset's
    variables on the grid ``dims`` (in that order; ``seed`` is added last).

    ``dims`` maps each grid dimension to ``(config tuple field, value when the sweep has no such axis)`` (the
    config's single-point value); the tuple field is set to the axis values (with the field's element type)
    and ``num_seeds`` to the number of seeds (a missing ``seed`` axis is one seed). Points the sweep has not
    computed (status -1) keep their status, so the summaries drop them like unfitted runs.
    """
    dims = {**dims, "seed": ("", 0)}
    extra = [d for d in ds.dims if d not in dims]
    if extra:
        raise ValueError(
            f"the sweep has axes {extra} that this experiment's figure does not plot; expected a subset of "
            f"{list(dims)}."
        )
    for dim, (_, value) in dims.items():
        if dim not in ds.dims:
            ds = ds.expand_dims({dim: [value]})
    ds = ds.transpose(*dims)
    changes: dict[str, Any] = {"num_seeds": ds.sizes["seed"]}
    for dim, (field, _) in dims.items():
        if field:
            kind = type(getattr(config, field)[0])
            changes[field] = tuple(kind(v) for v in np.asarray(ds[dim].values).tolist())
    arrays = {name: np.asarray(ds[name].values) for name in ds.data_vars}
    return dataclasses.replace(config, **changes), arrays
