/*
 * The order hot paths in C: check the slots, fill, sign (HMAC-SHA256), serialise, frame and
 * mask one Binance order.place request in a single call and a single allocation; the same
 * without the signature for Kraken's add_order.
 *
 * Optional: venues.templates holds the pure-Python reference of the same computation and
 * the tests hold both equal to the slow path (signing.binance_ws_payload) and to Binance's
 * documented vectors. This file knows the template's layout (constant segments around the
 * slots, in the order templates.BinanceOrderTemplate._build and KrakenOrderTemplate lay
 * them out) and nothing of sockets, clients or orders beyond that.
 *
 * SHA-256 comes from OpenSSL's libcrypto (the same library hashlib uses): its plain
 * SHA256_CTX is copied by assignment, where hashlib's .copy() allocates a Python object.
 * The HMAC is keyed once (RFC 2104: inner and outer states after K^ipad and K^opad) and the
 * inner state has also absorbed the payload's constant prefix ("apiKey=...&newClientOrderId="
 * in the sorted WebSocket API payload), so each order hashes only what follows it.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <Python.h>
#include <openssl/sha.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "maskpool.h"
#include "tlssend.h"
#include "wsframe.h"
#include "wsmask.h"

/* ---- mask keys ---------------------------------------------------------------------------- */

/* RFC 6455 §5.3: unpredictable keys, from this module's own pool (maskpool.h: getrandom(2)
 * chunks, emptied in a forked child so parent and child never share keys). */
static ww_maskpool key_pool; /* zeroed: empty */

static void
key_pool_discard(void)
{
    ww_maskpool_drop(&key_pool);
}

/* ---- slot checks (the same rules as templates._slots_ok) ---------------------------------- */

static unsigned char id_ok[256];

/* Binance's newClientOrderId alphabet: ^[\.A-Z\:/a-z0-9_-]{1,36}$ */
static void
init_id_table(void)
{
    const char *extra = "-._:/";
    for (int c = '0'; c <= '9'; c++) id_ok[c] = 1;
    for (int c = 'A'; c <= 'Z'; c++) id_ok[c] = 1;
    for (int c = 'a'; c <= 'z'; c++) id_ok[c] = 1;
    for (const char *p = extra; *p; p++) id_ok[(unsigned char)*p] = 1;
}

/* digits with at most one inner dot: a Binance DECIMAL and a JSON number */
static int
decimal_ok(const unsigned char *s, Py_ssize_t n)
{
    int dots = 0;
    if (n == 0 || s[0] == '.' || s[n - 1] == '.') return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '.') {
            if (++dots > 1) return 0;
        }
        else if (c < '0' || c > '9')
            return 0;
    }
    return 1;
}

/* ---- the framer --------------------------------------------------------------------------- */

/* pay: c0 CID c1 PRICE c2 QTY c3 TS c4 (c0 is absorbed at build time)
 * js:  j0 CID j1 CID j2 PRICE j3 QTY j4 TS j5 SIG j6 */
typedef struct {
    PyObject_HEAD
    SHA256_CTX inner;
    SHA256_CTX outer;
    int is_signed;
    int has_price;
    Py_ssize_t cid_width;
    PyObject *pay[5];
    PyObject *js[7];
    PyObject *refuse;
} Framer;

/* refuse is usually a bound method of the template that holds this framer's frame method:
 * a cycle, so the type takes part in garbage collection */
static int
Framer_traverse(Framer *self, visitproc visit, void *arg)
{
    Py_VISIT(self->refuse);
    return 0;
}

static int
Framer_clear(Framer *self)
{
    Py_CLEAR(self->refuse);
    return 0;
}

static void
Framer_dealloc(Framer *self)
{
    PyObject_GC_UnTrack(self);
    for (int i = 0; i < 5; i++) Py_CLEAR(self->pay[i]);
    for (int i = 0; i < 7; i++) Py_CLEAR(self->js[i]);
    Py_CLEAR(self->refuse);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
take_segments(PyObject *tuple, PyObject **out, Py_ssize_t n, const char *name)
{
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) != n) {
        PyErr_Format(PyExc_ValueError, "%s must be a tuple of %zd bytes", name, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);
        if (!PyBytes_CheckExact(item)) {
            PyErr_Format(PyExc_TypeError, "%s[%zd] must be bytes", name, i);
            return -1;
        }
        Py_INCREF(item);
        out[i] = item;
    }
    return 0;
}

static int
Framer_init(Framer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"pay", "js", "secret", "cid_width", "has_price", "refuse", NULL};
    PyObject *pay, *js, *secret, *refuse;
    Py_ssize_t cid_width;
    int has_price;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOnpO", kwlist, &pay, &js, &secret,
                                     &cid_width, &has_price, &refuse))
        return -1;
    if (self->pay[0] != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "BinanceFramer is initialised once");
        return -1;
    }
    if (!PyCallable_Check(refuse)) {
        PyErr_SetString(PyExc_TypeError, "refuse must be callable");
        return -1;
    }
    if (cid_width < 1 || cid_width > 36) {
        PyErr_SetString(PyExc_ValueError, "cid_width must be in [1, 36]");
        return -1;
    }
    if (take_segments(pay, self->pay, 5, "pay") < 0 || take_segments(js, self->js, 7, "js") < 0)
        return -1;
    Py_INCREF(refuse);
    self->refuse = refuse;
    self->cid_width = cid_width;
    self->has_price = has_price;
    self->is_signed = secret != Py_None;
    if (!self->is_signed) return 0;
    if (!PyBytes_CheckExact(secret)) {
        PyErr_SetString(PyExc_TypeError, "secret must be bytes or None");
        return -1;
    }
    /* RFC 2104 §2: keys longer than the block are hashed first, shorter ones zero-padded */
    unsigned char key[SHA256_CBLOCK] = {0}, ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
    const unsigned char *k = (const unsigned char *)PyBytes_AS_STRING(secret);
    Py_ssize_t klen = PyBytes_GET_SIZE(secret);
    if (klen > SHA256_CBLOCK)
        SHA256(k, (size_t)klen, key);
    else
        memcpy(key, k, (size_t)klen);
    for (int i = 0; i < SHA256_CBLOCK; i++) {
        ipad[i] = key[i] ^ 0x36;
        opad[i] = key[i] ^ 0x5c;
    }
    SHA256_Init(&self->inner);
    SHA256_Update(&self->inner, ipad, SHA256_CBLOCK);
    SHA256_Update(&self->inner, PyBytes_AS_STRING(self->pay[0]),
                  (size_t)PyBytes_GET_SIZE(self->pay[0]));
    SHA256_Init(&self->outer);
    SHA256_Update(&self->outer, opad, SHA256_CBLOCK);
    memset(key, 0, sizeof key);
    memset(ipad, 0, sizeof ipad);
    memset(opad, 0, sizeof opad);
    return 0;
}

static inline unsigned char *
put(unsigned char *p, PyObject *b)
{
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    memcpy(p, PyBytes_AS_STRING(b), (size_t)n);
    return p + n;
}

static inline void
hash_bytes(SHA256_CTX *ctx, PyObject *b)
{
    SHA256_Update(ctx, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
}

/* One order's slots, checked, with its timestamp's digits and signature worked out: what
 * frame() and send() both lay out (the body is n bytes long). */
typedef struct {
    const unsigned char *c, *q, *pr, *ts;
    Py_ssize_t clen, qlen, plen, tlen, slen, n;
    unsigned char tsbuf[24];
    unsigned char sig[64];
} Order;

/* Check the slots and sign: 0, or -1 with an exception (the template's refuse words it). */
static int
order_parts(Framer *self, PyObject *const *args, Py_ssize_t nargs, Order *o)
{
    if (self->refuse == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "BinanceFramer is not initialised");
        return -1;
    }
    if (nargs < 3 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "frame(timestamp_ms, client_order_id, quantity, price=b'')");
        return -1;
    }
    PyObject *cid = args[1], *qty = args[2];
    PyObject *price = nargs == 4 ? args[3] : NULL;
    if (!PyBytes_Check(cid) || !PyBytes_Check(qty) || (price != NULL && !PyBytes_Check(price))) {
        PyErr_SetString(PyExc_TypeError, "client_order_id, quantity and price must be bytes");
        return -1;
    }
    const unsigned char *c = (const unsigned char *)PyBytes_AS_STRING(cid);
    const unsigned char *q = (const unsigned char *)PyBytes_AS_STRING(qty);
    const unsigned char *pr = price ? (const unsigned char *)PyBytes_AS_STRING(price)
                                    : (const unsigned char *)"";
    Py_ssize_t clen = PyBytes_GET_SIZE(cid), qlen = PyBytes_GET_SIZE(qty);
    Py_ssize_t plen = price ? PyBytes_GET_SIZE(price) : 0;

    int ok = clen == self->cid_width && decimal_ok(q, qlen)
             && (self->has_price ? decimal_ok(pr, plen) : plen == 0);
    for (Py_ssize_t i = 0; ok && i < clen; i++) ok = id_ok[c[i]];
    if (!ok) {
        /* the Python side words the error; it must raise */
        PyObject *empty = price ? price : PyBytes_FromStringAndSize(NULL, 0);
        if (empty == NULL) return -1;
        PyObject *r = PyObject_CallFunctionObjArgs(self->refuse, cid, qty, empty, NULL);
        if (price == NULL) Py_DECREF(empty);
        if (r == NULL) return -1;
        Py_DECREF(r);
        PyErr_SetString(PyExc_AssertionError, "refuse returned for invalid slots");
        return -1;
    }

    if (!PyLong_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "timestamp_ms must be an int");
        return -1;
    }
    long long tsv = PyLong_AsLongLong(args[0]);
    if (tsv == -1 && PyErr_Occurred()) return -1;
    if (tsv < 0) {
        PyErr_SetString(PyExc_ValueError, "timestamp_ms must not be negative");
        return -1;
    }
    unsigned char *te = o->tsbuf + sizeof o->tsbuf, *ts = te;
    unsigned long long u = (unsigned long long)tsv;
    do {
        *--ts = (unsigned char)('0' + u % 10);
        u /= 10;
    } while (u);
    Py_ssize_t tlen = te - ts;

    static const char hexd[] = "0123456789abcdef";
    Py_ssize_t slen = 0;
    if (self->is_signed) {
        SHA256_CTX ctx = self->inner;
        unsigned char mac[SHA256_DIGEST_LENGTH];
        SHA256_Update(&ctx, c, (size_t)clen);
        hash_bytes(&ctx, self->pay[1]);
        SHA256_Update(&ctx, pr, (size_t)plen);
        hash_bytes(&ctx, self->pay[2]);
        SHA256_Update(&ctx, q, (size_t)qlen);
        hash_bytes(&ctx, self->pay[3]);
        SHA256_Update(&ctx, ts, (size_t)tlen);
        hash_bytes(&ctx, self->pay[4]);
        SHA256_Final(mac, &ctx);
        ctx = self->outer;
        SHA256_Update(&ctx, mac, sizeof mac);
        SHA256_Final(mac, &ctx);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
            o->sig[2 * i] = (unsigned char)hexd[mac[i] >> 4];
            o->sig[2 * i + 1] = (unsigned char)hexd[mac[i] & 15];
        }
        slen = 64;
    }
    Py_ssize_t n = 2 * clen + plen + qlen + tlen + slen;
    for (int i = 0; i < 7; i++) n += PyBytes_GET_SIZE(self->js[i]);
    o->c = c, o->q = q, o->pr = pr, o->ts = ts;
    o->clen = clen, o->qlen = qlen, o->plen = plen, o->tlen = tlen, o->slen = slen, o->n = n;
    return 0;
}

/* The whole frame's length: header, mask key, body. */
static inline Py_ssize_t
order_frame_size(const Order *o)
{
    return ww_frame_header_size(o->n, 1) + o->n;
}

/* Lay the masked frame out at out (order_frame_size bytes): 0, or -1 with an exception. */
static int
order_write(Framer *self, const Order *o, unsigned char *out)
{
    /* RFC 6455 §5.2: FIN + TEXT, MASK bit, minimal payload length, then the 4-byte key */
    unsigned char *key = out + ww_frame_header(out, 0x81, o->n, 1);
    if (ww_maskpool_key(&key_pool, key) < 0) return -1;
    unsigned char *body = key + 4, *p = body;
    p = put(p, self->js[0]);
    memcpy(p, o->c, (size_t)o->clen), p += o->clen;
    p = put(p, self->js[1]);
    memcpy(p, o->c, (size_t)o->clen), p += o->clen;
    p = put(p, self->js[2]);
    memcpy(p, o->pr, (size_t)o->plen), p += o->plen;
    p = put(p, self->js[3]);
    memcpy(p, o->q, (size_t)o->qlen), p += o->qlen;
    p = put(p, self->js[4]);
    memcpy(p, o->ts, (size_t)o->tlen), p += o->tlen;
    p = put(p, self->js[5]);
    memcpy(p, o->sig, (size_t)o->slen), p += o->slen;
    p = put(p, self->js[6]);
    ww_xor_mask(body, body, o->n, key); /* RFC 6455 §5.3 */
    return 0;
}

static PyObject *
Framer_frame(Framer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Order o;
    if (order_parts(self, args, nargs, &o) < 0) return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, order_frame_size(&o));
    if (out == NULL) return NULL;
    if (order_write(self, &o, (unsigned char *)PyBytes_AS_STRING(out)) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

/* net._tls's send, imported on the first send to a Session (the module may not be built) */
static const ww_tls_capi *tls_capi;

/* Write the frame to target: a net._tls.Session (encrypted, the rest to its overflow), or
 * a socket fd (one write(2)). Returns None, the part write(2) did not take (the caller's
 * transport sends it), or NULL with an exception. */
static PyObject *
send_frame(PyObject *target, const unsigned char *buf, Py_ssize_t len)
{
    if (PyLong_CheckExact(target)) {
        long fd = PyLong_AsLong(target);
        if (fd == -1 && PyErr_Occurred()) return NULL;
        if (fd < 0 || fd > INT_MAX) {
            PyErr_SetString(PyExc_ValueError, "send(): not a file descriptor");
            return NULL;
        }
        Py_ssize_t done = write((int)fd, buf, (size_t)len);
        if (done == len) Py_RETURN_NONE;
        if (done < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return PyErr_SetFromErrno(PyExc_OSError);
            done = 0;
        }
        return PyBytes_FromStringAndSize((const char *)buf + done, len - done);
    }
    if (tls_capi == NULL) {
        tls_capi = (const ww_tls_capi *)PyCapsule_Import(WW_TLS_CAPI_NAME, 0);
        if (tls_capi == NULL) return NULL;
    }
    if (!PyObject_TypeCheck(target, tls_capi->session_type)) {
        PyErr_SetString(PyExc_TypeError, "send() writes to a socket fd or a net._tls.Session");
        return NULL;
    }
    if (tls_capi->send(target, buf, len) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *
Framer_send(Framer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Order o;
    unsigned char stack[2048];
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError,
                        "send(target, timestamp_ms, client_order_id, quantity, price=b'')");
        return NULL;
    }
    if (order_parts(self, args + 1, nargs - 1, &o) < 0) return NULL;
    Py_ssize_t size = order_frame_size(&o);
    unsigned char *buf = size <= (Py_ssize_t)sizeof stack ? stack : PyMem_Malloc((size_t)size);
    if (buf == NULL) return PyErr_NoMemory();
    PyObject *r = order_write(self, &o, buf) < 0 ? NULL : send_frame(args[0], buf, size);
    if (buf != stack) PyMem_Free(buf);
    return r;
}

PyDoc_STRVAR(Framer_frame_doc,
             "frame(timestamp_ms, client_order_id, quantity, price=b'', /)\n--\n\n"
             "Return the signed order.place request as one masked text frame.");

PyDoc_STRVAR(Framer_send_doc,
             "send(target, timestamp_ms, client_order_id, quantity, price=b'', /)\n--\n\n"
             "Build frame()'s frame on the stack and write it to target in the same call: a\n"
             "net._tls.Session (SSL_write: encrypt + one write(2); the rest to its overflow)\n"
             "or a socket fd (one write(2)). Returns None, or what write(2) did not take.");

static PyMethodDef Framer_methods[] = {
    {"frame", (PyCFunction)(void (*)(void))Framer_frame, METH_FASTCALL, Framer_frame_doc},
    {"send", (PyCFunction)(void (*)(void))Framer_send, METH_FASTCALL, Framer_send_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FramerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "whalewire.venues._hotpath.BinanceFramer",
    .tp_basicsize = sizeof(Framer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR("One Binance order.place shape, keyed and laid out for frame()."),
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Framer_init,
    .tp_dealloc = (destructor)Framer_dealloc,
    .tp_traverse = (traverseproc)Framer_traverse,
    .tp_clear = (inquiry)Framer_clear,
    .tp_methods = Framer_methods,
};


/* ---- Kraken: add_order, no signature ------------------------------------------------------ */

/* One masked text frame of n parts (RFC 6455 §5.2, §5.3), in one allocation. */
static PyObject *
masked_text_frame(const unsigned char *const *parts, const Py_ssize_t *lens, int count)
{
    Py_ssize_t n = 0;
    for (int i = 0; i < count; i++) n += lens[i];
    PyObject *out = PyBytes_FromStringAndSize(NULL, ww_frame_header_size(n, 1) + n);
    if (out == NULL) return NULL;
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    unsigned char *key = o + ww_frame_header(o, 0x81, n, 1);
    if (ww_maskpool_key(&key_pool, key) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    unsigned char *body = key + 4, *p = body;
    for (int i = 0; i < count; i++) {
        memcpy(p, parts[i], (size_t)lens[i]);
        p += lens[i];
    }
    ww_xor_mask(body, body, n, key); /* RFC 6455 §5.3 */
    return out;
}

/* segments: s0 CL_ORD_ID s1 QTY s2 PRICE s3 REQ_ID s4 (templates.KrakenOrderTemplate) */
typedef struct {
    PyObject_HEAD
    int has_price;
    Py_ssize_t cid_width;
    PyObject *seg[5];
    PyObject *refuse;
} KFramer;

static int
KFramer_traverse(KFramer *self, visitproc visit, void *arg)
{
    Py_VISIT(self->refuse);
    return 0;
}

static int
KFramer_clear(KFramer *self)
{
    Py_CLEAR(self->refuse);
    return 0;
}

static void
KFramer_dealloc(KFramer *self)
{
    PyObject_GC_UnTrack(self);
    for (int i = 0; i < 5; i++) Py_CLEAR(self->seg[i]);
    Py_CLEAR(self->refuse);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
KFramer_init(KFramer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"segments", "cid_width", "has_price", "refuse", NULL};
    PyObject *segments, *refuse;
    Py_ssize_t cid_width;
    int has_price;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OnpO", kwlist, &segments, &cid_width,
                                     &has_price, &refuse))
        return -1;
    if (self->seg[0] != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "KrakenFramer is initialised once");
        return -1;
    }
    if (!PyCallable_Check(refuse)) {
        PyErr_SetString(PyExc_TypeError, "refuse must be callable");
        return -1;
    }
    if (take_segments(segments, self->seg, 5, "segments") < 0) return -1;
    Py_INCREF(refuse);
    self->refuse = refuse;
    self->cid_width = cid_width;
    self->has_price = has_price;
    return 0;
}

static PyObject *
KFramer_frame(KFramer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (self->refuse == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "KrakenFramer is not initialised");
        return NULL;
    }
    if (nargs < 3 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "frame(req_id, cl_ord_id, quantity, price=b'')");
        return NULL;
    }
    PyObject *cid = args[1], *qty = args[2];
    PyObject *price = nargs == 4 ? args[3] : NULL;
    if (!PyBytes_Check(cid) || !PyBytes_Check(qty) || (price != NULL && !PyBytes_Check(price))) {
        PyErr_SetString(PyExc_TypeError, "cl_ord_id, quantity and price must be bytes");
        return NULL;
    }
    const unsigned char *pr = price ? (const unsigned char *)PyBytes_AS_STRING(price)
                                    : (const unsigned char *)"";
    Py_ssize_t plen = price ? PyBytes_GET_SIZE(price) : 0;
    const unsigned char *q = (const unsigned char *)PyBytes_AS_STRING(qty);
    Py_ssize_t qlen = PyBytes_GET_SIZE(qty);
    if (PyBytes_GET_SIZE(cid) != self->cid_width || !decimal_ok(q, qlen)
        || !(self->has_price ? decimal_ok(pr, plen) : plen == 0)) {
        PyObject *empty = price ? price : PyBytes_FromStringAndSize(NULL, 0);
        if (empty == NULL) return NULL;
        PyObject *r = PyObject_CallFunctionObjArgs(self->refuse, cid, qty, empty, NULL);
        if (price == NULL) Py_DECREF(empty);
        if (r == NULL) return NULL;
        Py_DECREF(r);
        PyErr_SetString(PyExc_AssertionError, "refuse returned for invalid slots");
        return NULL;
    }
    if (!PyLong_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "req_id must be an int");
        return NULL;
    }
    long long v = PyLong_AsLongLong(args[0]);
    if (v == -1 && PyErr_Occurred()) return NULL;
    unsigned char buf[24], *e = buf + sizeof buf, *d = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--d = (unsigned char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--d = '-';
    const unsigned char *parts[9] = {
        (const unsigned char *)PyBytes_AS_STRING(self->seg[0]),
        (const unsigned char *)PyBytes_AS_STRING(cid),
        (const unsigned char *)PyBytes_AS_STRING(self->seg[1]),
        q,
        (const unsigned char *)PyBytes_AS_STRING(self->seg[2]),
        pr,
        (const unsigned char *)PyBytes_AS_STRING(self->seg[3]),
        d,
        (const unsigned char *)PyBytes_AS_STRING(self->seg[4]),
    };
    const Py_ssize_t lens[9] = {
        PyBytes_GET_SIZE(self->seg[0]), PyBytes_GET_SIZE(cid), PyBytes_GET_SIZE(self->seg[1]),
        qlen, PyBytes_GET_SIZE(self->seg[2]), plen, PyBytes_GET_SIZE(self->seg[3]),
        e - d, PyBytes_GET_SIZE(self->seg[4]),
    };
    return masked_text_frame(parts, lens, 9);
}

PyDoc_STRVAR(KFramer_frame_doc,
             "frame(req_id, cl_ord_id, quantity, price=b'', /)\n--\n\n"
             "Return the add_order request as one masked text frame.");

static PyMethodDef KFramer_methods[] = {
    {"frame", (PyCFunction)(void (*)(void))KFramer_frame, METH_FASTCALL, KFramer_frame_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KFramerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "whalewire.venues._hotpath.KrakenFramer",
    .tp_basicsize = sizeof(KFramer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR("One Kraken add_order shape, laid out for frame()."),
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)KFramer_init,
    .tp_dealloc = (destructor)KFramer_dealloc,
    .tp_traverse = (traverseproc)KFramer_traverse,
    .tp_clear = (inquiry)KFramer_clear,
    .tp_methods = KFramer_methods,
};

/* ---- module ------------------------------------------------------------------------------- */

static struct PyModuleDef hotpath_module = {
    PyModuleDef_HEAD_INIT,
    "whalewire.venues._hotpath",
    "The order hot paths (Binance: fill, sign, frame, mask; Kraken: fill, frame, mask) in C.",
    -1,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__hotpath(void)
{
    init_id_table();
    if (PyType_Ready(&FramerType) < 0 || PyType_Ready(&KFramerType) < 0) return NULL;
    if (ww_maskpool_at_fork(key_pool_discard) < 0) return NULL;
    PyObject *m = PyModule_Create(&hotpath_module);
    if (m == NULL) return NULL;
    Py_INCREF(&FramerType);
    if (PyModule_AddObject(m, "BinanceFramer", (PyObject *)&FramerType) < 0) {
        Py_DECREF(&FramerType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&KFramerType);
    if (PyModule_AddObject(m, "KrakenFramer", (PyObject *)&KFramerType) < 0) {
        Py_DECREF(&KFramerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
