/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Expose mode's peer table (examples/expose.c): each remote peer keeps its own socket toward
 * the local service, found by its address in the table's index, through additions and idle
 * removals in any order; a peer beyond the limit is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expose.h"
#include "masque/posix.h"

static int service_fd = -1;
static char service_text[64];
static expose_state state_of_test;

static int make_service(void **state)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    (void)state;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    service_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (service_fd < 0 || bind(service_fd, (struct sockaddr *)&sin, sl) != 0 ||
        getsockname(service_fd, (struct sockaddr *)&sin, &sl) != 0) {
        return -1;
    }
    (void)snprintf(service_text, sizeof(service_text), "127.0.0.1:%u", ntohs(sin.sin_port));
    return 0;
}

static int close_service(void **state)
{
    (void)state;
    (void)close(service_fd);
    return 0;
}

/* Remote peer n: 203.0.113.x or 198.51.100.x, and a port of its own. */
static masque_address peer(unsigned n)
{
    char text[48];
    masque_address a;
    int len = snprintf(text, sizeof(text), "%s.%u:%u", n < 200 ? "203.0.113" : "198.51.100",
                       n % 200u + 1u, 1000u + n);
    assert_int_equal(masque_address_parse(&a, text, (size_t)len, 1), MASQUE_OK);
    return a;
}

/* Peer n sends its number at time now_ms; returns the source port the service saw it from
 * (the peer's own socket). */
static uint16_t send_from(expose_state *e, unsigned n, uint64_t now_ms)
{
    masque_address a = peer(n);
    uint8_t out[4];
    uint8_t in[16];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    struct pollfd pfd;
    ssize_t r;
    memcpy(out, &n, sizeof(out));
    expose_from_peer(e, NULL, &a, out, sizeof(out), now_ms);
    pfd.fd = service_fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    assert_int_equal(poll(&pfd, 1, 5000), 1); /* loopback: at once; bounded all the same */
    r = recvfrom(service_fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
    assert_int_equal(r, (ssize_t)sizeof(out));
    assert_memory_equal(in, out, sizeof(out));
    return ntohs(from.sin_port);
}

static void test_every_peer_keeps_its_own_socket_through_additions_and_removals(void **state)
{
    expose_state *e = &state_of_test;
    static uint16_t port_of[EXPOSE_MAX_PEERS];
    unsigned n;
    (void)state;
    assert_int_equal(expose_init(e, service_text), 0);
    e->max_peers = EXPOSE_MAX_PEERS;
    e->idle_ms = 1000;
    /* Every peer gets a socket of its own: the even ones at 0 ms, the odd ones at 600 ms. */
    for (n = 0; n < EXPOSE_MAX_PEERS; n++) {
        port_of[n] = send_from(e, n, n % 2u == 0 ? 0 : 600);
    }
    assert_int_equal(e->npeers, EXPOSE_MAX_PEERS);
    for (n = 0; n < EXPOSE_MAX_PEERS; n++) {
        assert_int_equal(send_from(e, n, n % 2u == 0 ? 0 : 600), port_of[n]); /* found again */
    }
    /* The table is full: one more peer is refused (and the others still found). */
    assert_int_equal(e->refused, 0);
    {
        masque_address a = peer(EXPOSE_MAX_PEERS);
        uint8_t b = 0;
        expose_from_peer(e, NULL, &a, &b, 1, 600);
    }
    assert_int_equal(e->refused, 1);
    /* At 1500 ms the even ones have been idle too long: they go, each removal moving the last
     * peer into its place. The odd ones are still found, each on its own socket. */
    expose_after_poll(e, NULL, NULL, NULL, 0, 1500);
    assert_int_equal(e->npeers, EXPOSE_MAX_PEERS / 2);
    for (n = 1; n < EXPOSE_MAX_PEERS; n += 2) {
        assert_int_equal(send_from(e, n, 1500), port_of[n]);
    }
    /* The even ones come back: new peers again, each found on its new socket afterwards. */
    for (n = 0; n < EXPOSE_MAX_PEERS; n += 2) {
        port_of[n] = send_from(e, n, 1500);
    }
    assert_int_equal(e->npeers, EXPOSE_MAX_PEERS);
    for (n = 0; n < EXPOSE_MAX_PEERS; n++) {
        assert_int_equal(send_from(e, n, 1600), port_of[n]);
    }
    expose_close_all(e);
    assert_int_equal(e->npeers, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_peer_keeps_its_own_socket_through_additions_and_removals),
    };
    return cmocka_run_group_tests(tests, make_service, close_service);
}
