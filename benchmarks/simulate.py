"""How long `trollscope simulate` takes and how much memory it needs.

    .venv/bin/python benchmarks/simulate.py --posts 1000000

Runs the real command in a subprocess (all default formats: canonical Parquet, twarc2
JSONL, information-operations CSV) and reports wall time, posts per second and peak
resident memory (of the largest process, and of all its processes together, sampled
every 0.1 s). Prints a markdown table for docs/benchmarks.md.
The acceptance target: 1M posts in under 60 s and under 2 GB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: `benchmarks` is importable from here
    sys.path.insert(0, str(HERE.parent))

from benchmarks.measure import tree_rss_kib  # noqa: E402

TROLLSCOPE = Path(sys.executable).with_name("trollscope")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=HERE / ".work")
    args = parser.parse_args()
    out = args.workdir / f"simulate-{args.posts}"
    shutil.rmtree(out, ignore_errors=True)
    command = [
        str(TROLLSCOPE),
        "simulate",
        "--out",
        str(out),
        "--posts",
        str(args.posts),
        "--seed",
        str(args.seed),
        "--hide-progress",
        "--json",
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    tree_peak = 0
    while child.poll() is None:
        # The simulator writes formats in a helper process: sum the whole tree's RSS.
        tree_peak = max(tree_peak, tree_rss_kib(child.pid))
        time.sleep(0.1)
    if child.returncode:
        raise SystemExit(f"trollscope simulate failed with exit code {child.returncode}")
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tree_mb = tree_peak / 1024
    sizes = {p.name: p.stat().st_size / 1e6 for p in sorted(out.iterdir())}
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    print(f"command: {' '.join(['trollscope', *command[1:]])}\n")
    print("| posts | seconds | posts/s | peak RSS, largest process (MB) | all processes (MB) |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.posts:,} | {seconds:.1f} | {args.posts / seconds:,.0f} | {peak_mb:,.0f} "
        f"| {tree_mb:,.0f} |"
    )
    print("\nfiles: " + ", ".join(f"{name} {mb:.1f} MB" for name, mb in sizes.items()))


if __name__ == "__main__":
    main()
