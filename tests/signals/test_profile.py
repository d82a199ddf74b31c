"""The profile signal (templates shared beyond chance) and the profile-template trace."""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.conftest import query
from trollscope.case import Case
from trollscope.engine.run import edges
from trollscope.features.profile import (
    bio_clusters,
    handle_shapes,
    location_keys,
    name_digits,
    profile_features,
)
from trollscope.signals import SignalParams
from trollscope.signals.profile import compute, evidence_batch, log_poisson_tail
from trollscope.signals.run import signals
from trollscope.simulate.config import SimulationConfig, farm_at_stealth
from trollscope.simulate.run import simulate
from trollscope.simulate.words import BIO_PARTS
from trollscope.traces import TRACES
from trollscope.traces.profile import profile_rows

# --- building cases --------------------------------------------------------------------


def sim_case(folder: Path, cfg: SimulationConfig) -> Path:
    """A real case file holding a simulated data set, with its labels in `labels`."""
    simulate(cfg, folder / "sim", formats=())
    path = folder / "case.duckdb"
    case = Case.open(path, create=True)
    try:
        sim = folder / "sim"
        case.con.execute(f"INSERT INTO accounts SELECT *, 0 FROM '{sim}/accounts.parquet'")
        case.con.execute(f"INSERT INTO posts SELECT *, 0 FROM '{sim}/posts.parquet'")
        case.con.execute(
            f"CREATE TABLE labels AS SELECT * FROM read_csv('{sim}/labels.csv', all_varchar=true)"
        )
    finally:
        case.close()
    return path


def _accounts_case(path: Path, rows: list[tuple[str, str, str, str | None, str | None]]) -> Path:
    """A case holding (account_id, handle, display_name, bio, location) accounts."""
    case = Case.open(path, create=True)
    try:
        for account, handle, name, bio, location in rows:
            case.con.execute(
                "INSERT INTO accounts (platform, account_id, handle, display_name, bio, location,"
                " avatar, source_id) VALUES ('twitter', ?, ?, ?, ?, ?, ?, 0)",
                [account, handle, name, bio, location, f"https://pbs.twimg.com/{account}.jpg"],
            )
    finally:
        case.close()
    return path


def _flagged(case: Path, table: pa.Table) -> dict[str, bool]:
    return dict(
        zip(
            table.column("account_id").to_pylist(),
            table.column("flagged").to_pylist(),
            strict=True,
        )
    )


# --- features --------------------------------------------------------------------------


def test_handle_shapes() -> None:
    handles = [
        "name84736251",
        "Sara12345678",
        "@ali_smith",
        "J.Doe-3",
        "ali1987",
        "x",
        "سارا۱۲۳۴۵",
        "Jo\u0301se_99",
        "42",
        "",
        None,
    ]
    want = ["L+D8", "L+D8", "L+_L+", "L+.L+.D1", "L+D4", "L+", "L+D5", "L+_D2", "D2", None, None]
    shapes = handle_shapes(pa.array(handles))
    assert shapes.to_pylist() == want
    assert name_digits(shapes).to_pylist() == [8, 8, 0, 0, 0, 0, 5, 0, 0, 0, 0]


def test_location_keys() -> None:
    got = location_keys(pa.array(["Iran", "  iran!", "IRAN 🇮🇷", "", "  ", None, "Tehran, Iran"]))
    assert got.to_pylist() == ["iran", "iran", "iran", None, None, None, "tehran iran"]


def test_bio_clusters_join_near_copies_only() -> None:
    # Names swapped in a long template: Jaccard about 0.9, which shares a band with the
    # centre 99.99% of the time (a short one, about 0.75, 93%).
    names = ["Sara", "Ali", "Mina", "Yusuf", "Layla", "Reza", "Nadia", "Omid"]
    template = [f"{n} | human rights activist | freedom for all political prisoners" for n in names]
    other = [
        "Coffee lover, runner and amateur astronomer",
        "Coffee lover, runner and amateur astronomer!!",  # equal after normalisation
        "Professional chess player from Berlin",
        "student",
        "Student",
        "nurse",
        None,
        "  ",
    ]
    got = bio_clusters(pa.array(template + other)).to_pylist()
    assert len(set(got[: len(names)])) == 1
    coffee, coffee2, chess, student, student2, nurse, missing, blank = got[len(names) :]
    assert coffee == coffee2
    assert student == student2
    assert len({got[0], coffee, chess, student, nurse}) == 5
    assert missing is None and blank is None


def test_bio_clusters_do_not_chain(tmp_path: Path) -> None:
    # The simulator's bios are one to three of 20 stock phrases: connected components of
    # near-copies joined 4,000 of its 6,000 distinct bios into one; stars must not.
    path = sim_case(tmp_path, SimulationConfig(posts=20_000, days=1, accounts_per_post=0.5))
    with Case.open(path, read_only=True) as case:
        features = profile_features(case.con)
        bios = case.con.execute("SELECT count(DISTINCT bio) FROM accounts").fetchall()[0][0]
    per_cluster = Counter(
        (c, b)
        for c, b in zip(
            features.column("bio_cluster").to_pylist(),
            features.column("bio").to_pylist(),
            strict=True,
        )
        if c is not None
    )
    distinct_per_cluster = Counter(c for c, _ in per_cluster)
    assert max(distinct_per_cluster.values()) < bios * 0.15
    # The engine's path (LSH bands there, the greedy here over the bios that share a band)
    # gives every account the cluster star_clusters over every distinct bio gives.
    whole = bio_clusters(features.column("bio")).to_pylist()
    assert features.column("bio_cluster").to_pylist() == whole
    assert len(set(whole)) < len(whole) / 2, "few near-copies: the test would test little"


def test_features_of_a_hand_made_case(case_path: Path) -> None:
    path = _accounts_case(
        case_path,
        [
            ("1", "sara84736251", "Sara Karimi", "Sara | human rights", "Iran"),
            ("2", "jd_1990", "Sara Karimi", None, None),
            ("3", "sara", "سارا", "", " "),
            ("4", "JOHN1", "Jöhn Doe", "bio", "x"),
        ],
    )
    with Case.open(path) as case:
        case.con.execute(
            "UPDATE accounts SET avatar = 'https://abs.twimg.com/sticky/default_profile_images/"
            "default_profile_normal.png' WHERE account_id = '2'"
        )
        case.con.execute("UPDATE accounts SET avatar = NULL WHERE account_id = '3'")
        f = profile_features(case.con).to_pylist()
    by_id = {r["account_id"]: r for r in f}
    assert [by_id[a]["name_mismatch"] for a in "1234"] == [False, True, None, False]
    assert [by_id[a]["empty_profile"] for a in "1234"] == [False, True, True, False]
    assert [by_id[a]["handle_digits"] for a in "1234"] == [8, 0, 0, 0]
    assert by_id["1"]["location_key"] == "iran"
    assert by_id["3"]["location_key"] is None and by_id["3"]["bio_cluster"] is None


# --- the test ----------------------------------------------------------------------------


def _reference_log_tail(k: int, lam: float) -> float:
    """ln P(X >= k), X ~ Poisson(lam): the pmf summed term by term in log space."""
    terms = [-lam + x * math.log(lam) - math.lgamma(x + 1) for x in range(k, k + 4000)]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


@pytest.mark.parametrize(
    ("k", "lam"),
    [(1, 0.5), (2, 1e-9), (5, 4.0), (3, 10.0), (150, 0.03), (210, 11.8), (800, 790.0), (40, 60.0)],
)
def test_log_poisson_tail(k: int, lam: float) -> None:
    got = float(log_poisson_tail(np.array([k]), np.array([lam]))[0])
    want = _reference_log_tail(k, lam) if k > 0 else 0.0
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def _farm_and_crowd() -> list[tuple[str, str, str, str | None, str | None]]:
    firsts = ["Sara", "Ali", "Mina", "Yusuf", "Layla", "Reza", "Nadia", "Omid", "Leila", "Hassan"]
    farm = [
        (
            f"f{i}",
            f"{n}{10_000_000 + 7919 * i}",
            f"{n} Ahmadi",
            f"{n} | human rights | freedom",
            "Iran",
        )
        for i, n in enumerate(firsts)
    ]
    cities = ["London", "Berlin", "Paris", "Madrid", "Cairo", "Tehran", "Dubai", "Moscow", None]
    phrases = BIO_PARTS[:12]  # the simulator's stock organic bio phrases
    crowd = []
    for i in range(50):
        first = firsts[i % len(firsts)]
        styles = [f"{first}_{i}x", f"{first.lower()}{i}", f"the{first}", f"{first}{1990 + i}"]
        handle = styles[i % 4]
        bio = None if i % 7 == 0 else f"{phrases[i % 12]} and {phrases[(i * 5 + 3) % 12]} #{i}"
        crowd.append((f"o{i}", handle, f"{first} Smith", bio, cities[i % len(cities)]))
    return farm + crowd


def test_a_template_is_found_on_a_hand_made_case(tmp_path: Path) -> None:
    path = _accounts_case(tmp_path / "case.duckdb", _farm_and_crowd())
    with Case.open(path, read_only=True) as case:
        result = compute(case.con, SignalParams(alpha=0.01))
        every = result.all_accounts(case.con)
        templates = result.table(case.con, "profile_templates")
    flagged = _flagged(path, every)
    assert {a for a, f in flagged.items() if f} == {f"f{i}" for i in range(10)}
    evidence = dict(
        zip(
            every.column("account_id").to_pylist(),
            every.column("evidence").to_pylist(),
            strict=True,
        )
    )
    assert "9 other accounts with the location 'iran'" in evidence["f3"]
    assert "nearly identical bio" in evidence["f3"]
    assert "handle shaped like name+8 digits (L+D8), as 10 accounts here" in evidence["f3"]
    top = templates.to_pylist()[0]  # the most significant first
    assert (top["accounts"], top["location"], top["handle_shape"]) == (10, "iran", "L+D8")
    assert top["kind"] == "bio+location+handle"
    # Expected count under independence: N p_bio p_location p_shape, all ten alike here.
    n = sum(1 for r in _farm_and_crowd() if r[3] and r[4])
    assert top["expected"] == pytest.approx(n * (10 / n) ** 3)


def test_the_example_bio_does_not_depend_on_the_order_accounts_come_in(tmp_path: Path) -> None:
    """The farm's ten bios are near-copies, each written once: the example is the
    commonest, ties broken by the text, whichever order the accounts were stored in
    (DuckDB's `mode` took the first it met, which changed from run to run)."""
    examples = []
    for name, rows in (("forward", _farm_and_crowd()), ("backward", _farm_and_crowd()[::-1])):
        path = _accounts_case(tmp_path / f"{name}.duckdb", rows)
        with Case.open(path, read_only=True) as case:
            result = compute(case.con, SignalParams(alpha=0.01))
            every = result.all_accounts(case.con)
            top = result.table(case.con, "profile_templates").to_pylist()[0]
        evidence = every.filter(pc.equal(every["account_id"], "f3"))
        examples.append((top["example_bio"], evidence["evidence"].to_pylist()))
    assert examples[0] == examples[1]
    assert examples[0][0] == "Ali | human rights | freedom"  # the first of ten, by text
    assert "bio ('Ali | human rights | freedom')" in examples[0][1][0]


def test_the_trace_pairs_the_template_on_a_hand_made_case(tmp_path: Path) -> None:
    path = _accounts_case(tmp_path / "case.duckdb", _farm_and_crowd())
    with Case.open(path, read_only=True) as case:
        rows = profile_rows(case.con).to_pylist()
    assert {r["us"] for r in rows} == {0}
    assert all(r["post_id"] == r["account_id"] for r in rows)
    keys = {r["key"] for r in rows if r["account_id"] == "f0"}
    assert {k.split(":")[0] for k in keys} == {"bio+location", "bio+handle", "location+handle"}
    assert "location+handle:iran|L+D8" in keys
    edges(path, "profile-template")
    got = query(path, "SELECT account_a, account_b, keys FROM edges")
    farm = {(a, b): k for a, b, k in got if a.startswith("f") and b.startswith("f")}
    assert len(farm) == math.comb(10, 2)
    assert set(farm.values()) == {3}  # bio+location, bio+handle, location+handle
    assert not [(a, b) for a, b, _ in got if a[0] != b[0]]  # nothing between farm and crowd


# --- on simulated farms --------------------------------------------------------------------


def _config(stealth: int) -> SimulationConfig:
    farms = (farm_at_stealth(stealth, size=60), farm_at_stealth(stealth, size=30, tz_hours=3.5))
    return SimulationConfig(posts=20_000, days=2, accounts_per_post=0.15, farms=farms)


# Templated members: all at stealth 0, 80% at 1, half at 2 (the rest get organic profiles).
@pytest.mark.parametrize(("stealth", "share"), [(0, 0.95), (1, 0.6), (2, 0.35)])
def test_farm_members_share_templates(tmp_path: Path, stealth: int, share: float) -> None:
    path = sim_case(tmp_path, _config(stealth))
    with Case.open(path, read_only=True) as case:
        result = compute(case.con, SignalParams(alpha=0.01))
        case.con.register("result", result.all_accounts(case.con))
        rows = case.con.execute(
            "SELECT farm_id IS NOT NULL, avg(flagged::INT), count(*) FROM result "
            "JOIN labels USING (account_id) GROUP BY ALL"
        ).fetchall()
    rate = {bool(farm): float(r) for farm, r, _ in rows}
    assert rate[True] >= share
    assert rate[False] <= 0.01


def test_organic_accounts_are_rarely_flagged(tmp_path: Path) -> None:
    # 10,000 organic accounts (and the two authentic communities), no farm.
    cfg = SimulationConfig(posts=20_000, days=1, accounts_per_post=0.5, farms=())
    path = sim_case(tmp_path, cfg)
    with Case.open(path, read_only=True) as case:
        result = compute(case.con, SignalParams(alpha=0.01))
        flags = result.all_accounts(case.con).column("flagged").to_pylist()
    assert len(flags) > 10_000
    assert sum(flags) <= 0.01 * len(flags)


def test_the_trace_links_farm_members(tmp_path: Path) -> None:
    path = sim_case(tmp_path, _config(0))
    edges(path, "profile-template")
    labels = dict(query(path, "SELECT account_id, farm_id FROM labels"))
    pairs = query(path, "SELECT account_a, account_b FROM edges WHERE trace = 'profile-template'")
    linked = {(a, b) for a, b in pairs}
    farms: dict[object, list[str]] = {}
    for account, farm in labels.items():
        if farm is not None:
            farms.setdefault(farm, []).append(str(account))
    within = [tuple(sorted(p)) for members in farms.values() for p in combinations(members, 2)]
    assert sum(p in linked for p in within) >= 0.95 * len(within)
    # Organic accounts with a name+8-digit handle in 'Iran' would pair with the farm too;
    # the simulator gives organic accounts no 'Iran'.
    mixed = [(a, b) for a, b in pairs if (labels[a] is None) != (labels[b] is None)]
    assert not mixed


def test_stored_by_the_runner(tmp_path: Path) -> None:
    path = _accounts_case(tmp_path / "case.duckdb", _farm_and_crowd())
    flagged = signals(path, ["profile"])
    assert flagged == {"profile": 10}
    assert query(path, "SELECT count(*) FROM account_signals WHERE signal = 'profile'") == [(60,)]
    assert query(path, "SELECT count(*) FROM profile_features") == [(60,)]
    top = query(path, "SELECT accounts FROM profile_templates ORDER BY score DESC LIMIT 1")
    assert top == [(10,)]


def test_the_trace_is_registered() -> None:
    trace = TRACES["profile-template"]
    assert trace.window == 0.0
    assert trace.prepare is not None


def test_empty_case(case_path: Path) -> None:
    Case.open(case_path, create=True).close()
    con = duckdb.connect(str(case_path))
    try:
        result = compute(con, SignalParams())
        assert result.all_accounts(con).num_rows == 0
    finally:
        con.close()
    assert result.accounts.num_rows == 0


def _part_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "platform": "twitter", "account_id": "a", "handle": "ali12345678",
        "display_name": "Sara", "handle_shape": "L+D8", "handle_digits": 8,
        "name_mismatch": True, "empty_profile": False, "location_key": "iran",
        "bio_cluster": "c1", "kind": "bio+location", "accounts": 2, "expected": 12.5,
        "score": 9.0, "p_value": 1e-9, "example": "x" * 51, "shape_accounts": 1,
    }  # fmt: skip
    return row | changes


def test_evidence_words_each_part_as_the_sql_it_replaced_did() -> None:
    """Counts as DuckDB rounds them (half away from zero: 12.5 is 13, where Python's
    round gives 12), one account or many, a long bio cut at 50 characters, a p-value
    above alpha worded not at all, a NULL digits count skipped."""
    rows = [
        _part_row(),
        _part_row(accounts=3, expected=1.0, kind="location+handle", shape_accounts=2),
        _part_row(p_value=0.5, handle_digits=None, name_mismatch=None, empty_profile=True),
    ]
    batch = pa.RecordBatch.from_pylist(rows)
    out = evidence_batch(1234, 0.01, batch).to_pylist()
    assert out[0]["evidence"] == (
        "1 other account with the location 'iran' has a nearly identical bio ('"
        + "x" * 50
        + "...') (chance alone: 13 accounts; p = 1.0e-09 after Bonferroni over 1,234 "
        "combinations); handle shaped like name+8 digits (L+D8), as 1 account here; "
        "display name 'Sara' shares no word with the handle 'ali12345678'"
    )
    assert out[1]["evidence"].startswith(
        "2 other accounts also have the location 'iran' and a handle shaped L+D8 "
        "(chance alone: 1 account; p = 1.0e-09"
    )
    assert "as 2 accounts here" in out[1]["evidence"]
    assert out[2]["evidence"] == "empty profile (no bio, no location, no or the default avatar)"
    assert [r["flagged"] for r in out] == [True, True, False]
    assert out[0]["template_accounts"] == 2 and out[0]["name_digits"] == 8
