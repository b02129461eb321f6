"""ShareGPT conversations: `conversations[{from, value}]` with `from` human / gpt (also user / assistant);
reasoning inline in the assistant value (`<think>` tags, harmony)."""

from __future__ import annotations

from cotlens.errors import RecordError
from cotlens.formats._fields import JSONObject, dicts, first_dict
from cotlens.formats._flat import read_common
from cotlens.formats._message import read_conversation
from cotlens.formats.base import Context
from cotlens.record import Parsed

ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "system": "system",
    "function_call": "tool",
    "observation": "tool",
    "tool": "tool",
}


class ShareGPT:
    name = "sharegpt"
    summary = "ShareGPT conversations[{from, value}]"
    priority = 70

    def sniff(self, obj: JSONObject) -> bool:
        return "from" in first_dict(obj, "conversations")

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        messages = []
        for i, turn in enumerate(dicts(obj["conversations"], "conversations")):
            speaker = turn.get("from")
            if speaker not in ROLES:
                raise RecordError(
                    f"conversations[{i}].from is {speaker!r:.40}, expected one of {sorted(ROLES)}"
                )
            messages.append({"role": ROLES[speaker], "content": turn.get("value")})
        parsed = read_common(obj, context)
        parsed.prompt = None
        read_conversation(messages, parsed, "conversations")
        return [parsed]


FORMAT = ShareGPT()
