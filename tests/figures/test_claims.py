"""Every figure's scientific claim at a reduced size, through the experiment's own `checks`.

Each case runs the figure's experiment at a setting small enough for the default suite but large enough
that its checks can test the claim: the tolerances come from the checks (standard errors over the seeds,
Bonferroni bounds, rank-test critical values, derived from the setting), every check the setting can test
must pass, the claims named here must be among the testable ones, and a check with a wrong-law alternative
is only testable when its tolerance rejects that alternative (`sims._analysis.close`). The figure is then
drawn from the same result, with its verdict, and must be readable (`readability.text_problems`).
"""

from __future__ import annotations

import pytest

from lazyrich import figures, sims
from tests.figures.readability import text_problems

# figure -> (overrides of the quick setting, claims (substrings) that must be testable and pass)
CASES = {
    "ntk-convergence": (
        dict(
            widths=(64, 1024),
            fit_widths=(16, 64, 256, 1024),
            num_seeds=8,
            fit_seeds=32,
            num_steps=20,
            num_angles=9,
        ),
        ("spread ~ width^-1/2", "mean NTK at init", "changes the NTK by ~ 1/width"),
    ),
    "ntk-function-bands": (
        dict(widths=(1024,), num_seeds=16, num_angles=21, num_steps=200),
        ("10-90 % band", "seed mean = limiting mean", "network sd"),
    ),
    "alpha-crossover": (
        dict(widths=(64,), num_seeds=3),
        ("NTK change ~ 1/alpha", "linearised predictions ~ 1/alpha"),
    ),
    "dmft-richness": (
        (),
        ("final loss decreases", "alignment increases with gamma0 (full", "tracks the networks"),
    ),
    "dmft-vs-width": (
        dict(deep_depth=0, num_repeats=3),
        ("final NTK error ~ N^-1/2 (two-layer", "DMFT = static NTK"),
    ),
    "grokking": (
        (),
        ("grokking delay", "kernel-regression", "weight norm grows", "alignment grows"),
    ),
    "grokking-phase": ((), ("grokking time grows with alpha",)),
    # FC kernels and network only (cheap); tests/figures/test_kernel_architectures.py runs CNN-GAP too.
    "kernel-architectures": (dict(archs=("fc",)), ("beats chance",)),
    "kernel-learning-curves": (
        dict(num_train=(4, 8, 16, 32, 64, 128), num_seeds=3, num_test=300, spectrum_size=1024),
        ("nngp: learning-curve exponent", "ntk: learning-curve exponent"),
    ),
    "lowrank-theory": (
        dict(num_teachers=48),
        ("readout NTK alignment = Theorem 1", "full NTK alignment", "participation ratio"),
    ),
    "random-walk-diffusion": (
        # Roughness values that are not in the default grid (the temperature rule is tested there).
        dict(alpha=(0.75, 1.25), num_walkers=32, mlp=False),
        ("alpha = 0.75", "alpha = 1.25"),
    ),
    "perceptron-scaling": (
        dict(chi=(0.0,), num_train=(128, 256, 512), num_seeds=6),
        ("||w|| ~ T", "t* ~ T", "w1/||w_perp||"),
    ),
    "sgd-phase-diagram": (
        dict(
            alphas=(2.0**-4, 2.0**-1, 2.0**2, 2.0**5, 2.0**8),
            num_train=128,
        ),
        ("falls with alpha", "feature regime", "lazy regime", "grows with T"),
    ),
    "sgd-temperature-scaling": (
        dict(
            alpha=2.0**14,
            num_trains=(64, 128, 256),
            temperatures=(2.0**-10, 2.0**-8.5, 2.0**-7, 2.0**-5.5),
            num_bootstrap=50,
        ),
        ("||dw||/||w0|| ~ T", "t* ~ T"),
    ),
}

SLOW_CASES = {
    "large-batch-gap": ((), ("worse than small batch", "+ra recovers")),
    "lowrank-rnn": ((), ("tangent-kernel alignment grows", "representation alignment grows")),
}


def _run_and_check(name, overrides, claims, tmp_path):
    plan = figures.prepare(name, quick=True, overrides=dict(overrides))
    result = sims.run(plan.figure.EXPERIMENT, plan.config, seed=0)
    checks = sims.checks(result)
    report = "\n".join(f"{c.claim}: {c.as_dict()}" for c in checks)
    tested = [c for c in checks if c.testable]
    for claim in claims:
        assert any(claim in c.claim for c in tested), f"{claim!r} not tested:\n{report}"
    failed = [c for c in tested if not c.passed and c.claim != _KNOWN_FAILURES.get(name)]
    assert not failed, report
    paths = figures.make(plan, tmp_path, progress=False, result=result)
    assert paths["png"].stat().st_size > 0
    return result, checks


# The paper claims this library does not reproduce (recorded in docs/checks.md): their checks stay honest
# and fail; the tests do not hide them but do not require them.
_KNOWN_FAILURES = {"lowrank-rnn": "weight change shrinks with rank (mean Spearman)"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_claim_at_reduced_size(name, tmp_path):
    overrides, claims = CASES[name]
    result, checks = _run_and_check(name, overrides, claims, tmp_path)
    import matplotlib.pyplot as plt

    from lazyrich.figures import _style

    with plt.style.context(_style.STYLE):
        fig = figures.get_figure(name).plot(result)
        _style.add_verdict(fig, checks)
    problems = text_problems(fig)
    plt.close(fig)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_CASES))
def test_figure_claim_at_quick_size_slow(name, tmp_path):
    overrides, claims = SLOW_CASES[name]
    _run_and_check(name, overrides, claims, tmp_path)


def test_every_figure_has_a_claim_test():
    assert set(CASES) | set(SLOW_CASES) == set(figures.figure_registry())
