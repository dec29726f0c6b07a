"""One module per paper figure; the only part of lazyrich that imports matplotlib.

Each figure module defines ``NAME`` (the CLI name, e.g. ``"ntk-convergence"``), ``DESCRIPTION`` (one line),
``PAPER`` (the paper and figure it reproduces), ``EXPERIMENT`` (the :mod:`lazyrich.sims.experiments` module that
computes it) and ``plot(result) -> matplotlib.figure.Figure``. :func:`make` runs the experiment and writes
``NAME.png``, ``NAME.pdf`` and ``NAME.json``. Modules are discovered automatically.
"""

from lazyrich.figures._make import figure_registry as figure_registry
from lazyrich.figures._make import get_figure as get_figure
from lazyrich.figures._make import make as make
from lazyrich.figures._make import prepare as prepare

__all__ = ["figure_registry", "get_figure", "make", "prepare"]
