"""The dashboard's reads: one function per page, each returning that page's JSON twin as
plain values (the HTML page is its template over the same dict).

Every query is bounded (LIMIT, or a GROUP BY whose rows are bounded by a network's size or
a chart's bins) and takes its values as parameters, never formatted into the SQL: ids,
handles and search words come from the URL and are hostile. A read-only case cannot get
indexes, so the reads lean on what DuckDB does without them: the small detection tables
(networks, account_scores, network_edges, account_evidence) are read whole-filtered, and
`posts` (the one big table) only filtered by one account or one network's members, which
DuckDB scans column-wise in parallel (docs/benchmarks.md gives the times at 1M and 10M).

Strings stay as the case holds them (raw, hostile): the template and the scripts escape
and shorten them where they show them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import duckdb

from trollscope.detect.thresholdstore import load_threshold
from trollscope.detect.words import format_p
from trollscope.serve.index import ACCOUNTS, COVERAGE, KEYS, PostFiles

Page = dict[str, Any]

PAGE_SIZE = 50  # rows of a table page unless the URL asks for another
MAX_PAGE_SIZE = 500
GRAPH_NODES = 2000  # the strongest members drawn
GRAPH_EDGES = 20_000  # links among them, the strongest tests first
EVIDENCE_ROWS = 20  # evidence lines on a network's page
ACCOUNT_ROWS = 100  # evidence lines, partners and signals on an account's page
MAX_BINS = 120  # bars of a timeline; longer spans are binned
HOURS_OF_WEEK = 168

# The networks list's sort keys (URL value -> SQL); anything else is refused.
NETWORK_SORTS = {
    "rank": "rank",
    "size": "size",
    "pairs": "pairs",
    "density": "density",
    "p": "log_p",
    "verdict": "verdict",
}
MEMBER_SORTS = {"score": "score", "partners": "partners", "handle": "lower(handle)"}
DETECTION_TABLES = ("networks", "account_scores")


class BadRequest(ValueError):
    """A URL parameter out of range or unknown: the page says which (HTTP 400)."""


class NotFound(LookupError):
    """No such network or account in the case (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class Paging:
    offset: int = 0
    limit: int = PAGE_SIZE


@dataclass(frozen=True, slots=True)
class Db:
    """One request's cursor, the tables the case holds and where its posts are (fixed for
    the server's life)."""

    cur: duckdb.DuckDBPyConnection
    tables: frozenset[str]
    posts: PostFiles

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self.cur.execute(sql, list(params)).fetchall()

    def dicts(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        cursor = self.cur.execute(sql, list(params))
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def one(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self.rows(sql, params)[0][0]

    @property
    def detected(self) -> bool:
        return all(t in self.tables for t in DETECTION_TABLES)


def case_tables(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = current_schema()"
    ).fetchall()
    return frozenset(str(r[0]) for r in rows)


def network_url(network: int) -> str:
    return f"/networks/{int(network)}"


def account_url(platform: object, account_id: object) -> str:
    return "/account?" + urlencode({"platform": str(platform), "id": str(account_id)})


def _number(value: object) -> float | None:
    """A float JSON can carry: -inf and NaN (a p-value's log at the edge) become None."""
    if value is None:
        return None
    f = float(value)  # type: ignore[arg-type]
    return f if math.isfinite(f) else None


def _p(log_p: object) -> str:
    return format_p(float(log_p)) if log_p is not None else ""  # type: ignore[arg-type]


def _paged(total: int, paging: Paging, rows: list[dict[str, Any]]) -> Page:
    return {"total": total, "offset": paging.offset, "limit": paging.limit, "rows": rows}


# -- networks -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkFilter:
    verdict: str = ""
    trace: str = ""
    lang: str = ""
    min_size: int | None = None
    max_size: int | None = None
    sort: str = "rank"
    desc: bool = False


def networks(db: Db, where: NetworkFilter, paging: Paging) -> Page:
    """The networks, filtered, sorted and paged, with the filters' choices (facets)."""
    if where.sort not in NETWORK_SORTS:
        raise BadRequest(f"sort must be one of {', '.join(NETWORK_SORTS)}, not {where.sort!r}.")
    page: Page = {
        "detected": db.detected,
        "filters": {
            "verdict": where.verdict,
            "trace": where.trace,
            "lang": where.lang,
            "min_size": where.min_size,
            "max_size": where.max_size,
            "sort": where.sort,
            "desc": where.desc,
        },
        "facets": {"verdicts": [], "traces": [], "langs": []},
        "networks": _paged(0, paging, []),
        "threshold": _threshold(db),
    }
    if "networks" not in db.tables:
        return page
    clauses: list[str] = ["TRUE"]
    params: list[object] = []
    if where.verdict:
        clauses.append("verdict = ?")
        params.append(where.verdict)
    if where.trace:
        clauses.append("list_contains(list_transform(traces, lambda t: t.trace), ?)")
        params.append(where.trace)
    if where.lang:
        clauses.append("list_contains(list_transform(languages, lambda x: x.lang), ?)")
        params.append(where.lang)
    if where.min_size is not None:
        clauses.append("size >= ?")
        params.append(where.min_size)
    if where.max_size is not None:
        clauses.append("size <= ?")
        params.append(where.max_size)
    condition = " AND ".join(clauses)
    order = f"{NETWORK_SORTS[where.sort]} {'DESC' if where.desc else 'ASC'}, rank"
    total = int(db.one(f"SELECT count(*) FROM networks WHERE {condition}", params))
    rows = db.dicts(
        f"""SELECT network, rank, size, pairs, density, log_p, inauthentic, verdict,
                   list_transform(traces, lambda t: t.trace) AS traces,
                   list_transform(languages[:3], lambda x: x.lang) AS langs
            FROM networks WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?""",
        [*params, paging.limit, paging.offset],
    )
    for r in rows:
        r["p_text"] = _p(r["log_p"])
        r["log_p"] = _number(r["log_p"])
        r["density"] = _number(r["density"])
        r["url"] = network_url(r["network"])
    page["networks"] = _paged(total, paging, rows)
    page["facets"] = {
        "verdicts": [r[0] for r in db.rows("SELECT DISTINCT verdict FROM networks ORDER BY 1")],
        "traces": [
            r[0]
            for r in db.rows(
                "SELECT DISTINCT t.trace FROM (SELECT unnest(traces) AS t FROM networks) ORDER BY 1"
            )
        ],
        "langs": [
            r[0]
            for r in db.rows(
                """SELECT x.lang FROM (SELECT unnest(languages) AS x FROM networks)
                   WHERE x.lang IS NOT NULL AND x.lang <> ''
                   GROUP BY 1 ORDER BY sum(x.posts) DESC, 1 LIMIT 50"""
            )
        ],
    }
    return page


# The threshold networks the networks page lists, largest first.
THRESHOLD_SHOWN = 20


def _threshold(db: Db) -> dict[str, Any] | None:
    """A peer's threshold run beside the tests (`detect --min-participation`): its rule,
    its first networks and their totals; None when the last detection had none."""
    found = load_threshold(db.cur, THRESHOLD_SHOWN)
    return asdict(found) if found is not None else None


# -- one network --------------------------------------------------------------------------


def _network_row(db: Db, network: int) -> dict[str, Any]:
    if "networks" not in db.tables:
        raise NotFound(f"no network {network}: the case has no detection results.")
    if network >= 2**63:  # beyond BIGINT: no network has that number
        raise NotFound(f"no network {network} in this case.")
    found_by = "found_by" if _has_column(db, "networks", "found_by") else "[]"
    rows = db.dicts(
        f"""SELECT network, rank, size, pairs, density, log_p, inauthentic, verdict, traces,
                   {found_by} AS found_by, signals, hashtags, amplified, attacked, languages
            FROM networks WHERE network = ? LIMIT 1""",
        [network],
    )
    if not rows:
        raise NotFound(f"no network {network} in this case.")
    row = rows[0]
    row["p_text"] = _p(row["log_p"])
    row["log_p"] = _number(row["log_p"])
    row["density"] = _number(row["density"])
    row["url"] = network_url(network)
    for s in row["signals"] or []:
        for key in ("share", "background", "p_value"):
            s[key] = _number(s[key])
    platform = _platform_of(db, network)
    for key in ("amplified", "attacked"):
        for target in row[key] or []:
            target["url"] = account_url(platform, target["account_id"])
    return row


def _platform_of(db: Db, network: int) -> str:
    found = db.rows("SELECT any_value(platform) FROM account_scores WHERE network = ?", [network])
    return str(found[0][0]) if found and found[0][0] is not None else ""


def _has_column(db: Db, table: str, column: str) -> bool:
    return bool(
        db.one(
            "SELECT count(*) FROM information_schema.columns WHERE table_catalog = "
            "current_database() AND table_name = ? AND column_name = ?",
            [table, column],
        )
    )


def members(
    db: Db, network: int, search: str, paging: Paging, sort: str = "score", desc: bool = True
) -> Page:
    """A network's members, strongest first, those whose handle or id holds `search`."""
    if sort not in MEMBER_SORTS:
        raise BadRequest(f"sort must be one of {', '.join(MEMBER_SORTS)}, not {sort!r}.")
    needle = search.lower()
    condition = """network = ? AND (? = '' OR contains(lower(coalesce(handle, '')), ?)
                                   OR contains(lower(account_id), ?))"""
    params: list[object] = [network, needle, needle, needle]
    total = int(db.one(f"SELECT count(*) FROM account_scores WHERE {condition}", params))
    order = f"{MEMBER_SORTS[sort]} {'DESC' if desc else 'ASC'} NULLS LAST, account_id, platform"
    rows = db.dicts(
        f"""WITH m AS (SELECT platform, account_id, handle, score, partners, traces,
                              identity_signals
                       FROM account_scores WHERE {condition}
                       ORDER BY {order} LIMIT ? OFFSET ?)
            SELECT m.*, a.display_name, a.created_at, a.followers
            FROM m LEFT JOIN (
                SELECT platform, account_id, any_value(display_name) AS display_name,
                       min(created_at) AS created_at, max(followers) AS followers
                FROM accounts
                WHERE account_id IN (SELECT account_id FROM m) GROUP BY ALL
            ) a USING (platform, account_id)
            ORDER BY {order}""",
        [*params, paging.limit, paging.offset],
    )
    for r in rows:
        r["score"] = _number(r["score"])
        r["url"] = account_url(r["platform"], r["account_id"])
    page = _paged(total, paging, rows)
    page.update(q=search, sort=sort, desc=desc)
    return page


def network(db: Db, network_id: int, search: str, paging: Paging, sort: str, desc: bool) -> Page:
    """A network's page: its row, a page of members, its strongest evidence lines, and
    where its graph and charts are (fetched by the page's scripts)."""
    row = _network_row(db, network_id)
    evidence = []
    if "account_evidence" in db.tables:
        evidence = db.dicts(
            """SELECT e.platform, e.account_id, m.handle, e.test, e.trace, e.partner_id,
                      e.partner_handle, e.keys, e.shared, e.expected, e.log_p, e.line
               FROM account_evidence e JOIN account_scores m USING (platform, account_id)
               WHERE m.network = ?
               ORDER BY e.log_p, e.account_id, e.rank LIMIT ?""",
            [network_id, EVIDENCE_ROWS],
        )
    for e in evidence:
        e["url"] = account_url(e["platform"], e["account_id"])
        e["partner_url"] = (
            account_url(e["platform"], e["partner_id"]) if e["partner_id"] is not None else None
        )
        e["expected"] = _number(e["expected"])
        e["p_text"] = _p(e["log_p"])
        e["log_p"] = _number(e["log_p"])
    base = network_url(network_id)
    return {
        "network": row,
        "members": members(db, network_id, search, paging, sort, desc),
        "evidence": evidence,
        "links": {"graph": base + "/graph.json", "charts": base + "/charts.json"},
    }


# Which link to draw when two accounts are linked by several tests.
_TEST_ORDER = "CASE test WHEN 'pair' THEN 0 WHEN 'account' THEN 1 WHEN 'burst' THEN 2 ELSE 3 END"


def graph(db: Db, network_id: int) -> Page:
    """The drawable part of a network: its GRAPH_NODES strongest members and the links
    among them (network_edges: the tests Leiden grouped it by), at most GRAPH_EDGES."""
    _network_row(db, network_id)
    nodes = db.dicts(
        """SELECT platform, account_id, handle, score FROM account_scores WHERE network = ?
           ORDER BY score DESC, account_id, platform LIMIT ?""",
        [network_id, GRAPH_NODES],
    )
    index = {(n["platform"], n["account_id"]): i for i, n in enumerate(nodes)}
    for n in nodes:
        n["score"] = _number(n["score"])
        n["url"] = account_url(n["platform"], n["account_id"])
    links: list[list[object]] = []
    total = 0
    if "network_edges" in db.tables:
        # One pass over the network's links (grouped per pair, kept for the count too).
        drawn = db.rows(
            f"""WITH n AS (SELECT platform, account_id FROM account_scores WHERE network = ?
                           ORDER BY score DESC, account_id, platform LIMIT ?),
                g AS MATERIALIZED (
                    SELECT platform, account_a, account_b, min({_TEST_ORDER}) AS o,
                           arg_min(test, {_TEST_ORDER}) AS test,
                           arg_min(trace, {_TEST_ORDER}) AS trace
                    FROM network_edges WHERE network = ? GROUP BY ALL)
                SELECT (SELECT count(*) FROM g), platform, account_a, account_b, test, trace
                FROM g
                WHERE (platform, account_a) IN (SELECT * FROM n)
                  AND (platform, account_b) IN (SELECT * FROM n)
                ORDER BY o, account_a, account_b LIMIT ?""",
            [network_id, GRAPH_NODES, network_id, GRAPH_EDGES],
        )
        for count, platform, a, b, test, trace in drawn:
            total = int(count)
            ia, ib = index.get((platform, a)), index.get((platform, b))
            if ia is not None and ib is not None:
                links.append([ia, ib, test, trace])
        if not drawn:  # none among the drawn nodes: count them alone
            total = int(
                db.one(
                    """SELECT count(*) FROM (SELECT DISTINCT platform, account_a, account_b
                       FROM network_edges WHERE network = ?)""",
                    [network_id],
                )
            )
    size = int(db.one("SELECT count(*) FROM account_scores WHERE network = ?", [network_id]))
    return {
        "network": network_id,
        "nodes": nodes,
        "links": links,
        "nodes_total": size,
        "links_total": total,
    }


def charts(db: Db, network_id: int) -> Page:
    """A network's members' posts per hour of the week (UTC, Monday 00h first) and their
    accounts' creation days (binned to at most MAX_BINS bars)."""
    _network_row(db, network_id)
    members_sql = "SELECT platform, account_id FROM account_scores WHERE network = ?"
    hours = [0] * HOURS_OF_WEEK
    for slot, count in db.rows(
        f"""SELECT (isodow(created_at) - 1) * 24 + hour(created_at), count(*) FROM {KEYS}
            WHERE created_at IS NOT NULL AND aid IN (
                SELECT aid FROM {ACCOUNTS} WHERE (platform, account_id) IN ({members_sql}))
            GROUP BY 1""",
        [network_id],
    ):
        hours[int(slot)] = int(count)
    days = db.rows(
        f"""SELECT CAST(created_at AS DATE) AS day, count(DISTINCT account_id) FROM accounts
            WHERE created_at IS NOT NULL AND (platform, account_id) IN ({members_sql})
            GROUP BY 1 ORDER BY 1""",
        [network_id],
    )
    return {"network": network_id, "hours_utc": hours, "created": _bins(days)}


def _bins(days: list[tuple[Any, Any]]) -> Page:
    """Counts per day as at most MAX_BINS bars of `days` days each, from `start`."""
    if not days:
        return {"start": None, "days": 1, "counts": []}
    first: date = days[0][0]
    last: date = days[-1][0]
    width = max(1, math.ceil(((last - first).days + 1) / MAX_BINS))
    counts = [0] * (((last - first).days // width) + 1)
    for day, count in days:
        counts[(day - first).days // width] += int(count)
    return {"start": first.isoformat(), "days": width, "counts": counts}


# -- one account --------------------------------------------------------------------------


def account(db: Db, platform: str, account_id: str, paging: Paging) -> Page:
    """An account: its profile, score, signals, evidence, partners, posts per day and a
    page of its posts, latest first."""
    profile = db.dicts(
        """SELECT platform, account_id, any_value(handle) AS handle,
                  any_value(display_name) AS display_name, any_value(bio) AS bio,
                  any_value(location) AS location, min(created_at) AS created_at,
                  max(followers) AS followers, max(following) AS following,
                  any_value(lang) AS lang
           FROM accounts WHERE platform = ? AND account_id = ? GROUP BY ALL LIMIT 1""",
        [platform, account_id],
    )
    score = None
    if "account_scores" in db.tables:
        scores = db.dicts(
            """SELECT network, score, partners, traces, identity_signals, handle
               FROM account_scores WHERE platform = ? AND account_id = ? LIMIT 1""",
            [platform, account_id],
        )
        if scores:
            score = scores[0]
            score["score"] = _number(score["score"])
            score["network_url"] = network_url(score["network"])
    if not profile and score is None:
        raise NotFound(f"no account {account_id!r} on {platform!r} in this case.")
    days, total, posts = _posts(db, platform, account_id, paging)
    for p in posts:
        p["ref_url"] = (
            account_url(platform, p["ref_account_id"]) if p["ref_account_id"] is not None else None
        )
    return {
        "account": profile[0] if profile else {"platform": platform, "account_id": account_id},
        "score": score,
        "signals": _signals(db, platform, account_id),
        "evidence": _evidence(db, platform, account_id),
        "partners": _partners(db, platform, account_id),
        "timeline": _bins(days),
        "posts": _paged(total, paging, posts),
    }


def _posts(
    db: Db, platform: str, account_id: str, paging: Paging
) -> tuple[list[tuple[Any, Any]], int, list[dict[str, Any]]]:
    """An account's posts per day, its number of posts, and one page of them, latest
    first: found in the posts' index (index.py), the page fetched by handle."""
    found = db.rows(
        f"SELECT aid FROM {ACCOUNTS} WHERE platform = ? AND account_id = ? LIMIT 1",
        [platform, account_id],
    )
    if not found:
        return [], 0, []
    aid = found[0][0]
    days = db.rows(
        f"""SELECT CAST(created_at AS DATE), count(*) FROM {KEYS}
            WHERE aid = ? AND created_at IS NOT NULL GROUP BY 1 ORDER BY 1""",
        [aid],
    )
    total = int(db.one(f"SELECT count(*) FROM {KEYS} WHERE aid = ?", [aid]))
    rids = [
        r[0]
        for r in db.rows(
            f"""SELECT rid FROM {KEYS} WHERE aid = ?
                ORDER BY created_at DESC NULLS LAST, rid LIMIT ? OFFSET ?""",
            [aid, paging.limit, paging.offset],
        )
    ]
    rows = db.posts.fetch(db.cur, rids)
    by_rid = {r.pop("rid"): r for r in rows}
    return days, total, [by_rid[rid] for rid in rids if rid in by_rid]


def _signals(db: Db, platform: str, account_id: str) -> list[dict[str, Any]]:
    if "account_signals" not in db.tables:
        return []
    rows = db.dicts(
        """SELECT signal, value, flagged, p_value, evidence FROM account_signals
           WHERE platform = ? AND account_id = ? ORDER BY flagged DESC, signal LIMIT ?""",
        [platform, account_id, ACCOUNT_ROWS],
    )
    for r in rows:
        r["value"], r["p_value"] = _number(r["value"]), _number(r["p_value"])
    return rows


def _evidence(db: Db, platform: str, account_id: str) -> list[dict[str, Any]]:
    if "account_evidence" not in db.tables:
        return []
    rows = db.dicts(
        """SELECT rank, test, trace, partner_id, partner_handle, keys, shared, expected, log_p,
                  line
           FROM account_evidence WHERE platform = ? AND account_id = ?
           ORDER BY rank LIMIT ?""",
        [platform, account_id, ACCOUNT_ROWS],
    )
    for r in rows:
        r["partner_url"] = (
            account_url(platform, r["partner_id"]) if r["partner_id"] is not None else None
        )
        r["expected"] = _number(r["expected"])
        r["p_text"] = _p(r["log_p"])
        r["log_p"] = _number(r["log_p"])
    return rows


def _partners(db: Db, platform: str, account_id: str) -> list[dict[str, Any]]:
    """The accounts this one is linked to in its network (network_edges), most links
    first, with the tests and traces that link them."""
    if "network_edges" not in db.tables:
        return []
    rows = db.dicts(
        """WITH l AS (
               SELECT CASE WHEN account_a = ? THEN account_b ELSE account_a END AS partner_id,
                      test, trace
               FROM network_edges
               WHERE platform = ? AND (account_a = ? OR account_b = ?))
           SELECT l.partner_id AS account_id, s.handle, s.score, count(*) AS links,
                  list(DISTINCT l.test ORDER BY l.test) AS tests,
                  list(DISTINCT l.trace ORDER BY l.trace) AS traces
           FROM l LEFT JOIN account_scores s
             ON s.platform = ? AND s.account_id = l.partner_id
           GROUP BY ALL ORDER BY links DESC, s.score DESC NULLS LAST, account_id LIMIT ?""",
        [account_id, platform, account_id, account_id, platform, ACCOUNT_ROWS],
    )
    for r in rows:
        r["score"] = _number(r["score"])
        r["url"] = account_url(platform, r["account_id"])
    return rows


# -- the case -----------------------------------------------------------------------------


def case(db: Db, name: str, paging: Paging) -> Page:
    """What the case holds and where it came from: coverage, sources with their sha256,
    rejects with reasons (counted by reason, and a page of rows), each detect run's
    parameters."""
    meta = dict(db.rows("SELECT key, value FROM meta LIMIT 100"))
    coverage = db.dicts(f"SELECT * FROM {COVERAGE} ORDER BY platform LIMIT 100")
    sources = db.dicts(
        """SELECT source_id, path, sha256, size_bytes, format, reader_version, options,
                  tool_version, ingested_at, read, stored, duplicate, rejected, accounts_new
           FROM sources ORDER BY source_id LIMIT 1000"""
    )
    reasons = db.dicts(
        """SELECT file, field, reason, count(*) AS rows FROM rejects
           GROUP BY ALL ORDER BY rows DESC, file, field, reason LIMIT 100"""
    )
    total = int(db.one("SELECT count(*) FROM rejects"))
    rejects = db.dicts(
        """SELECT file, line, field, reason, raw FROM rejects
           ORDER BY source_id, line NULLS LAST LIMIT ? OFFSET ?""",
        [paging.limit, paging.offset],
    )
    runs = []
    if "detect_runs" in db.tables:
        for run_at, version, params in db.rows(
            "SELECT run_at, version, params FROM detect_runs ORDER BY run_at DESC LIMIT 100"
        ):
            runs.append({"run_at": run_at, "version": version, "params": _parsed(params)})
    networks_total = int(db.one("SELECT count(*) FROM networks")) if db.detected else 0
    return {
        "name": name,
        "schema_version": meta.get("schema_version"),
        "created_with": meta.get("created_with"),
        "coverage": coverage,
        "sources": sources,
        "rejects": {"by_reason": reasons, **_paged(total, paging, rejects)},
        "detect_runs": runs,
        "networks": networks_total,
    }


def _parsed(params: object) -> object:
    """A run's parameters as JSON, or the text as stored if it is not JSON."""
    try:
        return json.loads(str(params or "{}"))
    except json.JSONDecodeError:
        return str(params)


def json_default(value: object) -> object:
    """What orjson cannot write itself (dates are written by orjson; a timedelta is not)."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
