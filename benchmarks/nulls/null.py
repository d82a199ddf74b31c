"""Per-edge p-values under the jitter null (DESIGN.md, "Significance, not thresholds").

The null. Each account's whole timeline is shifted by its own offset, uniform on
[-J, +J] and independent between accounts: every account keeps its own activity (its
rhythm, its targets, its attention to what is popular that hour), and only the synchrony
between accounts is broken. J (`jitter`, seconds) should be well above the window W: an
hour to a day.

The exact p-value of an edge. For an edge (a, b) of a trace at window W, let D be the
time differences d = t_b - t_a of the distinct post pairs (post_a, post_b) of a and b that
share a key of the trace, kept where |d| <= 2J + W (pairs further apart never meet under
the null). A post pair has one d (a post has one time; should a trace give a post two
times, the difference nearest 0 is kept). Only delta = offset_b - offset_a matters for
the edge; the co-action count becomes C(delta) = #{d in D : |d + delta| <= W}, and the
observed count (the edge's `coactions`) is C(0). The p-value is P(C(delta) >= C(0)): C
is piecewise constant, stepping up at -d - W and down just after -d + W, so one sweep
over the sorted breakpoints with a running count, adding up the probability of delta
between breakpoints where the count reaches C(0), gives it exactly (`jitter_pvalues`,
numpy over all edges at once).

The clock tick. Offsets are drawn on the data's own clock: whole multiples of its tick
(`tick`, seconds; by default the coarsest of 60 s, 1 s, 1 ms, 1 us that divides every
time of the trace), so delta is the difference of two uniforms on {-m..m} ticks (m =
J / tick), a discrete triangle; as the tick shrinks it tends to the triangular density
(2J - |x|) / 4J^2 on [-2J, 2J]. Why not that continuous triangle: on data stamped to the
minute, with W = 60 s, a pair acting at d = -60 s and d = +60 s has C(0) = 2 but C(delta)
= 2 only at delta = 0 exactly, a point of no continuous probability: p = 0 for two
minute-stamped coincidences. On the minute's lattice that point has probability 1/121
(J = 1 h), as it should.

What a per-edge p-value cannot do. For a pair whose co-actions are all tightly
synchronised (every |d| well inside W), C(delta) = C(0) exactly when |delta| <= W (give
or take the edges of the window), so p = P(|delta| <= W), about 1 - (1 - W / 2J)^2 ~ W / J
(0.0166 at W = 60 s, J = 1 h; 7e-4 at J = 1 day; a little more on a coarse tick),
however many co-actions the pair has: one draw of the offsets moves them all together.
Only co-actions spread out inside the window go below it. A million edges, each at best
at that floor, cannot pass an FDR threshold one by one; that is why the next steps
aggregate the evidence per account and per network rather than per edge.

Window 0 ("same key, any time") edges do not depend on time, so a time jitter leaves
them as they are: the null does not apply and their p-value is NULL.

`resampled_counts` draws the null for real (every account's timeline shifted in SQL and
the band join recomputed), to check the exact computation against.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trollscope.case import Case, transaction
from trollscope.detect.clock import US, clock_tick_us
from trollscope.engine.run import trace_rows_sql
from trollscope.errors import TrollscopeError
from trollscope.traces import TRACES

EDGE_PVALUES_SCHEMA = pa.schema(
    [
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_a", pa.string(), nullable=False),
        pa.field("account_b", pa.string(), nullable=False),
        pa.field("coactions", pa.int64(), nullable=False),
        pa.field("p_value", pa.float64()),
    ]
)

_STORE_DDL = """CREATE TABLE IF NOT EXISTS edge_pvalues (
    trace VARCHAR NOT NULL, platform VARCHAR NOT NULL, account_a VARCHAR NOT NULL,
    account_b VARCHAR NOT NULL, p_value DOUBLE, jitter_s DOUBLE NOT NULL, tick_s DOUBLE)"""

# Scratch tables of one call, temporary: nothing of them stays in the case.
_ACCOUNTS = "ts_null_accounts"  # (platform, account_id) -> aid, numbered in sorted order
_EDGES = "ts_null_edges"  # eid, pair = aid_a * 2^32 + aid_b, and the names
_ROWS = "ts_null_rows"  # the trace's rows of those accounts: aid, kid, us, pid
_SHIFTED = "ts_null_shifted"  # the rows under one chunk of resampled offsets
_OFFSETS = "ts_null_offsets"  # registered Arrow (rep, aid, off)
_PAIR = 4_294_967_296  # 2^32: two account numbers packed in one join key

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def lattice_cdf(k: Ints, m: int) -> Floats:
    """P(K <= k) for K = U_b - U_a, U_a and U_b independent and uniform on {-m, ..., m}:
    P(K = j) = (2m + 1 - |j|) / (2m + 1)^2 on {-2m, ..., 2m}."""
    n2 = 2.0 * (2 * m + 1) ** 2
    kk = np.clip(k, -2 * m - 1, 2 * m)
    below = (kk + 2 * m + 1).astype(np.float64)  # terms 1..t of the left half
    above = (2 * m - kk).astype(np.float64)  # by symmetry, P(K > k) = P(K <= -k - 1)
    return np.where(kk < 0, below * (below + 1) / n2, 1.0 - above * (above + 1) / n2)


def _sort_order(owner: Ints, pos: Ints, n_edges: int) -> Ints:
    """Indices sorting by (owner, pos): one packed int64 key when it fits (2x faster than
    lexsort), lexsort otherwise."""
    if pos.size == 0:
        return np.zeros(0, dtype=np.int64)
    low = int(pos.min())
    span = int(pos.max()) - low + 1
    if n_edges * span < 2**62:
        return np.argsort(owner * span + (pos - low)).astype(np.int64)
    return np.lexsort((pos, owner)).astype(np.int64)


def jitter_pvalues(
    edge: npt.ArrayLike,
    delay_us: npt.ArrayLike,
    n_edges: int,
    window_us: int,
    jitter_us: int,
    tick_us: int = 1,
) -> tuple[Ints, Floats]:
    """Exact jitter-null p-values of `n_edges` edges from their post pairs' delays.

    `edge[i]` (0 .. n_edges - 1) is the edge of the i-th distinct post pair and
    `delay_us[i]` its d = t_b - t_a in microseconds. Offsets are whole ticks in
    [-jitter, +jitter]. Returns (observed co-actions C(0), p-value) per edge; an edge
    without a co-action at 0 has p = 1.
    """
    if tick_us < 1 or jitter_us < tick_us:
        raise ValueError(f"need 1 <= tick_us <= jitter_us, not {tick_us} and {jitter_us}")
    e = np.asarray(edge, dtype=np.int64)
    d = np.asarray(delay_us, dtype=np.int64)
    if e.shape != d.shape:
        raise ValueError("edge and delay_us must have the same length")
    m = jitter_us // tick_us
    near = np.abs(d) <= 2 * m * tick_us + window_us
    e, d = e[near], d[near]

    # In ticks, d is counted for the offsets k with lo <= k <= hi: C steps up at lo and
    # down at hi + 1. Equal positions make segments of no probability, in any order.
    lo = -((d + window_us) // tick_us)
    hi = (window_us - d) // tick_us
    observed = np.bincount(e[(lo <= 0) & (hi >= 0)], minlength=n_edges).astype(np.int64)
    pos = np.concatenate([lo, hi + 1])
    owner = np.concatenate([e, e])
    step = np.concatenate([np.ones_like(d), -np.ones_like(d)])
    order = _sort_order(owner, pos, n_edges)
    pos, owner, step = pos[order], owner[order], step[order]
    # Every edge's steps sum to zero, so one global running sum starts from 0 at each
    # edge's first breakpoint: no per-edge offsets needed.
    count = np.cumsum(step)

    # The segment from a breakpoint to the next holds the offsets pos[i] .. pos[i+1] - 1.
    cdf = lattice_cdf(pos - 1, m)
    mass = np.zeros_like(cdf)
    mass[:-1] = np.where(owner[1:] == owner[:-1], cdf[1:] - cdf[:-1], 0.0)
    # After an edge's last breakpoint the count is 0, below any observed count >= 1.
    keep = count >= observed[owner]
    p = np.bincount(owner[keep], weights=mass[keep], minlength=n_edges)
    return observed, np.where(observed > 0, np.clip(p, 0.0, 1.0), 1.0)


def _trace_window(con: duckdb.DuckDBPyConnection, trace_name: str) -> float | None:
    """The window of the trace's stored edges; None when it has none."""
    if trace_name not in TRACES:
        raise TrollscopeError(f"unknown trace {trace_name!r}; choose one of: {', '.join(TRACES)}.")
    try:
        rows = con.execute(
            "SELECT DISTINCT window_s FROM edges WHERE trace = ?", [trace_name]
        ).fetchall()
    except duckdb.CatalogException:
        raise TrollscopeError(
            f"the case has no edges yet; compute them first with "
            f"`trollscope edges CASE --trace {trace_name}`."
        ) from None
    if len(rows) > 1:
        raise TrollscopeError(f"the edges of {trace_name!r} mix windows {sorted(rows)}.")
    return float(rows[0][0]) if rows else None


def _prepare(con: duckdb.DuckDBPyConnection, trace_name: str) -> tuple[int, bool]:
    """Fill the scratch tables: the trace's edges (numbered 0.. in sorted order), their
    accounts, and the trace's rows of those accounts with integer ids (joins on integers
    run 2-4x faster than on strings), the viral keys the engine skipped left out as the
    edges left them out. Returns the number of edges, and whether every post has a single
    row (then post pairs are distinct without grouping)."""
    # Both ends of each edge from one read of the view (see case.SAFE_OPTIMIZERS).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_ACCOUNTS} AS
        SELECT platform, account_id,
               (row_number() OVER (ORDER BY platform, account_id))::BIGINT AS aid
        FROM (SELECT DISTINCT platform, unnest([account_a, account_b]) AS account_id
              FROM edges WHERE trace = ?)""",
        [trace_name],
    )
    # Accounts are numbered in sorted order, so sorting on the packed pair sorts on
    # (platform, account_a, account_b) and a.aid < b.aid is account_a < account_b.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_EDGES} AS
        SELECT (row_number() OVER (ORDER BY x.aid * {_PAIR} + y.aid) - 1)::BIGINT AS eid,
               x.aid * {_PAIR} + y.aid AS pair, e.platform, e.account_a, e.account_b
        FROM edges e
        JOIN {_ACCOUNTS} x ON x.platform = e.platform AND x.account_id = e.account_a
        JOIN {_ACCOUNTS} y ON y.platform = e.platform AND y.account_id = e.account_b
        WHERE e.trace = ?""",
        [trace_name],
    )
    skipped = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'skipped_keys' AND NOT temporary"
    ).fetchall()[0][0]
    viral = (
        "ANTI JOIN (SELECT platform, key FROM skipped_keys WHERE trace = $1) s "
        "USING (platform, key)"
        if skipped
        else ""
    )
    rows = trace_rows_sql(con, TRACES[trace_name])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_ROWS} AS
        WITH r AS (
            SELECT r.platform, a.aid, r.key, r.us, r.post_id
            FROM ({rows}) r {viral}
            JOIN {_ACCOUNTS} a USING (platform, account_id)),
        k AS (SELECT platform, key, (row_number() OVER ())::BIGINT AS kid
              FROM (SELECT DISTINCT platform, key FROM r)),
        p AS (SELECT platform, post_id, (row_number() OVER ())::BIGINT AS pid
              FROM (SELECT DISTINCT platform, post_id FROM r))
        SELECT r.aid, k.kid, r.us, p.pid
        FROM r JOIN k USING (platform, key) JOIN p USING (platform, post_id)""",
        [trace_name] if skipped else [],
    )
    n, rows_n, posts_n = con.execute(
        f"SELECT (SELECT count(*) FROM {_EDGES}), count(*), count(DISTINCT pid) FROM {_ROWS}"
    ).fetchall()[0]
    return int(n), int(rows_n) == int(posts_n)


def _cleanup(con: duckdb.DuckDBPyConnection) -> None:
    for name in (_ACCOUNTS, _EDGES, _ROWS, _SHIFTED):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _band_pairs(rows: str, band_us: int, unique_posts: bool, rep: bool = False) -> str:
    """SQL: one row ([rep,] eid, d) per distinct post pair of a scratch edge within
    `band_us` of each other, over `rows` (aid, kid, us, pid [, rep]). Buckets one band
    wide keep the join an equality join, as in coaction.py."""
    by_rep = "a.rep, " if rep else ""
    on_rep = "a.rep = b.rep AND " if rep else ""
    if unique_posts:
        select, group = "b.us - a.us AS d", ""
    else:
        select = "arg_min(b.us - a.us, abs(b.us - a.us)) AS d"
        group = f"GROUP BY {by_rep}e.eid, a.pid, b.pid"
    return f"""
        WITH a AS (SELECT *, us // {band_us} AS bucket FROM {rows}),
        b AS (SELECT *, us // {band_us} + o AS bucket FROM {rows}, unnest([-1, 0, 1]) t(o))
        SELECT {by_rep}e.eid, {select}
        FROM a JOIN b ON {on_rep}a.kid = b.kid AND a.bucket = b.bucket AND a.aid < b.aid
        JOIN {_EDGES} e ON e.pair = a.aid * {_PAIR} + b.aid
        WHERE abs(b.us - a.us) <= {band_us}
        {group}"""


def _tick_us(con: duckdb.DuckDBPyConnection, tick: float | None) -> int:
    """The given tick in microseconds, or the coarsest of TICKS_US dividing every time."""
    if tick is not None:
        if not tick > 0:
            raise TrollscopeError(f"the clock tick must be more than 0 seconds, not {tick}.")
        return max(1, round(tick * US))
    return clock_tick_us(con, _ROWS)


def _jitter_us(jitter: float, tick_us: int) -> int:
    jitter_us = round(jitter * US)
    if jitter_us < tick_us:
        raise TrollscopeError(
            f"the jitter ({jitter} s) must be at least the data's clock tick "
            f"({tick_us / US:g} s); an hour to a day is usual."
        )
    return jitter_us


def edge_pvalues(
    con: duckdb.DuckDBPyConnection,
    trace_name: str,
    jitter: float = 3600.0,
    tick: float | None = None,
) -> pa.Table:
    """Jitter-null p-values of the edges of `trace_name` in the case's `edges` table (at
    their window), as (platform, account_a, account_b, coactions, p_value), sorted.
    `coactions` is the observed count C(0) the p-value is about. `tick`: the data's clock
    tick in seconds (default: found in the data, see `data_tick`). Window 0 edges get a
    NULL p-value."""
    return _edge_pvalues(con, trace_name, jitter, tick)[0]


def _edge_pvalues(
    con: duckdb.DuckDBPyConnection, trace_name: str, jitter: float, tick: float | None
) -> tuple[pa.Table, float | None]:
    """`edge_pvalues`, and the tick used (None where no null applied)."""
    window = _trace_window(con, trace_name)
    if window is None:
        return EDGE_PVALUES_SCHEMA.empty_table(), None
    if window == 0:
        table = con.sql(
            "SELECT platform, account_a, account_b, coactions, NULL::DOUBLE AS p_value "
            "FROM edges WHERE trace = ? ORDER BY platform, account_a, account_b",
            params=[trace_name],
        ).to_arrow_table()
        return table.cast(EDGE_PVALUES_SCHEMA), None
    window_us = round(window * US)
    try:
        n, unique_posts = _prepare(con, trace_name)
        tick_us = _tick_us(con, tick)
        jitter_us = _jitter_us(jitter, tick_us)
        band_us = 2 * jitter_us + window_us
        pairs = con.execute(
            f"SELECT eid, d FROM ({_band_pairs(_ROWS, band_us, unique_posts)})"
        ).fetchnumpy()
        observed, p = jitter_pvalues(pairs["eid"], pairs["d"], n, window_us, jitter_us, tick_us)
        names = con.sql(
            f"SELECT platform, account_a, account_b FROM {_EDGES} ORDER BY eid"
        ).to_arrow_table()
    finally:
        _cleanup(con)
    columns = [*names.columns, pa.array(observed), pa.array(p)]
    return pa.table(columns, schema=EDGE_PVALUES_SCHEMA), tick_us / US


def data_tick(con: duckdb.DuckDBPyConnection, trace_name: str) -> float | None:
    """The clock tick (seconds) `edge_pvalues` finds in a trace's rows of its edges'
    accounts; None when the trace has no edges."""
    if _trace_window(con, trace_name) is None:
        return None
    try:
        _prepare(con, trace_name)
        return _tick_us(con, None) / US
    finally:
        _cleanup(con)


def store_edge_pvalues(
    case_path: Path | str, trace_name: str, jitter: float = 3600.0, tick: float | None = None
) -> int:
    """Compute the edge p-values of a trace into the case table `edge_pvalues` (trace,
    platform, account_a, account_b, p_value, jitter_s, tick_s), replacing that trace's
    earlier rows, in one transaction (tick_s: the clock tick used, NULL with the p-values
    at window 0). Returns the number of rows stored."""
    with Case.open(case_path) as case:
        con = case.con
        with transaction(con):
            table, used = _edge_pvalues(con, trace_name, jitter, tick)
            con.execute(_STORE_DDL)
            con.execute("DELETE FROM edge_pvalues WHERE trace = ?", [trace_name])
            con.register("ts_null_pvalues", table)
            con.execute(
                "INSERT INTO edge_pvalues SELECT ?, platform, account_a, account_b, p_value, "
                "?, ? FROM ts_null_pvalues",
                [trace_name, float(jitter), used],
            )
            con.unregister("ts_null_pvalues")
    return int(table.num_rows)


def resampled_counts(
    con: duckdb.DuckDBPyConnection,
    trace_name: str,
    window: float,
    jitter: float,
    reps: int,
    seed: int = 1,
    tick: float | None = None,
    chunk_rows: int = 5_000_000,
) -> dict[tuple[str, str, str], Ints]:
    """The null drawn for real: `reps` times, every account of the trace's stored edges
    gets its own offset, a whole number of ticks uniform in [-jitter, +jitter], its rows
    are shifted by it, and the band join at `window` is recomputed in DuckDB. Returns, per
    stored edge (platform, account_a, account_b), its co-action count in each replicate
    (0 where the pair did not meet). Replicates run in chunks of about `chunk_rows`
    shifted rows."""
    window_us = round(window * US)
    if window_us <= 0:
        raise TrollscopeError("the jitter null needs a window above 0 seconds.")
    if _trace_window(con, trace_name) is None:
        return {}
    rng = np.random.default_rng(seed)
    try:
        n, unique_posts = _prepare(con, trace_name)
        tick_us = _tick_us(con, tick)
        m = _jitter_us(jitter, tick_us) // tick_us
        k, rows = con.execute(f"SELECT count(DISTINCT aid), count(*) FROM {_ROWS}").fetchall()[0]
        aids = con.execute(f"SELECT DISTINCT aid FROM {_ROWS} ORDER BY aid").fetchnumpy()["aid"]
        counts = np.zeros((n, reps), dtype=np.int64)
        per_chunk = max(1, chunk_rows // max(int(rows), 1))
        for first in range(0, reps, per_chunk):
            size = min(per_chunk, reps - first)
            offsets = pa.table(
                {
                    "rep": np.repeat(np.arange(first, first + size, dtype=np.int64), k),
                    "aid": np.tile(aids, size),
                    "off": rng.integers(-m, m, size * int(k), endpoint=True) * tick_us,
                }
            )
            con.register(_OFFSETS, offsets)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {_SHIFTED} AS
                SELECT o.rep, r.aid, r.kid, r.us + o.off AS us, r.pid
                FROM {_ROWS} r JOIN {_OFFSETS} o USING (aid)"""
            )
            con.unregister(_OFFSETS)
            pairs = _band_pairs(_SHIFTED, window_us, unique_posts, rep=True)
            got = con.execute(
                f"SELECT rep, eid, count(*)::BIGINT AS n FROM ({pairs}) GROUP BY rep, eid"
            ).fetchnumpy()
            counts[got["eid"], got["rep"]] = got["n"]
        names = con.execute(
            f"SELECT platform, account_a, account_b FROM {_EDGES} ORDER BY eid"
        ).fetchall()
    finally:
        _cleanup(con)
    return {(str(p), str(a), str(b)): counts[i] for i, (p, a, b) in enumerate(names)}
