"""Keyword in context: the occurrences of one term in stored transcripts, each on one line with its context.

An occurrence is exactly what `rates` counts (README, Definitions: "Term occurrence"; measure/terms.py): text and term
folded alike (NFKC, full case folding, NFKC, typographic apostrophes to "'"), whole occurrences only (the
characters just before and after are not word characters of the term's script), a term's words matching across
any whitespace run; a `re:` term is a regex on the folded text; a `--substring` term is found in
`text.lower()`. Each transcript's occurrences are the `count_terms` count of it, found in the same way: the
same boundary-consuming pattern on the folded text with a leading space, on Python's `regex` engine with the
same character classes; a `re:` term's whole matches by the same function as `count_terms` (on Rust's engine).

An occurrence is shown and located in the original text, not the folded one: the folded text is built cluster
by cluster (a character with the combining characters after it), so that each folded position maps back to the
cluster it came from ("ß" → "ss", "ｗ" → "w", "e" + U+0301 → "é"). Context: `width` display columns each side
(an East Asian wide character takes 2), whitespace runs shown as one space, "…" where text is cut; the rows
keep the raw text and the renderers make it inert.

Which occurrences: the first `limit` in store order (read in this process, stopping as soon as they are found),
or with `sample` a uniform random sample of `limit` among all of them: each occurrence gets a priority drawn
from a numpy Generator seeded with (seed, its transcript id) and the smallest priorities win, so the sample
depends only on the seed and the matched transcripts, not on how the store is split or how many workers count.
"""

from __future__ import annotations

import hashlib
import heapq
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
import regex
from rich.cells import cell_len

from cotlens.errors import UsageError
from cotlens.escape import printable
from cotlens.measure.fold import APOSTROPHES, JOINS_PREVIOUS, MAY_CHANGE, fold
from cotlens.measure.terms import (
    WHITESPACE,
    Term,
    _python_word_class,
    bounded_ends,
    count_terms,
    regex_whole_spans,
)
from cotlens.measure.unicode import code_point_ranges
from cotlens.result import Column, Result
from cotlens.scan import Selection, check_selection, map_store, read_row_group, rows_where
from cotlens.store import Store

FIELDS = ("reasoning", "answer")
# Rows counted at a time while looking for the first lines: a row group's 4,096 long texts take 0.4 s to count
# for a common term, 256 of them 6 ms, so the first page does not wait for a whole row group.
FIRST_SLICE_ROWS = 256
# Longer matches (a `re:` term's) are shown cut in the middle.
MATCH_CHARS = 60
# Context is read from this many characters per display column wanted: whitespace runs shrink to one space.
REACH_PER_COLUMN = 4
# Every character that folding may change (fold.MAY_CHANGE) and the apostrophes fold maps to "'".
FOLDS = MAY_CHANGE[:-1] + "".join(APOSTROPHES) + "]"


@dataclass(frozen=True, slots=True)
class KwicOptions:
    field: str = "reasoning"
    limit: int = 20  # lines returned
    width: int = 40  # display columns of context on each side
    sample: bool = False  # a seeded random sample of all occurrences instead of the first ones in store order
    seed: int = 0

    def validate(self) -> None:
        if self.field not in FIELDS:
            raise UsageError(f"--field must be one of {', '.join(FIELDS)}, not {self.field!r}")
        if self.limit < 1:
            raise UsageError(f"--limit must be at least 1, not {self.limit}")
        if self.width < 2:  # room for "…" and one character
            raise UsageError(f"--width must be at least 2, not {self.width}")


# ---- Locating occurrences in the original text


@dataclass(frozen=True, slots=True)
class Cluster:
    """Original characters [start, end) that became searched characters [folded_start, folded_end)."""

    folded_start: int
    folded_end: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SearchedText:
    """A text as searched (folded or lowered), with the clusters whose length or content changed; every other
    character is itself, one for one."""

    text: str
    clusters: tuple[Cluster, ...] = ()

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of searched characters [start, end): from the start of the cluster holding the
        first to the end of the cluster holding the last."""
        first = self._original_start(start)
        return first, max(first, self._original_end(end))

    def _original_start(self, position: int) -> int:
        cluster = self._cluster_at(position)
        if cluster is None:
            return position
        if position < cluster.folded_end:
            return cluster.start
        return cluster.end + position - cluster.folded_end

    def _original_end(self, position: int) -> int:
        if position == 0:
            return 0
        cluster = self._cluster_at(position - 1)
        if cluster is None:
            return position
        if position - 1 < cluster.folded_end:
            return cluster.end
        return cluster.end + position - cluster.folded_end

    def _cluster_at(self, position: int) -> Cluster | None:
        """The last cluster starting at or before `position` (it holds it, or precedes it)."""
        i = bisect_right(self.clusters, position, key=_folded_start) - 1
        return self.clusters[i] if i >= 0 else None


def _folded_start(cluster: Cluster) -> int:
    return cluster.folded_start


def folded_with_clusters(text: str) -> SearchedText:
    """fold(text), built cluster by cluster so that positions map back (tests check it equals fold(text))."""
    if text.isascii():  # fold is lower: one character for one
        return SearchedText(text.lower())
    pieces: list[str] = []
    clusters: list[Cluster] = []
    done = length = 0  # original characters consumed; folded characters produced
    for m in _cluster_pattern().finditer(text):
        unchanged = text[done : m.start()]
        folded = fold(m.group())
        pieces += [unchanged, folded]
        length += len(unchanged)
        clusters.append(Cluster(length, length + len(folded), m.start(), m.end()))
        length += len(folded)
        done = m.end()
    pieces.append(text[done:])
    return SearchedText("".join(pieces), tuple(clusters))


def lowered_with_clusters(text: str) -> SearchedText:
    """text.lower() (what --substring searches): one character for one but where lowering lengthens one
    ("İ" → "i̇")."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return SearchedText(lowered)
    clusters: list[Cluster] = []
    length = 0
    for i, char in enumerate(text):
        grown = len(char.lower())
        if grown != 1:
            clusters.append(Cluster(length, length + grown, i, i + 1))
        length += grown
    return SearchedText(lowered, tuple(clusters))


@lru_cache(maxsize=1)
def _cluster_pattern() -> regex.Pattern[str]:
    """A character that folding changes, or any character with the ones after it that do not fold on their
    own (fold.JOINS_PREVIOUS: NFKC reorders or composes them with what precedes, as "e" + U+0301 → "é")."""
    joins_previous = regex.compile(JOINS_PREVIOUS, regex.V1)

    def joins(char: str) -> bool:  # it, or its case folding, decomposes to a character that joins
        folded = unicodedata.normalize("NFKC", char).casefold()
        return any(joins_previous.match(unicodedata.normalize("NFKD", t)[0]) for t in (char, folded))

    joiners = [chr(p) for a, b in code_point_ranges(MAY_CHANGE) for p in range(a, b + 1) if joins(chr(p))]
    return regex.compile(rf"(?s:.){_char_class(joiners)}+|{FOLDS}", regex.V1)


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(regex.escape(c) for c in chars) + "]" if chars else r"[^\s\S]"


@lru_cache(maxsize=32)
def _pattern(term: Term) -> regex.Pattern[str]:
    """What count_terms runs for the term, on Python's engine: for a word or phrase, one non-word character,
    the term, and the next character when it is a word character (`glued`: then the occurrence is not whole)."""
    if term.kind == "substring":
        return regex.compile(regex.escape(term.key))
    word = _python_word_class(term.scripts)
    body = r"\s+".join(regex.escape(w) for w in term.key.split(" "))
    # No boundary at an end in a script written without spaces (measure/terms.py, `_Pass.loose`).
    bounded_start, bounded_end = bounded_ends(term.key, term.scripts)
    start = f"[^{word}]" if bounded_start else ""
    glued = word if bounded_end else "(?!)"
    return regex.compile(rf"{start}(?P<term>{body})(?P<glued>{glued})?", regex.V1)


def find_occurrences(text: str, term: Term) -> list[tuple[int, int]]:
    """The [start, end) spans, in the original text, of the term's occurrences as count_terms counts them."""
    if term.kind == "substring":
        searched = lowered_with_clusters(text)
        return [searched.original(*m.span()) for m in _pattern(term).finditer(searched.text)]
    searched = folded_with_clusters(text)
    # count_terms searches " " + fold(text): the space is the boundary before an occurrence at the start.
    if term.kind == "regex":
        import polars as pl

        [spans] = regex_whole_spans(pl.Series([" " + searched.text]), term.key)
    else:
        matches = _pattern(term).finditer(" " + searched.text)
        spans = [m.span("term") for m in matches if m.group("glued") is None]
    return [searched.original(max(0, a - 1), max(0, b - 1)) for a, b in spans]


# ---- One line of context


def _cells(text: str) -> int:
    """Display columns once the renderers made it inert (a control character shows as one symbol)."""
    return cell_len(printable(text))


def _fitting(chars: str, columns: int) -> int:
    """How many of `chars`, taken in order, fit in `columns` display columns."""
    used = 0
    for n, char in enumerate(chars):
        used += _cells(char)
        if used > columns:
            return n
    return len(chars)


def _left(text: str, start: int, width: int) -> str:
    reach = REACH_PER_COLUMN * width
    before = WHITESPACE.sub(" ", text[max(0, start - reach) : start])
    if start <= reach and _cells(before) <= width:
        return before
    return "…" + before[len(before) - _fitting(before[::-1], width - 1) :]


def _right(text: str, end: int, width: int) -> str:
    reach = REACH_PER_COLUMN * width
    after = WHITESPACE.sub(" ", text[end : end + reach])
    if end + reach >= len(text) and _cells(after) <= width:
        return after
    return after[: _fitting(after, width - 1)] + "…"


def _shown_match(match: str) -> str:
    flat = WHITESPACE.sub(" ", match)
    if len(flat) <= MATCH_CHARS:
        return flat
    return f"{flat[: MATCH_CHARS // 2]}…{flat[-MATCH_CHARS // 2 :]}"


# ---- Reading the store


@dataclass(frozen=True, slots=True)
class _Line:
    row: int  # in its row group's selected transcripts
    record: dict[str, Any]  # the JSON row
    priority: float = 0.0  # with sample: the smallest priorities form the sample
    batch: int = 0  # the row group's place in store order, set by the reading process

    def store_order(self) -> tuple[int, int, int]:
        return (self.batch, self.row, self.record["start"])

    def sample_order(self) -> tuple[float, str, int]:
        return (self.priority, self.record["transcript_id"], self.record["start"])


@dataclass(frozen=True, slots=True)
class _Found:
    """One row group's lines: its first `limit` occurrences, or its `limit` of smallest priority."""

    lines: list[_Line]
    # Counted with sample only: the first lines stop reading early.
    occurrences: int = 0
    transcripts: int = 0  # with at least one occurrence


@dataclass(frozen=True, slots=True)
class _KwicKernel:
    term: Term
    options: KwicOptions

    def columns(self) -> tuple[str, ...]:
        return (self.options.field, "model", "transcript_id", "source_path", "source_locator")

    def __call__(self, table: pa.Table) -> _Found:
        table = rows_where(table, table[self.options.field].is_valid())
        if not self.options.sample:
            return _Found(self._first(table))
        counts = self._counts(table[self.options.field])
        return _Found(self._sampled(table, counts), int(counts.sum()), int(np.count_nonzero(counts)))

    def _counts(self, texts: pa.ChunkedArray) -> npt.NDArray[np.int64]:
        # count_terms finds the transcripts with occurrences fast; only those are searched again, in Python.
        return count_terms(texts.combine_chunks(), (self.term,))[:, 0]

    def _first(self, table: pa.Table) -> list[_Line]:
        """The row group's first `limit` occurrences, counted a slice at a time so as to stop early."""
        lines: list[_Line] = []
        for offset in range(0, table.num_rows, FIRST_SLICE_ROWS):
            counts = self._counts(table[self.options.field].slice(offset, FIRST_SLICE_ROWS))
            for row in (np.flatnonzero(counts) + offset).tolist():
                lines += self._lines_of(table, row)[: self.options.limit - len(lines)]
                if len(lines) == self.options.limit:
                    return lines
        return lines

    def _lines_of(self, table: pa.Table, row: int) -> list[_Line]:
        text = table[self.options.field][row].as_py()
        return [
            _Line(row, self._record(table, row, text, *span)) for span in find_occurrences(text, self.term)
        ]

    def _sampled(self, table: pa.Table, counts: npt.NDArray[np.int64]) -> list[_Line]:
        lines = []
        for row, picks in self._chosen(table, counts).items():
            text = table[self.options.field][row].as_py()
            spans = find_occurrences(text, self.term)
            for nth, priority in picks:
                if nth < len(spans):  # a `re:` term may match less on Python's engine than on Rust's
                    lines.append(_Line(row, self._record(table, row, text, *spans[nth]), priority))
        return lines

    def _chosen(self, table: pa.Table, counts: npt.NDArray[np.int64]) -> dict[int, list[tuple[int, float]]]:
        """The row group's `limit` occurrences of smallest priority, as {row: [(n, priority)]} for a row's n-th
        occurrence (it gets the n-th priority drawn for its transcript)."""
        rows = np.flatnonzero(counts)
        ids = table["transcript_id"]
        drawn = [_priorities(self.options.seed, ids[row].as_py(), int(counts[row])) for row in rows]
        if not drawn:
            return {}
        priorities = np.concatenate(drawn)
        owner = np.repeat(rows, counts[rows])
        nth = np.concatenate([np.arange(len(d)) for d in drawn])
        chosen: dict[int, list[tuple[int, float]]] = {}
        for i in np.argsort(priorities, kind="stable")[: self.options.limit].tolist():
            chosen.setdefault(int(owner[i]), []).append((int(nth[i]), float(priorities[i])))
        return chosen

    def _record(self, table: pa.Table, row: int, text: str, start: int, end: int) -> dict[str, Any]:
        width = self.options.width
        return {
            "model": table["model"][row].as_py(),
            "source": f"{table['source_path'][row].as_py()}:{table['source_locator'][row].as_py()}",
            "transcript_id": table["transcript_id"][row].as_py(),
            "left": _left(text, start, width),
            "match": text[start:end],
            "right": _right(text, end, width),
            "start": start,
            "end": end,
        }


def _priorities(seed: int, transcript_id: str, count: int) -> npt.NDArray[np.float64]:
    """Uniform priorities for a transcript's occurrences, the same in every process and run: Python's hash()
    of a string differs between processes, a digest does not."""
    digest = int.from_bytes(hashlib.blake2b(transcript_id.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([seed, digest]).random(count)


def compute_kwic(store: Store, term: Term, selection: Selection, options: KwicOptions) -> Result:
    """Lines of `term` in context over the selected transcripts' `options.field`."""
    options.validate()
    store.require()
    check_selection(store, selection)
    _pattern(term)  # a regex Python's engine refuses fails now, before anything is read
    kernel = _KwicKernel(term, options)
    with store.reading():
        if options.sample:
            lines, totals = _sample(store, kernel, selection)
        else:
            lines, totals = _first(store, kernel, selection), None
    return _result(term, selection, options, lines, totals)


def _first(store: Store, kernel: _KwicKernel, selection: Selection) -> list[_Line]:
    """The first lines in store order, read in this process a row group at a time: the first page is there as
    soon as its row group is read, with no worker processes to start and nothing read ahead (map_store would
    count a second row group before handing over the first)."""
    limit = kernel.options.limit
    lines: list[_Line] = []
    for path in store.part_files():
        for row_group in range(pq.read_metadata(path).num_row_groups):
            part = kernel(read_row_group(str(path), row_group, kernel.columns(), selection))
            lines += part.lines[: limit - len(lines)]
            if len(lines) == limit:
                return lines
    return lines


def _sample(store: Store, kernel: _KwicKernel, selection: Selection) -> tuple[list[_Line], tuple[int, int]]:
    """The occurrences of smallest priority over the whole selection (each row group's own smallest, merged),
    in store order; and how many occurrences and transcripts with one there are."""
    kept: list[_Line] = []
    occurrences = transcripts = 0
    for batch, part in enumerate(map_store(store, kernel, kernel.columns(), selection)):
        placed = [replace(line, batch=batch) for line in part.lines]
        kept = heapq.nsmallest(kernel.options.limit, [*kept, *placed], key=_Line.sample_order)
        occurrences += part.occurrences
        transcripts += part.transcripts
    return sorted(kept, key=_Line.store_order), (occurrences, transcripts)


# ---- The result


def _result(
    term: Term,
    selection: Selection,
    options: KwicOptions,
    lines: list[_Line],
    totals: tuple[int, int] | None,
) -> Result:
    records = [line.record for line in lines]
    return Result(
        "kwic",
        f"{term.label} in context",
        _columns(),
        [_displayed(r, options.width) for r in records],
        _definitions(term, selection, options, totals),
        _caption(term, options, len(records), totals),
        records=records,
    )


def _displayed(record: dict[str, Any], width: int) -> dict[str, Any]:
    """The table's row: the left context padded to `width` columns, so that the matches line up under each other
    in a wide enough terminal, and the match on one line. Still raw text: the renderers escape it."""
    padding = " " * (width - _cells(record["left"]))
    return {**record, "left": padding + record["left"], "match": _shown_match(record["match"])}


def _columns() -> list[Column]:
    return [
        Column("model", "model"),
        Column("source", "source"),
        Column("left", "left context"),
        Column("match", "match"),
        Column("right", "right context"),
    ]


def _matching(term: Term) -> str:
    if term.kind == "substring":
        return "substring of the lowercased text (text.lower().count(term))"
    if term.kind == "regex":
        return "regex on the NFKC + casefold text (non-overlapping matches)"
    return "whole occurrences on NFKC + casefold text (README, Definitions: Term occurrence)"


def _caption(term: Term, options: KwicOptions, shown: int, totals: tuple[int, int] | None) -> str:
    if totals is None:
        which = f"The first {shown} occurrences in store order"
    else:
        occurrences, transcripts = totals
        which = (
            f"{shown} of {occurrences:,} occurrences in {transcripts:,} transcripts, "
            f"a uniform random sample (seed {options.seed}), in store order"
        )
    return f"{which}; {_matching(term)}, in the {options.field}."


def _definitions(
    term: Term, selection: Selection, options: KwicOptions, totals: tuple[int, int] | None
) -> dict[str, Any]:
    return {
        "term": term.label,
        "field": options.field,
        "matching": _matching(term),
        "start_end": "character offsets of the match in the original (unfolded) text",
        "context": f"{options.width} display columns each side, whitespace runs as one space, … where cut",
        "order": "uniform random sample, in store order"
        if options.sample
        else "first occurrences, store order",
        "limit": options.limit,
        "seed": options.seed if options.sample else None,
        "occurrences": totals[0] if totals else None,
        "transcripts_with_term": totals[1] if totals else None,
        "selection": selection.describe(),
    }
