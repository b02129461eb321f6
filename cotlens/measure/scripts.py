"""Language mixing, exactly as the README defines it: letters by script, non-Latin o200k tokens, code-switch spans.

A letter is a character of general category L whose Script is neither Common nor Inherited (so not `٣`, the
combining accent of a decomposed `é`, an emoji, or math `𝑥`; Greek `θ` is a Greek letter). Scripts outside
KNOWN_SCRIPTS are "Other". A non-Latin token is an o200k_base token holding the first UTF-8 byte of at least one
non-Latin letter. The dominant script has the most letters; Latin wins any tie it is part of, other ties go to
the script first in SCRIPTS.

Code-switch spans exist only when the dominant script is Latin. A span starts at a non-Latin letter and ends
after a non-Latin letter plus the combining marks right after it (a Devanagari vowel sign or an Arabic haraka
belongs to the letter before it). Two non-Latin letters, of any non-Latin scripts, are in one span exactly when no
Latin letter and no decimal digit (Nd, any script: `3`, `٣`, `３`) lies between them; anything else may sit
inside: whitespace (line breaks too), punctuation, symbols, emoji, marks, Common letters (`ー`, `𝑥`), numerals
that are not decimal digits (`²`, `½`). Offsets are [start, end) indices into the Python string (code points).

How it runs fast. An ASCII text has only Latin letters, counted with byte operations. Any other text is classified
as an array of code points through one lookup table over all of Unicode (built once per process from the `regex`
module's tables, well under a second). Texts with a non-Latin letter are then finished together, vectorized over
the batch, and tokenized only around those letters. That is exact because of cuts: a space (U+0020) after a
character that is not whitespace always starts a new o200k_base pre-tokenizer piece (no piece holds a non-space
followed by a space, and the pieces from a cut on depend only on the text after it), and BPE never merges across
pieces. So the stretches between cuts that hold non-Latin letters, even joined end to end, encode into exactly the
tokens the whole text has there. tests/measure/test_scripts.py checks this against whole-text encodings.

One module of about 510 lines: the definition, the lookup table and the cut-based tokenization are one kernel whose
exactness argument (above) spans all three.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import regex

from cotlens.measure import Column, Kernel, Metric
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
_BATCH_CHARS = 1 << 20
# From this length, an ASCII text's letters are counted with numpy rather than bytes.translate (about even).
_VECTOR_BYTES = 2048

# Columns of `script_columns`, each named for its unit; a missing text gives a null in every column.
KERNEL: Final = Kernel(
    "scripts",
    order=1,
    columns=(
        Column("letters", pa.int64(), "letters"),
        Column("nonlatin_letters", pa.int64(), "letters of a script other than Latin"),
        Column(
            "letters_by_script",
            pa.map_(pa.string(), pa.int64()),
            "letters per script (non-zero entries only)",
        ),
        Column(
            "nonlatin_tokens_o200k", pa.int64(), "o200k tokens holding the first byte of a non-Latin letter"
        ),
        Column(
            "nonlatin_tokens_by_script",
            pa.map_(pa.string(), pa.int64()),
            "non-Latin tokens per script (a token with two scripts counts for both)",
        ),
        Column(
            "dominant_script",
            pa.string(),
            "the script with most letters (Latin wins ties); null without letters",
            text="dominant_script",
        ),
        Column("codeswitch_spans", pa.int64(), "code-switch spans"),
        Column(
            "codeswitch_span_offsets",
            pa.list_(pa.list_(pa.int64(), 2)),
            "code-switch spans, [start, end) offsets",
        ),
    ),
    measure=lambda texts: script_columns(texts),  # defined below
    metrics=(
        Metric("letters", "letters"),
        Metric("nonlatin_letters", "nonlatin_letters"),
        Metric("nonlatin_tokens", "nonlatin_tokens_o200k"),
        Metric("codeswitch_spans", "codeswitch_spans"),
        Metric(
            "nonlatin_token_share",
            "nonlatin_tokens_o200k",
            "tokens_o200k",
            label="non-Latin token share",
            kind="share",
        ),
        Metric("nonlatin_letter_share", "nonlatin_letters", "letters"),
        Metric(
            "spans_per_1k",
            "codeswitch_spans",
            "tokens_o200k",
            scale=1000.0,
            label="code-switch spans per 1k",
            kind="rate",
        ),
    ),
)
SCRIPT_COLUMNS: Final = pa.schema([(c.name, c.type) for c in KERNEL.columns])


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


class _Row(NamedTuple):
    """One text's values of SCRIPT_COLUMNS, in order."""

    letters: int
    nonlatin_letters: int
    letters_by_script: dict[str, int]
    nonlatin_tokens_o200k: int
    nonlatin_tokens_by_script: dict[str, int]
    dominant_script: str | None
    codeswitch_spans: int
    codeswitch_span_offsets: list[tuple[int, int]]


assert _Row._fields == tuple(SCRIPT_COLUMNS.names)
_NO_ROW: tuple[None, ...] = (None,) * len(_Row._fields)  # a missing text: nulls throughout


class _Mixed(NamedTuple):
    """A text with a non-Latin letter, waiting for the vectorized pass over a batch of them."""

    input_index: int
    text: str
    classes: npt.NDArray[np.uint8]  # of each character
    at: npt.NDArray[np.intp]  # positions of the non-Latin letters
    latin: int  # Latin letters


def measure_scripts(
    texts: Sequence[str | None], tokens: Sequence[int | None] | None = None
) -> list[ScriptStats | None]:
    """Language-mixing measurements of each text; None stays None. `tokens`: the texts' o200k_base counts if the
    caller has them already (ingest does); otherwise they are counted here, which costs more than the rest."""
    count = _tokenizer().count
    out: list[ScriptStats | None] = []
    for i, (text, row) in enumerate(zip(texts, _rows(texts), strict=True)):
        if text is None or row is None:
            out.append(None)
            continue
        known = tokens[i] if tokens is not None else None
        out.append(
            ScriptStats(
                letters=row.letters,
                nonlatin_letters=row.nonlatin_letters,
                letters_by_script=row.letters_by_script,
                tokens=int(count(text)) if known is None else known,
                nonlatin_tokens=row.nonlatin_tokens_o200k,
                nonlatin_tokens_by_script=row.nonlatin_tokens_by_script,
                dominant_script=row.dominant_script,
                spans=row.codeswitch_span_offsets,
            )
        )
    return out


def script_columns(texts: Sequence[str | None], ignore: frozenset[str] = frozenset()) -> dict[str, pa.Array]:
    """SCRIPT_COLUMNS for a batch of texts, as Arrow arrays in text order. Needs no total token counts (ingest
    stores those already), so an ASCII text is never tokenized. The letters of the scripts in `ignore` are
    left out, as if they were not letters: they count nowhere and neither open nor break a span."""
    rows: list[tuple[Any, ...]] = [_NO_ROW if row is None else row for row in _rows(texts, ignore)]
    columns = zip(*rows, strict=True) if rows else ((),) * len(SCRIPT_COLUMNS)
    return {f.name: pa.array(list(c), f.type) for f, c in zip(SCRIPT_COLUMNS, columns, strict=True)}


def check_ignorable(scripts: frozenset[str]) -> None:
    """Scripts that `ignore` may name: every non-Latin one (Latin is what mixing is measured against)."""
    resolve_scripts(scripts)


def resolve_scripts(names: Iterable[str]) -> frozenset[str]:
    """Script names as given (any case: "greek", "GREEK") as SCRIPTS spells them; Latin, which mixing is
    measured against, or an unknown name is a ValueError with the nearest names."""
    from cotlens.suggest import did_you_mean

    by_lower = {s.lower(): s for s in SCRIPTS[1:]}
    resolved = set()
    for name in names:
        if name.lower() == "latin":
            raise ValueError("cannot leave out Latin: language mixing is measured against it")
        if name.lower() not in by_lower:
            hint = did_you_mean(name, SCRIPTS[1:]) or f" (non-Latin scripts: {', '.join(SCRIPTS[1:])})"
            raise ValueError(f"no script {name!r}{hint}")
        resolved.add(by_lower[name.lower()])
    return frozenset(resolved)


@lru_cache(maxsize=8)
def letters_of(scripts: frozenset[str]) -> str:
    """A Rust-regex class of the letters of these scripts (as SCRIPTS names them; "Other": letters of no known
    script), for the linear-time engine."""
    from cotlens.measure.unicode import rust_class

    known = "".join(rf"\p{{Script={k}}}" for k in KNOWN_SCRIPTS)
    parts = [
        rf"[\p{{L}}--[{known}]]" if s == "Other" else rf"[\p{{L}}&&\p{{Script={s}}}]" for s in sorted(scripts)
    ]
    return rust_class(f"[{''.join(parts)}]")


def left_out(ignore: frozenset[str]) -> str:
    """A caption's note of the scripts left out ("" for none)."""
    return f" Left out: {', '.join(sorted(ignore))}." if ignore else ""


def leave_out_scripts(table: pa.Table, field: str, ignore: frozenset[str]) -> pa.Table:
    """The table with the language-mixing columns of `field` that it holds as if the `ignore` scripts' letters
    were no letters: rows that hold some are measured again from their text (the table needs it and
    `{field}_letters_by_script`), the others kept as stored; row order is kept."""
    holds = np.zeros(table.num_rows, dtype=bool)
    for script in ignore:
        found = pc.map_lookup(table[f"{field}_letters_by_script"], pa.scalar(script), "first")
        holds |= pc.is_valid(found).to_numpy(zero_copy_only=False)
    if not holds.any():
        return table
    affected = table.filter(pa.array(holds))
    for name, values in script_columns(affected[field].to_pylist(), ignore).items():
        position = affected.schema.get_field_index(f"{field}_{name}")
        if position >= 0:
            affected = affected.set_column(position, f"{field}_{name}", values)
    # The unchanged rows, then the measured ones; put back in the table's order.
    placed = np.concatenate([np.flatnonzero(~holds), np.flatnonzero(holds)])
    combined = pa.concat_tables([table.filter(pa.array(~holds)), affected])
    return combined.take(pa.array(np.argsort(placed)))


def _rows(texts: Sequence[str | None], ignore: frozenset[str] = frozenset()) -> list[_Row | None]:
    """Every text classified on its own; those with a non-Latin letter finished in vectorized batches, since
    per-text numpy calls would cost more than the work they do."""
    out: list[_Row | None] = [None] * len(texts)
    table = _class_table(ignore)
    pending: list[_Mixed] = []
    pending_chars = 0
    for i, text in enumerate(texts):
        if text is None:
            continue
        if text.isascii():
            out[i] = _latin_only(_ascii_letters(text))
            continue
        # Lone surrogates raise here, as they would in the tokenizer and in an Arrow string.
        classes = np.take(table, np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32))
        latin = int(np.count_nonzero(classes == _LATIN))
        at = np.flatnonzero(classes > _LATIN)
        if not len(at):
            out[i] = _latin_only(latin)
            continue
        pending.append(_Mixed(i, text, classes, at, latin))
        pending_chars += len(text)
        if pending_chars >= _BATCH_CHARS:
            for m, measured in zip(pending, _measure_mixed(pending), strict=True):
                out[m.input_index] = measured
            pending, pending_chars = [], 0
    for m, measured in zip(pending, _measure_mixed(pending), strict=True):
        out[m.input_index] = measured
    return out


def _ascii_letters(text: str) -> int:
    """Letters of an ASCII text: A-Z and a-z, all Latin."""
    raw = text.encode("ascii")
    if len(raw) < _VECTOR_BYTES:
        return len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    # translate() branches on every byte; on long texts three branch-free passes cost less. Setting bit 5 maps
    # A-Z onto a-z and nothing else there; the uint8 subtraction wraps every byte below "a" above 25.
    folded = np.frombuffer(raw, dtype=np.uint8) | 0x20
    folded -= ord("a")
    return int(np.count_nonzero(folded < 26))


def _latin_only(latin: int) -> _Row:
    if not latin:
        return _Row(0, 0, {}, 0, {}, None, 0, [])
    return _Row(latin, 0, {"Latin": latin}, 0, {}, "Latin", 0, [])


def _measure_mixed(batch: list[_Mixed]) -> list[_Row]:
    """The rows of texts that have a non-Latin letter, in one vectorized pass."""
    if not batch:
        return []
    n = len(batch)
    owner = np.repeat(np.arange(n), [len(m.at) for m in batch])  # the text of each non-Latin letter
    scripts = np.concatenate([m.classes[m.at] for m in batch]).astype(np.int64) - _LATIN  # index in SCRIPTS
    nonlatin = _tally(owner * _N + scripts, n)

    # Per text: the dominant script, and the stretches to tokenize (module docstring), encoded into `ids`.
    encode = _tokenizer().encode
    dominant: list[str] = []
    parts: list[str] = []
    part_classes: list[npt.NDArray[np.uint8]] = []
    ids: list[int] = []
    tokens_per_text: list[int] = []
    for m, letters in zip(batch, nonlatin, strict=True):
        most = max(letters.values())
        dominant.append("Latin" if m.latin >= most else next(s for s, c in letters.items() if c == most))
        segments = _segments(m.text, m.at)
        # Segments end and start at cuts, so they can be joined and encoded in one call.
        part = "".join(m.text[a:b] for a, b in segments)
        before = len(ids)
        ids += encode(part)
        tokens_per_text.append(len(ids) - before)
        parts.append(part)
        part_classes += (m.classes[a:b] for a, b in segments)

    # The token of each letter, in all parts end to end: the first token to end after the letter's first byte.
    # Token indexes never decrease along the letters, and each text has tokens of its own.
    token_ends = np.cumsum(np.take(_token_lengths(), ids))
    raw = np.frombuffer("".join(parts).encode("utf-8"), dtype=np.uint8)
    char_at = np.flatnonzero((raw & 0xC0) != 0x80)  # UTF-8 offset of each character: not a continuation byte
    letter_at = char_at[np.flatnonzero(np.concatenate(part_classes) > _LATIN)]
    token = np.searchsorted(token_ends, letter_at, side="right")
    distinct: list[int] = np.bincount(owner[_changes(token)], minlength=n).tolist()
    if all(len(letters) == 1 for letters in nonlatin):  # the usual case: one non-Latin script per text
        by_script = [
            {script: count} for letters, count in zip(nonlatin, distinct, strict=True) for script in letters
        ]
    else:
        # Each (token, script) pair once. Sorted already but for the order of scripts inside one token, which a
        # stable sort (merging sorted runs) repairs in about linear time.
        pairs = np.sort(token * _N + scripts, kind="stable")
        pairs = pairs[_changes(pairs)]
        token_owner = np.repeat(np.arange(n), tokens_per_text)
        by_script = _tally(token_owner[pairs // _N] * _N + pairs % _N, n)

    spans = _spans_mixed(batch, [d == "Latin" for d in dominant])
    return [
        _Row(
            m.latin + len(m.at),
            len(m.at),
            {"Latin": m.latin, **nonlatin[j]} if m.latin else nonlatin[j],
            distinct[j],
            by_script[j],
            dominant[j],
            len(spans[j]),
            spans[j],
        )
        for j, m in enumerate(batch)
    ]


def _changes(values: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """True where a value differs from the one before (and first)."""
    return np.concatenate(([True], values[1:] != values[:-1]))


def _tally(keys: npt.NDArray[np.int64], n: int) -> list[dict[str, int]]:
    """Occurrences of each key (text * _N + script index) as one dict per text: non-zero, in SCRIPTS order."""
    counts = np.bincount(keys, minlength=n * _N)
    found = np.flatnonzero(counts)
    out: list[dict[str, int]] = [{} for _ in range(n)]
    for key, count in zip(found.tolist(), counts[found].tolist(), strict=True):
        out[key // _N][SCRIPTS[key % _N]] = count
    return out


def _segments(text: str, at: npt.NDArray[np.intp]) -> list[tuple[int, int]]:
    """The stretches from cut to cut (or the ends of the text) that hold the non-Latin letters at positions `at`,
    adjacent ones joined. str.isspace() holds for every Unicode White_Space character (all that the pre-tokenizer's
    `\\s` matches) and a few more, which only makes a stretch longer."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(at):
        letter = int(at[i])
        start = text.rfind(" ", 0, letter)
        while start > 0 and text[start - 1].isspace():
            start = text.rfind(" ", 0, start)
        end = text.find(" ", letter)
        while end != -1 and text[end - 1].isspace():
            end = text.find(" ", end + 1)
        start, end = max(start, 0), len(text) if end == -1 else end
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
        i = int(at.searchsorted(end))  # the first letter after this stretch
    return out


def _spans_mixed(batch: list[_Mixed], wanted: list[bool]) -> list[list[tuple[int, int]]]:
    """Code-switch spans of each text of the batch where `wanted` (the rule is in the module docstring)."""
    out: list[list[tuple[int, int]]] = [[] for _ in batch]
    chosen = [j for j, w in enumerate(wanted) if w]
    if not chosen:
        return out
    # Breaks counted along each text's stretch from its first to its last non-Latin letter, all end to end.
    firsts = np.array([batch[j].at[0] for j in chosen])
    lasts = np.array([batch[j].at[-1] for j in chosen]) + 1
    stretches = np.concatenate([batch[j].classes[a:b] for j, a, b in zip(chosen, firsts, lasts, strict=True)])
    placed = np.cumsum(lasts - firsts) - (lasts - firsts)  # where each stretch starts in `stretches`
    at = np.concatenate([batch[j].at for j in chosen])
    which = np.repeat(np.arange(len(chosen)), [len(batch[j].at) for j in chosen])
    breaks = np.cumsum(_BREAKS[stretches])[at + (placed - firsts)[which]]
    # A letter opens a span when it is its text's first, or a break lies between it and the letter before.
    starts = np.flatnonzero(_changes(which) | _changes(breaks))
    ends = np.concatenate((starts[1:], [len(at)])) - 1
    for k, start, end in zip(
        which[starts].tolist(), at[starts].tolist(), (at[ends] + 1).tolist(), strict=True
    ):
        classes = batch[chosen[k]].classes
        while end < len(classes) and classes[end] == _MARK:  # the marks right after the last letter
            end += 1
        out[chosen[k]].append((start, end))
    return out


@lru_cache(maxsize=4)
def _class_table(ignore: frozenset[str] = frozenset()) -> npt.NDArray[np.uint8]:
    """The class of every code point: _NONE, _DIGIT (Nd), _MARK (M), or _LATIN + script index for a letter;
    the letters of the scripts in `ignore` are _NONE."""
    if ignore:
        check_ignorable(ignore)
        table = _class_table().copy()
        table[np.isin(table, [_LATIN + SCRIPTS.index(s) for s in ignore])] = _NONE
        return table
    table = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    # General categories are disjoint, and so are scripts.
    for python_class, value in ((r"\p{Nd}", _DIGIT), (r"\p{M}", _MARK)):
        for first, last in code_point_ranges(python_class):
            table[first : last + 1] = value
    # Scripts are looked up among the letters alone, an eighth of all code points: one regex pass over all of
    # them per script took 0.27 s, paid again by every worker process that measures.
    codes = np.concatenate([np.arange(a, b + 1, dtype=np.uint32) for a, b in code_point_ranges(r"\p{L}")])
    letters = codes.astype("<u4").tobytes().decode("utf-32-le")
    # Every letter is "Other" until its known script claims it; letters of Common or Inherited stay none.
    claims = [(r"[^\p{Script=Common}\p{Script=Inherited}]", len(SCRIPTS) - 1)]
    claims += [(rf"\p{{Script={script}}}", i) for i, script in enumerate(SCRIPTS[:-1])]
    for python_class, index in claims:
        for m in regex.finditer(python_class + "+", letters):
            table[codes[m.start() : m.end()]] = _LATIN + index
    return table


@lru_cache(maxsize=1)
def _token_lengths() -> npt.NDArray[np.int64]:
    """Byte length of each o200k_base token id, from the vocabulary bpe-openai ships (lines `base64 rank`)."""
    # Found without importing bpe_openai, whose __init__ costs 0.5 s per process (see tokens._bindings).
    spec = importlib.util.find_spec("bpe_openai")
    folders = list(spec.submodule_search_locations or []) if spec else []
    paths = [Path(f) / "data" / f"{TOKENIZER}.tiktoken.gz" for f in folders]
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"the {TOKENIZER} vocabulary of bpe-openai (looked in {folders})")
    raw = gzip.decompress(path.read_bytes())
    # Base64 gives the decoded length without decoding: 3 bytes per 4 characters, less one per "=" of padding.
    parsed = _vocabulary_lines(raw)
    if parsed is None:  # not one "base64 rank" a line: split however it is spaced
        fields = raw.split()
        encoded = fields[0::2]
        ranks = np.array(fields[1::2], dtype=np.int64)
        sizes = np.array([len(e) // 4 * 3 - e.count(b"=") for e in encoded], dtype=np.int64)
    else:
        ranks, sizes = parsed
    lengths = np.zeros(int(ranks.max()) + 1, dtype=np.int64)
    lengths[ranks] = sizes
    return lengths


def _vocabulary_lines(raw: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """The ranks and decoded byte lengths of a vocabulary of lines `base64 rank` (one space, "\\n" after every
    line, decimal ranks), read with numpy: splitting its 400,000 fields in Python took 0.06 s per process.
    None for any other layout."""
    data = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    spaces = np.flatnonzero(data == ord(" "))
    starts = np.concatenate(([0], ends[:-1] + 1))
    if not len(ends) or not raw.endswith(b"\n") or len(spaces) != len(ends):
        return None
    width = ends - spaces - 1  # of the rank
    if np.any(spaces < starts + 4) or np.any(width < 1) or np.any(width > 18):
        return None
    ranks = np.zeros(len(ends), dtype=np.int64)
    for k in range(int(width.max())):  # the digit k places from the right, where the rank has one
        has = width > k
        digit = data[ends[has] - 1 - k].astype(np.int64) - ord("0")
        if np.any((digit < 0) | (digit > 9)):
            return None
        ranks[has] += digit * 10**k
    padding = (data[spaces - 1] == ord("=")).astype(np.int64) + (data[spaces - 2] == ord("="))
    return ranks, (spaces - starts) // 4 * 3 - padding
