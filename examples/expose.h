/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Expose mode of masque-bind-client: every remote peer that reaches the public address is
 * forwarded to one local UDP service, through a local socket of its own (so the service sees
 * distinct peers and its replies go back to the right one), with a compressed context registered
 * for it at the proxy (-10 §4); idle peers are closed after a timeout, and their number is
 * bounded. Transport-neutral: it works on the request's session and adapter.
 */
#ifndef MASQUE_EXAMPLES_EXPOSE_H
#define MASQUE_EXAMPLES_EXPOSE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "masque/adapter.h"
#include "masque/masque.h"

#define EXPOSE_MAX_PEERS 256
#define EXPOSE_MAX_RULES 16
#define EXPOSE_INDEX     512 /* slots of the peer index: a power of two, twice the peers */

/* One remote peer and the local socket that speaks for it to the service. */
typedef struct exposed_peer {
    masque_address peer;
    uint64_t context_id; /* its compressed context, when has_context */
    uint64_t last_ms;    /* last traffic either way */
    int fd;
    int has_context;
    int service_refused; /* the service refused (ICMP unreachable), and has not answered since */
} exposed_peer;

typedef struct expose_state {
    struct sockaddr_storage service; /* the local service */
    socklen_t servicelen;
    size_t max_peers;
    uint64_t idle_ms;
    masque_policy policy; /* which peers may come in (--allow); none: every peer */
    masque_policy_rule rules[EXPOSE_MAX_RULES + 2];
    size_t nrules;
    exposed_peer peers[EXPOSE_MAX_PEERS];
    size_t npeers;
    /* The peers by address (open addressing, keyed by a secret seed so that remote senders
     * cannot aim at one chain): a peer's position + 1, 0 for an empty slot. Each datagram finds
     * its peer in about one probe instead of a scan of every peer. */
    uint16_t index[EXPOSE_INDEX];
    uint64_t seed;
    uint64_t refused;  /* peers refused by --allow or the peer limit */
    uint64_t not_sent; /* service replies the tunnel did not take (no room, too large) */
} expose_state;

/* Sets up for the service at `service` ("IP:PORT"); 0, or -1 when it does not parse. */
int expose_init(expose_state *e, const char *service);

/* One more --allow rule (CIDR[:PORTS]); 0, or -1 when it does not parse or there are too
 * many. */
int expose_allow(expose_state *e, const char *rule);

/* A datagram from a remote peer: forwarded to the service from the peer's own socket (made,
 * with a compressed context, for a new peer). */
void expose_from_peer(expose_state *e, masque_session *s, const masque_address *peer,
                      const uint8_t *data, size_t len, uint64_t now_ms);

/* The peers' sockets, for poll(); returns how many were written at `fds`. */
size_t expose_pollfds(const expose_state *e, struct pollfd *fds, size_t cap);

/* After poll(): the service's replies go back through the tunnel to their peers; idle peers
 * are closed (socket and compressed context). */
void expose_after_poll(expose_state *e, masque_session *s, masque_adapter *a,
                       const struct pollfd *fds, size_t n, uint64_t now_ms);

/* Closes every peer's socket (the session is gone). */
void expose_close_all(expose_state *e);

#endif /* MASQUE_EXAMPLES_EXPOSE_H */
