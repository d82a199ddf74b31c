"""Join tests: two networks that act as one group, made one network.

Leiden cuts along density. A farm whose desks each copy-paste their own language's text
is dense within each desk (hundreds of copy-paste pairs) and sparser across desks (they
share only the reposts and tags they are told to push), and came out as a network per
desk: the hashtag-collected campaign at stealth 1 split its 150-member farm in three
(ARI 0.38). Two farms that push their own directives, on the same targets but at their
own times, look the same to density and to every group test (their members were created
in the same days, wear one template, push the same posts). What tells the two apart is
*when*: a farm's desks act on the same keys in the same minute, directive after
directive; two farms act on them hours apart.

So, after Leiden, each pair of networks is tested for acting together. Per trace (a
window W of seconds), a network acts on a key at the median of its members' first actions
there (two members or more, and a quarter of them or more). The null shifts one
network's actions as a whole, by one offset per period uniform within +-J (the account
tests' jitter), independently of the other network and of other periods. A period is
*met* when, on some key of the period both networks acted on, their times lie within W.
With d_k the difference of the two times on key k, the offsets that would meet in a
period are the union over its keys of [d_k - w, d_k + w] (w = W + the data's tick), so
a period meets under the null with probability

    lambda = |union of [d_k - w, d_k + w], within [-J, J]| / 2J,

exactly, given the keys' times. With K periods met, p = P(X >= K), X ~ Poisson(sum of
lambda) (Poisson's tail is at least the Poisson-binomial's at these small lambdas),
tested when K >= 2: one meeting is not repetition. Two networks whose differences spread
over hours (two farms with their own directive times) cover much of [-J, J] in each
period they share and meet by chance; desks of one farm sit at d near 0 on every key,
period after period.

Benjamini-Hochberg runs over the join tests of every trace at the detection's q; the
networks of a significant test are joined, transitively. A join adds no account: it says
that groups already found are one group. Networks are tested as Leiden left them, which
cut them apart where links were sparse: that selection goes against meeting, not for it.

Traces whose keys carry no time of action (profile, avatar) are not tested (window 0).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import ibis
import igraph as ig
import numpy as np
import pyarrow as pa

from trollscope.detect.fdr import benjamini_hochberg
from trollscope.detect.networks import by_size
from trollscope.detect.tails import poisson_log_sf
from trollscope.engine import coaction
from trollscope.inputs import Inputs
from trollscope.traces import TRACES

US = 1_000_000
MIN_MEMBERS = 2  # members on a key for a network to have a time there
# ... and at least this share of the network's members. Leiden leaves a few members of
# one farm in another's network now and then; two of them acting on their own farm's
# keys gave the host network a "time" there, in step with the other farm's network, and
# joined the farms (a 20k-post campaign at stealth 1, seed 23: ARI 0.0). A farm's desks
# act with most of their members on every directive.
MIN_SHARE = 0.25
MIN_MET = 2  # periods met for a pair of networks to be tested

MEMBERS = "ts_det_join_members"
MEMBERS_SCHEMA = ibis.schema({"platform": "string", "account_id": "string", "network": "int64"})

JOIN_TEST_SCHEMA = pa.schema(
    [
        ("trace", pa.string()),
        ("window_s", pa.float64()),
        ("platform", pa.string()),
        ("network_a", pa.int64()),  # Leiden's numbers, before the joins
        ("network_b", pa.int64()),
        ("members_a", pa.list_(pa.string())),
        ("members_b", pa.list_(pa.string())),
        ("keys", pa.int64()),  # keys both acted on
        ("periods", pa.int64()),  # periods holding such keys
        ("met", pa.int64()),  # periods where the two acted within the window
        ("expected", pa.float64()),  # periods met expected under the null
        ("log_p", pa.float64()),
    ]
)


def member_actions(trace: str, members: ibis.Table) -> ibis.Table:
    """(platform, key, network, account_id, us): each member's first action on each key
    of `trace`, from the engine's input tables narrowed to `members` (platform,
    account_id, network). A trace's `prepare` tables must still be registered."""
    found = TRACES[trace]
    i = Inputs()
    # A filter, not a semi-join: the traces join these tables again, and Ibis will not
    # join onto an unfinished join. The account id alone narrows enough; the join on
    # (platform, account_id) below is exact.
    posts = i.posts.filter(i.posts.account_id.isin(members.account_id))
    accounts = i.accounts.filter(i.accounts.account_id.isin(members.account_id))
    raw = found.rows(
        Inputs(
            posts=posts,
            accounts=accounts,
            hashtag_keys=i.hashtag_keys,
            neardup_rows=i.neardup_rows,
            avatar_rows=i.avatar_rows,
            profile_rows=i.profile_rows,
        )
    )
    rows = coaction.trace_rows(raw, found.keys_checked).join(members, ["platform", "account_id"])
    return rows.group_by("platform", "key", "network", "account_id").aggregate(us=rows.us.min())


def network_times(
    actions: pa.Table, sizes: dict[int, int]
) -> dict[tuple[str, str], dict[int, float]]:
    """{(platform, key): {network: median first action, seconds}} for networks with
    MIN_MEMBERS or more members on the key, and MIN_SHARE of their `sizes` or more."""
    grouped: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for p, k, n, us in zip(
        *(actions.column(c).to_pylist() for c in ("platform", "key", "network", "us")),
        strict=True,
    ):
        grouped[(p, k, n)].append(us)
    times: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for (p, k, n), found in grouped.items():
        if len(found) >= max(MIN_MEMBERS, MIN_SHARE * sizes[n]):
            times[(p, k)][n] = float(np.median(np.asarray(found, dtype=np.float64))) / US
    return times


def covered(centres: np.ndarray, half: float, limit: float) -> float:
    """Length of the union of [c - half, c + half] over `centres`, within [-limit, limit]."""
    ordered = np.sort(centres)
    lo = np.clip(ordered - half, -limit, limit)
    hi = np.clip(ordered + half, -limit, limit)
    total, end = 0.0, -limit
    for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
        start = max(a, end)
        if b > start:
            total += b - start
            end = b
    return total


@dataclass(frozen=True, slots=True)
class JoinTest:
    """Networks `a` < `b` of one platform: keys both acted on, the periods holding them,
    the periods met, and the periods met expected under the null."""

    platform: str
    a: int
    b: int
    keys: int
    periods: int
    met: int
    expected: float


def join_tests(
    times: dict[tuple[str, str], dict[int, float]],
    window: float,
    jitter_s: float,
    period_s: float,
    tick_s: float,
) -> list[JoinTest]:
    """One test per pair of networks that acted on a common key (see the module)."""
    by_pair: dict[tuple[str, int, int], dict[int, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (platform, _), found in times.items():
        if len(found) < 2:
            continue
        for a in found:
            for b in found:
                if a < b:
                    period = int(found[b] // period_s)
                    by_pair[(platform, a, b)][period].append(found[a] - found[b])
    half = window + tick_s
    out = []
    for (platform, a, b), periods in sorted(by_pair.items()):
        met = 0
        expected = 0.0
        for diffs in periods.values():
            d = np.asarray(diffs)
            met += bool(np.any(np.abs(d) <= window))
            expected += covered(d, half, jitter_s) / (2 * jitter_s)
        keys = sum(len(d) for d in periods.values())
        out.append(JoinTest(platform, a, b, keys, len(periods), met, expected))
    return out


def join_table(
    trace: str,
    window: float,
    tests: list[JoinTest],
    members: dict[int, list[str]],
) -> pa.Table:
    """The tests of one trace as JOIN_TEST_SCHEMA rows; pairs that met in fewer than
    MIN_MET periods get p = 1 (they are counted by the caller, not listed)."""
    kept = [t for t in tests if t.met >= MIN_MET]
    log_p = poisson_log_sf(
        np.array([t.met for t in kept], dtype=np.float64),
        np.array([t.expected for t in kept], dtype=np.float64),
    )
    return pa.table(
        {
            "trace": [trace] * len(kept),
            "window_s": [float(window)] * len(kept),
            "platform": [t.platform for t in kept],
            "network_a": [t.a for t in kept],
            "network_b": [t.b for t in kept],
            "members_a": [members[t.a] for t in kept],
            "members_b": [members[t.b] for t in kept],
            "keys": [t.keys for t in kept],
            "periods": [t.periods for t in kept],
            "met": [t.met for t in kept],
            "expected": [t.expected for t in kept],
            "log_p": np.minimum(0.0, log_p) if len(kept) else np.array([], dtype=np.float64),
        },
        schema=JOIN_TEST_SCHEMA,
    )


def decide_joins(tests: pa.Table, untested: int, q: float) -> pa.Table:
    """Benjamini-Hochberg over the join tests (and `untested` ones with p = 1) at `q`:
    the table gains `q_value` and `significant`."""
    p = np.exp(tests.column("log_p").to_numpy()) if tests.num_rows else np.array([])
    qv = benjamini_hochberg(p, tests.num_rows + untested) if tests.num_rows else p
    tests = tests.append_column("q_value", pa.array(qv, pa.float64()))
    return tests.append_column("significant", pa.array(qv <= q, pa.bool_()))


def joined_networks(network: np.ndarray, tests: pa.Table) -> np.ndarray:
    """`network` (a number per account) with the networks of each significant join test
    made one, transitively, and renumbered by size as Leiden's are (`networks.by_size`)."""
    if len(network) == 0:
        return network
    count = int(network.max()) + 1
    significant = tests.filter(tests.column("significant"))
    links = list(
        zip(
            significant.column("network_a").to_pylist(),
            significant.column("network_b").to_pylist(),
            strict=True,
        )
    )
    component = np.asarray(
        ig.Graph(n=count, edges=links).connected_components().membership, dtype=np.int64
    )
    return by_size(component[network])


def with_networks(tests: pa.Table, before: np.ndarray, after: np.ndarray) -> pa.Table:
    """`tests` with `network`: the number its first network has `after` the joins
    (`before` and `after`: a number per account)."""
    renumber = np.zeros(int(before.max()) + 1 if len(before) else 0, dtype=np.int64)
    renumber[before] = after
    first = tests.column("network_a").to_numpy()
    return tests.append_column("network", pa.array(renumber[first], pa.int64()))


def join_edges(tests: pa.Table) -> pa.Table:
    """`network_edges` rows for the significant join tests (with their final `network`):
    one link per test between the first members of its two parts, so that a drawing of
    the network shows what holds its parts together."""
    found = tests.filter(tests.column("significant"))
    firsts = list(
        zip(
            [m[0] for m in found.column("members_a").to_pylist()],
            [m[0] for m in found.column("members_b").to_pylist()],
            strict=True,
        )
    )
    return pa.table(
        {
            "network": found.column("network"),
            "platform": found.column("platform"),
            "account_a": pa.array([min(a, b) for a, b in firsts], pa.string()),
            "account_b": pa.array([max(a, b) for a, b in firsts], pa.string()),
            "test": pa.array(["join"] * found.num_rows, pa.string()),
            "trace": found.column("trace"),
        }
    )
