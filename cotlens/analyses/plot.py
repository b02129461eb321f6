"""`cotlens plot`: an analysis run as its command runs it, for render/figures.py to draw (the report's figures)."""

from __future__ import annotations

from dataclasses import dataclass

from cotlens.errors import UsageError
from cotlens.groups import IntervalOptions
from cotlens.measure.repetition import GOPHER_COLUMNS
from cotlens.result import Result
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


def plot_result(
    kind: str,
    store: Store,
    models: list[str],
    lexicon_specs: list[str],
    terms: list[str],
    selection: Selection,
    options: PlotOptions,
) -> Result:
    """The rows the figure of analysis `kind` (rates, compare, langmix, loops) is drawn from."""
    if options.statistic is not None and options.statistic not in GOPHER_COLUMNS:
        raise UsageError(f"--statistic {options.statistic!r}: one of {', '.join(GOPHER_COLUMNS)}")
    if kind == "rates":
        from cotlens.analyses.rates import RateOptions, compute_rates
        from cotlens.lexicon import select_lexicons

        # --substring counts as `rates --substring` does: the terms parsed as substrings, counted in the text.
        o = options
        rate_options = RateOptions(o.by, o.field, o.tokens, o.substring, o.intervals)  # type: ignore[arg-type]
        lexicons = select_lexicons(lexicon_specs, terms, options.substring)
        return compute_rates(store, lexicons, selection, rate_options)
    if kind == "compare":
        from cotlens.analyses.compare import CompareOptions, compare
        from cotlens.lexicon import select_lexicons

        if len(models) < 2:
            raise UsageError("plot compare wants the baseline model and at least one other")
        compare_options = CompareOptions(
            options.field, None, options.top_terms, bool(lexicon_specs or terms), options.intervals
        )
        comparison = compare(store, models, select_lexicons(lexicon_specs, terms), selection, compare_options)
        return comparison.result
    if kind == "langmix":
        from cotlens.analyses.langmix import LangmixOptions, compute_langmix

        mix_options = LangmixOptions(options.by, options.field, True, options.ignore, 0, options.intervals)
        return compute_langmix(store, selection, mix_options)
    from cotlens.analyses.loops import LoopOptions, compute_loops

    loop_options = LoopOptions(options.by, options.field, options.intervals, HISTOGRAM_BINS)
    return compute_loops(store, selection, loop_options)
