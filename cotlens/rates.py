"""Term rates per 1000 tokens, with intervals over transcripts, per group of transcripts.

Rate = 1000 × Σ occurrences / Σ tokens over the group's transcripts that have text in the chosen field
(transcripts without text never enter a denominator). Prevalence = share of those transcripts with at least one
occurrence (Wilson interval). Rate intervals: percentile bootstrap over transcripts up to
stats.BOOTSTRAP_MAX_TRANSCRIPTS per group, the delta method above (DESIGN.md, "Rate").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from cotlens.errors import CotlensError
from cotlens.lexicon import Lexicon
from cotlens.measure.terms import Term, count_terms, fold_series
from cotlens.measure.tokens import count_one, tokenizer_description
from cotlens.measure.unicode import rust_class
from cotlens.result import Column, Result
from cotlens.scan import Selection, check_selection, map_store
from cotlens.stats import (
    BOOTSTRAP_MAX_TRANSCRIPTS,
    DEFAULT_RESAMPLES,
    delta_intervals,
    rate_intervals,
    wilson_interval,
)
from cotlens.store import Store

Field = Literal["reasoning", "answer"]
Unit = Literal["o200k", "reported", "words"]
# Groups with fewer transcripts than this are flagged: their intervals rest on little data.
FEW_TRANSCRIPTS = 30
NO_VALUE = "(none)"
TOTAL = "(total)"
# A word, for `--tokens words`: a maximal run of letters, combining marks, digits and underscores.
WORD_CLASS = r"[\p{L}\p{M}\p{Nd}_]"


@dataclass(frozen=True, slots=True)
class RateOptions:
    by: str = "model"  # model | dataset | tag:KEY
    field: Field = "reasoning"
    unit: Unit = "o200k"
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = 0.95
    substring: bool = False

    def validate(self) -> None:
        if self.by not in ("model", "dataset") and not (self.by.startswith("tag:") and len(self.by) > 4):
            raise CotlensError(f"--by {self.by!r}: use model, dataset or tag:KEY")
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

    def columns(self) -> tuple[str, ...]:
        o = self.options
        cols = ["model", "dataset", "tags", "reasoning_kind", o.field]
        if o.unit == "o200k":
            cols.append(f"{o.field}_tokens_o200k")
        elif o.unit == "reported":
            cols.append("reasoning_tokens_reported")
        return tuple(cols)

    def __call__(self, table: pa.Table) -> _Counts:
        o = self.options
        table = table.filter(table[o.field].is_valid())
        if o.unit == "reported":
            table = table.filter(table["reasoning_tokens_reported"].is_valid())
        tokens = self._tokens(table)
        counts = count_terms(table[o.field].combine_chunks(), self.terms)
        totals = [counts[:, a:b].sum(axis=1) for a, b in self.lexicon_spans]
        if totals:
            counts = np.column_stack([counts, *totals])
        index: dict[tuple[str, str], int] = {}
        keys = self._keys(table)
        codes = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
        return _Counts(list(index), codes, counts, tokens)

    def _tokens(self, table: pa.Table) -> npt.NDArray[np.int64]:
        o = self.options
        if o.unit == "words":
            folded = fold_series(pl.Series(table[o.field].combine_chunks(), dtype=pl.String))
            words = folded.str.count_matches(rust_class(WORD_CLASS) + "+").fill_null(0)
            return np.asarray(words.to_numpy(), dtype=np.int64)
        column = f"{o.field}_tokens_o200k" if o.unit == "o200k" else "reasoning_tokens_reported"
        stored = table[column]
        if stored.null_count == 0:
            return np.asarray(stored.to_numpy(), dtype=np.int64)
        # Stores made before token counts were stored: count now (`cotlens measure` stores them).
        texts = table[o.field].to_pylist()
        values = [
            s if s is not None else count_one(t) for s, t in zip(stored.to_pylist(), texts, strict=True)
        ]
        return np.asarray(values, dtype=np.int64)

    def _keys(self, table: pa.Table) -> list[tuple[str, str]]:
        by = self.options.by
        if by.startswith("tag:"):
            wanted = by[4:]
            groups = [dict(tags).get(wanted) for tags in table["tags"].to_pylist()]
        else:
            groups = table[by].to_pylist()
        kinds = table["reasoning_kind"].to_pylist()
        return [(g if g is not None else NO_VALUE, k) for g, k in zip(groups, kinds, strict=True)]


@dataclass
class _Group:
    """Running sums for one group; per-transcript rows only while the group is small enough to bootstrap."""

    n: int = 0
    rows: list[npt.NDArray[np.int64]] = field(default_factory=list)
    row_tokens: list[npt.NDArray[np.int64]] = field(default_factory=list)
    sum_occ: Any = 0
    sum_tok: int = 0
    sum_occ2: Any = 0
    sum_tok2: int = 0
    sum_occ_tok: Any = 0
    present: Any = 0

    def add(self, counts: npt.NDArray[np.int64], tokens: npt.NDArray[np.int64]) -> None:
        self.n += len(tokens)
        c, t = counts.astype(np.float64), tokens.astype(np.float64)
        self.sum_occ = self.sum_occ + c.sum(axis=0)
        self.sum_tok += int(tokens.sum())
        self.sum_occ2 = self.sum_occ2 + (c * c).sum(axis=0)
        self.sum_tok2 += float((t * t).sum())  # type: ignore[assignment]
        self.sum_occ_tok = self.sum_occ_tok + (c * t[:, None]).sum(axis=0)
        self.present = self.present + (counts > 0).sum(axis=0)
        if self.n <= BOOTSTRAP_MAX_TRANSCRIPTS:
            self.rows.append(counts)
            self.row_tokens.append(tokens)
        else:
            self.rows, self.row_tokens = [], []


def compute_rates(
    store: Store, lexicons: list[Lexicon], selection: Selection, options: RateOptions
) -> Result:
    """Rates of every lexicon term (and each lexicon's total) per group."""
    options.validate()
    check_selection(store, selection)
    terms: list[Term] = []
    spans: list[tuple[int, int]] = []
    for lexicon in lexicons:
        spans.append((len(terms), len(terms) + len(lexicon.terms)))
        terms.extend(lexicon.terms)
    kernel = _CountKernel(tuple(terms), tuple(spans), options)
    groups: dict[tuple[str, str], _Group] = {}
    for part in map_store(store, kernel, kernel.columns(), selection):
        for code, key in enumerate(part.groups):
            mask = part.codes == code
            groups.setdefault(key, _Group()).add(part.counts[mask], part.tokens[mask])
    if not groups:
        raise CotlensError(
            f"no transcripts with {options.field} text in the selection (kinds {', '.join(selection.kinds)})"
        )
    rows = []
    for (group, kind), acc in sorted(groups.items()):
        rows.extend(_group_rows(group, kind, acc, lexicons, terms, options))
    columns = _columns({kind for _, kind in groups}, any(r["few_transcripts"] for r in rows))
    definitions = _definitions(selection, options)
    return Result("rates", "Term rates per 1000 tokens", columns, rows, definitions, _caption(options))


def _group_rows(
    group: str, kind: str, acc: _Group, lexicons: list[Lexicon], terms: list[Term], options: RateOptions
) -> list[dict[str, Any]]:
    if acc.rows:
        iv = rate_intervals(
            np.concatenate(acc.rows),
            np.concatenate(acc.row_tokens),
            confidence=options.confidence,
            resamples=options.resamples,
            seed=options.seed,
            method="bootstrap",
        )
    else:
        iv = delta_intervals(
            acc.n,
            acc.sum_occ,
            acc.sum_tok,
            acc.sum_occ2,
            acc.sum_tok2,
            acc.sum_occ_tok,
            confidence=options.confidence,
        )
    prev_low, prev_high = wilson_interval(np.asarray(acc.present), acc.n, options.confidence)
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
                "kind": kind,
                "lexicon": lexicon_name,
                "term": label,
                "transcripts": acc.n,
                "occurrences": int(acc.sum_occ[j]),
                "tokens": acc.sum_tok,
                "rate_per_1k": float(iv.estimate[j]),
                "rate_per_1k_low": float(iv.low[j]),
                "rate_per_1k_high": float(iv.high[j]),
                "prevalence": float(acc.present[j] / acc.n),
                "prevalence_low": float(prev_low[j]),
                "prevalence_high": float(prev_high[j]),
                "interval_method": iv.method,
                "few_transcripts": acc.n < FEW_TRANSCRIPTS,
                "note": "few" if acc.n < FEW_TRANSCRIPTS else "",
            }
        )
    return out


def _columns(kinds: set[str], few: bool) -> list[Column]:
    """The displayed columns; `kind` only when the rows hold more than one, the few-transcripts flag only when
    some group is flagged (JSON and CSV rows always have both)."""
    return [
        Column("group", "group"),
        *([Column("kind", "kind")] if len(kinds) > 1 else []),
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
        f"Per 1000 {unit} of the {options.field}; {matching}. 95% intervals: percentile bootstrap over "
        f"transcripts ({options.resamples} resamples, seed {options.seed}; delta method above "
        f"{BOOTSTRAP_MAX_TRANSCRIPTS:,} transcripts); prevalence: Wilson. few: under {FEW_TRANSCRIPTS} transcripts."
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
        else "whole occurrences on NFKC + casefold text (DESIGN.md, Term occurrence)",
        "interval": {
            "confidence": options.confidence,
            "method": f"percentile bootstrap over transcripts for groups of up to {BOOTSTRAP_MAX_TRANSCRIPTS} "
            "transcripts, delta method of the ratio estimator above",
            "resamples": options.resamples,
            "seed": options.seed,
        },
        "prevalence": "share of transcripts with at least one occurrence, Wilson score interval",
        "few_transcripts": f"groups with fewer than {FEW_TRANSCRIPTS} transcripts are flagged",
        "group_by": options.by,
        "selection": selection.describe(),
    }
