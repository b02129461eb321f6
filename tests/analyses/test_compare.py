"""`cotlens compare`: values and ratios from the same machinery as rates, fields of one model, gates, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cotlens.analyses.compare import CompareOptions, compare
from cotlens.cli import app
from cotlens.errors import CotlensError, UsageError
from cotlens.gates import parse_gate
from cotlens.groups import IntervalOptions
from cotlens.ingest import ingest
from cotlens.lexicon import parse_lexicon, select_lexicons
from cotlens.measure.tokens import count_tokens
from cotlens.render import compare_cell
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO
from tests.helpers import chat, resampling_workers, write_jsonl

runner = CliRunner()
LEX = parse_lexicon("t", "wait\nhmm", "test")
A_TEXTS = ["Wait, wait. Hmm.", "All good here.", "Let me see."]
B_TEXTS = ["Wait. Wait. Wait.", "Hmm, wait.", "Done."]


@pytest.fixture
def two(tmp_path: Path, store: Store) -> Store:
    records = [chat(i, t, model="a") for i, t in enumerate(A_TEXTS)]
    records += [chat(10 + i, t, "I answered.", model="b") for i, t in enumerate(B_TEXTS)]
    ingest([str(write_jsonl(tmp_path / "two.jsonl", records))], store)
    return store


def record(records: list[dict[str, Any]], metric: str, side: str) -> dict[str, Any]:
    [found] = [r for r in records if r["metric"] == metric and r["side"] == side]
    return found


def tokens(texts: list[str]) -> int:
    return sum(t or 0 for t in count_tokens(list(texts)))


def test_values_and_ratios(two: Store) -> None:
    records = compare(two, ["a", "b"], [LEX], Selection(("a", "b")), CompareOptions(all_terms=True)).records
    a, b = record(records, "t", "a"), record(records, "t", "b")
    assert a["value"] == pytest.approx(1000 * 3 / tokens(A_TEXTS))  # Wait, wait, Hmm
    assert b["value"] == pytest.approx(1000 * 5 / tokens(B_TEXTS))  # Wait x3, Hmm, wait
    assert b["ratio"] == pytest.approx(b["value"] / a["value"])
    assert a["ratio"] is None and a["baseline"] and not b["baseline"]
    assert b["ratio_low"] <= b["ratio"]
    assert b["ratio_high"] is None  # unbounded: with three transcripts a resample can hold no occurrence
    assert 0 <= b["p_value"] <= b["p_adjusted"] <= 1
    assert record(records, "transcripts", "b")["value"] == 3
    assert record(records, "tokens_mean", "a")["value"] == pytest.approx(tokens(A_TEXTS) / 3)
    assert record(records, "t:hmm", "b")["value"] == pytest.approx(1000 / tokens(B_TEXTS))


def test_the_displayed_rows_hold_numbers_and_render_writes_them(two: Store) -> None:
    result = compare(two, ["a", "b"], [LEX], Selection(("a", "b")), CompareOptions(all_terms=True)).result
    row = next(r for r in result.rows if r["label"] == "t (total)")
    side = row["side_1"]
    assert isinstance(side["value"], float) and isinstance(side["ratio"], float)
    assert math.isinf(side["ratio_high"])  # kept as it is for the cell; the record has null
    ratio = next(c for c in result.columns if c.kind == "compare_ratio")
    assert compare_cell(side, ratio.kind).endswith(", inf]")


RATE = {"metric_kind": "rate", "value_low": 0.0, "value_high": 0.17, "ratio_low": 0.5, "ratio_high": 2.0}


@pytest.mark.parametrize(
    ("side", "kind", "cell"),
    [
        ({"metric_kind": "count", "value": 1234.0}, "compare_value", "1,234"),
        ({"metric_kind": "count", "value": 80}, "compare_p", "–"),
        ({**RATE, "value": 0.0}, "compare_value", "0 [0, 0.17]"),
        (
            {**RATE, "metric_kind": "share", "value": 0.15, "value_high": 0.244},
            "compare_value",
            "15% [0, 24.4]",
        ),
        ({**RATE, "value": 0.0, "ratio": math.nan}, "compare_ratio", "0 vs 0"),
        ({**RATE, "value": 5.65, "ratio": math.nan}, "compare_ratio", "from 0"),
        ({**RATE, "value": 1.0, "ratio": 1.13}, "compare_ratio", "1.13 [0.5, 2]"),
        ({**RATE, "ratio": math.nan, "p_adjusted": math.nan, "change": "none"}, "compare_p", ""),
        ({**RATE, "ratio": math.nan, "p_adjusted": 0.0002, "change": "increase"}, "compare_p", "<0.001 ▲"),
        ({**RATE, "ratio": 0.346, "p_adjusted": 0.0104, "change": "decrease"}, "compare_p", "0.01 ▼"),
        ({**RATE, "ratio": 1.5, "p_adjusted": 0.14, "change": "none"}, "compare_p", "0.14"),
    ],
)
def test_compare_cells(side: dict[str, Any], kind: str, cell: str) -> None:
    assert compare_cell(side, kind) == cell


def test_default_shows_lexicon_totals_and_the_terms_that_differ_most(store: Store) -> None:
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    lexicons = select_lexicons([], [])
    comparison = compare(
        store, ["orion-3", "lumen-mix"], lexicons, Selection(("orion-3", "lumen-mix")), CompareOptions()
    )
    shown = list(dict.fromkeys(r["metric"] for r in comparison.result.records or []))
    assert shown[:2] == ["transcripts", "tokens_median"]
    assert shown[2:6] == [lex.name for lex in lexicons]
    assert len([m for m in shown if ":" in m]) == 5
    assert shown[-5:] == ["nonlatin_token_share", "spans_per_1k", "tokens_mean", "loop_share", "gopher_share"]
    records = comparison.records
    assert record(records, "o3-dialect", "lumen-mix")["change"] == "decrease"
    assert record(records, "nonlatin_token_share", "lumen-mix")["change"] == "increase"
    assert record(records, "loop_share", "lumen-mix")["change"] == "increase"
    assert record(records, "nonlatin_token_share", "lumen-mix")["ratio"] is None  # baseline 0: undefined


def test_reasoning_against_answers_of_one_model(store: Store) -> None:
    ingest([str(DEMO / "lumen-mix.jsonl")], store)
    options = CompareOptions(fields=("reasoning", "answer"))
    comparison = compare(
        store, ["lumen-mix"], select_lexicons(["voice"], []), Selection(("lumen-mix",)), options
    )
    sides = {r["side"] for r in comparison.records}
    assert sides == {"reasoning", "answer"}
    first_person = record(comparison.records, "voice:I", "answer")
    assert first_person["change"] == "decrease"  # the reasoning says "I"; the answers rarely do
    assert comparison.result.title == "Compare: lumen-mix: answer against reasoning"


def test_what_cannot_be_compared(two: Store, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="given twice"):
        compare(two, ["a", "a"], [LEX], Selection(("a",)), CompareOptions())
    with pytest.raises(UsageError, match="at least two models"):
        compare(two, ["a"], [LEX], Selection(("a",)), CompareOptions())
    with pytest.raises(CotlensError, match="no model 'zz' in the store; it has: a, b"):
        compare(two, ["a", "zz"], [LEX], Selection(("a", "zz")), CompareOptions())
    hidden = {
        "id": "h",
        "model": "c",
        "object": "chat.completion",
        "choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
        "usage": {"completion_tokens": 500, "completion_tokens_details": {"reasoning_tokens": 400}},
    }
    ingest([str(write_jsonl(tmp_path / "hidden.jsonl", [hidden]))], two)
    with pytest.raises(CotlensError, match="c has no transcripts with reasoning text"):
        compare(two, ["a", "c"], [LEX], Selection(("a", "c")), CompareOptions())


def test_gates_parse_or_say_what_is_valid() -> None:
    metrics = ["t", "t:wait", "nonlatin_token_share"]
    gate = parse_gate("ratio( nonlatin_token_share )>=2.5", metrics)
    assert (gate.function, gate.metric, gate.operator, gate.threshold) == (
        "ratio",
        "nonlatin_token_share",
        ">=",
        2.5,
    )
    assert parse_gate("significant increase(t:wait)", metrics).significant
    with pytest.raises(UsageError, match="unknown metric 'x'; metrics: t, t:wait, nonlatin_token_share"):
        parse_gate("rate(x) > 1", metrics)
    for bad in ("rate(t) >", "median(t) > 1", "increase t", "rate(t) > 1 and ratio(t) > 2"):
        with pytest.raises(UsageError, match="not a gate"):
            parse_gate(bad, metrics)


def test_cli_gates_exit_codes(two: Store) -> None:
    base = ["compare", "a", "b", "--store", str(two.root), "--term", "wait", "--term", "hmm"]
    passing = runner.invoke(app, [*base, "--fail-if", "ratio(terms) > 10"])
    assert passing.exit_code == 0, passing.output
    failing = runner.invoke(
        app, [*base, "--fail-if", "rate(terms:wait) > 1", "--fail-if", "ratio(terms) > 10"]
    )
    assert failing.exit_code == 3
    assert "Compare: b against a" in failing.stdout  # the table is still written
    assert "gate failed: rate(terms:wait) > 1: b " in failing.stderr
    assert "ratio(terms) > 10" not in failing.stderr
    malformed = runner.invoke(app, [*base, "--fail-if", "ratio(nope) > 2"])
    assert malformed.exit_code == 2 and "unknown metric 'nope'" in malformed.stderr
    twice = runner.invoke(app, ["compare", "a", "a", "--store", str(two.root)])
    assert twice.exit_code == 2 and "given twice" in twice.stderr
    fields = runner.invoke(app, ["compare", "a", "--fields", "reasoning,prompt", "--store", str(two.root)])
    assert fields.exit_code == 2


RECORD_KEYS = (
    "baseline",
    "change",
    "label",
    "metric",
    "metric_kind",
    "p_adjusted",
    "p_value",
    "ratio",
    "ratio_high",
    "ratio_low",
    "side",
    "transcripts",
    "value",
    "value_high",
    "value_low",
)


def test_json_document_is_frozen(two: Store) -> None:
    result = runner.invoke(
        app, ["compare", "a", "b", "--store", str(two.root), "--term", "wait", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (
        document["command"] == "compare"
        and "sections" not in document
        and document["definitions"]["baseline"] == "a"
    )
    assert document["columns"] == ["metric"] + [k for k in document["columns"] if k != "metric"]
    assert all(tuple(sorted(r)) == RECORD_KEYS for r in document["rows"])


def test_each_side_gets_its_own_table_against_the_baseline(store: Store) -> None:
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    sides = ["orion-3", "lumen-mix", "plain-7b"]
    result = compare(
        store, sides, select_lexicons(["voice"], []), Selection(tuple(sides)), CompareOptions()
    ).result
    assert [t.title for t in (result, *result.sections)] == [
        "Compare: lumen-mix against orion-3",
        "Compare: plain-7b against orion-3",
    ]
    assert {r["side"] for r in result.records or []} == set(sides)


def test_markdown_fits_a_pull_request_comment(two: Store) -> None:
    out = runner.invoke(
        app, ["compare", "a", "b", "--store", str(two.root), "--term", "wait", "--format", "md"]
    ).stdout
    lines = out.splitlines()
    assert lines[0] == "| metric | a (baseline) | b | ratio \\[95% CI\\] | p (BH) |"
    assert lines[1] == "|---|---:|---:|---:|---:|"
    assert any(line.startswith("| terms (total) | ") for line in lines)


def test_stored_lexicon_counts_equal_counts_from_the_text(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cotlens.analyses.compare

    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    sides = ["orion-3", "plain-7b"]

    def run() -> list[dict[str, Any]]:
        return compare(
            store, sides, select_lexicons([], []), Selection(tuple(sides)), CompareOptions()
        ).records

    stored = run()
    monkeypatch.setattr(cotlens.analyses.compare, "stored_positions", lambda lexicons: None)
    assert run() == stored


def test_workers_draw_the_resamples_and_the_baseline_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terms counted from the text give compare worker processes (threads here): they draw every group's
    resamples, the baseline's for its ratios once for both candidates, and the numbers are those of one process."""
    texts = ["Wait, wait. Hmm.", "All good here.", "Let me see.", "hmm? WAIT", "Done.", "wait"]
    records = [chat(i, texts[i % 6] * (1 + i % 3), model="abc"[i % 3]) for i in range(30)]
    store = Store(tmp_path / "store")
    ingest([str(write_jsonl(tmp_path / "three.jsonl", records))], store)
    lexicons = select_lexicons([], ["wait", "hmm"])
    options = CompareOptions(all_terms=True, intervals=IntervalOptions(resamples=1001))

    def run() -> list[dict[str, Any]]:
        return compare(store, ["a", "b", "c"], lexicons, Selection(), options).records

    alone = run()
    with resampling_workers(monkeypatch) as tasks:
        shared = run()
    assert json.dumps(shared, sort_keys=True) == json.dumps(alone, sort_keys=True)
    # Two blocks each of: the three sides' own resamples, the baseline on its ratio side once, each candidate on its
    # own ratio side; each a bundle of the side's two metric sets (per token, per transcript), drawn once.
    assert len(tasks) == 2 * (3 + 1 + 2) and len(set(tasks)) == 3 + 1 + 2
    assert sorted(side for _, side in set(tasks)) == [(), (), (), (0,), (1,), (1,)]
    assert all(len(bundle) == 2 for bundle, _ in tasks)
