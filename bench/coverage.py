"""Coverage of cotlens' 95% rate intervals on synthetic groups whose true rate is known exactly.

    .venv/bin/python bench/coverage.py                 # the full table (what `make coverage` runs, ~20 min)
    .venv/bin/python bench/coverage.py --quick         # fewer replicates and sizes (~1 min)
    .venv/bin/python bench/coverage.py --process gamma0.5 --lengths lognormal --sizes 200 --groups 800 --terms 1

Each replicate is one group of n transcripts: lengths x_i (o200k tokens) drawn from a lognormal (median 2000,
sigma 1) or a Pareto (shape 2.5, minimum 1000) distribution, and per-transcript occurrences of a term
y_i ~ Poisson(RATE * G_i * x_i) with a propensity G_i of mean 1, independent of the length, so the population
rate E[y] / E[x] is RATE exactly (2 per 1000 tokens):

* poisson: G = 1 (no clustering);
* gamma0.5 / gamma2: G ~ Gamma(shape, 1 / shape): over-dispersed (variance 2 and 0.5), occurrences cluster in
  a minority of heavy users;
* conc2: G = 50 for 2% of the transcripts and 0 for the others (a term only a few transcripts use).

Every group holds --terms independent terms drawn on the same lengths and resampled together, as in real use.
For each group the script calls cotlens.stats directly: rate_intervals (the method `cotlens rates` uses, chosen
by group size exactly as there) and, from the very same resamples, the two methods cotlens used before (bootstrap
groups only): the studentized bootstrap of the log rate without the added heavy user (`studentized-log`) and the
percentile bootstrap. A miss "below" is an interval entirely below the true rate (its upper bound too
low), "above" entirely above it. Shares are printed with 95% Wilson intervals. Vectorized numpy throughout; the
CLI computes the same intervals (tests/test_coverage.py checks that through `cotlens rates`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cotlens import stats

RATE = 0.002  # occurrences per token: 2 per 1000
PROCESSES = ("poisson", "gamma0.5", "gamma2", "conc2")
LENGTHS = ("lognormal", "pareto")
CONCENTRATED_SHARE = 0.02

# (process, lengths) x sizes of the full table, and the groups drawn per size (each with --terms terms).
FULL_CASES = [
    ("poisson", "lognormal"),
    ("gamma0.5", "lognormal"),
    ("gamma2", "lognormal"),
    ("conc2", "lognormal"),
    ("gamma0.5", "pareto"),
]
FULL_SIZES = {50: 400, 200: 400, 500: 400, 1000: 160, 5000: 40, 20000: 16, 60000: 200}
QUICK_SIZES = {50: 100, 200: 100, 1000: 40}


def draw_group(
    rng: np.random.Generator, n: int, terms: int, process: str, lengths: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One group: occurrences (n, terms) and lengths (n,) of the given process (see the module docstring)."""
    if lengths == "lognormal":
        tokens = np.ceil(rng.lognormal(math.log(2000), 1.0, size=n))
    elif lengths == "pareto":
        tokens = np.ceil((rng.pareto(2.5, size=n) + 1.0) * 1000.0)
    else:
        raise ValueError(f"lengths: {lengths}")
    if process == "poisson":
        propensity = np.ones((n, terms))
    elif process.startswith("gamma"):
        shape = float(process[len("gamma") :])
        propensity = rng.gamma(shape, 1.0 / shape, size=(n, terms))
    elif process == "conc2":
        propensity = (rng.random((n, terms)) < CONCENTRATED_SHARE) / CONCENTRATED_SHARE
    else:
        raise ValueError(f"process: {process}")
    # Expected occurrences use the whole-token length, so E[y] / E[x] = RATE exactly.
    return rng.poisson(RATE * propensity * tokens[:, np.newaxis]), tokens


def percentile_bounds(moments: npt.NDArray[np.float64], confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The percentile bootstrap cotlens used first, from the same resampled sums (per token)."""
    terms = (moments.shape[1] - 2) // 3
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = moments[:, :terms] / moments[:, terms : terms + 1]
    return stats._order_quantiles(draws, confidence)


def studentized_log_bounds(
    occ: npt.NDArray[np.int64],
    tok: npt.NDArray[np.float64],
    moments: npt.NDArray[np.float64],
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The studentized bootstrap of the log rate cotlens used next, from the same resampled sums (per token): the
    interval of rate_intervals without the added heavy user (its upper bound around the sample's own estimate)."""
    occ_f = occ.astype(np.float64)
    rate = occ_f.sum(axis=0) / tok.sum()
    log_draws, var_draws = stats._resampled_log_rates(moments, rate, tok.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rate, se = np.log(rate), np.sqrt(stats._delta_variance(occ_f, tok)) / rate
    pivots = stats._pivots(log_draws, var_draws, log_rate)
    return stats._studentized_bounds(pivots, log_rate, se, (log_rate, se), None, confidence)


@dataclass
class Tally:
    replicates: int = 0
    below: int = 0
    above: int = 0
    methods: dict[str, int] = field(default_factory=dict)

    def add(self, low: np.ndarray, high: np.ndarray, methods: tuple[str, ...] = ()) -> None:
        self.replicates += low.size
        self.below += int(np.sum(high < RATE))
        self.above += int(np.sum(low > RATE))
        for m in methods:
            self.methods[m] = self.methods.get(m, 0) + 1


def wilson(k: int, n: int) -> tuple[float, float]:
    low, high = stats.wilson_interval(k, n)
    return float(low), float(high)


def run_case(
    process: str, lengths: str, n: int, groups: int, terms: int, resamples: int, seed: int
) -> dict[str, Tally]:
    rng = np.random.default_rng([seed, n, PROCESSES.index(process), LENGTHS.index(lengths)])
    bootstrap = n <= stats.BOOTSTRAP_MAX_TRANSCRIPTS
    names = ("cotlens", "before: studentized-log", "before: percentile") if bootstrap else ("cotlens",)
    tallies = {name: Tally() for name in names}
    for g in range(groups):
        occ, tok = draw_group(rng, n, terms, process, lengths)
        moments = stats.resampled_moments(occ, tok, resamples, g) if bootstrap else None
        iv = stats.rate_intervals(occ, tok, per=1.0, resamples=resamples, seed=g, resampled=moments)
        tallies["cotlens"].add(iv.low, iv.high, iv.term_methods)
        if moments is not None:
            zero = occ.sum(axis=0) == 0  # the Poisson zero rule, as before
            for name, (low, high) in (
                ("before: studentized-log", studentized_log_bounds(occ, tok, moments, 0.95)),
                ("before: percentile", percentile_bounds(moments, 0.95)),
            ):
                low[zero], high[zero] = iv.low[zero], iv.high[zero]
                tallies[name].add(low, high)
    return tallies


def row(process: str, lengths: str, n: int, name: str, tally: Tally) -> str:
    r = tally.replicates
    covered = r - tally.below - tally.above
    cov_lo, cov_hi = wilson(covered, r)
    below_lo, below_hi = wilson(tally.below, r)
    above_lo, above_hi = wilson(tally.above, r)
    methods = ", ".join(f"{m} {c / r:.0%}" for m, c in sorted(tally.methods.items(), key=lambda kv: -kv[1]))
    return (
        f"| {process} | {lengths} | {n:,} | {name} | {r} | {covered / r:.1%} [{cov_lo:.1%}, {cov_hi:.1%}] "
        f"| {tally.below / r:.1%} [{below_lo:.1%}, {below_hi:.1%}] "
        f"| {tally.above / r:.1%} [{above_lo:.1%}, {above_hi:.1%}] | {methods or name.removeprefix('before: ')} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer sizes and replicates")
    parser.add_argument("--process", choices=PROCESSES, action="append", help="only these processes")
    parser.add_argument("--lengths", choices=LENGTHS, action="append", help="only these length laws")
    parser.add_argument("--sizes", type=int, nargs="+", help="group sizes (transcripts)")
    parser.add_argument("--groups", type=int, help="groups per size (default: per size, see FULL_SIZES)")
    parser.add_argument("--terms", type=int, default=5, help="independent terms per group (default 5)")
    parser.add_argument("--resamples", type=int, default=stats.DEFAULT_RESAMPLES)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.sizes:
        sizes = {n: sizes.get(n, 100) for n in args.sizes}
    cases = FULL_CASES
    if args.process or args.lengths:
        cases = [(p, x) for p in args.process or PROCESSES for x in args.lengths or ["lognormal"]]
    print(
        "| process | lengths | transcripts | method | replicates | coverage [95% CI] | below [95% CI] "
        "| above [95% CI] | methods used |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for process, lengths in cases:
        for n, groups in sizes.items():
            start = time.perf_counter()
            tallies = run_case(
                process, lengths, n, args.groups or groups, args.terms, args.resamples, args.seed
            )
            for name, tally in tallies.items():
                print(row(process, lengths, n, name, tally))
            print(f"  ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
