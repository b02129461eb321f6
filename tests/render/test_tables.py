"""Tables never lose a value: every analysis of the demo store, at every width, shows each displayed value whole
(text folded over lines, numbers never cut); intervals are rounded with their estimate's precision."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cotlens.analyses.compare import CompareOptions, compare
from cotlens.analyses.filter import FilterOptions, run_filter
from cotlens.analyses.inventory import summarize_models
from cotlens.analyses.keywords import KeywordOptions, compute_keywords
from cotlens.analyses.kwic import KwicOptions, compute_kwic
from cotlens.analyses.langmix import LangmixOptions, compute_langmix
from cotlens.analyses.loops import LoopOptions, compute_loops
from cotlens.analyses.rates import RateOptions, compute_rates
from cotlens.cli import app
from cotlens.conditions import parse_condition
from cotlens.ingest import IngestOptions, ingest
from cotlens.lexicon import select_lexicons
from cotlens.measure.terms import parse_term
from cotlens.render import OutputFormat, cell_text, interval_text, render
from cotlens.result import Result
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO

LONG = "DeepSeek-R1-Distill-Qwen-32B-preview-2026-01-long-name"
WIDTHS = (60, 80, 100, 120)
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("tables") / "store")
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    # The same transcripts under a model name too long for any column.
    ingest([str(DEMO / "lumen-mix.jsonl")], store, IngestOptions(model=LONG))
    return store


ALL = Selection(kinds=("raw", "summary"))
ANALYSES: dict[str, Callable[[Store], Result]] = {
    "models": summarize_models,
    "rates": lambda s: compute_rates(s, select_lexicons(["o3-dialect"], []), ALL, RateOptions()),
    "langmix": lambda s: compute_langmix(s, ALL, LangmixOptions(scripts=True, examples=2)),
    "loops": lambda s: compute_loops(s, ALL, LoopOptions()),
    "compare": lambda s: (
        compare(
            s,
            [LONG, "orion-3", "plain-7b"],
            select_lexicons([], []),
            Selection((LONG, "orion-3", "plain-7b")),
            CompareOptions(),
        ).result
    ),
    "keywords": lambda s: compute_keywords(s, "orion-3", Selection(("orion-3",)), KeywordOptions(top=8)),
    "keywords-vs": lambda s: compute_keywords(
        s, LONG, Selection((LONG, "orion-3")), KeywordOptions(vs="orion-3", top=5)
    ),
    "kwic": lambda s: compute_kwic(s, parse_term("wait"), ALL, KwicOptions(limit=6)),
    "filter": lambda s: run_filter(s, ALL, [parse_condition("not loop", [])], [], FilterOptions()),
}


@pytest.fixture(scope="module")
def results(demo: Store) -> dict[str, Result]:
    return {name: make(demo) for name, make in ANALYSES.items()}


def table_lines(result: Result, width: int) -> list[str]:
    out = io.StringIO()
    render(result, OutputFormat.table, Console(file=out, width=width, color_system=None))
    return out.getvalue().splitlines()


def shown_whole(lines: list[str], value: str) -> bool:
    """Whether `value` is in the table: on one line, or folded over consecutive lines at one column position
    (a fold drops the spaces where it breaks)."""
    if not value.strip():
        return True
    for i, line in enumerate(lines):
        for x in (m.start() for m in re.finditer(re.escape(value[0]), line)):
            rest, row = value, i
            while rest and row < len(lines):
                # A fold may break before a space and keep it at the start of the next line.
                segment = lines[row][x:] if row == i else lines[row][x:].lstrip(" ")
                n = next((k for k in range(len(rest), 0, -1) if segment.startswith(rest[:k])), 0)
                if not n:
                    break
                rest, row = rest[n:].lstrip(" "), row + 1
            if not rest:
                return True
    return False


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(ANALYSES))
def test_every_value_whole_at_every_width(results: dict[str, Result], name: str, width: int) -> None:
    result = results[name]
    lines = table_lines(result, width)
    assert all(len(line.rstrip()) <= width for line in lines), name
    for table in (result, *result.sections):
        assert table.rows, f"{name}: an empty table proves nothing"
        for row in table.rows:
            for column in table.columns:
                text = cell_text(row, column)
                assert shown_whole(lines, text), f"{name} at {width}: {column.key}={text!r} not whole"
                if column.kind != "text":  # a number is never folded
                    assert any(text in line for line in lines), f"{name} at {width}: {text!r} folded"


def test_json_numbers_are_the_table_numbers(results: dict[str, Result]) -> None:
    """The JSON rows hold the numbers the table shows (the table is not a separate computation)."""
    result = results["rates"]
    document = json.loads(render_json(result))
    lines = table_lines(result, 60)
    for row in document["rows"]:
        shown = interval_text(row["rate_per_1k"], row["rate_per_1k_low"], row["rate_per_1k_high"])
        assert any(shown in line for line in lines)
        assert shown_whole(lines, row["term"]) and shown_whole(lines, row["group"])


def render_json(result: Result) -> str:
    out = io.StringIO()
    render(result, OutputFormat.json, Console(file=out))
    return out.getvalue()


def test_long_model_name_folds_and_loses_nothing(results: dict[str, Result]) -> None:
    lines = table_lines(results["models"], 60)
    assert not any(LONG in line for line in lines)  # it had to fold...
    assert shown_whole(lines, LONG)  # ...whole


@pytest.mark.parametrize(
    ("value", "low", "high", "share", "text"),
    [
        (1.28, 1.25, 1.61, False, "1.28 [1.25, 1.61]"),  # two significant digits would print 1.3 for 1.25
        (11.1, 9.84, 12.4, False, "11.1 [9.8, 12.4]"),
        (274.4, 262.2, 285.9, False, "274 [262, 286]"),
        (2604.0, 2511.0, 2710.0, False, "2,604 [2,511, 2,710]"),
        (0.0, 0.0, 0.17, False, "0 [0, 0.17]"),
        (0.0295, 0.0109, 0.0544, True, "2.95% [1.09, 5.44]"),
        (0.000782, 0.000136, 0.0017, True, "0.0782% [0.0136, 0.17]"),
        (1.0, 0.98, 1.02, False, "1 [0.98, 1.02]"),
        (2.0, 1.996, 2.004, False, "2 [2, 2]"),
    ],
)
def test_interval_rounding_follows_the_estimate(
    value: float, low: float, high: float, share: bool, text: str
) -> None:
    assert interval_text(value, low, high, share) == text


def test_cli_in_a_pipe_and_with_columns(demo: Store, tmp_path: Path) -> None:
    for env in ({"COLUMNS": "60"}, {"COLUMNS": "100"}):
        got = runner.invoke(app, ["models", "--store", str(demo.root)], env=env)
        assert got.exit_code == 0, got.output
        width = int(env["COLUMNS"])
        assert all(len(line) <= width for line in got.output.splitlines())
        assert shown_whole(got.output.splitlines(), LONG) and "89,619" in got.output


@pytest.mark.parametrize("width", WIDTHS)
def test_the_ingest_summary_keeps_long_paths_and_counts_whole(tmp_path: Path, width: int) -> None:
    folder = tmp_path / ("a-folder-name-long-enough-to-need-folding-" * 2)
    folder.mkdir()
    path = folder / "lumen-mix-transcripts-exported-2026-12-06.jsonl"
    path.write_bytes((DEMO / "lumen-mix.jsonl").read_bytes())
    got = runner.invoke(
        app, ["ingest", str(path), "--store", str(tmp_path / "store")], env={"COLUMNS": str(width)}
    )
    assert got.exit_code == 0, got.stderr
    lines = got.stderr.splitlines()
    assert shown_whole(lines, str(path)), f"the input path is cut at {width} columns"
    assert shown_whole(lines, "lumen-mix") and any(" 80 " in line for line in lines)
