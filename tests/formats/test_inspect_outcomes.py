"""Inspect scores and sample metadata become tags: grouped with --by tag:score:NAME, filtered with --where."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.formats.inspect_ai import outcome_tags
from cotlens.ingest import ingest
from cotlens.store import Store
from tests.conftest import FORMATS

runner = CliRunner()


def test_scalar_scores_and_metadata_only() -> None:
    sample = {
        "scores": {
            "match": {"value": "C", "answer": "21"},
            "model_graded": {"value": {"accuracy": 1, "style": 0.5, "notes": ["x"]}},
            "broken": "not an object",
            "flag": {"value": True},
        },
        "metadata": {
            "level": 3,
            "subject": "algebra",
            "tags": ["a", "b"],
            "extra": {"k": 1},
            "none": None,
            "problem": "x" * 201,
        },
    }
    assert outcome_tags(sample) == {
        "score:match": "C",
        "score:model_graded:accuracy": "1",
        "score:model_graded:style": "0.5",
        "score:flag": "true",
        "meta:level": "3",
        "meta:subject": "algebra",
    }


def test_filter_and_group_by_score(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    ingest([str(FORMATS / "inspect.eval")], store)
    stored = store.read().to_pylist()
    assert sorted(dict(r["tags"]).get("score:match") for r in stored) == ["C", "C", "I"]
    # filter selects raw and summary reasoning by default
    selected = [dict(r["tags"])["score:match"] for r in stored if r["reasoning_kind"] in ("raw", "summary")]
    result = runner.invoke(
        app, ["filter", "--store", str(store.root), "--dry-run", "--json", "--where", "tag:score:match == C"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert sum(r["kept"] for r in rows) == selected.count("C") == 1
    assert sum(r["dropped"] for r in rows) == selected.count("I") == 1
    result = runner.invoke(
        app,
        [
            "rates",
            "--store",
            str(store.root),
            "--term",
            "wait",
            "--by",
            "tag:score:match",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    groups = {r["group"] for r in json.loads(result.stdout)["rows"]}
    assert groups == set(selected)
