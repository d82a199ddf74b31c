"""The simulator: deterministic, and each knob measurably changes what it should."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from trollscope.simulate import SimulationConfig, farm_at_stealth, simulate

SMALL = SimulationConfig(posts=20_000, days=7, accounts_per_post=0.06)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _con(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW posts AS SELECT * FROM read_parquet('{folder}/posts.parquet')")
    con.execute(f"CREATE VIEW accounts AS SELECT * FROM read_parquet('{folder}/accounts.parquet')")
    con.execute(
        f"CREATE VIEW labels AS SELECT * FROM read_csv('{folder}/labels.csv', all_varchar=true)"
    )
    return con


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    simulate(SMALL, tmp_path / "a", formats=())
    simulate(SMALL, tmp_path / "b", formats=())
    simulate(replace(SMALL, seed=2), tmp_path / "c", formats=())
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert a["posts.parquet"] != c["posts.parquet"]


def test_labels_cover_every_account(tmp_path: Path) -> None:
    result = simulate(SMALL, tmp_path, formats=())
    con = _con(tmp_path)
    assert con.execute("SELECT count(*) FROM labels").fetchone() == (result.accounts,)
    assert con.execute(
        "SELECT count(*) FROM labels l ANTI JOIN accounts a USING (account_id)"
    ).fetchone() == (0,)
    farms = con.execute(
        "SELECT farm_id, count(*) FROM labels WHERE farm_id IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert farms == [("farm1", 150), ("farm2", 60)]
    # Every post is by a known account; no post refers to a post that comes after it.
    assert con.execute(
        "SELECT count(*) FROM posts ANTI JOIN accounts USING (account_id)"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT count(*) FROM posts p JOIN posts r ON p.ref_post_id = r.post_id "
        "WHERE r.created_at > p.created_at"
    ).fetchone() == (0,)


def _busiest_day_share(con: duckdb.DuckDBPyConnection, who: str) -> float:
    row = con.execute(
        f"""SELECT max(n) / sum(n) FROM (
              SELECT date_trunc('day', a.created_at) d, count(*) n FROM accounts a
              JOIN labels l USING (account_id) WHERE {who} GROUP BY 1)"""
    ).fetchone()
    assert row is not None
    return float(row[0])


def test_batch_creation_concentrates_created_at(tmp_path: Path) -> None:
    burst = replace(SMALL, farms=(farm_at_stealth(0, size=150),))
    spread = replace(
        SMALL, farms=(farm_at_stealth(0, size=150, creation_bursts=30, creation_span_days=900),)
    )
    simulate(burst, tmp_path / "burst", formats=())
    simulate(spread, tmp_path / "spread", formats=())
    in_burst = _busiest_day_share(_con(tmp_path / "burst"), "l.farm_id IS NOT NULL")
    spread_out = _busiest_day_share(_con(tmp_path / "spread"), "l.farm_id IS NOT NULL")
    organic = _busiest_day_share(_con(tmp_path / "burst"), "l.farm_id IS NULL")
    assert in_burst >= 0.9  # one burst of 6 hours: (nearly) all on one or two days
    assert spread_out < 0.15
    assert organic < 0.02


def _office_share(con: duckdb.DuckDBPyConnection, who: str, tz: float) -> float:
    row = con.execute(
        f"""SELECT avg(CASE WHEN isodow(t) <= 5 AND hour(t) BETWEEN 9 AND 17 THEN 1 ELSE 0 END)
            FROM (SELECT p.created_at + INTERVAL (CAST({tz * 60} AS INTEGER)) MINUTE AS t
                  FROM posts p JOIN labels l USING (account_id) WHERE {who})"""
    ).fetchone()
    assert row is not None
    return float(row[0])


def test_shift_schedule_concentrates_hours_of_week(tmp_path: Path) -> None:
    cfg = replace(SMALL, days=14, farms=(farm_at_stealth(0, size=100, tz_hours=1.0),))
    simulate(cfg, tmp_path, formats=())
    con = _con(tmp_path)
    farm = _office_share(con, "l.farm_id IS NOT NULL", 1.0)
    organic = _office_share(con, "l.farm_id IS NULL", 1.0)
    assert farm >= 0.9, farm
    assert organic <= 0.45, organic
    weekend = con.execute(
        "SELECT count(*) FROM posts p JOIN labels l USING (account_id) "
        "WHERE l.farm_id IS NOT NULL AND isodow(p.created_at + INTERVAL 1 HOUR) >= 6 "
        "AND hour(p.created_at + INTERVAL 1 HOUR) BETWEEN 9 AND 17"
    ).fetchone()
    assert weekend == (0,)


def _farm_stats(folder: Path) -> tuple[float, float]:
    """How far farm members' reposts of one target trail the first of them (median
    seconds: what a co-action window sees), and the share of farm posts that are
    camouflage (not a campaign post, not a reply, not a repost of an applauded account)."""
    con = _con(folder)
    delay = con.execute(
        """SELECT median(lag_s) FROM (
             SELECT epoch(p.created_at)
                    - min(epoch(p.created_at)) OVER (PARTITION BY p.ref_post_id) AS lag_s
             FROM posts p JOIN labels l USING (account_id)
             WHERE l.farm_id IS NOT NULL AND p.kind = 'repost') WHERE lag_s > 0"""
    ).fetchone()
    # A directive repost targets one of the farm's 3 applauded accounts (reposted hundreds
    # of times); a camouflage repost targets whatever is popular (reposted a few times).
    camouflage = con.execute(
        """SELECT avg(CASE
                 WHEN p.kind = 'post' AND len(p.hashtags) = 0 THEN 1
                 WHEN p.kind = 'repost' AND r.account_id IN (
                     SELECT r2.account_id FROM posts p2 JOIN posts r2 ON p2.ref_post_id = r2.post_id
                     JOIN labels l2 ON l2.account_id = p2.account_id
                     WHERE l2.farm_id IS NOT NULL AND p2.kind = 'repost'
                     GROUP BY 1 HAVING count(*) < 50) THEN 1
                 ELSE 0 END)
           FROM posts p JOIN labels l USING (account_id)
           LEFT JOIN posts r ON p.ref_post_id = r.post_id
           WHERE l.farm_id IS NOT NULL"""
    ).fetchone()
    assert delay is not None and camouflage is not None
    return float(delay[0]), float(camouflage[0])


def test_stealth_3_is_slower_and_better_camouflaged(tmp_path: Path) -> None:
    base = replace(SMALL, farms=(farm_at_stealth(0, size=100),))
    simulate(base.with_stealth(0), tmp_path / "s0", formats=())
    simulate(base.with_stealth(3), tmp_path / "s3", formats=())
    delay0, camo0 = _farm_stats(tmp_path / "s0")
    delay3, camo3 = _farm_stats(tmp_path / "s3")
    assert delay0 < 60 < 600 < delay3, (delay0, delay3)
    assert camo0 == 0.0
    assert camo3 > 0.3


@pytest.mark.slow
def test_default_scenario_has_viral_cascades_and_communities(tmp_path: Path) -> None:
    result = simulate(SimulationConfig(), tmp_path, formats=())
    assert 950_000 <= result.posts <= 1_100_000
    con = _con(tmp_path)
    biggest = con.execute(
        """SELECT max(n) FROM (
             SELECT p.ref_post_id, count(DISTINCT p.account_id) n
             FROM posts p JOIN posts r ON p.ref_post_id = r.post_id
             JOIN labels l ON l.account_id = p.account_id
             WHERE p.kind = 'repost' AND l.farm_id IS NULL AND l.community_id IS NULL
               AND p.created_at <= r.created_at + INTERVAL 1 HOUR
             GROUP BY 1)"""
    ).fetchone()
    assert biggest is not None and biggest[0] >= 500
    communities = con.execute(
        "SELECT count(DISTINCT community_id) FROM labels WHERE community_id IS NOT NULL"
    ).fetchone()
    assert communities is not None and communities[0] >= 1


ROUNDTRIP = SimulationConfig(posts=5_000, days=3, accounts_per_post=0.1)
ROUNDTRIPS = {
    "default": ROUNDTRIP,
    # Posts starting with a mention, replies with hashtags, emoji, shared links.
    "hard-cases": replace(
        ROUNDTRIP,
        news_shocks_per_day=1.0,
        news_shock_median=100,
        copy_chains_per_day=1.0,
        live_events_per_day=1.0,
        live_event_median=20,
    ),
    # A sample: reposts and replies whose targets are not in the data.
    "campaign": replace(ROUNDTRIP, collection="campaign"),
}


@pytest.mark.parametrize("scenario", sorted(ROUNDTRIPS))
@pytest.mark.parametrize("fmt", ["twarc2", "io-tweets"])
def test_real_formats_ingest_without_rejects_and_match_canonical(
    fmt: str, scenario: str, tmp_path: Path
) -> None:
    from trollscope.ingest.run import ingest
    from trollscope.ingest.writers import WRITERS
    from trollscope.model import ACCOUNT_COLUMNS, POST_COLUMNS
    from trollscope.simulate import FORMAT_FILES, read_posts
    from trollscope.simulate.run import read_accounts

    cfg = ROUNDTRIPS[scenario]
    simulate(cfg, tmp_path / "sim", formats=(fmt,))
    case = tmp_path / "case.duckdb"
    result = ingest(case, [tmp_path / "sim" / FORMAT_FILES[fmt]], fmt=fmt)
    f = result.files[0]
    assert f.rejected == 0
    assert f.read == f.stored + f.duplicate

    module = WRITERS[fmt]
    profiles = {a.account_id: a for a in read_accounts(tmp_path / "sim" / "accounts.parquet")}
    post_fields = [c for c in POST_COLUMNS if c != "extra"]
    account_fields = [c for c in ACCOUNT_COLUMNS if c != "extra"]
    expected_posts: dict[str, tuple[object, ...]] = {}
    expected_accounts: dict[str, tuple[object, ...]] = {}
    for post in read_posts(tmp_path / "sim" / "posts.parquet"):
        got = module.expected(post, profiles[post.account_id])
        assert got is not None
        p, a = got
        expected_posts[p.post_id] = tuple(getattr(p, c) for c in post_fields)
        if a is not None:
            expected_accounts[a.account_id] = tuple(getattr(a, c) for c in account_fields)
    con = duckdb.connect(str(case), read_only=True)
    cols = ", ".join(f'"{c}"' for c in post_fields)
    stored = {r[1]: tuple(r) for r in con.execute(f"SELECT {cols} FROM posts").fetchall()}
    acols = ", ".join(f'"{c}"' for c in account_fields)
    accounts = {r[1]: tuple(r) for r in con.execute(f"SELECT {acols} FROM accounts").fetchall()}
    con.close()
    assert len(expected_posts) == result.files[0].read - result.files[0].duplicate
    mismatched = [pid for pid, row in expected_posts.items() if stored.get(pid) != row]
    assert not mismatched, [(stored.get(m), expected_posts[m]) for m in mismatched[:2]]
    wrong = [aid for aid, row in expected_accounts.items() if accounts.get(aid) != row]
    assert not wrong, [(accounts.get(w), expected_accounts[w]) for w in wrong[:2]]
