/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * relay-bench: datagrams through a real Bind relay (proxy + client over QUIC on loopback, in
 * one process) against plain UDP echo on loopback, on both datagram paths: QUIC DATAGRAM frames
 * (HTTP/3 datagrams) and DATAGRAM capsules, and over HTTP/2 (capsules on TLS/TCP) where the
 * binary has it. A peer sends datagrams to the client's public
 * address; the client echoes each one back through the proxy. Prints, per case:
 *   relay<TAB>path<TAB>size<TAB>datagrams_per_s<TAB>MB_per_s<TAB>rtt_p50_us<TAB>rtt_p99_us<TAB>
 *   lost<TAB>proxy_cpu_us_per_datagram
 * where the last column is the proxy's CPU time (user + system: the thread's CPU clock around
 * masque_quic_proxy_step(), read in a run of its own so that the clock's system calls are not
 * in the rates) per relayed datagram (an echo is two), then one summary line per
 * path and size. First, in the same mode, a reference: a plain UDP forwarder of the relay's
 * shape with its batched I/O and no protocol (udp_forward rows), what the shape alone allows.
 * TLS verification stays on (a throw-away CA). A measurement, not a test: it always exits 0.
 * --quick runs a short version (for callgrind, without the reference); --h3-datagrams,
 * --capsules or --h2 runs only that path.
 *
 * --idle-clients N connects N more clients first, each with a Bind request open and then silent
 * (a proxy's usual crowd): what the active tunnel's figures lose to them is what the proxy
 * spends per step on connections with nothing to do.
 *
 * --processes measures as a deployment runs: the proxy, the client and the echo service each
 * in a process of its own, blocked in poll() when idle, the peer in this one; the CPU columns
 * are then each process's own (user + system, from /proc/PID/schedstat), as a load generator
 * measures a relay such as h2o.
 */
#define _GNU_SOURCE /* recvmmsg(), sendmmsg() */
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/e2e/tls_util.h"
#include "masque/posix.h"
#include "masque/quic.h"
#ifdef MASQUE_HAVE_H2
#include <errno.h>

#include "masque/h2.h"
#endif

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

/* --idle-clients: connections with a Bind request open and nothing to relay. */
#define IDLE_MAX 4096
static size_t idle_clients;
static size_t idle_ready;
static masque_quic_conn *idle_conn[IDLE_MAX];
static int idle_fd[IDLE_MAX];

static void idle_on_ready(masque_quic_request *r, void *app)
{
    (void)r;
    (void)app;
    idle_ready++;
}

static void idle_on_packet(masque_quic_request *r, void *app, const masque_address *peer,
                           const uint8_t *data, size_t len)
{
    (void)r;
    (void)app;
    (void)peer;
    (void)data;
    (void)len;
}

/* Connects the idle clients to the proxy at `remote` (the proxy's steps run meanwhile); 1 when
 * every one has its request accepted within a minute. */
static int idle_setup(const masque_quic_config *ccfg, const struct sockaddr_storage *remote,
                      socklen_t rl)
{
    static const masque_quic_hooks hooks = {idle_on_ready, idle_on_packet, NULL, NULL,
                                            NULL,          NULL,           NULL};
    uint64_t deadline = masque_quic_now_ns() + 60000000000u;
    size_t i;
    idle_ready = 0;
    for (i = 0; i < idle_clients; i++) {
        masque_address local_addr;
        struct sockaddr_storage local;
        socklen_t ll = 0;
        idle_fd[i] = bound(&local_addr);
        (void)masque_address_to_sockaddr(&local_addr, &local, &ll);
        (void)connect(idle_fd[i], (const struct sockaddr *)remote, rl);
        idle_conn[i] = masque_quic_client_new(ccfg, idle_fd[i], (struct sockaddr *)&local, ll,
                                              (const struct sockaddr *)remote, rl, &hooks, NULL);
        if (idle_conn[i] == NULL) {
            return 0;
        }
        (void)masque_quic_write(idle_conn[i]);
    }
    while (idle_ready < idle_clients && masque_quic_now_ns() < deadline) {
        (void)masque_quic_proxy_step(proxy, 0);
        for (i = 0; i < idle_clients; i++) {
            (void)masque_quic_read_socket(idle_conn[i]);
            if (masque_quic_next_timeout(idle_conn[i]) <= masque_quic_now_ns()) {
                (void)masque_quic_tick(idle_conn[i]);
            }
            (void)masque_quic_write(idle_conn[i]);
        }
    }
    for (i = 0; i < 50; i++) { /* the last ACKs: then nothing is left to say */
        size_t k;
        (void)masque_quic_proxy_step(proxy, 1);
        for (k = 0; k < idle_clients; k++) {
            (void)masque_quic_read_socket(idle_conn[k]);
            (void)masque_quic_write(idle_conn[k]);
        }
    }
    return idle_ready == idle_clients;
}

static void idle_teardown(void)
{
    size_t i;
    for (i = 0; i < idle_clients; i++) {
        masque_quic_free(idle_conn[i]);
        (void)close(idle_fd[i]);
        idle_conn[i] = NULL;
    }
}
#ifdef MASQUE_HAVE_H2
static masque_h2_request *h2_request; /* the same over HTTP/2 */
#endif

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

static uint64_t proxy_cpu_ns; /* CPU time spent in the proxy's steps */
/* Whether to read the thread's CPU clock around each proxy step: in a run of its own (run()).
 * The clock is a system call; two more a turn of the loop would be the benchmark's own cost in
 * the relay's rates and round trips. */
static int measure_proxy_cpu;
/* Whether throughput runs of the relay get a CPU run beside them: not in --quick runs, which
 * callgrind counts (the same datagrams relayed once, not twice). */
static int cpu_runs = 1;

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#ifdef MASQUE_HAVE_H2
static masque_h2_conn *h2_client; /* the client over HTTP/2, when that path runs */
static int tcp_listen_fd = -1;
static struct sockaddr_storage tcp_remote; /* where tcp_listen_fd listens */

static void h2_ready(masque_h2_request *r, void *app)
{
    (void)app;
    (void)masque_h2_request_public_addresses(r, &pub, 1);
    (void)masque_session_open_uncompressed(masque_h2_request_session(r), 0, NULL);
    (void)masque_adapter_flush(masque_h2_request_adapter(r));
    h2_request = r;
}

static void h2_packet(masque_h2_request *r, void *app, const masque_address *peer,
                      const uint8_t *data, size_t len)
{
    static uint8_t buf[MASQUE_BIND_HEADROOM + 65536];
    (void)app;
    memcpy(buf + MASQUE_BIND_HEADROOM, data, len);
    (void)masque_adapter_write_datagram(masque_h2_request_adapter(r), peer,
                                        buf + MASQUE_BIND_HEADROOM, MASQUE_BIND_HEADROOM, len,
                                        masque_quic_now_ns() / 1000000u);
}
#endif

static void pump_relay(void)
{
    if (measure_proxy_cpu) {
        uint64_t cpu = thread_cpu_ns();
        (void)masque_quic_proxy_step(proxy, 0);
        proxy_cpu_ns += thread_cpu_ns() - cpu;
    } else {
        (void)masque_quic_proxy_step(proxy, 0);
    }
#ifdef MASQUE_HAVE_H2
    if (h2_client != NULL) {
        (void)masque_h2_read(h2_client);
        (void)masque_h2_tick(h2_client);
        return;
    }
#endif
    (void)masque_quic_read_socket(client);
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

/* ---- a reference: the relay's shape without QUIC, TLS or HTTP ---- */

/*
 * A plain UDP forwarder in this thread, shaped as the relay: the peer sends to its public
 * socket, the forwarder passes each datagram to a client socket that echoes it, and passes the
 * echo back to the peer. A relayed echo moves four packets through the loopback, as through
 * the relay, with no encryption, no QUIC and no HTTP, and with the relay's I/O: the public
 * socket is read with recvmmsg(), datagrams leave in UDP GSO trains (one sendmsg() each), and
 * the forwarder's inner socket and the client read trains with UDP GRO. What it reaches is
 * what the shape alone allows on this machine.
 */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h */
#endif
#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h */
#endif
#define FWD_BATCH    64        /* datagrams one recvmmsg() takes */
#define FWD_SEGMENTS 44        /* datagrams in one GSO train at most (as the binding sends) */
#define FWD_TRAIN    65000     /* bytes in one train at most */
static int fwd_pub_fd = -1;    /* the forwarder's public socket: the peer sends here */
static int fwd_inner_fd = -1;  /* the forwarder's socket toward the client (connected) */
static int fwd_client_fd = -1; /* the client, which echoes (connected to fwd_inner_fd) */
static masque_address fwd_pub;
static struct sockaddr_storage fwd_peer; /* where the last datagram on fwd_pub_fd came from */
static socklen_t fwd_peer_len;

/* Sends iov[0..n) (datagrams of one size but the last) as GSO trains to dst (NULL: the
 * socket's connected address). */
static void send_trains(int fd, struct iovec *iov, size_t n, const struct sockaddr_storage *dst,
                        socklen_t dst_len)
{
    size_t from = 0;
    while (from < n) {
        char ctrl[CMSG_SPACE(sizeof(uint16_t))];
        struct msghdr mh;
        size_t seg = iov[from].iov_len;
        size_t total = 0;
        size_t to = from;
        while (to < n && to - from < FWD_SEGMENTS && total + iov[to].iov_len <= FWD_TRAIN &&
               iov[to].iov_len <= seg) {
            total += iov[to].iov_len;
            to++;
            if (iov[to - 1].iov_len < seg) {
                break; /* a shorter datagram ends a train */
            }
        }
        memset(&mh, 0, sizeof(mh));
        mh.msg_name = (void *)dst;
        mh.msg_namelen = dst != NULL ? dst_len : 0;
        mh.msg_iov = iov + from;
        mh.msg_iovlen = to - from;
        if (to - from > 1) {
            struct cmsghdr *cm;
            uint16_t size = (uint16_t)seg;
            memset(ctrl, 0, sizeof(ctrl));
            mh.msg_control = ctrl;
            mh.msg_controllen = sizeof(ctrl);
            cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(size));
            memcpy(CMSG_DATA(cm), &size, sizeof(size));
        }
        (void)sendmsg(fd, &mh, 0);
        from = to;
    }
}

/* One GRO receive: a train of datagrams of *seg bytes each (the last may be shorter); its
 * length, or -1 when nothing waits. */
static ssize_t recv_train(int fd, uint8_t *buf, size_t cap, size_t *seg)
{
    char ctrl[CMSG_SPACE(sizeof(int))];
    struct iovec iov;
    struct msghdr mh;
    struct cmsghdr *cm;
    ssize_t n;
    iov.iov_base = buf;
    iov.iov_len = cap;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctrl;
    mh.msg_controllen = sizeof(ctrl);
    n = recvmsg(fd, &mh, MSG_DONTWAIT);
    if (n <= 0) {
        return -1;
    }
    *seg = (size_t)n;
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
            int v;
            memcpy(&v, CMSG_DATA(cm), sizeof(v));
            *seg = v > 0 ? (size_t)v : (size_t)n;
        }
    }
    return n;
}

/* The peer's datagrams, to the client. */
static void forward_to_client(void)
{
    static uint8_t bufs[FWD_BATCH][2048];
    static struct sockaddr_storage names[FWD_BATCH];
    static struct iovec iov[FWD_BATCH];
    static struct mmsghdr msgs[FWD_BATCH];
    int n;
    int i;
    do {
        for (i = 0; i < FWD_BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof(bufs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &names[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
        }
        n = recvmmsg(fwd_pub_fd, msgs, FWD_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            return;
        }
        fwd_peer = names[n - 1];
        fwd_peer_len = msgs[n - 1].msg_hdr.msg_namelen;
        for (i = 0; i < n; i++) {
            iov[i].iov_len = msgs[i].msg_len;
        }
        send_trains(fwd_inner_fd, iov, (size_t)n, NULL, 0);
    } while (n == FWD_BATCH);
}

/* Cuts a received train into its datagrams and sends them on, as trains, from fd. */
static void pass_trains(int from, int to, const struct sockaddr_storage *dst, socklen_t dst_len)
{
    static uint8_t train[65536];
    static struct iovec iov[FWD_BATCH];
    size_t seg = 0;
    ssize_t n;
    while ((n = recv_train(from, train, sizeof(train), &seg)) > 0) {
        size_t count = 0;
        size_t off = 0;
        while (off < (size_t)n && count < FWD_BATCH) {
            size_t len = (size_t)n - off < seg ? (size_t)n - off : seg;
            iov[count].iov_base = train + off;
            iov[count].iov_len = len;
            count++;
            off += len;
        }
        send_trains(to, iov, count, dst, dst_len);
    }
}

static void wait_forward(int peer)
{
    (void)peer;
    forward_to_client();
    pass_trains(fwd_client_fd, fwd_client_fd, NULL, 0); /* the client's echo */
    if (fwd_peer_len != 0) {
        pass_trains(fwd_inner_fd, fwd_pub_fd, &fwd_peer, fwd_peer_len); /* back to the peer */
    }
}

/* The forwarder's three sockets, on loopback. */
static void forward_setup(void)
{
    masque_address inner;
    masque_address client_addr;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    fwd_pub_fd = bound(&fwd_pub);
    fwd_inner_fd = bound(&inner);
    fwd_client_fd = bound(&client_addr);
    fwd_peer_len = 0;
    {
        int one = 1;
        (void)setsockopt(fwd_inner_fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
        (void)setsockopt(fwd_client_fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
    }
    (void)masque_address_to_sockaddr(&client_addr, &ss, &sl);
    (void)connect(fwd_inner_fd, (struct sockaddr *)&ss, sl);
    (void)masque_address_to_sockaddr(&inner, &ss, &sl);
    (void)connect(fwd_client_fd, (struct sockaddr *)&ss, sl);
}

static void forward_teardown(void)
{
    (void)close(fwd_pub_fd);
    (void)close(fwd_inner_fd);
    (void)close(fwd_client_fd);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

typedef struct result {
    double per_s;
    double rtt_p50_us;
    double cpu_us; /* proxy CPU per relayed datagram */
    size_t lost;   /* datagrams sent and never answered */
} result;

/* What one windowed run measured. */
typedef struct window_stats {
    size_t sent;
    size_t answered; /* round trips timed */
    double seconds;
    double rtt_p50_us;
    double rtt_p99_us;
} window_stats;

/* Sends `count` datagrams of `size` bytes to `target` from a fresh socket, with at most
 * `window` outstanding, calling between() after the sends and before the reads (it moves the relay
 * along, or sleeps until answers come), and times each answer. */
static window_stats windowed(const masque_address *target, size_t size, size_t count, size_t window,
                             void (*between)(int peer))
{
    static uint8_t msg[65536];
    static uint8_t in[65536];
    static uint64_t sent_at[200000];
    static uint64_t rtt[200000];
    masque_address peer_addr;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int peer = bound(&peer_addr);
    size_t got = 0;
    uint64_t t0;
    uint64_t last_progress;
    window_stats st;
    memset(&st, 0, sizeof(st));
    (void)masque_address_to_sockaddr(target, &ss, &sl);
    memset(msg, 0x5A, size);
    t0 = masque_quic_now_ns();
    last_progress = t0;
    while (got < count && masque_quic_now_ns() - last_progress < 1000000000u) {
        ssize_t r;
        while (st.sent < count && st.sent - got < window) {
            uint32_t seq = (uint32_t)st.sent;
            memcpy(msg, &seq, sizeof(seq) < size ? sizeof(seq) : size);
            sent_at[st.sent] = masque_quic_now_ns();
            (void)sendto(peer, msg, size, 0, (struct sockaddr *)&ss, sl);
            st.sent++;
        }
        between(peer);
        while ((r = recv(peer, in, sizeof(in), MSG_DONTWAIT)) >= 0) {
            uint32_t seq = 0;
            if ((size_t)r >= sizeof(seq)) {
                memcpy(&seq, in, sizeof(seq));
                if (seq < st.sent) {
                    rtt[st.answered++] = masque_quic_now_ns() - sent_at[seq];
                }
            }
            got++;
            last_progress = masque_quic_now_ns();
        }
        if (got < st.sent && masque_quic_now_ns() - last_progress > 200000000u) {
            got = st.sent; /* give up on the lost ones and go on (counted below) */
        }
    }
    st.seconds = (double)(masque_quic_now_ns() - t0) / 1e9;
    qsort(rtt, st.answered, sizeof(rtt[0]), cmp_u64);
    st.rtt_p50_us = st.answered ? (double)rtt[st.answered / 2] / 1e3 : -1.0;
    st.rtt_p99_us = st.answered ? (double)rtt[st.answered * 99 / 100] / 1e3 : -1.0;
    (void)close(peer);
    return st;
}

static void wait_relay(int peer)
{
    (void)peer;
    pump_relay();
}

static void wait_direct(int peer)
{
    (void)peer;
    pump_direct();
}

/* Sends `count` datagrams of `size` bytes with at most `window` outstanding; this thread runs
 * the relay (relayed 1), the reference forwarder (2) or the echo (0) too. */
static result run(const char *name, int relayed, size_t size, size_t count, size_t window)
{
    void (*between)(int) = relayed == 1 ? wait_relay : relayed == 2 ? wait_forward : wait_direct;
    int cpu_measured = cpu_runs && relayed == 1 && window > 1;
    masque_address target;
    window_stats st;
    result res;
    if (relayed == 1) {
        target = pub;
    } else if (relayed == 2) {
        target = fwd_pub;
    } else {
        (void)close(echo_fd);
        echo_fd = bound(&target);
    }
    res.cpu_us = 0.0;
    if (cpu_measured) {
        /* The proxy's CPU time needs the thread's CPU clock around every proxy step, two
         * system calls a step: a run of its own, so that the rates measured below do not
         * carry the measurement's cost (the direct echo carries none). */
        proxy_cpu_ns = 0;
        measure_proxy_cpu = 1;
        st = windowed(&target, size, count, window, between);
        measure_proxy_cpu = 0;
        res.cpu_us = st.answered ? (double)proxy_cpu_ns / 1e3 / (2.0 * (double)st.answered) : 0.0;
    }
    st = windowed(&target, size, count, window, between);
    res.per_s = (double)st.answered / st.seconds;
    res.rtt_p50_us = st.rtt_p50_us;
    res.lost = st.sent - st.answered;
    printf("relay\t%s\t%zu\t%.0f\t%.1f\t%.1f\t%.1f\t%zu\t", name, size, res.per_s,
           (double)st.answered * (double)size / (st.seconds * 1e6), st.rtt_p50_us, st.rtt_p99_us,
           st.sent - st.answered);
    if (relayed && !cpu_measured) {
        printf("-\n"); /* measured in throughput runs of the relay only */
    } else {
        printf("%.1f\n", res.cpu_us);
    }
    (void)fflush(stdout);
    return res;
}

/* A proxy and a client with one accepted Bind request; 0 when it could not be set up. Path 0:
 * HTTP/3 datagrams, 1: capsules over HTTP/3, 2: HTTP/2. */
static int setup(const test_pki *pki, int path)
{
    int capsules = path == 1;
    static masque_policy policy;
    static masque_policy_rule rule;
    masque_quic_proxy_config pcfg;
    masque_quic_config ccfg;
    static const masque_quic_hooks hooks = {on_ready, on_packet, NULL, NULL, NULL, NULL, NULL};
    masque_address proxy_addr;
    masque_address local_addr;
    struct sockaddr_storage remote;
    struct sockaddr_storage local;
    socklen_t rl = 0;
    socklen_t ll = 0;
    int proxy_fd = bound(&proxy_addr);
    uint64_t deadline;
    (void)masque_policy_rule_parse(&rule, "127.0.0.0/8", 11, 1);
    memset(&policy, 0, sizeof(policy));
    policy.rules = &rule;
    policy.rule_count = 1;
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.conn.uri_template = tmpl;
    pcfg.conn.policy = &policy;
    pcfg.conn.cert_file = pki->cert_file;
    pcfg.conn.key_file = pki->key_file;
    pcfg.conn.force_capsules = capsules;
    pcfg.relay_bind = proxy_addr;
    if (idle_clients > 0) {
        pcfg.max_clients = idle_clients + 16; /* room for all: none is turned away */
    }
#ifdef MASQUE_HAVE_H2
    if (path == 2) { /* HTTP/2 only: a TCP listener at the same address */
        struct sockaddr_storage ss;
        socklen_t sl = 0;
        (void)masque_address_to_sockaddr(&proxy_addr, &ss, &sl);
        ((struct sockaddr_in *)&ss)->sin_port = 0; /* the UDP port may be taken for TCP */
        tcp_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (tcp_listen_fd < 0 || bind(tcp_listen_fd, (struct sockaddr *)&ss, sl) != 0 ||
            listen(tcp_listen_fd, 4) != 0 ||
            getsockname(tcp_listen_fd, (struct sockaddr *)&tcp_remote, &sl) != 0) {
            return 0;
        }
        pcfg.serve_h2 = 1;
        pcfg.h2_listen_fd = tcp_listen_fd;
    }
#endif
    proxy = masque_quic_proxy_new(&pcfg, proxy_fd);
    memset(&ccfg, 0, sizeof(ccfg));
    ccfg.authority = "localhost";
    ccfg.uri_template = tmpl;
    ccfg.ca_file = pki->ca_file; /* verification on */
    ccfg.force_capsules = capsules;
    client_fd = bound(&local_addr);
    (void)masque_address_to_sockaddr(&proxy_addr, &remote, &rl);
    (void)masque_address_to_sockaddr(&local_addr, &local, &ll);
    (void)connect(client_fd, (struct sockaddr *)&remote, rl);
    ready = 0;
    request = NULL;
    if (idle_clients > 0 && (proxy == NULL || !idle_setup(&ccfg, &remote, rl))) {
        fprintf(stderr, "relay-bench: %zu idle clients did not all get their request\n",
                idle_clients);
        return 0;
    }
    deadline = masque_quic_now_ns() + 5000000000u;
#ifdef MASQUE_HAVE_H2
    if (path == 2) {
        static const masque_h2_hooks h2_hooks = {h2_ready, h2_packet, NULL, NULL, NULL, NULL, NULL};
        masque_h2_config hcfg;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (proxy == NULL || fd < 0 ||
            (connect(fd, (struct sockaddr *)&tcp_remote, rl) != 0 && errno != EINPROGRESS)) {
            return 0;
        }
        (void)close(client_fd);
        client_fd = fd;
        memset(&hcfg, 0, sizeof(hcfg));
        hcfg.authority = "localhost";
        hcfg.uri_template = tmpl;
        hcfg.ca_file = pki->ca_file;
        h2_client = masque_h2_client_new(&hcfg, fd, &h2_hooks, NULL);
        h2_request = NULL;
        while (h2_client != NULL && masque_quic_now_ns() < deadline && !ready) {
            masque_context_info u;
            pump_relay();
            ready = h2_request != NULL &&
                    masque_session_context_find(masque_h2_request_session(h2_request), NULL, &u) &&
                    u.state == MASQUE_CONTEXT_ACTIVE;
        }
        return ready;
    }
#endif
    client = masque_quic_client_new(&ccfg, client_fd, (struct sockaddr *)&local, ll,
                                    (struct sockaddr *)&remote, rl, &hooks, NULL);
    if (proxy == NULL || client == NULL) {
        return 0;
    }
    while (masque_quic_now_ns() < deadline && !ready) {
        masque_context_info u;
        pump_relay();
        ready = request != NULL &&
                masque_session_context_find(masque_quic_request_session(request), NULL, &u) &&
                u.state == MASQUE_CONTEXT_ACTIVE;
    }
    return ready && masque_quic_request_uses_h3_datagrams(request) == !capsules;
}

static void teardown(void)
{
#ifdef MASQUE_HAVE_H2
    masque_h2_free(h2_client);
    h2_client = NULL;
    if (tcp_listen_fd >= 0) {
        (void)close(tcp_listen_fd);
        tcp_listen_fd = -1;
    }
#endif
    masque_quic_free(client);
    idle_teardown();
    masque_quic_proxy_free(proxy);
    (void)close(client_fd);
    client = NULL;
    proxy = NULL;
}

/* ---- --processes: each part in a process of its own ---- */

static volatile sig_atomic_t child_stop;

static void on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

/* Runs loop() in a child until SIGTERM; the child's pid, or -1. */
static pid_t spawn(void (*loop)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        (void)sigaction(SIGTERM, &sa, NULL);
        loop();
        _exit(0);
    }
    return pid;
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        (void)kill(pid, SIGTERM);
        (void)waitpid(pid, NULL, 0);
    }
}

/* CPU time a process has run (ns), from the scheduler's own account; 0 when unknown. */
static uint64_t process_cpu_ns(pid_t pid)
{
    char path[64];
    unsigned long long ns = 0;
    FILE *f;
    (void)snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu", &ns) != 1) {
        ns = 0;
    }
    (void)fclose(f);
    return (uint64_t)ns;
}

/* Milliseconds until a connection's timer, bounded so that a stop is seen soon. */
static int wait_ms(uint64_t due)
{
    uint64_t now = masque_quic_now_ns();
    uint64_t ms = due <= now ? 0 : (due - now) / 1000000u + 1;
    return ms > 50 ? 50 : (int)ms;
}

static void proxy_loop(void)
{
    while (!child_stop) {
        (void)masque_quic_proxy_step(proxy, 50);
    }
}

static void client_loop(void)
{
    while (!child_stop) {
        struct pollfd pfd;
        uint64_t due;
        pfd.fd = client_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
#ifdef MASQUE_HAVE_H2
        if (h2_client != NULL) {
            due = masque_h2_next_timeout(h2_client); /* ms, where the QUIC binding says ns */
            due = due < UINT64_MAX / 1000000u ? due * 1000000u : UINT64_MAX;
            if (masque_h2_wants_write(h2_client)) {
                pfd.events |= POLLOUT;
            }
            if (poll(&pfd, 1, wait_ms(due)) > 0) {
                (void)masque_h2_read(h2_client);
            }
            (void)masque_h2_tick(h2_client); /* timers, and writes what waits */
            continue;
        }
#endif
        due = masque_quic_next_timeout(client);
        if (poll(&pfd, 1, wait_ms(due)) > 0) {
            (void)masque_quic_read_socket(client);
        }
        if (masque_quic_next_timeout(client) <= masque_quic_now_ns()) {
            (void)masque_quic_tick(client);
        }
        (void)masque_quic_write(client);
    }
}

static void echo_loop(void)
{
    while (!child_stop) {
        struct pollfd pfd;
        pfd.fd = echo_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 50) > 0) {
            pump_direct();
        }
    }
}

typedef struct proc_result {
    double per_s;
    double rtt_p50_us;
    double proxy_cpu_us;  /* per relayed datagram */
    double client_cpu_us; /* per relayed datagram */
} proc_result;

/* Sleeps until answers come (the relay runs in other processes). */
static void wait_answers(int peer)
{
    struct pollfd pfd;
    pfd.fd = peer;
    pfd.events = POLLIN;
    pfd.revents = 0;
    (void)poll(&pfd, 1, 200);
}

/* As run(), with the relay (or the echo service) in other processes: this one sleeps in poll()
 * until answers come. */
static proc_result run_processes(const char *name, const masque_address *target, size_t size,
                                 size_t count, size_t window, pid_t proxy_pid, pid_t client_pid)
{
    uint64_t proxy0 = proxy_pid > 0 ? process_cpu_ns(proxy_pid) : 0;
    uint64_t client0 = client_pid > 0 ? process_cpu_ns(client_pid) : 0;
    window_stats st = windowed(target, size, count, window, wait_answers);
    /* An echo is two relayed datagrams (peer to client, client to peer). */
    double relayed = 2.0 * (double)st.answered;
    proc_result res;
    res.per_s = (double)st.answered / st.seconds;
    res.rtt_p50_us = st.rtt_p50_us;
    res.proxy_cpu_us = proxy_pid > 0 && st.answered
                           ? (double)(process_cpu_ns(proxy_pid) - proxy0) / 1e3 / relayed
                           : 0.0;
    res.client_cpu_us = client_pid > 0 && st.answered
                            ? (double)(process_cpu_ns(client_pid) - client0) / 1e3 / relayed
                            : 0.0;
    printf("processes\t%s\t%zu\t%.0f\t%.1f\t%.1f\t%.1f\t%zu\t%.2f\t%.2f\n", name, size, res.per_s,
           (double)st.answered * (double)size / (st.seconds * 1e6), st.rtt_p50_us, st.rtt_p99_us,
           st.sent - st.answered, res.proxy_cpu_us, res.client_cpu_us);
    (void)fflush(stdout);
    return res;
}

/* One round trip of `size` bytes from `fd` to `to`; its time in ns, or 0 when no answer came
 * within a second. */
static uint64_t ping(int fd, const struct sockaddr_storage *to, socklen_t tl, uint8_t *msg,
                     size_t size, uint32_t seq)
{
    static uint8_t in[65536];
    uint64_t t0 = masque_quic_now_ns();
    memcpy(msg, &seq, sizeof(seq));
    (void)sendto(fd, msg, size, 0, (const struct sockaddr *)to, tl);
    while (masque_quic_now_ns() - t0 < 1000000000u) {
        struct pollfd pfd;
        ssize_t r;
        uint32_t got = 0;
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        (void)poll(&pfd, 1, 100);
        while ((r = recv(fd, in, sizeof(in), MSG_DONTWAIT)) >= (ssize_t)sizeof(got)) {
            memcpy(&got, in, sizeof(got));
            if (got == seq) {
                return masque_quic_now_ns() - t0;
            }
        }
    }
    return 0;
}

/* Round trips direct and relayed, alternately, so that both see the machine in the same state
 * (idle states and scheduling make a one-at-a-time round trip vary several-fold from run to
 * run); prints both and returns the ratio of their medians. */
static double rtt_interleaved(const char *name, const masque_address *direct,
                              const masque_address *relayed, size_t size, size_t count,
                              pid_t proxy_pid)
{
    static uint8_t msg[65536];
    static uint64_t d[20000];
    static uint64_t m[20000];
    masque_address peer_addr;
    struct sockaddr_storage ds;
    struct sockaddr_storage ms;
    socklen_t dl = 0;
    socklen_t ml = 0;
    int peer = bound(&peer_addr);
    size_t nd = 0;
    size_t nm = 0;
    size_t i;
    uint64_t cpu0 = process_cpu_ns(proxy_pid);
    double cpu_us;
    (void)masque_address_to_sockaddr(direct, &ds, &dl);
    (void)masque_address_to_sockaddr(relayed, &ms, &ml);
    memset(msg, 0x5A, size);
    if (count > sizeof(d) / sizeof(d[0])) {
        count = sizeof(d) / sizeof(d[0]);
    }
    for (i = 0; i < count; i++) {
        uint64_t t = ping(peer, &ds, dl, msg, size, (uint32_t)(2 * i));
        if (t != 0) {
            d[nd++] = t;
        }
        t = ping(peer, &ms, ml, msg, size, (uint32_t)(2 * i + 1));
        if (t != 0) {
            m[nm++] = t;
        }
    }
    cpu_us = nm ? (double)(process_cpu_ns(proxy_pid) - cpu0) / 1e3 / (2.0 * (double)nm) : 0.0;
    qsort(d, nd, sizeof(d[0]), cmp_u64);
    qsort(m, nm, sizeof(m[0]), cmp_u64);
    printf("processes\tdirect_rtt\t%zu\t-\t-\t%.1f\t%.1f\t%zu\t-\t-\n", size,
           nd ? (double)d[nd / 2] / 1e3 : -1.0, nd ? (double)d[nd * 99 / 100] / 1e3 : -1.0,
           count - nd);
    printf("processes\t%s_rtt\t%zu\t-\t-\t%.1f\t%.1f\t%zu\t%.2f\t-\n", name, size,
           nm ? (double)m[nm / 2] / 1e3 : -1.0, nm ? (double)m[nm * 99 / 100] / 1e3 : -1.0,
           count - nm, cpu_us);
    (void)close(peer);
    return nd && nm ? (double)m[nm / 2] / (double)d[nd / 2] : 0.0;
}

/* The reference's one-line verdict (the goals are the relay's, not the reference's). */
static const char reference_summary[] = "a plain UDP forwarder of the relay's shape (four packets "
                                        "an echo, GSO/GRO, no encryption)";

/* The reference's throughput and RTT p50 against direct, per size (64, 1200; 0: not measured),
 * which each relay summary of the same mode repeats beside its own. */
static double reference_per_s[2];
static double reference_rtt[2];

/* Prints, after a relay's summary, the reference's figures of the same size and mode. */
static void print_reference_beside(size_t k)
{
    if (reference_rtt[k] > 0) {
        printf("; the reference forwarder: %.2fx, rtt %.1fx", reference_per_s[k], reference_rtt[k]);
    }
    printf("\n");
}

/* Throughput and round trips at both sizes in this thread, direct and through the relay
 * (relayed 1; `path` names its datagram path) or through the reference forwarder (2). */
static void measure_in_thread(const char *path, int relayed, size_t count)
{
    static const size_t sizes[] = {64, 1200};
    char name[64];
    char rtt_name[sizeof(name) + 4];
    size_t k;
    (void)snprintf(name, sizeof(name), "%s%s", relayed == 1 ? "masque_" : "udp_forward",
                   relayed == 1 ? path : "");
    (void)snprintf(rtt_name, sizeof(rtt_name), "%s_rtt", name);
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        result d = run("direct", 0, sizes[k], count, 32);
        result m = run(name, relayed, sizes[k], count, 32);
        result dr = run("direct_rtt", 0, sizes[k], count / 10, 1);
        result mr = run(rtt_name, relayed, sizes[k], count / 10, 1);
        double per_s = d.per_s > 0 ? m.per_s / d.per_s : 0.0;
        double rtt = dr.rtt_p50_us > 0 ? mr.rtt_p50_us / dr.rtt_p50_us : 0.0;
        if (relayed == 2) {
            reference_per_s[k] = per_s;
            reference_rtt[k] = rtt;
            printf("summary reference %zu B: %s: throughput %.2fx direct, rtt p50 %.1fx direct\n",
                   sizes[k], reference_summary, per_s, rtt);
        } else {
            printf("summary %s %zu B: throughput %.2fx direct (goal >= 0.5), rtt p50 %.1fx "
                   "direct (goal <= 3), proxy CPU %.1f us per relayed datagram",
                   path, sizes[k], per_s, rtt, m.cpu_us);
            if (m.lost + mr.lost > 0) { /* on loopback a sign of a defect, not of the network */
                printf("; %zu datagrams LOST (the figures do not hold)", m.lost + mr.lost);
            }
            print_reference_beside(k);
        }
    }
}

/* The reference forwarder's two halves as processes: the forwarder (both of its sockets) and
 * the client that echoes. */
static void forward_loop(void)
{
    while (!child_stop) {
        struct pollfd pfd[2];
        pfd[0].fd = fwd_pub_fd;
        pfd[1].fd = fwd_inner_fd;
        pfd[0].events = pfd[1].events = POLLIN;
        pfd[0].revents = pfd[1].revents = 0;
        if (poll(pfd, 2, 50) > 0) {
            forward_to_client();
            if (fwd_peer_len != 0) {
                pass_trains(fwd_inner_fd, fwd_pub_fd, &fwd_peer, fwd_peer_len);
            }
        }
    }
}

static void forward_client_loop(void)
{
    while (!child_stop) {
        struct pollfd pfd;
        pfd.fd = fwd_client_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 50) > 0) {
            pass_trains(fwd_client_fd, fwd_client_fd, NULL, 0);
        }
    }
}

/* As measure_in_thread(), with every part in a process of its own: relay_side (the proxy or
 * the forwarder) and client_side, and the echo service for the direct runs. */
static void measure_processes(const char *path, int relayed, size_t count)
{
    static const size_t sizes[] = {64, 1200};
    const masque_address *target = relayed == 1 ? &pub : &fwd_pub;
    masque_address echo_addr;
    char name[64];
    pid_t relay_pid;
    pid_t client_pid;
    pid_t echo_pid;
    size_t k;
    (void)snprintf(name, sizeof(name), "%s%s", relayed == 1 ? "masque_" : "udp_forward",
                   relayed == 1 ? path : "");
    (void)close(echo_fd);
    echo_fd = bound(&echo_addr);
    /* The relay's handshake ran in this process (setup()); from here on the children own it. */
    relay_pid = spawn(relayed == 1 ? proxy_loop : forward_loop);
    client_pid = spawn(relayed == 1 ? client_loop : forward_client_loop);
    echo_pid = spawn(echo_loop);
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        proc_result d = run_processes("direct", &echo_addr, sizes[k], count, 32, -1, -1);
        proc_result m = run_processes(name, target, sizes[k], count, 32, relay_pid, client_pid);
        double per_s = d.per_s > 0 ? m.per_s / d.per_s : 0.0;
        double rtt = rtt_interleaved(name, &echo_addr, target, sizes[k], count / 10, relay_pid);
        if (relayed == 2) {
            reference_per_s[k] = per_s;
            reference_rtt[k] = rtt;
            printf("summary (processes) reference %zu B: %s: throughput %.2fx direct, rtt p50 "
                   "%.1fx direct, forwarder CPU %.2f us per forwarded datagram\n",
                   sizes[k], reference_summary, per_s, rtt, m.proxy_cpu_us);
        } else {
            printf("summary (processes) %s %zu B: throughput %.2fx direct (goal >= 0.5), rtt p50 "
                   "%.1fx direct (goal <= 3), proxy CPU %.2f us per relayed datagram under load "
                   "(goal <= 17.6: 0.8x h2o's 22), client CPU %.2f us",
                   path, sizes[k], per_s, rtt, m.proxy_cpu_us, m.client_cpu_us);
            print_reference_beside(k);
        }
    }
    stop(echo_pid);
    stop(client_pid);
    stop(relay_pid);
}

int main(int argc, char **argv)
{
    int quick = 0;
    int processes = 0;
    int paths = 7; /* 1: HTTP/3 datagrams, 2: capsules, 4: HTTP/2 */
    size_t count;
    test_pki pki;
    int path;
    int i;
    for (i = 1; i < argc; i++) {
        quick |= strcmp(argv[i], "--quick") == 0;
        if (strcmp(argv[i], "--idle-clients") == 0 && i + 1 < argc) {
            idle_clients = (size_t)strtoul(argv[++i], NULL, 10);
            idle_clients = idle_clients > IDLE_MAX ? IDLE_MAX : idle_clients;
        }
        processes |= strcmp(argv[i], "--processes") == 0;
        paths = strcmp(argv[i], "--capsules") == 0       ? 2
                : strcmp(argv[i], "--h3-datagrams") == 0 ? 1
                : strcmp(argv[i], "--h2") == 0           ? 4
                                                         : paths;
    }
    count = quick ? 2000 : 50000;
    cpu_runs = !quick;
    if (test_pki_make(&pki) != 0) {
        fprintf(stderr, "relay-bench: no throw-away CA\n");
        return 0;
    }
    if (processes) {
        printf("case\tpath\tsize\tdatagrams_per_s\tMB_per_s\trtt_p50_us\trtt_p99_us\tlost\t"
               "proxy_cpu_us_per_datagram\tclient_cpu_us_per_datagram\n");
    } else {
        printf("case\tpath\tsize\tdatagrams_per_s\tMB_per_s\trtt_p50_us\trtt_p99_us\tlost\t"
               "proxy_cpu_us_per_datagram\n");
    }
    echo_fd = -1;
    if (!quick) {
        /* What the relay's shape allows before any protocol, in the same mode. Not in --quick
         * runs, whose instruction counts must be the relay's alone. */
        forward_setup();
        if (processes) {
            measure_processes("", 2, count);
        } else {
            measure_in_thread("", 2, count);
        }
        forward_teardown();
    }
    for (path = 0; path <= 2; path++) {
        static const char *const names[] = {"h3_datagrams", "capsules", "h2"};
        const char *name_of_path = names[path];
        if ((paths & (1 << path)) == 0) {
            continue;
        }
#ifndef MASQUE_HAVE_H2
        if (path == 2) {
            continue; /* built without HTTP/2 */
        }
#endif
        if (!setup(&pki, path)) {
            fprintf(stderr, "relay-bench: setup failed (%s)\n", name_of_path);
            teardown();
            continue;
        }
        if (processes) {
            measure_processes(name_of_path, 1, count);
        } else {
            measure_in_thread(name_of_path, 1, count);
        }
        teardown();
    }
    test_pki_remove(&pki);
    return 0;
}
