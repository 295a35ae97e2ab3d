/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: the HTTP/3 binding (src/adapter/ngtcp2/quic.c) with a client and a proxy
 * connection over real QUIC on loopback, in one process, driven by a script: the client opens
 * requests, cancels and ends them, writes raw bytes on their streams (capsules a hostile peer
 * makes up), sends datagrams and registers contexts; the proxy cancels, ends and writes raw
 * bytes on the requests it accepted; either closes its connection; time goes on by steps, in
 * which each socket is read, the timers that are due run and both connections write. Two bytes
 * of settings first: the proxy refusing (503 from on_request, 407 from on_authorize), capsules
 * instead of HTTP/3 datagrams on either side, small stream buffers, 1-4 requests per
 * connection, SETTINGS_ENABLE_CONNECT_PROTOCOL withheld, the default target policy (else the
 * proxy relays to the script's documentation addresses). Both ends answer every packet that
 * comes out of a request back to its peer, as the programs do from their sockets.
 * Checked, beyond ASan and UBSan: a client's request is ready at most once; no hook names a
 * request the harness does not hold open (after its on_close, or a proxy's that it refused);
 * neither connection holds more than MASQUE_QUIC_MAX_REQUESTS requests; when the connections
 * are freed, on_close has come exactly once for every request the client opened and for every
 * request the proxy accepted (quic.h promises both). Between honest ends (no raw bytes written
 * on a stream so far) no request and no connection ends with an error neither chose: only
 * with H3_NO_ERROR, H3_REQUEST_CANCELLED, H3_REQUEST_REJECTED (GOAWAY), H3_EXCESSIVE_LOAD
 * (ASSIGNs faster than the proxy's answers can leave, -10 §9) or a code the script passed to a
 * cancel or a close; no connection breaks (a QUIC transport error); and every packet an end
 * hears is one the other end sent on the same request (stream), to or from the same peer,
 * with the same bytes: nothing is corrupted, made up, or delivered to another request.
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

#define TEMPLATE   "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/"
#define MAX_HELD   32
#define MAX_QUEUED 8
#define QUEUED_MAX 256
#define MAX_STEPS  64 /* of one script's time, in all: a bound, not a clock */

#define FLAG_REFUSE         0x01u /* the proxy's on_request answers 503 */
#define FLAG_NO_AUTH        0x02u /* the proxy's on_authorize answers 407 */
#define FLAG_CLIENT_CAPSULE 0x04u /* the client offers no HTTP/3 datagrams */
#define FLAG_PROXY_CAPSULE  0x08u /* nor does the proxy */
#define FLAG_SMALL_BUF      0x10u /* 2 KiB of capsules per request */
#define FLAG_NO_CONNECT     0x20u /* the proxy withholds SETTINGS_ENABLE_CONNECT_PROTOCOL */
#define FLAG_STRICT_TARGETS 0x40u /* the default policy: the script's peers refused */

/* One end's requests that the harness holds open, and the packets to answer. */
typedef struct end {
    masque_quic_conn *conn;
    masque_quic_request *held[MAX_HELD];
    size_t nheld;
    uint64_t opened; /* client: requests opened; proxy: requests accepted */
    uint64_t closed; /* on_close calls */
    struct {
        masque_quic_request *r;
        masque_address peer;
        size_t len;
        uint8_t bytes[QUEUED_MAX];
    } queue[MAX_QUEUED];
    size_t nqueued;
    pair_sent sent; /* what this end sent through its requests */
} end;

typedef struct world {
    unsigned flags;
    int proxy_fd;
    int client_fd;
    struct sockaddr_in proxy_addr;
    struct sockaddr_in client_addr;
    masque_quic_config proxy_cfg;
    end client;
    end proxy;
    pair_honesty honesty;
} world;

static masque_quic_credentials *credentials; /* the proxy's, from tls_util.h's `pki` */

/* The fingerprint set of what an end sent, keyed by the request's stream. */
static uint64_t stream_of(const masque_quic_request *r)
{
    return (uint64_t)masque_quic_request_stream_id(r);
}

/* The binding's clock, in the ms its sessions count. */
static uint64_t now_ms(void)
{
    return masque_quic_now_ns() / 1000000u;
}

static void drop_pki(void)
{
    masque_quic_credentials_release(credentials);
    (void)remove_pki(NULL);
}

static size_t held_index(const end *e, const masque_quic_request *r)
{
    size_t i;
    for (i = 0; i < e->nheld && e->held[i] != r; i++) {
    }
    return i;
}

static void must_hold(const end *e, const masque_quic_request *r)
{
    if (held_index(e, r) == e->nheld) {
        abort(); /* a hook about a request that is not open */
    }
}

static void hold(end *e, masque_quic_request *r)
{
    if (e->nheld == MAX_HELD) {
        abort(); /* more than MASQUE_QUIC_MAX_REQUESTS on both ends together */
    }
    e->held[e->nheld++] = r;
}

/* on_packet: the request must be open, and its packet one that the other end (`from`) sent
 * on it; it is answered after the read. */
static void queue_packet(const world *w, end *e, const end *from, masque_quic_request *r,
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
    return code == MASQUE_H3_NO_ERROR || code == MASQUE_H3_REQUEST_CANCELLED ||
           code == MASQUE_H3_REQUEST_REJECTED || code == MASQUE_H3_EXCESSIVE_LOAD ||
           pair_may_end_with(&w->honesty, code);
}

/* At the end of a script: a connection between honest ends closed with a code one chose. */
static void check_end(const world *w, const masque_quic_conn *c)
{
    uint64_t code = 0;
    masque_conn_end how = masque_quic_end_reason(c, &code);
    if (w->honesty.dishonest) {
        return;
    }
    if (how == MASQUE_CONN_BROKEN ||
        ((how == MASQUE_CONN_CLOSED_HERE || how == MASQUE_CONN_CLOSED_BY_PEER) && code != 0 &&
         !honest_end(w, code))) {
        abort(); /* a transport or protocol error that neither honest end made */
    }
}

/* on_close: the request is gone, and so are its packets. */
static void closed(world *w, end *e, const masque_quic_request *r, uint64_t reason)
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

static void client_ready(masque_quic_request *r, void *app)
{
    world *w = app;
    if (held_index(&w->client, r) == w->client.nheld) {
        hold(&w->client, r); /* the first request: the harness learns of it here */
    }
    if (masque_quic_request_status(r) / 100 != 2) {
        abort(); /* ready without a 2xx */
    }
    /* As masque-bind-client: the uncompressed context, so that any peer may be heard. */
    (void)masque_session_open_uncompressed(masque_quic_request_session(r), now_ms(), NULL);
}

static void client_packet(masque_quic_request *r, void *app, const masque_address *peer,
                          const uint8_t *bytes, size_t len)
{
    world *w = app;
    queue_packet(w, &w->client, &w->proxy, r, peer, bytes, len);
}

static void client_close(masque_quic_request *r, void *app, uint64_t reason)
{
    world *w = app;
    closed(w, &w->client, r, reason);
}

static void proxy_packet(masque_quic_request *r, void *app, const masque_address *peer,
                         const uint8_t *bytes, size_t len)
{
    world *w = app;
    queue_packet(w, &w->proxy, &w->client, r, peer, bytes, len);
}

static void proxy_close(masque_quic_request *r, void *app, uint64_t reason)
{
    world *w = app;
    must_hold(&w->proxy, r); /* only an accepted request has an on_close */
    closed(w, &w->proxy, r, reason);
}

static int proxy_request(masque_quic_request *r, void *app, masque_address *public_addresses,
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

static int proxy_authorize(masque_quic_request *r, void *app, masque_str proxy_authorization)
{
    const world *w = app;
    (void)r;
    (void)proxy_authorization;
    return (w->flags & FLAG_NO_AUTH) != 0;
}

static void on_event(masque_quic_request *r, void *app, const masque_event *ev)
{
    const world *w = app;
    (void)ev;
    if (held_index(&w->client, r) == w->client.nheld) {
        must_hold(&w->proxy, r);
    }
}

static const masque_quic_hooks client_hooks = {client_ready, client_packet, client_close, NULL,
                                               NULL,         on_event,      NULL};
static const masque_quic_hooks proxy_hooks = {NULL,          proxy_packet, proxy_close,    NULL,
                                              proxy_request, on_event,     proxy_authorize};

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

/* Each end answers the packets that came out of its requests, to their peers. */
static void answer(end *e)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + QUEUED_MAX];
    size_t i;
    for (i = 0; i < e->nqueued; i++) {
        masque_adapter *a = masque_quic_request_adapter(e->queue[i].r);
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

/* One round: the sockets read, the packets answered, the due timers run, both ends written. */
static void step(world *w)
{
    static uint8_t buf[65536];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n;
    while ((n = recvfrom(w->proxy_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) > 0) {
        if (w->proxy.conn == NULL) {
            w->proxy.conn = masque_quic_server_accept(
                &w->proxy_cfg, w->proxy_fd, (struct sockaddr *)&w->proxy_addr,
                sizeof(w->proxy_addr), (struct sockaddr *)&from, fl, buf, (size_t)n, &proxy_hooks,
                w);
        }
        if (w->proxy.conn != NULL) {
            (void)masque_quic_read_from(w->proxy.conn, (struct sockaddr *)&from, fl, buf,
                                        (size_t)n);
        }
        fl = sizeof(from);
    }
    (void)masque_quic_read_socket(w->client.conn);
    answer(&w->client);
    answer(&w->proxy);
    if (masque_quic_now_ns() >= masque_quic_next_timeout(w->client.conn)) {
        (void)masque_quic_tick(w->client.conn);
    }
    if (w->proxy.conn != NULL && masque_quic_now_ns() >= masque_quic_next_timeout(w->proxy.conn)) {
        (void)masque_quic_tick(w->proxy.conn);
    }
    (void)masque_quic_write(w->client.conn);
    if (w->proxy.conn != NULL) {
        (void)masque_quic_write(w->proxy.conn);
        if (masque_quic_requests(w->proxy.conn) > MASQUE_QUIC_MAX_REQUESTS) {
            abort();
        }
    }
    if (masque_quic_requests(w->client.conn) > MASQUE_QUIC_MAX_REQUESTS) {
        abort();
    }
}

static uint8_t take(const uint8_t *data, size_t size, size_t *i)
{
    return *i < size ? data[(*i)++] : 0;
}

/* The request of index byte `k` an end holds, or NULL when it holds none. */
static masque_quic_request *held(const end *e, uint8_t k)
{
    return e->nheld == 0 ? NULL : e->held[k % e->nheld];
}

/* An HTTP/3 error code of the script's: the usual ones, or any. */
static uint64_t h3_code(uint8_t b)
{
    static const uint64_t codes[] = {MASQUE_H3_NO_ERROR, MASQUE_H3_REQUEST_CANCELLED,
                                     MASQUE_H3_MESSAGE_ERROR, MASQUE_H3_DATAGRAM_ERROR};
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
        masque_quic_request *cr = held(&w->client, k);
        masque_quic_request *pr = held(&w->proxy, k);
        masque_quic_request *r;
        size_t n;
        switch (op & 15u) {
        case 0:
            cr = masque_quic_request_open(w->client.conn, w);
            if (cr != NULL) {
                hold(&w->client, cr); /* from now: it may close before it is ready */
                w->client.opened++;
            }
            break;
        case 1:
        case 6: /* a request cancelled with a code of the script's: the client's, or the proxy's */
            r = (op & 15u) == 1 ? cr : pr;
            if (r != NULL) {
                (void)masque_quic_request_cancel(
                    r, pair_chosen(&w->honesty, h3_code(take(data, size, &i))));
            }
            break;
        case 2:
        case 7: /* a request ended in order, by either end */
            r = (op & 15u) == 2 ? cr : pr;
            if (r != NULL) {
                (void)masque_quic_request_end(r);
            }
            break;
        case 3:
        case 8: /* raw bytes on a request stream: the client's, or the proxy's */
            r = (op & 15u) == 3 ? cr : pr;
            n = take(data, size, &i);
            n = n < size - i ? n : size - i;
            if (r != NULL) {
                w->honesty.dishonest = w->honesty.dishonest || n > 0;
                (void)masque_quic_request_write_stream(r, data + i, n);
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
            if (r != NULL && masque_quic_request_adapter(r) != NULL) {
                pair_note_sent((op & 15u) == 4 ? &w->client.sent : &w->proxy.sent, stream_of(r),
                               &peer, buf + MASQUE_BIND_HEADROOM, n);
                (void)masque_adapter_write_datagram(masque_quic_request_adapter(r), &peer,
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
            if (cr != NULL && masque_quic_request_session(cr) != NULL) {
                masque_address peer = pair_peer_of(take(data, size, &i));
                (void)masque_session_open_context(masque_quic_request_session(cr), &peer, now_ms(),
                                                  NULL);
            }
            break;
        case 11:
            (void)masque_quic_close(w->client.conn, pair_chosen(&w->honesty, h3_code(k)));
            break;
        case 12:
            if (w->proxy.conn != NULL) {
                (void)masque_quic_close(w->proxy.conn, pair_chosen(&w->honesty, h3_code(k)));
            }
            break;
        default:
            (void)masque_quic_tick(w->client.conn); /* a timer run early does no harm */
            break;
        }
        step(w);
        steps++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const masque_policy open_policy = {NULL, 0, NULL, NULL, 1};
    static int ready;
    masque_quic_config ccfg;
    static world w; /* 64 KiB: the fingerprints of what each end sent */
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
    w.flags = data[0];
    w.proxy_fd = udp_socket(&w.proxy_addr);
    w.client_fd = udp_socket(&w.client_addr);
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = TEMPLATE;
    ccfg.ca_file = pki.ca_file; /* the client verifies the proxy */
    ccfg.force_capsules = (w.flags & FLAG_CLIENT_CAPSULE) != 0;
    ccfg.stream_buffer = (w.flags & FLAG_SMALL_BUF) != 0 ? 2048u : 0u;
    ccfg.max_requests = 1u + (data[1] & 3u);
    w.proxy_cfg = ccfg;
    w.proxy_cfg.ca_file = NULL;
    w.proxy_cfg.is_server = 1;
    w.proxy_cfg.credentials = credentials;
    w.proxy_cfg.force_capsules = (w.flags & FLAG_PROXY_CAPSULE) != 0;
    w.proxy_cfg.max_requests = 1u + ((data[1] >> 2) & 3u);
    w.proxy_cfg.withhold_connect_protocol = (w.flags & FLAG_NO_CONNECT) != 0;
    w.proxy_cfg.max_peer_contexts = 4;
    if ((w.flags & FLAG_STRICT_TARGETS) == 0) {
        w.proxy_cfg.policy = &open_policy; /* the proxy relays to the script's peers */
    }
    w.proxy_cfg.assign_rate = 50;
    (void)masque_address_from_sockaddr((struct sockaddr *)&w.proxy_addr, sizeof(w.proxy_addr),
                                       &w.proxy_cfg.public_address);
    w.client.conn = masque_quic_client_new(&ccfg, w.client_fd, (struct sockaddr *)&w.client_addr,
                                           sizeof(w.client_addr), (struct sockaddr *)&w.proxy_addr,
                                           sizeof(w.proxy_addr), &client_hooks, &w);
    if (w.client.conn == NULL) {
        abort();
    }
    w.client.opened = 1;
    /* The handshake and the first request's answer: as many rounds as the pacing of the QUIC
     * stack takes on this clock (bounded), so that the script starts from a settled tunnel
     * (or refusal), not from wherever the machine's speed left it. */
    for (i = 0; i < 5000 && w.client.nheld == 0 && w.client.closed == 0 &&
                !masque_quic_is_closed(w.client.conn);
         i++) {
        step(&w);
    }
    run_script(&w, data, size);
    for (i = 0; i < 4; i++) {
        step(&w);
    }
    check_end(&w, w.client.conn);
    if (w.proxy.conn != NULL) {
        check_end(&w, w.proxy.conn);
    }
    masque_quic_free(w.client.conn);
    if (w.client.closed != w.client.opened) {
        abort(); /* a request of the client's without exactly one on_close */
    }
    masque_quic_free(w.proxy.conn);
    if (w.proxy.closed != w.proxy.opened) {
        abort(); /* an accepted request without exactly one on_close */
    }
    (void)close(w.proxy_fd);
    (void)close(w.client_fd);
    return 0;
}
