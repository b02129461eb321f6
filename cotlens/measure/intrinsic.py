"""Intrinsic measurements: columns computed once per transcript, at ingest or by `cotlens measure` for parts
written by an older version. One function fills them for a batch of canonical rows, wherever it runs."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from cotlens import __version__
from cotlens.measure.tokens import count_tokens, tokenizer_description
from cotlens.record import SCHEMA

# Each measurement column and the text column it measures.
TOKEN_COLUMNS = {"reasoning_tokens_o200k": "reasoning", "answer_tokens_o200k": "answer"}
INTRINSIC_COLUMNS = (*TOKEN_COLUMNS, "measured_by")


@lru_cache(maxsize=1)
def measured_by() -> str:
    """Stored beside intrinsic measurements: what made them."""
    return f"cotlens {__version__}; tokens {tokenizer_description()}"


def measure(table: pa.Table) -> pa.Table:
    """`table` (canonical rows, any subset of SCHEMA's columns that includes the texts) with every intrinsic
    column computed and the columns in SCHEMA order."""
    columns = {name: table[name] for name in table.column_names}
    for column, source in TOKEN_COLUMNS.items():
        columns[column] = pa.array(count_tokens(table[source].to_pylist()), pa.int64())
    columns["measured_by"] = pa.array([measured_by()] * table.num_rows, pa.string())
    for field in SCHEMA:
        if field.name not in columns:
            columns[field.name] = pa.nulls(table.num_rows, field.type)
    return pa.Table.from_arrays([columns[f.name] for f in SCHEMA], schema=SCHEMA)


def needs_measuring(table: pa.Table) -> bool:
    """Whether some row lacks a measurement that its text allows (or a column is missing altogether)."""
    if any(name not in table.column_names for name in INTRINSIC_COLUMNS):
        return True
    return any(
        pc.any(pc.and_(table[source].is_valid(), table[column].is_null())).as_py()
        for column, source in TOKEN_COLUMNS.items()
    )


def measure_part(path: str) -> int:
    """Fill the missing intrinsic measurements of one part file, row group by row group (memory stays bounded),
    replacing the file atomically. Returns the number of rows measured (0: the part was complete)."""
    import os

    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    groups = range(source.num_row_groups)
    if not any(needs_measuring(source.read_row_group(i)) for i in groups):
        return 0
    tmp = f"{path}.measuring"
    rows = 0
    with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
        for i in groups:
            table = measure(source.read_row_group(i))
            writer.write_table(table, row_group_size=table.num_rows)
            rows += table.num_rows
    os.replace(tmp, path)
    return rows
