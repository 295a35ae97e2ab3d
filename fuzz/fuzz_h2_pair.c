/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the HTTP/2 binding (src/adapter/nghttp2/h2.c) at both ends, a client and a proxy
 * connection over real TLS on a socket pair, in one process, driven by the script of
 * fuzz_pair.h as fuzz_quic drives the HTTP/3 binding: requests opened, cancelled, ended and
 * written raw bytes; datagrams both ways; contexts; either connection closed (GOAWAY); rounds
 * of time, in which each end reads, the packets are answered, the timers that are due run and
 * both ends write. The first byte's flags: the proxy refusing (503 from on_request, 407 from
 * on_authorize), small stream buffers, the default target policy (else the proxy relays to the
 * script's documentation addresses); the second: 1-4 requests per connection on each side.
 * Checked, beyond ASan and UBSan and fuzz_pair.h's checks: neither connection holds more than
 * MASQUE_H2_MAX_REQUESTS; no connection between honest ends breaks (TLS or TCP ended without
 * GOAWAY). Honest ends may end with NO_ERROR, CANCEL, REFUSED_STREAM, ENHANCE_YOUR_CALM
 * (-10 §9's bound) and, with small stream buffers, INTERNAL_ERROR (a response the buffer cannot
 * hold). HTTP/2 loses nothing (capsules on a stream, RFC 9297 §3.2) unless the proxy refuses,
 * its policy is the default or the buffers are small.
 */
#define _POSIX_C_SOURCE 200809L
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_pair.h"
#include "masque/h2.h"
#include "masque/masque.h"
#include "tls_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEMPLATE "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/"

#define FLAG_REFUSE         0x01u /* the proxy's on_request answers 503 */
#define FLAG_NO_AUTH        0x02u /* the proxy's on_authorize answers 407 */
#define FLAG_SMALL_BUF      0x10u /* 2 KiB of capsules per request */
#define FLAG_STRICT_TARGETS 0x40u /* the default policy: the script's peers refused */
#define FLAG_QUICK_IDLE     0x80u /* compressed contexts idle out after 1 ms, at both ends */

static gnutls_certificate_credentials_t proxy_cred;  /* tls_util.h's `localhost` */
static gnutls_certificate_credentials_t client_cred; /* trusts tls_util.h's CA */

static void drop_pki(void)
{
    gnutls_certificate_free_credentials(proxy_cred);
    gnutls_certificate_free_credentials(client_cred);
    (void)remove_pki(NULL);
}

/* ---- the binding's calls, for the script ---- */

static void *open_request(void *conn, void *app)
{
    return masque_h2_request_open(conn, app);
}

static int cancel_request(void *r, uint64_t code)
{
    return masque_h2_request_cancel(r, (uint32_t)code);
}

static int end_request(void *r)
{
    return masque_h2_request_end(r);
}

static int write_stream(void *r, const uint8_t *data, size_t len)
{
    return masque_h2_request_write_stream(r, data, len);
}

static int close_conn(void *conn, uint64_t code)
{
    return masque_h2_close(conn, (uint32_t)code);
}

static int tick_conn(void *conn)
{
    return masque_h2_tick(conn);
}

static masque_adapter *request_adapter(void *r)
{
    return masque_h2_request_adapter(r);
}

static masque_session *request_session(void *r)
{
    return masque_h2_request_session(r);
}

static uint64_t request_stream(const void *r)
{
    return (uint64_t)(uint32_t)masque_h2_request_stream_id(r);
}

/* An HTTP/2 error code of the script's: the usual ones, or any. */
static uint64_t h2_code(uint8_t b)
{
    static const uint32_t codes[] = {MASQUE_H2_NO_ERROR, MASQUE_H2_CANCEL, MASQUE_H2_PROTOCOL_ERROR,
                                     MASQUE_H2_INTERNAL_ERROR};
    return b < 4 ? codes[b] : b;
}

/* The binding's clock: ms of CLOCK_MONOTONIC (masque_h2_next_timeout()). */
static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int honest_code(const pair_world *w, uint64_t code)
{
    return code == MASQUE_H2_NO_ERROR || code == MASQUE_H2_CANCEL ||
           code == MASQUE_H2_REFUSED_STREAM || code == MASQUE_H2_ENHANCE_YOUR_CALM ||
           (code == MASQUE_H2_INTERNAL_ERROR && (w->flags & FLAG_SMALL_BUF) != 0);
}

/* ---- the hooks ---- */

PAIR_DEFINE_HOOKS(masque_h2_request, masque_h2_hooks, masque_h2_request_status, uint32_t,
                  FLAG_REFUSE, FLAG_NO_AUTH);

/* One round: both ends read, the packets answered, the due timers run, both ends written. */
static void step(pair_world *w)
{
    (void)masque_h2_read(w->proxy.conn);
    (void)masque_h2_read(w->client.conn);
    pair_answer(w, &w->client);
    pair_answer(w, &w->proxy);
    if (now_ms() >= masque_h2_next_timeout(w->client.conn)) {
        (void)masque_h2_tick(w->client.conn);
    }
    if (now_ms() >= masque_h2_next_timeout(w->proxy.conn)) {
        (void)masque_h2_tick(w->proxy.conn);
    }
    (void)masque_h2_write(w->client.conn);
    (void)masque_h2_write(w->proxy.conn);
    if (masque_h2_requests(w->client.conn) > MASQUE_H2_MAX_REQUESTS ||
        masque_h2_requests(w->proxy.conn) > MASQUE_H2_MAX_REQUESTS) {
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
                                     .code = h2_code,
                                     .now_ms = now_ms,
                                     .step = step,
                                     .honest_code = honest_code};

static void check_end(const pair_world *w, const masque_h2_conn *c)
{
    uint64_t code = 0;
    masque_conn_end how = masque_h2_end_reason(c, &code);
    pair_check_end(w, how, code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const masque_policy open_policy = {NULL, 0, NULL, NULL, 1};
    static const uint8_t public_ip[4] = {192, 0, 2, 1};
    static int ready;
    static pair_world w; /* 192 KiB: the fingerprints of what each end sent, wrote and heard */
    masque_h2_config ccfg;
    masque_h2_config pcfg;
    int fds[2];
    int i;
    if (!ready) {
        if (gnutls_global_init() != 0 || make_pki(NULL) != 0 ||
            gnutls_certificate_allocate_credentials(&proxy_cred) != 0 ||
            gnutls_certificate_set_x509_key_file(proxy_cred, pki.cert_file, pki.key_file,
                                                 GNUTLS_X509_FMT_PEM) != 0 ||
            gnutls_certificate_allocate_credentials(&client_cred) != 0 ||
            gnutls_certificate_set_x509_trust_file(client_cred, pki.ca_file, GNUTLS_X509_FMT_PEM) !=
                1) {
            abort();
        }
        (void)atexit(drop_pki);
        ready = 1;
    }
    if (size < 2) {
        return 0;
    }
    memset(&w, 0, sizeof(w));
    w.b = &binding;
    w.flags = data[0];
    w.lossless = (w.flags & (FLAG_REFUSE | FLAG_NO_AUTH | FLAG_SMALL_BUF | FLAG_STRICT_TARGETS |
                             FLAG_QUICK_IDLE)) == 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) {
        abort();
    }
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = TEMPLATE;
    ccfg.credentials = client_cred; /* the client verifies the proxy */
    ccfg.stream_buffer = (w.flags & FLAG_SMALL_BUF) != 0 ? 2048u : 0u;
    ccfg.idle_timeout_ms = (w.flags & FLAG_QUICK_IDLE) != 0 ? 1u : 0u;
    ccfg.max_requests = 1u + (data[1] & 3u);
    pcfg = ccfg;
    pcfg.authority = NULL;
    pcfg.is_server = 1;
    pcfg.credentials = proxy_cred;
    pcfg.max_requests = 1u + ((data[1] >> 2) & 3u);
    pcfg.max_streams = (data[1] >> 4) & 3u; /* 0: the default; else requests wait */
    pcfg.max_peer_contexts = 4;
    pcfg.assign_rate = 50;
    masque_address_set_v4(&pcfg.public_address, public_ip, 4433);
    if ((w.flags & FLAG_STRICT_TARGETS) == 0) {
        pcfg.policy = &open_policy; /* the proxy relays to the script's peers */
    }
    w.proxy.conn = masque_h2_server_new(&pcfg, fds[1], &proxy_hooks, &w);
    w.client.conn = masque_h2_client_new(&ccfg, fds[0], &client_hooks, &w);
    if (w.proxy.conn == NULL || w.client.conn == NULL) {
        abort();
    }
    w.client.opened = 1;
    /* The handshake and the first request's answer, in as many rounds as they take (bounded),
     * so that the script starts from a settled tunnel (or refusal). */
    for (i = 0; i < 5000 && w.client.nheld == 0 && w.client.closed == 0 &&
                !masque_h2_is_closed(w.client.conn);
         i++) {
        step(&w);
    }
    pair_run_script(&w, data, size);
    pair_check_lossless(&w);
    check_end(&w, w.client.conn);
    check_end(&w, w.proxy.conn);
    masque_h2_free(w.client.conn);
    masque_h2_free(w.proxy.conn);
    pair_check_closes(&w);
    (void)close(fds[0]);
    (void)close(fds[1]);
    return 0;
}
