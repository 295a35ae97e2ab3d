/* SPDX-License-Identifier: GPL-3.0-only */
/* A receive with its control messages, for the suites that read what the kernel says beside a
 * datagram (its destination address, its TOS byte). */
#ifndef MASQUE_TESTS_SOCKET_UTIL_H
#define MASQUE_TESTS_SOCKET_UTIL_H

#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Room for control messages, aligned for struct cmsghdr. */
typedef union control_buffer {
    struct cmsghdr align;
    unsigned char bytes[512];
} control_buffer;

/* One datagram into `buf` (`len` bytes) and its control messages into *control, blocking;
 * *msg describes both afterwards (through *iov). Returns what recvmsg() returns. */
static inline ssize_t recv_with_control(int fd, void *buf, size_t len, control_buffer *control,
                                        struct msghdr *msg, struct iovec *iov)
{
    memset(msg, 0, sizeof(*msg));
    iov->iov_base = buf;
    iov->iov_len = len;
    msg->msg_iov = iov;
    msg->msg_iovlen = 1;
    msg->msg_control = control->bytes;
    msg->msg_controllen = sizeof(control->bytes);
    return recvmsg(fd, msg, 0);
}

#endif /* MASQUE_TESTS_SOCKET_UTIL_H */
