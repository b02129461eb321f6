"""Repetition measures: literal cases worked out by hand, a slow literal implementation of the documented
definitions to compare with, properties, and the demo corpus's loops."""

from __future__ import annotations

import json
import math
import random
import unicodedata
from collections import Counter

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cotlens.measure.repetition as repetition
from cotlens.measure.repetition import (
    GOPHER_COLUMNS,
    GOPHER_THRESHOLDS,
    REPETITION_COLUMNS,
    Loop,
    Value,
    find_loop,
    measure_repetition,
)
from tests.conftest import DEMO

# Every test here runs with the compiled Gopher kernel and with the numpy one (tests/measure/conftest.py).
pytestmark = pytest.mark.usefixtures("gopher_kernel")

FRACTIONS = list(GOPHER_COLUMNS)


def one(text: str | None) -> dict[str, Value]:
    """All columns for one text."""
    return {name: values[0] for name, values in measure_repetition([text]).items()}


def is_close(got: Value, expected: float) -> bool:
    return isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12)


def close(got: dict[str, Value], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert is_close(got[name], value), (name, got[name], value)


def zero_except(got: dict[str, Value], nonzero: dict[str, float]) -> None:
    close(got, {name: nonzero.get(name, 0.0) for name in FRACTIONS})


# --------------------------------------------------------------------------------------------------------------
# API


def test_columns_and_thresholds() -> None:
    names = [*GOPHER_COLUMNS, "gopher_over", "loop", "loop_unit", "loop_repeats"]
    assert [name for name, _ in REPETITION_COLUMNS] == names
    assert [str(t) for _, t in REPETITION_COLUMNS][-5:] == ["double", "bool", "bool", "string", "int32"]
    # Rae et al. 2021, Table A1.
    assert GOPHER_THRESHOLDS == {
        "dup_line_frac": 0.30,
        "dup_para_frac": 0.30,
        "dup_line_char_frac": 0.20,
        "dup_para_char_frac": 0.20,
        "top_2gram_char_frac": 0.20,
        "top_3gram_char_frac": 0.18,
        "top_4gram_char_frac": 0.16,
        "dup_5gram_char_frac": 0.15,
        "dup_6gram_char_frac": 0.14,
        "dup_7gram_char_frac": 0.13,
        "dup_8gram_char_frac": 0.12,
        "dup_9gram_char_frac": 0.11,
        "dup_10gram_char_frac": 0.10,
    }


def test_output_fits_the_declared_arrow_types() -> None:
    out = measure_repetition(["a b a b", None, "", "x. x. x. x. x. x. x. x. x."])
    table = pa.table({name: pa.array(out[name], type=dtype) for name, dtype in REPETITION_COLUMNS})
    assert table.num_rows == 4
    assert table["loop"].to_pylist() == [False, None, False, True]
    assert table["loop_unit"].to_pylist() == [None, None, None, "x."]
    assert table["loop_repeats"].to_pylist() == [None, None, None, 9]


def test_none_empty_and_single_word() -> None:
    assert set(one(None).values()) == {None}
    for text in ("", " \n\n\t ", "hello"):
        got = one(text)
        zero_except(got, {})
        assert (got["loop"], got["loop_unit"], got["loop_repeats"]) == (False, None, None)


# --------------------------------------------------------------------------------------------------------------
# Gopher measures, by hand


def test_top_ngrams_abcabc() -> None:
    # words a b c a b c: 6 characters.
    # bigrams ab x2, bc x2, ca x1: the tie goes to ab, seen first: 2 x 2 chars / 6 = 2/3.
    # trigrams abc x2, bca, cab: 2 x 3 / 6 = 1. 4-grams abca, bcab, cabc occur once each: 0.
    zero_except(one("a b c a b c"), {"top_2gram_char_frac": 2 / 3, "top_3gram_char_frac": 1.0})


def test_top_ngram_ties_go_to_the_first_seen() -> None:
    # x yy x yy zzz w zzz w: 1+2+1+2+3+1+3+1 = 14 characters. Bigrams "x yy" and "zzz w" both occur twice;
    # "x yy" comes first (Counter.most_common), so 2 x 3 / 14, not 2 x 4 / 14.
    got = one("x yy x yy zzz w zzz w")
    close(got, {"top_2gram_char_frac": 6 / 14, "top_3gram_char_frac": 0.0})


def test_no_repeated_ngram_scores_zero() -> None:
    # Dolma and datatrove would score the first bigram: 10 / 10 = 1.0 here.
    zero_except(one("hello world"), {})


def test_duplicate_ngrams_count_every_occurrence_once() -> None:
    # one two three four five six one two three four five seven
    #  3   3    5    4    4    3   3   3    5    4    4    5    = 22 + 24 = 46 characters
    # The 5-gram "one two three four five" occurs at words 0 and 6: words 0-4 and 6-10 are covered,
    # 19 + 19 = 38 characters. The 6-grams differ (six / seven). Top bigram "one two" x2: 2 x 6; trigram
    # "one two three" x2: 2 x 11; 4-gram "one two three four" x2: 2 x 15.
    got = one("one two three four five six one two three four five seven")
    zero_except(
        got,
        {
            "top_2gram_char_frac": 12 / 46,
            "top_3gram_char_frac": 22 / 46,
            "top_4gram_char_frac": 30 / 46,
            "dup_5gram_char_frac": 38 / 46,
        },
    )


def test_overlapping_duplicates_cover_a_word_once() -> None:
    # a b c d e, three times: 15 one-letter words. Every 5-gram (abcde, bcdea, cdeab, deabc, eabcd) occurs
    # two or three times, so all 15 words are covered: 1.0 (summing count x chars would give 55 / 15).
    # The 10-gram at 0 equals the one at 5: words 0-9 and 5-14, again all 15. Top bigram "a b" x3: 3 x 2 / 15;
    # top trigram "a b c" x3: 3 x 3 / 15; top 4-gram "a b c d" x3: 3 x 4 / 15.
    got = one(" ".join(["a b c d e"] * 3))
    expected = {f"dup_{n}gram_char_frac": 1.0 for n in range(5, 11)}
    expected |= {"top_2gram_char_frac": 6 / 15, "top_3gram_char_frac": 9 / 15, "top_4gram_char_frac": 12 / 15}
    zero_except(got, expected)


def test_ngrams_do_not_span_two_texts() -> None:
    got = measure_repetition(["a b c d e", "a b c d e"])
    assert all(got[name] == [0.0, 0.0] for name in FRACTIONS)


def test_duplicate_lines_and_paragraphs() -> None:
    text = "alpha beta\ngamma\nalpha beta\n\ndelta\n\nalpha beta\ngamma\nalpha beta"
    assert len(text) == 10 + 1 + 5 + 1 + 10 + 2 + 5 + 2 + 10 + 1 + 5 + 1 + 10 == 63
    # Lines: alpha beta, gamma, alpha beta*, delta, alpha beta*, gamma*, alpha beta* (* = seen before):
    # 4 duplicates of 7 lines, 10 + 10 + 5 + 10 = 35 characters.
    # Paragraphs: "alpha beta\ngamma\nalpha beta" (27 characters), "delta", then the first again: 1 of 3, 27.
    # Words: alpha x4, beta x4, gamma x2, delta: 20 + 16 + 10 + 5 = 51 characters; bigram "alpha beta" x4,
    # never overlapping: 4 x 9 / 51.
    close(
        one(text),
        {
            "dup_line_frac": 4 / 7,
            "dup_line_char_frac": 35 / 63,
            "dup_para_frac": 1 / 3,
            "dup_para_char_frac": 27 / 63,
            "top_2gram_char_frac": 36 / 51,
        },
    )


def test_lines_are_stripped_and_compared_by_words() -> None:
    # "a b\r\n" and "a  b\n": the same words. The second line, stripped, is "a  b": 4 of 11 characters.
    close(one("a b\r\na  b\n\n"), {"dup_line_frac": 1 / 2, "dup_line_char_frac": 4 / 11})
    # "\r\n\r\n" is a blank line, so a paragraph break: "x y" twice, 3 of 10 characters duplicated.
    close(
        one("x y\r\n\r\nx y"), {"dup_para_frac": 1 / 2, "dup_para_char_frac": 3 / 10, "dup_line_frac": 1 / 2}
    )
    # Whitespace-only lines are not lines: 2 lines, not 4.
    close(one("x\n   \n\t\nx"), {"dup_line_frac": 1 / 2, "dup_para_frac": 1 / 2})


def test_characters_are_code_points_and_whitespace_is_unicode() -> None:
    # éé x éé x ü: 2 + 1 + 2 + 1 + 1 = 7 characters (11 UTF-8 bytes); bigram "éé x" twice: 2 x 3 / 7.
    close(one("éé x éé x ü"), {"top_2gram_char_frac": 6 / 7})
    # U+3000 and U+001C separate words (as str.split does); U+0001 does not: "a\x01b" is one word.
    close(one("a\u3000b a\x1cb"), {"top_2gram_char_frac": 1.0})
    close(one("a\x01b a\x01b"), {"top_2gram_char_frac": 0.0})


def test_text_without_spaces_is_one_word_per_run() -> None:
    # Chinese without spaces: each line is one 10-character word. The second line repeats the first: 1 of 2
    # lines, 10 of 21 characters; one bigram only, so no n-gram repeats.
    zero_except(
        one("再算一遍。再算一遍。\n再算一遍。再算一遍。"),
        {"dup_line_frac": 1 / 2, "dup_line_char_frac": 10 / 21},
    )
    # Separated by spaces, the same characters are words: "中文 中文" at words 0 and 1 covers all 6 characters.
    zero_except(one("中文 中文 中文"), {"top_2gram_char_frac": 1.0})
    # An ideographic space separates too, but two words make one bigram: nothing repeats.
    zero_except(one("中文\u3000中文"), {})


def test_overlapping_occurrences_of_the_top_ngram_count_their_words_once() -> None:
    # a a a a: bigram "a a" at words 0, 1, 2. Count x characters would be 3 x 2 / 4 = 1.5 (Dolma, RedPajama);
    # the words they cover are all 4: 4 / 4. Trigram "a a a" twice: 4 / 4 as well (2 x 3 / 4 = 1.5).
    zero_except(one("a a a a"), {"top_2gram_char_frac": 1.0, "top_3gram_char_frac": 1.0})
    # ab c ab c ab: bigram "ab c" at 0 and 2 (not overlapping: 2 x 3 = 6 of 8), trigram "ab c ab" at 0 and 2
    # overlapping in one word: words 0-4, all 8 characters (count x chars: 2 x 5 = 10).
    zero_except(one("ab c ab c ab"), {"top_2gram_char_frac": 6 / 8, "top_3gram_char_frac": 8 / 8})


def test_long_words_are_compared_whole() -> None:
    # 20-character words that differ only in their 19th character; and a trailing NUL is a character.
    close(one("internationalization x internationalisation x"), {"top_2gram_char_frac": 0.0})
    close(one("internationalization x internationalization x"), {"top_2gram_char_frac": 1.0})
    close(one("ab\x00 c ab c"), {"top_2gram_char_frac": 0.0})
    close(one("abcdefgh abcdefghi abcdefgh abcdefghi"), {"top_2gram_char_frac": 1.0})


def test_batches_and_chunks_do_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["a b a b", None, "x y z x y z", "", "one\n\none", "é ü é ü é ü", "p q r s t p q r s t"]
    alone = [one(t) for t in texts]
    monkeypatch.setattr(repetition, "CHUNK_CHARS", 8)
    together = measure_repetition(texts)
    assert [{name: together[name][i] for name in together} for i in range(len(texts))] == alone


# --------------------------------------------------------------------------------------------------------------
# Against a slow, literal implementation of the documented definitions


def literal(text: str) -> dict[str, float]:
    """The module docstring's definitions, written plainly."""
    out: dict[str, float] = {}
    raw = text.split("\n")
    lines = [line.strip() for line in raw if line.strip()]
    paragraphs: list[str] = []
    run: list[str] = []
    for line in [*raw, ""]:
        if line.strip():
            run.append(line)
        elif run:
            paragraphs.append("\n".join(run).strip())
            run = []
    for name, items in (("line", lines), ("para", paragraphs)):
        seen: set[tuple[str, ...]] = set()
        dups = dup_chars = 0
        for item in items:
            key = tuple(item.split())
            if key in seen:
                dups += 1
                dup_chars += len(item)
            seen.add(key)
        out[f"dup_{name}_frac"] = dups / len(items) if items else 0.0
        out[f"dup_{name}_char_frac"] = dup_chars / len(text) if text else 0.0
    words = text.split()
    total = sum(map(len, words))
    for n in range(2, 11):
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        counts = Counter(grams)
        top, top_count = counts.most_common(1)[0] if grams else ((), 0)
        covered = [False] * len(words)
        for i, gram in enumerate(grams):
            if (n <= 4 and gram == top and top_count > 1) or (n > 4 and counts[gram] > 1):
                covered[i : i + n] = [True] * n
        chars = sum(len(w) for w, c in zip(words, covered, strict=True) if c)
        name = f"top_{n}gram_char_frac" if n <= 4 else f"dup_{n}gram_char_frac"
        out[name] = chars / total if total else 0.0
    return out


PIECES = ["a", "b", "ab", "a b", "c.", " ", "  ", "\n", "\n\n", "\r\n", "\t", "é", "我"]
PIECES += ["\u3000", "\xa0", "\x85", "\u2028", "\x1c"]  # whitespace beyond ASCII's (str.isspace)
PIECES += ["\x00", "\ud800", "internationalization", "x" * 9]  # a NUL, a lone surrogate, words over 8 bytes
texts = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8), st.sampled_from([16, 64, 1 << 20]))
def test_matches_the_literal_definitions(batch: list[str], chunk: int) -> None:
    saved = repetition.CHUNK_CHARS
    repetition.CHUNK_CHARS = chunk
    try:
        got = measure_repetition(batch)
    finally:
        repetition.CHUNK_CHARS = saved
    for i, text in enumerate(batch):
        for name, value in literal(text).items():
            assert is_close(got[name][i], value), (text, name, got[name][i], value)


def test_demo_corpus_matches_the_literal_definitions() -> None:
    texts = [t for t, _ in demo_reasoning()]
    got = measure_repetition(texts)
    for i, text in enumerate(texts):
        for name, value in literal(text).items():
            assert is_close(got[name][i], value), (i, name)


VOCABULARY = ["Wait,", "let", "me", "check", "the", "sum", "again.", "x", "=", "42.", "再算一遍。", "да"]


@pytest.mark.parametrize("chunk", [1 << 12, 1 << 20])
def test_many_texts_match_the_literal_definitions(chunk: int) -> None:
    # Hundreds of words a text and dozens of texts a chunk: the counting tables that set unique bigrams and
    # lines aside see unique keys share a bucket with repeated ones, and the same bigrams and lines in other texts.
    rng = random.Random(7)
    texts = []
    for _ in range(60):
        suffixes = rng.choices(["", "", "", str(rng.randrange(50))], k=300)  # some words of this text only
        words = [rng.choice(VOCABULARY) + suffix for suffix in suffixes]
        seps = rng.choices([" ", " ", " ", "\n", "\n\n", "\r\n", "\u3000"], k=len(words))
        texts.append("".join(w + sep for w, sep in zip(words, seps, strict=True)))
    saved = repetition.CHUNK_CHARS
    repetition.CHUNK_CHARS = chunk
    try:
        got = measure_repetition(texts)
    finally:
        repetition.CHUNK_CHARS = saved
    for i, text in enumerate(texts):
        for name, value in literal(text).items():
            assert is_close(got[name][i], value), (i, name, got[name][i], value)


# --------------------------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=5))
def test_fractions_are_between_0_and_1(batch: list[str]) -> None:
    got = measure_repetition(batch)
    for name in FRACTIONS:
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in got[name]), name


line_text = st.text(st.characters(exclude_characters="\n"), min_size=1).filter(str.strip)


@settings(max_examples=200, deadline=None)
@given(line_text, st.integers(1, 12))
def test_a_line_repeated_k_times(line: str, k: int) -> None:
    frac = one("\n".join([line] * k))["dup_line_frac"]
    assert isinstance(frac, float) and frac >= (k - 1) / k


loop_unit = st.lists(
    st.sampled_from(["Wait,", "let", "me", "check", "x", "42.", "再算一遍。", "да"]), min_size=1, max_size=6
)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=50), loop_unit.map(" ".join), st.integers(3, 12), st.sampled_from([" ", "\n", "\n\n"])
)
def test_a_wide_unit_repeated_3_or_more_times_is_a_loop(prefix: str, unit: str, k: int, sep: str) -> None:
    if (
        sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in unit + " ")
        < repetition.LOOP_MIN_WIDTH
    ):
        return  # too narrow to be a unit on its own
    assert find_loop(prefix + sep + sep.join([unit] * k)) is not None


# --------------------------------------------------------------------------------------------------------------
# Loops


@pytest.mark.parametrize(
    ("text", "loop"),
    [
        # A mixed-script sentence three times.
        (
            "Wait, 我需要再检查一下. Wait, 我需要再检查一下. Wait, 我需要再检查一下.",
            Loop("Wait, 我需要再检查一下.", 3),
        ),
        # The same line ten times after some reasoning.
        (
            "So the sum is 12.\n\n" + "\n".join(["Let me double-check the sum."] * 10),
            Loop("Let me double-check the sum.", 10),
        ),
        # Cut off mid-repetition: the cut copy counts.
        (
            "Compute 3 + 4. " + "Let me recompute the total. " * 3 + "Let me rec",
            Loop("Let me recompute the total.", 4),
        ),
        ("Let me check. Let me check. L", Loop("Let me check.", 3)),
        # Chinese without spaces: a 4-character sentence is 10 columns wide.
        ("好的。再算一遍。再算一遍。再算一遍。", Loop("再算一遍。", 3)),
        # The repeated tail begins by coincidence at "5. ": the unit is cut after the sentence end.
        ("It was 5. Wait, 5. Wait, 5. Wait, 5.", Loop("Wait, 5.", 3)),
        # A token: three copies are not wide enough, six make "the the " x 3; reported as the token.
        ("the the the", None),
        ("the the the the the the", Loop("the", 6)),
        ("no no no", None),
        ("Hmm. Hmm. Hmm.", None),  # "Hmm. " is 5 columns: six copies would loop
        # Punctuation and markdown rules never loop: no letter or digit.
        ("Well...", None),
        ("Wow!!!", None),
        ("Table:\n\n---\n---\n---", None),
        ("Heading\n\n= = = = = = = = = = = =", None),
        ("* * * * * * * * * * * * * * * *", None),
        # Ordinary text.
        ("The answer is 42 because 6 times 7 is 42. Done.", None),
        ("First, 2 + 2 = 4. Then 4 + 4 = 8. Then 8 + 8 = 16.", None),
    ],
)
def test_loops(text: str, loop: Loop | None) -> None:
    assert find_loop(text) == loop
    got = one(text)
    assert (got["loop"], got["loop_unit"], got["loop_repeats"]) == (
        loop is not None,
        loop.unit if loop else None,
        loop.repeats if loop else None,
    )


def test_a_loop_longer_than_the_window_is_counted_whole() -> None:
    unit = "Wait, let me verify this carefully once more. "
    text = "Start. " + unit * 400  # 18,400 characters, past LOOP_WINDOW
    assert find_loop(text) == Loop(unit.strip(), 400)


@pytest.mark.parametrize("trailing", ["", " ", "\n\n", " \t\r\n \u3000"])
def test_the_window_ends_at_the_last_non_space(trailing: str) -> None:
    preamble = " ".join(f"step {i}: add {i} to the total." for i in range(600))  # past LOOP_WINDOW, no loop
    assert len(preamble) > repetition.LOOP_WINDOW
    assert find_loop(preamble + trailing) is None
    unit = "Let me add the last step again."
    assert find_loop(preamble + f" {unit}" * 5 + trailing) == Loop(unit, 5)


def demo_reasoning() -> list[tuple[str, str]]:
    """(reasoning, id) of every valid demo transcript, read as fixtures/demo/make_demo.py writes them."""
    out = []
    for path in sorted(DEMO.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if "choices" in rec:
                text = rec["choices"][0]["message"]["reasoning_content"]
            elif "content" in rec:
                text = rec["content"][0]["thinking"]
            else:
                text = rec["response"].removeprefix("<think>\n").split("\n</think>\n\n", 1)[0]
            if isinstance(text, str):
                out.append((text, rec["id"]))
    return out


def test_demo_loops_are_exactly_the_manifest_ones() -> None:
    manifest = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
    expected = manifest["models"]["lumen-mix"]["loop_repeats"]
    found = {}
    for text, rid in demo_reasoning():
        loop = find_loop(text)
        if loop is not None:
            found[rid] = loop.repeats
    assert found == expected
    assert sorted(found) == sorted(manifest["cleanliness"]["loop"])
