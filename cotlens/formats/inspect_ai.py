"""Inspect AI samples (from `.eval` archives' `samples/*.json` or a `.json` log's `samples[]`): reasoning as
content items `{"type": "reasoning", "reasoning": ..., "redacted": ...}` in the assistant messages; the model and
task come from the log header; reported tokens from `model_usage` (the whole sample) or `output.usage`; scores and
sample metadata become tags."""

from __future__ import annotations

from typing import Any

import orjson

from cotlens.formats._fields import (
    JSONObject,
    dicts,
    is_truncating,
    opt_dict,
    opt_int,
    opt_list,
    opt_str,
    scalar_str,
)
from cotlens.formats._message import first_user_text, read_assistant_message, read_conversation
from cotlens.formats.base import Context
from cotlens.record import Parsed


class InspectSample:
    name = "inspect"
    summary = "Inspect AI eval samples (.eval archives and .json logs)"
    priority = 10

    def sniff(self, obj: JSONObject) -> bool:
        return "epoch" in obj and isinstance(obj.get("output"), dict) and "messages" in obj

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        output = opt_dict(obj, "output") or {}
        parsed = Parsed(
            model=context.model or opt_str(output, "model", "output."),
            dataset=context.dataset,
            sample_id=scalar_str(obj.get("id")),
            epoch=opt_int(obj, "epoch"),
            source_id=scalar_str(obj.get("uuid")),
        )
        prompt = obj.get("input")
        if isinstance(prompt, str):
            parsed.prompt = prompt
        elif isinstance(prompt, list):
            parsed.prompt = first_user_text(dicts(prompt, "input"))
        messages = dicts(opt_list(obj, "messages") or [], "messages")
        choices = dicts(opt_list(output, "choices", "output.") or [], "output.choices")
        if any(m.get("role") == "assistant" for m in messages):
            read_conversation(messages, parsed)
        elif choices:
            read_assistant_message(
                opt_dict(choices[0], "message", "output.choices[0].") or {},
                parsed,
                "output.choices[0].message.",
            )
        if choices:
            stop = opt_str(choices[0], "stop_reason", "output.choices[0].")
            if stop:
                parsed.tags["finish_reason"] = stop
                parsed.truncated |= is_truncating(stop)
        if output_model := opt_str(output, "model", "output."):
            parsed.tags["provider_model"] = output_model
        read_usage(obj, output, parsed)
        parsed.tags.update(outcome_tags(obj))
        return [parsed]


def outcome_tags(sample: JSONObject) -> dict[str, str]:
    """Scores and sample metadata as tags, so analyses can group and filter by them: `score:NAME` per scorer
    (a scorer with several values gives `score:NAME:KEY`), `meta:KEY`; scalar values only (metadata strings up to
    META_TAG_CHARS characters)."""
    tags: dict[str, str] = {}
    for name, score in (opt_dict(sample, "scores") or {}).items():
        value = score.get("value") if isinstance(score, dict) else None
        if isinstance(value, dict):
            tags.update({f"score:{name}:{k}": tag_value(v) for k, v in value.items() if is_scalar(v)})
        elif isinstance(value, str | int | float | bool):
            tags[f"score:{name}"] = tag_value(value)
    for key, value in (opt_dict(sample, "metadata") or {}).items():
        if is_scalar(value) and not (isinstance(value, str) and len(value) > META_TAG_CHARS):
            tags[f"meta:{key}"] = tag_value(value)
    return tags


# Metadata strings longer than this are texts (a problem statement, a reference solution), not values to group
# or filter by: left out of the tags.
META_TAG_CHARS = 200


def is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def tag_value(value: str | float | bool) -> str:
    """A string as is; a number or a boolean as JSON writes it (`1`, `0.5`, `true`)."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def read_usage(sample: JSONObject, output: JSONObject, parsed: Parsed) -> None:
    """`model_usage` sums every generation of the sample (agentic runs have many); `output.usage` is the last."""
    model_usage = opt_dict(sample, "model_usage")
    if model_usage:
        reasoning = [
            opt_int(u, "reasoning_tokens", "model_usage.")
            for u in model_usage.values()
            if isinstance(u, dict)
        ]
        outputs = [
            opt_int(u, "output_tokens", "model_usage.") for u in model_usage.values() if isinstance(u, dict)
        ]
        parsed.reasoning_tokens = (
            sum(r for r in reasoning if r is not None) if any(r is not None for r in reasoning) else None
        )
        parsed.output_tokens = (
            sum(o for o in outputs if o is not None) if any(o is not None for o in outputs) else None
        )
        return
    usage = opt_dict(output, "usage", "output.") or {}
    parsed.reasoning_tokens = opt_int(usage, "reasoning_tokens", "output.usage.")
    parsed.output_tokens = opt_int(usage, "output_tokens", "output.usage.")


FORMAT = InspectSample()
