"""benchmarks/stages.py: detect's stages, version against version."""

from __future__ import annotations

from benchmarks.stages import peak_table, table


def _row(label: str, stages: list[tuple[str, float]], cpu: float) -> dict[str, object]:
    return {
        "label": label,
        "seconds": cpu / 2,
        "cpu_seconds": cpu,
        "peak_rss_mib": 1000.0,
        "stages": [[name, seconds / 2, seconds] for name, seconds in stages],
        "found": [305, 4, 63324],
    }


def test_stages_line_up_by_name_and_the_ratio_is_last_over_first() -> None:
    """A stage one version lacks reads 0 there (no ratio against a 0); stages keep the
    order in which the versions report them; the whole tree's CPU is its own line."""
    old = _row("A", [("edges: co-repost", 10.0), ("networks", 4.0)], 20.0)
    new = _row("B", [("edges: co-repost", 25.0), ("join tests", 3.0), ("networks", 2.0)], 40.0)
    lines = table([old, new]).splitlines()
    assert lines[0] == "| stage | A | B | B / A |"
    body = {line.split(" | ")[0][2:]: line for line in lines[2:]}
    assert list(body)[:3] == ["edges: co-repost", "networks", "join tests"]
    assert body["edges: co-repost"] == "| edges: co-repost | 10.0 | 25.0 | 2.50 |"
    assert body["networks"] == "| networks | 4.0 | 2.0 | 0.50 |"
    assert body["join tests"] == "| join tests | 0.0 | 3.0 | - |"
    assert body["**all** (CPU s)"].endswith("| 20.0 | 40.0 | 2.00 |")
    assert "305 / 4 / 63324 | 305 / 4 / 63324" in lines[-1]


def test_each_stage_keeps_its_peak_and_older_rows_read_a_dash() -> None:
    old = _row("A", [("edges: co-repost", 10.0)], 20.0)
    new = _row("B", [("edges: co-repost", 25.0)], 40.0)
    new["stages"] = [["edges: co-repost", 12.5, 25.0, 2048.4], ["networks", 1.0, 2.0, 512.0]]
    lines = peak_table([old, new]).splitlines()
    assert lines[0] == "| stage (peak MiB) | A | B |"
    assert lines[2:] == ["| edges: co-repost | - | 2,048 |", "| networks | - | 512 |"]


def test_a_peak_says_whose_memory_it_was() -> None:
    row = _row("B", [], 40.0)
    row["stages"] = [
        ["tests: co-mention", 5.0, 9.0, 3072.0, [["jvm", 2048.0], ["command", 1024.0]]]
    ]
    lines = peak_table([row]).splitlines()
    assert lines[2] == "| tests: co-mention | 3,072 (jvm 2,048, command 1,024) |"
