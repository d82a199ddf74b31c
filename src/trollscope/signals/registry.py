"""The signal registry: every signal module's `SIGNAL`, by name, in `SIGNALS`.

Kept apart from `signals/__init__.py` so that a signal module can import the package's
types without a cycle. Add a new signal's module name to `MODULES`.
"""

from __future__ import annotations

import importlib

from trollscope.signals import SIGNALS, Signal

MODULES: tuple[str, ...] = ("avatar", "creation", "rhythm", "profile", "content")


def load() -> dict[str, Signal]:
    """Import every signal module (once) and return the registry."""
    for module in MODULES:
        signal: Signal = importlib.import_module(f"trollscope.signals.{module}").SIGNAL
        SIGNALS.setdefault(signal.name, signal)
    return SIGNALS
