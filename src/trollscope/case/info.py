"""What a case holds: counts per platform, time span, kinds, rejects and sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from trollscope.case import Case

# Times before 2000 or after tomorrow are worth a second look even inside the accepted
# range (which a user may widen with --earliest and --latest): Twitter opened in 2006, and
# a 1970 or 1999 date is more often a zero, a wrong unit or a default than a real post or
# account; a date in the future is a wrong zone, unit or clock.
SUSPECT_BEFORE = "2000-01-01"


def odd_times(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Posts and accounts of the case dated (created) before 2000 or after tomorrow (UTC)."""
    future = "current_date::TIMESTAMP AT TIME ZONE 'UTC' + INTERVAL 2 DAY"
    early = f"TIMESTAMPTZ '{SUSPECT_BEFORE}'"
    # One pass over each table (this runs after every ingest).
    row = con.execute(
        f"""SELECT p.early, a.early, p.late, a.late FROM
              (SELECT count(*) FILTER (WHERE created_at < {early}) AS early,
                      count(*) FILTER (WHERE created_at >= {future}) AS late FROM posts) p,
              (SELECT count(*) FILTER (WHERE created_at < {early}) AS early,
                      count(*) FILTER (WHERE created_at >= {future}) AS late FROM accounts) a"""
    ).fetchone()
    counts = row if row else (0, 0, 0, 0)
    names = ("posts_before_2000", "accounts_before_2000", "posts_future", "accounts_future")
    return {name: int(n) for name, n in zip(names, counts, strict=True)}


def case_info(case_path: Path | str) -> dict[str, Any]:
    """A summary of a case as plain data (the CLI prints it, or dumps it as JSON)."""
    with Case.open(case_path, read_only=True) as case:
        con = case.con

        def scalar(sql: str) -> Any:
            row = con.execute(sql).fetchone()
            return row[0] if row else None

        span = con.execute("SELECT min(created_at), max(created_at) FROM posts").fetchone()
        first, last = span if span else (None, None)
        per_platform = {
            platform: {"posts": int(posts), "accounts": 0}
            for platform, posts in con.execute(
                "SELECT platform, count(*) FROM posts GROUP BY 1 ORDER BY 1"
            ).fetchall()
        }
        for platform, accounts in con.execute(
            "SELECT platform, count(*) FROM accounts GROUP BY 1 ORDER BY 1"
        ).fetchall():
            per_platform.setdefault(platform, {"posts": 0, "accounts": 0})["accounts"] = int(
                accounts
            )
        kinds = {
            kind: int(n)
            for kind, n in con.execute(
                "SELECT kind, count(*) FROM posts GROUP BY 1 ORDER BY 2 DESC, 1"
            ).fetchall()
        }
        reject_reasons = [
            {"field": fld, "reason": reason, "count": int(n)}
            for fld, reason, n in con.execute(
                "SELECT field, reason, count(*) FROM rejects GROUP BY 1, 2 "
                "ORDER BY 3 DESC, 1, 2 LIMIT 10"
            ).fetchall()
        ]
        sources = [
            {
                "path": path,
                "format": fmt,
                "sha256": sha,
                "ingested_at": at.isoformat() if at else None,
                "read": int(read),
                "stored": int(stored),
                "duplicate": int(dup),
                "rejected": int(rej),
            }
            for path, fmt, sha, at, read, stored, dup, rej in con.execute(
                "SELECT path, format, sha256, ingested_at, read, stored, duplicate, rejected "
                "FROM sources ORDER BY source_id"
            ).fetchall()
        ]
        return {
            "case": str(case_path),
            "posts": int(scalar("SELECT count(*) FROM posts")),
            "accounts": int(scalar("SELECT count(*) FROM accounts")),
            "rejects": int(scalar("SELECT count(*) FROM rejects")),
            "first_post": first.isoformat() if first else None,
            "last_post": last.isoformat() if last else None,
            "odd_times": odd_times(con),
            "platforms": per_platform,
            "kinds": kinds,
            "reject_reasons": reject_reasons,
            "sources": sources,
        }
