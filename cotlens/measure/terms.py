"""Counting term occurrences, exactly as DESIGN.md defines them, vectorized over a batch of texts.

An occurrence is whole when the characters just before and after it are not word characters of the term's own
script (letters of that script, combining marks, digits, underscore). Text and term are folded alike
(`fold.fold`); a term's words match across any run of whitespace; each term is counted on its own.

How it runs fast on the Rust regex engine (polars), which has no look-around: every text gets a leading space,
and a term group is found with `NW(?:t1|t2|...)W?` where NW is one non-word character and W one word character
of the group's script. Each extracted match is its leading boundary, the term, and the next character if that is
a word character; dropping the boundary, it equals the term exactly when the occurrence is whole. The trailing
boundary is never consumed, so adjacent repeats ("wait wait") are both found. Alternatives are tried longest
first, so "well" is not shadowed by "we". Terms made of word characters only cannot overlap one another when
whole, so they share one pass per script; a term with inner spaces or punctuation ("let me", "double-check")
can overlap others and gets a pass of its own; so does each `re:` entry (matched on the folded text, counted as
non-overlapping matches). `--substring` mode counts `text.lower().count(term.lower())` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import regex

from cotlens.errors import LexiconError
from cotlens.measure.fold import fold
from cotlens.measure.unicode import rust_class, script_of

TermKind = Literal["word", "phrase", "regex", "substring"]
WHITESPACE = regex.compile(r"\s+")


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
    scripts = tuple(sorted({s for s in map(script_of, key) if s not in ("Common", "Inherited")})) or ("Any",)
    is_word = regex.fullmatch(r"[\p{L}\p{M}\p{Nd}_]+", key) is not None
    return Term(text, "word" if is_word else "phrase", key, scripts)


def _check_regex(pattern: str, text: str) -> None:
    try:
        pl.Series([""]).str.count_matches(pattern)
    except Exception as e:  # polars raises ComputeError for patterns the linear-time engine refuses
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LexiconError(
            f"term {text!r}: not a regex the linear-time engine accepts (no look-around or backreferences): "
            f"{first}"
        ) from None


@lru_cache(maxsize=32)
def word_class(scripts: tuple[str, ...], negate: bool = False) -> str:
    """Word characters for terms of these scripts: their letters, combining marks, digits, underscore."""
    if "Any" in scripts or "Other" in scripts:
        letters = r"\p{L}"
    else:  # letters (category L) of the scripts: a Latin-script numeral or symbol is not a word character
        letters = "".join(rf"[\p{{L}}&&\p{{Script={s}}}]" for s in scripts)
    return rust_class(rf"[{letters}\p{{M}}\p{{Nd}}_]", negate)


def count_terms(texts: Sequence[str | None] | pa.Array, terms: Sequence[Term]) -> npt.NDArray[np.int64]:
    """Occurrences of each term in each text, shape (len(texts), len(terms)); a missing text counts 0.
    `texts` may be an Arrow string array (a stored column), which avoids converting ASCII texts to Python."""
    series = pl.Series(texts, dtype=pl.String)
    counts = np.zeros((len(series), len(terms)), dtype=np.int64)
    if not len(series) or not terms:
        return counts
    if any(t.kind in ("word", "phrase", "regex") for t in terms):
        folded = fold_series(series)
        for pattern, members, normalize_space in _passes(
            tuple(t for t in terms if t.kind in ("word", "phrase"))
        ):
            _count_pass(folded, pattern, members, normalize_space, terms, counts)
        for j, term in enumerate(terms):
            if term.kind == "regex":
                counts[:, j] = folded.str.count_matches(term.key).fill_null(0).to_numpy()
    if any(t.kind == "substring" for t in terms):
        lowered = pl.Series([t.lower() if t is not None else "" for t in series.to_list()], dtype=pl.String)
        for j, term in enumerate(terms):
            if term.kind == "substring":
                counts[:, j] = lowered.str.count_matches(term.key, literal=True).fill_null(0).to_numpy()
    return counts


def fold_series(series: pl.Series) -> pl.Series:
    """ " " + fold(text) for every text ("" for a missing one). ASCII texts are lowered by polars (for ASCII,
    fold is lower); only the others go through Python's NFKC and case folding."""
    texts = series.fill_null("")
    folded = " " + texts.str.to_lowercase()
    other = np.flatnonzero((texts.str.len_bytes() != texts.str.len_chars()).to_numpy())
    if len(other):
        values = pl.Series([" " + fold(t) for t in texts.gather(other).to_list()], dtype=pl.String)
        folded = folded.scatter(other, values)
    return folded


def _passes(terms: tuple[Term, ...]) -> list[tuple[str, tuple[str, ...], bool]]:
    """(pattern, keys it finds, whether to collapse whitespace in matches) for each extraction pass."""
    out: list[tuple[str, tuple[str, ...], bool]] = []
    by_scripts: dict[tuple[str, ...], set[str]] = {}
    for term in terms:
        if term.kind == "word":
            by_scripts.setdefault(term.scripts, set()).add(term.key)
        else:
            out.append((_pattern([term.key], term.scripts), (term.key,), True))
    for scripts, keys in by_scripts.items():
        out.append((_pattern(sorted(keys), scripts), tuple(sorted(keys)), False))
    return out


def _pattern(keys: list[str], scripts: tuple[str, ...]) -> str:
    alternatives = sorted(keys, key=lambda k: (-len(k), k))
    body = "|".join(r"\s+".join(regex.escape(w) for w in k.split(" ")) for k in alternatives)
    return f"{word_class(scripts, negate=True)}(?:{body}){word_class(scripts)}?"


def _count_pass(
    folded: pl.Series,
    pattern: str,
    keys: tuple[str, ...],
    normalize_space: bool,
    terms: Sequence[Term],
    counts: npt.NDArray[np.int64],
) -> None:
    matches = folded.str.extract_all(pattern).to_arrow()
    rows = np.repeat(np.arange(len(folded)), pc.list_value_length(matches).fill_null(0).to_numpy())
    found = pl.Series(pc.list_flatten(matches)).str.slice(1)  # drop the leading boundary character
    if normalize_space:
        found = found.str.replace_all(r"\s+", " ")
    index = {key: k for k, key in enumerate(keys)}
    # Each match as the index of the key it equals (-1: not whole), then one bincount over (row, key) cells.
    codes = found.replace_strict(index, default=-1, return_dtype=pl.Int64).to_numpy()
    whole = codes >= 0
    cells = np.bincount(rows[whole] * len(keys) + codes[whole], minlength=len(folded) * len(keys))
    per_key = cells.reshape(len(folded), len(keys))
    for j, term in enumerate(terms):  # a key may stand for several terms (the same word in two lexicons)
        if term.kind in ("word", "phrase") and term.key in index:
            counts[:, j] += per_key[:, index[term.key]]
