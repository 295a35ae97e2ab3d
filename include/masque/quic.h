/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file quic.h
 * @brief The binding to a real QUIC/HTTP/3 stack: ngtcp2 + nghttp3 + GnuTLS (target
 *        masque::quic, built when the three are found).
 *
 * One masque_quic_conn is one QUIC connection, on the client or the proxy side, carrying any
 * number of CONNECT-UDP Bind requests (masque_quic_request), each on its own request stream
 * with its own session (session.h), adapter (adapter.h), context table and limits: TLS 1.3 with
 * ALPN "h3", extended CONNECT (RFC 9220, SETTINGS_ENABLE_CONNECT_PROTOCOL sent by the proxy),
 * the Bind request and response checked with http.h. Datagrams and capsules are routed to
 * their request by stream ID and Quarter Stream ID (RFC 9297 §2.1); closing or aborting one
 * request leaves the others working.
 *
 * Datagram path: both ends send SETTINGS_H3_DATAGRAM=1 and the max_datagram_frame_size
 * transport parameter; when both were received, HTTP/3 datagrams travel in QUIC DATAGRAM frames
 * (RFC 9297 §2.1), and a payload too large for one is dropped, never moved to a capsule (RFC
 * 9298 §6.1); otherwise in DATAGRAM capsules on the request stream (RFC 9297 §3.5). The client
 * sends its extended CONNECT only after the proxy's SETTINGS with
 * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3), and refuses a proxy without it.
 *
 * Built and tested against ngtcp2 1.11, nghttp3 1.8 (Debian 12 bookworm-backports; Debian 13)
 * and GnuTLS 3.7.9; needs ngtcp2 >= 1.0 and nghttp3 >= 1.0. Time here is CLOCK_MONOTONIC in
 * nanoseconds, as ngtcp2 wants it; the session inside uses milliseconds of the same clock.
 * GnuTLS writes TLS secrets to the file named by SSLKEYLOGFILE, so that captures of the relay
 * can be decrypted (tshark -o tls.keylog_file:FILE).
 */
#ifndef MASQUE_QUIC_H
#define MASQUE_QUIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "masque/adapter.h"
#include "masque/http.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief One QUIC connection (opaque; allocated by the binding). */
typedef struct masque_quic_conn masque_quic_conn;

/**
 * @brief One Bind request on a connection: its request stream, session and adapter (opaque;
 *        owned by the connection). Valid from the hook that first hands it out until its
 *        on_close hook returns.
 */
typedef struct masque_quic_request masque_quic_request;

/**
 * @brief A proxy's certificate and key, loaded once and shared by its connections (opaque,
 *        reference-counted: a connection keeps the credentials it started with).
 */
typedef struct masque_quic_credentials masque_quic_credentials;

/**
 * @brief Load a PEM certificate and key, or make a self-signed ECDSA P-256 certificate for
 *        "localhost" when @p cert_file is NULL; with @p client_ca_file, also the CA that client
 *        certificates must verify against (mutual TLS).
 * @return The credentials (one reference, the caller's), or NULL when they cannot be loaded
 *         (a @p cert_file without its @p key_file included).
 */
MASQUE_API masque_quic_credentials *masque_quic_credentials_new(const char *cert_file,
                                                                const char *key_file,
                                                                const char *client_ca_file);

/**
 * @brief Drop a reference; the credentials go when the last connection using them does.
 * @param cr The credentials, or NULL.
 */
MASQUE_API void masque_quic_credentials_release(masque_quic_credentials *cr);

/**
 * @brief Take one more reference (for another user of the same credentials).
 * @param cr The credentials.
 * @return @p cr.
 */
MASQUE_API masque_quic_credentials *masque_quic_credentials_ref(masque_quic_credentials *cr);

/**
 * @brief The GnuTLS certificate credentials inside (a gnutls_certificate_credentials_t), for a
 *        TLS/TCP listener that serves the same certificate (masque_h2_config.credentials); valid
 *        while a reference is held.
 * @param cr The credentials.
 */
MASQUE_API void *masque_quic_credentials_gnutls(const masque_quic_credentials *cr);

/** Bytes of masque_quic_credentials_ticket_key(). */
#define MASQUE_QUIC_TICKET_KEY_LEN 64

/**
 * @brief The key of the TLS session tickets (RFC 8446 §4.6.1) that connections made with these
 *        credentials issue, MASQUE_QUIC_TICKET_KEY_LEN bytes, for a TLS/TCP listener that
 *        serves the same certificate (masque_h2_config.ticket_key): a client then resumes its
 *        session over either. Derived from the key file and the client CA file's contents,
 *        so that processes serving the same files resume each other's sessions (workers, a
 *        restart) and credentials with another client CA resume none of the old ones (a
 *        resumed session is not checked against the CA again); random without a key file.
 *        Valid while a reference is held. Tickets never allow early data (0-RTT): a Bind
 *        request could be replayed.
 * @param cr The credentials.
 */
MASQUE_API const uint8_t *masque_quic_credentials_ticket_key(const masque_quic_credentials *cr);

/**
 * @brief The Bind requests each client identity holds, and its rate quotas' token buckets,
 *        in memory that processes forked after it was made share (opaque), for workers that
 *        enforce one set of quotas together (masque_quic_proxy_config.quota_share).
 */
typedef struct masque_quic_quota_share masque_quic_quota_share;

/**
 * @brief Make the shared count, before the workers fork: room for at least @p identities
 *        identities at once, those holding requests and those keeping their rate quotas'
 *        buckets (up to a second after their last request); a power of two of slots, at most
 *        half of them used. A newcomer beyond is refused with 503, as at the proxy's limits.
 * @param identities 1 to 1 000 000.
 * @return The share, or NULL (no memory, or @p identities out of range).
 */
MASQUE_API masque_quic_quota_share *masque_quic_quota_share_new(size_t identities);

/**
 * @brief Unmap the share in this process (each process that has it unmaps its own).
 * @param s The share, or NULL.
 */
MASQUE_API void masque_quic_quota_share_free(masque_quic_quota_share *s);

/**
 * @brief What a share holds now (read under its lock, from any process that has it): the
 *        places taken, how many of them by identities that hold no request and only keep
 *        their rate quotas' buckets until they are full, and the places there are.
 * @param s The share.
 * @param[out] taken Places taken.
 * @param[out] keeping Of them, those that hold no request.
 * @param[out] room Places in all (at least the identities it was made for).
 * @return 0, or -1 for a NULL argument.
 */
MASQUE_API int masque_quic_quota_share_count(masque_quic_quota_share *s, size_t *taken,
                                             size_t *keeping, size_t *room);

/**
 * @brief What the application hears from a connection. Any hook may be NULL. The request
 *        hooks get the request's application pointer (masque_quic_request_app()); on_log gets
 *        the connection's.
 */
typedef struct masque_quic_hooks {
    /** Client: the proxy accepted this Bind request; its session is ready. */
    void (*on_ready)(masque_quic_request *r, void *app);
    /** A UDP payload came out of the request's session (see masque_host_ops.on_packet). */
    void (*on_packet)(masque_quic_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len);
    /**
     * The request ended, with this HTTP/3 error code (H3_NO_ERROR also when the connection
     * went first: masque_quic_end_reason() says how); the request is gone when the hook
     * returns. Called once for every request of the client's, and for every request the proxy
     * accepted (on_request returned 0). When this end aborts the request (the peer broke a
     * rule, a refused response, masque_quic_request_cancel()), at once, not when the peer has
     * answered the reset.
     */
    void (*on_close)(masque_quic_request *r, void *app, uint64_t reason);
    /** One line about what went wrong (requests the binding refused, QUIC errors); the
     *  binding prints nothing itself. A refusal by on_authorize or on_request is not
     *  reported here: the application decided it and logs it as it wants. NULL: silent. */
    void (*on_log)(masque_quic_conn *c, void *app, const char *line);
    /**
     * Proxy: a Bind request passed every check; bind its public addresses now (-10 §7) and
     * return 0 (masque_quic_request_set_app() may give the request its own pointer), or
     * refuse: an HTTP status 400-599 to answer (e.g. 429 for a quota), anything else 503.
     * On entry `*count` is 1 and `public_addresses[0]` masque_quic_config.public_address; the
     * hook may write up to MASQUE_PUBLIC_ADDRESSES_MAX tuples and set `*count` (one per IP
     * version is the usual case). They go into Proxy-Public-Address, and the request's session
     * refuses targets of any other IP version (-10 §7: COMPRESSION_CLOSE for an ASSIGN, and
     * uncompressed datagrams dropped). A count of 0 or above the maximum refuses with 503.
     * NULL: masque_quic_config.public_address alone.
     */
    int (*on_request)(masque_quic_request *r, void *app, masque_address *public_addresses,
                      size_t *count);
    /** A session event (masque_event: a context acknowledged, rejected, closed, ...).
     *  NULL: not reported. */
    void (*on_event)(masque_quic_request *r, void *app, const masque_event *ev);
    /**
     * Proxy: may this client bind? Sees the request's Proxy-Authorization value (ptr NULL when
     * absent; masque_bearer_token_match() checks bearer tokens). Return 0 to go on, non-zero
     * to answer 407 with Proxy-Authenticate: Bearer and Proxy-Status http_request_denied.
     * Asked before anything else of the request is judged. NULL: everyone may.
     */
    int (*on_authorize)(masque_quic_request *r, void *app, masque_str proxy_authorization);
} masque_quic_hooks;

/**
 * @brief How soon an end acknowledges a packet that asks for an acknowledgement (RFC 9000
 * §13.2.1).
 */
typedef enum masque_quic_ack {
    /** The role's own: MASQUE_QUIC_ACK_AT_ONCE for a client, MASQUE_QUIC_ACK_DELAYED for a
     *  proxy. */
    MASQUE_QUIC_ACK_DEFAULT = 0,
    /**
     * At once: the max_ack_delay transport parameter is 0, and the acknowledgement goes in the
     * next packet written. A reply written right after a datagram came (an echo, an answer, a
     * handshake's next flight) then carries the acknowledgement, where a delayed one follows it
     * alone: one packet fewer each exchange, each way through the proxy. Traffic that is not
     * answered gets as many acknowledgements as before (every second packet is acknowledged at
     * once anyway), only sooner.
     */
    MASQUE_QUIC_ACK_AT_ONCE = 1,
    /**
     * ngtcp2's delay: an eighth of the smoothed RTT, at most max_ack_delay (25 ms), so that
     * one acknowledgement may cover the packets that come meanwhile. A proxy answers nothing
     * on a tunnel itself (the peer's datagrams come when they come), so a delay costs it
     * nothing.
     */
    MASQUE_QUIC_ACK_DELAYED = 2
} masque_quic_ack;

/** @brief Settings of a connection. */
typedef struct masque_quic_config {
    int is_server;         /**< Proxy side. */
    const char *authority; /**< Client: :authority of the request (and TLS server name). */
    /** The UDP proxying URI template (RFC 9298 §2); required: a connection, or a proxy,
     *  without one, or with one masque_uri_template_check() refuses, is refused. */
    const char *uri_template;
    /** Proxy: PEM certificate; NULL: a self-signed one is made. Client: its certificate for
     *  mutual TLS, or NULL. */
    const char *cert_file;
    /** Proxy: credentials loaded once (masque_quic_credentials_new()), used instead of
     *  cert_file/key_file; the connection takes its own reference. */
    masque_quic_credentials *credentials;
    /** PEM key for cert_file, required with it: a certificate without its key is refused. */
    const char *key_file;
    /** Proxy: ask each client for a certificate and verify it against this CA (mutual TLS;
     *  masque_quic_peer_identity() says who it is). NULL: no client certificates. */
    const char *client_ca_file;
    /** Client: the CAs (PEM) to verify the proxy against; NULL: the system's trusted CAs
     *  (unless `insecure`). A file that holds no CA is refused. */
    const char *ca_file;
    int insecure; /**< Client: skip certificate verification (off by default). */
    /**
     * GnuTLS priority string; NULL: TLS 1.3 with the default groups. Use it to require
     * hybrid post-quantum groups on a GnuTLS that has them (Debian 12's 3.7.9 has none).
     */
    const char *priority;
    masque_address public_address; /**< Proxy: the address in Proxy-Public-Address. */
    const masque_policy *policy;   /**< Proxy: target policy (NULL: defaults). */
    uint64_t idle_timeout_ms;      /**< Compressed-context idle timeout; 0: 120 s. */
    /**
     * The connection's idle timeout (QUIC max_idle_timeout, RFC 9000 §10.1): nothing received
     * for this long closes it, and its requests with it. 0: 120 s, as RFC 9298 §3.1 asks of a
     * proxy that closes UDP sockets for inactivity (no less than two minutes).
     */
    uint64_t conn_idle_timeout_ms;
    /**
     * Client: after this long without sending, a PING (RFC 9000 §10.1.2), so that a quiet
     * tunnel stays up, the connection and the NAT bindings on its path (many drop UDP
     * mappings after 30 s). 0: 15 s, or half the idle timeout when that is shorter;
     * UINT64_MAX: never.
     */
    uint64_t keep_alive_ms;
    /**
     * Bytes of request-stream data (capsules) queued and not yet acknowledged by the peer, per
     * request: what the peer acknowledges is room again, so a busy tunnel may carry any amount
     * through it. When a capsule does not fit (a peer that does not take them), a DATAGRAM
     * capsule is dropped and counted (MASQUE_HOST_NO_ROOM) and a response aborts the request
     * stream (-10 §9 bounds buffered responses). 0: 1 MiB.
     */
    size_t stream_buffer;
    /**
     * The longest an HTTP Datagram may wait to leave, in ms: a late datagram serves the
     * protocols UDP carries less than a lost one (RFC 9298 §6). A DATAGRAM capsule that comes
     * when the capsules in that buffer not yet handed to the stream have waited longer (flow or
     * congestion control holding them back) is dropped and counted as one that finds the
     * buffer full. A QUIC DATAGRAM frame that congestion control or pacing has held back
     * longer, in the connection's queue of 64, is dropped and counted
     * (masque_quic_datagrams_dropped()). 0: 100 ms; UINT64_MAX: no bound (room alone bounds
     * the buffer and the queue).
     */
    uint64_t datagram_max_wait_ms;
    size_t max_peer_contexts; /**< Proxy: contexts a client may hold; 0: the table (256). */
    /**
     * Bind requests open at once on one connection; 0: MASQUE_QUIC_MAX_REQUESTS. The proxy
     * answers one more with 429 (Proxy-Status connection_limit_reached); a client cannot open
     * one more. At most MASQUE_QUIC_MAX_REQUESTS.
     */
    size_t max_requests;
    /**
     * Proxy: request streams a client may have open at once, its limit of bidirectional
     * streams (RFC 9000 §4.6, raised by one as each closes), whether their requests are served,
     * refused or closing; 0: MASQUE_QUIC_MAX_REQUESTS, at most that. A client at this limit
     * waits for a stream to close (a request of masque_quic_request_open() keeps stream ID -1
     * until then), where one beyond max_requests is answered 429. RFC 9114 §6.1 asks for 100
     * where requests are cheap; a Bind request holds a UDP socket.
     */
    size_t max_streams;
    uint32_t assign_rate; /**< Proxy: ASSIGNs per second per client; 0: no limit. */
    /** Offer no HTTP/3 datagrams (SETTINGS_H3_DATAGRAM=0, no DATAGRAM frames): every datagram
     *  then travels as a DATAGRAM capsule (RFC 9297 §3.5). */
    int force_capsules;
    /** Client: a concrete target instead of `*` (with target_port), or NULL for Bind to
     *  `*`. masque-proxy answers concrete targets with 501. */
    const char *target_host;
    uint16_t target_port; /**< With target_host: 1-65535. */
    /** Client: a bearer token for the proxy, sent as Proxy-Authorization (RFC 6750 §2.1), or
     *  NULL. One that is not a token68 (masque_bearer_token_valid()) is not sent: the request
     *  fails. */
    const char *token;
    /** Proxy, for tests: withhold SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220), as a server
     *  that cannot serve extended CONNECT does. */
    int withhold_connect_protocol;
    /**
     * Proxy: validate each client's address with a Retry round trip before any connection
     * state exists (RFC 9000 §8.1.2), sealing tokens with these MASQUE_QUIC_RETRY_SECRET_LEN
     * bytes; an Initial without a valid token gets a Retry and nothing else. NULL: accept
     * Initials as they come. masque_quic_proxy_new() sets it unless told not to.
     */
    const uint8_t *retry_secret;
    /**
     * Proxy: derive the stateless reset token of each connection ID from these
     * MASQUE_QUIC_RESET_SECRET_LEN bytes (RFC 9000 §10.3.2), so that a packet for a connection
     * this end no longer knows can be answered with a Stateless Reset, by this process or by
     * the next one that has the same secret (a restarted proxy): its client then learns at its
     * next packet that the connection is gone, instead of at its idle timeout. Keep it as
     * secret as the TLS key: whoever has it can reset the proxy's connections. NULL: random
     * tokens, and no Stateless Reset. masque_quic_proxy_new() sets it unless given one:
     * derived from key_file (so that a restart keeps it), or random.
     */
    const uint8_t *reset_secret;
    /**
     * Client: the QUIC version it begins in: 1 (RFC 9000) or 2 (RFC 9369: the same protocol
     * under other codepoints and keys, so that middleboxes do not ossify on v1's); 0: 1.
     * masque_quic_client_new() refuses any other. masque-proxy speaks both, and answers a
     * client's first packet in any other with Version Negotiation (RFC 9000 §6). A client
     * whose first Initial meets a Version Negotiation that lists the other begins again in
     * it, once (RFC 9368 §2.1), and ngtcp2 checks the server's version_information for a
     * downgrade (§4): a forged Version Negotiation ends the connection with
     * VERSION_NEGOTIATION_ERROR. masque-proxy lists every version it takes there.
     */
    uint32_t quic_version;
    /** How soon this end acknowledges; masque_quic_client_new() and masque_quic_proxy_new()
     *  refuse a value not in masque_quic_ack. */
    masque_quic_ack ack;
    /**
     * Proxy: how many processes (or threads) serve one UDP port together, each with a socket
     * of its own in one SO_REUSEPORT group (masque_quic_steer_by_connection_id()); 0 or 1:
     * this one alone. At most MASQUE_QUIC_WORKERS_MAX.
     */
    unsigned workers;
    /**
     * Proxy, with workers above 1: which one this is, 0 to workers - 1 (its socket's place in
     * the group). The first byte of every connection ID this end issues is worker modulo
     * workers, the rest random, so that the group hands each packet to the worker whose
     * connection it is, from wherever it comes (a client that migrated, or whose NAT gave it
     * another port). masque_quic_proxy_new() refuses a worker not below workers.
     */
    unsigned worker;
    /**
     * Client: what masque_quic_ticket() gave on an earlier connection to the same proxy, or
     * NULL. The handshake offers to resume that TLS session (RFC 8446 §2.2), without early
     * data: the proxy's certificate is then neither sent nor verified again. A proxy that
     * cannot resume it (another key, an expired ticket) makes a full handshake; a ticket
     * that does not parse is left out. Read by masque_quic_client_new() only. Use each one
     * once: a ticket travels in clear, and a second connection offering it could be linked
     * to the first (RFC 8446 §C.4).
     */
    const uint8_t *ticket;
    size_t ticket_len; /**< Bytes at ticket. */
} masque_quic_config;

/** Most workers that may share a port (masque_quic_config.workers): a byte's worth. */
#define MASQUE_QUIC_WORKERS_MAX 255u

/** Most Bind requests one connection carries at once (the request streams a proxy allows). */
#define MASQUE_QUIC_MAX_REQUESTS 16

/** Bytes of masque_quic_config.retry_secret. */
#define MASQUE_QUIC_RETRY_SECRET_LEN 32

/** Bytes of masque_quic_config.reset_secret. */
#define MASQUE_QUIC_RESET_SECRET_LEN 32

/**
 * @brief Start a client connection on a UDP socket, with its first Bind request (sent once the
 *        proxy's SETTINGS allow extended CONNECT; its application pointer is @p app).
 * @param cfg Settings (copied; the strings must outlive the connection).
 * @param fd UDP socket the packets go out of.
 * @param local Local address of @p fd.
 * @param locallen Its length.
 * @param remote The proxy's address.
 * @param remotelen Its length.
 * @param hooks Callbacks (copied).
 * @param app Passed to the hooks.
 * @return The connection, or NULL on failure.
 */
MASQUE_API masque_quic_conn *
masque_quic_client_new(const masque_quic_config *cfg, int fd, const struct sockaddr *local,
                       socklen_t locallen, const struct sockaddr *remote, socklen_t remotelen,
                       const masque_quic_hooks *hooks, void *app);

/**
 * @brief Accept a connection from the first packet a new client sent.
 * @param cfg Settings (copied; the strings must outlive the connection).
 * @param fd UDP socket the proxy listens on.
 * @param local The address the packet was sent to: the socket's own, or, on a socket bound to
 *        a wildcard (0.0.0.0, ::), the one the kernel reported (IP_PKTINFO, IPV6_PKTINFO), from
 *        which the connection's packets then leave (a multihomed host answers from the address
 *        it was reached at, as the client expects).
 * @param locallen Its length.
 * @param remote The client's address.
 * @param remotelen Its length.
 * @param pkt The packet (an Initial).
 * @param pktlen Its length.
 * @param hooks Callbacks (copied).
 * @param app Passed to the hooks.
 * @return The connection (feed @p pkt to masque_quic_read() next), or NULL when the packet
 *         does not start a connection.
 */
MASQUE_API masque_quic_conn *
masque_quic_server_accept(const masque_quic_config *cfg, int fd, const struct sockaddr *local,
                          socklen_t locallen, const struct sockaddr *remote, socklen_t remotelen,
                          const uint8_t *pkt, size_t pktlen, const masque_quic_hooks *hooks,
                          void *app);

/**
 * @brief Free a connection and everything it holds.
 *
 * Sends nothing: close an open connection first with masque_quic_close(), or its peer learns
 * only at its idle timeout. (masque_quic_proxy_free() closes every client's connection.)
 * @param c The connection (NULL is fine).
 */
MASQUE_API void masque_quic_free(masque_quic_conn *c);

/**
 * @brief Feed one received UDP datagram; call masque_quic_write() afterwards.
 * @param c The connection.
 * @param pkt The datagram.
 * @param len Its length.
 * @return 0, or -1 when the connection is over.
 */
MASQUE_API int masque_quic_read(masque_quic_conn *c, const uint8_t *pkt, size_t len);

/**
 * @brief Client: read every datagram waiting on the connection's socket (the one it sends
 *        from, connected to the proxy) and feed each one in, without blocking; call
 *        masque_quic_write() afterwards. Where the kernel has UDP GRO, the packets the proxy
 *        sent in one GSO send come up in one system call. From the first call on, the socket
 *        coalesces (UDP_GRO): read it only through this function then, never with recv() and
 *        masque_quic_read(). A flood is read in bounded portions: call again when the socket
 *        is still readable.
 * @param c The connection.
 * @return How many datagrams were fed in (0: none waited), or -1 when the connection is over
 *         (or @p c is a proxy's connection: its socket is read by masque_quic_proxy_step()).
 */
MASQUE_API int masque_quic_read_socket(masque_quic_conn *c);

/**
 * @brief Feed one received UDP datagram that came from @p from: when that is not where the
 *        peer was, the proxy validates the new address and moves the connection there (RFC
 *        9000 §9: NAT rebinding, migration).
 * @param c The connection.
 * @param from The sender's address.
 * @param fromlen Its length.
 * @param pkt The datagram.
 * @param len Its length.
 * @return 0, or -1 when the connection is over.
 */
MASQUE_API int masque_quic_read_from(masque_quic_conn *c, const struct sockaddr *from,
                                     socklen_t fromlen, const uint8_t *pkt, size_t len);

/**
 * @brief Proxy: whether a packet's Destination Connection ID is one this connection issued,
 *        so that a client is found when its address changed. It asks one connection; a host
 *        with many keeps an index instead (masque_quic_watch_connection_ids()).
 * @param c The connection.
 * @param pkt The packet.
 * @param len Its length.
 * @return Non-zero when the packet belongs to @p c.
 */
MASQUE_API int masque_quic_is_for(const masque_quic_conn *c, const uint8_t *pkt, size_t len);

/**
 * @name Routing and stateless answers, for a host with its own server loop
 *
 * masque_quic_proxy does all of this itself. A host that accepts connections with
 * masque_quic_server_accept() and reads its listening socket itself finds each packet's
 * connection with these: by the Destination Connection ID (RFC 9000 §5.2) in an index of the
 * IDs its connections issued (masque_quic_watch_connection_ids()), an Initial that starts a
 * connection by masque_quic_starts_connection() and its retransmissions by
 * masque_quic_started_by(); and it answers packets no connection claims without keeping any
 * state: a Stateless Reset for a connection it forgot (RFC 9000 §10.3), Version Negotiation
 * for a version it does not speak (§6).
 * @{
 */

/** The length of every connection ID a proxy's connection issues: random bytes from GnuTLS,
 *  so that an index may take its hash from the ID's own bytes (no peer chooses them). */
#define MASQUE_QUIC_CONNECTION_ID_LEN 18u

/** Connection IDs a connection holds at once at most (issued, and not yet retired by the
 *  peer): ngtcp2 keeps up to 8, retired ones included; twice that leaves room. */
#define MASQUE_QUIC_CONNECTION_IDS_MAX 16u

/** The longest Version Negotiation packet masque_quic_version_negotiation() writes: 7 bytes,
 *  two connection IDs of up to 255 bytes (an unknown version may have them, RFC 9000
 *  §17.2.1), three versions. */
#define MASQUE_QUIC_VERSION_NEGOTIATION_MAX 536u

/** The shortest Stateless Reset (RFC 9000 §10.3: 38 unpredictable bits and a 16-byte token):
 *  a packet of this length or shorter gets none from masque_quic_stateless_reset(), which
 *  answers with a shorter one. */
#define MASQUE_QUIC_STATELESS_RESET_MIN 21u

/**
 * @brief Told that a connection issued connection ID @p id (MASQUE_QUIC_CONNECTION_ID_LEN
 *        bytes), or that its peer no longer uses it.
 * @param arg As given to masque_quic_watch_connection_ids().
 * @param id The ID (valid during the call).
 * @param issued 1: issued (packets naming it are the connection's); 0: retired (RFC 9000
 *        §19.16): remove it.
 */
typedef void (*masque_quic_connection_id_watch)(void *arg, const uint8_t *id, int issued);

/**
 * @brief Proxy: report every connection ID connection @p c issued and its peer may still
 *        use, at once, and from then on each one issued and retired.
 *
 * The ID the client chose for its first Initial is not one of them: it is the client's, and
 * routes only Initials (masque_quic_started_by()). Stop with @p watch NULL before freeing
 * @p c, and remove its IDs from the index then (the watch says nothing when a connection
 * goes).
 * @param c A connection from masque_quic_server_accept().
 * @param watch Called for each ID; NULL: no more reports.
 * @param arg Passed to @p watch.
 * @return 0, or -1 when @p c is a client's connection or holds more than
 *         MASQUE_QUIC_CONNECTION_IDS_MAX IDs (none reported).
 */
MASQUE_API int masque_quic_watch_connection_ids(masque_quic_conn *c,
                                                masque_quic_connection_id_watch watch, void *arg);

/**
 * @brief The Destination Connection ID of a QUIC packet (either header form, RFC 9000 §17;
 *        a short header's taken as MASQUE_QUIC_CONNECTION_ID_LEN bytes).
 * @param pkt The packet.
 * @param len Its length.
 * @param[out] dcid Points into @p pkt at the ID.
 * @param[out] dcidlen Its length (at most 20, RFC 9000 §17.2).
 * @return 0, or -1 when the packet has none that can be read: too short, empty, or a long
 *         header in a QUIC version this end does not speak (no connection of this end's).
 */
MASQUE_API int masque_quic_packet_dcid(const uint8_t *pkt, size_t len, const uint8_t **dcid,
                                       size_t *dcidlen);

/**
 * @brief Whether a packet is a client's Initial that can start a connection (its type,
 *        version and datagram size: RFC 9000 §17.2.2, §14.1): what to give
 *        masque_quic_server_accept() when no connection claims it.
 * @param pkt The packet.
 * @param len Its length (the whole UDP datagram's).
 * @return Non-zero when it can.
 */
MASQUE_API int masque_quic_starts_connection(const uint8_t *pkt, size_t len);

/**
 * @brief Whether a packet names, as its Destination Connection ID, the one the client chose
 *        for the Initial that started @p c (or, after a Retry, the one the Retry gave): a
 *        retransmission of that Initial, which no index of issued IDs knows.
 * @param c A connection from masque_quic_server_accept().
 * @param pkt The packet.
 * @param len Its length.
 * @return Non-zero when it does.
 */
MASQUE_API int masque_quic_started_by(const masque_quic_conn *c, const uint8_t *pkt, size_t len);

/**
 * @brief The Stateless Reset (RFC 9000 §10.3) that answers a short-header packet for a
 *        connection this end no longer has.
 *
 * Its token comes from @p secret and the packet's connection ID alone (§10.3.2), as the
 * connections made with the same masque_quic_config.reset_secret derive theirs: the peer
 * takes it as the end of the connection. The reset is shorter than the packet (§10.3.3: no
 * two endpoints answer each other's resets forever, and none amplifies) and looks like a
 * 1-RTT packet (§10.3). Send it back to the packet's source; answering only a bounded number
 * per second is the host's to do.
 * @param secret MASQUE_QUIC_RESET_SECRET_LEN bytes: the connections' reset_secret.
 * @param pkt The packet.
 * @param len Its length.
 * @param[out] out Receives the reset.
 * @param cap Room in @p out: 43 bytes are always enough.
 * @return The reset's length, or 0 when none is due: a long header, a packet too short for a
 *         reset under its length (MASQUE_QUIC_STATELESS_RESET_MIN), no room, or a NULL
 *         argument.
 */
MASQUE_API size_t masque_quic_stateless_reset(const uint8_t *secret, const uint8_t *pkt, size_t len,
                                              uint8_t *out, size_t cap);

/**
 * @brief The Version Negotiation packet (RFC 9000 §6.1, §17.2.1) that answers a client's
 *        first packet in a QUIC version this end does not speak.
 *
 * It lists QUIC v1, v2 where ngtcp2 has it (what masque_quic_server_accept() takes) and a
 * reserved version (§6.3), with the packet's connection IDs the other way round. Send it back
 * to the packet's source.
 * @param pkt The packet.
 * @param len Its length (the whole UDP datagram's).
 * @param[out] out Receives the answer.
 * @param cap Room in @p out: MASQUE_QUIC_VERSION_NEGOTIATION_MAX is always enough.
 * @return Its length, or 0 when none is due: a version this end speaks, a short header, a
 *         Version Negotiation packet, a datagram too small to start a connection (§14.1), no
 *         room, or a NULL argument.
 */
MASQUE_API size_t masque_quic_version_negotiation(const uint8_t *pkt, size_t len, uint8_t *out,
                                                  size_t cap);

/** @} */

/**
 * @brief Where the peer is now (the connection follows a validated address change).
 * @param c The connection.
 * @param[out] out Receives the address (as many bytes as its length; the rest of @p out is
 *        left as it was).
 * @return Its length.
 */
MASQUE_API socklen_t masque_quic_peer_address(const masque_quic_conn *c,
                                              struct sockaddr_storage *out);

/**
 * @brief Client: move the connection to another local socket (a new address or port, as after
 *        a network change), with a fresh connection ID (RFC 9000 §9.2-§9.3). Every request
 *        keeps its tunnel and public address.
 * @param c The connection.
 * @param fd The new UDP socket.
 * @param local Its local address.
 * @param locallen Its length.
 * @return 0, or -1 when the proxy gave no spare connection ID or the handshake is not done.
 */
MASQUE_API int masque_quic_migrate(masque_quic_conn *c, int fd, const struct sockaddr *local,
                                   socklen_t locallen);

/**
 * @brief Send every packet that can be sent now: HTTP/3 datagrams written since the last call
 *        (several small ones to a packet), capsules, acknowledgements; the packets leave in one
 *        sendmsg() with UDP GSO where the kernel has it. Call it after reading, after a tick,
 *        and after writing datagrams: until then they wait in the connection's queue.
 * @param c The connection.
 * @return 0, or -1 on a fatal error.
 */
MASQUE_API int masque_quic_write(masque_quic_conn *c);

/**
 * @brief When the connection's timer fires.
 * @param c The connection.
 * @return Absolute time in ns (CLOCK_MONOTONIC); UINT64_MAX for none.
 */
MASQUE_API uint64_t masque_quic_next_timeout(masque_quic_conn *c);

/**
 * @brief Handle the timer (loss recovery, idle timeout, context idle timers) and write.
 * @param c The connection.
 * @return 0, or -1 when the connection is over.
 */
MASQUE_API int masque_quic_tick(masque_quic_conn *c);

/**
 * @brief Close the whole connection now (CONNECTION_CLOSE with an HTTP/3 error code).
 * @param c The connection.
 * @param h3_error Application error code, e.g. MASQUE_H3_NO_ERROR.
 * @return 0, or -1 when the close could not be written.
 */
MASQUE_API int masque_quic_close(masque_quic_conn *c, uint64_t h3_error);

/**
 * @brief Client: what resumes this connection's TLS session on the next connection to the same
 *        proxy (masque_quic_config.ticket): the newest session ticket the proxy sent, with the
 *        session's state. It holds the session's resumption secret: keep it as a key, in
 *        memory. The proxy sends tickets once the handshake is over.
 * @param c The connection.
 * @param[out] out Receives it when it fits, or NULL to ask for its size.
 * @param cap Room at @p out.
 * @return Its size in bytes (copied when at most @p cap), or 0 when the proxy sent none (yet).
 */
MASQUE_API size_t masque_quic_ticket(const masque_quic_conn *c, uint8_t *out, size_t cap);

/**
 * @brief Whether the TLS handshake resumed a session (a ticket, RFC 8446 §2.2) instead of
 *        a full handshake with the certificate.
 * @param c The connection.
 * @return 1 when it did (once the handshake is over), 0 otherwise.
 */
MASQUE_API int masque_quic_resumed(const masque_quic_conn *c);

/**
 * @brief Proxy: who the client is by its certificate (mutual TLS, client_ca_file).
 * @param c The connection.
 * @param[out] out Receives the certificate's common name (NUL-terminated), in printable ASCII:
 *                 as RFC 4514 writes it, each other byte as the four characters \\xHH.
 * @param cap Room at @p out.
 * @return 1 when the client presented a certificate that verifies against the client CA, 0
 *         otherwise, or when its name does not fit in @p cap (it is never cut).
 */
MASQUE_API int masque_quic_peer_identity(const masque_quic_conn *c, char *out, size_t cap);

/**
 * @brief Whether the QUIC handshake completed (a client falls back to HTTP/2 when it does not
 *        in time).
 * @param c The connection.
 */
MASQUE_API int masque_quic_handshake_completed(const masque_quic_conn *c);

/**
 * @brief Whether the connection is over (closed, draining, or failed).
 * @param c The connection.
 * @return Non-zero when it can be freed.
 */
MASQUE_API int masque_quic_is_closed(const masque_quic_conn *c);

/**
 * @brief How the connection ended, for a host that must tell a peer that closed it cleanly
 *        from one that vanished (requests hear H3_NO_ERROR in on_close either way, when the
 *        connection went first).
 * @param c The connection.
 * @param[out] code The error code of the CONNECTION_CLOSE received (an HTTP/3 code for
 *        MASQUE_CONN_CLOSED_BY_PEER, a QUIC transport code for MASQUE_CONN_BROKEN; 0 after a
 *        stateless reset) or sent (MASQUE_CONN_CLOSED_HERE; 0 when none was chosen); 0
 *        otherwise. May be NULL.
 * @return The first cause of the end; MASQUE_CONN_OPEN while the connection is open.
 */
MASQUE_API masque_conn_end masque_quic_end_reason(const masque_quic_conn *c, uint64_t *code);

/**
 * @brief Client: whether the proxy was found unable to serve CONNECT-UDP (no extended CONNECT in
 *        its SETTINGS, RFC 9220); a clear line went to stderr.
 * @param c The connection.
 */
MASQUE_API int masque_quic_refused(const masque_quic_conn *c);

/**
 * @brief Datagrams dropped because no DATAGRAM frame could carry them (too large for the path),
 *        or because congestion control or pacing held them back longer than
 *        masque_quic_config.datagram_max_wait_ms or beyond the queue's room: RFC 9298 §6.1
 *        drops them.
 * @param c The connection.
 */
MASQUE_API uint64_t masque_quic_datagrams_dropped(const masque_quic_conn *c);

/**
 * @brief Of masque_quic_datagrams_dropped(), those larger than any DATAGRAM frame on the path
 *        carries (masque_quic_datagram_max()): RFC 9298 §5 has them dropped, not sent as
 *        capsules. A host says so once: over HTTP/2 the same datagram would go through.
 * @param c The connection.
 */
MASQUE_API uint64_t masque_quic_datagrams_too_large(const masque_quic_conn *c);

/**
 * @brief The largest HTTP Datagram (Quarter Stream ID, Context ID and the Bind payload with
 *        its UDP payload) one QUIC DATAGRAM frame carries on the connection's path now: what
 *        ngtcp2's path MTU discovery has confirmed (1200 bytes of UDP payload at first, at most
 *        1452), less a short header's worst case. Larger ones are dropped.
 * @param c The connection.
 */
MASQUE_API size_t masque_quic_datagram_max(const masque_quic_conn *c);

/**
 * @brief Client: one more Bind request on this connection, sent as soon as the proxy's SETTINGS
 *        and its stream limit allow it (at once when they already do; open requests, and
 *        those this end reset, hold their stream IDs until the proxy's MAX_STREAMS gives them
 *        back, RFC 9000 §4.6; masque_quic_config.max_streams at masque-proxy).
 * @param c The connection.
 * @param app The request's application pointer (given to its hooks).
 * @return The request, or NULL when the connection has masque_quic_config.max_requests open,
 *         holds MASQUE_QUIC_MAX_REQUESTS (closing ones included: masque_quic_requests()),
 *         is a proxy's, is over, or the proxy sent GOAWAY (RFC 9114 §5.2: open a new
 *         connection; a request of this one that the GOAWAY left unanswered has ended, its
 *         on_close given H3_REQUEST_REJECTED, 0x10b).
 */
MASQUE_API masque_quic_request *masque_quic_request_open(masque_quic_conn *c, void *app);

/**
 * @brief Number of Bind requests the connection holds (pending, open, or closing).
 * @param c The connection.
 */
MASQUE_API size_t masque_quic_requests(const masque_quic_conn *c);

/**
 * @brief The connection a request belongs to.
 * @param r The request.
 */
MASQUE_API masque_quic_conn *masque_quic_request_conn(const masque_quic_request *r);

/**
 * @brief The request's stream ID.
 * @param r The request.
 * @return The ID, or -1 while a client's request waits for the proxy's SETTINGS or for room
 *         under its stream limit.
 */
MASQUE_API int64_t masque_quic_request_stream_id(const masque_quic_request *r);

/**
 * @brief The request's application pointer: the connection's until set.
 * @param r The request.
 */
MASQUE_API void *masque_quic_request_app(const masque_quic_request *r);

/**
 * @brief Give the request its own application pointer, passed to its hooks from now on.
 * @param r The request.
 * @param app The pointer.
 */
MASQUE_API void masque_quic_request_set_app(masque_quic_request *r, void *app);

/**
 * @brief The Bind session of the request.
 * @param r The request.
 * @return The session, or NULL until the request was accepted.
 */
MASQUE_API masque_session *masque_quic_request_session(masque_quic_request *r);

/**
 * @brief The adapter of the request: send with masque_adapter_write_datagram(), flush after host
 *        actions such as masque_session_open_context().
 * @param r The request.
 * @return The adapter, or NULL until the request was accepted.
 */
MASQUE_API masque_adapter *masque_quic_request_adapter(masque_quic_request *r);

/**
 * @brief The public addresses of this request (Proxy-Public-Address): on a client, those the
 *        proxy advertised; on the proxy, those on_request bound. In the proxy's order.
 * @param r The request.
 * @param[out] out Receives up to @p cap addresses (MASQUE_PUBLIC_ADDRESSES_MAX at most).
 * @param cap Room at @p out.
 * @return How many were advertised (0 before the response, and for a refused request).
 */
MASQUE_API size_t masque_quic_request_public_addresses(const masque_quic_request *r,
                                                       masque_address *out, size_t cap);

/**
 * @brief Client: the HTTP status of the proxy's response to this request: 200 when it enabled
 *        Bind; 407, 429, 503, ... when it refused; 0 while no response came (and on the
 *        proxy's side). Readable in on_close, which is how a client tells a refusal it should
 *        not repeat (a 4xx but 429) from a proxy that went away.
 * @param r The request.
 */
MASQUE_API int masque_quic_request_status(const masque_quic_request *r);

/**
 * @brief Whether the request's datagrams travel in QUIC DATAGRAM frames (both ends enabled
 *        HTTP/3 datagrams, RFC 9297 §2.1.1) rather than DATAGRAM capsules, now. A proxy's
 *        request read before the client's SETTINGS starts in capsules and answers 1 from
 *        the moment those SETTINGS enable HTTP/3 datagrams.
 * @param r The request.
 */
MASQUE_API int masque_quic_request_uses_h3_datagrams(const masque_quic_request *r);

/**
 * @brief End the request (FIN on its stream) once every capsule queued so far is out; the
 *        proxy closes the request's UDP socket (RFC 9298 §3.1). Other requests go on. The
 *        other end finishes its side in answer (in either role: a tunnel has no half-close),
 *        and each end's on_close then says MASQUE_H3_NO_ERROR.
 * @param r The request.
 * @return 0, or -1 when its stream is not open yet.
 */
MASQUE_API int masque_quic_request_end(masque_quic_request *r);

/**
 * @brief Abort the request now (RESET_STREAM and STOP_SENDING with @p h3_error, e.g.
 *        H3_REQUEST_CANCELLED); on_close is called with @p h3_error before this returns (the
 *        request is gone then: the binding does not wait for the proxy's answer). Other
 *        requests go on.
 * @param r The request.
 * @param h3_error The HTTP/3 error code.
 * @return 0, or -1 when the stream cannot be shut down.
 */
MASQUE_API int masque_quic_request_cancel(masque_quic_request *r, uint64_t h3_error);

/**
 * @brief Write raw bytes on the request stream, after the capsules already queued. For tools
 *        and tests (a peer that sends a malformed capsule); applications use the session.
 * @param r The request.
 * @param data The bytes.
 * @param len Their length.
 * @return 0, or -1 when the stream is not open yet or its outbox is full.
 */
MASQUE_API int masque_quic_request_write_stream(masque_quic_request *r, const uint8_t *data,
                                                size_t len);

/**
 * @brief CLOCK_MONOTONIC in nanoseconds.
 * @return The time.
 */
MASQUE_API uint64_t masque_quic_now_ns(void);

/** @brief A whole proxy: one listening socket, many clients, one relay socket per Bind request. */
typedef struct masque_quic_proxy masque_quic_proxy;

/** Connections a proxy takes at once when masque_quic_proxy_config.max_clients is 0. */
#define MASQUE_QUIC_PROXY_CLIENTS_DEFAULT 256u

/** Bind requests per client slot when masque_quic_proxy_config.max_requests is 0. */
#define MASQUE_QUIC_PROXY_REQUESTS_PER_CLIENT 4u

/** @brief Settings of a proxy. */
typedef struct masque_quic_proxy_config {
    masque_quic_config conn; /**< Per-connection settings (is_server is forced on). */
    /**
     * Address the per-request UDP sockets bind to (port 0: the kernel picks one each), and
     * what each request is advertised as in Proxy-Public-Address (-10 §7), one tuple per IP
     * version the socket serves: a specific address serves its own version and is advertised
     * as it is. A wildcard serves IPv4 (0.0.0.0) or both versions (::, dual-stack). For the
     * version the client used, it is advertised as the address the client reached the proxy
     * at (else this host's address on the route to it; a request is refused when neither
     * says one). Over ::, the other version is advertised too when this host has a global
     * address of it: its source on the route to a public address (2001:4860:4860::8888 or
     * 8.8.8.8; nothing is sent), unless that is a special-purpose address (private, ULA,
     * ...). What goes to peers leaves from the advertised address of their version.
     */
    masque_address relay_bind;
    /** Behind NAT: the IPs to advertise instead of this host's, at most one per IP version
     *  (ports are the relay socket's); public_ip_count of them. An IP of a version the relay
     *  does not serve is not advertised. */
    masque_address public_ips[2];
    size_t public_ip_count; /**< How many of public_ips are set (0 to 2). */
    /**
     * Connections at once, over both transports. 0: MASQUE_QUIC_PROXY_CLIENTS_DEFAULT; at most
     * 1 000 000 (masque_quic_proxy_new() refuses more). When all are taken, a new client whose
     * address is proved (a Retry token, or TCP's handshake) gets the slot of a connection
     * without an open Bind request (the oldest of its own source, an IPv4 address or IPv6 /64,
     * if it has one, else the oldest of all), and that connection is closed (H3_NO_ERROR, or an
     * HTTP/2 GOAWAY): a slot is held by an accepted request, not by a connection alone. Only
     * when every connection holds a request is the new client refused.
     */
    size_t max_clients;
    /** Bind requests open at once in the whole proxy (one UDP socket each); one more is
     *  answered 503. 0: MASQUE_QUIC_PROXY_REQUESTS_PER_CLIENT per client slot; at most
     *  4 000 000. Per connection: conn.max_requests. */
    size_t max_requests;
    /**
     * Accept Initials without a Retry round trip (trusted networks only). By default every
     * client proves its address first (RFC 9000 §8.1), so spoofed or replayed Initials take
     * no client slot and no connection state.
     */
    int no_address_validation;
    /**
     * Also serve Bind over HTTP/2 (RFC 8441 extended CONNECT over TLS/TCP) on h2_listen_fd, a
     * listening TCP socket (non-blocking): one policy, one set of limits and the same client
     * slots for both transports. Needs the binary built with masque::h2.
     */
    int serve_h2;
    int h2_listen_fd; /**< With serve_h2: the listening TCP socket. */
    /**
     * A file of bearer tokens, one per line (blank lines and lines starting with '#' are
     * skipped): a request must carry one in Proxy-Authorization, else 407. Read at start and
     * again by masque_quic_proxy_reload(); tokens are never logged. At most 64 tokens of at
     * most 256 bytes: a file beyond that is refused whole (the reason goes to the log).
     * NULL: no authentication.
     */
    const char *token_file;
    /**
     * Without token_file: also serve anonymous clients that are not on this host. By default
     * only loopback clients may bind without a token (407 for the others): an open relay is
     * the operator's explicit choice.
     */
    int allow_anonymous;
    /**
     * Quotas per client identity (a token, a client certificate's name, or, anonymous, the
     * client's IPv4 address or IPv6 /64), across its connections; 0: none. Bind requests at once
     * (429 beyond), and datagrams and bytes per second through its tunnels, both ways (token
     * buckets with a second's burst; what is over is dropped and counted). The contexts of each
     * request are bounded by conn.max_peer_contexts (COMPRESSION_CLOSE beyond).
     */
    size_t quota_requests;
    uint32_t quota_datagrams_per_s; /**< See quota_requests. */
    uint64_t quota_bytes_per_s;     /**< See quota_requests. */
    /**
     * Workers (conn.workers above 1) that serve one port: the count of Bind requests each
     * identity holds, and its token buckets, shared by all of them
     * (masque_quic_quota_share_new(), made before they fork), so that the quotas bound an
     * identity across every worker, not in each. Each worker leases a sixteenth of a second's
     * tokens at a time, so an identity may pass that much more than its burst at each worker
     * it uses. An identity whose last request ended keeps its place in the share until its
     * buckets are full again (a second at most). NULL: this process counts alone.
     */
    masque_quic_quota_share *quota_share;
    /**
     * Client identities accounted apart at once (quotas, masque_quic_proxy_usage()). 0: 1024;
     * at most 1 000 000. When all are taken, a new identity gets the accounting of the one
     * that has gone longest without an open request (whose counters go to the log first);
     * only when every identity holds an open request do new ones share the last.
     */
    size_t max_identities;
    /**
     * Answers that need no connection, Stateless Resets (RFC 9000 §10.3) and Version
     * Negotiation packets (§6.1), sent at most per second, both kinds together; what is over
     * is held back and counted (masque_quic_proxy_stateless_answers()). 0: 1024; at most
     * 1 000 000. Each answer is shorter than the packet it answers: the limit bounds what a
     * flood of forged packets makes the proxy send and compute, not an amplification.
     */
    uint32_t stateless_per_s;
    int verbose; /**< Also log connections coming and going. */
    /** Where log lines go (refusals, errors; with verbose, connections); NULL: nowhere. */
    void (*log)(void *user, const char *line);
    void *log_user; /**< Passed to log. */
} masque_quic_proxy_config;

/**
 * @brief Create a proxy serving on an already bound UDP socket.
 * @param cfg Settings (copied; strings must outlive the proxy).
 * @param listen_fd The bound UDP socket, or -1 to serve HTTP/2 only (serve_h2). The proxy
 *        reads it from then on, with UDP GRO where the kernel has it (a client's GSO train in
 *        one receive).
 * @return The proxy, or NULL on failure.
 */
MASQUE_API masque_quic_proxy *masque_quic_proxy_new(const masque_quic_proxy_config *cfg,
                                                    int listen_fd);

/**
 * @brief Have the kernel hand each QUIC packet that reaches a group of `workers` UDP sockets
 *        (SO_REUSEPORT, bound to one address and port, in the order 0 to workers - 1) to the
 *        socket of the worker whose connection it is (masque_quic_config.worker).
 *
 * A classic BPF program attached to the group reads the Destination Connection ID's first
 * byte: of a short header, and of a long header whose ID has this end's length
 * (MASQUE_QUIC_CONNECTION_ID_LEN), and picks that byte modulo workers. Any other packet (a
 * client's first Initial, whose ID the client chose) goes where the kernel's hash of its
 * addresses puts it, which is the same socket for all of that client's first flight. A
 * worker that goes (its socket closed) changes the places of the others: a host restarts the
 * whole group then.
 *
 * @param fd One socket of the group, after every one of them is bound.
 * @param workers How many sockets the group holds: 2 to MASQUE_QUIC_WORKERS_MAX.
 * @return 0, or -1 with errno set (EINVAL for a count out of range; ENOPROTOOPT where the
 *         kernel has no SO_ATTACH_REUSEPORT_CBPF, Linux before 4.5).
 */
MASQUE_API int masque_quic_steer_by_connection_id(int fd, unsigned workers);

/**
 * @brief One round of the event loop: wait (up to @p timeout_ms, or the clients' next timer)
 *        for sockets with something to read, read and relay it, then serve the clients
 *        something happened to and those whose timer is due (timers, writes), and free
 *        finished clients (closing their relay sockets). The sockets are watched by epoll and
 *        the timers kept in a heap: a step costs what happened in it, not how many clients
 *        and tunnels are open.
 * @param p The proxy.
 * @param timeout_ms Longest wait (-1: until something happens or a timer is due).
 * @return 0, or -1 on a fatal error.
 */
MASQUE_API int masque_quic_proxy_step(masque_quic_proxy *p, int timeout_ms);

/**
 * @brief Read the certificate and key files again (SIGHUP): new connections use them; open
 *        ones keep theirs. The token file is read again too, and applies to every request
 *        from now on (a token removed from it is refused at once).
 * @param p The proxy.
 * @return 0, or -1 when they cannot be loaded (the old ones stay in use).
 */
MASQUE_API int masque_quic_proxy_reload(masque_quic_proxy *p);

/**
 * @brief Number of connected clients.
 * @param p The proxy.
 * @return The count.
 */
MASQUE_API size_t masque_quic_proxy_clients(const masque_quic_proxy *p);

/**
 * @brief Number of Bind requests the proxy serves now (one UDP socket each).
 * @param p The proxy.
 * @return The count.
 */
MASQUE_API size_t masque_quic_proxy_requests(const masque_quic_proxy *p);

/**
 * @brief Datagrams from targets the proxy dropped because it could not pass them on: no QUIC
 *        DATAGRAM frame could carry them (too large for the path, or held back by congestion
 *        control; RFC 9298 §6.1 drops them rather than moving them into capsules), or their
 *        DATAGRAM capsule found the request stream's buffer full (a client that does not take
 *        them as fast as they come, HTTP/3 or HTTP/2); over every client since start.
 * @param p The proxy.
 * @return The count.
 */
MASQUE_API uint64_t masque_quic_proxy_datagrams_dropped(const masque_quic_proxy *p);

/**
 * @brief Of masque_quic_proxy_datagrams_dropped(), those too large for any QUIC DATAGRAM frame
 *        on their client's path (masque_quic_datagrams_too_large()): a target that sends
 *        larger datagrams than a tunnel carries, not a tunnel short of capacity.
 * @param p The proxy.
 * @return The count.
 */
MASQUE_API uint64_t masque_quic_proxy_datagrams_too_large(const masque_quic_proxy *p);

/**
 * @brief Connections the proxy probed, since start, because a client identity's quota of
 *        requests was used up (`quota_requests`: a request refused with 429 has each other
 *        connection that holds one of the identity's requests sent a PING, HTTP/3 or HTTP/2),
 *        and those it closed for giving no answer within three PTOs, three seconds at least
 *        (a client that crashed, hung or lost its network: its requests go back to the quota).
 * @param p The proxy.
 * @param[out] lost The connections closed for giving no answer; may be NULL.
 * @return The connections probed.
 */
MASQUE_API uint64_t masque_quic_proxy_probes(const masque_quic_proxy *p, uint64_t *lost);

/**
 * @brief Clients' TLS handshakes completed since start, over HTTP/3 and HTTP/2, and how many
 *        of them resumed a session with one of the proxy's tickets (RFC 8446 §2.2): no
 *        certificate sent, no signature made. Clients that reconnect (masque-bind-client
 *        --reconnect, a network change) resume unless the proxy's key or client CA changed.
 * @param p The proxy.
 * @param[out] resumed The handshakes that resumed a session; may be NULL.
 * @return The handshakes completed.
 */
MASQUE_API uint64_t masque_quic_proxy_handshakes(const masque_quic_proxy *p, uint64_t *resumed);

/**
 * @brief Packets the proxy answered without a connection, since start: Stateless Resets
 *        (RFC 9000 §10.3), for short-header packets of connections it no longer has (a
 *        previous process's included), and Version Negotiation packets (§6.1), for clients
 *        that began in a QUIC version it does not speak.
 * @param p The proxy.
 * @param[out] resets Stateless Resets sent; may be NULL.
 * @param[out] version_negotiations Version Negotiation packets sent; may be NULL.
 * @return The answers of either kind held back by the limit of 1024 a second.
 */
MASQUE_API uint64_t masque_quic_proxy_stateless_answers(const masque_quic_proxy *p,
                                                        uint64_t *resets,
                                                        uint64_t *version_negotiations);

/**
 * @brief Steps taken since start (masque_quic_proxy_step() calls that returned 0).
 * @param p The proxy.
 * @return The count.
 */
MASQUE_API uint64_t masque_quic_proxy_steps(const masque_quic_proxy *p);

/**
 * @brief Client turns since start: a turn is a step reading, ticking or writing one client's
 *        connection. A step gives a turn only to the clients something happened to (a packet,
 *        data relayed to them, their socket) and to those whose timer is due, so turns grow
 *        with traffic and timers, not with the clients connected: turns per step is the
 *        proxy's work per step, and a relayed datagram costs the same with 5 or 5000 idle
 *        clients.
 * @param p The proxy.
 * @return The count.
 */
MASQUE_API uint64_t masque_quic_proxy_client_turns(const masque_quic_proxy *p);

/** @brief What one client identity used (masque_quic_proxy_usage()). */
typedef struct masque_quic_usage {
    /** "token #N", "certificate NAME", "anonymous IPV4" or "anonymous IPV6/64". */
    char identity[176];
    size_t requests;    /**< Bind requests open now. */
    uint64_t datagrams; /**< Datagrams relayed, both ways. */
    uint64_t bytes;     /**< Their payload bytes. */
    uint64_t dropped;   /**< Datagrams dropped by its quota. */
    uint64_t refused;   /**< Requests refused by its quota. */
} masque_quic_usage;

/**
 * @brief The counters of one client identity the proxy accounts for (for SIGUSR1, or at exit):
 *        every identity seen since start, up to max_identities; beyond, an identity whose
 *        accounting went to a newcomer had its counters logged then.
 * @param p The proxy.
 * @param i 0, 1, ... until it returns -1.
 * @param[out] out The counters.
 * @return 0, or -1 past the last identity.
 */
MASQUE_API int masque_quic_proxy_usage(const masque_quic_proxy *p, size_t i,
                                       masque_quic_usage *out);

/**
 * @brief Free the proxy and every client (does not close the listening socket).
 *
 * Each client's connection still open is closed first (HTTP/3: CONNECTION_CLOSE with
 * H3_NO_ERROR; HTTP/2: GOAWAY), so that clients learn at once that the proxy stopped.
 * @param p The proxy.
 */
MASQUE_API void masque_quic_proxy_free(masque_quic_proxy *p);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_QUIC_H */
