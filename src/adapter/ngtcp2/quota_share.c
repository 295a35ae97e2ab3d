/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The count of requests that workers share (quota_share.h): one mapping, shared by the
 * processes forked after it was made, with open addressing over a power of two of slots at a
 * load of a half at most. Each identity's slot is freed with its last request, by
 * backward-shift deletion, so that no probe ever crosses a tombstone and a table that sees
 * many identities come and go never fills with them.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, robust mutexes, clock_gettime */

#include "quota_share.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "open_table.h"

/* An identity that holds requests, by name, and its rate quotas' token buckets; a free slot has
 * an empty name, and one that holds no request stays until its buckets are full again. */
typedef struct share_slot {
    char name[sizeof(((masque_quic_usage *)0)->identity)];
    size_t requests;
    double datagram_tokens;
    double byte_tokens;
    uint64_t leased_ns; /* the last lease, when the buckets were refilled; 0: none yet, full */
} share_slot;

/* How often, at most, a full share looks for slots that hold no request and whose buckets have
 * refilled (a scan of every slot, under the lock): a sixteenth of a second. */
#define SWEEP_NS (MASQUE_QUOTA_SHARE_REFILL_NS / 16u)

struct masque_quic_quota_share {
    pthread_mutex_t lock; /* process-shared and robust: a worker may die holding it */
    uint64_t seed;        /* of the names' hash: drawn once, the same in every worker */
    uint64_t swept_ns;    /* the last scan for slots to free */
    size_t mapped;        /* bytes of the mapping */
    size_t mask;          /* slots - 1 */
    size_t used;          /* slots taken: identities holding requests, and those that stay */
    size_t staying;       /* of them, those that hold no request */
    share_slot slot[];
};

masque_quic_quota_share *masque_quota_share_new_seeded(size_t identities, uint64_t seed)
{
    masque_quic_quota_share *s;
    pthread_mutexattr_t attr;
    size_t slots = 2;
    size_t mapped;
    void *at;
    int ok;
    if (identities == 0 || identities > MASQUE_QUOTA_SHARE_IDENTITIES_MAX) {
        return NULL;
    }
    while (slots < 2 * identities) {
        slots *= 2;
    }
    mapped = offsetof(masque_quic_quota_share, slot) + slots * sizeof(share_slot);
    at = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (at == MAP_FAILED) {
        return NULL;
    }
    s = at; /* zeroed: every slot free */
    s->seed = seed;
    s->mapped = mapped;
    s->mask = slots - 1;
    ok = pthread_mutexattr_init(&attr) == 0;
    ok = ok && pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
         pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
         pthread_mutex_init(&s->lock, &attr) == 0;
    (void)pthread_mutexattr_destroy(&attr);
    if (!ok) {
        (void)munmap(at, mapped);
        return NULL;
    }
    return s;
}

masque_quic_quota_share *masque_quic_quota_share_new(size_t identities)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        struct timespec now;
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        seed = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec; /* a spread only */
    }
    return masque_quota_share_new_seeded(identities, seed);
}

void masque_quic_quota_share_free(masque_quic_quota_share *s)
{
    if (s != NULL) {
        (void)munmap(s, s->mapped);
    }
}

static void share_lock(masque_quic_quota_share *s)
{
    if (pthread_mutex_lock(&s->lock) == EOWNERDEAD) {
        /* A worker died holding it, perhaps halfway through a removal that moves several
         * slots: an identity may be missed or counted twice, never read out of bounds (every
         * name's last byte stays 0), and only until the group stops (masque-proxy stops every
         * worker when one ends abnormally). */
        (void)pthread_mutex_consistent(&s->lock);
    }
}

static size_t share_home(const masque_quic_quota_share *s, const char *name)
{
    return (size_t)(masque_name_hash(s->seed, name) & s->mask);
}

/* The slot of `name`, or the free slot where it would go (there is one: half are free). */
static size_t share_find(const masque_quic_quota_share *s, const char *name)
{
    size_t i = share_home(s, name);
    while (s->slot[i].name[0] != '\0' && strcmp(s->slot[i].name, name) != 0) {
        i = (i + 1) & s->mask;
    }
    return i;
}

/* Whether the identity in slot i holds no request and its buckets are full at `now_ns`. */
static int share_spent(const masque_quic_quota_share *s, size_t i, uint64_t now_ns)
{
    const share_slot *e = &s->slot[i];
    /* A worker may read its clock just before another's lease: then not a second yet. */
    return e->requests == 0 &&
           (e->leased_ns == 0 ||
            (now_ns >= e->leased_ns && now_ns - e->leased_ns >= MASQUE_QUOTA_SHARE_REFILL_NS));
}

/* Frees slot i, by backward-shift deletion. */
static void share_remove(masque_quic_quota_share *s, size_t i)
{
    size_t j;
    for (j = (i + 1) & s->mask; s->slot[j].name[0] != '\0'; j = (j + 1) & s->mask) {
        if (!masque_stays_after_hole(i, j, share_home(s, s->slot[j].name))) {
            s->slot[i] = s->slot[j];
            i = j;
        }
    }
    memset(&s->slot[i], 0, sizeof(s->slot[i]));
    s->used--;
}

/* Frees the slots of identities that stay for their buckets and whose buckets have refilled. A
 * removal may move a later entry into slot i, so i is looked at again. */
static void share_sweep(masque_quic_quota_share *s, uint64_t now_ns)
{
    size_t i;
    s->swept_ns = now_ns;
    for (i = 0; i <= s->mask && s->staying > 0; i++) {
        while (s->slot[i].name[0] != '\0' && share_spent(s, i, now_ns)) {
            share_remove(s, i);
            s->staying--;
        }
    }
}

int masque_quota_share_take(masque_quic_quota_share *s, const char *name, size_t quota,
                            uint64_t now_ns)
{
    size_t room = (s->mask + 1) / 2;
    size_t i;
    int taken = 0;
    share_lock(s);
    i = share_find(s, name);
    if (s->slot[i].name[0] == '\0' && s->used >= room && s->staying > 0 &&
        now_ns - s->swept_ns >= SWEEP_NS) {
        share_sweep(s, now_ns);
        i = share_find(s, name);
    }
    if (s->slot[i].name[0] != '\0') {
        if (s->slot[i].requests < quota) {
            s->staying -= s->slot[i].requests == 0;
            s->slot[i].requests++;
            taken = 1;
        }
    } else if (quota > 0) {
        if (s->used < room) {
            (void)snprintf(s->slot[i].name, sizeof(s->slot[i].name), "%s", name);
            s->slot[i].requests = 1;
            s->used++;
            taken = 1;
        } else {
            taken = -1;
        }
    }
    (void)pthread_mutex_unlock(&s->lock);
    return taken;
}

void masque_quota_share_give(masque_quic_quota_share *s, const char *name, uint64_t now_ns)
{
    size_t i;
    share_lock(s);
    i = share_find(s, name);
    if (s->slot[i].name[0] != '\0' && s->slot[i].requests > 0 && --s->slot[i].requests == 0) {
        if (share_spent(s, i, now_ns)) {
            share_remove(s, i);
        } else {
            s->staying++;
        }
    }
    (void)pthread_mutex_unlock(&s->lock);
}

/* One bucket refilled at `rate` for `seconds`, then up to `want` taken from it: what was
 * taken. */
static double bucket_lease(double *tokens, double rate, double seconds, double want)
{
    double taken;
    masque_bucket_refill(tokens, rate, seconds);
    taken = want < *tokens ? want : *tokens;
    taken = taken > 0.0 ? taken : 0.0;
    *tokens -= taken;
    return taken;
}

void masque_quota_share_lease(masque_quic_quota_share *s, const char *name, uint64_t now_ns,
                              const masque_quota_rates *rates, double want_datagrams,
                              double want_bytes, double *datagrams, double *bytes)
{
    share_slot *e;
    share_lock(s);
    e = &s->slot[share_find(s, name)];
    if (e->name[0] != '\0') {
        double seconds = 1.0; /* a bucket never leased from is full */
        if (e->leased_ns != 0) {
            seconds = now_ns > e->leased_ns ? (double)(now_ns - e->leased_ns) / 1e9 : 0.0;
        }
        if (now_ns > e->leased_ns) { /* never back: another worker's lease may be later */
            e->leased_ns = now_ns;
        }
        e->leased_ns += e->leased_ns == 0; /* 0 says "never leased" */
        *datagrams += bucket_lease(&e->datagram_tokens, rates->datagrams, seconds, want_datagrams);
        *bytes += bucket_lease(&e->byte_tokens, rates->bytes, seconds, want_bytes);
    }
    (void)pthread_mutex_unlock(&s->lock);
}

size_t masque_quota_share_held(masque_quic_quota_share *s, const char *name)
{
    size_t held;
    share_lock(s);
    held = s->slot[share_find(s, name)].requests;
    (void)pthread_mutex_unlock(&s->lock);
    return held;
}

int masque_quic_quota_share_count(masque_quic_quota_share *s, size_t *taken, size_t *keeping,
                                  size_t *room)
{
    if (s == NULL || taken == NULL || keeping == NULL || room == NULL) {
        return -1;
    }
    share_lock(s);
    *taken = s->used;
    *keeping = s->staying;
    *room = (s->mask + 1) / 2;
    (void)pthread_mutex_unlock(&s->lock);
    return 0;
}
