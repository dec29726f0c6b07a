"""The shared fits and statistics of `lazyrich.sims._analysis`, and the `Check` record."""

import math

import numpy as np
import pytest
from scipy import stats

from lazyrich import sims
from lazyrich.sims import _analysis as an


def test_loglog_fit_matches_linregress_and_skips_bad_points():
    rng = np.random.default_rng(0)
    x = np.geomspace(1, 1000, 12)
    y = 3.0 * x**-0.5 * np.exp(0.05 * rng.normal(size=x.size))
    ref = stats.linregress(np.log(x), np.log(y))
    fit = an.loglog_fit(np.append(x, [0.0, 5.0]), np.append(y, [1.0, np.nan]))
    assert fit.num_points == 12
    np.testing.assert_allclose(
        [fit.slope, fit.intercept, fit.stderr], [ref.slope, ref.intercept, ref.stderr], rtol=1e-12
    )
    masked = an.loglog_fit(x, y, where=x >= 10)
    assert masked.num_points == int((x >= 10).sum())
    assert math.isnan(an.loglog_fit([1, 2], [1, 2]).stderr)
    assert math.isnan(an.loglog_fit([2, 2, 2], [1, 2, 3]).slope)


def test_spearman_crossings_and_bootstrap():
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    y = np.array([1.0, 4.0, 2.0, 8.0, 1.0])
    assert an.spearman(x, y) == pytest.approx(stats.spearmanr(x[:4], y[:4]).statistic)
    assert math.isnan(an.spearman([1, 2, 3], [1, 1, 1]))
    assert an.first_crossing([0, 10, 20], [1.0, 0.5, 0.05], 0.1) == 20.0
    assert math.isnan(an.first_crossing([0, 10], [1.0, 0.5], 0.1))
    # y = x^2 crosses 4 at x = 2 exactly under log interpolation; a curve starting above has no crossing.
    assert an.log_crossing([1.0, 4.0], [1.0, 16.0], 4.0) == pytest.approx(2.0)
    assert math.isnan(an.log_crossing([1.0, 4.0], [5.0, 16.0], 4.0))
    samples = np.random.default_rng(1).normal(size=400)
    reps = an.bootstrap(np.mean, samples, num=300)
    # The bootstrap SE of a mean of n unit normals is about 1/sqrt(n) (300 replicates: +-10 %).
    assert reps.std() == pytest.approx(1 / np.sqrt(400), rel=0.2)
    with pytest.raises(ValueError, match="samples"):
        an.bootstrap(np.mean, [1.0])


def test_check_relations_alternative_and_verdict():
    ok = an.close("slope -1/2", -0.48, -0.5, 0.05, basis="3 SE", alternative=-0.25)
    assert ok.passed and ok.rejects_alternative
    # A tolerance that accepts the wrong law cannot test the claim: the check says so instead of passing.
    loose = an.close("slope -1/2", -0.48, -0.5, 0.3, basis="too wide", alternative=-0.25)
    assert loose.passed is None and loose.rejects_alternative is False and "-0.25" in loose.reason
    assert an.close("x", 1.0, 1.0, math.nan, basis="").passed is None
    assert an.above("gap", 3.0, 1.0, margin=1.5, basis="2 SE").passed
    assert not an.above("gap", 2.0, 1.0, margin=1.5, basis="2 SE").passed
    assert an.below("error", 0.1, 0.5, basis="").passed
    assert not an.close("nan", math.nan, 1.0, 1.0, basis="").passed
    skip = an.untestable("t* ~ T", "one temperature")
    assert skip.passed is None and skip.as_dict()["reason"] == "one temperature"
    assert an.verdict([ok, skip]) == "checks: 1/1 pass, 1 not testable here"
    bad = an.close("x", 2.0, 1.0, 0.1, basis="")
    assert an.verdict([ok, bad]) == "checks: 1/2 pass (1 FAIL)"
    record = ok.as_dict()
    assert record["passed"] is True and record["rejects_alternative"] is True
    assert sims.Check is an.Check
