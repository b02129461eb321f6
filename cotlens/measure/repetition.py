"""Repetition statistics of a batch of texts: the Gopher repetition measures and a degenerate-loop flag.

The Gopher measures are those of Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from
Training Gopher" (arXiv:2112.11446), appendix A.1.1 and Table A1, which MassiveText's quality filter thresholds.
datatrove's `GopherRepetitionFilter` (huggingface/datatrove, pipeline/filters/gopher_repetition_filter.py) is
the implementation we align with; where the published definition leaves room, we say which choice we make and
where datatrove, Dolma's `gopher` tagger or RedPajama-V2's `rps_doc_frac_chars_*` signals choose otherwise.

Conventions, per text (`None` in, `None` out for every column):

- Words are `str.split()` words: maximal runs of characters that are not Unicode whitespace (`str.isspace`);
  punctuation stays attached and case is kept ("Wait," and "wait" differ). Dolma splits the same way; datatrove
  uses an NLTK/spaCy word tokenizer (punctuation becomes separate tokens) and RedPajama lower-cases and drops
  punctuation first. Text without spaces (Chinese, Japanese) is one word per space-free run, so the n-gram
  statistics say little about it; the line, paragraph and loop measures do not depend on words.
- A line is a piece of the text between "\\n" characters, stripped of surrounding whitespace; whitespace-only
  pieces are not lines. A paragraph is a run of lines with no blank (whitespace-only) line inside, stripped; so
  paragraphs are separated by two or more "\\n" with only whitespace between ("\\n\\n", "\\r\\n\\r\\n",
  "\\n  \\n"). datatrove splits lines on `\\n+` and paragraphs on `\\n{2,}` without stripping, so there a
  trailing "\\r" or space makes two visually equal lines differ, "\\r\\n\\r\\n" is not a paragraph break, and a
  leading plus a trailing newline make two empty "lines" of which one counts as a duplicate.
- Duplicate line (paragraph) fraction: lines equal to an earlier line of the same text / all lines; the first
  occurrence is not a duplicate (datatrove's `find_duplicates`). Duplicate line (paragraph) character fraction:
  characters of those duplicate lines (stripped, no newline) / `len(text)`, all characters, whitespace
  included (datatrove's denominator).
- Top n-gram character fraction (n = 2, 3, 4): count x characters of the most frequent word n-gram / characters
  of all words (whitespace excluded on both sides, as Dolma and RedPajama count; datatrove counts the n-gram
  joined with spaces over `len(text)`). Ties go to the n-gram that occurs first (`Counter.most_common`). If no
  n-gram occurs twice the value is 0.0, as in RedPajama: Dolma and datatrove report the first n-gram's share
  then, which makes any short text look repetitive ("hello world" scores 1.0).
- Duplicate n-gram character fraction (n = 5..10): characters of the words covered by some word n-gram that
  occurs more than once in the text, every occurrence (the first too), each word counted once however many
  such n-grams cover it / characters of all words. This is the paper's "taking care not to count characters
  that occur in overlapping n-grams more than once", as RedPajama implements it. datatrove instead scans left
  to right, counts only the second and later occurrences and skips n words after each, over `len(text)`; Dolma
  sums count x characters over duplicated n-grams, counting overlaps repeatedly.
- A text with no characters, no lines or no words scores 0.0 on the measures it lacks (nothing repeats).

How it is fast: each chunk of about 1 MB of texts is one UTF-8 byte array. Whitespace, word boundaries and
newlines are found with numpy; every span (word, line, paragraph) gets a 64-bit polynomial hash from one prefix
sum (a span's hash is its prefix difference times an inverse power of the base), n-gram keys are built from
word keys by Horner's rule, and repeats are found by hashing in polars, not sorting. An n-gram can only repeat
where its two (n-1)-gram halves repeat, so each n only looks at the positions that passed n-1. Equal spans
always get equal keys; distinct ones collide with probability about 2^-64 per pair.

The loop flag is documented at `find_loop`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Value = float | bool | str | int | None
U64 = npt.NDArray[np.uint64]
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
REPETITION_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    *((name, pa.float64()) for name in GOPHER_COLUMNS),
    ("loop", pa.bool_()),
    ("loop_unit", pa.string()),
    ("loop_repeats", pa.int32()),
)
# Rae et al. 2021, Table A1. MassiveText drops a document when a measure exceeds its threshold (datatrove
# compares with `>`).
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

# Texts are measured in chunks of about this many characters: the numpy temporaries of a 1 MB chunk are reused
# from the allocator's cache, while 50 MB arrays cost a page fault per 4 KB (cumsum runs 20x slower here).
CHUNK_CHARS = 1 << 20
SEP = (
    b"\n\n"  # between texts: whitespace and a paragraph break, so no word, line or paragraph spans two texts
)

# Whitespace as `str.isspace` sees it: bytes 09-0D, 1C-20, and the multi-byte U+0085, U+00A0, U+1680,
# U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, whose UTF-8 encodings start with C2, E1, E2 or E3.
_WIDE_SPACES = tuple(
    chr(c).encode() for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)
_HAS_WIDE_SPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# _LOW_BYTES[k]: the k lowest bytes of a little-endian uint64 (k = 0..8).
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)
# Fixed odd 64-bit constants (digits of pi and e), so that keys do not depend on the process.
_LENGTH_SALT = np.uint64(0x243F6A8885A308D3)
_DOC_SALT = np.uint64(0xB7E151628AED2A6B)
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2^64


def measure_repetition(texts: Sequence[str | None]) -> dict[str, list[Value]]:
    """Every column of REPETITION_COLUMNS, one value per text in order; all None for a None text."""
    gopher = np.zeros((len(texts), len(GOPHER_COLUMNS)), dtype=np.float64)
    for chunk in _chunks(texts):
        gopher[chunk] = _gopher_chunk([texts[i] or "" for i in chunk])
    out: dict[str, list[Value]] = {}
    for j, name in enumerate(GOPHER_COLUMNS):
        values: list[float] = gopher[:, j].tolist()
        out[name] = [None if t is None else v for t, v in zip(texts, values, strict=True)]
    loops = [None if t is None else find_loop(t) for t in texts]
    out["loop"] = [None if t is None else x is not None for t, x in zip(texts, loops, strict=True)]
    out["loop_unit"] = [None if x is None else x.unit for x in loops]
    out["loop_repeats"] = [None if x is None else x.repeats for x in loops]
    return out


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
    """The Gopher measures of a few texts, shape (len(texts), len(GOPHER_COLUMNS))."""
    docs = len(texts)
    out = np.zeros((docs, len(GOPHER_COLUMNS)), dtype=np.float64)
    # A lone surrogate (JSON "\ud800") encodes to 3 bytes with a lead byte, so it still counts as 1 character.
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    ascii_only = all(len(e) == len(t) for e, t in zip(encoded, texts, strict=True))
    buffer = SEP.join(encoded) + SEP + bytes(8)  # 8 spare bytes: an 8-byte load at any offset stays inside
    size = len(buffer) - 8
    data = np.frombuffer(buffer, dtype=np.uint8, count=size)

    # Whitespace: every byte up to 0x20 except the control characters that are not whitespace (rare).
    space = data <= 0x20
    low = np.flatnonzero(data < 0x1C)
    low_byte = data[low]
    space[low[(low_byte < 0x09) | (low_byte > 0x0D)]] = False
    if not ascii_only and any(_HAS_WIDE_SPACE.search(t) for t in texts):
        _mark_wide_spaces(data, space)
    change = np.flatnonzero(space[1:] != space[:-1]) + 1
    if not space[0]:
        change = np.concatenate(([0], change))
    starts, ends = change[0::2], change[1::2]  # data ends in SEP, so every word ends
    words = len(starts)
    if not words:
        return out
    doc_first_word = np.searchsorted(starts, np.cumsum([0] + [len(e) + len(SEP) for e in encoded]))
    word_doc = np.repeat(np.arange(docs), np.diff(doc_first_word))
    nbytes = ends - starts
    if ascii_only:
        continuation = np.zeros(0, dtype=np.int64)
        word_chars = nbytes
    else:  # characters = bytes - UTF-8 continuation bytes (0b10xxxxxx)
        continuation = np.flatnonzero((data & 0xC0) == 0x80)
        owner = np.searchsorted(starts, continuation, side="right") - 1
        inside = owner[continuation < ends[owner]]
        word_chars = nbytes - np.bincount(inside, minlength=words)
    word_key = _word_keys(buffer, size, starts, nbytes)

    # Lines and paragraphs from the newlines before each word: one or more in the gap before a word start a
    # line, two or more a paragraph (the rest of the gap is whitespace, by definition of a word). A segment is
    # compared by its words and counted from its first word's start to its last word's end, so stripped.
    newlines = low[low_byte == 0x0A]
    newlines_before = np.bincount(np.searchsorted(starts, newlines), minlength=words + 1)[:words]
    newlines_before[doc_first_word[:-1][doc_first_word[:-1] < words]] = 2  # a text starts a paragraph
    up, down = _powers(words + 1)
    key_sums = np.zeros(words + 1, dtype=np.uint64)
    np.cumsum(word_key * up[:words], out=key_sums[1:])
    text_chars = np.fromiter(map(len, texts), np.float64, docs)
    for col, breaks in ((0, 1), (1, 2)):
        first = np.flatnonzero(newlines_before >= breaks)
        after = np.append(first[1:], words)  # one past each segment's last word
        a, b = starts[first], ends[after - 1]
        # A span's polynomial hash: prefix difference, shifted back to its start by an inverse power.
        seg_key = (key_sums[after] - key_sums[first]) * down[first] + (after - first).astype(np.uint64)
        seg_doc = word_doc[first]
        dup = ~_first_seen(seg_key + seg_doc.astype(np.uint64) * _DOC_SALT)
        seg_chars = (b - a) - (np.searchsorted(continuation, b) - np.searchsorted(continuation, a))
        segs = np.bincount(seg_doc, minlength=docs)
        out[:, col] = _ratio(np.bincount(seg_doc, weights=dup, minlength=docs), segs)
        out[:, col + 2] = _ratio(np.bincount(seg_doc, weights=seg_chars * dup, minlength=docs), text_chars)

    _ngram_measures(word_key + word_doc.astype(np.uint64) * _DOC_SALT, word_chars, word_doc, out)
    return out


def _word_keys(buffer: bytes, size: int, starts: I64, nbytes: I64) -> U64:
    """A 64-bit key per word, equal for equal words: the word's bytes themselves when it has 8 or fewer
    (loaded as one little-endian uint64), mixed with each further 8 bytes otherwise; then with the length."""
    load = np.ndarray((size,), dtype=np.uint64, buffer=buffer, strides=(1,))  # unaligned loads at every byte
    key = load[starts] & _LOW_BYTES[np.minimum(nbytes, 8)]
    longer = np.flatnonzero(nbytes > 8)
    offset = 8
    while len(longer):
        rest = np.minimum(nbytes[longer] - offset, 8)
        key[longer] = _mix(key[longer]) ^ (load[starts[longer] + offset] & _LOW_BYTES[rest])
        offset += 8
        longer = longer[nbytes[longer] > offset]
    return _mix(key + nbytes.astype(np.uint64) * _LENGTH_SALT)


def _powers(length: int) -> tuple[U64, U64]:
    """BASE^i and BASE^-i modulo 2^64 for i < length."""
    up, down = _powers_upto(max(CHUNK_CHARS, 1 << max(length - 1, 1).bit_length()))
    return up[:length], down[:length]


@lru_cache(maxsize=1)
def _powers_upto(length: int) -> tuple[U64, U64]:
    up = np.full(length, _BASE, dtype=np.uint64)
    down = np.full(length, pow(_BASE, -1, 2**64), dtype=np.uint64)
    up[0] = down[0] = 1
    return np.cumprod(up, out=up), np.cumprod(down, out=down)  # uint64 products wrap: modulo 2^64


def _mix(x: U64) -> U64:
    """splitmix64's finalizer (Steele, Lea & Flood 2014): a bijection that spreads every input bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _ratio(num: F64 | I64, den: F64 | I64) -> F64:
    """num / den, 0.0 where den is 0."""
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def _mark_wide_spaces(data: npt.NDArray[np.uint8], space: Bools) -> None:
    """Set `space` on every byte of the multi-byte whitespace characters (data ends in 2 spare bytes)."""
    lead = np.flatnonzero((data == 0xC2) | ((data >= 0xE1) & (data <= 0xE3)))
    lead = lead[lead + 2 < len(data)]
    triple = (data[lead].astype(np.uint32) << 16) | (data[lead + 1].astype(np.uint32) << 8) | data[lead + 2]
    for ch in _WIDE_SPACES:
        code = int.from_bytes(ch, "big")
        hit = lead[(triple >> 8) == code] if len(ch) == 2 else lead[triple == code]
        for k in range(len(ch)):
            space[hit + k] = True


def _dense(keys: npt.NDArray[np.uint64] | I64) -> tuple[I64, I64]:
    """Dense ids of keys (0, 1, ... in order of first appearance) and how often each key's value occurs."""
    ids: I64 = pc.dictionary_encode(pa.array(keys.view(np.int64))).indices.to_numpy().astype(np.int64)
    return ids, np.bincount(ids)[ids]


def _first_seen(keys: U64) -> Bools:
    """Whether each key is the first of its value, in order."""
    ids, _ = _dense(keys)
    # Ids are handed out in order of first appearance: a first occurrence exceeds every id before it.
    seen: Bools = ids > np.concatenate(([-1], np.maximum.accumulate(ids)[:-1]))
    return seen


def _ngram_measures(word_key: U64, word_chars: I64, word_doc: I64, out: F64) -> None:
    """Fill the top and duplicate n-gram columns of `out` from the words of a chunk, in text order, keyed so
    that equal words of different texts differ."""
    words, docs = len(word_key), len(out)
    doc_chars = np.bincount(word_doc, weights=word_chars, minlength=docs)
    chars_before = np.concatenate(([0], np.cumsum(word_chars)))
    word_id, counts = _dense(word_key)
    vocabulary = int(word_id.max()) + 1
    # gram[i]: dense id of the n-gram at word i among the chunk's n-grams, kept where it can still repeat.
    # Ids are exact: an n-gram's key is (id of its first n-1 words) * vocabulary + id of its last word.
    gram = word_id.copy()
    repeats = counts >= 2
    for n in range(2, max(DUP_NGRAMS) + 1):
        # Every occurrence of a repeated n-gram has repeated (n-1)-grams at i and i+1, so only those positions
        # are counted; the rest cannot repeat. (For n = 2 the two words must also be in the same text.)
        at = np.flatnonzero(repeats[:-1] & repeats[1:])
        at = at[at + n - 1 < words]
        at = at[word_doc[at] == word_doc[at + n - 1]]
        if not len(at):
            break  # no longer n-gram repeats either: the remaining columns stay 0.0
        gram[at], counts = _dense(gram[at] * vocabulary + word_id[at + n - 1])
        hit = counts >= 2
        repeated_at = at[hit]
        repeats = np.zeros(words, dtype=np.bool_)
        repeats[repeated_at] = True
        if n in TOP_NGRAMS:
            top = _top_chars(repeated_at, counts[hit], chars_before, word_doc, n, docs)
            out[:, GOPHER_COLUMNS.index(f"top_{n}gram_char_frac")] = _ratio(top, doc_chars)
        elif n in DUP_NGRAMS:
            cover = np.zeros(words + 1, dtype=np.int32)
            cover[repeated_at] += 1
            cover[repeated_at + n] -= 1
            covered = np.cumsum(cover[:-1]) > 0
            dup = np.bincount(word_doc[covered], weights=word_chars[covered], minlength=docs)
            out[:, GOPHER_COLUMNS.index(f"dup_{n}gram_char_frac")] = _ratio(dup, doc_chars)


def _top_chars(at: I64, counts: I64, chars_before: I64, word_doc: I64, n: int, docs: int) -> I64:
    """Per text, count x characters of its most frequent n-gram (ties: the one seen first), given the repeated
    n-grams' positions `at` (ascending) and counts; 0 for a text with none."""
    top = np.zeros(docs, dtype=np.int64)
    if not len(at):
        return top
    doc = word_doc[at]
    run = np.flatnonzero(np.concatenate(([True], doc[1:] != doc[:-1])))
    best = np.repeat(np.maximum.reduceat(counts, run), np.diff(np.append(run, len(at))))
    is_best = np.flatnonzero(counts == best)
    # The first position holding a most frequent n-gram is the first occurrence of the earliest such n-gram.
    first = is_best[np.concatenate(([True], doc[is_best][1:] != doc[is_best][:-1]))]
    start = at[first]
    top[doc[first]] = counts[first] * (chars_before[start + n] - chars_before[start])
    return top


# --------------------------------------------------------------------------------------------------------------
# Degenerate loops


class Loop(NamedTuple):
    """A text's closing loop: `unit` (stripped, for display) repeated `repeats` times back to back."""

    unit: str
    repeats: int


LOOP_MIN_REPEATS = 3
LOOP_MIN_WIDTH = 8  # display columns of a unit; East Asian wide characters count 2
LOOP_WINDOW = 8000  # characters at the end of a text searched for a loop
_PROBE = 5  # a unit 8 columns wide has 4 or more characters: the last 5 recur one unit earlier
_SENTENCE_END = frozenset(".!?…")  # then a space, then the next sentence
_CJK_SENTENCE_END = frozenset("。！？")  # the next sentence follows directly
_CJK_BREAK = frozenset("，、；：")


def find_loop(text: str) -> Loop | None:
    """The degenerate loop that `text` ends in, or None.

    The text is normalized first: whitespace runs become one space and the ends are stripped, so copies
    separated by spaces, newlines or blank lines compare equal; otherwise comparison is exact (case, punctuation,
    digits). The text ends in a loop when its tail is a unit u repeated back to back, u u ... u', at least
    LOOP_MIN_REPEATS times counting u' (a non-empty prefix of u: generation stopped mid-repeat, or just the
    stripped trailing space), where u contains a letter or digit and is at least LOOP_MIN_WIDTH columns wide (a
    CJK character is 2). The unit may be a token, a sentence, several sentences or a paragraph.

    A short token loops only by repeating long enough for several copies to make a wide-enough unit: "the the
    the" (unit "the ", 4 columns) is no loop, six copies are ("the the " x 3). "no no no" and "ha ha ha" are no
    loops either, and "...", "!!!", "= = =", "---" or "* * *" never are (no letter or digit). A Chinese sentence
    of 4 or more characters ("再算一遍。") loops at 3 copies.

    Reported: `unit` is the shortest repeating block ("the" above, not "the the"), taken where the text reads
    naturally (after a sentence end, else at a word start: the repeated tail can begin a few characters early by
    coincidence) and stripped; `repeats` counts its copies to the end of the text, a cut-off last one included.
    Only the last LOOP_WINDOW characters are searched, so units up to about LOOP_WINDOW / 3 characters.
    """
    tail = text[-LOOP_WINDOW:].rstrip()
    if not tail:
        return None
    probe = tail[-_PROBE:].split()[-1]
    # Fast rejection of most texts: the last non-space characters must occur once more before the end.
    if tail.rfind(probe, 0, len(tail) - 1) < 0:
        return None
    found, complete = _loop_in(" ".join(tail.split()), cut=len(text) > LOOP_WINDOW)
    if not complete:  # the loop reaches back past the window: count its copies over the whole text
        found, _ = _loop_in(" ".join(text.split()), cut=False)
    return found


def _loop_in(s: str, cut: bool) -> tuple[Loop | None, bool]:
    """find_loop on normalized text `s`; False if `cut` (s starts mid-text) and the loop reaches s's start."""
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
    # The shortest period d of the last p characters divides p, and s[start:] has period d too.
    d = _shortest_period(s[n - p :])
    block = s[n - d :]  # a rotation of the unit: same characters
    if not any(c.isalnum() for c in block):
        return None
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in block)
    unit = d * -(
        -LOOP_MIN_WIDTH // width
    )  # characters in the fewest copies of the block that are wide enough
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
    (after a space or a CJK comma), else `start`."""
    word_start = None
    for j in range(start, min(start + d, len(s))):
        if s[j] == " ":
            continue
        before = s[j - 1] if j else ""
        if j == 0 or before in _CJK_SENTENCE_END or (before == " " and s[j - 2] in _SENTENCE_END):
            return j
        if word_start is None and (before == " " or before in _CJK_BREAK):
            word_start = j
    return start if word_start is None else word_start
