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
_N = len(SCRIPTS)
_BREAKS = np.isin(np.arange(_CLASSES), (_LATIN, _DIGIT))  # what ends a code-switch span
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Texts with a non-Latin letter are finished together, up to this many characters at a time (bounds memory).
_BATCH_CHARS = 1 << 22

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


class _Mixed(NamedTuple):
    """A text with a non-Latin letter, waiting for the vectorized pass over a batch of them."""

    index: int
    text: str
    classes: npt.NDArray[np.uint8]
    latin: int


def measure_scripts(
    texts: Sequence[str | None], tokens: Sequence[int | None] | None = None
) -> list[ScriptStats | None]:
    """Language-mixing measurements of each text; None stays None. `tokens`: the texts' o200k_base counts if the
    caller has them already (ingest does); otherwise they are counted here, which costs more than the rest."""
    count = _tokenizer().count
    out: list[ScriptStats | None] = []
    for i, (text, m) in enumerate(zip(texts, _measure_all(texts), strict=True)):
        if text is None or m is None:
            out.append(None)
            continue
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
    for m in _measure_all(texts):
        if m is None:
            for column in columns:
                column.append(None)
            continue
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


def _measure_all(texts: Sequence[str | None]) -> list[_Measured | None]:
    """Every text classified on its own; those with a non-Latin letter finished in vectorized batches, since
    per-text numpy calls would cost more than the work they do."""
    out: list[_Measured | None] = [None] * len(texts)
    table = _class_table()
    pending: list[_Mixed] = []
    pending_chars = 0
    for i, text in enumerate(texts):
        if text is None:
            continue
        if text.isascii():  # A-Z and a-z are the only ASCII letters, all Latin
            raw = text.encode("ascii")
            out[i] = _latin_only(len(raw) - len(raw.translate(None, _ASCII_LETTERS)))
            continue
        # Lone surrogates raise here, as they would in the tokenizer and in an Arrow string.
        classes = np.take(table, np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32))
        latin = int(np.count_nonzero(classes == _LATIN))
        if classes.max() <= _LATIN:
            out[i] = _latin_only(latin)
            continue
        pending.append(_Mixed(i, text, classes, latin))
        pending_chars += len(text)
        if pending_chars >= _BATCH_CHARS:
            for m, measured in zip(pending, _measure_mixed(pending), strict=True):
                out[m.index] = measured
            pending, pending_chars = [], 0
    for m, measured in zip(pending, _measure_mixed(pending), strict=True):
        out[m.index] = measured
    return out


def _latin_only(latin: int) -> _Measured:
    return _Measured(latin, {}, 0, {}, "Latin" if latin else None, [])


def _measure_mixed(batch: list[_Mixed]) -> list[_Measured]:
    """_Measured of texts that have a non-Latin letter, in one vectorized pass."""
    if not batch:
        return []
    n = len(batch)
    sizes = np.array([len(m.classes) for m in batch])
    base = np.cumsum(sizes) - sizes
    classes = np.concatenate([m.classes for m in batch])
    positions = np.flatnonzero(classes > _LATIN)  # every non-Latin letter, in text order
    scripts = classes[positions].astype(np.int64) - _LATIN  # index in SCRIPTS (never 0: not Latin)
    owner = np.searchsorted(base, positions, side="right") - 1
    per_text = np.bincount(owner, minlength=n)
    letters: list[list[int]] = np.bincount(owner * _N + scripts, minlength=n * _N).reshape(n, _N).tolist()
    local: list[int] = (positions - base[owner]).tolist()
    bounds: list[int] = [0, *np.cumsum(per_text).tolist()]

    # Per text: the dominant script, and the stretches to tokenize (module docstring); `ids` holds them all.
    encode = _tokenizer().encode
    nonlatin: list[dict[str, int]] = []
    dominant: list[str] = []
    parts: list[str] = []
    part_classes: list[npt.NDArray[np.uint8]] = []
    ids: list[int] = []
    tokens_per_text: list[int] = []
    for j, m in enumerate(batch):
        counts = {SCRIPTS[s]: c for s, c in enumerate(letters[j]) if c}
        most = max(counts.values())
        nonlatin.append(counts)
        dominant.append("Latin" if m.latin >= most else next(s for s, c in counts.items() if c == most))
        segments = _segments(m.text, m.classes, local[bounds[j] : bounds[j + 1]])
        # Every junction of two segments is a cut (a letter, mark or digit, then a space): one call for all.
        part = "".join(m.text[a:b] for a, b in segments)
        before = len(ids)
        ids += encode(part)
        tokens_per_text.append(len(ids) - before)
        parts.append(part)
        part_classes += (m.classes[a:b] for a, b in segments)

    # Token of each letter, in the concatenation of all parts: the first token to end after the letter's first
    # byte. The index never decreases along the letters (each text's tokens follow the previous text's).
    token_ends = np.cumsum(np.take(_token_lengths(), ids))
    raw = np.frombuffer("".join(parts).encode("utf-8"), dtype=np.uint8)
    char_at = np.flatnonzero((raw & 0xC0) != 0x80)  # UTF-8 offset of each character: not a continuation byte
    token = np.searchsorted(
        token_ends, char_at[np.flatnonzero(np.concatenate(part_classes) > _LATIN)], "right"
    )
    first = np.concatenate(([True], token[1:] != token[:-1]))
    distinct: list[int] = np.bincount(owner[first], minlength=n).tolist()
    # Each (token, script) pair once: the keys are sorted but for script order inside a token, which a stable
    # sort (runs-aware) repairs in about linear time.
    pairs = np.sort(token * _N + scripts, kind="stable")
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    token_owner = np.repeat(np.arange(n), tokens_per_text)
    by_script = (
        np.bincount(token_owner[pairs // _N] * _N + pairs % _N, minlength=n * _N).reshape(n, _N).tolist()
    )

    spans = _spans_mixed(batch, classes, base, positions, owner, [d == "Latin" for d in dominant])
    return [
        _Measured(
            m.latin,
            nonlatin[j],
            distinct[j],
            {SCRIPTS[s]: c for s, c in enumerate(by_script[j]) if c},
            dominant[j],
            spans[j],
        )
        for j, m in enumerate(batch)
    ]


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


def _spans_mixed(
    batch: list[_Mixed],
    classes: npt.NDArray[np.uint8],
    base: npt.NDArray[np.intp],
    positions: npt.NDArray[np.intp],
    owner: npt.NDArray[np.intp],
    wanted: list[bool],
) -> list[list[tuple[int, int]]]:
    """Code-switch spans of each text of the batch where `wanted` (the rule is in the module docstring), from
    its non-Latin letters: `positions` in the concatenated `classes`, `owner` the text of each."""
    out: list[list[tuple[int, int]]] = [[] for _ in batch]
    keep = np.array(wanted)[owner]
    at, of = positions[keep], owner[keep]
    if not len(at):
        return out
    # The stretch of each text from its first to its last non-Latin letter; breaks counted along all of them.
    opens = np.concatenate(([True], of[1:] != of[:-1]))
    firsts, lasts = at[opens], at[np.concatenate((opens[1:], [True]))] + 1
    stretches = np.concatenate([classes[a:b] for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True)])
    placed = np.cumsum(lasts - firsts) - (lasts - firsts)  # where each stretch starts among them
    breaks = np.cumsum(_BREAKS[stretches])[at - (firsts - placed)[np.cumsum(opens) - 1]]
    # A letter opens a span if it is its text's first, or a break lies between it and the letter before.
    new = opens.copy()
    new[1:] |= breaks[1:] != breaks[:-1]
    starts = np.flatnonzero(new)
    ends = np.concatenate((starts[1:], [len(at)])) - 1
    local = at - base[of]
    for j, start, end in zip(
        of[starts].tolist(), local[starts].tolist(), (local[ends] + 1).tolist(), strict=True
    ):
        text_classes = batch[j].classes
        while end < len(text_classes) and text_classes[end] == _MARK:  # marks right after the last letter
            end += 1
        out[j].append((start, end))
    return out


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
