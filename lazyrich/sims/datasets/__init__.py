"""Data sets and tasks: bundled digits, synthetic generators, and loaders of official files at a user path."""

__all__: list[str] = []
