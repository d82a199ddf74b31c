"""On a Parquet case the Spark engine reads the case's own files (those the manifest lists)
and computes the input tables itself: the same rows and types as DuckDB's, and the same
edges as on the DuckDB case it was converted from (engine/spark.py).

Needs the `spark` extra (PySpark) and Java, as tests/engine/test_spark.py does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests.conftest import query
from trollscope import api, inputs
from trollscope.case import Case
from trollscope.case.parquet import INNER
from trollscope.engine.run import edges
from trollscope.errors import TrollscopeError
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.simulate.config import SimulationConfig
from trollscope.simulate.run import simulate

pytest.importorskip("pyspark", reason="the Spark engine needs the 'spark' extra")
if shutil.which("java") is None:
    pytest.skip("the Spark engine needs Java 17+ on PATH", allow_module_level=True)

pytestmark = pytest.mark.slow

# A platform whose partition folder is percent-encoded, with every character Spark's
# globbing or a URI would read otherwise; and a case folder whose own name has some (as
# many as DuckDB takes in a case's path).
WEIRD = "we/ird=x %41 é[1]*?{a,b}:#"
FOLDER = "case [1] %41 é"
POSTS = f"""id,user,ts,text,tag,platform
w1,a,2021-01-01T00:00:00.123456Z,one,x,{WEIRD}
w2,b,2021-01-01T00:00:10.999999Z,two,x,{WEIRD}
w3,c,2021-01-01T00:00:20.000001Z,three,x,{WEIRD}
f1,a,2021-01-01T00:00:00.5Z,four,x,forum
f2,b,2021-01-01T00:00:30Z,five,x,forum
"""


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A DuckDB case and the Parquet case converted from it, whose posts folder also holds
    a file the manifest does not list (what a killed ingest leaves)."""
    tmp = tmp_path_factory.mktemp("spark-parquet")
    duck = tmp / "case.duckdb"
    table = tmp / "posts.csv"
    table.write_text(POSTS.replace(WEIRD, f'"{WEIRD}"'), encoding="utf-8")
    mapping = "post_id=id,account_id=user,created_at=ts,text=text,hashtag=tag,platform=platform"
    api.ingest(duck, [table], options=ReadOptions(mapping=parse_mapping(mapping)))
    simulate(SimulationConfig(posts=400, days=1), tmp / "sim", formats=("twarc2",))
    api.ingest(duck, [tmp / "sim" / "twarc2.jsonl"])
    # Times before 1970 (ingest refuses times before 2004; the engine must not care):
    # copies of the table's posts 55 years earlier, and an account made in 1969.
    con = duckdb.connect(str(duck))
    con.execute(
        "INSERT INTO posts SELECT * REPLACE ('old-' || post_id AS post_id, "
        "created_at - INTERVAL 55 YEAR AS created_at) FROM posts WHERE kind = 'post' "
        "AND (platform <> 'twitter' OR hashtags <> [])"
    )
    con.execute(
        "UPDATE accounts SET created_at = TIMESTAMP '1969-06-01 01:02:03.250001' "
        "WHERE account_id = 'a'"
    )
    con.close()
    folder = tmp / FOLDER
    api.convert_case(duck, folder)
    listed = next(folder.glob("posts/platform=forum/day=2021-01-01/part-*.parquet"))
    shutil.copy(listed, listed.with_name("part-leftover.parquet"))
    return duck, folder


def _types(table: pa.Table) -> list[pa.DataType]:
    """The column types, lists compared by their items (the engines name them apart)."""
    return [pa.list_(t.value_type) if pa.types.is_list(t) else t for t in table.schema.types]


def _sorted(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=repr)


def test_spark_computes_the_input_tables_duckdb_computes(
    cases: tuple[Path, Path], tmp_path: Path
) -> None:
    from trollscope.engine.spark import SparkBackend

    _, folder = cases
    with Case.open(folder, read_only=True) as case:
        backend = SparkBackend(case.con, tmp_path)
        try:
            for name, sql in inputs.CASE_VIEWS.items():
                on_spark = backend.spark.table(name).toArrow()
                on_duck = case.con.sql(sql).to_arrow_table()
                assert on_spark.column_names == on_duck.column_names, name  # no `day`
                assert _types(on_spark) == _types(on_duck), name
                assert _sorted(on_spark.to_pylist()) == _sorted(on_duck.to_pylist()), name
                rows = on_duck.to_pylist()
                # The data has what the test is about: odd platform names, times before
                # 1970 and with sub-second parts.
                assert {WEIRD, "forum"} <= {r["platform"] for r in rows}, name
                times = [int(str(r["us"])) for r in rows if r["us"] is not None]
                assert any(t < 0 and t % 1_000_000 for t in times), name
        finally:
            backend.close()
    # Read from the case's files, not exported through DuckDB; and not the leftover (its
    # posts would be there twice), which is still there.
    assert not list(tmp_path.iterdir())
    assert list(folder.glob("posts/platform=forum/day=*/part-leftover.parquet"))


def test_edges_on_spark_are_those_of_the_duckdb_case(cases: tuple[Path, Path]) -> None:
    """Spark on the Parquet case against DuckDB on the DuckDB case (test_spark.py has
    Spark against DuckDB on a DuckDB case)."""
    duck, folder = cases
    found = {}
    for case, inner, engine in ((duck, duck, "duckdb"), (folder, folder / INNER, "spark")):
        edges(case, "co-hashtag", 60, engine=engine)
        found[engine] = query(inner, "SELECT * FROM edges ORDER BY ALL")
    assert found["duckdb"] == found["spark"]
    assert {WEIRD, "forum"} <= {row[2] for row in found["duckdb"]}


def test_a_path_hadoop_cannot_glob_is_refused_with_a_way_out() -> None:
    from trollscope.engine.spark import _hadoop_path

    assert _hadoop_path(Path("/c [1]/a%2Fb")) == r"file:/c \[1\]/a%2Fb"
    assert _hadoop_path(Path("/c:1/a%2Fb")) == "file:/c:1/a%2Fb"
    with pytest.raises(TrollscopeError, match="Rename or move the case folder"):
        _hadoop_path(Path("/c:[1]/a"))
