/* SPDX-License-Identifier: GPL-3.0-only */
/* UDP output with Linux UDP GSO: see udp_out.h. */
#include "udp_out.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/uio.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* Linux 4.18 and later (linux/udp.h) */
#endif

/* One sendmsg() carrying every segment; 0 when the kernel took it. */
static int send_gso(int fd, struct sockaddr *to, socklen_t tolen, uint8_t *data, size_t len,
                    uint16_t seg)
{
    union {
        struct cmsghdr align;
        uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
    } control;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *cm;
    memset(&msg, 0, sizeof(msg));
    memset(&control, 0, sizeof(control));
    iov.iov_base = data;
    iov.iov_len = len;
    msg.msg_name = to;
    msg.msg_namelen = tolen;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(seg));
    memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
    return sendmsg(fd, &msg, MSG_DONTWAIT) >= 0 ? 0 : -1;
}

void masque_udp_send_segments(int fd, struct sockaddr *to, socklen_t tolen, uint8_t *data,
                              size_t len, size_t seg, int *no_gso)
{
    size_t off;
    int all_sent = 1;
    int refused_gso = 0;
    if (seg == 0) {
        (void)sendto(fd, data, 0, MSG_DONTWAIT, to, tolen); /* one empty datagram */
        return;
    }
    if (len > seg && !*no_gso && seg <= UINT16_MAX && len <= MASQUE_GSO_MAX_BYTES &&
        (len + seg - 1) / seg <= MASQUE_GSO_MAX_SEGMENTS) {
        if (send_gso(fd, to, tolen, data, len, (uint16_t)seg) == 0) {
            return;
        }
        /* EIO: a device without checksum offload; EINVAL, ENOPROTOOPT: a kernel without
         * UDP_SEGMENT. Anything else (a pending ICMP error on a connected socket, a full
         * buffer) says nothing about GSO. */
        refused_gso = errno == EIO || errno == EINVAL || errno == ENOPROTOOPT;
    }
    for (off = 0; off < len; off += seg) {
        size_t n = len - off < seg ? len - off : seg;
        if (sendto(fd, data + off, n, MSG_DONTWAIT, to, tolen) < 0) {
            all_sent = 0;
        }
    }
    if (refused_gso && all_sent) {
        *no_gso = 1; /* one by one they went: it was GSO the kernel refused */
    }
}
