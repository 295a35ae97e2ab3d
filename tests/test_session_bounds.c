/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The session's bounded memory against a peer that pushes it: Context IDs remembered for the
 * life of the request when the table is full, oversized DATAGRAM capsules judged without
 * buffering, the control-capsule queue and the event ring at their limits (also in the
 * minimal configuration, whose queue is 8 and whose ring is 4), and the proxy's families.
 */
#include "builders.h"
#include "session_util.h"

#define BRIM_CAP    4
#define BRIM_ROUNDS 12

/* Feeds bytes to e; returns what the session returned for the last call. */
static masque_ssize feed(endpoint *e, const uint8_t *b, size_t n, uint64_t now)
{
    size_t off = 0;
    while (off < n) {
        masque_packet pkt;
        masque_ssize r = masque_session_read_stream(&e->s, b + off, n - off, now, &pkt);
        if (r <= 0) {
            return r;
        }
        off += (size_t)r;
    }
    return (masque_ssize)n;
}

static void drain_events(endpoint *e)
{
    masque_event ev;
    while (masque_session_poll_event(&e->s, &ev)) {
    }
}

/* The type of the single capsule e answers with (0 when none), checking its Context ID. */
static uint64_t answer(endpoint *e, uint64_t id)
{
    uint8_t out[64];
    masque_capsule c;
    uint64_t got = 0;
    masque_ssize w = masque_session_write_stream(&e->s, out, sizeof(out));
    assert_true(w >= 0);
    drain_events(e);
    if (w == 0) {
        return 0;
    }
    assert_int_equal(masque_capsule_decode(&c, out, (size_t)w), w); /* exactly one capsule */
    assert_int_equal(masque_varint_decode(&got, c.value, c.length), (masque_ssize)c.length);
    assert_true(got == id);
    return c.type;
}

/* The client ASSIGNs `id` for 192.0.2.1:port at proxy p; returns the session's result. */
static masque_ssize client_assign(endpoint *p, uint64_t id, uint16_t port)
{
    char text[32];
    snprintf(text, sizeof(text), "192.0.2.1:%u", (unsigned)port);
    return read_wire(&p->s, assign(id, text), 0);
}

static void client_close(endpoint *p, uint64_t id)
{
    wire w = close_capsule(id);
    assert_int_equal(read_wire(&p->s, w, 0), (masque_ssize)w.n);
    assert_true(answer(p, id) == 0);
}

/*
 * A proxy whose table of BRIM_CAP entries is filled to the brim, round after round: the
 * uncompressed context and three compressed ones open, one more ASSIGN refused for want of
 * room, then the three closed. Records every Context ID the client used in ids.
 */
static size_t brim_history(endpoint *p, int rounds, uint64_t *ids)
{
    size_t n = 0;
    uint64_t next = 4;
    uint16_t port = 1;
    int r;
    endpoint_init(p, MASQUE_ROLE_PROXY, NULL, BRIM_CAP);
    assert_int_equal(feed_hex(p, "11 02 02 00", 0), 4);
    assert_true(answer(p, 2) == MASQUE_CAPSULE_TYPE_COMPRESSION_ACK);
    ids[n++] = 2;
    for (r = 0; r < rounds; r++) {
        uint64_t opened[3];
        int k;
        for (k = 0; k < 3; k++) {
            opened[k] = next;
            assert_true(client_assign(p, next, port++) > 0);
            assert_true(answer(p, next) == MASQUE_CAPSULE_TYPE_COMPRESSION_ACK);
            ids[n++] = next;
            next += 2;
        }
        /* The brim: every slot is open, so this one is refused and must still be known. */
        assert_true(client_assign(p, next, port++) > 0);
        assert_true(answer(p, next) == MASQUE_CAPSULE_TYPE_COMPRESSION_CLOSE);
        ids[n++] = next;
        next += 2;
        for (k = 0; k < 3; k++) {
            client_close(p, opened[k]);
        }
    }
    return n;
}

static void test_BIND_10_BIND_31_UDP_9_closed_ids_never_come_back_in_a_full_table(void **state)
{
    static endpoint p;
    uint64_t ids[1 + BRIM_ROUNDS * 4];
    size_t n = brim_history(&p, BRIM_ROUNDS, ids);
    size_t i;
    (void)state;
    /* Far more cycles than slots: the table had to let go of most of these IDs. */
    assert_true(n > 8 * BRIM_CAP);
    for (i = 0; i < n; i++) {
        masque_ssize rc;
        uint64_t type;
        (void)brim_history(&p, BRIM_ROUNDS, ids);
        rc = client_assign(&p, ids[i], 60000);
        if (rc < 0) {
            /* Still remembered: a repeated ID is malformed (-10 §3.1). */
            assert_int_equal(rc, MASQUE_ERR_DUPLICATE_CONTEXT_ID);
            continue;
        }
        /* Forgotten: refused, never accepted again (-13 §3.3). */
        type = answer(&p, ids[i]);
        assert_true(type == MASQUE_CAPSULE_TYPE_COMPRESSION_CLOSE);
        assert_int_equal(masque_context_open_count(&p.s.table), 1);
    }
    /* A new, higher ID is still welcome. */
    (void)brim_history(&p, BRIM_ROUNDS, ids);
    assert_true(client_assign(&p, ids[n - 1] + 2, 60000) > 0);
    assert_true(answer(&p, ids[n - 1] + 2) == MASQUE_CAPSULE_TYPE_COMPRESSION_ACK);
}

static void test_BIND_31_table_never_accepts_a_retired_id(void **state)
{
    static uint64_t storage[256];
    masque_context_table t;
    masque_context *c = NULL;
    masque_address a = addr4(192, 0, 2, 1, 1);
    uint64_t id;
    (void)state;
    assert_int_equal(masque_context_table_init(&t, storage, sizeof(storage), 2, 7), MASQUE_OK);
    for (id = 2; id <= 40; id += 2) {
        a.port = (uint16_t)id;
        assert_int_equal(masque_context_insert(&t, id, &a, MASQUE_CONTEXT_ACTIVE, 0, 0, &c),
                         MASQUE_OK);
        masque_context_close(&t, c);
    }
    for (id = 2; id <= 40; id += 2) {
        int rc = masque_context_insert(&t, id, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL);
        assert_true(rc == MASQUE_ERR_DUPLICATE_CONTEXT_ID || rc == MASQUE_ERR_CONTEXT_ID_RETIRED);
        assert_int_equal(masque_context_id_retired(&t, id), rc == MASQUE_ERR_CONTEXT_ID_RETIRED);
    }
    /* The other parity is a separate sequence: odd IDs are untouched. */
    assert_int_equal(masque_context_id_retired(&t, 3), 0);
    /* Retiring an ID with every slot open raises the mark. */
    assert_int_equal(masque_context_insert(&t, 41, NULL, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_OK);
    a.port = 41;
    assert_int_equal(masque_context_insert(&t, 43, &a, MASQUE_CONTEXT_ACTIVE, 0, 0, NULL),
                     MASQUE_OK);
    masque_context_retire(&t, 45);
    assert_int_equal(masque_context_id_retired(&t, 45), 1);
    assert_int_equal(masque_context_id_retired(&t, 47), 0);
}

/* A client with a table of `capacity` whose uncompressed context (2) the proxy acknowledged. */
static void client_with_uncompressed(endpoint *c, size_t capacity)
{
    endpoint_init(c, MASQUE_ROLE_CLIENT, NULL, capacity);
    assert_int_equal(masque_session_open_uncompressed(&c->s, 0, NULL), MASQUE_OK);
    assert_true(same_wire(written(&c->s), assign(2, NULL)));
    assert_int_equal(read_wire(&c->s, ack(2), 0), 3);
}

/* The client's side of -13 §3.3: a Context ID of the proxy's that its table of BRIM_CAP let
 * go of is refused with COMPRESSION_CLOSE, never accepted again; one it still remembers is a
 * repeat, malformed (-10 §3.1). */
static void test_BIND_31_a_client_refuses_an_id_of_the_proxys_it_let_go_of(void **state)
{
    static endpoint c;
    masque_event ev;
    uint64_t id;
    (void)state;
    client_with_uncompressed(&c, BRIM_CAP);
    /* The proxy registers three contexts, closes them, then registers three more: the new
     * ones take the places of the closed ones, whose IDs the table no longer holds. */
    for (id = 3; id <= 13; id += 2) {
        assert_true(read_wire(&c.s, assign_port(id, (uint16_t)id), 0) > 0);
        assert_true(answer(&c, id) == MASQUE_CAPSULE_TYPE_COMPRESSION_ACK);
        if (id == 7) {
            client_close(&c, 3);
            client_close(&c, 5);
            client_close(&c, 7);
        }
    }
    assert_int_equal(masque_context_open_count(&c.s.table), 4);
    assert_null(masque_context_find(&c.s.table, 3));
    /* 3 again, for a tuple no context has: refused, not accepted. */
    assert_true(read_wire(&c.s, assign_port(3, 60000), 0) > 0);
    assert_int_equal(masque_session_poll_event(&c.s, &ev), 1);
    assert_int_equal(ev.kind, MASQUE_EVENT_PEER_CONTEXT_REFUSED);
    assert_true(ev.context_id == 3u);
    assert_int_equal(ev.reason, MASQUE_ERR_CONTEXT_ID_RETIRED);
    assert_true(answer(&c, 3) == MASQUE_CAPSULE_TYPE_COMPRESSION_CLOSE);
    assert_int_equal(masque_context_open_count(&c.s.table), 4);
    assert_int_equal(masque_session_error(&c.s), 0);
    /* 9, still open: a repeat. */
    assert_int_equal(read_wire(&c.s, assign_port(9, 60001), 0), MASQUE_ERR_DUPLICATE_CONTEXT_ID);
}

/* -10 §9 from the client's side: ACKs and CLOSEs for the proxy's registrations that pile up
 * unwritten are bounded; the registration beyond the bound aborts the stream. */
static void test_BIND_30_a_client_bounds_its_responses_too(void **state)
{
    static endpoint c;
    size_t responses = 0;
    uint64_t id;
    (void)state;
    client_with_uncompressed(&c, TABLE_CAP);
    for (id = 3;; id += 2) {
        masque_ssize rc = read_wire(&c.s, assign_port(id, (uint16_t)id), 0);
        drain_events(&c);
        if (rc < 0) {
            assert_int_equal(rc, MASQUE_ERR_PENDING_LIMIT);
            break;
        }
        responses++;
        assert_true(id < 2u * TABLE_CAP);
    }
    assert_int_equal(responses, MASQUE_SESSION_DEFAULT_MAX_PENDING);
    assert_int_equal(masque_session_error(&c.s), MASQUE_ERR_PENDING_LIMIT);
    assert_true(masque_h3_error_for(MASQUE_ERR_PENDING_LIMIT) == MASQUE_H3_EXCESSIVE_LOAD);
}

/* A DATAGRAM capsule header announcing `length` bytes, then the first value bytes. */
static size_t oversized_header(uint8_t *out, uint64_t length, const uint8_t *first, size_t n)
{
    size_t h = 0;
    out[h++] = 0x00; /* DATAGRAM */
    h += (size_t)masque_varint_encode(out + h, 8, length);
    memcpy(out + h, first, n);
    return h + n;
}

static void test_DG_18_UDP_12_oversized_capsule_of_unknown_id_is_discarded_unbuffered(void **state)
{
    static endpoint e;
    static uint8_t zeros[1500];
    uint8_t head[16];
    masque_session_stats st;
    size_t h;
    size_t sent = 0;
    const uint64_t length = 1u << 20;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    /* A 1 MiB capsule for Context ID 9 (a two-byte, non-minimal varint), cut everywhere. */
    h = oversized_header(head, length, (const uint8_t *)"\x40\x09", 2);
    for (sent = 0; sent < h; sent++) {
        assert_int_equal(feed(&e, head + sent, 1, 0), 1);
    }
    for (sent = 2; sent < length; sent += sizeof(zeros)) {
        size_t n = length - sent < sizeof(zeros) ? (size_t)(length - sent) : sizeof(zeros);
        assert_int_equal(feed(&e, zeros, n, 0), (masque_ssize)n);
    }
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_unknown_context == 1u);
    assert_true(st.datagrams_received == 0u);
    /* The stream goes on: the next capsule is parsed. */
    assert_int_equal(feed_hex(&e, "11 08 04 04 c000022a 04d2", 0), 10);
    assert_int_equal(masque_session_error(&e.s), 0);
    assert_int_equal(masque_context_open_count(&e.s.table), 2);
}

static void test_DG_18_UDP_11_oversized_capsule_is_judged_by_its_context_id(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_session_stats st;
    uint8_t head[16];
    uint8_t filler[300];
    size_t h;
    (void)state;
    memset(filler, 0, sizeof(filler));
    /* Above a limit the host chose, but legal: discarded and counted (DG-18). */
    memset(&cfg, 0, sizeof(cfg));
    cfg.policy = &allow_all;
    cfg.max_datagram_capsule = 100;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  11 08 04 04 c000022a 04d2", 0), 14);
    h = oversized_header(head, 200, (const uint8_t *)"\x04", 1);
    assert_int_equal(feed(&e, head, h, 0), (masque_ssize)h);
    assert_int_equal(feed(&e, filler, 199, 0), 199);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_oversized == 1u);
    assert_true(st.datagrams_received == 0u);
    assert_int_equal(masque_session_error(&e.s), 0);
    /* Longer than any UDP payload on an open context: the stream is aborted once the Context
     * ID is in, before the payload is read (RFC 9298 §5, UDP-11). */
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  11 08 04 04 c000022a 04d2", 0), 14);
    h = oversized_header(head, 1 + 65527 + 1 + MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX, head, 0);
    head[h++] = 0x04;
    assert_int_equal(feed(&e, head, h, 0), MASQUE_ERR_PAYLOAD_TOO_LARGE);
    /* Context ID 0 for a concrete target: RFC 9298 §5 MUST abort. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.concrete_target = 1;
    cfg.fixed_target = addr4(192, 0, 2, 7, 53);
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    h = oversized_header(head, 70000, (const uint8_t *)"\x00", 1);
    assert_int_equal(feed(&e, head, h, 0), MASQUE_ERR_PAYLOAD_TOO_LARGE);
    /* Context ID 0 under `*` (-13 §3). */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed(&e, head, h, 0), MASQUE_ERR_CONTEXT_ID_ZERO);
    /* The strict option: the Length alone aborts. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.abort_on_oversized_capsule = 1;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(feed(&e, head, h - 1, 0), MASQUE_ERR_CAPSULE_LENGTH);
    assert_true(masque_h3_error_for(MASQUE_ERR_CAPSULE_LENGTH) == MASQUE_H3_MESSAGE_ERROR);
}

/* DATAGRAM capsules above the host's limit that carry no datagram for this end, at a client
 * (DG-18): Context ID 0 where the host lets such datagrams be dropped, and a capsule that ends
 * inside its Context ID. Each is dropped and counted as a small one would be. */
static void test_DG_18_a_client_drops_oversized_capsules_it_has_no_use_for(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_session_stats st;
    uint8_t head[16];
    uint8_t filler[300];
    size_t h;
    (void)state;
    memset(filler, 0, sizeof(filler));
    /* Context ID 0 under `*`, where the host lets such datagrams be dropped (-13 §3). */
    memset(&cfg, 0, sizeof(cfg));
    cfg.drop_context_id_zero = 1;
    cfg.max_datagram_capsule = 100;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    h = oversized_header(head, 200, (const uint8_t *)"\x00", 1);
    assert_int_equal(feed(&e, head, h, 0), (masque_ssize)h);
    assert_int_equal(feed(&e, filler, 199, 0), 199);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_context_id_zero == 1u);
    assert_int_equal(masque_session_error(&e.s), 0);
    /* A capsule that ends inside its Context ID (an 8-byte varint cut after 2 bytes) has no
     * datagram in it: dropped and counted as malformed, oversized or not, and the stream goes
     * on. */
    cfg.max_datagram_capsule = 1;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    h = oversized_header(head, 2, (const uint8_t *)"\xc0\x00", 2);
    assert_int_equal(feed(&e, head, h, 0), (masque_ssize)h);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_malformed == 1u);
    assert_true(st.dropped_oversized == 0u);
    cfg.max_datagram_capsule = 0;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(feed(&e, head, h, 0), (masque_ssize)h);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_malformed == 1u);
    assert_int_equal(feed_hex(&e, "11 08 03 04 c000022a 04d2", 0), 10);
    assert_int_equal(masque_session_error(&e.s), 0);
}

static void test_BIND_30_pending_bound_fits_the_queue_and_no_capsule_is_lost(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    uint8_t out[4096];
    uint8_t acked[256];
    size_t local = 0;
    size_t responses = 0;
    size_t off = 0;
    masque_ssize w;
    uint64_t id;
    (void)state;
    assert_true(MASQUE_SESSION_DEFAULT_MAX_PENDING > 0);
    assert_true(MASQUE_SESSION_DEFAULT_MAX_PENDING < MASQUE_SESSION_QUEUE_LEN);
#if MASQUE_ENABLE_ARG_CHECKS /* config.h: settings are trusted without them */
    /* A bound that would leave local capsules no room is refused at init. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_pending_responses = MASQUE_SESSION_QUEUE_LEN;
    assert_int_equal(masque_session_init(&e.s, &cfg, e.storage, sizeof(e.storage), 0),
                     MASQUE_ERR_INVALID_ARGUMENT);
#else
    (void)cfg;
#endif
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    assert_true(answer(&e, 2) == MASQUE_CAPSULE_TYPE_COMPRESSION_ACK);
    /* Fill the local share of the queue with the proxy's own ASSIGNs... */
    for (;;) {
        masque_address t = addr4(192, 0, 2, 9, (uint16_t)(100 + local));
        int rc = masque_session_open_context(&e.s, &t, 0, NULL);
        if (rc == MASQUE_ERR_QUEUE_FULL) {
            break;
        }
        assert_int_equal(rc, MASQUE_OK);
        local++;
    }
    assert_int_equal(local, MASQUE_SESSION_QUEUE_LEN - MASQUE_SESSION_DEFAULT_MAX_PENDING);
    /* ...then let the client's ASSIGNs pile up responses until the bound aborts. */
    for (id = 4;; id += 2) {
        masque_ssize rc = client_assign(&e, id, (uint16_t)id);
        drain_events(&e);
        if (rc < 0) {
            assert_int_equal(rc, MASQUE_ERR_PENDING_LIMIT);
            break;
        }
        responses++;
    }
    assert_int_equal(responses, MASQUE_SESSION_DEFAULT_MAX_PENDING);
    /* Every queued capsule comes out once, in order: none lost, none twice. */
    w = masque_session_write_stream(&e.s, out, sizeof(out));
    assert_true(w > 0);
    memset(acked, 0, sizeof(acked));
    while (off < (size_t)w) {
        masque_capsule c;
        masque_ssize n = masque_capsule_decode(&c, out + off, (size_t)w - off);
        assert_true(n > 0);
        if (c.type == MASQUE_CAPSULE_TYPE_COMPRESSION_ACK) {
            assert_true(masque_varint_decode(&id, c.value, c.length) > 0);
            assert_true(id < sizeof(acked) && acked[id] == 0);
            acked[id] = 1;
            responses--;
        } else {
            assert_true(c.type == MASQUE_CAPSULE_TYPE_COMPRESSION_ASSIGN);
            local--;
        }
        off += (size_t)n;
    }
    assert_int_equal(responses, 0);
    assert_int_equal(local, 0);
}

static void test_events_wait_for_room_and_are_never_lost(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_event ev;
    size_t compressed = MASQUE_SESSION_EVENT_LEN - 2; /* + the uncompressed: ring full but one */
    size_t closed = 0;
    size_t i;
    uint64_t now = 200;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.policy = &allow_all;
    cfg.idle_timeout_ms = 100;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    assert_int_equal(masque_session_write_stream(&e.s, NULL, 0), MASQUE_ERR_BUFFER);
    assert_true(answer(&e, 2) == MASQUE_CAPSULE_TYPE_COMPRESSION_ACK);
    for (i = 0; i < compressed; i++) {
        uint8_t out[64];
        assert_true(client_assign(&e, 4 + 2 * i, (uint16_t)(1 + i)) > 0);
        assert_true(masque_session_write_stream(&e.s, out, sizeof(out)) > 0);
    }
    /* Every compressed context is idle; the ring has room for one event only. */
    while (closed < compressed) {
        size_t events = 0;
        assert_int_equal(masque_session_tick(&e.s, now), MASQUE_OK);
        if (masque_context_open_count(&e.s.table) > 1) {
            assert_true(masque_session_next_timeout(&e.s) <= now + 1); /* it will retry */
        }
        while (masque_session_poll_event(&e.s, &ev)) {
            events++;
            if (ev.kind == MASQUE_EVENT_CONTEXT_CLOSED) {
                closed++;
            }
        }
        assert_true(events <= MASQUE_SESSION_EVENT_LEN);
        /* Each CLOSE queued has its event: the two counts agree at every step. */
        assert_int_equal(masque_context_open_count(&e.s.table), 1 + compressed - closed);
        {
            uint8_t out[256];
            (void)masque_session_write_stream(&e.s, out, sizeof(out));
        }
        now++;
    }
    assert_int_equal(closed, compressed);
}

#if MASQUE_ENABLE_AUTO_COMPRESS
static int count_opened(endpoint *e)
{
    masque_event ev;
    int opened = 0;
    while (masque_session_poll_event(&e->s, &ev)) {
        opened += ev.kind == MASQUE_EVENT_CONTEXT_OPENED;
    }
    return opened;
}

static void send_to(endpoint *e, const masque_address *t)
{
    uint8_t buf[MASQUE_BIND_HEADROOM + 8];
    masque_datagram_path path;
    assert_true(masque_session_write_datagram(&e->s, t, buf + MASQUE_BIND_HEADROOM,
                                              MASQUE_BIND_HEADROOM, 8, 0, &path) > 0);
}

static void test_BIND_32_auto_compression_waits_for_event_room(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_address a = addr4(203, 0, 113, 11, 4321);
    masque_address b = addr4(203, 0, 113, 12, 4321);
    uint8_t out[256];
    size_t i;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.auto_compress_after = 1;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_true(masque_session_write_stream(&e.s, out, sizeof(out)) > 0);
    assert_int_equal(read_wire(&e.s, ack(2), 0), 3);
    /* ACKs of the host's own registrations fill the ring but one slot. */
    for (i = 0; i + 2 < MASQUE_SESSION_EVENT_LEN; i++) {
        masque_address other = addr4(198, 51, 100, 1, (uint16_t)(1 + i));
        uint64_t id;
        assert_int_equal(masque_session_open_context(&e.s, &other, 0, &id), MASQUE_OK);
        assert_true(masque_session_write_stream(&e.s, out, sizeof(out)) > 0);
        assert_int_equal(read_wire(&e.s, ack(id), 0), 3);
    }
    send_to(&e, &a); /* registers A: the last slot */
    assert_non_null(masque_context_find_tuple(&e.s.table, &a));
    send_to(&e, &b); /* the ring is full: B waits */
    assert_null(masque_context_find_tuple(&e.s.table, &b));
    assert_int_equal(count_opened(&e), 1);
    send_to(&e, &b);
    assert_non_null(masque_context_find_tuple(&e.s.table, &b));
    assert_int_equal(count_opened(&e), 1); /* registered once, and reported */
}
#endif

static void test_BIND_27_proxy_refuses_families_it_did_not_advertise(void **state)
{
    static endpoint e;
    masque_address v6;
    masque_session_config cfg;
    masque_event ev;
    masque_packet pkt;
    masque_session_stats st;
    uint8_t d[64];
    size_t n;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.policy = &allow_all;
    cfg.advertised_families = MASQUE_FAMILY_V4;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    /* ASSIGN 4 for [2001:db8::1]:443: refused with CLOSE, not a stream error. */
    masque_address_set_v6(&v6, (const uint8_t *)"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 443);
    assert_int_equal(read_wire(&e.s, cat(assign(2, NULL), assign_to(4, &v6)), 0), 26);
    assert_true(same_wire(written(&e.s), cat(ack(2), close_capsule(4))));
    assert_int_equal(masque_session_poll_event(&e.s, &ev), 1);
    assert_int_equal(masque_session_poll_event(&e.s, &ev), 1);
    assert_int_equal(ev.kind, MASQUE_EVENT_PEER_CONTEXT_REFUSED);
#if MASQUE_ENABLE_IPV6
    assert_int_equal(ev.reason, MASQUE_ERR_FAMILY_NOT_ADVERTISED);
#endif
    assert_int_equal(masque_session_error(&e.s), 0);
    /* An uncompressed datagram to an IPv6 target is dropped and counted. */
    n = hex_to_bytes("02 06 20010db8000000000000000000000001 01bb aabb", d, sizeof(d));
    assert_int_equal(masque_session_read_datagram(&e.s, d, n, 0, &pkt), 0);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_policy + st.dropped_malformed == 1u);
    /* IPv4 is advertised: accepted. */
    assert_int_equal(read_wire(&e.s, assign(6, "192.0.2.42:1234"), 0), 10);
    assert_true(same_wire(written(&e.s), ack(6)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_BIND_10_BIND_31_UDP_9_closed_ids_never_come_back_in_a_full_table),
        cmocka_unit_test(test_BIND_31_table_never_accepts_a_retired_id),
        cmocka_unit_test(test_BIND_31_a_client_refuses_an_id_of_the_proxys_it_let_go_of),
        cmocka_unit_test(test_BIND_30_a_client_bounds_its_responses_too),
        cmocka_unit_test(test_DG_18_UDP_12_oversized_capsule_of_unknown_id_is_discarded_unbuffered),
        cmocka_unit_test(test_DG_18_UDP_11_oversized_capsule_is_judged_by_its_context_id),
        cmocka_unit_test(test_DG_18_a_client_drops_oversized_capsules_it_has_no_use_for),
        cmocka_unit_test(test_BIND_30_pending_bound_fits_the_queue_and_no_capsule_is_lost),
        cmocka_unit_test(test_events_wait_for_room_and_are_never_lost),
#if MASQUE_ENABLE_AUTO_COMPRESS
        cmocka_unit_test(test_BIND_32_auto_compression_waits_for_event_room),
#endif
        cmocka_unit_test(test_BIND_27_proxy_refuses_families_it_did_not_advertise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
