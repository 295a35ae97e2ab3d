/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A complete Bind proxy on top of masque_quic_conn: a poll loop over the listening socket and
 * one UDP socket per accepted Bind request (its address is that request's public address, -10
 * §7); a client may hold several requests on one connection. No thread per client. Clients are
 * found by their address and port, and when that changed (NAT rebinding, migration) by the
 * Destination Connection ID of their packets.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/exchange.h"
#include "../common/tls_identity.h"
#include "closing.h"
#include "masque/posix.h"
#include "masque/quic.h"
#include "open_table.h"
#include "probe.h"
#include "quota_share.h"
#include "udp_in.h"
#include "udp_out.h"
#include "workers.h"
#ifdef MASQUE_PROXY_H2
#include "../nghttp2/h2_probe.h"
#include "masque/h2.h"
#endif

#define OWN_REFRESH_NS    1000000000u /* re-read the interfaces every second */
#define RECV_BATCH        32u         /* datagrams one recvmmsg() takes */
#define RELAY_BUDGET      64u  /* datagrams read per relay socket per step: no socket starves */
#define LISTEN_BUDGET     256u /* QUIC packets read per step, before the relays get their turn */
#define DATAGRAM_MAX      65536u
#define SEND_BATCH        32u               /* datagrams one sendmmsg() hands to the kernel */
#define SEND_ARENA        262144u           /* bytes of payload gathered before a flush (256 KiB) */
#define ACCEPT_BUDGET     16u               /* TCP connections accepted per step */
#define ACCEPT_RETRY_NS   100000000u        /* accept() again after running out of descriptors */
#define EVENTS_MAX        256               /* readiness events taken per step (the rest: next) */
#define MAX_CLIENTS_LIMIT ((size_t)1000000) /* max_clients at most (max_requests 4 times it) */
/* Connection IDs indexed per client at most (quic.h), and room in the index for this many
 * a client on average (ngtcp2 issues up to 8); an ID that finds no room leaves the index
 * partial for good, and the proxy goes back to asking every client (cid_index_partial). */
#define CIDS_PER_CLIENT   MASQUE_QUIC_CONNECTION_IDS_MAX
#define CIDS_INDEXED      ((size_t)8)
/* Packets from unknown addresses looked up by asking every client, per step, once the index is
 * partial: a flood of forged short-header packets from random addresses may cost no more. */
#define CID_LOOKUP_BUDGET 16u
/* A probe of a connection that holds a request its identity's quota needs (probe.h) waits
 * this long for an answer at least (a busy client may be slow to answer), and three PTOs when
 * that is longer. */
#define PROBE_MIN_NS      3000000000u
/* Closed connections whose CONNECTION_CLOSE is sent again to a late packet (closing.h): the
 * last ones closed; an older one beyond them gets no answer, as before. */
#define CLOSING_KEPT      32u
/* Slots of the index of those records' connection IDs: a power of two, twice the IDs they hold
 * at most (CLOSING_KEPT records of MASQUE_CLOSING_CIDS), so that its load stays under a half. */
#define CLOSING_SLOTS     1024u
#define STATELESS_PER_SEC 1024u    /* stateless_per_s by default */
#define STATELESS_LIMIT   1000000u /* stateless_per_s at most */
#define MAX_TOKENS        64u      /* a file with more is refused; load_tokens() says so */
#define MAX_IDENTITIES    1024u    /* identities accounted apart by default (max_identities) */
#define IDENTITIES_LIMIT  1000000u /* max_identities at most */
#define TOKEN_MAX         256u     /* bytes of a token; load_tokens() names this bound too */
/* Lines about refusals and connection errors: what anyone may cause, so they come at most this
 * many at once and per second after (a token bucket); the others are counted and said. */
#define LOG_BURST         50u
#define LOG_RATE          20u

/* Doubly-linked lists threaded through their members (a member may be on several), oldest
 * first: what waits longest to give up its place is found at once, and leaves in O(1). */
typedef struct dlink {
    struct dlink *prev;
    struct dlink *next;
} dlink;

typedef struct dlist {
    dlink *first;
    dlink *last;
} dlist;

/* The struct of `type` whose `member` is the link `l`. (clang-format 14 and 19 disagree on the
 * spaces around a binary minus after a parenthesized macro argument.) */
/* clang-format off */
#define LINK_OWNER(l, type, member) ((type *)(void *)((char *)(l) - offsetof(type, member)))
/* clang-format on */

static void dlist_append(dlist *list, dlink *l)
{
    l->next = NULL;
    l->prev = list->last;
    if (list->last != NULL) {
        list->last->next = l;
    } else {
        list->first = l;
    }
    list->last = l;
}

static void dlist_remove(dlist *list, dlink *l)
{
    if (l->prev != NULL) {
        l->prev->next = l->next;
    } else {
        list->first = l->next;
    }
    if (l->next != NULL) {
        l->next->prev = l->prev;
    } else {
        list->last = l->prev;
    }
    l->prev = l->next = NULL;
}

/* What one client identity uses, and its quota's token buckets (a second's burst). */
typedef struct proxy_identity {
    masque_quic_usage use;
    double datagram_tokens;
    double byte_tokens;
    uint64_t refilled; /* ns */
    /* ns: with a quota share, when its shared buckets may be asked again (quota_lease()) */
    uint64_t lease_after;
    dlink idle;   /* while it holds no open request: on the proxy's list of such identities */
    dlist relays; /* its open requests (a quota's probe asks their connections) */
} proxy_identity;

/* A client's source: an IPv4 address (an IPv4-mapped one included), or an IPv6 /64, what one
 * subscriber usually holds. */
typedef struct source_key {
    uint8_t len; /* 4 or 8 bytes of address; 0 for a source that could not be read */
    uint8_t bytes[8];
} source_key;

/* What a readiness event from epoll is about: its data.ptr points at one of these, in the
 * proxy (its listening sockets), in an HTTP/2 client (its TCP socket) or in a relay. */
typedef enum { WATCH_LISTEN, WATCH_TCP, WATCH_CLIENT, WATCH_RELAY } watch_kind;
typedef struct proxy_watch {
    watch_kind kind;
    void *owner; /* the proxy_client or proxy_relay */
} proxy_watch;

/* A client over HTTP/3 (conn) or over HTTP/2 (h2, on its own TCP socket). */
typedef struct proxy_client {
    masque_quic_conn *conn;
#ifdef MASQUE_PROXY_H2
    masque_h2_conn *h2;
    masque_quic_credentials *cred; /* HTTP/2: the credentials it started with (a reference) */
    int tcp_fd;
    proxy_watch watch; /* its TCP socket's events */
    int watch_out;     /* and whether they include EPOLLOUT (it has more to write) */
#endif
    struct sockaddr_storage remote;
    socklen_t remotelen;
    struct sockaddr_storage local; /* the proxy's address it reached (a wildcard's actual one) */
    socklen_t locallen;
    masque_quic_proxy *proxy;
    int identity; /* who its last authorized request was: a token's index, -1 anonymous, -2 a
                   * client certificate (named in who) */
    char who[128];
    proxy_identity *ident; /* its accounting, as of its last authorized request */
    size_t slot;           /* its index in the proxy's clients */
    size_t binds;          /* its accepted Bind requests still open */
    /* While it holds none: since when (ns), and its place on the proxy's list of such clients
     * and on its source's (the first to give their slot up to a new client when all are
     * taken). */
    uint64_t bare_since;
    dlink bare;
    dlink same_source;
    source_key source; /* its source when it connected (IPv4 address, IPv6 /64) */
    size_t bucket;     /* where the proxy files it by source */
    /* Its next timer (client_next_timeout(), as of its last turn) and its place in the proxy's
     * heap of them; its place on the list of clients to serve in this step, SIZE_MAX when it
     * is not on it. A step serves only those: work per step follows what happened, not how
     * many clients are connected. */
    uint64_t expiry;
    size_t timer_at;
    size_t dirty_at;
    /* The connection IDs the proxy's index holds for it (bit k of cids_used: cids[k]). */
    uint8_t cids[CIDS_PER_CLIENT][MASQUE_QUIC_CONNECTION_ID_LEN];
    uint32_t cids_used;
    int handshake_counted; /* its TLS handshake is in the proxy's counts */
    /* A probe of its connection (probe.h): when the last one began (one per PROBE_MIN_NS at
     * most), and until when an answer may come to the one going on (0: none is). */
    uint64_t probed_at;
    uint64_t probe_until;
} proxy_client;

/* A slot of an index of connection IDs this end issued: NULL owner when free. */
typedef struct id_slot {
    void *owner; /* a proxy_client, or a masque_quic_closing record */
    uint8_t id[MASQUE_QUIC_CONNECTION_ID_LEN];
} id_slot;

/* Connection IDs this end issued, to what holds them: open addressing over a power of two of
 * slots, homed by the IDs' own random first bytes, at a load of a half at most. */
typedef struct id_index {
    id_slot *slots;
    size_t mask; /* slots - 1 */
    size_t count;
} id_index;

/* The source address a relay bound to a wildcard sets on what it sends to peers of one IP
 * version (controllen 0: none, the kernel's choice is right), and its control message, made
 * once for every datagram. */
typedef struct relay_source {
    struct sockaddr_storage addr;
    size_t control[(MASQUE_UDP_SOURCE_CONTROL + sizeof(size_t) - 1) / sizeof(size_t)];
    size_t controllen;
} relay_source;

/* One accepted Bind request and its UDP socket (RFC 9298 §3.1: they live and die together). */
typedef struct proxy_relay {
    masque_quic_request *req; /* over HTTP/3 */
#ifdef MASQUE_PROXY_H2
    masque_h2_request *h2req; /* over HTTP/2 */
#endif
    proxy_client *client;
    proxy_identity *ident; /* whose quota it counts against */
    dlink of_ident;        /* on its identity's list of open requests */
    int live;              /* 0 once the request ended (freed at the end of the step) */
    int fd;
    int family;        /* AF_INET or AF_INET6 (dual-stack): how targets are addressed */
    proxy_watch watch; /* its socket's events */
    /* bound to a wildcard: the advertised address of each IP version (IPv4, IPv6) */
    relay_source source[2];
} proxy_relay;

struct masque_quic_proxy {
    masque_quic_proxy_config cfg;
    int fd;
    struct sockaddr_storage local;
    socklen_t locallen;
    int wildcard;  /* the listening socket is bound to 0.0.0.0 or ::, and reports each datagram's
                    * destination (udp_in.h): clients are answered from what they reached */
    uint16_t port; /* the listening socket's */
    masque_quic_credentials *credentials; /* loaded once; replaced by a reload */
    /* The operator's policy, with the proxy's own addresses refused after its rules. */
    masque_policy policy;
    const masque_policy *operator_policy;
    masque_address *own; /* every address of every interface, however many (heap) */
    size_t nown;
    size_t own_capacity;
    uint64_t own_refreshed; /* ns */
    proxy_client **clients;
    size_t nclients;
    proxy_client **timers; /* every client, a binary min-heap on expiry */
    size_t ntimers;
    proxy_client **dirty; /* the clients to serve at the end of this step (dirty_at) */
    size_t ndirty;
    uint64_t steps;        /* masque_quic_proxy_steps() */
    uint64_t client_turns; /* masque_quic_proxy_client_turns() */
    proxy_relay **relays;  /* every accepted request of every client */
    size_t nrelays;
    size_t relays_ended; /* of them, those whose request ended: freed at the end of the step */
    /* Every socket is watched by epoll: work per step follows the sockets that have something,
     * not how many there are. */
    int epfd;
    proxy_watch listen_watch;
    proxy_watch tcp_watch;
    int tcp_fd; /* HTTP/2's listening socket, or -1 */
    /* When accept() may be tried again after it ran out of descriptors (tcp_accept()); 0: the
     * listening socket is watched. */
    uint64_t accept_retry_at;
    int accept_starved; /* accept() ran out of descriptors and has not succeeded since (logged) */
    /* Bearer tokens (token_file), read at start and on reload; never logged. */
    masque_str tokens[MAX_TOKENS];
    size_t ntokens;
    char token_text[MAX_TOKENS][TOKEN_MAX + 1];
    proxy_identity *identities; /* cfg.max_identities of them */
    size_t nidentities;
    /* The identities by name (open addressing, keyed by addr_seed; id_slots, a power of two at
     * least twice max_identities), and those without an open request: finding one and reusing
     * one are a probe, not a scan of every identity. */
    proxy_identity **id_index;
    size_t id_slots;
    dlist idle;
    uint8_t retry_secret[MASQUE_QUIC_RETRY_SECRET_LEN]; /* seals Retry tokens (RFC 9000 §8.1.2) */
    uint8_t reset_secret[MASQUE_QUIC_RESET_SECRET_LEN]; /* Stateless Reset tokens (§10.3.2) */
    uint64_t stateless_second; /* ns: when the second that stateless_left counts for began */
    uint32_t stateless_left;   /* answers without state that may go in it (stateless_per_s) */
    uint64_t resets_sent;      /* Stateless Resets since start */
    uint64_t vn_sent;          /* Version Negotiation packets since start */
    uint64_t stateless_held;   /* answers without state the limit held back */
    uint64_t probes;           /* connections probed for a used-up quota (probe.h) */
    uint64_t probes_lost;      /* ... and closed for giving no answer */
    uint64_t handshakes;       /* clients' TLS handshakes completed */
    uint64_t resumed;          /* ... that resumed a session with a ticket */
    /* HTTP/3 clients by address: open addressing, a power of two at least twice max_clients,
     * keyed by a random seed so that senders cannot aim at one chain. */
    proxy_client **by_addr;
    size_t addr_slots;
    uint64_t addr_seed;
    /* The connection IDs the proxy issued, to their clients (quic.h): open addressing, a
     * power of two at least twice CIDS_INDEXED times max_clients, homed by the IDs' own random
     * first bytes. Partial when one did not fit: every client is then asked, as a fallback. */
    id_index by_cid;
    int cid_index_partial;
    unsigned cid_lookups; /* asks of every client left in this step (CID_LOOKUP_BUDGET) */
    /* Connections this end closed, in their closing period (closing.h), the oldest replaced;
     * their IDs in an index of their own, so that a packet no client claims costs one lookup
     * to know whether it is one of theirs, not a look at every ID of every record. */
    masque_quic_closing closing[CLOSING_KEPT];
    size_t closing_next;
    id_index closing_ids;
    id_slot closing_slots[CLOSING_SLOTS];
    uint64_t gone_dropped;   /* masque_quic_datagrams_dropped() of the clients that left */
    uint64_t gone_too_large; /* masque_quic_datagrams_too_large() of the clients that left */
    uint64_t no_room;        /* datagrams whose request stream had no room (capsules) */
    uint64_t full_reported;  /* ns: "all client slots are taken" is logged once a second */
    /* Clients without an open Bind request, and the same by source (addr_slots / 2 buckets,
     * keyed by addr_seed). */
    dlist bare;
    dlist *by_source;
    uint64_t log_tokens;     /* refusal and error lines that may go now, in 1e-9 lines */
    uint64_t log_refilled;   /* ns */
    uint64_t log_suppressed; /* lines not written since the last one that was */
};

/* Whether an interface address is one the proxy has (IPv4 or IPv6), and its length. */
static socklen_t own_address_len(const struct ifaddrs *i)
{
    if (i->ifa_addr == NULL) {
        return 0;
    }
    return i->ifa_addr->sa_family == AF_INET    ? (socklen_t)sizeof(struct sockaddr_in)
           : i->ifa_addr->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                                : 0;
}

/* Reads the addresses of every local interface (the proxy's own addresses): all of them, since
 * one left out would be a service of the proxy host that clients could reach. 0, or -1 when
 * they could not be read (the old list stays; the proxy does not start without one). */
static int refresh_own_addresses(masque_quic_proxy *p)
{
    struct ifaddrs *list = NULL;
    const struct ifaddrs *i;
    size_t n = 0;
    p->own_refreshed = masque_quic_now_ns();
    if (getifaddrs(&list) != 0) {
        return -1;
    }
    for (i = list; i != NULL; i = i->ifa_next) {
        n += own_address_len(i) != 0 ? 1u : 0u;
    }
    if (n > p->own_capacity) {
        masque_address *grown = realloc(p->own, n * sizeof(*grown));
        if (grown == NULL) {
            freeifaddrs(list);
            return -1;
        }
        p->own = grown;
        p->own_capacity = n;
    }
    p->nown = 0;
    for (i = list; i != NULL && p->nown < p->own_capacity; i = i->ifa_next) {
        socklen_t len = own_address_len(i);
        if (len != 0 && masque_address_from_sockaddr(i->ifa_addr, len, &p->own[p->nown]) == 0) {
            p->nown++;
        }
    }
    freeifaddrs(list);
    return 0;
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

/* A socket address as the log writes it ("?" for none it knows). */
static void address_text(const struct sockaddr_storage *ss, socklen_t len,
                         char text[MASQUE_ADDRESS_TEXT_MAX])
{
    masque_address a;
    if (masque_address_from_sockaddr((const struct sockaddr *)ss, len, &a) != 0 ||
        masque_address_format(text, MASQUE_ADDRESS_TEXT_MAX, &a, 1) <= 0) {
        (void)snprintf(text, MASQUE_ADDRESS_TEXT_MAX, "?");
    }
}

/* "WHAT ADDRESS" (and " (HOW)" when given): with -v only. */
static void log_line(const masque_quic_proxy *p, const char *what, const proxy_client *c,
                     const char *how)
{
    char text[MASQUE_ADDRESS_TEXT_MAX];
    char line[256];
    if (!p->cfg.verbose || p->cfg.log == NULL) {
        return;
    }
    address_text(&c->remote, c->remotelen, text);
    (void)snprintf(line, sizeof(line), "%s %s%s%s%s", what, text, how != NULL ? " (" : "",
                   how != NULL ? how : "", how != NULL ? ")" : "");
    p->cfg.log(p->cfg.log_user, line);
}

/* How a client's connection ended, in a word for the log. */
static const char *end_text(masque_conn_end end)
{
    switch (end) {
    case MASQUE_CONN_CLOSED_BY_PEER:
        return "it closed the connection";
    case MASQUE_CONN_BROKEN:
        return "the connection broke";
    case MASQUE_CONN_TIMED_OUT:
        return "nothing came from it for the idle timeout";
    case MASQUE_CONN_OPEN:
    case MASQUE_CONN_CLOSED_HERE:
        break;
    }
    return "closed by the proxy";
}

/*
 * A line about something any client or sender can cause (a refusal, a connection's error):
 * written unless more than LOG_BURST came at once, or more than LOG_RATE a second since; a
 * flood of refused requests must not become a flood of the log (where it would drown the
 * lines that matter, and the journal's own rate limit would drop them). The lines left out are
 * counted and said with the next line written.
 */
static void log_limited(masque_quic_proxy *p, const char *line)
{
    const uint64_t burst = (uint64_t)LOG_BURST * 1000000000u;
    uint64_t now = masque_quic_now_ns();
    uint64_t elapsed = now - p->log_refilled;
    if (p->cfg.log == NULL) {
        return;
    }
    p->log_refilled = now;
    /* Refill: LOG_RATE lines a second (elapsed is capped first: no overflow). */
    p->log_tokens += (elapsed > 10000000000u ? 10000000000u : elapsed) * LOG_RATE;
    if (p->log_tokens > burst) {
        p->log_tokens = burst;
    }
    if (p->log_tokens < 1000000000u) {
        p->log_suppressed++;
        return;
    }
    p->log_tokens -= 1000000000u;
    if (p->log_suppressed != 0) {
        char note[160];
        (void)snprintf(note, sizeof(note),
                       "%llu lines about refusals and errors were not logged (more than %u a "
                       "second)",
                       (unsigned long long)p->log_suppressed, LOG_RATE);
        p->log_suppressed = 0;
        p->cfg.log(p->cfg.log_user, note);
    }
    p->cfg.log(p->cfg.log_user, line);
}

/* "VERB ADDRESS: WHY", within the bounds of log_limited(). Refusals are always logged,
 * whatever verbose says: an operator must see them. */
static void log_client(masque_quic_proxy *p, const char *verb, const struct sockaddr_storage *from,
                       socklen_t fl, const char *why)
{
    char text[MASQUE_ADDRESS_TEXT_MAX];
    char line[320];
    if (p->cfg.log == NULL) {
        return;
    }
    address_text(from, fl, text);
    (void)snprintf(line, sizeof(line), "%s %s: %s", verb, text, why);
    log_limited(p, line);
}

/* A connection's own lines (requests the binding refused, QUIC errors) go to the proxy's log,
 * named by the client's address, within the log's bounds. */
static void on_log(masque_quic_conn *conn, void *app, const char *line)
{
    const proxy_client *c = app;
    (void)conn;
    log_client(c->proxy, "client", &c->remote, c->remotelen, line);
}

/* Whether the proxy has rate quotas (datagrams or bytes per second, per identity). */
static int rate_quotas(const masque_quic_proxy *p)
{
    return p->cfg.quota_datagrams_per_s != 0 || p->cfg.quota_bytes_per_s != 0;
}

/* Whether a quota share counts this proxy's requests and holds its buckets: it has one, and a
 * quota asks for it. */
static int share_used(const masque_quic_proxy *p)
{
    return p->cfg.quota_share != NULL && (p->cfg.quota_requests != 0 || rate_quotas(p));
}

/* Whether the identity's buckets in this process lack what a datagram of `len` bytes takes. */
static int tokens_short(const masque_quic_proxy *p, const proxy_identity *id, size_t len)
{
    return (p->cfg.quota_datagrams_per_s != 0 && id->datagram_tokens < 1.0) ||
           (p->cfg.quota_bytes_per_s != 0 && id->byte_tokens < (double)len);
}

/* The identity's tokens ran short here and workers share its buckets (quota_share.h): this
 * process leases a sixteenth of a second's worth (or what one datagram needs, when more) and
 * spends it, so that the shared lock is taken about 16 times a second per identity at its full
 * rate, never per datagram, and the clock is read only then. A lease that comes back short (the
 * identity is at its rate across the workers) is not asked again for a sixteenth of a second:
 * a flood over the rate is dropped here without the lock. */
static void quota_lease(const masque_quic_proxy *p, proxy_identity *id, size_t len)
{
    uint64_t now = masque_quic_now_ns();
    masque_quota_rates rates;
    double want_datagrams;
    double want_bytes;
    if (now < id->lease_after) {
        return;
    }
    rates.datagrams = (double)p->cfg.quota_datagrams_per_s;
    rates.bytes = (double)p->cfg.quota_bytes_per_s;
    want_datagrams = rates.datagrams / 16 > 1.0 ? rates.datagrams / 16 : 1.0;
    want_bytes = rates.bytes / 16 > (double)len ? rates.bytes / 16 : (double)len;
    masque_quota_share_lease(p->cfg.quota_share, id->use.identity, now, &rates,
                             rates.datagrams > 0 ? want_datagrams : 0.0,
                             rates.bytes > 0 ? want_bytes : 0.0, &id->datagram_tokens,
                             &id->byte_tokens);
    if (tokens_short(p, id, len)) {
        id->lease_after = now + MASQUE_QUOTA_SHARE_REFILL_NS / 16u;
    }
}

/* The identity's quota: 1 when a datagram of `len` bytes may pass (and it is counted), 0 when
 * it must be dropped (and that is counted). */
static int quota_pass(const masque_quic_proxy *p, proxy_identity *id, size_t len)
{
    if (!rate_quotas(p)) {
        id->use.datagrams++; /* no rate quota: counted only, no clock read per datagram */
        id->use.bytes += len;
        return 1;
    }
    if (p->cfg.quota_share == NULL) {
        uint64_t now = masque_quic_now_ns();
        double seconds = (double)(now - id->refilled) / 1e9;
        id->refilled = now;
        masque_bucket_refill(&id->datagram_tokens, (double)p->cfg.quota_datagrams_per_s, seconds);
        masque_bucket_refill(&id->byte_tokens, (double)p->cfg.quota_bytes_per_s, seconds);
    } else if (tokens_short(p, id, len)) {
        quota_lease(p, id, len);
    }
    if (tokens_short(p, id, len)) {
        id->use.dropped++;
        return 0;
    }
    id->datagram_tokens -= p->cfg.quota_datagrams_per_s != 0 ? 1.0 : 0.0;
    id->byte_tokens -= p->cfg.quota_bytes_per_s != 0 ? (double)len : 0.0;
    id->use.datagrams++;
    id->use.bytes += len;
    return 1;
}

/* A request counted against its identity's quota (shared, or this process's) did not come to
 * be, or ended: the shared count gives it back (this process's goes with use.requests). */
static void quota_back(const masque_quic_proxy *p, const char *identity)
{
    if (share_used(p)) {
        masque_quota_share_give(p->cfg.quota_share, identity, masque_quic_now_ns());
    }
}

/*
 * Datagrams to targets, gathered while a batch of QUIC packets (or a read of HTTP/2) is
 * handled, then sent with one sendmmsg() per relay socket instead of one sendto() each. Only
 * what arrived together goes out together, at the end of the read that brought it: nothing
 * waits for more to fill a batch (RFC 9298 §6, UDP-21: no added burstiness). The payloads are
 * copied: they point into buffers that the next packet reuses.
 */
typedef struct tx_batch {
    struct mmsghdr msgs[SEND_BATCH];
    struct iovec iov[SEND_BATCH];
    struct sockaddr_storage to[SEND_BATCH];
    relay_source *from[SEND_BATCH]; /* the source to set, NULL: the kernel's */
    int fd[SEND_BATCH];
    unsigned n;
    size_t used;
    uint8_t arena[SEND_ARENA];
} tx_batch;

static tx_batch tx; /* one loop, one thread, like rx; empty between steps */

static int tx_no_gso; /* the kernel refused UDP_SEGMENT on a relay socket (udp_out.h) */

/* sendmmsg() over the gathered datagrams [from, to) of one socket, never blocking: one the
 * kernel refuses (a full socket buffer included) is dropped (UDP), the rest go on, and one
 * slow target cannot stall every client. */
static void send_each(int fd, unsigned from, unsigned to)
{
    while (from < to) {
        int sent = sendmmsg(fd, tx.msgs + from, to - from, MSG_DONTWAIT);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        from += sent > 0 ? (unsigned)sent : 1u;
    }
}

/* Where a run of datagrams that one GSO send can carry ends: same socket, same target, the
 * same size (the last may be shorter), within the kernel's limits. */
static unsigned same_target_run(unsigned first, unsigned end)
{
    const struct msghdr *h = &tx.msgs[first].msg_hdr;
    size_t seg = tx.iov[first].iov_len;
    size_t total = seg;
    unsigned j = first + 1;
    if (seg == 0 || tx_no_gso) {
        return j;
    }
    while (j < end && j - first < MASQUE_GSO_MAX_SEGMENTS && tx.iov[j].iov_len != 0 &&
           tx.iov[j].iov_len <= seg && total + tx.iov[j].iov_len <= MASQUE_GSO_MAX_BYTES &&
           tx.msgs[j].msg_hdr.msg_namelen == h->msg_namelen &&
           memcmp(&tx.to[j], &tx.to[first], h->msg_namelen) == 0) {
        total += tx.iov[j].iov_len;
        if (tx.iov[j++].iov_len < seg) {
            break; /* a shorter one ends the run */
        }
    }
    return j;
}

/* Sends what was gathered, socket by socket: a run to one target in one GSO send, the others
 * together in sendmmsg(). */
static void tx_flush(void)
{
    unsigned first = 0;
    while (first < tx.n) {
        int fd = tx.fd[first];
        unsigned end = first + 1;
        unsigned pending = first; /* not sent yet, before i */
        unsigned i;
        while (end < tx.n && tx.fd[end] == fd) {
            end++;
        }
        for (i = first; i < end;) {
            unsigned j = same_target_run(i, end);
            if (j - i >= 2) {
                /* The arena holds them back to back, in order. */
                const uint8_t *start = tx.iov[i].iov_base;
                const uint8_t *stop =
                    (const uint8_t *)tx.iov[j - 1].iov_base + tx.iov[j - 1].iov_len;
                send_each(fd, pending, i);
                masque_udp_send_segments(
                    fd, (struct sockaddr *)&tx.to[i], tx.msgs[i].msg_hdr.msg_namelen,
                    tx.from[i] != NULL ? (const struct sockaddr *)&tx.from[i]->addr : NULL, start,
                    (size_t)(stop - start), tx.iov[i].iov_len, &tx_no_gso);
                pending = j;
            }
            i = j;
        }
        send_each(fd, pending, end);
        first = end;
    }
    tx.n = 0;
    tx.used = 0;
}

static void tx_add(int fd, const struct sockaddr_storage *to, socklen_t tolen, relay_source *from,
                   const uint8_t *data, size_t len)
{
    unsigned i;
    if (tx.n == SEND_BATCH || SEND_ARENA - tx.used < len) {
        tx_flush();
    }
    i = tx.n++;
    memcpy(tx.arena + tx.used, data, len);
    tx.iov[i].iov_base = tx.arena + tx.used;
    tx.iov[i].iov_len = len;
    tx.used += len;
    tx.to[i] = *to;
    tx.fd[i] = fd;
    memset(&tx.msgs[i], 0, sizeof(tx.msgs[i]));
    tx.msgs[i].msg_hdr.msg_name = &tx.to[i];
    tx.msgs[i].msg_hdr.msg_namelen = tolen;
    tx.msgs[i].msg_hdr.msg_iov = &tx.iov[i];
    tx.msgs[i].msg_hdr.msg_iovlen = 1;
    tx.from[i] = from;
    if (from != NULL) {
        tx.msgs[i].msg_hdr.msg_control = from->control; /* only read by sendmmsg() */
        tx.msgs[i].msg_hdr.msg_controllen = from->controllen;
    }
}

/* From the client, through the session's checks (policy included): out to the target, with
 * the next flush. */
static void relay_out(proxy_relay *relay, const masque_address *peer, const uint8_t *data,
                      size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (relay->fd >= 0 && len <= SEND_ARENA &&
        quota_pass(relay->client->proxy, relay->ident, len) &&
        masque_address_to_sockaddr_for(peer, relay->family, &ss, &sl) == 0) {
        relay_source *from = &relay->source[peer->version == MASQUE_IP_V6];
        tx_add(relay->fd, &ss, sl, from->controllen != 0 ? from : NULL, data, len);
    }
}

/* A client holds no Bind request (it connected, or its last one ended), or holds one again. */
static void bare_add(masque_quic_proxy *p, proxy_client *c)
{
    c->bare_since = masque_quic_now_ns();
    dlist_append(&p->bare, &c->bare);
    dlist_append(&p->by_source[c->bucket], &c->same_source);
}

static void bare_remove(masque_quic_proxy *p, proxy_client *c)
{
    dlist_remove(&p->bare, &c->bare);
    dlist_remove(&p->by_source[c->bucket], &c->same_source);
}

/* A client's source, and the bucket the proxy files it under: hashed with the proxy's secret
 * seed, so that nobody can choose sources that share a bucket with someone else's (sharing
 * one costs only a longer walk in free_slot(), which compares the sources themselves). */
static size_t source_of(const masque_quic_proxy *p, const struct sockaddr_storage *from,
                        socklen_t fl, source_key *key)
{
    masque_address a;
    uint64_t h = p->addr_seed;
    size_t i;
    memset(key, 0, sizeof(*key));
    if (masque_address_from_sockaddr((const struct sockaddr *)from, fl, &a) == 0) {
        key->len = a.version == MASQUE_IP_V4 ? 4u : 8u; /* an IPv4-mapped source is IPv4 */
        memcpy(key->bytes, a.bytes, key->len);
    }
    for (i = 0; i < key->len; i++) {
        h = (h ^ key->bytes[i]) * 0x100000001B3u;
    }
    h ^= (uint64_t)key->len;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 31;
    return (size_t)(h & (p->addr_slots / 2 - 1));
}

/* The request ended: its UDP socket goes with it (RFC 9298 §3.1); the rest waits for the end
 * of the step, when nothing is iterating over the relays. */
static void relay_end(proxy_relay *relay)
{
    if (relay->live) {
        relay->client->proxy->relays_ended++;
        dlist_remove(&relay->ident->relays, &relay->of_ident);
        quota_back(relay->client->proxy, relay->ident->use.identity);
        if (relay->ident->use.requests > 0) {
            relay->ident->use.requests--;
            if (relay->ident->use.requests == 0) {
                dlist_append(&relay->client->proxy->idle, &relay->ident->idle);
            }
        }
        if (--relay->client->binds == 0) {
            bare_add(relay->client->proxy, relay->client);
        }
    }
    if (relay->fd >= 0) {
        tx_flush(); /* what it relayed leaves before its socket goes (and its number is reused) */
        (void)close(relay->fd);
        relay->fd = -1;
    }
    relay->live = 0;
}

static void on_packet(masque_quic_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    (void)r;
    relay_out(app, peer, data, len);
}

static void on_close(masque_quic_request *r, void *app, uint64_t reason)
{
    (void)r;
    (void)reason;
    relay_end(app);
}

static int relay_socket(const masque_address *bind_to, masque_address *bound);
static size_t advertised_addresses(const proxy_client *c, const masque_address *bound,
                                   masque_address *out, unsigned *local);
static void log_refusal(masque_quic_proxy *p, const char *why, const struct sockaddr_storage *from,
                        socklen_t fl);

/* Asks epoll for `events` on fd (EPOLL_CTL_ADD or _MOD), reported with `w`: 0, or -1. A socket
 * leaves the set when it is closed. */
static int watch(const masque_quic_proxy *p, int op, int fd, uint32_t events, proxy_watch *w)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = w;
    return epoll_ctl(p->epfd, op, fd, &ev);
}

/* What goes to peers of the advertised address's IP version leaves from it: they sent to it,
 * and a multihomed host's kernel might pick another source, which they would not take. */
static void relay_pin_source(proxy_relay *relay, const masque_address *advertised)
{
    relay_source *src = &relay->source[advertised->version == MASQUE_IP_V6];
    socklen_t sl;
    if (masque_address_to_sockaddr_for(advertised, relay->family, &src->addr, &sl) == 0) {
        src->controllen = masque_udp_put_source((struct cmsghdr *)(void *)src->control,
                                                (struct sockaddr *)&src->addr);
    }
}

/*
 * Room for one more relay, zeroed: a new entry, or, when every entry is taken and some of
 * their requests ended in this step (a client that opens and resets requests faster than a
 * step), one of those, reused in place. Ended relays hold no request slot; their memory waits
 * for the end of the step only because this step's events may still name them, and such an
 * event then finds the new request's socket, which it reads as any other. NULL: no room.
 */
static proxy_relay *relay_take(masque_quic_proxy *p)
{
    proxy_relay *relay;
    size_t i;
    if (p->nrelays < p->cfg.max_requests) {
        relay = calloc(1, sizeof(*relay));
        if (relay != NULL) {
            p->relays[p->nrelays++] = relay;
        }
        return relay;
    }
    for (i = 0; i < p->nrelays && p->relays_ended > 0; i++) {
        relay = p->relays[i];
        if (!relay->live) {
            memset(relay, 0, sizeof(*relay));
            p->relays_ended--;
            return relay;
        }
    }
    return NULL;
}

/* A relay taken for a request that was then refused: it ends unused (freed with the step's). */
static void relay_drop(masque_quic_proxy *p, proxy_relay *relay)
{
    if (relay->fd >= 0) {
        (void)close(relay->fd);
        relay->fd = -1;
    }
    relay->live = 0;
    p->relays_ended++;
}

/* Something happened to a client (a packet, data to relay to it, its socket, its timer): it
 * is read from, ticked and written to at the end of the step. */
static void touch(masque_quic_proxy *p, proxy_client *c)
{
    if (c->dirty_at == SIZE_MAX) {
        c->dirty_at = p->ndirty;
        p->dirty[p->ndirty++] = c;
    }
}

/* When client c's connection last heard from its peer (probe.h, h2_probe.h), in ns. */
static uint64_t heard_ns(const proxy_client *c)
{
#ifdef MASQUE_PROXY_H2
    if (c->h2 != NULL) {
        return masque_h2_heard_ns(c->h2);
    }
#endif
    return masque_quic_heard_ns(c->conn);
}

/*
 * Client c's identity has used up its quota: each other connection that holds one of the
 * identity's requests is probed (probe.h, h2_probe.h: a PING), and one that does not answer is
 * closed, so that a client that crashed, hung or lost its network does not hold its requests
 * until the idle timeout while the same client, restarted, is refused (it asks again, and gets
 * them). A connection that answers keeps its requests: the quota holds for every live one.
 */
static void probe_holders(masque_quic_proxy *p, const proxy_client *c)
{
    uint64_t now = masque_quic_now_ns();
    const dlink *l;
    for (l = c->ident->relays.first; l != NULL; l = l->next) { /* as many as its quota */
        proxy_client *holder = LINK_OWNER(l, proxy_relay, of_ident)->client;
        uint64_t wait = 0;
        if (holder == c || holder->probe_until != 0 ||
            (holder->probed_at != 0 && now - holder->probed_at < PROBE_MIN_NS)) {
            /* The asking connection, or probed already: lately, so that a client of the
             * identity that asks again and again cannot have PINGs sent to another one faster
             * than that (two subscribers behind one NAT are one identity). */
            continue;
        }
#ifdef MASQUE_PROXY_H2
        if (holder->h2 != NULL) {
            masque_h2_probe(holder->h2); /* TCP: its retransmissions fit in the least wait */
        } else
#endif
        {
            wait = 3u * masque_quic_pto_ns(holder->conn);
            masque_quic_probe(holder->conn, 1);
        }
        holder->probed_at = now;
        p->probes++;
        holder->probe_until = now + (wait > PROBE_MIN_NS ? wait : PROBE_MIN_NS);
        touch(p, holder); /* its PING goes out at the end of this step */
    }
}

/* How client c's probe went, if one is going on: an answer ends it; none by its end closes the
 * connection, which ended without a word (a CONNECTION_CLOSE or GOAWAY, in case it did not). */
static void probe_check(masque_quic_proxy *p, proxy_client *c, uint64_t now)
{
    char why[128];
    if (c->probe_until == 0) {
        return;
    }
    if (heard_ns(c) > c->probed_at) {
        if (c->conn != NULL) {
            masque_quic_probe(c->conn, 0);
        }
        c->probe_until = 0;
        return;
    }
    if (now < c->probe_until) {
        return;
    }
    (void)snprintf(why, sizeof(why),
                   "no answer to a probe in %llu ms: its requests go back to its identity's "
                   "quota",
                   (unsigned long long)((c->probe_until - c->probed_at) / 1000000u));
    log_line(p, "client lost:", c, why);
    p->probes_lost++;
#ifdef MASQUE_PROXY_H2
    if (c->h2 != NULL) {
        (void)masque_h2_close(c->h2, MASQUE_H2_NO_ERROR);
        return;
    }
#endif
    (void)masque_quic_close(c->conn, MASQUE_H3_NO_ERROR);
}

/* A Bind request was accepted: only now are public addresses bound for it (-10 §7), so that a
 * handshake, or a request refused, costs no socket. The same for both transports. */
static proxy_relay *relay_new(proxy_client *c, masque_address *public_addresses, size_t *count,
                              int *status)
{
    masque_quic_proxy *p = c->proxy;
    masque_address bound;
    proxy_relay *relay;
    unsigned local = 0;
    size_t i;
    int taken = 1;
    *status = 503;
    if (share_used(p)) {
        taken = masque_quota_share_take(
            p->cfg.quota_share, c->ident->use.identity,
            p->cfg.quota_requests != 0 ? p->cfg.quota_requests : SIZE_MAX, masque_quic_now_ns());
    } else if (p->cfg.quota_requests != 0 && c->ident->use.requests >= p->cfg.quota_requests) {
        taken = 0;
    }
    if (taken < 0) {
        log_refusal(p, "the workers' quota share holds its most identities (--max-identities)",
                    &c->remote, c->remotelen);
        return NULL;
    }
    if (taken == 0) {
        c->ident->use.refused++;
        log_refusal(p, "this client's quota of Bind requests is used up (429)", &c->remote,
                    c->remotelen);
        probe_holders(p, c);
        *status = 429;
        return NULL;
    }
    if (p->nrelays - p->relays_ended >= p->cfg.max_requests) { /* the requests open now */
        log_refusal(p, "the proxy holds its most Bind requests (--max-requests)", &c->remote,
                    c->remotelen);
        quota_back(p, c->ident->use.identity);
        return NULL;
    }
    relay = relay_take(p);
    if (relay == NULL) {
        quota_back(p, c->ident->use.identity);
        return NULL;
    }
    relay->fd = relay_socket(&p->cfg.relay_bind, &bound);
    relay->watch.kind = WATCH_RELAY;
    relay->watch.owner = relay;
    if (relay->fd >= 0 && watch(p, EPOLL_CTL_ADD, relay->fd, EPOLLIN, &relay->watch) != 0) {
        (void)close(relay->fd);
        relay->fd = -1;
    }
    if (relay->fd < 0) {
        log_refusal(p, "no UDP socket for a relay (descriptors exhausted?)", &c->remote,
                    c->remotelen);
        relay_drop(p, relay);
        quota_back(p, c->ident->use.identity);
        return NULL;
    }
    *count = advertised_addresses(c, &bound, public_addresses, &local);
    if (*count == 0) {
        log_refusal(p,
                    "no address of this host on the route to the client to advertise (give "
                    "the public IP)",
                    &c->remote, c->remotelen);
        relay_drop(p, relay);
        quota_back(p, c->ident->use.identity);
        return NULL;
    }
    relay->live = 1;
    relay->client = c;
    relay->ident = c->ident;
    dlist_append(&c->ident->relays, &relay->of_ident);
    if (c->ident->use.requests++ == 0) {
        dlist_remove(&p->idle, &c->ident->idle); /* it holds a request now */
    }
    if (c->binds++ == 0) {
        bare_remove(p, c); /* it holds its slot from now on */
    }
    if (p->cfg.log != NULL) {
        /* One line per accepted request: who (never a token), from where, and the address it
         * was given (what its peers send to). */
        char from[MASQUE_ADDRESS_TEXT_MAX];
        char at[2 * MASQUE_ADDRESS_TEXT_MAX + 8] = "";
        char who[sizeof(c->who) + 32];
        char line[sizeof(who) + sizeof(from) + sizeof(at) + 64];
        address_text(&c->remote, c->remotelen, from);
        for (i = 0; i < *count; i++) {
            size_t used = strlen(at);
            if (i > 0) {
                (void)snprintf(at + used, sizeof(at) - used, " and ");
                used = strlen(at);
            }
            (void)masque_address_format(at + used, sizeof(at) - used, &public_addresses[i], 1);
        }
        if (c->identity >= 0) {
            (void)snprintf(who, sizeof(who), "token #%d", c->identity + 1);
        } else if (c->identity == -2) {
            (void)snprintf(who, sizeof(who), "client certificate \"%s\"", c->who);
        } else {
            (void)snprintf(who, sizeof(who), "anonymous");
        }
        (void)snprintf(line, sizeof(line), "accepted a Bind request from %s (%s) at %s", from, who,
                       at);
        p->cfg.log(p->cfg.log_user, line);
    }
    relay->family = p->cfg.relay_bind.version == MASQUE_IP_V6 ? AF_INET6 : AF_INET;
    for (i = 0; i < *count; i++) {
        if ((local & (1u << i)) != 0) {
            relay_pin_source(relay, &public_addresses[i]);
        }
    }
    return relay;
}

static int on_request(masque_quic_request *r, void *app, masque_address *public_addresses,
                      size_t *count)
{
    int status;
    proxy_relay *relay = relay_new(app, public_addresses, count, &status);
    if (relay == NULL) {
        return status;
    }
    relay->req = r;
    masque_quic_request_set_app(r, relay);
    return 0;
}

/* Where an identity's name starts its probe in the index. */
static size_t name_home(const masque_quic_proxy *p, const char *name)
{
    return (size_t)(masque_name_hash(p->addr_seed, name) & (p->id_slots - 1));
}

/* The index slot that holds `name`, or the empty one it would take. */
static size_t name_slot(const masque_quic_proxy *p, const char *name)
{
    size_t i = name_home(p, name);
    while (p->id_index[i] != NULL && strcmp(p->id_index[i]->use.identity, name) != 0) {
        i = (i + 1) & (p->id_slots - 1);
    }
    return i;
}

/* Takes an identity's name out of the index, by backward-shift deletion. */
static void name_delete(masque_quic_proxy *p, const char *name)
{
    size_t mask = p->id_slots - 1;
    size_t i = name_slot(p, name);
    size_t j = i;
    if (p->id_index[i] == NULL) {
        return;
    }
    p->id_index[i] = NULL;
    for (;;) {
        size_t home;
        j = (j + 1) & mask;
        if (p->id_index[j] == NULL) {
            return;
        }
        home = name_home(p, p->id_index[j]->use.identity);
        if (!masque_stays_after_hole(i, j, home)) {
            p->id_index[i] = p->id_index[j];
            p->id_index[j] = NULL;
            i = j;
        }
    }
}

/*
 * The accounting of an identity, made at its first request. When every accounting slot is
 * taken, the one of the identity that has gone longest without an open request is reused (its
 * counters go to the log first): slots are never used up for good by the identities a proxy
 * sees over its life, which once made every newcomer share the last slot, its quota of
 * requests and its token buckets with all the others. Only when every identity holds an open
 * request do newcomers share the last slot.
 */
static proxy_identity *identity_of(masque_quic_proxy *p, const char *name)
{
    size_t slot = name_slot(p, name);
    proxy_identity *id;
    if (p->id_index[slot] != NULL) {
        return p->id_index[slot];
    }
    if (p->nidentities < p->cfg.max_identities) {
        id = &p->identities[p->nidentities++];
    } else {
        if (p->idle.first == NULL) {
            return &p->identities[p->nidentities - 1];
        }
        id = LINK_OWNER(p->idle.first, proxy_identity, idle);
        dlist_remove(&p->idle, &id->idle);
        name_delete(p, id->use.identity);
        slot = name_slot(p, name); /* the deletion may have moved entries */
        if (p->cfg.log != NULL) {
            char line[400];
            (void)snprintf(line, sizeof(line),
                           "usage of %s (its accounting goes to a newcomer): %llu datagrams, %llu "
                           "bytes, %llu dropped by its quota, %llu requests refused by it",
                           id->use.identity, (unsigned long long)id->use.datagrams,
                           (unsigned long long)id->use.bytes, (unsigned long long)id->use.dropped,
                           (unsigned long long)id->use.refused);
            log_limited(p, line);
        }
    }
    memset(id, 0, sizeof(*id));
    (void)snprintf(id->use.identity, sizeof(id->use.identity), "%s", name);
    id->refilled = masque_quic_now_ns();
    if (p->cfg.quota_share == NULL) {
        id->datagram_tokens = (double)p->cfg.quota_datagrams_per_s; /* a full bucket to start */
        id->byte_tokens = (double)p->cfg.quota_bytes_per_s;
    } /* else none until leased from the shared buckets */
    p->id_index[slot] = id;
    dlist_append(&p->idle, &id->idle); /* its first request is counted next */
    return id;
}

/* Names the identity a request was authorized as, for accounting and the log. */
static void account(proxy_client *c)
{
    char name[160];
    if (c->identity >= 0) {
        (void)snprintf(name, sizeof(name), "token #%d", c->identity + 1);
    } else if (c->identity == -2) {
        (void)snprintf(name, sizeof(name), "certificate %s", c->who);
    } else {
        /* Its source: an IPv6 subscriber holds a /64, one identity and not 2^64 of them. */
        masque_address a;
        char ip[MASQUE_ADDRESS_TEXT_MAX] = "?";
        memset(&a, 0, sizeof(a));
        if (c->source.len != 0) {
            a.version = c->source.len == 4u ? MASQUE_IP_V4 : MASQUE_IP_V6;
            memcpy(a.bytes, c->source.bytes, c->source.len);
            (void)masque_address_format(ip, sizeof(ip), &a, 0);
        }
        (void)snprintf(name, sizeof(name), "anonymous %s%s", ip, c->source.len == 8u ? "/64" : "");
    }
    c->ident = identity_of(c->proxy, name);
}

/* Whether a client connects from this host (loopback: 127/8, ::1, ::ffff:127/104). */
static int from_loopback(const proxy_client *c)
{
    masque_address a;
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (masque_address_from_sockaddr((const struct sockaddr *)&c->remote, c->remotelen, &a) != 0) {
        return 0;
    }
    return (a.version == MASQUE_IP_V4 && a.bytes[0] == 127) ||
           (a.version == MASQUE_IP_V6 && memcmp(a.bytes, v6_loopback, 16) == 0);
}

/*
 * May this client bind? With a token file, only with one of its bearer tokens; without one,
 * only from this host, unless anonymous clients are allowed: an open relay is a choice the
 * operator makes, never a default.
 */
static int authorize(proxy_client *c, masque_str credentials)
{
    masque_quic_proxy *p = c->proxy;
    int token;
    int verified = 0;
    if (p->cfg.conn.client_ca_file != NULL) { /* mutual TLS: a verified client certificate */
#ifdef MASQUE_PROXY_H2
        verified = c->h2 != NULL ? masque_h2_peer_identity(c->h2, c->who, sizeof(c->who))
                                 : masque_quic_peer_identity(c->conn, c->who, sizeof(c->who));
#else
        verified = masque_quic_peer_identity(c->conn, c->who, sizeof(c->who));
#endif
    }
    if (verified) {
        c->identity = -2;
        return 0;
    }
    if (p->cfg.token_file == NULL && p->cfg.conn.client_ca_file != NULL) {
        log_refusal(p, "no verified client certificate (407)", &c->remote, c->remotelen);
        return -1;
    }
    if (p->cfg.token_file == NULL) {
        if (p->cfg.allow_anonymous || from_loopback(c)) {
            c->identity = -1;
            return 0;
        }
        log_refusal(p, "anonymous and not from this host (407: --token-file, or --allow-anonymous)",
                    &c->remote, c->remotelen);
        return -1;
    }
    token = masque_bearer_token_match(credentials, p->tokens, p->ntokens);
    if (token < 0) {
        log_refusal(p, "no valid bearer token (407)", &c->remote, c->remotelen);
        return -1;
    }
    c->identity = token;
    return 0;
}

static int on_authorize(masque_quic_request *r, void *app, masque_str credentials)
{
    (void)r;
    if (authorize(app, credentials) != 0) { /* app: still the client's, not yet a relay's */
        return -1;
    }
    account(app);
    return 0;
}

static const masque_quic_hooks hooks = {NULL,       on_packet, on_close,    on_log,
                                        on_request, NULL,      on_authorize};

#ifdef MASQUE_PROXY_H2
/* The same over HTTP/2. */
static void h2_on_log(masque_h2_conn *conn, void *app, const char *line)
{
    const proxy_client *c = app;
    (void)conn;
    log_client(c->proxy, "client", &c->remote, c->remotelen, line);
}

static void h2_on_packet(masque_h2_request *r, void *app, const masque_address *peer,
                         const uint8_t *data, size_t len)
{
    (void)r;
    relay_out(app, peer, data, len);
}

static void h2_on_close(masque_h2_request *r, void *app, uint32_t reason)
{
    (void)r;
    (void)reason;
    relay_end(app);
}

static int h2_on_request(masque_h2_request *r, void *app, masque_address *public_addresses,
                         size_t *count)
{
    int status;
    proxy_relay *relay = relay_new(app, public_addresses, count, &status);
    if (relay == NULL) {
        return status;
    }
    relay->h2req = r;
    masque_h2_request_set_app(r, relay);
    return 0;
}

static int h2_on_authorize(masque_h2_request *r, void *app, masque_str credentials)
{
    (void)r;
    if (authorize(app, credentials) != 0) {
        return -1;
    }
    account(app);
    return 0;
}

static const masque_h2_hooks h2_hooks = {NULL,          h2_on_packet, h2_on_close,    h2_on_log,
                                         h2_on_request, NULL,         h2_on_authorize};
#endif

static masque_adapter *relay_adapter(const proxy_relay *relay)
{
    if (!relay->live) {
        return NULL;
    }
#ifdef MASQUE_PROXY_H2
    if (relay->h2req != NULL) {
        return masque_h2_request_adapter(relay->h2req);
    }
#endif
    return masque_quic_request_adapter(relay->req);
}

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
    /* RFC 9298 §3.1 and §6.2: don't fragment, Not-ECT. Bound to ::, IPv4 peers too (the
     * advertised address may be IPv4: advertised_address()). */
    if (masque_posix_udp_proxy_options(fd, ss.ss_family) != 0 ||
        masque_posix_dual_stack(fd, ss.ss_family) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        masque_address_from_sockaddr((struct sockaddr *)&ss, sl, bound) != 0) {
        (void)close(fd);
        return -1;
    }
    (void)masque_udp_enable_gro(fd); /* a peer's GSO train in one receive (relay_in) */
    return fd;
}

/* Whether the socket address `ss` is one of this host's that a relay bound at `bound` receives
 * what is sent to (the same family, or IPv4 on a dual-stack IPv6 socket): 1 and *own. */
static int relay_receives_at(const masque_address *bound, const struct sockaddr_storage *ss,
                             socklen_t len, masque_address *own)
{
    return len != 0 && masque_address_from_sockaddr((const struct sockaddr *)ss, len, own) == 0 &&
           !masque_address_is_unspecified(own) &&
           (own->version == bound->version || bound->version == MASQUE_IP_V6);
}

/* The public IP configured for this IP version (behind NAT), or NULL. */
static const masque_address *public_ip_of(const masque_quic_proxy *p, uint8_t version)
{
    size_t i;
    for (i = 0; i < p->cfg.public_ip_count; i++) {
        if (p->cfg.public_ips[i].version == version) {
            return &p->cfg.public_ips[i];
        }
    }
    return NULL;
}

/* The address of this host's that a UDP socket connected to `to` sends from: the kernel's
 * route lookup, nothing is sent. 0 and *own when a relay bound at `bound` receives there. */
static int route_source(const masque_address *bound, const struct sockaddr *to, socklen_t tolen,
                        masque_address *own)
{
    struct sockaddr_storage route;
    socklen_t rl = sizeof(route);
    int fd = socket(to->sa_family, SOCK_DGRAM, 0);
    int ok = fd >= 0 && connect(fd, to, tolen) == 0 &&
             getsockname(fd, (struct sockaddr *)&route, &rl) == 0 &&
             relay_receives_at(bound, &route, rl, own);
    if (fd >= 0) {
        (void)close(fd);
    }
    return ok ? 0 : -1;
}

/*
 * The address a wildcard relay is advertised as for the IP version the client used: the
 * address the client reached the proxy at (it has proved it reachable), or failing that this
 * host's address on the route to the client (an IPv4-mapped one as IPv4: a dual-stack relay
 * takes it). 0, or -1 when nothing says.
 */
static int reached_address(const proxy_client *c, const masque_address *bound, masque_address *own)
{
    if (relay_receives_at(bound, &c->local, c->locallen, own)) {
        return 0;
    }
    return route_source(bound, (const struct sockaddr *)&c->remote, c->remotelen, own);
}

/*
 * This host's global address of an IP version the client did not use, for a relay bound to
 * :: (dual-stack): the source of its route to a public address (Google's public DNS, only as
 * a destination the default route covers), unless that is a special-purpose address, which
 * peers on the Internet could not reach (RFC 6890: private, ULA, link-local, ...).
 */
static int global_address(const masque_address *bound, uint8_t version, masque_address *own)
{
    static const uint8_t v4[4] = {8, 8, 8, 8};
    static const uint8_t v6[16] = {0x20, 0x01, 0x48, 0x60, 0x48, 0x60, 0,    0,
                                   0,    0,    0,    0,    0,    0,    0x88, 0x88};
    masque_address to;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (version == MASQUE_IP_V4) {
        masque_address_set_v4(&to, v4, 53);
    } else {
        masque_address_set_v6(&to, v6, 53);
    }
    if (masque_address_to_sockaddr(&to, &ss, &sl) != 0 ||
        route_source(bound, (const struct sockaddr *)&ss, sl, own) != 0 ||
        own->version != version || masque_address_is_special(own)) {
        return -1;
    }
    return 0;
}

/*
 * What a relay bound at `bound` is advertised as in Proxy-Public-Address (-10 §7: addresses
 * peers can send to, never 0.0.0.0 or ::), one tuple per IP version it serves, the client's
 * first: a configured public IP (behind NAT); else a specific bound address as it is; else,
 * for a wildcard bind (--listen 0.0.0.0 or [::]), reached_address() for the client's version
 * and, over ::, global_address() for the other. Bit i of *local says that tuple i is one of
 * this host's that the socket is not bound to (what goes to its peers must leave from it).
 * Returns how many (0: nothing says, the request is refused).
 */
static size_t advertised_addresses(const proxy_client *c, const masque_address *bound,
                                   masque_address *out, unsigned *local)
{
    const masque_quic_proxy *p = c->proxy;
    int wildcard = masque_address_is_unspecified(bound);
    masque_address remote;
    uint8_t versions[2];
    size_t nversions = 0;
    size_t n = 0;
    size_t i;
    *local = 0;
    if (masque_address_from_sockaddr((const struct sockaddr *)&c->remote, c->remotelen, &remote) !=
        0) {
        remote.version = bound->version;
    }
    if (wildcard && bound->version == MASQUE_IP_V6) {
        /* dual-stack (relay_socket()): both versions, the client's first */
        versions[nversions++] = remote.version;
        versions[nversions++] = remote.version == MASQUE_IP_V4 ? MASQUE_IP_V6 : MASQUE_IP_V4;
    } else {
        versions[nversions++] = bound->version;
    }
    for (i = 0; i < nversions; i++) {
        const masque_address *configured = public_ip_of(p, versions[i]);
        masque_address *a = &out[n];
        if (configured != NULL) {
            *a = *configured;
        } else if (!wildcard) {
            *a = *bound;
        } else if (versions[i] == remote.version ? reached_address(c, bound, a) != 0
                                                 : global_address(bound, versions[i], a) != 0) {
            continue; /* nothing says an address of this version */
        } else {
            *local |= 1u << n;
        }
        a->port = bound->port;
        n++;
    }
    return n;
}

/* Says on the proxy's log which credentials could not be loaded: masque_quic_credentials_new()
 * gives no reason, but an operator needs to know which file to look at. */
static void credentials_refused(const masque_quic_proxy *p)
{
    const masque_quic_config *c = &p->cfg.conn;
    char line[1024];
    if (p->cfg.log == NULL) {
        return;
    }
    if (c->cert_file == NULL) {
        (void)snprintf(line, sizeof(line), "no self-signed certificate could be made%s%s%s",
                       c->client_ca_file != NULL ? ", or the client CA " : "",
                       c->client_ca_file != NULL ? c->client_ca_file : "",
                       c->client_ca_file != NULL ? " holds none" : "");
    } else {
        (void)snprintf(line, sizeof(line),
                       "the certificate %s with the key %s%s%s could not be loaded (a file "
                       "missing, unreadable or not PEM, %sa key of another certificate%s)",
                       c->cert_file, c->key_file != NULL ? c->key_file : "(none)",
                       c->client_ca_file != NULL ? " and the client CA " : "",
                       c->client_ca_file != NULL ? c->client_ca_file : "",
                       c->client_ca_file != NULL ? "" : "or ",
                       c->client_ca_file != NULL ? ", or a client CA file with no CA" : "");
    }
    p->cfg.log(p->cfg.log_user, line);
}

/* Says why the token file was refused, on the proxy's log (never a token). */
static int token_file_refused(const masque_quic_proxy *p, const char *why)
{
    if (p->cfg.log != NULL) {
        char line[512];
        (void)snprintf(line, sizeof(line), "token file %s refused: %s", p->cfg.token_file, why);
        p->cfg.log(p->cfg.log_user, line);
    }
    return -1;
}

/* Reads the token file: one token per line, '#' comments and blank lines skipped, spaces and
 * tabs around a token dropped (an editor's leftovers). The whole file or nothing: the old
 * tokens stay when it cannot be read, holds none, or holds a line or a number of tokens the
 * proxy cannot keep (never a part of it), or a line no client could present (not a token68:
 * every client would be refused 407 without a word why). */
static int load_tokens(masque_quic_proxy *p)
{
    char line[TOKEN_MAX + 2];
    char(*fresh)[TOKEN_MAX + 1];
    size_t n = 0;
    FILE *f;
    if (p->cfg.token_file == NULL) {
        return 0;
    }
    f = fopen(p->cfg.token_file, "r");
    if (f == NULL) {
        return token_file_refused(p, strerror(errno)); /* e.g. "No such file or directory" */
    }
    fresh = calloc(MAX_TOKENS, sizeof(*fresh)); /* all or nothing: the old ones stay meanwhile */
    if (fresh == NULL) {
        (void)fclose(f);
        return token_file_refused(p, "out of memory");
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strcspn(line, "\r\n");
        const char *why = NULL;
        masque_str token;
        if (line[len] == '\0' && len == sizeof(line) - 1) {
            why = "a line longer than a token (256 bytes)";
        }
        line[len] = '\0';
        token.ptr = line + strspn(line, " \t");
        token.len = strlen(token.ptr);
        while (token.len > 0 &&
               (token.ptr[token.len - 1] == ' ' || token.ptr[token.len - 1] == '\t')) {
            token.len--;
        }
        if (why == NULL && (token.len == 0 || token.ptr[0] == '#')) {
            continue;
        }
        if (why == NULL && !masque_bearer_token_valid(token)) {
            why = "a line that is not a bearer token (RFC 6750 §2.1: letters, digits, -._~+/ "
                  "and = at the end)";
        }
        if (why == NULL && n == MAX_TOKENS) {
            why = "more than 64 tokens";
        }
        if (why != NULL) {
            (void)fclose(f);
            free(fresh);
            return token_file_refused(p, why);
        }
        memcpy(fresh[n], token.ptr, token.len);
        fresh[n][token.len] = '\0';
        n++;
    }
    (void)fclose(f);
    if (n == 0) {
        free(fresh);
        return token_file_refused(p, "no token in it");
    }
    memcpy(p->token_text, fresh, n * sizeof(*fresh));
    free(fresh);
    for (p->ntokens = 0; p->ntokens < n; p->ntokens++) {
        p->tokens[p->ntokens].ptr = p->token_text[p->ntokens];
        p->tokens[p->ntokens].len = strlen(p->token_text[p->ntokens]);
    }
    return 0;
}

/* At most one public IP per IP version, each a real address (-10 §7). */
static int public_ips_valid(const masque_quic_proxy_config *cfg)
{
    size_t i;
    if (cfg->public_ip_count > 2) {
        return 0;
    }
    for (i = 0; i < cfg->public_ip_count; i++) {
        const masque_address *a = &cfg->public_ips[i];
        if (masque_address_ip_len(a->version) == 0 || masque_address_is_unspecified(a) ||
            (i == 1 && a->version == cfg->public_ips[0].version)) {
            return 0;
        }
    }
    return 1;
}

masque_quic_proxy *masque_quic_proxy_new(const masque_quic_proxy_config *cfg, int listen_fd)
{
    char why[512];
    size_t slots;
    masque_quic_proxy *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->epfd = -1;
    p->cfg = *cfg;
    p->cfg.conn.is_server = 1;
    p->operator_policy = cfg->conn.policy;
    if (cfg->conn.policy != NULL) {
        p->policy = *cfg->conn.policy;
    }
    p->policy.callback = own_address_verdict;
    p->policy.callback_user = p;
    p->cfg.conn.policy = &p->policy;
    if (refresh_own_addresses(p) != 0) {
        free(p->own);
        free(p);
        return NULL; /* without them the proxy host's services would be open to clients */
    }
    if (p->cfg.max_clients == 0) {
        p->cfg.max_clients = MASQUE_QUIC_PROXY_CLIENTS_DEFAULT;
    }
    if (p->cfg.max_requests == 0) {
        p->cfg.max_requests = MASQUE_QUIC_PROXY_REQUESTS_PER_CLIENT * p->cfg.max_clients;
    }
    if (p->cfg.stateless_per_s == 0) {
        p->cfg.stateless_per_s = STATELESS_PER_SEC;
    }
    if (p->cfg.max_identities == 0) {
        p->cfg.max_identities = MAX_IDENTITIES;
    }
    if (p->cfg.max_clients > MAX_CLIENTS_LIMIT || p->cfg.max_requests > 4 * MAX_CLIENTS_LIMIT ||
        p->cfg.max_identities > IDENTITIES_LIMIT || p->cfg.stateless_per_s > STATELESS_LIMIT ||
        !masque_quic_workers_valid(&p->cfg.conn) || !public_ips_valid(&p->cfg) ||
        !masque_exchange_template_usable(p->cfg.conn.uri_template) ||
        (unsigned)p->cfg.conn.ack > MASQUE_QUIC_ACK_DELAYED) {
        free(p->own);
        free(p);
        /* Beyond those limits the tables' sizes would wrap (and no host has that); the public
         * addresses and the way of acknowledging must be ones the proxy can use. */
        return NULL;
    }
    if (masque_tls_priority_check(p->cfg.conn.priority, why, sizeof(why)) != 0) {
        if (p->cfg.log != NULL) {
            p->cfg.log(p->cfg.log_user, why); /* once, not a failed handshake per client */
        }
        free(p->own);
        free(p);
        return NULL;
    }
    p->fd = listen_fd;
    if (listen_fd >= 0) {
        (void)masque_udp_enable_gro(listen_fd); /* clients' GSO trains in one receive */
    }
    p->locallen = sizeof(p->local);
    if (!cfg->no_address_validation) {
        if (getrandom(p->retry_secret, sizeof(p->retry_secret), 0) !=
            (ssize_t)sizeof(p->retry_secret)) {
            free(p->own);
            free(p);
            return NULL;
        }
        p->cfg.conn.retry_secret = p->retry_secret;
    }
    /* A host's own secret, or one a restart with the same key derives again (closing.h). */
    if (cfg->conn.reset_secret != NULL) {
        memcpy(p->reset_secret, cfg->conn.reset_secret, sizeof(p->reset_secret));
    } else if (masque_quic_reset_secret_derive(cfg->conn.key_file, p->reset_secret) != 0) {
        free(p->own);
        free(p);
        return NULL; /* the system has no random bytes to give */
    }
    p->cfg.conn.reset_secret = p->reset_secret;
    p->clients = calloc(p->cfg.max_clients, sizeof(proxy_client *));
    p->timers = calloc(p->cfg.max_clients, sizeof(proxy_client *));
    p->dirty = calloc(p->cfg.max_clients, sizeof(proxy_client *));
    p->relays = calloc(p->cfg.max_requests, sizeof(proxy_relay *));
    p->identities = calloc(p->cfg.max_identities, sizeof(proxy_identity));
    for (p->id_slots = 2; p->id_slots < 2 * p->cfg.max_identities;) {
        p->id_slots <<= 1;
    }
    p->id_index = calloc(p->id_slots, sizeof(proxy_identity *));
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    for (p->addr_slots = 2; p->addr_slots < 2 * p->cfg.max_clients;) {
        p->addr_slots <<= 1;
    }
    p->by_addr = calloc(p->addr_slots, sizeof(proxy_client *));
    p->by_source = calloc(p->addr_slots / 2, sizeof(dlist));
    for (slots = 2; slots < 2 * CIDS_INDEXED * p->cfg.max_clients;) {
        slots <<= 1;
    }
    p->by_cid.slots = calloc(slots, sizeof(id_slot));
    p->by_cid.mask = slots - 1;
    p->closing_ids.slots = p->closing_slots;
    p->closing_ids.mask = CLOSING_SLOTS - 1u;
    if (getrandom(&p->addr_seed, sizeof(p->addr_seed), 0) != (ssize_t)sizeof(p->addr_seed)) {
        p->addr_seed = masque_quic_now_ns(); /* only a spread, not a secret */
    }
    p->tcp_fd = -1;
    p->listen_watch.kind = WATCH_LISTEN;
    p->tcp_watch.kind = WATCH_TCP;
#ifdef MASQUE_PROXY_H2
    if (cfg->serve_h2) {
        p->tcp_fd = cfg->h2_listen_fd;
    }
#endif
    /* The certificate is read once, not per connection (and again only on a reload). */
    p->credentials = masque_quic_credentials_new(p->cfg.conn.cert_file, p->cfg.conn.key_file,
                                                 p->cfg.conn.client_ca_file);
    if (p->credentials == NULL) {
        credentials_refused(p);
    }
    if (p->clients == NULL || p->timers == NULL || p->dirty == NULL || p->relays == NULL ||
        p->epfd < 0 || p->credentials == NULL || p->identities == NULL || p->id_index == NULL ||
        p->by_addr == NULL || p->by_source == NULL || p->by_cid.slots == NULL ||
        load_tokens(p) != 0 ||
#ifndef MASQUE_PROXY_H2
        cfg->serve_h2 || /* built without the HTTP/2 binding */
#endif
        (listen_fd >= 0 &&
         (getsockname(listen_fd, (struct sockaddr *)&p->local, &p->locallen) != 0 ||
          watch(p, EPOLL_CTL_ADD, listen_fd, EPOLLIN, &p->listen_watch) != 0)) ||
        (p->tcp_fd >= 0 && watch(p, EPOLL_CTL_ADD, p->tcp_fd, EPOLLIN, &p->tcp_watch) != 0)) {
        masque_quic_proxy_free(p);
        return NULL;
    }
    if (listen_fd >= 0) {
        masque_address bound;
        if (masque_address_from_sockaddr((struct sockaddr *)&p->local, p->locallen, &bound) == 0) {
            p->port = bound.port;
            p->wildcard = masque_address_is_unspecified(&bound) &&
                          masque_udp_enable_destination(listen_fd, p->local.ss_family) == 0;
        }
    }
    return p;
}

int masque_quic_proxy_reload(masque_quic_proxy *p)
{
    masque_quic_credentials *fresh = masque_quic_credentials_new(
        p->cfg.conn.cert_file, p->cfg.conn.key_file, p->cfg.conn.client_ca_file);
    int tokens = load_tokens(p); /* revoked tokens stop working at once */
    if (fresh == NULL) {
        credentials_refused(p);
        return -1; /* keep serving with what was loaded */
    }
    masque_quic_credentials_release(p->credentials); /* open connections keep theirs */
    p->credentials = fresh;
    return tokens;
}

/* The home slot of an address: its bytes mixed 8 at a time with the seed. */
static size_t addr_home(const masque_quic_proxy *p, const struct sockaddr_storage *a, socklen_t l)
{
    const uint8_t *b = (const uint8_t *)a;
    uint64_t h = p->addr_seed ^ (uint64_t)l;
    size_t i;
    for (i = 0; i < (size_t)l; i += 8) {
        uint64_t w = 0;
        memcpy(&w, b + i, (size_t)l - i < 8 ? (size_t)l - i : 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15u;
        h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return (size_t)(h & (p->addr_slots - 1));
}

static int same_addr(const proxy_client *c, const struct sockaddr_storage *a, socklen_t l)
{
    return c->remotelen == l && memcmp(&c->remote, a, (size_t)l) == 0;
}

/* Files an HTTP/3 client under its current address. */
static void addr_put(masque_quic_proxy *p, proxy_client *c)
{
    size_t i = addr_home(p, &c->remote, c->remotelen);
    while (p->by_addr[i] != NULL) {
        i = (i + 1) & (p->addr_slots - 1);
    }
    p->by_addr[i] = c;
}

/* Takes it out again (before its address changes), by backward-shift deletion. */
static void addr_del(masque_quic_proxy *p, const proxy_client *c)
{
    size_t mask = p->addr_slots - 1;
    size_t i = addr_home(p, &c->remote, c->remotelen);
    size_t j;
    while (p->by_addr[i] != c) {
        if (p->by_addr[i] == NULL) {
            return; /* not filed */
        }
        i = (i + 1) & mask;
    }
    p->by_addr[i] = NULL;
    for (j = (i + 1) & mask; p->by_addr[j] != NULL; j = (j + 1) & mask) {
        const proxy_client *o = p->by_addr[j];
        if (!masque_stays_after_hole(i, j, addr_home(p, &o->remote, o->remotelen))) {
            p->by_addr[i] = p->by_addr[j];
            p->by_addr[j] = NULL;
            i = j;
        }
    }
}

/*
 * The client filed under address `from` that packet `pkt` is for. Several may be filed there:
 * one that is gone without a word (kept until its idle timeout) and one that took its address
 * over (its program started again on the same port, or a NAT gave the gone host's mapping to
 * another). An Initial that can start a connection goes to the client it started, or else to
 * one still in its handshake, never to one whose handshake is over: that client sends no
 * Initial any more (RFC 9001 §4.9.1), so the packet is a new client's (NULL). Anything else
 * goes to the first.
 */
static proxy_client *find_client(const masque_quic_proxy *p, const struct sockaddr_storage *from,
                                 socklen_t fl, const uint8_t *pkt, size_t len)
{
    proxy_client *handshaking = NULL;
    int initial = -1; /* not asked yet */
    size_t i;
    for (i = addr_home(p, from, fl); p->by_addr[i] != NULL; i = (i + 1) & (p->addr_slots - 1)) {
        proxy_client *c = p->by_addr[i];
        if (!same_addr(c, from, fl)) {
            continue;
        }
        if (initial < 0) {
            initial = masque_quic_starts_connection(pkt, len);
        }
        if (!initial || masque_quic_started_by(c->conn, pkt, len)) {
            return c;
        }
        if (handshaking == NULL && !masque_quic_handshake_completed(c->conn)) {
            handshaking = c;
        }
    }
    return handshaking;
}

/* ---- indexes of connection IDs this end issued (quic.h) ---- */

/* The home slot of connection ID `id`: this end issued it, its first bytes are random. A
 * packet's ID is looked up there too; whatever its bytes, the probes end at a free slot within
 * the clusters of this end's IDs. */
static size_t id_home(const id_index *x, const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof(h));
    return (size_t)(h & x->mask);
}

/* What holds connection ID `id`, or NULL. */
static void *id_find(const id_index *x, const uint8_t *id)
{
    size_t i;
    for (i = id_home(x, id); x->slots[i].owner != NULL; i = (i + 1) & x->mask) {
        if (memcmp(x->slots[i].id, id, MASQUE_QUIC_CONNECTION_ID_LEN) == 0) {
            return x->slots[i].owner;
        }
    }
    return NULL;
}

/* Files connection ID `id` of `owner`; -1 when the index is half full. */
static int id_put(id_index *x, void *owner, const uint8_t *id)
{
    size_t i = id_home(x, id);
    if (x->count + 1 > (x->mask + 1) / 2) {
        return -1;
    }
    while (x->slots[i].owner != NULL) {
        i = (i + 1) & x->mask;
    }
    x->slots[i].owner = owner;
    memcpy(x->slots[i].id, id, MASQUE_QUIC_CONNECTION_ID_LEN);
    x->count++;
    return 0;
}

/* Removes connection ID `id` from the index (nothing when it is not there). */
static void id_del(id_index *x, const uint8_t *id)
{
    size_t i = id_home(x, id);
    size_t j;
    while (x->slots[i].owner != NULL &&
           memcmp(x->slots[i].id, id, MASQUE_QUIC_CONNECTION_ID_LEN) != 0) {
        i = (i + 1) & x->mask;
    }
    if (x->slots[i].owner == NULL) {
        return; /* not filed */
    }
    x->slots[i].owner = NULL;
    x->count--;
    for (j = (i + 1) & x->mask; x->slots[j].owner != NULL; j = (j + 1) & x->mask) {
        if (!masque_stays_after_hole(i, j, id_home(x, x->slots[j].id))) {
            x->slots[i] = x->slots[j];
            x->slots[j].owner = NULL;
            i = j;
        }
    }
}

/* From now on, an ID the index lacks may still be a client's: asked of every client. */
static void cid_index_partial(masque_quic_proxy *p, const proxy_client *c)
{
    if (!p->cid_index_partial) {
        p->cid_index_partial = 1;
        log_line(p, "connection IDs: the index is full, at the one of", c,
                 "from now on clients that move are looked for one by one");
    }
}

/* Files connection ID `id` of client c at k of its own list; -1 when the index is half full. */
static int cid_put(masque_quic_proxy *p, proxy_client *c, unsigned k, const uint8_t *id)
{
    if (id_put(&p->by_cid, c, id) != 0) {
        return -1;
    }
    memcpy(c->cids[k], id, MASQUE_QUIC_CONNECTION_ID_LEN);
    c->cids_used |= (uint32_t)1 << k;
    return 0;
}

/* ngtcp2 issued connection ID `cid` to client `arg`'s connection (`issued` 1), or the client
 * no longer uses it (0). One that does not fit (the client's CIDS_PER_CLIENT, or the index's
 * load of a half) is not indexed, and the index is partial from then on. */
static void on_cid(void *arg, const uint8_t *cid, int issued)
{
    proxy_client *c = arg;
    masque_quic_proxy *p = c->proxy;
    unsigned k;
    for (k = 0; k < CIDS_PER_CLIENT; k++) {
        uint32_t bit = (uint32_t)1 << k;
        if (issued && (c->cids_used & bit) == 0) {
            if (cid_put(p, c, k, cid) != 0) {
                break;
            }
            return;
        }
        if (!issued && (c->cids_used & bit) != 0 &&
            memcmp(c->cids[k], cid, MASQUE_QUIC_CONNECTION_ID_LEN) == 0) {
            id_del(&p->by_cid, cid);
            c->cids_used &= ~bit;
            return;
        }
    }
    if (issued) {
        cid_index_partial(p, c);
    }
}

/* Takes every connection ID of client c out of the index, and stops its reports. */
static void cids_drop(masque_quic_proxy *p, proxy_client *c)
{
    unsigned k;
    for (k = 0; k < CIDS_PER_CLIENT; k++) {
        if ((c->cids_used & ((uint32_t)1 << k)) != 0) {
            id_del(&p->by_cid, c->cids[k]);
        }
    }
    c->cids_used = 0;
    (void)masque_quic_watch_connection_ids(c->conn, NULL, NULL);
}

/*
 * The client a packet names by its Destination Connection ID, one this end issued (RFC 9000
 * §5.2), wherever the packet comes from: a client whose address changed (§9), or one that took
 * over an address where the proxy still files a client that is gone (a NAT that gave its
 * mapping to another host). Long headers too, from a client's second flight on: only the
 * Initials that begin a connection name an ID of the client's own choosing (or a Retry's).
 */
static proxy_client *find_client_by_cid(const masque_quic_proxy *p, const uint8_t *pkt, size_t len)
{
    const uint8_t *dcid;
    size_t dcidlen;
    if (len >= 1 + MASQUE_QUIC_CONNECTION_ID_LEN && (pkt[0] & 0x80) == 0) {
        return id_find(&p->by_cid,
                       pkt + 1); /* a short header: the ID has the length this end gave */
    }
    if (len == 0 || (pkt[0] & 0x80) == 0 ||
        masque_quic_packet_dcid(pkt, len, &dcid, &dcidlen) != 0 ||
        dcidlen != MASQUE_QUIC_CONNECTION_ID_LEN) {
        return NULL;
    }
    return id_find(&p->by_cid, dcid);
}

/* ---- the closing records' connection IDs ---- */

/* Files (`file` 1) or takes out (0) the connection IDs of record k, in an index of their own
 * (closing_ids: room for every ID of every record). Only IDs of the length this end issues
 * are filed: a packet's is read at that length (find_client_by_cid()). */
static void closing_file_record(masque_quic_proxy *p, size_t k, int file)
{
    masque_quic_closing *r = &p->closing[k];
    size_t i;
    for (i = 0; i < r->ncid; i++) {
        if (r->cidlen[i] != MASQUE_QUIC_CONNECTION_ID_LEN) {
            continue;
        }
        if (file) {
            (void)id_put(&p->closing_ids, r, r->cid[i]);
        } else {
            id_del(&p->closing_ids, r->cid[i]);
        }
    }
}

/* Keeps what closed connection `conn` needs for its closing period (closing.h) in the next
 * record, in place of the oldest, and files its IDs. */
static void closing_keep(masque_quic_proxy *p, const masque_quic_conn *conn)
{
    masque_quic_closing kept;
    if (masque_quic_closing_keep(conn, &kept, masque_quic_now_ns()) != 0) {
        return; /* nothing to keep: the record it would have replaced stays */
    }
    closing_file_record(p, p->closing_next, 0);
    p->closing[p->closing_next] = kept;
    closing_file_record(p, p->closing_next, 1);
    p->closing_next = (p->closing_next + 1u) % CLOSING_KEPT;
}

/* Once the index is partial, a short-header packet whose ID it lacks, from an address no client
 * has, is asked of every client, CID_LOOKUP_BUDGET times a step at most. */
static proxy_client *ask_every_client(masque_quic_proxy *p, const uint8_t *pkt, size_t len)
{
    size_t i;
    if (!p->cid_index_partial || p->cid_lookups == 0 || len == 0 || (pkt[0] & 0x80) != 0) {
        return NULL;
    }
    p->cid_lookups--;
    for (i = 0; i < p->nclients; i++) {
        if (p->clients[i]->conn != NULL && masque_quic_is_for(p->clients[i]->conn, pkt, len)) {
            return p->clients[i];
        }
    }
    return NULL;
}

static void log_refusal(masque_quic_proxy *p, const char *why, const struct sockaddr_storage *from,
                        socklen_t fl)
{
    log_client(p, "refused", from, fl, why);
}

/*
 * The slot a new client (one that has proved its address: a Retry token, or TCP's handshake)
 * takes: the next free one, or, when all are taken, the slot of a client without an open Bind
 * request. A slot is thus held by an accepted request (and the credentials it took), not by a
 * connection alone: connections that never ask, or were refused (an unfinished handshake, a
 * silent TCP connection, a client answered 407 that keeps sending PINGs), cannot lock the
 * others out. Whose slot: the oldest such client of the new client's own source, if it has
 * one, else the oldest of all; so a source that opens connection after connection replaces
 * its own and cannot push out the others' handshakes. SIZE_MAX, logged, when every client
 * holds a request. Nothing is given up yet: place_client() does that once the new client
 * exists.
 */
static size_t free_slot(masque_quic_proxy *p, const struct sockaddr_storage *from, socklen_t fl)
{
    uint64_t now;
    source_key key;
    const dlink *l;
    if (p->nclients < p->cfg.max_clients) {
        return p->nclients;
    }
    for (l = p->by_source[source_of(p, from, fl, &key)].first; l != NULL; l = l->next) {
        const proxy_client *own = LINK_OWNER(l, proxy_client, same_source);
        if (own->source.len == key.len && memcmp(own->source.bytes, key.bytes, key.len) == 0) {
            return own->slot;
        }
    }
    if (p->bare.first != NULL) {
        return LINK_OWNER(p->bare.first, proxy_client, bare)->slot;
    }
    now = masque_quic_now_ns();
    if (now - p->full_reported >= 1000000000u) { /* a flood makes one line a second */
        p->full_reported = now;
        log_refusal(p, "all client slots are taken (--max-clients)", from, fl);
    }
    return SIZE_MAX;
}

static void release_client(masque_quic_proxy *p, proxy_client *c);

/* ---- the clients' timers: a binary min-heap on expiry, so that the next one is known at
 * once and the expired ones are found without visiting the others ---- */

static void timer_swap(masque_quic_proxy *p, size_t a, size_t b)
{
    proxy_client *t = p->timers[a];
    p->timers[a] = p->timers[b];
    p->timers[b] = t;
    p->timers[a]->timer_at = a;
    p->timers[b]->timer_at = b;
}

static void timer_up(masque_quic_proxy *p, size_t i)
{
    while (i > 0 && p->timers[(i - 1) / 2]->expiry > p->timers[i]->expiry) {
        timer_swap(p, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void timer_down(masque_quic_proxy *p, size_t i)
{
    for (;;) {
        size_t least = i;
        size_t child = 2 * i + 1;
        if (child < p->ntimers && p->timers[child]->expiry < p->timers[least]->expiry) {
            least = child;
        }
        if (child + 1 < p->ntimers && p->timers[child + 1]->expiry < p->timers[least]->expiry) {
            least = child + 1;
        }
        if (least == i) {
            return;
        }
        timer_swap(p, i, least);
        i = least;
    }
}

static void timer_set(masque_quic_proxy *p, proxy_client *c, uint64_t expiry)
{
    c->expiry = expiry;
    timer_up(p, c->timer_at);
    timer_down(p, c->timer_at);
}

static void timer_add(masque_quic_proxy *p, proxy_client *c)
{
    c->timer_at = p->ntimers++;
    p->timers[c->timer_at] = c;
    timer_up(p, c->timer_at);
}

static void timer_remove(masque_quic_proxy *p, const proxy_client *c)
{
    size_t last = --p->ntimers;
    size_t i = c->timer_at;
    if (i != last) {
        p->timers[i] = p->timers[last];
        p->timers[i]->timer_at = i;
        timer_up(p, i);
        timer_down(p, i);
    }
}

/* The new client takes `slot` (from free_slot()); a client without a request that held it is
 * closed (HTTP/3: CONNECTION_CLOSE with H3_NO_ERROR; HTTP/2: GOAWAY) and goes. It is filed
 * with a due timer and served at the end of the step. */
static void place_client(masque_quic_proxy *p, size_t slot, proxy_client *c)
{
    if (slot < p->nclients) {
        proxy_client *old = p->clients[slot];
        char why[128];
        (void)snprintf(
            why, sizeof(why),
            "all client slots are taken and it held no Bind request for %llu s "
            "(--max-clients)",
            (unsigned long long)((masque_quic_now_ns() - old->bare_since) / 1000000000u));
        log_client(p, "closed", &old->remote, old->remotelen, why);
        release_client(p, old);
    } else {
        p->nclients++;
    }
    c->slot = slot;
    c->bucket = source_of(p, &c->remote, c->remotelen, &c->source);
    p->clients[slot] = c;
    bare_add(p, c);
    c->expiry = 0;
    timer_add(p, c);
    c->dirty_at = SIZE_MAX;
    touch(p, c); /* its first packet is read: it has something to say */
}

/* Where a packet on the listening socket (received with `hdr`) was sent: the socket's address,
 * or on a wildcard the one the kernel reports, which is what the client is answered from. NULL
 * when none was reported: there is no address to answer from. */
static const struct sockaddr_storage *packet_destination(const masque_quic_proxy *p,
                                                         struct msghdr *hdr,
                                                         struct sockaddr_storage *dst,
                                                         socklen_t *len)
{
    *len = p->locallen;
    if (!p->wildcard) {
        return &p->local;
    }
    if (masque_udp_destination_of(hdr, p->local.ss_family, p->port, dst, len) != 0) {
        return NULL;
    }
    return dst;
}

/* A client's first packet, received with `hdr` (from the listening socket). */
static proxy_client *accept_client(masque_quic_proxy *p, const struct sockaddr_storage *from,
                                   socklen_t fl, struct msghdr *hdr, const uint8_t *pkt, size_t len)
{
    const struct sockaddr_storage *to;
    struct sockaddr_storage dst;
    socklen_t tl;
    proxy_client *c;
    size_t slot;
    masque_quic_config cfg = p->cfg.conn;
    cfg.credentials = p->credentials;
    if (len == 0 || (pkt[0] & 0x80) == 0) {
        return NULL; /* a short header from no known client or connection ID: dropped */
    }
    to = packet_destination(p, hdr, &dst, &tl); /* what the connection answers from */
    if (to == NULL) {
        return NULL;
    }
    slot = free_slot(p, from, fl);
    if (slot == SIZE_MAX) {
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
    memcpy(&c->local, to, tl);
    c->locallen = tl;
    c->conn = masque_quic_server_accept(&cfg, p->fd, (const struct sockaddr *)to, tl,
                                        (const struct sockaddr *)from, fl, pkt, len, &hooks, c);
    if (c->conn == NULL) {
        free(c);
        return NULL;
    }
    place_client(p, slot, c);
    addr_put(p, c);
    if (masque_quic_watch_connection_ids(c->conn, on_cid, c) != 0) {
        cid_index_partial(p, c); /* more IDs than a client's list holds */
    }
    log_line(p, "client connected from", c, NULL);
    return c;
}

/* Closes what a client holds (its requests end, their sockets close) and frees it; its slot
 * is the caller's to fill. A connection still open is closed with H3_NO_ERROR first (RFC 9000
 * §10.2; HTTP/2: GOAWAY), so that the client learns at once, not at its idle timeout: a client
 * given up for a newcomer, every client of a proxy that stops. */
static void release_client(masque_quic_proxy *p, proxy_client *c)
{
    masque_conn_end end =
        c->conn != NULL ? masque_quic_end_reason(c->conn, NULL) : MASQUE_CONN_OPEN;
#ifdef MASQUE_PROXY_H2
    if (c->h2 != NULL) {
        end = masque_h2_end_reason(c->h2, NULL);
    }
#endif
    log_line(p, "client gone:", c, end_text(end));
    if (c->conn != NULL) {
        addr_del(p, c);
        cids_drop(p, c);
        p->gone_dropped += masque_quic_datagrams_dropped(c->conn);
        p->gone_too_large += masque_quic_datagrams_too_large(c->conn);
        (void)masque_quic_close(c->conn, MASQUE_H3_NO_ERROR); /* nothing when already closed */
        closing_keep(p, c->conn);
    }
    masque_quic_free(c->conn); /* on_close for each of its requests: their sockets close */
#ifdef MASQUE_PROXY_H2
    if (c->h2 != NULL) {
        (void)masque_h2_close(c->h2, MASQUE_H2_NO_ERROR); /* GOAWAY, when still open */
        masque_h2_free(c->h2);
        (void)close(c->tcp_fd);
        masque_quic_credentials_release(c->cred);
        if (p->accept_retry_at != 0) {
            p->accept_retry_at = 1; /* a descriptor is free: accept() at the end of the step */
        }
    }
#endif
    if (c->binds == 0) {
        bare_remove(p, c);
    }
    timer_remove(p, c);
    if (c->dirty_at != SIZE_MAX) {
        p->dirty[c->dirty_at] = p->dirty[--p->ndirty];
        p->dirty[c->dirty_at]->dirty_at = c->dirty_at;
    }
    free(c);
}

static void drop_client(masque_quic_proxy *p, size_t i)
{
    release_client(p, p->clients[i]);
    p->clients[i] = p->clients[--p->nclients];
    if (i < p->nclients) {
        p->clients[i]->slot = i; /* the last one moved in */
    }
}

/* Frees the relays whose request ended; a step in which none did visits none. */
static void sweep_relays(masque_quic_proxy *p)
{
    size_t i;
    if (p->relays_ended == 0 || p->relays == NULL) {
        return;
    }
    for (i = 0; i < p->nrelays;) {
        if (!p->relays[i]->live) {
            free(p->relays[i]);
            p->relays[i] = p->relays[--p->nrelays];
            continue;
        }
        i++;
    }
    p->relays_ended = 0;
}

/*
 * Batch receive: recvmmsg() fills up to RECV_BATCH buffers in one system call. Each buffer
 * keeps MASQUE_BIND_HEADROOM free in front, so that a relayed payload is framed in place.
 */
typedef struct rx_batch {
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    struct sockaddr_storage from[RECV_BATCH];
    /* The segment size of a coalesced receive (UDP GRO, udp_in.h), in words: a cmsghdr's
     * alignment. */
    size_t control[RECV_BATCH][(MASQUE_GRO_CONTROL + sizeof(size_t) - 1) / sizeof(size_t)];
    uint8_t buf[RECV_BATCH][MASQUE_BIND_HEADROOM + DATAGRAM_MAX];
} rx_batch;

static rx_batch rx; /* one loop, one thread: shared by every socket */

/* Receives up to `max` datagrams; returns how many (0 when none is waiting). The headers are
 * set up once: a receive changes only the address and control lengths of the entries it
 * filled, and only those are put back before the next one (most receives take a few of the
 * RECV_BATCH entries). */
static unsigned rx_read(int fd, unsigned max)
{
    static int ready;        /* the headers are set up */
    static unsigned touched; /* entries the last receive filled */
    unsigned i;
    int n;
    if (!ready) {
        for (i = 0; i < RECV_BATCH; i++) {
            rx.iov[i].iov_base = rx.buf[i] + MASQUE_BIND_HEADROOM;
            rx.iov[i].iov_len = DATAGRAM_MAX;
            memset(&rx.msgs[i].msg_hdr, 0, sizeof(rx.msgs[i].msg_hdr));
            rx.msgs[i].msg_hdr.msg_name = &rx.from[i];
            rx.msgs[i].msg_hdr.msg_iov = &rx.iov[i];
            rx.msgs[i].msg_hdr.msg_iovlen = 1;
            rx.msgs[i].msg_hdr.msg_control = rx.control[i];
        }
        touched = RECV_BATCH; /* every length below is set the first time */
        ready = 1;
    }
    for (i = 0; i < touched; i++) {
        rx.msgs[i].msg_hdr.msg_namelen = sizeof(rx.from[i]);
        rx.msgs[i].msg_hdr.msg_controllen = sizeof(rx.control[i]);
    }
    if (max > RECV_BATCH) {
        max = RECV_BATCH;
    }
    n = recvmmsg(fd, rx.msgs, max, MSG_DONTWAIT, NULL);
    touched = n > 0 ? (unsigned)n : 0u;
    return touched;
}

/* UDP from the Internet for one request: up to RELAY_BUDGET receives, into its tunnel. A
 * receive coalesced by GRO holds a peer's GSO train: each segment is a datagram of its own
 * (RFC 9298 §5: one UDP payload per HTTP Datagram, none merged). */
static void relay_in(proxy_relay *relay)
{
    unsigned budget = RELAY_BUDGET;
    while (budget > 0 && relay->live) {
        unsigned n = rx_read(relay->fd, budget);
        uint64_t now = masque_quic_now_ns() / 1000000u; /* one clock read a batch */
        unsigned i;
        if (n > 0) {
            touch(relay->client->proxy, relay->client); /* what it relays goes out at its turn */
        }
        for (i = 0; i < n && relay->live; i++) {
            uint8_t *data = rx.buf[i] + MASQUE_BIND_HEADROOM;
            size_t len = rx.msgs[i].msg_len;
            size_t seg = masque_udp_segment_of(&rx.msgs[i].msg_hdr, len);
            masque_address src;
            size_t off = 0;
            if (masque_address_from_sockaddr((struct sockaddr *)&rx.from[i],
                                             rx.msgs[i].msg_hdr.msg_namelen, &src) != 0) {
                continue;
            }
            do { /* an empty datagram is one too: one pass */
                masque_adapter *a = relay_adapter(relay);
                size_t piece = len - off < seg ? len - off : seg;
                uint8_t *at = data + off;
                off += piece;
                if (a == NULL || !quota_pass(relay->client->proxy, relay->ident, piece)) {
                    continue;
                }
                /* Framed in place, never copied: the first datagram has MASQUE_BIND_HEADROOM
                 * before it, each later one the end of the one before, which the tunnel took
                 * already (its binding copies what it queues). -10 §8: a sender without a
                 * context is dropped inside, and counted. The packets go out together, at the
                 * connection's next write. */
                if (masque_adapter_write_datagram(a, &src, at, MASQUE_BIND_HEADROOM, piece, now) ==
                    MASQUE_ERR_QUEUE_FULL) {
                    relay->client->proxy->no_room++; /* the stream is full: dropped, counted */
                }
            } while (off < len && relay->live);
        }
        if (n < RECV_BATCH || n == budget) {
            return; /* drained, or this socket had its turn */
        }
        budget -= n;
    }
}

/* Sends `answer` to the packet from `from` (received with `hdr` on the listening socket), from
 * the address that packet reached. 1 when it went. */
static int send_answer(masque_quic_proxy *p, const struct sockaddr_storage *from, socklen_t fl,
                       struct msghdr *hdr, const uint8_t *answer, size_t n)
{
    struct sockaddr_storage dst;
    socklen_t tl;
    const struct sockaddr_storage *source = packet_destination(p, hdr, &dst, &tl);
    if (source == NULL) {
        return 0;
    }
    masque_udp_send_from(p->fd, (const struct sockaddr *)from, fl, (const struct sockaddr *)source,
                         answer, n);
    return 1;
}

/*
 * A packet no client claims, for a connection this end closed lately: its CONNECTION_CLOSE
 * again (RFC 9000 §10.2.1), from the address the packet reached. 1 when it was one of those.
 */
static int closing_answer(masque_quic_proxy *p, const struct sockaddr_storage *from, socklen_t fl,
                          struct msghdr *hdr, const uint8_t *pkt, size_t len)
{
    const uint8_t *dcid;
    const uint8_t *reply = NULL;
    size_t dcidlen;
    size_t reply_len = 0;
    masque_quic_closing *k;
    if (masque_quic_packet_dcid(pkt, len, &dcid, &dcidlen) != 0 ||
        dcidlen != MASQUE_QUIC_CONNECTION_ID_LEN) {
        return 0;
    }
    k = id_find(&p->closing_ids, dcid);
    if (k == NULL ||
        !masque_quic_closing_match(k, dcid, dcidlen, masque_quic_now_ns(), &reply, &reply_len)) {
        return 0; /* no record's, or one whose closing period is over */
    }
    if (reply != NULL) {
        (void)send_answer(p, from, fl, hdr, reply, reply_len);
    }
    return 1;
}

/*
 * Whether one more answer that needs no connection (closing.h) may go now: at most
 * cfg.stateless_per_s a second, each shorter than the packet it answers, so that forged sources
 * cannot turn the proxy into an amplifier or make it spend more than that. Asked before an
 * answer is built, so that a flood beyond the limit costs no Stateless Reset token (an HMAC
 * each); one it holds back is counted.
 */
static int stateless_allowed(masque_quic_proxy *p)
{
    uint64_t now = masque_quic_now_ns();
    if (now - p->stateless_second >= 1000000000u) {
        p->stateless_second = now;
        p->stateless_left = p->cfg.stateless_per_s;
    }
    if (p->stateless_left == 0) {
        p->stateless_held++;
        return 0;
    }
    return 1;
}

/* Sends an answer stateless_allowed() let through, n bytes (none when 0), from the address the
 * packet from `from` reached (received with `hdr`), and counts it in *sent. */
static void stateless_answer(masque_quic_proxy *p, const struct sockaddr_storage *from,
                             socklen_t fl, struct msghdr *hdr, const uint8_t *answer, size_t n,
                             uint64_t *sent)
{
    if (n > 0 && send_answer(p, from, fl, hdr, answer, n)) {
        p->stateless_left--;
        (*sent)++;
    }
}

/*
 * A short-header packet for a connection ID that no client has and no closing record knows:
 * a Stateless Reset (RFC 9000 §10.3). Its client learns at once that the connection is gone
 * (this process closed it long ago, or a previous one had it), instead of at its idle
 * timeout. A packet too short for one (MASQUE_QUIC_STATELESS_RESET_MIN bytes or fewer: a reset
 * is shorter than the packet it answers) gets none, and is not counted as held back.
 */
static void stateless_reset(masque_quic_proxy *p, const struct sockaddr_storage *from, socklen_t fl,
                            struct msghdr *hdr, const uint8_t *pkt, size_t len)
{
    uint8_t reset[64];
    if (len <= MASQUE_QUIC_STATELESS_RESET_MIN || !stateless_allowed(p)) {
        return;
    }
    stateless_answer(
        p, from, fl, hdr, reset,
        masque_quic_stateless_reset(p->cfg.conn.reset_secret, pkt, len, reset, sizeof(reset)),
        &p->resets_sent);
}

/* A client's first packet in a QUIC version this end does not speak: Version Negotiation
 * (RFC 9000 §6.1), so that it retries in one it does, instead of timing out. 1 when it was
 * one of those (answered or not). */
static int version_negotiation(masque_quic_proxy *p, const struct sockaddr_storage *from,
                               socklen_t fl, struct msghdr *hdr, const uint8_t *pkt, size_t len)
{
    uint8_t vn[MASQUE_QUIC_VERSION_NEGOTIATION_MAX];
    size_t n = masque_quic_version_negotiation(pkt, len, vn, sizeof(vn));
    if (n == 0) {
        return 0;
    }
    if (stateless_allowed(p)) {
        stateless_answer(p, from, fl, hdr, vn, n, &p->vn_sent);
    }
    return 1;
}

/* One QUIC packet from the listening socket (received with `hdr`), to the client it belongs to
 * (a new one for an Initial); a client whose address changed is found by connection ID and
 * moved. */
static void listen_packet(masque_quic_proxy *p, const struct sockaddr_storage *from, socklen_t fl,
                          struct msghdr *hdr, const uint8_t *pkt, size_t len)
{
    struct sockaddr_storage now_at;
    socklen_t now_len;
    int searched = 0; /* the packet's connection ID is no client's, for sure */
    proxy_client *c = find_client_by_cid(p, pkt, len);
    if (c == NULL) {
        c = find_client(p, from, fl, pkt, len); /* long headers, and IDs of no client */
    }
    if (c == NULL) {
        searched = !p->cid_index_partial || p->cid_lookups > 0;
        c = ask_every_client(p, pkt, len);
    }
    if (c == NULL && closing_answer(p, from, fl, hdr, pkt, len)) {
        return;
    }
    if (c == NULL && searched && len > 0 && (pkt[0] & 0x80) == 0) {
        stateless_reset(p, from, fl, hdr, pkt, len); /* a lookup left undone is not a "no" */
        return;
    }
    if (c == NULL && version_negotiation(p, from, fl, hdr, pkt, len)) {
        return;
    }
    if (c == NULL) {
        c = accept_client(p, from, fl, hdr, pkt, len);
    }
    if (c == NULL) {
        return;
    }
    (void)masque_quic_read_from(c->conn, (const struct sockaddr *)from, fl, pkt, len);
    touch(p, c);
    now_len = masque_quic_peer_address(c->conn, &now_at); /* it may move */
    if (!same_addr(c, &now_at, now_len)) {
        addr_del(p, c);
        memcpy(&c->remote, &now_at, now_len);
        c->remotelen = now_len;
        addr_put(p, c);
    }
}

/* QUIC packets on the listening socket: up to LISTEN_BUDGET receives per step. With UDP GRO
 * on, one receive may hold a client's GSO train: every segment is a packet of its own. */
static void listen_in(masque_quic_proxy *p)
{
    unsigned budget = LISTEN_BUDGET;
    p->cid_lookups = CID_LOOKUP_BUDGET;
    while (budget > 0) {
        unsigned n = rx_read(p->fd, budget);
        unsigned i;
        for (i = 0; i < n; i++) {
            const uint8_t *data = rx.buf[i] + MASQUE_BIND_HEADROOM;
            size_t len = rx.msgs[i].msg_len;
            size_t seg = masque_udp_segment_of(&rx.msgs[i].msg_hdr, len);
            size_t off;
            for (off = 0; off < len; off += seg) {
                listen_packet(p, &rx.from[i], rx.msgs[i].msg_hdr.msg_namelen, &rx.msgs[i].msg_hdr,
                              data + off, len - off < seg ? len - off : seg);
            }
        }
        tx_flush(); /* the datagrams this batch carried, out to their targets together */
        if (n < RECV_BATCH || n == budget) {
            return;
        }
        budget -= n;
    }
}

#ifdef MASQUE_PROXY_H2
/* HTTP/2 over TLS/TCP: a new client on the listening TCP socket, within the client slots. */
static void tcp_accept(masque_quic_proxy *p)
{
    unsigned k;
    for (k = 0; k < ACCEPT_BUDGET; k++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        int fd = accept4(p->tcp_fd, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        masque_h2_config cfg;
        proxy_client *c;
        size_t slot;
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* The connection stays queued and the socket readable: epoll would report it at
             * every step, a busy loop while descriptors are short. It leaves the epoll set
             * until a client leaves or ACCEPT_RETRY_NS pass (masque_quic_proxy_step()). */
            int err = errno;
            (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->tcp_fd, NULL); /* fails only if not in it */
            if (!p->accept_starved) {
                char line[160];
                (void)snprintf(line, sizeof(line),
                               "accept: %s: TCP connections wait (raise the limit of open "
                               "files, or lower --max-clients and --max-requests)",
                               strerror(err));
                log_limited(p, line);
                p->accept_starved = 1;
            }
            p->accept_retry_at = masque_quic_now_ns() + ACCEPT_RETRY_NS;
            return;
        }
        if (fd < 0) {
            return;
        }
        p->accept_starved = 0;
        slot = free_slot(p, &from, fl);
        if (slot == SIZE_MAX) {
            (void)close(fd);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            (void)close(fd);
            continue;
        }
        /* One policy, one set of limits for both transports. */
        memset(&cfg, 0, sizeof(cfg));
        cfg.uri_template = p->cfg.conn.uri_template;
        cfg.credentials = masque_quic_credentials_gnutls(p->credentials);
        cfg.ticket_key = masque_quic_credentials_ticket_key(p->credentials); /* as over QUIC */
        cfg.priority = p->cfg.conn.priority; /* the operator's, as over QUIC */
        cfg.public_address = p->cfg.conn.public_address;
        cfg.policy = &p->policy;
        cfg.idle_timeout_ms = p->cfg.conn.idle_timeout_ms;
        cfg.conn_idle_timeout_ms = p->cfg.conn.conn_idle_timeout_ms;
        cfg.stream_buffer = p->cfg.conn.stream_buffer;
        cfg.datagram_max_wait_ms = p->cfg.conn.datagram_max_wait_ms;
        cfg.max_peer_contexts = p->cfg.conn.max_peer_contexts;
        cfg.assign_rate = p->cfg.conn.assign_rate;
        cfg.max_requests = p->cfg.conn.max_requests;
        cfg.max_streams = p->cfg.conn.max_streams;
        cfg.client_ca_file = p->cfg.conn.client_ca_file; /* trust: in the shared credentials */
        c->proxy = p;
        c->tcp_fd = fd;
        c->cred = masque_quic_credentials_ref(p->credentials); /* a reload must not free them */
        memcpy(&c->remote, &from, fl);
        c->remotelen = fl;
        c->locallen = sizeof(c->local);
        if (getsockname(fd, (struct sockaddr *)&c->local, &c->locallen) != 0) {
            c->locallen = 0; /* advertised_address() asks the route instead */
        }
        c->h2 = masque_h2_server_new(&cfg, fd, &h2_hooks, c);
        c->watch.kind = WATCH_CLIENT;
        c->watch.owner = c;
        if (c->h2 == NULL || watch(p, EPOLL_CTL_ADD, fd, EPOLLIN, &c->watch) != 0) {
            masque_h2_free(c->h2);
            masque_quic_credentials_release(c->cred);
            (void)close(fd);
            free(c);
            continue;
        }
        place_client(p, slot, c);
        log_line(p, "client connected over HTTP/2 from", c, NULL);
    }
}
#endif

/* When a client's timers fire, in ns of CLOCK_MONOTONIC. */
static uint64_t client_next_timeout(const proxy_client *c)
{
    uint64_t t;
#ifdef MASQUE_PROXY_H2
    if (c->h2 != NULL) {
        t = masque_h2_next_timeout(c->h2);
        t = t < UINT64_MAX / 1000000u ? t * 1000000u : UINT64_MAX;
    } else
#endif
    {
        t = masque_quic_next_timeout(c->conn);
    }
    return c->probe_until != 0 && c->probe_until < t ? c->probe_until : t; /* and its probe's */
}

/* Counts a client's TLS handshake once it completed, and whether it resumed a session. */
static void count_handshake(masque_quic_proxy *p, proxy_client *c)
{
    int done;
    int resumed;
#ifdef MASQUE_PROXY_H2
    if (c->h2 != NULL) {
        done = masque_h2_handshake_completed(c->h2);
        resumed = masque_h2_resumed(c->h2);
    } else
#endif
    {
        done = masque_quic_handshake_completed(c->conn);
        resumed = masque_quic_resumed(c->conn);
    }
    if (done) {
        c->handshake_counted = 1;
        p->handshakes++;
        p->resumed += resumed != 0;
    }
}

/* A client's turn: its timers if due, then what it has to send; a connection that ended is
 * dropped, else its next timer is filed. */
static void serve_client(masque_quic_proxy *p, proxy_client *c, uint64_t now)
{
    int closed;
    probe_check(p, c, now);
#ifdef MASQUE_PROXY_H2
    if (c->h2 != NULL) {
        int out;
        if (client_next_timeout(c) <= now) {
            (void)masque_h2_tick(c->h2);
        }
        (void)masque_h2_write(c->h2);
        closed = masque_h2_is_closed(c->h2);
        out = masque_h2_wants_write(c->h2);
        if (!closed && out != c->watch_out &&
            watch(p, EPOLL_CTL_MOD, c->tcp_fd, EPOLLIN | (out ? (uint32_t)EPOLLOUT : 0u),
                  &c->watch) == 0) {
            c->watch_out = out; /* a socket that has room again says so */
        }
    } else
#endif
    {
        if (masque_quic_next_timeout(c->conn) <= now) {
            (void)masque_quic_tick(c->conn);
        }
        (void)masque_quic_write(c->conn);
        closed = masque_quic_is_closed(c->conn);
    }
    if (!c->handshake_counted) {
        count_handshake(p, c);
    }
    if (closed) {
        drop_client(p, c->slot);
    } else {
        timer_set(p, c, client_next_timeout(c));
    }
}

/*
 * Up to EVENTS_MAX readiness events, waiting up to wait_ns (UINT64_MAX: no limit) for one.
 * A wait of a millisecond or more is epoll_wait()'s own, in whole milliseconds rounded down:
 * one system call, whether a packet ends it or the time does (then a little early, and the
 * next step waits out the rest). epoll_wait() counts no less than a millisecond, so a shorter
 * wait is a ppoll() on the epoll set itself, to the nanosecond, after a non-blocking
 * epoll_wait() that takes what is ready already: a timer less than a millisecond away must
 * not round to a zero timeout and a busy loop until it fires (epoll_pwait2() needs Linux 5.11
 * and is unknown to valgrind 3.19).
 */
static int wait_events(const masque_quic_proxy *p, struct epoll_event *ev, uint64_t wait_ns)
{
    struct pollfd pfd;
    struct timespec ts;
    int n;
    if (wait_ns >= 1000000u) {
        uint64_t ms = wait_ns / 1000000u;
        return epoll_wait(p->epfd, ev, EVENTS_MAX,
                          wait_ns == UINT64_MAX ? -1
                          : ms > INT_MAX        ? INT_MAX
                                                : (int)ms);
    }
    n = epoll_wait(p->epfd, ev, EVENTS_MAX, 0);
    if (n != 0 || wait_ns == 0) {
        return n;
    }
    pfd.fd = p->epfd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)wait_ns;
    n = ppoll(&pfd, 1, &ts, NULL);
    if (n <= 0) {
        return n; /* the timer's time, or a signal (EINTR) */
    }
    return epoll_wait(p->epfd, ev, EVENTS_MAX, 0);
}

int masque_quic_proxy_step(masque_quic_proxy *p, int timeout_ms)
{
    struct epoll_event ev[EVENTS_MAX];
    int listen_ready = 0;
    int tcp_ready = 0;
    int n;
    int i;
    uint64_t now = masque_quic_now_ns();
    uint64_t wait_ns = timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * 1000000u;
    uint64_t due;
    if (now - p->own_refreshed > OWN_REFRESH_NS) {
        (void)refresh_own_addresses(p); /* interfaces come and go; a failed read keeps the list */
    }
    /* The next of every client's timers (the heap's first), or a retry of accept(). */
    due = p->ntimers > 0 ? p->timers[0]->expiry : UINT64_MAX;
    if (p->accept_retry_at != 0 && p->accept_retry_at < due) {
        due = p->accept_retry_at;
    }
    if (due != UINT64_MAX) {
        wait_ns = due <= now ? 0 : due - now < wait_ns ? due - now : wait_ns;
    }
    n = wait_events(p, ev, wait_ns);
    if (n < 0 && errno != EINTR) {
        return -1;
    }
    /* Clients' and relays' sockets first: a QUIC Initial or a TCP connection below may give a
     * client's slot to a newcomer, which frees the old client (events name it by pointer). A
     * relay ended meanwhile stays allocated, closed, until the end of the step. */
    for (i = 0; i < n; i++) {
        proxy_watch *w = ev[i].data.ptr;
        switch (w->kind) {
        case WATCH_LISTEN:
            listen_ready = 1;
            break;
        case WATCH_TCP:
            tcp_ready = 1;
            break;
        case WATCH_CLIENT: {
#ifdef MASQUE_PROXY_H2
            proxy_client *c = w->owner;
            if ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
                (void)masque_h2_read(c->h2);
            }
            touch(p, c);
#endif
            break;
        }
        case WATCH_RELAY: {
            proxy_relay *relay = w->owner;
            if (relay->live && relay->fd >= 0) {
                relay_in(relay);
            }
            break;
        }
        }
    }
    if (listen_ready) {
        listen_in(p);
    }
    tx_flush();
#ifdef MASQUE_PROXY_H2
    if (p->accept_retry_at != 0 && p->accept_retry_at <= masque_quic_now_ns()) {
        if (watch(p, EPOLL_CTL_ADD, p->tcp_fd, EPOLLIN, &p->tcp_watch) == 0 || errno == EEXIST) {
            p->accept_retry_at = 0;
            tcp_ready = 1;
        } else {
            p->accept_retry_at = masque_quic_now_ns() + ACCEPT_RETRY_NS;
        }
    }
    if (tcp_ready) {
        tcp_accept(p);
    }
#else
    (void)tcp_ready; /* no TCP listener without the HTTP/2 binding */
#endif
    /* Only the clients something happened to, and those whose timers are due, take a turn. */
    now = masque_quic_now_ns();
    while (p->ntimers > 0 && p->timers[0]->expiry <= now) {
        proxy_client *c = p->timers[0];
        touch(p, c);
        timer_set(p, c, UINT64_MAX); /* filed again at its turn */
    }
    p->client_turns += p->ndirty;
    while (p->ndirty > 0) {
        proxy_client *c = p->dirty[--p->ndirty];
        c->dirty_at = SIZE_MAX;
        serve_client(p, c, now);
    }
    tx_flush(); /* anything a tick or a write delivered */
    sweep_relays(p);
    p->steps++;
    return 0;
}

uint64_t masque_quic_proxy_steps(const masque_quic_proxy *p)
{
    return p->steps;
}

uint64_t masque_quic_proxy_client_turns(const masque_quic_proxy *p)
{
    return p->client_turns;
}

size_t masque_quic_proxy_clients(const masque_quic_proxy *p)
{
    return p->nclients;
}

uint64_t masque_quic_proxy_stateless_answers(const masque_quic_proxy *p, uint64_t *resets,
                                             uint64_t *version_negotiations)
{
    if (resets != NULL) {
        *resets = p->resets_sent;
    }
    if (version_negotiations != NULL) {
        *version_negotiations = p->vn_sent;
    }
    return p->stateless_held;
}

uint64_t masque_quic_proxy_probes(const masque_quic_proxy *p, uint64_t *lost)
{
    if (lost != NULL) {
        *lost = p->probes_lost;
    }
    return p->probes;
}

uint64_t masque_quic_proxy_handshakes(const masque_quic_proxy *p, uint64_t *resumed)
{
    if (resumed != NULL) {
        *resumed = p->resumed;
    }
    return p->handshakes;
}

/* A connection's counter, summed over the HTTP/3 clients connected now. */
static uint64_t clients_sum(const masque_quic_proxy *p,
                            uint64_t (*count)(const masque_quic_conn *conn))
{
    uint64_t n = 0;
    size_t i;
    for (i = 0; i < p->nclients; i++) {
        if (p->clients[i]->conn != NULL) {
            n += count(p->clients[i]->conn);
        }
    }
    return n;
}

uint64_t masque_quic_proxy_datagrams_dropped(const masque_quic_proxy *p)
{
    return p->gone_dropped + p->no_room + clients_sum(p, masque_quic_datagrams_dropped);
}

uint64_t masque_quic_proxy_datagrams_too_large(const masque_quic_proxy *p)
{
    return p->gone_too_large + clients_sum(p, masque_quic_datagrams_too_large);
}

size_t masque_quic_proxy_requests(const masque_quic_proxy *p)
{
    size_t i;
    size_t n = 0;
    for (i = 0; i < p->nrelays; i++) {
        n += p->relays[i]->live ? 1u : 0u;
    }
    return n;
}

int masque_quic_proxy_usage(const masque_quic_proxy *p, size_t i, masque_quic_usage *out)
{
    if (i >= p->nidentities) {
        return -1;
    }
    *out = p->identities[i].use;
    return 0;
}

void masque_quic_proxy_free(masque_quic_proxy *p)
{
    if (p == NULL) {
        return;
    }
    /* Clients exist only in a proxy whose tables were all made (not in one whose set-up
     * failed half-way). */
    while (p->clients != NULL && p->by_source != NULL && p->nclients > 0) {
        drop_client(p, p->nclients - 1);
    }
    sweep_relays(p); /* every request ended with its connection */
    masque_quic_credentials_release(p->credentials);
    free(p->clients);
    free(p->timers);
    free(p->dirty);
    free(p->relays);
    free(p->identities);
    free(p->id_index);
    if (p->epfd >= 0) {
        (void)close(p->epfd);
    }
    free(p->by_addr);
    free(p->by_source);
    free(p->by_cid.slots);
    free(p->own);
    free(p);
}

/* ---- workers sharing a port (workers.h) ---- */

int masque_quic_steer_by_connection_id(int fd, unsigned workers)
{
    /* Classic BPF over the UDP payload: the Destination Connection ID's first byte, modulo
     * workers, is the socket's place in the group; an index beyond the group (here 0xFFFFFFFF)
     * leaves the packet to the kernel's hash. RFC 9000 §17.2 and §17.3: a long header (first
     * bit 1) has its DCID Length at byte 5 and the ID from byte 6; a short header, the ID from
     * byte 1. A load past the packet's end ends the program with 0: the first socket. */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 2, 0), /* a long header: to 4 */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 1),
        BPF_JUMP(BPF_JMP | BPF_JA, 3, 0, 0), /* to 7 */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 5),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MASQUE_QUIC_CONNECTION_ID_LEN, 0, 3), /* else to 9 */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, workers),
        BPF_STMT(BPF_RET | BPF_A, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFFu),
    };
    struct sock_fprog prog;
    if (workers < 2 || workers > MASQUE_QUIC_WORKERS_MAX) {
        errno = EINVAL;
        return -1;
    }
    memset(&prog, 0, sizeof(prog)); /* its padding too: the kernel copies the whole struct */
    prog.len = (unsigned short)(sizeof(code) / sizeof(code[0]));
    prog.filter = code;
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}
