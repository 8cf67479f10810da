/*
 * Whale detection's byte walks in C: the per-transaction scan (outputs against the watch
 * set, outpoints against the remembered watched outputs) and, for a transaction that
 * matched, its txid and the watched entries its inputs reveal (HASH160 of a P2PKH/P2WPKH
 * public key or a P2SH redeem script, SHA256 of a P2WSH witness script).
 *
 * Optional: whalewire.mempool.tx.scan_tx and whalewire.mempool.whales hold the pure-Python
 * reference of the same computations, and the tests run both on the same vectors. Every
 * function here returns None when the bytes are not a transaction it fully understands; the
 * caller then runs the Python path, which names the fault (TxParseError) or, where it is
 * more lenient, gives its own answer. So this file never has to reproduce error messages,
 * only to refuse at least what Python refuses and to agree wherever it accepts.
 *
 * It knows the serialisation (Bitcoin Core primitives/transaction.h, BIP 144) and the shape
 * of the spends whales.py recognises; nothing of address strings, entities or alerts: the
 * dicts' values are passed back untouched. SHA-256 and RIPEMD-160 come from OpenSSL's
 * libcrypto (the library hashlib uses; its SHA-256 uses the CPU's SHA extensions).
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <Python.h>
#include <openssl/ripemd.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#include "txread.h"
#include "watchset.h"

/* Look ``len`` bytes up in ``dict``; a borrowed value, NULL when absent or on error. */
static inline PyObject *
lookup(PyObject *dict, const unsigned char *p, Py_ssize_t len)
{
    PyObject *key = PyBytes_FromStringAndSize((const char *)p, len);
    if (key == NULL)
        return NULL;
    PyObject *hit = PyDict_GetItemWithError(dict, key);
    Py_DECREF(key);
    return hit;
}

/* Append ``(i, value)`` (or ``(i, amount, value)`` when ``amount`` is not NULL, stolen) to
 * ``list``. The tuple is built directly: Py_BuildValue parses its format string on every call,
 * which cost more than the rest of a hit (callgrind). */
static int
append_hit(PyObject *list, Py_ssize_t i, PyObject *amount, PyObject *value)
{
    PyObject *index = PyLong_FromSsize_t(i);
    PyObject *t = PyTuple_New(amount == NULL ? 2 : 3);
    if (index == NULL || t == NULL) {
        Py_XDECREF(index);
        Py_XDECREF(t);
        Py_XDECREF(amount);
        return -1;
    }
    PyTuple_SET_ITEM(t, 0, index);
    Py_INCREF(value);
    if (amount == NULL) {
        PyTuple_SET_ITEM(t, 1, value);
    } else {
        PyTuple_SET_ITEM(t, 1, amount);
        PyTuple_SET_ITEM(t, 2, value);
    }
    int rc = PyList_Append(list, t);
    Py_DECREF(t);
    return rc;
}

static int
append_pair(PyObject *list, Py_ssize_t i, PyObject *value)
{
    return append_hit(list, i, NULL, value);
}

PyDoc_STRVAR(scan_tx_doc,
             "scan_tx(raw, watch, spent) -> (outputs, inputs) | None\n\n"
             "Match output scriptPubKeys against ``watch`` and input outpoints against ``spent``\n"
             "(both dicts); as whalewire.mempool.tx.scan_tx. None: let the Python path decide.");

static PyObject *
scan_tx(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyDict_Check(args[2]))
        Py_RETURN_NONE;
    PyObject *watch = args[1], *spent = args[2];
    /* the compact set is probed in place: no bytes object per output */
    int compact_set = WatchSet_Check(watch);
    if (!compact_set && !PyDict_Check(watch))
        Py_RETURN_NONE;
    reader r = {(const unsigned char *)PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), 4};
    if (r.n < 5)
        Py_RETURN_NONE;
    if (r.p[4] == 0)
        r.pos = 6; /* marker and flag; the Python scan does not check the flag either */
    int64_t n_in = compact(&r);
    if (n_in < 0)
        Py_RETURN_NONE;
    PyObject *ins = PyList_New(0);
    PyObject *found = PyList_New(0);
    if (ins == NULL || found == NULL)
        goto fail;
    int look_spent = PyDict_GET_SIZE(spent) > 0;
    for (int64_t i = 0; i < n_in; i++) {
        if (r.n - r.pos < 36)
            goto none;
        if (look_spent) {
            PyObject *hit = lookup(spent, r.p + r.pos, 36);
            if (hit != NULL) {
                if (append_pair(ins, (Py_ssize_t)i, hit) < 0)
                    goto fail;
            } else if (PyErr_Occurred())
                goto fail;
        }
        r.pos += 36;
        if (!skip(&r, compact(&r)) || !skip(&r, 4))
            goto none;
    }
    int64_t n_out = compact(&r);
    if (n_out < 0)
        goto none;
    for (int64_t i = 0; i < n_out; i++) {
        if (r.n - r.pos < 8)
            goto none;
        const unsigned char *value = r.p + r.pos;
        r.pos += 8;
        int64_t ln = compact(&r);
        if (ln < 0 || r.n - r.pos < ln)
            goto none;
        PyObject *hit = compact_set ? watchset_lookup(watch, r.p + r.pos, (Py_ssize_t)ln)
                                    : lookup(watch, r.p + r.pos, (Py_ssize_t)ln);
        if (hit != NULL) {
            PyObject *amount = PyLong_FromUnsignedLongLong((unsigned long long)le(value, 8));
            if (amount == NULL || append_hit(found, (Py_ssize_t)i, amount, hit) < 0)
                goto fail;
        } else if (PyErr_Occurred())
            goto fail;
        r.pos += (Py_ssize_t)ln;
    }
    PyObject *pair = PyTuple_New(2);
    if (pair == NULL)
        goto fail;
    PyTuple_SET_ITEM(pair, 0, found);
    PyTuple_SET_ITEM(pair, 1, ins);
    return pair;
none:
    Py_DECREF(ins);
    Py_DECREF(found);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(ins);
    Py_XDECREF(found);
    return NULL;
}

/* OpenSSL 3's one-shot SHA256()/RIPEMD160() fetch the algorithm from a provider on every
 * call (~0.2 us each, measured); the context functions run the implementation directly. */
static void
sha256(const unsigned char *p, size_t n, unsigned char out[32])
{
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, p, n);
    SHA256_Final(out, &ctx);
}

static void
hash160(const unsigned char *p, size_t n, unsigned char out[20])
{
    unsigned char h[32];
    RIPEMD160_CTX ctx;
    sha256(p, n, h);
    RIPEMD160_Init(&ctx);
    RIPEMD160_Update(&ctx, h, 32);
    RIPEMD160_Final(out, &ctx);
}

/* The data of the last push of a push-only script (whales.last_push): 1 and its span, 0 when
 * the script is not push-only or a push is truncated. OP_0, OP_1NEGATE and OP_1..OP_16 push
 * an empty span here, as they do there. */
static int
last_push(const unsigned char *s, Py_ssize_t n, const unsigned char **out, Py_ssize_t *out_len)
{
    Py_ssize_t pos = 0;
    int any = 0;
    while (pos < n) {
        unsigned op = s[pos++];
        uint64_t size;
        if (op <= 0x4B) {
            size = op;
        } else if (op == 0x4C || op == 0x4D || op == 0x4E) {
            int width = op == 0x4C ? 1 : op == 0x4D ? 2 : 4;
            if (n - pos < width)
                return 0;
            size = le(s + pos, width);
            pos += width;
        } else if (op == 0x4F || (op >= 0x51 && op <= 0x60)) {
            *out = s + pos;
            *out_len = 0;
            any = 1;
            continue;
        } else {
            return 0;
        }
        if ((uint64_t)(n - pos) < size)
            return 0;
        *out = s + pos;
        *out_len = (Py_ssize_t)size;
        any = 1;
        pos += (Py_ssize_t)size;
    }
    return any;
}

/* The watched entry one input reveals (whales.WhaleDetector._input_owner); borrowed, NULL when
 * none (check PyErr_Occurred). ``items``/``lens`` hold its witness stack, ``n_items`` long. */
static PyObject *
input_owner(PyObject *by_pkh, PyObject *by_sh, PyObject *by_wsh, const unsigned char *script_sig,
            Py_ssize_t script_len, const unsigned char *last, Py_ssize_t last_len,
            int64_t n_items)
{
    unsigned char h[32];
    PyObject *hit;
    if (n_items > 0) {
        if (PyDict_GET_SIZE(by_pkh) && n_items == 2 && (last_len == 33 || last_len == 65)) {
            hash160(last, (size_t)last_len, h);
            if ((hit = lookup(by_pkh, h, 20)) != NULL || PyErr_Occurred())
                return hit;
        }
        if (PyDict_GET_SIZE(by_wsh) && n_items >= 2) {
            sha256(last, (size_t)last_len, h);
            if ((hit = lookup(by_wsh, h, 32)) != NULL || PyErr_Occurred())
                return hit;
        }
        if (script_len == 0 || PyDict_GET_SIZE(by_sh) == 0)
            return NULL;
    }
    const unsigned char *pushed;
    Py_ssize_t pushed_len;
    if (script_len == 0 || !last_push(script_sig, script_len, &pushed, &pushed_len) ||
        pushed_len == 0)
        return NULL;
    hash160(pushed, (size_t)pushed_len, h);
    if ((hit = lookup(by_pkh, h, 20)) != NULL || PyErr_Occurred())
        return hit;
    return lookup(by_sh, h, 20);
}

#define MAX_INPUTS_ON_STACK 64

/* Walk one whole transaction (r->pos at 0). When ``owners`` is not NULL, append ``(input
 * index, entry)`` to it for each input whose revealed key or script is a key of the dicts;
 * when ``txid`` is not NULL, write the txid there (internal byte order). Return 1 when done,
 * 0 when the bytes are not a transaction this walk fully understands (the caller returns
 * None), -1 with an exception set. */
static int
walk_tx(reader *r, PyObject *by_pkh, PyObject *by_sh, PyObject *by_wsh, PyObject *owners,
        unsigned char txid[32])
{
    if (r->n < 10)
        return 0;
    int segwit = r->p[4] == 0;
    if (segwit && r->p[5] != 1)
        return 0;
    r->pos = segwit ? 6 : 4;
    Py_ssize_t body = r->pos; /* the txid's preimage: version, then from here to the witness */
    int64_t n_in = compact(r);
    if (n_in < 0 || (n_in == 0 && !segwit) || n_in > (r->n - r->pos) / 41)
        return 0;
    /* each input's scriptSig span, for the witness pass */
    Py_ssize_t sig_at_stack[MAX_INPUTS_ON_STACK], sig_len_stack[MAX_INPUTS_ON_STACK];
    Py_ssize_t *sig_at = sig_at_stack, *sig_len = sig_len_stack;
    int rc = 0;
    if (n_in > MAX_INPUTS_ON_STACK) {
        sig_at = PyMem_Malloc(sizeof(Py_ssize_t) * 2 * (size_t)n_in);
        if (sig_at == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        sig_len = sig_at + n_in;
    }
    for (int64_t i = 0; i < n_in; i++) {
        if (!skip(r, 36))
            goto done;
        int64_t ln = compact(r);
        sig_at[i] = r->pos;
        sig_len[i] = (Py_ssize_t)ln;
        if (!skip(r, ln) || !skip(r, 4))
            goto done;
    }
    int64_t n_out = compact(r);
    if (n_out < 0 || n_out > (r->n - r->pos) / 9)
        goto done;
    for (int64_t i = 0; i < n_out; i++) {
        if (!skip(r, 8) || !skip(r, compact(r)))
            goto done;
    }
    Py_ssize_t witness_start = r->pos;
    int any_witness = 0;
    for (int64_t i = 0; i < n_in; i++) {
        const unsigned char *last = NULL;
        Py_ssize_t last_len = 0;
        int64_t n_items = 0;
        if (segwit) {
            n_items = compact(r);
            if (n_items < 0)
                goto done;
            for (int64_t j = 0; j < n_items; j++) {
                int64_t ln = compact(r);
                last = r->p + r->pos;
                last_len = (Py_ssize_t)ln;
                if (!skip(r, ln))
                    goto done;
            }
            any_witness |= n_items > 0;
        }
        if (owners == NULL)
            continue;
        PyObject *hit = input_owner(by_pkh, by_sh, by_wsh, r->p + sig_at[i], sig_len[i], last,
                                    last_len, n_items);
        if (hit != NULL) {
            if (append_pair(owners, (Py_ssize_t)i, hit) < 0) {
                rc = -1;
                goto done;
            }
        } else if (PyErr_Occurred()) {
            rc = -1;
            goto done;
        }
    }
    if ((segwit && !any_witness) || r->n - r->pos != 4)
        goto done;
    if (txid != NULL) {
        SHA256_CTX ctx;
        SHA256_Init(&ctx);
        if (segwit) {
            SHA256_Update(&ctx, r->p, 4);
            SHA256_Update(&ctx, r->p + body, (size_t)(witness_start - body));
            SHA256_Update(&ctx, r->p + r->pos, 4);
        } else {
            SHA256_Update(&ctx, r->p, (size_t)r->n);
        }
        SHA256_Final(txid, &ctx);
        sha256(txid, 32, txid);
    }
    rc = 1;
done:
    if (sig_at != sig_at_stack)
        PyMem_Free(sig_at);
    return rc;
}

/* The display-order hex of a txid (its bytes reversed), as a new str. */
static PyObject *
txid_hex(const unsigned char h[32])
{
    static const char digits[] = "0123456789abcdef";
    PyObject *s = PyUnicode_New(64, 127);
    if (s == NULL)
        return NULL;
    Py_UCS1 *hex = PyUnicode_1BYTE_DATA(s);
    for (int k = 0; k < 32; k++) {
        hex[2 * k] = (Py_UCS1)digits[h[31 - k] >> 4];
        hex[2 * k + 1] = (Py_UCS1)digits[h[31 - k] & 15];
    }
    return s;
}

/* The walk behind inspect and reveal (args: raw, by_pkh, by_sh, by_wsh): a new list of
 * ``(input index, entry)``, a new reference to None when the bytes are not understood, NULL
 * with an exception set. ``txid`` as in walk_tx. */
static PyObject *
owners_of(PyObject *const *args, Py_ssize_t nargs, unsigned char txid[32])
{
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyDict_Check(args[1]) ||
        !PyDict_Check(args[2]) || !PyDict_Check(args[3]))
        Py_RETURN_NONE;
    reader r = {(const unsigned char *)PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), 0};
    PyObject *owners = PyList_New(0);
    if (owners == NULL)
        return NULL;
    int rc = walk_tx(&r, args[1], args[2], args[3], owners, txid);
    if (rc > 0)
        return owners;
    Py_DECREF(owners);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(inspect_doc,
             "inspect(raw, by_pkh, by_sh, by_wsh) -> (txid, txid_hex, inputs) | None\n\n"
             "Walk one whole transaction: return its txid (internal byte order), the same\n"
             "as display-order hex, and\n"
             "``(input index, entry)`` for each input whose revealed key or script hashes to\n"
             "a key of the dicts. None: let the Python path (parse_tx) decide.");

static PyObject *
inspect(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    unsigned char h[32];
    PyObject *owners = owners_of(args, nargs, h);
    if (owners == NULL || owners == Py_None)
        return owners;
    PyObject *hex = txid_hex(h);
    PyObject *txid = PyBytes_FromStringAndSize((const char *)h, 32);
    PyObject *t = PyTuple_New(3);
    if (hex == NULL || txid == NULL || t == NULL) {
        Py_XDECREF(hex);
        Py_XDECREF(txid);
        Py_XDECREF(t);
        Py_DECREF(owners);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, txid);
    PyTuple_SET_ITEM(t, 1, hex);
    PyTuple_SET_ITEM(t, 2, owners);
    return t;
}

PyDoc_STRVAR(reveal_doc,
             "reveal(raw, by_pkh, by_sh, by_wsh) -> inputs | None\n\n"
             "inspect() without the txid: the same walk and ``(input index, entry)`` list, for\n"
             "a caller that already holds the txid it computed from the same bytes.");

static PyObject *
reveal(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return owners_of(args, nargs, NULL);
}

PyDoc_STRVAR(txid_doc,
             "txid(raw) -> str | None\n\n"
             "Return the display-order hex txid of exactly one transaction (the walk of\n"
             "inspect(), no dicts, no lists). None: let the Python path (tx.txid_of) decide.");

static PyObject *
txid(PyObject *self, PyObject *arg)
{
    if (!PyBytes_Check(arg))
        Py_RETURN_NONE;
    reader r = {(const unsigned char *)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), 0};
    unsigned char h[32];
    int rc = walk_tx(&r, NULL, NULL, NULL, NULL, h);
    if (rc > 0)
        return txid_hex(h);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(hash160_doc, "hash160(data) -> bytes\n\nReturn RIPEMD160(SHA256(data)).");

static PyObject *
py_hash160(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned char h[20];
    hash160(view.buf, (size_t)view.len, h);
    PyBuffer_Release(&view);
    return PyBytes_FromStringAndSize((const char *)h, 20);
}

PyDoc_STRVAR(script_hash_doc,
             "script_hash(script) -> int\n\nReturn the watch set's 64-bit hash of a script.");

static PyObject *
script_hash(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    uint64_t h = watchset_hash(view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong((unsigned long long)h);
}

static PyMethodDef methods[] = {
    {"script_hash", script_hash, METH_O, script_hash_doc},
    {"scan_tx", (PyCFunction)(void (*)(void))scan_tx, METH_FASTCALL, scan_tx_doc},
    {"inspect", (PyCFunction)(void (*)(void))inspect, METH_FASTCALL, inspect_doc},
    {"reveal", (PyCFunction)(void (*)(void))reveal, METH_FASTCALL, reveal_doc},
    {"txid", txid, METH_O, txid_doc},
    {"hash160", py_hash160, METH_O, hash160_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "whalewire.mempool._scan",
    "Whale detection's byte walks in C (see whalewire.mempool.whales).", -1, methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    if (PyType_Ready(&WatchSet_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "WatchSet", (PyObject *)&WatchSet_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
