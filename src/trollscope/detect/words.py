"""How detection says its numbers in words: p-values and the null's period. Shared by the
evidence lines and the report, so both say them alike."""

from __future__ import annotations

import math

# -log10 p beyond this is shown as "p < 1e-300": p underflows there and the order no
# longer means anything (the account score is capped at it too).
SCORE_CAP = 300.0


def format_p(log_p: float) -> str:
    """'p < 1e-300', 'p = 3.2e-12', 'p = 0.004' from a natural-log p-value."""
    log10 = log_p / math.log(10.0)
    if log10 < -SCORE_CAP:
        return f"p < 1e-{int(SCORE_CAP)}"
    p = math.exp(log_p)
    return f"p = {p:.2g}"


def period_words(period_s: float) -> str:
    """'6-hour period', '30-minute period', '90-second period': the null's period."""
    for unit, size in (("hour", 3600.0), ("minute", 60.0)):
        if period_s >= size and period_s % size == 0:
            return f"{period_s / size:g}-{unit} period"
    return f"{period_s:g}-second period"
