/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * How a proxy answers packets for connections it no longer has, so that their peers learn it
 * from their next packet instead of at their idle timeout. Internal to the binding (quic.c
 * builds the answers, proxy.c sends them for packets no client claims); the stateless
 * answers, which any host may send, are public (quic.h: masque_quic_stateless_reset(),
 * masque_quic_version_negotiation()).
 *
 * A connection it closed lately: for the closing period (RFC 9000 §10.2.1) it keeps the
 * connection's IDs, to know the peer's packets, and the packet that carried its
 * CONNECTION_CLOSE, to send again in answer to them (a copy was lost, or went to an address
 * the peer had just left). Everything else of the connection is freed at once: requests, relay
 * sockets, TLS and HTTP/3 state.
 *
 * Any other (older, timed out, or a previous process's): a Stateless Reset (RFC 9000 §10.3),
 * whose token comes from a secret and the connection ID alone (§10.3.2), so that no state is
 * needed, and a restarted proxy with the same secret resets its predecessor's connections.
 *
 * And a client's first packet in a QUIC version this end does not speak: Version Negotiation
 * (RFC 9000 §6), which needs no state either.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_CLOSING_H
#define MASQUE_ADAPTER_NGTCP2_CLOSING_H

#include <stddef.h>
#include <stdint.h>

#include "masque/quic.h"

#define MASQUE_CLOSING_CIDS    16u  /* connection IDs kept (what the peer may be using) */
#define MASQUE_CLOSING_CID_MAX 20u  /* RFC 9000 §17.2: at most 20 bytes */
#define MASQUE_CLOSING_PKT_MAX 256u /* a 1-RTT CONNECTION_CLOSE without a reason is ~50 */

typedef struct masque_quic_closing {
    uint8_t cid[MASQUE_CLOSING_CIDS][MASQUE_CLOSING_CID_MAX];
    uint8_t cidlen[MASQUE_CLOSING_CIDS];
    size_t ncid;
    uint8_t pkt[MASQUE_CLOSING_PKT_MAX];
    size_t pkt_len;
    uint64_t until_ns; /* the end of the closing period; 0: the record is free */
    uint32_t heard;    /* the peer's packets answered or not so far */
} masque_quic_closing;

/*
 * Fills `out` from connection c, which this end closed with a CONNECTION_CLOSE it kept: its
 * closing period lasts three PTOs from `now_ns` (RFC 9000 §10.2), and a second at least. 0, or
 * -1 when there is nothing to keep (the peer closed it, it timed out, or the packet did not
 * fit).
 */
int masque_quic_closing_keep(const masque_quic_conn *c, masque_quic_closing *out, uint64_t now_ns);

/*
 * Whether a packet whose Destination Connection ID is `dcid` belongs to the connection of
 * record k while its closing period lasts: 1, with *reply the CONNECTION_CLOSE to send back, or
 * NULL when the rate limit holds this one back (answers go to the 1st, 2nd, 4th, 8th, ...
 * packet, so that the peer cannot make this end send more than it receives: RFC 9000
 * §10.2.1); 0 when it is another connection's. A record whose period is over is freed here.
 */
int masque_quic_closing_match(masque_quic_closing *k, const uint8_t *dcid, size_t dcidlen,
                              uint64_t now_ns, const uint8_t **reply, size_t *reply_len);

/*
 * A secret for Stateless Reset tokens (MASQUE_QUIC_RESET_SECRET_LEN bytes into `secret`): an
 * HMAC-SHA-256 of a fixed label keyed with the bytes of `key_file` (the TLS private key), so
 * that a proxy restarted with the same key derives the same one and the key itself is not
 * revealed by it; random when `key_file` is NULL or no file it can read (a PKCS #11 URL).
 * 0, or -1 when no random bytes came.
 */
int masque_quic_reset_secret_derive(const char *key_file, uint8_t *secret);

#endif /* MASQUE_ADAPTER_NGTCP2_CLOSING_H */
