/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file varint.h
 * @brief QUIC variable-length integers (RFC 9000 §16).
 *
 * The two most significant bits of the first byte give the length (1, 2, 4 or 8 bytes); the
 * rest is a 6, 14, 30 or 62-bit big-endian value. Decoding accepts every length, including
 * non-minimal ones (RFC 9000 §16 allows them); encoding always uses the shortest form.
 */
#ifndef MASQUE_VARINT_H
#define MASQUE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "masque/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest value a varint can carry: 2^62-1. */
#define MASQUE_VARINT_MAX ((uint64_t)0x3FFFFFFFFFFFFFFFu)

/** Longest encoding of a varint, in bytes. */
#define MASQUE_VARINT_MAX_LEN 8

/**
 * @brief Decode one varint from the start of a buffer.
 * @param[out] out Receives the value; untouched unless the call succeeds.
 * @param src Bytes to read; may be NULL only when @p len is 0.
 * @param len Number of readable bytes at @p src.
 * @return Bytes consumed (1, 2, 4 or 8), or MASQUE_ERR_NEED_MORE when @p len is shorter than
 *         the length announced by the first byte (RFC 9000 §16), or MASQUE_ERR_INVALID_ARGUMENT
 *         when @p out is NULL.
 */
MASQUE_API masque_ssize masque_varint_decode(uint64_t *out, const uint8_t *src, size_t len);

/**
 * @brief Length of the minimal encoding of a value.
 * @param value The value to encode.
 * @return 1, 2, 4 or 8; 0 when @p value is above MASQUE_VARINT_MAX and cannot be encoded.
 */
MASQUE_API size_t masque_varint_len(uint64_t value);

/**
 * @brief Length of a varint as announced by its first byte.
 * @param first_byte The first byte of an encoded varint.
 * @return 1, 2, 4 or 8.
 */
MASQUE_API size_t masque_varint_len_from_first(uint8_t first_byte);

/**
 * @brief Encode a value in its minimal form.
 * @param dst Output buffer.
 * @param cap Bytes available at @p dst.
 * @param value Value to encode, at most MASQUE_VARINT_MAX.
 * @return Bytes written; MASQUE_ERR_VARINT_RANGE when @p value is above 2^62-1;
 *         MASQUE_ERR_BUFFER when @p cap is smaller than masque_varint_len(value) (nothing is
 *         written); MASQUE_ERR_INVALID_ARGUMENT when @p dst is NULL and @p cap is not 0.
 */
MASQUE_API masque_ssize masque_varint_encode(uint8_t *dst, size_t cap, uint64_t value);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_VARINT_H */
