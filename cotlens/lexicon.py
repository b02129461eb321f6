"""Lexicons: named lists of terms. Built-in ones are data files in `cotlens/lexicons/` (one term a line, `#`
comments, each term's source in its comment); users pass their own files (`--lexicon PATH`) or terms
(`--term WORD`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from cotlens.errors import LexiconError
from cotlens.measure.terms import MATCHING_VERSION, Term, parse_term
from cotlens.suggest import did_you_mean

CUSTOM = "terms"  # the lexicon that --term entries form


@dataclass(frozen=True, slots=True)
class Lexicon:
    name: str
    terms: tuple[Term, ...]
    source: str  # "built-in" or a file path


def builtin_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".txt")
        for p in resources.files("cotlens.lexicons").iterdir()
        if p.name.endswith(".txt")
    )


@lru_cache(maxsize=1)
def builtin_lexicons() -> tuple[Lexicon, ...]:
    """Every built-in lexicon: their counts are stored at ingest, per transcript and text."""
    return tuple(load_lexicon(name) for name in builtin_names())


def lexicon_spans(lexicons: list[Lexicon]) -> list[tuple[int, int]]:
    """Each lexicon's [start, end) among all the lexicons' terms laid end to end."""
    spans, start = [], 0
    for lexicon in lexicons:
        spans.append((start, start + len(lexicon.terms)))
        start += len(lexicon.terms)
    return spans


def stored_key(lexicon: str, term: Term) -> str:
    """A term's key (and its metric in `compare`): `lexicon:term`."""
    return f"{lexicon}:{term.label}"


def rate_keys(lexicons: list[Lexicon]) -> list[str]:
    """The rates these lexicons name (compare's rate metrics, filter's `rate(...)`): each term's key, then each
    lexicon's total by the lexicon's name."""
    return [stored_key(lex.name, t) for lex in lexicons for t in lex.terms] + [lex.name for lex in lexicons]


@lru_cache(maxsize=1)
def builtin_keys() -> tuple[str, ...]:
    """The built-in lexicons' terms in the order their counts are stored."""
    return tuple(stored_key(lex.name, t) for lex in builtin_lexicons() for t in lex.terms)


def stored_positions(lexicons: list[Lexicon]) -> tuple[int, ...] | None:
    """Where each term of these lexicons is among the stored counts, or None when some is not stored (a --term,
    a lexicon file, --substring): then counts come from the text."""
    if not all(lex.source == "built-in" and lex in builtin_lexicons() for lex in lexicons):
        return None
    order = {key: i for i, key in enumerate(builtin_keys())}
    return tuple(order[stored_key(lex.name, t)] for lex in lexicons for t in lex.terms)


@lru_cache(maxsize=1)
def builtin_fingerprint() -> str:
    """What stored counts were counted with: the built-in lexicons' terms as matched, and the matching rules
    (and their storage: a list since the first release)."""
    matched = repr(("list", MATCHING_VERSION, [(lex.name, lex.terms) for lex in builtin_lexicons()]))
    return hashlib.blake2b(matched.encode(), digest_size=8).hexdigest()


@lru_cache(maxsize=32)
def _builtin_text(name: str) -> str:
    return (resources.files("cotlens.lexicons") / f"{name}.txt").read_text(encoding="utf-8")


def parse_lexicon(name: str, text: str, source: str, substring: bool = False) -> Lexicon:
    terms: list[Term] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        entry = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not entry:
            continue
        try:
            terms.append(parse_term(entry, substring))
        except LexiconError as e:
            raise LexiconError(f"{source}, line {lineno}: {e}") from None
    if not terms:
        raise LexiconError(f"lexicon {source} has no terms")
    return Lexicon(name, tuple(dict.fromkeys(terms)), source)


def load_lexicon(spec: str, substring: bool = False) -> Lexicon:
    """A built-in lexicon by name, or a lexicon file by path (named after the file)."""
    if spec in builtin_names():
        return parse_lexicon(spec, _builtin_text(spec), "built-in", substring)
    path = Path(spec)
    if not path.is_file():
        hint = did_you_mean(spec, builtin_names()) or f"; built-in: {', '.join(builtin_names())}"
        raise LexiconError(f"no built-in lexicon or file {spec!r}{hint}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LexiconError(f"cannot read lexicon {spec}: {e}") from None
    return parse_lexicon(path.stem, text, str(path), substring)


def select_lexicons(specs: list[str], terms: list[str], substring: bool = False) -> list[Lexicon]:
    """The lexicons a command uses: those named, plus --term entries; all built-in ones when none is given."""
    lexicons = [load_lexicon(s, substring) for s in specs]
    if terms:
        lexicons.append(parse_lexicon(CUSTOM, "\n".join(terms), "--term", substring))
    if not lexicons:
        lexicons = [load_lexicon(name, substring) for name in builtin_names()]
    return lexicons
