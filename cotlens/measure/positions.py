"""Where a position of a folded (or lowered) text came from in the original text: the folded text is built cluster
by cluster (a character with the combining characters after it), so that each folded position maps back to the
cluster it came from ("ß" → "ss", "ｗ" → "w", "e" + U+0301 → "é"). `terms.find_occurrences` finds occurrences in
the folded text and reports them in the original one.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

import regex

from cotlens.measure.fold import APOSTROPHES, JOINS_PREVIOUS, MAY_CHANGE, fold
from cotlens.measure.unicode import code_point_ranges

# Every character that folding may change (fold.MAY_CHANGE) and the apostrophes fold maps to "'".
FOLDS = MAY_CHANGE[:-1] + "".join(APOSTROPHES) + "]"


@dataclass(frozen=True, slots=True)
class Cluster:
    """Original characters [start, end) that became searched characters [folded_start, folded_end)."""

    folded_start: int
    folded_end: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SearchedText:
    """A text as searched (folded or lowered), with the clusters whose length or content changed; every other
    character is itself, one for one."""

    text: str
    clusters: tuple[Cluster, ...] = ()

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of searched characters [start, end): from the start of the cluster holding the
        first to the end of the cluster holding the last."""
        first = self._original_start(start)
        return first, max(first, self._original_end(end))

    def _original_start(self, position: int) -> int:
        cluster = self._cluster_at(position)
        if cluster is None:
            return position
        if position < cluster.folded_end:
            return cluster.start
        return cluster.end + position - cluster.folded_end

    def _original_end(self, position: int) -> int:
        if position == 0:
            return 0
        cluster = self._cluster_at(position - 1)
        if cluster is None:
            return position
        if position - 1 < cluster.folded_end:
            return cluster.end
        return cluster.end + position - cluster.folded_end

    def _cluster_at(self, position: int) -> Cluster | None:
        """The last cluster starting at or before `position` (it holds it, or precedes it)."""
        i = bisect_right(self.clusters, position, key=_folded_start) - 1
        return self.clusters[i] if i >= 0 else None


def _folded_start(cluster: Cluster) -> int:
    return cluster.folded_start


def folded_with_clusters(text: str) -> SearchedText:
    """fold(text), built cluster by cluster so that positions map back (tests check it equals fold(text))."""
    if text.isascii():  # fold is lower: one character for one
        return SearchedText(text.lower())
    pieces: list[str] = []
    clusters: list[Cluster] = []
    done = length = 0  # original characters consumed; folded characters produced
    for m in _cluster_pattern().finditer(text):
        unchanged = text[done : m.start()]
        folded = fold(m.group())
        pieces += [unchanged, folded]
        length += len(unchanged)
        clusters.append(Cluster(length, length + len(folded), m.start(), m.end()))
        length += len(folded)
        done = m.end()
    pieces.append(text[done:])
    return SearchedText("".join(pieces), tuple(clusters))


def lowered_with_clusters(text: str) -> SearchedText:
    """text.lower() (what --substring searches): one character for one but where lowering lengthens one
    ("İ" → "i̇")."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return SearchedText(lowered)
    clusters: list[Cluster] = []
    length = 0
    for i, char in enumerate(text):
        grown = len(char.lower())
        if grown != 1:
            clusters.append(Cluster(length, length + grown, i, i + 1))
        length += grown
    return SearchedText(lowered, tuple(clusters))


@lru_cache(maxsize=1)
def _cluster_pattern() -> regex.Pattern[str]:
    """A character that folding changes, or any character with the ones after it that do not fold on their
    own (fold.JOINS_PREVIOUS: NFKC reorders or composes them with what precedes, as "e" + U+0301 → "é")."""
    joins_previous = regex.compile(JOINS_PREVIOUS, regex.V1)

    def joins(char: str) -> bool:  # it, or its case folding, decomposes to a character that joins
        folded = unicodedata.normalize("NFKC", char).casefold()
        return any(joins_previous.match(unicodedata.normalize("NFKD", t)[0]) for t in (char, folded))

    joiners = [chr(p) for a, b in code_point_ranges(MAY_CHANGE) for p in range(a, b + 1) if joins(chr(p))]
    return regex.compile(rf"(?s:.){_char_class(joiners)}+|{FOLDS}", regex.V1)


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(regex.escape(c) for c in chars) + "]" if chars else r"[^\s\S]"
