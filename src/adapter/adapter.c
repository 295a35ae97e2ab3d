/* SPDX-License-Identifier: GPL-3.0-only */
#include "masque/adapter.h"

#include <string.h>

#include "internal/session.h"
#include "internal/wire.h"

int masque_adapter_init(masque_adapter *a, masque_session *session, const masque_host_ops *ops,
                        void *host)
{
    if (a == NULL || session == NULL || ops == NULL || ops->write_stream == NULL ||
        ops->on_packet == NULL || ops->abort_stream == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    memset(a, 0, sizeof(*a));
    a->session = session;
    a->ops = *ops;
    a->host = host;
    return MASQUE_OK;
}

/* Aborts the stream once, with the code the error calls for; returns the error. */
static int abort_with(masque_adapter *a, int code, uint64_t h3_error)
{
    if (a->aborted_with == 0) {
        a->aborted_with = h3_error;
        a->ops.abort_stream(a->host, h3_error);
    }
    return code;
}

/* Aborts for a session error; a session that had failed before names its first error. */
static int abort_for(masque_adapter *a, int code)
{
    int cause = code == MASQUE_ERR_SESSION_FAILED ? masque_session_error(a->session) : code;
    return abort_with(a, code, masque_h3_error_for(cause));
}

static void hand_over(masque_adapter *a, const masque_packet *pkt)
{
    a->ops.on_packet(a->host, &pkt->peer, pkt->payload, pkt->payload_len);
}

/* Hands the session's queued capsules to the stream and its events to the host. */
static MASQUE_NOINLINE int drain(masque_adapter *a)
{
    uint8_t buf[512];
    masque_event ev;
    for (;;) {
        size_t count = 0;
        int rc;
        masque_ssize n = masque_sess_stream_peek(a->session, buf, sizeof(buf), &count);
        if (n <= 0) {
            break;
        }
        rc = a->ops.write_stream(a->host, buf, (size_t)n);
        if (rc == MASQUE_HOST_NO_ROOM) {
            /* -10 §9: responses that flow control holds back wait in the session's queue, for
             * the next flush; its bound on them aborts the stream if they pile up. */
            break;
        }
        if (rc != 0) {
            return abort_with(a, MASQUE_ERR_STATE, MASQUE_H3_INTERNAL_ERROR);
        }
        masque_sess_stream_taken(a->session, count);
    }
    while (masque_session_poll_event(a->session, &ev)) {
        if (a->ops.on_event != NULL) {
            a->ops.on_event(a->host, &ev);
        }
    }
    return MASQUE_OK;
}

/* masque_adapter_flush() for a valid adapter, inline: every datagram asks it, and nearly always
 * the answer is that nothing is queued. */
static inline int settle(masque_adapter *a)
{
    if (a->aborted_with != 0) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    if (a->session->queue_count == 0 && a->session->event_count == 0) {
        return MASQUE_OK;
    }
    return drain(a);
}

int masque_adapter_flush(masque_adapter *a)
{
    if (a == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    return settle(a);
}

int masque_adapter_read_stream(masque_adapter *a, const uint8_t *data, size_t len, uint64_t now)
{
    size_t off = 0;
    if (a == NULL || (data == NULL && len != 0)) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (a->aborted_with != 0) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    while (off < len) {
        masque_packet pkt;
        masque_ssize n = masque_session_read_stream(a->session, data + off, len - off, now, &pkt);
        int rc;
        if (n < 0) {
            return abort_for(a, (int)n);
        }
        off += (size_t)n;
        if (pkt.payload != NULL) {
            hand_over(a, &pkt);
        }
        /* Responses and events may have piled up: drain them so that the session goes on. */
        rc = masque_adapter_flush(a);
        if (rc != MASQUE_OK) {
            return rc;
        }
    }
    return masque_adapter_flush(a);
}

int masque_adapter_read_fin(masque_adapter *a)
{
    int rc;
    if (a == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = masque_session_read_fin(a->session);
    if (rc != MASQUE_OK) {
        return abort_for(a, rc);
    }
    return MASQUE_OK;
}

/* A decoded HTTP Datagram for this adapter's request: to the session, then to the host. */
static MASQUE_HOT_INLINE int read_decoded(masque_adapter *a, const masque_h3_datagram *dg,
                                          uint64_t now)
{
    masque_packet pkt;
    int r;
    if (dg->quarter_stream_id != a->session->cfg.quarter_stream_id) {
        return MASQUE_ERR_STREAM_ID;
    }
    if (a->aborted_with != 0) {
        return MASQUE_OK; /* RFC 9297 §2.1: after the stream is gone, datagrams are dropped */
    }
    r = masque_session_read_datagram(a->session, dg->payload, dg->payload_len, now, &pkt);
    if (r < 0) {
        return abort_for(a, r);
    }
    if (r == 1) {
        hand_over(a, &pkt);
    }
    return settle(a);
}

int masque_adapter_read_datagram(masque_adapter *a, const uint8_t *frame, size_t len, uint64_t now)
{
    masque_h3_datagram dg;
    masque_ssize n;
    if (a == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    n = masque_h3_datagram_decode(&dg, frame, len);
    if (n < 0) {
        return (int)n; /* a connection error (H3_DATAGRAM_ERROR) for the host to raise */
    }
    return read_decoded(a, &dg, now);
}

int masque_adapter_write_datagram(masque_adapter *a, const masque_address *peer, uint8_t *payload,
                                  size_t headroom, size_t len, uint64_t now)
{
    masque_datagram_path path;
    masque_ssize h;
    int rc;
    if (a == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    if (a->aborted_with != 0) {
        return MASQUE_ERR_SESSION_FAILED;
    }
    h = masque_session_write_datagram(a->session, peer, payload, headroom, len, now, &path);
    if (h < 0) {
        return (int)h;
    }
    /* Queued capsules (an ASSIGN from auto-compression, say) go before the datagram. */
    rc = settle(a);
    if (rc != MASQUE_OK) {
        return rc;
    }
    if (path == MASQUE_PATH_H3_DATAGRAM && a->ops.write_datagram != NULL) {
        rc = a->ops.write_datagram(a->host, payload - h, (size_t)h + len);
    } else if (path == MASQUE_PATH_CAPSULE) {
        /* Behind capsules the stream had no room for, so that a datagram never overtakes the
         * ASSIGN of its context: the stream is full. */
        rc = a->session->queue_count > 0
                 ? MASQUE_HOST_NO_ROOM
                 : a->ops.write_stream(a->host, payload - h, (size_t)h + len);
        if (rc == MASQUE_HOST_NO_ROOM) {
            /* RFC 9297 §2: an HTTP Datagram may be lost; as a full DATAGRAM frame queue does,
             * the full stream drops it and the tunnel goes on (-10 §9's abort is for the
             * responses, which drain() still gives). */
            a->session->stats.dropped_no_room++;
            return MASQUE_ERR_QUEUE_FULL;
        }
    } else {
        /* RFC 9297 §2.1.1: no QUIC DATAGRAM frames unless both ends enabled them. */
        return MASQUE_ERR_STATE;
    }
    if (rc != 0) {
        return abort_with(a, MASQUE_ERR_STATE, MASQUE_H3_INTERNAL_ERROR);
    }
    return MASQUE_OK;
}

int masque_adapter_tick(masque_adapter *a, uint64_t now)
{
    int rc;
    if (a == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = masque_session_tick(a->session, now);
    if (rc != MASQUE_OK) {
        return rc;
    }
    return masque_adapter_flush(a);
}

int masque_h3_datagram_dispatch(const uint8_t *frame, size_t len, uint64_t now,
                                masque_stream_lookup lookup, void *host, uint64_t *stream_id,
                                uint64_t *h3_error)
{
    masque_h3_datagram dg;
    masque_adapter *a = NULL;
    int rc;
    if (lookup == NULL || stream_id == NULL || h3_error == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    *stream_id = 0;
    *h3_error = 0;
    rc = masque_h3_datagram_read(&dg, frame, frame == NULL ? 0 : len);
    if (rc != MASQUE_OK) {
        *h3_error = masque_h3_error_for(rc); /* RFC 9297 §2.1: H3_DATAGRAM_ERROR */
        return MASQUE_DATAGRAM_CLOSE_CONNECTION;
    }
    *stream_id = dg.quarter_stream_id * 4u;
    switch (lookup(host, *stream_id, &a)) {
    case MASQUE_STREAM_NOT_OPEN:
        return MASQUE_DATAGRAM_DROPPED; /* RFC 9297 §2.1; RFC 9298 §5 (UDP-15) */
    case MASQUE_STREAM_NO_DATAGRAMS:
        *h3_error = MASQUE_H3_DATAGRAM_ERROR; /* RFC 9297 §2 */
        return MASQUE_DATAGRAM_ABORT_STREAM;
    case MASQUE_STREAM_BEYOND_LIMIT:
        *h3_error = MASQUE_H3_ID_ERROR; /* RFC 9297 §2.1 */
        return MASQUE_DATAGRAM_CLOSE_CONNECTION;
    case MASQUE_STREAM_DATAGRAMS:
        break;
    }
    if (a == NULL) {
        return MASQUE_ERR_INVALID_ARGUMENT;
    }
    rc = read_decoded(a, &dg, now); /* decoded once, above */
    if (rc == MASQUE_OK) {
        return MASQUE_DATAGRAM_DELIVERED;
    }
    if (rc == MASQUE_ERR_STREAM_ID || rc == MASQUE_ERR_INVALID_ARGUMENT) {
        return MASQUE_ERR_INVALID_ARGUMENT; /* the lookup gave another request's adapter */
    }
    /* The adapter aborted the stream already (abort_stream was called). */
    *h3_error = a->aborted_with;
    return MASQUE_DATAGRAM_ABORT_STREAM;
}
