"""`cotlens compare`: models side by side, the first one the baseline; or one model's reasoning against its
answers (`fields`). Every metric is a ratio estimator over transcripts, Σ numerator / Σ denominator, so one
machinery gives each side's value with its interval (groups.RatioSums) and each candidate's ratio to the baseline
with its interval and a two-sided p-value (studentized bootstrap, each side resampled on its own; delta method for large
groups), Benjamini-Hochberg adjusted across every ratio of the table.

Metrics (their keys are what `--fail-if` names):

- `transcripts`, `tokens_median`: shown, not compared;
- `tokens_mean`: mean o200k tokens of the field per transcript;
- `<lexicon>` and `<lexicon>:<term>`: occurrences per 1000 tokens (README, Definitions: Term occurrence);
- `nonlatin_token_share`: non-Latin tokens / tokens; `spans_per_1k`: code-switch spans per 1000 tokens;
- `loop_share`: transcripts ending in a degenerate loop; `gopher_share`: transcripts over a Gopher threshold.

With `fields`, the two sides are the same transcripts' reasoning and answer (transcripts with both), resampled
as if independent: the texts of one transcript are positively correlated, so the intervals are conservative.

This module reads the store (the kernel, a side's numerators per row group) and chooses what to show;
compare_table.py turns the sums into values, ratios, records and the displayed table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.analyses import grouped_scan
from cotlens.analyses.compare_table import (
    CompareOptions,
    Metric,
    MetricTable,
    SideSums,
    compare_result,
    records,
)
from cotlens.analyses.occurrences import term_counts
from cotlens.errors import CotlensError, UsageError
from cotlens.groups import Ints
from cotlens.lexicon import Lexicon, lexicon_spans, stored_key, stored_positions
from cotlens.measure import PER_TOKEN, registered_kernels
from cotlens.measure.scripts import leave_out_scripts
from cotlens.result import Result
from cotlens.scan import Selection, rows_where, scan_workers
from cotlens.stats import FloatArray
from cotlens.store import Store

# What callers import from here; the options and the table's types live in compare_table, below.
__all__ = [
    "SHOWN_ONLY",
    "CompareOptions",
    "Comparison",
    "compare",
    "metric_keys",
    "token_metrics",
    "transcript_metrics",
]


def token_metrics() -> tuple[Metric, ...]:
    """Per-token metrics, whose numerators follow the terms' in the order of their columns."""
    return tuple(metric for metric, denominator in _compared() if denominator == PER_TOKEN)


def transcript_metrics() -> tuple[Metric, ...]:
    """Per-transcript metrics, in the order of their columns."""
    return tuple(metric for metric, denominator in _compared() if denominator is None)


def _compared() -> list[tuple[Metric, str | None]]:
    """The measurements' metrics: those the kernels declare for compare (measure/), each with its denominator,
    the token count (PER_TOKEN) or None, per transcript (a share of transcripts is the mean of a 0/1 flag)."""
    return [
        (Metric(m.key, m.label, m.kind, m.numerator), m.denominator)
        for kernel in registered_kernels()
        for m in kernel.metrics
        if m.label is not None
    ]


SHOWN_ONLY = (
    Metric("transcripts", "transcripts", "count"),
    Metric("tokens_median", "tokens, median", "count"),
)


@dataclass(frozen=True, slots=True)
class _Side:
    """One row group's numbers for one side (a model, or a field)."""

    by_token: FloatArray  # (n, terms + lexicons + len(token_metrics()))
    tokens: Ints
    by_transcript: FloatArray  # (n, len(transcript_metrics()))


@dataclass(frozen=True, slots=True)
class _CompareKernel:
    """Per side: term counts of the field's text and the stored measurements, as per-transcript numerators."""

    sides: tuple[str, ...]  # model names, or the two fields
    by_field: bool
    field: str
    terms: tuple[Any, ...]
    lexicon_spans: tuple[tuple[int, int], ...]
    # Where the terms are among the counts stored at ingest, when they all are: no text is read then.
    stored: tuple[int, ...] | None = None
    ignore: frozenset[str] = frozenset()  # scripts left out (their transcripts' mixing measured again)
    # The stored columns of token_metrics() and transcript_metrics(), in order.
    per_token: tuple[str, ...] = ()
    per_transcript: tuple[str, ...] = ()

    def texts(self) -> tuple[str, ...]:
        return self.sides if self.by_field else (self.field,)

    def columns(self) -> tuple[str, ...]:
        names = list(dict.fromkeys((PER_TOKEN, *self.per_token, *self.per_transcript)))
        if self.terms and self.stored is not None:
            names.append("lexicon_counts")
        if self.ignore:
            names.append("letters_by_script")
        cols = ["model", *(f"{t}_{n}" for t in self.texts() for n in names)]
        text_needed = (self.terms and self.stored is None) or self.ignore
        return (*cols, *(self.texts() if text_needed else ()))

    def __call__(self, table: pa.Table) -> _Sides:
        valid = pc.and_(*(table[f"{t}_loop"].is_valid() for t in self.texts())) if self.by_field else None
        if valid is None:
            valid = table[f"{self.field}_loop"].is_valid()
        table = rows_where(table, valid)
        if not table.num_rows:
            return _Sides({})
        for text in self.texts() if self.ignore else ():
            table = leave_out_scripts(table, text, self.ignore)
        if self.by_field:
            return _Sides({text: self._side(table, text) for text in self.sides})
        # One pass over the batch, then its rows ordered by model once, each model's a slice (a view): filtering
        # per model would copy every array once per model.
        whole = self._side(table, self.field)
        models = pc.dictionary_encode(table["model"]).combine_chunks()
        codes = models.indices.to_numpy()
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(models.dictionary) + 1))
        by_token, tokens, by_transcript = (
            whole.by_token[order],
            whole.tokens[order],
            whole.by_transcript[order],
        )
        out = {}
        for code, model in enumerate(models.dictionary.to_pylist()):
            rows = slice(int(bounds[code]), int(bounds[code + 1]))
            if model in self.sides and rows.stop > rows.start:
                out[model] = _Side(by_token[rows], tokens[rows], by_transcript[rows])
        return _Sides(out)

    def _side(self, table: pa.Table, text: str) -> _Side:
        """The numerators as one float64 array, filled in place: the statistics need floats, and building it
        once spares a copy per step (a million transcripts x 50 terms is 400 MB a copy)."""

        def column(name: str) -> npt.NDArray[Any]:
            values: npt.NDArray[Any] = table[f"{text}_{name}"].to_numpy(zero_copy_only=False)
            return values

        n, terms = table.num_rows, len(self.terms)
        measured = terms + len(self.lexicon_spans)
        by_token = np.empty((n, measured + len(self.per_token)))
        if terms:
            by_token[:, :terms] = term_counts(table, text, self.terms, self.stored)
        if self.lexicon_spans:  # each lexicon's total, as one matrix product
            members = np.zeros((terms, len(self.lexicon_spans)))
            for j, (start, end) in enumerate(self.lexicon_spans):
                members[start:end, j] = 1.0
            by_token[:, terms : terms + len(self.lexicon_spans)] = by_token[:, :terms] @ members
        for j, name in enumerate(self.per_token):
            by_token[:, measured + j] = column(name)
        tokens = np.asarray(column(PER_TOKEN), dtype=np.int64)
        by_transcript = np.column_stack([column(name) for name in self.per_transcript]).astype(np.float64)
        return _Side(by_token, tokens, by_transcript)


@dataclass(frozen=True, slots=True)
class _Sides:
    """A part: the numbers of each side present in a row group."""

    sides: dict[str, _Side]

    def group_rows(self) -> Iterable[tuple[str, _Side]]:
        return self.sides.items()


def _add(acc: SideSums, part: _Sides, side: _Side) -> None:
    acc.by_token.add(side.by_token, side.tokens)
    acc.by_transcript.add(side.by_transcript, np.ones(len(side.tokens), dtype=np.int64))
    acc.tokens.append(side.tokens)


@dataclass(frozen=True, slots=True)
class Comparison:
    result: Result  # what is shown: the lexicon totals, the chosen terms, the other metrics
    records: list[dict[str, Any]]  # every metric's records, for --fail-if gates


def metric_keys(lexicons: list[Lexicon]) -> list[str]:
    """Every metric a comparison with these lexicons computes (what a gate may name)."""
    return [m.key for m in (*SHOWN_ONLY, *_term_metrics(lexicons), *token_metrics(), *transcript_metrics())]


def compare(
    store: Store,
    sides: list[str],
    lexicons: list[Lexicon],
    selection: Selection,
    options: CompareOptions,
) -> Comparison:
    """`sides`: the models (baseline first), or one model when options.fields is set."""
    _check_sides(sides, options)
    grouped_scan.start_scan(store, selection, None)
    terms = [t for lexicon in lexicons for t in lexicon.terms]
    spans = lexicon_spans(lexicons)
    names = list(options.fields) if options.fields else sides
    kernel = _CompareKernel(
        tuple(names),
        options.fields is not None,
        options.field,
        tuple(terms),
        tuple(spans),
        stored_positions(lexicons),
        options.ignore,
        tuple(m.numerator for m in token_metrics()),
        tuple(m.numerator for m in transcript_metrics()),
    )
    # The scan's workers, when it has any, then draw the bootstrap's resamples.
    with scan_workers(store, kernel.columns()) as workers:
        accumulated = grouped_scan.scan_groups(store, kernel, selection, _add, lambda _: SideSums(), workers)
        for name in names:
            if name not in accumulated:
                what = f"{name} text" if options.fields else f"{options.field} text"
                who = sides[0] if options.fields else name
                raise CotlensError(
                    f"{who} has no transcripts with {what} in the selection (kinds {', '.join(selection.kinds)}): "
                    "nothing to compare"
                )
        by_token = [*_term_metrics(lexicons), *token_metrics()]
        table = MetricTable.build(
            names, accumulated, by_token, list(transcript_metrics()), options.intervals, workers
        )
    shown = _shown_metrics(table, names, lexicons, options)
    result = compare_result(table, shown, names, selection, options, lexicons)
    every = [record for metric in [*SHOWN_ONLY, *table.metrics] for record in records(table, metric, names)]
    return Comparison(result, every)


def _check_sides(sides: list[str], options: CompareOptions) -> None:
    if options.fields:
        if len(sides) != 1:
            raise UsageError("--fields compares one model's texts: give exactly one model")
        return
    if len(sides) < 2:
        raise UsageError("give at least two models: the baseline first, then the ones to compare with it")
    repeated = sorted({s for s in sides if sides.count(s) > 1})
    if repeated:
        raise UsageError(f"model {', '.join(map(repr, repeated))} given twice")


def _term_metrics(lexicons: list[Lexicon]) -> list[Metric]:
    terms = [
        Metric(stored_key(lex.name, t), f"{lex.name}: {t.label}", "rate")
        for lex in lexicons
        for t in lex.terms
    ]
    totals = [Metric(lex.name, f"{lex.name} (total)", "rate") for lex in lexicons]
    return terms + totals


def _shown_metrics(
    table: MetricTable, names: list[str], lexicons: list[Lexicon], options: CompareOptions
) -> list[Metric]:
    """Lexicon totals, then their terms (all when lexicons were chosen, else those that differ most), then the
    language-mixing and repetition metrics."""
    by_key = {m.key: m for m in table.metrics}
    totals = [by_key[lex.name] for lex in lexicons]
    terms = [m for m in table.metrics if m.kind == "rate" and ":" in m.key]
    if not options.all_terms:
        change = {m.key: _largest_change(table, m.key, names) for m in terms}
        terms = sorted((m for m in terms if change[m.key] > 0), key=lambda m: -change[m.key])[
            : options.top_terms
        ]
    return [*SHOWN_ONLY, *totals, *terms, *token_metrics(), *transcript_metrics()]


# A term needs this many occurrences over all sides to be ranked among those that differ most.
RANK_MIN_OCCURRENCES = 10


def _largest_change(table: MetricTable, key: str, names: list[str]) -> float:
    """|log ratio| of a side's rate to the baseline's, the largest over the sides, each rate with half an
    occurrence added (so a term one side never uses still ranks, and rare terms do not dominate)."""

    def rate_and_occurrences(side: str) -> tuple[float, float]:
        tokens = max(1, table.counts[side]["tokens"])
        per_1k = table.values[(key, side)][0]
        return per_1k + 500.0 / tokens, per_1k * tokens / 1000.0

    base, base_occurrences = rate_and_occurrences(names[0])
    sides = [rate_and_occurrences(side) for side in names[1:]]
    if base_occurrences + sum(o for _, o in sides) < RANK_MIN_OCCURRENCES:
        return 0.0
    return max(abs(float(np.log(rate / base))) for rate, _ in sides)
