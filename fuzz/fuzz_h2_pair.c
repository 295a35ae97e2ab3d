/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the HTTP/2 binding (src/adapter/nghttp2/h2.c) at both ends, a client and a proxy
 * connection over real TLS on a socket pair, in one process, driven by a script as fuzz_quic
 * drives the HTTP/3 binding: the client opens requests, cancels and ends them, writes raw bytes
 * on their streams (capsules a hostile peer makes up), sends datagrams and registers contexts;
 * the proxy cancels, ends and writes raw bytes on the requests it accepted and sends datagrams
 * from peers; either closes its connection (GOAWAY); time goes on by steps, in which each end
 * reads, the timers that are due run and both ends write. Two bytes of settings first: the
 * proxy refusing (503 from on_request, 407 from on_authorize), small stream buffers, the
 * default target policy (else the proxy relays to the script's documentation addresses), 1-4
 * requests per connection on each side. Both ends answer every packet that comes out of a
 * request back to its peer, as the programs do from their sockets.
 * Checked, beyond ASan and UBSan: a client's request is ready at most once, with a 2xx; no hook
 * names a request the harness does not hold open; neither connection holds more than
 * MASQUE_H2_MAX_REQUESTS; once both are freed, on_close has come exactly once for every request
 * the client opened and every request the proxy accepted (h2.h promises both). Until raw bytes
 * go on a stream (the ends are honest): no request and no connection ends with an error
 * neither chose (only NO_ERROR, CANCEL, REFUSED_STREAM, ENHANCE_YOUR_CALM at -10 §9's bound,
 * INTERNAL_ERROR for a response a small stream buffer cannot hold, or a code the script gave
 * a cancel or a close), no connection breaks, and every packet an end hears is one the other
 * end sent on the same request, with the same peer and the same bytes.
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

#define TEMPLATE   "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/"
#define MAX_HELD   32
#define MAX_QUEUED 8
#define QUEUED_MAX 256
#define MAX_STEPS  64 /* of one script's time, in all: a bound, not a clock */

#define FLAG_REFUSE         0x01u /* the proxy's on_request answers 503 */
#define FLAG_NO_AUTH        0x02u /* the proxy's on_authorize answers 407 */
#define FLAG_SMALL_BUF      0x10u /* 2 KiB of capsules per request */
#define FLAG_STRICT_TARGETS 0x40u /* the default policy: the script's peers refused */

/* One end's requests that the harness holds open, and the packets to answer. */
typedef struct end {
    masque_h2_conn *conn;
    masque_h2_request *held[MAX_HELD];
    size_t nheld;
    uint64_t opened; /* client: requests opened; proxy: requests accepted */
    uint64_t closed; /* on_close calls */
    struct {
        masque_h2_request *r;
        masque_address peer;
        size_t len;
        uint8_t bytes[QUEUED_MAX];
    } queue[MAX_QUEUED];
    size_t nqueued;
    pair_sent sent; /* what this end sent through its requests */
} end;

typedef struct world {
    unsigned flags;
    end client;
    end proxy;
    pair_honesty honesty;
} world;

static gnutls_certificate_credentials_t proxy_cred;  /* tls_util.h's `localhost` */
static gnutls_certificate_credentials_t client_cred; /* trusts tls_util.h's CA */

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void drop_pki(void)
{
    gnutls_certificate_free_credentials(proxy_cred);
    gnutls_certificate_free_credentials(client_cred);
    (void)remove_pki(NULL);
}

/* The fingerprint set of what an end sent, keyed by the request's stream. */
static uint64_t stream_of(const masque_h2_request *r)
{
    return (uint64_t)(uint32_t)masque_h2_request_stream_id(r);
}

static size_t held_index(const end *e, const masque_h2_request *r)
{
    size_t i;
    for (i = 0; i < e->nheld && e->held[i] != r; i++) {
    }
    return i;
}

static void must_hold(const end *e, const masque_h2_request *r)
{
    if (held_index(e, r) == e->nheld) {
        abort(); /* a hook about a request that is not open */
    }
}

static void hold(end *e, masque_h2_request *r)
{
    if (e->nheld == MAX_HELD) {
        abort(); /* more than MASQUE_H2_MAX_REQUESTS on both ends together */
    }
    e->held[e->nheld++] = r;
}

/* on_packet: the request must be open, and its packet one that the other end (`from`) sent
 * on it; it is answered after the read. */
static void queue_packet(const world *w, end *e, const end *from, masque_h2_request *r,
                         const masque_address *peer, const uint8_t *bytes, size_t len)
{
    must_hold(e, r);
    if (!w->honesty.dishonest && !pair_was_sent(&from->sent, stream_of(r), peer, bytes, len)) {
        abort(); /* corrupted, made up, or another request's */
    }
    if (e->nqueued == MAX_QUEUED) {
        return;
    }
    e->queue[e->nqueued].r = r;
    e->queue[e->nqueued].peer = *peer;
    e->queue[e->nqueued].len = len < QUEUED_MAX ? len : QUEUED_MAX;
    memcpy(e->queue[e->nqueued].bytes, bytes, e->queue[e->nqueued].len);
    e->nqueued++;
}

/* Whether a request or a connection may end with `code` between the script's two ends. */
static int honest_end(const world *w, uint64_t code)
{
    return code == MASQUE_H2_NO_ERROR || code == MASQUE_H2_CANCEL ||
           code == MASQUE_H2_REFUSED_STREAM || code == MASQUE_H2_ENHANCE_YOUR_CALM ||
           (code == MASQUE_H2_INTERNAL_ERROR && (w->flags & FLAG_SMALL_BUF) != 0) ||
           pair_may_end_with(&w->honesty, code);
}

/* At the end of a script: a connection between honest ends closed with a code one chose. */
static void check_end(const world *w, const masque_h2_conn *c)
{
    uint64_t code = 0;
    masque_conn_end how = masque_h2_end_reason(c, &code);
    if (w->honesty.dishonest) {
        return;
    }
    if (how == MASQUE_CONN_BROKEN ||
        ((how == MASQUE_CONN_CLOSED_HERE || how == MASQUE_CONN_CLOSED_BY_PEER) &&
         !honest_end(w, code))) {
        abort(); /* a TLS failure or a protocol error that neither honest end made */
    }
}

/* on_close: the request is gone, and so are its packets. */
static void closed(const world *w, end *e, const masque_h2_request *r, uint32_t reason)
{
    size_t i = held_index(e, r);
    size_t j = 0;
    if (!honest_end(w, reason)) {
        abort(); /* an error between honest ends that neither chose */
    }
    if (i < e->nheld) {
        e->held[i] = e->held[--e->nheld];
    }
    for (i = 0; i < e->nqueued; i++) {
        if (e->queue[i].r != r) {
            e->queue[j++] = e->queue[i];
        }
    }
    e->nqueued = j;
    e->closed++;
}

static void client_ready(masque_h2_request *r, void *app)
{
    world *w = app;
    if (held_index(&w->client, r) == w->client.nheld) {
        hold(&w->client, r); /* the first request: the harness learns of it here */
    }
    if (masque_h2_request_status(r) / 100 != 2) {
        abort(); /* ready without a 2xx */
    }
    /* As masque-bind-client: the uncompressed context, so that any peer may be heard. */
    (void)masque_session_open_uncompressed(masque_h2_request_session(r), now_ms(), NULL);
}

static void client_packet(masque_h2_request *r, void *app, const masque_address *peer,
                          const uint8_t *bytes, size_t len)
{
    world *w = app;
    queue_packet(w, &w->client, &w->proxy, r, peer, bytes, len);
}

static void client_close(masque_h2_request *r, void *app, uint32_t reason)
{
    world *w = app;
    closed(w, &w->client, r, reason);
}

static void proxy_packet(masque_h2_request *r, void *app, const masque_address *peer,
                         const uint8_t *bytes, size_t len)
{
    world *w = app;
    queue_packet(w, &w->proxy, &w->client, r, peer, bytes, len);
}

static void proxy_close(masque_h2_request *r, void *app, uint32_t reason)
{
    world *w = app;
    must_hold(&w->proxy, r); /* only an accepted request has an on_close */
    closed(w, &w->proxy, r, reason);
}

static int proxy_request(masque_h2_request *r, void *app, masque_address *public_addresses,
                         size_t *count)
{
    world *w = app;
    (void)public_addresses;
    (void)count;
    if ((w->flags & FLAG_REFUSE) != 0) {
        return 503;
    }
    hold(&w->proxy, r);
    w->proxy.opened++;
    return 0;
}

static int proxy_authorize(masque_h2_request *r, void *app, masque_str proxy_authorization)
{
    const world *w = app;
    (void)r;
    (void)proxy_authorization;
    return (w->flags & FLAG_NO_AUTH) != 0;
}

static void on_event(masque_h2_request *r, void *app, const masque_event *ev)
{
    const world *w = app;
    (void)ev;
    if (held_index(&w->client, r) == w->client.nheld) {
        must_hold(&w->proxy, r);
    }
}

static const masque_h2_hooks client_hooks = {client_ready, client_packet, client_close, NULL,
                                             NULL,         on_event,      NULL};
static const masque_h2_hooks proxy_hooks = {NULL,          proxy_packet, proxy_close,    NULL,
                                            proxy_request, on_event,     proxy_authorize};

/* Each end answers the packets that came out of its requests, to their peers. */
static void answer(end *e)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + QUEUED_MAX];
    size_t i;
    for (i = 0; i < e->nqueued; i++) {
        masque_adapter *a = masque_h2_request_adapter(e->queue[i].r);
        memcpy(buf + MASQUE_BIND_HEADROOM, e->queue[i].bytes, e->queue[i].len);
        if (a != NULL) {
            pair_note_sent(&e->sent, stream_of(e->queue[i].r), &e->queue[i].peer, e->queue[i].bytes,
                           e->queue[i].len);
            (void)masque_adapter_write_datagram(a, &e->queue[i].peer, buf + MASQUE_BIND_HEADROOM,
                                                MASQUE_BIND_HEADROOM, e->queue[i].len, now_ms());
        }
    }
    e->nqueued = 0;
}

/* One round: both ends read, the packets answered, the due timers run, both ends written. */
static void step(world *w)
{
    (void)masque_h2_read(w->proxy.conn);
    (void)masque_h2_read(w->client.conn);
    answer(&w->client);
    answer(&w->proxy);
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

static uint8_t take(const uint8_t *data, size_t size, size_t *i)
{
    return *i < size ? data[(*i)++] : 0;
}

/* The request of index byte `k` an end holds, or NULL when it holds none. */
static masque_h2_request *held(const end *e, uint8_t k)
{
    return e->nheld == 0 ? NULL : e->held[k % e->nheld];
}

/* An HTTP/2 error code of the script's: the usual ones, or any. */
static uint32_t h2_code(uint8_t b)
{
    static const uint32_t codes[] = {MASQUE_H2_NO_ERROR, MASQUE_H2_CANCEL, MASQUE_H2_PROTOCOL_ERROR,
                                     MASQUE_H2_INTERNAL_ERROR};
    return b < 4 ? codes[b] : b;
}

/* Runs the script's operations; the op byte's low 4 bits choose, the next bytes are its own. */
static void run_script(world *w, const uint8_t *data, size_t size)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 256];
    size_t i = 2;
    size_t steps = 0;
    while (i < size && steps < MAX_STEPS) {
        uint8_t op = take(data, size, &i);
        uint8_t k = take(data, size, &i);
        masque_h2_request *cr = held(&w->client, k);
        masque_h2_request *pr = held(&w->proxy, k);
        masque_h2_request *r;
        size_t n;
        switch (op & 15u) {
        case 0:
            cr = masque_h2_request_open(w->client.conn, w);
            if (cr != NULL) {
                hold(&w->client, cr); /* from now: it may close before it is ready */
                w->client.opened++;
            }
            break;
        case 1:
        case 6: /* a request cancelled with a code of the script's: the client's, or the proxy's */
            r = (op & 15u) == 1 ? cr : pr;
            if (r != NULL) {
                (void)masque_h2_request_cancel(
                    r, (uint32_t)pair_chosen(&w->honesty, h2_code(take(data, size, &i))));
            }
            break;
        case 2:
        case 7: /* a request ended in order, by either end */
            r = (op & 15u) == 2 ? cr : pr;
            if (r != NULL) {
                (void)masque_h2_request_end(r);
            }
            break;
        case 3:
        case 8: /* raw bytes on a request stream: the client's, or the proxy's */
            r = (op & 15u) == 3 ? cr : pr;
            n = take(data, size, &i);
            n = n < size - i ? n : size - i;
            if (r != NULL) {
                w->honesty.dishonest = w->honesty.dishonest || n > 0;
                (void)masque_h2_request_write_stream(r, data + i, n);
            }
            i += n;
            break;
        case 4:
        case 9: /* a datagram from the client to a peer, or from a peer through the proxy */
        {
            masque_address peer = pair_peer_of(take(data, size, &i));
            r = (op & 15u) == 4 ? cr : pr;
            n = take(data, size, &i) % 64u;
            n = n < size - i ? n : size - i;
            memcpy(buf + MASQUE_BIND_HEADROOM, data + i, n);
            i += n;
            if (r != NULL && masque_h2_request_adapter(r) != NULL) {
                pair_note_sent((op & 15u) == 4 ? &w->client.sent : &w->proxy.sent, stream_of(r),
                               &peer, buf + MASQUE_BIND_HEADROOM, n);
                (void)masque_adapter_write_datagram(masque_h2_request_adapter(r), &peer,
                                                    buf + MASQUE_BIND_HEADROOM,
                                                    MASQUE_BIND_HEADROOM, n, now_ms());
            }
            break;
        }
        case 5:
            n = 1u + k % 8u;
            while (n-- > 0 && steps < MAX_STEPS) {
                step(w);
                steps++;
            }
            continue;
        case 10:
            if (cr != NULL && masque_h2_request_session(cr) != NULL) {
                masque_address peer = pair_peer_of(take(data, size, &i));
                (void)masque_session_open_context(masque_h2_request_session(cr), &peer, now_ms(),
                                                  NULL);
            }
            break;
        case 11:
            (void)masque_h2_close(w->client.conn, (uint32_t)pair_chosen(&w->honesty, h2_code(k)));
            break;
        case 12:
            (void)masque_h2_close(w->proxy.conn, (uint32_t)pair_chosen(&w->honesty, h2_code(k)));
            break;
        default:
            (void)masque_h2_tick(w->client.conn); /* a timer run early does no harm */
            break;
        }
        step(w);
        steps++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const masque_policy open_policy = {NULL, 0, NULL, NULL, 1};
    static const uint8_t public_ip[4] = {192, 0, 2, 1};
    static int ready;
    static world w; /* 64 KiB: the fingerprints of what each end sent */
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
    w.flags = data[0];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) {
        abort();
    }
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = TEMPLATE;
    ccfg.credentials = client_cred; /* the client verifies the proxy */
    ccfg.stream_buffer = (w.flags & FLAG_SMALL_BUF) != 0 ? 2048u : 0u;
    ccfg.max_requests = 1u + (data[1] & 3u);
    pcfg = ccfg;
    pcfg.authority = NULL;
    pcfg.is_server = 1;
    pcfg.credentials = proxy_cred;
    pcfg.max_requests = 1u + ((data[1] >> 2) & 3u);
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
    run_script(&w, data, size);
    for (i = 0; i < 4; i++) {
        step(&w);
    }
    check_end(&w, w.client.conn);
    check_end(&w, w.proxy.conn);
    masque_h2_free(w.client.conn);
    if (w.client.closed != w.client.opened) {
        abort(); /* a request of the client's without exactly one on_close */
    }
    masque_h2_free(w.proxy.conn);
    if (w.proxy.closed != w.proxy.opened) {
        abort(); /* an accepted request without exactly one on_close */
    }
    (void)close(fds[0]);
    (void)close(fds[1]);
    return 0;
}
