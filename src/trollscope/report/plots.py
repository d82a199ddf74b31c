"""The report's charts as inline SVG strings, drawn in Python (no JavaScript, no files).

Every string from the data that ends up in an SVG (a handle in a node's tooltip, a date
in a bar's) goes through `_esc`: bidi controls removed and HTML-escaped, quotes included.
Numbers are formatted by us. The SVG is then safe to place in the page as markup.

Charts: the members' account creations per day with the case's burst days marked
(`creation_svg`), posts per hour of the week (`heatmap_svg`), and the network drawings
(`graph_svg` for one network, `overview_svg` for all), laid out by a seeded
Fruchterman-Reingold so that the same case gives the same picture.
"""

from __future__ import annotations

import html
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import igraph as ig

from trollscope.report.data import EDGES_PER_NETWORK, CreationBin, Graph, GraphEdge, shown

Point = tuple[float, float]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Networks take Paul Tol's muted palette, traces the Okabe-Ito one: both colour-blind
# safe, and apart from each other, so that a node is not read as an edge. Cycled.
NETWORK_COLOURS = (
    "#332288",
    "#117733",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#6699CC",
    "#661100",
    "#CC6677",
    "#888888",
)
TRACE_COLOURS = {
    "co-repost": "#E69F00",
    "co-reply": "#56B4E9",
    "co-quote": "#009E73",
    "co-mention": "#D0C000",
    "co-hashtag": "#0072B2",
    "co-link": "#D55E00",
    "co-text": "#CC79A7",
    "near-dup-text": "#E0A0C8",
    "co-image": "#000000",
    "batch-creation": "#7F7F7F",
    "profile-template": "#5E3C99",
    "avatar-reuse": "#B15928",
}
OTHER_TRACE = "#777777"
BAR = "#4a6fa5"
BURST = "#c0392b"
CASE = "#d9d9d9"
# The case's bars are drawn behind the members' unless they are this many times taller.
CONTEXT_RATIO = 10
DATE_TICKS = 7  # dated ticks on the creation chart's time axis, at most
HEAT = "#b2182b"
EMPTY = "#f2f2f2"


def network_colour(rank: int) -> str:
    """The colour of the network of this rank (1 = first), in every drawing."""
    return NETWORK_COLOURS[(rank - 1) % len(NETWORK_COLOURS)]


def trace_colour(trace: str) -> str:
    return TRACE_COLOURS.get(trace, OTHER_TRACE)


def _esc(value: object) -> str:
    """A data string for SVG text or an attribute: bidi controls out, escaped."""
    return html.escape(shown(value), quote=True)


def _svg(css: str, width: float, height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart {css}" viewBox="0 0 {width:g} {height:g}" '
        f'width="{width:g}" height="{height:g}" role="img" aria-label="{_esc(label)}">'
        + "".join(body)
        + "</svg>"
    )


# --- axes --------------------------------------------------------------------------------


def nice_ticks(most: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `most`: about `count` steps of 1, 2 or 5 times
    a power of ten ([0, 5, 10, 15] for 14)."""
    if most <= 0:
        return [0.0, 1.0]
    raw = most / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(step, 1.0)  # counts: no fractional ticks
    top = math.ceil(most / step) * step
    return [i * step for i in range(round(top / step) + 1)]


def _y_axis(
    ticks: Sequence[float], left: float, top: float, plot_h: float, right: float
) -> list[str]:
    """Tick labels and faint grid lines of a count axis from 0 (bottom) to ticks[-1]."""
    out = []
    for t in ticks:
        y = top + plot_h - plot_h * t / ticks[-1]
        out.append(
            f'<line x1="{left:g}" y1="{y:.1f}" x2="{right:g}" y2="{y:.1f}" stroke="#e4e4e4"/>'
            f'<text class="tick" x="{left - 6:g}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11">{t:,.0f}</text>'
        )
    return out


# --- account creation --------------------------------------------------------------------


def creation_svg(bins: Sequence[CreationBin], bin_days: int) -> str:
    """Bars of members created per day (per `bin_days` days when binned), red where the
    bin holds a day of a creation burst of the case, over light grey bars of all the
    case's accounts created then (left out when they would flatten the members' bars),
    on a count axis and a dated time axis. '' when no bins."""
    if not bins:
        return ""
    width, height = 760.0, 250.0
    left, right, top, bottom = 52.0, 16.0, 44.0, 48.0
    plot_w, plot_h = width - left - right, height - top - bottom
    first = bins[0].start
    slots = (bins[-1].start - first).days // bin_days + 1
    most_members = max(b.accounts for b in bins) or 1
    most_case = max(b.case_accounts for b in bins)
    context = 0 < most_case <= CONTEXT_RATIO * most_members
    ticks = nice_ticks(max(most_members, most_case if context else 0))
    scale = ticks[-1]
    slot_w = plot_w / slots
    bar_w = max(1.0, slot_w * 0.85)
    per = "day" if bin_days == 1 else f"{bin_days} days"
    body = [
        f'<text x="0" y="14" font-size="12" font-weight="600">Accounts created per {per} '
        "(UTC)</text>",
        f'<rect x="{left}" y="24" width="10" height="10" fill="{BAR}"/>'
        f'<text x="{left + 14}" y="33" font-size="11">members</text>',
        f'<rect x="{left + 80}" y="24" width="10" height="10" fill="{BURST}"/>'
        f'<text x="{left + 94}" y="33" font-size="11">members, in a creation burst of the '
        "case</text>",
        *_y_axis(ticks, left, top, plot_h, width - right),
        f'<text x="12" y="{top + plot_h / 2:g}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:g})">accounts</text>',
    ]
    if context:
        body.append(
            f'<rect x="{left + 330}" y="24" width="10" height="10" fill="{CASE}"/>'
            f'<text x="{left + 344}" y="33" font-size="11">all accounts of the case</text>'
        )
    elif most_case:
        body.append(
            f'<text x="{left + 330}" y="33" font-size="11">(all accounts of the case: up to '
            f"{most_case:,} per {per}, not drawn)</text>"
        )
    for b in bins:
        i = (b.start - first).days // bin_days
        x = left + i * slot_w + (slot_w - bar_w) / 2
        when = b.start.isoformat() if b.days == 1 else f"{b.start.isoformat()} +{b.days} days"
        tip = f"{when}: {b.accounts} member{'s' if b.accounts != 1 else ''} created"
        if b.case_accounts:
            tip += f" of {b.case_accounts} accounts of the case"
        if b.burst:
            tip += "; creation burst"
        if context and b.case_accounts:
            h = max(1.0, plot_h * b.case_accounts / scale)
            body.append(
                f'<rect class="case" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{CASE}"><title>{_esc(tip)}</title></rect>'
            )
        if b.accounts:
            h = max(1.0, plot_h * b.accounts / scale)
            body.append(
                f'<rect class="{"burst" if b.burst else "bar"}" x="{x:.1f}" '
                f'y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{BURST if b.burst else BAR}"><title>{_esc(tip)}</title></rect>'
            )
    base = top + plot_h
    body.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#444"/>')
    # Dated ticks: at most DATE_TICKS, evenly spaced over the slots, first and last included.
    step = max(1, math.ceil((slots - 1) / (DATE_TICKS - 1))) if slots > 1 else 1
    for i in range(0, slots, step):
        x = left + (i + 0.5) * slot_w
        day = first + timedelta(days=i * bin_days)
        # A date is ~64 px wide: the first and last keep inside the chart.
        anchor = "start" if x - left < 34 else "end" if width - x < 34 else "middle"
        body.append(
            f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#444"/>'
            f'<text class="tick" x="{x:.1f}" y="{base + 17}" font-size="11" '
            f'text-anchor="{anchor}">{_esc(day.isoformat())}</text>'
        )
    body.append(
        f'<text x="{left + plot_w / 2:g}" y="{height - 6}" font-size="11" '
        f'text-anchor="middle">creation date (UTC){", " + per + " per bar" if bin_days > 1 else ""}'
        "</text>"
    )
    return _svg("creation", width, height, f"Accounts created per {per}", body)


# --- posting hours -----------------------------------------------------------------------


def _heat_opacity(count: int, most: int) -> float:
    return 0.12 + 0.88 * count / most


def heatmap_svg(hours: Sequence[int], title: str) -> str:
    """A 7 x 24 heatmap of posts per hour of the week (Monday 00h first), with its colour
    scale: a bar from 1 post to the busiest hour's count, and the colour of no post."""
    cell_w, cell_h = 22.0, 20.0
    left, top = 40.0, 40.0
    grid_w = 24 * cell_w
    width, height = left + grid_w + 8, top + 7 * cell_h + 74
    most = max(hours, default=0) or 1
    body = [f'<text x="0" y="14" font-size="12" font-weight="600">{_esc(title)}</text>']
    for h in range(0, 24, 3):
        body.append(
            f'<text class="tick" x="{left + h * cell_w + 1:g}" y="{top - 6:g}" '
            f'font-size="10">{h:02d}h</text>'
        )
    for d, day in enumerate(DAYS):
        y = top + d * cell_h
        body.append(
            f'<text class="tick" x="4" y="{y + cell_h * 0.7:g}" font-size="11">{day}</text>'
        )
        for h in range(24):
            count = hours[d * 24 + h] if d * 24 + h < len(hours) else 0
            fill = (
                f'fill="{HEAT}" fill-opacity="{_heat_opacity(count, most):.2f}"'
                if count
                else f'fill="{EMPTY}"'
            )
            body.append(
                f'<rect x="{left + h * cell_w:g}" y="{y:g}" width="{cell_w - 1:g}" '
                f'height="{cell_h - 1:g}" {fill}><title>{day} {h:02d}:00: {count} '
                f"post{'s' if count != 1 else ''}</title></rect>"
            )
    # The colour scale, under the grid: "no posts" swatch, then the ramp 1 .. most.
    y = top + 7 * cell_h + 26
    steps = 24
    ramp_x, ramp_w = left + 90, grid_w - 90
    body.append(
        f'<g class="colourbar"><text x="{left:g}" y="{y - 8:g}" font-size="11">'
        "posts per hour of the week</text>"
        f'<rect x="{left:g}" y="{y:g}" width="14" height="12" fill="{EMPTY}" stroke="#ccc"/>'
        f'<text x="{left + 18:g}" y="{y + 10:g}" font-size="11">none</text>'
    )
    for i in range(steps):
        level = 1 + (most - 1) * i / (steps - 1)
        body.append(
            f'<rect x="{ramp_x + i * ramp_w / steps:.1f}" y="{y:g}" '
            f'width="{ramp_w / steps + 0.4:.1f}" height="12" fill="{HEAT}" '
            f'fill-opacity="{_heat_opacity(round(level), most):.2f}"/>'
        )
    for label, x, anchor in (("1", ramp_x, "start"), (f"{most:,}", ramp_x + ramp_w, "end")):
        body.append(
            f'<text class="tick" x="{x:.1f}" y="{y + 28:g}" font-size="11" '
            f'text-anchor="{anchor}">{label}</text>'
        )
    if most > 2:
        mid = (most + 1) // 2
        x = ramp_x + ramp_w * (mid - 1) / (most - 1)
        body.append(
            f'<text class="tick" x="{x:.1f}" y="{y + 28:g}" font-size="11" '
            f'text-anchor="middle">{mid:,}</text>'
        )
    body.append("</g>")
    return _svg("heatmap", width, height, title, body)


# --- network drawings ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Layout:
    """Node positions in the unit square."""

    points: tuple[Point, ...]


def layout(graph: Graph, seed: int = 1) -> Layout:
    """Seeded Fruchterman-Reingold positions of the drawn nodes, scaled to [0, 1]."""
    n = len(graph.labels)
    if n == 0:
        return Layout(())
    if n == 1:
        return Layout(((0.5, 0.5),))
    g = ig.Graph(n=n, edges=sorted({(min(e.a, e.b), max(e.a, e.b)) for e in graph.edges}))
    rng = random.Random(seed)
    start = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(n)]
    # igraph draws from Python's global `random` unless told otherwise: a private seeded
    # generator for the call, the default put back after, so the picture is reproducible
    # and nobody else's random stream moves.
    ig.set_random_number_generator(random.Random(seed))
    try:
        coords = g.layout_fruchterman_reingold(seed=start, niter=500, grid="nogrid").coords
    finally:
        ig.set_random_number_generator(random)
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return Layout(tuple((0.5 + (x - cx) / span, 0.5 + (y - cy) / span) for x, y in coords))


def drawn_edges(graph: Graph, seed: int = 1) -> list[GraphEdge]:
    """The links drawn: all of them up to EDGES_PER_NETWORK, else a seeded sample spread
    evenly over them (the strongest first would draw one corner of a dense network and
    leave the rest bare); every link placed the nodes all the same."""
    if len(graph.edges) <= EDGES_PER_NETWORK:
        return list(graph.edges)
    picked = sorted(random.Random(seed).sample(range(len(graph.edges)), EDGES_PER_NETWORK))
    return [graph.edges[i] for i in picked]


def _draw(
    graph: Graph, where: Layout, colour: str, box: tuple[float, float, float], labels: bool
) -> list[str]:
    """Edges (one path per trace) and nodes of one network inside box (x, y, side)."""
    x0, y0, side = box
    pts = [(x0 + x * side, y0 + y * side) for x, y in where.points]
    paths: dict[str, list[str]] = defaultdict(list)
    edges = drawn_edges(graph)
    for e in edges:
        (ax, ay), (bx, by) = pts[e.a], pts[e.b]
        paths[e.trace].append(f"M{ax:.1f} {ay:.1f}L{bx:.1f} {by:.1f}")
    # Few edges are drawn strong; thousands faint, so that the nodes still show.
    count = len(edges)
    opacity = 0.8 if count <= 60 else 0.5 if count <= 600 else 0.25
    out = [
        f'<path class="edges" data-trace="{_esc(trace)}" d="{"".join(d)}" '
        f'stroke="{trace_colour(trace)}" stroke-opacity="{opacity}" stroke-width="0.9" '
        'fill="none"/>'
        for trace, d in sorted(paths.items())
    ]
    n = len(pts)
    r = 5.0 if n <= 30 else 3.5 if n <= 120 else 2.4
    for (x, y), label in zip(pts, graph.labels, strict=True):
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:g}" fill="{colour}" stroke="#fff" '
            f'stroke-width="0.6"><title>{_esc(label)}</title></circle>'
        )
        if labels:
            out.append(
                f'<text x="{x + r + 2:.1f}" y="{y + 3:.1f}" font-size="10">'
                f"{_esc(shown(label, 24))}</text>"
            )
    return out


def graph_svg(graph: Graph, where: Layout, colour: str) -> str:
    """One network: members (at most the drawn cap) coloured as the network, significant
    pairs coloured by their strongest trace."""
    # Small networks get a small drawing: five nodes on a page-wide square are lost. Large
    # ones stop at 460 px, so that the card (verdict, evidence, charts) stays near one screen.
    side, pad = min(460.0, 160.0 + 40.0 * math.sqrt(len(graph.labels))), 24.0
    labels = len(graph.labels) <= 20
    body = _draw(graph, where, colour, (pad, pad, side), labels)
    size = side + 2 * pad + (120 if labels else 0)
    return _svg("graph", size, side + 2 * pad, "Network drawing", body)


def overview_svg(drawings: Sequence[tuple[int, Graph, Layout]]) -> str:
    """All networks side by side in a grid, each in its own colour (rank order)."""
    if not drawings:
        return ""
    columns = math.ceil(math.sqrt(len(drawings)))
    rows = math.ceil(len(drawings) / columns)
    cell = max(90.0, min(260.0, 780.0 / columns))
    pad = 12.0
    body = []
    for i, (rank, graph, where) in enumerate(drawings):
        x, y = (i % columns) * cell, (i // columns) * cell
        body.append(f'<text x="{x + 4:g}" y="{y + 12:g}" font-size="11">#{rank}</text>')
        body += _draw(
            graph, where, network_colour(rank), (x + pad, y + pad + 6, cell - 2 * pad), False
        )
    return _svg("overview", columns * cell, rows * cell, "All networks", body)
