"""How long the account signals take on the simulator's default scenario.

    .venv/bin/python benchmarks/signals.py --posts 1000000
    .venv/bin/python benchmarks/signals.py --posts 1000000 --engine spark \\
        --src before=DIR --src after=DIR [--case CASE] [--names rhythm content-mix]

Simulates N posts (seed 1; cached in benchmarks/.work/simulate-N, whose canonical files
the other benchmarks share), ingests its information-operations CSV into a case (cached
as benchmarks/.work/case-signals-N.duckdb), then, in a fresh process per run on a copy of
that case, times `trollscope.signals.run.signals` for each signal alone and for all of
them together (storage in the case included), with the process's peak resident memory.
Prints a markdown table for docs/benchmarks.md. Target (issue 5): all signals on the 1M
default scenario under 60 s on the 2-core machine.

With `--engine` or `--src LABEL=DIR` (the code of DIR/src instead of this tree's, e.g.
`git archive COMMIT src | tar -x -C DIR`), each run computes the signals as `detect`
does, on that engine (`engine_for`, `collect_signals`, `store_signals`), and is measured
as a process tree (`measure.py`: wall and CPU time of every process, the JVM's included;
peak resident memory of the tree): versions side by side, one after the other, in one
sitting. `--case` reads an existing case instead of simulating one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: `benchmarks` is importable from here
    sys.path.insert(0, str(HERE.parent))
WORK = HERE / ".work"
TROLLSCOPE = Path(sys.executable).with_name("trollscope")


def _case(posts: int) -> Path:
    sim = WORK / f"simulate-{posts}"
    if not (sim / "io_tweets.csv").exists():
        subprocess.run(
            [str(TROLLSCOPE), "simulate", "--out", str(sim), "--posts", str(posts),
             "--formats", "io-tweets", "--hide-progress"],
            check=True,
        )  # fmt: skip
    case = WORK / f"case-signals-{posts}.duckdb"
    if not case.exists():
        subprocess.run(
            [str(TROLLSCOPE), "ingest", str(sim / "io_tweets.csv"), "--into", str(case),
             "--hide-progress"],
            check=True,
        )  # fmt: skip
    return case


def _child(case: str, names: list[str]) -> None:
    """Runs in a fresh process: time the signals on the case, print JSON."""
    import resource

    from trollscope.signals.run import signals

    start = time.perf_counter()
    flagged = signals(case, names)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "flagged": flagged}))


def _run(case: Path, names: list[str]) -> dict[str, object]:
    copy = case.with_name("case-signals-run.duckdb")
    shutil.copy(case, copy)
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(copy), *names],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        copy.unlink(missing_ok=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _engine_child(case: str, engine: str, names: list[str]) -> None:
    """Runs in a fresh process: the signals as detect computes them, on `engine`, stored;
    prints the flagged accounts per signal as JSON."""
    from trollscope.case import Case, transaction
    from trollscope.engine.run import engine_for
    from trollscope.signals import SignalParams
    from trollscope.signals.run import collect_signals, store_signals

    with Case.open(case) as opened, transaction(opened.con, opened.path):
        with engine_for(engine, opened.con) as on:
            results = collect_signals(opened.con, names, SignalParams(), engine=on)
        flagged = store_signals(opened.con, results)
    print(json.dumps({"flagged": flagged}))


def _versions(case: Path, engine: str, sources: list[str], names: list[str]) -> None:
    """Each version's run of `names` on `engine`, measured as a process tree."""
    from benchmarks.measure import become_subreaper, run

    become_subreaper()
    print(f"### Account signals on {engine}: {', '.join(names)} ({case.name})\n")
    print("| code | wall s | CPU s | peak MiB | accounts flagged |")
    print("|---|---:|---:|---:|---|")
    for label, folder in (source.split("=", 1) for source in sources):
        copy = WORK / "case-signals-versions.duckdb"
        shutil.copy(case, copy)
        env = dict(os.environ)
        if folder:
            env["PYTHONPATH"] = str(Path(folder) / "src") + os.pathsep + env.get("PYTHONPATH", "")
        argv = [sys.executable, __file__, "--child-engine", engine, "--child", str(copy), *names]
        try:
            measured = run(argv, WORK / f"signals-{label}", env)
        finally:
            copy.unlink(missing_ok=True)
            copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
        flagged = json.loads(measured.stdout.strip().splitlines()[-1])["flagged"]
        said = ", ".join(f"{n} {c:,}" for n, c in flagged.items())
        print(
            f"| {label} | {measured.seconds:.1f} | {measured.cpu_seconds:.1f} | "
            f"{measured.peak_rss_mib:,.0f} | {said} |"
        )
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["duckdb", "spark"], default=None)
    parser.add_argument("--src", action="append", default=[], metavar="LABEL=DIR")
    parser.add_argument("--case", type=Path, default=None)
    parser.add_argument("--names", nargs="+", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-engine", default=None, help=argparse.SUPPRESS)
    parser.add_argument("names_", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child and args.child_engine:
        _engine_child(args.child, args.child_engine, args.names_)
        return
    if args.child:
        _child(args.child, args.names_)
        return
    from trollscope.signals import SIGNALS

    WORK.mkdir(parents=True, exist_ok=True)
    if args.engine or args.src:
        case = args.case or _case(args.posts)
        sources = args.src or ["tree="]
        _versions(case, args.engine or "duckdb", sources, args.names or list(SIGNALS))
        return
    from trollscope.signals import SIGNALS

    WORK.mkdir(parents=True, exist_ok=True)
    case = args.case or _case(args.posts)
    rows = []
    for name in SIGNALS:
        result = _run(case, [name])
        rows.append((name, result))
    together = _run(case, list(SIGNALS))
    print(f"### Account signals, simulated default scenario, --posts {args.posts:,}\n")
    print(f"`python benchmarks/signals.py --posts {args.posts}`\n")
    print("| signals | wall s (in process) | peak RSS | accounts flagged |")
    print("|---|---:|---:|---:|")
    for name, result in rows:
        flagged = result["flagged"]
        assert isinstance(flagged, dict)
        print(
            f"| {name} | {result['seconds']:.1f} | {result['peak_mib']:,} MiB | {flagged[name]:,} |"
        )
    total = together["flagged"]
    assert isinstance(total, dict)
    print(
        f"| **all together** | **{together['seconds']:.1f}** | {together['peak_mib']:,} MiB | "
        f"{sum(total.values()):,} (flags, summed over signals) |"
    )
    print(
        f"\n{os.cpu_count()} logical CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end."
    )


if __name__ == "__main__":
    main()
