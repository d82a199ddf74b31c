"""The tests' tables in the case, and the temporary views of them that the description
and the evidence read (the caller holds the transaction)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from trollscope.case.schema import (
    ACCOUNT_TESTS_DDL,
    BURST_TESTS_DDL,
    COHORT_TESTS_DDL,
    JOIN_TESTS_DDL,
    NETWORK_EDGES_DDL,
    PAIR_TESTS_DDL,
)

MEMBERS = "ts_det_members"  # (platform, account_id, network)
SIGNIFICANT = "ts_det_significant"  # the significant rows of pair_tests
ACCOUNTS = "ts_det_accounts"  # the significant rows of account_tests
BURST_MEMBERS = "ts_det_burst_members"  # significant bursts, one row per member
COHORT_MEMBERS = "ts_det_cohort_members"  # significant cohorts, one row per active member
TEMPORARY = (MEMBERS, SIGNIFICANT, ACCOUNTS, BURST_MEMBERS, COHORT_MEMBERS)


def store_table(con: duckdb.DuckDBPyConnection, name: str, ddl: str, rows: pa.Table) -> None:
    """Replace the table `name` (made by `ddl`) by `rows`."""
    con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute(ddl)
    # No try/finally: after a failed INSERT the transaction is aborted and even
    # unregistering fails, hiding the first error; the name dies with the connection.
    con.register("ts_det_rows", rows)
    con.execute(f"INSERT INTO {name} SELECT * FROM ts_det_rows")
    con.unregister("ts_det_rows")


def store_tests(
    con: duckdb.DuckDBPyConnection,
    pairs: pa.Table,
    accounts: pa.Table,
    bursts: pa.Table,
    cohorts: pa.Table,
    members: pa.Table,
    network_edges: pa.Table,
    joins: pa.Table,
) -> None:
    """pair_tests, account_tests, burst_tests, cohort_tests, join_tests and network_edges
    into the case; the members and the significant rows as temporary tables."""
    store_table(con, "pair_tests", PAIR_TESTS_DDL, pairs)
    store_table(con, "account_tests", ACCOUNT_TESTS_DDL, accounts)
    store_table(con, "burst_tests", BURST_TESTS_DDL, bursts)
    store_table(con, "cohort_tests", COHORT_TESTS_DDL, cohorts)
    store_table(con, "join_tests", JOIN_TESTS_DDL, joins)
    store_table(con, "network_edges", NETWORK_EDGES_DDL, network_edges)
    con.register("ts_det_m", members)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {MEMBERS} AS SELECT * FROM ts_det_m")
    con.unregister("ts_det_m")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SIGNIFICANT} AS SELECT * FROM pair_tests WHERE significant"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ACCOUNTS} AS SELECT * FROM account_tests WHERE significant"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {BURST_MEMBERS} AS
            SELECT trace, window_s, platform, key, accounts, burst, expected, log_p,
                   unnest(members) AS account_id
            FROM burst_tests WHERE significant"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {COHORT_MEMBERS} AS
            SELECT trace, window_s, platform, cohort, signal, keys, periods, best_burst,
                   best_window_s, len(members) AS size, log_p, unnest(members) AS account_id
            FROM cohort_tests WHERE significant"""
    )


def drop_temporary(con: duckdb.DuckDBPyConnection) -> None:
    for name in TEMPORARY:
        con.execute(f"DROP TABLE IF EXISTS {name}")
