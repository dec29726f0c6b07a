"""Binary tasks of Sclocchi, Geiger, Wyart (2023) and Gaussian teacher-student data.

Sclocchi, Geiger, Wyart (ICML 2023), https://arxiv.org/abs/2301.13703.

All return ``(x_train, y_train, x_test, y_test)`` with float32 inputs and float32 labels in {-1, +1} (or real
targets for the regression teacher), a disjoint random split drawn from ``key`` over the *union* of the
official train and test files (as in the paper's code; the paper fixes the test split with its own seed, here
one key draws both).
"""

from __future__ import annotations

import os
from typing import Literal

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from lazyrich import _checks
from lazyrich.sims.datasets._digits import load_digits, parity_labels, split
from lazyrich.sims.datasets._files import load_cifar10, load_mnist

MNIST_MEAN, MNIST_STD = 33.31002426, 78.56748962
CIFAR_MEAN, CIFAR_STD = 120.93118286, 64.14186096
CIFAR_VEHICLES = (0, 1, 8, 9)  # airplane, automobile, ship, truck


def digits_parity(*, num_train: int, num_test: int, key: jax.Array):
    """scikit-learn's bundled 8x8 digits, globally standardised, label +1 even / -1 odd; inputs ``(n, 64)``.

    The embedded stand-in for MNIST parity (1797 points in all, so ``num_train + num_test <= 1797``).
    """
    x, labels = load_digits(standardize=True)
    return split(
        x, parity_labels(labels).astype(np.float32), num_train=num_train, num_test=num_test, key=key
    )


def mnist_parity(
    path: str | os.PathLike, *, num_train: int, num_test: int, key: jax.Array, flatten: bool = True
):
    r"""MNIST parity from the official IDX files in ``path`` (Sclocchi et al.'s data set).

    Inputs :math:`(x - 33.31002426)/78.56748962` (two global scalars of the paper's code), flattened to
    ``(n, 784)`` (``flatten=True``, for the MLP) or ``(n, 28, 28, 1)``; labels +1 for even and -1 for odd digits.

    Raises:
      FileNotFoundError, ValueError: from the loader, naming the missing or corrupt file.
    """
    images, labels = load_mnist(path, split="all")
    x = ((images.astype(np.float64) - MNIST_MEAN) / MNIST_STD).astype(np.float32)
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    return split(
        x, parity_labels(labels).astype(np.float32), num_train=num_train, num_test=num_test, key=key
    )


def cifar_animal_labels(labels) -> np.ndarray:
    """+1 for the six animal classes of CIFAR-10, -1 for {airplane, automobile, ship, truck}; float32."""
    labels = np.asarray(labels)
    return np.where(np.isin(labels, CIFAR_VEHICLES), -1.0, 1.0).astype(np.float32)


def cifar_animals(
    path: str | os.PathLike, *, num_train: int, num_test: int, key: jax.Array, flatten: bool = False
):
    r"""CIFAR-10 animals (+1) versus vehicles (-1) from the official binary files in ``path``.

    Inputs :math:`(x - 120.93118286)/64.14186096`, shape ``(n, 32, 32, 3)`` (NHWC) or flattened ``(n, 3072)``.

    Raises:
      FileNotFoundError, ValueError: from the loader, naming the missing or corrupt file.
    """
    images, labels = load_cifar10(path, split="all")
    x = ((images.astype(np.float64) - CIFAR_MEAN) / CIFAR_STD).astype(np.float32)
    x = x.reshape(len(x), -1) if flatten else x
    return split(x, cifar_animal_labels(labels), num_train=num_train, num_test=num_test, key=key)


def gaussian_teacher_student(
    *,
    num_train: int,
    num_test: int,
    input_dim: int,
    key: jax.Array,
    target: Literal["sign", "linear"] = "sign",
    noise: float = 0.0,
):
    r"""Gaussian inputs :math:`x \sim N(0, I_d)` labelled by a random linear teacher :math:`w^\star \sim N(0, I_d)`.

    ``target="sign"``: :math:`y = \mathrm{sign}(w^\star\cdot x/\sqrt d)` in {-1, +1}, each label flipped with
    probability ``noise``; ``target="linear"``: :math:`y = w^\star\cdot x/\sqrt d + \text{noise}\cdot\epsilon`.

    Returns:
      ``(x_train, y_train, x_test, y_test)`` as NumPy float32 arrays.
    """
    _checks.check_int("num_train", num_train, minimum=1)
    _checks.check_int("num_test", num_test, minimum=0)
    _checks.check_int("input_dim", input_dim, minimum=1)
    _checks.check_key("key", key)
    _checks.check_choice("target", target, ("sign", "linear"))
    _checks.check_positive("noise", noise, strict=False)
    if target == "sign" and noise > 0.5:
        raise ValueError(
            f"`noise` is a flip probability for target='sign' and must be <= 0.5, got {noise}."
        )
    teacher_key, x_key, noise_key = jr.split(key, 3)
    n = num_train + num_test
    teacher = jr.normal(teacher_key, (input_dim,))
    x = jr.normal(x_key, (n, input_dim))
    field = x @ teacher / jnp.sqrt(input_dim)
    if target == "sign":
        y = jnp.where(field >= 0, 1.0, -1.0)
        y = jnp.where(jr.uniform(noise_key, (n,)) < noise, -y, y)
    else:
        y = field + noise * jr.normal(noise_key, (n,))
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    return x[:num_train], y[:num_train], x[num_train:], y[num_train:]
