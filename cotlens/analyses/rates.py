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

from cotlens.analyses.occurrences import counts_column, term_counts
from cotlens.errors import CotlensError
from cotlens.groups import (
    FEW_TRANSCRIPTS,
    IntervalOptions,
    RatioSums,
    check_by,
    group_codes,
    group_columns,
    group_intervals,
    interval_caption,
    interval_definition,
)
from cotlens.intrinsic import require_measured
from cotlens.lexicon import Lexicon, lexicon_spans, stored_positions
from cotlens.measure.terms import Passes, Term, fold_series, term_passes
from cotlens.measure.tokens import tokenizer_description
from cotlens.measure.unicode import rust_class
from cotlens.result import Column, Result
from cotlens.scan import (
    Selection,
    check_group_key,
    check_selection,
    map_store,
    no_text,
    rows_where,
    scan_workers,
)
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
class _Counts:
    """What a worker returns for one row group: its groups, each row's group (an index into `groups`: small to
    send back, unlike a key per row), per-transcript counts and denominators."""

    groups: list[tuple[str, str]]
    codes: npt.NDArray[np.int64]
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
        return np.asarray(table[column].to_numpy(), dtype=np.int64)


def compute_rates(
    store: Store,
    lexicons: list[Lexicon],
    selection: Selection,
    options: RateOptions,
) -> Result:
    """Rates of every lexicon term (and each lexicon's total) per group."""
    options.validate()
    check_selection(store, selection)
    check_group_key(store, selection, options.by)
    require_measured(store)
    terms = [t for lexicon in lexicons for t in lexicon.terms]
    stored = stored_positions(lexicons) if options.unit != "words" else None
    passes = term_passes(terms) if stored is None else None
    kernel = _CountKernel(tuple(terms), tuple(lexicon_spans(lexicons)), options, stored, passes)
    groups: dict[tuple[str, str], RatioSums] = {}
    with scan_workers(store, kernel.columns()) as workers:
        for part in map_store(store, kernel, kernel.columns(), selection, workers):
            for code, key in enumerate(part.groups):
                mask = part.codes == code
                groups.setdefault(key, RatioSums()).add(part.counts[mask], part.tokens[mask])
        if not groups:
            raise no_text(options.field, selection)
        keys = sorted(groups)
        intervals = group_intervals([groups[k] for k in keys], options.intervals, workers)

    rows = []
    for (group, kind), iv in zip(keys, intervals, strict=True):
        rows.extend(_group_rows(group, kind, groups[group, kind], iv, lexicons, terms, options))
    columns = _columns({kind for _, kind in groups}, any(r["few_transcripts"] for r in rows))
    definitions = _definitions(selection, options)
    return Result("rates", "Term rates per 1000 tokens", columns, rows, definitions, _caption(options))


def _group_rows(
    group: str,
    kind: str,
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
                "group": group,
                "reasoning_kind": kind,
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
                "few_transcripts": acc.few,
                "note": "few" if acc.few else "",
            }
        )
    return out


def _columns(kinds: set[str], few: bool) -> list[Column]:
    """The displayed columns; `kind` only when the rows hold more than one, the few-transcripts flag only when
    some group is flagged (JSON and CSV rows always have both)."""
    return [
        Column("group", "group"),
        *([Column("reasoning_kind", "kind")] if len(kinds) > 1 else []),
        Column("lexicon", "lexicon"),
        Column("term", "term"),
        Column("transcripts", "n", "int"),
        Column("occurrences", "count", "int"),
        Column("tokens", "tokens", "int"),
        Column("rate_per_1k", "per 1k [95% CI]", "interval"),
        Column("prevalence", "prevalence", "share_interval"),
        *([Column("note", "note")] if few else []),
    ]


def _caption(options: RateOptions) -> str:
    unit = {"o200k": "o200k_base tokens", "reported": "reported reasoning tokens", "words": "words"}[
        options.unit
    ]
    matching = (
        "substrings of the lowercased text" if options.substring else "whole occurrences, NFKC + casefold"
    )
    return (
        f"Per 1000 {unit} of the {options.field}; {matching}. {interval_caption(options.intervals)}; "
        f"prevalence: Wilson. few: under {FEW_TRANSCRIPTS} transcripts."
    )


def _definitions(selection: Selection, options: RateOptions) -> dict[str, Any]:
    unit = {
        "o200k": f"{tokenizer_description()} tokens",
        "reported": "provider-reported reasoning tokens",
        "words": "words (maximal runs of letters, marks, digits, underscores)",
    }[options.unit]
    return {
        "field": options.field,
        "unit": unit,
        "tokenizer": tokenizer_description() if options.unit == "o200k" else None,
        "rate": "1000 × Σ occurrences / Σ tokens over transcripts with text in the field",
        "matching": "substring of the lowercased text (text.lower().count(term))"
        if options.substring
        else "whole occurrences on NFKC + casefold text (README, Definitions: Term occurrence)",
        "interval": interval_definition(options.intervals),
        "prevalence": "share of transcripts with at least one occurrence, Wilson score interval",
        "few_transcripts": f"groups with fewer than {FEW_TRANSCRIPTS} transcripts are flagged",
        "group_by": options.by,
        "selection": selection.describe(),
    }
