"""Keyword in context: the occurrences of one term in stored transcripts, each on one line with its context.

An occurrence is exactly what `rates` counts (README, Definitions: "Term occurrence"; measure/terms.py): text and term
folded alike (NFKC, full case folding, NFKC, typographic apostrophes to "'"), whole occurrences only (the
characters just before and after are not word characters of the term's script), a term's words matching across
any whitespace run; a `re:` term is a regex on the folded text; a `--substring` term is found in
`text.lower()`. `count_terms` picks the transcripts with occurrences; `find_occurrences` locates them, with the
same patterns on the same engine, so a transcript shows as many occurrences as it counts.

An occurrence is shown and located in the original text, not the folded one (measure/positions.py). Context:
`width` display columns each side (an East Asian wide character takes 2), whitespace runs shown as one space,
"…" where text is cut, as measure/context.py measures and cuts it; the rows keep the raw text and the renderers
make it inert.

Which occurrences: the first `limit` in store order (read in this process, stopping as soon as they are found),
or with `sample` a uniform random sample of `limit` among all of them: each occurrence gets a priority drawn
from a numpy Generator seeded with (seed, its transcript id) and the smallest priorities win, so the sample
depends only on the seed and the matched transcripts, not on how the store is split or how many workers count.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cotlens.errors import UsageError
from cotlens.measure.context import kwic_row, left_context, right_context
from cotlens.measure.terms import Term, count_terms, find_occurrences
from cotlens.result import Column, Result
from cotlens.scan import Selection, check_selection, map_store, read_row_group, rows_where
from cotlens.store import Store, part_metadata

FIELDS = ("reasoning", "answer")
# Rows counted at a time while looking for the first lines: a row group's 4,096 long texts take 0.4 s to count
# for a common term, 256 of them 6 ms, so the first page does not wait for a whole row group.
FIRST_SLICE_ROWS = 256


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
            for nth, priority in picks:  # spans are as many as counts (find_occurrences)
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
            "left": left_context(text, start, width),
            "match": text[start:end],
            "right": right_context(text, end, width),
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
    for path in store.parts():
        for row_group in range(part_metadata(path).num_row_groups):
            part = kernel(read_row_group(path, row_group, kernel.columns(), selection))
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
        [kwic_row(r, options.width) for r in records],
        _definitions(term, selection, options, totals),
        _caption(term, options, len(records), totals),
        records=records,
    )


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
