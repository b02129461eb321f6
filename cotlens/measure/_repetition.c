/* The Gopher repetition columns of a batch of texts, in one pass per text: the compiled twin of the numpy path of
 * cotlens/measure/repetition.py (`_gopher_chunk`), whose module docstring gives the definitions. Both must give the
 * same doubles: every fraction is an integer count over an integer count, divided once in double precision.
 *
 * Per text, on its code points as CPython stores them (1, 2 or 4 bytes each, so a lone surrogate is one character):
 *   1. words: maximal runs of characters that are not whitespace (the set `str.isspace` holds, listed in
 *      is_space), each with the newlines since the word before (the text starts after two: a paragraph break);
 *      texts of 1-byte characters are read 8 bytes at a time;
 *   2. each word gets a dense id, equal for equal words: a hash table on a 64-bit key of its characters, compared
 *      exactly when keys match (a word of at most 8 one-byte characters is its key), so a collision never merges
 *      two different words;
 *   3. lines and paragraphs are runs of word ids, hashed and compared exactly on a hash match;
 *   4. bigrams are keyed exactly by their two word ids; the n-gram at i is then keyed exactly by the ids of the
 *      (n-1)-grams at i and i + 1, and only where both occur more than once (an n-gram repeats only then): only the
 *      repeated n-grams of one n go on to the next.
 * So no result depends on a hash collision (the numpy path's 64-bit keys can, with probability about 2^-64 per
 * pair). Ids go in order of first appearance, so ties of the top n-gram go to the one seen first.
 *
 * Texts over INT32_MAX characters raise OverflowError (ids and positions are 32-bit): the caller measures those
 * with the numpy path. `may_loop`, at the end, is find_loop's pre-check.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define COLUMNS 13 /* GOPHER_COLUMNS: 4 line/paragraph columns, top 2..4-gram, duplicate 5..10-gram */
#define MAX_N 10
#define LINE 1 /* word flags: the word starts a line, a paragraph */
#define PARAGRAPH 2

static const uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL; /* odd: multiplicative hashing */

/* `str.isspace`: 09-0D, 1C-20, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
static int is_space(Py_UCS4 c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || c >= 0x1C;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* splitmix64's finalizer (Steele, Lea & Flood 2014): spreads every bit of a key. */
static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* One slot of an open-addressing hash table (linear probing); value -1 marks it empty. */
typedef struct {
    uint64_t key;
    int32_t value;
    int32_t length; /* a word's characters, a line's or paragraph's words */
} Slot;

/* Scratch space, grown to the largest text of a batch and reused. */
typedef struct {
    size_t words; /* capacity of the per-word arrays */
    int32_t *start, *end, *id, *first_of, *at, *gram, *count, *seg_first;
    int64_t *chars_before;
    uint64_t *key;
    uint8_t *flag;
    size_t slots; /* capacity of the hash table */
    Slot *table;
} Work;

static void work_free(Work *w) {
    free(w->start), free(w->end), free(w->id), free(w->first_of), free(w->gram), free(w->count);
    free(w->at), free(w->seg_first), free(w->chars_before), free(w->key);
    free(w->flag), free(w->table);
    memset(w, 0, sizeof *w);
}

/* realloc that keeps the old block on failure (work_free frees it), in a function that declares `void *grown`. */
#define GROW(field, n) ((grown = realloc(w->field, (n) * sizeof *w->field)) == NULL ? -1 : (w->field = grown, 0))

static int work_reserve(Work *w, size_t words) {
    void *grown;
    if (words <= w->words) return 0;
    words += words / 2;
    if (GROW(start, words) || GROW(end, words) || GROW(id, words) || GROW(first_of, words) || GROW(gram, words) ||
        GROW(count, words) || GROW(at, words) || GROW(seg_first, words) ||
        GROW(chars_before, words + 1) || GROW(key, words) || GROW(flag, words))
        return -1;
    w->words = words;
    return 0;
}

/* An empty table of at least 2 slots per key (a power of two): its mask, and its shift for multiplicative
 * hashing (slot = (hash * GOLDEN) >> shift uses the product's high bits, the well-mixed ones). */
static int table_clear(Work *w, size_t keys, int *shift, size_t *mask) {
    void *grown;
    size_t slots = 16;
    int bits = 4;
    while (slots < 2 * keys) slots <<= 1, bits++;
    if (slots > w->slots) {
        if (GROW(table, slots)) return -1;
        w->slots = slots;
    }
    memset(w->table, 0xFF, slots * sizeof *w->table); /* value -1: empty */
    *shift = 64 - bits;
    *mask = slots - 1;
    return 0;
}

/* Whitespace among the first 256 code points (1), "\n" (2): 09-0D, 1C-20, U+0085, U+00A0. */
static uint8_t LATIN1_SPACE[256];

static void init_latin1_space(void) {
    for (int c = 0; c < 256; c++) LATIN1_SPACE[c] = (uint8_t)is_space((Py_UCS4)c);
    LATIN1_SPACE['\n'] = 2;
}

#define SPACE(c) ((c) < 256 ? LATIN1_SPACE[c] : is_space(c))

static uint64_t load64(const Py_UCS1 *p) {
    uint64_t x;
    memcpy(&x, p, 8); /* one unaligned load */
    return x;
}

/* The offset of the lowest byte of `flagged` (not 0) that has its high bit set, in memory order. */
static Py_ssize_t first_flagged(uint64_t flagged) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(flagged) >> 3;
#else
    Py_ssize_t k = 0;
    for (; !(flagged & 0x80); flagged >>= 8) k++;
    return k;
#endif
}

static int little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Where the word at s[i] (no whitespace) ends, for 1-byte characters: 8 at a time, each byte below 0x21 or above
 * 0x7F flagged (all whitespace is among them) and the first flagged one looked up. A branch per character
 * would guess wrong at nearly every word's end. */
static Py_ssize_t ucs1_word_end(const Py_UCS1 *s, Py_ssize_t i, Py_ssize_t length, int swar) {
    const uint64_t high = 0x8080808080808080ULL, below_21 = 0x2121212121212121ULL;
    i++;
    while (swar && i + 8 <= length) {
        uint64_t x = load64(s + i);
        /* x - below_21 borrows into the high bit of a byte below 0x21 (and maybe of later bytes: only the first
         * flagged byte is read, and no borrow comes before it) */
        uint64_t flagged = ((x - below_21) & ~x & high) | (x & high);
        if (flagged == 0) {
            i += 8;
            continue;
        }
        i += first_flagged(flagged);
        if (LATIN1_SPACE[s[i]]) return i;
        i++; /* a control character or a Latin-1 letter: still the word */
    }
    while (i < length && !LATIN1_SPACE[s[i]]) i++;
    return i;
}

/* A word's key, for 1-byte characters: a word of at most 8 bytes is its key exactly (little-endian, first byte
 * lowest); a longer one folds each further 8 bytes in. `limit` ends the readable bytes. */
static uint64_t ucs1_key(const Py_UCS1 *p, Py_ssize_t n, const Py_UCS1 *limit) {
    uint64_t key = 0;
    for (Py_ssize_t done = 0; done < n; done += 8) {
        Py_ssize_t take = n - done < 8 ? n - done : 8;
        uint64_t chunk = 0;
        if (p + done + 8 <= limit) {
            chunk = load64(p + done);
            if (take < 8) chunk &= ((uint64_t)1 << (8 * take)) - 1;
        } else {
            for (Py_ssize_t k = take - 1; k >= 0; k--) chunk = (chunk << 8) | p[done + k];
        }
        key = done ? mix(key) ^ chunk : chunk;
    }
    return key;
}

/* The words of a text: start and end (code point offsets), key and line/paragraph flags. One function per
 * storage kind, so each reads its code points directly; WORD moves i to the end of the word at `begin` and sets
 * its key. */
#define SCAN(NAME, TYPE, WORD)                                                                                     \
    static Py_ssize_t NAME(const TYPE *s, Py_ssize_t length, Work *w) {                                            \
        Py_ssize_t words = 0, i = 0;                                                                               \
        int newlines = 2, swar = little_endian();                                                                  \
        (void)swar;                                                                                                \
        while (i < length) {                                                                                       \
            Py_UCS4 c = s[i];                                                                                      \
            int space = SPACE(c);                                                                                  \
            if (space) {                                                                                           \
                newlines += space == 2 && newlines < 2;                                                            \
                i++;                                                                                               \
                continue;                                                                                          \
            }                                                                                                      \
            Py_ssize_t begin = i;                                                                                  \
            uint64_t key = 0;                                                                                      \
            WORD;                                                                                                  \
            w->start[words] = (int32_t)begin;                                                                      \
            w->end[words] = (int32_t)i;                                                                            \
            w->key[words] = key;                                                                                   \
            w->flag[words] = (uint8_t)((newlines >= 1 ? LINE : 0) | (newlines >= 2 ? PARAGRAPH : 0));              \
            newlines = 0;                                                                                          \
            words++;                                                                                               \
        }                                                                                                          \
        return words;                                                                                              \
    }

/* Wider characters, a character at a time, each rotated into the key. */
#define WIDE_WORD                                                                                                  \
    do {                                                                                                           \
        key = ((key << 8) | (key >> 56)) ^ c;                                                                      \
        if (++i == length) break;                                                                                  \
        c = s[i];                                                                                                  \
    } while (!SPACE(c))

SCAN(scan_ucs1, Py_UCS1, (i = ucs1_word_end(s, i, length, swar), key = ucs1_key(s + begin, i - begin, s + length)))
SCAN(scan_ucs2, Py_UCS2, WIDE_WORD)
SCAN(scan_ucs4, Py_UCS4, WIDE_WORD)

/* Dense word ids, equal exactly for equal words (same code points): equal keys and lengths, and equal
 * characters unless the key holds them all. */
static int word_ids(Work *w, Py_ssize_t words, const char *data, int kind) {
    int shift;
    size_t mask;
    if (table_clear(w, (size_t)words, &shift, &mask)) return -1;
    /* The arrays in locals: the compiler cannot tell that stores into them leave w's pointers unchanged. */
    const uint64_t *keys = w->key;
    const int32_t *start = w->start, *end = w->end;
    int32_t *id = w->id, *first_of = w->first_of, ids = 0;
    Slot *table = w->table;
    for (Py_ssize_t i = 0; i < words; i++) {
        uint64_t key = keys[i];
        int32_t length = end[i] - start[i];
        size_t slot = (size_t)(((key + (uint64_t)length) * GOLDEN) >> shift);
        for (;;) {
            Slot *e = &table[slot];
            if (e->value < 0) {
                e->value = ids;
                e->key = key;
                e->length = length;
                first_of[ids] = (int32_t)i;
                id[i] = ids++;
                break;
            }
            if (e->key == key && e->length == length &&
                ((kind == 1 && length <= 8) || memcmp(data + (size_t)start[first_of[e->value]] * kind,
                                                      data + (size_t)start[i] * kind, (size_t)length * kind) == 0)) {
                id[i] = e->value;
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    return 0;
}

/* Lines (bit LINE) or paragraphs (PARAGRAPH): how many, how many equal an earlier one, their characters. */
static int segments(Work *w, Py_ssize_t words, uint8_t bit, int64_t *total, int64_t *dups, int64_t *dup_chars) {
    const uint8_t *flag = w->flag;
    const int32_t *id = w->id;
    int shift;
    size_t mask, segments = 0;
    for (Py_ssize_t i = 0; i < words; i++) segments += (flag[i] & bit) != 0; /* a table their size, not the words' */
    if (table_clear(w, segments, &shift, &mask)) return -1;
    Slot *table = w->table;
    int32_t *first = w->seg_first, n = 0;
    int64_t repeated = 0, repeated_chars = 0;
    for (Py_ssize_t a = 0; a < words;) {
        Py_ssize_t b = a + 1;
        while (b < words && !(flag[b] & bit)) b++;
        uint64_t h = (uint64_t)(b - a);
        for (Py_ssize_t i = a; i < b; i++) h = (h + (uint64_t)id[i] + 1) * GOLDEN;
        h = mix(h);
        int32_t length = (int32_t)(b - a);
        size_t slot = (size_t)((h * GOLDEN) >> shift);
        for (;;) {
            Slot *e = &table[slot];
            if (e->value < 0) {
                e->value = n;
                e->key = h;
                e->length = length;
                first[n++] = (int32_t)a;
                break;
            }
            if (e->key == h && e->length == length &&
                memcmp(id + first[e->value], id + a, (size_t)length * sizeof *id) == 0) {
                repeated++;
                repeated_chars += w->end[b - 1] - w->start[a];
                break;
            }
            slot = (slot + 1) & mask;
        }
        a = b;
    }
    *total = n + repeated;
    *dups = repeated;
    *dup_chars = repeated_chars;
    return 0;
}

/* The id of the pair (a, b) of ids in the table, a new one (counted from *ids, its count in `count` zeroed)
 * if it is not there yet. */
static int32_t intern(Slot *table, int32_t *count, int32_t a, int32_t b, int shift, size_t mask, int32_t *ids) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t slot = (size_t)((key * GOLDEN) >> shift);
    for (;;) {
        Slot *e = &table[slot];
        if (e->value < 0) {
            e->value = *ids;
            e->key = key;
            count[*ids] = 0;
            return (*ids)++;
        }
        if (e->key == key) return e->value;
        slot = (slot + 1) & mask;
    }
}

static double ratio(int64_t num, int64_t den) { return den > 0 ? (double)num / (double)den : 0.0; }

/* The entries of at/gram whose gram occurs at least twice, kept in order (in place); their number. Also the
 * most frequent such gram, the first seen (lowest id) on ties, in *best. */
static Py_ssize_t keep_repeated(int32_t *at, int32_t *gram, Py_ssize_t entries, const int32_t *count, int32_t ids,
                                int32_t *best) {
    int32_t best_count = 1;
    *best = -1;
    for (int32_t g = 0; g < ids; g++)
        if (count[g] > best_count) *best = g, best_count = count[g];
    if (*best < 0) return 0;
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < entries; k++) {
        int32_t g = gram[k];
        at[kept] = at[k];
        gram[kept] = g;
        kept += count[g] >= 2;
    }
    return kept;
}

/* Characters of the words covered by the n-grams at at[k] (ascending) whose gram is `which` (any when < 0), each
 * word once: the spans [at, at + n) merged into runs. */
static int64_t covered(const int32_t *at, const int32_t *gram, Py_ssize_t entries, int n, int32_t which,
                       const int64_t *before) {
    int64_t total = 0;
    int32_t run_start = 0, run_end = 0;
    for (Py_ssize_t k = 0; k < entries; k++) {
        if (which >= 0 && gram[k] != which) continue;
        if (at[k] >= run_end) {
            total += before[run_end] - before[run_start];
            run_start = at[k];
        }
        run_end = at[k] + n;
    }
    return total + before[run_end] - before[run_start];
}

/* Columns 4..12: top 2..4-gram and duplicate 5..10-gram character fractions. Only repeated n-grams are kept from
 * one n to the next, as (position, id) pairs: about half the bigrams repeat in reasoning text, a tenth of the
 * 5-grams. */
static int ngrams(Work *w, Py_ssize_t words, double *row) {
    int64_t *before = w->chars_before;
    before[0] = 0;
    for (Py_ssize_t i = 0; i < words; i++) before[i + 1] = before[i] + (w->end[i] - w->start[i]);
    Py_ssize_t entries = words - 1; /* bigrams */
    if (entries < 1) return 0;
    int shift;
    size_t mask;
    if (table_clear(w, (size_t)entries, &shift, &mask)) return -1;
    int32_t ids = 0, best, *at = w->at, *gram = w->gram, *count = w->count;
    for (Py_ssize_t i = 0; i < entries; i++) {
        int32_t g = intern(w->table, count, w->id[i], w->id[i + 1], shift, mask, &ids);
        at[i] = (int32_t)i;
        gram[i] = g;
        count[g]++;
    }
    for (int n = 2;; n++) {
        entries = keep_repeated(at, gram, entries, count, ids, &best);
        if (entries == 0) return 0; /* no n-gram repeats, nor does a longer one: the remaining columns stay 0.0 */
        row[2 + n] = ratio(covered(at, gram, entries, n, n <= 4 ? best : -1, before), before[words]);
        if (n == MAX_N) return 0;
        /* The (n+1)-gram at i is the pair of n-grams at i and i + 1, and can repeat only if both do. */
        if (table_clear(w, (size_t)entries, &shift, &mask)) return -1;
        Py_ssize_t pairs = 0;
        ids = 0;
        for (Py_ssize_t k = 0; k + 1 < entries; k++) {
            if (at[k + 1] != at[k] + 1) continue;
            int32_t g = intern(w->table, count, gram[k], gram[k + 1], shift, mask, &ids);
            count[g]++;
            at[pairs] = at[k];
            gram[pairs++] = g;
        }
        entries = pairs;
    }
}

static int measure_text(Work *w, PyObject *text, double *row) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    if (length > INT32_MAX - 1) {
        PyErr_SetString(PyExc_OverflowError, "text too long for the compiled repetition kernel");
        return -1;
    }
    if (work_reserve(w, (size_t)(length / 2 + 2))) return -1; /* words and one spare slot */
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t words = kind == PyUnicode_1BYTE_KIND   ? scan_ucs1(data, length, w)
                       : kind == PyUnicode_2BYTE_KIND ? scan_ucs2(data, length, w)
                                                      : scan_ucs4(data, length, w);
    memset(row, 0, COLUMNS * sizeof *row);
    if (words == 0) return 0;
    if (word_ids(w, words, data, kind)) return -1;
    int64_t total, dups, dup_chars;
    for (int col = 0; col < 2; col++) {
        if (segments(w, words, col == 0 ? LINE : PARAGRAPH, &total, &dups, &dup_chars)) return -1;
        row[col] = ratio(dups, total);
        row[col + 2] = ratio(dup_chars, length);
    }
    return ngrams(w, words, row);
}

PyDoc_STRVAR(gopher_doc,
             "gopher(texts, out)\n\nFill `out` (a C-contiguous float64 buffer of len(texts) x 13) with the Gopher "
             "columns of each text, in GOPHER_COLUMNS order; a None text gets zeros.");

static PyObject *gopher(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *texts, *out;
    if (!PyArg_ParseTuple(args, "OO", &texts, &out)) return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(out, &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject *result = NULL;
    Work w;
    memset(&w, 0, sizeof w);
    if (view.itemsize != sizeof(double) || view.format == NULL || strcmp(view.format, "d") != 0 ||
        view.len != count * COLUMNS * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "out must be a float64 buffer of len(texts) x 13");
        goto done;
    }
    double *rows = view.buf;
    for (Py_ssize_t t = 0; t < count; t++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, t);
        double *row = rows + t * COLUMNS;
        if (text == Py_None) {
            memset(row, 0, COLUMNS * sizeof *row);
            continue;
        }
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "texts must be str or None, not %.100s", Py_TYPE(text)->tp_name);
            goto done;
        }
        if (measure_text(&w, text, row)) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            goto done;
        }
    }
    result = Py_NewRef(Py_None);
done:
    work_free(&w);
    PyBuffer_Release(&view);
    Py_DECREF(seq);
    return result;
}

/* The non-space characters of text[a:b], the last `room` of them at most, into `out`; their number. */
static Py_ssize_t non_space(int kind, const void *data, Py_ssize_t a, Py_ssize_t b, Py_UCS4 *out, Py_ssize_t room) {
    Py_ssize_t n = 0;
    for (Py_ssize_t k = b - 1; k >= a && n < room; k--) {
        Py_UCS4 c = PyUnicode_READ(kind, data, k);
        if (!is_space(c)) out[room - 1 - n++] = c; /* filled from the end */
    }
    memmove(out, out + room - n, (size_t)n * sizeof *out);
    return n;
}

/* _may_loop of repetition.py, the same steps on the raw text (kept in step with it): 0 where it is False. */
static int raw_may_loop(PyObject *text, Py_ssize_t start, Py_ssize_t end, Py_ssize_t probe_length, Py_ssize_t compare,
                        Py_ssize_t candidates) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t first = end - 1, lowest = end - probe_length > start ? end - probe_length : start;
    while (first > lowest && !is_space(PyUnicode_READ(kind, data, first - 1))) first--;
    PyObject *probe = PyUnicode_Substring(text, first, end); /* the last word of the last probe_length chars */
    if (probe == NULL) return -1;
    Py_ssize_t probe_chars = end - first, reach = 4 * compare, last_n, unit_n, before_n;
    Py_UCS4 last[64], unit[64], before[64];
    if (compare > 64 || reach > 4 * 64) compare = 64, reach = 4 * 64; /* buffers: _COMPARE is 16 */
    Py_ssize_t i = PyUnicode_Find(text, probe, start, end - 1, -1); /* CPython's own rfind */
    int result = 1; /* many candidates: the exact search decides */
    if (i < 0) {
        result = i == -2 ? -1 : 0; /* most texts: their last characters occur nowhere before */
        goto done;
    }
    last_n = non_space(kind, data, end - reach > start ? end - reach : start, end, last, compare);
    for (Py_ssize_t c = 0; c < candidates; c++) {
        if (i < 0) {
            result = i == -2 ? -1 : 0;
            goto done;
        }
        Py_ssize_t stop = i + probe_chars;
        unit_n = non_space(kind, data, stop, stop + reach < end ? stop + reach : end, unit, 64);
        before_n = non_space(kind, data, stop - reach > start ? stop - reach : start, stop, before, 64);
        Py_ssize_t k = compare;
        if (unit_n < k) k = unit_n;
        if (before_n < k) k = before_n;
        if (last_n < k) k = last_n;
        if (k > 0 && memcmp(before + before_n - k, last + last_n - k, (size_t)k * sizeof *last) == 0) goto done;
        i = PyUnicode_Find(text, probe, start, stop - 1, -1);
    }
done:
    Py_DECREF(probe);
    return result;
}

/* find_loop's pre-check (repetition.py), for the text's last `window` characters with trailing whitespace left
 * out: 1 if a loop is possible, 0 if find_loop surely finds none. First _may_loop (above), then, on the window
 * normalized as find_loop normalizes it (whitespace runs one space, ends stripped), the candidate periods p of
 * _loop_in: each is where the last `probe` characters recur, and a loop needs the last 2p + 1 characters to have
 * period p. Where none does, _loop_in finds nothing. -1 on error. */
static int loop_possible(PyObject *text, Py_ssize_t window, Py_ssize_t probe_length, Py_ssize_t compare,
                         Py_ssize_t candidates) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t start = length > window ? length - window : 0, end = length;
    while (end > start && is_space(PyUnicode_READ(kind, data, end - 1))) end--;
    if (end == start || probe_length < 1) return 0;
    int possible = raw_may_loop(text, start, end, probe_length, compare, candidates);
    if (possible <= 0) return possible;

    Py_UCS4 *s = PyMem_Malloc((size_t)(end - start) * sizeof *s);
    if (s == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t n = 0;
    int gap = 0;
    for (Py_ssize_t k = start; k < end; k++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, k);
        if (is_space(c)) {
            gap = n > 0;
            continue;
        }
        if (gap) s[n++] = ' ', gap = 0;
        s[n++] = c;
    }
    Py_ssize_t lp = n < probe_length ? n : probe_length, last = n - 1;
    const Py_UCS4 *tail = s + n - lp;
    possible = 0;
    for (;;) {
        Py_ssize_t i = last - lp; /* s.rfind(tail, 0, last) */
        while (i >= 0 && (s[i] != tail[0] || memcmp(s + i, tail, (size_t)lp * sizeof *s) != 0)) i--;
        if (i < 0) break;
        Py_ssize_t p = n - (i + lp);
        if (2 * p + 1 > n) break;
        last = i + lp - 1;
        if (memcmp(s + n - 2 * p - 1, s + n - p - 1, (size_t)(p + 1) * sizeof *s) == 0) {
            possible = 1;
            break;
        }
    }
    PyMem_Free(s);
    return possible;
}

PyDoc_STRVAR(may_loop_doc,
             "may_loop(text, window, probe, compare, candidates)\n\nFalse when find_loop(text) surely finds no loop "
             "(given its LOOP_WINDOW, _PROBE, _COMPARE and _CANDIDATES): a necessary condition.");

static PyObject *may_loop(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text;
    Py_ssize_t window, probe_length, compare, candidates;
    if (!PyArg_ParseTuple(args, "Unnnn", &text, &window, &probe_length, &compare, &candidates)) return NULL;
    int possible = loop_possible(text, window, probe_length, compare, candidates);
    if (possible < 0) return NULL;
    return PyBool_FromLong(possible);
}

static PyMethodDef methods[] = {{"gopher", gopher, METH_VARARGS, gopher_doc},
                                {"may_loop", may_loop, METH_VARARGS, may_loop_doc},
                                {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_repetition",
                                    "The compiled Gopher repetition kernel (see _repetition.c).", -1, methods};

PyMODINIT_FUNC PyInit__repetition(void) {
    init_latin1_space();
    return PyModule_Create(&module);
}
