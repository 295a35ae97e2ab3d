/* SPDX-License-Identifier: GPL-3.0-only */
/* The stack-neutral adapter: a client and a proxy wired through fake stacks in memory. */
#include "session_util.h"

#include "masque/adapter.h"

#define PAYLOAD "Encapsulated UDP Payload"

/* A fake QUIC/HTTP/3 stack: what the adapter wrote, sent, delivered and aborted with. */
typedef struct fake_stack {
    uint8_t stream[4096];
    size_t stream_len;
    uint8_t datagrams[8][128];
    size_t datagram_len[8];
    size_t ndatagrams;
    masque_address delivered_peer;
    char delivered[64];
    size_t ndelivered;
    uint64_t aborted;
    size_t events;
    int fail_writes;
    int no_room; /* write_stream answers MASQUE_HOST_NO_ROOM */
} fake_stack;

static int fake_write_stream(void *host, const uint8_t *data, size_t len)
{
    fake_stack *f = host;
    if (f->fail_writes) {
        return -1;
    }
    if (f->no_room) {
        return MASQUE_HOST_NO_ROOM;
    }
    assert_true(f->stream_len + len <= sizeof(f->stream));
    memcpy(f->stream + f->stream_len, data, len);
    f->stream_len += len;
    return 0;
}

static int fake_write_datagram(void *host, const uint8_t *data, size_t len)
{
    fake_stack *f = host;
    assert_true(f->ndatagrams < 8 && len <= 128);
    memcpy(f->datagrams[f->ndatagrams], data, len);
    f->datagram_len[f->ndatagrams++] = len;
    return 0;
}

static void fake_on_packet(void *host, const masque_address *peer, const uint8_t *data, size_t len)
{
    fake_stack *f = host;
    assert_true(len < sizeof(f->delivered));
    f->delivered_peer = *peer;
    memcpy(f->delivered, data, len);
    f->delivered[len] = '\0';
    f->ndelivered++;
}

static void fake_abort(void *host, uint64_t code)
{
    ((fake_stack *)host)->aborted = code;
}

static void fake_event(void *host, const masque_event *ev)
{
    (void)ev;
    ((fake_stack *)host)->events++;
}

static const masque_host_ops ops_h3 = {fake_write_stream, fake_write_datagram, fake_on_packet,
                                       fake_abort, fake_event};
static const masque_host_ops ops_capsules = {fake_write_stream, NULL, fake_on_packet, fake_abort,
                                             fake_event};

typedef struct side {
    endpoint e;
    fake_stack stack;
    masque_adapter a;
} side;

static void side_init(side *s, masque_role role, int capsules)
{
    masque_session_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.policy = &allow_all;
    cfg.capsule_datagrams = capsules;
    endpoint_init(&s->e, role, &cfg, TABLE_CAP);
    memset(&s->stack, 0, sizeof(s->stack));
    assert_int_equal(
        masque_adapter_init(&s->a, &s->e.s, capsules ? &ops_capsules : &ops_h3, &s->stack),
        MASQUE_OK);
}

/* Moves what `from` wrote on its stream into `to`. */
static void move_stream(side *from, side *to)
{
    size_t n = from->stack.stream_len;
    from->stack.stream_len = 0;
    assert_int_equal(masque_adapter_read_stream(&to->a, from->stack.stream, n, 0), MASQUE_OK);
}

/* Both sides up with the client's uncompressed context registered and acknowledged (-10 §4);
 * capsules: 1 for DATAGRAM capsules, 0 for QUIC DATAGRAM frames. */
static void tunnel_up(side *client, side *proxy, int capsules)
{
    side_init(client, MASQUE_ROLE_CLIENT, capsules);
    side_init(proxy, MASQUE_ROLE_PROXY, capsules);
    assert_int_equal(masque_session_open_uncompressed(&client->e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_adapter_flush(&client->a), MASQUE_OK);
    move_stream(client, proxy);
    move_stream(proxy, client);
}

static void move_datagrams(side *from, side *to)
{
    size_t i;
    for (i = 0; i < from->stack.ndatagrams; i++) {
        assert_int_equal(masque_adapter_read_datagram(&to->a, from->stack.datagrams[i],
                                                      from->stack.datagram_len[i], 0),
                         MASQUE_OK);
    }
    from->stack.ndatagrams = 0;
}

static void send_payload(side *s, const masque_address *peer)
{
    uint8_t buf[MASQUE_BIND_HEADROOM + 32];
    memcpy(buf + MASQUE_BIND_HEADROOM, PAYLOAD, 24);
    assert_int_equal(masque_adapter_write_datagram(&s->a, peer, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 24, 0),
                     MASQUE_OK);
}

static void test_appendix_flow_through_adapters(void **state)
{
    static side client;
    static side proxy;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    (void)state;
    side_init(&client, MASQUE_ROLE_CLIENT, 0);
    side_init(&proxy, MASQUE_ROLE_PROXY, 0);
    assert_int_equal(masque_session_open_uncompressed(&client.e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_adapter_flush(&client.a), MASQUE_OK);
    assert_int_equal(client.stack.stream_len, 4);
    move_stream(&client, &proxy); /* ASSIGN; the proxy's ACK is written at once */
    assert_int_equal(proxy.stack.stream_len, 3);
    move_stream(&proxy, &client);
    assert_int_equal(client.stack.events, 1); /* acknowledged */
    send_payload(&proxy, &t);                 /* a UDP packet from the target */
    assert_int_equal(proxy.stack.ndatagrams, 1);
    assert_memory_equal(proxy.stack.datagrams[0], "\x0b\x02\x04\xcb\x00\x71\x0b\x10\xe1", 9);
    move_datagrams(&proxy, &client);
    assert_int_equal(client.stack.ndelivered, 1);
    assert_string_equal(client.stack.delivered, PAYLOAD);
    assert_true(masque_address_equal(&client.stack.delivered_peer, &t));
    send_payload(&client, &t);
    move_datagrams(&client, &proxy);
    assert_int_equal(proxy.stack.ndelivered, 1); /* the proxy's host sends it to t */
    assert_true(masque_address_equal(&proxy.stack.delivered_peer, &t));
}

static void test_DG_8_capsules_when_datagrams_were_not_negotiated(void **state)
{
    static side client;
    static side proxy;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    (void)state;
    side_init(&client, MASQUE_ROLE_CLIENT, 1);
    side_init(&proxy, MASQUE_ROLE_PROXY, 1);
    assert_int_equal(masque_session_open_uncompressed(&client.e.s, 0, NULL), MASQUE_OK);
    send_payload(&client, &t); /* pre-emptively, behind the ASSIGN on the same stream */
    assert_int_equal(client.stack.ndatagrams, 0);
    assert_int_equal(client.stack.stream_len, 4 + 2 + 8 + 24);
    move_stream(&client, &proxy);
    assert_int_equal(proxy.stack.ndelivered, 1);
    assert_string_equal(proxy.stack.delivered, PAYLOAD);
}

static void test_DG_11_malformed_capsule_aborts_with_h3_message_error(void **state)
{
    static side proxy;
    (void)state;
    side_init(&proxy, MASQUE_ROLE_PROXY, 0);
    assert_int_equal(
        masque_adapter_read_stream(&proxy.a, (const uint8_t *)"\x11\x02\x00\x00", 4, 0),
        MASQUE_ERR_CONTEXT_ID_ZERO);
    assert_true(proxy.stack.aborted == MASQUE_H3_MESSAGE_ERROR);
    assert_int_equal(masque_adapter_read_stream(&proxy.a, (const uint8_t *)"\x12\x01\x02", 3, 0),
                     MASQUE_ERR_SESSION_FAILED);
    /* RFC 9297 §2.1: datagrams for the dead stream are dropped, not errors. */
    assert_int_equal(masque_adapter_read_datagram(&proxy.a, (const uint8_t *)"\x0b\x02", 2, 0),
                     MASQUE_OK);
}

static void test_DG_3_DG_4_bad_datagrams_are_connection_errors(void **state)
{
    static side proxy;
    (void)state;
    side_init(&proxy, MASQUE_ROLE_PROXY, 0);
    assert_int_equal(masque_adapter_read_datagram(&proxy.a, (const uint8_t *)"", 0, 0),
                     MASQUE_ERR_DATAGRAM_TRUNCATED);
    assert_true(masque_h3_error_for(MASQUE_ERR_DATAGRAM_TRUNCATED) == MASQUE_H3_DATAGRAM_ERROR);
    assert_int_equal(masque_adapter_read_datagram(
                         &proxy.a, (const uint8_t *)"\xd0\x00\x00\x00\x00\x00\x00\x00", 8, 0),
                     MASQUE_ERR_QUARTER_STREAM_ID);
    assert_true(masque_h3_error_for(MASQUE_ERR_QUARTER_STREAM_ID) == MASQUE_H3_DATAGRAM_ERROR);
    assert_int_equal(masque_adapter_read_datagram(&proxy.a, (const uint8_t *)"\x0c\x02", 2, 0),
                     MASQUE_ERR_STREAM_ID); /* another request's */
    assert_true(proxy.stack.aborted == 0);
}

static void test_DG_14_fin_inside_a_capsule_aborts(void **state)
{
    static side proxy;
    (void)state;
    side_init(&proxy, MASQUE_ROLE_PROXY, 0);
    assert_int_equal(masque_adapter_read_stream(&proxy.a, (const uint8_t *)"\x11\x02", 2, 0),
                     MASQUE_OK);
    assert_int_equal(masque_adapter_read_fin(&proxy.a), MASQUE_ERR_STREAM_TRUNCATED);
    assert_true(proxy.stack.aborted == MASQUE_H3_MESSAGE_ERROR);
}

static void test_host_failures_and_bad_arguments(void **state)
{
    static side client;
    masque_host_ops bad = ops_h3;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    masque_adapter a;
    (void)state;
    bad.on_packet = NULL;
    assert_int_equal(masque_adapter_init(&a, &client.e.s, &bad, NULL), MASQUE_ERR_INVALID_ARGUMENT);
    assert_int_equal(masque_adapter_flush(NULL), MASQUE_ERR_INVALID_ARGUMENT);
    side_init(&client, MASQUE_ROLE_CLIENT, 0);
    assert_int_equal(masque_session_open_uncompressed(&client.e.s, 0, NULL), MASQUE_OK);
    client.stack.fail_writes = 1;
    assert_int_equal(masque_adapter_tick(&client.a, 0), MASQUE_ERR_STATE);
    assert_true(client.stack.aborted == MASQUE_H3_INTERNAL_ERROR);
    {
        uint8_t buf[MASQUE_BIND_HEADROOM + 4];
        assert_int_equal(masque_adapter_write_datagram(&client.a, &t, buf + MASQUE_BIND_HEADROOM,
                                                       MASQUE_BIND_HEADROOM, 4, 0),
                         MASQUE_ERR_SESSION_FAILED);
    }
}

/*
 * A host stream with no room (a peer that does not take capsules as fast as they come): the
 * DATAGRAM capsule is dropped and counted and the request goes on (UDP-16 bounds the
 * buffering; an HTTP Datagram may be lost, RFC 9297 §2). A response that flow control holds
 * back waits in the session's queue and goes out, before any datagram, once there is room
 * (-10 §9); only when the responses waiting reach the session's bound is the stream aborted
 * (BIND-30).
 */
static void test_UDP_16_BIND_30_a_full_stream_drops_datagrams_and_aborts_for_responses(void **state)
{
    static side client;
    static side proxy;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    masque_address t2 = addr4(203, 0, 113, 12, 4321);
    masque_session_stats st;
    uint8_t buf[MASQUE_BIND_HEADROOM + 24];
    uint8_t want[64];
    size_t n;
    size_t k;
    (void)state;
    tunnel_up(&client, &proxy, 1);
    proxy.stack.no_room = 1;
    memcpy(buf + MASQUE_BIND_HEADROOM, PAYLOAD, 24);
    assert_int_equal(masque_adapter_write_datagram(&proxy.a, &t, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 24, 0),
                     MASQUE_ERR_QUEUE_FULL);
    assert_true(proxy.stack.aborted == 0);
    assert_int_equal(proxy.stack.stream_len, 0);
    masque_session_get_stats(&proxy.e.s, &st);
    assert_true(st.dropped_no_room == 1u);
    proxy.stack.no_room = 0;
    send_payload(&proxy, &t); /* the next one finds room */
    move_stream(&proxy, &client);
    assert_int_equal(client.stack.ndelivered, 1);
    assert_string_equal(client.stack.delivered, PAYLOAD);
    /* The client registers a target; the proxy's COMPRESSION_ACK finds no room and waits. */
    assert_int_equal(masque_session_open_context(&client.e.s, &t2, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_adapter_flush(&client.a), MASQUE_OK);
    proxy.stack.no_room = 1;
    move_stream(&client, &proxy);
    assert_true(proxy.stack.aborted == 0);
    assert_int_equal(masque_session_queued_capsules(&proxy.e.s), 1);
    /* A datagram meanwhile finds the stream full, even once there is room, until the ACK is
     * out: it never overtakes it. */
    memcpy(buf + MASQUE_BIND_HEADROOM, PAYLOAD, 24);
    assert_int_equal(masque_adapter_write_datagram(&proxy.a, &t, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 24, 0),
                     MASQUE_ERR_QUEUE_FULL);
    proxy.stack.no_room = 0;
    send_payload(&proxy, &t);
    n = hex_to_bytes("12 01 04  00 20 02 04 cb00710b 10e1", want, sizeof(want));
    assert_true(proxy.stack.stream_len == n + 24);
    assert_memory_equal(proxy.stack.stream, want, n);
    assert_memory_equal(proxy.stack.stream + n, PAYLOAD, 24);
    move_stream(&proxy, &client);
    assert_int_equal(client.stack.ndelivered, 2);
    /* Registrations whose answers pile up without room: the bound aborts the stream. */
    proxy.stack.no_room = 1;
    for (k = 0; k < MASQUE_SESSION_DEFAULT_MAX_PENDING + 1 && proxy.stack.aborted == 0; k++) {
        masque_address tk = addr4(203, 0, 113, (uint8_t)(20 + k), 4321);
        assert_int_equal(masque_session_open_context(&client.e.s, &tk, 0, NULL), MASQUE_OK);
        assert_int_equal(masque_adapter_flush(&client.a), MASQUE_OK);
        n = client.stack.stream_len;
        client.stack.stream_len = 0;
        (void)masque_adapter_read_stream(&proxy.a, client.stack.stream, n, 0);
    }
    assert_true(proxy.stack.aborted == MASQUE_H3_EXCESSIVE_LOAD);
    assert_int_equal(masque_session_error(&proxy.e.s), MASQUE_ERR_PENDING_LIMIT);
}

static void test_DG_17_DG_8_datagrams_stay_on_the_path_the_host_chose(void **state)
{
    static side client;
    static side proxy;
    static side stray;
    masque_address t = addr4(203, 0, 113, 11, 4321);
    masque_session_config cfg;
    uint8_t buf[MASQUE_BIND_HEADROOM + 32];
    (void)state;
    /* QUIC DATAGRAM frames in, QUIC DATAGRAM frames out; nothing on the stream. */
    tunnel_up(&client, &proxy, 0);
    send_payload(&client, &t);
    assert_int_equal(client.stack.ndatagrams, 1);
    assert_int_equal(client.stack.stream_len, 0);
    move_datagrams(&client, &proxy);
    assert_int_equal(proxy.stack.ndelivered, 1);
    assert_int_equal(proxy.stack.stream_len, 0); /* not re-encoded as a capsule */
    /* Capsules in, capsules out: a DATAGRAM capsule is delivered, never turned into a frame. */
    side_init(&client, MASQUE_ROLE_CLIENT, 1);
    side_init(&proxy, MASQUE_ROLE_PROXY, 1);
    assert_int_equal(masque_session_open_uncompressed(&client.e.s, 0, NULL), MASQUE_OK);
    send_payload(&client, &t);
    move_stream(&client, &proxy);
    assert_int_equal(proxy.stack.ndelivered, 1);
    assert_int_equal(proxy.stack.ndatagrams, 0);
    send_payload(&proxy, &t);
    assert_int_equal(proxy.stack.ndatagrams, 0);
    assert_true(proxy.stack.stream_len > 0);
    /* A session set for frames on a host that cannot send them: refused, not moved to the
     * stream behind the host's back (RFC 9297 §3.5). */
    memset(&cfg, 0, sizeof(cfg));
    cfg.policy = &allow_all;
    endpoint_init(&stray.e, MASQUE_ROLE_CLIENT, &cfg, TABLE_CAP);
    memset(&stray.stack, 0, sizeof(stray.stack));
    assert_int_equal(masque_adapter_init(&stray.a, &stray.e.s, &ops_capsules, &stray.stack),
                     MASQUE_OK);
    assert_int_equal(masque_session_open_uncompressed(&stray.e.s, 0, NULL), MASQUE_OK);
    assert_int_equal(masque_adapter_flush(&stray.a), MASQUE_OK);
    stray.stack.stream_len = 0;
    memcpy(buf + MASQUE_BIND_HEADROOM, PAYLOAD, 24);
    assert_int_equal(masque_adapter_write_datagram(&stray.a, &t, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 24, 0),
                     MASQUE_ERR_STATE);
    assert_int_equal(stray.stack.stream_len, 0);
}

/* A connection with four client-initiated bidirectional streams, as a host's table. */
typedef struct fake_connection {
    masque_stream_state state[4]; /* streams 0, 4, 8, 12 */
    masque_adapter *adapter;      /* the CONNECT-UDP request on stream 44 (the appendix's) */
} fake_connection;

static masque_stream_state fake_lookup(void *host, uint64_t stream_id, masque_adapter **adapter)
{
    fake_connection *c = host;
    if (stream_id == 44) {
        *adapter = c->adapter;
        return MASQUE_STREAM_DATAGRAMS;
    }
    if (stream_id / 4 < 4) {
        return c->state[stream_id / 4];
    }
    return stream_id / 4 < 100 ? MASQUE_STREAM_NOT_OPEN : MASQUE_STREAM_BEYOND_LIMIT;
}

static int dispatch(fake_connection *c, const char *hex, uint64_t *stream_id, uint64_t *h3)
{
    uint8_t d[64];
    size_t n = hex_to_bytes(hex, d, sizeof(d));
    return masque_h3_datagram_dispatch(d, n, 0, fake_lookup, c, stream_id, h3);
}

static void test_DG_2_DG_6_UDP_15_DG_19_datagrams_are_routed_by_quarter_stream_id(void **state)
{
    static side proxy;
    fake_connection c;
    uint64_t sid = 0;
    uint64_t h3 = 0;
    (void)state;
    side_init(&proxy, MASQUE_ROLE_PROXY, 0);
    memset(&c, 0, sizeof(c));
    c.adapter = &proxy.a;
    c.state[1] = MASQUE_STREAM_NO_DATAGRAMS; /* stream 4: a GET */
    assert_int_equal(
        masque_adapter_read_stream(&proxy.a, (const uint8_t *)"\x11\x02\x02\x00", 4, 0), MASQUE_OK);
    /* The Bind request's datagram reaches its session. */
    assert_int_equal(dispatch(&c, "0b 02 04 cb00710b 10e1 aabb", &sid, &h3),
                     MASQUE_DATAGRAM_DELIVERED);
    assert_true(sid == 44 && h3 == 0);
    assert_int_equal(proxy.stack.ndelivered, 1);
    /* DG-6, UDP-15: a stream not opened yet (or closed): dropped, nothing else. */
    assert_int_equal(dispatch(&c, "0c 02 04 cb00710b 10e1 aabb", &sid, &h3),
                     MASQUE_DATAGRAM_DROPPED);
    assert_true(sid == 48 && h3 == 0);
    assert_int_equal(proxy.stack.ndelivered, 1);
    /* DG-2: a request without datagram semantics is aborted with H3_DATAGRAM_ERROR. */
    assert_int_equal(dispatch(&c, "01 aabb", &sid, &h3), MASQUE_DATAGRAM_ABORT_STREAM);
    assert_true(sid == 4 && h3 == MASQUE_H3_DATAGRAM_ERROR);
    /* DG-19: beyond the stream limit, H3_ID_ERROR on the connection. */
    assert_int_equal(dispatch(&c, "4100 aabb", &sid, &h3), MASQUE_DATAGRAM_CLOSE_CONNECTION);
    assert_true(sid == 1024 && h3 == MASQUE_H3_ID_ERROR);
    /* DG-3, DG-4: malformed frames close the connection with H3_DATAGRAM_ERROR. */
    assert_int_equal(dispatch(&c, "", &sid, &h3), MASQUE_DATAGRAM_CLOSE_CONNECTION);
    assert_true(h3 == MASQUE_H3_DATAGRAM_ERROR);
    assert_int_equal(dispatch(&c, "d000000000000000", &sid, &h3), MASQUE_DATAGRAM_CLOSE_CONNECTION);
    assert_true(h3 == MASQUE_H3_DATAGRAM_ERROR);
    /* A datagram its session cannot take (Context ID 0 under `*`): that stream is aborted. */
    assert_int_equal(dispatch(&c, "0b 00 aabb", &sid, &h3), MASQUE_DATAGRAM_ABORT_STREAM);
    assert_true(sid == 44 && h3 == MASQUE_H3_MESSAGE_ERROR);
    assert_true(proxy.stack.aborted == MASQUE_H3_MESSAGE_ERROR);
    /* DG-5: after that, its datagrams are dropped by the adapter. */
    assert_int_equal(dispatch(&c, "0b 02 04 cb00710b 10e1 aabb", &sid, &h3),
                     MASQUE_DATAGRAM_DELIVERED);
    assert_int_equal(proxy.stack.ndelivered, 1);
    assert_int_equal(masque_h3_datagram_dispatch(NULL, 0, 0, NULL, &c, &sid, &h3),
                     MASQUE_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appendix_flow_through_adapters),
        cmocka_unit_test(test_DG_8_capsules_when_datagrams_were_not_negotiated),
        cmocka_unit_test(test_DG_11_malformed_capsule_aborts_with_h3_message_error),
        cmocka_unit_test(test_DG_3_DG_4_bad_datagrams_are_connection_errors),
        cmocka_unit_test(test_DG_14_fin_inside_a_capsule_aborts),
        cmocka_unit_test(test_host_failures_and_bad_arguments),
        cmocka_unit_test(
            test_UDP_16_BIND_30_a_full_stream_drops_datagrams_and_aborts_for_responses),
        cmocka_unit_test(test_DG_17_DG_8_datagrams_stay_on_the_path_the_host_chose),
        cmocka_unit_test(test_DG_2_DG_6_UDP_15_DG_19_datagrams_are_routed_by_quarter_stream_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
