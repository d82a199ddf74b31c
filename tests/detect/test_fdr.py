"""Benjamini-Hochberg, against SciPy's, and with untested pairs counted in m."""

from __future__ import annotations

import numpy as np
from scipy import stats

from trollscope.detect.fdr import benjamini_hochberg


def test_benjamini_hochberg_against_scipy() -> None:
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-4, size=20)])
    assert np.allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))


def test_tests_with_p_one_that_were_not_listed_count_in_m() -> None:
    p = np.array([1e-4, 0.02])
    with_more = benjamini_hochberg(p, total=100)
    padded = stats.false_discovery_control(np.concatenate([p, np.ones(98)]), method="bh")
    assert np.allclose(with_more, padded[:2])
