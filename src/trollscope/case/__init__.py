"""The case: one DuckDB file holding a data set's tables, their schema and provenance, or
a folder holding the same tables as Parquet datasets (a Parquet case).

`store.py` opens, creates and guards the case (schema version, transactions, resource
limits); `schema.py` defines every table the tool writes, in one place; `parquet.py` lays
a case out in Parquet and writes it all or nothing; `convert.py` turns one kind into the
other; `info.py` says what a case holds. Everything above reads and writes the case
through these, and reads both kinds alike.
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
