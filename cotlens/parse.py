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
from cotlens.measure.intrinsic import measure, unmeasured
from cotlens.record import RECORD_FIELDS, Transcript
from cotlens.sources import Item, LineBlock
from cotlens.store import write_staged

REJECT_EXCERPT_BYTES = 2000
# RecordParser._row builds rows as tuples in this order (tuples transpose into columns cheaply).
ROW_SCHEMA = pa.schema(RECORD_FIELDS)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records of one input: raw JSON Lines (`block`), or records already decoded from a document (`items`)."""

    source: str
    staged: str  # where the parser writes the chunk's rows (an Arrow IPC file in the ingest run's staging)
    items: list[Item] | None = None
    block: LineBlock | None = None

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
class ChunkResult:
    """What one chunk yields: the staged file its rows went to (before deduplication: the reading process drops
    duplicates when it adds them to the run's part files), their ids and models, and the accounting of its
    records."""

    staged: str | None
    ids: list[str]
    models: list[str]
    in_staged: list[bool]  # which of `ids` are rows of `staged` (the others were in the store already)
    records: int = 0
    transcripts: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    formats: Counter[str] = field(default_factory=Counter)
    repairs: Counter[str] = field(default_factory=Counter)


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

    def __call__(self, chunk: Chunk) -> ChunkResult:
        forced = forced_format(self.fmt, self.mapping)
        previous: Format | None = None
        rows: list[tuple[Any, ...]] = []
        records, transcripts = 0, 0
        rejects: list[dict[str, Any]] = []
        formats: Counter[str] = Counter()
        repairs: Counter[str] = Counter()
        for item in chunk.records():
            records += 1
            try:
                fmt, parsed = self._parse(item.decode(), forced, previous)
            except RecordError as e:
                rejects.append(self._reject(chunk.source, item, str(e)))
                continue
            previous = fmt
            formats[fmt.name] += 1
            for t, model in parsed:
                transcripts += 1
                repairs.update(t.repairs)
                rows.append(self._row(t, model, chunk.source, item.locator, fmt.name))
        ids = [row[0] for row in rows]
        models = [row[2] for row in rows]
        # Transcripts the store held before this run are duplicates whatever happens: not measured, not written.
        in_staged = _not_stored(ids)
        rows = [row for row, new in zip(rows, in_staged, strict=True) if new]
        staged = chunk.staged if rows else None
        if staged is not None:
            columns = list(zip(*rows, strict=True))
            arrays = [pa.array(values, type=f.type) for values, f in zip(columns, ROW_SCHEMA, strict=True)]
            table = pa.Table.from_arrays(arrays, schema=ROW_SCHEMA)
            # Measured and written here, in the worker: in parallel, and no text crosses back.
            write_staged(staged, measure(table) if self.measure else unmeasured(table))
        return ChunkResult(staged, ids, models, in_staged, records, transcripts, rejects, formats, repairs)

    def _parse(
        self, item: Item, forced: Format | None, previous: Format | None
    ) -> tuple[Format, list[tuple[Transcript, str]]]:
        if item.error is not None:
            raise RecordError(item.error)
        if not isinstance(item.obj, dict):
            raise RecordError(f"a JSON {type(item.obj).__name__}, expected an object")
        fmt = forced or detect_format(item.obj, previous)
        try:
            parsed_list = fmt.parse(item.obj, item.context)
        except RecordError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
            # A parser met a structure it did not expect: the record is malformed for this shape.
            raise RecordError(f"malformed {fmt.name} record: {what_failed(e)}") from None
        rows = []
        for parsed in parsed_list:
            parsed.repairs.extend(item.repairs)
            parsed.tags.update(self.tags)
            t = parsed.finish()
            model = (self.model or t.model or "").strip()
            if not model:
                raise RecordError("no model name in the record: give --model NAME (or model_name in a --map)")
            rows.append((t, model))
        return fmt, rows

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
        raw = item.raw if item.raw is not None else orjson.dumps(item.obj)
        return {
            "source_path": source,
            "source_locator": item.locator,
            "reason": reason,
            "bytes": len(raw),
            "excerpt": raw[:REJECT_EXCERPT_BYTES].decode("utf-8", errors="replace"),
            "ingest_run": self.run_id,
        }


# The ids of the transcripts the store held when the run began, as sorted 16-byte values (compact enough to give
# every worker a copy; a Python set of hex strings would take about 6x the memory).
_stored_ids: npt.NDArray[np.bytes_] = np.array([], dtype="S16")


def set_stored_ids(ids: npt.NDArray[np.bytes_]) -> None:
    """Install the store's ids in this process (a worker's setup, or in-process before parsing)."""
    global _stored_ids
    _stored_ids = ids


def stored_ids_array(ids: set[str]) -> npt.NDArray[np.bytes_]:
    # An id that is not 32 hex digits (a hand-edited store) cannot equal a computed one: leave it out.
    return np.sort(np.array([bytes.fromhex(i) for i in ids if _is_id(i)], dtype="S16"))


def _is_id(value: str) -> bool:
    try:
        return len(bytes.fromhex(value)) == 16
    except ValueError:
        return False


def forced_format(fmt: str, mapping: Mapping | None) -> Format | None:
    """The format every record must have (a mapping, or --from NAME); None: sniff each record."""
    if mapping is not None:
        return MappedFormat(mapping)
    return None if fmt == "auto" else get_format(fmt)


def _not_stored(ids: list[str]) -> list[bool]:
    if not len(_stored_ids) or not ids:
        return [True] * len(ids)
    wanted = np.array([bytes.fromhex(i) for i in ids], dtype="S16")
    at = np.minimum(np.searchsorted(_stored_ids, wanted), len(_stored_ids) - 1)
    fresh: list[bool] = (_stored_ids[at] != wanted).tolist()
    return fresh


def transcript_id(t: Transcript, model: str) -> str:
    """Stable identity: the same transcript read twice (or from two files) gets the same id. Source ids are part
    of it, so two genuinely distinct responses with identical text (temperature 0) both stay."""
    parts = (model, t.source_id, t.sample_id, t.epoch, t.reasoning_kind, t.prompt, t.reasoning, t.answer)
    # One string, one hash (per-part updates cost more than the copy); \x00 marks a null, \x1f separates.
    key = "\x1f".join("\x00" if p is None else str(p) for p in parts)
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
