/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * masque-proxy: a CONNECT-UDP Bind proxy over HTTP/3 (ngtcp2 + nghttp3 + GnuTLS) on UDP and
 * over HTTP/2 (nghttp2 + GnuTLS) on TCP, at the same port number.
 *
 *   masque-proxy [--listen IP:PORT] [--template URI] [--cert PEM --key PEM]
 *                [--allow CIDR[:PORTS]]... [--deny CIDR[:PORTS]]... [--public-ip IP]...
 *                [--max-clients N] [--max-requests N] [--max-requests-per-conn N]
 *                [--max-streams-per-conn N] [--max-identities N] [--stateless-rate PER_S]
 *                [--workers N] [--max-contexts N] [--assign-rate PER_S] [--idle-timeout-ms MS]
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
#define _GNU_SOURCE /* prctl(PR_SET_PDEATHSIG), SO_REUSEPORT, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "masque/posix.h"
#include "masque/quic.h"
#include "notify.h"
#include "options.h"

#define MAX_RULES 32

static volatile sig_atomic_t stop;
static volatile sig_atomic_t reload;
static volatile sig_atomic_t report;
/* What the lines on stderr begin with: "masque-proxy", or with workers "masque-proxy worker K". */
static char who[48] = "masque-proxy";

/*
 * The loop's heartbeat, under systemd's WatchdogSec= (notify.h): one process pings the
 * manager itself (WATCHDOG=1); a worker writes a byte to its pipe to the parent instead, which
 * pings only while every worker's beats come. -1 and 0: no watchdog.
 */
static int beat_fd = -1;
static uint64_t beat_every_ns;
static uint64_t next_beat_ns;

static void beat(uint64_t now)
{
    if (beat_every_ns == 0 || now < next_beat_ns) {
        return;
    }
    next_beat_ns = now + beat_every_ns;
    if (beat_fd >= 0) {
        (void)write(beat_fd, "", 1); /* a full pipe holds beats enough */
    } else {
        (void)notify_send("WATCHDOG=1");
    }
}

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
    uint64_t handshakes;
    uint64_t resumed;
    for (i = 0; masque_quic_proxy_usage(proxy, i, &u) == 0; i++) {
        (void)fprintf(stderr,
                      "%s: usage of %s: %zu requests open, %llu datagrams, %llu "
                      "bytes, %llu dropped by its quota, %llu requests refused by it\n",
                      who, u.identity, u.requests, (unsigned long long)u.datagrams,
                      (unsigned long long)u.bytes, (unsigned long long)u.dropped,
                      (unsigned long long)u.refused);
    }
    (void)fprintf(stderr,
                  "%s: %llu datagrams from targets dropped: %llu too large for their client's "
                  "QUIC DATAGRAM frames, the others held back by congestion control or a full "
                  "request stream\n",
                  who, (unsigned long long)masque_quic_proxy_datagrams_dropped(proxy),
                  (unsigned long long)masque_quic_proxy_datagrams_too_large(proxy));
    held = masque_quic_proxy_stateless_answers(proxy, &resets, &negotiations);
    (void)fprintf(stderr,
                  "%s: %llu Stateless Resets and %llu Version Negotiation packets sent "
                  "to packets of no connection, %llu held back (over %lu a second)\n",
                  who, (unsigned long long)resets, (unsigned long long)negotiations,
                  (unsigned long long)held,
                  (unsigned long)(stateless_per_s != 0 ? stateless_per_s : 1024u));
    handshakes = masque_quic_proxy_handshakes(proxy, &resumed);
    (void)fprintf(stderr, "%s: %llu TLS handshakes, %llu of them resumed with a session ticket\n",
                  who, (unsigned long long)handshakes, (unsigned long long)resumed);
    probed = masque_quic_proxy_probes(proxy, &lost);
    (void)fprintf(stderr,
                  "%s: %llu connections probed for a used-up quota, %llu of them closed "
                  "for giving no answer\n",
                  who, (unsigned long long)probed, (unsigned long long)lost);
    (void)fprintf(stderr,
                  "%s: %zu clients, %zu Bind requests open; %llu client turns in %llu "
                  "steps since start\n",
                  who, masque_quic_proxy_clients(proxy), masque_quic_proxy_requests(proxy),
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
        "  --listen IP:PORT           address to serve (default 127.0.0.1:4433; port 0: one\n"
        "                             the kernel picks, named in the \"listening on\" line)\n"
        "  --template URI             the URI template (default\n"
        "                             https://localhost/.well-known/masque/udp/{target_host}/"
        "{target_port}/)\n"
        "  --cert PEM --key PEM       certificate and key (default: a self-signed one)\n"
        "  --token-file FILE          bearer tokens clients must present (407 otherwise),\n"
        "                             one per line; re-read on SIGHUP; never logged\n"
        "  --client-ca PEM            accept clients with a certificate from this CA (mutual\n"
        "                             TLS); others need a token (or are refused)\n"
        "  --allow-anonymous          without --token-file or --client-ca, serve anonymous\n"
        "                             clients that are not on this host too (an open relay:\n"
        "                             off by default)\n"
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
        "  --max-streams-per-conn N   request streams a client may have open at once, served,\n"
        "                             refused or closing (default and most 16): beyond it a\n"
        "                             client waits for one to close instead of a 429\n"
        "  --max-contexts N           contexts a client may hold per request (default 256)\n"
        "  --quota-requests N         per client identity: Bind requests at once (429 beyond)\n"
        "  --quota-datagrams PER_S    per client identity: datagrams per second, both ways\n"
        "  --quota-bytes PER_S        per client identity: payload bytes per second, both ways\n"
        "  --max-identities N         client identities accounted apart (default 1024; the one\n"
        "                             longest without a request makes room for a new one)\n"
        "  --stateless-rate PER_S     Stateless Resets and Version Negotiation packets sent at\n"
        "                             most per second (default 1024; the rest held back)\n"
        "  --workers N                N processes on the port, each with its own clients and\n"
        "                             limits; packets go to the worker of their connection ID\n"
        "                             (default 1; needs --cert and --key; the quotas count\n"
        "                             across them)\n"
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
    (void)fprintf(stderr, "%s: %s\n", who, line);
}

/* SIGINT and SIGTERM stop, SIGHUP reloads the credentials, SIGUSR1 prints the counters.
 * SIGPIPE is ignored: a log reader that went away (the other end of `2>&1 | tee`, a
 * supervisor's pipe) makes a write to stderr fail, not the proxy and every tunnel end. */
static void install_handlers(void)
{
    (void)signal(SIGPIPE, SIG_IGN);
    (void)signal(SIGINT, on_signal);
    (void)signal(SIGTERM, on_signal);
    (void)signal(SIGHUP, on_hangup);
    (void)signal(SIGUSR1, on_usr1);
}

/* The port of address ss (IPv4 or IPv6), in network byte order, set to port_be. */
static void set_port(struct sockaddr_storage *ss, uint16_t port_be)
{
    if (ss->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = port_be;
    } else {
        ((struct sockaddr_in *)(void *)ss)->sin_port = port_be;
    }
}

/* The port of address ss in network byte order (0: the kernel is to pick one). */
static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port
                                     : ((const struct sockaddr_in *)(const void *)ss)->sin_port;
}

/* Sets the port of address ss (IPv4 or IPv6) to the one socket fd is bound to. */
static void take_bound_port(int fd, struct sockaddr_storage *ss)
{
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    memset(&bound, 0, sizeof(bound));
    if (getsockname(fd, (struct sockaddr *)&bound, &bl) != 0 || bound.ss_family != ss->ss_family) {
        return;
    }
    set_port(ss, port_of(&bound));
}

/* Closes the n descriptors of fds that are open. */
static void close_all(int *fds, unsigned n)
{
    unsigned k;
    for (k = 0; k < n; k++) {
        if (fds[k] >= 0) {
            (void)close(fds[k]);
            fds[k] = -1;
        }
    }
}

/* How many UDP ports the kernel may pick for --listen IP:0 before one is free for TCP too. */
#define PICK_ATTEMPTS 32

/* open_pair()'s answer when the TCP port is taken (EADDRINUSE), the UDP socket open. */
#define TCP_PORT_TAKEN 1

/*
 * One worker's listening sockets at address ss: UDP (HTTP/3) if h3, then TCP (HTTP/2) at the
 * same port number if h2. A port of 0 in ss becomes the UDP socket's. 0; TCP_PORT_TAKEN; or
 * -1 after saying why.
 */
static int open_pair(struct sockaddr_storage *ss, socklen_t sl, int shared, int h2, int h3,
                     int *udp_fd, int *tcp_fd)
{
    int on = 1;
    if (h3) { /* HTTP/3 on UDP */
        *udp_fd = socket(ss->ss_family, SOCK_DGRAM, 0);
        /* [::] serves IPv4 too, whatever net.ipv6.bindv6only says */
        if (*udp_fd < 0 || masque_posix_dual_stack(*udp_fd, ss->ss_family) != 0 ||
            (shared && setsockopt(*udp_fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
            bind(*udp_fd, (struct sockaddr *)ss, sl) != 0) {
            perror("masque-proxy: bind (UDP)");
            return -1;
        }
        take_bound_port(*udp_fd, ss);
    }
    if (h2) { /* HTTP/2 on TCP, at the same port number: for networks that block UDP */
        *tcp_fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (*tcp_fd < 0 || setsockopt(*tcp_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
            (shared && setsockopt(*tcp_fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
            masque_posix_dual_stack(*tcp_fd, ss->ss_family) != 0) {
            perror("masque-proxy: socket (TCP)");
            return -1;
        }
        if (bind(*tcp_fd, (struct sockaddr *)ss, sl) != 0) {
            if (errno == EADDRINUSE) {
                return TCP_PORT_TAKEN;
            }
            perror("masque-proxy: bind (TCP)");
            return -1;
        }
        if (listen(*tcp_fd, 128) != 0) {
            perror("masque-proxy: listen (TCP)");
            return -1;
        }
        take_bound_port(*tcp_fd, ss);
    }
    return 0;
}

/*
 * The listening sockets, one UDP (HTTP/3) and one TCP (HTTP/2) for each worker, at one
 * address and port (a port of 0 becomes the first socket's). With more than one worker they
 * share the port (SO_REUSEPORT), the UDP ones in a group that hands each packet to the worker
 * whose connection it is (masque_quic_steer_by_connection_id()), the TCP ones each taking the
 * connections the kernel gives it. -1 in a slot: that transport is not served. 0, or -1 after
 * saying why.
 *
 * With port 0 the kernel picks the UDP port among those free for UDP: the same number may be
 * taken for TCP (another program's listener, or the local end of a connection out). Then
 * that UDP socket stays open until the end, so that the kernel does not pick it again, and
 * the pick starts over, up to PICK_ATTEMPTS times.
 */
static int open_listeners(struct sockaddr_storage *ss, socklen_t sl, unsigned workers, int h2,
                          int h3, int *udp_fds, int *tcp_fds)
{
    int passed_over[PICK_ATTEMPTS];
    unsigned n_passed = 0;
    const int pick = port_of(ss) == 0;
    unsigned k;
    int rc = 0;
    for (k = 0; k < workers; k++) {
        udp_fds[k] = -1;
        tcp_fds[k] = -1;
    }
    for (k = 0; k < workers && rc == 0; k++) {
        rc = open_pair(ss, sl, workers > 1, h2, h3, &udp_fds[k], &tcp_fds[k]);
        while (rc == TCP_PORT_TAKEN && pick && k == 0 && h3 && n_passed < PICK_ATTEMPTS) {
            passed_over[n_passed++] = udp_fds[0];
            udp_fds[0] = -1;
            (void)close(tcp_fds[0]);
            tcp_fds[0] = -1;
            set_port(ss, 0);
            rc = open_pair(ss, sl, workers > 1, h2, h3, &udp_fds[0], &tcp_fds[0]);
        }
        if (rc == TCP_PORT_TAKEN) {
            perror("masque-proxy: bind (TCP)");
            rc = -1;
        }
    }
    close_all(passed_over, n_passed);
    if (rc == 0 && workers > 1 && h3 &&
        masque_quic_steer_by_connection_id(udp_fds[0], workers) != 0) {
        perror("masque-proxy: steering packets to workers (SO_ATTACH_REUSEPORT_CBPF)");
        rc = -1;
    }
    if (rc != 0) {
        close_all(udp_fds, workers);
        close_all(tcp_fds, workers);
    }
    return rc;
}

/*
 * Each HTTP/2 client's TCP connection and each Bind request's relay socket is a descriptor: at
 * the defaults, 256 clients and 1024 requests, more than the soft limit of open files a shell
 * gives (1024). The soft limit goes up to what the limits may use, as far as the hard limit
 * allows; what is still short is said at start. (The systemd unit sets LimitNOFILE.)
 */
static void raise_open_files(const masque_quic_proxy_config *cfg)
{
    struct rlimit rl;
    size_t clients = cfg->max_clients != 0 ? cfg->max_clients : MASQUE_QUIC_PROXY_CLIENTS_DEFAULT;
    size_t requests = cfg->max_requests != 0 ? cfg->max_requests
                                             : MASQUE_QUIC_PROXY_REQUESTS_PER_CLIENT * clients;
    rlim_t need = (rlim_t)(clients + requests + 64); /* and the proxy's own, with room */
    char line[200];
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
        return;
    }
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        (void)snprintf(line, sizeof(line),
                       "the limit of open files, %llu, is below the %llu that --max-clients and "
                       "--max-requests may use: raise it (ulimit -n, LimitNOFILE=)",
                       (unsigned long long)rl.rlim_cur, (unsigned long long)need);
        log_stderr(NULL, line);
    }
}

/* One proxy on sockets fd (UDP, or -1) and tcp_fd (TCP, or -1), until SIGTERM or the run
 * time: the exit status. */
static int serve(masque_quic_proxy_config *cfg, int fd, int tcp_fd, const char *listen_text, int h2,
                 int h3, double run_seconds)
{
    masque_quic_proxy *proxy;
    uint64_t deadline = 0;
    if (tcp_fd >= 0) {
        cfg->serve_h2 = 1;
        cfg->h2_listen_fd = tcp_fd;
    }
    raise_open_files(cfg);
    proxy = masque_quic_proxy_new(cfg, fd);
    if (proxy == NULL) {
        (void)fprintf(stderr, "%s: cannot start\n", who);
        return 1;
    }
    install_handlers();
    (void)fprintf(stderr, "%s: listening on %s (%s, CONNECT-UDP Bind)\n", who, listen_text,
                  h2 && h3 ? "HTTP/3 on UDP, HTTP/2 on TCP"
                  : h3     ? "HTTP/3 on UDP"
                           : "HTTP/2 on TCP");
    if (cfg->conn.workers <= 1) {
        char state[160];
        (void)snprintf(state, sizeof(state), "READY=1\nSTATUS=listening on %s", listen_text);
        (void)notify_send(state);                 /* a worker's parent says it for the group */
        beat_every_ns = notify_watchdog_ns() / 2; /* WatchdogSec=: at least twice an interval */
    }
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
            print_usage(proxy, cfg->stateless_per_s);
        }
        if (masque_quic_proxy_step(proxy, 50) != 0) {
            break;
        }
        beat(masque_quic_now_ns());
    }
    if (cfg->conn.workers <= 1) {
        (void)notify_send("STOPPING=1");
    }
    print_usage(proxy, cfg->stateless_per_s);
    masque_quic_proxy_free(proxy);
    if (fd >= 0) {
        (void)close(fd);
    }
    if (tcp_fd >= 0) {
        (void)close(tcp_fd);
    }
    return 0;
}

/*
 * Under WatchdogSec=, the parent of workers pings the manager only while each live worker's
 * loop beats (beat(): a byte on its pipe at least every quarter of the interval): a worker
 * whose loop hangs stops the pings, and the manager restarts the group. `beats` are the pipes'
 * read ends, -1 where no worker reads any more; last[k] when worker k last beat.
 */
static void watch_beats(const int *beats, uint64_t *last, unsigned workers, uint64_t interval_ns,
                        uint64_t *pinged)
{
    uint64_t now = masque_quic_now_ns();
    unsigned k;
    int all = 1;
    for (k = 0; k < workers; k++) {
        char drain[64];
        if (beats[k] < 0) {
            continue;
        }
        while (read(beats[k], drain, sizeof(drain)) > 0) {
            last[k] = now;
        }
        if (now - last[k] > interval_ns / 2) {
            all = 0; /* this one's loop has not turned for half an interval */
        }
    }
    if (all && now - *pinged >= interval_ns / 4) {
        *pinged = now;
        (void)notify_send("WATCHDOG=1");
    }
}

/*
 * `workers` processes, worker k serving sockets udp_fds[k] and tcp_fds[k] with the connection
 * IDs of worker k (masque_quic_config.worker). This process waits for them: SIGTERM, SIGINT,
 * SIGHUP and SIGUSR1 go on to each; a worker that ends otherwise than with status 0 ends the
 * others too (the socket group's places would shift), and the exit status is then 1. A worker
 * whose parent is gone (killed) gets SIGTERM. To systemd (notify.h) it says when the group is
 * ready and when it stops, and pings its watchdog while every worker's loop turns.
 */
static int run_workers(masque_quic_proxy_config *cfg, unsigned workers, const int *udp_fds,
                       const int *tcp_fds, const char *listen_text, int h2, int h3,
                       double run_seconds)
{
    static pid_t pids[MASQUE_QUIC_WORKERS_MAX];
    static int beats[MASQUE_QUIC_WORKERS_MAX];
    static uint64_t last[MASQUE_QUIC_WORKERS_MAX];
    uint64_t watchdog_ns = notify_watchdog_ns();
    uint64_t pinged = 0;
    char state[160];
    sigset_t waited;
    sigset_t before;
    pid_t parent = getpid();
    unsigned alive = 0;
    unsigned k;
    int status = 0;
    int stopping = 0;
    (void)sigemptyset(&waited);
    (void)sigaddset(&waited, SIGTERM);
    (void)sigaddset(&waited, SIGINT);
    (void)sigaddset(&waited, SIGHUP);
    (void)sigaddset(&waited, SIGUSR1);
    (void)sigaddset(&waited, SIGCHLD);
    (void)sigprocmask(SIG_BLOCK, &waited, &before);
    for (k = 0; k < workers; k++) {
        int ends[2] = {-1, -1};
        pid_t pid;
        beats[k] = -1;
        if (watchdog_ns != 0 && pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) {
            perror("masque-proxy: pipe");
            stopping = 1;
            status = 1;
            break;
        }
        pid = fork();
        if (pid < 0) {
            perror("masque-proxy: fork");
            if (ends[0] >= 0) {
                (void)close(ends[0]);
                (void)close(ends[1]);
            }
            stopping = 1;
            status = 1;
            break;
        }
        if (pid == 0) {
            unsigned j;
            (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) {
                _exit(0); /* the parent went before the line above */
            }
            for (j = 0; j < workers; j++) {
                if (j != k) {
                    (void)close(udp_fds[j]);
                    (void)close(tcp_fds[j]);
                }
                if (j < k && beats[j] >= 0) {
                    (void)close(beats[j]); /* the parent's ends of the others' pipes */
                }
            }
            if (ends[0] >= 0) {
                (void)close(ends[0]);
                beat_fd = ends[1];
                beat_every_ns = watchdog_ns / 4;
            }
            (void)snprintf(who, sizeof(who), "masque-proxy worker %u", k);
            cfg->conn.workers = workers;
            cfg->conn.worker = k;
            install_handlers(); /* first: a signal held since the fork then finds them */
            (void)sigprocmask(SIG_SETMASK, &before, NULL);
            _exit(serve(cfg, udp_fds[k], tcp_fds[k], listen_text, h2, h3, run_seconds));
        }
        pids[k] = pid;
        alive++;
        if (ends[0] >= 0) {
            (void)close(ends[1]);
            beats[k] = ends[0];
            last[k] = masque_quic_now_ns(); /* its first beat comes after its start */
        }
    }
    for (k = 0; k < workers; k++) {
        (void)close(udp_fds[k]); /* each is the worker's now */
        (void)close(tcp_fds[k]);
    }
    if (stopping == 0) {
        /* The sockets listen (opened before the workers): connections wait for them. */
        (void)snprintf(state, sizeof(state), "READY=1\nSTATUS=listening on %s (%u workers)",
                       listen_text, workers);
        (void)notify_send(state);
    }
    while (alive > 0) {
        int sig;
        if (stopping == 1) {
            stopping = 2;
            (void)notify_send("STOPPING=1");
            for (k = 0; k < workers; k++) {
                if (pids[k] > 0) {
                    (void)kill(pids[k], SIGTERM);
                }
            }
        }
        if (watchdog_ns != 0) {
            struct timespec wait;
            wait.tv_sec = (time_t)(watchdog_ns / 4u / 1000000000u);
            wait.tv_nsec = (long)(watchdog_ns / 4u % 1000000000u);
            sig = sigtimedwait(&waited, NULL, &wait);
            if (stopping == 0) {
                watch_beats(beats, last, workers, watchdog_ns, &pinged);
            }
        } else {
            sig = sigwaitinfo(&waited, NULL);
        }
        if (sig == SIGCHLD) {
            int st;
            pid_t pid;
            while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
                for (k = 0; k < workers; k++) {
                    if (pids[k] == pid) {
                        pids[k] = 0;
                        alive--;
                        if (beats[k] >= 0) {
                            (void)close(beats[k]);
                            beats[k] = -1;
                        }
                    }
                }
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                    (void)fprintf(stderr,
                                  "masque-proxy: a worker ended (%s %d): stopping the others\n",
                                  WIFEXITED(st) ? "status" : "signal",
                                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                    status = 1;
                    stopping = stopping == 0 ? 1 : stopping;
                }
            }
        } else if (sig == SIGTERM || sig == SIGINT) {
            stopping = stopping == 0 ? 1 : stopping;
        } else if (sig == SIGHUP || sig == SIGUSR1) {
            size_t taken;
            size_t keeping;
            size_t room;
            for (k = 0; k < workers; k++) {
                if (pids[k] > 0) {
                    (void)kill(pids[k], sig);
                }
            }
            if (sig == SIGUSR1 &&
                masque_quic_quota_share_count(cfg->quota_share, &taken, &keeping, &room) == 0) {
                (void)fprintf(stderr,
                              "masque-proxy: quota share: %zu of %zu places taken (%zu by "
                              "identities that hold no request and keep their rate buckets)\n",
                              taken, room, keeping);
            }
        }
    }
    return status;
}

int main(int argc, char **argv)
{
    static masque_policy_rule rules[MAX_RULES];
    static int udp_fds[MASQUE_QUIC_WORKERS_MAX];
    static int tcp_fds[MASQUE_QUIC_WORKERS_MAX];
    masque_quic_proxy_config cfg;
    masque_policy policy;
    masque_address listen_addr;
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *listen_text = "127.0.0.1:4433";
    char bound_text[MASQUE_ADDRESS_TEXT_MAX];
    double run_seconds = 0;
    unsigned workers = 1;
    int h2 = 1;
    int h3 = 1;
    int i;

    open_standard_fds(); /* before any socket could take 0, 1 or 2 */
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
            (void)fprintf(stderr, "masque-proxy: %s: %s (--help lists the options)\n", a,
                          a[0] == '-' && a[1] == '-' ? "unknown, or missing its value"
                                                     : "not an option");
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            listen_text = v;
        } else if (strcmp(a, "--template") == 0) {
            masque_str t = {v, strlen(v)};
            if (masque_uri_template_check(t, NULL) != MASQUE_OK) {
                /* Refused now rather than every request answered 400 later. */
                (void)fprintf(stderr,
                              "masque-proxy: bad --template %s (RFC 9298 §2: an absolute URI with "
                              "{target_host} and {target_port} once each, in its path or query, "
                              "each followed by a character no value holds)\n",
                              v);
                return 2;
            }
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
        } else if (strcmp(a, "--workers") == 0) {
            workers = (unsigned)option_number("masque-proxy", a, v, 1, MASQUE_QUIC_WORKERS_MAX);
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
        } else if (strcmp(a, "--max-streams-per-conn") == 0) {
            cfg.conn.max_streams =
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
            (void)fprintf(stderr, "masque-proxy: unknown option %s (--help lists them)\n", a);
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
    if (cfg.allow_anonymous && (cfg.token_file != NULL || cfg.conn.client_ca_file != NULL)) {
        /* Tokens and client certificates are for keeping clients out that have neither. */
        (void)fprintf(stderr, "masque-proxy: --allow-anonymous does not go with --token-file "
                              "or --client-ca (with them, a client without credentials is "
                              "refused)\n");
        return 2;
    }
    if ((cfg.conn.cert_file == NULL) != (cfg.conn.key_file == NULL)) {
        (void)fprintf(stderr, "masque-proxy: --cert and --key go together (the certificate and "
                              "its key; without both, a self-signed one is made)\n");
        return 2;
    }
    if (workers > 1 && (cfg.conn.cert_file == NULL || cfg.conn.key_file == NULL)) {
        /* Each worker would make a certificate of its own, and a Stateless Reset secret. */
        (void)fprintf(stderr, "masque-proxy: --workers needs --cert and --key (one certificate, "
                              "and one Stateless Reset secret derived from its key, for all)\n");
        return 2;
    }
    if (workers > 1 &&
        (cfg.quota_requests != 0 || cfg.quota_datagrams_per_s != 0 || cfg.quota_bytes_per_s != 0)) {
        /* One count of each identity's requests, and one pair of token buckets, for all the
         * workers, made before they fork. */
        cfg.quota_share =
            masque_quic_quota_share_new(cfg.max_identities != 0 ? cfg.max_identities : 1024u);
        if (cfg.quota_share == NULL) {
            (void)fprintf(stderr, "masque-proxy: no shared memory for the quotas\n");
            return 1;
        }
    }
    if (open_listeners(&ss, sl, workers, h2, h3, udp_fds, tcp_fds) != 0) {
        return 1;
    }
    /* With port 0 the kernel chose one: the "listening on" line says which. */
    if (masque_address_from_sockaddr((const struct sockaddr *)&ss, sl, &listen_addr) == MASQUE_OK &&
        masque_address_format(bound_text, sizeof(bound_text), &listen_addr, 1) > 0) {
        listen_text = bound_text;
    }
    if (workers == 1) {
        return serve(&cfg, udp_fds[0], tcp_fds[0], listen_text, h2, h3, run_seconds);
    }
    return run_workers(&cfg, workers, udp_fds, tcp_fds, listen_text, h2, h3, run_seconds);
}
