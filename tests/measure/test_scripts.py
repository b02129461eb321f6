"""Language mixing (README, Definitions: "Language mixing"): literal cases with their exact numbers, and properties checked
against a slow reference that encodes whole texts and walks them character by character."""

from __future__ import annotations

import base64
import gzip
import json
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import cotlens.measure.scripts as scripts_module
from cotlens.ingest import ingest
from cotlens.measure.scripts import (
    SCRIPT_COLUMNS,
    SCRIPTS,
    ScriptStats,
    measure_scripts,
    resolve_scripts,
    script_columns,
)
from cotlens.measure.tokens import _tokenizer, count_tokens
from cotlens.measure.unicode import code_point_ranges, script_of
from cotlens.store import Store
from tests.conftest import DEMO

LETTER = regex.compile(r"\p{L}")
DIGIT = regex.compile(r"\p{Nd}")
MARK = regex.compile(r"\p{M}")


# --- the reference: whole-text encodings, one character at a time ---------------------------------------------


@lru_cache(maxsize=1)
def vocabulary() -> dict[int, bytes]:
    data = (resources.files("bpe_openai") / "data" / "o200k_base.tiktoken.gz").read_bytes()
    return {
        int(rank): base64.b64decode(tok)
        for tok, rank in (line.split() for line in gzip.decompress(data).splitlines())
    }


def script(char: str) -> str | None:
    """The script of a letter as the README defines letters; None for anything that is not a letter."""
    if not LETTER.match(char):
        return None
    name = script_of(char)
    return None if name in ("Common", "Inherited") else name


def reference_tokens(text: str) -> tuple[int, int, dict[str, int]]:
    """(tokens, non-Latin tokens, non-Latin tokens per script) from the whole text's token bytes."""
    pieces = [vocabulary()[i] for i in _tokenizer().encode(text)]
    assert b"".join(pieces) == text.encode("utf-8")
    token_of_byte = [k for k, piece in enumerate(pieces) for _ in piece]
    found: dict[str, set[int]] = {}
    offset = 0
    for char in text:
        name = script(char)
        if name is not None and name != "Latin":
            found.setdefault(name, set()).add(token_of_byte[offset])  # the token holding the first byte
        offset += len(char.encode("utf-8"))
    every = set().union(*found.values()) if found else set()
    return len(pieces), len(every), {s: len(found[s]) for s in SCRIPTS if s in found}


def reference_letters(text: str) -> tuple[dict[str, int], str | None, list[tuple[int, int]]]:
    """(letters per script, dominant script, code-switch spans), one character at a time."""
    counts: dict[str, int] = {}
    for char in text:
        name = script(char)
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    by_script = {s: counts[s] for s in SCRIPTS if s in counts}
    most = max(by_script.values(), default=0)
    dominant = next((s for s, n in by_script.items() if n == most), None)  # Latin first: it wins ties
    spans: list[list[int]] = []
    if dominant == "Latin":
        open_span: list[int] | None = None
        for i, char in enumerate(text):
            name = script(char)
            if name is not None and name != "Latin":
                if open_span is None:
                    open_span = [i, i + 1]
                    spans.append(open_span)
                else:
                    open_span[1] = i + 1
            elif name == "Latin" or DIGIT.match(char):
                open_span = None
        for span in spans:
            while span[1] < len(text) and MARK.match(text[span[1]]):
                span[1] += 1
    return by_script, dominant, [(a, b) for a, b in spans]


def stats(text: str) -> ScriptStats:
    (result,) = measure_scripts([text])
    assert result is not None
    return result


def span_texts(text: str) -> list[str]:
    return [text[a:b] for a, b in stats(text).spans]


# --- literal cases -------------------------------------------------------------------------------------------


def test_han_inside_english() -> None:
    text = "I think it's堪培拉, right?"
    s = stats(text)
    assert (s.letters, s.nonlatin_letters) == (17, 3)
    assert s.letters_by_script == {"Latin": 14, "Han": 3}
    assert s.dominant_script == "Latin"
    assert s.spans == [(12, 15)] and span_texts(text) == ["堪培拉"]
    # Tokens: I | think | it's | 堪 (first two bytes) | 堪 (last byte) | 培 | 拉 | , | right | ?
    # The token with 堪's last byte holds no first byte of a letter, so 3 non-Latin tokens, not 4.
    assert (s.tokens, s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (10, 3, {"Han": 3})
    assert reference_tokens(text) == (10, 3, {"Han": 3})


def test_cyrillic_inside_one_word() -> None:
    text = "Perhaps I misпарсил the input"
    s = stats(text)
    assert s.letters_by_script == {"Latin": 19, "Cyrillic": 6}
    assert (s.letters, s.nonlatin_letters, s.dominant_script) == (25, 6, "Latin")
    assert span_texts(text) == ["парсил"] and s.spans == [(13, 19)]
    # Perhaps | I | mis | пар | сил | the | input
    assert (s.tokens, s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (7, 2, {"Cyrillic": 2})
    assert reference_tokens(text) == (7, 2, {"Cyrillic": 2})


def test_an_arabic_indic_digit_is_not_a_letter() -> None:
    s = stats("The answer is ٣.")
    assert s.letters_by_script == {"Latin": 11}
    assert (s.nonlatin_letters, s.nonlatin_tokens, s.spans) == (0, 0, [])


def test_a_digit_of_any_script_ends_a_span() -> None:
    text = "So 这个٣问题 again"
    s = stats(text)
    assert s.letters_by_script == {"Latin": 7, "Han": 4}
    assert span_texts(text) == ["这个", "问题"]
    assert s.spans == [(3, 5), (6, 8)]
    # So | ␠ | 这个 | ٣ | 问题 | again
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (2, {"Han": 2})
    assert span_texts("the 问题 3 答案 case") == ["问题", "答案"]


def test_japanese_kana() -> None:
    text = "The word is ひらがな and カタカナ here"
    s = stats(text)
    assert s.letters_by_script == {"Latin": 16, "Hiragana": 4, "Katakana": 4}
    assert span_texts(text) == ["ひらがな", "カタカナ"]
    assert s.spans == [(12, 16), (21, 25)]
    # Every kana is a token of its own here: ひ | ら | が | な | ␠カ | タ | カ | ナ
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (8, {"Hiragana": 4, "Katakana": 4})
    assert reference_tokens(text)[1:] == (8, {"Hiragana": 4, "Katakana": 4})


def test_the_prolonged_sound_mark_is_common_but_stays_inside_a_span() -> None:
    text = "I want ラーメン now"  # ー (U+30FC) is Lm of Script Common: not a letter
    s = stats(text)
    assert s.letters_by_script == {"Latin": 8, "Katakana": 3}
    assert span_texts(text) == ["ラーメン"]
    # ␠ラ | ー and メ's first two bytes | メ's last byte | ン: three tokens hold a Katakana letter's first byte
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (3, {"Katakana": 3})
    assert reference_tokens(text) == (7, 3, {"Katakana": 3})


def test_hangul() -> None:
    text = "Korean 안녕하세요 means hello"
    s = stats(text)
    assert s.letters_by_script == {"Latin": 16, "Hangul": 5}
    assert span_texts(text) == ["안녕하세요"] and s.spans == [(7, 12)]
    # K | orean | ␠안 | 녕하세요 | means | hello
    assert (s.tokens, s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (6, 2, {"Hangul": 2})


def test_greek_math_letters_are_greek_letters() -> None:
    text = "Let θ = π/2 and Δx be small"
    s = stats(text)
    assert s.letters_by_script == {"Latin": 14, "Greek": 3}
    assert s.dominant_script == "Latin"
    # "θ = π" is one span (no Latin letter or digit between them); the 2 after the slash ends it.
    assert span_texts(text) == ["θ = π", "Δ"] and s.spans == [(4, 9), (16, 17)]
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (3, {"Greek": 3})


def test_a_left_out_script_counts_nowhere() -> None:
    text = "Let θ = π/2 and Δx be small"
    row = pa.table(script_columns([text], ignore=frozenset({"Greek"}))).to_pylist()[0]
    assert (row["letters"], row["nonlatin_letters"], row["letters_by_script"]) == (14, 0, [("Latin", 14)])
    assert (row["nonlatin_tokens_o200k"], row["codeswitch_spans"]) == (0, 0)


def test_a_left_out_script_neither_opens_nor_breaks_a_span() -> None:
    text = "So the set 这个θ值 is fine, and ω alone is math"
    row = pa.table(script_columns([text], ignore=frozenset({"Greek"}))).to_pylist()[0]
    assert row["letters_by_script"] == [("Latin", 28), ("Han", 3)]
    assert row["codeswitch_span_offsets"] == [[11, 15]]  # 这个θ值: the θ sits inside, like punctuation would
    kept = pa.table(script_columns([text])).to_pylist()[0]
    assert kept["codeswitch_span_offsets"] == [[11, 15], [29, 30]]  # with Greek: ω is a span of its own


def test_latin_and_unknown_scripts_cannot_be_left_out() -> None:
    with pytest.raises(ValueError, match="cannot leave out Latin: language mixing is measured against it"):
        script_columns(["x"], ignore=frozenset({"Latin"}))
    with pytest.raises(ValueError, match=r"no script 'Klingon' \(non-Latin scripts: Greek, Cyrillic"):
        script_columns(["x"], ignore=frozenset({"Klingon"}))
    with pytest.raises(ValueError, match=r"^no script 'Cyrilic'; did you mean 'Cyrillic' or 'Syriac'\?$"):
        script_columns(["x"], ignore=frozenset({"Cyrilic"}))


def test_script_names_in_any_case() -> None:
    assert resolve_scripts(["greek", "HAN", "Cyrillic"]) == {"Greek", "Han", "Cyrillic"}


def test_emoji_are_not_letters() -> None:
    s = stats("Hmm 🤔 let me think 🧠")
    assert s.letters_by_script == {"Latin": 13}
    assert (s.nonlatin_letters, s.nonlatin_tokens, s.spans) == (0, 0, [])
    assert s.tokens == 9


def test_combining_marks_are_not_letters() -> None:
    s = stats("cafe\u0301")  # "café" decomposed: the e is a Latin letter, the accent is not a letter at all
    assert s.letters_by_script == {"Latin": 4}
    assert (s.letters, s.nonlatin_letters, s.spans) == (4, 0, [])


def test_a_span_keeps_the_marks_of_its_last_letter() -> None:
    text = "Say नमस्ते now"  # न म स त are letters; the virama and the final vowel sign are marks
    s = stats(text)
    assert s.letters_by_script == {"Latin": 6, "Devanagari": 4}
    assert span_texts(text) == ["नमस्ते"] and s.spans == [(4, 10)]
    # ␠नम | स्त | े (a token of one mark: no letter's first byte in it)
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (2, {"Devanagari": 2})
    assert reference_tokens(text) == (5, 2, {"Devanagari": 2})


def test_mathematical_alphanumerics_are_not_letters() -> None:
    s = stats("Let 𝑥 be 𝑥² + 1")  # 𝑥 is Ll but Script Common
    assert s.letters_by_script == {"Latin": 5}
    assert (s.letters, s.nonlatin_letters, s.dominant_script, s.spans) == (5, 0, "Latin", [])


def test_accented_latin_is_no_mixing() -> None:
    s = stats("naïve café résumé")
    assert s.letters_by_script == {"Latin": 15}
    assert (s.nonlatin_letters, s.nonlatin_tokens, s.nonlatin_tokens_by_script, s.spans) == (0, 0, {}, [])


def test_right_to_left_scripts_inside_english() -> None:
    text = "The word שלום means peace, and مرحبا means hello"
    s = stats(text)
    assert s.letters_by_script == {"Latin": 30, "Hebrew": 4, "Arabic": 5}
    assert span_texts(text) == ["שלום", "مرحبا"] and s.spans == [(9, 13), (31, 36)]
    # ␠שלום is one token; ␠مرح | با are two
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (3, {"Hebrew": 1, "Arabic": 2})
    assert reference_tokens(text) == (11, 3, {"Hebrew": 1, "Arabic": 2})


def test_a_transcript_entirely_in_chinese() -> None:
    text = "这个问题很难，我们需要仔细思考。"
    s = stats(text)
    assert s.letters_by_script == {"Han": 14}
    assert (s.letters, s.nonlatin_letters, s.dominant_script, s.spans) == (14, 14, "Han", [])
    # 这个 | 问题 | 很 | 难 | ，我们 | 需要 | 仔 | 细 | 思 | 考 | 。
    assert (s.tokens, s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (11, 10, {"Han": 10})
    assert reference_tokens(text) == (11, 10, {"Han": 10})


def test_the_dominant_script_can_be_another_one_in_a_mixed_text() -> None:
    s = stats("Mixed: 堪培拉, функция, 안녕, θ.")
    assert s.letters_by_script == {"Latin": 5, "Greek": 1, "Cyrillic": 7, "Hangul": 2, "Han": 3}
    assert (s.dominant_script, s.spans) == ("Cyrillic", [])  # counted, but no spans
    assert s.nonlatin_tokens_by_script == {"Greek": 1, "Cyrillic": 1, "Hangul": 2, "Han": 3}
    assert s.nonlatin_tokens == 7 == sum(s.nonlatin_tokens_by_script.values())


def test_ties_go_to_latin_then_to_the_first_script() -> None:
    assert stats("ab 问题").dominant_script == "Latin"
    assert stats("ab 问题x").dominant_script == "Latin"
    assert stats("ab 问题问").dominant_script == "Han"
    assert stats("ди 问题").dominant_script == "Cyrillic"  # Cyrillic comes before Han in SCRIPTS


def test_empty_and_missing_texts() -> None:
    empty, missing = measure_scripts(["", None])
    assert missing is None
    assert empty == ScriptStats(0, 0, {}, 0, 0, {}, None, [])
    assert stats("123 + 456 = 579 ✅").dominant_script is None


def test_a_span_with_spaces_and_punctuation_inside() -> None:
    text = "So 这个 问题，很难 indeed"
    s = stats(text)
    assert span_texts(text) == ["这个 问题，很难"] and s.spans == [(3, 11)]
    assert s.letters_by_script == {"Latin": 8, "Han": 6}
    # ␠ | 这个 | ␠问 (2 bytes) | 问 (last byte) | 题 | ，很 | 难
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (5, {"Han": 5})
    assert reference_tokens(text) == (9, 5, {"Han": 5})


def test_two_separate_spans() -> None:
    text = "the 边界 case and the 循环 here"
    s = stats(text)
    assert span_texts(text) == ["边界", "循环"] and s.spans == [(4, 6), (20, 22)]
    # ␠边 (2 bytes) | 边 (last byte) | 界 ... ␠循 (2 bytes) | 循 (last byte) | 环
    assert (s.nonlatin_tokens, s.nonlatin_tokens_by_script) == (4, {"Han": 4})
    assert reference_tokens(text) == (11, 4, {"Han": 4})


def test_a_token_with_letters_of_two_scripts_counts_for_both() -> None:
    text = "Then 続きを読む and お願いします, ok"
    s = stats(text)
    assert s.letters_by_script == {"Latin": 9, "Hiragana": 8, "Han": 3}
    assert span_texts(text) == ["続きを読む", "お願いします"]
    # ␠続 (2 bytes) | 続 (last byte) | きを | 読む | and | ␠お | 願 | い | します | , | ok
    # 読む holds a Han and a Hiragana letter: it counts once in all and once for each script.
    assert s.nonlatin_tokens_by_script == {"Hiragana": 5, "Han": 3}
    assert s.nonlatin_tokens == 7 < sum(s.nonlatin_tokens_by_script.values())
    assert reference_tokens(text) == (12, 7, {"Hiragana": 5, "Han": 3})


def test_per_script_token_counts_add_up_when_no_token_mixes_scripts() -> None:
    text = "Then функция and 안녕하세요 and 问题 and שלום and θ."
    s = stats(text)
    assert s.nonlatin_tokens_by_script == reference_tokens(text)[2]
    assert sum(s.nonlatin_tokens_by_script.values()) == s.nonlatin_tokens == reference_tokens(text)[1]
    assert set(s.nonlatin_tokens_by_script) == {"Cyrillic", "Hangul", "Han", "Hebrew", "Greek"}


def test_scripts_outside_the_known_ones_are_other() -> None:
    text = "Runes ᚠᚢᚦ and 𐐀 here"  # Runic and Deseret
    s = stats(text)
    assert s.letters_by_script == {"Latin": 12, "Other": 4}
    assert span_texts(text) == ["ᚠᚢᚦ", "𐐀"]


def test_the_class_table_is_each_class_matched_over_all_code_points() -> None:
    """The table is built from the letters alone; here each class is matched over every code point instead."""
    expected = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    latin = scripts_module._LATIN
    classes = [(r"\p{Nd}", scripts_module._DIGIT), (r"\p{M}", scripts_module._MARK)]
    classes.append((r"[\p{L}--[\p{Script=Common}\p{Script=Inherited}]]", latin + SCRIPTS.index("Other")))
    classes += [(rf"[\p{{L}}&&\p{{Script={s}}}]", latin + i) for i, s in enumerate(SCRIPTS[:-1])]
    for python_class, value in classes:
        for first, last in code_point_ranges(python_class):
            expected[first : last + 1] = value
    table = scripts_module._class_table()
    assert np.array_equal(table, expected)
    assert [SCRIPTS[table[ord(c)] - latin] for c in "Aßω这ᚠ"] == ["Latin", "Latin", "Greek", "Han", "Other"]
    # A digit of another script, a combining mark, a Common letter (the prolonged sound mark), a mathematical
    # bold A (Common), a space: no letter of any script.
    none, digit, mark = scripts_module._NONE, scripts_module._DIGIT, scripts_module._MARK
    assert [int(table[ord(c)]) for c in "٣\u0301ー𝐀 "] == [digit, mark, none, none, none]


def test_vocabulary_lines_are_read_for_ranks_and_decoded_lengths() -> None:
    ranks, sizes = scripts_module._vocabulary_lines(b"IQ== 0\nSGVsbG8= 12\nIGFi 3\n")  # "!", "Hello", " ab"
    assert ranks.tolist() == [0, 12, 3] and sizes.tolist() == [1, 5, 3]
    # Any other layout is left to the general split: CRLF, two spaces, no last newline, a rank that is no number.
    for raw in (b"IQ== 0\r\nIg== 1\r\n", b"IQ==  0\n", b"IQ== 0\nIg== 1", b"IQ== 1x\n", b"", b"IQ== \n"):
        assert scripts_module._vocabulary_lines(raw) is None, raw
    # The shipped vocabulary: every rank of o200k_base, each as long as the bytes its token decodes to.
    lengths = scripts_module._token_lengths()
    ids = _tokenizer().encode("Hello world, 这个 dew!")
    assert len(lengths) == 199_998
    assert [int(lengths[i]) for i in ids] == [len(_tokenizer().decode([i]).encode()) for i in ids]


def test_given_token_counts_are_used_and_missing_ones_counted() -> None:
    texts = ["Hello there", "问题 here", None]
    given_counts = measure_scripts(texts, [99, None, None])
    assert [s.tokens if s else None for s in given_counts] == [99, count_tokens(["问题 here"])[0], None]


# --- columns -------------------------------------------------------------------------------------------------


def test_columns_follow_the_spec() -> None:
    texts = ["I think it's堪培拉, right?", None, "", "plain ASCII", "这个问题很难"]
    columns = script_columns(texts)
    table = pa.table(columns)
    assert table.schema == SCRIPT_COLUMNS
    assert table.to_pylist()[0] == {
        "letters": 17,
        "nonlatin_letters": 3,
        "letters_by_script": [("Latin", 14), ("Han", 3)],
        "nonlatin_tokens_o200k": 3,
        "nonlatin_tokens_by_script": [("Han", 3)],
        "dominant_script": "Latin",
        "codeswitch_spans": 1,
        "codeswitch_span_offsets": [[12, 15]],
    }
    assert all(value is None for value in table.to_pylist()[1].values())
    assert table.to_pylist()[2]["dominant_script"] is None and table.to_pylist()[2]["letters"] == 0
    assert table["codeswitch_spans"].to_pylist() == [1, None, 0, 0, 0]
    assert table["dominant_script"].to_pylist() == ["Latin", None, None, "Latin", "Han"]
    assert pa.table(script_columns([])).num_rows == 0


# --- properties ----------------------------------------------------------------------------------------------

PIECES = [
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\x1c",
    "the",
    "Wait",
    "it's",
    "'re",
    "x",
    "42",
    "3",
    "٣",
    "２",
    "²",
    ",",
    ".",
    "，",
    "。",
    "(",
    "/",
    "—",
    "🤔",
    "𝑥",
    "ー",
    "e\u0301",
    "\u0301",
    "\u200d",
    "naïve",
    "堪培拉",
    "这个",
    "问",
    "парсил",
    "Пр",
    "θ",
    "Δ",
    "π",
    "ひらがな",
    "カタカナ",
    "読む",
    "안녕",
    "שלום",
    "مرحباً",
    "नमस्ते",
    "สวัสดี",
    "ᚠ",
    "𐐀",
]
TEXTS = st.one_of(st.lists(st.sampled_from(PIECES), max_size=60).map("".join), st.text(max_size=80))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), TEXTS), max_size=8))
def test_matches_the_reference(texts: list[str | None]) -> None:
    for text, s in zip(texts, measure_scripts(texts), strict=True):
        if text is None:
            assert s is None
            continue
        assert s is not None
        assert (s.tokens, s.nonlatin_tokens, s.nonlatin_tokens_by_script) == reference_tokens(text), text
        assert (s.letters_by_script, s.dominant_script, s.spans) == reference_letters(text), text


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_invariants(text: str) -> None:
    s = stats(text)
    assert sum(s.letters_by_script.values()) == s.letters
    assert s.nonlatin_letters == s.letters - s.letters_by_script.get("Latin", 0)
    assert all(n > 0 for n in s.letters_by_script.values())
    assert all(n > 0 for n in s.nonlatin_tokens_by_script.values())
    assert set(s.nonlatin_tokens_by_script) == set(s.letters_by_script) - {"Latin"}
    assert max(s.nonlatin_tokens_by_script.values(), default=0) <= s.nonlatin_tokens
    assert s.nonlatin_tokens <= sum(s.nonlatin_tokens_by_script.values())
    if s.letters:
        assert 0 <= s.nonlatin_letters / s.letters <= 1
    if s.tokens:
        assert 0 <= s.nonlatin_tokens / s.tokens <= 1
    assert (s.dominant_script is None) == (s.letters == 0)
    if s.dominant_script != "Latin":
        assert s.spans == []
    previous_end = 0
    for start, end in s.spans:
        assert previous_end <= start < end <= len(text)
        assert script(text[start]) not in (None, "Latin")  # starts on a non-Latin letter
        last = end - 1
        while MARK.match(text[last]):  # ends on one, with the marks right after it
            last -= 1
        assert script(text[last]) not in (None, "Latin")
        assert all(script(c) != "Latin" and not DIGIT.match(c) for c in text[start:end])
        previous_end = end


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), TEXTS), max_size=12))
def test_batches_change_nothing(texts: list[str | None]) -> None:
    alone = [measure_scripts([t])[0] for t in texts]
    assert measure_scripts(texts) == alone
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scripts_module, "_BATCH_CHARS", 16)  # flush the pending batch after almost every text
        patch.setattr(scripts_module, "_VECTOR_BYTES", 8)  # and count most ASCII texts with numpy
        assert measure_scripts(texts) == alone


# --- the demo corpus -----------------------------------------------------------------------------------------


def test_demo_corpus_language_checks(store: Store) -> None:
    manifest = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))["cleanliness"]
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    rows = store.read(columns=["source_id", "reasoning"]).to_pylist()
    measured = measure_scripts([r["reasoning"] for r in rows])
    spans = {r["source_id"] for r, s in zip(rows, measured, strict=True) if s and s.spans}
    # Greek math letters are Greek letters, so their traces have spans too (a later option leaves a script out).
    assert spans == set(manifest["code_switch"]) | set(manifest["must_keep_greek"])
    dominant = {
        r["source_id"] for r, s in zip(rows, measured, strict=True) if s and s.dominant_script != "Latin"
    }
    assert dominant == set(manifest["non_latin_dominant"])


def test_code_point_ranges_are_cached_and_rebuilt_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cotlens.measure import unicode

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    greek_capitals = r"[\p{Script=Greek}&&\p{Lu}]"
    built = unicode._matched_ranges(greek_capitals)
    assert built[:3] == ((0x370, 0x370), (0x372, 0x372), (0x376, 0x376))
    assert unicode.code_point_ranges.__wrapped__(greek_capitals) == built  # built, then written
    (path,) = (tmp_path / "cotlens").glob("code-point-ranges-*")
    monkeypatch.setattr(unicode, "_matched_ranges", lambda _: pytest.fail("read from the cache, not built"))
    assert unicode.code_point_ranges.__wrapped__(greek_capitals) == built
    path.write_bytes(b"\x00" * 7)  # not pairs of 32-bit code points
    monkeypatch.setattr(unicode, "_matched_ranges", lambda _: ((1, 2),))
    assert unicode.code_point_ranges.__wrapped__(greek_capitals) == ((1, 2),)
