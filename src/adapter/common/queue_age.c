/* SPDX-License-Identifier: GPL-3.0-only */
#include "queue_age.h"

void masque_queue_age_queued(masque_queue_age *q, uint64_t end, uint64_t now, uint64_t max_wait)
{
    uint64_t step = max_wait / MASQUE_QUEUE_AGE_MARKS;
    if (q->count > 0 && (q->count == MASQUE_QUEUE_AGE_MARKS || now - q->ms[q->count - 1] <= step)) {
        q->end[q->count - 1] = end;
        return;
    }
    q->end[q->count] = end;
    q->ms[q->count] = now;
    q->count++;
}

void masque_queue_age_taken(masque_queue_age *q, uint64_t read)
{
    size_t gone = 0;
    size_t i;
    while (gone < q->count && q->end[gone] <= read) {
        gone++;
    }
    for (i = gone; i < q->count; i++) {
        q->end[i - gone] = q->end[i];
        q->ms[i - gone] = q->ms[i];
    }
    q->count -= gone;
}

uint64_t masque_queue_age_ms(const masque_queue_age *q, uint64_t now)
{
    return q->count > 0 && now > q->ms[0] ? now - q->ms[0] : 0;
}

uint64_t masque_queue_age_bound(uint64_t configured)
{
    return configured != 0 ? configured : MASQUE_QUEUE_AGE_DEFAULT_MS;
}

int masque_queue_age_drops(const masque_queue_age *q, const uint8_t *data, size_t len, uint64_t now,
                           uint64_t max_wait)
{
    return len > 0 && data[0] == 0x00 && masque_queue_age_ms(q, now) > max_wait;
}
