/*
 * whalewire.net._io: the transport's socket-facing objects in C, built on the WebSocket
 * hot loops shared through src/whalewire/_c/ (wsmask.h, utf8dfa.h, wsframe.h, pyview.h):
 * write_frame (frame, mask with a key from this module's pool, one write(2)), PlainReader
 * (a protocol's buffer_updated: plain frames straight to the callback) and DirectSender
 * (a connection's send: write_frame when nothing is queued).
 * Optional: net._protocol and ws.protocol hold the reference path, and the tests hold the
 * two equal. Nothing here makes a protocol decision: the objects are armed only when the
 * Python side says so, and they know asyncio only by calling a transport's write,
 * get_write_buffer_size and is_closing. The only module of whalewire's C that writes to a
 * socket besides net._uring; ws._speedups stays free of I/O.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "maskpool.h"
#include "pyview.h"
#include "utf8dfa.h"
#include "wsframe.h"
#include "wsmask.h"

/* the opcodes handed to on_frame (small ints, immortal in practice) */
static PyObject *ww_one, *ww_two;

/* ---- write_frame: frame, mask, one write(2) ----------------------------------------------- */

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
        if (keyobj == NULL || ww_get_key(keyobj, key) < 0) goto error;
    }
    h = ww_frame_header_size(plen, masked);
    total = h + plen;
    if (!masked) {
        /* nothing to transform: header and payload go out together, the payload uncopied */
        struct iovec iov[2];
        ww_frame_header(header, b0, plen, 0);
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
        memcpy(frame + ww_frame_header(frame, b0, plen, 1), key, 4);
        ww_xor_mask((const unsigned char *)payload, frame + h, plen, key);
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
    if (ww_get_b0(args[1], &b0) < 0) return NULL;
    return frame_and_write(fd, b0, args[2], args[3]);
}
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
    if (key == NULL) return ww_utf8_run(s, n, WW_UTF8_ACCEPT) != WW_UTF8_REJECT;
    ww_xor_mask(s, s, n, key);
    state = ww_utf8_run(s, n, WW_UTF8_ACCEPT);
    ww_xor_mask(s, s, n, key); /* the Python reader may still read it as it came */
    return state != WW_UTF8_REJECT;
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
    while ((b0 = ww_next_plain(s, pos, nbytes, self->want_mask, self->limit, &p, &len)) != 0) {
        PyObject *data, *cargs[3];
        if (self->want_mask) ww_xor_mask(s + p, s + p, len, s + p - 4);
        if (ws != NULL) {
            if (b0 == 0x82) {
                data = PyBytes_FromStringAndSize((const char *)s + p, len);
            }
            else {
                data = PyUnicode_DecodeUTF8((const char *)s + p, len, "strict");
                if (data == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    PyErr_Clear();
                    if (self->want_mask) ww_xor_mask(s + p, s + p, len, s + p - 4);
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
            if (b0 == 0x81 && self->check_utf8 && ww_utf8_run(s + p, len, WW_UTF8_ACCEPT) != WW_UTF8_ACCEPT) {
                if (self->want_mask) ww_xor_mask(s + p, s + p, len, s + p - 4);
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
                data = ww_byte_slice(view, 1, p, len);
                if (data == NULL) goto error;
            }
            cargs[0] = b0 == 0x81 ? ww_one : ww_two;
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
            exc = ww_take_exception();
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
    return ww_byte_slice(self->view, 1, self->pending, size - self->pending);
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
    .tp_name = "whalewire.net._io.PlainReader",
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

/* ---- the transport's sender object -------------------------------------------------------- */

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
    .tp_name = "whalewire.net._io.DirectSender",
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
/* ---- module ----------------------------------------------------------------------------- */

static PyMethodDef io_methods[] = {
    {"write_frame", (PyCFunction)(void (*)(void))write_frame, METH_FASTCALL, write_frame_doc},
    {NULL, NULL, 0, NULL},
};

static int
io_exec(PyObject *module)
{
    s_plain_send = PyUnicode_InternFromString("plain_send");
    s_get_write_buffer_size = PyUnicode_InternFromString("get_write_buffer_size");
    s_is_closing = PyUnicode_InternFromString("is_closing");
    s_write = PyUnicode_InternFromString("write");
    if (!s_plain_send || !s_get_write_buffer_size || !s_is_closing || !s_write) return -1;
    if (add_type(module, &PlainReaderType, "PlainReader") < 0) return -1;
    return add_type(module, &DirectSenderType, "DirectSender");
}

static PyModuleDef_Slot io_slots[] = {
    {Py_mod_exec, io_exec},
    {0, NULL},
};

static struct PyModuleDef io_module = {
    PyModuleDef_HEAD_INIT,
    "whalewire.net._io",
    "The WebSocket transport's socket-facing objects in C: write_frame, PlainReader, DirectSender.",
    0,
    io_methods,
    io_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__io(void)
{
    ww_one = PyLong_FromLong(1);
    ww_two = PyLong_FromLong(2);
    if (ww_one == NULL || ww_two == NULL) return NULL;
    /* once per process: a forked child must never reuse the parent's mask keys */
    if (ww_maskpool_at_fork(drop_keys) < 0) return NULL;
    return PyModuleDef_Init(&io_module);
}
