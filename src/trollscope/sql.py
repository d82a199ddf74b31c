"""SQL text for values and names we do not control, written once.

Everything that builds SQL from data (a file's header, a user's path, a key from a post)
quotes it here: DuckDB's and Spark's quoting of string literals and identifiers agree.
"""

from __future__ import annotations

from pathlib import Path


def literal(value: str | Path) -> str:
    """A SQL string literal: 'it''s' (a path is written as its text)."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier, for a column name taken from a file's header."""
    return '"' + name.replace('"', '""') + '"'
