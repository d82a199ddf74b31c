"""Docs cannot drift: every format has its section and its row in the README."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from trollscope.readers import READERS
from trollscope.readers.base import Reader
from trollscope.traces import TRACES


@pytest.mark.parametrize("cls", READERS, ids=lambda c: c.name)
def test_format_is_documented(cls: type[Reader]) -> None:
    formats = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"`{cls.name}`" in formats.split("## ", 1)[1], f"docs/formats.md lacks {cls.name}"
    assert f"| `{cls.name}`" in readme, f"the README's format table lacks {cls.name}"


@pytest.mark.parametrize("name", list(TRACES))
def test_trace_is_documented(name: str) -> None:
    traces = (REPO / "docs" / "traces.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"| `{name}` |" in traces, f"docs/traces.md's table lacks {name}"
    assert f"`{name}`" in readme, f"the README does not name the trace {name}"


def test_every_signal_is_documented() -> None:
    from trollscope.signals.registry import load

    signals = (REPO / "docs" / "signals.md").read_text(encoding="utf-8")
    headings = {line.split(":")[0][3:] for line in signals.splitlines() if line.startswith("## ")}
    assert set(load()) <= headings, set(load()) - headings
