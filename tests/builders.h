/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Builders of wire bytes for tests, as ngtcp2's test helpers build packets: capsules and
 * datagrams from their fields, so that a test says "assign(4, "192.0.2.42:1234")" instead of
 * hand-writing hex. Byte-exact vectors of the drafts stay as hex in the tests that check them;
 * these are for the tests whose subject is behaviour.
 */
#ifndef MASQUE_TEST_BUILDERS_H
#define MASQUE_TEST_BUILDERS_H

#include "testutil.h"

#include "masque/capsule.h"
#include "masque/datagram.h"
#include "masque/session.h"

/** @brief Bytes built for a test: a value type, concatenated with cat(). */
typedef struct wire {
    uint8_t b[256];
    size_t n;
} wire;

static inline masque_address tuple(const char *text)
{
    masque_address a;
    assert_int_equal(masque_address_parse(&a, text, strlen(text), 1), MASQUE_OK);
    return a;
}

/* COMPRESSION_ASSIGN for a tuple, or for the uncompressed context when target is NULL. */
static inline wire assign_to(uint64_t id, const masque_address *target)
{
    wire w;
    masque_compression_assign a;
    masque_ssize n;
    memset(&a, 0, sizeof(a));
    a.context_id = id;
    if (target != NULL) {
        a.target = *target;
        a.ip_version = target->version;
    }
    n = masque_compression_assign_encode(w.b, sizeof(w.b), MASQUE_PROFILE_DRAFT10, &a);
    assert_true(n > 0);
    w.n = (size_t)n;
    return w;
}

/* COMPRESSION_ASSIGN for "ip:port" (text forms need IPv6 in the build for "[...]:port"), or
 * for the uncompressed context when text is NULL. */
static inline wire assign(uint64_t id, const char *text)
{
    masque_address a;
    if (text == NULL) {
        return assign_to(id, NULL);
    }
    a = tuple(text);
    return assign_to(id, &a);
}

static inline wire id_capsule(masque_capsule_kind kind, uint64_t id)
{
    wire w;
    masque_ssize n =
        masque_compression_id_encode(w.b, sizeof(w.b), MASQUE_PROFILE_DRAFT10, kind, id);
    assert_true(n > 0);
    w.n = (size_t)n;
    return w;
}

/* COMPRESSION_ASSIGN for 192.0.2.1:port, the documentation address most tests use. */
static inline wire assign_port(uint64_t id, uint16_t port)
{
    masque_address a;
    masque_address_set_v4(&a, (const uint8_t *)"\xc0\x00\x02\x01", port);
    return assign_to(id, &a);
}

/* COMPRESSION_ACK. */
static inline wire ack(uint64_t id)
{
    return id_capsule(MASQUE_CAPSULE_COMPRESSION_ACK, id);
}

/* COMPRESSION_CLOSE. */
static inline wire close_capsule(uint64_t id)
{
    return id_capsule(MASQUE_CAPSULE_COMPRESSION_CLOSE, id);
}

/* An HTTP Datagram Payload: the Context ID, then the bytes (compressed form). */
static inline wire dgram(uint64_t id, const char *payload)
{
    wire w;
    size_t len = strlen(payload);
    w.n = (size_t)masque_varint_encode(w.b, sizeof(w.b), id);
    assert_true(w.n + len <= sizeof(w.b));
    memcpy(w.b + w.n, payload, len);
    w.n += len;
    return w;
}

/* The same payload as a DATAGRAM capsule on the stream (RFC 9297 §3.5). */
static inline wire dgram_capsule(uint64_t id, const char *payload)
{
    wire inner = dgram(id, payload);
    wire w;
    masque_ssize h = masque_capsule_header_encode(w.b, sizeof(w.b), 0x00, inner.n);
    assert_true(h > 0 && (size_t)h + inner.n <= sizeof(w.b));
    memcpy(w.b + h, inner.b, inner.n);
    w.n = (size_t)h + inner.n;
    return w;
}

static inline wire cat(wire a, wire b)
{
    assert_true(a.n + b.n <= sizeof(a.b));
    memcpy(a.b + a.n, b.b, b.n);
    a.n += b.n;
    return a;
}

/* Feeds bytes to a session's stream; returns the last result (bytes consumed or an error). */
static inline masque_ssize read_wire(masque_session *s, wire w, uint64_t now)
{
    size_t off = 0;
    while (off < w.n) {
        masque_packet pkt;
        masque_ssize r = masque_session_read_stream(s, w.b + off, w.n - off, now, &pkt);
        if (r <= 0) {
            return r;
        }
        off += (size_t)r;
    }
    return (masque_ssize)w.n;
}

/* What the session writes on its stream next, as wire bytes. */
static inline wire written(masque_session *s)
{
    wire w;
    masque_ssize n = masque_session_write_stream(s, w.b, sizeof(w.b));
    assert_true(n >= 0);
    w.n = (size_t)n;
    return w;
}

static inline int same_wire(wire a, wire b)
{
    return a.n == b.n && memcmp(a.b, b.b, a.n) == 0;
}

#endif /* MASQUE_TEST_BUILDERS_H */
