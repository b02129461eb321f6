"""Language mixing, exactly as DESIGN.md defines it: letters by script, non-Latin o200k tokens, code-switch spans.

A letter is a character of general category L whose Script is neither Common nor Inherited (so not `٣`, the
combining accent of a decomposed `é`, an emoji, or math `𝑥`; Greek `θ` is a Greek letter). Scripts outside
KNOWN_SCRIPTS are "Other". A non-Latin token is an o200k_base token holding the first UTF-8 byte of at least one
non-Latin letter. The dominant script has the most letters; Latin wins any tie it is part of, and other ties go
to the script first in SCRIPTS order.

Code-switch spans exist only when the dominant script is Latin. A span starts at a non-Latin letter and ends
after a non-Latin letter together with the combining marks right after it (a Devanagari vowel sign or an Arabic
haraka completes the letter before it). Two non-Latin letters, of any non-Latin scripts, are in one span exactly
when no Latin letter and no decimal digit (Nd of any script: `3`, `٣`, `３`) lies between them; anything else may
sit inside: whitespace (line breaks too), punctuation, symbols, emoji, marks, Common letters (`ー`, `𝑥`), other
numerals (`²`, `½`). Offsets are [start, end) indices into the Python string (code points).

How it runs fast: an ASCII text has only Latin letters, counted with a few byte operations. Any other text is
classified as an array of code points through one lookup table over all of Unicode (built once per process from
the `regex` module's tables). Only texts with a non-Latin letter are tokenized, and only around those letters: a
space right after a letter, mark or digit always starts a new o200k_base pre-tokenizer piece (no piece holds a
non-space followed by a space, and matching from there depends only on what follows), and BPE never merges across
pieces, so the stretch between two such spaces is encoded into exactly the tokens the whole text has there.
"""

from __future__ import annotations

import bisect
import gzip
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cotlens.measure.tokens import TOKENIZER, _tokenizer
from cotlens.measure.unicode import KNOWN_SCRIPTS, code_point_ranges

# Scripts as reported: Latin, the other known scripts in KNOWN_SCRIPTS order, then "Other".
SCRIPTS: Final = ("Latin", *(s for s in KNOWN_SCRIPTS if s not in ("Latin", "Common", "Inherited")), "Other")

# Classes in the lookup table: three kinds of non-letter, then one per script (class = _LATIN + index in SCRIPTS).
_NONE, _DIGIT, _MARK, _LATIN = 0, 1, 2, 3
_CLASSES = _LATIN + len(SCRIPTS)
_BREAKS = np.isin(np.arange(_CLASSES), (_LATIN, _DIGIT))  # what ends a code-switch span

# Columns of `script_columns`, each named for its unit; a missing text gives a null in every column.
SCRIPT_COLUMNS: Final = pa.schema(
    [
        ("letters", pa.int64()),
        ("nonlatin_letters", pa.int64()),
        ("letters_by_script", pa.map_(pa.string(), pa.int64())),
        ("nonlatin_tokens_o200k", pa.int64()),
        ("nonlatin_tokens_by_script", pa.map_(pa.string(), pa.int64())),
        ("dominant_script", pa.string()),
        ("codeswitch_spans", pa.int64()),
        ("codeswitch_span_offsets", pa.list_(pa.list_(pa.int64(), 2))),
    ]
)


@dataclass(frozen=True, slots=True)
class ScriptStats:
    """Language-mixing measurements of one text."""

    letters: int
    nonlatin_letters: int
    letters_by_script: dict[str, int]  # non-zero entries only, Latin included, in SCRIPTS order
    tokens: int  # o200k_base tokens of the whole text
    nonlatin_tokens: int
    nonlatin_tokens_by_script: dict[str, int]  # a token with letters of two non-Latin scripts counts for both
    dominant_script: str | None  # None when there are no letters
    spans: list[tuple[int, int]]  # code-switch spans, [start, end) character offsets


class _Measured(NamedTuple):
    latin: int
    nonlatin: dict[str, int]  # letters per non-Latin script, non-zero only, SCRIPTS order
    nonlatin_tokens: int
    nonlatin_tokens_by_script: dict[str, int]
    dominant: str | None
    spans: list[tuple[int, int]]

    @property
    def letters_by_script(self) -> dict[str, int]:
        return {"Latin": self.latin, **self.nonlatin} if self.latin else dict(self.nonlatin)


def measure_scripts(
    texts: Sequence[str | None], tokens: Sequence[int | None] | None = None
) -> list[ScriptStats | None]:
    """Language-mixing measurements of each text; None stays None. `tokens`: the texts' o200k_base counts if the
    caller has them already (ingest does); otherwise they are counted here, which costs more than the rest."""
    count = _tokenizer().count
    out: list[ScriptStats | None] = []
    for i, text in enumerate(texts):
        if text is None:
            out.append(None)
            continue
        m = _measure(text)
        known = tokens[i] if tokens is not None else None
        nonlatin = sum(m.nonlatin.values())
        out.append(
            ScriptStats(
                letters=m.latin + nonlatin,
                nonlatin_letters=nonlatin,
                letters_by_script=m.letters_by_script,
                tokens=int(count(text)) if known is None else known,
                nonlatin_tokens=m.nonlatin_tokens,
                nonlatin_tokens_by_script=m.nonlatin_tokens_by_script,
                dominant_script=m.dominant,
                spans=m.spans,
            )
        )
    return out


def script_columns(texts: Sequence[str | None]) -> dict[str, pa.Array]:
    """SCRIPT_COLUMNS for a batch of texts, as Arrow arrays in text order. Needs no total token counts (ingest
    stores those already), so an ASCII text is never tokenized."""
    columns: tuple[list[Any], ...] = tuple([] for _ in SCRIPT_COLUMNS)
    for text in texts:
        if text is None:
            for column in columns:
                column.append(None)
            continue
        m = _measure(text)
        nonlatin = sum(m.nonlatin.values())
        row = (
            m.latin + nonlatin,
            nonlatin,
            m.letters_by_script,
            m.nonlatin_tokens,
            m.nonlatin_tokens_by_script,
            m.dominant,
            len(m.spans),
            m.spans,
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return {f.name: pa.array(column, f.type) for f, column in zip(SCRIPT_COLUMNS, columns, strict=True)}


def _measure(text: str) -> _Measured:
    if text.isascii():
        # A-Z and a-z are the only ASCII letters, all Latin. Setting bit 5 lowercases A-Z and moves no other
        # byte into a-z; the uint8 subtraction wraps everything below "a" above 25.
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        latin = int(np.count_nonzero(((raw | 0x20) - ord("a")) < 26))
        return _Measured(latin, {}, 0, {}, "Latin" if latin else None, [])
    # Lone surrogates raise here, as they would in the tokenizer and in an Arrow string.
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    classes = np.take(_class_table(), points)
    latin = int(np.count_nonzero(classes == _LATIN))
    if classes.max() <= _LATIN:
        return _Measured(latin, {}, 0, {}, "Latin" if latin else None, [])
    positions = np.flatnonzero(classes > _LATIN)
    scripts = classes[positions]
    nonlatin = _by_script(scripts)
    most = max(nonlatin.values())
    dominant = "Latin" if latin >= most else next(s for s, n in nonlatin.items() if n == most)
    at: list[int] = positions.tolist()
    n_tokens, tokens_by_script = _nonlatin_tokens(text, classes, at, scripts, list(nonlatin))
    spans = _spans(classes, positions, at) if dominant == "Latin" else []
    return _Measured(latin, nonlatin, n_tokens, tokens_by_script, dominant, spans)


def _by_script(classes: npt.NDArray[np.uint8]) -> dict[str, int]:
    """How many of these classes belong to each script: non-zero counts only, SCRIPTS order."""
    counts: list[int] = np.bincount(classes, minlength=_CLASSES)[_LATIN:].tolist()
    return {script: n for script, n in zip(SCRIPTS, counts, strict=True) if n}


def _nonlatin_tokens(
    text: str,
    classes: npt.NDArray[np.uint8],
    at: list[int],
    scripts: npt.NDArray[np.uint8],
    present: list[str],
) -> tuple[int, dict[str, int]]:
    """Tokens holding the first byte of a non-Latin letter: in all, and per script (of those `present`).
    `at`: the letters' positions, `scripts`: their classes."""
    segments = _segments(text, classes, at)
    # Every junction of two segments is a cut (a letter, mark or digit, then a space): one call encodes them all.
    part = "".join(text[a:b] for a, b in segments)
    letters = np.flatnonzero(np.concatenate([classes[a:b] for a, b in segments]) > _LATIN)
    token_ends = np.cumsum(np.take(_token_lengths(), _tokenizer().encode(part)))
    raw = np.frombuffer(part.encode("utf-8"), dtype=np.uint8)
    char_at = np.flatnonzero((raw & 0xC0) != 0x80)  # UTF-8 offset of each character: not a continuation byte
    # The token holding each letter's first byte is the first one to end after it. These indexes never decrease
    # along the text, so a letter is in a new token exactly where the index changes.
    token = np.searchsorted(token_ends, char_at[letters], side="right")
    distinct = int(np.count_nonzero(token[1:] != token[:-1])) + 1
    if len(present) == 1:
        return distinct, {present[0]: distinct}
    counts = {}
    for script in present:
        own = token[scripts == _LATIN + SCRIPTS.index(script)]
        counts[script] = int(np.count_nonzero(own[1:] != own[:-1])) + 1
    return distinct, counts


def _segments(text: str, classes: npt.NDArray[np.uint8], at: list[int]) -> list[tuple[int, int]]:
    """The stretches from cut to cut that hold the non-Latin letters at positions `at`, adjacent ones joined."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(at):
        start = text.rfind(" ", 0, at[i])
        while start > 0 and classes[start - 1] == _NONE:
            start = text.rfind(" ", 0, start)
        end = text.find(" ", at[i])
        while end != -1 and classes[end - 1] == _NONE:
            end = text.find(" ", end + 1)
        start, end = max(start, 0), len(text) if end == -1 else end
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
        i = bisect.bisect_left(at, end, i)
    return out


def _spans(
    classes: npt.NDArray[np.uint8], positions: npt.NDArray[np.intp], at: list[int]
) -> list[tuple[int, int]]:
    """Code-switch spans from the positions of the non-Latin letters (the rule is in the module docstring)."""
    first = at[0]
    breaks = np.cumsum(_BREAKS[classes[first : at[-1] + 1]])
    # Consecutive non-Latin letters share a span unless a break lies between them.
    new: list[int] = (np.flatnonzero(np.diff(breaks[positions - first])) + 1).tolist()
    starts = [first] + [at[k] for k in new]
    ends = [at[k - 1] + 1 for k in new] + [at[-1] + 1]
    # A span takes in the combining marks right after its last letter.
    for k, end in enumerate(ends):
        while end < len(classes) and classes[end] == _MARK:
            end += 1
        ends[k] = end
    return list(zip(starts, ends, strict=True))


@lru_cache(maxsize=1)
def _class_table() -> npt.NDArray[np.uint8]:
    """The class of every code point: _NONE, _DIGIT (Nd), _MARK (M), or _LATIN + script index for a letter."""
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)

    def fill(python_class: str, value: int) -> None:
        for first, last in code_point_ranges(python_class):
            table[first : last + 1] = value

    # General categories are disjoint. Every letter is "Other" until its known script claims it.
    fill(r"\p{Nd}", _DIGIT)
    fill(r"\p{M}", _MARK)
    fill(r"[\p{L}--[\p{Script=Common}\p{Script=Inherited}]]", _LATIN + len(SCRIPTS) - 1)
    for i, script in enumerate(SCRIPTS[:-1]):
        fill(rf"[\p{{L}}&&\p{{Script={script}}}]", _LATIN + i)
    return table


@lru_cache(maxsize=1)
def _token_lengths() -> npt.NDArray[np.int64]:
    """Byte length of each o200k_base token id, from the vocabulary bpe-openai ships (lines `base64 rank`)."""
    packed = (resources.files("bpe_openai") / "data" / f"{TOKENIZER}.tiktoken.gz").read_bytes()
    fields = gzip.decompress(packed).split()
    encoded, ranks = fields[0::2], np.array(fields[1::2], dtype=np.int64)
    lengths = np.zeros(int(ranks.max()) + 1, dtype=np.int64)
    # Base64 gives the decoded length without decoding: 3 bytes per 4 characters, less one per "=" of padding.
    lengths[ranks] = [len(e) // 4 * 3 - e.count(b"=") for e in encoded]
    return lengths
