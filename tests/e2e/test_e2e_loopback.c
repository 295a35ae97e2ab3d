/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Work in progress: a Bind client and proxy over real QUIC (ngtcp2 + nghttp3 + GnuTLS) on
 * loopback, in one process. A UDP peer sends to the proxy's public address, the client answers
 * through the proxy, and the peer receives the answer.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"
#include "tls_util.h"

static int udp_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t len = sizeof(*addr);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
        perror("socket");
        return -1;
    }
    return fd;
}

typedef struct world {
    int relay_fd; /* the proxy's public socket for the request */
    int peer_fd;
    struct sockaddr_in relay_addr;
    struct sockaddr_in peer_addr;
    masque_quic_conn *client;
    masque_quic_conn *proxy;
    masque_quic_request *proxy_req; /* the request the proxy accepted */
    int ready;
    int client_got;
    int peer_got;
} world;

static void client_ready(masque_quic_request *r, void *app)
{
    world *w = app;
    (void)masque_session_open_uncompressed(masque_quic_request_session(r), 0, NULL);
    (void)masque_adapter_flush(masque_quic_request_adapter(r));
    w->ready = 1;
    (void)printf("client: Bind accepted, uncompressed context requested\n");
}

static void client_packet(masque_quic_request *r, void *app, const masque_address *peer,
                          const uint8_t *data, size_t len)
{
    world *w = app;
    uint8_t buf[MASQUE_BIND_HEADROOM + 64];
    char text[MASQUE_ADDRESS_TEXT_MAX];
    (void)masque_address_format(text, sizeof(text), peer, 1);
    (void)printf("client: %zu bytes from %s: %.*s\n", len, text, (int)len, (const char *)data);
    w->client_got++;
    buf[MASQUE_BIND_HEADROOM] = 'p';
    buf[MASQUE_BIND_HEADROOM + 1] = 'o';
    buf[MASQUE_BIND_HEADROOM + 2] = 'n';
    buf[MASQUE_BIND_HEADROOM + 3] = 'g';
    (void)masque_adapter_write_datagram(masque_quic_request_adapter(r), peer,
                                        buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM, 4, 0);
}

static void proxy_packet(masque_quic_request *r, void *app, const masque_address *peer,
                         const uint8_t *data, size_t len)
{
    world *w = app;
    struct sockaddr_storage ss;
    socklen_t sl;
    (void)r;
    if (masque_address_to_sockaddr(peer, &ss, &sl) == 0) {
        (void)sendto(w->relay_fd, data, len, 0, (struct sockaddr *)&ss, sl);
    }
}

/* The proxy accepted a request: the public address stays the configured one. */
static int proxy_request(masque_quic_request *r, void *app, masque_address *public_addresses,
                         size_t *count)
{
    world *w = app;
    (void)public_addresses;
    (void)count;
    w->proxy_req = r;
    return 0;
}

static void on_close(masque_quic_request *r, void *app, uint64_t reason)
{
    world *w = app;
    if (r == w->proxy_req) {
        w->proxy_req = NULL;
    }
    (void)printf("request closed (0x%llx)\n", (unsigned long long)reason);
}

int main(void)
{
    static const char tmpl[] =
        "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";
    world w;
    struct sockaddr_in server_addr;
    struct sockaddr_in client_addr;
    int server_fd = udp_socket(&server_addr);
    int client_fd = udp_socket(&client_addr);
    masque_quic_config ccfg;
    masque_quic_config scfg;
    masque_quic_hooks chooks = {client_ready, client_packet, on_close, NULL, NULL, NULL, NULL};
    masque_quic_hooks phooks = {NULL, proxy_packet, on_close, NULL, proxy_request, NULL, NULL};
    masque_policy policy;
    masque_policy_rule loopback;
    uint64_t deadline = masque_quic_now_ns() + 5000000000u;
    int sent_ping = 0;
    masque_context_info info;
    test_pki pki;

    if (test_pki_make(&pki) != 0) {
        (void)printf("loopback: FAIL (no throw-away CA)\n");
        return 1;
    }
    memset(&w, 0, sizeof(w));
    w.relay_fd = udp_socket(&w.relay_addr);
    w.peer_fd = udp_socket(&w.peer_addr);
    (void)masque_policy_rule_parse(&loopback, "127.0.0.0/8", 11, 1);
    memset(&policy, 0, sizeof(policy));
    policy.rules = &loopback;
    policy.rule_count = 1;
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = tmpl;
    scfg = ccfg;
    ccfg.ca_file = pki.ca_file; /* TLS verification stays on */
    scfg.is_server = 1;
    scfg.cert_file = pki.cert_file;
    scfg.key_file = pki.key_file;
    scfg.policy = &policy;
    (void)masque_address_from_sockaddr((struct sockaddr *)&w.relay_addr, sizeof(w.relay_addr),
                                       &scfg.public_address);
    {
        /* An address length no socket gives is refused, not copied past the storage. */
        struct sockaddr_storage big[2];
        memset(big, 0, sizeof(big));
        memcpy(big, &server_addr, sizeof(server_addr));
        if (masque_quic_client_new(&ccfg, client_fd, (struct sockaddr *)&client_addr,
                                   sizeof(client_addr), (struct sockaddr *)big,
                                   (socklen_t)sizeof(big), &chooks, &w) != NULL) {
            (void)fprintf(stderr, "an oversized address length was taken\n");
            return 1;
        }
    }
    w.client = masque_quic_client_new(&ccfg, client_fd, (struct sockaddr *)&client_addr,
                                      sizeof(client_addr), (struct sockaddr *)&server_addr,
                                      sizeof(server_addr), &chooks, &w);
    if (w.client == NULL || masque_quic_write(w.client) != 0) {
        (void)fprintf(stderr, "client setup failed\n");
        return 1;
    }
    while (masque_quic_now_ns() < deadline && w.peer_got == 0) {
        struct pollfd fds[4] = {{server_fd, POLLIN, 0},
                                {client_fd, POLLIN, 0},
                                {w.relay_fd, POLLIN, 0},
                                {w.peer_fd, POLLIN, 0}};
        uint8_t buf[65536];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n;
        (void)poll(fds, 4, 10);
        if (fds[0].revents & POLLIN) {
            n = recvfrom(server_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
            if (n > 0 && w.proxy == NULL) {
                w.proxy = masque_quic_server_accept(
                    &scfg, server_fd, (struct sockaddr *)&server_addr, sizeof(server_addr),
                    (struct sockaddr *)&from, fl, buf, (size_t)n, &phooks, &w);
            }
            if (n > 0 && w.proxy != NULL) {
                (void)masque_quic_read(w.proxy, buf, (size_t)n);
                if (masque_quic_read_socket(w.proxy) != -1) {
                    (void)fprintf(stderr, "a server connection read its shared socket\n");
                    return 1;
                }
            }
        }
        if (fds[1].revents & POLLIN) {
            n = recv(client_fd, buf, sizeof(buf), 0);
            if (n > 0) {
                (void)masque_quic_read(w.client, buf, (size_t)n);
            }
        }
        if (fds[2].revents & POLLIN) { /* a UDP packet for the client's public address */
            uint8_t *payload = buf + MASQUE_BIND_HEADROOM;
            n = recvfrom(w.relay_fd, payload, sizeof(buf) - MASQUE_BIND_HEADROOM, 0,
                         (struct sockaddr *)&from, &fl);
            if (n > 0 && w.proxy_req != NULL && masque_quic_request_adapter(w.proxy_req) != NULL) {
                masque_address src;
                (void)masque_address_from_sockaddr((struct sockaddr *)&from, fl, &src);
                (void)masque_adapter_write_datagram(masque_quic_request_adapter(w.proxy_req), &src,
                                                    payload, MASQUE_BIND_HEADROOM, (size_t)n, 0);
            }
        }
        if (fds[3].revents & POLLIN) {
            n = recv(w.peer_fd, buf, sizeof(buf), 0);
            if (n > 0) {
                (void)printf("peer: got %.*s back through the proxy\n", (int)n, (const char *)buf);
                w.peer_got = 1;
            }
        }
        if (w.ready && !sent_ping && w.proxy_req != NULL &&
            masque_quic_request_session(w.proxy_req) != NULL &&
            masque_session_context_find(masque_quic_request_session(w.proxy_req), NULL, &info)) {
            (void)sendto(w.peer_fd, "ping", 4, 0, (struct sockaddr *)&w.relay_addr,
                         sizeof(w.relay_addr));
            sent_ping = 1;
        }
        if (masque_quic_now_ns() >= masque_quic_next_timeout(w.client)) {
            (void)masque_quic_tick(w.client);
        }
        if (w.proxy != NULL && masque_quic_now_ns() >= masque_quic_next_timeout(w.proxy)) {
            (void)masque_quic_tick(w.proxy);
        }
        (void)masque_quic_write(w.client);
        if (w.proxy != NULL) {
            (void)masque_quic_write(w.proxy);
        }
    }
    (void)printf("%s\n", w.peer_got ? "loopback: PASS" : "loopback: FAIL");
    masque_quic_free(w.client);
    masque_quic_free(w.proxy);
    test_pki_remove(&pki);
    return w.peer_got ? 0 : 1;
}
