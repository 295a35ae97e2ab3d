/* SPDX-License-Identifier: GPL-3.0-only */
/* Private helpers for the text forms (addresses, rules, header values). */
#ifndef MASQUE_INTERNAL_TEXT_H
#define MASQUE_INTERNAL_TEXT_H

#include <stddef.h>

/* Value of a hexadecimal digit, or -1. */
static inline int masque_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parses 1 to 5 decimal digits, exactly len of them, into a value at most max; 0 on success. */
static inline int masque_parse_decimal(const char *s, size_t len, unsigned long max,
                                       unsigned long *out)
{
    unsigned long v = 0;
    size_t i;
    if (len == 0 || len > 5) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10u + (unsigned long)(s[i] - '0');
    }
    if (v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/*
 * Copies the len bytes at src into dst (cap bytes, NUL-terminated) as printable ASCII, for a
 * log: each byte outside 0x20-0x7e becomes the four characters \xHH, so that what a peer chose
 * (a terminal's escape sequences) never reaches one as it is. Backslashes stay as they are:
 * text that must name one thing only comes escaped already (RFC 4514 names do). 0, or -1 with
 * dst empty when the text does not fit: never a cut one.
 */
static inline int masque_text_printable(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t used = 0;
    size_t i;
    if (cap == 0) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        int plain = c >= 0x20 && c < 0x7f;
        if (used + (plain ? 1u : 4u) >= cap) {
            dst[0] = '\0';
            return -1;
        }
        if (plain) {
            dst[used++] = (char)c;
        } else {
            dst[used++] = '\\';
            dst[used++] = 'x';
            dst[used++] = hex[c >> 4];
            dst[used++] = hex[c & 15u];
        }
    }
    dst[used] = '\0';
    return 0;
}

#endif /* MASQUE_INTERNAL_TEXT_H */
