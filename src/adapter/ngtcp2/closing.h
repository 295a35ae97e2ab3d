/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * What a proxy keeps of a connection it closed, for the connection's closing period (RFC 9000
 * §10.2.1): its connection IDs, to know the peer's packets, and the packet that carried its
 * CONNECTION_CLOSE, to send again in answer to them. A peer whose copy was lost (or went to
 * an address it had just left) then learns of the close from its next packet, instead of
 * waiting for its idle timeout. Everything else of the connection is freed at once: requests,
 * relay sockets, TLS and HTTP/3 state. Internal to the binding (quic.c fills it, proxy.c keeps
 * a few and asks them about packets no client claims).
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
 * The Destination Connection ID of packet `pkt` (either header form, RFC 9000 §17): 0, or -1
 * when it has none that can be read.
 */
int masque_quic_packet_dcid(const uint8_t *pkt, size_t len, const uint8_t **dcid, size_t *dcidlen);

/*
 * Whether a packet whose Destination Connection ID is `dcid` belongs to the connection of
 * record k while its closing period lasts: 1, with *reply the CONNECTION_CLOSE to send back, or
 * NULL when the rate limit holds this one back (answers go to the 1st, 2nd, 4th, 8th, ...
 * packet, so that the peer cannot make this end send more than it receives: RFC 9000
 * §10.2.1); 0 when it is another connection's. A record whose period is over is freed here.
 */
int masque_quic_closing_match(masque_quic_closing *k, const uint8_t *dcid, size_t dcidlen,
                              uint64_t now_ns, const uint8_t **reply, size_t *reply_len);

#endif /* MASQUE_ADAPTER_NGTCP2_CLOSING_H */
