/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * relay-bench: datagrams through a real Bind relay (proxy + client over QUIC on loopback, in
 * one process) against plain UDP echo on loopback. A peer sends datagrams to the client's
 * public address; the client echoes each one back through the proxy. Prints, per case:
 *   relay<TAB>path<TAB>size<TAB>datagrams_per_s<TAB>MB_per_s<TAB>rtt_p50_us<TAB>rtt_p99_us<TAB>lost
 * A measurement, not a test: it always exits 0. --quick runs a short version (for callgrind).
 */
#define _POSIX_C_SOURCE 200809L
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"

static masque_quic_proxy *proxy;
static masque_quic_conn *client;
static int client_fd;
static int ready;
static masque_address pub;
static const char tmpl[] = "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";

static int bound(masque_address *out)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
        perror("socket");
        exit(1);
    }
    (void)masque_address_from_sockaddr((struct sockaddr *)&sin, sl, out);
    return fd;
}

static masque_quic_request *request; /* the client's Bind request, once accepted */

static void on_ready(masque_quic_request *r, void *app)
{
    (void)app;
    request = r;
    (void)masque_quic_request_public_addresses(r, &pub, 1);
    (void)masque_session_open_uncompressed(masque_quic_request_session(r), 0, NULL);
    (void)masque_adapter_flush(masque_quic_request_adapter(r));
}

static void on_packet(masque_quic_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 65536];
    (void)app;
    memcpy(buf + MASQUE_BIND_HEADROOM, data, len); /* echo: the application's own copy */
    (void)masque_adapter_write_datagram(masque_quic_request_adapter(r), peer,
                                        buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM, len,
                                        masque_quic_now_ns() / 1000000u);
}

static void pump_relay(void)
{
    static uint8_t buf[65536];
    ssize_t r;
    (void)masque_quic_proxy_step(proxy, 0);
    while ((r = recv(client_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        (void)masque_quic_read(client, buf, (size_t)r);
    }
    if (masque_quic_next_timeout(client) <= masque_quic_now_ns()) {
        (void)masque_quic_tick(client);
    }
    (void)masque_quic_write(client);
}

static int echo_fd;
static void pump_direct(void)
{
    static uint8_t buf[65536];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t r;
    while ((r = recvfrom(echo_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) >=
           0) {
        (void)sendto(echo_fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
        fl = sizeof(from);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sends `count` datagrams of `size` bytes with at most `window` outstanding. */
static void run(const char *name, int relayed, size_t size, size_t count, size_t window)
{
    static uint8_t msg[65536];
    static uint8_t in[65536];
    static uint64_t sent_at[200000];
    static uint64_t rtt[200000];
    masque_address peer_addr;
    masque_address target;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int peer = bound(&peer_addr);
    size_t sent = 0;
    size_t got = 0;
    size_t nrtt = 0;
    uint64_t t0;
    uint64_t t1;
    uint64_t last_progress;
    if (relayed) {
        target = pub;
    } else {
        (void)bound(&target);
        (void)close(echo_fd);
        echo_fd = bound(&target);
    }
    (void)masque_address_to_sockaddr(&target, &ss, &sl);
    memset(msg, 0x5A, size);
    t0 = masque_quic_now_ns();
    last_progress = t0;
    while (got < count && masque_quic_now_ns() - last_progress < 1000000000u) {
        ssize_t r;
        while (sent < count && sent - got < window) {
            uint32_t seq = (uint32_t)sent;
            memcpy(msg, &seq, sizeof(seq) < size ? sizeof(seq) : size);
            sent_at[sent] = masque_quic_now_ns();
            (void)sendto(peer, msg, size, 0, (struct sockaddr *)&ss, sl);
            sent++;
        }
        if (relayed) {
            pump_relay();
        } else {
            pump_direct();
        }
        while ((r = recv(peer, in, sizeof(in), MSG_DONTWAIT)) >= 0) {
            uint32_t seq = 0;
            if ((size_t)r >= sizeof(seq)) {
                memcpy(&seq, in, sizeof(seq));
                if (seq < sent) {
                    rtt[nrtt++] = masque_quic_now_ns() - sent_at[seq];
                }
            }
            got++;
            last_progress = masque_quic_now_ns();
        }
        if (got + 64 < sent && masque_quic_now_ns() - last_progress > 200000000u) {
            got = sent; /* give up on the lost ones and go on (counted below) */
        }
    }
    t1 = masque_quic_now_ns();
    qsort(rtt, nrtt, sizeof(rtt[0]), cmp_u64);
    printf("relay\t%s\t%zu\t%.0f\t%.1f\t%.1f\t%.1f\t%zu\n", name, size,
           (double)nrtt / ((double)(t1 - t0) / 1e9),
           (double)nrtt * (double)size / ((double)(t1 - t0) / 1e3),
           nrtt ? (double)rtt[nrtt / 2] / 1e3 : -1.0,
           nrtt ? (double)rtt[nrtt * 99 / 100] / 1e3 : -1.0, sent - nrtt);
    (void)fflush(stdout);
    (void)close(peer);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    size_t count = quick ? 2000 : 50000;
    masque_quic_proxy_config pcfg;
    masque_quic_config ccfg;
    masque_quic_hooks hooks = {on_ready, on_packet, NULL, NULL, NULL, NULL};
    masque_policy policy;
    masque_policy_rule rule;
    masque_address proxy_addr;
    masque_address local_addr;
    struct sockaddr_storage remote;
    struct sockaddr_storage local;
    socklen_t rl = 0;
    socklen_t ll = 0;
    int proxy_fd = bound(&proxy_addr);
    uint64_t deadline;
    static const size_t sizes[] = {64, 1200};
    size_t k;

    (void)masque_policy_rule_parse(&rule, "127.0.0.0/8", 11, 1);
    memset(&policy, 0, sizeof(policy));
    policy.rules = &rule;
    policy.rule_count = 1;
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.conn.uri_template = tmpl;
    pcfg.conn.policy = &policy;
    pcfg.relay_bind = proxy_addr;
    proxy = masque_quic_proxy_new(&pcfg, proxy_fd);
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = tmpl;
    ccfg.insecure = 1;
    client_fd = bound(&local_addr);
    (void)masque_address_to_sockaddr(&proxy_addr, &remote, &rl);
    (void)masque_address_to_sockaddr(&local_addr, &local, &ll);
    (void)connect(client_fd, (struct sockaddr *)&remote, rl);
    client = masque_quic_client_new(&ccfg, client_fd, (struct sockaddr *)&local, ll,
                                    (struct sockaddr *)&remote, rl, &hooks, NULL);
    if (proxy == NULL || client == NULL) {
        fprintf(stderr, "relay-bench: setup failed\n");
        return 0;
    }
    deadline = masque_quic_now_ns() + 5000000000u;
    while (masque_quic_now_ns() < deadline && !ready) {
        masque_context_info u;
        pump_relay();
        ready = request != NULL &&
                masque_session_context_find(masque_quic_request_session(request), NULL, &u) &&
                u.state == MASQUE_CONTEXT_ACTIVE;
    }
    printf("case\tpath\tsize\tdatagrams_per_s\tMB_per_s\trtt_p50_us\trtt_p99_us\tlost\n");
    echo_fd = -1;
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        run("direct", 0, sizes[k], count, 32);
        run("masque", 1, sizes[k], count, 32);
        run("direct_rtt", 0, sizes[k], count / 10, 1);
        run("masque_rtt", 1, sizes[k], count / 10, 1);
    }
    masque_quic_free(client);
    masque_quic_proxy_free(proxy);
    return 0;
}
