/*
 * What the two C files of whalewire.ws._speedups share: _speedups.c (masking, UTF-8, frame
 * building and scanning, the module) and _speedups_io.c (the transport's per-message
 * objects: write_frame and its mask-key pool, PlainReader, DirectSender). Internal to the
 * extension: no Python interface is declared here.
 *
 * The per-byte helpers both hot paths use are defined here as plain static functions, so
 * each file gets its own copy and the compiler makes the inlining choices it made when the
 * extension was one file (`static inline` inlined xor_mask and utf8_run everywhere: 5 KiB
 * more code, no faster per frame). Each file uses every one of them; one left unused would
 * warn (-Wunused-function). What is not per byte is defined once, in _speedups.c or
 * _speedups_io.c, and hidden inside the shared object. Include after <Python.h>.
 */
#ifndef WHALEWIRE_WS_SPEEDUPS_H
#define WHALEWIRE_WS_SPEEDUPS_H

#ifndef Py_PYTHON_H
#error "include <Python.h> before _speedups.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define WW_HAVE_SSE2 1
#endif

/* shared between the extension's files, invisible outside its .so */
#if defined(__GNUC__)
#define WW_INTERNAL __attribute__((visibility("hidden")))
#else
#define WW_INTERNAL
#endif

/* ---- masking ---------------------------------------------------------------------------- */

/* XOR n bytes of src with the 4-byte key repeated from offset 0, into dst (may equal src).
 * 16 bytes at a time with SSE2, then 8 with a 64-bit word, then the tail byte by byte;
 * memcpy keeps unaligned loads and stores legal on every platform. */
static void
xor_mask(const unsigned char *src, unsigned char *dst, Py_ssize_t n, const unsigned char key[4])
{
    Py_ssize_t i = 0;
    uint32_t k32;
    uint64_t k64;

    memcpy(&k32, key, 4);
    k64 = ((uint64_t)k32 << 32) | k32;
#ifdef WW_HAVE_SSE2
    if (n >= 16) {
        __m128i k128 = _mm_set1_epi32((int)k32);
        for (; i + 64 <= n; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k128));
            _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, k128));
            _mm_storeu_si128((__m128i *)(dst + i + 32), _mm_xor_si128(c, k128));
            _mm_storeu_si128((__m128i *)(dst + i + 48), _mm_xor_si128(d, k128));
        }
        for (; i + 16 <= n; i += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k128));
        }
    }
#endif
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k64;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++) {
        dst[i] = src[i] ^ key[i & 3];
    }
}

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* States of the validator: 0 is "between code points"; 1..7 wait for a continuation byte
 * in [lo, hi] and then move to next (Unicode Table 3-7, well-formed byte sequences). */
enum { ACCEPT = 0, REJECT = -1 };
static const unsigned char cont_lo[8] = {0, 0x80, 0x80, 0xA0, 0x80, 0x90, 0x80, 0x80};
static const unsigned char cont_hi[8] = {0, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0xBF, 0x8F};
static const signed char cont_next[8] = {0, 0, 1, 1, 1, 2, 2, 2};

/* The state a lead byte moves to from ACCEPT: 1 = one more byte, 2 = two more, 3 = E0
 * (no overlongs), 4 = ED (no surrogates), 5 = F0 (no overlongs), 6 = F1..F3, 7 = F4 (no
 * code point above U+10FFFF); REJECT for 80..C1 and F5..FF. */
static signed char
lead_state(unsigned char c)
{
    if (c < 0xC2) return REJECT; /* ASCII is handled by the caller */
    if (c < 0xE0) return 1;
    if (c == 0xE0) return 3;
    if (c == 0xED) return 4;
    if (c < 0xF0) return 2;
    if (c == 0xF0) return 5;
    if (c < 0xF4) return 6;
    if (c == 0xF4) return 7;
    return REJECT;
}

static int
utf8_run(const unsigned char *s, Py_ssize_t n, int state)
{
    Py_ssize_t i = 0;
    while (i < n) {
        if (state == ACCEPT) {
            /* ASCII fast path: 8 bytes at a time while no high bit is set */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & UINT64_C(0x8080808080808080)) break;
                i += 8;
            }
            while (i < n && s[i] < 0x80) i++;
            if (i >= n) break;
            state = lead_state(s[i++]);
            if (state == REJECT) return REJECT;
        } else {
            unsigned char c = s[i++];
            if (c < cont_lo[state] || c > cont_hi[state]) return REJECT;
            state = cont_next[state];
        }
    }
    return state;
}

/* ---- frame building ---------------------------------------------------------------------- */

/* Write the header for a payload of n bytes so that it ends at dst + hlen; return hlen. */
static Py_ssize_t
header_size(Py_ssize_t n, int masked)
{
    return (n < 126 ? 2 : n < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

static void
put_header(unsigned char *dst, unsigned char b0, Py_ssize_t n, const unsigned char *key)
{
    unsigned char m = key != NULL ? 0x80 : 0;
    dst[0] = b0;
    if (n < 126) {
        dst[1] = m | (unsigned char)n;
        dst += 2;
    }
    else if (n < 65536) {
        dst[1] = m | 126;
        dst[2] = (unsigned char)(n >> 8);
        dst[3] = (unsigned char)n;
        dst += 4;
    }
    else {
        uint64_t u = (uint64_t)n;
        dst[1] = m | 127;
        for (int i = 0; i < 8; i++) dst[2 + i] = (unsigned char)(u >> (56 - 8 * i));
        dst += 10;
    }
    if (key != NULL) memcpy(dst, key, 4);
}

/* ---- frame scanning ---------------------------------------------------------------------- */

/* If a plain frame starts at s[pos] (complete, FIN, no RSV bit, TEXT or BINARY, the mask bit
 * as wanted, a 7-bit or minimal 16-bit length of at most limit), set *p and *len to its
 * payload and return its first byte; else return 0 and leave it to the Python reader. */
static unsigned char
next_plain(const unsigned char *s, Py_ssize_t pos, Py_ssize_t end, int want_mask,
           Py_ssize_t limit, Py_ssize_t *p_out, Py_ssize_t *len_out)
{
    unsigned char b0, b1;
    Py_ssize_t len, p;

    if (end - pos < 2) return 0;
    b0 = s[pos];
    b1 = s[pos + 1];
    if ((b0 != 0x81 && b0 != 0x82) || ((b1 & 0x80) != 0) != (want_mask != 0)) return 0;
    len = b1 & 0x7F;
    p = pos + 2;
    if (len == 126) {
        if (end - pos < 4) return 0;
        len = ((Py_ssize_t)s[p] << 8) | s[p + 1];
        if (len < 126) return 0;
        p += 2;
    }
    else if (len == 127) {
        return 0; /* 64-bit lengths are rare and large: the Python reader's per-frame cost is nothing */
    }
    if (len > limit) return 0;
    if (want_mask) p += 4;
    if (end - p < len) return 0;
    *p_out = p;
    *len_out = len;
    return b0;
}

/* Return view[start:start + len] as a new memoryview on the same exporter. For a 1-D byte
 * view this is the work of memoryview slicing minus the slice object: register a view
 * with the same managed buffer, then narrow its window. */
static PyObject *
byte_slice(PyObject *view, int simple, Py_ssize_t start, Py_ssize_t len)
{
    PyObject *m;
    Py_buffer *v;

    if (!simple) return PySequence_GetSlice(view, start, start + len);
    m = PyMemoryView_FromObject(view);
    if (m == NULL) return NULL;
    v = PyMemoryView_GET_BUFFER(m);
    v->buf = (char *)v->buf + start;
    v->len = len;
    if (v->shape != NULL) v->shape[0] = len;
    return m;
}

/* ---- callbacks ---------------------------------------------------------------------------- */

/* Take the exception a callback raised off the error indicator: normalized, its traceback
 * attached (the caller hands it to Python or re-raises it). NULL when none is set. */
static PyObject *
take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* ---- defined in _speedups.c ------------------------------------------------------------- */

/* the 4-byte mask key in a buffer object (ValueError for another length) */
WW_INTERNAL int ww_get_key(PyObject *obj, unsigned char key[4]);
/* a frame's first byte from an int 0..255 (ValueError otherwise) */
WW_INTERNAL int ww_get_b0(PyObject *obj, unsigned char *b0);
/* the opcodes handed to on_frame (small ints, immortal in practice) */
WW_INTERNAL extern PyObject *ww_one, *ww_two;

/* ---- defined in _speedups_io.c ---------------------------------------------------------- */

WW_INTERNAL extern const char ww_write_frame_doc[];
WW_INTERNAL PyObject *ww_write_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
/* once per process, before the module is created: the mask-key pool's fork handler */
WW_INTERNAL int ww_io_init(void);
/* add PlainReader and DirectSender to module (its exec slot) */
WW_INTERNAL int ww_io_exec(PyObject *module);

#endif /* WHALEWIRE_WS_SPEEDUPS_H */
