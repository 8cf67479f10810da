/*
 * Hot loops of whalewire.ws in C: payload masking (RFC 6455 §5.3), incremental UTF-8
 * validation (RFC 3629 §4), frame building (§5.2), the scan of plain data frames for
 * the frame path, and the buffer a large message is assembled in (handed over uncopied).
 * Pure computation over buffers: no system call, no socket. The per-byte
 * loops and the frame header live in src/whalewire/_c/ (wsmask.h, utf8dfa.h, wsframe.h),
 * shared with net._io (the transport's socket-facing objects) and venues._hotpath.
 * Optional: ws.mask, ws.utf8, ws.frames and ws.protocol hold the pure-Python reference of
 * each, and the tests run the same vectors over both. Connection state and every protocol
 * decision stay in ws.protocol: the scanners only take frames that need no decision and
 * stop at anything else. Nothing here knows asyncio.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyview.h"
#include "utf8dfa.h"
#include "wsframe.h"
#include "wsmask.h"

/* ---- masking ---------------------------------------------------------------------------- */

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
    if (ww_get_key(args[1], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &db, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    out = PyBytes_FromStringAndSize(NULL, db.len);
    if (out != NULL) {
        ww_xor_mask((const unsigned char *)db.buf, (unsigned char *)PyBytes_AS_STRING(out), db.len, key);
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
    if (ww_get_key(args[1], key) < 0) {
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
    ww_xor_mask((const unsigned char *)db.buf, (unsigned char *)db.buf, db.len, key);
    PyBuffer_Release(&db);
    Py_RETURN_NONE;
}
/* ---- UTF-8 ------------------------------------------------------------------------------ */

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
    state = ww_utf8_run((const unsigned char *)db.buf, db.len, (int)state);
    PyBuffer_Release(&db);
    return PyLong_FromLong(state);
}
/* ---- frame building ---------------------------------------------------------------------- */

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
    if (ww_get_b0(args[0], &b0) < 0) return NULL;
    masked = args[2] != Py_None;
    if (masked && ww_get_key(args[2], key) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &pb, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t h = ww_frame_header_size(pb.len, masked);
    out = PyBytes_FromStringAndSize(NULL, h + pb.len);
    if (out != NULL) {
        unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
        Py_ssize_t at = ww_frame_header(dst, b0, pb.len, masked);
        if (masked) memcpy(dst + at, key, 4);
        if (masked) ww_xor_mask((const unsigned char *)pb.buf, dst + h, pb.len, key);
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
    if (ww_get_b0(args[3], &b0) < 0) return NULL;
    masked = args[4] != Py_None;
    if (masked && ww_get_key(args[4], key) < 0) return NULL;
    if (PyObject_GetBuffer(args[0], &bb, PyBUF_WRITABLE) < 0) return NULL;
    h = ww_frame_header_size(length, masked);
    if (length < 0 || offset < h || offset + length > bb.len) {
        PyBuffer_Release(&bb);
        PyErr_SetString(PyExc_ValueError, "no headroom for the header, or payload past the end");
        return NULL;
    }
    unsigned char *s = (unsigned char *)bb.buf;
    Py_ssize_t at = ww_frame_header(s + offset - h, b0, length, masked);
    if (masked) memcpy(s + offset - h + at, key, 4);
    if (masked) ww_xor_mask(s + offset, s + offset, length, key);
    PyBuffer_Release(&bb);
    return PyLong_FromSsize_t(offset - h);
}
/* the opcodes handed to on_frame (small ints, immortal in practice) */
static PyObject *ww_one, *ww_two;

/* ---- frame scanning ---------------------------------------------------------------------- */

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
    while ((b0 = ww_next_plain(s, pos, end, want_mask, limit, &p, &len)) != 0) {
        if (want_mask) {
            ww_xor_mask(s + p, s + p, len, s + p - 4);
        }
        if (b0 == 0x81 && check_utf8 && ww_utf8_run(s + p, len, WW_UTF8_ACCEPT) != WW_UTF8_ACCEPT) {
            if (want_mask) ww_xor_mask(s + p, s + p, len, s + p - 4); /* put it back as it was */
            break;
        }
        PyObject *frame = ww_byte_slice(view, simple, p, len);
        if (frame == NULL) goto error;
        PyObject *cargs[3] = {b0 == 0x81 ? ww_one : ww_two, frame, Py_True};
        pos = p + len;
        PyObject *r = PyObject_Vectorcall(on_frame, cargs, 3, NULL);
        Py_DECREF(frame);
        if (r == NULL) {
            PyObject *value = ww_take_exception();
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
    while ((b0 = ww_next_plain(s, pos, end, want_mask, limit, &p, &len)) != 0) {
        PyObject *data, *event;
        if (b0 == 0x82) {
            data = PyBytes_FromStringAndSize(NULL, len);
            if (data == NULL) goto error;
            if (want_mask) ww_xor_mask(s + p, (unsigned char *)PyBytes_AS_STRING(data), len, s + p - 4);
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
                ww_xor_mask(s + p, tmp, len, s + p - 4);
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
/* ---- message assembly ------------------------------------------------------------------- */

/* One message's payload, appended as it arrives into a bytes object that nobody else sees
 * until take() hands it over: the copy of each piece happens in the turn that piece
 * arrived, and completing the message copies nothing (the bytes is shrunk in place to its
 * length). Growth doubles the capacity through _PyBytes_Resize: a large block is
 * reallocated by the allocator (mremap for mmap-backed blocks), never joined. */
typedef struct {
    PyObject_HEAD
    PyObject *data; /* a bytes of capacity >= len, referenced only here; NULL when empty */
    Py_ssize_t len;
    /* text (append_text): code points begun and the largest byte, which together size the
     * str before a byte is decoded; decode_step fills it, done bytes and written points */
    Py_ssize_t chars;
    unsigned char top;
    PyObject *text;
    Py_ssize_t done, written;
} MessageBufferObject;

static void
mb_reset(MessageBufferObject *self)
{
    Py_CLEAR(self->data);
    Py_CLEAR(self->text);
    self->len = self->chars = self->done = self->written = 0;
    self->top = 0;
}

static int
mb_reserve(MessageBufferObject *self, Py_ssize_t need)
{
    Py_ssize_t cap = self->data == NULL ? 0 : PyBytes_GET_SIZE(self->data);
    Py_ssize_t grown;

    if (need <= cap) return 0;
    grown = cap <= PY_SSIZE_T_MAX / 2 ? cap * 2 : PY_SSIZE_T_MAX;
    if (grown < need) grown = need;
    if (grown < 4096) grown = 4096;
    if (self->data == NULL) {
        self->data = PyBytes_FromStringAndSize(NULL, grown);
        return self->data == NULL ? -1 : 0;
    }
    if (_PyBytes_Resize(&self->data, grown) < 0) {
        self->len = 0; /* the old object was freed with the failure */
        return -1;
    }
    return 0;
}

/* Detach the assembled bytes (exactly len long); the buffer starts empty again. */
static PyObject *
mb_detach(MessageBufferObject *self)
{
    PyObject *out = self->data;
    Py_ssize_t len = self->len;

    self->data = NULL;
    mb_reset(self);
    if (out == NULL) return PyBytes_FromStringAndSize(NULL, 0);
    if (len != PyBytes_GET_SIZE(out) && _PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

PyDoc_STRVAR(mb_append_doc,
"append(data, /)\n--\n\n"
"Copy ``data`` (any bytes-like object) to the end of the message.");

static PyObject *
mb_append(MessageBufferObject *self, PyObject *arg)
{
    Py_buffer b;

    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    if (b.len == 0) { /* nothing to copy, and an empty buffer has no bytes object yet */
        PyBuffer_Release(&b);
        Py_RETURN_NONE;
    }
    if (b.len > PY_SSIZE_T_MAX - self->len || mb_reserve(self, self->len + b.len) < 0) {
        PyBuffer_Release(&b);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    memcpy(PyBytes_AS_STRING(self->data) + self->len, b.buf, (size_t)b.len);
    self->len += b.len;
    PyBuffer_Release(&b);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(mb_append_text_doc,
"append_text(data, /)\n--\n\n"
"Append valid UTF-8 (a piece may end inside a code point) and count what ``decode_step``\n"
"needs to size the str beforehand: code points begun, the largest byte.");

static PyObject *
mb_append_text(MessageBufferObject *self, PyObject *arg)
{
    Py_buffer b;
    const unsigned char *p;
    Py_ssize_t i, chars = 0;
    unsigned char top = self->top;

    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    p = (const unsigned char *)b.buf;
    for (i = 0; i < b.len; i++) {
        chars += (p[i] & 0xC0) != 0x80;
        if (p[i] > top) top = p[i];
    }
    PyBuffer_Release(&b);
    if (mb_append(self, arg) == NULL) return NULL;
    self->chars += chars;
    self->top = top;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(mb_decode_step_doc,
"decode_step(budget, /)\n--\n\n"
"Decode about ``budget`` more bytes of the text appended by ``append_text`` into its str;\n"
"return the str once all is decoded (the buffer starts empty again), else None. The str is\n"
"sized before the first step (its length and widest character were counted as the bytes\n"
"arrived), so no step copies what an earlier one wrote. Raises ValueError on bytes that\n"
"are not valid UTF-8 (the caller validates them first).");

static PyObject *
mb_decode_step(MessageBufferObject *self, PyObject *arg)
{
    Py_ssize_t budget = PyLong_AsSsize_t(arg), end, i, n;
    const unsigned char *p;
    int kind;
    void *out;
    PyObject *text;

    if (budget == -1 && PyErr_Occurred()) return NULL;
    if (self->text == NULL) {
        Py_UCS4 widest = self->top < 0x80 ? 0x7F : self->top < 0xC4 ? 0xFF
                         : self->top < 0xF0 ? 0xFFFF : 0x10FFFF;
        self->text = PyUnicode_New(self->chars, widest);
        if (self->text == NULL) return NULL;
    }
    p = self->data == NULL ? (const unsigned char *)"" : (const unsigned char *)PyBytes_AS_STRING(self->data);
    n = self->len;
    end = budget < n - self->done ? self->done + (budget > 0 ? budget : 1) : n;
    while (end < n && (p[end] & 0xC0) == 0x80) end++; /* stop between code points */
    kind = PyUnicode_KIND(self->text);
    out = PyUnicode_DATA(self->text);
    i = self->done;
    if (kind == PyUnicode_1BYTE_KIND && self->top < 0x80) {
        if (self->written + (end - i) > self->chars) goto invalid;
        memcpy((Py_UCS1 *)out + self->written, p + i, (size_t)(end - i));
        self->written += end - i;
        i = end;
    }
    while (i < end) {
        unsigned char c = p[i];
        Py_UCS4 cp;
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (i + len > end || self->written >= self->chars) goto invalid;
        switch (len) {
        case 1: cp = c; break;
        case 2: cp = ((Py_UCS4)(c & 0x1F) << 6) | (p[i + 1] & 0x3F); break;
        case 3: cp = ((Py_UCS4)(c & 0x0F) << 12) | ((Py_UCS4)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F); break;
        default:
            cp = ((Py_UCS4)(c & 0x07) << 18) | ((Py_UCS4)(p[i + 1] & 0x3F) << 12)
                 | ((Py_UCS4)(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
        }
        if (cp > 0x10FFFF || (kind == PyUnicode_1BYTE_KIND && cp > 0xFF)
            || (kind == PyUnicode_2BYTE_KIND && cp > 0xFFFF))
            goto invalid;
        PyUnicode_WRITE(kind, out, self->written, cp);
        self->written++;
        i += len;
    }
    self->done = end;
    if (end < n) Py_RETURN_NONE;
    if (self->written != self->chars) goto invalid;
    text = self->text;
    self->text = NULL;
    mb_reset(self);
    return text;
invalid:
    mb_reset(self);
    PyErr_SetString(PyExc_ValueError, "decode_step: the text is not valid UTF-8");
    return NULL;
}

PyDoc_STRVAR(mb_take_doc,
"take()\n--\n\n"
"Return the message as ``bytes`` without copying it; the buffer starts empty again.");

static PyObject *
mb_take(MessageBufferObject *self, PyObject *Py_UNUSED(ignored))
{
    return mb_detach(self);
}

PyDoc_STRVAR(mb_take_text_doc,
"take_text()\n--\n\n"
"Return the message decoded from UTF-8 (strict); the buffer starts empty again.");

static PyObject *
mb_take_text(MessageBufferObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *out;

    if (self->data == NULL) {
        mb_reset(self);
        return PyUnicode_FromStringAndSize(NULL, 0);
    }
    out = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(self->data), self->len, "strict");
    mb_reset(self);
    return out;
}

static Py_ssize_t
mb_length(MessageBufferObject *self)
{
    return self->len;
}

static void
mb_dealloc(MessageBufferObject *self)
{
    mb_reset(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef mb_methods[] = {
    {"append", (PyCFunction)mb_append, METH_O, mb_append_doc},
    {"append_text", (PyCFunction)mb_append_text, METH_O, mb_append_text_doc},
    {"decode_step", (PyCFunction)mb_decode_step, METH_O, mb_decode_step_doc},
    {"take", (PyCFunction)mb_take, METH_NOARGS, mb_take_doc},
    {"take_text", (PyCFunction)mb_take_text, METH_NOARGS, mb_take_text_doc},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods mb_as_sequence = {
    .sq_length = (lenfunc)mb_length,
};

static PyTypeObject MessageBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "whalewire.ws._speedups.MessageBuffer",
    .tp_doc = PyDoc_STR("One message's payload, appended as it arrives, handed over without a copy."),
    .tp_basicsize = sizeof(MessageBufferObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)mb_dealloc,
    .tp_methods = mb_methods,
    .tp_as_sequence = &mb_as_sequence,
};

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
    {"scan_messages", (PyCFunction)(void (*)(void))scan_messages, METH_FASTCALL,
     scan_messages_doc},
    {NULL, NULL, 0, NULL},
};
static int
speedups_exec(PyObject *module)
{
    if (PyType_Ready(&MessageBufferType) < 0) return -1;
    Py_INCREF(&MessageBufferType);
    if (PyModule_AddObject(module, "MessageBuffer", (PyObject *)&MessageBufferType) < 0) {
        Py_DECREF(&MessageBufferType);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, (void *)speedups_exec},
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "whalewire.ws._speedups",
    "Masking, UTF-8 validation, frame building and scanning in C for whalewire.ws (no I/O).",
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
    ww_one = PyLong_FromLong(1);
    ww_two = PyLong_FromLong(2);
    if (ww_one == NULL || ww_two == NULL) return NULL;
    return PyModuleDef_Init(&speedups_module);
}
