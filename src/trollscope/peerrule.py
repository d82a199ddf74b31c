"""A peer's threshold as a rule: CooRTweet's minimum participation, the
coordination-network-toolkit's minimum edge weight. Thresholds, not tests: the engine
applies them (`engine/peers.py`), detect reports their networks beside the tested ones
(`detect/thresholds.py`), and the report names them; this module is what all of them
share, below every layer that reads it."""

from __future__ import annotations

from dataclasses import dataclass

from trollscope.errors import TrollscopeError


@dataclass(frozen=True, slots=True)
class PeerRule:
    """`min_participation`: CooRTweet's rule (None: off); `min_weight`: CNT's (None: off)."""

    min_participation: int | None = None
    min_weight: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("min participation", self.min_participation),
                            ("min weight", self.min_weight)):  # fmt: skip
            if value is not None and value < 1:
                raise TrollscopeError(f"the {name} must be 1 or more, not {value}.")

    @property
    def active(self) -> bool:
        return self.min_participation is not None or self.min_weight is not None

    def words(self) -> str:
        """The rule in words, for the user: what it keeps, and that it is no test."""
        parts = []
        if self.min_participation is not None:
            n = self.min_participation
            parts.append(
                f"CooRTweet's rule (min participation {n}: accounts with {n}+ posts, a pair "
                f"kept if one side has {n}+ coordinated posts)"
            )
        if self.min_weight is not None:
            parts.append(
                f"CNT's rule (min weight {self.min_weight}: pairs with "
                f"{self.min_weight}+ co-actions)"
            )
        return " and ".join(parts) + ": a threshold, not a test"
