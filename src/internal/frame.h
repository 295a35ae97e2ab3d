/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The framing of a Bind datagram (-10 §4-§5, RFC 9297 §2.1 and §3.5), written in the headroom
 * before its payload. One definition for masque_bind_frame_prepend() (datagram.c) and for the
 * session's send path, which reads it without a call in speed builds. No argument checks: the
 * public functions make theirs first.
 */
#ifndef MASQUE_INTERNAL_FRAME_H
#define MASQUE_INTERNAL_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal/wire.h"
#include "masque/capsule.h"
#include "masque/datagram.h"

/* The framing's parts, measured once: the Context ID, the tuple's address, the inner part
 * (Context ID and tuple) and the outer one (Quarter Stream ID or capsule header). */
typedef struct masque_frame_layout {
    size_t id_len;
    size_t ip_len; /* 0: compressed, no tuple */
    size_t inner;
    size_t outer;
} masque_frame_layout;

/* Measures the framing of a payload; 0 on success, or a negative error. */
static MASQUE_HOT_INLINE int masque_frame_measure(const masque_bind_frame *f, size_t payload_len,
                                                  masque_frame_layout *l)
{
    if (payload_len > MASQUE_UDP_PAYLOAD_MAX) {
        return MASQUE_ERR_PAYLOAD_TOO_LARGE; /* RFC 9298 §5 */
    }
    l->id_len = masque_varint_size(f->context_id);
    if (l->id_len == 0) {
        return MASQUE_ERR_VARINT_RANGE;
    }
    l->ip_len = 0;
    l->inner = l->id_len;
    if (f->target != NULL) {
        l->ip_len = masque_ip_len(f->target->version);
        if (l->ip_len == 0) {
            return MASQUE_ERR_ADDRESS;
        }
        l->inner += 1 + l->ip_len + 2; /* -10 §4: IP Version, IP Address, UDP Port */
    }
    switch (f->path) {
    case MASQUE_PATH_H3_DATAGRAM:
        if (f->quarter_stream_id > MASQUE_QUARTER_STREAM_ID_MAX) {
            return MASQUE_ERR_QUARTER_STREAM_ID;
        }
        l->outer = masque_varint_size(f->quarter_stream_id);
        return MASQUE_OK;
    case MASQUE_PATH_CAPSULE:
        /* RFC 9297 §3.5: Type 0 in one byte, then the Length; the payload is at most 64 KiB,
         * so the Length always fits a varint. */
        l->outer = 1 + masque_varint_size((uint64_t)(l->inner + payload_len));
        return MASQUE_OK;
    case MASQUE_PATH_PAYLOAD_ONLY:
        l->outer = 0;
        return MASQUE_OK;
    }
    return MASQUE_ERR_INVALID_ARGUMENT;
}

/* Writes the framing before payload: its length, MASQUE_ERR_BUFFER when headroom is short, or
 * the error masque_frame_measure() found. payload is not const: the framing is written through
 * it, into the headroom before it. */
/* cppcheck-suppress constParameterPointer */
static MASQUE_HOT_INLINE masque_ssize masque_frame_put(uint8_t *payload, size_t headroom,
                                                       size_t payload_len,
                                                       const masque_bind_frame *f)
{
    masque_frame_layout l;
    uint8_t *p;
    int rc = masque_frame_measure(f, payload_len, &l);

    if (rc != 0) {
        return rc;
    }
    if (headroom < l.inner + l.outer) {
        return MASQUE_ERR_BUFFER;
    }
    p = payload - l.inner;
    masque_store_varint(p, l.id_len, f->context_id);
    if (l.ip_len != 0) {
        uint8_t *q = p + l.id_len;
        *q++ = f->target->version;
        /* Two fixed sizes, so that neither is a call. */
        if (l.ip_len == 4) {
            memcpy(q, f->target->bytes, 4);
        } else {
            memcpy(q, f->target->bytes, 16);
        }
        masque_store_u16(q + l.ip_len, f->target->port);
    }
    p -= l.outer;
    switch (f->path) {
    case MASQUE_PATH_H3_DATAGRAM:
        masque_store_varint(p, l.outer, f->quarter_stream_id);
        break;
    case MASQUE_PATH_CAPSULE:
        p[0] = (uint8_t)MASQUE_CAPSULE_TYPE_DATAGRAM;
        masque_store_varint(p + 1, l.outer - 1, (uint64_t)(l.inner + payload_len));
        break;
    case MASQUE_PATH_PAYLOAD_ONLY:
        break;
    }
    return masque_ssize_of(l.inner + l.outer);
}

#endif /* MASQUE_INTERNAL_FRAME_H */
