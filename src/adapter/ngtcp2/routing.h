/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * How a proxy finds the connection a short-header packet belongs to when it comes from an
 * address no client has (RFC 9000 §9: a client that migrated, or whose NAT rebound): by its
 * Destination Connection ID (§5.2), in an index of the connection IDs this end issued.
 * Internal to the binding: quic.c reports the IDs a connection issues and retires, proxy.c
 * keeps the index.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_ROUTING_H
#define MASQUE_ADAPTER_NGTCP2_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#include "masque/quic.h"

/* The length of every connection ID a proxy issues: random bytes from GnuTLS (so an index may
 * use them as their own hash: no peer chooses them). */
#define MASQUE_QUIC_SCID_LEN 18u

/* Told that connection ID `cid` (MASQUE_QUIC_SCID_LEN bytes) was issued (`issued` 1) or is no
 * longer used by the peer (0: ngtcp2's remove_connection_id). */
typedef void (*masque_quic_cid_watch)(void *arg, const uint8_t *cid, int issued);

/*
 * Reports to `watch` every connection ID of connection c that this end issued and the peer may
 * still use, at once, and from then on each one issued and retired; the client's own choice
 * of its first Destination Connection ID is not one of them (it routes Initials only, which
 * come from the client's address). `watch` NULL: no more reports (before the connection is
 * freed). 0, or -1 when c holds more than MASQUE_QUIC_WATCHED_MAX of them (none reported).
 */
int masque_quic_watch_cids(masque_quic_conn *c, masque_quic_cid_watch watch, void *arg);

/* Whether packet `pkt` of `len` bytes is a client's Initial that can start a connection (its
 * type, version and size: RFC 9000 §17.2.2, §14.1). */
int masque_quic_starts_connection(const uint8_t *pkt, size_t len);

/* Whether packet `pkt` names, as its Destination Connection ID, the one connection c's client
 * chose for its first Initial (or, after a Retry, the one the Retry gave): a retransmission of
 * the Initial that started c. */
int masque_quic_started_by(const masque_quic_conn *c, const uint8_t *pkt, size_t len);

/* Connection IDs a connection has issued and not yet seen removed, at most: ngtcp2 keeps up to
 * 8 (NGTCP2_MAX_SCID_POOL_SIZE, retired ones included); twice that leaves room. */
#define MASQUE_QUIC_WATCHED_MAX 16u

#endif /* MASQUE_ADAPTER_NGTCP2_ROUTING_H */
