"""`report` and `show` over a store of a million transcripts.

    .venv/bin/python bench/bench_report.py --size-mb 300 --transcripts 1000000   # what `make bench` runs

1. The synthetic corpus of bench/corpus.py is ingested into a store, then linked again until it has
   --transcripts rows (bench_analyses.py's way: no second ingest; not timed).
2. `cotlens report --baseline A` (A: the largest model) in a subprocess: wall time and peak memory of the process
   tree, and the page's size. It reads stored measurements, the text of the sampled examples and of the keywords'
   bounded sample only.
3. `cotlens show` of one transcript by 8 hex digits of its id, and by SOURCE:LOCATOR (a transcript in the last
   part file: the lookup reads the key columns of the whole store). Baseline, measured in the same run:
   `cotlens models` over the same store.
Targets (issue "See it"): report under 10 s, show under 1 s, the page under 5 MB.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
from bench_analyses import ingest_store, model_sizes, print_runs, print_targets, replicated
from bench_ingest import machine_info, measure, warm_page_cache
from corpus import bench_parser, ensure_corpus

REPORT_TARGET, SHOW_TARGET, PAGE_MB_TARGET = 10.0, 1.0, 5.0


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--transcripts", type=int, default=1_000_000)
    args = parser.parse_args()
    corpus = ensure_corpus(args.workdir, args.size_mb, args.seed)
    warm_page_cache(corpus.path)
    store = ingest_store(corpus.path, args.workdir)
    big, rows = replicated(store, args.transcripts, args.workdir)
    baseline_model = model_sizes(store)[0][0]
    last = sorted((big / "transcripts").glob("*/*.parquet"))[-1]
    row = (
        pq.read_table(last, columns=["transcript_id", "source_path", "source_locator"])
        .slice(0, 1)
        .to_pylist()[0]
    )
    page = args.workdir / "bench-report.html"
    try:

        def cli(*argv: str) -> list[str]:
            return [sys.executable, "-m", "cotlens", *argv, "--store", str(big)]

        runs = {
            "models (baseline)": measure(cli("models")),
            "report --baseline": measure([*cli("report", "--baseline", baseline_model), "--out", str(page)]),
            "show ID-PREFIX": measure(cli("show", row["transcript_id"][:8], "--plain")),
            "show SOURCE:LOCATOR": measure(
                cli("show", f"{row['source_path']}:{row['source_locator']}", "--plain")
            ),
        }
        page_mb = page.stat().st_size / 2**20
    finally:
        shutil.rmtree(big, ignore_errors=True)
        shutil.rmtree(store, ignore_errors=True)
        Path(page).unlink(missing_ok=True)

    info = machine_info()
    print(
        f"machine: nproc {info['nproc']}, {info['cpu']}, python {info['python']}, cotlens {info['cotlens']}"
    )
    print(f"store:   {rows:,} transcripts (the {corpus.bytes / 2**20:.0f} MB corpus's parts, linked again)")
    print(f"report:  baseline {baseline_model}, page {page_mb:.2f} MB\n")
    print_runs(runs)
    report = runs["report --baseline"].seconds
    show = max(runs["show ID-PREFIX"].seconds, runs["show SOURCE:LOCATOR"].seconds)
    targets = [
        (f"report < {REPORT_TARGET:g} s", report < REPORT_TARGET, f"{report:.2f} s"),
        (f"show < {SHOW_TARGET:g} s", show < SHOW_TARGET, f"slowest {show:.2f} s"),
        (f"page < {PAGE_MB_TARGET:g} MB", page_mb < PAGE_MB_TARGET, f"{page_mb:.2f} MB"),
    ]
    return print_targets(targets, args.check)


if __name__ == "__main__":
    sys.exit(main())
