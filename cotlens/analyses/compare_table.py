"""The numbers of `cotlens compare` once the store is scanned: each side's value of every metric with its interval,
each candidate's ratio to the baseline with its interval and p-value (Benjamini-Hochberg adjusted across every
ratio of the table), and what the command returns from them: a record per metric and side (JSON, CSV, gates) and
the table shown per candidate, whose cells hold the same numbers (render/ writes them out)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cotlens.analyses.grouped_scan import finite_or_none
from cotlens.groups import (
    IntervalOptions,
    Ints,
    RatioSums,
    interval_caption,
    interval_definition,
    resample_groups,
)
from cotlens.lexicon import Lexicon
from cotlens.measure.scripts import left_out
from cotlens.measure.tokens import tokenizer_description
from cotlens.result import DECREASE, INCREASE, Column, Result
from cotlens.scan import Selection
from cotlens.stats import RATIO_SIDES, SIGNIFICANCE, FloatArray, RatioResult, benjamini_hochberg


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    kind: str  # "rate" (per 1000 tokens), "share" (of tokens or transcripts), "mean", "count"
    numerator: str = ""  # a stored measurement's column (without `<text>_`); "" for terms and counts


@dataclass(frozen=True, slots=True)
class CompareOptions:
    field: str = "reasoning"
    fields: tuple[str, str] | None = None  # ("reasoning", "answer"): one model's two texts
    top_terms: int = 5  # with the default lexicons, the terms that differ most
    all_terms: bool = False  # every term of the lexicons (set when lexicons were chosen)
    intervals: IntervalOptions = IntervalOptions()  # frozen: one shared default is safe
    ignore: frozenset[str] = frozenset()  # scripts left out of the language-mixing metrics, as in langmix


@dataclass
class SideSums:
    """One side's running sums: per-token numerators over its tokens, per-transcript ones over its transcripts."""

    by_token: RatioSums = field(default_factory=RatioSums)
    by_transcript: RatioSums = field(default_factory=RatioSums)
    tokens: list[Ints] = field(default_factory=list)  # for the median: 8 bytes a transcript


@dataclass
class MetricTable:
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
        sums: dict[str, SideSums],
        by_token: list[Metric],
        by_transcript: list[Metric],
        intervals: IntervalOptions,
        workers: Executor | None = None,
    ) -> MetricTable:
        """`by_token`, `by_transcript`: the metrics in the order of the sums' numerators. A share of transcripts
        (the mean of a 0/1 flag: a proportion) is bounded by Wilson's interval. workers: the analysis's worker
        processes, which then draw the bootstrap's resamples (see _resampled)."""
        shares_of_transcripts = {m.key for m in by_transcript if m.kind == "share"}
        values: dict[tuple[str, str], tuple[float, float, float]] = {}
        ratios: dict[tuple[str, str], RatioResult] = {}
        methods: set[str] = set()
        baseline = sums[names[0]]
        # The baseline's resamples for its ratios are drawn once and kept for every candidate; a side's others only
        # while its rows are built, so that memory does not grow with the number of sides.
        kept: dict[tuple[int, tuple[int, ...]], FloatArray] = {}
        for name in names:
            acc = sums[name]
            drawn = {**kept, **_resampled(name, names, sums, intervals, workers)}
            kept = {key: moments for key, moments in drawn.items() if key[1] == RATIO_SIDES[0]}
            for metrics, side, base in (
                (by_token, acc.by_token, baseline.by_token),
                (by_transcript, acc.by_transcript, baseline.by_transcript),
            ):
                estimates = side.share_intervals(
                    intervals, [m.kind == "share" for m in metrics], drawn.get((id(side), ()))
                )
                shares = side.prevalence(intervals)
                for j, metric in enumerate(metrics):
                    if metric.key in shares_of_transcripts:
                        share, low, high = (float(a[j]) for a in shares)
                        values[(metric.key, name)] = (share, low, high)
                        continue
                    methods.add(estimates.method_of(j))
                    scale = 1000.0 if metric.kind == "rate" else 1.0
                    values[(metric.key, name)] = (
                        scale * float(estimates.estimate[j]),
                        scale * float(estimates.low[j]),
                        scale * float(estimates.high[j]),
                    )
                if name != names[0]:
                    drawn_a, drawn_b = (
                        drawn.get((id(base), RATIO_SIDES[0])),
                        drawn.get((id(side), RATIO_SIDES[1])),
                    )
                    both = None if drawn_a is None or drawn_b is None else (drawn_a, drawn_b)
                    result = side.ratio_to(base, intervals, both)
                    for j, metric in enumerate(metrics):
                        methods.add(result.method_of(j))
                        ratios[(metric.key, name)] = _one(result, j)
        order = list(ratios)
        adjusted: list[float] = benjamini_hochberg([float(ratios[k].p_value[0]) for k in order]).tolist()
        counts = {
            name: {
                "transcripts": sums[name].by_token.n,
                "tokens_median": float(np.median(np.concatenate(sums[name].tokens))),
                "tokens": sums[name].by_token.sum_den,
            }
            for name in names
        }
        metrics = [*by_token, *by_transcript]
        return cls(values, ratios, dict(zip(order, adjusted, strict=True)), counts, metrics, methods)

    def side_numbers(self, metric: Metric, names: list[str], i: int) -> dict[str, Any]:
        """Side i's numbers of one metric as they are (NaN and infinite bounds kept): its value with bounds, and
        for a candidate its ratio to the baseline with bounds, adjusted p-value and change; a count alone."""
        name = names[i]
        numbers: dict[str, Any] = {"metric_kind": metric.kind}
        if metric.kind == "count":
            numbers["value"] = self.counts[name][metric.key]
            return numbers
        numbers["value"], numbers["value_low"], numbers["value_high"] = self.values[(metric.key, name)]
        if i:
            ratio, p = self.ratios[(metric.key, name)], self.p_adjusted[(metric.key, name)]
            numbers.update(
                ratio=float(ratio.estimate[0]),
                ratio_low=float(ratio.low[0]),
                ratio_high=float(ratio.high[0]),
                p_value=float(ratio.p_value[0]),
                p_adjusted=p,
                change=change(p, numbers["value"], self.values[(metric.key, names[0])][0]),
            )
        return numbers


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


def change(p: float, value: float, base: float) -> str:
    """ "increase" or "decrease" when the adjusted p-value is below SIGNIFICANCE, else "none"."""
    if not p < SIGNIFICANCE:
        return "none"
    return "increase" if value > base else "decrease"


# A record's numbers that JSON cannot hold when NaN or infinite (an undefined ratio, an unbounded interval).
_RATIO_FIELDS = ("ratio", "ratio_low", "ratio_high", "p_value", "p_adjusted")


def records(table: MetricTable, metric: Metric, names: list[str]) -> list[dict[str, Any]]:
    """One record per side: every key present, null where it does not apply."""
    out = []
    for i, name in enumerate(names):
        numbers = table.side_numbers(metric, names, i)
        record: dict[str, Any] = {
            "metric": metric.key,
            "label": metric.label,
            "metric_kind": metric.kind,
            "side": name,
            "baseline": i == 0,
            "transcripts": table.counts[name]["transcripts"],
            "value": numbers["value"],
            "value_low": numbers.get("value_low"),
            "value_high": numbers.get("value_high"),
            **{key: finite_or_none(numbers.get(key)) for key in _RATIO_FIELDS},
            "change": numbers.get("change"),
        }
        out.append(record)
    return out


def _resampled(
    name: str,
    names: list[str],
    sums: dict[str, SideSums],
    intervals: IntervalOptions,
    workers: Executor | None,
) -> dict[tuple[int, tuple[int, ...]], FloatArray]:
    """The bootstrap's resampled moments that build needs of one side, keyed by (id of the RatioSums, side), drawn
    at once (in the worker processes when there are any): its own, and its side of the ratios (RATIO_SIDES), the
    baseline's once for all the candidates (the same seed draws the same resamples for each)."""
    wanted: dict[tuple[int, ...], list[RatioSums]] = {(): []}  # the groups to draw, by their side
    acc, baseline = sums[name], sums[names[0]]
    others = [sums[other] for other in names[1:]]
    for side, base, candidates in (
        (acc.by_token, baseline.by_token, [other.by_token for other in others]),
        (acc.by_transcript, baseline.by_transcript, [other.by_transcript for other in others]),
    ):
        if side.rows:
            wanted[()].append(side)
        if side is base and any(candidate.bootstraps_ratio_to(base) for candidate in candidates):
            wanted.setdefault(RATIO_SIDES[0], []).append(side)
        if side is not base and side.bootstraps_ratio_to(base):
            wanted.setdefault(RATIO_SIDES[1], []).append(side)
    # A side's two metric sets hold the same transcripts: each bundle draws its resamples once.
    tasks = [(tuple(groups), side) for side, groups in wanted.items() if groups]
    drawn = resample_groups(tasks, intervals, workers)
    return {
        (id(group), side): moments
        for (groups, side), bundle in zip(tasks, drawn, strict=True)
        for group, moments in zip(groups, bundle, strict=True)
    }


def compare_result(
    table: MetricTable,
    shown: list[Metric],
    names: list[str],
    selection: Selection,
    options: CompareOptions,
    lexicons: list[Lexicon],
) -> Result:
    """One displayed table per compared side against the baseline (each fits 100 columns; with several sides,
    the later ones are sections), all records in the machine-readable rows. A displayed row holds each side's
    numbers under `side_<i>`; its columns say which of them a cell shows."""
    baseline = names[0]
    rows = [
        {
            "label": metric.label,
            **{f"side_{i}": table.side_numbers(metric, names, i) for i in range(len(names))},
        }
        for metric in shown
    ]
    tables = []
    for i, name in enumerate(names[1:], start=1):
        title = (
            f"{selection.models[0]}: {name} against {baseline}"
            if options.fields
            else f"{name} against {baseline}"
        )
        columns = [
            Column("label", "metric"),
            Column("side_0", f"{baseline} (baseline)", "compare_value"),
            Column(f"side_{i}", name, "compare_value"),
            Column(f"side_{i}", "ratio [95%\u00a0CI]", "compare_ratio"),
            Column(f"side_{i}", "p (BH)", "compare_p"),
        ]
        tables.append(Result("compare", f"Compare: {title}", columns, rows))
    result = tables[0]
    result.sections = tables[1:]
    result.machine_sections = False  # the records hold every side's numbers; the tables are their display
    result.definitions = _definitions(selection, options, names, table, lexicons)
    result.caption = _caption(options, selection)
    result.records = [record for metric in shown for record in records(table, metric, names)]
    return result


def _caption(options: CompareOptions, selection: Selection) -> str:
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
    selection: Selection,
    options: CompareOptions,
    names: list[str],
    table: MetricTable,
    lexicons: list[Lexicon],
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
