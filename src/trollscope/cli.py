"""The command line: a thin shell. Each command parses, calls one library function, and
turns a TrollscopeError into one sentence on stderr and a non-zero exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from trollscope import __version__
from trollscope.errors import TrollscopeError
from trollscope.info import case_info
from trollscope.ingest import IngestResult, ingest
from trollscope.readers import ReadOptions, names
from trollscope.readers.table import parse_mapping

if TYPE_CHECKING:  # the report (jinja2, igraph) loads only when a command needs it
    from trollscope.report import ReportSummary

P = ParamSpec("P")
R = TypeVar("R")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def plain(value: object) -> Text:
    """Text shown as is: file names and reject reasons can hold `[markup]` from the data."""
    return Text(str(value))


def friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our own errors into a message and exit code 1; let real bugs show a traceback."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TrollscopeError as exc:
            raise click.ClickException(str(exc)) from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@contextmanager
def progress_bar(total: int, hide: bool, label: str) -> Iterator[Callable[[int], None]]:
    """A byte-sized progress bar on stderr, hidden when stderr is not a terminal."""
    disable = hide or not sys.stderr.isatty()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=disable,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@click.group()
@click.version_option(__version__, prog_name="trollscope")
def cli() -> None:
    """Find troll farms (coordinated inauthentic behaviour) in social-media data you
    already have, and show the evidence. trollscope only analyses: it never posts."""


def _stacked(options: list[Callable[[Any], Any]], func: Callable[P, R]) -> Callable[P, R]:
    """Apply click option decorators as if written above the function, in order."""
    for option in reversed(options):
        func = option(func)
    return func


def _input_options(func: Callable[P, R]) -> Callable[P, R]:
    """How to read the input files: the options ingest and scan share."""
    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(names()),
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
    ]
    return _stacked(options, func)


@cli.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--into",
    "case_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The case file (DuckDB) to add to; created if missing.",
)
@_input_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def ingest_cmd(
    files: tuple[Path, ...],
    case_path: Path,
    fmt: str | None,
    mapping: str,
    platform: str | None,
    timezone: str | None,
    as_json: bool,
    hide_progress: bool,
) -> None:
    """Read FILES into a case. Bad rows are set aside with file, line, field and reason;
    read = stored + duplicate + rejected. Re-ingesting the same data changes nothing."""
    options = ReadOptions(platform=platform, mapping=parse_mapping(mapping), timezone=timezone)
    total = sum(p.stat().st_size for p in files if p.is_file())
    with progress_bar(total, hide_progress, "ingest") as advance:
        result = ingest(case_path, files, fmt=fmt, options=options, progress=advance)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        _print_ingest(result)


def _print_ingest(result: IngestResult) -> None:
    table = Table(title=f"ingested into {result.case}", title_justify="left")
    for col in ("file", "format", "read", "stored", "duplicate", "rejected", "new accounts"):
        # Paths wrap rather than being cut: the file is what the user needs to see.
        table.add_column(
            col, justify="left" if col in ("file", "format") else "right", overflow="fold"
        )
    for f in result.files:
        table.add_row(
            plain(f.path),
            f.format,
            *(f"{n:,}" for n in (f.read, f.stored, f.duplicate, f.rejected, f.accounts_new)),
        )
    if len(result.files) > 1:
        table.add_row(
            "total",
            "",
            *(
                f"{result.total(k):,}"
                for k in ("read", "stored", "duplicate", "rejected", "accounts_new")
            ),
        )
    out.print(table)
    if result.total("rejected"):
        out.print(
            f"{result.total('rejected'):,} rejected records are listed with their reasons: "
            f"`trollscope info {result.case}`."
        )


@cli.command("info")
@click.argument("case_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@friendly
def info_cmd(case_path: Path, as_json: bool) -> None:
    """What a case holds: posts and accounts per platform, time span, kinds, rejects."""
    info = case_info(case_path)
    if as_json:
        click.echo(json.dumps(info))
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    out.print(plain(info["case"]), style="bold")
    out.print(
        f"{info['posts']:,} posts, {info['accounts']:,} accounts, {info['rejects']:,} rejects; "
        f"posts from {info['first_post']} to {info['last_post']} (UTC)"
    )
    platforms = Table(title="per platform", title_justify="left")
    for col in ("platform", "posts", "accounts"):
        platforms.add_column(col, justify="left" if col == "platform" else "right")
    for name, counts in info["platforms"].items():
        platforms.add_row(plain(name), f"{counts['posts']:,}", f"{counts['accounts']:,}")
    out.print(platforms)
    kinds = Table(title="kinds of post", title_justify="left")
    kinds.add_column("kind")
    kinds.add_column("posts", justify="right")
    for kind, n in info["kinds"].items():
        kinds.add_row(plain(kind), f"{n:,}")
    out.print(kinds)
    if info["reject_reasons"]:
        rejects = Table(title="most common reject reasons", title_justify="left")
        for col in ("field", "reason", "count"):
            rejects.add_column(col, justify="right" if col == "count" else "left")
        for r in info["reject_reasons"]:
            rejects.add_row(plain(r["field"] or "-"), plain(r["reason"]), f"{r['count']:,}")
        out.print(rejects)
    sources = Table(title="sources (provenance)", title_justify="left")
    for col in ("file", "format", "sha256", "read", "stored", "duplicate", "rejected"):
        numeric = col in ("read", "stored", "duplicate", "rejected")
        sources.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for s in info["sources"]:
        sources.add_row(
            plain(s["path"]),
            s["format"],
            s["sha256"][:12],
            *(f"{s[k]:,}" for k in ("read", "stored", "duplicate", "rejected")),
        )
    out.print(sources)


@cli.command("simulate")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the data set into (created if missing).",
)
@click.option(
    "--posts",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(min=1000),
    help="Target number of posts in all.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same bytes.")
@click.option(
    "--stealth",
    default=0,
    show_default=True,
    type=click.IntRange(0, 3),
    help="Farm knobs from blatant (0) to subtle (3).",
)
@click.option("--days", default=28, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--formats",
    default="twarc2,io-tweets",
    show_default=True,
    help="Real formats to write besides canonical Parquet (comma-separated, or '').",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def simulate_cmd(
    out_dir: Path,
    posts: int,
    seed: int,
    stealth: int,
    days: int,
    formats: str,
    as_json: bool,
    hide_progress: bool,
) -> None:
    """Write a synthetic data set with planted troll farms, authentic communities, viral
    cascades and ground-truth labels (labels.csv). Files only: nothing is posted."""
    from trollscope.simulate import SimulationConfig, simulate

    cfg = SimulationConfig(posts=posts, seed=seed, days=days).with_stealth(stealth)
    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    with progress_bar(posts, hide_progress, "simulate") as advance:
        try:
            result = simulate(cfg, out_dir, formats=chosen, progress=advance)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--formats") from exc
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    out.print(
        f"{result.posts:,} posts by {result.accounts:,} accounts "
        f"({result.farm_members:,} in farms, {result.community_members:,} in communities) "
        f"written to {result.out_dir}: {', '.join(result.files)}",
        markup=False,
    )


@cli.command("evaluate")
@click.argument("case_path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ground truth: account_id, farm_id, community_id (the simulator writes it).",
)
@click.option(
    "--answer",
    "answer_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The answer to score: account_id, network_id, score.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly
def evaluate_cmd(
    case_path: Path | None, labels_path: Path, answer_path: Path | None, as_json: bool
) -> None:
    """Score reported networks against labels: precision, recall, F1, PR-AUC, adjusted
    Rand index and NMI, for farms and authentic communities separately. Without --answer,
    the CASE's last detection is scored (farms against the networks labelled
    inauthentic, communities against all networks). With CASE, also say how many
    labelled accounts the case holds (labels and data must match)."""
    from trollscope.evaluate import evaluate

    if answer_path is None and case_path is None:
        raise click.UsageError(
            "pass the answer to score with --answer FILE (account_id, network_id, score), "
            "or a CASE that `trollscope detect` has run on."
        )
    result = evaluate(labels_path, answer_path, case_path)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    # A case's detection is scored twice: farms against the networks labelled
    # inauthentic, communities against every network. Say so, or a community row of
    # "precision 0.2" reads as a failure when it is the farms among all networks.
    of_case = answer_path is None
    networks = "networks labelled inauthentic" if of_case else "networks"
    table = Table(
        title=f"{result.accounts:,} labelled accounts, {result.networks:,} {networks}; "
        f"PR-AUC of scores for farm members {result.pr_auc:.3f}",
        title_justify="left",
        caption=(
            "farms are scored against the networks labelled inauthentic; communities "
            "against all networks, farms' members included in 'reported'"
            if of_case
            else None
        ),
        caption_justify="left",
    )
    for col in ("group", "truth", "reported", "precision", "recall", "F1", "ARI", "NMI"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for name, g in (("farms", result.farms), ("communities", result.communities)):
        table.add_row(
            name,
            f"{g.truth_accounts:,}",
            f"{g.reported_accounts:,}",
            f"{g.precision:.3f}",
            f"{g.recall:.3f}",
            f"{g.f1:.3f}",
            f"{g.adjusted_rand:.3f}",
            f"{g.nmi:.3f}",
        )
    out.print(table)
    if result.labelled_in_case is not None:
        out.print(
            f"{result.labelled_in_case:,} of the {result.accounts:,} labelled accounts are in "
            f"{case_path}.",
            markup=False,
        )
    if result.communities_called_inauthentic is not None:
        out.print(
            f"authentic communities labelled inauthentic: {result.communities_called_inauthentic}",
            markup=False,
        )


class _LazyChoice(click.Choice[str]):
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


def _trace_names() -> list[str]:
    from trollscope.traces import TRACES

    return list(TRACES)


def _signal_names() -> list[str]:
    from trollscope.signals.registry import load

    return list(load())


_EXACT_CSV_HELP = (
    "Write CSV cells exactly as the data has them. By default a text cell beginning with "
    "=, +, -, @, a tab or a carriage return gets a ' in front, so that a spreadsheet shows "
    "it instead of running it as a formula (a hostile handle or key)."
)
_MEMORY_HELP = (
    "Most memory DuckDB may hold before it spills to disk, like 6GB (default: DuckDB's, "
    "80% of the RAM)."
)


@cli.command("edges")
@click.argument("case_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trace",
    "trace_name",
    required=True,
    type=_LazyChoice(_trace_names),
    help="The co-action signal.",
)
@click.option(
    "--window",
    default=None,
    metavar="SECONDS|auto",
    help="Seconds between two accounts' actions on one key (0: any time), or 'auto' to "
    "estimate it from the data. Default: the trace's own (60 s).",
)
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the edges to this .parquet or .csv file.",
)
@click.option(
    "--max-burst",
    type=click.IntRange(2),
    default=5_000,
    show_default=True,
    help="Skip (and list in the case's table skipped_keys) keys that more accounts than "
    "this touched within one window: viral posts and trending tags.",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where the join runs: DuckDB inside the case, or Apache Spark (pip install "
    "'trollscope[spark]'; local mode unless TROLLSCOPE_SPARK_MASTER is set).",
)
@click.option("--memory-limit", default=None, metavar="SIZE", help=_MEMORY_HELP)
@click.option("--exact-csv", is_flag=True, help=_EXACT_CSV_HELP)
@friendly
def edges_cmd(
    case_path: Path,
    trace_name: str,
    window: str | None,
    out_path: Path | None,
    max_burst: int,
    engine: str,
    memory_limit: str | None,
    exact_csv: bool,
) -> None:
    """Co-action edges of one trace: account pairs that acted on the same key within the
    window, with counts, an IDF-weighted score, the median delay and evidence. They are
    kept in the case (table `edges`) for the later steps."""
    from trollscope.engine import edges, estimate_window, skipped_keys

    seconds: float | None = None
    if window == "auto":
        estimate = estimate_window(case_path, trace_name)
        out.print(f"window {estimate.explain()}", markup=False)
        seconds = estimate.seconds
    elif window is not None:
        try:
            seconds = float(window)
        except ValueError:
            raise click.BadParameter(
                f"{window!r} is neither a number of seconds nor 'auto'.", param_hint="--window"
            ) from None
    n = edges(
        case_path,
        trace_name,
        seconds,
        out_path,
        max_burst=max_burst,
        engine=engine,
        memory_limit=memory_limit,
        exact_csv=exact_csv,
    )
    where = f" and {out_path}" if out_path else ""
    out.print(f"{n:,} {trace_name} edges written to {case_path}{where}", markup=False)
    skipped = skipped_keys(case_path, trace_name)
    if skipped:
        out.print(
            f"{skipped:,} viral keys (over {max_burst:,} accounts within one window) were "
            "skipped; they are listed in the case's table skipped_keys.",
            markup=False,
        )


@cli.command("signals")
@click.argument("case_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--signal",
    "names",
    multiple=True,
    type=_LazyChoice(_signal_names),
    help="A signal to compute (repeatable). Default: all.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.01,
    show_default=True,
    help="Significance level of each signal's test (corrected within the signal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print flagged counts as JSON.")
@friendly
def signals_cmd(case_path: Path, names: tuple[str, ...], alpha: float, as_json: bool) -> None:
    """Account signals (creation bursts, rhythms, profile templates, content mix,
    avatars): per-account values, tests and evidence, kept in the case (table
    `account_signals` and one table per signal's details)."""
    from trollscope.signals import SignalParams
    from trollscope.signals.run import signals

    flagged = signals(case_path, names or None, SignalParams(alpha=alpha))
    if as_json:
        out.print(json.dumps({"flagged": flagged}), markup=False)
        return
    table = Table(title=f"Account signals in {case_path} (alpha {alpha:g})")
    table.add_column("signal")
    table.add_column("accounts flagged", justify="right")
    for name, n in flagged.items():
        table.add_row(plain(name), f"{n:,}")
    out.print(table)


@cli.command("avatars")
@click.argument("case_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Profile pictures named after account ids or handles. Without it, avatars that "
    "the data names as local files are used. Nothing is ever downloaded.",
)
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def avatars_cmd(case_path: Path, folder: Path | None, hide_progress: bool) -> None:
    """Hash profile pictures (perceptual hash and its mirror, eye positions for the
    GAN-framing heuristic) into the case, for the `avatar` signal and trace."""
    from trollscope.signals.avatar import avatars

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total} pictures",
        TimeRemainingColumn(),
        console=err,
        disable=hide_progress or not sys.stderr.isatty(),
        transient=True,
    ) as bar:
        task = bar.add_task("avatars", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        run = avatars(case_path, folder, progress=advance)
    out.print(
        f"{run.hashed:,} pictures hashed for {run.accounts:,} accounts into {case_path}.",
        markup=False,
    )
    for what, files in (
        ("not readable as pictures", run.unreadable),
        ("named after no account", run.unmatched),
        ("named by the data but missing", run.missing),
    ):
        if files:
            shown = ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")
            out.print(f"{len(files):,} files {what}: {shown}", markup=False)


def _detect_options(func: Callable[P, R]) -> Callable[P, R]:
    """The options detect and scan share."""
    options = [
        click.option(
            "--trace",
            "trace_names",
            multiple=True,
            type=_LazyChoice(_trace_names),
            help="A trace to test (repeatable). Default: every action trace.",
        ),
        click.option(
            "--window",
            type=click.FloatRange(0, min_open=True),
            default=None,
            help="Co-action window in seconds for every trace (default: each trace's, 60 s).",
        ),
        click.option(
            "--q",
            "fdr",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.01,
            show_default=True,
            help="False discovery rate over all tested account pairs (Benjamini-Hochberg).",
        ),
        click.option(
            "--period",
            type=click.FloatRange(0, min_open=True),
            default=21600.0,  # DetectParams' own (the detect package is imported late)
            show_default=True,
            help="Seconds over which the null keeps each account's activity and each key's "
            "popularity ('what is popular in those six hours'); see docs/significance.md.",
        ),
        click.option("--seed", type=int, default=1, show_default=True, help="Leiden's seed."),
        click.option("--memory-limit", default=None, metavar="SIZE", help=_MEMORY_HELP),
        click.option("--hide-progress", is_flag=True, help="Never show the progress bar."),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the results as one JSON object."
        ),
    ]
    return _stacked(options, func)


def _run_detect(
    case_path: Path,
    trace_names: tuple[str, ...],
    window: float | None,
    fdr: float,
    period: float,
    seed: int,
    memory_limit: str | None,
    hide_progress: bool,
) -> dict[str, object]:
    """Run detect with a progress bar; returns the results as plain values (for --json)."""
    from trollscope.detect import DEFAULT_TRACES, DetectParams, detect
    from trollscope.detect.run import summary

    params = DetectParams(
        traces=trace_names or DEFAULT_TRACES,
        window=window,
        q=fdr,
        period_s=period,
        seed=seed,
        memory_limit=memory_limit,
    )
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total} stages",
        console=err,
        disable=hide_progress or not sys.stderr.isatty(),
        transient=True,
    ) as bar:
        task = bar.add_task("detect", total=None)

        def advance(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        result = detect(case_path, params, progress=advance)
    return {**asdict(result), "networks_top": summary(case_path)}


def _print_detect(case_path: Path, found: dict[str, object], fdr: float) -> None:
    tested = sum(found["tested"].values())  # type: ignore[attr-defined]
    significant = sum(found["significant"].values())  # type: ignore[attr-defined]
    out.print(
        f"{tested:,} account pairs tested, {significant:,} significant at q = {fdr:g}; "
        f"{found['flagged_accounts']:,} accounts in {found['networks']:,} networks "
        f"({found['inauthentic_networks']:,} with inauthentic signs). Kept in {case_path}.",
        markup=False,
    )
    networks: list[dict[str, object]] = found["networks_top"]  # type: ignore[assignment]
    if not networks:
        return
    table = Table(title="Networks, strongest first", title_justify="left")
    for col in ("rank", "size", "log10 p", "traces", "verdict", "hashtags", "amplified"):
        table.add_column(col, overflow="fold")
    for n in networks:
        table.add_row(
            str(n["rank"]),
            f"{n['size']:,}",
            f"{n['log10_p']:.0f}",
            plain(", ".join(n["traces"])),  # type: ignore[arg-type]
            plain(n["verdict"]),
            plain(", ".join(n["hashtags"])),  # type: ignore[arg-type]
            plain(", ".join(n["amplified"])),  # type: ignore[arg-type]
        )
    out.print(table)


@cli.command("detect")
@click.argument("case_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_detect_options
@friendly
def detect_cmd(
    case_path: Path,
    trace_names: tuple[str, ...],
    window: float | None,
    fdr: float,
    period: float,
    seed: int,
    memory_limit: str | None,
    hide_progress: bool,
    as_json: bool,
) -> None:
    """Find coordinated networks: edges of every action trace, each pair tested against
    chance, Benjamini-Hochberg over all pairs, Leiden networks described and ranked, and
    per-account scores and evidence in words. Kept in the case (tables pair_tests,
    networks, account_scores, account_evidence)."""
    found = _run_detect(
        case_path, trace_names, window, fdr, period, seed, memory_limit, hide_progress
    )
    if as_json:
        click.echo(json.dumps(found))
    else:
        _print_detect(case_path, found, fdr)


@cli.command("scan")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the case (case.duckdb) and the report (report.html).",
)
@_input_options
@_detect_options
@friendly
def scan_cmd(
    files: tuple[Path, ...],
    out_dir: Path,
    fmt: str | None,
    mapping: str,
    platform: str | None,
    timezone: str | None,
    trace_names: tuple[str, ...],
    window: float | None,
    fdr: float,
    period: float,
    seed: int,
    memory_limit: str | None,
    hide_progress: bool,
    as_json: bool,
) -> None:
    """Ingest FILES into OUT/case.duckdb, detect, and write OUT/report.html, in one go."""
    out_dir.mkdir(parents=True, exist_ok=True)
    case_path = out_dir / "case.duckdb"
    options = ReadOptions(platform=platform, mapping=parse_mapping(mapping), timezone=timezone)
    total = sum(p.stat().st_size for p in files if p.is_file())
    with progress_bar(total, hide_progress, "ingest") as advance:
        result = ingest(case_path, files, fmt=fmt, options=options, progress=advance)
    if not as_json:
        _print_ingest(result)
    found = _run_detect(
        case_path, trace_names, window, fdr, period, seed, memory_limit, hide_progress
    )
    from trollscope.report import write_report

    written = write_report(case_path, out_dir / "report.html")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "case": str(case_path),
                    "report": str(written.path),
                    "ingest": result.as_dict(),
                    **found,
                }
            )
        )
    else:
        _print_detect(case_path, found, fdr)
        out.print(_report_line(written), markup=False)


@cli.command("export")
@click.argument("case_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["gexf", "graphml", "csv", "parquet", "json"]),
    required=True,
    help="gexf/graphml: the networks as a graph (Gephi, networkx, igraph); csv, parquet, "
    "json: tables.",
)
@click.option(
    "--what",
    type=click.Choice(["networks", "edges", "scores"]),
    default="networks",
    show_default=True,
    help="networks: accounts and their significant pairs (csv/parquet write "
    "NAME.nodes.EXT and NAME.edges.EXT); edges: the significant pairs with their "
    "evidence; scores: accounts with score, network, verdict and first evidence line.",
)
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write.",
)
@click.option("--exact-csv", is_flag=True, help=_EXACT_CSV_HELP)
@friendly
def export_cmd(case_path: Path, fmt: str, what: str, out_path: Path, exact_csv: bool) -> None:
    """Export the last detection of CASE: networks for Gephi (GEXF, GraphML) or as tables,
    the significant pairs with their evidence, or the account scores."""
    from trollscope.export import export

    summary = export(case_path, out_path, fmt=fmt, what=what, exact=exact_csv)
    out.print(summary.describe(), markup=False)


@cli.command("report")
@click.argument("case_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write (one self-contained file: it opens offline).",
)
@click.option(
    "--max-members",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Members listed per network (the strongest first); the page says how many more.",
)
@friendly
def report_cmd(case_path: Path, out_path: Path, max_members: int) -> None:
    """Write the takedown report of CASE's last detection: a summary with method,
    parameters and provenance, then per network its members and their evidence, creation
    histogram, hour-of-week heatmaps, hashtags, accounts amplified and attacked, near-
    identical posts side by side, the network drawn, and the limitations."""
    from trollscope.report import write_report

    written = write_report(case_path, out_path, max_members=max_members)
    out.print(_report_line(written), markup=False)


def _report_line(written: ReportSummary) -> str:
    return (
        f"report written to {written.path} ({written.size_bytes / 1e6:.1f} MB, "
        f"{written.networks:,} networks, {written.inauthentic:,} with inauthentic signs)."
    )


def main() -> None:
    cli(prog_name="trollscope")
