/*
 * The WebSocket frame header (RFC 6455 §5.2), written and read in one place for every C
 * extension of whalewire: ws._speedups (build_frame, frame_in_place, the scanners),
 * net._io (write_frame, PlainReader, DirectSender) and venues._hotpath (the order framers).
 *
 * Header only (static inline): each extension gets its own copy; nothing is shared between
 * .so files. Include after <Python.h>. Knows nothing of sockets, masking keys' origin or
 * connection state: bytes in, bytes out.
 */
#ifndef WHALEWIRE_WSFRAME_H
#define WHALEWIRE_WSFRAME_H

#ifndef Py_PYTHON_H
#error "include <Python.h> before wsframe.h"
#endif

#include <stdint.h>

/* The whole header's size for a payload of n bytes: 2, 4 or 10 (the minimal length, §5.2),
 * plus 4 for the mask key when masked. */
static inline Py_ssize_t
ww_frame_header_size(Py_ssize_t n, int masked)
{
    return (n < 126 ? 2 : n < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/* Write first byte b0, the MASK bit when masked and the minimal payload length of n at dst;
 * return the bytes written (2, 4 or 10). The 4-byte mask key, when masked, goes right after
 * (the caller writes it: a copy, or a key drawn straight into place). */
static inline Py_ssize_t
ww_frame_header(unsigned char *dst, unsigned char b0, Py_ssize_t n, int masked)
{
    unsigned char m = masked ? 0x80 : 0;
    dst[0] = b0;
    if (n < 126) {
        dst[1] = m | (unsigned char)n;
        return 2;
    }
    if (n < 65536) {
        dst[1] = m | 126;
        dst[2] = (unsigned char)(n >> 8);
        dst[3] = (unsigned char)n;
        return 4;
    }
    uint64_t u = (uint64_t)n;
    dst[1] = m | 127;
    for (int i = 0; i < 8; i++) dst[2 + i] = (unsigned char)(u >> (56 - 8 * i));
    return 10;
}

/* If a plain frame starts at s[pos] (complete, FIN, no RSV bit, TEXT or BINARY, the mask bit
 * as wanted, a 7-bit or minimal 16-bit length of at most limit), set *p_out and *len_out to
 * its payload and return its first byte; else return 0 and leave it to the Python reader. */
static inline unsigned char
ww_next_plain(const unsigned char *s, Py_ssize_t pos, Py_ssize_t end, int want_mask,
              Py_ssize_t limit, Py_ssize_t *p_out, Py_ssize_t *len_out)
{
    unsigned char b0, b1;
    Py_ssize_t len, p;

    if (end - pos < 2) return 0;
    b0 = s[pos];
    b1 = s[pos + 1];
    if ((b0 != 0x81 && b0 != 0x82) || ((b1 & 0x80) != 0) != (want_mask != 0)) return 0;
    len = b1 & 0x7F;
    p = pos + 2;
    if (len == 126) {
        if (end - pos < 4) return 0;
        len = ((Py_ssize_t)s[p] << 8) | s[p + 1];
        if (len < 126) return 0;
        p += 2;
    }
    else if (len == 127) {
        return 0; /* 64-bit lengths are rare and large: the Python reader's per-frame cost is nothing */
    }
    if (len > limit) return 0;
    if (want_mask) p += 4;
    if (end - p < len) return 0;
    *p_out = p;
    *len_out = len;
    return b0;
}

#endif /* WHALEWIRE_WSFRAME_H */
