"""`filter --where`: conditions on one transcript's measurements, evaluated over a batch at once.

Grammar (the metric names of `compare --fail-if`, per transcript):

    condition := ["not"] FLAG  |  NUMBER_OF OPERATOR NUMBER  |  TEXT ("==" | "!=") WORD
    NUMBER_OF := METRIC | "value(" METRIC ")" | "rate(" LEXICON[":" TERM] ")"
    FLAG      := loop | truncated | gopher        (gopher: over a Gopher threshold)
    TEXT      := kind | model | dataset | dominant_script | tag:KEY     (a transcript without the tag: not equal)
    OPERATOR  := > | >= | < | <= | == | !=

Numeric metrics: tokens, chars, letters, nonlatin_letters, nonlatin_tokens, codeswitch_spans,
nonlatin_token_share, nonlatin_letter_share, spans_per_1k, the Gopher statistics by name, and rate(...) per 1000
tokens. A transcript without text in the field (hidden reasoning) has no measurements: it fails every condition
on them. Flags, texts and metrics other than the record's own are those the kernels declare (measure/), so a new
measurement is an operand here without an edit to this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import regex

from cotlens.errors import UsageError
from cotlens.gates import COMPARISON, OPERATORS, check_length
from cotlens.measure import Metric, registered_kernels
from cotlens.suggest import did_you_mean

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]

# The record's own operands, the same for either field; the measurements' come from the kernels' declarations
# (measure/): their flags, texts and metrics, read from the field's `<field>_<column>` columns.
RECORD_FLAGS = {"truncated": "truncated"}
RECORD_TEXTS = {"kind": "reasoning_kind", "model": "model", "dataset": "dataset"}
PER_FIELD = "{field}_"  # a column of the field's text: formatted with the field when evaluated


def flags() -> dict[str, str]:
    """Every flag, by name, with its column."""
    found = dict(RECORD_FLAGS)
    found.update({c.flag: PER_FIELD + c.name for k in registered_kernels() for c in k.columns if c.flag})
    return found


def texts() -> dict[str, str]:
    """Every text compared with a word, by name, with its column (`tag:KEY` aside)."""
    found = dict(RECORD_TEXTS)
    found.update({c.text: PER_FIELD + c.name for k in registered_kernels() for c in k.columns if c.text})
    return found


def numbers() -> dict[str, Metric]:
    """Every numeric metric, by name, in the kernels' order."""
    return {m.key: m for k in registered_kernels() for m in k.metrics if m.operand}


_FLAG = regex.compile(r"^\s*(not\s+)?([a-z_]+)\s*$")
_TEXT = regex.compile(r"^\s*([a-z_]+|tag:[^\s=!]+)\s*(==|!=)\s*(\S+)\s*$")
_NUMBER = regex.compile(r"^\s*(?:(value|rate)\s*\(\s*([^()\s]+)\s*\)|([a-z0-9_]+))" + COMPARISON)


@dataclass(frozen=True, slots=True)
class Condition:
    text: str
    kind: str  # "flag", "text" or "number"
    name: str  # the metric, flag or text; for a rate, the lexicon or lexicon:term
    negate: bool = False
    operator: str = "=="
    value: str | float = 0.0
    rate: bool = False
    column: str = ""  # a flag's or text's column (PER_FIELD: of the field's text)
    metric: Metric | None = None  # a number's definition (None for a rate)


def parse_condition(text: str, rate_keys: list[str]) -> Condition:
    """A condition from its expression; a usage error naming what is valid otherwise."""
    check_length("--where", text)
    if m := _NUMBER.match(text):
        function, inner, bare, op, number = m.groups()
        name = inner or bare
        rate = function == "rate" or (function == "value" and name in rate_keys)
        metrics = numbers()
        if name not in (rate_keys if rate else metrics):
            hint = did_you_mean(name, [*metrics, *rate_keys]) or f"; {_valid(rate_keys)}"
            raise UsageError(f"--where {text!r}: unknown metric {name!r}{hint}")
        metric = None if rate else metrics[name]
        return Condition(
            text.strip(), "number", name, operator=op, value=float(number), rate=rate, metric=metric
        )
    if m := _TEXT.match(text):
        columns = texts()
        if m[1] not in columns and not m[1].startswith("tag:"):
            raise UsageError(f"--where {text!r}: {m[1]!r} is not compared as text; {_valid(rate_keys)}")
        column = columns.get(m[1], "")
        return Condition(text.strip(), "text", m[1], operator=m[2], value=m[3], column=column)
    if (m := _FLAG.match(text)) and m[2] in (columns := flags()):
        return Condition(text.strip(), "flag", m[2], negate=bool(m[1]), column=columns[m[2]])
    raise UsageError(f"--where {text!r}: not a condition; {_valid(rate_keys)}")


def _valid(rate_keys: list[str]) -> str:
    return (
        f"write [not] FLAG ({', '.join(flags())}), TEXT == WORD ({', '.join(texts())}, tag:KEY), METRIC OP NUMBER "
        f"({', '.join(numbers())}) or rate(LEXICON[:TERM]) OP NUMBER ({', '.join(rate_keys)})"
    )


def evaluate(condition: Condition, table: pa.Table, field: str, rates: dict[str, Floats]) -> Bools:
    """Which rows of the batch satisfy the condition. `rates`: per 1000 tokens, by lexicon or lexicon:term."""
    column = condition.column.format(field=field)
    if condition.kind == "flag":
        holds = np.asarray(pc.fill_null(table[column], False).to_numpy(zero_copy_only=False), dtype=bool)
        return ~holds if condition.negate else holds
    if condition.kind == "text":
        if condition.name.startswith("tag:"):
            values = pc.map_lookup(table["tags"], pa.scalar(condition.name[4:]), "first")
        else:
            values = table[column]
        equal = pc.fill_null(pc.equal(values, str(condition.value)), False).to_numpy(zero_copy_only=False)
        return np.asarray(equal if condition.operator == "==" else ~equal, dtype=bool)
    metric = condition.metric
    values = rates[condition.name] if metric is None else metric_values(metric, table, field)
    with np.errstate(invalid="ignore"):
        holds = OPERATORS[condition.operator](values, float(condition.value))
    return np.asarray(holds & ~np.isnan(values), dtype=bool)  # no measurement: the condition fails


def metric_values(metric: Metric, table: pa.Table, field: str) -> Floats:
    """A numeric metric per row (NaN where the text, and so the measurement, is missing)."""
    numerator = _floats(table[f"{field}_{metric.numerator}"])
    if metric.denominator is None:
        return numerator
    with np.errstate(divide="ignore", invalid="ignore"):
        share = _share(numerator, _floats(table[f"{field}_{metric.denominator}"]))
    return share if metric.scale == 1 else metric.scale * share


def _share(part: Floats, whole: Floats) -> Floats:
    """part / whole, 0 where whole is 0 (an empty text has no share of anything), NaN where missing."""
    share: Floats = np.where(whole == 0, 0.0, part / np.where(whole == 0, 1.0, whole))
    return share


def _floats(column: pa.ChunkedArray) -> Floats:
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
