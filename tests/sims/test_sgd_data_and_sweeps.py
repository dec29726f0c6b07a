"""Parity data sets with the papers' normalisations, teacher-student data, and the sweep protocol of the
Sclocchi experiments (point is jit/vmap-able; grids do not depend on chunking)."""

import dataclasses
import gzip
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.sims import datasets
from lazyrich.sims.experiments import sclocchi2023_phase_diagram as pd


def _idx(path, array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_mnist_parity_normalisation_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 4)):
        _idx(
            tmp_path / f"{prefix}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            2051,
        )
        _idx(
            tmp_path / f"{prefix}-labels-idx1-ubyte.gz",
            rng.integers(0, 10, (n,), dtype=np.uint8),
            2049,
        )
    images, labels = datasets.load_mnist(tmp_path, split="all")
    x, y, xt, yt = datasets.mnist_parity(tmp_path, num_train=7, num_test=3, key=jax.random.key(0))
    assert x.shape == (7, 784) and xt.shape == (3, 784) and x.dtype == np.float32
    # Every output row is a normalised original image with its parity label.
    raw = (images.reshape(10, -1).astype(np.float64) - 33.31002426) / 78.56748962
    for row, label in zip(np.concatenate([x, xt]), np.concatenate([y, yt])):
        match = np.flatnonzero(np.all(np.abs(raw - row) < 1e-5, axis=1))
        assert match.size >= 1 and label == (1.0 if labels[match[0]] % 2 == 0 else -1.0)
    with pytest.raises(FileNotFoundError):
        datasets.mnist_parity(tmp_path / "missing", num_train=2, num_test=1, key=jax.random.key(0))


def test_cifar_animal_labels_and_teacher_student():
    np.testing.assert_array_equal(
        datasets.cifar_animal_labels(np.arange(10)), [-1, -1, 1, 1, 1, 1, 1, 1, -1, -1]
    )
    x, y, xt, yt = datasets.gaussian_teacher_student(
        num_train=500, num_test=100, input_dim=4, key=jax.random.key(0)
    )
    assert x.shape == (500, 4) and set(np.unique(y)) <= {-1.0, 1.0} and yt.shape == (100,)
    # A linear teacher: the labels are linearly separable (least squares recovers them up to noise=0).
    w = np.linalg.lstsq(x, y, rcond=None)[0]
    assert np.mean(np.sign(x @ w) == y) > 0.95
    with pytest.raises(ValueError, match="`noise`"):
        datasets.gaussian_teacher_student(
            num_train=5, num_test=1, input_dim=2, key=jax.random.key(0), noise=0.7
        )


TINY = pd.Config(
    num_train=32,
    num_test=64,
    width=8,
    depth=2,
    alphas=(0.5, 64.0),
    temperatures=(1e-3, 1e-2),
    max_steps=256,
    check_every=16,
    num_seeds=2,
)


@pytest.mark.slow  # ~30 s; chunk invariance is also covered by tests/sims/test_sweep_run.py
def test_point_protocol_and_chunking():
    out = jax.jit(jax.vmap(lambda tr, k: pd.point(TINY, tr, k)))(
        {"alpha": jnp.array([0.5, 64.0]), "temperature": jnp.array([1e-3, 1e-2])},
        jax.random.split(jax.random.key(0), 2),
    )
    assert out["status"].dtype == jnp.int32 and out["status"].shape == (2,)
    assert set(out) >= {"test_error", "weight_change", "num_steps", "time", "status"}
    whole = pd.run_grid(TINY, TINY.alphas, TINY.temperatures, key=jax.random.key(3))
    chunked = pd.run_grid(
        dataclasses.replace(TINY, chunk_size=3),
        TINY.alphas,
        TINY.temperatures,
        key=jax.random.key(3),
    )
    assert whole["status"].shape == (2, 2, 2)
    # Same trajectories: identical stops and errors. Norm reductions may differ by an ulp between vmap batch
    # sizes (XLA reduction order), so the real-valued norms are compared at float32 resolution.
    for name in ("status", "num_steps", "test_error", "train_error"):
        np.testing.assert_array_equal(whole[name], chunked[name], err_msg=name)
    for name in ("weight_change", "time"):
        np.testing.assert_allclose(whole[name], chunked[name], rtol=1e-6, err_msg=name)
