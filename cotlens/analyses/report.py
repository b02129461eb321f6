"""`cotlens report`: every analysis of the selected models in one self-contained HTML page
(render/html.py lays it out). What it holds, and what it reads:

- overview: `models` (the inventory), the definitions in force, the cotlens version, the store's fingerprint
  and the creation time;
- rates per lexicon (`rates`), with intervals; compare against a baseline (`compare`) with the gates of
  `--fail-if`; language mixing by script (`langmix --scripts`); repetition (`loops` with its distributions);
  all from the measurements stored at ingest, no text;
- keywords against web text per model (`keywords`), counted from the text of every n-th row group, so that
  at most KEYWORD_TRANSCRIPTS transcripts are read whatever the store holds;
- examples: per model and finding (a lexicon's terms occur, a code-switch span, a loop, over a Gopher
  threshold), a seeded sample of transcripts chosen from the stored measurements, then read by id and
  highlighted as `show` does.

The page embeds aggregates and that bounded sample, never the corpus: its size does not grow with the store.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens import __version__
from cotlens.analyses.compare import Comparison
from cotlens.analyses.show import Shown, find_transcripts, highlight
from cotlens.errors import UsageError
from cotlens.groups import IntervalOptions
from cotlens.intrinsic import require_measured
from cotlens.lexicon import Lexicon, builtin_keys, stored_key
from cotlens.result import Result
from cotlens.scan import (
    Selection,
    check_selection,
    distinct_values,
    list_to_dense,
    map_store,
)
from cotlens.store import Store, now_iso, part_metadata, store_fingerprint

# Transcripts whose words `keywords` counts at most (every n-th row group is read).
KEYWORD_TRANSCRIPTS = 5_000
KEYWORDS_SHOWN = 15
# Examples: models that get them, transcripts per model and finding.
EXAMPLE_MODELS = 12
# Transcripts whose stored measurements the examples are drawn from at most (every n-th row group is read).
EXAMPLE_CANDIDATES = 200_000
# Bins of each Gopher statistic's distribution over [0, 1].
HISTOGRAM_BINS = 50
# Findings of the examples besides one per lexicon: the stored flag or count that marks a transcript.
FINDINGS = {"codeswitch": "codeswitch_spans", "loop": "loop", "gopher": "gopher_over"}
# Mixes a transcript id's leading 60 bits with the seed into a priority (splitmix64's multiplier): ids are
# hashes, so the order is uniform, the same in every run and process for a seed.
MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True)
class ReportOptions:
    field: str = "reasoning"
    baseline: str | None = None
    gates: tuple[str, ...] = ()
    ignore: frozenset[str] = frozenset()
    examples: int = 2  # per model and finding
    seed: int = 0
    intervals: IntervalOptions = IntervalOptions()

    def validate(self) -> None:
        if self.field not in ("reasoning", "answer"):
            raise UsageError(f"--field must be reasoning or answer, not {self.field!r}")
        if self.gates and self.baseline is None:
            raise UsageError("--fail-if gates a comparison: give --baseline MODEL too")


@dataclass(frozen=True, slots=True)
class Example:
    """A sampled transcript, and the findings (lexicon:NAME or a FINDINGS key) it was sampled for."""

    model: str
    findings: tuple[str, ...]
    shown: Shown


@dataclass(slots=True)
class Report:
    created: str
    version: str
    fingerprint: str
    selection: Selection
    options: ReportOptions
    lexicons: list[Lexicon]
    models: Result
    rates: Result
    langmix: Result
    loops: Result
    keywords: list[Result]
    keywords_every: int  # every n-th row group read for keywords
    comparison: Comparison | None = None
    gate_failures: list[str] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)


def build_report(
    store: Store,
    selection: Selection,
    lexicons: list[Lexicon],
    options: ReportOptions,
    workers: Executor | None = None,
) -> Report:
    """Every section's figures for the selected transcripts (see the module's docstring). With `workers` (a
    pool of worker_pool), rates, compare, language mixing and repetition each run in a worker while this
    process counts keywords and draws the examples: each reads the store on its own, so on two cores they
    take half the time."""
    from cotlens.analyses.compare import metric_keys
    from cotlens.analyses.inventory import summarize_models
    from cotlens.gates import parse_gate

    options.validate()
    gates = [parse_gate(g, metric_keys(lexicons)) for g in options.gates]
    check_selection(store, selection)
    require_measured(store)
    names: list[str] = []
    if options.baseline is not None:
        names = [options.baseline, *(m for m in _models(store, selection) if m != options.baseline)]
        if len(names) < 2:
            raise UsageError(f"--baseline {options.baseline}: no other model to compare with it")
    jobs = [_Analysis(name, store, selection, lexicons, options, tuple(names)) for name in ANALYSES]
    if not names:
        jobs = [job for job in jobs if job.name != "compare"]
    running = [workers.submit(job) for job in jobs] if workers is not None else []
    models = summarize_models(store)
    if selection.models:
        models.rows = [r for r in models.rows if r["model"] in selection.models]
    examples = _examples(store, selection, lexicons, options)
    if workers is not None:
        done = {job.name: future.result() for job, future in zip(jobs, running, strict=True)}
    else:
        done = {job.name: job() for job in jobs}
    report = Report(
        created=now_iso(),
        version=__version__,
        fingerprint=store_fingerprint(store),
        selection=selection,
        options=options,
        lexicons=lexicons,
        models=models,
        rates=done["rates"],
        langmix=done["langmix"],
        loops=done["loops"],
        keywords=done["keywords"],
        keywords_every=_every(store, KEYWORD_TRANSCRIPTS),
        comparison=done.get("compare"),
        examples=examples,
    )
    if report.comparison is not None:
        report.gate_failures = [line for g in gates for line in g.failures(report.comparison.records)]
    return report


# The analyses a report runs, each as its command would (in a worker when there is a pool).
ANALYSES = ("compare", "rates", "langmix", "keywords", "loops")  # longest first: two workers finish together


@dataclass(frozen=True, slots=True)
class _Analysis:
    name: str
    store: Store
    selection: Selection
    lexicons: list[Lexicon]
    options: ReportOptions
    compared: tuple[str, ...]  # compare: the baseline, then the others

    def __call__(self) -> Any:
        o, iv = self.options, self.options.intervals
        if self.name == "rates":
            from cotlens.analyses.rates import RateOptions, compute_rates

            rate_options = RateOptions("model", o.field, "o200k", False, iv)  # type: ignore[arg-type]
            return compute_rates(self.store, self.lexicons, self.selection, rate_options)
        if self.name == "compare":
            from cotlens.analyses.compare import CompareOptions, compare

            s = self.selection
            compared = Selection(self.compared, s.datasets, s.kinds)
            options = CompareOptions(o.field, None, 5, False, iv)
            return compare(self.store, list(self.compared), self.lexicons, compared, options)
        if self.name == "keywords":
            from cotlens.analyses.keywords import KeywordOptions, keywords_by_model

            words = KeywordOptions(top=KEYWORDS_SHOWN, field=o.field)
            every = _every(self.store, KEYWORD_TRANSCRIPTS)
            return keywords_by_model(self.store, self.selection, words, every, workers=None)
        if self.name == "langmix":
            from cotlens.analyses.langmix import LangmixOptions, compute_langmix

            mix = LangmixOptions("model", o.field, True, o.ignore, 0, iv)
            return compute_langmix(self.store, self.selection, mix)
        from cotlens.analyses.loops import LoopOptions, compute_loops

        return compute_loops(self.store, self.selection, LoopOptions("model", o.field, iv, HISTOGRAM_BINS))


def _models(store: Store, selection: Selection) -> list[str]:
    return list(selection.models) or sorted(distinct_values(store, "model"))


def _every(store: Store, wanted: int) -> int:
    """Every how many row groups to read so that about `wanted` transcripts are read (from the footers)."""
    rows = sum(int(part_metadata(p).num_rows) for p in store.parts())
    return max(1, -(-rows // wanted))


# ---- Examples


@dataclass(frozen=True, slots=True)
class _Candidates:
    """One batch's candidates: per (model, finding), the ids of smallest priority."""

    picks: dict[tuple[str, str], list[tuple[int, str]]]


@dataclass(frozen=True, slots=True)
class _ExampleKernel:
    field: str
    lexicon_positions: tuple[tuple[str, tuple[int, ...]], ...]  # built-in lexicons: their stored positions
    keep: int
    seed: int

    def columns(self) -> tuple[str, ...]:
        flags = [f"{self.field}_{column}" for column in FINDINGS.values()]
        counts = [f"{self.field}_lexicon_counts"] if self.lexicon_positions else []
        return ("transcript_id", "model", f"{self.field}_chars", *flags, *counts)

    def __call__(self, table: pa.Table) -> _Candidates:
        table = table.filter(table[f"{self.field}_chars"].is_valid())
        if not table.num_rows:
            return _Candidates({})
        priority = _priorities(table["transcript_id"], self.seed)
        marks: dict[str, npt.NDArray[np.bool_]] = {}
        for finding, column in FINDINGS.items():
            values = pc.fill_null(
                table[f"{self.field}_{column}"], False if column != "codeswitch_spans" else 0
            )
            marks[finding] = np.asarray(values.to_numpy(zero_copy_only=False)) > 0
        if self.lexicon_positions:
            counts = list_to_dense(table[f"{self.field}_lexicon_counts"], len(builtin_keys()))
            for name, positions in self.lexicon_positions:
                marks[f"lexicon:{name}"] = counts[:, list(positions)].sum(axis=1) > 0
        models = table["model"].to_numpy(zero_copy_only=False)
        ids = table["transcript_id"].to_pylist()
        picks: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for model in np.unique(models).tolist():
            mine = models == model
            for finding, marked in marks.items():
                rows = np.flatnonzero(mine & marked)
                best = rows[np.argsort(priority[rows], kind="stable")[: self.keep]]
                if len(best):
                    picks[(model, finding)] = [(int(priority[i]), ids[i]) for i in best.tolist()]
        return _Candidates(picks)


def _priorities(ids: pa.ChunkedArray, seed: int) -> npt.NDArray[np.uint64]:
    """A uniform priority per transcript from its id's first 15 hex digits and the seed (vectorized)."""
    digits = pc.utf8_slice_codeunits(ids, 0, 15).combine_chunks()
    data = np.frombuffer(digits.buffers()[2], dtype=np.uint8)
    offsets = np.frombuffer(digits.buffers()[1], dtype=np.int32)[: len(digits) + 1]
    values = np.zeros(len(digits), dtype=np.uint64)
    width = np.diff(offsets)
    for k in range(15):
        present = width > k
        char = data[np.minimum(offsets[:-1] + k, len(data) - 1)]
        nibble = np.where(char >= ord("a"), char - ord("a") + 10, char - ord("0")).astype(np.uint64)
        values = np.where(present, (values << np.uint64(4)) | nibble, values)
    with np.errstate(over="ignore"):
        mixed = (values ^ np.uint64(seed & 0xFFFFFFFF)) * MIX
    return mixed ^ (mixed >> np.uint64(31))


def _examples(
    store: Store, selection: Selection, lexicons: list[Lexicon], options: ReportOptions
) -> list[Example]:
    if not options.examples:
        return []
    order = {key: i for i, key in enumerate(builtin_keys())}
    positions = tuple(
        (lex.name, tuple(order[stored_key(lex.name, t)] for t in lex.terms))
        for lex in lexicons
        if all(stored_key(lex.name, t) in order for t in lex.terms) and lex.source == "built-in"
    )
    kernel = _ExampleKernel(options.field, positions, options.examples, options.seed)
    merged: dict[tuple[str, str], list[tuple[int, str]]] = {}
    every = _every(store, EXAMPLE_CANDIDATES)
    for part in map_store(store, kernel, kernel.columns(), selection, every=every):
        for key, picks in part.picks.items():
            merged[key] = sorted([*merged.get(key, []), *picks])[: options.examples]
    shown_models = sorted({model for model, _ in merged})[:EXAMPLE_MODELS]
    findings = [f"lexicon:{name}" for name, _ in positions] + list(FINDINGS)
    chosen = [
        (model, finding, transcript)
        for model in shown_models
        for finding in findings
        for _, transcript in merged.get((model, finding), [])
    ]
    # A transcript sampled for several findings is shown once, with all of them.
    findings_of: dict[str, list[str]] = {}
    model_of: dict[str, str] = {}
    for model, finding, transcript in chosen:
        findings_of.setdefault(transcript, []).append(finding)
        model_of[transcript] = model
    records = {r["transcript_id"]: r for r in find_transcripts(store, list(findings_of))}
    return [
        Example(model_of[t], tuple(findings), highlight(records[t], lexicons))
        for t, findings in findings_of.items()
        if t in records
    ]


def report_definitions(report: Report) -> dict[str, Any]:
    """The definitions in force, as the analyses state them."""
    rates = report.rates.definitions
    return {
        "tokenizer": rates.get("tokenizer"),
        "unit": rates.get("unit"),
        "rate": rates.get("rate"),
        "matching": rates.get("matching"),
        "interval": rates.get("interval"),
        "field": report.options.field,
        "selection": report.selection.describe(),
        "lexicons": [lex.name for lex in report.lexicons],
        "cotlens_version": report.version,
        "store_fingerprint": report.fingerprint,
        "created": report.created,
    }
