/* SPDX-License-Identifier: GPL-3.0-only */
/* UDP input with Linux UDP GRO: see udp_in.h. */
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
