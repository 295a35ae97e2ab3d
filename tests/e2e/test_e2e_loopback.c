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

static const masque_quic_hooks client_hooks = {client_ready, client_packet, client_close, NULL,
                                               NULL,         NULL,          NULL};
static const masque_quic_hooks proxy_hooks = {NULL,          proxy_packet, proxy_close, NULL,
                                              proxy_request, NULL,         NULL};

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
    w.scfg.is_server = 1;
    w.scfg.cert_file = pki.cert_file;
    w.scfg.key_file = pki.key_file;
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
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
