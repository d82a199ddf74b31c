"""Near-duplicate text trace speed: `neardup_rows` (MinHash/LSH) on a case of N posts.

    .venv/bin/python benchmarks/neardup.py --posts 1000000 [--case OTHER.duckdb ...]

Simulates N posts with `trollscope simulate` (reused when `WORKDIR/simulate-N` is there:
the simulator is seeded), ingests its information-operations CSV into a case of its own
(reused too), and times the whole trace on it in a fresh process: reading the posts from
the case, normalising, MinHash signatures, band keys, the Arrow table of trace rows.
`--case` adds existing cases (opened read-only, so e.g. the ingest benchmark's
`case-twarc2.duckdb`, whose texts are longer and all distinct).

Wall and CPU time are the trace's own (imports and the connection excluded; the trace
table held whole, as `neardup_rows` returns it); peak RSS is the process's. "Buckets" then
groups the trace rows by key in DuckDB: the keys two or more posts share, where the band
join starts. With `--peer`, datasketch (if installed) computes MinHash/LSH with the same
shingles and bands on a sample of the same texts, one Python object per text, as the
reference point most users would reach for. The table goes to stdout, in markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

import trollscope

REPO = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("trollscope")


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    posts: int
    texts: int
    rows: int
    buckets: int | None  # keys shared by two or more posts; None for the peer
    bucket_seconds: float
    seconds: float
    cpu_seconds: float
    trace_rss_mb: float  # peak RSS when the trace table is done
    peak_rss_mb: float  # of the whole process, buckets included


def simulated_case(n_posts: int, seed: int, workdir: Path) -> Path:
    """A case holding N simulated posts (built once, then reused)."""
    folder = workdir / f"simulate-{n_posts}"
    source = folder / "io_tweets.csv"
    if not source.exists():
        subprocess.run(
            [
                str(EXE),
                "simulate",
                "--posts",
                str(n_posts),
                "--seed",
                str(seed),
                "--out",
                str(folder),
                "--formats",
                "io-tweets",
                "--hide-progress",
            ],
            check=True,
        )
    case = workdir / f"case-neardup-{n_posts}.duckdb"
    if not case.exists():
        partial = case.with_name(case.name + ".partial")
        partial.unlink(missing_ok=True)
        subprocess.run(
            [
                str(EXE),
                "ingest",
                str(source),
                "--into",
                str(partial),
                "--format",
                "io-tweets",
                "--json",
                "--hide-progress",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        partial.replace(case)
    return case


def measure(case: Path, label: str) -> Run:
    """Time the trace on `case` in a fresh process (this script with --child)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(case)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"timing {case} failed")
    got = json.loads(out.strip().splitlines()[-1])
    rss = usage.ru_maxrss / 1024  # KiB on Linux
    return Run(
        label,
        got["posts"],
        got["texts"],
        got["rows"],
        got["buckets"],
        got["bucket_seconds"],
        got["seconds"],
        got["cpu"],
        got["trace_rss"],
        rss,
    )


def child(case: Path) -> None:
    from trollscope.traces.neardup import neardup_rows

    con = duckdb.connect(str(case), read_only=True)
    con.execute("SET enable_progress_bar = false")
    posts, texts = con.execute(
        "SELECT count(*), count(DISTINCT text) FROM posts "
        "WHERE kind <> 'repost' AND text IS NOT NULL"
    ).fetchall()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    table = neardup_rows(con)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    trace_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    # The buckets: keys that two or more posts share (what the band join starts from).
    started = time.perf_counter()
    con.register("trace", table)
    buckets = con.execute(
        "SELECT count(*), coalesce(sum(n), 0) FROM "
        "(SELECT count(*) AS n FROM trace GROUP BY key HAVING count(*) > 1)"
    ).fetchall()[0]
    result = {"posts": posts, "texts": texts, "rows": table.num_rows, "buckets": buckets[0]}
    result["bucket_rows"], result["bucket_seconds"] = buckets[1], time.perf_counter() - started
    print(json.dumps({**result, "seconds": wall, "cpu": cpu, "trace_rss": trace_rss}))


def peer(case: Path, sample: int) -> Run | None:
    """datasketch MinHash + MinHashLSH (10 bands x 5 rows) on `sample` of the case's texts,
    normalised and shingled exactly as ours."""
    try:
        from datasketch import (  # type: ignore[import-untyped, unused-ignore]
            MinHash,
            MinHashLSH,
        )
    except ImportError:
        print("note: datasketch is not installed; no peer run", file=sys.stderr)
        return None
    from trollscope.traces.neardup import BANDS, ROWS, SHINGLE, normalise

    con = duckdb.connect(str(case), read_only=True)
    texts = con.sql(
        "SELECT text FROM posts WHERE kind <> 'repost' AND text IS NOT NULL "
        f"ORDER BY post_id LIMIT {sample}"
    ).to_arrow_table()["text"]
    norm = [t for t in normalise(texts).to_pylist() if t and len(t) >= SHINGLE]
    wall, cpu = time.perf_counter(), time.process_time()
    lsh = MinHashLSH(num_perm=BANDS * ROWS, params=(BANDS, ROWS))
    for i, text in enumerate(norm):
        m = MinHash(num_perm=BANDS * ROWS, seed=1)
        m.update_batch([text[j : j + SHINGLE].encode() for j in range(len(text) - SHINGLE + 1)])
        lsh.insert(str(i), m)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Run("datasketch MinHashLSH (sample)", len(texts), len(norm), 0, None, 0, wall, cpu, 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="simulated posts")
    parser.add_argument("--seed", type=int, default=1, help="simulator seed")
    parser.add_argument("--case", type=Path, action="append", default=[], help="also time this")
    parser.add_argument("--peer", type=int, default=0, metavar="N", help="datasketch on N posts")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / ".work")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    cases = [(simulated_case(args.posts, args.seed, args.workdir), "simulated")]
    cases += [(case, case.name) for case in args.case]
    runs = [measure(case, f"trollscope neardup_rows ({label})") for case, label in cases]
    if args.peer:
        done = peer(cases[-1][0], args.peer)
        if done is not None:
            runs.append(done)
    lines = [
        "| run | non-repost posts | distinct texts | trace rows | trace wall s | CPU s "
        "| posts/s (wall) | peak RSS (trace / +buckets) | shared keys | buckets s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        rss = f"{r.trace_rss_mb:,.0f} / {r.peak_rss_mb:,.0f} MiB" if r.peak_rss_mb else "-"
        shared = "- | -" if r.buckets is None else f"{r.buckets:,} | {r.bucket_seconds:,.1f}"
        lines.append(
            f"| {r.label} | {r.posts:,} | {r.texts:,} | {r.rows:,} | {r.seconds:,.1f} "
            f"| {r.cpu_seconds:,.1f} | {r.posts / r.seconds:,.0f} | {rss} "
            f"| {shared} |"
        )
    print(f"`python benchmarks/neardup.py --posts {args.posts}`\n")
    print(
        f"- {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"trollscope {trollscope.__version__}\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
