/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file session.h
 * @brief A sans-IO state machine for one CONNECT-UDP Bind request stream, client or proxy.
 *
 * The host creates a session once the Bind request was accepted (see http.h), giving it the
 * storage of its Context ID table once (MASQUE_CONTEXT_TABLE_STORAGE_SIZE()), and then uses one
 * grammar of verbs, as nghttp3 and BearSSL do:
 * - read what arrives: masque_session_read_stream() (request-stream bytes),
 *   masque_session_read_datagram() (HTTP Datagram Payloads from QUIC DATAGRAM frames),
 *   masque_session_read_fin() (the stream's end);
 * - write what must leave: masque_session_write_stream() (capsules for the stream),
 *   masque_session_write_datagram() (a UDP payload framed in place, in the headroom before it);
 * - change the contexts: masque_session_open_uncompressed(), masque_session_open_context(),
 *   masque_session_close_context();
 * - learn and keep time: masque_session_poll_event(), masque_session_tick(),
 *   masque_session_next_timeout().
 *
 * Time is in milliseconds on any monotonic clock the host likes; the session reads none.
 *
 * The session enforces the rules of -10 §3-§5 and RFC 9298 §4-§5 on what the peer sends. A
 * capsule that breaks one is malformed: the call returns the specific error, the session
 * state (contexts, queues) is as it was before that capsule, and every later call returns
 * MASQUE_ERR_SESSION_FAILED. The host must then abort the request stream with
 * masque_h3_error_for(masque_session_error()) (RFC 9297 §3.3). Datagrams that cannot be
 * delivered (unknown or closed Context ID, bad IP Version, a target the policy refuses) are
 * dropped and counted, never an error.
 */
#ifndef MASQUE_SESSION_H
#define MASQUE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "masque/address.h"
#include "masque/capsule.h"
#include "masque/context.h"
#include "masque/datagram.h"
#include "masque/error.h"
#include "masque/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MASQUE_SESSION_QUEUE_LEN
/** Control capsules a session can hold before the host writes them (compile-time; 8 outside
 * the full profile). */
#define MASQUE_SESSION_QUEUE_LEN (MASQUE_PROFILE_IS_FULL ? 32 : 8)
#endif
#ifndef MASQUE_SESSION_EVENT_LEN
/** Events a session can hold before the host polls them (compile-time; 4 outside the full
 * profile). */
#define MASQUE_SESSION_EVENT_LEN (MASQUE_PROFILE_IS_FULL ? 16 : 4)
#endif
#ifndef MASQUE_SESSION_AUTO_SLOTS
/** Targets auto-compression watches at once (compile-time). */
#define MASQUE_SESSION_AUTO_SLOTS 8
#endif

/*
 * Compile-time sanity checks, in the manner of lwIP's: a size that cannot work fails the
 * build instead of corrupting a session at run time.
 */
#if MASQUE_SESSION_QUEUE_LEN < 4
#error "MASQUE_SESSION_QUEUE_LEN must be at least 4: responses and local capsules share it"
#endif
#if MASQUE_SESSION_QUEUE_LEN > 65536
#error "MASQUE_SESSION_QUEUE_LEN must be at most 65536"
#endif
#if MASQUE_SESSION_EVENT_LEN < 2
#error "MASQUE_SESSION_EVENT_LEN must be at least 2: one capsule can make two events"
#endif
#if MASQUE_SESSION_EVENT_LEN > 65536
#error "MASQUE_SESSION_EVENT_LEN must be at most 65536"
#endif
#if MASQUE_SESSION_AUTO_SLOTS < 1
#error "MASQUE_SESSION_AUTO_SLOTS must be at least 1"
#endif

/**
 * Default bound on ACK/CLOSE responses waiting to be written (-10 §9): 16, or half the queue
 * when the queue is smaller than 32, so that local capsules always keep room.
 */
#define MASQUE_SESSION_DEFAULT_MAX_PENDING                                                         \
    (MASQUE_SESSION_QUEUE_LEN / 2 < 16 ? MASQUE_SESSION_QUEUE_LEN / 2 : 16)
/** Smallest buffer that always fits the next control capsule in masque_session_write_stream(). */
#define MASQUE_SESSION_WRITE_MIN (MASQUE_CAPSULE_HEADER_MAX + MASQUE_COMPRESSION_ASSIGN_VALUE_MAX)

/** @brief Which end of the request stream this session is. */
typedef enum masque_role {
    MASQUE_ROLE_CLIENT = 0, /**< Allocates even Context IDs (RFC 9298 §4). */
    MASQUE_ROLE_PROXY = 1   /**< Allocates odd Context IDs. */
} masque_role;

/** Family bit for masque_session_config.advertised_families: IPv4. */
#define MASQUE_FAMILY_V4 0x1u
/** Family bit for masque_session_config.advertised_families: IPv6. */
#define MASQUE_FAMILY_V6 0x2u

/**
 * @brief One request stream's state machine. Place it anywhere (its size is in this header);
 *        everything in it is private: use the functions below.
 */
typedef struct masque_session masque_session;

/** @brief Session settings. The all-zero value is a -10 client with target `*` and defaults. */
typedef struct masque_session_config {
    masque_role role;       /**< Client or proxy. */
    masque_profile profile; /**< Capsule codepoints; default draft-10. */
    /**
     * Non-zero when the request named a concrete target rather than `*`: Context ID 0 then
     * carries plain RFC 9298 payloads to and from fixed_target (-10 §3, BIND-4).
     */
    int concrete_target;
    masque_address fixed_target; /**< The request's target when concrete_target is set. */
    /** Non-zero: a datagram with Context ID 0 under target `*` is dropped and counted, for
     *  peers that may send one; default: it aborts the stream (-13 §3, BIND-3). */
    int drop_context_id_zero;
    /** Non-zero: send on a context of ours only once the peer acknowledged it (-10 §3.1 makes
     *  using it earlier a MAY; by default pending contexts are used at once). */
    int wait_for_ack;
    /** Non-zero: HTTP/3 datagrams are not available; send DATAGRAM capsules (RFC 9297 §3.5). */
    int capsule_datagrams;
    uint64_t quarter_stream_id; /**< Request stream ID / 4, for QUIC DATAGRAM frames. */
    /** Bound on ACK/CLOSE responses waiting to be written; reaching it aborts (-10 §9).
     *  0: MASQUE_SESSION_DEFAULT_MAX_PENDING; below MASQUE_SESSION_QUEUE_LEN (the rest of the
     *  queue is kept for local capsules). */
    size_t max_pending_responses;
    /** The families of Proxy-Public-Address (-10 §7). 0: do not check. Client: targets of
     *  other families are refused with MASQUE_ERR_FAMILY_NOT_ADVERTISED (BIND-27). Proxy:
     *  ASSIGNs for other families are answered with COMPRESSION_CLOSE and uncompressed
     *  datagrams to them are dropped (the proxy has no address to send them from). */
    unsigned advertised_families;
    /** Close compressed contexts unused for this long (ms); 0: never. RFC 9298 §3.1
     *  advises two minutes or more for the tunnel itself. */
    uint64_t idle_timeout_ms;
    /** Auto-compression: register a compressed context for a target after this many
     *  datagrams to or from it within auto_compress_window_ms. 0: off. */
    uint32_t auto_compress_after;
    uint64_t auto_compress_window_ms; /**< Window for auto_compress_after; 0: 1000 ms. */
    /** Proxy: most contexts the client may have open at once; over it, ASSIGNs are answered
     *  with COMPRESSION_CLOSE. 0: the table's capacity. */
    size_t max_peer_contexts;
    /** Proxy: token bucket on the client's ASSIGNs, tokens per second; 0: no limit. */
    uint32_t assign_rate;
    uint32_t assign_burst; /**< Bucket size; 0: same as assign_rate. */
    /** Proxy: target policy for ASSIGNs and uncompressed datagrams (-10 §9).
     *  NULL: the defaults of masque_policy_check() (special-purpose ranges denied). */
    const masque_policy *policy;
    void *user; /**< Opaque host pointer, passed to the policy callback. */
    /** Largest DATAGRAM capsule processed; 0: MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX. A larger
     *  one is discarded without buffering (RFC 9297 §3.5, DG-18) and counted, unless its
     *  Context ID is 0 or an open context's and its payload is longer than any UDP payload
     *  can be (RFC 9298 §5: the stream is aborted with MASQUE_ERR_PAYLOAD_TOO_LARGE). */
    uint64_t max_datagram_capsule;
    /** Non-zero: any DATAGRAM capsule above max_datagram_capsule aborts the stream
     *  (MASQUE_ERR_CAPSULE_LENGTH) before its value is read. */
    int abort_on_oversized_capsule;
    /** Buffer to reassemble DATAGRAM capsules that arrive in pieces; NULL: such capsules
     *  are dropped and counted (a host that reads whole capsules never needs it). */
    uint8_t *reassembly;
    size_t reassembly_len; /**< Bytes at reassembly. */
    /** Key of the table's hashes: give a random value when peers are not trusted, so that
     *  they cannot choose Context IDs or tuples that collide. */
    uint64_t hash_seed;
} masque_session_config;

/** @brief What masque_session_poll_event() reports. */
typedef enum masque_event_kind {
    /** The peer acknowledged our ASSIGN (-10 §3.2). */
    MASQUE_EVENT_CONTEXT_ACKNOWLEDGED = 1,
    /** The peer answered our ASSIGN with COMPRESSION_CLOSE: registration rejected (§3.1). */
    MASQUE_EVENT_CONTEXT_REJECTED = 2,
    /** An active context was closed: by the peer, by the idle timer, or because both ends
     *  registered the same tuple and the proxy's one had to go (-10 §3.1). */
    MASQUE_EVENT_CONTEXT_CLOSED = 3,
    /** The peer registered a context and we accepted it (ACK queued). */
    MASQUE_EVENT_PEER_CONTEXT_OPENED = 4,
    /** The peer's ASSIGN was refused with COMPRESSION_CLOSE (policy, limits, full table). */
    MASQUE_EVENT_PEER_CONTEXT_REFUSED = 5,
    /** We registered a context on our own (auto-compression). */
    MASQUE_EVENT_CONTEXT_OPENED = 6
} masque_event_kind;

/** @brief One event. */
typedef struct masque_event {
    masque_event_kind kind; /**< What happened. */
    uint64_t context_id;    /**< The Context ID concerned. */
    masque_address target;  /**< Its tuple; version 0 for the uncompressed context. */
    int reason;             /**< Why (an enum masque_error value), 0 when nothing to say. */
} masque_event;

/** @brief A UDP payload the session delivers: a view, never a copy. */
typedef struct masque_packet {
    /** Client: the source the proxy received it from. Proxy: the target to send it to. */
    masque_address peer;
    uint64_t context_id;    /**< Context ID it came on. */
    const uint8_t *payload; /**< UDP payload, inside the buffer the host passed in. */
    size_t payload_len;     /**< Its length. */
} masque_packet;

/** @brief Counters; they only grow. */
typedef struct masque_session_stats {
    uint64_t datagrams_received;      /**< Delivered to the host. */
    uint64_t datagrams_sent;          /**< Framed by masque_session_write_datagram(). */
    uint64_t dropped_unknown_context; /**< Unknown or closed Context ID (RFC 9298 §5). */
    uint64_t dropped_context_id_zero; /**< Context ID 0 under `*`, drop_context_id_zero set. */
    uint64_t dropped_malformed;       /**< Bad IP Version, truncated datagram. */
    uint64_t dropped_policy;          /**< Proxy: uncompressed target refused (-10 §9). */
    uint64_t dropped_unreachable;     /**< Sends with no context for the tuple (-10 §8). */
    uint64_t dropped_split_capsule;   /**< DATAGRAM capsules in pieces, no reassembly room. */
    uint64_t discarded_capsules;      /**< Unknown capsule types skipped (RFC 9297 §3.2). */
    uint64_t peer_assigns_refused;    /**< ASSIGNs answered with CLOSE. */
    uint64_t unknown_closes;          /**< CLOSE for an ID never seen: ignored. */
    uint64_t dropped_after_fin;       /**< Datagrams after the receive side ended (FIN). */
    uint64_t dropped_oversized;       /**< DATAGRAM capsules above max_datagram_capsule. */
    /** Framed as DATAGRAM capsules, but the host's stream had no room (its adapter dropped
     *  them: MASQUE_HOST_NO_ROOM). */
    uint64_t dropped_no_room;
} masque_session_stats;

/** @cond PRIVATE */
/* The session's layout, so that it can be placed anywhere (stack, static, arena): private,
 * read nothing here, its fields may change in any release. */
typedef struct masque_queued_capsule {
    uint64_t context_id;
    masque_address target; /* an ASSIGN's; version 0 for the uncompressed context */
    uint8_t kind;          /* masque_capsule_kind */
    uint8_t response;      /* counts against max_pending_responses */
} masque_queued_capsule;

typedef struct masque_auto_slot {
    masque_address target;
    uint64_t window_start;
    uint32_t count;
} masque_auto_slot;

struct masque_session {
    /* The fields every call reads first: near the start, where a small target's short load
     * and store encodings reach them (Thumb: word offsets up to 124, byte ones up to 31). */
    int failed;
    int fin_received;
    int dropping_split;
    uint8_t oversized; /* 1 skipping, 2 decided */
    uint8_t oversized_id_len;
    uint8_t oversized_id[8];
    size_t queue_head;
    size_t queue_count;
    size_t responses;
    size_t event_head;
    size_t event_count;
    size_t peer_open;
    uint64_t next_local_id;
    uint64_t next_sweep;
    masque_session_config cfg;
    masque_context_table table;
    masque_capsule_parser parser;
    masque_session_stats stats;
    uint64_t bucket_millitokens;
    uint64_t bucket_time;
    masque_queued_capsule queue[MASQUE_SESSION_QUEUE_LEN];
    masque_event events[MASQUE_SESSION_EVENT_LEN];
#if MASQUE_ENABLE_AUTO_COMPRESS
    masque_auto_slot auto_slots[MASQUE_SESSION_AUTO_SLOTS];
#endif
};
/** @endcond */

/**
 * @brief Start a session (use the macro masque_session_init(), which passes the sizes).
 *
 * The sizes the caller was compiled with are compared with the library's, so that a header
 * that does not match the library (another version, other compile-time sizes or config.h
 * switches) fails loudly instead of corrupting memory, as zlib's and ngtcp2's versioned calls
 * do.
 *
 * @param s The session.
 * @param cfg Settings (NULL: a -10 client with defaults); copied.
 * @param storage The Context ID table's storage, aligned as uint64_t, owned by the caller and
 *        used until the session is dropped; MASQUE_CONTEXT_TABLE_STORAGE_SIZE(n) bytes hold n
 *        contexts (the capacity is what fits, at most MASQUE_CONTEXT_CAPACITY_MAX).
 * @param storage_len Bytes at @p storage.
 * @param now Current time (ms).
 * @param session_size sizeof(masque_session) where the caller was compiled.
 * @param config_size sizeof(masque_session_config) where the caller was compiled.
 * @return MASQUE_OK; MASQUE_ERR_ABI when the sizes differ from the library's;
 *         MASQUE_ERR_BUFFER when @p storage_len holds no context;
 *         MASQUE_ERR_INVALID_ARGUMENT for misaligned storage or settings out of range
 *         (both checked where argument checks are on, config.h: elsewhere they are the
 *         caller's to get right);
 *         MASQUE_ERR_UNSUPPORTED for MASQUE_ROLE_PROXY in a build without the proxy role
 *         (config.h, MASQUE_ENABLE_PROXY).
 */
MASQUE_API int masque_session_init_checked(masque_session *s, const masque_session_config *cfg,
                                           void *storage, size_t storage_len, uint64_t now,
                                           size_t session_size, size_t config_size);

/**
 * @brief Start a session: masque_session_init_checked() with this header's sizes.
 * @param s The session.
 * @param cfg Settings, or NULL.
 * @param storage Table storage (MASQUE_CONTEXT_TABLE_STORAGE_SIZE()).
 * @param storage_len Its size in bytes.
 * @param now Current time (ms).
 */
#define masque_session_init(s, cfg, storage, storage_len, now)                                     \
    masque_session_init_checked((s), (cfg), (storage), (storage_len), (now),                       \
                                sizeof(masque_session), sizeof(masque_session_config))

/**
 * @brief Client: register the uncompressed context (-10 §4: required before any uncompressed
 *        datagram is sent or received).
 * @param s The session.
 * @param now Current time (ms).
 * @param[out] context_id Receives the new Context ID (may be NULL).
 * @return MASQUE_OK; MASQUE_ERR_STATE on a proxy (only clients may, -10 §4);
 *         MASQUE_ERR_SECOND_UNCOMPRESSED when one is open; MASQUE_ERR_QUEUE_FULL;
 *         MASQUE_ERR_TABLE_FULL; MASQUE_ERR_CONTEXT_ID_EXHAUSTED; MASQUE_ERR_SESSION_FAILED.
 */
MASQUE_API int masque_session_open_uncompressed(masque_session *s, uint64_t now,
                                                uint64_t *context_id);

/**
 * @brief Register a compressed context for a target (client) or a source (proxy).
 * @param s The session.
 * @param target The tuple.
 * @param now Current time (ms).
 * @param[out] context_id Receives the new Context ID (may be NULL).
 * @return MASQUE_OK; MASQUE_ERR_DUPLICATE_TUPLE when a context for it is open (-13 §3.1);
 *         MASQUE_ERR_STATE on a proxy without an open uncompressed context (-10 §3.1: after
 *         it is closed the proxy opens no compressed ones); MASQUE_ERR_FAMILY_NOT_ADVERTISED;
 *         MASQUE_ERR_QUEUE_FULL; MASQUE_ERR_TABLE_FULL; MASQUE_ERR_ADDRESS;
 *         MASQUE_ERR_CONTEXT_ID_EXHAUSTED; MASQUE_ERR_SESSION_FAILED.
 */
MASQUE_API int masque_session_open_context(masque_session *s, const masque_address *target,
                                           uint64_t now, uint64_t *context_id);

/**
 * @brief Close an open context, whoever registered it (-10 §3.3), queueing COMPRESSION_CLOSE.
 * @param s The session.
 * @param context_id The Context ID to close.
 * @param now Current time (ms).
 * @return MASQUE_OK; MASQUE_ERR_UNKNOWN_CONTEXT when no open context has @p context_id;
 *         MASQUE_ERR_QUEUE_FULL; MASQUE_ERR_SESSION_FAILED.
 */
MASQUE_API int masque_session_close_context(masque_session *s, uint64_t context_id, uint64_t now);

/**
 * @brief Frame a UDP payload for the peer, in place, in the headroom before it.
 *
 * Client: @p peer is the target. Proxy: @p peer is the source the packet came from; only
 * tuples with a context, or any tuple while the uncompressed context is open, reach the client
 * (-10 §8). Picks the compressed context of the tuple when one is open (pending ones unless
 * wait_for_ack is set), else the uncompressed context, else Context ID 0 for the fixed target
 * of a concrete request; never Context ID 0 under target `*` (-10 §3). Auto-compression may
 * queue an ASSIGN as a side effect.
 *
 * @param s The session.
 * @param peer Target (client) or source (proxy).
 * @param payload First byte of the UDP payload; @p headroom bytes before it are writable
 *        (MASQUE_BIND_HEADROOM always suffices).
 * @param headroom Writable bytes before @p payload.
 * @param payload_len At most MASQUE_UDP_PAYLOAD_MAX.
 * @param now Current time (ms).
 * @param[out] path Receives how to send the bytes at (payload - return value):
 *        MASQUE_PATH_H3_DATAGRAM (a QUIC DATAGRAM frame) or MASQUE_PATH_CAPSULE (write them
 *        on the request stream, after draining masque_session_write_stream()).
 * @return Bytes of framing written before @p payload; MASQUE_ERR_UNREACHABLE (dropped and
 *         counted); MASQUE_ERR_FAMILY_NOT_ADVERTISED; MASQUE_ERR_BUFFER;
 *         MASQUE_ERR_PAYLOAD_TOO_LARGE; MASQUE_ERR_SESSION_FAILED.
 */
MASQUE_API masque_ssize masque_session_write_datagram(masque_session *s, const masque_address *peer,
                                                      uint8_t *payload, size_t headroom,
                                                      size_t payload_len, uint64_t now,
                                                      masque_datagram_path *path);

/**
 * @brief Choose how the datagrams this session writes from now on travel: in DATAGRAM capsules
 *        on the request stream (@p capsule_datagrams non-zero) or as HTTP/3 datagrams in QUIC
 *        DATAGRAM frames (0), as the config's capsule_datagrams did at init.
 *
 * For a host that learns only after the request that HTTP/3 datagrams are available: a proxy
 * may read a request before the client's SETTINGS (its control stream is another stream, and
 * QUIC does not order streams), and must not send HTTP/3 datagrams until SETTINGS_H3_DATAGRAM=1
 * arrived (RFC 9297 §2.1.1); it starts in capsules and switches when it does. Either way of
 * receiving goes on being accepted, and contexts are untouched: a DATAGRAM capsule and an HTTP/3
 * datagram carry the same HTTP Datagram Payload (RFC 9297 §3.5).
 *
 * @param s The session.
 * @param capsule_datagrams Non-zero: DATAGRAM capsules; 0: HTTP/3 datagrams (the host's
 *        adapter must then be able to write them).
 * @return MASQUE_OK; MASQUE_ERR_INVALID_ARGUMENT.
 */
MASQUE_API int masque_session_set_capsule_datagrams(masque_session *s, int capsule_datagrams);

/**
 * @brief Read an HTTP Datagram Payload received in a QUIC DATAGRAM frame (after the Quarter
 *        Stream ID, which the host matched to this stream).
 * @param s The session.
 * @param data The bytes received.
 * @param len Their length.
 * @param now Current time (ms).
 * @param[out] out Receives the packet when one is delivered; its payload is a view into
 *        @p data.
 * @return 1 when @p out holds a packet; 0 when the datagram was dropped and counted (also
 *         every datagram after masque_session_read_fin(), RFC 9297 §2.1);
 *         MASQUE_ERR_CONTEXT_ID_ZERO for Context ID 0 under target `*` (-13 §3; dropped
 *         instead with drop_context_id_zero);
 *         MASQUE_ERR_PAYLOAD_TOO_LARGE (RFC 9298 §5: abort the stream);
 *         MASQUE_ERR_SESSION_FAILED.
 */
MASQUE_API int masque_session_read_datagram(masque_session *s, const uint8_t *data, size_t len,
                                            uint64_t now, masque_packet *out);

/**
 * @brief Read bytes received on the request stream (capsules, RFC 9297 §3).
 *
 * Processes capsules until the chunk is consumed, a DATAGRAM capsule yields a packet, or the
 * event queue is too full to go on; call again with the rest.
 *
 * @param s The session.
 * @param data The bytes received.
 * @param len Their length.
 * @param now Current time (ms).
 * @param[out] out Receives a packet from a DATAGRAM capsule; check out->payload != NULL.
 *        Its payload is a view into @p data or into the reassembly buffer, valid until the
 *        next call.
 * @return Bytes consumed (possibly fewer than @p len); a malformed-capsule error (see the
 *         file comment; the session has failed); MASQUE_ERR_PENDING_LIMIT when too many
 *         responses wait (-10 §9: abort the stream); MASQUE_ERR_SESSION_FAILED.
 */
MASQUE_API masque_ssize masque_session_read_stream(masque_session *s, const uint8_t *data,
                                                   size_t len, uint64_t now, masque_packet *out);

/**
 * @brief The request stream's receive side ended (FIN).
 * @param s The session.
 * @return MASQUE_OK at a capsule boundary; MASQUE_ERR_STREAM_TRUNCATED inside a capsule
 *         (RFC 9297 §3.3: malformed).
 */
MASQUE_API int masque_session_read_fin(masque_session *s);

/**
 * @brief Write queued control capsules (ASSIGN, ACK, CLOSE) for the request stream.
 * @param s The session.
 * @param dst Output; MASQUE_SESSION_WRITE_MIN bytes always fit the next capsule.
 * @param cap Bytes at @p dst.
 * @return Bytes written (whole capsules only; 0 when nothing is queued); MASQUE_ERR_BUFFER
 *         when not even the next capsule fits.
 */
MASQUE_API masque_ssize masque_session_write_stream(masque_session *s, uint8_t *dst, size_t cap);

/**
 * @brief Number of control capsules waiting for masque_session_write_stream().
 * @param s The session.
 */
MASQUE_API size_t masque_session_queued_capsules(const masque_session *s);

/**
 * @brief Number of events waiting for masque_session_poll_event().
 * @param s The session.
 */
MASQUE_API size_t masque_session_queued_events(const masque_session *s);

/**
 * @brief Take the oldest event.
 * @param s The session.
 * @param[out] ev Receives it.
 * @return 1 when an event was taken, 0 when there is none.
 */
MASQUE_API int masque_session_poll_event(masque_session *s, masque_event *ev);

/**
 * @brief Let time pass: closes compressed contexts idle for longer than idle_timeout_ms.
 * @param s The session.
 * @param now Current time (ms).
 * @return MASQUE_OK; MASQUE_ERR_SESSION_FAILED.
 */
MASQUE_API int masque_session_tick(masque_session *s, uint64_t now);

/**
 * @brief When masque_session_tick() next has work to do.
 * @param s The session.
 * @return A time (ms); UINT64_MAX when no timer is running.
 */
MASQUE_API uint64_t masque_session_next_timeout(const masque_session *s);

/**
 * @brief Read the counters.
 * @param s The session.
 * @param[out] out Receives a copy of the counters.
 */
MASQUE_API void masque_session_get_stats(const masque_session *s, masque_session_stats *out);

/**
 * @brief The stream error the session failed with, or 0 while it is healthy.
 * @param s The session.
 */
MASQUE_API int masque_session_error(const masque_session *s);

/**
 * @brief The Quarter Stream ID the session frames its HTTP/3 datagrams with (its config's).
 * @param s The session.
 */
MASQUE_API uint64_t masque_session_quarter_stream_id(const masque_session *s);

/**
 * @brief Number of open (pending or active) contexts.
 * @param s The session.
 */
MASQUE_API size_t masque_session_context_count(const masque_session *s);

/**
 * @brief How many contexts, open and remembered closed ones, the table holds at most.
 * @param s The session.
 */
MASQUE_API size_t masque_session_context_capacity(const masque_session *s);

/**
 * @brief A copy of a Context ID's registration, open or remembered closed.
 * @param s The session.
 * @param context_id The Context ID.
 * @param[out] out Receives the copy.
 * @return 1 when found, 0 when the table does not remember @p context_id.
 */
MASQUE_API int masque_session_context_get(const masque_session *s, uint64_t context_id,
                                          masque_context_info *out);

/**
 * @brief A copy of the open context for a tuple.
 * @param s The session.
 * @param target The tuple, or NULL for the uncompressed context.
 * @param[out] out Receives the copy.
 * @return 1 when an open (pending or active) context has it, 0 otherwise.
 */
MASQUE_API int masque_session_context_find(const masque_session *s, const masque_address *target,
                                           masque_context_info *out);

/**
 * @brief Iterate over the open contexts: start with *cursor = 0 and call until it returns 0.
 * @param s The session.
 * @param cursor Iteration state, 0 to start.
 * @param[out] out Receives a copy of the next open context.
 * @return 1 when @p out holds one, 0 at the end.
 */
MASQUE_API int masque_session_context_next(const masque_session *s, size_t *cursor,
                                           masque_context_info *out);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_SESSION_H */
