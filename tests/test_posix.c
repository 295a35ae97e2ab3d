/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * posix.h on Linux: the socket options of a proxy's UDP sockets, read back with getsockopt and
 * seen on the wire. The wire checks run in a network namespace of the test's own, whose
 * loopback has an MTU of 1280 (root only; skipped elsewhere): no packet leaves the machine.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "masque/posix.h"
#include "socket_util.h"

static int private_net; /* 1 once the test runs in its own network namespace */

/* Enters a new network namespace and brings its loopback up with an MTU of 1280. */
static int enter_private_net(void)
{
    struct ifreq ifr;
    int fd;
    int ok;
    if (unshare(CLONE_NEWNET) != 0) {
        return 0;
    }
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        return 0;
    }
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    ifr.ifr_mtu = 1280;
    ok = ioctl(fd, SIOCSIFMTU, &ifr) == 0;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    ok = ok && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
    ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    (void)close(fd);
    return ok;
}

static int get_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* A socket of the family bound to loopback; its address in *out. */
static int loopback_socket(int family, masque_address *out)
{
    masque_address a;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    const char *ip = family == AF_INET ? "127.0.0.1" : "::1";
    int fd = socket(family, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(masque_address_parse(&a, ip, strlen(ip), 0), MASQUE_OK);
    assert_int_equal(masque_address_to_sockaddr(&a, &ss, &sl), MASQUE_OK);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, sl), 0);
    sl = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&ss, sl, out), MASQUE_OK);
    return fd;
}

static ssize_t send_to(int fd, const masque_address *to, const uint8_t *p, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    assert_int_equal(masque_address_to_sockaddr(to, &ss, &sl), MASQUE_OK);
    return sendto(fd, p, n, 0, (struct sockaddr *)&ss, sl);
}

static void test_UDP_13_UDP_14_proxy_socket_options_read_back(void **state)
{
    int v4 = socket(AF_INET, SOCK_DGRAM, 0);
    int v6 = socket(AF_INET6, SOCK_DGRAM, 0);
    int ect1 = 0x01;
    (void)state;
    assert_true(v4 >= 0 && v6 >= 0);
    /* Whatever was set before (here ECT(1)), the helper leaves Not-ECT. */
    assert_int_equal(setsockopt(v4, IPPROTO_IP, IP_TOS, &ect1, sizeof(ect1)), 0);
    assert_int_equal(masque_posix_udp_proxy_options(v4, AF_INET), 0);
    assert_int_equal(get_int(v4, IPPROTO_IP, IP_MTU_DISCOVER), IP_PMTUDISC_DO);
    assert_int_equal(get_int(v4, IPPROTO_IP, IP_TOS) & 3, 0);
    assert_int_equal(get_int(v4, IPPROTO_IP, IP_RECVTOS), 0); /* ECN from targets unread */
    assert_int_equal(masque_posix_udp_proxy_options(v6, AF_INET6), 0);
    assert_int_equal(get_int(v6, IPPROTO_IPV6, IPV6_DONTFRAG), 1);
    assert_int_equal(get_int(v6, IPPROTO_IPV6, IPV6_MTU_DISCOVER), IPV6_PMTUDISC_DO);
    assert_int_equal(get_int(v6, IPPROTO_IPV6, IPV6_TCLASS) & 3, 0);
    assert_int_equal(masque_posix_udp_proxy_options(-1, AF_INET), -1);
    (void)close(v4);
    (void)close(v6);
}

static void test_BIND_29_dual_stack_sources_are_ipv4_and_ipv4_targets_are_mapped(void **state)
{
    struct sockaddr_in6 sin6;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    masque_address a;
    const uint8_t v4[4] = {11, 0, 0, 1};
    (void)state;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(53);
    memcpy((uint8_t *)&sin6.sin6_addr + 10, "\xff\xff\x0b\x00\x00\x01", 6);
    assert_int_equal(masque_address_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &a),
                     MASQUE_OK);
    assert_int_equal(a.version, MASQUE_IP_V4); /* judged and reported as 11.0.0.1 */
    assert_memory_equal(a.bytes, v4, 4);
    assert_int_equal(a.port, 53);
    assert_int_equal(masque_address_to_sockaddr_for(&a, AF_INET6, &ss, &sl), MASQUE_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_memory_equal((uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr + 10,
                        "\xff\xff\x0b\x00\x00\x01", 6);
    assert_int_equal(masque_address_to_sockaddr_for(&a, AF_INET, &ss, &sl), MASQUE_OK);
    assert_int_equal(ss.ss_family, AF_INET);
}

/* A socket made IPv6-only (as net.ipv6.bindv6only=1 makes every AF_INET6 socket) is dual-stack
 * again after masque_posix_dual_stack(), and an IPv4 datagram reaches it bound to ::. */
static void test_dual_stack_is_set_whatever_the_system_default(void **state)
{
    struct sockaddr_in6 any;
    struct sockaddr_in to;
    socklen_t sl = sizeof(any);
    int one = 1;
    int v6only = 1;
    socklen_t ol = sizeof(v6only);
    struct timeval wait = {5, 0}; /* bounded: a loaded machine, never a hang */
    uint8_t got[8];
    int rx = socket(AF_INET6, SOCK_DGRAM, 0);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    (void)state;
    assert_true(rx >= 0 && tx >= 0);
    assert_int_equal(setsockopt(rx, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
    assert_int_equal(masque_posix_dual_stack(rx, AF_INET6), 0);
    assert_int_equal(getsockopt(rx, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol), 0);
    assert_int_equal(v6only, 0);
    memset(&any, 0, sizeof(any));
    any.sin6_family = AF_INET6;
    assert_int_equal(bind(rx, (struct sockaddr *)&any, sizeof(any)), 0);
    assert_int_equal(getsockname(rx, (struct sockaddr *)&any, &sl), 0);
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = any.sin6_port;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)), 0);
    assert_int_equal(sendto(tx, "v4", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
    assert_int_equal(recv(rx, got, sizeof(got), 0), 2);
    assert_int_equal(masque_posix_dual_stack(tx, AF_INET), 0); /* nothing to do */
    (void)close(rx);
    (void)close(tx);
}

/* A 1400-byte datagram over a 1280-byte link: fragmented by a plain socket, refused with
 * EMSGSIZE by a proxy socket (RFC 9298 §3.1). */
static void check_never_fragments(int family)
{
    static uint8_t big[1400];
    masque_address sink_addr;
    masque_address ignored;
    int sink = loopback_socket(family, &sink_addr);
    int plain = loopback_socket(family, &ignored);
    int proxy = loopback_socket(family, &ignored);
    uint8_t got[2000];
    assert_true(send_to(plain, &sink_addr, big, sizeof(big)) == (ssize_t)sizeof(big));
    assert_true(recv(sink, got, sizeof(got), 0) == (ssize_t)sizeof(big)); /* reassembled */
    assert_int_equal(masque_posix_udp_proxy_options(proxy, family), 0);
    errno = 0;
    assert_true(send_to(proxy, &sink_addr, big, sizeof(big)) < 0);
    assert_int_equal(errno, EMSGSIZE);
    assert_true(send_to(proxy, &sink_addr, big, 1200) == 1200); /* what fits still goes */
    (void)close(sink);
    (void)close(plain);
    (void)close(proxy);
}

static void test_UDP_13_proxy_sockets_never_fragment(void **state)
{
    (void)state;
    if (!private_net) {
        skip(); /* needs root for a network namespace of its own */
    }
    check_never_fragments(AF_INET);
#if MASQUE_ENABLE_IPV6
    check_never_fragments(AF_INET6); /* the text form of ::1 needs IPv6 in this build */
#endif
}

static void test_UDP_14_proxy_sockets_send_not_ect_whatever_the_target_sent(void **state)
{
    masque_address target_addr;
    masque_address relay_addr;
    masque_address observer_addr;
    int target;
    int relay;
    int observer;
    int ce = 0x03;
    int on = 1;
    uint8_t buf[64];
    control_buffer control;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *cm;
    int tos = -1;
    (void)state;
    if (!private_net) {
        skip();
    }
    target = loopback_socket(AF_INET, &target_addr);
    relay = loopback_socket(AF_INET, &relay_addr);
    observer = loopback_socket(AF_INET, &observer_addr);
    assert_int_equal(masque_posix_udp_proxy_options(relay, AF_INET), 0);
    assert_int_equal(setsockopt(observer, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on)), 0);
    /* The target marks CE; the relay reads the payload and sends it on. */
    assert_int_equal(setsockopt(target, IPPROTO_IP, IP_TOS, &ce, sizeof(ce)), 0);
    assert_true(send_to(target, &relay_addr, (const uint8_t *)"ecn", 3) == 3);
    assert_true(recv(relay, buf, sizeof(buf), 0) == 3);
    assert_true(send_to(relay, &observer_addr, buf, 3) == 3);
    assert_true(recv_with_control(observer, buf, sizeof(buf), &control, &msg, &iov) == 3);
    for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TOS) {
            tos = *(const uint8_t *)CMSG_DATA(cm);
        }
    }
    assert_int_equal(tos & 3, 0); /* Not-ECT (RFC 9298 §6.2) */
    (void)close(target);
    (void)close(relay);
    (void)close(observer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_UDP_13_UDP_14_proxy_socket_options_read_back),
        cmocka_unit_test(test_BIND_29_dual_stack_sources_are_ipv4_and_ipv4_targets_are_mapped),
        cmocka_unit_test(test_dual_stack_is_set_whatever_the_system_default),
        cmocka_unit_test(test_UDP_13_proxy_sockets_never_fragment),
        cmocka_unit_test(test_UDP_14_proxy_sockets_send_not_ect_whatever_the_target_sent),
    };
    private_net = enter_private_net();
    if (!private_net) {
        print_message("no network namespace of our own (not root?): wire checks skipped\n");
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
