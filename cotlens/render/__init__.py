"""Render a Result as a rich table, JSON, CSV or Markdown. Layout only: no numbers are computed here."""

from __future__ import annotations

import csv
import io
import math
import textwrap
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, get_args

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from cotlens.escape import csv_cell, json_bytes, markdown_cell, printable
from cotlens.result import DECREASE, INCREASE, Column, ColumnKind, Result

# Right-aligned: every kind of column but text and lists.
NUMERIC = tuple(kind for kind in get_args(ColumnKind) if kind not in ("text", "list"))
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
        for table in (result, *result.sections, *gates_table(result)):
            console.print(rich_table(table, console.width))
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
        return interval_text(value, row.get(f"{column.key}_low"), row.get(f"{column.key}_high"))
    if column.kind == "share_interval":
        return interval_text(value, row.get(f"{column.key}_low"), row.get(f"{column.key}_high"), share=True)
    if column.kind == "list":
        return ", ".join(map(str, value))
    if column.kind == "int":
        return f"{value:,}"
    if column.kind == "float":
        return number(value)
    if column.kind == "share":
        return percent(value)
    if column.kind in ("compare_value", "compare_ratio", "compare_p"):
        return compare_cell(value, column.kind)
    return str(value)


def compare_cell(side: dict[str, Any], kind: str) -> str:
    """One side's cell of compare's table (analyses/compare_table.py: MetricTable.side_numbers): a count whole;
    a value or a ratio with its interval (a ratio over a baseline of 0 as "from 0", or "0 vs 0"); the adjusted
    p-value, blank when there is nothing to test, with ▲ or ▼ when the change is significant."""
    if kind == "compare_value":
        if side["metric_kind"] == "count":
            return f"{side['value']:,.0f}"
        share = side["metric_kind"] == "share"
        return interval_text(side["value"], side["value_low"], side["value_high"], share=share)
    if side["metric_kind"] == "count":  # shown, not compared
        return MISSING
    ratio = side["ratio"]
    if kind == "compare_ratio":
        if math.isnan(ratio):
            return "0 vs 0" if side["value"] == 0 else "from 0"
        return interval_text(ratio, side["ratio_low"], side["ratio_high"])
    p = side["p_adjusted"]
    if math.isnan(p):
        return ""
    text = "<0.001" if p < 0.001 else number(p, 2)
    if side["change"] == "none":
        return text
    return f"{text} {INCREASE if math.isnan(ratio) or ratio > 1 else DECREASE}"


def interval_text(value: Any, low: Any, high: Any, share: bool = False) -> str:
    """ "estimate [low, high]": the estimate with three significant digits, the bounds rounded to the same
    decimal place (rounding is monotone, so an estimate never looks outside its interval); a percentage when
    `share`."""
    scale = 100 if share else 1
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    estimate = number(scale * value)
    decimals = _decimals(scale * value)
    bounds = ", ".join(_bound(b, scale, decimals) for b in (low, high))
    return f"{estimate}{'%' if share else ''} [{bounds}]"


def _decimals(value: float, digits: int = 3) -> int | None:
    """The decimal places `number(value, digits)` shows; None for zero or a whole number of digits or more."""
    if value == 0 or not math.isfinite(value):
        return None
    return max(0, digits - 1 - math.floor(math.log10(abs(value))))


def _bound(value: Any, scale: int, decimals: int | None) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if decimals is None:
        return number(scale * value, 2)
    text = f"{scale * value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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


# Between two columns of a SIMPLE_HEAD table without edges: a cell's padding, the (blank) rule, the next padding.
GAP = 3
# A text column (a model name) folds, but never below this width unless its values are narrower.
TEXT_MIN_WIDTH = 12


@dataclass(frozen=True, slots=True)
class _Laid:
    """A column ready to lay out: its header, its cells, whether numeric, and the width it needs (a number
    whole, a text column at least TEXT_MIN_WIDTH or its widest value) and would like (its widest value)."""

    header: str
    cells: list[Text]
    numeric: bool
    need: int
    want: int


def rich_table(result: Result, width: int = 80) -> RenderableType:
    """The result's title, table and caption within `width` columns, never cutting a value: text columns fold,
    numbers stay whole. When the columns cannot fit side by side, the table is split into stacked tables that
    repeat its leading text columns; when even that cannot fit, each row is a block of "header  value" lines."""
    columns = [_laid(result, c) for c in result.columns]
    parts: list[RenderableType] = [Text(printable(result.title))]
    if _fits(columns, width):
        parts.append(_table(columns, width))
    else:
        keys = _key_columns(columns, width)
        # The keys whole if that still lets each other column fit beside them, else folded.
        whole = [_Laid(k.header, k.cells, k.numeric, k.want, k.want) for k in keys]
        chunks = _chunks(columns[len(keys) :], whole, width)
        if chunks is not None:
            keys = whole
        else:
            chunks = _chunks(columns[len(keys) :], keys, width)
        if keys and chunks is not None:
            parts += [_table([*keys, *chunk], width) for chunk in chunks]
        else:
            parts += _records(columns, width)
    if result.caption:
        parts.append(Text(printable(result.caption)))
    return Group(*parts)


def _laid(result: Result, column: Column) -> _Laid:
    # Text objects, never markup strings: "[bold]" in a model name must print as itself.
    cells = [Text(printable(cell_text(row, column))) for row in result.rows]
    numeric = column.kind in NUMERIC
    widest = max((c.cell_len for c in cells), default=0)
    header_word = max((len(w) for w in column.header.split(" ")), default=0)  # no-break spaces hold
    want = max(widest, header_word)
    need = want if numeric else min(want, max(TEXT_MIN_WIDTH, header_word))
    return _Laid(column.header, cells, numeric, need, want)


def _fits(columns: list[_Laid], width: int) -> bool:
    return sum(c.need for c in columns) + GAP * (len(columns) - 1) <= width


def _key_columns(columns: list[_Laid], width: int) -> list[_Laid]:
    """The leading text columns (what a row is about), repeated in each stacked table: as many as leave room for
    the widest other column."""
    keys: list[_Laid] = []
    rest_need = max((c.need for c in columns if c.numeric), default=0)
    for column in columns:
        if column.numeric or not _fits([*keys, column, _Laid("", [], True, rest_need, rest_need)], width):
            break
        keys.append(column)
    return keys


def _chunks(rest: list[_Laid], keys: list[_Laid], width: int) -> list[list[_Laid]] | None:
    """The other columns packed in order into tables that fit beside the keys; None if one cannot."""
    chunks: list[list[_Laid]] = []
    for column in rest:
        if chunks and _fits([*keys, *chunks[-1], column], width):
            chunks[-1].append(column)
        elif _fits([*keys, column], width):
            chunks.append([column])
        else:
            return None
    return chunks


def _widths(columns: list[_Laid], width: int) -> list[int]:
    """Each column's width: what it would like if all fit, else numbers whole and the text columns sharing the
    rest, none below what it needs."""
    wants = [c.want for c in columns]
    spare = width - GAP * (len(columns) - 1) - sum(c.need for c in columns)
    if sum(wants) + GAP * (len(columns) - 1) <= width or spare < 0:
        return wants if spare >= 0 else [c.need for c in columns]
    widths = [c.need for c in columns]
    # Hand the spare columns out one at a time to the text column that is furthest from its wish.
    for _ in range(spare):
        short = [
            (wants[j] - widths[j], j) for j, c in enumerate(columns) if not c.numeric and widths[j] < wants[j]
        ]
        if not short:
            break
        widths[max(short)[1]] += 1
    return widths


def _table(columns: list[_Laid], width: int) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,  # no vertical rules: more columns fit
        show_edge=False,
        pad_edge=False,
    )
    widths = _widths(columns, width)
    for column, w in zip(columns, widths, strict=True):
        table.add_column(
            # A header folds at its spaces to its column's width; a word longer than that folds too.
            Text(textwrap.fill(column.header, width=w) if column.header.strip() else column.header),
            justify="right" if column.numeric else "left",
            overflow="fold",
            no_wrap=column.numeric,
            width=w,
        )
    for i in range(len(columns[0].cells) if columns else 0):
        table.add_row(*(c.cells[i] for c in columns))
    return table


def _records(columns: list[_Laid], width: int) -> list[RenderableType]:
    """One block per row: a line per column, "header  value", the value folding within the width."""
    label = min(max((len(c.header) for c in columns), default=0), max(8, width // 3))
    blocks: list[RenderableType] = []
    for i in range(len(columns[0].cells) if columns else 0):
        block = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
        block.add_column(width=label, overflow="fold")
        block.add_column(width=max(1, width - label - 1), overflow="fold")
        for column in columns:
            block.add_row(Text(column.header.replace("\u00a0", " ")), column.cells[i])
        blocks += [block, Text("")]
    return blocks


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
    if isinstance(value, dict):  # an object in a row (sniff's fields): its JSON, not Python's repr
        return csv_cell(json_bytes(value).decode())
    if is_list:
        return ";".join(csv_cell(str(v)) for v in value)
    if isinstance(value, bool | int | float):
        return str(value)  # numbers stay numbers, the sign too
    return csv_cell(str(value))


def to_markdown(result: Result) -> str:
    sections = [
        f"**{markdown_cell(s.title)}**\n\n{markdown_table(s)}"
        for s in (*result.sections, *gates_table(result))
    ]
    return "\n".join([markdown_table(result), *sections])


def gates_table(result: Result) -> list[Result]:
    """The gates' verdicts as a table of their own (none when no gate was checked)."""
    if not result.gates:
        return []
    columns = [
        Column("gate", "gate"),
        Column("side", "side"),
        Column("value", "value", "float"),
        Column("verdict", "verdict"),
        Column("detail", "detail"),
    ]
    rows = [{**g, "verdict": "pass" if g["passed"] else "FAIL"} for g in result.gates]
    failed = sum(not g["passed"] for g in result.gates)
    caption = (
        f"{failed} of {len(rows)} gate checks failed." if failed else f"All {len(rows)} gate checks passed."
    )
    return [Result("gates", "Gates", columns, rows, caption=caption)]


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
