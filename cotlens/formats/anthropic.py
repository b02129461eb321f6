"""Anthropic Messages responses: `content[]` blocks `thinking` (raw), `redacted_thinking` (encrypted by the
provider: kind redacted), `text` (answer), tool blocks (ignored). No separate reasoning-token figure is reported.
Note: for Claude 4 and later models the API returns summarized thinking in `thinking` blocks; the data cannot
tell, so they are stored as raw and the README says so."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject, is_truncating, opt_dict, opt_int, opt_str, scalar_str
from cotlens.formats._message import read_content
from cotlens.formats.base import Context
from cotlens.record import Parsed


class Anthropic:
    name = "anthropic"
    summary = "Anthropic Messages responses (content[] blocks thinking / redacted_thinking / text)"
    priority = 40

    def sniff(self, obj: JSONObject) -> bool:
        return obj.get("type") == "message" and isinstance(obj.get("content"), list)

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = Parsed(model=opt_str(obj, "model") or context.model, source_id=scalar_str(obj.get("id")))
        read_content(obj.get("content"), parsed, "content")
        stop = opt_str(obj, "stop_reason")
        if stop:
            parsed.tags["finish_reason"] = stop
            parsed.truncated |= is_truncating(stop)
        usage = opt_dict(obj, "usage") or {}
        parsed.output_tokens = opt_int(usage, "output_tokens", "usage.")
        return [parsed]


FORMAT = Anthropic()
