"""What every analysis does with selected transcripts: split them into groups (by model, dataset or a tag, and by
reasoning kind, which is always reported apart) and estimate ratios Σ numerator / Σ denominator per group with
intervals that treat transcripts as the independent unit (README, Definitions: "Rate").

Workers send back a small code per row (an index into the row group's list of group keys) rather than a key per
row; the main process folds rows into `RatioSums`, which keeps running sums for the delta method and the rows
themselves only while the group is small enough to bootstrap (stats.BOOTSTRAP_MAX_TRANSCRIPTS)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.errors import UsageError
from cotlens.runtime.workers import map_ordered
from cotlens.stats import (
    BOOTSTRAP_MAX_TRANSCRIPTS,
    DEFAULT_RESAMPLES,
    FloatArray,
    Intervals,
    RatioResult,
    Sums,
    delta_intervals,
    rate_intervals,
    ratio_of_rates,
    ratio_of_sums,
    resample_blocks,
    resampled_moments_of,
    wilson_interval,
)

# Bytes of resampled moments own_resamples holds at once: 1999 resamples of 50 terms (2.4 MB a group) in batches of
# 26 groups, enough to keep the workers busy, where holding every group's would grow with the number of groups.
_DRAWN_BYTES = 64 * 2**20
# A group key for transcripts without the grouping value (no dataset, no such tag).
NO_VALUE = "(none)"
# Groups with fewer transcripts than this are flagged: their intervals rest on little data. Measured (bench/
# coverage.py, table in the README): at 200 transcripts and above, the 95% intervals of every simulated process
# miss the true rate by at most 3% on either side (2.3% below and 2.1% above for strongly clustered gamma(0.5)
# terms with lognormal lengths); at 50, those miss it below 4.0% of the time, and a term that 2% of transcripts use
# is absent from 37% of the groups, which no interval can cover.
FEW_TRANSCRIPTS = 200

Ints = npt.NDArray[np.int64]
GroupKey = tuple[str, str]  # (group value, reasoning kind)


def group_columns(by: str) -> tuple[str, ...]:
    """The columns a kernel needs to compute group keys (the tags map only when grouping by a tag: it is the
    costliest column to read and filter)."""
    return ("tags" if by.startswith("tag:") else by, "reasoning_kind")


def check_by(by: str) -> None:
    if by not in ("model", "dataset") and not (by.startswith("tag:") and len(by) > 4):
        raise UsageError(f"--by {by!r}: use model, dataset or tag:KEY")


def group_codes(table: pa.Table, by: str) -> tuple[list[GroupKey], Ints]:
    """The table's distinct (group, kind) keys, and each row's index into them; vectorized (a million rows in
    tens of milliseconds), since measurement-only analyses call it on whole stores."""
    tag = by[4:] if by.startswith("tag:") else None
    values = table[by] if tag is None else pc.map_lookup(table["tags"], pa.scalar(tag), "first")
    groups = pc.dictionary_encode(pc.fill_null(values, NO_VALUE)).combine_chunks()
    kinds = pc.dictionary_encode(table["reasoning_kind"]).combine_chunks()
    group_names, kind_names = groups.dictionary.to_pylist(), kinds.dictionary.to_pylist()
    pairs = groups.indices.to_numpy().astype(np.int64) * len(kind_names) + kinds.indices.to_numpy()
    present, codes = np.unique(pairs, return_inverse=True)
    keys = [(group_names[p // len(kind_names)], kind_names[p % len(kind_names)]) for p in present.tolist()]
    return keys, codes.astype(np.int64)


@dataclass(frozen=True, slots=True)
class IntervalOptions:
    confidence: float = 0.95
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0


@dataclass
class RatioSums:
    """Running sums of per-transcript numerators (several at once) over one denominator, for one group."""

    n: int = 0
    rows: list[Ints] = field(default_factory=list)
    row_denominators: list[Ints] = field(default_factory=list)
    sum_num: Any = 0
    sum_den: int = 0
    sum_num2: Any = 0
    sum_den2: float = 0.0
    sum_num_den: Any = 0
    present: Any = 0  # transcripts with a non-zero numerator, per numerator

    def add(self, numerators: npt.NDArray[Any], denominators: Ints) -> None:
        """numerators: (n, k) counts (integers or floats), denominators: (n,)."""
        self.n += len(denominators)
        y, x = np.asarray(numerators, dtype=np.float64), denominators.astype(np.float64)  # no copy of floats
        # Products rather than elementwise temporaries: measured 3-5x faster on (131072, 55) arrays.
        self.sum_num = self.sum_num + np.ones(len(x)) @ y
        self.sum_den += int(denominators.sum())
        self.sum_num2 = self.sum_num2 + np.einsum("ij,ij->j", y, y)
        self.sum_den2 += float(x @ x)
        self.sum_num_den = self.sum_num_den + x @ y
        self.present = self.present + (numerators > 0).sum(axis=0)
        if self.n <= BOOTSTRAP_MAX_TRANSCRIPTS:
            self.rows.append(numerators)
            self.row_denominators.append(denominators)
        else:
            self.rows, self.row_denominators = [], []

    def intervals(
        self, options: IntervalOptions, per: float = 1000.0, resampled: FloatArray | None = None
    ) -> Intervals:
        """per × Σ numerator / Σ denominator for each numerator: studentized bootstrap over transcripts while the
        group is small enough (resampled: its resampled moments, when drawn elsewhere), the delta method from
        the running sums above (stats.rate_intervals)."""
        if self.rows:
            return rate_intervals(
                np.concatenate(self.rows),
                np.concatenate(self.row_denominators),
                per=per,
                confidence=options.confidence,
                resamples=options.resamples,
                seed=options.seed,
                method="bootstrap",
                resampled=resampled,
            )
        return delta_intervals(
            self.n,
            self.sum_num,
            self.sum_den,
            self.sum_num2,
            self.sum_den2,
            self.sum_num_den,
            per=per,
            confidence=options.confidence,
        )

    def share_intervals(
        self,
        options: IntervalOptions,
        is_share: Sequence[bool] | None = None,
        resampled: FloatArray | None = None,
    ) -> Intervals:
        """Σ numerator / Σ denominator per numerator, where the numerators marked in `is_share` (default: all) are
        part of their denominator (a share of tokens): the interval as intervals() gives it, a share's upper end
        held to 1, which the log scale can pass on small groups."""
        values = self.intervals(options, per=1.0, resampled=resampled)
        capped = np.minimum(values.high, 1.0)
        high = capped if is_share is None else np.where(np.asarray(is_share, dtype=bool), capped, values.high)
        return replace(values, high=high)

    def transcripts(self) -> tuple[npt.NDArray[Any], Ints]:
        """The kept per-transcript numerators (n, k) and denominators (n,), for the bootstrap."""
        return np.concatenate(self.rows), np.concatenate(self.row_denominators)

    def resampled_bytes(self, options: IntervalOptions) -> int:
        """The size of this group's resampled moments (0 for a group that takes the delta method)."""
        if not self.rows:
            return 0
        numerators = self.rows[0].shape[1] if self.rows[0].ndim == 2 else 1
        return options.resamples * (3 * numerators + 2) * 8

    def sums(self) -> Sums:
        return Sums(
            self.n,
            np.atleast_1d(np.asarray(self.sum_num, dtype=np.float64)),
            float(self.sum_den),
            np.atleast_1d(np.asarray(self.sum_num2, dtype=np.float64)),
            self.sum_den2,
            np.atleast_1d(np.asarray(self.sum_num_den, dtype=np.float64)),
        )

    def bootstraps_ratio_to(self, baseline: RatioSums) -> bool:
        """Whether ratio_to bootstraps (both groups kept their transcripts and are small enough together)."""
        return bool(self.rows and baseline.rows and self.n + baseline.n <= BOOTSTRAP_MAX_TRANSCRIPTS)

    def ratio_to(
        self,
        baseline: RatioSums,
        options: IntervalOptions,
        resampled: tuple[FloatArray, FloatArray] | None = None,
    ) -> RatioResult:
        """This group's ratio estimates over the baseline's, each numerator: studentized bootstrap (each group
        resampled on its own) where bootstraps_ratio_to, else the delta method from the sums. resampled: the
        baseline's and this group's resampled moments on their RATIO_SIDES, when drawn elsewhere
        (resample_groups)."""
        if self.bootstraps_ratio_to(baseline):
            return ratio_of_rates(
                np.concatenate(baseline.rows),
                np.concatenate(baseline.row_denominators),
                np.concatenate(self.rows),
                np.concatenate(self.row_denominators),
                confidence=options.confidence,
                resamples=options.resamples,
                seed=options.seed,
                method="bootstrap",
                resampled=resampled,
            )
        return ratio_of_sums(baseline.sums(), self.sums(), confidence=options.confidence)

    def prevalence(self, options: IntervalOptions) -> tuple[Any, Any, Any]:
        """Share of transcripts with a non-zero numerator, with Wilson bounds (arrays, one per numerator)."""
        present = np.asarray(self.present)
        low, high = wilson_interval(present, self.n, options.confidence)
        return present / self.n, low, high

    @property
    def few(self) -> bool:
        return self.n < FEW_TRANSCRIPTS


# Groups of the same transcripts (a side's numerators over its tokens and over its transcripts), resampled together:
# they draw the same resamples (stats.resampled_moments_of).
Bundle = tuple[RatioSums, ...]


def group_intervals(
    groups: Sequence[RatioSums], options: IntervalOptions, workers: Executor | None, per: float = 1000.0
) -> list[Intervals]:
    """Each group's `intervals`, the bootstrap's resampling shared out by resample_groups."""
    drawn = own_resamples([(group,) for group in groups], options, workers)
    return [group.intervals(options, per, moments) for group, [moments] in zip(groups, drawn, strict=True)]


def own_resamples(
    bundles: Sequence[Bundle], options: IntervalOptions, workers: Executor | None
) -> Iterator[list[FloatArray | None]]:
    """Each bundle's groups' resampled moments for their own intervals, in order (None for a group that takes the
    delta method), drawn by resample_groups a batch of consecutive bundles at a time: about _DRAWN_BYTES of them at
    most are held at once, however many groups there are. Lazy: consume it while `workers` run."""
    start = 0
    while start < len(bundles):
        stop, held = start + 1, _bytes(bundles[start], options)
        while stop < len(bundles) and held + _bytes(bundles[stop], options) <= _DRAWN_BYTES:
            held += _bytes(bundles[stop], options)
            stop += 1
        batch = [tuple(group for group in bundle if group.rows) for bundle in bundles[start:stop]]
        drawn = iter(resample_groups([(kept, ()) for kept in batch if kept], options, workers))
        for bundle, kept in zip(bundles[start:stop], batch, strict=True):
            moments = iter(next(drawn) if kept else [])
            yield [next(moments) if group.rows else None for group in bundle]
        start = stop


def _bytes(bundle: Bundle, options: IntervalOptions) -> int:
    return sum(group.resampled_bytes(options) for group in bundle)


def resample_groups(
    tasks: Sequence[tuple[Bundle, tuple[int, ...]]], options: IntervalOptions, workers: Executor | None
) -> list[list[FloatArray]]:
    """The resampled moments of every group of each (bundle, side) (stats.resampled_moments_of, which draws a
    bundle's resamples once when its groups hold the same transcripts). The resampling (its numpy path and its
    setup hold the GIL; its time: bench/README.md) runs in the worker processes when the analysis has them, a block
    of resamples per task, so that a few groups still keep every worker busy; blocks are seeded on their own, so
    where one runs changes no number."""
    blocks = len(resample_blocks(options.resamples))
    work = [(bundle, side, [block]) for bundle, side in tasks for block in range(blocks)]
    drawn = iter(map_ordered(_Resample(options), work, workers, window=len(work)))
    out = []
    for bundle, _ in tasks:
        by_block = [next(drawn) for _ in range(blocks)]
        out.append([np.concatenate([moments[i] for moments in by_block]) for i in range(len(bundle))])
    return out


@dataclass(frozen=True, slots=True)
class _Resample:
    options: IntervalOptions

    def __call__(self, task: tuple[Bundle, tuple[int, ...], list[int]]) -> list[FloatArray]:
        bundle, side, blocks = task
        groups = [group.transcripts() for group in bundle]
        return resampled_moments_of(groups, self.options.resamples, self.options.seed, side, blocks)


def interval_caption(options: IntervalOptions) -> str:
    return (
        f"{options.confidence:.0%} intervals: studentized bootstrap of the log rate over transcripts "
        f"({options.resamples} resamples, seed {options.seed}; delta method above {BOOTSTRAP_MAX_TRANSCRIPTS:,} "
        "transcripts)"
    )


def interval_definition(options: IntervalOptions) -> dict[str, Any]:
    return {
        "confidence": options.confidence,
        "method": "studentized-log+1: bootstrap over transcripts of the log rate standardized by each resample's "
        "delta-method standard error, the upper bound set as if the group held one more copy of its heaviest "
        "user of the term (for a ratio: the upper bound one more in the side, the lower bound one more in the "
        f"baseline), for groups of up to {BOOTSTRAP_MAX_TRANSCRIPTS} transcripts (the upper "
        "bound is infinite, null in JSON, for a term that about 3 transcripts or fewer use); delta: the "
        "delta method of the log of the ratio estimator above; poisson-zero: no occurrences, [0, exact Poisson "
        "upper bound]; percentile: a ratio whose term one side uses in about 3 transcripts or fewer, the "
        "percentile interval of the resampled ratios; poisson-conditional: a ratio with occurrences on one side only, the "
        "exact conditional test",
        "resamples": options.resamples,
        "seed": options.seed,
    }
