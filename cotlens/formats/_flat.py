"""Fields that flat research records share, whatever holds their reasoning."""

from __future__ import annotations

import orjson

from cotlens.errors import RecordError
from cotlens.formats._fields import JSONObject, is_truncating, opt_str, scalar_str
from cotlens.formats.base import Context
from cotlens.formats.generic import reported_tokens
from cotlens.record import Parsed

PROMPT_KEYS = ("prompt", "question", "input", "instruction", "problem")
COMPLETION_KEYS = ("response", "completion", "output", "generation", "generated_text", "text")


def read_common(obj: JSONObject, context: Context) -> Parsed:
    """A Parsed with the model (the record's, else the container's), prompt, id, dataset, finish reason and
    reported tokens (by the generic token synonyms) of a flat record."""
    parsed = Parsed()
    parsed.model = opt_str(obj, "model") or context.model
    for key in PROMPT_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            parsed.prompt = value
            break
        if value is not None:
            # An object, a list, a number: kept as its JSON text (the repair says so), never dropped.
            parsed.prompt = orjson.dumps(value).decode()
            parsed.repairs.append("prompt-as-json")
            break
    parsed.source_id = scalar_str(obj.get("id"))
    parsed.dataset = opt_str(obj, "dataset")
    parsed.reasoning_tokens, parsed.output_tokens = reported_tokens(obj)
    finish = opt_str(obj, "finish_reason") or opt_str(obj, "stop_reason")
    if finish:
        parsed.tags["finish_reason"] = finish
        parsed.truncated |= is_truncating(finish)
    return parsed


def completion_key(obj: JSONObject) -> str | None:
    """The key of the completion string in a flat record, if it has one."""
    for key in COMPLETION_KEYS:
        if isinstance(obj.get(key), str):
            return key
    return None


def require_completion(obj: JSONObject) -> str:
    """The completion string of a flat record; a record without one is rejected."""
    key = completion_key(obj)
    if key is None:
        raise RecordError(f"no completion string (looked for {', '.join(COMPLETION_KEYS)})")
    text: str = obj[key]
    return text
