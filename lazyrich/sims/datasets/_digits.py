"""The embedded default data set: scikit-learn's bundled 8x8 handwritten digits (no download)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich import _checks

__all__ = ["load_digits", "parity_labels", "split"]


def load_digits(*, standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 bundled 8x8 digits of scikit-learn, flattened.

    Args:
      standardize: subtract the global mean and divide by the global standard deviation of all pixels (two
        scalars, the same form as the MNIST/CIFAR normalisations of Sclocchi et al.); otherwise raw intensities
        in ``[0, 16]``.

    Returns:
      ``(x, labels)``: ``x`` float32 of shape ``(1797, 64)``, ``labels`` int32 of shape ``(1797,)`` in 0..9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float64)
    if standardize:
        x = (x - x.mean()) / x.std()
    return x.astype(np.float32), np.asarray(bunch.target, dtype=np.int32)


def parity_labels(labels) -> np.ndarray:
    """Binary parity labels: ``+1`` for an even digit, ``-1`` for an odd digit (float32)."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`labels` must be integer class labels, got dtype {labels.dtype}.")
    return np.where(labels % 2 == 0, 1.0, -1.0).astype(np.float32)


def split(x, y, *, num_train: int, num_test: int, key: jax.Array):
    """A random disjoint train/test split.

    Args:
      x: inputs, shape ``(n, ...)``.
      y: labels or targets, shape ``(n, ...)``.
      num_train: number of training points.
      num_test: number of test points; ``num_train + num_test <= n``.
      key: typed PRNG key.

    Returns:
      ``(x_train, y_train, x_test, y_test)`` as the input array types.
    """
    n = np.shape(x)[0]
    if np.shape(y)[0] != n:
        raise ValueError(f"`x` and `y` must have the same length, got {n} and {np.shape(y)[0]}.")
    _checks.check_int("num_train", num_train, minimum=1)
    _checks.check_int("num_test", num_test, minimum=0)
    if num_train + num_test > n:
        raise ValueError(
            f"`num_train` + `num_test` must be <= the number of points ({n}), got {num_train} + {num_test}."
        )
    _checks.check_key("key", key)
    order = np.asarray(jax.random.permutation(key, jnp.arange(n)))
    tr, te = order[:num_train], order[num_train : num_train + num_test]
    return x[tr], y[tr], x[te], y[te]
