"""Loaders of the official MNIST (IDX) and CIFAR-10 (binary version) files from a user-given folder.

Nothing is downloaded: the user supplies the files. Missing or corrupt files raise ``FileNotFoundError`` /
``DataFileError`` (a ``ValueError``) naming the path and the expected file. CIFAR-10 is read from the *binary* version
(``cifar-10-batches-bin``); the pickled Python version is never unpickled.
"""

from __future__ import annotations

import gzip
import os
import pathlib
from typing import Literal

import numpy as np

from lazyrich._errors import DataFileError

__all__ = ["load_mnist", "load_cifar10"]

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}


def _check_split(split: str) -> None:
    if split not in ("train", "test", "all"):
        raise ValueError(f"`split` must be one of ('train', 'test', 'all'), got {split!r}.")


def _find(folder: pathlib.Path, stem: str, *, what: str) -> pathlib.Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{what}: expected the file `{stem}.gz` (or `{stem}`) in {folder}, but it is not there."
    )


def _read_idx(path: pathlib.Path, *, magic: int, ndim: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as err:
        raise DataFileError(f"corrupt IDX file {path}: {err}") from None
    header = 4 + 4 * ndim
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataFileError(
            f"corrupt IDX file {path}: expected magic number {magic} in its header."
        )
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) - header != int(np.prod(dims)):
        raise DataFileError(
            f"corrupt IDX file {path}: header says shape {tuple(dims)} ({int(np.prod(dims))} bytes) but the file "
            f"holds {len(raw) - header} bytes of data."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(path: str | os.PathLike, *, split: Literal["train", "test", "all"] = "train"):
    """MNIST from the official IDX files (``train-images-idx3-ubyte.gz`` etc., gzipped or not) in ``path``.

    Returns:
      ``(images, labels)``: uint8 ``(n, 28, 28)`` and int32 ``(n,)``; ``split="all"`` concatenates train then
      test (the union Sclocchi et al. draw their train and test sets from).
    """
    _check_split(split)
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"MNIST: `path` must be a folder holding the IDX files, got {folder}."
        )
    parts = ("train", "test") if split == "all" else (split,)
    images, labels = [], []
    for part in parts:
        img_name, lab_name = _MNIST_FILES[part]
        img = _read_idx(_find(folder, img_name, what="MNIST"), magic=2051, ndim=3)
        lab = _read_idx(_find(folder, lab_name, what="MNIST"), magic=2049, ndim=1)
        if img.shape[0] != lab.shape[0]:
            raise DataFileError(
                f"MNIST {part}: {img.shape[0]} images but {lab.shape[0]} labels in {folder}."
            )
        images.append(img)
        labels.append(lab.astype(np.int32))
    return np.concatenate(images), np.concatenate(labels)


def load_cifar10(path: str | os.PathLike, *, split: Literal["train", "test", "all"] = "train"):
    """CIFAR-10 from the official binary version (``data_batch_1.bin`` ... ``test_batch.bin``).

    ``path`` is the ``cifar-10-batches-bin`` folder or the folder containing it. Each record is one label byte
    followed by 3,072 pixel bytes (channel-major, 32x32 each).

    Returns:
      ``(images, labels)``: uint8 ``(n, 32, 32, 3)`` and int32 ``(n,)``.
    """
    _check_split(split)
    folder = pathlib.Path(path)
    if (folder / "cifar-10-batches-bin").is_dir():
        folder = folder / "cifar-10-batches-bin"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"CIFAR-10: `path` must be a folder holding the binary batches, got {folder}."
        )
    names = _CIFAR_FILES["train"] + _CIFAR_FILES["test"] if split == "all" else _CIFAR_FILES[split]
    images, labels = [], []
    for name in names:
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(
                f"CIFAR-10: expected the file `{name}` (binary version) in {folder}, but it is not there."
            )
        raw = np.fromfile(file, dtype=np.uint8)
        if raw.size == 0 or raw.size % 3073:
            raise DataFileError(
                f"corrupt CIFAR-10 file {file}: {raw.size} bytes is not a multiple of 3073."
            )
        records = raw.reshape(-1, 3073)
        if records[:, 0].max() > 9:
            raise DataFileError(f"corrupt CIFAR-10 file {file}: label byte above 9.")
        labels.append(records[:, 0].astype(np.int32))
        images.append(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(images), np.concatenate(labels)
