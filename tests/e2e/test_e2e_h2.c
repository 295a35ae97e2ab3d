/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * End-to-end tests of Bind over HTTP/2 (masque::h2: nghttp2 + GnuTLS over TCP) on loopback, in
 * one process: a client connection and a proxy connection over a real TCP socket with TLS
 * (verified against a throw-away CA), the test acting as the proxy's host with one UDP socket
 * per accepted request, and plain UDP peers. Bounded deadlines, no fixed sleeps.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "masque/h2.h"
#include "masque/posix.h"
#include "tls_util.h"

#define MAX_REQ 4

typedef struct client_req { /* what the client knows of one of its requests */
    masque_h2_request *req;
    masque_address pub;
    int ready;
    int got;
    int closed;
    uint32_t closed_with;
    int status; /* of the proxy's response, as the request's end saw it */
    uint8_t last[2048];
    size_t last_len;
    masque_address last_peer;
} client_req;

typedef struct relay { /* the proxy's side of one accepted request */
    masque_h2_request *req;
    int fd;
    masque_address pub;
    int closed;
    uint32_t closed_with;
} relay;

static masque_policy_rule loopback_rule;
static masque_policy policy;
static const char tmpl[] = "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";
static int listen_fd = -1;
static int client_fd = -1;
static int server_fd = -1;
static masque_h2_conn *client;
static masque_h2_conn *server;
static client_req creq[MAX_REQ];
static relay relays[MAX_REQ];
static size_t nrelays;
static int client_paused;    /* the client stops reading (and writing) */
static int server_paused;    /* the proxy stops reading (and writing) */
static size_t proxy_packets; /* datagrams the proxy's requests sent to their peers */
static size_t server_stream_buffer;
static uint64_t server_max_wait_ms;   /* the proxy's datagram_max_wait_ms; 0: the default */
static int server_wants_certificates; /* mutual TLS: the proxy asks for client certificates */
static const char *client_cert;       /* the client's certificate and key, or NULL */
static const char *client_ca;         /* the CA the client verifies against; NULL: the test CA */
static int client_system_trust;       /* the client is given no CA: it takes the system's */
static const char *client_authority;  /* the proxy's name to the client; NULL: "localhost" */
/* In place of the proxy, a TLS server that offers no HTTP/2 (no ALPN): its session, when set */
static int serve_plain_tls;
static gnutls_session_t plain_tls;
static gnutls_certificate_credentials_t plain_cred;
static const char *client_key;
static const uint8_t *client_ticket; /* the session ticket the client offers, or NULL */
static size_t client_ticket_len;
static const uint8_t *server_ticket_key; /* the proxy's ticket key; NULL: from its key file */
static char last_log[256];
static uint64_t server_idle_ms;   /* the connections' idle timeouts; 0: the default */
static size_t server_max_streams; /* the proxy's SETTINGS_MAX_CONCURRENT_STREAMS; 0: default */
static uint64_t client_idle_ms;
static int refuse_with; /* the proxy answers requests with this status; 0: it accepts them */
/* What the proxy's on_request advertises besides its relay's IPv4 address: 1 also [::1] at
 * the same port, -1 nothing at all (a count of 0). */
static int advertise;

static uint64_t ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int udp_socket(masque_address *out)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&sin, sl, out), MASQUE_OK);
    return fd;
}

/* ---- the client's hooks ---- */

static void client_ready(masque_h2_request *r, void *app)
{
    client_req *q = app;
    q->req = r;
    assert_true(masque_h2_request_public_addresses(r, &q->pub, 1) >= 1);
    assert_int_equal(masque_session_open_uncompressed(masque_h2_request_session(r), ms(), NULL),
                     MASQUE_OK);
    assert_int_equal(masque_adapter_flush(masque_h2_request_adapter(r)), MASQUE_OK);
    q->ready = 1;
}

static void client_packet(masque_h2_request *r, void *app, const masque_address *peer,
                          const uint8_t *data, size_t len)
{
    client_req *q = app;
    (void)r;
    assert_true(len <= sizeof(q->last));
    memcpy(q->last, data, len);
    q->last_len = len;
    q->last_peer = *peer;
    q->got++;
}

/* Two requests of which the first to end cancels the other from its on_close, as a host
 * that gives up on all its tunnels at once may (set by a test; cleared after). */
static masque_h2_request *close_cancels[2];

static void client_close(masque_h2_request *r, void *app, uint32_t code)
{
    client_req *q = app;
    size_t i;
    q->req = NULL;
    q->closed = 1;
    q->closed_with = code;
    q->status = masque_h2_request_status(r);
    for (i = 0; i < 2; i++) {
        masque_h2_request *other = close_cancels[1 - i];
        if (close_cancels[i] == r && other != NULL) {
            close_cancels[0] = NULL;
            close_cancels[1] = NULL;
            assert_int_equal(masque_h2_request_cancel(other, MASQUE_H2_CANCEL), 0);
        }
    }
}

static void capture_log(masque_h2_conn *c, void *app, const char *line)
{
    (void)c;
    (void)app;
    (void)snprintf(last_log, sizeof(last_log), "%s", line);
}

static const masque_h2_hooks client_hooks = {client_ready, client_packet, client_close, capture_log,
                                             NULL,         NULL,          NULL};

/* ---- the proxy's hooks: the test is its host ---- */

static int proxy_request(masque_h2_request *r, void *app, masque_address *public_addresses,
                         size_t *count)
{
    relay *rl;
    (void)app;
    assert_int_equal(masque_h2_request_status(r), 0); /* a client's reading only */
    if (refuse_with != 0) {
        return refuse_with;
    }
    if (nrelays == MAX_REQ) {
        return -1;
    }
    rl = &relays[nrelays++];
    memset(rl, 0, sizeof(*rl));
    rl->req = r;
    rl->fd = udp_socket(&rl->pub);
    public_addresses[0] = rl->pub;
    *count = 1;
    if (advertise == 1) {
        static const uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        masque_address_set_v6(&public_addresses[1], loopback6, rl->pub.port);
        *count = 2;
    } else if (advertise == -1) {
        *count = 0; /* a host's mistake: the binding refuses rather than advertise nothing */
    }
    masque_h2_request_set_app(r, rl);
    return 0;
}

static void proxy_packet(masque_h2_request *r, void *app, const masque_address *peer,
                         const uint8_t *data, size_t len)
{
    relay *rl = app;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    (void)r;
    proxy_packets++;
    if (masque_address_to_sockaddr(peer, &ss, &sl) == 0) {
        (void)sendto(rl->fd, data, len, 0, (struct sockaddr *)&ss, sl);
    }
}

static void proxy_close(masque_h2_request *r, void *app, uint32_t code)
{
    relay *rl = app;
    (void)r;
    rl->req = NULL;
    rl->closed = 1;
    rl->closed_with = code;
}

static const masque_h2_hooks proxy_hooks = {NULL,          proxy_packet, proxy_close, NULL,
                                            proxy_request, NULL,         NULL};

/* ---- set-up ---- */

static void start(void)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    masque_h2_config cfg;
    memset(creq, 0, sizeof(creq));
    memset(relays, 0, sizeof(relays));
    nrelays = 0;
    client_paused = 0;
    server_paused = 0;
    proxy_packets = 0;
    last_log[0] = '\0';
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(listen_fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(listen_fd, 4), 0);
    assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&sin, &sl), 0);
    client_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(client_fd >= 0);
    assert_true(connect(client_fd, (struct sockaddr *)&sin, sl) == 0 || errno == EINPROGRESS);
    memset(&cfg, 0, sizeof(cfg));
    cfg.authority = client_authority != NULL ? client_authority : "localhost";
    cfg.uri_template = tmpl;
    cfg.ca_file = client_system_trust ? NULL : client_ca != NULL ? client_ca : pki.ca_file;
    cfg.cert_file = client_cert;
    cfg.key_file = client_key;
    cfg.conn_idle_timeout_ms = client_idle_ms;
    cfg.ticket = client_ticket;
    cfg.ticket_len = client_ticket_len;
    client = masque_h2_client_new(&cfg, client_fd, &client_hooks, &creq[0]);
    assert_non_null(client);
    server = NULL;
    server_fd = -1;
}

static void stop(void)
{
    size_t i;
    masque_h2_free(client);
    masque_h2_free(server);
    if (plain_tls != NULL) {
        gnutls_deinit(plain_tls);
        gnutls_certificate_free_credentials(plain_cred);
        plain_tls = NULL;
    }
    for (i = 0; i < nrelays; i++) {
        (void)close(relays[i].fd);
    }
    (void)close(client_fd);
    if (server_fd >= 0) {
        (void)close(server_fd);
    }
    (void)close(listen_fd);
    client = NULL;
    server = NULL;
}

static void serve(void)
{
    masque_h2_config cfg;
    server_fd = accept(listen_fd, NULL, NULL);
    if (server_fd < 0) {
        return;
    }
    assert_int_equal(fcntl(server_fd, F_SETFL, O_NONBLOCK), 0);
    if (serve_plain_tls) {
        assert_int_equal(gnutls_certificate_allocate_credentials(&plain_cred), 0);
        assert_int_equal(gnutls_certificate_set_x509_key_file(plain_cred, pki.cert_file,
                                                              pki.key_file, GNUTLS_X509_FMT_PEM),
                         0);
        assert_int_equal(gnutls_init(&plain_tls, GNUTLS_SERVER | GNUTLS_NONBLOCK), 0);
        assert_int_equal(gnutls_set_default_priority(plain_tls), 0);
        assert_int_equal(gnutls_credentials_set(plain_tls, GNUTLS_CRD_CERTIFICATE, plain_cred), 0);
        gnutls_transport_set_int(plain_tls, server_fd);
        return;
    }
    (void)masque_policy_rule_parse(&loopback_rule, "127.0.0.0/8", 11, 1);
    memset(&policy, 0, sizeof(policy));
    policy.rules = &loopback_rule;
    policy.rule_count = 1;
    memset(&cfg, 0, sizeof(cfg));
    cfg.uri_template = tmpl;
    cfg.cert_file = pki.cert_file;
    cfg.key_file = pki.key_file;
    cfg.policy = &policy;
    cfg.stream_buffer = server_stream_buffer;
    cfg.datagram_max_wait_ms = server_max_wait_ms;
    cfg.client_ca_file = server_wants_certificates ? pki.ca_file : NULL;
    cfg.conn_idle_timeout_ms = server_idle_ms;
    cfg.ticket_key = server_ticket_key;
    cfg.max_streams = server_max_streams;
    server = masque_h2_server_new(&cfg, server_fd, &proxy_hooks, NULL);
    assert_non_null(server);
}

/* One round: accept, read and write both connections, relay what the peers sent. */
static void step(void)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 65536];
    size_t i;
    struct pollfd pfd[2 + MAX_REQ];
    nfds_t n = 0;
    pfd[n].fd = server == NULL && plain_tls == NULL ? listen_fd : server_fd;
    pfd[n++].events = POLLIN;
    pfd[n].fd = client_fd;
    pfd[n++].events = (short)(POLLIN | (masque_h2_wants_write(client) ? POLLOUT : 0));
    for (i = 0; i < nrelays; i++) {
        pfd[n].fd = relays[i].fd;
        pfd[n++].events = POLLIN;
    }
    (void)poll(pfd, n, 1);
    if (plain_tls != NULL) {
        (void)gnutls_handshake(plain_tls); /* as far as it goes; then it waits */
    } else if (server == NULL) {
        serve();
    }
    if (!client_paused) {
        (void)masque_h2_read(client);
        (void)masque_h2_tick(client);
    }
    if (server != NULL && !server_paused) {
        (void)masque_h2_read(server);
    }
    for (i = 0; i < nrelays; i++) {
        relay *rl = &relays[i];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t r;
        while ((r = recvfrom(rl->fd, buf + MASQUE_BIND_HEADROOM, 65536, 0, (struct sockaddr *)&from,
                             &fl)) >= 0) {
            masque_address src;
            if (rl->req != NULL && masque_h2_request_adapter(rl->req) != NULL &&
                masque_address_from_sockaddr((struct sockaddr *)&from, fl, &src) == 0) {
                (void)masque_adapter_write_datagram(masque_h2_request_adapter(rl->req), &src,
                                                    buf + MASQUE_BIND_HEADROOM,
                                                    MASQUE_BIND_HEADROOM, (size_t)r, ms());
            }
            fl = sizeof(from);
        }
    }
    if (server != NULL && !server_paused) {
        (void)masque_h2_tick(server);
    }
}

static int pump(uint64_t limit_ms, int (*done)(void))
{
    uint64_t end = ms() + limit_ms;
    while (ms() < end) {
        step();
        if (done != NULL && done()) {
            return 1;
        }
    }
    return 0;
}

/* Ready: the proxy acknowledged the request's uncompressed context. */
static int request_ready(size_t k)
{
    masque_context_info u;
    return creq[k].ready && creq[k].req != NULL &&
           masque_session_context_find(masque_h2_request_session(creq[k].req), NULL, &u) &&
           u.state == MASQUE_CONTEXT_ACTIVE;
}

static int first_ready(void)
{
    return request_ready(0);
}

static int both_ready(void)
{
    return request_ready(0) && request_ready(1);
}

static int second_closed(void)
{
    return creq[1].closed;
}

static int second_relay_closed(void)
{
    return relays[1].closed;
}

static void peer_send(int peer, const masque_address *to, const char *text)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    assert_int_equal(masque_address_to_sockaddr(to, &ss, &sl), MASQUE_OK);
    assert_int_equal(sendto(peer, text, strlen(text), 0, (struct sockaddr *)&ss, sl),
                     (ssize_t)strlen(text));
}

/* Waits (pumping) for one datagram at the peer; returns its length, its source in `from`. */
static ssize_t peer_recv(int peer, masque_address *from, uint8_t *out, size_t cap)
{
    uint64_t end = ms() + 5000;
    while (ms() < end) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        ssize_t r = recvfrom(peer, out, cap, 0, (struct sockaddr *)&ss, &sl);
        if (r >= 0) {
            assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, sl, from),
                             MASQUE_OK);
            return r;
        }
        step();
    }
    return -1;
}

static void client_send(client_req *q, const masque_address *to, const char *text)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 2048];
    size_t len = strlen(text);
    memcpy(buf + MASQUE_BIND_HEADROOM, text, len);
    assert_int_equal(masque_adapter_write_datagram(masque_h2_request_adapter(q->req), to,
                                                   buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM,
                                                   len, ms()),
                     MASQUE_OK);
}

/* A peer's datagram reaches the request, and its answer leaves from the public address. */
static void round_trip(size_t k, int peer, const masque_address *peer_addr, const char *text)
{
    masque_address from;
    uint8_t back[64];
    uint64_t end = ms() + 5000;
    creq[k].got = 0;
    peer_send(peer, &creq[k].pub, text);
    while (creq[k].got == 0 && ms() < end) {
        step();
    }
    assert_int_equal(creq[k].got, 1);
    assert_int_equal(creq[k].last_len, strlen(text));
    assert_memory_equal(creq[k].last, text, strlen(text));
    client_send(&creq[k], peer_addr, "answer");
    assert_int_equal(peer_recv(peer, &from, back, sizeof(back)), 6);
    assert_memory_equal(back, "answer", 6);
    assert_true(masque_address_equal(&from, &creq[k].pub));
}

/* ---- the tests ---- */

static int server_closed(void)
{
    return server != NULL && masque_h2_is_closed(server);
}

static void test_e2e_h2_a_silent_connection_is_closed_at_the_idle_timeout(void **state)
{
    /* A TCP connection that never finishes its handshake must not hold a slot forever. */
    uint64_t t0;
    (void)state;
    server_idle_ms = 300;
    start();
    client_paused = 1; /* the client never sends its ClientHello */
    t0 = ms();
    assert_true(pump(10000, server_closed));
    assert_true(ms() - t0 >= 300);
    stop();
    server_idle_ms = 0;
}

static void test_e2e_h2_an_idle_tunnel_outlives_the_idle_timeout(void **state)
{
    /* Nothing to relay for three idle timeouts: the client's PINGs (every half of its own
     * timeout) keep the connection up; a margin of half a second for a loaded machine. */
    masque_address peer_addr;
    int peer;
    (void)state;
    server_idle_ms = 1000;
    client_idle_ms = 1000;
    start();
    assert_true(pump(5000, first_ready));
    assert_false(pump(3000, server_closed));
    assert_false(creq[0].closed);
    peer = udp_socket(&peer_addr);
    round_trip(0, peer, &peer_addr, "still there");
    (void)close(peer);
    stop();
    server_idle_ms = 0;
    client_idle_ms = 0;
}

static uint64_t compressed_id;

static int compressed_active(void)
{
    masque_context_info info;
    return creq[0].req != NULL &&
           masque_session_context_get(masque_h2_request_session(creq[0].req), compressed_id,
                                      &info) &&
           info.state == MASQUE_CONTEXT_ACTIVE;
}

static void
test_e2e_UDP_3_DG_8_h2_bind_and_relay_both_ways_uncompressed_and_compressed(void **state)
{
    masque_address peer_addr;
    int peer;
    (void)state;
    start();
    assert_true(pump(5000, first_ready));
    assert_int_equal(nrelays, 1);
    assert_true(masque_address_equal(&creq[0].pub, &relays[0].pub)); /* Proxy-Public-Address */
    peer = udp_socket(&peer_addr);
    round_trip(0, peer, &peer_addr, "over the uncompressed context");
    /* -10 §4: a compressed context for the peer, then the same both ways through it. */
    assert_int_equal(masque_session_open_context(masque_h2_request_session(creq[0].req), &peer_addr,
                                                 ms(), &compressed_id),
                     MASQUE_OK);
    assert_int_equal(masque_adapter_flush(masque_h2_request_adapter(creq[0].req)), MASQUE_OK);
    assert_true(pump(5000, compressed_active));
    round_trip(0, peer, &peer_addr, "over the compressed context");
    (void)close(peer);
    stop();
}

/* A client tells a proxy that answers its TLS handshake from an address that takes the TCP
 * connection and then says nothing (masque-bind-client moves on to the next address). */
static void test_e2e_h2_the_handshake_is_reported_once_tls_is_up(void **state)
{
    uint64_t until;
    (void)state;
    start();
    until = ms() + 300;
    while (ms() < until) { /* the listener's backlog took the connection; no one answers it */
        struct pollfd pfd = {client_fd, POLLIN, 0};
        (void)masque_h2_write(client);
        (void)poll(&pfd, 1, 10);
        (void)masque_h2_read(client);
    }
    assert_false(masque_h2_handshake_completed(client));
    assert_false(masque_h2_is_closed(client));
    assert_true(pump(5000, first_ready));
    assert_true(masque_h2_handshake_completed(client));
    assert_non_null(server);
    assert_true(masque_h2_handshake_completed(server));
    stop();
}

/* A connection with two Bind requests, both ready. */
static void start_two_requests(void)
{
    start();
    assert_non_null(masque_h2_request_open(client, &creq[1]));
    assert_true(pump(5000, both_ready));
}

static void test_e2e_h2_two_requests_on_one_connection(void **state)
{
    masque_address peer_addr;
    int peer;
    (void)state;
    start_two_requests();
    assert_int_equal(nrelays, 2);
    assert_int_not_equal(creq[0].pub.port, creq[1].pub.port);
    assert_true(masque_h2_request_stream_id(creq[0].req) !=
                masque_h2_request_stream_id(creq[1].req));
    peer = udp_socket(&peer_addr);
    round_trip(0, peer, &peer_addr, "to the first");
    round_trip(1, peer, &peer_addr, "to the second");
    assert_int_equal(creq[0].got, 0 + 1);
    (void)close(peer);
    stop();
}

/* A client cancels one of its two requests (RFC 9113 §8.7: RST_STREAM with CANCEL): the proxy
 * ends that request with the client's code and frees its relay; the other request, on the same
 * connection, keeps its tunnel. */
static void test_e2e_h2_a_cancelled_request_leaves_the_other_working(void **state)
{
    masque_address peer_addr;
    int peer;
    (void)state;
    start_two_requests();
    assert_ptr_equal(masque_h2_request_app(creq[1].req), &creq[1]);
    assert_int_equal(masque_h2_request_cancel(creq[1].req, MASQUE_H2_CANCEL), 0);
    assert_true(pump(5000, second_relay_closed));
    assert_int_equal(relays[1].closed_with, MASQUE_H2_CANCEL);
    assert_true(pump(5000, second_closed));
    assert_false(creq[0].closed);
    assert_false(relays[0].closed);
    peer = udp_socket(&peer_addr);
    round_trip(0, peer, &peer_addr, "still there");
    (void)close(peer);
    stop();
}

static int second_ready(void)
{
    return request_ready(1);
}

/* RFC 9113 §5.1.2: a proxy that allows one stream at a time (masque_h2_config.max_streams)
 * has a client's second request wait until the first ends, then serves it: not refused. */
static void test_e2e_h2_a_request_beyond_the_stream_limit_waits_for_room(void **state)
{
    masque_address peer_addr;
    int peer;
    (void)state;
    server_max_streams = 1;
    start();
    assert_true(pump(5000, first_ready));
    assert_non_null(masque_h2_request_open(client, &creq[1]));
    /* A round trip later, the proxy has not heard of it (its HEADERS would have gone before
     * the round trip's DATA). */
    peer = udp_socket(&peer_addr);
    round_trip(0, peer, &peer_addr, "while the second waits");
    assert_int_equal(nrelays, 1);
    assert_false(creq[1].ready);
    assert_false(creq[1].closed);
    assert_int_equal(masque_h2_request_end(creq[0].req), 0);
    assert_true(pump(5000, second_ready));
    assert_int_equal(nrelays, 2);
    round_trip(1, peer, &peer_addr, "once the first ended");
    (void)close(peer);
    stop();
}

/* A request still waiting for room under the proxy's stream limit is cancelled at once and
 * without a frame: an RST_STREAM for a stream the proxy never saw would be a connection error
 * (RFC 9113 §6.4), the end of every tunnel on it. Cancelling a sent request a second time,
 * before its on_close, costs nothing either. */
static void test_e2e_h2_cancelling_requests_costs_the_others_nothing(void **state)
{
    masque_address peer_addr;
    masque_h2_request *waiting;
    int peer;
    (void)state;
    server_max_streams = 2;
    start_two_requests();
    waiting = masque_h2_request_open(client, &creq[2]);
    assert_non_null(waiting);
    assert_int_equal(masque_h2_request_stream_id(waiting), -1);
    assert_int_equal(masque_h2_request_cancel(waiting, MASQUE_H2_CANCEL), 0);
    assert_true(creq[2].closed); /* at once: it was never sent */
    assert_int_equal(creq[2].closed_with, MASQUE_H2_CANCEL);
    assert_int_equal(masque_h2_request_cancel(creq[1].req, MASQUE_H2_CANCEL), 0);
    assert_int_equal(masque_h2_request_cancel(creq[1].req, MASQUE_H2_CANCEL), 0);
    assert_true(pump(5000, second_closed));
    peer = udp_socket(&peer_addr);
    round_trip(0, peer, &peer_addr, "after the others were cancelled");
    assert_false(masque_h2_is_closed(client));
    assert_false(masque_h2_is_closed(server));
    assert_false(creq[0].closed);
    assert_int_equal(nrelays, 2);
    (void)close(peer);
    stop();
}

/*
 * RFC 9113 §5.1.2: a stream the client closed (it answered the proxy's END_STREAM with its own)
 * no longer counts, and its next request may go at once. The proxy resets the ended request
 * before it reads that END_STREAM: nghttp2 counts a stream whose RST_STREAM waits to be sent,
 * and took the client's next request for one too many (GOAWAY PROTOCOL_ERROR, every tunnel
 * gone). Found by fuzz_h2_pair.
 */
static void test_e2e_h2_a_request_after_one_the_proxy_reset_late_is_served(void **state)
{
    masque_h2_request *second;
    uint64_t end;
    (void)state;
    server_max_streams = 1;
    start();
    assert_true(pump(5000, first_ready));
    second = masque_h2_request_open(client, &creq[1]); /* waits for stream 1 to close */
    assert_non_null(second);
    assert_int_equal(masque_h2_request_end(relays[0].req), 0);
    assert_true(masque_h2_write(server) >= 0);
    /* The client alone: it reads the END_STREAM, ends its side, sends the waiting request. */
    end = ms() + 5000;
    while (!creq[0].closed && ms() < end) {
        struct pollfd pfd = {client_fd, POLLIN, 0};
        (void)poll(&pfd, 1, 10);
        (void)masque_h2_read(client);
        (void)masque_h2_write(client);
    }
    assert_true(creq[0].closed);
    assert_int_equal(masque_h2_request_stream_id(second), 3);
    /* The proxy resets the request before it reads what the client sent since. */
    assert_non_null(relays[0].req);
    assert_int_equal(masque_h2_request_cancel(relays[0].req, MASQUE_H2_CANCEL), 0);
    assert_true(pump(5000, second_ready));
    assert_false(masque_h2_is_closed(server));
    assert_false(masque_h2_is_closed(client));
    stop();
}

static void test_e2e_h2_a_refused_request_tells_the_client_its_status(void **state)
{
    (void)state;
    start();
    assert_true(pump(5000, first_ready));
    assert_int_equal(masque_h2_request_status(creq[0].req), 200);
    refuse_with = 429; /* a quota, say: worth asking again later (masque-bind-client --reconnect) */
    assert_non_null(masque_h2_request_open(client, &creq[1]));
    assert_true(pump(5000, second_closed));
    assert_int_equal(creq[1].status, 429);
    assert_false(creq[0].closed);
    stop();
}

/* -10 §7: a proxy that advertises addresses of one IP version supports only that version; the
 * request's session refuses the others on both sides (BIND-27). With a tuple of each, both
 * work, and the client learns every tuple in the order the proxy gave them. */
static void test_e2e_BIND_27_h2_the_session_holds_to_the_families_the_proxy_advertised(void **state)
{
    static const uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static uint8_t buf[MASQUE_BIND_HEADROOM + 16];
    masque_address pub[MASQUE_PUBLIC_ADDRESSES_MAX];
    masque_address peer4;
    masque_address peer6;
    masque_adapter *proxy_side;
    uint64_t end;
    int peer;
    (void)state;
    masque_address_set_v6(&peer6, loopback6, 9);
    start();
    assert_true(pump(5000, first_ready));
    assert_int_equal(masque_h2_request_public_addresses(creq[0].req, pub, 4), 1);
    peer = udp_socket(&peer4);
    proxy_side = masque_h2_request_adapter(relays[0].req);
    memcpy(buf + MASQUE_BIND_HEADROOM, "six", 3);
    assert_int_equal(masque_adapter_write_datagram(proxy_side, &peer6, buf + MASQUE_BIND_HEADROOM,
                                                   MASQUE_BIND_HEADROOM, 3, ms()),
                     MASQUE_ERR_FAMILY_NOT_ADVERTISED);
    assert_int_equal(masque_adapter_write_datagram(masque_h2_request_adapter(creq[0].req), &peer6,
                                                   buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM,
                                                   3, ms()),
                     MASQUE_ERR_FAMILY_NOT_ADVERTISED);
    round_trip(0, peer, &peer4, "four");

    advertise = 1;
    assert_non_null(masque_h2_request_open(client, &creq[1]));
    assert_true(pump(5000, both_ready));
    assert_int_equal(masque_h2_request_public_addresses(creq[1].req, pub, 4), 2);
    assert_true(masque_address_equal(&pub[0], &relays[1].pub));
    assert_int_equal(pub[1].version, MASQUE_IP_V6);
    assert_memory_equal(pub[1].bytes, loopback6, 16);
    assert_int_equal(pub[1].port, relays[1].pub.port);
    creq[1].got = 0;
    assert_int_equal(masque_adapter_write_datagram(masque_h2_request_adapter(relays[1].req), &peer6,
                                                   buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM,
                                                   3, ms()),
                     MASQUE_OK);
    end = ms() + 5000;
    while (creq[1].got == 0 && ms() < end) {
        step();
    }
    assert_int_equal(creq[1].got, 1);
    assert_true(masque_address_equal(&creq[1].last_peer, &peer6));
    client_send(&creq[1], &peer6, "back"); /* allowed now: MASQUE_OK */
    round_trip(1, peer, &peer4, "four again");
    (void)close(peer);
    stop();
}

/* A host whose on_request leaves no public address gets its request answered 503 (-10 §7: at
 * least one), and still hears of its end: it accepted the request. */
static void test_e2e_h2_a_request_without_a_public_address_is_refused(void **state)
{
    (void)state;
    start();
    assert_true(pump(5000, first_ready));
    advertise = -1;
    assert_non_null(masque_h2_request_open(client, &creq[1]));
    assert_true(pump(5000, second_closed));
    assert_int_equal(creq[1].status, 503);
    assert_int_equal(nrelays, 2);
    assert_true(pump(5000, second_relay_closed));
    assert_false(creq[0].closed);
    stop();
}

static void test_e2e_DG_11_h2_malformed_capsule_resets_only_that_stream(void **state)
{
    static const uint8_t bad[] = {0x11, 0x02, 0x00, 0x00}; /* ASSIGN with Context ID 0 */
    masque_address peer_addr;
    int peer;
    (void)state;
    start_two_requests();
    assert_int_equal(masque_h2_request_write_stream(creq[1].req, bad, sizeof(bad)), 0);
    assert_true(pump(5000, second_closed));
    /* RFC 9297 §3.3 over HTTP/2: a malformed message, PROTOCOL_ERROR (RFC 9113 §8.1.1). */
    assert_int_equal(creq[1].closed_with, MASQUE_H2_PROTOCOL_ERROR);
    assert_false(creq[0].closed);
    peer = udp_socket(&peer_addr);
    round_trip(0, peer, &peer_addr, "the other request goes on");
    (void)close(peer);
    stop();
}

static int still_here(void)
{
    return creq[0].last_len == 10 && memcmp(creq[0].last, "still here", 10) == 0;
}

static void
test_e2e_UDP_16_h2_datagrams_a_client_does_not_take_are_dropped_not_its_tunnel(void **state)
{
    static uint8_t big[1200];
    masque_address peer_addr;
    masque_session_stats st;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    size_t most = 0;
    int peer;
    int i;
    (void)state;
    server_stream_buffer = 64 * 1024;
    start();
    assert_true(pump(5000, first_ready));
    peer = udp_socket(&peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&creq[0].pub, &ss, &sl), MASQUE_OK);
    memset(big, 0xAB, sizeof(big));
    client_paused = 1;
    /* 24 MB toward a client that reads nothing: TCP fills, then the request's buffer. */
    for (i = 0; i < 20000 && !relays[0].closed; i++) {
        (void)sendto(peer, big, sizeof(big), 0, (struct sockaddr *)&ss, sl);
        if (i % 16 == 15) {
            step();
            if (relays[0].req != NULL && masque_h2_request_buffered(relays[0].req) > most) {
                most = masque_h2_request_buffered(relays[0].req);
            }
        }
    }
    /* The proxy never held more than its bound (UDP-16) and dropped what did not fit, counted,
     * as a full QUIC DATAGRAM frame queue does (an HTTP Datagram may be lost, RFC 9297 §2):
     * the tunnel, and with it the client's public address, stays. */
    assert_true(most <= 64 * 1024);
    assert_false(relays[0].closed);
    masque_session_get_stats(masque_h2_request_session(relays[0].req), &st);
    assert_true(st.dropped_no_room > 0);
    /* The client reads again: what was held comes first, then a new datagram (sent again until
     * it is through: one sent while the buffer is still full may be dropped too), and the
     * answer goes back from the public address. */
    client_paused = 0;
    for (i = 0; i < 100 && !still_here() && !creq[0].closed; i++) {
        peer_send(peer, &creq[0].pub, "still here");
        (void)pump(100, still_here);
    }
    assert_true(still_here());
    client_send(&creq[0], &peer_addr, "answer");
    {
        masque_address from;
        uint8_t back[64];
        assert_int_equal(peer_recv(peer, &from, back, sizeof(back)), 6);
        assert_true(masque_address_equal(&from, &creq[0].pub));
    }
    assert_false(relays[0].closed);
    (void)close(peer);
    stop();
    server_stream_buffer = 0;
}

/* A tunnel kept busy: BUSY_TOTAL datagrams of BUSY_SIZE bytes, BUSY_WINDOW at a time. */
enum { BUSY_SIZE = 1000, BUSY_WINDOW = 3, BUSY_TOTAL = 5000, BUSY_BACKLOG = 150 };
static char busy_msg[BUSY_SIZE + 1];
static int busy_peer;
static masque_address busy_peer_addr;
static int busy_sent;
static int busy_got;

/* A connection with its request ready, and the peer of the busy tests. */
static void start_busy(void)
{
    memset(busy_msg, 'x', BUSY_SIZE);
    start();
    assert_true(pump(5000, first_ready));
    busy_peer = udp_socket(&busy_peer_addr);
}

/* pump()'s check: what reached the client, and as many more from the peer as the window
 * allows. */
static int peer_keeps_sending(void)
{
    busy_got = creq[0].got;
    while (busy_sent < BUSY_TOTAL && busy_sent - busy_got < BUSY_WINDOW) {
        peer_send(busy_peer, &creq[0].pub, busy_msg);
        busy_sent++;
    }
    return busy_got >= BUSY_TOTAL || creq[0].closed;
}

/* The same from the client: what reached the peer, and more from the client. */
static int client_keeps_sending(void)
{
    uint8_t buf[BUSY_SIZE + 1];
    while (recv(busy_peer, buf, sizeof(buf), MSG_DONTWAIT) == BUSY_SIZE) {
        busy_got++;
    }
    while (!creq[0].closed && busy_sent < BUSY_TOTAL && busy_sent - busy_got < BUSY_WINDOW) {
        client_send(&creq[0], &busy_peer_addr, busy_msg);
        busy_sent++;
    }
    return busy_got >= BUSY_TOTAL || creq[0].closed;
}

/*
 * DG-8 over HTTP/2 without a pause: 5 MB each way through a request whose buffer holds 16 KiB,
 * more than a stream's flow-control window (4 MiB, RFC 9113 §6.9.2), which each side must keep
 * opening as it consumes. About 50 ms here, longer under valgrind: each way may take two
 * minutes before the test gives up.
 */
static void test_e2e_DG_8_h2_a_busy_tunnel_carries_many_times_its_buffer(void **state)
{
    (void)state;
    server_stream_buffer = 16384;
    start_busy();
    busy_sent = 0;
    assert_true(pump(120000, peer_keeps_sending));
    assert_false(creq[0].closed);
    assert_int_equal(creq[0].got, BUSY_TOTAL);
    assert_int_equal(creq[0].last_len, BUSY_SIZE);
    busy_sent = 0;
    busy_got = 0;
    assert_true(pump(120000, client_keeps_sending));
    assert_false(creq[0].closed);
    assert_false(relays[0].closed);
    assert_int_equal(busy_got, BUSY_TOTAL);
    (void)close(busy_peer);
    stop();
}

static int first_got(void)
{
    return creq[0].got > 0;
}

static int all_busy_relayed(void)
{
    return proxy_packets == BUSY_BACKLOG;
}

/*
 * Windows of megabytes let a peer put far more in the socket than one turn of a host's loop
 * should handle for one connection: one masque_h2_read() takes at most 64 KiB (and the TLS
 * record it ends in), and the socket stays readable for the rest, which the next calls take.
 */
static void test_e2e_h2_one_read_takes_a_bounded_share_of_a_backlog(void **state)
{
    uint64_t end;
    size_t before;
    int queued = 0;
    int i;
    (void)state;
    start_busy();
    /* Room in the proxy's socket for the whole backlog (the kernel may give more; a fresh
     * Debian 12 allows 208 KiB, doubled): its TCP window then takes all of it. */
    {
        int room = 212992;
        assert_int_equal(setsockopt(server_fd, SOL_SOCKET, SO_RCVBUF, &room, sizeof(room)), 0);
    }
    server_paused = 1;
    for (i = 0; i < BUSY_BACKLOG; i++) {
        client_send(&creq[0], &busy_peer_addr, busy_msg);
    }
    end = ms() + 20000;
    while (ms() < end && (queued < BUSY_BACKLOG * BUSY_SIZE || masque_h2_wants_write(client))) {
        step();
        assert_int_equal(ioctl(server_fd, FIONREAD, &queued), 0);
    }
    assert_true(queued >= BUSY_BACKLOG * BUSY_SIZE);
    before = proxy_packets;
    assert_int_equal(masque_h2_read(server), 0);
    assert_true(proxy_packets > before);
    assert_true(proxy_packets - before <= (65536u + 16384u) / BUSY_SIZE + 1u);
    server_paused = 0;
    assert_true(pump(20000, all_busy_relayed));
    (void)close(busy_peer);
    stop();
}

/*
 * A datagram that comes when the capsules the request's buffer holds have waited longer than
 * datagram_max_wait_ms (300 ms here) is dropped and counted, though the buffer (256 KiB) has
 * room: behind a path slower than what it is offered, the buffer holds that long at most,
 * not all its bytes' worth (a second, at 2 Mbit/s). One datagram each 5 ms toward a client
 * that reads nothing: TCP's buffers fill, then the request's; in 300 ms, 60 KB come.
 */
static void test_e2e_h2_a_datagram_that_would_wait_too_long_is_dropped(void **state)
{
    masque_session_stats st;
    uint64_t end;
    uint64_t last_sent = 0;
    uint64_t held_since = 0; /* when the step began in which the buffer began to hold */
    size_t held = 0;
    (void)state;
    server_max_wait_ms = 300;
    start_busy();
    client_paused = 1;
    memset(&st, 0, sizeof(st));
    end = ms() + 60000;
    while (st.dropped_no_room == 0 && ms() < end && !relays[0].closed) {
        uint64_t before = ms();
        if (before >= last_sent + 5) {
            peer_send(busy_peer, &creq[0].pub, busy_msg);
            last_sent = before;
        }
        step();
        held = masque_h2_request_buffered(relays[0].req);
        if (held == 0) {
            held_since = 0;
        } else if (held_since == 0) {
            held_since = before;
        }
        masque_session_get_stats(masque_h2_request_session(relays[0].req), &st);
    }
    assert_true(st.dropped_no_room > 0);
    assert_true(held_since != 0);
    assert_true(ms() - held_since > 300); /* not before the first held had waited that long */
    assert_true(held < 128 * 1024);       /* for the wait, not for room */
    /* The client reads again: what was held comes, and the tunnel goes on. */
    client_paused = 0;
    creq[0].got = 0;
    assert_true(pump(20000, first_got));
    assert_false(relays[0].closed);
    (void)close(busy_peer);
    stop();
    server_max_wait_ms = 0;
}

static int first_closed(void)
{
    return creq[0].closed;
}

static int client_over(void)
{
    return masque_h2_is_closed(client);
}

static int first_closed_both_ends(void)
{
    return creq[0].closed && relays[0].closed;
}

/* RFC 9298 §3.1: a proxy that closes a tunnel (its socket idle, say) ends the request stream.
 * The client ends its side too and hears of it, NO_ERROR: left half-open, it would hold a
 * tunnel whose public address is gone and never know. */
static void test_e2e_UDP_7_h2_a_proxys_clean_end_ends_the_clients_request(void **state)
{
    (void)state;
    start();
    assert_true(pump(5000, first_ready));
    assert_int_equal(masque_h2_request_end(relays[0].req), 0);
    assert_true(pump(5000, first_closed_both_ends));
    assert_int_equal(creq[0].closed_with, MASQUE_H2_NO_ERROR);
    assert_int_equal(relays[0].closed_with, MASQUE_H2_NO_ERROR);
    assert_int_equal(masque_h2_end_reason(client, NULL), MASQUE_CONN_OPEN); /* just the request */
    stop();
}

/* RFC 9113 §6.8: the proxy leaves in order (GOAWAY); the client's request ends with it. */
static void test_e2e_h2_goaway_from_the_proxy_ends_the_clients_requests(void **state)
{
    uint64_t code = 1;
    (void)state;
    server_max_streams = 1; /* a second and a third request wait for room, unsent */
    start();
    assert_true(pump(5000, first_ready));
    close_cancels[0] = masque_h2_request_open(client, &creq[1]);
    close_cancels[1] = masque_h2_request_open(client, &creq[2]);
    assert_non_null(close_cancels[0]);
    assert_non_null(close_cancels[1]);
    assert_int_equal(masque_h2_end_reason(client, NULL), MASQUE_CONN_OPEN);
    assert_int_equal(masque_h2_close(server, MASQUE_H2_NO_ERROR), 0);
    assert_true(relays[0].closed);        /* the proxy's side ended at once */
    (void)shutdown(server_fd, SHUT_RDWR); /* and the proxy lets go of the connection */
    assert_true(pump(5000, first_closed));
    assert_int_equal(creq[0].closed_with, MASQUE_H2_NO_ERROR);
    /* RFC 9113 §8.7: the one never sent was not processed, safe to ask again elsewhere. */
    assert_true(creq[1].closed);
    assert_true(creq[2].closed);
    /* Whichever ended first cancelled the other from its on_close. */
    assert_int_equal(creq[1].closed_with + creq[2].closed_with,
                     MASQUE_H2_REFUSED_STREAM + MASQUE_H2_CANCEL);
    assert_null(masque_h2_request_open(client, &creq[3]));
    /* The client can tell a proxy that left in order (and will likely be back)... */
    assert_true(pump(5000, client_over));
    assert_int_equal(masque_h2_end_reason(client, &code), MASQUE_CONN_CLOSED_BY_PEER);
    assert_int_equal(code, MASQUE_H2_NO_ERROR);
    assert_int_equal(masque_h2_end_reason(server, &code), MASQUE_CONN_CLOSED_HERE);
    assert_int_equal(code, MASQUE_H2_NO_ERROR);
    stop();
}

/* ... from one whose connection ended without a word (a crash: the kernel closes its socket). */
static void test_e2e_h2_a_connection_closed_without_goaway_is_broken_not_clean(void **state)
{
    uint64_t code = 1;
    (void)state;
    start();
    assert_true(pump(5000, first_ready));
    (void)shutdown(server_fd, SHUT_RDWR); /* no GOAWAY: the TCP connection just ends */
    assert_true(pump(5000, client_over));
    assert_int_equal(masque_h2_end_reason(client, &code), MASQUE_CONN_BROKEN);
    assert_int_equal(code, 0);
    stop();
}

/* TLS verification over HTTP/2 as over HTTP/3: a proxy whose certificate another CA signed, or
 * one that does not carry the name the client asked for (the authority is verified, not a
 * fixed "localhost"), is not spoken to; nor, given no CA, one the system's trusted CAs did not
 * sign (verification stays on). The handshake fails, the connection ends broken, the log says
 * why the certificate does not verify, and nothing reaches the proxy's host. */
static void test_e2e_h2_tls_verifies_the_proxy_against_the_ca_and_the_authority(void **state)
{
    /* The other CA has the test CA's name: its signature is what fails. */
    static const char *const why[3] = {"The signature in the certificate is invalid",
                                       "The name in the certificate does not match",
                                       "The certificate issuer is unknown"};
    int round;
    (void)state;
    for (round = 0; round < 3; round++) {
        client_ca = round == 0 ? pki.other_ca_file : NULL;
        client_authority = round == 1 ? "proxy.example" : NULL;
        client_system_trust = round == 2;
        start();
        assert_true(pump(5000, client_over));
        assert_false(masque_h2_handshake_completed(client));
        assert_int_equal(masque_h2_end_reason(client, NULL), MASQUE_CONN_BROKEN);
        assert_non_null(strstr(last_log, "TLS handshake: the proxy's certificate does not verify"));
        assert_non_null(strstr(last_log, why[round]));
        assert_int_equal(nrelays, 0);
        masque_h2_free(client); /* as a host does with a closed connection: its request ends */
        client = NULL;
        assert_true(creq[0].closed);
        stop();
    }
    client_system_trust = 0;
}

/* A TLS server that does not speak HTTP/2 (ALPN "h2" not chosen, RFC 9113 §3.2): the client
 * says so and ends the connection, instead of sending HTTP/2 to a server that would take it
 * for something else. */
static void test_e2e_h2_a_server_without_http2_is_told_apart(void **state)
{
    (void)state;
    serve_plain_tls = 1;
    start();
    assert_true(pump(5000, client_over));
    assert_false(masque_h2_handshake_completed(client));
    assert_int_equal(masque_h2_end_reason(client, NULL), MASQUE_CONN_CLOSED_HERE);
    assert_string_equal(last_log, "TLS handshake: no HTTP/2 (ALPN h2)");
    stop();
}

/* A client that left while the proxy had data for it (its process killed: the kernel closed
 * its socket). The proxy's first write is answered with a reset, since nothing reads there any
 * more, and a send() after that fails with EPIPE, which also raises SIGPIPE: by default that
 * ends the process, and with it every client's tunnels. The binding sends without the signal
 * (GNUTLS_NO_SIGNAL): the one connection is broken and the process goes on. This test process
 * keeps SIGPIPE's default, so the signal would end it. */
static void test_e2e_h2_a_client_gone_mid_write_costs_the_proxy_no_signal(void **state)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 1200];
    masque_address peer_addr;
    int peer;
    int i;
    (void)state;
    start();
    assert_true(pump(5000, first_ready));
    assert_int_equal(nrelays, 1);
    peer = udp_socket(&peer_addr);
    client_paused = 1;
    (void)close(client_fd); /* a FIN: the proxy's side does not read it before writing */
    client_fd = -1;
    memset(buf, 0x5a, sizeof(buf));
    /* More than one TLS record's worth (16 KiB) in each write: a second send() after the reset
     * the first one drew. */
    for (i = 0; i < 100 && !masque_h2_is_closed(server); i++) {
        struct pollfd pfd = {server_fd, POLLOUT, 0};
        int k;
        for (k = 0; k < 40 && masque_h2_request_buffered(relays[0].req) < 3u * 16384u; k++) {
            (void)masque_adapter_write_datagram(masque_h2_request_adapter(relays[0].req),
                                                &peer_addr, buf + MASQUE_BIND_HEADROOM,
                                                MASQUE_BIND_HEADROOM, 1200, ms());
        }
        (void)poll(&pfd, 1, 50);
        (void)masque_h2_write(server);
    }
    assert_true(masque_h2_is_closed(server));
    assert_int_equal(masque_h2_end_reason(server, NULL), MASQUE_CONN_BROKEN);
    masque_h2_free(server); /* as masque-proxy does with a closed connection: the tunnel ends */
    server = NULL;
    assert_true(relays[0].closed);
    (void)close(peer);
    stop();
}

/* Mutual TLS over HTTP/2: the proxy learns who a client with a certificate from its client CA
 * is; a client without one, or with one from another CA, is nobody. */
static void test_e2e_h2_client_certificates_name_the_client(void **state)
{
    char who[64];
    int k;
    (void)state;
    server_wants_certificates = 1;
    for (k = 0; k < 3; k++) {
        client_cert = k == 0 ? pki.client_cert_file : k == 1 ? NULL : pki.other_client_cert_file;
        client_key = k == 0 ? pki.client_key_file : k == 1 ? NULL : pki.other_client_key_file;
        start();
        assert_true(pump(5000, first_ready));
        assert_int_equal(masque_h2_peer_identity(server, who, sizeof(who)), k == 0);
        if (k == 0) {
            assert_string_equal(who, "client-1");
        }
        stop();
    }
    client_cert = NULL;
    client_key = NULL;
    server_wants_certificates = 0;
}

static int client_has_a_ticket(void)
{
    return masque_h2_ticket(client, NULL, 0) > 0;
}

/* One connection offering `ticket` (or none): whether it resumed a session (both ends say the
 * same), who the proxy says the client is in `who` (empty: nobody), its newest ticket in
 * `out`. */
static int h2_resumed(const uint8_t *ticket, size_t ticket_len, char *who, size_t who_cap,
                      uint8_t *out, size_t cap, size_t *out_len)
{
    int resumed;
    client_ticket = ticket;
    client_ticket_len = ticket_len;
    start();
    client_ticket = NULL;
    client_ticket_len = 0;
    assert_true(pump(5000, first_ready));
    resumed = masque_h2_resumed(client);
    assert_int_equal(masque_h2_resumed(server), resumed);
    if (!masque_h2_peer_identity(server, who, who_cap)) {
        who[0] = '\0';
    }
    assert_true(pump(5000, client_has_a_ticket));
    *out_len = masque_h2_ticket(client, out, cap);
    assert_true(*out_len <= cap);
    stop();
    return resumed;
}

/* RFC 8446 §2.2 over HTTP/2: a client that offers the proxy's session ticket resumes, and is
 * who its certificate said at the full handshake, sending none again. A ticket under another
 * key (the host's masque_h2_config.ticket_key instead of the key file's) or one that does not
 * parse gets a full handshake; a ticket issued under a host's key resumes under it. */
static void test_e2e_h2_a_client_resumes_its_tls_session_with_the_proxys_ticket(void **state)
{
    static uint8_t ticket[16384];
    static uint8_t other[16384];
    static const uint8_t host_key[MASQUE_H2_TICKET_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    char who[64];
    size_t len;
    size_t other_len;
    size_t i;
    (void)state;
    server_wants_certificates = 1;
    client_cert = pki.client_cert_file;
    client_key = pki.client_key_file;
    assert_false(h2_resumed(NULL, 0, who, sizeof(who), ticket, sizeof(ticket), &len));
    assert_string_equal(who, "client-1");
    client_cert = NULL;
    client_key = NULL;
    assert_true(h2_resumed(ticket, len, who, sizeof(who), ticket, sizeof(ticket), &len));
    assert_string_equal(who, "client-1");
    server_ticket_key = host_key;
    assert_false(h2_resumed(ticket, len, who, sizeof(who), other, sizeof(other), &other_len));
    assert_string_equal(who, ""); /* no certificate this time, and nothing resumed */
    assert_true(h2_resumed(other, other_len, who, sizeof(who), other, sizeof(other), &other_len));
    server_ticket_key = NULL;
    for (i = 0; i < len; i++) {
        ticket[i] ^= 0x5A;
    }
    assert_false(h2_resumed(ticket, len, who, sizeof(who), ticket, sizeof(ticket), &len));
    server_wants_certificates = 0;
}

/* After each test, passed or failed half-way: what it left goes and the settings return to
 * their defaults, so that a failure stays one failure. */
static int after_each(void **state)
{
    (void)state;
    if (client != NULL || server != NULL) {
        stop();
    }
    client_paused = 0;
    server_stream_buffer = 0;
    server_max_wait_ms = 0;
    server_wants_certificates = 0;
    client_cert = NULL;
    client_key = NULL;
    client_ca = NULL;
    client_authority = NULL;
    serve_plain_tls = 0;
    client_ticket = NULL;
    client_ticket_len = 0;
    server_ticket_key = NULL;
    server_idle_ms = 0;
    server_max_streams = 0;
    close_cancels[0] = NULL;
    close_cancels[1] = NULL;
    client_idle_ms = 0;
    refuse_with = 0;
    advertise = 0;
    return 0;
}

/* Settings a connection cannot use are refused when it is made, at either end: a URI template
 * no proxy could match its own requests against (RFC 9298 §2; not answered 400 at every
 * request), and a certificate without its key, which cannot be presented (GnuTLS was handed a
 * NULL key path, and the process crashed). */
static void test_e2e_h2_settings_a_connection_cannot_use_are_refused(void **state)
{
    masque_h2_config cfg;
    masque_h2_conn *taken;
    int fds[2];
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.uri_template = "https://localhost/{target_host}.{target_port}/";
    cfg.authority = "localhost";
    cfg.cert_file = pki.cert_file;
    cfg.key_file = pki.key_file;
    assert_null(masque_h2_server_new(&cfg, fds[0], &proxy_hooks, NULL));
    cfg.cert_file = NULL;
    cfg.key_file = NULL;
    cfg.ca_file = pki.ca_file;
    assert_null(masque_h2_client_new(&cfg, fds[1], &client_hooks, NULL));
    /* A template a proxy can take, and a certificate without its key. */
    cfg.uri_template = "https://localhost/{target_host}/{target_port}/";
    cfg.ca_file = NULL;
    cfg.cert_file = pki.cert_file;
    assert_null(masque_h2_server_new(&cfg, fds[0], &proxy_hooks, NULL));
    cfg.ca_file = pki.ca_file;
    cfg.cert_file = pki.client_cert_file;
    assert_null(masque_h2_client_new(&cfg, fds[1], &client_hooks, NULL));
    cfg.key_file = pki.client_key_file; /* the same with the key: taken */
    memset(&creq[0], 0, sizeof(creq[0]));
    taken = masque_h2_client_new(&cfg, fds[1], &client_hooks, &creq[0]);
    assert_non_null(taken);
    masque_h2_free(taken);
    (void)close(fds[0]);
    (void)close(fds[1]);
}

/* The stream errors the core chooses, as HTTP/2 carries them in RST_STREAM: a malformed
 * capsule or datagram is a malformed message (RFC 9297 §3.3, RFC 9113 §8.1.1). */
static void test_DG_11_h2_stream_errors_map_to_http2_codes(void **state)
{
    static const struct {
        uint64_t h3;
        uint32_t h2;
    } map[] = {
        {MASQUE_H3_NO_ERROR, MASQUE_H2_NO_ERROR},
        {MASQUE_H3_MESSAGE_ERROR, MASQUE_H2_PROTOCOL_ERROR},
        {MASQUE_H3_DATAGRAM_ERROR, MASQUE_H2_PROTOCOL_ERROR},
        {MASQUE_H3_EXCESSIVE_LOAD, MASQUE_H2_ENHANCE_YOUR_CALM},
        {MASQUE_H3_REQUEST_CANCELLED, MASQUE_H2_CANCEL},
        {MASQUE_H3_REQUEST_REJECTED, MASQUE_H2_REFUSED_STREAM},
        {MASQUE_H3_ID_ERROR, MASQUE_H2_INTERNAL_ERROR},
        {0, MASQUE_H2_INTERNAL_ERROR},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        assert_int_equal(masque_h2_error_from_h3(map[i].h3), map[i].h2);
    }
    assert_int_equal(masque_h2_error_from_h3(masque_h3_error_for(MASQUE_ERR_PENDING_LIMIT)),
                     MASQUE_H2_ENHANCE_YOUR_CALM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_DG_11_h2_stream_errors_map_to_http2_codes),
        cmocka_unit_test(test_e2e_h2_settings_a_connection_cannot_use_are_refused),
        cmocka_unit_test_teardown(
            test_e2e_UDP_3_DG_8_h2_bind_and_relay_both_ways_uncompressed_and_compressed,
            after_each),
        cmocka_unit_test_teardown(test_e2e_h2_the_handshake_is_reported_once_tls_is_up, after_each),
        cmocka_unit_test_teardown(test_e2e_h2_two_requests_on_one_connection, after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_request_beyond_the_stream_limit_waits_for_room,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_cancelling_requests_costs_the_others_nothing,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_request_after_one_the_proxy_reset_late_is_served,
                                  after_each),
        cmocka_unit_test_teardown(
            test_e2e_h2_a_connection_closed_without_goaway_is_broken_not_clean, after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_refused_request_tells_the_client_its_status,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_cancelled_request_leaves_the_other_working,
                                  after_each),
        cmocka_unit_test_teardown(
            test_e2e_BIND_27_h2_the_session_holds_to_the_families_the_proxy_advertised, after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_request_without_a_public_address_is_refused,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_silent_connection_is_closed_at_the_idle_timeout,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_an_idle_tunnel_outlives_the_idle_timeout, after_each),
        cmocka_unit_test_teardown(test_e2e_DG_11_h2_malformed_capsule_resets_only_that_stream,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_DG_8_h2_a_busy_tunnel_carries_many_times_its_buffer,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_one_read_takes_a_bounded_share_of_a_backlog,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_datagram_that_would_wait_too_long_is_dropped,
                                  after_each),
        cmocka_unit_test_teardown(
            test_e2e_UDP_16_h2_datagrams_a_client_does_not_take_are_dropped_not_its_tunnel,
            after_each),
        cmocka_unit_test_teardown(test_e2e_UDP_7_h2_a_proxys_clean_end_ends_the_clients_request,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_goaway_from_the_proxy_ends_the_clients_requests,
                                  after_each),
        cmocka_unit_test_teardown(
            test_e2e_h2_tls_verifies_the_proxy_against_the_ca_and_the_authority, after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_server_without_http2_is_told_apart, after_each),
        cmocka_unit_test_teardown(test_e2e_h2_a_client_gone_mid_write_costs_the_proxy_no_signal,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_h2_client_certificates_name_the_client, after_each),
        cmocka_unit_test_teardown(
            test_e2e_h2_a_client_resumes_its_tls_session_with_the_proxys_ticket, after_each),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
