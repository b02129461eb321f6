"""OpenAI Chat Completions responses, and the providers that copy them (DeepSeek, vLLM, OpenRouter, Together...):
`choices[].message` with reasoning in `reasoning_content`, `reasoning`, `reasoning_details` or inline tags;
reported reasoning tokens in `usage.completion_tokens_details.reasoning_tokens`. One transcript per choice."""

from __future__ import annotations

from cotlens.formats._fields import (
    JSONObject,
    dicts,
    first_dict,
    is_truncating,
    opt_dict,
    opt_int,
    opt_str,
    scalar_str,
)
from cotlens.formats._message import read_assistant_message
from cotlens.formats.base import Context
from cotlens.record import Parsed


class OpenAIChat:
    name = "openai-chat"
    summary = "OpenAI-style chat completion objects (choices[].message); DeepSeek, vLLM, OpenRouter responses"
    priority = 30

    def sniff(self, obj: JSONObject) -> bool:
        choice = first_dict(obj, "choices")
        return "message" in choice or "text" in choice

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        choices = dicts(obj["choices"], "choices")
        usage = opt_dict(obj, "usage") or {}
        details = opt_dict(usage, "completion_tokens_details", "usage.") or {}
        out = []
        for i, choice in enumerate(choices):
            parsed = Parsed(model=opt_str(obj, "model") or context.model, source_id=scalar_str(obj.get("id")))
            message = opt_dict(choice, "message", f"choices[{i}].")
            if message is not None:
                read_assistant_message(message, parsed, f"choices[{i}].message.")
            else:  # legacy completions: choices[].text
                read_assistant_message({"content": opt_str(choice, "text", f"choices[{i}].")}, parsed)
            finish = opt_str(choice, "finish_reason", f"choices[{i}].")
            if finish:
                parsed.tags["finish_reason"] = finish
                parsed.truncated |= is_truncating(finish)
            # Usage covers all choices together; it is only attributable when there is one.
            if len(choices) == 1:
                parsed.reasoning_tokens = opt_int(
                    details, "reasoning_tokens", "usage.completion_tokens_details."
                )
                parsed.output_tokens = opt_int(usage, "completion_tokens", "usage.")
            if provider := opt_str(obj, "provider"):
                parsed.tags["provider"] = provider
            if len(choices) > 1:
                parsed.locator_suffix = f"choices[{i}]"
                parsed.source_id = f"{parsed.source_id}#{i}" if parsed.source_id else None
            out.append(parsed)
        return out


FORMAT = OpenAIChat()
