"""What a detection run is asked to do, apart from the run itself: the CLI reads the
defaults here without loading the engines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trollscope.engine import MAX_BURST
from trollscope.peerrule import PeerRule

# Action traces tested by default. batch-creation has one key per platform (nothing to
# repeat) and profile/avatar traces have no time: their evidence enters through the
# signals and the cohort tests. near-dup-text's keys are near-copy clusters, one per post,
# so it is tested like co-text. The slow traces test reposts and replies again at a
# 15-minute window: members that act tens of minutes after a directive (stealth 3)
# rarely meet within a minute (docs/significance.md, "Slow farms").
DEFAULT_TRACES = (
    "co-repost",
    "co-reply",
    "co-repost-slow",
    "co-reply-slow",
    "co-quote",
    "co-mention",
    "co-hashtag",
    "co-link",
    "co-text",
    "near-dup-text",
    "co-image",
)


@dataclass(frozen=True, slots=True)
class DetectParams:
    """What a detection run is asked to do. `window` None: each trace's default; "auto":
    each trace's estimated from the data (`estimate_window`, as `edges --window auto`),
    at most half the jitter, as the slow traces' own window is."""

    traces: tuple[str, ...] = DEFAULT_TRACES
    window: float | Literal["auto"] | None = None
    q: float = 0.01  # false discovery rate over all tested pairs
    # The null keeps activity and popularity per period; six hours, not one, so that a
    # farm that is most of its hours' traffic in sparse data is not its own null
    # (docs/significance.md, "The period").
    period_s: float = 21600.0
    # The account and burst tests' jitter: each account's actions shifted within +-30
    # minutes. Well above the window, so a farm acting within seconds stands out, and
    # narrow enough that what draws many accounts at the same time, at a scale of tens of
    # minutes (a viral post, a news shock, a live show), is kept by the null: with +-3
    # hours, organic reactions clustered within the hour after a post looked synchronous
    # (docs/significance.md, "Account and burst tests").
    jitter_s: float = 1800.0
    seed: int = 1
    leiden_runs: int = 5
    max_burst: int = MAX_BURST
    signals: bool = True  # compute the account signals (else use those in the case)
    memory_limit: str | None = None  # DuckDB's, like '6GB' (None: its default)
    # Where the traces' edges and tests run: "duckdb" (in the case) or "spark"
    # (`engine/spark.py`); the signals, networks and descriptions run in DuckDB.
    engine: str = "duckdb"
    # Fetch every pair test from the engine and keep it in the case, not only those that
    # could pass and those inside a network (prefilter.py): every q-value exact, at the
    # cost of the driver holding every test.
    all_tests: bool = False
    # A peer's threshold on every trace tested (CooRTweet's min participation, CNT's min
    # weight; None: off): its networks are reported beside the tested ones, labelled as a
    # threshold, with the share of their pairs chance alone gives (`thresholds.py`).
    min_participation: int | None = None
    min_weight: int | None = None

    @property
    def peer_rule(self) -> PeerRule:
        return PeerRule(self.min_participation, self.min_weight)

    @property
    def stages(self) -> int:
        """The stages a run reports to its progress callback: the account signals, each
        trace's edges and tests, the networks, the join tests and the description. Known
        before the run starts, so that a progress bar shows its total from the first
        moment."""
        return 2 * len(self.traces) + 3 + int(self.signals)
