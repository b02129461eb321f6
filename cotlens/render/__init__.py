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


def cell_text(value: Any, column: Column) -> str:
    if value is None:
        return MISSING
    if column.kind == "list":
        return ", ".join(map(str, value))
    if column.kind == "int":
        return f"{value:,}"
    if column.kind == "float":
        return f"{value:.4g}"
    return str(value)


def rich_table(result: Result) -> Table:
    table = Table(title=Text(printable(result.title)), title_justify="left")
    for column in result.columns:
        numeric = column.kind in ("int", "float")
        table.add_column(Text(column.header), justify="right" if numeric else "left", overflow="fold")
    for row in result.rows:
        # Text objects, never markup strings: "[bold]" in a model name must print as itself.
        table.add_row(*(Text(printable(cell_text(row.get(c.key), c))) for c in result.columns))
    return table


def to_json(result: Result) -> str:
    return (
        orjson.dumps(result.to_document(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n"
    )


def to_csv(result: Result) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in result.columns])
    for row in result.rows:
        writer.writerow(
            [
                ""
                if row.get(c.key) is None
                else printable(";".join(map(str, row[c.key])) if c.kind == "list" else str(row[c.key]))
                for c in result.columns
            ]
        )
    return out.getvalue()


def to_markdown(result: Result) -> str:
    lines = [
        "| " + " | ".join(markdown_cell(c.header) for c in result.columns) + " |",
        "|" + "|".join("---:" if c.kind in ("int", "float") else "---" for c in result.columns) + "|",
    ]
    for row in result.rows:
        lines.append(
            "| " + " | ".join(markdown_cell(cell_text(row.get(c.key), c)) for c in result.columns) + " |"
        )
    return "\n".join(lines) + "\n"
