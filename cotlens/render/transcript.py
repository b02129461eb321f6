"""`cotlens show` in a terminal: one transcript's header, measurements and texts, its highlights styled (or,
with `plain`, not). Every piece of stored text is made inert line by line: control and bidi characters shown
as symbols, newlines kept, markup never interpreted (Text objects, not markup strings)."""

from __future__ import annotations

import itertools
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from cotlens.analyses.show import MEASURED, TEXTS, Highlight, Shown
from cotlens.escape import printable
from cotlens.render import MISSING, percent

# One style per highlight kind; where highlights overlap their styles combine.
STYLES = {"term": "bold black on yellow", "codeswitch": "bold magenta underline", "loop": "on grey23"}


def inert(text: str) -> str:
    """Stored text made inert with its line breaks kept: every other control character shows as a symbol."""
    return "\n".join(printable(line) for line in text.split("\n"))


def segments(text: str, highlights: list[Highlight]) -> list[tuple[str, frozenset[str]]]:
    """`text` cut at every highlight edge: each piece with the highlight kinds covering it."""
    edges = sorted({0, len(text), *(h.start for h in highlights), *(h.end for h in highlights)})
    edges = [e for e in edges if 0 <= e <= len(text)]
    pieces = []
    for a, b in itertools.pairwise(edges):
        kinds = frozenset(h.kind for h in highlights if h.start < b and h.end > a)
        pieces.append((text[a:b], kinds))
    return pieces


def shown_text(text: str, highlights: list[Highlight], plain: bool) -> Text:
    out = Text()
    for piece, kinds in segments(text, highlights):
        style = "" if plain else " ".join(STYLES[k] for k in sorted(kinds))
        out.append(inert(piece), style=style)
    return out


def header_lines(record: dict[str, Any]) -> list[str]:
    """What the transcript is and where it came from, one fact a line."""
    tags = ", ".join(f"{k}={v}" for k, v in sorted(record["tags"].items())) or MISSING
    flags = [f for f in ("truncated",) if record.get(f)] + [
        f"repaired: {r}" for r in record.get("repairs") or []
    ]
    lines = [
        f"transcript {record['transcript_id']}",
        f"model {record['model']}  dataset {record.get('dataset') or MISSING}  kind {record['reasoning_kind']}"
        + (f"  ({', '.join(flags)})" if flags else ""),
        f"source {record['source_path']}:{record['source_locator']}  format {record['format']}",
        f"tags {tags}",
    ]
    for field in MEASURED:
        if record.get(field):
            lines.append(f"{field}: {measurement_line(record, field)}")
    return lines


def measurement_line(record: dict[str, Any], field: str) -> str:
    """The stored measurements of one text: tokens, language mixing, loop."""

    def value(name: str) -> Any:
        return record.get(f"{field}_{name}")

    tokens, nonlatin = value("tokens_o200k"), value("nonlatin_tokens_o200k")
    share = nonlatin / tokens if tokens and nonlatin is not None else None
    spans = value("codeswitch_spans")
    if value("loop") is None:
        loop = f"loop {MISSING}"
    elif value("loop"):
        loop = f"ends in a loop: {value('loop_unit')!r} ×{value('loop_repeats')}"
    else:
        loop = "no loop"
    reported = record.get("reasoning_tokens_reported") if field == "reasoning" else None
    return ", ".join(
        [
            f"{MISSING if tokens is None else f'{tokens:,}'} o200k tokens"
            + ("" if reported is None else f" ({reported:,} reported)"),
            f"non-Latin token share {percent(share)}",
            f"dominant script {value('dominant_script') or MISSING}",
            f"{MISSING if spans is None else spans} code-switch span(s)",
            loop,
        ]
    )


def transcript_renderable(shown: Shown, plain: bool) -> RenderableType:
    record = shown.record
    parts: list[RenderableType] = [Text(printable(line)) for line in header_lines(record)]
    for field in TEXTS:
        text = record.get(field)
        if text is None:
            continue
        parts.append(Rule(Text(field), align="left", style="" if plain else "dim"))
        parts.append(shown_text(text, [h for h in shown.highlights if h.field == field], plain))
    if not plain:
        legend = Text("highlights: ")
        for kind, label in (("term", "term"), ("codeswitch", "code-switch span"), ("loop", "loop")):
            legend.append(label, style=STYLES[kind])
            legend.append("  ")
        parts += [Rule(style="dim"), legend]
    return Group(*parts)


def print_transcript(shown: Shown, plain: bool, console: Console) -> None:
    """The transcript on `console`; with `plain`, on a console of its width with no colour or highlighting."""
    if plain:
        console = Console(
            file=console.file, width=console.width, no_color=True, highlight=False, color_system=None
        )
    console.print(transcript_renderable(shown, plain), highlight=False)
