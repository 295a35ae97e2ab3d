/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * masque-proxy: a CONNECT-UDP Bind proxy over HTTP/3 (ngtcp2 + nghttp3 + GnuTLS) on UDP and
 * over HTTP/2 (nghttp2 + GnuTLS) on TCP, at the same port number.
 *
 *   masque-proxy [--listen IP:PORT] [--template URI] [--cert PEM --key PEM]
 *                [--allow CIDR[:PORTS]]... [--deny CIDR[:PORTS]]... [--public-ip IP]...
 *                [--max-clients N] [--max-requests N] [--max-requests-per-conn N]
 *                [--max-identities N] [--stateless-rate PER_S]
 *                [--max-contexts N] [--assign-rate PER_S] [--idle-timeout-ms MS]
 *                [--no-h2 | --no-h3] [--token-file FILE] [--priority GNUTLS] [--run-seconds S]
 *                [--no-address-validation] [-v]
 *
 * A client may send several Bind requests on one connection, over either transport: one policy,
 * one set of limits and the same client slots for both. Each accepted request gets its own UDP
 * socket, bound to the listening IP with a port the kernel picks; its address is the client's
 * public address (Proxy-Public-Address). Targets go through the policy: special-purpose ranges
 * (loopback among them) are refused unless --allow opens them. Without --cert a self-signed
 * certificate is made at start-up. Every client proves its address with a Retry round trip before
 * it gets any state (RFC 9000 §8.1.2).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"
#include "options.h"

#define MAX_RULES 32

static volatile sig_atomic_t stop;
static volatile sig_atomic_t reload;
static volatile sig_atomic_t report;

static void on_usr1(int sig)
{
    (void)sig;
    report = 1;
}

/* One line per client identity: what it uses; then the proxy's counters (SIGUSR1, at exit). */
static void print_usage(const masque_quic_proxy *proxy, uint32_t stateless_per_s)
{
    masque_quic_usage u;
    size_t i;
    uint64_t resets;
    uint64_t negotiations;
    uint64_t held;
    uint64_t probed;
    uint64_t lost;
    for (i = 0; masque_quic_proxy_usage(proxy, i, &u) == 0; i++) {
        (void)fprintf(stderr,
                      "masque-proxy: usage of %s: %zu requests open, %llu datagrams, %llu "
                      "bytes, %llu dropped by its quota, %llu requests refused by it\n",
                      u.identity, u.requests, (unsigned long long)u.datagrams,
                      (unsigned long long)u.bytes, (unsigned long long)u.dropped,
                      (unsigned long long)u.refused);
    }
    (void)fprintf(stderr,
                  "masque-proxy: %llu datagrams from targets dropped: too large for a QUIC "
                  "DATAGRAM frame, or their client's stream full\n",
                  (unsigned long long)masque_quic_proxy_datagrams_dropped(proxy));
    held = masque_quic_proxy_stateless_answers(proxy, &resets, &negotiations);
    (void)fprintf(stderr,
                  "masque-proxy: %llu Stateless Resets and %llu Version Negotiation packets sent "
                  "to packets of no connection, %llu held back (over %lu a second)\n",
                  (unsigned long long)resets, (unsigned long long)negotiations,
                  (unsigned long long)held,
                  (unsigned long)(stateless_per_s != 0 ? stateless_per_s : 1024u));
    probed = masque_quic_proxy_probes(proxy, &lost);
    (void)fprintf(stderr,
                  "masque-proxy: %llu connections probed for a used-up quota, %llu of them closed "
                  "for giving no answer\n",
                  (unsigned long long)probed, (unsigned long long)lost);
    (void)fprintf(stderr,
                  "masque-proxy: %zu clients, %zu Bind requests open; %llu client turns in %llu "
                  "steps since start\n",
                  masque_quic_proxy_clients(proxy), masque_quic_proxy_requests(proxy),
                  (unsigned long long)masque_quic_proxy_client_turns(proxy),
                  (unsigned long long)masque_quic_proxy_steps(proxy));
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_hangup(int sig)
{
    (void)sig;
    reload = 1;
}

/* Every option, one line each (--help on stdout; after a bad option on stderr). */
static void usage(FILE *to)
{
    (void)fputs(
        "usage: masque-proxy [OPTION]...\n"
        "A CONNECT-UDP Bind proxy: HTTP/3 on UDP and HTTP/2 on TCP, at one address and port.\n"
        "  --listen IP:PORT           address to serve (default 127.0.0.1:4433)\n"
        "  --template URI             the URI template (default\n"
        "                             https://localhost/.well-known/masque/udp/{target_host}/"
        "{target_port}/)\n"
        "  --cert PEM --key PEM       certificate and key (default: a self-signed one)\n"
        "  --token-file FILE          bearer tokens clients must present (407 otherwise),\n"
        "                             one per line; re-read on SIGHUP; never logged\n"
        "  --client-ca PEM            accept clients with a certificate from this CA (mutual\n"
        "                             TLS); others need a token (or are refused)\n"
        "  --allow-anonymous          without --token-file, serve anonymous clients that are not\n"
        "                             on this host too (an open relay: off by default)\n"
        "  --allow CIDR[:PORTS]       targets to allow (first match wins; repeatable)\n"
        "  --deny CIDR[:PORTS]        targets to refuse (repeatable)\n"
        "  --public-ip IP             an address to advertise in Proxy-Public-Address (NAT;\n"
        "                             once per IP version); default: the listening IP, or with\n"
        "                             0.0.0.0 or [::] the address each client reached, and with\n"
        "                             [::] also this host's global address of the other version\n"
        "  --max-clients N            connections at once (default 256); when all are taken,\n"
        "                             a connection without a Bind request makes room\n"
        "  --max-requests N           Bind requests at once in all (default 4 per client)\n"
        "  --max-requests-per-conn N  Bind requests at once on one connection (default 8)\n"
        "  --max-contexts N           contexts a client may hold per request (default 256)\n"
        "  --quota-requests N         per client identity: Bind requests at once (429 beyond)\n"
        "  --quota-datagrams PER_S    per client identity: datagrams per second, both ways\n"
        "  --quota-bytes PER_S        per client identity: payload bytes per second, both ways\n"
        "  --max-identities N         client identities accounted apart (default 1024; the one\n"
        "                             longest without a request makes room for a new one)\n"
        "  --stateless-rate PER_S     Stateless Resets and Version Negotiation packets sent at\n"
        "                             most per second (default 1024; the rest held back)\n"
        "  --assign-rate PER_S        registrations per second per request (default: no limit)\n"
        "  --idle-timeout-ms MS       close compressed contexts idle this long (default 120000)\n"
        "  --no-h2 | --no-h3          serve one transport only\n"
        "  --no-address-validation    no QUIC Retry round trip (trusted networks only)\n"
        "  --priority STRING          GnuTLS priority string\n"
        "  --run-seconds S            stop after S seconds (default: run until SIGTERM)\n"
        "  -v                         log connections coming and going too\n"
        "  --help                     this text\n"
        "Signals: SIGHUP reloads the certificate and the token file; SIGUSR1 prints what each\n"
        "client identity used and the proxy's counters (also printed at exit); SIGINT/SIGTERM\n"
        "stop.\n",
        to);
}

static void log_stderr(void *user, const char *line)
{
    (void)user;
    (void)fprintf(stderr, "masque-proxy: %s\n", line);
}

int main(int argc, char **argv)
{
    static masque_policy_rule rules[MAX_RULES];
    masque_quic_proxy_config cfg;
    masque_policy policy;
    masque_address listen_addr;
    struct sockaddr_storage ss;
    socklen_t sl;
    masque_quic_proxy *proxy;
    const char *listen_text = "127.0.0.1:4433";
    double run_seconds = 0;
    uint64_t deadline = 0;
    int fd = -1;
    int tcp_fd = -1;
    int h2 = 1;
    int h3 = 1;
    int i;

    memset(&cfg, 0, sizeof(cfg));
    memset(&policy, 0, sizeof(policy));
    cfg.conn.uri_template = "https://localhost/.well-known/masque/udp/{target_host}/{target_port}/";
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-v") == 0) {
            cfg.verbose = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--no-address-validation") == 0) {
            cfg.no_address_validation = 1; /* no Retry round trip: trusted networks only */
            continue;
        }
        if (strcmp(a, "--allow-anonymous") == 0) {
            cfg.allow_anonymous = 1; /* an open relay, on purpose */
            continue;
        }
        if (strcmp(a, "--no-h2") == 0 || strcmp(a, "--no-h3") == 0) {
            *(a[6] == '2' ? &h2 : &h3) = 0; /* serve one transport only */
            continue;
        }
        if (v == NULL) {
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            listen_text = v;
        } else if (strcmp(a, "--template") == 0) {
            cfg.conn.uri_template = v;
        } else if (strcmp(a, "--cert") == 0) {
            cfg.conn.cert_file = v;
        } else if (strcmp(a, "--key") == 0) {
            cfg.conn.key_file = v;
        } else if (strcmp(a, "--priority") == 0) {
            cfg.conn.priority = v;
        } else if (strcmp(a, "--allow") == 0 || strcmp(a, "--deny") == 0) {
            if (policy.rule_count == MAX_RULES ||
                masque_policy_rule_parse(&rules[policy.rule_count], v, strlen(v),
                                         strcmp(a, "--allow") == 0) != MASQUE_OK) {
                (void)fprintf(stderr, "masque-proxy: bad rule %s\n", v);
                return 2;
            }
            policy.rule_count++;
        } else if (strcmp(a, "--public-ip") == 0) {
            masque_address ip;
            if (masque_address_parse(&ip, v, strlen(v), 0) != MASQUE_OK ||
                masque_address_is_unspecified(&ip)) {
                (void)fprintf(stderr, "masque-proxy: bad address %s\n", v);
                return 2;
            }
            if (cfg.public_ip_count == 2 ||
                (cfg.public_ip_count == 1 && cfg.public_ips[0].version == ip.version)) {
                (void)fprintf(stderr, "masque-proxy: one --public-ip per IP version\n");
                return 2;
            }
            cfg.public_ips[cfg.public_ip_count++] = ip;
        } else if (strcmp(a, "--max-clients") == 0) {
            cfg.max_clients = (size_t)option_number("masque-proxy", a, v, 1, 1000000);
        } else if (strcmp(a, "--client-ca") == 0) {
            cfg.conn.client_ca_file = v; /* mutual TLS: client certificates from this CA */
        } else if (strcmp(a, "--token-file") == 0) {
            cfg.token_file = v; /* bearer tokens a client must present (407 otherwise) */
        } else if (strcmp(a, "--max-identities") == 0) {
            cfg.max_identities = (size_t)option_number("masque-proxy", a, v, 1, 1000000);
        } else if (strcmp(a, "--stateless-rate") == 0) {
            cfg.stateless_per_s = (uint32_t)option_number("masque-proxy", a, v, 1, 1000000);
        } else if (strcmp(a, "--quota-requests") == 0) {
            cfg.quota_requests = (size_t)option_number("masque-proxy", a, v, 0, 1000000);
        } else if (strcmp(a, "--quota-datagrams") == 0) {
            cfg.quota_datagrams_per_s =
                (uint32_t)option_number("masque-proxy", a, v, 0, UINT32_MAX);
        } else if (strcmp(a, "--quota-bytes") == 0) {
            cfg.quota_bytes_per_s = option_number("masque-proxy", a, v, 0, UINT64_MAX);
        } else if (strcmp(a, "--max-requests") == 0) {
            cfg.max_requests = (size_t)option_number("masque-proxy", a, v, 1, 4000000);
        } else if (strcmp(a, "--max-requests-per-conn") == 0) {
            cfg.conn.max_requests =
                (size_t)option_number("masque-proxy", a, v, 1, MASQUE_QUIC_MAX_REQUESTS);
        } else if (strcmp(a, "--max-contexts") == 0) {
            cfg.conn.max_peer_contexts = (size_t)option_number("masque-proxy", a, v, 1, 1000000);
        } else if (strcmp(a, "--assign-rate") == 0) {
            cfg.conn.assign_rate = (uint32_t)option_number("masque-proxy", a, v, 0, UINT32_MAX);
        } else if (strcmp(a, "--idle-timeout-ms") == 0) {
            cfg.conn.idle_timeout_ms = option_number("masque-proxy", a, v, 1, UINT32_MAX);
        } else if (strcmp(a, "--run-seconds") == 0) {
            run_seconds = option_seconds("masque-proxy", a, v);
        } else {
            usage(stderr);
            return 2;
        }
    }
    policy.rules = rules;
    cfg.conn.policy = &policy;
    cfg.log = log_stderr;
    if (masque_address_parse(&listen_addr, listen_text, strlen(listen_text), 1) != MASQUE_OK ||
        masque_address_to_sockaddr(&listen_addr, &ss, &sl) != MASQUE_OK) {
        (void)fprintf(stderr, "masque-proxy: bad --listen %s\n", listen_text);
        return 2;
    }
    cfg.relay_bind = listen_addr;
    if (!h2 && !h3) {
        (void)fprintf(stderr, "masque-proxy: --no-h2 and --no-h3 leave nothing to serve\n");
        return 2;
    }
    if (h3) { /* HTTP/3 on UDP */
        fd = socket(ss.ss_family, SOCK_DGRAM, 0);
        /* [::] serves IPv4 too, whatever net.ipv6.bindv6only says */
        if (fd < 0 || masque_posix_dual_stack(fd, ss.ss_family) != 0 ||
            bind(fd, (struct sockaddr *)&ss, sl) != 0) {
            perror("masque-proxy: bind (UDP)");
            return 1;
        }
    }
    if (h2) { /* HTTP/2 on TCP, at the same port number: for networks that block UDP */
        int on = 1;
        tcp_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (tcp_fd < 0 || setsockopt(tcp_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
            masque_posix_dual_stack(tcp_fd, ss.ss_family) != 0 ||
            bind(tcp_fd, (struct sockaddr *)&ss, sl) != 0 || listen(tcp_fd, 128) != 0) {
            perror("masque-proxy: bind (TCP)");
            return 1;
        }
        cfg.serve_h2 = 1;
        cfg.h2_listen_fd = tcp_fd;
    }
    proxy = masque_quic_proxy_new(&cfg, fd);
    if (proxy == NULL) {
        (void)fprintf(stderr, "masque-proxy: cannot start\n");
        return 1;
    }
    (void)signal(SIGINT, on_signal);
    (void)signal(SIGTERM, on_signal);
    (void)signal(SIGHUP, on_hangup);
    (void)signal(SIGUSR1, on_usr1);
    (void)fprintf(stderr, "masque-proxy: listening on %s (%s, CONNECT-UDP Bind)\n", listen_text,
                  h2 && h3 ? "HTTP/3 on UDP, HTTP/2 on TCP"
                  : h3     ? "HTTP/3 on UDP"
                           : "HTTP/2 on TCP");
    if (run_seconds > 0) {
        deadline = masque_quic_now_ns() + (uint64_t)(run_seconds * 1e9);
    }
    while (!stop && (deadline == 0 || masque_quic_now_ns() < deadline)) {
        if (reload) {
            reload = 0;
            /* SIGHUP: read the certificate again; new connections get it. */
            log_stderr(NULL, masque_quic_proxy_reload(proxy) == 0
                                 ? "credentials reloaded"
                                 : "credentials could not be reloaded: keeping the old ones");
        }
        if (report) {
            report = 0;
            print_usage(proxy, cfg.stateless_per_s);
        }
        if (masque_quic_proxy_step(proxy, 50) != 0) {
            break;
        }
    }
    print_usage(proxy, cfg.stateless_per_s);
    masque_quic_proxy_free(proxy);
    if (fd >= 0) {
        (void)close(fd);
    }
    if (tcp_fd >= 0) {
        (void)close(tcp_fd);
    }
    return 0;
}
