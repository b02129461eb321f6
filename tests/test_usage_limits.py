"""Option values that cannot mean anything are usage errors, given at once: a regex term that matches the empty
string, a 100 kB `--where` or `--fail-if`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cotlens.gates
from cotlens.cli import app
from cotlens.conditions import parse_condition
from cotlens.errors import LexiconError, UsageError
from cotlens.gates import parse_gate
from cotlens.ingest import ingest
from cotlens.measure.terms import parse_term
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

runner = CliRunner()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("limits")
    store = Store(root / "store")
    ingest([str(write_jsonl(root / "in.jsonl", [chat(i, reasoning="wait, wait") for i in range(3)]))], store)
    return store


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


@pytest.mark.parametrize("term", ["re:", "re:x*", "re:^", "re:(?m)$", r"re:\b", "re:a|", "re:(wait)?"])
def test_a_regex_that_matches_the_empty_string_is_refused(term: str) -> None:
    with pytest.raises(LexiconError, match="matches the empty string"):
        parse_term(term)


def test_regexes_that_need_a_character_are_kept() -> None:
    for term in (r"re:over\w+", "re:wa+it", "re:x?y"):
        assert parse_term(term).kind == "regex"


@pytest.mark.parametrize(
    "command", [["rates", "--term", "re:"], ["kwic", "re:"], ["compare", "m", "--term", "re:"]]
)
def test_the_empty_regex_is_a_usage_error_in_every_command(small: Store, command: list[str]) -> None:
    result = run(command[0], "--store", str(small.root), *command[1:])
    assert result.exit_code == 2, result.output
    assert "matches the empty string" in result.stderr and "Traceback" not in result.output


def test_the_empty_regex_in_a_lexicon_file_is_a_usage_error(small: Store, tmp_path: Path) -> None:
    lexicon = tmp_path / "mine.txt"
    lexicon.write_text("wait\nre:\n", encoding="utf-8")
    result = run("rates", "--store", str(small.root), "--lexicon", str(lexicon))
    assert result.exit_code == 2, result.output
    assert "matches the empty string" in result.stderr


LONG = [
    "tokens >= " + "1" * 100_000 + "x",  # took a minute: digits split every possible way
    "tokens > 1" + " " * 100_000 + "x",
    "rate(" + "a" * 100_000,
    "(" * 100_000,
]


@pytest.mark.parametrize("where", LONG)
def test_a_100_kb_where_gets_its_usage_error_at_once(small: Store, where: str) -> None:
    started = time.perf_counter()
    result = run("filter", "--store", str(small.root), "--dry-run", "--where", where)
    assert time.perf_counter() - started < 2
    assert result.exit_code == 2, result.output
    assert "characters long" in result.stderr
    assert len(result.stderr) < 300  # the message quotes the start, not 100 kB


def test_a_100_kb_fail_if_gets_its_usage_error_at_once(small: Store) -> None:
    result = run("compare", "--store", str(small.root), "m", "--fail-if", "value(x) > " + "1" * 100_000 + "x")
    assert result.exit_code == 2 and "characters long" in result.stderr


def test_parsing_is_linear_without_the_length_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cotlens.gates, "MAX_EXPRESSION_CHARS", 10**9)
    started = time.perf_counter()
    for text in LONG:
        with pytest.raises(UsageError):
            parse_condition(text, [])
    with pytest.raises(UsageError):
        parse_gate("value(x) > " + "1" * 100_000 + "x", ["x"])
    assert time.perf_counter() - started < 1
    assert parse_condition("tokens >= 1.", []).value == 1.0
    assert parse_condition("tokens < -2.5e-3", []).value == -0.0025
