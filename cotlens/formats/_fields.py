"""Typed access to JSON fields. A wrong type rejects the record with a reason that names the field."""

from __future__ import annotations

from typing import Any

from cotlens.errors import RecordError

JSONObject = dict[str, Any]


def type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def seen_keys(obj: JSONObject) -> str:
    """A record's keys for a message: sorted, the first 20."""
    return ", ".join(sorted(map(str, obj))[:20])


def opt_str(obj: JSONObject, key: str, where: str = "") -> str | None:
    """The string at obj[key], None when absent or null; any other type rejects the record."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise RecordError(f"{where}{key} is {type_name(value)}, expected a string")


def opt_int(obj: JSONObject, key: str, where: str = "") -> int | None:
    """A non-negative integer at obj[key] (token counts), None when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise RecordError(f"{where}{key} is {value!r:.40}, expected a non-negative integer")


def opt_dict(obj: JSONObject, key: str, where: str = "") -> JSONObject | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise RecordError(f"{where}{key} is {type_name(value)}, expected an object")


def opt_list(obj: JSONObject, key: str, where: str = "") -> list[Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, list):
        return value
    raise RecordError(f"{where}{key} is {type_name(value)}, expected a list")


def first_dict(obj: JSONObject, key: str) -> JSONObject:
    """The first item of a non-empty list of objects at obj[key] (what a shape's sniff looks at); {} otherwise."""
    items = obj.get(key)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def dicts(items: list[Any], where: str) -> list[JSONObject]:
    """The items of a list that must hold objects only."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RecordError(f"{where}[{i}] is {type_name(item)}, expected an object")
    return items


def scalar_str(value: Any) -> str | None:
    """An identifier that may be written as a string or a number (sample ids, record ids)."""
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"identifier is {type_name(value)}, expected a string or a number")


def is_truncating(finish_reason: str | None) -> bool:
    """Finish reasons meaning the generation hit a length limit, across providers."""
    return finish_reason in {"length", "max_tokens", "model_length", "max_output_tokens", "limit"}
