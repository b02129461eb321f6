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


# Each command with what it needs to get as far as its options, and the formats it writes (the default first).
FORMATS_BY_COMMAND = {
    "ingest": (["ingest", "x.jsonl"], ["table", "json"]),
    "sniff": (["sniff", "x.jsonl"], ["table", "json", "csv", "md"]),
    "models": (["models"], ["table", "json", "csv", "md"]),
    "measure": (["measure"], ["table", "json"]),
    "rates": (["rates"], ["table", "json", "csv", "md"]),
    "langmix": (["langmix"], ["table", "json", "csv", "md"]),
    "loops": (["loops"], ["table", "json", "csv", "md"]),
    "compare": (["compare", "a", "b"], ["table", "json", "csv", "md"]),
    "filter": (["filter", "--dry-run"], ["table", "json", "csv", "md"]),
    "keywords": (["keywords", "a"], ["table", "json", "csv", "md"]),
    "kwic": (["kwic", "wait"], ["table", "json", "csv", "md"]),
    "show": (["show", "0123abcd"], ["text", "json"]),
    "plot": (["plot", "rates"], ["svg", "png", "pdf"]),
    "report": (["report"], ["html"]),
}


def test_every_command_is_listed_with_its_formats() -> None:
    assert sorted(FORMATS_BY_COMMAND) == sorted(c.name or "" for c in app.registered_commands)


@pytest.mark.parametrize("name", list(FORMATS_BY_COMMAND))
def test_a_format_a_command_does_not_write_is_a_usage_error_listing_its_formats(
    tmp_path: Path, name: str
) -> None:
    args, formats = FORMATS_BY_COMMAND[name]
    store = [] if name == "sniff" else ["--store", str(tmp_path / "none")]
    result = run(*args, *store, "--format", "xml")
    listed = ", ".join(f"'{f}'" for f in formats)
    assert result.exit_code == 2
    assert f"'xml' is not one of {listed}, the formats cotlens {name} writes" in result.stderr


def test_formats_that_make_no_sense_for_a_command(tmp_path: Path) -> None:
    store = str(tmp_path / "none")
    show = run("show", "0123abcd", "--store", store, "--format", "table")
    assert "'table' is not one of 'text', 'json', the formats cotlens show writes" in show.stderr
    report = run("report", "--store", store, "--format", "json")
    assert "'json' is not one of 'html', the formats cotlens report writes" in report.stderr
    ingest_md = run("ingest", "x.jsonl", "--store", store, "--format", "md")
    assert ingest_md.exit_code == report.exit_code == show.exit_code == 2
    both = run("filter", "--dry-run", "--store", store, "--json", "--format", "csv")
    assert both.exit_code == 2 and "--json is --format json: it cannot go with --format csv" in both.stderr
    shared = run("filter", "--out", "-", "--store", store, "--format", "md")
    assert "--format md prints the summary on stdout: it cannot share it with --out -" in shared.stderr
    figure = run("plot", "rates", "--store", store, "--format", "png", "--out", str(tmp_path / "f.svg"))
    assert figure.exit_code == 2 and "--format png writes a .png file, not " in figure.stderr


def test_json_is_format_json_where_it_was_an_option(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), b"{broken\n", chat(2, "Wait, wait.")])
    old = run("ingest", str(path), "--store", str(tmp_path / "s1"), "--json")
    new = run("ingest", str(path), "--store", str(tmp_path / "s2"), "--format", "json")
    volatile = ("run_id", "store", "store_fingerprint", "rejects_file")
    docs = [{k: v for k, v in json.loads(r.stdout).items() if k not in volatile} for r in (old, new)]
    assert docs[0] == docs[1] and docs[0]["totals"]["added"] == 2
    assert old.stderr.replace("s1", "s2").replace(*_run_ids(old, new)) == new.stderr
    where = ["filter", "--dry-run", "--where", "not loop", "--store", str(tmp_path / "s1")]
    assert run(*where, "--json").stdout == run(*where, "--format", "json").stdout


def _run_ids(*results) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    first, second = (json.loads(r.stdout)["run_id"] for r in results)
    return first, second


def test_filter_summary_in_each_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2, "Wait, wait, wait. Hmm.", model="m,=x")])
    assert run("ingest", str(path), "--store", str(tmp_path / "s")).exit_code == 0
    where = ["filter", "--dry-run", "--where", "rate(terms:wait) < 1", "--term", "wait"]
    where += ["--store", str(tmp_path / "s")]
    table = run(*where)
    assert table.stdout == "" and "m,=x" in table.stderr
    csv_out = run(*where, "--format", "csv")
    assert csv_out.stdout.splitlines() == [
        "model,transcripts,kept,dropped,dropped_by_1",
        "m,1,1,0,0",
        '"m,=x",1,0,1,1',
    ]
    md = run(*where, "--format", "md").stdout.splitlines()
    assert md[2:4] == ["| m | 1 | 1 | 0 | 0 |", "| m,=x | 1 | 0 | 1 | 1 |"]


def test_measure_reports_in_json_too(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2), chat(3, "Hmm.")])
    assert run("ingest", str(path), "--store", str(tmp_path / "s"), "--defer-measure").exit_code == 0
    first = run("measure", "--store", str(tmp_path / "s"), "--format", "json")
    doc = json.loads(first.stdout)
    assert (doc["command"], doc["rows"]) == (
        "measure",
        [{"parts": 1, "parts_measured": 1, "rows_measured": 3}],
    )
    assert first.stderr == "3 transcripts measured in 1 of 1 part files\n"
    again = run("measure", "--store", str(tmp_path / "s"))
    assert again.stdout == "" and again.stderr == "0 transcripts measured in 0 of 1 part files\n"


def test_plot_format_names_the_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1, "Wait."), chat(2, "Hmm, wait.")])
    assert run("ingest", str(path), "--store", str(tmp_path / "s")).exit_code == 0
    monkeypatch.chdir(tmp_path)
    drawn = run("plot", "rates", "--term", "wait", "--store", "s", "--format", "png", "--resamples", "100")
    assert drawn.exit_code == 0, drawn.output
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn.stderr == "cotlens: wrote figure.png\n"
