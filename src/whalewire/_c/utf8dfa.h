/*
 * Incremental UTF-8 validation (RFC 3629 §4, Unicode Table 3-7) for whalewire's C
 * extensions: ws._speedups (utf8_step, the scanners) and net._io (PlainReader). The state
 * is one int, so a message may be validated fragment by fragment.
 *
 * Header only: each extension gets its own copy. Include after <Python.h>. Knows nothing
 * of frames or sockets.
 */
#ifndef WHALEWIRE_UTF8DFA_H
#define WHALEWIRE_UTF8DFA_H

#ifndef Py_PYTHON_H
#error "include <Python.h> before utf8dfa.h"
#endif

#include <stdint.h>
#include <string.h>

/* States of the validator: 0 is "between code points"; 1..7 wait for a continuation byte
 * in [lo, hi] and then move to next (Unicode Table 3-7, well-formed byte sequences). */
enum { WW_UTF8_ACCEPT = 0, WW_UTF8_REJECT = -1 };
static const unsigned char ww_cont_lo[8] = {0, 0x80, 0x80, 0xA0, 0x80, 0x90, 0x80, 0x80};
static const unsigned char ww_cont_hi[8] = {0, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0xBF, 0x8F};
static const signed char ww_cont_next[8] = {0, 0, 1, 1, 1, 2, 2, 2};

/* The state a lead byte moves to from WW_UTF8_ACCEPT: 1 = one more byte, 2 = two more, 3 = E0
 * (no overlongs), 4 = ED (no surrogates), 5 = F0 (no overlongs), 6 = F1..F3, 7 = F4 (no
 * code point above U+10FFFF); WW_UTF8_REJECT for 80..C1 and F5..FF. */
static inline signed char
ww_lead_state(unsigned char c)
{
    if (c < 0xC2) return WW_UTF8_REJECT; /* ASCII is handled by the caller */
    if (c < 0xE0) return 1;
    if (c == 0xE0) return 3;
    if (c == 0xED) return 4;
    if (c < 0xF0) return 2;
    if (c == 0xF0) return 5;
    if (c < 0xF4) return 6;
    if (c == 0xF4) return 7;
    return WW_UTF8_REJECT;
}

static inline int
ww_utf8_run(const unsigned char *s, Py_ssize_t n, int state)
{
    Py_ssize_t i = 0;
    while (i < n) {
        if (state == WW_UTF8_ACCEPT) {
            /* ASCII fast path: 8 bytes at a time while no high bit is set */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & UINT64_C(0x8080808080808080)) break;
                i += 8;
            }
            while (i < n && s[i] < 0x80) i++;
            if (i >= n) break;
            state = ww_lead_state(s[i++]);
            if (state == WW_UTF8_REJECT) return WW_UTF8_REJECT;
        } else {
            unsigned char c = s[i++];
            if (c < ww_cont_lo[state] || c > ww_cont_hi[state]) return WW_UTF8_REJECT;
            state = ww_cont_next[state];
        }
    }
    return state;
}

#endif /* WHALEWIRE_UTF8DFA_H */
