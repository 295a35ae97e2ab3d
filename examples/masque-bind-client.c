/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * masque-bind-client: asks a MASQUE proxy for a public UDP address (CONNECT-UDP Bind over
 * HTTP/3, or over HTTP/2 where UDP is blocked) and exchanges UDP with any peer through it.
 *
 *   masque-bind-client [--proxy HOST:PORT] [--template URI] [--authority NAME]
 *                      [--ca PEM | --insecure] [--token-file FILE] [--priority GNUTLS]
 *                      [--h2 | --h3] [--fallback-ms MS] [--connect-timeout-ms MS] [--echo]
 *                      [--compress-after N] [--close-uncompressed-after N]
 *                      [--expose HOST:PORT] [--reconnect] [--run-seconds S]
 *                      (--help lists every option)
 *
 * It tries HTTP/3 first; when no QUIC handshake completes within --fallback-ms (default 1500),
 * it says so on stderr and tries HTTP/2 over TLS/TCP (in the manner of Happy Eyeballs). A proxy
 * NAME's addresses are raced over HTTP/3, families alternating (RFC 8305 §4-§5: each 250 ms
 * after the one before started, the first handshake wins), then over TCP for HTTP/2 where no
 * QUIC handshake came (the first connection takes the TLS handshake); a handshake that HTTP/2
 * does not follow gets --connect-timeout-ms (default 10000), as does the proxy's answer to the
 * Bind request once a handshake completed. --h2 uses HTTP/2 only, --h3 HTTP/3 only.
 *
 * It prints "public address: IP:PORT" for each address the proxy bound, then one line per
 * packet: "from IP:PORT: TEXT", TEXT in printable ASCII (a backslash as "\\", any other byte
 * as "\xHH"). Lines on standard input, "IP:PORT TEXT", are sent to that peer. --echo answers
 * every packet with "re: " and its bytes; --compress-after N registers a compressed context
 * for a peer after N packets from it; --close-uncompressed-after N closes the uncompressed
 * context after N packets in all (firewall mode: only compressed peers get through).
 * --reconnect asks for a new tunnel when one ends or cannot be set up (a proxy restarted, a
 * network lost), after a delay that grows from 1 s to 60 s while attempts fail.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expose.h"
#include "masque/posix.h"
#include "masque/quic.h"
#include "notify.h"
#include "options.h"
#ifdef MASQUE_HAVE_H2
#include <fcntl.h>

#include "masque/h2.h"
#endif

#define MAX_PEERS 64
#define PROGRAM   "masque-bind-client"
#define TOKEN_MAX 256 /* bytes of a bearer token, as the proxy takes them */

/*
 * The proxy's newest TLS session ticket over one transport (a ticket of HTTP/3 is none of
 * HTTP/2's), offered by the next connection over it and then forgotten (RFC 8446 §C.4: a
 * ticket offered twice links the connections); that connection leaves its own. A reconnect
 * then resumes the session: no certificate to send or verify.
 */
typedef struct ticket_store {
    uint8_t data[16384];
    size_t len;
} ticket_store;

static ticket_store h3_ticket;
#ifdef MASQUE_HAVE_H2
static ticket_store h2_ticket;
#endif

/* Keeps the newest ticket a connection got (size from masque_quic_ticket() or masque_h2_ticket(),
 * copied when it fit): none when it got none, or one too large to keep. */
static void keep_ticket(ticket_store *t, size_t len)
{
    t->len = len <= sizeof(t->data) ? len : 0;
}

typedef struct client_state {
    masque_quic_conn *conn; /* over HTTP/3 */
#ifdef MASQUE_HAVE_H2
    masque_h2_conn *h2; /* over HTTP/2 */
#endif
    /* the Bind request's session and adapter, once accepted; NULL once it ended */
    masque_session *session;
    masque_adapter *adapter;
    int echo;
    unsigned compress_after;
    unsigned close_after;
    unsigned total;
    uint64_t uncompressed_id;
    int uncompressed_open;
    masque_address peers[MAX_PEERS];
    unsigned counts[MAX_PEERS];
    size_t npeers;
    int ready;
    int abandoned;        /* we end the attempt (HTTP/2 instead, the run is over): no news of it */
    expose_state *expose; /* --expose: every peer forwarded to a local service, or NULL */
    const char *service;  /* its address, as given */
    const char *public_file; /* --public-address-file, or NULL */
    int ended;               /* the request ended ... */
    int ended_ok;            /* ... with NO_ERROR (HTTP/3 or HTTP/2) */
    int ended_cancelled;     /* ... cancelled here after a refusal, which the log said */
    uint64_t ended_with;
    int status;       /* the HTTP status of the proxy's response; 0: none came */
    int cannot_serve; /* the proxy offers no extended CONNECT (RFC 9220, RFC 8441) */
    const char *lost; /* why the connection went first, when not cleanly; or NULL */
} client_state;

static uint64_t now_ms(void)
{
    return masque_quic_now_ns() / 1000000u;
}

/* A datagram that could not be sent is said on stdout for the first ones and then every
 * 1000th, with the count, so that a flood of them (a stalled path) does not flood the output. */
static void say_not_sent(int rc)
{
    static unsigned long long failed;
    failed++;
    if (failed <= 10 || failed % 1000 == 0) {
        (void)printf("cannot send: %s (%llu not sent so far)\n", masque_strerror(rc), failed);
    }
}

/* The most a datagram sent here may hold: a UDP payload's most (65535 bytes less the UDP
 * header; IPv4's header makes it 65507 there). What the tunnel cannot carry (a QUIC DATAGRAM
 * frame holds about 1200 bytes) the session refuses, and the client says so. */
#define SEND_MAX 65527u

static void send_text(client_state *st, const masque_address *peer, const char *text, size_t len)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + SEND_MAX];
    int rc;
    if (st->adapter == NULL) {
        return;
    }
    if (len > SEND_MAX) {
        (void)printf("cannot send: %zu bytes, more than a UDP datagram holds\n", len);
        return; /* never a part of it */
    }
    memcpy(buf + MASQUE_BIND_HEADROOM, text, len);
    rc = masque_adapter_write_datagram(st->adapter, peer, buf + MASQUE_BIND_HEADROOM,
                                       MASQUE_BIND_HEADROOM, len, now_ms());
    if (rc != MASQUE_OK) {
        say_not_sent(rc);
    }
}

/* --public-address-file holds the public addresses while the tunnel is up, one a line (the
 * first of the IP version the client reached the proxy over), written whole (a new file
 * renamed over the old: a reader never sees half of it), and is gone while it is down. */
static void publish_address(const client_state *st, const char *text)
{
    char tmp[4096];
    FILE *f;
    int ok;
    if (st->public_file == NULL) {
        return;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", st->public_file) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        f = NULL;
    } else {
        f = fopen(tmp, "w");
    }
    if (f == NULL) {
        ok = 0;
    } else {
        ok = fprintf(f, "%s", text) > 0;
        ok = fclose(f) == 0 && ok && rename(tmp, st->public_file) == 0;
        if (!ok) {
            int err = errno;
            (void)remove(tmp);
            errno = err;
        }
    }
    if (!ok) {
        /* The tunnel goes on; whoever reads the file must learn why it is not there. */
        (void)fprintf(stderr, "masque-bind-client: cannot write --public-address-file %s: %s\n",
                      st->public_file, strerror(errno));
    }
}

static void unpublish_address(const client_state *st)
{
    if (st->public_file != NULL) {
        (void)remove(st->public_file);
    }
}

/* The proxy accepted the Bind request (either transport). */
static void ready(client_state *st, masque_session *session, masque_adapter *adapter,
                  const masque_address *pub, size_t n)
{
    char lines[MASQUE_PUBLIC_ADDRESSES_MAX * (MASQUE_ADDRESS_TEXT_MAX + 1)] = "";
    char listed[MASQUE_PUBLIC_ADDRESSES_MAX * (MASQUE_ADDRESS_TEXT_MAX + 5)] = "";
    size_t i;
    for (i = 0; i < n && i < MASQUE_PUBLIC_ADDRESSES_MAX; i++) {
        char text[MASQUE_ADDRESS_TEXT_MAX];
        (void)masque_address_format(text, sizeof(text), &pub[i], 1);
        (void)printf("public address: %s\n", text);
        (void)snprintf(lines + strlen(lines), sizeof(lines) - strlen(lines), "%s\n", text);
        (void)snprintf(listed + strlen(listed), sizeof(listed) - strlen(listed), "%s%s",
                       i > 0 ? " and " : "", text);
    }
    /* -10 §4: register the uncompressed context to hear from any peer. */
    st->session = session;
    st->adapter = adapter;
    if (n > 0) {
        char state[sizeof(listed) + 96];
        publish_address(st, lines); /* for scripts: the addresses, once ready */
        if (st->expose != NULL) {
            (void)printf("exposing %s at %s\n", st->service, listed);
            (void)snprintf(state, sizeof(state), "STATUS=exposing %s at %s", st->service, listed);
        } else {
            (void)snprintf(state, sizeof(state), "STATUS=public address %s", listed);
        }
        (void)notify_send(state); /* systemctl status says it (NotifyAccess=main) */
    }
    if (masque_session_open_uncompressed(session, now_ms(), &st->uncompressed_id) == MASQUE_OK) {
        st->uncompressed_open = 1;
        (void)printf("uncompressed context %llu requested\n",
                     (unsigned long long)st->uncompressed_id);
    }
    (void)masque_adapter_flush(adapter);
    st->ready = 1;
    (void)fflush(stdout);
}

static void on_ready(masque_quic_request *r, void *app)
{
    masque_address pub[MASQUE_PUBLIC_ADDRESSES_MAX];
    size_t n = masque_quic_request_public_addresses(r, pub, MASQUE_PUBLIC_ADDRESSES_MAX);
    ready(app, masque_quic_request_session(r), masque_quic_request_adapter(r), pub, n);
}

static unsigned *peer_count(client_state *st, const masque_address *peer)
{
    size_t i;
    for (i = 0; i < st->npeers; i++) {
        if (masque_address_equal(&st->peers[i], peer)) {
            return &st->counts[i];
        }
    }
    if (st->npeers == MAX_PEERS) {
        return NULL;
    }
    st->peers[st->npeers] = *peer;
    st->counts[st->npeers] = 0;
    return &st->counts[st->npeers++];
}

/*
 * A packet's bytes as printable ASCII on stdout. Any host on the Internet may send to the public
 * address: what it sends must not end its line early (a NUL, where "%.*s" would stop), start a
 * line of its own (a newline: "from" a peer it is not) or reach a terminal as an escape
 * sequence. Printable ASCII is written as it is, a backslash as two, every other byte as \xHH:
 * text reads as it was sent, and the bytes can be recovered.
 */
static void print_escaped(const uint8_t *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char out[256];
    size_t used = 0;
    size_t i;
    for (i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (used > sizeof(out) - 4) {
            (void)fwrite(out, 1, used, stdout);
            used = 0;
        }
        if (c == '\\') {
            out[used++] = '\\';
            out[used++] = '\\';
        } else if (c >= 0x20 && c < 0x7f) {
            out[used++] = (char)c;
        } else {
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = hex[c >> 4];
            out[used++] = hex[c & 15u];
        }
    }
    (void)fwrite(out, 1, used, stdout);
}

/* A packet from a peer, through the proxy (either transport). */
static void packet(client_state *st, const masque_address *peer, const uint8_t *data, size_t len)
{
    if (st->expose != NULL) { /* to the local service, from the peer's own socket */
        expose_from_peer(st->expose, st->session, peer, data, len, now_ms());
        return;
    }
    {
        char text[MASQUE_ADDRESS_TEXT_MAX];
        unsigned *count = peer_count(st, peer);
        masque_session *s = st->session;
        (void)masque_address_format(text, sizeof(text), peer, 1);
        (void)printf("from %s: ", text);
        print_escaped(data, len);
        (void)putchar('\n');
        st->total++;
        if (count != NULL) {
            (*count)++;
        }
        if (st->echo && len <= SEND_MAX - 4) {
            static char reply[SEND_MAX];
            memcpy(reply, "re: ", 4);
            memcpy(reply + 4, data, len); /* the bytes as they came, a NUL too */
            send_text(st, peer, reply, 4 + len);
        } else if (st->echo) {
            (void)printf("cannot echo: %zu bytes and \"re: \" are more than a UDP datagram "
                         "holds\n",
                         len);
        }
        if (st->compress_after != 0 && count != NULL && *count == st->compress_after) {
            uint64_t id = 0;
            if (masque_session_open_context(s, peer, now_ms(), &id) == MASQUE_OK) {
                (void)printf("compressed context %llu registered for %s\n", (unsigned long long)id,
                             text);
            }
        }
        if (st->close_after != 0 && st->total == st->close_after && st->uncompressed_open) {
            (void)masque_session_close_context(s, st->uncompressed_id, now_ms());
            st->uncompressed_open = 0;
            (void)printf("uncompressed context closed: only registered peers get through now\n");
        }
        (void)masque_adapter_flush(st->adapter);
        (void)fflush(stdout);
    }
}

static void on_packet(masque_quic_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    (void)r;
    packet(app, peer, data, len);
}

/* Says what became of our registrations: scripts wait for these lines, not for time. */
static void event(const masque_event *ev)
{
    const char *what = NULL;
    switch (ev->kind) {
    case MASQUE_EVENT_CONTEXT_ACKNOWLEDGED:
        what = "acknowledged";
        break;
    case MASQUE_EVENT_CONTEXT_REJECTED:
        what = "rejected";
        break;
    case MASQUE_EVENT_CONTEXT_CLOSED:
        what = "closed by the proxy";
        break;
    default:
        return;
    }
    (void)printf("%s context %llu %s\n", ev->target.version == 0 ? "uncompressed" : "compressed",
                 (unsigned long long)ev->context_id, what);
    (void)fflush(stdout);
}

static void on_event(masque_quic_request *r, void *app, const masque_event *ev)
{
    (void)r;
    (void)app;
    event(ev);
}

/* The datagrams toward the proxy that the request dropped, if any, said as it ends: nothing else
 * would tell the operator why some never arrived. Over HTTP/3 the connection's counts are the
 * request's (one a connection); a datagram is dropped, not delayed, when the path carries less
 * than is sent (RFC 9298 §6): held back too long (datagram_max_wait_ms) or with no room left. */
static void say_dropped(const client_state *st)
{
    masque_session_stats stats;
    uint64_t frames = 0;
    uint64_t too_large = 0;
    if (st->session == NULL) {
        return;
    }
    masque_session_get_stats(st->session, &stats);
    if (st->conn != NULL) {
        frames = masque_quic_datagrams_dropped(st->conn);
        too_large = masque_quic_datagrams_too_large(st->conn);
    }
    if (frames + stats.dropped_no_room == 0) {
        return;
    }
    (void)printf("%llu of %llu datagrams toward the proxy were dropped (%llu larger than a "
                 "DATAGRAM frame carries; the others held back longer than 100 ms, or with no "
                 "room left: the path carried less than was sent)\n",
                 (unsigned long long)(frames + stats.dropped_no_room),
                 (unsigned long long)stats.datagrams_sent, (unsigned long long)too_large);
}

/* The Bind request ended (the proxy's answer, a reset, or the connection): so does the
 * program, with a non-zero status unless it ended cleanly. */
static void closed(client_state *st, const char *http, uint64_t reason, int ok, int cancelled)
{
    say_dropped(st); /* also when this end left: the count is the operator's either way */
    if (st->abandoned) {
        return;
    }
    st->session = NULL;
    st->adapter = NULL;
    st->ended = 1;
    st->ended_ok = ok;
    st->ended_cancelled = cancelled;
    st->ended_with = reason;
    (void)printf("request closed (%s error 0x%llx)\n", http, (unsigned long long)reason);
    (void)fflush(stdout);
}

static void on_close(masque_quic_request *r, void *app, uint64_t reason)
{
    client_state *st = app;
    if (!st->abandoned) {
        st->status = masque_quic_request_status(r);
    }
    closed(st, "HTTP/3", reason, reason == MASQUE_H3_NO_ERROR,
           reason == MASQUE_H3_REQUEST_CANCELLED);
}

static void on_log(masque_quic_conn *c, void *app, const char *line)
{
    (void)c;
    (void)app;
    (void)fprintf(stderr, "masque-bind-client: %s\n", line);
}

#ifdef MASQUE_HAVE_H2
static void h2_on_ready(masque_h2_request *r, void *app)
{
    masque_address pub[MASQUE_PUBLIC_ADDRESSES_MAX];
    size_t n = masque_h2_request_public_addresses(r, pub, MASQUE_PUBLIC_ADDRESSES_MAX);
    ready(app, masque_h2_request_session(r), masque_h2_request_adapter(r), pub, n);
}

static void h2_on_packet(masque_h2_request *r, void *app, const masque_address *peer,
                         const uint8_t *data, size_t len)
{
    (void)r;
    packet(app, peer, data, len);
}

static void h2_on_close(masque_h2_request *r, void *app, uint32_t reason)
{
    client_state *st = app;
    if (!st->abandoned) {
        st->status = masque_h2_request_status(r);
    }
    closed(st, "HTTP/2", reason, reason == MASQUE_H2_NO_ERROR, reason == MASQUE_H2_CANCEL);
}

static void h2_on_log(masque_h2_conn *c, void *app, const char *line)
{
    (void)c;
    (void)app;
    (void)fprintf(stderr, "masque-bind-client: %s\n", line);
}

static void h2_on_event(masque_h2_request *r, void *app, const masque_event *ev)
{
    (void)r;
    (void)app;
    event(ev);
}
#endif

static void stdin_line(client_state *st, char *line)
{
    char *space = strchr(line, ' ');
    masque_address peer;
    size_t len;
    if (!st->ready) {
        return;
    }
    if (space == NULL) {
        if (line[0] != '\0' && line[0] != '\r') {
            (void)printf("not sent: a line is IP:PORT TEXT\n");
        }
        return;
    }
    *space = '\0';
    if (masque_address_parse(&peer, line, strlen(line), 1) != MASQUE_OK) {
        (void)printf("bad peer %s\n", line);
        return;
    }
    len = strlen(space + 1);
    while (len > 0 && (space[len] == '\n' || space[len] == '\r')) {
        space[len--] = '\0';
    }
    send_text(st, &peer, space + 1, strlen(space + 1));
}

/*
 * Reads what stdin has now and handles every complete line in it. Raw read(), not stdio:
 * lines stdio had buffered would wait for the next poll() wake-up. Returns 0 at end of input.
 */
static int stdin_lines(client_state *st)
{
    static char in[8192];
    static size_t in_len;
    static int skipping; /* the rest of a line longer than `in`, which is not sent */
    ssize_t n = read(STDIN_FILENO, in + in_len, sizeof(in) - 1 - in_len);
    size_t start = 0;
    size_t i;
    if (n <= 0) {
        if (in_len > 0 && !skipping) { /* a last line without a newline */
            in[in_len] = '\0';
            stdin_line(st, in);
        }
        in_len = 0;
        return 0;
    }
    in_len += (size_t)n;
    for (i = 0; i < in_len; i++) {
        if (in[i] == '\n') {
            in[i] = '\0';
            if (!skipping) {
                stdin_line(st, in + start);
            }
            skipping = 0;
            start = i + 1;
        }
    }
    if (start == 0 && in_len == sizeof(in) - 1) {
        /* A line longer than the buffer: not sent, neither a part of it nor the rest. */
        if (!skipping) {
            (void)printf("line longer than %zu bytes: not sent\n", sizeof(in) - 1);
        }
        skipping = 1;
        start = in_len;
    }
    memmove(in, in + start, in_len - start);
    in_len -= start;
    (void)fflush(stdout); /* what the lines made us say, for whoever reads it now */
    return 1;
}

/* What the command line asks. */
typedef struct options {
    masque_quic_config cfg;
    struct sockaddr_storage remote; /* the proxy's address of this attempt */
    socklen_t remotelen;
    const char *proxy_name; /* --proxy NAME:PORT: resolved for each attempt; NULL: an address */
    char proxy_port[8];
    uint64_t deadline;    /* ns; 0: none */
    uint64_t fallback_ns; /* HTTP/3 gets this long to complete a QUIC handshake */
    uint64_t connect_ns;  /* a handshake with one address, when no fallback follows */
    int transport;        /* 0: HTTP/3, then HTTP/2; 2 or 3: only that one */
    int reconnect;        /* --reconnect: a tunnel that ends or fails is asked for again */
} options;

static int stdin_open = 1;

/* A datagram no QUIC DATAGRAM frame on the path could carry was dropped (RFC 9298 §5): said
 * once, with what would carry it, since nothing else would tell why it never arrived. */
static void say_too_large(const masque_quic_conn *conn)
{
    static int said;
    if (!said && masque_quic_datagrams_too_large(conn) > 0) {
        said = 1;
        (void)printf("a datagram too large for a QUIC DATAGRAM frame on this path was dropped "
                     "(RFC 9298 §5): one carries %zu bytes with the Bind headers here; HTTP/2 "
                     "(--h2) carries any size\n",
                     masque_quic_datagram_max(conn));
        (void)fflush(stdout);
    }
}

/* SIGINT or SIGTERM came (systemctl stop): the run ends as at its deadline, the tunnel closed
 * in order, so that the proxy frees its request, socket and quota at once. */
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int time_left(const options *o)
{
    return !stopping && (o->deadline == 0 || masque_quic_now_ns() < o->deadline);
}

/*
 * How long the loop may sleep in poll(), in ms: until the connection's next timer (next_ns), the
 * end of --run-seconds or, before the QUIC handshake, the HTTP/2 fallback (give_up_ns, 0:
 * none); at most a second, when expose mode sweeps its idle peers. Rounded up: a timer under a
 * millisecond away must not become poll(0), a busy loop. An idle tunnel wakes once a second.
 */
static int loop_wait_ms(const options *o, uint64_t next_ns, uint64_t give_up_ns)
{
    uint64_t now = masque_quic_now_ns();
    uint64_t until = next_ns;
    uint64_t ms;
    if (o->deadline != 0 && o->deadline < until) {
        until = o->deadline;
    }
    if (give_up_ns != 0 && give_up_ns < until) {
        until = give_up_ns;
    }
    if (until <= now) {
        return 0;
    }
    ms = (until - now + 999999u) / 1000000u;
    return ms > 1000u ? 1000 : (int)ms;
}

/* What the loop polls: the proxy's socket, stdin (not in expose mode; while a tunnel is up),
 * the exposed peers' sockets; returns how many peers' sockets follow the first two. */
static size_t polls(const client_state *st, struct pollfd *fds, int fd)
{
    fds[0].fd = fd;
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    /* Lines are read while a tunnel is up: until then they wait in stdin (they were taken and
     * dropped, so that a line piped in at start never went). */
    fds[1].fd = stdin_open && st->expose == NULL && st->ready && !st->ended ? STDIN_FILENO : -1;
    fds[1].events = POLLIN;
    fds[1].revents = 0;
    return st->expose != NULL ? expose_pollfds(st->expose, fds + 2, EXPOSE_MAX_PEERS) : 0;
}

/* Why the end of a connection (which took the request with it) was not clean, or NULL when it
 * was: the proxy's CONNECTION_CLOSE or GOAWAY with NO_ERROR (it stopped), or our own close. */
static const char *lost_how(masque_conn_end end, uint64_t code, uint64_t no_error)
{
    switch (end) {
    case MASQUE_CONN_TIMED_OUT:
        return "the proxy went silent: nothing came from it for the idle timeout";
    case MASQUE_CONN_CLOSED_BY_PEER:
        return code == no_error ? NULL : "the proxy closed the connection with an error";
    case MASQUE_CONN_BROKEN:
        return "the connection to the proxy broke (reset, or closed without a word)";
    case MASQUE_CONN_OPEN:
    case MASQUE_CONN_CLOSED_HERE:
        break;
    }
    return NULL;
}

/* After a request ended "cleanly" (its on_close said NO_ERROR): if the connection's end took it,
 * was that clean too? If not, the run failed, and says why. */
static void judge_end(client_state *st, masque_conn_end end, uint64_t code, uint64_t no_error)
{
    if (st->ready && st->ended && st->ended_ok) {
        st->lost = lost_how(end, code, no_error);
        if (st->lost != NULL) {
            st->ended_ok = 0;
        }
    }
}

/* One line on stderr: `what`, the address, `after`. */
static void say_address(const char *what, const struct sockaddr_storage *remote,
                        socklen_t remotelen, const char *after)
{
    masque_address a;
    char text[MASQUE_ADDRESS_TEXT_MAX];
    if (masque_address_from_sockaddr((const struct sockaddr *)remote, remotelen, &a) != MASQUE_OK ||
        masque_address_format(text, sizeof(text), &a, 1) <= 0) {
        (void)snprintf(text, sizeof(text), "the proxy");
    }
    (void)fprintf(stderr, "masque-bind-client: %s %s%s\n", what, text, after);
}

/* A handshake with `remote` did not complete within `limit_ns`: the next address, or HTTP/2. */
static void say_no_handshake(const struct sockaddr_storage *remote, socklen_t remotelen,
                             const char *what, uint64_t limit_ns)
{
    char no[32];
    char within[48];
    (void)snprintf(no, sizeof(no), "no %s handshake with", what);
    (void)snprintf(within, sizeof(within), " within %llu ms",
                   (unsigned long long)(limit_ns / 1000000u));
    say_address(no, remote, remotelen, within);
}

/*
 * A proxy that completed the handshake but does not answer the Bind request by `answer_by`
 * (--connect-timeout-ms after the handshake) is given up as one that does not complete it:
 * otherwise a proxy whose application hangs while its transport still answers PINGs would hold
 * the client forever, and --reconnect would never ask again. 1 when the answer is overdue (said
 * on stderr).
 */
static int answer_overdue(const client_state *st, const options *o, uint64_t answer_by)
{
    if (st->ready || st->ended || masque_quic_now_ns() < answer_by) {
        return 0;
    }
    (void)fprintf(stderr,
                  "masque-bind-client: the proxy did not answer the Bind request within %llu ms\n",
                  (unsigned long long)(o->connect_ns / 1000000u));
    return 1;
}

/* An address of the proxy, and whether it needs no HTTP/2 attempt: a QUIC handshake with one of
 * the proxy's addresses completed (the same proxy answers QUIC). */
typedef struct proxy_address {
    struct sockaddr_storage addr;
    socklen_t len;
    int reached;
} proxy_address;

#define MAX_PROXY_ADDRESSES 16 /* of a name's addresses, at most this many are tried */
/* RFC 8305 §5: the next address is tried this long after the one before started, not after it
 * failed (the Connection Attempt Delay, 250 ms recommended). */
#define ATTEMPT_DELAY_NS    250000000u

static const masque_quic_hooks h3_hooks = {on_ready, on_packet, on_close, on_log,
                                           NULL,     on_event,  NULL};

/* A QUIC connection being set up with one of the proxy's addresses. */
typedef struct h3_attempt {
    masque_quic_conn *conn;
    int fd;
    size_t addr;      /* which of the proxy's addresses */
    uint64_t give_up; /* when its handshake is given up */
} h3_attempt;

/* Starts a QUIC handshake with `a`; 0, or -1 (said on stderr) when no socket or connection. */
static int h3_start(client_state *st, const options *o, const proxy_address *a, h3_attempt *out)
{
    struct sockaddr_storage local;
    socklen_t ll = sizeof(local);
    int fd = socket(a->addr.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&a->addr, a->len) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &ll) != 0) {
        perror("masque-bind-client: socket");
        if (fd >= 0) {
            (void)close(fd);
        }
        return -1;
    }
    masque_quic_config cfg = o->cfg;
    cfg.ticket = h3_ticket.len != 0 ? h3_ticket.data : NULL; /* each address of one race */
    cfg.ticket_len = h3_ticket.len;
    out->conn = masque_quic_client_new(&cfg, fd, (struct sockaddr *)&local, ll,
                                       (const struct sockaddr *)&a->addr, a->len, &h3_hooks, st);
    if (out->conn == NULL) {
        (void)fprintf(stderr, "masque-bind-client: cannot connect\n");
        (void)close(fd);
        return -1;
    }
    out->fd = fd;
    (void)masque_quic_write(out->conn);
    return 0;
}

/* Ends an attempt that is not kept: its request never got an answer, its end is no news. */
static void h3_drop(client_state *st, h3_attempt *at)
{
    st->abandoned = 1;
    masque_quic_free(at->conn);
    st->abandoned = 0;
    (void)close(at->fd);
    at->conn = NULL;
}

/*
 * RFC 8305 §5-§6 for QUIC: the proxy's addresses (the families taking turns) are tried
 * ATTEMPT_DELAY_NS apart, each without waiting for the one before to fail, and the first whose
 * handshake completes wins; the others are closed. Each handshake gets `limit_ns`; one that
 * fails at once (no route) starts the next at once. 1 with the winner in *won, or 0 when no
 * handshake completed (or the run ended).
 */
static int h3_race(client_state *st, const options *o, proxy_address *addrs, size_t n,
                   uint64_t limit_ns, h3_attempt *won)
{
    h3_attempt at[MAX_PROXY_ADDRESSES];
    size_t live = 0;
    size_t next = 0;
    uint64_t next_start = masque_quic_now_ns();
    int winner = -1;
    size_t i;
    while (winner < 0 && time_left(o) && (live > 0 || next < n)) {
        struct pollfd fds[MAX_PROXY_ADDRESSES];
        uint64_t now = masque_quic_now_ns();
        uint64_t wake = next < n ? next_start : UINT64_MAX;
        if (next < n && (live == 0 || now >= next_start)) {
            if (n > 1) { /* which, and in what order (RFC 8305 §4), for whoever debugs a path */
                say_address("trying QUIC with", &addrs[next].addr, addrs[next].len, "");
            }
            at[live].addr = next;
            at[live].give_up = now + limit_ns;
            if (h3_start(st, o, &addrs[next++], &at[live]) == 0) {
                live++;
            }
            next_start = now + ATTEMPT_DELAY_NS;
            continue;
        }
        for (i = 0; i < live;) {
            if (now >= at[i].give_up || masque_quic_is_closed(at[i].conn)) {
                if (now >= at[i].give_up) {
                    say_no_handshake(&addrs[at[i].addr].addr, addrs[at[i].addr].len, "QUIC",
                                     limit_ns);
                }
                h3_drop(st, &at[i]);
                at[i] = at[--live];
                next_start = now; /* RFC 8305 §5: a failure starts the next attempt */
                continue;
            }
            fds[i].fd = at[i].fd;
            fds[i].events = POLLIN;
            fds[i].revents = 0;
            if (at[i].give_up < wake) {
                wake = at[i].give_up;
            }
            if (masque_quic_next_timeout(at[i].conn) < wake) {
                wake = masque_quic_next_timeout(at[i].conn);
            }
            i++;
        }
        if (live == 0) {
            continue;
        }
        (void)poll(fds, live, loop_wait_ms(o, wake, 0));
        for (i = 0; i < live; i++) {
            if (fds[i].revents & (POLLIN | POLLERR)) {
                /* An ICMP error (ECONNREFUSED) is no reason to give up yet: the proxy may be
                 * starting; QUIC retransmits until the attempt's limit says otherwise. */
                (void)masque_quic_read_socket(at[i].conn);
            }
            if (masque_quic_next_timeout(at[i].conn) <= masque_quic_now_ns()) {
                (void)masque_quic_tick(at[i].conn);
            }
            (void)masque_quic_write(at[i].conn);
            if (winner < 0 && masque_quic_handshake_completed(at[i].conn)) {
                winner = (int)i;
            }
        }
    }
    for (i = 0; winner >= 0 && i < n; i++) {
        addrs[i].reached = 1; /* QUIC reaches this proxy: HTTP/2 would hear the same */
    }
    for (i = 0; i < live; i++) {
        if ((int)i == winner) {
            *won = at[i];
        } else {
            h3_drop(st, &at[i]);
        }
    }
    return winner >= 0;
}

/* Over HTTP/3 to the proxy's first address that completes a QUIC handshake (h3_race()) within
 * --fallback-ms before HTTP/2, else --connect-timeout-ms; when one did, every address is marked
 * reached, else HTTP/2 is worth a try. */
static void run_h3(client_state *st, const options *o, proxy_address *addrs, size_t n)
{
    h3_attempt won = {NULL, -1, 0, 0};
    uint64_t end_code = 0;
    uint64_t answer_by;
    masque_conn_end end;
    int leaving = 0;
    int fd;
    int raced = h3_race(st, o, addrs, n, o->transport == 0 ? o->fallback_ns : o->connect_ns, &won);
    h3_ticket.len = 0; /* offered: never again */
    if (!raced) {
        return;
    }
    st->conn = won.conn;
    fd = won.fd;
    answer_by = masque_quic_now_ns() + o->connect_ns; /* the handshake completed just now */
    while (!st->ended && time_left(o) && !masque_quic_is_closed(st->conn) &&
           !answer_overdue(st, o, answer_by)) {
        struct pollfd fds[2 + EXPOSE_MAX_PEERS];
        size_t npeers = polls(st, fds, fd);
        (void)poll(fds, 2 + npeers,
                   loop_wait_ms(o, masque_quic_next_timeout(st->conn), st->ready ? 0 : answer_by));
        if (fds[0].revents & (POLLIN | POLLERR)) {
            /* Every packet that waits, a GSO train in one receive. */
            (void)masque_quic_read_socket(st->conn);
        }
        if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP))) {
            stdin_open = stdin_lines(st); /* at the end of input, keep relaying */
        }
        if (st->expose != NULL) {
            expose_after_poll(st->expose, st->session, st->adapter, fds + 2, npeers, now_ms());
        }
        if (masque_quic_next_timeout(st->conn) <= masque_quic_now_ns()) {
            (void)masque_quic_tick(st->conn);
        }
        (void)masque_quic_write(st->conn);
        say_too_large(st->conn);
    }
    if (!st->ended && !masque_quic_is_closed(st->conn)) {
        leaving = 1; /* the run is over: our own leaving is no news */
        (void)masque_quic_close(st->conn, MASQUE_H3_NO_ERROR); /* the proxy frees at once */
    }
    if (masque_quic_refused(st->conn)) {
        st->ended = 1; /* said on stderr already */
        st->cannot_serve = 1;
    }
    end = masque_quic_end_reason(st->conn, &end_code);
    keep_ticket(&h3_ticket, masque_quic_ticket(st->conn, h3_ticket.data, sizeof(h3_ticket.data)));
    st->abandoned = leaving;
    masque_quic_free(st->conn); /* a request still open hears H3_NO_ERROR: judged below */
    judge_end(st, end, end_code, MASQUE_H3_NO_ERROR);
    st->abandoned = 0;
    st->conn = NULL;
    (void)close(fd);
}

#ifdef MASQUE_HAVE_H2
/* A TCP connection attempt (RFC 8305 racing). */
typedef struct tcp_attempt {
    int fd;
    size_t addr;      /* which of the proxy's addresses */
    uint64_t give_up; /* when its connection is given up */
} tcp_attempt;

/* The next of the proxy's addresses at or after `from` that HTTP/2 has not tried: n if none. */
static size_t untried(const proxy_address *addrs, size_t n, size_t from)
{
    while (from < n && addrs[from].reached) {
        from++;
    }
    return from;
}

/* A TCP connect() that did not succeed: said on stderr with its address, closed. */
static void tcp_failed(const proxy_address *a, int fd, int err)
{
    char why[96];
    (void)snprintf(why, sizeof(why), ": %s", strerror(err));
    say_address("TCP with", &a->addr, a->len, why);
    (void)close(fd);
}

/*
 * RFC 8305 §5 for TCP: the addresses HTTP/2 has not tried (the families taking turns) get
 * their connect() ATTEMPT_DELAY_NS apart, each without waiting for the one before to fail;
 * the first connection established is kept (its TLS handshake follows) and the others are
 * closed. Each connection gets --connect-timeout-ms; one refused starts the next at once. The
 * kept address is marked tried. Returns its socket and sets o->remote, or -1 when none
 * connected (or the run ended).
 */
static int tcp_race(options *o, proxy_address *addrs, size_t n)
{
    tcp_attempt at[MAX_PROXY_ADDRESSES];
    size_t live = 0;
    size_t next = untried(addrs, n, 0);
    int several = untried(addrs, n, next + 1) < n;
    uint64_t next_start = masque_quic_now_ns();
    int winner = -1;
    size_t i;
    while (winner < 0 && time_left(o) && (live > 0 || next < n)) {
        struct pollfd fds[MAX_PROXY_ADDRESSES];
        uint64_t now = masque_quic_now_ns();
        uint64_t wake = next < n ? next_start : UINT64_MAX;
        if (next < n && (live == 0 || now >= next_start)) {
            const proxy_address *a = &addrs[next];
            int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (several) { /* which, and in what order (RFC 8305 §4), for whoever debugs a path */
                say_address("trying TCP with", &a->addr, a->len, "");
            }
            next_start = now + ATTEMPT_DELAY_NS;
            if (fd < 0) {
                perror("masque-bind-client: socket");
            } else if (connect(fd, (const struct sockaddr *)&a->addr, a->len) != 0 &&
                       errno != EINPROGRESS) {
                tcp_failed(a, fd, errno);
                next_start = now; /* RFC 8305 §5: a failure starts the next attempt */
            } else {
                at[live].fd = fd;
                at[live].addr = next;
                at[live++].give_up = now + o->connect_ns;
            }
            next = untried(addrs, n, next + 1);
            continue;
        }
        for (i = 0; i < live;) {
            if (now >= at[i].give_up) {
                say_no_handshake(&addrs[at[i].addr].addr, addrs[at[i].addr].len, "TLS (TCP)",
                                 o->connect_ns);
                addrs[at[i].addr].reached = 1; /* tried */
                (void)close(at[i].fd);
                at[i] = at[--live];
                next_start = now;
                continue;
            }
            fds[i].fd = at[i].fd;
            fds[i].events = POLLOUT;
            fds[i].revents = 0;
            if (at[i].give_up < wake) {
                wake = at[i].give_up;
            }
            i++;
        }
        if (live == 0) {
            continue;
        }
        (void)poll(fds, live, loop_wait_ms(o, wake, 0));
        for (i = 0; i < live;) {
            int err = 0;
            socklen_t el = sizeof(err);
            if (fds[i].revents == 0) {
                i++;
                continue;
            }
            if (getsockopt(at[i].fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) {
                err = errno;
            }
            if (err == 0 && winner < 0) {
                winner = (int)at[i].addr;
                memcpy(&o->remote, &addrs[winner].addr, sizeof(o->remote));
                o->remotelen = addrs[winner].len;
                addrs[winner].reached = 1;
                at[i].addr = SIZE_MAX; /* the winner, kept when the others are closed */
                i++;
                continue;
            }
            if (err != 0) {
                addrs[at[i].addr].reached = 1; /* tried */
                tcp_failed(&addrs[at[i].addr], at[i].fd, err);
                fds[i] = fds[live - 1];
                at[i] = at[--live];
                next_start = masque_quic_now_ns();
                continue;
            }
            i++;
        }
    }
    for (i = 0; i < live; i++) {
        if (at[i].addr == SIZE_MAX) {
            return at[i].fd; /* the winner */
        }
        (void)close(at[i].fd); /* still connecting: not tried, but not needed */
    }
    return -1;
}

/* Over HTTP/2: TLS on the connected TCP socket `fd` (to o->remote, the same port). Returns 1
 * when the TLS handshake completed, 0 when it did not within --connect-timeout-ms. */
static int run_h2(client_state *st, const options *o, int fd)
{
    static const masque_h2_hooks hooks = {h2_on_ready, h2_on_packet, h2_on_close, h2_on_log,
                                          NULL,        h2_on_event,  NULL};
    masque_h2_config cfg;
    uint64_t end_code = 0;
    uint64_t give_up = masque_quic_now_ns() + o->connect_ns;
    uint64_t answer_by = 0; /* set when the TLS handshake completes */
    masque_conn_end end;
    int reached;
    memset(&cfg, 0, sizeof(cfg));
    cfg.authority = o->cfg.authority;
    cfg.uri_template = o->cfg.uri_template;
    cfg.ca_file = o->cfg.ca_file;
    cfg.insecure = o->cfg.insecure;
    cfg.priority = o->cfg.priority;
    cfg.conn_idle_timeout_ms = o->cfg.conn_idle_timeout_ms;
    cfg.token = o->cfg.token;
    cfg.cert_file = o->cfg.cert_file;
    cfg.key_file = o->cfg.key_file;
    cfg.ticket = h2_ticket.len != 0 ? h2_ticket.data : NULL;
    cfg.ticket_len = h2_ticket.len;
    h2_ticket.len = 0; /* offered: never again */
    st->h2 = masque_h2_client_new(&cfg, fd, &hooks, st);
    if (st->h2 == NULL) {
        (void)fprintf(stderr, "masque-bind-client: cannot start HTTP/2\n");
        (void)close(fd);
        return 0;
    }
    (void)masque_h2_write(st->h2);
    while (!st->ended && !masque_h2_is_closed(st->h2) && time_left(o)) {
        struct pollfd fds[2 + EXPOSE_MAX_PEERS];
        size_t npeers = polls(st, fds, fd);
        uint64_t exp = masque_h2_next_timeout(st->h2); /* ms, UINT64_MAX: none */
        int handshaking = !masque_h2_handshake_completed(st->h2);
        int wait;
        if (!handshaking && answer_by == 0) {
            answer_by = masque_quic_now_ns() + o->connect_ns;
        }
        wait = loop_wait_ms(o, exp == UINT64_MAX ? UINT64_MAX : exp * 1000000u,
                            handshaking ? give_up : (st->ready ? 0 : answer_by));
        if (handshaking && masque_quic_now_ns() >= give_up) {
            say_no_handshake(&o->remote, o->remotelen, "TLS (TCP)", o->connect_ns);
            break; /* no answer from this address: the next one */
        }
        if (!handshaking && answer_overdue(st, o, answer_by)) {
            break;
        }
        if (masque_h2_wants_write(st->h2)) {
            fds[0].events |= POLLOUT;
        }
        (void)poll(fds, 2 + npeers, wait);
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            (void)masque_h2_read(st->h2);
        }
        if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP))) {
            stdin_open = stdin_lines(st);
        }
        if (st->expose != NULL) {
            expose_after_poll(st->expose, st->session, st->adapter, fds + 2, npeers, now_ms());
        }
        (void)masque_h2_tick(st->h2);
    }
    if (masque_h2_refused(st->h2)) {
        st->ended = 1;
        st->cannot_serve = 1;
    }
    if (!st->ended) {
        st->abandoned = 1;                                 /* our own leaving is no news */
        (void)masque_h2_close(st->h2, MASQUE_H2_NO_ERROR); /* GOAWAY: the proxy frees at once */
    }
    end = masque_h2_end_reason(st->h2, &end_code);
    reached = masque_h2_handshake_completed(st->h2);
    keep_ticket(&h2_ticket, masque_h2_ticket(st->h2, h2_ticket.data, sizeof(h2_ticket.data)));
    masque_h2_free(st->h2); /* before a handshake, the requests end here: no news either */
    judge_end(st, end, end_code, MASQUE_H2_NO_ERROR);
    st->abandoned = 0;
    st->h2 = NULL;
    (void)close(fd);
    return reached;
}
#endif

/* What a tunnel leaves behind goes with it. */
static void tunnel_over(client_state *st)
{
    if (st->expose != NULL) {
        expose_close_all(st->expose); /* the peers' contexts went with the tunnel */
    }
    if (st->ready) {
        unpublish_address(st); /* the address went with the tunnel too */
    }
}

/* --reconnect asks again unless the proxy refused what a new request would ask again (a 4xx
 * but 429: credentials, the request itself) or cannot serve Bind at all. */
static int worth_retrying(const client_state *st)
{
    return !st->cannot_serve && !(st->status >= 400 && st->status <= 499 && st->status != 429);
}

/* What one attempt leaves behind goes before the next: a new tunnel, a new session. */
static void attempt_reset(client_state *st);

/*
 * The proxy's addresses for one attempt: the one given, or its name's, resolved again (a proxy
 * that moves is followed), the address families taking turns from the resolver's first (RFC
 * 8305 §4): a family without a route (IPv6 on many networks) does not hold up the other.
 * Returns how many.
 */
static size_t proxy_addresses(const options *o, proxy_address *out, size_t cap)
{
    const struct addrinfo *by_family[2][MAX_PROXY_ADDRESSES];
    size_t count[2] = {0, 0};
    size_t taken[2] = {0, 0};
    struct addrinfo hints;
    struct addrinfo *list = NULL;
    const struct addrinfo *ai;
    size_t n = 0;
    size_t turn = 0;
    int rc;
    memset(out, 0, cap * sizeof(*out));
    if (o->proxy_name == NULL) {
        memcpy(&out[0].addr, &o->remote, sizeof(o->remote));
        out[0].len = o->remotelen;
        return 1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    rc = getaddrinfo(o->proxy_name, o->proxy_port, &hints, &list);
    if (rc != 0) {
        (void)fprintf(stderr, "masque-bind-client: cannot resolve %s: %s\n", o->proxy_name,
                      gai_strerror(rc));
        return 0;
    }
    for (ai = list; ai != NULL; ai = ai->ai_next) {
        size_t f = ai->ai_family == list->ai_family ? 0 : 1; /* the resolver's first family: 0 */
        if (ai->ai_addrlen <= sizeof(out[0].addr) && count[f] < MAX_PROXY_ADDRESSES) {
            by_family[f][count[f]++] = ai;
        }
    }
    while (n < cap && (taken[0] < count[0] || taken[1] < count[1])) {
        if (taken[turn] < count[turn]) {
            ai = by_family[turn][taken[turn]++];
            memcpy(&out[n].addr, ai->ai_addr, ai->ai_addrlen);
            out[n++].len = (socklen_t)ai->ai_addrlen;
        }
        turn ^= 1u;
    }
    freeaddrinfo(list);
    return n;
}

/*
 * An attempt: HTTP/3 with the proxy's addresses raced (h3_race()), then HTTP/2 with those that
 * gave no QUIC handshake (UDP blocked on the way), one after the other; or only the transport
 * asked. It stops at the first that sets up a tunnel or refuses for good. Every handshake is
 * bounded in time, so that an address into a black hole delays the others by seconds, not by
 * the kernel's minutes.
 */
static void run_attempts(client_state *st, options *o)
{
    proxy_address addrs[MAX_PROXY_ADDRESSES];
    size_t n = proxy_addresses(o, addrs, MAX_PROXY_ADDRESSES);
    if (n == 0) {
        return;
    }
    if (o->transport != 2) {
        run_h3(st, o, addrs, n);
        tunnel_over(st);
        if (st->ready || !worth_retrying(st) || !time_left(o) || o->transport == 3) {
            return;
        }
    }
#ifdef MASQUE_HAVE_H2
    /* The addresses QUIC did not reach (reached: QUIC answered, HTTP/2 would hear the same),
     * raced over TCP (tcp_race()) until one gives a tunnel or none is left to try. */
    if (o->transport == 0 && untried(addrs, n, 0) < n) {
        (void)fprintf(stderr, "masque-bind-client: trying HTTP/2 over TLS/TCP\n");
    }
    for (;;) {
        int fd = tcp_race(o, addrs, n);
        if (fd < 0) {
            return;
        }
        attempt_reset(st); /* what the attempt before left */
        (void)run_h2(st, o, fd);
        tunnel_over(st);
        if (st->ready || !worth_retrying(st) || !time_left(o)) {
            return;
        }
    }
#endif
}

/* --reconnect: waits `ms`, or until the end of --run-seconds; 0 when the run is over. */
static int wait_to_retry(const options *o, uint64_t ms)
{
    uint64_t until = masque_quic_now_ns() + ms * 1000000u;
    uint64_t now;
    if (o->deadline != 0 && o->deadline < until) {
        until = o->deadline;
    }
    while (!stopping && (now = masque_quic_now_ns()) < until) {
        uint64_t left = (until - now + 999999u) / 1000000u;
        (void)poll(NULL, 0, left > 1000u ? 1000 : (int)left);
    }
    return time_left(o);
}

static void attempt_reset(client_state *st)
{
    st->session = NULL;
    st->adapter = NULL;
    st->uncompressed_open = 0;
    st->uncompressed_id = 0;
    st->npeers = 0;
    st->total = 0;
    st->ready = 0;
    st->abandoned = 0;
    st->ended = 0;
    st->ended_ok = 0;
    st->ended_with = 0;
    st->status = 0;
    st->cannot_serve = 0;
    st->lost = NULL;
}

/* Every option, one line each (--help on stdout). */
static void usage(FILE *to)
{
    (void)fputs(
        "usage: masque-bind-client [OPTION]...\n"
        "Asks a MASQUE proxy for a public UDP address (CONNECT-UDP Bind) and relays UDP through\n"
        "it: prints \"public address: IP:PORT\", then \"from IP:PORT: TEXT\" per packet (TEXT\n"
        "printable: a backslash as \\\\, other bytes as \\xHH); sends each stdin line\n"
        "\"IP:PORT TEXT\" to that peer; as a tunnel ends, says how many datagrams toward the\n"
        "proxy it dropped (a path slower than what is sent costs datagrams, not delay).\n"
        "  --proxy HOST:PORT          the proxy: IP:PORT, [IPv6]:PORT, or NAME:PORT (resolved at\n"
        "                             each attempt, every address tried) (default\n"
        "                             127.0.0.1:4433)\n"
        "  --authority NAME           its name, for the request and TLS (default: the NAME of\n"
        "                             --proxy, else localhost)\n"
        "  --template URI             the URI template (default\n"
        "                             https://localhost/.well-known/masque/udp/{target_host}/"
        "{target_port}/)\n"
        "  --ca PEM                   the CA to verify the proxy against (default: the\n"
        "                             system's trusted CAs)\n"
        "  --insecure                 do not verify the proxy (for people, never for tests)\n"
        "  --token-file FILE          send the bearer token in FILE (first non-comment line)\n"
        "  --cert PEM --key PEM       present this client certificate (mutual TLS)\n"
        "  --expose HOST:PORT         make this local UDP service reachable at the public\n"
        "                             address: each remote peer gets a local socket of its own\n"
        "                             and a compressed context; prints \"exposing ... at "
        "IP:PORT\"\n"
        "  --allow CIDR[:PORTS]       with --expose: only these peers (repeatable, up to 16)\n"
        "  --max-peers N              with --expose: peers at once (default 64, at most 256)\n"
        "  --peer-idle-ms MS          with --expose: close a peer idle this long (default 60000)\n"
        "  --public-address-file FILE the public addresses, one a line, in FILE while the\n"
        "                             tunnel is up\n"
        "  --h2 | --h3                HTTP/2 only, or HTTP/3 only (default: HTTP/3, then\n"
        "                             HTTP/2 when no QUIC handshake completes in time)\n"
        "  --fallback-ms MS           how long HTTP/3 gets before HTTP/2 (default 1500)\n"
        "  --connect-timeout-ms MS    how long a handshake with one address gets otherwise\n"
        "                             (QUIC with --h3, TCP and TLS; default 10000), and the\n"
        "                             proxy's answer to the Bind request after a handshake\n"
        "  --idle-timeout-ms MS       a proxy silent this long is gone (QUIC's idle timeout;\n"
        "                             default 120000; a quiet tunnel sends PINGs to stay up)\n"
        "  --quic-version 1|2         QUIC v1 (RFC 9000, the default) or v2 (RFC 9369)\n"
        "  --priority STRING          GnuTLS priority string\n"
        "  --echo                     answer every packet with \"re: TEXT\"\n"
        "  --compress-after N         register a compressed context for a peer after N packets\n"
        "  --close-uncompressed-after N  close the uncompressed context after N packets\n"
        "  --reconnect                when the tunnel ends or cannot be set up, ask again after\n"
        "                             1 s, then 2, 4, ... up to 60 s (not after a refusal a new\n"
        "                             request would meet too: a 4xx other than 429)\n"
        "  --run-seconds S            stop after S seconds\n"
        "  --help                     this text\n"
        "SIGINT/SIGTERM end the run: the tunnel is closed in order (the proxy frees it at once).\n"
        "Exit status: 0 when the tunnel worked and ended cleanly (the run's end, or the proxy's\n"
        "in order; with --reconnect: it was up when the run ended), 1 on any failure (a proxy\n"
        "that vanished included), 2 on bad usage.\n",
        to);
}

/* The first line of the file that is neither blank nor a '#' comment, without the spaces and
 * tabs around it: the bearer token. 0, -1 when there is none, -2 for a line longer than `cap`
 * can hold (never cut: a cut token would be refused with no word why), -3 for one that is not
 * a token68 (no proxy could take it: refused with no word why either), -4 when the file cannot
 * be opened (errno says why). */
static int read_token(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    int rc = -1;
    if (f == NULL) {
        return -4; /* errno says why */
    }
    while (fgets(out, (int)cap, f) != NULL) {
        size_t len = strcspn(out, "\r\n");
        size_t lead;
        if (out[len] == '\0' && len == cap - 1 && !feof(f)) {
            rc = -2;
            break;
        }
        while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\t')) {
            len--; /* spaces and tabs around it: an editor's leftovers */
        }
        out[len] = '\0';
        lead = strspn(out, " \t");
        memmove(out, out + lead, len - lead + 1);
        len -= lead;
        if (out[0] != '\0' && out[0] != '#') {
            masque_str t;
            t.ptr = out;
            t.len = len;
            rc = len > TOKEN_MAX ? -2 : masque_bearer_token_valid(t) ? 0 : -3;
            break;
        }
    }
    (void)fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    static client_state st;
    static char token[TOKEN_MAX + 3]; /* with CR, LF and the NUL */
    static options o;
    static expose_state expose;
    const char *allow[EXPOSE_MAX_RULES];
    size_t nallow = 0;
    size_t j;
    size_t max_peers = 0;
    uint64_t peer_idle_ms = 0;
    masque_address proxy_addr;
    const char *proxy_text = "127.0.0.1:4433";
    static char proxy_name[256];
    int authority_given = 0;
    double run_seconds = 0;
    uint64_t backoff_ms = 500; /* doubled before the first wait: 1 s */
    uint64_t wait_ms;
    char state[512]; /* why a tunnel is down, for stderr and systemd's STATUS= */
    int i;

    open_standard_fds(); /* before any socket could take 0, 1 or 2 */
    o.cfg.authority = "localhost";
    o.cfg.uri_template = "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";
    o.fallback_ns = 1500u * 1000000u;
    o.connect_ns = 10000u * 1000000u;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--insecure") == 0) {
            o.cfg.insecure = 1;
        } else if (strcmp(a, "--echo") == 0) {
            st.echo = 1;
        } else if (strcmp(a, "--h2") == 0) {
            o.transport = 2;
        } else if (strcmp(a, "--h3") == 0) {
            o.transport = 3;
        } else if (strcmp(a, "--reconnect") == 0) {
            o.reconnect = 1;
        } else if (v == NULL) {
            (void)fprintf(stderr, "masque-bind-client: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--proxy") == 0) {
            proxy_text = argv[++i];
        } else if (strcmp(a, "--template") == 0) {
            masque_str t = {v, strlen(v)};
            if (masque_uri_template_check(t, NULL) != MASQUE_OK) {
                (void)fprintf(
                    stderr,
                    "masque-bind-client: bad --template %s (RFC 9298 §2: an absolute URI with "
                    "{target_host} and {target_port} once each, in its path or query, "
                    "each followed by a character no value holds)\n",
                    v);
                return 2;
            }
            o.cfg.uri_template = argv[++i];
        } else if (strcmp(a, "--authority") == 0) {
            o.cfg.authority = argv[++i];
            authority_given = 1;
        } else if (strcmp(a, "--ca") == 0) {
            o.cfg.ca_file = argv[++i];
        } else if (strcmp(a, "--priority") == 0) {
            o.cfg.priority = argv[++i];
        } else if (strcmp(a, "--expose") == 0) {
            st.service = argv[++i];
            if (expose_init(&expose, st.service) != 0) {
                (void)fprintf(stderr, "masque-bind-client: bad --expose %s\n", st.service);
                return 2;
            }
            st.expose = &expose;
        } else if (strcmp(a, "--allow") == 0) {
            if (nallow == EXPOSE_MAX_RULES) {
                (void)fprintf(stderr, "masque-bind-client: at most %d --allow rules\n",
                              EXPOSE_MAX_RULES);
                return 2;
            }
            allow[nallow++] = argv[++i];
        } else if (strcmp(a, "--max-peers") == 0) {
            max_peers = (size_t)option_number(PROGRAM, a, argv[++i], 1, EXPOSE_MAX_PEERS);
        } else if (strcmp(a, "--peer-idle-ms") == 0) {
            peer_idle_ms = option_number(PROGRAM, a, argv[++i], 1, UINT32_MAX);
        } else if (strcmp(a, "--public-address-file") == 0) {
            st.public_file = argv[++i];
        } else if (strcmp(a, "--cert") == 0) {
            o.cfg.cert_file = argv[++i]; /* our certificate, for a proxy that wants one */
        } else if (strcmp(a, "--key") == 0) {
            o.cfg.key_file = argv[++i];
        } else if (strcmp(a, "--token-file") == 0) {
            int rc = read_token(argv[++i], token, sizeof(token));
            if (rc == -4) {
                (void)fprintf(stderr, "masque-bind-client: cannot read --token-file %s: %s\n",
                              argv[i], strerror(errno));
                return 2;
            }
            if (rc != 0) {
                (void)fprintf(stderr, "masque-bind-client: %s in %s\n",
                              rc == -2   ? "a token longer than 256 bytes"
                              : rc == -3 ? "not a bearer token (RFC 6750 §2.1: letters, digits, "
                                           "-._~+/ and = at the end)"
                                         : "no token",
                              argv[i]);
                return 2;
            }
            o.cfg.token = token;
        } else if (strcmp(a, "--idle-timeout-ms") == 0) {
            o.cfg.conn_idle_timeout_ms = option_number(PROGRAM, a, argv[++i], 1000, 3600000);
        } else if (strcmp(a, "--quic-version") == 0) {
            o.cfg.quic_version = (uint32_t)option_number(PROGRAM, a, argv[++i], 1, 2);
        } else if (strcmp(a, "--fallback-ms") == 0) {
            o.fallback_ns = option_number(PROGRAM, a, argv[++i], 0, 3600000) * 1000000u;
        } else if (strcmp(a, "--connect-timeout-ms") == 0) {
            o.connect_ns = option_number(PROGRAM, a, argv[++i], 1, 3600000) * 1000000u;
        } else if (strcmp(a, "--compress-after") == 0) {
            st.compress_after = (unsigned)option_number(PROGRAM, a, argv[++i], 0, UINT32_MAX);
        } else if (strcmp(a, "--close-uncompressed-after") == 0) {
            st.close_after = (unsigned)option_number(PROGRAM, a, argv[++i], 0, UINT32_MAX);
        } else if (strcmp(a, "--run-seconds") == 0) {
            run_seconds = option_seconds(PROGRAM, a, argv[++i]);
        } else {
            (void)fprintf(stderr, "masque-bind-client: unknown option %s\n", a);
            return 2;
        }
    }
    if (st.expose == NULL && (nallow > 0 || max_peers > 0 || peer_idle_ms > 0)) {
        (void)fprintf(stderr, "masque-bind-client: --allow, --max-peers and --peer-idle-ms "
                              "are for --expose\n");
        return 2;
    }
    if (st.expose != NULL && (st.echo || st.compress_after > 0 || st.close_after > 0)) {
        /* In expose mode every packet goes to the local service, and each peer has its
         * compressed context from its first packet. */
        (void)fprintf(stderr, "masque-bind-client: --echo, --compress-after and "
                              "--close-uncompressed-after do not go with --expose\n");
        return 2;
    }
    if (st.expose != NULL) {
        for (j = 0; j < nallow; j++) {
            if (expose_allow(&expose, allow[j]) != 0) {
                (void)fprintf(stderr, "masque-bind-client: bad --allow %s\n", allow[j]);
                return 2;
            }
        }
        if (max_peers > 0) {
            expose.max_peers = max_peers;
        }
        if (peer_idle_ms > 0) {
            expose.idle_ms = peer_idle_ms;
        }
    }
    if ((o.cfg.cert_file == NULL) != (o.cfg.key_file == NULL)) {
        (void)fprintf(stderr, "masque-bind-client: --cert and --key go together (the client "
                              "certificate and its key)\n");
        return 2;
    }
    if (o.cfg.cert_file != NULL) {
        /* Loaded once here so that a bad pair is named now, not as a failed connection. */
        masque_quic_credentials *pair =
            masque_quic_credentials_new(o.cfg.cert_file, o.cfg.key_file, NULL);
        if (pair == NULL) {
            (void)fprintf(stderr,
                          "masque-bind-client: the certificate %s with the key %s could not be "
                          "loaded (a file missing, unreadable or not PEM, or a key of another "
                          "certificate)\n",
                          o.cfg.cert_file, o.cfg.key_file);
            return 2;
        }
        masque_quic_credentials_release(pair);
    }
    if (masque_address_parse(&proxy_addr, proxy_text, strlen(proxy_text), 1) != MASQUE_OK ||
        masque_address_to_sockaddr(&proxy_addr, &o.remote, &o.remotelen) != MASQUE_OK) {
        /* NAME:PORT: the name is resolved for each attempt, and names the proxy (TLS, the
         * request's authority) unless --authority says otherwise. */
        const char *colon = strrchr(proxy_text, ':');
        size_t name_len = colon != NULL ? (size_t)(colon - proxy_text) : 0;
        if (name_len == 0 || name_len >= sizeof(proxy_name) || proxy_text[0] == '[' ||
            memchr(proxy_text, ':', name_len) != NULL) {
            (void)fprintf(stderr,
                          "masque-bind-client: bad --proxy %s (IP:PORT, [IPv6]:PORT or "
                          "NAME:PORT)\n",
                          proxy_text);
            return 2;
        }
        /* The port as read (or exit 2), written again: leading zeros would not fit. */
        (void)snprintf(o.proxy_port, sizeof(o.proxy_port), "%u",
                       (unsigned)option_number(PROGRAM, "--proxy", colon + 1, 1, 65535));
        memcpy(proxy_name, proxy_text, name_len);
        proxy_name[name_len] = '\0';
        o.proxy_name = proxy_name;
        if (!authority_given) {
            o.cfg.authority = proxy_name;
        }
    }
    if (run_seconds > 0) {
        o.deadline = masque_quic_now_ns() + (uint64_t)(run_seconds * 1e9);
    }
    (void)signal(SIGINT, on_signal); /* poll() returns at once (EINTR): the loops see it */
    (void)signal(SIGTERM, on_signal);
    if (st.expose != NULL) {
        /* A service, whose stdout is only a log: a reader of it that went away must not end
         * the tunnel (as masque-proxy). Relaying to stdout, the client ends with its reader,
         * as a filter does. */
        (void)signal(SIGPIPE, SIG_IGN);
    }
#ifndef MASQUE_HAVE_H2
    if (o.transport == 2) {
        (void)fprintf(stderr, "masque-bind-client: built without HTTP/2 (nghttp2)\n");
        return 2;
    }
    o.transport = 3;
#endif
    for (;;) {
        run_attempts(&st, &o);
        if (!o.reconnect || !time_left(&o) || !worth_retrying(&st)) {
            break;
        }
        /* Back to a second after a tunnel that was up (a proxy restart), doubled after each
         * attempt that set none up; a random half of it, so that the clients of a restarted
         * proxy do not all come back in the same instant. */
        backoff_ms = st.ready ? 1000u : (backoff_ms * 2u > 60000u ? 60000u : backoff_ms * 2u);
        wait_ms = backoff_ms / 2u + (masque_quic_now_ns() / 1000u) % (backoff_ms / 2u + 1u);
        /* Said on stderr, and to systemd for `systemctl status` (STATUS=, notify.h). */
        (void)snprintf(state, sizeof(state), "STATUS=%s; asking again in %llu ms",
                       st.lost != NULL ? st.lost
                       : st.ready      ? "the tunnel ended"
                                       : "no Bind tunnel was set up",
                       (unsigned long long)wait_ms);
        (void)fprintf(stderr, "masque-bind-client: %s\n", state + strlen("STATUS="));
        (void)notify_send(state);
        if (!wait_to_retry(&o, wait_ms)) {
            break;
        }
        attempt_reset(&st);
    }
    {
        /* Every failure ends with a non-zero status and one line on stderr. With --reconnect,
         * a run that ends without a tunnel up failed. */
        int failed = !st.ready || (st.ended && (!st.ended_ok || o.reconnect));
        if (!st.ready && st.status == 0 && !st.cannot_serve && !st.ended) {
            /* (A proxy's refusal, or one that cannot serve Bind, was said already.) */
            (void)fprintf(stderr, "masque-bind-client: no Bind tunnel was set up (no proxy "
                                  "answered in time, or the handshake failed; see above)\n");
        } else if (st.lost != NULL) {
            (void)fprintf(stderr, "masque-bind-client: %s\n", st.lost);
        } else if (!st.ready && st.ended && !st.ended_cancelled) {
            /* The request ended before a tunnel, not by a refusal said above: the proxy reset
             * it, or its answer was malformed. */
            (void)fprintf(stderr,
                          "masque-bind-client: no Bind tunnel was set up (the request ended with "
                          "error 0x%llx)\n",
                          (unsigned long long)st.ended_with);
        } else if (st.ready && failed) {
            (void)fprintf(stderr,
                          "masque-bind-client: the proxy ended the Bind request (error 0x%llx)\n",
                          (unsigned long long)st.ended_with);
        }
        return failed ? 1 : 0;
    }
}
