/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A Bind client and proxy over real QUIC (ngtcp2 + nghttp3 + GnuTLS) on loopback, in one
 * process, with the test as both hosts (no masque_quic_proxy): the proxy's host holds the
 * accepted request, so it can end it as any proxy might. Bounded deadlines, no fixed sleeps;
 * TLS verified against a throw-away CA.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"
#include "tls_util.h"

#define LIMIT_NS 20000000000u /* any one awaited event: generous for valgrind, a loaded host */

static void udp_socket(int *fd, struct sockaddr_in *addr)
{
    socklen_t len = sizeof(*addr);
    *fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(*fd >= 0);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)addr, &len), 0);
}

typedef struct world {
    int server_fd;
    int client_fd;
    int relay_fd; /* the proxy's public socket for the request */
    int peer_fd;
    struct sockaddr_in server_addr;
    struct sockaddr_in client_addr;
    struct sockaddr_in relay_addr;
    struct sockaddr_in peer_addr;
    masque_quic_config scfg;
    masque_quic_conn *client;
    masque_quic_conn *proxy;
    masque_quic_request *client_req; /* the client's request, until it closes */
    masque_quic_request *proxy_req;  /* the request the proxy accepted, until it closes */
    int client_closed;
    uint64_t client_closed_with;
    int proxy_closed;
    uint64_t proxy_closed_with;
    int peer_got;
    /* The host routes as one with many connections would (route_by_id): a packet goes to the
     * connection whose issued IDs (ids, from masque_quic_watch_connection_ids()) it names, or
     * that it started; any other short-header packet gets a Stateless Reset. */
    int route_by_id;
    uint8_t ids[MASQUE_QUIC_CONNECTION_IDS_MAX][MASQUE_QUIC_CONNECTION_ID_LEN];
    int id_used[MASQUE_QUIC_CONNECTION_IDS_MAX];
    size_t ids_issued; /* reports of an issued ID */
    size_t resets_sent;
} world;

static masque_policy_rule loopback_rule;
static masque_policy policy;
static world w;

static void client_ready(masque_quic_request *r, void *app)
{
    world *wd = app;
    wd->client_req = r;
    assert_int_equal(masque_session_open_uncompressed(masque_quic_request_session(r), 0, NULL),
                     MASQUE_OK);
    assert_int_equal(masque_adapter_flush(masque_quic_request_adapter(r)), MASQUE_OK);
}

/* The client answers every packet with "pong" to its sender. */
static void client_packet(masque_quic_request *r, void *app, const masque_address *peer,
                          const uint8_t *data, size_t len)
{
    uint8_t buf[MASQUE_BIND_HEADROOM + 4];
    (void)app;
    (void)data;
    (void)len;
    memcpy(buf + MASQUE_BIND_HEADROOM, "pong", 4);
    (void)masque_adapter_write_datagram(masque_quic_request_adapter(r), peer,
                                        buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM, 4, 0);
}

static void client_close(masque_quic_request *r, void *app, uint64_t reason)
{
    world *wd = app;
    (void)r;
    wd->client_req = NULL;
    wd->client_closed = 1;
    wd->client_closed_with = reason;
}

static void proxy_packet(masque_quic_request *r, void *app, const masque_address *peer,
                         const uint8_t *data, size_t len)
{
    world *wd = app;
    struct sockaddr_storage ss;
    socklen_t sl;
    (void)r;
    if (masque_address_to_sockaddr(peer, &ss, &sl) == 0) {
        (void)sendto(wd->relay_fd, data, len, 0, (struct sockaddr *)&ss, sl);
    }
}

/* The proxy accepted a request: the public address stays the configured one. */
static int proxy_request(masque_quic_request *r, void *app, masque_address *public_addresses,
                         size_t *count)
{
    world *wd = app;
    (void)public_addresses;
    (void)count;
    wd->proxy_req = r;
    return 0;
}

static void proxy_close(masque_quic_request *r, void *app, uint64_t reason)
{
    world *wd = app;
    if (r == wd->proxy_req) {
        wd->proxy_req = NULL;
        wd->proxy_closed = 1;
        wd->proxy_closed_with = reason;
    }
}

/* masque_quic_watch_connection_ids(): the host's index (a table; a host with many
 * connections hashes the IDs' own bytes). */
static void watch_id(void *arg, const uint8_t *id, int issued)
{
    world *wd = arg;
    size_t i;
    for (i = 0; i < MASQUE_QUIC_CONNECTION_IDS_MAX; i++) {
        if (issued && !wd->id_used[i]) {
            memcpy(wd->ids[i], id, MASQUE_QUIC_CONNECTION_ID_LEN);
            wd->id_used[i] = 1;
            wd->ids_issued++;
            return;
        }
        if (!issued && wd->id_used[i] &&
            memcmp(wd->ids[i], id, MASQUE_QUIC_CONNECTION_ID_LEN) == 0) {
            wd->id_used[i] = 0;
            return;
        }
    }
    fail_msg("an ID the index cannot take or does not hold");
}

/* Whether the host's index holds the packet's Destination Connection ID. */
static int indexed(const uint8_t *pkt, size_t len)
{
    const uint8_t *dcid;
    size_t dcidlen;
    size_t i;
    if (masque_quic_packet_dcid(pkt, len, &dcid, &dcidlen) != 0 ||
        dcidlen != MASQUE_QUIC_CONNECTION_ID_LEN) {
        return 0;
    }
    for (i = 0; i < MASQUE_QUIC_CONNECTION_IDS_MAX; i++) {
        if (w.id_used[i] && memcmp(w.ids[i], dcid, dcidlen) == 0) {
            return 1;
        }
    }
    return 0;
}

static const uint8_t reset_secret[MASQUE_QUIC_RESET_SECRET_LEN] = {
    0x52, 0x65, 0x73, 0x65, 0x74, 0x20, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x20, 0x6f, 0x66, 0x20,
    0x74, 0x68, 0x65, 0x20, 0x74, 0x65, 0x73, 0x74, 0x27, 0x73, 0x20, 0x68, 0x6f, 0x73, 0x74, 0x2e};

/* A packet to the proxy's socket, routed as a host with its own server loop does. */
static void route(const struct sockaddr_storage *from, socklen_t fl, const uint8_t *pkt, size_t len)
{
    uint8_t reset[64];
    size_t n;
    if (w.proxy != NULL && (indexed(pkt, len) || masque_quic_started_by(w.proxy, pkt, len))) {
        (void)masque_quic_read_from(w.proxy, (const struct sockaddr *)from, fl, pkt, len);
        return;
    }
    n = masque_quic_stateless_reset(reset_secret, pkt, len, reset, sizeof(reset));
    if (n > 0) {
        assert_int_equal(sendto(w.server_fd, reset, n, 0, (const struct sockaddr *)from, fl),
                         (ssize_t)n);
        w.resets_sent++;
    }
}

static const masque_quic_hooks client_hooks = {client_ready, client_packet, client_close, NULL,
                                               NULL,         NULL,          NULL};
static const masque_quic_hooks proxy_hooks = {NULL,          proxy_packet, proxy_close, NULL,
                                              proxy_request, NULL,         NULL};

/* What the next client offers to resume (masque_quic_config.ticket), or NULL. */
static const uint8_t *offer;
static size_t offer_len;
static const char *client_ca_for_proxy; /* the proxy's client CA (mutual TLS), or NULL */

/* A client connecting to the proxy's socket; the proxy's connection comes with its Initial. */
static void start(void)
{
    static const char tmpl[] =
        "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";
    masque_quic_config ccfg;
    memset(&w, 0, sizeof(w));
    udp_socket(&w.server_fd, &w.server_addr);
    udp_socket(&w.client_fd, &w.client_addr);
    udp_socket(&w.relay_fd, &w.relay_addr);
    udp_socket(&w.peer_fd, &w.peer_addr);
    assert_int_equal(masque_policy_rule_parse(&loopback_rule, "127.0.0.0/8", 11, 1), MASQUE_OK);
    memset(&policy, 0, sizeof(policy));
    policy.rules = &loopback_rule;
    policy.rule_count = 1;
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = tmpl;
    w.scfg = ccfg;
    ccfg.ca_file = pki.ca_file; /* TLS verification stays on */
    ccfg.ticket = offer;
    ccfg.ticket_len = offer_len;
    w.scfg.is_server = 1;
    w.scfg.cert_file = pki.cert_file;
    w.scfg.key_file = pki.key_file;
    w.scfg.client_ca_file = client_ca_for_proxy;
    w.scfg.policy = &policy;
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&w.relay_addr,
                                                  sizeof(w.relay_addr), &w.scfg.public_address),
                     MASQUE_OK);
    w.client = masque_quic_client_new(&ccfg, w.client_fd, (struct sockaddr *)&w.client_addr,
                                      sizeof(w.client_addr), (struct sockaddr *)&w.server_addr,
                                      sizeof(w.server_addr), &client_hooks, &w);
    assert_non_null(w.client);
    assert_int_equal(masque_quic_write(w.client), 0);
}

static void stop(void)
{
    masque_quic_free(w.client);
    masque_quic_free(w.proxy);
    (void)close(w.server_fd);
    (void)close(w.client_fd);
    (void)close(w.relay_fd);
    (void)close(w.peer_fd);
}

/* One round: each socket read, the timers ticked, both connections written. */
static void step(void)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 65536];
    struct pollfd fds[4] = {{w.server_fd, POLLIN, 0},
                            {w.client_fd, POLLIN, 0},
                            {w.relay_fd, POLLIN, 0},
                            {w.peer_fd, POLLIN, 0}};
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n;
    (void)poll(fds, 4, 10);
    while ((n = recvfrom(w.server_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) > 0) {
        if (w.route_by_id) {
            route(&from, fl, buf, (size_t)n);
            fl = sizeof(from);
            continue;
        }
        if (w.proxy == NULL) {
            w.proxy = masque_quic_server_accept(
                &w.scfg, w.server_fd, (struct sockaddr *)&w.server_addr, sizeof(w.server_addr),
                (struct sockaddr *)&from, fl, buf, (size_t)n, &proxy_hooks, &w);
        }
        if (w.proxy != NULL) {
            (void)masque_quic_read(w.proxy, buf, (size_t)n);
            /* A server connection never reads the socket it shares with others. */
            assert_int_equal(masque_quic_read_socket(w.proxy), -1);
        }
        fl = sizeof(from);
    }
    while ((n = recv(w.client_fd, buf, sizeof(buf), 0)) > 0) {
        (void)masque_quic_read(w.client, buf, (size_t)n);
    }
    fl = sizeof(from);
    while ((n = recvfrom(w.relay_fd, buf + MASQUE_BIND_HEADROOM, sizeof(buf) - MASQUE_BIND_HEADROOM,
                         0, (struct sockaddr *)&from, &fl)) >
           0) { /* a UDP packet for the client's public address */
        masque_address src;
        if (w.proxy_req != NULL && masque_quic_request_adapter(w.proxy_req) != NULL &&
            masque_address_from_sockaddr((struct sockaddr *)&from, fl, &src) == MASQUE_OK) {
            (void)masque_adapter_write_datagram(masque_quic_request_adapter(w.proxy_req), &src,
                                                buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM,
                                                (size_t)n, 0);
        }
        fl = sizeof(from);
    }
    while ((n = recv(w.peer_fd, buf, sizeof(buf), 0)) > 0) {
        if (n == 4 && memcmp(buf, "pong", 4) == 0) {
            w.peer_got++;
        }
    }
    if (masque_quic_now_ns() >= masque_quic_next_timeout(w.client)) {
        (void)masque_quic_tick(w.client);
    }
    if (w.proxy != NULL && masque_quic_now_ns() >= masque_quic_next_timeout(w.proxy)) {
        (void)masque_quic_tick(w.proxy);
    }
    (void)masque_quic_write(w.client);
    if (w.proxy != NULL) {
        (void)masque_quic_write(w.proxy);
    }
}

static int pump(int (*done)(void))
{
    uint64_t end = masque_quic_now_ns() + LIMIT_NS;
    while (masque_quic_now_ns() < end) {
        step();
        if (done()) {
            return 1;
        }
    }
    return 0;
}

/* The proxy holds the client's uncompressed context: a peer may be heard. */
static int uncompressed_context_open(void)
{
    masque_context_info info;
    return w.client_req != NULL && w.proxy_req != NULL &&
           masque_quic_request_session(w.proxy_req) != NULL &&
           masque_session_context_find(masque_quic_request_session(w.proxy_req), NULL, &info);
}

static int peer_got_pong(void)
{
    return w.peer_got > 0;
}

static int both_closed(void)
{
    return w.client_closed && w.proxy_closed;
}

/* A peer's datagram to the public address reaches the client, and its answer the peer. */
static void round_trip(void)
{
    w.peer_got = 0;
    assert_int_equal(
        sendto(w.peer_fd, "ping", 4, 0, (struct sockaddr *)&w.relay_addr, sizeof(w.relay_addr)), 4);
    assert_true(pump(peer_got_pong));
}

static void test_e2e_a_bind_round_trip_over_real_quic(void **state)
{
    (void)state;
    start();
    assert_true(pump(uncompressed_context_open));
    round_trip();
    stop();
}

/* RFC 9298 §3.1: a proxy that closes a tunnel (its socket idle, say) ends the request stream.
 * The client ends its side too and hears of it, H3_NO_ERROR: left half-open, it would hold a
 * tunnel whose public address is gone and never know. */
static void test_e2e_UDP_7_a_proxys_clean_end_ends_the_clients_request(void **state)
{
    (void)state;
    start();
    assert_true(pump(uncompressed_context_open));
    round_trip();
    assert_int_equal(masque_quic_request_end(w.proxy_req), 0);
    assert_true(pump(both_closed));
    assert_int_equal(w.client_closed_with, MASQUE_H3_NO_ERROR);
    assert_int_equal(w.proxy_closed_with, MASQUE_H3_NO_ERROR);
    assert_false(masque_quic_is_closed(w.client)); /* the request ended, not the connection */
    stop();
}

static int client_connection_reset(void)
{
    return masque_quic_is_closed(w.client);
}

/* A host with its own server loop (no masque_quic_proxy) routes by connection ID, as RFC 9000
 * §5.2 and §9 ask, with the IDs masque_quic_watch_connection_ids() reports: the client moves to
 * another socket (a new port and a fresh ID, §9.5) and its tunnel carries on. Then the host
 * forgets the connection (a restart, say), and the client's next packet gets a Stateless Reset
 * built from the connection's reset secret (§10.3), which ends the client's connection there
 * and then, not at its idle timeout. */
static void
test_e2e_an_own_loop_host_routes_by_connection_id_and_resets_what_it_forgot(void **state)
{
    struct sockaddr_in moved;
    int moved_fd;
    int old_fd;
    uint8_t buf[MASQUE_BIND_HEADROOM + 4];
    masque_address peer;
    (void)state;
    start();
    w.scfg.reset_secret = reset_secret; /* read when the connection is accepted */
    assert_true(pump(uncompressed_context_open));
    assert_int_equal(masque_quic_watch_connection_ids(w.proxy, watch_id, &w), 0);
    assert_true(w.ids_issued >= 2); /* one to move to */
    w.route_by_id = 1;
    round_trip();
    udp_socket(&moved_fd, &moved);
    assert_int_equal(
        masque_quic_migrate(w.client, moved_fd, (struct sockaddr *)&moved, sizeof(moved)), 0);
    old_fd = w.client_fd;
    w.client_fd = moved_fd; /* what step() reads for the client */
    round_trip();           /* from the new port, found by the new ID */
    assert_int_equal(w.resets_sent, 0);
    /* The host forgets the connection. */
    assert_int_equal(masque_quic_watch_connection_ids(w.proxy, NULL, NULL), 0);
    masque_quic_free(w.proxy);
    w.proxy = NULL;
    memset(w.id_used, 0, sizeof(w.id_used));
    assert_non_null(w.client_req);
    assert_int_equal(
        masque_address_from_sockaddr((struct sockaddr *)&w.peer_addr, sizeof(w.peer_addr), &peer),
        MASQUE_OK);
    memcpy(buf + MASQUE_BIND_HEADROOM, "ping", 4);
    assert_int_equal(masque_adapter_write_datagram(masque_quic_request_adapter(w.client_req), &peer,
                                                   buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM,
                                                   4, 0),
                     MASQUE_OK);
    assert_true(pump(client_connection_reset));
    assert_true(w.resets_sent >= 1);
    assert_int_equal(masque_quic_end_reason(w.client, NULL), MASQUE_CONN_BROKEN);
    (void)close(old_fd);
    stop();
}

static int ticket_came(void)
{
    return masque_quic_ticket(w.client, NULL, 0) > 0;
}

/* A connection to the proxy, a tunnel through it, and whether the handshake resumed a session
 * (both ends say the same); the newest ticket goes to `ticket` (its size in `len`). */
static int tunnel_resumed(uint8_t *ticket, size_t cap, size_t *len)
{
    int resumed;
    start();
    assert_true(pump(uncompressed_context_open));
    round_trip();
    resumed = masque_quic_resumed(w.client);
    assert_int_equal(masque_quic_resumed(w.proxy), resumed);
    assert_true(pump(ticket_came)); /* every connection gets a fresh one, resumed or not */
    *len = masque_quic_ticket(w.client, NULL, 0);
    assert_true(*len <= cap);
    assert_int_equal(masque_quic_ticket(w.client, ticket, cap), *len);
    stop();
    return resumed;
}

/* RFC 8446 §2.2: the proxy sends session tickets, and a client that offers one on its next
 * connection resumes the session: the proxy's certificate is neither sent nor verified again
 * (less to send before QUIC's amplification limit, RFC 9000 §8.1, and no signature). The ticket
 * is bound to the proxy's key and client CA: one that is damaged, or meets a proxy whose
 * credentials changed, gets a full handshake, and the tunnel works either way. */
static void test_e2e_a_client_resumes_its_tls_session_with_the_proxys_ticket(void **state)
{
    static uint8_t first[16384];
    static uint8_t second[16384];
    static uint8_t scratch[16384];
    size_t first_len;
    size_t second_len;
    size_t len;
    (void)state;
    offer = NULL;
    offer_len = 0;
    assert_false(tunnel_resumed(first, sizeof(first), &first_len));
    assert_true(first_len > 0);
    offer = first;
    offer_len = first_len;
    assert_true(tunnel_resumed(second, sizeof(second), &second_len));
    /* A resumed connection hands out a ticket of its own, so that none is offered twice. */
    assert_true(second_len != first_len || memcmp(first, second, first_len) != 0);
    offer = second;
    offer_len = second_len;
    assert_true(tunnel_resumed(scratch, sizeof(scratch), &len));
    /* Too small a buffer: its size, nothing copied. */
    start();
    assert_true(pump(ticket_came));
    len = masque_quic_ticket(w.client, NULL, 0);
    memset(scratch, 0xA5, sizeof(scratch));
    assert_int_equal(masque_quic_ticket(w.client, scratch, len - 1), len);
    assert_int_equal(scratch[0], 0xA5);
    stop();
    /* What does not parse as a ticket is left out: a full handshake. */
    for (len = 0; len < second_len; len++) {
        scratch[len] = (uint8_t)(second[len] ^ 0x5A);
    }
    offer = scratch;
    offer_len = second_len;
    assert_false(tunnel_resumed(first, sizeof(first), &first_len));
    memset(scratch, 0x00, second_len); /* all zero */
    assert_false(tunnel_resumed(first, sizeof(first), &first_len));
    /* A proxy whose credentials have a client CA now: another ticket key, a full handshake. */
    offer = second;
    offer_len = second_len;
    client_ca_for_proxy = pki.ca_file;
    assert_false(tunnel_resumed(first, sizeof(first), &first_len));
    client_ca_for_proxy = NULL;
    offer = NULL;
    offer_len = 0;
}

/* One of several workers on a port (masque_quic_config.workers): every connection ID the
 * connection issues, the handshake's and those after it, starts with a byte that is the
 * worker's number modulo the workers, which the port's socket group steers by; the tunnel works
 * as any other. */
static void test_e2e_a_workers_connection_ids_begin_with_its_number(void **state)
{
    size_t i;
    size_t seen = 0;
    (void)state;
    start();
    w.scfg.workers = 5;
    w.scfg.worker = 3;
    assert_true(pump(uncompressed_context_open));
    assert_int_equal(masque_quic_watch_connection_ids(w.proxy, watch_id, &w), 0);
    round_trip();
    for (i = 0; i < MASQUE_QUIC_CONNECTION_IDS_MAX; i++) {
        if (w.id_used[i]) {
            assert_int_equal(w.ids[i][0] % 5u, 3u);
            seen++;
        }
    }
    assert_true(seen >= 2); /* the handshake's and at least one more */
    assert_int_equal(masque_quic_watch_connection_ids(w.proxy, NULL, NULL), 0);
    stop();
}

/* A client's Initial in QUIC version 0x1a2a3a4a, padded to 1200 bytes (RFC 9000 §14.1). */
static size_t unknown_version_initial(uint8_t *pkt, uint32_t version)
{
    static const uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t scid[5] = {9, 10, 11, 12, 13};
    memset(pkt, 0, 1200);
    pkt[0] = 0xC3;
    pkt[1] = (uint8_t)(version >> 24);
    pkt[2] = (uint8_t)(version >> 16);
    pkt[3] = (uint8_t)(version >> 8);
    pkt[4] = (uint8_t)version;
    pkt[5] = sizeof(dcid);
    memcpy(pkt + 6, dcid, sizeof(dcid));
    pkt[14] = sizeof(scid);
    memcpy(pkt + 15, scid, sizeof(scid));
    return 1200;
}

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 9000 §6.1, §17.2.1: the answer to a version this end does not speak lists the ones it
 * does (v1; v2, RFC 9369, where ngtcp2 has it) and a reserved one (§6.3, 0x?a?a?a?a), with
 * the client's connection IDs the other way round; and nothing answers a version it speaks, a
 * Version Negotiation packet, a short header or a datagram too small to start a connection. */
static void test_e2e_version_negotiation_answers_an_unknown_version(void **state)
{
    static uint8_t pkt[1200];
    uint8_t out[MASQUE_QUIC_VERSION_NEGOTIATION_MAX];
    size_t len = unknown_version_initial(pkt, 0x1a2a3a4au);
    size_t n = masque_quic_version_negotiation(pkt, len, out, sizeof(out));
    size_t i;
    int v1 = 0;
    int reserved = 0;
    (void)state;
    assert_true(n > 7 + 5 + 8);
    assert_int_equal(out[0] & 0x80, 0x80);  /* a long header */
    assert_int_equal(read_u32(out + 1), 0); /* Version 0: Version Negotiation */
    assert_int_equal(out[5], 5);            /* the client's Source Connection ID */
    assert_memory_equal(out + 6, pkt + 15, 5);
    assert_int_equal(out[11], 8); /* and its Destination Connection ID */
    assert_memory_equal(out + 12, pkt + 6, 8);
    assert_int_equal((n - 20) % 4, 0);
    for (i = 20; i < n; i += 4) {
        uint32_t v = read_u32(out + i);
        v1 |= v == 1;
        reserved |= (v & 0x0f0f0f0fu) == 0x0a0a0a0au;
        assert_true(v == 1 || v == 0x6b3343cfu || (v & 0x0f0f0f0fu) == 0x0a0a0a0au);
    }
    assert_true(v1 && reserved);
    assert_int_equal(masque_quic_version_negotiation(pkt, len, out, n - 1), 0); /* no room */
    assert_int_equal(masque_quic_version_negotiation(pkt, 1199, out, sizeof(out)), 0);
    assert_int_equal(masque_quic_version_negotiation(NULL, len, out, sizeof(out)), 0);
    assert_int_equal(masque_quic_version_negotiation(pkt, len, NULL, sizeof(out)), 0);
    (void)unknown_version_initial(pkt, 1);
    assert_int_equal(masque_quic_version_negotiation(pkt, len, out, sizeof(out)), 0);
    assert_true(masque_quic_starts_connection(pkt, len)); /* v1: an Initial, for an accept */
    (void)unknown_version_initial(pkt, 0);
    assert_int_equal(masque_quic_version_negotiation(pkt, len, out, sizeof(out)), 0);
    pkt[0] = 0x43; /* a short header */
    assert_int_equal(masque_quic_version_negotiation(pkt, len, out, sizeof(out)), 0);
    assert_false(masque_quic_starts_connection(pkt, len));
}

/* RFC 9000 §10.3: a Stateless Reset looks like a short-header packet (the fixed bit set),
 * ends with the token of the connection ID it answers (the same for each packet that names
 * it, unpredictable bits before it), and is shorter than what it answers (§10.3.3), so none
 * answers a packet of 21 bytes or less; a long header gets none. */
static void test_e2e_a_stateless_reset_is_shorter_than_the_packet_and_keeps_its_token(void **state)
{
    static uint8_t big[1200];
    uint8_t pkt[60];
    uint8_t a[64];
    uint8_t b[64];
    const uint8_t *dcid;
    size_t dcidlen;
    size_t n;
    (void)state;
    memset(pkt, 0xA5, sizeof(pkt));
    pkt[0] = 0x41;
    assert_int_equal(masque_quic_packet_dcid(pkt, sizeof(pkt), &dcid, &dcidlen), 0);
    assert_ptr_equal(dcid, pkt + 1);
    assert_int_equal(dcidlen, MASQUE_QUIC_CONNECTION_ID_LEN);
    n = masque_quic_stateless_reset(reset_secret, pkt, sizeof(pkt), a, sizeof(a));
    assert_int_equal(n, 43); /* the smallest 1-RTT packet with a 20-byte ID */
    assert_int_equal(a[0] & 0xC0, 0x40);
    assert_int_equal(masque_quic_stateless_reset(reset_secret, pkt, sizeof(pkt), b, sizeof(b)), n);
    assert_memory_equal(a + n - 16, b + n - 16, 16); /* the token */
    assert_memory_not_equal(a + 1, b + 1, n - 17);   /* the rest unpredictable */
    pkt[5] ^= 1;                                     /* another connection ID: another token */
    assert_int_equal(masque_quic_stateless_reset(reset_secret, pkt, sizeof(pkt), b, sizeof(b)), n);
    assert_memory_not_equal(a + n - 16, b + n - 16, 16);
    assert_int_equal(masque_quic_stateless_reset(reset_secret, pkt, 30, b, sizeof(b)), 29);
    assert_int_equal(masque_quic_stateless_reset(reset_secret, pkt, 22, b, sizeof(b)), 21);
    assert_int_equal(masque_quic_stateless_reset(reset_secret, pkt, 21, b, sizeof(b)), 0);
    assert_int_equal(masque_quic_stateless_reset(reset_secret, pkt, sizeof(pkt), b, 42), 0);
    assert_int_equal(masque_quic_stateless_reset(NULL, pkt, sizeof(pkt), b, sizeof(b)), 0);
    assert_int_equal(masque_quic_stateless_reset(reset_secret, NULL, sizeof(pkt), b, sizeof(b)), 0);
    pkt[0] = 0xC1; /* a long header */
    assert_int_equal(masque_quic_stateless_reset(reset_secret, pkt, sizeof(pkt), b, sizeof(b)), 0);
    assert_int_equal(masque_quic_packet_dcid(NULL, sizeof(pkt), &dcid, &dcidlen), -1);
    assert_int_equal(masque_quic_packet_dcid(pkt, 0, &dcid, &dcidlen), -1); /* an empty datagram */
    (void)unknown_version_initial(big, 0x1a2a3a4au); /* no connection of this end's */
    assert_int_equal(masque_quic_packet_dcid(big, sizeof(big), &dcid, &dcidlen), -1);
    (void)unknown_version_initial(big, 1);
    assert_int_equal(masque_quic_packet_dcid(big, sizeof(big), &dcid, &dcidlen), 0);
    assert_int_equal(dcidlen, 8);
    assert_ptr_equal(dcid, big + 6);
}

/* An address length no socket gives is refused, not copied past the storage. */
static void test_e2e_an_oversized_proxy_address_is_refused(void **state)
{
    static const char tmpl[] =
        "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";
    struct sockaddr_storage big[2];
    struct sockaddr_in local;
    masque_quic_config ccfg;
    int fd;
    (void)state;
    udp_socket(&fd, &local);
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = tmpl;
    ccfg.ca_file = pki.ca_file;
    memset(big, 0, sizeof(big));
    memcpy(big, &local, sizeof(local));
    assert_null(masque_quic_client_new(&ccfg, fd, (struct sockaddr *)&local, sizeof(local),
                                       (struct sockaddr *)big, (socklen_t)sizeof(big),
                                       &client_hooks, &w));
    (void)close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e2e_an_oversized_proxy_address_is_refused),
        cmocka_unit_test(test_e2e_a_bind_round_trip_over_real_quic),
        cmocka_unit_test(test_e2e_UDP_7_a_proxys_clean_end_ends_the_clients_request),
        cmocka_unit_test(
            test_e2e_an_own_loop_host_routes_by_connection_id_and_resets_what_it_forgot),
        cmocka_unit_test(test_e2e_a_workers_connection_ids_begin_with_its_number),
        cmocka_unit_test(test_e2e_a_client_resumes_its_tls_session_with_the_proxys_ticket),
        cmocka_unit_test(test_e2e_version_negotiation_answers_an_unknown_version),
        cmocka_unit_test(test_e2e_a_stateless_reset_is_shorter_than_the_packet_and_keeps_its_token),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
