"""The report of the 1M-post default scenario: its size, the time to write it, and the
time headless Chromium takes to open it.

    .venv/bin/python benchmarks/report.py --posts 1000000

Uses the case that benchmarks/detection.py caches (stealth 0, seed 1; it is simulated,
ingested and detected here if missing), writes the report in a fresh process, then opens
it with Debian's headless Chromium (`--dump-dom`, which returns once the page has
loaded and laid out) three times, and prints a markdown table for docs/benchmarks.md.
Targets (issue 7): under 10 MB, open in Chromium in under 3 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"


def _case(posts: int) -> Path:
    """A detected copy of the cached stealth-0 case."""
    sys.path.insert(0, str(HERE))
    from detection import simulated  # the cached simulation of benchmarks/detection.py
    from trollscope.detect.run import detect
    from trollscope.ingest.run import ingest

    folder = simulated("default", posts, 0, 1)
    cached = WORK / f"case-detect-{folder.name}.duckdb"
    if not cached.exists():
        ingest(cached, [folder / "io_tweets.csv"])
    case = WORK / "case-report-run.duckdb"
    shutil.copy(cached, case)
    detect(case)
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the detected case (to time another version)"
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    case = _case(args.posts)
    report = WORK / "report-1m.html"
    start = time.perf_counter()
    subprocess.run(
        [Path(sys.executable).with_name("trollscope"), "report", str(case), "-o", str(report)],
        check=True,
        capture_output=True,
    )
    write_s = time.perf_counter() - start
    opens = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as profile:
            start = time.perf_counter()
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 f"--user-data-dir={profile}", "--dump-dom", report.as_uri()],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            opens.append(time.perf_counter() - start)
    size = report.stat().st_size
    if not args.keep:
        case.unlink()
    print("| report | size | `trollscope report` (process) | Chromium opens it (3 runs) |")
    print("|---|---:|---:|---|")
    print(
        f"| {args.posts:,} posts, stealth 0 | {size / 1e6:.2f} MB | {write_s:.1f} s | "
        + ", ".join(f"{s:.2f} s" for s in opens)
        + " |"
    )


if __name__ == "__main__":
    main()
