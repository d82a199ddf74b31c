"""The same data gives the same tests to the last bit, whatever order its rows are stored
and met in: floating sums are taken in a fixed order (issue 19). The whole-detection check
on simulated data is in test_detect.py; this one does not rely on thread scheduling."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa

from tests.conftest import T0
from trollscope.case import Case
from trollscope.detect.accounttest import account_tests
from trollscope.detect.pairtest import pair_tests
from trollscope.engine import coaction
from trollscope.engine.run import compute_edges, drop_scratch
from trollscope.ingest.run import ingest
from trollscope.traces import TRACES

PERIOD = 600  # short periods: many terms per pair, each of its own size
WINDOW = 60.0


def _shares(path: Path) -> Path:
    """A CooRTweet shares file: a dozen accounts that repost the same posts within
    seconds (one to three times each, each joining a different share of them) over 200
    ten-minute periods whose popularity varies from one dominant post to many small ones,
    among organic accounts reposting at random."""
    rng = random.Random(19)
    rows = []
    for h in range(200):
        start = h * PERIOD
        for k in range(rng.choice((1, 2, 5, 13))):
            for m in range(12):
                if rng.random() < 0.3 + 0.05 * m:
                    for _ in range(rng.choice((1, 1, 2, 3))):
                        rows.append((f"t{h}-{k}", f"f{m}", start + 10 * k + rng.randrange(8)))
        for _ in range(rng.randrange(1, 40)):
            rows.append(
                (f"t{h}-{rng.randrange(3)}", f"o{rng.randrange(80)}", start + rng.randrange(PERIOD))
            )
    lines = ["object_id,account_id,content_id,timestamp_share"]
    lines += [f"{o},{a},c{i},{T0 + t}" for i, (o, a, t) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _tests(case_path: Path, order: str, threads: int) -> list[pa.Table]:
    """Pair and account tests of co-repost, with the trace's rows stored in `order` (ASC
    or DESC), on `threads` threads; with more than one, the account tests run three times
    (each run's threads meet the rows in their own order)."""
    with Case.open(case_path) as case:
        con = case.con
        con.execute(f"SET threads = {threads}")
        compute_edges(con, TRACES["co-repost"], WINDOW, keep_scratch=True, min_keys=2)
        try:
            for table in (coaction.ROWS, coaction.ID_ROWS):
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS "
                    f"SELECT * FROM {table} ORDER BY ALL {order}"
                )
            found = [pair_tests(con, "co-repost", PERIOD, rows=coaction.ROWS).table]
            for _ in range(1 if threads == 1 else 3):
                found.append(account_tests(con, "co-repost", WINDOW, 1800.0, PERIOD).table)
        finally:
            drop_scratch(con)
    return found


def test_tests_do_not_depend_on_the_order_rows_come_in(tmp_path: Path) -> None:
    """A pair's expected meetings (a term per period) and an account's (a term per key
    and period) are sums of floats of many sizes. Summed in the order rows came, reversed
    rows changed a pair's last bits on one thread, and four threads changed about half of
    the accounts' from one run to the next."""
    case_path = tmp_path / "case.duckdb"
    ingest(case_path, [_shares(tmp_path / "shares.csv")])
    runs = [_tests(case_path, order, threads) for threads in (1, 4) for order in ("ASC", "DESC")]
    want_pairs, want_accounts = runs[0][0], runs[0][1]
    assert want_pairs.num_rows > 100 and want_accounts.num_rows > 50, "tests to compare"
    for found in runs:
        pairs, accounts = found[0], found[1:]
        # Python floats compare exactly: equal means equal to the last bit.
        for name in ("expected", "sync_expected", "log_p"):
            assert pairs.column(name).to_pylist() == want_pairs.column(name).to_pylist(), name
        for table in accounts:
            for name in ("expected", "log_p"):
                assert table.column(name).to_pylist() == want_accounts.column(name).to_pylist()
