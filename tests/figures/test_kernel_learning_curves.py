"""kernel-learning-curves: the measured learning-curve exponents equal the spectral theory's."""

import dataclasses

import jax
import numpy as np
import pytest

from lazyrich import theory
from lazyrich.sims.experiments import kernel_learning_curves as exp


def test_learning_curve_theory_closed_form():
    # One eigenvalue-free check: with eta_k = k^-2 and v_k^2 = eta_k (a target drawn from the kernel's
    # own GP), the ridgeless theory decays like n^-(2 - 1) = n^-1 (Bordelon et al. 2020, Sec. 4).
    k = np.arange(1, 200_001)
    eta = k**-2.0
    e = theory.learning_curve(eta, np.sqrt(eta), np.array([100, 1000, 10000]))
    slope = theory.power_law_exponent([100, 1000, 10000], e)
    assert slope == pytest.approx(-1.0, abs=0.02)
    with pytest.raises(ValueError, match="`num_train` must be in"):
        theory.learning_curve(eta[:10], np.sqrt(eta[:10]), 10)


def test_reduced_learning_curves_follow_the_spectral_theory():
    # Reduced size: n from 4 to 128 (1.5 decades), 3 seeds, M = 1024 = 8 x 128 for the spectrum.
    config = dataclasses.replace(
        exp.default_config(quick=True),
        num_train=(4, 8, 16, 32, 64, 128),
        num_seeds=3,
        num_test=300,
        spectrum_size=1024,
    )
    result = exp.run(config, key=jax.random.key(0))
    s = result.summary
    assert s["largest_n"] == 128
    for g in ("nngp", "ntk"):
        # The errors decay as a power law with the predicted exponent (around -1.6 to -1.8 here:
        # a wrong law such as n^-1 would be off by > 0.5).
        assert s["exponent_theory"][g] < -1.2
        tol = 3 * s["exponent_fit_se"][g] + exp.SLOPE_ALLOWANCE
        assert abs(s["exponent_fit"][g] - s["exponent_theory"][g]) <= tol, s
        assert s["mean_ratio"][g] <= exp.RATIO_ALLOWANCE, s
    assert all(c["passed"] for c in s["checks"])


def test_config_errors():
    with pytest.raises(ValueError, match="`data` must be one of"):
        exp.Config(data="imagenet")
    with pytest.raises(ValueError, match="`spectrum_size` must be at least 8 x"):
        exp.Config(num_train=(8, 16, 32), spectrum_size=128)
    with pytest.raises(ValueError, match="`data_dir`"):
        exp.Config(data="mnist")
