/* SPDX-License-Identifier: GPL-3.0-only */
/* Expose mode of masque-bind-client: see expose.h. */
#define _POSIX_C_SOURCE 200809L
#include "expose.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "masque/posix.h"

int expose_init(expose_state *e, const char *service)
{
    masque_address a;
    memset(e, 0, sizeof(*e));
    e->max_peers = 64;
    e->idle_ms = 60000;
    if (masque_address_parse(&a, service, strlen(service), 1) != MASQUE_OK || a.port == 0 ||
        masque_address_to_sockaddr(&a, &e->service, &e->servicelen) != MASQUE_OK) {
        return -1;
    }
    e->policy.allow_special_purpose = 1; /* the operator's rules decide, nothing else */
    if (getrandom(&e->seed, sizeof(e->seed), 0) != (ssize_t)sizeof(e->seed)) {
        e->seed = (uint64_t)(uintptr_t)e ^ 0x9E3779B97F4A7C15u; /* a spread, not a secret */
    }
    return 0;
}

int expose_allow(expose_state *e, const char *rule)
{
    if (e->nrules == EXPOSE_MAX_RULES ||
        masque_policy_rule_parse(&e->rules[e->nrules], rule, strlen(rule), 1) != MASQUE_OK) {
        return -1;
    }
    e->nrules++;
    /* With rules, whoever matches none is refused: a final deny for each family. */
    (void)masque_policy_rule_parse(&e->rules[e->nrules], "0.0.0.0/0", 9, 0);
    (void)masque_policy_rule_parse(&e->rules[e->nrules + 1], "::/0", 4, 0);
    e->policy.rules = e->rules;
    e->policy.rule_count = e->nrules + 2;
    return 0;
}

/* Where a peer's address starts its probe in the index. */
static size_t home_of(const expose_state *e, const masque_address *peer)
{
    uint64_t h = e->seed ^ ((uint64_t)peer->version << 16 | peer->port);
    size_t i;
    for (i = 0; i < sizeof(peer->bytes); i++) {
        h = (h ^ peer->bytes[i]) * 0x100000001B3u;
    }
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return (size_t)(h & (EXPOSE_INDEX - 1u));
}

/* The index slot that holds `peer`, or the empty one it would take. */
static size_t slot_of(const expose_state *e, const masque_address *peer)
{
    size_t i = home_of(e, peer);
    while (e->index[i] != 0 && !masque_address_equal(&e->peers[e->index[i] - 1u].peer, peer)) {
        i = (i + 1u) & (EXPOSE_INDEX - 1u);
    }
    return i;
}

static exposed_peer *find_peer(expose_state *e, const masque_address *peer)
{
    size_t i = slot_of(e, peer);
    return e->index[i] != 0 ? &e->peers[e->index[i] - 1u] : NULL;
}

/* Takes slot i out of the index by backward-shift deletion (no tombstones to accumulate). */
static void index_delete(expose_state *e, size_t i)
{
    size_t j = i;
    e->index[i] = 0;
    for (;;) {
        size_t home;
        j = (j + 1u) & (EXPOSE_INDEX - 1u);
        if (e->index[j] == 0) {
            return;
        }
        home = home_of(e, &e->peers[e->index[j] - 1u].peer);
        /* The entry at j may move to the hole at i if its home is not in (i, j]. */
        if (((j - home) & (EXPOSE_INDEX - 1u)) >= ((j - i) & (EXPOSE_INDEX - 1u))) {
            e->index[i] = e->index[j];
            e->index[j] = 0;
            i = j;
        }
    }
}

/* A refused peer is counted; said on stdout for the first ones and then every 1000th, so that
 * a flood of them does not flood the output. */
static void refuse(expose_state *e, const char *who, const char *why)
{
    e->refused++;
    if (e->refused <= 10 || e->refused % 1000 == 0) {
        (void)printf("peer %s refused (%s; %llu refused so far)\n", who, why,
                     (unsigned long long)e->refused);
        (void)fflush(stdout);
    }
}

/* A new peer: its own socket toward the service, and a compressed context at the proxy. */
static exposed_peer *add_peer(expose_state *e, masque_session *s, const masque_address *peer,
                              uint64_t now_ms)
{
    char text[MASQUE_ADDRESS_TEXT_MAX];
    exposed_peer *p;
    int fd;
    (void)masque_address_format(text, sizeof(text), peer, 1);
    if (e->policy.rules != NULL && masque_policy_check(&e->policy, NULL, peer) != MASQUE_OK) {
        refuse(e, text, "--allow");
        return NULL;
    }
    if (e->npeers == e->max_peers || e->npeers == EXPOSE_MAX_PEERS) {
        refuse(e, text, "--max-peers");
        return NULL;
    }
    fd = socket(e->service.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&e->service, e->servicelen) != 0) {
        int err = errno;
        if (fd >= 0) {
            (void)close(fd);
        }
        refuse(e, text, strerror(err)); /* e.g. out of descriptors: the operator must know */
        return NULL;
    }
    e->index[slot_of(e, peer)] = (uint16_t)(e->npeers + 1u);
    p = &e->peers[e->npeers++];
    memset(p, 0, sizeof(*p));
    p->peer = *peer;
    p->fd = fd;
    p->last_ms = now_ms;
    /* -10 §4: a compressed context per active peer, so its datagrams carry no address. */
    p->has_context = masque_session_open_context(s, peer, now_ms, &p->context_id) == MASQUE_OK;
    (void)printf("peer %s: forwarded to the service\n", text);
    (void)fflush(stdout);
    return p;
}

void expose_from_peer(expose_state *e, masque_session *s, const masque_address *peer,
                      const uint8_t *data, size_t len, uint64_t now_ms)
{
    exposed_peer *p = find_peer(e, peer);
    if (p == NULL) {
        p = add_peer(e, s, peer, now_ms);
    }
    if (p != NULL) {
        (void)send(p->fd, data, len, 0);
        p->last_ms = now_ms;
    }
}

size_t expose_pollfds(const expose_state *e, struct pollfd *fds, size_t cap)
{
    size_t i;
    for (i = 0; i < e->npeers && i < cap; i++) {
        fds[i].fd = e->peers[i].fd;
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    return i;
}

static void remove_peer(expose_state *e, masque_session *s, size_t i, uint64_t now_ms)
{
    exposed_peer *p = &e->peers[i];
    char text[MASQUE_ADDRESS_TEXT_MAX];
    (void)masque_address_format(text, sizeof(text), &p->peer, 1);
    if (p->has_context && s != NULL) {
        (void)masque_session_close_context(s, p->context_id, now_ms);
    }
    (void)close(p->fd);
    (void)printf("peer %s idle: closed\n", text);
    (void)fflush(stdout);
    index_delete(e, slot_of(e, &p->peer));
    if (i != --e->npeers) {
        /* The last peer moves into position i: its index slot follows. */
        e->peers[i] = e->peers[e->npeers];
        e->index[slot_of(e, &e->peers[i].peer)] = (uint16_t)(i + 1u);
    }
}

void expose_after_poll(expose_state *e, masque_session *s, masque_adapter *a,
                       const struct pollfd *fds, size_t n, uint64_t now_ms)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 65536];
    size_t i;
    for (i = 0; i < n && i < e->npeers; i++) {
        exposed_peer *p = &e->peers[i];
        ssize_t r;
        /* POLLERR too: a service that is down answers with ICMP port unreachable, which the
         * connected socket holds as an error until a recv() takes it; poll() reports it at
         * once each time until then (a busy loop). */
        if (fds[i].fd != p->fd || (fds[i].revents & (POLLIN | POLLERR)) == 0) {
            continue;
        }
        /* The service's replies, back to the peer the socket speaks for. */
        while ((r = recv(p->fd, buf + MASQUE_BIND_HEADROOM, 65536, 0)) >= 0) {
            int rc = a != NULL
                         ? masque_adapter_write_datagram(a, &p->peer, buf + MASQUE_BIND_HEADROOM,
                                                         MASQUE_BIND_HEADROOM, (size_t)r, now_ms)
                         : MASQUE_OK;
            if (rc != MASQUE_OK && (++e->not_sent <= 10 || e->not_sent % 1000 == 0)) {
                /* Said as the stdin mode says it: the first ones, then every 1000th. */
                (void)printf("cannot send: %s (%llu not sent so far)\n", masque_strerror(rc),
                             (unsigned long long)e->not_sent);
                (void)fflush(stdout);
            }
            p->last_ms = now_ms;
            p->service_refused = 0;
        }
        if (errno == ECONNREFUSED && !p->service_refused) {
            char text[MASQUE_ADDRESS_TEXT_MAX];
            (void)masque_address_format(text, sizeof(text), &p->peer, 1);
            (void)printf("peer %s: the local service refused a datagram (is it running?)\n", text);
            (void)fflush(stdout);
            p->service_refused = 1; /* said once, until the service answers */
        }
    }
    for (i = 0; i < e->npeers;) {
        if (now_ms - e->peers[i].last_ms > e->idle_ms) {
            remove_peer(e, s, i, now_ms);
            continue;
        }
        i++;
    }
    if (a != NULL) {
        (void)masque_adapter_flush(a);
    }
}

void expose_close_all(expose_state *e)
{
    while (e->npeers > 0) {
        (void)close(e->peers[--e->npeers].fd);
    }
    memset(e->index, 0, sizeof(e->index));
}
