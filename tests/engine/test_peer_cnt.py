"""Our edges against coordination-network-toolkit (CNT) 1.5.2, the peer, on its own CSV.

Both tools run on the same files: CNT through its own command line (`compute_networks DB
preprocess`, then `compute NETWORK --time_window 60 --min_edge_weight 1`), we through
`ingest` and `edges`. CNT's four networks and our traces:

    co_retweet -> co-repost, co_tweet -> co-text, co_reply -> co-reply, co_link -> co-link

How CNT's networks map onto our edges (read from its compute_networks.py):
- Both pair two messages on the same key when |t1 - t2| <= window (CNT: `between t - w
  and t + w`), so a delay of exactly 60 s is in for both.
- CNT's table is directed and holds loops: a row (user_1, user_2, weight) with weight =
  the number of user_1's messages that have a partner of user_2 within the window, and
  every message partners itself, so a user with a key has a loop. Its export drops the
  loops by default; we never pair an account with itself. Without loops, the pairs are
  the same; CNT's weight(a -> b) and weight(b -> a) are the distinct posts of a and of b
  in our edge's evidence. Our `coactions` counts post pairs, so it equals CNT's weight
  only when no post has two partners (`test_cnt_weight_counts_messages_not_post_pairs`).

Everything else that differs is named, each in its own test below: CNT's faults (an empty
urls field pairs every message that has no link; a v1.1 JSON file loses its first tweet; a
CSV without a header loses its first row; a text left empty by its mention stripping
pairs every such text) and the choices in which we part from it on purpose (URLs compared
verbatim and skipped in reposts; a lighter co-tweet text normalisation; float seconds
where we keep microseconds). The main
comparison neutralises CNT's empty-URL fault (the '' URL rows are deleted from its
database before co_link) and must then agree exactly.

CNT must be importable in this environment (the `dev` extra installs it); without it these
tests skip.
"""

from __future__ import annotations

import csv
import importlib.util
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import query
from trollscope.engine.run import edges, skipped_keys
from trollscope.ingest.run import ingest
from trollscope.ingest.writers import WRITERS
from trollscope.model import Account, Kind, Post
from trollscope.simulate import SimulationConfig, read_posts, simulate
from trollscope.simulate.run import read_accounts

CNT = Path(sys.executable).with_name("compute_networks")
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("coordination_network_toolkit") is None or not CNT.exists(),
    reason="coordination-network-toolkit 1.5.2 (the peer) is not installed: "
    "pip install coordination-network-toolkit==1.5.2 (in the dev extra)",
)

WINDOW = 60
NETWORKS = {
    "co_retweet": "co-repost",
    "co_tweet": "co-text",
    "co_reply": "co-reply",
    "co_link": "co-link",
}
HEADER = (
    "message_id",
    "user_id",
    "username",
    "repost_id",
    "reply_id",
    "message",
    "timestamp",
    "urls",
)
T0 = 1_600_000_000

Row = tuple[str, str, str, str, str, str, str, str]
Directed = dict[tuple[str, str], int]


def msg(
    message_id: str,
    user: str,
    seconds: int | float,
    text: str = "",
    *,
    repost: str = "",
    reply: str = "",
    urls: str = "",
) -> Row:
    """One CNT CSV row; the username is derived from the user id."""
    stamp = T0 + seconds
    return (message_id, user, f"user{user}", repost, reply, text, repr(stamp), urls)


# The hand-made data set. Users 101..108; times in seconds after T0. Each block is far
# (> 60 s) from the others, so that each network's pairs can be worked out by hand.
ROWS: list[Row] = [
    # Two originals by 108, reposted and replied to below.
    msg("9001", "108", -500, "Morning notes on the harbour ferry timetable"),
    msg("9002", "108", 500, "Evening notes on the library opening hours"),
    # Reposts of 9001: 102 is 30 s after 101, 103 exactly 60 s after 101 (in), 104 61 s
    # after 103 (out); 101 reposts 9001 a second time at 45 s.
    msg("r1", "101", 0, "RT @user108: Morning notes on the harbour ferry timetable", repost="9001"),
    msg(
        "r2", "102", 30, "RT @user108: Morning notes on the harbour ferry timetable", repost="9001"
    ),
    msg(
        "r3", "103", 60, "RT @user108: Morning notes on the harbour ferry timetable", repost="9001"
    ),
    msg(
        "r4", "104", 121, "RT @user108: Morning notes on the harbour ferry timetable", repost="9001"
    ),
    msg(
        "r5", "101", 45, "RT @user108: Morning notes on the harbour ferry timetable", repost="9001"
    ),
    # Reposts of 9002 at fractional seconds: 105 and 106 exactly 60 s apart; 107's row has
    # both ids (a repost for both tools, so never a reply); 104 is 140.5 s after 106.
    msg("r6", "105", 999.5, "RT @user108: Evening notes", repost="9002"),
    msg("r7", "106", 1059.5, "RT @user108: Evening notes", repost="9002"),
    msg("r8", "107", 1030.25, "RT @user108: Evening notes", repost="9002", reply="9001"),
    msg("r9", "104", 1200, "RT @user108: Evening notes", repost="9002"),
    # 101 and 105 each repost 9003 twice, all four within 15 s: four post pairs.
    msg("r10", "101", 2000, "RT @user108: Noon", repost="9003"),
    msg("r11", "101", 2010, "RT @user108: Noon", repost="9003"),
    msg("r12", "105", 2005, "RT @user108: Noon", repost="9003"),
    msg("r13", "105", 2015, "RT @user108: Noon", repost="9003"),
    # Replies to 9001: 102-103 20 s apart; 105-106 exactly 60 s apart; 103-105 80 s.
    msg("p1", "102", 300, "Which pier does it leave from", reply="9001"),
    msg("p2", "103", 320, "Is the early ferry still running", reply="9001"),
    msg("p3", "105", 400, "Thanks for sharing this", reply="9001"),
    msg("p4", "106", 460, "Good to know about the timetable", reply="9001"),
    # Replies to 9002 61 s apart (out), and to 9005 10 s apart (in).
    msg("p5", "104", 1100, "See you at the opening", reply="9002"),
    msg("p6", "107", 1161, "Is parking available nearby", reply="9002"),
    msg("p7", "104", 1130, "Count me in for the reading group", reply="9005"),
    msg("p8", "101", 1140, "Which room is the reading group in", reply="9005"),
    # Links: /a shared by 101, 102 (30 s), 103 (60 s after 102, 90 after 101), 104 (10 s
    # after 103) with /b too; 105 gives /b twice in one field; 106 replies with /b.
    msg("l1", "101", 5000, "Reading list for the week", urls="https://example.org/a"),
    msg("l2", "102", 5030, "Worth a read", urls="https://example.org/a"),
    msg("l3", "103", 5090, "Found this one", urls="https://example.org/a"),
    msg(
        "l4",
        "104",
        5100,
        "Two good pieces",
        urls="https://example.org/a https://example.org/b",
    ),
    msg(
        "l5",
        "105",
        5110,
        "Second piece",
        urls="https://example.org/b https://example.org/b",
    ),
    msg("l6", "106", 5120, "Agreed", reply="9006", urls="https://example.org/b"),
    # Identical texts, up to case, spacing and mentions (both tools ignore those): 101,
    # 102 (20 s), 103 (50 s), 105 in a reply (30 s); 104 is 150 s after 103 (out).
    msg("c1", "101", 8000, "Vote for the river park on Sunday"),
    msg("c2", "102", 8020, "vote for the RIVER park on sunday"),
    msg("c3", "103", 8050, "@cityhall vote for the river   park on Sunday"),
    msg("c4", "104", 8200, "Vote for the river park on Sunday"),
    msg("c5", "105", 8030, "Vote for the river park on Sunday @cityhall", reply="9010"),
    # 106 posts one text twice; 107 posts it 60 s after the second (70 after the first).
    msg("c6", "106", 9000, "Meet at the north gate at noon"),
    msg("c7", "106", 9010, "Meet at the north gate at noon"),
    msg("c8", "107", 9070, "Meet at the north gate at noon"),
]

# The pairs, worked out by hand from the comments above.
EXPECTED_PAIRS = {
    "co_retweet": {
        ("101", "102"),
        ("101", "103"),
        ("102", "103"),
        ("105", "106"),
        ("105", "107"),
        ("106", "107"),
        ("101", "105"),
    },
    "co_reply": {("102", "103"), ("105", "106"), ("101", "104")},
    "co_link": {
        ("101", "102"),
        ("102", "103"),
        ("103", "104"),
        ("104", "105"),
        ("104", "106"),
        ("105", "106"),
    },
    "co_tweet": {
        ("101", "102"),
        ("101", "103"),
        ("101", "105"),
        ("102", "103"),
        ("102", "105"),
        ("103", "105"),
        ("106", "107"),
    },
}


# --- running the peer ----------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[Row], header: bool = True) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        if header:
            out.writerow(HEADER)
        out.writerows(rows)
    return path


def cnt(db: Path, *args: str) -> None:
    """Run CNT's command line on `db`; its output is only shown when it fails."""
    done = subprocess.run([str(CNT), str(db), *args], capture_output=True, text=True)
    assert done.returncode == 0, f"CNT {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def cnt_preprocess(db: Path, source: Path, fmt: str = "csv") -> None:
    cnt(db, "preprocess", "--format", fmt, str(source))


def cnt_network(db: Path, network: str, window: int = WINDOW) -> Directed:
    """CNT's table for `network` as computed: directed weights, loops included."""
    cnt(
        db,
        "compute",
        network,
        "--time_window",
        str(window),
        "--min_edge_weight",
        "1",
        "--n_cpus",
        "1",
    )
    con = sqlite3.connect(db)
    try:
        table = f"{network}_network"
        rows = con.execute(f"SELECT user_1, user_2, weight FROM {table}").fetchall()
    finally:
        con.close()
    return {(str(a), str(b)): int(w) for a, b, w in rows}


def cnt_sql(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        with con:
            return con.execute(sql).fetchall()
    finally:
        con.close()


def without_loops(net: Directed) -> Directed:
    return {pair: w for pair, w in net.items() if pair[0] != pair[1]}


def pairs(net: Directed) -> set[tuple[str, str]]:
    """Undirected pairs (a < b), loops left out."""
    return {(min(a, b), max(a, b)) for a, b in net if a != b}


# --- running ours ----------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    coactions: int
    evidence: frozenset[tuple[str, str]]  # (post of account_a, post of account_b)
    complete: bool  # the evidence holds every post pair (it is cut at 20)


def our_edges(case: Path, trace: str, window: float = WINDOW) -> dict[tuple[str, str], Edge]:
    edges(case, trace, window)
    assert skipped_keys(case, trace) == 0  # no viral key left out: both see every key
    got: dict[tuple[str, str], Edge] = {}
    for a, b, n, evidence, total in query(
        case,
        "SELECT account_a, account_b, coactions, evidence, evidence_total "
        "FROM edges WHERE trace = ?",
        [trace],
    ):
        assert isinstance(evidence, list)
        got[(str(a), str(b))] = Edge(
            coactions=int(n),  # type: ignore[call-overload]
            evidence=frozenset((str(e["post_a"]), str(e["post_b"])) for e in evidence),
            complete=total == len(evidence),
        )
    return got


def as_cnt(
    ours: dict[tuple[str, str], Edge], keep: Callable[[str, str], bool] | None = None
) -> Directed:
    """Our complete edges in CNT's terms: weight(a -> b) is the number of a's posts with a
    partner of b, i.e. a's distinct posts in the evidence; no loops. `keep` filters the
    post pairs first (to set a named difference aside)."""
    directed: Directed = {}
    for (a, b), edge in ours.items():
        assert edge.complete, f"the evidence of {a}-{b} is cut short"
        kept = [(pa, pb) for pa, pb in edge.evidence if keep is None or keep(pa, pb)]
        if kept:
            directed[(a, b)] = len({pa for pa, _ in kept})
            directed[(b, a)] = len({pb for _, pb in kept})
    return directed


# --- the hand-made data set, both tools ------------------------------------------------


@dataclass(frozen=True)
class Both:
    cnt: dict[str, Directed]  # network -> CNT's table (with loops)
    ours: dict[str, dict[tuple[str, str], Edge]]  # network -> our edges
    cnt_link_raw: Directed  # co_link before the empty-URL rows were deleted
    db: Path
    case: Path


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Both:
    folder = tmp_path_factory.mktemp("peer_cnt")
    source = write_csv(folder / "messages.csv", ROWS)
    db = folder / "cnt.db"
    cnt_preprocess(db, source)
    peer = {net: cnt_network(db, net) for net in ("co_retweet", "co_tweet", "co_reply")}
    raw = cnt_network(db, "co_link")
    # CNT's fault: an empty urls field is stored as the URL ''. Deleted, co_link must agree.
    cnt_sql(db, "DELETE FROM message_url WHERE url = ''")
    peer["co_link"] = cnt_network(db, "co_link")
    case = folder / "case.duckdb"
    result = ingest(case, [source], fmt="cnt-csv")
    assert result.files[0].stored == len(ROWS)
    ours = {net: our_edges(case, trace) for net, trace in NETWORKS.items()}
    return Both(cnt=peer, ours=ours, cnt_link_raw=raw, db=db, case=case)


@pytest.mark.parametrize("network", list(NETWORKS))
def test_pairs_and_weights_equal_the_peers(both: Both, network: str) -> None:
    """Without loops, CNT's directed table is our edges read as CNT counts; the pairs are
    the ones worked out by hand."""
    assert pairs(both.cnt[network]) == EXPECTED_PAIRS[network]
    assert set(both.ours[network]) == EXPECTED_PAIRS[network]
    assert without_loops(both.cnt[network]) == as_cnt(both.ours[network])


def test_coactions_equal_cnt_weight_where_no_post_has_two_partners(both: Both) -> None:
    """On pairs where every post has one partner, our coactions is CNT's weight both
    ways."""
    checked = 0
    for network, ours in both.ours.items():
        for (a, b), edge in ours.items():
            posts_a = {pa for pa, _ in edge.evidence}
            posts_b = {pb for _, pb in edge.evidence}
            if len(posts_a) == len(posts_b) == edge.coactions:
                assert both.cnt[network][(a, b)] == both.cnt[network][(b, a)] == edge.coactions
                checked += 1
    # All but the co-retweet pairs 101-102, 101-103 and 101-105 (101 reposts twice).
    assert checked == sum(map(len, EXPECTED_PAIRS.values())) - 3


def test_cnt_weight_counts_messages_not_post_pairs(both: Both) -> None:
    """Counting, not a fault: CNT's weight(a -> b) is how many of a's messages have a
    partner of b (`count(distinct e_1.message_id)`), so it is directed; our coactions is
    the number of distinct post pairs. 101 and 105 each repost 9003 twice within 15 s:
    four post pairs for us, 2 and 2 for CNT. 101 reposts 9001 twice and 102 once, both
    within the window: 2 pairs for us, 2 (101 -> 102) and 1 (102 -> 101) for CNT."""
    retweet, ours = both.cnt["co_retweet"], both.ours["co_retweet"]
    assert ours[("101", "105")].coactions == 4
    assert retweet[("101", "105")] == retweet[("105", "101")] == 2
    assert ours[("101", "102")].coactions == 2
    assert (retweet[("101", "102")], retweet[("102", "101")]) == (2, 1)


def test_cnt_tables_hold_loops(both: Both) -> None:
    """Not a fault (its export drops them): each message partners itself in CNT's join, so
    every user with a key has a loop, weighted by all its messages on keys, partnered by
    others or not. We never pair an account with itself."""
    retweet = both.cnt["co_retweet"]
    assert retweet[("101", "101")] == 4  # r1, r5, r10, r11
    assert retweet[("104", "104")] == 2  # r4 and r9 pair with nobody else
    assert all(a != b for a, b in both.ours["co_retweet"])


def test_cnt_empty_urls_pair_everything(both: Both) -> None:
    """CNT's fault: it splits the urls field on ' ', so an empty field (and a doubled
    space) is the URL '', which every message without a link shares: co_link pairs any
    two users who posted without a link within the window. We never make an empty URL a
    key."""
    raw = pairs(both.cnt_link_raw)
    # 106 and 107 never post a link: c6..c8, 60 s apart, pair over ''; so do 101 and 104
    # (p7 and p8, replies 10 s apart).
    for pair in (("106", "107"), ("101", "104")):
        assert pair in raw
        assert pair not in both.ours["co_link"]
    # With the '' rows deleted, CNT agrees with us (test_pairs_and_weights_equal_the_peers).
    assert raw > pairs(both.cnt["co_link"]) == set(both.ours["co_link"])


# --- the differences, each in its own block of a second data set -----------------------

# Text pairs that our co-text normalisation makes one key and CNT's (lower-case, drop
# '@...' up to a space, collapse spaces) does not.
OURS_ONLY_TEXTS = {
    "punctuation": ("Vote for the river park!", "Vote for the river park"),
    "links in the text": ("Vote now https://t.co/abc", "Vote now https://t.co/xyz"),
    "a leading RT @name:": ("RT @cityhall: Vote for the river park", "Vote for the river park"),
    "hashtag sign": ("Vote #riverpark today", "Vote riverpark today"),
    "Arabic and Persian letters": ("كتاب جديد", "کتاب جدید"),
}
# Texts CNT pairs and we do not: nothing with a letter or digit is left once mentions (and,
# for us, links) are gone. For CNT the mention-only texts become '' and pair each other.
CNT_ONLY_TEXTS = {
    "mentions only": ("@cityhall", "@parks @cityhall"),
    "a link only": ("https://t.co/abc", "https://t.co/abc"),
    "emoji only": ("🙂🙂", "🙂🙂"),
}


def _differences() -> tuple[list[Row], dict[str, tuple[str, str]]]:
    """Rows for the second data set, and the two users of each named block."""
    rows: list[Row] = []
    users: dict[str, tuple[str, str]] = {}
    start = 100_000  # well after the first data set's blocks; blocks 1000 s apart
    for i, (name, (text_a, text_b)) in enumerate({**OURS_ONLY_TEXTS, **CNT_ONLY_TEXTS}.items()):
        a, b, t = f"5{i:02d}1", f"5{i:02d}2", start + 1000 * i
        rows += [msg(f"t{i}a", a, t, text_a), msg(f"t{i}b", b, t + 10, text_b)]
        users[name] = (a, b)
    t = start + 50_000
    # A repost's links (CNT skips them: "a plain rebroadcast is always a duplicate").
    rows += [
        msg("k1", "601", t, "RT @x: The news", repost="9101", urls="https://example.org/news"),
        msg("k2", "602", t + 10, "The news, read it", urls="https://example.org/news"),
    ]
    users["repost links"] = ("601", "602")
    # One URL written three ways: host case, a tracking parameter, a fragment.
    t += 1000
    rows += [
        msg("u1", "611", t, "Page one", urls="https://Example.org/page?utm_source=feed"),
        msg("u2", "612", t + 10, "Page two", urls="https://example.org/page#top"),
    ]
    users["url forms"] = ("611", "612")
    # Reposts 60 s and 0.4 microseconds apart: CNT compares float seconds, we keep
    # microseconds.
    t += 1000
    rows += [
        msg("s1", "621", t, "RT @x: Ping", repost="9102"),
        ("s2", "622", "user622", "9102", "", "RT @x: Ping", f"{T0 + t + 60}.0000004", ""),
    ]
    users["sub-microsecond"] = ("621", "622")
    return rows, users


DIFF_ROWS, DIFF_USERS = _differences()


@pytest.fixture(scope="module")
def diff(tmp_path_factory: pytest.TempPathFactory) -> Both:
    folder = tmp_path_factory.mktemp("peer_cnt_diff")
    source = write_csv(folder / "messages.csv", DIFF_ROWS)
    db = folder / "cnt.db"
    cnt_preprocess(db, source)
    peer = {net: cnt_network(db, net) for net in ("co_retweet", "co_tweet")}
    raw = cnt_network(db, "co_link")
    cnt_sql(db, "DELETE FROM message_url WHERE url = ''")  # the known fault, set aside
    peer["co_link"] = cnt_network(db, "co_link")
    case = folder / "case.duckdb"
    assert ingest(case, [source], fmt="cnt-csv").files[0].stored == len(DIFF_ROWS)
    ours = {net: our_edges(case, NETWORKS[net]) for net in peer}
    return Both(cnt=peer, ours=ours, cnt_link_raw=raw, db=db, case=case)


@pytest.mark.parametrize("name", list(OURS_ONLY_TEXTS))
def test_cnt_co_tweet_normalises_less(diff: Both, name: str) -> None:
    """Our choice, not CNT's fault: CNT's co_tweet text is lower-cased, '@' up to the next
    space removed and spacing collapsed; ours also drops a leading 'RT @x:', URLs,
    punctuation and symbols, and unifies Arabic/Persian letter forms. These pairs of
    texts are one key for us and two for CNT."""
    pair = DIFF_USERS[name]
    assert pair in diff.ours["co_tweet"]
    assert pair not in pairs(diff.cnt["co_tweet"])


@pytest.mark.parametrize("name", list(CNT_ONLY_TEXTS))
def test_cnt_pairs_texts_with_no_words(diff: Both, name: str) -> None:
    """CNT pairs texts that hold no letter or digit once mentions are stripped: a
    mention-only message becomes '' and pairs with every other such message in the
    window (the co_tweet twin of the empty-URL fault); link-only and emoji-only messages
    pair on the link or the emoji. Our co-text gives such a text no key."""
    pair = DIFF_USERS[name]
    assert pair in pairs(diff.cnt["co_tweet"])
    assert pair not in diff.ours["co_tweet"]


def test_cnt_skips_links_in_reposts(diff: Both) -> None:
    """CNT's choice: a repost's URLs are never stored for co_link. Ours come from every
    post the trace sees, reposts included (the reader keeps a repost's urls)."""
    pair = DIFF_USERS["repost links"]
    assert pair in diff.ours["co_link"]
    assert pair not in pairs(diff.cnt["co_link"])
    assert pair not in pairs(diff.cnt_link_raw)


def test_cnt_compares_urls_verbatim(diff: Both) -> None:
    """CNT's co_link key is the URL string as written (its resolver aside); ours lower-cases
    the scheme and host and drops the fragment and tracking parameters."""
    pair = DIFF_USERS["url forms"]
    assert pair in diff.ours["co_link"]
    assert pair not in pairs(diff.cnt["co_link"])


def test_cnt_compares_float_seconds(diff: Both) -> None:
    """A delay of 60.0000004 s: past the window for CNT (float seconds), exactly 60 s for
    us (times are kept to the microsecond, as DuckDB's TIMESTAMP holds them)."""
    pair = DIFF_USERS["sub-microsecond"]
    assert pair in diff.ours["co_retweet"]
    assert pair not in pairs(diff.cnt["co_retweet"])


def test_cnt_headerless_csv_loses_first_row(tmp_path: Path) -> None:
    """CNT's fault: it skips the first row unread as the header, so a CSV written without
    one loses its first message, and the pairs it was in. Our reader sees that the first
    row's timestamp is a number and reads it."""
    rows = [
        msg("h1", "701", 0, "RT @x: Hi", repost="9201"),
        msg("h2", "702", 10, "RT @x: Hi", repost="9201"),
        msg("h3", "703", 20, "RT @x: Hi", repost="9201"),
    ]
    source = write_csv(tmp_path / "no_header.csv", rows, header=False)
    db = tmp_path / "cnt.db"
    cnt_preprocess(db, source)
    assert cnt_sql(db, "SELECT message_id FROM edge ORDER BY 1") == [("h2",), ("h3",)]
    case = tmp_path / "case.duckdb"
    ingest(case, [source], fmt="cnt-csv")
    assert pairs(cnt_network(db, "co_retweet")) == {("702", "703")}
    assert set(our_edges(case, "co-repost")) == {("701", "702"), ("701", "703"), ("702", "703")}


def snowflake(when: datetime) -> str:
    """A Twitter id minted at `when` (CNT takes a JSON tweet's time from its id)."""
    ms = (when - datetime(1970, 1, 1)) // timedelta(milliseconds=1)
    return str((ms - 1_288_834_974_657) << 22)


def test_cnt_v1_json_drops_the_first_tweet(tmp_path: Path) -> None:
    """CNT's fault: `preprocess --format twitter_json` reads the file as v2 first; a v1.1
    tweet makes that fail on the first line, and a bare `except:` falls back to v1.1 on
    the same, now advanced, file: the first tweet is lost with no warning, and its pairs
    with it. Three v1.1 retweets of one tweet, 10 s apart: CNT keeps two and one pair, we
    keep three and three pairs."""
    start = datetime(2021, 3, 1, 12, 0, 0)
    accounts = {
        uid: Account(platform="twitter", account_id=uid, handle=f"user{uid}")
        for uid in ("801", "802", "803", "800")
    }
    posts = [
        Post(
            platform="twitter",
            post_id=snowflake(start + timedelta(seconds=10 * i)),
            account_id=uid,
            created_at=start + timedelta(seconds=10 * i),
            kind=Kind.REPOST,
            text="RT @user800: Morning",
            ref_post_id="1366000000000000000",
            ref_account_id="800",
        )
        for i, uid in enumerate(("801", "802", "803"))
    ]
    source = tmp_path / "tweets.jsonl"
    WRITERS["twitter-v1"].write(source, posts, accounts)
    db = tmp_path / "cnt.db"
    cnt_preprocess(db, source, fmt="twitter_json")
    assert cnt_sql(db, "SELECT user_id FROM edge ORDER BY 1") == [("802",), ("803",)]
    case = tmp_path / "case.duckdb"
    assert ingest(case, [source], fmt="twitter-v1").files[0].stored == 3
    assert pairs(cnt_network(db, "co_retweet")) == {("802", "803")}
    assert set(our_edges(case, "co-repost")) == {("801", "802"), ("801", "803"), ("802", "803")}


# --- a simulated data set of 20,000 posts ------------------------------------------------


@dataclass(frozen=True)
class Simulated:
    cnt: dict[str, Directed]
    ours: dict[str, dict[tuple[str, str], Edge]]
    posts: dict[str, tuple[str, str]]  # post_id -> (kind, text), as we stored them


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """The simulator's data set (farms, communities, cascades, organic accounts) written
    as CNT's CSV by our writer, then run through both tools."""
    folder = tmp_path_factory.mktemp("peer_cnt_sim")
    simulate(SimulationConfig(posts=20_000, days=3), folder / "sim", formats=())
    profiles = {a.account_id: a for a in read_accounts(folder / "sim" / "accounts.parquet")}
    source = folder / "posts.csv"
    WRITERS["cnt-csv"].write(source, list(read_posts(folder / "sim" / "posts.parquet")), profiles)
    db = folder / "cnt.db"
    cnt_preprocess(db, source)
    cnt_sql(db, "DELETE FROM message_url WHERE url = ''")  # the known fault, set aside
    peer = {net: cnt_network(db, net) for net in NETWORKS}
    case = folder / "case.duckdb"
    assert ingest(case, [source], fmt="cnt-csv").files[0].rejected == 0
    ours = {net: our_edges(case, trace) for net, trace in NETWORKS.items()}
    posts = {
        str(p): (str(k), str(t)) for p, k, t in query(case, "SELECT post_id, kind, text FROM posts")
    }
    return Simulated(cnt=peer, ours=ours, posts=posts)


@pytest.mark.slow
@pytest.mark.parametrize("network", ["co_retweet", "co_reply"])
def test_simulated_pairs_equal_the_peers(simulated: Simulated, network: str) -> None:
    """Co-retweet and co-reply on 20,000 simulated posts: the same pairs; CNT's directed
    weights are our evidence's post counts wherever the evidence is whole (it is cut at
    20 pairs), and never more than our coactions."""
    peer, ours = simulated.cnt[network], simulated.ours[network]
    assert len(ours) > 1_000
    assert pairs(peer) == set(ours)
    whole = {pair: edge for pair, edge in ours.items() if edge.complete}
    assert len(whole) > 0.9 * len(ours)
    assert as_cnt(whole) == {
        pair: w
        for pair, w in peer.items()
        if (min(pair), max(pair)) in whole and pair[0] != pair[1]
    }
    for (a, b), edge in ours.items():
        assert max(peer[(a, b)], peer[(b, a)]) <= edge.coactions


@pytest.mark.slow
def test_simulated_co_link_equals_the_peers_without_repost_links(simulated: Simulated) -> None:
    """Co-link on the simulated posts: with CNT's empty-URL fault set aside, and the links
    of reposts set aside on our side (CNT never stores them, see
    test_cnt_skips_links_in_reposts), the directed weights are equal. Ours hold more
    pairs: reposts carry their original's links."""
    kinds = {post: kind for post, (kind, _) in simulated.posts.items()}

    def no_repost(post_a: str, post_b: str) -> bool:
        return kinds[post_a] != "repost" and kinds[post_b] != "repost"

    ours = simulated.ours["co_link"]
    assert as_cnt(ours, no_repost) == without_loops(simulated.cnt["co_link"])
    assert len(ours) > len(pairs(simulated.cnt["co_link"]))


@pytest.mark.slow
def test_simulated_co_text_differs_only_by_normalisation(simulated: Simulated) -> None:
    """Co-tweet on the simulated posts: our post pairs whose texts CNT's own normaliser
    makes equal give exactly CNT's directed weights; every other pair of ours is one that
    only our normalisation joins (here: the same text, one with a link appended; see
    test_cnt_co_tweet_normalises_less)."""
    from coordination_network_toolkit.similarity import message_preprocessor

    texts = {post: text for post, (_, text) in simulated.posts.items()}

    def same_for_cnt(post_a: str, post_b: str) -> bool:
        same: bool = message_preprocessor(texts[post_a]) == message_preprocessor(texts[post_b])
        return same

    ours = simulated.ours["co_tweet"]
    assert as_cnt(ours, same_for_cnt) == without_loops(simulated.cnt["co_tweet"])
    assert len(ours) > len(pairs(simulated.cnt["co_tweet"])) > 1_000
