r"""Shared fits and statistics of the experiments, and the checks a figure makes of its own claim.

Fits:

* :func:`loglog_fit` -- least-squares line through ``(log x, log y)`` with the slope's standard error
  :math:`\mathrm{SE} = \sqrt{\hat\sigma^2 / \sum_i (u_i - \bar u)^2}`, :math:`\hat\sigma^2` the residual
  variance with ``n - 2`` degrees of freedom (``nan`` below three points).
* :func:`bootstrap` -- a statistic recomputed on resamples (with replacement) along one axis, typically the
  seed axis, whose spread estimates the statistic's standard error when no closed form applies.
* :func:`spearman` -- rank correlation over the finite pairs (``nan`` when fewer than three or constant).
* :func:`first_crossing` -- first save step at which a curve falls below a threshold;
  :func:`log_crossing` -- the log-interpolated point where a curve first rises through a level.

Checks: an experiment module may define ``checks(result) -> list[Check]``; :func:`checks` calls it. A
:class:`Check` states one claim of the figure, the measured value, the theory or paper value, and the
tolerance that applies at the result's setting (derived from its seeds and sizes: a standard error, a
sampling bound), plus optionally the value a wrong law would give, so that a test can assert that the
tolerance rejects it. A claim that the setting cannot test is recorded with ``testable=False`` and the reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

__all__ = [
    "Check",
    "Fit",
    "above",
    "below",
    "bootstrap",
    "bootstrap_se",
    "checks",
    "close",
    "first_crossing",
    "log_crossing",
    "loglog_fit",
    "monotone",
    "normal_quantile",
    "rank_trend",
    "spearman",
    "untestable",
    "verdict",
]


# ----------------------------------------------------------------------------------------------------------------
# Fits and statistics


@dataclasses.dataclass(frozen=True)
class Fit:
    """A least-squares line ``log y = intercept + slope * log x``."""

    slope: float
    intercept: float
    stderr: float
    num_points: int


def loglog_fit(x, y, *, where=None) -> Fit:
    """Least-squares slope of ``log y`` against ``log x`` over the positive, finite points (and ``where``).

    Args:
      x, y: same-shape arrays (flattened).
      where: optional boolean mask of the points to use.

    Returns:
      A :class:`Fit`; slope ``nan`` below two usable points (or one distinct ``x``), ``stderr`` ``nan``
      below three.
    """
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if where is not None:
        ok &= np.asarray(where, bool).ravel()
    n = int(ok.sum())
    if n < 2 or np.ptp(x[ok]) == 0:
        return Fit(math.nan, math.nan, math.nan, n)
    u, v = np.log(x[ok]), np.log(y[ok])
    slope, intercept = np.polyfit(u, v, 1)
    stderr = math.nan
    if n >= 3:
        resid = v - (intercept + slope * u)
        stderr = float(np.sqrt(resid @ resid / (n - 2) / np.sum((u - u.mean()) ** 2)))
    return Fit(float(slope), float(intercept), stderr, n)


def bootstrap(
    statistic: Callable[[np.ndarray], Any],
    samples,
    *,
    axis: int = 0,
    num: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """``statistic`` of ``num`` resamples (with replacement) of ``samples`` along ``axis``.

    Args:
      statistic: a function of an array shaped like ``samples`` returning a scalar or an array.
      samples: e.g. per-seed measurements, seeds on ``axis``.
      axis: the axis of independent samples.
      num: number of resamples.
      seed: NumPy seed of the resampling (fixed, so the result is reproducible).

    Returns:
      The replicates stacked on a new leading axis; their standard deviation estimates the standard error.
    """
    samples = np.asarray(samples)
    n = samples.shape[axis]
    if n < 2:
        raise ValueError(f"`samples` needs at least 2 entries along axis {axis}, got {n}.")
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            np.asarray(statistic(np.take(samples, rng.integers(0, n, n), axis=axis)))
            for _ in range(int(num))
        ]
    )


def bootstrap_se(statistic, samples, *, axis: int = 0, num: int = 200, seed: int = 0) -> float:
    """Standard deviation of the finite :func:`bootstrap` replicates of a scalar ``statistic``.

    ``nan`` below three samples: two samples have only three distinct resamples, too few for an error.
    """
    if np.shape(samples)[axis] < 3:
        return math.nan
    reps = bootstrap(statistic, samples, axis=axis, num=num, seed=seed).astype(float)
    reps = reps[np.isfinite(reps)]
    return float(reps.std(ddof=1)) if reps.size >= 2 else math.nan


def normal_quantile(p: float) -> float:
    """The standard normal quantile ``z_p`` (``P(Z <= z_p) = p``)."""
    from scipy import stats

    return float(stats.norm.ppf(p))


def spearman(x, y) -> float:
    """Spearman rank correlation over the pairs where both are finite; ``nan`` if < 3 or either constant."""
    from scipy import stats

    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan
    return float(stats.spearmanr(x[ok], y[ok]).statistic)


def first_crossing(steps, values, threshold) -> float:
    """First ``steps[i]`` with ``values[i] < threshold`` (NumPy); ``nan`` if the curve never gets there."""
    below = np.flatnonzero(np.asarray(values) < threshold)
    return float(np.asarray(steps)[below[0]]) if below.size else math.nan


def log_crossing(x, y, level) -> float:
    """First ``x`` (log-interpolated) where ``y`` crosses ``level`` upwards; ``nan`` if it never does.

    A curve that starts at or above ``level`` has no upward crossing (``nan``).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    for i in range(1, len(x)):
        if np.isfinite(y[i - 1]) and np.isfinite(y[i]) and y[i - 1] < level <= y[i]:
            lx0, lx1, ly0, ly1 = np.log(x[i - 1]), np.log(x[i]), np.log(y[i - 1]), np.log(y[i])
            return float(np.exp(lx0 + (np.log(level) - ly0) * (lx1 - lx0) / (ly1 - ly0)))
        if i == 1 and np.isfinite(y[0]) and y[0] >= level:
            return math.nan
    return math.nan


# ----------------------------------------------------------------------------------------------------------------
# Checks


@dataclasses.dataclass(frozen=True)
class Check:
    """One claim of a figure tested on its result.

    Attributes:
      claim: the claim in words (e.g. ``"NTK spread ~ width^-1/2"``).
      measured: the value measured on the result.
      expected: the theory or paper value (``relation="close"``) or the bound (``"above"``/``"below"``).
      tolerance: the allowed distance from ``expected`` at this setting (``close``), or the margin the
        measured value must clear the bound by (``above``/``below``; 0 for a plain inequality).
      relation: ``"close"`` (``|measured - expected| <= tolerance``), ``"above"``
        (``measured > expected + tolerance``) or ``"below"`` (``measured < expected - tolerance``).
      basis: how the tolerance follows from the setting (seeds, sizes, a standard error).
      alternative: the value the competing (wrong) law predicts; ``rejects_alternative`` says whether this
        tolerance tells it apart.
      testable: ``False`` when the setting cannot test the claim (``reason`` says why); it then neither
        passes nor fails.
    """

    claim: str
    measured: float
    expected: float
    tolerance: float = 0.0
    relation: Literal["close", "above", "below"] = "close"
    basis: str = ""
    alternative: float | None = None
    testable: bool = True
    reason: str = ""

    def _holds(self, value: float) -> bool:
        value, expected, tol = float(value), float(self.expected), float(self.tolerance)
        if not (np.isfinite(value) and np.isfinite(expected) and np.isfinite(tol)):
            return False
        if self.relation == "close":
            return abs(value - expected) <= tol
        if self.relation == "above":
            return value > expected + tol
        return value < expected - tol

    @property
    def passed(self) -> bool | None:
        """``True``/``False``, or ``None`` for a claim this setting cannot test."""
        return self._holds(self.measured) if self.testable else None

    @property
    def rejects_alternative(self) -> bool | None:
        """Whether the wrong law's value would fail this check (``None`` without an alternative)."""
        if self.alternative is None:
            return None
        return not self._holds(self.alternative)

    def as_dict(self) -> dict[str, Any]:
        from lazyrich.sims._experiment import json_ready

        record = {
            "claim": self.claim,
            "measured": self.measured,
            "expected": self.expected,
            "relation": self.relation,
            "tolerance": self.tolerance,
            "basis": self.basis,
            "passed": self.passed,
        }
        if self.alternative is not None:
            record["alternative"] = self.alternative
            record["rejects_alternative"] = self.rejects_alternative
        if not self.testable:
            record["reason"] = self.reason
        return json_ready(record)


def close(claim, measured, expected, tolerance, *, basis, alternative=None) -> Check:
    """A :class:`Check` that ``|measured - expected| <= tolerance``.

    With an ``alternative`` (the wrong law's value) that the tolerance cannot reject, or a tolerance that is
    not finite, the setting cannot test the claim: the check is returned with ``testable=False``.
    """
    check = Check(
        claim, float(measured), float(expected), float(tolerance), "close", basis,
        None if alternative is None else float(alternative),
    )  # fmt: skip
    if not np.isfinite(check.tolerance):
        return dataclasses.replace(
            check, testable=False, reason="no error estimate at this setting"
        )
    if check.rejects_alternative is False:
        reason = (
            f"the tolerance {check.tolerance:.3g} at this setting cannot tell {check.expected:.3g} "
            f"from the alternative {check.alternative:.3g}"
        )
        return dataclasses.replace(check, testable=False, reason=reason)
    return check


def above(claim, measured, bound, *, margin=0.0, basis) -> Check:
    """A :class:`Check` that ``measured > bound + margin``."""
    return Check(claim, float(measured), float(bound), float(margin), "above", basis)


def below(claim, measured, bound, *, margin=0.0, basis) -> Check:
    """A :class:`Check` that ``measured < bound - margin``."""
    return Check(claim, float(measured), float(bound), float(margin), "below", basis)


def untestable(claim, reason, *, measured=math.nan, expected=math.nan) -> Check:
    """A claim this setting cannot test (recorded with the reason, neither passed nor failed)."""
    return Check(
        claim, float(measured), float(expected), math.nan, "close", "", None, False, reason
    )


def rank_trend(claim, x, y, *, increasing: bool, level: float = 0.01) -> Check:
    """A one-sided test that ``y`` grows (or shrinks) with ``x``: the Spearman correlation must pass the
    critical value of no association at ``level``.

    The critical value is ``z_(1-level) / sqrt(n - 1)`` (n finite pairs) from eight pairs on; below that, a
    perfect ordering (probability ``1/n!`` under no association) is required, which is significant at
    ``level`` only from ``n!  >= 1/level``; fewer pairs cannot test the claim.
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    n = int((np.isfinite(x) & np.isfinite(y)).sum())
    rho = spearman(x, y)
    sign = 1.0 if increasing else -1.0
    if math.factorial(max(n, 0)) < 1 / level:
        return untestable(
            claim, f"{n} points cannot show a trend at the {level:.0%} level", measured=rho
        )
    if n >= 8:
        critical = normal_quantile(1 - level) / math.sqrt(n - 1)
        basis = f"one-sided {level:.0%} critical value over {n} points"
    else:
        critical = 1.0 - 1e-12
        basis = f"perfect ordering of {n} points (p = 1/{n}!)"
    check = above if increasing else below
    return check(claim, rho, sign * critical, basis=basis)


def monotone(claim, x, y, *, increasing: bool) -> Check:
    """A :class:`Check` that a deterministic ``y`` (a theory solve, no sampling noise) is strictly monotone in
    ``x``: the measured value is the fraction of consecutive pairs (sorted by ``x``) in the claimed order."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    steps = np.diff(y[np.argsort(x)])
    ordered = float(np.mean(steps > 0 if increasing else steps < 0)) if steps.size else math.nan
    return close(claim, ordered, 1.0, 0.0, basis="deterministic: every consecutive pair in order")


def checks(result) -> list[Check]:
    """The checks of ``result``'s experiment (its module's ``checks(result)``; none if it defines none)."""
    from lazyrich.sims._experiment import get_experiment

    module = get_experiment(result.experiment)
    fn = getattr(module, "checks", None)
    return list(fn(result)) if fn is not None else []


def verdict(items: Sequence[Check]) -> str:
    """One line: ``"checks: 3/3 pass"``, ``"checks: 2/3 pass (1 FAIL)"``, plus untested claims if any."""
    tested = [c for c in items if c.testable]
    passed = sum(bool(c.passed) for c in tested)
    text = f"checks: {passed}/{len(tested)} pass"
    if passed < len(tested):
        text += f" ({len(tested) - passed} FAIL)"
    untested = len(items) - len(tested)
    if untested:
        text += f", {untested} not testable here"
    return text
