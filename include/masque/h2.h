/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file h2.h
 * @brief The binding to HTTP/2 over TLS/TCP: nghttp2 + GnuTLS (target masque::h2, built when
 *        both are found), for networks that block UDP.
 *
 * One masque_h2_conn is one TLS connection (ALPN "h2") on a TCP socket the application opened,
 * on the client or the proxy side, carrying any number of CONNECT-UDP Bind requests
 * (masque_h2_request) as extended CONNECT streams (RFC 8441, `:protocol = connect-udp`, with
 * `:scheme`, `:path` and `:authority` per RFC 9298 §3.5). The proxy sends
 * SETTINGS_ENABLE_CONNECT_PROTOCOL; the client sends its requests only after the proxy's
 * SETTINGS carried it, and refuses a proxy without it. Every HTTP datagram travels as a
 * DATAGRAM capsule on its stream (RFC 9297 §3.5, RFC 9298 §3.4-3.5); the Bind capsules are the
 * same as over HTTP/3, with the same session (session.h) and adapter (adapter.h) per request.
 *
 * Errors map as RFC 9297 and RFC 9113 ask: a malformed capsule stream resets its stream with
 * PROTOCOL_ERROR (where HTTP/3 uses H3_MESSAGE_ERROR), a peer that makes us buffer too much with
 * ENHANCE_YOUR_CALM (H3_EXCESSIVE_LOAD), a cancelled request with CANCEL. Capsules the peer
 * does not take are bounded per request (masque_h2_config.stream_buffer) and the frames waiting
 * for the socket per connection (64 KiB): toward a client that stops reading, datagrams beyond
 * them are dropped (responses beyond them reset the stream), and the proxy's memory does not
 * grow.
 *
 * The socket is the application's (the binding sets TCP_NODELAY on it: datagrams must not wait
 * for Nagle's algorithm): it polls it (masque_h2_wants_write() says when to wait for
 * POLLOUT too), calls masque_h2_read() when it is readable and masque_h2_write() after every
 * read, tick and host action. Built and tested against nghttp2 1.52 and GnuTLS 3.7.9 (Debian 12).
 */
#ifndef MASQUE_H2_H
#define MASQUE_H2_H

#include <stddef.h>
#include <stdint.h>

#include "masque/adapter.h"
#include "masque/http.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief One HTTP/2 connection (opaque; allocated by the binding). */
typedef struct masque_h2_conn masque_h2_conn;

/**
 * @brief One Bind request on a connection (opaque; owned by the connection). Valid from the
 *        hook that first hands it out until its on_close hook returns.
 */
typedef struct masque_h2_request masque_h2_request;

/**
 * @brief What the application hears from a connection. Any hook may be NULL. The request hooks
 *        get the request's application pointer; on_log gets the connection's.
 */
typedef struct masque_h2_hooks {
    /** Client: the proxy accepted this Bind request; its session is ready. */
    void (*on_ready)(masque_h2_request *r, void *app);
    /** A UDP payload came out of the request's session (see masque_host_ops.on_packet). */
    void (*on_packet)(masque_h2_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len);
    /** The request ended, with this HTTP/2 error code (RFC 9113 §7; NO_ERROR also when the
     *  connection went first); the request is gone when the hook returns. */
    void (*on_close)(masque_h2_request *r, void *app, uint32_t h2_error);
    /** One line about what went wrong; the binding prints nothing itself. As
     *  masque_quic_hooks.on_log: refusals by on_authorize or on_request are the application's
     *  to log. */
    void (*on_log)(masque_h2_conn *c, void *app, const char *line);
    /** Proxy: a Bind request passed every check; bind its public addresses (-10 §7) and
     *  return 0 (masque_h2_request_set_app() may give the request its own pointer), or
     *  non-zero for 503. As masque_quic_hooks.on_request: on entry `*count` is 1 and
     *  `public_addresses[0]` masque_h2_config.public_address; up to
     *  MASQUE_PUBLIC_ADDRESSES_MAX, and the session refuses targets of other IP versions.
     *  NULL: masque_h2_config.public_address alone. */
    int (*on_request)(masque_h2_request *r, void *app, masque_address *public_addresses,
                      size_t *count);
    /** A session event (context acknowledged, rejected, closed, ...). */
    void (*on_event)(masque_h2_request *r, void *app, const masque_event *ev);
    /** Proxy: may this client bind? As masque_quic_hooks.on_authorize: 0 to go on, non-zero
     *  for 407. NULL: everyone may. */
    int (*on_authorize)(masque_h2_request *r, void *app, masque_str proxy_authorization);
} masque_h2_hooks;

/** @brief Settings of a connection. */
typedef struct masque_h2_config {
    int is_server;         /**< Proxy side. */
    const char *authority; /**< Client: :authority (and the TLS server name). */
    /** The UDP proxying URI template (RFC 9298 §2); required, and one
     *  masque_uri_template_check() accepts (else the connection is refused). */
    const char *uri_template;
    const char *cert_file; /**< Proxy: PEM certificate; client: its own (mutual TLS). */
    /** Proxy: GnuTLS certificate credentials (a gnutls_certificate_credentials_t) to use
     *  instead of cert_file/key_file, e.g. masque_quic_credentials_gnutls(); they must outlive
     *  the connection. */
    void *credentials;
    /** The PEM key of cert_file (proxy, and a client with a certificate), required with it:
     *  a certificate without its key is refused. */
    const char *key_file;
    /** Client: the CAs (PEM) to verify the proxy against; NULL: the system's trusted CAs
     *  (unless `insecure`). A file that holds no CA is refused. */
    const char *ca_file;
    /** Proxy: ask clients for a certificate, verified against this CA (with cert_file), or
     *  against the trust of `credentials`; masque_h2_peer_identity() says who. NULL: none. */
    const char *client_ca_file;
    int insecure;                  /**< Client: skip certificate verification (off by default). */
    const char *priority;          /**< GnuTLS priority string; NULL: TLS 1.3. */
    masque_address public_address; /**< Proxy: the default Proxy-Public-Address. */
    const masque_policy *policy;   /**< Proxy: target policy (NULL: defaults). */
    uint64_t idle_timeout_ms;      /**< Compressed-context idle timeout; 0: 120 s. */
    /** The connection's idle timeout: a connection that receives nothing for this long (not
     *  even the rest of its TLS handshake) is closed; a client sends an HTTP/2 PING after half
     *  of it without traffic, so that its idle tunnels stay up. 0: 120 s (RFC 9298 §3.1). */
    uint64_t conn_idle_timeout_ms;
    /** Bytes of capsules held per request for a peer that does not take them. When full, a
     *  DATAGRAM capsule is dropped and counted (MASQUE_HOST_NO_ROOM) and a response resets the
     *  stream (INTERNAL_ERROR, as the adapter aborts; -10 §9). 0: 256 KiB. */
    size_t stream_buffer;
    /** The longest a DATAGRAM capsule may wait in that buffer, in ms: one that comes when the
     *  oldest capsules there have waited longer is dropped and counted as one that finds the
     *  buffer full (a late datagram serves the protocols UDP carries less than a lost one,
     *  RFC 9298 §6, and delay that builds up behind a slow path is what they cannot bear).
     *  0: 100 ms; UINT64_MAX: bytes alone bound the buffer. */
    uint64_t datagram_max_wait_ms;
    size_t max_peer_contexts; /**< Proxy: contexts a client may hold; 0: the table (256). */
    uint32_t assign_rate;     /**< Proxy: ASSIGNs per second per request; 0: no limit. */
    /** Bind requests open at once on one connection; 0: 8, at most MASQUE_H2_MAX_REQUESTS. The
     *  proxy answers one more with 429. */
    size_t max_requests;
    /** Proxy: streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113
     *  §5.1.2), whether their requests are served, refused or closing; 0:
     *  MASQUE_H2_MAX_REQUESTS, at most that. A client at this limit waits for a stream to close,
     *  where one beyond max_requests is answered 429. */
    size_t max_streams;
    const char *target_host; /**< Client: a concrete target instead of `*`, or NULL. */
    /** Client: a bearer token sent as Proxy-Authorization, or NULL; as masque_quic_config.token
     *  (a token68, else the request fails). */
    const char *token;
    uint16_t target_port; /**< With target_host. */
    /** Client: what masque_h2_ticket() gave on an earlier connection to the same proxy, or
     *  NULL: the handshake offers to resume that TLS session, as masque_quic_config.ticket
     *  (read by masque_h2_client_new() only; use each one once). A ticket of an HTTP/3
     *  connection is not one for HTTP/2: keep one of each. */
    const uint8_t *ticket;
    size_t ticket_len; /**< Bytes at ticket. */
    /** Proxy: the key of the TLS session tickets it issues (RFC 8446 §4.6.1),
     *  MASQUE_H2_TICKET_KEY_LEN bytes, e.g. masque_quic_credentials_ticket_key() beside
     *  `credentials` (copied). NULL: derived from key_file and client_ca_file as that one is,
     *  or, without a key_file, no tickets. Tickets never allow early data. */
    const uint8_t *ticket_key;
} masque_h2_config;

/** Bytes of masque_h2_config.ticket_key. */
#define MASQUE_H2_TICKET_KEY_LEN 64

/** Most Bind requests one connection carries at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
#define MASQUE_H2_MAX_REQUESTS 16

/**
 * @brief Start a client connection on a TCP socket (non-blocking; connected, or connecting),
 *        with its first Bind request (application pointer @p app).
 * @return The connection, or NULL on failure.
 */
MASQUE_API masque_h2_conn *masque_h2_client_new(const masque_h2_config *cfg, int fd,
                                                const masque_h2_hooks *hooks, void *app);

/**
 * @brief Serve a client on a TCP socket the proxy accepted (non-blocking).
 * @return The connection, or NULL on failure (the certificate cannot be loaded).
 */
MASQUE_API masque_h2_conn *masque_h2_server_new(const masque_h2_config *cfg, int fd,
                                                const masque_h2_hooks *hooks, void *app);

/** @brief Free a connection and every request (does not close the socket). */
MASQUE_API void masque_h2_free(masque_h2_conn *c);

/**
 * @brief The socket is readable: read and handle what is there, up to 64 KiB (and the TLS
 *        record that ends in): the windows let a peer send megabytes ahead, and one call
 *        must not hold the host's other connections that long. Poll level-triggered (or call
 *        again until the socket would block): the socket stays readable for the rest.
 * @return 0, or -1 when the connection is over.
 */
MASQUE_API int masque_h2_read(masque_h2_conn *c);

/**
 * @brief Send what can be sent now (the TLS handshake, frames, capsules).
 * @return 0, or -1 when the connection is over.
 */
MASQUE_API int masque_h2_write(masque_h2_conn *c);

/** @brief Whether the application should poll for POLLOUT (bytes wait for the socket). */
MASQUE_API int masque_h2_wants_write(const masque_h2_conn *c);

/** @brief When the sessions' timers fire: absolute ms of masque_quic-style CLOCK_MONOTONIC,
 *         UINT64_MAX for none. */
MASQUE_API uint64_t masque_h2_next_timeout(const masque_h2_conn *c);

/** @brief Handle the timers (the connection's idle timeout and keep-alive PINGs, idle
 *         compressed contexts), then write. */
MASQUE_API int masque_h2_tick(masque_h2_conn *c);

/**
 * @brief Close the connection in order: GOAWAY with @p h2_error (RFC 9113 §6.8), sent at once
 *        as far as the socket takes it; the requests end (on_close).
 * @return 0, or -1 when nothing could be sent.
 */
MASQUE_API int masque_h2_close(masque_h2_conn *c, uint32_t h2_error);

/** @brief Proxy: who the client is by its certificate (mutual TLS): 1 with its common name in
 *         @p out when it presented one that verifies against the client CA, else 0 (also when
 *         the name does not fit in @p cap). The name is as masque_quic_peer_identity() gives
 *         it: printable ASCII. */
MASQUE_API int masque_h2_peer_identity(const masque_h2_conn *c, char *out, size_t cap);

/**
 * @brief Client: what resumes this connection's TLS session on the next HTTP/2 connection to
 *        the same proxy (masque_h2_config.ticket), as masque_quic_ticket().
 * @param c The connection.
 * @param[out] out Receives it when it fits, or NULL to ask for its size.
 * @param cap Room at @p out.
 * @return Its size in bytes (copied when at most @p cap), or 0 when the proxy sent none (yet).
 */
MASQUE_API size_t masque_h2_ticket(const masque_h2_conn *c, uint8_t *out, size_t cap);

/**
 * @brief Whether the TLS handshake resumed a session instead of a full handshake.
 * @param c The connection.
 * @return 1 when it did (once the handshake is over), 0 otherwise.
 */
MASQUE_API int masque_h2_resumed(const masque_h2_conn *c);

/** @brief Whether the TLS handshake completed (with ALPN "h2"), as
 *         masque_quic_handshake_completed(): a client that gets no handshake from an address in
 *         time can try the next one. */
MASQUE_API int masque_h2_handshake_completed(const masque_h2_conn *c);

/** @brief Whether the connection is over (closed by either side, or failed). */
MASQUE_API int masque_h2_is_closed(const masque_h2_conn *c);

/**
 * @brief How the connection ended, as masque_quic_end_reason(): MASQUE_CONN_CLOSED_BY_PEER
 *        after the peer's GOAWAY (@p code its HTTP/2 error code), MASQUE_CONN_BROKEN when the
 *        TLS or TCP connection ended without one, MASQUE_CONN_TIMED_OUT at the idle timeout,
 *        MASQUE_CONN_CLOSED_HERE after masque_h2_close() or an error found here (@p code the
 *        GOAWAY's code); MASQUE_CONN_OPEN while it is open. @p code may be NULL.
 */
MASQUE_API masque_conn_end masque_h2_end_reason(const masque_h2_conn *c, uint64_t *code);

/** @brief Client: whether the proxy cannot serve CONNECT-UDP over HTTP/2 (no extended CONNECT
 *         in its SETTINGS, RFC 8441 §3). */
MASQUE_API int masque_h2_refused(const masque_h2_conn *c);

/** @brief Client: one more Bind request, sent once the proxy's SETTINGS allow it and its
 *         SETTINGS_MAX_CONCURRENT_STREAMS has room (open requests hold their streams; a
 *         request waiting when the proxy's GOAWAY comes ends with REFUSED_STREAM).
 *  @return The request, or NULL beyond max_requests, on a proxy's connection, or after the
 *          proxy's GOAWAY. */
MASQUE_API masque_h2_request *masque_h2_request_open(masque_h2_conn *c, void *app);

/** @brief Number of Bind requests the connection holds. */
MASQUE_API size_t masque_h2_requests(const masque_h2_conn *c);

/** @brief The request's stream ID (-1 while a client's request waits for the proxy's SETTINGS
 *         or for room under its SETTINGS_MAX_CONCURRENT_STREAMS). */
MASQUE_API int32_t masque_h2_request_stream_id(const masque_h2_request *r);

/** @brief The request's application pointer: the connection's until set. */
MASQUE_API void *masque_h2_request_app(const masque_h2_request *r);

/** @brief Give the request its own application pointer. */
MASQUE_API void masque_h2_request_set_app(masque_h2_request *r, void *app);

/** @brief The request's session, or NULL until it was accepted. */
MASQUE_API masque_session *masque_h2_request_session(masque_h2_request *r);

/** @brief The request's adapter, or NULL until it was accepted. */
MASQUE_API masque_adapter *masque_h2_request_adapter(masque_h2_request *r);

/** @brief The public addresses of this request, as masque_quic_request_public_addresses():
 *         those the proxy advertised (client) or on_request bound (proxy); returns how many. */
MASQUE_API size_t masque_h2_request_public_addresses(const masque_h2_request *r,
                                                     masque_address *out, size_t cap);

/** @brief Client: the HTTP status of the proxy's response, as masque_quic_request_status(): 0
 *         while none came. */
MASQUE_API int masque_h2_request_status(const masque_h2_request *r);

/** @brief Bytes of capsules the request holds for a peer that has not taken them yet (bounded
 *         by masque_h2_config.stream_buffer). */
MASQUE_API size_t masque_h2_request_buffered(const masque_h2_request *r);

/** @brief End the request (END_STREAM once its capsules are out); the other end ends its side
 *         in answer, in either role (a tunnel has no half-close), and each end's on_close then
 *         says MASQUE_H2_NO_ERROR. @return 0, or -1. */
MASQUE_API int masque_h2_request_end(masque_h2_request *r);

/** @brief Reset the request now (RST_STREAM with @p h2_error, e.g. CANCEL = 0x8); its on_close
 *         follows when the stream closes. A request not yet sent (masque_h2_request_stream_id()
 *         -1) ends in the call, on_close included, and nothing goes out for it. A request
 *         already reset is not reset again: a later call before its on_close returns 0. */
MASQUE_API int masque_h2_request_cancel(masque_h2_request *r, uint32_t h2_error);

/** @brief Raw bytes on the request stream, after the capsules queued (tests and tools).
 *  @return 0, or -1 when the stream is not open or its buffer is full. */
MASQUE_API int masque_h2_request_write_stream(masque_h2_request *r, const uint8_t *data,
                                              size_t len);

/** HTTP/2 error NO_ERROR (RFC 9113 §7). */
#define MASQUE_H2_NO_ERROR          0x0u
/** HTTP/2 error PROTOCOL_ERROR: a malformed capsule stream (RFC 9297 §3.3, RFC 9113 §8.1.1). */
#define MASQUE_H2_PROTOCOL_ERROR    0x1u
/** HTTP/2 error INTERNAL_ERROR. */
#define MASQUE_H2_INTERNAL_ERROR    0x2u
/** HTTP/2 error REFUSED_STREAM. */
#define MASQUE_H2_REFUSED_STREAM    0x7u
/** HTTP/2 error CANCEL. */
#define MASQUE_H2_CANCEL            0x8u
/** HTTP/2 error ENHANCE_YOUR_CALM: the peer makes us buffer too much (-10 §9). */
#define MASQUE_H2_ENHANCE_YOUR_CALM 0xbu

/**
 * @brief The HTTP/2 error code for an HTTP/3 one the core chose (masque_h3_error_for()):
 *        H3_MESSAGE_ERROR and H3_DATAGRAM_ERROR become PROTOCOL_ERROR, H3_EXCESSIVE_LOAD
 *        ENHANCE_YOUR_CALM, H3_REQUEST_CANCELLED CANCEL, H3_REQUEST_REJECTED REFUSED_STREAM,
 *        H3_NO_ERROR NO_ERROR, anything else INTERNAL_ERROR.
 * @param h3_error An HTTP/3 error code.
 */
MASQUE_API uint32_t masque_h2_error_from_h3(uint64_t h3_error);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_H2_H */
