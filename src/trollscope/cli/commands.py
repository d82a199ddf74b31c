"""The commands: each parses its options, makes one call to `trollscope.api`, and shows
the result (`show.py`). A TrollscopeError becomes one sentence and exit code 1."""

from __future__ import annotations

from pathlib import Path

import click

from trollscope import __version__, api
from trollscope.cli import show
from trollscope.cli.options import (
    EXACT_CSV_HELP,
    MEMORY_HELP,
    WINDOW_METAVAR,
    EdgesWindow,
    LazyChoice,
    OutFile,
    case_argument,
    detect_options,
    engine_option,
    input_options,
    peer_options,
    signal_names,
    trace_names,
)
from trollscope.cli.show import friendly, input_bytes, out, plain, progress_bar
from trollscope.engine import MAX_BURST

# The export's choices, kept here so that `--help` needs no export module (networkx).
EXPORT_FORMATS = ("gexf", "graphml", "csv", "parquet", "json")
EXPORT_WHATS = ("networks", "edges", "scores", "threshold")


@click.group()
@click.version_option(__version__, prog_name="trollscope")
def cli() -> None:
    """Find troll farms (coordinated inauthentic behaviour) in social-media data you
    already have, and show the evidence. trollscope only analyses: it never posts."""


@cli.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--into",
    "case_path",
    required=True,
    # Text, not a Path: a trailing / (a new Parquet case folder) must reach the library.
    type=click.Path(path_type=str),
    help="The case to add to, created if missing: a DuckDB file, or a Parquet case "
    "folder (an existing one, or a new one written DIR/). See docs/parquet-case.md.",
)
@input_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def ingest_cmd(
    files: tuple[Path, ...],
    case_path: str,
    fmt: str | None,
    options: api.ReadOptions,
    as_json: bool,
    hide_progress: bool,
) -> None:
    """Read FILES into a case. Bad rows are set aside with file, line, field and reason;
    read = stored + duplicate + rejected. Re-ingesting the same data changes nothing."""
    with progress_bar("ingest", hide_progress, "bytes", input_bytes(files)) as bar:
        result = api.ingest(case_path, files, fmt=fmt, options=options, progress=bar.advance)
    if as_json:
        show.print_json(result.as_dict())
    else:
        show.ingest_table(result)


@cli.group("case")
def case_group() -> None:
    """Whole-case operations: convert a case between its two kinds."""


@case_group.command("convert")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@friendly
def case_convert_cmd(source: Path, target: Path) -> None:
    """Convert the case SOURCE to the other kind at TARGET: a DuckDB case file to a
    Parquet case folder, or a Parquet case folder to a DuckDB case file. Every table goes
    across, derived ones included; TARGET must not exist (it appears whole, or not at
    all)."""
    kind = api.convert_case(source, target)
    out.print(f"{source} converted to a {kind} case at {target}.", markup=False)


@cli.command("info")
@click.argument("case_path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@friendly
def info_cmd(case_path: Path, as_json: bool) -> None:
    """What a case holds: posts and accounts per platform, time span, kinds, rejects."""
    info = api.info(case_path)
    if as_json:
        show.print_json(info)
    else:
        show.info_tables(info)


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
    from trollscope.simulate import SimulationConfig

    cfg = SimulationConfig(posts=posts, seed=seed, days=days).with_stealth(stealth)
    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    with progress_bar("simulate", hide_progress, "posts", posts) as bar:
        try:
            result = api.simulate(cfg, out_dir, formats=chosen, progress=bar.advance)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--formats") from exc
    if as_json:
        show.print_json(result.as_dict())
        return
    out.print(
        f"{result.posts:,} posts by {result.accounts:,} accounts "
        f"({result.farm_members:,} in farms, {result.community_members:,} in communities) "
        f"written to {result.out_dir}: {', '.join(result.files)}",
        markup=False,
    )


@cli.command("evaluate")
@click.argument("case_path", required=False, type=click.Path(path_type=Path))
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
    if answer_path is None and case_path is None:
        raise click.UsageError(
            "pass the answer to score with --answer FILE (account_id, network_id, score), "
            "or a CASE that `trollscope detect` has run on."
        )
    result = api.evaluate(labels_path, answer_path, case_path)
    if as_json:
        show.print_json(result.as_dict())
    else:
        show.evaluation_table(result, answer_path is None, case_path)


@cli.command("edges")
@case_argument
@click.option(
    "--trace",
    "trace_name",
    required=True,
    type=LazyChoice(trace_names),
    help="The co-action signal.",
)
@click.option(
    "--window",
    type=EdgesWindow(),
    default=None,
    metavar=WINDOW_METAVAR,
    help="Seconds between two accounts' actions on one key (0: any time), or 'auto' to "
    "estimate it from the data. Default: the trace's own (60 s).",
)
@click.option(
    "-o",
    "--out",
    "out_path",
    type=OutFile("edges.csv"),
    default=None,
    help="Also write the edges to this .parquet or .csv file.",
)
@click.option(
    "--max-burst",
    type=click.IntRange(2),
    default=MAX_BURST,
    show_default=True,
    help="Skip (and list in the case's table skipped_keys) keys that more accounts than "
    "this touched within one window: viral posts and trending tags.",
)
@engine_option("Where the join runs")
@click.option("--memory-limit", default=None, metavar="SIZE", help=MEMORY_HELP)
@click.option("--exact-csv", is_flag=True, help=EXACT_CSV_HELP)
@peer_options("write only the edges")
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def edges_cmd(
    case_path: Path,
    trace_name: str,
    window: float | str | None,
    out_path: Path | None,
    max_burst: int,
    engine: str,
    memory_limit: str | None,
    exact_csv: bool,
    min_participation: int | None,
    min_weight: int | None,
    hide_progress: bool,
) -> None:
    """Co-action edges of one trace: account pairs that acted on the same key within the
    window, with counts, an IDF-weighted score, the median delay and evidence. They are
    kept in the case (table `edges`) for the later steps. --min-participation and
    --min-weight apply a peer's threshold to what is written (-o), to compare the peers'
    networks with what `detect` tests."""
    rule = api.PeerRule(min_participation, min_weight)
    with progress_bar("edges", hide_progress, "stages") as bar:
        run = api.edges(
            case_path, trace_name, window, out_path, max_burst, engine, memory_limit,
            exact_csv, rule, progress=bar.stage,
        )  # fmt: skip
    if run.estimate is not None:
        out.print(f"window {run.estimate.explain()}", markup=False)
    where = f" and {out_path}" if out_path and run.kept is None else ""
    out.print(f"{run.edges:,} {trace_name} edges written to {case_path}{where}", markup=False)
    if run.rule is not None and run.kept is not None:
        into = f", written to {out_path}" if out_path else ""
        out.print(f"{run.kept:,} of them pass {run.rule.words()}{into}.", markup=False)
    if run.skipped_keys:
        out.print(
            f"{run.skipped_keys:,} viral keys (over {max_burst:,} accounts within one window) "
            "were skipped; they are listed in the case's table skipped_keys.",
            markup=False,
        )


@cli.command("signals")
@case_argument
@click.option(
    "--signal",
    "names",
    multiple=True,
    type=LazyChoice(signal_names),
    help="A signal to compute (repeatable). Default: all.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.01,
    show_default=True,
    help="Significance level of each signal's test (corrected within the signal).",
)
@engine_option(
    "Where the signals' passes over the posts and accounts, and their tests, run",
    "The same rows either way.",
)
@click.option("--json", "as_json", is_flag=True, help="Print flagged counts as JSON.")
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def signals_cmd(
    case_path: Path,
    names: tuple[str, ...],
    alpha: float,
    engine: str,
    as_json: bool,
    hide_progress: bool,
) -> None:
    """Account signals (creation bursts, rhythms, profile templates, content mix,
    avatars): per-account values, tests and evidence, kept in the case (table
    `account_signals` and one table per signal's details)."""
    from rich.table import Table

    from trollscope.signals import SignalParams

    with progress_bar("signals", hide_progress, "stages") as bar:
        flagged = api.signals(
            case_path, names or None, SignalParams(alpha=alpha), bar.stage, engine=engine
        )
    if as_json:
        show.print_json({"flagged": flagged})
        return
    # The case on a line of its own: a table's title wraps at the table's width.
    out.print(f"Account signals in {case_path} (alpha {alpha:g}):", markup=False)
    table = Table()
    table.add_column("signal")
    table.add_column("accounts flagged", justify="right")
    for name, n in flagged.items():
        table.add_row(plain(name), f"{n:,}")
    out.print(table)


@cli.command("avatars")
@case_argument
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
    with progress_bar("avatars", hide_progress, "pictures") as bar:
        run = api.avatars(case_path, folder, progress=bar.count)
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
            listed = ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")
            out.print(f"{len(files):,} files {what}: {listed}", markup=False)


@cli.command("detect")
@case_argument
@detect_options
@friendly
def detect_cmd(
    case_path: Path, params: api.DetectParams, hide_progress: bool, as_json: bool
) -> None:
    """Find coordinated networks: edges of every action trace, each pair tested against
    chance, Benjamini-Hochberg over all pairs, Leiden networks described and ranked, and
    per-account scores and evidence in words. Kept in the case (tables pair_tests,
    networks, account_scores, account_evidence)."""
    with progress_bar("detect", hide_progress, "stages", params.stages, timed=True) as bar:
        found = api.detect(case_path, params, progress=bar.stage)
    if as_json:
        show.print_json(found.as_dict())
    else:
        show.detection_tables(case_path, found, params.q)


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
@input_options
@detect_options
@friendly
def scan_cmd(
    files: tuple[Path, ...],
    out_dir: Path,
    fmt: str | None,
    options: api.ReadOptions,
    params: api.DetectParams,
    hide_progress: bool,
    as_json: bool,
) -> None:
    """Ingest FILES into OUT/case.duckdb, detect, and write OUT/report.html, in one go."""
    with (
        progress_bar("ingest", hide_progress, "bytes", input_bytes(files)) as loading,
        progress_bar("detect", hide_progress, "stages", params.stages, timed=True) as detecting,
    ):
        done = api.scan(
            files,
            out_dir,
            fmt,
            options,
            params,
            ingest_progress=loading.advance,
            detect_progress=detecting.stage,
            ingested=None if as_json else show.ingest_table,
        )
    if as_json:
        show.print_json(done.as_dict())
    else:
        show.detection_tables(done.case, done.detection, params.q)
        out.print(show.report_line(done.report), markup=False)


@cli.command("export")
@case_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    required=True,
    help="gexf/graphml: the networks as a graph (Gephi, networkx, igraph); csv, parquet, "
    "json: tables.",
)
@click.option(
    "--what",
    type=click.Choice(EXPORT_WHATS),
    default="networks",
    show_default=True,
    help="networks: accounts and their significant pairs (csv/parquet write "
    "NAME.nodes.EXT and NAME.edges.EXT); edges: the significant pairs with their "
    "evidence; scores: accounts with score, network, verdict and first evidence line; "
    "threshold: the accounts of a peer's threshold networks (detect --min-participation "
    "or --min-weight), with what chance gives of each network.",
)
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=OutFile("networks.gexf"),
    help="The file to write.",
)
@click.option("--exact-csv", is_flag=True, help=EXACT_CSV_HELP)
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def export_cmd(
    case_path: Path, fmt: str, what: str, out_path: Path, exact_csv: bool, hide_progress: bool
) -> None:
    """Export the last detection of CASE: networks for Gephi (GEXF, GraphML) or as tables,
    the significant pairs with their evidence, the account scores, or the accounts of a
    peer's threshold networks."""
    with progress_bar("export", hide_progress, "stages") as bar:
        summary = api.export(
            case_path, out_path, fmt=fmt, what=what, exact=exact_csv, progress=bar.stage
        )
    out.print(summary.describe(), markup=False)


@cli.command("report")
@case_argument
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=OutFile("report.html"),
    help="The HTML file to write (one self-contained file: it opens offline).",
)
@click.option(
    "--max-members",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Members listed per network (the strongest first); the page says how many more.",
)
@click.option("--hide-progress", is_flag=True, help="Never show the progress bar.")
@friendly
def report_cmd(case_path: Path, out_path: Path, max_members: int, hide_progress: bool) -> None:
    """Write the takedown report of CASE's last detection: a summary with method,
    parameters and provenance, then per network its members and their evidence, creation
    histogram, hour-of-week heatmaps, hashtags, accounts amplified and attacked, near-
    identical posts side by side, the network drawn, and the limitations."""
    with progress_bar("report", hide_progress, "stages") as bar:
        written = api.report(case_path, out_path, max_members=max_members, progress=bar.stage)
    out.print(show.report_line(written), markup=False)


@cli.command("serve")
@case_argument
@click.option(
    "--host",
    default=None,
    help="The address to listen on (default 127.0.0.1: this machine only). Any other "
    "address lets others read the case, and is warned about.",
)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@friendly
def serve_cmd(case_path: Path, host: str | None, port: int) -> None:
    """Browse CASE in a local, read-only web dashboard: networks, members, accounts and
    their evidence, the case's sources; every page has a JSON twin (add .json)."""
    # Imported here: `--help` and the other commands need no web server.
    import uvicorn

    from trollscope.serve import DEFAULT_HOST, allowed_hosts, create_app, host_warning

    click.echo(f"Opening {case_path} read-only (indexing its posts by account)...", err=True)
    bind = host or DEFAULT_HOST
    app = create_app(case_path, allowed_hosts=allowed_hosts(bind))
    warning = host_warning(bind)
    if warning:
        click.echo(warning, err=True)
    address = f"[{bind}]" if ":" in bind else bind  # an IPv6 address in a URL
    url = f"http://{address}:{port}/"
    click.echo(f"Serving {case_path} read-only at {url} (Ctrl+C stops)", err=True)
    uvicorn.run(app, host=bind, port=port, log_level="warning")
