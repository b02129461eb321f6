"""Counting term occurrences, exactly as the README defines them, vectorized over a batch of texts.

An occurrence is whole when the characters just before and after it are not word characters of the term's own
script (letters of that script, combining marks, digits, underscore). Text and term are folded alike
(`fold.fold`); a term's words match across any run of whitespace; each term is counted on its own.

How it runs fast on the Rust regex engine (polars), which has no look-around: a term group is found with
`(?:^|NW)(?:t1|t2|...)W?` where NW is one non-word character and W one word character of the group's script.
Each extracted match is its leading boundary (none at the start of the text), the term, and the next character
if that is a word character; dropping the boundary, it equals the term exactly when the occurrence is whole.
(A group with a term that starts with a non-word character runs on " " + text instead, the space being the
boundary at the start.) The trailing boundary is never consumed, so adjacent repeats ("wait wait") are both
found (for a term ending in a word character: one ending in a boundary character misses the second of two
glued occurrences, "e.g.e.g."). On most texts a faster pattern finds only the whole occurrences, with ASCII's
word boundary in place of W? (`_Pass`).
Alternatives are tried longest first, so "well" is not shadowed by "we". Terms of one script share a pass, but
for one whose match may consume part of a whole occurrence of another, or the boundary before it ("me" inside
"let me", "check" inside "double-check"): it gets a pass of its own (`_passes`, `_may_overlap`). Each `re:` entry
gets a pass of its own too (matched on the folded text, counted as non-overlapping matches). A pass's matches
repeat a lot ("i", "we"): each distinct one is mapped to its term once, through an Arrow dictionary encoding.
`--substring` mode counts `text.lower().count(term.lower())` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import regex

from cotlens.errors import LexiconError
from cotlens.measure.fold import fold, fold_column, fold_special, special_rows
from cotlens.measure.unicode import rust_class, script_of

if TYPE_CHECKING:  # polars loads in 0.2 s: imported where a text is counted, not by every command
    import polars as pl

TermKind = Literal["word", "phrase", "regex", "substring"]
# Scripts written without spaces between words: a term in them matches wherever it occurs.
NO_SPACE_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar"})
# A word character of any script: a `re:` match starting or ending with one is checked for its boundary.
ANY_WORD = regex.compile(r"[\p{L}\p{M}\p{Nd}_]")
# count_terms' extraction passes: each with the keys (folded terms) it finds.
Passes = tuple[tuple["_Pass", tuple[str, ...]], ...]
WHITESPACE = regex.compile(r"\s+")
# Bumped whenever what counts as an occurrence changes: counts stored at ingest with another version are stale.
MATCHING_VERSION = 2


@dataclass(frozen=True, slots=True)
class Term:
    """A term as written in a lexicon, and how it is matched."""

    text: str  # as written ("Wait", "the user", "re:over\w+")
    kind: TermKind
    key: str  # what is matched: folded words joined by single spaces, the regex, or the lowered substring
    scripts: tuple[str, ...]  # scripts whose letters are word characters around it

    @property
    def label(self) -> str:
        return self.text


def parse_term(text: str, substring: bool = False) -> Term:
    """A lexicon entry as a Term; `re:` entries are regexes, checked to compile on the linear-time engine."""
    text = text.strip()
    if not text:
        raise LexiconError("empty term")
    if text.startswith("re:"):
        pattern = text[3:]
        _check_regex(pattern, text)
        return Term(text, "regex", pattern, ())
    if substring:
        return Term(text, "substring", text.lower(), ())
    key = WHITESPACE.sub(" ", fold(text)).strip()
    written = {s for s in map(script_of, key) if s not in ("Common", "Inherited")}
    # Scripts written without spaces have no word boundary: a term all in them is bounded nowhere (scripts ()),
    # one mixing them with Latin only at its Latin ends (`_Pass.loose`).
    if written & NO_SPACE_SCRIPTS:
        scripts = tuple(sorted(written - NO_SPACE_SCRIPTS))
    else:
        scripts = tuple(sorted(written)) or ("Any",)
    is_word = regex.fullmatch(r"[\p{L}\p{M}\p{Nd}_]+", key) is not None
    return Term(text, "word" if is_word else "phrase", key, scripts)


def _check_regex(pattern: str, text: str) -> None:
    import polars as pl

    try:
        pl.Series([""]).str.count_matches(pattern)
    except Exception as e:  # polars raises ComputeError for patterns the linear-time engine refuses
        # The engine's whole message on one line, without polars' note on the expression it ran.
        message = str(e).split("This error occurred in the following expression")[0]
        message = " ".join(line.strip() for line in message.splitlines() if line.strip()) or "refused"
        raise LexiconError(
            f"term {text!r}: not a regex the linear-time engine accepts (no look-around or backreferences): "
            f"{message}"
        ) from None
    # A regex that matches the empty string (`re:`, `re:x*`, `re:^`) would count an occurrence between characters.
    probes = pl.Series(["", "a", "a b", "1", "\n", "wait"]).str.extract_all(pattern).to_list()
    if any("" in matches for matches in probes if matches):
        raise LexiconError(
            f"term {text!r}: the regex matches the empty string, which is no occurrence of anything; "
            "give a pattern that matches at least one character"
        )


@lru_cache(maxsize=32)
def word_class(scripts: tuple[str, ...], negate: bool = False) -> str:
    """Word characters for terms of these scripts: their letters, combining marks, digits, underscore."""
    return rust_class(_python_word_class(scripts), negate)


@lru_cache(maxsize=32)
def _python_word_class(scripts: tuple[str, ...]) -> str:
    if not scripts:  # a term written without spaces: nothing around it is part of its word
        return "(?!)"
    if "Any" in scripts or "Other" in scripts:
        letters = r"\p{L}"
    else:  # letters (category L) of the scripts: a Latin-script numeral or symbol is not a word character
        letters = "".join(rf"[\p{{L}}&&\p{{Script={s}}}]" for s in scripts)
    return rf"[{letters}\p{{M}}\p{{Nd}}_]"


def count_terms(
    texts: Sequence[str | None] | pa.Array, terms: Sequence[Term], passes: Passes | None = None
) -> npt.NDArray[np.int64]:
    """Occurrences of each term in each text, shape (len(texts), len(terms)); a missing text counts 0.
    `texts` may be an Arrow string array (a stored column), which avoids converting ASCII texts to Python.
    passes: term_passes(terms), when the caller made them once for many calls (in another process)."""
    import polars as pl

    series = pl.Series(texts, dtype=pl.String).fill_null("")
    counts = np.zeros((len(series), len(terms)), dtype=np.int64)
    if not len(series) or not terms:
        return counts
    if any(t.kind in ("word", "phrase", "regex") for t in terms):
        rows = _Rows.of(series)
        for pattern, keys in term_passes(terms) if passes is None else passes:
            per_key = _count_pass(rows, pattern, keys)
            # A key may stand for several terms (the same word in two lexicons).
            for j, term in enumerate(terms):
                if term.kind in ("word", "phrase") and term.key in keys:
                    counts[:, j] += per_key[:, keys.index(term.key)]
        for j, term in enumerate(terms):
            if term.kind == "regex":
                counts[:, j] = _count_regex(rows.prefixed(), term)
    if any(t.kind == "substring" for t in terms):
        lowered = pl.Series([t.lower() for t in series.to_list()], dtype=pl.String)
        for j, term in enumerate(terms):
            if term.kind == "substring":
                counts[:, j] = lowered.str.count_matches(term.key, literal=True).fill_null(0).to_numpy()
    return counts


def _count_regex(texts: pl.Series, term: Term) -> npt.NDArray[np.int64]:
    """Whole matches of a `re:` term in each of `texts`: the engine marks its non-overlapping matches in the
    texts that hold one, and each marked match is judged by `regex_match_whole`."""
    counts = np.zeros(len(texts), dtype=np.int64)
    holding = np.flatnonzero(texts.str.contains(term.key).fill_null(False).to_numpy())
    for i, spans in zip(holding, regex_whole_spans(texts.gather(holding), term.key), strict=True):
        counts[i] = len(spans)
    return counts


# Marks put around each regex match: Unicode noncharacters, which text rarely holds (a batch holding both of a
# pair takes the next pair).
MARK_PAIRS = tuple((chr(0xFDD0 + 2 * i), chr(0xFDD1 + 2 * i)) for i in range(16))


def regex_whole_spans(texts: pl.Series, pattern: str) -> list[list[tuple[int, int]]]:
    """The [start, end) spans of each text's whole matches of a regex: the linear-time engine finds the
    non-overlapping matches and marks them; the characters around each decide whether it is whole."""
    opened, closed = next(
        (pair for pair in MARK_PAIRS if not texts.str.contains_any(list(pair)).any()), MARK_PAIRS[0]
    )
    marked = texts.str.replace_all(f"(?:{pattern})", f"{opened}${{0}}{closed}").to_list()
    return [_whole_spans(m, opened, closed) for m in marked]


def _whole_spans(marked: str, opened: str, closed: str) -> list[tuple[int, int]]:
    text = marked.replace(opened, "").replace(closed, "")
    pieces = marked.split(opened)
    spans, position = [], len(pieces[0])
    for piece in pieces[1:]:
        match, _, between = piece.partition(closed)
        spans.append((position, position + len(match)))
        position += len(match) + len(between)
    return [
        (a, b)
        for a, b in spans
        if regex_match_whole(text[a - 1 : a] if a else "", text[a:b], text[b : b + 1])
    ]


def regex_match_whole(before: str, match: str, after: str) -> bool:
    """Whether a `re:` match is a whole occurrence: it neither starts nor ends inside a word of its script (the
    script of its first, resp. last, letter; no boundary for a script written without spaces). `before` and
    `after` are the characters around it ("" for none). An empty match is no occurrence."""
    if not match:
        return False
    return _end_free(match[0], match, before) and _end_free(match[-1], match[::-1], after)


def _end_free(end: str, letters: str, neighbour: str) -> bool:
    if not neighbour or not ANY_WORD.match(end):
        return True
    script = next((s for s in map(script_of, letters) if s not in ("Common", "Inherited")), "Any")
    if script in NO_SPACE_SCRIPTS:
        return True
    return regex.match(_python_word_class((script,)), neighbour, regex.V1) is None


def fold_series(series: pl.Series) -> pl.Series:
    """ " " + fold(text) for every text ("" for a missing one)."""
    return " " + fold_column(series.fill_null(""))


@dataclass
class _Rows:
    """A batch of texts as the passes search them. Most texts fold to their lowercase (every ASCII one; the others
    but the `special` ones, fold.special_rows), and a case-insensitive pattern finds in them as they are what it
    would in their fold: those are searched as they are by a pass with a case-insensitive pattern (`_Pass`), the
    special ones folded. A pass without one searches every text folded (`folded`, made when first needed)."""

    texts: pl.Series  # without missing values
    non_ascii: npt.NDArray[np.intp]  # positions of the texts that are not ASCII
    special: npt.NDArray[np.intp]  # positions of those whose fold is not their lowercase
    special_folded: pl.Series  # their fold
    _folded: pl.Series | None = None
    _beyond_ascii: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)

    @classmethod
    def of(cls, texts: pl.Series) -> _Rows:
        non_ascii = np.flatnonzero((texts.str.len_bytes() != texts.str.len_chars()).to_numpy())
        special = non_ascii[special_rows(texts.gather(non_ascii))]
        return cls(texts, non_ascii, special, fold_special(texts.gather(special)))

    def is_special(self) -> npt.NDArray[np.bool_]:
        holds = np.zeros(len(self.texts), dtype=np.bool_)
        holds[self.special] = True
        return holds

    def folded(self) -> pl.Series:
        """fold(text) for every text."""
        if self._folded is None:
            lowered = self.texts.str.to_lowercase()
            self._folded = (
                lowered.scatter(self.special, self.special_folded) if len(self.special) else lowered
            )
        return self._folded

    def prefixed(self) -> pl.Series:
        """ " " + fold(text) for every text: the space is the boundary before an occurrence at the start."""
        return " " + self.folded()

    def beyond_ascii(self, word_class: str) -> npt.NDArray[np.bool_]:
        """Per text, whether its fold holds a character of the class (a Rust-regex class of non-ASCII word
        characters): never for an ASCII text; looked for in a special one's fold, in another as it is (for those
        the two agree: lowercasing keeps a letter's script, and a mark or digit as it is)."""
        if word_class not in self._beyond_ascii:
            holds = np.zeros(len(self.texts), dtype=np.bool_)
            plain = np.setdiff1d(self.non_ascii, self.special, assume_unique=True)
            holds[plain] = self.texts.gather(plain).str.contains(word_class).to_numpy()
            holds[self.special] = self.special_folded.str.contains(word_class).to_numpy()
            self._beyond_ascii[word_class] = holds
        return self._beyond_ascii[word_class]


def term_passes(terms: Sequence[Term]) -> Passes:
    """How count_terms finds the words and phrases among the terms: its extraction passes. Making them takes
    0.05-0.1 s (word classes as explicit code point ranges, overlap checks); a caller that counts in worker
    processes makes them once and hands them over."""
    return _passes(tuple(t for t in terms if t.kind in ("word", "phrase")))


@lru_cache(maxsize=8)  # the same terms for every row group
def _passes(terms: tuple[Term, ...]) -> tuple[tuple[_Pass, tuple[str, ...]], ...]:
    """(pass, keys it finds) for each extraction pass. Each script's terms share one pass, but for those that
    may overlap one already in it (`_may_overlap`): each of those gets a pass of its own. Words come first: they
    never overlap one another. One overlap is allowed in a pass: a key that ends with another after a boundary
    ("let me", "me"; "double-check", "check"). A whole occurrence of the longer then always holds one of the
    shorter, which its match hides, so the shorter's count adds the longer's (`_Pass.suffixes`). The benchmark's
    50 terms share one pass."""
    shared: dict[tuple[str, ...], list[str]] = {}
    alone: list[tuple[tuple[str, ...], list[str]]] = []
    words_first = sorted(terms, key=lambda t: t.kind != "word")
    loose: list[tuple[str, tuple[str, ...]]] = []
    for key, scripts in dict.fromkeys((t.key, t.scripts) for t in words_first):
        if _loose_end(key[0]) or _loose_end(key[-1]):
            loose.append((key, scripts))
            continue
        keys = shared.setdefault(scripts, [])
        if any(_may_overlap(key, k, scripts, suffix_ok=True) for k in keys):
            alone.append((scripts, [key]))
        else:
            keys.append(key)
    passes = [*((scripts, keys) for scripts, keys in shared.items()), *alone]
    made = [(_Pass.of(tuple(sorted(keys)), scripts), tuple(sorted(keys))) for scripts, keys in passes]
    return (*made, *((_Pass.loose(key, scripts), (key,)) for key, scripts in loose))


def bounded_ends(key: str, scripts: tuple[str, ...]) -> tuple[bool, bool]:
    """Whether the boundary rule applies at a term's start and at its end: not at a letter of a script written
    without spaces, nor at a character that is no word character of its scripts."""
    word = regex.compile(_python_word_class(scripts), regex.V1)
    return tuple(not _loose_end(c) and word.match(c) is not None for c in (key[0], key[-1]))  # type: ignore[return-value]


def _loose_end(char: str) -> bool:
    """Whether a term's end is a letter of a script written without spaces (no boundary rule there)."""
    return script_of(char) in NO_SPACE_SCRIPTS


ASCII_WORD = regex.compile(r"[0-9a-z_]")
# Keys from which a pass searches ASCII texts case-insensitively rather than lowercased (measured on 254 MB of
# ASCII reasoning: 48 keys, the same 0.8 s either way but for 0.25 s of lowercasing; "let me" alone, 0.37 s
# case-insensitive against 0.12 s lowercased).
CASELESS_MIN_KEYS = 8


@dataclass(frozen=True, slots=True)
class _Pass:
    """One extraction pass: its patterns and which texts each one runs on.

    `exact` is the pattern of the module docstring (a boundary, a key, one more word character if there is one),
    on folded text; a match is whole when it equals boundary + key. `whole` finds only whole occurrences, with
    ASCII's word boundary after the key, at a third fewer matches for a quarter less time: it runs on a text in
    which every word character of the pass's script is ASCII (every ASCII text, and the non-ASCII texts without
    an accented letter, a mark, another digit...), when its keys start and end with an ASCII word character and
    its script's word characters include ASCII's (Latin). There a character is a word character exactly when
    ASCII says so."""

    exact: str
    prefixed: bool  # `exact` runs on " " + fold(text); else it matches at the start of the text too
    whole: str | None  # None: `exact` runs on every text
    # `whole` and `exact`, case-insensitive: they run on the texts whose fold is their lowercase as they are, rather
    # than on their lowercase, when the pass has many keys (with a few, lowercasing pays: the engine skips ahead
    # to a literal in lowercase text)
    whole_caseless: str | None
    exact_caseless: str | None
    non_ascii_word: str | None  # the script's word characters outside ASCII: a text with one takes `exact`
    word: regex.Pattern[str]
    # (i, j): keys[j] ends keys[i] after a boundary, so each whole occurrence of keys[i] holds one of keys[j]
    suffixes: tuple[tuple[int, int], ...]
    # False for a pass whose key starts with a letter of a script written without spaces: no boundary before it
    bounded_start: bool = True

    @classmethod
    def loose(cls, key: str, scripts: tuple[str, ...]) -> _Pass:
        """The pass of one key that starts or ends in a script written without spaces: the boundary rule (of its
        other scripts' word characters) only at an end that is not in such a script; none for a key all in them."""
        word = regex.compile(_python_word_class(scripts), regex.V1)
        body = r"\s+".join(regex.escape(w) for w in key.split(" "))
        bounded_start, bounded_end = bounded_ends(key, scripts)
        start = f"(?:^|{word_class(scripts, negate=True)})" if bounded_start else ""
        end = word_class(scripts) + "?" if bounded_end else ""
        return cls(f"{start}(?:{body}){end}", False, None, None, None, None, word, (), bounded_start)

    @classmethod
    def of(cls, keys: tuple[str, ...], scripts: tuple[str, ...]) -> _Pass:
        alternatives = sorted(keys, key=lambda k: (-len(k), k))
        body = "|".join(r"\s+".join(regex.escape(w) for w in k.split(" ")) for k in alternatives)
        word = regex.compile(_python_word_class(scripts), regex.V1)
        suffixes = tuple(
            (i, j)
            for i, a in enumerate(keys)
            for j, b in enumerate(keys)
            if len(a) > len(b) and a.endswith(b) and not word.fullmatch(a[-len(b) - 1])
        )
        boundary = word_class(scripts, negate=True)
        # A match at the start of a text of a key that starts with a boundary would be ambiguous (where is the
        # boundary?): such a pass runs on " " + text.
        if not all(word.match(k) for k in keys):
            return cls(
                f"{boundary}(?:{body}){word_class(scripts)}?", True, None, None, None, None, word, suffixes
            )
        start = f"(?:^|{boundary})"
        exact = f"{start}(?:{body}){word_class(scripts)}?"
        ascii_words = "Latin" in scripts or "Any" in scripts or "Other" in scripts
        ascii_ends = all(ASCII_WORD.fullmatch(k[0]) and ASCII_WORD.fullmatch(k[-1]) for k in keys)
        if not (ascii_words and ascii_ends):
            return cls(exact, False, None, None, None, None, word, suffixes)
        non_ascii_word = rust_class(rf"[{_python_word_class(scripts)}&&[^\x00-\x7F]]")
        whole = f"{start}(?:{body})(?-u:\\b)"
        if len(keys) < CASELESS_MIN_KEYS:
            return cls(exact, False, whole, None, None, non_ascii_word, word, suffixes)
        whole_caseless = f"{start}(?i:{body})(?-u:\\b)"
        exact_caseless = f"{start}(?i:{body}){word_class(scripts)}?"
        return cls(exact, False, whole, whole_caseless, exact_caseless, non_ascii_word, word, suffixes)

    def found(self, match: str) -> str:
        """What a match found: without the boundary before it (a match at the start of a text has none: its first
        character is a word character), whitespace runs as single spaces. The key itself exactly when the
        occurrence is whole."""
        if not self.bounded_start:
            return WHITESPACE.sub(" ", match)
        return WHITESPACE.sub(" ", match if self.word.match(match) and not self.prefixed else match[1:])


def _count_pass(rows: _Rows, search: _Pass, keys: tuple[str, ...]) -> npt.NDArray[np.int64]:
    """Whole occurrences of each key in each text: shape (texts, keys)."""
    found = np.zeros((len(rows.texts), len(keys)), dtype=np.int64)
    if search.whole is None or search.non_ascii_word is None:
        texts = rows.prefixed() if search.prefixed else rows.folded()
        _add_matches(found, np.arange(len(texts)), texts, search.exact, search, keys)
    else:
        beyond = rows.beyond_ascii(search.non_ascii_word)
        if search.whole_caseless is None or search.exact_caseless is None:
            searches = [(np.arange(len(rows.texts)), rows.folded(), search.whole, search.exact, False)]
        else:
            plain = np.flatnonzero(~rows.is_special())
            searches = [
                (plain, rows.texts.gather(plain), search.whole_caseless, search.exact_caseless, True),
                (rows.special, rows.special_folded, search.whole, search.exact, False),
            ]
        for positions, texts, whole, exact, caseless in searches:
            glued = beyond[positions]
            for pattern, picked in ((whole, ~glued), (exact, glued)):
                where = np.flatnonzero(picked)
                if len(where):
                    _add_matches(
                        found, positions[where], texts.gather(where), pattern, search, keys, caseless
                    )
    counts = found.copy()
    for longer, shorter in search.suffixes:  # the occurrences of the shorter that matches of the longer hid
        counts[:, shorter] += found[:, longer]
    return counts


def _add_matches(
    per_key: npt.NDArray[np.int64],
    positions: npt.NDArray[np.intp],
    texts: pl.Series,
    pattern: str,
    search: _Pass,
    keys: tuple[str, ...],
    caseless: bool = False,
) -> None:
    """Add to per_key[positions] each text's whole occurrences of each key, found by `pattern` (caseless: in texts
    as they are, whose fold is their lowercase, so a match is lowercased to be its key). Matches repeat a lot ("i", "we"): each
    distinct one is mapped to its key once, through an Arrow dictionary encoding, then one bincount counts the
    (text, key) cells."""
    if not len(texts):
        return
    matches = texts.str.extract_all(pattern).to_arrow()
    owner = np.repeat(np.arange(len(texts)), pc.list_value_length(matches).fill_null(0).to_numpy())
    distinct = pc.dictionary_encode(pc.list_flatten(matches))
    index = {key: k for k, key in enumerate(keys)}
    code_of = [
        index.get(search.found(match.lower() if caseless else match), -1)
        for match in distinct.dictionary.to_pylist()
    ]
    codes = np.array(code_of, dtype=np.int64)[distinct.indices.to_numpy()]
    whole = codes >= 0
    cells = np.bincount(owner[whole] * len(keys) + codes[whole], minlength=len(texts) * len(keys))
    per_key[positions] += cells.reshape(len(texts), len(keys))


def _may_overlap(a: str, b: str, scripts: tuple[str, ...], suffix_ok: bool = False) -> bool:
    """Whether, in one pass, a match of one key may consume part of a whole occurrence of the other, or the
    boundary character before it (a pass's matches do not overlap). Keys made of word characters never do ("we"
    is not whole inside "well"); "me" is, inside "let me". suffix_ok: but for one key ending the other after a
    boundary, the overlap `_passes` counts back. Conservative: a yes costs only an extra pass."""
    word = regex.compile(_python_word_class(scripts), regex.V1)
    if not (word.fullmatch(a[-1]) and word.fullmatch(b[-1])):
        return True  # its match consumes its last character, which may be the boundary before the other
    return _may_start_inside(a, b, word, suffix_ok) or _may_start_inside(b, a, word, suffix_ok)


def _may_start_inside(a: str, b: str, word: regex.Pattern[str], suffix_ok: bool = False) -> bool:
    """Whether a whole occurrence of b may start where a's match (boundary, a, one more word character) would
    consume its boundary character or its start (but for b ending a, with suffix_ok)."""
    if a != b and b.startswith(a) and not word.fullmatch(b[len(a)]):
        return True  # same start: b, the longer, is tried first and hides a whole a
    for i in range(1, len(a)):  # b starting inside a, after a character of a that is a boundary
        rest = a[i:]
        if word.fullmatch(a[i - 1]):
            continue
        if b == rest and suffix_ok:
            continue  # b ends a: each whole a holds exactly this whole b
        if b.startswith(rest):
            return True  # b overlaps a's end
        if rest.startswith(b) and not word.fullmatch(rest[len(b)]):
            return True  # b is whole inside a ("user" is not, inside "the users")
    return False
