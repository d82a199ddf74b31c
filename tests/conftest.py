"""Shared test fixtures: temporary cases, the repository's paths and the shared real data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from trollscope.case import SAFE_OPTIMIZERS

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
# Synthetic posts are timed in seconds after T0 (2021-01-01 00:00 UTC, a whole day, so
# periods of an hour, six hours or a day fall as they would from 0): a record's time
# must lie after 2004 (model.py), so POSIX seconds near 0 are refused.
T0 = 1_609_459_200
# Real third-party data lives beside the repository (../shared/data); CI has it, a user's
# clone may not: tests that need it skip with a visible reason.
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture
def case_path(tmp_path: Path) -> Path:
    return tmp_path / "case.duckdb"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared real data is not at {SHARED} (only CI and developers have it)")
    return SHARED


def query(case: Path, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    """Run SQL against a case file read-only (a real DuckDB file, as users get it)."""
    con = duckdb.connect(str(case), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(SAFE_OPTIMIZERS)  # as the docs tell users to (docs/traces.md)
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def table_counts(case: Path) -> dict[str, int]:
    return {
        name: int(query(case, f"SELECT count(*) FROM {name}")[0][0])  # type: ignore[call-overload]
        for name in ("posts", "accounts", "rejects", "sources")
    }


def texts(case: Path) -> dict[str, str]:
    """post_id -> text, for exact text round-trip checks."""
    return {str(r[0]): str(r[1]) for r in query(case, "SELECT post_id, text FROM posts")}


def posts(case: Path) -> dict[str, tuple[object, ...]]:
    """post_id -> the rest of its row, for the JSON readers' tests (reddit, tiktok, youtube)."""
    rows = query(
        case,
        "SELECT post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, "
        "hashtags, mentions, urls, extra FROM posts",
    )
    return {str(r[0]): r[1:] for r in rows}


def counts(result_file: object) -> tuple[int, int, int, int]:
    """(read, stored, duplicate, rejected) of one file's ingest result."""
    f = result_file
    return (f.read, f.stored, f.duplicate, f.rejected)  # type: ignore[attr-defined]
