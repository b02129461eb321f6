"""Render a Result as a rich table, JSON, CSV or Markdown. Layout only: no numbers are computed here."""

from __future__ import annotations

import csv
import io
import textwrap
from enum import StrEnum
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cotlens.render.escape import csv_cell, json_bytes, markdown_cell, printable
from cotlens.result import Column, Result

NUMERIC = ("int", "float", "share", "interval", "share_interval", "formatted")
# A missing figure prints as an en dash, never as a zero.
MISSING = "\u2013"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


def render(result: Result, fmt: OutputFormat, console: Console) -> None:
    """Write `result` to the console's file. CSV holds one table: the main one (sections are in the JSON)."""
    if fmt is OutputFormat.table:
        for table in (result, *result.sections):
            console.print(rich_table(table))
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
    # Bounds get two significant digits, the estimate three: enough to read, narrow enough for 100 columns.
    if column.kind == "interval":
        low, high = row.get(f"{column.key}_low"), row.get(f"{column.key}_high")
        return f"{number(value)} [{number(low, 2)}, {number(high, 2)}]"
    if column.kind == "share_interval":
        low, high = row.get(f"{column.key}_low"), row.get(f"{column.key}_high")
        return (
            f"{percent(value)} [{percent(low, sign=False, digits=2)}, {percent(high, sign=False, digits=2)}]"
        )
    if column.kind == "list":
        return ", ".join(map(str, value))
    if column.kind == "int":
        return f"{value:,}"
    if column.kind == "float":
        return number(value)
    if column.kind == "share":
        return percent(value)
    return str(value)


def number(value: Any, digits: int = 3) -> str:
    """Significant digits, not decimals, so that 0.016 and 0.55 both read; a missing value as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if abs(value) >= 10**digits:  # whole numbers, never 2.6e+02
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def percent(value: Any, sign: bool = True, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return f"{number(100 * value, digits)}{'%' if sign else ''}"


def rich_table(result: Result) -> Table:
    table = Table(
        title=Text(printable(result.title)),
        title_justify="left",
        caption=Text(printable(result.caption)) if result.caption else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,  # no vertical rules: two spaces between columns, so more fit in 100 columns
        show_edge=False,
        pad_edge=False,
    )
    # Text objects, never markup strings: "[bold]" in a model name must print as itself.
    cells = [[Text(printable(cell_text(row, c))) for c in result.columns] for row in result.rows]
    for j, column in enumerate(result.columns):
        numeric = column.kind in NUMERIC
        # Numbers never wrap (an interval split over lines misreads); text folds, but never below a readable
        # width: a squeezed table would otherwise shrink a name column to nothing.
        widest = max((cell_width(row[j]) for row in cells), default=0)
        table.add_column(
            # A header folds at its spaces to its column's data, never wider than need be.
            Text(textwrap.fill(column.header, width=max(widest, *map(len, column.header.split())))),
            justify="right" if numeric else "left",
            overflow="fold",
            no_wrap=numeric,
            min_width=None if numeric else min(TEXT_MIN_WIDTH, widest),
        )
    for row in cells:
        table.add_row(*row)
    return table


TEXT_MIN_WIDTH = 16


def cell_width(text: Text) -> int:
    return text.cell_len


def to_json(result: Result) -> str:
    return json_bytes(result.to_document(), indent=True).decode() + "\n"


def to_csv(result: Result) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Every key of the rows, the displayed columns first: CSV is data, not the table's selection of it.
    rows = result.data_rows()
    displayed = [k for c in result.columns for k in c.keys] if result.records is None else []
    keys = list(dict.fromkeys(displayed + [k for r in rows for k in r]))
    lists = {c.key for c in result.columns if c.kind == "list"}
    writer.writerow(keys)
    for row in rows:
        writer.writerow([csv_value(row.get(k), k in lists) for k in keys])
    return out.getvalue()


def csv_value(value: Any, is_list: bool) -> str:
    """A cell: numbers as they are, text inert (each item of a list, which a spreadsheet set to split at `;`
    reads as cells of its own)."""
    if value is None:
        return ""
    if is_list:
        return ";".join(csv_cell(str(v)) for v in value)
    if isinstance(value, bool | int | float):
        return str(value)  # numbers stay numbers, the sign too
    return csv_cell(str(value))


def to_markdown(result: Result) -> str:
    sections = [f"**{markdown_cell(s.title)}**\n\n{markdown_table(s)}" for s in result.sections]
    return "\n".join([markdown_table(result), *sections])


def markdown_table(result: Result) -> str:
    lines = [
        # A header's no-break spaces only steer the terminal table's line breaks.
        "| " + " | ".join(markdown_cell(c.header.replace("\u00a0", " ")) for c in result.columns) + " |",
        "|" + "|".join("---:" if c.kind in NUMERIC else "---" for c in result.columns) + "|",
    ]
    for row in result.rows:
        lines.append("| " + " | ".join(markdown_cell(cell_text(row, c)) for c in result.columns) + " |")
    if result.caption:
        lines += ["", markdown_cell(result.caption)]
    return "\n".join(lines) + "\n"
