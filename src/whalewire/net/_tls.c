/*
 * whalewire.net._tls: TLS driven by OpenSSL straight on a connected socket's fd.
 *
 * asyncio's SSL layer moves every record through memory BIOs and Python calls; here
 * OpenSSL reads and writes the socket itself (SSL_set_fd), so an order's record is
 * encrypted and written inside the one C call the transport's write is (Session.send),
 * and a read decrypts straight into the protocol's buffer (Session.read_into). The
 * Python side (net.nativetls) owns the event loop's readiness callbacks, the write
 * backlog and the connection's life; this file owns only OpenSSL.
 *
 * Context mirrors net.tls's SSLContexts: TLS >= 1.2 (OpenSSL negotiates 1.3 when both
 * speak it), ALPN http/1.1, renegotiation off; a client verifies the chain against a CA
 * file (or the default trust store) and the host name (SSL_set1_host, or the IP address);
 * SPKI pins are checked by the caller on peer_certificate()'s DER, as net.tls does.
 * Partial writes and moving write buffers are on: a write that would block returns what
 * went out, and the caller retries with the rest (the same bytes, maybe elsewhere).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tlssend.h"

static PyObject *TLSError; /* set at module init: the error type raised on a failure */

/* Raise TLSError (or OSError for a socket error) from the OpenSSL error queue. */
static PyObject *
raise_ssl(SSL *ssl, int err, const char *where)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    if (err == SSL_ERROR_SYSCALL && e == 0) {
        ERR_clear_error();
        if (errno != 0) return PyErr_SetFromErrno(PyExc_OSError);
        PyErr_SetString(PyExc_ConnectionResetError, "the peer closed the TCP connection");
        return NULL;
    }
    if (ssl != NULL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(ssl);
        ERR_clear_error();
        PyErr_Format(TLSError, "certificate verify failed: %s", X509_verify_cert_error_string(v));
        return NULL;
    }
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "SSL error %d", err);
    ERR_clear_error();
    PyErr_Format(TLSError, "%s: %s", where, buf);
    return NULL;
}

/* ---- Context ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    SSL_CTX *ctx;
    int server;
} Context;

static const unsigned char ALPN[] = "\x08http/1.1";

/* Server: choose http/1.1 when the client offers it; a client offering ALPN without it is
 * answered without ALPN (as Python's ssl does when nothing matches). */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *o;
    if (SSL_select_next_proto(&o, outlen, ALPN, sizeof ALPN - 1, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = o;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static int
Context_init(PyObject *self_obj, PyObject *args, PyObject *kwds)
{
    Context *self = (Context *)self_obj;
    static char *kwlist[] = {"server", "cafile", "certfile", "keyfile", NULL};
    int server = 0;
    const char *cafile = NULL, *certfile = NULL, *keyfile = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p$zzz:Context", kwlist, &server, &cafile,
                                     &certfile, &keyfile))
        return -1;
    if (self->ctx != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Context is initialised once");
        return -1;
    }
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) return raise_ssl(NULL, SSL_ERROR_SSL, "SSL_CTX_new") ? 0 : -1;
    self->ctx = ctx;
    self->server = server;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* one read(2) takes whatever the kernel holds (not a record header, then its body) */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (server) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        if (certfile == NULL) {
            PyErr_SetString(PyExc_ValueError, "a server context needs certfile");
            return -1;
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, keyfile ? keyfile : certfile, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            raise_ssl(NULL, SSL_ERROR_SSL, "loading the certificate and key");
            return -1;
        }
    }
    else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = cafile != NULL ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
                                : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            raise_ssl(NULL, SSL_ERROR_SSL, "loading the trusted CAs");
            return -1;
        }
        if (SSL_CTX_set_alpn_protos(ctx, ALPN, sizeof ALPN - 1) != 0) {
            raise_ssl(NULL, SSL_ERROR_SSL, "ALPN");
            return -1;
        }
    }
    return 0;
}

static void
Context_dealloc(PyObject *self_obj)
{
    Context *self = (Context *)self_obj;
    if (self->ctx != NULL) SSL_CTX_free(self->ctx);
    Py_TYPE(self_obj)->tp_free(self_obj);
}

static PyTypeObject ContextType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "whalewire.net._tls.Context",
    .tp_basicsize = sizeof(Context),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = PyDoc_STR("Context(server=False, *, cafile=None, certfile=None, keyfile=None)\n--\n\n"
                        "An SSL_CTX: TLS >= 1.2, ALPN http/1.1; a client verifies against cafile\n"
                        "(default: the system's trust store), a server loads certfile/keyfile."),
    .tp_new = PyType_GenericNew,
    .tp_init = Context_init,
    .tp_dealloc = Context_dealloc,
};

/* ---- Session ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    SSL *ssl;
    PyObject *context;
    PyObject *overflow; /* overflow(rest): the transport's backlog, for what send() could not write */
    int blocked;        /* the transport has a backlog (or is closing): send() hands all to overflow */
} Session;

static int
Session_init(PyObject *self_obj, PyObject *args, PyObject *kwds)
{
    Session *self = (Session *)self_obj;
    static char *kwlist[] = {"context", "fd", "server_hostname", NULL};
    PyObject *context;
    int fd;
    const char *host = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!i|z:Session", kwlist, &ContextType, &context,
                                     &fd, &host))
        return -1;
    if (self->ssl != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Session is initialised once");
        return -1;
    }
    Context *ctx = (Context *)context;
    if (ctx->ctx == NULL) {
        PyErr_SetString(PyExc_ValueError, "the Context is not initialised");
        return -1;
    }
    SSL *ssl = SSL_new(ctx->ctx);
    if (ssl == NULL) return raise_ssl(NULL, SSL_ERROR_SSL, "SSL_new") ? 0 : -1;
    self->ssl = ssl;
    Py_INCREF(context);
    Py_XSETREF(self->context, context);
    if (SSL_set_fd(ssl, fd) != 1) {
        raise_ssl(NULL, SSL_ERROR_SSL, "SSL_set_fd");
        return -1;
    }
    if (ctx->server) {
        SSL_set_accept_state(ssl);
        return 0;
    }
    SSL_set_connect_state(ssl);
    if (host != NULL) {
        unsigned char addr[16];
        int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
        if (is_ip) {
            /* RFC 6066 §3: no SNI for an address; match the certificate's IP SAN instead */
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
                raise_ssl(NULL, SSL_ERROR_SSL, "verifying an IP address");
                return -1;
            }
        }
        else if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
            raise_ssl(NULL, SSL_ERROR_SSL, "server_hostname");
            return -1;
        }
    }
    return 0;
}

static int
Session_traverse(PyObject *self_obj, visitproc visit, void *arg)
{
    Session *self = (Session *)self_obj;
    Py_VISIT(self->context);
    Py_VISIT(self->overflow);
    return 0;
}

static int
Session_clear(PyObject *self_obj)
{
    Session *self = (Session *)self_obj;
    Py_CLEAR(self->context);
    Py_CLEAR(self->overflow);
    return 0;
}

static void
Session_dealloc(PyObject *self_obj)
{
    Session *self = (Session *)self_obj;
    PyObject_GC_UnTrack(self_obj);
    Session_clear(self_obj);
    if (self->ssl != NULL) SSL_free(self->ssl);
    Py_TYPE(self_obj)->tp_free(self_obj);
}

static int
ready(Session *self)
{
    if (self->ssl == NULL) {
        PyErr_SetString(PyExc_ValueError, "the Session is not initialised");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(handshake_doc,
"handshake()\n--\n\n"
"Advance the handshake: 0 when done, 1 to wait until readable, 2 until writable.\n"
"Raises TLSError (a verification failure names its reason) or OSError.");

static PyObject *
Session_handshake(PyObject *self_obj, PyObject *unused)
{
    Session *self = (Session *)self_obj;
    (void)unused;
    if (!ready(self)) return NULL;
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(self->ssl);
    if (r == 1) return PyLong_FromLong(0);
    int err = SSL_get_error(self->ssl, r);
    if (err == SSL_ERROR_WANT_READ) return PyLong_FromLong(1);
    if (err == SSL_ERROR_WANT_WRITE) return PyLong_FromLong(2);
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && (errno == 0 || r == 0)) {
        PyErr_SetString(PyExc_ConnectionResetError, "the peer closed during the TLS handshake");
        return NULL;
    }
    return raise_ssl(self->ssl, err, "handshake");
}

PyDoc_STRVAR(read_into_doc,
"read_into(buffer, /)\n--\n\n"
"Decrypt received records into the writable ``buffer``: the byte count (> 0), 0 when\n"
"nothing more is readable now, -1 after the peer's close_notify (or a TCP close), -2\n"
"when OpenSSL must write first (wait until writable). Key updates and session tickets\n"
"are consumed here. Raises TLSError on an alert or a bad record, OSError on the socket.");

static PyObject *
Session_read_into(PyObject *self_obj, PyObject *arg)
{
    Session *self = (Session *)self_obj;
    Py_buffer pb;
    size_t got = 0;
    if (!ready(self)) return NULL;
    if (PyObject_GetBuffer(arg, &pb, PyBUF_WRITABLE) < 0) return NULL;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read_ex(self->ssl, pb.buf, (size_t)pb.len, &got);
    PyBuffer_Release(&pb);
    if (r == 1) return PyLong_FromSize_t(got);
    int err = SSL_get_error(self->ssl, r);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        return PyLong_FromLong(0);
    case SSL_ERROR_WANT_WRITE:
        return PyLong_FromLong(-2);
    case SSL_ERROR_ZERO_RETURN:
        return PyLong_FromLong(-1);
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && errno == 0) return PyLong_FromLong(-1); /* EOF */
        /* fallthrough */
    default:
        return raise_ssl(self->ssl, err, "read");
    }
}

/* SSL_write what it takes now: the bytes written (0 when it would block). -1 on error. */
static Py_ssize_t
write_some(Session *self, const void *buf, size_t len)
{
    size_t done = 0;
    if (len == 0) return 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_write_ex(self->ssl, buf, len, &done);
    if (r == 1) return (Py_ssize_t)done;
    int err = SSL_get_error(self->ssl, r);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return 0;
    raise_ssl(self->ssl, err, "write");
    return -1;
}

PyDoc_STRVAR(write_doc,
"write(data, /)\n--\n\n"
"Encrypt and write ``data`` to the socket: the bytes taken (0 when the socket is full).\n"
"What is left must be the next write, unchanged (OpenSSL may hold part of its record).");

static PyObject *
Session_write(PyObject *self_obj, PyObject *arg)
{
    Session *self = (Session *)self_obj;
    Py_buffer pb;
    if (!ready(self)) return NULL;
    if (PyObject_GetBuffer(arg, &pb, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t n = write_some(self, pb.buf, (size_t)pb.len);
    PyBuffer_Release(&pb);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

PyDoc_STRVAR(send_doc,
"send(data, /)\n--\n\n"
"The transport's write in C: unless ``blocked``, encrypt and write ``data`` now; whatever\n"
"is not written (all of it when blocked) goes to ``overflow(rest)``, the transport's\n"
"backlog. An error is handed to ``overflow`` too, as the exception, for the transport\n"
"to report and close.");

/* Session.send on a raw buffer (also the order call's, through the capsule): 0 when the
 * bytes were written or handed to overflow (the rest, or the error), -1 with an exception. */
static int
send_raw(PyObject *self_obj, const void *buf, Py_ssize_t len)
{
    Session *self = (Session *)self_obj;
    PyObject *rest, *r;
    if (!ready(self)) return -1;
    if (self->overflow == NULL) {
        PyErr_SetString(PyExc_ValueError, "send() needs overflow set");
        return -1;
    }
    Py_ssize_t n = self->blocked ? 0 : write_some(self, buf, (size_t)len);
    if (n == len) return 0;
    if (n < 0) {
        PyObject *type, *exc, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        if (tb != NULL) PyException_SetTraceback(exc, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
        r = PyObject_CallOneArg(self->overflow, exc);
        Py_DECREF(exc);
        if (r == NULL) return -1;
        Py_DECREF(r);
        return 0;
    }
    self->blocked = 1;
    rest = PyBytes_FromStringAndSize((const char *)buf + n, len - n);
    if (rest == NULL) return -1;
    r = PyObject_CallOneArg(self->overflow, rest);
    Py_DECREF(rest);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *
Session_send(PyObject *self_obj, PyObject *arg)
{
    Session *self = (Session *)self_obj;
    Py_buffer pb;
    if (!ready(self)) return NULL;
    if (self->blocked && self->overflow != NULL)  /* the backlog takes the object as it is */
        return PyObject_CallOneArg(self->overflow, arg);
    if (PyObject_GetBuffer(arg, &pb, PyBUF_SIMPLE) < 0) return NULL;
    int r = send_raw(self_obj, pb.buf, pb.len);
    PyBuffer_Release(&pb);
    if (r < 0) return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(shutdown_doc,
"shutdown()\n--\n\n"
"Send close_notify (once; not waiting for the peer's): True when it was written.");

static PyObject *
Session_shutdown(PyObject *self_obj, PyObject *unused)
{
    Session *self = (Session *)self_obj;
    (void)unused;
    if (!ready(self)) return NULL;
    ERR_clear_error();
    int r = SSL_shutdown(self->ssl);
    ERR_clear_error();
    return PyBool_FromLong(r >= 0);
}

PyDoc_STRVAR(pending_doc, "pending()\n--\n\nDecrypted bytes buffered inside OpenSSL.");

static PyObject *
Session_pending(PyObject *self_obj, PyObject *unused)
{
    Session *self = (Session *)self_obj;
    (void)unused;
    if (!ready(self)) return NULL;
    return PyLong_FromLong(SSL_pending(self->ssl));
}

PyDoc_STRVAR(has_pending_doc,
"has_pending()\n--\n\n"
"Whether OpenSSL holds received bytes not yet returned (decrypted or raw, read ahead):\n"
"read_into again before waiting for the socket, which may have nothing more.");

static PyObject *
Session_has_pending(PyObject *self_obj, PyObject *unused)
{
    Session *self = (Session *)self_obj;
    (void)unused;
    if (!ready(self)) return NULL;
    return PyBool_FromLong(SSL_has_pending(self->ssl));
}

PyDoc_STRVAR(peer_certificate_doc,
"peer_certificate()\n--\n\nThe peer's certificate as DER bytes, or None (for SPKI pins).");

static PyObject *
Session_peer_certificate(PyObject *self_obj, PyObject *unused)
{
    Session *self = (Session *)self_obj;
    (void)unused;
    if (!ready(self)) return NULL;
    X509 *cert = SSL_get_peer_certificate(self->ssl);
    if (cert == NULL) Py_RETURN_NONE;
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    X509_free(cert);
    if (n < 0) return raise_ssl(NULL, SSL_ERROR_SSL, "i2d_X509");
    PyObject *r = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return r;
}

PyDoc_STRVAR(version_doc, "version()\n--\n\nThe negotiated protocol, e.g. 'TLSv1.3'.");

static PyObject *
Session_version(PyObject *self_obj, PyObject *unused)
{
    Session *self = (Session *)self_obj;
    (void)unused;
    if (!ready(self)) return NULL;
    return PyUnicode_FromString(SSL_get_version(self->ssl));
}

PyDoc_STRVAR(alpn_doc, "selected_alpn_protocol()\n--\n\nThe negotiated ALPN protocol or None.");

static PyObject *
Session_alpn(PyObject *self_obj, PyObject *unused)
{
    Session *self = (Session *)self_obj;
    const unsigned char *p = NULL;
    unsigned int n = 0;
    (void)unused;
    if (!ready(self)) return NULL;
    SSL_get0_alpn_selected(self->ssl, &p, &n);
    if (p == NULL || n == 0) Py_RETURN_NONE;
    return PyUnicode_FromStringAndSize((const char *)p, n);
}

PyDoc_STRVAR(key_update_doc,
"key_update(request_peer=False)\n--\n\n"
"TLS 1.3 (RFC 8446 §4.6.3): new traffic keys for what we send from now on, sent with\n"
"the next write; request_peer asks the peer to update its keys too.");

static PyObject *
Session_key_update(PyObject *self_obj, PyObject *args, PyObject *kwds)
{
    Session *self = (Session *)self_obj;
    static char *kwlist[] = {"request_peer", NULL};
    int request = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:key_update", kwlist, &request)) return NULL;
    if (!ready(self)) return NULL;
    ERR_clear_error();
    if (SSL_key_update(self->ssl, request ? SSL_KEY_UPDATE_REQUESTED
                                          : SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
        return raise_ssl(self->ssl, SSL_ERROR_SSL, "key_update");
    Py_RETURN_NONE;
}

static PyMethodDef Session_methods[] = {
    {"handshake", Session_handshake, METH_NOARGS, handshake_doc},
    {"read_into", Session_read_into, METH_O, read_into_doc},
    {"write", Session_write, METH_O, write_doc},
    {"send", Session_send, METH_O, send_doc},
    {"shutdown", Session_shutdown, METH_NOARGS, shutdown_doc},
    {"pending", Session_pending, METH_NOARGS, pending_doc},
    {"has_pending", Session_has_pending, METH_NOARGS, has_pending_doc},
    {"peer_certificate", Session_peer_certificate, METH_NOARGS, peer_certificate_doc},
    {"version", Session_version, METH_NOARGS, version_doc},
    {"selected_alpn_protocol", Session_alpn, METH_NOARGS, alpn_doc},
    {"key_update", (PyCFunction)(void (*)(void))Session_key_update, METH_VARARGS | METH_KEYWORDS,
     key_update_doc},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Session_members[] = {
    {"overflow", T_OBJECT, offsetof(Session, overflow), 0,
     "overflow(rest): takes what send() could not write (or the exception it met)"},
    {"blocked", T_INT, offsetof(Session, blocked), 0,
     "non-zero: send() hands everything to overflow (a backlog is queued, or closing)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "whalewire.net._tls.Session",
    .tp_basicsize = sizeof(Session),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR("Session(context, fd, server_hostname=None)\n--\n\n"
                        "One TLS connection on the connected non-blocking socket fd (not owned)."),
    .tp_new = PyType_GenericNew,
    .tp_init = Session_init,
    .tp_dealloc = Session_dealloc,
    .tp_traverse = Session_traverse,
    .tp_clear = Session_clear,
    .tp_methods = Session_methods,
    .tp_members = Session_members,
};

/* ---- module ------------------------------------------------------------------------------- */

static int
tls_exec(PyObject *module)
{
    if (PyType_Ready(&ContextType) < 0 || PyType_Ready(&SessionType) < 0) return -1;
    if (PyModule_AddObjectRef(module, "Context", (PyObject *)&ContextType) < 0) return -1;
    if (PyModule_AddObjectRef(module, "Session", (PyObject *)&SessionType) < 0) return -1;
    TLSError = PyErr_NewExceptionWithDoc("whalewire.net._tls.TLSError",
                                         "An OpenSSL failure: handshake, alert, bad record.",
                                         PyExc_OSError, NULL);
    if (TLSError == NULL) return -1;
    if (PyModule_AddObjectRef(module, "TLSError", TLSError) < 0) return -1;
    if (PyModule_AddStringConstant(module, "OPENSSL_VERSION", OpenSSL_version(OPENSSL_VERSION)) < 0)
        return -1;
    static ww_tls_capi capi;
    capi.session_type = &SessionType;
    capi.send = send_raw;
    PyObject *capsule = PyCapsule_New(&capi, WW_TLS_CAPI_NAME, NULL);
    if (capsule == NULL) return -1;
    int added = PyModule_AddObjectRef(module, "_C_API", capsule);
    Py_DECREF(capsule);
    if (added < 0) return -1;
    return 0;
}

static PyModuleDef_Slot tls_slots[] = {
    {Py_mod_exec, tls_exec},
    {0, NULL},
};

static struct PyModuleDef tls_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "whalewire.net._tls",
    .m_doc = "TLS by OpenSSL on a connected socket's fd: Context, Session, TLSError.",
    .m_size = 0,
    .m_slots = tls_slots,
};

PyMODINIT_FUNC
PyInit__tls(void)
{
    return PyModuleDef_Init(&tls_module);
}
