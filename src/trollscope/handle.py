"""The case as an object, for notebooks and scripts: `trollscope.open(path)`.

`CaseHandle` holds only the case's path. Its jobs (`ingest`, `compute_edges`, `signals`,
`detect`, `report`, `export`, ...) call the functions of `api.py` with it, so a notebook
does exactly what the command line does. Its readers (`networks`, `accounts`,
`evidence`, `edges`) return the last detection's results as pyarrow Tables (`.to_pandas()`
gives a DataFrame where pandas is installed).

Every reader opens the case read-only and closes it before returning: a notebook left
open must not hold DuckDB's lock on the file, or the command line could not write the
same case meanwhile (DuckDB lets one process write a file, and no other read it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from trollscope import api
from trollscope.case import Case, has_table
from trollscope.errors import TrollscopeError
from trollscope.model import EARLIEST_DAY

if TYPE_CHECKING:
    import pyarrow as pa

    from trollscope.features.avatars import AvatarRun
    from trollscope.report.export import ExportSummary
    from trollscope.report.render import ReportSummary
    from trollscope.signals.base import SignalParams
    from trollscope.simulate.evaluate import Evaluation

__all__ = ["CaseHandle", "open_case"]

# The tables `detect` writes that the readers need.
_DETECTION = ("networks", "account_scores", "account_evidence")


def open_case(path: Path | str, create: bool = False) -> CaseHandle:
    """A handle on the case at `path`. The file must be a case, unless `create`: then a
    missing file becomes a new, empty case (to `ingest` into)."""
    path = Path(path)
    if create and not path.exists():
        Case.open(path, create=True).close()
    # Opened once now so that a wrong path fails here, in one sentence, not at first use.
    Case.open(path, read_only=True).close()
    return CaseHandle(path)


class CaseHandle:
    """One case: its jobs as methods, its results as Arrow tables. See docs/api.md."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"CaseHandle({str(self.path)!r})"

    # -- jobs: each is one function of api.py ------------------------------------------

    def ingest(
        self,
        files: Path | str | Sequence[Path | str],
        fmt: str | None = None,
        *,
        platform: str | None = None,
        mapping: str = "",
        timezone: str | None = None,
        earliest: date = EARLIEST_DAY,
        latest: date | None = None,
        progress: api.BytesProgress | None = None,
    ) -> api.IngestResult:
        """Read `files` (one path or several) into the case; the options are the CLI's
        (`mapping` as --map takes it: "post_id=id,account_id=user,...")."""
        paths = [files] if isinstance(files, str | Path) else list(files)
        options = api.read_options(platform, mapping, timezone, earliest, latest)
        return api.ingest(self.path, paths, fmt=fmt, options=options, progress=progress)

    def info(self) -> dict[str, Any]:
        """What the case holds (`trollscope info --json`)."""
        return api.info(self.path)

    def compute_edges(
        self,
        trace: str,
        window: float | str | None = None,
        out: Path | str | None = None,
        **options: Any,
    ) -> api.EdgesRun:
        """One trace's co-action edges into the case (`trollscope edges`): `window` in
        seconds, None for the trace's own, "auto" to estimate it; `options` are
        `api.edges`'s (max_burst, engine, memory_limit, exact_csv, rule). Read them back
        with `edges(trace)`."""
        return api.edges(self.path, trace, window, out, **options)

    def signals(
        self, names: Sequence[str] = (), params: SignalParams | None = None
    ) -> dict[str, int]:
        """Account signals (all when `names` is empty) into the case; flagged per signal."""
        return api.signals(self.path, list(names) or None, params)

    def avatars(self, folder: Path | str | None = None) -> AvatarRun:
        """Hash the case's profile pictures (`trollscope avatars`)."""
        return api.avatars(self.path, folder)

    def detect(
        self,
        params: api.DetectParams | None = None,
        progress: api.StageProgress | None = None,
        **changes: Any,
    ) -> api.Detection:
        """Detect networks (`trollscope detect`). `changes` set fields of `params` (or of
        the defaults) by name: `case.detect(q=0.05, traces=["co-repost"])`."""
        return api.detect(self.path, _params(params, changes), progress)

    def report(self, out: Path | str, max_members: int = 200) -> ReportSummary:
        """The HTML report of the last detection, written to `out`."""
        return api.report(self.path, out, max_members=max_members)

    def export(
        self, out: Path | str, fmt: str, what: str = "networks", exact: bool = False
    ) -> ExportSummary:
        """The last detection as a graph or tables (`trollscope export`)."""
        return api.export(self.path, out, fmt, what=what, exact=exact)

    def evaluate(self, labels: Path | str) -> Evaluation:
        """The last detection scored against ground-truth labels (a simulation's)."""
        return api.evaluate(labels, case=self.path)

    # -- readers: read-only, the case closed again before they return ------------------

    def networks(self) -> pa.Table:
        """One row per network of the last detection, strongest first: network (its id,
        the rank), size, pairs, density, log10_p, inauthentic, verdict, traces, found_by
        ("burst tests (co-text)", ...), signals (the identity signals' shares), hashtags,
        amplified and attacked (handles, else ids), languages."""
        return self._read(
            """SELECT rank AS network, size, pairs, density, log_p / ln(10) AS log10_p,
                      inauthentic, verdict,
                      [t.trace FOR t IN traces] AS traces,
                      [f.test || ' tests (' || f.trace || ')' FOR f IN found_by] AS found_by,
                      signals,
                      [h.tag FOR h IN hashtags] AS hashtags,
                      [coalesce(a.handle, a.account_id) FOR a IN amplified] AS amplified,
                      [coalesce(a.handle, a.account_id) FOR a IN attacked] AS attacked,
                      [x.lang FOR x IN languages] AS languages
               FROM networks ORDER BY rank"""
        )

    def accounts(self, network: int | None = None) -> pa.Table:
        """The accounts in networks (all, or one network's), by network and score: network,
        platform, account_id, handle, score, partners, traces, identity_signals, the
        network's inauthentic and verdict, and evidence (the account's first line)."""
        where = "" if network is None else "WHERE s.network = ?"
        return self._read(
            f"""SELECT s.network, s.platform, s.account_id, s.handle, s.score, s.partners,
                       s.traces, s.identity_signals, n.inauthentic, n.verdict,
                       e.line AS evidence
                FROM account_scores s
                JOIN networks n USING (network)
                LEFT JOIN account_evidence e
                    ON e.platform = s.platform AND e.account_id = s.account_id AND e.rank = 1
                {where}
                ORDER BY s.network, s.score DESC, s.platform, s.account_id""",
            [] if network is None else [network],
            check=None if network is None else lambda con: _require_network(con, network),
        )

    def evidence(self, account_id: str, platform: str | None = None) -> pa.Table:
        """Why an account is in its network, strongest first: one row per test that links
        it (rank, test, trace, partner_id, partner_handle, keys, shared, expected,
        log10_p) with the evidence in words (`line`)."""
        where = "account_id = ?" + ("" if platform is None else " AND platform = ?")
        args = [account_id] if platform is None else [account_id, platform]
        return self._read(
            f"""SELECT platform, account_id, rank, test, trace, partner_id, partner_handle,
                       keys, shared, expected, log_p / ln(10) AS log10_p, line
                FROM account_evidence WHERE {where}
                ORDER BY platform, rank""",
            args,
            check=lambda con: _require_member(con, self.path, account_id, platform),
        )

    def threshold(self) -> pa.Table:
        """The networks of the last detection's peer threshold (`case.detect(
        min_participation=2)`), one row per member, largest network first: network (T1 = 1),
        trace, window_s, platform, account_id, the network's accounts, pairs,
        pairs_by_chance and chance_share (docs/significance.md, "A peer's threshold in
        detect"), and tested_network, the rank of the tested network the member is in."""
        return self._read(
            """SELECT t.network, t.trace, t.window_s, m.platform, m.account_id, t.accounts,
                      t.pairs, t.pairs_by_chance, t.chance_share, s.network AS tested_network
               FROM threshold_members m
               JOIN threshold_networks t USING (network)
               LEFT JOIN account_scores s USING (platform, account_id)
               ORDER BY t.network, m.platform, m.account_id""",
            check=lambda con: _require_threshold(con, self.path),
        )

    def edges(self, trace: str | None = None, limit: int | None = None) -> pa.Table:
        """The co-action edges the case holds (one trace's, or all), most co-actions first
        within each trace: the view `edges` (trace, window_s, platform, account_a,
        account_b, coactions, keys, score, median_delay, evidence, evidence_total).
        `limit`: at most that many rows (a large case holds hundreds of millions)."""
        where = "" if trace is None else "WHERE trace = ?"
        bound = "" if limit is None else f"LIMIT {int(limit)}"
        with Case.open(self.path, read_only=True) as case:
            if not has_table(case.con, "edges"):
                raise TrollscopeError(
                    f"{self.path} holds no edges: compute them with "
                    f"case.compute_edges(trace) or case.detect()."
                )
            if trace is not None:
                _require_trace(case.con, self.path, trace)
            return case.con.sql(
                f"""SELECT * FROM edges {where}
                    ORDER BY trace, coactions DESC, score DESC, platform, account_a, account_b
                    {bound}""",
                params=[] if trace is None else [trace],
            ).to_arrow_table()

    def _read(
        self,
        sql: str,
        args: Sequence[object] = (),
        check: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    ) -> pa.Table:
        """A query's rows from the last detection, the case open only meanwhile."""
        with Case.open(self.path, read_only=True) as case:
            missing = [t for t in _DETECTION if not has_table(case.con, t)]
            if missing:
                raise TrollscopeError(
                    f"{self.path} has no detection yet (no {', '.join(missing)} table): "
                    f"run case.detect() (or `trollscope detect {self.path}`) first."
                )
            if check is not None:
                check(case.con)
            return case.con.sql(sql, params=list(args)).to_arrow_table()


def _require_threshold(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    if not has_table(con, "threshold_networks"):
        raise TrollscopeError(
            f"{path}'s last detection ran no peer threshold: run "
            "case.detect(min_participation=2) (or min_weight=N) first."
        )


def _params(params: api.DetectParams | None, changes: dict[str, Any]) -> api.DetectParams:
    """`params` (or the defaults) with the fields named in `changes` set."""
    base = params if params is not None else api.DetectParams()
    known = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TrollscopeError(
            f"detect has no option {', '.join(map(repr, unknown))}: "
            f"the options are {', '.join(sorted(known))}."
        )
    if "traces" in changes:  # a list is the natural way to write it in a notebook
        changes = {**changes, "traces": tuple(changes["traces"])}
    return dataclasses.replace(base, **changes)


def _require_network(con: duckdb.DuckDBPyConnection, network: int) -> None:
    found = [int(n) for (n,) in con.execute("SELECT rank FROM networks ORDER BY rank").fetchall()]
    if network not in found:
        held = f"1 to {len(found)}" if found else "none"
        raise TrollscopeError(
            f"the last detection has no network {network}: its networks are {held}."
        )


def _require_member(
    con: duckdb.DuckDBPyConnection, path: Path, account_id: str, platform: str | None
) -> None:
    """An account outside every network has no evidence: say so rather than return an
    empty table that looks like an answer (a handle given for an id is named)."""
    # fetchall, not fetchone: a result left unfinished blocks the connection's next query.
    found = con.execute(
        "SELECT count(*) FROM account_scores WHERE account_id = ?"
        + ("" if platform is None else " AND platform = ?"),
        [account_id] if platform is None else [account_id, platform],
    ).fetchall()
    if found[0][0]:
        return
    by_handle = con.execute(
        "SELECT min(account_id) FROM account_scores WHERE handle = ?", [account_id]
    ).fetchall()[0][0]
    hint = (
        f"; {account_id!r} is the handle of account {by_handle!r}, give its id"
        if by_handle is not None
        else "; case.accounts() lists those that are"
    )
    raise TrollscopeError(
        f"account {account_id!r} is in no network of {path}'s last detection{hint}."
    )


def _require_trace(con: duckdb.DuckDBPyConnection, path: Path, trace: str) -> None:
    """A trace never computed is an error, not an empty table (one computed with no edges
    is an empty table)."""
    if not has_table(con, "edge_traces"):
        return  # a case of the older layout: it lists no traces apart from its edges
    rows = con.execute("SELECT trace FROM edge_traces ORDER BY trace").fetchall()
    held = [str(t) for (t,) in rows]
    if trace not in held:
        raise TrollscopeError(
            f"{path} holds no edges of trace {trace!r} (it holds: {', '.join(held) or 'none'}): "
            f"compute them with case.compute_edges({trace!r})."
        )
