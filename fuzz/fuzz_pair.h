/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * What the fuzz targets of an honest client-proxy pair over a binding share (fuzz_quic over
 * HTTP/3, fuzz_h2_pair over HTTP/2): the script's peers, the record of what each end sent (a
 * set of fingerprints, so that the other end can be checked to hear only that) and the record
 * of the error codes the script chose (so that an end may be checked to end with no other).
 */
#ifndef MASQUE_FUZZ_PAIR_H
#define MASQUE_FUZZ_PAIR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "masque/address.h"

#define PAIR_SENT_SLOTS 4096 /* fingerprints of the packets one end sent, open addressing */
#define PAIR_MAX_CODES  16   /* error codes one script chooses */

/* The packets one end sent (request, peer, bytes), as fingerprints: what the other may hear. */
typedef struct pair_sent {
    uint64_t slots[PAIR_SENT_SLOTS]; /* 0: empty */
    size_t count;
    int full; /* half the slots taken: no longer recorded, nor checked */
} pair_sent;

/* Whether the two ends are still honest, and the codes the script gave cancels and closes. */
typedef struct pair_honesty {
    int dishonest; /* raw bytes went on a stream (or too many codes to keep): not judged */
    uint64_t codes[PAIR_MAX_CODES];
    size_t ncodes;
} pair_honesty;

/* FNV-1a of a packet on a request: its stream, its peer and its bytes; never 0. */
static inline uint64_t pair_fingerprint(uint64_t stream, const masque_address *peer,
                                        const uint8_t *bytes, size_t len)
{
    uint64_t h = 14695981039346656037u;
    size_t i;
#define PAIR_MIX(b) (h = (h ^ (uint8_t)(b)) * 1099511628211u)
    for (i = 0; i < 8; i++) {
        PAIR_MIX(stream >> (8 * i));
    }
    PAIR_MIX(peer->version);
    for (i = 0; i < sizeof(peer->bytes); i++) {
        PAIR_MIX(peer->bytes[i]);
    }
    PAIR_MIX(peer->port >> 8);
    PAIR_MIX(peer->port);
    for (i = 0; i < len; i++) {
        PAIR_MIX(bytes[i]);
    }
#undef PAIR_MIX
    return h == 0 ? 1 : h;
}

/* The slot that holds `print`, or the empty one where it would go. */
static inline size_t pair_slot(const pair_sent *s, uint64_t print)
{
    size_t i = (size_t)(print % PAIR_SENT_SLOTS);
    while (s->slots[i] != 0 && s->slots[i] != print) {
        i = (i + 1) % PAIR_SENT_SLOTS;
    }
    return i;
}

/* One end sent this packet on the request of `stream`. */
static inline void pair_note_sent(pair_sent *s, uint64_t stream, const masque_address *peer,
                                  const uint8_t *bytes, size_t len)
{
    uint64_t print = pair_fingerprint(stream, peer, bytes, len);
    size_t i = pair_slot(s, print);
    if (s->slots[i] == print) {
        return;
    }
    if (s->count == PAIR_SENT_SLOTS / 2) {
        s->full = 1;
        return;
    }
    s->slots[i] = print;
    s->count++;
}

/* Whether the end of `s` sent this packet (or may have: once the set is full). */
static inline int pair_was_sent(const pair_sent *s, uint64_t stream, const masque_address *peer,
                                const uint8_t *bytes, size_t len)
{
    uint64_t print = pair_fingerprint(stream, peer, bytes, len);
    return s->full || s->slots[pair_slot(s, print)] == print;
}

/* A code the script gives a cancel or a close: the peer may hear it. */
static inline uint64_t pair_chosen(pair_honesty *h, uint64_t code)
{
    if (h->ncodes == PAIR_MAX_CODES) {
        h->dishonest = 1;
    } else {
        h->codes[h->ncodes++] = code;
    }
    return code;
}

/* Whether an end may close with `code`: the script chose it, or the ends are not honest. */
static inline int pair_may_end_with(const pair_honesty *h, uint64_t code)
{
    size_t i;
    if (h->dishonest) {
        return 1;
    }
    for (i = 0; i < h->ncodes; i++) {
        if (h->codes[i] == code) {
            return 1;
        }
    }
    return 0;
}

/* A peer of the script's: one of two IPv4 tuples, an IPv6 one, or an unspecified address. */
static inline masque_address pair_peer_of(uint8_t b)
{
    static const uint8_t v4[4] = {192, 0, 2, 7};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    masque_address a;
    memset(&a, 0, sizeof(a));
    switch (b & 3u) {
    case 0:
        masque_address_set_v4(&a, v4, 53);
        break;
    case 1:
        masque_address_set_v4(&a, v4, (uint16_t)(1000u + b));
        break;
    case 2:
        masque_address_set_v6(&a, v6, 443);
        break;
    default:
        break;
    }
    return a;
}

#endif /* MASQUE_FUZZ_PAIR_H */
