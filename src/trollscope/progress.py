"""How long jobs tell their caller where they are, without printing: a callback.

Library code never prints; a job that takes a while (edges, signals, detect, report,
export) calls `progress(stage, done, total)` as each stage starts: `done` stages of
`total` are behind it. The CLI shows that as a bar on stderr; a notebook may log it.
"""

from __future__ import annotations

from collections.abc import Callable

StageProgress = Callable[[str, int, int], None]  # (stage starting, stages done, stages in all)


class Stages:
    """Counts a job's stages for an optional callback: `start(name)` as each begins."""

    def __init__(self, progress: StageProgress | None, total: int) -> None:
        self._progress = progress
        self.total = total
        self.done = 0

    def start(self, stage: str) -> None:
        if self._progress is not None:
            self._progress(stage, self.done, self.total)
        self.done += 1
