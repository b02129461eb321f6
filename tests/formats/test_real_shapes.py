"""One small realistic file per pattern of real published transcripts (fixtures/real-shapes/): each ingests with no
options, exactly as fixtures/real-shapes/expected.json says (values checked by hand against the files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotlens.ingest import ingest
from cotlens.store import Store
from tests.conftest import FIXTURES

SHAPES = FIXTURES / "real-shapes"
EXPECTED = json.loads((SHAPES / "expected.json").read_text(encoding="utf-8"))


def test_every_shape_file_has_expectations() -> None:
    assert {p.name for p in SHAPES.iterdir() if p.name != "expected.json"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shape_ingests_with_no_options(name: str, tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    result = ingest([str(SHAPES / name)], store)
    summary = result.inputs[0]
    assert summary.error is None and summary.rejected == 0
    rows = sorted(store.read().to_pylist(), key=lambda r: r["source_locator"])
    got = [
        {
            "locator": r["source_locator"],
            "tags": dict(r["tags"]),
            **{k: r[k] for k in EXPECTED[name][0] if k not in ("locator", "tags")},
        }
        for r in rows
    ]
    assert got == EXPECTED[name]
