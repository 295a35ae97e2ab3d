/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * The HTTP/3 binding's UDP output (src/adapter/ngtcp2/udp_out.c) on Linux loopback: a GSO send
 * arrives as the datagrams it was made of, and a kernel that refuses GSO on a socket (here
 * because the socket sends without UDP checksums, SO_NO_CHECK) gets the same datagrams one by
 * one, and is not asked again. Its input (udp_in.c): a receiver with UDP GRO on gets a GSO
 * send in one receive, with the segment size that splits it back into those datagrams; one
 * without gets them one by one.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapter/ngtcp2/udp_in.h"
#include "adapter/ngtcp2/udp_out.h"
#include "masque/posix.h"
#include "socket_util.h"

/* A UDP socket on 127.0.0.1, its address in *sin. */
static int loopback_socket(struct sockaddr_in *sin)
{
    socklen_t sl = sizeof(*sin);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &sl), 0);
    return fd;
}

/* Waits, a bounded time for a loaded machine, until fd has a datagram; 1 when it has. */
static int wait_readable(int fd)
{
    struct pollfd pfd;
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    return poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN) != 0;
}

/* Sends len bytes in segments of seg from a fresh socket (with SO_NO_CHECK when no_check) and
 * checks that the receiver gets exactly those datagrams, in order; returns *no_gso after. */
static int send_and_expect(size_t len, size_t seg, int no_check, int no_gso)
{
    static uint8_t data[20000];
    static uint8_t in[65536];
    struct sockaddr_in to;
    struct sockaddr_in from;
    int rx = loopback_socket(&to);
    int tx = loopback_socket(&from);
    size_t off;
    size_t i;
    assert_true(len <= sizeof(data));
    for (i = 0; i < len; i++) {
        data[i] = (uint8_t)(i * 13u + i / seg);
    }
    if (no_check) {
        int one = 1;
        assert_int_equal(setsockopt(tx, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
    }
    masque_udp_send_segments(tx, (struct sockaddr *)&to, sizeof(to), NULL, data, len, seg, &no_gso);
    for (off = 0; off < len; off += seg) {
        size_t want = len - off < seg ? len - off : seg;
        ssize_t r;
        assert_int_equal(wait_readable(rx), 1);
        r = recv(rx, in, sizeof(in), MSG_DONTWAIT);
        assert_int_equal(r, (ssize_t)want);
        assert_memory_equal(in, data + off, want);
    }
    /* Nothing more (no segment sent twice): a marker from the same socket comes next, as one
     * sender's datagrams on loopback keep their order. */
    assert_int_equal(sendto(tx, "end", 3, 0, (struct sockaddr *)&to, sizeof(to)), 3);
    assert_int_equal(wait_readable(rx), 1);
    assert_int_equal(recv(rx, in, sizeof(in), MSG_DONTWAIT), 3);
    assert_memory_equal(in, "end", 3);
    (void)close(rx);
    (void)close(tx);
    return no_gso;
}

/* RFC 9298 §3.1 (UDP-13): batching adds no fragmentation: every segment of a GSO send is one
 * UDP datagram of its own size, the last one possibly shorter. */
static void test_UDP_13_a_gso_send_arrives_as_the_datagrams_it_was_made_of(void **state)
{
    (void)state;
    assert_int_equal(send_and_expect(5 * 1200 + 300, 1200, 0, 0), 0);
    assert_int_equal(send_and_expect(1200, 1200, 0, 0), 0); /* one: a plain send */
}

static void test_a_refused_gso_send_goes_out_one_by_one_and_is_not_tried_again(void **state)
{
    (void)state;
    /* The kernel refuses GSO without UDP checksums (EINVAL); the datagrams still arrive. */
    assert_int_equal(send_and_expect(4 * 1000, 1000, 1, 0), 1);
    /* Told not to try, the helper sends one by one at once. */
    assert_int_equal(send_and_expect(3 * 1000 + 10, 1000, 0, 1), 1);
}

/* Sends len bytes in segments of seg with GSO to a receiver with GRO on (when gro) and returns
 * the number of receives it took to get every datagram back, each checked against what was
 * sent, from the sender's address. */
static size_t receives_for(size_t len, size_t seg, int gro, int timestamps)
{
    static uint8_t data[20000];
    static uint8_t in[MASQUE_GRO_BUFFER];
    struct sockaddr_in to;
    struct sockaddr_in sender;
    int rx = loopback_socket(&to);
    int tx = loopback_socket(&sender);
    int no_gso = 0;
    size_t got = 0;
    size_t receives = 0;
    size_t i;
    for (i = 0; i < len; i++) {
        data[i] = (uint8_t)(i * 7u + i / seg);
    }
    if (gro) {
        assert_int_equal(masque_udp_enable_gro(rx), 0);
    }
    if (timestamps) { /* another control message beside the segment size */
        int one = 1;
        assert_int_equal(setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
    }
    masque_udp_send_segments(tx, (struct sockaddr *)&to, sizeof(to), NULL, data, len, seg, &no_gso);
    assert_int_equal(no_gso, 0);
    while (got < len) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        size_t segment = 0;
        size_t off;
        ssize_t n;
        assert_int_equal(wait_readable(rx), 1);
        n = masque_udp_recv_segments(rx, in, sizeof(in), &from, &fromlen, &segment);
        assert_true(n > 0);
        receives++;
        assert_int_equal(fromlen, sizeof(sender));
        assert_memory_equal(&((struct sockaddr_in *)&from)->sin_port, &sender.sin_port,
                            sizeof(sender.sin_port));
        /* Every piece but the last is one whole segment as it was sent. */
        for (off = 0; off < (size_t)n; off += segment) {
            size_t piece = (size_t)n - off < segment ? (size_t)n - off : segment;
            size_t want = len - got < seg ? len - got : seg;
            assert_int_equal(piece, want);
            assert_memory_equal(in + off, data + got, piece);
            got += piece;
        }
    }
    assert_int_equal(got, len);
    (void)close(rx);
    (void)close(tx);
    return receives;
}

/* RFC 9298 §3.1 (UDP-13) on the way in: a coalesced receive is split back into the datagrams
 * that were sent, none merged, none cut (the last one shorter, as sent). */
static void test_UDP_13_a_gro_receive_splits_into_the_datagrams_that_were_sent(void **state)
{
    (void)state;
    /* Linux >= 5.0 delivers a loopback GSO send whole to a GRO socket: one receive. */
    assert_int_equal(receives_for(5 * 1200 + 300, 1200, 1, 0), 1);
    assert_int_equal(receives_for(1200, 1200, 1, 0), 1); /* one datagram: segment = its length */
    /* The socket's other control messages do not crowd the segment size out. */
    assert_int_equal(receives_for(4 * 1000 + 1, 1000, 1, 1), 1);
}

static void test_without_gro_every_datagram_is_a_receive_of_its_own(void **state)
{
    (void)state;
    assert_int_equal(receives_for(3 * 1000 + 10, 1000, 0, 0), 4);
}

static void test_a_receive_on_an_empty_socket_says_eagain(void **state)
{
    uint8_t in[16];
    struct sockaddr_in at;
    size_t segment = 7;
    int fd = loopback_socket(&at);
    (void)state;
    assert_int_equal(masque_udp_recv_segments(fd, in, sizeof(in), NULL, NULL, &segment), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_int_equal(segment, 7); /* untouched */
    (void)close(fd);
}

/* A UDP socket bound to the wildcard of `family` (0.0.0.0, or :: dual-stack), its port in
 * *port. */
static int wildcard_socket(int family, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(family, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, sl), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static struct sockaddr_in v4_at(const char *ip, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

/* Sends a datagram to `ip` at the port of a fresh socket of `family` bound to the wildcard
 * (which asks for destinations when `ask`), and returns what masque_udp_destination_of() says
 * of it, in *to and *tl; *port receives the socket's port. */
static int destination_of_one(int family, int ask, const char *ip, uint16_t *port,
                              struct sockaddr_storage *to, socklen_t *tl)
{
    uint8_t in[16];
    control_buffer control;
    struct iovec iov;
    struct msghdr msg;
    int rx = wildcard_socket(family, port);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in dst = v4_at(ip, *port);
    int rc;
    assert_true(tx >= 0);
    if (ask) {
        assert_int_equal(masque_udp_enable_destination(rx, family), 0);
    }
    assert_int_equal(sendto(tx, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst)), 1);
    assert_int_equal(wait_readable(rx), 1);
    assert_int_equal(recv_with_control(rx, in, sizeof(in), &control, &msg, &iov), 1);
    rc = masque_udp_destination_of(&msg, family, *port, to, tl);
    (void)close(rx);
    (void)close(tx);
    return rc;
}

/* A socket bound to a wildcard learns where each datagram was sent (127.0.0.2 here, one of
 * loopback's addresses as a secondary address is a multihomed host's), as a socket address of
 * its own family: IPv4, or IPv4-mapped on a dual-stack socket. */
static void test_a_wildcard_socket_is_told_each_datagrams_destination(void **state)
{
    int family;
    (void)state;
    for (family = AF_INET; family != 0; family = family == AF_INET ? AF_INET6 : 0) {
        struct sockaddr_storage to;
        socklen_t tl = 0;
        uint16_t port;
        masque_address got;
        assert_int_equal(destination_of_one(family, 1, "127.0.0.2", &port, &to, &tl), 0);
        assert_int_equal(to.ss_family, family);
        assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&to, tl, &got), 0);
        assert_int_equal(got.version, MASQUE_IP_V4); /* a mapped one reads as IPv4 */
        assert_memory_equal(got.bytes, "\x7f\x00\x00\x02", 4);
        assert_int_equal(got.port, port);
    }
}

/* Without the report asked for, there is nothing to tell. */
static void test_without_the_report_no_destination_is_made_up(void **state)
{
    struct sockaddr_storage to;
    socklen_t tl = 0;
    uint16_t port;
    (void)state;
    assert_int_equal(destination_of_one(AF_INET, 0, "127.0.0.1", &port, &to, &tl), -1);
}

/* What a wildcard socket sends leaves from the source it is given, not the kernel's choice
 * (127.0.0.1 toward 127.0.0.1): one datagram, a GSO train, and the one-by-one fallback; from an
 * IPv4 socket and from a dual-stack one (a mapped source and destination). */
static void test_a_wildcard_socket_sends_from_the_source_it_is_given(void **state)
{
    int family;
    (void)state;
    for (family = AF_INET; family != 0; family = family == AF_INET ? AF_INET6 : 0) {
        static uint8_t data[3 * 1000];
        uint8_t in[2048];
        struct sockaddr_in rx_at;
        uint16_t port;
        int rx = loopback_socket(&rx_at);
        int tx = wildcard_socket(family, &port);
        struct sockaddr_in source4 = v4_at("127.0.0.2", port);
        struct sockaddr_in6 source6;
        struct sockaddr_in6 to6;
        struct sockaddr_storage to;
        const struct sockaddr *source = (const struct sockaddr *)&source4;
        socklen_t tolen = sizeof(rx_at);
        int round;
        memcpy(&to, &rx_at, sizeof(rx_at));
        if (family == AF_INET6) { /* IPv4 on a dual-stack socket: both mapped */
            masque_address a;
            socklen_t l;
            assert_int_equal(
                masque_address_from_sockaddr((struct sockaddr *)&source4, sizeof(source4), &a), 0);
            assert_int_equal(masque_address_to_sockaddr_for(&a, AF_INET6, &to, &l), 0);
            memcpy(&source6, &to, sizeof(source6));
            source = (const struct sockaddr *)&source6;
            assert_int_equal(
                masque_address_from_sockaddr((struct sockaddr *)&rx_at, sizeof(rx_at), &a), 0);
            assert_int_equal(masque_address_to_sockaddr_for(&a, AF_INET6, &to, &l), 0);
            memcpy(&to6, &to, sizeof(to6));
            tolen = sizeof(to6);
        }
        for (round = 0; round < 3; round++) {
            int no_gso = round == 2; /* the fallback: one by one */
            size_t expect = round == 0 ? 1 : 3;
            size_t k;
            if (round == 0) {
                masque_udp_send_from(tx, (struct sockaddr *)&to, tolen, source, data, 100);
            } else {
                masque_udp_send_segments(tx, (struct sockaddr *)&to, tolen, source, data,
                                         sizeof(data), 1000, &no_gso);
                assert_int_equal(no_gso, round == 2);
            }
            for (k = 0; k < expect; k++) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                assert_int_equal(wait_readable(rx), 1);
                assert_true(recvfrom(rx, in, sizeof(in), 0, (struct sockaddr *)&from, &fl) > 0);
                assert_int_equal(from.sin_addr.s_addr, source4.sin_addr.s_addr);
                assert_int_equal(from.sin_port, htons(port));
            }
        }
        (void)close(rx);
        (void)close(tx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_UDP_13_a_gso_send_arrives_as_the_datagrams_it_was_made_of),
        cmocka_unit_test(test_a_refused_gso_send_goes_out_one_by_one_and_is_not_tried_again),
        cmocka_unit_test(test_UDP_13_a_gro_receive_splits_into_the_datagrams_that_were_sent),
        cmocka_unit_test(test_without_gro_every_datagram_is_a_receive_of_its_own),
        cmocka_unit_test(test_a_receive_on_an_empty_socket_says_eagain),
        cmocka_unit_test(test_a_wildcard_socket_is_told_each_datagrams_destination),
        cmocka_unit_test(test_without_the_report_no_destination_is_made_up),
        cmocka_unit_test(test_a_wildcard_socket_sends_from_the_source_it_is_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
