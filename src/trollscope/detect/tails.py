"""Tail probabilities in logs that stay numbers far in the tail.

scipy's `logsf` underflows to -inf where the tail is below about 1e-308 (a farm of a
hundred accounts in one burst, a cohort significant in fifty periods), and -inf then
reached the tests' tables, the network p-values and the evidence ("p = 0"). Here the
deep tail falls back to the point probability, computed in logs (its ratio to the tail
is within a few percent there), and Fisher's combination is the exact closed form of
the chi-square tail with even degrees of freedom.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats


def poisson_log_sf(at_least: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """ln P(X >= k) for X ~ Poisson(mean), k = `at_least`."""
    k = np.asarray(at_least, dtype=np.float64)
    e = np.asarray(mean, dtype=np.float64)
    tail = stats.poisson.logsf(k - 1, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        point = k * np.log(e) - e - special.gammaln(k + 1)  # ln P(X = k)
    result: np.ndarray = np.where(np.isfinite(tail), tail, point)
    return result


def binom_log_sf(at_least: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """ln P(X >= k) for X ~ Binomial(n, q), k = `at_least`."""
    k = np.asarray(at_least, dtype=np.float64)
    tail = stats.binom.logsf(k - 1, n, q)
    point = stats.binom.logpmf(k, n, q)  # ln P(X = k), computed in logs
    result: np.ndarray = np.where(np.isfinite(tail), tail, point)
    return result


def fisher_log_p(log_p: list[float]) -> float:
    """ln p of Fisher's combination of independent ln p-values: with S = -sum ln p_i
    over m tests, P(chi2(2m) >= 2S) = exp(-S) sum_{i < m} S^i / i!, summed in logs."""
    s = -float(np.sum(np.sort(np.asarray(log_p, dtype=np.float64))))
    if not log_p or s <= 0.0:
        return 0.0
    i = np.arange(len(log_p), dtype=np.float64)
    return float(min(0.0, -s + special.logsumexp(i * np.log(s) - special.gammaln(i + 1))))
