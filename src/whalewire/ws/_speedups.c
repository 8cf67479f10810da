/*
 * Hot loops of whalewire.ws in C: payload masking (RFC 6455 §5.3), incremental UTF-8
 * validation (RFC 3629 §4), frame building (§5.2), the scan of plain data frames for
 * the frame path, and the transport's per-message objects built on them: PlainReader (a
 * protocol's buffer_updated) and DirectSender / write_frame (frame, mask, one write(2)).
 * Optional: ws.mask, ws.utf8, ws.frames and ws.protocol hold the pure-Python reference of
 * each, and the tests run the same vectors over both. Connection state and every protocol
 * decision stay in ws.protocol: the scanners only take frames that need no decision and
 * stop at anything else, and the objects are armed only when the Python side says so.
 * Nothing here knows asyncio beyond calling a transport's write/get_write_buffer_size.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "maskpool.h"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define WW_HAVE_SSE2 1
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

static int
get_key(PyObject *obj, unsigned char key[4])
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

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, key, /)\n--\n\n"
"Return ``data`` XORed with the 4-byte ``key`` repeated.");

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    Py_buffer db;
    unsigned char key[4];
    PyObject *out;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask() takes exactly 2 arguments");
        return NULL;
    }
    if (get_key(args[1], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &db, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    out = PyBytes_FromStringAndSize(NULL, db.len);
    if (out != NULL) {
        xor_mask((const unsigned char *)db.buf, (unsigned char *)PyBytes_AS_STRING(out), db.len, key);
    }
    PyBuffer_Release(&db);
    return out;
}

PyDoc_STRVAR(apply_mask_inplace_doc,
"apply_mask_inplace(buf, key, /)\n--\n\n"
"XOR the writable ``buf`` with the 4-byte ``key`` repeated, in place.");

static PyObject *
apply_mask_inplace(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    Py_buffer db;
    unsigned char key[4];

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask_inplace() takes exactly 2 arguments");
        return NULL;
    }
    if (get_key(args[1], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &db, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (db.readonly) {
        PyBuffer_Release(&db);
        PyErr_SetString(PyExc_TypeError, "cannot mask a read-only buffer in place");
        return NULL;
    }
    xor_mask((const unsigned char *)db.buf, (unsigned char *)db.buf, db.len, key);
    PyBuffer_Release(&db);
    Py_RETURN_NONE;
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

PyDoc_STRVAR(utf8_step_doc,
"utf8_step(data, state, /)\n--\n\n"
"Run the UTF-8 DFA over ``data`` from ``state``; return the new state, -1 if invalid.");

static PyObject *
utf8_step(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    Py_buffer db;
    long state;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "utf8_step() takes exactly 2 arguments");
        return NULL;
    }
    state = PyLong_AsLong(args[1]);
    if (state == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (state < 0 || state > 7) {
        PyErr_SetString(PyExc_ValueError, "state must be 0..7");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &db, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    state = utf8_run((const unsigned char *)db.buf, db.len, (int)state);
    PyBuffer_Release(&db);
    return PyLong_FromLong(state);
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

static int
get_b0(PyObject *obj, unsigned char *b0)
{
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0 || v > 255) {
        PyErr_SetString(PyExc_ValueError, "first header byte must be 0..255");
        return -1;
    }
    *b0 = (unsigned char)v;
    return 0;
}

PyDoc_STRVAR(build_frame_doc,
"build_frame(b0, payload, mask_key, /)\n--\n\n"
"Return one frame: first byte ``b0``, the minimal length, ``mask_key`` (or None) and the\n"
"payload, masked when a key is given. One allocation.");

static PyObject *
build_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer pb;
    unsigned char b0, key[4];
    int masked;
    PyObject *out;

    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "build_frame() takes exactly 3 arguments");
        return NULL;
    }
    if (get_b0(args[0], &b0) < 0) return NULL;
    masked = args[2] != Py_None;
    if (masked && get_key(args[2], key) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &pb, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t h = header_size(pb.len, masked);
    out = PyBytes_FromStringAndSize(NULL, h + pb.len);
    if (out != NULL) {
        unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
        put_header(dst, b0, pb.len, masked ? key : NULL);
        if (masked) xor_mask((const unsigned char *)pb.buf, dst + h, pb.len, key);
        else memcpy(dst + h, pb.buf, (size_t)pb.len);
    }
    PyBuffer_Release(&pb);
    return out;
}

PyDoc_STRVAR(frame_in_place_doc,
"frame_in_place(buf, offset, length, b0, mask_key, /)\n--\n\n"
"Write a header in front of the payload at ``buf[offset:offset + length]`` and mask that\n"
"payload in place when ``mask_key`` is not None; return the header's first offset.");

static PyObject *
frame_in_place(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer bb;
    Py_ssize_t offset, length, h;
    unsigned char b0, key[4];
    int masked;

    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "frame_in_place() takes exactly 5 arguments");
        return NULL;
    }
    offset = PyLong_AsSsize_t(args[1]);
    if (offset == -1 && PyErr_Occurred()) return NULL;
    length = PyLong_AsSsize_t(args[2]);
    if (length == -1 && PyErr_Occurred()) return NULL;
    if (get_b0(args[3], &b0) < 0) return NULL;
    masked = args[4] != Py_None;
    if (masked && get_key(args[4], key) < 0) return NULL;
    if (PyObject_GetBuffer(args[0], &bb, PyBUF_WRITABLE) < 0) return NULL;
    h = header_size(length, masked);
    if (length < 0 || offset < h || offset + length > bb.len) {
        PyBuffer_Release(&bb);
        PyErr_SetString(PyExc_ValueError, "no headroom for the header, or payload past the end");
        return NULL;
    }
    unsigned char *s = (unsigned char *)bb.buf;
    put_header(s + offset - h, b0, length, masked ? key : NULL);
    if (masked) xor_mask(s + offset, s + offset, length, key);
    PyBuffer_Release(&bb);
    return PyLong_FromSsize_t(offset - h);
}

/* the opcodes handed to on_frame (small ints, immortal in practice) */
static PyObject *one, *two;

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

static int
parse_scan_args(PyObject *const *args, Py_ssize_t *pos, int *want_mask, Py_ssize_t *limit,
                int *flag)
{
    *pos = PyLong_AsSsize_t(args[1]);
    if (*pos == -1 && PyErr_Occurred()) return -1;
    *want_mask = PyObject_IsTrue(args[2]);
    if (*want_mask < 0) return -1;
    *limit = PyLong_AsSsize_t(args[3]);
    if (*limit == -1 && PyErr_Occurred()) return -1;
    *flag = PyObject_IsTrue(args[4]);
    if (*flag < 0) return -1;
    return 0;
}

PyDoc_STRVAR(scan_frames_doc,
"scan_frames(view, pos, want_mask, limit, check_utf8, on_frame, /)\n--\n\n"
"Hand the plain data frames at ``view[pos:]`` to ``on_frame``; return where it stopped.\n\n"
"A plain frame is complete, unfragmented, has no RSV bit, is TEXT or BINARY, has the\n"
"masking bit ``want_mask`` asks for, a 7- or minimal 16-bit length of at most ``limit``\n"
"and, for text when ``check_utf8``, valid UTF-8. It is unmasked in place and passed as\n"
"``on_frame(opcode, view[p:q], True)``. Anything else stops the scan untouched, so that\n"
"the caller's reader (the reference) handles it. If ``on_frame`` raises, return\n"
"``(resume_pos, exception)`` instead of raising.");

static PyObject *
scan_frames(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *view, *on_frame, *result = NULL;
    Py_buffer b;
    Py_ssize_t pos, end, limit, p, len;
    int want_mask, check_utf8, simple = 0;
    unsigned char b0;

    (void)module;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "scan_frames() takes exactly 6 arguments");
        return NULL;
    }
    if (parse_scan_args(args, &pos, &want_mask, &limit, &check_utf8) < 0) return NULL;
    view = args[0];
    on_frame = args[5];
    if (PyObject_GetBuffer(view, &b, PyBUF_SIMPLE) < 0) return NULL;
    end = b.len;
    if (pos < 0 || pos > end) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        return NULL;
    }
    if (want_mask && b.readonly) {
        /* cannot unmask in place: leave everything to the caller */
        PyBuffer_Release(&b);
        return PyLong_FromSsize_t(pos);
    }
    unsigned char *s = (unsigned char *)b.buf;
    if (PyMemoryView_Check(view)) {
        Py_buffer *vb = PyMemoryView_GET_BUFFER(view);
        simple = vb->ndim == 1 && vb->itemsize == 1 && vb->suboffsets == NULL &&
                 (vb->strides == NULL || vb->strides[0] == 1);
    }
    while ((b0 = next_plain(s, pos, end, want_mask, limit, &p, &len)) != 0) {
        if (want_mask) {
            xor_mask(s + p, s + p, len, s + p - 4);
        }
        if (b0 == 0x81 && check_utf8 && utf8_run(s + p, len, ACCEPT) != ACCEPT) {
            if (want_mask) xor_mask(s + p, s + p, len, s + p - 4); /* put it back as it was */
            break;
        }
        PyObject *frame = byte_slice(view, simple, p, len);
        if (frame == NULL) goto error;
        PyObject *cargs[3] = {b0 == 0x81 ? one : two, frame, Py_True};
        pos = p + len;
        PyObject *r = PyObject_Vectorcall(on_frame, cargs, 3, NULL);
        Py_DECREF(frame);
        if (r == NULL) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
            Py_XDECREF(type);
            Py_XDECREF(tb);
            if (value == NULL) goto error;
            result = Py_BuildValue("(nN)", pos, value);
            PyBuffer_Release(&b);
            return result;
        }
        Py_DECREF(r);
    }
    PyBuffer_Release(&b);
    return PyLong_FromSsize_t(pos);
error:
    PyBuffer_Release(&b);
    return NULL;
}

PyDoc_STRVAR(scan_messages_doc,
"scan_messages(view, pos, want_mask, limit, unused, events, text_cls, binary_cls, /)\n--\n\n"
"Append ``text_cls(str)`` / ``binary_cls(bytes)`` to ``events`` for each plain frame at\n"
"``view[pos:]`` (see ``scan_frames``); return where it stopped. ``view`` is not modified:\n"
"payloads are unmasked into the new objects. Text that is not valid UTF-8 stops the scan\n"
"at its frame, for the caller's reader to fail the connection.");

static PyObject *
scan_messages(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *events, *text_cls, *binary_cls;
    Py_buffer b;
    Py_ssize_t pos, end, limit, p, len;
    int want_mask, unused;
    unsigned char b0, small[256];

    (void)module;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "scan_messages() takes exactly 8 arguments");
        return NULL;
    }
    if (parse_scan_args(args, &pos, &want_mask, &limit, &unused) < 0) return NULL;
    events = args[5];
    text_cls = args[6];
    binary_cls = args[7];
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "events must be a list");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &b, PyBUF_SIMPLE) < 0) return NULL;
    end = b.len;
    if (pos < 0 || pos > end) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)b.buf;
    while ((b0 = next_plain(s, pos, end, want_mask, limit, &p, &len)) != 0) {
        PyObject *data, *event;
        if (b0 == 0x82) {
            data = PyBytes_FromStringAndSize(NULL, len);
            if (data == NULL) goto error;
            if (want_mask) xor_mask(s + p, (unsigned char *)PyBytes_AS_STRING(data), len, s + p - 4);
            else memcpy(PyBytes_AS_STRING(data), s + p, (size_t)len);
        }
        else {
            const unsigned char *text = s + p;
            unsigned char *tmp = NULL;
            if (want_mask) {
                tmp = len <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc((size_t)len);
                if (tmp == NULL) {
                    PyErr_NoMemory();
                    goto error;
                }
                xor_mask(s + p, tmp, len, s + p - 4);
                text = tmp;
            }
            data = PyUnicode_DecodeUTF8((const char *)text, len, "strict");
            if (tmp != NULL && tmp != small) PyMem_Free(tmp);
            if (data == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) goto error;
                PyErr_Clear();
                break; /* the Python reader fails the connection with 1007 */
            }
        }
        event = PyObject_Vectorcall(b0 == 0x82 ? binary_cls : text_cls, &data, 1, NULL);
        Py_DECREF(data);
        if (event == NULL) goto error;
        int rc = PyList_Append(events, event);
        Py_DECREF(event);
        if (rc < 0) goto error;
        pos = p + len;
    }
    PyBuffer_Release(&b);
    return PyLong_FromSsize_t(pos);
error:
    PyBuffer_Release(&b);
    return NULL;
}

/* ---- the per-read path of an open connection -------------------------------------------- */

/* Mask keys for write_frame (True): this module's own pool (maskpool.h: getrandom(2)
 * chunks, emptied in a forked child). */
static ww_maskpool keys_pool; /* zeroed: empty */

static void
drop_keys(void)
{
    ww_maskpool_drop(&keys_pool);
}

/* frames up to this size are built on the stack and written with one write(2) */
#define STACK_FRAME 4096

PyDoc_STRVAR(write_frame_doc,
"write_frame(fd, b0, payload, keys, /)\n--\n\n"
"Frame ``payload`` (``str`` is sent as its UTF-8) with first byte ``b0`` and write it to\n"
"the non-blocking socket ``fd`` with one system call. ``keys``: None (a server: no mask),\n"
"True (a key from this module's getrandom pool) or a pool whose ``next_key()`` gives the\n"
"key. Return None when every byte went\n"
"out, else the bytes not written (all of them after EAGAIN or an error), for the\n"
"transport to send and report.");

/* Frame obj (str: its UTF-8) with b0, mask it with a key from keys (None, True: the pool
 * above, else keys.next_key()), write(2) it to fd; return None, or the bytes not written
 * (the whole frame when fd < 0: no socket to write to, e.g. TLS). */
static PyObject *
frame_and_write(int fd, unsigned char b0, PyObject *obj, PyObject *keys)
{
    static PyObject *next_key_name = NULL;
    Py_buffer pb;
    const char *payload;
    Py_ssize_t plen, h, total, sent;
    unsigned char key[4], header[14], stack[STACK_FRAME];
    PyObject *keyobj = NULL, *heap = NULL, *rest = NULL;
    int masked, have_pb = 0;

    if (PyUnicode_Check(obj)) {
        payload = PyUnicode_AsUTF8AndSize(obj, &plen);
        if (payload == NULL) return NULL;
    }
    else {
        if (PyObject_GetBuffer(obj, &pb, PyBUF_SIMPLE) < 0) return NULL;
        have_pb = 1;
        payload = (const char *)pb.buf;
        plen = pb.len;
    }
    masked = keys != Py_None;
    if (keys == Py_True) {
        if (ww_maskpool_key(&keys_pool, key) < 0) goto error;
    }
    else if (masked) {
        if (next_key_name == NULL) {
            next_key_name = PyUnicode_InternFromString("next_key");
            if (next_key_name == NULL) goto error;
        }
        keyobj = PyObject_CallMethodNoArgs(keys, next_key_name);
        if (keyobj == NULL || get_key(keyobj, key) < 0) goto error;
    }
    h = header_size(plen, masked);
    total = h + plen;
    if (!masked) {
        /* nothing to transform: header and payload go out together, the payload uncopied */
        struct iovec iov[2];
        put_header(header, b0, plen, NULL);
        iov[0].iov_base = header;
        iov[0].iov_len = (size_t)h;
        iov[1].iov_base = (void *)payload;
        iov[1].iov_len = (size_t)plen;
        sent = fd < 0 ? 0 : writev(fd, iov, plen ? 2 : 1);
        if (sent < 0) sent = 0; /* EAGAIN or an error: the transport retries or reports */
        if (sent < total) {
            rest = PyBytes_FromStringAndSize(NULL, total - sent);
            if (rest == NULL) goto error;
            char *dst = PyBytes_AS_STRING(rest);
            if (sent < h) {
                memcpy(dst, header + sent, (size_t)(h - sent));
                memcpy(dst + h - sent, payload, (size_t)plen);
            }
            else {
                memcpy(dst, payload + (sent - h), (size_t)(total - sent));
            }
        }
    }
    else {
        unsigned char *frame = stack;
        if (total > STACK_FRAME || fd < 0) {
            heap = PyBytes_FromStringAndSize(NULL, total);
            if (heap == NULL) goto error;
            frame = (unsigned char *)PyBytes_AS_STRING(heap);
        }
        put_header(frame, b0, plen, key);
        xor_mask((const unsigned char *)payload, frame + h, plen, key);
        sent = fd < 0 ? 0 : write(fd, frame, (size_t)total);
        if (sent < 0) sent = 0;
        if (sent == 0 && heap != NULL) {
            rest = heap;
            heap = NULL;
        }
        else if (sent < total) {
            rest = PyBytes_FromStringAndSize((const char *)frame + sent, total - sent);
            if (rest == NULL) goto error;
        }
    }
    Py_XDECREF(keyobj);
    Py_XDECREF(heap);
    if (have_pb) PyBuffer_Release(&pb);
    if (rest == NULL) Py_RETURN_NONE;
    return rest;
error:
    Py_XDECREF(keyobj);
    Py_XDECREF(heap);
    if (have_pb) PyBuffer_Release(&pb);
    return NULL;
}

static int
get_fd(PyObject *obj)
{
    long fd = PyLong_AsLong(obj);
    if (fd == -1 && PyErr_Occurred()) return -1;
    if (fd < 0 || fd > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "bad file descriptor");
        return -1;
    }
    return (int)fd;
}

static PyObject *
write_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    unsigned char b0;
    int fd;

    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "write_frame() takes exactly 4 arguments");
        return NULL;
    }
    if ((fd = get_fd(args[0])) < 0) return NULL;
    if (get_b0(args[1], &b0) < 0) return NULL;
    return frame_and_write(fd, b0, args[2], args[3]);
}

/* ---- module ----------------------------------------------------------------------------- */

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL, apply_mask_doc},
    {"apply_mask_inplace", (PyCFunction)(void (*)(void))apply_mask_inplace, METH_FASTCALL,
     apply_mask_inplace_doc},
    {"utf8_step", (PyCFunction)(void (*)(void))utf8_step, METH_FASTCALL, utf8_step_doc},
    {"build_frame", (PyCFunction)(void (*)(void))build_frame, METH_FASTCALL, build_frame_doc},
    {"frame_in_place", (PyCFunction)(void (*)(void))frame_in_place, METH_FASTCALL,
     frame_in_place_doc},
    {"scan_frames", (PyCFunction)(void (*)(void))scan_frames, METH_FASTCALL, scan_frames_doc},
    {"write_frame", (PyCFunction)(void (*)(void))write_frame, METH_FASTCALL, write_frame_doc},
    {"scan_messages", (PyCFunction)(void (*)(void))scan_messages, METH_FASTCALL,
     scan_messages_doc},
    {NULL, NULL, 0, NULL},
};

/* ---- the transport's reader object -------------------------------------------------------- */

/* PlainReader is what the event loop calls as the protocol's buffer_updated(nbytes): while
 * armed (the core's reader is between messages) it hands every plain frame at the start of
 * the read buffer to the callback, as read_frames does, with no Python frame in between;
 * anything else goes to Python hooks that hold the reference behaviour. Armed or not, it
 * makes no protocol decision: the Python side arms it only when the core says so. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *fallback;    /* fallback(nbytes): the whole read, in Python */
    PyObject *rest;        /* rest(nbytes, pos, exc): what the scan left, sizing, re-arming */
    PyObject *view;        /* the read buffer (writable 1-D bytes memoryview) or NULL */
    PyObject *callback;
    PyObject *ws;          /* NULL: frame path; else the message callback's first argument */
    PyObject *spare;       /* a payload view of ours that nobody kept: reused for the next */
    Py_ssize_t limit;
    Py_ssize_t min_size;   /* reads into a larger buffer go to rest() for sizing */
    Py_ssize_t reads;
    Py_ssize_t pending;    /* bytes of an incomplete plain frame kept at the buffer's start */
    int want_mask;
    int check_utf8;
    int armed;
} PlainReader;

/* Whether s[pos:end] starts a plain frame (as next_plain takes them) that is not complete
 * yet; *need is its whole size, or a header's worth while the length is not known. */
static int
incomplete_plain(const unsigned char *s, Py_ssize_t pos, Py_ssize_t end, int want_mask,
                 Py_ssize_t limit, Py_ssize_t *need, Py_ssize_t *payload_at)
{
    Py_ssize_t n = end - pos, len, h = 2;

    *payload_at = -1;

    if (n <= 0 || (s[pos] != 0x81 && s[pos] != 0x82)) return 0;
    if (n < 2) {
        *need = 14;
        return 1;
    }
    if (((s[pos + 1] & 0x80) != 0) != (want_mask != 0)) return 0;
    len = s[pos + 1] & 0x7F;
    if (len == 127) return 0;
    if (len == 126) {
        if (n < 4) {
            *need = 14;
            return 1;
        }
        len = ((Py_ssize_t)s[pos + 2] << 8) | s[pos + 3];
        if (len < 126) return 0;
        h = 4;
    }
    if (len > limit) return 0;
    if (want_mask) h += 4;
    if (n >= h + len) return 0; /* complete: it stopped for another reason */
    if (n >= h) *payload_at = pos + h;
    *need = h + len;
    return 1;
}

/* Whether the first n payload bytes at s (masked with key unless NULL) may begin valid
 * UTF-8: text that breaks fails on the read that breaks it (RFC 6455 §8.1, Autobahn
 * 6.4.3/6.4.4), so such a frame goes to the Python reader rather than being kept. */
static int
valid_prefix(unsigned char *s, Py_ssize_t n, const unsigned char *key)
{
    int state;
    if (n <= 0) return 1;
    if (key == NULL) return utf8_run(s, n, ACCEPT) != REJECT;
    xor_mask(s, s, n, key);
    state = utf8_run(s, n, ACCEPT);
    xor_mask(s, s, n, key); /* the Python reader may still read it as it came */
    return state != REJECT;
}

/* Whether a payload view we handed out may be reused: only our reference is left, it was
 * not released, and nothing exports a buffer from it. */
static int
reusable(PyObject *m)
{
    PyMemoryViewObject *mv = (PyMemoryViewObject *)m;
    return Py_REFCNT(m) == 1 && !(mv->flags & _Py_MEMORYVIEW_RELEASED) && mv->exports == 0 &&
           mv->view.ndim == 1 && mv->view.shape != NULL;
}

static PyObject *
reader_call(PyObject *self_obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PlainReader *self = (PlainReader *)self_obj;
    Py_ssize_t nbytes, pos = 0, p, len, size, room, need;
    unsigned char b0, *s;
    PyObject *exc = NULL, *r, *total;

    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "buffer_updated() takes exactly 1 argument");
        return NULL;
    }
    self->reads++;
    if (self->pending == 0 && (!self->armed || self->view == NULL)) {
        return PyObject_Vectorcall(self->fallback, args, 1, NULL);
    }
    nbytes = PyLong_AsSsize_t(args[0]);
    if (nbytes == -1 && PyErr_Occurred()) return NULL;
    Py_buffer *vb = PyMemoryView_GET_BUFFER(self->view);
    size = vb->len;
    room = size - self->pending;
    if (nbytes < 0 || nbytes > room) {
        PyErr_SetString(PyExc_ValueError, "nbytes out of range");
        return NULL;
    }
    /* the read landed after the bytes kept last time: scan them together */
    nbytes += self->pending;
    self->pending = 0;
    if (!self->armed) {
        /* disarmed while bytes were kept: the Python reader takes them all */
        PyObject *rargs[3] = {NULL, NULL, Py_None};
        rargs[0] = PyLong_FromSsize_t(nbytes);
        if (rargs[0] == NULL) return NULL;
        rargs[1] = PyLong_FromSsize_t(0);
        r = PyObject_Vectorcall(self->rest, rargs, 3, NULL);
        Py_DECREF(rargs[0]);
        Py_DECREF(rargs[1]);
        return r;
    }
    s = (unsigned char *)vb->buf;
    /* the view is ours and stays alive (we hold it) for the whole scan */
    Py_INCREF(self->view);
    PyObject *view = self->view, *callback = self->callback, *ws = self->ws;
    Py_INCREF(callback);
    Py_XINCREF(ws);
    while ((b0 = next_plain(s, pos, nbytes, self->want_mask, self->limit, &p, &len)) != 0) {
        PyObject *data, *cargs[3];
        if (self->want_mask) xor_mask(s + p, s + p, len, s + p - 4);
        if (ws != NULL) {
            if (b0 == 0x82) {
                data = PyBytes_FromStringAndSize((const char *)s + p, len);
            }
            else {
                data = PyUnicode_DecodeUTF8((const char *)s + p, len, "strict");
                if (data == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    PyErr_Clear();
                    if (self->want_mask) xor_mask(s + p, s + p, len, s + p - 4);
                    break;
                }
            }
            if (data == NULL) goto error;
            cargs[0] = ws;
            cargs[1] = data;
            pos = p + len;
            r = PyObject_Vectorcall(callback, cargs, 2, NULL);
        }
        else {
            if (b0 == 0x81 && self->check_utf8 && utf8_run(s + p, len, ACCEPT) != ACCEPT) {
                if (self->want_mask) xor_mask(s + p, s + p, len, s + p - 4);
                break;
            }
            data = self->spare;
            self->spare = NULL;
            if (data != NULL && reusable(data)) {
                /* nobody else holds it: narrow its window onto this payload (as byte_slice
                 * does for a fresh view), one allocation less per frame */
                Py_buffer *v = PyMemoryView_GET_BUFFER(data);
                v->buf = s + p;
                v->len = len;
                v->shape[0] = len;
            }
            else {
                Py_XDECREF(data);
                data = byte_slice(view, 1, p, len);
                if (data == NULL) goto error;
            }
            cargs[0] = b0 == 0x81 ? one : two;
            cargs[1] = data;
            cargs[2] = Py_True;
            pos = p + len;
            r = PyObject_Vectorcall(callback, cargs, 3, NULL);
            if (self->spare == NULL && reusable(data)) {
                self->spare = data;
                data = NULL;
            }
        }
        Py_XDECREF(data);
        if (r == NULL) {
            PyObject *type, *tb;
            PyErr_Fetch(&type, &exc, &tb);
            PyErr_NormalizeException(&type, &exc, &tb);
            if (tb != NULL && exc != NULL) PyException_SetTraceback(exc, tb);
            Py_XDECREF(type);
            Py_XDECREF(tb);
            if (exc == NULL) goto error;
            if (!PyErr_GivenExceptionMatches(exc, PyExc_Exception)) {
                /* KeyboardInterrupt and the like go up, as from the Python reader */
                PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
                Py_DECREF(exc);
                goto error;
            }
            break;
        }
        Py_DECREF(r);
        /* a callback may have disarmed us (the connection failed or closed) */
        if (!self->armed) break;
    }
    Py_DECREF(view);
    Py_DECREF(callback);
    Py_XDECREF(ws);
    if (exc == NULL && self->armed &&
        incomplete_plain(s, pos, nbytes, self->want_mask, self->limit, &need, &p) &&
        need <= size / 2 && (s[pos] == 0x82 || !self->check_utf8 || p < 0 ||
                             valid_prefix(s + p, nbytes - p, self->want_mask ? s + p - 4 : NULL))) {
        /* the picows way: keep an incomplete plain frame at the buffer's start and read
         * the rest behind it, so that streaming stays on this path */
        self->pending = nbytes - pos;
        memmove(s, s + pos, (size_t)self->pending);
        pos = nbytes;
    }
    if (exc == NULL && pos == nbytes && nbytes < size && size <= self->min_size) {
        Py_RETURN_NONE;
    }
    PyObject *rargs[3];
    total = PyLong_FromSsize_t(nbytes);
    if (total == NULL) {
        Py_XDECREF(exc);
        return NULL;
    }
    rargs[0] = total;
    rargs[1] = PyLong_FromSsize_t(pos);
    if (rargs[1] == NULL) {
        Py_DECREF(total);
        Py_XDECREF(exc);
        return NULL;
    }
    rargs[2] = exc != NULL ? exc : Py_None;
    r = PyObject_Vectorcall(self->rest, rargs, 3, NULL);
    Py_DECREF(rargs[1]);
    Py_DECREF(total);
    Py_XDECREF(exc);
    return r;
error:
    Py_DECREF(view);
    Py_DECREF(callback);
    Py_XDECREF(ws);
    return NULL;
}

static int
reader_init(PyObject *self_obj, PyObject *args, PyObject *kwds)
{
    PlainReader *self = (PlainReader *)self_obj;
    PyObject *fallback, *rest;
    Py_ssize_t min_size;

    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "PlainReader() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOn:PlainReader", &fallback, &rest, &min_size)) return -1;
    Py_INCREF(fallback);
    Py_INCREF(rest);
    Py_XSETREF(self->fallback, fallback);
    Py_XSETREF(self->rest, rest);
    self->min_size = min_size;
    self->vectorcall = reader_call;
    return 0;
}

static PyObject *
reader_arm(PyObject *self_obj, PyObject *const *args, Py_ssize_t nargs)
{
    PlainReader *self = (PlainReader *)self_obj;
    Py_ssize_t limit;
    int want_mask, check_utf8;

    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "arm() takes exactly 5 arguments");
        return NULL;
    }
    want_mask = PyObject_IsTrue(args[0]);
    if (want_mask < 0) return NULL;
    limit = PyLong_AsSsize_t(args[1]);
    if (limit == -1 && PyErr_Occurred()) return NULL;
    check_utf8 = PyObject_IsTrue(args[2]);
    if (check_utf8 < 0) return NULL;
    if (!PyCallable_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable");
        return NULL;
    }
    self->want_mask = want_mask;
    self->limit = limit;
    self->check_utf8 = check_utf8;
    Py_INCREF(args[3]);
    Py_XSETREF(self->callback, args[3]);
    if (args[4] == Py_None) {
        Py_CLEAR(self->ws);
    }
    else {
        Py_INCREF(args[4]);
        Py_XSETREF(self->ws, args[4]);
    }
    Py_RETURN_NONE;
}

static PyObject *
reader_set_view(PyObject *self_obj, PyObject *view)
{
    PlainReader *self = (PlainReader *)self_obj;
    if (!PyMemoryView_Check(view)) {
        PyErr_SetString(PyExc_TypeError, "view must be a memoryview");
        return NULL;
    }
    Py_buffer *vb = PyMemoryView_GET_BUFFER(view);
    if (vb->readonly || vb->ndim != 1 || vb->itemsize != 1 || vb->suboffsets != NULL ||
        (vb->strides != NULL && vb->strides[0] != 1)) {
        PyErr_SetString(PyExc_ValueError, "view must be a writable, contiguous byte view");
        return NULL;
    }
    if (vb->len < self->pending * 2) {
        PyErr_SetString(PyExc_ValueError, "view too small for the bytes kept");
        return NULL;
    }
    Py_INCREF(view);
    Py_XSETREF(self->view, view);
    Py_CLEAR(self->spare); /* it views the old buffer */
    Py_RETURN_NONE;
}

static PyObject *
reader_get_buffer(PyObject *self_obj, PyObject *sizehint)
{
    PlainReader *self = (PlainReader *)self_obj;
    (void)sizehint;
    if (self->view == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set_view() first");
        return NULL;
    }
    if (self->pending == 0) return Py_NewRef(self->view);
    Py_ssize_t size = PyMemoryView_GET_BUFFER(self->view)->len;
    return byte_slice(self->view, 1, self->pending, size - self->pending);
}

static PyObject *
reader_get_armed(PyObject *self_obj, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((PlainReader *)self_obj)->armed);
}

static int
reader_set_armed(PyObject *self_obj, PyObject *value, void *closure)
{
    (void)closure;
    PlainReader *self = (PlainReader *)self_obj;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete armed");
        return -1;
    }
    int v = PyObject_IsTrue(value);
    if (v < 0) return -1;
    if (v && (self->callback == NULL || self->view == NULL)) {
        PyErr_SetString(PyExc_ValueError, "arm() and set_view() first");
        return -1;
    }
    self->armed = v;
    return 0;
}

static PyObject *
reader_get_reads(PyObject *self_obj, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(((PlainReader *)self_obj)->reads);
}

static PyObject *
reader_get_pending(PyObject *self_obj, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(((PlainReader *)self_obj)->pending);
}

static int
reader_set_pending(PyObject *self_obj, PyObject *value, void *closure)
{
    (void)closure;
    PlainReader *self = (PlainReader *)self_obj;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete pending");
        return -1;
    }
    Py_ssize_t n = PyLong_AsSsize_t(value);
    if (n == -1 && PyErr_Occurred()) return -1;
    if (n < 0 || self->view == NULL || n * 2 > PyMemoryView_GET_BUFFER(self->view)->len) {
        PyErr_SetString(PyExc_ValueError, "pending must fit in half the view");
        return -1;
    }
    self->pending = n;
    return 0;
}

static int
reader_traverse(PyObject *self_obj, visitproc visit, void *arg)
{
    PlainReader *self = (PlainReader *)self_obj;
    Py_VISIT(self->fallback);
    Py_VISIT(self->rest);
    Py_VISIT(self->view);
    Py_VISIT(self->callback);
    Py_VISIT(self->ws);
    Py_VISIT(self->spare);
    return 0;
}

static int
reader_clear(PyObject *self_obj)
{
    PlainReader *self = (PlainReader *)self_obj;
    self->armed = 0;
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->rest);
    Py_CLEAR(self->view);
    Py_CLEAR(self->callback);
    Py_CLEAR(self->ws);
    Py_CLEAR(self->spare);
    return 0;
}

static void
reader_dealloc(PyObject *self_obj)
{
    PyObject_GC_UnTrack(self_obj);
    reader_clear(self_obj);
    Py_TYPE(self_obj)->tp_free(self_obj);
}

static PyObject *
reader_vcall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *self = PyType_GenericNew(type, args, kwds);
    if (self != NULL) ((PlainReader *)self)->vectorcall = reader_call;
    return self;
}

static PyMethodDef reader_methods[] = {
    {"arm", (PyCFunction)(void (*)(void))reader_arm, METH_FASTCALL,
     "arm(want_mask, limit, check_utf8, callback, ws, /)\n--\n\n"
     "Set what the scan needs (see read_frames); set ``armed`` to start using it."},
    {"set_view", reader_set_view, METH_O,
     "set_view(view, /)\n--\n\nScan this read buffer from now on; it must start with the\n"
     "``pending`` bytes kept in the old one."},
    {"get_buffer", reader_get_buffer, METH_O,
     "get_buffer(sizehint, /)\n--\n\nThe protocol's get_buffer: the view after the bytes kept."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef reader_getset[] = {
    {"armed", reader_get_armed, reader_set_armed,
     "Whether reads go to the C scan (True) or all to ``fallback``.", NULL},
    {"reads", reader_get_reads, NULL, "Reads seen, either way.", NULL},
    {"pending", reader_get_pending, reader_set_pending,
     "Bytes of an incomplete plain frame kept at the start of the view (set it after\n"
     "writing such bytes there).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PlainReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "whalewire.ws._speedups.PlainReader",
    .tp_basicsize = sizeof(PlainReader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = PyDoc_STR(
        "PlainReader(fallback, rest, min_size, /)\n--\n\n"
        "A protocol's buffer_updated(nbytes) in C. Unarmed, every read goes to\n"
        "``fallback(nbytes)``. Armed, the plain frames at the start of the view go to the\n"
        "callback (see read_frames), and ``rest(nbytes, pos, exc)`` gets whatever is left:\n"
        "bytes from ``pos`` on, a callback's exception, or a read into a buffer larger than\n"
        "``min_size`` or filled to the end (for sizing)."),
    .tp_new = reader_vcall_new,
    .tp_init = reader_init,
    .tp_dealloc = reader_dealloc,
    .tp_traverse = reader_traverse,
    .tp_clear = reader_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(PlainReader, vectorcall),
    .tp_methods = reader_methods,
    .tp_getset = reader_getset,
};

/* DirectSender is a connection's send(message) in C: while armed (the transport's side says
 * the core has nothing queued and the connection is plain) and conn.plain_send holds and
 * the transport has nothing buffered and is not closing, it frames the message and writes
 * it with one system call (write_frame), handing any rest to transport.write; otherwise
 * the Python send path (fallback) runs. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *fallback;   /* fallback(message): the reference send */
    PyObject *conn;       /* the core Connection (plain_send) */
    PyObject *transport;
    PyObject *keys;       /* write_frame's keys */
    int fd;
    int armed;
} DirectSender;

static PyObject *s_plain_send, *s_get_write_buffer_size, *s_is_closing, *s_write;

static PyObject *
sender_call(PyObject *self_obj, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    DirectSender *self = (DirectSender *)self_obj;
    PyObject *r, *message;
    int ok;

    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "send() takes exactly 1 argument");
        return NULL;
    }
    message = args[0];
    if (!self->armed || self->conn == NULL || self->transport == NULL) goto fallback;
    r = PyObject_GetAttr(self->conn, s_plain_send);
    if (r == NULL) return NULL;
    ok = r == Py_True;
    Py_DECREF(r);
    if (!ok) goto fallback;
    PyObject *targs[1] = {self->transport};
    if (self->fd < 0) goto framed; /* no socket of ours (TLS): the transport writes it */
    r = PyObject_VectorcallMethod(s_get_write_buffer_size, targs, 1, NULL);
    if (r == NULL) return NULL;
    ok = PyLong_Check(r) && PyLong_AsSsize_t(r) == 0;
    Py_DECREF(r);
    if (!ok) goto fallback;
    r = PyObject_VectorcallMethod(s_is_closing, targs, 1, NULL);
    if (r == NULL) return NULL;
    ok = r == Py_False;
    Py_DECREF(r);
    if (!ok) goto fallback;
framed:
    if (!PyUnicode_Check(message) && !PyObject_CheckBuffer(message)) goto fallback;
    PyObject *transport = self->transport;
    Py_INCREF(transport);
    r = frame_and_write(self->fd, PyUnicode_Check(message) ? 0x81 : 0x82, message, self->keys);
    if (r != NULL && r != Py_None) {
        PyObject *wargs[2] = {transport, r};
        PyObject *w = PyObject_VectorcallMethod(s_write, wargs, 2, NULL);
        Py_DECREF(r);
        r = w;
        if (r != NULL) {
            Py_DECREF(r);
            r = Py_NewRef(Py_None);
        }
    }
    Py_DECREF(transport);
    return r;
fallback:
    return PyObject_Vectorcall(self->fallback, args, 1, NULL);
}

static int
sender_init(PyObject *self_obj, PyObject *args, PyObject *kwds)
{
    DirectSender *self = (DirectSender *)self_obj;
    PyObject *fallback;

    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "DirectSender() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O:DirectSender", &fallback)) return -1;
    Py_INCREF(fallback);
    Py_XSETREF(self->fallback, fallback);
    self->fd = -1;
    self->vectorcall = sender_call;
    return 0;
}

static PyObject *
sender_bind(PyObject *self_obj, PyObject *const *args, Py_ssize_t nargs)
{
    DirectSender *self = (DirectSender *)self_obj;
    int fd;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "bind() takes exactly 4 arguments");
        return NULL;
    }
    if (args[0] == Py_None) fd = -1;
    else if ((fd = get_fd(args[0])) < 0) return NULL;
    self->fd = fd;
    Py_INCREF(args[1]);
    Py_XSETREF(self->transport, args[1]);
    Py_INCREF(args[2]);
    Py_XSETREF(self->conn, args[2]);
    Py_INCREF(args[3]);
    Py_XSETREF(self->keys, args[3]);
    Py_RETURN_NONE;
}

static PyObject *
sender_get_armed(PyObject *self_obj, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((DirectSender *)self_obj)->armed);
}

static int
sender_set_armed(PyObject *self_obj, PyObject *value, void *closure)
{
    (void)closure;
    DirectSender *self = (DirectSender *)self_obj;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete armed");
        return -1;
    }
    int v = PyObject_IsTrue(value);
    if (v < 0) return -1;
    if (v && self->conn == NULL) {
        PyErr_SetString(PyExc_ValueError, "bind() first");
        return -1;
    }
    self->armed = v;
    return 0;
}

static int
sender_traverse(PyObject *self_obj, visitproc visit, void *arg)
{
    DirectSender *self = (DirectSender *)self_obj;
    Py_VISIT(self->fallback);
    Py_VISIT(self->conn);
    Py_VISIT(self->transport);
    Py_VISIT(self->keys);
    return 0;
}

static int
sender_clear(PyObject *self_obj)
{
    DirectSender *self = (DirectSender *)self_obj;
    self->armed = 0;
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->conn);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->keys);
    return 0;
}

static void
sender_dealloc(PyObject *self_obj)
{
    PyObject_GC_UnTrack(self_obj);
    sender_clear(self_obj);
    Py_TYPE(self_obj)->tp_free(self_obj);
}

static PyObject *
sender_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *self = PyType_GenericNew(type, args, kwds);
    if (self != NULL) {
        ((DirectSender *)self)->vectorcall = sender_call;
        ((DirectSender *)self)->fd = -1;
    }
    return self;
}

static PyMethodDef sender_methods[] = {
    {"bind", (PyCFunction)(void (*)(void))sender_bind, METH_FASTCALL,
     "bind(fd, transport, conn, keys, /)\n--\n\n"
     "Write to socket fd (None: hand every frame to transport.write, e.g. under TLS),\n"
     "check this core's plain_send; keys as write_frame's."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sender_getset[] = {
    {"armed", sender_get_armed, sender_set_armed,
     "Whether sends may go straight to the socket (else all go to ``fallback``).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject DirectSenderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "whalewire.ws._speedups.DirectSender",
    .tp_basicsize = sizeof(DirectSender),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = PyDoc_STR(
        "DirectSender(fallback, /)\n--\n\n"
        "A connection's send(message) in C: armed, bound, with ``conn.plain_send`` true and\n"
        "nothing buffered in the transport, frame the message (text for str) and write it\n"
        "with one system call (the rest to ``transport.write``); else ``fallback(message)``."),
    .tp_new = sender_new,
    .tp_init = sender_init,
    .tp_dealloc = sender_dealloc,
    .tp_traverse = sender_traverse,
    .tp_clear = sender_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(DirectSender, vectorcall),
    .tp_methods = sender_methods,
    .tp_getset = sender_getset,
};

static int
add_type(PyObject *module, PyTypeObject *type, const char *name)
{
    if (PyType_Ready(type) < 0) return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

static int
speedups_exec(PyObject *module)
{
    s_plain_send = PyUnicode_InternFromString("plain_send");
    s_get_write_buffer_size = PyUnicode_InternFromString("get_write_buffer_size");
    s_is_closing = PyUnicode_InternFromString("is_closing");
    s_write = PyUnicode_InternFromString("write");
    if (!s_plain_send || !s_get_write_buffer_size || !s_is_closing || !s_write) return -1;
    if (add_type(module, &PlainReaderType, "PlainReader") < 0) return -1;
    return add_type(module, &DirectSenderType, "DirectSender");
}

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, speedups_exec},
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "whalewire.ws._speedups",
    "Masking and UTF-8 validation in C for whalewire.ws.",
    0,
    speedups_methods,
    speedups_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    one = PyLong_FromLong(1);
    two = PyLong_FromLong(2);
    if (one == NULL || two == NULL) return NULL;
    if (ww_maskpool_at_fork(drop_keys) < 0) return NULL;
    return PyModuleDef_Init(&speedups_module);
}
