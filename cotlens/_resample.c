/* The bootstrap's resampling weights, drawn and counted in one pass: the compiled twin of the numpy path of
 * cotlens/stats.py (`_draw_weights`), which draws each resample's n transcript indices with
 * `rng.integers(0, n, size=(m, n), dtype=np.int64)` and counts them with np.bincount. Both must give the same
 * counts from the same generator and leave it in the same state, so this file draws exactly the 32-bit values numpy
 * draws, in the same order, and maps them to indices the same way:
 *
 *   numpy's bounded integers of a range of at most 2^32 values (n - 1 <= 0xFFFFFFFF) take one `next_uint32` of the
 *   bit generator per index through Lemire's multiply-shift ("Fast Random Integer Generation in an Interval",
 *   ACM TOMACS 2019): the index is the high 32 bits of x * n; the low 32 bits, when below 2^32 mod n, reject x
 *   and draw again (numpy tests `low < n` first and computes the threshold there; the threshold is below n, so
 *   testing it directly rejects the same values). A range of exactly 2^32 takes x itself. n = 1 draws nothing.
 *
 * The bit generator is numpy's C interface to it, the `bitgen_t` its "BitGenerator" capsule holds (documented in
 * numpy's "C API for random"): the struct is declared here rather than taken from numpy's headers, so the build
 * needs no numpy. Like numpy, the draws hold the bit generator's lock and run without the GIL (the weights are held
 * through the buffer protocol meanwhile, so nothing can free them).
 *
 * Counts are added to the weights in their own type (float32 or float64): a count is at most n, and stats.py uses
 * float32 weights only for n below 2^24, where float32 counts are exact.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* numpy's bitgen_t (numpy/random/bitgen.h), member for member. */
typedef struct {
    void *state;
    uint64_t (*next_uint64)(void *state);
    uint32_t (*next_uint32)(void *state);
    double (*next_double)(void *state);
    uint64_t (*next_raw)(void *state);
} BitGen;

/* One index in [0, n) as numpy's int64 bounded integers draw it, for 2 <= n <= 2^32 (`threshold` is 2^32 mod n,
 * 0 for n = 2^32, whose index is x itself: x * 2^32 >> 32). */
static inline uint64_t draw_index(BitGen *bitgen, uint64_t n, uint32_t threshold) {
    uint64_t m = (uint64_t)bitgen->next_uint32(bitgen->state) * n;
    while ((uint32_t)m < threshold) m = (uint64_t)bitgen->next_uint32(bitgen->state) * n;
    return m >> 32;
}

/* Rows of n counts each, `rows` after one another in `out`: one template per element type. */
#define COUNT_ROWS(name, type)                                                                                      \
    static void name(BitGen *bitgen, type *out, Py_ssize_t rows, Py_ssize_t n) {                                  \
        uint64_t range = (uint64_t)n;                                                                               \
        uint32_t threshold = (uint32_t)((UINT64_C(1) << 32) % range);                                               \
        for (Py_ssize_t r = 0; r < rows; r++) {                                                                     \
            type *row = out + r * n;                                                                                \
            if (n == 1) {                                                                                           \
                row[0] = 1;                                                                                         \
                continue;                                                                                           \
            }                                                                                                       \
            memset(row, 0, (size_t)n * sizeof *row);                                                                \
            for (Py_ssize_t i = 0; i < n; i++) row[draw_index(bitgen, range, threshold)] += 1;                     \
        }                                                                                                           \
    }

COUNT_ROWS(count_rows_float, float)
COUNT_ROWS(count_rows_double, double)

/* 'f' or 'd' for a buffer of native float32 or float64 (a struct format "f", "@f", "=f" or, on a little-endian
 * machine, "<f"), else 0. */
static char float_kind(const Py_buffer *view) {
    const char *format = view->format;
    if (format == NULL) return 0;
    if (format[0] == '@' || format[0] == '=') format++;
#if PY_LITTLE_ENDIAN
    else if (format[0] == '<') format++;
#else
    else if (format[0] == '>' || format[0] == '!') format++;
#endif
    if (format[0] == 'f' && format[1] == '\0' && view->itemsize == 4) return 'f';
    if (format[0] == 'd' && format[1] == '\0' && view->itemsize == 8) return 'd';
    return 0;
}

/* The bit generator's bitgen_t and its lock (a new reference), or NULL with an exception set. */
static BitGen *bit_generator_parts(PyObject *bit_generator, PyObject **lock) {
    PyObject *capsule = PyObject_GetAttrString(bit_generator, "capsule");
    if (capsule == NULL) return NULL;
    BitGen *bitgen = PyCapsule_GetPointer(capsule, "BitGenerator");
    Py_DECREF(capsule); /* the bit generator owns the struct; the caller holds the bit generator */
    if (bitgen == NULL) return NULL;
    *lock = PyObject_GetAttrString(bit_generator, "lock");
    return *lock == NULL ? NULL : bitgen;
}

PyDoc_STRVAR(draw_counts_doc,
             "draw_counts(bit_generator, weights, /)\n\nFill weights (rows, n), C-contiguous float32 or float64, "
             "with multinomial(n, 1/n) counts: row r counts how often each of n transcripts is drawn in resample r, "
             "from the indices `Generator(bit_generator).integers(0, n, size=(rows, n), dtype=numpy.int64)` draws, "
             "leaving the bit generator in the state that call leaves it in.");

static PyObject *draw_counts(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *bit_generator, *weights;
    if (!PyArg_ParseTuple(args, "OO", &bit_generator, &weights)) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(weights, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) return NULL;
    char kind = float_kind(&view);
    PyObject *lock = NULL, *result = NULL;
    if (view.ndim != 2 || kind == 0) {
        PyErr_SetString(PyExc_TypeError, "weights must be a 2-dimensional float32 or float64 array");
        goto done;
    }
    Py_ssize_t rows = view.shape[0], n = view.shape[1];
    if ((uint64_t)n > (UINT64_C(1) << 32)) {
        PyErr_SetString(PyExc_OverflowError, "more than 2^32 transcripts to resample");
        goto done;
    }
    BitGen *bitgen = bit_generator_parts(bit_generator, &lock);
    if (bitgen == NULL) goto done;
    PyObject *held = PyObject_CallMethod(lock, "acquire", NULL);
    if (held == NULL) goto done;
    Py_DECREF(held);
    if (n > 0) {
        Py_BEGIN_ALLOW_THREADS;
        if (kind == 'f')
            count_rows_float(bitgen, view.buf, rows, n);
        else
            count_rows_double(bitgen, view.buf, rows, n);
        Py_END_ALLOW_THREADS;
    }
    PyObject *released = PyObject_CallMethod(lock, "release", NULL);
    if (released == NULL) goto done;
    Py_DECREF(released);
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(lock);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {{"draw_counts", draw_counts, METH_VARARGS, draw_counts_doc}, {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_resample",
                                    "The bootstrap's compiled resampling weights (see _resample.c).", -1, methods};

PyMODINIT_FUNC PyInit__resample(void) { return PyModule_Create(&module); }
