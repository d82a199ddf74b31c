"""The HTML takedown report: its sections, that it is self-contained, its caps, atomic
writing, and, in a real headless Chromium, that hostile data stays text (no element, no
script, no reordering of the page)."""

from __future__ import annotations

import csv
import random
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tests.detect.test_detect import _farm, _organic, _shares
from trollscope.detect.params import DetectParams
from trollscope.detect.run import detect
from trollscope.errors import TrollscopeError
from trollscope.ingest.readers.base import ReadOptions
from trollscope.ingest.readers.table import parse_mapping
from trollscope.ingest.run import ingest
from trollscope.report import render as report_render
from trollscope.report import write_report
from trollscope.report.data import shown
from trollscope.report.plots import heatmap_svg

FARM = [f"f{m}" for m in range(5)]
DAY = 86_400
# Every heading a report of a case with a network must have (written out here, not taken
# from the template, so that a heading lost from the template fails this test).
HEADINGS = [
    "Summary",
    "Data covered",
    "Networks found",
    "Method and provenance",
    "Method",
    "Parameters",
    "Provenance",
    "Tool",
    "Network 1",
    "Why",
    "Strongest evidence",
    "Members",
    "Account creation",
    "Posting hours",
    "Hashtags pushed",
    "Accounts amplified and attacked",
    "Near-identical posts",
    "Network drawing",
    "Limitations",
]

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PWN = "<img src=x onerror=\"document.title='pwned'\">"
RLO = "left\u202eright"  # U+202E RIGHT-TO-LEFT OVERRIDE
ZERO_WIDTH = "zero\u200bwidth\u200djoin"
LONG_BIO = "B" * 10_000
PERSIAN = "این یک پیام هماهنگ است"
HOSTILE_HANDLES = [SCRIPT, IMG, RLO, ZERO_WIDTH, PWN]


# --- building cases ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Organic reposting plus one five-account farm (as in test_detect), detected; the
    farm's accounts were created within an hour of each other, the others over years.
    Four of the farm wear one picture (a local file), the fifth its own; the organic
    accounts give URLs, which the report must neither fetch nor link."""
    folder = tmp_path_factory.mktemp("small")
    case = folder / "case.duckdb"
    rng = random.Random(3)
    t0 = 1_700_000_000
    shared, own = _picture(folder / "shared.png", 40), _picture(folder / "own.png", 200)
    avatars = {f: str(shared if f != "f4" else own) for f in FARM}
    created: dict[str, int] = {}
    path = folder / "posts.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "user", "time", "orig", "created", "avatar"])
        for i, (obj, account, t) in enumerate(_organic(rng) + _farm(rng)):
            if account not in created:
                spread = rng.randrange(3600) if account in FARM else -rng.randrange(1000 * DAY)
                created[account] = t0 - 40 * DAY + spread
            avatar = avatars.get(account, f"https://example.com/{account}.jpg")
            writer.writerow([f"p{i}", account, t0 + t, obj, created[account], avatar])
    mapping = parse_mapping(
        "post_id=id,account_id=user,created_at=time,repost_of=orig,account_created_at=created,"
        "avatar=avatar"
    )
    ingest(case, [path], options=ReadOptions(mapping=mapping))
    detect(case, DetectParams(traces=("co-repost",)))
    return case


def _picture(path: Path, tone: int) -> Path:
    """A 100 x 100 gradient PNG (a stand-in for a profile picture)."""
    image = pytest.importorskip("PIL.Image")
    ramp = (np.add.outer(np.arange(100), np.arange(100)) // 2 + tone // 2).astype(np.uint8)
    image.fromarray(np.stack([ramp, ramp[::-1], np.full_like(ramp, tone)], axis=-1)).save(path)
    return path


@pytest.fixture(scope="module")
def small_report(small_case: Path) -> Path:
    out = small_case.parent / "report.html"
    write_report(small_case, out)
    return out


@pytest.fixture(scope="module")
def hostile_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A farm whose handles, bios, hashtags and copied texts are hostile strings."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = random.Random(3)
    t0 = 1_700_000_000
    rows: list[dict[str, object]] = []

    def row(id_: str, user: str, time: int, orig: str = "", text: str = "", lang: str = "",
            **account: str) -> dict[str, object]:  # fmt: skip
        fields = {"handle": user, "bio": "organic", "tag": ""} | account
        return {"id": id_, "user": user, "time": time, "orig": orig, "text": text,
                "lang": lang, **fields}  # fmt: skip

    def member(m: int) -> dict[str, str]:
        bio = LONG_BIO if m == 0 else HOSTILE_HANDLES[(m + 1) % 5]
        return {"handle": HOSTILE_HANDLES[m], "bio": bio, "tag": HOSTILE_HANDLES[m]}

    for i, (obj, account, t) in enumerate(_organic(rng)):
        rows.append(row(f"r{i}", account, t0 + t, obj))
    for i, (obj, account, t) in enumerate(_farm(rng)):
        rows.append(row(f"fr{i}", account, t0 + t, obj, **member(int(account[1:]))))
    # The farm also copy-pastes: twelve texts, each posted by all five within ten seconds;
    # half in Persian (right to left), half hostile.
    for k in range(12):
        text, lang = (f"{PERSIAN} {k}", "fa") if k % 2 else (f"{SCRIPT} {PWN} {k}", "en")
        for m in range(5):
            t = t0 + k * 3600 + 1800 + rng.randrange(10)
            rows.append(row(f"fp{k}_{m}", f"f{m}", t, "", text, lang, **member(m)))
    for a in range(60):
        for j in range(5):
            text = f"organic words {rng.randrange(10**6)}"
            t = t0 + rng.randrange(12 * 3600)
            rows.append(row(f"op{a}_{j}", f"o{a}", t, "", text, "en", tag="news"))
    path = folder / "hostile.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    case = folder / "case.duckdb"
    mapping = parse_mapping(
        "post_id=id,account_id=user,created_at=time,repost_of=orig,text=text,lang=lang,"
        "handle=handle,bio=bio,hashtags=tag"
    )
    ingest(case, [path], options=ReadOptions(mapping=mapping))
    detect(case, DetectParams(traces=("co-repost", "co-text")))
    return case


def _token(kind: str, m: int) -> str:
    """A 300-character token with nowhere to break: no space, no hyphen, no slash."""
    return f"{kind}{m}".ljust(300, "W" if kind != "url" else "w")


@pytest.fixture(scope="module")
def long_token_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The farm of `small_case`, its members' handles, names, bios, hashtags (one, shared by
    all, so that it is listed), copied texts and the account they amplify each one
    unbreakable 300-character token (URLs too): the evidence lines name the partners by
    those handles."""
    folder = tmp_path_factory.mktemp("long")
    rng = random.Random(3)
    t0 = 1_700_000_000
    rows: list[list[object]] = []
    target = _token("target", 0)
    for i, (obj, account, t) in enumerate(_organic(rng)):
        rows.append([f"r{i}", account, t0 + t, obj, "", "", account, "", "", "", ""])
    for i, (obj, account, t) in enumerate(_farm(rng)):
        m = int(account[1:])
        rows.append(
            [f"fr{i}", account, t0 + t, obj, "", target, _token("handle", m),
             _token("name", m), "https://" + _token("url", m), _token("tag", 0), ""]
        )  # fmt: skip
    for k in range(12):  # each text posted by all five within ten seconds
        for m in range(5):
            rows.append(
                [f"fp{k}_{m}", f"f{m}", t0 + k * 3600 + 1800 + rng.randrange(10), "",
                 f"see https://{_token('url', k)}", "", _token("handle", m), _token("name", m),
                 "https://" + _token("url", m), _token("tag", 0),
                 f"https://example.com/{_token('url', k)}"]
            )  # fmt: skip
    path = folder / "long.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["id", "user", "time", "orig", "text", "ref", "handle", "name", "bio", "tag", "url"]
        )
        writer.writerows(rows)
    case = folder / "case.duckdb"
    mapping = parse_mapping(
        "post_id=id,account_id=user,created_at=time,repost_of=orig,text=text,"
        "ref_account_id=ref,handle=handle,display_name=name,bio=bio,hashtags=tag,urls=url"
    )
    ingest(case, [path], options=ReadOptions(mapping=mapping))
    detect(case, DetectParams(traces=("co-repost", "co-text", "co-link")))
    return case


# --- reading the page ----------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    sections: tuple[str, ...]  # ids of the enclosing <section>s
    classes: tuple[str, ...]  # classes of the enclosing elements and its own
    text: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """Every element with its attributes, enclosing sections and text; the page title."""

    VOID = frozenset(("br", "img", "meta", "link", "input", "hr", "col", "source", "wbr"))

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []
        self.texts: list[str] = []
        self.title: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        parent = self.stack[-1] if self.stack else None
        sections = (parent.sections if parent else ()) + (
            (values.get("id", ""),) if tag == "section" else ()
        )
        classes = (parent.classes if parent else ()) + tuple(values.get("class", "").split())
        element = Element(tag, values, sections, classes)
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack and self.stack[-1].tag == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        for element in self.stack:
            element.text.append(data)
        if self.stack and self.stack[-1].tag == "title" and self.title is None:
            self.title = data

    def find(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def text(self) -> str:
        return "".join(self.texts)


def _headings(page: Page) -> list[str]:
    return ["".join(e.text).strip() for e in page.elements if e.tag in ("h2", "h3")]


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("headless Chromium is not installed (no /usr/bin/chromium, no `chromium` on PATH)")


def _browser(args: list[str], profile: Path) -> str:
    done = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


# --- the report of a small detected case ---------------------------------------------------


def test_report_has_every_section_and_the_farm(small_report: Path) -> None:
    html = small_report.read_text(encoding="utf-8")
    page = Page(html)
    headings = _headings(page)
    for heading in HEADINGS:
        assert heading in headings, heading
    members = {
        "".join(e.text)
        for e in page.find("code")
        if "network-1" in e.sections and "members" in e.classes
    }
    assert members == set(FARM)
    # Self-contained: nothing is loaded from anywhere, nothing runs.
    for element in page.elements:
        for name in ("src", "href", "srcset", "action", "data", "poster", "background"):
            value = element.attrs.get(name, "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "file:")), (element.tag, value)
        assert not any(a.startswith("on") for a in element.attrs), element
    assert not page.find("script") and not page.find("link") and not page.find("iframe")
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    assert "example.com" not in html  # the organic accounts' avatar URLs: not members
    # The method names the null's period the detection ran with (six hours by default).
    assert "in each 6-hour period" in html and "within the hour" not in html


def test_avatar_gallery_embeds_the_shared_picture(small_report: Path) -> None:
    page = Page(small_report.read_text(encoding="utf-8"))
    assert "Avatar reuse" in _headings(page)
    images = [e for e in page.find("img") if "network-1" in e.sections]
    assert len(images) == 1  # one group: f0-f3; f4's own picture is not reuse
    assert images[0].attrs["src"].startswith("data:image/png;base64,")
    caption = "".join(page.find("figcaption")[0].text)
    assert "4 members" in caption and all(f"@{f}" in caption for f in FARM[:4])
    assert "@f4" not in caption


def test_no_network_still_reports(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [_shares(tmp_path, _organic(random.Random(3)))])
    result = detect(case_path, DetectParams(traces=("co-repost",)))
    assert result.networks == 0
    out = tmp_path / "report.html"
    summary = write_report(case_path, out)
    page = Page(out.read_text(encoding="utf-8"))
    headings = _headings(page)
    assert {"Summary", "Data covered", "Method", "Provenance", "Limitations"} <= set(headings)
    assert not any(h.startswith("Network ") for h in headings)
    assert "No network passed" in page.text()
    assert summary.networks == 0 and summary.members_listed == 0


def test_members_are_capped_and_the_page_says_how_many_more(
    small_case: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    summary = write_report(small_case, out, max_members=2)
    page = Page(out.read_text(encoding="utf-8"))
    listed = [e for e in page.find("details") if "member" in e.attrs.get("class", "")]
    assert len(listed) == 2
    assert "and 3 more members not listed" in re.sub(r"\s+", " ", page.text())
    assert (summary.members_listed, summary.members_omitted) == (2, 3)
    # A small case gives a small page (the 1M-post case gives about 1 MB).
    assert out.stat().st_size < 200_000


def test_a_case_without_detection_is_a_clear_error(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [_shares(tmp_path, _organic(random.Random(3)))])
    out = tmp_path / "report.html"
    with pytest.raises(TrollscopeError, match="trollscope detect"):
        write_report(case_path, out)
    assert not out.exists()


def test_a_failed_write_leaves_the_old_report(
    small_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report.html"
    out.write_text("the previous report", encoding="utf-8")

    def broken(data: object) -> str:
        raise RuntimeError("template failed")

    monkeypatch.setattr(report_render, "render", broken)
    with pytest.raises(RuntimeError, match="template failed"):
        write_report(small_case, out)
    assert out.read_text(encoding="utf-8") == "the previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_the_drawing_is_reproducible(small_case: Path, tmp_path: Path) -> None:
    drawings = []
    for name in ("a.html", "b.html"):
        write_report(small_case, tmp_path / name)
        html = (tmp_path / name).read_text(encoding="utf-8")
        drawings.append(re.findall(r'<svg class="chart graph".*?</svg>', html, re.S))
    assert len(drawings[0]) == 1 and drawings[0] == drawings[1]


def test_displayed_strings_lose_bidi_controls_and_are_cut() -> None:
    assert shown("a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j") == "abcdefghij"
    assert shown(ZERO_WIDTH) == ZERO_WIDTH  # zero-width characters cannot reorder text
    cut = shown(LONG_BIO, 500)
    assert len(cut) == 500 and cut.endswith("…")
    svg = heatmap_svg([0] * 168, f"{SCRIPT}{RLO}")
    assert "<script" not in svg and "&lt;script&gt;" in svg and "\u202e" not in svg


def test_evidence_keeps_p_values_and_dates_whole_and_escaped() -> None:
    whole = report_render.environment().filters["whole"]
    got = str(
        whole(
            "as @<b>\u202ex</b> on 2024-02-21 10:00 (1-2-3); p = 3.7e-19 and p < 1e-300, "
            "Mon-Fri 09-18 UTC+3:30"
        )
    )
    assert got == (
        'as @&lt;b&gt;x&lt;/b&gt; on <span class="whole">2024-02-21 10:00</span> '
        '(<span class="whole">1-2-3</span>); <span class="whole">p = 3.7e-19</span> and '
        '<span class="whole">p &lt; 1e-300</span>, <span class="whole">Mon-Fri</span> '
        '<span class="whole">09-18</span> <span class="whole">UTC+3:30</span>'
    )


# --- hostile data in a real browser --------------------------------------------------------


def test_hostile_strings_stay_text_in_chromium(hostile_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    summary = write_report(hostile_case, out)
    assert summary.networks == 1
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "\u202e" not in html
    dom = _browser(["--dump-dom", out.as_uri()], tmp_path / "profile")
    page = Page(dom)
    assert page.find("section"), "Chromium dumped no report"
    assert not page.find("script")
    assert not any(e.tag == "img" and "onerror" in e.attrs for e in page.elements)
    assert not any(a.startswith("on") for e in page.elements for a in e.attrs)
    # An onerror handler that had run would have renamed the page.
    assert page.title is not None and "pwned" not in page.title
    text = page.text()
    for hostile in (SCRIPT, IMG, PWN, ZERO_WIDTH, "leftright"):
        assert hostile in text, hostile
    assert "\u202e" not in dom  # neutralised, not merely escaped
    assert "B" * 400 in text and "B" * 600 not in text  # the 10,000-character bio, cut
    # The copied texts side by side, each in its own language and direction.
    posts = [e for e in page.elements if "post" in e.classes and "text" in e.attrs.get("class", "")]
    assert posts and all(e.attrs.get("dir") == "auto" for e in posts)
    persian = [e for e in posts if PERSIAN in "".join(e.text)]
    assert persian and all(e.attrs.get("lang") == "fa" for e in persian)
    assert any(SCRIPT in "".join(e.text) for e in posts)
    # No pictures on disk in this case: no gallery at all.
    assert "Avatar reuse" not in _headings(page) and not page.find("img")


def test_screenshot_of_the_report_is_not_blank(small_report: Path, tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    png = tmp_path / "report.png"
    _browser(
        [f"--screenshot={png}", "--window-size=1200,2000", small_report.as_uri()],
        tmp_path / "profile",
    )
    image = cv2.imread(str(png))
    assert image is not None and image.shape[:2] == (2000, 1200)
    assert float(image.std()) > 20  # text, tables and charts, not a blank page
    dom = Page(_browser(["--dump-dom", small_report.as_uri()], tmp_path / "profile"))
    charts = {c for e in dom.find("svg") if "network-1" in e.sections for c in e.classes}
    assert {"chart", "creation", "heatmap", "graph"} <= charts


def _logged(uri: str, profile: Path) -> tuple[str, str]:
    """The DOM and Chromium's log (console messages included) of a page."""
    done = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", f"--user-data-dir={profile}", "--dump-dom", uri],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout, done.stderr


def test_the_report_renders_without_console_messages(small_report: Path, tmp_path: Path) -> None:
    """Chromium logs every console message (errors included) with --enable-logging; the
    report has no script, so a message would mean the page or the browser found fault."""
    dom, log = _logged(small_report.as_uri(), tmp_path / "profile")
    assert "</html>" in dom
    assert ":CONSOLE" not in log, log
    # The check can fail: the same browser does log a page's console errors.
    faulty = tmp_path / "faulty.html"
    faulty.write_text("<html><body><script>console.error('x')</script></body></html>", "utf-8")
    assert ":CONSOLE" in _logged(faulty.as_uri(), tmp_path / "profile")[1]


# --- the demo's report (make demo: 50k simulated posts over 7 days, twarc2, `scan`) --------


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from trollscope.cli import cli
    from trollscope.simulate import SimulationConfig, simulate

    folder = tmp_path_factory.mktemp("demo")
    simulate(SimulationConfig(posts=50_000, days=7), folder / "sim", formats=("twarc2",))
    result = CliRunner().invoke(
        cli, ["scan", str(folder / "sim" / "twarc2.jsonl"), "-o", str(folder / "scan")]
    )
    assert result.exit_code == 0, result.output
    return folder / "scan" / "report.html"


def test_the_demo_report_renders_cleanly_with_its_charts(demo_report: Path, tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    dom, log = _logged(demo_report.as_uri(), tmp_path / "profile")
    assert ":CONSOLE" not in log, log
    page = Page(dom)
    charts = {c for e in page.find("svg") if "network-1" in e.sections for c in e.classes}
    assert {"chart", "creation", "heatmap", "graph"} <= charts
    png = tmp_path / "demo.png"
    _browser(
        [f"--screenshot={png}", "--window-size=1200,2000", demo_report.as_uri()],
        tmp_path / "profile",
    )
    image = cv2.imread(str(png))
    assert image is not None and float(image.std()) > 20


# --- long unbreakable tokens ---------------------------------------------------------------

# Appended to a copy of the report (the report itself has no script): how wide the page
# is against its viewport, the outermost elements that stick out, and the p-values and
# dates in the page's text that a line break cuts in two.
MEASURE = """<script>
const root = document.documentElement;
const right = (e) => e.getBoundingClientRect().right;
const out = [...document.body.querySelectorAll("*")].filter(
  (e) => right(e) > root.clientWidth + 0.5 && right(e.parentElement) <= root.clientWidth + 0.5);
const broken = [];
// p-values, dates (with a time), time zones, days and hours from-to: never cut.
const TOKENS = new RegExp(["p [=<] [0-9.]+(?:e-[0-9]+)?",
  "[0-9]{4}-[0-9]{2}-[0-9]{2}(?: [0-9]{2}:[0-9]{2})?", "UTC[+-][0-9]{1,2}(?::[0-9]{2})?",
  "\\\\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)-(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\\\\b",
  "\\\\b[0-9]{2}-[0-9]{2}\\\\b"].join("|"), "g");
const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = texts.nextNode(); node; node = texts.nextNode()) {
  for (const m of node.data.matchAll(TOKENS)) {
    const range = document.createRange();
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (tops.size > 1) broken.push(m[0]);
  }
}
document.body.dataset.measured = [root.scrollWidth, root.clientWidth, broken.length,
                                  root.scrollHeight].join(" ");
document.body.dataset.out = out.map((e) => e.tagName + "." + e.className).join(" ");
document.body.dataset.broken = broken.slice(0, 5).join(", ");
</script>"""


@dataclass(frozen=True)
class Measured:
    scroll_width: int
    client_width: int
    sticking_out: str  # the outermost elements wider than the viewport
    broken: int  # p-values and dates cut by a line break
    broken_examples: str
    height: int  # of the whole page, in CSS pixels


def _measured(report: Path, width: int, folder: Path) -> Measured:
    """How the report lies in a window `width` pixels wide."""
    page = folder / f"measured-{width}.html"
    page.write_text(
        report.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), "utf-8"
    )
    dom = _browser([f"--window-size={width},1000", "--dump-dom", page.as_uri()], folder / "p")
    found = re.search(r'data-measured="(\d+) (\d+) (\d+) (\d+)"', dom)
    assert found, "the measuring script did not run"

    def attribute(name: str) -> str:
        value = re.search(f'data-{name}="([^"]*)"', dom)
        return unescape(value[1]) if value else ""

    return Measured(
        int(found[1]),
        int(found[2]),
        attribute("out"),
        int(found[3]),
        attribute("broken"),
        int(found[4]),
    )


@pytest.mark.parametrize("width", [800, 1280, 1920])
def test_long_unbreakable_tokens_stay_inside_the_page(
    long_token_case: Path, tmp_path: Path, width: int
) -> None:
    """Handles, names, bios, hashtags, URLs and the evidence lines that name partners
    wrap inside their cells; p-values and dates do not (a p-value cut after "e-", a date
    after its month, were read wrongly)."""
    report = tmp_path / "report.html"
    write_report(long_token_case, report)
    text = report.read_text(encoding="utf-8")
    assert _token("handle", 1)[:100] in text and _token("tag", 0).lower()[:100] in text
    got = _measured(report, width, tmp_path)
    assert got.client_width > width * 0.9, got  # the window is the size asked for
    assert got.scroll_width <= got.client_width, (
        f"{got.scroll_width} px wide in a {got.client_width} px viewport; "
        f"sticking out: {got.sticking_out}"
    )
    assert got.broken == 0, f"{got.broken} p-values or dates cut: {got.broken_examples}"


def test_p_values_and_dates_in_evidence_stay_whole(small_report: Path, tmp_path: Path) -> None:
    """The members table of an ordinary report, in a narrow window: the evidence column
    wraps its lines between words, never inside "p = 4.9e-12" or "2023-10-05"."""
    got = _measured(small_report, 800, tmp_path)
    assert got.scroll_width <= got.client_width, got
    assert got.broken == 0, f"{got.broken} p-values or dates cut: {got.broken_examples}"


# --- reading it as a new user (issue 22) ---------------------------------------------------

# The demo's report (4 networks, the largest of 150 accounts) at each width: no element
# wider than the window, no token cut, and at most this tall (it was 109,000 px at 1280 px
# with every member's evidence open; README states these bounds).
DEMO_HEIGHT = {800: 30_000, 1280: 20_000, 1920: 20_000}


@pytest.mark.parametrize("width", sorted(DEMO_HEIGHT))
def test_the_demo_report_fits_every_width(demo_report: Path, tmp_path: Path, width: int) -> None:
    got = _measured(demo_report, width, tmp_path)
    assert got.client_width > width * 0.9, got
    assert got.scroll_width <= got.client_width, (
        f"{got.scroll_width} px wide in a {got.client_width} px viewport; "
        f"sticking out: {got.sticking_out}"
    )
    assert got.broken == 0, f"{got.broken} tokens cut: {got.broken_examples}"
    assert got.height < DEMO_HEIGHT[width], f"{got.height} px tall at {width} px"


def _members_of(page: Page, rank: int) -> list[Element]:
    return [
        e
        for e in page.find("details")
        if f"network-{rank}" in e.sections and "member" in e.attrs.get("class", "").split()
    ]


def test_members_beyond_twenty_are_folded(demo_report: Path) -> None:
    page = Page(demo_report.read_text(encoding="utf-8"))
    members = _members_of(page, 1)
    assert len(members) == 150  # the demo's first network, all listed (cap: 200)
    shown_first = [m for m in members if "more" not in m.classes]
    folded = [m for m in members if "more" in m.classes]
    assert (len(shown_first), len(folded)) == (20, 130)
    # The strongest member is open as an example; every other one is closed, and so is
    # the fold that holds the 130.
    assert [("open" in m.attrs) for m in shown_first] == [True] + [False] * 19
    assert not any("open" in m.attrs for m in folded)
    more = [e for e in page.find("details") if "more" in e.attrs.get("class", "").split()]
    assert more and not any("open" in e.attrs for e in more)
    assert "130 more members" in "".join(more[0].text)


def test_every_member_shows_its_identity_evidence(demo_report: Path) -> None:
    """Each listed member's flagged identity signals, in the words account_signals keeps
    (read here from the case, not from the report's code), inside that member's entry."""
    import duckdb

    con = duckdb.connect(str(demo_report.parent / "case.duckdb"), read_only=True)
    try:
        rows = con.execute(
            """SELECT s.account_id, s.evidence FROM account_signals s
               JOIN account_scores m USING (platform, account_id)
               WHERE s.flagged AND coalesce(s.evidence, '') <> '' AND m.network = 1"""
        ).fetchall()
    finally:
        con.close()
    expected: dict[str, list[str]] = {}
    for account, evidence in rows:
        expected.setdefault(str(account), []).append(str(evidence))
    page = Page(demo_report.read_text(encoding="utf-8"))
    checked = 0
    for member in _members_of(page, 1):
        text = "".join(member.text)
        account = re.search(r"Account id (\S+) on", text)
        assert account, text[:200]
        for evidence in expected.get(account[1], []):
            assert evidence in text, (account[1], evidence)
            checked += 1
    assert checked >= 150 * 3  # creation burst, profile, rhythm: every member of the farm


def test_charts_have_axes_ticks_and_colour_scales(small_case: Path, small_report: Path) -> None:
    import duckdb

    html = small_report.read_text(encoding="utf-8")
    creation = re.search(r'<svg class="chart creation".*?</svg>', html, re.S)
    assert creation
    dates = re.findall(r'<text class="tick"[^>]*>(\d{4}-\d{2}-\d{2})</text>', creation[0])
    assert len(dates) >= 4 and dates == sorted(dates)  # a dated time axis, not its ends only
    counts = re.findall(r'<text class="tick"[^>]*>([\d,]+)</text>', creation[0])
    assert counts[0] == "0" and len(counts) >= 3  # a count axis
    heat = re.search(r'<svg class="chart heatmap".*?</svg>', html, re.S)
    assert heat and 'class="colourbar"' in heat[0]
    # The scale runs from 1 to the busiest hour of the farm, counted here from the posts.
    con = duckdb.connect(str(small_case), read_only=True)
    try:
        busiest = con.execute(
            f"""SELECT max(n) FROM (SELECT count(*) AS n FROM posts
                WHERE account_id IN ({", ".join(f"'{f}'" for f in FARM)})
                GROUP BY isodow(created_at), hour(created_at))"""
        ).fetchall()[0][0]
    finally:
        con.close()
    bar = heat[0][heat[0].index('class="colourbar"') :]
    labels = re.findall(r'<text class="tick"[^>]*>([\d,]+)</text>', bar)
    assert labels[:2] == ["1", f"{busiest:,}"]


def test_a_dense_network_is_drawn_as_one(tmp_path: Path) -> None:
    """A complete graph of 120 accounts has 7,140 links, more than are drawn: every account
    keeps its share of the drawn ones (the strongest-first cut drew a third of them linked
    and the rest bare, in three clusters), and the page says the graph is complete."""
    from trollscope.report.data import EDGES_PER_NETWORK, Graph, GraphEdge
    from trollscope.report.plots import drawn_edges, graph_svg, layout

    n = 120
    edges = tuple(GraphEdge(a, b, "co-repost") for a in range(n) for b in range(a + 1, n))
    graph = Graph(tuple(f"a{i}" for i in range(n)), edges, n, len(edges))
    assert graph.complete and len(edges) > EDGES_PER_NETWORK
    drawn = drawn_edges(graph)
    assert len(drawn) == EDGES_PER_NETWORK
    degree = [0] * n
    for e in drawn:
        degree[e.a] += 1
        degree[e.b] += 1
    fair = 2 * EDGES_PER_NETWORK / n
    assert min(degree) > fair / 2, min(degree)
    # One cluster: no account lies far from the others' centre (a split layout puts
    # whole groups near the corners of the unit square).
    points = layout(graph).points
    cx = sum(x for x, _ in points) / n
    cy = sum(y for _, y in points) / n
    assert max(((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 for x, y in points) < 0.6
    assert graph_svg(graph, layout(graph), "#000").count("<circle") == n


def test_dense_demo_network_says_it_is_complete(demo_report: Path) -> None:
    text = re.sub(r"\s+", " ", Page(demo_report.read_text(encoding="utf-8")).text())
    assert "Every two accounts drawn are linked (a complete graph)" in text
    assert "an even sample; all of them placed the accounts" in text


def test_pair_evidence_keeps_its_two_counts_apart() -> None:
    from trollscope.detect.evidence import line
    from trollscope.report.words import pair_line

    # Detection writes each count in its own sentence (exports, detect --json, serve).
    assert line("co-repost", 60, 5, 11, 1.4, -30.0, "@x", 21_600) == (
        "reposted 5 of the same posts as @x within 60 s (p = 9.4e-14). Within the same "
        "6-hour period the two shared 11 items, where chance predicts 1.4."
    )
    # A case detected by an older version has both counts side by side: the report
    # rewords those lines the same way.
    old = (
        "reposted 5 of the same posts as @x within 60 s (11 in the same 6-hour period "
        "where 1.4 were expected by chance); p = 9.4e-14"
    )
    assert pair_line(old) == line("co-repost", 60, 5, 11, 1.4, -30.0, "@x", 21_600)
    assert pair_line("a line of another shape") == "a line of another shape"


def test_parameters_are_named_in_words(small_report: Path) -> None:
    page = Page(small_report.read_text(encoding="utf-8"))
    rows = {
        "".join(r.text).strip()
        for r in page.find("tr")
        if "method" in r.sections and "".join(r.text).strip()
    }
    flat = {re.sub(r"\s+", " ", r) for r in rows}
    assert any(r.startswith("Period of the popularity null6 hours") for r in flat), flat
    assert any(r.startswith("Timeline shift of the synchrony null30 min") for r in flat), flat
    assert any(r.startswith("Community detection runs (Leiden)") for r in flat), flat
    # The case's own key is there to look up, but never as the name.
    names = ["".join(r.text).strip() for r in page.find("td") if "method" in r.sections]
    assert "period_s" in names and not any(n.startswith("period_s ") for n in names)


def test_no_network_is_not_shown_as_an_all_clear(tmp_path: Path, case_path: Path) -> None:
    ingest(case_path, [_shares(tmp_path, _organic(random.Random(3)))])
    detect(case_path, DetectParams(traces=("co-repost",)))
    out = tmp_path / "report.html"
    write_report(case_path, out)
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    said = [e for e in page.find("p") if "No network passed" in "".join(e.text)]
    assert len(said) == 1 and said[0].attrs.get("class") == "none"
    # Nothing on the page is green: the old "ok" verdict colour (#2f6b2f) is gone.
    assert "#2f6b2f" not in html.lower() and "green" not in html.lower()


def test_lists_hold_what_enough_members_used(hostile_case: Path, tmp_path: Path) -> None:
    """Each of the five farm members tagged its own (hostile) hashtag: none is the
    network's, so none is listed, and the page says how many were left out and why."""
    out = tmp_path / "report.html"
    write_report(hostile_case, out)
    page = Page(out.read_text(encoding="utf-8"))
    text = re.sub(r"\s+", " ", page.text())
    assert "No hashtag used by 3 or more members." in text
    assert "5 more used by fewer than 3 members, not listed." in text
    headers = ["".join(e.text) for e in page.find("th") if "network-1" in e.sections]
    assert "Hashtag" not in headers


def test_hashtags_and_mentions_in_posts_keep_their_sigil() -> None:
    """In a right-to-left post, "#Statement1A" showed as "Statement1A#": each hashtag or
    mention is isolated in its own <bdi>, and stays escaped."""
    isolated = report_render.environment().filters["isolated"]
    got = str(isolated(f"{PERSIAN} #Statement1A @<b>x\u202e</b> #{SCRIPT}"))
    assert got == (
        f"{PERSIAN} <bdi>#Statement1A</bdi> <bdi>@&lt;b&gt;x&lt;/b&gt;</bdi> "
        "<bdi>#&lt;script&gt;alert(1)&lt;/script&gt;</bdi>"
    )


def test_the_card_shows_the_strongest_evidence(small_case: Path, small_report: Path) -> None:
    """The card's first evidence line is the strongest test of the network's members, as
    the case records it (its numbers and p-value, read here from account_evidence)."""
    import duckdb

    con = duckdb.connect(str(small_case), read_only=True)
    try:
        keys, shared, line = con.execute(
            """SELECT keys, shared, line FROM account_evidence
               ORDER BY log_p, account_id, rank LIMIT 1"""
        ).fetchall()[0]
    finally:
        con.close()
    page = Page(small_report.read_text(encoding="utf-8"))
    items = [
        re.sub(r"\s+", " ", "".join(e.text))
        for e in page.find("li")
        if "strongest" in e.classes and "network-1" in e.sections
    ]
    assert 1 <= len(items) <= 3
    p_value = re.search(r"p [=<] \S+$", line)
    assert p_value and p_value[0] in items[0], (line, items[0])
    assert f" {keys} " in items[0] and f" {shared} " in items[0]
