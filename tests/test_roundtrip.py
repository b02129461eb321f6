"""cotlens's own output read back with no options: `filter --out` exports (JSON Lines, Parquet) and a store's part
files keep their transcript ids, so re-ingesting an export into its source store adds nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.ingest import ingest
from cotlens.record import REASONING_KINDS
from cotlens.store import Store
from tests.conftest import FORMATS
from tests.formats.test_formats import FIELDS
from tests.helpers import chat, write_jsonl

runner = CliRunner()
# Everything a transcript is, apart from where and when it was read, and some of its measurements.
CANONICAL = (
    "transcript_id",
    "source_id",
    "dataset",
    "sample_id",
    "epoch",
    "tags",
    *FIELDS,
    "reasoning_tokens_o200k",
    "answer_lexicon_counts",
)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path]:
    """A store of every fixture shape (all reasoning kinds) and its exports of every kind."""
    root = tmp_path_factory.mktemp("roundtrip")
    store = Store(root / "store")
    inputs = [
        p for p in sorted(FORMATS.iterdir()) if p.suffix in (".jsonl", ".eval") and "export" not in p.name
    ]
    # One rejected record, so that the store has a rejects file (which is not read back).
    odd = write_jsonl(root / "odd.jsonl", [chat(1, model="odd"), {"score": 1}])
    result = ingest([*map(str, inputs), str(odd)], store)
    assert not result.failed_inputs and result.totals["added"] > 40 and result.totals["rejected"] == 1
    kinds = [arg for kind in REASONING_KINDS for arg in ("--kind", kind)]
    for name in ("export.jsonl", "export.parquet"):
        done = runner.invoke(app, ["filter", "--store", str(store.root), "--out", str(root / name), *kinds])
        assert done.exit_code == 0, done.output
    return store, root


def canonical(store: Store) -> list[dict[str, Any]]:
    rows = store.read(columns=list(CANONICAL)).to_pylist()
    return sorted(rows, key=lambda r: r["transcript_id"])


@pytest.mark.parametrize("export", ["export.jsonl", "export.parquet", "store/transcripts", "store"])
def test_an_export_read_back_is_the_same_transcripts(source: tuple[Store, Path], export: str) -> None:
    store, root = source
    again = Store(root / f"again-{export.replace('/', '-')}")
    result = ingest([str(root / export)], again)
    assert not result.failed_inputs
    assert result.totals["rejected"] == 0
    assert set(result.inputs[0].formats) == {"cotlens-export"}
    assert canonical(again) == canonical(store)
    assert {r["reasoning_kind"] for r in canonical(again)} == set(REASONING_KINDS)


def test_an_export_into_its_source_store_adds_nothing(source: tuple[Store, Path]) -> None:
    store, root = source
    before = store.read(columns=["transcript_id"]).num_rows
    exports = [str(root / "export.jsonl"), str(root / "export.parquet"), str(store.transcripts_dir)]
    result = ingest(exports, store)
    assert result.totals["added"] == 0
    assert result.totals["duplicate"] == result.totals["records"] == 3 * before


def test_an_id_in_the_input_is_not_trusted(store: Store) -> None:
    """The fixture's last row carries its first row's id; each row gets the id its own fields make."""
    ingest([str(FORMATS / "cotlens-export.jsonl")], store)
    rows = sorted(store.read().to_pylist(), key=lambda r: int(r["source_locator"].split()[1]))
    given = [
        json.loads(line)["transcript_id"]
        for line in (FORMATS / "cotlens-export.jsonl").read_text().splitlines()
    ]
    assert given[0] == given[5]
    assert len({r["transcript_id"] for r in rows}) == 6
    assert rows[5]["transcript_id"] != given[5]


def test_fields_that_contradict_the_kind_are_rejected(tmp_path: Path, store: Store) -> None:
    lines = (FORMATS / "cotlens-export.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    hollow = {**row, "reasoning": None}  # says raw, has no reasoning
    bad_tags = {**row, "tags": {"split": 3}}
    path = tmp_path / "edited.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (row, hollow, bad_tags)))
    result = ingest([str(path)], store)
    assert (result.totals["added"], result.totals["rejected"]) == (1, 2)
    reasons = [
        json.loads(line)["reason"]
        for f in (store.root / "rejects").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert reasons == [
        "reasoning_kind is 'raw' but the fields make a 'hidden' transcript",
        "tags is {'split': 3}, expected an object of strings",
    ]
