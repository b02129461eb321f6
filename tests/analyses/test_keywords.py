"""`cotlens keywords`: words counted like wordfreq's, ratios against web text with a stated floor, G² and
log-odds against another model, filters that keep one looping transcript from carrying a word."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import wordfreq
from typer.testing import CliRunner

from cotlens.analyses.keywords import (
    WORD,
    KeywordOptions,
    compute_keywords,
    log_likelihood,
    log_odds_z,
    web_frequencies,
)
from cotlens.cli import app
from cotlens.errors import CotlensError, UsageError
from cotlens.ingest import ingest
from cotlens.measure.terms import fold_series
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO
from tests.helpers import chat, write_jsonl

runner = CliRunner()


def words(text: str) -> list[str]:
    series = fold_series(pl.Series([text], dtype=pl.String)).str.extract_all(WORD)
    return list(series[0])


@pytest.mark.parametrize(
    "text",
    [
        "Let's check: we can't say the watchers' view is naïve.",
        "Wait, wait. Hmm — the user asked about Canberra (the capital).",
        "Wait, let’s re-check the over-shadow, don’t we?",
        "The loop: 这个 and 那个, then Überprüfung.",
    ],
)
def test_words_are_wordfreqs_english_tokens(text: str) -> None:
    # The list's keys spell the apostrophe "'" (its lookups fold "’" to it, as our folding does).
    assert words(text) == [t.replace("’", "'") for t in wordfreq.tokenize(text, "en")]


def test_fullwidth_letters_fold_as_in_term_matching() -> None:
    assert words("ＷＡＩＴ here") == ["wait", "here"]  # wordfreq's tokenizer keeps "ｗａｉｔ"


@pytest.fixture
def small(tmp_path: Path, store: Store) -> Store:
    a = [
        "Marinade the plan. Marinade it again, then check.",
        "We marinade the idea and check the result.",
        "The marinade step is done; check twice.",
        "zzqxword zzqxword zzqxword zzqxword zzqxword zzqxword",  # one transcript: never enough on its own
        "A plain sentence about the weather and the plan.",
    ]
    b = ["Let me check the plan and the weather.", "The plan is fine, check it.", "I check the result."] * 2
    records = [chat(i, t, model="a") for i, t in enumerate(a)] + [
        chat(100 + i, t, model="b") for i, t in enumerate(b)
    ]
    ingest([str(write_jsonl(tmp_path / "k.jsonl", records))], store)
    return store


def total_words(texts: list[str]) -> int:
    return sum(len(words(t)) for t in texts)


def test_against_web_text(small: Store) -> None:
    options = KeywordOptions(min_count=3, min_transcripts=3)
    result = compute_keywords(small, "a", Selection(), options)
    rows = {r["word"]: r for r in result.rows}
    marinade = rows["marinade"]
    assert (marinade["count"], marinade["transcripts"]) == (4, 3)
    total = 8 + 8 + 7 + 6 + 9  # words of model a's five reasoning texts
    assert marinade["per_million"] == pytest.approx(1e6 * 4 / total)
    assert marinade["web_per_million"] == pytest.approx(1e6 * web_frequencies()["marinade"])
    assert marinade["x_web"] == pytest.approx(marinade["per_million"] / marinade["web_per_million"])
    assert "zzqxword" not in rows  # six occurrences, but in one transcript
    assert next(iter(rows)) == "marinade"  # the most over-used of those kept


def test_a_word_the_list_lacks_is_a_lower_bound(small: Store) -> None:
    result = compute_keywords(small, "a", Selection(), KeywordOptions(min_count=3, min_transcripts=1))
    [made_up] = [r for r in result.rows if r["word"] == "zzqxword"]
    assert not made_up["in_web_list"] and made_up["x_web_text"].startswith("≥")
    assert made_up["web_per_million"] == pytest.approx(1e6 * min(web_frequencies().values()))


def test_log_likelihood_and_log_odds_by_hand() -> None:
    a, b, na, nb = np.array([10.0, 0.0]), np.array([2.0, 5.0]), 1000.0, 2000.0
    g2 = log_likelihood(a, b, na, nb)
    e1, e2 = na * 12 / 3000, nb * 12 / 3000
    assert g2[0] == pytest.approx(2 * (10 * math.log(10 / e1) + 2 * math.log(2 / e2)))
    assert g2[1] == pytest.approx(2 * (5 * math.log(5 / (nb * 5 / 3000))))  # 0 ln 0 = 0
    z = log_odds_z(a, b, na, nb)
    # Monroe et al. 2008 with alpha_w = pooled count (12), alpha_0 = 3000.
    delta = math.log((10 + 12) / (1000 + 3000 - 10 - 12)) - math.log((2 + 12) / (2000 + 3000 - 2 - 12))
    assert z[0] == pytest.approx(delta / math.sqrt(1 / 22 + 1 / 14))
    assert z[1] < 0 < z[0]


@pytest.fixture
def larger(tmp_path: Path, store: Store) -> Store:
    a = ["Marinade the plan, then marinade it again and check.", "We check the weather plan."] * 10
    b = ["Let me check the plan and the weather.", "The plan is fine, let me check it."] * 10
    records = [chat(i, t, model="a") for i, t in enumerate(a)]
    records += [chat(100 + i, t, model="b") for i, t in enumerate(b)]
    ingest([str(write_jsonl(tmp_path / "k.jsonl", records))], store)
    return store


def test_against_another_model(larger: Store) -> None:
    options = KeywordOptions(vs="b", min_count=3, min_transcripts=3)
    rows = compute_keywords(larger, "a", Selection(), options).rows
    over_a = [r["word"] for r in rows if r["over_used_by"] == "a"]
    over_b = [r["word"] for r in rows if r["over_used_by"] == "b"]
    assert over_a[0] == "marinade" and "me" in over_b
    assert all(r["log2_ratio"] > 0 for r in rows if r["over_used_by"] == "a")
    assert all(r["log2_ratio"] < 0 for r in rows if r["over_used_by"] == "b")
    assert set(over_a).isdisjoint(over_b)


def test_demo_dialect_words_surface_against_web_text(store: Store) -> None:
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    top = [r["word"] for r in compute_keywords(store, "orion-3", Selection(), KeywordOptions(top=10)).rows]
    assert {"marinade", "overshadow", "disclaim"} <= set(top)


def test_mistakes(small: Store) -> None:
    with pytest.raises(UsageError, match="compared with itself"):
        compute_keywords(small, "a", Selection(), KeywordOptions(vs="a"))
    with pytest.raises(CotlensError, match="no model 'zz'"):
        compute_keywords(small, "zz", Selection(), KeywordOptions())
    result = runner.invoke(app, ["keywords", "a", "--store", str(small.root), "--vs", "a"])
    assert result.exit_code == 2


def test_json_rows_are_frozen(larger: Store) -> None:
    web = runner.invoke(
        app, ["keywords", "a", "--store", str(larger.root), "--min-count", "1", "--format", "json"]
    )
    assert sorted(json.loads(web.stdout)["rows"][0]) == [
        "count",
        "in_web_list",
        "per_million",
        "transcripts",
        "web_per_million",
        "word",
        "x_web",
        "x_web_text",
    ]
    other = runner.invoke(
        app,
        ["keywords", "a", "--vs", "b", "--store", str(larger.root), "--min-count", "3", "--format", "json"],
    )
    assert sorted(json.loads(other.stdout)["rows"][0]) == [
        "count_a",
        "count_b",
        "g2",
        "log2_ratio",
        "log_odds_z",
        "over_used_by",
        "p_adjusted",
        "per_million_a",
        "per_million_b",
        "word",
    ]


def test_hostile_text_yields_only_inert_words(tmp_path: Path, store: Store) -> None:
    hostile = (
        "Plan \x1b[31mred\x1b[0m [bold red]markup[/bold red] carriage\rreturn nul\x00byte "
        "\u202eevil\u202c " + "x" * 100_000
    )
    records = [chat(i, hostile) for i in range(3)]
    ingest([str(write_jsonl(tmp_path / "h.jsonl", records))], store)
    result = runner.invoke(app, ["keywords", "m", "--store", str(store.root), "--min-count", "1"])
    assert result.exit_code == 0, result.output
    assert not any(c in result.stdout for c in "\x1b\r\x00\u202e\u202c")
    found = [r["word"] for r in compute_keywords(store, "m", Selection(), KeywordOptions(min_count=1)).rows]
    assert {"bold", "markup", "carriage", "return", "evil"} <= set(found)
    assert all(w.isalnum() for w in found)
