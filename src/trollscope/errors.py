"""Errors are interface: each says which file (and where), what was expected, and how to fix it.

Library code raises these; the CLI turns them into one human sentence and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path


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
