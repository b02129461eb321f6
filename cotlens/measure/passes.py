"""How words and phrases are found on the Rust regex engine (polars), fast: the extraction passes that
`terms.count_terms` counts with and `terms.find_occurrences` locates with.

The engine has no look-around: a term group is found with `(?:^|NW)(?:t1|t2|...)W?` where NW is one non-word
character and W one word character of the group's script. Each extracted match is its leading boundary (none at
the start of the text), the term, and the next character if that is a word character; dropping the boundary, it
equals the term exactly when the occurrence is whole (`_Pass.found`). (A group with a term that starts with a
non-word character runs on " " + text instead, the space being the boundary at the start.) The trailing boundary
is never consumed, so adjacent repeats ("wait wait") are both found (for a term ending in a word character: one
ending in a boundary character misses the second of two glued occurrences, "e.g.e.g."). On most texts a faster
pattern finds only the whole occurrences, with ASCII's word boundary in place of W? (`_Pass`).
Alternatives are tried longest first, so "well" is not shadowed by "we". Terms of one script share a pass, but
for one whose match may consume part of a whole occurrence of another, or the boundary before it ("me" inside
"let me", "check" inside "double-check"): it gets a pass of its own (`_passes`, `_may_overlap`). A pass's
matches repeat a lot ("i", "we"): each distinct one is mapped to its term once, through an Arrow dictionary
encoding.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc
import regex

from cotlens.errors import CotlensError
from cotlens.measure.fold import fold_special, special_rows
from cotlens.measure.unicode import rust_class, script_of

if TYPE_CHECKING:  # polars loads in 0.2 s: imported where a text is counted, not by every command
    import polars as pl

    from cotlens.measure.terms import Term

# Scripts written without spaces between words: a term in them matches wherever it occurs.
NO_SPACE_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar"})
WHITESPACE = regex.compile(r"\s+")
# count_terms' extraction passes: each with the keys (folded terms) it finds.
Passes = tuple[tuple["_Pass", tuple[str, ...]], ...]
# Marks put around each match to read where it is: Unicode noncharacters, which text rarely holds (a batch holding
# both of a pair takes the next pair).
MARK_PAIRS = tuple((chr(0xFDD0 + 2 * i), chr(0xFDD1 + 2 * i)) for i in range(16))


@lru_cache(maxsize=32)
def word_class(scripts: tuple[str, ...], negate: bool = False) -> str:
    """Word characters for terms of these scripts: their letters, combining marks, digits, underscore."""
    return rust_class(python_word_class(scripts), negate)


@lru_cache(maxsize=32)
def python_word_class(scripts: tuple[str, ...]) -> str:
    if not scripts:  # a term written without spaces: nothing around it is part of its word
        return "(?!)"
    if "Any" in scripts or "Other" in scripts:
        letters = r"\p{L}"
    else:  # letters (category L) of the scripts: a Latin-script numeral or symbol is not a word character
        letters = "".join(rf"[\p{{L}}&&\p{{Script={s}}}]" for s in scripts)
    return rf"[{letters}\p{{M}}\p{{Nd}}_]"


def match_spans(texts: Sequence[str], pattern: str) -> list[list[tuple[int, int]]]:
    """The [start, end) spans of the engine's non-overlapping matches of a pattern in each text: the engine puts a
    pair of marks around each match, characters no text of the batch holds, and their places are read back."""
    pair = next((p for p in MARK_PAIRS if not any(p[0] in t or p[1] in t for t in texts)), None)
    if pair is None:  # a batch holding every pair (hostile text): each text with marks of its own
        return [_marked_spans([t], pattern, _free_pair(t))[0] for t in texts]
    return _marked_spans(texts, pattern, pair)


def _marked_spans(texts: Sequence[str], pattern: str, marks: tuple[str, str]) -> list[list[tuple[int, int]]]:
    import polars as pl

    opened, closed = marks
    marked = pl.Series(texts, dtype=pl.String).str.replace_all(pattern, f"{opened}${{0}}{closed}")
    return [list(_read_marks(m, opened, closed)) for m in marked.to_list()]


def _read_marks(marked: str, opened: str, closed: str) -> Iterator[tuple[int, int]]:
    pieces = marked.split(opened)
    position = len(pieces[0])
    for piece in pieces[1:]:
        match, _, between = piece.partition(closed)
        yield position, position + len(match)
        position += len(match) + len(between)


def _free_pair(text: str) -> tuple[str, str]:
    """Two characters the text does not hold, private-use ones first."""
    held = set(text)
    points = itertools.chain(range(0xF0000, 0x110000), range(0xE000, 0xF0000), range(0xD800))
    free = (chr(p) for p in points if chr(p) not in held)
    pair = (next(free, None), next(free, None))
    if pair[0] is None or pair[1] is None:
        raise CotlensError("a text holds every Unicode character: its matches cannot be located")
    return pair[0], pair[1]


@dataclass
class Rows:
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
    def of(cls, texts: pl.Series) -> Rows:
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


# A cache of its own: a text's many terms do not push count_terms' passes out of theirs.
@lru_cache(maxsize=64)
def pass_of(term: Term) -> _Pass:
    """The pass that finds a word or phrase when it is counted alone."""
    ((search, _),) = _passes.__wrapped__((term,))
    return search


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
    word = regex.compile(python_word_class(scripts), regex.V1)
    return tuple(not _loose_end(c) and word.match(c) is not None for c in (key[0], key[-1]))  # type: ignore[return-value]


def _loose_end(char: str) -> bool:
    """Whether a term's end is a letter of a script written without spaces (no boundary rule there)."""
    return script_of(char) in NO_SPACE_SCRIPTS


ASCII_WORD = regex.compile(r"[0-9a-z_]")
# The `whole` pattern of a pass of fewer than CASELESS_MIN_KEYS keys: a boundary on both sides, consuming nothing (a
# match is the key itself). Measured on a 20 MB row group of the bench store's reasoning, one core, extracting:
# 2 keys 0.040 s against 0.013 s with the boundary class before them, 5 keys 0.044 against 0.026, 8 keys 0.045
# against 0.029, 12 keys 0.046 against 0.032, 37 keys 0.050 against 0.065 (so many keys keep the class; they are
# searched case-insensitively anyway, where the two take the same time).
FEW_KEYS_WHOLE = "(?-u:\\b)(?:{})(?-u:\\b)"
# Keys from which a pass searches ASCII texts case-insensitively rather than lowercased (measured on 254 MB of
# ASCII reasoning: 48 keys, the same 0.8 s either way but for 0.25 s of lowercasing; "let me" alone, 0.37 s
# case-insensitive against 0.12 s lowercased).
CASELESS_MIN_KEYS = 8


@dataclass(frozen=True, slots=True)
class _Pass:
    """One extraction pass: its patterns and which texts each one runs on.

    `exact` is the pattern of the module docstring (a boundary, a key, one more word character if there is one),
    on folded text; a match is whole when it equals boundary + key. `whole` finds only whole occurrences, with
    ASCII's word boundary after the key (and before it, for a few keys: FEW_KEYS_WHOLE), at a third fewer matches
    for a quarter less time: it runs on a text in which every word character of the pass's script is ASCII
    (every ASCII text, and the non-ASCII texts without an accented letter, a mark, another digit...), when its
    keys start and end with an ASCII word character and its script's word characters include ASCII's (Latin).
    There a character is a word character exactly when ASCII says so."""

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
        word = regex.compile(python_word_class(scripts), regex.V1)
        body = r"\s+".join(regex.escape(w) for w in key.split(" "))
        bounded_start, bounded_end = bounded_ends(key, scripts)
        start = f"(?:^|{word_class(scripts, negate=True)})" if bounded_start else ""
        end = word_class(scripts) + "?" if bounded_end else ""
        return cls(f"{start}(?:{body}){end}", False, None, None, None, None, word, (), bounded_start)

    @classmethod
    def of(cls, keys: tuple[str, ...], scripts: tuple[str, ...]) -> _Pass:
        alternatives = sorted(keys, key=lambda k: (-len(k), k))
        body = "|".join(r"\s+".join(regex.escape(w) for w in k.split(" ")) for k in alternatives)
        word = regex.compile(python_word_class(scripts), regex.V1)
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
        non_ascii_word = rust_class(rf"[{python_word_class(scripts)}&&[^\x00-\x7F]]")
        whole = f"{start}(?:{body})(?-u:\\b)"
        if len(keys) < CASELESS_MIN_KEYS:
            # ASCII's word boundary before the keys too: the engine then finds them by their literals, in 35-60% less
            # time for 2 to 7 keys (FEW_KEYS_WHOLE).
            return cls(exact, False, FEW_KEYS_WHOLE.format(body), None, None, non_ascii_word, word, suffixes)
        whole_caseless = f"{start}(?i:{body})(?-u:\\b)"
        exact_caseless = f"{start}(?i:{body}){word_class(scripts)}?"
        return cls(exact, False, whole, whole_caseless, exact_caseless, non_ascii_word, word, suffixes)

    def skipped(self, match: str) -> int:
        """How many characters of a match come before what it found: its leading boundary, when it consumed one
        (a match at the start of a text has none: its first character is a word character)."""
        if not self.bounded_start:
            return 0
        return 0 if self.word.match(match) and not self.prefixed else 1

    def found(self, match: str) -> str:
        """What a match found: without the boundary before it, whitespace runs as single spaces. The key itself
        exactly when the occurrence is whole."""
        return WHITESPACE.sub(" ", match[self.skipped(match) :])

    def spans(self, folded: str, key: str) -> list[tuple[int, int]]:
        """The [start, end) spans of the key's whole occurrences in a folded text: the matches of `exact` that
        found it (what count_pass counts, for a pass of this key alone)."""
        searched = " " + folded if self.prefixed else folded
        shift = 1 if self.prefixed else 0  # positions in `folded`
        [matches] = match_spans([searched], self.exact)
        return [
            (a + self.skipped(searched[a:b]) - shift, b - shift)
            for a, b in matches
            if self.found(searched[a:b]) == key
        ]


def count_pass(rows: Rows, search: _Pass, keys: tuple[str, ...]) -> npt.NDArray[np.int64]:
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
    boundary, the overlap `passes` counts back. Conservative: a yes costs only an extra pass."""
    word = regex.compile(python_word_class(scripts), regex.V1)
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
