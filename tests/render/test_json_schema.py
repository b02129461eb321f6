"""Every JSON document carries its provenance (schema 2): cotlens_version, the store's fingerprint, self-contained
definitions (never a file the project does not ship); compare's JSON holds numbers, not display strings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cotlens import __version__
from cotlens.cli import app
from cotlens.result import SCHEMA_VERSION
from cotlens.store import Store, store_fingerprint
from tests.conftest import DEMO

runner = CliRunner()
COMMANDS = {
    "models": ["models"],
    "rates": ["rates", "--term", "wait", "--resamples", "100"],
    "langmix": ["langmix", "--examples", "1", "--resamples", "100"],
    "loops": ["loops", "--resamples", "100"],
    "compare": [
        "compare",
        "orion-3",
        "lumen-mix",
        "--resamples",
        "100",
        "--fail-if",
        "value(loop_share) > 0.1",
    ],
    "keywords": ["keywords", "orion-3", "--top", "3"],
    "kwic": ["kwic", "wait", "--limit", "2"],
    "filter": ["filter", "--dry-run", "--where", "not loop", "--json"],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("schema") / "store"
    files = [str(DEMO / "orion-3.jsonl"), str(DEMO / "lumen-mix.jsonl")]
    got = runner.invoke(app, ["ingest", *files, "--store", str(root), "--json"])
    assert got.exit_code == 0, got.output
    return root, json.loads(got.stdout)


def document(store: Path, name: str) -> dict[str, Any]:
    got = runner.invoke(
        app, [*COMMANDS[name], "--store", str(store), *([] if name == "filter" else ["--format", "json"])]
    )
    assert got.exit_code in (0, 3), got.output
    return dict(json.loads(got.stdout))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_document_carries_its_provenance(demo: tuple[Path, dict[str, Any]], name: str) -> None:
    store, _ = demo
    doc = document(store, name)
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert doc["cotlens_version"] == __version__
    assert doc["store_fingerprint"] == store_fingerprint(Store(store))
    assert len(doc["store_fingerprint"]) == 16
    assert doc["command"] == name and doc["definitions"]
    assert "kind" not in doc and all("kind" not in row for row in doc["rows"])
    text = json.dumps(doc)
    assert "DESIGN" not in text  # definitions never point at a file the project does not ship
    for section in doc.get("sections", []):
        assert set(section) == {"table", "columns", "rows"}


def test_ingest_json_has_provenance(demo: tuple[Path, dict[str, Any]]) -> None:
    store, summary = demo
    assert summary["schema_version"] == 2 and summary["cotlens_version"] == __version__
    assert summary["store_fingerprint"] == store_fingerprint(Store(store))  # the store after the run


def test_compare_json_holds_numbers_and_gate_verdicts(demo: tuple[Path, dict[str, Any]]) -> None:
    store, _ = demo
    doc = document(store, "compare")
    assert "sections" not in doc
    text_keys = {"metric", "label", "metric_kind", "side", "change"}
    for row in doc["rows"]:
        assert set(row) == set(doc["columns"])
        for key, value in row.items():
            assert key in text_keys or value is None or isinstance(value, (int, float)), (key, value)
    [gate] = doc["gates"]
    assert gate["gate"] == "value(loop_share) > 0.1" and gate["side"] == "lumen-mix"
    assert gate["value"] == pytest.approx(0.15) and gate["passed"] is False


def test_the_fingerprint_follows_the_manifest(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    empty = store_fingerprint(store)
    runner.invoke(app, ["ingest", str(DEMO / "plain-7b.jsonl"), "--store", str(store.root)])
    once = store_fingerprint(store)
    runner.invoke(
        app, ["ingest", str(DEMO / "plain-7b.jsonl"), "--store", str(store.root)]
    )  # a run adding nothing
    assert len({empty, once, store_fingerprint(store)}) == 3
