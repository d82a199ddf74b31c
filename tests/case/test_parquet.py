"""A case that lives in Parquet holds what a DuckDB case holds, counts alike, changes all
or nothing, converts both ways, and every command reads it (case/parquet.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.conftest import DATA
from trollscope import api
from trollscope.case import Case
from trollscope.case.schema import CANONICAL
from trollscope.cli import cli
from trollscope.errors import CaseError, FormatError
from trollscope.serve import create_app
from trollscope.simulate import SimulationConfig

FILES = [DATA / "twarc2" / "search_pages.jsonl", DATA / "ira" / "IRAhandle_tweets_sample.csv"]
MAP = "post_id=id,account_id=user,created_at=ts,text=text,platform=platform,bio=bio"
WEIRD = "we/ird=x %é"  # a platform whose partition folder needs escaping
# Every column but the ones that say when and where ingest ran.
_SKIP = {"sources": "* EXCLUDE (ingested_at, path)", "rejects": "* EXCLUDE (file)"}


def rows(case: Path | str, table: str) -> list[tuple[object, ...]]:
    with Case.open(case, read_only=True) as opened:
        cols = _SKIP.get(table, "*")
        return sorted(opened.con.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)


def tables(case: Path | str) -> dict[str, list[tuple[object, ...]]]:
    return {t: rows(case, t) for t in CANONICAL}


def on_disk(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def accounting(result: api.IngestResult) -> list[tuple[int, ...]]:
    return [
        (f.read, f.stored, f.duplicate, f.rejected, f.accounts_new, f.source_id)
        for f in result.files
    ]


def _table(path: Path, *lines: str) -> Path:
    path.write_text("id,user,ts,text,platform,bio\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_stores_what_a_duckdb_case_stores(tmp_path: Path) -> None:
    duck, folder = tmp_path / "case.duckdb", tmp_path / "pq"
    a = api.ingest(duck, FILES)
    b = api.ingest(f"{folder}/", FILES)
    assert accounting(b) == accounting(a)
    assert sum(f.rejected for f in b.files) > 0  # the IRA sample has rejects to carry
    assert tables(folder) == tables(duck)
    # The views have the tables' columns and types (not their keys and NOT NULLs): no
    # `day`, platform a string.
    with Case.open(duck, read_only=True) as d, Case.open(folder, read_only=True) as p:
        assert p.parquet_root == folder.resolve() and d.parquet_root is None
        for table in CANONICAL:
            shape = f"SELECT column_name, column_type FROM (DESCRIBE {table})"
            assert p.con.execute(shape).fetchall() == d.con.execute(shape).fetchall()
    files = on_disk(folder)
    assert "case.duckdb" in files
    assert any(f.startswith("posts/platform=twitter/day=2017-10-01/") for f in files)
    assert any(f.startswith("accounts/platform=twitter/") for f in files)
    assert any(f.startswith("rejects/") for f in files) and any(
        f.startswith("sources/") for f in files
    )


def test_reingest_counts_duplicates_and_stores_nothing_twice(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    first = api.ingest(f"{folder}/", FILES)
    before, stored = on_disk(folder), tables(folder)
    again = api.ingest(folder, FILES)  # an existing folder is the case it holds
    for one, two in zip(first.files, again.files, strict=True):
        assert (two.read, two.stored, two.rejected) == (one.read, 0, one.rejected)
        assert two.duplicate == one.stored + one.duplicate
        assert two.read == two.stored + two.duplicate + two.rejected
    assert {t: v for t, v in tables(folder).items() if t != "sources"} == {
        t: v for t, v in stored.items() if t != "sources"
    }
    # Only the new sources rows were written: no post, account or reject file is new.
    new = set(on_disk(folder)) - set(before)
    assert new and all(f.startswith("sources/") for f in new)


def test_accounts_filled_in_later_rewrite_their_platform_only(tmp_path: Path) -> None:
    duck, folder = tmp_path / "case.duckdb", tmp_path / "pq"
    options = api.read_options(mapping=MAP)
    one = _table(
        tmp_path / "one.csv",
        "1,u1,2021-06-01T12:00:00Z,hi,forum,",
        f"2,u2,2021-06-01T13:00:00Z,hey,{WEIRD},",
        "3,u3,2021-06-02T00:00:00Z,yo,other,kept",
    )
    two = _table(
        tmp_path / "two.csv",
        "4,u1,2021-06-03T12:00:00Z,again,forum,a bio at last",
        f"5,u9,2021-06-03T13:00:00Z,new,{WEIRD},",
        "1,u1,2021-06-01T12:00:00Z,hi,forum,",
    )
    for new in (str(duck), f"{folder}/"):
        api.ingest(new, [one], options=options)
    other = [f for f in on_disk(folder) if f.startswith("accounts/platform=other/")]
    for case in (duck, folder):
        api.ingest(case, [two], options=options)
    assert tables(folder) == tables(duck)
    assert ("forum", "u1", None, None, "a bio at last") in [r[:5] for r in rows(folder, "accounts")]
    assert {r[0] for r in rows(folder, "posts")} == {"forum", "other", WEIRD}
    # The untouched platform kept its file; the others' old files are gone.
    accounts = [f for f in on_disk(folder) if f.startswith("accounts/")]
    assert [f for f in accounts if "platform=other/" in f] == other
    assert len(accounts) == 3


def test_a_failed_ingest_leaves_the_case_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    api.ingest(f"{folder}/", FILES[:1])
    before, stored = on_disk(folder), tables(folder)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(FormatError):
        api.ingest(folder, [FILES[1], empty])  # the second file fails after the first
    assert on_disk(folder) == before  # nothing staged or placed is left
    assert tables(folder) == stored

    def interrupt(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.ingest(folder, FILES[1:], progress=interrupt)
    assert on_disk(folder) == before
    # A new case that fails leaves no folder at all.
    with pytest.raises(FormatError):
        api.ingest(f"{tmp_path / 'new'}/", [empty])
    assert not (tmp_path / "new").exists()


def test_files_no_commit_listed_are_invisible_and_swept(tmp_path: Path) -> None:
    """What a killed ingest leaves (files placed, the commit never made) is not read, and
    the next write removes it."""
    folder = tmp_path / "pq"
    api.ingest(f"{folder}/", FILES[:1])
    stored = tables(folder)
    placed = next(folder.glob("posts/platform=twitter/day=*/*.parquet"))
    orphan = placed.with_name("part-orphan.parquet")
    orphan.write_bytes(placed.read_bytes())
    (folder / ".staging-killed" / "posts").mkdir(parents=True)
    assert tables(folder) == stored
    api.ingest(folder, FILES[:1])
    assert not orphan.exists() and not (folder / ".staging-killed").exists()
    assert rows(folder, "posts") == stored["posts"]


def test_opening_a_parquet_case(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    api.ingest(f"{folder}/", FILES[:1])
    # Read-only, through a cursor (detection's threads use them), after a move.
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    with Case.open(moved, read_only=True) as case:
        assert case.con.cursor().execute("SELECT count(*) FROM posts").fetchall() == [(7,)]
    with pytest.raises(CaseError, match="inside of a Parquet case: give its folder"):
        Case.open(moved / "case.duckdb")
    # The dashboard serves it too (tests/serve: the same pages as from a DuckDB case).
    create_app(moved)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x", encoding="utf-8")
    with pytest.raises(CaseError, match="a folder but not a trollscope case"):
        Case.open(tmp_path / "other", create=True)
    # An empty folder becomes a case.
    (tmp_path / "empty").mkdir()
    api.ingest(tmp_path / "empty", FILES[:1])
    assert rows(tmp_path / "empty", "posts") == rows(moved, "posts")


def _every_table(case: Path) -> dict[str, list[str]]:
    with Case.open(case, read_only=True) as opened:
        con = opened.con
        names = [
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_name NOT IN ('parquet_files')"
            ).fetchall()
        ]
        # Lists of structs do not sort; their text does. The layout mark is the one row
        # that says which kind a case is.
        where = {"meta": " WHERE key <> 'layout'"}
        return {
            n: sorted(map(repr, con.execute(f"SELECT * FROM {n}{where.get(n, '')}").fetchall()))
            for n in names
        }


def test_simulate_ingest_detect_report_and_convert_both_ways(tmp_path: Path) -> None:
    api.simulate(SimulationConfig(posts=5000, days=3), tmp_path / "sim", formats=["twarc2"])
    data = str(tmp_path / "sim" / "twarc2.jsonl")
    duck, folder = tmp_path / "case.duckdb", tmp_path / "pq"
    traces = ["--trace", "co-repost", "--trace", "co-text", "--hide-progress"]

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    for case in (str(duck), f"{folder}/"):
        run("ingest", data, "--into", case, "--hide-progress")
        run("detect", case, *traces)
    run("report", str(folder), "-o", str(tmp_path / "report.html"), "--hide-progress")
    assert (tmp_path / "report.html").stat().st_size > 0
    networks = rows(duck, "networks")
    assert networks and rows(folder, "networks") == networks
    assert "posts" in run("info", str(folder))

    # Convert both ways: every table, derived ones included, the same.
    run("case", "convert", str(duck), str(tmp_path / "converted"))
    run("case", "convert", str(tmp_path / "converted"), str(tmp_path / "back.duckdb"))
    original = _every_table(duck)
    assert {"networks", "pair_tests", "edges_whole", "account_signals"} <= set(original)
    assert _every_table(tmp_path / "converted") == original
    assert _every_table(tmp_path / "back.duckdb") == original
    with duckdb.connect(str(tmp_path / "back.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM meta WHERE key = 'layout'").fetchall() == [(0,)]
    run("case", "convert", str(folder), str(tmp_path / "pq.duckdb"))
    assert _every_table(tmp_path / "pq.duckdb") == _every_table(folder)

    refused = CliRunner().invoke(cli, ["case", "convert", str(duck), str(folder)])
    assert refused.exit_code == 1
    assert "exists: `case convert` never overwrites" in refused.output
