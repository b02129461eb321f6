"""The demo corpus lands exactly as fixtures/demo/manifest.json (written by its generator) says it should."""

from __future__ import annotations

import json

from cotlens.analyses.inventory import summarize_models
from cotlens.ingest import ingest
from cotlens.store import Store
from tests.conftest import DEMO

MANIFEST = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))


def test_demo_corpus(store: Store) -> None:
    result = ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    assert result.totals == {"records": 242, "rejected": 2, "transcripts": 240, "added": 240, "duplicate": 0}
    assert not result.failed_inputs
    rows = store.read(columns=["model", "source_id", "truncated", "repairs", "reasoning_kind"]).to_pylist()
    for model, spec in MANIFEST["models"].items():
        mine = [r for r in rows if r["model"] == model]
        assert len(mine) == spec["count"] == 80
        assert sorted(r["source_id"] for r in mine if r["truncated"]) == sorted(spec["truncated"])
        repaired = sorted(r["source_id"] for r in mine if "missing-open-think" in r["repairs"])
        assert repaired == sorted(spec["missing_open_think"])
        assert {r["reasoning_kind"] for r in mine} == {"raw"}
    rejects = [
        json.loads(line) for line in next((store.root / "rejects").glob("*.jsonl")).read_text().splitlines()
    ]
    assert [(r["source_path"].rsplit("/", 1)[-1], r["source_locator"]) for r in rejects] == [
        ("orion-3.jsonl", "line 23"),
        ("orion-3.jsonl", "line 57"),
    ]
    models = {r["model"]: r for r in summarize_models(store).rows}
    assert models["orion-3"]["truncated"] == 3
