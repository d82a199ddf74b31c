"""Cohort groups: the significant cohorts of a trace, joined where they burst together
and split where they do not, before they become stars in the graph Leiden partitions.

Joined: a farm created in four bursts is four cohorts, each significant alone; pushing
the same posts in the same minutes makes them one group. Split: a cohort is a trait
(created in the same days, one bio template), and two farms made together share it; its
members that burst on one farm's keys and those that burst on the other's are two groups,
or its star ties the farms into one network (a 20k-post campaign at stealth 1, seeds 23
and 26: ARI 0.96 and 0.0 before, 1.0 after). Cut: two farms that push the same posts
share a few bursts, which link them into one part; the part is cut where each side
bursts without the other, again and again (`_apart`).
"""

from __future__ import annotations

import itertools
from collections import Counter

import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.sparse import csgraph

from trollscope.detect.cohorts import STRONG_SCHEMA, WIDE_COHORTS
from trollscope.detect.networks import best_partition


def joint_cohorts(cohorts: pa.Table, strong: list[pa.Table]) -> pa.Table:
    """The significant `cohorts` (platform, trace, cohort, members), those of one trace
    that burst at overlapping times on two keys or more (each key strong for both), and
    on more than half of the larger one's strong keys, joined into one group,
    transitively. A farm created in four bursts is four cohorts, each significant alone;
    pushing the same posts in the same minutes makes them one network. The majority
    keeps a profile template that two farms share (it bursts with each on that farm's
    keys, half its own) from bridging them. (Alone, each cohort's star stood apart: the
    small campaign's stealth-2 farms came out as a network per creation burst. A star
    for each joined two, beside the cohorts' own, still let Leiden cut along the
    cohorts. Linking the cohorts' members through any repeated co-action merged two
    farms that only shared camouflage.) Each group is then split into the members that
    burst together (`_bursting_together`): one row per part."""
    names = ("platform", "trace", "cohort", "members")
    found = {
        (t, p, c): list(m)
        for p, t, c, m in zip(*(cohorts.column(n).to_pylist() for n in names), strict=True)
    }
    bursts: dict[tuple[str, str, str], list[tuple[int, int, str]]] = {}
    inside: dict[tuple[str, str, str], list[tuple[str, int, int, list[str]]]] = {}
    for table in strong:
        for t, p, c, k, start, end, burst in zip(
            *(table.column(n).to_pylist() for n in STRONG_SCHEMA.names), strict=True
        ):
            if (t, p, c) in found:
                bursts.setdefault((t, p, k), []).append((start, end, c))
                inside.setdefault((t, p, c), []).append((k, start, end, list(burst or [])))
    strong_keys = Counter(
        (t, p, c) for (t, p, _), found_on in bursts.items() for _, _, c in found_on
    )
    shared: dict[tuple[str, str, str, str], set[str]] = {}
    for (t, p, k), found_on in bursts.items():
        for (s1, e1, c1), (s2, e2, c2) in itertools.combinations(sorted(found_on), 2):
            if c1 != c2 and s1 <= e2 and s2 <= e1:
                shared.setdefault((t, p, min(c1, c2), max(c1, c2)), set()).add(k)
    order = sorted(found)
    index = {key: i for i, key in enumerate(order)}
    links = [
        (index[(t, p, a)], index[(t, p, b)])
        for (t, p, a, b), keys in sorted(shared.items())
        if len(keys) >= 2 and len(keys) > max(strong_keys[(t, p, a)], strong_keys[(t, p, b)]) / 2
    ]
    parts = []
    for component in ig.Graph(n=len(order), edges=links).connected_components():
        group = [order[i] for i in sorted(component)]
        members = sorted({m for key in group for m in found[key]})
        name = " + ".join(c for _, _, c in group)
        events = _events([b for key in group for b in inside.get(key, [])])
        for part in _bursting_together(members, events):
            inside_part = set(part)
            count = Counter(m for burst in events for m in burst if m in inside_part)
            parts.append((group[0][1], group[0][0], name, count))
    rows = [(p, t, name, members) for p, t, name, members in _where_most(parts)]
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)}).cast(
        cohorts.schema
    )


def _where_most(
    parts: list[tuple[str, str, str, Counter[str]]],
) -> list[tuple[str, str, str, list[str]]]:
    """Each part (platform, trace, name, burst events per member) keeps the members that
    burst in it at least as often as in any other part of the trace; parts of two or more.
    Two farms that push the same tags in the same quarter hour share a few burst events:
    a member of the smaller farm sits in the larger farm's part through them, and in its
    own farm's part through many more; in both stars, Leiden put it with either (a
    hashtag-collected campaign at stealth 2, seed 11: 9 of the 60-member farm in the
    150-member farm's network)."""
    best: dict[tuple[str, str, str], int] = {}
    for p, t, _, count in parts:
        for m, n in count.items():
            best[(p, t, m)] = max(best.get((p, t, m), 0), n)
    out = []
    for p, t, name, count in parts:
        kept = sorted(m for m, n in count.items() if n >= best[(p, t, m)])
        if len(kept) >= 2:
            out.append((p, t, name, kept))
    return out


def _events(bursts: list[tuple[str, int, int, list[str]]]) -> list[list[str]]:
    """The members of each burst event: the densest windows of a group's cohorts on one key
    that overlap in time, as one (cohorts of one farm burst together; each lists only its
    own members)."""
    by_key: dict[str, list[tuple[int, int, list[str]]]] = {}
    for k, start, end, members in bursts:
        by_key.setdefault(k, []).append((start, end, members))
    events = []
    for _, windows in sorted(by_key.items()):
        windows.sort(key=lambda w: (w[0], w[1]))
        current: set[str] = set()
        until = None
        for start, end, members in windows:
            if until is not None and start > until:
                events.append(sorted(current))
                current = set()
                until = None
            current.update(members)
            until = end if until is None else max(until, end)
        if current:
            events.append(sorted(current))
    return events


def _bursting_together(members: list[str], bursts: list[list[str]]) -> list[list[str]]:
    """`members` split into the groups that burst together: two members are linked when
    both lie in two burst events or more (`_events`); each connected part is then cut
    where it holds groups that burst apart (`_apart`); parts of two or more. Members that
    burst with nobody twice are left out: a star of one ties nothing. (Linked by one
    event, the two farms of a 20k-post campaign at stealth 1 stayed apart too, but a
    stealth-2 farm's creation bursts, each in its own windows, were not linked across
    cohorts until the overlapping windows of a key were made one event.)"""
    if not members:
        return []
    index = {m: i for i, m in enumerate(members)}
    rows, cols = [], []
    for j, burst in enumerate(bursts):
        for m in burst:
            if m in index:
                rows.append(index[m])
                cols.append(j)
    incidence = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(members), max(1, len(bursts)))
    )
    together = sparse.triu(incidence @ incidence.T, k=1).tocoo()
    linked = together.data >= 2
    a, b, shared = together.row[linked], together.col[linked], together.data[linked]
    graph = sparse.coo_matrix((shared, (a, b)), shape=(len(members),) * 2)
    count, labels = csgraph.connected_components(graph, directed=False)
    links: list[list[tuple[int, int, float]]] = [[] for _ in range(count)]
    for i, j, w in zip(a.tolist(), b.tolist(), shared.tolist(), strict=True):
        links[labels[i]].append((i, j, w))
    parts: list[list[int]] = []
    for label, component in enumerate(_labelled(labels, count)):
        if len(component) >= 2:
            parts += _apart(component, links[label], incidence)
    return [[members[i] for i in part] for part in sorted(parts) if len(part) >= 2]


def _labelled(labels: np.ndarray, count: int) -> list[list[int]]:
    """Indices grouped by label (0 .. count - 1)."""
    groups: list[list[int]] = [[] for _ in range(count)]
    for i, label in enumerate(labels.tolist()):
        groups[label].append(i)
    return groups


# Leiden runs on a connected part's co-burst graph; the best of a few seeded runs is kept
# so that the cut is reproducible (as for the networks, detect/networks.py).
_CUT_RUNS = 3


def _apart(
    component: list[int], links: list[tuple[int, int, float]], incidence: sparse.csr_matrix
) -> list[list[int]]:
    """`component` (member indices, connected by `links`: (a, b, burst events shared))
    cut into the groups that burst apart. Two farms that push the same posts, one of them
    now and then in the other's quarter hour, are one connected part: a few burst events
    hold members of both, and a member in two of them links the farms (a
    hashtag-collected campaign at stealth 2, seeds 11 and 19: 8 and 11 members of the
    60-member farm in the 150-member farm's network). Leiden (modularity, links weighted
    by the events shared) proposes a cut; two of its groups stay apart only when each
    bursts without the other, two members or more of it and none of the other's, in
    two events or more: repetition, as for a link. A farm's members join each event at
    random, so any cut of one farm finds both sides in nearly every event, and is
    undone."""
    if len(component) < 3:
        return [component]
    local = {v: i for i, v in enumerate(component)}
    graph = ig.Graph(n=len(component), edges=[(local[a], local[b]) for a, b, _ in links])
    weights = [w for _, _, w in links]
    label = np.asarray(
        best_partition(graph, leidenalg.ModularityVertexPartition, 0, _CUT_RUNS, weights=weights)
    )
    groups = int(label.max()) + 1
    if groups == 1:
        return [component]
    # Per burst event, the members of each group in it.
    where = np.zeros((groups, incidence.shape[1]), dtype=np.int64)
    for v, g in zip(component, label.tolist(), strict=True):
        where[g, incidence.indices[incidence.indptr[v] : incidence.indptr[v + 1]]] += 1
    bursts_in = (where >= 2).astype(np.int64)
    absent = (where == 0).astype(np.int64)
    # alone[g, h]: events where g bursts (two members or more) and h has none. Groups
    # that do not both burst alone twice are one.
    alone = bursts_in @ absent.T
    merged = sparse.coo_matrix((np.minimum(alone, alone.T) < 2).astype(np.int8))
    _, root = csgraph.connected_components(merged, directed=False)
    cut: dict[int, list[int]] = {}
    for v, g in zip(component, label.tolist(), strict=True):
        cut.setdefault(int(root[g]), []).append(v)
    return sorted(sorted(vs) for vs in cut.values())


def wide_parts(
    cohorts: pa.Table, strong: list[pa.Table], identity: pa.Table
) -> tuple[pa.Table, list[pa.Table]]:
    """The significant `cohorts` (platform, trace, cohort, members) and the `strong` keys
    (STRONG_SCHEMA), with each signal-wide cohort (`WIDE_COHORTS`) seen as its own
    cohorts: its members and its bursts' members cut by the cohort of that signal each
    belongs to (`identity`: identity_cohorts's rows). The wide cohort is the test (a
    farm's creation bursts together); its parts are what `joint_cohorts` joins and splits.
    Whole, it joined the cohorts of the larger farm and, through the keys both farms
    pushed in the same quarter hour, brought the smaller farm's members into its network
    (a hashtag-collected campaign at stealth 2, seed 11: ARI 0.847 to 0.771)."""
    wide = {name: signal for signal, name in WIDE_COHORTS.items()}
    part_of: dict[tuple[str, str, str], list[str]] = {}
    for p, a, c, s in zip(
        *(identity.column(n).to_pylist() for n in ("platform", "account_id", "cohort", "signal")),
        strict=True,
    ):
        if c not in wide:
            part_of.setdefault((p, s, a), []).append(c)

    def cut(platform: str, cohort: str, members: list[str]) -> dict[str, list[str]]:
        parts: dict[str, list[str]] = {}
        for m in members:
            for sub in part_of.get((platform, wide[cohort], m), []):
                parts.setdefault(f"{sub} | {cohort}", []).append(m)
        return parts

    names = ("platform", "trace", "cohort", "members")
    rows: dict[str, list[object]] = {n: [] for n in names}
    for p, t, c, m in zip(*(cohorts.column(n).to_pylist() for n in names), strict=True):
        for name, members in cut(p, c, m).items() if c in wide else [(c, m)]:
            for n, v in zip(names, (p, t, name, members), strict=True):
                rows[n].append(v)
    tables = []
    for table in strong:
        found: dict[str, list[object]] = {n: [] for n in STRONG_SCHEMA.names}
        for row in zip(*(table.column(n).to_pylist() for n in STRONG_SCHEMA.names), strict=True):
            t, p, c, k, start, end, members = row
            for name, inside in cut(p, c, members or []).items() if c in wide else [(c, members)]:
                for n, v in zip(
                    STRONG_SCHEMA.names, (t, p, name, k, start, end, inside), strict=True
                ):
                    found[n].append(v)
        tables.append(pa.table(found, schema=STRONG_SCHEMA))
    return pa.table(rows, schema=cohorts.schema), tables
