"""From input items to canonical rows: a pure function of a chunk of records, so it runs in this process or in a
worker process alike. The reading process only splits lines; decoding, shape detection, parsing, hashing and the
Arrow conversion happen here."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa

from cotlens.errors import RecordError
from cotlens.formats import Format, detect_format, get_format
from cotlens.formats.mapping import MappedFormat, Mapping
from cotlens.ids import Ids, contains, empty_ids, ids_from_hex
from cotlens.intrinsic import measure, unmeasured
from cotlens.record import RECORD_FIELDS, Transcript
from cotlens.sources import Item, LineBlock
from cotlens.store import write_staged
from cotlens.tabular import RowBlock

REJECT_EXCERPT_BYTES = 2000
# The integers of a transcript: the name a reject gives, the attribute, the bits its column holds besides the sign
# (record.RECORD_FIELDS).
INTEGER_FIELDS = (
    ("reasoning_tokens", "reasoning_tokens_reported", 63),
    ("output_tokens", "output_tokens_reported", 63),
    ("epoch", "epoch", 31),
)
# RecordParser._row builds rows as tuples in this order (tuples transpose into columns cheaply).
ROW_SCHEMA = pa.schema(RECORD_FIELDS)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records of one input: raw JSON Lines or rows of a table (`block`), or records already decoded from a
    document (`items`)."""

    source: str
    staged: str  # where the parser writes the chunk's rows (an Arrow IPC file in the ingest run's staging)
    items: list[Item] | None = None
    block: LineBlock | RowBlock | None = None

    @property
    def decoded(self) -> bool:
        """Decoded records are parsed in-process: pickling decoded objects to a worker would cost more than
        parsing them."""
        return self.items is not None

    def records(self) -> Iterator[Item]:
        if self.block is not None:
            yield from self.block.items()
        yield from self.items or ()


@dataclass(slots=True)
class Warned:
    records: int
    first: str

    def add(self, other: Warned) -> None:
        self.records += other.records


@dataclass(slots=True)
class ChunkResult:
    """What one chunk yields: the staged file its rows went to (before deduplication: the reading process drops
    duplicates when it adds them to the run's part files), their ids and models, and the accounting of its
    records."""

    staged: str | None
    ids: Ids  # 16 bytes each (ids.py), fewer to send back than their hex strings
    models: list[str]  # the chunk's model names, each once
    model_of: npt.NDArray[np.int32]  # each id's model, as its index in `models`
    in_staged: npt.NDArray[
        np.bool_
    ]  # which of `ids` are rows of `staged` (the others were in the store already)
    records: int = 0
    transcripts: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    formats: Counter[str] = field(default_factory=Counter)
    repairs: Counter[str] = field(default_factory=Counter)
    # A format's warning (a field chosen among two): how many records, and the first one's locator.
    warnings: dict[str, Warned] = field(default_factory=dict)
    decoded: bool = False  # records decoded while reading (Chunk.decoded): parsed in the reading process


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """A record turned into rows (its item and transcripts are not kept: a chunk's worth of them would weigh on
    memory and on the garbage collector)."""

    locator: str
    fmt: str
    rows: list[tuple[Any, ...]]  # in ROW_SCHEMA order
    legacy_ids: list[str]  # the rows' scheme-1 ids, for a store made before scheme 2 (else empty)
    repairs: list[str]
    notes: list[str]  # its format's warnings (a field chosen among two)


# What building a chunk's Arrow table raises for a value its column cannot hold.
CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError)


@dataclass(frozen=True, slots=True)
class RecordParser:
    """Turns items into rows; picklable, so a worker process gets its own copy."""

    run_id: str
    fmt: str = "auto"
    mapping: Mapping | None = None
    model: str | None = None  # supplies or overrides every record's model
    dataset: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    measure: bool = True  # False: intrinsic measurements left for `cotlens measure`
    legacy_ids: bool = False  # the store holds ids of the old scheme (legacy_transcript_id)

    def __call__(self, chunk: Chunk) -> ChunkResult:
        forced = forced_format(self.fmt, self.mapping)
        previous: Format | None = None
        rejects: list[dict[str, Any]] = []
        parsed: list[ParsedRecord] = []
        records = 0
        for item in chunk.records():
            records += 1
            try:
                fmt, transcripts, notes = self._parse(item.decode(), forced, previous)
            except RecordError as e:
                rejects.append(self._reject(chunk.source, item, str(e)))
                continue
            previous = fmt
            rows = [self._row(t, model, chunk.source, item.locator, fmt.name) for t, model in transcripts]
            legacy = [legacy_transcript_id(t, model) for t, model in transcripts] if self.legacy_ids else []
            repairs = [r for t, _ in transcripts for r in t.repairs]
            parsed.append(ParsedRecord(item.locator, fmt.name, rows, legacy, repairs, notes))
        return self._result(chunk, records, rejects, parsed)

    def _result(
        self, chunk: Chunk, records: int, rejects: list[dict[str, Any]], parsed: list[ParsedRecord]
    ) -> ChunkResult:
        rows = [row for p in parsed for row in p.rows]
        ids = ids_from_hex(row[0] for row in rows)
        # Transcripts the store held before this run are duplicates whatever happens: not measured, not written.
        in_staged = ~contains(_stored_ids, ids)
        if self.legacy_ids:
            _match_legacy_ids(ids_from_hex(i for p in parsed for i in p.legacy_ids), ids, in_staged)
        new_rows = [row for row, new in zip(rows, in_staged, strict=True) if new]
        staged = chunk.staged if new_rows else None
        if staged is not None:
            try:
                table = rows_table(new_rows)
            except CONVERSION_ERRORS:
                # A value no check foresaw that its column cannot hold: reject its record, keep the others.
                good = self._convertible(chunk, parsed, rejects)
                if len(good) == len(parsed):
                    raise
                return self._result(chunk, records, rejects, good)
            # Measured and written here, in the worker: in parallel, and no text crosses back.
            write_staged(staged, measure(table) if self.measure else unmeasured(table))
        models: dict[str, int] = {}
        model_of = np.array([models.setdefault(row[2], len(models)) for row in rows], dtype=np.int32)
        result = ChunkResult(staged, ids, list(models), model_of, in_staged, records, len(rows), rejects)
        result.decoded = chunk.decoded
        for p in parsed:
            result.formats[p.fmt] += 1
            result.repairs.update(p.repairs)
            for note in p.notes:
                result.warnings.setdefault(note, Warned(0, p.locator)).records += 1
        return result

    def _convertible(
        self, chunk: Chunk, parsed: list[ParsedRecord], rejects: list[dict[str, Any]]
    ) -> list[ParsedRecord]:
        """The records whose rows convert; the others rejected (their items read again for the excerpt)."""
        failed: dict[str, str] = {}
        for p in parsed:
            try:
                rows_table(p.rows)
            except CONVERSION_ERRORS as e:
                failed[p.locator] = f"a value out of its column's range: {e}"
        rejects.extend(
            self._reject(chunk.source, item, failed[item.locator])
            for item in chunk.records()
            if item.locator in failed
        )
        return [p for p in parsed if p.locator not in failed]

    def _parse(
        self, item: Item, forced: Format | None, previous: Format | None
    ) -> tuple[Format, list[tuple[Transcript, str]], list[str]]:
        if item.error is not None:
            raise RecordError(item.error)
        if not isinstance(item.obj, dict):
            raise RecordError(f"a JSON {type(item.obj).__name__}, expected an object")
        obj = item.obj
        if self.model and not isinstance(obj.get("model"), str | None):
            # --model overrides the record's model: one of the wrong type must not reject the record.
            obj = {**obj, "model": self.model}
        fmt = forced or detect_format(obj, previous)
        try:
            parsed_list = fmt.parse(obj, item.context)
        except RecordError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
            # A parser met a structure it did not expect: the record is malformed for this shape.
            raise RecordError(f"malformed {fmt.name} record: {what_failed(e)}") from None
        rows = []
        notes: list[str] = []
        for parsed in parsed_list:
            notes.extend(parsed.warnings)
            parsed.repairs.extend(item.repairs)
            # The container's dataset (a Hugging Face dataset folder's name) when the record names none.
            parsed.dataset = parsed.dataset or item.context.dataset
            parsed.tags.update(self.tags)
            t = parsed.finish()
            check_ranges(t)
            model = (self.model or t.model or "").strip()
            if not model:
                raise RecordError(
                    item.context.model_error
                    or "no model name in the record: give --model NAME (or model_name in a --map)"
                )
            rows.append((t, model))
        return fmt, rows, notes

    def _row(self, t: Transcript, model: str, source: str, locator: str, fmt: str) -> tuple[Any, ...]:
        """One row, its values in ROW_SCHEMA order."""
        return (
            transcript_id(t, model),
            t.source_id,
            model,
            self.dataset or t.dataset,
            t.sample_id,
            t.epoch,
            sorted(t.tags.items()),
            source,
            join_locator(locator, t.locator_suffix),
            fmt,
            t.prompt,
            t.reasoning,
            t.answer,
            t.reasoning_kind,
            t.reasoning_segments,
            t.reasoning_tokens_reported,
            t.output_tokens_reported,
            t.truncated,
            t.repairs,
            None if t.reasoning is None else len(t.reasoning),
            None if t.answer is None else len(t.answer),
            self.run_id,
        )

    def _reject(self, source: str, item: Item, reason: str) -> dict[str, Any]:
        # A table's values that JSON has no form for (bytes, decimals) are written as text.
        raw = item.raw if item.raw is not None else orjson.dumps(item.obj, default=repr)
        return {
            "source_path": source,
            "source_locator": item.locator,
            "reason": reason,
            "bytes": len(raw) if item.size is None else item.size,
            "excerpt": raw[:REJECT_EXCERPT_BYTES].decode("utf-8", errors="replace"),
            "ingest_run": self.run_id,
        }


# The ids of the transcripts the store held when the run began, sorted (ids.py: compact enough to give every
# worker a copy).
_stored_ids: Ids = empty_ids()


def set_stored_ids(ids: Ids) -> None:
    """Install the store's ids, sorted, in this process (a worker's setup, or in-process before parsing)."""
    global _stored_ids
    _stored_ids = ids


def forced_format(fmt: str, mapping: Mapping | None) -> Format | None:
    """The format every record must have (a mapping, or --from NAME); None: sniff each record."""
    if mapping is not None:
        return MappedFormat(mapping)
    return None if fmt == "auto" else get_format(fmt)


def _match_legacy_ids(legacy: Ids, ids: Ids, in_staged: npt.NDArray[np.bool_]) -> None:
    """In a store made before id scheme 2, a transcript stored under its old id is a duplicate: account for it under
    that id."""
    stored = in_staged & contains(_stored_ids, legacy)
    ids[stored] = legacy[stored]
    in_staged &= ~stored


def check_ranges(t: Transcript) -> None:
    """Reject a transcript whose integers its columns cannot hold (a token count of 2**63, a summed usage past
    int64, an epoch past int32), rather than fail the conversion of every row of its chunk."""
    for name, attribute, bits in INTEGER_FIELDS:
        value = getattr(t, attribute)
        if value is not None and not -(1 << bits) <= value < 1 << bits:
            raise RecordError(f"{name} {value} is out of range (at most {(1 << bits) - 1})")


def rows_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays = [pa.array(values, type=f.type) for values, f in zip(columns, ROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ROW_SCHEMA)


def _parts(t: Transcript, model: str) -> tuple[Any, ...]:
    return (model, t.source_id, t.sample_id, t.epoch, t.reasoning_kind, t.prompt, t.reasoning, t.answer)


def transcript_id(t: Transcript, model: str) -> str:
    """Stable identity: the same transcript read twice (or from two files) gets the same id. Source ids are part
    of it, so two genuinely distinct responses with identical text (temperature 0) both stay.

    Each part is written as its length, a colon and its text, and a null as `-`: the encoding reads back into
    exactly one list of parts, so two distinct transcripts never hash the same input (the id scheme 2 of the
    store's manifest)."""
    pieces = []
    for part in _parts(t, model):
        if part is None:
            pieces.append("-")
        else:
            text = str(part)
            pieces += (str(len(text)), ":", text)  # the text itself is copied once, by the join
    key = "".join(pieces)
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def legacy_transcript_id(t: Transcript, model: str) -> str:
    """The id of stores made before id scheme 2: parts joined with \x1f, a null as \x00, unescaped (so a part
    holding those characters could make two transcripts alike). Only compared with the ids of such a store."""
    key = "\x1f".join("\x00" if p is None else str(p) for p in _parts(t, model))
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def join_locator(locator: str, suffix: str) -> str:
    """ "line 4" + "choices[1]" -> "line 4 choices[1]"; "results[0]" + "[2]" -> "results[0][2]"."""
    if not suffix:
        return locator
    return f"{locator}{suffix}" if suffix.startswith("[") else f"{locator} {suffix}"


def what_failed(error: Exception) -> str:
    """What a parser's unexpected exception says about the record, in words (never an exception's name)."""
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}" if error.args else "a missing field"
    if isinstance(error, IndexError):
        return "an empty list where an item was expected"
    return str(error) or "an unexpected structure"
