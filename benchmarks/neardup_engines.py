"""near-dup-text's edges on each engine, and on other commits' code: where its MinHash and
clusters run shows in the process tree's peak memory and CPU.

    .venv/bin/python benchmarks/neardup_engines.py CASE --engines duckdb spark \\
        [--src LABEL=DIR ...]

Each run is `trollscope edges CASE --trace near-dup-text --engine E` on a fresh copy of the
case, in a child process measured as a process tree (`measure.py`: wall and CPU time of
every process, the JVM's included; peak resident memory of the tree). `--src LABEL=DIR`
runs the code of DIR/src instead of this tree's (e.g. `git archive COMMIT src | tar -x -C
DIR`), to compare commits side by side on the same machine in one sitting; without it,
this tree's code runs, labelled `tree`. The table goes to stdout, in markdown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: `benchmarks` is importable from here
    sys.path.insert(0, str(HERE.parent))

from benchmarks.measure import become_subreaper, run, stage_env  # noqa: E402

COMMAND = "from trollscope.cli import main; main()"


def _one(case: Path, engine: str, src: Path | None, work: Path) -> tuple[float, float, float]:
    copy = work / "case.duckdb"
    shutil.copyfile(case, copy)
    env = stage_env()
    if src is not None:
        env["PYTHONPATH"] = str(src / "src") + os.pathsep + env.get("PYTHONPATH", "")
    argv = [sys.executable, "-c", COMMAND, "edges", str(copy), "--trace", "near-dup-text"]
    measured = run([*argv, "--engine", engine], work / f"log-{engine}", env)
    copy.unlink()
    return measured.seconds, measured.cpu_seconds, measured.peak_rss_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"])
    parser.add_argument("--src", action="append", default=[], metavar="LABEL=DIR")
    args = parser.parse_args()
    sources: list[tuple[str, Path | None]] = [
        (label, Path(folder)) for label, folder in (s.split("=", 1) for s in args.src)
    ] or [("tree", None)]
    become_subreaper()
    print("| code | engine | wall s | CPU s | peak MiB |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="neardup-engines-") as tmp:
        for engine in args.engines:
            for label, src in sources:
                seconds, cpu, peak = _one(args.case, engine, src, Path(tmp))
                print(f"| {label} | {engine} | {seconds:.1f} | {cpu:.1f} | {peak:,.0f} |")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
