"""The store: a directory of plain Parquet files plus a manifest, readable by any Parquet engine.

    STORE/manifest.json                       what was ingested, from where, when, with what counts
    STORE/transcripts/<run>/part-00000.parquet one directory per ingest run, made visible by one rename
    STORE/rejects/<run>.jsonl                 records that could not be ingested, with locator and reason
    STORE/.staging/<run>/                     work in progress (never read; cleaned by the next ingest)
    STORE/.lock                               ingests into one store take turns on this lock

Model names are data, never path components: run directories are named by time and a random suffix.

A store on object storage (`s3://`, `gs://`) has the same layout without the staging, the lock and the renames,
which object stores do not have: object_store.py.

The store owns its files and knows no measurement: the schema comes from the record (and the kernels' registry
through it), and filling measurements is cotlens/intrinsic.py's, above. Over 400 lines on purpose: every write
into the store (staging, the lock, the atomic commit, recovery) is here, so its crash safety reads in one file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from cotlens import __version__, location
from cotlens.errors import StoreError, UsageError
from cotlens.escape import json_bytes
from cotlens.ids import ID_DTYPE, Ids, SeenIds, empty_ids, ids_from_column
from cotlens.record import part_schema, schema

if TYPE_CHECKING:
    import pyarrow.dataset as ds

# pyarrow.dataset (with what it imports, 0.01-0.03 s) is imported where a dataset is made: the worker processes
# read row groups through pyarrow.parquet alone, and their server need not import it.

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
# How transcript ids are made (parse.transcript_id). A manifest without `id_scheme` over stored transcripts is of
# scheme 1 (parse.legacy_transcript_id): its ingests also look each transcript up by its scheme-1 id.
ID_SCHEME = 2
TRANSCRIPTS = "transcripts"
REJECTS = "rejects"
STAGING = ".staging"
DEFAULT_STORE = "cotlens-store"


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest as indented JSON whose strings (input paths, options, reasons) carry no raw control, bidi or
    line-separator character: they are written as \\u escapes, the same strings to a JSON reader."""
    return json_bytes(manifest, indent=True)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def store_fingerprint(store: Store) -> str:
    """What a store holds, in 16 hex digits: a hash of its manifest (every ingest run, its parts and counts),
    so two outputs with the same fingerprint were computed over the same transcripts. An empty store hashes
    the empty manifest."""
    return hashlib.blake2b(store.manifest_data() or b"", digest_size=8).hexdigest()


class Store:
    """A cotlens store at `root` (created on first ingest): a local directory, or, for an `s3://` or `gs://`
    URI, an ObjectStore (object_store.py)."""

    def __new__(cls, root: str | os.PathLike[str] | None = None) -> Store:
        # (root is None when a store is unpickled: it is sent to worker processes.)
        if cls is Store and root is not None and location.is_uri(root):
            from cotlens.object_store import ObjectStore

            return super().__new__(ObjectStore)
        if isinstance(root, str) and not root.strip():
            # Path("") is the current directory: an ingest would write its store files among the user's.
            raise UsageError("the store path is empty: give --store PATH (or COTLENS_STORE)")
        refused = location.unsupported(root) if isinstance(root, str) else None
        if refused:
            raise UsageError(f"store {root}: {refused}")
        return super().__new__(cls)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __getstate__(self) -> dict[str, Any]:
        """A store sent to a worker names its folder absolutely, as parts() does: a Ray cluster's workers need
        not share this process's working directory."""
        return {**self.__dict__, "root": Path(os.path.abspath(self.root))}

    @property
    def where(self) -> str:
        """The store as said in messages and summaries."""
        return str(self.root)

    @property
    def transcripts_dir(self) -> Path:
        return self.root / TRANSCRIPTS

    def exists(self) -> bool:
        return (self.root / MANIFEST).is_file() or self.transcripts_dir.is_dir()

    def require(self) -> None:
        self._require_directory()
        if not self.exists():
            raise StoreError(
                f"no cotlens store at {self.root} (create one with `cotlens ingest`, "
                "or point --store / COTLENS_STORE at one)"
            )

    def _require_directory(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root} is a file, not a store directory: point --store at a directory")

    def manifest_data(self) -> bytes | None:
        """The manifest's bytes; None for a store without one."""
        path = self.root / MANIFEST
        if not path.exists():
            return None
        try:
            return path.read_bytes()
        except OSError as e:
            raise StoreError(f"unreadable manifest {path}: {e}") from None

    def manifest(self) -> dict[str, Any]:
        data = self.manifest_data()
        if data is None:
            return {"schema_version": MANIFEST_VERSION, "runs": []}
        where = f"{self.where}/{MANIFEST}"
        try:
            manifest: dict[str, Any] = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise StoreError(f"unreadable manifest {where}: {e}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), list):
            raise StoreError(f"damaged manifest {where}: not an object with a list of runs")
        return manifest

    def part_files(self) -> list[Path]:
        """The part files of a store in a local directory."""
        if not self.transcripts_dir.is_dir():
            return []
        return sorted(self.transcripts_dir.glob("*/*.parquet"))

    def parts(self) -> list[str]:
        """The part files, in store order, as paths that open_part and workers (local or Ray) can read: absolute,
        since a Ray cluster's workers need not share this process's working directory."""
        return [os.path.abspath(p) for p in self.part_files()]

    def dataset(self) -> ds.Dataset:
        """All stored transcripts as one pyarrow dataset with the current schema (columns added by newer
        versions read as null from older parts)."""
        self.require()
        return parquet_dataset(self.parts(), schema=schema(), format="parquet")

    def read(self, columns: list[str] | None = None, filter: ds.Expression | None = None) -> pa.Table:
        with self.reading():
            return self.dataset().to_table(columns=columns, filter=filter)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """A part file that cannot be read (damaged, truncated, not Parquet, unreadable) is a one-line StoreError
        naming it, never a traceback."""
        try:
            yield
        except (OSError, pa.ArrowException) as e:
            raise StoreError(self._read_error(e)) from None

    def _read_error(self, error: BaseException) -> str:
        cause = first_line(error)
        for part in self.parts():
            try:
                part_metadata(part)
            except (OSError, pa.ArrowException) as e:
                return (
                    f"damaged part file {shown_part(part)}: {first_line(e)} (move its run directory out of the "
                    "store to read the rest)"
                )
        return f"cannot read the store {self.where}: {cause}"

    @contextlib.contextmanager
    def writer(self, options: dict[str, Any], on_wait: Any = None) -> Iterator[StoreWriter]:
        """Exclusive write access for one ingest run; commit() makes its data visible atomically. Leaving the
        block without commit() (an error, Ctrl-C, nothing worth a store) discards the run, and a store this run
        created goes with it. A failed write (read-only store, full disk) is a StoreError naming the cause."""
        created = not self.root.exists()
        writer: StoreWriter | None = None
        try:
            with self.writing(), self.locked(on_wait):
                self._recover()
                writer = StoreWriter(self, options, new_store=created)
                try:
                    yield writer
                finally:
                    writer.discard()
        finally:
            if created and (writer is None or not writer.committed):
                shutil.rmtree(self.root, ignore_errors=True)

    @contextlib.contextmanager
    def writing(self, outcome: str = "the store is unchanged") -> Iterator[None]:
        """OSErrors of writing into the store become one StoreError that names the cause, then the outcome."""
        try:
            yield
        except OSError as e:
            raise StoreError(f"{write_error(self.root, e)}; {outcome}") from None

    @contextlib.contextmanager
    def locked(self, on_wait: Any = None) -> Iterator[None]:
        """Exclusive write access: writers into one store (ingest, measure) take turns."""
        self._require_directory()
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / ".lock", on_wait):
            yield

    def _recover(self) -> None:
        """Clean what a crashed run left: its staging directory, and register run directories that were renamed
        into place just before a crash but never reached the manifest."""
        shutil.rmtree(self.root / STAGING, ignore_errors=True)
        manifest = self.manifest()
        known = {run["run_id"] for run in manifest["runs"]}
        orphans = (
            [d for d in sorted(self.transcripts_dir.glob("*")) if d.is_dir() and d.name not in known]
            if self.transcripts_dir.is_dir()
            else []
        )
        if orphans:
            for d in orphans:
                manifest["runs"].append(
                    {
                        "run_id": d.name,
                        "recovered": True,
                        "finished": now_iso(),
                        "parts": [f"{TRANSCRIPTS}/{d.name}/{p.name}" for p in sorted(d.glob("*"))],
                    }
                )
            self._write_manifest(manifest)

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        tmp = self.root / f".{MANIFEST}.tmp"
        try:
            tmp.write_bytes(manifest_bytes(manifest))
            os.replace(tmp, self.root / MANIFEST)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def legacy_ids(self) -> bool:
        """Whether the stored transcripts carry ids of scheme 1 (a store made before scheme 2)."""
        return self.manifest().get("id_scheme", 1) < ID_SCHEME and bool(self.parts())

    def existing_ids(self) -> Ids:
        """The ids of the stored transcripts (16 bytes each, read a batch at a time: no Python object per id)."""
        if not self.parts():
            return empty_ids()
        with self.reading():
            dataset = parquet_dataset(self.parts(), format="parquet")
            # Filled in place: joining the batches' arrays at the end would need twice the memory at its peak.
            ids, filled = np.empty(dataset.count_rows(), dtype=ID_DTYPE), 0
            for batch in dataset.to_batches(columns=["transcript_id"]):
                piece = ids_from_column(batch.column(0))
                ids[filled : filled + len(piece)] = piece
                filled += len(piece)
        # Arrow's allocator keeps the pages of the batches read (about 70 MiB a million ids): given back, since the
        # ids stay for the whole run and the batches do not.
        pa.default_memory_pool().release_unused()
        return ids[:filled]


def parquet_dataset(paths: list[str], **options: Any) -> ds.Dataset:
    """Part files (local paths, or URIs on one object store) as one pyarrow dataset."""
    import pyarrow.dataset as ds  # see the note on the imports

    if paths and location.is_uri(paths[0]):
        filesystem = location.filesystem(paths[0])[0]
        return ds.dataset([location.filesystem(p)[1] for p in paths], filesystem=filesystem, **options)
    return ds.dataset(paths, **options)


def open_part(path: str) -> pq.ParquetFile:
    """A part file (local path or URI), opened for its footer and row groups."""
    return pq.ParquetFile(location.open_random(path) if location.is_uri(path) else path)


def part_metadata(path: str) -> pq.FileMetaData:
    return open_part(path).metadata if location.is_uri(path) else pq.read_metadata(path)


def part_version(path: str) -> tuple[int, int]:
    """A part file's modification time (ns) and size: what tells that `cotlens measure` rewrote it."""
    if location.is_uri(path):
        filesystem, key = location.filesystem(path)
        info = filesystem.get_file_info(key)
        return int(info.mtime_ns or 0), int(info.size or 0)
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def shown_part(path: str) -> str:
    return location.shown(path) if location.is_uri(path) else path


@contextlib.contextmanager
def replaced_part(path: str) -> Iterator[pq.ParquetWriter]:
    """A writer of a part file's new content, which replaces the file whole when the block ends, and not at all
    when it fails (a full disk, an interruption): written aside, then moved over it. On object storage the move
    is a copy made visible at once, then the deletion of the copy written aside."""
    filesystem, target = location.filesystem(path) if location.is_uri(path) else (None, path)
    # On object storage, a name of its own: another process may be measuring the same part (nothing locks).
    aside = f"{target}.measuring-{uuid.uuid4().hex[:8]}" if filesystem is not None else f"{path}.measuring"
    try:
        with pq.ParquetWriter(aside, part_schema(), compression="zstd", filesystem=filesystem) as writer:
            yield writer
        if filesystem is not None:
            filesystem.move(aside, target)
        else:
            os.replace(aside, target)
    finally:
        with contextlib.suppress(OSError):
            if filesystem is not None:
                filesystem.delete_file(aside)
            else:
                os.remove(aside)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def write_error(root: Path, error: OSError) -> str:
    """Why writing into the store at `root` failed, cause first."""
    detail = error.strerror or first_line(error)
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"store is read-only: cannot write in {root} ({detail})"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on device writing in {root}"
    return f"cannot write in {root}: {detail}"


@dataclass
class StoreWriter:
    store: Store
    options: dict[str, Any]
    new_store: bool = False  # this run creates the store: left uncommitted, it leaves no store behind
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8])
    started: str = field(default_factory=now_iso)
    seen: SeenIds = field(init=False)
    legacy_ids: bool = field(init=False)
    rows_written: int = 0
    committed: bool = False
    _parts: PartWriter = field(init=False)
    _rejects: IO[bytes] | None = None

    def __post_init__(self) -> None:
        self._stage()
        self.seen = SeenIds(self.store.existing_ids())
        self.legacy_ids = self.store.legacy_ids()

    def _stage(self) -> None:
        """Where the run's files go until commit: the store's staging directory."""
        self.staging = self.store.root / STAGING / self.run_id
        (self.staging / TRANSCRIPTS).mkdir(parents=True)
        self._parts = PartWriter(str(self.staging / TRANSCRIPTS))

    def first_seen(self, ids: Ids) -> npt.NDArray[np.bool_]:
        """For each id in order, True the first time it is offered (in the store or this run), False for a
        duplicate."""
        return self.seen.first_seen(ids)

    def staging_path(self, index: int) -> str:
        """Where a parser writes the rows of chunk `index` of this run (in staging, invisible until commit)."""
        return os.path.abspath(self.staging / f"chunk-{index:06d}.arrow")  # for workers elsewhere too (parts)

    def add_staged(self, path: str, keep: npt.NDArray[np.bool_]) -> int:
        """Append the rows a parser staged, without those `keep` marks as duplicates, to the run's part files;
        the staged file goes. Returns the rows kept. Called in input order, so parts keep the input's order."""
        table = read_staged(path)
        kept = int(np.count_nonzero(keep))
        if kept:
            self._parts.append(table if kept == len(keep) else table.filter(pa.array(keep, pa.bool_())))
            self.rows_written += kept
        remove_staged(path)
        return kept

    def reject(self, entry: dict[str, Any]) -> None:
        if self._rejects is None:
            self._rejects = open(self.staging / "rejects.jsonl", "wb")  # noqa: SIM115 (closed in commit)
        # Escaped as the manifest is: a rejected record's bidi or C1 characters never reach a terminal raw.
        self._rejects.write(json_bytes(entry) + b"\n")

    def commit(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Make the run visible: one directory rename for its transcripts, one for its rejects, then the manifest."""
        run = self.run_record(summary)
        root = self.store.root
        names = self._parts.close()
        if self._rejects is not None:
            self._rejects.close()
        # Every byte is written before anything moves (a full disk fails here, with the store untouched); then
        # renames, which need no space, undone if one fails; the manifest's replace makes the run count.
        moves: list[tuple[Path, Path]] = []
        if self.rows_written:
            moves.append((self.staging / TRANSCRIPTS, self.store.transcripts_dir / self.run_id))
            run["parts"] = [f"{TRANSCRIPTS}/{self.run_id}/{name}" for name in names]
        if self._rejects is not None:
            moves.append((self.staging / "rejects.jsonl", root / REJECTS / f"{self.run_id}.jsonl"))
            run["rejects"] = f"{REJECTS}/{self.run_id}.jsonl"
        manifest = self.manifest_with(run)
        staged_manifest = self.staging / MANIFEST
        staged_manifest.write_bytes(manifest_bytes(manifest))
        done: list[tuple[Path, Path]] = []
        try:
            for source, target in moves:
                target.parent.mkdir(exist_ok=True)
                os.replace(source, target)
                done.append((source, target))
            os.replace(staged_manifest, root / MANIFEST)
        except OSError:
            for source, target in reversed(done):
                with contextlib.suppress(OSError):
                    os.replace(target, source)
            raise
        self.committed = True
        return run

    def run_record(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The run's entry in the manifest, before its files are named."""
        return {
            "run_id": self.run_id,
            "started": self.started,
            "finished": now_iso(),
            "cotlens_version": __version__,
            "options": self.options,
            **summary,
        }

    def manifest_with(self, run: dict[str, Any]) -> dict[str, Any]:
        """The store's manifest as read now, with this run added."""
        manifest = self.store.manifest()
        if not self.legacy_ids:
            manifest["id_scheme"] = ID_SCHEME
        manifest["runs"].append(run)
        return manifest

    def discard(self) -> None:
        """Drop what the run staged (after a failure too: closing what failed may fail again)."""
        self._drop_staging()
        with contextlib.suppress(OSError):
            self.staging.parent.rmdir()  # .staging, when no other run left anything in it

    def _drop_staging(self) -> None:
        """Close the run's open files, whatever state a failure left them in, and delete its staging folder."""
        if self._rejects is not None and not self._rejects.closed:
            with contextlib.suppress(OSError):
                self._rejects.close()
        with contextlib.suppress(OSError, pa.ArrowException):
            self._parts.close()
        shutil.rmtree(self.staging, ignore_errors=True)


# A run's rows go to part files of up to PART_ROWS rows, in row groups of ROW_GROUP_ROWS. Few files and large
# row groups keep measurement scans cheap: reading a column chunk costs about 0.2 ms whatever its size, so the
# ~1,500-row chunks parsers produce made a million-transcript scan 3x slower. Text-reading analyses give a row
# group to a worker at a time: 4,096 rows (about 20 MB of reasoning) balance two workers and bound their memory
# (8,192 rows: rates 15% slower on the 2-core machine, 1.2 GB instead of 0.9 GB).
PART_ROWS = 1 << 17
ROW_GROUP_ROWS = 1 << 12


class PartWriter:
    """Appends tables to numbered Parquet part files in `directory` (of `filesystem`: None, the local one), in
    full row groups (the last may be short). zstd: text compresses 4-6x at several hundred MB/s."""

    def __init__(self, directory: str, filesystem: Any = None) -> None:
        self.directory = directory
        self.filesystem = filesystem
        self.names: list[str] = []
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0

    def append(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            rows = pa.concat_tables(self._pending)
            whole = rows.num_rows - rows.num_rows % ROW_GROUP_ROWS
            for start in range(0, whole, ROW_GROUP_ROWS):
                self._write_row_group(rows.slice(start, ROW_GROUP_ROWS))
            self._pending = [rows.slice(whole)]
            self._pending_rows = rows.num_rows - whole

    def close(self) -> list[str]:
        """Write what is pending and close the current file; returns the names of the files written."""
        if self._pending_rows:
            self._write_row_group(pa.concat_tables(self._pending))
        self._pending, self._pending_rows = [], 0
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.names

    def _write_row_group(self, table: pa.Table) -> None:
        if self._writer is not None and self._file_rows >= PART_ROWS:
            self._writer.close()
            self._writer = None
        if self._writer is None:
            name = f"part-{len(self.names):05d}.parquet"
            self._writer = pq.ParquetWriter(
                f"{self.directory}/{name}", part_schema(), compression="zstd", filesystem=self.filesystem
            )
            self.names.append(name)
            self._file_rows = 0
        self._writer.write_table(table.combine_chunks(), row_group_size=table.num_rows)
        self._file_rows += table.num_rows


def write_staged(path: str, table: pa.Table) -> None:
    """A parser's rows, staged for the run's writer: Arrow IPC, uncompressed, so neither side spends time on
    encoding (the part files are compressed once). `path` is a URI when the parser runs on another machine
    (a Ray cluster writing into a store on object storage)."""
    if location.is_uri(path):
        filesystem, key = location.filesystem(path)
        sink = filesystem.open_output_stream(key)
    else:
        sink = pa.OSFile(path, "wb")
    with sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_staged(path: str) -> pa.Table:
    if location.is_uri(path):
        with location.open_random(path) as source:
            return pa.ipc.open_file(source).read_all()
    # Memory-mapped: the buffers keep the mapping alive after the file is removed.
    return pa.ipc.open_file(pa.memory_map(path)).read_all()


def remove_staged(path: str) -> None:
    if location.is_uri(path):
        filesystem, key = location.filesystem(path)
        filesystem.delete_file(key)
    else:
        os.remove(path)


@contextlib.contextmanager
def _locked(path: Path, on_wait: Any = None) -> Iterator[None]:
    with open(path, "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
