"""Everything the takedown report shows, read from a detected case into plain values.

`load_report` runs every query the report needs and returns frozen dataclasses: the
template and the plots never touch the database. Text that came from a post or a profile
(handles, names, bios, post texts, hashtags, evidence lines naming partners) is passed
through `shown`: bidi override and isolate controls removed (so that a handle cannot
reorder the page's own text around it) and long strings cut with an ellipsis. It is still
hostile: the template autoescapes it and the plots escape it themselves.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from trollscope import __version__
from trollscope.case import Case, has_table
from trollscope.detect.thresholdstore import Threshold, load_threshold
from trollscope.detect.words import format_p, period_words
from trollscope.errors import TrollscopeError
from trollscope.report.words import pair_line, param_name, param_value, signal_name

# Bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): a handle
# holding U+202E would flip the order of whatever the page prints after it. Zero-width
# characters (U+200B..U+200D) cannot reorder anything and stay: they are evidence too.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
TEXT_LIMIT = 500  # characters of a bio or post text shown
SHORT_LIMIT = 120  # characters of a handle, name, hashtag or evidence line shown
EVIDENCE_LIMIT = 400
HOURS_OF_WEEK = 168
NODES_PER_NETWORK = 300  # drawn; the rest are counted in the page
EDGES_PER_NETWORK = 4000  # drawn (an even sample of the links); all of them place the nodes
STRONGEST_LINES = 3  # evidence lines on a network's card, one per test and trace
# A hashtag or an account targeted is listed when at least this share of the members used
# it, and never fewer than LISTED_MIN members: one or two members' tags are not the
# network's (issue 22).
LISTED_SHARE = 0.05
LISTED_MIN = 3
EXAMPLES_PER_NETWORK = 3
AVATAR_GROUPS = 12  # groups of accounts sharing a picture shown per network
AVATAR_HANDLES = 8  # handles listed under a picture
THUMBNAIL = 64  # pixels, the longer side of an avatar thumbnail
MAX_CREATION_BINS = 120  # bars of the creation chart; longer spans are binned
MIN_CREATION_DAYS = 31  # days the creation chart spans at least
TEXT_TRACES = ("co-text", "near-dup-text")


def shown(value: object, limit: int = SHORT_LIMIT) -> str:
    """A data string as the page may show it: bidi controls removed, cut at `limit`
    characters with an ellipsis. None shows as ''."""
    if value is None:
        return ""
    text = BIDI_CONTROLS.sub("", str(value))
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# --- the dataclasses ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coverage:
    """Posts and accounts of one platform in the case, and the posts' time span (UTC)."""

    platform: str
    posts: int
    accounts: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True, slots=True)
class Source:
    """One ingested file (provenance)."""

    path: str
    sha256: str
    format: str
    reader_version: str
    ingested_at: datetime
    stored: int
    rejected: int


@dataclass(frozen=True, slots=True)
class Member:
    """One account of a network, as its row in the members table."""

    platform: str
    account_id: str
    handle: str
    display_name: str
    bio: str
    created_at: datetime | None
    followers: int | None
    score: float
    partners: int
    traces: tuple[str, ...]
    evidence: tuple[str, ...]  # co-action, strongest first
    identity: tuple[tuple[str, str], ...]  # (signal in words, its evidence line)


@dataclass(frozen=True, slots=True)
class CreationBin:
    """Members created in `days` days from `start`; `burst` when one of those days lies in
    a creation burst of the case; `case_accounts` all accounts of the case created then."""

    start: date
    days: int
    accounts: int
    burst: bool
    case_accounts: int


@dataclass(frozen=True, slots=True)
class Count:
    """A name (hashtag, language, trace) with how many members and posts carry it."""

    name: str
    members: int
    posts: int


@dataclass(frozen=True, slots=True)
class Target:
    """An account outside the network that its members amplified or attacked."""

    account_id: str
    handle: str
    members: int
    posts: int


@dataclass(frozen=True, slots=True)
class SignalShare:
    """An identity signal in a network: members flagged, their share, the case's rate."""

    signal: str
    flagged: int
    share: float
    background: float
    p_value: float


@dataclass(frozen=True, slots=True)
class PostText:
    """One side of a near-identical pair: who posted what, when, in which language."""

    handle: str
    account_id: str
    post_id: str
    created_at: datetime | None
    text: str
    lang: str


@dataclass(frozen=True, slots=True)
class Example:
    """Two members' near-identical posts (one co-text or near-dup-text edge)."""

    trace: str
    a: PostText
    b: PostText


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """A significant pair between drawn nodes (indices), with its strongest trace."""

    a: int
    b: int
    trace: str


@dataclass(frozen=True, slots=True)
class Graph:
    """The drawable part of a network: its strongest members and every link between them
    (one per pair of accounts, with the trace of its strongest test), strongest first."""

    labels: tuple[str, ...]  # node labels (handles), index = node
    edges: tuple[GraphEdge, ...]
    nodes_total: int
    edges_total: int  # links among all members

    @property
    def complete(self) -> bool:
        """Whether every two drawn nodes are linked."""
        n = len(self.labels)
        return n > 2 and len(self.edges) == n * (n - 1) // 2


@dataclass(frozen=True, slots=True)
class AvatarGroup:
    """Members wearing one picture: a small PNG thumbnail as a data: URI and their handles."""

    data_uri: str
    accounts: int
    handles: tuple[str, ...]


# What each test finds, in words: "pair tests on co-repost: 1,752 pairs".
FOUND_UNITS = {
    "pair": "pairs",
    "account": "accounts",
    "burst": "bursts",
    "cohort": "cohorts",
    "join": "joins of networks acting in the same minutes",
}


@dataclass(frozen=True, slots=True)
class Found:
    """One test that found a network, on one trace, and how many of its units did."""

    test: str  # pair, account, burst, cohort, join
    trace: str
    found: int

    @property
    def words(self) -> str:
        return f"{self.test} tests on {self.trace}: {self.found:,} {FOUND_UNITS.get(self.test, '')}"

    @property
    def units(self) -> str:
        return FOUND_UNITS.get(self.test, "found")


@dataclass(frozen=True, slots=True)
class Network:
    """One network and everything its section of the report shows."""

    network: int
    rank: int
    size: int
    pairs: int
    density: float
    log_p: float
    p_text: str
    inauthentic: bool
    verdict: str
    traces: tuple[Count, ...]  # members: pairs of the trace; posts unused (0)
    found_by: tuple[Found, ...]
    signals: tuple[SignalShare, ...]
    hashtags: tuple[Count, ...]  # used by at least `listed_min` members
    amplified: tuple[Target, ...]  # likewise
    attacked: tuple[Target, ...]  # likewise
    listed_min: int
    unlisted: tuple[int, int, int]  # hashtags, amplified, attacked used by fewer
    strongest: tuple[str, ...]  # the network's strongest evidence lines
    languages: tuple[Count, ...]  # members unused (0)
    members: tuple[Member, ...]  # the first max_members, strongest first
    creation: tuple[CreationBin, ...]
    creation_bin_days: int
    created_unknown: int  # members without a creation time
    hours_utc: tuple[int, ...]  # 168 counts, Monday 00h UTC first
    utc_offset: float | None  # members' median inferred offset (hours), None if unknown
    hours_local: tuple[int, ...]  # 168 counts shifted by utc_offset (empty when None)
    examples: tuple[Example, ...]
    graph: Graph
    avatars: tuple[AvatarGroup, ...]
    avatar_files: int  # members with a picture on disk

    @property
    def members_more(self) -> int:
        """Members not listed in the table."""
        return self.size - len(self.members)


@dataclass(frozen=True, slots=True)
class NetworkBrief:
    """A network beyond the report's cap: one line in a table."""

    rank: int
    size: int
    p_text: str
    verdict: str


@dataclass(frozen=True, slots=True)
class ReportData:
    """The whole report."""

    case_path: str
    coverage: tuple[Coverage, ...]
    sources: tuple[Source, ...]
    run_at: datetime | None
    detect_version: str
    params: tuple[tuple[str, str, str], ...]  # (name in words, key in the case, value)
    q: float | None
    period: str  # the null's period in words ("6-hour period"), or "period" if unknown
    networks: tuple[Network, ...]  # in rank order, at most max_networks
    others: tuple[NetworkBrief, ...]  # the networks beyond max_networks
    networks_total: int
    inauthentic_total: int
    flagged_accounts: int
    generated_at: datetime
    tool_version: str
    # A peer's threshold run beside the tests (detect --min-participation / --min-weight):
    # its first networks, apart from the tested ones; None when the run had none.
    threshold: Threshold | None = None


# --- reading -----------------------------------------------------------------------------


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()
    return {str(r[0]) for r in rows}


REQUIRED = ("networks", "account_scores", "account_evidence", "pair_tests", "detect_runs")


def load_report(
    case_path: Path | str, *, max_members: int = 200, max_networks: int = 100
) -> ReportData:
    """Read what the report of the case's last detection shows. At most `max_members`
    members are listed per network and `max_networks` networks get a section."""
    if max_members < 1:
        raise TrollscopeError(f"max_members must be at least 1, not {max_members}.")
    if max_networks < 1:
        raise TrollscopeError(f"max_networks must be at least 1, not {max_networks}.")
    with Case.open(case_path, read_only=True) as case:
        con = case.con
        tables = _tables(con)
        missing = [t for t in REQUIRED if t not in tables]
        if missing:
            raise TrollscopeError(
                f"{case_path} has no detection results (no table {missing[0]}): run "
                f"`trollscope detect {case_path}` first, then the report."
            )
        run_at, version, params = _last_run(con)
        q = params.get("q")
        period_s = params.get("period_s")
        period = period_words(float(period_s)) if isinstance(period_s, int | float) else "period"
        networks, others, total, inauthentic = _networks(con, tables, max_members, max_networks)
        flagged = int(con.execute("SELECT count(*) FROM account_scores").fetchall()[0][0])
        return ReportData(
            case_path=str(case_path),
            coverage=_coverage(con),
            sources=_sources(con),
            run_at=run_at,
            detect_version=version,
            params=tuple((param_name(k), k, param_value(k, v)) for k, v in params.items()),
            q=float(q) if isinstance(q, int | float) else None,
            period=period,
            networks=networks,
            others=others,
            networks_total=total,
            inauthentic_total=inauthentic,
            flagged_accounts=flagged,
            generated_at=datetime.now(UTC).replace(microsecond=0),
            tool_version=__version__,
            threshold=load_threshold(con, max_networks),
        )


def _last_run(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, str, dict[str, object]]:
    rows = con.execute(
        "SELECT run_at, version, params FROM detect_runs ORDER BY run_at DESC LIMIT 1"
    ).fetchall()
    if not rows:
        return None, "", {}
    run_at, version, params = rows[0]
    try:
        parsed = json.loads(params or "{}")
    except json.JSONDecodeError:
        parsed = {}
    return run_at, str(version or ""), parsed if isinstance(parsed, dict) else {}


def _coverage(con: duckdb.DuckDBPyConnection) -> tuple[Coverage, ...]:
    posts = {
        str(r[0]): (int(r[1]), r[2], r[3])
        for r in con.execute(
            "SELECT platform, count(*), min(created_at), max(created_at) FROM posts GROUP BY ALL"
        ).fetchall()
    }
    accounts = {
        str(r[0]): int(r[1])
        for r in con.execute(
            "SELECT platform, count(DISTINCT account_id) FROM accounts GROUP BY ALL"
        ).fetchall()
    }
    return tuple(
        Coverage(
            platform=shown(p),
            posts=posts.get(p, (0, None, None))[0],
            accounts=accounts.get(p, 0),
            first=posts.get(p, (0, None, None))[1],
            last=posts.get(p, (0, None, None))[2],
        )
        for p in sorted(set(posts) | set(accounts))
    )


def _sources(con: duckdb.DuckDBPyConnection) -> tuple[Source, ...]:
    rows = con.execute(
        "SELECT path, sha256, format, reader_version, ingested_at, stored, rejected "
        "FROM sources ORDER BY source_id"
    ).fetchall()
    return tuple(
        Source(shown(r[0], TEXT_LIMIT), str(r[1]), shown(r[2]), shown(r[3]), r[4], r[5], r[6])
        for r in rows
    )


# Members ranked inside their network, strongest first: the table lists the first
# max_members, the drawing the first NODES_PER_NETWORK.
_RANKED = """
    SELECT platform, account_id, network, score, partners, traces,
           row_number() OVER (PARTITION BY network ORDER BY score DESC, account_id, platform)
               AS member_rank
    FROM account_scores"""

# One row per account even if a case holds an account twice.
_ACCOUNTS = """
    (SELECT platform, account_id, any_value(handle) AS handle,
            any_value(display_name) AS display_name, any_value(bio) AS bio,
            min(created_at) AS created_at, max(followers) AS followers,
            any_value(avatar) AS avatar, any_value(source_id) AS source_id
     FROM accounts GROUP BY platform, account_id)"""


def _networks(
    con: duckdb.DuckDBPyConnection, tables: set[str], max_members: int, max_networks: int
) -> tuple[tuple[Network, ...], tuple[NetworkBrief, ...], int, int]:
    rows = con.execute(
        f"""SELECT network, rank, size, pairs, density, log_p, inauthentic, verdict, traces,
                  signals, hashtags, amplified, attacked, languages,
                  {"found_by" if _has_column(con, "networks", "found_by") else "[]"}
           FROM networks ORDER BY rank"""
    ).fetchall()
    total = len(rows)
    inauthentic = sum(1 for r in rows if r[6])
    others = tuple(
        NetworkBrief(int(r[1]), int(r[2]), format_p(float(r[5])), shown(r[7], TEXT_LIMIT))
        for r in rows[max_networks:]
    )
    rows = rows[:max_networks]
    if not rows:
        return (), others, total, inauthentic
    wanted = [int(r[0]) for r in rows]
    members = _members(con, tables, wanted, max_members)
    creation, bin_days, unknown = _creation(con, tables, wanted)
    hours_utc, offsets, hours_local = _hours(con, tables, wanted)
    # A case detected before edges were kept has no evidence posts to show.
    examples = _examples(con, wanted) if "edges" in tables else {}
    graphs = _graphs(con, wanted)
    strongest = _strongest(con, wanted)
    avatars, avatar_files = _avatars(con, tables, wanted)
    networks = []
    for r in rows:
        n = int(r[0])
        least = min(int(r[2]), max(LISTED_MIN, math.ceil(LISTED_SHARE * int(r[2]))))
        hashtags = [Count(shown(h["tag"]), int(h["members"]), int(h["posts"])) for h in r[10] or []]
        amplified, attacked = _targets(r[11]), _targets(r[12])
        networks.append(
            Network(
                network=n,
                rank=int(r[1]),
                size=int(r[2]),
                pairs=int(r[3]),
                density=float(r[4]),
                log_p=float(r[5]),
                p_text=format_p(float(r[5])),
                inauthentic=bool(r[6]),
                verdict=shown(r[7], TEXT_LIMIT),
                traces=tuple(Count(shown(t["trace"]), int(t["pairs"]), 0) for t in r[8] or []),
                found_by=tuple(
                    Found(shown(f["test"]), shown(f["trace"]), int(f["found"])) for f in r[14] or []
                ),
                signals=tuple(
                    SignalShare(
                        shown(s["signal"]),
                        int(s["flagged"]),
                        float(s["share"]),
                        float(s["background"]),
                        float(s["p_value"]),
                    )
                    for s in r[9] or []
                ),
                hashtags=tuple(h for h in hashtags if h.members >= least),
                amplified=tuple(t for t in amplified if t.members >= least),
                attacked=tuple(t for t in attacked if t.members >= least),
                listed_min=least,
                unlisted=(
                    sum(1 for h in hashtags if h.members < least),
                    sum(1 for t in amplified if t.members < least),
                    sum(1 for t in attacked if t.members < least),
                ),
                strongest=tuple(strongest.get(n, ())),
                languages=tuple(Count(shown(x["lang"]), 0, int(x["posts"])) for x in r[13] or []),
                members=tuple(members.get(n, ())),
                creation=tuple(creation.get(n, ())),
                creation_bin_days=bin_days.get(n, 1),
                created_unknown=unknown.get(n, 0),
                hours_utc=hours_utc.get(n, (0,) * HOURS_OF_WEEK),
                utc_offset=offsets.get(n),
                hours_local=hours_local.get(n, ()),
                examples=tuple(examples.get(n, ())),
                graph=graphs.get(n, Graph((), (), 0, 0)),
                avatars=tuple(avatars.get(n, ())),
                avatar_files=avatar_files.get(n, 0),
            )
        )
    return tuple(networks), others, total, inauthentic


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether a table has a column: a case detected by an older version lacks some."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
        [table, column],
    ).fetchall()
    return bool(found[0][0])


def _targets(values: Sequence[dict[str, object]] | None) -> tuple[Target, ...]:
    return tuple(
        Target(
            shown(v["account_id"]),
            shown(v["handle"] or v["account_id"]),
            int(str(v["members"])),
            int(str(v["posts"])),
        )
        for v in values or []
    )


def _in_list(column: str, networks: Sequence[int]) -> str:
    """`column IN (...)` over network ids (integers from the case: safe to inline)."""
    return f"{column} IN ({', '.join(str(int(n)) for n in networks)})"


def _evidence_line(test: object, line: object) -> str:
    return shown(pair_line(str(line)) if test == "pair" else line, EVIDENCE_LIMIT)


def _members(
    con: duckdb.DuckDBPyConnection, tables: set[str], networks: Sequence[int], limit: int
) -> dict[int, list[Member]]:
    # Each listed member's identity evidence: the signals that flagged it, in their own
    # words (account_signals.evidence), so that a reader sees it beside the co-action.
    identity = (
        """(SELECT list([s.signal, s.evidence] ORDER BY s.signal) FROM account_signals s
            WHERE s.platform = m.platform AND s.account_id = m.account_id AND s.flagged
              AND coalesce(s.evidence, '') <> '')"""
        if "account_signals" in tables
        else "NULL"
    )
    rows = con.execute(
        f"""WITH m AS ({_RANKED})
            SELECT m.network, m.platform, m.account_id, a.handle, a.display_name, a.bio,
                   a.created_at, a.followers, m.score, m.partners, m.traces,
                   (SELECT list([e.test, e.line] ORDER BY e.rank) FROM account_evidence e
                    WHERE e.platform = m.platform AND e.account_id = m.account_id),
                   {identity}
            FROM m LEFT JOIN {_ACCOUNTS} a USING (platform, account_id)
            WHERE m.member_rank <= ? AND {_in_list("m.network", networks)}
            ORDER BY m.network, m.member_rank""",
        [limit],
    ).fetchall()
    found: dict[int, list[Member]] = defaultdict(list)
    for r in rows:
        found[int(r[0])].append(
            Member(
                platform=shown(r[1]),
                account_id=shown(r[2]),
                handle=shown(r[3] or r[2]),
                display_name=shown(r[4]),
                bio=shown(r[5], TEXT_LIMIT),
                created_at=r[6],
                followers=None if r[7] is None else int(r[7]),
                score=float(r[8]),
                partners=int(r[9]),
                traces=tuple(shown(t) for t in r[10] or []),
                evidence=tuple(_evidence_line(t, x) for t, x in r[11] or []),
                identity=tuple(
                    (signal_name(str(sig)), shown(x, EVIDENCE_LIMIT)) for sig, x in r[12] or []
                ),
            )
        )
    return found


def _strongest(con: duckdb.DuckDBPyConnection, networks: Sequence[int]) -> dict[int, list[str]]:
    """Per network, its STRONGEST_LINES strongest evidence lines, one per kind of test and
    trace, the strongest of each kind of test first (so that the card shows what kinds of
    evidence there are: a cohort, a pair, not three cohorts)."""
    rows = con.execute(
        f"""WITH e AS (
                SELECT m.network, e.test, e.line,
                       row_number() OVER (PARTITION BY m.network, e.test, e.trace
                                          ORDER BY e.log_p, e.account_id, e.rank) AS per_kind,
                       e.log_p, e.account_id, e.rank
                FROM account_evidence e JOIN account_scores m USING (platform, account_id)
                WHERE {_in_list("m.network", networks)})
            SELECT network, test, line FROM (
                SELECT *, row_number() OVER (PARTITION BY network
                                             ORDER BY per_test, log_p, account_id, rank) AS r
                FROM (SELECT *, row_number() OVER (PARTITION BY network, test
                                                   ORDER BY log_p, account_id, rank) AS per_test
                      FROM e WHERE per_kind = 1))
            WHERE r <= {STRONGEST_LINES} ORDER BY network, r"""
    ).fetchall()
    found: dict[int, list[str]] = defaultdict(list)
    for network, test, line in rows:
        found[int(network)].append(_evidence_line(test, line))
    return found


def _creation(
    con: duckdb.DuckDBPyConnection, tables: set[str], networks: Sequence[int]
) -> tuple[dict[int, list[CreationBin]], dict[int, int], dict[int, int]]:
    """Members' creations per day (per bin of days when the span is long) over at least
    MIN_CREATION_DAYS, with the whole case's creations of those days for context, and the
    bins holding a day of one of the case's creation bursts marked."""
    rows = con.execute(
        f"""SELECT m.network, m.platform, CAST(a.created_at AS DATE) AS day, count(*)
            FROM account_scores m LEFT JOIN {_ACCOUNTS} a USING (platform, account_id)
            WHERE {_in_list("m.network", networks)} GROUP BY ALL"""
    ).fetchall()
    bursts: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    if "creation_bursts" in tables:
        for platform, start, end in con.execute(
            'SELECT platform, start, "end" FROM creation_bursts'
        ).fetchall():
            if start is not None and end is not None:
                bursts[str(platform)].append((start, end))
    case_days: dict[str, dict[date, int]] = defaultdict(dict)
    if "creation_histogram" in tables:
        for platform, day, accounts in con.execute(
            "SELECT platform, day, accounts FROM creation_histogram WHERE day IS NOT NULL"
        ).fetchall():
            case_days[str(platform)][day] = int(accounts or 0)
    members: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    platforms: dict[int, set[str]] = defaultdict(set)
    unknown: dict[int, int] = defaultdict(int)
    for network, platform, day, count in rows:
        n = int(network)
        if day is None:
            unknown[n] += int(count)
        else:
            members[n][day] += int(count)
            platforms[n].add(str(platform))
    creation: dict[int, list[CreationBin]] = {}
    bin_days: dict[int, int] = {}
    for n, per_day in members.items():
        first, last = min(per_day), max(per_day)
        short = MIN_CREATION_DAYS - ((last - first).days + 1)
        if short > 0:  # a one-day batch shows as one bar among quiet days, not a wall
            first -= timedelta(days=short // 2)
            last += timedelta(days=short - short // 2)
        width = max(1, math.ceil(((last - first).days + 1) / MAX_CREATION_BINS))
        bins: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # members, case, burst
        for day, count in per_day.items():
            bins[(day - first).days // width][0] += count
        for platform in platforms[n]:
            for day, count in case_days[platform].items():
                if first <= day <= last:
                    bins[(day - first).days // width][1] += count
        # The window's first and last bins, even if empty, fix the chart's time axis.
        bins[0][0] += 0
        bins[(last - first).days // width][0] += 0
        for i, b in bins.items():
            if b[0] and _in_burst(first + timedelta(days=i * width), width, platforms[n], bursts):
                b[2] = 1
        creation[n] = [
            CreationBin(first + timedelta(days=i * width), width, b[0], bool(b[2]), b[1])
            for i, b in sorted(bins.items())
        ]
        bin_days[n] = width
    return creation, bin_days, dict(unknown)


def _in_burst(
    start: date,
    days: int,
    platforms: Iterable[str],
    bursts: dict[str, list[tuple[datetime, datetime]]],
) -> bool:
    """Whether the days [start, start + days) overlap a creation burst of the platforms."""
    begin = datetime(start.year, start.month, start.day)
    end = begin + timedelta(days=days)
    return any(s < end and e > begin for p in platforms for s, e in bursts.get(p, ()))


def _hours(
    con: duckdb.DuckDBPyConnection, tables: set[str], networks: Sequence[int]
) -> tuple[dict[int, tuple[int, ...]], dict[int, float], dict[int, tuple[int, ...]]]:
    """Members' posts per hour of the week in UTC and at their median inferred offset."""
    # Half-hours of the week (Monday 00:00 UTC = 0), so that a half-hour offset shifts
    # the counts exactly.
    rows = con.execute(
        f"""SELECT m.network,
                   ((isodow(p.created_at) - 1) * 48 + hour(p.created_at) * 2
                    + minute(p.created_at) // 30) AS slot, count(*)
            FROM posts p JOIN account_scores m USING (platform, account_id)
            WHERE p.created_at IS NOT NULL AND {_in_list("m.network", networks)}
            GROUP BY ALL"""
    ).fetchall()
    slots: dict[int, list[int]] = defaultdict(lambda: [0] * (2 * HOURS_OF_WEEK))
    for network, slot, count in rows:
        slots[int(network)][int(slot)] += int(count)
    offsets: dict[int, float] = {}
    if "rhythm_scores" in tables:
        for network, offset in con.execute(
            f"""SELECT m.network, quantile_disc(r.utc_offset, 0.5)
                FROM rhythm_scores r JOIN account_scores m USING (platform, account_id)
                WHERE r.utc_offset IS NOT NULL AND {_in_list("m.network", networks)}
                GROUP BY ALL"""
        ).fetchall():
            if offset is not None:
                offsets[int(network)] = round(float(offset) * 2) / 2
    utc: dict[int, tuple[int, ...]] = {}
    local: dict[int, tuple[int, ...]] = {}
    for n, counts in slots.items():
        utc[n] = _by_hour(counts)
        if n in offsets:
            shift = int(offsets[n] * 2)  # local = UTC + offset
            moved = [0] * len(counts)
            for slot, c in enumerate(counts):
                moved[(slot + shift) % len(counts)] += c
            local[n] = _by_hour(moved)
    return utc, offsets, local


def _by_hour(half_hours: Sequence[int]) -> tuple[int, ...]:
    return tuple(half_hours[2 * h] + half_hours[2 * h + 1] for h in range(HOURS_OF_WEEK))


def _examples(con: duckdb.DuckDBPyConnection, networks: Sequence[int]) -> dict[int, list[Example]]:
    """Up to EXAMPLES_PER_NETWORK near-identical pairs of posts per network, from the
    evidence (post pairs) of its co-text / near-dup-text edges among members: one pair
    per copied text (evidence key), exact copies before near ones, stronger edges first,
    and one per language before a second in any, so that a multilingual farm shows each
    of its desks."""
    traces = ", ".join(f"'{t}'" for t in TEXT_TRACES)
    strength = "(trace = 'co-text') DESC, score DESC"
    rows = con.execute(
        f"""WITH m AS (SELECT platform, account_id, network FROM account_scores
                       WHERE {_in_list("network", networks)}),
            e AS (SELECT ma.network, e.trace, e.platform, e.account_a, e.account_b, e.score,
                         unnest(e.evidence) AS ev
                  FROM edges e
                  JOIN m ma ON ma.platform = e.platform AND ma.account_id = e.account_a
                  JOIN m mb ON mb.platform = e.platform AND mb.account_id = e.account_b
                  WHERE ma.network = mb.network AND e.trace IN ({traces})),
            k AS (SELECT *, row_number() OVER (PARTITION BY network, ev.key
                      ORDER BY {strength}, account_a, account_b, ev.post_a) AS per_key
                  FROM e),
            top AS (SELECT k.*, row_number() OVER (
                        PARTITION BY k.network, coalesce(pa.lang, '')
                        ORDER BY {strength}, k.ev.key, k.account_a, k.account_b) AS r,
                        pa.created_at AS time_a, pa.text AS text_a, pa.lang AS lang_a
                    FROM k LEFT JOIN posts pa
                      ON pa.platform = k.platform AND pa.post_id = k.ev.post_a
                    WHERE k.per_key = 1)
            SELECT top.network, top.trace,
                   top.account_a, aa.handle, top.ev.post_a, top.time_a, top.text_a, top.lang_a,
                   top.account_b, ab.handle, top.ev.post_b, pb.created_at, pb.text, pb.lang
            FROM top
            LEFT JOIN posts pb ON pb.platform = top.platform AND pb.post_id = top.ev.post_b
            LEFT JOIN {_ACCOUNTS} aa ON aa.platform = top.platform
                                    AND aa.account_id = top.account_a
            LEFT JOIN {_ACCOUNTS} ab ON ab.platform = top.platform
                                    AND ab.account_id = top.account_b
            WHERE top.r <= {EXAMPLES_PER_NETWORK}
            ORDER BY top.network, top.r, {strength}, top.ev.key"""
    ).fetchall()
    found: dict[int, list[Example]] = defaultdict(list)
    seen: set[tuple[int, str, str]] = set()
    for r in rows:
        n = int(r[0])
        # A post joined twice (a post id stored twice) would repeat an example.
        if (n, str(r[4]), str(r[10])) in seen or len(found[n]) >= EXAMPLES_PER_NETWORK:
            continue
        seen.add((n, str(r[4]), str(r[10])))
        found[n].append(Example(shown(r[1]), _post(*r[2:8]), _post(*r[8:14])))
    return found


def _post(
    account_id: object,
    handle: object,
    post_id: object,
    created_at: datetime | None,
    text: object,
    lang: object,
) -> PostText:
    return PostText(
        handle=shown(handle or account_id),
        account_id=shown(account_id),
        post_id=shown(post_id),
        created_at=created_at,
        text=shown(text, TEXT_LIMIT),
        # A language tag goes into a lang attribute: keep only what a BCP 47 tag holds.
        lang=re.sub(r"[^A-Za-z0-9-]", "", str(lang or ""))[:35],
    )


# Which link to draw first: a significant pair, then co-acting accounts, bursts, cohorts.
_TEST_ORDER = "CASE e.test WHEN 'pair' THEN 0 WHEN 'account' THEN 1 WHEN 'burst' THEN 2 ELSE 3 END"


def _graphs(con: duckdb.DuckDBPyConnection, networks: Sequence[int]) -> dict[int, Graph]:
    """The drawn nodes (the NODES_PER_NETWORK strongest members) and every link between
    them, each pair once with the trace of its strongest test, strongest first. All are
    kept: the layout needs them all to be faithful (a complete graph capped to its first
    few thousand links was drawn as three clusters); the drawing samples them."""
    nodes = con.execute(
        f"""WITH m AS ({_RANKED})
            SELECT m.network, m.platform, m.account_id, a.handle
            FROM m LEFT JOIN {_ACCOUNTS} a USING (platform, account_id)
            WHERE m.member_rank <= {NODES_PER_NETWORK} AND {_in_list("m.network", networks)}
            ORDER BY m.network, m.member_rank"""
    ).fetchall()
    # The links the networks were found by (network_edges: pairs, co-acting accounts,
    # bursts, cohorts, joins), pairs first; a case detected before that table had pairs only.
    if has_table(con, "network_edges"):
        links = f"""SELECT e.network, e.platform, e.account_a, e.account_b,
                           arg_min(e.trace, {_TEST_ORDER}) AS trace, min({_TEST_ORDER}) AS o
                    FROM network_edges e WHERE {_in_list("e.network", networks)}
                    GROUP BY ALL"""
    else:
        links = """SELECT NULL::BIGINT AS network, t.platform, t.account_a, t.account_b,
                           arg_min(t.trace, t.log_p) AS trace, min(t.log_p) AS o
                    FROM pair_tests t WHERE t.significant GROUP BY ALL"""
    pairs = con.execute(
        f"""WITH m AS ({_RANKED}),
            l AS ({links}),
            p AS (SELECT ma.network, l.platform, l.account_a, l.account_b, l.trace, l.o,
                         ma.member_rank <= {NODES_PER_NETWORK}
                             AND mb.member_rank <= {NODES_PER_NETWORK} AS drawn
                  FROM l
                  JOIN m ma ON ma.platform = l.platform AND ma.account_id = l.account_a
                  JOIN m mb ON mb.platform = l.platform AND mb.account_id = l.account_b
                  WHERE ma.network = mb.network AND {_in_list("ma.network", networks)})
            SELECT network, platform, account_a, account_b, trace, drawn FROM p
            ORDER BY network, o, account_a, account_b"""
    ).fetchall()
    index: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    labels: dict[int, list[str]] = defaultdict(list)
    sizes: dict[int, int] = dict(
        (int(a), int(b))
        for a, b in con.execute(
            "SELECT network, count(*) FROM account_scores GROUP BY network"
        ).fetchall()
    )
    for network, platform, account_id, handle in nodes:
        n = int(network)
        index[n][(str(platform), str(account_id))] = len(labels[n])
        labels[n].append(shown(handle or account_id))
    edges: dict[int, list[GraphEdge]] = defaultdict(list)
    seen: dict[int, set[tuple[int, int]]] = defaultdict(set)
    totals: dict[int, int] = defaultdict(int)
    for network, platform, a, b, trace, drawn in pairs:
        n = int(network)
        totals[n] += 1
        if drawn:
            i, j = index[n][(str(platform), str(a))], index[n][(str(platform), str(b))]
            if i != j and (min(i, j), max(i, j)) not in seen[n]:
                seen[n].add((min(i, j), max(i, j)))
                edges[n].append(GraphEdge(i, j, trace))
    return {
        n: Graph(tuple(labels[n]), tuple(edges[n]), sizes.get(n, len(labels[n])), totals[n])
        for n in networks
    }


def _avatars(
    con: duckdb.DuckDBPyConnection, tables: set[str], networks: Sequence[int]
) -> tuple[dict[int, list[AvatarGroup]], dict[int, int]]:
    """Members' avatar pictures that exist on disk, grouped by picture (the avatar hashes'
    group key when `trollscope avatars` ran, else the file's bytes): groups of two or more
    accounts, largest first. Nothing is fetched: URLs are not pictures on disk."""
    # Imported here: the avatar signal pulls in OpenCV, which a report without avatar
    # pictures does not need.
    from trollscope.features.avatars import local_path

    rows = con.execute(
        f"""SELECT m.network, m.platform, m.account_id, a.handle, a.avatar, s.path
            FROM account_scores m JOIN {_ACCOUNTS} a USING (platform, account_id)
            LEFT JOIN sources s ON s.source_id = a.source_id
            WHERE {_in_list("m.network", networks)}
            ORDER BY m.network, m.score DESC, m.account_id"""
    ).fetchall()
    hashed: dict[tuple[str, str], tuple[str, str | None]] = {}
    if "avatar_hashes" in tables:
        for platform, account_id, file, group in con.execute(
            "SELECT platform, account_id, file, key FROM avatar_hashes ORDER BY file"
        ).fetchall():
            hashed.setdefault((str(platform), str(account_id)), (str(file), group))
    files: dict[int, list[tuple[str, Path, str]]] = defaultdict(list)  # handle, file, key
    for network, platform, account_id, handle, avatar, source in rows:
        path: Path | None = None
        picture: str | None = None
        if (str(platform), str(account_id)) in hashed:
            name, picture = hashed[(str(platform), str(account_id))]
            path = Path(name)
        elif avatar:
            path = local_path(str(avatar), source)
        if path is None or not path.is_file():
            continue
        files[int(network)].append(
            (shown(handle or account_id), path, picture or "sha256:" + _sha256(path))
        )
    groups: dict[int, list[AvatarGroup]] = {}
    for n, found in files.items():
        by_key: dict[str, list[tuple[str, Path]]] = defaultdict(list)
        for handle, path, key in found:
            by_key[key].append((handle, path))
        shared = sorted(
            (v for v in by_key.values() if len(v) >= 2), key=lambda v: (-len(v), v[0][0])
        )
        picked = []
        for members in shared[:AVATAR_GROUPS]:
            uri = _thumbnail(m[1] for m in members)
            if uri is not None:
                handles = tuple(h for h, _ in members[:AVATAR_HANDLES])
                picked.append(AvatarGroup(uri, len(members), handles))
        groups[n] = picked
    return groups, {n: len(v) for n, v in files.items()}


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return str(path)


def _thumbnail(paths: Iterable[Path]) -> str | None:
    """A small PNG of the first readable picture, as a data: URI (no file is linked)."""
    from PIL import Image, UnidentifiedImageError

    for path in paths:
        try:
            with Image.open(path) as image:
                image.thumbnail((THUMBNAIL, THUMBNAIL))
                out = io.BytesIO()
                image.convert("RGB").save(out, format="PNG", optimize=True)
        except (OSError, UnidentifiedImageError, ValueError):
            continue
        return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
    return None
