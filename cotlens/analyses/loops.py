"""Repetition per group of transcripts, read from the measurements stored at ingest (measure/repetition.py
defines them): the Gopher statistics' distributions and the shares over their thresholds, the degenerate-loop
share, and whether language mixing travels with loops.

Per group and reasoning kind, over the transcripts with text in the field:

- each Gopher statistic: mean, median and 90th percentile, and the share of transcripts over its threshold
  (Rae et al. 2021, Table A1: "over" is value > threshold) with a Wilson interval; a row for "any" threshold;
- loop: the share of transcripts flagged as ending in a degenerate loop (Wilson);
- a second table: the non-Latin token share inside looping and inside non-looping transcripts, each with an
  interval over transcripts, and their ratio (looping / non-looping) with an interval and a two-sided p-value,
  Benjamini-Hochberg adjusted across groups.

Medians and percentiles come from a histogram of 10,000 equal bins over [0, 1], so memory does not grow with
the store: each is the upper edge of the bin where the cumulative share first reaches the quantile (exact for
0 and for multiples of 0.0001, otherwise at most 0.0001 above the exact value). Means are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.analyses import grouped_scan
from cotlens.errors import UsageError
from cotlens.groups import (
    GroupKey,
    IntervalOptions,
    Ints,
    RatioSums,
    group_codes,
    group_columns,
    interval_caption,
)
from cotlens.measure.repetition import GOPHER_COLUMNS, GOPHER_CONVENTIONS, GOPHER_THRESHOLDS
from cotlens.measure.scripts import leave_out_scripts, left_out
from cotlens.measure.tokens import tokenizer_description
from cotlens.result import Column, Result
from cotlens.scan import Selection, rows_where
from cotlens.stats import benjamini_hochberg, wilson_interval
from cotlens.store import Store

BINS = 10_000
QUANTILES = {"median": 0.5, "p90": 0.9}
ANY_THRESHOLD = "any Gopher threshold"
LOOP = "loop"
_THRESHOLDS = np.array([GOPHER_THRESHOLDS[name] for name in GOPHER_COLUMNS])


@dataclass(frozen=True, slots=True)
class LoopOptions:
    by: str = "model"
    field: str = "reasoning"
    intervals: IntervalOptions = IntervalOptions()  # frozen: one shared default is safe
    # > 0: a section with each statistic's histogram in this many equal bins over [0, 1] (for figures).
    histogram_bins: int = 0
    ignore: frozenset[str] = frozenset()  # scripts left out of the non-Latin token shares, as in langmix


@dataclass(frozen=True, slots=True)
class _LoopCounts(grouped_scan.CodedPart):
    gopher: npt.NDArray[np.float64]  # (n, len(GOPHER_COLUMNS))
    loop: npt.NDArray[np.bool_]
    nonlatin_tokens: Ints
    tokens: Ints


@dataclass(frozen=True, slots=True)
class _LoopKernel:
    options: LoopOptions

    def columns(self) -> tuple[str, ...]:
        f = self.options.field
        names = ["tokens_o200k", "nonlatin_tokens_o200k", "loop", *GOPHER_COLUMNS]
        if self.options.ignore:
            names.append("letters_by_script")
        text = (f,) if self.options.ignore else ()
        return (*group_columns(self.options.by), *(f"{f}_{name}" for name in names), *text)

    def __call__(self, table: pa.Table) -> _LoopCounts:
        f = self.options.field
        table = rows_where(table, table[f"{f}_loop"].is_valid())
        if self.options.ignore:
            table = leave_out_scripts(table, f, self.options.ignore)
        groups, codes = group_codes(table, self.options.by)
        gopher = np.column_stack(
            [np.asarray(table[f"{f}_{name}"].to_numpy(), dtype=np.float64) for name in GOPHER_COLUMNS]
        ).reshape(table.num_rows, len(GOPHER_COLUMNS))
        return _LoopCounts(
            groups,
            codes,
            gopher,
            np.asarray(pc.fill_null(table[f"{f}_loop"], False).to_numpy(zero_copy_only=False), dtype=bool),
            grouped_scan.int_column(table[f"{f}_nonlatin_tokens_o200k"]),
            grouped_scan.int_column(table[f"{f}_tokens_o200k"]),
        )


@dataclass
class _Group:
    n: int = 0
    sums: Any = 0  # per statistic
    histograms: Any = 0  # (statistics, BINS + 1): bin 0 holds exact zeros
    over: Any = 0  # transcripts over each threshold
    over_any: int = 0
    loops: int = 0
    # Non-Latin tokens over tokens, in looping and in other transcripts.
    looping: RatioSums = field(default_factory=RatioSums)
    not_looping: RatioSums = field(default_factory=RatioSums)

    def add(self, gopher: npt.NDArray[np.float64], loop: npt.NDArray[np.bool_], pairs: Ints) -> None:
        self.n += len(loop)
        self.sums = self.sums + gopher.sum(axis=0)
        # Bin b > 0 holds values in ((b - 1) / BINS, b / BINS]: its upper edge bounds every value in it.
        bins = np.clip(np.ceil(gopher * BINS), 0, BINS).astype(np.int64)
        offsets = np.arange(gopher.shape[1]) * (BINS + 1)
        flat = np.bincount((bins + offsets).ravel(), minlength=gopher.shape[1] * (BINS + 1))
        self.histograms = self.histograms + flat.reshape(gopher.shape[1], BINS + 1)
        over = gopher > _THRESHOLDS
        self.over = self.over + over.sum(axis=0)
        self.over_any += int(over.any(axis=1).sum())
        self.loops += int(loop.sum())
        self.looping.add(pairs[loop, :1], pairs[loop, 1])
        self.not_looping.add(pairs[~loop, :1], pairs[~loop, 1])

    def quantile(self, q: float) -> npt.NDArray[np.float64]:
        """Per statistic: the smallest bin edge with at least a share q of the transcripts at or below it."""
        cumulative = np.cumsum(self.histograms, axis=1)
        rank = np.ceil(q * self.n)
        first: Ints = np.argmax(cumulative >= max(rank, 1), axis=1)
        return first / BINS


def compute_loops(
    store: Store,
    selection: Selection,
    options: LoopOptions,
) -> Result:
    grouped_scan.start_scan(store, selection, options.by)
    found = grouped_scan.scan_groups(store, _LoopKernel(options), selection, _add, lambda _: _Group())
    ordered = grouped_scan.sorted_groups(found, options.field, selection)
    kinds = grouped_scan.several_kinds(found)
    rows = [row for key, acc in ordered for row in _statistic_rows(key, acc, options)]
    result = Result(
        "loops",
        "Repetition",
        grouped_scan.table_columns(kinds, _COLUMNS, rows),
        rows,
        _definitions(selection, options),
        _caption(options),
    )
    result.sections.append(_mixing_in_loops(ordered, options, kinds))
    if options.histogram_bins:
        result.sections.append(_distributions(ordered, options.histogram_bins))
    return result


def _add(acc: _Group, part: _LoopCounts, rows: grouped_scan.Rows) -> None:
    pairs = np.column_stack([part.nonlatin_tokens[rows], part.tokens[rows]])
    acc.add(part.gopher[rows], part.loop[rows], pairs)


def _distributions(ordered: list[tuple[GroupKey, _Group]], bins: int) -> Result:
    """Each statistic's histogram in `bins` equal bins over [0, 1] (a divisor of BINS): the stored 10,000-bin
    histogram summed, its bin of exact zeros counted in the first bin."""
    if BINS % bins:
        raise UsageError(f"histogram bins must divide {BINS}, not {bins}")
    rows = []
    for (group, kind), acc in ordered:
        fine = np.asarray(acc.histograms)
        coarse = fine[:, 1:].reshape(len(GOPHER_COLUMNS), bins, BINS // bins).sum(axis=2)
        coarse[:, 0] += fine[:, 0]
        for j, name in enumerate(GOPHER_COLUMNS):
            for b, count in enumerate(coarse[j].tolist()):
                rows.append(
                    {
                        "group": group,
                        "reasoning_kind": kind,
                        "statistic": name,
                        "bin_low": b / bins,
                        "bin_high": (b + 1) / bins,
                        "transcripts": int(count),
                    }
                )
    keys = ("group", "reasoning_kind", "statistic", "bin_low", "bin_high", "transcripts")
    columns = [Column(k, k) for k in keys]
    return Result("loops-distribution", "Distributions of the Gopher statistics", columns, rows)


def _statistic_rows(key: GroupKey, acc: _Group, options: LoopOptions) -> list[dict[str, Any]]:
    quantiles = {name: acc.quantile(q) for name, q in QUANTILES.items()}
    # The two headline rows first, then each statistic.
    shares = [acc.loops, acc.over_any, *np.asarray(acc.over).tolist()]
    low, high = wilson_interval(np.array(shares), acc.n, options.intervals.confidence)
    rows = []
    for j, name in enumerate((LOOP, ANY_THRESHOLD, *GOPHER_COLUMNS)):
        statistic = j - 2  # index in GOPHER_COLUMNS
        rows.append(
            {
                **grouped_scan.key_fields(key),
                "statistic": name,
                "transcripts": acc.n,
                "threshold": GOPHER_THRESHOLDS.get(name),
                "mean": float(acc.sums[statistic] / acc.n) if statistic >= 0 else None,
                **{q: float(v[statistic]) if statistic >= 0 else None for q, v in quantiles.items()},
                "transcripts_over": int(shares[j]),
                "share_over": shares[j] / acc.n,
                "share_over_low": float(low[j]),
                "share_over_high": float(high[j]),
                **grouped_scan.few_fields(acc.n),
            }
        )
    return rows


def _mixing_in_loops(ordered: list[tuple[GroupKey, _Group]], options: LoopOptions, kinds: bool) -> Result:
    iv = options.intervals
    rows = []
    for key, acc in ordered:
        row: dict[str, Any] = grouped_scan.key_fields(key)
        for name, sums in (("looping", acc.looping), ("not_looping", acc.not_looping)):
            share = sums.share_intervals(iv)
            row[f"{name}_transcripts"] = sums.n
            row[f"{name}_share"] = grouped_scan.nan_as_none(share.estimate[0])
            row[f"{name}_share_low"] = grouped_scan.nan_as_none(share.low[0])
            row[f"{name}_share_high"] = grouped_scan.nan_as_none(share.high[0])
        ratio = acc.looping.ratio_to(acc.not_looping, iv)
        row.update(
            ratio=grouped_scan.nan_as_none(ratio.estimate[0]),
            ratio_low=grouped_scan.nan_as_none(ratio.low[0]),
            ratio_high=grouped_scan.nan_as_none(ratio.high[0]),
            p_value=grouped_scan.nan_as_none(ratio.p_value[0]),
            interval_method=ratio.method_of(0),
        )
        rows.append(row)
    adjusted = benjamini_hochberg([np.nan if r["p_value"] is None else r["p_value"] for r in rows])
    for r, p in zip(rows, adjusted.tolist(), strict=True):
        r["p_adjusted"] = grouped_scan.nan_as_none(p)
    columns = grouped_scan.table_columns(
        kinds,
        [
            Column("looping_transcripts", "looping", "int"),
            Column("looping_share", "non-Latin tokens in loops", "share_interval"),
            Column("not_looping_share", "elsewhere", "share_interval"),
            Column("ratio", "ratio [95%\u00a0CI]", "interval"),
            Column("p_adjusted", "p (BH)", "float"),
        ],
    )
    caption = (
        f"Shares of o200k_base tokens in non-Latin scripts. {interval_caption(iv)}; ratio = looping / elsewhere, "
        "each side resampled on its own; p Benjamini-Hochberg adjusted across groups."
    )
    return Result(
        "loops-language-mixing", "Non-Latin tokens inside and outside loops", columns, rows, caption=caption
    )


# Between the group columns and the note (grouped_scan.table_columns).
_COLUMNS = (
    Column("statistic", "statistic"),
    Column("transcripts", "n", "int"),
    Column("threshold", "threshold", "float"),
    Column("mean", "mean", "float"),
    Column("median", "median", "float"),
    Column("p90", "p90", "float"),
    Column("share_over", "over threshold [95%\u00a0CI]", "share_interval"),
)


def _caption(options: LoopOptions) -> str:
    return (
        f"Gopher repetition statistics of the {options.field} (Rae et al. 2021, Table A1 thresholds; over: "
        f"value > threshold, Wilson interval; n-gram statistics as Dolma and RedPajama count them, not "
        f"datatrove); loop: ends in a unit repeated 3+ times. Median and p90: at most "
        f"0.0001 above the exact value. {grouped_scan.FEW_CAPTION}{left_out(options.ignore)}"
    )


def _definitions(selection: Selection, options: LoopOptions) -> dict[str, Any]:
    return {
        **grouped_scan.group_definitions(selection, options.by, options.field, options.intervals),
        "tokenizer": tokenizer_description(),
        "statistics": "Gopher repetition statistics (Rae et al. 2021, appendix A1), see README, 'Repetition'; "
        "the line and paragraph statistics follow datatrove's definitions, the n-gram statistics Dolma's and "
        "RedPajama's, so their values differ from datatrove's GopherRepetitionFilter",
        "conventions": {
            name: {"follows": follows, "differs_from_datatrove": differs}
            for name, (follows, differs) in GOPHER_CONVENTIONS.items()
        },
        "thresholds": GOPHER_THRESHOLDS,
        "share_over": "share of transcripts with value > threshold, Wilson score interval",
        "any_threshold": "transcripts over at least one threshold",
        "loop": "the text ends in a unit of 8+ display columns repeated 3+ times back to back",
        "quantiles": f"upper edge of a {BINS}-bin histogram over [0, 1]: at most 1/{BINS} above the exact value",
        "nonlatin_share_in_loops": "Σ non-Latin tokens / Σ tokens over looping (not looping) transcripts",
        "ratio": "looping / not looping, studentized bootstrap (each group resampled on its own) or delta method; "
        "two-sided p-value, Benjamini-Hochberg adjusted across groups",
        "ignored_scripts": sorted(options.ignore),
    }
