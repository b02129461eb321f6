"""Flat DeepSeek / vLLM records: `reasoning_content` beside `content` (a saved assistant message, or a research
record with a prompt)."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject
from cotlens.formats._flat import read_common
from cotlens.formats._message import read_assistant_message
from cotlens.formats.base import Context
from cotlens.record import Parsed


class ReasoningContent:
    name = "reasoning-content"
    summary = "flat DeepSeek / vLLM records with reasoning_content and content"
    priority = 80

    def sniff(self, obj: JSONObject) -> bool:
        return "reasoning_content" in obj

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = read_common(obj, context)
        read_assistant_message(
            {"reasoning_content": obj["reasoning_content"], "content": obj.get("content")}, parsed, ""
        )
        return [parsed]


FORMAT = ReasoningContent()
