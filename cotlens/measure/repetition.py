"""Repetition statistics of a batch of texts: the Gopher repetition measures and a degenerate-loop flag.

The Gopher measures are those of Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from
Training Gopher" (arXiv:2112.11446), appendix A.1.1 and Table A1 (MassiveText's quality filter thresholds).
No single implementation is followed: where the paper leaves room we state our choice, and where datatrove's
`GopherRepetitionFilter` (huggingface/datatrove, pipeline/filters/gopher_repetition_filter.py), Dolma's `gopher`
tagger (allenai/dolma, taggers/gopher.py) or RedPajama-V2's `rps_doc_frac_chars_*` signals
(togethercomputer/RedPajama-Data, quality_signals/repetitions.py) choose otherwise. The line and paragraph
statistics follow datatrove's definitions (up to how lines are split and compared); the nine n-gram statistics
follow Dolma's and RedPajama's conventions, not datatrove's, so their values differ from datatrove's. An
independent comparison with datatrove on 1,311 real reasoning texts found the line and paragraph verdicts agree
on 99.8-100% of texts and the overall verdict on only 83%. GOPHER_CONVENTIONS says, per statistic, which
convention it follows and how it differs from datatrove's (the `loops` definitions and the README print it).

Conventions, per text (a None text gives None in every column):

- Words are `str.split()` words: maximal runs of characters that are not whitespace (`str.isspace`), with
  punctuation attached and case kept ("Wait," and "wait" differ). Dolma splits the same way; datatrove uses an
  NLTK/spaCy word tokenizer (punctuation becomes tokens of its own), RedPajama lower-cases and drops punctuation.
  Text without spaces (Chinese, Japanese) is one word per space-free run, so the n-gram measures say little about
  it; the line, paragraph and loop measures do not depend on words.
- A line is a piece of text between "\\n" characters that has a word; a paragraph is a run of such lines with no
  whitespace-only line between them, so paragraphs are separated by two or more "\\n" with only whitespace
  between ("\\n\\n", "\\r\\n\\r\\n", "\\n  \\n"). Lines and paragraphs are stripped and compared by their words
  (inner whitespace runs count as equal). datatrove splits lines on `\\n+` and paragraphs on `\\n{2,}` and compares
  them as they are: there a trailing "\\r" or space makes equal lines differ, "\\r\\n\\r\\n" is no paragraph
  break, and a text starting and ending with "\\n" has two empty "lines", one of them a duplicate.
- Duplicate line (paragraph) fraction: lines equal to an earlier line of the text / lines; the first occurrence
  is not a duplicate (datatrove's `find_duplicates`). Duplicate line (paragraph) character fraction: characters
  of the duplicate lines (stripped, no newline) / `len(text)`, all characters, whitespace included, as datatrove.
- Top n-gram character fraction, n = 2, 3, 4: characters of the words covered by the occurrences of the most
  frequent word n-gram / characters of all words, whitespace excluded on both sides (Dolma and RedPajama;
  datatrove counts the n-gram joined by spaces, over `len(text)`). That is count x the n-gram's characters, as
  all three compute it, unless occurrences overlap ("a a a a": bigram "a a" three times): then shared words count
  once, as the paper's "fraction of characters contained within" reads, and the value stays a fraction where the
  implementations go past 1 (3 x 2 / 4 = 1.5 there, 1.0 here). Most frequent counts overlapping occurrences
  (`Counter`); ties go to the n-gram that occurs first (`Counter.most_common`). When no n-gram occurs twice the
  value is 0.0, as in RedPajama; Dolma and datatrove report the first n-gram's share then, which makes any short
  text look repetitive ("hello world" scores 1.0).
- Duplicate n-gram character fraction, n = 5..10: characters of the words covered by word n-grams that occur more
  than once in the text (every occurrence, the first too; a word covered by several counts once) / characters of
  all words. This is the paper's "taking care not to count characters that occur in overlapping n-grams more than
  once" as RedPajama implements it. datatrove scans left to right and counts only the second and later
  occurrences, skipping n words after each, over `len(text)`; Dolma sums count x characters over the repeated
  n-grams, counting overlapping ones again.
- Characters are code points (`len`). A text without characters, lines or words scores 0.0 on what it lacks.

The loop flag (columns `loop`, `loop_unit`, `loop_repeats`) is defined at `find_loop`.

How it runs: two kernels give the same values, and `_gopher_columns` alone chooses between them. The compiled one
(_repetition.c, built at install where a C compiler is; `gopher_kernel()` says whether it was) measures a text in
one pass over its code points: words get dense ids from a hash table, lines and paragraphs are runs of ids, a
bigram is keyed by its two word ids and each longer n-gram by the ids of its two (n-1)-gram halves, and only the
repeated n-grams of one n go on to the next. It compares exactly on every hash match, so none of its results
depends on a hash collision. The numpy path is the reference it is tested against, and what runs without the
compiled kernel: texts go in chunks of about CHUNK_CHARS as one UTF-8 byte array, so no Python object is made per
word. numpy finds whitespace, word boundaries and newlines; a word's key is its bytes (those of an 8-byte load
when it is that short), mixed; a bigram's key combines its two word keys and its text; lines and paragraphs get
polynomial hashes of their word keys. Repeats are found by dictionary-encoding keys with pyarrow (a hash table, no
sort): bigrams first, then each n-gram as the pair of ids of its two (n-1)-gram halves, only where both halves
repeat (an n-gram repeats only then, and nearly all such do). Most bigrams, lines and paragraphs occur once in
their text: a table of counts by the keys' low bits sets aside those alone in their bucket, so only about half the
bigrams reach the hash table. find_loop reads a text's last LOOP_WINDOW characters at most, and of most texts only
that their last few characters occur nowhere before; with the compiled kernel, its pre-check in C rules out nearly
all texts without a loop before any Python runs. Keys are exact up to 64-bit hash collisions of words longer
than 8 bytes, bigrams, lines and paragraphs.
Speed: bench/bench_repetition.py measures both kernels in the same run (bench/README.md has the figures).

One module of about 720 lines: the definitions and their conventions, the numpy kernel that is their reference
(the compiled one is tested against it) and the loop flag are one kernel, declared once (KERNEL); the compiled
twin of its hot loops is _repetition.c.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.measure import Column, Kernel, Metric

Value = float | bool | str | int | None

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)
GOPHER_COLUMNS = (
    "dup_line_frac",
    "dup_para_frac",
    "dup_line_char_frac",
    "dup_para_char_frac",
    *(f"top_{n}gram_char_frac" for n in TOP_NGRAMS),
    *(f"dup_{n}gram_char_frac" for n in DUP_NGRAMS),
)
_GOPHER_MEANINGS = {
    "dup_line_frac": "Gopher duplicate line fraction",
    "dup_para_frac": "Gopher duplicate paragraph fraction",
    "dup_line_char_frac": "Gopher duplicate line character fraction",
    "dup_para_char_frac": "Gopher duplicate paragraph character fraction",
    **{f"top_{n}gram_char_frac": f"Gopher top {n}-gram character fraction" for n in TOP_NGRAMS},
    **{f"dup_{n}gram_char_frac": f"Gopher duplicate {n}-gram character fraction" for n in DUP_NGRAMS},
}
KERNEL = Kernel(
    "repetition",
    order=2,
    columns=(
        *(Column(name, pa.float64(), _GOPHER_MEANINGS[name]) for name in GOPHER_COLUMNS),
        # Over at least one GOPHER_THRESHOLDS value: derived, but one bool spares a reader the thirteen columns.
        Column("gopher_over", pa.bool_(), "over at least one Gopher threshold", flag="gopher"),
        Column("loop", pa.bool_(), "ends in a degenerate loop", flag="loop"),
        Column("loop_unit", pa.string(), "the loop's repeated unit"),
        Column("loop_repeats", pa.int32(), "the loop's copies of its unit"),
    ),
    measure=lambda texts: measure_repetition(texts),  # defined below
    metrics=(
        *(Metric(name, name) for name in GOPHER_COLUMNS),
        Metric("loop_share", "loop", operand=False, label="loop share", kind="share"),
        Metric("gopher_share", "gopher_over", operand=False, label="over a Gopher threshold", kind="share"),
    ),
)
REPETITION_COLUMNS: tuple[tuple[str, pa.DataType], ...] = tuple((c.name, c.type) for c in KERNEL.columns)
# Rae et al. 2021, Table A1. MassiveText drops a document when a measure is above its threshold (datatrove
# compares with `>`), so "over the Gopher thresholds" means value > threshold for some column.
GOPHER_THRESHOLDS: dict[str, float] = {
    "dup_line_frac": 0.30,
    "dup_para_frac": 0.30,
    "dup_line_char_frac": 0.20,
    "dup_para_char_frac": 0.20,
    "top_2gram_char_frac": 0.20,
    "top_3gram_char_frac": 0.18,
    "top_4gram_char_frac": 0.16,
    "dup_5gram_char_frac": 0.15,
    "dup_6gram_char_frac": 0.14,
    "dup_7gram_char_frac": 0.13,
    "dup_8gram_char_frac": 0.12,
    "dup_9gram_char_frac": 0.11,
    "dup_10gram_char_frac": 0.10,
}

_LINES = (
    "lines split on \\n, stripped, compared by their words (inner whitespace runs equal); datatrove splits on \\n+ "
    "and compares lines as they are (a trailing \\r or space makes equal lines differ)"
)
_PARAGRAPHS = (
    "paragraphs are runs of lines between whitespace-only lines, compared by their words; datatrove splits on "
    "\\n{2,} and compares them as they are (\\r\\n\\r\\n is no break there)"
)
_WORDS = (
    "words are str.split() runs (punctuation attached, case kept); datatrove's come from a word tokenizer "
    "(punctuation separate)"
)
# Per statistic: (the convention it follows, how it differs from datatrove's GopherRepetitionFilter).
GOPHER_CONVENTIONS: dict[str, tuple[str, str]] = {
    "dup_line_frac": (
        "datatrove's: lines equal to an earlier line / lines (the first occurrence is no duplicate)",
        f"only in splitting: {_LINES}",
    ),
    "dup_para_frac": (
        "datatrove's: paragraphs equal to an earlier one / paragraphs",
        f"only in splitting: {_PARAGRAPHS}",
    ),
    "dup_line_char_frac": (
        "datatrove's: characters of the duplicate lines (stripped) / len(text), whitespace included",
        f"only in splitting: {_LINES}",
    ),
    "dup_para_char_frac": (
        "datatrove's: characters of the duplicate paragraphs / len(text), whitespace included",
        f"only in splitting: {_PARAGRAPHS}",
    ),
    **{
        f"top_{n}gram_char_frac": (
            f"Dolma's and RedPajama's: characters of the words covered by the most frequent word {n}-gram's "
            "occurrences (shared words once) / characters of all words, whitespace excluded; 0 when no "
            f"{n}-gram occurs twice",
            f"{_WORDS}; datatrove takes count x the {n}-gram joined by spaces over len(text) (past 1 on "
            "overlapping occurrences) and the first n-gram's share when none repeats",
        )
        for n in TOP_NGRAMS
    },
    **{
        f"dup_{n}gram_char_frac": (
            f"RedPajama's: characters of the words covered by word {n}-grams that occur more than once (every "
            "occurrence, the first too; each word once) / characters of all words",
            f"{_WORDS}; datatrove scans left to right, counts only second and later occurrences (skipping {n} "
            "words after each) and divides by len(text)",
        )
        for n in DUP_NGRAMS
    },
}


def measure_repetition(texts: Sequence[str | None]) -> dict[str, list[Value]]:
    """Every column of REPETITION_COLUMNS, one value per text in order; None throughout for a None text.
    `loop_unit` and `loop_repeats` are None too when `loop` is False."""
    gopher = _gopher_columns(texts)
    no_text = [i for i, t in enumerate(texts) if t is None]
    thresholds = np.array([GOPHER_THRESHOLDS[name] for name in GOPHER_COLUMNS])
    over: list[Value] = [bool(v) for v in np.any(gopher > thresholds, axis=1).tolist()]
    for i in no_text:
        over[i] = None
    out: dict[str, list[Value]] = {"gopher_over": over}
    for j, name in enumerate(GOPHER_COLUMNS):
        values: list[Value] = gopher[:, j].tolist()
        for i in no_text:
            values[i] = None
        out[name] = values
    loops = [None if t is None else find_loop(t) for t in texts]
    out["loop"] = [None if t is None else x is not None for t, x in zip(texts, loops, strict=True)]
    out["loop_unit"] = [None if x is None else x.unit for x in loops]
    out["loop_repeats"] = [None if x is None else x.repeats for x in loops]
    return out


# --------------------------------------------------------------------------------------------------------------
# Gopher measures


def _compiled_kernel() -> (
    tuple[Callable[[Sequence[str | None], F64], None], Callable[[str, int, int, int, int], bool]] | None
):
    """The compiled kernel's entry points (the Gopher columns, find_loop's pre-check), or None where it was not
    built (the install goes on without a C compiler: setup.py marks it optional)."""
    try:
        from cotlens.measure._repetition import gopher, may_loop
    except ImportError:
        return None
    return gopher, may_loop


_compiled_gopher, _compiled_may_loop = _compiled_kernel() or (None, None)


def gopher_kernel() -> str:
    """Which kernel computes the Gopher columns in this install: "compiled" or "numpy" (the same values)."""
    return "numpy" if _compiled_gopher is None else "compiled"


def _gopher_columns(texts: Sequence[str | None]) -> F64:
    """The Gopher measures of every text (zeros for a None text), shape (len(texts), len(GOPHER_COLUMNS)): by
    the compiled kernel when it was built, else by numpy over chunks. The one place that chooses."""
    out = np.zeros((len(texts), len(GOPHER_COLUMNS)), dtype=np.float64)
    if _compiled_gopher is not None:
        try:
            _compiled_gopher(texts, out)
            return out
        except OverflowError:  # a text over 2^31 characters: past the compiled kernel's 32-bit positions
            pass
    for chunk in _chunks(texts):
        out[chunk] = _gopher_chunk([texts[i] or "" for i in chunk])
    return out


# A chunk's temporaries (a few dozen arrays of its bytes or words, tables of counts) stay small enough to be
# reused by the allocator (no page faults) and mostly cached. On the shared 2-vCPU VM, with other processes busy
# (they share the caches), half a megabyte ran 1.2 to 1.5x faster than 1 MB; 256 to 384 KB the same as 512 KB,
# and 128 KB pays per-call overhead.
CHUNK_CHARS = 1 << 19
SEP = b"\n\n"  # before, between and after texts: a paragraph break, so nothing spans two texts

# Whitespace as `str.isspace` sees it: bytes 09-0D and 1C-20, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
# U+2029, U+202F, U+205F, U+3000, whose UTF-8 encodings start with C2, E1, E2 or E3.
_WIDE_SPACE_CODES = (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_WIDE_SPACE_UTF8 = [chr(c).encode() for c in _WIDE_SPACE_CODES]
_WIDE_SPACES_BY_LENGTH = {  # their UTF-8 bytes read as big-endian integers, by byte length
    length: np.array([int.from_bytes(b, "big") for b in _WIDE_SPACE_UTF8 if len(b) == length])
    for length in (2, 3)
}
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)  # k lowest bytes
# Fixed odd constants (hex digits of pi, e and sqrt 2; the golden ratio), so no result depends on the process.
_LENGTH_SALT = np.uint64(0x243F6A8885A308D3)
_DOC_SALT = np.uint64(0xB7E151628AED2A6B)
_PAIR_BASE = np.uint64(0x6A09E667F3BCC909)
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2^64


def _chunks(texts: Sequence[str | None]) -> list[list[int]]:
    """Indices of the non-None texts in runs of about CHUNK_CHARS characters (a longer text is alone)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, t in enumerate(texts):
        if t is None:
            continue
        if current and size + len(t) > CHUNK_CHARS:
            chunks.append(current)
            current, size = [], 0
        current.append(i)
        size += len(t)
    if current:
        chunks.append(current)
    return chunks


def _gopher_chunk(texts: list[str]) -> F64:
    """The Gopher measures of some texts, shape (len(texts), len(GOPHER_COLUMNS))."""
    out = np.zeros((len(texts), len(GOPHER_COLUMNS)), dtype=np.float64)
    words = _split(texts)
    if words is not None:
        _segment_measures(words, texts, out)
        _ngram_measures(words, out)
    return out


class _Words(NamedTuple):
    """A chunk's words in text order, located in its texts' UTF-8 bytes joined by SEP (offsets are into those)."""

    starts: I64  # each word's first byte
    ends: I64  # one past its last byte
    key: U64  # equal for equal words
    chars: I64  # its characters (code points)
    doc: I64  # the text it is in
    doc_first: I64  # the first word of each text, then the word count
    newlines: I64  # the "\n" bytes, ascending
    continuation: I64  # the UTF-8 continuation bytes, ascending: those are no character of their own


def _split(texts: list[str]) -> _Words | None:
    """The words of a chunk of texts, or None if it has none."""
    # A lone surrogate (JSON "\ud800") encodes to 3 bytes with a lead byte, so it still counts as 1 character.
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    ascii_only = all(len(e) == len(t) for e, t in zip(encoded, texts, strict=True))
    buffer = SEP.join([b"", *encoded, bytes(8)])  # 8 spare bytes: an 8-byte load anywhere stays inside
    size = len(buffer) - 8
    data = np.frombuffer(buffer, dtype=np.uint8, count=size)

    space, newlines = _ascii_whitespace(data)
    # Multi-byte characters: whitespace among them, and continuation bytes (0b10xxxxxx), which are no character.
    high = np.zeros(0, dtype=np.int64) if ascii_only else np.flatnonzero(data >= 0x80)
    high_byte = data[high]
    _mark_wide_spaces(data, high[(high_byte == 0xC2) | ((high_byte >= 0xE1) & (high_byte <= 0xE3))], space)
    continuation = high[high_byte < 0xC0]
    # data starts and ends with whitespace, so word starts and ends alternate
    change = np.flatnonzero(space[1:] != space[:-1])
    change += 1
    starts, ends = change[0::2], change[1::2]
    if not len(starts):
        return None
    doc_first = np.searchsorted(starts, np.cumsum([len(SEP)] + [len(e) + len(SEP) for e in encoded]))
    doc = np.repeat(np.arange(len(texts)), np.diff(doc_first))
    nbytes = ends - starts
    chars = nbytes
    if len(continuation):
        owner = np.searchsorted(starts, continuation, side="right") - 1  # the last word starting before
        inside = owner[(owner >= 0) & (continuation < ends[owner])]
        chars = nbytes - np.bincount(inside, minlength=len(starts))
    key = _word_keys(buffer, size, starts, nbytes)
    return _Words(starts, ends, key, chars, doc, doc_first, newlines, continuation)


def _ascii_whitespace(data: U8) -> tuple[Bools, I64]:
    """Whether each byte is an ASCII whitespace character (`str.isspace`: 09-0D and 1C-20), and where the "\\n"
    are."""
    space = data <= 0x20
    low = np.flatnonzero(data < 0x1C)  # rare, but for "\n"
    low_byte = data[low]
    space[low[(low_byte < 0x09) | (low_byte > 0x0D)]] = False  # control characters that are not whitespace
    return space, low[low_byte == 0x0A]


def _mark_wide_spaces(data: U8, lead: I64, space: Bools) -> None:
    """Set `space` on every byte of the multi-byte whitespace characters, given the offsets of the bytes that may
    start one (C2, E1, E2 or E3; data ends in 2 bytes of SEP)."""
    lead = lead[lead + 2 < len(data)]
    triple = (data[lead].astype(np.uint32) << 16) | (data[lead + 1].astype(np.uint32) << 8) | data[lead + 2]
    for length, codes in _WIDE_SPACES_BY_LENGTH.items():
        hit = lead[np.isin(triple >> (8 * (3 - length)), codes)]
        for k in range(length):
            space[hit + k] = True


def _word_keys(buffer: bytes, size: int, starts: I64, nbytes: I64) -> U64:
    """A 64-bit key per word, equal for equal words: its bytes (one little-endian 8-byte load, masked) when it has
    at most 8, folded with each further 8 bytes otherwise; then mixed with its length."""
    # An unaligned little-endian load at every byte, so the word's first byte is the key's lowest. For all words,
    # `take` gathers faster than indexing (which also slows down what follows, measured); for a few, indexing is
    # faster (`take` first copies the whole view).
    load = np.ndarray((size,), dtype=np.dtype("<u8"), buffer=buffer, strides=(1,))
    key = load.take(starts)
    key &= _LOW_BYTES.take(nbytes, mode="clip")  # "clip": the 8-byte mask for longer words
    longer = np.flatnonzero(nbytes > 8)
    offset = 8
    while len(longer):
        rest = _LOW_BYTES.take(nbytes[longer] - offset, mode="clip")
        key[longer] = _mix(key[longer]) ^ (load[starts[longer] + offset] & rest)
        offset += 8
        longer = longer[nbytes[longer] > offset]
    salt = nbytes.astype(np.uint64)
    salt *= _LENGTH_SALT
    key += salt
    return _mix(key)


def _mix(x: U64) -> U64:
    """splitmix64's finalizer (Steele, Lea & Flood 2014): a bijection of 64-bit values that spreads every bit.
    In place after the first step, which copies: the temporaries are the size of a chunk's words."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _segment_measures(words: _Words, texts: list[str], out: F64) -> None:
    """Fill the line and paragraph columns of `out`.

    A word after one or more "\\n" starts a line, after two or more a paragraph (the rest of such a gap is
    whitespace, by definition of a word); SEP puts two before every text. A segment runs from its first word's
    start to its last word's end, so it is stripped."""
    count, docs, continuation = len(words.key), len(texts), words.continuation
    next_word = np.searchsorted(words.starts, words.newlines)  # the word after each newline, ascending
    twice = next_word[:-1][next_word[1:] == next_word[:-1]]
    up, down = _powers(count)
    weighted = words.key * up
    text_chars = np.fromiter(map(len, texts), np.float64, docs)
    for col, firsts in ((0, next_word), (1, twice)):
        firsts = firsts[firsts < count]  # not the newlines after the last word
        first = firsts[np.concatenate(([True], firsts[1:] != firsts[:-1]))]
        after = np.append(first[1:], count)  # one past each segment's last word
        # Polynomial hash of the segment's word keys, brought back to its first word by an inverse power.
        seg_key = np.add.reduceat(weighted, first) * down[first] + (after - first).astype(np.uint64)
        seg_doc = words.doc[first]
        dup = _later_occurrences(seg_key + seg_doc.astype(np.uint64) * _DOC_SALT)
        a, b = words.starts[first[dup]], words.ends[after[dup] - 1]
        dup_chars = (b - a) - (np.searchsorted(continuation, b) - np.searchsorted(continuation, a))
        dup_doc = seg_doc[dup]
        out[:, col] = _ratio(np.bincount(dup_doc, minlength=docs), np.bincount(seg_doc, minlength=docs))
        out[:, col + 2] = _ratio(np.bincount(dup_doc, weights=dup_chars, minlength=docs), text_chars)


def _powers(length: int) -> tuple[U64, U64]:
    """BASE^i and BASE^-i modulo 2^64 for i < length (cached up to a chunk's worth)."""
    if length > CHUNK_CHARS:
        return _powers_upto(length)
    up, down = _cached_powers(CHUNK_CHARS)
    return up[:length], down[:length]


@lru_cache(maxsize=1)
def _cached_powers(length: int) -> tuple[U64, U64]:
    return _powers_upto(length)


def _powers_upto(length: int) -> tuple[U64, U64]:
    up = np.full(length, _BASE, dtype=np.uint64)
    down = np.full(length, pow(_BASE, -1, 2**64), dtype=np.uint64)
    up[:1] = down[:1] = 1
    return np.cumprod(up, out=up), np.cumprod(down, out=down)  # uint64 products wrap: modulo 2^64


def _ratio(num: F64 | I64, den: F64 | I64) -> F64:
    """num / den, 0.0 where den is 0."""
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def _repeats(keys: U64 | I64) -> tuple[I64, I32, I64]:
    """The positions of the keys whose value occurs more than once (ascending), an id per value there and how
    often it occurs. Ids are handed out in order of first appearance: a value's id is below those of the values
    first seen after it."""
    ids: I32 = pc.dictionary_encode(pa.array(keys.view(np.int64))).indices.to_numpy()
    counts = np.bincount(ids).take(ids)
    hit = np.flatnonzero(counts >= 2)
    return hit, ids[hit], counts[hit]


def _maybe_repeated(values: U64) -> I64:
    """The positions of the values that may occur more than once: all but those alone in their bucket of a table
    of counts (by their lowest bits). Most bigrams and lines occur once, and counting in a table is far cheaper
    than hashing: only the rest goes to `_repeats`."""
    bits = len(values).bit_length() + 1  # 2 to 4 buckets a value
    bucket = (values & np.uint64((1 << bits) - 1)).view(np.int64)
    return np.flatnonzero(np.bincount(bucket, minlength=1 << bits).take(bucket) >= 2)


def _later_occurrences(keys: U64) -> I64:
    """The positions of the keys equal to an earlier one, ascending."""
    maybe = _maybe_repeated(keys)
    at, ids, _ = _repeats(keys[maybe])
    # A first occurrence has an id above every id before it.
    first = ids > np.concatenate(([-1], np.maximum.accumulate(ids)[:-1]))
    later: I64 = maybe[at[~first]]
    return later


def _ngram_measures(words: _Words, out: F64) -> None:
    """Fill the n-gram columns of `out` from a chunk's words."""
    docs = len(out)
    chars_before = np.concatenate(([0], np.cumsum(words.chars)))
    doc_chars = np.diff(chars_before[words.doc_first])
    for n, at, gram, counts in _repeated_ngrams(words):
        if n in TOP_NGRAMS:
            top = _top_occurrences(at, gram, counts, words.doc)
            covered = _covered_chars(top, n, chars_before, words.doc, docs)
            out[:, GOPHER_COLUMNS.index(f"top_{n}gram_char_frac")] = _ratio(covered, doc_chars)
        else:
            covered = _covered_chars(at, n, chars_before, words.doc, docs)
            out[:, GOPHER_COLUMNS.index(f"dup_{n}gram_char_frac")] = _ratio(covered, doc_chars)


def _repeated_ngrams(words: _Words) -> Iterator[tuple[int, I64, I32, I64]]:
    """For n = 2 .. max(DUP_NGRAMS) while some n-gram repeats: n, where repeated n-grams start (ascending), their
    ids (in order of first appearance, as `_repeats`; the n-grams of different texts differ) and counts."""
    if len(words.key) < 2:
        return
    at, gram, counts = _repeated_bigrams(words)
    for n in range(2, max(DUP_NGRAMS) + 1):
        if n > 2:
            # The n-gram at i is the pair of (n-1)-grams at i and i+1, and it can repeat only if both do: count
            # only such positions, keyed exactly by the pair of ids.
            pairs = np.flatnonzero(at[1:] == at[:-1] + 1)
            grams = int(gram.max()) + 1
            # Nearly all of them do repeat: unlike bigrams, no use setting unique ones aside first.
            pair_at, gram, counts = _repeats(gram[pairs].astype(np.int64) * grams + gram[1:][pairs])
            at = at[pairs[pair_at]]
        if not len(at):
            return  # no longer n-gram repeats either: the remaining columns stay 0.0
        yield n, at, gram, counts


def _repeated_bigrams(words: _Words) -> tuple[I64, I32, I64]:
    """`_repeats` of the bigrams: a bigram at every word but a text's last, keyed by its two words and its text."""
    # k1 * PAIR_BASE + k2 + text * DOC_SALT, with odd constants: two bigrams that differ in one of the three only
    # never collide, and word keys are mixed already (random-looking), so other ones do with probability 2^-64,
    # as under a hash of the three. Its low bits are as uniform, for the table of counts.
    key = words.key[:-1] * _PAIR_BASE
    key += words.key[1:]
    key += words.doc[:-1].astype(np.uint64) * _DOC_SALT
    maybe = _maybe_repeated(key)  # most bigrams occur once in their text
    maybe = maybe[words.doc[maybe] == words.doc[maybe + 1]]  # none from a text's last word to the next text
    at, ids, counts = _repeats(key[maybe])
    return maybe[at], ids, counts


def _top_occurrences(at: I64, gram: I32, counts: I64, word_doc: I64) -> I64:
    """Where each text's most frequent n-gram occurs (ties: the one seen first), given where repeated n-grams
    start (ascending), their ids (in order of first appearance, different in different texts) and counts."""
    doc = word_doc[at]
    run = np.flatnonzero(np.concatenate(([True], doc[1:] != doc[:-1])))  # each text's first repeated n-gram
    # Most frequent first, then the smallest id: the n-gram seen first.
    grams = int(gram.max()) + 1
    best = np.maximum.reduceat(counts * grams - gram, run)
    top_gram = np.repeat(-best % grams, np.diff(np.append(run, len(at))))
    occurrences: I64 = at[gram == top_gram]
    return occurrences


def _covered_chars(at: I64, n: int, chars_before: I64, word_doc: I64, docs: int) -> F64:
    """Per text, characters of the words covered by n-grams starting at `at` (ascending), each word once: the
    spans [i, i + n) merged into disjoint runs."""
    opens = np.concatenate(([True], at[1:] >= at[:-1] + n))
    run_start, run_end = at[opens], at[np.append(opens[1:], True)] + n
    covered = chars_before[run_end] - chars_before[run_start]
    return np.bincount(word_doc[run_start], weights=covered, minlength=docs).astype(np.float64, copy=False)


# --------------------------------------------------------------------------------------------------------------
# Degenerate loops


class Loop(NamedTuple):
    """A text's closing loop: `unit` (stripped, for display) repeated `repeats` times back to back."""

    unit: str
    repeats: int


LOOP_MIN_REPEATS = 3
LOOP_MIN_WIDTH = 8  # display columns of a unit; East Asian wide characters count 2
LOOP_WINDOW = 8000  # characters at the end of a text searched for a loop
_PROBE = 5  # a unit 8 columns wide has 4 or more characters, so the last 5 recur one unit earlier
_COMPARE = 16  # non-space characters compared by the raw-text check
_CANDIDATES = 8  # occurrences of the probe checked on the raw text before leaving it to the exact search
_SENTENCE_END = frozenset(".!?…")  # followed by a space and the next sentence
_CJK_SENTENCE_END = frozenset("。！？")  # followed directly by the next sentence
_CJK_BREAK = frozenset("，、；：")


def find_loop(text: str) -> Loop | None:
    """The degenerate loop that `text` ends in, or None.

    The text is normalized first: whitespace runs become one space and the ends are stripped, so copies separated
    by spaces, newlines or blank lines compare equal; otherwise comparison is exact (case, punctuation, digits).
    The text ends in a loop when its tail is a unit u repeated back to back, u u ... u', at least
    LOOP_MIN_REPEATS times counting u' (a non-empty prefix of u: generation stopped mid-repeat, or just the
    stripped trailing space), where u contains a letter or digit and is at least LOOP_MIN_WIDTH columns wide (a
    CJK character counts 2). A unit may be a token, a sentence, several sentences or a paragraph.

    So a short token loops only when enough copies make a wide-enough unit: "the the the" (unit "the ", 4
    columns) is no loop, six copies are ("the the " three times); "no no no" and "ha ha ha" are no loops, and
    "...", "!!!", "= = =", "---" or "* * *" never are (no letter or digit). A Chinese sentence of 4 or more
    characters ("再算一遍。") loops at 3 copies, as does any sentence of 7 characters or more ("Let me check.").

    Reported: `unit` is the shortest repeating block ("the" above, not "the the"), cut where the text reads
    naturally (after a sentence end, else at a word start: the repeated tail can begin a few characters early by
    coincidence) and stripped; `repeats` counts its copies to the end of the text, a cut-off last one included.
    Only the last LOOP_WINDOW characters are searched, so units of up to about LOOP_WINDOW / 3 characters.
    """
    if _compiled_may_loop is not None and not _compiled_may_loop(
        text, LOOP_WINDOW, _PROBE, _COMPARE, _CANDIDATES
    ):
        return None  # the compiled pre-check: the same answer, sooner (of most texts nothing else is read)
    start, end = max(0, len(text) - LOOP_WINDOW), len(text)
    while end > start and text[end - 1].isspace():
        end -= 1
    if end == start or not _may_loop(text, start, end):
        return None
    tail = text[start:end]
    found, complete = _loop_in(" ".join(tail.split()), cut=len(text) > LOOP_WINDOW)
    if not complete:  # the loop reaches back past the window: count its copies over the whole text
        found, _ = _loop_in(" ".join(text.split()), cut=False)
    return found


def _may_loop(text: str, start: int, end: int) -> bool:
    """A necessary condition for a loop in text[start:end] (which ends in a non-space), checked on the raw text
    because normalizing costs more: the last non-space characters occur earlier, and the non-space characters
    before such an occurrence end like the text does, as far as the unit it implies (from there to the end)
    reaches. Indices are into `text`, which is not copied: most texts fail the first test. _repetition.c's
    raw_may_loop takes the same steps for the compiled pre-check: a change here goes there too."""
    probe = text[max(start, end - _PROBE) : end].split()[-1]
    i = text.rfind(probe, start, end - 1)
    if i < 0:
        return False  # most texts: their last characters occur nowhere before
    reach = 4 * _COMPARE  # raw characters read to find _COMPARE non-space ones
    last = "".join(text[max(start, end - reach) : end].split())[-_COMPARE:]
    for _ in range(_CANDIDATES):
        if i < 0:
            return False
        stop = i + len(probe)  # the candidate unit is text[stop:end], which has the text's last character
        unit = "".join(text[stop : min(stop + reach, end)].split())
        before = "".join(text[max(start, stop - reach) : stop].split())  # ends with the probe
        k = min(_COMPARE, len(unit), len(before), len(last))
        if before[-k:] == last[-k:]:
            return True
        i = text.rfind(probe, start, stop - 1)  # the next occurrence ends before this one
    return True  # many candidates: the exact search decides


def _loop_in(s: str, cut: bool) -> tuple[Loop | None, bool]:
    """find_loop on normalized text `s`, and whether the answer is complete: not if `cut` (s starts mid-text)
    and the loop reaches back to s's start."""
    n = len(s)
    probe = s[-_PROBE:]
    end = n - 1
    while True:
        # Candidate periods p, shortest first: where the last characters recur, p characters earlier.
        i = s.rfind(probe, 0, end)
        p = n - (i + len(probe))
        if i < 0 or 2 * p + 1 > n:
            return None, True
        end = i + len(probe) - 1
        # Two copies and one more character: s[k] == s[k + p] for the last p + 1 positions k.
        if s[n - 2 * p - 1 : n - p] != s[n - p - 1 :]:
            continue
        start = _periodic_start(s, p)
        if start == 0 and cut:
            return None, False
        found = _judge(s, p, start)
        if found is not None:
            return found, True


def _periodic_start(s: str, p: int) -> int:
    """The smallest k such that s[k:] has period p, given that its last 2p + 1 characters have."""
    k = len(s) - 2 * p - 1
    while k >= p and s[k - p : k] == s[k : k + p]:
        k -= p
    while k > 0 and s[k - 1] == s[k - 1 + p]:
        k -= 1
    return k


def _judge(s: str, p: int, start: int) -> Loop | None:
    """The loop over s[start:], which has period p, if its unit qualifies."""
    n = len(s)
    # The shortest period d of the last p characters divides p, and s[start:] has period d as well.
    d = _shortest_period(s[n - p :])
    block = s[n - d :]  # a rotation of the unit: the same characters
    if not any(c.isalnum() for c in block):
        return None
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in block)
    unit = d * -(-LOOP_MIN_WIDTH // width)  # characters of the fewest copies of the block wide enough
    j = _natural_start(s, start, d)
    if -(-(n - j) // unit) < LOOP_MIN_REPEATS:
        return None
    return Loop(s[j : j + d].strip(), -(-(n - j) // d))


def _shortest_period(block: str) -> int:
    """The smallest d dividing len(block) with block == block[:d] * (len(block) // d)."""
    p = len(block)
    for d in range(1, p // 2 + 1):
        if p % d == 0 and block[d:] == block[:-d]:
            return d
    return p


def _natural_start(s: str, start: int, d: int) -> int:
    """Where in s[start : start + d] a copy of the unit reads best: after a sentence end, else at a word start
    (after a space or a CJK comma), else at `start`."""
    word_start = None
    for j in range(start, min(start + d, len(s))):
        if s[j] == " ":
            continue
        before = s[j - 1] if j else ""
        if j == 0 or before in _CJK_SENTENCE_END or (before == " " and j >= 2 and s[j - 2] in _SENTENCE_END):
            return j
        if word_start is None and (before == " " or before in _CJK_BREAK):
            word_start = j
    return start if word_start is None else word_start
