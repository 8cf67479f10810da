/*
 * The WebSocket mask-key pool shared by whalewire's C extensions (net._io's write_frame,
 * venues._hotpath's order framers): RFC 6455 §5.3 wants an unpredictable key per client
 * frame, and a getrandom(2) per key costs a system call (~450 ns), so keys are 4-byte slices
 * of a 4,096-byte chunk from getrandom(2) (the kernel CSPRNG os.urandom reads): one system
 * call per 1,024 keys, as ws.mask's MaskKeyPool does in Python.
 *
 * Header only (static inline): each extension that includes it declares its own
 * `static ww_maskpool` and so keeps its own pool state; nothing is shared between .so files.
 * Callers hold the GIL, which serialises access to a pool. A forked child must never send
 * the keys its parent will also send: each extension registers, once at import, an atfork
 * child handler that empties its pool (ww_maskpool_at_fork), so the child draws fresh bytes.
 *
 * Include after <Python.h> (errors are raised as Python exceptions). Knows nothing of frames.
 */
#ifndef WHALEWIRE_MASKPOOL_H
#define WHALEWIRE_MASKPOOL_H

#ifndef Py_PYTHON_H
#error "include <Python.h> before maskpool.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>

#define WW_MASKPOOL_CHUNK 4096

/* A zeroed pool (a plain `static ww_maskpool pool;`) is empty: its first key draws a chunk,
 * and it lives in .bss rather than adding its 4 KiB to the shared object. */
typedef struct {
    unsigned char chunk[WW_MASKPOOL_CHUNK];
    size_t left; /* unused bytes at the end of chunk; 0: empty, refill on the next key */
} ww_maskpool;

/* Forget what is left, so the next key comes from a fresh getrandom(2) chunk. */
static inline void
ww_maskpool_drop(ww_maskpool *pool)
{
    pool->left = 0;
}

/* Copy the next 4-byte key into key; refill the chunk when it is used up. Return 0, or -1
 * with OSError set when getrandom(2) fails (EINTR is retried). */
static inline int
ww_maskpool_key(ww_maskpool *pool, unsigned char key[4])
{
    if (pool->left < 4) {
        size_t got = 0;
        while (got < WW_MASKPOOL_CHUNK) {
            ssize_t n = getrandom(pool->chunk + got, WW_MASKPOOL_CHUNK - got, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                PyErr_SetFromErrno(PyExc_OSError);
                return -1;
            }
            got += (size_t)n;
        }
        pool->left = WW_MASKPOOL_CHUNK;
    }
    memcpy(key, pool->chunk + (WW_MASKPOOL_CHUNK - pool->left), 4);
    pool->left -= 4;
    return 0;
}

/* Register drop_in_child (a function that calls ww_maskpool_drop on the extension's pool)
 * to run in every forked child. Return 0, or -1 with OSError set. Call once, at import. */
static inline int
ww_maskpool_at_fork(void (*drop_in_child)(void))
{
    int err = pthread_atfork(NULL, NULL, drop_in_child);
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

#endif /* WHALEWIRE_MASKPOOL_H */
