/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * udp-peer: a plain UDP peer for the demo. Sends COUNT datagrams "TEXT N" to IP:PORT, one every
 * INTERVAL ms, and prints every answer; exits 0 when ANSWERS answers came back before the
 * deadline, 1 otherwise (so "expect no answer" is --answers 0 with the exit status reversed by
 * --expect-silence).
 *
 *   udp-peer IP:PORT [--count N] [--text TEXT] [--answers N] [--wait-ms MS] [--expect-silence]
 *   udp-peer IP:PORT --serve [--wait-ms MS]
 *
 * With --serve it is the other end: a local UDP service on IP:PORT (port 0: one the kernel
 * picks, printed) that answers every datagram
 * with "echo: TEXT (from PORT)" (the sender's port: each peer sees that its own socket spoke)
 * until nothing came for MS (default 2000); the demo exposes it through the proxy.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "masque/posix.h"
#include "options.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A local UDP echo service: answers "echo: TEXT (from PORT)" until idle for idle_ms. */
static int serve_echo(int fd, const struct sockaddr_storage *at, socklen_t atlen, long long idle_ms)
{
    long long deadline;
    unsigned served = 0;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    masque_address me;
    char text[MASQUE_ADDRESS_TEXT_MAX];
    if (bind(fd, (const struct sockaddr *)at, atlen) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0 ||
        masque_address_from_sockaddr((struct sockaddr *)&bound, blen, &me) != 0) {
        perror("udp-peer: bind");
        return 1;
    }
    /* Port 0 asks the kernel for a free one: the line says which. */
    (void)masque_address_format(text, sizeof(text), &me, 1);
    (void)printf("service: echoing on %s\n", text);
    (void)fflush(stdout);
    deadline = now_ms() + idle_ms;
    while (now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        char buf[2048];
        char reply[2200];
        masque_address src;
        ssize_t r;
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (r < 0 || masque_address_from_sockaddr((struct sockaddr *)&from, fl, &src) != 0) {
            continue;
        }
        {
            int n = snprintf(reply, sizeof(reply), "echo: %.*s (from %u)", (int)r, buf,
                             (unsigned)src.port);
            (void)sendto(fd, reply, (size_t)n, 0, (struct sockaddr *)&from, fl);
        }
        served++;
        deadline = now_ms() + idle_ms;
    }
    (void)printf("service: answered %u datagrams\n", served);
    return 0;
}

int main(int argc, char **argv)
{
    masque_address to;
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *text = "hello";
    int count = 1;
    int want = 1;
    int got = 0;
    int silence = 0;
    long long wait_ms = 2000;
    long long deadline;
    int fd;
    int i;
    int serve = 0;
    int serve_wait = 0;
    if (argc < 2 || masque_address_parse(&to, argv[1], strlen(argv[1]), 1) != MASQUE_OK ||
        masque_address_to_sockaddr(&to, &ss, &sl) != MASQUE_OK) {
        (void)fprintf(stderr, "usage: udp-peer IP:PORT [--count N] [--text TEXT] [--answers N] "
                              "[--wait-ms MS] [--expect-silence]\n"
                              "       udp-peer IP:PORT --serve [--wait-ms MS]\n");
        return 2;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--serve") == 0) {
            serve = 1;
        } else if (strcmp(argv[i], "--expect-silence") == 0) {
            silence = 1;
            want = 0;
        } else if (i + 1 < argc && strcmp(argv[i], "--count") == 0) {
            count = (int)option_number("udp-peer", argv[i], argv[i + 1], 1, 1000000);
            i++;
        } else if (i + 1 < argc && strcmp(argv[i], "--text") == 0) {
            text = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--answers") == 0) {
            want = (int)option_number("udp-peer", argv[i], argv[i + 1], 0, 1000000);
            i++;
        } else if (i + 1 < argc && strcmp(argv[i], "--wait-ms") == 0) {
            wait_ms = (long long)option_number("udp-peer", argv[i], argv[i + 1], 1, 3600000);
            serve_wait = 1;
            i++;
        } else {
            (void)fprintf(stderr, "udp-peer: unknown option %s, or one missing its value\n",
                          argv[i]);
            return 2;
        }
    }
    fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("udp-peer");
        return 1;
    }
    if (serve) {
        return serve_echo(fd, &ss, sl, serve_wait ? wait_ms : 2000);
    }
    for (i = 0; i < count; i++) {
        char msg[256];
        int n = snprintf(msg, sizeof(msg), "%s %d", text, i + 1);
        if (n < 0 || (size_t)n >= sizeof(msg)) {
            (void)fprintf(stderr,
                          "udp-peer: --text is too long (a datagram of at most %u "
                          "bytes with its number)\n",
                          (unsigned)(sizeof(msg) - 1));
            return 2;
        }
        (void)sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&ss, sl);
        (void)printf("peer: sent \"%s\" to %s\n", msg, argv[1]);
        (void)fflush(stdout);
        /* one answer per message before the next, so the order of the transcript is stable */
        deadline = now_ms() + wait_ms;
        while (got < want && got <= i && now_ms() < deadline) {
            struct pollfd p = {fd, POLLIN, 0};
            char buf[2048];
            if (poll(&p, 1, 50) > 0) {
                ssize_t r = recv(fd, buf, sizeof(buf), 0);
                if (r > 0) {
                    (void)printf("peer: got \"%.*s\"\n", (int)r, buf);
                    (void)fflush(stdout);
                    got++;
                }
            }
        }
    }
    if (silence) {
        deadline = now_ms() + wait_ms;
        while (now_ms() < deadline) {
            struct pollfd p = {fd, POLLIN, 0};
            char buf[2048];
            if (poll(&p, 1, 50) > 0 && recv(fd, buf, sizeof(buf), 0) > 0) {
                got++;
            }
        }
        (void)printf(got == 0 ? "peer: no answer, as expected (dropped at the proxy)\n"
                              : "peer: unexpected answer\n");
        return got == 0 ? 0 : 1;
    }
    return got >= want ? 0 : 1;
}
