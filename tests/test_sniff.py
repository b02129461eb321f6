"""`cotlens sniff`: shapes, field paths, counts, examples, warnings; `--emit-map` round-trips through ingest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.formats.mapping import load_mapping
from cotlens.ingest import IngestOptions, ingest
from cotlens.store import Store
from tests.conftest import FIXTURES, FORMATS

runner = CliRunner()
SHAPES = FIXTURES / "real-shapes"


def sniff_json(*args: str) -> dict:
    result = runner.invoke(app, ["sniff", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_shapes_counts_examples_and_warnings() -> None:
    doc = sniff_json(str(SHAPES / "redteam-thinking-and-reasoning.jsonl"), str(FORMATS / "openai-chat.jsonl"))
    rows = doc["rows"]
    generic = [r for r in rows if r["shape"] == "generic"]
    assert len(generic) == 1 and generic[0]["records"] == 2
    assert generic[0]["fields"] == {
        "model": "model_name",
        "reasoning": "thinking",
        "answer": "response",
        "prompt": "prompt",
    }
    assert generic[0]["example"]["model"] == "qwen3-32b"
    assert generic[0]["example"]["reasoning"].endswith("…") and len(generic[0]["example"]["reasoning"]) == 80
    assert {r["shape"] for r in rows if r["input"].endswith("openai-chat.jsonl")} == {"openai-chat"}
    [warning] = doc["sections"][0]["rows"]
    assert warning["records"] == 2 and "--map reasoning=reasoning" in warning["warning"]


@pytest.mark.parametrize(
    "name",
    [
        "columnar-parallel.json",
        "ollama-message-no-done.jsonl",
        "dataset-prefixed.json",
        "reasoning-summaries.jsonl",
    ],
)
def test_emitted_map_ingests_to_the_same_transcripts(name: str, tmp_path: Path) -> None:
    source = str(SHAPES / name)
    result = runner.invoke(app, ["sniff", source, "--emit-map"])
    assert result.exit_code == 0, result.output
    toml = tmp_path / "map.toml"
    toml.write_text(result.stdout, encoding="utf-8")
    plain, mapped = Store(tmp_path / "plain"), Store(tmp_path / "mapped")
    ingest([source], plain)
    ingest([source], mapped, IngestOptions(mapping=load_mapping([str(toml)])))

    def transcripts(store: Store) -> list[tuple]:
        keys = (
            "transcript_id",
            "model",
            "reasoning",
            "answer",
            "reasoning_kind",
            "reasoning_tokens_reported",
        )
        return sorted(tuple(r[k] for k in keys) for r in store.read().to_pylist())

    assert transcripts(plain) == transcripts(mapped)
    assert len(transcripts(plain)) >= 2


def test_hostile_names_are_inert(tmp_path: Path) -> None:
    path = tmp_path / "evil.jsonl"
    record = {
        "model": "\x1b[31mred[/bold]",
        "thinking": "R\x1b]0;title\x07",
        "content": "A",
        "x\x1b_reasoning": "no",
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["sniff", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "␛[31mred[/bold]" in result.stdout
    emitted = runner.invoke(app, ["sniff", str(path), "--emit-map"]).stdout
    assert "\x1b" not in emitted and 'reasoning = "thinking"' in emitted


def test_rejected_and_unreadable_inputs(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"foo": 1}\n{"model": "m", "cot": "R", "answer": "A"}\n', encoding="utf-8")
    rows = sniff_json(str(path), str(tmp_path / "missing.jsonl"))["rows"]
    by_shape = {r["shape"]: r for r in rows}
    assert by_shape["(rejected)"]["records"] == 1
    assert by_shape["(rejected)"]["fields"]["reason"].startswith("line 1: unknown shape")
    assert by_shape["generic"]["records"] == 1
    assert by_shape[None]["error"] == "no such file"


def test_records_limit(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text(
        "".join(json.dumps({"model": "m", "cot": f"R{i}", "answer": "A"}) + "\n" for i in range(5))
    )
    [row] = sniff_json(str(path), "--records", "3")["rows"]
    assert row["records"] == 3 and row["limited"] is True


def test_every_real_shape_sniffs_without_rejects() -> None:
    files = sorted(str(p) for p in SHAPES.iterdir() if p.name != "expected.json")
    rows = sniff_json(*files)["rows"]
    assert {r["input"] for r in rows} == set(files)
    assert all(r["shape"] not in (None, "(rejected)") for r in rows), rows
    generic = [r for r in rows if r["shape"] == "generic"]
    assert all(r["fields"] and (r["mapping"] or "wrapped" in r["fields"]) for r in generic)


def test_emitted_model_name_is_escaped_and_still_toml(tmp_path: Path) -> None:
    import tomllib

    path = tmp_path / "doc.json"
    model = 'evil\u202e"\x1b[2J'
    path.write_text(
        json.dumps({"config": {"model": model}, "results": [{"cot": "R", "answer": "A"}]}), "utf-8"
    )
    emitted = runner.invoke(app, ["sniff", str(path), "--emit-map"]).stdout
    assert "\u202e" not in emitted and "\x1b" not in emitted
    assert tomllib.loads(emitted)["model_name"] == model


def test_parquet_rows_are_sniffed(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = json.loads((SHAPES / "dataset-prefixed.json").read_text(encoding="utf-8"))["rows"]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    [row] = sniff_json(str(path))["rows"]
    assert (row["shape"], row["records"]) == ("generic", 2)
    assert row["fields"] == {
        "reasoning": "deepseek_reasoning",
        "answer": "deepseek_solution",
        "prompt": "problem",
    }
