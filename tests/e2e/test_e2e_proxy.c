/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * End-to-end tests over real QUIC on loopback (bounded in time, loopback only): a masque::quic
 * proxy and clients in one process, with plain UDP peers.
 */
#define _GNU_SOURCE /* unshare */
#if MASQUE_E2E_NETNS || MASQUE_E2E_MALFORMED
/* These builds run only the tests that need a network namespace, or a client that can send
 * malformed requests; the others are left unused. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"
#include "tls_util.h"

#define MAX_CLIENTS 50
#define BIG         65536

typedef struct client {
    masque_quic_conn *conn;
    masque_quic_request *req; /* its Bind request, once accepted; NULL once it ended */
    int fd;
    masque_address pub;
    int ready;
    int got;
    uint8_t last[BIG];
    size_t last_len;
    size_t lens[64]; /* the lengths of the first datagrams received, in order */
    masque_address last_peer;
    uint64_t closed_with;
    int status; /* of the proxy's response, as the request's end saw it */
    int closed;
    int paused; /* pump() neither reads nor writes for it: a client that stopped reading */
    int echo;   /* on_packet() sends each datagram back to its peer at once */
} client;

static masque_quic_proxy *proxy;
static const char *client_ca;                      /* the CA clients trust (NULL: pki.ca_file) */
static const char *client_host = "localhost";      /* the :authority clients use */
static const char *client_token;                   /* the bearer token clients send, or NULL */
static const char *proxy_token_file;               /* the proxy's token file, or NULL */
static int proxy_allow_anonymous;                  /* anonymous clients from elsewhere may bind */
static const char *proxy_client_ca;                /* mutual TLS: the CA of client certificates */
static size_t proxy_quota_requests;                /* quotas per client identity; 0: none */
static size_t proxy_max_identities;                /* identities accounted apart; 0: the default */
static masque_quic_quota_share *proxy_quota_share; /* a count of requests shared, or NULL */
static uint32_t proxy_quota_datagrams;
static size_t proxy_max_contexts;
static const char *client_cert; /* the clients' certificate and key, or NULL */
static const char *client_key;
static const uint8_t *client_ticket; /* a session ticket the next client offers, or NULL */
static size_t client_ticket_len;
static int proxy_fd = -1;
static masque_address proxy_addr;
static client clients[MAX_CLIENTS];
static masque_policy_rule rules[2];
static masque_policy policy;
static const char tmpl[] = "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";

static uint64_t ms(void)
{
    return masque_quic_now_ns() / 1000000u;
}

static int bound_socket(const char *ip, masque_address *out)
{
    masque_address a;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int fd;
    assert_int_equal(masque_address_parse(&a, ip, strlen(ip), 0), MASQUE_OK);
    assert_int_equal(masque_address_to_sockaddr(&a, &ss, &sl), MASQUE_OK);
    fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, sl), 0);
    sl = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, sl, out), MASQUE_OK);
    return fd;
}

/* A proxy on `ip`; allow_cidr NULL keeps the default policy (loopback refused). */
static size_t proxy_stream_buffer;  /* 0: the default */
static uint64_t proxy_max_wait_ms;  /* datagram_max_wait_ms; 0: the default */
static int proxy_force_capsules;    /* the proxy offers no HTTP/3 datagrams */
static int client_force_capsules;   /* the clients offer none */
static int proxy_withhold_connect;  /* the proxy sends no SETTINGS_ENABLE_CONNECT_PROTOCOL */
static uint64_t proxy_idle_ms;      /* the proxy's idle timeout of compressed contexts */
static uint64_t proxy_conn_idle_ms; /* the connections' idle timeouts; 0: the default */
static int proxy_verbose;           /* -v: connections coming and going are logged too */
static char client_gone_line[256];  /* the proxy's last "client gone" line */
static uint64_t client_conn_idle_ms;
static size_t client_stream_buffer;   /* 0: the default */
static uint64_t client_keep_alive_ms; /* 0: the default */
static masque_quic_ack client_ack;    /* MASQUE_QUIC_ACK_DEFAULT: at once */
static size_t proxy_max_clients;      /* 0: room for every client of the suite */
static int proxy_no_validation;       /* the proxy accepts Initials without a Retry */
static size_t proxy_max_requests;     /* the whole proxy's limit on Bind requests; 0: default */
static size_t conn_max_requests;      /* the proxy's limit per connection; 0: default */
static size_t conn_max_streams;       /* the proxy's stream limit per connection; 0: default */
static size_t full_refusals;          /* the proxy's "all client slots are taken" lines */
static size_t slots_given_up;         /* its lines for a client closed to free a slot */
static size_t identity_handovers;     /* its lines for an identity's accounting reused */
static char quota_refusal[256];       /* its last line about a quota */
static size_t refusal_lines;          /* its lines about a request refused 407 */
static size_t proxy_lines;            /* all its lines */
static size_t binding_refusals;       /* its lines from the binding about a request it refused */
static char binding_refusal[256];     /* the last of them */
static char refusal_line[256];        /* its last line about a request refused 407 */
static size_t unlogged_notes;         /* its lines saying that lines were left out */
static size_t accept_lines;           /* its lines about accept() failing */
static char unlogged_note[256];
static int proxy_serve_h2; /* the proxy serves HTTP/2 on TCP too (proxy_tcp_addr) */
static int proxy_tcp_fd = -1;
static masque_address proxy_tcp_addr;
static char proxy_last_log[256]; /* the proxy's last log line */

/* Each proxy's log is read afresh: start_proxy() forgets what the last one said. */
static void forget_proxy_log(void)
{
    full_refusals = 0;
    slots_given_up = 0;
    identity_handovers = 0;
    refusal_lines = 0;
    proxy_lines = 0;
    binding_refusals = 0;
    unlogged_notes = 0;
    accept_lines = 0;
    quota_refusal[0] = '\0';
    binding_refusal[0] = '\0';
    refusal_line[0] = '\0';
    unlogged_note[0] = '\0';
    proxy_last_log[0] = '\0';
    client_gone_line[0] = '\0';
}

/* The proxy's log: the last line kept, the full-proxy refusals counted. */
static void proxy_log(void *user, const char *line)
{
    (void)user;
    (void)snprintf(proxy_last_log, sizeof(proxy_last_log), "%s", line);
    if (strstr(line, "refused") != NULL && strstr(line, "all client slots are taken") != NULL) {
        full_refusals++;
    }
    if (strstr(line, "held no Bind request") != NULL) {
        slots_given_up++;
    }
    if (strstr(line, "its accounting goes to a newcomer") != NULL) {
        identity_handovers++;
    }
    proxy_lines++;
    if (strstr(line, "(407)") != NULL) {
        refusal_lines++;
        (void)snprintf(refusal_line, sizeof(refusal_line), "%s", line);
    }
    if (strstr(line, "refusing request") != NULL) {
        binding_refusals++;
        (void)snprintf(binding_refusal, sizeof(binding_refusal), "%s", line);
    }
    if (strstr(line, "client gone:") != NULL) {
        (void)snprintf(client_gone_line, sizeof(client_gone_line), "%s", line);
    }
    if (strncmp(line, "accept: ", 8) == 0) {
        accept_lines++;
    }
    if (strstr(line, "were not logged") != NULL) {
        unlogged_notes++;
        (void)snprintf(unlogged_note, sizeof(unlogged_note), "%s", line);
    }
    if (strstr(line, "quota") != NULL) {
        (void)snprintf(quota_refusal, sizeof(quota_refusal), "%s", line);
    }
}

/* A TCP listener at the port of the UDP socket *udp_fd (bound at *udp_addr). The kernel chose
 * that port among those free for UDP; TCP may hold it (another test's connection, side by side,
 * or one in TIME_WAIT), so then both sockets move to a port free for both. */
static int tcp_listener_beside(const char *ip, int *udp_fd, masque_address *udp_addr)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int attempt;
    int fd = -1;
    for (attempt = 0; attempt < 100; attempt++) {
        assert_int_equal(masque_address_to_sockaddr(udp_addr, &ss, &sl), MASQUE_OK);
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        if (bind(fd, (struct sockaddr *)&ss, sl) == 0) {
            break;
        }
        assert_int_equal(errno, EADDRINUSE);
        (void)close(fd);
        (void)close(*udp_fd);
        fd = -1;
        *udp_fd = bound_socket(ip, udp_addr);
    }
    assert_true(fd >= 0);
    assert_int_equal(listen(fd, 16), 0);
    sl = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, sl, &proxy_tcp_addr),
                     MASQUE_OK);
    return fd;
}

static void start_proxy(const char *ip, const char *allow_cidr)
{
    masque_quic_proxy_config cfg;
    forget_proxy_log();
    memset(&cfg, 0, sizeof(cfg));
    cfg.conn.stream_buffer = proxy_stream_buffer;
    cfg.conn.datagram_max_wait_ms = proxy_max_wait_ms;
    cfg.conn.force_capsules = proxy_force_capsules;
    cfg.conn.withhold_connect_protocol = proxy_withhold_connect;
    cfg.conn.idle_timeout_ms = proxy_idle_ms;
    cfg.conn.conn_idle_timeout_ms = proxy_conn_idle_ms;
    memset(&policy, 0, sizeof(policy));
    if (allow_cidr != NULL) {
        assert_int_equal(masque_policy_rule_parse(&rules[0], allow_cidr, strlen(allow_cidr), 1),
                         MASQUE_OK);
        policy.rules = rules;
        policy.rule_count = 1;
    }
    cfg.conn.uri_template = tmpl;
    cfg.conn.policy = &policy;
    cfg.conn.cert_file = pki.cert_file;
    cfg.conn.key_file = pki.key_file;
    cfg.max_clients = proxy_max_clients != 0 ? proxy_max_clients : MAX_CLIENTS + 4;
    cfg.no_address_validation = proxy_no_validation;
    cfg.max_requests = proxy_max_requests;
    cfg.token_file = proxy_token_file;
    cfg.allow_anonymous = proxy_allow_anonymous;
    cfg.conn.client_ca_file = proxy_client_ca;
    cfg.quota_requests = proxy_quota_requests;
    cfg.max_identities = proxy_max_identities;
    cfg.quota_share = proxy_quota_share;
    cfg.quota_datagrams_per_s = proxy_quota_datagrams;
    cfg.conn.max_peer_contexts = proxy_max_contexts;
    cfg.conn.max_requests = conn_max_requests;
    cfg.conn.max_streams = conn_max_streams;
    cfg.log = proxy_log;
    cfg.verbose = proxy_verbose;
    proxy_fd = bound_socket(ip, &proxy_addr);
    if (proxy_serve_h2) {
        proxy_tcp_fd = tcp_listener_beside(ip, &proxy_fd, &proxy_addr);
        cfg.serve_h2 = 1;
        cfg.h2_listen_fd = proxy_tcp_fd;
    }
    cfg.relay_bind = proxy_addr;
    proxy = masque_quic_proxy_new(&cfg, proxy_fd);
    assert_non_null(proxy);
}

/* Writes `tokens` to a new file whose name mkstemp() makes of path ("...XXXXXX"). */
static void write_token_file(char *path, const char *tokens)
{
    int fd = mkstemp(path);
    size_t len = strlen(tokens);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, tokens, len), (ssize_t)len);
    (void)close(fd);
}

/* The file at `path`, written over with `text`. */
static void rewrite_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    size_t len = strlen(text);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    (void)close(fd);
}

/* A copy of `from` at `path`: a new temporary file when `path` is a mkstemp() template (ending
 * in XXXXXX), else written over. */
static void copy_file(char *path, const char *from)
{
    char buf[8192];
    ssize_t n;
    size_t len = strlen(path);
    int in = open(from, O_RDONLY);
    int out = len >= 6 && strcmp(path + len - 6, "XXXXXX") == 0 ? mkstemp(path)
                                                                : open(path, O_WRONLY | O_TRUNC);
    assert_true(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        assert_int_equal(write(out, buf, (size_t)n), n);
    }
    (void)close(in);
    (void)close(out);
}

static void on_ready(masque_quic_request *r, void *app)
{
    client *cl = app;
    cl->req = r;
    assert_int_equal(masque_quic_request_public_addresses(r, &cl->pub, 1), 1);
    assert_int_equal(masque_session_open_uncompressed(masque_quic_request_session(r), ms(), NULL),
                     MASQUE_OK);
    assert_int_equal(masque_adapter_flush(masque_quic_request_adapter(r)), MASQUE_OK);
    cl->ready = 1;
}

static void client_send(client *cl, const masque_address *to, const uint8_t *data, size_t len);

static void on_packet(masque_quic_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    client *cl = app;
    (void)r;
    if (cl->echo) {
        client_send(cl, peer, data, len);
    }
    assert_true(len <= BIG);
    if (len > 0) {
        memcpy(cl->last, data, len);
    }
    cl->last_len = len;
    cl->last_peer = *peer;
    if (cl->got >= 0 && (size_t)cl->got < sizeof(cl->lens) / sizeof(cl->lens[0])) {
        cl->lens[cl->got] = len;
    }
    cl->got++;
}

static void on_close(masque_quic_request *r, void *app, uint64_t reason)
{
    client *cl = app;
    cl->req = NULL;
    cl->closed = 1;
    cl->closed_with = reason;
    cl->status = masque_quic_request_status(r);
}

static const masque_quic_hooks hooks = {on_ready, on_packet, on_close, NULL, NULL, NULL, NULL};

/* Where the next client's socket is bound (NULL: an ephemeral port of `ip`). */
static const struct sockaddr_storage *client_bind_at;
static socklen_t client_bind_len;

static void start_client(client *cl, const char *ip)
{
    masque_quic_config cfg;
    struct sockaddr_storage remote;
    struct sockaddr_storage local;
    socklen_t rl = 0;
    socklen_t ll = sizeof(local);
    masque_address dummy;
    memset(cl, 0, sizeof(*cl));
    memset(&cfg, 0, sizeof(cfg));
    cfg.authority = client_host;
    cfg.uri_template = tmpl;
    cfg.ca_file = client_ca != NULL ? client_ca : pki.ca_file; /* verification on */
    cfg.force_capsules = client_force_capsules;
    cfg.conn_idle_timeout_ms = client_conn_idle_ms;
    cfg.keep_alive_ms = client_keep_alive_ms;
    cfg.ack = client_ack;
    cfg.stream_buffer = client_stream_buffer;
    cfg.cert_file = client_cert;
    cfg.key_file = client_key;
    cfg.token = client_token;
    cfg.ticket = client_ticket;
    cfg.ticket_len = client_ticket_len;
    if (client_bind_at != NULL) {
        cl->fd = socket(client_bind_at->ss_family, SOCK_DGRAM, 0);
        assert_true(cl->fd >= 0);
        assert_int_equal(bind(cl->fd, (const struct sockaddr *)client_bind_at, client_bind_len), 0);
    } else {
        cl->fd = bound_socket(ip, &dummy);
    }
    assert_int_equal(masque_address_to_sockaddr(&proxy_addr, &remote, &rl), MASQUE_OK);
    assert_int_equal(connect(cl->fd, (struct sockaddr *)&remote, rl), 0);
    assert_int_equal(getsockname(cl->fd, (struct sockaddr *)&local, &ll), 0);
    cl->conn = masque_quic_client_new(&cfg, cl->fd, (struct sockaddr *)&local, ll,
                                      (struct sockaddr *)&remote, rl, &hooks, cl);
    assert_non_null(cl->conn);
    assert_int_equal(masque_quic_write(cl->conn), 0);
}

static void stop_client(client *cl)
{
    masque_quic_free(cl->conn);
    (void)close(cl->fd);
    cl->conn = NULL;
}

/* The proxy goes, and its sockets (what is left of them: this runs after failures too). */
static void stop_proxy(void)
{
    masque_quic_proxy_free(proxy);
    if (proxy_fd >= 0) {
        (void)close(proxy_fd);
    }
    proxy_fd = -1;
    if (proxy_tcp_fd >= 0) {
        (void)close(proxy_tcp_fd);
        proxy_tcp_fd = -1;
    }
    proxy = NULL;
}

/* Runs the proxy and `n` clients for up to `limit_ms`, until `done()` says so. */
static void (*after_step)(void); /* if set, pump() calls it between the proxy and the clients */

static int pump(size_t n, uint64_t limit_ms, int (*done)(size_t n))
{
    uint64_t end = ms() + limit_ms;
    while (ms() < end) {
        size_t i;
        assert_int_equal(masque_quic_proxy_step(proxy, 1), 0);
        if (after_step != NULL) {
            after_step();
        }
        for (i = 0; i < n; i++) {
            client *cl = &clients[i];
            if (cl->conn == NULL || cl->paused) {
                continue;
            }
            /* What a client program does (masque-bind-client): every waiting packet, with GRO. */
            while (masque_quic_read_socket(cl->conn) > 0) {
            }
            if (masque_quic_next_timeout(cl->conn) <= masque_quic_now_ns()) {
                (void)masque_quic_tick(cl->conn);
            }
            (void)masque_quic_write(cl->conn);
        }
        if (done != NULL && done(n)) {
            return 1;
        }
    }
    return 0;
}

/* Ready means the proxy acknowledged the uncompressed context: peers can reach the client. */
static int all_ready(size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        masque_context_info u;
        if (!clients[i].ready) {
            return 0;
        }
        if (!masque_session_context_find(masque_quic_request_session(clients[i].req), NULL, &u) ||
            u.state != MASQUE_CONTEXT_ACTIVE) {
            return 0;
        }
    }
    return 1;
}

static int any_closed(size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (clients[i].closed) {
            return 1;
        }
    }
    return 0;
}

static int all_got(size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (clients[i].got == 0) {
            return 0;
        }
    }
    return 1;
}

static void peer_send(int fd, const masque_address *to, const uint8_t *data, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    assert_int_equal(masque_address_to_sockaddr(to, &ss, &sl), MASQUE_OK);
    assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

/* Waits (pumping) for one datagram at the peer; returns its length or -1. */
static ssize_t peer_recv(int fd, size_t n, uint8_t *out, size_t cap, uint64_t limit_ms)
{
    uint64_t end = ms() + limit_ms;
    while (ms() < end) {
        ssize_t r = recv(fd, out, cap, MSG_DONTWAIT);
        if (r >= 0) {
            return r;
        }
        (void)pump(n, 2, NULL);
    }
    return -1;
}

/* A proxy that lets clients reach loopback, one client whose Bind is ready, and a peer
 * socket on loopback (its address in *peer_addr): the set-up most relay tests start from. */
static int one_client_and_a_peer(masque_address *peer_addr)
{
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    return bound_socket("127.0.0.1", peer_addr);
}

static void client_send(client *cl, const masque_address *to, const uint8_t *data, size_t len)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + BIG];
    if (len > 0) {
        memcpy(buf + MASQUE_BIND_HEADROOM, data, len);
    }
    assert_int_equal(masque_adapter_write_datagram(masque_quic_request_adapter(cl->req), to,
                                                   buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM,
                                                   len, ms()),
                     MASQUE_OK);
}

static void relay_sizes(const char *ip, const size_t *sizes, size_t nsizes)
{
    static uint8_t data[BIG];
    static uint8_t back[BIG];
    masque_address peer_addr;
    int peer;
    size_t k;
    start_proxy(ip, ip[0] == ':' ? "::1/128" : "127.0.0.0/8");
    start_client(&clients[0], ip);
    assert_true(pump(1, 5000, all_ready));
    /* RFC 9297 §2.1.1: QUIC DATAGRAM frames exactly when both ends enabled them. */
    assert_int_equal(masque_quic_request_uses_h3_datagrams(clients[0].req),
                     !(proxy_force_capsules || client_force_capsules));
    peer = bound_socket(ip, &peer_addr);
    for (k = 0; k < nsizes; k++) {
        size_t len = sizes[k];
        size_t i;
        ssize_t r;
        for (i = 0; i < len; i++) {
            data[i] = (uint8_t)(i * 7u + len); /* a checksum-like pattern per size */
        }
        clients[0].got = 0;
        peer_send(peer, &clients[0].pub, data, len);
        assert_true(pump(1, 5000, all_got));
        assert_int_equal(clients[0].last_len, len);
        assert_memory_equal(clients[0].last, data, len);
        assert_true(masque_address_equal(&clients[0].last_peer, &peer_addr));
        client_send(&clients[0], &peer_addr, data, len); /* and back */
        r = peer_recv(peer, 1, back, sizeof(back), 5000);
        assert_int_equal(r, (ssize_t)len);
        assert_memory_equal(back, data, len);
    }
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

/* Payloads beyond one QUIC packet travel in DATAGRAM capsules only: these tests force them. */
static void test_e2e_DG_8_relay_integrity_ipv4_capsules(void **state)
{
    static const size_t sizes[] = {1, 64, 1200, 1452, 9000, 65507, 0}; /* 65507: IPv4 max */
    (void)state;
    proxy_force_capsules = 1;
    relay_sizes("127.0.0.1", sizes, sizeof(sizes) / sizeof(sizes[0]));
    proxy_force_capsules = 0;
}

/* Payload k of a burst: its index, then a pattern of its own. */
static size_t burst_payload(size_t k, uint8_t *out)
{
    size_t len = k == 12 ? 300u : 1000u; /* a shorter one in the middle of a run */
    size_t i;
    out[0] = (uint8_t)k;
    for (i = 1; i < len; i++) {
        out[i] = (uint8_t)(k * 31u + i);
    }
    return len;
}

/*
 * The proxy sends what one batch of QUIC packets carried to the targets together (a run to one
 * target in one UDP GSO send, the others in sendmmsg()): every payload must still leave as one
 * UDP datagram of its own size, in order, neither merged nor cut (RFC 9298 §5; UDP-13: no
 * fragmentation introduced by the proxy).
 */
static void test_e2e_UDP_13_a_burst_to_two_targets_leaves_datagram_by_datagram(void **state)
{
    enum { BURST = 30 };
    static uint8_t data[1000];
    static uint8_t back[BIG];
    masque_address a_addr;
    masque_address b_addr;
    int a;
    int b;
    size_t k;
    size_t next_a = 0; /* the index A receives next */
    size_t next_b = 0; /* how many B received */
    size_t got_a = 0;
    uint64_t end;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    a = bound_socket("127.0.0.1", &a_addr);
    b = bound_socket("127.0.0.1", &b_addr);
    /* Every seventh payload goes to B: runs to A of 6, one of them with a shorter payload. */
    for (k = 0; k < BURST; k++) {
        size_t len = burst_payload(k, data);
        client_send(&clients[0], k % 7u == 6u ? &b_addr : &a_addr, data, len);
    }
    end = ms() + 10000;
    while ((got_a < BURST - BURST / 7 || next_b < BURST / 7) && ms() < end) {
        ssize_t r;
        (void)pump(1, 2, NULL);
        while ((r = recv(a, back, sizeof(back), MSG_DONTWAIT)) >= 0) {
            if (next_a % 7u == 6u) {
                next_a++; /* an index that went to B */
            }
            assert_true(next_a < BURST);
            assert_int_equal(r, (ssize_t)burst_payload(next_a, data));
            assert_memory_equal(back, data, (size_t)r);
            next_a++;
            got_a++;
        }
        while ((r = recv(b, back, sizeof(back), MSG_DONTWAIT)) >= 0) {
            size_t want = next_b * 7u + 6u;
            assert_true(want < BURST);
            assert_int_equal(r, (ssize_t)burst_payload(want, data));
            assert_memory_equal(back, data, (size_t)r);
            next_b++;
        }
    }
    assert_int_equal(got_a, BURST - BURST / 7); /* A: all of its 26, in order */
    assert_int_equal(next_b, BURST / 7);        /* B: its 4 */
    (void)close(a);
    (void)close(b);
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_DG_8_h3_datagrams_when_both_ends_enable_them(void **state)
{
    static const size_t sizes[] = {0, 1, 64, 1000, 1100};
    static uint8_t big[2000];
    uint8_t back[64];
    masque_address peer_addr;
    int peer;
    (void)state;
    relay_sizes("127.0.0.1", sizes, sizeof(sizes) / sizeof(sizes[0]));
    /* The datagrams went in QUIC DATAGRAM frames; one too large for a frame is dropped, never
     * moved to a capsule (RFC 9298 §6.1), and the request goes on. */
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_true(masque_quic_request_uses_h3_datagrams(clients[0].req));
    peer = bound_socket("127.0.0.1", &peer_addr);
    client_send(&clients[0], &peer_addr, big, sizeof(big));
    assert_int_equal(peer_recv(peer, 1, back, sizeof(back), 500), -1);
    assert_true(masque_quic_datagrams_dropped(clients[0].conn) == 1u);
    client_send(&clients[0], &peer_addr, (const uint8_t *)"small", 5);
    assert_int_equal(peer_recv(peer, 1, back, sizeof(back), 5000), 5);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

/*
 * RFC 9298 §6.1 (UDP-19): a proxy that uses QUIC DATAGRAM frames does not move a payload from
 * the target that fits in none into a DATAGRAM capsule: it drops it (and counts it), and the
 * tunnel goes on. The ICMP Packet Too Big it SHOULD send needs a raw socket, which the proxy
 * does not hold. The big one is read before the small one, so when the small one is in, the
 * big one was judged.
 */
/* A proxy with a loopback-allowing policy, one client whose request is ready (on QUIC DATAGRAM
 * frames or not, as asked), and a peer's socket: the peer's. */
static int one_tunnel(int h3_datagrams, masque_address *peer_addr)
{
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_int_equal(masque_quic_request_uses_h3_datagrams(clients[0].req) != 0, h3_datagrams);
    return bound_socket("127.0.0.1", peer_addr);
}

static void
test_e2e_UDP_19_a_target_payload_too_big_for_a_frame_is_dropped_not_capsuled(void **state)
{
    static uint8_t big[2000];
    masque_address peer_addr;
    int peer;
    (void)state;
    peer = one_tunnel(1, &peer_addr);
    memset(big, 0xB1, sizeof(big));
    clients[0].got = 0;
    peer_send(peer, &clients[0].pub, big, sizeof(big));
    peer_send(peer, &clients[0].pub, (const uint8_t *)"small", 5);
    assert_true(pump(1, 5000, all_got));
    assert_int_equal(clients[0].got, 1);
    assert_int_equal(clients[0].last_len, 5);
    assert_memory_equal(clients[0].last, "small", 5);
    assert_true(masque_quic_proxy_datagrams_dropped(proxy) == 1u);
    assert_true(masque_quic_proxy_datagrams_too_large(proxy) == 1u); /* not for capacity */
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

/*
 * RFC 9298 §6 (UDP-21): the proxy does not hold packets back to send them in batches. It sends
 * together only what arrived together (one read of the socket) and flushes at the end of that
 * read, so a lone datagram leaves in the step that read it: here each of ten, sent one at a
 * time, reaches the peer before the next is sent.
 */
static void test_e2e_UDP_21_a_lone_datagram_is_not_held_for_a_batch(void **state)
{
    masque_address peer_addr;
    int peer;
    uint8_t k;
    (void)state;
    peer = one_client_and_a_peer(&peer_addr);
    for (k = 0; k < 10; k++) {
        uint8_t back[8];
        client_send(&clients[0], &peer_addr, &k, 1);
        assert_int_equal(peer_recv(peer, 1, back, sizeof(back), 5000), 1);
        assert_int_equal(back[0], k);
    }
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_DG_8_capsules_when_one_end_offers_no_h3_datagrams(void **state)
{
    static const size_t sizes[] = {1, 1200, 9000};
    (void)state;
    client_force_capsules = 1; /* the client sends SETTINGS_H3_DATAGRAM=0 */
    relay_sizes("127.0.0.1", sizes, sizeof(sizes) / sizeof(sizes[0]));
    client_force_capsules = 0;
    proxy_force_capsules = 1; /* the proxy does */
    relay_sizes("127.0.0.1", sizes, sizeof(sizes) / sizeof(sizes[0]));
    proxy_force_capsules = 0;
}

static int all_refused(size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (!masque_quic_refused(clients[i].conn)) {
            return 0;
        }
    }
    return 1;
}

static void test_e2e_UDP_4_client_refuses_a_proxy_without_extended_connect(void **state)
{
    (void)state;
    proxy_withhold_connect = 1;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_withhold_connect = 0;
    start_client(&clients[0], "127.0.0.1");
    /* RFC 9220 §3: no extended CONNECT without SETTINGS_ENABLE_CONNECT_PROTOCOL. */
    assert_true(pump(1, 5000, all_refused));
    assert_false(clients[0].ready);
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_DG_8_relay_integrity_ipv6_capsules(void **state)
{
    /* 65488: the largest UDP payload an IPv6 loopback (MTU 65536) carries unfragmented. */
    static const size_t sizes[] = {0, 1200, 65488};
    int probe = socket(AF_INET6, SOCK_DGRAM, 0);
    (void)state;
    if (probe < 0) {
        skip(); /* no IPv6 on this machine */
    }
    (void)close(probe);
    proxy_force_capsules = 1;
    relay_sizes("::1", sizes, sizeof(sizes) / sizeof(sizes[0]));
    proxy_force_capsules = 0;
}

static void test_e2e_BIND_29_default_policy_refuses_loopback_until_allowed(void **state)
{
    uint8_t buf[64];
    masque_address peer_addr;
    int peer;
    int round;
    (void)state;
    for (round = 0; round < 2; round++) {
        start_proxy("127.0.0.1", round == 0 ? NULL : "127.0.0.0/8");
        start_client(&clients[0], "127.0.0.1");
        assert_true(pump(1, 5000, all_ready));
        peer = bound_socket("127.0.0.1", &peer_addr);
        client_send(&clients[0], &peer_addr, (const uint8_t *)"hi", 2);
        /* Refused by the default policy (special-purpose target), allowed by the rule. */
        assert_int_equal(peer_recv(peer, 1, buf, sizeof(buf), round == 0 ? 500 : 5000),
                         round == 0 ? -1 : 2);
        (void)close(peer);
        stop_client(&clients[0]);
        stop_proxy();
    }
}

static int first_got_before; /* clients[0].got when the awaited datagram was sent */

static int first_got_more(size_t n)
{
    (void)n;
    return clients[0].got > first_got_before;
}

/* Round trips through clients[0]'s tunnel while the others stay idle; returns the proxy's
 * client turns they took (masque_quic_proxy_client_turns()). */
static uint64_t turns_of_round_trips(int peer, const masque_address *peer_addr, size_t trips)
{
    uint64_t turns = masque_quic_proxy_client_turns(proxy);
    uint64_t steps = masque_quic_proxy_steps(proxy);
    uint8_t buf[64];
    size_t k;
    for (k = 0; k < trips; k++) {
        uint8_t msg[2] = {'@', (uint8_t)k};
        first_got_before = clients[0].got;
        peer_send(peer, &clients[0].pub, msg, 2);
        assert_true(pump(MAX_CLIENTS, 10000, first_got_more));
        client_send(&clients[0], peer_addr, clients[0].last, 2);
        assert_int_equal(peer_recv(peer, MAX_CLIENTS, buf, sizeof(buf), 10000), 2);
        assert_int_equal(buf[1], (uint8_t)k);
    }
    assert_true(masque_quic_proxy_steps(proxy) > steps);
    return masque_quic_proxy_client_turns(proxy) - turns;
}

static void test_e2e_fifty_concurrent_clients(void **state)
{
    uint8_t buf[64];
    masque_address peer_addr;
    int peer;
    size_t i;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    for (i = 0; i < MAX_CLIENTS; i++) {
        start_client(&clients[i], "127.0.0.1");
    }
    assert_true(pump(MAX_CLIENTS, 20000, all_ready));
    assert_int_equal(masque_quic_proxy_clients(proxy), MAX_CLIENTS);
    peer = bound_socket("127.0.0.1", &peer_addr);
    for (i = 0; i < MAX_CLIENTS; i++) {
        uint8_t msg[2] = {'#', (uint8_t)i};
        peer_send(peer, &clients[i].pub, msg, 2);
    }
    assert_true(pump(MAX_CLIENTS, 10000, all_got));
    for (i = 0; i < MAX_CLIENTS; i++) {
        assert_int_equal(clients[i].last_len, 2);
        assert_int_equal(clients[i].last[1], (uint8_t)i); /* each got its own */
        client_send(&clients[i], &peer_addr, clients[i].last, 2);
    }
    for (i = 0; i < MAX_CLIENTS; i++) {
        assert_int_equal(peer_recv(peer, MAX_CLIENTS, buf, sizeof(buf), 5000), 2);
    }
    /* One tunnel busy, 49 idle: a step serves the clients something happened to and those
     * whose timer is due, so 20 round trips take a few turns each (the active client's packets,
     * the relay's data for it), plus a timer or two per idle client at most (ACKs still due
     * from the exchange above, a keep-alive under a slow run). A step that served every client
     * would take 49 turns more per step, and a round trip takes at least two steps. */
    assert_true(turns_of_round_trips(peer, &peer_addr, 20) <= 20 * 8 + 4 * MAX_CLIENTS);
    (void)close(peer);
    for (i = 0; i < MAX_CLIENTS; i++) {
        stop_client(&clients[i]);
    }
    stop_proxy();
}

static int proxy_empty(size_t n)
{
    (void)n;
    return masque_quic_proxy_clients(proxy) == 0;
}

/* Runs client 0 alone (the proxy is gone, or not run) until its connection is over or
 * `limit_ms` passed; returns whether it is over. */
static int client_alone_until_closed(uint64_t limit_ms)
{
    uint64_t end = ms() + limit_ms;
    while (ms() < end && !masque_quic_is_closed(clients[0].conn)) {
        struct pollfd pfd;
        pfd.fd = clients[0].fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        (void)poll(&pfd, 1, 10);
        while (masque_quic_read_socket(clients[0].conn) > 0) {
        }
        if (masque_quic_next_timeout(clients[0].conn) <= masque_quic_now_ns()) {
            (void)masque_quic_tick(clients[0].conn);
        }
        (void)masque_quic_write(clients[0].conn);
    }
    return masque_quic_is_closed(clients[0].conn);
}

static void test_e2e_a_proxy_that_stops_tells_its_clients(void **state)
{
    /* A proxy that stops (masque-proxy on SIGTERM: masque_quic_proxy_free()) closes each
     * connection with CONNECTION_CLOSE (H3_NO_ERROR, RFC 9000 §10.2): its clients learn at
     * once and can reconnect. It freed them without a word, and a client waited for its idle
     * timeout (120 s) before it knew the tunnel was gone. */
    masque_address peer_addr;
    int peer = one_client_and_a_peer(&peer_addr);
    uint64_t code = 1;
    (void)state;
    assert_int_equal(masque_quic_end_reason(clients[0].conn, &code), MASQUE_CONN_OPEN);
    masque_quic_proxy_free(proxy);
    proxy = NULL;
    assert_true(client_alone_until_closed(15000));
    /* ... and the client can tell that it stopped, cleanly (and will likely be back). */
    assert_int_equal(masque_quic_end_reason(clients[0].conn, &code), MASQUE_CONN_CLOSED_BY_PEER);
    assert_int_equal(code, MASQUE_H3_NO_ERROR);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy(); /* its sockets; the proxy is gone already */
}

static int third_refused_or_ready(size_t n)
{
    (void)n;
    return clients[2].closed || clients[2].ready;
}

static int proxy_holds_one_request(size_t n);

static int first_ready(size_t n)
{
    (void)n;
    return clients[0].ready;
}

static void test_e2e_identities_without_requests_give_their_accounting_to_newcomers(void **state)
{
    /* The proxy accounts for a bounded number of client identities (quotas, usage). Once that
     * many had ever been seen, every newcomer shared the last slot and its quota with all the
     * others: with a quota of one request, a long-running proxy came to refuse (429) every new
     * client while one of them held a request. Now the slot of an identity without an open
     * request goes to the newcomer, and its counters go to the log. Here: two slots, three
     * anonymous clients from three loopback addresses, one request each at most. */
    masque_quic_usage u0;
    masque_quic_usage u1;
    unsigned i;
    (void)state;
    proxy_max_identities = 2;
    proxy_quota_requests = 1;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_max_identities = 0;
    proxy_quota_requests = 0;
    start_client(&clients[0], "127.0.0.11");
    start_client(&clients[1], "127.0.0.12");
    assert_true(pump(2, 15000, all_ready));
    (void)masque_quic_close(clients[0].conn, MASQUE_H3_NO_ERROR); /* the first one leaves */
    assert_true(pump(2, 15000, proxy_holds_one_request));
    identity_handovers = 0;
    start_client(&clients[2], "127.0.0.13");
    assert_true(pump(3, 15000, third_refused_or_ready));
    assert_true(clients[2].ready); /* not 429 for the second one's request */
    assert_int_equal(identity_handovers, 1);
    assert_int_equal(masque_quic_proxy_usage(proxy, 0, &u0), 0);
    assert_int_equal(masque_quic_proxy_usage(proxy, 1, &u1), 0);
    assert_int_equal(masque_quic_proxy_usage(proxy, 2, &u1), -1);
    assert_string_equal(u0.identity, "anonymous 127.0.0.13");
    assert_int_equal(u0.requests, 1);
    assert_int_equal(masque_quic_proxy_usage(proxy, 1, &u1), 0);
    assert_string_equal(u1.identity, "anonymous 127.0.0.12");
    assert_int_equal(u1.requests, 1);
    /* The third leaves too; twelve more come and go one after the other, each taking the slot
     * the one before left: the table's index keeps finding room (a name left behind in it
     * would fill it up). */
    (void)masque_quic_close(clients[2].conn, MASQUE_H3_NO_ERROR);
    assert_true(pump(3, 15000, proxy_holds_one_request));
    for (i = 0; i < 12; i++) {
        char ip[32];
        stop_client(&clients[0]);
        (void)snprintf(ip, sizeof(ip), "127.0.0.%u", 21u + i);
        start_client(&clients[0], ip);
        assert_true(pump(3, 15000, first_ready));
        (void)masque_quic_close(clients[0].conn, MASQUE_H3_NO_ERROR);
        assert_true(pump(3, 15000, proxy_holds_one_request));
    }
    assert_int_equal(identity_handovers, 13);
    stop_client(&clients[0]);
    stop_client(&clients[1]);
    stop_client(&clients[2]);
    stop_proxy();
}

/* A second proxy beside `proxy` (another worker of the port, in this process), stepped by
 * pump() through after_step. */
static masque_quic_proxy *other_proxy;
static int other_fd = -1;
static size_t awaited; /* the client whose answer is awaited */

static void step_other(void)
{
    assert_int_equal(masque_quic_proxy_step(other_proxy, 0), 0);
}

static int awaited_answered(size_t n)
{
    (void)n;
    return clients[awaited].ready || clients[awaited].closed;
}

static int other_holds_one_request(size_t n)
{
    (void)n;
    return masque_quic_proxy_requests(other_proxy) == 1;
}

/* Client k from `ip` (anonymous: its identity is its address) to the proxy at `to`: the status
 * of its Bind request's answer. */
static int bind_from(size_t k, const char *ip, const masque_address *to)
{
    masque_address own = proxy_addr;
    proxy_addr = *to;
    start_client(&clients[k], ip);
    proxy_addr = own;
    awaited = k;
    assert_true(pump(k + 1, 15000, awaited_answered));
    if (!clients[k].ready) {
        assert_true(clients[k].closed);
        return clients[k].status;
    }
    return 200;
}

/* Two proxies standing for two workers of one port: `proxy`, at *own, and other_proxy, at
 * *other, stepped after each of its steps, with the same quotas and one quota share made for
 * `identities`. */
static void start_two_workers(size_t identities, size_t quota_requests, uint32_t quota_datagrams,
                              masque_address *own, masque_address *other)
{
    masque_quic_proxy_config cfg;
    proxy_quota_share = masque_quic_quota_share_new(identities);
    assert_non_null(proxy_quota_share);
    proxy_quota_requests = quota_requests;
    proxy_quota_datagrams = quota_datagrams;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_quota_requests = 0;
    proxy_quota_datagrams = 0;
    *own = proxy_addr;
    memset(&cfg, 0, sizeof(cfg));
    cfg.conn.cert_file = pki.cert_file;
    cfg.conn.key_file = pki.key_file;
    cfg.conn.policy = &policy;
    cfg.quota_requests = quota_requests;
    cfg.quota_datagrams_per_s = quota_datagrams;
    cfg.quota_share = proxy_quota_share;
    other_fd = bound_socket("127.0.0.1", other);
    cfg.relay_bind = *other;
    assert_null(masque_quic_proxy_new(&cfg, other_fd)); /* no URI template: refused */
    cfg.conn.uri_template = tmpl;
    other_proxy = masque_quic_proxy_new(&cfg, other_fd);
    assert_non_null(other_proxy);
    after_step = step_other;
}

static void stop_two_workers(void)
{
    after_step = NULL;
    masque_quic_proxy_free(other_proxy);
    other_proxy = NULL;
    (void)close(other_fd);
    other_fd = -1;
    stop_proxy();
    masque_quic_quota_share_free(proxy_quota_share);
    proxy_quota_share = NULL;
}

/* Workers of one port share one count of each identity's requests (masque_quic_quota_share),
 * so that --quota-requests bounds an identity across them: two proxies with one share, a quota
 * of one request. An identity that holds its request at one is refused at the other; the share
 * holds as many identities as it has room for (here four: 3 asked for, a power of two of slots
 * at a load of a half), a fifth is refused with 503 (the proxy's limit, not its quota) until
 * one of them ends its request; the others still hold theirs after that removal. */
static void test_e2e_workers_share_one_quota_of_requests(void **state)
{
    masque_address other_addr;
    masque_address own_addr;
    (void)state;
    assert_null(masque_quic_quota_share_new(0));
    assert_null(masque_quic_quota_share_new(1000001));
    start_two_workers(3, 1, 0, &own_addr, &other_addr);
    /* Anonymous identities are their addresses. Where they land among the share's 8 slots
     * depends on its random seed: test_quota_share proves removals across collisions. */
    assert_int_equal(bind_from(0, "127.0.0.11", &own_addr), 200);
    assert_int_equal(bind_from(1, "127.0.0.11", &other_addr), 429); /* held at the first proxy */
    assert_int_equal(bind_from(2, "127.0.0.12", &other_addr), 200);
    assert_int_equal(bind_from(3, "127.0.0.27", &other_addr), 200);
    assert_int_equal(bind_from(4, "127.0.0.14", &own_addr), 200);
    assert_int_equal(bind_from(5, "127.0.0.15", &own_addr), 503); /* no room for a fifth */
    assert_int_equal(masque_quic_close(clients[2].conn, MASQUE_H3_NO_ERROR), 0);
    assert_true(pump(5, 15000, other_holds_one_request)); /* .12's slot is free */
    /* .27 is still found after .12 left, still holding its request. */
    assert_int_equal(bind_from(6, "127.0.0.27", &own_addr), 429);
    assert_int_equal(bind_from(7, "127.0.0.15", &other_addr), 200); /* the room came back */
    assert_int_equal(bind_from(8, "127.0.0.14", &other_addr), 429);
    assert_int_equal(bind_from(9, "127.0.0.11", &other_addr), 429);
    stop_two_workers();
}

/* What `identity` had counted at proxy `at`: datagrams passed and dropped by its quota. */
static uint64_t counted_at(const masque_quic_proxy *at, const char *identity, uint64_t *passed)
{
    masque_quic_usage u;
    size_t i;
    *passed = 0;
    for (i = 0; masque_quic_proxy_usage(at, i, &u) == 0; i++) {
        if (strcmp(u.identity, identity) == 0) {
            *passed = u.datagrams;
            return u.datagrams + u.dropped;
        }
    }
    return 0;
}

static uint64_t rate_sent; /* datagrams sent to each of the two tunnels */

/* Both proxies counted every datagram sent (passed or dropped by the quota). */
static int rate_settled(size_t n)
{
    uint64_t passed;
    (void)n;
    return counted_at(proxy, "anonymous 127.0.0.11", &passed) == rate_sent &&
           counted_at(other_proxy, "anonymous 127.0.0.11", &passed) == rate_sent;
}

/* Workers share each identity's rate quota too: one identity with a request at each of two
 * proxies that share it passes, across both, a second's burst (10 datagrams at 10/s) plus what
 * the time taken refills, not that at each. The peer floods both tunnels with 30 each: shared,
 * at most 10 + 10 a second get through; each proxy alone would let 10 + 10 a second through. */
static void test_e2e_workers_share_one_rate_quota(void **state)
{
    static uint8_t small[32];
    masque_address other_addr;
    masque_address own_addr;
    masque_address peer_addr;
    struct sockaddr_storage to[2];
    socklen_t len[2];
    uint64_t passed_own;
    uint64_t passed_other;
    uint64_t began;
    double seconds;
    int peer;
    int i;
    (void)state;
    start_two_workers(4, 0, 10, &own_addr, &other_addr);
    assert_int_equal(bind_from(0, "127.0.0.11", &own_addr), 200);
    assert_int_equal(bind_from(1, "127.0.0.11", &other_addr), 200);
    peer = bound_socket("127.0.0.1", &peer_addr);
    for (i = 0; i < 2; i++) {
        assert_int_equal(masque_address_to_sockaddr(&clients[i].pub, &to[i], &len[i]), MASQUE_OK);
        clients[i].got = 0;
    }
    rate_sent = 30;
    began = ms();
    for (i = 0; i < 30; i++) {
        assert_true(sendto(peer, small, sizeof(small), 0, (struct sockaddr *)&to[0], len[0]) > 0);
        assert_true(sendto(peer, small, sizeof(small), 0, (struct sockaddr *)&to[1], len[1]) > 0);
        (void)pump(2, 1, NULL);
    }
    assert_true(pump(2, 20000, rate_settled));
    seconds = (double)(ms() - began) / 1000.0;
    (void)counted_at(proxy, "anonymous 127.0.0.11", &passed_own);
    (void)counted_at(other_proxy, "anonymous 127.0.0.11", &passed_other);
    print_message("shared rate quota: %llu + %llu of 60 passed in %.2f s\n",
                  (unsigned long long)passed_own, (unsigned long long)passed_other, seconds);
    assert_true(passed_own + passed_other >= 10); /* the burst */
    assert_true((double)(passed_own + passed_other) <= 10.0 + 10.0 * seconds + 1.0);
    (void)close(peer);
    stop_client(&clients[1]);
    stop_client(&clients[0]);
    stop_two_workers();
}

static void test_e2e_UDP_7_disconnect_frees_the_clients_socket_and_contexts(void **state)
{
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_int_equal(masque_quic_proxy_clients(proxy), 1);
    assert_int_equal(masque_quic_close(clients[0].conn, MASQUE_H3_NO_ERROR), 0);
    stop_client(&clients[0]);
    assert_true(pump(0, 10000, proxy_empty)); /* drained, freed, relay socket closed */
    stop_proxy();
}

static int second_got(size_t n)
{
    (void)n;
    return clients[1].got > 0;
}

static void test_e2e_DG_11_malformed_capsule_aborts_only_that_stream(void **state)
{
    static const uint8_t bad[] = {0x11, 0x02, 0x00, 0x00}; /* ASSIGN with Context ID 0 */
    masque_address peer_addr;
    int peer;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    start_client(&clients[1], "127.0.0.1");
    assert_true(pump(2, 5000, all_ready));
    assert_int_equal(masque_quic_request_write_stream(clients[0].req, bad, sizeof(bad)), 0);
    assert_true(pump(2, 5000, any_closed)); /* on an event, not after a fixed time */
    assert_true(clients[0].closed);
    assert_true(clients[0].closed_with == MASQUE_H3_MESSAGE_ERROR);
    /* The other client is served as before. */
    peer = bound_socket("127.0.0.1", &peer_addr);
    peer_send(peer, &clients[1].pub, (const uint8_t *)"still here", 10);
    clients[1].got = 0;
    assert_true(pump(2, 5000, second_got)); /* on the datagram, not after a fixed time */
    assert_int_equal(clients[1].got, 1);
    assert_false(clients[1].closed);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_client(&clients[1]);
    stop_proxy();
}

/* A tunnel kept busy: BUSY_TOTAL datagrams of BUSY_SIZE bytes, BUSY_WINDOW at a time. */
enum { BUSY_SIZE = 1000, BUSY_WINDOW = 3, BUSY_TOTAL = 5000 };
static uint8_t busy_msg[BUSY_SIZE];
static int busy_peer;                 /* the peer's socket */
static masque_address busy_peer_addr; /* its address */
static int busy_sent;
static int busy_got;

/* pump()'s check, each round: what reached the client, and as many more from the peer as the
 * window allows, at once (so the proxy's stream always has bytes in flight). */
static int peer_keeps_sending(size_t n)
{
    (void)n;
    busy_got = clients[0].got;
    while (busy_sent < BUSY_TOTAL && busy_sent - busy_got < BUSY_WINDOW) {
        peer_send(busy_peer, &clients[0].pub, busy_msg, BUSY_SIZE);
        busy_sent++;
    }
    return busy_got >= BUSY_TOTAL || clients[0].closed;
}

/* The same from the client, after each proxy step: what reached the peer, and more from the
 * client, queued before the client reads the acknowledgements that step sent. */
static void client_keeps_sending(void)
{
    uint8_t buf[BUSY_SIZE + 1];
    while (recv(busy_peer, buf, sizeof(buf), MSG_DONTWAIT) == BUSY_SIZE) {
        busy_got++;
    }
    while (!clients[0].closed && busy_sent < BUSY_TOTAL && busy_sent - busy_got < BUSY_WINDOW) {
        client_send(&clients[0], &busy_peer_addr, busy_msg, BUSY_SIZE);
        busy_sent++;
    }
}

static int peer_got_all(size_t n)
{
    (void)n;
    return busy_got >= BUSY_TOTAL || clients[0].closed;
}

/*
 * DG-8 over capsules without a pause: a request stream that always has bytes in flight carries
 * many times its stream buffer (5 MB through 16 KiB), both ways. Bytes queued on the stream
 * stay put until they are acknowledged (nghttp3 points into them), and are room again from
 * then on. Before, the buffer started over only when everything queued had been acknowledged
 * at once, so a busy tunnel reached the bound after stream_buffer bytes in all and was
 * aborted (H3_INTERNAL_ERROR). Each side queues the next datagrams before it reads the
 * acknowledgements of the last ones, so its stream is never found with everything acknowledged.
 * 5 MB is also more than the stream's flow-control window (1 MiB) and the connection's
 * (4 MiB): each side must keep extending them as it consumes (RFC 9000 §4.2). About 40 ms
 * here, 15 s under valgrind: each way may take two minutes before the test gives up.
 */
static void test_e2e_DG_8_a_busy_capsule_tunnel_carries_many_times_its_stream_buffer(void **state)
{
    (void)state;
    proxy_stream_buffer = 16384;
    client_stream_buffer = 16384;
    proxy_force_capsules = 1;
    busy_peer = one_client_and_a_peer(&busy_peer_addr);
    assert_false(masque_quic_request_uses_h3_datagrams(clients[0].req));
    busy_sent = 0;
    assert_true(pump(1, 120000, peer_keeps_sending));
    assert_false(clients[0].closed);
    assert_int_equal(clients[0].got, BUSY_TOTAL);
    assert_int_equal(clients[0].last_len, BUSY_SIZE);
    busy_sent = 0;
    busy_got = 0;
    after_step = client_keeps_sending;
    assert_true(pump(1, 120000, peer_got_all));
    after_step = NULL;
    assert_false(clients[0].closed);
    assert_int_equal(busy_got, BUSY_TOTAL);
    (void)close(busy_peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_BIND_30_responses_a_client_does_not_take_are_bounded(void **state)
{
    size_t i;
    (void)state;
    proxy_stream_buffer = 512; /* a small bound, to reach it quickly */
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_stream_buffer = 0;
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    /* The client registers many targets and stops reading: the proxy's answers pile up. */
    for (i = 0; i < 250; i++) {
        masque_address t;
        masque_address_set_v4(&t, (const uint8_t *)"\x7f\x00\x00\x01", (uint16_t)(i + 1));
        assert_int_equal(masque_session_open_context(masque_quic_request_session(clients[0].req),
                                                     &t, ms(), NULL),
                         MASQUE_OK);
        assert_int_equal(masque_adapter_flush(masque_quic_request_adapter(clients[0].req)),
                         MASQUE_OK);
        if (i % 10 == 0) {
            (void)masque_quic_write(clients[0].conn);
            assert_int_equal(masque_quic_proxy_step(proxy, 1), 0);
        }
    }
    {
        uint64_t end = ms() + 2000;
        while (ms() < end) {
            (void)masque_quic_write(clients[0].conn);
            assert_int_equal(masque_quic_proxy_step(proxy, 1), 0);
            if (masque_quic_next_timeout(clients[0].conn) <= masque_quic_now_ns()) {
                (void)masque_quic_tick(clients[0].conn);
            }
        }
    }
    /* Reading again, the client learns that the proxy aborted the request stream: its answers
     * waited in the session's queue, whose bound they reached (-10 §9, H3_EXCESSIVE_LOAD). */
    (void)masque_quic_read_socket(clients[0].conn);
    assert_true(pump(1, 10000, any_closed));
    if (clients[0].closed_with != MASQUE_H3_EXCESSIVE_LOAD) {
        fail_msg("closed with 0x%llx", (unsigned long long)clients[0].closed_with);
    }
    stop_client(&clients[0]);
    stop_proxy();
}

/* Waits (pumping) for one datagram at the peer and its source; returns its length or -1. */
static ssize_t peer_recv_from(int fd, masque_address *from, uint8_t *out, size_t cap,
                              uint64_t limit_ms)
{
    uint64_t end = ms() + limit_ms;
    while (ms() < end) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        ssize_t r = recvfrom(fd, out, cap, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
        if (r >= 0) {
            assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, sl, from),
                             MASQUE_OK);
            return r;
        }
        (void)pump(1, 2, NULL);
    }
    return -1;
}

static void test_e2e_BIND_26_public_address_stays_the_same_for_the_whole_request(void **state)
{
    masque_address peer_addr[3];
    int peer[3];
    int round;
    size_t k;
    uint64_t id = 0;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    for (k = 0; k < 3; k++) {
        peer[k] = bound_socket("127.0.0.1", &peer_addr[k]);
    }
    /* Every peer, every round, uncompressed and compressed: the client's packets always come
     * from the one address and port the proxy advertised, and that address reaches it. */
    for (round = 0; round < 6; round++) {
        masque_session *s = masque_quic_request_session(clients[0].req);
        if (round == 2) {
            assert_int_equal(masque_session_open_context(s, &peer_addr[0], ms(), &id), MASQUE_OK);
        }
        if (round == 4) {
            assert_int_equal(masque_session_close_context(s, id, ms()), MASQUE_OK);
        }
        assert_int_equal(masque_adapter_flush(masque_quic_request_adapter(clients[0].req)),
                         MASQUE_OK);
        for (k = 0; k < 3; k++) {
            uint8_t msg[2] = {(uint8_t)round, (uint8_t)k};
            uint8_t back[8];
            masque_address from;
            int attempt;
            clients[0].got = 0;
            /* A datagram that crosses the client's CLOSE on the wire is dropped (-10 §3.3):
             * that is the protocol, so the peer tries again, a bounded number of times. */
            for (attempt = 0; attempt < 5 && clients[0].got == 0; attempt++) {
                peer_send(peer[k], &clients[0].pub, msg, 2);
                (void)pump(1, 2000, all_got);
            }
            if (clients[0].got == 0) {
                fail_msg("round %d peer %zu: nothing relayed", round, k);
            }
            assert_true(masque_address_equal(&clients[0].last_peer, &peer_addr[k]));
            client_send(&clients[0], &peer_addr[k], msg, 2);
            assert_int_equal(peer_recv_from(peer[k], &from, back, sizeof(back), 5000), 2);
            assert_memory_equal(back, msg, 2);
            assert_true(masque_address_equal(&from, &clients[0].pub));
        }
    }
    for (k = 0; k < 3; k++) {
        (void)close(peer[k]);
    }
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_UDP_13_relay_drops_what_would_need_fragments(void **state)
{
    static uint8_t data[65527];
    static uint8_t back[BIG];
    masque_address peer_addr;
    int peer;
    int probe = socket(AF_INET6, SOCK_DGRAM, 0);
    (void)state;
    if (probe < 0) {
        skip(); /* no IPv6 on this machine */
    }
    (void)close(probe);
    memset(data, 0x5a, sizeof(data));
    proxy_force_capsules = 1; /* 65527 bytes need a DATAGRAM capsule */
    start_proxy("::1", "::1/128");
    proxy_force_capsules = 0;
    start_client(&clients[0], "::1");
    assert_true(pump(1, 5000, all_ready));
    peer = bound_socket("::1", &peer_addr);
    /* RFC 9298's largest payload reaches the client (the peer's own stack fragments it)... */
    clients[0].got = 0;
    peer_send(peer, &clients[0].pub, data, sizeof(data));
    assert_true(pump(1, 5000, all_got));
    assert_int_equal(clients[0].last_len, sizeof(data));
    /* ...but the proxy never sends it on in fragments (RFC 9298 §3.1): 65527 + 48 bytes of
     * headers exceed the loopback MTU of 65536, so it is dropped; what fits still goes. */
    client_send(&clients[0], &peer_addr, data, sizeof(data));
    assert_int_equal(peer_recv(peer, 1, back, sizeof(back), 1000), -1);
    client_send(&clients[0], &peer_addr, data, 65488);
    assert_int_equal(peer_recv(peer, 1, back, sizeof(back), 5000), 65488);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_DG_14_fin_inside_a_capsule_aborts_with_h3_message_error(void **state)
{
    static const uint8_t cut[] = {0x11, 0x08, 0x04}; /* an ASSIGN's first 3 of 10 bytes */
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_int_equal(masque_quic_request_write_stream(clients[0].req, cut, sizeof(cut)), 0);
    assert_int_equal(masque_quic_request_end(clients[0].req), 0);
    (void)pump(1, 5000, any_closed);
    assert_true(clients[0].closed);
    /* RFC 9297 §3.3: a stream that ends inside a capsule is malformed. */
    if (clients[0].closed_with != MASQUE_H3_MESSAGE_ERROR) {
        fail_msg("closed with 0x%llx", (unsigned long long)clients[0].closed_with);
    }
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_UDP_7_clean_fin_closes_the_relay_socket(void **state)
{
    masque_address peer_addr;
    uint8_t buf[16];
    int peer;
    ssize_t r = 0;
    uint64_t end;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    (void)state;
    peer = one_client_and_a_peer(&peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &ss, &sl), MASQUE_OK);
    assert_int_equal(connect(peer, (struct sockaddr *)&ss, sl), 0);
    clients[0].got = 0;
    assert_int_equal(send(peer, "open", 4, 0), 4);
    assert_true(pump(1, 5000, all_got)); /* the public address works */
    assert_int_equal(masque_quic_request_end(clients[0].req), 0);
    /* RFC 9298 §3.1: the socket is gone with the request; the kernel now answers a datagram
     * to the public address with ICMP port unreachable, which a connected socket reports. */
    end = ms() + 5000;
    while (ms() < end) {
        (void)send(peer, "gone?", 5, 0);
        r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0 && errno == ECONNREFUSED) {
            break;
        }
        (void)pump(1, 10, NULL);
    }
    assert_true(r < 0 && errno == ECONNREFUSED);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static int got_six(size_t n)
{
    (void)n;
    return clients[0].got >= 6;
}

/* A peer that sends a GSO train (as QUIC stacks do) to the public address: the proxy, which
 * receives it coalesced (UDP GRO), hands the client the datagrams that were sent, one HTTP
 * Datagram each (RFC 9298 §5: one UDP payload per datagram), none merged, none cut. */
static void test_e2e_a_peers_gso_train_reaches_the_client_datagram_by_datagram(void **state)
{
    static uint8_t train[5 * 1000 + 300];
    union {
        struct cmsghdr align;
        uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
    } control;
    uint16_t segment = 1000;
    masque_address peer_addr;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *cm;
    size_t i;
    int peer;
    (void)state;
    peer = one_client_and_a_peer(&peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &ss, &sl), MASQUE_OK);
    for (i = 0; i < sizeof(train); i++) {
        train[i] = (uint8_t)(i / 1000u + 1u);
    }
    memset(&msg, 0, sizeof(msg));
    memset(&control, 0, sizeof(control));
    iov.iov_base = train;
    iov.iov_len = sizeof(train);
    msg.msg_name = &ss;
    msg.msg_namelen = sl;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = 103; /* UDP_SEGMENT, Linux 4.18 */
    cm->cmsg_len = CMSG_LEN(sizeof(segment));
    memcpy(CMSG_DATA(cm), &segment, sizeof(segment));
    clients[0].got = 0;
    assert_int_equal(sendmsg(peer, &msg, 0), (ssize_t)sizeof(train));
    assert_true(pump(1, 10000, got_six));
    (void)pump(1, 200, NULL); /* and nothing more (a datagram sent twice, or cut in two) */
    assert_int_equal(clients[0].got, 6);
    for (i = 0; i < 6; i++) {
        assert_int_equal(clients[0].lens[i], i < 5 ? 1000 : 300);
    }
    /* The last one, byte for byte. */
    assert_int_equal(clients[0].last_len, 300);
    assert_memory_equal(clients[0].last, train + 5000, 300);
    assert_int_equal(clients[0].last_peer.port, peer_addr.port);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static int client_gone(size_t n)
{
    (void)n;
    return masque_quic_is_closed(clients[0].conn);
}

static void test_e2e_tls_verifies_the_proxy_against_the_ca_and_the_authority(void **state)
{
    int round;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    for (round = 0; round < 3; round++) {
        /* 0: the right CA and name; 1: another CA; 2: a name the certificate does not carry
         * (the authority, not a fixed "localhost", is what is verified). */
        client_ca = round == 1 ? pki.other_ca_file : NULL;
        client_host = round == 2 ? "proxy.example" : "localhost";
        start_client(&clients[0], "127.0.0.1");
        if (round == 0) {
            assert_true(pump(1, 5000, all_ready));
        } else {
            assert_true(pump(1, 5000, client_gone));
            assert_false(clients[0].ready);
        }
        stop_client(&clients[0]);
    }
    client_ca = NULL;
    client_host = "localhost";
    stop_proxy();
}

static char last_log[256];

static void capture_log(masque_quic_conn *c, void *app, const char *line)
{
    (void)c;
    (void)app;
    (void)snprintf(last_log, sizeof(last_log), "%s", line);
}

static int logged_status(size_t n)
{
    (void)n;
    return strstr(last_log, "status") != NULL;
}

/* A client whose log lines land in last_log; target_host NULL asks for Bind to `*`. */
static void start_logging_client(client *cl, const char *target_host, uint16_t target_port)
{
    static const masque_quic_hooks logging = {on_ready, on_packet, on_close, capture_log,
                                              NULL,     NULL,      NULL};
    masque_quic_config cfg;
    struct sockaddr_storage remote;
    struct sockaddr_storage local;
    socklen_t rl = 0;
    socklen_t ll = sizeof(local);
    masque_address dummy;
    memset(cl, 0, sizeof(*cl));
    memset(&cfg, 0, sizeof(cfg));
    cfg.authority = "localhost";
    cfg.uri_template = tmpl;
    cfg.ca_file = pki.ca_file;
    cfg.target_host = target_host;
    cfg.target_port = target_port;
    cfg.token = client_token;
    cl->fd = bound_socket("127.0.0.1", &dummy);
    assert_int_equal(masque_address_to_sockaddr(&proxy_addr, &remote, &rl), MASQUE_OK);
    assert_int_equal(connect(cl->fd, (struct sockaddr *)&remote, rl), 0);
    assert_int_equal(getsockname(cl->fd, (struct sockaddr *)&local, &ll), 0);
    last_log[0] = '\0';
    cl->conn = masque_quic_client_new(&cfg, cl->fd, (struct sockaddr *)&local, ll,
                                      (struct sockaddr *)&remote, rl, &logging, cl);
    assert_non_null(cl->conn);
}

/* Sends from `peer` (connected to a public address) until the kernel answers with ICMP port
 * unreachable: the relay socket behind that address is closed (RFC 9298 §3.1). */
static int port_refused(int peer, size_t n)
{
    uint8_t buf[16];
    uint64_t end = ms() + 5000;
    while (ms() < end) {
        ssize_t r;
        (void)send(peer, "gone?", 5, 0);
        r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0 && errno == ECONNREFUSED) {
            return 1;
        }
        (void)pump(n, 10, NULL);
    }
    return 0;
}

/* More Bind requests on clients[0]'s connection, reported to clients[1..n-1]. */
static void open_more_requests(size_t n)
{
    size_t k;
    for (k = 1; k < n; k++) {
        memset(&clients[k], 0, sizeof(clients[k]));
        assert_non_null(masque_quic_request_open(clients[0].conn, &clients[k]));
    }
}

static int client_0_closed(size_t n)
{
    (void)n;
    return clients[0].closed;
}

static int client_1_closed(size_t n)
{
    (void)n;
    return clients[1].closed;
}

/* Each of requests 0..n-1 hears only what was sent to its own public address, and what it
 * sends leaves from that address. */
static void requests_relay_independently(int peer, const size_t *which, size_t count)
{
    size_t k;
    for (k = 0; k < count; k++) {
        clients[which[k]].got = 0;
    }
    for (k = 0; k < count; k++) {
        char msg[8];
        struct sockaddr_storage ss;
        socklen_t sl = 0;
        (void)snprintf(msg, sizeof(msg), "to-%zu", which[k]);
        assert_int_equal(masque_address_to_sockaddr(&clients[which[k]].pub, &ss, &sl), MASQUE_OK);
        assert_int_equal(sendto(peer, msg, 4, 0, (struct sockaddr *)&ss, sl), 4);
    }
    for (k = 0; k < count; k++) {
        client *cl = &clients[which[k]];
        uint64_t end = ms() + 5000;
        char want[8];
        while (cl->got == 0 && ms() < end) {
            (void)pump(3, 2, NULL);
        }
        (void)snprintf(want, sizeof(want), "to-%zu", which[k]);
        assert_int_equal(cl->got, 1);
        assert_int_equal(cl->last_len, 4);
        assert_memory_equal(cl->last, want, 4);
    }
    for (k = 0; k < count; k++) {
        masque_address peer_addr;
        masque_address from;
        uint8_t back[16];
        char msg[8];
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        assert_int_equal(getsockname(peer, (struct sockaddr *)&ss, &sl), 0);
        assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, sl, &peer_addr),
                         MASQUE_OK);
        (void)snprintf(msg, sizeof(msg), "fr-%zu", which[k]);
        client_send(&clients[which[k]], &peer_addr, (const uint8_t *)msg, 4);
        assert_int_equal(peer_recv_from(peer, &from, back, sizeof(back), 5000), 4);
        assert_memory_equal(back, msg, 4);
        assert_true(masque_address_equal(&from, &clients[which[k]].pub));
    }
}

static void test_e2e_three_bind_requests_on_one_connection_one_reset_midway(void **state)
{
    static const size_t all[] = {0, 1, 2};
    static const size_t survivors[] = {0, 2};
    masque_address peer_addr;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int peer;
    int gone;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    open_more_requests(3);
    assert_int_equal(masque_quic_requests(clients[0].conn), 3);
    assert_true(pump(3, 5000, all_ready));
    /* One session, one public address and one stream per request, all on one connection. */
    assert_int_equal(masque_quic_proxy_clients(proxy), 1);
    assert_int_equal(masque_quic_proxy_requests(proxy), 3);
    assert_true(masque_quic_request_conn(clients[1].req) == clients[0].conn);
    assert_true(masque_quic_request_stream_id(clients[0].req) !=
                masque_quic_request_stream_id(clients[1].req));
    assert_true(masque_quic_request_stream_id(clients[1].req) !=
                masque_quic_request_stream_id(clients[2].req));
    assert_int_not_equal(clients[0].pub.port, clients[1].pub.port);
    assert_int_not_equal(clients[1].pub.port, clients[2].pub.port);
    assert_int_not_equal(clients[0].pub.port, clients[2].pub.port);
    peer = bound_socket("127.0.0.1", &peer_addr);
    requests_relay_independently(peer, all, 3);
    (void)close(peer);

    /* The second request is reset: it alone ends, with its socket. */
    assert_int_equal(masque_quic_request_cancel(clients[1].req, MASQUE_H3_REQUEST_CANCELLED), 0);
    assert_true(pump(3, 5000, client_1_closed));
    assert_int_equal(clients[1].closed_with, MASQUE_H3_REQUEST_CANCELLED);
    peer = bound_socket("127.0.0.1", &peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[1].pub, &ss, &sl), MASQUE_OK);
    assert_int_equal(connect(peer, (struct sockaddr *)&ss, sl), 0);
    gone = port_refused(peer, 3);
    (void)close(peer);
    assert_true(gone);
    assert_int_equal(masque_quic_requests(clients[0].conn), 2);
    assert_int_equal(masque_quic_proxy_requests(proxy), 2);
    assert_false(clients[0].closed);
    assert_false(clients[2].closed);
    peer = bound_socket("127.0.0.1", &peer_addr);
    requests_relay_independently(peer, survivors, 2);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_two_bind_requests_on_one_connection_one_ends_cleanly(void **state)
{
    static const size_t both[] = {0, 1};
    static const size_t first[] = {0};
    masque_address peer_addr;
    int peer;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    open_more_requests(2);
    assert_true(pump(2, 5000, all_ready));
    peer = bound_socket("127.0.0.1", &peer_addr);
    requests_relay_independently(peer, both, 2);
    /* RFC 9298 §3.1: a FIN ends that request (and its socket) only. */
    assert_int_equal(masque_quic_request_end(clients[1].req), 0);
    assert_true(pump(2, 5000, client_1_closed));
    assert_int_equal(clients[1].closed_with, MASQUE_H3_NO_ERROR);
    assert_false(clients[0].closed);
    requests_relay_independently(peer, first, 1);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static int client_2_ready(size_t n)
{
    (void)n;
    return clients[2].ready && !clients[2].closed;
}

/*
 * A request the proxy's stream limit holds back (RFC 9000 §4.6: MAX_STREAMS counts every
 * stream ID opened, reset or not, until the proxy lets one go) waits for room, as one waits for
 * the proxy's SETTINGS: the open succeeds, and no on_close comes for it. With a limit of two
 * streams (masque_quic_config.max_streams), a request reset at once still holds its stream ID
 * until the proxy lets it go, and a served one as long as it lasts.
 */
static void test_e2e_a_request_the_stream_limit_holds_back_waits_for_room(void **state)
{
    static const size_t both[] = {0, 1};
    client churn;
    masque_address peer_addr;
    masque_quic_request *r;
    masque_quic_request *third;
    int peer;
    (void)state;
    conn_max_streams = 2;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    memset(&churn, 0, sizeof(churn));
    r = masque_quic_request_open(clients[0].conn, &churn);
    assert_non_null(r);
    assert_int_equal(masque_quic_request_stream_id(r), 4);
    assert_int_equal(masque_quic_request_cancel(r, MASQUE_H3_REQUEST_CANCELLED), 0);
    assert_int_equal(churn.closed, 1);
    /* Nothing was read since: the reset request still holds stream 4, and the limit is 2. */
    memset(&clients[1], 0, sizeof(clients[1]));
    r = masque_quic_request_open(clients[0].conn, &clients[1]);
    assert_non_null(r);
    assert_int_equal(masque_quic_request_stream_id(r), -1);
    assert_false(clients[1].closed);
    /* The proxy lets the reset stream go (MAX_STREAMS): the request goes out, and is served. */
    assert_true(pump(2, 5000, all_ready));
    assert_int_equal(masque_quic_request_stream_id(r), 8);
    assert_false(clients[0].closed);
    peer = bound_socket("127.0.0.1", &peer_addr);
    requests_relay_independently(peer, both, 2);
    /* Two served requests take both streams: a third waits until one of them ends. */
    memset(&clients[2], 0, sizeof(clients[2]));
    third = masque_quic_request_open(clients[0].conn, &clients[2]);
    assert_non_null(third);
    assert_int_equal(masque_quic_request_stream_id(third), -1);
    requests_relay_independently(peer, both, 2);
    assert_int_equal(masque_quic_request_stream_id(third), -1);
    assert_false(clients[2].closed);
    assert_int_equal(masque_quic_request_end(clients[1].req), 0);
    assert_true(pump(3, 5000, client_2_ready));
    assert_int_equal(masque_quic_request_stream_id(third), 12);
    assert_false(clients[0].closed);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static int two_ready_one_closed(size_t n)
{
    size_t k;
    size_t ready = 0;
    size_t closed = 0;
    for (k = 0; k < n; k++) {
        ready += clients[k].ready && !clients[k].closed ? 1u : 0u;
        closed += clients[k].closed && !clients[k].ready ? 1u : 0u;
    }
    return ready == 2 && closed == 1;
}

static void test_e2e_requests_per_connection_are_limited_with_429(void **state)
{
    client *refused = NULL;
    size_t k;
    (void)state;
    conn_max_requests = 2;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_logging_client(&clients[0], NULL, 0);
    open_more_requests(3);
    assert_true(pump(3, 5000, two_ready_one_closed));
    assert_non_null(strstr(last_log, "status 429"));
    /* The binding refused it: one line in the proxy's log, which names the client. */
    assert_int_equal(binding_refusals, 1);
    assert_non_null(strstr(binding_refusal, "client 127.0.0.1:"));
    assert_non_null(strstr(binding_refusal, "too many Bind requests on one connection"));
    assert_int_equal(masque_quic_proxy_requests(proxy), 2);
    for (k = 0; k < 3; k++) {
        if (!clients[k].ready) {
            refused = &clients[k];
        }
    }
    assert_non_null(refused);
    assert_int_equal(refused->closed_with, MASQUE_H3_REQUEST_CANCELLED);
    assert_int_equal(refused->status, 429);
    assert_int_equal(masque_quic_request_status(clients[refused == &clients[0] ? 1 : 0].req), 200);
    stop_client(&clients[0]);
    stop_proxy();
    conn_max_requests = 0;
}

static int client_2_closed(size_t n)
{
    (void)n;
    return clients[2].closed;
}

static int proxy_holds_one_request(size_t n)
{
    (void)n;
    return masque_quic_proxy_requests(proxy) == 1;
}

static int client_3_ready(size_t n)
{
    (void)n;
    return clients[3].ready;
}

static void test_e2e_requests_per_proxy_are_limited_with_503_until_one_ends(void **state)
{
    (void)state;
    proxy_max_requests = 2;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    open_more_requests(2);
    assert_true(pump(2, 5000, all_ready));
    /* A second client: the proxy holds its most requests, so 503. */
    start_logging_client(&clients[2], NULL, 0);
    assert_true(pump(3, 5000, client_2_closed));
    assert_false(clients[2].ready);
    assert_non_null(strstr(last_log, "status 503"));
    /* One request of the first client ends; the second client's next request gets through. */
    assert_int_equal(masque_quic_request_cancel(clients[1].req, MASQUE_H3_REQUEST_CANCELLED), 0);
    assert_true(pump(3, 5000, proxy_holds_one_request));
    memset(&clients[3], 0, sizeof(clients[3]));
    assert_non_null(masque_quic_request_open(clients[2].conn, &clients[3]));
    assert_true(pump(3, 5000, client_3_ready));
    assert_int_equal(masque_quic_proxy_requests(proxy), 2);
    stop_client(&clients[2]);
    stop_client(&clients[0]);
    stop_proxy();
    proxy_max_requests = 0;
}

/* Moves client cl onto socket fd (bound already), as after a network change (RFC 9000 §9): the
 * socket is connected to the proxy, the connection migrates to it, the old socket closes. */
static void move_client(client *cl, int fd)
{
    struct sockaddr_storage ss;
    struct sockaddr_storage local;
    socklen_t sl = 0;
    socklen_t ll = sizeof(local);
    assert_int_equal(masque_address_to_sockaddr(&proxy_addr, &ss, &sl), MASQUE_OK);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&local, &ll), 0);
    assert_int_equal(masque_quic_migrate(cl->conn, fd, (struct sockaddr *)&local, ll), 0);
    (void)close(cl->fd);
    cl->fd = fd;
}

/* Both directions of client 0's tunnel work after it moved, through its public address: a
 * datagram to the peer (socket `peer` at peer_addr), and one from the peer back. */
static void moved_tunnel_works(int peer, const masque_address *peer_addr)
{
    masque_address from;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    uint8_t back[16];
    client_send(&clients[0], peer_addr, (const uint8_t *)"moved", 5);
    assert_int_equal(peer_recv_from(peer, &from, back, sizeof(back), 5000), 5);
    assert_memory_equal(back, "moved", 5);
    assert_true(masque_address_equal(&from, &clients[0].pub));
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &ss, &sl), MASQUE_OK);
    clients[0].got = 0;
    assert_int_equal(sendto(peer, "after", 5, 0, (struct sockaddr *)&ss, sl), 5);
    assert_true(pump(1, 5000, all_got));
    assert_int_equal(clients[0].last_len, 5);
    assert_memory_equal(clients[0].last, "after", 5);
    assert_false(clients[0].closed);
}

/* RFC 9000 §5.2: a short-header packet goes to the connection its Destination Connection ID
 * names, not to the client the proxy last saw at its source address. Client B dies without a
 * word (the proxy keeps it, filed under its address, until its idle timeout); client A then
 * moves onto that very address and port, as when a NAT hands a gone host's mapping to another.
 * A's packets from there are A's, and its tunnel keeps working both ways. */
static void test_e2e_a_client_that_moves_onto_a_gone_clients_address_keeps_its_tunnel(void **state)
{
    masque_address peer_addr;
    struct sockaddr_storage gone_at;
    socklen_t gl = sizeof(gone_at);
    int peer;
    int fd;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    start_client(&clients[1], "127.0.0.1");
    assert_true(pump(2, 5000, all_ready));
    peer = bound_socket("127.0.0.1", &peer_addr);

    /* B (clients[1]) is freed without a CONNECTION_CLOSE, and its port comes free. */
    assert_int_equal(getsockname(clients[1].fd, (struct sockaddr *)&gone_at, &gl), 0);
    stop_client(&clients[1]);
    assert_int_equal(masque_quic_proxy_clients(proxy), 2);

    /* A (clients[0]) moves onto B's address and port. */
    fd = socket(gone_at.ss_family, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&gone_at, gl), 0);
    move_client(&clients[0], fd);
    moved_tunnel_works(peer, &peer_addr);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

/* A client that is gone without a word is kept, filed under its address, until its idle
 * timeout; a new client on that very address and port (the program started again on a fixed
 * port, or a NAT that gave the gone host's mapping to another) is a new connection all the same:
 * its Initial is not taken for the gone one's (whose handshake is over: RFC 9001 §4.9.1), it
 * gets its tunnel at once, and the gone one's slot stays until its idle timeout. */
static void test_e2e_a_new_client_on_a_gone_clients_address_and_port_is_served(void **state)
{
    struct sockaddr_storage gone_at;
    socklen_t gl = sizeof(gone_at);
    masque_address peer_addr;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int peer;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_int_equal(getsockname(clients[0].fd, (struct sockaddr *)&gone_at, &gl), 0);
    stop_client(&clients[0]); /* no CONNECTION_CLOSE: the proxy keeps it */

    client_bind_at = &gone_at;
    client_bind_len = gl;
    start_client(&clients[0], "127.0.0.1");
    client_bind_at = NULL;
    assert_true(pump(1, 5000, all_ready));
    assert_int_equal(masque_quic_proxy_clients(proxy), 2);
    peer = bound_socket("127.0.0.1", &peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &ss, &sl), MASQUE_OK);
    clients[0].got = 0;
    assert_int_equal(sendto(peer, "new one", 7, 0, (struct sockaddr *)&ss, sl), 7);
    assert_true(pump(1, 5000, all_got));
    assert_memory_equal(clients[0].last, "new one", 7);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

/* A tap between a client and the proxy: what the client sends to tap_fd leaves tap_out_fd
 * (connected to the proxy), and what comes back goes to the client; it counts the client's
 * packets. pump() runs it between the proxy and the clients (after_step). */
static int tap_fd = -1;
static int tap_out_fd = -1;
static struct sockaddr_storage tap_client;
static socklen_t tap_client_len;
static size_t tap_from_client;

static void tap_step(void)
{
    static uint8_t buf[BIG];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t r;
    while ((r = recvfrom(tap_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) >=
           0) {
        tap_client = from;
        tap_client_len = fl;
        tap_from_client++;
        assert_int_equal(send(tap_out_fd, buf, (size_t)r, 0), r);
        fl = sizeof(from);
    }
    while ((r = recv(tap_out_fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
        assert_int_equal(
            sendto(tap_fd, buf, (size_t)r, 0, (struct sockaddr *)&tap_client, tap_client_len), r);
    }
}

/* clients[0], its packets counted by the tap, with its Bind ready. */
static void start_tapped_client(void)
{
    masque_address real_proxy = proxy_addr;
    masque_address tap_addr;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    tap_fd = bound_socket("127.0.0.1", &tap_addr);
    tap_out_fd = bound_socket("127.0.0.1", &tap_addr);
    assert_int_equal(masque_address_to_sockaddr(&real_proxy, &ss, &sl), MASQUE_OK);
    assert_int_equal(connect(tap_out_fd, (struct sockaddr *)&ss, sl), 0);
    sl = sizeof(ss);
    assert_int_equal(getsockname(tap_fd, (struct sockaddr *)&ss, &sl), 0);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, sl, &tap_addr),
                     MASQUE_OK);
    proxy_addr = tap_addr; /* where the client sends */
    start_client(&clients[0], "127.0.0.1");
    proxy_addr = real_proxy;
    after_step = tap_step;
    assert_true(pump(1, 15000, all_ready));
}

static void stop_tap(void)
{
    after_step = NULL;
    (void)close(tap_fd);
    (void)close(tap_out_fd);
    tap_fd = -1;
    tap_out_fd = -1;
}

/* Datagrams the peer sends through clients[0]'s tunnel, one at a time, each echoed at once by
 * the client (in on_packet()) and awaited at the peer; returns the client's packets while the
 * last `counted` of them went back and forth. */
static size_t client_packets_for_echoes(size_t warm_up, size_t counted)
{
    masque_address peer_addr;
    int peer = bound_socket("127.0.0.1", &peer_addr);
    uint8_t buf[64];
    size_t k;
    clients[0].echo = 1;
    for (k = 0; k < warm_up + counted; k++) {
        uint8_t msg[2] = {'#', (uint8_t)k};
        if (k == warm_up) {
            tap_from_client = 0;
        }
        peer_send(peer, &clients[0].pub, msg, sizeof(msg));
        assert_int_equal(peer_recv(peer, 1, buf, sizeof(buf), 15000), (ssize_t)sizeof(msg));
        assert_int_equal(buf[1], (uint8_t)k);
    }
    clients[0].echo = 0;
    (void)close(peer);
    return tap_from_client;
}

static void test_e2e_a_client_acknowledges_in_its_reply(void **state)
{
    /* RFC 9000 §13.2.1: a client acknowledges at once (max_ack_delay 0,
     * MASQUE_QUIC_ACK_AT_ONCE is its default), so the echo it writes right after a datagram came
     * carries the acknowledgement: one packet each exchange. With ngtcp2's delay (an eighth of
     * the smoothed RTT) the echo left without it and an ACK-only packet followed: two. */
    size_t packets;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_tapped_client();
    packets = client_packets_for_echoes(5, 40);
    /* 40 echoes, and room for what a loaded machine may add (a PTO's probe when the proxy's
     * ACK is late, say), well short of the 80 a delayed ACK gives */
    assert_in_range(packets, 40, 56);
    stop_tap();
}

static void test_e2e_settings_a_connection_cannot_use_are_refused(void **state)
{
    masque_quic_config cfg;
    masque_quic_proxy_config pcfg;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    masque_address a;
    int fd = bound_socket("127.0.0.1", &a);
    (void)state;
    assert_int_equal(masque_address_to_sockaddr(&a, &ss, &sl), MASQUE_OK);
    memset(&cfg, 0, sizeof(cfg));
    cfg.authority = client_host;
    cfg.uri_template = tmpl;
    cfg.ca_file = pki.ca_file;
    cfg.ack = (masque_quic_ack)(MASQUE_QUIC_ACK_DELAYED + 1);
    assert_null(masque_quic_client_new(&cfg, fd, (struct sockaddr *)&ss, sl, (struct sockaddr *)&ss,
                                       sl, &hooks, NULL));
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.conn.uri_template = tmpl;
    pcfg.conn.cert_file = pki.cert_file;
    pcfg.conn.key_file = pki.key_file;
    pcfg.relay_bind = a;
    pcfg.conn.ack = (masque_quic_ack)(MASQUE_QUIC_ACK_DELAYED + 1);
    assert_null(masque_quic_proxy_new(&pcfg, fd));
    /* A URI template no proxy could match its own requests against (RFC 9298 §2): refused at
     * once, not answered 400 at every request. */
    cfg.ack = MASQUE_QUIC_ACK_DEFAULT;
    pcfg.conn.ack = MASQUE_QUIC_ACK_DEFAULT;
    cfg.uri_template = "https://localhost/{target_host}.{target_port}/";
    pcfg.conn.uri_template = cfg.uri_template;
    assert_null(masque_quic_client_new(&cfg, fd, (struct sockaddr *)&ss, sl, (struct sockaddr *)&ss,
                                       sl, &hooks, NULL));
    assert_null(masque_quic_proxy_new(&pcfg, fd));
    pcfg.conn.uri_template = tmpl;
    masque_quic_proxy_free(masque_quic_proxy_new(&pcfg, fd)); /* the same, with the template */
    /* A certificate without its key cannot be presented: refused (GnuTLS was handed a NULL key
     * path, and the process crashed), by the credentials, a proxy and a client alike. */
    assert_null(masque_quic_credentials_new(pki.cert_file, NULL, NULL));
    pcfg.conn.key_file = NULL;
    assert_null(masque_quic_proxy_new(&pcfg, fd));
    cfg.uri_template = tmpl;
    cfg.cert_file = pki.client_cert_file;
    assert_null(masque_quic_client_new(&cfg, fd, (struct sockaddr *)&ss, sl, (struct sockaddr *)&ss,
                                       sl, &hooks, NULL));
    (void)close(fd);
}

/* RFC 9000 §9: the client moves to a new socket (a new port, as after a network change); the
 * proxy finds it by connection ID, and its tunnel keeps its public address. */
static void test_e2e_client_address_change_keeps_the_tunnel(void **state)
{
    masque_address peer_addr;
    masque_address moved;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int peer;
    (void)state;
    peer = one_client_and_a_peer(&peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &ss, &sl), MASQUE_OK);
    clients[0].got = 0;
    assert_int_equal(sendto(peer, "before", 6, 0, (struct sockaddr *)&ss, sl), 6);
    assert_true(pump(1, 5000, all_got));

    /* The client's old socket goes away; a new one, on another port, takes over. */
    move_client(&clients[0], bound_socket("127.0.0.1", &moved));

    /* Both directions still work, through the same public address and the same client slot. */
    moved_tunnel_works(peer, &peer_addr);
    assert_int_equal(masque_quic_proxy_clients(proxy), 1);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static int client_1_got_all(size_t n)
{
    (void)n;
    return clients[1].got >= 200;
}

/*
 * Issue 13, item 12: a flood toward one client that stopped reading must not cost another
 * client its datagrams. The flood is dropped at the flooded client's queue (per client) and
 * its relay socket is read within a per-step budget, so the other request keeps its share.
 */
static void test_e2e_a_flood_toward_a_stalled_client_costs_the_others_nothing(void **state)
{
    static uint8_t big[1200];
    masque_address flood_addr;
    masque_address peer_addr;
    struct sockaddr_storage to_a;
    struct sockaddr_storage to_b;
    socklen_t la = 0;
    socklen_t lb = 0;
    int flood;
    int peer;
    int i;
    size_t flooded = 0;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    start_client(&clients[1], "127.0.0.1");
    assert_true(pump(2, 5000, all_ready));
    flood = bound_socket("127.0.0.1", &flood_addr);
    peer = bound_socket("127.0.0.1", &peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &to_a, &la), MASQUE_OK);
    assert_int_equal(masque_address_to_sockaddr(&clients[1].pub, &to_b, &lb), MASQUE_OK);
    memset(big, 0xF1, sizeof(big));
    clients[0].paused = 1; /* A stops reading: its socket fills, its acknowledgements stop */
    clients[1].got = 0;
    for (i = 0; i < 200; i++) {
        char msg[16];
        int k;
        for (k = 0; k < 100; k++) { /* 100 datagrams of 1200 bytes toward A ... */
            flooded += sendto(flood, big, sizeof(big), 0, (struct sockaddr *)&to_a, la) > 0;
        }
        (void)snprintf(msg, sizeof(msg), "b-%d", i); /* ... for each one toward B, */
        assert_true(sendto(peer, msg, strlen(msg), 0, (struct sockaddr *)&to_b, lb) > 0);
        if (i % 10 == 9) {
            (void)pump(2, 1, NULL); /* which comes in bursts of ten */
        }
    }
    assert_true(pump(2, 5000, client_1_got_all));
    print_message("flood: %zu datagrams toward the stalled client, %d of 200 reached the other\n",
                  flooded, clients[1].got);
    assert_int_equal(clients[1].got, 200);
    assert_false(clients[1].closed);
    (void)close(flood);
    (void)close(peer);
    stop_client(&clients[1]);
    stop_client(&clients[0]);
    stop_proxy();
}

/*
 * DATAGRAM capsules (the proxy offers no HTTP/3 datagrams) toward a client that stopped
 * reading: its acknowledgements stop, congestion control holds the stream back, and the
 * capsules wait in the request's buffer (1 MiB). One that comes when those have waited longer
 * than datagram_max_wait_ms (300 ms here) is dropped and counted: the first drop comes after
 * a few dozen datagrams (one each 5 ms, about 60 in 300 ms, and what the congestion window
 * took), where the buffer's bytes alone would take a thousand.
 */
static void test_e2e_a_capsule_that_would_wait_too_long_is_dropped(void **state)
{
    static uint8_t big[1000];
    masque_address peer_addr;
    uint64_t end;
    uint64_t last_sent = 0;
    int sent = 0;
    int peer;
    (void)state;
    proxy_force_capsules = 1;
    proxy_max_wait_ms = 300;
    peer = one_tunnel(0, &peer_addr);
    memset(big, 0xC4, sizeof(big));
    clients[0].paused = 1;
    end = ms() + 60000;
    while (masque_quic_proxy_datagrams_dropped(proxy) == 0 && ms() < end && sent < 2000) {
        if (ms() >= last_sent + 5) {
            peer_send(peer, &clients[0].pub, big, sizeof(big));
            last_sent = ms();
            sent++;
        }
        (void)pump(1, 1, NULL);
    }
    print_message("the first capsule dropped after %d datagrams\n", sent);
    assert_true(masque_quic_proxy_datagrams_dropped(proxy) > 0);
    assert_true(sent < 400); /* for the wait, not for room */
    /* The client reads again: the tunnel goes on. */
    clients[0].paused = 0;
    clients[0].got = 0;
    assert_true(pump(1, 20000, all_got));
    assert_false(clients[0].closed);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

/* A path that loses everything toward client 0 (pump() runs it through after_step): what comes
 * is read and thrown away, so the client acknowledges nothing and keeps nothing for later. */
static void client0_path_lost(void)
{
    static uint8_t sink[2048];
    while (recv(clients[0].fd, sink, sizeof(sink), MSG_DONTWAIT) >= 0) {
    }
}

/*
 * The same bound on QUIC DATAGRAM frames. While nothing reaches the client, congestion control
 * holds the proxy's datagrams back, and its queue fills. A datagram held back longer than
 * datagram_max_wait_ms (300 ms here) is dropped: once the path is back, what the client gets
 * first was sent in the last moments of the outage, not at its start. (Before, the queue kept
 * the first 64 datagrams of the outage and sent them, seconds late, when the path came back.)
 * Datagram n is 200 + n bytes long, so that the lengths the client notes say which ones came.
 */
static void test_e2e_a_datagram_frame_held_back_too_long_is_dropped(void **state)
{
    static uint8_t payload[1200];
    static uint64_t sent_at[1000]; /* at most 250 in the outage and 600 after */
    masque_address peer_addr;
    uint64_t outage_end;
    uint64_t end;
    size_t sent = 0;
    int peer;
    int i;
    (void)state;
    proxy_max_wait_ms = 300;
    peer = one_tunnel(1, &peer_addr);
    memset(payload, 0xD7, sizeof(payload));
    clients[0].paused = 1;
    after_step = client0_path_lost;
    outage_end = ms() + 2500;
    while (ms() < outage_end) {
        if (sent == 0 || ms() >= sent_at[sent - 1] + 10) {
            sent_at[sent] = ms();
            peer_send(peer, &clients[0].pub, payload, 200 + sent);
            sent++;
        }
        (void)pump(1, 1, NULL);
    }
    assert_true(masque_quic_proxy_datagrams_dropped(proxy) > 0);
    /* The path is back; the peer goes on sending until a few datagrams came through: the
     * proxy's next probe (its timer backed off through the outage, seconds on a slow run)
     * finds the client, and what waits by then is fresh. */
    after_step = NULL;
    clients[0].paused = 0;
    clients[0].got = 0;
    end = ms() + 30000;
    while (clients[0].got < 8 && ms() < end) {
        if (ms() >= sent_at[sent - 1] + 50 && sent < sizeof(sent_at) / sizeof(sent_at[0])) {
            sent_at[sent] = ms();
            peer_send(peer, &clients[0].pub, payload, 200 + sent);
            sent++;
        }
        (void)pump(1, 1, NULL);
    }
    assert_true(clients[0].got >= 8);
    assert_false(clients[0].closed);
    for (i = 0; i < clients[0].got && i < 64; i++) {
        size_t n = clients[0].lens[i] - 200;
        assert_true(n < sent);
        /* Three times the bound: room for a step between the proxy's drops on a slow run. */
        if (sent_at[n] + 900 < outage_end) {
            print_message("datagram %zu, sent %llu ms before the path came back, came\n", n,
                          (unsigned long long)(outage_end - sent_at[n]));
            fail();
        }
    }
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static int first_still_here(size_t n)
{
    (void)n;
    return clients[0].last_len == 10 && memcmp(clients[0].last, "still here", 10) == 0;
}

/*
 * UDP-16 over capsules on HTTP/3: a client that stops reading while 12 MB come for it. The
 * proxy holds at most its stream buffer and drops the DATAGRAM capsules that do not fit (an
 * HTTP Datagram may be lost, RFC 9297 §2), as its DATAGRAM frame queue would; the tunnel, and
 * the public address its peers know, stay. Before, the stream was aborted.
 */
static void
test_e2e_UDP_16_datagrams_a_client_does_not_take_are_dropped_not_its_tunnel(void **state)
{
    static uint8_t big[1200];
    masque_address peer_addr;
    struct sockaddr_storage to;
    socklen_t tl = 0;
    uint8_t back[64];
    int peer;
    int i;
    (void)state;
    proxy_stream_buffer = 16384;
    proxy_force_capsules = 1;
    peer = one_client_and_a_peer(&peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &to, &tl), MASQUE_OK);
    memset(big, 0xF1, sizeof(big));
    clients[0].paused = 1; /* it reads nothing and acknowledges nothing */
    for (i = 0; i < 10000; i++) {
        (void)sendto(peer, big, sizeof(big), 0, (struct sockaddr *)&to, tl);
        if (i % 16 == 15) {
            (void)pump(1, 1, NULL);
        }
    }
    /* What did not fit was counted, with what no DATAGRAM frame could carry. */
    assert_true(masque_quic_proxy_datagrams_dropped(proxy) > 0);
    /* It reads again. What was held comes first; a datagram sent while the buffer is still
     * full may be dropped too, so the peer says it again until it is through. */
    clients[0].paused = 0;
    for (i = 0; i < 100 && !first_still_here(1) && !clients[0].closed; i++) {
        peer_send(peer, &clients[0].pub, (const uint8_t *)"still here", 10);
        (void)pump(1, 100, first_still_here);
    }
    assert_true(first_still_here(1));
    assert_false(clients[0].closed);
    client_send(&clients[0], &peer_addr, (const uint8_t *)"answer", 6);
    assert_int_equal(peer_recv(peer, 1, back, sizeof(back), 5000), 6);
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

static int refused_or_ready_any(size_t n)
{
    (void)n;
    return clients[0].closed || clients[0].ready;
}

static int logged_status_or_ready(size_t n)
{
    return logged_status(n) || clients[0].ready;
}

/* One client with `token` (or none) against a proxy that wants a bearer token: 1 when the
 * request was accepted, 0 when it was refused with 407. */
static int bind_with_token(const char *token)
{
    int accepted;
    client_token = token;
    start_logging_client(&clients[0], NULL, 0);
    client_token = NULL;
    assert_true(pump(1, 5000, logged_status_or_ready));
    accepted = clients[0].ready;
    if (!accepted) {
        /* RFC 9110 §15.5.8 and RFC 9209: 407, and why; no tunnel, so nothing is relayed. */
        assert_non_null(strstr(last_log, "status 407"));
        assert_non_null(strstr(last_log, "Proxy-Status: masque-proxy; error=http_request_denied"));
        assert_true(pump(1, 5000, client_0_closed));
        assert_int_equal(clients[0].status, 407); /* what a client needs not to ask again */
    } else {
        /* Accepted: a peer's datagram is relayed to the client. */
        masque_address peer_addr;
        int peer = bound_socket("127.0.0.1", &peer_addr);
        assert_true(pump(1, 5000, all_ready));
        clients[0].got = 0;
        peer_send(peer, &clients[0].pub, (const uint8_t *)"authorized", 10);
        assert_true(pump(1, 5000, all_got));
        (void)close(peer);
    }
    stop_client(&clients[0]);
    return accepted;
}

/* Limits a proxy sizes its tables by are refused beyond what those sizes can hold (a wrapped
 * size once turned the table set-up into an endless loop), and a limit on stateless answers
 * beyond its bound; within, the proxy starts. */
static void test_e2e_a_proxy_refuses_limits_its_tables_cannot_hold(void **state)
{
    static const size_t max_clients[] = {
        (SIZE_MAX / 2) + 1, 1000001, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
    static const size_t max_requests[] = {0, 0, 4000001, 4000, 4000, 4000, 0, 0, 0};
    static const uint32_t stateless_per_s[] = {0, 0, 0, 0, 1000001, 1000000, 0, 0, 0};
    /* workers sharing the port, and which one this is (masque_quic_config) */
    static const unsigned workers[] = {0, 0, 0, 0, 0, 0, 4, 256, 255};
    static const unsigned worker[] = {0, 0, 0, 0, 0, 0, 4, 0, 254};
    static const int starts[] = {0, 0, 0, 1, 0, 1, 0, 0, 1};
    masque_quic_proxy_config cfg;
    masque_address at;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(max_clients) / sizeof(max_clients[0]); i++) {
        int fd = bound_socket("127.0.0.1", &at);
        masque_quic_proxy *p;
        memset(&cfg, 0, sizeof(cfg));
        cfg.conn.uri_template = tmpl;
        cfg.conn.cert_file = pki.cert_file;
        cfg.conn.key_file = pki.key_file;
        cfg.relay_bind = at;
        cfg.max_clients = max_clients[i];
        cfg.max_requests = max_requests[i];
        cfg.stateless_per_s = stateless_per_s[i];
        cfg.conn.workers = workers[i];
        cfg.conn.worker = worker[i];
        p = masque_quic_proxy_new(&cfg, fd);
        assert_int_equal(p != NULL, starts[i]);
        masque_quic_proxy_free(p);
        (void)close(fd);
    }
}

/* A UDP socket in a SO_REUSEPORT group on 127.0.0.1 at `port` (0: any); its port in *port. */
static int group_socket(uint16_t *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int on = 1;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)), 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(*port);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* masque_quic_steer_by_connection_id(): a group of three sockets hands a short-header packet,
 * and a long-header one that names an ID of the proxy's length, to the socket that the ID's
 * first byte names (modulo three), whatever the sender's address; a count out of range is
 * refused. */
static void test_e2e_a_socket_group_steers_by_connection_id(void **state)
{
    static const struct {
        uint8_t first_byte; /* of the packet */
        uint8_t id_byte;    /* the ID's first */
        int expected;       /* the socket, by its place in the group */
    } cases[] = {{0x40, 0x00, 0}, {0x41, 0x01, 1}, {0x5F, 0x02, 2}, {0x40, 0xFE, 2},
                 {0xC0, 0x04, 1}, {0xE3, 0x06, 0}, {0xD0, 0xFF, 0}};
    uint16_t port = 0;
    int fds[3];
    int sender;
    size_t i;
    (void)state;
    for (i = 0; i < 3; i++) {
        fds[i] = group_socket(&port);
    }
    errno = 0;
    assert_int_equal(masque_quic_steer_by_connection_id(fds[0], 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(masque_quic_steer_by_connection_id(fds[0], MASQUE_QUIC_WORKERS_MAX + 1), -1);
    assert_int_equal(masque_quic_steer_by_connection_id(fds[0], 3), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t pkt[64];
        uint8_t got[64];
        struct sockaddr_in to;
        size_t k;
        masque_address from;
        memset(pkt, 0xAB, sizeof(pkt));
        pkt[0] = cases[i].first_byte;
        if ((pkt[0] & 0x80) == 0) {
            pkt[1] = cases[i].id_byte; /* RFC 9000 §17.3: the ID from byte 1 */
        } else {
            pkt[5] = MASQUE_QUIC_CONNECTION_ID_LEN; /* §17.2: its length at 5, the ID from 6 */
            pkt[6] = cases[i].id_byte;
        }
        sender = bound_socket("127.0.0.1", &from); /* each from another port */
        memset(&to, 0, sizeof(to));
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(port);
        assert_int_equal(sendto(sender, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)),
                         (ssize_t)sizeof(pkt));
        {
            struct pollfd pfd = {fds[cases[i].expected], POLLIN, 0};
            assert_int_equal(poll(&pfd, 1, 15000), 1); /* loopback: at once, but bounded */
        }
        assert_int_equal(recv(fds[cases[i].expected], got, sizeof(got), MSG_DONTWAIT),
                         (ssize_t)sizeof(pkt));
        for (k = 0; k < 3; k++) {
            assert_true(recv(fds[k], got, sizeof(got), MSG_DONTWAIT) < 0); /* nowhere else */
        }
        (void)close(sender);
    }
    for (i = 0; i < 3; i++) {
        (void)close(fds[i]);
    }
}

static void test_e2e_requests_without_a_valid_bearer_token_get_407(void **state)
{
    char path[] = "/tmp/masque-tokens.XXXXXX";
    int fd;
    size_t i;
    (void)state;
    write_token_file(path, "# who may bind\n\ns3cret-one\nsecond.token\n");
    proxy_token_file = path;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_token_file = NULL;
    assert_false(bind_with_token(NULL));          /* no Proxy-Authorization */
    assert_false(bind_with_token("s3cret-onf"));  /* a wrong one */
    assert_false(bind_with_token("s3cret-one1")); /* a longer one */
    /* One line for each, the proxy's, with the client's address and why; the binding leaves
     * the refusals its host decided to the host (there were two lines each). */
    assert_int_equal(refusal_lines, 3);
    assert_int_equal(binding_refusals, 0);
    assert_non_null(strstr(refusal_line, "refused 127.0.0.1:"));
    assert_non_null(strstr(refusal_line, "no valid bearer token (407)"));
    assert_true(bind_with_token("s3cret-one"));
    assert_true(bind_with_token("second.token"));
    /* The file changes and the proxy reloads: a removed token is refused from then on. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "second.token\n", 13), 13);
    (void)close(fd);
    assert_int_equal(masque_quic_proxy_reload(proxy), 0);
    assert_false(bind_with_token("s3cret-one"));
    assert_true(bind_with_token("second.token"));
    /* More tokens than the proxy holds (64): the file is refused whole, not cut after the
     * 64th, and the tokens in use stay. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    for (i = 0; i < 65; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "token-%02d\n", (int)i);
        assert_int_equal(write(fd, line, (size_t)n), n);
    }
    (void)close(fd);
    assert_int_equal(masque_quic_proxy_reload(proxy), -1);
    assert_non_null(strstr(proxy_last_log, "more than 64 tokens")); /* the operator is told */
    assert_true(bind_with_token("second.token"));
    assert_false(bind_with_token("token-00"));
    /* Spaces and tabs around a token are an editor's leftovers, not part of it. */
    rewrite_file(path, "  third+token== \t\r\n");
    assert_int_equal(masque_quic_proxy_reload(proxy), 0);
    assert_true(bind_with_token("third+token=="));
    assert_false(bind_with_token("second.token"));
    /* A line no client could present (RFC 6750 §2.1: a token68) refuses the file, said: every
     * client would be answered 407 with no word why. */
    rewrite_file(path, "fourth-token\nmy token\n");
    assert_int_equal(masque_quic_proxy_reload(proxy), -1);
    assert_non_null(strstr(proxy_last_log, "not a bearer token"));
    assert_true(bind_with_token("third+token=="));
    assert_false(bind_with_token("fourth-token"));
    /* A file that is gone: refused with the system's reason (it said "cannot be read"), and
     * the tokens in use stay. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(masque_quic_proxy_reload(proxy), -1);
    assert_non_null(strstr(proxy_last_log, "refused: No such file or directory"));
    assert_true(bind_with_token("third+token=="));
    stop_proxy();
}

/* One client with this certificate (or none) against a proxy that wants a verified one. */
static int bind_with_certificate(const char *cert, const char *key)
{
    int accepted;
    client_cert = cert;
    client_key = key;
    start_client(&clients[0], "127.0.0.1");
    client_cert = NULL;
    client_key = NULL;
    assert_true(pump(1, 5000, refused_or_ready_any));
    accepted = clients[0].ready;
    stop_client(&clients[0]);
    return accepted;
}

/* Mutual TLS: a client certificate from the proxy's client CA lets a client bind; none, or
 * one from another CA, gets 407 (and no token stands in for it here). */
static void test_e2e_client_certificates_from_the_client_ca_may_bind(void **state)
{
    (void)state;
    proxy_client_ca = pki.ca_file;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_client_ca = NULL;
    assert_true(bind_with_certificate(pki.client_cert_file, pki.client_key_file));
    assert_false(bind_with_certificate(NULL, NULL));
    assert_false(bind_with_certificate(pki.other_client_cert_file, pki.other_client_key_file));
    stop_proxy();
}

static int first_client_has_a_ticket(size_t n)
{
    (void)n;
    return masque_quic_ticket(clients[0].conn, NULL, 0) > 0;
}

/* One client with this certificate (or none) offering `ticket` (or none): 1 when it may bind,
 * with whether its session was resumed in *resumed and its newest ticket in `out`. */
static int bind_resuming(const char *cert, const uint8_t *ticket, size_t ticket_len, int *resumed,
                         uint8_t *out, size_t cap, size_t *out_len)
{
    int accepted;
    client_cert = cert;
    client_key = cert != NULL ? pki.client_key_file : NULL;
    client_ticket = ticket;
    client_ticket_len = ticket_len;
    start_client(&clients[0], "127.0.0.1");
    client_cert = NULL;
    client_key = NULL;
    client_ticket = NULL;
    client_ticket_len = 0;
    assert_true(pump(1, 5000, refused_or_ready_any));
    accepted = clients[0].ready;
    *resumed = masque_quic_resumed(clients[0].conn);
    assert_true(pump(1, 5000, first_client_has_a_ticket));
    *out_len = masque_quic_ticket(clients[0].conn, out, cap);
    assert_true(*out_len <= cap);
    stop_client(&clients[0]);
    return accepted;
}

static const masque_quic_usage *usage_of(const char *identity);

/* Mutual TLS and resumption (RFC 8446 §2.2): a session resumed with a ticket is the identity
 * its full handshake verified, with no certificate sent again; a client that had none resumes
 * as nobody, and is refused as before. A reload whose client CA differs ends resumption: a
 * resumed session is not checked against the new CA, so its tickets must not resume. */
static void test_e2e_a_resumed_session_is_who_its_certificate_said(void **state)
{
    static uint8_t ticket[16384];
    static uint8_t next[16384];
    size_t len;
    size_t next_len;
    int resumed;
    uint64_t handshakes_resumed = 0;
    const masque_quic_usage *u;
    char ca_path[] = "/tmp/masque-client-ca.XXXXXX";
    (void)state;
    copy_file(ca_path, pki.ca_file);
    proxy_client_ca = ca_path;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_client_ca = NULL;
    assert_true(
        bind_resuming(pki.client_cert_file, NULL, 0, &resumed, ticket, sizeof(ticket), &len));
    assert_false(resumed);
    assert_true(bind_resuming(NULL, ticket, len, &resumed, next, sizeof(next), &next_len));
    assert_true(resumed);
    u = usage_of("certificate client-1");
    assert_non_null(u);
    assert_int_equal(u->refused, 0);
    /* No certificate at first: refused, resumed or not. */
    assert_false(bind_resuming(NULL, NULL, 0, &resumed, ticket, sizeof(ticket), &len));
    assert_false(bind_resuming(NULL, ticket, len, &resumed, ticket, sizeof(ticket), &len));
    assert_true(resumed);
    /* Reloaded with another client CA: the certificate's ticket resumes no more (and the
     * certificate, from a CA the proxy no longer trusts, is refused). */
    copy_file(ca_path, pki.other_ca_file);
    assert_int_equal(masque_quic_proxy_reload(proxy), 0);
    assert_false(bind_resuming(NULL, next, next_len, &resumed, ticket, sizeof(ticket), &len));
    assert_false(resumed);
    /* Five handshakes, two of them resumed: the operator's counts (SIGUSR1). */
    assert_int_equal(masque_quic_proxy_handshakes(proxy, &handshakes_resumed), 5);
    assert_int_equal(handshakes_resumed, 2);
    stop_proxy();
    (void)unlink(ca_path);
}

static const masque_quic_usage *usage_of(const char *identity)
{
    static masque_quic_usage u;
    size_t i;
    for (i = 0; masque_quic_proxy_usage(proxy, i, &u) == 0; i++) {
        if (strcmp(u.identity, identity) == 0) {
            return &u;
        }
    }
    return NULL;
}

static uint64_t quota_ids[3];

/* No registration of A's is pending any more: each was acknowledged or refused. */
static int registrations_settled(size_t n)
{
    size_t i;
    (void)n;
    for (i = 0; i < 3; i++) {
        masque_context_info info;
        if (masque_session_context_get(masque_quic_request_session(clients[0].req), quota_ids[i],
                                       &info) &&
            info.state == MASQUE_CONTEXT_PENDING) {
            return 0;
        }
    }
    return 1;
}

static int b_got_all_50(size_t n)
{
    (void)n;
    return clients[1].got >= 50;
}

static int client_2_settled(size_t n)
{
    (void)n;
    return clients[2].closed || clients[2].ready;
}

/* Quotas per client identity (here: two tokens): the client over its quota has its datagrams
 * dropped and counted, its extra registrations refused with COMPRESSION_CLOSE and its extra
 * request answered 429; the other client is served in full all along. */
static void test_e2e_quotas_bound_one_client_and_leave_the_others_alone(void **state)
{
    static uint8_t small[64];
    char path[] = "/tmp/masque-quota-tokens.XXXXXX";
    masque_address peer_addr;
    masque_address t;
    masque_context_info info;
    struct sockaddr_storage to_a;
    struct sockaddr_storage to_b;
    socklen_t la = 0;
    socklen_t lb = 0;
    uint64_t *ids = quota_ids;
    int active = 0;
    int peer;
    int i;
    const masque_quic_usage *ua;
    (void)state;
    write_token_file(path, "tok-a\ntok-b\n");
    proxy_token_file = path;
    proxy_quota_requests = 1;
    proxy_quota_datagrams = 100;
    proxy_max_contexts = 3;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_token_file = NULL;
    proxy_quota_requests = 0;
    proxy_quota_datagrams = 0;
    proxy_max_contexts = 0;
    client_token = "tok-a";
    start_client(&clients[0], "127.0.0.1");
    client_token = "tok-b";
    start_client(&clients[1], "127.0.0.1");
    client_token = NULL;
    assert_true(pump(2, 5000, all_ready));
    /* Registrations over the bound: COMPRESSION_CLOSE (-10 §9), the first ones stay. */
    for (i = 0; i < 3; i++) {
        masque_address_set_v4(&t, (const uint8_t *)"\x7f\x00\x00\x01", (uint16_t)(100 + i));
        assert_int_equal(masque_session_open_context(masque_quic_request_session(clients[0].req),
                                                     &t, ms(), &ids[i]),
                         MASQUE_OK);
    }
    assert_int_equal(masque_adapter_flush(masque_quic_request_adapter(clients[0].req)), MASQUE_OK);
    assert_true(pump(2, 5000, registrations_settled));
    for (i = 0; i < 3; i++) {
        active += masque_session_context_get(masque_quic_request_session(clients[0].req), ids[i],
                                             &info) &&
                  info.state == MASQUE_CONTEXT_ACTIVE;
    }
    assert_true(active >= 1 && active < 3);
    /* A flood toward A, a trickle toward B. */
    peer = bound_socket("127.0.0.1", &peer_addr);
    assert_int_equal(masque_address_to_sockaddr(&clients[0].pub, &to_a, &la), MASQUE_OK);
    assert_int_equal(masque_address_to_sockaddr(&clients[1].pub, &to_b, &lb), MASQUE_OK);
    clients[0].got = 0;
    clients[1].got = 0;
    for (i = 0; i < 50; i++) {
        int k;
        for (k = 0; k < 20; k++) {
            (void)sendto(peer, small, sizeof(small), 0, (struct sockaddr *)&to_a, la);
        }
        (void)sendto(peer, "b", 1, 0, (struct sockaddr *)&to_b, lb);
        (void)pump(2, 2, NULL);
    }
    (void)pump(2, 5000, b_got_all_50); /* bounded: the assertion below says what came */
    ua = usage_of("token #1");
    assert_non_null(ua);
    print_message("quota: A got %d of 1000 (%llu dropped), B got %d of 50\n", clients[0].got,
                  (unsigned long long)ua->dropped, clients[1].got);
    assert_true(clients[0].got < 1000 && ua->dropped > 0);
    assert_int_equal(clients[1].got, 50);
    assert_non_null(usage_of("token #2"));
    assert_true(usage_of("token #2")->dropped == 0);
    /* A second request of A's: its quota of requests is used up, 429. */
    memset(&clients[2], 0, sizeof(clients[2]));
    assert_non_null(masque_quic_request_open(clients[0].conn, &clients[2]));
    assert_true(pump(3, 5000, client_2_settled));
    assert_false(clients[2].ready);
    assert_true(usage_of("token #1")->refused == 1);
    (void)close(peer);
    stop_client(&clients[1]);
    stop_client(&clients[0]);
    stop_proxy();
    (void)unlink(path);
}

static void test_e2e_concrete_target_is_refused_with_501_not_ignored(void **state)
{
    client *cl = &clients[0];
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_logging_client(cl, "127.0.0.1", 5353); /* -10 §3: Bind with a concrete target */
    assert_true(pump(1, 5000, logged_status));
    assert_non_null(strstr(last_log, "status 501"));
    assert_false(cl->ready);
    stop_client(cl);
    stop_proxy();
}

/* One datagram on a socket no proxy serves, within a bounded wait. */
static ssize_t recv_within(int fd, uint8_t *out, size_t cap, int limit_ms)
{
    struct pollfd pfd;
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, limit_ms) != 1) {
        return -1;
    }
    return recv(fd, out, cap, MSG_DONTWAIT);
}

/* A real client's first Initial, caught on its way to a socket that does not answer. */
static ssize_t capture_initial(uint8_t *out, size_t cap)
{
    masque_address sink_addr;
    masque_address saved = proxy_addr;
    ssize_t n;
    int sink = bound_socket("127.0.0.1", &sink_addr);
    proxy_addr = sink_addr;
    start_client(&clients[0], "127.0.0.1");
    proxy_addr = saved;
    n = recv_within(sink, out, cap, 5000);
    assert_true(n >= 1200); /* RFC 9000 §14.1: padded */
    stop_client(&clients[0]);
    (void)close(sink);
    return n;
}

static void test_e2e_replayed_initials_take_no_client_slot(void **state)
{
    /* Issue "Relay hardening" 1: one captured Initial replayed from many source ports filled
     * every slot. Now each gets a Retry (RFC 9000 §8.1.2) and nothing else. */
    static uint8_t initial[1500];
    struct sockaddr_storage to;
    socklen_t tl = 0;
    int fakes[8];
    ssize_t n;
    size_t i;
    (void)state;
    n = capture_initial(initial, sizeof(initial));

    proxy_max_clients = 2;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    assert_int_equal(masque_address_to_sockaddr(&proxy_addr, &to, &tl), MASQUE_OK);
    for (i = 0; i < 8; i++) {
        masque_address from;
        fakes[i] = bound_socket("127.0.0.1", &from);
        assert_int_equal(sendto(fakes[i], initial, (size_t)n, 0, (struct sockaddr *)&to, tl), n);
    }
    for (i = 0; i < 8; i++) {
        uint8_t retry[256];
        ssize_t r = peer_recv(fakes[i], 0, retry, sizeof(retry), 5000);
        assert_true(r > 0);
        assert_int_equal(retry[0] & 0xF0u, 0xF0u); /* long header, type Retry (v1) */
        (void)close(fakes[i]);
    }
    /* Both slots are still free: two real clients get them. */
    start_client(&clients[0], "127.0.0.1");
    start_client(&clients[1], "127.0.0.1");
    assert_true(pump(2, 15000, all_ready));
    stop_client(&clients[0]);
    stop_client(&clients[1]);
    stop_proxy();
    proxy_max_clients = 0;
}

static void test_e2e_a_full_proxy_logs_one_line_for_a_burst_of_initials(void **state)
{
    /* Issue "Relay hardening": a refusal is always logged, but a flood of Initials at a full
     * proxy (or of packets the proxy cannot place) must not become a flood of log lines: one a
     * second. */
    static uint8_t initial[1500];
    struct sockaddr_storage to;
    socklen_t tl = 0;
    int fakes[8];
    ssize_t n;
    size_t i;
    uint64_t end;
    (void)state;
    n = capture_initial(initial, sizeof(initial));

    proxy_max_clients = 2;
    proxy_no_validation = 1; /* the Initials would be accepted but for the full slots */
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    start_client(&clients[1], "127.0.0.1");
    assert_true(pump(2, 15000, all_ready));
    full_refusals = 0;
    assert_int_equal(masque_address_to_sockaddr(&proxy_addr, &to, &tl), MASQUE_OK);
    for (i = 0; i < 8; i++) {
        masque_address from;
        fakes[i] = bound_socket("127.0.0.1", &from);
        assert_int_equal(sendto(fakes[i], initial, (size_t)n, 0, (struct sockaddr *)&to, tl), n);
    }
    /* Until the first refusal, then a few more steps: the eight are read together. */
    end = ms() + 10000;
    while (full_refusals == 0 && ms() < end) {
        (void)pump(2, 1, NULL);
    }
    /* Loopback queued all eight before the step that read the first. */
    assert_int_equal(full_refusals, 1);
    (void)pump(2, 200, NULL);
    assert_int_equal(full_refusals, 1);
    assert_int_equal(masque_quic_proxy_clients(proxy), 2);
    for (i = 0; i < 8; i++) {
        (void)close(fakes[i]);
    }
    stop_client(&clients[0]);
    stop_client(&clients[1]);
    stop_proxy();
    proxy_max_clients = 0;
    proxy_no_validation = 0;
}

static int got_from_three(size_t n)
{
    (void)n;
    return clients[3].got > 0 && clients[4].got > 0 && clients[5].got > 0;
}

/* Whether the clients from refused_from (of n) were refused. */
static size_t refused_from;

static int refused_since(size_t n)
{
    size_t i;
    for (i = refused_from; i < n; i++) {
        if (!clients[i].closed) {
            return 0;
        }
    }
    return 1;
}

/* The newest client is ready, and the proxy closed the connection of clients[gives_way]. (The
 * proxy logs a slot given up once a second at most.) */
static size_t gives_way;

static int newest_ready_and_one_gave_way(size_t n)
{
    return clients[n - 1].ready && masque_quic_is_closed(clients[gives_way].conn);
}

static int proxy_refused_one_for_full_slots(size_t n)
{
    (void)n;
    return full_refusals > 0;
}

/* Starts clients[i] with `token` (or none) and pumps the first i + 1 until `done`. */
static int start_and_pump(size_t i, const char *token, int (*done)(size_t n))
{
    client_token = token;
    start_client(&clients[i], "127.0.0.1");
    client_token = NULL;
    return pump(i + 1, 15000, done);
}

static void test_e2e_connections_without_a_request_give_their_slot_to_a_new_client(void **state)
{
    /* A slot is held by an accepted Bind request, not by a connection: clients refused with
     * 407 that keep their connections up (PINGs) filled every slot, and a client with a valid
     * token could not get in until they left. Now the one without a request for longest is
     * closed (CONNECTION_CLOSE, H3_NO_ERROR) to make room. A client with a tunnel is never
     * closed for a newcomer: when every slot holds one, the newcomer is refused. */
    char path[] = "/tmp/masque-tokens.XXXXXX";
    masque_address peer_addr;
    int peer;
    size_t i;
    (void)state;
    write_token_file(path, "good-token\n");
    proxy_token_file = path;
    proxy_max_clients = 3;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_token_file = NULL;
    /* Three connections, oldest first, each refused and kept up. */
    for (i = 0; i < 3; i++) {
        refused_from = i;
        assert_true(start_and_pump(i, "bad-token", refused_since));
    }
    assert_int_equal(masque_quic_proxy_clients(proxy), 3);
    /* A client with the good token gets the oldest one's slot; the two others stay. */
    slots_given_up = 0;
    gives_way = 0;
    assert_true(start_and_pump(3, "good-token", newest_ready_and_one_gave_way));
    assert_int_equal(slots_given_up, 1); /* and the operator is told */
    assert_int_equal(masque_quic_proxy_clients(proxy), 3);
    assert_false(masque_quic_is_closed(clients[1].conn));
    assert_false(masque_quic_is_closed(clients[2].conn));
    /* Two more take the two other slots, oldest first. */
    for (i = 4; i < 6; i++) {
        gives_way = i - 3;
        assert_true(start_and_pump(i, "good-token", newest_ready_and_one_gave_way));
    }
    /* Every slot holds a tunnel now: the next client is refused, and no tunnel goes. */
    full_refusals = 0;
    slots_given_up = 0;
    assert_true(start_and_pump(6, "good-token", proxy_refused_one_for_full_slots));
    assert_int_equal(slots_given_up, 0);
    assert_false(clients[6].ready);
    assert_int_equal(masque_quic_proxy_clients(proxy), 3);
    peer = bound_socket("127.0.0.1", &peer_addr);
    for (i = 3; i < 6; i++) {
        assert_false(clients[i].closed);
        clients[i].got = 0;
        peer_send(peer, &clients[i].pub, (const uint8_t *)"still here", 10);
    }
    assert_true(pump(7, 15000, got_from_three));
    (void)close(peer);
    for (i = 0; i < 7; i++) {
        stop_client(&clients[i]);
    }
    stop_proxy();
    proxy_max_clients = 0;
    (void)unlink(path);
}

#if MASQUE_E2E_H2
static int tcp_fds[2];

static int proxy_holds_two_clients(size_t n)
{
    (void)n;
    return masque_quic_proxy_clients(proxy) == 2;
}

/* Whether the proxy closed this TCP connection (end of stream, or a reset). */
static int tcp_closed_by_proxy(int fd)
{
    char b[16];
    ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int newest_ready_and_a_tcp_connection_closed(size_t n)
{
    return clients[n - 1].ready &&
           (tcp_closed_by_proxy(tcp_fds[0]) || tcp_closed_by_proxy(tcp_fds[1]));
}

static int newest_ready_and_both_tcp_connections_closed(size_t n)
{
    return clients[n - 1].ready && tcp_closed_by_proxy(tcp_fds[0]) &&
           tcp_closed_by_proxy(tcp_fds[1]);
}

static int proxy_holds_a_client(size_t n)
{
    (void)n;
    return masque_quic_proxy_clients(proxy) >= 1;
}

/* Descriptors run out (the limit of open files: relay sockets and TCP connections count):
 * accept() fails and the TCP connection stays queued, so the listening socket stays readable.
 * epoll reported it at every step, and the proxy turned in a busy loop, a core's worth, for as
 * long as descriptors were short. Now it leaves the socket alone for a while or until a client
 * leaves, says so once, and takes the connection when a descriptor is free again. */
static void test_e2e_a_proxy_out_of_descriptors_waits_to_accept_without_spinning(void **state)
{
    struct sockaddr_storage ss;
    struct rlimit had;
    struct rlimit low;
    socklen_t sl = 0;
    uint64_t steps;
    uint64_t until;
    int lowest_free;
    (void)state;
    proxy_serve_h2 = 1;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_serve_h2 = 0;
    assert_int_equal(masque_address_to_sockaddr(&proxy_tcp_addr, &ss, &sl), MASQUE_OK);
    tcp_fds[0] = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(tcp_fds[0] >= 0);
    assert_int_equal(connect(tcp_fds[0], (struct sockaddr *)&ss, sl), 0); /* queued */
    lowest_free = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(lowest_free >= 0);
    (void)close(lowest_free);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &had), 0);
    low = had;
    low.rlim_cur = (rlim_t)lowest_free; /* no new descriptor in this process */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    steps = masque_quic_proxy_steps(proxy);
    until = ms() + 500;
    while (ms() < until) {
        if (masque_quic_proxy_step(proxy, 50) != 0) {
            break;
        }
    }
    steps = masque_quic_proxy_steps(proxy) - steps;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &had), 0);
    /* Steps that wait: about ten in half a second (50 ms each, and a retry every 100 ms); a
     * busy loop takes thousands, hundreds under valgrind. */
    assert_true(steps < 100);
    assert_int_equal(accept_lines, 1);
    assert_int_equal(masque_quic_proxy_clients(proxy), 0);
    /* Another connection besides: valgrind, which keeps the limit itself, lets the kernel
     * accept the first one and then closes it. */
    tcp_fds[1] = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(tcp_fds[1] >= 0);
    assert_int_equal(connect(tcp_fds[1], (struct sockaddr *)&ss, sl), 0);
    assert_true(pump(0, 5000, proxy_holds_a_client));
    (void)close(tcp_fds[0]);
    (void)close(tcp_fds[1]);
    stop_proxy();
}

static void test_e2e_silent_tcp_connections_do_not_lock_quic_clients_out(void **state)
{
    /* Both transports share the slots: TCP connections to the HTTP/2 port that send nothing
     * (not even a TLS ClientHello) held every slot for the idle timeout (120 s, and again
     * after reconnecting), and no HTTP/3 client could get in. Now each gives way. */
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    size_t i;
    (void)state;
    proxy_serve_h2 = 1;
    proxy_max_clients = 2;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_serve_h2 = 0;
    assert_int_equal(masque_address_to_sockaddr(&proxy_tcp_addr, &ss, &sl), MASQUE_OK);
    for (i = 0; i < 2; i++) {
        tcp_fds[i] = socket(ss.ss_family, SOCK_STREAM, 0);
        assert_true(tcp_fds[i] >= 0);
        assert_int_equal(connect(tcp_fds[i], (struct sockaddr *)&ss, sl), 0);
    }
    assert_true(pump(0, 15000, proxy_holds_two_clients));
    slots_given_up = 0;
    assert_true(start_and_pump(0, NULL, newest_ready_and_a_tcp_connection_closed));
    assert_int_equal(slots_given_up, 1);
    assert_true(start_and_pump(1, NULL, newest_ready_and_both_tcp_connections_closed));
    assert_int_equal(masque_quic_proxy_clients(proxy), 2);
    for (i = 0; i < 2; i++) {
        (void)close(tcp_fds[i]);
        stop_client(&clients[i]);
    }
    stop_proxy();
    proxy_max_clients = 0;
}

/* A TCP connection to the proxy's HTTP/2 port from `source` (an address of loopback), that
 * sends nothing. */
static int silent_tcp_connection(const char *source)
{
    struct sockaddr_storage to;
    struct sockaddr_storage from;
    socklen_t tl = 0;
    socklen_t fl = 0;
    masque_address a;
    int fd;
    assert_int_equal(masque_address_to_sockaddr(&proxy_tcp_addr, &to, &tl), MASQUE_OK);
    assert_int_equal(masque_address_parse(&a, source, strlen(source), 0), MASQUE_OK);
    assert_int_equal(masque_address_to_sockaddr(&a, &from, &fl), MASQUE_OK);
    fd = socket(to.ss_family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, fl), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, tl), 0);
    return fd;
}

static int proxy_holds_three_clients(size_t n)
{
    (void)n;
    return masque_quic_proxy_clients(proxy) == 3;
}

static int first_tcp_connection_closed(size_t n)
{
    (void)n;
    return tcp_closed_by_proxy(tcp_fds[0]);
}

static int first_client_closed_and_second_ready(size_t n)
{
    (void)n;
    return masque_quic_is_closed(clients[0].conn) && clients[1].ready;
}

static void test_e2e_a_source_opening_connections_replaces_its_own_not_the_others(void **state)
{
    /* When every slot is taken, a new connection from a source that already holds one
     * without a request takes that one's slot, not the oldest of all: a source that opens
     * connection after connection (here three silent TCP connections from 127.0.0.2) cannot
     * push out another's connection that is still on its way to a request (here a client of
     * 127.0.0.1, refused for want of a token, the oldest of all). */
    char path[] = "/tmp/masque-tokens.XXXXXX";
    int third;
    (void)state;
    write_token_file(path, "good-token\n");
    proxy_token_file = path;
    proxy_serve_h2 = 1;
    proxy_max_clients = 3;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_serve_h2 = 0;
    proxy_token_file = NULL;
    refused_from = 0;
    assert_true(start_and_pump(0, "bad-token", refused_since));
    tcp_fds[0] = silent_tcp_connection("127.0.0.2");
    tcp_fds[1] = silent_tcp_connection("127.0.0.2");
    assert_true(pump(1, 15000, proxy_holds_three_clients));
    third = silent_tcp_connection("127.0.0.2");
    assert_true(pump(1, 15000, first_tcp_connection_closed));
    assert_false(masque_quic_is_closed(clients[0].conn));
    assert_false(tcp_closed_by_proxy(tcp_fds[1]));
    assert_int_equal(masque_quic_proxy_clients(proxy), 3);
    /* A client of 127.0.0.1 with the token replaces the refused one of its own source. */
    assert_true(start_and_pump(1, "good-token", first_client_closed_and_second_ready));
    assert_false(tcp_closed_by_proxy(tcp_fds[1]));
    assert_false(tcp_closed_by_proxy(third));
    (void)close(third);
    (void)close(tcp_fds[0]);
    (void)close(tcp_fds[1]);
    stop_client(&clients[0]);
    stop_client(&clients[1]);
    stop_proxy();
    proxy_max_clients = 0;
    (void)unlink(path);
}
#else
/* Without the HTTP/2 binding there is no TCP port to open connections to. */
static void test_e2e_silent_tcp_connections_do_not_lock_quic_clients_out(void **state)
{
    (void)state;
    skip();
}

static void test_e2e_a_source_opening_connections_replaces_its_own_not_the_others(void **state)
{
    (void)state;
    skip();
}
#endif /* MASQUE_E2E_H2 */

/* Requests a client opens at once on its connection (the client's default bound is 8). */
#define FLOOD_BATCH 7u

static int requests_of_a_batch_closed(size_t n)
{
    size_t k;
    (void)n;
    for (k = 1; k <= FLOOD_BATCH; k++) {
        if (!clients[k].closed) {
            return 0;
        }
    }
    return 1;
}

static int unlogged_note_seen(size_t n)
{
    (void)n;
    return unlogged_notes > 0;
}

static void test_e2e_a_flood_of_refused_requests_is_not_a_flood_of_the_log(void **state)
{
    /* Each refused request made a line in the proxy's log, so a client without a token could
     * write the log as fast as it could send requests (and drown, in the journal's own rate
     * limit, the lines that matter). Now lines about refusals and errors come at most 50 at
     * once and 20 a second after; the others are counted and said with the next line. */
    char path[] = "/tmp/masque-tokens.XXXXXX";
    size_t refused = 1;
    size_t round;
    uint64_t start;
    uint64_t end;
    (void)state;
    write_token_file(path, "good-token\n");
    proxy_token_file = path;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_token_file = NULL;
    refused_from = 0;
    start = ms();
    assert_true(start_and_pump(0, NULL, refused_since));
    for (round = 0; round < 57; round++) { /* 399 more requests without a token: 407 each */
        open_more_requests(1 + FLOOD_BATCH);
        assert_true(pump(1 + FLOOD_BATCH, 15000, requests_of_a_batch_closed));
        refused += FLOOD_BATCH;
    }
    /* One line for each refusal (the proxy's), 400 in all, of which at most 50 at once and 20
     * a second after (and the notes) were written, however fast or slow this machine is; the
     * first ones were. */
    assert_true(proxy_lines <= 50 + 20 * (ms() - start) / 1000 + unlogged_notes + 1);
    assert_true(refusal_lines >= 25);
    assert_int_equal(binding_refusals, 0);
    if (proxy_lines - unlogged_notes < refused) {
        /* Some were left out: the next line written says so (if none did yet). */
        end = ms() + 15000;
        while (unlogged_notes == 0 && ms() < end) {
            open_more_requests(2);
            (void)pump(2, 100, unlogged_note_seen);
            (void)pump(2, 15000, client_1_closed);
        }
        assert_true(unlogged_notes >= 1);
        assert_non_null(strstr(unlogged_note, "lines about refusals and errors were not logged"));
    }
    stop_client(&clients[0]);
    stop_proxy();
    (void)unlink(path);
}

static uint64_t watched_context;

static int context_closed(size_t n)
{
    masque_context_info info;
    (void)n;
    return masque_session_context_get(masque_quic_request_session(clients[0].req), watched_context,
                                      &info) &&
           info.state == MASQUE_CONTEXT_CLOSED;
}

static int context_active(size_t n)
{
    masque_context_info info;
    (void)n;
    return masque_session_context_get(masque_quic_request_session(clients[0].req), watched_context,
                                      &info) &&
           info.state == MASQUE_CONTEXT_ACTIVE;
}

static int proxy_empty_of_clients(size_t n)
{
    (void)n;
    return masque_quic_proxy_clients(proxy) == 0;
}

/* A proxy and a ready client whose connections close after two seconds without traffic; the
 * client's keep-alive as given (0: the default, UINT64_MAX: none). */
static void start_quiet_tunnel(uint64_t keep_alive_ms)
{
    proxy_conn_idle_ms = 2000;
    client_conn_idle_ms = 2000;
    client_keep_alive_ms = keep_alive_ms;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
}

static void stop_quiet_tunnel(void)
{
    stop_client(&clients[0]);
    stop_proxy();
    proxy_conn_idle_ms = 0;
    client_conn_idle_ms = 0;
    client_keep_alive_ms = 0;
}

/*
 * A quiet tunnel stays up: with idle timeouts of two seconds on both ends, nothing is relayed
 * for two and a half of them, and the client's PINGs (every half of the timeout) keep the
 * connection and its request alive; then a datagram still goes through. A Bind client waiting
 * for peers may be quiet for hours. A second of margin for a loaded machine.
 */
static void test_e2e_a_quiet_tunnel_outlives_the_idle_timeout(void **state)
{
    masque_address peer_addr;
    uint8_t back[8];
    int peer;
    (void)state;
    start_quiet_tunnel(0);
    assert_false(pump(1, 5000, proxy_empty_of_clients));
    assert_false(clients[0].closed);
    peer = bound_socket("127.0.0.1", &peer_addr);
    client_send(&clients[0], &peer_addr, (const uint8_t *)"still", 5);
    assert_int_equal(peer_recv(peer, 1, back, sizeof(back), 5000), 5);
    (void)close(peer);
    stop_quiet_tunnel();
}

/* The control of the test above: without the client's PINGs, the proxy closes the quiet
 * connection at its idle timeout, and its request and relay socket go with it. */
static void test_e2e_without_keep_alive_a_quiet_connection_closes_at_the_idle_timeout(void **state)
{
    uint64_t t0;
    (void)state;
    proxy_verbose = 1;
    start_quiet_tunnel(UINT64_MAX);
    t0 = ms();
    assert_true(pump(1, 10000, proxy_empty_of_clients));
    assert_true(ms() - t0 >= 1000); /* the timeout, not something else */
    assert_int_equal(masque_quic_proxy_requests(proxy), 0);
    /* With -v the proxy says who went, and how. */
    assert_non_null(strstr(client_gone_line, "client gone: 127.0.0.1:"));
    assert_non_null(strstr(client_gone_line, "(nothing came from it for the idle timeout)"));
    stop_quiet_tunnel();
}

/* A proxy that vanishes (a crash, a lost path) says nothing: its client learns at its idle
 * timeout, and can tell that from a proxy that stopped (above) and from its own close. */
static void test_e2e_a_client_tells_a_silent_proxy_from_one_that_closed(void **state)
{
    uint64_t code = 1;
    uint64_t t0;
    (void)state;
    start_quiet_tunnel(0);
    t0 = ms();
    assert_true(client_alone_until_closed(15000)); /* the proxy is not run any more */
    assert_true(ms() - t0 >= 1000);                /* its idle timeout (2 s), not before */
    assert_int_equal(masque_quic_end_reason(clients[0].conn, &code), MASQUE_CONN_TIMED_OUT);
    assert_int_equal(code, 0);
    stop_quiet_tunnel();
    /* Closed by this side: the code sent. */
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_int_equal(masque_quic_close(clients[0].conn, MASQUE_H3_EXCESSIVE_LOAD), 0);
    assert_int_equal(masque_quic_end_reason(clients[0].conn, &code), MASQUE_CONN_CLOSED_HERE);
    assert_int_equal(code, MASQUE_H3_EXCESSIVE_LOAD);
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_idle_contexts_close_on_a_quiet_connection(void **state)
{
    masque_address peer_addr;
    (void)state;
    proxy_idle_ms = 300;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    proxy_idle_ms = 0;
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    masque_address_set_v4(&peer_addr, (const uint8_t *)"\x7f\x00\x00\x01", 4242);
    assert_int_equal(masque_session_open_context(masque_quic_request_session(clients[0].req),
                                                 &peer_addr, ms(), &watched_context),
                     MASQUE_OK);
    assert_int_equal(masque_adapter_flush(masque_quic_request_adapter(clients[0].req)), MASQUE_OK);
    assert_true(pump(1, 5000, context_active));
    /* No datagram flows: only the proxy's idle timer can close it (-10 §3.3), and it must fire
     * on a connection that carries nothing. */
    assert_true(pump(1, 10000, context_closed));
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_credentials_are_loaded_once_and_reloaded_on_demand(void **state)
{
    test_pki fresh;
    (void)state;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    stop_client(&clients[0]);
    /* The files go away: connections still get the certificate loaded at start-up. */
    assert_int_equal(remove(pki.cert_file), 0);
    assert_int_equal(remove(pki.key_file), 0);
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    stop_client(&clients[0]);
    /* A reload without files fails and keeps the old ones; with new files, new clients get the
     * new certificate (trusting its CA, a client is served). */
    assert_int_equal(masque_quic_proxy_reload(proxy), -1);
    assert_int_equal(test_pki_make(&fresh), 0);
    assert_int_equal(rename(fresh.cert_file, pki.cert_file), 0);
    assert_int_equal(rename(fresh.key_file, pki.key_file), 0);
    assert_int_equal(masque_quic_proxy_reload(proxy), 0);
    client_ca = fresh.ca_file;
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    stop_client(&clients[0]);
    client_ca = NULL;
    stop_proxy();
    /* The suite's PKI is now the fresh one's certificate: restore a coherent pair. */
    assert_int_equal(rename(fresh.ca_file, pki.ca_file), 0);
    test_pki_remove(&fresh);
}

/* Valgrind and AddressSanitizer hold freed memory back (quarantine): RSS means nothing there. */
static int under_a_memory_tool(void)
{
    const char *preload = getenv("LD_PRELOAD");
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return 1;
#endif
#endif
    return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

static long resident_kib(void)
{
    long pages = 0;
    long resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        return -1;
    }
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        resident = -1;
    }
    (void)fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_e2e_memory_returns_after_clients_leave(void **state)
{
    enum { ROUNDS = 5, PER_ROUND = 30 };
    long after_first = 0;
    long last = 0;
    int round;
    (void)state;
    if (resident_kib() < 0 || under_a_memory_tool()) {
        skip(); /* no /proc, or an allocator that keeps what is freed on purpose */
    }
    start_proxy("127.0.0.1", "127.0.0.0/8");
    for (round = 0; round < ROUNDS; round++) {
        size_t i;
        for (i = 0; i < PER_ROUND; i++) {
            start_client(&clients[i], "127.0.0.1");
        }
        assert_true(pump(PER_ROUND, 30000, all_ready));
        for (i = 0; i < PER_ROUND; i++) {
            assert_int_equal(masque_quic_close(clients[i].conn, MASQUE_H3_NO_ERROR), 0);
            stop_client(&clients[i]);
        }
        assert_true(pump(0, 30000, proxy_empty));
        last = resident_kib();
        if (round == 0) {
            after_first = last;
        }
        print_message("round %d: %ld KiB resident\n", round, last);
    }
    stop_proxy();
    /* What 30 clients left behind must not pile up round after round (fragmented heaps of
     * 1 MiB buffers did: issue "Relay hardening", item 6). */
    assert_true(last - after_first < 3 * 1024);
}

#if MASQUE_E2E_NETNS
/* ---- in a network namespace of the test's own: addresses that are the proxy's own ---- */

static int netns_ready;

static int udp_service(const char *ip)
{
    masque_address a;
    int fd = bound_socket(ip, &a);
    return fd;
}

static int sent_to_service(const char *ip, uint16_t port, int service, uint64_t wait_ms)
{
    masque_address to;
    uint8_t buf[16];
    assert_int_equal(masque_address_parse(&to, ip, strlen(ip), 0), MASQUE_OK);
    to.port = port;
    client_send(&clients[0], &to, (const uint8_t *)"probe", 5);
    return peer_recv(service, 1, buf, sizeof(buf), wait_ms) == 5;
}

/* Without tokens, an anonymous client that is not on the proxy host is refused (407) unless
 * the operator allowed anonymous clients: an open relay is never the default. */
static int netns_v6_ready;

static int second_refused_and_third_ready(size_t n)
{
    (void)n;
    return clients[1].closed && clients[2].ready;
}

static void test_e2e_anonymous_ipv6_clients_of_one_64_are_one_identity(void **state)
{
    /* Quotas per anonymous client count an IPv6 client by its /64, which one subscriber
     * holds: by its whole address, each of the 2^64 addresses a subscriber may use was a
     * quota of its own. Quota: one request; two addresses of 2001:db8:1::/64 are one client,
     * an address of 2001:db8:2::/64 another. */
    (void)state;
    if (!netns_v6_ready) {
        skip(); /* needs root, and IPv6 in the namespace */
    }
    proxy_allow_anonymous = 1;
    proxy_quota_requests = 1;
    start_proxy("2001:db8:1::1", "::/0");
    proxy_allow_anonymous = 0;
    proxy_quota_requests = 0;
    start_client(&clients[0], "2001:db8:1::1");
    assert_true(pump(1, 15000, all_ready));
    start_client(&clients[1], "2001:db8:1::2");
    start_client(&clients[2], "2001:db8:2::1");
    assert_true(pump(3, 15000, second_refused_and_third_ready));
    assert_non_null(strstr(quota_refusal, "quota"));
    stop_client(&clients[0]);
    stop_client(&clients[1]);
    stop_client(&clients[2]);
    stop_proxy();
}

static void test_e2e_anonymous_clients_from_elsewhere_are_refused_unless_allowed(void **state)
{
    (void)state;
    if (!netns_ready) {
        skip();
    }
    start_proxy("11.0.0.1", "127.0.0.0/8"); /* 11.0.0.1: not a loopback address */
    start_client(&clients[0], "11.0.0.1");
    assert_true(pump(1, 5000, refused_or_ready_any));
    assert_false(clients[0].ready);
    stop_client(&clients[0]);
    stop_proxy();
    proxy_allow_anonymous = 1;
    start_proxy("11.0.0.1", "127.0.0.0/8");
    proxy_allow_anonymous = 0;
    start_client(&clients[0], "11.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_BIND_29_the_proxys_own_addresses_are_refused_by_default(void **state)
{
    masque_address svc;
    int service;
    (void)state;
    if (!netns_ready) {
        skip(); /* needs root: unshare(CLONE_NEWNET) and ip(8) */
    }
    service = bound_socket("0.0.0.0", &svc); /* a service of the proxy host, on every address */
    (void)udp_service;
    /* 11.0.0.1 is an ordinary, non-special address: here it is the proxy host's own. */
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_false(sent_to_service("11.0.0.1", svc.port, service, 1000));
    stop_client(&clients[0]);
    stop_proxy();
    /* An operator's explicit allow rule still opens it. */
    start_proxy("127.0.0.1", "0.0.0.0/0");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_true(sent_to_service("11.0.0.1", svc.port, service, 5000));
    stop_client(&clients[0]);
    stop_proxy();
    /* An address added while the proxy runs is refused too, once the interfaces are re-read. */
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_int_equal(system("ip addr add 12.0.0.1/32 dev lo"), 0);
    (void)pump(1, 1500, NULL); /* longer than the refresh period */
    assert_false(sent_to_service("12.0.0.1", svc.port, service, 1000));
    stop_client(&clients[0]);
    stop_proxy();
    /* However many addresses the host has: 300 more, and the last one is refused too (the
     * proxy once kept the first 64 it found and let the rest through). */
    assert_int_equal(
        system("i=1; while [ $i -le 300 ]; do ip addr add 13.0.$((i / 256)).$((i % 256))/32 "
               "dev lo || exit 1; i=$((i + 1)); done"),
        0);
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    assert_false(sent_to_service("13.0.1.44", svc.port, service, 1000));
    stop_client(&clients[0]);
    stop_proxy();
    (void)close(service);
}
#endif

#if MASQUE_E2E_MALFORMED
/* ---- a hostile client's malformed requests: each gets an answer (issue "Relay hardening" 5) */

extern const char *const *masque_quic_test_request; /* the binding's test build only */

static int answered(size_t n)
{
    (void)n;
    return clients[0].closed || strstr(last_log, "status") != NULL;
}

/* Sends `request` and waits (bounded) for a 4xx or for the stream to be reset with `code`. */
static void expect_refusal(const char *const *request, int status, uint64_t code)
{
    client *cl = &clients[0];
    char want[32];
    masque_quic_test_request = request;
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_logging_client(cl, NULL, 0);
    /* Generous: the 0.x relay held such a request for 120 s without a word. */
    assert_true(pump(1, 15000, answered));
    if (status != 0) {
        (void)snprintf(want, sizeof(want), "status %d", status);
        assert_non_null(strstr(last_log, want));
    } else {
        assert_true(cl->closed);
        assert_true(cl->closed_with == code);
    }
    assert_false(cl->ready);
    masque_quic_test_request = NULL;
    stop_client(cl);
    stop_proxy();
}

static void test_e2e_UDP_4_connect_without_protocol_is_answered(void **state)
{
    /* RFC 9114 §4.4: a CONNECT without :protocol carries no :scheme or :path. With them it is
     * malformed (§4.1.2): the stream is reset with H3_MESSAGE_ERROR. */
    static const char *const with_path[] = {":method",
                                            "CONNECT",
                                            ":scheme",
                                            "https",
                                            ":authority",
                                            "localhost",
                                            ":path",
                                            "/.well-known/masque/udp/*/*/",
                                            "capsule-protocol",
                                            "?1",
                                            "connect-udp-bind",
                                            "?1",
                                            NULL};
    /* Well-formed classic CONNECT: not a Bind request (RFC 9298 §3.4, -10 §3): 400. */
    static const char *const classic[] = {":method", "CONNECT", ":authority", "localhost:443",
                                          NULL};
    (void)state;
    expect_refusal(with_path, 0, MASQUE_H3_MESSAGE_ERROR);
    expect_refusal(classic, 400, 0);
}

extern const char *const *masque_quic_test_interim; /* the binding's test build only */

/* RFC 9114 §4.1, RFC 9110 §15.2: a 103 before the 200, as other servers may send. It is not the
 * final response, and none of its fields are: its Proxy-Public-Address must not become one of
 * the client's public addresses (client_ready asserts there is exactly one). */
static void test_e2e_an_interim_response_is_not_part_of_the_final_one(void **state)
{
    static const char *const early_hints[] = {":status", "103", "proxy-public-address",
                                              "\"192.0.2.99:1\"", NULL};
    masque_address peer_addr;
    int peer;
    (void)state;
    masque_quic_test_interim = early_hints;
    peer = one_client_and_a_peer(&peer_addr);
    masque_quic_test_interim = NULL;
    assert_int_equal(clients[0].pub.version, MASQUE_IP_V4);
    assert_int_equal(clients[0].pub.bytes[0], 127); /* the relay's, not 192.0.2.99 */
    (void)close(peer);
    stop_client(&clients[0]);
    stop_proxy();
}

extern const char *masque_quic_test_priority; /* the binding's test build only */

/* The client holds no request but its first (the others' streams are gone). */
static int churn_gone(size_t n)
{
    (void)n;
    return masque_quic_requests(clients[0].conn) == 1;
}

/*
 * RFC 9218 §7.2: a client may send PRIORITY_UPDATE for any request stream. The proxy raises
 * the client's stream limit (MAX_STREAMS) as request streams close; nghttp3 judges the stream
 * a PRIORITY_UPDATE names against the limit it was told (RFC 9114 §7.2.8: beyond it,
 * H3_ID_ERROR). Told only the first one, it ended the connection at the first
 * PRIORITY_UPDATE for a stream beyond it: twice that many requests, one after another, each
 * with its PRIORITY_UPDATE, must all be served on one connection.
 */
static void test_e2e_priority_updates_beyond_the_first_stream_limit_are_taken(void **state)
{
    int64_t last = -1;
    size_t k;
    (void)state;
    masque_quic_test_priority = "u=2, i";
    start_proxy("127.0.0.1", "127.0.0.0/8");
    start_client(&clients[0], "127.0.0.1");
    assert_true(pump(1, 5000, all_ready));
    for (k = 1; k <= 2 * MASQUE_QUIC_MAX_REQUESTS; k++) {
        memset(&clients[1], 0, sizeof(clients[1]));
        assert_non_null(masque_quic_request_open(clients[0].conn, &clients[1]));
        assert_true(pump(2, 5000, all_ready));
        last = masque_quic_request_stream_id(clients[1].req);
        assert_int_equal(masque_quic_request_cancel(clients[1].req, MASQUE_H3_REQUEST_CANCELLED),
                         0);
        assert_true(pump(1, 5000, churn_gone));
    }
    /* Client request streams are 0, 4, 8, ... (RFC 9000 §2.1): the last one is beyond the
     * first limit twice over. */
    assert_int_equal(last, 4 * 2 * MASQUE_QUIC_MAX_REQUESTS);
    assert_false(clients[0].closed);
    assert_false(masque_quic_is_closed(clients[0].conn));
    masque_quic_test_priority = NULL;
    stop_client(&clients[0]);
    stop_proxy();
}

static void test_e2e_UDP_4_get_with_protocol_is_answered(void **state)
{
    /* RFC 9220 §3: :protocol only with CONNECT; anything else is malformed (RFC 9114 §4.1.2). */
    static const char *const get[] = {
        ":method", "GET",        ":protocol", "connect-udp", ":scheme",
        "https",   ":authority", "localhost", ":path",       "/.well-known/masque/udp/*/*/",
        NULL};
    /* A GET without :protocol is well-formed but not a Bind request: 400. */
    static const char *const plain_get[] = {":method",   "GET",   ":scheme", "https", ":authority",
                                            "localhost", ":path", "/",       NULL};
    (void)state;
    expect_refusal(get, 0, MASQUE_H3_MESSAGE_ERROR);
    expect_refusal(plain_get, 400, 0);
}
#endif

/*
 * After each test, passed or failed half-way: the clients and the proxy it left go, and every
 * setting of the harness is back at its default, so that a failure stays one failure instead
 * of failing the tests after it.
 */
static int after_each(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].conn != NULL) {
            stop_client(&clients[i]);
        }
    }
    stop_proxy();
    if (other_proxy != NULL) {
        masque_quic_proxy_free(other_proxy);
        other_proxy = NULL;
        (void)close(other_fd);
        other_fd = -1;
    }
    masque_quic_quota_share_free(proxy_quota_share);
    proxy_quota_share = NULL;
    client_ca = NULL;
    client_host = "localhost";
    client_token = NULL;
    client_cert = NULL;
    client_key = NULL;
    client_force_capsules = 0;
    client_conn_idle_ms = 0;
    client_keep_alive_ms = 0;
    client_ack = MASQUE_QUIC_ACK_DEFAULT;
    client_stream_buffer = 0;
    after_step = NULL;
    proxy_token_file = NULL;
    proxy_allow_anonymous = 0;
    proxy_client_ca = NULL;
    proxy_quota_requests = 0;
    proxy_max_identities = 0;
    proxy_quota_datagrams = 0;
    proxy_max_contexts = 0;
    proxy_stream_buffer = 0;
    proxy_max_wait_ms = 0;
    proxy_force_capsules = 0;
    proxy_withhold_connect = 0;
    proxy_idle_ms = 0;
    proxy_conn_idle_ms = 0;
    proxy_max_clients = 0;
    proxy_no_validation = 0;
    proxy_max_requests = 0;
    conn_max_requests = 0;
    conn_max_streams = 0;
    proxy_serve_h2 = 0;
    proxy_verbose = 0;
#if MASQUE_E2E_MALFORMED
    masque_quic_test_request = NULL;
    masque_quic_test_interim = NULL;
    masque_quic_test_priority = NULL;
#endif
    return 0;
}

#if MASQUE_E2E_MALFORMED
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_e2e_UDP_4_connect_without_protocol_is_answered, after_each),
        cmocka_unit_test_teardown(test_e2e_UDP_4_get_with_protocol_is_answered, after_each),
        cmocka_unit_test_teardown(test_e2e_an_interim_response_is_not_part_of_the_final_one,
                                  after_each),
        cmocka_unit_test_teardown(test_e2e_priority_updates_beyond_the_first_stream_limit_are_taken,
                                  after_each),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
#elif MASQUE_E2E_NETNS
/* The same harness, run inside a network namespace made for it (root only): its loopback also
 * holds an ordinary address; nothing reaches outside the machine. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_e2e_BIND_29_the_proxys_own_addresses_are_refused_by_default,
                                  after_each),
        cmocka_unit_test_teardown(
            test_e2e_anonymous_clients_from_elsewhere_are_refused_unless_allowed, after_each),
        cmocka_unit_test_teardown(test_e2e_anonymous_ipv6_clients_of_one_64_are_one_identity,
                                  after_each),
    };
    netns_ready = unshare(CLONE_NEWNET) == 0 &&
                  system("ip link set lo up && ip addr add 11.0.0.1/32 dev lo") == 0;
    /* Three IPv6 addresses in two /64s, where the namespace has IPv6. */
    netns_v6_ready = netns_ready && system("ip -6 addr add 2001:db8:1::1/128 dev lo nodad && "
                                           "ip -6 addr add 2001:db8:1::2/128 dev lo nodad && "
                                           "ip -6 addr add 2001:db8:2::1/128 dev lo nodad") == 0;
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
#else
/* Each test of the list below, with the teardown every one of them has. */
#define E2E_TEST(name) cmocka_unit_test_teardown(name, after_each)
/* An argument runs only the tests whose names match it (cmocka's pattern: * and ?). */
int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        E2E_TEST(test_e2e_DG_8_relay_integrity_ipv4_capsules),
        E2E_TEST(test_e2e_UDP_13_a_burst_to_two_targets_leaves_datagram_by_datagram),
        E2E_TEST(test_e2e_UDP_19_a_target_payload_too_big_for_a_frame_is_dropped_not_capsuled),
        E2E_TEST(test_e2e_a_capsule_that_would_wait_too_long_is_dropped),
        E2E_TEST(test_e2e_a_datagram_frame_held_back_too_long_is_dropped),
        E2E_TEST(test_e2e_UDP_21_a_lone_datagram_is_not_held_for_a_batch),
        E2E_TEST(test_e2e_DG_8_relay_integrity_ipv6_capsules),
        E2E_TEST(test_e2e_DG_8_h3_datagrams_when_both_ends_enable_them),
        E2E_TEST(test_e2e_DG_8_capsules_when_one_end_offers_no_h3_datagrams),
        E2E_TEST(test_e2e_UDP_4_client_refuses_a_proxy_without_extended_connect),
        E2E_TEST(test_e2e_BIND_29_default_policy_refuses_loopback_until_allowed),
        E2E_TEST(test_e2e_fifty_concurrent_clients),
        E2E_TEST(test_e2e_UDP_7_disconnect_frees_the_clients_socket_and_contexts),
        E2E_TEST(test_e2e_a_proxy_that_stops_tells_its_clients),
        E2E_TEST(test_e2e_a_client_tells_a_silent_proxy_from_one_that_closed),
        E2E_TEST(test_e2e_identities_without_requests_give_their_accounting_to_newcomers),
        E2E_TEST(test_e2e_workers_share_one_quota_of_requests),
        E2E_TEST(test_e2e_workers_share_one_rate_quota),
        E2E_TEST(test_e2e_DG_11_malformed_capsule_aborts_only_that_stream),
        E2E_TEST(test_e2e_DG_8_a_busy_capsule_tunnel_carries_many_times_its_stream_buffer),
        E2E_TEST(test_e2e_BIND_30_responses_a_client_does_not_take_are_bounded),
        E2E_TEST(test_e2e_BIND_26_public_address_stays_the_same_for_the_whole_request),
        E2E_TEST(test_e2e_UDP_13_relay_drops_what_would_need_fragments),
        E2E_TEST(test_e2e_DG_14_fin_inside_a_capsule_aborts_with_h3_message_error),
        E2E_TEST(test_e2e_UDP_7_clean_fin_closes_the_relay_socket),
        E2E_TEST(test_e2e_a_peers_gso_train_reaches_the_client_datagram_by_datagram),
        E2E_TEST(test_e2e_tls_verifies_the_proxy_against_the_ca_and_the_authority),
        E2E_TEST(test_e2e_concrete_target_is_refused_with_501_not_ignored),
        E2E_TEST(test_e2e_a_proxy_refuses_limits_its_tables_cannot_hold),
        E2E_TEST(test_e2e_a_socket_group_steers_by_connection_id),
        E2E_TEST(test_e2e_requests_without_a_valid_bearer_token_get_407),
        E2E_TEST(test_e2e_a_flood_of_refused_requests_is_not_a_flood_of_the_log),
        E2E_TEST(test_e2e_client_certificates_from_the_client_ca_may_bind),
        E2E_TEST(test_e2e_a_resumed_session_is_who_its_certificate_said),
        E2E_TEST(test_e2e_quotas_bound_one_client_and_leave_the_others_alone),
        E2E_TEST(test_e2e_three_bind_requests_on_one_connection_one_reset_midway),
        E2E_TEST(test_e2e_two_bind_requests_on_one_connection_one_ends_cleanly),
        E2E_TEST(test_e2e_a_request_the_stream_limit_holds_back_waits_for_room),
        E2E_TEST(test_e2e_requests_per_connection_are_limited_with_429),
        E2E_TEST(test_e2e_requests_per_proxy_are_limited_with_503_until_one_ends),
        E2E_TEST(test_e2e_client_address_change_keeps_the_tunnel),
        E2E_TEST(test_e2e_a_client_that_moves_onto_a_gone_clients_address_keeps_its_tunnel),
        E2E_TEST(test_e2e_a_new_client_on_a_gone_clients_address_and_port_is_served),
        E2E_TEST(test_e2e_a_client_acknowledges_in_its_reply),
        E2E_TEST(test_e2e_settings_a_connection_cannot_use_are_refused),
        E2E_TEST(test_e2e_a_flood_toward_a_stalled_client_costs_the_others_nothing),
        E2E_TEST(test_e2e_UDP_16_datagrams_a_client_does_not_take_are_dropped_not_its_tunnel),
        E2E_TEST(test_e2e_replayed_initials_take_no_client_slot),
        E2E_TEST(test_e2e_a_full_proxy_logs_one_line_for_a_burst_of_initials),
        E2E_TEST(test_e2e_connections_without_a_request_give_their_slot_to_a_new_client),
        E2E_TEST(test_e2e_silent_tcp_connections_do_not_lock_quic_clients_out),
        E2E_TEST(test_e2e_a_proxy_out_of_descriptors_waits_to_accept_without_spinning),
        E2E_TEST(test_e2e_a_source_opening_connections_replaces_its_own_not_the_others),
        E2E_TEST(test_e2e_idle_contexts_close_on_a_quiet_connection),
        E2E_TEST(test_e2e_a_quiet_tunnel_outlives_the_idle_timeout),
        E2E_TEST(test_e2e_without_keep_alive_a_quiet_connection_closes_at_the_idle_timeout),
        E2E_TEST(test_e2e_credentials_are_loaded_once_and_reloaded_on_demand),
        E2E_TEST(test_e2e_memory_returns_after_clients_leave),
    };
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
#endif
