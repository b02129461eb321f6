"""Term occurrence, DESIGN.md's table of literal cases and more awkward ones."""

from __future__ import annotations

import pytest

from cotlens.errors import LexiconError
from cotlens.measure.terms import count_terms, parse_term

COMBINING_DIAERESIS = "nai\u0308ve"  # "naïve" decomposed
S_COMBINING_ACUTE = "watchers\u0301"  # the final s carries a combining acute

DESIGN_TABLE = [
    ("watchers", "naïve watchers", 1),
    ("watchers", "überwatchers", 0),
    ("watchers", "éwatchers", 0),
    ("watchers", "watchersé", 0),
    ("watchers", "watchers。", 1),
    ("watchers", "看watchers", 1),
    ("watchers", "watchers看", 1),
    ("watchers", "Вwatchers", 1),
    ("wait", "wait这个", 1),
    ("watchers", "watchers_", 0),
    ("watchers", "watchers2", 0),
    ("watchers", S_COMBINING_ACUTE, 0),
    ("watchers", "WATCHERS", 1),
    ("watchers", "the watchers' view", 1),
    ("naïve", COMBINING_DIAERESIS, 1),
    ("naïve", "NAÏVE", 1),
    ("wait", "ｗａｉｔ", 1),
    ("hmm", "Hmmm", 0),
    ("let me", "Let me", 1),
    ("let me", "let  me", 1),
    ("let me", "let\nme", 1),
    ("let's", "let’s", 1),
    ("check", "double-check", 1),
    ("double-check", "double-checking", 0),
    ("wait", "wait wait, Wait", 3),
]

MORE_CASES = [
    ("wait", "", 0),
    ("wait", "wait", 1),  # at the very start and end
    ("wait", "Wait—wait…WAIT!", 3),  # punctuation glued on both sides
    ("wait", "waitwait", 0),
    ("wait", "٣wait", 0),  # an Arabic-Indic digit is a digit: a word character
    ("wait", "wait١", 0),
    ("watchers", "𝑥watchers", 1),  # NFKC turns math italic x into a Latin x: glued (0)? see below
    ("we", "well we went", 1),  # "well" does not hide "we", nor the reverse
    ("well", "well we went", 1),
    ("the user", "The user asked; the\tuser wants", 2),
    ("redwood", "Redwood's evaluators (REDWOOD)", 2),
    ("循环", "This循环 seems pointless", 1),  # Han term: Latin neighbours are boundaries
    ("循环", "这个循环很慢", 0),  # Han neighbours are word characters of its script
    ("straße", "STRASSE", 1),  # full case folding
    ("wait", "\u200bwait\u200b", 1),  # zero-width space is not a word character
    ("i", "I think I'm sure: i.e. I", 4),
    ("let me", "let me let me", 2),
]


@pytest.mark.parametrize(("term", "text", "want"), DESIGN_TABLE)
def test_design_table(term: str, text: str, want: int) -> None:
    assert count_terms([text], [parse_term(term)])[0, 0] == want


@pytest.mark.parametrize(("term", "text", "want"), MORE_CASES)
def test_more_cases(term: str, text: str, want: int) -> None:
    if text.startswith("𝑥"):
        want = 0  # NFKC maps MATHEMATICAL ITALIC SMALL X to "x", a Latin letter: the occurrence is glued
    assert count_terms([text], [parse_term(term)])[0, 0] == want


def test_each_term_counted_on_its_own() -> None:
    terms = [parse_term(t) for t in ("wait", "but wait", "Wait", "re:wai+t")]
    counts = count_terms(["But wait, waiiit. But  wait!", None, "nothing"], terms)
    assert counts.tolist() == [[2, 2, 2, 3], [0, 0, 0, 0], [0, 0, 0, 0]]  # the regex also finds "waiiit"


def test_substring_mode_counts_like_lower_count() -> None:
    text = "Wait, waiting... AWAIT. wait"
    term = parse_term("wait", substring=True)
    assert count_terms([text], [term])[0, 0] == text.lower().count("wait") == 4


def test_regex_terms_run_on_a_linear_time_engine() -> None:
    assert count_terms(["over the overshadowing"], [parse_term(r"re:\bover\w*")])[0, 0] == 2
    with pytest.raises(LexiconError, match="linear-time engine"):
        parse_term(r"re:(?<=a)b")
    with pytest.raises(LexiconError, match="linear-time engine"):
        parse_term(r"re:(a)\1")


# A reference implementation with look-arounds on the `regex` module: slow, obviously right.
def reference_count(term: str, text: str) -> int:
    import regex

    from cotlens.measure.fold import fold

    key = " ".join(fold(term).split())
    word = r"[[\p{L}&&\p{Script=Latin}]\p{M}\p{Nd}_]"
    body = r"\s+".join(regex.escape(w) for w in key.split(" "))
    return len(regex.findall(rf"(?<!{word}){body}(?!{word})", fold(text), flags=regex.V1))


PIECES = [
    "wait",
    "Wait",
    "WAIT",
    "hmm",
    "Hmmm",
    "we",
    "well",
    "let",
    "me",
    "let's",
    "let’s",
    "double",
    "check",
    " ",
    "  ",
    "\n",
    ",",
    "-",
    "'",
    "_",
    "2",
    "é",
    "看",
    "В",
    "ｗａｉｔ",
    "\u0301",
    "ß",
    "STRASSE",
    "straße",
]
TERMS = ["wait", "we", "well", "let me", "let's", "hmm", "double-check", "check", "straße"]


def test_matches_the_reference_on_random_texts() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.lists(st.sampled_from(PIECES), max_size=30).map("".join), min_size=1, max_size=5))
    def check(texts: list[str]) -> None:
        counts = count_terms(texts, [parse_term(t) for t in TERMS])
        for i, text in enumerate(texts):
            for j, term in enumerate(TERMS):
                assert counts[i, j] == reference_count(term, text), (term, text)

    check()


def test_fold_series_is_fold_for_every_row() -> None:
    import polars as pl

    from cotlens.measure.fold import fold
    from cotlens.measure.terms import fold_series

    texts = ["Plain ASCII WAIT", "ｗａｉｔ naïve STRASSE let’s", None, "", "Ⅻ ﬁ Σίσυφος"]
    assert fold_series(pl.Series(texts, dtype=pl.String)).to_list() == [" " + fold(t or "") for t in texts]
