"""`cotlens filter`: the selected transcripts that satisfy every `--where` condition, streamed out; every other
one listed with the first condition it failed.

The store is read batch by batch (every column when the output carries the text; no text for a dry run on stored
measurements), conditions are evaluated over the batch at once (conditions.py), and each judged batch goes to a
sink (render/exports.py writes the kept transcripts and the exclusions), so memory does not grow with the store.
This module decides; it opens no file. Rates in conditions come from the counts stored at ingest for built-in
lexicons, from the text for `--term` and lexicon files.
"""

from __future__ import annotations

import os
import stat
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.analyses.occurrences import term_counts
from cotlens.conditions import Condition, evaluate
from cotlens.errors import CotlensError, UsageError
from cotlens.intrinsic import require_measured
from cotlens.lexicon import Lexicon, lexicon_spans, stored_key, stored_positions
from cotlens.measure.scripts import leave_out_scripts
from cotlens.progress import tracked
from cotlens.record import schema
from cotlens.result import Column, Result
from cotlens.runtime.workers import map_ordered, pool_jobs, worker_pool
from cotlens.scan import TEXT_COLUMNS, Selection, check_selection
from cotlens.store import Store

# Batches read ahead of the one being judged (each up to READ_ROWS transcripts).
READ_AHEAD = 3
READ_ROWS = 4096
# Batches whose terms are counted at once by Ray tasks (the Ray engine); each is held here until judged.
TASKS_IN_FLIGHT = 8


@dataclass(frozen=True, slots=True)
class FilterOptions:
    field: str = "reasoning"
    ignore: frozenset[str] = frozenset()  # scripts left out of the language-mixing measurements
    out: str | None = None  # a path (.parquet, DIR/ or JSON Lines), "-" for stdout, None for a dry run
    exclusions: str | None = None  # default: OUT.exclusions.jsonl beside a file output
    force: bool = False
    original: bool = False  # write the input records the kept transcripts came from, as read

    def exclusions_path(self) -> str | None:
        if self.exclusions is not None:
            return self.exclusions
        if self.out in (None, "-") or is_device(self.out):  # like stdout: nowhere beside it to put a file
            return None
        if self.out.endswith("/"):  # a directory output: beside it, however it is named (`out/`, `./`)
            return f"{os.path.realpath(self.out)}.exclusions.jsonl"
        return f"{self.out}.exclusions.jsonl"


@dataclass(frozen=True, slots=True)
class Judged:
    """A batch of selected transcripts and, per row, the index of the first condition it fails (-1: kept)."""

    table: pa.Table
    failed: np.ndarray[Any, np.dtype[np.int64]]
    conditions: tuple[str, ...]  # the conditions' texts, in the order given

    def kept(self) -> pa.Table:
        keep = self.failed < 0
        return self.table if keep.all() else self.table.filter(_mask(keep))  # no copy of a batch kept whole

    def dropped(self) -> tuple[pa.Table, list[str]]:
        """The dropped rows and, for each, the text of the condition it failed first."""
        drop = self.failed >= 0
        return self.table.filter(_mask(drop)), [self.conditions[i] for i in self.failed[drop].tolist()]


class FilterSink(Protocol):
    """Where judged batches go (render/exports.py writes them to files): checked before anything is read, entered
    before the first batch, left once every batch is written (on an error, given it, to write nothing)."""

    def check(self, store_root: Path) -> None: ...

    def __enter__(self) -> FilterSink: ...

    def __exit__(
        self, error: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def write(self, judged: Judged) -> None: ...


@dataclass
class _Tally:
    transcripts: int = 0
    kept: int = 0
    dropped: Counter[int] = field(default_factory=Counter)  # by the index of the first failed condition


def run_filter(
    store: Store,
    selection: Selection,
    conditions: list[Condition],
    lexicons: list[Lexicon],
    options: FilterOptions,
    sink: FilterSink | None = None,
) -> Result:
    """Judge every selected transcript, hand each batch to `sink` (None: a dry run, nothing written); return the
    summary (kept and dropped per model)."""
    check_selection(store, selection)
    if options.original and (options.out is None or options.out.endswith((".parquet", "/"))):
        raise UsageError("--original writes JSON Lines: give --out FILE.jsonl or --out -")
    if (sink is None) != (options.out is None):
        raise ValueError("run_filter: give a sink exactly when options.out names an output")
    if sink is not None:
        sink.check(store.root)
    require_measured(store)
    rates = _RateSource(lexicons, sorted({c.name for c in conditions if c.rate}), options.field)
    tallies: dict[str, _Tally] = {}
    try:
        with ExitStack() as stack:
            if sink is not None:
                stack.enter_context(sink)
            for judged in _judge(store, selection, conditions, options, rates, sink is not None):
                _tally(tallies, judged.table["model"], judged.failed)
                if sink is not None:
                    sink.write(judged)
    except OSError as e:
        # The system's words for the error, whoever met it (Arrow writing a Parquet file adds its own around them).
        reason = os.strerror(e.errno) if e.errno else e.strerror or e
        raise CotlensError(f"cannot write the output: {reason}; nothing was written") from None
    if not tallies:
        raise CotlensError(f"no transcripts in the selection (kinds {', '.join(selection.kinds)})")
    return _summary(tallies, conditions, selection, options)


def is_device(path: str) -> bool:
    """A character device, pipe or socket (`/dev/null`, `/dev/stdout`, a FIFO): written to as it is, never
    replaced by a file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _judge(
    store: Store,
    selection: Selection,
    conditions: list[Condition],
    options: FilterOptions,
    rates: _RateSource,
    writes: bool,
) -> Iterator[Judged]:
    """Every selected transcript, read and judged a batch at a time, in store order."""
    texts = tuple(c.text for c in conditions)
    # The text only when it is written, or measured again (a term counted from it, a script left out).
    reads_text = writes or (bool(rates.wanted) and rates.stored is None) or bool(options.ignore)
    columns = None if reads_text else [n for n in schema().names if n not in TEXT_COLUMNS]
    with ExitStack() as stack:
        # Terms counted from the text: as Ray tasks under the Ray engine; in this process otherwise.
        pool = stack.enter_context(worker_pool(pool_jobs(False))) if rates.counts_text() else None
        judging: deque[pa.Table] = deque()
        selected = store.dataset().count_rows(filter=selection.expression())
        step = stack.enter_context(tracked("filtering", selected))

        def tables() -> Iterator[pa.Table]:
            for batch in _batches(store, selection, columns):
                table = pa.Table.from_batches([batch])
                if options.ignore:
                    table = leave_out_scripts(table, options.field, options.ignore)
                judging.append(table)
                yield rates.inputs(table)

        window = TASKS_IN_FLIGHT if pool is not None else 1  # in this process: one batch at a time, as read
        for per_1k in map_ordered(rates.per_1k, tables(), pool, window):
            table = judging.popleft()
            step(table.num_rows)
            yield Judged(table, _first_failed(table, conditions, options.field, per_1k), texts)


def _batches(store: Store, selection: Selection, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    """The columns (None: every one), in store order, a row group or so at a time, read a few batches ahead by a
    thread: decoding them (Arrow releases the GIL) then overlaps with judging and writing the current one. That
    thread decodes on its own: the scanner's own threads cost about twice the CPU for the same batches, which the
    writer's thread needs (bench/README.md)."""
    batches = store.dataset().to_batches(
        columns=columns, filter=selection.expression(), batch_size=READ_ROWS, use_threads=False
    )
    end = object()
    with (
        store.reading(),
        ThreadPoolExecutor(1) as reader,
    ):  # one thread: the scanner's batches are asked for one at a time
        pending = deque(reader.submit(next, batches, end) for _ in range(READ_AHEAD))
        while (batch := pending.popleft().result()) is not end:
            pending.append(reader.submit(next, batches, end))
            yield batch


def _mask(keep: np.ndarray[Any, np.dtype[np.bool_]]) -> pa.Array:
    """A boolean Arrow array of `keep`, made from its packed bits: pa.array(ndarray) would first import
    numpy.ma (0.05-0.08 s of start-up) to look for a masked array."""
    bits = np.packbits(keep, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(keep), [None, pa.py_buffer(bits)])


def _first_failed(
    table: pa.Table, conditions: list[Condition], field: str, rates: dict[str, Any]
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per row, the index of the first condition it fails, or -1 when it satisfies them all."""
    failed = np.full(table.num_rows, -1, dtype=np.int64)
    for i, condition in enumerate(conditions):
        fails = ~evaluate(condition, table, field, rates) & (failed < 0)
        failed[fails] = i
    return failed


class _RateSource:
    """Per-transcript rates per 1000 tokens of the lexicons and terms the conditions name."""

    def __init__(self, lexicons: list[Lexicon], wanted: list[str], field: str) -> None:
        self.field = field
        self.wanted = wanted
        self.terms = [t for lex in lexicons for t in lex.terms]
        self.keys = [stored_key(lex.name, t) for lex in lexicons for t in lex.terms]
        self.spans = {lex.name: span for lex, span in zip(lexicons, lexicon_spans(lexicons), strict=True)}
        self.stored = stored_positions(lexicons)

    def counts_text(self) -> bool:
        return bool(self.wanted) and self.stored is None

    def inputs(self, table: pa.Table) -> pa.Table:
        """The columns per_1k reads (what a Ray task is sent when it counts the terms)."""
        if not self.counts_text():
            return table
        return table.select([self.field, f"{self.field}_tokens_o200k"])

    def per_1k(self, table: pa.Table) -> dict[str, Any]:
        if not self.wanted:
            return {}
        counts = term_counts(table, self.field, self.terms, self.stored).astype(np.float64)
        tokens = np.asarray(
            table[f"{self.field}_tokens_o200k"].to_numpy(zero_copy_only=False), dtype=np.float64
        )
        out = {}
        for name in self.wanted:
            if name in self.spans:
                a, b = self.spans[name]
                occurrences = counts[:, a:b].sum(axis=1)
            else:
                occurrences = counts[:, self.keys.index(name)]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name] = np.where(tokens == 0, 0.0, 1000 * occurrences / np.where(tokens == 0, 1, tokens))
        return out


def _tally(tallies: dict[str, _Tally], models: pa.ChunkedArray, failed: np.ndarray[Any, Any]) -> None:
    """Transcripts, kept, and dropped by first failed condition, per model: counted over the models' codes at
    once, not row by row."""
    if len(failed) == 0:
        return
    encoded = pc.dictionary_encode(models.combine_chunks())
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    slots = int(failed.max()) + 2  # 0: kept; i + 1: dropped by condition i
    counts = np.bincount(codes * slots + failed + 1, minlength=len(encoded.dictionary) * slots)
    for model, row in zip(encoded.dictionary.to_pylist(), counts.reshape(-1, slots).tolist(), strict=True):
        tally = tallies.setdefault(model, _Tally())
        tally.transcripts += sum(row)
        tally.kept += row[0]
        tally.dropped.update({i: n for i, n in enumerate(row[1:]) if n})


def _summary(
    tallies: dict[str, _Tally], conditions: list[Condition], selection: Selection, options: FilterOptions
) -> Result:
    rows = []
    for model, tally in sorted(tallies.items()):
        row: dict[str, Any] = {
            "model": model,
            "transcripts": tally.transcripts,
            "kept": tally.kept,
            "dropped": tally.transcripts - tally.kept,
        }
        row.update({f"dropped_by_{i + 1}": tally.dropped[i] for i in range(len(conditions))})
        rows.append(row)
    columns = [
        Column("model", "model"),
        Column("transcripts", "n", "int"),
        Column("kept", "kept", "int"),
        Column("dropped", "dropped", "int"),
        *(Column(f"dropped_by_{i + 1}", f"by {c.text}", "int") for i, c in enumerate(conditions)),
    ]
    definitions = {
        "field": options.field,
        "conditions": {f"dropped_by_{i + 1}": c.text for i, c in enumerate(conditions)},
        "dropped_by": "each dropped transcript counts for the first condition it fails, in the order given",
        "ignored_scripts": sorted(options.ignore),
        "output": options.out,
        "exclusions": options.exclusions_path(),
        "selection": selection.describe(),
    }
    caption = "Each dropped transcript counts once, for the first condition it fails."
    return Result("filter", "Filter", columns, rows, definitions, caption)
