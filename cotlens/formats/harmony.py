"""gpt-oss harmony completions in a flat record: `<|channel|>analysis<|message|>...<|end|>` (reasoning),
channel `final` (answer), `commentary` (tool calls and preambles: neither); often unterminated."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject
from cotlens.formats._flat import completion_key, read_common, require_completion
from cotlens.formats._inline import is_harmony, split_harmony
from cotlens.formats.base import Context
from cotlens.formats.generic import has_reasoning_field
from cotlens.record import Parsed


class Harmony:
    name = "harmony"
    summary = "flat records whose completion string uses gpt-oss harmony channels"
    priority = 100

    def sniff(self, obj: JSONObject) -> bool:
        key = completion_key(obj)
        return key is not None and is_harmony(obj[key]) and not has_reasoning_field(obj)

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = read_common(obj, context)
        split_harmony(require_completion(obj)).into(parsed)
        return [parsed]


FORMAT = Harmony()
