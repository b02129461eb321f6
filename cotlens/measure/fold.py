"""The text normalization that term matching uses (README, Definitions: "Term occurrence").

fold(s) = NFKC(casefold(NFKC(s))) with typographic apostrophes folded to "'". So fullwidth "ｗａｉｔ" matches
"wait", a decomposed "naïve" matches a composed one, "NAÏVE" matches "naïve", "let’s" matches "let's". The
second NFKC restores normal form where case folding broke it. ASCII text takes a fast path (for ASCII,
NFKC is the identity and casefold is lower).

`fold_column` folds a column of texts the same way, without a Python string per text for most texts. Python's
casefold runs at 75 MB/s; polars' lowercase at 300+ MB/s. So every text is lowercased by polars, and a non-ASCII
one is then corrected character by character from a table (`char_tables`): "ß" → "ss", "ς" → "σ", "ﬁ" → "fi",
"ｗ" → "w", "’" → "'", ... (one regex scan finds the few texts that need it). That is exact when each character folds on its own, without its neighbours: when
its NFKD (and that of its case folding) starts with a character that neither reorders with nor composes with
what comes before (combining class 0, not NFKC_QC=Maybe), NFKC and case folding of the text are those of its
characters, concatenated. A text with a character that does not (a combining mark, a Hangul vowel jamo, "İ",
a letter newer than this Python's Unicode tables...) takes `fold` instead: rare in transcripts, which are
mostly composed (NFC) text.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import orjson
import regex

from cotlens.measure.unicode import code_point_ranges
from cotlens.runtime.cache import read_cached, write_cached

if TYPE_CHECKING:  # polars is slow to import: imported where a text is counted, not by every command
    import polars as pl

# RIGHT / LEFT SINGLE QUOTATION MARK, SINGLE HIGH-REVERSED-9 QUOTATION MARK, MODIFIER LETTER APOSTROPHE.
# (FULLWIDTH APOSTROPHE already folds to "'" under NFKC.)
APOSTROPHES = ("\u2019", "\u2018", "\u201b", "\u02bc")

# Every character that lowercasing, case folding or NFKC may change, per the `regex` module's Unicode tables
# (as recent as Python's or more: a character Python does not know yet is listed, checked, and found not to
# fold like polars lowercases it). Any other character is its own fold and its own lowercase.
MAY_CHANGE = (
    r"[\p{Changes_When_Lowercased}\p{Changes_When_Casefolded}\p{NFKC_Quick_Check=No}"
    r"\p{NFKC_Quick_Check=Maybe}\P{Canonical_Combining_Class=0}]"
)
# Characters that NFKC may reorder with (combining class > 0) or compose with (NFKC_QC=Maybe) the one before.
JOINS_PREVIOUS = r"[\p{NFKC_Quick_Check=Maybe}\P{Canonical_Combining_Class=0}]"


def fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    # str.replace, not str.translate: translate maps character by character in Python (11 MB/s here, against
    # several GB/s for four replaces).
    for apostrophe in APOSTROPHES:
        folded = folded.replace(apostrophe, "'")
    return folded


def fold_column(texts: pl.Series) -> pl.Series:
    """fold of every text of a String series that has no missing values."""
    lowered = texts.str.to_lowercase()
    non_ascii = (texts.str.len_bytes() != texts.str.len_chars()).to_numpy()
    if not non_ascii.any():
        return lowered
    rows = np.flatnonzero(non_ascii)
    return lowered.scatter(rows, _fold_non_ascii(texts.gather(rows), lowered.gather(rows)))


def _fold_non_ascii(texts: pl.Series, lowered: pl.Series) -> pl.Series:
    special = special_rows(texts)
    if not len(special):
        return lowered
    return lowered.scatter(special, _fold_special(texts.gather(special), lowered.gather(special)))


def special_rows(texts: pl.Series) -> npt.NDArray[np.intp]:
    """Positions of the texts whose fold is not their lowercase: those with a character the table maps or one
    that does not fold alone (one scan; most texts have none)."""
    return np.flatnonzero(texts.str.contains(char_tables().special_class).to_numpy())


def fold_special(texts: pl.Series) -> pl.Series:
    """fold of texts that special_rows picked, without scanning them for special characters again."""
    return _fold_special(texts, texts.str.to_lowercase())


def _fold_special(texts: pl.Series, lowered: pl.Series) -> pl.Series:
    import polars as pl

    tables = char_tables()
    mapped = lowered.str.replace_many(tables.mapping)
    exact = np.flatnonzero(texts.str.contains(tables.not_alone_class).to_numpy())
    if not len(exact):
        return mapped
    return mapped.scatter(exact, pl.Series([fold(t) for t in texts.gather(exact).to_list()], dtype=pl.String))


@dataclass(frozen=True, slots=True)
class CharTables:
    """How a text lowercased by polars becomes its fold."""

    mapping: dict[str, str]  # a character of lowercased text → its fold, where the two differ
    not_alone: frozenset[str]  # characters that do not fold on their own: their texts take `fold`
    not_alone_class: str  # the same as a Rust-regex class
    special_class: str  # not_alone and the characters whose lowercase the mapping changes


# This process's tables, once it needed them.
_tables: list[CharTables] = []


def char_tables() -> CharTables:
    """The tables, built once per process, or read from the cache (runtime/cache.py) under everything they are
    built from: this module's source, Python's and polars' versions and Unicode tables (a JSON file: loading it
    runs no code; an unreadable one is built again)."""
    if not _tables:
        key = _made_of()
        tables = _decode_tables(read_cached(CACHE_NAME, key, ".json"))
        if tables is None:
            tables = _build_char_tables()
            write_cached(CACHE_NAME, key, _encode_tables(tables), ".json")
        _tables.append(tables)
    return _tables[0]


CACHE_NAME = "fold-tables"


def _made_of() -> list[object]:
    import polars as pl

    return [
        Path(__file__).read_bytes(),
        sys.version,
        unicodedata.unidata_version,
        pl.__version__,
        regex.__version__,
    ]


def _decode_tables(data: bytes | None) -> CharTables | None:
    """Tables from their JSON, or None when there is none or it is damaged."""
    if data is None:
        return None
    try:
        loaded = orjson.loads(data)
        tables = CharTables(
            dict(loaded["mapping"]),
            frozenset(loaded["not_alone"]),
            loaded["not_alone_class"],
            loaded["special_class"],
        )
    except (ValueError, KeyError, TypeError):
        return None
    texts = [
        *tables.mapping,
        *tables.mapping.values(),
        *tables.not_alone,
        tables.not_alone_class,
        tables.special_class,
    ]
    return tables if all(isinstance(t, str) for t in texts) else None


def _encode_tables(tables: CharTables) -> bytes:
    return orjson.dumps(
        {
            "mapping": tables.mapping,
            "not_alone": sorted(tables.not_alone),
            "not_alone_class": tables.not_alone_class,
            "special_class": tables.special_class,
        }
    )


def _build_char_tables() -> CharTables:
    """Built from this Python's and this polars' Unicode tables (the time it takes: bench/README.md), then checked
    on every character the mapping may touch: those for which it does not give `fold` are not alone."""
    import polars as pl

    may_change = sorted({c for c in _chars(MAY_CHANGE) if not c.isascii()} | set(APOSTROPHES))
    joins_previous = frozenset(_chars(JOINS_PREVIOUS))
    not_alone = {c for c in may_change if not _folds_alone(c, joins_previous)}
    mapping: dict[str, str] = {}
    for char, lowered in _lowercases(may_change):
        folded = fold(char)
        if char in not_alone or lowered == folded:
            continue
        # Only a character of lowercased text can be mapped, and no ASCII one (ASCII texts are not mapped).
        if len(lowered) != 1 or lowered.isascii() or mapping.setdefault(lowered, folded) != folded:
            not_alone.add(char)
    # The check, on the characters that may change and on the mapped ones as such (a text may hold "ß" itself).
    lowercases = _lowercases(sorted(set(may_change) | set(mapping)))
    mapped = pl.Series([low for _, low in lowercases], dtype=pl.String).str.replace_many(mapping).to_list()
    not_alone |= {c for (c, _), m in zip(lowercases, mapped, strict=True) if m != fold(c)}
    touched = {c for (c, low), m in zip(lowercases, mapped, strict=True) if m != low}
    return CharTables(mapping, frozenset(not_alone), _rust_class(not_alone), _rust_class(not_alone | touched))


def _lowercases(chars: list[str]) -> list[tuple[str, str]]:
    """(character, its lowercase by polars) alone and after a letter: lowercasing depends on the context only
    for a final capital sigma ("ΑΣ" → "ας")."""
    import polars as pl

    alone = pl.Series(chars, dtype=pl.String).str.to_lowercase().to_list()
    after = pl.Series([f"A{c}" for c in chars], dtype=pl.String).str.to_lowercase().str.slice(1).to_list()
    return [*zip(chars, alone, strict=True), *zip(chars, after, strict=True)]


def _chars(python_class: str) -> list[str]:
    return [chr(p) for first, last in code_point_ranges(python_class) for p in range(first, last + 1)]


def _folds_alone(char: str, joins_previous: frozenset[str]) -> bool:
    """Whether the character, and its case folding, decompose (NFKD) to text that starts with a character NFKC
    neither reorders nor composes with the one before: then NFKC and casefold of a text of such characters are
    those of each character, concatenated."""
    casefolded = unicodedata.normalize("NFKC", char).casefold()
    return all(unicodedata.normalize("NFKD", text)[0] not in joins_previous for text in (char, casefolded))


def _rust_class(chars: Iterable[str]) -> str:
    """The characters as a Rust-regex class of code point ranges (one that matches nothing when there are none)."""
    ranges: list[list[int]] = []
    for point in sorted(map(ord, chars)):
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    if not ranges:
        return r"[^\x{0}-\x{10FFFF}]"
    return "[" + "".join(rf"\x{{{a:X}}}-\x{{{b:X}}}" for a, b in ranges) + "]"
