"""The contract of an input shape. One module per shape under `cotlens/formats/` defines `FORMAT`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cotlens.formats._fields import JSONObject
from cotlens.record import Parsed


@dataclass(frozen=True, slots=True)
class Context:
    """What the container knows about the records in it (an Inspect log header names model and task)."""

    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str | None:
        value = self.defaults.get("model")
        return value if isinstance(value, str) else None

    @property
    def model_error(self) -> str | None:
        """Why the container's model cannot be used (a document-level model that is not a string)."""
        value = self.defaults.get("model_error")
        return value if isinstance(value, str) else None

    @property
    def dataset(self) -> str | None:
        value = self.defaults.get("dataset")
        return value if isinstance(value, str) else None


class Format(Protocol):
    """An input shape: a kebab-case `name`, a one-line `summary`, a `priority` for sniffing (lower first:
    specific shapes before generic ones), `sniff` that recognizes a record by its structure, and `parse`
    that turns one record into one or more transcripts (raising RecordError for a malformed record)."""

    name: str
    summary: str
    priority: int

    def sniff(self, obj: JSONObject) -> bool: ...

    def parse(self, obj: JSONObject, context: Context) -> list[Parsed]: ...
