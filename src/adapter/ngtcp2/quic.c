/* SPDX-License-Identifier: GPL-3.0-only */
/* The ngtcp2 + nghttp3 + GnuTLS binding: see include/masque/quic.h. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#define _POSIX_C_SOURCE 200809L
#include "masque/quic.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#include "../common/exchange.h"
#include "../common/queue_age.h"
#include "../common/tls_identity.h"
#include "closing.h"
#include "ctrl_guard.h"
#include "masque/http.h"
#include "masque/posix.h"
#include "probe.h"
#include "udp_in.h"
#include "udp_out.h"
#include "workers.h"

#define OUTBOX_CAP              (1u << 20)
#define TABLE_CAPACITY          256
#define MAX_STREAMS_BIDI        MASQUE_QUIC_MAX_REQUESTS
#define DEFAULT_MAX_REQUESTS    8u
#define DATAGRAM_QUEUE          64u /* a step's datagrams, and a burst the pacer spreads out */
#define DATAGRAM_OVERHEAD       44u /* short header (20-byte CID), packet number, AEAD tag, frame */
#define DATAGRAM_FRAME_OVERHEAD 8u  /* a second DATAGRAM frame's type and Length (and slack) */
#define RETRY_TOKEN_LIFETIME    (10 * NGTCP2_SECONDS) /* a Retry round trip, with room for loss */
#define SCID_LEN                MASQUE_QUIC_CONNECTION_ID_LEN /* the proxy's connection IDs (quic.h) */
#define CLOSING_MIN_NS          1000000000u /* a closing period lasts a second at least */
#define RESET_LEN               43u /* longest Stateless Reset: the least 1-RTT packet, 20-byte ID */
#define PEER_UNI_STREAMS        16u   /* unidirectional streams the peer may open (never raised) */
#define MAX_PACKET              1452u /* ngtcp2's default largest UDP payload */
#define DEFAULT_CONN_IDLE_MS    120000u /* RFC 9298 §3.1: no idle timeout under two minutes */
#define DEFAULT_KEEP_ALIVE_MS   15000u  /* a client's PING on a quiet connection */
#define TX_CAP                  65000u  /* packets sent in one go (UDP GSO: under 64 KiB) */
#define READ_SOCKET_TRIPS       64u     /* receives one masque_quic_read_socket() makes at most */
#define TX_MAX_SEGMENTS         44u     /* and at most this many (the kernel allows 64) */
#define DEFAULT_PRIORITY                                                                           \
    "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"           \
    "+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM"

/* One Bind request: its stream, headers, session and stream outbox. Fields ordered by
 * alignment (8-byte ones first, then ints, then bytes): no padding waste. */
struct masque_quic_request {
    masque_session session;
    masque_adapter adapter;
    uint64_t table_storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(TABLE_CAPACITY) / 8u];
    /* Proxy-Public-Address: what the proxy advertised (client), or on_request bound (proxy) */
    masque_address public_addrs[MASQUE_PUBLIC_ADDRESSES_MAX];
    masque_quic_conn *conn;
    void *app;
    /* Request-stream body, a ring: bytes handed to nghttp3 stay put until acknowledged (it
     * points into them), then they are room again. Offsets count from the body's start. */
    uint8_t *out;
    size_t out_cap;
    size_t out_tail;      /* where the next byte goes: out_end's place in the ring */
    size_t out_head;      /* out_read's place in the ring */
    uint64_t out_read;    /* offset handed to nghttp3 */
    uint64_t out_end;     /* offset of the end */
    uint64_t out_acked;   /* offset acknowledged */
    masque_queue_age age; /* when the bytes not yet handed to nghttp3 came */
    size_t npublic;
    int64_t stream; /* -1: a client's request waiting for the proxy's SETTINGS */
    int out_fin;    /* end the stream once everything queued is out */
    int session_ready;
    int h3_datagrams;  /* this request's datagrams go in QUIC DATAGRAM frames */
    int fin_received;  /* the request stream's receive side ended */
    int aborted;       /* this end reset the request (request_abort()) */
    int known;         /* the application holds it: on_close is owed */
    masque_exchange x; /* the request's fields (proxy) or the response's (client) */
    /* DATAGRAM capsules larger than a QUIC packet arrive in pieces: put back together here */
    uint8_t reassembly[MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX];
};

/* Where a client is in the proxy's control stream (peek_settings()). */
typedef enum {
    SETTINGS_STREAM_TYPE, /* a server stream's type, until one is the control stream */
    SETTINGS_FRAME_TYPE,
    SETTINGS_FRAME_LENGTH,
    SETTINGS_ID,
    SETTINGS_VALUE,
    SETTINGS_DONE
} settings_phase;

typedef struct {
    int64_t stream; /* the stream being read (-1: none yet, or it was not the control one) */
    uint64_t left;  /* bytes of the SETTINGS frame not read yet */
    uint64_t id;    /* the identifier of the setting whose value comes next */
    settings_phase phase;
    size_t have; /* bytes of the varint being read */
    uint8_t item[8];
} settings_reader;

struct masque_quic_conn {
    masque_quic_config cfg;
    masque_quic_hooks hooks;
    ngtcp2_ccerr last_error;
    ngtcp2_crypto_conn_ref ref;
    struct sockaddr_storage local;
    struct sockaddr_storage remote;
    void *app;
    ngtcp2_conn *conn;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred; /* our own (client), or NULL */
    masque_quic_credentials *shared;       /* the proxy's, referenced */
    /* Client: the ticket it offers until its handshake is over (a copy of cfg.ticket: a second
     * attempt after Version Negotiation offers it again), and the newest one the proxy sent
     * (tls_identity.h). */
    gnutls_datum_t offered;
    gnutls_datum_t ticket;
    nghttp3_conn *h3;
    masque_quic_request *req[MASQUE_QUIC_MAX_REQUESTS];
    uint64_t datagram_id;         /* ngtcp2's datagram identifiers */
    uint64_t datagrams_dropped;   /* too large for a DATAGRAM frame, or congestion */
    uint64_t datagrams_too_large; /* of those, too large for any DATAGRAM frame on the path */
    uint64_t bidi_limit;          /* proxy: client request streams allowed so far (MAX_STREAMS) */
    size_t nreq;
    size_t max_requests;
    size_t dgq_head, dgq_count;
    size_t dgq_dated;     /* the oldest this many of those were held back by a write: dated */
    settings_reader ctrl; /* client: the proxy's SETTINGS, read off its control stream */
    socklen_t locallen;
    socklen_t remotelen;
    int fd;
    int closed;
    masque_conn_end end; /* how it ended (the first cause seen), and the code of that end */
    uint64_t end_code;
    int settings_received; /* the peer's SETTINGS arrived */
    int peer_h3_datagram;  /* ... with SETTINGS_H3_DATAGRAM = 1 */
    int peer_connect;      /* ... with SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 */
    int refused;           /* client: the proxy cannot serve Bind (see on_log) */
    int goaway;            /* client: the proxy sent GOAWAY: no new request here */
    const char *h3_reason; /* nghttp3's word for the connection error h3_failed() set */
    /* The peer's unidirectional streams, by stream ID / 4 (ctrl_guard.h): there are at most
     * PEER_UNI_STREAMS, the limit this end gives and never raises. */
    masque_ctrl_guard uni_guard[PEER_UNI_STREAMS];
    /* The packet of this end's CONNECTION_CLOSE, for a closing period (closing.h), if it fit */
    uint8_t close_pkt[MASQUE_CLOSING_PKT_MAX];
    size_t close_len;
    char tls_host[256]; /* client: the authority's host, for SNI and verification */
    /* HTTP/3 datagrams pacing held back (a few, oldest first) */
    uint8_t dgq[DATAGRAM_QUEUE][MAX_PACKET];
    size_t dgq_len[DATAGRAM_QUEUE];
    uint64_t dgq_held_ns[DATAGRAM_QUEUE]; /* when a write first held each back */
    /* Packets written and not sent yet: they leave together, in one sendmsg() with UDP GSO
     * (equal segments, the last one possibly shorter) at the end of masque_quic_write(). */
    struct sockaddr_storage tx_to;
    socklen_t tx_tolen;
    int no_gso;     /* the kernel refused UDP_SEGMENT once: one sendto() per packet */
    int pin_source; /* the socket is bound to a wildcard: packets leave from `local` */
    size_t tx_len, tx_seg, tx_count;
    uint8_t tx[TX_CAP];
    /* Client, masque_quic_read_socket(): the socket UDP GRO was asked for (0: none yet, else
     * fd + 1) and a buffer for a coalesced train (mapped: untouched unless that is used). */
    int gro_fd;
    uint8_t rx[MASQUE_GRO_BUFFER];
    /* When the packet being read arrived (ns): what ngtcp2 is given, and the clock of the
     * callbacks that run inside the read (one clock read a packet, not one per datagram). */
    uint64_t read_ts;
    /* Proxy: told of each connection ID this end issues and the peer stops using (quic.h) */
    masque_quic_connection_id_watch cid_watch;
    void *cid_watch_arg;
    uint64_t heard_ts; /* the last packet from the peer that ngtcp2 read without error (probe.h) */
    /* Client: the version a Version Negotiation offered that this end would begin in again
     * (RFC 9368 §2.1; 0: none), and whether this attempt is that second one. */
    uint32_t vn_version;
    int vn_restarted;
};

uint64_t masque_quic_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: a valid clock and pointer */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reports through the application's on_log hook (nothing is printed by the library): one
 * line, the two parts joined. */
static void log_line(masque_quic_conn *c, const char *what, const char *detail)
{
    char line[512];
    if (c->hooks.on_log == NULL) {
        return;
    }
    (void)snprintf(line, sizeof(line), "%s%s", what, detail);
    c->hooks.on_log(c, c->app, line);
}

static uint64_t now_ms(void)
{
    return masque_quic_now_ns() / 1000000u;
}

/* The time in a callback of ngtcp2_conn_read_pkt() (read_at() set it), in ms. */
static uint64_t read_ms(const masque_quic_conn *c)
{
    return c->read_ts / 1000000u;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((masque_quic_conn *)ref->user_data)->conn;
}

/* Where a packet goes: the path ngtcp2 chose for it (pointed at, not copied: this runs for
 * every packet). After a client's address changed (RFC 9000 §9), the proxy answers (and
 * validates) the new address. */
static const struct sockaddr *packet_destination(const masque_quic_conn *c, const ngtcp2_path *path,
                                                 socklen_t *tolen)
{
    if (path->remote.addrlen != 0 && path->remote.addrlen <= sizeof(struct sockaddr_storage)) {
        *tolen = (socklen_t)path->remote.addrlen;
        return (const struct sockaddr *)path->remote.addr;
    }
    *tolen = c->remotelen;
    return (const struct sockaddr *)&c->remote;
}

/* The source address the connection's packets must carry, NULL when the kernel's is right. */
static const struct sockaddr *source_of(const masque_quic_conn *c)
{
    return c->pin_source ? (const struct sockaddr *)&c->local : NULL;
}

/* Sends the packets written so far: one sendmsg() with UDP_SEGMENT when there are several
 * (Linux UDP GSO: one trip through the stack for all), else one sendto() each. */
static void tx_flush(masque_quic_conn *c)
{
    if (c->tx_count == 0) {
        return;
    }
    masque_udp_send_segments(c->fd, (struct sockaddr *)&c->tx_to, c->tx_tolen, source_of(c), c->tx,
                             c->tx_len, c->tx_seg, &c->no_gso);
    c->tx_len = 0;
    c->tx_count = 0;
}

/* Where ngtcp2 writes the next packet: room for a whole one after the batch (ngtcp2 wants at
 * least NGTCP2_MAX_UDP_PAYLOAD_SIZE), a new batch when there is none. */
static uint8_t *tx_room(masque_quic_conn *c, size_t *cap)
{
    if (TX_CAP - c->tx_len < MAX_PACKET) {
        tx_flush(c);
    }
    *cap = MAX_PACKET;
    return c->tx + c->tx_len;
}

/* A packet of `len` bytes was written at tx_room(): it joins the batch. */
static void tx_commit(masque_quic_conn *c, const ngtcp2_path *path, size_t len)
{
    socklen_t tolen = 0;
    const struct sockaddr *to = packet_destination(c, path, &tolen);
    if (c->tx_count > 0 &&
        (len > c->tx_seg || tolen != c->tx_tolen || memcmp(to, &c->tx_to, tolen) != 0)) {
        /* Larger than the batch's segments, or another path (a probe during migration): the
         * batch goes first, and this packet starts the next. */
        size_t at = c->tx_len;
        tx_flush(c);
        memmove(c->tx, c->tx + at, len);
    }
    if (c->tx_count == 0) {
        memcpy(&c->tx_to, to, tolen); /* once a batch */
        c->tx_tolen = tolen;
        c->tx_seg = len;
    }
    c->tx_len += len;
    c->tx_count++;
    if (len < c->tx_seg || c->tx_count == TX_MAX_SEGMENTS) {
        tx_flush(c); /* a short segment ends a GSO batch */
    }
}

/* Sends one packet now, after those waiting (CONNECTION_CLOSE). */
static void send_packet(masque_quic_conn *c, const ngtcp2_path *path, const uint8_t *buf,
                        size_t len)
{
    socklen_t tolen = 0;
    const struct sockaddr *to;
    tx_flush(c);
    to = packet_destination(c, path, &tolen);
    masque_udp_send_from(c->fd, to, tolen, source_of(c), buf, len);
}

/* Follows ngtcp2's current path: where the peer is now. */
static void sync_path(masque_quic_conn *c)
{
    const ngtcp2_path *p;
    if (!c->cfg.is_server) {
        return; /* the proxy's address never moves under a client (no preferred address) */
    }
    p = ngtcp2_conn_get_path(c->conn);
    if (p != NULL && p->remote.addrlen != 0 && p->remote.addrlen <= sizeof(c->remote)) {
        memcpy(&c->remote, p->remote.addr, p->remote.addrlen);
        c->remotelen = (socklen_t)p->remote.addrlen;
    }
}

/* Zeroed memory of its own pages (calloc that gives everything back on release). */
static void *map_zeroed(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- requests ---- */

/*
 * A request (with its reassembly buffer) and its stream outbox are mapped, not taken from the
 * heap: untouched pages cost nothing, and all of it goes back to the system when the request
 * ends, instead of staying in a fragmented heap after churn.
 */
static masque_quic_request *request_new(masque_quic_conn *c, int64_t stream, void *app)
{
    masque_quic_request *r;
    if (c->nreq == MASQUE_QUIC_MAX_REQUESTS) {
        return NULL;
    }
    r = map_zeroed(sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->out_cap = c->cfg.stream_buffer != 0 ? c->cfg.stream_buffer : OUTBOX_CAP;
    r->out = map_zeroed(r->out_cap);
    if (r->out == NULL) {
        (void)munmap(r, sizeof(*r));
        return NULL;
    }
    r->conn = c;
    r->app = app;
    r->stream = stream;
    c->req[c->nreq++] = r;
    return r;
}

/* The request ended: the application hears of it (once), then it is gone. */
static void request_free(masque_quic_request *r, uint64_t code)
{
    masque_quic_conn *c = r->conn;
    size_t i;
    if (r->known && c->hooks.on_close != NULL) {
        c->hooks.on_close(r, r->app, code);
    }
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i] == r) {
            c->req[i] = c->req[--c->nreq];
            break;
        }
    }
    (void)munmap(r->out, r->out_cap);
    (void)munmap(r, sizeof(*r));
}

/*
 * This end aborts the request: RESET_STREAM and STOP_SENDING with `reset_code`, and the
 * application hears of it now, with `close_code` (the same but for a request the proxy's GOAWAY
 * left unprocessed, h3_shutdown(), and one the peer reset, stream_reset_cb()). A peer must
 * answer STOP_SENDING with RESET_STREAM (RFC 9000 §3.5) before the stream closes, but one that
 * does not must not hold a client's tunnel, or a proxy's relay socket and request slot, open:
 * nothing of the request reaches the application again, and its state lingers only until QUIC
 * closes the stream.
 */
static void request_end(masque_quic_request *r, uint64_t close_code, uint64_t reset_code)
{
    masque_quic_conn *c = r->conn;
    int64_t stream = r->stream;
    r->aborted = 1;
    r->session_ready = 0; /* its datagrams are dropped, its stream data ignored, no timers */
    if (r->known) {
        r->known = 0;
        if (c->hooks.on_close != NULL) {
            c->hooks.on_close(r, r->app, close_code);
        }
    }
    if (stream >= 0) { /* last: should QUIC close the stream at once, r goes with it */
        (void)ngtcp2_conn_shutdown_stream(c->conn, 0, stream, reset_code);
    }
}

/* request_end() with one code for both. */
static void request_abort(masque_quic_request *r, uint64_t code)
{
    request_end(r, code, code);
}

static masque_quic_request *request_of_stream(const masque_quic_conn *c, int64_t stream)
{
    size_t i;
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->stream == stream) {
            return c->req[i];
        }
    }
    return NULL;
}

/* Accepted requests (the proxy's) or requests still wanted (the client's): what the limit
 * on requests per connection counts. */
static size_t requests_live(const masque_quic_conn *c)
{
    size_t i;
    size_t n = 0;
    for (i = 0; i < c->nreq; i++) {
        n += c->req[i]->known != 0 ? 1u : 0u;
    }
    return n;
}

/* ---- the request stream's body ---- */

/* Advances a place in the ring by n (at most out_cap). */
static size_t ring_step(const masque_quic_request *r, size_t at, size_t n)
{
    return n < r->out_cap - at ? at + n : n - (r->out_cap - at);
}

/* Queues capsules that came at `now` (ms). 0, or -1 when the ring has no room for them. */
static int outbox_append(masque_quic_request *r, const uint8_t *data, size_t len, uint64_t now)
{
    size_t first;
    if (len > r->out_cap - (size_t)(r->out_end - r->out_acked)) {
        /* -10 §9: what the peer does not take is bounded; at the bound the adapter drops a
         * DATAGRAM capsule and keeps a response queued in the session (flush_waiting()). */
        return -1;
    }
    first = r->out_cap - r->out_tail < len ? r->out_cap - r->out_tail : len;
    memcpy(r->out + r->out_tail, data, first);
    if (len > first) {
        memcpy(r->out, data + first, len - first); /* wrapped */
    }
    r->out_tail = ring_step(r, r->out_tail, len);
    r->out_end += len;
    masque_queue_age_queued(&r->age, r->out_end, now, r->conn->cfg.datagram_max_wait_ms);
    if (r->conn->h3 != NULL && r->stream >= 0) {
        (void)nghttp3_conn_resume_stream(r->conn->h3, r->stream);
    }
    return 0;
}

static nghttp3_ssize read_body(nghttp3_conn *h3, int64_t stream_id, nghttp3_vec *vec, size_t veccnt,
                               uint32_t *pflags, /* NOLINT(readability-non-const-parameter) */
                               void *user, void *stream_user)
{
    masque_quic_request *r = stream_user;
    (void)h3;
    (void)stream_id;
    (void)user;
    if (veccnt == 0 || r == NULL) {
        return NGHTTP3_ERR_WOULDBLOCK;
    }
    if (r->out_read == r->out_end) {
        if (r->out_fin) {
            *pflags |= NGHTTP3_DATA_FLAG_EOF; /* the request's end (RFC 9298 §3.1) */
            return 0;
        }
        return NGHTTP3_ERR_WOULDBLOCK;
    }
    {
        size_t n = (size_t)(r->out_end - r->out_read);
        size_t first = r->out_cap - r->out_head < n ? r->out_cap - r->out_head : n;
        nghttp3_ssize count = 1;
        vec[0].base = r->out + r->out_head;
        vec[0].len = first;
        if (first < n && veccnt > 1) { /* wrapped: the rest from the ring's start */
            vec[1].base = r->out;
            vec[1].len = n - first;
            count = 2;
        } else {
            n = first;
        }
        r->out_head = ring_step(r, r->out_head, n);
        r->out_read += n;
        masque_queue_age_taken(&r->age, r->out_read);
        return count;
    }
}

/* ---- adapter host callbacks (host: the request) ---- */

static int host_write_stream(void *host, const uint8_t *data, size_t len)
{
    masque_quic_request *r = host;
    uint64_t now = now_ms();
    /* A datagram that flow or congestion control would hold back too long is dropped and
     * counted, as at a full buffer. */
    if (masque_queue_age_drops(&r->age, data, len, now, r->conn->cfg.datagram_max_wait_ms)) {
        return MASQUE_HOST_NO_ROOM;
    }
    return outbox_append(r, data, len, now) == 0 ? 0 : MASQUE_HOST_NO_ROOM; /* the only failure */
}

static void host_on_packet(void *host, const masque_address *peer, const uint8_t *data, size_t len)
{
    masque_quic_request *r = host;
    if (!r->aborted && r->conn->hooks.on_packet != NULL) { /* none after on_close */
        r->conn->hooks.on_packet(r, r->app, peer, data, len);
    }
}

static void host_abort(void *host, uint64_t code)
{
    request_abort(host, code);
}

/*
 * RFC 9297 §2.1: a QUIC DATAGRAM frame (the session put the request's Quarter Stream ID in
 * front), queued for masque_quic_write(), which packs the queue into as few packets as it can.
 * What can never fit one packet on this path is dropped, never moved to a capsule (RFC 9298
 * §6.1); what congestion control or pacing holds back waits in the queue (a step's worth, not a
 * batch: RFC 9298 §6 asks for no added burstiness), and is dropped when that is full or once it
 * has waited longer than datagram_max_wait_ms (drop_stale_datagrams()).
 */
/* The queue's oldest datagram leaves it (sent, or dropped by its caller). */
static void dgq_pop(masque_quic_conn *c)
{
    c->dgq_head = (c->dgq_head + 1) % DATAGRAM_QUEUE;
    c->dgq_count--;
    if (c->dgq_dated > 0) {
        c->dgq_dated--; /* the dated ones are the oldest */
    }
}

static int host_write_datagram(void *host, const uint8_t *data, size_t len)
{
    masque_quic_conn *c = ((masque_quic_request *)host)->conn;
    size_t i;
    if (len > masque_quic_datagram_max(c)) {
        c->datagrams_too_large++;
        c->datagrams_dropped++;
        return 0;
    }
    if (c->dgq_count == DATAGRAM_QUEUE) {
        c->datagrams_dropped++; /* a datagram may be lost; the request goes on */
        return 0;
    }
    i = (c->dgq_head + c->dgq_count) % DATAGRAM_QUEUE;
    memcpy(c->dgq[i], data, len);
    c->dgq_len[i] = len;
    c->dgq_count++;
    return 0;
}

/*
 * Writes queued datagrams into the packet at `buf` (several small ones share a packet):
 * > 0 a packet of that length is complete, 0 congestion control or pacing holds them back,
 * NGTCP2_ERR_WRITE_MORE the packet has room for more (the caller goes on with the same
 * arguments; not with the queue's last datagram, which ends its packet), another negative
 * value a connection error.
 */
static ngtcp2_ssize write_datagrams(masque_quic_conn *c, ngtcp2_path *path, ngtcp2_pkt_info *pi,
                                    uint8_t *buf, size_t cap, uint64_t ts)
{
    size_t room = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->conn);
    if (room > cap) {
        room = cap;
    }
    while (c->dgq_count > 0) {
        size_t i = c->dgq_head;
        int accepted = 0;
        ngtcp2_vec v;
        ngtcp2_ssize n;
        uint32_t flags = NGTCP2_WRITE_DATAGRAM_FLAG_MORE;
        v.base = c->dgq[i];
        v.len = c->dgq_len[i];
        if (c->dgq_count == 1 || v.len + c->dgq_len[(i + 1) % DATAGRAM_QUEUE] + DATAGRAM_OVERHEAD +
                                         DATAGRAM_FRAME_OVERHEAD >
                                     room) {
            /* The last one, or the next one cannot share this packet: it ends here, without
             * a call of ngtcp2 that would only find that out (a packet of large datagrams is
             * one call). ACKs still ride along; stream data takes the next packet. */
            flags = NGTCP2_WRITE_DATAGRAM_FLAG_NONE;
        }
        n = ngtcp2_conn_writev_datagram(c->conn, path, pi, buf, cap, &accepted, flags,
                                        c->datagram_id, &v, 1, ts);
        if (accepted) {
            c->datagram_id++;
            dgq_pop(c);
        }
        if (n != NGTCP2_ERR_WRITE_MORE) {
            return n; /* a full packet (the datagram in it, or next), 0, or an error */
        }
    }
    return NGTCP2_ERR_WRITE_MORE;
}

/*
 * Congestion control or pacing held datagrams back: those that have waited longer than
 * datagram_max_wait_ms since the write that first held them back are dropped and counted (RFC
 * 9298 §6: a late datagram serves the protocols UDP carries less than a lost one), as the
 * capsules of the stream path are (queue_age.h). Dating a datagram only when a write leaves it
 * queued costs the datagrams that leave at once no clock read.
 */
static void drop_stale_datagrams(masque_quic_conn *c, uint64_t ts)
{
    /* In whole ms, as the stream path's ages: UINT64_MAX (no bound) is never exceeded. */
    while (c->dgq_dated > 0 &&
           (ts - c->dgq_held_ns[c->dgq_head]) / 1000000u > c->cfg.datagram_max_wait_ms) {
        dgq_pop(c);
        c->datagrams_dropped++;
    }
}

/* The datagrams a write at `ts` leaves queued that no earlier write did are dated `ts`. */
static void date_held_datagrams(masque_quic_conn *c, uint64_t ts)
{
    for (; c->dgq_dated < c->dgq_count; c->dgq_dated++) {
        c->dgq_held_ns[(c->dgq_head + c->dgq_dated) % DATAGRAM_QUEUE] = ts;
    }
}

static void host_on_event(void *host, const masque_event *ev)
{
    masque_quic_request *r = host;
    if (!r->aborted && r->conn->hooks.on_event != NULL) { /* none after on_close */
        r->conn->hooks.on_event(r, r->app, ev);
    }
}

static const masque_host_ops capsule_ops = {host_write_stream, NULL, host_on_packet, host_abort,
                                            host_on_event};
static const masque_host_ops datagram_ops = {host_write_stream, host_write_datagram, host_on_packet,
                                             host_abort, host_on_event};

/* RFC 9297 §2.1.1: QUIC DATAGRAM frames only when both ends sent SETTINGS_H3_DATAGRAM=1 and
 * the peer's transport parameters allow DATAGRAM frames; else DATAGRAM capsules. */
static int h3_datagrams_negotiated(const masque_quic_conn *c)
{
    const ngtcp2_transport_params *tp = ngtcp2_conn_get_remote_transport_params(c->conn);
    return !c->cfg.force_capsules && c->peer_h3_datagram && tp != NULL &&
           tp->max_datagram_frame_size > 0;
}

/* The proxy read requests before the client's SETTINGS (another stream: QUIC does not order
 * them) and started their sessions in capsules; now that HTTP/3 datagrams are negotiated, their
 * datagrams go in DATAGRAM frames too. */
static void requests_to_h3_datagrams(masque_quic_conn *c)
{
    size_t i;
    if (!h3_datagrams_negotiated(c)) {
        return;
    }
    for (i = 0; i < c->nreq; i++) {
        masque_quic_request *r = c->req[i];
        if (r->session_ready && !r->h3_datagrams) {
            r->h3_datagrams = 1;
            (void)masque_session_set_capsule_datagrams(&r->session, 0);
        }
    }
}

static int start_session(masque_quic_request *r, masque_role role, unsigned families)
{
    masque_quic_conn *c = r->conn;
    masque_session_config sc;
    uint64_t qsid = 0;
    memset(&sc, 0, sizeof(sc));
    sc.role = role;
    r->h3_datagrams = h3_datagrams_negotiated(c);
    sc.capsule_datagrams = !r->h3_datagrams;
    (void)masque_quarter_stream_id_of((uint64_t)r->stream, &qsid);
    sc.quarter_stream_id = qsid;
    sc.advertised_families = families;
    sc.policy = c->cfg.policy;
    sc.user = r; /* the policy callback learns which request asks */
    sc.idle_timeout_ms = c->cfg.idle_timeout_ms != 0 ? c->cfg.idle_timeout_ms : 120000;
    sc.max_peer_contexts = c->cfg.max_peer_contexts;
    sc.assign_rate = c->cfg.assign_rate;
    sc.reassembly = r->reassembly;
    sc.reassembly_len = sizeof(r->reassembly);
    sc.hash_seed = (uint64_t)masque_quic_now_ns() ^ (uint64_t)(uintptr_t)r;
    if (masque_session_init(&r->session, &sc, r->table_storage, sizeof(r->table_storage),
                            now_ms()) != 0 ||
        masque_adapter_init(&r->adapter, &r->session,
                            c->cfg.force_capsules ? &capsule_ops : &datagram_ops, r) != 0) {
        return -1;
    }
    r->session_ready = 1;
    return 0;
}

/* ---- nghttp3 callbacks (stream_user: the request, NULL on other streams) ---- */

/* Proxy: a client's request stream begins; it gets its own request (up to the streams the
 * proxy allows, which MAX_STREAMS bounds). */
static int h3_begin_headers(nghttp3_conn *h3, int64_t stream_id, void *user, void *stream_user)
{
    masque_quic_conn *c = user;
    masque_quic_request *r;
    (void)stream_user;
    if (!c->cfg.is_server || request_of_stream(c, stream_id) != NULL) {
        return 0;
    }
    r = request_new(c, stream_id, c->app);
    if (r == NULL) {
        (void)ngtcp2_conn_shutdown_stream(c->conn, 0, stream_id, NGHTTP3_H3_REQUEST_REJECTED);
        return 0;
    }
    if (nghttp3_conn_set_stream_user_data(h3, stream_id, r) != 0) {
        request_free(r, NGHTTP3_H3_INTERNAL_ERROR);
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int h3_recv_header(nghttp3_conn *h3, int64_t stream_id, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *user, void *stream_user)
{
    masque_quic_request *r = stream_user;
    nghttp3_vec n = nghttp3_rcbuf_get_buf(name);
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    (void)h3;
    (void)stream_id;
    (void)token;
    (void)flags;
    (void)user;
    if (r != NULL) {
        masque_exchange_field(&r->x, n.base, n.len, v.base, v.len);
    }
    return 0;
}

/* The core's field lines as nghttp3 wants them (it only reads through the pointers). */
static void to_nv(nghttp3_nv *nv, const masque_field *f, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        memcpy(&nv[i].name, &f[i].name.ptr, sizeof(nv[i].name));
        nv[i].namelen = f[i].name.len;
        memcpy(&nv[i].value, &f[i].value.ptr, sizeof(nv[i].value));
        nv[i].valuelen = f[i].value.len;
        nv[i].flags = NGHTTP3_NV_FLAG_NONE;
    }
}

#ifdef MASQUE_QUIC_TEST_REQUESTS
static int server_send_test_interim(masque_quic_request *r);
#endif

/* Submits the response (RFC 9297 §3.4: Capsule-Protocol on 2xx only); a refusal carries a
 * Proxy-Status (RFC 9209) and goes to the log. */
static int submit_response(masque_quic_request *r, int status, const char *error_type,
                           const char *details, const char *why)
{
    masque_field fields[MASQUE_BIND_RESPONSE_FIELDS_MAX];
    nghttp3_nv nv[MASQUE_BIND_RESPONSE_FIELDS_MAX];
    nghttp3_data_reader dr = {read_body};
    char buf[MASQUE_EXCHANGE_RESPONSE_BUF];
    char text[160];
    masque_ssize n = masque_exchange_response(fields, buf, sizeof(buf), status, r->public_addrs,
                                              status == 200 ? r->npublic : 0, error_type, details,
                                              text, sizeof(text));
    if (n < 0) {
        return -1;
    }
    if (why != NULL) {
        log_line(r->conn, "refusing request: ", why);
    }
    to_nv(nv, fields, (size_t)n);
#ifdef MASQUE_QUIC_TEST_REQUESTS
    if (status == 200 && server_send_test_interim(r) != 0) {
        return -1;
    }
#endif
    return nghttp3_conn_submit_response(r->conn->h3, r->stream, nv, (size_t)n,
                                        status == 200 ? &dr : NULL);
}

static int server_answer(masque_quic_request *r)
{
    masque_quic_conn *c = r->conn;
    masque_exchange_refusal no;
    unsigned families = 0;
    int authorized = c->hooks.on_authorize == NULL ||
                     c->hooks.on_authorize(r, r->app, masque_exchange_credentials(&r->x)) == 0;
    if (masque_exchange_admit(&r->x, c->cfg.uri_template, authorized, requests_live(c),
                              c->max_requests, &no) != 0) {
        return submit_response(r, no.status, no.error_type, no.details, no.why);
    }
    /* The host binds the public address now, for an accepted request only (-10 §7). */
    r->public_addrs[0] = c->cfg.public_address;
    r->npublic = 1;
    if (c->hooks.on_request != NULL) {
        /* Non-zero refuses: an HTTP status of the host's choosing (429: a quota), else 503. */
        int refused = c->hooks.on_request(r, r->app, r->public_addrs, &r->npublic);
        if (refused != 0) {
            r->npublic = 0;
            masque_exchange_host_refusal(refused, &no);
            return submit_response(r, no.status, no.error_type, no.details, no.why);
        }
    }
    r->known = 1; /* from here on, on_close is owed: the host accepted the request */
    if (masque_exchange_public_families(r->public_addrs, r->npublic, &families, &no) != 0) {
        r->npublic = 0;
        return submit_response(r, no.status, no.error_type, no.details, no.why);
    }
    /* -10 §7: a proxy that advertised only some IP versions refuses targets of the others. */
    if (start_session(r, MASQUE_ROLE_PROXY, families) != 0) {
        return -1;
    }
    return submit_response(r, 200, NULL, NULL, NULL);
}

/* Client: the proxy's response (RFC 9298 §3.5, -10 §6-§7). */
static void client_response(masque_quic_request *r)
{
    masque_quic_conn *c = r->conn;
    masque_address addrs[MASQUE_PUBLIC_ADDRESSES_MAX];
    size_t n = 0;
    unsigned families = 0;
    /* Anything but a Bind-enabling 2xx ends the attempt. */
    if (masque_exchange_check_response(&r->x, addrs, MASQUE_PUBLIC_ADDRESSES_MAX, &n, &families) !=
            MASQUE_OK ||
        start_session(r, MASQUE_ROLE_CLIENT, families) != 0) {
        char line[400];
        masque_exchange_refusal_line(&r->x, line, sizeof(line));
        log_line(c, line, "");
        request_abort(r, NGHTTP3_H3_REQUEST_CANCELLED);
        return;
    }
    memcpy(r->public_addrs, addrs, n * sizeof(addrs[0]));
    r->npublic = n;
    if (c->hooks.on_ready != NULL) {
        c->hooks.on_ready(r, r->app);
    }
}

static int h3_end_headers(nghttp3_conn *h3, int64_t stream_id, int fin, void *user,
                          void *stream_user)
{
    const masque_quic_conn *c = user;
    masque_quic_request *r = stream_user;
    (void)h3;
    (void)stream_id;
    (void)fin;
    if (r == NULL || r->session_ready || r->aborted) {
        return 0;
    }
    if (c->cfg.is_server) {
        return server_answer(r) == 0 ? 0 : NGHTTP3_ERR_CALLBACK_FAILURE;
    }
    if (r->x.status >= 100 && r->x.status <= 199) {
        /* An interim response (RFC 9114 §4.1, RFC 9110 §15.2): forgotten, fields and all (its
         * fields must not count as the final response's); the final one follows. */
        memset(&r->x, 0, sizeof(r->x));
        return 0;
    }
    client_response(r);
    return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t stream_id, const uint8_t *data, size_t datalen,
                        void *user, void *stream_user)
{
    masque_quic_conn *c = user;
    masque_quic_request *r = stream_user;
    (void)h3;
    if (r != NULL && r->session_ready) {
        (void)masque_adapter_read_stream(&r->adapter, data, datalen, read_ms(c));
    }
    (void)ngtcp2_conn_extend_max_stream_offset(c->conn, stream_id, datalen);
    ngtcp2_conn_extend_max_offset(c->conn, datalen);
    return 0;
}

static int h3_deferred_consume(nghttp3_conn *h3, int64_t stream_id, size_t consumed, void *user,
                               void *stream_user)
{
    masque_quic_conn *c = user;
    (void)h3;
    (void)stream_user;
    (void)ngtcp2_conn_extend_max_stream_offset(c->conn, stream_id, consumed);
    ngtcp2_conn_extend_max_offset(c->conn, consumed);
    return 0;
}

static int h3_acked_stream_data(nghttp3_conn *h3, int64_t stream_id, uint64_t datalen, void *user,
                                void *stream_user)
{
    masque_quic_request *r = stream_user;
    (void)h3;
    (void)stream_id;
    (void)user;
    if (r == NULL) {
        return 0;
    }
    r->out_acked += datalen; /* in order: that much more of the ring is room again */
    return 0;
}

/* A stream nghttp3 knew closed: its request (if any) ends. */
static int h3_stream_close(nghttp3_conn *h3, int64_t stream_id, uint64_t code, void *user,
                           void *stream_user)
{
    (void)h3;
    (void)stream_id;
    (void)user;
    if (stream_user != NULL) {
        request_free(stream_user, code);
    }
    return 0;
}

/* The request stream's receive side ended: a FIN inside a capsule is malformed (RFC 9297
 * §3.3), a clean one ends the request (RFC 9298 §3.1: the relay socket goes with it). */
static int h3_end_stream(nghttp3_conn *h3, int64_t stream_id, void *user, void *stream_user)
{
    masque_quic_request *r = stream_user;
    (void)h3;
    (void)stream_id;
    (void)user;
    if (r != NULL && r->session_ready && !r->fin_received) {
        r->fin_received = 1;
        if (masque_adapter_read_fin(&r->adapter) == MASQUE_OK) {
            /* Nothing more will come: finish our side too, in either role. A UDP tunnel has
             * no half-close: the proxy's socket is gone with its side (RFC 9298 §3.1, which
             * lets a proxy close an idle one), and a client left half-open would never hear
             * that its tunnel ended. */
            (void)masque_quic_request_end(r);
        }
    }
    return 0;
}

/* nghttp3 aborts a request (a malformed message, RFC 9114 §4.1.2: H3_MESSAGE_ERROR): it ends
 * whole, as one this end aborts for its own reasons, and the log says why. */
static void request_malformed(masque_quic_request *r, uint64_t code)
{
    char why[64];
    (void)snprintf(why, sizeof(why), " (RFC 9114 §4.1.2): reset with 0x%llx",
                   (unsigned long long)code);
    log_line(r->conn, r->conn->cfg.is_server ? "a malformed request" : "a malformed response", why);
    request_abort(r, code);
}

/* nghttp3 asks for a stream's send side to be reset, or (below) its reading to stop: a request
 * ends whole; any other stream only stops. */
static int h3_reset_stream(nghttp3_conn *h3, int64_t stream_id, uint64_t code, void *user,
                           void *stream_user)
{
    masque_quic_conn *c = user;
    masque_quic_request *r = stream_user;
    (void)h3;
    if (r != NULL && !r->aborted) {
        request_malformed(r, code);
        return 0;
    }
    (void)ngtcp2_conn_shutdown_stream_write(c->conn, 0, stream_id, code);
    return 0;
}

static int h3_stop_sending(nghttp3_conn *h3, int64_t stream_id, uint64_t code, void *user,
                           void *stream_user)
{
    masque_quic_conn *c = user;
    masque_quic_request *r = stream_user;
    (void)h3;
    if (r != NULL && !r->aborted) {
        request_malformed(r, code);
        return 0;
    }
    (void)ngtcp2_conn_shutdown_stream_read(c->conn, 0, stream_id, code);
    return 0;
}

static int client_send_requests(masque_quic_conn *c);

/* The proxy's GOAWAY (RFC 9114 §5.2): it processed no request at or above `id` and will not,
 * so each of those still unanswered ends now (a client may ask again on a new connection;
 * on_close says H3_REQUEST_REJECTED), and no new one is sent here. Tunnels below `id` go on.
 * A proxy takes a client's GOAWAY as it is: it pushes nothing, and stops nothing for it. */
static int h3_shutdown(nghttp3_conn *h3, int64_t id, void *user)
{
    masque_quic_conn *c = user;
    size_t i;
    int ended_any = 0;
    int first = !c->goaway;
    (void)h3;
    if (c->cfg.is_server) {
        return 0;
    }
    c->goaway = 1;
    /* Each request ended goes (freed) or stays aborted, so the scan ends; it starts from the top
     * again after each, as the table moves (request_free() moves the last into the freed place)
     * and the request's on_close may have ended others. */
    i = 0;
    while (i < c->nreq) {
        masque_quic_request *r = c->req[i];
        if (r->stream < 0) {
            request_free(r, NGHTTP3_H3_REQUEST_REJECTED); /* never sent, and it will not be */
        } else if (r->stream >= id && !r->session_ready && !r->aborted) {
            request_end(r, NGHTTP3_H3_REQUEST_REJECTED, NGHTTP3_H3_REQUEST_CANCELLED);
        } else {
            i++;
            continue;
        }
        ended_any = 1;
        i = 0;
    }
    if (first || ended_any) { /* not a line per GOAWAY: a proxy may lower its ID many times */
        log_line(c, "the proxy is going away (GOAWAY, RFC 9114 §5.2)",
                 ended_any ? ": a request it will not answer ended; ask again on a new connection"
                           : "");
    }
    return 0;
}

/* The peer's SETTINGS: SETTINGS_H3_DATAGRAM must be 0 or 1 (RFC 9297 §2.1.1); a client sends
 * its extended CONNECTs only once it saw SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3). */
static int h3_recv_settings(nghttp3_conn *h3, const nghttp3_settings *settings, void *user)
{
    masque_quic_conn *c = user;
    int dg = masque_h3_datagram_setting_check(settings->h3_datagram, 0);
    (void)h3;
    if (dg < 0) {
        ngtcp2_ccerr_set_application_error(&c->last_error, masque_h3_error_for(dg), NULL, 0);
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    }
    c->settings_received = 1;
    c->peer_h3_datagram = dg;
    if (c->cfg.is_server) {
        c->peer_connect = settings->enable_connect_protocol != 0; /* unused: a client's */
        requests_to_h3_datagrams(c);
        return 0;
    }
    c->peer_connect = c->peer_connect || settings->enable_connect_protocol == 1;
    if (!c->peer_connect) {
        log_line(c, "the proxy does not offer extended CONNECT (no SETTINGS_ENABLE_CONNECT_",
                 "PROTOCOL, RFC 9220): it cannot serve CONNECT-UDP");
        c->refused = 1;
        ngtcp2_ccerr_set_application_error(&c->last_error, NGHTTP3_H3_NO_ERROR, NULL, 0);
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    }
    return client_send_requests(c) == 0 ? 0 : NGHTTP3_ERR_CALLBACK_FAILURE;
}

static int start_h3(masque_quic_conn *c)
{
    nghttp3_callbacks cb;
    nghttp3_settings settings;
    int64_t ctrl;
    int64_t enc;
    int64_t dec;
    int rv;
    memset(&cb, 0, sizeof(cb));
    cb.acked_stream_data = h3_acked_stream_data;
    cb.stream_close = h3_stream_close;
    cb.recv_data = h3_recv_data;
    cb.deferred_consume = h3_deferred_consume;
    cb.begin_headers = h3_begin_headers;
    cb.recv_header = h3_recv_header;
    cb.end_headers = h3_end_headers;
    cb.end_stream = h3_end_stream;
    cb.reset_stream = h3_reset_stream;
    cb.stop_sending = h3_stop_sending;
    cb.recv_settings = h3_recv_settings;
    cb.shutdown = h3_shutdown;
    nghttp3_settings_default(&settings);
    settings.enable_connect_protocol = c->cfg.is_server && !c->cfg.withhold_connect_protocol;
    settings.h3_datagram = !c->cfg.force_capsules; /* RFC 9297 §2.1.1 */
    rv = c->cfg.is_server ? nghttp3_conn_server_new(&c->h3, &cb, &settings, NULL, c)
                          : nghttp3_conn_client_new(&c->h3, &cb, &settings, NULL, c);
    if (rv != 0) {
        return -1;
    }
    if (c->cfg.is_server) {
        nghttp3_conn_set_max_client_streams_bidi(c->h3, c->bidi_limit);
    }
    if (ngtcp2_conn_open_uni_stream(c->conn, &ctrl, NULL) != 0 ||
        nghttp3_conn_bind_control_stream(c->h3, ctrl) != 0 ||
        ngtcp2_conn_open_uni_stream(c->conn, &enc, NULL) != 0 ||
        ngtcp2_conn_open_uni_stream(c->conn, &dec, NULL) != 0 ||
        nghttp3_conn_bind_qpack_streams(c->h3, enc, dec) != 0) {
        return -1;
    }
    return 0;
}

#ifdef MASQUE_QUIC_TEST_REQUESTS
/*
 * Test builds only (tests/CMakeLists.txt compiles this file again with the macro): the request a
 * client sends instead of the Bind request, as name, value, ..., NULL, so that the end-to-end
 * suite can send the malformed ones a hostile client would (RFC 9114 §4.1.2). In no header.
 */
const char *const *masque_quic_test_request;

static nghttp3_nv make_nv(const char *name, const char *value)
{
    nghttp3_nv nv;
    memcpy(&nv.name, &name, sizeof(nv.name));
    nv.namelen = strlen(name);
    memcpy(&nv.value, &value, sizeof(nv.value));
    nv.valuelen = strlen(value);
    nv.flags = NGHTTP3_NV_FLAG_NONE;
    return nv;
}

static int client_send_test_request(masque_quic_request *r, const char *const *fields)
{
    nghttp3_nv nv[8];
    nghttp3_data_reader dr = {read_body};
    size_t n = 0;
    while (n < 8 && fields[2 * n] != NULL) {
        nv[n] = make_nv(fields[2 * n], fields[2 * n + 1]);
        n++;
    }
    return nghttp3_conn_submit_request(r->conn->h3, r->stream, nv, n, &dr, r) == 0 ? 0 : -1;
}

/* The same for a server: an interim response (RFC 9114 §4.1) it sends before a 200, as other
 * servers may (103 Early Hints), or NULL. */
const char *const *masque_quic_test_interim;

static int server_send_test_interim(masque_quic_request *r)
{
    nghttp3_nv nv[8];
    size_t n = 0;
    const char *const *fields = masque_quic_test_interim;
    while (fields != NULL && n < 8 && fields[2 * n] != NULL) {
        nv[n] = make_nv(fields[2 * n], fields[2 * n + 1]);
        n++;
    }
    return n == 0 || nghttp3_conn_submit_info(r->conn->h3, r->stream, nv, n) == 0 ? 0 : -1;
}

/* And a Priority field value (RFC 9218 §4) a client sends in a PRIORITY_UPDATE frame (§7.2)
 * for each request it sends, as browsers do, or NULL. */
const char *masque_quic_test_priority;
#endif

/* Client: one extended CONNECT with Connect-UDP-Bind (RFC 9298 §3.4, -10 §3). */
static int client_send_request(masque_quic_request *r)
{
    masque_quic_conn *c = r->conn;
    char path[1024];
    char auth[320];
    masque_field fields[MASQUE_EXCHANGE_REQUEST_FIELDS];
    nghttp3_nv nv[MASQUE_EXCHANGE_REQUEST_FIELDS];
    nghttp3_data_reader dr = {read_body};
    masque_ssize n = masque_exchange_request(fields, path, sizeof(path), c->cfg.authority,
                                             c->cfg.uri_template, c->cfg.target_host,
                                             c->cfg.target_port, c->cfg.token, auth, sizeof(auth));
    int rv = n < 0 ? -1 : ngtcp2_conn_open_bidi_stream(c->conn, &r->stream, NULL);
    if (rv != 0) {
        r->stream = -1;
        /* RFC 9000 §4.6: every stream ID the proxy's MAX_STREAMS allows is taken (reset
         * requests hold theirs until the proxy lets them go): wait for more. */
        return rv == NGTCP2_ERR_STREAM_ID_BLOCKED ? 1 : -1;
    }
#ifdef MASQUE_QUIC_TEST_REQUESTS
    if (masque_quic_test_request != NULL) {
        return client_send_test_request(r, masque_quic_test_request);
    }
#endif
    to_nv(nv, fields, (size_t)n);
    if (nghttp3_conn_submit_request(c->h3, r->stream, nv, (size_t)n, &dr, r) != 0) {
        return -1;
    }
#ifdef MASQUE_QUIC_TEST_REQUESTS
    if (masque_quic_test_priority != NULL &&
        nghttp3_conn_set_client_stream_priority(c->h3, r->stream,
                                                (const uint8_t *)masque_quic_test_priority,
                                                strlen(masque_quic_test_priority)) != 0) {
        return -1;
    }
#endif
    return 0;
}

/* Client: sends every request still waiting, in the order they were opened, once the proxy's
 * SETTINGS allow it and as far as its stream limit does (the rest go out as it grows,
 * extend_max_streams_cb()); none after its GOAWAY (RFC 9114 §5.2). 0, or -1 on failure. */
static int client_send_requests(masque_quic_conn *c)
{
    size_t i;
    if (!c->settings_received || !c->peer_connect || c->h3 == NULL || c->goaway) {
        return 0;
    }
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->stream < 0) {
            int rc = client_send_request(c->req[i]);
            if (rc != 0) {
                return rc > 0 ? 0 : -1; /* blocked: this one and those after it wait */
            }
        }
    }
    return 0;
}

/* Client: the proxy's MAX_STREAMS grew; the requests its limit held back go out. */
static int extend_max_streams_cb(ngtcp2_conn *conn, uint64_t max_streams, void *user)
{
    masque_quic_conn *c = user;
    (void)conn;
    (void)max_streams;
    return client_send_requests(c) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

/* Proxy: the client's MAX_STREAMS grew (stream_close_cb() asked for it; ngtcp2 calls this as
 * the frame goes out). nghttp3 is told too: it judges the stream a PRIORITY_UPDATE names
 * against this limit (RFC 9218 §7.2, RFC 9114 §7.2.8: beyond it, H3_ID_ERROR), and, told only
 * the first one, it ended the connection at the first PRIORITY_UPDATE for a stream opened
 * under a raised limit. */
static int extend_max_remote_streams_cb(ngtcp2_conn *conn, uint64_t max_streams, void *user)
{
    masque_quic_conn *c = user;
    (void)conn;
    c->bidi_limit = max_streams;
    if (c->h3 != NULL) {
        nghttp3_conn_set_max_client_streams_bidi(c->h3, max_streams);
    }
    return 0;
}

/* ---- ngtcp2 callbacks ---- */

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

/* The token of connection ID `cid`: from the secret when there is one (RFC 9000 §10.3.2),
 * random otherwise. 0, or -1. */
static int reset_token_of(const uint8_t *secret, const ngtcp2_cid *cid, uint8_t *token)
{
    if (secret != NULL) {
        return ngtcp2_crypto_generate_stateless_reset_token(token, secret,
                                                            MASQUE_QUIC_RESET_SECRET_LEN, cid);
    }
    return gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) == 0 ? 0 : -1;
}

int masque_quic_workers_valid(const masque_quic_config *cfg)
{
    return cfg->workers <= MASQUE_QUIC_WORKERS_MAX &&
           (cfg->workers <= 1 || cfg->worker < cfg->workers);
}

/* Fills a connection ID this end issues, `len` bytes: random, and with several workers on one
 * port its first byte worker modulo workers (masque_quic_config.workers), so that the port's
 * socket group steers the peer's packets by it. 0, or -1. */
static int issue_cid(const masque_quic_config *cfg, uint8_t *id, size_t len)
{
    if (gnutls_rnd(GNUTLS_RND_RANDOM, id, len) != 0) {
        return -1;
    }
    if (cfg->workers > 1 && len > 0) {
        /* The largest multiple of workers that fits a byte bounds the spread: no value wraps. */
        unsigned spread = 256u / cfg->workers;
        id[0] = (uint8_t)(cfg->worker + cfg->workers * (id[0] % spread));
    }
    return 0;
}

static int new_cid_cb(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *user)
{
    masque_quic_conn *c = user;
    (void)conn;
    if (issue_cid(&c->cfg, cid->data, cidlen) != 0) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    cid->datalen = cidlen;
    if (reset_token_of(c->cfg.reset_secret, cid, token) != 0) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    if (c->cid_watch != NULL && cidlen == SCID_LEN) {
        c->cid_watch(c->cid_watch_arg, cid->data, 1);
    }
    return 0;
}

/* The peer no longer uses a connection ID this end issued (it retired it, RFC 9000 §19.16). */
static int remove_cid_cb(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user)
{
    masque_quic_conn *c = user;
    (void)conn;
    if (c->cid_watch != NULL && cid->datalen == SCID_LEN) {
        c->cid_watch(c->cid_watch_arg, cid->data, 0);
    }
    return 0;
}

/* The QUIC versions this end speaks, a client's first the one it begins in: what a client may
 * begin in again after a Version Negotiation, and, once it did, what tells a forged one (RFC
 * 9368 §4: the server's own list would have made it choose another); a proxy lists them all
 * in its version_information. */
static const uint32_t versions_v1_first[2] = {NGTCP2_PROTO_VER_V1, NGTCP2_PROTO_VER_V2};
static const uint32_t versions_v2_first[2] = {NGTCP2_PROTO_VER_V2, NGTCP2_PROTO_VER_V1};

static const uint32_t *spoken_versions(const masque_quic_config *cfg, size_t *n)
{
    *n = ngtcp2_is_supported_version(NGTCP2_PROTO_VER_V2) ? 2u : 1u;
    return cfg->quic_version == 2 ? versions_v2_first : versions_v1_first;
}

/* RFC 9000 §6.2: the server speaks none of the versions it lists... but this end may speak one
 * of them (RFC 9368 §2.1): noted, for masque_quic_read_from() to begin again in it. ngtcp2 has
 * already dropped a Version Negotiation that lists the version this attempt is in, or whose
 * connection IDs are not this attempt's (§6.2, §17.2.1). */
static int recv_version_negotiation_cb(ngtcp2_conn *conn, const ngtcp2_pkt_hd *hd,
                                       const uint32_t *sv, size_t nsv, void *user)
{
    masque_quic_conn *c = user;
    size_t n;
    const uint32_t *mine = spoken_versions(&c->cfg, &n);
    (void)conn;
    (void)hd;
    c->vn_version = ngtcp2_select_version(mine, n, sv, nsv);
    return 0;
}

/* RFC 9000 §10.3.1: the peer no longer knows this connection (it restarted, or forgot it). */
static int recv_stateless_reset_cb(ngtcp2_conn *conn, const ngtcp2_pkt_stateless_reset *sr,
                                   void *user)
{
    masque_quic_conn *c = user;
    (void)conn;
    (void)sr;
    log_line(c, "read: ", "a Stateless Reset: the peer has lost this connection (restarted?)");
    return 0;
}

static int handshake_completed_cb(ngtcp2_conn *conn, void *user)
{
    masque_quic_conn *c = user;
    (void)conn;
    masque_tls_drop_ticket(&c->offered); /* offered, used or not: no attempt offers it again */
    /* The client's request waits for the proxy's SETTINGS (h3_recv_settings). */
    if (start_h3(c) != 0) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

/*
 * Client: reads SETTINGS_ENABLE_CONNECT_PROTOCOL from the proxy's control stream itself (RFC
 * 9114 §6.2.1, §7.2.4; RFC 9220 §3), because some nghttp3 1.x releases do not report it to a
 * client; nghttp3 still reads everything. Item by item as the bytes come, whatever their cut
 * and however long the frame: a peer may write any varint in more bytes than it needs (RFC
 * 9000 §16) and send as many settings of reserved identifiers as it likes (RFC 9114 §7.2.4.1).
 */
static void settings_item(masque_quic_conn *c, settings_reader *r, int64_t stream_id,
                          uint64_t value)
{
    switch (r->phase) {
    case SETTINGS_STREAM_TYPE:
        if (value != 0x00) { /* a QPACK or a reserved stream, not the control stream */
            r->stream = -1;
            return;
        }
        r->stream = stream_id;
        r->phase = SETTINGS_FRAME_TYPE;
        return;
    case SETTINGS_FRAME_TYPE: /* SETTINGS comes first, or nghttp3 closes the connection */
        r->phase = value == 0x04 ? SETTINGS_FRAME_LENGTH : SETTINGS_DONE;
        return;
    case SETTINGS_FRAME_LENGTH:
        r->left = value;
        r->phase = value == 0 ? SETTINGS_DONE : SETTINGS_ID;
        return;
    case SETTINGS_ID:
        r->id = value;
        r->phase = SETTINGS_VALUE;
        return;
    default:
        if (r->id == 0x08) { /* SETTINGS_ENABLE_CONNECT_PROTOCOL */
            c->peer_connect = value == 1;
        }
        r->phase = r->left == 0 ? SETTINGS_DONE : SETTINGS_ID;
        return;
    }
}

static void peek_settings(masque_quic_conn *c, int64_t stream_id, uint64_t offset,
                          const uint8_t *data, size_t len)
{
    settings_reader *r = &c->ctrl;
    size_t i;
    if (r->phase == SETTINGS_DONE || (stream_id & 3) != 3) {
        return;
    }
    if (r->stream < 0) {
        if (offset != 0) {
            return; /* a stream whose type was read: not the control stream */
        }
        r->stream = stream_id; /* maybe the control stream: its type tells */
        r->phase = SETTINGS_STREAM_TYPE;
        r->have = 0;
    } else if (stream_id != r->stream) {
        return; /* while another stream's type is cut (rare): nghttp3 may still report it */
    }
    for (i = 0; i < len && r->phase != SETTINGS_DONE && r->stream >= 0; i++) {
        uint64_t value = 0;
        if (r->phase >= SETTINGS_ID) {
            if (r->left == 0) {
                r->phase = SETTINGS_DONE; /* an entry cut by the frame's end: nghttp3 objects */
                return;
            }
            r->left--;
        }
        r->item[r->have++] = data[i];
        if (r->have < masque_varint_len_from_first(r->item[0])) {
            continue;
        }
        (void)masque_varint_decode(&value, r->item, r->have);
        r->have = 0;
        settings_item(c, r, stream_id, value);
    }
}

/* nghttp3 failed: an HTTP/3 connection error (RFC 9114 §8), whose code the CONNECTION_CLOSE
 * carries (H3_SETTINGS_ERROR, H3_FRAME_UNEXPECTED, H3_CLOSED_CRITICAL_STREAM, ...), unless a
 * callback chose one already; a failure of ours is H3_INTERNAL_ERROR, never NO_ERROR. */
static int h3_failed(masque_quic_conn *c, int rv)
{
    if (c->last_error.type == NGTCP2_CCERR_TYPE_TRANSPORT && c->last_error.error_code == 0) {
        /* A field line longer than nghttp3 decodes is the peer's excess (RFC 9114 §8.1,
         * H3_EXCESSIVE_LOAD), not the H3_INTERNAL_ERROR nghttp3 infers for it. */
        uint64_t code = rv == NGHTTP3_ERR_QPACK_HEADER_TOO_LARGE
                            ? NGHTTP3_H3_EXCESSIVE_LOAD
                            : nghttp3_err_infer_quic_app_error_code(rv);
        ngtcp2_ccerr_set_application_error(&c->last_error, code, NULL, 0);
        c->h3_reason = nghttp3_strerror(rv); /* for the log line of the failed read */
    }
    return NGTCP2_ERR_CALLBACK_FAILURE;
}

/* Whether a stream is one the peer opened to send on (RFC 9000 §2.1: bit 0x2 unidirectional,
 * bit 0x1 server-initiated). */
static int is_peer_uni(const masque_quic_conn *c, int64_t stream_id)
{
    return (stream_id & 2) != 0 && ((stream_id & 1) != 0) == !c->cfg.is_server;
}

/* Data of a peer unidirectional stream to nghttp3, through its guard (ctrl_guard.h): what
 * nghttp3 consumed, or its error. */
static nghttp3_ssize read_guarded(masque_quic_conn *c, int64_t stream_id, const uint8_t *data,
                                  size_t datalen, int fin)
{
    masque_ctrl_pieces pieces;
    nghttp3_ssize consumed = 0;
    size_t i;
    masque_ctrl_guard_split(&c->uni_guard[(uint64_t)stream_id / 4u], data, datalen, fin, &pieces);
    if (pieces.count == 0) {
        return fin ? nghttp3_conn_read_stream(c->h3, stream_id, NULL, 0, 1) : 0;
    }
    for (i = 0; i < pieces.count; i++) {
        nghttp3_ssize n = nghttp3_conn_read_stream(c->h3, stream_id, pieces.data[i], pieces.len[i],
                                                   fin && i + 1 == pieces.count);
        if (n < 0) {
            return n;
        }
        consumed += n;
    }
    return consumed;
}

static int recv_stream_data_cb(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id,
                               uint64_t offset, const uint8_t *data, size_t datalen, void *user,
                               void *stream_user)
{
    masque_quic_conn *c = user;
    nghttp3_ssize n;
    (void)stream_user;
    if (c->h3 == NULL) {
        return 0;
    }
    if (!c->cfg.is_server) {
        peek_settings(c, stream_id, offset, data, datalen);
    }
    if (is_peer_uni(c, stream_id) && (uint64_t)stream_id / 4u < PEER_UNI_STREAMS) {
        n = read_guarded(c, stream_id, data, datalen, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
    } else {
        n = nghttp3_conn_read_stream(c->h3, stream_id, data, datalen,
                                     (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
    }
    if (n < 0) {
        return h3_failed(c, (int)n);
    }
    (void)ngtcp2_conn_extend_max_stream_offset(conn, stream_id, (uint64_t)n);
    ngtcp2_conn_extend_max_offset(conn, (uint64_t)n);
    return 0;
}

/* The request a datagram names, as masque_h3_datagram_dispatch() asks (RFC 9297 §2.1). */
static masque_stream_state lookup_stream(void *host, uint64_t stream_id, masque_adapter **adapter)
{
    const masque_quic_conn *c = host;
    masque_quic_request *r =
        stream_id <= (uint64_t)INT64_MAX ? request_of_stream(c, (int64_t)stream_id) : NULL;
    if (r != NULL) {
        if (!r->session_ready) {
            return MASQUE_STREAM_NOT_OPEN; /* the request is not accepted (yet) */
        }
        *adapter = &r->adapter;
        return MASQUE_STREAM_DATAGRAMS;
    }
    /* The proxy: a client request stream beyond what MAX_STREAMS allowed is H3_ID_ERROR. */
    if (c->cfg.is_server && (stream_id & 3) == 0 && stream_id / 4u >= c->bidi_limit) {
        return MASQUE_STREAM_BEYOND_LIMIT;
    }
    return MASQUE_STREAM_NOT_OPEN; /* closed, or not yet open: dropped */
}

static int recv_datagram_cb(ngtcp2_conn *conn, uint32_t flags, const uint8_t *data, size_t datalen,
                            void *user)
{
    masque_quic_conn *c = user;
    uint64_t stream_id = 0;
    uint64_t h3 = 0;
    (void)flags;
    switch (
        masque_h3_datagram_dispatch(data, datalen, read_ms(c), lookup_stream, c, &stream_id, &h3)) {
    case MASQUE_DATAGRAM_CLOSE_CONNECTION:
        ngtcp2_ccerr_set_application_error(&c->last_error, h3, NULL, 0);
        /* RFC 9297 §2.1, for the log line of the failed read (as nghttp3's errors have). */
        c->h3_reason = h3 == MASQUE_H3_ID_ERROR
                           ? "a DATAGRAM frame for a stream beyond the stream limit (H3_ID_ERROR)"
                           : "a DATAGRAM frame without a valid Quarter Stream ID "
                             "(H3_DATAGRAM_ERROR)";
        return NGTCP2_ERR_CALLBACK_FAILURE;
    case MASQUE_DATAGRAM_ABORT_STREAM:
        (void)ngtcp2_conn_shutdown_stream(conn, 0, (int64_t)stream_id, h3);
        return 0;
    default:
        return 0; /* delivered, or dropped and counted */
    }
}

static int acked_stream_data_offset_cb(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset,
                                       uint64_t datalen, void *user, void *stream_user)
{
    masque_quic_conn *c = user;
    int rv = c->h3 != NULL ? nghttp3_conn_add_ack_offset(c->h3, stream_id, datalen) : 0;
    (void)conn;
    (void)offset;
    (void)stream_user;
    if (rv != 0) {
        return h3_failed(c, rv);
    }
    return 0;
}

static int stream_close_cb(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t code,
                           void *user, void *stream_user)
{
    masque_quic_conn *c = user;
    (void)conn;
    (void)stream_user;
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) {
        code = NGHTTP3_H3_NO_ERROR;
    }
    /* The proxy lets the client open another request stream (ngtcp2 leaves this to us), for
     * every one that closed: also one nghttp3 never saw (reset before its HEADERS came), or
     * the client would run out of streams for good. The limit is raised as the MAX_STREAMS
     * frame goes out (extend_max_remote_streams_cb()). */
    if (c->cfg.is_server && (stream_id & 3) == 0) {
        ngtcp2_conn_extend_max_streams_bidi(c->conn, 1);
    }
    if (c->h3 != NULL) {
        int rv = nghttp3_conn_close_stream(c->h3, stream_id, code);
        if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
            return h3_failed(c, rv); /* e.g. the peer ended a critical stream (RFC 9114 §6.2.1) */
        }
    }
    return 0;
}

/*
 * The peer reset its side of a stream (RESET_STREAM): nghttp3 drops what it holds of it (a
 * critical stream's reset is H3_CLOSED_CRITICAL_STREAM, RFC 9114 §6.2.1). A request ends whole:
 * the client cancelled it (RFC 9114 §4.1.1), and a tunnel that can no longer carry the peer's
 * capsules or datagrams (RFC 9297 §2.1) is over; its relay socket goes with it (RFC 9298 §3.1).
 * The application hears the peer's code; this end's own RESET_STREAM says H3_REQUEST_CANCELLED,
 * never the peer's value sent back: that may be any number (RFC 9000 §19.4), not an HTTP/3 code,
 * and would claim this end's error as its own.
 */
static int stream_reset_cb(ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size,
                           uint64_t app_error_code, void *user, void *stream_user)
{
    masque_quic_conn *c = user;
    masque_quic_request *r = request_of_stream(c, stream_id);
    int rv = c->h3 != NULL ? nghttp3_conn_shutdown_stream_read(c->h3, stream_id) : 0;
    (void)conn;
    (void)final_size;
    (void)stream_user;
    if (rv != 0) {
        return h3_failed(c, rv);
    }
    if (r != NULL && !r->aborted) {
        request_end(r, app_error_code, NGHTTP3_H3_REQUEST_CANCELLED);
    }
    return 0;
}

/* This end stopped reading a stream (STOP_SENDING): nghttp3 drops what it holds of it. */
static int stream_stop_sending_cb(ngtcp2_conn *conn, int64_t stream_id, uint64_t app_error_code,
                                  void *user, void *stream_user)
{
    masque_quic_conn *c = user;
    int rv = c->h3 != NULL ? nghttp3_conn_shutdown_stream_read(c->h3, stream_id) : 0;
    (void)conn;
    (void)app_error_code;
    (void)stream_user;
    return rv != 0 ? h3_failed(c, rv) : 0;
}

static int extend_max_stream_data_cb(ngtcp2_conn *conn, int64_t stream_id, uint64_t max_data,
                                     void *user, void *stream_user)
{
    masque_quic_conn *c = user;
    (void)conn;
    (void)max_data;
    (void)stream_user;
    if (c->h3 != NULL) {
        (void)nghttp3_conn_unblock_stream(c->h3, stream_id);
    }
    return 0;
}

static void fill_callbacks(ngtcp2_callbacks *cb, int server)
{
    memset(cb, 0, sizeof(*cb));
    if (server) {
        cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
        cb->extend_max_remote_streams_bidi = extend_max_remote_streams_cb;
    } else {
        cb->client_initial = ngtcp2_crypto_client_initial_cb;
        cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
        cb->recv_version_negotiation = recv_version_negotiation_cb;
        cb->extend_max_local_streams_bidi = extend_max_streams_cb;
    }
    cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb->encrypt = ngtcp2_crypto_encrypt_cb;
    cb->decrypt = ngtcp2_crypto_decrypt_cb;
    cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb->update_key = ngtcp2_crypto_update_key_cb;
    cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb->rand = rand_cb;
    cb->get_new_connection_id = new_cid_cb;
    cb->remove_connection_id = remove_cid_cb;
    cb->recv_stateless_reset = recv_stateless_reset_cb;
    cb->handshake_completed = handshake_completed_cb;
    cb->recv_stream_data = recv_stream_data_cb;
    cb->acked_stream_data_offset = acked_stream_data_offset_cb;
    cb->stream_close = stream_close_cb;
    cb->stream_reset = stream_reset_cb;
    cb->stream_stop_sending = stream_stop_sending_cb;
    cb->extend_max_stream_data = extend_max_stream_data_cb;
    cb->recv_datagram = recv_datagram_cb;
}

/* ms as ngtcp2's nanoseconds; beyond what it can hold, UINT64_MAX (never). */
static ngtcp2_duration ms_to_duration(uint64_t ms)
{
    return ms > UINT64_MAX / NGTCP2_MILLISECONDS ? UINT64_MAX : ms * NGTCP2_MILLISECONDS;
}

/* The connection's idle timeout in ms: RFC 9298 §3.1, not under two minutes by default. */
static uint64_t conn_idle_ms(const masque_quic_config *cfg)
{
    return cfg->conn_idle_timeout_ms != 0 ? cfg->conn_idle_timeout_ms : DEFAULT_CONN_IDLE_MS;
}

/* Whether this end acknowledges at once (masque_quic_config.ack): max_ack_delay 0, which ngtcp2
 * also takes as its own delay (the smaller of it and an eighth of the smoothed RTT). */
static int acks_at_once(const masque_quic_config *cfg, int is_server)
{
    return cfg->ack == MASQUE_QUIC_ACK_AT_ONCE ||
           (cfg->ack == MASQUE_QUIC_ACK_DEFAULT && !is_server);
}

/* The proxy's limit of client request streams (masque_quic_config.max_streams). */
static uint64_t streams_allowed(const masque_quic_config *cfg)
{
    return cfg->max_streams == 0 || cfg->max_streams > MAX_STREAMS_BIDI ? MAX_STREAMS_BIDI
                                                                        : cfg->max_streams;
}

static void fill_params(ngtcp2_transport_params *p, const masque_quic_config *cfg, int is_server)
{
    ngtcp2_transport_params_default(p);
    p->initial_max_stream_data_bidi_local = 1u << 20;
    p->initial_max_stream_data_bidi_remote = 1u << 20;
    p->initial_max_stream_data_uni = 1u << 18;
    p->initial_max_data = 4u << 20;
    p->initial_max_streams_bidi = is_server ? streams_allowed(cfg) : MAX_STREAMS_BIDI;
    /* RFC 9297 §2.1.1 needs QUIC DATAGRAM frames (RFC 9221) for HTTP/3 datagrams. */
    p->max_datagram_frame_size = cfg->force_capsules ? 0 : 65535;
    p->initial_max_streams_uni = PEER_UNI_STREAMS;
    p->max_idle_timeout = ms_to_duration(conn_idle_ms(cfg));
    if (acks_at_once(cfg, is_server)) {
        p->max_ack_delay = 0; /* RFC 9000 §18.2: a delay of 0 ms is a valid promise */
    }
}

/* Client: when a quiet connection sends a PING (masque_quic_config.keep_alive_ms). */
static ngtcp2_duration keep_alive_of(const masque_quic_config *cfg)
{
    uint64_t ms = cfg->keep_alive_ms;
    if (ms == UINT64_MAX) {
        return UINT64_MAX; /* ngtcp2: no keep-alive */
    }
    if (ms == 0) {
        ms = conn_idle_ms(cfg) / 2 < DEFAULT_KEEP_ALIVE_MS ? conn_idle_ms(cfg) / 2
                                                           : DEFAULT_KEEP_ALIVE_MS;
    }
    return ms_to_duration(ms == 0 ? 1 : ms); /* never 0: that would PING without pause */
}

/* ---- TLS ---- */

static int self_signed(gnutls_certificate_credentials_t cred)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    unsigned char serial[8];
    time_t now = time(NULL);
    int rv = -1;
    if (gnutls_x509_privkey_init(&key) != 0) {
        return -1;
    }
    if (gnutls_x509_crt_init(&crt) != 0) {
        gnutls_x509_privkey_deinit(key);
        return -1;
    }
    (void)gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
    serial[0] &= 0x7F;
    if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) == 0 &&
        gnutls_x509_crt_set_version(crt, 3) == 0 &&
        gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) == 0 &&
        gnutls_x509_crt_set_activation_time(crt, now - 3600) == 0 &&
        gnutls_x509_crt_set_expiration_time(crt, now + 86400) == 0 &&
        gnutls_x509_crt_set_dn(crt, "CN=localhost", NULL) == 0 &&
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                             GNUTLS_FSAN_SET) == 0 &&
        gnutls_x509_crt_set_key(crt, key) == 0 &&
        gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) == 0 &&
        gnutls_certificate_set_x509_key(cred, &crt, 1, key) == 0) {
        rv = 0;
    }
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return rv;
}

struct masque_quic_credentials {
    gnutls_certificate_credentials_t cred;
    unsigned refs; /* the holder and every connection that uses it */
    uint8_t ticket_key[MASQUE_TLS_TICKET_KEY_LEN];
};

masque_quic_credentials *masque_quic_credentials_new(const char *cert_file, const char *key_file,
                                                     const char *client_ca_file)
{
    masque_quic_credentials *cr = calloc(1, sizeof(*cr));
    if (cr == NULL) {
        return NULL;
    }
    cr->refs = 1;
    if (gnutls_certificate_allocate_credentials(&cr->cred) != 0) {
        free(cr);
        return NULL;
    }
    if (cert_file != NULL ? masque_tls_load_pair(cr->cred, cert_file, key_file) != 0
                          : self_signed(cr->cred) != 0) {
        masque_quic_credentials_release(cr);
        return NULL;
    }
    if (client_ca_file != NULL && gnutls_certificate_set_x509_trust_file(
                                      cr->cred, client_ca_file, GNUTLS_X509_FMT_PEM) <= 0) {
        masque_quic_credentials_release(cr); /* no CA in it: no client could ever verify */
        return NULL;
    }
    if (masque_tls_ticket_key_derive(key_file, client_ca_file, cr->ticket_key) != 0) {
        masque_quic_credentials_release(cr);
        return NULL;
    }
    return cr;
}

masque_quic_credentials *masque_quic_credentials_ref(masque_quic_credentials *cr)
{
    cr->refs++;
    return cr;
}

void *masque_quic_credentials_gnutls(const masque_quic_credentials *cr)
{
    return cr->cred;
}

const uint8_t *masque_quic_credentials_ticket_key(const masque_quic_credentials *cr)
{
    return cr->ticket_key;
}

void masque_quic_credentials_release(masque_quic_credentials *cr)
{
    if (cr != NULL && --cr->refs == 0) {
        gnutls_certificate_free_credentials(cr->cred);
        gnutls_memset(cr->ticket_key, 0, sizeof(cr->ticket_key));
        free(cr);
    }
}

/* Client: a NewSessionTicket came (after the handshake, RFC 8446 §4.6.1): the newest is kept. */
static int on_ticket(gnutls_session_t tls, unsigned type, unsigned when, unsigned incoming,
                     const gnutls_datum_t *msg)
{
    ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(tls);
    (void)type;
    (void)when;
    (void)incoming;
    (void)msg;
    masque_tls_keep_ticket(tls, &((masque_quic_conn *)ref->user_data)->ticket);
    return 0;
}

static int setup_tls(masque_quic_conn *c)
{
    gnutls_datum_t alpn = {(unsigned char *)"h3", 2};
    const char *priority = c->cfg.priority != NULL ? c->cfg.priority : DEFAULT_PRIORITY;
    /* No early data (0-RTT) either way: a Bind request in it could be replayed (RFC 9001
     * §9.2), and a proxy would bind one public address for each copy. */
    unsigned flags = GNUTLS_NO_END_OF_EARLY_DATA;
    gnutls_certificate_credentials_t cred;
    gnutls_datum_t ticket_key;
    char why[512];
    if (masque_tls_priority_check(c->cfg.priority, why, sizeof(why)) != 0) {
        log_line(c, why, "");
        return -1;
    }
    if (c->cfg.is_server) {
        /* Loaded once, shared by every connection (the proxy's, or made here for this one). */
        c->shared = c->cfg.credentials;
        if (c->shared != NULL) {
            c->shared->refs++;
        } else {
            c->shared = masque_quic_credentials_new(c->cfg.cert_file, c->cfg.key_file,
                                                    c->cfg.client_ca_file);
        }
        if (c->shared == NULL) {
            return -1;
        }
        cred = c->shared->cred;
    } else {
        if (gnutls_certificate_allocate_credentials(&c->cred) != 0) {
            return -1;
        }
        if (masque_tls_load_trust(c->cred, c->cfg.ca_file, c->cfg.insecure) != 0) {
            /* what the proxy's certificate is verified against */
            log_line(c, c->cfg.ca_file != NULL ? c->cfg.ca_file : "the system's trusted CAs",
                     c->cfg.ca_file != NULL ? ": no CA in it, or it cannot be read"
                                            : ": cannot be read");
            return -1;
        }
        if (c->cfg.cert_file != NULL &&
            masque_tls_load_pair(c->cred, c->cfg.cert_file, c->cfg.key_file) != 0) {
            log_line(c, c->cfg.cert_file, ": the client certificate and its key cannot be loaded");
            return -1; /* our certificate for mutual TLS */
        }
        cred = c->cred;
    }
    if (gnutls_init(&c->tls, (c->cfg.is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | flags) != 0 ||
        gnutls_priority_set_direct(c->tls, priority, NULL) != 0 ||
        (c->cfg.is_server ? ngtcp2_crypto_gnutls_configure_server_session(c->tls)
                          : ngtcp2_crypto_gnutls_configure_client_session(c->tls)) != 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred) != 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0) {
        return -1;
    }
    if (c->cfg.is_server && c->cfg.client_ca_file != NULL) {
        /* Mutual TLS: asked for, not required, so that a token can stand in for it. */
        gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUEST);
    }
    if (c->cfg.is_server) {
        /* Session tickets (RFC 8446 §4.6.1) under the credentials' key, so that a client
         * resumes at any connection made with the same credentials. */
        ticket_key.data = c->shared->ticket_key;
        ticket_key.size = sizeof(c->shared->ticket_key);
        if (gnutls_session_ticket_enable_server(c->tls, &ticket_key) != 0) {
            return -1;
        }
    } else {
        gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                           GNUTLS_HOOK_POST, on_ticket);
        if (c->offered.data != NULL) {
            /* One that does not parse is left out: a full handshake. */
            (void)gnutls_session_set_data(c->tls, c->offered.data, c->offered.size);
        }
    }
    /* The authority names the proxy: SNI and certificate verification use its host. */
    if (!c->cfg.is_server && masque_tls_client_name(c->tls, c->cfg.authority, c->cfg.insecure,
                                                    c->tls_host, sizeof(c->tls_host)) != 0) {
        return -1;
    }
    c->ref.get_conn = get_conn;
    c->ref.user_data = c;
    gnutls_session_set_ptr(c->tls, &c->ref);
    ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
    return 0;
}

/* ---- life cycle ---- */

static masque_quic_conn *alloc_conn(const masque_quic_config *cfg, int fd,
                                    const struct sockaddr *local, socklen_t locallen,
                                    const struct sockaddr *remote, socklen_t remotelen,
                                    const masque_quic_hooks *hooks, void *app)
{
    masque_quic_conn *c;
    if (locallen > sizeof(c->local) || remotelen > sizeof(c->remote)) {
        return NULL; /* no address a socket gives: refused, never copied past the end */
    }
    /* Mapped like its requests: it all goes back to the system when the client leaves. */
    c = map_zeroed(sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->cfg = *cfg;
    c->cfg.datagram_max_wait_ms =
        masque_queue_age_bound(cfg->datagram_max_wait_ms); /* 0: resolved once */
    c->max_requests = cfg->max_requests == 0                         ? DEFAULT_MAX_REQUESTS
                      : cfg->max_requests > MASQUE_QUIC_MAX_REQUESTS ? MASQUE_QUIC_MAX_REQUESTS
                                                                     : cfg->max_requests;
    c->bidi_limit = streams_allowed(cfg); /* a client's is never read */
    c->hooks = *hooks;
    c->app = app;
    c->fd = fd;
    c->ctrl.stream = -1;
    memcpy(&c->local, local, locallen);
    memcpy(&c->remote, remote, remotelen);
    c->locallen = locallen;
    c->remotelen = remotelen;
    c->heard_ts = masque_quic_now_ns(); /* its first packet, for a proxy's connection */
    ngtcp2_ccerr_default(&c->last_error);
    return c;
}

static ngtcp2_path make_path(masque_quic_conn *c)
{
    ngtcp2_path p;
    p.local.addr = (ngtcp2_sockaddr *)&c->local;
    p.local.addrlen = c->locallen;
    p.remote.addr = (ngtcp2_sockaddr *)&c->remote;
    p.remote.addrlen = c->remotelen;
    p.user_data = NULL;
    return p;
}

/* What a connection attempt holds: ngtcp2's connection, the TLS session, and a client's
 * credentials. */
typedef struct attempt {
    ngtcp2_conn *conn;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;
} attempt;

/* Takes c's attempt out of it (c holds none after). */
static attempt take_attempt(masque_quic_conn *c)
{
    attempt a;
    a.conn = c->conn;
    a.tls = c->tls;
    a.cred = c->cred;
    c->conn = NULL;
    c->tls = NULL;
    c->cred = NULL;
    return a;
}

/* Gives c attempt a back (c holds none before). */
static void put_attempt(masque_quic_conn *c, attempt a)
{
    c->conn = a.conn;
    c->tls = a.tls;
    c->cred = a.cred;
}

static void drop_attempt(attempt a)
{
    if (a.conn != NULL) {
        ngtcp2_conn_del(a.conn);
    }
    if (a.tls != NULL) {
        gnutls_deinit(a.tls);
    }
    if (a.cred != NULL) {
        gnutls_certificate_free_credentials(a.cred);
    }
}

/* Client: a connection attempt in QUIC `version` (ngtcp2's connection and TLS session); after
 * a Version Negotiation, `original` is the version of the first attempt (RFC 9368 §2.1), else
 * 0. 0, or -1. */
static int client_attempt(masque_quic_conn *c, uint32_t version, uint32_t original)
{
    ngtcp2_callbacks cb;
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    ngtcp2_cid dcid;
    ngtcp2_cid scid;
    ngtcp2_path path;
    fill_callbacks(&cb, 0);
    ngtcp2_settings_default(&settings);
    settings.initial_ts = masque_quic_now_ns();
    /* Its preferences, for ngtcp2's check of the server's version_information (RFC 9368 §4);
     * it offers the server only the version it is in (available_versions left to ngtcp2). */
    settings.preferred_versions = spoken_versions(&c->cfg, &settings.preferred_versionslen);
    settings.original_version = original;
    fill_params(&params, &c->cfg, 0);
    dcid.datalen = 18;
    scid.datalen = 17;
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, dcid.datalen);
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
    path = make_path(c);
    if (ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, version, &cb, &settings, &params,
                               NULL, c) != 0 ||
        setup_tls(c) != 0) {
        return -1;
    }
    ngtcp2_conn_set_keep_alive_timeout(c->conn, keep_alive_of(&c->cfg));
    return 0;
}

masque_quic_conn *masque_quic_client_new(const masque_quic_config *cfg, int fd,
                                         const struct sockaddr *local, socklen_t locallen,
                                         const struct sockaddr *remote, socklen_t remotelen,
                                         const masque_quic_hooks *hooks, void *app)
{
    masque_quic_conn *c;
    uint32_t version = cfg->quic_version == 2 ? NGTCP2_PROTO_VER_V2 : NGTCP2_PROTO_VER_V1;
    if (cfg->quic_version > 2 || !ngtcp2_is_supported_version(version)) {
        return NULL; /* a version this binding does not speak */
    }
    if ((unsigned)cfg->ack > MASQUE_QUIC_ACK_DELAYED ||
        !masque_exchange_template_usable(cfg->uri_template)) {
        return NULL;
    }
    c = alloc_conn(cfg, fd, local, locallen, remote, remotelen, hooks, app);
    if (c == NULL) {
        return NULL;
    }
    c->cfg.ticket = NULL; /* read here only: copied */
    c->cfg.ticket_len = 0;
    if (cfg->ticket != NULL && cfg->ticket_len > 0 &&
        masque_tls_offer_copy(&c->offered, cfg->ticket, cfg->ticket_len) != 0) {
        masque_quic_free(c);
        return NULL;
    }
    if (client_attempt(c, version, 0) != 0 || masque_quic_request_open(c, app) == NULL) {
        masque_quic_free(c);
        return NULL;
    }
    return c;
}

/*
 * RFC 9368 §2.1: after a Version Negotiation that offered c->vn_version, a new attempt in it,
 * once, with the version of the first as its Original Version: ngtcp2 then checks the server's
 * version_information against this end's versions (§4), so that a forged Version Negotiation
 * cannot move the connection to a version both ends like less. The requests wait for the new
 * handshake as they waited for the first. 0, or -1 (the first attempt stays, and ends).
 */
static int begin_again(masque_quic_conn *c)
{
    uint32_t original = ngtcp2_conn_get_client_chosen_version(c->conn);
    attempt first = take_attempt(c);
    if (client_attempt(c, c->vn_version, original) != 0) {
        drop_attempt(take_attempt(c));
        put_attempt(c, first);
        return -1;
    }
    drop_attempt(first);
    c->vn_restarted = 1;
    c->tx_len = 0; /* nothing of the first attempt leaves any more */
    c->tx_count = 0;
    return 0;
}

/*
 * Whether packets on `fd` for a client that sent to `local` must say so as their source: the
 * socket is bound to a wildcard and `local` is one of the host's addresses, which the kernel
 * need not pick to answer from (a multihomed host), while the client takes packets only from
 * the address it sent to.
 */
static int needs_source(int fd, const struct sockaddr *local, socklen_t locallen)
{
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    masque_address own;
    masque_address reached;
    return getsockname(fd, (struct sockaddr *)&bound, &bl) == 0 &&
           masque_address_from_sockaddr((const struct sockaddr *)&bound, bl, &own) == 0 &&
           masque_address_from_sockaddr(local, locallen, &reached) == 0 &&
           masque_address_is_unspecified(&own) && !masque_address_is_unspecified(&reached);
}

/* Answers an Initial without a token with a Retry carrying one (RFC 9000 §8.1.2), from the
 * address the Initial was sent to. */
static void send_retry(const masque_quic_config *cfg, int fd, const struct sockaddr *local,
                       socklen_t locallen, const struct sockaddr *remote, socklen_t remotelen,
                       const ngtcp2_pkt_hd *hd)
{
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    uint8_t buf[256];
    ngtcp2_cid retry_scid;
    ngtcp2_ssize tokenlen;
    ngtcp2_ssize n;
    retry_scid.datalen = SCID_LEN;
    if (issue_cid(cfg, retry_scid.data, retry_scid.datalen) != 0) {
        return;
    }
    tokenlen = ngtcp2_crypto_generate_retry_token(
        token, cfg->retry_secret, MASQUE_QUIC_RETRY_SECRET_LEN, hd->version,
        (const ngtcp2_sockaddr *)remote, (ngtcp2_socklen)remotelen, &retry_scid, &hd->dcid,
        masque_quic_now_ns());
    if (tokenlen < 0) {
        return;
    }
    n = ngtcp2_crypto_write_retry(buf, sizeof(buf), hd->version, &hd->scid, &retry_scid, &hd->dcid,
                                  token, (size_t)tokenlen);
    if (n > 0) {
        masque_udp_send_from(fd, remote, remotelen,
                             needs_source(fd, local, locallen) ? local : NULL, buf, (size_t)n);
    }
}

masque_quic_conn *masque_quic_server_accept(const masque_quic_config *cfg, int fd,
                                            const struct sockaddr *local, socklen_t locallen,
                                            const struct sockaddr *remote, socklen_t remotelen,
                                            const uint8_t *pkt, size_t pktlen,
                                            const masque_quic_hooks *hooks, void *app)
{
    ngtcp2_pkt_hd hd;
    masque_quic_conn *c;
    ngtcp2_callbacks cb;
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    ngtcp2_cid scid;
    ngtcp2_path path;
    ngtcp2_cid odcid;
    if (!masque_quic_workers_valid(cfg) || !masque_exchange_template_usable(cfg->uri_template) ||
        ngtcp2_accept(&hd, pkt, pktlen) != 0) {
        return NULL;
    }
    odcid = hd.dcid;
    if (cfg->retry_secret != NULL) {
        /* RFC 9000 §8.1.2: no state before the client proved it receives at its address. */
        if (hd.type != NGTCP2_PKT_INITIAL) {
            return NULL;
        }
        if (hd.tokenlen == 0) {
            send_retry(cfg, fd, local, locallen, remote, remotelen, &hd);
            return NULL;
        }
        if (ngtcp2_crypto_verify_retry_token(
                &odcid, hd.token, hd.tokenlen, cfg->retry_secret, MASQUE_QUIC_RETRY_SECRET_LEN,
                hd.version, (const ngtcp2_sockaddr *)remote, (ngtcp2_socklen)remotelen, &hd.dcid,
                RETRY_TOKEN_LIFETIME, masque_quic_now_ns()) != 0) {
            return NULL; /* forged, replayed from elsewhere, or stale: dropped (§8.1.3) */
        }
    }
    c = alloc_conn(cfg, fd, local, locallen, remote, remotelen, hooks, app);
    if (c == NULL) {
        return NULL;
    }
    c->pin_source = needs_source(fd, local, locallen);
    fill_callbacks(&cb, 1);
    ngtcp2_settings_default(&settings);
    settings.initial_ts = masque_quic_now_ns();
    /* Every version it takes, in its version_information (RFC 9368 §3: Fully-Deployed
     * Versions), so that a client moved here by a forged Version Negotiation sees it was one
     * (§4); each client stays in the version it began in (no preferred_versions: ngtcp2 then
     * negotiates no other). */
    settings.available_versions = spoken_versions(cfg, &settings.available_versionslen);
    fill_params(&params, cfg, 1);
    params.original_dcid = odcid;
    params.original_dcid_present = 1;
    if (cfg->retry_secret != NULL) {
        params.retry_scid = hd.dcid; /* the Source Connection ID of our Retry */
        params.retry_scid_present = 1;
        settings.token = hd.token;
        settings.tokenlen = hd.tokenlen;
        settings.token_type = NGTCP2_TOKEN_TYPE_RETRY;
    }
    scid.datalen = SCID_LEN;
    if (issue_cid(cfg, scid.data, scid.datalen) != 0 ||
        reset_token_of(cfg->reset_secret, &scid, params.stateless_reset_token) != 0) {
        masque_quic_free(c);
        return NULL;
    }
    params.stateless_reset_token_present = 1; /* the token of the ID the handshake gives */
    path = make_path(c);
    if (ngtcp2_conn_server_new(&c->conn, &hd.scid, &scid, &path, hd.version, &cb, &settings,
                               &params, NULL, c) != 0 ||
        setup_tls(c) != 0) {
        masque_quic_free(c);
        return NULL;
    }
    return c;
}

void masque_quic_free(masque_quic_conn *c)
{
    if (c == NULL) {
        return;
    }
    /* Every request the application holds hears that it ended (the connection went first). */
    while (c->nreq > 0) {
        request_free(c->req[c->nreq - 1], NGHTTP3_H3_NO_ERROR);
    }
    if (c->h3 != NULL) {
        nghttp3_conn_del(c->h3);
    }
    drop_attempt(take_attempt(c));
    masque_quic_credentials_release(c->shared);
    masque_tls_drop_ticket(&c->offered);
    masque_tls_drop_ticket(&c->ticket);
    (void)munmap(c, sizeof(*c));
}

size_t masque_quic_ticket(const masque_quic_conn *c, uint8_t *out, size_t cap)
{
    return c != NULL ? masque_tls_copy_ticket(&c->ticket, out, cap) : 0;
}

int masque_quic_resumed(const masque_quic_conn *c)
{
    return c != NULL && c->tls != NULL && gnutls_session_is_resumed(c->tls) != 0;
}

/* Records how the connection ends: the first cause only (what follows is its consequence). */
static void ended(masque_quic_conn *c, masque_conn_end end, uint64_t code)
{
    if (c->end == MASQUE_CONN_OPEN) {
        c->end = end;
        c->end_code = code;
    }
}

/* Keeps the packet of this end's CONNECTION_CLOSE for the closing period (closing.h). */
static void keep_close_packet(masque_quic_conn *c, const uint8_t *pkt, size_t len)
{
    if (len <= sizeof(c->close_pkt)) {
        memcpy(c->close_pkt, pkt, len);
        c->close_len = len;
    }
}

/* Answers a failed read with CONNECTION_CLOSE (RFC 9000 §10.2): the code a callback chose
 * (an HTTP/3 error) or the transport error ngtcp2 maps the failure to. */
static void send_close(masque_quic_conn *c, int liberr)
{
    uint8_t buf[1452];
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    ngtcp2_ssize n;
    c->closed = 1;
    if (liberr == NGTCP2_ERR_DRAINING || liberr == NGTCP2_ERR_CLOSING ||
        ngtcp2_conn_in_closing_period(c->conn) || ngtcp2_conn_in_draining_period(c->conn)) {
        return;
    }
    if (c->last_error.error_code == 0 && c->last_error.type == NGTCP2_CCERR_TYPE_TRANSPORT &&
        liberr == NGTCP2_ERR_CRYPTO && ngtcp2_conn_get_tls_alert(c->conn) != 0) {
        /* RFC 9001 §4.8: a TLS alert ends the connection as CRYPTO_ERROR, 0x100 plus the
         * alert (ngtcp2's mapping of ERR_CRYPTO alone says PROTOCOL_VIOLATION, which tells the
         * peer nothing of why its handshake failed). */
        ngtcp2_ccerr_set_tls_alert(&c->last_error, ngtcp2_conn_get_tls_alert(c->conn), NULL, 0);
    } else if (c->last_error.error_code == 0 && c->last_error.type == NGTCP2_CCERR_TYPE_TRANSPORT &&
               liberr != NGTCP2_ERR_CALLBACK_FAILURE) {
        ngtcp2_ccerr_set_liberr(&c->last_error, liberr, NULL, 0);
    }
    ngtcp2_path_storage_zero(&ps);
    n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, buf, sizeof(buf), &c->last_error,
                                           masque_quic_now_ns());
    if (n > 0) {
        keep_close_packet(c, buf, (size_t)n);
        send_packet(c, &ps.path, buf, (size_t)n);
    }
    ended(c, MASQUE_CONN_CLOSED_HERE, c->last_error.error_code);
}

/* Feeds one datagram that arrived at `ts` (ns) from `from`: 0, or -1 when the connection is
 * over (CONNECTION_CLOSE sent where one is due). */
static int read_at(masque_quic_conn *c, const struct sockaddr *from, socklen_t fromlen,
                   const uint8_t *pkt, size_t len, uint64_t ts)
{
    ngtcp2_path path = make_path(c);
    struct sockaddr_storage remote;
    ngtcp2_pkt_info pi;
    int rv;
    if (fromlen > sizeof(remote)) {
        return 0; /* not an address a UDP socket gives: nothing read */
    }
    memset(&pi, 0, sizeof(pi));
    memcpy(&remote, from, fromlen);
    path.remote.addr = (ngtcp2_sockaddr *)&remote;
    path.remote.addrlen = (ngtcp2_socklen)fromlen;
    c->read_ts = ts;
    rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, len, ts);
    sync_path(c);
    if (rv == 0) {
        c->heard_ts = ts;
    }
    if (rv != 0) {
        char why[256];
        if (rv == NGTCP2_ERR_DRAINING) {
            /* The peer's CONNECTION_CLOSE (RFC 9000 §10.2.2): an HTTP/3 code, or QUIC's own. */
            const ngtcp2_ccerr *e = ngtcp2_conn_get_ccerr(c->conn);
            if (e->type == NGTCP2_CCERR_TYPE_TRANSPORT && e->error_code >= 0x100u &&
                e->error_code <= 0x1ffu) {
                /* RFC 9001 §4.8: CRYPTO_ERROR carries the TLS alert that ended the handshake
                 * (no common group or version, a refused certificate, ...): said, as over
                 * TLS/TCP, rather than a silent end. */
                const char *alert =
                    gnutls_alert_get_name((gnutls_alert_description_t)(e->error_code - 0x100u));
                log_line(c, "TLS handshake: the peer ended it with the alert ",
                         alert != NULL ? alert : "it sent");
            }
            ended(c,
                  e->type == NGTCP2_CCERR_TYPE_APPLICATION ? MASQUE_CONN_CLOSED_BY_PEER
                                                           : MASQUE_CONN_BROKEN,
                  e->error_code);
        } else if (rv == NGTCP2_ERR_RECV_VERSION_NEGOTIATION) {
            /* RFC 9000 §6.2: none of the versions it lists is the one this end began in; one
             * of them may be another this end speaks (RFC 9368 §2.1), once. */
            if (c->vn_version != 0 && !c->vn_restarted && begin_again(c) == 0) {
                log_line(c, "read: ",
                         c->vn_version == NGTCP2_PROTO_VER_V1
                             ? "Version Negotiation: beginning again in QUIC v1"
                             : "Version Negotiation: beginning again in QUIC v2");
                return 0;
            }
            log_line(c, "read: ", "Version Negotiation: the peer does not speak this QUIC version");
        } else if (rv == NGTCP2_ERR_VERSION_NEGOTIATION_FAILURE) {
            /* RFC 9368 §4: the server's version_information does not bear out the version
             * negotiated: one it lists is a version this end would have kept, so the Version
             * Negotiation that moved it was forged. */
            log_line(c, "read: ",
                     "the proxy's QUIC versions do not bear out the version negotiated (RFC 9368 "
                     "§4: a forged Version Negotiation, a downgrade): refused");
        } else if (rv == NGTCP2_ERR_CRYPTO && !c->cfg.is_server && c->tls != NULL &&
                   masque_tls_verify_failure(c->tls, why, sizeof(why))) {
            log_line(c, "TLS handshake: the proxy's certificate does not verify: ", why);
        } else if (rv == NGTCP2_ERR_CRYPTO && ngtcp2_conn_get_tls_alert(c->conn) != 0) {
            const char *alert = gnutls_alert_get_name(
                (gnutls_alert_description_t)ngtcp2_conn_get_tls_alert(c->conn));
            log_line(c, "TLS handshake failed; sent the peer the alert ",
                     alert != NULL ? alert : "of TLS");
        } else if (rv != NGTCP2_ERR_CLOSING && !c->refused) {
            log_line(c, c->h3_reason != NULL ? "read: HTTP/3: " : "read: ",
                     c->h3_reason != NULL ? c->h3_reason : ngtcp2_strerror(rv));
        }
        send_close(c, rv);
        return -1;
    }
    return 0;
}

int masque_quic_read(masque_quic_conn *c, const uint8_t *pkt, size_t len)
{
    return masque_quic_read_from(c, (const struct sockaddr *)&c->remote, c->remotelen, pkt, len);
}

int masque_quic_read_socket(masque_quic_conn *c)
{
    unsigned trips;
    int packets = 0;
    if (c->cfg.is_server) {
        return -1; /* a proxy's socket is shared: masque_quic_proxy_step() reads it */
    }
    if (c->gro_fd != c->fd + 1) {
        (void)masque_udp_enable_gro(c->fd); /* without it, one datagram per receive */
        c->gro_fd = c->fd + 1;
    }
    /* Bounded, so that a flood cannot keep the host from its other sockets and its timers. */
    for (trips = 0; trips < READ_SOCKET_TRIPS; trips++) {
        size_t seg = 1;
        size_t off;
        uint64_t ts;
        ssize_t n = masque_udp_recv_segments(c->fd, c->rx, sizeof(c->rx), NULL, NULL, &seg);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break; /* nothing more waits */
            }
            continue; /* an ICMP error on a connected socket (the proxy not up yet) */
        }
        ts = masque_quic_now_ns(); /* a train arrived at once */
        for (off = 0; off < (size_t)n; off += seg) {
            size_t len = (size_t)n - off < seg ? (size_t)n - off : seg;
            packets++;
            if (read_at(c, (const struct sockaddr *)&c->remote, c->remotelen, c->rx + off, len,
                        ts) != 0) {
                return -1;
            }
        }
    }
    return packets;
}

int masque_quic_read_from(masque_quic_conn *c, const struct sockaddr *from, socklen_t fromlen,
                          const uint8_t *pkt, size_t len)
{
    return read_at(c, from, fromlen, pkt, len, masque_quic_now_ns());
}

/* Drops the first `taken` bytes of the vectors; returns how many vectors remain. */
static nghttp3_ssize vec_advance(nghttp3_vec *vec, size_t count, size_t taken)
{
    size_t i = 0;
    size_t k;
    while (i < count && taken >= vec[i].len) {
        taken -= vec[i].len;
        i++;
    }
    if (i < count) {
        vec[i].base += taken;
        vec[i].len -= taken;
    }
    for (k = i; k < count; k++) {
        vec[k - i] = vec[k];
    }
    return (nghttp3_ssize)(count - i);
}

/* Capsules that met a full outbox wait in their session's queue (adapter.h,
 * MASQUE_HOST_NO_ROOM): each write gives them the room acknowledgements made since. */
static void flush_waiting(masque_quic_conn *c)
{
    size_t i;
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->session_ready) {
            (void)masque_adapter_flush(&c->req[i]->adapter); /* nothing queued: one test */
        }
    }
}

int masque_quic_write(masque_quic_conn *c)
{
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    uint64_t ts = masque_quic_now_ns();
    int datagrams_held = 0; /* congestion control or pacing: the queue waits */
    /* What nghttp3 gave and ngtcp2 has not taken yet: a stream's data spans packets, and the
     * rest of the vectors stays valid (nghttp3 keeps its data until acknowledged), so nghttp3
     * is asked again only when they are used up. */
    nghttp3_vec vec[16];
    nghttp3_ssize veccnt = 0;
    int64_t stream_id = -1;
    int fin = 0;
    flush_waiting(c);
    if (c->dgq_dated > 0) {
        drop_stale_datagrams(c, ts);
    }
    ngtcp2_path_storage_zero(&ps);
    for (;;) {
        ngtcp2_ssize ndatalen = -1;
        ngtcp2_ssize n;
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        size_t cap = 0;
        uint8_t *buf = tx_room(c, &cap);
        if (c->dgq_count > 0 && !datagrams_held) {
            n = write_datagrams(c, &ps.path, &pi, buf, cap, ts);
            if (n == 0) {
                datagrams_held = 1;
                continue;
            }
            if (n > 0) {
                tx_commit(c, &ps.path, (size_t)n);
                continue;
            }
            if (n != NGTCP2_ERR_WRITE_MORE) {
                log_line(c, "write: ", ngtcp2_strerror((int)n));
                tx_flush(c);
                ended(c, MASQUE_CONN_CLOSED_HERE, 0);
                c->closed = 1;
                return -1;
            }
            /* room left in the packet: stream data (or an ACK) completes it, below */
        }
        if (veccnt == 0 && c->h3 != NULL && ngtcp2_conn_get_max_data_left(c->conn) > 0) {
            stream_id = -1;
            fin = 0;
            veccnt = nghttp3_conn_writev_stream(c->h3, &stream_id, &fin, vec, 16);
            if (veccnt < 0) {
                return -1;
            }
        }
        if (fin) {
            flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        }
        n = ngtcp2_conn_writev_stream(c->conn, &ps.path, &pi, buf, cap, &ndatalen, flags, stream_id,
                                      (const ngtcp2_vec *)vec, (size_t)veccnt, ts);
        if (n < 0) {
            if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
                (void)nghttp3_conn_block_stream(c->h3, stream_id);
                veccnt = 0;
                continue;
            }
            if (n == NGTCP2_ERR_STREAM_SHUT_WR) {
                /* The peer sent STOP_SENDING (ngtcp2 answered with RESET_STREAM and tells no
                 * one): a request that can no longer answer its peer is over. */
                masque_quic_request *r = request_of_stream(c, stream_id);
                nghttp3_conn_shutdown_stream_write(c->h3, stream_id);
                if (r != NULL && !r->aborted) {
                    request_abort(r, NGHTTP3_H3_REQUEST_CANCELLED);
                }
                veccnt = 0;
                continue;
            }
            if (n == NGTCP2_ERR_WRITE_MORE) {
                (void)nghttp3_conn_add_write_offset(c->h3, stream_id, (size_t)ndatalen);
                veccnt = vec_advance(vec, (size_t)veccnt, (size_t)ndatalen);
                continue;
            }
            if (n != NGTCP2_ERR_DRAINING && n != NGTCP2_ERR_CLOSING) {
                log_line(c, "write: ", ngtcp2_strerror((int)n));
            }
            tx_flush(c);
            ended(c, MASQUE_CONN_CLOSED_HERE, 0);
            c->closed = 1;
            return -1;
        }
        if (ndatalen >= 0 && stream_id >= 0) {
            (void)nghttp3_conn_add_write_offset(c->h3, stream_id, (size_t)ndatalen);
            veccnt = vec_advance(vec, (size_t)veccnt, (size_t)ndatalen);
        }
        if (n == 0) {
            break;
        }
        tx_commit(c, &ps.path, (size_t)n);
    }
    tx_flush(c);
    date_held_datagrams(c, ts);
    ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
    sync_path(c);
    return 0;
}

uint64_t masque_quic_next_timeout(masque_quic_conn *c)
{
    uint64_t next = ngtcp2_conn_get_expiry(c->conn);
    size_t i;
    /* The sessions' timers (idle compressed contexts) fire on a quiet connection too. */
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->session_ready) {
            uint64_t ms = masque_session_next_timeout(&c->req[i]->session);
            if (ms != UINT64_MAX && ms < UINT64_MAX / 1000000u && ms * 1000000u < next) {
                next = ms * 1000000u;
            }
        }
    }
    return next;
}

int masque_quic_tick(masque_quic_conn *c)
{
    uint64_t now = masque_quic_now_ns();
    size_t i;
    int rv = 0;
    if (ngtcp2_conn_get_expiry(c->conn) <= now) {
        rv = ngtcp2_conn_handle_expiry(c->conn, now);
    }
    if (rv != 0) {
        /* RFC 9000 §10.1: nothing came for the idle timeout (or no handshake in time). */
        ended(c,
              rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT
                  ? MASQUE_CONN_TIMED_OUT
                  : MASQUE_CONN_CLOSED_HERE,
              0);
        c->closed = 1;
        return -1;
    }
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->session_ready) {
            (void)masque_adapter_tick(&c->req[i]->adapter, now_ms());
        }
    }
    return masque_quic_write(c);
}

int masque_quic_close(masque_quic_conn *c, uint64_t h3_error)
{
    uint8_t buf[1452];
    ngtcp2_path_storage ps;
    ngtcp2_pkt_info pi;
    ngtcp2_ccerr ccerr;
    ngtcp2_ssize n;
    if (c->closed || ngtcp2_conn_in_closing_period(c->conn) ||
        ngtcp2_conn_in_draining_period(c->conn)) {
        c->closed = 1;
        return 0;
    }
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_ccerr_set_application_error(&ccerr, h3_error, NULL, 0);
    n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, buf, sizeof(buf), &ccerr,
                                           masque_quic_now_ns());
    ended(c, MASQUE_CONN_CLOSED_HERE, h3_error);
    c->closed = 1;
    if (n > 0) {
        keep_close_packet(c, buf, (size_t)n);
        send_packet(c, &ps.path, buf, (size_t)n);
    }
    return n >= 0 ? 0 : -1;
}

int masque_quic_closing_keep(const masque_quic_conn *c, masque_quic_closing *out, uint64_t now_ns)
{
    ngtcp2_cid ids[MASQUE_CLOSING_CIDS];
    uint64_t pto3;
    size_t n;
    size_t i;
    if (c->end != MASQUE_CONN_CLOSED_HERE || c->close_len == 0 ||
        ngtcp2_conn_get_scid(c->conn, NULL) > MASQUE_CLOSING_CIDS) {
        return -1;
    }
    memset(out, 0, sizeof(*out));
    n = ngtcp2_conn_get_scid(c->conn, ids);
    for (i = 0; i < n; i++) {
        memcpy(out->cid[i], ids[i].data, ids[i].datalen);
        out->cidlen[i] = (uint8_t)ids[i].datalen;
    }
    out->ncid = n;
    memcpy(out->pkt, c->close_pkt, c->close_len);
    out->pkt_len = c->close_len;
    /* RFC 9000 §10.2: at least three PTOs. That is a tenth of a second on a short path, less
     * than a peer's probes take to come back after the loss (they double each time): so at
     * least CLOSING_MIN_NS too. */
    pto3 = 3u * ngtcp2_conn_get_pto(c->conn);
    out->until_ns = now_ns + (pto3 > CLOSING_MIN_NS ? pto3 : CLOSING_MIN_NS);
    return 0;
}

int masque_quic_packet_dcid(const uint8_t *pkt, size_t len, const uint8_t **dcid, size_t *dcidlen)
{
    ngtcp2_version_cid vc;
    /* ngtcp2 asserts a packet of one byte at least: an empty datagram is refused here. */
    if (pkt == NULL || len == 0 || dcid == NULL || dcidlen == NULL ||
        ngtcp2_pkt_decode_version_cid(&vc, pkt, len, SCID_LEN) != 0) {
        return -1;
    }
    *dcid = vc.dcid;
    *dcidlen = vc.dcidlen;
    return 0;
}

int masque_quic_reset_secret_derive(const char *key_file, uint8_t *secret)
{
    static const char label[] = "libmasque stateless reset secret 1";
    gnutls_datum_t key = {NULL, 0};
    int rv;
    if (key_file == NULL || gnutls_load_file(key_file, &key) != 0) {
        /* No file to read (a PKCS #11 URL, say): a secret of this process alone. */
        return gnutls_rnd(GNUTLS_RND_KEY, secret, MASQUE_QUIC_RESET_SECRET_LEN) == 0 ? 0 : -1;
    }
    rv = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data, key.size, label, sizeof(label) - 1, secret);
    gnutls_memset(key.data, 0, key.size); /* the private key does not stay in freed memory */
    gnutls_free(key.data);
    return rv == 0 ? 0 : -1;
}

size_t masque_quic_stateless_reset(const uint8_t *secret, const uint8_t *pkt, size_t len,
                                   uint8_t *out, size_t cap)
{
    uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
    uint8_t unpredictable[RESET_LEN - NGTCP2_STATELESS_RESET_TOKENLEN];
    const uint8_t *dcid;
    size_t dcidlen;
    size_t want = RESET_LEN;
    ngtcp2_cid cid;
    ngtcp2_ssize n;
    if (secret == NULL || pkt == NULL || out == NULL || len <= MASQUE_QUIC_STATELESS_RESET_MIN ||
        (pkt[0] & 0x80) != 0) {
        return 0; /* no room for a reset shorter than it, or a long header */
    }
    if (len - 1 < want) {
        want = len - 1; /* shorter than the packet (RFC 9000 §10.3.3) */
    }
    if (want > cap || masque_quic_packet_dcid(pkt, len, &dcid, &dcidlen) != 0) {
        return 0;
    }
    ngtcp2_cid_init(&cid, dcid, dcidlen);
    if (reset_token_of(secret, &cid, token) != 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, unpredictable, want - sizeof(token)) != 0) {
        return 0;
    }
    n = ngtcp2_pkt_write_stateless_reset(out, want, token, unpredictable, want - sizeof(token));
    return n > 0 ? (size_t)n : 0;
}

size_t masque_quic_version_negotiation(const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
    ngtcp2_version_cid vc;
    uint32_t versions[3];
    uint32_t grease;
    size_t n = 0;
    uint8_t unused;
    ngtcp2_ssize w;
    /* ngtcp2 says so for a long header of a version it lacks (not 0: that is a Version
     * Negotiation packet itself, never answered, §6.1) in a datagram large enough to start a
     * connection, which a smaller one cannot (§14.1): the answer is always shorter. */
    if (pkt == NULL || out == NULL || len < NGTCP2_MAX_UDP_PAYLOAD_SIZE ||
        ngtcp2_pkt_decode_version_cid(&vc, pkt, len, SCID_LEN) != NGTCP2_ERR_VERSION_NEGOTIATION ||
        gnutls_rnd(GNUTLS_RND_NONCE, &grease, sizeof(grease)) != 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, &unused, sizeof(unused)) != 0) {
        return 0;
    }
    versions[n++] = NGTCP2_PROTO_VER_V1;
    if (ngtcp2_is_supported_version(NGTCP2_PROTO_VER_V2)) {
        versions[n++] = NGTCP2_PROTO_VER_V2; /* RFC 9369: what masque_quic_server_accept takes */
    }
    /* A reserved version (0x?a?a?a?a, RFC 9000 §15), so that clients keep ignoring unknown
     * ones (§6.3). */
    versions[n++] = (grease & 0xf0f0f0f0u) | 0x0a0a0a0au;
    /* The client's Source Connection ID as the Destination and the other way round (§17.2.1). */
    w = ngtcp2_pkt_write_version_negotiation(out, cap, unused, vc.scid, vc.scidlen, vc.dcid,
                                             vc.dcidlen, versions, n);
    return w > 0 ? (size_t)w : 0;
}

int masque_quic_closing_match(masque_quic_closing *k, const uint8_t *dcid, size_t dcidlen,
                              uint64_t now_ns, const uint8_t **reply, size_t *reply_len)
{
    size_t i;
    if (k->until_ns == 0) {
        return 0;
    }
    if (now_ns >= k->until_ns) {
        k->until_ns = 0; /* the period is over: the connection is forgotten */
        return 0;
    }
    for (i = 0; i < k->ncid; i++) {
        if (k->cidlen[i] == dcidlen && memcmp(k->cid[i], dcid, dcidlen) == 0) {
            k->heard++;
            /* Powers of two: 1, 2, 4, 8, ... packets (RFC 9000 §10.2.1). */
            *reply = (k->heard & (k->heard - 1u)) == 0 ? k->pkt : NULL;
            *reply_len = *reply != NULL ? k->pkt_len : 0;
            return 1;
        }
    }
    return 0;
}

uint64_t masque_quic_heard_ns(const masque_quic_conn *c)
{
    return c->heard_ts;
}

void masque_quic_probe(masque_quic_conn *c, int on)
{
    /* ngtcp2 sends one PING when the connection has been quiet for the keep-alive timeout,
     * and another only after something came from the peer: at once here, once per answer. */
    ngtcp2_duration keep_alive =
        ngtcp2_conn_is_server(c->conn) ? UINT64_MAX : keep_alive_of(&c->cfg);
    ngtcp2_conn_set_keep_alive_timeout(c->conn, on ? NGTCP2_MILLISECONDS : keep_alive);
}

uint64_t masque_quic_pto_ns(const masque_quic_conn *c)
{
    return ngtcp2_conn_get_pto(c->conn);
}

int masque_quic_starts_connection(const uint8_t *pkt, size_t len)
{
    ngtcp2_pkt_hd hd;
    return pkt != NULL && ngtcp2_accept(&hd, pkt, len) == 0;
}

/* Whether `id` is the Destination Connection ID of the client's Initial that started c (its
 * own choice, or a Retry's): an ID this end never issued to it. */
static int is_first_dcid(const masque_quic_conn *c, const uint8_t *id, size_t len)
{
    const ngtcp2_cid *first = ngtcp2_conn_get_client_initial_dcid(c->conn);
    return len == first->datalen && memcmp(id, first->data, len) == 0;
}

int masque_quic_started_by(const masque_quic_conn *c, const uint8_t *pkt, size_t len)
{
    const uint8_t *dcid;
    size_t dcidlen;
    return c != NULL && masque_quic_packet_dcid(pkt, len, &dcid, &dcidlen) == 0 &&
           is_first_dcid(c, dcid, dcidlen);
}

int masque_quic_watch_connection_ids(masque_quic_conn *c, masque_quic_connection_id_watch watch,
                                     void *arg)
{
    ngtcp2_cid ids[MASQUE_QUIC_CONNECTION_IDS_MAX];
    size_t n;
    size_t i;
    if (c == NULL) {
        return -1;
    }
    c->cid_watch = NULL;
    if (watch == NULL) {
        return 0;
    }
    if (!ngtcp2_conn_is_server(c->conn) ||
        ngtcp2_conn_get_scid(c->conn, NULL) > MASQUE_QUIC_CONNECTION_IDS_MAX) {
        return -1; /* a client's IDs are not this length, nor routed by its host */
    }
    n = ngtcp2_conn_get_scid(c->conn, ids);
    for (i = 0; i < n; i++) {
        if (ids[i].datalen == SCID_LEN && !is_first_dcid(c, ids[i].data, ids[i].datalen)) {
            watch(arg, ids[i].data, 1);
        }
    }
    c->cid_watch = watch;
    c->cid_watch_arg = arg;
    return 0;
}

int masque_quic_is_for(const masque_quic_conn *c, const uint8_t *pkt, size_t len)
{
    ngtcp2_cid ids[16];
    const uint8_t *dcid;
    size_t dcidlen;
    size_t n;
    size_t i;
    if (masque_quic_packet_dcid(pkt, len, &dcid, &dcidlen) != 0 ||
        ngtcp2_conn_get_scid(c->conn, NULL) > sizeof(ids) / sizeof(ids[0])) {
        return 0;
    }
    n = ngtcp2_conn_get_scid(c->conn, ids);
    for (i = 0; i < n; i++) {
        if (ids[i].datalen == dcidlen && memcmp(ids[i].data, dcid, dcidlen) == 0) {
            return 1;
        }
    }
    return 0;
}

socklen_t masque_quic_peer_address(const masque_quic_conn *c, struct sockaddr_storage *out)
{
    memcpy(out, &c->remote, c->remotelen); /* the proxy asks after every packet: not 128 bytes */
    return c->remotelen;
}

int masque_quic_migrate(masque_quic_conn *c, int fd, const struct sockaddr *local,
                        socklen_t locallen)
{
    ngtcp2_path path;
    struct sockaddr_storage moved;
    if (c->cfg.is_server || locallen > sizeof(moved)) {
        return -1;
    }
    memcpy(&moved, local, locallen);
    path = make_path(c);
    path.local.addr = (ngtcp2_sockaddr *)&moved; /* ngtcp2 copies it */
    path.local.addrlen = (ngtcp2_socklen)locallen;
    /* RFC 9000 §9.2-§9.3: a fresh connection ID on the new path, validated on the way. */
    if (ngtcp2_conn_initiate_immediate_migration(c->conn, &path, masque_quic_now_ns()) != 0) {
        return -1;
    }
    memcpy(&c->local, local, locallen);
    c->locallen = locallen;
    c->fd = fd;
    return masque_quic_write(c);
}

int masque_quic_peer_identity(const masque_quic_conn *c, char *out, size_t cap)
{
    return masque_tls_peer_identity(c->tls, out, cap);
}

int masque_quic_handshake_completed(const masque_quic_conn *c)
{
    return ngtcp2_conn_get_handshake_completed(c->conn);
}

int masque_quic_is_closed(const masque_quic_conn *c)
{
    return c->closed || ngtcp2_conn_in_closing_period(c->conn) ||
           ngtcp2_conn_in_draining_period(c->conn);
}

masque_conn_end masque_quic_end_reason(const masque_quic_conn *c, uint64_t *code)
{
    if (code != NULL) {
        *code = c->end_code;
    }
    return c->end;
}

int masque_quic_refused(const masque_quic_conn *c)
{
    return c->refused;
}

size_t masque_quic_datagram_max(const masque_quic_conn *c)
{
    size_t path_max = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->conn);
    if (path_max > MAX_PACKET) {
        path_max = MAX_PACKET;
    }
    return path_max > DATAGRAM_OVERHEAD ? path_max - DATAGRAM_OVERHEAD : 0;
}

uint64_t masque_quic_datagrams_too_large(const masque_quic_conn *c)
{
    return c->datagrams_too_large;
}

uint64_t masque_quic_datagrams_dropped(const masque_quic_conn *c)
{
    return c->datagrams_dropped;
}

masque_quic_request *masque_quic_request_open(masque_quic_conn *c, void *app)
{
    masque_quic_request *r;
    if (c->cfg.is_server || c->refused || c->goaway || masque_quic_is_closed(c) ||
        requests_live(c) >= c->max_requests) {
        return NULL;
    }
    r = request_new(c, -1, app);
    if (r == NULL) {
        return NULL;
    }
    if (client_send_requests(c) != 0 && r->stream < 0) {
        request_free(r, NGHTTP3_H3_INTERNAL_ERROR); /* no on_close: it was never the host's */
        return NULL;
    }
    r->known = 1;
    return r;
}

size_t masque_quic_requests(const masque_quic_conn *c)
{
    return c->nreq;
}

masque_quic_conn *masque_quic_request_conn(const masque_quic_request *r)
{
    return r->conn;
}

int64_t masque_quic_request_stream_id(const masque_quic_request *r)
{
    return r->stream;
}

void *masque_quic_request_app(const masque_quic_request *r)
{
    return r->app;
}

void masque_quic_request_set_app(masque_quic_request *r, void *app)
{
    r->app = app;
}

masque_session *masque_quic_request_session(masque_quic_request *r)
{
    return r->session_ready ? &r->session : NULL;
}

masque_adapter *masque_quic_request_adapter(masque_quic_request *r)
{
    return r->session_ready ? &r->adapter : NULL;
}

size_t masque_quic_request_public_addresses(const masque_quic_request *r, masque_address *out,
                                            size_t cap)
{
    size_t i;
    for (i = 0; i < r->npublic && i < cap; i++) {
        out[i] = r->public_addrs[i];
    }
    return r->npublic;
}

int masque_quic_request_status(const masque_quic_request *r)
{
    return r->conn->cfg.is_server ? 0 : r->x.status;
}

int masque_quic_request_uses_h3_datagrams(const masque_quic_request *r)
{
    return r->h3_datagrams;
}

int masque_quic_request_end(masque_quic_request *r)
{
    if (r->stream < 0 || r->conn->h3 == NULL) {
        return -1;
    }
    r->out_fin = 1;
    (void)nghttp3_conn_resume_stream(r->conn->h3, r->stream);
    return 0;
}

int masque_quic_request_cancel(masque_quic_request *r, uint64_t h3_error)
{
    if (r->stream < 0) {
        request_free(r, h3_error); /* never sent: nothing to tell the proxy */
        return 0;
    }
    if (r->aborted) {
        return -1; /* on_close has returned: the application no longer holds it */
    }
    request_abort(r, h3_error);
    return 0;
}

int masque_quic_request_write_stream(masque_quic_request *r, const uint8_t *data, size_t len)
{
    if (r->stream < 0) {
        return -1;
    }
    return outbox_append(r, data, len, now_ms());
}
