"""Cohort groups: the significant cohorts of a trace, joined where they burst together
and split where they do not, before they become stars in the graph Leiden partitions.

Joined: a farm created in four bursts is four cohorts, each significant alone; pushing
the same posts in the same minutes makes them one group. Split: a cohort is a trait
(created in the same days, one bio template), and two farms made together share it; its
members that burst on one farm's keys and those that burst on the other's are two groups,
or its star ties the farms into one network (a 20k-post campaign at stealth 1, seeds 23
and 26: ARI 0.96 and 0.0 before, 1.0 after).
"""

from __future__ import annotations

import itertools
from collections import Counter

import igraph as ig
import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.sparse import csgraph

from trollscope.detect.cohorts import STRONG_SCHEMA


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
    rows = []
    for component in ig.Graph(n=len(order), edges=links).connected_components():
        group = [order[i] for i in sorted(component)]
        members = sorted({m for key in group for m in found[key]})
        name = " + ".join(c for _, _, c in group)
        events = _events([b for key in group for b in inside.get(key, [])])
        for part in _bursting_together(members, events):
            rows.append((group[0][1], group[0][0], name, part))
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)}).cast(
        cohorts.schema
    )


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
    both lie in two burst events or more (`_events`); parts of two or more. Members that
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
    together = incidence @ incidence.T
    together.data = (together.data >= 2).astype(np.float64)
    together.eliminate_zeros()
    _, labels = csgraph.connected_components(together, directed=False)
    parts: dict[int, list[str]] = {}
    for m, label in zip(members, labels.tolist(), strict=True):
        parts.setdefault(label, []).append(m)
    return [p for _, p in sorted(parts.items()) if len(p) >= 2]
