"""Render the takedown report: one self-contained HTML file (inline CSS and SVG, no
JavaScript, nothing fetched), written atomically.

The template is autoescaped; nothing from the data is marked safe. The only markup that
enters unescaped is the SVG that plots.py builds, which escapes every data string it
holds. A `finalize` hook removes bidi controls from every value printed, as a second
guard behind `data.shown`.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from trollscope.errors import TrollscopeError, folder_missing, writing
from trollscope.progress import StageProgress, Stages
from trollscope.report import plots
from trollscope.report.data import (
    BIDI_CONTROLS,
    EDGES_PER_NETWORK,
    NODES_PER_NETWORK,
    Network,
    ReportData,
    load_report,
)

TEMPLATE = "report.html.j2"
LAYOUT_SEED = 1
# Members shown per network before the rest fold into one closed <details>: the demo's
# network of 150 took ~23,000 px when every member's evidence was open (issue 22).
MEMBERS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """What `write_report` wrote."""

    path: Path
    size_bytes: int
    networks: int  # networks in the case
    sections: int  # networks given a section
    inauthentic: int
    members_listed: int  # rows of the members tables, all networks together
    members_omitted: int  # members beyond max_members, all networks together


@dataclass(frozen=True, slots=True)
class Charts:
    """One network's SVG charts (markup built and escaped by plots.py)."""

    creation: Markup
    heat_utc: Markup
    heat_local: Markup
    graph: Markup
    traces: tuple[tuple[str, str], ...]  # (trace, colour) drawn, for the legend
    colour: str
    edges_drawn: int


def _finalize(value: object) -> object:
    """Every printed value: bidi controls removed from plain strings (Markup is ours)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return BIDI_CONTROLS.sub("", value)
    return value


def _num(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return "unknown" if value is None else str(value)


def _day(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return "unknown" if value is None else str(value)


def _pct(value: object) -> str:
    """A share as a percentage; small ones keep a digit so that 0.3% is not shown as 0%."""
    share = 100 * float(str(value))
    return f"{share:.1f}%" if 0 < share < 10 else f"{share:.0f}%"


def _pvalue(value: object) -> str:
    """A p-value; one that underflowed to 0 is below the smallest double, not zero."""
    p = float(str(value))
    return "< 1e-300" if p <= 0 else f"{p:.2g}"


# A p-value, a date (with its time), a time zone, a range of hours or days in running text
# (the evidence lines, verdicts). Chromium ends a line after any hyphen, so "p = 3.7e-19"
# could be read as "3.7e-" and "19", "2024-02-21" as "2024-02-" and "21". Each is at most
# 20 characters, so a line of them still wraps.
_WHOLE = re.compile(
    r"\bp [=<] \d(?:\.\d+)?(?:e-\d+)?\b"
    r"|\b\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?\b"
    r"|\bUTC[+-]\d{1,2}(?::\d{2})?"
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)-(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b"
    r"|\b\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)+\b"
    r"|\b\d+(?:\.\d+)?e[-+]\d+\b"
)


def _whole(value: object) -> Markup:
    """Text from the data, escaped and without bidi controls (Markup skips `_finalize`),
    its p-values and dates each in a span that is never broken across lines."""
    text = BIDI_CONTROLS.sub("", str(value))
    parts: list[Markup] = []
    last = 0
    for found in _WHOLE.finditer(text):
        parts += [
            escape(text[last : found.start()]),
            Markup('<span class="whole">%s</span>') % found[0],
        ]
        last = found.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


# A hashtag or a mention inside a post: its sigil is a neutral character, so in a
# right-to-left paragraph "#Statement1A" showed as "Statement1A#" (issue 22). Each is put
# in a <bdi> of its own, which keeps the sigil with its word in the word's direction.
_ENTITY = re.compile(r"[#@][^\s#@]+")


def _isolated(value: object) -> Markup:
    """A post's text, escaped and without bidi controls, its hashtags and mentions each
    isolated in a <bdi>."""
    text = BIDI_CONTROLS.sub("", str(value))
    parts: list[Markup] = []
    last = 0
    for found in _ENTITY.finditer(text):
        parts += [escape(text[last : found.start()]), Markup("<bdi>%s</bdi>") % found[0]]
        last = found.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def _offset(value: float) -> str:
    hours, minutes = divmod(round(abs(value) * 60), 60)
    return f"UTC{'+' if value >= 0 else '-'}{hours:02d}:{minutes:02d}"


def environment() -> jinja2.Environment:
    """The report's Jinja environment: the packaged template, autoescape always on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trollscope.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=_num,
        when=_when,
        day=_day,
        pct=_pct,
        pvalue=_pvalue,
        offset=_offset,
        whole=_whole,
        isolated=_isolated,
    )
    return env


def _charts(network: Network) -> tuple[Charts, plots.Layout]:
    where = plots.layout(network.graph, LAYOUT_SEED)
    colour = plots.network_colour(network.rank)
    offset = network.utc_offset
    local = (
        plots.heatmap_svg(network.hours_local, f"Posts per hour, local time ({_offset(offset)})")
        if offset is not None and network.hours_local
        else ""
    )
    drawn = plots.drawn_edges(network.graph, LAYOUT_SEED)
    traces = sorted({e.trace for e in drawn})
    return (
        Charts(
            creation=Markup(plots.creation_svg(network.creation, network.creation_bin_days)),
            heat_utc=Markup(plots.heatmap_svg(network.hours_utc, "Posts per hour, UTC")),
            heat_local=Markup(local),
            graph=Markup(plots.graph_svg(network.graph, where, colour))
            if network.graph.labels
            else Markup(""),
            traces=tuple((t, plots.trace_colour(t)) for t in traces),
            colour=colour,
            edges_drawn=len(drawn),
        ),
        where,
    )


def render(data: ReportData) -> str:
    """The report's HTML for loaded data."""
    charts = []
    drawings = []
    for network in data.networks:
        chart, where = _charts(network)
        charts.append(chart)
        drawings.append((network.rank, network.graph, where))
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            data=data,
            sections=list(zip(data.networks, charts, strict=True)),
            overview=Markup(plots.overview_svg(drawings)),
            colours=[(n.rank, plots.network_colour(n.rank)) for n in data.networks],
            nodes_cap=NODES_PER_NETWORK,
            members_shown=MEMBERS_SHOWN,
            edges_cap=EDGES_PER_NETWORK,
        )
    )


# `write_report`'s stages, as its progress callback names them: "drawing" lays out and
# draws each network's graph and charts, the slow part with many networks.
REPORT_STAGES = ("reading the case", "drawing", "writing the file")


def write_report(
    case_path: Path | str,
    out_path: Path | str,
    *,
    max_members: int = 200,
    max_networks: int = 100,
    progress: StageProgress | None = None,
) -> ReportSummary:
    """Write the HTML takedown report of the case's last detection to `out_path`.

    At most `max_members` members are listed per network (the page says how many more)
    and `max_networks` networks get a section (the rest are listed in one table). The file
    is written to a temporary file beside `out_path` and moved into place, so a failure
    leaves no half-written report (and an older report at that path intact). `progress` is
    called as each of REPORT_STAGES starts."""
    out = Path(out_path)
    # Checked before the report is built, which can take a while.
    if (no_folder := folder_missing(out)) is not None:
        raise no_folder
    if out.is_dir():
        raise TrollscopeError(f"{out} is a folder; give the report a file name, e.g. report.html.")
    stages = Stages(progress, len(REPORT_STAGES))
    stages.start(REPORT_STAGES[0])
    data = load_report(case_path, max_members=max_members, max_networks=max_networks)
    stages.start(REPORT_STAGES[1])
    page = render(data).encode("utf-8")
    stages.start(REPORT_STAGES[2])
    with writing(out):
        fd, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(page)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, out)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    listed = sum(len(n.members) for n in data.networks)
    return ReportSummary(
        path=out,
        size_bytes=len(page),
        networks=data.networks_total,
        sections=len(data.networks),
        inauthentic=data.inauthentic_total,
        members_listed=listed,
        members_omitted=sum(n.members_more for n in data.networks),
    )
