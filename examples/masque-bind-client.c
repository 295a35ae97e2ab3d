/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * masque-bind-client: asks a MASQUE proxy for a public UDP address (CONNECT-UDP Bind over
 * HTTP/3) and exchanges UDP with any peer through it.
 *
 *   masque-bind-client [--proxy IP:PORT] [--template URI] [--authority NAME]
 *                      [--ca PEM | --insecure] [--priority GNUTLS]
 *                      [--echo] [--compress-after N] [--close-uncompressed-after N]
 *                      [--run-seconds S]
 *
 * It prints "public address: IP:PORT" for each address the proxy bound, then one line per
 * packet: "from IP:PORT: TEXT". Lines on standard input, "IP:PORT TEXT", are sent to that peer.
 * --echo answers every packet with "re: TEXT"; --compress-after N registers a compressed context
 * for a peer after N packets from it; --close-uncompressed-after N closes the uncompressed
 * context after N packets in all (firewall mode: only compressed peers get through).
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"

#define MAX_PEERS 64

typedef struct client_state {
    masque_quic_conn *conn;
    masque_quic_request *req; /* the Bind request, once accepted; NULL once it ended */
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
    int ended;           /* the request ended ... */
    uint64_t ended_with; /* ... with this HTTP/3 error code */
} client_state;

static uint64_t now_ms(void)
{
    return masque_quic_now_ns() / 1000000u;
}

static void send_text(client_state *st, const masque_address *peer, const char *text, size_t len)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 2048];
    int rc;
    if (len > 2048) {
        len = 2048;
    }
    memcpy(buf + MASQUE_BIND_HEADROOM, text, len);
    if (st->req == NULL) {
        return;
    }
    rc = masque_adapter_write_datagram(masque_quic_request_adapter(st->req), peer,
                                       buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM, len,
                                       now_ms());
    if (rc != MASQUE_OK) {
        (void)printf("cannot send: %s\n", masque_strerror(rc));
    }
}

static void on_ready(masque_quic_request *r, void *app)
{
    client_state *st = app;
    masque_address pub[4];
    size_t n = masque_quic_request_public_addresses(r, pub, 4);
    size_t i;
    for (i = 0; i < n && i < 4; i++) {
        char text[MASQUE_ADDRESS_TEXT_MAX];
        (void)masque_address_format(text, sizeof(text), &pub[i], 1);
        (void)printf("public address: %s\n", text);
    }
    /* -10 §4: register the uncompressed context to hear from any peer. */
    st->req = r;
    if (masque_session_open_uncompressed(masque_quic_request_session(r), now_ms(),
                                         &st->uncompressed_id) == MASQUE_OK) {
        st->uncompressed_open = 1;
        (void)printf("uncompressed context %llu requested\n",
                     (unsigned long long)st->uncompressed_id);
    }
    (void)masque_adapter_flush(masque_quic_request_adapter(r));
    st->ready = 1;
    (void)fflush(stdout);
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

static void on_packet(masque_quic_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    client_state *st = app;
    char text[MASQUE_ADDRESS_TEXT_MAX];
    unsigned *count = peer_count(st, peer);
    masque_session *s = masque_quic_request_session(r);
    (void)masque_address_format(text, sizeof(text), peer, 1);
    (void)printf("from %s: %.*s\n", text, (int)len, (const char *)data);
    st->total++;
    if (count != NULL) {
        (*count)++;
    }
    if (st->echo) {
        char reply[2048];
        int n = snprintf(reply, sizeof(reply), "re: %.*s", (int)(len > 2000 ? 2000 : len),
                         (const char *)data);
        send_text(st, peer, reply, (size_t)n);
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
    (void)masque_adapter_flush(masque_quic_request_adapter(r));
    (void)fflush(stdout);
}

/* Says what became of our registrations: scripts wait for these lines, not for time. */
static void on_event(masque_quic_request *r, void *app, const masque_event *ev)
{
    const char *what = NULL;
    (void)r;
    (void)app;
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

/* The Bind request ended (the proxy's answer, a reset, or the connection): so does the
 * program, with a non-zero status unless it ended cleanly. */
static void on_close(masque_quic_request *r, void *app, uint64_t reason)
{
    client_state *st = app;
    (void)r;
    st->req = NULL;
    st->ended = 1;
    st->ended_with = reason;
    (void)printf("request closed (HTTP/3 error 0x%llx)\n", (unsigned long long)reason);
    (void)fflush(stdout);
}

static void on_log(masque_quic_conn *c, void *app, const char *line)
{
    (void)c;
    (void)app;
    (void)fprintf(stderr, "masque-bind-client: %s\n", line);
}

static void stdin_line(client_state *st, char *line)
{
    char *space = strchr(line, ' ');
    masque_address peer;
    size_t len;
    if (space == NULL || !st->ready) {
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
    ssize_t n = read(STDIN_FILENO, in + in_len, sizeof(in) - 1 - in_len);
    size_t start = 0;
    size_t i;
    if (n <= 0) {
        if (in_len > 0) { /* a last line without a newline */
            in[in_len] = '\0';
            stdin_line(st, in);
            in_len = 0;
        }
        return 0;
    }
    in_len += (size_t)n;
    for (i = 0; i < in_len; i++) {
        if (in[i] == '\n') {
            in[i] = '\0';
            stdin_line(st, in + start);
            start = i + 1;
        }
    }
    if (start == 0 && in_len == sizeof(in) - 1) {
        in[in_len] = '\0'; /* a line longer than the buffer: take it as it is */
        stdin_line(st, in);
        start = in_len;
    }
    memmove(in, in + start, in_len - start);
    in_len -= start;
    return 1;
}

int main(int argc, char **argv)
{
    static client_state st;
    masque_quic_config cfg;
    masque_quic_hooks hooks = {on_ready, on_packet, on_close, on_log, NULL, on_event};
    masque_address proxy_addr;
    struct sockaddr_storage remote;
    struct sockaddr_storage local;
    socklen_t rl;
    socklen_t ll = sizeof(local);
    const char *proxy_text = "127.0.0.1:4433";
    double run_seconds = 0;
    uint64_t deadline = 0;
    int stdin_open = 1;
    int fd;
    int i;

    memset(&cfg, 0, sizeof(cfg));
    cfg.authority = "localhost";
    cfg.uri_template = "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--insecure") == 0) {
            cfg.insecure = 1;
        } else if (strcmp(a, "--echo") == 0) {
            st.echo = 1;
        } else if (v == NULL) {
            (void)fprintf(stderr, "masque-bind-client: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--proxy") == 0) {
            proxy_text = argv[++i];
        } else if (strcmp(a, "--template") == 0) {
            cfg.uri_template = argv[++i];
        } else if (strcmp(a, "--authority") == 0) {
            cfg.authority = argv[++i];
        } else if (strcmp(a, "--ca") == 0) {
            cfg.ca_file = argv[++i];
        } else if (strcmp(a, "--priority") == 0) {
            cfg.priority = argv[++i];
        } else if (strcmp(a, "--compress-after") == 0) {
            st.compress_after = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--close-uncompressed-after") == 0) {
            st.close_after = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--run-seconds") == 0) {
            run_seconds = strtod(argv[++i], NULL);
        } else {
            (void)fprintf(stderr, "masque-bind-client: unknown option %s\n", a);
            return 2;
        }
    }
    if (!cfg.insecure && cfg.ca_file == NULL) {
        (void)fprintf(stderr, "masque-bind-client: give --ca FILE, or --insecure to skip "
                              "certificate verification\n");
        return 2;
    }
    if (masque_address_parse(&proxy_addr, proxy_text, strlen(proxy_text), 1) != MASQUE_OK ||
        masque_address_to_sockaddr(&proxy_addr, &remote, &rl) != MASQUE_OK) {
        (void)fprintf(stderr, "masque-bind-client: bad --proxy %s\n", proxy_text);
        return 2;
    }
    fd = socket(remote.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&remote, rl) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &ll) != 0) {
        perror("masque-bind-client: socket");
        return 1;
    }
    st.conn = masque_quic_client_new(&cfg, fd, (struct sockaddr *)&local, ll,
                                     (struct sockaddr *)&remote, rl, &hooks, &st);
    if (st.conn == NULL || masque_quic_write(st.conn) != 0) {
        (void)fprintf(stderr, "masque-bind-client: cannot connect\n");
        return 1;
    }
    if (run_seconds > 0) {
        deadline = masque_quic_now_ns() + (uint64_t)(run_seconds * 1e9);
    }
    while (!masque_quic_is_closed(st.conn) && !st.ended &&
           (deadline == 0 || masque_quic_now_ns() < deadline)) {
        struct pollfd fds[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        nfds_t nfds = stdin_open ? 2 : 1;
        uint64_t now = masque_quic_now_ns();
        uint64_t exp = masque_quic_next_timeout(st.conn);
        int wait = exp <= now                    ? 0
                   : (exp - now) / 1000000u > 50 ? 50
                                                 : (int)((exp - now) / 1000000u);
        (void)poll(fds, nfds, wait);
        if (fds[0].revents & POLLIN) {
            static uint8_t buf[65536];
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n > 0) {
                (void)masque_quic_read(st.conn, buf, (size_t)n);
            }
        }
        if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP))) {
            stdin_open = stdin_lines(&st); /* at the end of input, keep relaying */
        }
        if (masque_quic_next_timeout(st.conn) <= masque_quic_now_ns()) {
            (void)masque_quic_tick(st.conn);
        }
        (void)masque_quic_write(st.conn);
    }
    {
        /* Every failure ends with a non-zero status and one line on stderr. */
        int failed = masque_quic_refused(st.conn) || !st.ready ||
                     (st.ended && st.ended_with != MASQUE_H3_NO_ERROR);
        if (!st.ready && !masque_quic_refused(st.conn)) {
            (void)fprintf(stderr, "masque-bind-client: no Bind tunnel was set up (handshake or "
                                  "request failed; see above)\n");
        } else if (st.ready && failed) {
            (void)fprintf(stderr,
                          "masque-bind-client: the proxy ended the Bind request (HTTP/3 "
                          "error 0x%llx)\n",
                          (unsigned long long)st.ended_with);
        }
        if (!st.ended) {
            (void)masque_quic_close(st.conn, MASQUE_H3_NO_ERROR); /* the proxy frees at once */
        }
        masque_quic_free(st.conn);
        (void)close(fd);
        return failed ? 1 : 0;
    }
}
