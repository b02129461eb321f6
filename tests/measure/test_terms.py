"""Term occurrence, the README table of literal cases and more awkward ones."""

from __future__ import annotations

from pathlib import Path

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
    ("检查", "我需要再检查一下", 1),
    ("re:over\\w+", "it covers the overshadow", 1),
]

# Scripts written without spaces, Latin ends of mixed terms, regex terms: the boundary rule where it belongs.
BOUNDARY_CASES = [
    ("检查", "我需要再检查一下", 1),  # Han: no word boundary
    ("检查", "检查检查", 2),  # adjacent repeats
    ("循环", "这个循环很慢", 1),
    ("ありがとう", "どうもありがとうございます", 1),  # Hiragana
    ("テスト", "ユニットテストです", 1),  # Katakana
    ("ครับ", "ขอบคุณครับผม", 1),  # Thai
    ("ai模型", "用ai模型做", 1),  # Latin start bounded, Han end free
    ("ai模型", "xai模型", 0),  # a Latin letter glued to the Latin end
    ("ai模型", "ai模型x", 1),  # nothing glued to a Han end counts
    ("模型ai", "模型aix", 0),
    ("模型ai", "这个模型ai, ok", 1),
    ("re:over\\w+", "it covers the overshadow", 1),  # "covers": starts inside a word
    ("re:over\\w+", "government overshadow overt", 2),
    ("re:wait", "waitwait wait", 1),
    ("re:wai+t", "waiiit! waiiitx", 1),  # ends inside a word
    ("re:看", "看看", 2),  # a regex in Han: no boundary
    ("re:ab", "abcab ab", 1),  # the second "ab" follows "c": not whole either
    ("re:\\d+", "x12 34", 1),  # digits are word characters around a digit run
    ("re:over", "看over看", 1),  # other-script neighbours are boundaries
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
    ("循环", "这个循环很慢", 1),  # Han is written without spaces: no boundary rule
    ("straße", "STRASSE", 1),  # full case folding
    ("wait", "\u200bwait\u200b", 1),  # zero-width space is not a word character
    ("i", "I think I'm sure: i.e. I", 4),
    ("let me", "let me let me", 2),
]


@pytest.mark.parametrize(("term", "text", "want"), DESIGN_TABLE)
def test_design_table(term: str, text: str, want: int) -> None:
    assert count_terms([text], [parse_term(term)])[0, 0] == want


@pytest.mark.parametrize(("term", "text", "want"), BOUNDARY_CASES)
def test_boundaries_by_script(term: str, text: str, want: int) -> None:
    assert count_terms([text], [parse_term(term)])[0, 0] == want
    assert count_terms([text], [parse_term(term, substring=True)])[0, 0] >= want  # --substring stays raw


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


def test_regex_terms_match_the_folded_text_itself() -> None:
    # The space put before a text for the boundary of words is no part of it: a regex neither matches it nor
    # loses the start of the text to it.
    texts = ["a b", "wait here", "Wait\nwait"]
    terms = [parse_term(r"re:\s"), parse_term("re:^wait"), parse_term("re:(?m)^wait")]
    assert count_terms(texts, terms).tolist() == [[1, 0, 0], [1, 1, 1], [1, 1, 2]]


def test_a_verbose_regex_with_a_comment_is_counted_and_located() -> None:
    from cotlens.measure.terms import find_occurrences

    term, text = parse_term("re:(?x) wa+it  # a comment ends the pattern"), "Wait, waaait; awaiting"
    assert count_terms([text], [term])[0, 0] == 2
    assert [text[a:b] for a, b in find_occurrences(text, term)] == ["Wait", "waaait"]


def test_text_holding_every_mark_is_still_counted_and_located() -> None:
    from cotlens.measure.passes import MARK_PAIRS
    from cotlens.measure.terms import find_occurrences

    marks = "".join(a + b for a, b in MARK_PAIRS)
    text = f"{marks} wait{marks}, overshadow {marks}"
    for term, found in (("wait", "wait"), ("re:over\\w+", "overshadow")):
        spans = find_occurrences(text, parse_term(term))
        assert [text[a:b] for a, b in spans] == [found]
        assert count_terms([text, "wait"], [parse_term(term)])[0, 0] == 1


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
    "É",
    "NAÏVE",
    "Ω",
    "I",
    "i",
    "\t",
    "—",
    "’",
    "。",
    "١",
    "Ⅻ",
    "\u212a",  # KELVIN SIGN: folds to "k"
    "ſ",  # LATIN SMALL LETTER LONG S: folds to "s"
    "wait",
    "Wait",
    "WAIT",
    "oh",
    "too",
    "tool",
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
    "the",
    "User",
    "users",
    "e.g.",
    "x",
    "y",
    "z",
    ".",
]
# Terms that may share an extraction pass and terms that must not: "user" inside "the user", "x-y" and "yz"
# overlapping after a boundary. (Not "e.g.": a term ending in a boundary character misses the second of two
# glued occurrences, "e.g.e.g.", since its match consumes the boundary the second one needs.)
TERMS = [
    "naïve",
    "oh let me",
    "me too",
    "i",
    "k",
    "-y",
    "wait",
    "we",
    "well",
    "let me",
    "let's",
    "hmm",
    "double-check",
    "check",
    "straße",
    "the user",
    "user",
    "users",
    "g",
    "x-y",
    "yz",
    "z",
]


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

    texts = [
        "Plain ASCII WAIT",
        "ｗａｉｔ naïve STRASSE let’s",
        None,
        "",
        "Ⅻ ﬁ Σίσυφος",
        "NAI\u0308VE İstanbul",
    ]
    assert fold_series(pl.Series(texts, dtype=pl.String)).to_list() == [" " + fold(t or "") for t in texts]


def test_passes_share_what_cannot_overlap() -> None:
    from cotlens.lexicon import select_lexicons
    from cotlens.measure.passes import _passes

    lexicons = select_lexicons(
        ["o3-dialect", "epistemic", "eval-awareness", "voice"], ["let me", "double-check"]
    )
    ((search, keys),) = _passes(tuple(t for lexicon in lexicons for t in lexicon.terms))
    assert len(keys) == 48  # 44 words, the user, the assistant, let me, double-check
    # "let me" ends with "me" after a boundary: they share the pass, and "me" counts what "let me" hides.
    suffixes = {(keys[i], keys[j]) for i, j in search.suffixes}
    assert suffixes == {("let me", "me"), ("double-check", "check")}
    # A term that may overlap every other one does not take the shared pass, whatever its place in the lexicon.
    first = _passes(tuple(parse_term(t) for t in ("e.g.", "wait", "hmm")))
    assert sorted(keys for _, keys in first) == [("e.g.",), ("hmm", "wait")]
    # A key that starts another (or sits inside it) still takes a pass of its own: a match of the longer that
    # is not whole ("me tool") would hide a whole occurrence of the shorter.
    prefix = _passes(tuple(parse_term(t) for t in ("me", "me too")))
    assert sorted(keys for _, keys in prefix) == [("me",), ("me too",)]


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("we", "well", False),  # "we" is not whole inside "well"
        ("me", "let me", True),
        ("check", "double-check", True),
        ("user", "the user", True),
        ("user", "the users", False),  # "user" is not whole inside "the users"
        ("us", "the user", False),
        ("x-y", "yz", True),  # "x-yz": the match of "x-y" consumes the boundary before "yz"
        ("e.g.", "wait", True),  # "e.g.wait": the final "." is the boundary before "wait"
        ("the user", "the assistant", False),
    ],
)
def test_may_overlap(a: str, b: str, overlap: bool) -> None:
    from cotlens.measure.passes import _may_overlap

    assert _may_overlap(parse_term(a).key, parse_term(b).key, ("Latin",)) is overlap
    assert _may_overlap(parse_term(b).key, parse_term(a).key, ("Latin",)) is overlap


# Characters where casefold is not lower, NFKC changes the text or joins a character to the one before it, and
# the apostrophes: the cases fold_column either maps from its table or leaves to Python's fold.
FOLD_PIECES = [
    "A",
    "z",
    " ",
    "İ",  # Turkish dotted capital I: casefold "i̇", not one character
    "ı",
    "ß",
    "ẞ",
    "ΣΑΣ",  # final sigma: polars lowers it to "ς", casefold to "σ"
    "Σ",
    "ς",
    "ﬁ",  # ligature: NFKC "fi"
    "ﬆ",
    "ＷＡＩＴ",  # fullwidth
    "ｗ",
    "’",
    "ʼ",
    "\u0301",  # combining acute: joins the character before it
    "\u0345",  # combining ypogegrammeni: casefolds to a letter
    "e",
    "é",
    "ǅ",
    "K",  # Kelvin sign
    "ſ",  # long s
    "µ",
    "Ꭰ",  # Cherokee: casefolds to the capital
    "ꭰ",
    "ᄀ",  # Hangul leading jamo, then a vowel jamo that composes with it
    "\u1161",
    "가",
    "\u11a8",
    "ｶ",
    "\uff9e",  # halfwidth voiced sound mark: NFKC makes it a combining mark
    "…",
    "½",
    "\u0f73",  # Tibetan vowel sign II: decomposes to two combining marks
    "看",
    "В",
]


def test_fold_column_is_fold_on_awkward_texts() -> None:
    import polars as pl
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cotlens.measure.fold import fold, fold_column

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.lists(st.sampled_from(FOLD_PIECES), max_size=12).map("".join), min_size=1, max_size=8))
    def check(texts: list[str]) -> None:
        assert fold_column(pl.Series(texts, dtype=pl.String)).to_list() == [fold(t) for t in texts]

    check()


def test_fold_column_is_fold_for_every_code_point() -> None:
    """Alone, and between ASCII and non-ASCII letters: a polars whose Unicode tables lowercase a character
    differently from this Python's fails here, not silently in a count."""
    import polars as pl

    from cotlens.measure.fold import fold, fold_column
    from cotlens.measure.unicode import _all_code_points

    chars = list(_all_code_points())
    for texts in (chars, [f"Aé{c}Ωb" for c in chars]):
        folded = fold_column(pl.Series(texts, dtype=pl.String)).to_list()
        wrong = [(t, f) for t, f in zip(texts, folded, strict=True) if f != fold(t)]
        assert not wrong, wrong[:10]


def test_characters_outside_the_tables_fold_on_their_own() -> None:
    """The condition under which fold_column's table is exact, for every character it lets through."""
    from cotlens.measure.fold import JOINS_PREVIOUS, _chars, _folds_alone, char_tables
    from cotlens.measure.unicode import _all_code_points

    not_alone = char_tables().not_alone
    joins_previous = frozenset(_chars(JOINS_PREVIOUS))
    wrong = [c for c in _all_code_points() if c not in not_alone and not _folds_alone(c, joins_previous)]
    assert not wrong, [hex(ord(c)) for c in wrong[:20]]


@pytest.mark.parametrize(
    ("term", "text", "want"),
    [
        ("istanbul", "İSTANBUL", 0),  # "İ" casefolds to "i" + combining dot: a mark glued on
        ("i\u0307stanbul", "İstanbul", 1),
        ("straße", "STRAẞE and strasse", 2),
        ("σοφος", "ΣΟΦΟΣ σοφος σοφοσ", 3),  # final sigma folds to σ
        ("fish", "ﬁsh", 1),
        ("wait", "ＷＡＩＴ, Ｗait", 2),
        ("naïve", "a NAI\u0308VE plan, naïve", 2),
        ("let's", "LET’S go, let's", 2),
        ("wait", "ascii wait then 看 wait", 2),
    ],
)
def test_folding_cases(term: str, text: str, want: int) -> None:
    # Among an ASCII text and a missing one: the batch folds its ASCII and other texts apart.
    counts = count_terms(["wait, WAIT", text, None], [parse_term(term), parse_term("wait")])
    assert counts[1, 0] == want
    assert counts[0, 1] == 2


def test_fold_tables_are_cached_and_rebuilt_when_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cotlens.measure import fold

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    built = fold._build_char_tables()
    monkeypatch.setattr(fold, "_tables", [])
    assert fold.char_tables() == built  # built, then written
    (path,) = (tmp_path / "cotlens").glob("fold-tables-*.json")
    monkeypatch.setattr(fold, "_tables", [])
    monkeypatch.setattr(fold, "_build_char_tables", lambda: pytest.fail("read from the cache, not built"))
    assert fold.char_tables() == built
    for damaged in (
        b"{not json",
        b'{"mapping": {"x": 1}, "not_alone": [], "not_alone_class": "", "special_class": ""}',
    ):
        path.write_bytes(damaged)
        assert fold._decode_tables(path.read_bytes()) is None


# Hostile and awkward pieces of text: joiners and direction marks, combining marks, astral characters (emoji, a
# ZWJ sequence, math italic, CJK extension B), case folding that lengthens or shortens ("ß", "İ", "ﬁ", "ŉ", "ẞ",
# final sigma, the ypogegrammeni mark) or that a caseless engine sees otherwise (long s, Kelvin sign, titlecase
# "ǅ", Cherokee), CJK and Arabic, newlines and CRLF, a character used to mark matches.
HOSTILE_PIECES = [
    *(
        "wait",
        "Wait",
        "WAIT",
        "ｗａｉｔ",
        "waiit",
        "let",
        "me",
        "e.g.",
        "double",
        "check",
        "-",
        "hmm",
        "well",
        "we",
    ),
    *("straße", "STRASSE", "ẞ", "ß", "İ", "ﬁ", "ne", "ŉ", "Σ", "ς", "\u0345", "ing", "2", "_", "'", "’", "."),
    *("检查", "检", "查", "AI", "ai", "模型", "مرحبا", "١٢", "ſ", "\u212a", "ǅ", "Ꭰ", "ꭰ"),
    *(" ", "  ", "\n", "\r\n", "\t", "\u200d", "\u200c", "\u200f", "\u202e", "\u061c"),
    *("\u0301", "e\u0301", "😀", "👩\u200d💻", "𝑥", "\U00020000", "\ufdd0", "\ufdd1"),
]
HOSTILE_TERMS = [
    *("wait", "let me", "e.g.", "check", "double-check", "straße", "ﬁne", "İ", "we", "well"),
    *("检查", "ai模型", "مرحبا", "ς"),
    *(r"re:\bwa+it\b|hmm+", r"re:[a-z]+ing|[检查]+", r"re:\d+|(?i)ss", r"re:\s+me\b", r"re:[^\s\w]"),
]


def test_spans_are_as_many_as_counts_on_hostile_text() -> None:
    """find_occurrences (one text, one term at a time) finds as many occurrences as count_terms counts (a batch
    of texts, every term at once: shared passes, fast paths), each a non-empty span inside the text, in order."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cotlens.measure.terms import find_occurrences

    terms = [parse_term(t) for t in HOSTILE_TERMS]
    plain = [
        "wait, let me check: hmm well",
        "e.g. straße AI模型 检查",
    ]  # ASCII and unspecial texts in the batch

    @settings(max_examples=120, deadline=None)
    @given(
        st.lists(st.lists(st.sampled_from(HOSTILE_PIECES), max_size=16).map("".join), min_size=1, max_size=3)
    )
    def check(texts: list[str]) -> None:
        batch = [*texts, *plain]
        counts = count_terms(batch, terms)
        for i, text in enumerate(texts):
            for j, term in enumerate(terms):
                spans = find_occurrences(text, term)
                assert len(spans) == counts[i, j], (term.text, text, spans)
                ends = [0, *(edge for span in spans for edge in span), len(text)]
                assert ends == sorted(ends) and all(a < b for a, b in spans), (term.text, text, spans)

    check()


def test_a_pass_of_a_few_keys_bounded_on_both_sides_by_ascii_boundaries() -> None:
    """A pass of fewer than 8 keys finds them in ASCII text with a word boundary on both sides (passes.FEW_KEYS_WHOLE,
    consuming no character): at the start and end of a text, after punctuation, across whitespace runs, in
    repeats, never glued to a letter, digit or underscore; a text with an accented letter takes the exact pattern."""
    from cotlens.measure.passes import FEW_KEYS_WHOLE
    from cotlens.measure.terms import term_passes

    terms = [parse_term(t) for t in ("wait", "let me", "hmm", "double-check")]
    [(search, _)] = term_passes(terms)
    assert search.whole == FEW_KEYS_WHOLE.format(r"double\-check|let\s+me|wait|hmm")
    texts = [
        "wait",
        "Wait, wait... WAIT!waitwait wait",
        "_wait wait_ 2wait wait2 x-wait-y (wait)",
        "let  me\nlet\tme letme let-me",
        "hmm-hmm hmmm double-check double-checked re-double-check",
        "é wait éwait waité wait",  # an accented letter: the exact pattern
        "— wait — 检查wait",  # non-ASCII, no Latin letter: whole
    ]
    counts = count_terms(texts, terms).tolist()
    assert counts == [
        [1, 0, 0, 0],
        [4, 0, 0, 0],
        [2, 0, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 2, 2],
        [2, 0, 0, 0],
        [2, 0, 0, 0],
    ]
