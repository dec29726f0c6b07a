"""The readability check itself: it must flag overlapping and clipped text, and pass a clean figure."""

from matplotlib.figure import Figure

from lazyrich import sims
from lazyrich.figures import _style
from tests.figures.readability import text_problems


def test_overlapping_and_clipped_text_is_flagged():
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label", transform=ax.transAxes)
    fig.text(0.9, 0.5, "runs off the right edge of the canvas")
    problems = text_problems(fig)
    assert any("'first label' overlaps 'second label'" in p for p in problems), problems
    assert any("leaves the canvas" in p for p in problems), problems


def test_clean_figure_with_verdict_passes():
    import matplotlib.pyplot as plt

    with plt.style.context(_style.STYLE):
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        ax.plot([1, 2, 3], [1, 4, 9], label="data")
        ax.set(xlabel="x", ylabel="y", title="a title")
        ax.legend()
        check = sims.Check("claim", 1.0, 1.0, 0.1, basis="test")
        _style.add_verdict(fig, [check])
    assert text_problems(fig) == []
    assert any(t.get_text() == "checks: 1/1 pass" for t in fig.texts)
