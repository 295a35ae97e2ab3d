/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Differential fuzz target for the incremental capsule parser: the first byte seeds the chunk
 * sizes, the rest is a capsule stream. Fed in those chunks, the parser must report exactly what
 * one-shot decoding (plus the documented length bounds) says about the same bytes; fed through
 * masque_capsule_parser_feed_batch() in the same chunks, it must give the same pieces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "masque/capsule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CAPSULES 512

typedef struct record {
    uint64_t type;
    uint64_t length;
    uint64_t sum; /* checksum of the value for known kinds */
} record;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001B3u;
    }
    return h;
}

static int within_bounds(masque_capsule_kind kind, uint64_t length)
{
    switch (kind) {
    case MASQUE_CAPSULE_COMPRESSION_ASSIGN:
        return length >= 2 && length <= 27;
    case MASQUE_CAPSULE_COMPRESSION_ACK:
    case MASQUE_CAPSULE_COMPRESSION_CLOSE:
        return length >= 1 && length <= 8;
    case MASQUE_CAPSULE_DATAGRAM:
        return length <= MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX;
    case MASQUE_CAPSULE_UNKNOWN:
        return 1;
    }
    return 0;
}

/* Folds one event, in the fields a batch piece carries, into a running hash. */
static uint64_t mix_piece(uint64_t h, int event, int kind, int first, int last, uint64_t length,
                          const uint8_t *value, size_t len)
{
    uint8_t head[12];
    head[0] = (uint8_t)event;
    head[1] = (uint8_t)kind;
    head[2] = (uint8_t)first;
    head[3] = (uint8_t)last;
    memcpy(head + 4, &length, 8);
    return mix(mix(h, head, sizeof(head)), value, len);
}

/* Next chunk size from the xorshift seed. */
static size_t next_chunk(uint64_t *seed, size_t left)
{
    size_t chunk;
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    chunk = 1 + (size_t)(*seed % 64u);
    return chunk < left ? chunk : left;
}

/* The same stream through the batch interface: its pieces' hash and the error, if any. */
static uint64_t batch_pass(const uint8_t *s, size_t n, uint64_t seed, size_t room, int *rc)
{
    masque_capsule_parser p;
    uint64_t h = 7;
    size_t off = 0;
    *rc = MASQUE_OK;
    masque_capsule_parser_init(&p, NULL);
    while (off < n && *rc == MASQUE_OK) {
        size_t chunk = next_chunk(&seed, n - off);
        size_t used = 0;
        while (used < chunk) {
            masque_capsule_piece out[8];
            size_t count = 0;
            size_t i;
            masque_ssize k = masque_capsule_parser_feed_batch(&p, s + off + used, chunk - used, out,
                                                              room, &count);
            for (i = 0; i < count; i++) {
                h = mix_piece(h, out[i].event, out[i].kind, out[i].first, out[i].last,
                              out[i].length, out[i].data, out[i].len);
            }
            if (k < 0) {
                *rc = (int)k;
                break;
            }
            if (k == 0 && count == 0) {
                abort(); /* no progress and nothing to say */
            }
            used += (size_t)k;
        }
        off += used;
    }
    if (*rc == MASQUE_OK) {
        *rc = masque_capsule_parser_finish(&p);
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static record want[MAX_CAPSULES];
    static record got[MAX_CAPSULES + 2];
    static uint8_t dgram[MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX];
    size_t nwant = 0;
    size_t ngot = 0;
    int want_end = MASQUE_OK; /* what finish (or feed) must end with */
    masque_capsule_parser p;
    uint64_t seed;
    uint64_t first_seed;
    uint64_t single_hash = 7;
    uint64_t batch_hash;
    int batch_rc;
    size_t off;
    const uint8_t *s;
    size_t n;
    int rc = MASQUE_OK;

    if (size < 1) {
        return 0;
    }
    seed = data[0] * 0x9E3779B97F4A7C15u + 1;
    first_seed = seed;
    s = data + 1;
    n = size - 1;

    /* Reference: one-shot decoding with the same length bounds. */
    for (off = 0; off < n && nwant < MAX_CAPSULES;) {
        masque_capsule cap;
        uint64_t type;
        uint64_t length;
        masque_ssize t = masque_varint_decode(&type, s + off, n - off);
        masque_ssize l =
            t > 0 ? masque_varint_decode(&length, s + off + t, n - off - (size_t)t) : -1;
        masque_capsule_kind kind;
        if (t < 0 || l < 0) {
            want_end = MASQUE_ERR_STREAM_TRUNCATED;
            break;
        }
        kind = masque_capsule_kind_of(MASQUE_PROFILE_DRAFT10, type);
        if (!within_bounds(kind, length)) {
            want_end = MASQUE_ERR_CAPSULE_LENGTH;
            break;
        }
        if (masque_capsule_decode(&cap, s + off, n - off) < 0) {
            want_end = MASQUE_ERR_STREAM_TRUNCATED;
            break;
        }
        want[nwant].type = type;
        want[nwant].length = length;
        want[nwant].sum = kind == MASQUE_CAPSULE_UNKNOWN ? 0 : mix(7, cap.value, cap.length);
        nwant++;
        off += (size_t)t + (size_t)l + (size_t)length;
    }
    if (nwant == MAX_CAPSULES) {
        return 0;
    }

    /* The parser, fed in chunks whose sizes come from the seed. */
    masque_capsule_parser_init(&p, NULL);
    for (off = 0; off < n && rc == MASQUE_OK;) {
        size_t chunk = next_chunk(&seed, n - off);
        size_t used = 0;
        while (used < chunk) {
            masque_capsule_event ev;
            masque_ssize k = masque_capsule_parser_feed(&p, s + off + used, chunk - used, &ev);
            if (k < 0) {
                rc = (int)k;
                break;
            }
            if (k == 0 && ev.event == MASQUE_CAPSULE_EVENT_NONE) {
                abort(); /* no progress and nothing to say */
            }
            used += (size_t)k;
            if (ev.event != MASQUE_CAPSULE_EVENT_NONE) {
                single_hash = mix_piece(single_hash, (int)ev.event, (int)ev.kind, ev.offset == 0,
                                        ev.last != 0, ev.length, ev.data, ev.data_len);
            }
            if (ngot > MAX_CAPSULES) {
                abort(); /* more capsules than the reference saw */
            }
            switch (ev.event) {
            case MASQUE_CAPSULE_EVENT_NONE:
                break;
            case MASQUE_CAPSULE_EVENT_CONTROL:
                got[ngot].type = ev.type;
                got[ngot].length = ev.length;
                got[ngot].sum = mix(7, ev.data, ev.data_len);
                ngot++;
                break;
            case MASQUE_CAPSULE_EVENT_DATAGRAM:
                if (ev.offset + ev.data_len > ev.length) {
                    abort();
                }
                if (ev.data == NULL) {
                    abort(); /* even an empty piece is a view */
                }
                memcpy(dgram + ev.offset, ev.data, ev.data_len);
                if (ev.last) {
                    got[ngot].type = ev.type;
                    got[ngot].length = ev.length;
                    got[ngot].sum = mix(7, dgram, (size_t)ev.length);
                    ngot++;
                }
                break;
            case MASQUE_CAPSULE_EVENT_UNKNOWN:
            case MASQUE_CAPSULE_EVENT_DISCARDED:
                got[ngot].type = ev.type;
                got[ngot].length = ev.length;
                got[ngot].sum = 0;
                ngot++;
                break;
            }
        }
        off += used;
    }
    if (rc == MASQUE_OK) {
        rc = masque_capsule_parser_finish(&p);
    }
    if (rc == MASQUE_ERR_STREAM_TRUNCATED && want_end == MASQUE_ERR_STREAM_TRUNCATED) {
        /* An unknown capsule's header arrives before its value: one more record is fine. */
        if (ngot == nwant + 1) {
            ngot--;
        }
    }
    if (rc != want_end || ngot != nwant || memcmp(got, want, nwant * sizeof(record)) != 0) {
        abort();
    }
    batch_hash = batch_pass(s, n, first_seed, 1 + (size_t)(first_seed % 8u), &batch_rc);
    if (batch_rc != rc || batch_hash != single_hash) {
        abort(); /* the batch interface must say exactly what single steps say */
    }
    return 0;
}
