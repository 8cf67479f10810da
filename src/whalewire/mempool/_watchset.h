/*
 * The compact watch set (``_watchset.c``) as the scanner in ``_scan.c`` sees it: a type to
 * check for and one lookup that builds no Python object on a miss.
 */
#ifndef WHALEWIRE_WATCHSET_H
#define WHALEWIRE_WATCHSET_H
#include <Python.h>
#include <stdint.h>

extern PyTypeObject WatchSet_Type;

#define WatchSet_Check(op) PyObject_TypeCheck(op, &WatchSet_Type)

/* The value watched for ``script`` (borrowed; NULL when not watched; never raises). */
PyObject *watchset_lookup(PyObject *set, const unsigned char *script, Py_ssize_t len);

/* The 64-bit hash of a script (the one ``watchset.script_hash`` computes in Python). */
uint64_t watchset_hash(const unsigned char *p, Py_ssize_t n);

#endif
