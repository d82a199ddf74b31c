"""The co-action engine: a trace's rows -> the band join -> co-action edges in the case.

`run.py` runs a trace on an engine (DuckDB in the case, or Spark through `spark.py`) and
stores its edges; `coaction.py` is the band join, written once as Ibis expressions;
`edgestore.py` is how the case keeps the edges (the view `edges`).
"""

# The engines a trace can run on.
ENGINES = ("duckdb", "spark")
# Keys touched by more accounts than this within one window are skipped as viral (run.py).
MAX_BURST = 5_000
