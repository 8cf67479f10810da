/*
 * The learner's block walk in C: one pass over a serialised block that hands back only what
 * the learner reads (each transaction's txid, the outpoints it spends, its output values and
 * scripts), with no object per input, output or witness item beyond those.
 *
 * Optional: whalewire.addresses.walk holds the pure-Python reference (over
 * whalewire.mempool.tx.parse_block) and the tests hold the two equal on the same blocks.
 * walk_block returns None for bytes it does not fully understand; the caller then runs the
 * Python path, which names the fault (TxParseError). Serialisation: Bitcoin Core
 * primitives/block.h and primitives/transaction.h, BIP 144 (segwit marker, flag, witness).
 * SHA-256 comes from OpenSSL's libcrypto, as in whalewire.mempool._scan.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <Python.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#include "txread.h"

#define HEADER 80

static void
sha256d(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
        const unsigned char *c, size_t clen, unsigned char out[32])
{
    SHA256_CTX ctx;
    unsigned char first[32];
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, a, alen);
    if (blen)
        SHA256_Update(&ctx, b, blen);
    if (clen)
        SHA256_Update(&ctx, c, clen);
    SHA256_Final(first, &ctx);
    SHA256(first, 32, out);
}

static const unsigned char NULL_PREVOUT[36] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
};

/* Walk one transaction at r->pos into a new (txid, prevouts or None, values, scripts,
 * outpoints) tuple;
 * NULL with no exception set when the bytes are not a transaction, NULL with one on error. */
static PyObject *
walk_tx(reader *r)
{
    Py_ssize_t start = r->pos;
    PyObject *prevouts = NULL, *values = NULL, *scripts = NULL, *txid = NULL, *outpoints = NULL;
    if (!skip(r, 4))
        return NULL;
    int segwit = 0;
    if (r->n - r->pos >= 2 && r->p[r->pos] == 0 && r->p[r->pos + 1] == 1) {
        segwit = 1;
        r->pos += 2;
    }
    Py_ssize_t body = r->pos;
    int64_t nin = compact(r);
    /* an input takes at least 41 bytes: no list larger than the bytes left can hold */
    if (nin <= 0 || nin > (r->n - r->pos) / 41)
        return NULL;
    int coinbase = r->n - r->pos >= 36 && memcmp(r->p + r->pos, NULL_PREVOUT, 36) == 0;
    if (!coinbase && (prevouts = PyList_New((Py_ssize_t)nin)) == NULL)
        return NULL;
    for (int64_t i = 0; i < nin; i++) {
        Py_ssize_t at = r->pos;
        if (!skip(r, 36) || !skip(r, compact(r)) || !skip(r, 4))
            goto refuse;
        if (prevouts != NULL) {
            PyObject *op = PyBytes_FromStringAndSize((const char *)r->p + at, 36);
            if (op == NULL)
                goto fail;
            PyList_SET_ITEM(prevouts, (Py_ssize_t)i, op);
        }
    }
    int64_t nout = compact(r);
    if (nout < 0 || nout > (r->n - r->pos) / 9)
        goto refuse;
    if ((values = PyList_New((Py_ssize_t)nout)) == NULL ||
        (scripts = PyList_New((Py_ssize_t)nout)) == NULL)
        goto fail;
    for (int64_t i = 0; i < nout; i++) {
        if (r->n - r->pos < 8)
            goto refuse;
        uint64_t value = le(r->p + r->pos, 8);
        r->pos += 8;
        int64_t len = compact(r);
        Py_ssize_t at = r->pos;
        if (!skip(r, len))
            goto refuse;
        PyObject *v = PyLong_FromUnsignedLongLong(value);
        if (v == NULL)
            goto fail;
        PyList_SET_ITEM(values, (Py_ssize_t)i, v);
        PyObject *s = PyBytes_FromStringAndSize((const char *)r->p + at, (Py_ssize_t)len);
        if (s == NULL)
            goto fail;
        PyList_SET_ITEM(scripts, (Py_ssize_t)i, s);
    }
    Py_ssize_t body_end = r->pos;
    if (segwit) {
        for (int64_t i = 0; i < nin; i++) {
            int64_t items = compact(r);
            if (items < 0)
                goto refuse;
            for (int64_t j = 0; j < items; j++)
                if (!skip(r, compact(r)))
                    goto refuse;
        }
    }
    Py_ssize_t lock = r->pos;
    if (!skip(r, 4))
        goto refuse;
    unsigned char h[32];
    sha256d(r->p + start, 4, r->p + body, (size_t)(body_end - body), r->p + lock, 4, h);
    if ((txid = PyBytes_FromStringAndSize((const char *)h, 32)) == NULL)
        goto fail;
    /* the outpoints this transaction creates, the keys of the learner's unspent outputs */
    if ((outpoints = PyList_New((Py_ssize_t)nout)) == NULL)
        goto fail;
    unsigned char op[36];
    memcpy(op, h, 32);
    for (int64_t i = 0; i < nout; i++) {
        op[32] = (unsigned char)i;
        op[33] = (unsigned char)(i >> 8);
        op[34] = (unsigned char)(i >> 16);
        op[35] = (unsigned char)(i >> 24);
        PyObject *o = PyBytes_FromStringAndSize((const char *)op, 36);
        if (o == NULL)
            goto fail;
        PyList_SET_ITEM(outpoints, (Py_ssize_t)i, o);
    }
    PyObject *t = PyTuple_New(5);
    if (t == NULL)
        goto fail;
    if (prevouts == NULL) {
        Py_INCREF(Py_None);
        prevouts = Py_None;
    }
    PyTuple_SET_ITEM(t, 0, txid);
    PyTuple_SET_ITEM(t, 1, prevouts);
    PyTuple_SET_ITEM(t, 2, values);
    PyTuple_SET_ITEM(t, 3, scripts);
    PyTuple_SET_ITEM(t, 4, outpoints);
    return t;
refuse:
fail:
    Py_XDECREF(prevouts);
    Py_XDECREF(values);
    Py_XDECREF(scripts);
    Py_XDECREF(txid);
    Py_XDECREF(outpoints);
    return NULL;
}

PyDoc_STRVAR(walk_block_doc,
             "walk_block(raw, /)\n--\n\n"
             "Return (block hash, previous hash, txs), hashes in internal byte order; each tx is\n"
             "(txid internal order, spent outpoints or None for a coinbase, output values, output\n"
             "scripts, the outpoints it creates). None: the bytes are not a block this walk understands (use Python).");

static PyObject *
walk_block(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    reader r = {view.buf, view.len, HEADER};
    PyObject *txs = NULL, *result = NULL;
    if (view.len < HEADER)
        goto refuse;
    int64_t ntx = compact(&r);
    if (ntx <= 0 || ntx > (r.n - r.pos) / 10)
        goto refuse;
    if ((txs = PyList_New((Py_ssize_t)ntx)) == NULL)
        goto done;
    for (int64_t i = 0; i < ntx; i++) {
        PyObject *tx = walk_tx(&r);
        if (tx == NULL) {
            if (PyErr_Occurred())
                goto done;
            goto refuse;
        }
        PyList_SET_ITEM(txs, (Py_ssize_t)i, tx);
    }
    if (r.pos != r.n)
        goto refuse;
    unsigned char h[32];
    sha256d(r.p, HEADER, NULL, 0, NULL, 0, h);
    result = Py_BuildValue("(y#y#O)", (const char *)h, (Py_ssize_t)32, (const char *)r.p + 4,
                           (Py_ssize_t)32, txs);
    goto done;
refuse:
    Py_INCREF(Py_None);
    result = Py_None;
done:
    Py_XDECREF(txs);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"walk_block", walk_block, METH_O, walk_block_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "whalewire.addresses._ingest",
    "The address learner's block walk in C (see whalewire.addresses.walk).", -1, methods,
};

PyMODINIT_FUNC
PyInit__ingest(void)
{
    return PyModule_Create(&module);
}
