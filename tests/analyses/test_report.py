"""`cotlens report`: one self-contained page whose every section is there, whose hostile text (transcripts,
model names, tags, terms) never becomes markup or script, whose size stays bounded, and which a real browser
renders without errors or network requests."""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from cotlens.analyses.report import ReportOptions, _priorities, build_report
from cotlens.analyses.show import Highlight
from cotlens.cli import app
from cotlens.groups import IntervalOptions
from cotlens.ingest import IngestOptions, ingest
from cotlens.lexicon import select_lexicons
from cotlens.render.html import CSS, SCRIPT, SECTIONS, csp_hash, draw_svg, highlighted
from cotlens.runtime.workers import worker_pool
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO
from tests.helpers import chat, write_jsonl

IMG = "<img src=x onerror=alert(1)>"
CLOSE = "</script><script>alert(2)</script>"
LINK = '<a href="javascript:alert(3)">click</a>'
HOSTILE = f"{CLOSE} {IMG} {LINK} <!-- comment \u202eevil\u202c \x00 [bold]x[/bold] \x1b[31m"
LONG_WORD = "w" * 100_000
EVIL_MODEL = f"{IMG}{CLOSE}"
EVIL_TERM = "<b>bold</b>"
# The elements and attributes the page is made of: anything else came from the data.
TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "nav", "a", "main",
    "section", "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd", "details", "summary", "ul", "li",
    "code", "article", "pre", "mark", "span", "script",
    # matplotlib's SVG
    "svg", "g", "path", "defs", "use", "clippath", "rect", "text", "tspan",
}  # fmt: skip
ATTRIBUTES = {
    "lang", "charset", "http-equiv", "content", "name", "id", "href", "class", "data-v", "title",
    # matplotlib's SVG: geometry and presentation
    "xmlns", "xmlns:xlink", "width", "height", "viewbox", "version", "d", "x", "y", "transform", "clip-path",
    "xlink:href", "style", "fill", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-dasharray", "stroke-dashoffset", "font-size", "font-family", "font-weight", "text-anchor", "opacity",
    "fill-opacity", "stroke-opacity", "font-style",
}  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, int]:
    """One report over the demo corpus and hostile transcripts, built once for the module: its HTML, path and
    exit code."""
    root = tmp_path_factory.mktemp("report")
    records = [chat(i, f"Wait, {HOSTILE} 循环 here. {LONG_WORD}", model=EVIL_MODEL) for i in range(4)]
    records += [
        chat(10 + i, "Let me see. " + "I will check it again now. " * 5, model="plain") for i in range(4)
    ]
    records += [chat(20 + i, "Hmm, wait. The sum is 4.", model="plain") for i in range(4)]
    store = Store(root / "store")
    tags = {"<b>k": CLOSE, "javascript:x": IMG}
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    ingest([str(write_jsonl(root / "in.jsonl", records))], store, IngestOptions(tags=tags))
    out = root / "report.html"
    args = [
        "report",
        "--store",
        str(store.root),
        "--out",
        str(out),
        "--baseline",
        "orion-3",
        "--term",
        EVIL_TERM,
    ]
    args += ["--term", "wait", "--fail-if", "ratio(nonlatin_token_share) > 2", "--resamples", "200"]
    result = CliRunner().invoke(app, args)
    assert out.exists(), result.stderr
    return out.read_text(encoding="utf-8"), out, result.exit_code


class Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def test_hostile_text_never_becomes_markup_or_script(page: tuple[str, Path, int]) -> None:
    document, _, _ = page
    parsed = Elements()
    parsed.feed(document)
    assert {tag for tag, _ in parsed.tags} <= TAGS
    for tag, attrs in parsed.tags:
        for name, value in attrs:
            assert name in ATTRIBUTES, (tag, name)
            if name == "href":
                assert value is not None and value.startswith("#"), value
    assert [tag for tag, _ in parsed.tags].count("script") == 1
    assert parsed.scripts == [SCRIPT]
    assert parsed.comments == []
    assert "\u202e" not in document and "\x00" not in document and "\x1b" not in document
    # Each hostile string is there, as text.
    for hostile in (IMG, CLOSE, LINK, EVIL_TERM):
        assert __import__("html").escape(hostile, quote=True) in document


def test_every_section_and_the_policy_are_there(page: tuple[str, Path, int]) -> None:
    document, _, _ = page
    for key, _ in SECTIONS:
        assert f'<section id="{key}">' in document
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', document)
    assert policy is not None
    assert policy[1].startswith("default-src 'none';")
    assert f"style-src {csp_hash(CSS)};" in policy[1] and f"script-src {csp_hash(SCRIPT)};" in policy[1]
    assert document.count("<svg") >= 4  # rates, compare, langmix, loops (and per-term forests)
    assert "every gate passed" not in document and "failed: ratio(nonlatin_token_share)" in document


def test_gates_set_the_exit_code_and_size_is_bounded(page: tuple[str, Path, int]) -> None:
    document, _, code = page
    assert code == 3  # as compare --fail-if
    assert len(document.encode()) < 3_000_000  # 4 transcripts with 100 kB words: cut in the examples


def test_example_rows_link_to_embedded_transcripts(page: tuple[str, Path, int]) -> None:
    document, _, _ = page
    links = set(re.findall(r'href="#(ex-\d+)"', document))
    cards = set(re.findall(r'<article id="(ex-\d+)"', document))
    assert links and links <= cards
    assert '<mark class="term">Wait</mark>' in document
    assert '<span class="codeswitch">循环</span>' in document
    assert '<span class="loop">' in document


def test_a_long_text_keeps_its_start_and_end_with_their_highlights() -> None:
    value = "Wait " + "x" * 10_000 + " loop loop loop"
    marks = [
        Highlight("reasoning", 0, 4, "term", "t"),
        Highlight("reasoning", len(value) - 14, len(value), "loop", ""),
    ]
    shown = highlighted(value, marks, limit=100)
    assert shown.startswith('<mark class="term">Wait</mark>')
    assert shown.endswith('<span class="loop">loop loop loop</span>')
    assert "[… 9,920 characters cut …]" in shown


def test_report_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--store", str(tmp_path), "--fail-if", "p(voice) < 1"])
    assert result.exit_code == 2 and "--baseline" in result.stderr


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_OWN = re.compile(r"https?://([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com)/")


def test_a_real_browser_renders_it_offline_without_errors(
    page: tuple[str, Path, int], tmp_path: Path
) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it when it can)")
    _, path, _ = page
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    flags += ["--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}"]
    # The browser's own traffic (component updates, sync) off: any request left is the page's.
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    netlog = tmp_path / "net.json"
    dom = subprocess.run(
        [*flags, f"--log-net-log={netlog}", "--virtual-time-budget=2000", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for key, _ in SECTIONS:
        assert f'id="{key}"' in dom.stdout
    console = [
        line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Content Security Policy" in line
    ]
    assert console == []
    events = json.loads(netlog.read_text() or "{}").get("events", []) if netlog.exists() else []
    urls = {str(e.get("params", {}).get("url", "")) for e in events}
    remote = [u for u in urls if u.startswith(("http:", "https:", "ws:", "wss:", "ftp:"))]
    # Chromium calls its own services (time, updates, accounts, dictionaries) whatever the flags: not the page.
    assert [u for u in remote if not BROWSER_OWN.match(u)] == []
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1200,900", path.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1200, 900)
        colours = image.convert("L").getextrema()
    assert colours[0] < 100 < colours[1]  # text on a light page, not a blank one


def test_worker_processes_give_the_same_report(page: tuple[str, Path, int]) -> None:
    """On a large store the analyses run in workers (pickled there and back): the same numbers either way."""
    store = Store(page[1].parent / "store")
    options = ReportOptions(baseline="orion-3", examples=1, intervals=IntervalOptions(resamples=200))
    lexicons = select_lexicons(["o3-dialect"], [])
    local = build_report(store, Selection(), lexicons, options)
    with worker_pool(2) as workers:
        pooled = build_report(store, Selection(), lexicons, options, workers=workers)
        assert draw_svg(("langmix", pooled.langmix, False)) == draw_svg(("langmix", local.langmix, False))
    for name in ("rates", "langmix", "loops"):
        assert getattr(pooled, name).rows == getattr(local, name).rows, name
    assert pooled.comparison is not None and local.comparison is not None
    assert pooled.comparison.records == local.comparison.records
    assert [k.rows for k in pooled.keywords] == [k.rows for k in local.keywords]
    assert [e.shown.record["transcript_id"] for e in pooled.examples] == [
        e.shown.record["transcript_id"] for e in local.examples
    ]


def test_example_priorities_are_seeded_and_read_the_id() -> None:
    ids = pa.chunked_array([["0" * 32, "f" * 32, "0123456789abcdef" * 2], ["00000000000001000000"]])
    first, again, other = _priorities(ids, 0), _priorities(ids, 0), _priorities(ids, 1)
    assert first.tolist() == again.tolist() and first.tolist() != other.tolist()
    assert len(set(first.tolist())) == 4  # the first 15 hex digits tell these ids apart
