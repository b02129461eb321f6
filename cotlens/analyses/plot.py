"""`cotlens plot`: an analysis run as its command runs it, drawn by render/figures.py (the report's figures)."""

from __future__ import annotations

from dataclasses import dataclass

from cotlens.errors import UsageError
from cotlens.groups import IntervalOptions
from cotlens.measure.repetition import GOPHER_COLUMNS
from cotlens.scan import Selection
from cotlens.store import Store

# Bins of a loops distribution over [0, 1] (a divisor of loops.BINS).
HISTOGRAM_BINS = 50


@dataclass(frozen=True, slots=True)
class PlotOptions:
    by: str = "model"
    field: str = "reasoning"
    tokens: str = "o200k"  # rates' denominator
    terms: bool = False  # rates: a row per term
    statistic: str | None = None  # loops: one Gopher statistic
    ignore: frozenset[str] = frozenset()  # langmix: scripts left out
    intervals: IntervalOptions = IntervalOptions()
    substring: bool = False  # rates: text.lower().count(term)
    top_terms: int = 5  # compare: with the default lexicons, the terms that differ most


def draw(
    kind: str,
    store: Store,
    models: list[str],
    lexicon_specs: list[str],
    terms: list[str],
    selection: Selection,
    options: PlotOptions,
    fmt: str,
) -> bytes:
    """The figure of analysis `kind` (rates, compare, langmix, loops) as an svg, png or pdf file's bytes."""
    from cotlens.render import figures

    if options.statistic is not None and options.statistic not in GOPHER_COLUMNS:
        raise UsageError(f"--statistic {options.statistic!r}: one of {', '.join(GOPHER_COLUMNS)}")
    if kind == "rates":
        from cotlens.analyses.rates import RateOptions, compute_rates
        from cotlens.lexicon import select_lexicons

        rate_options = RateOptions(options.by, options.field, options.tokens, False, options.intervals)  # type: ignore[arg-type]
        result = compute_rates(store, select_lexicons(lexicon_specs, terms), selection, rate_options)
        figure = figures.rates_figure(result, options.terms)
    elif kind == "compare":
        from cotlens.analyses.compare import CompareOptions, compare
        from cotlens.lexicon import select_lexicons

        if len(models) < 2:
            raise UsageError("plot compare wants the baseline model and at least one other")
        compare_options = CompareOptions(
            options.field, None, options.top_terms, bool(lexicon_specs or terms), options.intervals
        )
        comparison = compare(store, models, select_lexicons(lexicon_specs, terms), selection, compare_options)
        figure = figures.compare_figure(comparison.result)
    elif kind == "langmix":
        from cotlens.analyses.langmix import LangmixOptions, compute_langmix

        mix_options = LangmixOptions(options.by, options.field, True, options.ignore, 0, options.intervals)
        figure = figures.langmix_figure(compute_langmix(store, selection, mix_options))
    else:
        from cotlens.analyses.loops import LoopOptions, compute_loops

        loop_options = LoopOptions(options.by, options.field, options.intervals, HISTOGRAM_BINS)
        figure = figures.loops_figure(compute_loops(store, selection, loop_options), options.statistic)
    return figures.figure_bytes(figure, fmt)
