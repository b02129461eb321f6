"""`cotlens sniff`: what ingest would make of each input, without writing anything. Per input: the shapes its
records take (for generic records, the field paths used), how many records each, one example transcript, every
ambiguity warning, and the equivalent declarative mapping as TOML (to pin or edit, for `ingest --map`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import regex

from cotlens.errors import InputError, RecordError
from cotlens.escape import json_bytes, printable
from cotlens.formats import Format, detect_format
from cotlens.formats.base import Context
from cotlens.formats.generic import FORMAT as GENERIC
from cotlens.formats.generic import Plan
from cotlens.ingest import record_test
from cotlens.parse import Warned
from cotlens.result import Column, Result
from cotlens.sources import Item, display_path, expand_paths, read_items

# Records read per input by default: enough to see a file's shapes, quick on a large file.
DEFAULT_LIMIT = 1000
EXAMPLE_CHARS = 80
REJECTED = "(rejected)"
# "results[12]" -> "results": the records path of a record inside a JSON document.
RECORDS_PREFIX = regex.compile(r"^([^\[\]]+)\[\d+\]$")


@dataclass(slots=True)
class Shape:
    """Records of one input that read the same way."""

    name: str  # the format, or REJECTED
    fields: dict[str, str]  # generic: mapping key -> path; rejected: {"reason": first reason}
    records: int = 0
    example: dict[str, str | None] = field(default_factory=dict)
    mapping: str | None = None  # TOML, for a generic shape


@dataclass(slots=True)
class SniffedInput:
    path: str
    records: int = 0
    shapes: dict[tuple[Any, ...], Shape] = field(default_factory=dict)
    warnings: dict[str, Warned] = field(default_factory=dict)
    error: str | None = None
    limited: bool = False


def sniff_inputs(paths: list[str], limit: int = DEFAULT_LIMIT) -> Result:
    """Sniff the first `limit` records of every input (files, directories, `-`)."""
    inputs = [sniff_input(source, limit) for source in expand_paths(paths)]
    return _result(inputs, limit)


def sniff_input(source: str, limit: int) -> SniffedInput:
    out = SniffedInput(display_path(source))  # a URI said without the credentials it may carry
    previous: Format | None = None
    try:
        for item in _items(source):
            if out.records >= limit:
                out.limited = True
                break
            out.records += 1
            previous = _sniff_item(item.decode(), out, previous) or previous
    except InputError as e:
        out.error = str(e)
    return out


def _items(source: str) -> Iterator[Item]:
    """Every record of one input: blocks of JSON lines or table rows opened into their items."""
    for record in read_items(source, record_test(None)):
        if isinstance(record, Item):
            yield record
        else:
            yield from record.items()


def _sniff_item(item: Item, out: SniffedInput, previous: Format | None) -> Format | None:
    try:
        if item.error is not None:
            raise RecordError(item.error)
        if not isinstance(item.obj, dict):
            raise RecordError(f"a JSON {type(item.obj).__name__}, expected an object")
        fmt = detect_format(item.obj, previous)
        parsed = fmt.parse(item.obj, item.context)
    except RecordError as e:
        shape = out.shapes.setdefault((REJECTED,), Shape(REJECTED, {"reason": f"{item.locator}: {e}"}))
        shape.records += 1
        return None
    plan = GENERIC.plan(item.obj) if fmt is GENERIC else None
    key: tuple[Any, ...] = (fmt.name, plan.paths, plan.kind, plan.wrapped) if plan else (fmt.name,)
    fields = dict(plan.paths) if plan else {}
    if plan and plan.wrapped:
        fields = {"wrapped": plan.wrapped[0], "as": plan.wrapped[1]}
    shape = out.shapes.setdefault(key, Shape(fmt.name, fields))
    if not shape.records:
        if parsed:
            t = parsed[0].finish()
            shape.example = {
                "model": t.model or item.context.model,
                "reasoning": _shorten(t.reasoning),
                "answer": _shorten(t.answer),
            }
        if plan is not None and plan.wrapped is None:
            shape.mapping = mapping_toml(plan, _records_path(item.locator), out.path, item.context)
    shape.records += 1
    for parsed_one in parsed:
        for note in parsed_one.warnings:
            out.warnings.setdefault(note, Warned(0, item.locator)).records += 1
    return fmt


def _shorten(text: str | None) -> str | None:
    if text is None or len(text) <= EXAMPLE_CHARS:
        return text
    return text[: EXAMPLE_CHARS - 1] + "…"


def _records_path(locator: str) -> str | None:
    m = RECORDS_PREFIX.match(locator)
    return m[1] if m else None


def mapping_toml(plan: Plan, records: str | None, source: str, context: Context) -> str:
    """The declarative mapping that reads these records as the generic recognizer does."""
    lines = [f"# cotlens mapping for {printable(source)} (from cotlens sniff)"]
    if records:
        lines.append(f"records = {_toml_string(records)}")
    if context.model and plan.path("model") is None:
        lines.append(f"model_name = {_toml_string(context.model)}")
    lines.append("inline = true")
    if plan.kind != "raw":
        lines.append(f"reasoning_kind = {_toml_string(plan.kind)}")
    lines.extend(f"{key} = {_toml_string(path)}" for key, path in plan.paths)
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string (the same escapes); json_bytes also escapes what a terminal acts on.
    return json_bytes(text).decode()


COLUMNS = [
    Column("input", "input"),
    Column("shape", "shape"),
    Column("records", "records", "int"),
    Column("fields", "fields used"),
    Column("model", "example model"),
    Column("reasoning", "example reasoning"),
    Column("answer", "example answer"),
]
WARNING_COLUMNS = [
    Column("input", "input"),
    Column("warning", "warning"),
    Column("records", "records", "int"),
    Column("first", "first at"),
]


def _result(inputs: list[SniffedInput], limit: int) -> Result:
    records: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for s in inputs:
        if s.error is not None:
            records.append(
                {
                    "input": s.path,
                    "shape": None,
                    "records": s.records,
                    "fields": None,
                    "example": None,
                    "mapping": None,
                    "limited": s.limited,
                    "error": s.error,
                }
            )
            rows.append({"input": s.path, "shape": "error", "records": s.records, "fields": s.error})
        for shape in s.shapes.values():
            record = {
                "input": s.path,
                "shape": shape.name,
                "records": shape.records,
                "fields": shape.fields,
                "example": shape.example,
                "mapping": shape.mapping,
                "limited": s.limited,
                "error": None,
            }
            records.append(record)
            fields = ", ".join(f"{k}={v}" for k, v in shape.fields.items())
            rows.append({**record, **shape.example, "fields": fields})
    warnings = [
        {"input": s.path, "warning": message, "records": w.records, "first": w.first}
        for s in inputs
        for message, w in s.warnings.items()
    ]
    caption = (
        f"first {limit:,} records of each input; `cotlens sniff --emit-map` prints the mapping to pin or edit"
    )
    return Result(
        kind="sniff",
        title="sniff",
        columns=COLUMNS,
        rows=rows,
        records=records,
        definitions={"records_read_per_input": limit},
        caption=caption,
        sections=[Result("sniff-warnings", "ambiguity warnings", WARNING_COLUMNS, warnings)]
        if warnings
        else [],
    )


def emitted_mappings(result: Result) -> str:
    """The mappings of a sniff, as TOML: one per generic shape; a comment for the shapes that need none."""
    parts: list[str] = []
    for record in result.data_rows():
        where = printable(record["input"])
        if record.get("mapping"):
            parts.append(record["mapping"])
        elif record.get("shape") == REJECTED:
            reason = printable(record["fields"]["reason"])
            parts.append(f"# {where}: {record['records']} record(s) rejected, first: {reason}\n")
        elif record.get("shape"):
            shape = record["shape"]
            parts.append(f"# {where}: {record['records']} record(s) of shape {shape}: no mapping needed\n")
        else:
            parts.append(f"# {where}: {printable(record.get('error') or '')}\n")
    return "\n".join(parts)
