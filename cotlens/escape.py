"""Transcript text and model names are hostile input: make them inert before they reach a terminal or Markdown."""

from __future__ import annotations

import orjson
import regex

# C0 and C1 control characters (ESC starts terminal escape sequences, CR overwrites a line, NUL truncates in
# some viewers), the line and paragraph separators (a line break to some viewers and JavaScript) and the
# bidirectional controls that reorder what a reader sees (Trojan Source, CVE-2021-42574).
UNSAFE = regex.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


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


# What JSON may carry unescaped but a terminal acts on: DEL and C1 controls (0x9B is a one-byte CSI) and the
# bidirectional controls; and the line and paragraph separators, which JSON allows raw but JavaScript before
# ES2019 and line-oriented tools read as line breaks. orjson escapes only C0 controls, as JSON requires.
JSON_UNSAFE = regex.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_bytes(obj: object, indent: bool = False) -> bytes:
    """JSON with sorted keys in which every character a terminal could act on is a \\u escape: the same
    document to a parser, inert on a screen."""
    options = orjson.OPT_SORT_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    text = orjson.dumps(obj, option=options).decode()
    return JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text).encode()


# A spreadsheet opening a CSV file runs a cell that starts with one of these as a formula (`=HYPERLINK(...)`,
# `@SUM(...)`, `-2+3`), also after leading spaces, and their fullwidth forms. OWASP's "CSV Injection" page lists
# tab and CR too: `printable` has already made those visible symbols.
FORMULA_START = regex.compile(r"^[ \u00a0]*[=+\-@\uff1d\uff0b\uff0d\uff20]")
# A plain number (`-2`, `+1.5`, `-3e-05`, `-1,234`, `-5%`) computes nothing: left as it is, so numbers stay numbers.
PLAIN_NUMBER = regex.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+|(?=\.\d))(?:\.\d*)?(?:[eE][+-]?\d+)?%?$")


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs: control characters made visible as by `printable`,
    and a cell that would start a formula prefixed with an apostrophe (OWASP's rule). Plain numbers are kept."""
    text = printable(text)
    if FORMULA_START.match(text) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text
