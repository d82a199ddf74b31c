"""detect's stages, commit against commit: where one version spends its CPU time that
another does not.

    .venv/bin/python benchmarks/stages.py CASE A=DIR_A/src B=DIR_B/src --engine spark
    .venv/bin/python benchmarks/stages.py CASE plain=SRC rule=SRC --engine duckdb \
        --detect-args "rule=--min-participation 2"

Each LABEL=SRC is a version of trollscope's `src` (for a commit C: `git archive C src |
tar -x -C DIR`), put first on PYTHONPATH. For each in turn, `detect --json` runs on a
fresh copy of CASE (a case file, untouched) with `--engine`, measured as a process tree
(`measure.py`: the JVM and its Python workers included), and its stages are read from
its progress lines as `scale.py` reads them. Run one at a time, on an otherwise idle
machine: each stage's CPU is sampled from the whole machine's view of the tree.
`--detect-args LABEL=ARGS` adds options to one version's detect (the same source with and
without an option, say).

Prints a markdown table: one row per stage, CPU seconds per version, and the last
version's ratio to the first; then the whole process tree, wall time and peak memory,
and what each version found (accounts, networks, significant pair tests), which should
agree; then the tree's peak memory in each stage, split by process (the command, the JVM,
Spark's Python workers). The measurements go to
benchmarks/.work/stages-LABEL.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: `benchmarks` is importable from here
    sys.path.insert(0, str(HERE.parent))

from benchmarks.detection import WORK  # noqa: E402
from benchmarks.measure import become_subreaper, run, stage_env  # noqa: E402

EXE = Path(sys.executable).with_name("trollscope")


def measure(
    case: Path, label: str, src: str, engine: str, extra: list[str] | None = None
) -> dict[str, Any]:
    """One version's detect on a copy of `case` (with `extra` options): its stages,
    totals and findings."""
    copy = WORK / f"stages-{label}.duckdb"
    for leftover in (copy, copy.with_name(copy.name + ".wal")):
        leftover.unlink(missing_ok=True)  # a killed run's WAL would not fit the new copy
    shutil.copy(case, copy)
    env = {**stage_env(), "PYTHONPATH": src}
    argv = [str(EXE), "detect", str(copy), "--engine", engine, "--json", *(extra or [])]
    try:
        m = run(argv, WORK / f"stages-{label}.log", env=env)
    finally:
        copy.unlink(missing_ok=True)
    found = json.loads(m.stdout[m.stdout.index("{") :])
    return {
        "label": label,
        "src": src,
        "engine": engine,
        "seconds": m.seconds,
        "cpu_seconds": m.cpu_seconds,
        "peak_rss_mib": m.peak_rss_mib,
        "peak_parts": m.peak_parts,
        "stages": [
            [s.name, s.seconds, s.cpu_seconds, s.peak_rss_mib, s.peak_parts] for s in m.stages
        ],
        "found": [
            found.get("flagged_accounts"),
            found.get("networks"),
            sum((found.get("significant") or {}).values()),
        ],
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Stages down, versions across (CPU seconds), the last over the first."""
    names: list[str] = []
    for r in rows:
        names += [s[0] for s in r["stages"] if s[0] not in names]
    cpu = [{s[0]: s[2] for s in r["stages"]} for r in rows]
    labels = [r["label"] for r in rows]
    lines = [
        "| stage | " + " | ".join(labels) + f" | {labels[-1]} / {labels[0]} |",
        "|---|" + "---:|" * (len(rows) + 1),
    ]

    def line(name: str, values: list[float], fmt: str = ",.1f") -> str:
        ratio = f"{values[-1] / values[0]:.2f}" if values[0] else "-"
        return f"| {name} | " + " | ".join(f"{v:{fmt}}" for v in values) + f" | {ratio} |"

    for name in names:
        lines.append(line(name, [c.get(name, 0.0) for c in cpu]))
    lines.append(line("**all** (CPU s)", [r["cpu_seconds"] for r in rows]))
    lines.append(line("wall s", [r["seconds"] for r in rows]))
    lines.append(line("peak MiB", [r["peak_rss_mib"] for r in rows], ",.0f"))
    lines.append(
        "| found (accounts / networks / significant pairs) | "
        + " | ".join("{} / {} / {}".format(*r["found"]) for r in rows)
        + " | |"
    )
    return "\n".join(lines)


def _peak_cell(stage: list[Any]) -> str:
    """A stage's peak MiB and, where measured, whose it was: "10,600 (jvm 5,000, ...)"."""
    parts = stage[4] if len(stage) > 4 else []
    split = ", ".join(f"{who} {mib:,.0f}" for who, mib in parts)
    return f"{stage[3]:,.0f}" + (f" ({split})" if split else "")


def peak_table(rows: list[dict[str, Any]]) -> str:
    """The process tree's peak memory (MiB) in each stage, versions across: where the
    peak is reached, and by which processes (the command, the JVM, the workers). Rows
    measured before stages kept their peak read '-'."""
    names: list[str] = []
    for r in rows:
        names += [s[0] for s in r["stages"] if s[0] not in names]
    peaks = [{s[0]: _peak_cell(s) for s in r["stages"] if len(s) > 3} for r in rows]
    lines = [
        "| stage (peak MiB) | " + " | ".join(r["label"] for r in rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    for name in names:
        cells = [p.get(name, "-") for p in peaks]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", type=Path, help="a case file (copied for each run)")
    parser.add_argument("versions", nargs="+", metavar="LABEL=SRC")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="spark")
    parser.add_argument(
        "--detect-args",
        action="append",
        default=[],
        metavar="LABEL=ARGS",
        help='more options for one version\'s detect, e.g. "rule=--min-participation 2"',
    )
    args = parser.parse_args()
    versions = [v.split("=", 1) for v in args.versions]
    if any(len(v) != 2 or not v[0] for v in versions):
        parser.error("each version is LABEL=SRC, e.g. A=/tmp/A/src")
    extra = dict(a.split("=", 1) for a in args.detect_args if "=" in a)
    if len(extra) != len(args.detect_args) or not set(extra) <= {v[0] for v in versions}:
        parser.error("each --detect-args is LABEL=ARGS, for a LABEL among the versions")
    WORK.mkdir(parents=True, exist_ok=True)
    become_subreaper()
    rows = []
    for label, src in versions:
        row = measure(args.case, label, src, args.engine, shlex.split(extra.get(label, "")))
        (WORK / f"stages-{label}.json").write_text(json.dumps(row, indent=1))
        rows.append(row)
    sys.stdout.write(table(rows) + "\n\n" + peak_table(rows) + "\n")


if __name__ == "__main__":
    main()
