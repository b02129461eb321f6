"""Every fixture shape parsed exactly as fixtures/formats/expected.json (written independently of the parsers)."""

from __future__ import annotations

import json

import pytest

from cotlens.formats import registered_formats
from cotlens.formats.mapping import load_mapping
from cotlens.ingest import IngestOptions, ingest
from cotlens.store import Store
from tests.conftest import FORMATS

EXPECTED = json.loads((FORMATS / "expected.json").read_text(encoding="utf-8"))
FIELDS = (
    "model",
    "reasoning",
    "answer",
    "prompt",
    "reasoning_kind",
    "reasoning_segments",
    "reasoning_tokens_reported",
    "output_tokens_reported",
    "truncated",
    "repairs",
)


def stored(store: Store) -> list[dict]:
    rows = store.read().to_pylist()
    return sorted(rows, key=lambda r: _order(r["source_locator"]))


def _order(locator: str) -> tuple:
    # "line 4 choices[1]" / "results[1][2]" / "samples/2_epoch_1.json": numeric parts in order.
    import re

    return tuple(int(n) if n.isdigit() else n for n in re.findall(r"\d+|\D+", locator))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_as_expected(name: str, store: Store) -> None:
    options = IngestOptions()
    if name == "research-dump.json":
        options.mapping = load_mapping([str(FORMATS / "research-dump.toml")])
    result = ingest([str(FORMATS / name)], store, options)
    assert not result.failed_inputs, result.failed_inputs
    assert result.totals["rejected"] == 0
    rows = stored(store)
    expected = EXPECTED[name]
    if name.startswith("inspect.eval"):
        rows = sorted(rows, key=lambda r: r["source_locator"])
        expected = sorted(expected, key=lambda r: r["locator"])
    assert [r["source_locator"] for r in rows] == [e["locator"] for e in expected]
    for row, want in zip(rows, expected, strict=True):
        for key in FIELDS:
            assert row[key] == want[key], (row["source_locator"], key)
        for key in ("dataset", "sample_id", "epoch"):
            if key in want:
                assert row[key] == want[key], (row["source_locator"], key)


def test_every_registered_format_has_a_fixture() -> None:
    for fmt in registered_formats():
        assert any(p.name.startswith(f"{fmt.name}.") for p in FORMATS.iterdir()), fmt.name


def test_fixture_records_sniff_as_their_own_format(store: Store) -> None:
    for fmt in registered_formats():
        for path in FORMATS.glob(f"{fmt.name}.*"):
            if path.suffix in (".toml", ".py"):
                continue
            result = ingest([str(path)], Store(store.root / path.name))
            assert set(result.inputs[0].formats) == {fmt.name}, path.name
