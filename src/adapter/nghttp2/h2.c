/* SPDX-License-Identifier: GPL-3.0-only */
/* The nghttp2 + GnuTLS binding (HTTP/2 over TLS/TCP): see include/masque/h2.h. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#define _POSIX_C_SOURCE 200809L
#include "masque/h2.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "../common/exchange.h"
#include "../common/queue_age.h"
#include "../common/tls_identity.h"
#include "h2_probe.h"

#define TABLE_CAPACITY       256
#define DEFAULT_BUFFER       ((size_t)256 * 1024)
#define DEFAULT_MAX_REQUESTS 8u
#define DEFAULT_IDLE_MS      120000u /* RFC 9298 §3.1: no idle timeout under two minutes */
#define TX_CAP               ((size_t)64 * 1024) /* frames waiting for the socket */
#define RX_CHUNK             16384u
/* Flow control (RFC 9113 §6.9): what this end lets its peer send ahead of its WINDOW_UPDATEs.
 * nghttp2's default, 64 KiB, holds a tunnel to 64 KiB a round trip: about 10 Mbit/s at 50 ms
 * (tools/delay-bench.py). What arrives is handled as it is read (capsules to the session,
 * datagrams to their socket), so a larger window costs no memory here; 4 MiB a stream carries
 * about 170 Mbit/s at 100 ms, and the connection's window lets four streams have theirs. */
#define STREAM_WINDOW        ((uint32_t)4 << 20)
#define CONN_WINDOW          ((int32_t)16 << 20)
/* What one masque_h2_read() takes from the socket at most: with windows that large, a peer
 * could otherwise keep one call, and with it the other connections of the host's loop,
 * busy with megabytes. The socket stays readable for the rest. */
#define READ_BUDGET          ((size_t)64 * 1024)
/* Bytes the kernel may hold unsent before the socket takes no more (TCP_NOTSENT_LOWAT; a write
 * may still fill the segment it lands in): beyond it, capsules wait in their request's bounded
 * outbox, where one that finds no room is dropped, rather than queue behind megabytes of socket
 * buffer and arrive too late to matter (RFC 9298 §6 asks for no added latency). Data in flight
 * is not limited by it. */
#define NOTSENT_LOWAT        16384
#define DEFAULT_PRIORITY     "NORMAL:-VERS-ALL:+VERS-TLS1.3"

/* One Bind request: its stream, fields, session and outbox of capsules. */
struct masque_h2_request {
    masque_session session;
    masque_adapter adapter;
    uint64_t table_storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(TABLE_CAPACITY) / 8u];
    /* Proxy-Public-Address: what the proxy advertised (client), or on_request bound (proxy) */
    masque_address public_addrs[MASQUE_PUBLIC_ADDRESSES_MAX];
    masque_h2_conn *conn;
    void *app;
    uint8_t *out; /* capsules not yet handed to nghttp2 (which copies them into frames) */
    size_t out_cap, out_read, out_end;
    uint64_t out_base;    /* the body's offset of out[0] */
    masque_queue_age age; /* when the outbox's bytes came (body offsets) */
    size_t npublic;
    int32_t stream; /* -1: a client's request waiting for the proxy's SETTINGS */
    int out_fin;
    int deferred; /* nghttp2 waits for capsules: resume it when some come */
    int session_ready;
    int response_seen; /* client: the final response came (what follows is trailers) */
    int fin_received;
    int known; /* the application holds it: on_close is owed */
    int reset; /* RST_STREAM submitted: never a second (request_reset()) */
    masque_exchange x;
    uint8_t reassembly[MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX];
};

struct masque_h2_conn {
    masque_h2_config cfg;
    masque_h2_hooks hooks;
    void *app;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred; /* our own, or NULL (the application's) */
    nghttp2_session *h2;
    masque_h2_request *req[MASQUE_H2_MAX_REQUESTS];
    size_t nreq;
    size_t max_requests;
    size_t tx_off, tx_len; /* tx[tx_off, tx_len) waits for the socket */
    size_t tx_try;         /* GnuTLS: a send that would block is retried with the same length */
    int fd;
    int handshaken;
    int closed;
    int reset_unsent;    /* an RST_STREAM was submitted since frames last went out */
    masque_conn_end end; /* how it ended (the first cause seen), and the code of that end */
    uint32_t end_code;
    int goaway_received; /* the peer's GOAWAY came, with this code */
    uint32_t goaway_code;
    int settings_received;
    int refused;
    uint64_t idle_ms; /* nothing received for this long closes the connection */
    /* When bytes last came in (or the connection started), in ns: the idle timeout counts
     * from it, and a proxy's probe (h2_probe.h) has its answer when it moves. */
    uint64_t heard_ns;
    uint64_t last_ping_ms; /* client: when it last sent a keep-alive PING */
    char tls_host[256];
    gnutls_datum_t ticket; /* client: the newest session ticket the proxy sent (tls_identity.h) */
    uint8_t ticket_key[MASQUE_TLS_TICKET_KEY_LEN]; /* proxy: its session tickets' */
    uint8_t tx[TX_CAP];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: a valid clock and pointer */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
    return now_ns() / 1000000u;
}

/* Bytes came in: the idle timeout starts again, and a probe has its answer. */
static void heard(masque_h2_conn *c)
{
    c->heard_ns = now_ns();
}

/* When bytes last came in, in ms (the clock of the idle timeout and the keep-alive). */
static uint64_t last_rx_ms(const masque_h2_conn *c)
{
    return c->heard_ns / 1000000u;
}

static void log_line(masque_h2_conn *c, const char *what, const char *detail)
{
    char line[512];
    if (c->hooks.on_log == NULL) {
        return;
    }
    (void)snprintf(line, sizeof(line), "%s%s", what, detail);
    c->hooks.on_log(c, c->app, line);
}

static void *map_zeroed(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

uint32_t masque_h2_error_from_h3(uint64_t h3_error)
{
    switch (h3_error) {
    case MASQUE_H3_NO_ERROR:
        return MASQUE_H2_NO_ERROR;
    case MASQUE_H3_MESSAGE_ERROR:
    case MASQUE_H3_DATAGRAM_ERROR:
        return MASQUE_H2_PROTOCOL_ERROR; /* RFC 9297 §3.3, RFC 9113 §8.1.1 */
    case MASQUE_H3_EXCESSIVE_LOAD:
        return MASQUE_H2_ENHANCE_YOUR_CALM;
    case MASQUE_H3_REQUEST_CANCELLED:
        return MASQUE_H2_CANCEL;
    case MASQUE_H3_REQUEST_REJECTED:
        return MASQUE_H2_REFUSED_STREAM;
    default:
        return MASQUE_H2_INTERNAL_ERROR;
    }
}

/* ---- requests ---- */

static masque_h2_request *request_new(masque_h2_conn *c, int32_t stream, void *app)
{
    masque_h2_request *r;
    if (c->nreq == MASQUE_H2_MAX_REQUESTS) {
        return NULL;
    }
    r = map_zeroed(sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->out_cap = c->cfg.stream_buffer != 0 ? c->cfg.stream_buffer : DEFAULT_BUFFER;
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

static void request_free(masque_h2_request *r, uint32_t code)
{
    masque_h2_conn *c = r->conn;
    size_t i;
    if (r->known && c->hooks.on_close != NULL) {
        c->hooks.on_close(r, r->app, code);
    }
    if (c->h2 != NULL && r->stream > 0) {
        (void)nghttp2_session_set_stream_user_data(c->h2, r->stream, NULL);
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

static size_t requests_live(const masque_h2_conn *c)
{
    size_t i;
    size_t n = 0;
    for (i = 0; i < c->nreq; i++) {
        n += c->req[i]->known != 0 ? 1u : 0u;
    }
    return n;
}

/* ---- the request stream's body ---- */

/* Queues capsules that came at `now` (ms). 0, or -1 when the outbox has no room for them. */
static int outbox_append(masque_h2_request *r, const uint8_t *data, size_t len, uint64_t now)
{
    if (r->out_end + len > r->out_cap && r->out_read > 0) {
        memmove(r->out, r->out + r->out_read, r->out_end - r->out_read);
        r->out_base += r->out_read;
        r->out_end -= r->out_read;
        r->out_read = 0;
    }
    if (r->out_end + len > r->out_cap) {
        return -1; /* -10 §9: bounded; the adapter drops a datagram, keeps a response queued */
    }
    memcpy(r->out + r->out_end, data, len);
    r->out_end += len;
    masque_queue_age_queued(&r->age, r->out_base + r->out_end, now,
                            r->conn->cfg.datagram_max_wait_ms);
    if (r->deferred && r->conn->h2 != NULL && r->stream > 0) {
        r->deferred = 0;
        (void)nghttp2_session_resume_data(r->conn->h2, r->stream);
    }
    return 0;
}

/* The type is nghttp2's (nghttp2_data_source_read_callback): source stays non-const. */
static ssize_t read_body(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                         /* cppcheck-suppress constParameterCallback */
                         uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
    masque_h2_request *r = source->ptr;
    size_t n;
    (void)h2;
    (void)stream_id;
    (void)user;
    if (r->out_read == r->out_end) {
        r->out_base += r->out_end;
        r->out_read = 0;
        r->out_end = 0;
        if (r->out_fin) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF; /* the request's end (RFC 9298 §3.1) */
            return 0;
        }
        r->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    n = r->out_end - r->out_read < length ? r->out_end - r->out_read : length;
    memcpy(buf, r->out + r->out_read, n);
    r->out_read += n;
    masque_queue_age_taken(&r->age, r->out_base + r->out_read);
    return (ssize_t)n;
}

/* ---- adapter host callbacks (host: the request) ---- */

static int host_write_stream(void *host, const uint8_t *data, size_t len)
{
    masque_h2_request *r = host;
    uint64_t now = now_ms();
    /* A datagram that would wait too long is dropped and counted, as at a full buffer. */
    if (masque_queue_age_drops(&r->age, data, len, now, r->conn->cfg.datagram_max_wait_ms)) {
        return MASQUE_HOST_NO_ROOM;
    }
    return outbox_append(r, data, len, now) == 0 ? 0 : MASQUE_HOST_NO_ROOM; /* the only failure */
}

static void host_on_packet(void *host, const masque_address *peer, const uint8_t *data, size_t len)
{
    masque_h2_request *r = host;
    if (r->conn->hooks.on_packet != NULL) {
        r->conn->hooks.on_packet(r, r->app, peer, data, len);
    }
}

/*
 * Resets the request's stream, once. A client's request whose HEADERS nghttp2 still holds
 * (submitted, not yet sent) is cancelled in place by the first RST_STREAM, and nothing is sent;
 * a second would go out as a frame for a stream the proxy never saw, which it must take for a
 * connection error (RFC 9113 §6.4), ending every tunnel on it.
 */
static int request_reset(masque_h2_request *r, uint32_t h2_error)
{
    if (r->reset) {
        return 0;
    }
    if (nghttp2_submit_rst_stream(r->conn->h2, NGHTTP2_FLAG_NONE, r->stream, h2_error) != 0) {
        return -1;
    }
    r->reset = 1;
    r->conn->reset_unsent = 1;
    return 0;
}

/* The core chose an HTTP/3 code; HTTP/2 has its own (RFC 9297 §3.3 and RFC 9113 §8.1.1). */
static void host_abort(void *host, uint64_t code)
{
    masque_h2_request *r = host;
    if (r->stream > 0 && r->conn->h2 != NULL) {
        (void)request_reset(r, masque_h2_error_from_h3(code));
    }
}

static void host_on_event(void *host, const masque_event *ev)
{
    masque_h2_request *r = host;
    if (r->conn->hooks.on_event != NULL) {
        r->conn->hooks.on_event(r, r->app, ev);
    }
}

/* No HTTP/3 datagrams over HTTP/2: every one is a DATAGRAM capsule (RFC 9297 §3.5). */
static const masque_host_ops capsule_ops = {host_write_stream, NULL, host_on_packet, host_abort,
                                            host_on_event};

static int start_session(masque_h2_request *r, masque_role role, unsigned families)
{
    masque_h2_conn *c = r->conn;
    masque_session_config sc;
    memset(&sc, 0, sizeof(sc));
    sc.role = role;
    sc.capsule_datagrams = 1;
    sc.advertised_families = families;
    sc.policy = c->cfg.policy;
    sc.user = r;
    sc.idle_timeout_ms = c->cfg.idle_timeout_ms != 0 ? c->cfg.idle_timeout_ms : 120000;
    sc.max_peer_contexts = c->cfg.max_peer_contexts;
    sc.assign_rate = c->cfg.assign_rate;
    sc.reassembly = r->reassembly;
    sc.reassembly_len = sizeof(r->reassembly);
    sc.hash_seed = now_ms() ^ (uint64_t)(uintptr_t)r;
    if (masque_session_init(&r->session, &sc, r->table_storage, sizeof(r->table_storage),
                            now_ms()) != 0 ||
        masque_adapter_init(&r->adapter, &r->session, &capsule_ops, r) != 0) {
        return -1;
    }
    r->session_ready = 1;
    return 0;
}

/* ---- HTTP/2 messages ---- */

static void to_nv(nghttp2_nv *nv, const masque_field *f, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        memcpy(&nv[i].name, &f[i].name.ptr, sizeof(nv[i].name)); /* nghttp2 only reads them */
        nv[i].namelen = f[i].name.len;
        memcpy(&nv[i].value, &f[i].value.ptr, sizeof(nv[i].value));
        nv[i].valuelen = f[i].value.len;
        nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
}

static int submit_response(masque_h2_request *r, int status, const char *error_type,
                           const char *details, const char *why)
{
    masque_field fields[MASQUE_BIND_RESPONSE_FIELDS_MAX];
    nghttp2_nv nv[MASQUE_BIND_RESPONSE_FIELDS_MAX];
    nghttp2_data_provider dp;
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
    dp.source.ptr = r;
    dp.read_callback = read_body;
    return nghttp2_submit_response(r->conn->h2, r->stream, nv, (size_t)n,
                                   status == 200 ? &dp : NULL);
}

static int server_answer(masque_h2_request *r)
{
    masque_h2_conn *c = r->conn;
    masque_exchange_refusal no;
    unsigned families = 0;
    int authorized = c->hooks.on_authorize == NULL ||
                     c->hooks.on_authorize(r, r->app, masque_exchange_credentials(&r->x)) == 0;
    if (masque_exchange_admit(&r->x, c->cfg.uri_template, authorized, requests_live(c),
                              c->max_requests, &no) != 0) {
        return submit_response(r, no.status, no.error_type, no.details, no.why);
    }
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

static void client_response(masque_h2_request *r)
{
    masque_h2_conn *c = r->conn;
    masque_address addrs[MASQUE_PUBLIC_ADDRESSES_MAX];
    size_t n = 0;
    unsigned families = 0;
    if (masque_exchange_check_response(&r->x, addrs, MASQUE_PUBLIC_ADDRESSES_MAX, &n, &families) !=
            MASQUE_OK ||
        start_session(r, MASQUE_ROLE_CLIENT, families) != 0) {
        char line[400];
        masque_exchange_refusal_line(&r->x, line, sizeof(line));
        log_line(c, line, "");
        (void)request_reset(r, NGHTTP2_CANCEL);
        return;
    }
    memcpy(r->public_addrs, addrs, n * sizeof(addrs[0]));
    r->npublic = n;
    if (c->hooks.on_ready != NULL) {
        c->hooks.on_ready(r, r->app);
    }
}

static int client_send_request(masque_h2_request *r)
{
    masque_h2_conn *c = r->conn;
    char path[1024];
    char auth[320];
    masque_field fields[MASQUE_EXCHANGE_REQUEST_FIELDS];
    nghttp2_nv nv[MASQUE_EXCHANGE_REQUEST_FIELDS];
    nghttp2_data_provider dp;
    int32_t id;
    masque_ssize n = masque_exchange_request(fields, path, sizeof(path), c->cfg.authority,
                                             c->cfg.uri_template, c->cfg.target_host,
                                             c->cfg.target_port, c->cfg.token, auth, sizeof(auth));
    if (n < 0) {
        return -1;
    }
    to_nv(nv, fields, (size_t)n);
    dp.source.ptr = r;
    dp.read_callback = read_body;
    id = nghttp2_submit_request(c->h2, NULL, nv, (size_t)n, &dp, r);
    if (id < 0) {
        return -1;
    }
    r->stream = id;
    return 0;
}

/*
 * Client: sends the requests still waiting, once the proxy's SETTINGS allow extended CONNECT
 * and as far as its SETTINGS_MAX_CONCURRENT_STREAMS does (RFC 9113 §5.1.2: open and half-closed
 * streams count); the rest go out as streams close (on_stream_close()), none after the proxy's
 * GOAWAY. A request waits here, not in nghttp2's queue, so that cancelling it is immediate and
 * sends nothing. 0, or -1 on failure.
 */
static int client_send_requests(masque_h2_conn *c)
{
    uint32_t room;
    size_t held = 0;
    size_t i;
    if (!c->settings_received || c->refused || c->h2 == NULL || c->goaway_received) {
        return 0;
    }
    room = nghttp2_session_get_remote_settings(c->h2, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    for (i = 0; i < c->nreq; i++) {
        held += c->req[i]->stream > 0 ? 1u : 0u;
    }
    for (i = 0; i < c->nreq && held < room; i++) {
        if (c->req[i]->stream < 0) {
            if (client_send_request(c->req[i]) != 0) {
                return -1;
            }
            held++;
        }
    }
    return 0;
}

/* Client: the proxy's GOAWAY (RFC 9113 §6.8) came; a request still waiting here was never
 * sent, and will not be: it ends as one the proxy refused unprocessed (REFUSED_STREAM, safe to
 * ask again on a new connection, §8.7). */
static void client_drop_waiting(masque_h2_conn *c)
{
    size_t i = 0;
    while (i < c->nreq) {
        if (c->req[i]->stream < 0) {
            /* From the top again: its on_close may have ended others (the table moves). */
            request_free(c->req[i], NGHTTP2_REFUSED_STREAM);
            i = 0;
        } else {
            i++;
        }
    }
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    masque_h2_conn *c = user;
    masque_h2_request *r;
    if (!c->cfg.is_server || frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    r = request_new(c, frame->hd.stream_id, c->app);
    if (r == NULL) {
        (void)nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                        NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    (void)nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, r);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    masque_h2_request *r = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    (void)flags;
    (void)user;
    if (r != NULL && frame->hd.type == NGHTTP2_HEADERS) {
        masque_exchange_field(&r->x, name, namelen, value, valuelen);
    }
    return 0;
}

/* The stream's receive side ended: inside a capsule that is malformed (RFC 9297 §3.3); a clean
 * end ends the request, and we end our side too, in either role: a UDP tunnel has no
 * half-close (RFC 9298 §3.1: the proxy's socket is gone with its side), and a client left
 * half-open would never hear that its tunnel ended. */
static void stream_ended(masque_h2_request *r)
{
    if (r->session_ready && !r->fin_received) {
        r->fin_received = 1;
        if (masque_adapter_read_fin(&r->adapter) == MASQUE_OK) {
            (void)masque_h2_request_end(r);
        }
    }
}

/* Records how the connection ends: the first cause only (what follows is its consequence). */
static void ended(masque_h2_conn *c, masque_conn_end end, uint32_t code)
{
    if (c->end == MASQUE_CONN_OPEN) {
        c->end = end;
        c->end_code = code;
    }
}

/* The peer ended it: with its GOAWAY's word when one came first (RFC 9113 §6.8), else without. */
static void ended_by_peer(masque_h2_conn *c)
{
    if (c->goaway_received) {
        ended(c, MASQUE_CONN_CLOSED_BY_PEER, c->goaway_code);
    } else {
        ended(c, MASQUE_CONN_BROKEN, 0);
    }
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    masque_h2_conn *c = user;
    masque_h2_request *r = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0 || c->cfg.is_server) {
            return 0;
        }
        if (!c->settings_received) {
            c->settings_received = 1;
            /* RFC 8441 §3: no extended CONNECT unless the proxy said so. */
            if (nghttp2_session_get_remote_settings(h2, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) !=
                1) {
                log_line(c, "the proxy does not offer extended CONNECT over HTTP/2 (no SETTINGS_",
                         "ENABLE_CONNECT_PROTOCOL, RFC 8441): it cannot serve CONNECT-UDP");
                c->refused = 1;
                ended(c, MASQUE_CONN_CLOSED_HERE, NGHTTP2_NO_ERROR);
                (void)nghttp2_session_terminate_session(h2, NGHTTP2_NO_ERROR);
                return 0;
            }
        }
        /* The first SETTINGS, or a later one that may raise SETTINGS_MAX_CONCURRENT_STREAMS:
         * the requests that wait go, as far as there is room. */
        return client_send_requests(c) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
    case NGHTTP2_HEADERS:
        if (r == NULL) {
            return 0;
        }
        if ((frame->hd.flags & NGHTTP2_FLAG_END_HEADERS) == 0 || r->session_ready) {
            break;
        }
        if (c->cfg.is_server) {
            if (frame->headers.cat != NGHTTP2_HCAT_HEADERS && server_answer(r) != 0) {
                return NGHTTP2_ERR_CALLBACK_FAILURE; /* (HCAT_HEADERS: trailers) */
            }
        } else if (!r->response_seen) {
            /* After an interim response nghttp2 files the final one under HCAT_HEADERS, as it
             * does trailers, which can only follow a final response. */
            if (r->x.status >= 100 && r->x.status <= 199) {
                /* Interim (RFC 9110 §15.2): forgotten, fields and all; the final one follows. */
                memset(&r->x, 0, sizeof(r->x));
            } else {
                r->response_seen = 1;
                client_response(r);
            }
        }
        break;
    case NGHTTP2_DATA:
        break;
    case NGHTTP2_GOAWAY:
        if (!c->goaway_received) { /* the connection's end will be the peer's, with this word */
            c->goaway_received = 1;
            c->goaway_code = frame->goaway.error_code;
        }
        if (!c->cfg.is_server) {
            client_drop_waiting(c);
        }
        return 0;
    default:
        return 0;
    }
    if (r != NULL && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
        stream_ended(r);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user)
{
    masque_h2_request *r = nghttp2_session_get_stream_user_data(h2, stream_id);
    (void)flags;
    (void)user;
    if (r != NULL && r->session_ready) {
        (void)masque_adapter_read_stream(&r->adapter, data, len, now_ms());
    }
    return 0;
}

/* A GOAWAY with an error that nghttp2 sends of its own accord (the peer broke HTTP/2 or HPACK,
 * RFC 9113 §5.4.1: a field longer than it decodes, say) ends the connection here, with that
 * code, and says why; one that masque_h2_close() asked for was recorded there. */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    masque_h2_conn *c = user;
    (void)h2;
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
        c->end == MASQUE_CONN_OPEN) {
        log_line(c, "sent GOAWAY: ", nghttp2_http2_strerror(frame->goaway.error_code));
        ended(c, MASQUE_CONN_CLOSED_HERE, frame->goaway.error_code);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code, void *user)
{
    masque_h2_conn *c = user;
    masque_h2_request *r = nghttp2_session_get_stream_user_data(h2, stream_id);
    if (r != NULL) {
        request_free(r, error_code);
    }
    /* A client's stream closed: room under the proxy's limit for a request that waits. */
    if (!c->cfg.is_server && client_send_requests(c) != 0) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int start_h2(masque_h2_conn *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_settings_entry iv[4];
    size_t niv = 0;
    int rv;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        return -1;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    rv = c->cfg.is_server ? nghttp2_session_server_new(&c->h2, cb, c)
                          : nghttp2_session_client_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        return -1;
    }
    iv[niv].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[niv++].value =
        !c->cfg.is_server || c->cfg.max_streams == 0 || c->cfg.max_streams > MASQUE_H2_MAX_REQUESTS
            ? MASQUE_H2_MAX_REQUESTS
            : (uint32_t)c->cfg.max_streams;
    iv[niv].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[niv++].value = 0;
    iv[niv].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[niv++].value = STREAM_WINDOW;
    if (c->cfg.is_server) {
        iv[niv].settings_id = NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL; /* RFC 8441 §3 */
        iv[niv++].value = 1;
    }
    /* The connection's window has no SETTINGS: a WINDOW_UPDATE on stream 0 raises it. */
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, niv) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0) {
        return -1;
    }
    return 0;
}

/* ---- TLS ---- */

/* Client: a NewSessionTicket came (after the handshake, RFC 8446 §4.6.1): the newest is kept. */
static int on_ticket(gnutls_session_t tls, unsigned type, unsigned when, unsigned incoming,
                     const gnutls_datum_t *msg)
{
    masque_h2_conn *c = gnutls_session_get_ptr(tls);
    (void)type;
    (void)when;
    (void)incoming;
    (void)msg;
    masque_tls_keep_ticket(tls, &c->ticket);
    return 0;
}

/* Proxy: session tickets under the configured key, or one derived from the key file. 0, or -1. */
static int enable_tickets(masque_h2_conn *c)
{
    gnutls_datum_t key;
    if (c->cfg.ticket_key != NULL) {
        memcpy(c->ticket_key, c->cfg.ticket_key, sizeof(c->ticket_key));
    } else if (c->cfg.key_file == NULL) {
        return 0; /* nothing to derive a key from that another connection would share */
    } else if (masque_tls_ticket_key_derive(c->cfg.key_file, c->cfg.client_ca_file,
                                            c->ticket_key) != 0) {
        return -1;
    }
    c->cfg.ticket_key = NULL; /* copied */
    key.data = c->ticket_key;
    key.size = sizeof(c->ticket_key);
    return gnutls_session_ticket_enable_server(c->tls, &key) == 0 ? 0 : -1;
}

static int setup_tls(masque_h2_conn *c)
{
    gnutls_datum_t alpn = {(unsigned char *)"h2", 2};
    const char *priority = c->cfg.priority != NULL ? c->cfg.priority : DEFAULT_PRIORITY;
    gnutls_certificate_credentials_t cred = c->cfg.credentials;
    char why[512];
    if (masque_tls_priority_check(c->cfg.priority, why, sizeof(why)) != 0) {
        log_line(c, why, "");
        return -1;
    }
    if (cred == NULL) {
        if (gnutls_certificate_allocate_credentials(&c->cred) != 0) {
            return -1;
        }
        cred = c->cred;
    }
    if (c->cfg.credentials != NULL) {
        /* the application's, loaded once (a proxy's, shared with its HTTP/3 side) */
    } else if (c->cfg.is_server) {
        if (masque_tls_load_pair(c->cred, c->cfg.cert_file, c->cfg.key_file) != 0 ||
            (c->cfg.client_ca_file != NULL &&
             gnutls_certificate_set_x509_trust_file(c->cred, c->cfg.client_ca_file,
                                                    GNUTLS_X509_FMT_PEM) <= 0)) {
            return -1;
        }
    } else if (masque_tls_load_trust(c->cred, c->cfg.ca_file, c->cfg.insecure) != 0) {
        /* what the proxy's certificate is verified against */
        log_line(c, c->cfg.ca_file != NULL ? c->cfg.ca_file : "the system's trusted CAs",
                 c->cfg.ca_file != NULL ? ": no CA in it, or it cannot be read"
                                        : ": cannot be read");
        return -1;
    } else if (c->cfg.cert_file != NULL &&
               masque_tls_load_pair(c->cred, c->cfg.cert_file, c->cfg.key_file) != 0) {
        log_line(c, c->cfg.cert_file, ": the client certificate and its key cannot be loaded");
        return -1; /* our certificate for mutual TLS */
    }
    /* GNUTLS_NO_SIGNAL: a send() to a peer that reset the connection fails with EPIPE and
     * would also raise SIGPIPE, which ends the host's process unless the host ignores it; a
     * library must not: the error ends this connection alone (MSG_NOSIGNAL). */
    if (gnutls_init(&c->tls, (c->cfg.is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK |
                                 GNUTLS_NO_SIGNAL) != 0 ||
        gnutls_priority_set_direct(c->tls, priority, NULL) != 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred) != 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0) {
        return -1;
    }
    if (c->cfg.is_server && c->cfg.client_ca_file != NULL) {
        gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUEST); /* mutual TLS */
    }
    gnutls_session_set_ptr(c->tls, c);
    if (c->cfg.is_server) {
        if (enable_tickets(c) != 0) {
            return -1;
        }
    } else {
        gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                           GNUTLS_HOOK_POST, on_ticket);
        if (c->cfg.ticket != NULL && c->cfg.ticket_len > 0) {
            /* One that does not parse is left out: a full handshake. */
            (void)gnutls_session_set_data(c->tls, c->cfg.ticket, c->cfg.ticket_len);
        }
        c->cfg.ticket = NULL; /* read here only */
        c->cfg.ticket_len = 0;
    }
    if (!c->cfg.is_server && masque_tls_client_name(c->tls, c->cfg.authority, c->cfg.insecure,
                                                    c->tls_host, sizeof(c->tls_host)) != 0) {
        return -1; /* the authority names the proxy: SNI and verification */
    }
    gnutls_transport_set_int(c->tls, c->fd);
    return 0;
}

/* ---- life cycle ---- */

static masque_h2_conn *conn_new(const masque_h2_config *cfg, int fd, const masque_h2_hooks *hooks,
                                void *app)
{
    masque_h2_conn *c = map_zeroed(sizeof(*c));
    int one = 1;
    if (c == NULL) {
        return NULL;
    }
    /* Datagrams are latency-bound: no Nagle delay waiting for an acknowledgement (RFC 9298 §6
     * asks for no added latency). */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef TCP_NOTSENT_LOWAT
    {
        int lowat = NOTSENT_LOWAT;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
    }
#endif
    c->cfg = *cfg;
    c->cfg.datagram_max_wait_ms =
        masque_queue_age_bound(cfg->datagram_max_wait_ms); /* 0: resolved once */
    c->hooks = *hooks;
    c->app = app;
    c->fd = fd;
    c->max_requests = cfg->max_requests == 0                       ? DEFAULT_MAX_REQUESTS
                      : cfg->max_requests > MASQUE_H2_MAX_REQUESTS ? MASQUE_H2_MAX_REQUESTS
                                                                   : cfg->max_requests;
    c->idle_ms = cfg->conn_idle_timeout_ms != 0 ? cfg->conn_idle_timeout_ms : DEFAULT_IDLE_MS;
    heard(c); /* the start: the idle timeout counts from it */
    c->last_ping_ms = last_rx_ms(c);
    if (setup_tls(c) != 0) {
        masque_h2_free(c);
        return NULL;
    }
    return c;
}

masque_h2_conn *masque_h2_client_new(const masque_h2_config *cfg, int fd,
                                     const masque_h2_hooks *hooks, void *app)
{
    masque_h2_config client = *cfg;
    masque_h2_conn *c;
    if (!masque_exchange_template_usable(cfg->uri_template)) {
        return NULL;
    }
    client.is_server = 0;
    c = conn_new(&client, fd, hooks, app);
    if (c != NULL && masque_h2_request_open(c, app) == NULL) {
        masque_h2_free(c);
        return NULL;
    }
    return c;
}

masque_h2_conn *masque_h2_server_new(const masque_h2_config *cfg, int fd,
                                     const masque_h2_hooks *hooks, void *app)
{
    masque_h2_config server = *cfg;
    if (!masque_exchange_template_usable(cfg->uri_template)) {
        return NULL;
    }
    server.is_server = 1;
    return conn_new(&server, fd, hooks, app);
}

void masque_h2_free(masque_h2_conn *c)
{
    if (c == NULL) {
        return;
    }
    while (c->nreq > 0) {
        request_free(c->req[c->nreq - 1], NGHTTP2_NO_ERROR);
    }
    if (c->h2 != NULL) {
        nghttp2_session_del(c->h2);
    }
    if (c->tls != NULL) {
        gnutls_deinit(c->tls);
    }
    masque_tls_drop_ticket(&c->ticket);
    if (c->cred != NULL) {
        gnutls_certificate_free_credentials(c->cred);
    }
    (void)munmap(c, sizeof(*c));
}

/* The connection is over (the peer left, or TLS or HTTP/2 failed): every request ends now, so
 * that the application hears of it at once, not when it frees the connection. */
static void conn_over(masque_h2_conn *c, uint32_t code)
{
    c->closed = 1;
    while (c->nreq > 0) {
        request_free(c->req[c->nreq - 1], code);
    }
}

/* The TLS handshake, without blocking; then HTTP/2 (ALPN "h2" is mandatory). */
static int handshake(masque_h2_conn *c)
{
    int rv;
    int sent_errno;
    gnutls_datum_t proto;
    errno = 0;
    rv = gnutls_handshake(c->tls);
    sent_errno = errno; /* what the socket said, when GnuTLS could not send or receive */
    if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
        return 0;
    }
    if (rv < 0) {
        char why[256];
        if ((rv == GNUTLS_E_PUSH_ERROR || rv == GNUTLS_E_PULL_ERROR) && sent_errno != 0) {
            /* A TCP connection that never came (refused, unreachable): said as such. */
            log_line(c, "connect: ", strerror(sent_errno));
        } else if (rv == GNUTLS_E_FATAL_ALERT_RECEIVED) {
            const char *alert = gnutls_alert_get_name(gnutls_alert_get(c->tls));
            log_line(c, "TLS handshake: the peer ended it with the alert ",
                     alert != NULL ? alert : "it sent");
        } else {
            if (!c->cfg.is_server && masque_tls_verify_failure(c->tls, why, sizeof(why))) {
                log_line(c, "TLS handshake: the proxy's certificate does not verify: ", why);
            } else {
                log_line(c, "TLS handshake: ", gnutls_strerror(rv));
            }
            if (rv != GNUTLS_E_PREMATURE_TERMINATION) {
                /* RFC 8446 §6.2: tell the peer why (no common group, a certificate refused),
                 * as QUIC's CRYPTO_ERROR does; best effort on a non-blocking socket. */
                (void)gnutls_alert_send_appropriate(c->tls, rv);
            }
        }
        ended(c, MASQUE_CONN_BROKEN, 0);
        c->closed = 1;
        return -1;
    }
    if (gnutls_alpn_get_selected_protocol(c->tls, &proto) != 0 || proto.size != 2 ||
        memcmp(proto.data, "h2", 2) != 0 || start_h2(c) != 0) {
        log_line(c, "TLS handshake: ", "no HTTP/2 (ALPN h2)");
        ended(c, MASQUE_CONN_CLOSED_HERE, 0);
        c->closed = 1;
        return -1;
    }
    c->handshaken = 1;
    heard(c);
    return 0;
}

int masque_h2_read(masque_h2_conn *c)
{
    uint8_t buf[RX_CHUNK];
    size_t taken = 0;
    if (c->closed) {
        return -1;
    }
    if (!c->handshaken && (handshake(c) != 0 || !c->handshaken)) {
        return c->closed ? -1 : 0;
    }
    for (;;) {
        ssize_t n;
        ssize_t rv;
        /* Within the budget, unless GnuTLS holds a record already read from the socket, which
         * no readiness of the socket would announce. */
        if (taken >= READ_BUDGET && gnutls_record_check_pending(c->tls) == 0) {
            return 0;
        }
        n = gnutls_record_recv(c->tls, buf, sizeof(buf));
        if (n == GNUTLS_E_AGAIN) {
            return 0;
        }
        if (n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        if (n <= 0) {
            if (n < 0 && n != GNUTLS_E_PREMATURE_TERMINATION) {
                log_line(c, "read: ", gnutls_strerror((int)n));
            }
            ended_by_peer(c);
            conn_over(c, NGHTTP2_NO_ERROR); /* the peer closed, or TLS failed */
            return -1;
        }
        heard(c);
        taken += (size_t)n;
        /* nghttp2 counts a stream whose RST_STREAM waits to be sent against this end's
         * SETTINGS_MAX_CONCURRENT_STREAMS, and drops what the peer sends on it, its END_STREAM
         * too: a proxy that reset a request the client had just ended would take the client's
         * next request, which RFC 9113 §5.1.2 allows, for one too many and end the connection
         * (PROTOCOL_ERROR). The reset goes out first (as far as the socket takes it), and the
         * stream closes with it. */
        if (c->reset_unsent) {
            c->reset_unsent = 0;
            if (masque_h2_write(c) < 0 || c->closed) {
                return -1;
            }
        }
        rv = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (rv < 0) {
            log_line(c, "read: HTTP/2: ", nghttp2_strerror((int)rv)); /* e.g. a bad preface */
            (void)masque_h2_write(c); /* the GOAWAY nghttp2 queued */
            ended(c, MASQUE_CONN_CLOSED_HERE, NGHTTP2_PROTOCOL_ERROR);
            conn_over(c, NGHTTP2_PROTOCOL_ERROR);
            return -1;
        }
    }
}

/* Sends what waits in tx; 1 when all of it went, 0 when the socket would block. */
static int tx_send(masque_h2_conn *c)
{
    while (c->tx_off < c->tx_len) {
        size_t len = c->tx_try != 0 ? c->tx_try : c->tx_len - c->tx_off;
        ssize_t n;
        if (len > 16384) {
            len = 16384; /* one TLS record */
        }
        n = gnutls_record_send(c->tls, c->tx + c->tx_off, len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            c->tx_try = len; /* GnuTLS wants the same call again */
            return 0;
        }
        c->tx_try = 0;
        if (n < 0) {
            log_line(c, "write: ", gnutls_strerror((int)n));
            ended_by_peer(c); /* reset, or closed: the socket takes nothing more */
            c->closed = 1;
            return -1;
        }
        c->tx_off += (size_t)n;
    }
    c->tx_off = 0;
    c->tx_len = 0;
    return 1;
}

/* Capsules that met a full outbox wait in their session's queue (adapter.h,
 * MASQUE_HOST_NO_ROOM): each write gives them the room the peer's reading made since. */
static void flush_waiting(masque_h2_conn *c)
{
    size_t i;
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->session_ready) {
            (void)masque_adapter_flush(&c->req[i]->adapter); /* nothing queued: one test */
        }
    }
}

int masque_h2_write(masque_h2_conn *c)
{
    if (c->closed) {
        return -1;
    }
    if (!c->handshaken && (handshake(c) != 0 || !c->handshaken)) {
        return c->closed ? -1 : 0;
    }
    flush_waiting(c);
    for (;;) {
        int rc = tx_send(c);
        if (rc <= 0) {
            return rc;
        }
        /* Frames from nghttp2 fill tx; only as much as the socket takes, so that a peer that
         * stops reading leaves its capsules in the request's bounded outbox. */
        while (c->tx_len < TX_CAP) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->h2, &data);
            size_t room = TX_CAP - c->tx_len;
            if (n < 0) {
                ended(c, MASQUE_CONN_CLOSED_HERE, NGHTTP2_INTERNAL_ERROR);
                c->closed = 1;
                return -1;
            }
            if (n == 0) {
                break;
            }
            if ((size_t)n > room) {
                /* nghttp2 hands out at most one frame; a DATA frame is at most 16 KiB. */
                ended(c, MASQUE_CONN_CLOSED_HERE, NGHTTP2_INTERNAL_ERROR);
                c->closed = 1;
                return -1;
            }
            memcpy(c->tx + c->tx_len, data, (size_t)n);
            c->tx_len += (size_t)n;
            if (TX_CAP - c->tx_len < 16384u + 9u) {
                break;
            }
        }
        if (c->tx_len == 0) {
            if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) {
                ended_by_peer(c); /* GOAWAY done both ways (ours went first: recorded then) */
                c->closed = 1;
            }
            return 0;
        }
    }
}

int masque_h2_wants_write(const masque_h2_conn *c)
{
    if (!c->handshaken) {
        return gnutls_record_get_direction(c->tls) == 1;
    }
    return c->tx_len > 0 || nghttp2_session_want_write(c->h2);
}

/* When a client sends its next keep-alive PING: half the idle timeout after the last traffic. */
static uint64_t ping_due(const masque_h2_conn *c)
{
    uint64_t rx = last_rx_ms(c);
    uint64_t last = rx > c->last_ping_ms ? rx : c->last_ping_ms;
    return last + c->idle_ms / 2;
}

uint64_t masque_h2_next_timeout(const masque_h2_conn *c)
{
    uint64_t next = c->closed ? UINT64_MAX : last_rx_ms(c) + c->idle_ms;
    size_t i;
    if (!c->closed && !c->cfg.is_server && c->handshaken && ping_due(c) < next) {
        next = ping_due(c);
    }
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->session_ready) {
            uint64_t t = masque_session_next_timeout(&c->req[i]->session);
            next = t < next ? t : next;
        }
    }
    return next;
}

int masque_h2_tick(masque_h2_conn *c)
{
    size_t i;
    uint64_t now = now_ms();
    if (c->closed) {
        return -1;
    }
    if (now >= last_rx_ms(c) + c->idle_ms) {
        /* A peer that sends nothing (not even the rest of its TLS handshake) holds a slot no
         * longer than this; a live client's PINGs keep an idle tunnel up. */
        log_line(c, "closed: ", "nothing received within the idle timeout");
        ended(c, MASQUE_CONN_TIMED_OUT, 0); /* before the GOAWAY, which is its consequence */
        (void)masque_h2_close(c, NGHTTP2_NO_ERROR);
        conn_over(c, NGHTTP2_NO_ERROR);
        return -1;
    }
    if (!c->cfg.is_server && c->handshaken && now >= ping_due(c)) {
        c->last_ping_ms = now;
        (void)nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL); /* RFC 9113 §6.7 */
    }
    for (i = 0; i < c->nreq; i++) {
        if (c->req[i]->session_ready) {
            (void)masque_adapter_tick(&c->req[i]->adapter, now_ms());
        }
    }
    return masque_h2_write(c);
}

uint64_t masque_h2_heard_ns(const masque_h2_conn *c)
{
    return c->heard_ns;
}

void masque_h2_probe(masque_h2_conn *c)
{
    if (!c->closed && c->h2 != NULL) {
        (void)nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL); /* RFC 9113 §6.7: answered */
    }
}

int masque_h2_close(masque_h2_conn *c, uint32_t h2_error)
{
    int rc;
    ended(c, MASQUE_CONN_CLOSED_HERE, h2_error);
    if (c->closed || c->h2 == NULL) {
        c->closed = 1;
        return 0;
    }
    if (nghttp2_session_terminate_session(c->h2, h2_error) != 0) {
        c->closed = 1;
        return -1;
    }
    rc = masque_h2_write(c);
    conn_over(c, h2_error);
    return rc;
}

size_t masque_h2_ticket(const masque_h2_conn *c, uint8_t *out, size_t cap)
{
    return c != NULL ? masque_tls_copy_ticket(&c->ticket, out, cap) : 0;
}

int masque_h2_resumed(const masque_h2_conn *c)
{
    return c != NULL && c->tls != NULL && gnutls_session_is_resumed(c->tls) != 0;
}

int masque_h2_peer_identity(const masque_h2_conn *c, char *out, size_t cap)
{
    return c->handshaken ? masque_tls_peer_identity(c->tls, out, cap) : 0;
}

int masque_h2_handshake_completed(const masque_h2_conn *c)
{
    return c->handshaken;
}

int masque_h2_is_closed(const masque_h2_conn *c)
{
    return c->closed;
}

masque_conn_end masque_h2_end_reason(const masque_h2_conn *c, uint64_t *code)
{
    if (code != NULL) {
        *code = c->end_code;
    }
    return c->end;
}

int masque_h2_refused(const masque_h2_conn *c)
{
    return c->refused;
}

masque_h2_request *masque_h2_request_open(masque_h2_conn *c, void *app)
{
    masque_h2_request *r;
    if (c->cfg.is_server || c->refused || c->closed || c->goaway_received ||
        requests_live(c) >= c->max_requests) {
        return NULL;
    }
    r = request_new(c, -1, app);
    if (r == NULL) {
        return NULL;
    }
    if (client_send_requests(c) != 0 && r->stream < 0) {
        request_free(r, NGHTTP2_INTERNAL_ERROR); /* no on_close: it was never the host's */
        return NULL;
    }
    r->known = 1;
    return r;
}

size_t masque_h2_requests(const masque_h2_conn *c)
{
    return c->nreq;
}

int32_t masque_h2_request_stream_id(const masque_h2_request *r)
{
    return r->stream;
}

void *masque_h2_request_app(const masque_h2_request *r)
{
    return r->app;
}

void masque_h2_request_set_app(masque_h2_request *r, void *app)
{
    r->app = app;
}

masque_session *masque_h2_request_session(masque_h2_request *r)
{
    return r->session_ready ? &r->session : NULL;
}

masque_adapter *masque_h2_request_adapter(masque_h2_request *r)
{
    return r->session_ready ? &r->adapter : NULL;
}

size_t masque_h2_request_public_addresses(const masque_h2_request *r, masque_address *out,
                                          size_t cap)
{
    size_t i;
    for (i = 0; i < r->npublic && i < cap; i++) {
        out[i] = r->public_addrs[i];
    }
    return r->npublic;
}

int masque_h2_request_status(const masque_h2_request *r)
{
    return r->conn->cfg.is_server ? 0 : r->x.status;
}

size_t masque_h2_request_buffered(const masque_h2_request *r)
{
    return r->out_end - r->out_read;
}

int masque_h2_request_end(masque_h2_request *r)
{
    if (r->stream <= 0 || r->conn->h2 == NULL) {
        return -1;
    }
    r->out_fin = 1;
    if (r->deferred) {
        r->deferred = 0;
        (void)nghttp2_session_resume_data(r->conn->h2, r->stream);
    }
    return 0;
}

int masque_h2_request_cancel(masque_h2_request *r, uint32_t h2_error)
{
    if (r->stream < 0) {
        request_free(r, h2_error);
        return 0;
    }
    return request_reset(r, h2_error);
}

int masque_h2_request_write_stream(masque_h2_request *r, const uint8_t *data, size_t len)
{
    if (r->stream <= 0) {
        return -1;
    }
    return outbox_append(r, data, len, now_ms());
}
