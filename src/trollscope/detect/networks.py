"""Networks: Leiden communities of the fused graph of what the tests found.

Three kinds of link tie accounts together (`Links`):
- a significant pair, of any trace;
- a co-action (within the window, on any key) between two accounts that are each
  significant in the same trace's account tests;
- a significant burst or cohort: its members, tied through a node of their own (a star),
  removed after the partition, so that a thousand accounts posting one text within a
  minute weigh as one group, not half a million pairs.

For community detection the layers are flattened into one unweighted graph: two accounts
are linked if any test found them together. Significance is the evidence; how far a
p-value is beyond the threshold is not structure. Weighting by -log10 p let strong but
local evidence carve up a farm: a 150-member farm whose English, Farsi and Arabic desks
share copy-pasted text only within a desk (p near 1e-50) while every member co-reposted
with every other (p near 1e-6) came out as three networks, by desk.

Leiden optimises modularity with a resolution of 0.5 (leidenalg's RBConfiguration
partition), run several times with consecutive seeds, the partition of highest quality
kept, so a run is reproducible from its seed. Why not the classic resolution 1: when one
network holds most of the graph's edges (the usual case: a farm among a few small
groups), its own degrees make modularity's null expect most of its internal links, and
a farm whose members are linked at density 0.45 (stealth 2) was cut in two (ARI 0.52
against the planted farms); at 0.5 it stays whole (ARI 1.0), and no two planted groups
merge on the simulator at any stealth level. The constant Potts model was tried too: it
cut the sparser authentic communities into many small pieces.

A network's own p-value combines the p-values of the tests inside it (its pairs, its
members' account tests, the bursts and cohorts most of whose members it holds) with
Simes' method
(valid for the positively dependent tests that pairs sharing accounts give). Pairs that
met on one key only are tested with p = 1 and not stored, so m is taken as every pair of
members in every trace tested, plus every member's account test in every trace, plus the
bursts: an upper bound, which errs towards larger p.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import duckdb
import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa

RESOLUTION = 0.5


@dataclass(frozen=True, slots=True)
class Links:
    """What ties accounts into networks: `pairs` and `accounts` are (platform, account_a,
    account_b, trace) rows, `bursts` (platform, trace, key, members) and `cohorts`
    (platform, trace, cohort, members) rows."""

    pairs: pa.Table
    accounts: pa.Table
    bursts: pa.Table
    cohorts: pa.Table

    def groups(self) -> list[tuple[str, str, str, list[str]]]:
        """(test, platform, trace, members) of every burst and cohort."""
        found = []
        for test, table in (("burst", self.bursts), ("cohort", self.cohorts)):
            for p, t, members in zip(
                *(table.column(c).to_pylist() for c in ("platform", "trace", "members")),
                strict=True,
            ):
                found.append((test, p, t, list(members)))
        return found


@dataclass(frozen=True, slots=True)
class Partition:
    """Networks over the linked accounts: vertex i is (platforms[i], accounts[i]) and
    `network[i]` its network number (0 = largest)."""

    platforms: list[str]
    accounts: list[str]
    network: np.ndarray

    def members(self) -> pa.Table:
        return pa.table(
            {
                "platform": pa.array(self.platforms, pa.string()),
                "account_id": pa.array(self.accounts, pa.string()),
                "network": pa.array(self.network, pa.int64()),
            }
        )

    def edges(self, links: Links) -> pa.Table:
        """The links inside networks, as `network_edges` rows: (network, platform,
        account_a, account_b, test, trace); a burst's members are listed pairwise along a
        chain in member order (enough to draw and count them, not a clique)."""
        where = {
            (p, a): int(n)
            for p, a, n in zip(self.platforms, self.accounts, self.network.tolist(), strict=True)
        }
        rows: dict[str, list[object]] = {
            k: [] for k in ("network", "platform", "account_a", "account_b", "test", "trace")
        }

        def add(p: str, a: str, b: str, test: str, trace: str) -> None:
            n = where.get((p, a))
            if n is None or where.get((p, b)) != n:
                return
            for key, value in zip(rows, (n, p, a, b, test, trace), strict=True):
                rows[key].append(value)

        for test, table in (("pair", links.pairs), ("account", links.accounts)):
            for p, a, b, t in zip(
                *(table.column(c).to_pylist() for c in ("platform", "account_a", "account_b")),
                table.column("trace").to_pylist(),
                strict=True,
            ):
                add(p, a, b, test, t)
        for test, p, t, members in links.groups():
            for a, b in itertools.pairwise(members):
                add(p, a, b, test, t)
        return pa.table(
            {
                "network": pa.array(rows["network"], pa.int64()),
                **{k: pa.array(rows[k], pa.string()) for k in list(rows)[1:]},
            }
        )


def leiden(links: Links, seed: int = 1, runs: int = 5, resolution: float = RESOLUTION) -> Partition:
    """Best of `runs` Leiden partitions (modularity at `resolution`, unweighted) of the
    graph of all links; a burst's members are tied through a node of their own."""
    # Vertices are numbered in sorted order, whatever order the tests' rows came in:
    # Leiden's result for a seed depends on the numbering.
    pairs = sorted(
        {
            (p, min(a, b), max(a, b))
            for table in (links.pairs, links.accounts)
            for p, a, b in zip(
                *(table.column(c).to_pylist() for c in ("platform", "account_a", "account_b")),
                strict=True,
            )
        }
    )
    groups = sorted((p, sorted(members)) for _, p, _, members in links.groups())
    accounts = sorted(
        {(p, a) for p, a, _ in pairs}
        | {(p, b) for p, _, b in pairs}
        | {(p, m) for p, members in groups for m in members}
    )
    index = {key: i for i, key in enumerate(accounts)}
    edges = {(index[(p, a)], index[(p, b)]) for p, a, b in pairs}
    hubs = [[index[(p, m)] for m in members] for p, members in groups]
    n_accounts = len(index)
    graph_edges = sorted(edges)
    for h, members in enumerate(hubs):
        graph_edges += [(n_accounts + h, v) for v in members]
    graph = ig.Graph(n=n_accounts + len(hubs), edges=graph_edges)
    found = best_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        seed,
        runs,
        resolution_parameter=resolution,
    )
    membership = np.asarray(found, dtype=np.int64)
    membership = membership[:n_accounts]  # the burst nodes are not accounts
    keys = list(index)
    return Partition(
        platforms=[k[0] for k in keys],
        accounts=[k[1] for k in keys],
        network=by_size(membership),
    )


def best_partition(
    graph: ig.Graph, kind: type, seed: int, runs: int, **options: object
) -> list[int]:
    """The membership of the best of `runs` Leiden partitions of `graph` (`kind`, with
    `options`), run to convergence with seeds seed, seed + 1, ...: reproducible from
    `seed`."""
    best = None
    for run in range(max(1, runs)):
        part = leidenalg.find_partition(graph, kind, n_iterations=-1, seed=seed + run, **options)
        if best is None or part.quality() > best.quality():
            best = part
    return list(best.membership) if best is not None else []


def by_size(membership: np.ndarray) -> np.ndarray:
    """`membership` (a label per account) renumbered 0, 1, ... by size, largest first,
    ties by the smallest account index, so that numbers are stable."""
    if len(membership) == 0:
        return np.asarray(membership, dtype=np.int64)
    labels, inverse = np.unique(membership, return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(labels))
    first = np.full(len(labels), len(inverse), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse)))
    order = sorted(range(len(labels)), key=lambda m: (-int(sizes[m]), int(first[m])))
    renumber = np.empty(len(labels), dtype=np.int64)
    renumber[order] = np.arange(len(labels))
    result: np.ndarray = renumber[inverse]
    return result


def simes_log_p(log_p: np.ndarray, tests: int | None = None) -> float:
    """ln of Simes' combined p-value of the given ln p-values (0 for none). `tests`: how
    many tests there were in all, when the others (p = 1) are not listed."""
    if len(log_p) == 0:
        return 0.0
    ranked = np.sort(log_p)
    m = max(len(ranked), tests or 0)
    combined = np.log(m) + ranked - np.log(np.arange(1, len(ranked) + 1))
    return float(min(0.0, combined.min()))


def network_log_p(
    con: duckdb.DuckDBPyConnection,
    members: pa.Table,
    pairs: pa.Table,
    accounts: pa.Table,
    bursts: pa.Table,
    cohorts: pa.Table,
    traces: int,
) -> dict[int, float]:
    """Simes' combination of the tests inside each network (see the module docstring)."""
    con.register("ts_det_m", members)
    con.register("ts_det_pt", pairs.select(["platform", "account_a", "account_b", "log_p"]))
    con.register("ts_det_at", accounts.select(["platform", "account_id", "log_p"]))
    con.register(
        "ts_det_bt",
        pa.concat_tables([t.select(["platform", "members", "log_p"]) for t in (bursts, cohorts)]),
    )
    try:
        rows = con.sql(
            """SELECT network, list(log_p) FROM (
                   SELECT ma.network, t.log_p FROM ts_det_pt t
                   JOIN ts_det_m ma ON ma.platform = t.platform AND ma.account_id = t.account_a
                   JOIN ts_det_m mb ON mb.platform = t.platform AND mb.account_id = t.account_b
                   WHERE ma.network = mb.network
                   UNION ALL
                   SELECT m.network, t.log_p
                   FROM ts_det_at t JOIN ts_det_m m USING (platform, account_id)
                   UNION ALL
                   SELECT network, log_p FROM (
                       SELECT m.network, b.bid, b.log_p, b.size, count(*) AS inside
                       FROM (SELECT row_number() OVER () AS bid, platform, log_p,
                                    len(members) AS size, unnest(members) AS account_id
                             FROM ts_det_bt) b
                       JOIN ts_det_m m USING (platform, account_id)
                       GROUP BY ALL)
                   WHERE 2 * inside > size)
               GROUP BY network"""
        ).fetchall()
    finally:
        for name in ("ts_det_m", "ts_det_pt", "ts_det_at", "ts_det_bt"):
            con.unregister(name)
    inside = {int(n): np.asarray(v, dtype=np.float64) for n, v in rows}
    sizes = Counter(members.column("network").to_pylist())
    # m: every pair and member in every trace, plus what is listed (the bursts among it).
    return {
        int(n): simes_log_p(
            inside.get(n, np.array([])),
            traces * (size * (size - 1) // 2 + size) + len(inside.get(n, ())),
        )
        for n, size in sorted(sizes.items())
    }
