"""The case file: created with its schema, versioned, and refusing what it cannot read."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import query
from trollscope.case import Case
from trollscope.case.schema import SCHEMA_VERSION
from trollscope.errors import CaseError


def test_new_case_has_schema_and_version(case_path: Path) -> None:
    Case.open(case_path, create=True).close()
    tables = {r[0] for r in query(case_path, "SELECT table_name FROM information_schema.tables")}
    assert {"meta", "posts", "accounts", "rejects", "sources"} <= tables
    assert query(case_path, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    columns = query(
        case_path,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'posts' ORDER BY ordinal_position",
    )
    assert ("created_at", "TIMESTAMP") in columns
    assert ("hashtags", "VARCHAR[]") in columns


def test_other_schema_version_is_a_clear_error(case_path: Path) -> None:
    Case.open(case_path, create=True).close()
    con = duckdb.connect(str(case_path))
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(CaseError) as info:
        Case.open(case_path)
    assert "case schema version 999, but this trollscope" in str(info.value)
    assert f"reads version {SCHEMA_VERSION}" in str(info.value)
    assert "Re-ingest the source files into a new case" in str(info.value)


def test_duckdb_file_that_is_not_a_case(case_path: Path) -> None:
    con = duckdb.connect(str(case_path))
    con.execute("CREATE TABLE t (x INT)")
    con.close()
    with pytest.raises(CaseError, match="a DuckDB file but not a trollscope case"):
        Case.open(case_path)


def test_file_that_is_not_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(CaseError, match=r"notes.duckdb is not a trollscope case \(not a DuckDB"):
        Case.open(path)


def test_missing_case(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="no such case file"):
        Case.open(tmp_path / "nope.duckdb")


def test_connections_are_utc_and_draw_no_progress_bar(case_path: Path) -> None:
    """Library code never prints: DuckDB's own progress bar (drawn on a terminal during
    long queries) is off on every connection to a case, new or opened."""
    setting = "SELECT current_setting('TimeZone'), current_setting('enable_progress_bar')"
    with Case.open(case_path, create=True) as case:
        assert case.con.execute(setting).fetchall() == [("UTC", False)]
    with Case.open(case_path, read_only=True) as case:
        assert case.con.execute(setting).fetchall() == [("UTC", False)]
