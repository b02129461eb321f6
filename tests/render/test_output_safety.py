"""What cotlens writes for people and their tools stays inert: CSV cells never run as spreadsheet formulas, names
and paths shown on a terminal never act as rich markup or escape sequences, JSON carries no raw line separators."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.escape import csv_cell, json_bytes
from cotlens.ingest import IngestOptions, ingest
from cotlens.render import csv_value
from cotlens.render.progress import RichProgress
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

runner = CliRunner()
FORMULA_MODELS = ['=HYPERLINK("http://evil.example","x")', "+1+cmd", "-2+3", "@SUM(A1)", "＝1+1"]
HOSTILE_DATASET = "=cmd|' /C calc'!A0"


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


@pytest.fixture(scope="module")
def formulas(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("formulas")
    records = [
        chat(i, reasoning=f"-wait @wait\twait =wait {i}", answer="=1+1", model=model)
        for i, model in enumerate(FORMULA_MODELS)
    ]
    store = Store(root / "store")
    ingest([str(write_jsonl(root / "f.jsonl", records))], store, IngestOptions(dataset=HOSTILE_DATASET))
    return store


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            first = cell.lstrip(" \u00a0")[:1]
            assert is_number(cell) or first not in ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"), (
                cell
            )


@pytest.mark.parametrize(
    "command",
    [
        ["models"],
        ["rates", "--term", "-wait", "--term", "@wait"],
        ["kwic", "wait"],
        ["langmix"],
        ["loops"],
        ["compare", "--", "@SUM(A1)", "-2+3"],
    ],
)
def test_case_10_csv_cells_never_start_a_formula(formulas: Store, command: list[str]) -> None:
    result = run(command[0], "--store", str(formulas.root), "--format", "csv", *command[1:])
    assert result.exit_code == 0, result.output
    rows = cells(result.stdout)
    assert len(rows) > 1
    assert_no_formula(rows)


def test_case_10_names_are_prefixed_with_an_apostrophe_and_numbers_stay_numbers(formulas: Store) -> None:
    rows = cells(run("models", "--store", str(formulas.root), "--format", "csv").stdout)
    header, body = rows[0], rows[1:]
    models = {row[header.index("model")] for row in body}
    assert models == {"'" + m for m in FORMULA_MODELS}
    assert {row[header.index("datasets")] for row in body} == {"'" + HOSTILE_DATASET}
    assert {row[header.index("transcripts")] for row in body} == {"1"}
    kwic = cells(run("kwic", "wait", "--store", str(formulas.root), "--format", "csv").stdout)
    assert {row[kwic[0].index("left")] for row in kwic[1:] if row[kwic[0].index("start")] == "1"} == {"'-"}


def test_case_10_the_rule_itself() -> None:
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("\t=1+1") == "\u2409=1+1"  # the tab is made visible, so nothing starts a formula
    assert csv_cell("\r@x") == "\u240d@x"
    assert csv_cell("a=b") == "a=b"
    assert csv_cell(" =1+1") == "' =1+1"
    for number in ("-2", "+1.5e-3", "-.5", "-1,234.5", "-5%"):  # plain numbers stay numbers
        assert csv_cell(number) == number
    for formula in ("-", "-.", "-1,23", "-1+1", "-5%+1", "+1e", "-1,234,5"):
        assert csv_cell(formula) == "'" + formula
    assert csv_cell("-2+3") == "'-2+3"
    assert csv_value(-2.5, False) == "-2.5" and csv_value(-3, False) == "-3"
    assert csv_value(["ok", "=bad"], True) == "ok;'=bad"


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system="truecolor", width=200), out


def test_case_12_a_file_name_is_never_rich_markup_in_the_progress_bar() -> None:
    term, out = console()
    progress = RichProgress(term)
    progress.start("/data/[link=https:evil.example]click.jsonl", 100)
    progress.advance(50)
    progress.bar.refresh()
    progress.finish()
    shown = out.getvalue()
    assert "\x1b]8;" not in shown  # no hyperlink escape
    assert "[link=https:evil.example]click.jsonl" in shown


def test_case_12_escape_sequences_in_a_file_name_are_made_visible() -> None:
    term, out = console()
    progress = RichProgress(term)
    progress.start("/data/\x1b]8;;http://evil.example\x07x.jsonl", 100)
    progress.bar.refresh()
    progress.finish()
    assert "\x1b]8;;http" not in out.getvalue() and "\x07" not in out.getvalue()


def test_case_12_the_ingest_summary_shows_names_and_the_store_path_inert(tmp_path: Path) -> None:
    store = tmp_path / "[bold]s\x1b[31m"
    path = write_jsonl(tmp_path / "[link=https:evil.example]click.jsonl", [chat(1), b"{broken\n"])
    result = run("ingest", str(path), "--store", str(store))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stderr
    assert "[link=https:evil.example]click.jsonl" in result.stderr
    assert "[bold]s\u241b[31m" in result.stderr  # the rejects path, escaped


def test_json_output_escapes_line_and_paragraph_separators() -> None:
    text = json_bytes({"a": "one\u2028two\u2029three"}).decode()
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "one\u2028two\u2029three"}


def test_json_output_of_a_command_has_no_raw_line_separator(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1, reasoning="wait\u2028wait\u2029", model="m\u2028x")])
    store = str(tmp_path / "s")
    assert run("ingest", str(path), "--store", store).exit_code == 0
    result = run("kwic", "wait", "--store", store, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "\u2028" not in result.stdout and "\u2029" not in result.stdout
    assert json.loads(result.stdout)["rows"][0]["model"] == "m\u2028x"
