/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file posix.h
 * @brief Optional, header-only conversion between masque_address and struct sockaddr.
 *
 * The core library never includes OS headers; include this file only on POSIX hosts.
 */
#ifndef MASQUE_POSIX_H
#define MASQUE_POSIX_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "masque/address.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Convert a masque_address to a struct sockaddr_in or sockaddr_in6.
 * @param addr The endpoint.
 * @param[out] out Storage for the socket address.
 * @param[out] out_len Receives the length to pass to sendto()/bind().
 * @return MASQUE_OK, or MASQUE_ERR_ADDRESS for an unknown version.
 */
static inline int masque_address_to_sockaddr(const masque_address *addr,
                                             struct sockaddr_storage *out, socklen_t *out_len)
{
    memset(out, 0, sizeof(*out));
    if (addr->version == MASQUE_IP_V4) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons(addr->port);
        memcpy(&sin.sin_addr, addr->bytes, 4);
        memcpy(out, &sin, sizeof(sin));
        *out_len = (socklen_t)sizeof(sin);
        return MASQUE_OK;
    }
    if (addr->version == MASQUE_IP_V6) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(addr->port);
        memcpy(&sin6.sin6_addr, addr->bytes, 16);
        memcpy(out, &sin6, sizeof(sin6));
        *out_len = (socklen_t)sizeof(sin6);
        return MASQUE_OK;
    }
    return MASQUE_ERR_ADDRESS;
}

/**
 * @brief Convert a struct sockaddr (AF_INET or AF_INET6) to a masque_address.
 * @param sa The socket address.
 * @param sa_len Its length.
 * @param[out] out Receives the endpoint; untouched on error.
 * @return MASQUE_OK, or MASQUE_ERR_ADDRESS for another family or a short @p sa_len.
 */
static inline int masque_address_from_sockaddr(const struct sockaddr *sa, socklen_t sa_len,
                                               masque_address *out)
{
    struct sockaddr_storage copy;
    size_t n = (size_t)sa_len < sizeof(copy) ? (size_t)sa_len : sizeof(copy);
    /* Copy what the caller has, then read the family's struct from the copy: no access past
     * the caller's object, whatever its type. */
    memset(&copy, 0, sizeof(copy));
    memcpy(&copy, sa, n);
    if (copy.ss_family == AF_INET && n >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, &copy, sizeof(sin));
        masque_address_set_v4(out, (const uint8_t *)&sin.sin_addr, ntohs(sin.sin_port));
        return MASQUE_OK;
    }
    if (copy.ss_family == AF_INET6 && n >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, &copy, sizeof(sin6));
        masque_address_set_v6(out, (const uint8_t *)&sin6.sin6_addr, ntohs(sin6.sin6_port));
        return MASQUE_OK;
    }
    return MASQUE_ERR_ADDRESS;
}

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_POSIX_H */
