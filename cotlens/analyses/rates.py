"""Term rates per 1000 tokens, with intervals over transcripts, per group of transcripts.

Rate = 1000 × Σ occurrences / Σ tokens over the group's transcripts that have text in the chosen field
(transcripts without text never enter a denominator). Prevalence = share of those transcripts with at least one
occurrence (Wilson interval). Rate intervals: studentized bootstrap over transcripts up to
stats.BOOTSTRAP_MAX_TRANSCRIPTS per group, the delta method above (README, Definitions: "Rate").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cotlens.analyses import grouped_scan
from cotlens.analyses.occurrences import counts_column, term_counts
from cotlens.errors import CotlensError
from cotlens.groups import (
    GroupKey,
    IntervalOptions,
    RatioSums,
    check_by,
    group_codes,
    group_columns,
    group_intervals,
    interval_caption,
)
from cotlens.lexicon import Lexicon, lexicon_spans, stored_positions
from cotlens.measure.terms import Passes, Term, fold_series, term_passes
from cotlens.measure.tokens import tokenizer_description
from cotlens.measure.unicode import rust_class
from cotlens.result import Column, Result
from cotlens.scan import Selection, rows_where, scan_workers
from cotlens.stats import Intervals
from cotlens.store import Store

Field = Literal["reasoning", "answer"]
Unit = Literal["o200k", "reported", "words"]
TOTAL = "(total)"
# A word, for `--tokens words`: a maximal run of letters, combining marks, digits and underscores.
WORD_CLASS = r"[\p{L}\p{M}\p{Nd}_]"


@dataclass(frozen=True, slots=True)
class RateOptions:
    by: str = "model"  # model | dataset | tag:KEY
    field: Field = "reasoning"
    unit: Unit = "o200k"
    substring: bool = False
    intervals: IntervalOptions = IntervalOptions()  # frozen: one shared default is safe

    def validate(self) -> None:
        check_by(self.by)
        if self.unit == "reported" and self.field != "reasoning":
            raise CotlensError(
                "--tokens reported counts reasoning tokens only: use it with --field reasoning"
            )


@dataclass(frozen=True, slots=True)
class _Counts(grouped_scan.CodedPart):
    """What a worker returns for one row group: its groups and codes, per-transcript counts and denominators."""

    counts: npt.NDArray[np.int64]  # (n, T + L): terms, then one total per lexicon
    tokens: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _CountKernel:
    terms: tuple[Term, ...]
    lexicon_spans: tuple[tuple[int, int], ...]  # each lexicon's [start, end) in terms
    options: RateOptions
    # Where the terms are among the counts stored at ingest, when they all are: no text is read then.
    stored: tuple[int, ...] | None = None
    passes: Passes | None = None  # made once here rather than in every worker

    def columns(self) -> tuple[str, ...]:
        o = self.options
        cols = [*group_columns(o.by), f"{o.field}_chars"]
        cols.append(counts_column(o.field, self.stored))
        if o.unit == "words" and o.field not in cols:
            cols.append(o.field)
        if o.unit == "o200k":
            cols.append(f"{o.field}_tokens_o200k")
        elif o.unit == "reported":
            cols.append("reasoning_tokens_reported")
        return tuple(cols)

    def __call__(self, table: pa.Table) -> _Counts:
        o = self.options
        table = rows_where(table, table[f"{o.field}_chars"].is_valid())  # null exactly where the text is
        if o.unit == "reported":
            table = rows_where(table, table["reasoning_tokens_reported"].is_valid())
        tokens = self._tokens(table)
        counts = term_counts(table, o.field, self.terms, self.stored, self.passes).astype(
            np.int64, copy=False
        )
        totals = [counts[:, a:b].sum(axis=1) for a, b in self.lexicon_spans]
        if totals:
            counts = np.column_stack([counts, *totals])
        groups, codes = group_codes(table, o.by)
        return _Counts(groups, codes, counts, tokens)

    def _tokens(self, table: pa.Table) -> npt.NDArray[np.int64]:
        o = self.options
        if o.unit == "words":
            import polars as pl  # 0.1-0.4 s to import: only where a text is read

            folded = fold_series(pl.Series(table[o.field].combine_chunks(), dtype=pl.String))
            words = folded.str.count_matches(rust_class(WORD_CLASS) + "+").fill_null(0)
            return np.asarray(words.to_numpy(), dtype=np.int64)
        column = f"{o.field}_tokens_o200k" if o.unit == "o200k" else "reasoning_tokens_reported"
        # Non-null: rows without a reported figure were filtered out, and require_measured passed before the scan.
        return grouped_scan.int_column(table[column])


def compute_rates(
    store: Store,
    lexicons: list[Lexicon],
    selection: Selection,
    options: RateOptions,
) -> Result:
    """Rates of every lexicon term (and each lexicon's total) per group."""
    options.validate()
    grouped_scan.start_scan(store, selection, options.by)
    terms = [t for lexicon in lexicons for t in lexicon.terms]
    stored = stored_positions(lexicons) if options.unit != "words" else None
    passes = term_passes(terms) if stored is None else None
    kernel = _CountKernel(tuple(terms), tuple(lexicon_spans(lexicons)), options, stored, passes)
    with scan_workers(store, kernel.columns()) as workers:
        groups = grouped_scan.sorted_groups(
            # Per-transcript counts, appended in store order: the same however a row group is cut.
            grouped_scan.scan_groups(
                store, kernel, selection, _add, lambda _: RatioSums(), workers, split=True
            ),
            options.field,
            selection,
        )
        intervals = group_intervals([acc for _, acc in groups], options.intervals, workers)
    rows = []
    for (key, acc), iv in zip(groups, intervals, strict=True):
        rows.extend(_group_rows(key, acc, iv, lexicons, terms, options))
    columns = grouped_scan.table_columns(grouped_scan.several_kinds(k for k, _ in groups), _COLUMNS, rows)
    definitions = _definitions(selection, options)
    return Result("rates", "Term rates per 1000 tokens", columns, rows, definitions, _caption(options))


def _add(acc: RatioSums, part: _Counts, rows: grouped_scan.Rows) -> None:
    acc.add(part.counts[rows], part.tokens[rows])


def _group_rows(
    key: GroupKey,
    acc: RatioSums,
    iv: Intervals,
    lexicons: list[Lexicon],
    terms: list[Term],
    options: RateOptions,
) -> list[dict[str, Any]]:
    prevalence, prev_low, prev_high = acc.prevalence(options.intervals)
    labels: list[tuple[str, str, int]] = []
    for li, lexicon in enumerate(lexicons):
        start = sum(len(x.terms) for x in lexicons[:li])
        labels += [(lexicon.name, t.label, start + j) for j, t in enumerate(lexicon.terms)]
        labels.append((lexicon.name, TOTAL, len(terms) + li))
    out = []
    for lexicon_name, label, j in labels:
        out.append(
            {
                **grouped_scan.key_fields(key),
                "lexicon": lexicon_name,
                "term": label,
                "transcripts": acc.n,
                "occurrences": int(acc.sum_num[j]),
                "tokens": acc.sum_den,
                "rate_per_1k": float(iv.estimate[j]),
                "rate_per_1k_low": float(iv.low[j]),
                "rate_per_1k_high": float(iv.high[j]),
                "prevalence": float(prevalence[j]),
                "prevalence_low": float(prev_low[j]),
                "prevalence_high": float(prev_high[j]),
                "interval_method": iv.method_of(j),
                **grouped_scan.few_fields(acc.n),
            }
        )
    return out


# Between the group columns and the note (grouped_scan.table_columns).
_COLUMNS = (
    Column("lexicon", "lexicon"),
    Column("term", "term"),
    Column("transcripts", "n", "int"),
    Column("occurrences", "count", "int"),
    Column("tokens", "tokens", "int"),
    Column("rate_per_1k", "per 1k [95% CI]", "interval"),
    Column("prevalence", "prevalence", "share_interval"),
)


def _caption(options: RateOptions) -> str:
    unit = {"o200k": "o200k_base tokens", "reported": "reported reasoning tokens", "words": "words"}[
        options.unit
    ]
    matching = (
        "substrings of the lowercased text" if options.substring else "whole occurrences, NFKC + casefold"
    )
    return (
        f"Per 1000 {unit} of the {options.field}; {matching}. {interval_caption(options.intervals)}; "
        f"prevalence: Wilson. {grouped_scan.FEW_CAPTION}"
    )


def _definitions(selection: Selection, options: RateOptions) -> dict[str, Any]:
    unit = {
        "o200k": f"{tokenizer_description()} tokens",
        "reported": "provider-reported reasoning tokens",
        "words": "words (maximal runs of letters, marks, digits, underscores)",
    }[options.unit]
    return {
        **grouped_scan.group_definitions(selection, options.by, options.field, options.intervals),
        "unit": unit,
        "tokenizer": tokenizer_description() if options.unit == "o200k" else None,
        "rate": "1000 × Σ occurrences / Σ tokens over transcripts with text in the field",
        "matching": "substring of the lowercased text (text.lower().count(term))"
        if options.substring
        else "whole occurrences on NFKC + casefold text (README, Definitions: Term occurrence)",
        "prevalence": "share of transcripts with at least one occurrence, Wilson score interval",
    }
