"""Joining significant cohorts of one trace that burst together (detect/groups.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from trollscope.detect.cohorts import STRONG_SCHEMA, WIDE_COHORTS
from trollscope.detect.groups import joint_cohorts, wide_parts

MINUTE = 60_000_000


def _cohorts(groups: dict[str, list[str]]) -> pa.Table:
    return pa.table(
        {
            "platform": ["twitter"] * len(groups),
            "trace": ["co-repost"] * len(groups),
            "cohort": list(groups),
            "members": [sorted(m) for m in groups.values()],
        }
    )


def _strong(rows: list[tuple[str, str, int]], inside: dict[str, list[str]]) -> pa.Table:
    """(cohort, key, minute of the burst's start): bursts one minute long, with the
    cohort's members `inside` (all of them, unless given per "cohort/key")."""
    return pa.table(
        {
            "trace": ["co-repost"] * len(rows),
            "platform": ["twitter"] * len(rows),
            "cohort": [c for c, _, _ in rows],
            "key": [k for _, k, _ in rows],
            "start_us": [m * MINUTE for _, _, m in rows],
            "end_us": [(m + 1) * MINUTE for _, _, m in rows],
            "members": [inside.get(f"{c}/{k}", inside.get(c, [])) for c, k, _ in rows],
        },
        schema=STRONG_SCHEMA,
    )


def _groups(table: pa.Table) -> set[frozenset[str]]:
    return {frozenset(m) for m in table.column("members").to_pylist()}


def test_cohorts_bursting_on_most_of_their_keys_together_are_one_group() -> None:
    """Two creation bursts of one farm pushing the same three posts in the same minutes
    are one group; a third burst that met them on two keys hours apart stays apart."""
    cohorts = _cohorts({"a": ["1", "2"], "b": ["3", "4"], "c": ["5", "6"]})
    strong = _strong(
        [
            *[("a", k, m) for k, m in (("k1", 0), ("k2", 10), ("k3", 20))],
            *[("b", k, m) for k, m in (("k1", 0), ("k2", 10), ("k3", 20))],
            ("c", "k1", 300),
            ("c", "k2", 400),
        ],
        {"a": ["1", "2"], "b": ["3", "4"], "c": ["5", "6"]},
    )
    joined = joint_cohorts(cohorts, [strong])
    assert _groups(joined) == {frozenset("1234"), frozenset("56")}
    assert sorted(joined.column("cohort").to_pylist()) == ["a + b", "c"]


def test_a_cohort_straddling_two_farms_does_not_bridge_them() -> None:
    """A profile template shared by two farms bursts with each farm on its keys, half of
    its own: it joins neither, and its own star is split by who burst together (2 on
    farm1's keys, 3 on farm2's: nobody twice with the other), so it ties nothing."""
    cohorts = _cohorts({"farm1": ["1", "2"], "farm2": ["3", "4"], "template": ["2", "3"]})
    strong = _strong(
        [("farm1", f"x{i}", i) for i in range(3)]
        + [("farm2", f"y{i}", 100 + i) for i in range(3)]
        + [("template", f"x{i}", i) for i in range(3)]
        + [("template", f"y{i}", 100 + i) for i in range(3)],
        {
            "farm1": ["1", "2"],
            "farm2": ["3", "4"],
            **{f"template/x{i}": ["2"] for i in range(3)},
            **{f"template/y{i}": ["3"] for i in range(3)},
        },
    )
    joined = joint_cohorts(cohorts, [strong])
    assert _groups(joined) == {frozenset("12"), frozenset("34")}


def test_a_cohort_holding_two_farms_is_split_by_who_bursts_together() -> None:
    """Two farms created in the same days are one creation-burst cohort; its members
    that burst on the first farm's keys and those on the second's are two groups."""
    cohorts = _cohorts({"batch": ["1", "2", "3", "4"]})
    strong = _strong(
        [("batch", f"x{i}", i) for i in range(3)] + [("batch", f"y{i}", 100 + i) for i in range(3)],
        {
            **{f"batch/x{i}": ["1", "2"] for i in range(3)},
            **{f"batch/y{i}": ["3", "4"] for i in range(3)},
        },
    )
    joined = joint_cohorts(cohorts, [strong])
    assert _groups(joined) == {frozenset("12"), frozenset("34")}
    assert joined.column("cohort").to_pylist() == ["batch", "batch"]


def test_joined_cohorts_that_burst_in_the_same_windows_stay_one_group() -> None:
    """Each cohort lists only its own members in its windows; windows of two joined
    cohorts that overlap on a key are one event, so their members are linked."""
    cohorts = _cohorts({"a": ["1", "2"], "b": ["3", "4"]})
    strong = _strong(
        [(c, f"k{i}", 10 * i) for c in "ab" for i in range(3)],
        {"a": ["1", "2"], "b": ["3", "4"]},
    )
    assert _groups(joint_cohorts(cohorts, [strong])) == {frozenset("1234")}


def test_one_shared_key_is_not_enough() -> None:
    cohorts = _cohorts({"a": ["1", "2"], "b": ["3", "4"]})
    strong = _strong(
        [("a", "k1", 0), ("b", "k1", 0), ("a", "k2", 10), ("b", "k3", 20)],
        {"a": ["1", "2"], "b": ["3", "4"]},
    )
    # Each cohort's members burst together twice only within it (k1 and k2, k1 and k3).
    assert _groups(joint_cohorts(cohorts, [strong])) == {frozenset("12"), frozenset("34")}


def test_no_cohorts_gives_an_empty_table_of_the_same_schema() -> None:
    cohorts = _cohorts({}).cast(
        pa.schema(
            [
                ("platform", pa.string()),
                ("trace", pa.string()),
                ("cohort", pa.string()),
                ("members", pa.list_(pa.string())),
            ]
        )
    )
    joined = joint_cohorts(cohorts, [STRONG_SCHEMA.empty_table()])
    assert joined.num_rows == 0
    assert joined.schema == cohorts.schema


def test_a_member_bursting_with_two_groups_stays_in_the_one_it_bursts_with_most() -> None:
    """Member 5 bursts four times with cohort a's members and twice with cohort b's (two
    farms pushing one tag in the same minutes now and then): it is a member of a's star
    only. Leiden put such members with either farm when they sat in both stars."""
    cohorts = _cohorts({"a": ["1", "2", "5"], "b": ["3", "4", "5"]})
    strong = _strong(
        [("a", f"x{i}", i) for i in range(4)] + [("b", f"y{i}", 100 + i) for i in range(4)],
        {
            **{f"a/x{i}": ["1", "2", "5"] for i in range(4)},
            **{f"b/y{i}": ["3", "4"] + (["5"] if i < 2 else []) for i in range(4)},
        },
    )
    assert _groups(joint_cohorts(cohorts, [strong])) == {frozenset("125"), frozenset("34")}


def test_a_signal_wide_cohort_is_joined_and_split_as_the_cohorts_it_is_made_of() -> None:
    """The signal-wide creation-burst cohort holds two farms (bursts b1 and b2 of farm 1,
    burst b3 of farm 2) that push two keys in the same quarter hour (x0, x1): cut by burst,
    farm 1's parts are one group and farm 2's another. Whole, its star held both farms."""
    wide = WIDE_COHORTS["creation-burst"]
    identity = pa.table(
        {
            "platform": ["twitter"] * 6,
            "account_id": ["1", "2", "3", "4", "5", "6"],
            "cohort": ["b1", "b1", "b2", "b2", "b3", "b3"],
            "signal": ["creation-burst"] * 6,
        }
    )
    cohorts = _cohorts({wide: ["1", "2", "3", "4", "5", "6"]})
    strong = _strong(
        [(wide, f"x{i}", i) for i in range(3)] + [(wide, f"y{i}", 100 + i) for i in range(3)],
        {
            **{f"{wide}/x{i}": ["1", "2", "3", "4", "5", "6"] for i in (0, 1)},
            f"{wide}/x2": ["1", "2", "3", "4"],
            **{f"{wide}/y{i}": ["5", "6"] for i in range(3)},
        },
    )
    assert _groups(joint_cohorts(cohorts, [strong])) == {frozenset("123456")}
    parts, cut = wide_parts(cohorts, [strong], identity)
    assert sorted(parts.column("cohort").to_pylist()) == [f"b{i} | {wide}" for i in (1, 2, 3)]
    assert _groups(parts) == {frozenset("12"), frozenset("34"), frozenset("56")}
    assert _groups(joint_cohorts(parts, cut)) == {frozenset("1234"), frozenset("56")}


def test_two_farms_linked_by_a_few_shared_bursts_are_cut_apart() -> None:
    """One creation batch holds two farms. Farm A (a0..a5) bursts alone on four keys,
    farm B (b0..b3) alone on three, and both burst in the same minutes on two keys (they
    push the same posts). Every member shares those two with every other, so one
    connected part held both farms; each bursts without the other in three events or
    more, so they are two groups."""
    farm_a = [f"a{i}" for i in range(6)]
    farm_b = [f"b{i}" for i in range(4)]
    keys = {f"x{i}": farm_a for i in range(4)} | {f"y{i}": farm_b for i in range(3)}
    keys |= {f"z{i}": farm_a + farm_b for i in range(2)}
    cohorts = _cohorts({"batch": farm_a + farm_b})
    strong = _strong(
        [("batch", k, 10 * i) for i, k in enumerate(keys)],
        {f"batch/{k}": inside for k, inside in keys.items()},
    )
    assert _groups(joint_cohorts(cohorts, [strong])) == {frozenset(farm_a), frozenset(farm_b)}


def test_one_bursting_apart_once_stays_in_the_group() -> None:
    """As above, but farm B bursts alone on one key only: once is not repetition."""
    farm_a = [f"a{i}" for i in range(6)]
    farm_b = [f"b{i}" for i in range(4)]
    keys = {f"x{i}": farm_a for i in range(4)} | {"y0": farm_b}
    keys |= {f"z{i}": farm_a + farm_b for i in range(2)}
    cohorts = _cohorts({"batch": farm_a + farm_b})
    strong = _strong(
        [("batch", k, 10 * i) for i, k in enumerate(keys)],
        {f"batch/{k}": inside for k, inside in keys.items()},
    )
    assert _groups(joint_cohorts(cohorts, [strong])) == {frozenset(farm_a + farm_b)}


@pytest.mark.parametrize("seed", range(5))
def test_a_farm_whose_members_join_bursts_at_random_is_not_cut(seed: int) -> None:
    """Forty members, each in each of twenty bursts with probability 0.6 (a directive's
    crew): Leiden finds some cut of any such graph, but no side ever bursts without the
    other, so the farm stays one group."""
    rng = np.random.default_rng(seed)
    members = [f"m{i:02d}" for i in range(40)]
    keys = {f"k{j}": [m for m in members if rng.random() < 0.6] for j in range(20)}
    cohorts = _cohorts({"farm": members})
    strong = _strong(
        [("farm", k, 10 * i) for i, k in enumerate(keys)],
        {f"farm/{k}": inside for k, inside in keys.items()},
    )
    assert _groups(joint_cohorts(cohorts, [strong])) == {frozenset(members)}
