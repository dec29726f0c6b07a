"""Atomic file writes shared by sweep storage (``lazyrich.sims``) and figure output (``lazyrich.figures``)."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["atomic_write"]


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[BinaryIO], object],
    *,
    tag: str = "",
    fsync: bool = False,
) -> None:
    """Write ``path`` atomically: ``write(handle)`` fills a hidden temporary file, then ``os.replace``.

    The temporary file lives in the same folder (so the rename is atomic on POSIX file systems) and is named
    ``.NAME.TAG.XXXX.tmp``; a reader never sees a partial file, and a failure leaves no temporary behind.
    The file gets mode ``0o644`` whatever the process umask.

    Args:
      path: the destination.
      write: called once with the open binary handle of the temporary file.
      tag: distinguishes writers of the same path (e.g. the process index of a multi-host sweep).
      fsync: flush to disk before the rename, to survive a host crash and not only a killed process
        (costly on busy file systems).
    """
    path = pathlib.Path(path)
    prefix = f".{path.name}.{tag}." if tag else f".{path.name}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
