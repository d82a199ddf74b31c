"""Near-duplicate text keys (MinHash/LSH): normalisation, the S-curve, real data, the case."""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from trollscope.case import Case
from trollscope.features.neardup import BANDS, ROWS, SHINGLE, lsh_keys, normalise
from trollscope.ingest.run import ingest
from trollscope.traces.neardup import neardup_rows

SENTENCE = (
    "The people of this country deserve to know the truth about what happened in the "
    "capital last night and we will keep asking questions until every official answers"
)  # 30 words
FARSI = (
    "مردم ایران امروز در خیابان‌های تهران برای آزادی و عدالت و زندگی بهتر فریاد زدند و "
    "ما صدای آنها را به گوش جهان خواهیم رساند تا همه بدانند چه اتفاقی افتاد"
)
RUSSIAN = (
    "Жители города вышли сегодня на улицы чтобы потребовать честных выборов и свободы "
    "слова и мы будем рассказывать об этом каждый день пока нас слышат"
)
ARABIC = (
    "خرج الناس اليوم إلى الشوارع للمطالبة بالحرية والعدالة وسنواصل نقل أصواتهم "
    "إلى العالم كل يوم حتى يسمعنا الجميع"
)


def keys_by_post(
    post_ids: Sequence[str], texts: Sequence[str | None], **params: int
) -> dict[str, set[str]]:
    table = lsh_keys(pa.array(post_ids, pa.string()), pa.array(texts, pa.string()), **params)
    out: dict[str, set[str]] = {p: set() for p in post_ids}
    for post, key in zip(table["post_id"].to_pylist(), table["key"].to_pylist(), strict=True):
        out[post].add(key)
    return out


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    return {text[i : i + k] for i in range(len(text) - k + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def s_curve(s: float) -> float:
    return float(1 - (1 - s**ROWS) ** BANDS)


# --- normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RT @bob: Hello, WORLD!!  https://t.co/x1Y @alice", "hello world"),
        ("HTTPS://Example.com/a?b=1 read   this\tnow\n", "read this now"),
        ("Привет, МИР!!! 🙂", "привет мир"),
        ("السَّلامُ عَلَيْكُم", "السلام علیکم"),  # harakat removed, ي and ك as Persian
        ("مي\u200cروم به كتابخانه ـــ سلامٌ!", "میروم به کتابخانه سلام"),  # ZWNJ, tatweel
        ("ســـلام   دوستان", "سلام دوستان"),  # tatweel inside a word
        ("Cafe\u0301 #FreeIran_now", "café freeiran now"),  # NFC; hashtag words kept
        ("   ", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(pa.array([raw])).to_pylist() == [expected]


def test_normalise_keeps_nulls() -> None:
    assert normalise(pa.array(["A", None, "b"])).to_pylist() == ["a", None, "b"]


def test_persian_variants_have_the_keys_of_the_normalised_text() -> None:
    arabic_keyboard = "مي\u200cخواهيم آزادي و زندگي را در كشورمان ببينيم ــ همين امروز"
    persian = "میخواهیم آزادی و زندگی را در کشورمان ببینیم همین امروز"  # written by hand
    assert normalise(pa.array([arabic_keyboard])).to_pylist() == [persian]
    keys = keys_by_post(["a", "p"], [arabic_keyboard, persian])
    assert len(keys["a"]) == BANDS
    assert keys["a"] == keys["p"]


# --- keys ----------------------------------------------------------------------------


def test_identical_texts_share_all_keys() -> None:
    texts = [SENTENCE, FARSI, RUSSIAN, ARABIC, "short but fine"]
    keys = keys_by_post(
        [f"{i}-{c}" for i in range(5) for c in "ab"], [t for t in texts for _ in "ab"]
    )
    for i in range(5):
        assert len(keys[f"{i}-a"]) == BANDS
        assert keys[f"{i}-a"] == keys[f"{i}-b"]
    # One key per band, and no key shared across different texts.
    assert len(set.union(*keys.values())) == 5 * BANDS


def test_copies_differing_in_links_mentions_case_and_punctuation_share_all_keys() -> None:
    keys = keys_by_post(
        ["a", "b"],
        [
            f"RT @someone: {SENTENCE} https://t.co/abc123",
            f"@other {SENTENCE.upper()}!!! ... https://bit.ly/zzz",
        ],
    )
    assert keys["a"] == keys["b"]


@pytest.mark.parametrize("text", [SENTENCE, FARSI, RUSSIAN, ARABIC])
def test_a_lightly_edited_copy_shares_a_key(text: str) -> None:
    words = text.split()
    edited = [*words]
    edited[12] = edited[3]  # one word changed
    edited[5] = edited[5].upper() + ","  # case and punctuation
    variant = "  " + " ".join(edited) + " !!"
    assert variant != text
    keys = keys_by_post(["orig", "edit"], [text, variant])
    assert keys["orig"] & keys["edit"]


def test_short_and_empty_texts_get_no_key() -> None:
    texts = [
        None,
        "",
        "abcd",
        "a  b!!",
        "https://t.co/abcdef @someone_long",
        "🙂🙂🙂🙂🙂🙂",
        "سلام",
    ]
    keys = keys_by_post([str(i) for i in range(len(texts))], texts)
    assert all(not k for k in keys.values())
    # Exactly `shingle` code points after normalisation is enough.
    assert len(keys_by_post(["x"], ["a  b,c d"])["x"]) == BANDS  # 'a b c d' is 7


def test_unrelated_sentences_rarely_share_a_key() -> None:
    # Random sentences over one small vocabulary: pairs share words, but little order.
    rng = random.Random(11)
    vocabulary = SENTENCE.lower().split() + RUSSIAN.lower().split()
    corpus = sorted({" ".join(rng.choices(vocabulary, k=rng.randrange(8, 25))) for _ in range(300)})
    keys = keys_by_post([str(i) for i in range(len(corpus))], corpus)
    pairs = list(itertools.combinations(range(len(corpus)), 2))
    shared = sum(bool(keys[str(i)] & keys[str(j)]) for i, j in pairs)
    assert shared / len(pairs) < 0.001
    # As often as the S-curve says for their (low, exact) Jaccard, give or take chance.
    expected = sum(s_curve(jaccard(corpus[i], corpus[j])) for i, j in pairs)
    assert shared <= expected + 4 * expected**0.5 + 1


def _edited_pairs(n: int, changed: int, seed: int) -> list[tuple[str, str]]:
    """Random texts of 150 CJK characters (all shingles distinct), and a copy with a run of
    `changed` characters replaced."""
    rng = random.Random(seed)

    def text(length: int) -> str:
        return "".join(chr(rng.randrange(0x4E00, 0x9FA0)) for _ in range(length))

    pairs = []
    for _ in range(n):
        a = text(150)
        at = rng.randrange(150 - changed)
        pairs.append((a, a[:at] + text(changed) + a[at + changed :]))
    return pairs


@pytest.mark.parametrize(("changed", "low", "high"), [(12, 0.95, 1.0), (60, 0.0, 0.2)])
def test_collision_rate_follows_the_s_curve(changed: int, low: float, high: float) -> None:
    pairs = _edited_pairs(800, changed, seed=changed)
    texts = [t for pair in pairs for t in pair]
    keys = keys_by_post([str(i) for i in range(len(texts))], texts)
    hits = [bool(keys[str(2 * i)] & keys[str(2 * i + 1)]) for i in range(len(pairs))]
    expected = [s_curve(jaccard(a, b)) for a, b in pairs]  # exact Jaccard, from the sets
    rate, mean = sum(hits) / len(hits), sum(expected) / len(expected)
    assert low <= rate <= high
    sd = (sum(p * (1 - p) for p in expected) / len(expected) ** 2) ** 0.5
    assert abs(rate - mean) < 4 * sd + 1e-9, (rate, mean, sd)


def test_defaults_meet_the_documented_s_curve() -> None:
    # The S-curve at the documented points, with the default parameters.
    assert s_curve(0.8) > 0.95
    assert s_curve(0.3) < 0.03


def test_same_input_same_keys_in_a_fresh_process() -> None:
    texts = [SENTENCE, FARSI, RUSSIAN, ARABIC]
    here = keys_by_post(["0", "1", "2", "3"], texts)
    assert here == keys_by_post(["0", "1", "2", "3"], texts)
    script = (
        "import json, sys, pyarrow as pa\n"
        "from trollscope.features.neardup import lsh_keys\n"
        "texts = json.loads(sys.stdin.read())\n"
        "t = lsh_keys(pa.array([str(i) for i in range(len(texts))]), pa.array(texts))\n"
        "print(json.dumps([t['post_id'].to_pylist(), t['key'].to_pylist()]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # Python's own hash() must not matter
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=REPO,
    )
    posts, keys = json.loads(done.stdout)
    there: dict[str, set[str]] = defaultdict(set)
    for post, key in zip(posts, keys, strict=True):
        there[post].add(key)
    assert there == here


def test_seed_and_parameters_change_the_keys() -> None:
    base = keys_by_post(["a"], [SENTENCE])["a"]
    assert base.isdisjoint(keys_by_post(["a"], [SENTENCE], seed=2)["a"])
    assert len(keys_by_post(["a"], [SENTENCE], bands=16, rows=4)["a"]) == 16
    with pytest.raises(ValueError, match="bands must be at least 1"):
        lsh_keys(pa.array(["a"]), pa.array([SENTENCE]), bands=0)
    with pytest.raises(ValueError, match="1 post ids but 2 texts"):
        lsh_keys(pa.array(["a"]), pa.array([SENTENCE, SENTENCE]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=30))
def test_any_text_gets_all_bands_or_none(texts: list[str | None]) -> None:
    ids = [str(i) for i in range(len(texts))]
    keys = keys_by_post(ids, texts)
    norm = normalise(pa.array(texts, pa.string())).to_pylist()
    for post, text, n in zip(ids, texts, norm, strict=True):
        judged = text is not None and len(n) >= SHINGLE
        assert len(keys[post]) == (BANDS if judged else 0)
    for i, j in itertools.combinations(range(len(texts)), 2):
        if texts[i] is not None and norm[i] == norm[j]:
            assert keys[ids[i]] == keys[ids[j]]


# --- real data -----------------------------------------------------------------------


def _ira_texts(shared: Path) -> list[str]:
    path = shared / "ira-sample" / "IRAhandle_tweets_sample.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["content"] for row in csv.DictReader(handle)]


def test_ira_sample_near_copies_found_and_nothing_else(shared_data: Path) -> None:
    texts = _ira_texts(shared_data)
    ids = [str(i) for i in range(len(texts))]
    keys = keys_by_post(ids, texts)
    shared = {
        (texts[i], texts[j])
        for i, j in itertools.combinations(range(len(texts)), 2)
        if keys[ids[i]] & keys[ids[j]]
    }
    # Read by hand in the file: the account posted three tweets twice, with "it's" then
    # "its", "president" then "President", and a different link.
    starts = (
        "After the 'genocide' remark",
        "'@realDonaldTrump Please Mr.",
        "President Trump tweeted",
    )
    for start in starts:
        assert any(a.startswith(start) and b.startswith(start) for a, b in shared), start
    assert len(shared) == len(starts)


def test_ira_sample_exact_copies_share_all_keys(shared_data: Path) -> None:
    texts = _ira_texts(shared_data)
    keys = keys_by_post(
        [f"{i}{c}" for i in range(len(texts)) for c in "ab"], [t for t in texts for _ in "ab"]
    )
    judged = 0
    for i in range(len(texts)):
        assert keys[f"{i}a"] == keys[f"{i}b"]
        judged += bool(keys[f"{i}a"])
    assert judged >= 95  # all but link-only or emoji-only tweets


# --- from a case ---------------------------------------------------------------------


def _case_with_posts(path: Path, rows: list[tuple[str, str, str, str | None, str]]) -> Case:
    """A real case file holding (post_id, account_id, created_at, text, kind) posts."""
    case = Case.open(path, create=True)
    for post_id, account, at, text, kind in rows:
        case.con.execute(
            "INSERT INTO posts (platform, post_id, account_id, created_at, text, kind, source_id) "
            "VALUES ('twitter', ?, ?, ?, ?, ?, 0)",
            [post_id, account, datetime.fromisoformat(at), text, kind],
        )
    return case


def test_neardup_rows_from_a_case(case_path: Path) -> None:
    rows: list[tuple[str, str, str, str | None, str]] = [
        ("1", "alice", "2024-03-01 10:00:00", SENTENCE, "post"),
        ("2", "bob", "2024-03-01 10:00:07", SENTENCE.replace("truth", "facts") + " !!", "reply"),
        ("3", "carol", "2024-03-01 10:01:00", f"RT @alice: {SENTENCE}", "repost"),
        ("4", "dave", "2024-03-01 11:00:00", None, "post"),
        ("5", "erin", "2024-03-01 12:00:00", FARSI, "quote"),
        ("6", "erin", "2024-03-01 12:00:01", "ok", "post"),
    ]
    case = _case_with_posts(case_path, rows)
    try:
        table = neardup_rows(case.con, batch=2)  # several batches
    finally:
        case.close()
    assert table.schema.names == ["platform", "account_id", "key", "us", "post_id"]
    got: dict[str, set[str]] = defaultdict(set)
    for row in table.to_pylist():
        got[row["post_id"]].add(row["key"])
        assert row["platform"] == "twitter"
        account, at = {r[0]: (r[1], r[2]) for r in rows}[row["post_id"]]
        assert row["account_id"] == account
        assert row["us"] == int((datetime.fromisoformat(at + "+00:00")).timestamp()) * 1_000_000
    assert set(got) == {"1", "2", "5"}  # no repost, no null, nothing too short
    assert got["1"] & got["2"]
    assert not got["1"] & got["5"]
    # The same keys as the pure function on the same texts.
    assert got == {
        k: v for k, v in keys_by_post(["1", "2", "5"], [rows[0][3], rows[1][3], rows[4][3]]).items()
    }


def test_neardup_rows_on_the_ingested_ira_sample(shared_data: Path, case_path: Path) -> None:
    ingest(case_path, [shared_data / "ira-sample" / "IRAhandle_tweets_sample.csv"])
    with Case.open(case_path, read_only=True) as case:
        table = neardup_rows(case.con)
        posts = case.con.sql(
            "SELECT post_id, text FROM posts WHERE kind <> 'repost' AND text IS NOT NULL"
        ).fetchall()
    assert posts
    got: dict[str, set[str]] = defaultdict(set)
    for post, key in zip(table["post_id"].to_pylist(), table["key"].to_pylist(), strict=True):
        got[post].add(key)
    expected = keys_by_post([str(p) for p, _ in posts], [str(t) for _, t in posts])
    assert got == {p: k for p, k in expected.items() if k}


def _clusters_in_sql(bands: pa.Table) -> pa.Table:
    """`cluster_expr` (the clusters as the Spark engine makes them) run on DuckDB."""
    import duckdb
    import ibis

    from trollscope.traces.neardup import TRACE_SCHEMA, cluster_expr

    con = duckdb.connect()
    con.register("ts_test_bands", bands.cast(TRACE_SCHEMA))
    sql = ibis.to_sql(cluster_expr(ibis.table(TRACE_SCHEMA, name="ts_test_bands")), "duckdb")
    got = con.sql(str(sql)).to_arrow_table()
    con.close()
    return got.sort_by([("platform", "ascending"), ("post_id", "ascending")])


@pytest.mark.parametrize("made_in", ["numpy", "sql"])
def test_near_copy_clusters_take_one_hop_to_a_larger_band(made_in: str) -> None:
    """A post's near-dup key is its largest band, or the larger band that holds at least
    half of that band's posts (two or more): an edit that breaks one band leaves others to
    tie the copies. Never on one post alone (a chance collision), and never a chain of
    such hops (texts that merely resemble one another would chain into one cluster).
    The same rule in numpy (DuckDB's engine) and as SQL (`cluster_expr`, Spark's)."""
    from trollscope.traces.neardup import cluster_rows

    bands = {
        "p1": ["k1", "k2"],
        "p2": ["k1", "k2"],
        "p3": ["k2", "k3"],  # k2 and k3 share p3 only: not joined
        "p4": ["k3", "k4"],
        "p5": ["k9"],
        # kA (5 posts) holds half of kB (4); kB (4) holds two of kC's 3 posts.
        "q1": ["kA"],
        "q2": ["kA"],
        "q3": ["kA", "kB"],
        "q4": ["kA", "kB"],
        "q8": ["kA"],
        "q5": ["kB", "kC"],
        "q6": ["kB", "kC"],
        "q7": ["kC"],
    }
    rows = [(post, key) for post, keys in bands.items() for key in keys]
    table = pa.table(
        {
            "platform": ["x"] * len(rows),
            "account_id": [f"a{p}" for p, _ in rows],
            "key": [k for _, k in rows],
            "us": [0] * len(rows),
            "post_id": [p for p, _ in rows],
        }
    )
    got = (cluster_rows(table) if made_in == "numpy" else _clusters_in_sql(table)).to_pydict()
    assert dict(zip(got["post_id"], got["key"], strict=True)) == {
        "p1": "k2",  # largest band k2 (3 posts); k1 is smaller
        "p2": "k2",
        "p3": "k2",
        "p4": "k3",  # k3's posts: only p3 also in k2, one post is not half-and-two
        "p5": "k9",
        "q1": "kA",
        "q2": "kA",
        "q3": "kA",
        "q4": "kA",
        "q8": "kA",
        "q5": "kA",  # largest band kB, which kA holds half of: one hop to kA
        "q6": "kA",
        "q7": "kB",  # largest band kC, held by kB: one hop to kB, not on to kA
    }


def test_the_clusters_in_sql_are_the_clusters_in_numpy(tmp_path: Path) -> None:
    """On a simulated week of posts with farms' near-copies: the trace's rows made by
    `hash_batch` and `cluster_expr` on an engine (here DuckDB through `map_batches`) are
    the rows `neardup_clusters` makes in numpy, post for post."""
    from trollscope.engine.run import DuckDBBackend
    from trollscope.simulate import SimulationConfig, simulate
    from trollscope.traces.neardup import clusters_on, neardup_clusters

    simulate(SimulationConfig(posts=20_000, days=7, seed=5), tmp_path / "sim", formats=("twarc2",))
    ingest(tmp_path / "case.duckdb", [tmp_path / "sim" / "twarc2.jsonl"])
    order = [("platform", "ascending"), ("post_id", "ascending")]
    with Case.open(tmp_path / "case.duckdb") as case:
        in_numpy = neardup_clusters(case.con.cursor()).sort_by(order)
        engine = DuckDBBackend(case.con)
        clusters_on(engine, "ts_test_clusters")
        in_sql = case.con.sql("SELECT * FROM ts_test_clusters").to_arrow_table()
        in_sql = in_sql.select(in_numpy.column_names).sort_by(order)
        engine.drop("ts_test_clusters")
    assert in_numpy.num_rows > 5_000
    keys = in_numpy.column("key").to_pylist()
    assert len(set(keys)) < len(keys) * 0.9, "too few near-copies to compare"
    assert in_sql.equals(in_numpy)
