/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file capsule.h
 * @brief The Capsule Protocol (RFC 9297 §3) and the Bind capsules (-10 §3).
 *
 * Three layers, each usable alone:
 * - framing: a capsule is Type (i), Length (i), Value (Length bytes); encode a header or a
 *   whole capsule, or decode one complete capsule from a buffer (views, no copies);
 * - bodies: COMPRESSION_ASSIGN, COMPRESSION_ACK and COMPRESSION_CLOSE values, decoded exactly
 *   (a value with missing or trailing bytes is malformed, RFC 9297 §3.3);
 * - an incremental parser for the capsule stream of a request stream, fed chunks cut anywhere.
 *
 * Codepoints come from a profile: the -10 draft (default) or draft-04, whose ASSIGN and CLOSE
 * have other types and which has no ACK (the receiver echoes the ASSIGN instead).
 */
#ifndef MASQUE_CAPSULE_H
#define MASQUE_CAPSULE_H

#include <stddef.h>
#include <stdint.h>

#include "masque/address.h"
#include "masque/error.h"
#include "masque/varint.h"

#ifdef __cplusplus
extern "C" {
#endif

/** DATAGRAM capsule type (RFC 9297 §3.5). */
#define MASQUE_CAPSULE_TYPE_DATAGRAM                   0x00u
/** COMPRESSION_ASSIGN capsule type (-10 §3.1). */
#define MASQUE_CAPSULE_TYPE_COMPRESSION_ASSIGN         0x11u
/** COMPRESSION_ACK capsule type (-10 §3.2). */
#define MASQUE_CAPSULE_TYPE_COMPRESSION_ACK            0x12u
/** COMPRESSION_CLOSE capsule type (-10 §3.3). */
#define MASQUE_CAPSULE_TYPE_COMPRESSION_CLOSE          0x13u
/** COMPRESSION_ASSIGN capsule type of draft-04, for interoperability only. */
#define MASQUE_CAPSULE_TYPE_DRAFT04_COMPRESSION_ASSIGN 0x1C0FE323u
/** COMPRESSION_CLOSE capsule type of draft-04, for interoperability only. */
#define MASQUE_CAPSULE_TYPE_DRAFT04_COMPRESSION_CLOSE  0x1C0FE324u

/** Largest COMPRESSION_ASSIGN value: Context ID (8) + IP Version (1) + IPv6 (16) + port (2). */
#define MASQUE_COMPRESSION_ASSIGN_VALUE_MAX 27u
/** Smallest COMPRESSION_ASSIGN value: a 1-byte Context ID and IP Version 0. */
#define MASQUE_COMPRESSION_ASSIGN_VALUE_MIN 2u
/** Largest COMPRESSION_ACK or COMPRESSION_CLOSE value: one 8-byte Context ID. */
#define MASQUE_COMPRESSION_ID_VALUE_MAX     8u
/** Longest capsule header: 8-byte Type and 8-byte Length. */
#define MASQUE_CAPSULE_HEADER_MAX           16u
/** Largest UDP payload a datagram may carry (RFC 9298 §5). */
#define MASQUE_UDP_PAYLOAD_MAX              65527u
/**
 * Default largest DATAGRAM capsule value the parser accepts: the longest Bind datagram, an
 * 8-byte Context ID, an uncompressed IPv6 target (19 bytes) and a 65527-byte payload.
 */
#define MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX (8u + 19u + MASQUE_UDP_PAYLOAD_MAX)

/** @brief Which capsule codepoints are spoken on a stream. */
typedef enum masque_profile {
    /** draft-ietf-masque-connect-udp-listen-10 (wire-identical through -13): 0x11/0x12/0x13. */
    MASQUE_PROFILE_DRAFT10 = 0,
    /** draft-04: ASSIGN 0x1C0FE323, CLOSE 0x1C0FE324, no ACK (the ASSIGN is echoed). */
    MASQUE_PROFILE_DRAFT04 = 1
} masque_profile;

/** @brief What a capsule type means under a profile. */
typedef enum masque_capsule_kind {
    MASQUE_CAPSULE_UNKNOWN = 0,            /**< Not known: skipped (RFC 9297 §3.2). */
    MASQUE_CAPSULE_DATAGRAM = 1,           /**< DATAGRAM (RFC 9297 §3.5). */
    MASQUE_CAPSULE_COMPRESSION_ASSIGN = 2, /**< COMPRESSION_ASSIGN (-10 §3.1). */
    MASQUE_CAPSULE_COMPRESSION_ACK = 3,    /**< COMPRESSION_ACK (-10 §3.2). */
    MASQUE_CAPSULE_COMPRESSION_CLOSE = 4   /**< COMPRESSION_CLOSE (-10 §3.3). */
} masque_capsule_kind;

/**
 * @brief Classify a capsule type.
 * @param profile Codepoint profile of the stream.
 * @param type Capsule Type as read from the wire.
 * @return The kind; MASQUE_CAPSULE_UNKNOWN for types the profile does not define (and for an
 *         unknown @p profile).
 */
MASQUE_API masque_capsule_kind masque_capsule_kind_of(masque_profile profile, uint64_t type);

/**
 * @brief The capsule type of a kind under a profile.
 * @param profile Codepoint profile.
 * @param kind A known kind.
 * @param[out] type Receives the Capsule Type.
 * @return MASQUE_OK; MASQUE_ERR_UNSUPPORTED for COMPRESSION_ACK under draft-04;
 *         MASQUE_ERR_INVALID_ARGUMENT for MASQUE_CAPSULE_UNKNOWN or an unknown profile.
 */
MASQUE_API int masque_capsule_type_of(masque_profile profile, masque_capsule_kind kind,
                                      uint64_t *type);

/** @brief One complete capsule: its type and a view of its value inside the caller's buffer. */
typedef struct masque_capsule {
    uint64_t type;        /**< Capsule Type. */
    const uint8_t *value; /**< First byte of the value, inside the decoded buffer. */
    size_t length;        /**< Capsule Length: bytes at @c value. */
} masque_capsule;

/**
 * @brief Decode one complete capsule from the start of a buffer.
 * @param[out] out Receives the type and a view of the value; untouched on error.
 * @param src Buffer; the value view points into it.
 * @param len Bytes at @p src.
 * @return Bytes consumed (header plus value); MASQUE_ERR_NEED_MORE when the header or the
 *         value is not all in the buffer (for a stream this is not an error until the stream
 *         ends, RFC 9297 §3.3).
 */
MASQUE_API masque_ssize masque_capsule_decode(masque_capsule *out, const uint8_t *src, size_t len);

/**
 * @brief Length of a capsule header.
 * @return Bytes of Type plus Length; 0 when either is above 2^62-1.
 */
MASQUE_API size_t masque_capsule_header_len(uint64_t type, uint64_t length);

/**
 * @brief Encode a capsule header (Type, Length); the caller writes the value after it.
 * @return Bytes written; MASQUE_ERR_BUFFER when @p cap is below masque_capsule_header_len();
 *         MASQUE_ERR_VARINT_RANGE when a field is above 2^62-1.
 */
MASQUE_API masque_ssize masque_capsule_header_encode(uint8_t *dst, size_t cap, uint64_t type,
                                                     uint64_t length);

/**
 * @brief Write a capsule header immediately before a value already in the caller's buffer.
 *
 * Zero-copy framing: the header goes into [value - n, value), where n is the return value.
 *
 * @param value First byte of the value; @p headroom bytes before it must be writable.
 * @param headroom Writable bytes before @p value (MASQUE_CAPSULE_HEADER_MAX always suffice).
 * @param type Capsule Type.
 * @param length Capsule Length (the value's length).
 * @return n, the header length; MASQUE_ERR_BUFFER when @p headroom < n;
 *         MASQUE_ERR_VARINT_RANGE when a field is above 2^62-1.
 */
MASQUE_API masque_ssize masque_capsule_header_prepend(uint8_t *value, size_t headroom,
                                                      uint64_t type, uint64_t length);

/**
 * @brief Encode a whole capsule: header and a copy of the value.
 * @param dst Output; must not overlap @p value.
 * @param cap Bytes at @p dst.
 * @param type Capsule Type.
 * @param value Value bytes (may be NULL when @p length is 0).
 * @param length Value length.
 * @return Bytes written; MASQUE_ERR_BUFFER (nothing written) when @p cap is too small: the
 *         size needed is masque_capsule_header_len(type, length) + length.
 */
MASQUE_API masque_ssize masque_capsule_encode(uint8_t *dst, size_t cap, uint64_t type,
                                              const uint8_t *value, size_t length);

/**
 * @brief A COMPRESSION_ASSIGN capsule's fields (-10 §3.1).
 *
 * ip_version 0 registers the uncompressed context and @c target is unused (zeroed by the
 * decoder); 4 or 6 registers a compressed context for @c target, whose version equals
 * ip_version.
 */
typedef struct masque_compression_assign {
    uint64_t context_id;   /**< Context ID, never 0. */
    uint8_t ip_version;    /**< 0, 4 or 6. */
    masque_address target; /**< Target tuple when ip_version is 4 or 6. */
} masque_compression_assign;

/**
 * @brief Decode a COMPRESSION_ASSIGN value (the bytes after the capsule header).
 * @param[out] out Receives the fields; untouched on error.
 * @param value The capsule value.
 * @param len Capsule Length.
 * @return @p len on success. Malformed (RFC 9297 §3.3, -10 §3.1): MASQUE_ERR_TRUNCATED when
 *         the value ends before its fields, MASQUE_ERR_TRAILING_BYTES when bytes follow them,
 *         MASQUE_ERR_CONTEXT_ID_ZERO for Context ID 0, MASQUE_ERR_IP_VERSION for an IP Version
 *         other than 0, 4 or 6.
 */
MASQUE_API masque_ssize masque_compression_assign_decode(masque_compression_assign *out,
                                                         const uint8_t *value, size_t len);

/**
 * @brief Size of a whole COMPRESSION_ASSIGN capsule.
 * @return Bytes masque_compression_assign_encode() writes; 0 when @p in cannot be encoded.
 */
MASQUE_API size_t masque_compression_assign_encoded_len(masque_profile profile,
                                                        const masque_compression_assign *in);

/**
 * @brief Encode a whole COMPRESSION_ASSIGN capsule.
 * @return Bytes written; MASQUE_ERR_BUFFER when @p cap is below
 *         masque_compression_assign_encoded_len(); MASQUE_ERR_CONTEXT_ID_ZERO,
 *         MASQUE_ERR_VARINT_RANGE, MASQUE_ERR_IP_VERSION (ip_version not 0/4/6 or not equal
 *         to target.version) for fields the draft does not allow; nothing is written on error.
 */
MASQUE_API masque_ssize masque_compression_assign_encode(uint8_t *dst, size_t cap,
                                                         masque_profile profile,
                                                         const masque_compression_assign *in);

/**
 * @brief Decode a COMPRESSION_ACK or COMPRESSION_CLOSE value: one Context ID.
 * @param[out] context_id Receives the Context ID; untouched on error.
 * @param value The capsule value.
 * @param len Capsule Length.
 * @return @p len on success; MASQUE_ERR_TRUNCATED, MASQUE_ERR_TRAILING_BYTES, or
 *         MASQUE_ERR_CONTEXT_ID_ZERO (-10 §3.3 for CLOSE; for ACK, 0 can never have been
 *         assigned, so -10 §3.2 makes it malformed too).
 */
MASQUE_API masque_ssize masque_compression_id_decode(uint64_t *context_id, const uint8_t *value,
                                                     size_t len);

/**
 * @brief Size of a whole COMPRESSION_ACK or COMPRESSION_CLOSE capsule.
 * @param profile Codepoint profile.
 * @param kind MASQUE_CAPSULE_COMPRESSION_ACK or MASQUE_CAPSULE_COMPRESSION_CLOSE.
 * @param context_id The Context ID.
 * @return Bytes the encoder writes; 0 when it would fail.
 */
MASQUE_API size_t masque_compression_id_encoded_len(masque_profile profile,
                                                    masque_capsule_kind kind, uint64_t context_id);

/**
 * @brief Encode a whole COMPRESSION_ACK or COMPRESSION_CLOSE capsule.
 * @param dst Output buffer.
 * @param cap Bytes at @p dst.
 * @param profile Codepoint profile (draft-04 has no ACK: MASQUE_ERR_UNSUPPORTED).
 * @param kind MASQUE_CAPSULE_COMPRESSION_ACK or MASQUE_CAPSULE_COMPRESSION_CLOSE.
 * @param context_id Non-zero Context ID.
 * @return Bytes written; MASQUE_ERR_BUFFER, MASQUE_ERR_CONTEXT_ID_ZERO,
 *         MASQUE_ERR_VARINT_RANGE, MASQUE_ERR_UNSUPPORTED or MASQUE_ERR_INVALID_ARGUMENT.
 */
MASQUE_API masque_ssize masque_compression_id_encode(uint8_t *dst, size_t cap,
                                                     masque_profile profile,
                                                     masque_capsule_kind kind, uint64_t context_id);

/** @brief What a call to masque_capsule_parser_feed() produced. */
typedef enum masque_capsule_event_kind {
    /** Nothing yet: every byte given was consumed and more are needed. */
    MASQUE_CAPSULE_EVENT_NONE = 0,
    /** A complete COMPRESSION_ASSIGN, ACK or CLOSE; @c data views its whole value. */
    MASQUE_CAPSULE_EVENT_CONTROL = 1,
    /** A piece of a DATAGRAM capsule's value at @c offset (the whole value when contiguous). */
    MASQUE_CAPSULE_EVENT_DATAGRAM = 2,
    /** The header of a capsule of unknown type; its value is skipped (RFC 9297 §3.2). */
    MASQUE_CAPSULE_EVENT_UNKNOWN = 3,
    /** The header of a DATAGRAM capsule above the limit; its value is skipped (RFC 9297 §3.5). */
    MASQUE_CAPSULE_EVENT_DISCARDED = 4
} masque_capsule_event_kind;

/** @brief An output of the incremental parser. Views are valid until the next feed call. */
typedef struct masque_capsule_event {
    masque_capsule_event_kind event; /**< What happened. */
    masque_capsule_kind kind;        /**< Kind of the current capsule. */
    uint64_t type;                   /**< Capsule Type. */
    uint64_t length;                 /**< Capsule Length (the whole value). */
    uint64_t offset;                 /**< DATAGRAM: offset of @c data in the value; else 0. */
    const uint8_t *data;             /**< CONTROL: the value; DATAGRAM: this piece; else NULL. */
    size_t data_len;                 /**< Bytes at @c data. */
    int last; /**< DATAGRAM: non-zero when this piece ends the value. CONTROL: 1. */
} masque_capsule_event;

/** @brief What to do with a DATAGRAM capsule whose Length is above the limit. */
typedef enum masque_oversize_policy {
    /** Malformed: MASQUE_ERR_CAPSULE_LENGTH, the stream must be aborted (RFC 9298 §5). */
    MASQUE_OVERSIZE_ABORT = 0,
    /** Skip its value without buffering and report MASQUE_CAPSULE_EVENT_DISCARDED (§3.5). */
    MASQUE_OVERSIZE_DISCARD = 1
} masque_oversize_policy;

/** @brief Parser settings; the all-zero value means the defaults. */
typedef struct masque_capsule_parser_config {
    masque_profile profile;          /**< Codepoints; default MASQUE_PROFILE_DRAFT10. */
    uint64_t max_datagram_len;       /**< 0: MASQUE_DATAGRAM_CAPSULE_DEFAULT_MAX. */
    masque_oversize_policy oversize; /**< Default MASQUE_OVERSIZE_ABORT. */
} masque_capsule_parser_config;

/**
 * @brief Incremental capsule-stream parser. Place it anywhere; everything in it is private.
 *
 * It never buffers a DATAGRAM or unknown capsule's value: DATAGRAM values are handed out in
 * pieces as they arrive and unknown ones are skipped. Only a control capsule (at most
 * 27 bytes) cut by a chunk boundary is gathered into the object.
 */
typedef struct masque_capsule_parser {
    /** @cond PRIVATE */
    /* Read on every call: first, within a small target's short load offsets. */
    int error; /* sticky error, 0 while healthy */
    uint8_t state;
    uint8_t kind; /* masque_capsule_kind of the capsule */
    uint8_t header_len;
    uint8_t header[MASQUE_CAPSULE_HEADER_MAX];
    uint64_t type;   /* current capsule type */
    uint64_t length; /* current capsule length */
    uint64_t done;   /* value bytes consumed so far */
    masque_capsule_parser_config cfg;
    uint8_t control[MASQUE_COMPRESSION_ASSIGN_VALUE_MAX];
    /** @endcond */
} masque_capsule_parser;

/**
 * @brief Prepare a parser for a new stream.
 * @param p The parser.
 * @param cfg Settings, or NULL for the defaults.
 */
MASQUE_API void masque_capsule_parser_init(masque_capsule_parser *p,
                                           const masque_capsule_parser_config *cfg);

/**
 * @brief Feed stream bytes; stops at the first event.
 *
 * Call in a loop, advancing by the returned count, until the chunk is consumed; handle each
 * event before the next call (its views may point into the parser). Length bounds are checked
 * as soon as a Length field is complete: ASSIGN 2..27 bytes, ACK and CLOSE 1..8 bytes, DATAGRAM
 * up to the configured maximum. Control values are not decoded here: pass @c data to
 * masque_compression_assign_decode() or masque_compression_id_decode().
 *
 * @param p The parser.
 * @param data Stream bytes (NULL allowed when @p len is 0).
 * @param len Bytes at @p data.
 * @param[out] ev Receives the event (MASQUE_CAPSULE_EVENT_NONE when all bytes were consumed
 *             without completing one).
 * @return Bytes consumed (0 to @p len); MASQUE_ERR_CAPSULE_LENGTH when a Length is out of
 *         bounds (malformed: abort the stream, RFC 9297 §3.3); MASQUE_ERR_PARSER_FAILED when
 *         called again after such an error.
 */
MASQUE_API masque_ssize masque_capsule_parser_feed(masque_capsule_parser *p, const uint8_t *data,
                                                   size_t len, masque_capsule_event *ev);

/**
 * @brief One piece of a capsule stream from masque_capsule_parser_feed_batch(): a
 *        masque_capsule_event in 24 bytes on 64-bit hosts. Not carried: the Type (use
 *        masque_capsule_parser_feed() where an UNKNOWN capsule's Type matters) and the offset
 *        (the sum of the earlier pieces' @c len since the one marked @c first).
 */
typedef struct masque_capsule_piece {
    const uint8_t *data; /**< CONTROL: the value; DATAGRAM: this piece; else NULL. */
    uint32_t len;        /**< Bytes at @c data. */
    uint8_t event;       /**< A masque_capsule_event_kind, never MASQUE_CAPSULE_EVENT_NONE. */
    uint8_t kind;        /**< A masque_capsule_kind. */
    uint8_t first;       /**< DATAGRAM: this piece starts the value (offset 0); CONTROL: 1. */
    uint8_t last;        /**< DATAGRAM: this piece ends the value; CONTROL: 1. */
    uint64_t length;     /**< Capsule Length: the whole value. */
} masque_capsule_piece;

/**
 * @brief Feed a whole chunk at once: every event it holds, up to @p cap of them, in one call.
 *
 * The same parser, the same results as calling masque_capsule_parser_feed() until the chunk
 * is consumed, with one argument check per chunk and a fast path for DATAGRAM capsules whose
 * header is whole in the chunk (each piece a view into @p data). A piece is at most 4 GiB; a
 * longer one comes in several.
 *
 * @param p The parser.
 * @param data Stream bytes (NULL allowed when @p len is 0).
 * @param len Bytes at @p data.
 * @param[out] out Receives the pieces, in stream order.
 * @param cap Room at @p out.
 * @param[out] count Receives how many were written (also on error: those before it).
 * A CONTROL value that a chunk boundary cut is gathered inside the parser; that piece ends
 * the batch, so that every piece stays valid until the next call on the parser.
 *
 * @return Bytes consumed: all of @p len unless @p out filled up or a gathered CONTROL value
 *         ended the batch (call again with the rest); the errors of
 *         masque_capsule_parser_feed() (malformed: abort the stream).
 */
MASQUE_API masque_ssize masque_capsule_parser_feed_batch(masque_capsule_parser *p,
                                                         const uint8_t *data, size_t len,
                                                         masque_capsule_piece *out, size_t cap,
                                                         size_t *count);

/**
 * @brief Tell the parser that the stream has ended (FIN received).
 * @return MASQUE_OK when the stream ended between capsules; MASQUE_ERR_STREAM_TRUNCATED when it
 *         ended inside one (malformed, RFC 9297 §3.3); the sticky error if the parser failed.
 */
MASQUE_API int masque_capsule_parser_finish(const masque_capsule_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_CAPSULE_H */
