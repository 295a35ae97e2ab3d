/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The harness of the fuzz targets that put a binding at both ends, a client and a proxy in one
 * process (fuzz_quic over HTTP/3, fuzz_h2_pair over HTTP/2): the script, the requests each end
 * holds, the packets each end answers, and the checks. A target supplies its binding's calls
 * (pair_binding), one round of I/O and timers, the hooks that hand their typed arguments to
 * the pair_on_* functions here, and the set-up of its two connections.
 *
 * The script: two bytes of settings (the target's flags; the requests per connection at the
 * client and the proxy, and the proxy's stream limit, two bits each; then a bit of the
 * target's), then
 * operations, the low 4 bits of an op byte choosing and the next byte (k) naming a request:
 * 0 the client opens a request; 1/6 the client/proxy cancels one with a code of the script's;
 * 2/7 the client/proxy ends one in order; 3/8 the client/proxy writes raw bytes on its stream
 * (capsules a hostile peer makes up); 4/9 a datagram from the client to a peer, or from a peer
 * through the proxy; 5 rounds of time; 10 the client registers a context; 11/12 the
 * client/proxy closes its connection; else a timer run early. Both ends answer every packet
 * that comes out of a request back to its peer, as the programs do from their sockets.
 *
 * Checked: a client's request is ready at most once, and with a 2xx; no hook names a request
 * the harness does not hold open; once both connections are freed, on_close has come exactly
 * once for every request the client opened and every request the proxy accepted. Until raw
 * bytes go on a stream (the ends are honest): no request and no connection ends with an error
 * neither end chose (the binding names those its honest ends may end with; beyond them, only a
 * code the script gave a cancel or a close), and every packet an end hears is one the other end
 * sent on the same request, to or from the same peer, with the same bytes (each end keeps a set
 * of fingerprints of what it sent). And where nothing may be lost (datagrams in capsules on a
 * stream, RFC 9297 §3.2; a script of datagrams and time alone; no request ended), the ends stop
 * answering, what is in flight drains, and every datagram an end's adapter took (MASQUE_OK) has
 * reached the other.
 */
#ifndef MASQUE_FUZZ_PAIR_H
#define MASQUE_FUZZ_PAIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "masque/adapter.h"
#include "masque/address.h"
#include "masque/datagram.h"
#include "masque/session.h"

#define PAIR_SENT_SLOTS 4096 /* fingerprints of the packets one end sent, open addressing */
#define PAIR_MAX_CODES  16   /* error codes one script chooses */
#define PAIR_MAX_HELD   32
#define PAIR_MAX_QUEUED 8
#define PAIR_QUEUED_MAX 256
#define PAIR_MAX_STEPS  64 /* of one script's time, in all: a bound, not a clock */
#define PAIR_DRAIN      16 /* rounds for what is in flight once the ends stop answering */

/* A set of packets (request, peer, bytes), as fingerprints. */
typedef struct pair_sent {
    uint64_t slots[PAIR_SENT_SLOTS]; /* 0: empty */
    size_t count;
    int full; /* half the slots taken: no longer recorded, nor checked */
} pair_sent;

/* What one end sent, of that what its adapter took, and what it heard. */
typedef struct pair_records {
    pair_sent sent;    /* every datagram it sent through its requests */
    pair_sent written; /* of those, what masque_adapter_write_datagram() took (MASQUE_OK) */
    pair_sent heard;   /* what came out of its requests */
} pair_records;

/* One end: its connection, the requests the harness holds open, the packets to answer. */
typedef struct pair_end {
    void *conn;
    void *held[PAIR_MAX_HELD];
    size_t nheld;
    uint64_t opened; /* client: requests opened; proxy: requests accepted */
    uint64_t closed; /* on_close calls */
    struct {
        void *r;
        masque_address peer;
        size_t len;
        uint8_t bytes[PAIR_QUEUED_MAX];
    } queue[PAIR_MAX_QUEUED];
    size_t nqueued;
    pair_records rec;
} pair_end;

struct pair_world;

/* What a target's binding does for the script; `r` is a request, `conn` a connection. */
typedef struct pair_binding {
    void *(*open)(void *conn, void *app);
    int (*cancel)(void *r, uint64_t code);
    int (*end)(void *r);
    int (*write_stream)(void *r, const uint8_t *data, size_t len);
    int (*close)(void *conn, uint64_t code);
    int (*tick)(void *conn);
    masque_adapter *(*adapter)(void *r);
    masque_session *(*session)(void *r);
    uint64_t (*stream)(const void *r);  /* the request's stream ID: the same at both ends */
    uint64_t (*code)(uint8_t b);        /* an error code of the script's */
    uint64_t (*now_ms)(void);           /* the clock the binding's sessions count */
    void (*step)(struct pair_world *w); /* one round: read, answer (pair_answer), timers, write */
    /* Whether honest ends may end a request or a connection with `code` whatever the script. */
    int (*honest_code)(const struct pair_world *w, uint64_t code);
} pair_binding;

/* Whether the ends are still honest, and the codes the script gave cancels and closes. */
typedef struct pair_honesty {
    int dishonest; /* raw bytes went on a stream (or too many codes to keep): not judged */
    uint64_t codes[PAIR_MAX_CODES];
    size_t ncodes;
} pair_honesty;

/* The two ends and what the script did; a target's own state follows it (first member). */
typedef struct pair_world {
    const pair_binding *b;
    unsigned flags;
    pair_end client;
    pair_end proxy;
    pair_honesty honesty;
    int lossless; /* nothing the script did may lose a datagram */
    int quiet;    /* the ends no longer answer: what is in flight drains */
} pair_world;

/* FNV-1a of a packet on a request: its stream, its peer and its bytes; never 0. */
static inline uint64_t pair_fingerprint(uint64_t stream, const masque_address *peer,
                                        const uint8_t *bytes, size_t len)
{
    uint64_t h = 14695981039346656037u;
    size_t i;
#define PAIR_MIX(b) (h = (h ^ (uint8_t)(b)) * 1099511628211u)
    for (i = 0; i < 8; i++) {
        PAIR_MIX(stream >> (8 * i));
    }
    PAIR_MIX(peer->version);
    for (i = 0; i < sizeof(peer->bytes); i++) {
        PAIR_MIX(peer->bytes[i]);
    }
    PAIR_MIX(peer->port >> 8);
    PAIR_MIX(peer->port);
    for (i = 0; i < len; i++) {
        PAIR_MIX(bytes[i]);
    }
#undef PAIR_MIX
    return h == 0 ? 1 : h;
}

/* The slot that holds `print`, or the empty one where it would go. */
static inline size_t pair_slot(const pair_sent *s, uint64_t print)
{
    size_t i = (size_t)(print % PAIR_SENT_SLOTS);
    while (s->slots[i] != 0 && s->slots[i] != print) {
        i = (i + 1) % PAIR_SENT_SLOTS;
    }
    return i;
}

/* Adds a packet on the request of `stream` to a set. */
static inline void pair_note(pair_sent *s, uint64_t stream, const masque_address *peer,
                             const uint8_t *bytes, size_t len)
{
    uint64_t print = pair_fingerprint(stream, peer, bytes, len);
    size_t i = pair_slot(s, print);
    if (s->slots[i] == print) {
        return;
    }
    if (s->count == PAIR_SENT_SLOTS / 2) {
        s->full = 1;
        return;
    }
    s->slots[i] = print;
    s->count++;
}

/* Whether a set holds this packet (or may: once it is full). */
static inline int pair_holds(const pair_sent *s, uint64_t stream, const masque_address *peer,
                             const uint8_t *bytes, size_t len)
{
    uint64_t print = pair_fingerprint(stream, peer, bytes, len);
    return s->full || s->slots[pair_slot(s, print)] == print;
}

/* Whether `heard` holds every packet of `sent` (or may: once either is full). */
static inline int pair_all_heard(const pair_sent *sent, const pair_sent *heard)
{
    size_t i;
    if (sent->full || heard->full) {
        return 1;
    }
    for (i = 0; i < PAIR_SENT_SLOTS; i++) {
        if (sent->slots[i] != 0 && heard->slots[pair_slot(heard, sent->slots[i])] == 0) {
            return 0;
        }
    }
    return 1;
}

/* A code the script gives a cancel or a close: the peer may hear it. */
static inline uint64_t pair_chosen(pair_world *w, uint64_t code)
{
    if (w->honesty.ncodes == PAIR_MAX_CODES) {
        w->honesty.dishonest = 1;
    } else {
        w->honesty.codes[w->honesty.ncodes++] = code;
    }
    return code;
}

/* Whether a request or a connection may end with `code` between the script's two ends. */
static inline int pair_honest_end(const pair_world *w, uint64_t code)
{
    size_t i;
    if (w->honesty.dishonest || w->b->honest_code(w, code)) {
        return 1;
    }
    for (i = 0; i < w->honesty.ncodes; i++) {
        if (w->honesty.codes[i] == code) {
            return 1;
        }
    }
    return 0;
}

/* At the end of a script: a connection between honest ends ended as one of them chose. */
static inline void pair_check_end(const pair_world *w, masque_conn_end how, uint64_t code)
{
    if (w->honesty.dishonest) {
        return;
    }
    if (how == MASQUE_CONN_BROKEN ||
        ((how == MASQUE_CONN_CLOSED_HERE || how == MASQUE_CONN_CLOSED_BY_PEER) &&
         !pair_honest_end(w, code))) {
        abort(); /* a transport or protocol error that neither honest end made */
    }
}

/* A peer of the script's: one of two IPv4 tuples, an IPv6 one, or an unspecified address. */
static inline masque_address pair_peer_of(uint8_t b)
{
    static const uint8_t v4[4] = {192, 0, 2, 7};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    masque_address a;
    memset(&a, 0, sizeof(a));
    switch (b & 3u) {
    case 0:
        masque_address_set_v4(&a, v4, 53);
        break;
    case 1:
        masque_address_set_v4(&a, v4, (uint16_t)(1000u + b));
        break;
    case 2:
        masque_address_set_v6(&a, v6, 443);
        break;
    default:
        break;
    }
    return a;
}

static inline size_t pair_held_index(const pair_end *e, const void *r)
{
    size_t i;
    for (i = 0; i < e->nheld && e->held[i] != r; i++) {
    }
    return i;
}

static inline void pair_must_hold(const pair_end *e, const void *r)
{
    if (pair_held_index(e, r) == e->nheld) {
        abort(); /* a hook about a request that is not open */
    }
}

static inline void pair_hold(pair_end *e, void *r)
{
    if (e->nheld == PAIR_MAX_HELD) {
        abort(); /* more requests than both bindings allow */
    }
    e->held[e->nheld++] = r;
}

/* The request of index byte `k` an end holds, or NULL when it holds none. */
static inline void *pair_held(const pair_end *e, uint8_t k)
{
    return e->nheld == 0 ? NULL : e->held[k % e->nheld];
}

/* An end sends a datagram through a request (not yet accepted: nothing); `payload` has
 * MASQUE_BIND_HEADROOM bytes before it. Recorded as sent and, when the adapter takes it, as
 * written. */
static inline void pair_send(const pair_world *w, pair_end *e, void *r, const masque_address *peer,
                             uint8_t *payload, size_t len)
{
    masque_adapter *a = w->b->adapter(r);
    uint64_t stream = w->b->stream(r);
    if (a == NULL) {
        return;
    }
    pair_note(&e->rec.sent, stream, peer, payload, len);
    if (masque_adapter_write_datagram(a, peer, payload, MASQUE_BIND_HEADROOM, len,
                                      w->b->now_ms()) == MASQUE_OK) {
        pair_note(&e->rec.written, stream, peer, payload, len);
    }
}

/* on_packet of end `e`: the request must be open, and, between honest ends, its packet one
 * that the other end (`from`) sent on it; it is answered after the read. */
static inline void pair_on_packet(pair_world *w, pair_end *e, const pair_end *from, void *r,
                                  const masque_address *peer, const uint8_t *bytes, size_t len)
{
    uint64_t stream = w->b->stream(r);
    pair_must_hold(e, r);
    if (!w->honesty.dishonest && !pair_holds(&from->rec.sent, stream, peer, bytes, len)) {
        abort(); /* corrupted, made up, or another request's */
    }
    pair_note(&e->rec.heard, stream, peer, bytes, len);
    if (e->nqueued == PAIR_MAX_QUEUED) {
        return; /* left unanswered: it was heard, which is all the checks ask */
    }
    e->queue[e->nqueued].r = r;
    e->queue[e->nqueued].peer = *peer;
    e->queue[e->nqueued].len = len < PAIR_QUEUED_MAX ? len : PAIR_QUEUED_MAX;
    memcpy(e->queue[e->nqueued].bytes, bytes, e->queue[e->nqueued].len);
    e->nqueued++;
}

/* on_close of end `e`: the request is gone, and so are its packets. */
static inline void pair_on_close(pair_world *w, pair_end *e, const void *r, uint64_t reason)
{
    size_t i = pair_held_index(e, r);
    size_t j = 0;
    if (!pair_honest_end(w, reason)) {
        abort(); /* an error between honest ends that neither chose */
    }
    w->lossless = 0; /* what was in flight on it is gone with it */
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

/* on_ready of the client's request, with the proxy's status: as masque-bind-client, the
 * uncompressed context, so that any peer may be heard. */
static inline void pair_on_ready(pair_world *w, void *r, int status)
{
    if (pair_held_index(&w->client, r) == w->client.nheld) {
        pair_hold(&w->client, r); /* the first request: the harness learns of it here */
    }
    if (status / 100 != 2) {
        abort(); /* ready without a 2xx */
    }
    (void)masque_session_open_uncompressed(w->b->session(r), w->b->now_ms(), NULL);
}

/* on_request of the proxy: accepted (held), or refused with 503 as the flag says. */
static inline int pair_on_request(pair_world *w, void *r, unsigned refuse_flag)
{
    if ((w->flags & refuse_flag) != 0) {
        return 503;
    }
    pair_hold(&w->proxy, r);
    w->proxy.opened++;
    return 0;
}

/* on_event: about a request one of the ends holds. */
static inline void pair_on_event(const pair_world *w, const void *r)
{
    if (pair_held_index(&w->client, r) == w->client.nheld) {
        pair_must_hold(&w->proxy, r);
    }
}

/* Each end answers the packets that came out of its requests, to their peers (unless quiet). */
static inline void pair_answer(const pair_world *w, pair_end *e)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + PAIR_QUEUED_MAX];
    size_t i;
    for (i = 0; i < e->nqueued && !w->quiet; i++) {
        memcpy(buf + MASQUE_BIND_HEADROOM, e->queue[i].bytes, e->queue[i].len);
        pair_send(w, e, e->queue[i].r, &e->queue[i].peer, buf + MASQUE_BIND_HEADROOM,
                  e->queue[i].len);
    }
    e->nqueued = 0;
}

static inline uint8_t pair_take(const uint8_t *data, size_t size, size_t *i)
{
    return *i < size ? data[(*i)++] : 0;
}

/* Runs the script's operations (see the file comment), then four more rounds. */
static inline void pair_run_script(pair_world *w, const uint8_t *data, size_t size)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 256];
    const pair_binding *b = w->b;
    size_t i = 2;
    size_t steps = 0;
    while (i < size && steps < PAIR_MAX_STEPS) {
        uint8_t op = pair_take(data, size, &i);
        uint8_t k = pair_take(data, size, &i);
        void *cr = pair_held(&w->client, k);
        void *pr = pair_held(&w->proxy, k);
        void *r;
        size_t n;
        if ((op & 15u) != 0 && (op & 15u) != 4 && (op & 15u) != 9 && (op & 15u) != 5 &&
            (op & 15u) <= 12) {
            w->lossless = 0; /* a request ended, a context, raw bytes, a connection closed */
        }
        switch (op & 15u) {
        case 0:
            cr = b->open(w->client.conn, w);
            if (cr != NULL) {
                pair_hold(&w->client, cr); /* from now: it may close before it is ready */
                w->client.opened++;
            }
            break;
        case 1:
        case 6: /* a request cancelled with a code of the script's: the client's, or the proxy's */
            r = (op & 15u) == 1 ? cr : pr;
            if (r != NULL) {
                (void)b->cancel(r, pair_chosen(w, b->code(pair_take(data, size, &i))));
            }
            break;
        case 2:
        case 7: /* a request ended in order, by either end */
            r = (op & 15u) == 2 ? cr : pr;
            if (r != NULL) {
                (void)b->end(r);
            }
            break;
        case 3:
        case 8: /* raw bytes on a request stream: the client's, or the proxy's */
            r = (op & 15u) == 3 ? cr : pr;
            n = pair_take(data, size, &i);
            n = n < size - i ? n : size - i;
            if (r != NULL) {
                w->honesty.dishonest = w->honesty.dishonest || n > 0;
                (void)b->write_stream(r, data + i, n);
            }
            i += n;
            break;
        case 4:
        case 9: /* a datagram from the client to a peer, or from a peer through the proxy */
        {
            masque_address peer = pair_peer_of(pair_take(data, size, &i));
            r = (op & 15u) == 4 ? cr : pr;
            n = pair_take(data, size, &i) % 64u;
            n = n < size - i ? n : size - i;
            memcpy(buf + MASQUE_BIND_HEADROOM, data + i, n);
            i += n;
            if (r != NULL) {
                pair_send(w, (op & 15u) == 4 ? &w->client : &w->proxy, r, &peer,
                          buf + MASQUE_BIND_HEADROOM, n);
            }
            break;
        }
        case 5:
            n = 1u + k % 8u;
            while (n-- > 0 && steps < PAIR_MAX_STEPS) {
                b->step(w);
                steps++;
            }
            continue;
        case 10:
            if (cr != NULL && b->session(cr) != NULL) {
                masque_address peer = pair_peer_of(pair_take(data, size, &i));
                (void)masque_session_open_context(b->session(cr), &peer, b->now_ms(), NULL);
            }
            break;
        case 11:
            (void)b->close(w->client.conn, pair_chosen(w, b->code(k)));
            break;
        case 12:
            if (w->proxy.conn != NULL) {
                (void)b->close(w->proxy.conn, pair_chosen(w, b->code(k)));
            }
            break;
        default:
            (void)b->tick(w->client.conn); /* a timer run early does no harm */
            break;
        }
        b->step(w);
        steps++;
    }
    for (i = 0; i < 4; i++) {
        b->step(w);
    }
}

/* Where nothing may have been lost: the ends stop answering, what is in flight drains, and
 * each end has heard every datagram the other's adapter took. */
static inline void pair_check_lossless(pair_world *w)
{
    size_t i;
    if (!w->lossless || w->honesty.dishonest) {
        return;
    }
    w->quiet = 1;
    for (i = 0; i < PAIR_DRAIN; i++) {
        w->b->step(w);
    }
    if (!pair_all_heard(&w->client.rec.written, &w->proxy.rec.heard) ||
        !pair_all_heard(&w->proxy.rec.written, &w->client.rec.heard)) {
        abort(); /* a datagram lost on a stream that loses nothing */
    }
}

/* Once both connections are freed: exactly one on_close for every request each end held. */
static inline void pair_check_closes(const pair_world *w)
{
    if (w->client.closed != w->client.opened || w->proxy.closed != w->proxy.opened) {
        abort(); /* a request without exactly one on_close */
    }
}

/*
 * Defines client_hooks and proxy_hooks, of type HOOKS, for a binding whose requests are REQ:
 * they hand their typed arguments to the pair_on_* functions above. STATUS(r) is the status of
 * the proxy's response a client's request saw; CODE the type of on_close's code; REFUSE and
 * NO_AUTH the flags that make the proxy answer 503 and 407. The app pointer of every hook is the
 * pair_world (or a struct that begins with it).
 */
#define PAIR_DEFINE_HOOKS(REQ, HOOKS, STATUS, CODE, REFUSE, NO_AUTH)                               \
    static void client_ready(REQ *r, void *app)                                                    \
    {                                                                                              \
        pair_on_ready(app, r, STATUS(r));                                                          \
    }                                                                                              \
    static void client_packet(REQ *r, void *app, const masque_address *peer, const uint8_t *bytes, \
                              size_t len)                                                          \
    {                                                                                              \
        pair_world *w = app;                                                                       \
        pair_on_packet(w, &w->client, &w->proxy, r, peer, bytes, len);                             \
    }                                                                                              \
    static void client_close(REQ *r, void *app, CODE reason)                                       \
    {                                                                                              \
        pair_world *w = app;                                                                       \
        pair_on_close(w, &w->client, r, reason);                                                   \
    }                                                                                              \
    static void proxy_packet(REQ *r, void *app, const masque_address *peer, const uint8_t *bytes,  \
                             size_t len)                                                           \
    {                                                                                              \
        pair_world *w = app;                                                                       \
        pair_on_packet(w, &w->proxy, &w->client, r, peer, bytes, len);                             \
    }                                                                                              \
    static void proxy_close(REQ *r, void *app, CODE reason)                                        \
    {                                                                                              \
        pair_world *w = app;                                                                       \
        pair_must_hold(&w->proxy, r); /* only an accepted request has an on_close */               \
        pair_on_close(w, &w->proxy, r, reason);                                                    \
    }                                                                                              \
    static int proxy_request(REQ *r, void *app, masque_address *public_addresses, size_t *count)   \
    {                                                                                              \
        (void)public_addresses;                                                                    \
        (void)count;                                                                               \
        return pair_on_request(app, r, REFUSE);                                                    \
    }                                                                                              \
    static int proxy_authorize(REQ *r, void *app, masque_str proxy_authorization)                  \
    {                                                                                              \
        const pair_world *w = app;                                                                 \
        (void)r;                                                                                   \
        (void)proxy_authorization;                                                                 \
        return (w->flags & (NO_AUTH)) != 0;                                                        \
    }                                                                                              \
    static void on_event(REQ *r, void *app, const masque_event *ev)                                \
    {                                                                                              \
        (void)ev;                                                                                  \
        pair_on_event(app, r);                                                                     \
    }                                                                                              \
    static const HOOKS client_hooks = {.on_ready = client_ready,                                   \
                                       .on_packet = client_packet,                                 \
                                       .on_close = client_close,                                   \
                                       .on_event = on_event};                                      \
    static const HOOKS proxy_hooks = {.on_packet = proxy_packet,                                   \
                                      .on_close = proxy_close,                                     \
                                      .on_request = proxy_request,                                 \
                                      .on_event = on_event,                                        \
                                      .on_authorize = proxy_authorize}

#endif /* MASQUE_FUZZ_PAIR_H */
