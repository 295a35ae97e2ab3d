/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file adapter.h
 * @brief The thin, stack-neutral glue between a session and the host's QUIC/HTTP/3 stack.
 *
 * A session (session.h) is pure state: bytes in, bytes and events out. The adapter does the
 * plumbing every host writes otherwise, with the session's verbs: masque_adapter_read_stream(),
 * masque_adapter_read_datagram(), masque_adapter_read_fin() feed what the stack received and
 * hand every UDP payload that comes out to the host; masque_adapter_write_datagram() frames a
 * payload on the right path; masque_adapter_flush() writes queued capsules and reports events;
 * and session errors become the HTTP/3 error codes the host must abort with. It uses only the
 * session's public API. The host supplies a few callbacks (masque_host_ops) that reach its stack;
 * the adapter itself depends on nothing but the core library, and is its own CMake target
 * (masque::adapter).
 */
#ifndef MASQUE_ADAPTER_H
#define MASQUE_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "masque/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief write_stream's answer when the bytes were not taken because the request's buffer is
 *        full (a peer that does not take them as fast as they come). The adapter drops a
 *        DATAGRAM capsule that meets it (HTTP Datagrams may be lost, RFC 9297 §2; a burst of
 *        UDP toward a slow client must not end its tunnel), and leaves control capsules queued
 *        in the session, to be written at the next flush before any datagram; the session
 *        aborts the stream when the responses waiting reach its bound (-10 §9,
 *        MASQUE_ERR_PENDING_LIMIT, H3_EXCESSIVE_LOAD).
 */
#define MASQUE_HOST_NO_ROOM 1

/**
 * @brief What the adapter asks of the host's stack: the same verbs, seen from the host. Return
 *        0 on success, non-zero on failure (the adapter then aborts the stream; write_stream
 *        may answer MASQUE_HOST_NO_ROOM instead).
 */
typedef struct masque_host_ops {
    /**
     * Write bytes on the request stream (control and DATAGRAM capsules), all of them or none:
     * MASQUE_HOST_NO_ROOM when the request's buffer cannot take them now. Required.
     */
    int (*write_stream)(void *host, const uint8_t *data, size_t len);
    /**
     * Write one QUIC DATAGRAM frame whose payload is @p data (Quarter Stream ID first). NULL
     * when HTTP/3 datagrams cannot be negotiated on both sides (RFC 9297 §2.1.1): datagrams
     * then go as DATAGRAM capsules on the stream, and the session must have capsule_datagrams
     * set. A host that may learn later that they are (a proxy reading the request before the
     * client's SETTINGS) gives it, starts the session in capsules and switches it with
     * masque_session_set_capsule_datagrams(): the session's choice decides each datagram.
     */
    int (*write_datagram)(void *host, const uint8_t *data, size_t len);
    /**
     * A UDP payload came out of the session. Proxy: send it to @p peer from the request's
     * socket. Client: it came from @p peer through the proxy. The bytes are a view, valid
     * during the call. Required.
     */
    void (*on_packet)(void *host, const masque_address *peer, const uint8_t *data, size_t len);
    /** Abort the request stream with an HTTP/3 error code. Required. */
    void (*abort_stream)(void *host, uint64_t h3_error);
    /** A session event (optional, may be NULL). */
    void (*on_event)(void *host, const masque_event *ev);
} masque_host_ops;

/** @brief One request stream's glue. Place it anywhere; everything in it is private. */
typedef struct masque_adapter {
    /** @cond PRIVATE */
    masque_session *session;
    masque_host_ops ops;
    void *host;
    uint64_t aborted_with; /* the H3 error the stream was aborted with, 0 if not */
    /** @endcond */
} masque_adapter;

/**
 * @brief Tie an initialised session to the host's stack.
 * @param a The adapter.
 * @param session The session (initialised; owned by the caller).
 * @param ops The host's callbacks (copied); write_stream, on_packet and abort_stream are required.
 * @param host Opaque pointer passed to every callback.
 * @return MASQUE_OK or MASQUE_ERR_INVALID_ARGUMENT.
 */
MASQUE_API int masque_adapter_init(masque_adapter *a, masque_session *session,
                                   const masque_host_ops *ops, void *host);

/**
 * @brief Read bytes that arrived on the request stream: all of them, handing every packet that
 *        comes out to on_packet, then flush.
 * @param a The adapter.
 * @param data The bytes.
 * @param len Their length.
 * @param now Current time (ms).
 * @return MASQUE_OK; a negative error after the stream was aborted (abort_stream was called).
 */
MASQUE_API int masque_adapter_read_stream(masque_adapter *a, const uint8_t *data, size_t len,
                                          uint64_t now);

/**
 * @brief The request stream's receive side ended (FIN).
 *
 * On MASQUE_OK the host ends its own side too, in either role (both bindings do): a UDP
 * tunnel has no half-close, the proxy's socket goes with its side (RFC 9298 §3.1), and a
 * client left half-open would never learn that its tunnel ended.
 * @param a The adapter.
 * @return MASQUE_OK, or a negative error after the stream was aborted (it ended mid-capsule).
 */
MASQUE_API int masque_adapter_read_fin(masque_adapter *a);

/**
 * @brief Read a QUIC DATAGRAM frame whose Quarter Stream ID is this request's.
 *
 * Hosts with many requests on one connection use masque_h3_datagram_dispatch(), which finds
 * the adapter and calls this.
 *
 * @param a The adapter.
 * @param frame The frame payload (Quarter Stream ID included).
 * @param len Its length.
 * @param now Current time (ms).
 * @return MASQUE_OK (delivered or dropped and counted); MASQUE_ERR_QUARTER_STREAM_ID or
 *         MASQUE_ERR_DATAGRAM_TRUNCATED, which are HTTP/3 connection errors of type
 *         H3_DATAGRAM_ERROR for the host to raise; MASQUE_ERR_STREAM_ID when the frame is
 *         another request's; another negative error after the stream was aborted.
 */
MASQUE_API int masque_adapter_read_datagram(masque_adapter *a, const uint8_t *frame, size_t len,
                                            uint64_t now);

/**
 * @brief Write a UDP payload to (client) or from (proxy) @p peer, framed in place, on the
 *        session's path.
 * @param a The adapter.
 * @param peer The target (client) or the source (proxy).
 * @param payload First byte of the payload; MASQUE_BIND_HEADROOM bytes before it are writable.
 * @param headroom Writable bytes before @p payload.
 * @param len Payload length.
 * @param now Current time (ms).
 * @return MASQUE_OK; the errors of masque_session_write_datagram() (MASQUE_ERR_UNREACHABLE:
 * dropped); MASQUE_ERR_QUEUE_FULL when the host's stream had no room for its DATAGRAM capsule,
 * or control capsules still wait for room ahead of it (MASQUE_HOST_NO_ROOM: dropped and
 * counted, dropped_no_room, the request goes on);
 * MASQUE_ERR_STATE when a host callback failed (the stream was aborted).
 */
MASQUE_API int masque_adapter_write_datagram(masque_adapter *a, const masque_address *peer,
                                             uint8_t *payload, size_t headroom, size_t len,
                                             uint64_t now);

/**
 * @brief Flush: write every queued capsule (write_stream) and report every pending event
 *        (on_event); call after host actions
 *        such as masque_session_open_context() and after masque_adapter_tick().
 * @param a The adapter.
 * @return MASQUE_OK, or a negative error after the stream was aborted.
 */
MASQUE_API int masque_adapter_flush(masque_adapter *a);

/**
 * @brief Let time pass (idle contexts) and flush.
 * @param a The adapter.
 * @param now Current time (ms).
 * @return As masque_adapter_flush().
 */
MASQUE_API int masque_adapter_tick(masque_adapter *a, uint64_t now);

/** HTTP/3 error H3_ID_ERROR (RFC 9114 §8.1): a stream ID beyond what the peer may open. */
#define MASQUE_H3_ID_ERROR 0x108u

/** @brief What the host knows of the request stream a received datagram names. */
typedef enum masque_stream_state {
    /** Not opened yet, within the stream limit, or already closed. */
    MASQUE_STREAM_NOT_OPEN = 0,
    /** A request with HTTP Datagram semantics (an accepted CONNECT-UDP); *adapter is set. */
    MASQUE_STREAM_DATAGRAMS = 1,
    /** A request whose semantics define no HTTP Datagrams (GET, POST, ...). */
    MASQUE_STREAM_NO_DATAGRAMS = 2,
    /** A stream the peer cannot have opened: beyond its client-initiated bidirectional limit. */
    MASQUE_STREAM_BEYOND_LIMIT = 3
} masque_stream_state;

/**
 * @brief The host's lookup: the state of client-initiated bidirectional stream @p stream_id,
 *        and for MASQUE_STREAM_DATAGRAMS the request's adapter in @p *adapter.
 */
typedef masque_stream_state (*masque_stream_lookup)(void *host, uint64_t stream_id,
                                                    masque_adapter **adapter);

/**
 * @brief How a binding's connection (HTTP/3 over QUIC, HTTP/2 over TLS/TCP) ended:
 *        masque_quic_end_reason(), masque_h2_end_reason(). A client tells a proxy that stopped
 *        (and will be back) from one that vanished or failed.
 */
typedef enum masque_conn_end {
    MASQUE_CONN_OPEN = 0, /**< It has not ended. */
    /** This side ended it (the binding's close call, or an error found in what the peer
     *  sent): its CONNECTION_CLOSE or GOAWAY went out. */
    MASQUE_CONN_CLOSED_HERE = 1,
    /** The peer's CONNECTION_CLOSE with an HTTP/3 error code, or its GOAWAY with an HTTP/2
     *  one; NO_ERROR is a clean end (a proxy that stops, a client that leaves). */
    MASQUE_CONN_CLOSED_BY_PEER = 2,
    /** Ended from the peer's side without an HTTP-level word: a QUIC transport error or a
     *  stateless reset (RFC 9000 §10.3), a TCP connection closed or reset without GOAWAY, a
     *  TLS failure. */
    MASQUE_CONN_BROKEN = 3,
    /** Nothing came from the peer for the idle timeout, or no handshake completed in time
     *  (RFC 9000 §10.1): the peer or the path is gone, without a word. */
    MASQUE_CONN_TIMED_OUT = 4
} masque_conn_end;

/** @brief What masque_h3_datagram_dispatch() did, or asks the host to do. */
typedef enum masque_datagram_action {
    /** Handed to the request's adapter (delivered, or dropped and counted by its session). */
    MASQUE_DATAGRAM_DELIVERED = 0,
    /** Dropped: its stream is not open yet or any more (RFC 9297 §2.1, RFC 9298 §5). */
    MASQUE_DATAGRAM_DROPPED = 1,
    /** Abort the stream *stream_id with *h3_error: a request without datagram semantics got
     *  one (RFC 9297 §2: H3_DATAGRAM_ERROR). When a CONNECT-UDP request's session failed on
     *  the datagram, its adapter has already called abort_stream with that code. */
    MASQUE_DATAGRAM_ABORT_STREAM = 2,
    /** Close the connection with *h3_error: a malformed HTTP/3 datagram (RFC 9297 §2.1:
     *  H3_DATAGRAM_ERROR) or a stream beyond the limit (H3_ID_ERROR). */
    MASQUE_DATAGRAM_CLOSE_CONNECTION = 3
} masque_datagram_action;

/**
 * @brief Route a QUIC DATAGRAM frame on a connection that carries several requests.
 *
 * Decodes the Quarter Stream ID (RFC 9297 §2.1), asks the host for the state of that stream and
 * acts on it: an open CONNECT-UDP request gets the frame (masque_adapter_read_datagram()); a stream
 * not open yet or closed drops it (RFC 9297 §2.1, RFC 9298 §5: silently, no buffering); any
 * other request must be aborted, and a malformed frame or an impossible stream closes the
 * connection.
 *
 * @param frame The frame payload.
 * @param len Its length.
 * @param now Current time (ms).
 * @param lookup The host's stream lookup.
 * @param host Passed to @p lookup.
 * @param[out] stream_id Receives the stream ID named (0 when the frame does not name one).
 * @param[out] h3_error Receives the HTTP/3 error code for the last two actions, else 0.
 * @return A masque_datagram_action; MASQUE_ERR_INVALID_ARGUMENT.
 */
MASQUE_API int masque_h3_datagram_dispatch(const uint8_t *frame, size_t len, uint64_t now,
                                           masque_stream_lookup lookup, void *host,
                                           uint64_t *stream_id, uint64_t *h3_error);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_ADAPTER_H */
