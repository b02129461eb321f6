"""The report as one self-contained HTML page: inline CSS, inline SVG figures (render/figures.py), one small
script that sorts a table when its header is clicked; nothing loaded from anywhere. A Content-Security-Policy
in the page forbids every load and admits only its own style and script, by hash.

Everything that came from the store (transcript text, model names, tags, terms, paths) is escaped: control
and bidirectional characters shown as visible symbols (printable), then HTML-escaped, and only ever placed
in element content or quoted attribute values. Figures are matplotlib's SVG with its text escaped by
matplotlib; their style attributes become presentation attributes, so the policy needs no 'unsafe-inline'.

Over 400 lines: the page's CSS and script (about 60 lines of it) and one short function per section; split, the
page's sections would be read across files.
"""

from __future__ import annotations

import base64
import hashlib
import html
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import regex

from cotlens.analyses.show import TEXTS, Highlight
from cotlens.escape import printable
from cotlens.lexicon import CUSTOM
from cotlens.render import MISSING, NUMERIC, cell_text
from cotlens.render.transcript import segments
from cotlens.result import Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from cotlens.analyses.report import Example, Report

# Characters of one text shown in an example: its start and its end, the middle cut (the loop is at the end).
EXAMPLE_CHARS = 6000
# Text cells up to this many characters never wrap.
SHORT = 40
# Terms per lexicon in its per-term figure (the highest rates).
TERMS_SHOWN = 20
# What an example was sampled for, in words (report.FINDINGS' keys; a lexicon's is "NAME terms").
FINDING_LABELS = {
    "codeswitch": "a code-switch span",
    "loop": "ends in a loop",
    "gopher": "over a Gopher threshold",
}

CSS = """
:root{color-scheme:light;--ink:#1d1d1f;--muted:#666;--line:#ddd;--accent:#1f5fa8}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#fafafa}
header{background:#fff;border-bottom:1px solid var(--line);padding:16px 28px}
header h1{margin:0 0 4px;font-size:22px}
nav a{margin-right:14px;color:var(--accent);text-decoration:none}
main{max-width:1100px;margin:0 auto;padding:8px 28px 40px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 20px 16px;margin:18px 0}
h2{font-size:18px;margin:12px 0 8px}
h3{font-size:15px;margin:14px 0 6px}
.meta,.caption{color:var(--muted);font-size:12.5px}
table{border-collapse:collapse;margin:8px 0;font-size:12.5px;max-width:100%;display:block;overflow-x:auto}
th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:left;vertical-align:top;overflow-wrap:break-word;max-width:40em}
th{background:#f3f3f3;cursor:pointer;white-space:nowrap}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.nw{white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:12.5px}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
svg{max-width:100%;height:auto;display:block;margin:6px 0}
svg *{stroke-linejoin:round;stroke-linecap:butt}
details{margin:6px 0}summary{cursor:pointer;color:var(--accent)}
.fail{color:#b00020;font-weight:600}.pass{color:#1b7f3b;font-weight:600}
article{border:1px solid var(--line);border-radius:6px;margin:12px 0;padding:6px 14px;background:#fff}
article:target{outline:3px solid var(--accent)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font:12.5px/1.45 ui-monospace,Menlo,Consolas,monospace;background:#f7f7f7;padding:8px;margin:4px 0;max-height:420px;overflow:auto}
mark.term{background:#ffe168;color:inherit}
span.codeswitch{background:#f3d1f4;text-decoration:underline}
span.loop{background:#dde6f5}
.cut{color:var(--muted);font-style:italic}
.legend span{padding:0 6px;margin-right:8px}
"""

# Sorts a table by the clicked header: numbers by their data-v value, text as text; a second click reverses.
SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var rows = Array.from(body.rows), down = th.dataset.dir !== "asc";
    th.dataset.dir = down ? "asc" : "desc";
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    rows.sort(function (a, b) {
      var x = a.cells[index], y = b.cells[index];
      var p = parseFloat(x.dataset.v), q = parseFloat(y.dataset.v);
      var c = (!isNaN(p) && !isNaN(q)) ? p - q : x.textContent.localeCompare(y.textContent);
      return down ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_STYLE_ATTRIBUTE = regex.compile(r'style="([^"]*)"')


def text(value: Any) -> str:
    """A stored or user-given string, inert in HTML element content and in quoted attribute values."""
    return html.escape(printable(str(value)), quote=True)


def block(value: str) -> str:
    """Stored text with its line breaks kept (for a pre element): every other control character a symbol."""
    return "\n".join(text(line) for line in value.split("\n"))


def csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def content_security_policy() -> str:
    return (
        f"default-src 'none'; style-src {csp_hash(CSS)}; script-src {csp_hash(SCRIPT)}; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )


def inline_svg(figure: Figure) -> str:
    """matplotlib's SVG of the figure, as an element of the page: no XML prolog, no style element or style
    attributes (a policy without 'unsafe-inline' refuses them; presentation attributes draw the same)."""
    from cotlens.render.figures import figure_bytes

    svg = figure_bytes(figure, "svg").decode()
    svg = svg[svg.index("<svg") :]
    svg = regex.sub(r"<style[^>]*>.*?</style>", "", svg, flags=regex.S)
    svg = regex.sub(r"<metadata>.*?</metadata>", "", svg, flags=regex.S)
    return _STYLE_ATTRIBUTE.sub(_presentation, svg)


def _presentation(match: regex.Match[str]) -> str:
    pairs = [p.split(":", 1) for p in match[1].split(";") if ":" in p]
    return " ".join(f'{name.strip()}="{html.escape(value.strip(), quote=True)}"' for name, value in pairs)


# ---- Tables


def html_table(result: Result, links: dict[int, tuple[str, str]] | None = None, caption: bool = True) -> str:
    """A Result's displayed columns as a sortable table; links: row index -> (href, text) of a last column."""
    links = links or {}
    head = "".join(f"<th>{text(c.header.replace(chr(0xA0), ' '))}</th>" for c in result.columns)
    if links:
        head += "<th>examples</th>"
    body = []
    for i, row in enumerate(result.rows):
        cells = []
        for column in result.columns:
            shown = text(cell_text(row, column))
            if column.kind in NUMERIC:
                raw = row.get(column.key)
                value = (
                    f' data-v="{raw}"' if isinstance(raw, int | float) and not isinstance(raw, bool) else ""
                )
                cells.append(f'<td class="num"{value}>{shown}</td>')
            else:  # a short value (a model name) on one line: a table squeezed to the page would fold it
                cells.append(f'<td class="nw">{shown}</td>' if len(shown) <= SHORT else f"<td>{shown}</td>")
        if links:
            href, label = links.get(i, ("", ""))
            cells.append(f'<td><a href="{href}">{text(label)}</a></td>' if href else f"<td>{MISSING}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    out = f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    if caption and result.caption:
        out += f'<p class="caption">{text(result.caption)}</p>'
    return out


# ---- Sections


def report_html(report: Report, workers: Executor | None = None) -> str:
    """The whole page; its figures drawn in `workers` when given (matplotlib takes most of the time here)."""
    anchors = _example_anchors(report.examples)
    jobs = figure_jobs(report)
    drawn = workers.map(draw_svg, jobs.values()) if workers is not None else map(draw_svg, jobs.values())
    svgs = dict(zip(jobs, drawn, strict=True))
    sections = [
        _overview(report),
        _rates(report, anchors, svgs),
        _compare(report, svgs),
        _langmix(report, anchors, svgs),
        _repetition(report, anchors, svgs),
        _keywords(report),
        _examples(report, anchors),
    ]
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title in SECTIONS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>cotlens report</title><style>{CSS}</style></head><body>"
        f'<header><h1>cotlens report</h1><p class="meta">{_summary_line(report)}</p><nav>{nav}</nav></header>'
        f"<main>{''.join(sections)}</main><script>{SCRIPT}</script></body></html>\n"
    )


SECTIONS = (
    ("overview", "Overview"),
    ("rates", "Term rates"),
    ("compare", "Compare"),
    ("langmix", "Language mixing"),
    ("repetition", "Repetition"),
    ("keywords", "Keywords"),
    ("examples", "Examples"),
)


def _section(key: str, body: str) -> str:
    title = dict(SECTIONS)[key]
    return f'<section id="{key}"><h2>{title}</h2>{body}</section>'


def _summary_line(report: Report) -> str:
    models = len(report.models.rows)
    transcripts = sum(int(r.get("transcripts") or 0) for r in report.models.rows)
    return text(
        f"{models} model(s), {transcripts:,} transcripts · cotlens {report.version} · store "
        f"{report.fingerprint} · created {report.created}"
    )


def _overview(report: Report) -> str:
    from cotlens.analyses.report import report_definitions

    items = "".join(
        f"<dt>{text(k)}</dt><dd>{text(_plain(v))}</dd>" for k, v in report_definitions(report).items()
    )
    return _section("overview", f"{html_table(report.models)}<h3>Definitions in force</h3><dl>{items}</dl>")


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return MISSING
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_plain, value)) or MISSING
    return str(value)


FigureJob = tuple[str, Result, bool]


def figure_jobs(report: Report) -> dict[str, FigureJob]:
    """The page's figures by key: (kind, the result it draws, with terms)."""
    jobs: dict[str, FigureJob] = {"rates": ("rates", report.rates, False)}
    for lexicon, shown, _ in _per_term(report.rates):
        jobs[f"terms:{lexicon}"] = ("rates", shown, True)
    if report.comparison is not None:
        jobs["compare"] = ("compare", report.comparison.result, False)
    jobs["langmix"] = ("langmix", report.langmix, False)
    jobs["loops"] = ("loops", report.loops, False)
    return jobs


def draw_svg(job: FigureJob) -> str:
    """One figure of the page as inline SVG (a worker process may draw it)."""
    from cotlens.render import figures

    kind, result, terms = job
    if kind == "rates":
        return inline_svg(figures.rates_figure(result, terms))
    draw = {
        "compare": figures.compare_figure,
        "langmix": figures.langmix_figure,
        "loops": figures.loops_figure,
    }
    return inline_svg(draw[kind](result))


def _per_term(rates: Result) -> list[tuple[str, Result, int]]:
    """Per lexicon: its TERMS_SHOWN terms of highest rate (every group's row of each), and its term count. The
    --term entries (lexicon "terms") are shown term by term already."""
    out = []
    for lexicon in dict.fromkeys(r["lexicon"] for r in rates.rows if r["term"] != "(total)"):
        if lexicon == CUSTOM:
            continue
        rows = [r for r in rates.rows if r["lexicon"] == lexicon and r["term"] != "(total)"]
        highest: dict[str, float] = {}
        for r in rows:
            highest[r["term"]] = max(highest.get(r["term"], 0.0), r["rate_per_1k"] or 0.0)
        kept = set(sorted(highest, key=lambda t: -highest[t])[:TERMS_SHOWN])
        shown = Result(rates.kind, rates.title, rates.columns, [r for r in rows if r["term"] in kept])
        out.append((lexicon, shown, len(highest)))
    return out


def _rates(report: Report, anchors: dict[tuple[str, str], str], svgs: dict[str, str]) -> str:
    rates = report.rates
    totals = [r for r in rates.rows if r["term"] == "(total)" or r["lexicon"] == CUSTOM]
    table = Result(rates.kind, rates.title, rates.columns, totals, caption=rates.caption)
    links = {
        i: (anchors[key], "transcripts")
        for i, r in enumerate(totals)
        if (key := (r["group"], f"lexicon:{r['lexicon']}")) in anchors
    }
    per_term = []
    for lexicon, shown, terms in _per_term(rates):
        note = f" (the {TERMS_SHOWN} of highest rate)" if terms > TERMS_SHOWN else ""
        per_term.append(
            f"<details><summary>{text(lexicon)}: per term{note}</summary>"
            f"{svgs[f'terms:{lexicon}']}{html_table(shown, caption=False)}</details>"
        )
    body = f"{svgs['rates']}{html_table(table, links)}<h3>Per term, on demand</h3>{''.join(per_term)}"
    return _section("rates", body)


def _compare(report: Report, svgs: dict[str, str]) -> str:
    comparison = report.comparison
    if comparison is None:
        return _section(
            "compare", '<p class="meta">No baseline: run <code>cotlens report --baseline MODEL</code>.</p>'
        )
    result = comparison.result
    tables = "".join(
        f"<h3>{text(t.title)}</h3>{html_table(t, caption=False)}" for t in (result, *result.sections)
    )
    gates = ""
    if report.options.gates:
        lines = "".join(f'<li class="fail">failed: {text(line)}</li>' for line in report.gate_failures)
        passed = "" if report.gate_failures else '<li class="pass">every gate passed</li>'
        listed = "".join(f"<li><code>{text(g)}</code></li>" for g in report.options.gates)
        gates = f"<h3>Gates (--fail-if)</h3><ul>{listed}</ul><ul>{lines}{passed}</ul>"
    body = f'{gates}{svgs["compare"]}{tables}<p class="caption">{text(result.caption)}</p>'
    return _section("compare", body)


def _langmix(report: Report, anchors: dict[tuple[str, str], str], svgs: dict[str, str]) -> str:
    result = report.langmix
    links = {
        i: (anchors[key], "spans")
        for i, r in enumerate(result.rows)
        if r["script"] == "(all)" and (key := (r["group"], "codeswitch")) in anchors
    }
    ignored = ", ".join(sorted(report.options.ignore))
    note = f'<p class="meta">Scripts left out: {text(ignored)}.</p>' if ignored else ""
    return _section("langmix", f"{note}{svgs['langmix']}{html_table(result, links)}")


def _repetition(report: Report, anchors: dict[tuple[str, str], str], svgs: dict[str, str]) -> str:
    loops = report.loops
    headline = Result(
        loops.kind, loops.title, loops.columns, [r for r in loops.rows if r["threshold"] is None]
    )
    statistics = Result(
        loops.kind, loops.title, loops.columns, [r for r in loops.rows if r["threshold"] is not None]
    )
    links = {}
    for i, r in enumerate(headline.rows):
        finding = "loop" if r["statistic"] == "loop" else "gopher"
        if (key := (r["group"], finding)) in anchors:
            links[i] = (anchors[key], "transcripts")
    mixing = next(s for s in loops.sections if s.kind == "loops-language-mixing")
    body = (
        f"{svgs['loops']}<h3>Loop share and transcripts over a threshold</h3>"
        f"{html_table(headline, links)}<details><summary>Every Gopher statistic</summary>"
        f"{html_table(statistics)}</details><h3>{text(mixing.title)}</h3>{html_table(mixing)}"
    )
    return _section("repetition", body)


def _keywords(report: Report) -> str:
    sample = (
        f"Words counted in every {report.keywords_every}th row group of the store (a bounded sample). "
        if report.keywords_every > 1
        else ""
    )
    tables = "".join(f"<h3>{text(r.title)}</h3>{html_table(r)}" for r in report.keywords)
    return _section("keywords", f'<p class="meta">{text(sample)}</p>{tables or "<p>No words to count.</p>"}')


# ---- Examples


def _example_anchors(examples: list[Example]) -> dict[tuple[str, str], str]:
    """The anchor of each (model, finding)'s first example card."""
    anchors: dict[tuple[str, str], str] = {}
    for i, example in enumerate(examples):
        for finding in example.findings:
            anchors.setdefault((example.model, finding), f"#ex-{i}")
    return anchors


def _examples(report: Report, anchors: dict[tuple[str, str], str]) -> str:
    if not report.examples:
        return _section("examples", "<p>No examples.</p>")
    legend = (
        '<p class="legend meta">Highlights: <mark class="term">term</mark>'
        '<span class="codeswitch">code-switch span</span><span class="loop">loop</span> · '
        f"a seeded sample (seed {report.options.seed}) of up to {report.options.examples} transcript(s) per model "
        "and finding, chosen from the stored measurements; <code>cotlens show ID</code> prints one whole.</p>"
    )
    cards = [_card(report, i, example) for i, example in enumerate(report.examples)]
    return _section("examples", legend + "".join(cards))


def _card(report: Report, index: int, example: Example) -> str:
    record = example.shown.record
    facts = [
        f"model {record['model']}",
        f"kind {record['reasoning_kind']}",
        f"source {record['source_path']}:{record['source_locator']}",
    ]
    tags = ", ".join(f"{k}={v}" for k, v in sorted(record["tags"].items()))
    if tags:
        facts.append(f"tags {tags}")
    texts = []
    for field in TEXTS:
        value = record.get(field)
        if value:
            marks = [h for h in example.shown.highlights if h.field == field]
            texts.append(f"<h3>{field}</h3><pre>{highlighted(value, marks)}</pre>")
    return (
        f'<article id="ex-{index}"><h3>{text(example.model)} · {text(", ".join(map(finding_label, example.findings)))}</h3>'
        f'<p class="meta">transcript <code>{text(record["transcript_id"])}</code> · {text(" · ".join(facts))}</p>'
        f"{''.join(texts)}</article>"
    )


def finding_label(finding: str) -> str:
    if finding.startswith("lexicon:"):
        return f"{finding.removeprefix('lexicon:')} terms"
    return FINDING_LABELS[finding]


def highlighted(value: str, highlights: list[Highlight], limit: int = EXAMPLE_CHARS) -> str:
    """A text as HTML with its highlights; longer than `limit` characters, its start and its end only."""
    half = limit // 2
    kept = [(0, len(value))] if len(value) <= limit else [(0, half), (len(value) - half, len(value))]
    pieces = segments(value, highlights)
    out = []
    for n, (a, b) in enumerate(kept):
        if n:
            out.append(f'<span class="cut">[… {kept[1][0] - kept[0][1]:,} characters cut …]</span>')
        position = 0
        for piece, kinds in pieces:
            start, end = position, position + len(piece)
            position = end
            low, high = max(a, start), min(b, end)
            if low < high:
                out.append(_wrap(value[low:high], kinds))
    return "".join(out)


def _wrap(piece: str, kinds: frozenset[str]) -> str:
    escaped = block(piece)
    if not piece:
        return ""
    for kind in sorted(kinds):
        tag = "mark" if kind == "term" else "span"
        escaped = f'<{tag} class="{kind}">{escaped}</{tag}>'
    return escaped
