"""Render a Result as a rich table, JSON, CSV or Markdown. Layout only: no numbers are computed here."""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cotlens.render.escape import markdown_cell, printable
from cotlens.result import Column, Result

NUMERIC = ("int", "float", "interval", "share_interval")
# A missing figure prints as an en dash, never as a zero.
MISSING = "\u2013"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


def render(result: Result, fmt: OutputFormat, console: Console) -> None:
    if fmt is OutputFormat.table:
        console.print(rich_table(result))
    else:
        text = {OutputFormat.json: to_json, OutputFormat.csv: to_csv, OutputFormat.md: to_markdown}[fmt](
            result
        )
        console.file.write(text)
        console.file.flush()


def cell_text(row: dict[str, Any], column: Column) -> str:
    value = row.get(column.key)
    if value is None:
        return MISSING  # missing, distinct from a zero
    if column.kind == "interval":
        low, high = row.get(f"{column.key}_low"), row.get(f"{column.key}_high")
        return f"{number(value)} [{number(low)}, {number(high)}]"
    if column.kind == "share_interval":
        low, high = row.get(f"{column.key}_low"), row.get(f"{column.key}_high")
        return f"{percent(value)} [{percent(low, sign=False)}, {percent(high, sign=False)}]"
    if column.kind == "list":
        return ", ".join(map(str, value))
    if column.kind == "int":
        return f"{value:,}"
    if column.kind == "float":
        return number(value)
    return str(value)


def number(value: Any) -> str:
    """Three significant digits; a missing value as a dash, never a zero."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return f"{value:.3g}"


def percent(value: Any, sign: bool = True) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return f"{100 * value:.0f}{'%' if sign else ''}"


def rich_table(result: Result) -> Table:
    table = Table(
        title=Text(printable(result.title)),
        title_justify="left",
        caption=Text(printable(result.caption)) if result.caption else None,
        caption_justify="left",
    )
    for column in result.columns:
        numeric = column.kind in NUMERIC
        # Numbers never wrap (an interval split over lines misreads); text folds.
        table.add_column(
            Text(column.header), justify="right" if numeric else "left", overflow="fold", no_wrap=numeric
        )
    for row in result.rows:
        # Text objects, never markup strings: "[bold]" in a model name must print as itself.
        table.add_row(*(Text(printable(cell_text(row, c))) for c in result.columns))
    return table


def to_json(result: Result) -> str:
    return (
        orjson.dumps(result.to_document(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n"
    )


def to_csv(result: Result) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Every key of the rows, the displayed columns first: CSV is data, not the table's selection of it.
    keys = list(
        dict.fromkeys([k for c in result.columns for k in c.keys] + [k for r in result.rows for k in r])
    )
    lists = {c.key for c in result.columns if c.kind == "list"}
    writer.writerow(keys)
    for row in result.rows:
        writer.writerow([csv_value(row.get(k), k in lists) for k in keys])
    return out.getvalue()


def csv_value(value: Any, is_list: bool) -> str:
    if value is None:
        return ""
    return printable(";".join(map(str, value)) if is_list else str(value))


def to_markdown(result: Result) -> str:
    lines = [
        "| " + " | ".join(markdown_cell(c.header) for c in result.columns) + " |",
        "|" + "|".join("---:" if c.kind in NUMERIC else "---" for c in result.columns) + "|",
    ]
    for row in result.rows:
        lines.append("| " + " | ".join(markdown_cell(cell_text(row, c)) for c in result.columns) + " |")
    if result.caption:
        lines += ["", markdown_cell(result.caption)]
    return "\n".join(lines) + "\n"
