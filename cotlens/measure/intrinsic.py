"""Intrinsic measurements: columns computed once per transcript, at ingest or by `cotlens measure` for parts
written by an older version. One function fills them for a batch of canonical rows, wherever it runs.

Each measured text (reasoning, answer) gets its exact o200k_base token count, the language-mixing columns of
measure/scripts.py, the repetition columns of measure/repetition.py and the counts of the built-in lexicons'
terms, as `<text>_<measurement>` columns. A part file records which lexicons its counts used."""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from cotlens import __version__
from cotlens.lexicon import builtin_fingerprint, builtin_keys, builtin_lexicons
from cotlens.measure.repetition import measure_repetition
from cotlens.measure.scripts import script_columns
from cotlens.measure.terms import count_terms
from cotlens.measure.tokens import count_tokens, tokenizer_description
from cotlens.record import INTRINSIC_FIELDS, MEASURED_TEXTS, MEASUREMENTS, SCHEMA

# A column that every measured row has (null exactly when its text is null): what tells a measured row.
_PRESENCE = "letters"


@lru_cache(maxsize=1)
def measured_by() -> str:
    """Stored beside intrinsic measurements: what made them."""
    return f"cotlens {__version__}; tokens {tokenizer_description()}"


def measure_text(texts: list[str | None]) -> dict[str, pa.Array]:
    """Every measurement of MEASUREMENTS for a batch of one text column, keyed by measurement name."""
    columns: dict[str, pa.Array] = {"tokens_o200k": pa.array(count_tokens(texts), pa.int64())}
    columns.update(script_columns(texts))
    types = {m.name: m.type for m in MEASUREMENTS}
    for name, values in measure_repetition(texts).items():
        columns[name] = pa.array(values, types[name])
    columns["lexicon_counts"] = lexicon_counts(texts)
    return columns


def lexicon_counts(texts: list[str | None]) -> pa.Array:
    """Per text, the occurrences of every built-in lexicon term, in builtin_keys() order; null for no text."""
    terms = [t for lex in builtin_lexicons() for t in lex.terms]
    present = [i for i, t in enumerate(texts) if t is not None]
    counts = np.zeros((len(texts), len(terms)), dtype=np.int32)
    counts[present] = count_terms([texts[i] for i in present], terms)
    missing = np.array([t is None for t in texts], dtype=bool)
    offsets = np.concatenate(([0], np.cumsum(np.where(missing, 0, len(terms))))).astype(np.int32)
    values = counts[~missing].ravel()
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values), mask=pa.array(missing))


def part_schema() -> pa.Schema:
    """SCHEMA, with the fingerprint of the lexicons whose counts the part stores (see part_needs_measuring) and
    the terms in the order of `*_lexicon_counts`, so the file describes itself."""
    return SCHEMA.with_metadata(
        {LEXICONS_KEY: builtin_fingerprint(), TERMS_KEY: orjson.dumps(builtin_keys()).decode()}
    )


LEXICONS_KEY = "cotlens.lexicons"
TERMS_KEY = "cotlens.lexicon_terms"


def measure(table: pa.Table) -> pa.Table:
    """`table` (canonical rows, any subset of SCHEMA's columns that includes the texts) with every intrinsic
    column computed and the columns in SCHEMA order."""
    columns = {name: table[name] for name in table.column_names}
    for text in MEASURED_TEXTS:
        for name, array in measure_text(table[text].to_pylist()).items():
            columns[f"{text}_{name}"] = array
    columns["measured_by"] = pa.array([measured_by()] * table.num_rows, pa.string())
    return _in_schema_order(columns, table.num_rows)


def unmeasured(table: pa.Table) -> pa.Table:
    """`table` with every intrinsic column null (`ingest --defer-measure`), in SCHEMA order."""
    columns = {name: table[name] for name in table.column_names if name not in _INTRINSIC_NAMES}
    return _in_schema_order(columns, table.num_rows)


_INTRINSIC_NAMES = frozenset(f.name for f in INTRINSIC_FIELDS)


def _in_schema_order(columns: dict[str, pa.ChunkedArray | pa.Array], rows: int) -> pa.Table:
    arrays = [columns[f.name] if f.name in columns else pa.nulls(rows, f.type) for f in SCHEMA]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def part_needs_measuring(path: str) -> bool:
    """Whether some row of a part file has a text without its measurements (written by an older cotlens, or
    by ingest --defer-measure). Read from the Parquet footer: measured, a text's `<text>_letters` is null
    exactly where its `<text>_chars` is, so their null counts agree in every row group."""
    metadata = pq.read_metadata(path)
    # Lexicon counts made with other lexicons or matching rules are stale: the part is measured again.
    if (metadata.metadata or {}).get(LEXICONS_KEY.encode()) != builtin_fingerprint().encode():
        return True
    # Leaf column names: a flat column's own name (cheaper than the Arrow schema). The nested measurement
    # columns came with the flat ones.
    leaves = metadata.schema.names
    if not _FLAT_INTRINSIC.issubset(leaves):
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
                table = pq.ParquetFile(path).read_row_group(
                    i, columns=[f"{text}_chars", f"{text}_{_PRESENCE}"]
                )
                counts = [table.column(0).null_count, table.column(1).null_count]
            if counts[0] != counts[1]:
                return True
    return False


_FLAT_INTRINSIC = frozenset(f.name for f in INTRINSIC_FIELDS if not pa.types.is_nested(f.type))


def _null_count(column: pq.ColumnChunkMetaData) -> int | None:
    stats = column.statistics
    return stats.null_count if stats is not None and stats.has_null_count else None


def measure_part(path: str) -> int:
    """Fill the missing intrinsic measurements of one part file, row group by row group (memory stays bounded),
    replacing the file atomically. Returns the number of rows measured (0: the part was complete)."""
    if not part_needs_measuring(path):
        return 0
    source = pq.ParquetFile(path)
    groups = range(source.num_row_groups)
    tmp = f"{path}.measuring"
    rows = 0
    try:
        with pq.ParquetWriter(tmp, part_schema(), compression="zstd") as writer:
            for i in groups:
                table = measure(source.read_row_group(i))
                writer.write_table(table, row_group_size=table.num_rows)
                rows += table.num_rows
        os.replace(tmp, path)
    finally:  # a full disk or an interruption leaves the part as it was, and no half-written copy
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    return rows
