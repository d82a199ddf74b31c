"""The same traces and band join on Spark (local mode) and on DuckDB give identical edges.

Needs the `spark` extra (PySpark) and Java; CI installs both. Skipped, with the reason, where
PySpark is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import query
from tests.signals.test_avatar import picture
from trollscope.engine.run import edges
from trollscope.features.avatars import avatars
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.simulate.config import SimulationConfig
from trollscope.simulate.run import simulate
from trollscope.traces import TRACES

pytest.importorskip("pyspark", reason="the Spark engine needs the 'spark' extra")
if shutil.which("java") is None:
    pytest.skip("the Spark engine needs Java 17+ on PATH", allow_module_level=True)

pytestmark = pytest.mark.slow

# Text that tests the engines' string functions alike: Persian and Arabic letter variants,
# tatweel, ZWNJ, decomposed accents (NFC), full-width hashtags (NFKC), a tracking link,
# text that ends in 'v' (Ibis's strip() on Spark once ate it), perceptual hashes, and rows
# exactly one window apart; a vertical tab (spacing in Java's \s, not in RE2's).
MIXED = """post,user,time,text,tag,url,mention,reply,phash,acreated,avatar
p1,a,1609459300,Good morning from Kyiv,ＦｒｅｅＩｒａｎ,HTTPS://News.Example.com/s?id=7&utm_source=x#top,@Bob,,fab784480ec6967a,2020-01-01T00:00:00,http://pbs.twimg.com/profile_images/77/face_normal.jpg
p2,b,1609459360,good   morning from kyiv!!,freeiran,https://news.example.com/s?id=7&fbclid=z,bob,r1,FAB784480EC6967A,2020-01-01T00:00:30,https://pbs.twimg.com/profile_images/77/face_400x400.jpg
p3,c,1609459361,"الطقس جميل اليوم في Kyiv",كتاب,https://example.org/a/,carol,r1,0x1,2020-01-01T00:01:31,https://cdn.bsky.app/img/avatar/plain/did:plc:c/bafk1@jpeg
p4,d,1609459370,"الطقس جمیل الیوم فی kyiv",کتاب,https://example.org/a,carol,r1,,2020-01-02T00:00:00,https://cdn.bsky.app/img/avatar_thumbnail/plain/did:plc:d/bafk1@jpeg
p5,e,1609459375,Cafe\u0301 ouvert,کـتاب,,,r2,,,https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png
p6,f,1609459376,Café ouvert,,,,r2,,2020-01-02T00:00:59,https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png
p7,a,1609459700,café OUVERT,freeiran,,,,,2020-01-01T00:00:00,http://pbs.twimg.com/profile_images/77/face_normal.jpg
p8,g,1609460100,"Hello\u000bworld,  again",,,,,,,  avatar:g\t
p9,h,1609460120,hello world again,,,,,,,avatar:g
"""


@pytest.fixture(scope="module")
def spark_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("spark")
    case = tmp_path / "case.duckdb"
    mixed = tmp_path / "mixed.csv"
    text = MIXED.replace("\\u0301", "\u0301").replace("\\u000b", "\x0b")
    mixed.write_text(text.replace("\\t", "\t"), encoding="utf-8")
    mapping = parse_mapping(
        "post=post,account=user,time=time,text=text,hashtag=tag,url=url,mention=mention,"
        "reply_to=reply,phash=phash,account_created_at=acreated,avatar=avatar"
    )
    ingest(case, [mixed], options=ReadOptions(mapping=mapping, platform="forum"))
    # Quotes within a window of each other (the simulator's organic quotes rarely are).
    quotes = tmp_path / "quotes.csv"
    quotes.write_text(
        "post,user,time,quoted\nq1,a,1609460200,x1\nq2,b,1609460230,x1\nq3,c,1609464200,x1\n"
    )
    ingest(
        case,
        [quotes],
        options=ReadOptions(
            mapping=parse_mapping("post=post,account=user,time=time,quote_of=quoted"),
            platform="forum",
        ),
    )
    simulate(SimulationConfig(posts=3_000, days=1), tmp_path / "sim", formats=("twarc2",))
    ingest(case, [tmp_path / "sim" / "twarc2.jsonl"])
    # Pictures: g and h wear one (h a smaller copy), e and f one with the platform's
    # default avatar (its key is dropped), a one of its own.
    folder = tmp_path / "avatars"
    folder.mkdir()
    picture(0).save(folder / "g.png")
    picture(0, (200, 200)).save(folder / "h.jpg")
    picture(1).save(folder / "e.png")
    picture(1).save(folder / "f.png")
    picture(2).save(folder / "a.png")
    avatars(case, folder)
    return case


def _edges(case: Path, trace: str) -> list[tuple[object, ...]]:
    # Scores too, to the last bit: IDFs sit on a grid whose sums are exact in any order.
    return sorted(query(case, "SELECT * FROM edges WHERE trace = ?", [trace]))


RUNS = [(name, 60.0) for name in TRACES] + [("co-repost", 0.0), ("co-hashtag", 0.0)]


@pytest.mark.parametrize(("trace", "window"), RUNS)
def test_spark_and_duckdb_give_identical_edges(spark_case: Path, trace: str, window: float) -> None:
    n_duck = edges(spark_case, trace, window)
    on_duck = _edges(spark_case, trace)
    n_spark = edges(spark_case, trace, window, engine="spark")
    on_spark = _edges(spark_case, trace)
    assert n_duck == n_spark == len(on_duck)
    # The data exercises every trace: the comparison is never between two empty sets.
    assert n_duck > 0
    assert on_duck == on_spark


def test_spark_skips_the_same_viral_keys(spark_case: Path) -> None:
    case = spark_case
    edges(case, "co-repost", 60, max_burst=5)
    on_duck = _edges(case, "co-repost"), query(case, "SELECT * FROM skipped_keys ORDER BY ALL")
    edges(case, "co-repost", 60, max_burst=5, engine="spark")
    on_spark = _edges(case, "co-repost"), query(case, "SELECT * FROM skipped_keys ORDER BY ALL")
    assert on_duck[1], "no key was over the burst cap: the test data is too small"
    assert on_duck == on_spark


def test_a_vertical_tab_is_spacing_on_both_engines(spark_case: Path) -> None:
    """g's "Hello<VT>world,  again" and h's "hello world again": the same text to co-text."""
    pair = "SELECT count(*) FROM edges WHERE trace = 'co-text' AND account_a = 'g'"
    for engine in ("duckdb", "spark"):
        edges(spark_case, "co-text", 60, engine=engine)
        assert query(spark_case, pair) == [(1,)], engine


def test_a_closed_spark_backend_leaves_no_views_behind(spark_case: Path) -> None:
    """The session outlives the backend; views left over would point at the files of a
    temporary folder that is gone."""
    import ibis
    import pyarrow as pa

    from trollscope.case import Case
    from trollscope.engine.run import engine_for
    from trollscope.engine.spark import session

    def views() -> set[str]:
        return {t.name for t in session().catalog.listTables() if t.isTemporary}

    before = views()
    with Case.open(spark_case) as case, engine_for("spark", case.con) as engine:
        engine.register("ts_test_registered", pa.table({"x": pa.array([1, 2], pa.int64())}))
        engine.materialize("ts_test_made", ibis.table({"x": "int64"}, name="ts_test_registered"))
        assert {"ts_test_registered", "ts_test_made", "ts_posts"} <= views()
    assert views() == before


def test_spark_numbers_rows_in_order_without_moving_them_to_one_partition(
    spark_case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids (accounts, keys, rows, posts, candidate pairs) are each row's place in a sorted
    order. A window over the whole table gives it, but Spark computes that window in one
    partition: one task would number every row of a trace. `number` must give the same
    places as DuckDB's window, with no single-partition exchange in its plan."""
    import random

    import ibis
    import pyarrow as pa

    from trollscope.case import Case
    from trollscope.engine.run import engine_for

    rng = random.Random(3)
    letters = ["a", "b", "Z", "é", "e\u0301", "ک", "ك", "0", "", "~", "\U0001f600"]
    keys = {("x" if rng.random() < 0.7 else "y", "".join(rng.choices(letters, k=rng.randint(0, 6))))
            for _ in range(6_000)}  # fmt: skip
    shuffled = sorted(keys)
    rng.shuffle(shuffled)
    table = pa.table(
        {
            "platform": [p for p, _ in shuffled],
            "key": [k for _, k in shuffled],
            "extra": list(range(len(shuffled))),
        }
    )
    source = ibis.table({"platform": "string", "key": "string", "extra": "int64"}, name="ts_src")
    numbered = ibis.table(
        {"platform": "string", "key": "string", "extra": "int64", "n": "int32"}, name="ts_num"
    )
    found = {}
    plans = {}
    # Small tables are numbered in one bucket: this one is cut into buckets all the same.
    monkeypatch.setattr("trollscope.engine.spark._ONE_BUCKET", 0)
    with Case.open(spark_case) as case:
        for name in ("duckdb", "spark"):
            with engine_for(name, case.con) as engine:
                engine.register("ts_src", table)
                engine.number("ts_num", source, "n", ("platform", "key"), "int32")
                found[name] = engine.fetch(numbered.order_by("extra"))
                if name == "spark":

                    def plan(view: str) -> str:
                        frame = engine._cached[view]  # type: ignore[attr-defined]
                        return str(frame._jdf.queryExecution().executedPlan().toString())

                    plans["number"] = plan("ts_num")
                    frame = engine.spark.table("ts_src")  # type: ignore[attr-defined]
                    bounds = engine._bounds(frame, ("platform", "key"))  # type: ignore[attr-defined]
                    assert len(bounds) >= 4  # several buckets, not one
                    window = ibis.row_number().over(order_by=[source.platform, source.key])
                    engine.materialize("ts_win", source.mutate(n=window))
                    plans["window"] = plan("ts_win")
    assert found["spark"].equals(found["duckdb"])
    assert sorted(found["spark"].column("n").to_pylist()) == list(range(len(keys)))
    # The check can fail: the plain window's plan has the exchange.
    assert "SinglePartition" in plans["window"]
    assert "SinglePartition" not in plans["number"]


@pytest.fixture(scope="module")
def week_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of a simulated platform: accounts with the posts rhythm needs (20 or more),
    office-hours farms, copies, replies and mentions."""
    tmp_path = tmp_path_factory.mktemp("week")
    simulate(SimulationConfig(posts=20_000, days=7), tmp_path / "sim", formats=("twarc2",))
    ingest(tmp_path / "case.duckdb", [tmp_path / "sim" / "twarc2.jsonl"])
    return tmp_path / "case.duckdb"


@pytest.mark.parametrize(
    ("fixture", "name"),
    [
        ("week_case", "rhythm"),
        ("week_case", "content-mix"),
        ("spark_case", "content-mix"),
        ("week_case", "creation-burst"),
        ("spark_case", "creation-burst"),
        ("week_case", "profile"),
        ("spark_case", "profile"),
        ("week_case", "avatar"),
        ("spark_case", "avatar"),
    ],
)
def test_signals_that_read_the_posts_give_the_same_rows_on_spark(
    request: pytest.FixtureRequest, fixture: str, name: str
) -> None:
    """Rhythm's and content's passes over the posts, and creation-burst's, profile's and
    avatar's over the accounts, run on the engine detect runs on: the same accounts, values,
    p-values, evidence and side tables on both. (spark_case has a platform dated by day
    and one by the second: both of creation-burst's grids.)"""
    from trollscope.case import Case
    from trollscope.engine.run import engine_for
    from trollscope.signals import SIGNALS, SignalParams

    with Case.open(request.getfixturevalue(fixture)) as case:
        on_duck = SIGNALS[name].compute(case.con, SignalParams())
        with engine_for("spark", case.con) as spark:
            on_spark = SIGNALS[name].compute(case.con, SignalParams(), spark)
        # Read after the Spark backend closed: kept rows must outlive its folder.
        duck_rows = on_duck.all_accounts(case.con)
        assert duck_rows.num_rows > 0, "no account to compare: the test data is too small"
        assert on_spark.all_accounts(case.con).equals(duck_rows)
        assert on_spark.accounts.equals(on_duck.accounts)
        assert on_spark.table_names() == on_duck.table_names()
        for table in on_duck.table_names():
            rows = on_duck.table(case.con, table)
            assert rows.num_rows > 0, table
            assert on_spark.table(case.con, table).equals(rows), table


def test_a_copy_in_the_case_outlives_close_and_goes_with_drop(spark_case: Path) -> None:
    """`to_case` copies a Spark table into the case's connection: the copy stays when the
    backend closes (kept rows are stored after it) and goes when the table is dropped."""
    from trollscope.case import Case
    from trollscope.engine.run import engine_for
    from trollscope.inputs import Inputs

    accounts = Inputs().accounts.select("platform", "account_id")
    with Case.open(spark_case) as case:
        with engine_for("spark", case.con) as spark:
            for name in ("ts_copy_kept", "ts_copy_dropped"):
                spark.store(name, accounts)
                spark.to_case(name)
            spark.drop("ts_copy_dropped")
        left = {
            r[0]
            for r in case.con.sql(
                "SELECT table_name FROM duckdb_tables() WHERE temporary"
            ).fetchall()
        }
        kept = case.con.sql("SELECT count(*) FROM ts_copy_kept").fetchall()[0][0]
        held = case.con.sql("SELECT count(*) FROM accounts").fetchall()[0][0]
    assert "ts_copy_kept" in left and "ts_copy_dropped" not in left
    assert kept == held > 0


def test_signals_command_on_spark_stores_what_duckdb_stores(
    week_case: Path, tmp_path: Path
) -> None:
    """`trollscope signals --engine spark`: every signal computed on Spark and stored in
    the case after the engine closed (the kept rows outlive its folder), row for row what
    the DuckDB run stores."""
    from click.testing import CliRunner

    from trollscope.cli import cli

    stored: dict[str, list[list[tuple[object, ...]]]] = {}
    for engine in ("duckdb", "spark"):
        case = tmp_path / f"{engine}.duckdb"
        shutil.copy(week_case, case)
        run = CliRunner().invoke(cli, ["signals", str(case), "--engine", engine, "--json"])
        assert run.exit_code == 0, run.output
        stored[engine] = [
            query(case, "SELECT * FROM account_signals ORDER BY ALL"),
            query(case, "SELECT * FROM rhythm_scores ORDER BY ALL"),
            query(case, "SELECT * FROM content_mix ORDER BY ALL"),
            query(case, "SELECT * FROM profile_features ORDER BY ALL"),
            query(case, "SELECT * FROM creation_histogram ORDER BY ALL"),
        ]
    assert all(stored["duckdb"]), "a table came out empty: the test would compare nothing"
    assert stored["spark"] == stored["duckdb"]


def test_content_fits_draw_the_same_sample_on_spark(
    week_case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where more accounts have enough trials than the fit reads, the engine numbers them
    and the driver fetches those drawn: the same accounts on both engines, so the same
    fitted nulls and rows. (A sample of 40, so that the week's accounts outnumber it.)"""
    from trollscope.case import Case
    from trollscope.engine.run import engine_for
    from trollscope.signals import SIGNALS, SignalParams, content

    monkeypatch.setattr(content, "DISPERSION_SAMPLE", 40)
    with Case.open(week_case) as case:
        on_duck = SIGNALS["content-mix"].compute(case.con, SignalParams())
        with engine_for("spark", case.con) as spark:
            on_spark = SIGNALS["content-mix"].compute(case.con, SignalParams(), spark)
        mix = on_duck.table(case.con, "content_mix")
        assert on_spark.all_accounts(case.con).equals(on_duck.all_accounts(case.con))
        assert on_spark.table(case.con, "content_mix").equals(mix)
    eligible = max(
        sum(n >= content.MIN_TRIALS_FOR_DISPERSION for n in mix.column(trials).to_pylist())
        for _, _, trials, _ in content.MEASURES
    )
    assert eligible > 40, "no measure drew a sample: this test tests nothing"
    assert on_spark.tables["content_rates"].equals(on_duck.tables["content_rates"])


def test_avatar_keys_on_spark_join_variants_and_drop_default_pictures(spark_case: Path) -> None:
    """What the avatar keys are on Spark, written out: one Twitter upload at two sizes and
    over http and https, one Bluesky blob under two DIDs, a string with spaces and a tab
    around it, one picture at two sizes; the picture worn by accounts with the default
    avatar is no key."""
    from trollscope.case import Case
    from trollscope.engine.run import engine_for
    from trollscope.signals import SIGNALS, SignalParams

    g_picture = query(spark_case, "SELECT key FROM avatar_hashes WHERE account_id = 'g'")
    with Case.open(spark_case) as case, engine_for("spark", case.con) as spark:
        reuse = SIGNALS["avatar"].compute(case.con, SignalParams(), spark).tables["avatar_reuse"]
    forum = {r["key"]: r["accounts"] for r in reuse.to_pylist() if r["platform"] == "forum"}
    assert forum == {
        "data:https://pbs.twimg.com/profile_images/77/face.jpg": 2,
        "data:bsky-blob:bafk1": 2,
        "data:avatar:g": 2,
        g_picture[0][0]: 2,
    }


def test_a_bio_is_spaced_alike_on_both_engines(spark_case: Path) -> None:
    """profile's example bios make runs of spaces one as RE2's \\s does (DuckDB's, which
    the examples were first made with): tab, newline, form feed, return and space, not a
    vertical tab (spacing to Java's \\s) nor a no-break space; and an 'f' stays an 'f'
    (Spark SQL reads '\\f' in a literal as 'f')."""
    import ibis
    import pyarrow as pa

    from trollscope.case import Case
    from trollscope.engine.run import engine_for
    from trollscope.signals.profile import SPACES

    bios = ["free\t\n\f\r  dom", "a\x0bb", "a\u00a0 b", "fff"]
    table = ibis.table({"bio": "string"}, name="ts_test_bios")
    spaced = table.select(table.bio, out=table.bio.re_replace(SPACES, " ")).order_by("bio")
    with Case.open(spark_case) as case:
        case.con.register("ts_test_bios", pa.table({"bio": bios}))
        re2 = case.con.sql(
            "SELECT bio, regexp_replace(bio, '\\s+', ' ', 'g') FROM ts_test_bios ORDER BY bio"
        ).fetchall()
        assert [r[1] for r in re2] == ["a\x0bb", "a\u00a0 b", "fff", "free dom"]
        for engine in ("duckdb", "spark"):
            with engine_for(engine, case.con) as on:
                on.register("ts_test_bios", pa.table({"bio": bios}))
                got = on.fetch(spaced)
            assert list(zip(got["bio"].to_pylist(), got["out"].to_pylist(), strict=True)) == re2
