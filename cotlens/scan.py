"""Selecting stored transcripts and running a kernel over them, row group by row group, in worker processes when
the store is large. The kernel is a picklable callable from an Arrow table (one row group, filtered, with the
current schema's columns) to a small result; results come back in store order."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cotlens.errors import CotlensError, UsageError
from cotlens.progress import tracked
from cotlens.record import REASONING_KINDS, schema
from cotlens.runtime.workers import map_ordered, pool_jobs, server_started, worker_pool
from cotlens.store import Store, open_part, parquet_dataset, part_metadata, part_version
from cotlens.suggest import did_you_mean

if TYPE_CHECKING:
    import pyarrow.dataset as ds

# pyarrow.dataset is imported where this process scans a dataset (selection filters, measurements, distinct
# values): the workers read row groups through pyarrow.parquet alone (read_row_group), and their server need not
# import it (0.01-0.03 s of its start).

R = TypeVar("R")
P = ParamSpec("P")
# Below this much stored data, starting worker processes costs more than it saves: the server they fork from
# imports their modules first. Once that server runs (the launcher starts it before the CLI's imports for a command
# that will read text), a pool costs little more than the forks, and splitting the work repays it sooner.
POOL_MIN_BYTES = 32 << 20
WARM_POOL_MIN_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class Selection:
    """Which transcripts an analysis reads: by model, dataset and reasoning kind."""

    models: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("raw", "summary")

    def columns(self) -> tuple[str, ...]:
        """The columns `mask` reads."""
        return (
            "reasoning_kind",
            *(("model",) if self.models else ()),
            *(("dataset",) if self.datasets else ()),
        )

    def expression(self) -> ds.Expression:
        """`mask` as a dataset filter, applied while scanning (in Arrow's threads, before any copy)."""
        import pyarrow.dataset as ds

        keep = ds.field("reasoning_kind").isin(list(self.kinds))
        if self.models:
            keep &= ds.field("model").isin(list(self.models))
        if self.datasets:
            keep &= ds.field("dataset").isin(list(self.datasets))
        return keep

    def mask(self, table: pa.Table) -> pa.Array:
        keep = pc.is_in(table["reasoning_kind"], pa.array(self.kinds, pa.string()))
        if self.models:
            keep = pc.and_(keep, pc.is_in(table["model"], pa.array(self.models, pa.string())))
        if self.datasets:
            keep = pc.and_(
                keep, pc.fill_null(pc.is_in(table["dataset"], pa.array(self.datasets, pa.string())), False)
            )
        return keep

    def describe(self) -> dict[str, Any]:
        return {"models": list(self.models), "datasets": list(self.datasets), "kinds": list(self.kinds)}


def check_selection(store: Store, selection: Selection) -> None:
    """A missing store, unknown model or dataset names and unknown kinds are errors that say what exists (the
    nearest names when some are near, else up to SHOWN_NAMES of them)."""
    store.require()  # no store (or a file in its place) is said as such, not as a store without the model
    unknown_kinds = sorted(set(selection.kinds) - set(REASONING_KINDS))
    if unknown_kinds:
        hint = did_you_mean(unknown_kinds[0], REASONING_KINDS) or f"; known: {', '.join(REASONING_KINDS)}"
        raise UsageError(f"unknown reasoning kind(s) {', '.join(unknown_kinds)}{hint}")
    for column, wanted in (("model", selection.models), ("dataset", selection.datasets)):
        if not wanted:
            continue
        present = distinct_values(store, column)
        missing = [w for w in wanted if w not in present]
        if missing:
            hint = did_you_mean(missing[0], present) or f"; it has: {listed(sorted(present))}"
            raise CotlensError(f"no {column} {', '.join(map(repr, missing))} in the store{hint}")


# An error lists at most this many names that exist.
SHOWN_NAMES = 12


def listed(names: list[str]) -> str:
    """Names for an error message: up to SHOWN_NAMES, then how many more; "(none)" for none."""
    if not names:
        return "(none)"
    more = f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
    return ", ".join(names[:SHOWN_NAMES]) + more


def check_group_key(store: Store, selection: Selection, by: str) -> None:
    """`--by tag:KEY` for a key no selected transcript has is a usage error that lists the keys present."""
    if not by.startswith("tag:"):
        return
    key = by[4:]
    table = store.read(columns=["tags"], filter=selection.expression())
    keys = sorted({k for chunk in table["tags"].chunks for k in chunk.keys.to_pylist()} - {None})
    if key not in keys:
        hint = did_you_mean(key, keys)
        raise UsageError(
            f"--by {by}: no selected transcript has the tag {key!r}{hint} (tags present: {listed(keys)})"
        )


def no_text(field: str, selection: Selection) -> CotlensError:
    """The error of an analysis that found nothing to measure."""
    return CotlensError(
        f"no transcripts with {field} text in the selection (kinds {', '.join(selection.kinds)})"
    )


def distinct_values(store: Store, column: str) -> set[str]:
    """The distinct non-null values of a string column, read dictionary-encoded: each row group's dictionary
    holds its distinct values, so no string is materialized per row."""
    parts = store.parts()
    if not parts:
        return set()
    import pyarrow.dataset as ds

    options = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=[column]))
    values: set[str] = set()
    with store.reading():
        for batch in parquet_dataset(parts, format=options).to_batches(columns=[column]):
            array = batch.column(0)
            values.update(v for v in array.dictionary.to_pylist() if v is not None)
    return values


@dataclass(frozen=True, slots=True)
class _Runner:
    kernel: Callable[[pa.Table], Any]
    columns: tuple[str, ...]
    selection: Selection

    def __call__(self, task: tuple[str, int, int, int]) -> Any:
        path, row_group, part, parts = task
        table = read_row_group(path, row_group, self.columns, self.selection)
        if parts > 1:  # one of `parts` consecutive runs of its rows (split_tail)
            start, end = (table.num_rows * k // parts for k in (part, part + 1))
            table = table.slice(start, end - start)
        return self.kernel(table)


def read_row_group(path: str, row_group: int, columns: tuple[str, ...], selection: Selection) -> pa.Table:
    """One row group with the requested columns (null where an older part lacks one), filtered. The selection's
    columns are read first: a row group without a selected row costs no text decoding."""
    parquet = _parquet_file(path, *part_version(path), threading.get_ident())
    keys = _read_columns(parquet, row_group, list(selection.columns()))
    keep = selection.mask(keys)
    if not pc.any(keep).as_py():
        return schema().empty_table().select(list(columns))
    rest = _read_columns(parquet, row_group, [c for c in columns if c not in keys.column_names])
    for name in keys.column_names:
        rest = rest.append_column(keys.schema.field(name), keys[name])
    return rows_where(rest, keep).select(list(columns))


@lru_cache(maxsize=4)
def _parquet_file(path: str, mtime_ns: int, size: int, thread: int) -> pq.ParquetFile:
    """A part file, its footer parsed once per process (a large part's takes a while: bench/README.md) and again
    when the file changed (`cotlens measure` rewrites parts in place). One per thread: a ParquetFile's reads are
    not safe from two threads at once (Arrow's read cache mixed their ranges up: "ReadRangeCache did not find
    matching cache entry"), and a library caller may scan from several."""
    return open_part(path)


def _read_columns(parquet: pq.ParquetFile, row_group: int, columns: list[str]) -> pa.Table:
    names = set(parquet.schema_arrow.names)
    present = [c for c in columns if c in names]
    # One thread: workers run one per core; in this process, one row group (kwic's first page) is little to split.
    table = parquet.read_row_group(row_group, columns=present, use_threads=False)
    for name in columns:
        if name not in present:
            field = schema().field(name)
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


def rows_where(table: pa.Table, keep: pa.Array | pa.ChunkedArray) -> pa.Table:
    """table.filter(keep), without the copy of every column when `keep` removes nothing (the usual case)."""
    return table if pc.all(keep).as_py() is not False else table.filter(keep)


# Text columns are large; everything else (metadata, measurements) is a few bytes a row.
TEXT_COLUMNS = frozenset({"prompt", "reasoning", "answer"})
# Rows per kernel call when scanning measurements: a row group (4,096 rows) is too few to amortize a call;
# 128k rows keep a kernel's dense per-term arrays (rows x terms x 8 bytes) near 50 MB.
SCAN_ROWS = 1 << 17


@contextlib.contextmanager
def scan_workers(store: Store, columns: tuple[str, ...]) -> Iterator[Executor | None]:
    """The worker processes `map_store` runs a kernel reading these columns in: one per core for a kernel that
    reads text from a store large enough to repay starting them, None (this process) otherwise. An analysis
    that opens them itself can hand them more work after the scan (groups.group_intervals)."""
    store.require()
    if TEXT_COLUMNS.isdisjoint(columns):
        yield None
        return
    with worker_pool(pool_jobs(repays_workers(store))) as pool:
        yield pool


def repays_workers(store: Store) -> bool:
    """Whether the store is large enough that worker processes repay their start (less large when the server
    they fork from runs already)."""
    least = WARM_POOL_MIN_BYTES if server_started() else POOL_MIN_BYTES
    return sum(part_version(p)[1] for p in store.parts()) >= least


def reading_errors(
    scan: Callable[Concatenate[Store, P], Iterator[R]],
) -> Callable[Concatenate[Store, P], Iterator[R]]:
    """A scan of the store whose unreadable part files are one StoreError naming them (Store.reading)."""

    @functools.wraps(scan)
    def wrapped(store: Store, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[R]:
        with store.reading():
            yield from scan(store, *args, **kwargs)

    return wrapped


@reading_errors
def map_store(
    store: Store,
    kernel: Callable[[pa.Table], R],
    columns: tuple[str, ...],
    selection: Selection,
    workers: Executor | Literal["own"] | None = "own",
    every: int = 1,
    split: bool = False,
) -> Iterator[R]:
    """kernel over the store's selected transcripts, in store order: over each row group in worker processes
    when it reads text, over large batches of a single multi-threaded Arrow scan when it reads only
    measurements (a million rows of them read in well under a second; worker processes would take longer to
    start). workers: those of `scan_workers`, or "own" to start (and stop) them here. every: the kernel runs
    over every n-th row group only (a bounded sample of a large store). split: the kernel may be given part of a
    row group's rows (its result over the parts, in order, is its result over the whole), so that the last row
    group can be shared out to keep every worker busy to the end (split_tail)."""
    store.require()
    if TEXT_COLUMNS.isdisjoint(columns):
        yield from _map_measurements(store, kernel, columns, selection, every)
        return
    if workers == "own":
        with scan_workers(store, columns) as pool:
            yield from map_store(store, kernel, columns, selection, pool, every, split)
        return
    groups = [(p, i) for p in store.parts() for i in range(part_metadata(p).num_row_groups)]
    jobs = pool_jobs(True) if workers is not None else 1
    tasks = split_tail(groups[::every], jobs if split else 1)
    window = 2 * jobs
    with tracked("reading text", len(tasks)) as step:
        for result in map_ordered(_Runner(kernel, columns, selection), tasks, workers, window):
            yield result
            step(1)


def split_tail(groups: list[tuple[str, int]], jobs: int) -> list[tuple[str, int, int, int]]:
    """The scan's tasks, (part file, row group, part, parts): every row group whole, but for the last, cut into
    as many parts as make the tasks a multiple of `jobs`. With 5 row groups and 2 workers, one worker would
    otherwise count the fifth alone while the other waits (at the 100 MB bench store, about 0.05 s of a second);
    each part reads the whole row group again, so only the last is cut."""
    tasks = [(path, group, 0, 1) for path, group in groups]
    short = -len(tasks) % jobs
    if not tasks or not short:
        return tasks
    path, group, _, _ = tasks.pop()
    return [*tasks, *((path, group, part, short + 1) for part in range(short + 1))]


def _map_measurements(
    store: Store,
    kernel: Callable[[pa.Table], R],
    columns: tuple[str, ...],
    selection: Selection,
    every: int = 1,
) -> Iterator[R]:
    def run(batches: list[pa.RecordBatch]) -> R:
        return kernel(pa.Table.from_batches(batches, schema=scanned))

    pending: list[pa.RecordBatch] = []
    rows = 0
    scanned = pa.schema([schema().field(c) for c in columns])
    dataset = store.dataset()
    if every > 1:
        import pyarrow.dataset as ds

        groups = [g for f in dataset.get_fragments() for g in f.split_by_row_group()][::every]
        dataset = ds.FileSystemDataset(groups, dataset.schema, dataset.format, dataset.filesystem)
    for batch in dataset.to_batches(columns=list(columns), filter=selection.expression()):
        pending.append(batch)
        rows += batch.num_rows
        if rows >= SCAN_ROWS:
            yield run(pending)
            pending, rows = [], 0
    if pending:
        yield run(pending)


def map_to_dense(column: pa.ChunkedArray, keys: Sequence[str]) -> npt.NDArray[np.int64]:
    """A map<string, integer> column as a (rows, len(keys)) array of its values; keys not asked for are dropped.
    Vectorized: one dictionary encoding of the keys, one scatter of the values."""
    maps = column.combine_chunks()
    out = np.zeros((len(maps), len(keys)), dtype=np.int64)
    offsets = maps.offsets.to_numpy()
    if len(maps) == 0 or offsets[-1] == offsets[0]:
        return out
    owner = np.repeat(np.arange(len(maps)), np.diff(offsets))
    # A sliced array's keys and items hold its neighbours' entries too: keep its own.
    entries = slice(int(offsets[0]), int(offsets[-1]))
    encoded = pc.dictionary_encode(maps.keys[entries])
    position = {k: i for i, k in enumerate(keys)}
    slots = np.array([position.get(k, -1) for k in encoded.dictionary.to_pylist()], dtype=np.int64)
    slot = slots[encoded.indices.to_numpy()]
    wanted = slot >= 0
    # A map's keys are distinct, so each (row, key) cell is written once.
    out[owner[wanted], slot[wanted]] = maps.items[entries].to_numpy()[wanted]
    return out


def list_to_dense(column: pa.ChunkedArray, width: int) -> npt.NDArray[Any]:
    """A column of lists of `width` numbers each (no nulls) as a (rows, width) array of the lists' type: a
    reshape of their values, no copy."""
    lists = column.combine_chunks()
    offsets = lists.offsets.to_numpy()
    values = lists.values.to_numpy()[offsets[0] : offsets[-1]]
    if lists.null_count or len(values) != len(lists) * width:
        raise ValueError(f"expected {len(lists)} lists of {width} values")
    dense: npt.NDArray[Any] = values.reshape(len(lists), width)
    return dense
