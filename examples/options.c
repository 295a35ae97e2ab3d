/* SPDX-License-Identifier: GPL-3.0-only */
/* Strict command-line values: see options.h. */
#include "options.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t option_number(const char *program, const char *option, const char *text, uint64_t min,
                       uint64_t max)
{
    uint64_t v = 0;
    const char *p = text;
    int ok = *p != '\0';
    for (; ok && *p != '\0'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        ok = *p >= '0' && *p <= '9' && v <= (UINT64_MAX - digit) / 10u;
        v = ok ? v * 10u + digit : v;
    }
    if (!ok || v < min || v > max) {
        (void)fprintf(stderr, "%s: %s wants a whole number from %llu to %llu, not '%s'\n", program,
                      option, (unsigned long long)min, (unsigned long long)max, text);
        exit(2);
    }
    return v;
}

double option_seconds(const char *program, const char *option, const char *text)
{
    const char *p;
    size_t digits = 0;
    size_t dots = 0;
    double v;
    /* Digits and at most one '.': no sign, exponent, hexadecimal, "inf" or "nan". */
    for (p = text; *p != '\0'; p++) {
        digits += *p >= '0' && *p <= '9' ? 1u : 0u;
        dots += *p == '.' ? 1u : 0u;
    }
    v = digits > 0 && dots <= 1 && digits + dots == (size_t)(p - text) ? strtod(text, NULL) : -1.0;
    if (!(v >= 0.0 && v <= 31536000.0)) { /* a year at most */
        (void)fprintf(stderr, "%s: %s wants seconds (e.g. 30 or 0.5), not '%s'\n", program, option,
                      text);
        exit(2);
    }
    return v;
}

void open_standard_fds(void)
{
    int fd;
    /* open() takes the lowest free number: each closed standard one in turn, then 3 or more. */
    do {
        fd = open("/dev/null", O_RDWR);
    } while (fd >= 0 && fd <= 2);
    if (fd > 2) {
        (void)close(fd);
    }
}
