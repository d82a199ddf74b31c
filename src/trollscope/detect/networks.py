"""Networks: Leiden communities of the fused graph of significant pairs.

Every significant pair of every trace is one layer of a multiplex graph; for community
detection the layers are flattened into one weighted graph, a pair weighing its strongest
evidence, max over its traces of -log10 p (capped at WEIGHT_CAP). Not the sum: one
directive makes a farm co-repost and co-reply at once, so traces are not independent
witnesses, and summing them split a 150-member farm by the language of its copy-pasted
texts (its English, Farsi and Arabic desks share co-text only within a desk) although
every member co-reposted with every other. Leiden (leidenalg, modularity) is run several
times with consecutive seeds and the partition of highest quality kept, so a run is
reproducible from its seed.

A network's own p-value combines the p-values of the tested pairs inside it with Simes'
method (valid for the positively dependent tests that pairs sharing accounts give).
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WEIGHT_CAP = 50.0  # -log10 p counted at most this much in the fused weight
_LN10 = float(np.log(10.0))


@dataclass(frozen=True, slots=True)
class Partition:
    """Networks over the accounts of the significant pairs: `members[i]` = (platform,
    account_id) of vertex i and `network[i]` its network number (0 = largest)."""

    platforms: list[str]
    accounts: list[str]
    network: np.ndarray


def fused_weights(significant: pa.Table) -> pa.Table:
    """(platform, account_a, account_b, weight, traces) from per-trace significant pairs."""
    capped = pc.min_element_wise(
        pc.divide(pc.negate(significant.column("log_p")), _LN10), pa.scalar(WEIGHT_CAP)
    )
    table = significant.select(["platform", "account_a", "account_b", "trace"]).append_column(
        "w", capped
    )
    grouped = table.group_by(["platform", "account_a", "account_b"]).aggregate(
        [("w", "max"), ("trace", "distinct")]
    )
    return grouped.rename_columns(["platform", "account_a", "account_b", "weight", "traces"])


def leiden(fused: pa.Table, seed: int = 1, runs: int = 5) -> Partition:
    """Best of `runs` Leiden partitions (modularity, weighted) of the fused graph."""
    platforms = fused.column("platform").to_pylist()
    a = fused.column("account_a").to_pylist()
    b = fused.column("account_b").to_pylist()
    index: dict[tuple[str, str], int] = {}
    for p, x, y in zip(platforms, a, b, strict=True):
        index.setdefault((p, x), len(index))
        index.setdefault((p, y), len(index))
    edges = [(index[(p, x)], index[(p, y)]) for p, x, y in zip(platforms, a, b, strict=True)]
    graph = ig.Graph(n=len(index), edges=edges)
    weights = fused.column("weight").to_pylist()
    best: leidenalg.VertexPartition.MutableVertexPartition | None = None
    for run in range(max(1, runs)):
        part = leidenalg.find_partition(
            graph,
            leidenalg.ModularityVertexPartition,
            weights=weights,
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


def simes_log_p(log_p: np.ndarray) -> float:
    """ln of Simes' combined p-value of the given ln p-values (0 for none)."""
    if len(log_p) == 0:
        return 0.0
    ranked = np.sort(log_p)
    m = len(ranked)
    combined = np.log(m) + ranked - np.log(np.arange(1, m + 1))
    return float(min(0.0, combined.min()))
