"""What each intrinsic measurement costs inside ingest, measured in one process on one core, in the same run.

    .venv/bin/python bench/bench_measure.py --sample-mb 50        # what `make bench` runs

1. The first --sample-mb of the synthetic corpus of bench/corpus.py (about a third of its transcripts mix in
   non-ASCII text: accents, CJK, Cyrillic, emoji) is ingested twice, in-process with one job: with every
   measurement, and with --defer-measure (none).
2. The stored reasoning and answer texts are measured again, kernel by kernel (every registered one, by its
   name), in the batches ingest uses: o200k token counts (tokens), language mixing (scripts), repetition, the
   counts of the built-in lexicons' terms (lexicon_counts).
3. Each kernel's share: its seconds / (ingest seconds - its seconds), i.e. how much it adds to an ingest without
   it. Target (issue "language mixing"): scripts add at most 15%.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_ingest import MB, machine_info
from corpus import bench_parser, ensure_corpus

SCRIPTS_SHARE_TARGET = 0.15
BATCH_ROWS = 2000  # texts per kernel call, about what one 8 MB ingest block holds


def sample(corpus: Path, size_mb: float, out: Path) -> int:
    """The corpus's first whole lines up to size_mb, written to `out`; returns the bytes written."""
    limit = int(size_mb * MB)
    written = 0
    with open(corpus, "rb") as src, open(out, "wb") as dst:
        for line in src:
            if written >= limit:
                break
            dst.write(line)
            written += len(line)
    return written


def timed_ingest(path: Path, workdir: Path, measure: bool) -> float:
    from cotlens.ingest import IngestOptions, ingest
    from cotlens.store import Store

    store = Path(tempfile.mkdtemp(prefix="measure-store-", dir=workdir))
    try:
        start = time.perf_counter()
        ingest([str(path)], Store(store), IngestOptions(jobs=1, measure=measure))
        return time.perf_counter() - start
    finally:
        shutil.rmtree(store, ignore_errors=True)


def stored_texts(path: Path, workdir: Path) -> list[str | None]:
    from cotlens.ingest import IngestOptions, ingest
    from cotlens.store import Store

    store = Path(tempfile.mkdtemp(prefix="measure-texts-", dir=workdir))
    try:
        ingest([str(path)], Store(store), IngestOptions(jobs=1, measure=False))
        table = Store(store).read(columns=["reasoning", "answer"])
        return [*table["reasoning"].to_pylist(), *table["answer"].to_pylist()]
    finally:
        shutil.rmtree(store, ignore_errors=True)


def timed_kernel(
    kernel: Callable[[Sequence[str | None]], Any],
    texts: list[str | None],
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    start = clock()
    for i in range(0, len(texts), BATCH_ROWS):
        kernel(texts[i : i + BATCH_ROWS])
    return clock() - start


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--sample-mb", type=float, default=50)
    args = parser.parse_args()

    from cotlens.measure import registered_kernels
    from cotlens.measure.scripts import script_columns

    corpus = ensure_corpus(args.workdir, args.size_mb, args.seed)
    path = args.workdir / f"measure-sample-{args.sample_mb:g}mb.jsonl"
    size = sample(corpus.path, args.sample_mb, path)
    texts = stored_texts(path, args.workdir)
    text_mb = sum(len(t.encode()) for t in texts if t is not None) / MB
    script_columns(["warm up the class table: 这个"])  # built once per process, as in a worker
    full = timed_ingest(path, args.workdir, measure=True)
    deferred = timed_ingest(path, args.workdir, measure=False)
    kernels = {kernel.name: timed_kernel(kernel.measure, texts) for kernel in registered_kernels()}

    info = machine_info()
    print(
        f"machine: nproc {info['nproc']}, {info['cpu']}, python {info['python']}, cotlens {info['cotlens']}"
    )
    print(
        f"sample:  {path} ({size / MB:.1f} MB JSONL, {text_mb:.1f} MB of reasoning and answer text), one core\n"
    )
    print(f"{'name':<30} {'seconds':>8} {'MB/s':>8} {'adds to ingest':>15}")
    print(f"{'ingest, every measurement':<30} {full:>8.2f} {size / MB / full:>8.1f}")
    print(f"{'ingest --defer-measure':<30} {deferred:>8.2f} {size / MB / deferred:>8.1f}")
    for name, seconds in kernels.items():
        print(f"{name:<30} {seconds:>8.2f} {text_mb / seconds:>8.1f} {seconds / (full - seconds):>14.0%}")
    share = kernels["scripts"] / (full - kernels["scripts"])
    ok = share <= SCRIPTS_SHARE_TARGET
    print("\ntargets:")
    print(
        f"  {'PASS' if ok else 'FAIL'}  scripts add <= {SCRIPTS_SHARE_TARGET:.0%} to ingest   ({share:.1%})"
    )
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
