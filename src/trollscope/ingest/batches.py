"""Chunks of canonical records flowing from a reader to the case.

A reader yields `Batch`es; each holds Arrow tables in the canonical schemas of `model.py`.
Memory is bounded by the chunk size, not by the input: `BatchBuilder` flushes every
`chunk_size` records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from operator import attrgetter

import pyarrow as pa

from trollscope.model import (
    ACCOUNTS_SCHEMA,
    POSTS_SCHEMA,
    REJECTS_SCHEMA,
    Account,
    Post,
    Reject,
)

DEFAULT_CHUNK = 50_000


@dataclass(slots=True)
class Batch:
    """Canonical records from one chunk of input.

    `records` is how many input records the chunk covered (posts, account-only rows,
    rejected rows and exact repeats together), so that read = stored + duplicate +
    rejected can be checked.
    """

    posts: pa.Table
    accounts: pa.Table
    rejects: pa.Table
    records: int
    bytes_done: int | None = None
    # Records the reader found repeated exactly and merged (counted as duplicates).
    repeats: int = 0


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


class _Columns:
    """Row accumulator for one schema: rows are tuples, turned into columns on `take`
    (one zip over the rows is cheaper in CPython than appending to a list per column)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows: list[tuple[object, ...]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def append(self, values: tuple[object, ...]) -> None:
        self.rows.append(values)

    def fill_gaps(self, row: int, values: tuple[object, ...]) -> None:
        """Fill the empty fields of an earlier row (first value seen wins)."""
        old = self.rows[row]
        self.rows[row] = tuple(
            new if mine is None else mine for mine, new in zip(old, values, strict=True)
        )

    def take(self) -> pa.Table:
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(self.schema)
        table = pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )
        self.rows = []
        return table


_POST_FIELDS = tuple(f.name for f in fields(Post))
_ACCOUNT_FIELDS = tuple(f.name for f in fields(Account))
_REJECT_FIELDS = tuple(f.name for f in fields(Reject))
assert set(_POST_FIELDS) == set(POSTS_SCHEMA.names), "Post and POSTS_SCHEMA must agree"
assert set(_ACCOUNT_FIELDS) == set(ACCOUNTS_SCHEMA.names), "Account and ACCOUNTS_SCHEMA must agree"
_post_values = attrgetter(*POSTS_SCHEMA.names)
_account_values = attrgetter(*ACCOUNTS_SCHEMA.names)


class BatchBuilder:
    """Collects records from a row-wise reader and cuts them into `Batch`es.

    Accounts are de-duplicated within a chunk (first value seen wins field by field, as in
    the case), which keeps a chunk's account table small for readers that repeat the
    author on every post.
    """

    def __init__(self, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.chunk_size = chunk_size
        self._posts = _Columns(POSTS_SCHEMA)
        self._accounts = _Columns(ACCOUNTS_SCHEMA)
        self._rejects = _Columns(REJECTS_SCHEMA)
        self._seen_accounts: dict[tuple[str, str], int] = {}
        self._records = 0

    def add_post(self, post: Post) -> None:
        self._records += 1
        self._posts.append(_post_values(post))

    def add_account(self, account: Account, *, is_record: bool = False) -> None:
        """Add a profile. `is_record` marks an input record that is only an account
        (a row of a users file), so it counts towards `records`."""
        if is_record:
            self._records += 1
        key = (account.platform, account.account_id)
        values = _account_values(account)
        row = self._seen_accounts.get(key)
        if row is None:
            self._seen_accounts[key] = len(self._accounts)
            self._accounts.append(values)
        else:
            self._accounts.fill_gaps(row, values)

    def add_reject(self, reject: Reject) -> None:
        self._records += 1
        self._rejects.append((reject.line, reject.field, reject.reason, reject.raw))

    @property
    def pending(self) -> int:
        return self._records + len(self._accounts)

    def full(self) -> bool:
        return self.pending >= self.chunk_size

    def take(self, bytes_done: int | None = None) -> Batch:
        self._seen_accounts.clear()
        records, self._records = self._records, 0
        return Batch(
            posts=self._posts.take(),
            accounts=self._accounts.take(),
            rejects=self._rejects.take(),
            records=records,
            bytes_done=bytes_done,
        )

    def drain(self, bytes_done: int | None = None) -> Iterator[Batch]:
        """Yield the last partial batch, if any."""
        if self.pending:
            yield self.take(bytes_done)
