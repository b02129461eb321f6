"""Throughput of `cotlens rates` with a 50-term lexicon over a stored corpus, against a plain Python-regex
baseline measured in the same run.

    .venv/bin/python bench/bench_rates.py --size-mb 300        # what `make bench` runs

1. The synthetic corpus of bench/corpus.py (cached in --workdir) is ingested into a store (not timed).
2. `cotlens rates --lexicon <50 terms> --format json` runs in a subprocess, --runs times (default 3): the median
   wall time, the peak RSS of the process tree. MB/s is of the reasoning text it scanned (the sum of the stored
   reasoning's UTF-8 bytes).
3. Baseline: the same 50 terms with the same semantics in a plain Python loop (`regex` module, look-around
   boundaries, one findall per term per transcript over the folded text), on a sample of the transcripts (it
   runs at a few MB/s; timing all of them would take minutes), as MB/s of the sample's text.
4. `cotlens keywords A --vs B` for the two largest models: whole-vocabulary counting, in MB/s of their text
   (median of --runs); `cotlens kwic wait`: the first page (20 lines), whole process.
5. A handful of terms (ONE_OFF_TERMS), whole processes, median of --runs each: `cotlens rates --term ...` over the
   store, intervals included, against the one-off script a user would write instead (ONE_OFF_CODE: read the JSON
   Lines with orjson, one polars `extract_all` of the terms' alternation on the lowercased reasoning, counts per
   model and term; no intervals). --one-off runs this comparison only.
Targets: rates >= 100 MB/s of reasoning text and peak memory < 1.5 GB (issue "term rates"); keywords >= 40 MB/s
and kwic's first page < 1 s (issue "keywords"); rates with a handful of terms at least as fast as the one-off
script (issue "past one machine", on a corpus of about 100 MB: `--size-mb 100 --one-off`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from bench_analyses import ingest_store, print_targets
from bench_ingest import MB, Run, machine_info, measure, measure_median, warm_page_cache
from corpus import bench_parser, ensure_corpus

RATE_TARGET_MB_S = 100
KEYWORDS_TARGET_MB_S = 40
KWIC_TARGET_S = 1.0
RSS_TARGET_MB = 1536
SAMPLE_TEXTS = 2000
EXTRA_TERMS = ["let me", "double-check", "okay", "alright"]  # the four built-in lexicons have 46 terms

BASELINE_CODE = """
import sys, time, regex
import pyarrow.dataset as ds
from cotlens.lexicon import select_lexicons
from cotlens.measure.fold import fold

builtin = ["o3-dialect", "epistemic", "eval-awareness", "voice"]
terms = [t for lex in select_lexicons(builtin, sys.argv[3:]) for t in lex.terms]
word = r"[[\\p{L}&&\\p{Script=Latin}]\\p{M}\\p{Nd}_]"
patterns = [regex.compile(rf"(?<!{word})" + r"\\s+".join(map(regex.escape, t.key.split(" "))) + rf"(?!{word})",
                          flags=regex.V1) for t in terms]
table = ds.dataset(sys.argv[1], format="parquet").to_table(columns=["reasoning"])
texts = [t for t in table["reasoning"].to_pylist() if t is not None][: int(sys.argv[2])]
start = time.perf_counter()
total = 0
for text in texts:
    folded = fold(text)
    for p in patterns:
        total += len(p.findall(folded))
print(time.perf_counter() - start, sum(len(t.encode()) for t in texts), len(terms), total)
"""

# The one-off script: the reasoning of each of the corpus's three shapes, as a user who knows them would get it.
ONE_OFF_TERMS = ["wait", "let me", "hmm", "actually", "double-check"]
ONE_OFF_CODE = """
import re, sys
import orjson, polars as pl

models, texts = [], []
with open(sys.argv[1], "rb") as f:
    for line in f:
        r = orjson.loads(line)
        if "choices" in r:
            text = r["choices"][0]["message"].get("reasoning_content") or ""
        elif "content" in r:
            text = "\\n\\n".join(b["thinking"] for b in r["content"] if b["type"] == "thinking")
        else:
            text = r["response"].partition("<think>")[2].partition("</think>")[0]
        models.append(r["model"])
        texts.append(text)
pattern = r"\\b(?:" + "|".join(re.escape(t) for t in sys.argv[2:]) + r")\\b"
found = pl.DataFrame({"model": models, "text": texts}).select(
    "model", term=pl.col("text").str.to_lowercase().str.extract_all(pattern)
)
counts = found.explode("term").drop_nulls("term").group_by("model", "term").len()
print(counts.height, counts["len"].sum())
"""


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of rates and keywords; the median is reported"
    )
    parser.add_argument("--one-off", action="store_true", help="only rates against the one-off script")
    args = parser.parse_args()
    corpus = ensure_corpus(args.workdir, args.size_mb, args.seed)
    warm_page_cache(corpus.path)
    store = ingest_store(corpus.path, args.workdir)
    if args.one_off:
        try:
            return print_targets([print_one_off(*one_off(corpus.path, store, args.runs))], args.check)
        finally:
            shutil.rmtree(store, ignore_errors=True)
    try:
        text_mb = stored_reasoning_mb(store)
        lexicon_args = [
            a for lex in ("o3-dialect", "epistemic", "eval-awareness", "voice") for a in ("--lexicon", lex)
        ]
        lexicon_args += [a for term in EXTRA_TERMS for a in ("--term", term)]
        run = measure_median(
            [
                sys.executable,
                "-m",
                "cotlens",
                "rates",
                "--store",
                str(store),
                *lexicon_args,
                "--format",
                "json",
            ],
            args.runs,
        )
        doc = json.loads(run.stdout)
        terms = len({(r["lexicon"], r["term"]) for r in doc["rows"] if r["term"] != "(total)"})
        base = measure(
            [sys.executable, "-c", BASELINE_CODE, str(store / "transcripts"), str(SAMPLE_TEXTS), *EXTRA_TERMS]
        )
        base_seconds, base_bytes, base_terms, _ = base.stdout.split()
        base_rate = int(base_bytes) / MB / float(base_seconds)
        # Whole-vocabulary counting (issue "keywords"): the two largest models' words, against each other.
        (a, a_mb), (b, b_mb) = model_reasoning_mb(store)[:2]
        cli = [sys.executable, "-m", "cotlens"]
        keywords = measure_median(
            [*cli, "keywords", a, "--vs", b, "--store", str(store), "--format", "json"], args.runs
        )
        kwic = measure([*cli, "kwic", "wait", "--store", str(store), "--format", "json"])
        few_terms, script = one_off(corpus.path, store, args.runs)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    rate = text_mb / run.seconds
    info = machine_info()
    print(
        f"machine: nproc {info['nproc']}, {info['cpu']}, python {info['python']}, cotlens {info['cotlens']}"
    )
    print(f"corpus:  {corpus.path} ({corpus.bytes / MB:.1f} MB; {text_mb:.1f} MB of stored reasoning text)")
    print(f"lexicon: {terms} terms (baseline: {base_terms})\n")
    print(f"{'name':<34} {'seconds':>8} {'MB/s':>8} {'x baseline':>11} {'tree MB':>8}")
    print(
        f"{'python regex loop (sample)':<34} {float(base_seconds):>8.2f} {base_rate:>8.1f} {1:>11.2f} {base.tree_mb:>8.0f}"
    )
    print(
        f"{'cotlens rates (whole store)':<34} {run.seconds:>8.2f} {rate:>8.1f} {rate / base_rate:>11.2f} "
        f"{run.tree_mb:>8.0f}"
    )
    keywords_rate = (a_mb + b_mb) / keywords.seconds
    print(
        f"{'cotlens keywords (2 models)':<34} {keywords.seconds:>8.2f} {keywords_rate:>8.1f} "
        f"{keywords_rate / base_rate:>11.2f} {keywords.tree_mb:>8.0f}"
    )
    print(f"\n{len(ONE_OFF_TERMS)} terms, whole processes:")
    targets = [
        print_one_off(few_terms, script),
        (f"rates >= {RATE_TARGET_MB_S} MB/s", rate >= RATE_TARGET_MB_S, f"{rate:.0f} MB/s"),
        (f"peak memory < {RSS_TARGET_MB} MB", run.tree_mb < RSS_TARGET_MB, f"{run.tree_mb:.0f} MB"),
        (f"kwic first page < {KWIC_TARGET_S:g} s", kwic.seconds < KWIC_TARGET_S, f"{kwic.seconds:.2f} s"),
        (
            f"keywords >= {KEYWORDS_TARGET_MB_S} MB/s",
            keywords_rate >= KEYWORDS_TARGET_MB_S,
            f"{keywords_rate:.0f} MB/s of {a_mb + b_mb:.0f} MB",
        ),
    ]
    return print_targets(targets, args.check)


def one_off(corpus: Path, store: Path, runs: int) -> tuple[Run, Run]:
    """`cotlens rates` with ONE_OFF_TERMS over the store, and the one-off script over the corpus (medians)."""
    terms = [a for term in ONE_OFF_TERMS for a in ("--term", term)]
    rates = [sys.executable, "-m", "cotlens", "rates", "--store", str(store), *terms, "--format", "json"]
    script = [sys.executable, "-c", ONE_OFF_CODE, str(corpus), *ONE_OFF_TERMS]
    return measure_median(rates, runs), measure_median(script, runs)


def print_one_off(rates: Run, script: Run) -> tuple[str, bool, str]:
    """The two runs side by side; the target: rates at least as fast as the script."""
    print(f"{'name':<34} {'seconds':>8} {'x script':>11} {'tree MB':>8}")
    print(
        f"{'one-off script (orjson + polars)':<34} {script.seconds:>8.2f} {1:>11.2f} {script.tree_mb:>8.0f}"
    )
    ratio = script.seconds / rates.seconds
    print(f"{'cotlens rates --term x5':<34} {rates.seconds:>8.2f} {ratio:>11.2f} {rates.tree_mb:>8.0f}")
    return ("rates >= 1.0 x one-off script", ratio >= 1.0, f"{rates.seconds:.2f} s vs {script.seconds:.2f} s")


def model_reasoning_mb(store: Path) -> list[tuple[str, float]]:
    """Each model's stored reasoning in MB, largest first."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(store / "transcripts", format="parquet").to_table(columns=["model", "reasoning"])
    lengths = pc.fill_null(pc.binary_length(table["reasoning"]), 0)
    grouped = (
        table.select(["model"])
        .append_column("bytes", lengths)
        .group_by("model")
        .aggregate([("bytes", "sum")])
    )
    pairs = [(r["model"], r["bytes_sum"] / MB) for r in grouped.to_pylist()]
    return sorted(pairs, key=lambda pair: -pair[1])


def stored_reasoning_mb(store: Path) -> float:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(store / "transcripts", format="parquet").to_table(columns=["reasoning"])
    return float(pc.sum(pc.binary_length(table["reasoning"])).as_py()) / MB


if __name__ == "__main__":
    sys.exit(main())
