"""Flat records with a completion string (`response`, `completion`, `output`, ...) that may hold inline
reasoning (`<think>...</think>` or another tag family of `_inline.py`), with or without its opening tag; no tags
at all means no visible reasoning. A record that also names a reasoning field is a generic record."""

from __future__ import annotations

from cotlens.formats._fields import JSONObject
from cotlens.formats._flat import completion_key, read_common, require_completion
from cotlens.formats._inline import split_inline
from cotlens.formats.base import Context
from cotlens.formats.generic import has_reasoning_field
from cotlens.record import Parsed


class ThinkTags:
    name = "think-tags"
    summary = "flat records with a completion string (response / completion / output / text) and <think> tags"
    priority = 110

    def sniff(self, obj: JSONObject) -> bool:
        return completion_key(obj) is not None and not has_reasoning_field(obj)

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        parsed = read_common(obj, context)
        split_inline(require_completion(obj)).into(parsed)
        return [parsed]


FORMAT = ThinkTags()
