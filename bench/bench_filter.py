"""`cotlens filter` over a stored corpus, against reading the same store with pyarrow, in the same run.

    .venv/bin/python bench/bench_filter.py --size-mb 300        # what `make bench` runs

1. The synthetic corpus of bench/corpus.py is ingested into a store (not timed).
2. Baseline: every column of the store read in batches with pyarrow.dataset (the store's read speed).
3. Baseline: the same, writing every batch read to one zstd-compressed Parquet file (pyarrow read + write).
4. `cotlens filter` with conditions on stored measurements: decisions only (`--dry-run`, which reads the
   measurement columns), to one Parquet file, to a directory of Parquet files (`--out DIR/`, written on every
   core) and to JSON Lines; and with a `--term` rate (counted from the text); each in a subprocess, --runs times:
   the median wall time, peak memory of the process tree.
Targets: stored-measurement filtering at >= 1 x the store's read speed (issue "filter"); filter to Parquet at
>= 1 x pyarrow read + write (issue 17); memory bounded.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench_analyses import ingest_store
from bench_ingest import MB, machine_info, measure_median, warm_page_cache
from corpus import bench_parser, ensure_corpus

READ_CODE = """
import sys, time
import pyarrow.dataset as ds
import pyarrow.parquet as pq
start = time.perf_counter()
dataset = ds.dataset(sys.argv[1], format="parquet")
writer = pq.ParquetWriter(sys.argv[2], dataset.schema, compression="zstd") if len(sys.argv) > 2 else None
rows = 0
for batch in dataset.to_batches(batch_size=4096):
    rows += batch.num_rows
    if writer is not None:
        writer.write_batch(batch)
if writer is not None:
    writer.close()
print(time.perf_counter() - start, rows)
"""
CONDITIONS = [
    "--where",
    "not loop",
    "--where",
    "nonlatin_token_share < 0.01",
    "--where",
    "rate(o3-dialect) < 1",
]


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each command; the median is reported")
    args = parser.parse_args()
    corpus = ensure_corpus(args.workdir, args.size_mb, args.seed)
    warm_page_cache(corpus.path)
    store = ingest_store(corpus.path, args.workdir)
    out = Path(tempfile.mkdtemp(prefix="filter-out-", dir=args.workdir))
    try:
        size = sum(p.stat().st_size for p in (store / "transcripts").glob("*/*.parquet"))
        base = measure_median([sys.executable, "-c", READ_CODE, str(store / "transcripts")], args.runs)
        copy = measure_median(
            [sys.executable, "-c", READ_CODE, str(store / "transcripts"), str(out / "copy.parquet")],
            args.runs,
        )
        cli = [sys.executable, "-m", "cotlens", "filter", "--store", str(store), "--force"]
        commands = {
            "filter --dry-run (decisions)": [*cli, "--dry-run", *CONDITIONS],
            "filter -> parquet": [*cli, "--out", str(out / "a.parquet"), *CONDITIONS],
            "filter -> parquet DIR/": [*cli, "--out", f"{out / 'parts'}/", *CONDITIONS],
            "filter -> jsonl": [*cli, "--out", str(out / "a.jsonl"), *CONDITIONS],
            "filter --term (from text)": [
                *cli,
                "--dry-run",
                "--term",
                "marinade",
                "--where",
                "rate(terms:marinade) < 1",
            ],
        }
        runs = {name: measure_median(argv, args.runs) for name, argv in commands.items()}
    finally:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    # Wall times of whole processes on both sides: interpreter start-up and imports count for everyone.
    read_seconds, copy_seconds = base.seconds, copy.seconds
    info = machine_info()
    print(
        f"machine: nproc {info['nproc']}, {info['cpu']}, python {info['python']}, cotlens {info['cotlens']}"
    )
    print(f"store:   {size / MB:.0f} MB of Parquet, {base.stdout.split()[1]} transcripts\n")
    print(f"{'name':<28} {'seconds':>8} {'x read':>8} {'x copy':>8} {'tree MB':>8}")
    print(f"{'pyarrow read (baseline)':<28} {read_seconds:>8.2f} {1:>8.2f} {'':>8} {base.tree_mb:>8.0f}")
    print(
        f"{'pyarrow read + write':<28} {copy_seconds:>8.2f} {read_seconds / copy_seconds:>8.2f} {1:>8.2f} {copy.tree_mb:>8.0f}"
    )
    for name, run in runs.items():
        print(
            f"{name:<28} {run.seconds:>8.2f} {read_seconds / run.seconds:>8.2f} "
            f"{copy_seconds / run.seconds:>8.2f} {run.tree_mb:>8.0f}"
        )
    parquet = read_seconds / runs["filter -> parquet"].seconds
    copies = {
        name: copy_seconds / runs[name].seconds for name in ("filter -> parquet", "filter -> parquet DIR/")
    }
    checks = [
        (parquet >= 1.0, f"filter >= 1 x read speed                ({parquet:.2f} x, to one Parquet file)"),
        *(
            (ratio >= 1.0, f"{name} >= 1 x pyarrow read + write{' ' * (22 - len(name))} ({ratio:.2f} x)")
            for name, ratio in copies.items()
        ),
    ]
    print(
        "\ntargets (x read: against reading alone; x copy: against reading and writing the store with pyarrow):"
    )
    for ok, text in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return 1 if args.check and not all(ok for ok, _ in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
