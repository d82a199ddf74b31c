"""Writes the system refuses (a missing folder, a file where a folder should be, no
permission, a full disk) and a case another process holds: one sentence naming the path
and what to do, exit code 1, nothing half-written. Real bugs still show a traceback.

Root ignores file permissions, so the read-only folder tests skip as root; a path under
a regular file (ENOTDIR) and a missing folder fail for everyone."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.conftest import DATA
from tests.detect.test_detect import detected_farm
from trollscope.cli import cli
from trollscope.errors import (
    CaseBusyError,
    WriteError,
    folder_missing,
    write_error,
    writing,
)
from trollscope.ingest.run import ingest

SHARES = DATA / "table" / "coortweet_shares.csv"
FULL = "the disk is full (ENOSPC); free some space or write to another disk"
as_root = pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions"
)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def _under_file(tmp_path: Path) -> Path:
    """A regular file, under which no path can be written (ENOTDIR, even for root)."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder\n", encoding="utf-8")
    return blocker


def _not_a_folder(target: Path, blocker: Path) -> str:
    return (
        f"Error: cannot write {target}: {blocker} is a file, not a folder; choose another path.\n"
    )


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield folder
    folder.chmod(stat.S_IRWXU)


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small case with a detected farm (as in tests/report), for report and export."""
    return detected_farm(tmp_path_factory.mktemp("detected"))


# -- the library's translation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, FULL),
        (
            errno.EACCES,
            "permission denied; choose a folder you may write to, or change its permissions",
        ),
        (errno.EROFS, "the file system is read-only (EROFS); choose a folder on another one"),
        (errno.EIO, f"{os.strerror(errno.EIO)} (EIO)"),
    ],
)
def test_os_errors_in_words(tmp_path: Path, code: int, reason: str) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(WriteError) as info, writing(target):
        raise OSError(code, os.strerror(code))
    assert str(info.value) == f"cannot write {target}: {reason}."


def test_missing_folder_and_file_in_the_way_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "deeper" / "r.html"
    assert str(folder_missing(missing)) == (
        f"cannot write {missing}: the folder {tmp_path / 'nowhere'} does not exist; "
        "create it or choose another path."
    )
    blocker = _under_file(tmp_path)
    assert str(folder_missing(blocker / "r.html")) == (
        f"cannot write {blocker / 'r.html'}: {blocker} is a file, not a folder; "
        "choose another path."
    )
    assert folder_missing(tmp_path / "r.html") is None


def test_duckdb_reports_in_words(tmp_path: Path) -> None:
    """DuckDB gives the OS error as text only; its words are recognised."""
    blocker = _under_file(tmp_path)
    target = blocker / "x.csv"
    con = duckdb.connect()
    with pytest.raises(WriteError, match="is a file, not a folder"), writing(target):
        con.execute(f"COPY (SELECT 1) TO '{target}' (FORMAT csv)")


def test_other_errors_pass_as_they_are(tmp_path: Path) -> None:
    """A DuckDB error without an OS error in it, or any other error, is a bug to see."""
    with pytest.raises(duckdb.IOException, match="checksum"), writing(tmp_path / "x"):
        raise duckdb.IOException("IO Error: checksum mismatch in block 7")
    with pytest.raises(KeyError), writing(tmp_path / "x"):
        raise KeyError("bug")
    assert write_error(tmp_path / "x", ValueError("bug")) is None


# -- each command ----------------------------------------------------------------------


def test_ingest_into_a_path_under_a_file(tmp_path: Path) -> None:
    blocker = _under_file(tmp_path)
    case = blocker / "x.duckdb"
    assert run("ingest", str(SHARES), "--into", str(case)) == (1, _not_a_folder(case, blocker))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@as_root
def test_ingest_into_a_read_only_folder_leaves_nothing(read_only: Path) -> None:
    case = read_only / "x.duckdb"
    code, err = run("ingest", str(SHARES), "--into", str(case))
    assert (code, err) == (
        1,
        f"Error: cannot write {case}: permission denied; choose a folder "
        "you may write to, or change its permissions.\n",
    )
    assert list(read_only.iterdir()) == []


def test_report_into_a_missing_folder_or_under_a_file(detected: Path, tmp_path: Path) -> None:
    missing = tmp_path / "reports" / "r.html"
    assert run("report", str(detected), "-o", str(missing)) == (
        1,
        f"Error: cannot write {missing}: the folder {missing.parent} does not exist; "
        "create it or choose another path.\n",
    )
    blocker = _under_file(tmp_path)
    out = blocker / "r.html"
    assert run("report", str(detected), "-o", str(out)) == (1, _not_a_folder(out, blocker))


def test_report_on_a_full_disk_leaves_no_file(
    detected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # where a full disk shows when data is flushed
    out = tmp_path / "r.html"
    assert run("report", str(detected), "-o", str(out)) == (
        1,
        f"Error: cannot write {out}: {FULL}.\n",
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "json", "gexf", "parquet"])
def test_export_under_a_file_is_one_error(detected: Path, tmp_path: Path, fmt: str) -> None:
    """One sentence: cleaning up the temporary file that was never made raises nothing."""
    blocker = _under_file(tmp_path)
    out = blocker / f"e.{fmt}"
    assert run("export", str(detected), "--format", fmt, "-o", str(out)) == (
        1,
        _not_a_folder(out, blocker),
    )


@as_root
def test_export_into_a_read_only_folder(detected: Path, read_only: Path) -> None:
    out = read_only / "e.json"
    code, err = run("export", str(detected), "--format", "json", "-o", str(out))
    assert (code, err) == (
        1,
        f"Error: cannot write {out}: permission denied; choose a folder "
        "you may write to, or change its permissions.\n",
    )
    assert list(read_only.iterdir()) == []


def test_export_on_a_full_disk_leaves_no_file(
    detected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trollscope.report import export

    def half_then_full(path: Path, data: bytes) -> None:
        path.write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(export, "_write_bytes", half_then_full)
    out = tmp_path / "e.json"
    assert run("export", str(detected), "--format", "json", "--what", "scores", "-o", str(out)) == (
        1,
        f"Error: cannot write {out}: {FULL}.\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_edges_file_under_a_file(tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    ingest(case, [SHARES])
    blocker = _under_file(tmp_path)
    out = blocker / "edges.csv"
    assert run("edges", str(case), "--trace", "co-repost", "-o", str(out)) == (
        1,
        _not_a_folder(out, blocker),
    )


def test_scan_and_simulate_folders_under_a_file(tmp_path: Path) -> None:
    blocker = _under_file(tmp_path)
    out = blocker / "scan"
    assert run("scan", str(SHARES), "-o", str(out)) == (1, _not_a_folder(out, blocker))
    out = blocker / "sim"
    assert run("simulate", "--out", str(out), "--posts", "1000") == (
        1,
        _not_a_folder(out, blocker),
    )


# -- a case another process holds ------------------------------------------------------


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A case that another process holds open for writing, and that process's pid."""
    case = tmp_path / "case.duckdb"
    ingest(case, [SHARES])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb; con = duckdb.connect(sys.argv[1]); print('open', "
            "flush=True); time.sleep(60)",
            str(case),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        yield case, holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_case_held_by_another_process_is_one_sentence(held: tuple[Path, int]) -> None:
    case, pid = held
    busy = (
        f"Error: {case} is open in another process (PID {pid}): wait for it to finish, "
        "or use another case.\n"
    )
    assert run("ingest", str(SHARES), "--into", str(case)) == (1, busy)
    assert run("info", str(case)) == (1, busy)  # reading it is refused too
    assert run("edges", str(case), "--trace", "co-repost") == (1, busy)
    with pytest.raises(CaseBusyError):
        ingest(case, [SHARES])


# -- creating a case -------------------------------------------------------------------


def test_a_new_case_the_disk_refuses_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trollscope.case import store

    def full(temp: Path, path: Path) -> bool:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store, "_place", full)
    case = tmp_path / "case.duckdb"
    assert run("ingest", str(SHARES), "--into", str(case)) == (
        1,
        f"Error: cannot write {case}: {FULL}.\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_a_case_another_process_created_first_is_opened_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingests into one new case: the one that comes second adds to the first's."""
    from trollscope.case import store

    case = tmp_path / "case.duckdb"
    first = tmp_path / "first.duckdb"
    ingest(first, [SHARES])
    place = store._place

    def beaten(temp: Path, path: Path) -> bool:
        first.rename(path)  # the other process put its case there meanwhile
        return place(temp, path)

    monkeypatch.setattr(store, "_place", beaten)
    result = ingest(case, [DATA / "table" / "coortweet_objects.csv"])
    assert result.total("stored") > 0
    assert [p.name for p in tmp_path.iterdir()] == ["case.duckdb"]  # no temporary file left
    con = duckdb.connect(str(case), read_only=True)
    assert con.execute("SELECT count(*) FROM sources").fetchall() == [(2,)]
    con.close()


def test_a_failed_ingest_on_a_full_disk_keeps_the_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's report of a full disk on the case is one sentence; the case keeps what
    it held (the transaction rolled back), and a failing ROLLBACK hides nothing."""
    from trollscope.ingest import run as ingest_run

    case = tmp_path / "case.duckdb"
    ingest(case, [SHARES])

    def full(*args: object) -> None:
        raise duckdb.IOException(
            f'IO Error: Could not write file "{case}.wal": No space left on device'
        )

    monkeypatch.setattr(ingest_run, "_ingest_file", full)
    assert run("ingest", str(DATA / "table" / "coortweet_objects.csv"), "--into", str(case)) == (
        1,
        f"Error: cannot write {case}: {FULL}.\n",
    )
    con = duckdb.connect(str(case), read_only=True)
    assert con.execute("SELECT count(*) FROM sources").fetchall() == [(1,)]
    con.close()


def test_an_input_file_duckdb_cannot_read_is_not_the_cases_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trollscope.ingest import run as ingest_run

    def unreadable(*args: object) -> None:
        raise duckdb.IOException('IO Error: Cannot open file "in.csv": Permission denied')

    monkeypatch.setattr(ingest_run, "_ingest_file", unreadable)
    with pytest.raises(duckdb.IOException, match=r"in\.csv"):
        ingest(tmp_path / "case.duckdb", [SHARES])
    assert list(tmp_path.iterdir()) == []


def test_a_rollback_that_fails_hides_not_why(tmp_path: Path) -> None:
    """A commit the disk refused ends the transaction: the ROLLBACK that follows fails,
    and the error raised is the commit's, which says why."""
    from trollscope.case import transaction

    class Refusing:
        def execute(self, sql: str) -> None:
            if sql == "COMMIT":
                raise duckdb.TransactionException(
                    f'Failed to commit: Could not write file "{tmp_path}": No space left on device'
                )
            if sql == "ROLLBACK":
                raise duckdb.TransactionException("cannot rollback - no transaction is active")

    refusing = Refusing()
    with (
        pytest.raises(duckdb.TransactionException, match="No space left"),
        transaction(refusing),  # type: ignore[arg-type]
    ):
        pass


def _disk_full(case: Path) -> duckdb.IOException:
    return duckdb.IOException(
        f'IO Error: Could not write file "{case}.wal": No space left on device'
    )


@pytest.mark.parametrize("command", ["detect", "signals", "edges"])
def test_a_full_disk_while_a_command_writes_the_case_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """detect, signals and edges write their results in one transaction at the end: a
    full disk there was DuckDB's traceback; the case keeps what it held."""
    from trollscope.detect import run as detect_run
    from trollscope.engine import edgestore
    from trollscope.signals import run as signals_run

    case = tmp_path / "case.duckdb"
    ingest(case, [SHARES])

    def full(*args: object, **kwargs: object) -> None:
        raise _disk_full(case)

    target = {
        "detect": (detect_run, "describe"),
        "signals": (signals_run, "compute_signals"),
        "edges": (edgestore, "prepare"),
    }[command]
    monkeypatch.setattr(*target, full)
    extra = ["--trace", "co-repost"] if command == "edges" else []
    assert run(command, str(case), *extra) == (1, f"Error: cannot write {case}: {FULL}.\n")
    con = duckdb.connect(str(case), read_only=True)
    assert con.execute("SELECT count(*) FROM posts").fetchall() == [(5,)]
    con.close()
