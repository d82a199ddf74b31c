"""Options that several commands share, and choices read from the registries."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

import click

from trollscope.cli.show import terminal_safe
from trollscope.detect.params import DetectParams
from trollscope.engine import ENGINES
from trollscope.errors import TrollscopeError
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.readers import names as format_names
from trollscope.ingest.readers.table import parse_mapping
from trollscope.model import EARLIEST_DAY, TimeRange

P = ParamSpec("P")
R = TypeVar("R")

DEFAULTS = DetectParams()

# The CASE argument of every command that reads an existing case: a DuckDB case file, or
# a Parquet case folder (case/parquet.py).
case_argument = click.argument("case_path", type=click.Path(exists=True, path_type=Path))

EXACT_CSV_HELP = (
    "Write CSV cells exactly as the data has them. By default a text cell beginning with "
    "=, +, -, @, a tab or a carriage return gets a ' in front, so that a spreadsheet shows "
    "it instead of running it as a formula (a hostile handle or key)."
)
MEMORY_HELP = (
    "Most memory DuckDB may hold before it spills to disk, like 6GB (default: DuckDB's, "
    "80% of the RAM)."
)


class LazyChoice(click.Choice[str]):
    """Choices from a registry loaded when first needed: the trace registry imports Ibis
    and the signals theirs, which commands like `ingest` should not pay for at start-up."""

    def __init__(self, load: Callable[[], list[str]]) -> None:
        self._load = load
        super().__init__([])

    @property  # type: ignore[override]
    def choices(self) -> list[str]:
        return self._load()

    @choices.setter
    def choices(self, value: object) -> None:
        pass


class OutFile(click.Path):
    """The file an -o option names. A folder (an existing one, or any path written with a
    trailing separator, which Path would drop: `report -o out/` wrote a file named out) is
    refused in one sentence that shows a file name to give, `example`, inside it."""

    def __init__(self, example: str) -> None:
        super().__init__(dir_okay=False, path_type=Path)
        self.example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        raw = os.fspath(value)
        seps = (os.sep, os.altsep) if os.altsep else (os.sep,)
        if isinstance(raw, str) and (raw.endswith(seps) or Path(raw).is_dir()):
            inside = Path(raw) / self.example
            self.fail(
                f"{terminal_safe(raw)} is a folder: give the path of the file to write, "
                f"e.g. {terminal_safe(str(inside))}.",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


# What --window means, in edges, detect and scan alike: seconds between two accounts'
# actions on one key; 0 is "any time"; "auto" estimates one trace's window from the data.
WINDOW_METAVAR = "SECONDS|auto"


class EdgesWindow(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 only
    """`edges --window`: seconds (0: any time), or "auto"."""

    name = "window"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, float) or value == "auto":
            return value
        try:
            seconds = float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number of seconds nor 'auto'.", param, ctx)
        if not math.isfinite(seconds) or seconds < 0:
            self.fail(f"{value!r}: give 0 (any time) or more seconds, or 'auto'.", param, ctx)
        return seconds


class DetectWindow(EdgesWindow):
    """`detect --window` and `scan --window`: the same words as `edges`; "auto" estimates
    each trace's own window. Only a positive window can be tested, so 0 (any time) is
    explained rather than refused as a bad number."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if seconds == 0:
            self.fail(
                "0 means any time (as in `trollscope edges`), which detect cannot test "
                "against chance (its tests shift actions within the window): give a positive "
                "number of seconds, 'auto', or leave --window out for each trace's own.",
                param,
                ctx,
            )
        return seconds


# The bounds of --earliest and --latest: calendar days (UTC).
DAY = click.DateTime(formats=["%Y-%m-%d"])


def engine_option(what: str, after: str = "") -> Callable[[Any], Any]:
    """`--engine`: `what` runs on DuckDB inside the case, or on Apache Spark."""
    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default=DEFAULTS.engine,
        show_default=True,
        help=f"{what}: DuckDB inside the case, or Apache Spark (pip install "
        "'trollscope[spark]'; local mode unless TROLLSCOPE_SPARK_MASTER is set). " + after,
    )


def peer_options(does: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`--min-participation` and `--min-weight`, a peer's thresholds: with either, the
    command `does` (e.g. "write only the edges") that the peer's rule keeps."""
    options = [
        click.option(
            "--min-participation",
            type=click.IntRange(1),
            default=None,
            metavar="N",
            help=f"A peer's threshold, not a test: {does} CooRTweet's rule keeps (accounts "
            "with N+ posts; a pair kept if one side has N+ coordinated posts).",
        ),
        click.option(
            "--min-weight",
            type=click.IntRange(1),
            default=None,
            metavar="N",
            help=f"A peer's threshold, not a test: {does} the coordination-network-"
            "toolkit's minimum edge weight keeps (pairs with N+ co-actions).",
        ),
    ]
    return functools.partial(_stacked, options)


def trace_names() -> list[str]:
    from trollscope.traces import TRACES

    return TRACES.names()


def signal_names() -> list[str]:
    from trollscope.signals import SIGNALS

    return SIGNALS.names()


def _stacked(options: list[Callable[[Any], Any]], func: Callable[P, R]) -> Callable[P, R]:
    """Apply click option decorators as if written above the function, in order."""
    for option in reversed(options):
        func = option(func)
    return func


def input_options(func: Callable[..., R]) -> Callable[..., R]:
    """How to read the input files: the options ingest and scan share, handed to the
    command as `fmt` and `options` (ReadOptions)."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        mapping: str,
        platform: str | None,
        timezone: str | None,
        earliest: datetime,
        latest: datetime | None,
        **kwargs: Any,
    ) -> R:
        try:
            parsed = parse_mapping(mapping)
            times = TimeRange(earliest.date(), latest.date() if latest else None)
        except TrollscopeError as exc:  # outside the command's `friendly`: say it here
            raise click.ClickException(terminal_safe(str(exc))) from exc
        options = ReadOptions(platform=platform, mapping=parsed, timezone=timezone, times=times)
        return func(*args, options=options, **kwargs)

    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(format_names()),
            default=None,
            help="The input format; by default it is recognised from the content.",
        ),
        click.option(
            "--map",
            "mapping",
            default="",
            metavar="FIELD=COLUMN,...",
            help="Map canonical fields to a table's columns, e.g. "
            "post_id=id,account_id=user,created_at=time,text=message.",
        ),
        click.option(
            "--platform", default=None, help="Platform name for tables that do not say it."
        ),
        click.option(
            "--timezone",
            default=None,
            metavar="ZONE",
            help="The IANA time zone (e.g. America/Chicago) of local times that carry no "
            "offset, or an ambiguous label: mapped tables, CrowdTangle exports (CST, IST, ...).",
        ),
        click.option(
            "--earliest",
            type=DAY,
            default=EARLIEST_DAY.isoformat(),
            show_default=True,
            metavar="YYYY-MM-DD",
            help="The first day (UTC) a post or an account's creation may lie in; a record "
            "with a time before it is rejected. Earlier for platforms older than 2004.",
        ),
        click.option(
            "--latest",
            type=DAY,
            default=None,
            metavar="YYYY-MM-DD",
            help="The last day (UTC) a record's times may lie in (default: tomorrow).",
        ),
    ]
    return _stacked(options, wrapper)


def detect_options(func: Callable[..., R]) -> Callable[..., R]:
    """The options detect and scan share, handed to the command as `params`
    (DetectParams, whose own defaults are the options' defaults), `hide_progress` and
    `as_json`."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        trace_names: tuple[str, ...],
        window: float | Literal["auto"] | None,
        fdr: float,
        period: float,
        jitter: float,
        seed: int,
        memory_limit: str | None,
        engine: str,
        all_tests: bool,
        min_participation: int | None,
        min_weight: int | None,
        **kwargs: Any,
    ) -> R:
        params = DetectParams(
            traces=trace_names or DEFAULTS.traces,
            window=window,
            q=fdr,
            period_s=period,
            jitter_s=jitter,
            seed=seed,
            memory_limit=memory_limit,
            engine=engine,
            all_tests=all_tests,
            min_participation=min_participation,
            min_weight=min_weight,
        )
        return func(*args, params=params, **kwargs)

    options = [
        click.option(
            "--trace",
            "trace_names",
            multiple=True,
            type=LazyChoice(trace_names),
            help="A trace to test (repeatable). Default: every action trace.",
        ),
        click.option(
            "--window",
            type=DetectWindow(),
            default=None,
            metavar=WINDOW_METAVAR,
            help="Co-action window in seconds for every trace, positive, or 'auto': each "
            "trace's estimated from the data as `edges --window auto` does, at most half "
            "the jitter (default: each trace's own, 60 s for most).",
        ),
        click.option(
            "--q",
            "fdr",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=DEFAULTS.q,
            show_default=True,
            help="False discovery rate over all tested account pairs (Benjamini-Hochberg).",
        ),
        click.option(
            "--period",
            type=click.FloatRange(0, min_open=True),
            default=DEFAULTS.period_s,
            show_default=True,
            help="Seconds over which the null keeps each account's activity and each key's "
            "popularity ('what is popular in those six hours'); see docs/significance.md.",
        ),
        click.option(
            "--jitter",
            type=click.FloatRange(0, min_open=True),
            default=DEFAULTS.jitter_s,
            show_default=True,
            help="Seconds within which the account, burst and cohort tests shift each "
            "account's actions (their null); see docs/significance.md.",
        ),
        click.option(
            "--seed", type=int, default=DEFAULTS.seed, show_default=True, help="Leiden's seed."
        ),
        click.option("--memory-limit", default=None, metavar="SIZE", help=MEMORY_HELP),
        engine_option(
            "Where each trace's edges and tests and the account signals (their passes over "
            "the posts and accounts, and rhythm's and content's tests) run",
            "Leiden and the networks' description run here.",
        ),
        click.option(
            "--all-tests",
            is_flag=True,
            help="Keep every pair test in the case (table pair_tests), each q-value exact. "
            "Without it, only the pair tests that could pass and those inside a network "
            "come back from the engine; the others are counted.",
        ),
        peer_options(
            "also report, beside the tested networks and apart from them, the networks "
            "of the pairs that"
        ),
        click.option("--hide-progress", is_flag=True, help="Never show the progress bar."),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the results as one JSON object."
        ),
    ]
    return _stacked(options, wrapper)
