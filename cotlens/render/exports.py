"""`filter`'s outputs: the kept transcripts (JSON Lines to a file or stdout, one Parquet file, or a directory of
Parquet files written on every core), the exclusions file, and the kept transcripts' input records as read.

Exports is the sink analyses/filter.py hands its judged batches to. Outputs that cannot be written as asked are
refused before anything is read; files are written aside and renamed into place together once every batch is
written, so an interrupted or failed run leaves no output at all.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from cotlens.analyses.filter import FilterOptions, Judged, is_device
from cotlens.errors import CotlensError, InputError, UsageError
from cotlens.escape import json_bytes
from cotlens.record import RECORD_FIELDS, schema
from cotlens.runtime.early import default_jobs

# The canonical record, as JSON Lines output carries it (Parquet output carries every stored column).
RECORD_COLUMNS = [f.name for f in RECORD_FIELDS]
# Transcript texts, unique per transcript: no dictionary encoding (pyarrow would build one per column chunk and
# drop it as too large) and no min/max statistics (no reader prunes on them); 10-15% less of the writer's CPU.
UNIQUE_TEXTS = ("reasoning", "answer")
TEXTS = ("prompt", *UNIQUE_TEXTS)
# Dictionary encoding only where values repeat: the string columns but for the texts and the ids. Numbers, flags
# and lists are written plain, which is smaller for them and a third less of the writer's CPU for the columns
# other than the texts (bench/README.md).
UNIQUE_STRINGS = ("transcript_id", "source_id", "source_locator", *UNIQUE_TEXTS)
# A directory output's files, in store order: read back sorted by name, they give the one-file output's rows.
PART = "part-{:06d}.parquet"
PART_GLOB = "part-*.parquet"
EXCLUSION_COLUMNS = ["transcript_id", "source_id", "model", "source_path", "source_locator"]


def is_directory_output(path: str) -> bool:
    return path.endswith("/")


class Exports:
    """The kept transcripts to `options.out`, the dropped ones to the exclusions file (a FilterSink)."""

    def __init__(self, options: FilterOptions, jobs: int | None = None) -> None:
        if options.out is None:
            raise ValueError("Exports needs an output path")
        self.out = options.out
        self.exclusions = options.exclusions_path()
        self.force = options.force
        self.original = options.original
        self.jobs = jobs or default_jobs()
        self.originals: dict[str, set[int]] = {}  # with --original: the kept transcripts' input lines
        self.staged = _Staged()  # anew on each entry
        self.writer: _JsonLines | _Parquet | _ParquetParts | None = None
        self.behind: _WriteBehind | None = None
        self.excluded: IO[bytes] | None = None

    def check(self, store_root: Path) -> None:
        """Refuse outputs that cannot be written as asked: one path for both outputs, a directory given as a file
        (or a file as a directory), a missing directory, a file of the store (whatever --force says: the store's
        files are its own), an existing output without --force."""
        paths = {
            name: path
            for name, path in (("--out", self.out), ("--exclusions", self.exclusions))
            if path not in (None, "-")
        }
        targets = {name: Path(os.path.realpath(path)) for name, path in paths.items()}
        if len(set(targets.values())) < len(targets):
            raise UsageError(f"--out and --exclusions are the same file ({paths['--out']}): give two paths")
        store = Path(os.path.realpath(store_root))
        for name, path in paths.items():
            target = targets[name]
            if target == store or store in target.parents:
                raise UsageError(
                    f"{name} {path} is inside the store {store_root}: write outputs outside it (even --force "
                    "may not replace or add the store's files)"
                )
            if name == "--out" and is_directory_output(path):
                self._check_directory(path, target)
                continue
            if target.is_dir() or is_directory_output(path):
                raise UsageError(
                    f"{name} {path} is a directory: give a file path (--out DIR/ for Parquet files)"
                )
            if not target.parent.is_dir():
                raise UsageError(f"{name} {path}: no directory {target.parent} to write it in")
            if os.path.lexists(path) and not self.force and not is_device(path):
                raise UsageError(f"{path} exists: give --force to replace it")

    def _check_directory(self, path: str, target: Path) -> None:
        """A directory output is new, or empty, or (with --force) a former one: nothing but its Parquet files."""
        if not target.parent.is_dir():
            raise UsageError(f"--out {path}: no directory {target.parent} to write it in")
        here = Path(os.path.realpath(os.getcwd()))
        if target == here or target in here.parents:  # replaced, it would pull the ground from under the run
            raise UsageError(f"--out {path} holds the current directory: give a directory beside or below it")
        if not os.path.lexists(target):
            return
        if not target.is_dir():
            raise UsageError(f"--out {path}: {target} exists and is not a directory")
        entries = list(target.iterdir())
        if entries and any(not (e.match(PART_GLOB) and e.is_file()) for e in entries):
            raise UsageError(
                f"--out {path} holds other files than a filter output's {PART_GLOB}: give another"
            )
        if entries and not self.force:
            raise UsageError(f"{path} exists: give --force to replace it")

    def __enter__(self) -> Exports:
        self.staged, self.originals, self.behind, self.excluded = _Staged(), {}, None, None
        try:
            self.writer = self._open_writer()
            if not isinstance(self.writer, _ParquetParts):  # writes behind on its own threads
                self.behind = _WriteBehind(self.writer.write)
            if self.exclusions is not None:
                self.excluded = self.staged.open(self.exclusions)
        except BaseException:
            self.staged.__exit__(*sys.exc_info())
            raise
        return self

    def _open_writer(self) -> _JsonLines | _Parquet | _ParquetParts:
        """JSON Lines to stdout for "-", Parquet files for DIR/, a Parquet file for a .parquet path, else JSON
        Lines."""
        if self.out == "-":
            return _JsonLines(sys.stdout.buffer)
        if is_directory_output(self.out):
            return _ParquetParts(self.staged.directory(self.out), self.jobs)
        if self.out.endswith(".parquet") and not is_device(self.out):
            # By its path: Arrow writes the file itself, where through a Python file object each of its writes
            # would wait for the GIL, which judging the next batch holds (bench/README.md). Absolute: Arrow would
            # read a relative name such as `s3:x.parquet` as a URI.
            return _Parquet(os.path.abspath(self.staged.reserve(self.out)))
        sink = self.staged.open(self.out)
        return _Parquet(sink) if self.out.endswith(".parquet") else _JsonLines(sink)

    def write(self, judged: Judged) -> None:
        keep = judged.failed < 0
        if keep.any():
            kept = judged.kept()
            if self.original:
                _note_lines(self.originals, kept)
            elif isinstance(self.writer, _ParquetParts):
                self.writer.write(kept)
            elif self.behind is not None:
                self.behind(kept)
        if self.excluded is not None and not keep.all():
            _write_exclusions(self.excluded, *judged.dropped())

    def __exit__(
        self, error: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        failure = error
        try:
            try:
                if self.behind is not None:
                    self.behind.finish(error)
                if error is None and self.original and isinstance(self.writer, _JsonLines):
                    _write_originals(self.writer.sink, self.originals)
            except BaseException as e:
                failure = type(e)
                raise
            finally:
                if self.writer is not None:  # closed on a failure too: its file is closed next
                    self.writer.close(failure)
        except BaseException:
            self.staged.__exit__(*sys.exc_info())
            raise
        self.staged.__exit__(error, value, tb)


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
    from cotlens.sources import LineBlock, read_items  # only --original reads the inputs again

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


def _write_exclusions(out: IO[bytes], dropped: pa.Table, reasons: list[str]) -> None:
    rows = dropped.select(EXCLUSION_COLUMNS).to_pylist()
    for row, reason in zip(rows, reasons, strict=True):
        out.write(json_bytes({**row, "failed": reason}) + b"\n")


class _JsonLines:
    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink

    def write(self, table: pa.Table) -> None:
        for row in table.select(RECORD_COLUMNS).to_pylist():
            row["tags"] = dict(row["tags"])
            self.sink.write(json_bytes(row) + b"\n")

    def close(self, error: type[BaseException] | None) -> None:
        if self.sink is sys.stdout.buffer and error is None:
            self.sink.flush()


def _parquet_writer(sink: str | IO[bytes]) -> pq.ParquetWriter:
    """Every stored column, zstd-compressed as the store's own files (pyarrow's default level)."""
    fields = schema()
    repeated = [
        f.name
        for f in fields
        if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)) and f.name not in UNIQUE_STRINGS
    ]
    return pq.ParquetWriter(
        sink,
        fields,
        compression="zstd",
        use_dictionary=repeated,
        write_statistics=[n for n in fields.names if n not in TEXTS],
    )


class _Parquet:
    def __init__(self, sink: str | IO[bytes]) -> None:
        self.writer = _parquet_writer(sink)

    def write(self, table: pa.Table) -> None:
        self.writer.write_table(table.select(schema().names))

    def close(self, error: type[BaseException] | None) -> None:
        # On an error too, while its file is open (the staged file goes anyway), not by the garbage collector.
        with suppress(*(() if error is None else (OSError, ValueError, pa.ArrowException))):
            self.writer.close()


def _write_part(path: Path, table: pa.Table) -> None:
    with _parquet_writer(str(path)) as writer:
        writer.write_table(table.select(schema().names))


class _ParquetParts:
    """A directory of Parquet files, PART numbered in store order, one per batch of kept transcripts (a row group
    of the store or so), `jobs` of them written at once by threads: pyarrow encodes and compresses one file on
    one thread, the filter's bottleneck. Cutting a batch into smaller files cost more CPU than it saved on a
    busy machine (more footers, smaller pages). At most two files per thread wait to be written."""

    def __init__(self, directory: Path, jobs: int) -> None:
        self.directory = directory
        self.jobs = jobs
        self.threads = ThreadPoolExecutor(jobs)
        self.pending: deque[Future[None]] = deque()
        self.files = 0

    def write(self, table: pa.Table) -> None:
        path = self.directory / PART.format(self.files)
        self.files += 1
        self.pending.append(self.threads.submit(_write_part, path, table))
        while len(self.pending) > 2 * self.jobs:
            self.pending.popleft().result()

    def close(self, error: type[BaseException] | None) -> None:
        try:
            while error is None and self.pending:
                self.pending.popleft().result()
            if error is None and self.files == 0:  # nothing kept: one empty file, so readers get the schema
                _write_part(self.directory / PART.format(0), schema().empty_table())
        finally:
            self.threads.shutdown(wait=True, cancel_futures=True)


class _WriteBehind:
    """An output's writes, done in order by a thread of their own, at most two behind: encoding and compressing
    the kept transcripts (the filter's bottleneck, in Arrow, without the GIL) overlaps with reading and judging
    the next batch. Finishing waits for them (or, on an error, for the one under way)."""

    def __init__(self, write: Callable[[pa.Table], None]) -> None:
        self.write = write
        self.thread = ThreadPoolExecutor(1)
        self.pending: deque[Future[None]] = deque()

    def __call__(self, table: pa.Table) -> None:
        self.pending.append(self.thread.submit(self.write, table))
        while len(self.pending) > 2:
            self.pending.popleft().result()

    def finish(self, error: type[BaseException] | None) -> None:
        try:
            while error is None and self.pending:
                self.pending.popleft().result()
        finally:
            self.thread.shutdown(wait=True, cancel_futures=True)


class _Staged:
    """Output files (and a directory output) written aside, renamed into place together when the block succeeds;
    on any failure each is removed, so an interrupted or failed run leaves no output at all."""

    def __init__(self) -> None:
        self.files: list[tuple[str, str, IO[bytes] | None]] = []
        self.directories: list[tuple[Path, Path]] = []
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

    def reserve(self, path: str) -> str:
        """The path to write `path`'s file at, aside, created empty (so that a path that cannot be written fails
        here, as open() does); whoever writes it closes it before the block ends."""
        tmp = f"{path}.tmp-{os.getpid()}"
        open(tmp, "wb").close()
        self.files.append((tmp, path, None))
        return tmp

    def directory(self, path: str) -> Path:
        final = Path(os.path.realpath(path))  # `./` and `..` have no name to stage beside
        tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
        tmp.mkdir()
        self.directories.append((tmp, final))
        return tmp

    def __enter__(self) -> _Staged:
        return self

    def __exit__(
        self, error: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            for _tmp, _path, sink in self.files:
                if sink is not None:
                    sink.close()
            if error is None:
                for tmp, path, _sink in self.files:
                    os.replace(tmp, path)
                for tmp_dir, final in self.directories:
                    _replace_directory(tmp_dir, final)
        finally:
            for tmp, _path, sink in self.files:
                if sink is not None:
                    sink.close()
                with suppress(FileNotFoundError):
                    os.remove(tmp)
            for tmp_dir, _final in self.directories:
                shutil.rmtree(tmp_dir, ignore_errors=True)
            for device in self.devices:
                with suppress(OSError):
                    device.close()


def _replace_directory(staged: Path, final: Path) -> None:
    """`staged` renamed to `final`; a former output there (checked to hold only its Parquet files) is moved aside
    first and removed after, so `final` never holds a mix of the two."""
    if not os.path.lexists(final):
        os.rename(staged, final)
        return
    former = final.with_name(f"{final.name}.old-{os.getpid()}")
    os.rename(final, former)
    os.rename(staged, final)
    shutil.rmtree(former, ignore_errors=True)
