/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * What the binding's hash tables with linear probing have in common: the proxy's indexes of
 * clients (by address, by connection ID), of identities by name, and the count of requests
 * that workers share (quota_share.c). Each table keeps its own seed, drawn at random, so that
 * a peer who chooses names or addresses (an anonymous client picks its IPv6 /64) cannot aim
 * them at one slot. Internal to the binding.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_OPEN_TABLE_H
#define MASQUE_ADAPTER_NGTCP2_OPEN_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* A name's hash under `seed`: FNV-1a from the seed, then a final mix so that the low bits, the
 * ones a power-of-two table uses, depend on every byte. */
static inline uint64_t masque_name_hash(uint64_t seed, const char *name)
{
    uint64_t h = seed;
    for (; *name != '\0'; name++) {
        h = (h ^ (uint8_t)*name) * 0x100000001B3u;
    }
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return h;
}

/* Whether the entry in slot j, at home `home`, stays where it is when slot i before it (in
 * probing order) was emptied: it does when its home lies cyclically in (i, j], else it moves
 * into the hole (deletion from a table with linear probing, without tombstones). */
static inline int masque_stays_after_hole(size_t i, size_t j, size_t home)
{
    return (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
}

#endif /* MASQUE_ADAPTER_NGTCP2_OPEN_TABLE_H */
