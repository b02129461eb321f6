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
on them.
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
from cotlens.measure.repetition import GOPHER_COLUMNS
from cotlens.suggest import did_you_mean

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
FLAGS = ("loop", "truncated", "gopher")
TEXTS = ("kind", "model", "dataset", "dominant_script")
# Measurements stored per text, read as `<field>_<name>`.
STORED = ("tokens_o200k", "chars", "letters", "nonlatin_letters", "nonlatin_tokens_o200k", "codeswitch_spans")
NUMBERS = (
    "tokens",
    "chars",
    "letters",
    "nonlatin_letters",
    "nonlatin_tokens",
    "codeswitch_spans",
    "nonlatin_token_share",
    "nonlatin_letter_share",
    "spans_per_1k",
    *GOPHER_COLUMNS,
)

_FLAG = regex.compile(r"^\s*(not\s+)?([a-z_]+)\s*$")
_TEXT = regex.compile(r"^\s*([a-z_]+|tag:[^\s=!]+)\s*(==|!=)\s*(\S+)\s*$")
_NUMBER = regex.compile(r"^\s*(?:(value|rate)\s*\(\s*([^()\s]+)\s*\)|([a-z0-9_]+))" + COMPARISON)


@dataclass(frozen=True, slots=True)
class Condition:
    text: str
    kind: str  # "flag", "text" or "number"
    name: str  # the metric, flag or text column; for a rate, the lexicon or lexicon:term
    negate: bool = False
    operator: str = "=="
    value: str | float = 0.0
    rate: bool = False


def parse_condition(text: str, rate_keys: list[str]) -> Condition:
    """A condition from its expression; a usage error naming what is valid otherwise."""
    check_length("--where", text)
    if m := _NUMBER.match(text):
        function, inner, bare, op, number = m.groups()
        name = inner or bare
        rate = function == "rate" or (function == "value" and name in rate_keys)
        valid = rate_keys if rate else NUMBERS
        if name not in valid:
            hint = did_you_mean(name, [*NUMBERS, *rate_keys]) or f"; {_valid(rate_keys)}"
            raise UsageError(f"--where {text!r}: unknown metric {name!r}{hint}")
        return Condition(text.strip(), "number", name, operator=op, value=float(number), rate=rate)
    if m := _TEXT.match(text):
        if m[1] not in TEXTS and not m[1].startswith("tag:"):
            raise UsageError(f"--where {text!r}: {m[1]!r} is not compared as text; {_valid(rate_keys)}")
        return Condition(text.strip(), "text", m[1], operator=m[2], value=m[3])
    if (m := _FLAG.match(text)) and m[2] in FLAGS:
        return Condition(text.strip(), "flag", m[2], negate=bool(m[1]))
    raise UsageError(f"--where {text!r}: not a condition; {_valid(rate_keys)}")


def _valid(rate_keys: list[str]) -> str:
    return (
        f"write [not] FLAG ({', '.join(FLAGS)}), TEXT == WORD ({', '.join(TEXTS)}, tag:KEY), METRIC OP NUMBER "
        f"({', '.join(NUMBERS)}) or rate(LEXICON[:TERM]) OP NUMBER ({', '.join(rate_keys)})"
    )


def evaluate(condition: Condition, table: pa.Table, field: str, rates: dict[str, Floats]) -> Bools:
    """Which rows of the batch satisfy the condition. `rates`: per 1000 tokens, by lexicon or lexicon:term."""
    if condition.kind == "flag":
        holds = _flag(condition.name, table, field)
        return ~holds if condition.negate else holds
    if condition.kind == "text":
        if condition.name.startswith("tag:"):
            values = pc.map_lookup(table["tags"], pa.scalar(condition.name[4:]), "first")
        else:
            column = {"kind": "reasoning_kind", "dominant_script": f"{field}_dominant_script"}.get(
                condition.name, condition.name
            )
            values = table[column]
        equal = pc.fill_null(pc.equal(values, str(condition.value)), False).to_numpy(zero_copy_only=False)
        return np.asarray(equal if condition.operator == "==" else ~equal, dtype=bool)
    values = rates[condition.name] if condition.rate else number(condition.name, table, field)
    with np.errstate(invalid="ignore"):
        holds = OPERATORS[condition.operator](values, float(condition.value))
    return np.asarray(holds & ~np.isnan(values), dtype=bool)  # no measurement: the condition fails


def _flag(name: str, table: pa.Table, field: str) -> Bools:
    if name == "truncated":
        return np.asarray(table["truncated"].to_numpy(zero_copy_only=False), dtype=bool)
    if name == "loop":
        return np.asarray(
            pc.fill_null(table[f"{field}_loop"], False).to_numpy(zero_copy_only=False), dtype=bool
        )
    return np.asarray(
        pc.fill_null(table[f"{field}_gopher_over"], False).to_numpy(zero_copy_only=False), dtype=bool
    )


def number(name: str, table: pa.Table, field: str) -> Floats:
    """A numeric metric per row (NaN where the text, and so the measurement, is missing)."""

    def stored(column: str) -> Floats:
        return _floats(table[f"{field}_{column}"])

    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "tokens":
            return stored("tokens_o200k")
        if name == "nonlatin_tokens":
            return stored("nonlatin_tokens_o200k")
        if name == "nonlatin_token_share":
            return _share(stored("nonlatin_tokens_o200k"), stored("tokens_o200k"))
        if name == "nonlatin_letter_share":
            return _share(stored("nonlatin_letters"), stored("letters"))
        if name == "spans_per_1k":
            return 1000 * _share(stored("codeswitch_spans"), stored("tokens_o200k"))
        return stored(name)


def _share(part: Floats, whole: Floats) -> Floats:
    """part / whole, 0 where whole is 0 (an empty text has no share of anything), NaN where missing."""
    share: Floats = np.where(whole == 0, 0.0, part / np.where(whole == 0, 1.0, whole))
    return share


def _floats(column: pa.ChunkedArray) -> Floats:
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
