"""The registry of account signals: every signal module's `SIGNAL`, by name, in `SIGNALS`.

To add a signal: a module with a `compute(con, params)` and a `SIGNAL = Signal(...)`,
imported and listed here; the contract tests (tests/signals) run on it for free.
"""

from __future__ import annotations

from trollscope.registry import Registry
from trollscope.signals import avatar, content, creation, profile, rhythm
from trollscope.signals.base import Signal

SIGNALS: Registry[Signal] = Registry(
    "signal",
    (module.SIGNAL for module in (avatar, creation, rhythm, profile, content)),
)
