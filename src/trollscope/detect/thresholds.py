"""A peer's threshold inside `detect`: the networks CooRTweet's or CNT's rule gives
(`engine/peers.py`), reported beside the tested networks, never mixed with them, each
with how much of it the same rule gives on data where chance alone brings accounts
together.

A threshold keeps what co-acted often enough, whether chance explains it or not; users
arrive with a peer's network and ask whether it holds. So the rule runs again on the
account tests' own null: every account's rows shifted by one offset of its own, uniform
within +-the jitter (30 minutes by default), over a few independent draws. A farm that
acts within seconds of a directive loses its co-actions there; accounts that meet because
a post stayed popular for an hour meet about as often. Each network gets the mean number
of pairs among its members that the rule keeps on the shifted data (its *chance share*
is that over the pairs it kept), and each trace the mean size of the rule's largest
network there. The rule selects what met, on both sides alike: the comparison holds the
selection (a single pair's meeting survives a shift only by the window's share of the
jitter, coordinated or not, so pair by pair nothing would). A description, not a test
(docs/significance.md, "A peer's threshold in detect").

A network here is a connected part of one trace's kept pairs, as CooRTweet's graph of a
run is: `threshold_networks` holds one row per network, `threshold_members` its accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import igraph as ig
import numpy as np
import pyarrow as pa

from trollscope.engine import coaction, peers
from trollscope.inputs import Backend
from trollscope.peerrule import PeerRule

DRAWS = 5  # shifted draws: the figures by chance are their means
_SALT = 0x7E57  # keeps these draws apart from other seeded draws of the same run
_SHIFTS = "ts_thr_shifts"  # (aid, shift_us): one draw's offsets

_NETWORK_SCHEMA = pa.schema(
    [
        ("network", pa.int64()),
        ("trace", pa.string()),
        ("window_s", pa.float64()),
        ("accounts", pa.int64()),
        ("pairs", pa.int64()),  # pairs the rule kept
        # By chance (null for a window of 0: no timing to shift): the mean pairs among
        # its members the rule keeps on the shifted data, and that over `pairs`.
        ("pairs_by_chance", pa.float64()),
        ("chance_share", pa.float64()),
        # The trace's: pairs the rule kept, on the data and by chance, and the mean size
        # of the rule's largest network by chance.
        ("trace_pairs", pa.int64()),
        ("trace_pairs_by_chance", pa.float64()),
        ("largest_by_chance", pa.float64()),
        ("draws", pa.int64()),
        ("jitter_s", pa.float64()),
        ("in_tested", pa.int64()),  # members the tests put in a network
        ("tested_networks", pa.list_(pa.int64())),  # those networks' ranks
    ]
)
_MEMBER_SCHEMA = pa.schema(
    [("network", pa.int64()), ("platform", pa.string()), ("account_id", pa.string())]
)


@dataclass(frozen=True, slots=True)
class Chance:
    """What the rule keeps in one trace when every account is shifted (means of draws)."""

    pairs: float  # pairs kept in all
    largest: float  # accounts in the largest network
    per_part: np.ndarray  # pairs kept among each real network's members


@dataclass(frozen=True, slots=True)
class Part:
    """One connected part of a trace's kept pairs."""

    trace: str
    window_s: float
    members: list[tuple[str, str]]  # (platform, account_id), sorted
    pairs: int
    pairs_by_chance: float | None
    trace_pairs: int
    trace_pairs_by_chance: float | None
    largest_by_chance: float | None


def threshold_parts(
    engine: Backend,
    trace: str,
    window: float,
    rule: PeerRule,
    jitter_s: float,
    seed: int,
    draws: int = DRAWS,
) -> list[Part]:
    """The connected parts of the pairs `rule` keeps in the trace whose band join's
    scratch tables are on `engine`, each with what the rule keeps among its members over
    `draws` shifts of every account within +-`jitter_s`."""
    kept = engine.fetch(peers.named(peers.kept_pairs(rule)))
    if kept.num_rows == 0:
        return []
    a = kept.column("a").to_numpy().astype(np.int64)
    b = kept.column("b").to_numpy().astype(np.int64)
    aids, part = _components(a, b)
    parts = int(part.max()) + 1
    pairs = np.bincount(part[np.searchsorted(aids, a)], minlength=parts)
    names: dict[int, tuple[str, str]] = {}
    platforms = kept.column("platform").to_pylist()
    for column, ids in (("account_a", a), ("account_b", b)):
        accounts = kept.column(column).to_pylist()
        names.update(zip(ids.tolist(), zip(platforms, accounts, strict=True), strict=True))
    chance = None
    if window > 0:
        chance = _by_chance(engine, rule, aids, part, window, jitter_s, seed, draws)
    # Each part's accounts: the ids sorted by part, cut where the part changes.
    in_part = np.split(aids[np.argsort(part, kind="stable")], np.cumsum(np.bincount(part))[:-1])
    return [
        Part(
            trace,
            float(window),
            sorted(names[int(i)] for i in in_part[p]),
            int(pairs[p]),
            None if chance is None else float(chance.per_part[p]),
            len(a),
            None if chance is None else chance.pairs,
            None if chance is None else chance.largest,
        )
        for p in range(parts)
    ]


def _components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The accounts of the pairs (a, b), sorted, and each one's connected part."""
    aids, index = np.unique(np.concatenate([a, b]), return_inverse=True)
    graph = ig.Graph(n=len(aids), edges=index.reshape(2, -1).T.tolist())
    return aids, np.asarray(graph.connected_components().membership, dtype=np.int64)


def _by_chance(
    engine: Backend,
    rule: PeerRule,
    aids: np.ndarray,
    part: np.ndarray,
    window: float,
    jitter_s: float,
    seed: int,
    draws: int,
) -> Chance:
    """The rule again on the trace's rows, each account shifted by its own offset, over
    `draws` draws: the means of what it keeps."""
    everyone = engine.fetch(coaction.account_ids_table("int64").select("aid"))
    accounts = np.sort(everyone.column("aid").to_numpy().astype(np.int64))
    shifts = ibis.table({"aid": "int64", "shift_us": "int64"}, name=_SHIFTS)
    rows = coaction.id_rows_table("int64")
    moved = rows.join(shifts, "aid")
    moved = moved.select("aid", "kid", "rid", us=moved.us + moved.shift_us)
    kept = peers.kept_pairs(rule, coaction.pairs(moved, window))
    # Each account's real part (-1: in none), by account id.
    of = np.full(int(accounts.max()) + 1, -1, dtype=np.int64)
    of[aids] = part
    parts = int(part.max()) + 1
    jitter_us = round(jitter_s * 1_000_000)
    rng = np.random.default_rng([seed, _SALT])
    per_part = np.zeros(parts, dtype=np.float64)
    total = largest = 0.0
    try:
        for _ in range(draws):
            shift = rng.integers(-jitter_us, jitter_us + 1, size=len(accounts))
            engine.register(_SHIFTS, pa.table({"aid": accounts, "shift_us": shift}))
            got = engine.fetch(kept)
            a = got.column("a").to_numpy().astype(np.int64)
            b = got.column("b").to_numpy().astype(np.int64)
            total += len(a)
            if len(a):
                largest += np.bincount(_components(a, b)[1]).max()
            same = (of[a] == of[b]) & (of[a] >= 0)
            per_part += np.bincount(of[a][same], minlength=parts)
    finally:
        engine.drop(_SHIFTS)
    return Chance(total / draws, largest / draws, per_part / draws)


def threshold_networks(
    found: list[Part], tested: pa.Table, jitter_s: float, draws: int = DRAWS
) -> tuple[pa.Table, pa.Table]:
    """(threshold_networks, threshold_members) rows: every trace's parts, largest first,
    numbered from 1; `tested` (platform, account_id, network) says which members the
    tests put in a network (by rank)."""
    in_network = {
        (p, acc): int(net)
        for p, acc, net in zip(
            tested.column("platform").to_pylist(),
            tested.column("account_id").to_pylist(),
            tested.column("network").to_pylist(),
            strict=True,
        )
    }
    ordered = sorted(found, key=lambda f: (-len(f.members), f.trace, f.members[0]))
    networks: list[dict[str, object]] = []
    members: list[dict[str, object]] = []
    for number, f in enumerate(ordered, start=1):
        inside = [in_network[k] for k in f.members if k in in_network]
        share = None if f.pairs_by_chance is None else f.pairs_by_chance / f.pairs
        networks.append(
            {
                "network": number,
                "trace": f.trace,
                "window_s": f.window_s,
                "accounts": len(f.members),
                "pairs": f.pairs,
                "pairs_by_chance": f.pairs_by_chance,
                "chance_share": share,
                "trace_pairs": f.trace_pairs,
                "trace_pairs_by_chance": f.trace_pairs_by_chance,
                "largest_by_chance": f.largest_by_chance,
                "draws": draws,
                "jitter_s": float(jitter_s),
                "in_tested": len(inside),
                "tested_networks": sorted(set(inside)),
            }
        )
        members.extend(
            {"network": number, "platform": p, "account_id": acc} for p, acc in f.members
        )
    return (
        pa.Table.from_pylist(networks, schema=_NETWORK_SCHEMA),
        pa.Table.from_pylist(members, schema=_MEMBER_SCHEMA),
    )
