/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * How long the capsules a request has queued for its stream have waited: both bindings drop a
 * DATAGRAM capsule that would queue behind capsules older than a bound (RFC 9298 §6: a late
 * datagram serves the protocols UDP carries less than a lost one). Offsets count the request
 * stream's body from its start; time is in ms. Internal to the bindings: in no public header.
 */
#ifndef MASQUE_ADAPTER_QUEUE_AGE_H
#define MASQUE_ADAPTER_QUEUE_AGE_H

#include <stddef.h>
#include <stdint.h>

/** Marks kept: the queue's history in that many steps of max_wait / MASQUE_QUEUE_AGE_MARKS. */
#define MASQUE_QUEUE_AGE_MARKS 16u

/** Default bound, in ms, of masque_quic_config and masque_h2_config.datagram_max_wait_ms. */
#define MASQUE_QUEUE_AGE_DEFAULT_MS 100u

/** When the queued bytes came: mark i covers the body up to end[i], queued from ms[i] on. */
typedef struct masque_queue_age {
    uint64_t end[MASQUE_QUEUE_AGE_MARKS];
    uint64_t ms[MASQUE_QUEUE_AGE_MARKS];
    size_t count;
} masque_queue_age;

/** Bytes up to `end` were queued at `now`; a mark of its own unless the newest is younger than
 *  max_wait / MASQUE_QUEUE_AGE_MARKS (or no mark is left: the newest then covers them, dated
 *  older than they are, so that they count as waiting longer, never shorter). */
void masque_queue_age_queued(masque_queue_age *q, uint64_t end, uint64_t now, uint64_t max_wait);

/** The body up to `read` has left the queue: the marks that covered only that go. */
void masque_queue_age_taken(masque_queue_age *q, uint64_t read);

/** How long the oldest byte still queued has waited at `now`, in ms: 0 when none is. */
uint64_t masque_queue_age_ms(const masque_queue_age *q, uint64_t now);

/** The bound a configuration asks for: `configured`, or the default for 0. */
uint64_t masque_queue_age_bound(uint64_t configured);

/** Whether the stream bytes `data`, written at `now`, are to be dropped: a DATAGRAM capsule
 *  (type 0, RFC 9297 §3.5, which the session writes in one byte; a batch of control capsules
 *  never begins with it) that would queue behind bytes older than max_wait ms (RFC 9298 §6: it
 *  would arrive too late to serve the protocol it carries). Control capsules always queue. */
int masque_queue_age_drops(const masque_queue_age *q, const uint8_t *data, size_t len, uint64_t now,
                           uint64_t max_wait);

#endif
