"""The shape every analysis returns: named, typed columns and rows, plus the definitions it used. Renderers
(rich table, JSON, CSV, Markdown) only lay this out; they compute nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ColumnKind = Literal[
    "text",
    "int",
    "float",
    "share",
    "list",
    "interval",
    "share_interval",
    "formatted",
    "compare_value",
    "compare_ratio",
    "compare_p",
]
# 2: cotlens_version, store_fingerprint and gates; "kind" became "command" (the document), "table" (a section),
# "reasoning_kind" (a row) and "metric_kind" (a compare record); compare's display strings left the JSON.
SCHEMA_VERSION = 2
# How compare's table marks a significant change (its caption names them).
INCREASE, DECREASE = "\u25b2", "\u25bc"  # ▲ ▼


@dataclass(frozen=True, slots=True)
class Column:
    """A displayed column. An "interval" column shows `key` with `key_low` and `key_high` beside it; a
    "share_interval" the same as percentages; a "share" is a percentage alone (its rows may have bounds that
    the table leaves to JSON and CSV); "formatted" is a number the analysis wrote out itself (right-aligned).
    The "compare_*" kinds show one side's numbers of a compare row (a dict under `key`): its value with its
    interval, its ratio to the baseline, its adjusted p-value marked with the direction of a significant change."""

    key: str
    header: str
    kind: ColumnKind = "text"

    @property
    def keys(self) -> tuple[str, ...]:
        """The row keys this column shows (CSV writes each as its own column)."""
        if self.kind in ("interval", "share_interval"):
            return (self.key, f"{self.key}_low", f"{self.key}_high")
        return (self.key,)


@dataclass(slots=True)
class Result:
    kind: str  # the command that made it: "models", "ingest", ...
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    definitions: dict[str, Any] = field(default_factory=dict)
    # One or two lines under a table saying what its numbers mean (tokenizer, unit, interval method).
    caption: str = ""
    # Further tables of the same analysis (e.g. examples), shown after this one. Their definitions are this one's.
    sections: list[Result] = field(default_factory=list)
    # The machine-readable rows when they differ from the displayed ones (a wide display of long records):
    # JSON and CSV carry these.
    records: list[dict[str, Any]] | None = None
    # False when the sections only lay out the records differently (compare's table per side, strings): JSON and
    # CSV carry the records alone.
    machine_sections: bool = True
    # The store the result was computed from (store.store_fingerprint), set by whoever knows the store.
    store_fingerprint: str | None = None
    # Pass/fail conditions checked on the result (compare --fail-if): each gate, side, value and verdict.
    gates: list[dict[str, Any]] | None = None

    def to_document(self) -> dict[str, Any]:
        """The JSON document: one object, sorted keys, with schema_version, the cotlens version, the store's
        fingerprint and definitions; each section as an object with its own table name, columns and rows under
        "sections"; the gates' verdicts under "gates" when gates were checked."""
        from cotlens import __version__

        document: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "cotlens_version": __version__,
            "store_fingerprint": self.store_fingerprint,
            "command": self.kind,
            "definitions": self.definitions,
            "columns": self.data_keys(),
            "rows": self.data_rows(),
        }
        if self.json_sections():
            document["sections"] = [
                {"table": s.kind, "columns": [c.key for c in s.columns], "rows": s.rows}
                for s in self.sections
            ]
        if self.gates is not None:
            document["gates"] = self.gates
        return document

    def json_sections(self) -> list[Result]:
        """The sections that JSON carries (none when they only lay out the records)."""
        return self.sections if self.machine_sections else []

    def data_rows(self) -> list[dict[str, Any]]:
        return self.rows if self.records is None else self.records

    def data_keys(self) -> list[str]:
        """The displayed columns' keys, or the records' keys in their order."""
        if self.records is None:
            return [c.key for c in self.columns]
        return list(dict.fromkeys(k for r in self.records for k in r))
