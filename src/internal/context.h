/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The Context ID table: only the session changes it (hosts read copies through session.h).
 * Entries live in caller storage laid out as MASQUE_CONTEXT_TABLE_STORAGE_SIZE() says: the
 * entries, then the index by ID, then the index by tuple (MASQUE_CONTEXT_INDEX_SLOTS() each).
 */
#ifndef MASQUE_INTERNAL_CONTEXT_H
#define MASQUE_INTERNAL_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "masque/context.h"

/* Entry flag: the peer registered this Context ID. */
#define MASQUE_CONTEXT_FLAG_PEER 0x01u

/* Bytes a table of `capacity` entries needs; 0 when capacity is 0 or too large. */
size_t masque_context_table_storage_size(size_t capacity);

/* The largest capacity whose storage fits in storage_len bytes (0 when none). */
size_t masque_context_table_capacity_for(size_t storage_len);

/* Prepares a table over storage aligned as uint64_t. MASQUE_OK; MASQUE_ERR_BUFFER when
 * storage_len is too small; MASQUE_ERR_INVALID_ARGUMENT for a bad capacity or alignment. */
int masque_context_table_init(masque_context_table *t, void *storage, size_t storage_len,
                              size_t capacity, uint64_t seed);

/* The entry of an ID, open or closed (NULL when not remembered). */
masque_context *masque_context_find(const masque_context_table *t, uint64_t id);

/* The open compressed context of a tuple, or NULL. */
masque_context *masque_context_find_tuple(const masque_context_table *t,
                                          const masque_address *tuple);

/* Whether any compressed context is open (the uncompressed one does not count): a session that
 * carries every tuple in its datagrams (-10 §4) asks before each send's tuple lookup, and skips
 * the hashing. */
static inline int masque_context_any_compressed(const masque_context_table *t)
{
    return t->open_count > (t->uncompressed != 0 ? 1u : 0u);
}

/* The open uncompressed context (at most one, -10 §4), or NULL. */
static inline masque_context *masque_context_uncompressed_inline(const masque_context_table *t)
{
    return t->uncompressed == 0 ? NULL : &t->entries[t->uncompressed - 1];
}

#if MASQUE_OPTIMIZE_SIZE
/* One copy, in context.c, for builds that count bytes of code (config.h). */
masque_context *masque_context_uncompressed(const masque_context_table *t);
#else
#define masque_context_uncompressed masque_context_uncompressed_inline /* every send asks */
#endif

/*
 * Registers an ID: target NULL for the uncompressed context; state PENDING or ACTIVE.
 * MASQUE_OK; MASQUE_ERR_DUPLICATE_CONTEXT_ID (remembered, open or closed);
 * MASQUE_ERR_CONTEXT_ID_RETIRED (at or below an ID the table had to forget);
 * MASQUE_ERR_DUPLICATE_TUPLE; MASQUE_ERR_SECOND_UNCOMPRESSED; MASQUE_ERR_TABLE_FULL;
 * MASQUE_ERR_CONTEXT_ID_ZERO; MASQUE_ERR_ADDRESS; MASQUE_ERR_INVALID_ARGUMENT. The table is
 * unchanged on error.
 */
int masque_context_insert(masque_context_table *t, uint64_t id, const masque_address *target,
                          masque_context_state state, uint8_t flags, uint64_t now,
                          masque_context **out);

/* Closes an open entry: it leaves the tuple index and becomes a tombstone. */
void masque_context_close(masque_context_table *t, masque_context *c);

/* 1 when an ID not remembered is at or below the retired mark of its parity. */
int masque_context_id_retired(const masque_context_table *t, uint64_t id);

/* Remembers an ID that was used without being registered (a refused ASSIGN). */
void masque_context_retire(masque_context_table *t, uint64_t id);

/* The tuple of an entry (version 0 for the uncompressed context). */
void masque_context_target(const masque_context *c, masque_address *out);

/* A copy of an entry for hosts. */
void masque_context_describe(const masque_context *c, masque_context_info *out);

/* Open (pending or active) entries. */
size_t masque_context_open_count(const masque_context_table *t);

/* The entry at slot index (0 .. capacity-1), or NULL out of range. */
masque_context *masque_context_at(const masque_context_table *t, size_t index);

/* The capacity. */
size_t masque_context_table_capacity(const masque_context_table *t);

#endif /* MASQUE_INTERNAL_CONTEXT_H */
