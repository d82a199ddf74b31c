"""Docs cannot drift: every format, trace and signal is documented, and the module map of
docs/architecture.md is the tree."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from trollscope.ingest.readers import READERS
from trollscope.ingest.readers.base import Reader
from trollscope.traces import TRACES


@pytest.mark.parametrize("cls", list(READERS.values()), ids=lambda c: c.name)
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
    from trollscope.signals import SIGNALS

    signals = (REPO / "docs" / "signals.md").read_text(encoding="utf-8")
    headings = {line.split(":")[0][3:] for line in signals.splitlines() if line.startswith("## ")}
    assert set(SIGNALS) <= headings, set(SIGNALS) - headings


def test_the_module_map_matches_the_tree() -> None:
    """docs/architecture.md lists every module of the package, and nothing else."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1].split("\nOutside the package", 1)[0]
    listed = set(re.findall(r"`([\w/]+\.py)`", section))
    package = REPO / "src" / "trollscope"
    tree = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    assert listed - tree == set(), f"listed but not in the tree: {sorted(listed - tree)}"
    assert tree - listed == set(), f"in the tree but not listed: {sorted(tree - listed)}"
