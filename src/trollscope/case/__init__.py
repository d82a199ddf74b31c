"""The case: one DuckDB file holding a data set's tables, their schema and provenance.

`store.py` opens, creates and guards the file (schema version, transactions, resource
limits); `schema.py` defines every table the tool writes, in one place; `info.py` says
what a case holds. Everything above reads and writes the case through these.
"""

from trollscope.case.store import (
    SAFE_OPTIMIZERS,
    Case,
    file_of,
    has_table,
    limit_resources,
    rows_written,
    transaction,
)

__all__ = [
    "SAFE_OPTIMIZERS",
    "Case",
    "file_of",
    "has_table",
    "limit_resources",
    "rows_written",
    "transaction",
]
