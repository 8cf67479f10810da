/*
 * Small CPython helpers the WebSocket C extensions share (ws._speedups, net._io): a payload
 * view narrowed from a read buffer without a slice object, the exception a callback raised
 * taken off the error indicator, and a frame's first byte from a Python int.
 *
 * Header only (static inline): each extension gets its own copy. Include after <Python.h>.
 */
#ifndef WHALEWIRE_PYVIEW_H
#define WHALEWIRE_PYVIEW_H

#ifndef Py_PYTHON_H
#error "include <Python.h> before pyview.h"
#endif

/* Return view[start:start + len] as a new memoryview on the same exporter. For a 1-D byte
 * view this is the work of memoryview slicing minus the slice object: register a view
 * with the same managed buffer, then narrow its window. */
static inline PyObject *
ww_byte_slice(PyObject *view, int simple, Py_ssize_t start, Py_ssize_t len)
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

/* Take the exception a callback raised off the error indicator: normalized, its traceback
 * attached (the caller hands it to Python or re-raises it). NULL when none is set. */
static inline PyObject *
ww_take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* A frame's first byte from an int 0..255 (ValueError otherwise). */
static inline int
ww_get_b0(PyObject *obj, unsigned char *b0)
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

#endif /* WHALEWIRE_PYVIEW_H */
