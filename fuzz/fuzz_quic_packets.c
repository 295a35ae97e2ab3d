/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Fuzz target: what the HTTP/3 binding's public API reads of a packet no connection claimed
 * (masque_quic_packet_dcid(), masque_quic_starts_connection()) and the stateless answers it
 * builds from one (masque_quic_stateless_reset(), masque_quic_version_negotiation()), on any
 * bytes a socket may deliver. The packet is copied to a buffer of its own length, so that
 * AddressSanitizer sees a read past it; each answer must keep the bounds quic.h gives it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "masque/quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 9000 §10.3: a reset is shorter than the packet it answers (§10.3.3), at least 21 bytes
 * and at most the 43 this end writes, with a short header's fixed bit. */
static void check_reset(const uint8_t *pkt, size_t size)
{
    static const uint8_t secret[MASQUE_QUIC_RESET_SECRET_LEN] = {0x5a};
    uint8_t out[64];
    size_t n = masque_quic_stateless_reset(secret, pkt, size, out, sizeof(out));
    if (n == 0) {
        return;
    }
    if (n >= size || n < 21 || n > 43 || (out[0] & 0xC0) != 0x40 || (pkt[0] & 0x80) != 0) {
        abort();
    }
}

/* RFC 9000 §17.2.1: Version 0 in a long header, shorter than the Initial it answers (a client's
 * first datagram: 1200 bytes at least, §14.1), within MASQUE_QUIC_VERSION_NEGOTIATION_MAX. */
static void check_version_negotiation(const uint8_t *pkt, size_t size)
{
    uint8_t out[MASQUE_QUIC_VERSION_NEGOTIATION_MAX];
    size_t n = masque_quic_version_negotiation(pkt, size, out, sizeof(out));
    if (n == 0) {
        return;
    }
    if (n >= size || size < 1200 || (out[0] & 0x80) == 0 || out[1] != 0 || out[2] != 0 ||
        out[3] != 0 || out[4] != 0 || 7u + out[5] + out[6u + out[5]] > n) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *pkt = malloc(size > 0 ? size : 1);
    const uint8_t *dcid = NULL;
    size_t dcidlen = 0;
    if (pkt == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(pkt, data, size);
    }
    if (masque_quic_packet_dcid(pkt, size, &dcid, &dcidlen) == 0 &&
        (dcid < pkt || dcidlen > 255 || (size_t)(dcid - pkt) + dcidlen > size)) {
        abort();
    }
    if (masque_quic_starts_connection(pkt, size) && (size < 1200 || (pkt[0] & 0x80) == 0)) {
        abort(); /* an Initial: a long header in a datagram of 1200 bytes at least (§14.1) */
    }
    check_reset(pkt, size);
    check_version_negotiation(pkt, size);
    free(pkt);
    return 0;
}
