"""Error types shared by the command line and the library (a private module with no lazyrich imports).

* :class:`UsageError` -- a bad command line or setting, reported by the CLI before any work starts;
* :class:`DataFileError` -- a file the user supplied or a stored result is missing pieces or damaged
  (a truncated data set, a corrupted sweep chunk or manifest). Its message names the file. It is a
  ``ValueError``, so ``except ValueError`` keeps catching it.

The command line prints either as one ``lazyrich: error: ...`` line (no traceback).
"""

from __future__ import annotations

__all__ = ["UsageError", "DataFileError"]


class UsageError(Exception):
    """A bad command line or setting, reported before any work starts."""


class DataFileError(ValueError):
    """A user-supplied or stored file is missing, truncated or corrupted; the message names the file."""
