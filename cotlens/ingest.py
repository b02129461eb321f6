"""Ingest: stream input files into the store, accounting for every record.

Every input record ends up counted once: rejected (with its locator and reason in the rejects file), or parsed
into one or more transcripts, each of which is added or a duplicate of one already stored.

The reading process splits inputs into chunks of records; `parse.RecordParser` turns each chunk into Arrow rows
(here, and in worker processes beside this one for large inputs); this process then deduplicates, accounts and
writes, in input order.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cotlens import __version__
from cotlens.errors import InputError
from cotlens.formats import Format, sniffable_formats
from cotlens.formats.mapping import Mapping, parse_path
from cotlens.ids import Ids, empty_ids
from cotlens.limits import Limits
from cotlens.parse import (
    Chunk,
    ChunkResult,
    RecordParser,
    Warned,
    forced_format,
    set_stored_ids,
)
from cotlens.result import SCHEMA_VERSION
from cotlens.runtime.workers import JoinedPool, map_ordered, pool_jobs, prepare_pool, worker_pool
from cotlens.sources import Item, LineBlock, display_path, expand_paths, input_size, read_items
from cotlens.store import Store, StoreWriter, store_fingerprint
from cotlens.tabular import RowBlock, parquet_data_size

# Decoded records (JSON documents, archives) are parsed in groups of this many.
CHUNK_RECORDS = 4096
# With workers, JSON Lines are parsed in chunks of about this much: small enough for two processes to share a 40 MB
# input evenly, large enough that a chunk's fixed costs stay small (about 4% more CPU time than the 8 MB blocks
# they are read in, which one process parses whole).
CHUNK_BYTES = 4 << 20
# From this much input, a worker process per core but one shares the chunks with this process. Starting them costs
# about 0.6 CPU-s whatever the input (the server's imports, each worker's first chunk): under a fifth of the work
# from here (ingest takes about 0.09 CPU-s a MB on one core). Below, this process parses alone.
POOL_MIN_BYTES = 32 << 20


@dataclass
class IngestOptions:
    fmt: str = "auto"
    model: str | None = None  # supplies or overrides every record's model
    dataset: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    mapping: Mapping | None = None
    jobs: int | None = None  # worker processes; None: all cores for large inputs, none for small ones
    measure: bool = True  # False: leave intrinsic measurements to `cotlens measure` (or first use)
    limits: Limits = field(default_factory=Limits)

    def describe(self) -> dict[str, Any]:
        return {
            "from": "mapping" if self.mapping else self.fmt,
            "model": self.model,
            "dataset": self.dataset,
            "tags": self.tags,
            "measure": self.measure,
        }


@dataclass
class InputSummary:
    path: str
    records: int = 0
    rejected: int = 0
    transcripts: int = 0
    added: int = 0
    duplicate: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    repairs: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    first_reject: str | None = None
    warnings: dict[str, Warned] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "records": self.records,
            "rejected": self.rejected,
            "transcripts": self.transcripts,
            "added": self.added,
            "duplicate": self.duplicate,
            "formats": dict(self.formats),
            "repairs": dict(self.repairs),
            "error": self.error,
            "warnings": [
                {"message": m, "records": w.records, "first": w.first} for m, w in self.warnings.items()
            ],
        }


@dataclass
class ModelSummary:
    added: int = 0
    duplicate: int = 0


@dataclass
class IngestResult:
    run_id: str
    store: str
    inputs: list[InputSummary]
    models: dict[str, ModelSummary]
    rejects_file: str | None
    warnings: list[str] = field(
        default_factory=list
    )  # what a walk skipped; fields --dataset/--tag did not reach
    stored: bool = True  # False: no input could be read and no store existed, so none was created
    fingerprint: str = ""  # the store's, after the run

    @property
    def totals(self) -> dict[str, int]:
        return totals(self.inputs)

    @property
    def failed_inputs(self) -> list[InputSummary]:
        return [s for s in self.inputs if s.error]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "cotlens_version": __version__,
            "store_fingerprint": self.fingerprint,
            "run_id": self.run_id,
            "store": self.store,
            "totals": self.totals,
            "inputs": [s.to_dict() for s in self.inputs],
            "rejects_file": self.rejects_file,
            "models": {
                m: {"added": s.added, "duplicate": s.duplicate} for m, s in sorted(self.models.items())
            },
        }


def totals(inputs: list[InputSummary]) -> dict[str, int]:
    keys = ("records", "rejected", "transcripts", "added", "duplicate")
    return {k: sum(getattr(s, k) for s in inputs) for k in keys}


class Progress(Protocol):
    def start(self, source: str, total_bytes: int | None) -> None: ...
    def advance(self, position: int) -> None: ...
    def finish(self) -> None: ...


def ingest(
    paths: list[str],
    store: Store,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    on_wait: Callable[[], None] | None = None,
) -> IngestResult:
    """Read every input into the store. Bad records are rejected and counted; an input that cannot be read
    at all is reported in its summary's `error`; good records land either way."""
    options = options or IngestOptions()
    warnings: list[str] = []
    sources = expand_paths(paths, warnings.append)
    # Without measurements, or of transcripts the store holds (only parsed), a MB is about a quarter of the work:
    # workers repay their cost from 4x the size.
    size = sum(map(_data_size, sources))
    parsing_repays = size >= POOL_MIN_BYTES * 4
    jobs = options.jobs or pool_jobs(parsing_repays or (options.measure and size >= POOL_MIN_BYTES))
    prepare_pool(jobs)  # before the store's ids are read: the server imports meanwhile
    is_record = record_test(forced_format(options.fmt, options.mapping))
    records_path = (
        parse_path(options.mapping.records) if options.mapping and options.mapping.records else None
    )
    models: dict[str, ModelSummary] = {}
    summaries: list[InputSummary] = []
    with store.writer(options.describe(), on_wait) as writer, _pool(jobs, writer.seen.stored) as pool:
        parser = RecordParser(
            writer.run_id,
            options.fmt,
            options.mapping,
            options.model,
            options.dataset,
            tuple(sorted(options.tags.items())),
            options.measure,
            writer.legacy_ids,
        )
        staged = itertools.count()
        if isinstance(pool, JoinedPool) and (parsing_repays or not len(writer.seen.stored)):
            # Into an empty store every transcript is new, and from 4x the size even parsing alone repays the
            # workers (a re-ingest of 300 MB: 3.0 s with them, 4.0 s in this process): they will have work.
            pool.start()
        for source in sources:
            shown = display_path(source)  # as text, for the store, the rejects and the summary
            summary = InputSummary(shown)
            summaries.append(summary)
            if progress:
                progress.start(shown, input_size(source))
            try:
                advance = progress.advance if progress else None
                items = read_items(source, is_record, records_path, advance, options.limits)
                chunks = _chunks(shown, items, lambda: writer.staging_path(next(staged)), split=jobs > 1)
                for result in map_ordered(parser, chunks, pool, window=3 * jobs, local=lambda c: c.decoded):
                    _account(result, summary, models, writer)
                    if isinstance(pool, JoinedPool) and not result.decoded and result.in_staged.any():
                        # Transcripts new to the store, to measure and write: the work workers share (lines
                        # and table rows; records decoded while reading are parsed here). A smaller re-ingest,
                        # whose transcripts the store holds, is only parsed: here, as fast.
                        pool.start()
            except InputError as e:
                summary.error = str(e)
                writer.reject(
                    {
                        "source_path": shown,
                        "source_locator": "(input)",
                        "reason": str(e),
                        "ingest_run": writer.run_id,
                    }
                )
            finally:
                if progress:
                    progress.finish()
            if summary.records and summary.rejected == summary.records and not summary.error:
                # Not one record could be read: the input as a whole cannot be; say why once.
                summary.error = f"no record could be read ({summary.first_reject})"
        if writer.new_store and summaries and all(s.error and not s.transcripts for s in summaries):
            # Not one input gave a transcript (missing, corrupt, no record could be read): a store holding only
            # that news would be a side effect. The summary still counts every record and names the first reason.
            return IngestResult(
                writer.run_id,
                store.where,
                summaries,
                models,
                None,
                warnings,
                stored=False,
                fingerprint=store_fingerprint(store),
            )
        run = writer.commit({"inputs": [s.to_dict() for s in summaries], **totals(summaries)})
    return IngestResult(
        writer.run_id,
        store.where,
        summaries,
        models,
        run.get("rejects"),
        warnings=warnings + _warnings(summaries, options),
        fingerprint=store_fingerprint(store),
    )


def _warnings(summaries: list[InputSummary], options: IngestOptions) -> list[str]:
    """A duplicate is not stored again, so --dataset and --tag do not reach it: said, with how many."""
    duplicates = sum(s.duplicate for s in summaries)
    given = [name for name, value in (("--dataset", options.dataset), ("--tag", options.tags)) if value]
    if not duplicates or not given:
        return []
    return [
        f"{duplicates} duplicate transcript(s) keep the dataset and tags they were first stored with: "
        f"{' and '.join(given)} apply to added transcripts only"
    ]


def _data_size(source: str) -> int:
    """An input's bytes to parse: a Parquet file's uncompressed size, else the file's."""
    return (parquet_data_size(source) if source != "-" else None) or input_size(source) or 0


def record_test(forced: Format | None) -> Callable[[Any], bool]:
    """Whether a JSON object is a record (rather than a container of records), for JSON documents."""

    def is_record(obj: Any) -> bool:
        if not isinstance(obj, dict):
            return False
        if forced is not None:
            return bool(forced.sniff(obj))
        return any(f.sniff(obj) for f in sniffable_formats())

    return is_record


@contextlib.contextmanager
def _pool(jobs: int, stored: Ids) -> Iterator[Executor | None]:
    """Workers (None: parse in this process only), each knowing the ids already stored (sorted), as this process
    does: it parses too (decoded records, and beside local workers)."""
    # Joined: this process parses beside the workers (it would otherwise wait for their results most of the time).
    with worker_pool(jobs, set_stored_ids, (stored,), joined=True) as pool:
        set_stored_ids(stored)
        try:
            yield pool
        finally:
            set_stored_ids(empty_ids())


def _chunks(
    source: str,
    records: Iterator[Item | LineBlock | RowBlock],
    staging: Callable[[], str],
    split: bool = False,
) -> Iterator[Chunk]:
    """Line blocks (`split`: in parts of about CHUNK_BYTES) and row blocks go out as they are; decoded items are
    grouped. When the input breaks off (InputError), the records before the damage still go out before the
    error."""
    items: list[Item] = []
    try:
        for record in records:
            if isinstance(record, LineBlock | RowBlock):
                if items:  # records before the block go first: the first occurrence of a transcript wins
                    yield Chunk(source, staging(), items=items)
                    items = []
                for block in _split(record) if split and isinstance(record, LineBlock) else [record]:
                    yield Chunk(source, staging(), block=block)
                continue
            items.append(record)
            if len(items) >= CHUNK_RECORDS:
                yield Chunk(source, staging(), items=items)
                items = []
    except InputError:
        if items:
            yield Chunk(source, staging(), items=items)
        raise
    if items:
        yield Chunk(source, staging(), items=items)


def _split(block: LineBlock) -> Iterator[LineBlock]:
    """A block of lines in parts of about CHUNK_BYTES (as many as its size rounds to, of even sizes: no small
    remainder), each cut after a newline (a line longer than a part stays whole)."""
    data, lineno, start = block.data, block.first_lineno, 0
    parts = max(1, round(len(data) / CHUNK_BYTES))
    for part in range(1, parts):
        cut = data.find(b"\n", max(start, len(data) * part // parts - 1)) + 1
        if not cut or cut == len(data):
            break
        yield LineBlock(data[start:cut], lineno, block.limits)
        lineno += data.count(b"\n", start, cut)
        start = cut
    yield LineBlock(data[start:] if start else data, lineno, block.limits)


def _account(
    result: ChunkResult, summary: InputSummary, models: dict[str, ModelSummary], writer: StoreWriter
) -> None:
    """Count a parsed chunk, file its rejects, and keep its rows not stored before (first occurrence wins)."""
    summary.records += result.records
    summary.transcripts += result.transcripts
    summary.formats.update(result.formats)
    summary.repairs.update(result.repairs)
    for message, warned in result.warnings.items():
        if message in summary.warnings:
            summary.warnings[message].add(warned)
        else:
            summary.warnings[message] = warned
    for entry in result.rejects:
        summary.rejected += 1
        summary.first_reject = summary.first_reject or f"{entry['source_locator']}: {entry['reason']}"
        writer.reject(entry)
    keep = writer.first_seen(result.ids)
    added_of = np.bincount(result.model_of[keep], minlength=len(result.models))
    duplicate_of = np.bincount(result.model_of[~keep], minlength=len(result.models))
    for model, added, duplicate in zip(result.models, added_of.tolist(), duplicate_of.tolist(), strict=True):
        counts = models.setdefault(model, ModelSummary())
        counts.added += added
        counts.duplicate += duplicate
    # Rows missing from the staged file were in the store before the run: never new.
    added = writer.add_staged(result.staged, keep[result.in_staged]) if result.staged is not None else 0
    summary.added += added
    summary.duplicate += len(keep) - added
