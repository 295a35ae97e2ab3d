/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file context.h
 * @brief The Context ID table of one Bind request: caller storage, O(1) lookups.
 *
 * Each entry is a registered Context ID (-10 §3): uncompressed (IP Version 0) or compressed for
 * one tuple, pending (our ASSIGN not yet acknowledged) or active, opened by us or by the peer.
 * Closed IDs stay in the table as tombstones, so that a repeated ID is recognised (-10 §3.1,
 * -13 §3.3: a closed ID is never reused); a tombstone's slot is recycled, oldest first, only
 * when no free slot is left. A recycled ID is not forgotten: the table keeps, per parity, the
 * highest ID it ever had to let go of, and refuses every ID at or below it that it does not
 * remember (MASQUE_ERR_CONTEXT_ID_RETIRED). Peers allocate IDs in increasing order in
 * practice, so this refuses nothing a correct peer sends, and a reused ID is never accepted,
 * for the life of the table, in bounded memory.
 *
 * Lookups by Context ID and by tuple are open-addressed hash indexes (linear probing, load
 * factor at most 1/2, backward-shift deletion), so their cost does not grow with the number of
 * contexts. The hash is keyed by a caller-supplied seed: give a random one when peers are not
 * trusted, so that they cannot choose IDs or tuples that collide.
 *
 * The library never allocates: masque_context_table_storage_size() tells how many bytes a
 * capacity needs, and the caller passes that storage (aligned for uint64_t) to init.
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

/** Largest capacity a table can have. */
#define MASQUE_CONTEXT_CAPACITY_MAX ((size_t)1 << 30)

/** @brief Life cycle of a table entry. */
typedef enum masque_context_state {
    MASQUE_CONTEXT_FREE = 0,    /**< Unused slot. */
    MASQUE_CONTEXT_PENDING = 1, /**< We sent COMPRESSION_ASSIGN; no ACK yet (-10 §3.1). */
    MASQUE_CONTEXT_ACTIVE = 2,  /**< Acknowledged, or registered by the peer and accepted. */
    MASQUE_CONTEXT_CLOSED = 3   /**< COMPRESSION_CLOSE sent or received: never used again. */
} masque_context_state;

/** Entry flag: the peer registered this Context ID. */
#define MASQUE_CONTEXT_FLAG_PEER 0x01u

/**
 * @brief One table entry (40 bytes). Read it through the accessors; fields are private.
 */
typedef struct masque_context {
    uint64_t id;          /**< Context ID (free slot: private link). */
    uint64_t last_active; /**< Caller time of the last datagram (closed: private link). */
    uint8_t ip[16];       /**< Target address (compressed contexts). */
    uint16_t port;        /**< Target port. */
    uint8_t ip_version;   /**< 0 for the uncompressed context, else 4 or 6. */
    uint8_t state;        /**< masque_context_state. */
    uint8_t flags;        /**< MASQUE_CONTEXT_FLAG_*. */
} masque_context;

/** @brief The table. Place it anywhere; fields are private. */
typedef struct masque_context_table {
    masque_context *entries; /**< Private. */
    uint32_t *id_index;      /**< Private: entry index + 1 per slot, 0 empty. */
    uint32_t *tuple_index;   /**< Private: open compressed contexts by tuple. */
    size_t capacity;         /**< Private. */
    size_t mask;             /**< Private: index slots - 1. */
    size_t open_count;       /**< Private: pending + active entries. */
    uint64_t seed;           /**< Private: hash key. */
    uint32_t free_head;      /**< Private: entry index + 1. */
    uint32_t tomb_head;      /**< Private: oldest closed entry, index + 1. */
    uint32_t tomb_tail;      /**< Private: newest closed entry, index + 1. */
    uint32_t uncompressed;   /**< Private: open uncompressed entry, index + 1. */
    uint64_t retired_max[2]; /**< Private: highest forgotten ID per parity (even, odd). */
} masque_context_table;

/**
 * @brief Bytes of storage a table of @p capacity entries needs.
 * @return The size (entries plus both indexes); 0 when @p capacity is 0 or above
 *         MASQUE_CONTEXT_CAPACITY_MAX.
 */
MASQUE_API size_t masque_context_table_storage_size(size_t capacity);

/**
 * @brief Prepare a table over caller storage.
 * @param t The table.
 * @param storage At least masque_context_table_storage_size(capacity) bytes, aligned for
 *        uint64_t; owned by the caller, used until the table is dropped.
 * @param storage_len Bytes at @p storage.
 * @param capacity Most entries (open and remembered closed ones) at once.
 * @param seed Hash key; use a random value when peers are untrusted.
 * @return MASQUE_OK; MASQUE_ERR_BUFFER when @p storage_len is too small;
 *         MASQUE_ERR_INVALID_ARGUMENT for a bad capacity or misaligned storage.
 */
MASQUE_API int masque_context_table_init(masque_context_table *t, void *storage, size_t storage_len,
                                         size_t capacity, uint64_t seed);

/**
 * @brief Find a Context ID, open or closed.
 * @return The entry, or NULL when the ID is not remembered.
 */
MASQUE_API masque_context *masque_context_find(const masque_context_table *t, uint64_t id);

/**
 * @brief Find the open (pending or active) compressed context of a tuple.
 * @return The entry, or NULL.
 */
MASQUE_API masque_context *masque_context_find_tuple(const masque_context_table *t,
                                                     const masque_address *tuple);

/**
 * @brief The open uncompressed context, if any (there is at most one, -10 §4).
 * @return The entry, or NULL.
 */
MASQUE_API masque_context *masque_context_uncompressed(const masque_context_table *t);

/**
 * @brief Register a Context ID.
 * @param t The table.
 * @param id Context ID, not 0.
 * @param target Tuple of a compressed context, or NULL for the uncompressed one.
 * @param state MASQUE_CONTEXT_PENDING or MASQUE_CONTEXT_ACTIVE.
 * @param flags MASQUE_CONTEXT_FLAG_* bits.
 * @param now Caller time, stored as the last activity.
 * @param[out] out Receives the entry (may be NULL).
 * @return MASQUE_OK; MASQUE_ERR_DUPLICATE_CONTEXT_ID when @p id is remembered (open or
 *         closed); MASQUE_ERR_CONTEXT_ID_RETIRED when @p id is at or below an ID the table
 *         had to forget (it may have been used); MASQUE_ERR_DUPLICATE_TUPLE when an open context
 * has the tuple; MASQUE_ERR_SECOND_UNCOMPRESSED when an uncompressed context is open;
 *         MASQUE_ERR_TABLE_FULL when no slot is free and no closed one can be recycled;
 *         MASQUE_ERR_CONTEXT_ID_ZERO; MASQUE_ERR_ADDRESS; MASQUE_ERR_INVALID_ARGUMENT.
 *         The table is unchanged on error.
 */
MASQUE_API int masque_context_insert(masque_context_table *t, uint64_t id,
                                     const masque_address *target, masque_context_state state,
                                     uint8_t flags, uint64_t now, masque_context **out);

/**
 * @brief Close an open context: it leaves the tuple index and becomes a tombstone.
 * @param t The table.
 * @param c An entry of @p t in state pending or active (others are left alone).
 */
MASQUE_API void masque_context_close(masque_context_table *t, masque_context *c);

/**
 * @brief Whether a Context ID that is not remembered may have been used before: it is at or
 *        below the highest ID of its parity whose entry the table recycled.
 * @return 1 when the ID must be refused as possibly reused (-13 §3.3), 0 otherwise (also for
 *         an ID the table remembers: masque_context_find() tells about those).
 */
MASQUE_API int masque_context_id_retired(const masque_context_table *t, uint64_t id);

/**
 * @brief Remember that a Context ID was used without registering it (a refused ASSIGN):
 *        as a closed entry when a slot is free or a closed one can be recycled, else by
 *        raising the retired mark of its parity, so that it is never accepted later.
 * @param t The table.
 * @param id The Context ID (0 and IDs already remembered are left alone).
 */
MASQUE_API void masque_context_retire(masque_context_table *t, uint64_t id);

/**
 * @brief The tuple of a compressed context.
 * @param c The entry.
 * @param[out] out Receives the tuple (version 0 for the uncompressed context).
 */
MASQUE_API void masque_context_target(const masque_context *c, masque_address *out);

/**
 * @brief Number of open (pending or active) contexts.
 */
MASQUE_API size_t masque_context_open_count(const masque_context_table *t);

/**
 * @brief Entry at a slot, for iteration (0 .. capacity-1); check its state.
 * @return The entry, or NULL when @p index is out of range.
 */
MASQUE_API masque_context *masque_context_at(const masque_context_table *t, size_t index);

/**
 * @brief The table's capacity.
 */
MASQUE_API size_t masque_context_table_capacity(const masque_context_table *t);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_CONTEXT_H */
