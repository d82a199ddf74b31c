"""Errors are interface: each says which file (and where), what was expected, and how to fix it.

Library code raises these; the CLI turns them into one human sentence and a non-zero exit.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class TrollscopeError(Exception):
    """Base of every error trollscope raises on purpose."""


class FormatError(TrollscopeError):
    """A whole file is not what it was taken for (wrong format, wrong header, empty)."""

    def __init__(self, path: Path | str, problem: str, hint: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        message = f"{self.path}: {problem}"
        if hint:
            message += f" {hint}"
        super().__init__(message)


class NothingReadError(FormatError):
    """A file in which no record at all could be read (every row rejected, or none there)."""


class CaseError(TrollscopeError):
    """The case file cannot be used (another schema version, not a trollscope case)."""


class MappingError(TrollscopeError):
    """A `--map` column mapping that does not fit the file or the canonical fields."""


class WriteError(TrollscopeError):
    """A file could not be written where it was asked for: its folder is missing or is a
    file, permission is denied, the file system is read-only, the disk is full."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}.")


class CaseBusyError(CaseError):
    """The case is open in another process: DuckDB lets one process write a file, and no
    other process read it meanwhile."""


# What the user can do about each OS error a write meets. A code not listed here is
# given in the system's words, with its name.
_WHAT_TO_DO = {
    errno.EACCES: "permission denied; choose a folder you may write to, or change its permissions",
    errno.EPERM: "permission denied; choose a folder you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only (EROFS); choose a folder on another one",
    errno.ENOSPC: "the disk is full (ENOSPC); free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up (EDQUOT); free some space or write elsewhere",
    errno.EFBIG: "the file is too large for this file system (EFBIG); write to another one",
    errno.EISDIR: "it is a folder; give the path of a file",
    errno.ENAMETOOLONG: "the name is too long (ENAMETOOLONG); choose a shorter one",
}
# DuckDB reports an OS error as text only ('Cannot open file "x": Permission denied');
# these are the codes recognised in it by the system's words for them.
_DUCKDB_CODES = (*_WHAT_TO_DO, errno.ENOENT, errno.ENOTDIR)
# Errors DuckDB raises for a failed file operation (a commit that could not be written is
# a TransactionException); only those whose text holds an OS error's words are turned
# into a sentence, so that DuckDB's own failures still show a traceback.
_DUCKDB_ERRORS = (duckdb.IOException, duckdb.TransactionException)
_LOCKED = re.compile(r'Could not set lock on file "[^"]*"(?:.*?\(PID (\d+)\))?', re.DOTALL)


def _ancestor(path: Path, test: Callable[[Path], bool]) -> Path | None:
    """The outermost folder above `path` (from the root down) that passes `test`."""
    for folder in reversed(path.parents):
        if folder != Path(".") and test(folder):
            return folder
    return None


def _reason(path: Path, code: int, words: str) -> str | None:
    """What went wrong writing `path` and what to do, for OS error `code`; None where the
    error cannot be explained from the path (the caller re-raises it)."""
    if code in (errno.ENOTDIR, errno.EEXIST):
        # ENOTDIR opening a file under a file, EEXIST from mkdir(parents=True) meeting one.
        blocker = _ancestor(path, lambda p: p.exists() and not p.is_dir())
        if blocker is None:
            return None
        return f"{blocker} is a file, not a folder; choose another path"
    if code == errno.ENOENT:
        return _no_folder(path)
    return _WHAT_TO_DO.get(code, f"{words} ({errno.errorcode.get(code, code)})")


def _no_folder(path: Path) -> str:
    missing = _ancestor(path, lambda p: not p.is_dir())
    where = f"the folder {missing}" if missing else "its folder"
    return f"{where} does not exist; create it or choose another path"


def write_error(path: Path | str, error: BaseException) -> TrollscopeError | None:
    """`error`, met writing `path`, as one sentence naming `path`: an OSError, DuckDB's
    error for a file operation the OS refused, or DuckDB's lock held by another process
    (CaseBusyError). None for any other error, which is a bug to show as it is."""
    path = Path(path)
    if isinstance(error, OSError) and error.errno is not None:
        reason = _reason(path, error.errno, error.strerror or str(error))
        return WriteError(path, reason) if reason else None
    if not isinstance(error, _DUCKDB_ERRORS):
        return None
    message = str(error)
    locked = _LOCKED.search(message)
    if locked:
        by = f" (PID {locked.group(1)})" if locked.group(1) else ""
        return CaseBusyError(
            f"{path} is open in another process{by}: wait for it to finish, or use another case."
        )
    for code in _DUCKDB_CODES:
        if os.strerror(code) in message:
            reason = _reason(path, code, os.strerror(code))
            return WriteError(path, reason) if reason else None
    return None


def folder_missing(path: Path | str) -> WriteError | None:
    """A WriteError if the folder `path` would be written into does not exist or is a
    file: for a command that checks before long work, and does not create folders."""
    path = Path(path)
    if path.parent.is_dir():
        return None
    return WriteError(path, _reason(path, errno.ENOTDIR, "") or _no_folder(path))


@contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Within the block, an OS error (or DuckDB's report of one) becomes a WriteError
    naming `path`, the file the user asked for (not a temporary file beside it); any
    other error passes as it is. Keep the block to the writing: an error reading an input
    inside it would be reported as this path's."""
    try:
        yield
    except (OSError, *_DUCKDB_ERRORS) as exc:
        translated = write_error(path, exc)
        if translated is None:
            raise
        raise translated from exc
