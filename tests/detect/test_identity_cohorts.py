"""The cohorts detect tests as groups: one per creation burst, template and shared avatar,
and each signal's cohorts together (detect/cohorts.py, identity_cohorts)."""

from __future__ import annotations

from collections import defaultdict

import duckdb
import pytest

from trollscope.detect.cohorts import WIDE_COHORTS, identity_cohorts
from trollscope.detect.evidence import cohort_line

BURSTS = [("twitter", "2024-01-01", "2024-01-03"), ("twitter", "2024-02-01", "2024-02-03")]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """Accounts created in two bursts on twitter and one on bluesky, flagged by
    creation-burst (one account in the first burst is not flagged), and three twitter
    accounts wearing one picture."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE accounts (platform VARCHAR, account_id VARCHAR, created_at TIMESTAMP, "
        "avatar VARCHAR)"
    )
    con.execute('CREATE TABLE creation_bursts (platform VARCHAR, start TIMESTAMP, "end" TIMESTAMP)')
    con.execute(
        "CREATE TABLE account_signals (signal VARCHAR, platform VARCHAR, account_id VARCHAR, "
        "flagged BOOLEAN)"
    )
    accounts = [
        ("twitter", "a1", "2024-01-01 10:00", "https://x.example/pic.jpg", True),
        ("twitter", "a2", "2024-01-01 11:00", "https://x.example/pic.jpg", True),
        ("twitter", "a3", "2024-01-02 09:00", "https://x.example/pic.jpg", True),
        ("twitter", "a4", "2024-01-02 12:00", None, False),
        ("twitter", "b1", "2024-02-01 10:00", None, True),
        ("twitter", "b2", "2024-02-01 11:00", None, True),
        ("twitter", "b3", "2024-02-02 09:00", None, True),
        ("bluesky", "c1", "2024-01-01 10:00", None, True),
        ("bluesky", "c2", "2024-01-01 11:00", None, True),
        ("bluesky", "c3", "2024-01-02 09:00", None, True),
    ]
    for platform, account, created, avatar, flagged in accounts:
        con.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?)", [platform, account, created, avatar]
        )
        con.execute(
            "INSERT INTO account_signals VALUES ('creation-burst', ?, ?, ?)",
            [platform, account, flagged],
        )
    for platform, start, end in [*BURSTS, ("bluesky", "2024-01-01", "2024-01-03")]:
        con.execute("INSERT INTO creation_bursts VALUES (?, ?, ?)", [platform, start, end])
    return con


def _cohorts(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], set[str]]:
    rows = identity_cohorts(con, None).to_pylist()
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in rows:
        found[(r["platform"], r["signal"], r["cohort"])].add(r["account_id"])
    return dict(found)


def test_a_signal_with_two_cohorts_is_also_tested_as_one_cohort(
    con: duckdb.DuckDBPyConnection,
) -> None:
    found = _cohorts(con)
    wide = ("twitter", "creation-burst", WIDE_COHORTS["creation-burst"])
    assert found[wide] == {"a1", "a2", "a3", "b1", "b2", "b3"}
    # The bursts themselves are still cohorts of their own; a4 was not flagged.
    assert found[("twitter", "creation-burst", "created 2024-01-01 00:00 to 2024-01-03 00:00")] == {
        "a1",
        "a2",
        "a3",
    }
    assert found[("twitter", "creation-burst", "created 2024-02-01 00:00 to 2024-02-03 00:00")] == {
        "b1",
        "b2",
        "b3",
    }


def test_one_cohort_is_not_tested_twice(con: duckdb.DuckDBPyConnection) -> None:
    """Bluesky has one creation burst and twitter one shared picture: a signal-wide cohort
    there would be the same group tested again."""
    found = _cohorts(con)
    assert ("bluesky", "creation-burst", WIDE_COHORTS["creation-burst"]) not in found
    assert found[("bluesky", "creation-burst", "created 2024-01-01 00:00 to 2024-01-03 00:00")] == {
        "c1",
        "c2",
        "c3",
    }
    avatars = [k for k in found if k[1] == "avatar"]
    assert len(avatars) == 1
    assert found[avatars[0]] == {"a1", "a2", "a3"}
    assert ("twitter", "avatar", WIDE_COHORTS["avatar"]) not in found


@pytest.mark.parametrize(
    ("cohort", "signal", "trait"),
    [
        (
            "created 2024-01-01 00:00 to 2024-01-03 00:00",
            "creation-burst",
            "accounts created 2024-01-01 00:00 to 2024-01-03 00:00 (creation burst)",
        ),
        ("template location | iran", "profile", "accounts sharing the template location | iran"),
        (
            WIDE_COHORTS["creation-burst"],
            "creation-burst",
            "accounts created in any of the case's creation bursts (creation burst)",
        ),
        (WIDE_COHORTS["profile"], "profile", "accounts with any of the case's profile templates"),
        (WIDE_COHORTS["avatar"], "avatar", "accounts wearing any avatar that three or more wear"),
    ],
)
def test_the_evidence_names_the_trait_the_cohort_shares(
    cohort: str, signal: str, trait: str
) -> None:
    line = cohort_line("co-repost", cohort, signal, 55, 40, 8, 12, 300.0, -20.0)
    assert line.startswith(f"one of 55 {trait}"), line
    assert "40 posts in 8 periods, up to 12 of them within 5 min" in line
