"""Ingest: stream input files into the store, accounting for every record.

Every input record ends up counted once: rejected (with its locator and reason in the rejects file), or parsed
into one or more transcripts, each of which is added or a duplicate of one already stored.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import pyarrow as pa

from cotlens.errors import CotlensError, InputError, RecordError
from cotlens.formats import Format, detect_format, get_format, sniffable_formats
from cotlens.formats.mapping import MappedFormat, Mapping, parse_path
from cotlens.record import SCHEMA, Transcript
from cotlens.sources import Item, expand_paths, input_size, read_items
from cotlens.store import Store

# A batch is flushed to Parquet at this many rows or this much text, whichever comes first: large enough for
# efficient row groups, small enough to keep memory bounded whatever the input size.
BATCH_ROWS = 8192
BATCH_TEXT_BYTES = 64 << 20
REJECT_EXCERPT_BYTES = 2000


@dataclass
class IngestOptions:
    fmt: str = "auto"
    model: str | None = None  # supplies or overrides every record's model
    dataset: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    mapping: Mapping | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "from": "mapping" if self.mapping else self.fmt,
            "model": self.model,
            "dataset": self.dataset,
            "tags": self.tags,
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

    @property
    def totals(self) -> dict[str, int]:
        keys = ("records", "rejected", "transcripts", "added", "duplicate")
        return {k: sum(getattr(s, k) for s in self.inputs) for k in keys}

    @property
    def failed_inputs(self) -> list[InputSummary]:
        return [s for s in self.inputs if s.error]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "run_id": self.run_id,
            "store": self.store,
            "totals": self.totals,
            "inputs": [s.to_dict() for s in self.inputs],
            "rejects_file": self.rejects_file,
            "models": {
                m: {"added": s.added, "duplicate": s.duplicate} for m, s in sorted(self.models.items())
            },
        }


class Progress(Protocol):
    def start(self, source: str, total_bytes: int | None) -> None: ...
    def advance(self, position: int) -> None: ...
    def finish(self) -> None: ...


def transcript_id(t: Transcript, model: str) -> str:
    """Stable identity: the same transcript read twice (or from two files) gets the same id. Source ids are part
    of it, so two genuinely distinct responses with identical text (temperature 0) both stay."""
    h = hashlib.blake2b(digest_size=16)
    for part in (model, t.source_id, t.sample_id, t.epoch, t.reasoning_kind, t.prompt, t.reasoning, t.answer):
        h.update(b"\x00" if part is None else str(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


class _Batch:
    """Columns under construction, flushed as one Arrow record batch."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
        self.rows = 0
        self.text_bytes = 0

    def add(self, row: dict[str, Any]) -> None:
        for name, values in self.columns.items():
            values.append(row[name])
        self.rows += 1
        self.text_bytes += (row["reasoning_chars"] or 0) + (row["answer_chars"] or 0)

    @property
    def full(self) -> bool:
        return self.rows >= BATCH_ROWS or self.text_bytes >= BATCH_TEXT_BYTES

    def take(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_arrays(
            [pa.array(self.columns[f.name], type=f.type) for f in SCHEMA], schema=SCHEMA
        )
        self.__init__()  # type: ignore[misc]
        return batch


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
    forced: Format | None = None
    if options.mapping is not None:
        forced = MappedFormat(options.mapping)
    elif options.fmt != "auto":
        forced = get_format(options.fmt)
    records_path = (
        parse_path(options.mapping.records) if options.mapping and options.mapping.records else None
    )

    def is_record(obj: Any) -> bool:
        if not isinstance(obj, dict):
            return False
        if forced is not None:
            return forced.sniff(obj)
        return any(f.sniff(obj) for f in sniffable_formats())

    models: dict[str, ModelSummary] = {}
    summaries: list[InputSummary] = []
    with store.writer(options.describe(), on_wait) as writer:
        batch = _Batch()
        for source in expand_paths(paths):
            summary = InputSummary(source)
            summaries.append(summary)
            if progress:
                progress.start(source, input_size(source))
            previous: Format | None = None
            try:
                items = read_items(source, is_record, records_path, progress.advance if progress else None)
                for item in items:
                    summary.records += 1
                    try:
                        previous = _ingest_item(
                            item, source, forced, previous, options, writer, batch, summary, models
                        )
                    except RecordError as e:
                        summary.rejected += 1
                        summary.first_reject = summary.first_reject or f"{item.locator}: {e}"
                        writer.reject(_reject_entry(source, item, str(e), writer.run_id))
                    if batch.full:
                        writer.write(batch.take())
            except InputError as e:
                summary.error = str(e)
                writer.reject(
                    {
                        "source_path": source,
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
        writer.write(batch.take())
        totals = {
            k: sum(getattr(s, k) for s in summaries) for k in ("records", "rejected", "added", "duplicate")
        }
        run = writer.commit({"inputs": [s.to_dict() for s in summaries], **totals})
    return IngestResult(writer.run_id, str(store.root), summaries, models, run.get("rejects"))


def _ingest_item(
    item: Item,
    source: str,
    forced: Format | None,
    previous: Format | None,
    options: IngestOptions,
    writer: Any,
    batch: _Batch,
    summary: InputSummary,
    models: dict[str, ModelSummary],
) -> Format | None:
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
        # A parser met a structure it did not expect; the record is malformed for this shape.
        raise RecordError(f"malformed {fmt.name} record: {type(e).__name__}: {e}") from None
    rows = []
    for parsed in parsed_list:
        parsed.repairs.extend(item.repairs)
        parsed.tags.update(options.tags)
        t = parsed.finish()
        model = (options.model or t.model or "").strip()
        if not model:
            raise RecordError("no model name in the record: give --model NAME (or model_name in a --map)")
        rows.append((t, model))
    summary.formats[fmt.name] += 1
    for t, model in rows:
        summary.transcripts += 1
        summary.repairs.update(t.repairs)
        tid = transcript_id(t, model)
        counts = models.setdefault(model, ModelSummary())
        if not writer.is_new(tid):
            summary.duplicate += 1
            counts.duplicate += 1
            continue
        summary.added += 1
        counts.added += 1
        locator = _join_locator(item.locator, t.locator_suffix)
        batch.add(_row(t, tid, model, source, locator, fmt.name, options, writer.run_id))
    return fmt


def _join_locator(locator: str, suffix: str) -> str:
    """ "line 4" + "choices[1]" -> "line 4 choices[1]"; "results[0]" + "[2]" -> "results[0][2]"."""
    if not suffix:
        return locator
    return f"{locator}{suffix}" if suffix.startswith("[") else f"{locator} {suffix}"


def _row(
    t: Transcript,
    tid: str,
    model: str,
    source: str,
    locator: str,
    fmt: str,
    options: IngestOptions,
    run_id: str,
) -> dict[str, Any]:
    return {
        "transcript_id": tid,
        "source_id": t.source_id,
        "model": model,
        "dataset": options.dataset or t.dataset,
        "sample_id": t.sample_id,
        "epoch": t.epoch,
        "tags": sorted(t.tags.items()),
        "source_path": source,
        "source_locator": locator,
        "format": fmt,
        "prompt": t.prompt,
        "reasoning": t.reasoning,
        "answer": t.answer,
        "reasoning_kind": t.reasoning_kind,
        "reasoning_segments": t.reasoning_segments,
        "reasoning_tokens_reported": t.reasoning_tokens_reported,
        "output_tokens_reported": t.output_tokens_reported,
        "truncated": t.truncated,
        "repairs": t.repairs,
        "reasoning_chars": None if t.reasoning is None else len(t.reasoning),
        "answer_chars": None if t.answer is None else len(t.answer),
        "ingest_run": run_id,
    }


def _reject_entry(source: str, item: Item, reason: str, run_id: str) -> dict[str, Any]:
    raw = item.raw if item.error is not None else orjson.dumps(item.obj)
    return {
        "source_path": source,
        "source_locator": item.locator,
        "reason": reason,
        "bytes": len(raw),
        "excerpt": raw[:REJECT_EXCERPT_BYTES].decode("utf-8", errors="replace"),
        "ingest_run": run_id,
    }


__all__ = ["CotlensError", "IngestOptions", "IngestResult", "InputSummary", "ingest", "transcript_id"]
