/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * A guard on what the binding hands nghttp3 from the peer's unidirectional streams.
 *
 * nghttp3 1.8 (Debian 12's bookworm-backports and Debian 13) aborts the process when one read
 * of the control stream ends right after the Prioritized Element ID of a PRIORITY_UPDATE frame
 * (RFC 9218 §7.1) whose Priority Field Value is still to come (an assertion in
 * nghttp3_conn_read_control()). QUIC may cut a stream anywhere (RFC 9000 §2.2), so any client
 * could stop masque-proxy with one legal frame sent in two STREAM frames. The guard follows
 * each peer unidirectional stream far enough to know its type and, on the control stream
 * (RFC 9114 §6.2.1), its frames; a piece of stream data that would end at that place is
 * handed over without its last byte, which goes over with the next piece. Internal to the
 * binding (quic.c); no dependency on ngtcp2 or nghttp3 (only the core's varints), so that it
 * is unit-tested alone.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_CTRL_GUARD_H
#define MASQUE_ADAPTER_NGTCP2_CTRL_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* One peer unidirectional stream as the guard follows it. All zero is the start (the stream
 * type not read yet). */
typedef struct masque_ctrl_guard {
    uint64_t value;      /* the varint being read, so far */
    uint64_t left;       /* bytes of the current frame's payload not read yet */
    uint64_t frame_type; /* the current frame's type */
    uint8_t need;        /* bytes of that varint still to come; 0: none begun */
    uint8_t state;       /* where in the stream (ctrl_guard.c) */
    uint8_t after_id;    /* what was read ends right after an element ID, value to come */
    uint8_t held;        /* the byte held back from the last piece */
    uint8_t has_held;    /* ... when there is one */
} masque_ctrl_guard;

/* What to hand nghttp3 for one piece of stream data: up to two runs, in order (the first may
 * be `pair`: a byte held back before and the first new byte). */
typedef struct masque_ctrl_pieces {
    const uint8_t *data[2];
    size_t len[2];
    size_t count;
    uint8_t pair[2];
} masque_ctrl_pieces;

/*
 * Splits `len` bytes that arrived on the stream (`fin`: the stream ends with them) into the
 * runs to hand nghttp3 now. The last byte is held back (or, with `fin`, dropped: the control
 * stream must not end, RFC 9114 §6.2.1, so the connection fails anyway) when the data would
 * end right after a PRIORITY_UPDATE's element ID. `out` may point into `data` and into
 * itself: it is valid until the next call.
 */
void masque_ctrl_guard_split(masque_ctrl_guard *g, const uint8_t *data, size_t len, int fin,
                             masque_ctrl_pieces *out);

#endif /* MASQUE_ADAPTER_NGTCP2_CTRL_GUARD_H */
