/*
 * The compact watch set: tens of millions of scriptPubKeys, each mapped to a small integer
 * (an index into a Python list of values), in about 35 bytes a script, looked up from the
 * scanner without building a Python object.
 *
 * Layout (docs/address-book.md, "The watch set at scale"):
 *   - slots: one open-addressing table of uint64, linear probing; a slot holds the low 24
 *     bits of the script's 64-bit hash (a tag, so a miss rarely leaves the table) and 1 + the
 *     byte offset of the script's record in the arena (40 bits); 0 is an empty slot. The
 *     home slot is the hash's high bits scaled to the capacity (Lemire's multiply-shift), so
 *     the capacity need not be a power of two and stays near count / 0.8.
 *   - arena: append-only chunks that never move, each record ``u32 index, u8 kind, payload``;
 *     the standard templates (P2PKH, P2SH, P2WPKH, P2WSH, P2TR) keep only their hash or key,
 *     anything else its length and bytes. A tag match is confirmed against the full script.
 *   - removal (a reorg) writes a tombstone index into the record; the slot stays.
 *
 * Live updates: lookups run with the GIL held and never block. ``add`` appends a record and
 * then publishes its slot, both under the GIL. Growth builds the bigger table with the GIL
 * released, from the old table and the arena that no one else writes meanwhile (one writer
 * at a time, checked), so detection goes on against the old table; the new one is swapped
 * in and the old freed once the GIL is back, when no scan can be inside either.
 *
 * It knows scripts, hashes and indexes; nothing of transactions, addresses or entities.
 * The pure-Python reference is whalewire.mempool.watchset.PyWatchSet.
 */
#define PY_SSIZE_T_CLEAN
#include "_watchset.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)1 << 22)       /* arena chunk: 4 MiB */
#define OFFSET_BITS 40
#define OFFSET_MASK (((uint64_t)1 << OFFSET_BITS) - 1)
#define TAG_MASK 0xFFFFFFu
#define TOMBSTONE 0xFFFFFFFFu
#define MAX_SCRIPT 255
#define LOAD_NUM 4 /* grow above 4/5 full */
#define LOAD_DEN 5

enum { RAW = 0, P2PKH = 1, P2SH = 2, P2WPKH = 3, P2WSH = 4, P2TR = 5 };

typedef struct {
    PyObject_HEAD
    uint64_t *slots;
    size_t cap;      /* slots */
    size_t used;     /* occupied slots (live and removed) */
    size_t live;     /* scripts watched now */
    unsigned char **chunks;
    size_t n_chunks, chunks_cap;
    size_t tail;     /* bytes used in the last chunk */
    PyObject *values; /* list: a record's index picks its value */
    int writing;     /* a writer is inside add/discard/reserve */
} WatchSet;

/* ---- hash ---------------------------------------------------------------------------- */

static inline uint64_t
load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t
fmix64(uint64_t h)
{
    /* MurmurHash3's finaliser: every input bit reaches every output bit */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t
watchset_hash(const unsigned char *p, Py_ssize_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t h = 0xC2B2AE3D27D4EB4FULL ^ ((uint64_t)n * k);
    while (n >= 8) {
        h ^= load64(p);
        h *= k;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        for (Py_ssize_t i = n - 1; i >= 0; i--)
            w = (w << 8) | p[i];
        h ^= w;
        h *= k;
        h ^= h >> 29;
    }
    return fmix64(h);
}

static inline size_t
home(uint64_t h, size_t cap)
{
    return (size_t)(((unsigned __int128)h * cap) >> 64);
}

/* ---- records ------------------------------------------------------------------------- */

/* The template of a script: its kind and where its payload starts and how long it is. */
static int
classify(const unsigned char *s, Py_ssize_t n, Py_ssize_t *at, Py_ssize_t *len)
{
    if (n == 25 && s[0] == 0x76 && s[1] == 0xa9 && s[2] == 0x14 && s[23] == 0x88 && s[24] == 0xac) {
        *at = 3, *len = 20;
        return P2PKH;
    }
    if (n == 23 && s[0] == 0xa9 && s[1] == 0x14 && s[22] == 0x87) {
        *at = 2, *len = 20;
        return P2SH;
    }
    if (n == 22 && s[0] == 0x00 && s[1] == 0x14) {
        *at = 2, *len = 20;
        return P2WPKH;
    }
    if (n == 34 && s[0] == 0x00 && s[1] == 0x20) {
        *at = 2, *len = 32;
        return P2WSH;
    }
    if (n == 34 && s[0] == 0x51 && s[1] == 0x20) {
        *at = 2, *len = 32;
        return P2TR;
    }
    *at = 0, *len = n;
    return RAW;
}

static inline unsigned char *
record_at(const WatchSet *ws, uint64_t off)
{
    return ws->chunks[off / CHUNK] + off % CHUNK;
}

/* 1 when the record holds exactly ``s``. */
static inline int
record_is(const unsigned char *rec, const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t at, len;
    int kind = classify(s, n, &at, &len);
    if (rec[4] != kind)
        return 0;
    if (kind == RAW)
        return rec[5] == n && memcmp(rec + 6, s, (size_t)n) == 0;
    return memcmp(rec + 5, s + at, (size_t)len) == 0;
}

/* Write the script a record holds into ``out`` (MAX_SCRIPT bytes); return its length. */
static Py_ssize_t
record_script(const unsigned char *rec, unsigned char *out)
{
    static const unsigned char pre[6][3] = {
        {0}, {0x76, 0xa9, 0x14}, {0xa9, 0x14}, {0x00, 0x14}, {0x00, 0x20}, {0x51, 0x20}};
    switch (rec[4]) {
    case P2PKH:
        memcpy(out, pre[P2PKH], 3);
        memcpy(out + 3, rec + 5, 20);
        out[23] = 0x88, out[24] = 0xac;
        return 25;
    case P2SH:
        memcpy(out, pre[P2SH], 2);
        memcpy(out + 2, rec + 5, 20);
        out[22] = 0x87;
        return 23;
    case P2WPKH:
        memcpy(out, pre[P2WPKH], 2);
        memcpy(out + 2, rec + 5, 20);
        return 22;
    case P2WSH:
    case P2TR:
        memcpy(out, pre[rec[4]], 2);
        memcpy(out + 2, rec + 5, 32);
        return 34;
    default:
        memcpy(out, rec + 6, rec[5]);
        return rec[5];
    }
}

static inline uint32_t
record_index(const unsigned char *rec)
{
    uint32_t v;
    memcpy(&v, rec, 4);
    return v;
}

/* The record offset of ``s`` in the table, or -1. */
static inline int64_t
find(const uint64_t *slots, size_t cap, const WatchSet *ws, const unsigned char *s,
     Py_ssize_t n, uint64_t h)
{
    if (cap == 0)
        return -1;
    size_t i = home(h, cap);
    uint64_t tag = h & TAG_MASK;
    for (;;) {
        uint64_t v = slots[i];
        if (v == 0)
            return -1;
        if ((v >> OFFSET_BITS) == tag) {
            uint64_t off = (v & OFFSET_MASK) - 1;
            if (record_is(record_at(ws, off), s, n))
                return (int64_t)off;
        }
        if (++i == cap)
            i = 0;
    }
}

static inline void
place(uint64_t *slots, size_t cap, uint64_t h, uint64_t off)
{
    size_t i = home(h, cap);
    while (slots[i] != 0)
        if (++i == cap)
            i = 0;
    slots[i] = ((h & TAG_MASK) << OFFSET_BITS) | (off + 1);
}

PyObject *
watchset_lookup(PyObject *set, const unsigned char *s, Py_ssize_t n)
{
    WatchSet *ws = (WatchSet *)set;
    if (n > MAX_SCRIPT)
        return NULL;
    int64_t off = find(ws->slots, ws->cap, ws, s, n, watchset_hash(s, n));
    if (off < 0)
        return NULL;
    uint32_t index = record_index(record_at(ws, (uint64_t)off));
    if (index == TOMBSTONE || (Py_ssize_t)index >= PyList_GET_SIZE(ws->values))
        return NULL;
    return PyList_GET_ITEM(ws->values, index);
}

/* ---- writing ------------------------------------------------------------------------- */

/* Rebuild the table at ``cap`` slots with the GIL released; 0, or -1 with MemoryError. */
static int
grow(WatchSet *ws, size_t cap)
{
    if (cap <= ws->cap)
        return 0;
    if (cap >= ((size_t)1 << 34)) {
        PyErr_SetString(PyExc_MemoryError, "watch set too large");
        return -1;
    }
    uint64_t *slots = PyMem_RawCalloc(cap, sizeof(uint64_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    uint64_t *old = ws->slots;
    size_t old_cap = ws->cap;
    Py_BEGIN_ALLOW_THREADS
    unsigned char script[MAX_SCRIPT];
    for (size_t i = 0; i < old_cap; i++) {
        uint64_t v = old[i];
        if (v == 0)
            continue;
        uint64_t off = (v & OFFSET_MASK) - 1;
        Py_ssize_t n = record_script(record_at(ws, off), script);
        place(slots, cap, watchset_hash(script, n), off);
    }
    Py_END_ALLOW_THREADS
    ws->slots = slots;
    ws->cap = cap;
    PyMem_RawFree(old);
    return 0;
}

static inline size_t
cap_for(size_t count)
{
    return count / LOAD_NUM * LOAD_DEN + LOAD_DEN;
}

/* Room for ``size`` more arena bytes in one chunk; the offset they start at, or -1. */
static int64_t
arena_room(WatchSet *ws, size_t size)
{
    if (ws->n_chunks == 0 || ws->tail + size > CHUNK) {
        if (ws->n_chunks == ws->chunks_cap) {
            size_t grown = ws->chunks_cap ? ws->chunks_cap * 2 : 16;
            unsigned char **c = PyMem_RawRealloc(ws->chunks, grown * sizeof(*c));
            if (c == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            ws->chunks = c;
            ws->chunks_cap = grown;
        }
        unsigned char *chunk = PyMem_RawMalloc(CHUNK);
        if (chunk == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        ws->chunks[ws->n_chunks++] = chunk;
        ws->tail = 0;
    }
    int64_t off = (int64_t)((ws->n_chunks - 1) * CHUNK + ws->tail);
    ws->tail += size;
    return off;
}

/* Watch ``s`` with ``index``: 1 when it was not watched, 0 when its index was replaced, -1
 * on error. */
static int
put(WatchSet *ws, const unsigned char *s, Py_ssize_t n, uint32_t index)
{
    uint64_t h = watchset_hash(s, n);
    int64_t off = find(ws->slots, ws->cap, ws, s, n, h);
    if (off >= 0) {
        unsigned char *rec = record_at(ws, (uint64_t)off);
        int revived = record_index(rec) == TOMBSTONE;
        ws->live += (size_t)revived;
        memcpy(rec, &index, 4);
        return revived;
    }
    if ((ws->used + 1) * LOAD_DEN > ws->cap * LOAD_NUM) {
        size_t want = ws->cap * 2 > cap_for(ws->used + 1) ? ws->cap * 2 : cap_for(ws->used + 1);
        if (grow(ws, want < 64 ? 64 : want) < 0)
            return -1;
    }
    Py_ssize_t at, len;
    int kind = classify(s, n, &at, &len);
    size_t size = 5 + (kind == RAW ? 1 : 0) + (size_t)len;
    off = arena_room(ws, size);
    if (off < 0)
        return -1;
    unsigned char *rec = record_at(ws, (uint64_t)off);
    memcpy(rec, &index, 4);
    rec[4] = (unsigned char)kind;
    if (kind == RAW) {
        rec[5] = (unsigned char)n;
        memcpy(rec + 6, s, (size_t)n);
    } else {
        memcpy(rec + 5, s + at, (size_t)len);
    }
    /* the record is complete before its slot is published */
    place(ws->slots, ws->cap, h, (uint64_t)off);
    ws->used++;
    ws->live++;
    return 1;
}

static int
script_arg(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len > MAX_SCRIPT) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "script of %zd bytes: at most %d are watched",
                     view->len, MAX_SCRIPT);
        return -1;
    }
    return 0;
}

static int
begin_write(WatchSet *ws)
{
    if (ws->writing) {
        PyErr_SetString(PyExc_RuntimeError, "another thread is writing this watch set");
        return -1;
    }
    ws->writing = 1;
    return 0;
}

static int
index_arg(WatchSet *ws, PyObject *obj, uint32_t *index)
{
    Py_ssize_t i = PyLong_AsSsize_t(obj);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0 || i >= PyList_GET_SIZE(ws->values) || (uint64_t)i >= TOMBSTONE) {
        PyErr_Format(PyExc_IndexError, "index %zd: values holds %zd", i,
                     PyList_GET_SIZE(ws->values));
        return -1;
    }
    *index = (uint32_t)i;
    return 0;
}

/* ---- Python methods ------------------------------------------------------------------ */

static PyObject *
ws_add(WatchSet *ws, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "add(script, index)");
        return NULL;
    }
    uint32_t index;
    Py_buffer view;
    if (index_arg(ws, args[1], &index) < 0 || script_arg(args[0], &view) < 0)
        return NULL;
    int rc = -1;
    if (begin_write(ws) == 0) {
        rc = put(ws, view.buf, view.len, index);
        ws->writing = 0;
    }
    PyBuffer_Release(&view);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

static PyObject *
ws_add_many(WatchSet *ws, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "add_many(scripts, index)");
        return NULL;
    }
    uint32_t index;
    if (index_arg(ws, args[1], &index) < 0)
        return NULL;
    PyObject *seq = PySequence_Fast(args[0], "add_many: scripts must be a sequence");
    if (seq == NULL || begin_write(ws) < 0) {
        Py_XDECREF(seq);
        return NULL;
    }
    Py_ssize_t added = 0, n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer view;
        int rc = script_arg(PySequence_Fast_GET_ITEM(seq, i), &view);
        if (rc == 0) {
            rc = put(ws, view.buf, view.len, index);
            PyBuffer_Release(&view);
        }
        if (rc < 0) {
            ws->writing = 0;
            Py_DECREF(seq);
            return NULL;
        }
        added += rc;
    }
    ws->writing = 0;
    Py_DECREF(seq);
    return PyLong_FromSsize_t(added);
}

static PyObject *
ws_discard(WatchSet *ws, PyObject *arg)
{
    Py_buffer view;
    if (script_arg(arg, &view) < 0)
        return NULL;
    int64_t off = find(ws->slots, ws->cap, ws, view.buf, view.len,
                       watchset_hash(view.buf, view.len));
    PyBuffer_Release(&view);
    if (off < 0)
        Py_RETURN_FALSE;
    unsigned char *rec = record_at(ws, (uint64_t)off);
    if (record_index(rec) == TOMBSTONE)
        Py_RETURN_FALSE;
    uint32_t tomb = TOMBSTONE;
    memcpy(rec, &tomb, 4);
    ws->live--;
    Py_RETURN_TRUE;
}

static PyObject *
ws_get(WatchSet *ws, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get(script, default=None)");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *hit = watchset_lookup((PyObject *)ws, view.buf, view.len);
    PyBuffer_Release(&view);
    if (hit == NULL)
        hit = nargs == 2 ? args[1] : Py_None;
    return Py_NewRef(hit);
}

static PyObject *
ws_reserve(WatchSet *ws, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "reserve: a negative count");
        return NULL;
    }
    if (begin_write(ws) < 0)
        return NULL;
    int rc = grow(ws, cap_for((size_t)n));
    ws->writing = 0;
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int
ws_contains(WatchSet *ws, PyObject *key)
{
    Py_buffer view;
    if (PyObject_GetBuffer(key, &view, PyBUF_SIMPLE) < 0)
        return -1;
    int hit = watchset_lookup((PyObject *)ws, view.buf, view.len) != NULL;
    PyBuffer_Release(&view);
    return hit;
}

static Py_ssize_t
ws_len(WatchSet *ws)
{
    return (Py_ssize_t)ws->live;
}

static PyObject *
ws_nbytes(WatchSet *ws, void *closure)
{
    return PyLong_FromSize_t(ws->cap * sizeof(uint64_t) + ws->n_chunks * CHUNK +
                             ws->chunks_cap * sizeof(unsigned char *));
}

static PyObject *
ws_capacity(WatchSet *ws, void *closure)
{
    return PyLong_FromSize_t(ws->cap);
}

static PyObject *
ws_values(WatchSet *ws, void *closure)
{
    return Py_NewRef(ws->values);
}

static PyObject *
ws_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *values = NULL;
    static char *kwlist[] = {"values", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!:WatchSet", kwlist, &PyList_Type, &values))
        return NULL;
    WatchSet *ws = (WatchSet *)type->tp_alloc(type, 0);
    if (ws == NULL)
        return NULL;
    ws->values = Py_NewRef(values);
    return (PyObject *)ws;
}

static void
ws_dealloc(WatchSet *ws)
{
    for (size_t i = 0; i < ws->n_chunks; i++)
        PyMem_RawFree(ws->chunks[i]);
    PyMem_RawFree(ws->chunks);
    PyMem_RawFree(ws->slots);
    Py_XDECREF(ws->values);
    Py_TYPE(ws)->tp_free((PyObject *)ws);
}

static PyMethodDef ws_methods[] = {
    {"add", (PyCFunction)(void (*)(void))ws_add, METH_FASTCALL,
     "add(script, index) -> bool\n\nWatch ``script`` as ``values[index]``; True when new."},
    {"add_many", (PyCFunction)(void (*)(void))ws_add_many, METH_FASTCALL,
     "add_many(scripts, index) -> int\n\nWatch every script as ``values[index]``; return how\n"
     "many were new."},
    {"discard", (PyCFunction)ws_discard, METH_O,
     "discard(script) -> bool\n\nStop watching ``script``; True when it was watched."},
    {"get", (PyCFunction)(void (*)(void))ws_get, METH_FASTCALL,
     "get(script, default=None)\n\nReturn the value watched for ``script``, or ``default``."},
    {"reserve", (PyCFunction)ws_reserve, METH_O,
     "reserve(count)\n\nSize the table for ``count`` scripts now (no growth until then)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ws_getset[] = {
    {"nbytes", (getter)ws_nbytes, NULL, "bytes allocated: table, arena chunks, chunk list", NULL},
    {"capacity", (getter)ws_capacity, NULL, "slots in the table", NULL},
    {"values", (getter)ws_values, NULL, "the list a script's index picks from (append only)",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods ws_as_sequence = {
    .sq_length = (lenfunc)ws_len,
    .sq_contains = (objobjproc)ws_contains,
};

PyTypeObject WatchSet_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "whalewire.mempool._scan.WatchSet",
    .tp_basicsize = sizeof(WatchSet),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "WatchSet(values)\n\nscriptPubKeys mapped to indexes into ``values`` (compact,\n"
              "open addressing on a 64-bit hash, hits confirmed against the full script).",
    .tp_new = ws_new,
    .tp_dealloc = (destructor)ws_dealloc,
    .tp_methods = ws_methods,
    .tp_getset = ws_getset,
    .tp_as_sequence = &ws_as_sequence,
};
