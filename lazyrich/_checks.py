"""Argument validators shared by every subpackage.

Each raises ``ValueError`` or ``TypeError`` whose message names the argument in backticks, echoes what was
received and says what was expected. They inspect shapes, dtypes and Python values only, so they are safe to
call at trace time; :func:`check_finite` looks at values and is skipped for tracers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import numpy as np


def _is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def check_ndim(name: str, x: Any, ndim: int | Iterable[int]) -> None:
    """Raise if ``x`` does not have (one of) the given number(s) of dimensions."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    got = np.ndim(x)
    if got not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise ValueError(f"`{name}` must be a {want}-D array, got shape {np.shape(x)}.")


def check_square(name: str, matrix: Any) -> None:
    """Raise if ``matrix`` is not a square 2-D array."""
    shape = np.shape(matrix)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"`{name}` must be a square matrix, got shape {shape}.")


def check_finite(name: str, x: Any) -> None:
    """Raise if a concrete array has NaN or infinite entries (no-op under tracing)."""
    if _is_tracer(x):
        return
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"`{name}` must be finite, got {bad} non-finite entries (shape {arr.shape})."
        )


def check_finite_tree(name: str, tree: Any) -> None:
    """Raise if a concrete floating leaf of a pytree has NaN or infinite entries (tracer leaves skipped).

    The message names the first bad leaf by its key path (e.g. ``params['layers'][0]['w']``).
    """
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if _is_tracer(leaf) or not hasattr(leaf, "dtype"):
            continue
        if not np.issubdtype(np.dtype(leaf.dtype), np.inexact):
            continue
        # Concrete leaves (closure constants) are evaluated eagerly even under a caller's jit.
        with jax.ensure_compile_time_eval():
            finite = jax.numpy.isfinite(leaf)
            bad = int(np.size(leaf) - int(jax.numpy.count_nonzero(finite)))
        if bad:
            raise ValueError(
                f"`{name}` must be finite, got {bad} non-finite entries in "
                f"`{name}{jax.tree_util.keystr(path)}` (shape {np.shape(leaf)})."
            )


def check_same_features(name1: str, x1: Any, name2: str, x2: Any) -> None:
    """Raise if two input batches differ in their trailing (feature) shape."""
    s1, s2 = np.shape(x1)[1:], np.shape(x2)[1:]
    if s1 != s2:
        raise ValueError(
            f"`{name1}` and `{name2}` must have the same feature shape, got {s1} and {s2} "
            f"(full shapes {np.shape(x1)} and {np.shape(x2)})."
        )


def check_choice(name: str, value: Any, options: Iterable[Any]) -> None:
    """Raise if ``value`` is not one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}.")


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> None:
    """Raise unless ``value`` is a Python/NumPy integer (not bool) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"`{name}` must be an integer, got {value!r} of type {type(value).__name__}."
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}.")


def check_positive(name: str, value: Any, *, strict: bool = True) -> None:
    """Raise if a concrete scalar (or every entry of an array) is not positive (no-op under tracing)."""
    if _is_tracer(value):
        return
    arr = np.asarray(value)
    ok = np.all(arr > 0) if strict else np.all(arr >= 0)
    if not ok:
        want = "> 0" if strict else ">= 0"
        raise ValueError(f"`{name}` must be {want}, got {value!r}.")


def check_key(name: str, key: Any) -> None:
    """Raise unless ``key`` is a typed PRNG key array made by ``jax.random.key``."""
    if not (hasattr(key, "dtype") and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(
            f"`{name}` must be a typed PRNG key from `jax.random.key(seed)`, got {type(key).__name__}"
            f" with dtype {getattr(key, 'dtype', None)}."
        )


def check_increasing(name: str, x: Any, *, start: float | None = None) -> None:
    """Raise unless a concrete 1-D array is strictly increasing (and starts at ``start``, if given)."""
    if _is_tracer(x):
        return
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D array, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite, got {arr!r}.")
    steps = np.diff(arr)
    if np.any(steps <= 0):
        bad = int(np.argmax(steps <= 0))
        raise ValueError(
            f"`{name}` must be strictly increasing, got {name}[{bad}] = {arr[bad]} followed by "
            f"{name}[{bad + 1}] = {arr[bad + 1]}."
        )
    if start is not None and arr.size and arr[0] != start:
        raise ValueError(f"`{name}` must start at {start}, got {name}[0] = {arr[0]}.")


def check_nonnegative_scalar(name: str, value: Any) -> None:
    """Raise if a concrete scalar is negative or not finite (no-op under tracing)."""
    if _is_tracer(value):
        return
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {arr.shape}.")
    if not np.isfinite(arr) or arr < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}.")


def check_psd(name: str, matrix: Any, *, rtol: float = 1e-6) -> None:
    """Raise if a concrete symmetric matrix is not positive semi-definite (no-op under tracing).

    Tolerance: asymmetry and negative eigenvalues up to ``rtol * max|eigenvalue|`` are accepted (round-off).
    """
    if _is_tracer(matrix):
        return
    arr = np.asarray(matrix, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite, got non-finite entries.")
    scale = max(float(np.max(np.abs(arr))), np.finfo(np.float64).tiny)
    asym = float(np.max(np.abs(arr - arr.T)))
    if asym > rtol * scale * 10:
        raise ValueError(f"`{name}` must be symmetric, got max |K - K^T| = {asym:.3g}.")
    evals = np.linalg.eigvalsh(0.5 * (arr + arr.T))
    if evals[0] < -rtol * max(float(np.max(np.abs(evals))), scale):
        raise ValueError(
            f"`{name}` must be positive semi-definite, got smallest eigenvalue {evals[0]:.4g} "
            f"(largest {evals[-1]:.4g})."
        )
