"""`cotlens langmix`: group shares read from the stored measurements, left-out scripts, examples, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotlens.analyses.langmix import ALL_SCRIPTS, LangmixOptions, compute_langmix
from cotlens.cli import app
from cotlens.errors import CotlensError
from cotlens.ingest import ingest
from cotlens.measure.tokens import count_tokens
from cotlens.result import Result
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO
from tests.helpers import DOCUMENT_KEYS, chat, resampling_workers, write_jsonl

runner = CliRunner()

HAN = "I think it's堪培拉, right? Canberra."  # 3 Han letters, one span
CYRILLIC = "Perhaps I misпарсил the input."  # 6 Cyrillic letters inside one word
GREEK = "Let θ = π/2 and Δx be small"  # 3 Greek letters, two spans: "θ = π" and "Δ"
CHINESE = "这个问题很难，我们需要仔细思考。"  # entirely Chinese: dominant Han, no spans
PLAIN = "Okay, the answer is 42."


@pytest.fixture
def mixed(tmp_path: Path, store: Store) -> Store:
    records = [
        chat(1, HAN, model="a"),
        chat(2, CYRILLIC, model="a"),
        chat(3, PLAIN, model="a"),
        chat(4, GREEK, model="b"),
        chat(5, CHINESE, model="b"),
        chat(6, PLAIN, model="b"),
    ]
    ingest([str(write_jsonl(tmp_path / "mixed.jsonl", records))], store)
    return store


def tokens(*texts: str) -> int:
    return sum(t or 0 for t in count_tokens(list(texts)))


def row(result: Result, group: str, script: str = ALL_SCRIPTS) -> dict[str, object]:
    [found] = [r for r in result.rows if r["group"] == group and r["script"] == script]
    return found


def test_group_shares_are_sums_over_transcripts(mixed: Store) -> None:
    result = compute_langmix(mixed, Selection(), LangmixOptions(scripts=True))
    a = row(result, "a")
    # Non-Latin tokens, as in tests/measure/test_scripts.py: 堪培拉 is 3 tokens, "misпарсил" has 2 holding Cyrillic.
    assert (a["transcripts"], a["tokens"], a["nonlatin_tokens"]) == (3, tokens(HAN, CYRILLIC, PLAIN), 3 + 2)
    assert a["nonlatin_token_share"] == pytest.approx(5 / tokens(HAN, CYRILLIC, PLAIN))
    assert (a["letters"], a["nonlatin_letters"]) == (25 + 25 + 15, 3 + 6)
    assert a["with_mixing"] == pytest.approx(2 / 3)
    assert a["codeswitch_spans"] == 2 and a["nonlatin_dominant"] == 0
    assert a["spans_per_1k"] == pytest.approx(1000 * 2 / a["tokens"])  # type: ignore[operator]
    assert [r["script"] for r in result.rows if r["group"] == "a"] == [ALL_SCRIPTS, "Han", "Cyrillic"]
    assert row(result, "a", "Cyrillic")["nonlatin_letters"] == 6
    b = row(result, "b")
    assert b["nonlatin_dominant"] == 1  # the Chinese transcript: its letters count, it has no spans
    assert b["codeswitch_spans"] == 2  # both in the Greek one
    assert row(result, "b", "Han")["nonlatin_letters"] == 14


def test_every_interval_contains_its_estimate(mixed: Store) -> None:
    for r in compute_langmix(mixed, Selection(), LangmixOptions(scripts=True)).rows:
        for key in ("nonlatin_token_share", "nonlatin_letter_share", "with_mixing"):
            assert r[f"{key}_low"] <= r[key] <= r[f"{key}_high"], (r["group"], r["script"], key)


def test_a_left_out_script_is_measured_again_without_it(mixed: Store) -> None:
    kept = row(compute_langmix(mixed, Selection(), LangmixOptions()), "b")
    left_out = row(compute_langmix(mixed, Selection(), LangmixOptions(ignore=frozenset({"Greek"}))), "b")
    assert kept["nonlatin_letters"] == 3 + 14 and left_out["nonlatin_letters"] == 14
    assert left_out["letters"] == kept["letters"] - 3  # type: ignore[operator]
    assert (kept["codeswitch_spans"], left_out["codeswitch_spans"]) == (2, 0)
    assert left_out["tokens"] == kept["tokens"]  # every token still counts in the denominator


def test_examples_show_spans_in_context(mixed: Store) -> None:
    result = compute_langmix(mixed, Selection(("a",)), LangmixOptions(examples=5))
    [section] = result.sections
    contexts = [e["context"] for e in section.rows]
    assert contexts == ["I think it's«堪培拉», right? Canberra.", "Perhaps I mis«парсил» the input."]
    assert section.rows[0]["source"].endswith("mixed.jsonl:line 1")


def test_examples_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    hostile = "Fine.\x1b[2J\x1b]8;;http://x\x07 Then [bold]这个[/bold] again\r\n"
    store = tmp_path / "s"
    ingest([str(write_jsonl(tmp_path / "h.jsonl", [chat(1, hostile)]))], Store(store))
    out = runner.invoke(app, ["langmix", "--store", str(store), "--examples", "1"]).stdout
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "␛[2J" in out and "[bold]«这个»[/bold]" in out


def test_demo_language_mixing_model_stands_out(store: Store) -> None:
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    result = compute_langmix(store, Selection(), LangmixOptions(examples=3))
    rows = {r["group"]: r for r in result.rows}
    lumen = rows.pop("lumen-mix")
    for other in rows.values():
        assert other["nonlatin_token_share_high"] < lumen["nonlatin_token_share_low"]
    # fixtures/demo/manifest.json: 32 transcripts with code-switching and 3 entirely in Chinese; plain-7b has
    # Greek letters in 4 (math), which --ignore-script Greek leaves out.
    assert (lumen["with_mixing"], lumen["nonlatin_dominant"]) == (35 / 80, 3)
    assert rows["plain-7b"]["with_mixing"] == 4 / 80
    without_greek = compute_langmix(
        store, Selection(("plain-7b",)), LangmixOptions(ignore=frozenset({"Greek"}))
    )
    assert without_greek.rows[0]["with_mixing"] == 0
    assert [e["group"] for e in result.sections[0].rows] == ["lumen-mix"] * 3 + ["plain-7b"] * 3


def test_nothing_to_measure_says_why(mixed: Store) -> None:
    with pytest.raises(CotlensError, match="no transcripts with reasoning text"):
        compute_langmix(mixed, Selection(kinds=("hidden",)), LangmixOptions())
    with pytest.raises(CotlensError, match="no model 'zz' in the store; it has: a, b"):
        compute_langmix(mixed, Selection(("zz",)), LangmixOptions())


def test_cli_usage_errors(mixed: Store) -> None:
    result = runner.invoke(app, ["langmix", "--store", str(mixed.root), "--ignore-script", "Klingon"])
    assert result.exit_code == 2 and "non-Latin scripts: Greek" in result.stderr
    result = runner.invoke(app, ["langmix", "--store", str(mixed.root), "--field", "prompt"])
    assert result.exit_code == 2


# The frozen row of `langmix --format json` (README, "JSON output").
ROW_KEYS = (
    "codeswitch_spans",
    "few_transcripts",
    "group",
    "interval_method",
    "letters",
    "nonlatin_dominant",
    "nonlatin_letter_share",
    "nonlatin_letter_share_high",
    "nonlatin_letter_share_low",
    "nonlatin_letters",
    "nonlatin_token_share",
    "nonlatin_token_share_high",
    "nonlatin_token_share_low",
    "nonlatin_tokens",
    "note",
    "reasoning_kind",
    "script",
    "spans_per_1k",
    "spans_per_1k_high",
    "spans_per_1k_low",
    "tokens",
    "transcripts",
    "with_mixing",
    "with_mixing_high",
    "with_mixing_low",
)
EXAMPLE_KEYS = ("after", "before", "context", "group", "reasoning_kind", "source", "span", "transcript_id")


def test_json_document_is_frozen(mixed: Store) -> None:
    result = runner.invoke(
        app, ["langmix", "--store", str(mixed.root), "--format", "json", "--scripts", "--examples", "1"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert sorted(document) == sorted([*DOCUMENT_KEYS, "sections"])
    assert all(tuple(sorted(r)) == ROW_KEYS for r in document["rows"])
    [examples] = document["sections"]
    assert examples["table"] == "langmix-examples"
    assert all(tuple(sorted(e)) == EXAMPLE_KEYS for e in examples["rows"])


def test_csv_says_what_it_leaves_out(mixed: Store) -> None:
    result = runner.invoke(app, ["langmix", "--store", str(mixed.root), "--format", "csv", "--examples", "1"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("group,transcripts,nonlatin_token_share,")
    assert "CSV holds the main table; --format json also has: code-switch spans in context" in result.stderr


def test_workers_draw_the_resamples(mixed: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A left-out script makes langmix read the text, so it has worker processes (threads here): they draw both
    shares' resamples of every group, and the numbers are those of one process."""
    options = LangmixOptions(ignore=frozenset({"Greek"}))
    alone = compute_langmix(mixed, Selection(), options)
    with resampling_workers(monkeypatch) as drawn:
        shared = compute_langmix(mixed, Selection(), options)
    assert shared.rows == alone.rows
    # Models a and b, two blocks of the default 1999 resamples each, each a bundle of the token and letter shares.
    assert len(drawn) == 2 * 2 and len(set(drawn)) == 2
    assert all(len(bundle) == 2 for bundle, _ in drawn)
