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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.analyses.occurrences import term_counts
from cotlens.errors import CotlensError, UsageError
from cotlens.groups import IntervalOptions, RatioSums, interval_caption, interval_definition
from cotlens.intrinsic import require_measured
from cotlens.lexicon import Lexicon, lexicon_spans, stored_positions
from cotlens.measure import PER_TOKEN, registered_kernels
from cotlens.measure.scripts import leave_out_scripts, left_out
from cotlens.measure.tokens import tokenizer_description
from cotlens.render import interval_text, number
from cotlens.result import Column, Result
from cotlens.scan import Selection, check_selection, map_store, rows_where
from cotlens.stats import RatioResult, benjamini_hochberg
from cotlens.store import Store

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
SIGNIFICANCE = 0.05  # adjusted p-value below which a change is marked significant
INCREASE, DECREASE = "\u25b2", "\u25bc"  # ▲ ▼


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    kind: str  # "rate" (per 1000 tokens), "share" (of tokens or transcripts), "mean", "count"
    numerator: str = ""  # a stored measurement's column (without `<text>_`); "" for terms and counts


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
class CompareOptions:
    field: str = "reasoning"
    fields: tuple[str, str] | None = None  # ("reasoning", "answer"): one model's two texts
    top_terms: int = 5  # with the default lexicons, the terms that differ most
    all_terms: bool = False  # every term of the lexicons (set when lexicons were chosen)
    intervals: IntervalOptions = IntervalOptions()  # frozen: one shared default is safe
    ignore: frozenset[str] = frozenset()  # scripts left out of the language-mixing metrics, as in langmix


@dataclass(frozen=True, slots=True)
class _Side:
    """One row group's numbers for one side (a model, or a field)."""

    by_token: Floats  # (n, terms + lexicons + len(token_metrics()))
    tokens: Ints
    by_transcript: Floats  # (n, len(transcript_metrics()))


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

    def __call__(self, table: pa.Table) -> dict[str, _Side]:
        valid = pc.and_(*(table[f"{t}_loop"].is_valid() for t in self.texts())) if self.by_field else None
        if valid is None:
            valid = table[f"{self.field}_loop"].is_valid()
        table = rows_where(table, valid)
        if not table.num_rows:
            return {}
        for text in self.texts() if self.ignore else ():
            table = leave_out_scripts(table, text, self.ignore)
        if self.by_field:
            return {text: self._side(table, text) for text in self.sides}
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
        return out

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


@dataclass
class _Accumulated:
    by_token: RatioSums = field(default_factory=RatioSums)
    by_transcript: RatioSums = field(default_factory=RatioSums)
    tokens: list[Ints] = field(default_factory=list)  # for the median: 8 bytes a transcript


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
    check_selection(store, selection)
    require_measured(store)
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
    accumulated = {name: _Accumulated() for name in names}
    for part in map_store(store, kernel, kernel.columns(), selection):
        for name, side in part.items():
            acc = accumulated[name]
            acc.by_token.add(side.by_token, side.tokens)
            acc.by_transcript.add(side.by_transcript, np.ones(len(side.tokens), dtype=np.int64))
            acc.tokens.append(side.tokens)
    for name, acc in accumulated.items():
        if acc.by_token.n == 0:
            what = f"{name} text" if options.fields else f"{options.field} text"
            who = sides[0] if options.fields else name
            raise CotlensError(
                f"{who} has no transcripts with {what} in the selection (kinds {', '.join(selection.kinds)}): "
                "nothing to compare"
            )
    metrics = _term_metrics(lexicons) + list(token_metrics()) + list(transcript_metrics())
    table = _Table.build(names, accumulated, metrics, len(terms) + len(lexicons), options)
    shown = _shown_metrics(table, names, lexicons, options)
    result = _result(table, shown, names, selection, options, lexicons)
    every = [record for metric in [*SHOWN_ONLY, *table.metrics] for record in _records(table, metric, names)]
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
        Metric(f"{lex.name}:{t.label}", f"{lex.name}: {t.label}", "rate")
        for lex in lexicons
        for t in lex.terms
    ]
    totals = [Metric(lex.name, f"{lex.name} (total)", "rate") for lex in lexicons]
    return terms + totals


@dataclass
class _Table:
    """Every metric's value per side and ratio per candidate, before choosing what to show."""

    values: dict[tuple[str, str], tuple[float, float, float]]  # (metric, side) -> (value, low, high)
    ratios: dict[tuple[str, str], RatioResult]  # (metric, candidate) -> one-term result
    p_adjusted: dict[tuple[str, str], float]
    counts: dict[str, dict[str, Any]]  # side -> transcripts, tokens_median
    metrics: list[Metric]
    methods: set[str]

    @classmethod
    def build(
        cls,
        names: list[str],
        accumulated: dict[str, _Accumulated],
        metrics: list[Metric],
        token_columns: int,
        options: CompareOptions,
    ) -> _Table:
        iv = options.intervals
        values: dict[tuple[str, str], tuple[float, float, float]] = {}
        ratios: dict[tuple[str, str], RatioResult] = {}
        methods: set[str] = set()
        token_keys = [m.key for m in metrics[: token_columns + len(token_metrics())]]
        transcript_keys = [m.key for m in transcript_metrics()]
        shares_of_transcripts = {m.key for m in transcript_metrics() if m.kind == "share"}
        per = {m.key: 1000.0 if m.kind == "rate" else 1.0 for m in metrics}
        baseline = accumulated[names[0]]
        for name in names:
            acc = accumulated[name]
            for keys, sums, base in (
                (token_keys, acc.by_token, baseline.by_token),
                (transcript_keys, acc.by_transcript, baseline.by_transcript),
            ):
                iv_all = sums.intervals(iv, per=1.0)
                shares = sums.prevalence(iv)
                for j, key in enumerate(keys):
                    scale = per[key]
                    if key in shares_of_transcripts:  # a 0/1 flag: its mean is a proportion, Wilson bounds it
                        share, low, high = (float(a[j]) for a in shares)
                        values[(key, name)] = (share, low, high)
                        continue
                    methods.add(iv_all.method_of(j))
                    values[(key, name)] = (
                        scale * float(iv_all.estimate[j]),
                        scale * float(iv_all.low[j]),
                        scale * float(iv_all.high[j]),
                    )
                if name != names[0]:
                    result = sums.ratio_to(base, iv)
                    for j, key in enumerate(keys):
                        methods.add(result.method_of(j))
                        ratios[(key, name)] = _one(result, j)
        order = list(ratios)
        adjusted: list[float] = benjamini_hochberg([float(ratios[k].p_value[0]) for k in order]).tolist()
        counts = {
            name: {
                "transcripts": accumulated[name].by_token.n,
                "tokens_median": float(np.median(np.concatenate(accumulated[name].tokens))),
                "tokens": accumulated[name].by_token.sum_den,
            }
            for name in names
        }
        return cls(values, ratios, dict(zip(order, adjusted, strict=True)), counts, metrics, methods)


def _one(result: RatioResult, j: int) -> RatioResult:
    return RatioResult(
        result.estimate[j : j + 1],
        result.low[j : j + 1],
        result.high[j : j + 1],
        result.p_value[j : j + 1],
        result.method,
        result.resamples,
        (result.method_of(j),),
    )


def _shown_metrics(
    table: _Table, names: list[str], lexicons: list[Lexicon], options: CompareOptions
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


def _largest_change(table: _Table, key: str, names: list[str]) -> float:
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


def _result(
    table: _Table,
    shown: list[Metric],
    names: list[str],
    selection: Selection,
    options: CompareOptions,
    lexicons: list[Lexicon],
) -> Result:
    """One displayed table per compared side against the baseline (each fits 100 columns; with several sides,
    the later ones are sections), all records in the machine-readable rows."""
    baseline = names[0]
    tables = []
    for i, name in enumerate(names[1:], start=1):
        title = (
            f"{selection.models[0]}: {name} against {baseline}"
            if options.fields
            else f"{name} against {baseline}"
        )
        columns = [
            Column("label", "metric"),
            Column("value_0", f"{baseline} (baseline)", "formatted"),
            Column(f"value_{i}", name, "formatted"),
            Column(f"ratio_{i}", "ratio [95%\u00a0CI]", "formatted"),
            Column(f"p_{i}", "p (BH)", "formatted"),
        ]
        rows = [_display_row(table, metric, names) for metric in shown]
        tables.append(Result("compare", f"Compare: {title}", columns, rows))
    result = tables[0]
    result.sections = tables[1:]
    result.machine_sections = False  # the records hold every side's numbers; the tables are their display
    result.definitions = _definitions(selection, options, names, table, lexicons)
    result.caption = _caption(options, selection, table)
    result.records = [record for metric in shown for record in _records(table, metric, names)]
    return result


def _display_row(table: _Table, metric: Metric, names: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"label": metric.label}
    for i, name in enumerate(names):
        if metric.kind == "count":
            row[f"value_{i}"] = f"{table.counts[name][metric.key]:,.0f}"
            continue
        value, low, high = table.values[(metric.key, name)]
        row[f"value_{i}"] = _formatted(metric, value, low, high)
        if i:
            ratio = table.ratios[(metric.key, name)]
            p = table.p_adjusted[(metric.key, name)]
            row[f"ratio_{i}"] = _ratio_text(ratio, value, table.values[(metric.key, names[0])][0])
            row[f"p_{i}"] = "" if np.isnan(p) else f"{_p_text(p)}{_marker(ratio, p)}"
    return row


def _formatted(metric: Metric, value: float, low: float, high: float) -> str:
    return interval_text(value, low, high, share=metric.kind == "share")


def _ratio_text(ratio: RatioResult, value: float, base: float) -> str:
    estimate = float(ratio.estimate[0])
    if np.isnan(estimate):
        return "0 vs 0" if value == 0 else "from 0"
    return interval_text(estimate, float(ratio.low[0]), float(ratio.high[0]))


def _p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else number(p, 2)


def _marker(ratio: RatioResult, p: float) -> str:
    if not p < SIGNIFICANCE:
        return ""
    estimate = float(ratio.estimate[0])
    return f" {INCREASE}" if np.isnan(estimate) or estimate > 1 else f" {DECREASE}"


def _records(table: _Table, metric: Metric, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for i, name in enumerate(names):
        record: dict[str, Any] = {
            "metric": metric.key,
            "label": metric.label,
            "metric_kind": metric.kind,
            "side": name,
            "baseline": i == 0,
            "transcripts": table.counts[name]["transcripts"],
            "value": None,
            "value_low": None,
            "value_high": None,
            "ratio": None,
            "ratio_low": None,
            "ratio_high": None,
            "p_value": None,
            "p_adjusted": None,
            "change": None,
        }
        if metric.kind == "count":
            record["value"] = table.counts[name][metric.key]
        else:
            record["value"], record["value_low"], record["value_high"] = table.values[(metric.key, name)]
            if i:
                ratio, p = table.ratios[(metric.key, name)], table.p_adjusted[(metric.key, name)]
                record.update(
                    ratio=_finite(ratio.estimate[0]),
                    ratio_low=_finite(ratio.low[0]),
                    ratio_high=_finite(ratio.high[0]),
                    p_value=_finite(ratio.p_value[0]),
                    p_adjusted=_finite(p),
                    change=change(ratio, p, record["value"], table.values[(metric.key, names[0])][0]),
                )
        out.append(record)
    return out


def change(ratio: RatioResult, p: float, value: float, base: float) -> str:
    """ "increase" or "decrease" when the adjusted p-value is below SIGNIFICANCE, else "none"."""
    if not p < SIGNIFICANCE:
        return "none"
    return "increase" if value > base else "decrease"


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _caption(options: CompareOptions, selection: Selection, table: _Table) -> str:
    text = " and ".join(options.fields) if options.fields else options.field
    filters = [f"kinds {', '.join(selection.kinds)}"]
    if selection.datasets:
        filters.append(f"datasets {', '.join(selection.datasets)}")
    return (
        f"Rates per 1000 o200k_base tokens of the {text}; shares of tokens or of transcripts. "
        f"{interval_caption(options.intervals)}; ratio = side / baseline, each resampled on its own; p "
        f"Benjamini-Hochberg adjusted over the table, {INCREASE}{DECREASE} below {SIGNIFICANCE}. "
        f"Filters: {'; '.join(filters)}.{left_out(options.ignore)}"
    )


def _definitions(
    selection: Selection, options: CompareOptions, names: list[str], table: _Table, lexicons: list[Lexicon]
) -> dict[str, Any]:
    return {
        "baseline": names[0],
        "sides": names,
        "compared": "fields" if options.fields else "models",
        "field": list(options.fields) if options.fields else options.field,
        "tokenizer": tokenizer_description(),
        "unit": "rates per 1000 o200k_base tokens; shares as fractions; tokens_mean in tokens",
        "lexicons": [lex.name for lex in lexicons],
        "metrics": {m.key: m.label for m in table.metrics},
        "interval": interval_definition(options.intervals),
        "interval_methods": sorted(table.methods),
        "ratio": "side / baseline; studentized bootstrap of the log ratio with each side resampled on its own, "
        "delta method (log scale) "
        "above the bootstrap size; two-sided p-value",
        "p_adjusted": "Benjamini-Hochberg over every ratio of the table",
        "significance": SIGNIFICANCE,
        "selection": selection.describe(),
        "ignored_scripts": sorted(options.ignore),
    }
