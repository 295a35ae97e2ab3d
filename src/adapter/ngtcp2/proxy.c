/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A complete Bind proxy on top of masque_quic_conn: a poll loop over the listening socket and
 * one UDP socket per accepted Bind request (its address is that request's public address, -10
 * §7); a client may hold several requests on one connection. No thread per client. Clients are
 * found by their address and port, and when that changed (NAT rebinding, migration) by the
 * Destination Connection ID of their packets.
 */
#define _GNU_SOURCE /* recvmmsg */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"

#define MAX_OWN_ADDRESSES 64
#define OWN_REFRESH_NS    1000000000u /* re-read the interfaces every second */
#define RECV_BATCH        32u         /* datagrams one recvmmsg() takes */
#define RELAY_BUDGET      64u  /* datagrams read per relay socket per step: no socket starves */
#define LISTEN_BUDGET     256u /* QUIC packets read per step, before the relays get their turn */
#define DATAGRAM_MAX      65536u

typedef struct proxy_client {
    masque_quic_conn *conn;
    struct sockaddr_storage remote;
    socklen_t remotelen;
    masque_quic_proxy *proxy;
} proxy_client;

/* One accepted Bind request and its UDP socket (RFC 9298 §3.1: they live and die together). */
typedef struct proxy_relay {
    masque_quic_request *req; /* NULL once the request ended (freed at the end of the step) */
    proxy_client *client;
    int fd;
    int family; /* AF_INET or AF_INET6 (dual-stack): how targets are addressed */
} proxy_relay;

struct masque_quic_proxy {
    masque_quic_proxy_config cfg;
    int fd;
    struct sockaddr_storage local;
    socklen_t locallen;
    masque_quic_credentials *credentials; /* loaded once; replaced by a reload */
    /* The operator's policy, with the proxy's own addresses refused after its rules. */
    masque_policy policy;
    const masque_policy *operator_policy;
    masque_address own[MAX_OWN_ADDRESSES];
    size_t nown;
    uint64_t own_refreshed; /* ns */
    proxy_client **clients;
    size_t nclients;
    proxy_relay **relays; /* every accepted request of every client */
    size_t nrelays;
    struct pollfd *fds; /* the listening socket, then one per relay */
    uint8_t retry_secret[MASQUE_QUIC_RETRY_SECRET_LEN]; /* seals Retry tokens (RFC 9000 §8.1.2) */
};

/* Reads the addresses of every local interface (the proxy's own addresses). */
static void refresh_own_addresses(masque_quic_proxy *p)
{
    struct ifaddrs *list = NULL;
    const struct ifaddrs *i;
    p->own_refreshed = masque_quic_now_ns();
    if (getifaddrs(&list) != 0) {
        return; /* keep what we had */
    }
    p->nown = 0;
    for (i = list; i != NULL && p->nown < MAX_OWN_ADDRESSES; i = i->ifa_next) {
        socklen_t len;
        if (i->ifa_addr == NULL) {
            continue;
        }
        len = i->ifa_addr->sa_family == AF_INET    ? (socklen_t)sizeof(struct sockaddr_in)
              : i->ifa_addr->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                                   : 0;
        if (len != 0 && masque_address_from_sockaddr(i->ifa_addr, len, &p->own[p->nown]) == 0) {
            p->nown++;
        }
    }
    freeifaddrs(list);
}

/*
 * After the operator's rules: the proxy's own addresses are refused (a client must not reach
 * services of the proxy host through it), then the operator's callback, then the defaults.
 */
static masque_policy_verdict own_address_verdict(void *user, void *session_user,
                                                 const masque_address *target)
{
    const masque_quic_proxy *p = user;
    size_t i;
    for (i = 0; i < p->nown; i++) {
        const masque_address *a = &p->own[i];
        if (a->version == target->version &&
            memcmp(a->bytes, target->bytes, masque_address_ip_len(a->version)) == 0) {
            return MASQUE_POLICY_DENY;
        }
    }
    if (p->operator_policy != NULL && p->operator_policy->callback != NULL) {
        return p->operator_policy->callback(p->operator_policy->callback_user, session_user,
                                            target);
    }
    return MASQUE_POLICY_NO_OPINION;
}

static void log_line(const masque_quic_proxy *p, const char *what, const proxy_client *c)
{
    masque_address a;
    char text[MASQUE_ADDRESS_TEXT_MAX] = "?";
    char line[256];
    if (!p->cfg.verbose || p->cfg.log == NULL) {
        return;
    }
    if (masque_address_from_sockaddr((const struct sockaddr *)&c->remote, c->remotelen, &a) == 0) {
        (void)masque_address_format(text, sizeof(text), &a, 1);
    }
    (void)snprintf(line, sizeof(line), "%s %s", what, text);
    p->cfg.log(p->cfg.log_user, line);
}

/* A connection's own lines (refusals, QUIC errors) go to the proxy's log, always. */
static void on_log(masque_quic_conn *conn, void *app, const char *line)
{
    const proxy_client *c = app;
    (void)conn;
    if (c->proxy->cfg.log != NULL) {
        c->proxy->cfg.log(c->proxy->cfg.log_user, line);
    }
}

static void on_packet(masque_quic_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    proxy_relay *relay = app;
    struct sockaddr_storage ss;
    socklen_t sl;
    (void)r;
    /* From the client, through the session's checks (policy included): out to the target. */
    if (relay->fd >= 0 && masque_address_to_sockaddr_for(peer, relay->family, &ss, &sl) == 0) {
        (void)sendto(relay->fd, data, len, 0, (struct sockaddr *)&ss, sl);
    }
}

/* The request ended: its UDP socket goes with it (RFC 9298 §3.1); the rest waits for the end
 * of the step, when nothing is iterating over the relays. */
static void on_close(masque_quic_request *r, void *app, uint64_t reason)
{
    proxy_relay *relay = app;
    (void)r;
    (void)reason;
    if (relay->fd >= 0) {
        (void)close(relay->fd);
        relay->fd = -1;
    }
    relay->req = NULL;
}

static int relay_socket(const masque_address *bind_to, masque_address *bound);
static void log_refusal(const masque_quic_proxy *p, const char *why,
                        const struct sockaddr_storage *from, socklen_t fl);

/* A Bind request was accepted: only now is a public address bound for it (-10 §7), so that a
 * handshake, or a request refused, costs no socket. */
static int on_request(masque_quic_request *r, void *app, masque_address *public_address)
{
    proxy_client *c = app;
    masque_quic_proxy *p = c->proxy;
    masque_address bound;
    proxy_relay *relay;
    if (p->nrelays == p->cfg.max_requests) {
        log_refusal(p, "the proxy holds its most Bind requests (--max-requests)", &c->remote,
                    c->remotelen);
        return -1;
    }
    relay = calloc(1, sizeof(*relay));
    if (relay == NULL) {
        return -1;
    }
    relay->fd = relay_socket(&p->cfg.relay_bind, &bound);
    if (relay->fd < 0) {
        log_refusal(p, "no UDP socket for a relay (descriptors exhausted?)", &c->remote,
                    c->remotelen);
        free(relay);
        return -1;
    }
    relay->req = r;
    relay->client = c;
    relay->family = p->cfg.relay_bind.version == MASQUE_IP_V6 ? AF_INET6 : AF_INET;
    p->relays[p->nrelays++] = relay;
    masque_quic_request_set_app(r, relay);
    *public_address = bound;
    if (p->cfg.has_public_ip) {
        *public_address = p->cfg.public_ip;
        public_address->port = bound.port;
    }
    return 0;
}

static const masque_quic_hooks hooks = {NULL, on_packet, on_close, on_log, on_request, NULL};

static int relay_socket(const masque_address *bind_to, masque_address *bound)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    masque_address any = *bind_to;
    int fd;
    any.port = 0;
    if (masque_address_to_sockaddr(&any, &ss, &sl) != 0) {
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    /* RFC 9298 §3.1 and §6.2: don't fragment, Not-ECT. */
    if (masque_posix_udp_proxy_options(fd, ss.ss_family) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        masque_address_from_sockaddr((struct sockaddr *)&ss, sl, bound) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

masque_quic_proxy *masque_quic_proxy_new(const masque_quic_proxy_config *cfg, int listen_fd)
{
    masque_quic_proxy *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->cfg = *cfg;
    p->cfg.conn.is_server = 1;
    p->operator_policy = cfg->conn.policy;
    if (cfg->conn.policy != NULL) {
        p->policy = *cfg->conn.policy;
    }
    p->policy.callback = own_address_verdict;
    p->policy.callback_user = p;
    p->cfg.conn.policy = &p->policy;
    refresh_own_addresses(p);
    if (p->cfg.max_clients == 0) {
        p->cfg.max_clients = 256;
    }
    if (p->cfg.max_requests == 0) {
        p->cfg.max_requests = 4 * p->cfg.max_clients;
    }
    p->fd = listen_fd;
    p->locallen = sizeof(p->local);
    if (!cfg->no_address_validation) {
        if (getrandom(p->retry_secret, sizeof(p->retry_secret), 0) !=
            (ssize_t)sizeof(p->retry_secret)) {
            free(p);
            return NULL;
        }
        p->cfg.conn.retry_secret = p->retry_secret;
    }
    p->clients = calloc(p->cfg.max_clients, sizeof(proxy_client *));
    p->relays = calloc(p->cfg.max_requests, sizeof(proxy_relay *));
    p->fds = calloc(p->cfg.max_requests + 1, sizeof(*p->fds));
    /* The certificate is read once, not per connection (and again only on a reload). */
    p->credentials = masque_quic_credentials_new(p->cfg.conn.cert_file, p->cfg.conn.key_file);
    if (p->clients == NULL || p->relays == NULL || p->fds == NULL || p->credentials == NULL ||
        getsockname(listen_fd, (struct sockaddr *)&p->local, &p->locallen) != 0) {
        masque_quic_proxy_free(p);
        return NULL;
    }
    return p;
}

int masque_quic_proxy_reload(masque_quic_proxy *p)
{
    masque_quic_credentials *fresh =
        masque_quic_credentials_new(p->cfg.conn.cert_file, p->cfg.conn.key_file);
    if (fresh == NULL) {
        return -1; /* keep serving with what was loaded */
    }
    masque_quic_credentials_release(p->credentials); /* open connections keep theirs */
    p->credentials = fresh;
    return 0;
}

static proxy_client *find_client(masque_quic_proxy *p, const struct sockaddr_storage *from,
                                 socklen_t fl)
{
    size_t i;
    for (i = 0; i < p->nclients; i++) {
        proxy_client *c = p->clients[i];
        if (c->remotelen == fl && memcmp(&c->remote, from, fl) == 0) {
            return c;
        }
    }
    return NULL;
}

/*
 * A 1-RTT packet from an address no client has: a client whose address changed (RFC 9000 §9),
 * found by the connection ID it sends to. Only short headers: no client migrates before its
 * handshake is confirmed (§9), and an Initial from a new address is a new client.
 */
static proxy_client *find_client_by_cid(masque_quic_proxy *p, const uint8_t *pkt, size_t len)
{
    size_t i;
    if (len == 0 || (pkt[0] & 0x80) != 0) {
        return NULL;
    }
    for (i = 0; i < p->nclients; i++) {
        if (masque_quic_is_for(p->clients[i]->conn, pkt, len)) {
            return p->clients[i];
        }
    }
    return NULL;
}

/* Refusals are always logged, whatever verbose says: an operator must see them. */
static void log_refusal(const masque_quic_proxy *p, const char *why,
                        const struct sockaddr_storage *from, socklen_t fl)
{
    masque_address a;
    char text[MASQUE_ADDRESS_TEXT_MAX] = "?";
    char line[256];
    if (p->cfg.log == NULL) {
        return;
    }
    if (masque_address_from_sockaddr((const struct sockaddr *)from, fl, &a) == 0) {
        (void)masque_address_format(text, sizeof(text), &a, 1);
    }
    (void)snprintf(line, sizeof(line), "refused %s: %s", text, why);
    p->cfg.log(p->cfg.log_user, line);
}

static proxy_client *accept_client(masque_quic_proxy *p, const struct sockaddr_storage *from,
                                   socklen_t fl, const uint8_t *pkt, size_t len)
{
    proxy_client *c;
    masque_quic_config cfg = p->cfg.conn;
    cfg.credentials = p->credentials;
    if (p->nclients == p->cfg.max_clients) {
        log_refusal(p, "all client slots are taken (--max-clients)", from, fl);
        return NULL; /* full: the client's Initial goes unanswered and it times out */
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_refusal(p, "out of memory", from, fl);
        return NULL;
    }
    c->proxy = p; /* relay sockets: only once a Bind request is accepted (on_request) */
    memcpy(&c->remote, from, fl);
    c->remotelen = fl;
    c->conn = masque_quic_server_accept(&cfg, p->fd, (struct sockaddr *)&p->local, p->locallen,
                                        (const struct sockaddr *)from, fl, pkt, len, &hooks, c);
    if (c->conn == NULL) {
        free(c);
        return NULL;
    }
    p->clients[p->nclients++] = c;
    log_line(p, "client connected from", c);
    return c;
}

static void drop_client(masque_quic_proxy *p, size_t i)
{
    proxy_client *c = p->clients[i];
    log_line(p, "client gone:", c);
    masque_quic_free(c->conn); /* on_close for each of its requests: their sockets close */
    free(c);
    p->clients[i] = p->clients[--p->nclients];
}

/* Frees the relays whose request ended. */
static void sweep_relays(masque_quic_proxy *p)
{
    size_t i;
    for (i = 0; i < p->nrelays;) {
        if (p->relays[i]->req == NULL) {
            free(p->relays[i]);
            p->relays[i] = p->relays[--p->nrelays];
            continue;
        }
        i++;
    }
}

/*
 * Batch receive: recvmmsg() fills up to RECV_BATCH buffers in one system call. Each buffer
 * keeps MASQUE_BIND_HEADROOM free in front, so that a relayed payload is framed in place.
 */
typedef struct rx_batch {
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    struct sockaddr_storage from[RECV_BATCH];
    uint8_t buf[RECV_BATCH][MASQUE_BIND_HEADROOM + DATAGRAM_MAX];
} rx_batch;

static rx_batch rx; /* one loop, one thread: shared by every socket */

/* Receives up to `max` datagrams; returns how many (0 when none is waiting). */
static unsigned rx_read(int fd, unsigned max)
{
    unsigned i;
    int n;
    if (max > RECV_BATCH) {
        max = RECV_BATCH;
    }
    for (i = 0; i < max; i++) {
        rx.iov[i].iov_base = rx.buf[i] + MASQUE_BIND_HEADROOM;
        rx.iov[i].iov_len = DATAGRAM_MAX;
        memset(&rx.msgs[i].msg_hdr, 0, sizeof(rx.msgs[i].msg_hdr));
        rx.msgs[i].msg_hdr.msg_name = &rx.from[i];
        rx.msgs[i].msg_hdr.msg_namelen = sizeof(rx.from[i]);
        rx.msgs[i].msg_hdr.msg_iov = &rx.iov[i];
        rx.msgs[i].msg_hdr.msg_iovlen = 1;
    }
    n = recvmmsg(fd, rx.msgs, max, MSG_DONTWAIT, NULL);
    return n > 0 ? (unsigned)n : 0u;
}

/* UDP from the Internet for one request: up to RELAY_BUDGET datagrams, into its tunnel. */
static void relay_in(proxy_relay *relay)
{
    unsigned budget = RELAY_BUDGET;
    while (budget > 0 && relay->req != NULL) {
        unsigned n = rx_read(relay->fd, budget);
        unsigned i;
        for (i = 0; i < n && relay->req != NULL; i++) {
            masque_adapter *a = masque_quic_request_adapter(relay->req);
            masque_address src;
            if (a == NULL ||
                masque_address_from_sockaddr((struct sockaddr *)&rx.from[i],
                                             rx.msgs[i].msg_hdr.msg_namelen, &src) != 0) {
                continue;
            }
            /* Received at offset MASQUE_BIND_HEADROOM: framed in place, never copied (-10 §8:
             * a sender without a context is dropped inside, and counted). The packets go out
             * together, at the connection's next write. */
            (void)masque_adapter_write_datagram(a, &src, rx.buf[i] + MASQUE_BIND_HEADROOM,
                                                MASQUE_BIND_HEADROOM, rx.msgs[i].msg_len,
                                                masque_quic_now_ns() / 1000000u);
        }
        if (n < RECV_BATCH || n == budget) {
            return; /* drained, or this socket had its turn */
        }
        budget -= n;
    }
}

/* QUIC packets on the listening socket: up to LISTEN_BUDGET per step. */
static void listen_in(masque_quic_proxy *p)
{
    unsigned budget = LISTEN_BUDGET;
    while (budget > 0) {
        unsigned n = rx_read(p->fd, budget);
        unsigned i;
        for (i = 0; i < n; i++) {
            const struct sockaddr_storage *from = &rx.from[i];
            socklen_t fl = rx.msgs[i].msg_hdr.msg_namelen;
            const uint8_t *pkt = rx.buf[i] + MASQUE_BIND_HEADROOM;
            size_t len = rx.msgs[i].msg_len;
            proxy_client *c = find_client(p, from, fl);
            if (c == NULL) {
                c = find_client_by_cid(p, pkt, len);
            }
            if (c == NULL) {
                c = accept_client(p, from, fl, pkt, len);
            }
            if (c != NULL) {
                (void)masque_quic_read_from(c->conn, (const struct sockaddr *)from, fl, pkt, len);
                c->remotelen = masque_quic_peer_address(c->conn, &c->remote); /* it may move */
            }
        }
        if (n < RECV_BATCH || n == budget) {
            return;
        }
        budget -= n;
    }
}

int masque_quic_proxy_step(masque_quic_proxy *p, int timeout_ms)
{
    size_t i;
    uint64_t now = masque_quic_now_ns();
    if (now - p->own_refreshed > OWN_REFRESH_NS) {
        refresh_own_addresses(p); /* interfaces come and go */
    }
    int wait = timeout_ms;
    size_t npolled = p->nrelays; /* relays added during this step wait for the next */
    for (i = 0; i < p->nclients; i++) {
        uint64_t exp = masque_quic_next_timeout(p->clients[i]->conn);
        if (exp <= now) {
            wait = 0;
        } else if ((exp - now) / 1000000u < (uint64_t)wait) {
            wait = (int)((exp - now) / 1000000u);
        }
    }
    for (i = 0; i < npolled; i++) {
        p->fds[i + 1].fd = p->relays[i]->fd;
        p->fds[i + 1].events = POLLIN;
        p->fds[i + 1].revents = 0;
    }
    p->fds[0].fd = p->fd;
    p->fds[0].events = POLLIN;
    p->fds[0].revents = 0;
    if (poll(p->fds, npolled + 1, wait) < 0 && errno != EINTR) {
        return -1;
    }
    if (p->fds[0].revents & POLLIN) {
        listen_in(p);
    }
    for (i = 0; i < npolled; i++) {
        if (p->relays[i]->fd >= 0 && p->fds[i + 1].fd == p->relays[i]->fd &&
            (p->fds[i + 1].revents & POLLIN)) {
            relay_in(p->relays[i]);
        }
    }
    now = masque_quic_now_ns();
    for (i = 0; i < p->nclients;) {
        proxy_client *c = p->clients[i];
        if (masque_quic_next_timeout(c->conn) <= now) {
            (void)masque_quic_tick(c->conn);
        }
        (void)masque_quic_write(c->conn);
        if (masque_quic_is_closed(c->conn)) {
            drop_client(p, i);
            continue;
        }
        i++;
    }
    sweep_relays(p);
    return 0;
}

size_t masque_quic_proxy_clients(const masque_quic_proxy *p)
{
    return p->nclients;
}

size_t masque_quic_proxy_requests(const masque_quic_proxy *p)
{
    size_t i;
    size_t n = 0;
    for (i = 0; i < p->nrelays; i++) {
        n += p->relays[i]->req != NULL ? 1u : 0u;
    }
    return n;
}

void masque_quic_proxy_free(masque_quic_proxy *p)
{
    if (p == NULL) {
        return;
    }
    while (p->clients != NULL && p->nclients > 0) {
        drop_client(p, p->nclients - 1);
    }
    sweep_relays(p); /* every request ended with its connection */
    masque_quic_credentials_release(p->credentials);
    free(p->clients);
    free(p->relays);
    free(p->fds);
    free(p);
}
