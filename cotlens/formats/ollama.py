"""Ollama API responses: chat (`message.thinking`, `message.content`) and generate (`thinking`, `response`);
`done_reason` "length" is truncation; `eval_count` is the reported output token count (reasoning included)."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject, is_truncating, opt_dict, opt_int, opt_str
from cotlens.formats._message import read_assistant_message
from cotlens.formats.base import Context
from cotlens.record import Parsed


class Ollama:
    name = "ollama"
    summary = "Ollama /api/chat and /api/generate responses (thinking, content / response, done_reason)"
    priority = 50

    def sniff(self, obj: JSONObject) -> bool:
        return ("done_reason" in obj or "done" in obj) and (
            isinstance(obj.get("message"), dict) or isinstance(obj.get("response"), str)
        )

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = Parsed(model=opt_str(obj, "model") or context.model)
        message = opt_dict(obj, "message")
        if message is not None:
            read_assistant_message(message, parsed)
        else:
            read_assistant_message(
                {"thinking": obj.get("thinking"), "content": obj.get("response")}, parsed, ""
            )
        if isinstance(obj.get("prompt"), str):
            parsed.prompt = obj["prompt"]
        done = opt_str(obj, "done_reason")
        if done:
            parsed.tags["finish_reason"] = done
            parsed.truncated |= is_truncating(done)
        parsed.output_tokens = opt_int(obj, "eval_count")
        parsed.tags["provider"] = "ollama"
        return [parsed]


FORMAT = Ollama()
