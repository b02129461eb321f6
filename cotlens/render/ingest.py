"""ingest's summary on stderr: a row per input, a row per model, and the totals in one line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cotlens import location
from cotlens.escape import printable
from cotlens.render import MISSING

if TYPE_CHECKING:
    from cotlens.ingest import IngestResult


def print_ingest_summary(result: IngestResult, console: Console) -> None:
    """The inputs' table, the models' table (when any record was stored or found a duplicate) and the totals."""
    table = Table(title="ingest", title_justify="left")
    widest = len(str(max((s.records for s in result.inputs), default=0)))
    for header in ("input", "format", "records", "added", "duplicate", "rejected", "repairs"):
        if header in ("input", "format", "repairs"):
            table.add_column(header, overflow="fold")  # a long path wraps, never loses characters
        else:  # a count is never cut or wrapped
            table.add_column(header, justify="right", no_wrap=True, min_width=widest)
    for s in result.inputs:
        table.add_row(
            Text(printable(s.path)),
            Text(", ".join(sorted(s.formats)) or ("error" if s.error else MISSING)),
            str(s.records),
            str(s.added),
            str(s.duplicate),
            str(s.rejected),
            Text(", ".join(f"{k} {v}" for k, v in sorted(s.repairs.items()))),
        )
    console.print(table)
    models = Table(title="by model", title_justify="left")
    for header in ("model", "added", "duplicate"):
        if header == "model":
            models.add_column(header, overflow="fold")
        else:
            models.add_column(header, justify="right", no_wrap=True, min_width=widest)
    for name, counts in sorted(result.models.items()):
        models.add_row(Text(printable(name)), str(counts.added), str(counts.duplicate))
    if result.models:
        console.print(models)
    totals = result.totals
    line = (
        f"{totals['added']} added, {totals['duplicate']} duplicate, {totals['rejected']} rejected "
        f"of {totals['records']} records"
    )
    if result.rejects_file:
        where = (
            location.join(result.store, result.rejects_file)
            if location.is_uri(result.store)
            else str(Path(result.store) / result.rejects_file)
        )
        line += f"; rejects in {printable(where)}"
    console.print(Text(line), soft_wrap=True)
