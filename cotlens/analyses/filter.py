"""`cotlens filter`: the selected transcripts that satisfy every `--where` condition, streamed out; every other
one listed with the first condition it failed.

The store is read batch by batch (every column when the output carries the text; no text for a dry run on stored
measurements), conditions are evaluated over the batch at once (conditions.py), kept rows go to the output and
dropped ones to the exclusions file, so memory does not grow with the store. Outputs are written aside and renamed
into place: an interrupted run leaves no half-written file. Rates in conditions come from the counts stored at
ingest for built-in lexicons, from the text for `--term` and lexicon files.
"""

from __future__ import annotations

import os
import stat
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cotlens.analyses.occurrences import term_counts
from cotlens.conditions import Condition, evaluate
from cotlens.errors import CotlensError, InputError, UsageError
from cotlens.escape import json_bytes
from cotlens.intrinsic import require_measured
from cotlens.lexicon import Lexicon, lexicon_spans, stored_key, stored_positions
from cotlens.measure.scripts import leave_out_scripts
from cotlens.progress import tracked
from cotlens.record import RECORD_FIELDS, schema
from cotlens.result import Column, Result
from cotlens.runtime.workers import map_ordered, pool_jobs, worker_pool
from cotlens.scan import TEXT_COLUMNS, Selection, check_selection
from cotlens.sources import LineBlock, read_items
from cotlens.store import Store

# Batches read ahead of the one being written (each up to 4,096 transcripts).
READ_AHEAD = 3
# Batches whose terms are counted at once by Ray tasks (the Ray engine); each is held here until judged.
TASKS_IN_FLIGHT = 8
# The canonical record, as JSON Lines output carries it (Parquet output carries every stored column).
RECORD_COLUMNS = [f.name for f in RECORD_FIELDS]


@dataclass(frozen=True, slots=True)
class FilterOptions:
    field: str = "reasoning"
    ignore: frozenset[str] = frozenset()  # scripts left out of the language-mixing measurements
    out: str | None = None  # a path (.parquet or JSON Lines), "-" for stdout, None for a dry run
    exclusions: str | None = None  # default: OUT.exclusions.jsonl beside a file output
    force: bool = False
    original: bool = False  # write the input records the kept transcripts came from, as read

    def exclusions_path(self) -> str | None:
        if self.exclusions is not None:
            return self.exclusions
        if self.out in (None, "-") or is_device(self.out):  # like stdout: nowhere beside it to put a file
            return None
        return f"{self.out}.exclusions.jsonl"


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
) -> Result:
    """Write the kept transcripts and the exclusions; return the summary (kept and dropped per model)."""
    check_selection(store, selection)
    if options.original and (options.out is None or options.out.endswith(".parquet")):
        raise UsageError("--original writes JSON Lines: give --out FILE.jsonl or --out -")
    check_outputs(store, options)
    require_measured(store)
    rates = _RateSource(lexicons, sorted({c.name for c in conditions if c.rate}), options.field)
    tallies: dict[str, _Tally] = {}
    try:
        _filter_into(store, selection, conditions, options, rates, tallies)
    except OSError as e:
        raise CotlensError(f"cannot write the output: {e.strerror or e}; nothing was written") from None
    if not tallies:
        raise CotlensError(f"no transcripts in the selection (kinds {', '.join(selection.kinds)})")
    return _summary(tallies, conditions, selection, options)


def check_outputs(store: Store, options: FilterOptions) -> None:
    """Outputs that cannot be written as asked are refused before anything is read or written: one path for
    both outputs, a directory, a missing directory, a file of the store (whatever --force says: the store's
    files are its own), an existing file without --force."""
    paths = {
        name: path
        for name, path in (("--out", options.out), ("--exclusions", options.exclusions_path()))
        if path not in (None, "-")
    }
    targets = {name: Path(os.path.realpath(path)) for name, path in paths.items()}
    if len(set(targets.values())) < len(targets):
        raise UsageError(f"--out and --exclusions are the same file ({paths['--out']}): give two paths")
    store_root = Path(os.path.realpath(store.root))
    for name, path in paths.items():
        target = targets[name]
        if target == store_root or store_root in target.parents:
            raise UsageError(
                f"{name} {path} is inside the store {store.root}: write outputs outside it (even --force "
                "may not replace or add the store's files)"
            )
        if target.is_dir():
            raise UsageError(f"{name} {path} is a directory: give a file path")
        if not target.parent.is_dir():
            raise UsageError(f"{name} {path}: no directory {target.parent} to write it in")
        if os.path.lexists(path) and not options.force and not is_device(path):
            raise UsageError(f"{path} exists: give --force to replace it")


def is_device(path: str) -> bool:
    """A character device, pipe or socket (`/dev/null`, `/dev/stdout`, a FIFO): written to as it is, never
    replaced by a file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _filter_into(
    store: Store,
    selection: Selection,
    conditions: list[Condition],
    options: FilterOptions,
    rates: _RateSource,
    tallies: dict[str, _Tally],
) -> None:
    """Read, judge and write every selected transcript. Both outputs are staged and renamed into place together
    when everything succeeded: a failure leaves neither."""
    originals: dict[str, set[int]] = {}  # with --original: the kept transcripts' input lines, per input
    with ExitStack() as stack:
        staged = stack.enter_context(_Staged())
        out = stack.enter_context(_output(options.out, staged)) if options.out is not None else None
        write = stack.enter_context(_WriteBehind(out.write)) if out is not None else None
        exclusions_path = options.exclusions_path()
        excluded = staged.open(exclusions_path) if exclusions_path else None
        # The text only when it is written, or measured again (a term counted from it, a script left out).
        reads_text = out is not None or (bool(rates.wanted) and rates.stored is None) or bool(options.ignore)
        columns = None if reads_text else [n for n in schema().names if n not in TEXT_COLUMNS]
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
            failed = _first_failed(table, conditions, options.field, per_1k)
            _tally(tallies, table["model"].to_pylist(), failed)
            keep = failed < 0
            if write is not None and keep.any():
                kept = table.filter(pa.array(keep))
                if options.original:
                    _note_lines(originals, kept)
                else:
                    write(kept)
            if excluded is not None and not keep.all():
                _write_exclusions(excluded, table.filter(pa.array(~keep)), failed[~keep], conditions)
        if isinstance(out, _JsonLines) and options.original:
            _write_originals(out.sink, originals)


def _batches(store: Store, selection: Selection, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    """The columns (None: every one), in store order, a row group or so at a time, read a few batches ahead by a
    thread: decoding them (Arrow releases the GIL) then overlaps with writing the current one, the filter's
    bottleneck (0.3-0.5 s less on a 300 MB store)."""
    batches = store.dataset().to_batches(columns=columns, filter=selection.expression(), batch_size=4096)
    end = object()
    with (
        store.reading(),
        ThreadPoolExecutor(1) as reader,
    ):  # one thread: the scanner's batches are asked for one at a time
        pending = deque(reader.submit(next, batches, end) for _ in range(READ_AHEAD))
        while (batch := pending.popleft().result()) is not end:
            pending.append(reader.submit(next, batches, end))
            yield batch


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


def _tally(tallies: dict[str, _Tally], models: list[str], failed: np.ndarray[Any, Any]) -> None:
    for model, index in zip(models, failed.tolist(), strict=True):
        tally = tallies.setdefault(model, _Tally())
        tally.transcripts += 1
        if index < 0:
            tally.kept += 1
        else:
            tally.dropped[index] += 1


def _note_lines(originals: dict[str, set[int]], kept: pa.Table) -> None:
    """The input line of each kept transcript; a locator that is not a line means a JSON document input."""
    rows = kept.select(["source_path", "source_locator"]).to_pylist()
    for row in rows:
        words = row["source_locator"].split()
        if row["source_path"] == "-" or len(words) < 2 or words[0] != "line" or not words[1].isdigit():
            raise UsageError(
                f"--original writes input records as they were read, from JSON Lines files only; "
                f"{row['source_path']}: {row['source_locator']} is not a line of one"
            )
        originals.setdefault(row["source_path"], set()).add(int(words[1]))


def _write_originals(sink: IO[bytes], originals: dict[str, set[int]]) -> None:
    """Each input line a kept transcript came from, once (a line with several choices yields several
    transcripts), input by input in store order, lines in file order."""
    for path, lines in originals.items():
        written = 0
        try:
            for block in read_items(path, lambda obj: True):
                if not isinstance(block, LineBlock):
                    raise CotlensError(f"--original: {path} no longer reads as JSON Lines")
                for item in block.items():
                    if int(item.locator.split()[1]) in lines:
                        sink.write((item.raw or b"") + b"\n")
                        written += 1
        except InputError as e:
            raise CotlensError(f"--original: {path}: {e}") from None
        if written != len(lines):
            raise CotlensError(
                f"--original: {path} changed since it was ingested ({len(lines) - written} line(s) gone)"
            )


def _write_exclusions(
    out: IO[bytes], dropped: pa.Table, failed: np.ndarray[Any, Any], conditions: list[Condition]
) -> None:
    columns = dropped.select(
        ["transcript_id", "source_id", "model", "source_path", "source_locator"]
    ).to_pylist()
    for row, index in zip(columns, failed.tolist(), strict=True):
        out.write(json_bytes({**row, "failed": conditions[index].text}) + b"\n")


class _JsonLines:
    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink

    def write(self, table: pa.Table) -> None:
        for row in table.select(RECORD_COLUMNS).to_pylist():
            row["tags"] = dict(row["tags"])
            self.sink.write(json_bytes(row) + b"\n")


class _Parquet:
    def __init__(self, sink: IO[bytes]) -> None:
        self.writer = pq.ParquetWriter(sink, schema(), compression="zstd")

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table.select(schema().names))


class _WriteBehind:
    """An output's writes, done in order by a thread of their own, at most two behind: encoding and compressing
    the kept transcripts (the filter's bottleneck, in Arrow, without the GIL) overlaps with reading and judging
    the next batch. Leaving waits for them (or, on an error, for the one under way)."""

    def __init__(self, write: Callable[[pa.Table], None]) -> None:
        self.write = write
        self.thread = ThreadPoolExecutor(1)
        self.pending: deque[Future[None]] = deque()

    def __call__(self, table: pa.Table) -> None:
        self.pending.append(self.thread.submit(self.write, table))
        while len(self.pending) > 2:
            self.pending.popleft().result()

    def __enter__(self) -> _WriteBehind:
        return self

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        try:
            while error is None and self.pending:
                self.pending.popleft().result()
        finally:
            self.thread.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _output(path: str, staged: _Staged) -> Iterator[_JsonLines | _Parquet]:
    """The kept transcripts' writer: JSON Lines to stdout for "-", Parquet for a .parquet path, else JSON Lines."""
    if path == "-":
        yield _JsonLines(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    sink = staged.open(path)
    if path.endswith(".parquet"):
        parquet = _Parquet(sink)
        try:
            yield parquet
        except BaseException:
            # Closed now, while its file is open (the staged file goes anyway), not by the garbage collector.
            with suppress(OSError, ValueError, pa.ArrowException):
                parquet.writer.close()
            raise
        parquet.writer.close()
    else:
        yield _JsonLines(sink)


class _Staged:
    """Output files written aside, renamed into place together when the block succeeds; on any failure each is
    removed, so an interrupted or failed run leaves no output at all."""

    def __init__(self) -> None:
        self.files: list[tuple[str, str, IO[bytes]]] = []
        self.devices: list[IO[bytes]] = []

    def open(self, path: str) -> IO[bytes]:
        if is_device(path):  # nothing to stage: written as it goes
            sink = open(path, "wb")  # noqa: SIM115 (closed when the block ends)
            self.devices.append(sink)
            return sink
        tmp = f"{path}.tmp-{os.getpid()}"
        sink = open(tmp, "wb")  # noqa: SIM115 (closed when the block ends)
        self.files.append((tmp, path, sink))
        return sink

    def __enter__(self) -> _Staged:
        return self

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        try:
            for _tmp, _path, sink in self.files:
                sink.close()
            if error is None:
                for tmp, path, _sink in self.files:
                    os.replace(tmp, path)
        finally:
            for tmp, _path, sink in self.files:
                sink.close()
                with suppress(FileNotFoundError):
                    os.remove(tmp)
            for device in self.devices:
                with suppress(OSError):
                    device.close()


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
