"""The compiled Gopher kernel (cotlens/measure/_repetition.c) against the numpy path, its reference: the same
doubles, bit for bit, on hostile texts and on every text of the fixtures."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cotlens.measure.repetition as repetition
from cotlens.measure.repetition import GOPHER_COLUMNS, Loop, find_loop, measure_repetition
from tests.conftest import FIXTURES

compiled = repetition._compiled_gopher


def by_compiled(texts: Sequence[str | None]) -> np.ndarray[Any, np.dtype[np.float64]]:
    assert compiled is not None
    out = np.full((len(texts), len(GOPHER_COLUMNS)), np.nan)  # every cell must be written
    compiled(texts, out)
    return out


def by_numpy(texts: Sequence[str | None]) -> np.ndarray[Any, np.dtype[np.float64]]:
    out = np.zeros((len(texts), len(GOPHER_COLUMNS)))
    for chunk in repetition._chunks(texts):
        out[chunk] = repetition._gopher_chunk([texts[i] or "" for i in chunk])
    return out


def assert_same(texts: Sequence[str | None]) -> None:
    got, expected = by_compiled(texts), by_numpy(texts)
    assert got.tobytes() == expected.tobytes(), [
        (texts[i], GOPHER_COLUMNS[j], got[i, j], expected[i, j])
        for i, j in zip(*np.nonzero(got != expected), strict=True)
    ][:5]


def test_the_compiled_kernel_is_in_use() -> None:
    # setup.py builds it at `pip install -e .`; CI measures what ships, so it must have been built there too.
    assert repetition.gopher_kernel() == "compiled"
    assert compiled is not None


# Pieces that make texts hard: ASCII and wide whitespace (all of str.isspace), \r\n, blank lines with spaces,
# multi-byte letters, a lone surrogate, a NUL, words of 8, 9 and more bytes (ASCII and not), and a few short words
# so that lines, paragraphs and n-grams repeat.
PIECES = ["a", "b", "ab", "a b", "c.", "Wait,", "wait", "42.", " ", "  ", "\n", "\n\n", "\r\n", "\r\n\r\n"]
PIECES += ["\t", "\n  \n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u2000", "\u200a"]
PIECES += ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u200b", "\x00", "\ud800", "\udfff", "é", "我"]
PIECES += ["再算一遍。", "да", "😀", "x" * 8, "x" * 9, "internationalization"]
PIECES += ["é" * 5, "我" * 4, "\U0001f600" * 3]
texts = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
repeated = st.lists(st.sampled_from(PIECES[:12]), min_size=1, max_size=12).map("".join)


@st.composite
def repetitive(draw: st.DrawFn) -> str:
    """A text of a few units (lines, sentences, n-grams) repeated in some order, joined by varied whitespace."""
    units = draw(st.lists(repeated, min_size=1, max_size=4))
    order = draw(st.lists(st.sampled_from(units), max_size=30))
    seps = draw(
        st.lists(st.sampled_from([" ", "\n", "\n\n", "\r\n", " \n \n", "\u3000", ""]), min_size=len(order))
    )
    return "".join(u + s for u, s in zip(order, seps, strict=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(texts, repetitive(), st.none(), st.sampled_from(["", " ", "\n\n", "\u3000\r\n"]))))
def test_same_values_as_numpy_on_hostile_texts(batch: list[str | None]) -> None:
    assert_same(batch)


def test_whitespace_is_that_of_str_isspace() -> None:
    # Every whitespace character and its neighbours, and characters often taken for spaces (zero-width space,
    # Mongolian vowel separator, BOM), inside and between words: "a{c}b a{c}b" repeats its bigram only when c
    # separates words.
    spaces = [c for c in range(0x3001) if chr(c).isspace()]
    near = {c + d for c in spaces for d in (-1, 0, 1)} | {0x200B, 0x180E, 0xFEFF, 0xD800, 0x10FFFF}
    # Short words, and words longer than the 8 bytes the compiled kernel reads at once.
    for a, b in (("a", "b"), ("abcdefghij", "klmnopqrstuvwxyz")):
        texts: list[str | None] = [f"{a}{chr(c)}{b} {a}{chr(c)}{b}{chr(c)}" for c in sorted(near)]
        assert_same(texts)
        top_bigram = by_compiled(texts)[:, GOPHER_COLUMNS.index("top_2gram_char_frac")]
        assert [c for c, v in zip(sorted(near), top_bigram, strict=True) if v == 1.0] == spaces


def test_same_values_on_a_text_over_the_chunk_size() -> None:
    rng = random.Random(3)
    sentences = [
        "Wait, let me check the sum again.",
        "x = 42.",
        "再算一遍。",
        "Hmm, so the answer is 7?",
        "да да",
    ]
    seps = [" ", "\n", "\n\n", "\r\n", "\u3000"]
    parts = [rng.choice(sentences) + rng.choice(seps) + str(rng.randrange(99)) for _ in range(30_000)]
    huge = " ".join(parts)
    assert len(huge) > repetition.CHUNK_CHARS
    assert_same(["a b a b", huge, None, "a b a b"])


def find_loop_in_python(text: str) -> Loop | None:
    saved = repetition._compiled_may_loop
    repetition._compiled_may_loop = None
    try:
        return find_loop(text)
    finally:
        repetition._compiled_may_loop = saved


LONG_PREAMBLE = " ".join(f"step {i}: add {i} to the total." for i in range(400))  # past LOOP_WINDOW, no loop


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["", "Let me see. ", LONG_PREAMBLE]),
    texts,
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join),
    st.integers(0, 12),
    st.integers(0, 10),
    st.sampled_from(["", " ", "\n\n", " \t\r\n \u3000"]),
)
def test_find_loop_answers_the_same_with_the_compiled_pre_check(
    preamble: str, prefix: str, unit: str, copies: int, cut: int, trailing: str
) -> None:
    text = preamble + prefix + unit * copies + unit[:cut] + trailing
    assert find_loop(text) == find_loop_in_python(text)


@pytest.mark.parametrize(
    ("text", "possible"),
    [
        ("", False),
        (" \n\u3000", False),
        ("hello world", False),  # the last characters occur nowhere before
        ("abcde xyz abcde", False),  # they do, but 11 characters back: no room for 2 copies and one more
        ("Let me check. Let me check. Let me check.", True),
        ("Let me check.\n\nLet me check.\r\n  Let me check. Let me ch \n", True),
        ("再算一遍。再算一遍。再算一遍。", True),
    ],
)
def test_the_compiled_pre_check(text: str, possible: bool) -> None:
    may_loop = repetition._compiled_may_loop
    assert may_loop is not None
    assert (
        may_loop(text, repetition.LOOP_WINDOW, repetition._PROBE, repetition._COMPARE, repetition._CANDIDATES)
        is possible
    )


def fixture_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from fixture_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from fixture_strings(v)


def test_same_values_on_every_string_of_the_fixtures() -> None:
    strings: list[str | None] = []
    for path in sorted(FIXTURES.rglob("*.json*")):
        lines = path.read_bytes().splitlines() if path.suffix == ".jsonl" else [path.read_bytes()]
        for line in lines:
            try:  # json, not orjson: it keeps lone surrogates ("\ud800")
                strings.extend(fixture_strings(json.loads(line)))
            except ValueError:  # the bad lines are texts too, their invalid bytes as lone surrogates
                strings.append(line.decode("utf-8", "surrogateescape"))
    assert len(strings) > 1000
    assert_same(strings)
    assert [find_loop(t) for t in strings if t] == [find_loop_in_python(t) for t in strings if t]


def test_a_text_too_long_for_the_compiled_kernel_goes_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    def overflow(texts: Sequence[str | None], out: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        raise OverflowError("text too long for the compiled repetition kernel")

    monkeypatch.setattr(repetition, "_compiled_gopher", overflow)
    got = measure_repetition(["a b a b", None])
    assert got["top_2gram_char_frac"] == [1.0, None]
    assert got["dup_line_frac"] == [0.0, None]


def test_bad_arguments_are_refused() -> None:
    assert compiled is not None
    with pytest.raises(ValueError, match="len\\(texts\\) x 13"):
        compiled(["a"], np.zeros((2, len(GOPHER_COLUMNS))))
    with pytest.raises(ValueError, match="float64"):
        compiled(["a"], np.zeros((1, len(GOPHER_COLUMNS)), dtype=np.float32))
    with pytest.raises(TypeError, match="str or None, not bytes"):
        compiled([b"a"], np.zeros((1, len(GOPHER_COLUMNS))))  # type: ignore[list-item]
    with pytest.raises(BufferError, match="not writable"):
        compiled(["a"], bytes(8 * len(GOPHER_COLUMNS)))  # type: ignore[arg-type]
