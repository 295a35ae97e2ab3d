/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file address.h
 * @brief A UDP endpoint (IP version, address, port) that needs no OS headers.
 *
 * Bind payloads and COMPRESSION_ASSIGN capsules carry an IP Version (4 or 6), a 4- or 16-byte
 * address and a port (-10 §3.1, §4). masque_address holds exactly that, so the core never
 * includes <sys/socket.h>; masque/posix.h converts to and from struct sockaddr.
 */
#ifndef MASQUE_ADDRESS_H
#define MASQUE_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "masque/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** IP Version value of an IPv4 address (-10 §3.1). */
#define MASQUE_IP_V4 4
/** IP Version value of an IPv6 address (-10 §3.1). */
#define MASQUE_IP_V6 6

/**
 * Longest text masque_address_format() writes, including the NUL:
 * "[" + 45-char IPv6 (with embedded IPv4 form) + "]:" + 5 digits + NUL.
 */
#define MASQUE_ADDRESS_TEXT_MAX 56

/**
 * @brief A UDP endpoint.
 *
 * For IPv4 only the first 4 bytes of @c bytes are meaningful; the others are zero when the
 * address was built by libmasque. Compare with masque_address_equal(), which ignores them.
 */
typedef struct masque_address {
    uint8_t version;   /**< MASQUE_IP_V4 or MASQUE_IP_V6 (0: no address). */
    uint8_t bytes[16]; /**< Address in network byte order. */
    uint16_t port;     /**< UDP port in host byte order. */
} masque_address;

/**
 * @brief Make an IPv4 endpoint.
 * @param[out] out Receives the endpoint (all 16 bytes are written, the unused ones zero).
 * @param ip Four address bytes in network order.
 * @param port UDP port in host order.
 */
MASQUE_API void masque_address_set_v4(masque_address *out, const uint8_t ip[4], uint16_t port);

/**
 * @brief Make an IPv6 endpoint.
 * @param[out] out Receives the endpoint.
 * @param ip Sixteen address bytes in network order.
 * @param port UDP port in host order.
 */
MASQUE_API void masque_address_set_v6(masque_address *out, const uint8_t ip[16], uint16_t port);

/**
 * @brief Length of the address bytes for an IP Version.
 * @param version An IP Version field value.
 * @return 4 for MASQUE_IP_V4, 16 for MASQUE_IP_V6, 0 for anything else.
 */
MASQUE_API size_t masque_address_ip_len(uint8_t version);

/**
 * @brief Whether two endpoints are the same tuple (version, address, port).
 * @return 1 when equal, 0 otherwise (also when either has an unknown version).
 */
MASQUE_API int masque_address_equal(const masque_address *a, const masque_address *b);

/**
 * @brief Whether the address is its family's unspecified one (0.0.0.0 or ::, RFC 4291
 *        §2.5.2): a wildcard bind, which no peer can send to as such.
 * @return 1 when it is, 0 otherwise (also for an unknown version).
 */
MASQUE_API int masque_address_is_unspecified(const masque_address *a);

/**
 * @brief Write the address (and optionally the port) as text.
 *
 * IPv4 in dotted decimal; IPv6 in the RFC 5952 canonical form (lower case, the longest run of
 * two or more zero groups compressed to "::", the first such run on a tie). With the port:
 * "192.0.2.1:443" or "[2001:db8::1]:443", the ip-port form of -10 §7.
 *
 * @param dst Output buffer; MASQUE_ADDRESS_TEXT_MAX bytes always suffice.
 * @param cap Bytes available at @p dst.
 * @param addr The endpoint.
 * @param with_port Non-zero to append ":port" (and bracket an IPv6 address).
 * @return Characters written, not counting the terminating NUL that is always written on
 *         success; MASQUE_ERR_BUFFER when @p cap is too small; MASQUE_ERR_ADDRESS for an
 *         unknown version.
 */
MASQUE_API masque_ssize masque_address_format(char *dst, size_t cap, const masque_address *addr,
                                              int with_port);

/**
 * @brief Parse an address (and optionally a port) from text.
 *
 * Accepts what masque_address_format() writes and every valid RFC 4291 §2.2 form:
 * "192.0.2.1", "2001:DB8::1", "::ffff:192.0.2.1"; with @p with_port, "192.0.2.1:443" or
 * "[2001:db8::1]:443" (the ip-port tuple of -10 §7, RFC 3986 IP-literal / IPv4address).
 * IPv4 octets with leading zeros are refused (RFC 3986 dec-octet).
 *
 * @param[out] out Receives the endpoint (port 0 without @p with_port); untouched on error.
 * @param text The text (need not be NUL-terminated).
 * @param len Its length.
 * @param with_port Non-zero when a ":port" must follow.
 * @return MASQUE_OK, or MASQUE_ERR_ADDRESS when the text is not exactly one such address.
 */
MASQUE_API int masque_address_parse(masque_address *out, const char *text, size_t len,
                                    int with_port);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_ADDRESS_H */
