/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file posix.h
 * @brief Optional, header-only glue for POSIX hosts: masque_address <-> struct sockaddr, and
 *        the socket options a proxy's UDP sockets need.
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
 * @brief Convert a struct sockaddr (AF_INET or AF_INET6) to a masque_address. An IPv4-mapped
 *        IPv6 address (RFC 4291 §2.5.5.2, from a dual-stack socket) is reported as IPv4.
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
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        struct sockaddr_in6 sin6;
        const uint8_t *ip;
        memcpy(&sin6, &copy, sizeof(sin6));
        ip = (const uint8_t *)&sin6.sin6_addr;
        if (memcmp(ip, mapped, sizeof(mapped)) == 0) {
            /* A dual-stack socket's IPv4 peer: it is an IPv4 endpoint, and reported as one. */
            masque_address_set_v4(out, ip + 12, ntohs(sin6.sin6_port));
        } else {
            masque_address_set_v6(out, ip, ntohs(sin6.sin6_port));
        }
        return MASQUE_OK;
    }
    return MASQUE_ERR_ADDRESS;
}

/**
 * @brief Convert a masque_address for a socket of @p family: an IPv4 address for an AF_INET6
 *        (dual-stack) socket becomes IPv4-mapped (RFC 4291 §2.5.5.2); otherwise as
 *        masque_address_to_sockaddr().
 * @param addr The endpoint.
 * @param family AF_INET or AF_INET6, the socket's.
 * @param[out] out Storage for the socket address.
 * @param[out] out_len Receives its length.
 * @return MASQUE_OK, or MASQUE_ERR_ADDRESS (also for IPv6 on an AF_INET socket).
 */
static inline int masque_address_to_sockaddr_for(const masque_address *addr, int family,
                                                 struct sockaddr_storage *out, socklen_t *out_len)
{
    if (family == AF_INET6 && addr->version == MASQUE_IP_V4) {
        masque_address m;
        uint8_t ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0};
        memcpy(ip + 12, addr->bytes, 4);
        masque_address_set_v6(&m, ip, addr->port);
        return masque_address_to_sockaddr(&m, out, out_len);
    }
    if (family == AF_INET && addr->version != MASQUE_IP_V4) {
        return MASQUE_ERR_ADDRESS;
    }
    return masque_address_to_sockaddr(addr, out, out_len);
}

/**
 * @brief Make an AF_INET6 socket dual-stack (IPV6_V6ONLY off, RFC 3493 §5.3) whatever the
 *        system's default (Linux: net.ipv6.bindv6only): bound to the wildcard ::, it then
 *        serves IPv4 too, as IPv4-mapped addresses. Call before bind().
 * @param fd A socket.
 * @param family Its family; nothing is done for any but AF_INET6.
 * @return 0; -1 with errno set when the platform refuses.
 */
static inline int masque_posix_dual_stack(int fd, int family)
{
    int zero = 0;
    if (family != AF_INET6) {
        return 0;
    }
    return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0 ? 0 : -1;
}

/**
 * @brief Set the options RFC 9298 asks of the UDP socket a proxy uses toward targets.
 *
 * - Don't fragment (RFC 9298 §3.1: the proxy MUST NOT introduce IP fragmentation): IPv4
 *   IP_MTU_DISCOVER = IP_PMTUDISC_DO (or IP_DONTFRAG where that is the option); IPv6
 *   IPV6_DONTFRAG and IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DO. A payload that does not fit the
 *   path then fails with EMSGSIZE instead of leaving in fragments.
 * - Not-ECT (RFC 9298 §6.2): the ECN bits of the IP TOS / Traffic Class are 0 on what the proxy
 *   sends, and the ECN marks of what targets send are never read (no IP_RECVTOS).
 *
 * @param fd A UDP socket.
 * @param family AF_INET or AF_INET6 (an AF_INET6 socket that also carries IPv4 gets both).
 * @return 0; -1 with errno set when an option the platform has could not be set.
 */
static inline int masque_posix_udp_proxy_options(int fd, int family)
{
    int zero = 0;
    int one = 1;
    (void)one;
    if (family == AF_INET6) {
#if defined(IPV6_DONTFRAG)
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof(one)) != 0) {
            return -1;
        }
#endif
#if defined(IPV6_MTU_DISCOVER) && defined(IPV6_PMTUDISC_DO)
        {
            int v = IPV6_PMTUDISC_DO;
            if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v)) != 0) {
                return -1;
            }
        }
#endif
#if defined(IPV6_TCLASS)
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &zero, sizeof(zero)) != 0) {
            return -1;
        }
#endif
    }
    /* IPv4 options also apply to the IPv4 traffic of a dual-stack AF_INET6 socket; there an
     * error only means the socket is IPv6-only. */
#if defined(IP_MTU_DISCOVER) && defined(IP_PMTUDISC_DO)
    {
        int v = IP_PMTUDISC_DO;
        if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)) != 0 && family == AF_INET) {
            return -1;
        }
    }
#elif defined(IP_DONTFRAG)
    if (setsockopt(fd, IPPROTO_IP, IP_DONTFRAG, &one, sizeof(one)) != 0 && family == AF_INET) {
        return -1;
    }
#endif
    if (setsockopt(fd, IPPROTO_IP, IP_TOS, &zero, sizeof(zero)) != 0 && family == AF_INET) {
        return -1;
    }
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_POSIX_H */
