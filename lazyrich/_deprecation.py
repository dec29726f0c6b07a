"""Deprecated aliases of moved public names: a module-level ``__getattr__`` that warns and forwards."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping


def deprecated_getattr(
    module_name: str, moved: Mapping[str, tuple[str, str]]
) -> Callable[[str], object]:
    """Build a module ``__getattr__`` for names that moved.

    Args:
      module_name: the module whose old names are kept (``__name__`` of the caller).
      moved: ``{old_name: (new_location, source)}``: ``new_location`` is the name to use from now on, as
        the warning states it (e.g. ``"lazyrich.dynamics.models.train_committee"``); ``source`` is
        ``"module:attribute"`` where the object lives.

    Returns:
      ``__getattr__(name)``: for a moved name, emits a :class:`DeprecationWarning` naming the new location
      and returns the object itself (so ``old is new``); any other name raises :class:`AttributeError`.
    """

    def __getattr__(name: str) -> object:
        if name not in moved:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        new_location, source = moved[name]
        warnings.warn(
            f"{module_name}.{name} is deprecated and will be removed in the next release; "
            f"use {new_location}.",
            DeprecationWarning,
            stacklevel=2,
        )
        module, attribute = source.split(":")
        return getattr(importlib.import_module(module), attribute)

    return __getattr__
