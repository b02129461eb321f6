"""Intrinsic measurements of stored transcripts: the measuring step, between the kernels (measure/, which know
no store) and the store (which owns its part files and knows no kernel).

Ingest fills a batch of canonical rows with every registered kernel's columns for each measured text (reasoning,
answer), as `<text>_<column>`, and what made them (`measured_by`). A part file written by an older cotlens, by
ingest --defer-measure, or with other lexicons lacks some of them: `measure_store` (`cotlens measure`) fills
them. Analyses only read: one stored without its measurements raises UnmeasuredError before any work, and a
command runs it through `run_measured`, which announces the measuring, does it once and runs the analysis again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from cotlens import __version__
from cotlens.errors import StoreError
from cotlens.measure import registered_kernels
from cotlens.measure.tokens import tokenizer_description
from cotlens.progress import tracked
from cotlens.record import MEASURED_BY, MEASURED_TEXTS, intrinsic_fields, schema
from cotlens.store import Store, open_part, part_metadata, replaced_part

T = TypeVar("T")

# A column that every measured row has (null exactly when its text is null): what tells a measured row.
_PRESENCE = "letters"


@lru_cache(maxsize=1)
def measured_by() -> str:
    """Stored beside intrinsic measurements: what made them."""
    return f"cotlens {__version__}; tokens {tokenizer_description()}"


def measure_text(texts: list[str | None]) -> dict[str, pa.Array]:
    """Every registered kernel's columns for a batch of one text column, keyed by column name."""
    columns: dict[str, pa.Array] = {}
    for kernel in registered_kernels():
        columns.update(kernel.measure_arrays(texts))
    return columns


def measure(table: pa.Table) -> pa.Table:
    """`table` (canonical rows, any subset of the schema's columns that includes the texts) with every intrinsic
    column computed and the columns in schema order."""
    columns = {name: table[name] for name in table.column_names}
    for text in MEASURED_TEXTS:
        for name, array in measure_text(table[text].to_pylist()).items():
            columns[f"{text}_{name}"] = array
    columns[MEASURED_BY.name] = pa.array([measured_by()] * table.num_rows, pa.string())
    return _in_schema_order(columns, table.num_rows)


def unmeasured(table: pa.Table) -> pa.Table:
    """`table` with every intrinsic column null (`ingest --defer-measure`), in schema order."""
    intrinsic = {f.name for f in intrinsic_fields()}
    columns = {name: table[name] for name in table.column_names if name not in intrinsic}
    return _in_schema_order(columns, table.num_rows)


def _in_schema_order(columns: dict[str, pa.ChunkedArray | pa.Array], rows: int) -> pa.Table:
    arrays = [columns[f.name] if f.name in columns else pa.nulls(rows, f.type) for f in schema()]
    return pa.Table.from_arrays(arrays, schema=schema())


def part_needs_measuring(path: str) -> bool:
    """Whether some row of a part file has a text without its measurements (written by an older cotlens, or
    by ingest --defer-measure), or measurements made with what a kernel no longer uses (other lexicons). Read
    from the Parquet footer: measured, a text's `<text>_letters` is null exactly where its `<text>_chars` is, so
    their null counts agree in every row group."""
    metadata = part_metadata(path)
    written = metadata.metadata or {}
    for kernel in registered_kernels():
        if kernel.metadata is None or kernel.fingerprint_key is None:
            continue
        key = kernel.fingerprint_key
        if written.get(key.encode()) != kernel.metadata()[key].encode():
            return True
    # Leaf column names: a flat column's own name (cheaper than the Arrow schema). The nested measurement
    # columns came with the flat ones.
    leaves = metadata.schema.names
    if not {f.name for f in intrinsic_fields() if not pa.types.is_nested(f.type)}.issubset(leaves):
        return True
    position = {
        name: leaves.index(name)
        for text in MEASURED_TEXTS
        for name in (f"{text}_chars", f"{text}_{_PRESENCE}")
    }
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for text in MEASURED_TEXTS:
            counts = [_null_count(group.column(position[f"{text}_{n}"])) for n in ("chars", _PRESENCE)]
            if None in counts:  # a writer without statistics: read the two columns
                table = open_part(path).read_row_group(i, columns=[f"{text}_chars", f"{text}_{_PRESENCE}"])
                counts = [table.column(0).null_count, table.column(1).null_count]
            if counts[0] != counts[1]:
                return True
    return False


def _null_count(column: pq.ColumnChunkMetaData) -> int | None:
    stats = column.statistics
    return stats.null_count if stats is not None and stats.has_null_count else None


def measure_part(path: str) -> int:
    """Fill the missing intrinsic measurements of one part file, row group by row group (memory stays bounded),
    replacing the file atomically. Returns the number of rows measured (0: the part was complete)."""
    if not part_needs_measuring(path):
        return 0
    source = open_part(path)
    rows = 0
    # A full disk or an interruption leaves the part as it was, and no half-written copy.
    with replaced_part(path) as writer:
        for i in range(source.num_row_groups):
            table = measure(source.read_row_group(i))
            writer.write_table(table, row_group_size=table.num_rows)
            rows += table.num_rows
    return rows


def unmeasured_parts(store: Store) -> list[str]:
    """Part files with rows that lack intrinsic measurements (read from the files' footers: cheap)."""
    with store.reading():
        return [p for p in store.parts() if part_needs_measuring(p)]


def measure_store(store: Store, jobs: int | None = None, on_wait: Any = None) -> dict[str, int]:
    """Compute the intrinsic measurements that parts written by older versions (or by ingest --defer-measure)
    lack: `cotlens measure`, or `run_measured` before an analysis. Writers take turns on the store's lock."""
    from cotlens.runtime.workers import map_ordered, pool_jobs, worker_pool

    store.require()
    with (
        store.writing("parts measured before stay measured, the others are unchanged"),
        store.locked(on_wait),
    ):
        total = len(store.parts())
        parts = unmeasured_parts(store)
        jobs = jobs or pool_jobs(len(parts) > 1)
        rows = []
        with worker_pool(jobs) as pool, tracked("measuring", len(parts)) as step:
            for measured in map_ordered(measure_part, parts, pool, window=2 * jobs):
                rows.append(measured)
                step(1)
    return {"parts": total, "parts_measured": sum(1 for r in rows if r), "rows_measured": sum(rows)}


class UnmeasuredError(StoreError):
    """An analysis met part files without intrinsic measurements: they are measured first (run_measured)."""

    def __init__(self, parts: int) -> None:
        super().__init__(
            f"{parts} part file(s) of the store lack intrinsic measurements: run `cotlens measure` first"
        )
        self.parts = parts


def require_measured(store: Store) -> None:
    """What an analysis checks before it reads stored measurements: reading never rewrites a part file."""
    pending = unmeasured_parts(store)
    if pending:
        raise UnmeasuredError(len(pending))


def run_measured(
    store: Store, analysis: Callable[[], T], on_measure: Callable[[int], None] | None = None
) -> T:
    """`analysis()`; if the store has parts without intrinsic measurements (an older cotlens, ingest
    --defer-measure), on_measure(part files) is told, they are measured once, as `cotlens measure` would, and
    the analysis runs again. It raised UnmeasuredError after checking its options and selection, before any
    work, so a wrong model name is said at once, not after measuring."""
    try:
        return analysis()
    except UnmeasuredError as e:
        if on_measure is not None:
            on_measure(e.parts)
        try:
            measure_store(store)
        except StoreError as failed:
            raise StoreError(
                f"{failed} (its {e.parts} part file(s) stored without measurements are measured before any "
                "analysis: run `cotlens measure` on a writable copy)"
            ) from None
    return analysis()
