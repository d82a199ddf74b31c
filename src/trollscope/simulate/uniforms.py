"""Fast scalar random draws for the simulator."""

from __future__ import annotations

import numpy as np


class Uniforms:
    """Scalar random draws from a buffer filled in bulk: one numpy call per 64k draws
    instead of one per draw (which costs microseconds each). Deterministic for the rng."""

    def __init__(self, rng: np.random.Generator, size: int = 1 << 16) -> None:
        self.rng = rng
        self.size = size
        self.buffer: list[float] = []
        self.at = 0

    def __call__(self) -> float:
        if self.at == len(self.buffer):
            self.buffer = self.rng.random(self.size).tolist()
            self.at = 0
        value = self.buffer[self.at]
        self.at += 1
        return value

    def pick(self, n: int) -> int:
        """An index in range(n), uniformly (the next draw, as `int(self() * n)`; inlined:
        the simulator calls this millions of times)."""
        if self.at == len(self.buffer):
            self.buffer = self.rng.random(self.size).tolist()
            self.at = 0
        value = self.buffer[self.at]
        self.at += 1
        return int(value * n)
