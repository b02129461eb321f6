"""The grouped scan that rates, langmix, loops and compare share, written once.

Every one of them checks its grouping, the selection and that the store is measured, scans the store with a
kernel (a picklable callable that names the columns it reads and turns a row group into a part), folds each
group's rows of each part into an accumulator, and lays the groups out as a Result: the group and kind columns
first, a few-transcripts note last, the same grouping entries in the definitions and the caption. An analysis
supplies only what differs: its kernel, its accumulator (what it sums per group) and its rows.

A part says which of its rows belong to which group (`group_rows`): by a code per row (`CodedPart`, what rates,
langmix and loops send back from workers: an index into the part's group keys is small to send, unlike a key per
row), or as each group's rows already cut out by the kernel (compare's sides: views of rows sorted by model, which
spares a copy per side).

keywords counts words per model with polars and merges whole frames, and inventory aggregates a few columns of the
store: neither folds rows into per-group sums, so neither scans through here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cotlens.groups import (
    FEW_TRANSCRIPTS,
    GroupKey,
    IntervalOptions,
    Ints,
    check_by,
    interval_definition,
)
from cotlens.intrinsic import require_measured
from cotlens.result import Column
from cotlens.scan import Selection, check_group_key, check_selection, map_store, no_text
from cotlens.store import Store

# A group's rows within a CodedPart: a mask over the part's rows.
Rows = npt.NDArray[np.bool_]
P_co = TypeVar("P_co", covariant=True)
K = TypeVar("K", bound=Hashable)
K_co = TypeVar("K_co", bound=Hashable, covariant=True)
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
A = TypeVar("A")


class Kernel(Protocol[P_co]):
    def columns(self) -> tuple[str, ...]:
        """The store columns the kernel reads."""
        ...

    def __call__(self, table: pa.Table) -> P_co: ...


class GroupedPart(Protocol[K_co, R_co]):
    def group_rows(self) -> Iterable[tuple[K_co, R_co]]:
        """Each group present in the part, with its rows (`Rows` of the part, or the rows themselves)."""
        ...


@dataclass(frozen=True, slots=True)
class CodedPart:
    """A part whose rows each carry a code: an index into `groups`."""

    groups: list[GroupKey]
    codes: Ints

    def group_rows(self) -> Iterable[tuple[GroupKey, Rows]]:
        return ((key, self.codes == code) for code, key in enumerate(self.groups))


def int_column(column: pa.ChunkedArray) -> Ints:
    """A stored count column as int64 numbers (the kernels' numerators and denominators)."""
    return np.asarray(column.to_numpy(), dtype=np.int64)


def start_scan(store: Store, selection: Selection, by: str | None) -> None:
    """The checks before any scan: the grouping (`by`: model, dataset or tag:KEY; None when the analysis groups
    by its own sides), the selection, and that the store holds its measurements (an analysis never measures)."""
    if by is not None:
        check_by(by)
    check_selection(store, selection)
    if by is not None:
        check_group_key(store, selection, by)
    require_measured(store)


def scan_groups(
    store: Store,
    kernel: Kernel[GroupedPart[K, R]],
    selection: Selection,
    accumulate: Callable[[A, Any, R], None],
    new_group: Callable[[K], A],
    workers: Executor | Literal["own"] | None = "own",
    split: bool = False,
) -> dict[K, A]:
    """Each group's accumulator over the store: `accumulate(group's accumulator, part, the group's rows)` for
    every part and every group in it, in store order. Groups come back in the order first met. split: the kernel
    and accumulate give the same over a row group's rows in consecutive parts as over them whole (map_store)."""
    groups: dict[K, A] = {}
    for part in map_store(store, kernel, kernel.columns(), selection, workers, split=split):
        for key, rows in part.group_rows():
            if key not in groups:
                groups[key] = new_group(key)
            accumulate(groups[key], part, rows)
    return groups


def sorted_groups(groups: dict[GroupKey, A], field: str, selection: Selection) -> list[tuple[GroupKey, A]]:
    """The groups in (group, kind) order; none at all is the error of an analysis that found no text."""
    if not groups:
        raise no_text(field, selection)
    return sorted(groups.items(), key=lambda item: item[0])


def several_kinds(keys: Iterable[GroupKey]) -> bool:
    """Whether the groups hold more than one reasoning kind (the table then shows the kind)."""
    return len({kind for _, kind in keys}) > 1


def key_fields(key: GroupKey) -> dict[str, str]:
    """A row's first fields: its group and reasoning kind."""
    group, kind = key
    return {"group": group, "reasoning_kind": kind}


def few_fields(transcripts: int) -> dict[str, Any]:
    """A row's last fields: the flag of a group too small for its intervals to be trusted, and its note."""
    few = transcripts < FEW_TRANSCRIPTS
    return {"few_transcripts": few, "note": "few" if few else ""}


def table_columns(kinds: bool, middle: Iterable[Column], rows: Iterable[dict[str, Any]] = ()) -> list[Column]:
    """The displayed columns: the group, the kind only when the rows hold more than one, the analysis' own, and
    the few-transcripts note only when some row is flagged (JSON and CSV rows always have both)."""
    few = any(r["few_transcripts"] for r in rows)
    return [
        Column("group", "group"),
        *([Column("reasoning_kind", "kind")] if kinds else []),
        *middle,
        *([Column("note", "note")] if few else []),
    ]


FEW_CAPTION = f"few: under {FEW_TRANSCRIPTS} transcripts."


def group_definitions(
    selection: Selection, by: str, field: str, intervals: IntervalOptions
) -> dict[str, Any]:
    """The definitions every grouped analysis states: the field, the interval, the few-transcripts flag, the
    grouping and the selection."""
    return {
        "field": field,
        "interval": interval_definition(intervals),
        "few_transcripts": f"groups with fewer than {FEW_TRANSCRIPTS} transcripts are flagged",
        "group_by": by,
        "selection": selection.describe(),
    }


def nan_as_none(value: float) -> float | None:
    """NaN (an undefined ratio, nothing to test) as a missing value: JSON has no NaN."""
    return None if np.isnan(value) else float(value)


def finite_or_none(value: float | None) -> float | None:
    """A missing value for NaN and for an unbounded interval's infinite bound (JSON has neither)."""
    return None if value is None or not np.isfinite(value) else float(value)
