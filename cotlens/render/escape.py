"""Transcript text and model names are hostile input: make them inert before they reach a terminal or Markdown."""

from __future__ import annotations

import regex

# C0 and C1 control characters (ESC starts terminal escape sequences, CR overwrites a line, NUL truncates in
# some viewers) and the bidirectional controls that reorder what a reader sees (Trojan Source, CVE-2021-42574).
UNSAFE = regex.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(m: regex.Match[str]) -> str:
    code = ord(m[0])
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode Control Pictures: ␀ ␉ ␊ ␍ ␛ ...
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def printable(text: str) -> str:
    """One line of inert text: control and bidi characters shown as visible symbols."""
    return UNSAFE.sub(_visible, text)


MARKDOWN_SPECIAL = regex.compile(r"([\\|`*_\[\]<>#])")


def markdown_cell(text: str) -> str:
    """A Markdown table cell that cannot break the table, inject HTML or make links."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))
