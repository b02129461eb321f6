"""The grouped-scan skeleton the per-group analyses share: each group's rows reach its accumulator, groups come
back sorted, and the shared row fields and columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cotlens.analyses import grouped_scan
from cotlens.errors import CotlensError
from cotlens.groups import FEW_TRANSCRIPTS, group_codes, group_columns
from cotlens.ingest import ingest
from cotlens.result import Column
from cotlens.scan import Selection
from cotlens.store import Store
from tests.helpers import chat, write_jsonl


@dataclass(frozen=True, slots=True)
class _Chars(grouped_scan.CodedPart):
    chars: grouped_scan.Ints


@dataclass(frozen=True, slots=True)
class _CharKernel:
    def columns(self) -> tuple[str, ...]:
        return (*group_columns("model"), "reasoning_chars")

    def __call__(self, table: pa.Table) -> _Chars:
        groups, codes = group_codes(table, "model")
        return _Chars(groups, codes, grouped_scan.int_column(table["reasoning_chars"]))


@dataclass
class _Seen:
    key: tuple[str, str]
    chars: list[int] = field(default_factory=list)


def _add(acc: _Seen, part: _Chars, rows: grouped_scan.Rows) -> None:
    acc.chars.extend(part.chars[rows].tolist())


def test_each_group_gets_its_own_rows(tmp_path: Path, store: Store) -> None:
    texts = {"zeta": ["ab", "abcd"], "alpha": ["abc"], "mid": ["a", "ab", "abcdef"]}
    records = [
        chat(10 * j + i, t, model=m) for j, (m, ts) in enumerate(texts.items()) for i, t in enumerate(ts)
    ]
    ingest([str(write_jsonl(tmp_path / "g.jsonl", records))], store)
    grouped_scan.start_scan(store, Selection(), "model")
    found = grouped_scan.scan_groups(store, _CharKernel(), Selection(), _add, _Seen)
    ordered = grouped_scan.sorted_groups(found, "reasoning", Selection())
    assert [key for key, _ in ordered] == [("alpha", "raw"), ("mid", "raw"), ("zeta", "raw")]
    assert {key[0]: sorted(acc.chars) for key, acc in ordered} == {
        "alpha": [3],
        "mid": [1, 2, 6],
        "zeta": [2, 4],
    }
    assert all(acc.key == key for key, acc in ordered)  # new_group was given the key


def test_no_group_is_the_no_text_error() -> None:
    with pytest.raises(CotlensError, match="no transcripts with answer text"):
        grouped_scan.sorted_groups({}, "answer", Selection())


def test_coded_part_rows() -> None:
    part = grouped_scan.CodedPart([("a", "raw"), ("b", "summary")], np.array([1, 0, 1, 1]))
    rows = {key: mask.tolist() for key, mask in part.group_rows()}
    assert rows == {("a", "raw"): [False, True, False, False], ("b", "summary"): [True, False, True, True]}


def test_shared_fields_and_columns() -> None:
    assert grouped_scan.key_fields(("m", "raw")) == {"group": "m", "reasoning_kind": "raw"}
    assert grouped_scan.few_fields(FEW_TRANSCRIPTS - 1) == {"few_transcripts": True, "note": "few"}
    assert grouped_scan.few_fields(FEW_TRANSCRIPTS) == {"few_transcripts": False, "note": ""}
    middle = [Column("n", "n", "int")]
    plain = grouped_scan.table_columns(False, middle, [{"few_transcripts": False}])
    assert [c.key for c in plain] == ["group", "n"]
    flagged = grouped_scan.table_columns(
        True, middle, [{"few_transcripts": False}, {"few_transcripts": True}]
    )
    assert [c.key for c in flagged] == ["group", "reasoning_kind", "n", "note"]
    assert grouped_scan.several_kinds([("a", "raw"), ("b", "raw")]) is False
    assert grouped_scan.several_kinds([("a", "raw"), ("a", "summary")]) is True


def test_missing_numbers() -> None:
    assert grouped_scan.nan_as_none(float("nan")) is None
    assert grouped_scan.nan_as_none(float("inf")) == float("inf")  # an unbounded bound stays unbounded
    assert grouped_scan.finite_or_none(float("inf")) is None
    assert grouped_scan.finite_or_none(None) is None
    assert grouped_scan.finite_or_none(2.5) == 2.5
