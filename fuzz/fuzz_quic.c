/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the HTTP/3 binding (src/adapter/ngtcp2/quic.c) with a client and a proxy
 * connection over real QUIC on loopback, in one process, driven by the script of fuzz_pair.h:
 * requests opened, cancelled, ended and written raw bytes; datagrams both ways; contexts;
 * either connection closed; rounds of time, in which each socket is read, the packets are
 * answered, the timers that are due run and both connections write. The first byte's flags:
 * the proxy refusing (503 from on_request, 407 from on_authorize), capsules instead of HTTP/3
 * datagrams on either side, small stream buffers, SETTINGS_ENABLE_CONNECT_PROTOCOL withheld,
 * the default target policy (else the proxy relays to the script's documentation addresses);
 * the second: 1-4 requests per connection on each side.
 * Checked, beyond ASan and UBSan and fuzz_pair.h's checks: neither connection holds more than
 * MASQUE_QUIC_MAX_REQUESTS requests; no connection between honest ends breaks (a QUIC transport
 * error). Honest ends may end with H3_NO_ERROR, H3_REQUEST_CANCELLED, H3_REQUEST_REJECTED
 * (GOAWAY) and H3_EXCESSIVE_LOAD (ASSIGNs faster than the proxy's answers can leave, -10 §9).
 * Nothing may be lost only where the datagrams travel in capsules (QUIC DATAGRAM frames may
 * be) and neither end refuses, withholds extended CONNECT or has a small stream buffer.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_pair.h"
#include "masque/posix.h"
#include "masque/quic.h"
#include "tls_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEMPLATE "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/"

#define FLAG_REFUSE         0x01u /* the proxy's on_request answers 503 */
#define FLAG_NO_AUTH        0x02u /* the proxy's on_authorize answers 407 */
#define FLAG_CLIENT_CAPSULE 0x04u /* the client offers no HTTP/3 datagrams */
#define FLAG_PROXY_CAPSULE  0x08u /* nor does the proxy */
#define FLAG_SMALL_BUF      0x10u /* 2 KiB of capsules per request */
#define FLAG_NO_CONNECT     0x20u /* the proxy withholds SETTINGS_ENABLE_CONNECT_PROTOCOL */
#define FLAG_STRICT_TARGETS 0x40u /* the default policy: the script's peers refused */
#define FLAG_QUICK_IDLE     0x80u /* compressed contexts idle out after 1 ms, at both ends */

/* The binding's test hook (compiled in by fuzz/CMakeLists.txt): a Priority field value the
 * client sends in a PRIORITY_UPDATE frame for each request (RFC 9218 §7.2), or NULL. */
extern const char *masque_quic_test_priority;

typedef struct world {
    pair_world p; /* first: the harness's, which the binding's calls convert back */
    int proxy_fd;
    int client_fd;
    struct sockaddr_in proxy_addr;
    struct sockaddr_in client_addr;
    masque_quic_config proxy_cfg;
} world;

static masque_quic_credentials *credentials; /* the proxy's, from tls_util.h's `pki` */

static void drop_pki(void)
{
    masque_quic_credentials_release(credentials);
    (void)remove_pki(NULL);
}

/* ---- the binding's calls, for the script ---- */

static void *open_request(void *conn, void *app)
{
    return masque_quic_request_open(conn, app);
}

static int cancel_request(void *r, uint64_t code)
{
    return masque_quic_request_cancel(r, code);
}

static int end_request(void *r)
{
    return masque_quic_request_end(r);
}

static int write_stream(void *r, const uint8_t *data, size_t len)
{
    return masque_quic_request_write_stream(r, data, len);
}

static int close_conn(void *conn, uint64_t code)
{
    return masque_quic_close(conn, code);
}

static int tick_conn(void *conn)
{
    return masque_quic_tick(conn);
}

static masque_adapter *request_adapter(void *r)
{
    return masque_quic_request_adapter(r);
}

static masque_session *request_session(void *r)
{
    return masque_quic_request_session(r);
}

static uint64_t request_stream(const void *r)
{
    return (uint64_t)masque_quic_request_stream_id(r);
}

/* An HTTP/3 error code of the script's: the usual ones, or any. */
static uint64_t h3_code(uint8_t b)
{
    static const uint64_t codes[] = {MASQUE_H3_NO_ERROR, MASQUE_H3_REQUEST_CANCELLED,
                                     MASQUE_H3_MESSAGE_ERROR, MASQUE_H3_DATAGRAM_ERROR};
    return b < 4 ? codes[b] : b;
}

/* The binding's clock, in the ms its sessions count. */
static uint64_t now_ms(void)
{
    return masque_quic_now_ns() / 1000000u;
}

static int honest_code(const pair_world *w, uint64_t code)
{
    (void)w;
    return code == MASQUE_H3_NO_ERROR || code == MASQUE_H3_REQUEST_CANCELLED ||
           code == MASQUE_H3_REQUEST_REJECTED || code == MASQUE_H3_EXCESSIVE_LOAD;
}

/* ---- the hooks ---- */

PAIR_DEFINE_HOOKS(masque_quic_request, masque_quic_hooks, masque_quic_request_status, uint64_t,
                  FLAG_REFUSE, FLAG_NO_AUTH);

static int udp_socket(struct sockaddr_in *addr)
{
    socklen_t len = sizeof(*addr);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
        abort();
    }
    return fd;
}

/* One round: the sockets read, the packets answered, the due timers run, both ends written. */
static void step(pair_world *pw)
{
    static uint8_t buf[65536];
    world *w = (world *)pw;
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n;
    while ((n = recvfrom(w->proxy_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) > 0) {
        if (pw->proxy.conn == NULL) {
            pw->proxy.conn = masque_quic_server_accept(
                &w->proxy_cfg, w->proxy_fd, (struct sockaddr *)&w->proxy_addr,
                sizeof(w->proxy_addr), (struct sockaddr *)&from, fl, buf, (size_t)n, &proxy_hooks,
                w);
        }
        if (pw->proxy.conn != NULL) {
            (void)masque_quic_read_from(pw->proxy.conn, (struct sockaddr *)&from, fl, buf,
                                        (size_t)n);
        }
        fl = sizeof(from);
    }
    (void)masque_quic_read_socket(pw->client.conn);
    pair_answer(pw, &pw->client);
    pair_answer(pw, &pw->proxy);
    if (masque_quic_now_ns() >= masque_quic_next_timeout(pw->client.conn)) {
        (void)masque_quic_tick(pw->client.conn);
    }
    if (pw->proxy.conn != NULL &&
        masque_quic_now_ns() >= masque_quic_next_timeout(pw->proxy.conn)) {
        (void)masque_quic_tick(pw->proxy.conn);
    }
    (void)masque_quic_write(pw->client.conn);
    if (pw->proxy.conn != NULL) {
        (void)masque_quic_write(pw->proxy.conn);
        if (masque_quic_requests(pw->proxy.conn) > MASQUE_QUIC_MAX_REQUESTS) {
            abort();
        }
    }
    if (masque_quic_requests(pw->client.conn) > MASQUE_QUIC_MAX_REQUESTS) {
        abort();
    }
}

static const pair_binding binding = {.open = open_request,
                                     .cancel = cancel_request,
                                     .end = end_request,
                                     .write_stream = write_stream,
                                     .close = close_conn,
                                     .tick = tick_conn,
                                     .adapter = request_adapter,
                                     .session = request_session,
                                     .stream = request_stream,
                                     .code = h3_code,
                                     .now_ms = now_ms,
                                     .step = step,
                                     .honest_code = honest_code};

/* How a connection ended, for pair_check_end(); 0 for a code none was chosen for. */
static void check_end(const pair_world *w, const masque_quic_conn *c)
{
    uint64_t code = 0;
    masque_conn_end how = masque_quic_end_reason(c, &code);
    if (how != MASQUE_CONN_BROKEN && code == 0) {
        return; /* no code: a stateless reset or none chosen */
    }
    pair_check_end(w, how, code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const masque_policy open_policy = {NULL, 0, NULL, NULL, 1};
    static int ready;
    static world w; /* 192 KiB: the fingerprints of what each end sent, wrote and heard */
    pair_world *pw = &w.p;
    masque_quic_config ccfg;
    int i;
    if (!ready) {
        if (gnutls_global_init() != 0 || make_pki(NULL) != 0 ||
            (credentials = masque_quic_credentials_new(pki.cert_file, pki.key_file, NULL)) ==
                NULL) {
            abort();
        }
        (void)atexit(drop_pki);
        ready = 1;
    }
    if (size < 2) {
        return 0;
    }
    memset(&w, 0, sizeof(w));
    pw->b = &binding;
    pw->flags = data[0];
    /* DATAGRAM capsules on a stream lose nothing (RFC 9297 §3.2); QUIC DATAGRAM frames may. */
    pw->lossless = (pw->flags & (FLAG_CLIENT_CAPSULE | FLAG_PROXY_CAPSULE)) != 0 &&
                   (pw->flags & (FLAG_REFUSE | FLAG_NO_AUTH | FLAG_SMALL_BUF | FLAG_NO_CONNECT |
                                 FLAG_STRICT_TARGETS | FLAG_QUICK_IDLE)) == 0;
    w.proxy_fd = udp_socket(&w.proxy_addr);
    w.client_fd = udp_socket(&w.client_addr);
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = TEMPLATE;
    ccfg.ca_file = pki.ca_file; /* the client verifies the proxy */
    ccfg.force_capsules = (pw->flags & FLAG_CLIENT_CAPSULE) != 0;
    ccfg.stream_buffer = (pw->flags & FLAG_SMALL_BUF) != 0 ? 2048u : 0u;
    ccfg.idle_timeout_ms = (pw->flags & FLAG_QUICK_IDLE) != 0 ? 1u : 0u;
    ccfg.max_requests = 1u + (data[1] & 3u);
    w.proxy_cfg = ccfg;
    w.proxy_cfg.ca_file = NULL;
    w.proxy_cfg.is_server = 1;
    w.proxy_cfg.credentials = credentials;
    w.proxy_cfg.force_capsules = (pw->flags & FLAG_PROXY_CAPSULE) != 0;
    w.proxy_cfg.max_requests = 1u + ((data[1] >> 2) & 3u);
    w.proxy_cfg.max_streams = (data[1] >> 4) & 3u; /* 0: the default; else requests wait */
    masque_quic_test_priority = (data[1] & 0x40u) != 0 ? "u=1, i" : NULL; /* as browsers do */
    w.proxy_cfg.withhold_connect_protocol = (pw->flags & FLAG_NO_CONNECT) != 0;
    w.proxy_cfg.max_peer_contexts = 4;
    w.proxy_cfg.assign_rate = 50;
    if ((pw->flags & FLAG_STRICT_TARGETS) == 0) {
        w.proxy_cfg.policy = &open_policy; /* the proxy relays to the script's peers */
    }
    (void)masque_address_from_sockaddr((struct sockaddr *)&w.proxy_addr, sizeof(w.proxy_addr),
                                       &w.proxy_cfg.public_address);
    pw->client.conn = masque_quic_client_new(
        &ccfg, w.client_fd, (struct sockaddr *)&w.client_addr, sizeof(w.client_addr),
        (struct sockaddr *)&w.proxy_addr, sizeof(w.proxy_addr), &client_hooks, &w);
    if (pw->client.conn == NULL) {
        abort();
    }
    pw->client.opened = 1;
    /* The handshake and the first request's answer: as many rounds as the pacing of the QUIC
     * stack takes on this clock (bounded), so that the script starts from a settled tunnel
     * (or refusal), not from wherever the machine's speed left it. */
    for (i = 0; i < 5000 && pw->client.nheld == 0 && pw->client.closed == 0 &&
                !masque_quic_is_closed(pw->client.conn);
         i++) {
        step(pw);
    }
    pair_run_script(pw, data, size);
    pair_check_lossless(pw);
    check_end(pw, pw->client.conn);
    if (pw->proxy.conn != NULL) {
        check_end(pw, pw->proxy.conn);
    }
    masque_quic_free(pw->client.conn);
    masque_quic_free(pw->proxy.conn);
    pair_check_closes(pw);
    (void)close(w.proxy_fd);
    (void)close(w.client_fd);
    return 0;
}
