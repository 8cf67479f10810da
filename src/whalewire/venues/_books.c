/* The level loop of a local book side (venues/books.py `_Side.set_many`), in C.
 *
 * Decoding a depth message and checking its ids cost little next to applying its levels:
 * the Python loop (a dict lookup, a bisect and a list insert or delete per level) was 68% of
 * decode + sync + book time (bench/market_data.py). This is the same loop, rule for rule:
 *
 *   qty > 0 and price > 0 (NaN compares false): set the level, inserting its key
 *       (price * sign) at bisect_left in the ascending key list when the price is new;
 *   otherwise: remove the level if present, and its key.
 *
 * The dict is keyed by the price object the caller gave (as the Python path keys it), the
 * key list holds floats. Knows nothing but the two containers and the sign.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* bisect_left over a list of floats: the first index whose key is not below `key` */
static int lower_bound(PyObject *keys, double key, Py_ssize_t *at) {
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(keys);
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        double k = PyFloat_AsDouble(PyList_GET_ITEM(keys, mid));
        if (k == -1.0 && PyErr_Occurred()) return -1;
        if (k < key) lo = mid + 1;
        else hi = mid;
    }
    *at = lo;
    return 0;
}

static int apply_level(PyObject *quantities, PyObject *keys, double sign, PyObject *level) {
    PyObject *pair = PySequence_Fast(level, "a level must be a (price, qty) pair");
    if (pair == NULL) return -1;
    int rc = -1;
    if (PySequence_Fast_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_ValueError, "a level must be a (price, qty) pair");
        goto done;
    }
    PyObject *price_obj = PySequence_Fast_GET_ITEM(pair, 0);
    PyObject *qty_obj = PySequence_Fast_GET_ITEM(pair, 1);
    double price = PyFloat_AsDouble(price_obj);
    if (price == -1.0 && PyErr_Occurred()) goto done;
    double qty = PyFloat_AsDouble(qty_obj);
    if (qty == -1.0 && PyErr_Occurred()) goto done;
    Py_ssize_t at;
    if (qty > 0 && price > 0) {
        int present = PyDict_Contains(quantities, price_obj);
        if (present < 0) goto done;
        if (!present) {
            double key = price * sign;
            if (lower_bound(keys, key, &at) < 0) goto done;
            PyObject *key_obj = PyFloat_FromDouble(key);
            if (key_obj == NULL) goto done;
            int err = PyList_Insert(keys, at, key_obj);
            Py_DECREF(key_obj);
            if (err < 0) goto done;
        }
        if (PyDict_SetItem(quantities, price_obj, qty_obj) < 0) goto done;
    } else {
        PyObject *old = PyDict_GetItemWithError(quantities, price_obj); /* borrowed */
        if (old == NULL) {
            if (PyErr_Occurred()) goto done;
            rc = 0; /* removing an absent level changes nothing */
            goto done;
        }
        if (PyDict_DelItem(quantities, price_obj) < 0) goto done;
        if (lower_bound(keys, price * sign, &at) < 0) goto done;
        if (at < PyList_GET_SIZE(keys) && PyList_SetSlice(keys, at, at + 1, NULL) < 0) goto done;
    }
    rc = 0;
done:
    Py_DECREF(pair);
    return rc;
}

static PyObject *set_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "set_many(quantities, keys, sign, levels)");
        return NULL;
    }
    PyObject *quantities = args[0], *keys = args[1];
    if (!PyDict_CheckExact(quantities) || !PyList_CheckExact(keys)) {
        PyErr_SetString(PyExc_TypeError, "set_many wants a dict and a list");
        return NULL;
    }
    double sign = PyFloat_AsDouble(args[2]);
    if (sign == -1.0 && PyErr_Occurred()) return NULL;
    PyObject *levels = args[3];
    if (PyList_CheckExact(levels)) {
        /* the decoders hand lists: no iterator object per message side. The size is read
         * and the item held on every step, so a list changed under us is never overrun. */
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(levels); i++) {
            PyObject *level = PyList_GET_ITEM(levels, i);
            Py_INCREF(level);
            int err = apply_level(quantities, keys, sign, level);
            Py_DECREF(level);
            if (err < 0) return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *it = PyObject_GetIter(levels);
    if (it == NULL) return NULL;
    PyObject *level;
    while ((level = PyIter_Next(it)) != NULL) {
        int err = apply_level(quantities, keys, sign, level);
        Py_DECREF(level);
        if (err < 0) {
            Py_DECREF(it);
            return NULL;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"set_many", (PyCFunction)(void (*)(void))set_many, METH_FASTCALL,
     "set_many(quantities, keys, sign, levels): apply (price, qty) levels to one book side."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "whalewire.venues._books",
    "The level loop of a local book side (venues/books.py), in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__books(void) { return PyModule_Create(&moduledef); }
