/* SPDX-License-Identifier: GPL-3.0-only */
/* Helpers for the suites that drive sessions: an endpoint (session + table + storage). */
#ifndef MASQUE_SESSION_UTIL_H
#define MASQUE_SESSION_UTIL_H

#include "testutil.h"

#include "internal/context.h" /* white-box: tests read the table as the session does */
#include "masque/session.h"

#define TABLE_CAP 64

typedef struct endpoint {
    masque_session s;
    uint64_t storage[1024];
} endpoint;

static const masque_policy allow_all = {NULL, 0, NULL, NULL, 1};

static inline void endpoint_init(endpoint *e, masque_role role, const masque_session_config *base,
                                 size_t capacity)
{
    masque_session_config cfg;
    size_t need = MASQUE_CONTEXT_TABLE_STORAGE_SIZE(capacity);
    if (role == MASQUE_ROLE_PROXY) {
        MASQUE_REQUIRE(MASQUE_ENABLE_PROXY); /* the client profile has no proxy role */
    }
    memset(e, 0, sizeof(*e));
    if (base != NULL) {
        cfg = *base;
    } else {
        memset(&cfg, 0, sizeof(cfg));
        cfg.policy = &allow_all; /* the appendix uses documentation addresses */
    }
    cfg.role = role;
    cfg.quarter_stream_id = 11; /* stream 44, as in the appendix */
    if (cfg.hash_seed == 0) {
        cfg.hash_seed = 0x1234;
    }
    assert_true(need <= sizeof(e->storage));
    assert_int_equal(masque_session_init(&e->s, &cfg, e->storage, need, 0), MASQUE_OK);
}

static inline masque_address addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    masque_address x;
    const uint8_t ip[4] = {a, b, c, d};
    masque_address_set_v4(&x, ip, port);
    return x;
}

/* Feeds hex as stream bytes; returns the result of the last call. */
static inline masque_ssize feed_hex(endpoint *e, const char *hex, uint64_t now)
{
    uint8_t buf[256];
    size_t n = hex_to_bytes(hex, buf, sizeof(buf));
    masque_packet pkt;
    return masque_session_read_stream(&e->s, buf, n, now, &pkt);
}

/* Snapshot of what must not change when a capsule is rejected as malformed. */
typedef struct snapshot {
    uint64_t storage[1024];
    size_t queued;
    size_t events;
    size_t open;
} snapshot;

static inline void take(const endpoint *e, snapshot *s)
{
    memcpy(s->storage, e->storage, sizeof(s->storage));
    s->queued = masque_session_queued_capsules(&e->s);
    s->events = e->s.event_count;
    s->open = masque_context_open_count(&e->s.table);
}

#endif /* MASQUE_SESSION_UTIL_H */
