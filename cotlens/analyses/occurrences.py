"""Term counts per transcript for the analyses that rate terms (rates, compare, filter's `rate(...)`): read from
the counts stored at ingest when every term has them (the built-in lexicons, `lexicon.stored_positions`), else
counted from the text (measure/terms.py). One rule, so that the analyses cannot count differently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.lexicon import builtin_keys
from cotlens.measure.terms import Passes, Term, count_terms
from cotlens.scan import list_to_dense


def counts_column(field: str, stored: tuple[int, ...] | None) -> str:
    """The column term_counts reads for a field: its stored counts, or its text."""
    return f"{field}_lexicon_counts" if stored is not None else field


def term_counts(
    table: pa.Table,
    field: str,
    terms: Sequence[Term],
    stored: tuple[int, ...] | None,
    passes: Passes | None = None,
) -> npt.NDArray[np.integer[Any]]:
    """Occurrences of each term in each row's `field`, shape (rows, terms); a row without text counts 0.
    stored: where the terms are among the stored counts (stored_positions), or None to count the text (with
    `passes`, term_passes(terms), when the caller made them once). Stored counts come as stored (their integer
    type), a view of them when the terms are consecutive there: no copy of a million rows x 50 terms."""
    if stored is None:
        return count_terms(table[field].combine_chunks(), terms, passes)
    width = len(builtin_keys())
    column = table[counts_column(field, stored)]
    if column.null_count:  # no text, no counts stored
        column = pc.fill_null(column, pa.scalar([0] * width, column.type))
    counts: npt.NDArray[np.integer[Any]] = list_to_dense(column, width)[:, _as_slice(stored)]
    return counts


def _as_slice(positions: tuple[int, ...]) -> slice | list[int]:
    """Consecutive positions as a slice (a view, no gather): the built-in lexicons in their stored order."""
    if positions and list(positions) == list(range(positions[0], positions[0] + len(positions))):
        return slice(positions[0], positions[0] + len(positions))
    return list(positions)
