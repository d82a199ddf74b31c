"""How the command line shows things: errors in one sentence, progress bars, and the
tables of each command's results. Everything here prints; nothing here computes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from trollscope.errors import TrollscopeError

if TYPE_CHECKING:  # the report (jinja2, igraph) loads only when a command needs it
    from trollscope.api import Detection
    from trollscope.detect.thresholdstore import Threshold
    from trollscope.ingest.run import IngestResult
    from trollscope.report.render import ReportSummary
    from trollscope.simulate.evaluate import Evaluation

P = ParamSpec("P")
R = TypeVar("R")

# What must not reach a terminal as it is: C0 controls (ESC starts the sequences that
# clear the screen, retitle the window or write the clipboard; newline and tab too, as
# nothing we print holds them and one from the data would forge a line or a column),
# DEL, C1 controls (U+009B and U+009D are CSI and OSC on terminals that honour them), and
# the bidi embeddings, overrides and isolates, which reorder what is shown after them.
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """`text` with each character of UNSAFE written as its Python escape (`\\x1b`,
    `\\u202e`): visible to the reader, inert to the terminal."""
    return UNSAFE.sub(_written_out, text)


def _written_out(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# The width of what is printed when it goes to a file or a pipe: rich would wrap at 80
# columns there, cutting a long path, a network's hashtags or an evidence line across
# lines for whatever reads them. Wide enough that no line we print reaches it.
PIPED_WIDTH = 100_000


class SafeConsole(Console):
    """A Console that escapes control characters (`terminal_safe`) in every string it is
    handed: messages, table cells, titles. Rich passes ESC, C1 and bidi controls through
    to the terminal (it drops only BEL, BS, VT, FF and CR), so a file name or a handle
    could drive the terminal; `Text` objects do not come through here (`plain`).
    Not on a terminal, lines are never wrapped (PIPED_WIDTH); on one, tables fit it."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(terminal_safe(text), **options)

    @property
    def size(self) -> ConsoleDimensions:
        # Asked at each print, as is_terminal: CliRunner and pipes swap the stream.
        # COLUMNS still rules where it is set (rich reads it for terminals and pipes).
        dimensions = Console.size.fget(self)  # type: ignore[attr-defined]
        if self.is_terminal or "COLUMNS" in self._environ:
            return dimensions  # type: ignore[no-any-return]
        return ConsoleDimensions(PIPED_WIDTH, dimensions.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


out = SafeConsole(highlight=False)
err = SafeConsole(stderr=True, highlight=False)


def plain(value: object) -> Text:
    """Text shown as is: file names and reject reasons can hold `[markup]` from the data
    (shown, not applied) and control characters (escaped)."""
    return Text(terminal_safe(str(value)))


def print_json(data: object) -> None:
    """One JSON object on stdout, for scripts. ASCII only: json escapes C0 controls by
    itself, but C1 and bidi controls only as \\uXXXX."""
    click.echo(json.dumps(data, ensure_ascii=True))


def friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our own errors into a message and exit code 1; let real bugs show a traceback."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TrollscopeError as exc:
            raise click.ClickException(terminal_safe(str(exc))) from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


class Bar:
    """A progress bar's two ways of moving: by an amount, or to a stage of a total. With
    `timed`, each stage's time is printed above the bar as the next one starts (a
    transient bar leaves nothing behind: these lines say where the time went)."""

    def __init__(self, progress: Progress, task: Any, label: str = "", timed: bool = False) -> None:
        self._progress = progress
        self._task = task
        self._label = label
        self._timed = timed and not progress.disable
        self._current: tuple[str, float] | None = None  # the stage shown, and its start

    def advance(self, amount: int) -> None:
        self._progress.advance(self._task, amount)

    def stage(self, description: str, done: int, total: int) -> None:
        # The description column parses it as markup into Text itself, past SafeConsole:
        # a stage names a trace or a signal, shown as it is and inert.
        shown = escape(terminal_safe(description))
        self.finish()
        self._current = (description, time.perf_counter())
        self._progress.update(
            self._task, description=self._named(shown), completed=done, total=total
        )
        # Stages are seconds apart: show each as it starts, not at the next refresh.
        self._progress.refresh()

    def count(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total)

    def finish(self) -> None:
        """Print the time of the stage under way, if timed (called as a stage ends)."""
        if self._current is None:
            return
        description, started = self._current
        self._current = None
        if self._timed:
            took = time.perf_counter() - started
            self._progress.console.print(plain(self._named(f"{description} ({took:.1f} s)")))

    def _named(self, what: str) -> str:
        return f"{self._label}: {what}" if self._label else what


class Counter(ProgressColumn):
    """ "3/7 stages", or "3 pictures" while the total is unknown (not "3/None")."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self._unit = unit

    def render(self, task: Task) -> Text:
        done = int(task.completed)
        counted = f"{done:,}" if task.total is None else f"{done:,}/{int(task.total):,}"
        return Text(f"{counted} {self._unit}", style="progress.download")


@contextmanager
def progress_bar(
    label: str, hide: bool, unit: str, total: int | None = None, timed: bool = False
) -> Iterator[Bar]:
    """A bar on stderr, hidden when stderr is not a terminal (as rich sees it: set
    TTY_COMPATIBLE=1 or FORCE_COLOR to force one) or with `hide`. `unit`: "bytes" (sized
    by the input), or what is counted ("stages", "pictures", "posts"). `timed`: print
    each stage's time on stderr as it ends (see `Bar`)."""
    counter = DownloadColumn() if unit == "bytes" else Counter(unit)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        counter,
        TimeRemainingColumn(),
        console=err,
        disable=hide or not err.is_terminal,
        transient=True,
    ) as progress:
        bar = Bar(progress, progress.add_task(label, total=total), label, timed)
        yield bar
        bar.finish()


def input_bytes(files: tuple[Path, ...]) -> int:
    return sum(p.stat().st_size for p in files if p.is_file())


def ingest_table(result: IngestResult) -> None:
    # The case on a line of its own: a table's title wraps at the table's width.
    out.print(f"ingested into {result.case}:", markup=False)
    table = Table()
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
            f"`trollscope info {result.case}`.",
            markup=False,
        )
    odd_times_warning(result.odd_times)


def odd_times_warning(odd: dict[str, int]) -> None:
    """A warning when the case holds posts or accounts dated before 2000 or after
    tomorrow (which only a widened --earliest or --latest lets in): more often a zero, a
    wrong unit or a wrong zone than a real date."""
    early = (odd.get("posts_before_2000", 0), odd.get("accounts_before_2000", 0))
    late = (odd.get("posts_future", 0), odd.get("accounts_future", 0))
    for (posts, accounts), when in ((early, "before 2000"), (late, "after tomorrow (UTC)")):
        if posts or accounts:
            out.print(
                f"warning: {posts:,} posts and {accounts:,} accounts are dated {when}; such "
                "dates are more often a zero, a wrong unit (ms for s) or a wrong zone than "
                "real. Check the time columns (--map, --timezone), or narrow --earliest and "
                "--latest to reject them.",
                style="yellow",
                markup=False,
            )


def info_tables(info: dict[str, Any]) -> None:
    out.print(plain(info["case"]), style="bold")
    out.print(
        f"{info['posts']:,} posts, {info['accounts']:,} accounts, {info['rejects']:,} rejects; "
        f"posts from {info['first_post']} to {info['last_post']} (UTC)"
    )
    odd_times_warning(info["odd_times"])
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


def evaluation_table(result: Evaluation, of_case: bool, case_path: Path | None) -> None:
    # A case's detection is scored twice: farms against the networks labelled
    # inauthentic, communities against every network. Say so, or a community row of
    # "precision 0.2" reads as a failure when it is the farms among all networks.
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


def detection_tables(case_path: Path, found: Detection, fdr: float) -> None:
    result = found.result
    tested = sum(result.tested.values())
    significant = sum(result.significant.values())
    groups = ", ".join(
        f"{sum(sig.values()):,} of {sum(all_.values()):,} {what}"
        for what, all_, sig in (
            ("account tests", result.accounts_tested, result.accounts_significant),
            ("burst tests", result.bursts_tested, result.bursts_significant),
            ("cohort tests", result.cohorts_tested, result.cohorts_significant),
            ("join tests", result.joins_tested, result.joins_significant),
        )
    )
    out.print(
        f"{tested:,} account pairs tested, {significant:,} significant at q = {fdr:g} "
        f"(and {groups}); {result.flagged_accounts:,} accounts in {result.networks:,} "
        f"networks ({result.inauthentic_networks:,} with inauthentic signs). "
        f"Kept in {case_path}.",
        markup=False,
    )
    if found.threshold is not None:
        threshold_table(found.threshold)
    if not found.networks:
        if found.threshold is not None:
            out.print("No network passed the tests.", markup=False)
        else:
            # Users often come from a peer whose threshold did find a network here
            # (CooRTweet on its own example): say how to see that network, labelled as a
            # threshold, beside what chance gives.
            out.print(
                "No network passed the tests. A peer's threshold keeps what co-acted "
                "often enough, whether chance explains it or not: "
                f"`trollscope detect {case_path} --trace co-repost --min-participation 2` "
                "reports the networks CooRTweet's rule gives (`--min-weight N` for the "
                "coordination-network-toolkit's), with what the same rule gives on data "
                f"where only chance brings accounts together; `trollscope edges {case_path} "
                "--trace co-repost --min-participation 2 -o pairs.csv` writes its pairs.",
                markup=False,
            )
        return
    table = Table(title="Networks, strongest first", title_justify="left")
    # "network": its id (the rank), as the report, the exports and --json number it.
    for col in ("network", "size", "log10_p", "found by", "verdict", "hashtags", "amplified"):
        table.add_column(col, overflow="fold")
    for n in found.networks:
        table.add_row(
            str(n.rank),
            f"{n.size:,}",
            f"{n.log10_p:.0f}",
            plain(", ".join(n.found_by)),
            plain(n.verdict),
            plain(", ".join(n.hashtags)),
            plain(", ".join(n.amplified)),
        )
    out.print(table)


def threshold_table(threshold: Threshold) -> None:
    """A peer's threshold networks, apart from the tested ones, with what chance gives."""
    if not threshold.networks:
        out.print(f"Beside the tests: {threshold.rule}. It keeps no pair.", markup=False)
        return
    table = Table(
        title=f"Beside the tests: {threshold.rule}. {threshold.total:,} networks of "
        f"{threshold.accounts:,} accounts",
        title_justify="left",
        caption="by chance: the same rule on the data with every account's posts shifted "
        "at random (the account tests' null); in tested networks: members the tests put "
        "in a network, and those networks",
        caption_justify="left",
    )
    for col in ("network", "trace", "accounts", "pairs", "pairs by chance", "in tested networks"):
        table.add_column(col, justify="left" if col in ("network", "trace") else "right")
    for n in threshold.networks:
        table.add_row(
            f"T{n.network}",
            f"{n.trace} ({n.window_s:g} s)",
            f"{n.accounts:,}",
            f"{n.pairs:,}",
            _by_chance(n.pairs_by_chance, n.chance_share),
            f"{n.in_tested:,}"
            + (f" ({', '.join(map(str, n.tested_networks))})" if n.tested_networks else ""),
        )
    out.print(table)
    seen: set[str] = set()
    for n in threshold.networks:
        if n.trace in seen or n.trace_pairs_by_chance is None or n.largest_by_chance is None:
            continue
        seen.add(n.trace)
        out.print(
            f"On {n.trace}, with every account's posts shifted at random within "
            f"+-{n.jitter_s / 60:g} min (mean of {n.draws} draws), the rule keeps "
            f"{n.trace_pairs_by_chance:,.0f} pairs ({n.trace_pairs:,} on the data) and its "
            f"largest network has {n.largest_by_chance:,.0f} accounts: that much of it "
            "chance alone gives.",
            markup=False,
        )


def _by_chance(pairs: float | None, share: float | None) -> str:
    """'2,160 (59%)'; '0.2 (2%)' below ten; '-' where the window is 0 (no timing)."""
    if pairs is None or share is None:
        return "-"
    return f"{pairs:,.{0 if pairs >= 10 else 1}f} ({share:.0%})"


def report_line(written: ReportSummary) -> str:
    return (
        f"report written to {written.path} ({written.size_bytes / 1e6:.1f} MB, "
        f"{written.networks:,} networks, {written.inauthentic:,} with inauthentic signs)."
    )
