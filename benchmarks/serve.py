"""How fast the dashboard answers on a big case: each page type's JSON twin and HTML page,
timed in-process (Starlette's TestClient over `create_app`: the app and DuckDB, no
network), median and 95th percentile of `--repeat` requests after one warm-up.

The case is the simulator's default scenario (stealth 0, seed 1) at `--posts`, ingested
and detected once and cached in benchmarks/.work (case-serve-N.duckdb; detection runs on
a copy of the ingested case `benchmarks/detection.py` caches). The account timed is the
case's busiest poster among the flagged (the widest scan of `posts` an account page
makes), and an organic one. Target: every page under 300 ms at 10M posts. `--parquet`
times the same case converted to a Parquet case folder (cached beside it).

    .venv/bin/python benchmarks/serve.py --posts 1000000
    .venv/bin/python benchmarks/serve.py --posts 10000000 --traces co-repost --memory-limit 3GB
    .venv/bin/python benchmarks/serve.py --posts 200000 --parquet
    .venv/bin/python benchmarks/serve.py --graph 2000     # the graph view in Chromium
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
TARGET_MS = 300


def detected_case(posts: int, traces: list[str] | None, memory_limit: str | None) -> Path:
    """The cached detected case at `posts` posts, built (simulate, ingest, detect on
    `traces`, or detect's default traces) if missing."""
    tag = "-" + "+".join(traces) if traces else ""
    case = WORK / f"case-serve-{posts}{tag}.duckdb"
    if case.exists():
        return case
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.detection import simulated
    from trollscope.ingest.run import ingest

    folder = simulated("default", posts, 0, 1)
    ingested = WORK / f"case-detect-{folder.name}.duckdb"
    if not ingested.exists():
        ingest(ingested, [folder / "io_tweets.csv"])
    temp = case.with_name(case.name + ".tmp")
    shutil.copy(ingested, temp)
    params = {"memory_limit": memory_limit, **({"traces": tuple(traces)} if traces else {})}
    code = (
        "import sys; from trollscope.detect.params import DetectParams\n"
        "from trollscope.detect.run import detect\n"
        f"detect(sys.argv[1], DetectParams(**{params!r}))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(temp)], check=True)
    os.replace(temp, case)
    return case


def _urls(case: Path) -> list[tuple[str, str]]:
    """(label, path) of every page type, picked from the case (not timed)."""
    from trollscope.case import Case

    opened = Case.open(case, read_only=True)  # a case file or a Parquet case's folder
    con = opened.con
    try:
        network, size = con.execute(
            "SELECT network, size FROM networks ORDER BY size DESC LIMIT 1"
        ).fetchall()[0]
        lang = con.execute(
            "SELECT x.lang FROM (SELECT unnest(languages) AS x FROM networks) "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()[0][0]
        busy = con.execute(
            """SELECT p.platform, p.account_id, count(*) AS n FROM posts p
               SEMI JOIN account_scores s USING (platform, account_id)
               GROUP BY ALL ORDER BY n DESC LIMIT 1"""
        ).fetchall()[0]
        organic = con.execute(
            """SELECT p.platform, p.account_id, count(*) AS n FROM posts p
               ANTI JOIN account_scores s USING (platform, account_id)
               GROUP BY ALL ORDER BY n DESC LIMIT 1"""
        ).fetchall()[0]
    finally:
        opened.close()

    def account(row: tuple[object, ...], suffix: str = "") -> str:
        return f"/account{suffix}?" + urlencode({"platform": row[0], "id": row[1]})

    n = f"/networks/{network}"
    filtered = urlencode({"lang": lang, "sort": "size", "order": "desc"})
    return [
        ("networks", "/networks.json"),
        ("networks, filtered and sorted", "/networks.json?" + filtered),
        (f"network ({size:,} members)", n + ".json"),
        ("network, members searched, page 2", n + ".json?q=a&offset=50"),
        ("network graph", n + "/graph.json"),
        ("network charts", n + "/charts.json"),
        (f"account, flagged ({busy[2]:,} posts)", account(busy, ".json")),
        (f"account, organic ({organic[2]:,} posts)", account(organic, ".json")),
        ("case", "/case.json"),
        ("networks page (HTML)", "/networks"),
        ("network page (HTML)", n),
        ("account page (HTML)", account(busy)),
        ("case page (HTML)", "/case"),
    ]  # fmt: skip


def graph_in_chromium(nodes: int, chromium: str = "/usr/bin/chromium") -> dict[str, float]:
    """The graph view in headless Chromium on a made-up graph of `nodes` nodes and ten
    links each: seconds until the layout is done, and the median ms of one layout
    iteration and of one redraw (what a pan or zoom costs) afterwards."""
    import json

    from playwright.sync_api import Route, sync_playwright

    script = (HERE.parent / "src/trollscope/serve/static/dashboard.js").read_text("utf-8")
    links = [
        [i, (i + j * j) % nodes, "pair" if j % 2 else "burst", "co-repost"]
        for i in range(nodes)
        for j in range(1, 11)
    ]
    graph = json.dumps(
        {
            "network": 1,
            "nodes": [{"handle": f"h{i}", "url": f"/a{i}"} for i in range(nodes)],
            "links": links,
            "nodes_total": nodes,
            "links_total": len(links),
        }
    )
    page_html = (
        '<p id="graph-status"></p><canvas id="graph" width="960" height="600" '
        'data-src="/graph.json"></canvas><script src="/dashboard.js"></script>'
    )

    def answer(route: Route) -> None:
        url = route.request.url
        if url.endswith("/graph.json"):
            route.fulfill(body=graph, content_type="application/json")
        elif url.endswith("/dashboard.js"):
            route.fulfill(body=script, content_type="text/javascript")
        else:
            route.fulfill(body=page_html, content_type="text/html")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.route("http://graph.test/**", answer)
        start = time.monotonic()
        page.goto("http://graph.test/")
        page.wait_for_selector("#graph[data-state=laid-out]", timeout=60_000)
        laid_out = time.monotonic() - start
        ms: dict[str, float] = page.evaluate(
            """() => { const g = document.getElementById('graph').graph;
                       const it = [], dr = [];
                       for (let i = 0; i < 11; i++) {
                         let s = performance.now(); g.iterate(1); it.push(performance.now() - s);
                         s = performance.now(); g.draw(); dr.push(performance.now() - s); }
                       it.sort((a, b) => a - b); dr.sort((a, b) => a - b);
                       return {iteration_ms: it[5], redraw_ms: dr[5]}; }"""
        )
        browser.close()
    return {"layout_s": laid_out, **ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--case", type=Path, help="a detected case to time instead")
    parser.add_argument("--traces", nargs="+", help="detect on these traces only")
    parser.add_argument("--memory-limit", help="DuckDB's memory limit for detect, like 3GB")
    parser.add_argument("--parquet", action="store_true", help="time it as a Parquet case")
    parser.add_argument(
        "--graph", type=int, metavar="NODES", help="time the graph view in Chromium instead"
    )
    args = parser.parse_args()
    if args.graph:
        found = graph_in_chromium(args.graph)
        print(
            f"graph of {args.graph:,} nodes, {10 * args.graph:,} links: laid out in "
            f"{found['layout_s']:.1f} s (page load included); one layout iteration "
            f"{found['iteration_ms']:.1f} ms, one redraw {found['redraw_ms']:.1f} ms"
        )
        return
    WORK.mkdir(exist_ok=True)
    case = args.case or detected_case(args.posts, args.traces, args.memory_limit)
    if args.parquet and not case.is_dir():
        from trollscope.api import convert_case

        folder = case.with_name(case.stem + "-parquet")
        if not folder.exists():
            convert_case(case, folder)
        case = folder

    from starlette.testclient import TestClient

    from trollscope.serve import create_app

    urls = _urls(case)
    files = [f for f in case.rglob("*") if f.is_file()] if case.is_dir() else [case]
    size = sum(f.stat().st_size for f in files) / 2**20
    print(f"case: {case.name}, {size:,.0f} MiB, {os.cpu_count()} cores")
    start = time.perf_counter()
    app = create_app(case)
    started = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"start (open the case, index the posts by account): {started:.1f} s, peak {peak:,} MiB")
    print("\n| page | median ms | p95 ms | max ms |\n|---|---:|---:|---:|")
    worst = 0.0
    with TestClient(app, base_url="http://127.0.0.1:8001") as client:
        for label, path in urls:
            assert client.get(path).status_code == 200, path  # warm-up
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, path
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            worst = max(worst, times[-1])
            print(f"| {label} | {statistics.median(times):.0f} | {p95:.0f} | {times[-1]:.0f} |")
    verdict = "met" if worst < TARGET_MS else "missed"
    print(f"\nslowest request {worst:.0f} ms: target {TARGET_MS} ms {verdict}")


if __name__ == "__main__":
    main()
