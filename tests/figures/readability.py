"""Readability of a rendered figure: no text leaves the canvas, no two texts or legends overlap.

:func:`text_problems` draws the figure with the Agg renderer and collects every drawn text (titles, axis
labels, tick labels of the ticks actually drawn, legend entries, annotations, figure texts) and every legend
box, then reports each text whose box leaves the canvas and each pair of boxes that intersect (legend entries
are compared with everything outside their own legend).
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.text import Text  # noqa: E402

SLACK_PX = 1.0  # boxes touching within one pixel do not count as overlapping


def _drawn_texts(fig):
    """(owner, Text) for every non-empty, visible text the figure draws; owner groups a legend's texts."""
    out, seen = [], set()

    def add(owner, text):
        if (
            isinstance(text, Text)
            and id(text) not in seen
            and text.get_visible()
            and text.get_text().strip()
        ):
            seen.add(id(text))
            out.append((owner, text))

    for t in fig.texts:
        add(("fig", id(t)), t)
    if getattr(fig, "_suptitle", None) is not None:
        add(("fig", "suptitle"), fig._suptitle)
    for legend in fig.legends:
        for t in legend.get_texts():
            add(("legend", id(legend)), t)
        add(("legend", id(legend)), legend.get_title())
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison and not ax.texts and not ax.get_legend():
            continue
        for t in (ax.title, ax._left_title, ax._right_title):
            add(("ax", id(t)), t)
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_visible():
                continue
            add(("ax", id(axis.label)), axis.label)
            for tick in axis._update_ticks():
                for label in (tick.label1, tick.label2):
                    add(("ax", id(label)), label)
            add(("ax", id(axis.offsetText)), axis.offsetText)
        for t in ax.texts:
            add(("ax", id(t)), t)
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            for t in legend.get_texts():
                add(("legend", id(legend)), t)
            add(("legend", id(legend)), legend.get_title())
    return out


def _legends(fig):
    legends = list(fig.legends)
    legends += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [lg for lg in legends if lg.get_visible()]


def _overlap(a, b) -> bool:
    return (
        min(a.x1, b.x1) - max(a.x0, b.x0) > SLACK_PX
        and min(a.y1, b.y1) - max(a.y0, b.y0) > SLACK_PX
    )


def text_problems(fig) -> list[str]:
    """Every text outside the canvas and every overlapping pair of texts or legend boxes, in words."""
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    problems = []
    boxes = []
    for owner, text in _drawn_texts(fig):
        box = text.get_window_extent(renderer)
        label = repr(text.get_text())
        if (
            box.x0 < -SLACK_PX
            or box.y0 < -SLACK_PX
            or box.x1 > width + SLACK_PX
            or (box.y1 > height + SLACK_PX)
        ):
            problems.append(f"{label} leaves the canvas ({box.bounds} in {width}x{height})")
        boxes.append((owner, label, box))
    for legend in _legends(fig):
        boxes.append((("legend", id(legend)), "legend box", legend.get_window_extent(renderer)))
    for (o1, l1, b1), (o2, l2, b2) in itertools.combinations(boxes, 2):
        if o1 == o2 or (o1[0] == "legend" and o2[0] == "legend" and o1[1] == o2[1]):
            continue
        if _overlap(b1, b2):
            problems.append(f"{l1} overlaps {l2}")
    return problems
