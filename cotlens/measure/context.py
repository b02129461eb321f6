"""Text in context as a terminal shows it: how many display columns a text takes once made inert (an East Asian
wide character 2, a control character shown as one symbol), and a text cut to a number of them. `kwic` cuts its
contexts with these (its JSON and table alike) and lays out its table rows with `kwic_row`."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len

from cotlens.escape import printable
from cotlens.measure.passes import WHITESPACE

# Longer matches (a `re:` term's) are shown cut in the middle.
MATCH_CHARS = 60
# Context is read from this many characters per display column wanted: whitespace runs shrink to one space.
REACH_PER_COLUMN = 4


def display_width(text: str) -> int:
    """Display columns once the renderers made it inert (a control character shows as one symbol)."""
    return cell_len(printable(text))


def _fitting(chars: str, columns: int) -> int:
    """How many of `chars`, taken in order, fit in `columns` display columns."""
    used = 0
    for n, char in enumerate(chars):
        used += display_width(char)
        if used > columns:
            return n
    return len(chars)


def left_context(text: str, start: int, width: int) -> str:
    """What precedes text[start:] in `width` display columns, whitespace runs as one space, "…" where cut."""
    reach = REACH_PER_COLUMN * width
    before = WHITESPACE.sub(" ", text[max(0, start - reach) : start])
    if start <= reach and display_width(before) <= width:
        return before
    return "…" + before[len(before) - _fitting(before[::-1], width - 1) :]


def right_context(text: str, end: int, width: int) -> str:
    """What follows text[:end] in `width` display columns, whitespace runs as one space, "…" where cut."""
    reach = REACH_PER_COLUMN * width
    after = WHITESPACE.sub(" ", text[end : end + reach])
    if end + reach >= len(text) and display_width(after) <= width:
        return after
    return after[: _fitting(after, width - 1)] + "…"


def _shown_match(match: str) -> str:
    flat = WHITESPACE.sub(" ", match)
    if len(flat) <= MATCH_CHARS:
        return flat
    return f"{flat[: MATCH_CHARS // 2]}…{flat[-MATCH_CHARS // 2 :]}"


def kwic_row(record: dict[str, Any], width: int) -> dict[str, Any]:
    """A kwic line's table row: the left context padded to `width` columns, so that the matches line up under
    each other in a wide enough terminal, and the match on one line. Still raw text: the renderers escape it."""
    padding = " " * (width - display_width(record["left"]))
    return {**record, "left": padding + record["left"], "match": _shown_match(record["match"])}
