/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/datagram.h"
#include "internal/args.h"

#include <string.h>

#include "internal/frame.h"
#include "internal/wire.h"
#include "masque/capsule.h"
#include "masque/varint.h"

/* Splits a complete datagram into a leading varint and a view of the rest. */
static int split_varint(uint64_t *value, const uint8_t **rest, size_t *rest_len, const uint8_t *src,
                        size_t len)
{
    if (MASQUE_BAD_ARGS(len > (size_t)PTRDIFF_MAX)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (src == NULL || !masque_split_varint(value, rest, rest_len, src, len)) {
        return MASQUE_ERR_TRUNCATED;
    }
    return MASQUE_OK;
}

masque_ssize masque_h3_datagram_decode(masque_h3_datagram *out, const uint8_t *src, size_t len)
{
    masque_h3_datagram dg;
    int rc;

    if (MASQUE_BAD_ARGS(out == NULL || len > (size_t)PTRDIFF_MAX)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    /* RFC 9297 §2.1: too short for the Quarter Stream ID is an H3_DATAGRAM_ERROR. */
    rc = masque_h3_datagram_read(&dg, src, src == NULL ? 0 : len);
    if (rc != MASQUE_OK) {
        return rc;
    }
    *out = dg;
    return masque_ssize_of(len);
}

int masque_quarter_stream_id_of(uint64_t stream_id, uint64_t *quarter_stream_id)
{
    if (MASQUE_BAD_ARGS(quarter_stream_id == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    /* RFC 9000 §2.1: client-initiated bidirectional streams have the two low bits 00. */
    if ((stream_id & 3u) != 0 || stream_id > MASQUE_VARINT_MAX) {
        return MASQUE_ERR_STREAM_ID;
    }
    *quarter_stream_id = stream_id >> 2;
    return MASQUE_OK;
}

masque_ssize masque_h3_datagram_prepend(uint8_t *payload, size_t headroom,
                                        uint64_t quarter_stream_id)
{
    size_t n = masque_varint_size(quarter_stream_id);

    if (quarter_stream_id > MASQUE_QUARTER_STREAM_ID_MAX) {
        return MASQUE_ERR_QUARTER_STREAM_ID;
    }
    if (headroom < n) {
        return MASQUE_ERR_BUFFER;
    }
    if (MASQUE_BAD_ARGS(payload == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    masque_store_varint(payload - n, n, quarter_stream_id);
    return masque_ssize_of(n);
}

masque_ssize masque_context_payload_decode(masque_context_payload *out, const uint8_t *src,
                                           size_t len)
{
    uint64_t id;
    const uint8_t *rest;
    size_t rest_len;
    int rc;

    if (MASQUE_BAD_ARGS(out == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = split_varint(&id, &rest, &rest_len, src, len); /* RFC 9298 §5 */
    if (rc != 0) {
        return rc;
    }
    out->context_id = id;
    out->payload = rest;
    out->payload_len = rest_len;
    return masque_ssize_of(len);
}

masque_ssize masque_bind_tuple_decode(masque_address *target, const uint8_t **payload,
                                      size_t *payload_len, const uint8_t *src, size_t len)
{
    int rc;
    if (MASQUE_BAD_ARGS(target == NULL || payload == NULL || payload_len == NULL ||
                        len > (size_t)PTRDIFF_MAX)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = masque_tuple_read(target, payload, payload_len, src, src == NULL ? 0 : len);
    return rc != 0 ? rc : masque_ssize_of(len);
}

masque_ssize masque_bind_uncompressed_decode(masque_bind_datagram *out, const uint8_t *src,
                                             size_t len)
{
    uint64_t id;
    size_t n;
    int rc;

    if (MASQUE_BAD_ARGS(out == NULL || len > (size_t)PTRDIFF_MAX)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    n = src == NULL ? 0 : masque_varint_read(src, len, &id);
    if (n == 0) {
        return MASQUE_ERR_TRUNCATED;
    }
    rc = masque_tuple_read(&out->target, &out->payload, &out->payload_len, src + n, len - n);
    if (rc != 0) {
        return rc;
    }
    out->context_id = id;
    return masque_ssize_of(len);
}

masque_ssize masque_bind_compressed_decode(masque_bind_datagram *out, const uint8_t *src,
                                           size_t len)
{
    uint64_t id;
    size_t n;

    if (MASQUE_BAD_ARGS(out == NULL || len > (size_t)PTRDIFF_MAX)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    n = src == NULL ? 0 : masque_varint_read(src, len, &id);
    if (n == 0) {
        return MASQUE_ERR_TRUNCATED;
    }
    if (len - n > MASQUE_UDP_PAYLOAD_MAX) {
        return MASQUE_ERR_PAYLOAD_TOO_LARGE; /* RFC 9298 §5 */
    }
    out->context_id = id;
    out->target.version = 0;
    out->payload = src + n;
    out->payload_len = len - n;
    return masque_ssize_of(len);
}

/* masque_frame_measure() as one call, for the paths that are not per datagram. */
static MASQUE_NOINLINE int measure_frame(const masque_bind_frame *f, size_t payload_len,
                                         masque_frame_layout *l)
{
    if (MASQUE_BAD_ARGS(f == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    return masque_frame_measure(f, payload_len, l);
}

size_t masque_bind_frame_header_len(const masque_bind_frame *f, size_t payload_len)
{
    masque_frame_layout l;
    if (measure_frame(f, payload_len, &l) != 0) {
        return 0;
    }
    return l.inner + l.outer;
}

masque_ssize masque_bind_frame_prepend(uint8_t *payload, size_t headroom, size_t payload_len,
                                       const masque_bind_frame *f)
{
    if (MASQUE_BAD_ARGS(f == NULL || payload == NULL)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    return masque_frame_put(payload, headroom, payload_len, f);
}

/*
 * memmove without libc's memmove (firmware builds link against memcpy, memset and memcmp
 * only). Overlap is judged on integer addresses, which C allows for any two objects.
 */
static void move_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    uintptr_t d = (uintptr_t)dst;
    uintptr_t s = (uintptr_t)src;
    size_t i;
    if (d + n <= s || s + n <= d) {
        memcpy(dst, src, n);
    } else if (d > s) {
        for (i = n; i > 0; i--) {
            dst[i - 1] = src[i - 1];
        }
    } else {
        for (i = 0; i < n; i++) {
            dst[i] = src[i];
        }
    }
}

masque_ssize masque_bind_frame_encode(uint8_t *dst, size_t cap, const masque_bind_frame *f,
                                      const uint8_t *payload, size_t payload_len)
{
    masque_frame_layout l;
    size_t header;
    int rc = measure_frame(f, payload_len, &l);

    if (rc != 0) {
        return rc;
    }
    header = l.inner + l.outer;
    if (cap < header || cap - header < payload_len) {
        return MASQUE_ERR_BUFFER;
    }
    if (MASQUE_BAD_ARGS(dst == NULL || (payload == NULL && payload_len != 0))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (payload_len != 0) {
        move_bytes(dst + header, payload, payload_len);
    }
    (void)masque_bind_frame_prepend(dst + header, header, payload_len, f);
    return masque_ssize_of(header + payload_len);
}
