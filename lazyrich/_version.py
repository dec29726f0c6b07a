"""lazyrich's own version, and the commit of its source checkout when it runs from one.

:data:`__version__` is the installed distribution's version (``importlib.metadata``), or ``"0.1.0+src"``
for a source tree that is not installed. :func:`source_commit` returns the git commit of lazyrich's own
source checkout, and nothing otherwise: lazyrich installed into a virtual environment that lives inside
a user's git repository (or vendored into one) is *not* a source checkout, and that repository's commit
is never recorded as lazyrich's.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import pathlib
import subprocess
import tomllib
from typing import Any

__all__ = ["__version__", "source_commit", "version_info"]

try:
    __version__ = importlib.metadata.version("lazyrich")
except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0+src"

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent


def _is_lazyrich_checkout(root: pathlib.Path) -> bool:
    """``root`` holds lazyrich's own ``pyproject.toml`` and is the top of a git work tree."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, ValueError):
        return False
    return project.get("project", {}).get("name") == "lazyrich" and (root / ".git").exists()


@functools.lru_cache(maxsize=4)
def source_commit(package_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """``{"lazyrich_commit": sha, "lazyrich_dirty": bool}`` for a source checkout, else ``{}``.

    A source checkout is a git work tree whose top folder holds the package folder ``lazyrich/`` and
    lazyrich's own ``pyproject.toml`` (``name = "lazyrich"``). Any other layout (an installed wheel, a
    virtual environment or a copy inside another project's repository) gives ``{}``.

    Args:
      package_dir: the ``lazyrich`` package folder to inspect (default: this one; tests pass others).
    """
    package = PACKAGE_DIR if package_dir is None else pathlib.Path(package_dir).resolve()
    root = package.parent
    if not _is_lazyrich_checkout(root):
        return {}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        if pathlib.Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return {}
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".") != ""
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"lazyrich_commit": commit, "lazyrich_dirty": dirty}


def version_info() -> dict[str, Any]:
    """``{"lazyrich_version": ...}`` plus :func:`source_commit` (when running from a source checkout)."""
    return {"lazyrich_version": __version__, **source_commit()}
