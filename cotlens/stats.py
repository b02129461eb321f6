"""Error bars for term rates in reasoning transcripts: pure functions of arrays, no I/O.

The contract:

* The rate of a term in a group is ``per * sum(occurrences) / sum(tokens)``, a ratio estimator.
* Transcripts, not tokens, are the independent unit: occurrences cluster within transcripts, so every
  interval resamples (or linearizes over) whole transcripts.
* Intervals come from a seeded studentized bootstrap on the log scale over transcripts, its upper bound allowing
  one more heavy user ("studentized-log+1"), or,
  for groups too large to resample quickly (``BOOTSTRAP_MAX_TRANSCRIPTS``), from the delta method for the log
  of the ratio estimator ("delta"); ``delta_intervals`` computes the latter from running sums, so large groups
  never need to be held in memory. Each term's interval names the method that made it (``term_methods``).
* Zero counts are explicit: a rate with no occurrences is 0 with interval ``[0, upper]``; a rate ratio whose
  baseline rate is 0 is undefined (NaN), and callers decide how to show it.

Shapes: ``occurrences`` is ``(n, T)`` for ``n`` transcripts and ``T`` terms (or ``(n,)`` for a single term,
treated as ``T = 1``); ``tokens`` is ``(n,)``. Results have shape ``(T,)``.

One module of about 960 lines: the interval methods share the resampling (its two kernels, its exact sums, groups
that draw once), the pivot helpers, and their rules (zero counts, sparse terms, p-values that invert the intervals)
are one contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
# The adjusted p-value below which a difference counts as significant: a change in `compare` (and its gates), a
# keyword in `keywords`.
SIGNIFICANCE = 0.05
# Columns as base-256 digits in float32, and how digit sums recombine into column sums (_byte_digits).
_Digits = tuple[npt.NDArray[np.float32], FloatArray]
Method = Literal["auto", "bootstrap", "delta"]

# Switch point of method="auto": groups of at most this many transcripts are bootstrapped, larger ones get
# the delta method. Measured on the 2-core development machine (numpy 2.4, OpenBLAS), rate_intervals with
# DEFAULT_RESAMPLES resamples of 50 terms at once, median (max) of 7 runs: n = 10,000: 0.18 s; 20,000:
# 0.34 s; 30,000: 0.54 s (0.64); 40,000: 0.80 s (0.83); 50,000: 0.93 s (1.06); 60,000: 1.00 s (1.31).
# Time is ~linear in n (about 20 us per transcript): drawing indices, counting them, one matrix product. (These
# times are the numpy path's; the compiled drawing of weights, draws_kernel, halves the drawing: the switch stays.)
# 40,000 is the largest round n that stayed under 1 s in every run. Coverage does not argue for a higher
# switch: both methods reach 94-95% on heavy-tailed data well below it (tests/test_stats.py).
BOOTSTRAP_MAX_TRANSCRIPTS = 40_000

# 1999 rather than 2000: with B + 1 = 2000 the 2.5% and 97.5% points are exactly the 50th and 1950th
# ordered resamples, so no interpolation is needed (Davison & Hinkley 1997, "Bootstrap Methods and their
# Application", ch. 5). Percentile intervals need B in the thousands, not hundreds, for stable tail points
# (Efron & Tibshirani 1993, "An Introduction to the Bootstrap"); and the smallest bootstrap p-value,
# 1/(B+1) = 0.0005, is below 0.001.
DEFAULT_RESAMPLES = 1999

# Bytes allowed for the per-chunk weights (float32 or float64, 4 or 8 bytes per transcript per resample; the numpy
# path's drawn indices live one count block at a time, see _draw_weights), so memory stays bounded for any n and any
# number of resamples. Small enough to stay in the cache: with two worker processes resampling side by side, 64 MB
# chunks made the bootstrap of `rates` 10-40% slower and more variable than 8 MB ones (measured on the 300 MB bench
# store, when a chunk also held its int32 indices).
_CHUNK_BYTES = 8 * 2**20
# Transcripts x resamples counted by one np.bincount call (the numpy path of _draw_weights). Counting a whole chunk at
# once is several times slower (its target array leaves the cache: 0.8 s instead of 0.1 s for 2000 x 10,000,
# measured), while one call per resample costs Python overhead at small n. 2**16 counts (the drawn indices and their
# counts, 0.5 MB of int64 each, stay in a core's cache): resampled_moments of 1999 resamples of 3,800 / 11,300
# transcripts, two processes side by side, 0.041 / 0.120 s against 0.047 / 0.137 s with 2**18 (2**14 to 2**17 alone:
# within 5% of 2**16). The same draws and sums whatever the block (_draw_weights).
_COUNT_BLOCK = 2**16
# The most transcripts whose resampled sums run in float32 (_byte_digits): 255 n < 2**24.
_DIGITS_MAX_N = (2**24 - 1) // 255
# Resamples are drawn in blocks of this many, block j of a group from its own seed (the group's seed, j), so
# that a group's resampling can be split among worker processes and give the same draws wherever it runs.
RESAMPLE_BLOCK = 1000
# The `side` of resampled_moments for the two groups of ratio_of_rates (A, the baseline, then B): independent
# streams from one seed.
RATIO_SIDES: tuple[tuple[int, ...], tuple[int, ...]] = ((0,), (1,))
# Bits kept of each value whose resampled sums only feed standard errors (_fixed_point).
_MOMENT_BITS = 16

# The interval methods, as outputs name them per row (see rate_intervals and ratio_of_rates).
STUDENTIZED = "studentized-log+1"
DELTA = "delta"
POISSON_ZERO = "poisson-zero"
POISSON_CONDITIONAL = "poisson-conditional"
PERCENTILE = "percentile"


@dataclass(frozen=True)
class Intervals:
    """Point estimates and two-sided confidence intervals, one per term."""

    estimate: FloatArray  # shape (T,)
    low: FloatArray
    high: FloatArray
    method: str  # the group's method: STUDENTIZED or DELTA
    resamples: int | None  # None for the delta method
    term_methods: tuple[str, ...] = ()  # per term: the group's method or POISSON_ZERO

    def method_of(self, term: int) -> str:
        """The method that made term `term`'s interval."""
        return self.term_methods[term] if self.term_methods else self.method


@dataclass(frozen=True)
class RatioResult:
    """Rate ratio B / A per term, with interval and two-sided p-value for "the rates are equal"."""

    estimate: FloatArray  # shape (T,); NaN where A's rate is 0 (undefined ratio)
    low: FloatArray
    high: FloatArray
    p_value: FloatArray  # NaN where neither group has an occurrence
    method: str  # the method of the pair of groups: STUDENTIZED or DELTA
    resamples: int | None  # None for the delta method
    term_methods: tuple[str, ...] = ()  # per term: the pair's method or POISSON_CONDITIONAL

    def method_of(self, term: int) -> str:
        """The method that made term `term`'s interval and p-value."""
        return self.term_methods[term] if self.term_methods else self.method


# -- helpers ---------------------------------------------------------------------------------------------


def _group(occurrences: npt.ArrayLike, tokens: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validated float copies: occurrences as (n, T), tokens as (n,)."""
    occ = np.asarray(occurrences, dtype=np.float64)
    tok = np.asarray(tokens, dtype=np.float64)
    if occ.ndim == 1:
        occ = occ[:, np.newaxis]
    if occ.ndim != 2 or tok.ndim != 1 or occ.shape[0] != tok.shape[0]:
        raise ValueError(
            f"occurrences must be (n, T) or (n,) and tokens (n,); got {occ.shape} and {tok.shape}"
        )
    if not (np.isfinite(occ).all() and np.isfinite(tok).all()):
        raise ValueError("occurrences and tokens must be finite")
    if (occ < 0).any() or (tok < 0).any():
        raise ValueError("occurrences and tokens must be non-negative")
    return occ, tok


def _check(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1; got {resamples}")


def _z(confidence: float) -> float:
    """Two-sided standard normal critical value (1.959964... at 95%)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _two_sided_normal_p(z: FloatArray) -> FloatArray:
    """2 * (1 - Phi(|z|)), computed as erfc(|z| / sqrt 2) so tiny p-values keep their precision."""
    return np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in z.tolist()], dtype=np.float64)


def _resolve(method: Method, n: int) -> Literal["bootstrap", "delta"]:
    if method == "auto":
        return "bootstrap" if n <= BOOTSTRAP_MAX_TRANSCRIPTS else "delta"
    if method not in ("bootstrap", "delta"):
        raise ValueError(f"method must be 'auto', 'bootstrap' or 'delta'; got {method!r}")
    return method


def resample_blocks(resamples: int) -> list[int]:
    """How many resamples each block of a group's `resamples` holds (see RESAMPLE_BLOCK)."""
    return [min(RESAMPLE_BLOCK, resamples - start) for start in range(0, resamples, RESAMPLE_BLOCK)]


def resampled_sums(
    x: npt.ArrayLike,
    resamples: int,
    seed: int,
    side: tuple[int, ...] = (),
    blocks: list[int] | None = None,
    digits: _Digits | None = None,
) -> FloatArray:
    """Column sums of x (n, k) over bootstrap resamples of its rows, shape (resamples, k): over the resamples of
    the given blocks only (indices into resample_blocks(resamples)), stacked in their order, when `blocks` is
    given. `side` tells apart groups resampled with one seed (the two sides of a ratio). `digits`: x's
    _byte_digits when the caller has them (x is then not read)."""
    sizes = resample_blocks(resamples)
    chosen = range(len(sizes)) if blocks is None else blocks
    rows = np.asarray(x, dtype=np.float64)
    if digits is None:
        digits = _byte_digits(rows)  # once for every block
    return np.concatenate(
        [
            _resampled_sums(
                rows,
                digits,
                sizes[j],
                np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*side, j))),
            )
            for j in chosen
        ]
    )


def resampled_moments(
    occurrences: npt.ArrayLike,
    tokens: npt.ArrayLike,
    resamples: int,
    seed: int,
    side: tuple[int, ...] = (),
    blocks: list[int] | None = None,
) -> FloatArray:
    """What the studentized bootstrap needs of each resample of a group (shapes as for rate_intervals), shape
    (resamples, 3 T + 2): the sums of occurrences (T columns) and tokens, exact, then the sums of d^2 and d x
    (T columns each) and x^2, to about 5 significant digits (see _fixed_point), where x is a transcript's
    tokens and d = y - R x its residual from the group's rate R (see _resampled_log_rates). Drawn as
    resampled_sums draws them: the same seeds give the same resamples and the same sums in any process."""
    [moments] = resampled_moments_of([(occurrences, tokens)], resamples, seed, side, blocks)
    return moments


def resampled_moments_of(
    groups: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]],
    resamples: int,
    seed: int,
    side: tuple[int, ...] = (),
    blocks: list[int] | None = None,
) -> list[FloatArray]:
    """The resampled_moments of each (occurrences, tokens) group, with the same seed and side. Groups of as many
    transcripts (the same transcripts over two denominators, say) draw the same resamples: when all their columns
    resample in float32, they are drawn once, for one product over every group's digits (whole numbers summed
    exactly, so each group's sums are the ones it would get alone)."""
    columns = [_MomentColumns.of(occurrences, tokens) for occurrences, tokens in groups]
    together = [c.digits for c in columns if c.digits is not None]
    if len(columns) > 1 and len(together) == len(columns) and len({c.n for c in columns}) == 1:
        sums = resampled_sums(np.empty((columns[0].n, 0)), resamples, seed, side, blocks, _stacked(together))
        widths = np.cumsum([digits[1].shape[1] for digits in together])[:-1]
        drawn = [np.ascontiguousarray(part) for part in np.split(sums, widths, axis=1)]
    else:
        drawn = [
            resampled_sums(
                np.empty((c.n, 0)) if c.values is None else c.values, resamples, seed, side, blocks, c.digits
            )
            for c in columns
        ]
    for c, moments in zip(columns, drawn, strict=True):
        # Every resample draws n transcripts, so each column's offset adds exactly n * offset to its sums.
        moments[:, c.exact :] = moments[:, c.exact :] * c.scale + c.n * c.offset
    return drawn


@dataclass(frozen=True)
class _MomentColumns:
    """What resampled_moments resamples of a group: its columns as digits (or as floats, `values`, when they are
    not all whole), and how its fixed-point columns, after the first `exact`, scale back."""

    n: int
    exact: int
    digits: _Digits | None
    values: FloatArray | None
    scale: FloatArray
    offset: FloatArray

    @classmethod
    def of(cls, occurrences: npt.ArrayLike, tokens: npt.ArrayLike) -> _MomentColumns:
        occ, tok = _group(occurrences, tokens)
        counts, total = occ.sum(axis=0), float(tok.sum())
        ratio = counts / total if total > 0 else np.zeros_like(counts)
        resid = occ - tok[:, np.newaxis] * ratio[np.newaxis, :]
        fixed, scale, offset = _fixed_point(
            np.column_stack([resid * resid, resid * tok[:, np.newaxis], tok * tok])
        )
        del resid
        n, exact = tok.shape[0], occ.shape[1] + 1
        counted = _byte_digits(np.column_stack([occ, tok]))
        if counted is None:
            return cls(n, exact, None, np.column_stack([occ, tok, fixed]), scale, offset)
        # The fixed-point columns' two digits are known: no pass of _byte_digits over them.
        return cls(n, exact, _with_fixed_point_digits(counted, fixed), None, scale, offset)


def _stacked(groups: Sequence[_Digits]) -> _Digits:
    """Several groups' _byte_digits side by side: their digit columns, and one recombination matrix that sends
    each group's digit sums to its own columns only."""
    parts = np.column_stack([digits[0] for digits in groups])
    recombine = np.zeros((parts.shape[1], sum(digits[1].shape[1] for digits in groups)))
    row = column = 0
    for _, own in groups:
        recombine[row : row + own.shape[0], column : column + own.shape[1]] = own
        row, column = row + own.shape[0], column + own.shape[1]
    return parts, recombine


def _with_fixed_point_digits(digits: _Digits, fixed: FloatArray) -> _Digits:
    """The _byte_digits of [x, fixed] from x's and the columns of `fixed` (whole numbers below 2^16: two
    base-256 digits each, low then high). Written into one float32 array from 16-bit integers: the float64
    remainder, floor and column_stack this replaces took a quarter of the bootstrap's setup time."""
    parts, recombine = digits
    k, e = recombine.shape[1], fixed.shape[1]
    d = parts.shape[1]
    whole = fixed.astype(np.uint16)
    combined_parts = np.empty((parts.shape[0], d + 2 * e), dtype=np.float32)
    combined_parts[:, :d] = parts
    np.bitwise_and(whole, 255, out=whole)  # in place: the low digits, then the high ones from `fixed` again
    combined_parts[:, d : d + e] = whole
    np.right_shift(fixed.astype(np.uint16), 8, out=whole)
    combined_parts[:, d + e :] = whole
    combined = np.zeros((recombine.shape[0] + 2 * e, k + e))
    combined[: recombine.shape[0], :k] = recombine
    columns = np.arange(e)
    combined[recombine.shape[0] + columns, k + columns] = 1.0
    combined[recombine.shape[0] + e + columns, k + columns] = 256.0
    return combined_parts, combined


def _fixed_point(v: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """v (n, k) as whole numbers q in [0, 2^_MOMENT_BITS), v ~= offset + scale q per column (scale a power of 2,
    offset the column's minimum when negative), with q's columns and scale and offset of shape (k,).

    Why: float sums of fractional values depend on the order of the additions, and the BLAS order changes with
    its thread count (worker processes run one thread), so resampled sums of d^2 computed in a worker and in
    the main process differed in their last bits. Whole numbers sum exactly in any order (see _byte_digits),
    so the rounding happens once, here, the same in every process. 16 bits per value make two base-256
    digits; each value is off by at most half a unit (span / 2^17), and these errors mostly cancel in a sum.
    """
    offset: FloatArray = np.minimum(v.min(axis=0, initial=0.0), 0.0)
    span = v.max(axis=0, initial=0.0) - offset
    _, exponent = np.frexp(span)  # span = m 2^e with 0.5 <= m < 1, so span / 2^(e - bits) < 2^bits
    scale: FloatArray = np.ldexp(1.0, exponent - _MOMENT_BITS)
    q: FloatArray = np.minimum(np.rint((v - offset) / scale), 2.0**_MOMENT_BITS - 1)
    return q, scale, offset


def _resampled_sums(
    x: FloatArray, digits: _Digits | None, resamples: int, rng: np.random.Generator
) -> FloatArray:
    """Column sums of x (n, k) over `resamples` bootstrap resamples of its rows: shape (resamples, k).

    Each resample is a row of multinomial weights (how often each transcript was drawn), so every column
    (every term, and the tokens) sees the same resampled transcript sets and the work is one matrix product,
    in float32 from x's digits (`_byte_digits(x)`) when that is exact, else in float64. Weights come from
    _draw_weights. Chunks of resamples keep memory bounded.
    """
    n = x.shape[0]
    k = x.shape[1] if digits is None else digits[1].shape[1]  # x is not read when its digits are given
    dtype = np.float32 if digits is not None else np.float64
    chunk = min(resamples, max(1, _CHUNK_BYTES // (np.dtype(dtype).itemsize * n)))
    block = max(1, _COUNT_BLOCK // n)
    out = np.empty((resamples, k), dtype=np.float64)
    weights = np.empty((chunk, n), dtype=dtype)  # reused, so chunks never overlap in memory
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        _draw_weights(weights[:rows], block, rng)
        # Weights and counts are integers, so these sums are exact whatever the BLAS order (see _byte_digits).
        if digits is None:
            out[start : start + rows] = weights[:rows] @ x
        else:
            parts, recombine = digits
            out[start : start + rows] = (weights[:rows] @ parts).astype(np.float64) @ recombine
    return out


def _byte_digits(x: FloatArray) -> _Digits | None:
    """x's columns as base-256 digits in float32 (n, d), and the float64 (d, k) matrix that recombines digit
    sums into column sums; None unless that is exact: x of whole numbers, at most _DIGITS_MAX_N rows (a resampled
    sum of a digit is a whole number of at most 255 n < 2**24, which float32 holds exactly) and n * max(x) below
    2**53 (so float64 recombines exactly). float32 products run at twice the speed of float64 ones."""
    n, k = x.shape
    top = float(x.max(initial=0.0))
    if n > _DIGITS_MAX_N or n * top >= 2.0**53 or not np.array_equal(x, np.floor(x)) or (x < 0).any():
        return None
    values = x.astype(np.int64)
    # Digits per column: the bit length of its largest value (the float64 exponent, exact below 2**53) in bytes.
    # One pass per digit position over the columns that have it, not one per column: the studentized bootstrap
    # resamples 3 columns per term.
    _, bits = np.frexp(values.max(axis=0, initial=0).astype(np.float64))
    digits = np.maximum(1, (bits + 7) // 8)
    columns: list[npt.NDArray[np.float32]] = []
    recombine: list[FloatArray] = []
    for j in range(int(digits.max(initial=1))):
        have = np.flatnonzero(digits > j)
        columns.append(((values[:, have] >> (8 * j)) & 255).astype(np.float32))
        rows = np.zeros((have.size, k))
        rows[np.arange(have.size), have] = 256.0**j
        recombine.append(rows)
    return np.column_stack(columns), np.concatenate(recombine)


def _compiled_draws() -> Callable[[np.random.BitGenerator, npt.NDArray[np.floating[Any]]], None] | None:
    """The compiled drawing of weights (cotlens/_resample.c), or None where it was not built (setup.py marks it
    optional: the install goes on without a C compiler)."""
    try:
        from cotlens._resample import draw_counts
    except ImportError:
        return None
    return draw_counts


_compiled_draw_counts = _compiled_draws()


def draws_kernel() -> str:
    """Which kernel draws the bootstrap's weights in this install: "compiled" or "numpy" (the same weights from
    the same seed, and the generator left in the same state)."""
    return "numpy" if _compiled_draw_counts is None else "compiled"


def _draw_weights(weights: npt.NDArray[np.floating[Any]], block: int, rng: np.random.Generator) -> None:
    """Fill weights (rows, n) with multinomial(n, 1/n) counts: row r counts how often each transcript is
    drawn in resample r, from the indices rng.integers(0, n, size=(rows, n), dtype=np.int64) draws. The one
    place that chooses the kernel: the compiled one draws the same 32-bit values and counts each index as it is
    drawn (no index array, no bincount), the numpy path draws the indices a block of rows at a time, as int64 so
    that the rows' offsets add in place, and counts them while they are in the cache: 20% faster than drawing a
    chunk's indices at once as int32, and the same indices (the generator draws the same 32-bit values for either
    type and any split of rows). `weights` must be C-contiguous (the compiled kernel rejects anything else)."""
    if _compiled_draw_counts is not None:
        _compiled_draw_counts(rng.bit_generator, weights)
        return
    rows, n = weights.shape
    offsets = (np.arange(min(block, rows), dtype=np.int64) * n)[:, np.newaxis]
    for r in range(0, rows, block):
        m = min(block, rows - r)
        idx = rng.integers(0, n, size=(m, n), dtype=np.int64)
        idx += offsets[:m]
        weights[r : r + m] = np.bincount(idx.ravel(), minlength=m * n).reshape(m, n)


def _order_quantiles(draws: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """The equal-tailed (1 - confidence) / 2 and (1 + confidence) / 2 points of resampled values (B, T),
    ignoring NaN draws (undefined resamples).

    With m valid draws the points are the k-th smallest and k-th largest, k = floor((m + 1) * alpha / 2)
    (Davison & Hinkley 1997, ch. 5). Order statistics rather than interpolation, so infinite draws (a resample
    without a single occurrence) never produce inf - inf = NaN.
    """
    alpha = 1.0 - confidence
    ordered = np.sort(draws, axis=0)  # NaN sorts last
    m = np.sum(~np.isnan(draws), axis=0)
    k = np.clip(np.floor((m + 1) * alpha / 2.0 + 1e-9).astype(np.int64), 1, np.maximum(m, 1))
    low_idx = np.clip(k - 1, 0, draws.shape[0] - 1)
    high_idx = np.clip(m - k, 0, draws.shape[0] - 1)
    low = np.take_along_axis(ordered, low_idx[np.newaxis, :], axis=0)[0]
    high = np.take_along_axis(ordered, high_idx[np.newaxis, :], axis=0)[0]
    none = m == 0
    low[none] = np.nan
    high[none] = np.nan
    return low, high


def _resampled_log_rates(moments: FloatArray, rate: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    """Each resample's log rate per term and the delta-method variance of that log rate computed within the
    resample, shapes (B, T), from resampled_moments' columns and the group's rates `rate` (T,); -inf and NaN
    where a resample has no occurrence.

    The resample's residual sum of squares sum w (y - R* x)^2 expands around the group's rate R, with
    d = y - R x and delta = R* - R, into sum w d^2 - 2 delta sum w d x + delta^2 sum w x^2: sums of terms
    centred on R, so their float32 sums lose nothing to cancellation. Var(log R*) = rss n / ((n - 1) X*^2
    R*^2): Cochran's variance (_delta_variance) divided by R*^2, the delta method for the log."""
    terms = (moments.shape[1] - 2) // 3
    occ, tok = moments[:, :terms], moments[:, terms : terms + 1]
    dd, dx = moments[:, terms + 1 : 2 * terms + 1], moments[:, 2 * terms + 1 : 3 * terms + 1]
    xx = moments[:, 3 * terms + 1 :]
    with np.errstate(divide="ignore", invalid="ignore"):
        resampled = occ / tok
        delta = resampled - rate[np.newaxis, :]
        rss = np.maximum(dd - 2.0 * delta * dx + delta * delta * xx, 0.0)
        var: FloatArray = rss * n / ((n - 1) * tok * tok * resampled * resampled)
        log_rate: FloatArray = np.log(resampled)
    return log_rate, var


def _pivots(draws: FloatArray, var: FloatArray, centre: FloatArray) -> FloatArray:
    """Studentized resamples t* = (draw - centre) / sqrt(var), shape (B, T): 0 where a draw equals the centre
    (whatever its variance), -inf / +inf where a draw is (a resample without occurrences, or without any of
    a ratio's baseline occurrences), NaN where it is undefined (ignored by _order_quantiles)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (draws - centre[np.newaxis, :]) / np.sqrt(var)
    t = np.where(np.isinf(draws), draws, t)
    pivots: FloatArray = np.where(draws == centre[np.newaxis, :], 0.0, t)
    return pivots


def _studentized_bounds(
    pivots: FloatArray,
    log_estimate: FloatArray,
    se: FloatArray,
    heavier_high: tuple[FloatArray, FloatArray],
    heavier_low: tuple[FloatArray, FloatArray] | None,
    confidence: float,
) -> tuple[FloatArray, FloatArray]:
    """The studentized (bootstrap-t) interval on the log scale, returned on the original scale:
    [exp(L - t*_hi se), exp(L - t*_lo se)] for the equal-tailed points t*_lo, t*_hi of the pivots (Efron &
    Tibshirani 1993, ch. 12; Davison & Hinkley 1997, sec. 5.2), L and se the log estimate and its standard
    error; each bound then widened, if that is wider, to the same bound around another (log estimate, standard
    error) pair: the sample's with one more heavy user (see _with_heaviest), `heavier_high` for the upper bound
    and `heavier_low`, when given, for the lower. se = 0 (every transcript has the same rate) gives [R, R], as
    the delta method does. A bound is infinite where more than (1 - confidence) / 2 of the resamples had no
    occurrence (or none of the baseline's, for a ratio). An undefined se (a group of one transcript, which shows
    nothing of the variation between transcripts) gives [0, inf]."""
    t_low, t_high = _order_quantiles(pivots, confidence)
    with np.errstate(over="ignore", invalid="ignore"):
        low = np.exp(log_estimate - t_high * se)
        high = np.fmax(np.exp(log_estimate - t_low * se), np.exp(heavier_high[0] - t_low * heavier_high[1]))
        if heavier_low is not None:
            low = np.fmin(low, np.exp(heavier_low[0] - t_high * heavier_low[1]))
    flat = se == 0.0
    low[flat] = np.exp(log_estimate[flat])
    high[flat] = np.exp(log_estimate[flat])
    unknown = np.isnan(se)
    low[unknown], high[unknown] = 0.0, np.inf
    return low, high


def _with_heaviest(occ: FloatArray, tok: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per term, shape (T,) each: the log rate and its standard error (as rate_intervals' se of the log rate)
    of the group with one more copy of its heaviest user of the term, the transcript with the largest residual
    y - R x (the one whose addition raises the rate most, to first order; the first of equals).

    Why: a group that happens to lack the rare heavy users of a clustered term has a low rate and a small
    spread, and its resamples cannot show what it lacks; its bootstrap pivots are then also less skewed than
    the truth's (in simulation, the groups whose upper bound missed had a median skewness of the residuals of
    1.3 against 3.3 for all groups), so the studentized upper bound still falls below the true rate about twice
    as often as it should (4.5-5% instead of 2.5% at 200 transcripts of a gamma(0.5) term; BCa, score, Box-Cox,
    double bootstrap and Hall's skewness-corrected intervals do no better). Allowing one more heavy user, as Fay
    & Feuer (1997) allow one more event of the largest weight in their upper bound for weighted Poisson sums,
    brings it to 0.8-2.3% at 200 to 20,000 transcripts (4.0% at 50; README, "Intervals"); its effect shrinks
    as 1 / n, and it is nil where every transcript has the same rate.

    The residual sum of squares around the new rate R' = R + delta expands around R, with d = y - R x, into
    sum d^2 - 2 delta sum d x + delta^2 sum x^2 plus the added transcript's (y - R' x)^2; each term's sums run
    along a contiguous row, so a term's result does not depend on which other terms share the array (see
    _delta_variance). The caller overrides groups of one transcript and terms without occurrences."""
    n = tok.shape[0]
    total = float(tok.sum())
    counts = occ.sum(axis=0)
    rate = counts / total
    resid = np.ascontiguousarray((occ - tok[:, np.newaxis] * rate[np.newaxis, :]).T)
    heaviest = np.argmax(resid, axis=1)
    y, x = occ[heaviest, np.arange(occ.shape[1])], tok[heaviest]
    rate_plus = (counts + y) / (total + x)
    delta = rate_plus - rate
    rss = (resid * resid).sum(axis=1) - 2.0 * delta * (resid * tok).sum(axis=1) + delta**2 * float(tok @ tok)
    rss = np.maximum(rss, 0.0) + (y - rate_plus * x) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        var = rss * (n + 1) / (n * (total + x) ** 2)  # Cochran's variance (_delta_variance) with n + 1
        log_rate: FloatArray = np.log(rate_plus)
        se: FloatArray = np.sqrt(var) / rate_plus
    return log_rate, se


def _delta_variance(occ: FloatArray, tok: FloatArray) -> FloatArray:
    """Linearized variance of the per-token ratio estimator sum(y) / sum(x), per term, shape (T,).

    Var(R) ~= sum((y_i - R x_i)^2) / ((n - 1) n xbar^2): the ratio estimator's linearized variance, Cochran
    1977, "Sampling Techniques", 3rd ed., ch. 6, without the finite-population correction. NaN for n < 2.
    """
    n = tok.shape[0]
    if n < 2:
        return np.full(occ.shape[1], np.nan)
    ratio = occ.sum(axis=0) / tok.sum()
    resid = occ - tok[:, np.newaxis] * ratio[np.newaxis, :]
    xbar = tok.mean()
    # Each term's squares summed along a contiguous row, so a term's variance does not depend on which other
    # terms share the array (a column sum of an (n, T) array adds in an order that depends on T).
    var: FloatArray = np.ascontiguousarray((resid**2).T).sum(axis=1) / ((n - 1) * n * xbar**2)
    return var


def _delta_bounds(
    estimate: FloatArray, var: FloatArray, per: float, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Delta-method interval on the log scale: estimate * exp(-/+ z se(R) / R).

    Why log: the ratio estimator is right-skewed (on heavy-tailed data most misses have the true rate above
    the interval) and bounded below by 0, and a symmetric interval is worst for rare terms, exactly where
    large groups use this method. Measured coverage of nominal 95% (simulation of tests/test_stats.py,
    n = 50,000 transcripts, 3000 intervals each): expected count 3 / 10 / 30 / 100 per term: symmetric
    (clipped at 0) 85.8 / 92.4 / 93.9 / 95.3%, log scale 97.1 / 95.8 / 95.2 / 95.4%. For common terms both
    agree as n grows. se(log R) = se(R) / R by the delta method. Zero counts are overridden by the caller.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.exp(_z(confidence) * np.sqrt(var) * per / estimate)
    return estimate / spread, estimate * spread


def _zero_counts(
    low: FloatArray, high: FloatArray, counts: FloatArray, total_tokens: float, per: float, confidence: float
) -> None:
    """In place: terms with no occurrences get [0, exact Poisson upper bound] (see rate_intervals)."""
    zero = counts == 0
    low[zero] = 0.0
    high[zero] = per * _poisson_zero_upper(total_tokens, confidence)


def _poisson_zero_upper(total_tokens: float, confidence: float) -> float:
    """Exact (Garwood 1936) upper bound of a per-token Poisson rate when 0 events were seen.

    For x = 0 the two-sided exact interval is [0, -ln(alpha / 2) / exposure] (3.689 / exposure at 95%).
    """
    return -math.log((1.0 - confidence) / 2.0) / total_tokens


# -- public API ------------------------------------------------------------------------------------------


def rate_intervals(
    occurrences: npt.ArrayLike,
    tokens: npt.ArrayLike,
    *,
    per: float = 1000.0,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    method: Method = "auto",
    resampled: FloatArray | None = None,
) -> Intervals:
    """Rates per `per` tokens of each term in one group of transcripts, with confidence intervals.

    Estimate: per * sum(occurrences) / sum(tokens). Interval, by term (term_methods names each):

    * STUDENTIZED (method "bootstrap"): the studentized bootstrap of log(rate) over transcripts (seeded, all
      terms resampled together): each resample's log rate is standardized by its own delta-method standard
      error, and the equal-tailed points of that pivot set the interval around the estimate; the upper bound is
      then widened, where that is wider, to the one around the log rate and standard error of the group with
      one more copy of its heaviest user of the term (_with_heaviest). On clustered, heavy-tailed data the percentile bootstrap misses mostly
      on one side (a resample that lacks the rare heavy users has a low rate and a small spread); the pivot
      corrects part of this, the added heavy user the rest (coverage table: README, "Intervals").
    * DELTA (method "delta"): estimate * exp(-/+ z se(log rate)), the delta method on the log scale.
    * POISSON_ZERO: terms with no occurrences get [0, upper]. Both methods would give [0, 0] there, which claims
      certainty that 0 observed events cannot give, so the upper bound is the exact Poisson bound with the
      group's tokens as exposure (Garwood 1936). Zero events carry no information about clustering, so this
      bound is the one for independent occurrences; if the term would cluster, the true uncertainty is larger.

    A term used in so few transcripts that more than (1 - confidence) / 2 of the resamples hold none of them
    (about 3 transcripts or fewer at 95%) has an infinite upper bound: the data cannot bound how heavily the
    users it did not see use the term (in simulation, any finite rule there, such as an exact Poisson interval
    for the number of users, misses the true rate far more often than 2.5%). One transcript gives [0, inf],
    no tokens NaN throughout. resampled: the bootstrap's resampled_moments(occurrences,
    tokens, resamples, seed), when they were drawn elsewhere (in worker processes).
    """
    _check(confidence, resamples)
    occ, tok = _group(occurrences, tokens)
    n, terms = occ.shape
    chosen = _resolve(method, n)
    name = STUDENTIZED if chosen == "bootstrap" else DELTA
    total_tokens = float(tok.sum())
    counts = occ.sum(axis=0)
    reported = resamples if chosen == "bootstrap" else None
    if total_tokens == 0.0:
        nan = np.full(terms, np.nan)
        return Intervals(nan, nan.copy(), nan.copy(), name, reported, (name,) * terms)

    rate = counts / total_tokens
    estimate: FloatArray = per * rate
    var = _delta_variance(occ, tok)
    if chosen == "bootstrap":
        if resampled is None:
            resampled = resampled_moments(occ, tok, resamples, seed)
        log_draws, var_draws = _resampled_log_rates(resampled, rate, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_rate, se = np.log(rate), np.sqrt(var) / rate
        pivots = _pivots(log_draws, var_draws, log_rate)
        low, high = _studentized_bounds(pivots, log_rate, se, _with_heaviest(occ, tok), None, confidence)
        low, high = per * low, per * high
    else:
        low, high = _delta_bounds(estimate, var, per, confidence)
    _zero_counts(low, high, counts, total_tokens, per, confidence)
    methods = np.where(counts == 0, POISSON_ZERO, name)
    return Intervals(estimate, low, high, name, reported, tuple(methods.tolist()))


def delta_intervals(
    n: int,
    sum_occ: npt.ArrayLike,
    sum_tok: float,
    sum_occ2: npt.ArrayLike,
    sum_tok2: float,
    sum_occ_tok: npt.ArrayLike,
    *,
    per: float = 1000.0,
    confidence: float = 0.95,
) -> Intervals:
    """The delta-method intervals of rate_intervals from running sums, for groups too large to keep.

    Arguments are sums over the group's n transcripts: of occurrences y (per term), tokens x, y^2 (per
    term), x^2 and x y (per term). The residual sum of squares of Cochran's variance expands to
    sum(y^2) - 2 R sum(x y) + R^2 sum(x^2); the cancellation costs about eps * sum(y^2) / sum(d^2) relative
    precision, negligible for counts and lengths of transcripts. Zero counts are handled as in
    rate_intervals.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    s_y = np.atleast_1d(np.asarray(sum_occ, dtype=np.float64))
    s_yy = np.atleast_1d(np.asarray(sum_occ2, dtype=np.float64))
    s_xy = np.atleast_1d(np.asarray(sum_occ_tok, dtype=np.float64))
    if not s_y.shape == s_yy.shape == s_xy.shape:
        raise ValueError(f"per-term sums differ in shape: {s_y.shape}, {s_yy.shape}, {s_xy.shape}")
    s_x, s_xx = float(sum_tok), float(sum_tok2)
    if s_x == 0.0:
        nan = np.full(s_y.shape, np.nan)
        return Intervals(nan, nan.copy(), nan.copy(), DELTA, None, (DELTA,) * s_y.size)
    ratio = s_y / s_x
    estimate: FloatArray = per * ratio
    if n < 2:
        var = np.full(s_y.shape, np.nan)
    else:
        rss = np.maximum(s_yy - 2.0 * ratio * s_xy + ratio**2 * s_xx, 0.0)
        var = rss * n / ((n - 1) * s_x**2)  # = rss / ((n - 1) n xbar^2)
    low, high = _delta_bounds(estimate, var, per, confidence)
    _zero_counts(low, high, s_y, s_x, per, confidence)
    methods = np.where(s_y == 0, POISSON_ZERO, DELTA)
    return Intervals(estimate, low, high, DELTA, None, tuple(methods.tolist()))


def wilson_interval(
    successes: npt.ArrayLike, n: int, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval (Wilson 1927) for a share successes / n, e.g. prevalence of a term.

    Bounds: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n). Exactly 0 at 0 successes and 1 at n
    (set explicitly rather than left to rounding). n = 0 gives NaN. Shapes follow `successes`.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    k = np.asarray(successes, dtype=np.float64)
    if n < 0 or (k < 0).any() or (k > n).any():
        raise ValueError(f"need 0 <= successes <= n; got n = {n}")
    if n == 0:
        return np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    z = _z(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2.0 * n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    low: FloatArray = np.where(k == 0, 0.0, np.clip(center - half, 0.0, 1.0))
    high: FloatArray = np.where(k == n, 1.0, np.clip(center + half, 0.0, 1.0))
    return low, high


def ratio_of_rates(
    occ_a: npt.ArrayLike,
    tok_a: npt.ArrayLike,
    occ_b: npt.ArrayLike,
    tok_b: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    method: Method = "auto",
    resampled: tuple[FloatArray, FloatArray] | None = None,
) -> RatioResult:
    """Rate ratio rate_B / rate_A per term with a confidence interval and a two-sided p-value.

    Bootstrap (STUDENTIZED): each group is resampled on its own (independent streams from one seed); the pivot
    is t* = (log ratio* - log ratio) / se*, with se*^2 = Var*(log R_A) + Var*(log R_B) computed within the
    resamples (see rate_intervals), and the interval is the studentized one on the log scale, its upper bound
    widened to the same bound around the ratio with one more heavy user in B (log ratio+, standard error se+) and
    its lower bound to the one with one more in A (log ratio-, se-; see _with_heaviest). The p-value inverts the
    same intervals: with t0 = log(ratio) / se, p = 2 * min(share of t* <= max(t0, log ratio+ / se+), share of
    t* >= min(t0, log ratio- / se-)), at least 1 / (valid resamples + 1) since a finite bootstrap cannot show a
    smaller p, so p < 1 - confidence exactly when the interval excludes 1. A bound is infinite when more than (1 - confidence) / 2 of the
    resamples hold none of the baseline's occurrences (or none of B's: a lower bound of 0). Delta (DELTA):
    normal interval and Wald test on log(ratio) with Var = Var(R_A)/R_A^2 + Var(R_B)/R_B^2 (Cochran's ratio
    variance per group, the groups being independent). method="auto" bootstraps when n_A + n_B is at most
    BOOTSTRAP_MAX_TRANSCRIPTS, the same time budget as one group of that size.

    Zero counts, whatever the method:

    * A has no occurrences: the ratio is undefined, so estimate, low and high are NaN.
    * A has some, B none: estimate 0, low 0. Resampling would give [0, 0] and p = 1 / (B + 1) however
      little A has, and log(0) breaks the delta method, so the upper bound and p-value come from the exact
      conditional test for two Poisson rates (Przyborowski & Wilenski 1940): given N = count_A + count_B,
      count_B ~ Binomial(N, pi) with pi = tok_B rate_ratio / (tok_A + tok_B rate_ratio); the Clopper-Pearson
      upper bound for pi at 0 successes, 1 - (alpha/2)^(1/N), converts to the ratio bound.
    * Exactly one group has occurrences: p is that test's p-value, min(1, 2 P(all N fall in that group)), and
      the term's method is POISSON_CONDITIONAL. Like the zero-rate bound it treats occurrences as
      independent, so with clustered occurrences it is optimistic (too small); it is still far better than a
      resampling p-value of 1 / (B + 1).
    * Neither group has occurrences: p is NaN (nothing to test), and benjamini_hochberg skips it.

    resampled: the bootstrap's resampled_moments of A and of B (their sides RATIO_SIDES) with this `resamples` and
    `seed`, when they were drawn elsewhere (in worker processes, or once for a baseline compared with several).
    """
    _check(confidence, resamples)
    oa, ta = _group(occ_a, tok_a)
    ob, tb = _group(occ_b, tok_b)
    if oa.shape[1] != ob.shape[1]:
        raise ValueError(f"groups must have the same terms; got {oa.shape[1]} and {ob.shape[1]}")
    terms = oa.shape[1]
    chosen = _resolve(method, oa.shape[0] + ob.shape[0])
    if chosen == "delta":
        return ratio_of_sums(Sums.of(oa, ta), Sums.of(ob, tb), confidence=confidence)
    sum_ta, sum_tb = float(ta.sum()), float(tb.sum())
    count_a, count_b = oa.sum(axis=0), ob.sum(axis=0)
    if sum_ta == 0.0 or sum_tb == 0.0:
        nan = np.full(terms, np.nan)
        return RatioResult(
            nan, nan.copy(), nan.copy(), nan.copy(), STUDENTIZED, resamples, (STUDENTIZED,) * terms
        )

    rate_a, rate_b = count_a / sum_ta, count_b / sum_tb
    if resampled is None:
        side_a, side_b = RATIO_SIDES
        resampled = (
            resampled_moments(oa, ta, resamples, seed, side_a),
            resampled_moments(ob, tb, resamples, seed, side_b),
        )
    log_a, var_a = _resampled_log_rates(resampled[0], rate_a, oa.shape[0])
    log_b, var_b = _resampled_log_rates(resampled[1], rate_b, ob.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate: FloatArray = rate_b / rate_a
        log_ratio = np.log(rate_b) - np.log(rate_a)
        se2_a, se2_b = _delta_variance(oa, ta) / rate_a**2, _delta_variance(ob, tb) / rate_b**2
        se = np.sqrt(se2_a + se2_b)
        pivots = _pivots(log_b - log_a, var_a + var_b, log_ratio)
        # The upper bound allows B one more heavy user, the lower bound A (see _with_heaviest).
        heavy_a, heavy_b = _with_heaviest(oa, ta), _with_heaviest(ob, tb)
        upper = (heavy_b[0] - np.log(rate_a), np.sqrt(heavy_b[1] ** 2 + se2_a))
        lower = (np.log(rate_b) - heavy_a[0], np.sqrt(se2_b + heavy_a[1] ** 2))
        low, high = _studentized_bounds(pivots, log_ratio, se, upper, lower, confidence)
        # The upper bound is below 1 when both its candidates are, i.e. when the pivots' lower point exceeds both
        # standardized centres; likewise the lower bound above 1: the p-value tests those thresholds.
        t0 = log_ratio / se
        p_value = _bootstrap_p(pivots, np.fmax(t0, upper[0] / upper[1]), np.fmin(t0, lower[0] / lower[1]))
    # se = 0 (every transcript of both groups has the same rate): as the delta method's Wald test; an
    # undefined se (a group of one transcript) tests nothing.
    p_value = np.where(se == 0.0, np.where(log_ratio == 0.0, 1.0, 0.0), p_value)
    p_value = np.where(np.isnan(se), 1.0, p_value)
    # Terms a side uses in so few transcripts that many resamples hold none: the pivot is unbounded there, so
    # these terms keep the percentile interval and p-value of the resampled ratios.
    sparse = np.mean(np.isinf(log_a) | np.isinf(log_b), axis=0) > (1.0 - confidence) / 2.0
    if sparse.any():
        with np.errstate(invalid="ignore", over="ignore"):
            log_draws = log_b[:, sparse] - log_a[:, sparse]  # +-inf where one side drew none, NaN both
        low[sparse], high[sparse] = _order_quantiles(np.exp(log_draws), confidence)
        zero = np.zeros(log_draws.shape[1])
        p_value[sparse] = _bootstrap_p(log_draws, zero, zero)
    methods = tuple(np.where(sparse, PERCENTILE, STUDENTIZED).tolist())
    result = RatioResult(estimate, low, high, p_value, STUDENTIZED, resamples, methods)
    return _zero_count_ratios(result, count_a, count_b, sum_ta, sum_tb, confidence)


def _bootstrap_p(draws: FloatArray, at_most: FloatArray, at_least: FloatArray) -> FloatArray:
    """Two-sided bootstrap p-value per term: 2 * min(share of draws <= at_most, share >= at_least) over the
    non-NaN draws, at least 1 / (valid draws + 1) since a finite bootstrap cannot show a smaller p. The two
    thresholds are the observed value when both sides of the test centre on it."""
    valid = np.sum(~np.isnan(draws), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.sum(draws <= at_most, axis=0) / valid
        above = np.sum(draws >= at_least, axis=0) / valid
    p_value: FloatArray = np.clip(2.0 * np.minimum(below, above), 1.0 / (valid + 1.0), 1.0)
    return p_value


def _zero_count_ratios(
    result: RatioResult,
    count_a: FloatArray,
    count_b: FloatArray,
    sum_ta: float,
    sum_tb: float,
    confidence: float,
) -> RatioResult:
    """The zero-count rules of ratio_of_rates (see there), applied to an estimate of either method."""
    estimate, low, high, p_value = result.estimate, result.low, result.high, result.p_value
    # pi0 = share of tokens in B = P(an occurrence lands in B | equal rates).
    pi0 = sum_tb / (sum_ta + sum_tb)
    total = count_a + count_b
    only_a = (count_a > 0) & (count_b == 0)
    only_b = (count_a == 0) & (count_b > 0)
    alpha = 1.0 - confidence
    with np.errstate(divide="ignore"):
        pi_up = 1.0 - (alpha / 2.0) ** (1.0 / total)
        ratio_up = pi_up / (1.0 - pi_up) * sum_ta / sum_tb
    estimate = np.where(only_a, 0.0, estimate)
    low = np.where(only_a, 0.0, low)
    high = np.where(only_a, ratio_up, high)
    p_value = np.where(only_a, np.minimum(1.0, 2.0 * (1.0 - pi0) ** total), p_value)
    p_value = np.where(only_b, np.minimum(1.0, 2.0 * pi0**total), p_value)
    undefined = count_a == 0
    estimate = np.where(undefined, np.nan, estimate)
    low = np.where(undefined, np.nan, low)
    high = np.where(undefined, np.nan, high)
    p_value = np.where(total == 0, np.nan, p_value)
    methods = np.where(only_a | only_b, POISSON_CONDITIONAL, [result.method_of(j) for j in range(total.size)])
    return RatioResult(estimate, low, high, p_value, result.method, result.resamples, tuple(methods.tolist()))


@dataclass(frozen=True)
class Sums:
    """Sums over one group's n transcripts, for the delta method without the transcripts: occurrences y (per
    term), tokens x, y^2 (per term), x^2 and x y (per term)."""

    n: int
    y: FloatArray
    x: float
    yy: FloatArray
    xx: float
    xy: FloatArray

    @classmethod
    def of(cls, occ: FloatArray, tok: FloatArray) -> Sums:
        """The sums of validated arrays (see _group)."""
        return cls(
            tok.shape[0],
            occ.sum(axis=0),
            float(tok.sum()),
            (occ * occ).sum(axis=0),
            float(tok @ tok),
            tok @ occ,
        )

    def rate_variance(self) -> FloatArray:
        """Cochran's linearized variance of sum(y) / sum(x), as _delta_variance computes it from the
        transcripts: the residual sum of squares expands to yy - 2 R xy + R^2 xx (see delta_intervals)."""
        if self.n < 2:
            return np.full(self.y.shape, np.nan)
        ratio = self.y / self.x
        rss = np.maximum(self.yy - 2.0 * ratio * self.xy + ratio**2 * self.xx, 0.0)
        var: FloatArray = rss * self.n / ((self.n - 1) * self.x**2)
        return var


def ratio_of_sums(a: Sums, b: Sums, *, confidence: float = 0.95) -> RatioResult:
    """ratio_of_rates with method="delta" (DELTA), from each group's sums: for groups too large to keep."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    if a.x == 0.0 or b.x == 0.0:
        nan = np.full(a.y.shape, np.nan)
        return RatioResult(nan, nan.copy(), nan.copy(), nan.copy(), DELTA, None, (DELTA,) * a.y.size)
    rate_a, rate_b = a.y / a.x, b.y / b.x
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate: FloatArray = rate_b / rate_a
        log_ratio = np.log(estimate)
        se = np.sqrt(a.rate_variance() / rate_a**2 + b.rate_variance() / rate_b**2)
        half = _z(confidence) * se
        low, high = np.exp(log_ratio - half), np.exp(log_ratio + half)
        p_value = _two_sided_normal_p(log_ratio / se)
        # se = 0 (every transcript has the same rate): the Wald statistic is 0/0 or +-inf.
        p_value = np.where(se == 0.0, np.where(log_ratio == 0.0, 1.0, 0.0), p_value)
    result = RatioResult(estimate, low, high, p_value, DELTA, None)
    return _zero_count_ratios(result, a.y, b.y, a.x, b.x, confidence)


def benjamini_hochberg(p_values: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg (1995) adjusted p-values (false discovery rate), same shape as the input.

    adjusted p_(i) = min over j >= i of m p_(j) / j, capped at 1, for the sorted p-values. NaN entries
    (e.g. untestable rows) stay NaN and do not count towards m.
    """
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.ravel()
    finite = ~np.isnan(flat)
    if ((flat[finite] < 0) | (flat[finite] > 1)).any():
        raise ValueError("p-values must be in [0, 1]")
    out = np.full(flat.shape, np.nan)
    present = flat[finite]
    m = present.size
    if m:
        order = np.argsort(present, kind="stable")
        scaled = present[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        values = np.empty(m)
        values[order] = adjusted
        out[finite] = values
    result: FloatArray = out.reshape(p.shape)
    return result
