"""`compare --fail-if`: conditions on a comparison's metrics that fail a CI job (exit 3).

Grammar (whitespace is free; metric keys are those of `cotlens compare`'s JSON `metric` field):

    gate     := change | test
    change   := ["significant"] ("increase" | "decrease" | "change") "(" METRIC ")"
    test     := FUNCTION "(" METRIC ")" OPERATOR NUMBER
    FUNCTION := "value" | "rate" (the same: a side's value) | "ratio" (side / baseline) | "p" (adjusted p-value)
    OPERATOR := ">" | ">=" | "<" | "<=" | "==" | "!="

A gate fails when its condition holds for any compared side (never the baseline). `increase(M)`: the side's value
is above the baseline's; with "significant", also the adjusted p-value is below 0.05 (`change`: either way).
A ratio whose baseline is 0 counts as infinite when the side is above 0, as 1 when both are 0.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

from cotlens.errors import UsageError
from cotlens.stats import SIGNIFICANCE
from cotlens.suggest import did_you_mean

# Shared with filter's conditions (they apply them to arrays of values).
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
FUNCTIONS = ("value", "rate", "ratio", "p")
CHANGES = ("increase", "decrease", "change")

_CHANGE = regex.compile(r"^\s*(significant\s+)?(increase|decrease|change)\s*\(\s*([^()\s]+)\s*\)\s*$")
# An operator, then a number, at the end of an expression. Each digit can belong to one place only
# (`\d+(?:\.\d*)?`, not `\d+\.?\d*`, which splits a run of digits every possible way: a 100 kB run took a minute to
# refuse), so a match or a refusal takes time linear in the expression.
COMPARISON = r"\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
# Longer expressions are refused unread (an option value, not a program).
MAX_EXPRESSION_CHARS = 1000


def check_length(option: str, text: str) -> None:
    """An over-long --where or --fail-if is a usage error that quotes only its start."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise UsageError(
            f"{option} {text[:40]!r}... is {len(text):,} characters long; an expression has at most "
            f"{MAX_EXPRESSION_CHARS:,}"
        )


_TEST = regex.compile(r"^\s*(value|rate|ratio|p)\s*\(\s*([^()\s]+)\s*\)" + COMPARISON)


@dataclass(frozen=True, slots=True)
class Gate:
    text: str
    metric: str
    function: str  # one of FUNCTIONS, or one of CHANGES
    significant: bool = False
    operator: str = ""
    threshold: float = 0.0

    def failures(self, records: list[dict[str, Any]]) -> list[str]:
        """One line per compared side for which the condition holds."""
        mine = [r for r in records if r["metric"] == self.metric]
        baseline = next(r for r in mine if r["baseline"])
        return [
            f"{self.text}: {side['side']} {self._describe(side, baseline)}"
            for side in mine
            if not side["baseline"] and self._holds(side, baseline)
        ]

    def verdicts(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per compared side: the gate, the value it tests (the side's value for a change gate; null for a ratio
        over a baseline of 0), the baseline's value, whether the side passed (the condition does not hold) and
        the line that says so."""
        mine = [r for r in records if r["metric"] == self.metric]
        baseline = next(r for r in mine if r["baseline"])
        return [
            {
                "gate": self.text,
                "metric": self.metric,
                "side": side["side"],
                "value": side["value"] if self.function in CHANGES else _finite(self._value(side, baseline)),
                "baseline_value": baseline["value"],
                "p_adjusted": side["p_adjusted"],
                "passed": not self._holds(side, baseline),
                "detail": self._describe(side, baseline),
            }
            for side in mine
            if not side["baseline"]
        ]

    def _holds(self, side: dict[str, Any], baseline: dict[str, Any]) -> bool:
        if self.function in CHANGES:
            direction = {
                "increase": side["value"] > baseline["value"],
                "decrease": side["value"] < baseline["value"],
            }
            moved = direction.get(self.function, side["value"] != baseline["value"])
            p = side["p_adjusted"]
            return moved and (not self.significant or (p is not None and p < SIGNIFICANCE))
        value = self._value(side, baseline)
        return value is not None and OPERATORS[self.operator](value, self.threshold)

    def _value(self, side: dict[str, Any], baseline: dict[str, Any]) -> float | None:
        if self.function in ("value", "rate"):
            return float(side["value"])
        if self.function == "p":
            p: float | None = side["p_adjusted"]
            return p
        if side["ratio"] is not None:
            return float(side["ratio"])
        return math.inf if side["value"] > 0 else 1.0  # the baseline is 0

    def _describe(self, side: dict[str, Any], baseline: dict[str, Any]) -> str:
        p = side["p_adjusted"]
        return (
            f"{side['value']:.4g} vs baseline {baseline['value']:.4g} "
            f"(ratio {_text(side['ratio'])}, p {_text(p)})"
        )


def check_gates(gates: list[Gate], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every gate's verdict on every compared side, in the order given."""
    return [verdict for gate in gates for verdict in gate.verdicts(records)]


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: a ratio over a baseline of 0 is null there (the verdict says what it meant)."""
    return None if value is None or math.isinf(value) else value


def _text(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3g}"


def parse_gate(text: str, metrics: list[str]) -> Gate:
    """A gate from its expression; a usage error naming what is valid when it is malformed or names an unknown
    metric."""
    check_length("--fail-if", text)
    change = _CHANGE.match(text)
    test = None if change else _TEST.match(text)
    if change:
        gate = Gate(text.strip(), change[3], change[2], significant=bool(change[1]))
    elif test:
        gate = Gate(text.strip(), test[2], test[1], operator=test[3], threshold=float(test[4]))
    else:
        raise UsageError(
            f"--fail-if {text!r}: not a gate; write FUNCTION(METRIC) OP NUMBER with FUNCTION one of "
            f"{', '.join(FUNCTIONS)} and OP one of {', '.join(OPERATORS)}, or [significant] "
            f"{'|'.join(CHANGES)}(METRIC), e.g. 'ratio(nonlatin_token_share) > 2'"
        )
    if gate.metric not in metrics:
        hint = did_you_mean(gate.metric, metrics) or f"; metrics: {', '.join(metrics)}"
        raise UsageError(f"--fail-if {text!r}: unknown metric {gate.metric!r}{hint}")
    return gate
