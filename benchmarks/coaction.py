"""Co-action speed, side by side: trollscope's traces against coordination-network-toolkit
(CNT) 1.5.2, and every action trace at scale. One run, three parts:

1. Co-repost against CNT's co-retweet on the same N generated posts (the generator and the
   CNT CSV of `ingest.py`, shared through the work folder). Ours: `trollscope ingest
   --format cnt-csv` then `trollscope edges --trace co-repost --window 60`. CNT's:
   `compute_networks DB preprocess --format csv` then `compute_networks DB compute
   co_retweet --time_window 60 --min_edge_weight 1` (every pair, as ours: CNT's default
   minimum of 2 co-retweets would drop pairs ours keeps). Each command runs in its own
   process; then both sets of undirected account pairs are compared (CNT's without its
   self-pairs).
2. Scale: M simulated posts (`trollscope simulate --formats ''`: canonical Parquet only,
   the fastest route; its posts and accounts are loaded straight into a case, since
   ingest has its own benchmark). The simulator writes no media, so for co-image one
   post in eight gets a picture hash, which the reposts of it share (derived from the
   post id: deterministic). Then all action traces but near-duplicate text, at 60 s, one
   after the other in one process: each trace's wall and CPU time, peak RSS, edges.
3. Near-duplicate text on the simulated case of N posts, in a process of its own.

Simulations and cases are cached in the work folder (a simulation is reused when its
manifest has the same size and seed; delete `case-coaction-*.duckdb` after changing the
loader). Wall time is around each command, process start and imports included; CPU time
is user + system of the process and the children it waited for (CNT computes in a pool
of processes); peak RSS is that of the whole process tree, sampled every 0.1 s (for the
traces in part 2 and 3, the process's own, sampled every 0.05 s during each trace).
Targets (issue 4): part 1 ours >= 10x faster than CNT; part 2 total < 3 min and < 8 GB;
part 3 < 60 s. The markdown goes to stdout, progress to stderr.

    .venv/bin/python benchmarks/coaction.py --posts 1000000 --scale 10000000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import duckdb
import pyarrow as pa

import trollscope
from trollscope.case import Case
from trollscope.detect.params import DEFAULT_TRACES
from trollscope.ingest.writers import WRITERS
from trollscope.model import ACCOUNT_COLUMNS, POST_COLUMNS

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script: `benchmarks` is importable from here
    sys.path.insert(0, str(REPO))

from benchmarks.measure import tree_rss_kib  # noqa: E402

EXE = Path(sys.executable).with_name("trollscope")
WINDOW = 60
# Every action trace but near-duplicate text (part 3 has it alone): detect's, and batch
# creation.
ACTION_TRACES = (*DEFAULT_TRACES, "batch-creation")
TARGET_RATIO = 10.0
TARGET_SCALE_S = 180.0
TARGET_SCALE_MB = 8_000.0
TARGET_NEARDUP_S = 60.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def _ingest_benchmark() -> ModuleType:
    """benchmarks/ingest.py, for its post generator and its CNT installer."""
    spec = importlib.util.spec_from_file_location("ingest_benchmark", HERE / "ingest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


BENCH = _ingest_benchmark()
CNT_VERSION: str = BENCH.CNT_VERSION


@dataclass(frozen=True, slots=True)
class Measured:
    """One command: wall and CPU seconds, peak RSS of its process tree, its output."""

    argv: tuple[str, ...]
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str


@dataclass(frozen=True, slots=True)
class TraceRun:
    """One trace inside the timing process."""

    trace: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    edges: int
    skipped: int


@dataclass(frozen=True, slots=True)
class Pairs:
    ours: int
    cnt: int
    only_ours: int
    only_cnt: int

    @property
    def same(self) -> bool:
        return self.only_ours == 0 and self.only_cnt == 0


# --- measuring -------------------------------------------------------------------------


def timed(argv: Sequence[str], log: Path) -> Measured:
    """Run a command to its end, sampling its process tree's memory; fail loudly."""
    print(f"  $ {shlex.join(argv)}", file=sys.stderr)
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(encoding="utf-8", errors="replace")
    if proc.returncode:
        raise SystemExit(f"{shlex.join(argv)} failed ({proc.returncode}):\n{text[-2000:]}")
    # A process that ends between two samples: its own peak (ru_maxrss, KiB) is a floor.
    peak = max(peak, usage.ru_maxrss)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(tuple(argv), seconds, cpu, peak / 1024, text)


class RssSampler:
    """Peak resident memory of this process while a block runs (a thread reads statm)."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        with open("/proc/self/statm") as handle:
            self.peak = max(self.peak, int(handle.read().split()[1]) * PAGE)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def fresh(path: Path) -> Path:
    """`path` with no file there, nor its DuckDB WAL or SQLite journal beside it."""
    for stale in (path, *path.parent.glob(path.name + ".*")):
        if stale.is_file():
            stale.unlink()
    return path


# --- part 1: co-repost against CNT's co-retweet ----------------------------------------


def cnt_csv(n_posts: int, seed: int, workdir: Path) -> Path:
    """The CNT CSV of N generated posts: the file (and name) ingest.py writes, reused."""
    path = workdir / f"posts-{n_posts}.csv"
    if path.exists():
        return path
    partial, part = path.with_name(path.name + ".partial"), workdir / "part-coaction.tmp"
    with partial.open("wb") as out:
        for index, (posts, accounts) in enumerate(BENCH.generate(n_posts, seed)):
            WRITERS["cnt-csv"].write(part, posts, accounts)
            with part.open("rb") as handle:
                if index:
                    handle.readline()  # one header row, for the first chunk only
                shutil.copyfileobj(handle, out)
    part.unlink(missing_ok=True)
    partial.replace(path)
    return path


def run_ours(source: Path, workdir: Path, window: int) -> tuple[Path, list[Measured]]:
    case = fresh(workdir / "case-coaction-cnt.duckdb")
    ingest = [str(EXE), "ingest", str(source), "--into", str(case), "--format", "cnt-csv"]
    edges = [str(EXE), "edges", str(case), "--trace", "co-repost", "--window", str(window)]
    return case, [
        timed([*ingest, "--json", "--hide-progress"], workdir / "coaction-ingest.log"),
        timed(edges, workdir / "coaction-edges.log"),
    ]


def run_cnt(exe: Path, source: Path, workdir: Path, window: int) -> tuple[Path, list[Measured]]:
    db = fresh(workdir / "cnt-coaction.db")
    preprocess = [str(exe), str(db), "preprocess", "--format", "csv", str(source)]
    compute = [str(exe), str(db), "compute", "co_retweet", "--time_window", str(window)]
    compute += ["--min_edge_weight", "1"]
    return db, [
        timed(preprocess, workdir / "cnt-coaction-preprocess.log"),
        timed(compute, workdir / "cnt-coaction-compute.log"),
    ]


def _cnt_pairs(db: Path) -> pa.Table:
    """CNT's co-retweet pairs as an Arrow table (directed, self-pairs excluded)."""
    con = sqlite3.connect(db)
    a: list[str] = []
    b: list[str] = []
    try:
        cursor = con.execute(
            "SELECT CAST(user_1 AS TEXT), CAST(user_2 AS TEXT) FROM co_retweet_network "
            "WHERE user_1 <> user_2"
        )
        while batch := cursor.fetchmany(100_000):
            for left, right in batch:
                a.append(left)
                b.append(right)
    finally:
        con.close()
    return pa.table({"a": pa.array(a, pa.string()), "b": pa.array(b, pa.string())})


def compare_pairs(case: Path, db: Path) -> Pairs:
    """Undirected account pairs: ours from the case's edges, CNT's from its SQLite table."""
    con = duckdb.connect(str(case), read_only=True)
    try:
        con.register("cnt_directed", _cnt_pairs(db))
        row = con.execute(
            """WITH cnt AS (SELECT DISTINCT least(a, b) AS a, greatest(a, b) AS b
                            FROM cnt_directed),
                    ours AS (SELECT DISTINCT account_a AS a, account_b AS b FROM edges
                             WHERE trace = 'co-repost')
               SELECT (SELECT count(*) FROM ours), (SELECT count(*) FROM cnt),
                      (SELECT count(*) FROM (FROM ours EXCEPT FROM cnt)),
                      (SELECT count(*) FROM (FROM cnt EXCEPT FROM ours))"""
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return Pairs(*(int(v) for v in row))


# --- parts 2 and 3: simulated cases, traces timed in one process -----------------------


def simulated(n_posts: int, seed: int, workdir: Path) -> Path:
    """The folder of a simulation of N posts (canonical Parquet only), made once."""
    folder = workdir / f"simulate-{n_posts}"
    manifest = folder / "manifest.json"
    if manifest.exists() and (folder / "accounts.parquet").exists():
        config = json.loads(manifest.read_text(encoding="utf-8"))["config"]
        if config.get("posts") == n_posts and config.get("seed") == seed:
            return folder
    shutil.rmtree(folder, ignore_errors=True)
    argv = [str(EXE), "simulate", "--out", str(folder), "--posts", str(n_posts)]
    argv += ["--seed", str(seed), "--formats", "", "--hide-progress", "--json"]
    done = timed(argv, workdir / f"simulate-{n_posts}.log")
    print(f"  simulated in {done.seconds:,.0f} s", file=sys.stderr)
    return folder


def simulated_case(folder: Path, workdir: Path) -> Path:
    """A case holding a simulation's canonical posts and accounts, loaded as they are
    (they are what a reader yields), with picture hashes for co-image; made once."""
    case = workdir / f"case-coaction-{folder.name.removeprefix('simulate-')}.duckdb"
    if case.exists():
        return case
    partial = fresh(case.with_name(case.name + ".partial"))
    started = time.perf_counter()
    posts = ", ".join(f'"{c}"' for c in POST_COLUMNS if c != "media")
    accounts = ", ".join(f'"{c}"' for c in ACCOUNT_COLUMNS)
    # One original in eight has a picture (by its id's md5); a repost carries its source's.
    origin = "CASE WHEN kind = 'repost' THEN ref_post_id ELSE post_id END"
    media = (
        f"list_concat(coalesce(media, []), CASE WHEN md5({origin})[1] < '2' "
        f"THEN ['phash:' || left(md5({origin}), 16)] ELSE [] END)"
    )
    with Case.open(partial, create=True) as opened:
        con = opened.con
        con.execute("BEGIN")
        con.execute(
            f"INSERT INTO posts BY NAME SELECT {posts}, {media} AS media, 0 AS source_id "
            "FROM read_parquet(?)",
            [str(folder / "posts.parquet")],
        )
        con.execute(
            f"INSERT INTO accounts BY NAME SELECT {accounts}, 0 AS source_id FROM read_parquet(?)",
            [str(folder / "accounts.parquet")],
        )
        con.execute("COMMIT")
    partial.replace(case)
    print(f"  case loaded in {time.perf_counter() - started:,.0f} s", file=sys.stderr)
    return case


def case_size(case: Path) -> str:
    """What a case holds, in words (the simulator's post count is a target, not exact)."""
    con = duckdb.connect(str(case), read_only=True)
    try:
        row = con.execute(
            "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM accounts)"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return f"{row[0]:,} posts by {row[1]:,} accounts"


def run_traces(
    case: Path,
    traces: Sequence[str],
    window: int,
    engine: str,
    log: Path,
    memory_limit: str | None = None,
) -> tuple[Measured, list[TraceRun]]:
    """Time `traces` one after the other in a fresh process (this script, --child)."""
    result = log.with_suffix(".json")
    result.unlink(missing_ok=True)
    argv = [sys.executable, __file__, "--child", str(case), "--child-out", str(result)]
    argv += ["--traces", ",".join(traces), "--window", str(window), "--engine", engine]
    if memory_limit:
        argv += ["--memory-limit", memory_limit]
    done = timed(argv, log)
    runs = [TraceRun(**r) for r in json.loads(result.read_text(encoding="utf-8"))]
    return done, runs


def child(
    case: Path,
    traces: Sequence[str],
    window: int,
    engine: str,
    out: Path,
    memory_limit: str | None = None,
) -> None:
    from trollscope.engine.run import edges, skipped_keys

    runs = []
    for name in traces:
        wall, cpu = time.perf_counter(), time.process_time()
        with RssSampler() as rss:
            n = edges(case, name, window, engine=engine, memory_limit=memory_limit)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        run = TraceRun(name, wall, cpu, rss.peak / 2**20, n, skipped_keys(case, name))
        runs.append(run)
        print(f"  {name}: {wall:,.1f} s, {n:,} edges", file=sys.stderr)
    out.write_text(json.dumps([asdict(r) for r in runs]), "utf-8")


# --- the report --------------------------------------------------------------------------


def _git_commit() -> str:
    """HEAD's commit, read from .git without running git (and 'unknown' without it)."""
    git = REPO / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head.removeprefix("ref: ")
        loose = git / ref
        if loose.exists():
            return loose.read_text().strip()[:12]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except OSError:
        pass
    return "unknown"


def machine() -> list[str]:
    model, mem_kib = "unknown", 0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    # The load at the end says whether other work shared the machine during the run.
    load = ", load average " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + " at the end"
    return [
        f"- CPU: {model}, {os.cpu_count()} logical CPUs{load}; RAM {mem_kib / 2**20:,.1f} GiB",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"trollscope {trollscope.__version__} (HEAD {_git_commit()}; uncommitted changes, "
        f"if any, not shown), CNT {CNT_VERSION}",
    ]


def _shown(argv: Sequence[str]) -> str:
    """A command as a reader can retype it: the program by name, paths from the repo."""
    root = str(REPO) + os.sep
    return shlex.join([Path(argv[0]).name, *(a.removeprefix(root) for a in argv[1:])])


def _mb(value: float) -> str:
    return f"{value:,.0f} MiB"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def part1_table(
    n_posts: int, ours: list[Measured], peer: list[Measured] | None, pairs: Pairs | None
) -> list[str]:
    lines = [
        f"### 1. Co-repost vs CNT co-retweet, {n_posts:,} posts, window {WINDOW} s",
        "",
        "| tool | step | command | wall s | CPU s | peak RSS (tree) |",
        "|---|---|---|---:|---:|---:|",
    ]
    tools = [(f"trollscope {trollscope.__version__}", ours, ("ingest", "edges co-repost"))]
    if peer is not None:
        tools.append((f"CNT {CNT_VERSION}", peer, ("preprocess", "compute co_retweet")))
    totals = {}
    for tool, steps, names in tools:
        for name, step in zip(names, steps, strict=True):
            command = _shown(step.argv)
            lines.append(
                f"| {tool} | {name} | `{command}` | {step.seconds:,.1f} | "
                f"{step.cpu_seconds:,.1f} | {_mb(step.peak_rss_mb)} |"
            )
        wall = sum(s.seconds for s in steps)
        cpu = sum(s.cpu_seconds for s in steps)
        peak = max(s.peak_rss_mb for s in steps)
        totals[tool] = (wall, cpu)
        lines.append(f"| {tool} | **total** | | **{wall:,.1f}** | {cpu:,.1f} | {_mb(peak)} |")
    lines.append("")
    if peer is not None:
        (ours_wall, ours_cpu), (cnt_wall, cnt_cpu) = totals.values()
        ratio = cnt_wall / ours_wall
        lines.append(
            f"CNT / ours: **{ratio:.1f}x** wall, {cnt_cpu / ours_cpu:.1f}x CPU "
            f"(target >= {TARGET_RATIO:g}x wall: {_met(ratio >= TARGET_RATIO)})."
        )
    if pairs is not None:
        verdict = "the same" if pairs.same else "**different**"
        lines.append(
            f"Undirected co-retweet pairs: ours {pairs.ours:,}, CNT {pairs.cnt:,} "
            f"(self-pairs excluded): {verdict} (only ours {pairs.only_ours:,}, "
            f"only CNT {pairs.only_cnt:,})."
        )
    return lines


def traces_table(
    title: str,
    done: Measured,
    runs: Sequence[TraceRun],
    target_s: float | None,
    target_mb: float | None = None,
) -> list[str]:
    lines = [
        title,
        "",
        "| trace | wall s | share | CPU s | peak RSS | edges | viral keys skipped |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = sum(r.seconds for r in runs)
    for r in runs:
        share = f"{r.seconds / total:.0%}" if total else "-"
        lines.append(
            f"| {r.trace} | {r.seconds:,.1f} | {share} | {r.cpu_seconds:,.1f} "
            f"| {_mb(r.peak_rss_mb)} | {r.edges:,} | {r.skipped:,} |"
        )
    peak = max([done.peak_rss_mb, *(r.peak_rss_mb for r in runs)])
    lines.append(
        f"| **total** (traces) | **{total:,.1f}** | | {sum(r.cpu_seconds for r in runs):,.1f} "
        f"| {_mb(peak)} | {sum(r.edges for r in runs):,} | |"
    )
    lines.append(
        f"| whole process (imports, opening the case) | {done.seconds:,.1f} | | "
        f"{done.cpu_seconds:,.1f} | {_mb(done.peak_rss_mb)} | | |"
    )
    if target_s is None:
        return [*lines, "", "(Some traces only: no target applies.)"]
    verdict = f"Target < {target_s:g} s: {_met(total < target_s)}"
    if target_mb is not None:
        verdict += f"; < {target_mb / 1000:g} GB: {_met(peak * 2**20 < target_mb * 1e6)}"
    return [*lines, "", verdict + "."]


# --- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="N: parts 1 and 3")
    parser.add_argument("--scale", type=int, default=10_000_000, help="M: part 2 (0: skip)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the CNT CSV generator")
    parser.add_argument("--sim-seed", type=int, default=1, help="simulator seed")
    parser.add_argument(
        "--traces",
        default=",".join(ACTION_TRACES),
        help="part 2's traces, comma-separated (default: all but near-dup-text)",
    )
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument(
        "--memory-limit",
        default=None,
        help="DuckDB's memory limit for part 2's traces, like 6GB (trollscope edges "
        "--memory-limit; default: DuckDB's, 80%% of the RAM)",
    )
    parser.add_argument("--skip-peer", action="store_true", help="do not install or run CNT")
    parser.add_argument("--skip-corepost", action="store_true", help="skip part 1")
    parser.add_argument("--skip-neardup", action="store_true", help="skip part 3")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work", help="scratch folder")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--window", type=int, default=WINDOW, help=argparse.SUPPRESS)
    args = parser.parse_args()
    traces = [t.strip() for t in args.traces.split(",") if t.strip()]
    if args.child:
        child(args.child, traces, args.window, args.engine, args.child_out, args.memory_limit)
        return
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "benchmarks/coaction.py", *sys.argv[1:]])
    report = [f"## Co-action benchmark, {time.strftime('%Y-%m-%d')}", "", f"`{command}`", ""]

    if not args.skip_corepost:
        print(f"part 1: co-repost vs CNT, {args.posts:,} posts", file=sys.stderr)
        source = cnt_csv(args.posts, args.seed, workdir)
        case, ours = run_ours(source, workdir, WINDOW)
        peer = pairs = None
        if not args.skip_peer:
            db, peer = run_cnt(BENCH.cnt_venv(workdir), source, workdir, WINDOW)
            pairs = compare_pairs(case, db)
        report += [*part1_table(args.posts, ours, peer, pairs), ""]

    if args.scale:
        print(f"part 2: {len(traces)} traces on {args.scale:,} simulated posts", file=sys.stderr)
        case = simulated_case(simulated(args.scale, args.sim_seed, workdir), workdir)
        log = workdir / "coaction-scale.log"
        done, runs = run_traces(case, traces, WINDOW, args.engine, log, args.memory_limit)
        limit = f", DuckDB memory limit {args.memory_limit}" if args.memory_limit else ""
        title = (
            f"### 2. Action traces, simulated --posts {args.scale:,} ({case_size(case)}), "
            f"window {WINDOW} s, engine {args.engine}{limit}, one process"
        )
        target = TARGET_SCALE_S if set(ACTION_TRACES) <= set(traces) else None
        report += [*traces_table(title, done, runs, target, TARGET_SCALE_MB), ""]

    if not args.skip_neardup:
        print(f"part 3: near-dup-text on {args.posts:,} simulated posts", file=sys.stderr)
        case = simulated_case(simulated(args.posts, args.sim_seed, workdir), workdir)
        log = workdir / "coaction-neardup.log"
        done, runs = run_traces(case, ["near-dup-text"], WINDOW, args.engine, log)
        title = (
            f"### 3. Near-duplicate text, simulated --posts {args.posts:,} "
            f"({case_size(case)}), window {WINDOW} s, engine {args.engine}"
        )
        report += [*traces_table(title, done, runs, TARGET_NEARDUP_S), ""]

    report += ["Machine and versions:", "", *machine()]
    print("\n".join(report))


if __name__ == "__main__":
    main()
