"""Tail probabilities stay numbers far in the tail (scipy's logsf gave -inf there, and
-inf reached cohort_tests.log_p and the networks' p-values: 23 cohort tests and two
networks of the demo's simulated case)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from trollscope.detect.tails import binom_log_sf, fisher_log_p, poisson_log_sf


@pytest.mark.parametrize("log_p", [[-2.0, -3.0, -1.0], [-0.5], [-10.0] * 7, [-40.0, -0.1]])
def test_fisher_is_the_chi_square_tail_where_scipy_holds(log_p: list[float]) -> None:
    want = float(stats.chi2.logsf(-2.0 * sum(log_p), 2 * len(log_p)))
    assert math.isclose(fisher_log_p(log_p), want, rel_tol=1e-12, abs_tol=1e-12)


def test_fisher_far_in_the_tail() -> None:
    # Two tests at ln p = -1000: P = exp(-2000) (1 + 2000), written out.
    assert stats.chi2.logsf(4000.0, 4) == -math.inf  # what happened before
    assert math.isclose(fisher_log_p([-1000.0, -1000.0]), -2000 + math.log(2001), rel_tol=1e-12)
    assert fisher_log_p([]) == 0.0 and fisher_log_p([0.0, 0.0]) == 0.0


def test_binomial_far_in_the_tail() -> None:
    # All 1,000 of 1,000 in the window at q = 0.017: P = q^1000, written out.
    assert stats.binom.logsf(999, 1000, 0.017) == -math.inf
    got = binom_log_sf(np.array([1000.0]), np.array([1000.0]), 0.017)[0]
    assert math.isclose(got, 1000 * math.log(0.017), rel_tol=1e-9)
    near = binom_log_sf(np.array([3.0]), np.array([10.0]), 0.1)[0]
    assert math.isclose(near, float(stats.binom.logsf(2, 10, 0.1)), rel_tol=1e-12)


def test_poisson_far_in_the_tail() -> None:
    got = poisson_log_sf(np.array([50.0, 3.0]), np.array([1e-10, 0.5]))
    assert math.isclose(got[0], 50 * math.log(1e-10) - 1e-10 - math.lgamma(51), rel_tol=1e-9)
    assert math.isclose(got[1], float(stats.poisson.logsf(2, 0.5)), rel_tol=1e-12)
