"""Google Gemini `generateContent` responses: `candidates[].content.parts[]`, where a part with `thought: true`
is a thought summary (kind summary: the API returns summaries of the model's thinking, not the raw text) and the
other text parts are the answer. `usageMetadata.thoughtsTokenCount` is the reported reasoning; the output is
`candidatesTokenCount` (which excludes thoughts) plus the thoughts. One transcript per candidate."""

from __future__ import annotations

from cotlens.formats._fields import (
    JSONObject,
    dicts,
    first_dict,
    is_truncating,
    opt_dict,
    opt_int,
    opt_list,
    opt_str,
    scalar_str,
)
from cotlens.formats._inline import split_inline
from cotlens.formats.base import Context
from cotlens.record import Parsed


class Gemini:
    name = "gemini"
    summary = "Google Gemini generateContent responses (candidates[].content.parts[], thought parts)"
    priority = 35

    def sniff(self, obj: JSONObject) -> bool:
        return isinstance(first_dict(obj, "candidates").get("content"), dict)

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        candidates = dicts(obj["candidates"], "candidates")
        usage = opt_dict(obj, "usageMetadata") or {}
        thoughts = opt_int(usage, "thoughtsTokenCount", "usageMetadata.")
        answer_tokens = opt_int(usage, "candidatesTokenCount", "usageMetadata.")
        model = opt_str(obj, "modelVersion") or opt_str(obj, "model") or context.model
        out = []
        for i, candidate in enumerate(candidates):
            where = f"candidates[{i}]."
            parsed = Parsed(model=model, source_id=scalar_str(obj.get("responseId")))
            content = opt_dict(candidate, "content", where) or {}
            for part in dicts(opt_list(content, "parts", f"{where}content.") or [], f"{where}content.parts"):
                text = opt_str(part, "text", f"{where}content.parts[].")
                if text is None:
                    continue  # function calls, inline data
                if part.get("thought") is True:
                    parsed.summary.append(text)
                else:
                    split_inline(text).into(parsed)
            finish = opt_str(candidate, "finishReason", where)
            if finish:
                parsed.tags["finish_reason"] = finish
                parsed.truncated |= is_truncating(finish.lower())
            if len(candidates) == 1:  # usage covers all candidates together
                parsed.reasoning_tokens = thoughts
                if answer_tokens is not None or thoughts is not None:
                    parsed.output_tokens = (answer_tokens or 0) + (thoughts or 0)
            else:
                parsed.locator_suffix = f"candidates[{i}]"
                parsed.source_id = f"{parsed.source_id}#{i}" if parsed.source_id else None
            out.append(parsed)
        return out


FORMAT = Gemini()
