"""Progress on every long command (issue 21): the library calls `progress(stage, done,
total)` as each stage starts; the CLI shows it on stderr only on a terminal, and piped
output keeps long lines whole instead of rich's 80 columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import DATA
from trollscope import api
from trollscope.cli import cli, show
from trollscope.engine.run import EDGE_STAGES
from trollscope.report.render import REPORT_STAGES
from trollscope.signals import SIGNALS

SHARES = DATA / "table" / "coortweet_shares.csv"
Calls = list[tuple[str, int, int]]


@pytest.fixture
def detected(tmp_path: Path) -> Path:
    # A long folder name: a line naming the case is well over 80 columns.
    case = tmp_path / ("a-rather-long-folder-name-" * 4) / "case.duckdb"
    case.parent.mkdir()
    api.ingest(case, [SHARES])
    api.detect(case, api.DetectParams(traces=("co-repost",)))
    return case


def _recorder() -> tuple[Calls, api.StageProgress]:
    calls: Calls = []
    return calls, lambda stage, done, total: calls.append((stage, done, total))


def _counted_up(calls: Calls, stages: tuple[str, ...]) -> None:
    """Each stage reported once, in order, with done 0, 1, 2, ... of a fixed total."""
    assert [c[0] for c in calls] == list(stages)
    assert [c[1] for c in calls] == list(range(len(stages)))
    assert {c[2] for c in calls} == {len(stages)}


def test_edges_signals_report_export_report_their_stages(detected: Path, tmp_path: Path) -> None:
    calls, progress = _recorder()
    api.edges(detected, "co-repost", progress=progress)
    _counted_up(calls, EDGE_STAGES)

    calls, progress = _recorder()
    api.signals(detected, progress=progress)
    _counted_up(calls, (*SIGNALS, "storing signals"))

    calls, progress = _recorder()
    api.report(detected, tmp_path / "report.html", progress=progress)
    _counted_up(calls, REPORT_STAGES)

    for fmt, stages in (
        ("csv", ("nodes", "edges")),
        ("gexf", ("nodes", "edges", "writing")),
        ("json", ("nodes", "edges", "writing")),
    ):
        calls, progress = _recorder()
        api.export(detected, tmp_path / f"n.{fmt}", fmt=fmt, progress=progress)
        _counted_up(calls, stages)
    calls, progress = _recorder()
    api.export(detected, tmp_path / "s.csv", fmt="csv", what="scores", progress=progress)
    _counted_up(calls, ("accounts",))


def test_detect_knows_its_stages_before_it_starts(detected: Path) -> None:
    params = api.DetectParams(traces=("co-repost", "co-hashtag"))
    calls, progress = _recorder()
    api.detect(detected, params, progress)
    assert params.stages == 8  # signals, edges and tests of 2 traces, networks, joins, describing
    assert [c[2] for c in calls] == [params.stages] * params.stages
    assert [c[1] for c in calls] == list(range(params.stages))


COMMANDS = {
    "edges": ["--trace", "co-repost"],
    "signals": [],
    "detect": ["--trace", "co-repost"],
    "report": ["-o", "{tmp}/r.html"],
    "export": ["--format", "csv", "-o", "{tmp}/n.csv"],
}


def _invoke(command: str, case: Path, tmp: Path, env: dict[str, str] | None = None) -> Result:
    args = [command, str(case), *(a.format(tmp=tmp) for a in COMMANDS[command])]
    return CliRunner(env=env).invoke(cli, args)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_piped_output_has_no_progress_and_no_line_cut_at_80(
    command: str, detected: Path, tmp_path: Path
) -> None:
    # Files written beside the case: the line naming them is long too.
    result = _invoke(command, detected, detected.parent, env={"COLUMNS": None})  # type: ignore[dict-item]
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    # The case (or the file written) is named whole on one line, however long.
    long_lines = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert long_lines, result.stdout
    named = str(detected.parent)
    assert any(named in line for line in result.stdout.splitlines()), result.stdout


@pytest.mark.parametrize(
    "command, stage",
    [
        ("edges", "edges: pairs"),
        ("signals", "signals: storing signals"),
        ("detect", "detect: edges: co-repost"),
        ("report", "report: drawing"),
        ("export", "export: edges"),
    ],
)
def test_a_terminal_sees_each_stage(
    command: str, stage: str, detected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rich decides whether to draw a live bar once, when the Console is made (at import,
    # here not on a terminal): tell it that this one is.
    monkeypatch.setattr(show.err, "is_interactive", True)
    result = _invoke(command, detected, tmp_path, env={"TTY_COMPATIBLE": "1"})
    assert result.exit_code == 0, result.output
    assert stage in result.stderr
    assert "None" not in result.stderr
    if command == "detect":
        # The total from the first frame (signals, edges, tests, networks, join tests,
        # describing)...
        assert re.search(r"\x1b\[2Kdetect +0/6 stages", result.stderr), result.stderr
        # ...and each stage's time, left on stderr when the bar goes.
        assert re.search(r"detect: edges: co-repost \(\d+\.\d s\)\n", result.stderr)


def test_hide_progress_hides_it_on_a_terminal(
    detected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(show.err, "is_interactive", True)
    for command in COMMANDS:
        args = [command, str(detected), *(a.format(tmp=tmp_path) for a in COMMANDS[command])]
        result = CliRunner(env={"TTY_COMPATIBLE": "1"}).invoke(cli, [*args, "--hide-progress"])
        assert result.exit_code == 0, result.output
        assert result.stderr == "", command
