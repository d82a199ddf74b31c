"""The command line as interface: exact exit codes and messages, JSON for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DATA, REPO
from trollscope.cli import cli

SHARES = DATA / "table" / "coortweet_shares.csv"
OBJECTS = DATA / "table" / "coortweet_objects.csv"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ingest_then_info_json(case_path: Path) -> None:
    code, out, _ = run("ingest", str(SHARES), str(OBJECTS), "--into", str(case_path), "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["read"], summary["stored"], summary["duplicate"], summary["rejected"]) == (
        9,
        7,
        1,
        1,
    )
    code, out, _ = run("info", str(case_path), "--json")
    assert code == 0
    info = json.loads(out)
    assert (info["posts"], info["accounts"], info["rejects"]) == (7, 5, 1)
    assert all(isinstance(info[k], int) for k in ("posts", "accounts", "rejects"))
    assert info["kinds"] == {"repost": 5, "post": 2}
    assert info["first_post"] == "2021-06-16T22:04:51"
    assert info["last_post"] == "2021-08-21T23:50:36"
    assert [s["format"] for s in info["sources"]] == ["coortweet", "coortweet"]


def test_ingest_table_summary(case_path: Path) -> None:
    code, out, _ = run("ingest", str(SHARES), "--into", str(case_path), "--hide-progress")
    assert code == 0
    assert "coortweet" in out
    assert "read" in out and "stored" in out and "duplicate" in out and "rejected" in out


def test_info_text(case_path: Path) -> None:
    run("ingest", str(OBJECTS), "--into", str(case_path))
    code, out, _ = run("info", str(case_path))
    assert code == 0
    assert "2 posts, 2 accounts, 1 rejects" in out
    assert "the post id is empty; every row needs one" in out


def test_unknown_format_is_exit_1_with_the_file_named(tmp_path: Path, case_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n", encoding="utf-8")
    code, _, err = run("ingest", str(junk), "--into", str(case_path))
    assert code == 1
    assert err.startswith(f"Error: {junk}: the format could not be recognised from its content")
    assert not case_path.exists()


def test_nothing_read_is_exit_1(tmp_path: Path, case_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    code, _, err = run("ingest", str(empty), "--into", str(case_path))
    assert code == 1
    assert err == f"Error: {empty}: the file is empty; there is nothing to ingest.\n"


def test_some_rejects_is_exit_0(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "object_id,account_id,content_id,timestamp_share\n1,a,2,1606451170\n1,b,3,later\n",
        encoding="utf-8",
    )
    code, out, _ = run("ingest", str(path), "--into", str(case_path), "--json")
    assert code == 0
    assert json.loads(out)["rejected"] == 1


def test_bad_map_is_exit_1(case_path: Path) -> None:
    code, _, err = run("ingest", str(SHARES), "--into", str(case_path), "--map", "colour=red")
    assert code == 1
    assert "--map names unknown field 'colour'" in err


def test_info_on_missing_case(tmp_path: Path) -> None:
    code, _, err = run("info", str(tmp_path / "none.duckdb"))
    assert code == 1
    assert "no such case file" in err


def test_hostile_reject_text_is_not_rich_markup(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "object_id,account_id,content_id,timestamp_share\n1,a,2,1606451170\n1,b,3,[red]x[/red]\n",
        encoding="utf-8",
    )
    run("ingest", str(path), "--into", str(case_path))
    _, out, _ = run("info", str(case_path))
    # Shown literally (rich would have eaten markup); the table may wrap the long reason.
    assert "[red]x[/red]" in out or "[red]" in out


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_and_is_in_the_readme(name: str) -> None:
    code, _, _ = run(name, "--help")
    assert code == 0
    assert cli.commands[name].help, f"{name} has no help text"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"trollscope {name}" in readme, f"README does not mention `trollscope {name}`"


def test_detect_finding_nothing_says_how_to_get_a_peers_threshold(case_path: Path) -> None:
    """Seven shares: nothing passes. A user who came from CooRTweet is told how to get
    its rule's network, labelled as a threshold, rather than a bare zero."""
    run("ingest", str(SHARES), "--into", str(case_path))
    code, out, _ = run("detect", str(case_path), "--hide-progress")
    assert code == 0
    assert "0 networks" in out
    assert "No network passed the tests" in out
    said = " ".join(out.split())
    hint = f"trollscope detect {case_path} --trace co-repost --min-participation 2"
    assert hint in said
    assert f"trollscope edges {case_path} --trace co-repost --min-participation 2 -o" in said
    # The command named runs, and reports the rule's networks apart, as a threshold.
    code, out, _ = run(*hint.split()[1:], "--hide-progress")
    assert code == 0
    said = " ".join(out.split())
    assert "Beside the tests: CooRTweet's rule (min participation 2" in said
    assert "a threshold, not a test" in said
    assert "No network passed the tests." in said
