"""OpenAI Responses API objects: `output[]` items; `reasoning` items carry `content[].text` (raw, e.g. gpt-oss),
`summary[].text` (summaries) or only `encrypted_content`; `message` items carry the answer. Reported reasoning
tokens in `usage.output_tokens_details.reasoning_tokens`."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject, dicts, opt_dict, opt_int, opt_list, opt_str, scalar_str
from cotlens.formats._message import read_content
from cotlens.formats.base import Context
from cotlens.record import Parsed

ITEM_TYPES = {
    "reasoning",
    "message",
    "function_call",
    "function_call_output",
    "web_search_call",
    "file_search_call",
    "computer_call",
    "code_interpreter_call",
    "custom_tool_call",
}


class OpenAIResponses:
    name = "openai-responses"
    summary = "OpenAI Responses API objects (output[] items of type reasoning / message)"
    priority = 20

    def sniff(self, obj: JSONObject) -> bool:
        if obj.get("object") == "response":
            return True
        output = obj.get("output")
        return (
            isinstance(output, list)
            and bool(output)
            and all(isinstance(item, dict) and item.get("type") in ITEM_TYPES for item in output)
        )

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = Parsed(model=opt_str(obj, "model") or context.model, source_id=scalar_str(obj.get("id")))
        for i, item in enumerate(dicts(opt_list(obj, "output") or [], "output")):
            where = f"output[{i}]."
            kind = item.get("type")
            if kind == "reasoning":
                for part in dicts(opt_list(item, "content", where) or [], f"{where}content"):
                    parsed.raw.append(opt_str(part, "text", f"{where}content[].") or "")
                for part in dicts(opt_list(item, "summary", where) or [], f"{where}summary"):
                    parsed.summary.append(opt_str(part, "text", f"{where}summary[].") or "")
                if item.get("encrypted_content"):
                    parsed.encrypted_blocks += 1
            elif kind == "message":
                read_content(item.get("content"), parsed, f"{where}content")
        usage = opt_dict(obj, "usage") or {}
        details = opt_dict(usage, "output_tokens_details", "usage.") or {}
        parsed.reasoning_tokens = opt_int(details, "reasoning_tokens", "usage.output_tokens_details.")
        parsed.output_tokens = opt_int(usage, "output_tokens", "usage.")
        status = opt_str(obj, "status")
        if status:
            parsed.tags["status"] = status
        incomplete = opt_dict(obj, "incomplete_details") or {}
        reason = opt_str(incomplete, "reason", "incomplete_details.")
        if reason:
            parsed.tags["finish_reason"] = reason
            parsed.truncated |= reason == "max_output_tokens"
        return [parsed]


FORMAT = OpenAIResponses()
