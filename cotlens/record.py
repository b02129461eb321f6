"""The canonical transcript record: what a format parser produces and the Arrow schema of the store.

A parser fills a `Parsed` (reasoning split by kind, answer parts, reported figures); `Parsed.finish()` applies the
rules that every format shares (strip and join segments, choose the reasoning kind) and returns a `Transcript`.

The store's schema is the record's own fields, then the intrinsic measurements: the columns every registered
kernel declares (measure/), once per measured text. The record knows the registry, never a kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

import pyarrow as pa

from cotlens.measure import Kernel, registered_kernels

REASONING_KINDS: Final = ("raw", "summary", "redacted", "encrypted", "hidden", "none")

# Segments of one transcript are joined with a blank line (README, "The record").
SEGMENT_SEPARATOR: Final = "\n\n"


@dataclass(slots=True)
class Parsed:
    """What a format reads from one input record, before the shared rules are applied."""

    model: str | None = None
    raw: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    redacted_blocks: int = 0
    encrypted_blocks: int = 0
    answer: list[str] = field(default_factory=list)
    prompt: str | None = None
    reasoning_tokens: int | None = None
    output_tokens: int | None = None
    truncated: bool = False
    repairs: list[str] = field(default_factory=list)
    source_id: str | None = None
    dataset: str | None = None
    sample_id: str | None = None
    epoch: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # Appended to the record's locator when one record yields several transcripts ("choices[1]", "[2]").
    locator_suffix: str = ""
    # Said once per input by ingest (a field chosen among two candidates), not stored.
    warnings: list[str] = field(default_factory=list)
    # The number of segments the reasoning was joined from, when the input says (a cotlens export); else counted.
    segments: int | None = None

    def finish(self) -> Transcript:
        raw = _clean(self.raw)
        summary = _clean(self.summary)
        if raw:
            kind, segments = "raw", raw
        elif summary:
            kind, segments = "summary", summary
        elif self.redacted_blocks:
            kind, segments = "redacted", []
        elif self.encrypted_blocks:
            kind, segments = "encrypted", []
        elif self.reasoning_tokens:
            kind, segments = "hidden", []
        else:
            kind, segments = "none", []
        answer = _clean(self.answer)
        tags = dict(self.tags)
        if self.redacted_blocks and kind != "redacted":
            # Visible reasoning next to redacted blocks is partial; say so rather than hide it.
            tags["redacted_blocks"] = str(self.redacted_blocks)
        return Transcript(
            model=self.model,
            reasoning=SEGMENT_SEPARATOR.join(segments) if segments else None,
            reasoning_segments=self.segments if self.segments is not None and segments else len(segments),
            reasoning_kind=kind,
            answer=SEGMENT_SEPARATOR.join(answer) if answer else None,
            prompt=(self.prompt.strip() or None) if self.prompt is not None else None,
            reasoning_tokens_reported=self.reasoning_tokens,
            output_tokens_reported=self.output_tokens,
            truncated=self.truncated,
            repairs=list(dict.fromkeys(self.repairs)),
            source_id=self.source_id,
            dataset=self.dataset,
            sample_id=self.sample_id,
            epoch=self.epoch,
            tags=tags,
            locator_suffix=self.locator_suffix,
        )


def _clean(parts: list[str]) -> list[str]:
    return [s for s in (p.strip() for p in parts) if s]


@dataclass(slots=True)
class Transcript:
    """One canonical transcript, as it will be stored (provenance and identity are added by ingest)."""

    model: str | None
    reasoning: str | None
    reasoning_segments: int
    reasoning_kind: str
    answer: str | None
    prompt: str | None
    reasoning_tokens_reported: int | None
    output_tokens_reported: int | None
    truncated: bool
    repairs: list[str]
    source_id: str | None
    dataset: str | None
    sample_id: str | None
    epoch: int | None
    tags: dict[str, str]
    locator_suffix: str = ""


# The texts that get intrinsic measurements, each as `<text>_<measurement>` columns.
MEASURED_TEXTS: Final = ("reasoning", "answer")

# Explicit types: an inferred schema drifts between batches (a column that is null in one batch).
# Text columns are large_string so one batch of long traces cannot overflow 32-bit offsets.
RECORD_FIELDS: Final = (
    pa.field("transcript_id", pa.string(), nullable=False),
    pa.field("source_id", pa.string()),
    pa.field("model", pa.string(), nullable=False),
    pa.field("dataset", pa.string()),
    pa.field("sample_id", pa.string()),
    pa.field("epoch", pa.int32()),
    pa.field("tags", pa.map_(pa.string(), pa.string()), nullable=False),
    pa.field("source_path", pa.string(), nullable=False),
    pa.field("source_locator", pa.string(), nullable=False),
    pa.field("format", pa.string(), nullable=False),
    pa.field("prompt", pa.large_string()),
    pa.field("reasoning", pa.large_string()),
    pa.field("answer", pa.large_string()),
    pa.field("reasoning_kind", pa.string(), nullable=False),
    pa.field("reasoning_segments", pa.int32(), nullable=False),
    pa.field("reasoning_tokens_reported", pa.int64()),
    pa.field("output_tokens_reported", pa.int64()),
    pa.field("truncated", pa.bool_(), nullable=False),
    pa.field("repairs", pa.list_(pa.string()), nullable=False),
    pa.field("reasoning_chars", pa.int64()),
    pa.field("answer_chars", pa.int64()),
    pa.field("ingest_run", pa.string(), nullable=False),
)
# What made a row's intrinsic measurements (cotlens version, tokenizer), after them.
MEASURED_BY: Final = pa.field("measured_by", pa.string())


def measurements() -> tuple[pa.Field, ...]:
    """Per measured text, the columns of every registered kernel (measure/), in the kernels' order."""
    return _assembled(registered_kernels())[0]


def intrinsic_fields() -> tuple[pa.Field, ...]:
    """The intrinsic measurements, computed once at ingest (or later by `cotlens measure` for older stores):
    `<text>_<measurement>` for each measured text, null where the text is null and throughout when ingest
    deferred them; then MEASURED_BY."""
    return _assembled(registered_kernels())[1]


def schema() -> pa.Schema:
    """The store's schema: RECORD_FIELDS, then the intrinsic measurements."""
    return _assembled(registered_kernels())[2]


def part_schema() -> pa.Schema:
    """schema(), with the metadata the kernels' values depend on (the lexicons whose terms were counted), so a
    part file describes itself."""
    metadata: dict[str, str] = {}
    for kernel in registered_kernels():
        metadata.update(kernel.metadata() if kernel.metadata is not None else {})
    return schema().with_metadata(metadata)


@lru_cache(maxsize=4)
def _assembled(kernels: tuple[Kernel, ...]) -> tuple[tuple[pa.Field, ...], tuple[pa.Field, ...], pa.Schema]:
    measured = tuple(pa.field(c.name, c.type) for kernel in kernels for c in kernel.columns)
    intrinsic = (
        *(pa.field(f"{text}_{m.name}", m.type) for text in MEASURED_TEXTS for m in measured),
        MEASURED_BY,
    )
    return measured, intrinsic, pa.schema([*RECORD_FIELDS, *intrinsic])
