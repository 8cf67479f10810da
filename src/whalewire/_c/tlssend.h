/*
 * The order call's way into whalewire.net._tls (a PyCapsule, "whalewire.net._tls._C_API"):
 * venues/_hotpath.c hands the frame it has just built to the same send a Session's
 * transport write is (encrypt + one write(2), the rest to the transport's backlog), from
 * its own stack buffer, in the same C call that filled, signed, framed and masked it.
 * Layering: venues uses net, never the other way (DESIGN.md).
 */
#ifndef WW_TLSSEND_H
#define WW_TLSSEND_H

#include <Python.h>

#define WW_TLS_CAPI_NAME "whalewire.net._tls._C_API"

typedef struct {
    /* Session's type: a target that is not one of these is not sent to */
    PyTypeObject *session_type;
    /* Session.send on a raw buffer: 0 when written or handed to the overflow, -1 on error */
    int (*send)(PyObject *session, const void *buf, Py_ssize_t len);
} ww_tls_capi;

#endif
