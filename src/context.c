/* SPDX-License-Identifier: GPL-3.0-only */
#include "internal/context.h"
#include "internal/args.h"
#include "internal/wire.h"

#include <string.h>

#if MASQUE_ENABLE_SESSION /* config.h */

/*
 * Storage must be aligned as this platform aligns uint64_t (4 bytes on i386, 8 on most others);
 * C99 has no _Alignof, so a probe struct measures it.
 */
struct masque_align_probe {
    char pad;       /* cppcheck-suppress unusedStructMember */
    uint64_t value; /* cppcheck-suppress unusedStructMember */
};
#define U64_ALIGN offsetof(struct masque_align_probe, value)

/* MASQUE_CONTEXT_TABLE_STORAGE_SIZE() is a constant expression: the entry must be what it says. */
typedef char
    masque_entry_size_is_public[sizeof(masque_context) == MASQUE_CONTEXT_ENTRY_SIZE ? 1 : -1];

#if MASQUE_ENABLE_CONTEXT_INDEX
/* MASQUE_CONTEXT_INDEX_SLOTS() as a loop: the macro is for constant expressions, this is
 * smaller code for run time. */
static size_t index_slots(size_t capacity)
{
    size_t n = 2;
    while (n < 2u * capacity) {
        n <<= 1;
    }
    return n;
}
#define INDEX_BYTES(capacity) (8u * index_slots(capacity))
#else
#define INDEX_BYTES(capacity) 0u /* no indexes (config.h): lookups scan the entries */
#endif

size_t masque_context_table_storage_size(size_t capacity)
{
    /* At most 40 + 32 bytes per entry: below SIZE_MAX / 72 nothing wraps, even on 32 bits. */
    if (capacity == 0 || capacity > MASQUE_CONTEXT_CAPACITY_MAX || capacity > SIZE_MAX / 72u) {
        return 0;
    }
    return capacity * MASQUE_CONTEXT_ENTRY_SIZE + INDEX_BYTES(capacity);
}

size_t masque_context_table_capacity_for(size_t storage_len)
{
    /* Storage grows with the capacity (by steps, with the index): the largest fit by bisection,
     * from a bound of 56 bytes per entry (entry and at least two slots per index). */
    size_t lo = 0;
    size_t hi =
        storage_len / (MASQUE_CONTEXT_ENTRY_SIZE + (MASQUE_ENABLE_CONTEXT_INDEX ? 16u : 0u));
    if (hi > MASQUE_CONTEXT_CAPACITY_MAX) {
        hi = MASQUE_CONTEXT_CAPACITY_MAX;
    }
    if (!MASQUE_ENABLE_CONTEXT_INDEX) {
        return hi; /* entries only: the bound is exact */
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (masque_context_table_storage_size(mid) <= storage_len) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

#if MASQUE_ENABLE_CONTEXT_INDEX
/* A keyed 64-bit mix (the finaliser of splitmix64). */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9u;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBu;
    h ^= h >> 31;
    return h;
}

/* Maps a 64-bit hash onto the slots, a power of two (no division, which firmware lacks). */
static size_t reduce(const masque_context_table *t, uint64_t h)
{
    return (size_t)(h & (uint64_t)(t->slots - 1));
}

static size_t next_slot(const masque_context_table *t, size_t i)
{
    return (i + 1) & (t->slots - 1);
}

static size_t hash_id(const masque_context_table *t, uint64_t id)
{
    return reduce(t, mix(id ^ t->seed));
}

/* Reads 8 bytes in host order; only hashed, so the byte order does not matter. */
static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Address bytes that count for a version: IPv4 uses 4 (the rest may hold anything). */
static void tuple_words(uint8_t version, const uint8_t *ip, uint64_t *w0, uint64_t *w1)
{
    if (version == MASQUE_IP_V4) {
        uint32_t v;
        memcpy(&v, ip, sizeof(v));
        *w0 = v;
        *w1 = 0;
    } else {
        *w0 = load64(ip);
        *w1 = load64(ip + 8);
    }
}

static size_t hash_tuple(const masque_context_table *t, uint8_t version, const uint8_t *ip,
                         uint16_t port)
{
    uint64_t w0;
    uint64_t w1;
    uint64_t h;
    tuple_words(version, ip, &w0, &w1);
    /* Two keyed multiply rounds and a final mix: cheap, and the seed keeps peers from
     * predicting collisions. */
    h = (t->seed ^ ((uint64_t)version << 16 | port) ^ w0) * 0x9E3779B97F4A7C15u;
    h = (h ^ (h >> 29) ^ w1) * 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return reduce(t, h);
}

static size_t entry_tuple_home(const masque_context_table *t, const masque_context *c)
{
    return hash_tuple(t, c->ip_version, c->ip, c->port);
}
#endif /* MASQUE_ENABLE_CONTEXT_INDEX */

/* Whether a tuple lookup has a table to look in and a tuple that can be in it (both builds:
 * with and without indexes). */
static int tuple_lookup_valid(const masque_context_table *t, const masque_address *tuple)
{
    (void)t; /* read only by the argument checks (config.h) */
    return !MASQUE_BAD_ARGS(t == NULL || t->entries == NULL || tuple == NULL) &&
           (tuple->version == MASQUE_IP_V4 || tuple->version == MASQUE_IP_V6);
}

static int same_tuple(const masque_context *c, const masque_address *a)
{
    if (c->ip_version != a->version || c->port != a->port) {
        return 0;
    }
    if (a->version == MASQUE_IP_V4) {
        return memcmp(c->ip, a->bytes, 4) == 0;
    }
    return memcmp(c->ip, a->bytes, 16) == 0;
}

int masque_context_table_init(masque_context_table *t, void *storage, size_t storage_len,
                              size_t capacity, uint64_t seed)
{
    size_t need = masque_context_table_storage_size(capacity);
    size_t i;
    uint8_t *base = (uint8_t *)storage;

    if (need == 0 ||
        MASQUE_BAD_ARGS(t == NULL || storage == NULL || (uintptr_t)storage % U64_ALIGN != 0)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (storage_len < need) {
        return MASQUE_ERR_BUFFER;
    }
    memset(t, 0, sizeof(*t));
    memset(storage, 0, need);
    t->entries = (masque_context *)storage;
#if MASQUE_ENABLE_CONTEXT_INDEX
    {
        size_t slots = index_slots(capacity); /* load factor at most 1/2 */
        t->id_index = (uint32_t *)(void *)(base + capacity * sizeof(masque_context));
        t->tuple_index = t->id_index + slots;
        t->slots = slots;
    }
#else
    (void)base;
#endif
    t->capacity = capacity;
    t->seed = seed;
    /* Free list through the id field: slot i links to slot i+1. */
    for (i = 0; i < capacity; i++) {
        t->entries[i].id = (i + 1 < capacity) ? (uint64_t)(i + 2) : 0;
    }
    t->free_head = 1;
    return MASQUE_OK;
}

#if MASQUE_ENABLE_CONTEXT_INDEX
masque_context *masque_context_find(const masque_context_table *t, uint64_t id)
{
    size_t i;
    if (MASQUE_BAD_ARGS(t == NULL || t->entries == NULL)) {
        return NULL;
    }
    for (i = hash_id(t, id);; i = next_slot(t, i)) {
        uint32_t v = t->id_index[i];
        if (v == 0) {
            return NULL;
        }
        if (t->entries[v - 1].id == id) {
            return &t->entries[v - 1];
        }
    }
}

masque_context *masque_context_find_tuple(const masque_context_table *t,
                                          const masque_address *tuple)
{
    size_t i;
    if (!tuple_lookup_valid(t, tuple)) {
        return NULL;
    }
    for (i = hash_tuple(t, tuple->version, tuple->bytes, tuple->port);; i = next_slot(t, i)) {
        uint32_t v = t->tuple_index[i];
        if (v == 0) {
            return NULL;
        }
        if (same_tuple(&t->entries[v - 1], tuple)) {
            return &t->entries[v - 1];
        }
    }
}
#else
/* Without indexes: a scan over the entries, which is what a table of a few contexts costs
 * least code for. Free entries have state FREE; closed ones stay findable by ID. */
masque_context *masque_context_find(const masque_context_table *t, uint64_t id)
{
    size_t i;
    if (MASQUE_BAD_ARGS(t == NULL || t->entries == NULL)) {
        return NULL;
    }
    for (i = 0; i < t->capacity; i++) {
        masque_context *c = &t->entries[i];
        if (c->state != MASQUE_CONTEXT_FREE && c->id == id) {
            return c;
        }
    }
    return NULL;
}

masque_context *masque_context_find_tuple(const masque_context_table *t,
                                          const masque_address *tuple)
{
    size_t i;
    if (!tuple_lookup_valid(t, tuple)) {
        return NULL;
    }
    for (i = 0; i < t->capacity; i++) {
        masque_context *c = &t->entries[i];
        if ((c->state == MASQUE_CONTEXT_PENDING || c->state == MASQUE_CONTEXT_ACTIVE) &&
            same_tuple(c, tuple)) {
            return c;
        }
    }
    return NULL;
}
#endif

#if MASQUE_OPTIMIZE_SIZE
masque_context *masque_context_uncompressed(const masque_context_table *t)
{
    return masque_context_uncompressed_inline(t);
}
#endif

#if MASQUE_ENABLE_CONTEXT_INDEX
static void index_put(const masque_context_table *t, uint32_t *index, size_t home, uint32_t v)
{
    size_t i = home;
    while (index[i] != 0) {
        i = next_slot(t, i);
    }
    index[i] = v;
}

/* Removes value v from an index by backward-shift deletion (no index tombstones). */
static void index_remove(const masque_context_table *t, uint32_t *index, size_t home, uint32_t v,
                         int by_tuple)
{
    size_t i = home;
    size_t j;
    while (index[i] != v) {
        i = next_slot(t, i);
    }
    index[i] = 0;
    for (j = next_slot(t, i); index[j] != 0; j = next_slot(t, j)) {
        const masque_context *c = &t->entries[index[j] - 1];
        size_t k = by_tuple ? entry_tuple_home(t, c) : hash_id(t, c->id);
        /* Move index[j] into the hole at i unless its home lies cyclically in (i, j]. */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            index[i] = index[j];
            index[j] = 0;
            i = j;
        }
    }
}
#define INDEX_PUT(t, index, home, v)              index_put(t, index, home, v)
#define INDEX_REMOVE(t, index, home, v, by_tuple) index_remove(t, index, home, v, by_tuple)
#else
#define INDEX_PUT(t, index, home, v)              ((void)0)
#define INDEX_REMOVE(t, index, home, v, by_tuple) ((void)0)
#endif

/* Forgets nothing for good: the retired mark of the parity covers an ID that leaves. */
static MASQUE_SIZE_NOINLINE void raise_retired(masque_context_table *t, uint64_t id)
{
    uint64_t *mark = &t->retired_max[id & 1u];
    if (id > *mark) {
        *mark = id;
    }
}

int masque_context_id_retired(const masque_context_table *t, uint64_t id)
{
    if (MASQUE_BAD_ARGS(t == NULL || t->entries == NULL) || id == 0) {
        return 0;
    }
    return id <= t->retired_max[id & 1u] && masque_context_find(t, id) == NULL;
}

/* Frees the oldest tombstone's slot; returns 0 when there is none. */
static int recycle_tombstone(masque_context_table *t)
{
    uint32_t v = t->tomb_head;
    masque_context *c;
    if (v == 0) {
        return 0;
    }
    c = &t->entries[v - 1];
    t->tomb_head = (uint32_t)c->last_active;
    if (t->tomb_head == 0) {
        t->tomb_tail = 0;
    }
    INDEX_REMOVE(t, t->id_index, hash_id(t, c->id), v, 0);
    raise_retired(t, c->id); /* -13 §3.3: a closed ID stays refused after its slot goes */
    memset(c, 0, sizeof(*c));
    c->id = t->free_head;
    t->free_head = v;
    return 1;
}

/* Takes an entry for `id`, zeroed and found by its ID: a free one, or the oldest tombstone's;
 * NULL when every entry is open. *v is its number (index + 1). */
static masque_context *take_entry(masque_context_table *t, uint64_t id, uint32_t *v)
{
    masque_context *c;
    if (t->free_head == 0 && !recycle_tombstone(t)) {
        return NULL;
    }
    *v = t->free_head;
    c = &t->entries[*v - 1];
    t->free_head = (uint32_t)c->id;
    memset(c, 0, sizeof(*c));
    c->id = id;
    INDEX_PUT(t, t->id_index, hash_id(t, id), *v);
    return c;
}

int masque_context_insert(masque_context_table *t, uint64_t id, const masque_address *target,
                          masque_context_state state, uint8_t flags, uint64_t now,
                          masque_context **out)
{
    uint32_t v;
    masque_context *c;

    if (MASQUE_BAD_ARGS(t == NULL || t->entries == NULL ||
                        (state != MASQUE_CONTEXT_PENDING && state != MASQUE_CONTEXT_ACTIVE))) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (id == 0) {
        return MASQUE_ERR_CONTEXT_ID_ZERO;
    }
    if (target != NULL && masque_ip_len(target->version) == 0) {
        return MASQUE_ERR_ADDRESS;
    }
    if (masque_context_find(t, id) != NULL) {
        return MASQUE_ERR_DUPLICATE_CONTEXT_ID;
    }
    if (id <= t->retired_max[id & 1u]) {
        return MASQUE_ERR_CONTEXT_ID_RETIRED;
    }
    if (target == NULL && t->uncompressed != 0) {
        return MASQUE_ERR_SECOND_UNCOMPRESSED;
    }
    if (target != NULL && masque_context_find_tuple(t, target) != NULL) {
        return MASQUE_ERR_DUPLICATE_TUPLE;
    }
    c = take_entry(t, id, &v);
    if (c == NULL) {
        return MASQUE_ERR_TABLE_FULL;
    }
    c->last_active = now;
    c->state = (uint8_t)state;
    c->flags = flags;
    if (target != NULL) {
        c->ip_version = target->version;
        memcpy(c->ip, target->bytes, masque_ip_len(target->version));
        c->port = target->port;
        INDEX_PUT(t, t->tuple_index, entry_tuple_home(t, c), v);
    } else {
        t->uncompressed = v;
    }
    t->open_count++;
    if (out != NULL) {
        *out = c;
    }
    return MASQUE_OK;
}

/* Makes entry v a tombstone, newest in the FIFO (through last_active) that recycles the oldest. */
static MASQUE_SIZE_NOINLINE void tomb_append(masque_context_table *t, masque_context *c, uint32_t v)
{
    c->state = MASQUE_CONTEXT_CLOSED;
    c->last_active = 0;
    if (t->tomb_tail != 0) {
        t->entries[t->tomb_tail - 1].last_active = v;
    } else {
        t->tomb_head = v;
    }
    t->tomb_tail = v;
}

void masque_context_close(masque_context_table *t, masque_context *c)
{
    uint32_t v;
    if (MASQUE_BAD_ARGS(t == NULL || c == NULL || c < t->entries ||
                        c >= t->entries + t->capacity) ||
        (c->state != MASQUE_CONTEXT_PENDING && c->state != MASQUE_CONTEXT_ACTIVE)) {
        return;
    }
    v = (uint32_t)(c - t->entries) + 1u;
    if (c->ip_version == 0) {
        t->uncompressed = 0;
    } else {
        INDEX_REMOVE(t, t->tuple_index, entry_tuple_home(t, c), v, 1);
    }
    tomb_append(t, c, v);
    t->open_count--;
}

void masque_context_retire(masque_context_table *t, uint64_t id)
{
    uint32_t v;
    masque_context *c;
    if (MASQUE_BAD_ARGS(t == NULL || t->entries == NULL) || id == 0 ||
        masque_context_find(t, id) != NULL || id <= t->retired_max[id & 1u]) {
        return;
    }
    c = take_entry(t, id, &v);
    if (c == NULL) {
        raise_retired(t, id); /* every slot is open: the mark remembers it */
        return;
    }
    c->flags = MASQUE_CONTEXT_FLAG_PEER;
    tomb_append(t, c, v);
}

void masque_context_target(const masque_context *c, masque_address *out)
{
    memset(out, 0, sizeof(*out));
    out->version = c->ip_version;
    memcpy(out->bytes, c->ip, masque_ip_len(c->ip_version));
    out->port = c->port;
}

void masque_context_describe(const masque_context *c, masque_context_info *out)
{
    memset(out, 0, sizeof(*out));
    out->id = c->id;
    masque_context_target(c, &out->target);
    out->state = (masque_context_state)c->state;
    out->opened_by_peer = (c->flags & MASQUE_CONTEXT_FLAG_PEER) != 0;
    out->last_active = c->state == MASQUE_CONTEXT_CLOSED ? 0 : c->last_active;
}

size_t masque_context_open_count(const masque_context_table *t)
{
    return t == NULL ? 0 : t->open_count;
}

masque_context *masque_context_at(const masque_context_table *t, size_t index)
{
    if (MASQUE_BAD_ARGS(t == NULL || t->entries == NULL) || index >= t->capacity) {
        return NULL;
    }
    return &t->entries[index];
}

size_t masque_context_table_capacity(const masque_context_table *t)
{
    return t == NULL ? 0 : t->capacity;
}

#endif /* MASQUE_ENABLE_SESSION */
