"""What a JSON document says about all its records: a model named once at the document level, and lists of
strings that are records (harmony or `<think>` renderings, as in a red-teaming findings document)."""

from __future__ import annotations

from typing import Any

from cotlens.formats._fields import JSONObject, type_name
from cotlens.formats._inline import has_inline_reasoning
from cotlens.formats.base import Context
from cotlens.formats.mapping import parse_path, resolve

# Where a document names the model of its records, in order; an object there gives its `name`, else `id`.
DOCUMENT_MODEL_PATHS = (
    "model",
    "model_name",
    "meta.model",
    "metadata.model",
    "config.model",
    "args.model",
    "meta.model_name",
    "metadata.model_name",
    "config.model_name",
)


def document_context(doc: JSONObject, base: Context | None = None) -> Context:
    """The context of a document's records: its model, or why its model cannot be used (a record that names
    no model of its own is then rejected with that reason)."""
    defaults = dict(base.defaults) if base is not None else {}
    for text in DOCUMENT_MODEL_PATHS:
        value = resolve(doc, parse_path(text).steps)
        if value is None:
            continue
        where = text
        if isinstance(value, dict):
            key = "name" if "name" in value else "id" if "id" in value else None
            if key is None:
                continue  # a settings object named `model` without a name: not a model name
            where, value = f"{text}.{key}", value[key]
        if isinstance(value, str) and value.strip():
            defaults["model"] = value
        else:
            defaults["model_error"] = (
                f"document-level model at {where} is {type_name(value)}, expected a string: give --model NAME"
            )
        break
    return Context(defaults)


def string_record_keys(doc: JSONObject) -> list[str]:
    """The keys of lists of strings whose strings carry inline reasoning: each string is a record."""
    return [
        key
        for key, value in doc.items()
        if isinstance(value, list)
        and value
        and all(isinstance(v, str) for v in value)
        and any(has_inline_reasoning(v) for v in value)
    ]


def string_record(value: Any) -> Any:
    """A string in a list of records stands for a record whose completion it is."""
    return {"text": value} if isinstance(value, str) else value
