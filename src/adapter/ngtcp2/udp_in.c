/* SPDX-License-Identifier: GPL-3.0-only */
/* UDP input with Linux UDP GRO: see udp_in.h. */
#define _GNU_SOURCE /* struct in_pktinfo, struct in6_pktinfo, IPV6_RECVPKTINFO */
#include "udp_in.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/uio.h>

#ifndef UDP_GRO
#define UDP_GRO 104 /* Linux 5.0 and later (linux/udp.h) */
#endif

int masque_udp_enable_gro(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0 ? 0 : -1;
}

size_t masque_udp_segment_of(struct msghdr *msg, size_t len)
{
    struct cmsghdr *cm;
    for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
        int gso_size = 0;
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
            cm->cmsg_len >= CMSG_LEN(sizeof(gso_size))) {
            memcpy(&gso_size, CMSG_DATA(cm), sizeof(gso_size)); /* CMSG_DATA may be unaligned */
            if (gso_size > 0 && (size_t)gso_size < len) {
                return (size_t)gso_size;
            }
        }
    }
    return len;
}

int masque_udp_enable_destination(int fd, int family)
{
    int one = 1;
    /* IP_PKTINFO on an IPv6 socket too: its IPv4 (mapped) datagrams report through it. */
    if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) != 0) {
        return -1;
    }
    return family != AF_INET6 ||
                   setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) == 0
               ? 0
               : -1;
}

int masque_udp_destination_of(struct msghdr *msg, int family, uint16_t port,
                              struct sockaddr_storage *out, socklen_t *outlen)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    struct cmsghdr *cm;
    for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(cm), sizeof(pi)); /* CMSG_DATA may be unaligned */
            memset(out, 0, sizeof(*out));
            if (family == AF_INET6) { /* as the socket reports its IPv4 peers: mapped */
                struct sockaddr_in6 sin6;
                memset(&sin6, 0, sizeof(sin6));
                sin6.sin6_family = AF_INET6;
                sin6.sin6_port = htons(port);
                memcpy(&sin6.sin6_addr, mapped, sizeof(mapped));
                memcpy((uint8_t *)&sin6.sin6_addr + 12, &pi.ipi_addr, 4);
                memcpy(out, &sin6, sizeof(sin6));
                *outlen = (socklen_t)sizeof(sin6);
            } else {
                struct sockaddr_in sin;
                memset(&sin, 0, sizeof(sin));
                sin.sin_family = AF_INET;
                sin.sin_port = htons(port);
                sin.sin_addr = pi.ipi_addr;
                memcpy(out, &sin, sizeof(sin));
                *outlen = (socklen_t)sizeof(sin);
            }
            return 0;
        }
        if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo)) && family == AF_INET6) {
            struct in6_pktinfo pi6;
            struct sockaddr_in6 sin6;
            memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
            memset(&sin6, 0, sizeof(sin6));
            sin6.sin6_family = AF_INET6;
            sin6.sin6_port = htons(port);
            sin6.sin6_addr = pi6.ipi6_addr;
            memset(out, 0, sizeof(*out));
            memcpy(out, &sin6, sizeof(sin6));
            *outlen = (socklen_t)sizeof(sin6);
            return 0;
        }
    }
    return -1;
}

ssize_t masque_udp_recv_segments(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from,
                                 socklen_t *fromlen, size_t *segment)
{
    union {
        struct cmsghdr align;
        uint8_t buf[MASQUE_GRO_CONTROL];
    } control;
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;
    memset(&msg, 0, sizeof(msg));
    iov.iov_base = buf;
    iov.iov_len = cap;
    msg.msg_name = from;
    msg.msg_namelen = from != NULL ? *fromlen : 0;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
        return -1;
    }
    if (from != NULL) {
        *fromlen = msg.msg_namelen;
    }
    *segment = masque_udp_segment_of(&msg, (size_t)n);
    return n;
}
