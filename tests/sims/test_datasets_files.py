"""Digits, MNIST (IDX) and CIFAR-10 (binary) loaders, tested on small files the tests write."""

import gzip

import jax
import numpy as np
import pytest

from lazyrich.sims import datasets


def _write_idx(path, array, magic, *, compress=True):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + np.asarray(array, np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def _fake_mnist(folder, rng, *, n_train=5, n_test=3, compress=True):
    arrays = {}
    for part, n, (img, lab) in (
        ("train", n_train, ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")),
        ("test", n_test, ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")),
    ):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        _write_idx(folder / img, images, 2051, compress=compress)
        _write_idx(folder / lab, labels, 2049, compress=compress)
        arrays[part] = (images, labels)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_load_mnist_round_trip(tmp_path, compress):
    arrays = _fake_mnist(tmp_path, np.random.default_rng(0), compress=compress)
    for part in ("train", "test"):
        images, labels = datasets.load_mnist(tmp_path, split=part)
        np.testing.assert_array_equal(images, arrays[part][0])
        np.testing.assert_array_equal(labels, arrays[part][1])
        assert labels.dtype == np.int32
    images, labels = datasets.load_mnist(tmp_path, split="all")
    assert images.shape == (8, 28, 28)
    np.testing.assert_array_equal(labels[5:], arrays["test"][1])


def test_load_mnist_errors_name_path_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        datasets.load_mnist(tmp_path)
    _fake_mnist(tmp_path, np.random.default_rng(0))
    # Truncate the label file: its header no longer matches its length.
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    with gzip.open(bad, "wb") as f:
        f.write((2049).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(ValueError, match="corrupt IDX file .*train-labels"):
        datasets.load_mnist(tmp_path)
    with pytest.raises(ValueError, match="`split`"):
        datasets.load_mnist(tmp_path, split="validation")


def test_load_cifar10_binary(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    expected = []
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, size=2, dtype=np.uint8)
        pixels = rng.integers(0, 256, size=(2, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([labels[:, None], pixels.reshape(2, -1)], axis=1)
        records.tofile(folder / name)
        expected.append((pixels.transpose(0, 2, 3, 1), labels))
    images, labels = datasets.load_cifar10(tmp_path, split="train")
    assert images.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(images[:2], expected[0][0])
    np.testing.assert_array_equal(labels[-2:], expected[4][1])
    images, labels = datasets.load_cifar10(folder, split="test")
    np.testing.assert_array_equal(images, expected[5][0])
    (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="corrupt CIFAR-10 file .*test_batch.bin"):
        datasets.load_cifar10(folder, split="test")
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3.bin"):
        datasets.load_cifar10(folder, split="train")


def test_digits_parity_and_split():
    x, labels = datasets.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1.0) < 1e-4
    y = datasets.parity_labels(labels)
    np.testing.assert_array_equal(y == 1.0, labels % 2 == 0)
    xtr, ytr, xte, yte = datasets.split(x, y, num_train=100, num_test=50, key=jax.random.key(0))
    assert xtr.shape == (100, 64) and xte.shape == (50, 64)
    # Disjoint: no training row appears among the test rows.
    rows = {r.tobytes() for r in xtr}
    assert not any(r.tobytes() in rows for r in xte)
    with pytest.raises(ValueError, match="`num_train`"):
        datasets.split(x, y, num_train=1797, num_test=1, key=jax.random.key(0))
