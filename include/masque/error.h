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

#ifdef __cplusplus
extern "C" {
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
    MASQUE_ERR_ADDRESS = -16
} masque_error;

/**
 * @brief A short English description of an error code.
 * @param code A value of enum masque_error (any int is accepted).
 * @return A static, NUL-terminated string; "unknown error" for codes libmasque does not define.
 */
const char *masque_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_ERROR_H */
