/*
 * Reading Bitcoin's serialisation (Core serialize.h): a bounds-checked cursor over a buffer,
 * little-endian integers, compact sizes refused as Core refuses them. Shared by the mempool
 * scanner (``mempool/_scan.c``) and the learner's block walk (``addresses/_ingest.c``).
 */
#ifndef WHALEWIRE_TXREAD_H
#define WHALEWIRE_TXREAD_H
#include <Python.h>
#include <stdint.h>

/* Bitcoin Core MAX_SIZE (serialize.h): no compact size above this is accepted. */
#define MAX_COMPACT_SIZE 0x02000000u

typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
    Py_ssize_t pos;
} reader;

static inline uint64_t
le(const unsigned char *p, int width)
{
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Read a compact size; -1 when truncated, non-canonical or above MAX_SIZE (as Core refuses). */
static inline int64_t
compact(reader *r)
{
    if (r->pos >= r->n)
        return -1;
    unsigned first = r->p[r->pos++];
    if (first < 0xFD)
        return first;
    int width = first == 0xFD ? 2 : first == 0xFE ? 4 : 8;
    if (r->n - r->pos < width)
        return -1;
    uint64_t v = le(r->p + r->pos, width);
    r->pos += width;
    uint64_t floor = width == 2 ? 0xFD : width == 4 ? 0x10000 : 0x100000000ull;
    if (v < floor || v > MAX_COMPACT_SIZE)
        return -1;
    return (int64_t)v;
}

/* Advance over ``size`` bytes; 0 when they are not there. */
static inline int
skip(reader *r, int64_t size)
{
    if (size < 0 || r->n - r->pos < size)
        return 0;
    r->pos += (Py_ssize_t)size;
    return 1;
}

#endif
