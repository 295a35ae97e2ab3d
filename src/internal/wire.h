/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Private helpers shared by the codec files: the one bounds-checked read path (a cursor over a
 * caller's buffer) and byte-wise big-endian stores. Every decoder reads through these, so
 * "is there room?" is asked in exactly one place and no load is ever unaligned.
 */
#ifndef MASQUE_INTERNAL_WIRE_H
#define MASQUE_INTERNAL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "masque/address.h"
#include "masque/capsule.h"
#include "masque/config.h"
#include "masque/datagram.h"
#include "masque/varint.h"

/*
 * Where the compiler's own choice is measurably wrong (GCC, clang): MASQUE_HOT_INLINE marks a
 * hot-path helper it must not leave as a call in speed builds; MASQUE_SIZE_NOINLINE one it must
 * not copy into each caller where bytes of code count (config.h), which -Os with LTO did.
 */
#if (defined(__GNUC__) || defined(__clang__)) && !MASQUE_OPTIMIZE_SIZE
#define MASQUE_HOT_INLINE __attribute__((always_inline)) inline
#else
#define MASQUE_HOT_INLINE inline
#endif
#if (defined(__GNUC__) || defined(__clang__)) && MASQUE_OPTIMIZE_SIZE
#define MASQUE_SIZE_NOINLINE __attribute__((noinline))
#else
#define MASQUE_SIZE_NOINLINE
#endif

/* A helper kept out of line so that the check in front of it stays small enough to inline (the
 * work behind it is rare: auto-compression, draining queues). */
#if defined(__GNUC__) || defined(__clang__)
#define MASQUE_NOINLINE __attribute__((noinline))
#else
#define MASQUE_NOINLINE
#endif

/* A read cursor: the buffer, its length, and how far we have read. */
typedef struct masque_cursor {
    const uint8_t *data;
    size_t len;
    size_t pos;
} masque_cursor;

static inline masque_cursor masque_cursor_make(const uint8_t *data, size_t len)
{
    masque_cursor c;
    c.data = data;
    c.len = len;
    c.pos = 0;
    return c;
}

static inline size_t masque_cursor_left(const masque_cursor *c)
{
    return c->len - c->pos;
}

/* Reads one byte; 0 on success, MASQUE_ERR_NEED_MORE when the buffer is exhausted. */
static inline int masque_cursor_u8(masque_cursor *c, uint8_t *out)
{
    if (masque_cursor_left(c) < 1) {
        return MASQUE_ERR_NEED_MORE;
    }
    *out = c->data[c->pos];
    c->pos += 1;
    return 0;
}

/* Reads a big-endian 16-bit value. */
static inline int masque_cursor_u16(masque_cursor *c, uint16_t *out)
{
    if (masque_cursor_left(c) < 2) {
        return MASQUE_ERR_NEED_MORE;
    }
    *out = (uint16_t)((unsigned)c->data[c->pos] << 8 | (unsigned)c->data[c->pos + 1]);
    c->pos += 2;
    return 0;
}

/* Returns a view of n bytes and advances past them. */
static inline int masque_cursor_view(masque_cursor *c, size_t n, const uint8_t **out)
{
    if (masque_cursor_left(c) < n) {
        return MASQUE_ERR_NEED_MORE;
    }
    *out = c->data + c->pos;
    c->pos += n;
    return 0;
}

#if MASQUE_OPTIMIZE_SIZE
/* Reads a varint (RFC 9000 §16): returns its length, or 0 when len is too short. One copy, in
 * varint.c, for builds that count bytes of code (config.h). */
size_t masque_varint_read(const uint8_t *p, size_t len, uint64_t *v);
#else
/*
 * Reads a varint (RFC 9000 §16) without a call: returns its length, or 0 when len is too
 * short. The hot paths (datagram and capsule headers) use this one.
 */
static inline size_t masque_varint_read(const uint8_t *p, size_t len, uint64_t *v)
{
    if (len == 0) {
        return 0;
    }
    switch (p[0] >> 6) {
    case 0:
        *v = p[0];
        return 1;
    case 1:
        if (len < 2) {
            return 0;
        }
        *v = (uint64_t)(p[0] & 0x3Fu) << 8 | p[1];
        return 2;
    case 2:
        if (len < 4) {
            return 0;
        }
        *v = (uint64_t)(p[0] & 0x3Fu) << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        return 4;
    default:
        if (len < 8) {
            return 0;
        }
        *v = (uint64_t)(p[0] & 0x3Fu) << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
             (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
             (uint64_t)p[6] << 8 | p[7];
        return 8;
    }
}
#endif /* MASQUE_OPTIMIZE_SIZE */

/* Reads a varint (RFC 9000 §16). */
static inline int masque_cursor_varint(masque_cursor *c, uint64_t *out)
{
    size_t n;
    if (masque_cursor_left(c) == 0) {
        return MASQUE_ERR_NEED_MORE; /* also keeps NULL + 0 out of the arithmetic */
    }
    n = masque_varint_read(c->data + c->pos, masque_cursor_left(c), out);
    if (n == 0) {
        return MASQUE_ERR_NEED_MORE;
    }
    c->pos += n;
    return 0;
}

/*
 * Splits a complete item (a datagram, a capsule value) into its leading varint and a view of
 * the rest: 1, or 0 when the item ends inside the varint. Without argument checks (the public
 * decoders make theirs first), so that the per-datagram paths read it without a call.
 */
static MASQUE_HOT_INLINE int masque_split_varint(uint64_t *value, const uint8_t **rest,
                                                 size_t *rest_len, const uint8_t *src, size_t len)
{
    size_t n = masque_varint_read(src, len, value); /* reads nothing when len is 0 */
    if (n == 0) {
        return 0;
    }
    *rest = src + n;
    *rest_len = len - n;
    return 1;
}

/*
 * An HTTP Datagram's Quarter Stream ID and payload (RFC 9297 §2.1): MASQUE_OK,
 * MASQUE_ERR_DATAGRAM_TRUNCATED or MASQUE_ERR_QUARTER_STREAM_ID (both H3_DATAGRAM_ERROR);
 * *out is scratch after an error, so callers decode into a local. masque_h3_datagram_decode()
 * is this after its argument checks.
 */
static MASQUE_HOT_INLINE int masque_h3_datagram_read(masque_h3_datagram *out, const uint8_t *src,
                                                     size_t len)
{
    if (!masque_split_varint(&out->quarter_stream_id, &out->payload, &out->payload_len, src, len)) {
        return MASQUE_ERR_DATAGRAM_TRUNCATED;
    }
    return out->quarter_stream_id > MASQUE_QUARTER_STREAM_ID_MAX ? MASQUE_ERR_QUARTER_STREAM_ID
                                                                 : MASQUE_OK;
}

/*
 * In a complete item (a capsule value, a datagram), running out of bytes is malformed, not
 * "need more" (RFC 9297 §3.3): maps the cursor's NEED_MORE to MASQUE_ERR_TRUNCATED.
 */
static inline int masque_truncated_if_short(int rc)
{
    return rc == MASQUE_ERR_NEED_MORE ? MASQUE_ERR_TRUNCATED : rc;
}

/*
 * The hot path of every uncompressed datagram: one bounds check for the whole tuple, then
 * fixed-offset reads (-10 §4). Returns 0 or a negative error; *out is written only on success.
 * masque_bind_tuple_decode() is this after its argument checks.
 */
static MASQUE_HOT_INLINE int masque_tuple_read(masque_address *out, const uint8_t **payload,
                                               size_t *payload_len, const uint8_t *p, size_t len)
{
    size_t n;
    if (len == 0) {
        return MASQUE_ERR_TRUNCATED;
    }
    if (p[0] == MASQUE_IP_V4) {
        n = 1 + 4 + 2;
    } else if (p[0] == MASQUE_IP_V6) {
        n = 1 + 16 + 2;
    } else {
        return MASQUE_ERR_IP_VERSION; /* -10 §4: MUST be 4 or 6 */
    }
    if (len < n) {
        return MASQUE_ERR_TRUNCATED;
    }
    if (len - n > MASQUE_UDP_PAYLOAD_MAX) {
        return MASQUE_ERR_PAYLOAD_TOO_LARGE; /* RFC 9298 §5 */
    }
    /* Fixed-size copies, so the compiler emits plain moves. */
    memset(out->bytes, 0, sizeof(out->bytes));
    if (n == 7) {
        memcpy(out->bytes, p + 1, 4);
    } else {
        memcpy(out->bytes, p + 1, 16);
    }
    out->version = p[0];
    out->port = (uint16_t)((unsigned)p[n - 2] << 8 | p[n - 1]);
    *payload = p + n;
    *payload_len = len - n;
    return MASQUE_OK;
}

/* Stores a big-endian 16-bit value; the caller has checked the room. */
static inline void masque_store_u16(uint8_t *dst, uint16_t v)
{
    dst[0] = (uint8_t)(v >> 8);
    dst[1] = (uint8_t)(v & 0xFFu);
}

/* The minimal length of a varint holding v (RFC 9000 §16), 0 above 2^62-1. The one definition:
 * masque_varint_len() is this, out of line. */
static inline size_t masque_varint_min_len(uint64_t v)
{
    if (v <= 63u) {
        return 1;
    }
    if (v <= 16383u) {
        return 2;
    }
    if (v <= 1073741823u) {
        return 4;
    }
    return v <= MASQUE_VARINT_MAX ? 8 : 0;
}

#if MASQUE_OPTIMIZE_SIZE
#define masque_varint_size masque_varint_len /* one copy, in varint.c (config.h) */
#else
#define masque_varint_size masque_varint_min_len /* without a call, on the per-datagram paths */
#endif

/* Bytes of an address of an IP Version (-10 §4: 4 or 16), 0 for any other version; without a
 * call, as every datagram with a tuple asks it. */
static inline size_t masque_ip_len(uint8_t version)
{
    if (version == MASQUE_IP_V4) {
        return 4;
    }
    return version == MASQUE_IP_V6 ? 16 : 0;
}

/* Stores a varint whose minimal length n the caller computed and checked against the room. */
static inline void masque_varint_put(uint8_t *dst, size_t n, uint64_t v)
{
    static const uint8_t prefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xC0}; /* log2(n) << 6 */
    size_t i;
    for (i = n; i > 0; i--) {
        dst[i - 1] = (uint8_t)(v & 0xFFu);
        v >>= 8;
    }
    dst[0] = (uint8_t)(dst[0] | prefix[n]);
}

#if MASQUE_OPTIMIZE_SIZE
/* masque_varint_put(), out of line: one copy, in varint.c, for builds that count bytes of code
 * (config.h). */
void masque_store_varint(uint8_t *dst, size_t n, uint64_t v);
#else
#define masque_store_varint masque_varint_put
#endif

/*
 * Writes a control capsule of the given Type: the Context ID and, for an ASSIGN (assign != 0),
 * the IP Version, address and port of target (NULL or version 0: IP Version 0, no address).
 * The fields are the caller's to have checked (the public encoders in capsule.c; the session's
 * queue, which holds only valid ones). Returns the bytes written or MASQUE_ERR_BUFFER.
 */
masque_ssize masque_control_put(uint8_t *dst, size_t cap, uint64_t type, uint64_t context_id,
                                int assign, const masque_address *target);

/* Converts a count known to fit to the signed return type. */
static inline masque_ssize masque_ssize_of(size_t n)
{
    return (masque_ssize)n;
}

#endif /* MASQUE_INTERNAL_WIRE_H */
