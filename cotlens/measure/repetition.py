"""Repetition statistics of a batch of texts: the Gopher repetition measures and a degenerate-loop flag.

The Gopher measures are those of Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from
Training Gopher" (arXiv:2112.11446), appendix A.1.1 and Table A1 (MassiveText's quality filter thresholds).
datatrove's `GopherRepetitionFilter` (huggingface/datatrove, pipeline/filters/gopher_repetition_filter.py) is
the implementation we align with; where the paper leaves room we state our choice, and where datatrove, Dolma's
`gopher` tagger (allenai/dolma, taggers/gopher.py) or RedPajama-V2's `rps_doc_frac_chars_*` signals
(togethercomputer/RedPajama-Data, quality_signals/repetitions.py) choose otherwise.

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

How it runs: texts go in chunks of about CHUNK_CHARS as one UTF-8 byte array, so no Python object is made per
word. numpy finds whitespace, word boundaries and newlines; a word's key is its bytes (those of an 8-byte load
when it is that short); lines and paragraphs get polynomial hashes of their word keys. Repeats are found by
dictionary-encoding keys with pyarrow (a hash table, no sort): bigrams at every position, then each n-gram as
the pair of dense ids of its two (n-1)-gram halves, only where both halves repeat (an n-gram repeats only then).
Keys are exact up to 64-bit hash collisions of words longer than 8 bytes, bigrams, lines and paragraphs.
Speed, one thread, on the 2-vCPU development VM: about 30 MB/s of reasoning text (o200k token counting: about
37 MB/s there); two thirds of it is the hash tables, a bigram per word (most of them distinct) and the levels.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

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
REPETITION_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    *((name, pa.float64()) for name in GOPHER_COLUMNS),
    ("loop", pa.bool_()),
    ("loop_unit", pa.string()),
    ("loop_repeats", pa.int32()),
)
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


def measure_repetition(texts: Sequence[str | None]) -> dict[str, list[Value]]:
    """Every column of REPETITION_COLUMNS, one value per text in order; None throughout for a None text.
    `loop_unit` and `loop_repeats` are None too when `loop` is False."""
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


# --------------------------------------------------------------------------------------------------------------
# Gopher measures

# A chunk's temporaries (a few dozen arrays of its bytes or words) stay small enough to be reused by the
# allocator and mostly cached; 256 KB to 1 MB measured the same, smaller chunks pay per-call overhead.
CHUNK_CHARS = 1 << 20
SEP = b"\n\n"  # before, between and after texts: a paragraph break, so nothing spans two texts

# Whitespace as `str.isspace` sees it: bytes 09-0D and 1C-20, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
# U+2029, U+202F, U+205F, U+3000, whose UTF-8 encodings start with C2, E1, E2 or E3.
_WIDE_SPACE_CODES = (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_WIDE_SPACES = tuple(chr(c).encode() for c in _WIDE_SPACE_CODES)
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
    docs = len(texts)
    out = np.zeros((docs, len(GOPHER_COLUMNS)), dtype=np.float64)
    # A lone surrogate (JSON "\ud800") encodes to 3 bytes with a lead byte, so it still counts as 1 character.
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    ascii_only = all(len(e) == len(t) for e, t in zip(encoded, texts, strict=True))
    buffer = SEP + SEP.join(encoded) + SEP + bytes(8)  # 8 spare bytes: an 8-byte load anywhere stays inside
    size = len(buffer) - 8
    data = np.frombuffer(buffer, dtype=np.uint8, count=size)

    # Whitespace: bytes up to 0x20, but for the control characters that are not whitespace (rare).
    space = data <= 0x20
    low = np.flatnonzero(data < 0x1C)
    low_byte = data[low]
    space[low[(low_byte < 0x09) | (low_byte > 0x0D)]] = False
    if not ascii_only:
        _mark_wide_spaces(data, space)
    # data starts and ends with whitespace, so word starts and ends alternate
    change = np.flatnonzero(space[1:] != space[:-1]) + 1
    starts, ends = change[0::2], change[1::2]
    words = len(starts)
    if not words:
        return out
    doc_first_word = np.searchsorted(starts, np.cumsum([len(SEP)] + [len(e) + len(SEP) for e in encoded]))
    word_doc = np.repeat(np.arange(docs), np.diff(doc_first_word))
    nbytes = ends - starts
    if ascii_only:
        continuation = np.zeros(0, dtype=np.int64)
        word_chars = nbytes
    else:  # characters = bytes that are not UTF-8 continuation bytes (0b10xxxxxx)
        continuation = np.flatnonzero((data & 0xC0) == 0x80)
        owner = np.searchsorted(starts, continuation, side="right") - 1  # the last word starting before
        inside = owner[(owner >= 0) & (continuation < ends[owner])]
        word_chars = nbytes - np.bincount(inside, minlength=words)
    word_key = _word_keys(buffer, size, starts, nbytes)

    # Lines and paragraphs from the newlines between words: a word after one or more "\n" starts a line, after two
    # or more a paragraph (the rest of such a gap is whitespace, by definition of a word); SEP puts two before
    # every text. A segment runs from its first word's start to its last word's end, so it is stripped.
    next_word = np.searchsorted(starts, low[low_byte == 0x0A])  # the word after each newline, ascending
    twice = next_word[:-1][next_word[1:] == next_word[:-1]]
    up, down = _powers(words)
    weighted = word_key * up
    text_chars = np.fromiter(map(len, texts), np.float64, docs)
    for col, firsts in ((0, next_word), (1, twice)):
        firsts = firsts[firsts < words]  # not the newlines after the last word
        first = firsts[np.concatenate(([True], firsts[1:] != firsts[:-1]))]
        after = np.append(first[1:], words)  # one past each segment's last word
        # Polynomial hash of the segment's word keys, brought back to its first word by an inverse power.
        seg_key = np.add.reduceat(weighted, first) * down[first] + (after - first).astype(np.uint64)
        seg_doc = word_doc[first]
        dup = ~_first_seen(seg_key + seg_doc.astype(np.uint64) * _DOC_SALT)
        a, b = starts[first], ends[after - 1]
        seg_chars = (b - a) - (np.searchsorted(continuation, b) - np.searchsorted(continuation, a))
        segs = np.bincount(seg_doc, minlength=docs)
        out[:, col] = _ratio(np.bincount(seg_doc, weights=dup, minlength=docs), segs)
        out[:, col + 2] = _ratio(np.bincount(seg_doc, weights=seg_chars * dup, minlength=docs), text_chars)

    _ngram_measures(word_key, word_chars, word_doc, doc_first_word, out)
    return out


def _mark_wide_spaces(data: U8, space: Bools) -> None:
    """Set `space` on every byte of the multi-byte whitespace characters (data ends in 2 bytes of SEP)."""
    lead = np.flatnonzero((data == 0xC2) | ((data >= 0xE1) & (data <= 0xE3)))
    lead = lead[lead + 2 < len(data)]
    triple = (data[lead].astype(np.uint32) << 16) | (data[lead + 1].astype(np.uint32) << 8) | data[lead + 2]
    for ch in _WIDE_SPACES:
        code = int.from_bytes(ch, "big")
        hit = lead[(triple >> 8) == code] if len(ch) == 2 else lead[triple == code]
        for k in range(len(ch)):
            space[hit + k] = True


def _word_keys(buffer: bytes, size: int, starts: I64, nbytes: I64) -> U64:
    """A 64-bit key per word, equal for equal words: its bytes (one little-endian 8-byte load, masked) when it has
    at most 8, folded with each further 8 bytes otherwise; then mixed with its length."""
    # An unaligned little-endian load at every byte, so the word's first byte is the key's lowest.
    load = np.ndarray((size,), dtype=np.dtype("<u8"), buffer=buffer, strides=(1,))
    key = load[starts] & _LOW_BYTES[np.minimum(nbytes, 8)]
    longer = np.flatnonzero(nbytes > 8)
    offset = 8
    while len(longer):
        rest = np.minimum(nbytes[longer] - offset, 8)
        key[longer] = _mix(key[longer]) ^ (load[starts[longer] + offset] & _LOW_BYTES[rest])
        offset += 8
        longer = longer[nbytes[longer] > offset]
    return _mix(key + nbytes.astype(np.uint64) * _LENGTH_SALT)


def _mix(x: U64) -> U64:
    """splitmix64's finalizer (Steele, Lea & Flood 2014): a bijection of 64-bit values that spreads every bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


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


def _dense(keys: U64 | I64) -> tuple[I32, I64]:
    """Dense ids of keys (0, 1, ... in order of first appearance) and how often each key's value occurs."""
    ids: I32 = pc.dictionary_encode(pa.array(keys.view(np.int64))).indices.to_numpy()
    return ids, np.bincount(ids)[ids]


def _first_seen(keys: U64) -> Bools:
    """Whether each key is the first of its value, in order."""
    ids, _ = _dense(keys)
    # Ids are handed out in order of first appearance: a first occurrence exceeds every id before it.
    seen: Bools = ids > np.concatenate(([-1], np.maximum.accumulate(ids)[:-1]))
    return seen


def _ngram_measures(word_key: U64, word_chars: I64, word_doc: I64, doc_first_word: I64, out: F64) -> None:
    """Fill the n-gram columns of `out` from a chunk's words (in text order; text k's start at doc_first_word[k])."""
    words, docs = len(word_key), len(out)
    if words < 2:
        return
    doc_chars = np.bincount(word_doc, weights=word_chars, minlength=docs)
    chars_before = np.concatenate(([0], np.cumsum(word_chars)))
    # A bigram at every word but the last, keyed by its two words and its text; none starts at a text's last word.
    key = _mix(word_key[:-1] * _PAIR_BASE + word_key[1:]) + word_doc[:-1].astype(np.uint64) * _DOC_SALT
    last = doc_first_word[1:-1] - 1
    last = last[(last >= 0) & (last < words - 1)]
    key[last] = np.arange(len(last), dtype=np.uint64) | np.uint64(1 << 63)  # distinct keys: they never repeat
    ids, counts = _dense(key)
    at = np.flatnonzero(counts >= 2)  # where a repeated n-gram starts, ascending
    gram, counts = ids[at], counts[at]  # its dense id among the chunk's n-grams, and its count
    grams = int(ids.max()) + 1
    for n in range(2, max(DUP_NGRAMS) + 1):
        if n > 2:
            # The n-gram at i is the pair of (n-1)-grams at i and i+1, and it can repeat only if both do: count
            # only such positions, keyed exactly by the pair of dense ids.
            both = at[1:] == at[:-1] + 1
            ids, counts = _dense(gram[:-1][both].astype(np.int64) * grams + gram[1:][both])
            grams = int(ids.max()) + 1 if len(ids) else 0
            hit = counts >= 2
            at, gram, counts = at[:-1][both][hit], ids[hit], counts[hit]
        if not len(at):
            break  # no longer n-gram repeats either: the remaining columns stay 0.0
        if n in TOP_NGRAMS:
            top = _covered_chars(
                _top_occurrences(at, gram, counts, word_doc, docs), n, chars_before, word_doc, docs
            )
            out[:, GOPHER_COLUMNS.index(f"top_{n}gram_char_frac")] = _ratio(top, doc_chars)
        else:
            dup = _covered_chars(at, n, chars_before, word_doc, docs)
            out[:, GOPHER_COLUMNS.index(f"dup_{n}gram_char_frac")] = _ratio(dup, doc_chars)


def _top_occurrences(at: I64, gram: I32, counts: I64, word_doc: I64, docs: int) -> I64:
    """Where each text's most frequent n-gram occurs (ties: the one seen first), given where repeated n-grams
    start (ascending), their ids and counts."""
    doc = word_doc[at]
    run = np.flatnonzero(np.concatenate(([True], doc[1:] != doc[:-1])))
    best = np.repeat(np.maximum.reduceat(counts, run), np.diff(np.append(run, len(at))))
    is_best = np.flatnonzero(counts == best)
    # A text's first position holding a most frequent n-gram is the first occurrence of the earliest such n-gram.
    first = is_best[np.concatenate(([True], doc[is_best][1:] != doc[is_best][:-1]))]
    top_gram = np.full(docs, -1)
    top_gram[doc[first]] = gram[first]
    occurrences: I64 = at[gram == top_gram[doc]]  # ids are per text: equal ids are in the same text
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
    tail = text[-LOOP_WINDOW:].rstrip()
    if not tail or not _may_loop(tail):
        return None
    found, complete = _loop_in(" ".join(tail.split()), cut=len(text) > LOOP_WINDOW)
    if not complete:  # the loop reaches back past the window: count its copies over the whole text
        found, _ = _loop_in(" ".join(text.split()), cut=False)
    return found


def _may_loop(tail: str) -> bool:
    """A necessary condition for a loop, checked on the raw text because normalizing costs more: the last
    non-space characters occur earlier, and the non-space characters before such an occurrence end like the
    text does, as far as the unit it implies (from there to the end) reaches."""
    probe = tail[-_PROBE:].split()[-1]
    reach = 4 * _COMPARE  # raw characters read to find _COMPARE non-space ones
    last = "".join(tail[-reach:].split())[-_COMPARE:]
    end = len(tail) - 1
    for _ in range(_CANDIDATES):
        i = tail.rfind(probe, 0, end)
        if i < 0:
            return False
        end = i + len(probe)  # the candidate unit is tail[end:], which has the text's last character
        unit = "".join(tail[end : end + reach].split())
        before = "".join(tail[max(0, end - reach) : end].split())  # ends with the probe
        k = min(_COMPARE, len(unit), len(before), len(last))
        if before[-k:] == last[-k:]:
            return True
        end -= 1  # the next occurrence ends before this one
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
