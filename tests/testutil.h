/* SPDX-License-Identifier: GPL-3.0-only */
/* Helpers shared by the cmocka suites: hex vectors and a small deterministic PRNG. */
#ifndef MASQUE_TESTUTIL_H
#define MASQUE_TESTUTIL_H

/* cmocka needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "masque/config.h"

/* Parses hex (spaces allowed) into out; returns the byte count. Fails the test on bad hex. */
static inline size_t hex_to_bytes(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int half = -1;
    for (; *hex != '\0'; hex++) {
        int v;
        char c = *hex;
        if (c == ' ') {
            continue;
        }
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            fail_msg("bad hex character '%c'", c);
            return 0;
        }
        if (half < 0) {
            half = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(half << 4 | v);
            half = -1;
        }
    }
    assert_int_equal(half, -1);
    return n;
}

/* xorshift64*: deterministic; tests print the seed when they fail. */
typedef struct test_rng {
    uint64_t state;
} test_rng;

static inline uint64_t rng_next(test_rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A value whose minimal varint has each length equally often. */
static inline uint64_t rng_varint(test_rng *r)
{
    static const uint64_t masks[4] = {0x3Fu, 0x3FFFu, 0x3FFFFFFFu, 0x3FFFFFFFFFFFFFFFu};
    return rng_next(r) & masks[rng_next(r) & 3u];
}

static inline size_t rng_below(test_rng *r, size_t n)
{
    return (size_t)(rng_next(r) % (uint64_t)n);
}

#define TEST_SEED 0x6D61737175650001ULL /* "masque" 1 */

/* A test of a part this build compiles out (config.h) is reported as skipped, not passed. */
#define MASQUE_REQUIRE(enabled)                                                                    \
    do {                                                                                           \
        if (!(enabled)) {                                                                          \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

#endif /* MASQUE_TESTUTIL_H */
