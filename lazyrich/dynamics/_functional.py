"""Adapters from Flax models to the functional ``(apply_fn, params)`` pair of ``dynamics``.

Every routine of :mod:`lazyrich.dynamics` takes a pure ``apply_fn(params, x) -> outputs`` and a
pytree of parameters, the neural-tangents convention. A plain function is already such a pair;
Flax NNX and Linen modules are converted once with :func:`from_nnx` and :func:`from_linen`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flax import nnx

from lazyrich._types import ApplyFn, Array, Params


def from_nnx(module: nnx.Module) -> tuple[ApplyFn, Params]:
    """Split an NNX module into a pure ``apply_fn(params, x)`` and its trainable parameters.

    The module is split with ``nnx.split(module, nnx.Param, ...)``: ``params`` is the ``nnx.State``
    of its ``nnx.Param`` variables (a pytree whose leaves are arrays); every other variable (batch
    statistics, RNG counts, ...) is frozen into the closure. ``apply_fn`` rebuilds the module with
    ``nnx.merge`` on every call, so it is pure and jit/vmap/grad-compatible; the module passed in is
    not modified by later calls.

    Args:
      module: an NNX module whose ``__call__(x)`` maps a batch ``(n, ...)`` to outputs ``(n, O)``.

    Returns:
      ``(apply_fn, params)`` with ``apply_fn(params, x) == module(x)`` at the current parameters.

    The module must be in evaluation mode: a ``BatchNorm`` in training mode makes each example's output
    depend on the whole batch and updates its statistics on every call, and an active ``Dropout``
    draws random numbers on every call; neither is a pure function of ``(params, x)``. Call
    ``module.eval()`` first (the running statistics are then frozen into ``apply_fn``).

    Raises:
      TypeError: if ``module`` is not an ``nnx.Module``.
      ValueError: if ``module`` holds a ``BatchNorm`` in training mode (``use_running_average`` false)
        or an active ``Dropout``, naming their paths.
    """
    if not isinstance(module, nnx.Module):
        raise TypeError(f"`module` must be a flax.nnx.Module, got {type(module).__name__}.")
    _check_eval_mode(module)
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)

    def apply_fn(params: Params, x: Array) -> Array:
        return nnx.merge(graphdef, params, rest)(x)

    return apply_fn, params


def _check_eval_mode(module: nnx.Module) -> None:
    """Raise if ``module`` has BatchNorm layers in training mode or active Dropout layers."""
    batch_norm, dropout = [], []
    for path, node in nnx.iter_graph(module):
        name = "/".join(str(p) for p in path) or "(the module itself)"
        if isinstance(node, nnx.BatchNorm) and not node.use_running_average:
            batch_norm.append(name)
        elif isinstance(node, nnx.Dropout) and not node.deterministic and node.rate > 0:
            dropout.append(name)
    problems = []
    if batch_norm:
        problems.append(
            f"BatchNorm in training mode (use_running_average=False) at {', '.join(batch_norm)}: "
            f"each example's output depends on the batch and every call updates the statistics"
        )
    if dropout:
        problems.append(
            f"active Dropout (deterministic=False) at {', '.join(dropout)}: every call draws new "
            f"random numbers"
        )
    if problems:
        raise ValueError(
            f"`module` must be in evaluation mode to become a pure apply_fn(params, x), got "
            f"{'; and '.join(problems)}. Call `module.eval()` first (BatchNorm then uses its running "
            f"statistics, frozen into apply_fn), or build the layers with use_running_average=True / "
            f"deterministic=True."
        )


def from_linen(
    module: Any, variables: Mapping[str, Any], **apply_kwargs: Any
) -> tuple[ApplyFn, Params]:
    """Turn a Flax Linen module and its variables into ``(apply_fn, params)``.

    ``params`` is ``variables["params"]``; the other collections (e.g. ``"batch_stats"``) are held
    fixed in the closure. ``apply_fn(params, x) = module.apply({"params": params, **rest}, x,
    **apply_kwargs)``.

    Args:
      module: a ``flax.linen.Module``.
      variables: the variables returned by ``module.init``; must contain a ``"params"`` collection.
      **apply_kwargs: extra keyword arguments passed to every ``module.apply`` call (e.g.
      ``train=False``).

    Returns:
      ``(apply_fn, params)``.

    Raises:
      TypeError: if ``module`` has no ``apply`` method or ``variables`` is not a mapping.
      ValueError: if ``variables`` has no ``"params"`` collection.
    """
    if not callable(getattr(module, "apply", None)):
        raise TypeError(f"`module` must be a flax.linen.Module, got {type(module).__name__}.")
    if not isinstance(variables, Mapping):
        raise TypeError(
            f"`variables` must be a mapping of collections, got {type(variables).__name__}."
        )
    if "params" not in variables:
        raise ValueError(
            f"`variables` must contain a 'params' collection, got collections {sorted(variables)}."
        )
    rest = {k: v for k, v in variables.items() if k != "params"}

    def apply_fn(params: Params, x: Array) -> Array:
        return module.apply({"params": params, **rest}, x, **apply_kwargs)

    return apply_fn, variables["params"]
