"""The co-action engine on hand-made cases, and against CooRTweet on its own data."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import T0, query
from trollscope import api
from trollscope.engine.run import edges
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest


def _shares(tmp_path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    """A CooRTweet shares file: (object, account, content, seconds)."""
    path = tmp_path / "shares.csv"
    lines = ["object_id,account_id,content_id,timestamp_share"]
    lines += [f"{o},{a},{c},{T0 + t}" for o, a, c, t in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _edges(case: Path) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (str(a), str(b)): (int(n), int(k))  # type: ignore[call-overload]
        for a, b, n, k in query(case, "SELECT account_a, account_b, coactions, keys FROM edges")
    }


def _mapped(tmp_path: Path, case_path: Path, header: str, rows: list[str], mapping: str) -> None:
    """Ingest a CSV (header and rows) with a column mapping; a column `t` holds seconds
    after T0."""
    names = header.split(",")
    if "t" in names:
        at = names.index("t")
        parsed = list(csv.reader(rows))
        for row in parsed:
            row[at] = str(T0 + int(row[at]))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(parsed)
        rows = out.getvalue().splitlines()
    path = tmp_path / "mapped.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    ingest(case_path, [path], options=ReadOptions(mapping=parse_mapping(mapping)))


def test_window_is_inclusive_and_no_self_pairs(tmp_path: Path, case_path: Path) -> None:
    rows = [
        ("o1", "a", "1", 1000),
        ("o1", "b", "2", 1060),  # exactly 60 s after a: included
        ("o1", "c", "3", 1061),  # 61 s after a, 1 s after b
        ("o1", "a", "4", 1010),  # a again on the same key: never pairs with itself
        ("o2", "d", "5", 1000),
        ("o2", "e", "6", 1200),  # outside the window
    ]
    ingest(case_path, [_shares(tmp_path, rows)])
    assert edges(case_path, "co-repost", 60) == 3
    got = _edges(case_path)
    # a-b: (1,2) dt 60 and (4,2) dt 50 -> 2 distinct post pairs; a-c: (4,3) dt 51 only.
    assert got == {("a", "b"): (2, 1), ("a", "c"): (1, 1), ("b", "c"): (1, 1)}
    assert edges(case_path, "co-repost", 0) == 4  # same key, any time: d-e pairs too


def test_repeated_shares_count_once_per_post_pair(tmp_path: Path, case_path: Path) -> None:
    rows = [
        ("o1", "a", "1", 100),
        ("o1", "b", "2", 101),
        ("o2", "a", "3", 200),
        ("o2", "b", "4", 201),
    ]
    ingest(case_path, [_shares(tmp_path, rows)])
    ingest(case_path, [_shares(tmp_path, rows)])  # ingested twice: no new posts, same edges
    edges(case_path, "co-repost", 60)
    assert _edges(case_path) == {("a", "b"): (2, 2)}
    evidence = query(case_path, "SELECT evidence, evidence_total FROM edges")[0]
    assert evidence[1] == 2
    assert [e["key"] for e in evidence[0]] == ["o1", "o2"]  # type: ignore[union-attr]


def test_idf_weights_rare_keys_more(tmp_path: Path, case_path: Path) -> None:
    # o1 is touched by 4 accounts, o2 by 2: the pair sharing o2 scores higher.
    rows = [("o1", x, f"p{x}", 100) for x in "abcd"] + [
        ("o2", "e", "e1", 100),
        ("o2", "f", "f1", 101),
    ]
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", 60)
    score = dict(
        ((str(a), str(b)), float(s))  # type: ignore[arg-type]
        for a, b, s in query(case_path, "SELECT account_a, account_b, score FROM edges")
    )
    # 6 accounts in the trace: ln(6/4) for o1, ln(6/2) for o2.
    assert score[("a", "b")] == pytest.approx(0.4054651)
    assert score[("e", "f")] == pytest.approx(1.0986123)


def test_hashtags_fold_case_and_arabic_persian_letters(tmp_path: Path, case_path: Path) -> None:
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,tag",
        ["1,a,100,FreeIran", "2,b,110,freeiran", "3,c,100,كتاب", "4,d,105,کتاب"],
        "post=id,account=user,time=t,hashtag=tag",
    )
    edges(case_path, "co-hashtag", 60)
    assert set(_edges(case_path)) == {("a", "b"), ("c", "d")}


def test_links_are_normalised_and_empty_links_never_pair(tmp_path: Path, case_path: Path) -> None:
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,url",
        [
            "1,a,100,HTTPS://News.Example.com/story?id=7&utm_source=x#top",
            "2,b,110,https://news.example.com/story?id=7&fbclid=abc",
            "3,c,100, ",
            "4,d,101, ",
        ],
        "post=id,account=user,time=t,url=url",
    )
    edges(case_path, "co-link", 60)
    assert set(_edges(case_path)) == {("a", "b")}
    keys = query(case_path, "SELECT DISTINCT e.key FROM edges, unnest(evidence) AS t(e)")
    assert keys == [("https://news.example.com/story?id=7",)]


def test_coortweet_pairs_on_its_own_data(
    shared_data: Path, case_path: Path, tmp_path: Path
) -> None:
    """CooRTweet 2.1.3 detect_groups(time_window = 60, min_participation = 2) on
    russian_coord_tweets gives 3,721 account pairs: it drops accounts with fewer than 2
    rows, pairs accounts sharing an object within 60 s, and keeps a pair if one of its
    accounts has at least 2 distinct coordinated posts."""
    ingest(case_path, [shared_data / "coortweet" / "russian_coord_tweets.csv"])
    api.edges(case_path, "co-repost", 60, tmp_path / "edges.parquet")
    con = duckdb.connect(str(case_path), read_only=True)
    n = con.execute(
        """WITH active AS (
               SELECT account_id FROM posts GROUP BY 1 HAVING count(*) >= 2),
           kept AS (
               SELECT e.* FROM edges e
               WHERE account_a IN (SELECT * FROM active) AND account_b IN (SELECT * FROM active)),
           coordinated AS (
               SELECT account, count(DISTINCT post) AS posts FROM (
                   SELECT account_a AS account, ev.post_a AS post
                   FROM kept, unnest(evidence) AS t(ev)
                   UNION ALL
                   SELECT account_b, ev.post_b FROM kept, unnest(evidence) AS t(ev))
               GROUP BY 1)
           SELECT count(*) FROM kept
           WHERE account_a IN (SELECT account FROM coordinated WHERE posts >= 2)
              OR account_b IN (SELECT account FROM coordinated WHERE posts >= 2)"""
    ).fetchone()
    con.close()
    assert n == (3721,)
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'edges.parquet'}'").fetchall()[0][0] > 0


@pytest.mark.slow
@pytest.mark.parametrize("stealth", [0, 1])
def test_recall_of_planted_farms_on_the_default_scenario(
    stealth: int, tmp_path: Path, case_path: Path
) -> None:
    """At least 95% of planted-farm accounts appear in co-repost or co-hashtag edges."""
    from trollscope.simulate import SimulationConfig, simulate

    simulate(SimulationConfig().with_stealth(stealth), tmp_path / "sim", formats=("io-tweets",))
    ingest(case_path, [tmp_path / "sim" / "io_tweets.csv"])

    def recall() -> float:
        con = duckdb.connect(str(case_path), read_only=True)
        labels = str(tmp_path / "sim" / "labels.csv")
        row = con.execute(
            f"""WITH members AS (
                    SELECT account_id FROM read_csv('{labels}', all_varchar=true)
                    WHERE farm_id IS NOT NULL),
                linked AS (SELECT account_a AS a FROM edges UNION SELECT account_b FROM edges)
                SELECT avg(CASE WHEN account_id IN (SELECT a FROM linked) THEN 1 ELSE 0 END)
                FROM members"""
        ).fetchone()
        con.close()
        assert row is not None
        return float(row[0])

    edges(case_path, "co-repost", 60)
    if recall() < 0.95:  # co-hashtag is the slower trace: only when reposts do not suffice
        edges(case_path, "co-hashtag", 60)
    assert recall() >= 0.95


def test_co_text_normalises_copy_paste(tmp_path: Path, case_path: Path) -> None:
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,text",
        [
            '1,a,100,"Hello, World! https://t.co/abc @someone"',
            "2,b,110,hello   world!!",
            "3,c,100,سلامٌ يا كتاب‌ها",
            "4,d,120,سلام یا کتابها",
            "5,e,100,https://only.a/link",
            "6,f,101,https://only.a/link",
        ],
        "post=id,account=user,time=t,text=text",
    )
    edges(case_path, "co-text", 60)
    # A text of only a link has no key; the Persian/Arabic variants are one text.
    assert set(_edges(case_path)) == {("a", "b"), ("c", "d")}


def test_viral_keys_are_skipped_and_listed(tmp_path: Path, case_path: Path) -> None:
    # o1: 4 accounts within 60 s (a burst of 4); o2: 2 accounts, and 2 more an hour later.
    rows = [("o1", x, f"p{x}", 100 + i) for i, x in enumerate("abcd")]
    rows += [("o2", "e", "e1", 100), ("o2", "f", "f1", 110)]
    rows += [("o2", "g", "g1", 3700), ("o2", "h", "h1", 3710)]
    ingest(case_path, [_shares(tmp_path, rows)])
    assert edges(case_path, "co-repost", 60, max_burst=3) == 2
    assert set(_edges(case_path)) == {("e", "f"), ("g", "h")}
    assert query(case_path, "SELECT trace, key, burst FROM skipped_keys") == [
        ("co-repost", "o1", 4)
    ]
    # Any time (window 0): o2's four accounts form one burst of 4 too.
    edges(case_path, "co-repost", 0, max_burst=3)
    assert sorted(r[0] for r in query(case_path, "SELECT key FROM skipped_keys")) == ["o1", "o2"]


def test_bursts_across_bucket_edges(tmp_path: Path, case_path: Path) -> None:
    """The viral check only slides its window over keys whose two neighbouring one-window
    buckets hold more rows than the cap: a burst that straddles a bucket edge is still
    caught, and a key that only looks crowded by buckets is still kept."""
    rows = [("o1", x, f"a{x}", t) for x, t in zip("abcd", (50, 55, 65, 70), strict=True)]
    # o2: buckets [0, 60) and [60, 120) hold 4 rows, but no 60 s holds more than 3.
    rows += [("o2", x, f"b{x}", t) for x, t in zip("efgh", (0, 59, 61, 119), strict=True)]
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", 60, max_burst=3)
    assert query(case_path, "SELECT key, burst FROM skipped_keys") == [("o1", 4)]
    assert set(_edges(case_path)) == {("e", "f"), ("f", "g"), ("f", "h"), ("g", "h")}


def test_window_estimate_from_first_delays(tmp_path: Path, case_path: Path) -> None:
    from trollscope.engine.run import estimate_window

    # Ten keys; the second account follows the first after 1, 2, ..., 10 s (and a third
    # account much later, which does not count).
    rows = []
    for k in range(1, 11):
        rows += [(f"o{k}", "a", f"a{k}", 1000), (f"o{k}", "b", f"b{k}", 1000 + k)]
        rows += [(f"o{k}", "c", f"c{k}", 5000)]
    ingest(case_path, [_shares(tmp_path, rows)])
    estimate = estimate_window(case_path, "co-repost", quantile=0.5)
    assert estimate.keys == 10
    assert estimate.median_delay == pytest.approx(5.5)
    assert estimate.seconds == 6.0  # the median 5.5 s, rounded up to whole seconds
    assert "over 10 keys" in estimate.explain()


def test_edges_command(tmp_path: Path, case_path: Path) -> None:
    from click.testing import CliRunner

    from trollscope.cli import cli

    rows = [(f"o{k}", "a", f"a{k}", 1000) for k in range(3)]
    rows += [(f"o{k}", "b", f"b{k}", 1002) for k in range(3)]
    ingest(case_path, [_shares(tmp_path, rows)])
    out = tmp_path / "edges.csv"
    run = CliRunner().invoke(
        cli, ["edges", str(case_path), "--trace", "co-repost", "--window", "auto", "-o", str(out)]
    )
    assert run.exit_code == 0, run.output
    assert "window 2 s: the 10% quantile" in run.stdout
    assert "1 co-repost edges written" in run.stdout
    assert out.read_text(encoding="utf-8").startswith("trace,window_s,platform,account_a")
    bad = CliRunner().invoke(
        cli, ["edges", str(case_path), "--trace", "co-repost", "--window", "soon"]
    )
    assert bad.exit_code == 2
    assert "'soon' is neither a number of seconds nor 'auto'" in bad.stderr


def test_batch_creation_pairs_accounts_created_within_the_window(
    tmp_path: Path, case_path: Path
) -> None:
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,made",
        [
            "1,a,100,2020-01-01T00:00:00",
            "2,b,100,2020-01-01T00:01:00",  # 60 s after a: included
            "3,c,100,2020-01-01T00:02:01",  # 61 s after b, 121 s after a
            "4,d,100,2020-03-01T00:00:00",
            "5,e,100,",  # no creation time: never a key
        ],
        "post=id,account=user,time=t,account_created_at=made",
    )
    assert edges(case_path, "batch-creation", 60) == 1
    assert set(_edges(case_path)) == {("a", "b")}
    evidence = query(case_path, "SELECT evidence FROM edges")[0][0]
    assert evidence == [{"key": "created", "post_a": "a", "post_b": "b"}]
    assert edges(case_path, "batch-creation", 0) == 6  # any time: a..d pair, e never


def test_co_image_pairs_equal_perceptual_hashes_only(tmp_path: Path, case_path: Path) -> None:
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,phash,img",
        [
            "1,a,100,fab784480ec6967a,x.jpg",
            "2,b,130,0xFAB784480EC6967A,x.jpg",  # same hash, other spelling
            "3,c,140,fab784480ec6967b,x.jpg",  # one bit off: not the same key
            "4,d,150,,x.jpg",  # the same file name, no hash: names are not keys
        ],
        "post=id,account=user,time=t,phash=phash,media=img",
    )
    assert edges(case_path, "co-image", 60) == 1
    assert set(_edges(case_path)) == {("a", "b")}


def test_co_mention_folds_case(tmp_path: Path, case_path: Path) -> None:
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,m",
        ["1,a,100,Critic", "2,b,120,critic", "3,c,500,critic", "4,d,130,"],
        "post=id,account=user,time=t,mention=m",
    )
    assert edges(case_path, "co-mention", 60) == 1
    assert set(_edges(case_path)) == {("a", "b")}


def test_near_duplicate_text_pairs_light_edits_not_other_texts(
    tmp_path: Path, case_path: Path
) -> None:
    base = (
        "The regime's crimes against the people must be exposed to the whole world today, "
        "stand with the resistance and share this message with everyone you know"
    )
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,text",
        [
            f'1,a,100,"{base}"',
            f'2,b,110,"{base.replace("whole", "entire")}!!"',  # one word changed
            '3,c,115,"Lovely weather in Kyiv this morning, off to the market for bread"',
            f'4,d,400,"{base}"',  # the same text, outside the window
        ],
        "post=id,account=user,time=t,text=text",
    )
    assert edges(case_path, "near-dup-text", 60) == 1
    ((pair, (coactions, keys)),) = _edges(case_path).items()
    assert pair == ("a", "b")
    assert coactions == 1  # one post pair, however many bands it shares
    assert keys >= 1


def test_avatar_reuse_pairs_accounts_wearing_one_stored_picture(
    tmp_path: Path, case_path: Path
) -> None:
    default = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,pic",
        [
            "1,a,100,https://pbs.twimg.com/profile_images/77/face_normal.jpg",
            "2,b,100,https://pbs.twimg.com/profile_images/77/face_400x400.jpg",  # same upload
            "3,c,100,https://pbs.twimg.com/profile_images/78/face_normal.jpg",  # another
            f"4,d,100,{default}",
            f"5,e,100,{default}",  # default avatars are worn by everyone: never a key
        ],
        "post=id,account=user,time=t,avatar=pic",
    )
    assert edges(case_path, "avatar-reuse", 0) == 1
    assert set(_edges(case_path)) == {("a", "b")}


def test_hashtags_fold_compatibility_forms(tmp_path: Path, case_path: Path) -> None:
    # Full-width letters and the 'ﬁ' ligature (NFKC), then case folding: one tag, however
    # it was typed; a different tag stays apart.
    _mapped(
        tmp_path,
        case_path,
        "id,user,t,tag",
        [
            "1,a,100,ＦｒｅｅＩｒａｎ",
            "2,b,110,freeiran",
            "3,c,120,ﬁght",
            "4,d,125,FIGHT",
            "5,e,130,free",
        ],
        "post=id,account=user,time=t,hashtag=tag",
    )
    edges(case_path, "co-hashtag", 60)
    assert set(_edges(case_path)) == {("a", "b"), ("c", "d")}


def test_accounts_are_ordered_as_texts_and_platforms_never_meet(
    tmp_path: Path, case_path: Path
) -> None:
    """The engine joins on integer ids: they must order accounts as their texts do
    ("10" < "9" < "a"), and never pair accounts of two platforms sharing a key."""
    first = _shares(tmp_path, [("o1", "b", "1", 100), ("o1", "a", "2", 101)])
    ingest(case_path, [first], options=ReadOptions(platform="p1"))
    more = tmp_path / "more"
    more.mkdir()
    second = _shares(more, [("o1", "10", "3", 102), ("o1", "9", "4", 103)])
    ingest(case_path, [second], options=ReadOptions(platform="p1"))
    third = tmp_path / "third"
    third.mkdir()
    other = _shares(third, [("o1", "c", "5", 100), ("o1", "a", "6", 100)])
    ingest(case_path, [other], options=ReadOptions(platform="p2"))
    assert edges(case_path, "co-repost", 60) == 7
    got = query(case_path, "SELECT platform, account_a, account_b FROM edges ORDER BY ALL")
    p1 = ["10", "9", "a", "b"]
    want = [("p1", x, y) for i, x in enumerate(p1) for y in p1[i + 1 :]] + [("p2", "a", "c")]
    assert got == sorted(want)


def test_scratch_tables_are_dropped(tmp_path: Path, case_path: Path) -> None:
    from trollscope.case import Case
    from trollscope.engine.run import compute_edges, drop_scratch
    from trollscope.traces import TRACES

    rows = [("o1", "a", "1", 100), ("o1", "b", "2", 101), ("o2", "a", "3", 5)]
    ingest(case_path, [_shares(tmp_path, rows)])
    sql = "SELECT table_name FROM duckdb_tables() WHERE temporary ORDER BY ALL"
    with Case.open(case_path) as case:
        assert compute_edges(case.con, TRACES["co-repost"], 60, keep_scratch=True) == (1, 1)
        kept = {str(r[0]) for r in case.con.execute(sql).fetchall()}
        assert kept == {
            "ts_rows",
            "ts_pairs",
            "ts_id_rows",
            "ts_account_ids",
            "ts_key_ids",
            "ts_multi",
        }
        drop_scratch(case.con)
        assert case.con.execute(sql).fetchall() == []
        compute_edges(case.con, TRACES["co-repost"], 60)
        assert case.con.execute(sql).fetchall() == []
    assert query(case_path, "SELECT account_a, account_b FROM edges") == [("a", "b")]


@pytest.mark.parametrize("where", ["join", "insert"])
def test_a_failed_computation_keeps_the_old_edges_and_no_scratch(
    tmp_path: Path, case_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Out of memory in the scratch work or in the final INSERT: the case keeps its old
    edges and the connection no scratch table (detect goes on with it)."""
    from trollscope.case import Case
    from trollscope.engine import coaction
    from trollscope.engine.run import DuckDBBackend, compute_edges
    from trollscope.traces import TRACES

    rows = [("o1", "a", "1", 100), ("o1", "b", "2", 101)]
    ingest(case_path, [_shares(tmp_path, rows)])
    edges(case_path, "co-repost", 60)
    materialize, insert = DuckDBBackend.materialize, DuckDBBackend.insert

    def failing_join(self: DuckDBBackend, name: str, expr: Any) -> None:
        materialize(self, name, expr)
        if name == coaction.PAIRS:
            raise duckdb.OutOfMemoryException("out of memory (test)")

    def failing_insert(self: DuckDBBackend, expr: Any, table: str) -> int:
        insert(self, expr, table)  # half done, then a failure
        raise duckdb.OutOfMemoryException("out of memory (test)")

    if where == "join":
        monkeypatch.setattr(DuckDBBackend, "materialize", failing_join)
    else:
        monkeypatch.setattr(DuckDBBackend, "insert", failing_insert)
    sql = "SELECT table_name FROM duckdb_tables() WHERE temporary"
    with Case.open(case_path) as case:
        with pytest.raises(duckdb.OutOfMemoryException):
            compute_edges(case.con, TRACES["co-repost"], 0)
        assert case.con.execute(sql).fetchall() == []
    assert query(case_path, "SELECT account_a, account_b, window_s FROM edges") == [
        ("a", "b", 60.0)
    ]


def test_traces_with_checked_keys_never_yield_empty_ones(case_path: Path, tmp_path: Path) -> None:
    """A trace that says its keys are never empty skips the engine's filter: hold it to
    that on texts with nothing left after normalisation."""
    from trollscope import inputs
    from trollscope.case import Case
    from trollscope.engine.run import DuckDBBackend
    from trollscope.traces import TRACES

    texts = ["", "!!!", "🙂🙂", "https://x.org/a", "@name", "RT @a:", "ـــ", "\u200c\u200d", "  "]
    texts += ["ok text", "#tag"]
    _mapped(
        tmp_path,
        case_path,
        "id,user,when,body",
        [f'{i},u{i % 3},{T0 + 1000 + i},"{t}"' for i, t in enumerate(texts)],
        "post_id=id,account_id=user,created_at=when,text=body",
    )
    checked = [t for t in TRACES.values() if t.keys_checked]
    assert [t.name for t in checked] == ["co-text"]
    with Case.open(case_path) as case:
        backend = DuckDBBackend(case.con)
        for trace in checked:
            keys = case.con.execute(
                f"SELECT key FROM ({backend.sql(trace.rows(inputs.Inputs()))})"
            ).fetchall()
            assert len(keys) == 2  # "ok text" and "#tag"; nothing is left of the others
            assert all(k[0] for k in keys)


def test_memory_limit(tmp_path: Path, case_path: Path) -> None:
    from click.testing import CliRunner

    from trollscope.case import Case, limit_resources
    from trollscope.cli import cli
    from trollscope.errors import TrollscopeError

    ingest(case_path, [_shares(tmp_path, [("o1", "a", "1", 1), ("o1", "b", "2", 2)])])
    with Case.open(case_path) as case:
        limit_resources(case.con, case_path, "500MB")
        limit = case.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert limit == "476.8 MiB"
        with pytest.raises(TrollscopeError, match="'lots' is not a size: write it like 6GB"):
            limit_resources(case.con, case_path, "lots")
        with pytest.raises(TrollscopeError, match="'3kb' is too small"):
            limit_resources(case.con, case_path, "3kb")
        limit_resources(case.con, case_path, "1.5 GiB")
        limit = case.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert limit == "1.5 GiB"
    run = CliRunner().invoke(
        cli, ["edges", str(case_path), "--trace", "co-repost", "--memory-limit", "1GB"]
    )
    assert run.exit_code == 0, run.output
    bad = CliRunner().invoke(
        cli, ["edges", str(case_path), "--trace", "co-repost", "--memory-limit", "lots"]
    )
    assert bad.exit_code == 1
    assert "memory limit 'lots' is not a size" in bad.stderr


def test_edges_csv_neutralises_formulas(tmp_path: Path, case_path: Path) -> None:
    """An account id a spreadsheet would run (CSV injection) gets a ' in front in the
    edges CSV, unless --exact-csv; the case keeps the id as it is."""
    import csv

    from click.testing import CliRunner

    from trollscope.cli import cli

    rows = [("o1", "=cmd", "1", 100), ("o1", "b", "2", 101)]
    ingest(case_path, [_shares(tmp_path, rows)])
    for flag, want in (([], "'=cmd"), (["--exact-csv"], "=cmd")):
        out = tmp_path / "edges.csv"
        args = ["edges", str(case_path), "--trace", "co-repost", "-o", str(out), *flag]
        run = CliRunner().invoke(cli, args)
        assert run.exit_code == 0, run.output
        with out.open(encoding="utf-8", newline="") as handle:
            (row,) = list(csv.DictReader(handle))
        assert (row["account_a"], row["account_b"]) == (want, "b")
    assert query(case_path, "SELECT account_a FROM edges") == [("=cmd",)]


def test_keys_of_one_account_never_reach_the_band_join(
    tmp_path: Path, case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key that one account alone touched (here twice) can pair no one: it gets no id,
    so its rows are not joined; the IDF of the shared key still counts every account."""
    from trollscope.engine import coaction
    from trollscope.engine.run import DuckDBBackend

    rows = [("o1", "a", "1", 100), ("o1", "a", "2", 110), ("o2", "a", "3", 100)]
    rows += [("o2", "b", "4", 105), ("o3", "c", "5", 100)]
    ingest(case_path, [_shares(tmp_path, rows)])
    seen: dict[str, list[tuple[Any, ...]]] = {}
    materialize = DuckDBBackend.materialize

    def keep(self: DuckDBBackend, name: str, expr: Any) -> None:
        materialize(self, name, expr)
        seen[name] = self.con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()

    monkeypatch.setattr(DuckDBBackend, "materialize", keep)
    edges(case_path, "co-repost", 60)
    # (platform, key, idf, kid): the number is added last.
    assert [(key, round(idf, 6)) for _, key, idf, _ in seen[coaction.KEY_IDS]] == [
        ("o2", round(math.log(3 / 2), 6))
    ]
    assert len(seen[coaction.ID_ROWS]) == 2
    assert query(case_path, "SELECT account_a, account_b, score FROM edges") == [
        ("a", "b", pytest.approx(math.log(3 / 2)))
    ]


def test_ids_are_32_bit_below_2_31_rows() -> None:
    from trollscope.engine.coaction import id_type

    assert id_type(0) == "int32"
    assert id_type(2**31 - 2) == "int32"
    assert id_type(2**31 - 1) == "int64"


def _pairs_and_edges(
    tmp_path: Path, case_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The column types of the band join's table, and every edge, on a case whose pairs
    have one row (c-d) and several (a-b: two keys, one of them twice)."""
    from trollscope.engine import coaction
    from trollscope.engine.run import DuckDBBackend

    rows = [("o1", "a", "1", 100), ("o1", "b", "2", 110), ("o2", "a", "3", 200)]
    rows += [("o2", "b", "4", 230), ("o2", "b", "5", 250), ("o3", "c", "6", 100)]
    rows += [("o3", "d", "7", 105), ("o4", "e", "8", 100)]
    tmp_path.mkdir()
    ingest(case_path, [_shares(tmp_path, rows)])
    types: list[tuple[Any, ...]] = []
    materialize = DuckDBBackend.materialize

    def keep(self: DuckDBBackend, name: str, expr: Any) -> None:
        materialize(self, name, expr)
        if name == coaction.PAIRS:
            types.extend(
                self.con.execute(
                    f"SELECT column_name, column_type FROM (DESCRIBE {name})"
                ).fetchall()
            )

    monkeypatch.setattr(DuckDBBackend, "materialize", keep)
    edges(case_path, "co-repost", 60)
    got = query(case_path, "SELECT * EXCLUDE (score), round(score, 9) FROM edges ORDER BY ALL")
    return types, got


def test_band_join_rows_are_integers_and_64_bit_ids_give_the_same_edges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pairs, the run's largest table, hold four integers a row and no text (post ids,
    keys and delays come back by row number); a trace too large for 32-bit ids gets 64-bit
    ones and the same edges."""
    from trollscope.engine import coaction

    types, narrow = _pairs_and_edges(tmp_path / "32", tmp_path / "32.duckdb", monkeypatch)
    assert types == [("a", "INTEGER"), ("b", "INTEGER"), ("ra", "INTEGER"), ("rb", "INTEGER")]
    monkeypatch.setattr(coaction, "id_type", lambda rows: "int64")
    types, wide = _pairs_and_edges(tmp_path / "64", tmp_path / "64.duckdb", monkeypatch)
    assert [t for _, t in types] == ["BIGINT"] * 4
    assert wide == narrow
    by_pair = {(r[3], r[4]): r for r in narrow}
    # a-b: post pairs (1,2) at 10 s, (3,4) at 30 s, (3,5) at 50 s; keys o1 and o2.
    assert by_pair["a", "b"][5:9] == (
        3,
        2,
        30.0,
        [
            {"key": "o1", "post_a": "1", "post_b": "2"},
            {"key": "o2", "post_a": "3", "post_b": "4"},
            {"key": "o2", "post_a": "3", "post_b": "5"},
        ],
    )
    assert by_pair["c", "d"][5:9] == (1, 1, 5.0, [{"key": "o3", "post_a": "6", "post_b": "7"}])
    assert set(by_pair) == {("a", "b"), ("c", "d")}


_RUNS = st.text(
    alphabet=st.sampled_from([" ", "\t", "\n", "\x0b", "\r", "\f", ",", "!", "؟", "،", "«"])
    | st.sampled_from(["a", "Z", "7", "س", "ک", "é", "😀", "€", "+", "\u00a0", "\u2003", "_"]),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_RUNS, min_size=1, max_size=20))
@example(texts=["a  b", "a \x0b b", "x , y", "؟؟", " lead", "trail ", "\x0b", "a b c", "a\tb"])
def test_co_text_marks_pattern_collapses_every_run(texts: list[str]) -> None:
    """co-text's punctuation pattern skips runs that are one plain space already; it must
    give what collapsing every run of punctuation, symbols and spacing gives."""
    from trollscope.traces.keys import _MARKS

    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT regexp_replace(t, ?, ' ', 'g'), regexp_replace(t, ?, ' ', 'g') "
            "FROM unnest(?::VARCHAR[]) AS u(t)",
            [_MARKS, r"[\p{P}\p{S}\s\x0B]+", texts],
        ).fetchall()
    finally:
        con.close()
    assert [fast for fast, _ in rows] == [plain for _, plain in rows]
