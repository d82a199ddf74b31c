"""The Python API: every job of the command line, as a function.

The CLI is a thin shell over this module: each command parses its options, calls one of
these functions and prints what it returns. Notebooks and scripts call them the same way:

    from trollscope import api
    api.ingest("case.duckdb", ["tweets.jsonl"])
    found = api.detect("case.duckdb")
    api.report("case.duckdb", "report.html")

Results are dataclasses (with `as_dict()` where a command prints JSON); the case's tables
hold the rest (read them with DuckDB, or export them). Stages that load heavy libraries
(Ibis, igraph, the report's templates) are imported when first called, so that a
command like `trollscope ingest` starts without them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trollscope.case.convert import convert as _convert
from trollscope.case.info import case_info
from trollscope.detect.params import DEFAULT_TRACES, DetectParams
from trollscope.engine import ENGINES, MAX_BURST
from trollscope.errors import writing
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import IngestResult
from trollscope.ingest.run import ingest as _ingest
from trollscope.model import EARLIEST_DAY, TimeRange
from trollscope.peerrule import PeerRule

if TYPE_CHECKING:
    from trollscope.detect.run import DetectResult, NetworkSummary
    from trollscope.detect.thresholdstore import Threshold
    from trollscope.engine.run import WindowEstimate
    from trollscope.features.avatars import AvatarRun
    from trollscope.features.avatars import Progress as PictureProgress
    from trollscope.report.export import ExportSummary
    from trollscope.report.render import ReportSummary
    from trollscope.signals.base import SignalParams
    from trollscope.simulate.config import SimulationConfig
    from trollscope.simulate.evaluate import Evaluation
    from trollscope.simulate.run import SimulationResult

__all__ = [
    "DEFAULT_TRACES",
    "ENGINES",
    "MAX_BURST",
    "DetectParams",
    "Detection",
    "EdgesRun",
    "IngestResult",
    "PeerRule",
    "ReadOptions",
    "Scan",
    "TimeRange",
    "avatars",
    "convert_case",
    "detect",
    "edges",
    "estimate_window",
    "evaluate",
    "export",
    "info",
    "ingest",
    "read_options",
    "report",
    "scan",
    "signals",
    "simulate",
]

BytesProgress = Callable[[int], None]  # bytes of input read since the last call
StageProgress = Callable[[str, int, int], None]  # (stage, stages done, stages in all)


def read_options(
    platform: str | None = None,
    mapping: str = "",
    timezone: str | None = None,
    earliest: date = EARLIEST_DAY,
    latest: date | None = None,
) -> ReadOptions:
    """How to read input files: `mapping` as the CLI's --map takes it
    ("post_id=id,account_id=user,..."); `earliest` and `latest` the days (UTC) a
    record's times may lie between, as --earliest and --latest (latest None: tomorrow)."""
    return ReadOptions(
        platform=platform,
        mapping=parse_mapping(mapping),
        timezone=timezone,
        times=TimeRange(earliest, latest),
    )


def ingest(
    case: Path | str,
    files: Sequence[Path | str],
    fmt: str | None = None,
    options: ReadOptions | None = None,
    progress: BytesProgress | None = None,
) -> IngestResult:
    """Read `files` into the case (created if missing); see `ingest.run.ingest`."""
    return _ingest(case, [Path(f) for f in files], fmt=fmt, options=options, progress=progress)


def convert_case(source: Path | str, target: Path | str) -> str:
    """Convert a DuckDB case file to a Parquet case folder or back, every table included;
    the kind made ("parquet" or "duckdb"). See `case.convert`."""
    return _convert(source, target)


def info(case: Path | str) -> dict[str, Any]:
    """What a case holds: posts and accounts per platform, time span, kinds, rejects,
    sources (the JSON `trollscope info --json` prints)."""
    return case_info(case)


@dataclass(frozen=True, slots=True)
class EdgesRun:
    """What `edges` did: the edges kept, the window used (and how it was estimated), the
    keys skipped as viral, the file written, and, with a peer's rule, how many edges it
    keeps (those are what the file holds)."""

    edges: int
    window: float | None
    estimate: WindowEstimate | None
    skipped_keys: int
    out: Path | None
    rule: PeerRule | None = None
    kept: int | None = None


def estimate_window(case: Path | str, trace: str, quantile: float = 0.1) -> WindowEstimate:
    """A window proposed from the data's own delays (`--window auto`)."""
    from trollscope.engine.run import estimate_window as estimate

    return estimate(case, trace, quantile)


def edges(
    case: Path | str,
    trace: str,
    window: float | str | None = None,
    out: Path | str | None = None,
    max_burst: int = MAX_BURST,
    engine: str = "duckdb",
    memory_limit: str | None = None,
    exact_csv: bool = False,
    rule: PeerRule | None = None,
    progress: StageProgress | None = None,
) -> EdgesRun:
    """One trace's co-action edges into the case; `window` in seconds, None for the
    trace's own, or "auto" to estimate it. With `out`, also write them to a .csv (text
    cells that a spreadsheet would run are quoted unless `exact_csv`) or .parquet file.
    With a peer's `rule` (CooRTweet's min participation, CNT's min weight), the file
    holds the edges the rule keeps: to compare the peers' networks with what detect
    finds (the case keeps every edge). `progress(stage, done, total)` as each stage of
    the computation starts."""
    from trollscope.engine.run import ruled_edges as compute
    from trollscope.engine.run import skipped_keys
    from trollscope.report.export import write_edges

    estimate = estimate_window(case, trace) if window == "auto" else None
    seconds = estimate.seconds if estimate is not None else window
    if isinstance(seconds, str):
        from trollscope.errors import TrollscopeError

        raise TrollscopeError(f"{seconds!r} is neither a number of seconds nor 'auto'.")
    n, kept = compute(
        case, trace, rule, seconds, max_burst=max_burst, engine=engine,
        memory_limit=memory_limit, progress=progress,
    )  # fmt: skip
    written = write_edges(case, trace, out, exact=exact_csv, kept=kept) if out else None
    return EdgesRun(
        n,
        seconds,
        estimate,
        skipped_keys(case, trace),
        written,
        rule if kept is not None else None,
        kept.num_rows if kept is not None else None,
    )


def signals(
    case: Path | str,
    names: Sequence[str] | None = None,
    params: SignalParams | None = None,
    progress: StageProgress | None = None,
    engine: str = "duckdb",
) -> dict[str, int]:
    """Account signals (all by default) into the case; the flagged accounts per signal.
    `progress(stage, done, total)` as each signal starts. `engine`: where their passes
    over the posts and accounts and their tests run ("duckdb", in the case; "spark")."""
    from trollscope.engine.run import check_engine, engine_for
    from trollscope.signals.run import signals as compute

    check_engine(engine)
    opener = None if engine == "duckdb" else functools.partial(engine_for, engine)
    return compute(case, names, params, progress, opener)


def avatars(
    case: Path | str,
    folder: Path | str | None = None,
    progress: PictureProgress | None = None,
) -> AvatarRun:
    """Hash the case's profile pictures (from `folder`, and local paths the data names)."""
    from trollscope.features.avatars import avatars as hash_them

    return hash_them(case, folder, progress=progress)


@dataclass(frozen=True, slots=True)
class Detection:
    """A detection run: what was tested and found, and the strongest networks."""

    result: DetectResult
    networks: list[NetworkSummary]
    # A peer's threshold (`min_participation`, `min_weight`): its networks, beside the
    # tested ones and apart from them (None: the run had none).
    threshold: Threshold | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON `trollscope detect --json` prints."""
        return {
            **asdict(self.result),
            "networks_top": [asdict(n) for n in self.networks],
            "threshold": asdict(self.threshold) if self.threshold is not None else None,
        }


def detect(
    case: Path | str, params: DetectParams | None = None, progress: StageProgress | None = None
) -> Detection:
    """Detect coordinated networks in the case (see `detect.run.detect`), with the top ten
    networks summarised."""
    from trollscope.detect.run import detect as run
    from trollscope.detect.run import summary
    from trollscope.detect.thresholdstore import threshold_summary

    result = run(case, params, progress)
    return Detection(result, summary(case), threshold_summary(case))


def report(
    case: Path | str,
    out: Path | str,
    max_members: int = 200,
    progress: StageProgress | None = None,
) -> ReportSummary:
    """The HTML report of the case's last detection; `progress` as each stage starts."""
    from trollscope.report import write_report

    return write_report(case, out, max_members=max_members, progress=progress)


def export(
    case: Path | str,
    out: Path | str,
    fmt: str,
    what: str = "networks",
    exact: bool = False,
    progress: StageProgress | None = None,
) -> ExportSummary:
    """The last detection as a graph (gexf, graphml) or tables (csv, parquet, json);
    `progress` as each stage starts."""
    from trollscope.report.export import export as write

    return write(case, out, fmt=fmt, what=what, exact=exact, progress=progress)


@dataclass(frozen=True, slots=True)
class Scan:
    """`scan`: ingest, detect and report in one go, into one folder."""

    case: Path
    report: ReportSummary
    ingest: IngestResult
    detection: Detection

    def as_dict(self) -> dict[str, Any]:
        """The JSON `trollscope scan --json` prints."""
        return {
            "case": str(self.case),
            "report": str(self.report.path),
            "ingest": self.ingest.as_dict(),
            **self.detection.as_dict(),
        }


def scan(
    files: Sequence[Path | str],
    out_dir: Path | str,
    fmt: str | None = None,
    options: ReadOptions | None = None,
    params: DetectParams | None = None,
    ingest_progress: BytesProgress | None = None,
    detect_progress: StageProgress | None = None,
    ingested: Callable[[IngestResult], None] | None = None,
) -> Scan:
    """Ingest `files` into OUT/case.duckdb, detect, and write OUT/report.html.
    `ingested` is called with the ingest's result before detection starts."""
    out = Path(out_dir)
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
    case = out / "case.duckdb"
    loaded = ingest(case, files, fmt=fmt, options=options, progress=ingest_progress)
    if ingested is not None:
        ingested(loaded)
    detection = detect(case, params, detect_progress)
    written = report(case, out / "report.html")
    return Scan(case, written, loaded, detection)


def simulate(
    config: SimulationConfig,
    out_dir: Path | str,
    formats: Sequence[str] = ("twarc2", "io-tweets"),
    progress: BytesProgress | None = None,
) -> SimulationResult:
    """A synthetic data set with planted farms and labels (files only)."""
    from trollscope.simulate import simulate as write

    return write(config, Path(out_dir), formats=tuple(formats), progress=progress)


def evaluate(
    labels: Path | str, answer: Path | str | None = None, case: Path | str | None = None
) -> Evaluation:
    """Score an answer (or the case's last detection) against ground-truth labels."""
    from trollscope.simulate.evaluate import evaluate as score

    return score(Path(labels), Path(answer) if answer else None, case)
