"""Account signals: the troll-farm fingerprint beyond co-actions.

A signal looks at accounts one by one (an office-hours rhythm, a handle like
`name84736251`, a burst of creations on one day) and gives each account a value with
evidence in words. Pairwise account signals (a shared bio template, a reused avatar) are
traces instead (`traces/`, window 0: "same key, any time"), so that the engine's edges,
IDF and later significance apply to them alike.

One registry, `SIGNALS` (registry.py), feeds the CLI (`trollscope signals`), docs/signals.md
and tests. Each signal is a module of this package with a `compute(con, params)` that
reads the case (`posts`, `accounts`) through its DuckDB connection and returns a
`SignalResult` (base.py).
`run.py` stores the results in the case, all in one transaction:

- `account_signals (signal, platform, account_id, value, flagged, p_value, evidence)`:
  one row per account the signal scored. `value` is the signal's own measure (documented
  per signal), `flagged` whether it passes the signal's test at the given alpha, `p_value`
  where the signal has a test, `evidence` a short sentence a reader can check.
- signal-specific tables (e.g. `creation_bursts`, `creation_histogram`), named by the
  signal, replaced on each run.
"""

from trollscope.signals.base import Signal, SignalParams, SignalResult
from trollscope.signals.registry import SIGNALS

__all__ = ["SIGNALS", "Signal", "SignalParams", "SignalResult"]
