/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file error.h
 * @brief Error codes shared by every libmasque function, and masque_strerror().
 *
 * Every function that can fail returns a negative value from enum masque_error. Values are
 * stable across versions: new codes are only ever appended.
 */
#ifndef MASQUE_ERROR_H
#define MASQUE_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "masque/config.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MASQUE_API
#if defined(__GNUC__) || defined(__clang__)
/** Marks a public function: the shared library exports these and hides everything else. */
#define MASQUE_API __attribute__((visibility("default")))
#else
/** Marks a public function (no visibility control on this compiler). */
#define MASQUE_API
#endif
#endif

/**
 * @brief Signed size: a byte count (>= 0) or a negative enum masque_error value.
 */
typedef ptrdiff_t masque_ssize;

/**
 * @brief Every error libmasque reports. All values are negative; 0 is success.
 *
 * "Malformed" codes describe input from the network that breaks a rule of the specifications;
 * on a request stream the host must treat them as an error processing the Capsule Protocol
 * (RFC 9297 §3.3: abort the stream, H3_MESSAGE_ERROR on HTTP/3) unless the function's
 * documentation says the input is merely dropped.
 */
typedef enum masque_error {
    /** Success. */
    MASQUE_OK = 0,
    /** The input ends before the item does; feed more bytes and call again. Not malformed. */
    MASQUE_ERR_NEED_MORE = -1,
    /** The caller's output buffer (or headroom) is too small; nothing was written. */
    MASQUE_ERR_BUFFER = -2,
    /** A value above 2^62-1 was given to a varint encoder (RFC 9000 §16). */
    MASQUE_ERR_VARINT_RANGE = -3,
    /** A function argument is invalid (NULL pointer, unknown enum value, ...). */
    MASQUE_ERR_INVALID_ARGUMENT = -4,
    /** Malformed: a complete item (datagram, capsule value) ends before its fields do. */
    MASQUE_ERR_TRUNCATED = -5,
    /** Malformed: a capsule value has bytes after its last field (RFC 9297 §3.3). */
    MASQUE_ERR_TRAILING_BYTES = -6,
    /** Malformed: a capsule's Length is outside what its type allows (RFC 9297 §3.3). */
    MASQUE_ERR_CAPSULE_LENGTH = -7,
    /** Malformed: Context ID 0 where the draft forbids it (-10 §3.1, §3.3). */
    MASQUE_ERR_CONTEXT_ID_ZERO = -8,
    /** Malformed: an IP Version outside {0,4,6} in an ASSIGN or {4,6} in a datagram. */
    MASQUE_ERR_IP_VERSION = -9,
    /** Malformed: the stream ended inside a capsule (RFC 9297 §3.3). */
    MASQUE_ERR_STREAM_TRUNCATED = -10,
    /** H3_DATAGRAM_ERROR: a Quarter Stream ID above 2^60-1 (RFC 9297 §2.1). */
    MASQUE_ERR_QUARTER_STREAM_ID = -11,
    /** The stream ID is not a client-initiated bidirectional QUIC stream (RFC 9297 §2.1). */
    MASQUE_ERR_STREAM_ID = -12,
    /** A UDP payload longer than 65527 bytes (RFC 9298 §5). */
    MASQUE_ERR_PAYLOAD_TOO_LARGE = -13,
    /** The capsule type does not exist in the selected codepoint profile (e.g. ACK in draft-04). */
    MASQUE_ERR_UNSUPPORTED = -14,
    /** A parser that already reported a malformed stream was fed again; the stream is dead. */
    MASQUE_ERR_PARSER_FAILED = -15,
    /** An address has a family other than IPv4/IPv6, or its text form does not parse. */
    MASQUE_ERR_ADDRESS = -16,
    /** The context table has no free entry (the caller chose its capacity). */
    MASQUE_ERR_TABLE_FULL = -17,
    /** Malformed: a Context ID that was already registered, even if closed (-10 §3.1). */
    MASQUE_ERR_DUPLICATE_CONTEXT_ID = -18,
    /** Malformed: an ASSIGN for a tuple the peer already registered (-10 §3.1, -13). */
    MASQUE_ERR_DUPLICATE_TUPLE = -19,
    /** Malformed: a peer's Context ID with the wrong parity for its role (RFC 9298 §4). */
    MASQUE_ERR_CONTEXT_PARITY = -20,
    /** Malformed: a client received an ASSIGN with IP Version 0 (-10 §4). */
    MASQUE_ERR_UNCOMPRESSED_FROM_PROXY = -21,
    /** Malformed: a second uncompressed context while one is open (-10 §4). */
    MASQUE_ERR_SECOND_UNCOMPRESSED = -22,
    /** Malformed: a COMPRESSION_ACK for a Context ID we never assigned (-10 §3.2). */
    MASQUE_ERR_UNKNOWN_ACK = -23,
    /** Every Context ID of our parity up to 2^62-1 has been used. */
    MASQUE_ERR_CONTEXT_ID_EXHAUSTED = -24,
    /** No room to send now: the session's control-capsule queue is full (write the stream
     *  out and retry), or, from the adapter, the host's stream had none for a DATAGRAM capsule
     *  (dropped and counted: dropped_no_room). */
    MASQUE_ERR_QUEUE_FULL = -25,
    /** Too many ACK/CLOSE responses wait to be sent: the stream must be aborted (-10 §9). */
    MASQUE_ERR_PENDING_LIMIT = -26,
    /** No context can carry a datagram to this target. */
    MASQUE_ERR_UNREACHABLE = -27,
    /** The call does not fit the session's role or state. */
    MASQUE_ERR_STATE = -28,
    /** The session already failed with a stream error; the stream must be aborted. */
    MASQUE_ERR_SESSION_FAILED = -29,
    /** The target policy refuses this address or port. */
    MASQUE_ERR_POLICY = -30,
    /** No open context has this Context ID. */
    MASQUE_ERR_UNKNOWN_CONTEXT = -31,
    /** The URI template is not a valid UDP proxying template (RFC 9298 §2). */
    MASQUE_ERR_TEMPLATE = -32,
    /** A malformed CONNECT-UDP (Bind) request: answer 400 (RFC 9298 §3, -13 §2). */
    MASQUE_ERR_BAD_REQUEST = -33,
    /** The response does not enable Bind (status, Connect-UDP-Bind, Proxy-Public-Address). */
    MASQUE_ERR_BAD_RESPONSE = -34,
    /** A Structured Field value does not parse (RFC 9651). */
    MASQUE_ERR_FIELD = -35,
    /** The proxy advertised no public address of this IP family (-10 §7). */
    MASQUE_ERR_FAMILY_NOT_ADVERTISED = -36,
    /** The ASSIGN rate limit of the session was reached. */
    MASQUE_ERR_RATE_LIMITED = -37,
    /**
     * A Context ID at or below one the context table had to forget: it may have been used
     * before, and a closed ID is never reused (-13 §3.3), so the registration is refused.
     */
    MASQUE_ERR_CONTEXT_ID_RETIRED = -38,
    /** Malformed: a QUIC DATAGRAM payload too short for its Quarter Stream ID (RFC 9297 §2.1). */
    MASQUE_ERR_DATAGRAM_TRUNCATED = -39,
    /** SETTINGS_H3_DATAGRAM not 0 or 1, or below the value remembered for 0-RTT (RFC 9297
     *  §2.1.1): a connection error of type H3_SETTINGS_ERROR. */
    MASQUE_ERR_H3_SETTINGS = -40,
    /** The caller was compiled against a header that does not match the library: another
     *  version, or other compile-time sizes or config.h switches. */
    MASQUE_ERR_ABI = -41,
    /** The request carries none of the proxy's credentials: answer 407 with Proxy-Authenticate
     *  (RFC 9110 §11.7.1, §15.5.8). */
    MASQUE_ERR_UNAUTHORIZED = -42
} masque_error;

/** @brief Who must act on an error, and how (masque_error_class_of()). */
typedef enum masque_error_class {
    /** Not an error (0 or a positive value). */
    MASQUE_ERROR_CLASS_NONE = 0,
    /** The peer broke a rule of the specifications: abort the stream (or close the connection
     *  for the HTTP/3 datagram errors) with masque_h3_error_for(). */
    MASQUE_ERROR_CLASS_PEER = 1,
    /** Nothing is wrong yet: retry once the condition is gone (more input, a larger buffer,
     *  the stream written out, tokens refilled). */
    MASQUE_ERROR_CLASS_TRANSIENT = 2,
    /** The call cannot be done as asked (a bad argument, the wrong role or state, a limit the
     *  host set, a packet with nowhere to go): fix or drop the call; the object is unchanged. */
    MASQUE_ERROR_CLASS_LOCAL = 3,
    /** The object failed before and is dead: abort the stream with the error it failed with. */
    MASQUE_ERROR_CLASS_FATAL = 4
} masque_error_class;

/**
 * @brief A short English description of an error code.
 * @param code A value of enum masque_error (any int is accepted).
 * @return A static, NUL-terminated string; "unknown error" for codes libmasque does not define.
 */
MASQUE_API const char *masque_strerror(int code);

/**
 * @brief The class of an error code, as the code is returned for input from the network or for
 *        a call of the host (a few codes, e.g. MASQUE_ERR_CONTEXT_ID_ZERO, also come from
 *        encoders given bad values: those calls document it).
 * @param code Any int.
 * @return Its class; MASQUE_ERROR_CLASS_LOCAL for codes libmasque does not define.
 */
MASQUE_API masque_error_class masque_error_class_of(int code);

/** HTTP/3 error H3_NO_ERROR (RFC 9114 §8.1). */
#define MASQUE_H3_NO_ERROR          0x100u
/** HTTP/3 error H3_INTERNAL_ERROR: a local failure, never the peer's fault (RFC 9114 §8.1). */
#define MASQUE_H3_INTERNAL_ERROR    0x102u
/** HTTP/3 error H3_EXCESSIVE_LOAD: the peer makes us queue too much (RFC 9114 §8.1). */
#define MASQUE_H3_EXCESSIVE_LOAD    0x107u
/** HTTP/3 error H3_SETTINGS_ERROR: a bad SETTINGS value (RFC 9114 §8.1, RFC 9297 §2.1.1). */
#define MASQUE_H3_SETTINGS_ERROR    0x109u
/** HTTP/3 error H3_REQUEST_REJECTED: a request not processed at all (RFC 9114 §8.1). */
#define MASQUE_H3_REQUEST_REJECTED  0x10bu
/** HTTP/3 error H3_REQUEST_CANCELLED: a request no longer wanted (RFC 9114 §8.1). */
#define MASQUE_H3_REQUEST_CANCELLED 0x10cu
/** HTTP/3 error H3_MESSAGE_ERROR: a malformed capsule stream (RFC 9297 §3.3). */
#define MASQUE_H3_MESSAGE_ERROR     0x10eu
/** HTTP/3 error H3_DATAGRAM_ERROR: a malformed HTTP/3 datagram (RFC 9297 §2.1, §5). */
#define MASQUE_H3_DATAGRAM_ERROR    0x33u

/**
 * @brief The HTTP/3 error code an error requires when the host aborts the request stream (or,
 *        for the datagram errors of RFC 9297 §2.1, closes the connection).
 *
 * Malformed HTTP/3 datagrams (MASQUE_ERR_QUARTER_STREAM_ID, MASQUE_ERR_DATAGRAM_TRUNCATED) and
 * UDP payloads above 65527 bytes (RFC 9298 §5) map to H3_DATAGRAM_ERROR; every error processing
 * the capsule stream, a capsule that breaks a rule of the Bind draft included, to
 * H3_MESSAGE_ERROR (RFC 9297 §3.3); the bound on waiting responses (-10 §9) to
 * H3_EXCESSIVE_LOAD; a bad SETTINGS_H3_DATAGRAM to H3_SETTINGS_ERROR; local errors, and codes
 * libmasque does not define, to H3_INTERNAL_ERROR,
 * so that the peer is never blamed for our own failure.
 *
 * @param code A negative enum masque_error value (for MASQUE_ERR_SESSION_FAILED pass
 *        masque_session_error() instead: the error the session failed with).
 * @return The HTTP/3 error code.
 */
MASQUE_API uint64_t masque_h3_error_for(int code);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_ERROR_H */
