"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright without a browser download), served by the real `trollscope serve` in a
subprocess. On a demo case (simulated like `make demo`'s, smaller): each page type loads
without a console error, the charts and the graph draw, a click goes network -> member ->
partner. On the hostile case (tests/serve/conftest.py): the same click-through, and no
payload runs. And the members' live search, and a 2,000-node graph laid out."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.command import serve as _serve

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = os.environ.get("TROLLSCOPE_CHROMIUM", "/usr/bin/chromium")


def _chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not found:
        pytest.skip(f"headless Chromium is not installed (no {CHROMIUM}, no `chromium` on PATH)")
    return found


def _served(case: Path) -> Iterator[str]:
    proc, said = _serve(case)
    url = said.split(" at ", 1)[1].split(" ", 1)[0].rstrip("/")
    assert url.startswith("http://127.0.0.1:")  # the default: this machine only
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(served_case: Path) -> Iterator[str]:
    """The hostile case, served."""
    yield from _served(served_case)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo case served: `make demo`'s simulated data (twarc2, planted farms and
    communities) at 20,000 posts over three days, detected on co-repost and co-text
    (four networks; 3 s to build)."""
    from trollscope.detect.params import DetectParams
    from trollscope.detect.run import detect
    from trollscope.ingest.run import ingest
    from trollscope.simulate import SimulationConfig, simulate

    folder = tmp_path_factory.mktemp("demo")
    simulate(SimulationConfig(posts=20_000, days=3), folder / "sim", formats=("twarc2",))
    case = folder / "case.duckdb"
    ingest(case, [folder / "sim" / "twarc2.jsonl"])
    detect(case, DetectParams(traces=("co-repost", "co-text")))
    yield from _served(case)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


class Watched:
    """A page that records console errors, uncaught exceptions, failed requests, error
    responses and dialogs (an alert() would mean a hostile string ran)."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self.console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("response", self.response)

        def dialog(d: Any) -> None:
            self.problems.append(f"dialog: {d.message}")
            d.dismiss()

        self.page.on("dialog", dialog)

    def console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.context.close()


def test_demo_click_through_network_member_partner(demo: str, watched: Watched) -> None:
    page = watched.page
    page.goto(demo + "/")
    assert page.locator("#networks tbody tr").count() >= 2
    page.locator("#networks tbody a").first.click()
    page.wait_for_url("**/networks/*")
    page.wait_for_selector("#graph[data-state=laid-out]", timeout=20_000)
    page.wait_for_selector("#hours[data-drawn='168']")
    page.wait_for_selector("#created[data-drawn]")
    page.locator("#members tbody a").first.click()
    page.wait_for_url("**/account?**")
    member = page.url
    page.wait_for_selector("canvas.bars[data-drawn]")  # the timeline
    assert page.locator("#posts tbody tr").count() > 0
    assert "no evidence lines" not in page.inner_text("#evidence")
    page.locator("#partners tbody a").first.click()
    page.wait_for_url("**/account?**")
    assert page.url != member
    assert page.locator("#partners tbody a").count() > 0
    assert watched.problems == []


@pytest.mark.parametrize("path", ["/networks", "/networks/1", "member", "/case"])
def test_demo_each_page_type_loads_cleanly(demo: str, watched: Watched, path: str) -> None:
    page = watched.page
    if path == "member":
        page.goto(demo + "/networks/1.json")
        path = json.loads(page.inner_text("body"))["members"]["rows"][0]["url"]
    page.goto(demo + path)
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").count() == 1
    assert page.locator("table tbody tr").count() > 0
    assert watched.problems == []


def test_hostile_click_through_network_member_partner(server: str, watched: Watched) -> None:
    page = watched.page
    page.goto(server + "/")
    assert page.locator("#networks tbody tr").count() == 2
    page.click("text=Network 1")
    page.wait_for_url("**/networks/1")
    page.wait_for_selector("#graph[data-state=laid-out]", timeout=20_000)
    page.wait_for_selector("#hours[data-drawn='168']")
    assert page.locator("#members tbody tr").count() == 5
    status = page.inner_text("#graph-status")
    assert "5 of 5 members" in status
    # The graph draws on the canvas: some pixels are not blank.
    inked = page.evaluate(
        """() => { const c = document.getElementById('graph');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
    )
    assert inked > 100
    page.locator("#members tbody a").first.click()
    page.wait_for_url("**/account?**")
    member = page.url
    assert page.locator("#partners tbody a").count() == 4
    page.locator("#partners tbody a").first.click()
    page.wait_for_url("**/account?**")
    assert page.url != member
    assert page.locator("#partners tbody a").count() == 4
    assert page.title() != "pwned"
    assert watched.problems == []


def test_live_member_search(server: str, watched: Watched) -> None:
    page = watched.page
    page.goto(server + "/networks/1")
    page.fill("input[name=q]", "f2")
    page.wait_for_selector("form[data-shown='1']")
    assert page.locator("#members tbody tr").count() == 1
    assert "q=f2" in page.url
    assert watched.problems == []


@pytest.mark.parametrize(
    "path",
    ["/networks?lang=fa", "/networks/2", "/account?platform=unknown&id=f0", "/case"],
)
def test_hostile_pages_load_cleanly(server: str, watched: Watched, path: str) -> None:
    page = watched.page
    page.goto(server + path)
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").count() == 1
    assert page.title() != "pwned"
    assert watched.problems == []


def test_a_2000_node_graph_lays_out(server: str, watched: Watched) -> None:
    """The graph view at its cap (2,000 nodes, 20,000 links), fed by a made-up graph.json:
    the layout finishes and a redraw (what pan and zoom cost) stays well under a frame
    budget a person notices."""
    n, links = 2000, []
    for i in range(n):
        for j in range(1, 11):  # ten links each, mostly to nearby ids: clusters
            links.append([i, (i + j * j) % n, "pair" if j % 2 else "burst", "co-repost"])
    body = json.dumps(
        {
            "network": 1,
            "nodes": [
                {"platform": "x", "account_id": f"a{i}", "handle": f"h{i}", "score": 1.0,
                 "url": f"/account?platform=x&id=a{i}"}
                for i in range(n)
            ],
            "links": links,
            "nodes_total": n,
            "links_total": len(links),
        }
    )  # fmt: skip
    page = watched.page
    page.route(
        "**/networks/1/graph.json",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    start = time.monotonic()
    page.goto(server + "/networks/1")
    page.wait_for_selector("#graph[data-state=laid-out]", timeout=30_000)
    laid_out = time.monotonic() - start
    redraw_ms = page.evaluate(
        """() => { const g = document.getElementById('graph').graph; const t = [];
                   for (let i = 0; i < 10; i++) { const s = performance.now(); g.draw();
                                                  t.push(performance.now() - s); }
                   t.sort((a, b) => a - b); return t[5]; }"""
    )
    assert laid_out < 30
    assert redraw_ms < 100, f"a redraw of 2,000 nodes took {redraw_ms:.0f} ms"
    assert watched.problems == []
