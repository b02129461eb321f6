"""Tables in: Parquet files, Arrow IPC files (Feather v2) and streams, and the folders Hugging Face tools leave on
disk (`datasets.save_to_disk`: `state.json` + `data-*.arrow`; a hub download: `data/*.parquet`).

Each row becomes one record, a dict as if it were a JSON object, for the same sniffers and formats as JSON input.
A table is recognized by its content (magic bytes), not its name. It is read a row group (Parquet) or record batch
(Arrow) at a time and handed on in `RowBlock`s of at most about SLICE_BYTES, so memory does not grow with the file;
a block is turned into dicts where it is parsed (maybe in a worker process: a record batch pickles as its buffers).

A null cell reads as an absent field, at any depth (Parquet cannot tell the two apart, and a file made from
records of several shapes has a column for every field any of them has). The locator of a record is `row N`, its
index in the whole file counted from 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from cotlens import location
from cotlens.errors import InputError
from cotlens.formats.base import Context
from cotlens.record import RECORD_FIELDS
from cotlens.store import MANIFEST, TRANSCRIPTS

if TYPE_CHECKING:
    from cotlens.sources import Item

PARQUET_MAGIC = b"PAR1"  # at the start and at the end of a Parquet file
# An Arrow IPC file (Feather v2) is this magic and padding, an IPC stream, a footer and the magic again.
ARROW_FILE_MAGIC = b"ARROW1"
ARROW_FILE_HEADER = 8  # the magic and its padding to 8 bytes
# An IPC stream's first message (its schema) starts with the continuation marker, then a positive length.
ARROW_STREAM_MAGIC = b"\xff\xff\xff\xff"
FEATHER_V1_MAGIC = b"FEA1"
HEAD_BYTES = 8
# Names a directory walk takes as tables without opening them (others are recognized by content when read).
TABLE_SUFFIXES = (".parquet", ".arrow", ".arrows", ".feather", ".ipc")
# What a dataset repository downloaded from the Hugging Face hub has beside its `data/` folder: the dataset card,
# the repository's attributes, and the download cache `huggingface-cli download --local-dir` keeps.
HUB_MARKERS = ("README.md", ".gitattributes", ".cache/huggingface")
# JSON files Hugging Face tools write beside a dataset's tables: descriptions of the dataset, not records.
DATASET_METADATA = ("dataset_info.json", "dataset_infos.json", "state.json", "dataset_dict.json")
# Rows go to a parser in blocks of about this many bytes of Arrow data, and at most MAX_SLICE_ROWS rows.
SLICE_BYTES = 8 << 20
MAX_SLICE_ROWS = 4096
# A cotlens export or store part file is read for these columns only: the measurements are recomputed at ingest.
RECORD_COLUMNS = [f.name for f in RECORD_FIELDS]


def table_kind(head: bytes) -> str | None:
    """The kind of table (parquet, arrow-file, arrow-stream, feather-v1) these first bytes open; None: no table."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ARROW_FILE_MAGIC):
        return "arrow-file"
    if head.startswith(ARROW_STREAM_MAGIC) and len(head) >= HEAD_BYTES and head[4:8] != b"\x00\x00\x00\x00":
        return "arrow-stream"
    if head.startswith(FEATHER_V1_MAGIC):
        return "feather-v1"
    return None


@dataclass(frozen=True, slots=True)
class RowBlock:
    """Consecutive rows of a table (`batch`), or rows that could not be read (`error`, `unread` of them)."""

    batch: pa.RecordBatch | None
    first_row: int
    context: Context = field(default_factory=Context)
    error: str | None = None
    unread: int = 0

    def items(self) -> Iterator[Item]:
        from cotlens.sources import Item  # sources hands tables to this module

        records, error = self._records()
        if records is None:
            for i in range(self.unread if self.batch is None else self.batch.num_rows):
                yield Item(f"row {self.first_row + i}", error=error)
            return
        for i, (record, repairs) in enumerate(records):
            yield Item(f"row {self.first_row + i}", obj=record, repairs=repairs, context=self.context)

    def _records(self) -> tuple[list[tuple[dict[str, Any], list[str]]] | None, str | None]:
        if self.batch is None:
            return None, self.error
        try:
            return batch_records(self.batch), None
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as e:
            # Values Python has no form for (a date beyond year 9999, a time zone this machine does not know).
            return None, f"unreadable values: {e}"


def batch_records(batch: pa.RecordBatch) -> list[tuple[dict[str, Any], list[str]]]:
    """The rows of a batch as dicts without their null fields, column by column (each column converted at once),
    with the repairs each row needed (binary text that is not valid UTF-8)."""
    names = batch.schema.names
    columns: list[list[Any]] = []
    repaired: set[int] = set()
    for column in batch.columns:
        values = column.to_pylist(maps_as_pydicts="lossy")
        if _is_binary(column.type):
            values = _decoded(values, repaired)
        elif _is_nested(column.type):
            values = [_pruned(v) for v in values]
        columns.append(values)
    rows = [
        {k: v for k, v in zip(names, row, strict=True) if v is not None} for row in zip(*columns, strict=True)
    ]
    if not names:  # a table without columns still has its rows
        rows = [{} for _ in range(batch.num_rows)]
    return [(row, ["invalid-utf8"] if i in repaired else []) for i, row in enumerate(rows)]


def _is_binary(t: pa.DataType) -> bool:
    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t))


def _is_nested(t: pa.DataType) -> bool:
    return bool(pa.types.is_nested(t))


def _decoded(values: list[Any], repaired: set[int]) -> list[Any]:
    """Text kept in a binary column, as strings; bytes that are not UTF-8 replaced by U+FFFD (a repair)."""
    out: list[Any] = []
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(value.decode("utf-8", errors="replace"))
            repaired.add(i)
    return out


def _pruned(value: Any) -> Any:
    """A nested value without the null fields of its objects (list entries stay, null or not)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def read_table(
    source: str,
    stream: IO[bytes],
    kind: str,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[RowBlock]:
    """The rows of one table input (`stream` is its open file, already peeked at, or stdin)."""
    context = Context({"dataset": dataset_name(source)})
    report = on_progress or (lambda position: None)
    if kind == "feather-v1":
        raise InputError("a Feather version 1 file: write it again as Feather version 2 (pyarrow.feather)")
    # A regular file is opened again by Arrow (mapped, or read natively), an object on object storage for reads
    # at any offset (a Parquet file's footer, then its row groups); stdin or a pipe (`<(zstdcat x.zst)`), which a
    # second open would not find again, is read from the stream already open, a table there whole.
    remote = location.is_uri(source)
    regular = not remote and source != "-" and Path(source).is_file()
    if kind == "arrow-stream":
        with pa.OSFile(source) if regular else pa.PythonFile(stream, mode="r") as sequential:
            yield from _stream_blocks(sequential, 0, context, report)
        return
    with _random_access(source, stream, regular, remote) as data:
        if kind == "parquet":
            yield from _parquet_blocks(data, context, report)
        else:
            yield from _arrow_file_blocks(data, context, report)


def _random_access(source: str, stream: IO[bytes], regular: bool, remote: bool) -> pa.NativeFile:
    if regular:
        return pa.memory_map(source)
    if remote:
        try:
            return location.open_random(source)
        except OSError as e:
            raise InputError(f"cannot open: {location.failure(source, e)}") from None
    return pa.BufferReader(stream.read())


def _parquet_blocks(
    data: pa.NativeFile, context: Context, report: Callable[[int], None]
) -> Iterator[RowBlock]:
    """Row group by row group; a row group that cannot be read gives each of its rows as rejected."""
    try:
        parquet = pq.ParquetFile(data)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"corrupt Parquet file: {e}") from None
    columns = _wanted_columns(parquet.schema_arrow)
    size, first = data.size(), 0
    total = parquet.metadata.num_rows or 1
    for group in range(parquet.num_row_groups):
        meta = parquet.metadata.row_group(group)
        done = 0
        try:
            batches = parquet.iter_batches(
                batch_size=_slice_rows(meta.total_byte_size, meta.num_rows),
                row_groups=[group],
                columns=columns,
            )
            for batch in batches:
                yield RowBlock(batch, first + done, context)
                done += batch.num_rows
        except (pa.ArrowException, OSError) as e:
            error = f"unreadable Parquet row group {group}: {e}"
            yield RowBlock(None, first + done, context, error=error, unread=meta.num_rows - done)
        first += meta.num_rows
        report(size * first // total)


def _arrow_file_blocks(
    data: pa.NativeFile, context: Context, report: Callable[[int], None]
) -> Iterator[RowBlock]:
    """Batch by batch; a file without its footer (cut short) is read as the IPC stream it holds, up to the damage."""
    try:
        reader = pa.ipc.open_file(data)
    except (pa.ArrowException, OSError):
        reader = None
    if reader is None:
        data.seek(ARROW_FILE_HEADER)
        yield from _stream_blocks(data, ARROW_FILE_HEADER, context, report)
        raise InputError("truncated Arrow file: its footer is missing (the rows before the damage were read)")
    columns = _wanted_columns(reader.schema)
    first, batches = 0, reader.num_record_batches
    for i in range(batches):
        try:
            batch = reader.get_batch(i)
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"corrupt Arrow record batch {i} (after row {first}): {e}") from None
        if columns is not None:
            batch = batch.select(columns)
        yield from _slices(batch, first, context)
        first += batch.num_rows
        report(data.size() * (i + 1) // batches)


def _stream_blocks(
    data: pa.NativeFile, offset: int, context: Context, report: Callable[[int], None]
) -> Iterator[RowBlock]:
    first = 0
    try:
        reader = pa.ipc.open_stream(data)
        columns = _wanted_columns(reader.schema)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            if columns is not None:
                batch = batch.select(columns)
            yield from _slices(batch, first, context)
            first += batch.num_rows
            report(offset + data.tell())
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"corrupt or truncated Arrow data after row {first}: {e}") from None


def _slices(batch: pa.RecordBatch, first: int, context: Context) -> Iterator[RowBlock]:
    step = _slice_rows(batch.nbytes, batch.num_rows)
    for start in range(0, batch.num_rows, step):
        yield RowBlock(batch.slice(start, step), first + start, context)


def _slice_rows(nbytes: int, rows: int) -> int:
    per_row = max(1, nbytes // max(1, rows))
    return max(1, min(MAX_SLICE_ROWS, SLICE_BYTES // per_row))


def _wanted_columns(schema: pa.Schema) -> list[str] | None:
    """The canonical record's columns for cotlens's own exports and part files (their measurements are not
    needed: ingest makes them again); None (every column) for any other table."""
    return RECORD_COLUMNS if set(RECORD_COLUMNS) <= set(schema.names) else None


def parquet_data_size(source: str) -> int | None:
    """The uncompressed size of a Parquet file's data (what parsing it costs, like a JSON input's size); None for
    anything else (a pipe is not opened: reading it would consume it)."""
    try:
        if not Path(source).is_file():
            return None
        with open(source, "rb") as f:
            if table_kind(f.read(HEAD_BYTES)) != "parquet":
                return None
        meta = pq.read_metadata(source)
    except (OSError, pa.ArrowException):
        return None
    return sum(int(meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups))


def is_table_file(path: Path) -> bool:
    """Whether a directory walk takes this file as a table: by its name, or, without a suffix, by its content."""
    if path.name.endswith(TABLE_SUFFIXES):
        return True
    if path.suffix:
        return False
    try:
        with open(path, "rb") as f:
            return table_kind(f.read(HEAD_BYTES)) is not None
    except OSError:
        return False


def walk_root(folder: Path) -> Path:
    """Where a directory walk starts: a cotlens store's transcripts folder for a store (its manifest and rejects
    are not transcripts), else the folder itself."""
    if (folder / MANIFEST).is_file() and (folder / TRANSCRIPTS).is_dir():
        return folder / TRANSCRIPTS
    return folder


def is_dataset_metadata(path: Path) -> bool:
    """A JSON file that Hugging Face tools write beside a dataset's tables (`state.json`, `dataset_info.json`)."""
    if path.name not in DATASET_METADATA:
        return False
    folder = path.parent
    return any(is_table_file(p) for p in folder.iterdir() if p.is_file()) or any(
        (p / "state.json").is_file() for p in folder.iterdir() if p.is_dir()
    )


def dataset_name(source: str) -> str | None:
    """The name of the dataset folder a table sits in, the default `dataset` of its records: the folder of a
    `datasets.save_to_disk` (the one holding `dataset_dict.json` when it saved several splits), or the folder
    holding a hub download's `data/` folder (with a dataset card, `.gitattributes` or the download cache beside
    it). None for a table anywhere else."""
    if source == "-" or location.is_uri(source):
        return None
    path = Path(source).resolve()
    folder = path.parent
    if (folder / "state.json").is_file():
        return folder.parent.name if (folder.parent / "dataset_dict.json").is_file() else folder.name
    for parent in (folder, folder.parent):  # data/train-00000-of-00001.parquet, data/<config>/...
        if parent.name == "data" and any((parent.parent / marker).exists() for marker in HUB_MARKERS):
            return parent.parent.name or None
    return None
