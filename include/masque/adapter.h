/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file adapter.h
 * @brief The thin, stack-neutral glue between a session and the host's QUIC/HTTP/3 stack.
 *
 * A session (session.h) is pure state: bytes in, bytes and events out. The adapter does the
 * plumbing every host writes otherwise: it feeds what the stack received into the session,
 * delivers the UDP payloads that come out, writes queued capsules, frames outgoing datagrams on
 * the right path, and turns session errors into the HTTP/3 error codes the host must abort
 * with. The host supplies a few callbacks (masque_host_ops) that reach its stack; the adapter
 * itself depends on nothing but the core library, and is its own CMake target
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

/** @brief What the adapter asks of the host's stack. Return 0 on success, non-zero on failure. */
typedef struct masque_host_ops {
    /** Write bytes on the request stream (control and DATAGRAM capsules). Required. */
    int (*write_stream)(void *host, const uint8_t *data, size_t len);
    /**
     * Send one QUIC DATAGRAM frame whose payload is @p data (Quarter Stream ID first). NULL when
     * HTTP/3 datagrams were not negotiated on both sides (RFC 9297 §2.1.1): datagrams then go as
     * DATAGRAM capsules on the stream, and the session must have capsule_datagrams set.
     */
    int (*send_datagram)(void *host, const uint8_t *data, size_t len);
    /**
     * A UDP payload came out of the session. Proxy: send it to @p peer from the request's
     * socket. Client: it came from @p peer through the proxy. Required.
     */
    void (*deliver)(void *host, const masque_address *peer, const uint8_t *data, size_t len);
    /** Abort the request stream with an HTTP/3 error code. Required. */
    void (*abort_stream)(void *host, uint64_t h3_error);
    /** A session event (optional, may be NULL). */
    void (*event)(void *host, const masque_event *ev);
} masque_host_ops;

/** @brief One request stream's glue. Place it anywhere; the fields are private. */
typedef struct masque_adapter {
    masque_session *session; /**< Private. */
    masque_host_ops ops;     /**< Private. */
    void *host;              /**< Private. */
    uint64_t aborted_with;   /**< Private: the H3 error the stream was aborted with, 0 if not. */
} masque_adapter;

/**
 * @brief Tie an initialised session to the host's stack.
 * @param a The adapter.
 * @param session The session (initialised; owned by the caller).
 * @param ops The host's callbacks (copied); write_stream, deliver and abort_stream are required.
 * @param host Opaque pointer passed to every callback.
 * @return MASQUE_OK or MASQUE_ERR_INVALID_ARGUMENT.
 */
MASQUE_API int masque_adapter_init(masque_adapter *a, masque_session *session,
                                   const masque_host_ops *ops, void *host);

/**
 * @brief Bytes arrived on the request stream: feed them all, deliver what comes out, flush.
 * @param a The adapter.
 * @param data The bytes.
 * @param len Their length.
 * @param now Current time (ms).
 * @return MASQUE_OK; a negative error after the stream was aborted (abort_stream was called).
 */
MASQUE_API int masque_adapter_stream_data(masque_adapter *a, const uint8_t *data, size_t len,
                                          uint64_t now);

/**
 * @brief The request stream's receive side ended (FIN).
 * @param a The adapter.
 * @return MASQUE_OK, or a negative error after the stream was aborted (it ended mid-capsule).
 */
MASQUE_API int masque_adapter_stream_fin(masque_adapter *a);

/**
 * @brief A QUIC DATAGRAM frame arrived whose Quarter Stream ID is this request's.
 *
 * Hosts with many requests on one connection decode the Quarter Stream ID with
 * masque_h3_datagram_decode() to find the adapter, then pass the whole frame payload here.
 *
 * @param a The adapter.
 * @param frame The frame payload (Quarter Stream ID included).
 * @param len Its length.
 * @param now Current time (ms).
 * @return MASQUE_OK (delivered or dropped and counted); MASQUE_ERR_QUARTER_STREAM_ID or
 *         MASQUE_ERR_TRUNCATED, which are HTTP/3 connection errors of type H3_DATAGRAM_ERROR
 *         for the host to raise; MASQUE_ERR_STREAM_ID when the frame is another request's;
 *         another negative error after the stream was aborted.
 */
MASQUE_API int masque_adapter_datagram(masque_adapter *a, const uint8_t *frame, size_t len,
                                       uint64_t now);

/**
 * @brief Send a UDP payload to (client) or from (proxy) @p peer, framed in place.
 * @param a The adapter.
 * @param peer The target (client) or the source (proxy).
 * @param payload First byte of the payload; MASQUE_BIND_HEADROOM bytes before it are writable.
 * @param headroom Writable bytes before @p payload.
 * @param len Payload length.
 * @param now Current time (ms).
 * @return MASQUE_OK; the errors of masque_session_send() (MASQUE_ERR_UNREACHABLE: dropped);
 *         MASQUE_ERR_STATE when a host callback failed (the stream was aborted).
 */
MASQUE_API int masque_adapter_send(masque_adapter *a, const masque_address *peer, uint8_t *payload,
                                   size_t headroom, size_t len, uint64_t now);

/**
 * @brief Write every queued capsule and report every pending event; call after host actions
 *        such as masque_session_compress() and after masque_adapter_tick().
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
 * acts on it: an open CONNECT-UDP request gets the frame (masque_adapter_datagram()); a stream
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
