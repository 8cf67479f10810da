/* whalewire.net._uring: a minimal io_uring ring for socket sends, over the raw system calls.
 *
 * It knows the io_uring ABI (linux/io_uring.h: setup, enter, register, mmap of the rings)
 * and Python buffers; it knows nothing of WebSockets, sockets' meaning or asyncio. No
 * liburing: the three system calls and the ring layout are all it needs.
 *
 * Ownership rule: every send keeps its Py_buffer (and so the object) until the kernel posts
 * that send's completion and reap() sees it; close() cancels what is in flight and waits for
 * those completions before the memory can go. With a registered arena (register_arena), a
 * frame that fits its slot is copied into the arena slot of its ring slot, which is not
 * reused before that completion (for SEND_ZC: before its notification) is reaped.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/io_uring.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

#define SLOT_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define INTERNAL_UD UINT64_MAX /* completions of our own cancel requests */
#define DEFAULT_MSG_FLAGS (MSG_NOSIGNAL | MSG_WAITALL)

typedef struct {
    Py_buffer view;
    int used;
    int in_arena; /* the bytes sit in the registered arena: no Py_buffer held */
} Slot;

typedef struct {
    PyObject_HEAD
    int fd;
    int sqpoll;
    unsigned features;
    void *sq_ring;
    size_t sq_ring_len;
    void *cq_ring;
    size_t cq_ring_len;
    struct io_uring_sqe *sqes;
    size_t sqes_len;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_flags;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    unsigned sq_entries, cq_entries;
    unsigned local_tail; /* SQEs written by us, published to *sq_tail on submit */
    Slot *slots;
    unsigned nslots;
    unsigned free_hint;
    unsigned in_flight;
    uint64_t seq;
    int fixed_fd;      /* the socket registered as fixed file 0, or -1 */
    char *arena;       /* registered buffer 0: nslots slots of slot_size bytes, or NULL */
    size_t arena_len;
    unsigned slot_size;
    int zc;            /* IORING_OP_SEND_ZC: a slot is free only after its notification */
    unsigned limit;    /* sends in flight at most (CQEs per send x limit <= cq_entries) */
} Ring;

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
}

static void unmap(Ring *r)
{
    if (r->sqes)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_ring && r->cq_ring != r->sq_ring)
        munmap(r->cq_ring, r->cq_ring_len);
    if (r->sq_ring)
        munmap(r->sq_ring, r->sq_ring_len);
    if (r->arena)
        munmap(r->arena, r->arena_len);
    r->arena = NULL;
    r->sqes = NULL;
    r->cq_ring = r->sq_ring = NULL;
}

static int Ring_init(Ring *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"entries", "sqpoll", "sqpoll_idle_ms", "sqpoll_cpu", NULL};
    unsigned entries = 64;
    int sqpoll = 0, idle_ms = 1000, cpu = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Ipii", kwlist, &entries, &sqpoll, &idle_ms, &cpu))
        return -1;
    if (r->fd >= 0) {
        PyErr_SetString(PyExc_RuntimeError, "Ring already initialised");
        return -1;
    }
    if (entries < 1 || entries > 4096) {
        PyErr_SetString(PyExc_ValueError, "entries must be in 1..4096");
        return -1;
    }
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    if (sqpoll) {
        p.flags |= IORING_SETUP_SQPOLL;
        p.sq_thread_idle = (unsigned)(idle_ms < 0 ? 0 : idle_ms);
        if (cpu >= 0) {
            p.flags |= IORING_SETUP_SQ_AFF;
            p.sq_thread_cpu = (unsigned)cpu;
        }
    }
    int fd = sys_setup(entries, &p);
    if (fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    r->fd = fd;
    r->sqpoll = sqpoll;
    r->features = p.features;
    r->sq_ring_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_ring_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single && r->cq_ring_len > r->sq_ring_len)
        r->sq_ring_len = r->cq_ring_len;
    void *sq = mmap(NULL, r->sq_ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                    IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED)
        goto fail;
    r->sq_ring = sq;
    if (single) {
        r->cq_ring = sq;
    } else {
        void *cq = mmap(NULL, r->cq_ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                        fd, IORING_OFF_CQ_RING);
        if (cq == MAP_FAILED)
            goto fail;
        r->cq_ring = cq;
    }
    r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    void *sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                      IORING_OFF_SQES);
    if (sqes == MAP_FAILED)
        goto fail;
    r->sqes = sqes;
    char *s = sq, *c = r->cq_ring;
    r->sq_head = (unsigned *)(s + p.sq_off.head);
    r->sq_tail = (unsigned *)(s + p.sq_off.tail);
    r->sq_mask = (unsigned *)(s + p.sq_off.ring_mask);
    r->sq_flags = (unsigned *)(s + p.sq_off.flags);
    unsigned *array = (unsigned *)(s + p.sq_off.array);
    r->cq_head = (unsigned *)(c + p.cq_off.head);
    r->cq_tail = (unsigned *)(c + p.cq_off.tail);
    r->cq_mask = (unsigned *)(c + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(c + p.cq_off.cqes);
    r->sq_entries = p.sq_entries;
    r->cq_entries = p.cq_entries;
    /* SQE index i always sits in array slot i, so the array is written once here */
    for (unsigned i = 0; i < p.sq_entries; i++)
        array[i] = i;
    r->local_tail = *r->sq_tail;
    /* at most cq_entries requests in flight: the completion ring can never overflow */
    r->nslots = p.cq_entries;
    r->limit = r->nslots;
    r->slots = PyMem_Calloc(r->nslots, sizeof(Slot));
    if (!r->slots) {
        PyErr_NoMemory();
        unmap(r);
        close(fd);
        r->fd = -1;
        return -1;
    }
    return 0;
fail:
    PyErr_SetFromErrno(PyExc_OSError);
    unmap(r);
    close(fd);
    r->fd = -1;
    return -1;
}

static int check_open(Ring *r)
{
    if (r->fd < 0) {
        PyErr_SetString(PyExc_ValueError, "ring is closed");
        return -1;
    }
    return 0;
}

static int submit(Ring *r, unsigned wait_nr, int *submitted);

/* The next free SQE; when the submission ring is full, hand it to the kernel first (plain)
   or wait for the SQPOLL thread to take some (IORING_ENTER_SQ_WAIT). NULL with an exception. */
static struct io_uring_sqe *next_sqe(Ring *r)
{
    unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    while (r->local_tail - head >= r->sq_entries) {
        if (submit(r, 0, NULL) < 0)
            return NULL;
        if (r->sqpoll) {
            __atomic_store_n(r->sq_tail, r->local_tail, __ATOMIC_RELEASE);
            if (sys_enter(r->fd, 0, 0, IORING_ENTER_SQ_WAIT | IORING_ENTER_SQ_WAKEUP) < 0 &&
                errno != EINTR) {
                PyErr_SetFromErrno(PyExc_OSError);
                return NULL;
            }
        }
        unsigned now = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        if (now == head && !r->sqpoll) {
            PyErr_SetString(PyExc_BlockingIOError, "io_uring submission ring full");
            return NULL;
        }
        head = now;
    }
    struct io_uring_sqe *sqe = &r->sqes[r->local_tail & *r->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    return sqe;
}

static long take_slot(Ring *r)
{
    if (r->in_flight >= r->limit)
        return -1;
    for (unsigned n = 0; n < r->nslots; n++) {
        unsigned i = (r->free_hint + n) % r->nslots;
        if (!r->slots[i].used) {
            r->free_hint = (i + 1) % r->nslots;
            return (long)i;
        }
    }
    return -1;
}

/* Write one SEND SQE holding `obj`'s buffer; returns its user_data, or -1 with an exception. */
static long long queue_send(Ring *r, int fd, PyObject *obj, int msg_flags, int link, int drain)
{
    long slot = take_slot(r);
    if (slot < 0) {
        PyErr_SetString(PyExc_BlockingIOError,
                        "io_uring ring full: reap completions before sending more");
        return -1;
    }
    struct io_uring_sqe *sqe = next_sqe(r);
    if (!sqe)
        return -1;
    Slot *s = &r->slots[slot];
    if (PyObject_GetBuffer(obj, &s->view, PyBUF_SIMPLE) < 0)
        return -1;
    if (s->view.len > UINT32_MAX) {
        PyBuffer_Release(&s->view);
        PyErr_SetString(PyExc_ValueError, "buffer larger than 4 GiB");
        return -1;
    }
    if (drain) {
        /* ordered: only when an earlier send has not completed yet (its CQE is not posted)
           must this one wait for it; IOSQE_IO_DRAIN takes the kernel's slow path. With
           SEND_ZC a send posts two CQEs, so the count cannot tell: drain while any is out. */
        unsigned posted = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) - *r->cq_head;
        drain = r->zc ? r->in_flight > 0 : r->in_flight > posted;
        if (drain && r->zc) {
            /* measured here: a drained SEND_ZC can wait for a notification that never
               unblocks it, so an ordered zero-copy send refuses rather than hangs */
            PyBuffer_Release(&s->view);
            PyErr_SetString(PyExc_BlockingIOError,
                            "SEND_ZC: reap the earlier sends before an ordered one");
            return -1;
        }
    }
    void *addr = s->view.buf;
    unsigned len = (unsigned)s->view.len;
    s->in_arena = r->arena != NULL && len <= r->slot_size;
    if (s->in_arena) {
        /* the caller may reuse its buffer at once: the arena slot is ours until reaped */
        addr = r->arena + (size_t)slot * r->slot_size;
        memcpy(addr, s->view.buf, len);
        PyBuffer_Release(&s->view);
    }
    s->used = 1;
    r->in_flight++;
    uint64_t ud = ((++r->seq) << SLOT_BITS) | (uint64_t)slot;
    sqe->opcode = r->zc ? IORING_OP_SEND_ZC : IORING_OP_SEND;
    int fixed = fd == r->fixed_fd && fd >= 0;
    sqe->fd = fixed ? 0 : fd;
    sqe->addr = (uint64_t)(uintptr_t)addr;
    sqe->len = len;
    sqe->msg_flags = (unsigned)msg_flags;
    if (s->in_arena) {
        sqe->ioprio = IORING_RECVSEND_FIXED_BUF;
        sqe->buf_index = 0;
    }
    sqe->flags = (uint8_t)((link ? IOSQE_IO_LINK : 0) | (drain ? IOSQE_IO_DRAIN : 0) |
                           (fixed ? IOSQE_FIXED_FILE : 0));
    sqe->user_data = ud;
    r->local_tail++;
    return (long long)ud;
}

/* Publish written SQEs and tell the kernel if it must hear of them; -1 with an exception. */
static int submit(Ring *r, unsigned wait_nr, int *submitted)
{
    unsigned tail = r->local_tail;
    __atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
    unsigned flags = wait_nr ? IORING_ENTER_GETEVENTS : 0;
    unsigned to_submit = 0;
    if (r->sqpoll) {
        /* the tail store must be visible before we read the poller's sleep flag */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(r->sq_flags, __ATOMIC_RELAXED) & IORING_SQ_NEED_WAKEUP)
            flags |= IORING_ENTER_SQ_WAKEUP;
        if (!flags)
            return 0;
    } else {
        to_submit = tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        if (!to_submit && !flags)
            return 0;
    }
    int ret;
    for (;;) {
        if (wait_nr) {
            Py_BEGIN_ALLOW_THREADS
            ret = sys_enter(r->fd, to_submit, wait_nr, flags);
            Py_END_ALLOW_THREADS
        } else {
            ret = sys_enter(r->fd, to_submit, 0, flags);
        }
        if (ret >= 0 || errno != EINTR)
            break;
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
    if (ret < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    if (submitted)
        *submitted = ret;
    return 0;
}

static void release_slot(Ring *r, uint64_t ud)
{
    if (ud == INTERNAL_UD)
        return;
    unsigned i = (unsigned)(ud & SLOT_MASK);
    if (i < r->nslots && r->slots[i].used) {
        r->slots[i].used = 0;
        if (!r->slots[i].in_arena)
            PyBuffer_Release(&r->slots[i].view);
        r->in_flight--;
    }
}

static int as_int(PyObject *o)
{
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < INT32_MIN || v > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "value out of int range");
        return -1;
    }
    return (int)v;
}

static int parse_flags(PyObject *flags_obj, int *out)
{
    if (flags_obj == NULL || flags_obj == Py_None) {
        *out = DEFAULT_MSG_FLAGS;
        return 0;
    }
    long v = PyLong_AsLong(flags_obj);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = (int)v;
    return 0;
}

static PyObject *Ring_send(Ring *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "send(fd, buffer, flags=None, ordered=False)");
        return NULL;
    }
    if (check_open(r) < 0)
        return NULL;
    int fd = as_int(args[0]);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    int flags;
    if (parse_flags(nargs >= 3 ? args[2] : NULL, &flags) < 0)
        return NULL;
    int drain = 0;
    if (nargs == 4 && (drain = PyObject_IsTrue(args[3])) < 0)
        return NULL;
    long long ud = queue_send(r, fd, args[1], flags, 0, drain);
    if (ud < 0)
        return NULL;
    if (submit(r, 0, NULL) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong((unsigned long long)ud);
}

static PyObject *Ring_queue(Ring *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fd", "buffer", "flags", "link", "ordered", NULL};
    int fd, link = 0, drain = 0;
    PyObject *buf, *flags_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iO|Opp", kwlist, &fd, &buf, &flags_obj, &link,
                                     &drain))
        return NULL;
    if (check_open(r) < 0)
        return NULL;
    int flags;
    if (parse_flags(flags_obj, &flags) < 0)
        return NULL;
    long long ud = queue_send(r, fd, buf, flags, link, drain);
    if (ud < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong((unsigned long long)ud);
}

static PyObject *Ring_submit(Ring *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"wait_nr", NULL};
    unsigned wait_nr = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|I", kwlist, &wait_nr))
        return NULL;
    if (check_open(r) < 0)
        return NULL;
    if (wait_nr > r->in_flight)
        wait_nr = r->in_flight;
    int n = 0;
    if (submit(r, wait_nr, &n) < 0)
        return NULL;
    return PyLong_FromLong(n);
}

static PyObject *Ring_submit_batch(Ring *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fd", "buffers", "flags", "link", "ordered", NULL};
    int fd, link = 1, drain = 0;
    PyObject *seq, *flags_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iO|Opp", kwlist, &fd, &seq, &flags_obj, &link,
                                     &drain))
        return NULL;
    if (check_open(r) < 0)
        return NULL;
    int flags;
    if (parse_flags(flags_obj, &flags) < 0)
        return NULL;
    PyObject *fast = PySequence_Fast(seq, "buffers must be a sequence");
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if ((size_t)n > r->sq_entries) {
        /* a linked chain must reach the kernel in one submission */
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "a batch may hold at most `entries` buffers");
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    PyObject *out = PyList_New(n);
    if (!out) {
        Py_DECREF(fast);
        return NULL;
    }
    Py_ssize_t done = 0;
    for (; done < n; done++) {
        /* linked: each send starts only once the one before it has completed in full */
        long long ud =
            queue_send(r, fd, items[done], flags, link && done + 1 < n, drain && done == 0);
        if (ud < 0)
            break;
        PyList_SET_ITEM(out, done, PyLong_FromUnsignedLongLong((unsigned long long)ud));
    }
    Py_DECREF(fast);
    if (done < n) {
        /* the error stands, but what was queued is in the ring and must still go out */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (done > 0) {
            /* the last queued SQE must not link to whatever is queued next */
            r->sqes[(r->local_tail - 1) & *r->sq_mask].flags &= (uint8_t)~IOSQE_IO_LINK;
            if (submit(r, 0, NULL) < 0)
                PyErr_Clear();
        }
        PyErr_Restore(et, ev, tb);
        Py_DECREF(out);
        return NULL;
    }
    if (submit(r, 0, NULL) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static PyObject *Ring_reap(Ring *r, PyObject *Py_UNUSED(ignored))
{
    if (check_open(r) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    unsigned head = *r->cq_head;
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    while (head != tail) {
        struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        unsigned cflags = cqe->flags;
        head++;
        __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
        /* SEND_ZC: the result CQE carries F_MORE and the buffer stays the kernel's until
           the F_NOTIF CQE, which frees the slot and is not reported */
        if (!(cflags & IORING_CQE_F_MORE))
            release_slot(r, ud);
        if (ud == INTERNAL_UD || (cflags & IORING_CQE_F_NOTIF))
            continue;
        PyObject *item = Py_BuildValue("(Ki)", (unsigned long long)ud, res);
        if (!item || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

static PyObject *Ring_ready(Ring *r, PyObject *Py_UNUSED(ignored))
{
    if (r->fd < 0)
        return PyLong_FromLong(0);
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    return PyLong_FromUnsignedLong(tail - *r->cq_head);
}

static PyObject *Ring_register_file(Ring *r, PyObject *arg)
{
    if (check_open(r) < 0)
        return NULL;
    int fd = as_int(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (r->fixed_fd >= 0 || r->in_flight) {
        PyErr_SetString(PyExc_ValueError, "register_file: one file, before any send");
        return NULL;
    }
    if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_FILES, &fd, 1) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    r->fixed_fd = fd;
    Py_RETURN_NONE;
}

static PyObject *Ring_register_arena(Ring *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"slot_size", "zerocopy", NULL};
    unsigned slot_size = 4096;
    int zc = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Ip", kwlist, &slot_size, &zc))
        return NULL;
    if (check_open(r) < 0)
        return NULL;
    if (r->arena || r->in_flight) {
        PyErr_SetString(PyExc_ValueError, "register_arena: once, before any send");
        return NULL;
    }
    if (slot_size < 64 || slot_size > (1u << 20)) {
        PyErr_SetString(PyExc_ValueError, "slot_size must be in 64..1 MiB");
        return NULL;
    }
    size_t len = (size_t)r->nslots * slot_size;
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                     -1, 0);
    if (mem == MAP_FAILED)
        return PyErr_SetFromErrno(PyExc_OSError);
    struct iovec iov = {.iov_base = mem, .iov_len = len};
    if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0) {
        int saved = errno;
        munmap(mem, len);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    r->arena = mem;
    r->arena_len = len;
    r->slot_size = slot_size;
    r->zc = zc;
    r->limit = zc ? r->nslots / 2 : r->nslots;
    Py_RETURN_NONE;
}

static PyObject *Ring_register_eventfd(Ring *r, PyObject *arg)
{
    if (check_open(r) < 0)
        return NULL;
    int efd = as_int(arg);
    if (efd == -1 && PyErr_Occurred())
        return NULL;
    if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_EVENTFD, &efd, 1) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

/* Cancel everything in flight and wait for every completion; 0, or -1 with an exception. */
static int drain_all(Ring *r)
{
    int cancel_queued = 0;
    while (r->in_flight) {
        if (!cancel_queued) {
            struct io_uring_sqe *sqe = next_sqe(r);
            if (!sqe)
                return -1;
            {
                sqe->opcode = IORING_OP_ASYNC_CANCEL;
                sqe->fd = -1;
                sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY;
                sqe->user_data = INTERNAL_UD;
                r->local_tail++;
                cancel_queued = 1;
            }
        }
        if (submit(r, 1, NULL) < 0)
            return -1;
        PyObject *done = Ring_reap(r, NULL);
        if (!done)
            return -1;
        Py_DECREF(done);
    }
    return 0;
}

static PyObject *Ring_close(Ring *r, PyObject *Py_UNUSED(ignored))
{
    if (r->fd < 0)
        Py_RETURN_NONE;
    if (drain_all(r) < 0)
        return NULL;
    unmap(r);
    close(r->fd);
    r->fd = -1;
    PyMem_Free(r->slots);
    r->slots = NULL;
    Py_RETURN_NONE;
}

static PyObject *Ring_fileno(Ring *r, PyObject *Py_UNUSED(ignored))
{
    if (check_open(r) < 0)
        return NULL;
    return PyLong_FromLong(r->fd);
}

static void Ring_dealloc(Ring *r)
{
    if (r->fd >= 0) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyObject *res = Ring_close(r, NULL);
        if (!res) {
            PyErr_WriteUnraisable((PyObject *)r);
            /* buffers the kernel may still read must outlive us: leak rather than free */
            r->slots = NULL;
        }
        Py_XDECREF(res);
        PyErr_Restore(et, ev, tb);
    }
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *Ring_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    Ring *r = (Ring *)type->tp_alloc(type, 0);
    if (r) {
        r->fd = -1;
        r->fixed_fd = -1;
    }
    return (PyObject *)r;
}

static PyObject *get_in_flight(Ring *r, void *c) { return PyLong_FromUnsignedLong(r->in_flight); }
static PyObject *get_sqpoll(Ring *r, void *c) { return PyBool_FromLong(r->sqpoll); }
static PyObject *get_closed(Ring *r, void *c) { return PyBool_FromLong(r->fd < 0); }
static PyObject *get_entries(Ring *r, void *c) { return PyLong_FromUnsignedLong(r->sq_entries); }
static PyObject *get_capacity(Ring *r, void *c) { return PyLong_FromUnsignedLong(r->limit); }
static PyObject *get_slot_size(Ring *r, void *c) { return PyLong_FromUnsignedLong(r->arena ? r->slot_size : 0); }
static PyObject *get_fixed_fd(Ring *r, void *c) { return PyLong_FromLong(r->fixed_fd); }
static PyObject *get_zerocopy(Ring *r, void *c) { return PyBool_FromLong(r->zc); }
static PyObject *get_features(Ring *r, void *c) { return PyLong_FromUnsignedLong(r->features); }
static PyObject *get_sq_need_wakeup(Ring *r, void *c)
{
    if (r->fd < 0)
        Py_RETURN_FALSE;
    return PyBool_FromLong(__atomic_load_n(r->sq_flags, __ATOMIC_RELAXED) & IORING_SQ_NEED_WAKEUP);
}

static PyGetSetDef Ring_getset[] = {
    {"in_flight", (getter)get_in_flight, NULL, "sends submitted whose completion is not reaped", NULL},
    {"sqpoll", (getter)get_sqpoll, NULL, "whether a kernel thread polls the submission ring", NULL},
    {"closed", (getter)get_closed, NULL, "whether close() has run", NULL},
    {"entries", (getter)get_entries, NULL, "submission ring size", NULL},
    {"capacity", (getter)get_capacity, NULL, "most sends that may be in flight at once", NULL},
    {"features", (getter)get_features, NULL, "IORING_FEAT_* bits the kernel reported", NULL},
    {"sq_need_wakeup", (getter)get_sq_need_wakeup, NULL, "whether the SQPOLL thread sleeps", NULL},
    {"slot_size", (getter)get_slot_size, NULL, "registered arena bytes per send (0: none)", NULL},
    {"fixed_fd", (getter)get_fixed_fd, NULL, "the fd registered as fixed file 0, or -1", NULL},
    {"zerocopy", (getter)get_zerocopy, NULL, "whether sends are IORING_OP_SEND_ZC", NULL},
    {NULL},
};

static PyMethodDef Ring_methods[] = {
    {"send", (PyCFunction)(void (*)(void))Ring_send, METH_FASTCALL,
     "Queue one IORING_OP_SEND of buffer on fd and submit it; return its user_data.\n\n"
     "ordered=True starts it only after every earlier send completed (IOSQE_IO_DRAIN, set\n"
     "only while one has not)."},
    {"queue", (PyCFunction)(void (*)(void))Ring_queue, METH_VARARGS | METH_KEYWORDS,
     "Queue one send without submitting; return its user_data."},
    {"submit", (PyCFunction)(void (*)(void))Ring_submit, METH_VARARGS | METH_KEYWORDS,
     "Submit queued sends (waking the SQPOLL thread if it sleeps); optionally wait."},
    {"submit_batch", (PyCFunction)(void (*)(void))Ring_submit_batch, METH_VARARGS | METH_KEYWORDS,
     "Queue sends of each buffer (linked in order by default) and submit them at once."},
    {"reap", (PyCFunction)Ring_reap, METH_NOARGS,
     "Return the posted completions as (user_data, result) and release their buffers."},
    {"ready", (PyCFunction)Ring_ready, METH_NOARGS,
     "Return how many completions are posted and not yet reaped (no system call)."},
    {"register_file", (PyCFunction)Ring_register_file, METH_O,
     "Register fd as fixed file 0 (IORING_REGISTER_FILES): sends on it skip the fd lookup,\n"
     "and the ring holds the socket until it closes, so a closed fd number cannot be reused\n"
     "under a send still in the ring."},
    {"register_arena", (PyCFunction)(void (*)(void))Ring_register_arena,
     METH_VARARGS | METH_KEYWORDS,
     "Register one buffer of capacity x slot_size bytes (IORING_REGISTER_BUFFERS); frames\n"
     "that fit a slot are copied there and sent with IORING_RECVSEND_FIXED_BUF.\n"
     "zerocopy=True sends with IORING_OP_SEND_ZC (halves capacity: two CQEs per send)."},
    {"register_eventfd", (PyCFunction)Ring_register_eventfd, METH_O,
     "Have the kernel signal this eventfd whenever it posts a completion."},
    {"close", (PyCFunction)Ring_close, METH_NOARGS,
     "Cancel what is in flight, wait for those completions, and release the ring."},
    {"fileno", (PyCFunction)Ring_fileno, METH_NOARGS, "Return the ring's file descriptor."},
    {NULL},
};

static PyTypeObject RingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "whalewire.net._uring.Ring",
    .tp_basicsize = sizeof(Ring),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Ring(entries=64, sqpoll=False, sqpoll_idle_ms=1000, sqpoll_cpu=-1): an io_uring "
              "instance for socket sends. Use one Ring from one thread at a time.",
    .tp_new = Ring_new,
    .tp_init = (initproc)Ring_init,
    .tp_dealloc = (destructor)Ring_dealloc,
    .tp_methods = Ring_methods,
    .tp_getset = Ring_getset,
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "whalewire.net._uring",
    "A minimal io_uring ring for socket sends, over the raw system calls.", -1, NULL,
};

PyMODINIT_FUNC PyInit__uring(void)
{
    if (PyType_Ready(&RingType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m)
        return NULL;
    Py_INCREF(&RingType);
    if (PyModule_AddObject(m, "Ring", (PyObject *)&RingType) < 0) {
        Py_DECREF(&RingType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "DEFAULT_MSG_FLAGS", DEFAULT_MSG_FLAGS);
    PyModule_AddIntConstant(m, "MSG_NOSIGNAL", MSG_NOSIGNAL);
    PyModule_AddIntConstant(m, "MSG_WAITALL", MSG_WAITALL);
    return m;
}
