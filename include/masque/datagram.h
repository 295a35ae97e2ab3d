/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file datagram.h
 * @brief HTTP Datagrams (RFC 9297 §2.1), UDP proxying payloads (RFC 9298 §5) and the Bind
 *        payloads (-10 §4 uncompressed, §5 compressed), with zero-copy headroom encoders.
 *
 * A Bind datagram on the wire, innermost last:
 * - HTTP/3: QUIC DATAGRAM frame payload = Quarter Stream ID (i), HTTP Datagram Payload;
 *   or, on the request stream, a DATAGRAM capsule whose value is the HTTP Datagram Payload;
 * - HTTP Datagram Payload = Context ID (i), UDP Proxying Payload (RFC 9298 §5);
 * - uncompressed context: IP Version (8), IP Address (32/128), UDP Port (16), UDP Payload;
 *   compressed context: UDP Payload.
 *
 * Decoders take a complete datagram: running out of bytes is malformed (MASQUE_ERR_TRUNCATED),
 * never "need more". Payload fields are views into the caller's buffer.
 */
#ifndef MASQUE_DATAGRAM_H
#define MASQUE_DATAGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "masque/address.h"
#include "masque/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest Quarter Stream ID: 2^60-1, since stream IDs stop at 2^62-1 (RFC 9297 §2.1). */
#define MASQUE_QUARTER_STREAM_ID_MAX ((uint64_t)0x0FFFFFFFFFFFFFFFu)

/** Longest Bind header after the Quarter Stream ID: Context ID (8) + IP Version + IPv6 + port. */
#define MASQUE_BIND_HEADER_MAX       27u
/** Headroom that always suffices for a Bind datagram sent as a QUIC DATAGRAM frame. */
#define MASQUE_BIND_H3_HEADROOM      (8u + MASQUE_BIND_HEADER_MAX)
/** Headroom that always suffices for a Bind datagram sent as a DATAGRAM capsule. */
#define MASQUE_BIND_CAPSULE_HEADROOM (1u + 8u + MASQUE_BIND_HEADER_MAX)
/** Headroom that suffices for either path. */
#define MASQUE_BIND_HEADROOM         MASQUE_BIND_CAPSULE_HEADROOM

/** @brief An HTTP/3 Datagram: the QUIC DATAGRAM frame payload (RFC 9297 §2.1). */
typedef struct masque_h3_datagram {
    uint64_t quarter_stream_id; /**< Request stream ID divided by four. */
    const uint8_t *payload;     /**< HTTP Datagram Payload (view). */
    size_t payload_len;         /**< Bytes at @c payload. */
} masque_h3_datagram;

/**
 * @brief Decode a QUIC DATAGRAM frame payload.
 * @param[out] out Receives the Quarter Stream ID and a view of the rest; untouched on error.
 * @param src The frame payload.
 * @param len Its length.
 * @return @p len on success; MASQUE_ERR_DATAGRAM_TRUNCATED when it cannot hold the Quarter Stream
 * ID (DG-4); MASQUE_ERR_QUARTER_STREAM_ID above 2^60-1 (DG-3). Both are HTTP/3 connection errors of
 * type H3_DATAGRAM_ERROR (0x33) for the host.
 */
MASQUE_API masque_ssize masque_h3_datagram_decode(masque_h3_datagram *out, const uint8_t *src,
                                                  size_t len);

/**
 * @brief Quarter Stream ID of a request stream.
 * @param stream_id A QUIC stream ID.
 * @param[out] quarter_stream_id Receives stream_id / 4.
 * @return MASQUE_OK; MASQUE_ERR_STREAM_ID when the stream is not client-initiated
 *         bidirectional (its two low bits are not 0) or is above 2^62-1.
 */
MASQUE_API int masque_quarter_stream_id_of(uint64_t stream_id, uint64_t *quarter_stream_id);

/**
 * @brief Write the Quarter Stream ID immediately before an HTTP Datagram Payload.
 * @param payload First byte of the HTTP Datagram Payload; @p headroom bytes before it are ours.
 * @param headroom Writable bytes before @p payload.
 * @param quarter_stream_id At most MASQUE_QUARTER_STREAM_ID_MAX.
 * @return Bytes written before @p payload; MASQUE_ERR_BUFFER; MASQUE_ERR_QUARTER_STREAM_ID.
 */
MASQUE_API masque_ssize masque_h3_datagram_prepend(uint8_t *payload, size_t headroom,
                                                   uint64_t quarter_stream_id);

/** @brief An HTTP Datagram Payload of a UDP proxying request (RFC 9298 §5). */
typedef struct masque_context_payload {
    uint64_t context_id;    /**< Context ID. */
    const uint8_t *payload; /**< What follows the Context ID (view). */
    size_t payload_len;     /**< Bytes at @c payload. */
} masque_context_payload;

/**
 * @brief Split an HTTP Datagram Payload into Context ID and the rest.
 * @return @p len on success; MASQUE_ERR_TRUNCATED when there is no complete Context ID.
 */
MASQUE_API masque_ssize masque_context_payload_decode(masque_context_payload *out,
                                                      const uint8_t *src, size_t len);

/**
 * @brief A Bind datagram: Context ID, target tuple (uncompressed only), UDP payload view.
 *
 * From client to proxy the tuple is the target to send to; from proxy to client it is the
 * source the packet came from (-10 §4). For a compressed datagram @c target.version is 0:
 * the tuple is the one registered for the Context ID.
 */
typedef struct masque_bind_datagram {
    uint64_t context_id;    /**< Context ID. */
    masque_address target;  /**< Tuple carried in the datagram; version 0 when compressed. */
    const uint8_t *payload; /**< UDP payload (view). */
    size_t payload_len;     /**< Bytes at @c payload, at most MASQUE_UDP_PAYLOAD_MAX. */
} masque_bind_datagram;

/**
 * @brief Decode the part of an uncompressed Bind datagram after its Context ID (-10 §4).
 * @param[out] target Receives the tuple; untouched on error.
 * @param[out] payload Receives a view of the UDP payload.
 * @param[out] payload_len Receives its length.
 * @param src Bytes after the Context ID.
 * @param len Their length.
 * @return @p len on success; MASQUE_ERR_TRUNCATED; MASQUE_ERR_IP_VERSION when the IP Version
 *         is not 4 or 6 (BIND-21: drop the datagram); MASQUE_ERR_PAYLOAD_TOO_LARGE above
 *         65527 bytes (RFC 9298 §5: abort the stream).
 */
MASQUE_API masque_ssize masque_bind_tuple_decode(masque_address *target, const uint8_t **payload,
                                                 size_t *payload_len, const uint8_t *src,
                                                 size_t len);

/**
 * @brief Decode a whole uncompressed Bind HTTP Datagram Payload (Context ID included).
 * @return @p len, or an error of masque_context_payload_decode() or
 *         masque_bind_tuple_decode().
 */
MASQUE_API masque_ssize masque_bind_uncompressed_decode(masque_bind_datagram *out,
                                                        const uint8_t *src, size_t len);

/**
 * @brief Decode a whole compressed Bind HTTP Datagram Payload (Context ID and UDP payload).
 * @return @p len; MASQUE_ERR_TRUNCATED; MASQUE_ERR_PAYLOAD_TOO_LARGE above 65527 bytes.
 */
MASQUE_API masque_ssize masque_bind_compressed_decode(masque_bind_datagram *out, const uint8_t *src,
                                                      size_t len);

/** @brief How a Bind datagram is carried. */
typedef enum masque_datagram_path {
    /** A QUIC DATAGRAM frame: Quarter Stream ID prefix (RFC 9297 §2.1). */
    MASQUE_PATH_H3_DATAGRAM = 0,
    /** A DATAGRAM capsule on the request stream (RFC 9297 §3.5). */
    MASQUE_PATH_CAPSULE = 1,
    /** Only the HTTP Datagram Payload (Context ID onwards), for hosts that add their own. */
    MASQUE_PATH_PAYLOAD_ONLY = 2
} masque_datagram_path;

/** @brief Everything an encoder puts in front of a UDP payload. */
typedef struct masque_bind_frame {
    masque_datagram_path path;  /**< Outer framing. */
    uint64_t quarter_stream_id; /**< For MASQUE_PATH_H3_DATAGRAM. */
    uint64_t context_id;        /**< Context ID. */
    /** Uncompressed target (or source, from a proxy); NULL for a compressed context. */
    const masque_address *target;
} masque_bind_frame;

/**
 * @brief Bytes of framing masque_bind_frame_prepend() writes for a payload.
 * @return The header length; 0 when @p f cannot be encoded.
 */
MASQUE_API size_t masque_bind_frame_header_len(const masque_bind_frame *f, size_t payload_len);

/**
 * @brief Write the whole framing of a Bind datagram immediately before its UDP payload.
 *
 * The zero-copy path of a relay: receive a UDP packet at offset MASQUE_BIND_HEADROOM in a
 * buffer, call this, and send from (payload - return value); the payload is never moved.
 *
 * @param payload First byte of the UDP payload; @p headroom bytes before it are writable.
 * @param headroom Writable bytes before @p payload.
 * @param payload_len UDP payload length, at most MASQUE_UDP_PAYLOAD_MAX.
 * @param f Framing.
 * @return Bytes written before @p payload; MASQUE_ERR_BUFFER when the headroom is too small
 *         (masque_bind_frame_header_len() says how much is needed); MASQUE_ERR_PAYLOAD_TOO_LARGE
 *         (UDP-11); MASQUE_ERR_VARINT_RANGE; MASQUE_ERR_QUARTER_STREAM_ID; MASQUE_ERR_ADDRESS
 *         for a target that is neither IPv4 nor IPv6; MASQUE_ERR_INVALID_ARGUMENT.
 */
MASQUE_API masque_ssize masque_bind_frame_prepend(uint8_t *payload, size_t headroom,
                                                  size_t payload_len, const masque_bind_frame *f);

/**
 * @brief Encode a whole Bind datagram into a buffer, copying the payload after the framing.
 * @param dst Output; may overlap @p payload (the payload is moved, not copied blindly).
 * @param cap Bytes at @p dst.
 * @param f Framing.
 * @param payload UDP payload (NULL allowed when @p payload_len is 0).
 * @param payload_len Its length.
 * @return Bytes written; MASQUE_ERR_BUFFER when @p cap is below
 *         masque_bind_frame_header_len() + @p payload_len; the errors of
 *         masque_bind_frame_prepend().
 */
MASQUE_API masque_ssize masque_bind_frame_encode(uint8_t *dst, size_t cap,
                                                 const masque_bind_frame *f, const uint8_t *payload,
                                                 size_t payload_len);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_DATAGRAM_H */
