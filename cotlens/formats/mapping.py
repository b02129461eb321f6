"""A declarative mapping for shapes no registered format knows: where the records are and which path holds each
field, written as a small TOML file or as `--map KEY=PATH` options.

Paths are dotted keys with list indexes: `meta.model`, `choices[0].text`, `usage.reasoning_tokens`. `[*]` marks
per-sample parallel lists (`thinking[*]`, `output[*]`, `usage[*].reasoning_tokens`): a record then expands into
one transcript per index, and every `[*]` path must have the same length.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

import regex

from cotlens.errors import MappingError, RecordError
from cotlens.formats._fields import JSONObject, is_truncating, seen_keys
from cotlens.formats._inline import split_inline
from cotlens.formats.base import Context
from cotlens.record import Parsed


class _Star(Enum):
    """The `[*]` step; an Enum member so that it survives pickling into worker processes."""

    STAR = "*"


STAR = _Star.STAR
PATH_STEP = regex.compile(r"([^.\[\]]+)|\[(\d+|\*)\]|(\.)")

# Keys that name a path inside each record; the others are settings.
FIELD_KEYS = (
    "model",
    "reasoning",
    "answer",
    "prompt",
    "reasoning_tokens",
    "output_tokens",
    "id",
    "dataset",
    "finish_reason",
    "provider",
)


@dataclass(frozen=True, slots=True)
class JSONPath:
    """A parsed mapping path: its text (for messages) and its steps (keys, indexes, STAR)."""

    text: str
    steps: tuple[Any, ...]

    @property
    def parallel(self) -> bool:
        return STAR in self.steps


def parse_path(text: str) -> JSONPath:
    steps: list[Any] = []
    pos = 0
    for m in PATH_STEP.finditer(text):
        if m.start() != pos:
            break
        pos = m.end()
        if m[1] is not None:
            steps.append(m[1])
        elif m[2] is not None:
            steps.append(STAR if m[2] == "*" else int(m[2]))
    if pos != len(text) or not steps:
        raise MappingError(
            f"malformed path {text!r}: use dotted keys and [N] or [*], e.g. results[*].thinking"
        )
    if steps.count(STAR) > 1:
        raise MappingError(f"path {text!r} has more than one [*]")
    return JSONPath(text, tuple(steps))


def resolve(obj: Any, steps: tuple[Any, ...]) -> Any:
    """The value at a path without `[*]`; None when any step is missing."""
    for step in steps:
        if isinstance(step, str):
            if not isinstance(obj, dict):
                return None
            obj = obj.get(step)
        elif isinstance(obj, list) and isinstance(step, int) and -len(obj) <= step < len(obj):
            obj = obj[step]
        else:
            return None
    return obj


def present(obj: Any, steps: tuple[Any, ...]) -> bool:
    """Whether a path without `[*]` leads somewhere in `obj` (to null, perhaps)."""
    for step in steps[:-1]:
        obj = resolve(obj, (step,))
    last = steps[-1]
    if isinstance(last, str):
        return isinstance(obj, dict) and last in obj
    return isinstance(obj, list) and isinstance(last, int) and -len(obj) <= last < len(obj)


def resolve_parallel(obj: JSONObject, path: JSONPath) -> list[Any]:
    star = path.steps.index(STAR)
    items = resolve(obj, path.steps[:star])
    if not isinstance(items, list):
        raise RecordError(f"{path.text}: {'.'.join(map(str, path.steps[:star]))} is not a list")
    return [resolve(item, path.steps[star + 1 :]) for item in items]


@dataclass(slots=True)
class Mapping:
    """The settings of a declarative mapping (see module docstring and the README, 'Odd shapes')."""

    records: str | None = None
    model_name: str | None = None
    reasoning_kind: str = "raw"
    # Split inline <think> tags or harmony channels out of the answer (and reasoning) text.
    inline: bool = False
    paths: dict[str, JSONPath] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reasoning_kind not in ("raw", "summary"):
            raise MappingError(f"reasoning_kind must be raw or summary, not {self.reasoning_kind!r}")
        if not {"reasoning", "answer"} & set(self.paths):
            raise MappingError("a mapping needs at least a reasoning or an answer path")


SETTING_KEYS = tuple(f.name for f in fields(Mapping) if f.name != "paths")


def build_mapping(items: dict[str, Any]) -> Mapping:
    """A Mapping from key/value pairs (a TOML table or `--map KEY=PATH` options)."""
    unknown = set(items) - set(FIELD_KEYS) - set(SETTING_KEYS)
    if unknown:
        raise MappingError(
            f"unknown mapping key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(SETTING_KEYS + FIELD_KEYS)}"
        )
    for key, value in items.items():
        expected = bool if key == "inline" else str
        if not isinstance(value, expected):
            raise MappingError(f"mapping key {key} must be a {expected.__name__}, not {value!r:.40}")
    paths = {key: parse_path(items[key]) for key in FIELD_KEYS if key in items}
    settings = {key: items[key] for key in SETTING_KEYS if key in items}
    return Mapping(paths=paths, **settings)


def load_mapping(specs: list[str]) -> Mapping:
    """`--map` values: TOML files and KEY=PATH pairs, later ones overriding earlier ones."""
    items: dict[str, Any] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if sep and key.strip() in FIELD_KEYS + SETTING_KEYS:
            key = key.strip()
            items[key] = value.strip().lower() in ("1", "true", "yes") if key == "inline" else value.strip()
            continue
        path = Path(spec)
        try:
            items.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise MappingError(
                f"--map {spec}: neither KEY=PATH (keys: {', '.join(FIELD_KEYS + SETTING_KEYS)}) "
                "nor an existing mapping file"
            ) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise MappingError(f"mapping file {spec}: {e}") from None
    return build_mapping(items)


def _is_segment(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, dict) and isinstance(value.get("text"), str))
    )


class MappedFormat:
    """A format driven by a Mapping instead of code."""

    name = "mapping"
    summary = "any JSON shape, described by --map (TOML file or KEY=PATH options)"
    priority = 1000

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.parallel = [key for key, path in mapping.paths.items() if path.parallel]

    def sniff(self, obj: JSONObject) -> bool:
        return True

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]:
        texts = {key: self.mapping.paths[key] for key in ("reasoning", "answer") if key in self.mapping.paths}
        if not any(path.parallel or present(obj, path.steps) for path in texts.values()):
            shown = " and ".join(f"{key} path {path.text!r}" for key, path in texts.items())
            verb = "matches" if len(texts) == 1 else "match"
            raise RecordError(f"the mapping's {shown} {verb} nothing in this record (keys: {seen_keys(obj)})")
        if not self.parallel:
            return [self._one(obj, {}, context)]
        columns = {key: resolve_parallel(obj, self.mapping.paths[key]) for key in self.parallel}
        lengths = {key: len(values) for key, values in columns.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{self.mapping.paths[k].text} has {n}" for k, n in lengths.items())
            raise RecordError(f"parallel lists differ in length: {shown}")
        n = next(iter(lengths.values()))
        out = []
        for i in range(n):
            parsed = self._one(obj, {key: values[i] for key, values in columns.items()}, context)
            parsed.locator_suffix = f"[{i}]"
            parsed.sample_id = parsed.sample_id or str(i)
            out.append(parsed)
        return out

    def _value(self, obj: JSONObject, key: str, row: dict[str, Any]) -> Any:
        if key in row:
            return row[key]
        path = self.mapping.paths.get(key)
        return None if path is None else resolve(obj, path.steps)

    def _text(self, obj: JSONObject, key: str, row: dict[str, Any]) -> list[str]:
        value = self._value(obj, key, row)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(_is_segment(v) for v in value):
            # Reasoning given as a list of segments; nulls are missing segments, {"text": ...} summary parts.
            return [v if isinstance(v, str) else v["text"] for v in value if v is not None]
        raise RecordError(f"{self.mapping.paths[key].text} is {type(value).__name__}, expected a string")

    def _int(self, obj: JSONObject, key: str, row: dict[str, Any]) -> int | None:
        value = self._value(obj, key, row)
        if isinstance(value, float) and (math.isnan(value) or (value.is_integer() and value >= 0)):
            # Columnar dumps (pandas) write counts as floats, and a missing one as NaN.
            return None if math.isnan(value) else int(value)
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
        raise RecordError(f"{self.mapping.paths[key].text} is {value!r:.40}, expected a non-negative integer")

    def _one(self, obj: JSONObject, row: dict[str, Any], context: Context) -> Parsed:
        m = self.mapping
        parsed = Parsed()
        model = self._text(obj, "model", row)
        parsed.model = (model[0] if model else None) or m.model_name or context.model
        target = parsed.raw if m.reasoning_kind == "raw" else parsed.summary
        for text in self._text(obj, "reasoning", row):
            if m.inline:
                split = split_inline(text)
                target.extend(split.reasoning + split.answer)
                parsed.truncated |= split.truncated
            else:
                target.append(text)
        for text in self._text(obj, "answer", row):
            if m.inline:
                split_inline(text).into(parsed)
            else:
                parsed.answer.append(text)
        prompt = self._text(obj, "prompt", row)
        parsed.prompt = "\n\n".join(prompt) if prompt else None
        parsed.reasoning_tokens = self._int(obj, "reasoning_tokens", row)
        parsed.output_tokens = self._int(obj, "output_tokens", row)
        ident = self._value(obj, "id", row)
        parsed.source_id = (
            str(ident) if isinstance(ident, str | int) and not isinstance(ident, bool) else None
        )
        dataset = self._text(obj, "dataset", row)
        parsed.dataset = dataset[0] if dataset else context.dataset
        provider = self._text(obj, "provider", row)
        if provider:
            parsed.tags["provider"] = provider[0]
        finish = self._text(obj, "finish_reason", row)
        if finish:
            parsed.tags["finish_reason"] = finish[0]
            parsed.truncated |= is_truncating(finish[0])
        return parsed
