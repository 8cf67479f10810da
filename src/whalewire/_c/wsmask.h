/*
 * WebSocket payload masking (RFC 6455 §5.3) for whalewire's C extensions: ws._speedups
 * (apply_mask, build_frame, the scanners), net._io (write_frame, PlainReader) and
 * venues._hotpath (the order framers); and the 4-byte key taken from a Python argument.
 *
 * Header only: each extension gets its own copy (the mask-key pool is maskpool.h's).
 * Include after <Python.h>. Knows nothing of frames or sockets.
 */
#ifndef WHALEWIRE_WSMASK_H
#define WHALEWIRE_WSMASK_H

#ifndef Py_PYTHON_H
#error "include <Python.h> before wsmask.h"
#endif

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define WW_HAVE_SSE2 1
#endif

/* XOR n bytes of src with the 4-byte key repeated from offset 0, into dst (may equal src).
 * 16 bytes at a time with SSE2, then 8 with a 64-bit word, then the tail byte by byte;
 * memcpy keeps unaligned loads and stores legal on every platform. */
static inline void
ww_xor_mask(const unsigned char *src, unsigned char *dst, Py_ssize_t n, const unsigned char key[4])
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

/* The 4-byte mask key in a buffer object into key (ValueError for another length). */
static inline int
ww_get_key(PyObject *obj, unsigned char key[4])
{
    Py_buffer kb;
    if (PyObject_GetBuffer(obj, &kb, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (kb.len != 4) {
        PyErr_Format(PyExc_ValueError, "mask key must be 4 bytes, got %zd", kb.len);
        PyBuffer_Release(&kb);
        return -1;
    }
    /* copied first: the key may sit inside the buffer being masked */
    memcpy(key, kb.buf, 4);
    PyBuffer_Release(&kb);
    return 0;
}

#endif /* WHALEWIRE_WSMASK_H */
