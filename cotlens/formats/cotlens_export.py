"""cotlens's own output read back: the rows of `cotlens filter --out x.jsonl|x.parquet` and of a store's part
files. The transcript is rebuilt from its fields and its id computed again: an id in the input is never trusted,
so a row cannot claim another transcript's identity, and a row read back gets the id it had."""

from __future__ import annotations

from typing import Any

from cotlens.errors import RecordError
from cotlens.formats._fields import JSONObject, opt_int, opt_str, scalar_str
from cotlens.formats.base import Context
from cotlens.record import REASONING_KINDS, Parsed

# Fields every cotlens row has (none of them nullable) and no other shape's record has together.
SIGNATURE = ("transcript_id", "reasoning_kind", "source_locator", "ingest_run")


class CotlensExport:
    name = "cotlens-export"
    summary = "cotlens's own rows: filter --out exports, store part files"
    # Among the specific shapes (no other one has these fields), before any recognizer by field names.
    priority = 35

    def sniff(self, obj: JSONObject) -> bool:
        return all(key in obj for key in SIGNATURE)

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        kind = opt_str(obj, "reasoning_kind")
        if kind not in REASONING_KINDS:
            raise RecordError(f"reasoning_kind is {kind!r:.40}, expected one of {', '.join(REASONING_KINDS)}")
        reasoning, answer = opt_str(obj, "reasoning"), opt_str(obj, "answer")
        truncated = obj.get("truncated", False)
        if not isinstance(truncated, bool):
            raise RecordError(f"truncated is {truncated!r:.40}, expected true or false")
        parsed = Parsed(
            model=opt_str(obj, "model") or context.model,
            answer=[answer] if answer is not None else [],
            prompt=opt_str(obj, "prompt"),
            reasoning_tokens=opt_int(obj, "reasoning_tokens_reported"),
            output_tokens=opt_int(obj, "output_tokens_reported"),
            truncated=truncated,
            repairs=_strings(obj.get("repairs"), "repairs"),
            source_id=opt_str(obj, "source_id"),
            dataset=opt_str(obj, "dataset"),
            sample_id=scalar_str(obj.get("sample_id")),
            epoch=opt_int(obj, "epoch"),
            tags=_tags(obj.get("tags")),
            segments=opt_int(obj, "reasoning_segments"),
        )
        if kind == "raw" and reasoning is not None:
            parsed.raw.append(reasoning)
        elif kind == "summary" and reasoning is not None:
            parsed.summary.append(reasoning)
        parsed.redacted_blocks = int(kind == "redacted")
        parsed.encrypted_blocks = int(kind == "encrypted")
        rebuilt = parsed.finish().reasoning_kind
        if rebuilt != kind:
            raise RecordError(f"reasoning_kind is {kind!r} but the fields make a {rebuilt!r} transcript")
        return [parsed]


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise RecordError(f"{where} is {value!r:.40}, expected a list of strings")


def _tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise RecordError(f"tags is {value!r:.40}, expected an object of strings")


FORMAT = CotlensExport()
