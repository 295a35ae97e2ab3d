/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The count of Bind requests each client identity holds, shared by the workers of one port
 * (masque_quic_quota_share, quic.h): made before they fork, in a shared mapping, under a
 * process-shared robust mutex that is taken once when a request is counted and once when it
 * ends, and for the rate quotas once per lease of a sixteenth of a second's tokens, never per
 * datagram. Internal to the binding (proxy.c); it depends on neither ngtcp2 nor
 * nghttp3, so that it is unit-tested alone.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_QUOTA_SHARE_H
#define MASQUE_ADAPTER_NGTCP2_QUOTA_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "masque/quic.h"

/* The most identities a share is made for (as masque_quic_proxy_config.max_identities). */
#define MASQUE_QUOTA_SHARE_IDENTITIES_MAX 1000000u

/* A second, in ns: each bucket's burst is a second's worth of its rate, so a bucket that was
 * leased from last at time t is full again at t + MASQUE_QUOTA_SHARE_REFILL_NS. */
#define MASQUE_QUOTA_SHARE_REFILL_NS 1000000000u

/* masque_quic_quota_share_new() with the hash seeded by `seed` instead of at random: the unit
 * test chooses where names land. */
masque_quic_quota_share *masque_quota_share_new_seeded(size_t identities, uint64_t seed);

/* One more request for `name` at `now_ns` (CLOCK_MONOTONIC, the same in every process): 1; 0
 * when it holds `quota` already; -1 when it holds no slot and the share already holds as many
 * identities as it has room for (the proxy's limit, not the identity's quota). */
int masque_quota_share_take(masque_quic_quota_share *s, const char *name, size_t quota,
                            uint64_t now_ns);

/* A request of `name` ended at `now_ns`: its count goes down. Its slot is freed with its last
 * request, unless its token buckets are not full yet (a lease less than a second ago): then it
 * stays, holding no request, until they are, so that ending a request and making another
 * never refills them early. */
void masque_quota_share_give(masque_quic_quota_share *s, const char *name, uint64_t now_ns);

/* The rates of an identity's two token buckets, per second (0: no such quota); each bucket
 * holds a second's worth at most and starts full. Every worker passes the same. */
typedef struct masque_quota_rates {
    double datagrams;
    double bytes;
} masque_quota_rates;

/* A token bucket of a rate quota refilled at `rate` a second for `seconds`: it holds a
 * second's worth at most (the burst). The same for this process's buckets and the shared
 * ones. */
static inline void masque_bucket_refill(double *tokens, double rate, double seconds)
{
    *tokens += seconds * rate;
    if (*tokens > rate) {
        *tokens = rate;
    }
}

/* Takes tokens from the buckets of `name`, which holds a request, refilled up to `now_ns`: up
 * to `want_datagrams` and `want_bytes`, as many as there are, added to `*datagrams` and
 * `*bytes` (nothing for a name that holds no slot). */
void masque_quota_share_lease(masque_quic_quota_share *s, const char *name, uint64_t now_ns,
                              const masque_quota_rates *rates, double want_datagrams,
                              double want_bytes, double *datagrams, double *bytes);

/* The requests `name` holds (0 for one the share does not hold). */
size_t masque_quota_share_held(masque_quic_quota_share *s, const char *name);

#endif /* MASQUE_ADAPTER_NGTCP2_QUOTA_SHARE_H */
