/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file context.h
 * @brief Context IDs as a host sees them: read-only copies, and the storage a session's table
 *        of Context IDs needs.
 *
 * A session (session.h) keeps every registered Context ID (-10 §3) in a table over storage the
 * host gives it once, at masque_session_init(). MASQUE_CONTEXT_TABLE_STORAGE_SIZE() says how
 * many bytes a number of contexts needs, as a constant expression, so that the storage can be
 * static. Hosts read the table through masque_session_context_get() and its siblings, which
 * return copies (masque_context_info); only the session changes it.
 *
 * Lookups by Context ID and by tuple are open-addressed hash indexes (linear probing, load
 * factor at most 1/2, backward-shift deletion), so their cost does not grow with the number of
 * contexts; the hash is keyed by masque_session_config.hash_seed. Closed IDs stay in the table
 * as tombstones, so that a repeated ID is recognised (-10 §3.1); when no slot is free the
 * oldest tombstone is recycled, and the table keeps, per parity, the highest ID it let go of:
 * IDs at or below it that it no longer remembers are refused, so a closed ID is never reused
 * (-13 §3.3) in bounded memory.
 */
#ifndef MASQUE_CONTEXT_H
#define MASQUE_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "masque/address.h"
#include "masque/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest number of contexts a table can hold. */
#define MASQUE_CONTEXT_CAPACITY_MAX ((size_t)1 << 24)
/** Bytes of one table entry. */
#define MASQUE_CONTEXT_ENTRY_SIZE   40u
/** @cond PRIVATE */
#define MASQUE_CONTEXT_P2_(c, n)    (size_t)(c) <= ((size_t)1 << (n)) ? ((size_t)2 << (n)):
/** @endcond */
/**
 * Slots of each of the table's two hash indexes for @p capacity entries: the smallest power of
 * two at least twice the capacity (a load factor of at most 1/2, masks instead of divisions).
 * A constant expression; 0 above MASQUE_CONTEXT_CAPACITY_MAX.
 */
#define MASQUE_CONTEXT_INDEX_SLOTS(capacity)                                                       \
    (MASQUE_CONTEXT_P2_(capacity, 0) MASQUE_CONTEXT_P2_(capacity, 1) MASQUE_CONTEXT_P2_(           \
        capacity, 2) MASQUE_CONTEXT_P2_(capacity, 3) MASQUE_CONTEXT_P2_(capacity, 4)               \
         MASQUE_CONTEXT_P2_(capacity, 5) MASQUE_CONTEXT_P2_(capacity, 6) MASQUE_CONTEXT_P2_(       \
             capacity, 7) MASQUE_CONTEXT_P2_(capacity, 8) MASQUE_CONTEXT_P2_(capacity, 9)          \
             MASQUE_CONTEXT_P2_(capacity, 10) MASQUE_CONTEXT_P2_(capacity, 11)                     \
                 MASQUE_CONTEXT_P2_(capacity, 12) MASQUE_CONTEXT_P2_(capacity, 13)                 \
                     MASQUE_CONTEXT_P2_(capacity, 14) MASQUE_CONTEXT_P2_(capacity, 15)             \
                         MASQUE_CONTEXT_P2_(capacity, 16) MASQUE_CONTEXT_P2_(capacity, 17)         \
                             MASQUE_CONTEXT_P2_(capacity, 18) MASQUE_CONTEXT_P2_(capacity, 19)     \
                                 MASQUE_CONTEXT_P2_(capacity, 20) MASQUE_CONTEXT_P2_(capacity, 21) \
                                     MASQUE_CONTEXT_P2_(capacity, 22)                              \
                                         MASQUE_CONTEXT_P2_(capacity, 23)                          \
                                             MASQUE_CONTEXT_P2_(capacity, 24) 0)
#if MASQUE_ENABLE_CONTEXT_INDEX
/**
 * Bytes of storage (aligned as uint64_t) a session needs for @p capacity contexts, open and
 * remembered closed ones together: the entries and two indexes of 4-byte slots (only the
 * entries where config.h leaves the indexes out). A constant expression, e.g.
 * `static uint64_t storage[MASQUE_CONTEXT_TABLE_STORAGE_SIZE(64) / 8];`.
 */
#define MASQUE_CONTEXT_TABLE_STORAGE_SIZE(capacity)                                                \
    (MASQUE_CONTEXT_ENTRY_SIZE * (size_t)(capacity) + 8u * MASQUE_CONTEXT_INDEX_SLOTS(capacity))
#else
/** Bytes of storage for @p capacity contexts: the entries alone (no indexes, config.h). */
#define MASQUE_CONTEXT_TABLE_STORAGE_SIZE(capacity) (MASQUE_CONTEXT_ENTRY_SIZE * (size_t)(capacity))
#endif

/** @brief Life cycle of a Context ID. */
typedef enum masque_context_state {
    MASQUE_CONTEXT_FREE = 0,    /**< Unused (never reported). */
    MASQUE_CONTEXT_PENDING = 1, /**< We sent COMPRESSION_ASSIGN; no ACK yet (-10 §3.1). */
    MASQUE_CONTEXT_ACTIVE = 2,  /**< Acknowledged, or registered by the peer and accepted. */
    MASQUE_CONTEXT_CLOSED = 3   /**< COMPRESSION_CLOSE sent or received: never used again. */
} masque_context_state;

/** @brief A copy of one Context ID's registration. */
typedef struct masque_context_info {
    uint64_t id;                /**< The Context ID. */
    masque_address target;      /**< Its tuple; version 0 for the uncompressed context. */
    masque_context_state state; /**< Pending, active or closed. */
    int opened_by_peer;         /**< Non-zero when the peer registered it. */
    uint64_t last_active;       /**< Caller time (ms) of its last datagram (open contexts). */
} masque_context_info;

/** @cond PRIVATE */
/* The table's layout, so that a session can be placed anywhere: private, no public function
 * takes these, and their fields may change in any release. */
typedef struct masque_context {
    /* The bytes every lookup tests first, where a small target's short loads reach them. */
    uint8_t state;
    uint8_t flags;
    uint8_t ip_version;
    uint16_t port;
    uint64_t id;
    uint64_t last_active;
    uint8_t ip[16];
} masque_context;

typedef struct masque_context_table {
    masque_context *entries;
    uint32_t *id_index;
    uint32_t *tuple_index;
    size_t capacity;
    size_t slots;
    size_t open_count;
    uint64_t seed;
    uint32_t free_head;
    uint32_t tomb_head;
    uint32_t tomb_tail;
    uint32_t uncompressed;
    uint64_t retired_max[2];
} masque_context_table;
/** @endcond */

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_CONTEXT_H */
