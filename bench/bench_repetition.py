"""The repetition kernel: the compiled Gopher kernel against the numpy path, one thread, in the same run.

    .venv/bin/python bench/bench_repetition.py --size-mb 50

The reasoning and answer texts of the first --sample-mb of the synthetic corpus of bench/corpus.py (as ingest
stores them) are measured in the batches ingest uses, alternating the two kernels, best of --runs each: the 13
Gopher columns alone (`gopher`), and every repetition column, the loop flag included (`measure_repetition`, what
ingest calls). Figures are CPU seconds of this thread (time.thread_time), so other processes' load moves them
less than wall time; MB are of UTF-8 text. The first line says which kernel this install uses.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench_ingest import MB, machine_info
from bench_measure import sample, stored_texts, timed_kernel
from corpus import bench_parser, ensure_corpus


def main() -> int:
    parser = bench_parser(__doc__)
    parser.set_defaults(size_mb=50)
    parser.add_argument("--sample-mb", type=float, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import cotlens.measure.repetition as repetition

    corpus = ensure_corpus(args.workdir, args.size_mb, args.seed)
    path: Path = args.workdir / f"measure-sample-{args.sample_mb:g}mb.jsonl"
    size = sample(corpus.path, args.sample_mb, path)
    texts = stored_texts(path, args.workdir)
    text_mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts if t is not None) / MB

    compiled = repetition._compiled_gopher
    kernels = {"compiled": compiled, "numpy": None} if compiled is not None else {"numpy": None}
    functions = {"gopher": repetition._gopher_columns, "measure_repetition": repetition.measure_repetition}
    best: dict[tuple[str, str], float] = {}
    try:
        for _ in range(args.runs):
            for kernel, entry in kernels.items():
                repetition._compiled_gopher = entry
                for name, function in functions.items():
                    seconds = timed_kernel(function, texts, time.thread_time)
                    best[kernel, name] = min(best.get((kernel, name), seconds), seconds)
    finally:
        repetition._compiled_gopher = compiled

    info = machine_info()
    print(f"repetition kernel in use: {repetition.gopher_kernel()}")
    print(
        f"machine: nproc {info['nproc']}, {info['cpu']}, python {info['python']}, cotlens {info['cotlens']}"
    )
    print(
        f"sample:  {path} ({size / MB:.1f} MB JSONL, {text_mb:.1f} MB of text), one thread, best of {args.runs}\n"
    )
    print(f"{'kernel':<10} {'what':<20} {'CPU s':>7} {'MB/s':>7} {'CPU s per 50 MB':>16}")
    for (kernel, name), seconds in best.items():
        per_50 = seconds * 50 / text_mb
        print(f"{kernel:<10} {name:<20} {seconds:>7.3f} {text_mb / seconds:>7.1f} {per_50:>16.3f}")
    if compiled is not None:
        for name in functions:
            speedup = best["numpy", name] / best["compiled", name]
            print(f"\n{name}: compiled {speedup:.2f}x the numpy path", end="")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
