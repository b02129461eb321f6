"""A conversation as a `messages` (or `conversations`, `conversation`) list of `{role, content}` (OpenAI or
Anthropic message form), with the model's reasoning in the assistant turns (any field `_message` knows)."""

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
        return _messages_key(obj) is not None

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        key = _messages_key(obj) or "messages"
        parsed = read_common(obj, context)
        parsed.prompt = None  # the conversation's own first user turn is the prompt
        read_conversation(dicts(obj[key], key), parsed, key)
        if parsed.prompt is None:
            parsed.prompt = opt_str(obj, "prompt")
        return [parsed]


# Where datasets keep a conversation of {role, content} messages (ShareGPT's {from, value} is its own shape).
MESSAGE_KEYS = ("messages", "conversations", "conversation")


def _messages_key(obj: JSONObject) -> str | None:
    for key in MESSAGE_KEYS:
        messages = obj.get(key)
        if isinstance(messages, list) and any(
            isinstance(m, dict) and m.get("role") == "assistant" for m in messages
        ):
            return key
    return None


FORMAT = ChatMessages()
