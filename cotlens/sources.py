"""Reading inputs: files, directories, stdin; gzip / zstd / zip containers; JSON Lines and JSON documents.

Yields one `Item` per input record with its locator ("line 12", "results[3]", "samples/1_epoch_1.json") and the
decoded JSON value, or the reason it could not be decoded. An input that cannot be read at all raises InputError;
records already yielded from it stay good.
"""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from cotlens.errors import InputError
from cotlens.formats._document import document_context, string_record, string_record_keys
from cotlens.formats.base import Context
from cotlens.formats.mapping import JSONPath, resolve

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZIP_MAGIC = b"PK\x03\x04"
BOM = b"\xef\xbb\xbf"
INPUT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".eval", ".gz", ".zst", ".zstd")
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

    def decode(self) -> Item:
        """Decode `raw` into `obj`, or set `error`; a no-op for an item already decoded."""
        if self.raw is not None and self.obj is None and self.error is None:
            try:
                obj, self.repairs = decode(self.raw)
                self.obj = string_record(obj)  # a line that is a JSON string is a completion
            except orjson.JSONDecodeError as e:
                self.error = f"invalid JSON: {e}"
        return self


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; directories walked recursively for input files, in sorted order; `-` is stdin.
    A missing path stays in the list so that reading it reports the error in its place."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if p != "-" and path.is_dir():
            out.extend(
                str(f)
                for f in sorted(path.rglob("*"))
                if f.is_file() and not f.name.startswith(".") and f.name.endswith(INPUT_SUFFIXES)
            )
        else:
            out.append(p)
    return out


def input_size(source: str) -> int | None:
    if source == "-":
        return None
    try:
        return Path(source).stat().st_size
    except OSError:
        return None


def read_items(
    source: str,
    is_record: Callable[[Any], bool],
    records_path: JSONPath | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Item | LineBlock]:
    """Every record of one input: decoded Items from JSON documents and archives, LineBlocks of raw JSON Lines.
    `is_record` tells a record from a container object in JSON documents."""
    try:
        raw: IO[bytes] = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise InputError("no such file") from None
    except OSError as e:
        raise InputError(f"cannot open: {e.strerror or e}") from None
    with raw:
        stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
        magic = stream.peek(4)[:4]

        def report() -> None:
            if on_progress is not None:
                on_progress(raw.tell() if source != "-" else 0)

        if magic.startswith(ZIP_MAGIC):
            yield from _read_zip(stream, source)
            return
        text: IO[bytes]
        try:
            if magic.startswith(GZIP_MAGIC):
                text = io.BufferedReader(gzip.GzipFile(fileobj=stream))
            elif magic.startswith(ZSTD_MAGIC):
                import zstandard

                reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
                text = io.BufferedReader(reader)
            else:
                text = stream
            yield from _read_text(text, is_record, records_path, report if on_progress else None)
        except Exception as e:
            broken = broken_stream(e)
            if broken is None:
                raise
            raise broken from None
        report()


def broken_stream(error: Exception) -> InputError | None:
    """The input error a failing read means (corrupt or truncated compressed data), or None for another error."""
    if isinstance(error, OSError | EOFError | zlib.error):
        return InputError(f"corrupt or truncated compressed data: {error}")
    if type(error).__name__ == "ZstdError":  # zstandard is imported only for .zst inputs
        return InputError(f"corrupt zstd data: {error}")
    return None


def decode(data: bytes) -> tuple[Any, list[str]]:
    """orjson, and for invalid UTF-8 a second try with the bad bytes replaced by U+FFFD (a repair)."""
    try:
        return orjson.loads(data), []
    except orjson.JSONDecodeError as e:
        if not str(e).startswith("str is not valid UTF-8"):
            raise
    return orjson.loads(data.decode("utf-8", errors="replace")), ["invalid-utf8"]


def _read_text(
    stream: IO[bytes],
    is_record: Callable[[Any], bool],
    records_path: JSONPath | None,
    report: Callable[[], None] | None,
) -> Iterator[Item | LineBlock]:
    head: list[bytes] = []  # every line read while deciding what the input is, blank ones included
    for line in stream:
        if not head and line.startswith(BOM):
            line = line[len(BOM) :]
        head.append(line)
        if line.strip():
            break
    if not head or not head[-1].strip():
        return  # empty input: no records
    first, first_lineno = head[-1], len(head)
    kind = first.lstrip()[:1]
    if kind == b"[" or (kind == b"{" and _opens_document(first)):
        yield from _read_document_or_lines(first + stream.read(), first_lineno, is_record, records_path)
        return
    for line in stream:
        head.append(line)
        if line.strip():
            break
    if head[-1] is first or records_path is not None:
        # One JSON value in the whole input: a document (a record, or a container of records).
        yield from _read_document(b"".join(head[first_lineno - 1 :]) + stream.read(), is_record, records_path)
        return
    lineno = 1
    data, broken = _read_block(stream)
    data = b"".join(head) + data
    while data:
        yield LineBlock(data, lineno)
        if report:
            report()
        if broken is not None:
            raise broken
        lineno += data.count(b"\n")
        data, broken = _read_block(stream)


def _read_block(stream: IO[bytes]) -> tuple[bytes, BaseException | None]:
    """About BLOCK_BYTES of whole lines (a long line makes a long block). When the stream breaks (corrupt or
    truncated compressed data), the whole lines read before the damage come back with the error."""
    pieces: list[bytes] = []
    size = 0
    try:
        while size < BLOCK_BYTES:
            piece = stream.read(READ_BYTES)
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        if pieces and not pieces[-1].endswith(b"\n"):
            pieces.append(stream.readline())
    except Exception as e:
        broken = broken_stream(e)
        if broken is None:
            raise
        data = b"".join(pieces)
        return data[: data.rfind(b"\n") + 1], broken
    return b"".join(pieces), None


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

    def items(self) -> Iterator[Item]:
        for i, line in enumerate(self.data.split(b"\n")):
            if line.strip():
                yield _line_item(line, self.first_lineno + i)


def _line_item(line: bytes, lineno: int) -> Item:
    # Without the newline, a line cut inside a string reads as "unexpected end of data", which it is.
    return Item(f"line {lineno}", raw=line.rstrip(b"\r\n"))


def _read_document_or_lines(
    data: bytes, first_lineno: int, is_record: Callable[[Any], bool], records_path: JSONPath | None
) -> Iterator[Item]:
    """A document by its look; but if it does not parse while some of its lines do, it was JSON Lines with a
    damaged first line, and each line is a record."""
    try:
        value, repairs = decode(data)
    except orjson.JSONDecodeError as e:
        lines = enumerate(data.split(b"\n"))
        items = [_line_item(line, first_lineno + i).decode() for i, line in lines if line.strip()]
        if not any(isinstance(item.obj, dict) for item in items):
            raise InputError(f"invalid JSON document: {e}") from None
        yield from items
        return
    for item in expand_document(value, is_record, records_path):
        item.repairs.extend(repairs)
        yield item


def _read_document(
    data: bytes, is_record: Callable[[Any], bool], records_path: JSONPath | None
) -> Iterator[Item]:
    try:
        value, repairs = decode(data)
    except orjson.JSONDecodeError as e:
        raise InputError(f"invalid JSON document: {e}") from None
    for item in expand_document(value, is_record, records_path):
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
        keys = ", ".join(sorted(map(str, value))[:20])
        raise InputError(
            f"a JSON object that is not a record and holds no list of records (keys: {keys}); "
            "if it is a record, name its shape with --from or --map"
        )
    yield from _list_items(value[key], key, context)


def _records_key(obj: dict[str, Any]) -> str | None:
    candidates = [
        k for k, v in obj.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
    ]
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


def _read_zip(stream: IO[bytes], source: str) -> Iterator[Item]:
    """An Inspect AI `.eval` log: a zip of `header.json` and `samples/*.json`."""
    data: IO[bytes] = stream if source != "-" else io.BytesIO(stream.read())
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
            if header in names:
                try:
                    context = _inspect_context(orjson.loads(archive.read(header)))
                except (orjson.JSONDecodeError, zipfile.BadZipFile, OSError, zlib.error):
                    continue
                break
        for name in samples:
            try:
                body = archive.read(name)
            except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:
                yield Item(name, error=f"corrupt archive member: {e}")
                continue
            yield Item(name, raw=body, context=context).decode()
