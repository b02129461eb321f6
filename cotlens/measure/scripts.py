"""Language mixing, exactly as DESIGN.md defines it: letters by script, non-Latin o200k tokens, code-switch spans.

A letter is a character of general category L whose Script is neither Common nor Inherited (so not `٣`, `é`'s
combining accent, an emoji, or math `𝑥`; Greek `θ` is a Greek letter). Scripts outside KNOWN_SCRIPTS are "Other".
A non-Latin token is an o200k_base token holding the first UTF-8 byte of at least one non-Latin letter.

Code-switch spans exist only when the dominant script (most letters; a tie goes to Latin) is Latin. A span starts
at a non-Latin letter, ends after a non-Latin letter plus the combining marks directly after it (a Devanagari
vowel sign or Arabic haraka completes the letter before it), and is maximal: two non-Latin letters (of any
non-Latin scripts) are in one span exactly when no Latin letter and no decimal digit (Nd, any script: `3`, `٣`)
lies between them. Anything else may sit inside: whitespace (line breaks too), punctuation, symbols, emoji, marks,
Common letters (`ー`, `𝑥`). Offsets are [start, end) indices into the Python string (code points).

How it runs fast: an ASCII text has only Latin letters (counted with `bytes.translate`). Any other text becomes
an array of code points classified through one lookup table over all of Unicode (built once per process from the
`regex` module's tables, ~1 s). Only texts with a non-Latin letter are tokenized, and only around those letters:
a space right after a letter, mark or digit always starts a new pre-tokenizer piece of o200k_base (no piece holds
a non-space followed by a space), and BPE never merges across pieces, so the pieces between such spaces that hold
a non-Latin letter are encoded on their own, with exactly the tokens the whole text would have there.
"""

from __future__ import annotations

import gzip
import string
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

# Script names as reported: Latin first, then the other known scripts in KNOWN_SCRIPTS order, then "Other".
SCRIPTS: Final = (
    "Latin",
    *(s for s in KNOWN_SCRIPTS if s not in ("Latin", "Common", "Inherited")),
    "Other",
)

# Classes in the lookup table: non-letters first, then one per script (class = _LATIN + index in SCRIPTS).
_NONE, _DIGIT, _MARK, _LATIN = 0, 1, 2, 3
_CLASSES = _LATIN + len(SCRIPTS)
_ASCII_LETTERS = string.ascii_letters.encode()

# Columns of `script_columns`, each named for its unit; a missing text gives nulls in every column.
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
    """What one text yields before it is shaped as ScriptStats or as columns."""

    letters: list[int]  # per script, SCRIPTS order
    nonlatin_tokens: int
    nonlatin_tokens_by_script: list[int]  # per script, SCRIPTS order (Latin always 0)
    tokens: int | None  # the whole text's token count when it was encoded whole, else None
    spans: list[tuple[int, int]]


def measure_scripts(
    texts: Sequence[str | None], tokens: Sequence[int | None] | None = None
) -> list[ScriptStats | None]:
    """Language-mixing measurements of each text; None stays None. `tokens`: the texts' o200k_base counts when
    the caller has them already (ingest does); otherwise they are counted here."""
    count = _tokenizer().count
    out: list[ScriptStats | None] = []
    for i, text in enumerate(texts):
        if text is None:
            out.append(None)
            continue
        m = _measure(text)
        known = tokens[i] if tokens is not None else None
        n_tokens = known if known is not None else m.tokens if m.tokens is not None else int(count(text))
        by_script = _named(m.letters)
        latin = m.letters[0]
        letters = sum(m.letters)
        out.append(
            ScriptStats(
                letters=letters,
                nonlatin_letters=letters - latin,
                letters_by_script=by_script,
                tokens=n_tokens,
                nonlatin_tokens=m.nonlatin_tokens,
                nonlatin_tokens_by_script=_named(m.nonlatin_tokens_by_script),
                dominant_script=_dominant(m.letters),
                spans=m.spans,
            )
        )
    return out


def script_columns(texts: Sequence[str | None]) -> dict[str, pa.Array]:
    """The SCRIPT_COLUMNS of a batch of texts, as Arrow arrays in text order."""
    rows: dict[str, list[Any]] = {name: [] for name in SCRIPT_COLUMNS.names}
    values = list(rows.values())
    for text in texts:
        if text is None:
            for column in values:
                column.append(None)
            continue
        m = _measure(text)
        letters = sum(m.letters)
        row = (
            letters,
            letters - m.letters[0],
            list(_named(m.letters).items()),
            m.nonlatin_tokens,
            list(_named(m.nonlatin_tokens_by_script).items()),
            _dominant(m.letters),
            len(m.spans),
            [list(span) for span in m.spans],
        )
        for column, value in zip(values, row, strict=True):
            column.append(value)
    return {f.name: pa.array(rows[f.name], f.type) for f in SCRIPT_COLUMNS}


def _named(per_script: list[int]) -> dict[str, int]:
    return {name: n for name, n in zip(SCRIPTS, per_script, strict=True) if n}


def _dominant(letters: list[int]) -> str | None:
    """The script with the most letters; Latin wins a tie, otherwise the first in SCRIPTS order."""
    most = max(letters)
    if most == 0:
        return None
    return SCRIPTS[letters.index(most)]  # Latin is first, so index() gives it every tie it is part of


def _measure(text: str) -> _Measured:
    if text.isascii():
        # The only ASCII letters are A-Z and a-z, all Latin: no non-Latin letters, tokens or spans.
        raw = text.encode("ascii")
        latin = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
        return _Measured([latin] + [0] * (len(SCRIPTS) - 1), 0, [0] * len(SCRIPTS), None, [])
    # Lone surrogates raise here, as they do for the tokenizer and for Arrow strings.
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    classes = _class_table()[points]
    counts = np.bincount(classes, minlength=_CLASSES)
    letters: list[int] = counts[_LATIN:].tolist()
    if sum(letters) == letters[0]:  # no non-Latin letter
        return _Measured(letters, 0, [0] * len(SCRIPTS), None, [])
    nonlatin = np.flatnonzero(classes > _LATIN)
    n_tokens, by_script = _nonlatin_tokens(text, points, classes, nonlatin)
    spans = _spans(classes, nonlatin, counts[_MARK] > 0) if _dominant(letters) == "Latin" else []
    return _Measured(letters, n_tokens, by_script, None, spans)


def _nonlatin_tokens(
    text: str, points: npt.NDArray[np.uint32], classes: npt.NDArray[np.uint8], nonlatin: npt.NDArray[np.intp]
) -> tuple[int, list[int]]:
    """Tokens holding the first byte of a non-Latin letter: in all, and per script."""
    # Piece boundaries that hold whatever precedes them: a space after a letter, mark or digit (module docstring).
    cuts = np.flatnonzero((points[1:] == 0x20) & (classes[:-1] != _NONE)) + 1
    bounds = np.concatenate(([0], cuts, [len(points)]))
    # Chunks between cuts that hold a non-Latin letter; adjacent ones are encoded together (fewer calls).
    chunks = np.unique(np.searchsorted(cuts, nonlatin, side="right"))
    joined = np.flatnonzero(np.diff(chunks) != 1)
    starts = bounds[chunks[np.concatenate(([0], joined + 1))]]
    ends = bounds[chunks[np.concatenate((joined, [len(chunks) - 1]))] + 1]
    # UTF-8 byte offset where each character starts.
    widths = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    byte_at = np.concatenate(([0], np.cumsum(widths)))
    encode = _tokenizer().encode
    ids: list[int] = []
    per_segment: list[int] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        before = len(ids)
        ids += encode(text[a:b])
        per_segment.append(len(ids) - before)
    # Token end offsets in the whole text: within-segment ends shifted to where each segment starts.
    token_ends = np.cumsum(_token_lengths()[np.array(ids, dtype=np.int64)])
    seg_tokens = np.array(per_segment, dtype=np.int64)
    consumed = np.concatenate(([0], token_ends))[np.cumsum(seg_tokens) - seg_tokens]
    token_ends += np.repeat(byte_at[starts] - consumed, seg_tokens)
    token = np.searchsorted(token_ends, byte_at[nonlatin], side="right")
    pairs = np.unique(token * _CLASSES + classes[nonlatin])
    distinct_tokens = int(np.count_nonzero(np.diff(pairs // _CLASSES))) + 1
    per_class = np.bincount(pairs % _CLASSES, minlength=_CLASSES)
    by_script: list[int] = per_class[_LATIN:].tolist()
    return distinct_tokens, by_script


def _spans(
    classes: npt.NDArray[np.uint8], nonlatin: npt.NDArray[np.intp], has_marks: bool
) -> list[tuple[int, int]]:
    """Code-switch spans from the positions of the non-Latin letters (rule in the module docstring)."""
    breaks = np.cumsum((classes == _LATIN) | (classes == _DIGIT))
    # Consecutive non-Latin letters belong to one span unless a break lies between them.
    new = np.flatnonzero(np.diff(breaks[nonlatin]) != 0) + 1
    starts = nonlatin[np.concatenate(([0], new))]
    ends = nonlatin[np.concatenate((new - 1, [len(nonlatin) - 1]))] + 1
    if has_marks:
        # Extend each end over the combining marks right after it: to the next non-mark character.
        others = np.flatnonzero(classes != _MARK)
        at = np.searchsorted(others, ends)
        ends = np.where(at < len(others), others[np.minimum(at, len(others) - 1)], len(classes))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


@lru_cache(maxsize=1)
def _class_table() -> npt.NDArray[np.uint8]:
    """Class of every code point: _NONE, _DIGIT (Nd), _MARK (M), or _LATIN + script index for a letter."""
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)

    def fill(python_class: str, value: int) -> None:
        for first, last in code_point_ranges(python_class):
            table[first : last + 1] = value

    # General categories are disjoint; "Other" first, then each known script overwrites its own letters.
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
    lines = gzip.decompress(packed).split()
    encoded, ranks = lines[0::2], np.array(lines[1::2], dtype=np.int64)
    lengths = np.zeros(int(ranks.max()) + 1, dtype=np.int64)
    # A base64 length gives the decoded length without decoding: 3 bytes per 4 characters, less the padding.
    lengths[ranks] = [len(e) // 4 * 3 - e.count(b"=") for e in encoded]
    return lengths
