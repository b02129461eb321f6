"""A conversation as a `messages` list of `{role, content}` (OpenAI or Anthropic message form), with the
model's reasoning in the assistant turns (any field `_message` knows)."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject, dicts, opt_str
from cotlens.formats._flat import read_common
from cotlens.formats._message import read_conversation
from cotlens.formats.base import Context
from cotlens.record import Parsed


class ChatMessages:
    name = "chat-messages"
    summary = "a conversation as messages[{role, content}] with reasoning in assistant turns"
    priority = 60

    def sniff(self, obj: JSONObject) -> bool:
        messages = obj.get("messages")
        return isinstance(messages, list) and any(
            isinstance(m, dict) and m.get("role") == "assistant" for m in messages
        )

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = read_common(obj, context)
        parsed.prompt = None  # the conversation's own first user turn is the prompt
        read_conversation(dicts(obj["messages"], "messages"), parsed)
        if parsed.prompt is None:
            parsed.prompt = opt_str(obj, "prompt")
        return [parsed]


FORMAT = ChatMessages()
