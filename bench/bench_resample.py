"""The bootstrap's resampling: the compiled drawing of weights (cotlens/_resample.c) against the numpy path, one
process, in the same run.

    .venv/bin/python bench/bench_resample.py

For groups of n transcripts (the 100 MB bench corpus's models hold 2,300-4,800; BOOTSTRAP_MAX_TRANSCRIPTS is the
most a group bootstraps), with --terms terms and the default 1999 resamples, alternating the two kernels, best of
--runs each: `_draw_weights` alone, in the chunks and weight type `_resampled_sums` uses (float32 for whole counts),
and `resampled_moments`, what `rate_intervals` resamples for each group (draws, the fixed-point columns, digits and
matrix products). Figures are CPU seconds of this process (time.process_time; BLAS on one thread); the first line
says which kernel this install uses. No corpus: the groups are synthetic counts.

    .venv/bin/python bench/bench_resample.py --store S

With a store (e.g. `cotlens ingest corpus-v1-100mb-seed1.jsonl --store S`, the corpus of bench_rates.py
--size-mb 100), the same alternation over whole analyses in this process, without worker processes: `rates` with
five terms (its bootstrap phase, `group_intervals`, and the whole `compute_rates`), and `compare` of the store's three
largest models with three terms (its table, `MetricTable.build`, every interval and ratio).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def each_kernel(work: dict[str, Callable[[], object]], runs: int) -> Iterator[tuple[str, str, float]]:
    """(kernel, name, CPU seconds) of each call in `work`, with each kernel in turn, `runs` rounds."""
    compiled = stats._compiled_draw_counts
    kernels = {"compiled": compiled, "numpy": None} if compiled is not None else {"numpy": None}
    try:
        for _ in range(runs):
            for kernel, entry in kernels.items():
                stats._compiled_draw_counts = entry
                for name, call in work.items():
                    start = time.process_time()
                    call()
                    yield kernel, name, time.process_time() - start
    finally:
        stats._compiled_draw_counts = compiled


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
    parser.add_argument("--store", type=Path, help="time the bootstrap of rates and compare over this store")
    args = parser.parse_args()
    if args.store is not None:
        return analyses(args.store, args.runs)

    resamples = stats.DEFAULT_RESAMPLES
    best: dict[tuple[int, str, str], float] = {}
    for n in args.sizes:
        occ, tok = group(n, args.terms)
        work = {
            "_draw_weights": functools.partial(draw_all, n, resamples, 0),
            "resampled_moments": functools.partial(stats.resampled_moments, occ, tok, resamples, 0),
        }
        for kernel, name, seconds in each_kernel(work, args.runs):
            best[n, kernel, name] = min(best.get((n, kernel, name), seconds), seconds)

    print(f"resampling kernel in use: {stats.draws_kernel()}")
    print(f"{resamples} resamples, {args.terms} terms, CPU seconds of this process, best of {args.runs}\n")
    print(f"{'n':>7} {'what':<18} {'kernel':<9} {'CPU s':>7} {'ns per draw':>12} {'numpy / compiled':>17}")
    for (n, kernel, name), seconds in best.items():
        per_draw = seconds / (resamples * n) * 1e9
        ratio = best[n, "numpy", name] / seconds if kernel == "compiled" else float("nan")
        shown = f"{ratio:.2f} x" if kernel == "compiled" else ""
        print(f"{n:>7} {name:<18} {kernel:<9} {seconds:>7.4f} {per_draw:>12.2f} {shown:>17}")
    return 0


def analyses(path: Path, runs: int) -> int:
    """The bootstrap's share of rates and compare over a store, each kernel in turn, in this process."""
    from unittest import mock

    import cotlens.analyses.compare_table as compare_table
    import cotlens.analyses.rates as rates
    from cotlens import scan
    from cotlens.analyses.compare import CompareOptions, compare
    from cotlens.lexicon import select_lexicons
    from cotlens.store import Store

    store = Store(path)
    largest = store.dataset().to_table(columns=["model"])["model"].value_counts().to_pylist()
    models = [m["values"] for m in sorted(largest, key=lambda m: -m["counts"])[:3]]
    five = select_lexicons([], ["wait", "let me", "hmm", "actually", "double-check"])
    three = select_lexicons([], ["wait", "hmm", "actually"])
    phase: list[float] = []

    def timing(function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                phase.append(time.process_time() - start)

        return timed

    work = {
        "rates": lambda: rates.compute_rates(store, five, scan.Selection(), rates.RateOptions()),
        "compare": lambda: compare(
            store, models, three, scan.Selection(models=tuple(models)), CompareOptions(all_terms=True)
        ),
    }
    phases = {"rates": "group_intervals", "compare": "MetricTable.build"}
    best: dict[tuple[str, str, str], float] = {}
    build = compare_table.MetricTable.build.__func__  # type: ignore[attr-defined]
    with (
        mock.patch.object(scan, "pool_jobs", lambda repays: 1),  # no worker processes: this process's CPU
        mock.patch.object(rates, "group_intervals", timing(rates.group_intervals)),
        mock.patch.object(compare_table.MetricTable, "build", classmethod(timing(build))),
    ):
        for kernel, name, whole in each_kernel(work, runs):
            for what, seconds in ((phases[name], phase[-1]), ("whole", whole)):
                best[name, what, kernel] = min(best.get((name, what, kernel), seconds), seconds)
    print(f"resampling kernel in use: {stats.draws_kernel()}")
    print(f"store {path}; compare: {', '.join(models)}; CPU seconds of this process, best of {runs}\n")
    print(f"{'analysis':<9} {'what':<18} {'kernel':<9} {'CPU s':>7}")
    for (name, what, kernel), seconds in sorted(best.items()):
        print(f"{name:<9} {what:<18} {kernel:<9} {seconds:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
