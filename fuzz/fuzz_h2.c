/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the HTTP/2 binding (src/adapter/nghttp2/h2.c) as a hostile peer reaches it,
 * through real TLS on a socket pair, in either role. After two bytes of settings, the input is
 * what the peer writes: as a client, what follows the connection preface (RFC 9113 §3.4); as a
 * proxy, its whole side, SETTINGS first or not. Frames of any kind, in any order, with header
 * blocks of its choosing. They go in records of a size the settings choose, and between records
 * the binding reads, writes and (as the settings say) ticks, while the peer reads all it is
 * sent. A proxy accepts each Bind request or refuses it (503 from on_request, 407 from
 * on_authorize) as the settings say; a client opens one or two requests, the uncompressed
 * context once one is accepted (as masque-bind-client does), and may end one in order. Either
 * sends each packet that comes out of a request back to its peer after the read, as the
 * programs answer from their sockets.
 * Checked, beyond ASan and UBSan: a client's request is ready at most once; no hook names an
 * accepted request after its on_close; the binding never holds more requests than
 * MASQUE_H2_MAX_REQUESTS; closing and freeing the connection ends every accepted request with
 * its on_close.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "masque/h2.h"
#include "masque/masque.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEMPLATE       "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/"
#define MAX_ACCEPTED   64
#define MAX_QUEUED     8
#define QUEUED_BYTES   256
#define PREFACE        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define FLAG_REFUSE    0x01u /* proxy: on_request answers 503; client: a second request */
#define FLAG_NO_AUTH   0x02u /* proxy: on_authorize answers 407; client: ends one in order */
#define FLAG_TICK      0x04u /* the timers run between records */
#define FLAG_GOAWAY    0x08u /* the proxy closes in order (GOAWAY) before it frees */
#define FLAG_SMALL_BUF 0x10u /* 1 KiB of capsules per request: the bounds are reached */
/* The second byte: the record size (low 3 bits), max_requests - 1 (the next 2), and the role
 * (the top bit: the binding is the client). */
#define ROLE_CLIENT    0x80u

/* A packet a request gave the proxy, to be sent back after the read. */
typedef struct queued {
    masque_h2_request *r;
    masque_address peer;
    size_t len;
    uint8_t bytes[QUEUED_BYTES];
} queued;

typedef struct harness {
    unsigned flags;
    masque_h2_request *accepted[MAX_ACCEPTED]; /* accepted and not yet closed */
    size_t naccepted;
    queued queue[MAX_QUEUED];
    size_t nqueued;
} harness;

static gnutls_certificate_credentials_t server_cred;
static gnutls_certificate_credentials_t client_cred;

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The proxy's certificate, made once: ECDSA P-256, for localhost; and the trust a client
 * verifies it with (the binding as a client does; the harness as a client need not). */
static void make_credentials(void)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    time_t now = time(NULL);
    if (gnutls_global_init() != 0 || gnutls_x509_privkey_init(&key) != 0 ||
        gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) != 0 ||
        gnutls_x509_crt_init(&crt) != 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9) != 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                             GNUTLS_FSAN_SET) != 0 ||
        gnutls_x509_crt_set_version(crt, 3) != 0 ||
        gnutls_x509_crt_set_serial(crt, "\x01", 1) != 0 ||
        gnutls_x509_crt_set_activation_time(crt, now - 3600) != 0 ||
        gnutls_x509_crt_set_expiration_time(crt, now + 86400) != 0 ||
        gnutls_x509_crt_set_key(crt, key) != 0 ||
        gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) != 0 ||
        gnutls_certificate_allocate_credentials(&server_cred) != 0 ||
        gnutls_certificate_set_x509_key(server_cred, &crt, 1, key) != 0 ||
        gnutls_certificate_allocate_credentials(&client_cred) != 0 ||
        gnutls_certificate_set_x509_trust(client_cred, &crt, 1) != 1) {
        abort(); /* the harness, not the binding */
    }
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
}

static size_t accepted_index(const harness *h, const masque_h2_request *r)
{
    size_t i;
    for (i = 0; i < h->naccepted && h->accepted[i] != r; i++) {
    }
    return i;
}

/* A hook about an accepted request must find it open. */
static void must_be_open(const harness *h, const masque_h2_request *r)
{
    if (accepted_index(h, r) == h->naccepted) {
        abort();
    }
}

static int on_request(masque_h2_request *r, void *app, masque_address *public_addresses,
                      size_t *count)
{
    harness *h = app;
    (void)public_addresses;
    (void)count;
    if ((h->flags & FLAG_REFUSE) != 0 || h->naccepted == MAX_ACCEPTED) {
        return 1;
    }
    h->accepted[h->naccepted++] = r;
    masque_h2_request_set_app(r, h);
    return 0;
}

/* Client: the proxy accepted the request; the uncompressed context, as the client program. */
static void on_ready(masque_h2_request *r, void *app)
{
    harness *h = app;
    uint64_t id;
    if (accepted_index(h, r) != h->naccepted || h->naccepted == MAX_ACCEPTED) {
        abort(); /* ready twice */
    }
    h->accepted[h->naccepted++] = r;
    (void)masque_session_open_uncompressed(masque_h2_request_session(r), now_ms(), &id);
}

static int on_authorize(masque_h2_request *r, void *app, masque_str proxy_authorization)
{
    const harness *h = app;
    (void)r;
    (void)proxy_authorization;
    return (h->flags & FLAG_NO_AUTH) != 0;
}

static void on_packet(masque_h2_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    harness *h = app;
    queued *q;
    must_be_open(h, r);
    if (h->nqueued == MAX_QUEUED) {
        return;
    }
    q = &h->queue[h->nqueued++];
    q->r = r;
    q->peer = *peer;
    q->len = len < QUEUED_BYTES ? len : QUEUED_BYTES;
    memcpy(q->bytes, data, q->len);
}

static void on_event(masque_h2_request *r, void *app, const masque_event *ev)
{
    (void)ev;
    must_be_open(app, r);
}

static void on_close(masque_h2_request *r, void *app, uint32_t h2_error)
{
    harness *h = app;
    size_t i = accepted_index(h, r);
    size_t j = 0;
    (void)h2_error;
    if (i < h->naccepted) {
        h->accepted[i] = h->accepted[--h->naccepted];
    }
    for (i = 0; i < h->nqueued; i++) { /* its packets go nowhere now */
        if (h->queue[i].r != r) {
            h->queue[j++] = h->queue[i];
        }
    }
    h->nqueued = j;
}

static const masque_h2_hooks hooks = {on_ready,   on_packet, on_close,    NULL,
                                      on_request, on_event,  on_authorize};

/* The binding's turn: read what the peer sent, answer the packets that came out, write; the
 * peer reads (and drops) all it was sent. */
static void pump(masque_h2_conn *c, gnutls_session_t peer, harness *h)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + QUEUED_BYTES];
    uint8_t sink[16384];
    size_t i;
    (void)masque_h2_read(c);
    for (i = 0; i < h->nqueued; i++) {
        masque_adapter *a = masque_h2_request_adapter(h->queue[i].r);
        memcpy(buf + MASQUE_BIND_HEADROOM, h->queue[i].bytes, h->queue[i].len);
        if (a != NULL) {
            (void)masque_adapter_write_datagram(a, &h->queue[i].peer, buf + MASQUE_BIND_HEADROOM,
                                                MASQUE_BIND_HEADROOM, h->queue[i].len, now_ms());
        }
    }
    h->nqueued = 0;
    if ((h->flags & FLAG_TICK) != 0) {
        (void)masque_h2_tick(c);
    }
    (void)masque_h2_write(c);
    if (masque_h2_requests(c) > MASQUE_H2_MAX_REQUESTS) {
        abort();
    }
    while (gnutls_record_recv(peer, sink, sizeof(sink)) > 0) {
    }
}

/* Writes n bytes as the peer, in records of at most `record` bytes, the binding taking its
 * turn after each; stops when the binding has closed. */
static void peer_write(masque_h2_conn *c, gnutls_session_t peer, harness *h, const uint8_t *p,
                       size_t n, size_t record)
{
    size_t stalls = 0;
    while (n > 0 && !masque_h2_is_closed(c) && stalls < 64) {
        ssize_t sent = gnutls_record_send(peer, p, n < record ? n : record);
        if (sent > 0) {
            p += sent;
            n -= (size_t)sent;
            stalls = 0;
        } else if (sent != GNUTLS_E_AGAIN && sent != GNUTLS_E_INTERRUPTED) {
            return; /* the binding went: the TLS connection is over */
        } else {
            stalls++;
        }
        pump(c, peer, h);
    }
}

/* The binding's end: a proxy serving the peer, or a client with its first request (and a
 * second one, as the flags say). */
static masque_h2_conn *binding_new(harness *h, int fd, int client, unsigned sizes)
{
    static const uint8_t public_ip[4] = {192, 0, 2, 1};
    masque_h2_config cfg;
    masque_h2_conn *c;
    memset(&cfg, 0, sizeof(cfg));
    cfg.uri_template = TEMPLATE;
    cfg.stream_buffer = (h->flags & FLAG_SMALL_BUF) != 0 ? 1024u : 0u;
    cfg.max_requests = 1u + (size_t)((sizes >> 3) & 3u);
    cfg.max_peer_contexts = 4;
    cfg.assign_rate = 50;
    if (!client) {
        cfg.credentials = server_cred;
        masque_address_set_v4(&cfg.public_address, public_ip, 4433);
        return masque_h2_server_new(&cfg, fd, &hooks, h);
    }
    cfg.credentials = client_cred; /* the proxy's certificate is verified, for localhost */
    cfg.authority = "localhost";
    c = masque_h2_client_new(&cfg, fd, &hooks, h);
    if (c != NULL && (h->flags & FLAG_REFUSE) != 0) {
        (void)masque_h2_request_open(c, h);
    }
    return c;
}

/* The peer's end of TLS, ALPN h2: a client (that does not verify), or the proxy. */
static gnutls_session_t peer_new(int fd, int client_binding)
{
    static const gnutls_datum_t alpn = {(unsigned char *)"h2", 2};
    gnutls_session_t peer;
    if (gnutls_init(&peer, (client_binding ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK) !=
            0 ||
        gnutls_set_default_priority(peer) != 0 ||
        gnutls_credentials_set(peer, GNUTLS_CRD_CERTIFICATE,
                               client_binding ? server_cred : client_cred) != 0 ||
        gnutls_alpn_set_protocols(peer, &alpn, 1, 0) != 0 ||
        (!client_binding && gnutls_server_name_set(peer, GNUTLS_NAME_DNS, "localhost", 9) != 0)) {
        abort();
    }
    gnutls_transport_set_int(peer, fd);
    return peer;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t records[] = {1, 9, 100, 1000, 16384, 16384, 16384, 16384};
    static int ready;
    harness h;
    masque_h2_conn *c;
    gnutls_session_t peer;
    int fds[2];
    int client;
    int i;
    int rc = GNUTLS_E_AGAIN;
    if (!ready) {
        make_credentials();
        ready = 1;
    }
    if (size < 2) {
        return 0;
    }
    memset(&h, 0, sizeof(h));
    h.flags = data[0];
    client = (data[1] & ROLE_CLIENT) != 0;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
        abort();
    }
    (void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(fds[1], F_SETFL, O_NONBLOCK);
    c = binding_new(&h, fds[0], client, data[1]);
    if (c == NULL) {
        abort();
    }
    peer = peer_new(fds[1], client);
    for (i = 0; i < 64 && rc != 0; i++) {
        rc = gnutls_handshake(peer);
        if (rc < 0 && gnutls_error_is_fatal(rc)) {
            abort(); /* the binding failed a correct handshake */
        }
        (void)masque_h2_write(c);
        (void)masque_h2_read(c);
        (void)masque_h2_write(c);
    }
    if (rc != 0) {
        abort();
    }
    if (!client) {
        peer_write(c, peer, &h, (const uint8_t *)PREFACE, sizeof(PREFACE) - 1, 16384);
    }
    peer_write(c, peer, &h, data + 2, size - 2, records[data[1] & 7u]);
    pump(c, peer, &h);
    if (client && (h.flags & FLAG_NO_AUTH) != 0 && h.naccepted > 0) {
        (void)masque_h2_request_end(h.accepted[0]);
        pump(c, peer, &h);
    }
    if ((h.flags & FLAG_GOAWAY) != 0) {
        (void)masque_h2_close(c, 0);
        pump(c, peer, &h);
    }
    masque_h2_free(c);
    if (h.naccepted != 0) {
        abort(); /* an accepted request ended without its on_close */
    }
    gnutls_deinit(peer);
    (void)close(fds[0]);
    (void)close(fds[1]);
    return 0;
}
