"""The command line: exit codes, stdout carries data only, JSON parses, hostile names are inert."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.ingest import ingest
from cotlens.store import Store
from tests.conftest import FORMATS
from tests.helpers import DOCUMENT_KEYS, chat, write_jsonl

runner = CliRunner()


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=input, env={"NO_COLOR": "1", "COLUMNS": "200"})


def test_ingest_json_summary_on_stdout(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), b"{broken\n", chat(2)])
    result = run("ingest", str(path), "--store", str(tmp_path / "s"), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["totals"] == {"records": 3, "rejected": 1, "transcripts": 2, "added": 2, "duplicate": 0}
    assert doc["models"] == {"m": {"added": 2, "duplicate": 0}}
    assert "2 added, 0 duplicate, 1 rejected of 3 records" in result.stderr


def test_stdout_is_empty_without_json(tmp_path: Path) -> None:
    result = run("ingest", str(write_jsonl(tmp_path / "a.jsonl", [chat(1)])), "--store", str(tmp_path / "s"))
    assert result.exit_code == 0
    assert result.stdout == ""


def test_strict_exits_3_when_anything_was_rejected(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), b"{broken\n"])
    result = run("ingest", str(path), "--store", str(tmp_path / "s"), "--strict")
    assert result.exit_code == 3
    assert "--strict: 1 record(s) rejected" in result.stderr


def test_unreadable_input_exits_1_with_a_one_line_reason(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [chat(1)])
    result = run("ingest", str(good), str(tmp_path / "missing.jsonl"), "--store", str(tmp_path / "s"))
    assert result.exit_code == 1
    assert f"cotlens: error: {tmp_path / 'missing.jsonl'}: no such file" in result.stderr
    assert "Traceback" not in result.output
    listing = run("models", "--store", str(tmp_path / "s"), "--format", "json")
    assert json.loads(listing.stdout)["rows"][0]["transcripts"] == 1


def test_unknown_input_format_is_a_usage_error(tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path), "--from", "nope", "--store", str(tmp_path / "s"))
    assert result.exit_code == 2
    assert "known: auto, inspect" in result.stderr


def test_bad_mapping_is_a_usage_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1)])
    result = run("ingest", str(path), "--map", "reasoning=a[*]][", "--store", str(tmp_path / "s"))
    assert result.exit_code == 2
    assert "malformed path" in result.stderr


def test_stdin_input(tmp_path: Path) -> None:
    data = (FORMATS / "think-tags.jsonl").read_text()
    result = runner.invoke(app, ["ingest", "-", "--store", str(tmp_path / "s"), "--json"], input=data)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["added"] == 5


def test_map_options_on_the_command_line(tmp_path: Path) -> None:
    result = run(
        "ingest",
        str(FORMATS / "research-dump.json"),
        "--store",
        str(tmp_path / "s"),
        "--json",
        "--map",
        "records=results",
        "--map",
        "model_name=probe-model",
        "--map",
        "prompt=question",
        "--map",
        "reasoning=thinking[*]",
        "--map",
        "answer=output[*]",
        "--map",
        "reasoning_tokens=usage[*].reasoning_tokens",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"] == {"probe-model": {"added": 6, "duplicate": 0}}


def test_models_formats(tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    run("ingest", str(FORMATS / "openai-chat.jsonl"), str(FORMATS / "anthropic.jsonl"), "--store", store)
    doc = json.loads(run("models", "--store", store, "--format", "json").stdout)
    assert doc["schema_version"] == 2 and doc["command"] == "models"
    rows = {r["model"]: r for r in doc["rows"]}
    assert rows["deepseek-reasoner"]["transcripts"] == 2
    assert rows["o4-mini-2025-04-16"]["kind_hidden"] == 1
    csv_out = run("models", "--store", store, "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("model,transcripts,kind_raw")
    md = run("models", "--store", store, "--format", "md").stdout.splitlines()
    assert md[0].startswith("| model | transcripts |") and md[1].startswith("|---|---:|")
    table = run("models", "--store", store).stdout
    assert "deepseek-reasoner" in table


def test_models_without_a_store_exits_1(tmp_path: Path) -> None:
    result = run("models", "--store", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert result.stderr.startswith("cotlens: error: no cotlens store at")


def test_hostile_model_names_are_inert_in_every_format(tmp_path: Path) -> None:
    hostile = "evil\x1b[31m[bold red]red[/]\r|<script>\u202e"
    store = str(tmp_path / "s")
    run("ingest", str(write_jsonl(tmp_path / "a.jsonl", [chat(1, model=hostile)])), "--store", store)
    for fmt in ("table", "csv", "md"):
        text = run("models", "--store", store, "--format", fmt).stdout
        assert "\x1b" not in text and "\r" not in text and "\u202e" not in text, fmt
    table = run("models", "--store", store).stdout
    # Markup printed as itself (the cell may wrap at the space), control characters made visible.
    assert "evil␛[31m[bold" in table and "red]red[/]␍|<script><U+202E>" in table
    md = run("models", "--store", store, "--format", "md").stdout
    assert "<script>" not in md and "\\|" in md
    assert (
        json.loads(run("models", "--store", store, "--format", "json").stdout)["rows"][0]["model"] == hostile
    )


def test_console_script_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "cotlens", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("cotlens ")


def test_store_from_the_environment(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1)])
    env = {"NO_COLOR": "1", "COTLENS_STORE": str(tmp_path / "env-store")}
    assert runner.invoke(app, ["ingest", str(path)], env=env).exit_code == 0
    listing = runner.invoke(app, ["models", "--format", "json"], env=env)
    assert json.loads(listing.stdout)["rows"][0]["transcripts"] == 1


def test_models_json_row_keys_are_frozen(tmp_path: Path) -> None:
    store = str(tmp_path / "s")
    run("ingest", str(write_jsonl(tmp_path / "a.jsonl", [chat(1)])), "--store", store)
    doc = json.loads(run("models", "--store", store, "--format", "json").stdout)
    assert sorted(doc) == DOCUMENT_KEYS
    assert list(doc["rows"][0]) == sorted(doc["rows"][0])  # sorted keys
    assert sorted(doc["rows"][0]) == sorted(
        [
            "model",
            "transcripts",
            "kind_raw",
            "kind_summary",
            "kind_redacted",
            "kind_encrypted",
            "kind_hidden",
            "kind_none",
            "truncated",
            "reasoning_chars",
            "reasoning_tokens_reported",
            "with_reported_tokens",
            "output_tokens_reported",
            "datasets",
        ]
    )


@pytest.mark.parametrize("command", ["rates", "langmix", "loops"])
def test_grouping_and_kind_mistakes_are_usage_errors(tmp_path: Path, command: str) -> None:
    store = tmp_path / "s"
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(1)]))], Store(store))
    by = runner.invoke(app, [command, "--store", str(store), "--by", "color"])
    assert by.exit_code == 2 and "use model, dataset or tag:KEY" in by.stderr
    kind = runner.invoke(app, [command, "--store", str(store), "--kind", "thoughts"])
    assert kind.exit_code == 2 and "known: raw, summary" in kind.stderr


def test_json_output_escapes_what_a_terminal_would_act_on(tmp_path: Path) -> None:
    hostile = "Fine \u202eevil\u202c and \x9b31m and \x1b[2J done"
    store = tmp_path / "s"
    ingest([str(write_jsonl(tmp_path / "h.jsonl", [chat(1, hostile, model="m\u202ex")]))], Store(store))
    out = runner.invoke(app, ["models", "--store", str(store), "--format", "json"]).stdout
    assert "\u202e" not in out and "\\u202e" in out
    assert json.loads(out)["rows"][0]["model"] == "m\u202ex"  # the same document to a parser
    kept = runner.invoke(app, ["filter", "--store", str(store), "--out", "-", "--where", "not loop"]).stdout
    assert not any(c in kept for c in "\u202e\u202c\x9b\x1b")
    assert json.loads(kept)["reasoning"] == hostile
