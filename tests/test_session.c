/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The Bind session state machine: each requirement of REQUIREMENTS.md that the session layer
 * enforces, the -10 appendix replayed between a client and a proxy, and a property test.
 */
#include "testutil.h"

#include "masque/session.h"
#include "session_util.h"

#define PAYLOAD     "Encapsulated UDP Payload"
#define PAYLOAD_HEX "456e63617073756c6174656420554450205061796c6f6164"

/* Writes e's queued capsules and checks them against hex. */
static void expect_stream(endpoint *e, const char *hex)
{
    uint8_t want[256];
    uint8_t got[256];
    size_t n = hex_to_bytes(hex, want, sizeof(want));
    masque_ssize w = masque_session_write_stream(&e->s, got, sizeof(got));
    assert_int_equal(w, (masque_ssize)n);
    assert_memory_equal(got, want, n);
}

/* Moves every queued capsule from a to b. */
static void pump(endpoint *a, endpoint *b, uint64_t now)
{
    uint8_t buf[4096];
    masque_ssize w = masque_session_write_stream(&a->s, buf, sizeof(buf));
    size_t off = 0;
    assert_true(w >= 0);
    while (off < (size_t)w) {
        masque_packet pkt;
        masque_ssize n = masque_session_read_stream(&b->s, buf + off, (size_t)w - off, now, &pkt);
        assert_true(n >= 0);
        off += (size_t)n;
    }
}

static masque_event expect_event(endpoint *e, masque_event_kind kind, uint64_t id)
{
    masque_event ev;
    assert_int_equal(masque_session_poll_event(&e->s, &ev), 1);
    assert_int_equal(ev.kind, kind);
    assert_true(ev.context_id == id);
    return ev;
}

static void expect_no_event(endpoint *e)
{
    masque_event ev;
    assert_int_equal(masque_session_poll_event(&e->s, &ev), 0);
}

/* Frames PAYLOAD from e toward its peer and checks the bytes; returns their length. */
static void expect_send(endpoint *e, const masque_address *peer, const char *hex)
{
    uint8_t buf[MASQUE_BIND_HEADROOM + 64];
    uint8_t want[128];
    uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
    size_t n = hex_to_bytes(hex, want, sizeof(want));
    masque_datagram_path path;
    masque_ssize h;
    memcpy(payload, PAYLOAD, 24);
    h = masque_session_write_datagram(&e->s, peer, payload, MASQUE_BIND_HEADROOM, 24, 0, &path);
    assert_true(h > 0);
    assert_int_equal((size_t)h + 24, n);
    assert_memory_equal(payload - h, want, n);
}

/* Delivers a QUIC DATAGRAM frame payload (hex, Quarter Stream ID included) to e. */
static int receive_h3(endpoint *e, const char *hex, masque_packet *pkt)
{
    static uint8_t d[70000];
    size_t n = hex_to_bytes(hex, d, sizeof(d));
    masque_h3_datagram h3;
    assert_int_equal(masque_h3_datagram_decode(&h3, d, n), (masque_ssize)n);
    assert_true(h3.quarter_stream_id == 11u);
    return masque_session_read_datagram(&e->s, h3.payload, h3.payload_len, 0, pkt);
}

static void expect_packet(endpoint *e, const char *hex, const masque_address *peer)
{
    masque_packet pkt;
    assert_int_equal(receive_h3(e, hex, &pkt), 1);
    assert_true(masque_address_equal(&pkt.peer, peer));
    assert_int_equal(pkt.payload_len, 24);
    assert_memory_equal(pkt.payload, PAYLOAD, 24);
}

static void test_appendix_exchange_replayed_byte_for_byte(void **state)
{
    static endpoint client;
    static endpoint proxy;
    masque_address t1 = addr4(192, 0, 2, 42, 1234);
    masque_address t2 = addr4(203, 0, 113, 11, 4321);
    masque_session_stats st;
    uint64_t id = 0;
    uint8_t buf[64];
    masque_datagram_path path;
    (void)state;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    endpoint_init(&proxy, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);

    /* Register Context ID 2 to be used for uncompressed UDP payloads. */
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, &id), MASQUE_OK);
    assert_true(id == 2u);
    expect_stream(&client, "11 02 02 00");
    assert_int_equal(feed_hex(&proxy, "11 02 02 00", 0), 4);
    expect_event(&proxy, MASQUE_EVENT_PEER_CONTEXT_OPENED, 2);
    /* Proxy confirms registration. */
    expect_stream(&proxy, "12 01 02");
    assert_int_equal(feed_hex(&client, "12 01 02", 0), 3);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);

    /* Target talks to Client using the uncompressed context, and the client responds. */
    expect_send(&proxy, &t1, "0b 02 04 c000022a 04d2" PAYLOAD_HEX);
    expect_packet(&client, "0b 02 04 c000022a 04d2" PAYLOAD_HEX, &t1);
    expect_send(&client, &t1, "0b 02 04 c000022a 04d2" PAYLOAD_HEX);
    expect_packet(&proxy, "0b 02 04 c000022a 04d2" PAYLOAD_HEX, &t1);
    /* Another target talks to Client using the uncompressed context. */
    expect_send(&proxy, &t2, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX);
    expect_packet(&client, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX, &t2);
    expect_send(&client, &t2, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX);
    expect_packet(&proxy, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX, &t2);

    /* Register 203.0.113.11:4321 to compress it in the future. */
    assert_int_equal(masque_session_open_context(&client.s, &t2, 0, &id), MASQUE_OK);
    assert_true(id == 4u);
    expect_stream(&client, "11 08 04 04 cb00710b 10e1");
    assert_int_equal(feed_hex(&proxy, "11 08 04 04 cb00710b 10e1", 0), 10);
    expect_event(&proxy, MASQUE_EVENT_PEER_CONTEXT_OPENED, 4);
    expect_stream(&proxy, "12 01 04");
    assert_int_equal(feed_hex(&client, "12 01 04", 0), 3);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 4);

    /* Omit IP and Port for future packets intended for 203.0.113.11:4321. */
    expect_send(&client, &t2, "0b 04" PAYLOAD_HEX);
    expect_packet(&proxy, "0b 04" PAYLOAD_HEX, &t2);
    expect_send(&proxy, &t2, "0b 04" PAYLOAD_HEX);
    expect_packet(&client, "0b 04" PAYLOAD_HEX, &t2);

    /* Request packets without a compressed context to be dropped: close the uncompressed. */
    assert_int_equal(masque_session_close_context(&client.s, 2, 0), MASQUE_OK);
    expect_stream(&client, "13 01 02");
    assert_int_equal(feed_hex(&proxy, "13 01 02", 0), 3);
    expect_event(&proxy, MASQUE_EVENT_CONTEXT_CLOSED, 2);
    expect_no_event(&proxy);

    /* Context ID 4 traffic is accepted, other traffic is dropped at the proxy. */
    expect_send(&proxy, &t2, "0b 04" PAYLOAD_HEX);
    memcpy(buf + MASQUE_BIND_HEADROOM, PAYLOAD, 24);
    assert_int_equal(masque_session_write_datagram(&proxy.s, &t1, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 24, 0, &path),
                     MASQUE_ERR_UNREACHABLE);
    masque_session_get_stats(&proxy.s, &st);
    assert_true(st.dropped_unreachable == 1u);
    assert_int_equal(masque_session_write_stream(&proxy.s, buf, sizeof(buf)), 0);
}

/*
 * The client's half of the appendix, with the proxy's capsules and datagrams given as bytes:
 * no proxy session is needed, so it also runs in the client profile (config.h), where the
 * exchange above is skipped.
 */
static void test_appendix_client_side_byte_for_byte(void **state)
{
    static endpoint client;
    masque_address t1 = addr4(192, 0, 2, 42, 1234);
    masque_address t2 = addr4(203, 0, 113, 11, 4321);
    masque_packet pkt;
    uint64_t id = 0;
    (void)state;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);

    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, &id), MASQUE_OK);
    assert_true(id == 2u);
    expect_stream(&client, "11 02 02 00");
    assert_int_equal(feed_hex(&client, "12 01 02", 0), 3);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);

    expect_packet(&client, "0b 02 04 c000022a 04d2" PAYLOAD_HEX, &t1);
    expect_send(&client, &t1, "0b 02 04 c000022a 04d2" PAYLOAD_HEX);
    expect_packet(&client, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX, &t2);
    expect_send(&client, &t2, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX);

    assert_int_equal(masque_session_open_context(&client.s, &t2, 0, &id), MASQUE_OK);
    assert_true(id == 4u);
    expect_stream(&client, "11 08 04 04 cb00710b 10e1");
    assert_int_equal(feed_hex(&client, "12 01 04", 0), 3);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 4);
    expect_send(&client, &t2, "0b 04" PAYLOAD_HEX);
    expect_packet(&client, "0b 04" PAYLOAD_HEX, &t2);

    assert_int_equal(masque_session_close_context(&client.s, 2, 0), MASQUE_OK);
    expect_stream(&client, "13 01 02");
    /* A datagram on the closed context is dropped (-10 §3.3). */
    assert_int_equal(receive_h3(&client, "0b 02 04 c000022a 04d2" PAYLOAD_HEX, &pkt), 0);
    expect_packet(&client, "0b 04" PAYLOAD_HEX, &t2);
}

/* config.h: a build without the proxy role says so when asked for one, instead of running a
 * proxy with the client's rules. */
static void test_proxy_role_is_refused_where_it_is_compiled_out(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.role = MASQUE_ROLE_PROXY;
    assert_int_equal(masque_session_init(&e.s, &cfg, e.storage, sizeof(e.storage), 0),
                     MASQUE_ENABLE_PROXY ? MASQUE_OK : MASQUE_ERR_UNSUPPORTED);
    cfg.role = MASQUE_ROLE_CLIENT;
    assert_int_equal(masque_session_init(&e.s, &cfg, e.storage, sizeof(e.storage), 0), MASQUE_OK);
}

/* Settings out of range are refused before anything is written: a running session that is
 * given them stays as it was, and goes on. */
static void test_refused_settings_leave_the_session_as_it_was(void **state)
{
    static endpoint e;
    static masque_session before;
    masque_session_config cfg;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    size_t i;
    (void)state;
    MASQUE_REQUIRE(MASQUE_ENABLE_ARG_CHECKS); /* settings are trusted without them (config.h) */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    before = e.s;
    for (i = 0; i < 4; i++) {
        memset(&cfg, 0, sizeof(cfg));
        if (i == 0) {
            cfg.quarter_stream_id = MASQUE_QUARTER_STREAM_ID_MAX + 1;
        } else if (i == 1) {
            cfg.role = (masque_role)7;
        } else if (i == 2) {
            cfg.max_pending_responses = MASQUE_SESSION_QUEUE_LEN;
        } else {
            cfg.concrete_target = 1; /* without a target */
        }
        assert_int_equal(masque_session_init(&e.s, &cfg, e.storage, sizeof(e.storage), 0),
                         MASQUE_ERR_INVALID_ARGUMENT);
        assert_memory_equal(&e.s, &before, sizeof(before));
    }
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
}

/* What only the client is told to refuse from a proxy, checked without a proxy session. */
static void test_BIND_9_BIND_23_BIND_8_client_refuses_a_proxys_forbidden_assigns(void **state)
{
    static endpoint client;
    (void)state;
    /* BIND-9: a proxy's Context IDs are odd; an even one from it is malformed. */
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&client, "11 08 02 04 c000022a 04d2", 0), MASQUE_ERR_CONTEXT_PARITY);
    /* BIND-23: only clients request uncompressed contexts. */
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&client, "11 02 03 00", 0), MASQUE_ERR_UNCOMPRESSED_FROM_PROXY);
    /* BIND-8: Context ID 0 in an ASSIGN aborts. */
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&client, "11 08 00 04 c000022a 04d2", 0), MASQUE_ERR_CONTEXT_ID_ZERO);
    /* A valid odd ASSIGN from the proxy, with an uncompressed context open, is accepted. */
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&client, "12 01 02", 0), 3);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    expect_stream(&client, "11 02 02 00");
    assert_int_equal(feed_hex(&client, "11 08 03 04 c000022a 04d2", 0), 10);
    expect_event(&client, MASQUE_EVENT_PEER_CONTEXT_OPENED, 3);
    expect_stream(&client, "12 01 03");
}

/* Feeds a capsule that must be malformed with `code`, and checks nothing changed. */
static void expect_malformed(endpoint *e, const char *hex, int code)
{
    static snapshot before;
    static snapshot after;
    take(e, &before);
    assert_int_equal(feed_hex(e, hex, 1), code);
    take(e, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(masque_session_error(&e->s), code);
    /* From now on the stream is dead (RFC 9297 §3.3). */
    assert_int_equal(feed_hex(e, "12 01 02", 1), MASQUE_ERR_SESSION_FAILED);
    assert_int_equal(masque_session_open_uncompressed(&e->s, 1, NULL), MASQUE_ERR_SESSION_FAILED);
}

/* Checks what the host reads of context `id`: a copy of the table's entry. */
static void expect_info(const endpoint *e, uint64_t id, masque_context_state state, int by_peer,
                        const masque_address *target)
{
    masque_context_info info;
    assert_int_equal(masque_session_context_get(&e->s, id, &info), 1);
    assert_true(info.id == id);
    assert_int_equal(info.state, state);
    assert_int_equal(info.opened_by_peer != 0, by_peer);
    if (target == NULL) {
        assert_int_equal(info.target.version, 0); /* the uncompressed context (-10 §4) */
    } else {
        assert_true(masque_address_equal(&info.target, target));
    }
}

/* What a host reads of the table (session.h): copies of the contexts, by Context ID, by tuple
 * and in turn, with who registered them and when they were last used. A closed one is
 * remembered by its ID (-10 §3.3: it is never used again) and in no other view. */
static void test_host_reads_copies_of_the_contexts(void **state)
{
    static endpoint e;
    const masque_address mine = addr4(203, 0, 113, 11, 4321);
    const masque_address theirs = addr4(192, 0, 2, 42, 1234);
    const uint8_t datagram[] = {0x03, 'x'};
    masque_context_info info;
    masque_packet pkt;
    size_t cursor = 0;
    unsigned seen = 0;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_true(masque_session_quarter_stream_id(&e.s) == 11u);
    assert_int_equal(masque_session_context_capacity(&e.s), TABLE_CAP);
    assert_int_equal(masque_session_context_count(&e.s), 0);
    assert_int_equal(masque_session_context_next(&e.s, &cursor, &info), 0);
    assert_int_equal(masque_session_context_find(&e.s, NULL, &info), 0);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &mine, 0, NULL), MASQUE_OK);
    expect_stream(&e, "11 02 02 00  11 08 04 04 cb00710b 10e1");
    expect_info(&e, 2, MASQUE_CONTEXT_PENDING, 0, NULL);
    expect_info(&e, 4, MASQUE_CONTEXT_PENDING, 0, &mine);
    /* The proxy acknowledges the uncompressed context and registers one of its own. */
    assert_int_equal(feed_hex(&e, "12 01 02  11 08 03 04 c000022a 04d2", 7), 13);
    expect_info(&e, 2, MASQUE_CONTEXT_ACTIVE, 0, NULL);
    expect_info(&e, 3, MASQUE_CONTEXT_ACTIVE, 1, &theirs);
    assert_int_equal(masque_session_context_get(&e.s, 3, &info), 1);
    assert_true(info.last_active == 7u);
    assert_int_equal(masque_session_read_datagram(&e.s, datagram, 2, 9, &pkt), 1);
    assert_int_equal(masque_session_context_get(&e.s, 3, &info), 1);
    assert_true(info.last_active == 9u);
    /* A copy: changing it changes nothing in the session. */
    info.target.port = 1;
    expect_info(&e, 3, MASQUE_CONTEXT_ACTIVE, 1, &theirs);
    /* The proxy closes the client's registration: remembered as closed, in no other view. */
    assert_int_equal(feed_hex(&e, "13 01 04", 9), 3);
    expect_info(&e, 4, MASQUE_CONTEXT_CLOSED, 0, &mine);
    assert_int_equal(masque_session_context_find(&e.s, &mine, &info), 0);
    assert_int_equal(masque_session_context_get(&e.s, 5, &info), 0); /* never registered */
    assert_int_equal(masque_session_context_find(&e.s, &theirs, &info), 1);
    assert_true(info.id == 3u);
    assert_int_equal(masque_session_context_find(&e.s, NULL, &info), 1);
    assert_true(info.id == 2u);
    assert_int_equal(masque_session_context_count(&e.s), 2);
    /* In turn: each open context once, the closed one never. */
    cursor = 0;
    while (masque_session_context_next(&e.s, &cursor, &info)) {
        assert_true(info.id == 2u || info.id == 3u);
        assert_int_equal(seen & (1u << info.id), 0);
        seen |= 1u << info.id;
        expect_info(&e, info.id, MASQUE_CONTEXT_ACTIVE, info.id == 3u,
                    info.id == 3u ? &theirs : NULL);
    }
    assert_int_equal(seen, (1u << 2) | (1u << 3));
    assert_int_equal(masque_session_context_next(&e.s, &cursor, &info), 0); /* stays at the end */
    /* Acknowledged 2, opened 3, closed 4: waiting to be polled. */
    assert_int_equal(masque_session_queued_events(&e.s), 3);
    expect_event(&e, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    assert_int_equal(masque_session_queued_events(&e.s), 2);
    /* Nothing to read without a session or a place for the answer. */
    assert_int_equal(masque_session_context_get(NULL, 2, &info), 0);
    assert_int_equal(masque_session_context_get(&e.s, 2, NULL), 0);
    assert_int_equal(masque_session_context_find(NULL, NULL, &info), 0);
    assert_int_equal(masque_session_context_next(&e.s, NULL, &info), 0);
    assert_int_equal(masque_session_context_next(&e.s, &cursor, NULL), 0);
    assert_true(masque_session_quarter_stream_id(NULL) == 0u);
    assert_int_equal(masque_session_context_capacity(NULL), 0);
    assert_int_equal(masque_session_context_count(NULL), 0);
    assert_int_equal(masque_session_queued_events(NULL), 0);
}

static void test_DG_1_datagrams_belong_to_the_accepted_request(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    (void)state;
    /* Datagrams are framed for the request's own stream (Quarter Stream ID 11 = stream 44). */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    expect_send(&e, &t, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX);
#if MASQUE_ENABLE_ARG_CHECKS /* config.h: settings are trusted without them */
    /* A stream that is not a client-initiated bidirectional request cannot carry them. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.quarter_stream_id = MASQUE_QUARTER_STREAM_ID_MAX + 1;
    assert_int_equal(masque_session_init(&e.s, &cfg, e.storage, sizeof(e.storage), 0),
                     MASQUE_ERR_INVALID_ARGUMENT);
#else
    (void)cfg;
#endif
}

static void test_BIND_9_peer_context_id_with_wrong_parity_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    expect_malformed(&e, "11 02 03 00", MASQUE_ERR_CONTEXT_PARITY); /* odd from a client */
}

static void test_BIND_9_an_even_context_id_from_the_proxy_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    expect_malformed(&e, "11 08 04 04 c000022a 04d2", MASQUE_ERR_CONTEXT_PARITY);
}

static void test_BIND_9_local_ids_are_even_for_clients_and_odd_for_proxies(void **state)
{
    static endpoint c;
    static endpoint p;
    masque_address a = addr4(192, 0, 2, 1, 1);
    masque_address b = addr4(192, 0, 2, 2, 1);
    uint64_t id = 0;
    (void)state;
    endpoint_init(&c, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    endpoint_init(&p, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_context(&c.s, &a, 0, &id), MASQUE_OK);
    assert_true(id == 2u);
    assert_int_equal(masque_session_open_context(&c.s, &b, 0, &id), MASQUE_OK);
    assert_true(id == 4u);
    assert_int_equal(feed_hex(&p, "11 02 02 00", 0), 4); /* the proxy needs uncompressed open */
    assert_int_equal(masque_session_open_context(&p.s, &a, 0, &id), MASQUE_OK);
    assert_true(id == 1u);
    assert_int_equal(masque_session_open_context(&p.s, &b, 0, &id), MASQUE_OK);
    assert_true(id == 3u);
}

/*
 * The capsule rules below hold for both roles: each test checks the client, then the proxy
 * where the build has one (the client profile of config.h has not).
 */
static void test_BIND_8_assign_with_context_id_0_aborts_the_session(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "11 02 00 00", MASQUE_ERR_CONTEXT_ID_ZERO);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    expect_malformed(&e, "11 02 00 00", MASQUE_ERR_CONTEXT_ID_ZERO);
}

static void test_BIND_18_close_with_context_id_0_aborts_the_session(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "13 01 00", MASQUE_ERR_CONTEXT_ID_ZERO);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    expect_malformed(&e, "13 01 00", MASQUE_ERR_CONTEXT_ID_ZERO);
}

static void test_BIND_5_assign_with_ip_version_5_aborts_the_session(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "11 08 03 05 c000022a 04d2", MASQUE_ERR_IP_VERSION);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    expect_malformed(&e, "11 08 02 05 c000022a 04d2", MASQUE_ERR_IP_VERSION);
}

static void
test_BIND_10_BIND_31_UDP_9_repeated_context_id_is_malformed_even_after_close(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    expect_malformed(&e, "11 08 02 04 c000022a 04d2", MASQUE_ERR_DUPLICATE_CONTEXT_ID);
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  13 01 02", 0), 7);
    expect_malformed(&e, "11 02 02 00", MASQUE_ERR_DUPLICATE_CONTEXT_ID); /* BIND-31 */
}

static void test_BIND_23_client_receiving_uncompressed_assign_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "11 02 01 00", MASQUE_ERR_UNCOMPRESSED_FROM_PROXY);
}

static void test_BIND_23_a_proxy_cannot_open_the_uncompressed_context(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_ERR_STATE);
}

static void test_BIND_22_second_uncompressed_context_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    expect_malformed(&e, "11 02 04 00", MASQUE_ERR_SECOND_UNCOMPRESSED);
    /* Closing it first makes a new uncompressed registration legal (-10 §4). */
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  13 01 02  11 02 04 00", 0), 11);
    assert_int_equal(masque_session_error(&e.s), 0);
    /* A client never opens a second one itself. */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL),
                     MASQUE_ERR_SECOND_UNCOMPRESSED);
}

static void test_BIND_14_assign_for_a_tuple_the_peer_registered_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 08 02 04 c000022a 04d2", 0), 10);
    expect_malformed(&e, "11 08 04 04 c000022a 04d2", MASQUE_ERR_DUPLICATE_TUPLE);
}

static void test_BIND_13_simultaneous_registration_closes_the_proxys_context(void **state)
{
    static endpoint client;
    static endpoint proxy;
    masque_address t = addr4(192, 0, 2, 42, 1234);
    uint64_t cid = 0;
    uint64_t pid = 0;
    (void)state;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    endpoint_init(&proxy, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    pump(&client, &proxy, 0);
    pump(&proxy, &client, 0);
    expect_event(&proxy, MASQUE_EVENT_PEER_CONTEXT_OPENED, 2);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    /* Both register the same tuple before hearing from the other. */
    assert_int_equal(masque_session_open_context(&client.s, &t, 0, &cid), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&proxy.s, &t, 0, &pid), MASQUE_OK);
    assert_true(cid == 4u && pid == 1u);
    expect_stream(&client, "11 08 04 04 c000022a 04d2");
    expect_stream(&proxy, "11 08 01 04 c000022a 04d2");
    /* The proxy closes its own and accepts the client's. */
    assert_int_equal(feed_hex(&proxy, "11 08 04 04 c000022a 04d2", 0), 10);
    expect_event(&proxy, MASQUE_EVENT_CONTEXT_CLOSED, 1);
    expect_event(&proxy, MASQUE_EVENT_PEER_CONTEXT_OPENED, 4);
    expect_stream(&proxy, "13 01 01  12 01 04");
    /* The client refuses the proxy's one. */
    assert_int_equal(feed_hex(&client, "11 08 01 04 c000022a 04d2", 0), 10);
    expect_event(&client, MASQUE_EVENT_PEER_CONTEXT_REFUSED, 1);
    expect_stream(&client, "13 01 01");
    assert_int_equal(feed_hex(&client, "13 01 01  12 01 04", 0), 6);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 4);
    assert_int_equal(feed_hex(&proxy, "13 01 01", 0), 3);
    /* One context per tuple remains, the client's, at both ends. */
    assert_true(masque_context_find_tuple(&client.s.table, &t)->id == 4u);
    assert_true(masque_context_find_tuple(&proxy.s.table, &t)->id == 4u);
    expect_send(&proxy, &t, "0b 04" PAYLOAD_HEX);
    assert_int_equal(masque_session_error(&client.s), 0);
    assert_int_equal(masque_session_error(&proxy.s), 0);
}

static void test_BIND_16_ack_for_an_id_never_assigned_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "12 01 02", MASQUE_ERR_UNKNOWN_ACK);
}

static void test_BIND_16_ack_for_an_id_the_peer_registered_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    /* An ACK for an ID the peer registered is not ours to receive either. */
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    expect_malformed(&e, "12 01 02", MASQUE_ERR_UNKNOWN_ACK);
}

/* -10 §3.1 from the client's side: the proxy's registration is saved, then acknowledged. */
static void test_BIND_6_a_client_saves_the_proxys_assign_then_acknowledges_it(void **state)
{
    static endpoint e;
    masque_address t = addr4(192, 0, 2, 42, 1234);
    masque_context *c;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    expect_stream(&e, "11 02 02 00");
    assert_int_equal(feed_hex(&e, "11 09 4003 04 c000022a 04d2", 0), 11);
    c = masque_context_find(&e.s.table, 3);
    assert_non_null(c);
    assert_int_equal(c->state, MASQUE_CONTEXT_ACTIVE);
    assert_ptr_equal(masque_context_find_tuple(&e.s.table, &t), c);
    expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_OPENED, 3);
    expect_stream(&e, "12 01 03"); /* the same ID, minimally encoded */
}

/* -13 §3.1 from the client's side: a second ASSIGN of the proxy for one tuple is malformed. */
static void test_BIND_14_a_client_refuses_a_second_proxy_assign_for_one_tuple(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "11 08 03 04 c000022a 04d2", 0), 10);
    expect_malformed(&e, "11 08 05 04 c000022a 04d2", MASQUE_ERR_DUPLICATE_TUPLE);
}

/* -10 §3.3 from the client's side: the proxy may close a context the client registered. */
static void test_BIND_19_a_client_hears_the_proxy_close_its_context(void **state)
{
    static endpoint e;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    expect_stream(&e, "11 02 02 00  11 08 04 04 cb00710b 10e1");
    assert_int_equal(feed_hex(&e, "12 01 02  12 01 04  13 01 04", 0), 9);
    expect_event(&e, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    expect_event(&e, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 4);
    expect_event(&e, MASQUE_EVENT_CONTEXT_CLOSED, 4);
    expect_no_event(&e);
    assert_null(masque_context_find_tuple(&e.s.table, &t));
}

static void test_BIND_6_accepted_assign_is_saved_then_acknowledged(void **state)
{
    static endpoint e;
    masque_address t = addr4(192, 0, 2, 42, 1234);
    masque_context *c;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  11 09 4006 04 c000022a 04d2", 0), 15);
    c = masque_context_find(&e.s.table, 6);
    assert_non_null(c);
    assert_int_equal(c->state, MASQUE_CONTEXT_ACTIVE);
    assert_ptr_equal(masque_context_find_tuple(&e.s.table, &t), c);
    expect_stream(&e, "12 01 02  12 01 06"); /* same IDs, minimally encoded */
}

#if MASQUE_ENABLE_POLICY
static void test_BIND_7_rejected_assign_is_answered_with_close(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_event ev;
    (void)state;
    memset(&cfg, 0, sizeof(cfg)); /* default policy: documentation ranges are denied */
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  11 08 04 04 c000022a 04d2", 0), 14);
    expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_OPENED, 2);
    ev = expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_REFUSED, 4);
    assert_int_equal(ev.reason, MASQUE_ERR_POLICY);
    expect_stream(&e, "12 01 02  13 01 04");
    assert_null(masque_context_find_tuple(&e.s.table, &ev.target));
    /* The refused ID is still remembered: repeating it is malformed. */
    expect_malformed(&e, "11 08 04 04 c000022a 04d2", MASQUE_ERR_DUPLICATE_CONTEXT_ID);
}
#endif

static void test_BIND_12_proxy_opens_no_compressed_context_after_uncompressed_closed(void **state)
{
    static endpoint e;
    masque_address t = addr4(192, 0, 2, 42, 1234);
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_ERR_STATE);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "13 01 02", 0), 3);
    t.port++;
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_ERR_STATE);
}

/* The client's side of -10 §3.1 and §8.1: a client that never opened the uncompressed context,
 * or closed it, wants datagrams from the targets it registered only (the proxy acts as a
 * firewall); a registration of the proxy's is refused with COMPRESSION_CLOSE, not accepted and
 * not a stream error. */
static void
test_BIND_12_a_client_without_the_uncompressed_context_refuses_the_proxys_assign(void **state)
{
    static endpoint e;
    const masque_address t = addr4(192, 0, 2, 42, 1234);
    masque_event ev;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 08 03 04 c000022a 04d2", 0), 10);
    expect_stream(&e, "13 01 03");
    ev = expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_REFUSED, 3);
    assert_int_equal(ev.reason, MASQUE_ERR_STATE);
    assert_true(masque_address_equal(&ev.target, &t));
    assert_int_equal(masque_context_open_count(&e.s.table), 0);
    /* Opened, then closed by the client: the same. */
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_close_context(&e.s, 2, 0), MASQUE_OK);
    expect_stream(&e, "11 02 02 00  13 01 02");
    assert_int_equal(feed_hex(&e, "11 08 05 04 c000022a 04d2", 0), 10);
    expect_stream(&e, "13 01 05");
    ev = expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_REFUSED, 5);
    assert_int_equal(ev.reason, MASQUE_ERR_STATE);
    assert_null(masque_context_find_tuple(&e.s.table, &t));
    assert_int_equal(masque_session_error(&e.s), 0);
}

static void test_BIND_15_preemptive_use_of_a_pending_context_is_configurable(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    expect_send(&e, &t, "0b 04" PAYLOAD_HEX); /* before any ACK */
    memset(&cfg, 0, sizeof(cfg));
    cfg.wait_for_ack = 1;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "12 01 02", 0), 3);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    expect_send(&e, &t, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX); /* uncompressed until ACK */
    assert_int_equal(feed_hex(&e, "12 01 04", 0), 3);
    expect_send(&e, &t, "0b 04" PAYLOAD_HEX);
}

static void test_BIND_17_no_datagrams_on_a_closed_context(void **state)
{
    static endpoint e;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    masque_session_stats st;
    masque_packet pkt;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "12 01 02  12 01 04", 0), 6);
    /* Received CLOSE: sends fall back to the uncompressed context, arrivals are dropped. */
    assert_int_equal(feed_hex(&e, "13 01 04", 0), 3);
    expect_send(&e, &t, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX);
    assert_int_equal(receive_h3(&e, "0b 04" PAYLOAD_HEX, &pkt), 0);
    /* Sent CLOSE: the same for the uncompressed context. */
    assert_int_equal(masque_session_close_context(&e.s, 2, 0), MASQUE_OK);
    assert_int_equal(receive_h3(&e, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX, &pkt), 0);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_unknown_context == 2u);
    assert_int_equal(masque_session_close_context(&e.s, 2, 0), MASQUE_ERR_UNKNOWN_CONTEXT);
}

static void test_BIND_19_either_endpoint_may_close_any_context(void **state)
{
    static endpoint client;
    static endpoint proxy;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    (void)state;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    endpoint_init(&proxy, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&client.s, &t, 0, NULL), MASQUE_OK);
    pump(&client, &proxy, 0);
    pump(&proxy, &client, 0);
    assert_int_equal(masque_session_close_context(&proxy.s, 4, 0), MASQUE_OK); /* client's */
    expect_stream(&proxy, "13 01 04");
    assert_int_equal(feed_hex(&client, "13 01 04", 0), 3);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 4);
    expect_event(&client, MASQUE_EVENT_CONTEXT_CLOSED, 4);
}

static void test_BIND_20_UDP_10_uncompressed_use_requires_the_assign_first(void **state)
{
    static endpoint e;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    uint8_t buf[MASQUE_BIND_HEADROOM + 4];
    masque_datagram_path path;
    masque_packet pkt;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_write_datagram(&e.s, &t, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 4, 0, &path),
                     MASQUE_ERR_UNREACHABLE);
    /* A proxy drops uncompressed-looking datagrams on an unregistered ID (UDP-10). */
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(receive_h3(&e, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX, &pkt), 0);
}

/*
 * RFC 9298 §5 (UDP-16): a receiver that buffers datagrams for a Context ID not yet registered
 * must bound that buffering; libmasque keeps none at all. A datagram on the proxy's ID 3 before
 * its ASSIGN is dropped and counted, and nothing of it comes out once the ASSIGN is in; the
 * next datagram on ID 3 is delivered.
 */
static void test_UDP_16_nothing_is_kept_for_a_context_not_yet_registered(void **state)
{
    static endpoint client;
    masque_address from = addr4(203, 0, 113, 11, 4321);
    masque_session_stats st;
    masque_packet pkt;
    uint8_t assign[16];
    size_t n = hex_to_bytes("11 08 03 04 cb00710b 10e1", assign, sizeof(assign));
    (void)state;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    assert_int_equal(receive_h3(&client, "0b 03" PAYLOAD_HEX, &pkt), 0);
    assert_null(pkt.payload);
    masque_session_get_stats(&client.s, &st);
    assert_true(st.dropped_unknown_context == 1u);
    assert_int_equal(masque_session_read_stream(&client.s, assign, n, 0, &pkt), (masque_ssize)n);
    assert_null(pkt.payload); /* the early datagram was not kept */
    expect_event(&client, MASQUE_EVENT_PEER_CONTEXT_OPENED, 3);
    expect_no_event(&client);
    expect_packet(&client, "0b 03" PAYLOAD_HEX, &from);
    masque_session_get_stats(&client.s, &st);
    assert_true(st.datagrams_received == 1u && st.dropped_unknown_context == 1u);
}

/* -13 §3 from the client's side: Context ID 0 in a DATAGRAM capsule on the stream aborts too. */
static void test_BIND_3_a_client_aborts_on_context_id_0_in_a_capsule(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "00 03 00 aabb", 0), MASQUE_ERR_CONTEXT_ID_ZERO);
    assert_int_equal(masque_session_error(&e.s), MASQUE_ERR_CONTEXT_ID_ZERO);
}

static void test_BIND_3_context_id_0_under_target_star_aborts_by_default(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_session_stats st;
    masque_packet pkt;
    (void)state;
    /* -13 §3: the recipient MUST abort; -10 peers never send it, so that is the default. */
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(receive_h3(&e, "0b 00" PAYLOAD_HEX, &pkt), MASQUE_ERR_CONTEXT_ID_ZERO);
    assert_int_equal(masque_session_error(&e.s), MASQUE_ERR_CONTEXT_ID_ZERO);
    assert_true(masque_h3_error_for(masque_session_error(&e.s)) == MASQUE_H3_MESSAGE_ERROR);
    /* The option for peers that may send one: dropped and counted. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.drop_context_id_zero = 1;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(receive_h3(&e, "0b 00" PAYLOAD_HEX, &pkt), 0);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_context_id_zero == 1u);
    assert_int_equal(masque_session_error(&e.s), 0);
}

static void test_BIND_4_context_id_0_keeps_rfc9298_semantics_for_a_concrete_target(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_packet pkt;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.concrete_target = 1;
    cfg.fixed_target = addr4(203, 0, 113, 11, 4321);
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    expect_send(&e, &cfg.fixed_target, "0b 00" PAYLOAD_HEX);
    assert_int_equal(receive_h3(&e, "0b 00" PAYLOAD_HEX, &pkt), 1);
    assert_true(masque_address_equal(&pkt.peer, &cfg.fixed_target));
    assert_memory_equal(pkt.payload, PAYLOAD, 24);
}

static void test_BIND_21_uncompressed_datagram_with_bad_ip_version_is_dropped(void **state)
{
    static endpoint e;
    masque_session_stats st;
    masque_packet pkt;
    (void)state;
    /* The client, on its uncompressed context once acknowledged. */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "12 01 02", 0), 3);
    assert_int_equal(receive_h3(&e, "0b 02 05 cb00710b 10e1" PAYLOAD_HEX, &pkt), 0);
    assert_int_equal(receive_h3(&e, "0b 02 04 cb00", &pkt), 0); /* truncated */
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_malformed == 2u);
    assert_int_equal(masque_session_error(&e.s), 0);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    assert_int_equal(receive_h3(&e, "0b 02 05 cb00710b 10e1" PAYLOAD_HEX, &pkt), 0);
    assert_int_equal(receive_h3(&e, "0b 02 04 cb00", &pkt), 0); /* truncated */
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_malformed == 2u);
    assert_int_equal(masque_session_error(&e.s), 0);
}

#if MASQUE_ENABLE_IPV6
static void test_BIND_27_client_uses_only_advertised_families(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_address v6;
    uint8_t buf[MASQUE_BIND_HEADROOM + 4];
    masque_datagram_path path;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.advertised_families = MASQUE_FAMILY_V4;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    masque_address_set_v6(&v6, (const uint8_t *)"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 53);
    assert_int_equal(masque_session_open_context(&e.s, &v6, 0, NULL),
                     MASQUE_ERR_FAMILY_NOT_ADVERTISED);
    assert_int_equal(masque_session_write_datagram(&e.s, &v6, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 4, 0, &path),
                     MASQUE_ERR_FAMILY_NOT_ADVERTISED);
}
#endif

static void test_BIND_33_no_second_registration_for_a_tuple(void **state)
{
    static endpoint e;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    uint64_t id = 0;
    (void)state;
    /* -13 §3.1: an endpoint registers a tuple once, pending or active. */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, &id), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_ERR_DUPLICATE_TUPLE);
    assert_int_equal(feed_hex(&e, "12 01 02  12 01 04", 0), 6);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_ERR_DUPLICATE_TUPLE);
    expect_stream(&e, "11 02 02 00  11 08 04 04 cb00710b 10e1"); /* one ASSIGN for the tuple */
    /* After it is closed, a new registration (with a new ID) is allowed. */
    assert_int_equal(masque_session_close_context(&e.s, id, 0), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, &id), MASQUE_OK);
    assert_true(id == 6u);
    /* The same on a proxy, for a tuple the client registered. */
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  11 08 04 04 cb00710b 10e1", 0), 14);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_ERR_DUPLICATE_TUPLE);
}

static void test_BIND_37_context_id_0_is_never_sent_under_target_star(void **state)
{
    static endpoint e;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    uint8_t buf[MASQUE_BIND_HEADROOM + 4];
    masque_datagram_path path;
    int role;
    (void)state;
    for (role = MASQUE_ROLE_CLIENT; role <= MASQUE_ROLE_PROXY; role++) {
        masque_ssize h;
        masque_h3_datagram dg;
        masque_context_payload cp;
        endpoint_init(&e, (masque_role)role, NULL, TABLE_CAP);
        /* No context yet: nothing goes out, least of all on Context ID 0 (-10 §3). */
        assert_int_equal(masque_session_write_datagram(&e.s, &t, buf + MASQUE_BIND_HEADROOM,
                                                       MASQUE_BIND_HEADROOM, 4, 0, &path),
                         MASQUE_ERR_UNREACHABLE);
        if (role == MASQUE_ROLE_CLIENT) {
            assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
        } else {
            assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
        }
        h = masque_session_write_datagram(&e.s, &t, buf + MASQUE_BIND_HEADROOM,
                                          MASQUE_BIND_HEADROOM, 4, 0, &path);
        assert_true(h > 0);
        assert_int_equal(
            masque_h3_datagram_decode(&dg, buf + MASQUE_BIND_HEADROOM - h, (size_t)h + 4),
            (masque_ssize)h + 4);
        assert_true(masque_context_payload_decode(&cp, dg.payload, dg.payload_len) > 0);
        assert_true(cp.context_id == 2u);
    }
}

static void test_BIND_28_UDP_6_proxy_drops_udp_without_registration(void **state)
{
    static endpoint e;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    uint8_t buf[MASQUE_BIND_HEADROOM + 4];
    masque_datagram_path path;
    masque_session_stats st;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(masque_session_write_datagram(&e.s, &t, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 4, 0, &path),
                     MASQUE_ERR_UNREACHABLE);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_unreachable == 1u);
}

#if MASQUE_ENABLE_POLICY
static void test_BIND_29_proxy_checks_the_target_of_every_uncompressed_datagram(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_policy policy;
    masque_policy_rule rule;
    masque_session_stats st;
    masque_packet pkt;
    (void)state;
    memset(&cfg, 0, sizeof(cfg)); /* default policy */
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    assert_int_equal(receive_h3(&e, "0b 02 04 7f000001 04d2" PAYLOAD_HEX, &pkt), 0); /* loopback */
    assert_int_equal(receive_h3(&e, "0b 02 04 08080808 0035" PAYLOAD_HEX, &pkt), 1); /* public */
    masque_session_get_stats(&e.s, &st);
    assert_true(st.dropped_policy == 1u);
    /* Opened by a rule, loopback passes. */
    assert_int_equal(masque_policy_rule_parse(&rule, "127.0.0.0/8", 11, 1), MASQUE_OK);
    memset(&policy, 0, sizeof(policy));
    policy.rules = &rule;
    policy.rule_count = 1;
    cfg.policy = &policy;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    assert_int_equal(receive_h3(&e, "0b 02 04 7f000001 04d2" PAYLOAD_HEX, &pkt), 1);
}

#endif

static void test_UDP_11_received_payload_above_65527_aborts(void **state)
{
    static endpoint e;
    static uint8_t d[2 + 65528];
    masque_session_config cfg;
    masque_packet pkt;
    masque_address t = addr4(192, 0, 2, 42, 1234);
    (void)state;
    memset(d, 0, sizeof(d));
    d[0] = 0x04;
    /* The client, on its own compressed context 4. */
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "12 01 02  12 01 04", 0), 6);
    assert_int_equal(masque_session_read_datagram(&e.s, d, 1 + 65527, 0, &pkt), 1);
    assert_int_equal(masque_session_read_datagram(&e.s, d, 1 + 65528, 0, &pkt),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
    /* Context ID 0 of a request for a concrete target (-10 §3, BIND-4): the same bound. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.concrete_target = 1;
    cfg.fixed_target = addr4(192, 0, 2, 7, 53);
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    d[0] = 0x00;
    assert_int_equal(masque_session_read_datagram(&e.s, d, 1 + 65527, 0, &pkt), 1);
    assert_true(masque_address_equal(&pkt.peer, &cfg.fixed_target));
    assert_int_equal(pkt.payload_len, 65527);
    assert_int_equal(masque_session_read_datagram(&e.s, d, 1 + 65528, 0, &pkt),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
    assert_int_equal(masque_session_error(&e.s), MASQUE_ERR_PAYLOAD_TOO_LARGE);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  11 08 04 04 c000022a 04d2", 0), 14);
    memset(d, 0, sizeof(d));
    d[0] = 0x04;
    assert_int_equal(masque_session_read_datagram(&e.s, d, 1 + 65527, 0, &pkt), 1);
    assert_int_equal(masque_session_read_datagram(&e.s, d, 1 + 65528, 0, &pkt),
                     MASQUE_ERR_PAYLOAD_TOO_LARGE);
}

static void test_DG_14_fin_inside_a_capsule_is_malformed(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "13 01", 0), 2);
    assert_int_equal(masque_session_read_fin(&e.s), MASQUE_ERR_STREAM_TRUNCATED);
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "4040 00", 0), 3);
    assert_int_equal(masque_session_read_fin(&e.s), MASQUE_OK);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02", 0), 3);
    assert_int_equal(masque_session_read_fin(&e.s), MASQUE_ERR_STREAM_TRUNCATED);
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00", 0), 4);
    assert_int_equal(masque_session_read_fin(&e.s), MASQUE_OK);
}

static void test_DG_11_BIND_11_malformed_capsule_values_abort_the_session(void **state)
{
    static endpoint e;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "11 03 03 00 00", MASQUE_ERR_TRAILING_BYTES);
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "11 1c", MASQUE_ERR_CAPSULE_LENGTH);
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    expect_malformed(&e, "13 02 4000", MASQUE_ERR_CONTEXT_ID_ZERO);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    expect_malformed(&e, "11 03 02 00 00", MASQUE_ERR_TRAILING_BYTES);
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    expect_malformed(&e, "11 1c", MASQUE_ERR_CAPSULE_LENGTH);
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    expect_malformed(&e, "12 02 4000", MASQUE_ERR_CONTEXT_ID_ZERO);
}

static void test_DG_9_unknown_capsules_are_skipped(void **state)
{
    static endpoint e;
    masque_session_stats st;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, NULL, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "4040 03 aabbcc  12 01 02", 0), 9);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.discarded_capsules == 1u);
    expect_event(&e, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    if (!MASQUE_ENABLE_PROXY) {
        return; /* the client profile: the one role it has is checked */
    }
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "4040 03 aabbcc  11 02 02 00", 0), 10);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.discarded_capsules == 1u);
    expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_OPENED, 2);
}

static void test_DG_8_datagram_capsules_when_h3_datagrams_are_unavailable(void **state)
{
    static endpoint client;
    static endpoint proxy;
    static uint8_t reassembly[2048];
    masque_session_config cfg;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    uint8_t buf[MASQUE_BIND_HEADROOM + 24];
    uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
    masque_datagram_path path;
    masque_packet pkt;
    masque_session_stats st;
    masque_ssize h;
    size_t i;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.capsule_datagrams = 1; /* RFC 9297 §3.5 */
    cfg.policy = &allow_all;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    cfg.reassembly = reassembly;
    cfg.reassembly_len = sizeof(reassembly);
    endpoint_init(&proxy, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    pump(&client, &proxy, 0);
    memcpy(payload, PAYLOAD, 24);
    h = masque_session_write_datagram(&client.s, &t, payload, MASQUE_BIND_HEADROOM, 24, 0, &path);
    assert_int_equal(path, MASQUE_PATH_CAPSULE);
    assert_memory_equal(payload - h, "\x00\x20\x02\x04\xcb\x00\x71\x0b\x10\xe1", 10);
    /* Whole: a packet straight from the chunk. */
    assert_int_equal(masque_session_read_stream(&proxy.s, payload - h, (size_t)h + 24, 0, &pkt),
                     h + 24);
    assert_ptr_equal(pkt.payload, payload);
    assert_true(masque_address_equal(&pkt.peer, &t));
    /* Byte by byte: reassembled. */
    for (i = 0; i < (size_t)h + 24; i++) {
        assert_int_equal(masque_session_read_stream(&proxy.s, payload - h + i, 1, 0, &pkt), 1);
    }
    assert_non_null(pkt.payload);
    assert_memory_equal(pkt.payload, PAYLOAD, 24);
    /* Without a reassembly buffer a split capsule is dropped and counted. */
    for (i = 0; i < (size_t)h + 24; i++) {
        assert_int_equal(masque_session_read_stream(&client.s, payload - h + i, 1, 0, &pkt), 1);
    }
    masque_session_get_stats(&client.s, &st);
    assert_true(st.dropped_split_capsule == 1u);
}

/*
 * RFC 9297 §2.1.1 (DG-8): a host that learns after the request that HTTP/3 datagrams are
 * negotiated (a proxy reading the client's SETTINGS after its request) switches the session:
 * from then on its datagrams are framed for QUIC DATAGRAM frames, and back on request; the
 * contexts stay as they were.
 */
static void test_DG_8_a_session_switches_to_h3_datagrams_when_settings_arrive(void **state)
{
    static endpoint client;
    static endpoint proxy;
    masque_session_config cfg;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    uint8_t buf[MASQUE_BIND_HEADROOM + 24];
    uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
    masque_datagram_path path;
    masque_ssize h;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.capsule_datagrams = 1; /* the peer's SETTINGS are not in yet */
    cfg.policy = &allow_all;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    endpoint_init(&proxy, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    pump(&client, &proxy, 0);
    memcpy(payload, PAYLOAD, 24);
    h = masque_session_write_datagram(&client.s, &t, payload, MASQUE_BIND_HEADROOM, 24, 0, &path);
    assert_int_equal(path, MASQUE_PATH_CAPSULE); /* DATAGRAM capsule, Context ID 2, tuple */
    assert_int_equal(h, 10);
    assert_memory_equal(payload - h, "\x00\x20\x02\x04\xcb\x00\x71\x0b\x10\xe1", 10);
    assert_int_equal(masque_session_set_capsule_datagrams(&client.s, 0), MASQUE_OK);
    h = masque_session_write_datagram(&client.s, &t, payload, MASQUE_BIND_HEADROOM, 24, 0, &path);
    assert_int_equal(path, MASQUE_PATH_H3_DATAGRAM); /* Quarter Stream ID 11, the same context */
    assert_int_equal(h, 9);
    assert_memory_equal(payload - h, "\x0b\x02\x04\xcb\x00\x71\x0b\x10\xe1", 9);
    assert_int_equal(masque_session_set_capsule_datagrams(&client.s, 7), MASQUE_OK);
    h = masque_session_write_datagram(&client.s, &t, payload, MASQUE_BIND_HEADROOM, 24, 0, &path);
    assert_int_equal(path, MASQUE_PATH_CAPSULE);
    assert_memory_equal(payload - h, "\x00\x20\x02\x04\xcb\x00\x71\x0b\x10\xe1", 10);
    assert_int_equal(masque_session_context_count(&client.s), 1);
}

/*
 * RFC 9297 §3.2 (DG-21): a session takes every byte of a DATAGRAM capsule as it arrives (into
 * the reassembly buffer), so the stream's flow control is never held up waiting for the rest;
 * the packet comes when the capsule is whole. The client's side: no proxy session needed.
 */
static void test_DG_21_a_session_takes_every_byte_of_a_cut_capsule(void **state)
{
    static endpoint client;
    static uint8_t reassembly[256];
    static const uint8_t head[] = {0x00, 0x20, 0x02, 0x04, 0xcb, 0x00, 0x71, 0x0b, 0x10, 0xe1};
    uint8_t capsule[sizeof(head) + 24];
    masque_session_config cfg;
    masque_packet pkt;
    masque_address from = addr4(203, 0, 113, 11, 4321);
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.reassembly = reassembly;
    cfg.reassembly_len = sizeof(reassembly);
    endpoint_init(&client, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    memcpy(capsule, head, sizeof(head)); /* Context ID 2, uncompressed, from 203.0.113.11:4321 */
    memcpy(capsule + sizeof(head), PAYLOAD, 24);
    assert_int_equal(masque_session_read_stream(&client.s, capsule, 15, 0, &pkt), 15);
    assert_null(pkt.payload); /* taken, not yet whole */
    assert_int_equal(
        masque_session_read_stream(&client.s, capsule + 15, sizeof(capsule) - 15, 0, &pkt),
        (masque_ssize)(sizeof(capsule) - 15));
    assert_non_null(pkt.payload);
    assert_int_equal(pkt.payload_len, 24);
    assert_memory_equal(pkt.payload, PAYLOAD, 24);
    assert_true(masque_address_equal(&pkt.peer, &from));
}

static void test_idle_compressed_contexts_are_closed_by_tick(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.idle_timeout_ms = 120000;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_session_open_context(&e.s, &t, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "12 01 02  12 01 04", 0), 6);
    expect_stream(&e, "11 02 02 00  11 08 04 04 cb00710b 10e1");
    assert_int_equal(masque_session_tick(&e.s, 119999), MASQUE_OK);
    assert_int_equal(masque_session_queued_capsules(&e.s), 0);
    assert_int_equal(masque_session_tick(&e.s, 120000), MASQUE_OK);
    expect_stream(&e, "13 01 04"); /* the uncompressed context is left alone */
    expect_event(&e, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    expect_event(&e, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 4);
    expect_event(&e, MASQUE_EVENT_CONTEXT_CLOSED, 4);
}

#if MASQUE_ENABLE_AUTO_COMPRESS
static void test_BIND_32_auto_compression_registers_busy_targets(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    int i;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.auto_compress_after = 3;
    cfg.auto_compress_window_ms = 1000;
    endpoint_init(&e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(feed_hex(&e, "12 01 02", 0), 3);
    expect_stream(&e, "11 02 02 00");
    for (i = 0; i < 2; i++) {
        expect_send(&e, &t, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX);
    }
    assert_int_equal(masque_session_queued_capsules(&e.s), 0);
    expect_send(&e, &t, "0b 02 04 cb00710b 10e1" PAYLOAD_HEX); /* the third registers */
    expect_stream(&e, "11 08 04 04 cb00710b 10e1");
    expect_event(&e, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    expect_event(&e, MASQUE_EVENT_CONTEXT_OPENED, 4);
    expect_send(&e, &t, "0b 04" PAYLOAD_HEX);
}
#endif

static void test_BIND_34_proxy_limits_answer_close_not_abort(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_event ev;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.policy = &allow_all;
    cfg.max_peer_contexts = 2;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(
        feed_hex(&e, "11 02 02 00  11 08 04 04 c000022a 04d2  11 08 06 04 c000022b 04d2", 0), 24);
    expect_stream(&e, "12 01 02  12 01 04  13 01 06");
    expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_OPENED, 2);
    expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_OPENED, 4);
    ev = expect_event(&e, MASQUE_EVENT_PEER_CONTEXT_REFUSED, 6);
    assert_int_equal(ev.reason, MASQUE_ERR_TABLE_FULL);
    /* Token bucket: 1 per second, burst 1. */
    cfg.max_peer_contexts = 0;
    cfg.assign_rate = 1;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(feed_hex(&e, "11 02 02 00  11 08 04 04 c000022a 04d2", 0), 14);
    expect_stream(&e, "12 01 02  13 01 04");
    assert_int_equal(feed_hex(&e, "11 08 06 04 c000022a 04d2", 1000), 10);
    expect_stream(&e, "12 01 06");
    assert_int_equal(masque_session_error(&e.s), 0);
}

static void test_flood_of_100000_assigns_against_a_small_table(void **state)
{
    static endpoint e;
    masque_session_config cfg;
    masque_session_stats st;
    uint8_t out[256];
    uint32_t i;
    size_t acks = 0;
    size_t closes = 0;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.policy = &allow_all;
    endpoint_init(&e, MASQUE_ROLE_PROXY, &cfg, 8);
    for (i = 0; i < 100000u; i++) {
        masque_compression_assign a;
        uint8_t capsule[32];
        masque_packet pkt;
        masque_event ev;
        masque_ssize n;
        masque_ssize w;
        memset(&a, 0, sizeof(a));
        a.context_id = 2u * i + 2u;
        a.ip_version = 4;
        masque_address_set_v4(&a.target, (const uint8_t *)"\xc0\x00\x02\x01",
                              (uint16_t)(i % 60000u + 1u));
        a.target.bytes[3] = (uint8_t)(i / 60000u + 1u);
        n = masque_compression_assign_encode(capsule, sizeof(capsule), MASQUE_PROFILE_DRAFT10, &a);
        assert_int_equal(masque_session_read_stream(&e.s, capsule, (size_t)n, i, &pkt), n);
        w = masque_session_write_stream(&e.s, out, sizeof(out));
        assert_true(w == 3 || w == 4 || w == 6);
        if (out[0] == 0x12) {
            acks++;
        } else {
            assert_int_equal(out[0], 0x13);
            closes++;
        }
        while (masque_session_poll_event(&e.s, &ev)) {
        }
    }
    assert_int_equal(acks, 8); /* the table holds 8 */
    assert_int_equal(closes, 100000 - 8);
    assert_int_equal(masque_context_open_count(&e.s.table), 8);
    masque_session_get_stats(&e.s, &st);
    assert_true(st.peer_assigns_refused == 100000u - 8u);
    assert_int_equal(masque_session_error(&e.s), 0);
}

#if MASQUE_ENABLE_DRAFT04
static void test_draft04_profile_echoes_the_assign(void **state)
{
    static endpoint client;
    static endpoint proxy;
    masque_session_config cfg;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.profile = MASQUE_PROFILE_DRAFT04;
    cfg.policy = &allow_all;
    endpoint_init(&client, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    endpoint_init(&proxy, MASQUE_ROLE_PROXY, &cfg, TABLE_CAP);
    assert_int_equal(masque_session_open_uncompressed(&client.s, 0, NULL), MASQUE_OK);
    expect_stream(&client, "9c0fe323 02 02 00");
    assert_int_equal(feed_hex(&proxy, "9c0fe323 02 02 00", 0), 7);
    expect_stream(&proxy, "9c0fe323 02 02 00"); /* no ACK in draft-04: the echo */
    assert_int_equal(feed_hex(&client, "9c0fe323 02 02 00", 0), 7);
    expect_event(&client, MASQUE_EVENT_CONTEXT_ACKNOWLEDGED, 2);
    assert_int_equal(masque_session_close_context(&client.s, 2, 0), MASQUE_OK);
    expect_stream(&client, "9c0fe324 01 02");
}
#endif

/* Invariants of -10 §3-§4 that must hold after every step. */
static void check_invariants(const endpoint *e)
{
    size_t i;
    size_t uncompressed = 0;
    size_t open = 0;
    for (i = 0; i < masque_context_table_capacity(&e->s.table); i++) {
        const masque_context *c = masque_context_at(&e->s.table, i);
        size_t j;
        if (c->state != MASQUE_CONTEXT_PENDING && c->state != MASQUE_CONTEXT_ACTIVE) {
            continue;
        }
        open++;
        assert_true(c->id != 0);
        /* Parity: the proxy's peer (the client) uses even IDs, the proxy odd ones. */
        assert_int_equal((c->flags & MASQUE_CONTEXT_FLAG_PEER) != 0, (c->id & 1u) == 0);
        if (c->ip_version == 0) {
            uncompressed++;
            continue;
        }
        for (j = i + 1; j < masque_context_table_capacity(&e->s.table); j++) {
            const masque_context *d = masque_context_at(&e->s.table, j);
            if ((d->state == MASQUE_CONTEXT_PENDING || d->state == MASQUE_CONTEXT_ACTIVE) &&
                d->ip_version == c->ip_version && d->port == c->port &&
                memcmp(d->ip, c->ip, 16) == 0) {
                fail_msg("tuple registered twice");
            }
        }
    }
    assert_true(uncompressed <= 1);
    assert_int_equal(open, masque_context_open_count(&e->s.table));
    assert_true(e->s.responses <= e->s.cfg.max_pending_responses);
}

static void test_property_random_capsule_sequences_keep_the_invariants(void **state)
{
    static endpoint e;
    test_rng rng = {TEST_SEED};
    int step;
    int sessions = 1;
    (void)state;
    endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, 16);
    for (step = 0; step < 30000; step++) {
        uint8_t capsule[40];
        uint8_t out[2048];
        masque_packet pkt;
        masque_event ev;
        masque_ssize n = 0;
        uint64_t r = rng_next(&rng);
        uint64_t id = rng_next(&rng) % 24u; /* small: repeats, zeros, both parities */
        masque_address t = addr4(192, 0, 2, (uint8_t)(rng_next(&rng) % 3u), 443);
        switch (r % 7u) {
        case 0:
        case 1: {
            masque_compression_assign a;
            memset(&a, 0, sizeof(a));
            a.context_id = id == 0 ? 1 : id;
            a.ip_version = (r >> 8) % 4u == 0 ? 0 : 4;
            a.target = t;
            n = masque_compression_assign_encode(capsule, sizeof(capsule), MASQUE_PROFILE_DRAFT10,
                                                 &a);
            break;
        }
        case 2:
            n = masque_compression_id_encode(capsule, sizeof(capsule), MASQUE_PROFILE_DRAFT10,
                                             MASQUE_CAPSULE_COMPRESSION_ACK, id == 0 ? 1 : id);
            break;
        case 3:
            n = masque_compression_id_encode(capsule, sizeof(capsule), MASQUE_PROFILE_DRAFT10,
                                             MASQUE_CAPSULE_COMPRESSION_CLOSE, id == 0 ? 1 : id);
            break;
        case 4: /* garbage */
            capsule[0] = 0x11;
            capsule[1] = (uint8_t)(r >> 16) & 0x3Fu;
            capsule[2] = (uint8_t)(r >> 24);
            capsule[3] = (uint8_t)(r >> 32);
            n = 4;
            break;
        case 5:
            (void)masque_session_open_context(&e.s, &t, (uint64_t)step, NULL);
            break;
        default:
            (void)masque_session_write_stream(&e.s, out, sizeof(out));
            while (masque_session_poll_event(&e.s, &ev)) {
            }
            break;
        }
        if (n > 0) {
            masque_ssize rc =
                masque_session_read_stream(&e.s, capsule, (size_t)n, (uint64_t)step, &pkt);
            (void)rc;
        }
        check_invariants(&e);
        if (masque_session_error(&e.s) != 0 || (r >> 40) % 500u == 0) {
            endpoint_init(&e, MASQUE_ROLE_PROXY, NULL, 16);
            sessions++;
        }
    }
    assert_true(sessions > 10); /* the sequences did hit malformed capsules */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appendix_exchange_replayed_byte_for_byte),
        cmocka_unit_test(test_appendix_client_side_byte_for_byte),
        cmocka_unit_test(test_proxy_role_is_refused_where_it_is_compiled_out),
        cmocka_unit_test(test_refused_settings_leave_the_session_as_it_was),
        cmocka_unit_test(test_BIND_9_BIND_23_BIND_8_client_refuses_a_proxys_forbidden_assigns),
        cmocka_unit_test(test_DG_1_datagrams_belong_to_the_accepted_request),
        cmocka_unit_test(test_host_reads_copies_of_the_contexts),
        cmocka_unit_test(test_BIND_9_peer_context_id_with_wrong_parity_is_malformed),
        cmocka_unit_test(test_BIND_9_an_even_context_id_from_the_proxy_is_malformed),
        cmocka_unit_test(test_BIND_9_local_ids_are_even_for_clients_and_odd_for_proxies),
        cmocka_unit_test(test_BIND_8_assign_with_context_id_0_aborts_the_session),
        cmocka_unit_test(test_BIND_18_close_with_context_id_0_aborts_the_session),
        cmocka_unit_test(test_BIND_5_assign_with_ip_version_5_aborts_the_session),
        cmocka_unit_test(
            test_BIND_10_BIND_31_UDP_9_repeated_context_id_is_malformed_even_after_close),
        cmocka_unit_test(test_BIND_23_client_receiving_uncompressed_assign_is_malformed),
        cmocka_unit_test(test_BIND_23_a_proxy_cannot_open_the_uncompressed_context),
        cmocka_unit_test(test_BIND_22_second_uncompressed_context_is_malformed),
        cmocka_unit_test(test_BIND_14_assign_for_a_tuple_the_peer_registered_is_malformed),
        cmocka_unit_test(test_BIND_13_simultaneous_registration_closes_the_proxys_context),
        cmocka_unit_test(test_BIND_16_ack_for_an_id_never_assigned_is_malformed),
        cmocka_unit_test(test_BIND_16_ack_for_an_id_the_peer_registered_is_malformed),
        cmocka_unit_test(test_BIND_6_accepted_assign_is_saved_then_acknowledged),
        cmocka_unit_test(test_BIND_6_a_client_saves_the_proxys_assign_then_acknowledges_it),
        cmocka_unit_test(test_BIND_14_a_client_refuses_a_second_proxy_assign_for_one_tuple),
        cmocka_unit_test(test_BIND_19_a_client_hears_the_proxy_close_its_context),
#if MASQUE_ENABLE_POLICY
        cmocka_unit_test(test_BIND_7_rejected_assign_is_answered_with_close),
#endif
        cmocka_unit_test(test_BIND_12_proxy_opens_no_compressed_context_after_uncompressed_closed),
        cmocka_unit_test(
            test_BIND_12_a_client_without_the_uncompressed_context_refuses_the_proxys_assign),
        cmocka_unit_test(test_BIND_15_preemptive_use_of_a_pending_context_is_configurable),
        cmocka_unit_test(test_BIND_17_no_datagrams_on_a_closed_context),
        cmocka_unit_test(test_BIND_19_either_endpoint_may_close_any_context),
        cmocka_unit_test(test_BIND_20_UDP_10_uncompressed_use_requires_the_assign_first),
        cmocka_unit_test(test_UDP_16_nothing_is_kept_for_a_context_not_yet_registered),
        cmocka_unit_test(test_BIND_3_context_id_0_under_target_star_aborts_by_default),
        cmocka_unit_test(test_BIND_3_a_client_aborts_on_context_id_0_in_a_capsule),
        cmocka_unit_test(test_BIND_4_context_id_0_keeps_rfc9298_semantics_for_a_concrete_target),
        cmocka_unit_test(test_BIND_21_uncompressed_datagram_with_bad_ip_version_is_dropped),
#if MASQUE_ENABLE_IPV6
        cmocka_unit_test(test_BIND_27_client_uses_only_advertised_families),
#endif
        cmocka_unit_test(test_BIND_28_UDP_6_proxy_drops_udp_without_registration),
#if MASQUE_ENABLE_POLICY
        cmocka_unit_test(test_BIND_29_proxy_checks_the_target_of_every_uncompressed_datagram),
#endif
        cmocka_unit_test(test_UDP_11_received_payload_above_65527_aborts),
        cmocka_unit_test(test_DG_14_fin_inside_a_capsule_is_malformed),
        cmocka_unit_test(test_DG_11_BIND_11_malformed_capsule_values_abort_the_session),
        cmocka_unit_test(test_DG_9_unknown_capsules_are_skipped),
        cmocka_unit_test(test_DG_8_datagram_capsules_when_h3_datagrams_are_unavailable),
        cmocka_unit_test(test_DG_8_a_session_switches_to_h3_datagrams_when_settings_arrive),
        cmocka_unit_test(test_DG_21_a_session_takes_every_byte_of_a_cut_capsule),
        cmocka_unit_test(test_idle_compressed_contexts_are_closed_by_tick),
#if MASQUE_ENABLE_AUTO_COMPRESS
        cmocka_unit_test(test_BIND_32_auto_compression_registers_busy_targets),
#endif
        cmocka_unit_test(test_BIND_34_proxy_limits_answer_close_not_abort),
        cmocka_unit_test(test_BIND_33_no_second_registration_for_a_tuple),
        cmocka_unit_test(test_BIND_37_context_id_0_is_never_sent_under_target_star),
        cmocka_unit_test(test_flood_of_100000_assigns_against_a_small_table),
#if MASQUE_ENABLE_DRAFT04
        cmocka_unit_test(test_draft04_profile_echoes_the_assign),
#endif
        cmocka_unit_test(test_property_random_capsule_sequences_keep_the_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
