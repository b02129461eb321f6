"""`cotlens loops`: Gopher statistics per group, threshold and loop shares, non-Latin tokens inside loops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cotlens.analyses.loops import ANY_THRESHOLD, BINS, LOOP, LoopOptions, _Group, compute_loops
from cotlens.cli import app
from cotlens.ingest import ingest
from cotlens.measure.repetition import GOPHER_COLUMNS
from cotlens.result import Result
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO
from tests.helpers import chat, write_jsonl

runner = CliRunner()

# Measured by measure/repetition.py and measure/scripts.py (tested there); the numbers in the comments are theirs.
LOOPING = (
    "Let me check the sum again." + " Wait, 这个循环 seems pointless." * 4
)  # loop; 8 of 39 tokens non-Latin
REPEATED_LINE = (
    "First line here\nFirst line here\nSecond one follows\nThird is different"  # dup_line_frac 0.25
)
PLAIN = "The answer uses 首都 once. Everything else is plain English prose about Canberra."  # 2 of 16 tokens


@pytest.fixture
def three(tmp_path: Path, store: Store) -> Store:
    records = [chat(1, LOOPING), chat(2, REPEATED_LINE), chat(3, PLAIN)]
    ingest([str(write_jsonl(tmp_path / "three.jsonl", records))], store)
    return store


def statistic(result: Result, name: str, group: str = "m") -> dict[str, object]:
    [row] = [r for r in result.rows if r["group"] == group and r["statistic"] == name]
    return row


def test_shares_means_and_quantiles(three: Store) -> None:
    result = compute_loops(three, Selection(), LoopOptions())
    assert [r["statistic"] for r in result.rows] == [LOOP, ANY_THRESHOLD, *GOPHER_COLUMNS]
    loop = statistic(result, LOOP)
    assert (loop["transcripts"], loop["transcripts_over"], loop["share_over"]) == (3, 1, pytest.approx(1 / 3))
    assert loop["mean"] is None and loop["threshold"] is None
    # Over a threshold: the loop (top 2-gram 0.305 > 0.2) and the repeated line (top 2-gram 0.310).
    assert statistic(result, ANY_THRESHOLD)["transcripts_over"] == 2
    lines = statistic(result, "dup_line_frac")
    assert (lines["threshold"], lines["mean"], lines["median"], lines["p90"]) == (0.3, 0.25 / 3, 0.0, 0.25)
    assert lines["transcripts_over"] == 0  # 0.25 is not over 0.3
    # Values 0, 0.30508..., 0.31034...: quantiles are the upper edges of their 0.0001-wide bins.
    bigrams = statistic(result, "top_2gram_char_frac")
    assert (bigrams["median"], bigrams["p90"]) == (0.3051, 0.3104)


def test_non_latin_tokens_inside_and_outside_loops(three: Store) -> None:
    [section] = compute_loops(three, Selection(), LoopOptions()).sections
    [row] = section.rows
    assert (row["looping_transcripts"], row["not_looping_transcripts"]) == (1, 2)
    assert row["looping_share"] == pytest.approx(8 / 39)
    assert row["not_looping_share"] == pytest.approx(2 / 31)
    assert row["ratio"] == pytest.approx((8 / 39) / (2 / 31))
    assert row["looping_share_low"] <= row["looping_share"] <= row["looping_share_high"]


def test_groups_without_loops_have_no_ratio(tmp_path: Path, store: Store) -> None:
    ingest([str(write_jsonl(tmp_path / "p.jsonl", [chat(1, PLAIN), chat(2, REPEATED_LINE)]))], store)
    [row] = compute_loops(store, Selection(), LoopOptions()).sections[0].rows
    assert row["looping_transcripts"] == 0
    assert row["looping_share"] is None and row["ratio"] is None and row["p_adjusted"] is None


def test_histogram_quantiles_bound_the_exact_ones_from_above() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([np.zeros(300), rng.beta(0.5, 3, size=(700, len(GOPHER_COLUMNS)))[:, 0]])
    gopher = np.repeat(values[:, None], len(GOPHER_COLUMNS), axis=1)
    group = _Group()
    group.add(gopher, np.zeros(len(values), dtype=bool), np.zeros((len(values), 2), dtype=np.int64))
    for q in (0.1, 0.5, 0.9, 0.99, 1.0):
        exact = np.quantile(values, q, method="inverted_cdf")
        found = group.quantile(q)[0]
        assert exact <= found <= exact + 1 / BINS, q


def test_demo_loops_belong_to_the_mixing_model(store: Store) -> None:
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    result = compute_loops(store, Selection(), LoopOptions())
    loops = {r["group"]: r["transcripts_over"] for r in result.rows if r["statistic"] == LOOP}
    assert loops == {"lumen-mix": 12, "orion-3": 0, "plain-7b": 0}  # fixtures/demo/manifest.json


ROW_KEYS = (
    "few_transcripts",
    "group",
    "mean",
    "median",
    "note",
    "p90",
    "reasoning_kind",
    "share_over",
    "share_over_high",
    "share_over_low",
    "statistic",
    "threshold",
    "transcripts",
    "transcripts_over",
)
SECTION_KEYS = (
    "group",
    "interval_method",
    "looping_share",
    "looping_share_high",
    "looping_share_low",
    "looping_transcripts",
    "not_looping_share",
    "not_looping_share_high",
    "not_looping_share_low",
    "not_looping_transcripts",
    "p_adjusted",
    "p_value",
    "ratio",
    "ratio_high",
    "ratio_low",
    "reasoning_kind",
)


def test_json_document_is_frozen(three: Store) -> None:
    result = runner.invoke(app, ["loops", "--store", str(three.root), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert all(tuple(sorted(r)) == ROW_KEYS for r in document["rows"])
    [section] = document["sections"]
    assert section["table"] == "loops-language-mixing"
    assert all(tuple(sorted(r)) == SECTION_KEYS for r in section["rows"])
    # Which convention each statistic follows, and how datatrove's differs: one entry per statistic.
    conventions = document["definitions"]["conventions"]
    assert sorted(conventions) == sorted(GOPHER_COLUMNS)
    assert conventions["dup_line_frac"]["follows"].startswith("datatrove's")
    assert conventions["dup_7gram_char_frac"]["follows"].startswith("RedPajama's")
    assert "len(text)" in conventions["top_2gram_char_frac"]["differs_from_datatrove"]
    assert "differ from datatrove" in document["definitions"]["statistics"]


def test_markdown_has_both_tables(three: Store) -> None:
    out = runner.invoke(app, ["loops", "--store", str(three.root), "--format", "md"]).stdout
    assert "| group | statistic |" in out and "**Non-Latin tokens inside and outside loops**" in out
