"""Networks: Leiden communities of the fused graph of significant pairs.

Every significant pair of every trace is one layer of a multiplex graph; for community
detection the layers are flattened into one unweighted graph: two accounts are linked if
any trace found their pair significant. Significance is the evidence; how far a p-value
is beyond the threshold is not structure. Weighting by -log10 p let strong but local
evidence carve up a farm: a 150-member farm whose English, Farsi and Arabic desks share
copy-pasted text only within a desk (p near 1e-50) while every member co-reposted with
every other (p near 1e-6) came out as three networks, by desk.

Leiden optimises modularity with a resolution of 0.5 (leidenalg's RBConfiguration
partition), run several times with consecutive seeds, the partition of highest quality
kept, so a run is reproducible from its seed. Why not the classic resolution 1: when one
network holds most of the graph's edges (the usual case: a farm among a few small
groups), its own degrees make modularity's null expect most of its internal links, and
a farm whose members are linked at density 0.45 (stealth 2) was cut in two (ARI 0.52
against the planted farms); at 0.5 it stays whole (ARI 1.0), and no two planted groups
merge on the simulator at any stealth level. The constant Potts model was tried too: it
cut the sparser authentic communities into many small pieces.

A network's own p-value combines the p-values of the tested pairs inside it with Simes'
method (valid for the positively dependent tests that pairs sharing accounts give). Pairs
that met on one key only are tested with p = 1 and not stored, so m is taken as every
pair of members in every trace tested: an upper bound, which errs towards larger p.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Partition:
    """Networks over the accounts of the significant pairs: `members[i]` = (platform,
    account_id) of vertex i and `network[i]` its network number (0 = largest)."""

    platforms: list[str]
    accounts: list[str]
    network: np.ndarray


def fused_pairs(significant: pa.Table) -> pa.Table:
    """(platform, account_a, account_b, traces): one row per pair significant in any trace."""
    grouped = significant.group_by(["platform", "account_a", "account_b"]).aggregate(
        [("trace", "distinct")]
    )
    return grouped.rename_columns(["platform", "account_a", "account_b", "traces"])


RESOLUTION = 0.5


def leiden(
    fused: pa.Table, seed: int = 1, runs: int = 5, resolution: float = RESOLUTION
) -> Partition:
    """Best of `runs` Leiden partitions (modularity at `resolution`, unweighted) of the
    fused graph."""
    platforms = fused.column("platform").to_pylist()
    a = fused.column("account_a").to_pylist()
    b = fused.column("account_b").to_pylist()
    index: dict[tuple[str, str], int] = {}
    for p, x, y in zip(platforms, a, b, strict=True):
        index.setdefault((p, x), len(index))
        index.setdefault((p, y), len(index))
    edges = [(index[(p, x)], index[(p, y)]) for p, x, y in zip(platforms, a, b, strict=True)]
    graph = ig.Graph(n=len(index), edges=edges)
    best: leidenalg.VertexPartition.MutableVertexPartition | None = None
    for run in range(max(1, runs)):
        part = leidenalg.find_partition(
            graph,
            leidenalg.RBConfigurationVertexPartition,
            resolution_parameter=resolution,
            n_iterations=-1,
            seed=seed + run,
        )
        if best is None or part.quality() > best.quality():
            best = part
    membership = np.asarray(best.membership if best is not None else [], dtype=np.int64)
    # Renumber by size (largest first), ties by the smallest vertex, so numbers are stable.
    sizes = np.bincount(membership) if len(membership) else np.array([], dtype=np.int64)
    first: dict[int, int] = {}
    for v, m in enumerate(membership.tolist()):
        first.setdefault(m, v)
    order = sorted(range(len(sizes)), key=lambda m: (-int(sizes[m]), first[m]))
    renumber = np.empty(len(sizes), dtype=np.int64)
    renumber[order] = np.arange(len(sizes))
    keys = list(index)
    return Partition(
        platforms=[k[0] for k in keys],
        accounts=[k[1] for k in keys],
        network=renumber[membership] if len(membership) else membership,
    )


def simes_log_p(log_p: np.ndarray, tests: int | None = None) -> float:
    """ln of Simes' combined p-value of the given ln p-values (0 for none). `tests`: how
    many tests there were in all, when the others (p = 1) are not listed."""
    if len(log_p) == 0:
        return 0.0
    ranked = np.sort(log_p)
    m = max(len(ranked), tests or 0)
    combined = np.log(m) + ranked - np.log(np.arange(1, len(ranked) + 1))
    return float(min(0.0, combined.min()))
