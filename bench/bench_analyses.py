"""`langmix` and `loops` over a store of a million transcripts: they read stored measurements, never text.

    .venv/bin/python bench/bench_analyses.py --size-mb 300 --transcripts 1000000   # what `make bench` runs

1. The synthetic corpus of bench/corpus.py is ingested into a store (not timed).
2. A second store holds the first one's part files again and again (symbolic links, one run directory per copy)
   until it has --transcripts rows: a store of that size without ingesting it.
3. Each command runs in a subprocess with `--format json`, intervals included: wall time and peak memory of the
   process tree (`rates` with the built-in lexicons reads their stored counts: reported, no target). Baseline,
   measured in the same run: `cotlens models` over the same store (one pass over a few metadata columns).
4. `compare` of the corpus's two largest models over a store linked again until each has --per-model
   transcripts, with the built-in lexicons (their counts are stored at ingest), intervals included.
Targets: langmix and loops under 2 s for a million transcripts (issue "language mixing"); compare under 3 s for
two models of 500,000 transcripts each (issue "compare").
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_ingest import Run, machine_info, measure, warm_page_cache
from corpus import bench_parser, ensure_corpus

SECONDS_TARGET = 2.0
COMPARE_SECONDS_TARGET = 3.0


def ingest_store(corpus: Path, workdir: Path) -> Path:
    """A new store of the corpus in workdir, flushed to disk: the kernel writing its pages back during a timed
    run would slow it."""
    store = Path(tempfile.mkdtemp(prefix="store-", dir=workdir))
    subprocess.run(
        [sys.executable, "-m", "cotlens", "ingest", str(corpus), "--store", str(store)],
        check=True,
        capture_output=True,
    )
    os.sync()
    return store


def replicated(store: Path, transcripts: int, workdir: Path) -> tuple[Path, int]:
    """A store of at least `transcripts` rows made of links to `store`'s parts; returns it and its row count."""
    import pyarrow.parquet as pq

    parts = sorted((store / "transcripts").glob("*/*.parquet"))
    rows = sum(pq.read_metadata(p).num_rows for p in parts)
    copies = math.ceil(transcripts / rows)
    big = Path(tempfile.mkdtemp(prefix="analyses-big-", dir=workdir))
    for copy in range(copies):
        run = big / "transcripts" / f"copy-{copy:04d}"
        run.mkdir(parents=True)
        for part in parts:
            (run / part.name).symlink_to(part.resolve())
    return big, rows * copies


def model_sizes(store: Path) -> list[tuple[str, int]]:
    """The store's models by transcripts, largest first."""
    import pyarrow.dataset as ds

    models = ds.dataset(store / "transcripts", format="parquet").to_table(columns=["model"])["model"]
    counts = [(c["values"], c["counts"]) for c in models.value_counts().to_pylist()]
    return sorted(counts, key=lambda mc: -mc[1])


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--transcripts", type=int, default=1_000_000)
    parser.add_argument("--per-model", type=int, default=500_000, help="transcripts of each compared model")
    args = parser.parse_args()
    corpus = ensure_corpus(args.workdir, args.size_mb, args.seed)
    warm_page_cache(corpus.path)
    store = ingest_store(corpus.path, args.workdir)
    big, rows = replicated(store, args.transcripts, args.workdir)
    sizes = model_sizes(store)
    (a, a_rows), (b, b_rows) = sizes[:2]
    copies = math.ceil(args.per_model / b_rows)
    bigger, bigger_rows = replicated(store, copies * sum(n for _, n in sizes), args.workdir)
    try:
        commands = {
            "models (baseline)": (big, ["models"]),
            "langmix": (big, ["langmix"]),
            "langmix --scripts": (big, ["langmix", "--scripts"]),
            "loops": (big, ["loops"]),
            "rates (built-in lexicons)": (big, ["rates"]),
            "compare (2 models)": (bigger, ["compare", a, b]),
        }
        runs = {}
        for name, (where, argv) in commands.items():
            cli = [sys.executable, "-m", "cotlens", *argv, "--store", str(where), "--format", "json"]
            runs[name] = measure(cli)
            json.loads(runs[name].stdout)  # a whole document came out
    finally:
        for path in (big, bigger, store):
            shutil.rmtree(path, ignore_errors=True)

    info = machine_info()
    print(
        f"machine: nproc {info['nproc']}, {info['cpu']}, python {info['python']}, cotlens {info['cotlens']}"
    )
    print(f"store:   {rows:,} transcripts (the {corpus.bytes / 2**20:.0f} MB corpus's parts, linked again)")
    print(
        f"compare: {a} and {b}: {copies * a_rows:,} and {copies * b_rows:,} transcripts of {bigger_rows:,}\n"
    )
    print_runs(runs)
    slowest = max(runs[n].seconds for n in ("langmix", "loops"))  # --scripts is reported, not a target
    compared = runs["compare (2 models)"].seconds
    targets = [
        (f"langmix and loops < {SECONDS_TARGET:g} s", slowest < SECONDS_TARGET, f"slowest {slowest:.2f} s"),
        (f"compare < {COMPARE_SECONDS_TARGET:g} s", compared < COMPARE_SECONDS_TARGET, f"{compared:.2f} s"),
    ]
    return print_targets(targets, args.check)


def print_runs(runs: dict[str, Run]) -> None:
    """Each run's wall time, against the first one's (the baseline), and its process tree's peak memory."""
    base = next(iter(runs.values())).seconds
    print(f"{'name':<26} {'seconds':>8} {'x baseline':>11} {'tree MB':>8}")
    for name, run in runs.items():
        print(f"{name:<26} {run.seconds:>8.2f} {run.seconds / base:>11.2f} {run.tree_mb:>8.0f}")


def print_targets(targets: list[tuple[str, bool, str]], check: bool) -> int:
    """PASS or FAIL per (label, met, detail); the exit status: 1 with --check when one is missed."""
    print("\ntargets:")
    for label, ok, detail in targets:
        print(f"  {'PASS' if ok else 'FAIL'}  {label:<28} ({detail})")
    return 1 if check and not all(ok for _, ok, _ in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
