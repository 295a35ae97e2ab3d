/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * UDP output of the HTTP/3 binding, shared by its connections (QUIC packets) and its proxy's
 * relay sockets (datagrams to targets): Linux UDP GSO, with a fallback for kernels and devices
 * without it. Internal to the binding: no public header.
 */
#ifndef MASQUE_ADAPTER_NGTCP2_UDP_OUT_H
#define MASQUE_ADAPTER_NGTCP2_UDP_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The most datagrams, and bytes, one UDP_SEGMENT send may carry (the kernel's UDP_MAX_SEGMENTS
 * is 64 on the oldest kernels with GSO; a UDP payload is below 64 KiB). */
#define MASQUE_GSO_MAX_SEGMENTS 64u
#define MASQUE_GSO_MAX_BYTES    65000u

/*
 * Sends the `len` bytes at `data` to `to` as datagrams of `seg` bytes each, the last possibly
 * shorter: one sendmsg() with UDP_SEGMENT when there are several and *no_gso is 0 (one trip
 * through the stack for all of them), else one send each. `from`, when not NULL, is their
 * source address (IP_PKTINFO or IPV6_PKTINFO): a socket bound to a wildcard answers from the
 * address it was reached at, not from the one the kernel would pick (a multihomed host). When the
 * kernel refuses the GSO send as such (EIO, EINVAL, ENOPROTOOPT) and the same datagrams then go out
 * one by one, it cannot do GSO here: *no_gso is set, and later calls send one by one at once. A
 * datagram the kernel refuses is dropped (UDP), a full socket buffer included: the sends never
 * block, so that one slow destination cannot stall a loop that serves many. `to` is not written
 * to (sendmsg() takes it through a non-const pointer).
 */
void masque_udp_send_segments(int fd, struct sockaddr *to, socklen_t tolen,
                              const struct sockaddr *from, const uint8_t *data, size_t len,
                              size_t seg, int *no_gso);

/* Control room for a source address (an in6_pktinfo, 20 bytes, or an in_pktinfo, 12). */
#define MASQUE_UDP_SOURCE_CONTROL CMSG_SPACE(20)

/* Writes at `cm` the control message that makes `from` a datagram's source address; returns
 * the room it takes (at most MASQUE_UDP_SOURCE_CONTROL). */
size_t masque_udp_put_source(struct cmsghdr *cm, const struct sockaddr *from);

/* One datagram of `len` bytes to `to`, from `from` when it is not NULL (as above); never
 * blocks, and a datagram the kernel refuses is dropped. */
void masque_udp_send_from(int fd, const struct sockaddr *to, socklen_t tolen,
                          const struct sockaddr *from, const uint8_t *data, size_t len);

#endif /* MASQUE_ADAPTER_NGTCP2_UDP_OUT_H */
