"""Character classes built from one Unicode reference, the `regex` module's tables, and written out as explicit
code point ranges so that the Rust regex engine (polars) applies exactly the same classes as Python code does.
(Polars' own \\p{Latin} follows a different Unicode version: 255 code points differ.)"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import regex

from cotlens.runtime.cache import read_cached, write_cached


@lru_cache(maxsize=1)
def _all_code_points() -> str:
    """Every code point but the surrogates, in order (built through UTF-32: 50x faster than chr() in a loop)."""
    points = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    points = points[(points < 0xD800) | (points > 0xDFFF)]
    return points.astype("<u4").tobytes().decode("utf-32-le")


@lru_cache(maxsize=64)
def code_point_ranges(python_class: str) -> tuple[tuple[int, int], ...]:
    """The code points a `regex` character class matches, as sorted inclusive ranges. Matching every code point
    takes about 0.03 s a class, in every process that measures text (each worker too), so they are kept in the
    cache (runtime/cache.py) under the class, this module's source and the `regex` module's version (its
    Unicode tables)."""
    key = [python_class, Path(__file__).read_bytes(), regex.__version__, sys.maxunicode]
    kept = read_cached(CACHE_NAME, key)
    if kept is not None and len(kept) % 8 == 0:  # pairs of 32-bit code points; a damaged file is built again
        return tuple((int(a), int(b)) for a, b in np.frombuffer(kept, dtype="<u4").reshape(-1, 2).tolist())
    ranges = _matched_ranges(python_class)
    write_cached(CACHE_NAME, key, np.array(ranges, dtype="<u4").reshape(-1, 2).tobytes())
    return ranges


CACHE_NAME = "code-point-ranges"


def _matched_ranges(python_class: str) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    # V1: nested sets and intersections ("[[\p{L}&&\p{Script=Latin}]\p{M}]").
    for m in regex.finditer(python_class + "+", _all_code_points(), flags=regex.V1):
        first, last = ord(m.group()[0]), ord(m.group()[-1])
        # Runs in the string of all code points are contiguous except across the surrogate gap.
        if first <= 0xD7FF < last:
            ranges += [(first, 0xD7FF), (0xE000, last)]
        else:
            ranges.append((first, last))
    return tuple(ranges)


@lru_cache(maxsize=64)
def rust_class(python_class: str, negate: bool = False) -> str:
    """The same class as a Rust-regex class of explicit ranges: `[\\x{41}-\\x{5A}...]`."""
    parts = "".join(
        f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}"
        for a, b in code_point_ranges(python_class)
    )
    return f"[{'^' if negate else ''}{parts}]"


# Scripts cotlens names, in the order they are tried; a letter of any other script is "Other".
KNOWN_SCRIPTS = (
    "Latin",
    "Greek",
    "Cyrillic",
    "Armenian",
    "Hebrew",
    "Arabic",
    "Syriac",
    "Thaana",
    "Devanagari",
    "Bengali",
    "Gurmukhi",
    "Gujarati",
    "Oriya",
    "Tamil",
    "Telugu",
    "Kannada",
    "Malayalam",
    "Sinhala",
    "Thai",
    "Lao",
    "Tibetan",
    "Myanmar",
    "Georgian",
    "Hangul",
    "Ethiopic",
    "Cherokee",
    "Khmer",
    "Mongolian",
    "Hiragana",
    "Katakana",
    "Bopomofo",
    "Han",
    "Yi",
    "Common",
    "Inherited",
)


@lru_cache(maxsize=1)
def _script_patterns() -> tuple[tuple[str, regex.Pattern[str]], ...]:
    return tuple((name, regex.compile(rf"\p{{Script={name}}}")) for name in KNOWN_SCRIPTS)


def script_of(char: str) -> str:
    """The Unicode Script property of one character, among KNOWN_SCRIPTS, else "Other"."""
    for name, pattern in _script_patterns():
        if pattern.match(char):
            return name
    return "Other"
