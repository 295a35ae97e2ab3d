/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * UDP input of the HTTP/3 binding: Linux UDP GRO, the receiving side of udp_out.h's GSO. A
 * socket with UDP_GRO on gets a train of same-sized datagrams from one sender (a GSO send, on
 * loopback or through a NIC that coalesces) in one receive, with the segment size beside it.
 * Internal to the binding: no public header.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_UDP_IN_H
#define MASQUE_ADAPTER_NGTCP2_UDP_IN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Room a coalesced receive needs: the largest UDP payload (a smaller buffer would truncate a
 * train, and the datagrams past the end would be lost). */
#define MASQUE_GRO_BUFFER 65536u

/* Control room a receive needs: the segment size (an int, UDP_GRO) and room to spare, as the
 * host's socket may carry other messages it asked for (timestamps, say), and a truncated
 * control part could lose the one that says how to split a train. */
#define MASQUE_GRO_CONTROL (CMSG_SPACE(sizeof(int)) + 256u)

/* Asks the kernel to coalesce on `fd` (UDP_GRO); 0 when it will, -1 when it cannot (an older
 * kernel: every receive then holds one datagram, which is just as correct). */
int masque_udp_enable_gro(int fd);

/* The size of each datagram in a receive of `len` bytes described by `msg` (its control part
 * filled by the kernel; non-const for CMSG_NXTHDR, only read): the segment size GRO reported, or
 * `len` when it coalesced nothing. */
size_t masque_udp_segment_of(struct msghdr *msg, size_t len);

/* Asks the kernel to report each datagram's destination address on `fd`, a socket of `family`
 * (IP_PKTINFO, and IPV6_RECVPKTINFO on AF_INET6): what a socket bound to a wildcard needs to
 * answer from the address it was reached at. 0, or -1 when it cannot. */
int masque_udp_enable_destination(int fd, int family);

/* The destination address of a datagram received with its control part in `msg` (after
 * masque_udp_enable_destination()), as a socket address of the socket's `family` with `port`
 * (an IPv4 one IPv4-mapped on AF_INET6): 0 and *out, or -1 when the kernel reported none. */
int masque_udp_destination_of(struct msghdr *msg, int family, uint16_t port,
                              struct sockaddr_storage *out, socklen_t *outlen);

/*
 * Receives, without blocking, one datagram or one coalesced train of them into `buf` (`cap`
 * bytes: MASQUE_GRO_BUFFER on a socket with GRO on). Returns the bytes received, or -1 (errno
 * set: EAGAIN when nothing waits); *segment receives the size of each datagram in the train,
 * the last one possibly shorter (the whole length when the kernel coalesced nothing). `from`
 * may be NULL; otherwise *fromlen is its size on entry and the address's length on return.
 */
ssize_t masque_udp_recv_segments(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from,
                                 socklen_t *fromlen, size_t *segment);

#endif /* MASQUE_ADAPTER_NGTCP2_UDP_IN_H */
