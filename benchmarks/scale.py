"""Scaling, measured and projected: the same simulation at growing sizes through ingest and
detect, on DuckDB and on Spark local mode, and `scan` of one size under a memory limit.

    .venv/bin/python benchmarks/scale.py --sizes 1000000 3000000 10000000 --engines duckdb
    .venv/bin/python benchmarks/scale.py --sizes 1000000 --engines spark --reuse-ingest
    .venv/bin/python benchmarks/scale.py --sizes --scan 10000000 --memory-limit 6GB

For each size: the simulator's default scenario (seed 1, stealth 0; cached by
`detection.py`'s `simulated`, shared with that benchmark), its information-operations CSV
ingested into a fresh case (`--case-kind duckdb`: a case file; `parquet`: a case folder,
`ingest --into DIR/`), then for each engine `detect` (`--engine spark` for Spark; DuckDB
is detect's default) on a copy of that case, with its defaults. Each command runs as a
child process measured as a tree (`measure.py`): wall time, CPU time (user + system of
every process in it, Spark's JVM included), peak resident memory of the tree; `detect`'s
own stage times (printed under TTY_COMPATIBLE=1) split its time into edges, pair tests,
account signals and networks, each stage's CPU time and peak memory from the samples. Per
stage: posts/s, and posts per CPU second (the throughput of one core, the figure a
projection to more cores starts from). After each detect on a case file, the sizes of its
intermediate tables (trace rows, edges, pair tests per trace): what a cluster would
shuffle. `--scan N` times `trollscope scan` of N posts under `--memory-limit`.

Results accumulate in benchmarks/.work/scale.json (a run replaces the rows it measured and
keeps the others, so engines and sizes can be measured in separate runs); the markdown
table of every row there, and the projection to 10^9 posts, go to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: `benchmarks` is importable from here
    sys.path.insert(0, str(HERE.parent))

from benchmarks.detection import WORK, simulated  # noqa: E402
from benchmarks.measure import Measured, become_subreaper, run, stage_env  # noqa: E402

EXE = Path(sys.executable).with_name("trollscope")
RESULTS = WORK / "scale.json"
ENGINES = ("duckdb", "spark")
KINDS = ("duckdb", "parquet")
# detect's stages, grouped: a stage's name up to its first ':' ("edges: co-repost").
GROUPS = {
    "edges": "edges",
    "tests": "pair, account, burst and cohort tests",
    "account signals": "account signals",
    "networks": "networks",
    "join tests": "join tests",  # on the engine, like the tests (before: in "networks")
    "describing networks": "networks",
}
TARGET_POSTS = 10**9
# Below this size fixed costs (a Spark query's planning, process start) dominate a stage:
# scaling them with the posts would project nonsense.
PROJECT_FROM = 1_000_000


def case_path(size: int, kind: str, engine: str | None = None) -> Path:
    name = f"scale-{size}" + (f"-{engine}" if engine else "")
    return WORK / (f"{name}.duckdb" if kind == "duckdb" else f"{name}-case")


def remove(path: Path) -> None:
    """A case file (with its write-ahead log) or a case folder, gone."""
    if path.is_dir():
        shutil.rmtree(path)
    for stale in (path, path.with_name(path.name + ".wal")):
        if stale.is_file():
            stale.unlink()


def target(path: Path, kind: str) -> str:
    """How the CLI is given the case: a folder with its trailing slash (a Parquet case)."""
    return str(path) + ("/" if kind == "parquet" else "")


def ingest(size: int, kind: str, reuse: bool) -> tuple[Path, dict[str, Any] | None]:
    """The ingested case of `size` posts, and its measured row (None when reused)."""
    folder = simulated("default", size, 0, 1)
    case = case_path(size, kind)
    if reuse and case.exists():
        return case, None
    remove(case)
    source = str(folder / "io_tweets.csv")
    argv = [str(EXE), "ingest", source, "--into", target(case, kind), "--hide-progress", "--json"]
    measured = run(argv, WORK / f"scale-ingest-{size}.log")
    return case, row(size, kind, "-", "ingest", measured)


def detect(size: int, kind: str, engine: str, ingested: Path) -> dict[str, Any]:
    case = case_path(size, kind, engine)
    remove(case)
    if ingested.is_dir():
        shutil.copytree(ingested, case)
    else:
        shutil.copy(ingested, case)
    argv = [str(EXE), "detect", target(case, kind), "--json"]
    if engine != "duckdb":  # DuckDB is detect's default: its argv works on any version
        argv += ["--engine", engine]
    measured = run(argv, WORK / f"scale-detect-{engine}-{size}.log", env=stage_env())
    result = row(size, kind, engine, "detect", measured)
    # A Parquet case keeps its derived tables (edges, tests) in its inner DuckDB file.
    result["tables"] = tables(case if kind == "duckdb" else case / "case.duckdb")
    remove(case)
    return result


def scan(size: int, memory_limit: str) -> dict[str, Any]:
    folder = simulated("default", size, 0, 1)
    out = WORK / f"scale-scan-{size}"
    if out.exists():
        shutil.rmtree(out)
    source = str(folder / "io_tweets.csv")
    argv = [str(EXE), "scan", source, "-o", str(out), "--memory-limit", memory_limit, "--json"]
    measured = run(argv, WORK / f"scale-scan-{size}.log", env=stage_env())
    result = row(size, "duckdb", "duckdb", f"scan --memory-limit {memory_limit}", measured)
    result["tables"] = tables(out / "case.duckdb")
    result["completed"] = (out / "report.html").exists()
    shutil.rmtree(out)
    return result


def row(size: int, kind: str, engine: str, command: str, m: Measured) -> dict[str, Any]:
    stages = [asdict(s) for s in m.stages]
    return {
        "posts": size,
        "case_kind": kind,
        "engine": engine,
        "command": command,
        "argv": [Path(m.argv[0]).name, *m.argv[1:]],
        "seconds": m.seconds,
        "cpu_seconds": m.cpu_seconds,
        "peak_rss_mib": m.peak_rss_mib,
        "stages": stages,
        "result": _json_tail(m.stdout),
        # Other work on the machine shows here (the 1-, 5- and 15-minute averages at the end).
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _json_tail(stdout: str) -> Any:
    """The command's --json object (its last line), or None."""
    lines = stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None


def tables(case: Path) -> dict[str, dict[str, int]]:
    """Per trace: its rows in `edge_rows` (the rows one-row edges point at: none where a
    trace has no one-row edges), edges (one-row and several-row) and pair tests, from the
    case after detect: the sizes a cluster would shuffle."""
    import duckdb

    con = duckdb.connect(str(case), read_only=True)
    try:
        found = con.execute(
            """
            SELECT t.trace,
                   (SELECT count(*) FROM edge_rows r WHERE r.tid = t.tid),
                   (SELECT count(*) FROM edges_single s WHERE s.tid = t.tid)
                   + (SELECT count(*) FROM edges_whole w WHERE w.trace = t.trace),
                   (SELECT count(*) FROM pair_tests p WHERE p.trace = t.trace)
            FROM edge_traces t ORDER BY t.tid
            """
        ).fetchall()
    finally:
        con.close()
    return {
        str(trace): {"rows": int(rows), "edges": int(edges), "pair_tests": int(tests)}
        for trace, rows, edges, tests in found
    }


# --- the report ------------------------------------------------------------------------


def grouped(r: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(stage, wall s, CPU s, peak MiB) of a row: detect's stages by group, what no stage
    covers (start, imports, opening the case, writing results) as "other", then the
    whole command."""
    sums: dict[str, list[float]] = {}
    for s in r["stages"]:
        head = s["name"].split(":", 1)[0]
        name = GROUPS.get(head, GROUPS.get(s["name"], s["name"]))
        total = sums.setdefault(name, [0.0, 0.0, 0.0])
        total[0] += s["seconds"]
        total[1] += s["cpu_seconds"]
        total[2] = max(total[2], s["peak_rss_mib"])
    out = [(name, *values) for name, values in sums.items()]
    if out:
        wall = r["seconds"] - sum(v[0] for v in sums.values())
        cpu = r["cpu_seconds"] - sum(v[1] for v in sums.values())
        out.append(("other", max(0.0, wall), max(0.0, cpu), math.nan))
    out.append(("**all**", r["seconds"], r["cpu_seconds"], r["peak_rss_mib"]))
    return out  # type: ignore[return-value]


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| posts | case | engine | command | stage | wall s | CPU s | peak MiB | posts/s | "
        "posts per CPU s |",
        "|---:|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["posts"], r["engine"] != "-", r["engine"])):
        for stage, wall, cpu, peak in grouped(r):
            lines.append(
                f"| {r['posts']:,} | {r['case_kind']} | {r['engine']} | {r['command']} | "
                f"{stage} | {wall:,.1f} | {cpu:,.1f} | "
                + ("-" if math.isnan(peak) else f"{peak:,.0f}")
                + f" | {r['posts'] / wall if wall else math.inf:,.0f} | "
                f"{r['posts'] / cpu if cpu else math.inf:,.0f} |"
            )
    return "\n".join(lines)


def sizes_table(rows: list[dict[str, Any]]) -> str:
    """The intermediate tables per size: the account pairs the band join found (detect's
    `tested`: every pair, stored or only counted), the edges detect stored (pairs that met
    on two keys or more: each is a pair test), the pair tests that came back from the
    engine and were kept in the case (all of them before detect/prefilter.py; since, those
    that could pass and those inside a network), summed over traces, and the largest
    trace."""
    lines = [
        "| posts | engine | command | account pairs (band join) | edges stored | "
        "pair tests kept | largest trace (its pairs) |",
        "|---:|---|---|---:|---:|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["posts"], r["engine"], r["command"])):
        found = r.get("tables")
        pairs = (r.get("result") or {}).get("tested") or {}
        if not found and not pairs:
            continue
        found = found or {}
        big = max(pairs, key=lambda t: pairs[t]) if pairs else "-"
        lines.append(
            f"| {r['posts']:,} | {r['engine']} | {r['command']} | {sum(pairs.values()):,} | "
            f"{sum(t['edges'] for t in found.values()):,} | "
            f"{sum(t['pair_tests'] for t in found.values()):,} | "
            + (f"{big} ({pairs[big]:,}) |" if pairs else "- |")
        )
    return "\n".join(lines)


# Stages that run on one core of the driver whatever the cluster (Leiden, the networks'
# description, process start and the final writes): they add their time, not cores.
SERIAL = ("networks", "other")


def stage_cpu(r: dict[str, Any]) -> dict[str, float]:
    """A row's CPU seconds per stage group (ingest: the whole command)."""
    if r["command"] == "ingest":
        return {"ingest": r["cpu_seconds"]}
    return {name: cpu for name, _, cpu, _ in grouped(r) if name != "**all**"}


def projection(rows: list[dict[str, Any]], efficiency: float) -> str:
    """CPU for 10^9 posts per stage, and the cores that would do it in an hour and in a
    day, per engine: each stage's CPU seconds at the largest size measured, scaled to 10^9
    posts linearly ("more days": the density of posts per key and window stays as
    measured) and by the power the stage grew by between the two largest sizes ("the same
    days, denser"; at least 1). Serial stages (SERIAL) run on one core and add their
    time; the others are spread over the cores, of which `efficiency` do the work (the
    rest wait, shuffle or idle)."""
    ingests = sorted(
        (r for r in rows if r["command"] == "ingest" and r["posts"] >= PROJECT_FROM),
        key=lambda r: r["posts"],
    )
    lines = [
        "| engine | model | stage | CPU s at the largest size | power | core-hours at 10^9 |",
        "|---|---|---|---:|---:|---:|",
    ]
    summary = []
    for engine in sorted({r["engine"] for r in rows if r["command"] == "detect"}):
        runs = sorted(
            (
                r
                for r in rows
                if r["command"] == "detect" and r["engine"] == engine and r["posts"] >= PROJECT_FROM
            ),
            key=lambda r: r["posts"],
        )
        if not runs:
            summary.append(f"- {engine}: no detect of {PROJECT_FROM:,} posts or more to project.")
            continue
        for model in ("linear", "fitted"):
            parallel = serial = 0.0
            for pair in (ingests[-2:], runs[-2:]):
                if not pair:
                    continue
                last, first = stage_cpu(pair[-1]), stage_cpu(pair[0])
                n_last, n_first = pair[-1]["posts"], pair[0]["posts"]
                for name, cpu in last.items():
                    power = 1.0
                    if model == "fitted" and n_last > n_first and first.get(name, 0) > 0:
                        power = max(1.0, math.log(cpu / first[name]) / math.log(n_last / n_first))
                    projected = cpu * (TARGET_POSTS / n_last) ** power
                    if name in SERIAL:
                        serial += projected
                    else:
                        parallel += projected
                    lines.append(
                        f"| {engine} | {model} | {name} | {cpu:,.1f} ({n_last:,} posts) | "
                        f"{power:.2f} | {projected / 3600:,.1f} |"
                    )
            cores = []
            for hours in (1, 24):
                room = hours * 3600 - serial
                cores.append(
                    f"{math.ceil(parallel / room / efficiency):,} cores for {hours} h"
                    if room > 0
                    else f"no cluster in {hours} h (the serial stages alone take longer)"
                )
            summary.append(
                f"- {engine}, {model}: {parallel / 3600:,.0f} core-hours spread, "
                f"{serial / 3600:,.1f} h serial on the driver; at {efficiency:.0%} "
                f"efficiency {' or '.join(cores)}."
            )
    return "\n".join(lines) + "\n\n" + "\n".join(summary)


def load(results: Path) -> list[dict[str, Any]]:
    if results.exists():
        rows: list[dict[str, Any]] = json.loads(results.read_text(encoding="utf-8"))
        return rows
    return []


def save(results: Path, rows: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Keep `new`, replacing an earlier row of the same size, case, engine and command."""
    key = ("posts", "case_kind", "engine", "command")
    kept = [r for r in rows if any(r[k] != new[k] for k in key)] + [new]
    results.write_text(json.dumps(kept, indent=1), encoding="utf-8")
    print(
        json.dumps({k: new[k] for k in (*key, "seconds", "cpu_seconds", "peak_rss_mib")}),
        file=sys.stderr,
        flush=True,
    )
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 3_000_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=["duckdb"])
    parser.add_argument("--case-kind", choices=KINDS, default="duckdb")
    parser.add_argument(
        "--reuse-ingest",
        action="store_true",
        help="detect on the case a previous run ingested (its ingest row kept), if there",
    )
    parser.add_argument("--scan", type=int, default=0, help="posts for `scan` (0: none)")
    parser.add_argument("--memory-limit", default="6GB", help="scan's --memory-limit")
    parser.add_argument(
        "--efficiency",
        type=float,
        default=0.5,
        help="the share of a cluster's cores assumed busy, for the projection",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON to add to")
    parser.add_argument("--report", action="store_true", help="only print the tables")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    become_subreaper()
    rows = load(args.results)
    for size in [] if args.report else args.sizes:
        ingested, measured = ingest(size, args.case_kind, args.reuse_ingest)
        if measured:
            rows = save(args.results, rows, measured)
        for engine in args.engines:
            rows = save(args.results, rows, detect(size, args.case_kind, engine, ingested))
    if args.scan and not args.report:
        rows = save(args.results, rows, scan(args.scan, args.memory_limit))
    print(table(rows))
    print()
    print(sizes_table(rows))
    print()
    print(projection(rows, args.efficiency))


if __name__ == "__main__":
    main()
