"""Control characters from the data and from file names never reach the terminal.

A handle holding `ESC]0;title BEL` retitles the user's terminal, a reject reason holding
`ESC]52;c;... BEL` writes their clipboard, `ESC[2J` clears the screen, the C1 forms
(U+009B, U+009D) do the same on terminals that honour them, and a bidi override
(U+202E) reorders what the reader sees. Every command is run on a case whose handles,
hashtags, texts, rejected values and file names hold them; what it prints must hold
them only escaped (`\\x1b`, `\\u202e`)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.progress import Progress

from tests.conftest import T0
from trollscope.cli import cli
from trollscope.cli.show import Bar, terminal_safe

OSC52 = "\x1b]52;c;SGk=\x07"  # write "Hi" to the clipboard
CLEAR = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"
C1 = "\x9b2J\x9d0;t\x9c"  # CSI and OSC as single C1 bytes
RLO = "\u202e"
RAW = ("\x1b", "\x07", "\x9b", "\x9c", "\x9d", "\u202e")
HOUR = 3600
MAPPING = (
    "post_id=id,account_id=user,created_at=time,repost_of=orig,ref_account_id=orig_user,"
    "hashtags=tag,handle=handle,text=text"
)


def test_terminal_safe_escapes_controls_and_bidi_and_keeps_the_rest() -> None:
    assert terminal_safe(f"a{OSC52}b") == "a\\x1b]52;c;SGk=\\x07b"
    assert terminal_safe(f"{C1}") == "\\x9b2J\\x9d0;t\\x9c"
    assert terminal_safe("x\u202ay\u202ez\u2066w\u2069") == "x\\u202ay\\u202ez\\u2066w\\u2069"
    # A newline or tab from the data would forge a line or a column: escaped too.
    assert terminal_safe("a\nb\tc\rd\x00e\x7f") == "a\\x0ab\\x09c\\x0dd\\x00e\\x7f"
    # Printable text of any script, markup-like text and backslashes are left alone.
    text = "Ünïcødé ру́сский 中文 עברית [bold]x[/bold] C:\\path 😀 \u00a0\u00a0"
    assert terminal_safe(text) == text


def shown(result: Result) -> str:
    """Everything a command printed, checked free of raw controls."""
    for stream in (result.stdout, result.stderr):
        for char in RAW:
            assert char not in stream, f"raw {char!r} printed: {stream!r}"
    return result.stdout + result.stderr


def invoke(*args: object) -> Result:
    # A wide terminal (rich reads COLUMNS as it prints): a table's row stays on one line,
    # so that an escaped value is not folded across lines and cells.
    return CliRunner(env={"COLUMNS": "1000"}).invoke(cli, [str(a) for a in args])


def _hostile_shares(folder: Path) -> Path:
    """Sixty organic accounts reposting at random, and a farm of five reposting twelve
    posts within seconds of each other; every string the data holds is hostile, and one
    row has an unreadable time holding escapes. Ids and handles hold a bidi override
    only: a key with a C0 or C1 control rejects its row (model.py, tests/ingest/
    test_bounds.py)."""
    rng = random.Random(3)
    rows = [
        (f"p{rng.randrange(40)}", f"o{a}", rng.randrange(12 * HOUR))
        for a in range(60)
        for _ in range(10)
    ]
    rows += [
        (f"t{k}", f"f{m}", k * HOUR + 600 + rng.randrange(10)) for k in range(12) for m in range(5)
    ]
    lines = ["id,user,time,orig,orig_user,tag,handle,text"]
    for i, (key, account, t) in enumerate(rows):
        tag = f"x{OSC52}" if account.startswith("f") else f"topic{i % 7}"
        lines.append(f"p{i},{account},{T0 + t},{key},amp{RLO},{tag},{RLO}{account},{TITLE}txt")
    lines.append(f"bad,zz,later{CLEAR}{RLO},k,u,t,h,x")
    path = folder / f"s{TITLE}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(folder, data file, case): a case ingested and detected on, all names hostile."""
    folder = tmp_path_factory.mktemp("terminal") / f"in{CLEAR}"
    folder.mkdir()
    data = _hostile_shares(folder)
    case = folder / f"c{OSC52}.duckdb"
    assert invoke("ingest", data, "--into", case, "--map", MAPPING, "--json").exit_code == 0
    assert invoke("detect", case, "--trace", "co-repost", "--json").exit_code == 0
    return folder, data, case


def test_ingest_escapes_file_names(hostile: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, data, _ = hostile
    case = tmp_path / f"n{TITLE}[b].duckdb"
    result = invoke("ingest", data, "--into", case, "--map", MAPPING, "--hide-progress")
    assert result.exit_code == 0, result.output
    said = shown(result)
    assert "s\\x1b]0;pwned\\x07.csv" in said  # the file's row
    # The title and the `trollscope info` hint, `[b]` shown rather than taken for markup.
    assert said.count("n\\x1b]0;pwned\\x07[b].duckdb") == 2


def test_info_escapes_sources_rejects_and_the_case(hostile: tuple[Path, Path, Path]) -> None:
    _, _, case = hostile
    result = invoke("info", case)
    assert result.exit_code == 0, result.output
    said = shown(result)
    assert "c\\x1b]52;c;SGk=\\x07.duckdb" in said
    assert "s\\x1b]0;pwned\\x07.csv" in said
    assert "later\\x1b[2J\\u202e" in said  # the rejected value, in its reason


@pytest.mark.parametrize("command", ["ingest", "info", "detect", "signals"])
def test_json_is_ascii(hostile: tuple[Path, Path, Path], command: str, tmp_path: Path) -> None:
    """JSON escapes C0 by itself; C1 and bidi controls only as ASCII (ensure_ascii)."""
    _, data, case = hostile
    args: tuple[object, ...] = {
        "ingest": ("ingest", data, "--into", tmp_path / "j.duckdb", "--map", MAPPING),
        "info": ("info", case),
        "detect": ("detect", case, "--trace", "co-repost"),
        "signals": ("signals", case, "--signal", "creation-burst"),
    }[command]
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    shown(result)
    assert result.stdout.isascii() and result.stdout.count("\n") == 1
    found = json.loads(result.stdout)
    if command == "detect":
        assert found["networks_top"][0]["amplified"] == [f"amp{RLO}"]
    if command == "info":
        # The reason shows the value with its C0 controls escaped already (model.shown).
        assert found["reject_reasons"][0]["reason"].endswith(f"'later\\x1b[2J{RLO}'")


def test_detect_and_edges_and_signals_escape_what_they_show(
    hostile: tuple[Path, Path, Path],
) -> None:
    folder, _, case = hostile
    detected = invoke("detect", case, "--trace", "co-repost", "--hide-progress")
    assert detected.exit_code == 0, detected.output
    said = shown(detected)
    assert "5 accounts in 1 networks" in detected.stdout
    assert "\\x1b]52;c;" in said  # the farm's hashtag (folded to lower case)
    assert "amp\\u202e" in said  # the account it amplified
    edges = invoke("edges", case, "--trace", "co-repost", "-o", folder / f"e{CLEAR}.csv")
    assert edges.exit_code == 0, edges.output
    assert "e\\x1b[2J.csv" in shown(edges)
    signals = invoke("signals", case, "--signal", "creation-burst")
    assert signals.exit_code == 0, signals.output
    # The title wraps at the table's width, wherever the terminal ends.
    assert "c\\x1b]52;c;SGk=\\x07.duckdb" in "".join(shown(signals).split())


def test_report_export_and_evaluate_escape_paths(hostile: tuple[Path, Path, Path]) -> None:
    folder, _, case = hostile
    report = invoke("report", case, "-o", folder / f"r{TITLE}.html")
    assert report.exit_code == 0, report.output
    assert "r\\x1b]0;pwned\\x07.html" in shown(report)
    export = invoke("export", case, "--format", "csv", "-o", folder / f"x{RLO}.csv")
    assert export.exit_code == 0, export.output
    assert "x\\u202e.nodes.csv" in shown(export)
    labels = folder / f"labels{TITLE}.csv"
    labels.write_text("account_id,farm_id\nf0,a\nf1,a\n", encoding="utf-8")
    evaluated = invoke("evaluate", case, "--labels", labels)
    assert evaluated.exit_code == 0, evaluated.output
    assert "c\\x1b]52;c;SGk=\\x07.duckdb" in shown(evaluated)


def test_scan_escapes_its_tables(hostile: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, data, _ = hostile
    out_dir = tmp_path / f"o{C1}"
    result = invoke("scan", data, "-o", out_dir, "--map", MAPPING, "--trace", "co-repost")
    assert result.exit_code == 0, result.output
    said = shown(result)
    assert "s\\x1b]0;pwned\\x07.csv" in said and "o\\x9b2J\\x9d0;t\\x9c" in said


def test_simulate_and_avatars_escape_paths(
    hostile: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, _, case = hostile
    sim = invoke(
        "simulate", "--out", tmp_path / f"sim{CLEAR}", "--posts", "1000", "--days", "1",
        "--formats", "", "--hide-progress",
    )  # fmt: skip
    assert sim.exit_code == 0, sim.output
    assert "sim\\x1b[2J" in shown(sim)
    pictures = tmp_path / f"pics{RLO}"
    pictures.mkdir()
    (pictures / f"f0{TITLE}.png").write_bytes(b"not a picture")
    avatars = invoke("avatars", case, "--folder", pictures, "--hide-progress")
    assert avatars.exit_code == 0, avatars.output
    assert "f0\\x1b]0;pwned\\x07.png" in shown(avatars)


def test_errors_escape_file_names_and_values(tmp_path: Path) -> None:
    empty = tmp_path / f"empty{OSC52}.csv"
    empty.write_bytes(b"")
    refused = invoke("ingest", empty, "--into", tmp_path / "c.duckdb")
    assert refused.exit_code == 1
    assert "empty\\x1b]52;c;SGk=\\x07.csv: the file is empty" in shown(refused)
    header = tmp_path / "h.csv"
    header.write_text(f"id,user{TITLE},t\n1,a,{T0}\n", encoding="utf-8")
    unmapped = invoke("ingest", header, "--into", tmp_path / "c.duckdb", "--map", "post_id=id")
    assert unmapped.exit_code == 1
    assert "user\\x1b]0;pwned\\x07" in shown(unmapped)  # the columns the file has
    missing = invoke("info", tmp_path / f"none{CLEAR}.duckdb")
    assert missing.exit_code == 1
    assert "none\\x1b[2J.duckdb: no such case file" in shown(missing)
    # click's own messages name a path with repr(), which escapes it as well.
    absent = invoke("detect", tmp_path / f"none{CLEAR}.duckdb")
    assert absent.exit_code == 2
    assert "none\\x1b[2J.duckdb' does not exist" in shown(absent)
    bad_map = invoke("ingest", header, "--into", tmp_path / "c.duckdb", "--map", f"x{RLO}=id")
    assert bad_map.exit_code == 1
    assert "x\\u202e" in shown(bad_map)


def test_progress_descriptions_are_escaped() -> None:
    with Progress(disable=True) as progress:
        task = progress.add_task("detect", total=2)
        Bar(progress, task).stage(f"edges: [b]{TITLE}", 1, 2)
        [shown_task] = progress.tasks
    # Escaped, and the data's brackets are not taken for markup by the description column.
    assert shown_task.description == "edges: \\[b]\\x1b]0;pwned\\x07"
