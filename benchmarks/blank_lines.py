"""Blank lines at ingest (issue 19): how fast a file that is mostly blank lines is read.

Writes, per format, a file of a few real records (the test fixtures) with MB megabytes of
blank lines between them (empty lines, spaces, tabs, carriage returns), plain and
gzipped, and times `trollscope.ingest.ingest` of each into a fresh case, in this
process. Blank lines are not records: the counts must equal those of the records alone.
The table goes to stdout; docs/benchmarks.md is updated by hand from it.

    .venv/bin/python benchmarks/blank_lines.py --mb 200
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.run import ingest

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SOURCES = {
    "twarc2": DATA / "twarc2" / "search_pages.jsonl",
    "twitter-v1": DATA / "twitter_v1" / "stream.jsonl",
    "crowdtangle-api": DATA / "crowdtangle_api" / "links.jsonl",
    "io-tweets": DATA / "ioarchive" / "tweets.csv",
}
# A CSV reader counts a whitespace-only line's errors per column: the CSV gets a tenth of
# the blank bytes as whitespace lines, the rest empty.
JSON_RUN = b"\n" * 600 + b"   \n" * 150 + b"\t \r\n" * 150 + b" \r\n" * 100
CSV_RUN = b"\n" * 9_000 + b"   \n" * 150 + b" \t \n" * 150


def blank_file(fmt: str, megabytes: float, folder: Path, packed: bool) -> tuple[Path, int]:
    """The format's fixture with a run of blank lines before each record after the
    first (a CSV's header and a JSON file's first line are read before any blank line),
    and its size unpacked."""
    source = SOURCES[fmt]
    lines = source.read_bytes().replace(b"\r\n", b"\n").splitlines(keepends=True)
    run = CSV_RUN if fmt == "io-tweets" else JSON_RUN
    first, rest = (2, lines[2:]) if fmt == "io-tweets" else (1, lines[1:])
    copies = max(1, int(megabytes * 2**20 / len(run) / max(1, len(rest))))
    data = b"".join(lines[:first]) + b"".join(run * copies + line for line in rest)
    path = folder / f"{fmt}{source.suffix}{'.gz' if packed else ''}"
    path.write_bytes(gzip.compress(data, 6) if packed else data)
    return path, len(data)


def timed(fmt: str, path: Path, folder: Path) -> tuple[float, tuple[int, int, int]]:
    case = folder / "case.duckdb"
    case.unlink(missing_ok=True)
    started = time.perf_counter()
    result = ingest(case, [path], fmt=fmt, options=ReadOptions())
    took = time.perf_counter() - started
    return took, (result.total("read"), result.total("stored"), result.total("rejected"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200, help="megabytes of blank lines")
    parser.add_argument("--formats", nargs="*", default=list(SOURCES), choices=list(SOURCES))
    args = parser.parse_args()
    print("| format | file | blank MB | seconds | MB/s | read, stored, rejected |")
    print("|---|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for fmt in args.formats:
            for packed in (False, True):
                path, size = blank_file(fmt, args.mb, folder, packed)
                took, counted = timed(fmt, path, folder)
                mb = size / 2**20
                print(
                    f"| {fmt} | {path.name} ({path.stat().st_size / 2**20:.1f} MB) "
                    f"| {mb:,.0f} | {took:.2f} | {mb / took:,.0f} | {counted} |"
                )


if __name__ == "__main__":
    main()
