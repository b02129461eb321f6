"""Bare OpenRouter assistant messages: `reasoning` (string) and/or `reasoning_details[]`.

A flat record with a `reasoning` field and no assistant role is NOT claimed: research dumps use that name for an
evaluator's rationale, so such files need an explicit --map."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject
from cotlens.formats._flat import read_common
from cotlens.formats._message import read_assistant_message
from cotlens.formats.base import Context
from cotlens.record import Parsed


class OpenRouter:
    name = "openrouter"
    summary = "bare OpenRouter assistant messages (reasoning, reasoning_details[])"
    priority = 90

    def sniff(self, obj: JSONObject) -> bool:
        return isinstance(obj.get("reasoning_details"), list) or (
            obj.get("role") == "assistant" and isinstance(obj.get("reasoning"), str)
        )

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = read_common(obj, context)
        read_assistant_message(obj, parsed, "")
        parsed.tags["provider"] = "openrouter"
        return [parsed]


FORMAT = OpenRouter()
