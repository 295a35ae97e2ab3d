/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/varint.h"
#include "internal/args.h"

#include "internal/wire.h"

size_t masque_varint_len_from_first(uint8_t first_byte)
{
    /* RFC 9000 §16: the two high bits are log2 of the length. */
    return (size_t)1u << (first_byte >> 6);
}

#if MASQUE_OPTIMIZE_SIZE
size_t masque_varint_read(const uint8_t *p, size_t len, uint64_t *v)
{
    size_t n;
    size_t i;
    uint64_t x;

    if (len == 0) {
        return 0;
    }
    n = masque_varint_len_from_first(p[0]); /* RFC 9000 §16: the prefix gives the length */
    if (len < n) {
        return 0;
    }
    x = p[0] & 0x3Fu;
    for (i = 1; i < n; i++) {
        x = x << 8 | p[i];
    }
    *v = x;
    return n;
}

MASQUE_SIZE_NOINLINE void masque_store_varint(uint8_t *dst, size_t n, uint64_t v)
{
    masque_varint_put(dst, n, v);
}
#endif

masque_ssize masque_varint_decode(uint64_t *out, const uint8_t *src, size_t len)
{
    size_t n;
    uint64_t v;

    if (MASQUE_BAD_ARGS(out == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (src == NULL) {
        return MASQUE_ERR_NEED_MORE;
    }
    n = masque_varint_read(src, len, &v);
    if (n == 0) {
        return MASQUE_ERR_NEED_MORE; /* RFC 9000 §16: the prefix says how many bytes */
    }
    *out = v;
    return masque_ssize_of(n);
}

MASQUE_SIZE_NOINLINE size_t masque_varint_len(uint64_t value)
{
    return masque_varint_min_len(value);
}

masque_ssize masque_varint_encode(uint8_t *dst, size_t cap, uint64_t value)
{
    size_t n = masque_varint_len(value);

    if (n == 0) {
        return MASQUE_ERR_VARINT_RANGE; /* RFC 9000 §16: 62 bits at most */
    }
    if (MASQUE_BAD_ARGS(dst == NULL && cap != 0)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (cap < n) {
        return MASQUE_ERR_BUFFER;
    }
    masque_store_varint(dst, n, value);
    return masque_ssize_of(n);
}
