"""False discovery rate control: Benjamini-Hochberg over every test detect runs."""

from __future__ import annotations

import numpy as np


def benjamini_hochberg(pvalues: np.ndarray, total: int | None = None) -> np.ndarray:
    """BH-adjusted q-values (step-up, monotone), in the input order. `total`: the number
    of tests when more were run than given (the others had p = 1, ranked last)."""
    n = len(pvalues)
    if n == 0:
        return np.array([], dtype=np.float64)
    m = max(n, total or 0)
    order = np.argsort(pvalues)
    ranked = pvalues[order] * m / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n, dtype=np.float64)
    q[order] = np.minimum(adjusted, 1.0)
    return q
