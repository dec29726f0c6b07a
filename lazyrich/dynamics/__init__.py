"""Finite-width training dynamics: empirical NTK, scaled models, training loops, layers, observables."""

__all__: list[str] = []
