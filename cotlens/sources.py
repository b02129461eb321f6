"""Reading inputs: files, directories, stdin; gzip / zstd / zip containers; JSON Lines and JSON documents;
Parquet and Arrow tables (tabular.py).

Yields one `Item` per input record with its locator ("line 12", "results[3]", "samples/1_epoch_1.json") and the
decoded JSON value, or the reason it could not be decoded. An input that cannot be read at all raises InputError;
records already yielded from it stay good.

One module of about 500 lines: every way into a record (paths, walks, stdin, containers, documents) shares one
locator scheme and one accounting of what could not be read, which is the contract the ingest summary counts on.
"""

from __future__ import annotations

import io
import os
import posixpath
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from cotlens import location, tabular
from cotlens.compressed import PieceReader, codec_of, decompressed
from cotlens.errors import InputError
from cotlens.formats._document import document_context, string_record, string_record_keys
from cotlens.formats._fields import seen_keys
from cotlens.formats.base import Context
from cotlens.formats.mapping import JSONPath, resolve
from cotlens.limits import Limits
from cotlens.store import MANIFEST, TRANSCRIPTS, Store

ZIP_MAGIC = b"PK\x03\x04"
BOM = b"\xef\xbb\xbf"
# How much of a record too large to keep is kept for its reject's excerpt.
EXCERPT_BYTES = 2000
INPUT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".eval", ".gz", ".zst", ".zstd", ".bz2", ".xz")
# Keys under which a JSON document commonly holds its list of records.
RECORD_LIST_KEYS = (
    "records",
    "results",
    "data",
    "samples",
    "items",
    "transcripts",
    "rows",
    "examples",
    "completions",
    "responses",
    "outputs",
)
# JSON Lines are read in blocks of about this size (extended to the next line end).
BLOCK_BYTES = 8 << 20
READ_BYTES = 1 << 20


@dataclass(slots=True)
class Item:
    """One input record. A JSON Lines record arrives as `raw` bytes and is decoded where it is parsed (maybe in a
    worker process), so that the reading process only splits lines."""

    locator: str
    obj: Any = None
    raw: bytes | None = None
    error: str | None = None
    repairs: list[str] = field(default_factory=list)
    context: Context = field(default_factory=Context)
    size: int | None = None  # bytes of a record too large to be kept (raw then holds its beginning only)

    def decode(self) -> Item:
        """Decode `raw` into `obj`, or set `error`; a no-op for an item already decoded."""
        if self.raw is not None and self.obj is None and self.error is None:
            try:
                obj, self.repairs = decode(self.raw)
                self.obj = string_record(obj)  # a line that is a JSON string is a completion
            except orjson.JSONDecodeError as e:
                self.error = f"invalid JSON: {e}"
        return self


def expand_paths(paths: list[str], warn: Callable[[str], None] = lambda _: None) -> list[str]:
    """Files as given; directories walked recursively for input files, in sorted order; `-` is stdin.
    A missing path stays in the list so that reading it reports the error in its place. A walk never enters a
    cotlens store, and says what it does not follow: symlinked folders, dangling symlinks."""
    out: list[str] = []
    for p in paths:
        if location.is_uri(p):
            out.extend(_expand_uri(p))
        elif p == "-" or not os.path.isdir(p):
            out.append(p)
        elif is_store_directory(p):
            # A store named as an input is read for its part files (cotlens's own rows read back); its manifest,
            # rejects and staging are never inputs.
            out.extend(str(f) for f in sorted(_walk(str(tabular.walk_root(Path(p))), warn)))
        else:
            out.extend(str(f) for f in sorted(_walk(p, warn)))
    return out


def _expand_uri(uri: str) -> list[str]:
    """The inputs a URI names: an object, every input object under a prefix (for a store, the part files its
    manifest names), or the objects a pattern matches. What names nothing stays as given, for reading to say why."""
    found = location.expand(uri, lambda name: _is_input_name(posixpath.basename(name)))
    if location.is_pattern(uri) or found == [uri]:
        return found
    # A prefix that holds a cotlens store is read for its part files, as a local store named as an input is: those
    # its manifest names (what a crashed or overtaken run left beside them is not in the store).
    prefix = location.split(uri)[1]
    inside = [location.split(f)[1][len(prefix) + 1 :] for f in found]
    if MANIFEST in inside and any(name.startswith(f"{TRANSCRIPTS}/") for name in inside):
        return Store(uri).parts()
    return found or [uri]


def _is_input_name(name: str) -> bool:
    """Whether an object found under a prefix is an input, by its name (objects are not opened to look)."""
    if name.startswith("."):
        return False
    return name.endswith(INPUT_SUFFIXES + tabular.TABLE_SUFFIXES) and name not in tabular.DATASET_METADATA


def _walk(top: str, warn: Callable[[str], None]) -> Iterator[Path]:
    def unreadable(error: OSError) -> None:
        warn(
            f"{display_path(str(error.filename))}: cannot read this folder ({error.strerror or error}): skipped"
        )

    for root, dirs, files in os.walk(top, onerror=unreadable):
        for name in list(dirs):
            folder = os.path.join(root, name)
            if os.path.islink(folder):
                warn(f"{display_path(folder)} is a symlinked folder: not followed")
                dirs.remove(name)
            elif is_store_directory(folder):
                warn(
                    f"{display_path(folder)} is a cotlens store: not walked into (name it to read its part files)"
                )
                dirs.remove(name)
        for name in files:
            path = os.path.join(root, name)
            if name.startswith("."):
                continue
            if not os.path.exists(path):
                warn(f"{display_path(path)} is a dangling symlink: skipped")
            elif os.path.isfile(path) and _is_input_file(Path(path)):
                yield Path(path)


def is_store_directory(path: str) -> bool:
    """Whether a directory is a cotlens store (its manifest or lock beside its transcripts, rejects or staging)."""
    marks = [os.path.exists(os.path.join(path, name)) for name in ("manifest.json", ".lock")]
    parts = [os.path.isdir(os.path.join(path, name)) for name in ("transcripts", "rejects", ".staging")]
    return any(marks) and any(parts)


def display_path(path: str) -> str:
    """A path as text: bytes of a file name that are not UTF-8 shown as \\xNN escapes (the name is kept as
    the operating system gave it for opening the file); a URI without the credentials or options it carries."""
    if location.is_uri(path):
        return location.shown(path)
    try:
        data = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no file name decoding made
        data = path.encode("utf-8", "surrogatepass")
    return data.decode("utf-8", "backslashreplace")


def _is_input_file(path: Path) -> bool:
    if path.name.endswith(INPUT_SUFFIXES):
        return not tabular.is_dataset_metadata(path)
    return tabular.is_table_file(path)


def input_size(source: str) -> int | None:
    if source == "-":
        return None
    if location.is_uri(source):
        return location.size(source)
    try:
        return Path(source).stat().st_size
    except OSError:
        return None


def read_items(
    source: str,
    is_record: Callable[[Any], bool],
    records_path: JSONPath | None = None,
    on_progress: Callable[[int], None] | None = None,
    limits: Limits | None = None,
) -> Iterator[Item | LineBlock | tabular.RowBlock]:
    """Every record of one input: decoded Items from JSON documents and archives, LineBlocks of raw JSON Lines,
    RowBlocks of tables. `is_record` tells a record from a container object in JSON documents."""
    raw = _open(source)
    limits = limits or Limits()
    with raw:
        stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
        magic = stream.peek(tabular.HEAD_BYTES)[: tabular.HEAD_BYTES]
        table = tabular.table_kind(magic)
        if table is not None:
            yield from tabular.read_table(source, stream, table, on_progress)
            return

        def report() -> None:
            if on_progress is not None:
                on_progress(raw.tell() if source != "-" else 0)

        if magic.startswith(ZIP_MAGIC):
            yield from _read_zip(stream, source, limits)
            return
        codec = codec_of(magic)
        text: IO[bytes] | PieceReader = stream if codec is None else decompressed(stream, codec)
        try:
            yield from _read_text(text, is_record, records_path, report if on_progress else None, limits)
            if isinstance(text, PieceReader):
                text.finish()
        except OSError as e:
            raise InputError(f"cannot read: {_failure(source, e)}") from None
        report()


def _open(source: str) -> IO[bytes]:
    """An input opened for reading: stdin, a local file, or an object on object storage."""
    if location.is_uri(source):
        if location.is_pattern(source):
            raise InputError(location.unmatched(source))
        try:
            return location.open_reader(source)
        except OSError as e:
            raise InputError(f"cannot open: {location.explain(source, e)}") from None
    try:
        return sys.stdin.buffer if source == "-" else open(source, "rb")
    except FileNotFoundError:
        refused = location.unsupported(source)
        raise InputError(f"no such file{f' ({refused})' if refused else ''}") from None
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror or e}") from None


def _failure(source: str, error: OSError) -> str:
    return location.failure(source, error) if location.is_uri(source) else str(error.strerror or error)


def decode(data: bytes) -> tuple[Any, list[str]]:
    """orjson, and for invalid UTF-8 a second try with the bad bytes replaced by U+FFFD (a repair)."""
    try:
        return orjson.loads(data), []
    except orjson.JSONDecodeError as e:
        if not str(e).startswith("str is not valid UTF-8"):
            raise
    return orjson.loads(data.decode("utf-8", errors="replace")), ["invalid-utf8"]


def _read_text(
    stream: IO[bytes] | PieceReader,
    is_record: Callable[[Any], bool],
    records_path: JSONPath | None,
    report: Callable[[], None] | None,
    limits: Limits,
) -> Iterator[Item | LineBlock]:
    head: list[bytes] = []  # every line read while deciding what the input is, blank ones included
    while line := stream.readline(limits.document_bytes + 1):
        if not head and line.startswith(BOM):
            line = line[len(BOM) :]
        head.append(line)
        if line.strip():
            break
    if not head or not head[-1].strip():
        return  # empty input: no records
    first, first_lineno = head[-1], len(head)
    kind = first.lstrip()[:1]
    if kind == b"[" or (kind == b"{" and _opens_document(first)) or len(first) > limits.document_bytes:
        data = first + _read_rest(stream, len(first), limits)
        yield from _read_document_or_lines(data, first_lineno, is_record, records_path, limits)
        return
    # The next non-blank line, read no further than a record may go (a longer one is JSON Lines all the same).
    while line := stream.readline(limits.record_bytes + 1):
        head.append(line)
        if line.strip():
            break
    if head[-1] is first or records_path is not None:
        # One JSON value in the whole input: a document (a record, or a container of records).
        data = b"".join(head[first_lineno - 1 :])
        data += _read_rest(stream, len(data), limits)
        yield from _read_document(data, is_record, records_path, limits)
        return
    lineno = 1
    data, oversize, broken = _read_block(stream, limits, b"".join(head))
    while data or oversize:
        if data:
            yield LineBlock(data, lineno, limits)
            lineno += data.count(b"\n")
        if oversize is not None:
            yield _oversize(f"line {lineno}", *oversize, limits)
            lineno += 1
        if report:
            report()
        if broken is not None:
            raise broken
        data, oversize, broken = _read_block(stream, limits)


def _read_rest(stream: IO[bytes] | PieceReader, read: int, limits: Limits) -> bytes:
    """The rest of a JSON document of which `read` bytes were read."""
    rest = stream.read(max(limits.document_bytes - read, 0) + 1)
    if read + len(rest) > limits.document_bytes:
        size, whole = read + len(rest), True
        try:
            while piece := stream.read(READ_BYTES):  # counted, not kept
                size += len(piece)
        except InputError:
            whole = False
        raise InputError(
            f"a JSON document of {'' if whole else 'at least '}{size:,} bytes is over the limit of "
            f"{limits.document_bytes:,} bytes (raise it with --max-document-mb)"
        )
    if isinstance(stream, PieceReader):
        stream.finish()
    return rest


def _read_block(
    stream: IO[bytes] | PieceReader, limits: Limits, carry: bytes = b""
) -> tuple[bytes, tuple[bytes, int] | None, InputError | None]:
    """About BLOCK_BYTES of whole lines (a long line makes a long block), then the beginning and size of the line
    after them when that one is over the record limit (skipped, not kept). When the stream breaks (corrupt or
    truncated compressed data), the whole lines read before the damage come back with the error."""
    pieces = [carry] if carry else []
    size = len(carry)
    try:
        while size < BLOCK_BYTES:
            piece = stream.read(READ_BYTES)
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        if not pieces or pieces[-1].endswith(b"\n"):
            return b"".join(pieces), None, None
        data = b"".join(pieces)
        start = data.rfind(b"\n") + 1
        pieces = [data]
        room = limits.record_bytes - (len(data) - start)
        if room >= 0:
            pieces.append(stream.readline(room + 1))
        data = b"".join(pieces)
        line = len(data) - start
        if data.endswith(b"\n") or line <= limits.record_bytes:
            return data, None, None
        # A line over the limit: keep its beginning for the reject, skip the rest.
        return data[:start], (data[start : start + EXCERPT_BYTES], line + _skip_line(stream)), None
    except InputError as e:
        data = b"".join(pieces)
        return data[: data.rfind(b"\n") + 1], None, e


def _skip_line(stream: IO[bytes] | PieceReader) -> int:
    """Read past the end of the current line; the bytes skipped (the newline not counted)."""
    skipped = 0
    while piece := stream.readline(READ_BYTES):
        if piece.endswith(b"\n"):
            return skipped + len(piece) - 1
        skipped += len(piece)
    return skipped


def _oversize(locator: str, beginning: bytes, size: int, limits: Limits) -> Item:
    return Item(locator, raw=beginning, error=limits.record_error(size), size=size)


def _opens_document(first: bytes) -> bool:
    """A first line that cannot be a whole JSON value and ends open is the start of a pretty-printed document."""
    stripped = first.strip()
    if not stripped.endswith((b"{", b"[", b",")):
        return False
    try:
        orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return True
    return False


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Consecutive lines of a JSON Lines input, split into records where they are parsed (cheaper to hand to a
    worker process than one object per line)."""

    data: bytes
    first_lineno: int
    limits: Limits = field(default_factory=Limits)

    def items(self) -> Iterator[Item]:
        for i, line in enumerate(self.data.split(b"\n")):
            if len(line) > self.limits.record_bytes:
                yield _oversize(f"line {self.first_lineno + i}", line[:EXCERPT_BYTES], len(line), self.limits)
            elif line.strip():
                yield _line_item(line, self.first_lineno + i)


def _line_item(line: bytes, lineno: int) -> Item:
    # Without the newline, a line cut inside a string reads as "unexpected end of data", which it is.
    return Item(f"line {lineno}", raw=line.rstrip(b"\r\n"))


def _read_document_or_lines(
    data: bytes,
    first_lineno: int,
    is_record: Callable[[Any], bool],
    records_path: JSONPath | None,
    limits: Limits,
) -> Iterator[Item]:
    """A document by its look; but if it does not parse while some of its lines do, it was JSON Lines with a
    damaged first line, and each line is a record."""
    try:
        value, repairs = decode(data)
    except orjson.JSONDecodeError as e:
        items = [item.decode() for item in LineBlock(data, first_lineno, limits).items()]
        if not any(isinstance(item.obj, dict) for item in items):
            raise InputError(f"invalid JSON document: {e}") from None
        yield from items
        return
    yield from _document_items(data, value, repairs, is_record, records_path, limits)


def _read_document(
    data: bytes, is_record: Callable[[Any], bool], records_path: JSONPath | None, limits: Limits
) -> Iterator[Item]:
    try:
        value, repairs = decode(data)
    except orjson.JSONDecodeError as e:
        raise InputError(f"invalid JSON document: {e}") from None
    yield from _document_items(data, value, repairs, is_record, records_path, limits)


def _document_items(
    data: bytes,
    value: Any,
    repairs: list[str],
    is_record: Callable[[Any], bool],
    records_path: JSONPath | None,
    limits: Limits,
) -> Iterator[Item]:
    for item in expand_document(value, is_record, records_path):
        if item.locator == "$" and len(data) > limits.record_bytes:
            # The document is one record (a one-line JSON Lines input): the record limit holds for it too.
            yield _oversize("$", data[:EXCERPT_BYTES], len(data), limits)
            return
        item.repairs.extend(repairs)
        yield item


def expand_document(
    value: Any,
    is_record: Callable[[Any], bool],
    records_path: JSONPath | None = None,
    context: Context | None = None,
) -> Iterator[Item]:
    """The records of one JSON document: an array, an Inspect log, a record, or an object holding a list."""
    context = context or Context()
    if records_path is not None:
        if isinstance(value, dict):
            context = document_context(value, context)
        records = resolve(value, records_path.steps)
        if not isinstance(records, list):
            raise InputError(f"records path {records_path.text!r} does not lead to a list")
        yield from _list_items(records, records_path.text, context)
        return
    if isinstance(value, list):
        yield from _list_items(value, "", context)
        return
    if not isinstance(value, dict):
        raise InputError(f"a JSON {type(value).__name__} is neither an array nor an object of records")
    if isinstance(value.get("eval"), dict) and "samples" in value:
        yield from _list_items(value["samples"] or [], "samples", _inspect_context(value))
        return
    if isinstance(value.get("eval"), dict) and "status" in value:
        raise InputError("Inspect log without samples (written with --no-log-samples?)")
    key = _records_key(value)
    if is_record(value) and not (key in RECORD_LIST_KEYS and is_record(value[key][0])):
        yield Item("$", obj=value, context=context)
        return
    context = document_context(value, context)
    if key is None and (string_keys := string_record_keys(value)):
        for key in string_keys:
            yield from _list_items(value[key], key, context)
        return
    if key is None:
        raise InputError(
            f"a JSON object that is not a record and holds no list of records (keys: {seen_keys(value)}); "
            "if it is a record, name its shape with --from or --map"
        )
    yield from _list_items(value[key], key, context)


def _records_key(obj: dict[str, Any]) -> str | None:
    # A list that holds records; a null or other value among them is that item's reject, as in a bare array.
    candidates = [k for k, v in obj.items() if isinstance(v, list) and any(isinstance(x, dict) for x in v)]
    for key in RECORD_LIST_KEYS:
        if key in candidates:
            return key
    return candidates[0] if len(candidates) == 1 else None


def _list_items(records: Any, prefix: str, context: Context) -> Iterator[Item]:
    if not isinstance(records, list):
        raise InputError(f"{prefix or 'document'} is not a list of records")
    for i, record in enumerate(records):
        yield Item(f"{prefix}[{i}]", obj=string_record(record), context=context)


def _inspect_context(log: dict[str, Any]) -> Context:
    spec = log.get("eval") or {}
    dataset = spec.get("task")
    return Context({"model": spec.get("model"), "dataset": dataset if isinstance(dataset, str) else None})


def _read_zip(stream: IO[bytes], source: str, limits: Limits) -> Iterator[Item]:
    """An Inspect AI `.eval` log: a zip of `header.json` and `samples/*.json`."""
    # A zip is read from its end (the central directory): stdin is read whole, an object on object storage
    # opened again for reads at any offset.
    data: IO[bytes] = stream if source != "-" else io.BytesIO(stream.read())
    if location.is_uri(source):
        data = location.open_random(source)  # closed with the generator (its last reference)
    try:
        archive = zipfile.ZipFile(data)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(f"corrupt zip archive: {e}") from None
    with archive:
        samples = [n for n in names if n.startswith("samples/") and n.endswith(".json")]
        if not samples:
            raise InputError("zip archive without samples/*.json: not an Inspect AI log with samples")
        context = Context()
        for header in ("header.json", "_journal/start.json"):
            if header in names and archive.getinfo(header).file_size <= limits.document_bytes:
                try:
                    context = _inspect_context(orjson.loads(archive.read(header)))
                except (orjson.JSONDecodeError, zipfile.BadZipFile, OSError, zlib.error):
                    continue
                break
        for name in samples:
            # The size the archive declares; reading stops there (and fails its CRC check if the data goes on).
            size = archive.getinfo(name).file_size
            if size > limits.record_bytes:
                yield Item(name, error=limits.record_error(size, "an archive member"), size=size)
                continue
            try:
                body = archive.read(name)
            except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:
                yield Item(name, error=f"corrupt archive member: {e}")
                continue
            yield Item(name, raw=body, context=context).decode()
