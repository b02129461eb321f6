"""The bootstrap's resampling: the compiled drawing of weights (cotlens/_resample.c) against the numpy path, one
process, in the same run.

    .venv/bin/python bench/bench_resample.py

For groups of n transcripts (the 100 MB bench corpus's models hold 2,300-4,800; BOOTSTRAP_MAX_TRANSCRIPTS is the
most a group bootstraps), with --terms terms and the default 1999 resamples, alternating the two kernels, best of
--runs each: `_draw_weights` alone, in the chunks and weight type `_resampled_sums` uses (float32 for whole counts),
and `resampled_moments`, what `rate_intervals` resamples for each group (draws, the fixed-point columns, digits and
matrix products). Figures are CPU seconds of this process (time.process_time; BLAS on one thread); the first line
says which kernel this install uses. No corpus: the groups are synthetic counts.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: CPU seconds of one thread's products

import numpy as np
import numpy.typing as npt

from cotlens import stats


def draw_all(n: int, resamples: int, seed: int) -> None:
    """_draw_weights over every chunk of one block of resamples, as _resampled_sums calls it (float32 weights)."""
    chunk = min(resamples, max(1, stats._CHUNK_BYTES // (4 * n)))
    weights = np.empty((chunk, n), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        stats._draw_weights(weights[:rows], max(1, stats._COUNT_BLOCK // n), rng)


def group(n: int, terms: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Over-dispersed counts of `terms` terms in n transcripts of lognormal lengths."""
    rng = np.random.default_rng(n)
    tokens = np.ceil(rng.lognormal(7.6, 1.0, size=n))
    rates = rng.gamma(0.5, 0.004, size=(n, terms))
    return rng.poisson(rates * tokens[:, None]).astype(np.float64), tokens


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[2_350, 4_700, stats.BOOTSTRAP_MAX_TRANSCRIPTS]
    )
    parser.add_argument("--terms", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    compiled = stats._compiled_draw_counts
    kernels = {"compiled": compiled, "numpy": None} if compiled is not None else {"numpy": None}
    resamples = stats.DEFAULT_RESAMPLES
    best: dict[tuple[int, str, str], float] = {}
    try:
        for n in args.sizes:
            occ, tok = group(n, args.terms)
            work = {
                "_draw_weights": functools.partial(draw_all, n, resamples, 0),
                "resampled_moments": functools.partial(stats.resampled_moments, occ, tok, resamples, 0),
            }
            for _ in range(args.runs):
                for kernel, entry in kernels.items():
                    stats._compiled_draw_counts = entry
                    for name, call in work.items():
                        start = time.process_time()
                        call()
                        seconds = time.process_time() - start
                        best[n, kernel, name] = min(best.get((n, kernel, name), seconds), seconds)
    finally:
        stats._compiled_draw_counts = compiled

    print(f"resampling kernel in use: {stats.draws_kernel()}")
    print(f"{resamples} resamples, {args.terms} terms, CPU seconds of this process, best of {args.runs}\n")
    print(f"{'n':>7} {'what':<18} {'kernel':<9} {'CPU s':>7} {'ns per draw':>12} {'numpy / compiled':>17}")
    for (n, kernel, name), seconds in best.items():
        per_draw = seconds / (resamples * n) * 1e9
        ratio = best[n, "numpy", name] / seconds if kernel == "compiled" else float("nan")
        shown = f"{ratio:.2f} x" if kernel == "compiled" else ""
        print(f"{n:>7} {name:<18} {kernel:<9} {seconds:>7.4f} {per_draw:>12.2f} {shown:>17}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
