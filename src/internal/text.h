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

#endif /* MASQUE_INTERNAL_TEXT_H */
