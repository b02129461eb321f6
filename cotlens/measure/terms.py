"""Where a term occurs, exactly as the README defines it: counts over a batch of texts (`count_terms`, for rates,
compare, filter and the counts stored at ingest) and the spans of each occurrence in one text (`find_occurrences`,
for kwic, show and the report), from one definition of each kind of term.

An occurrence is whole when the characters just before and after it are not word characters of the term's own
script (letters of that script, combining marks, digits, underscore). Text and term are folded alike
(`fold.fold`); a term's words match across any run of whitespace; each term is counted on its own.

One engine, Rust's regex engine (polars), finds both counts and spans, with the same patterns:
- a word or phrase: the extraction passes of `measure/passes.py`; a count is the number of a pass's matches that
  found the term, a span one of those matches (located on a pass of the term alone);
- a `re:` term: its non-overlapping matches on the folded text, each kept when `regex_match_whole` says it is
  whole (the same rule, at the script of its first and last letter);
- `--substring`: the non-overlapping occurrences of the lowered term in `text.lower()` (`str.count`).
Spans are found in the folded text built cluster by cluster (`measure/positions.py`), so that each maps back to
the original text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import regex

from cotlens.errors import LexiconError
from cotlens.measure.fold import fold, fold_column
from cotlens.measure.passes import (
    NO_SPACE_SCRIPTS,
    WHITESPACE,
    Rows,
    count_pass,
    match_spans,
    pass_of,
    python_word_class,
)
from cotlens.measure.passes import Passes as Passes  # re-exported: callers hand passes over to count_terms
from cotlens.measure.passes import term_passes as term_passes
from cotlens.measure.positions import folded_with_clusters, lowered_with_clusters
from cotlens.measure.unicode import script_of

if TYPE_CHECKING:  # polars loads in 0.2 s: imported where a text is counted, not by every command
    import polars as pl

TermKind = Literal["word", "phrase", "regex", "substring"]
# A word character of any script: a `re:` match starting or ending with one is checked for its boundary.
ANY_WORD = regex.compile(r"[\p{L}\p{M}\p{Nd}_]")
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
        rows = Rows.of(series)
        for search, keys in term_passes(terms) if passes is None else passes:
            per_key = count_pass(rows, search, keys)
            # A key may stand for several terms (the same word in two lexicons).
            for j, term in enumerate(terms):
                if term.kind in ("word", "phrase") and term.key in keys:
                    counts[:, j] += per_key[:, keys.index(term.key)]
        for j, term in enumerate(terms):
            if term.kind == "regex":
                counts[:, j] = _count_regex(rows.folded(), term)
    if any(t.kind == "substring" for t in terms):
        lowered = pl.Series([t.lower() for t in series.to_list()], dtype=pl.String)
        for j, term in enumerate(terms):
            if term.kind == "substring":
                counts[:, j] = lowered.str.count_matches(term.key, literal=True).fill_null(0).to_numpy()
    return counts


def find_occurrences(text: str, term: Term) -> list[tuple[int, int]]:
    """The [start, end) spans, in the original text, of the term's occurrences: those count_terms counts."""
    if term.kind == "substring":
        lowered = lowered_with_clusters(text)
        return [lowered.original(a, a + len(term.key)) for a in _starts(lowered.text, term.key)]
    folded = folded_with_clusters(text)
    if term.kind == "regex":
        [spans] = regex_whole_spans([folded.text], term.key)
    else:
        spans = pass_of(term).spans(folded.text, term.key)
    return [folded.original(a, b) for a, b in spans]


def _starts(text: str, key: str) -> list[int]:
    """Where the non-overlapping occurrences of `key` start, as `text.count(key)` counts them."""
    starts, at = [], text.find(key)
    while at >= 0:
        starts.append(at)
        at = text.find(key, at + len(key))
    return starts


def _count_regex(texts: pl.Series, term: Term) -> npt.NDArray[np.int64]:
    """Whole matches of a `re:` term in each of `texts` (folded): the texts that hold a match are located."""
    counts = np.zeros(len(texts), dtype=np.int64)
    holding = np.flatnonzero(texts.str.contains(term.key).fill_null(False).to_numpy())
    for i, spans in zip(holding, regex_whole_spans(texts.gather(holding).to_list(), term.key), strict=True):
        counts[i] = len(spans)
    return counts


def regex_whole_spans(texts: Sequence[str], pattern: str) -> list[list[tuple[int, int]]]:
    """The [start, end) spans of each text's whole matches of a regex: the engine's non-overlapping matches,
    each judged by the characters around it."""
    return [
        [
            (a, b)
            for a, b in spans
            if regex_match_whole(text[a - 1 : a] if a else "", text[a:b], text[b : b + 1])
        ]
        for text, spans in zip(texts, match_spans(texts, pattern), strict=True)
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
    return regex.match(python_word_class((script,)), neighbour, regex.V1) is None


def fold_series(series: pl.Series) -> pl.Series:
    """ " " + fold(text) for every text ("" for a missing one)."""
    return " " + fold_column(series.fill_null(""))
