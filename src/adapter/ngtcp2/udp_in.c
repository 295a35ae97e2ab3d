/* SPDX-License-Identifier: GPL-3.0-only */
/* UDP input with Linux UDP GRO: see udp_in.h. */
#define _GNU_SOURCE /* struct in_pktinfo, struct in6_pktinfo, IPV6_RECVPKTINFO */
#include "udp_in.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/uio.h>

#include "masque/posix.h"

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
    struct cmsghdr *cm;
    for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
        masque_address a;
        /* CMSG_DATA may be unaligned: copied out. */
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
            masque_address_set_v4(&a, (const uint8_t *)&pi.ipi_addr, port);
        } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
                   cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
            struct in6_pktinfo pi6;
            memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
            masque_address_set_v6(&a, (const uint8_t *)&pi6.ipi6_addr, port);
        } else {
            continue;
        }
        /* As the socket reports its peers: an IPv4 one IPv4-mapped on AF_INET6. */
        return masque_address_to_sockaddr_for(&a, family, out, outlen) == MASQUE_OK ? 0 : -1;
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
