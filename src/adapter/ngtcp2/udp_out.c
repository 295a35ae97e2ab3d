/* SPDX-License-Identifier: GPL-3.0-only */
/* UDP output with Linux UDP GSO: see udp_out.h. */
#define _GNU_SOURCE /* struct in_pktinfo, struct in6_pktinfo */
#include "udp_out.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/uio.h>

#include "masque/posix.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* Linux 4.18 and later (linux/udp.h) */
#endif

/* Room for the control messages of one send: the segment size and the source address. */
typedef union control_room {
    struct cmsghdr align;
    uint8_t buf[CMSG_SPACE(sizeof(uint16_t)) + MASQUE_UDP_SOURCE_CONTROL];
} control_room;

/* MASQUE_UDP_SOURCE_CONTROL is a constant for the headers that cannot see these types. */
typedef char masque_pktinfo_fits[sizeof(struct in6_pktinfo) <= 20 && sizeof(struct in_pktinfo) <= 20
                                     ? 1
                                     : -1];

/* One control message at `cm`; returns the room it takes. */
static size_t put_cmsg(struct cmsghdr *cm, int level, int type, const void *data, size_t len)
{
    cm->cmsg_level = level;
    cm->cmsg_type = type;
    cm->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(cm), data, len); /* CMSG_DATA may be unaligned for the type */
    return CMSG_SPACE(len);
}

/* IP_PKTINFO or IPV6_PKTINFO: an IPv4 source on a dual-stack socket arrives IPv4-mapped and goes
 * as IP_PKTINFO, which the kernel takes on such a socket for an IPv4 destination. */
size_t masque_udp_put_source(struct cmsghdr *cm, const struct sockaddr *from)
{
    socklen_t len = from->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                                : (socklen_t)sizeof(struct sockaddr_in);
    struct in_pktinfo pi;
    struct in6_pktinfo pi6;
    masque_address a;
    if (masque_address_from_sockaddr(from, len, &a) != MASQUE_OK) {
        return 0; /* no source set: the kernel's */
    }
    if (a.version == MASQUE_IP_V6) {
        memset(&pi6, 0, sizeof(pi6));
        memcpy(&pi6.ipi6_addr, a.bytes, 16);
        return put_cmsg(cm, IPPROTO_IPV6, IPV6_PKTINFO, &pi6, sizeof(pi6));
    }
    memset(&pi, 0, sizeof(pi));
    memcpy(&pi.ipi_spec_dst, a.bytes, 4);
    return put_cmsg(cm, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
}

/* One sendmsg() of `len` bytes: several datagrams of `seg` bytes when seg is non-zero (GSO),
 * from `from` when it is not NULL; 0 when the kernel took it. */
static int send_one(int fd, struct sockaddr *to, socklen_t tolen, const struct sockaddr *from,
                    const uint8_t *data, size_t len, uint16_t seg)
{
    control_room control;
    union {
        const uint8_t *c;
        void *v;
    } bytes;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *cm;
    size_t used = 0;
    memset(&msg, 0, sizeof(msg));
    memset(&control, 0, sizeof(control));
    bytes.c = data; /* sendmsg() takes it through a non-const pointer, and only reads it */
    iov.iov_base = bytes.v;
    iov.iov_len = len;
    msg.msg_name = to;
    msg.msg_namelen = tolen;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    cm = CMSG_FIRSTHDR(&msg);
    if (seg != 0) {
        used = put_cmsg(cm, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg));
        cm = (struct cmsghdr *)(void *)(control.buf + used);
    }
    if (from != NULL) {
        used += masque_udp_put_source(cm, from);
    }
    msg.msg_controllen = used;
    if (used == 0) {
        msg.msg_control = NULL;
    }
    return sendmsg(fd, &msg, MSG_DONTWAIT) >= 0 ? 0 : -1;
}

void masque_udp_send_from(int fd, const struct sockaddr *to, socklen_t tolen,
                          const struct sockaddr *from, const uint8_t *data, size_t len)
{
    struct sockaddr_storage dst; /* sendmsg() takes the address through a non-const pointer */
    if (tolen > sizeof(dst)) {
        return;
    }
    memcpy(&dst, to, tolen);
    (void)send_one(fd, (struct sockaddr *)&dst, tolen, from, data, len, 0);
}

void masque_udp_send_segments(int fd, struct sockaddr *to, socklen_t tolen,
                              const struct sockaddr *from, const uint8_t *data, size_t len,
                              size_t seg, int *no_gso)
{
    size_t off;
    int all_sent = 1;
    int refused_gso = 0;
    if (seg == 0) {
        (void)send_one(fd, to, tolen, from, data, 0, 0); /* one empty datagram */
        return;
    }
    if (len > seg && !*no_gso && seg <= UINT16_MAX && len <= MASQUE_GSO_MAX_BYTES &&
        (len + seg - 1) / seg <= MASQUE_GSO_MAX_SEGMENTS) {
        if (send_one(fd, to, tolen, from, data, len, (uint16_t)seg) == 0) {
            return;
        }
        /* EIO: a device without checksum offload; EINVAL, ENOPROTOOPT: a kernel without
         * UDP_SEGMENT. Anything else (a pending ICMP error on a connected socket, a full
         * buffer) says nothing about GSO. */
        refused_gso = errno == EIO || errno == EINVAL || errno == ENOPROTOOPT;
    }
    for (off = 0; off < len; off += seg) {
        size_t n = len - off < seg ? len - off : seg;
        if (send_one(fd, to, tolen, from, data + off, n, 0) != 0) {
            all_sent = 0;
        }
    }
    if (refused_gso && all_sent) {
        *no_gso = 1; /* one by one they went: it was GSO the kernel refused */
    }
}
