"""The dashboard in-process (Starlette's TestClient over the real app and a real detected
case, as a DuckDB file and as a Parquet folder): every page and its JSON twin, filters,
sorting and paging, errors, the security headers, hostile strings escaped, the same JSON
from both kinds of case, and the case left byte for byte as it was."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from tests.serve.conftest import DESK, FARM, HOSTILE, IMG, PWN, QUOTES, RLO, SCRIPT
from trollscope.cli import cli
from trollscope.serve import allowed_hosts, create_app, host_warning

LOCAL = "http://127.0.0.1:8001"  # where the server listens by default


@pytest.fixture(scope="module", params=["duckdb", "parquet"])
def client(
    request: pytest.FixtureRequest, served_case: Path, served_parquet_case: Path
) -> Iterator[TestClient]:
    """The dashboard over the case, a DuckDB file or a Parquet folder: every test of a
    page runs on both kinds."""
    case = served_case if request.param == "duckdb" else served_parquet_case
    with TestClient(create_app(case), base_url=LOCAL) as c:
        yield c


def account(account_id: str, suffix: str = "", **extra: object) -> str:
    return f"/account{suffix}?" + urlencode({"platform": "unknown", "id": account_id, **extra})


PAGES = ["/networks", "/networks/1", account("f0"), "/case"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_json_twin(client: TestClient, path: str) -> None:
    html = client.get(path)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    base, _, query = path.partition("?")
    twin = client.get(base + ".json" + ("?" + query if query else ""))
    assert twin.status_code == 200
    assert twin.headers["content-type"] == "application/json"
    assert isinstance(twin.json(), dict)
    # The page links its twin.
    assert escape(base + ".json") in html.text


def test_root_goes_to_the_networks(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/networks"


def _ranks(client: TestClient, **params: object) -> list[int]:
    page = client.get("/networks.json?" + urlencode(params)).json()
    return [n["network"] for n in page["networks"]["rows"]]


def test_networks_filter_by_language_trace_size_and_verdict(client: TestClient) -> None:
    assert _ranks(client) == [1, 2]
    assert _ranks(client, lang="fa") == [2]
    assert _ranks(client, lang="en") == [1]
    assert _ranks(client, trace="co-repost") == [1]
    assert _ranks(client, min_size=5) == [1]
    assert _ranks(client, max_size=4) == [2]
    assert _ranks(client, min_size=6) == []
    verdict = client.get("/networks.json").json()["networks"]["rows"][1]["verdict"]
    assert 2 in _ranks(client, verdict=verdict)
    assert _ranks(client, verdict="no such verdict") == []
    facets = client.get("/networks.json").json()["facets"]
    assert {"en", "fa"} <= set(facets["langs"])
    assert facets["traces"] == ["co-repost"]


def test_networks_sort_and_page(client: TestClient) -> None:
    assert _ranks(client, sort="size") == [2, 1]  # four members before five
    assert _ranks(client, sort="size", order="desc") == [1, 2]
    assert _ranks(client, sort="rank", order="desc") == [2, 1]
    page = client.get("/networks.json?limit=1&offset=1").json()["networks"]
    assert page["total"] == 2 and [n["network"] for n in page["rows"]] == [2]
    html = client.get("/networks?limit=1").text
    assert "rows 1–1 of 2" in html and "offset=1" in html


def test_the_networks_page_shows_the_rows_its_twin_has(client: TestClient) -> None:
    html = client.get("/networks?lang=fa").text
    # The tested networks' table (a peer threshold's, below it, links to any network).
    table = html[html.index('id="networks"') : html.index("</table>")]
    assert 'href="/networks/2"' in table and 'href="/networks/1"' not in table


def test_the_networks_page_lists_a_peer_thresholds_networks_apart(client: TestClient) -> None:
    threshold = client.get("/networks.json").json()["threshold"]
    assert threshold["rule"].startswith("CooRTweet's rule (min participation 2")
    networks = threshold["networks"]
    assert networks and [n["network"] for n in networks] == list(range(1, len(networks) + 1))
    # The farm reposts in sync: the rule keeps it, and the tests found it too (network 1).
    farm = [n for n in networks if 1 in n["tested_networks"]]
    assert farm and farm[0]["in_tested"] >= len(FARM)
    html = client.get("/networks").text
    table = html[html.index('id="threshold-networks"') :]
    assert table.count("<tr>") == len(networks) + 1  # the head and one row each
    assert f"<td>T{farm[0]['network']}</td>" in table
    assert 'href="/networks/1"' in table


def test_members_search_sort_and_paging(client: TestClient) -> None:
    def members(**params: object) -> Any:
        page = client.get("/networks/1.json?" + urlencode(params)).json()
        return page["members"]

    everyone = members()
    assert everyone["total"] == 5
    assert {r["account_id"] for r in everyone["rows"]} == set(FARM)
    assert [r["account_id"] for r in members(q="f2")["rows"]] == ["f2"]
    assert [r["account_id"] for r in members(q="<SCRIPT>")["rows"]] == ["f0"]
    assert members(q="nobody")["total"] == 0
    two = members(limit=2)
    assert two["total"] == 5 and len(two["rows"]) == 2
    assert len(members(limit=2, offset=4)["rows"]) == 1
    by_handle = [r["handle"] for r in members(sort="handle", order="asc")["rows"]]
    assert by_handle == sorted(HOSTILE, key=str.lower)


def test_network_page_has_members_evidence_graph_and_charts(client: TestClient) -> None:
    page = client.get("/networks/1.json").json()
    assert page["network"]["size"] == 5
    assert page["evidence"], "a network without evidence lines"
    assert all(e["account_id"] in FARM for e in page["evidence"])
    graph = client.get(page["links"]["graph"]).json()
    assert {n["account_id"] for n in graph["nodes"]} == set(FARM)
    assert graph["links"] and graph["links_total"] >= len(graph["links"])
    assert all(0 <= a < 5 and 0 <= b < 5 and a != b for a, b, *_ in graph["links"])
    charts = client.get(page["links"]["charts"]).json()
    assert len(charts["hours_utc"]) == 168
    # Each member: twelve reposts and twelve copied texts.
    assert sum(charts["hours_utc"]) == 5 * 24
    html = client.get("/networks/1").text
    for heading in ("Members", "Strongest evidence", "Graph", "Posting hours"):
        assert f">{heading}" in html


def test_account_page(client: TestClient) -> None:
    page = client.get(account("f0", ".json")).json()
    assert page["account"]["handle"] == SCRIPT  # raw in JSON: the data as the case holds it
    assert page["score"]["network"] == 1
    assert {p["account_id"] for p in page["partners"]} == {"f1", "f2", "f3", "f4"}
    assert page["evidence"] and page["signals"]
    assert page["posts"]["total"] == 24
    assert sum(page["timeline"]["counts"]) == 24
    paged = client.get(account("f0", ".json", limit=5, offset=20)).json()["posts"]
    assert len(paged["rows"]) == 4
    organic = client.get(account("o1", ".json")).json()
    assert organic["score"] is None and organic["partners"] == []
    assert "not flagged" in client.get(account("o1")).text


def test_case_page_names_sources_rejects_and_runs(client: TestClient, served_case: Path) -> None:
    page = client.get("/case.json").json()
    source = served_case.parent / "posts.csv"
    [s] = page["sources"]
    assert s["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert s["rejected"] == 1
    assert page["rejects"]["total"] == 1
    [reject] = page["rejects"]["rows"]
    assert reject["field"] == "created_at" and "not-a-time" in reject["reason"]
    assert reject["line"] == len(source.read_text(encoding="utf-8").splitlines())
    [covered] = page["coverage"]  # every data row but the rejected one, one platform
    assert covered["posts"] == len(source.read_text(encoding="utf-8").splitlines()) - 2
    assert covered["accounts"] == 60 + 5 + 4  # organic, the farm, the second farm
    [run] = page["detect_runs"]
    assert run["params"]["traces"] == ["co-repost", "co-text"]
    html = client.get("/case").text
    assert s["sha256"] in html and "not-a-time" in html


@pytest.mark.parametrize(
    "path",
    [
        "/networks/999",
        "/networks/999.json",
        "/networks/99999999999999999999999999.json",
        "/networks/999/graph.json",
        account("nobody"),
        account("nobody", ".json"),
        "/nowhere",
        "/nowhere.json",
    ],
)
def test_unknown_ids_are_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    if path.split("?")[0].endswith(".json"):
        assert r.headers["content-type"] == "application/json" and r.json()["status"] == 404
    else:
        assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/networks.json?sort=1;DROP", "sort must be one of"),
        ("/networks.json?limit=0", "limit must be between 1 and 500"),
        ("/networks.json?offset=-1", "offset must be between"),
        ("/networks.json?min_size=abc", "min_size must be a whole number"),
        ("/networks/1.json?order=sideways", "order must be asc or desc"),
        ("/account.json?platform=unknown", "give the account as"),
    ],
)
def test_bad_parameters_are_400_with_a_reason(client: TestClient, path: str, words: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert words in r.json()["error"]


@pytest.mark.parametrize(
    "path", ["/networks", "/networks.json", "/static/dashboard.js", "/nowhere", "/networks/9"]
)
def test_every_response_has_a_strict_csp(client: TestClient, path: str) -> None:
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe" not in csp and "http" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


class _Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


HOSTILE_PAGES = [
    "/networks",
    "/networks/1",
    "/networks/1?q=%3Cscript%3E",
    *(account(f) for f in FARM),
    account(SCRIPT),  # unknown: the 404 page names the id
    "/case",
]


@pytest.mark.parametrize("path", HOSTILE_PAGES)
def test_hostile_strings_stay_text(client: TestClient, path: str) -> None:
    html = client.get(path).text
    for raw in (SCRIPT, IMG, PWN, QUOTES):
        assert raw not in html
    assert "\u202e" not in html  # the override is removed, not just escaped
    parser = _Elements()
    parser.feed(html)
    assert [t for t, _ in parser.tags if t in ("img", "svg", "iframe", "object")] == []
    scripts = [dict(a).get("src") for t, a in parser.tags if t == "script"]
    assert scripts == ["/static/dashboard.js"]
    handlers = [(t, k) for t, attrs in parser.tags for k, _ in attrs if k.startswith("on")]
    assert handlers == []


def test_hostile_handles_show_escaped(client: TestClient) -> None:
    html = client.get("/networks/1").text
    assert escape(SCRIPT, quote=False) in html
    assert escape(RLO.replace("\u202e", ""), quote=False) in html


def test_persian_text_is_kept(client: TestClient) -> None:
    posts = client.get(account(DESK[0], ".json")).json()["posts"]["rows"]
    assert any("این یک پیام هماهنگ است" in p["text"] for p in posts)


def test_the_case_file_is_unchanged_by_a_session(served_case: Path, tmp_path: Path) -> None:
    case = tmp_path / "copy.duckdb"
    shutil.copy(served_case, case)
    before = hashlib.sha256(case.read_bytes()).hexdigest()
    with TestClient(create_app(case), base_url=LOCAL) as c:
        for path in [*PAGES, "/networks/1/graph.json", "/networks/1/charts.json"]:
            assert c.get(path).status_code == 200
            base, _, query = path.partition("?")
            c.get(base + ".json" + ("?" + query if query else ""))
    assert hashlib.sha256(case.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.duckdb"]  # no WAL, no lock


def _hashes(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder` (a folder's hash is empty)."""

    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""

    return {str(p.relative_to(folder)): digest(p) for p in folder.rglob("*")}


def test_a_parquet_case_is_unchanged_by_a_session(
    served_parquet_case: Path, tmp_path: Path
) -> None:
    """Elsewhere than where it was converted (its paths are relative to its folder), and
    read-only: no file of the folder changes, none is added (no WAL, no lock, no staging)."""
    case = tmp_path / "moved"
    shutil.copytree(served_parquet_case, case)
    before = _hashes(case)
    assert any(name.endswith(".parquet") for name in before)
    with TestClient(create_app(case), base_url=LOCAL) as c:
        for path in PAGES:
            base, _, query = path.partition("?")
            for page in (path, base + ".json" + ("?" + query if query else "")):
                assert c.get(page).status_code == 200
        for path in ["/networks/1/graph.json", "/networks/1/charts.json"]:
            assert c.get(path).status_code == 200
        assert c.get(account("f0", ".json")).json()["posts"]["total"] == 24
    assert _hashes(case) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moved"]


def _every_page(c: TestClient) -> dict[str, Any]:
    """The JSON of every page type, of every account's posts (in pages of 7), and of
    sorted, filtered and searched lists; the case's own name left out."""
    paths = [
        "/networks.json", "/networks.json?sort=size&order=desc", "/networks.json?lang=fa",
        "/networks/1.json", "/networks/1.json?q=f&sort=handle", "/networks/2.json",
        "/networks/1/graph.json", "/networks/2/graph.json",
        "/networks/1/charts.json", "/networks/2/charts.json",
    ]  # fmt: skip
    accounts = sorted({*FARM, *DESK, *(f"o{i}" for i in range(60))})
    for a in accounts:
        paths += [account(a, ".json", limit=7, offset=offset) for offset in (0, 7, 14, 21)]
    pages = {path: c.get(path).json() for path in paths}
    case = c.get("/case.json").json()
    case.pop("name")
    return {**pages, "/case.json": case}


def test_both_kinds_of_case_give_the_same_json(
    served_case: Path, served_parquet_case: Path
) -> None:
    with TestClient(create_app(served_case), base_url=LOCAL) as c:
        duckdb_pages = _every_page(c)
    with TestClient(create_app(served_parquet_case), base_url=LOCAL) as c:
        parquet_pages = _every_page(c)
    assert sum(len(p["posts"]["rows"]) for p in duckdb_pages.values() if "posts" in p) == 808
    assert parquet_pages == duckdb_pages


def test_a_parquet_case_of_many_files_pages_posts_as_a_duckdb_case(tmp_path: Path) -> None:
    """Two ingests (so two files in each day's partition) and posts on several days: an
    account's pages hold the posts a DuckDB case's hold, in the same order."""
    from trollscope.ingest.run import ingest

    header = "object_id,account_id,content_id,timestamp_share\n"
    halves = []
    for half in range(2):
        lines = [
            f"p{half}_{i},a{i % 3},c{i % 5},{1_700_000_000 + i * 7_919 + half * 3}\n"
            for i in range(60)
        ]
        source = tmp_path / f"shares{half}.csv"
        source.write_text(header + "".join(lines), encoding="utf-8")
        halves.append(source)
    file_case, folder_case = tmp_path / "case.duckdb", tmp_path / "case-pq"
    for source in halves:
        ingest(file_case, [source])
        ingest(folder_case, [source], parquet_case=True)
    assert len(list(folder_case.glob("posts/*/day=*/*.parquet"))) > 2 * 5
    pages = []
    for case in (file_case, folder_case):
        with TestClient(create_app(case), base_url=LOCAL) as c:
            pages.append(
                [
                    c.get(account(a, ".json", limit=9, offset=o)).json()
                    for a in ("a0", "a1", "a2")
                    for o in range(0, 45, 9)
                ]
            )
    assert sum(len(p["posts"]["rows"]) for p in pages[0]) == 120
    assert pages[1] == pages[0]


def test_a_case_without_detection_serves_an_empty_list(tmp_path: Path) -> None:
    from trollscope.ingest.run import ingest

    source = tmp_path / "shares.csv"
    source.write_text(
        "object_id,account_id,content_id,timestamp_share\np1,a1,c1,1700000000\n",
        encoding="utf-8",
    )
    case = tmp_path / "case.duckdb"
    ingest(case, [source])
    with TestClient(create_app(case), base_url=LOCAL) as c:
        page = c.get("/networks.json").json()
        assert page["detected"] is False and page["networks"]["rows"] == []
        assert "no detection results yet" in c.get("/networks").text
        assert c.get("/networks/1.json").status_code == 404
        assert c.get("/case.json").json()["detect_runs"] == []


def test_a_parquet_case_without_posts_files_is_served(tmp_path: Path) -> None:
    """A new Parquet case lists no posts file: its index is empty, not a failed read."""
    from trollscope.case import Case

    Case.open(tmp_path / "pq", create=True, parquet=True).close()
    with TestClient(create_app(tmp_path / "pq"), base_url=LOCAL) as c:
        assert c.get("/networks.json").json()["detected"] is False
        assert c.get("/case.json").json()["coverage"] == []
        assert c.get(account("a1", ".json")).status_code == 404


@pytest.mark.parametrize(
    ("host", "warned"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("127.0.0.2", False),
     ("0.0.0.0", True), ("192.168.1.5", True), ("::", True), ("example.org", True)],
)  # fmt: skip
def test_only_loopback_binds_without_a_warning(host: str, warned: bool) -> None:
    warning = host_warning(host)
    assert (warning is not None) is warned
    if warning:
        assert host in warning and "no login" in warning


PACKAGE = Path(__file__).parents[2] / "src" / "trollscope" / "serve"


def test_the_assets_are_bundled_and_fetch_nothing_elsewhere() -> None:
    """No page or script names another origin (no CDN, no web font); the script never
    parses data as HTML or code."""
    files = [*(PACKAGE / "templates").iterdir(), *(PACKAGE / "static").iterdir()]
    assert {f.name for f in files} >= {"dashboard.js", "dashboard.css", "base.html.j2"}
    for f in files:
        # An SVG's namespace is a name, not an address fetched.
        text = f.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http:" not in text and "https:" not in text and "//cdn" not in text, f.name
    script = (PACKAGE / "static" / "dashboard.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_static_files_are_served(client: TestClient) -> None:
    for name, kind in [("dashboard.js", "javascript"), ("dashboard.css", "text/css")]:
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]


@pytest.mark.parametrize(
    ("host", "status"),
    [("127.0.0.1:8001", 200), ("localhost:8001", 200), ("LOCALHOST", 200), ("[::1]:8001", 200),
     ("evil.example", 400), ("127.0.0.1.evil.example:8001", 400), ("", 400)],
)  # fmt: skip
def test_only_this_machine_s_names_are_answered(client: TestClient, host: str, status: int) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: refused."""
    r = client.get("/networks.json", headers={"host": host})
    assert r.status_code == status
    if status == 400:
        assert r.text == "Invalid host header"


def test_beyond_loopback_any_host_is_answered(served_case: Path) -> None:
    assert allowed_hosts("0.0.0.0") is None
    assert "localhost" in (allowed_hosts("127.0.0.1") or ())
    with TestClient(create_app(served_case, allowed_hosts=None), base_url=LOCAL) as c:
        assert c.get("/networks.json", headers={"host": "dashboard.lan"}).status_code == 200


def test_serve_refuses_a_file_that_is_not_a_case(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["serve", str(notes)])
    assert result.exit_code == 1
    assert "is not a trollscope case (not a DuckDB file)" in result.output


def test_serve_help_says_the_default_host() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "127.0.0.1" in result.output
