/* SPDX-License-Identifier: GPL-3.0-only */
/* systemd's notification protocol: see notify.h. */
#define _GNU_SOURCE /* SOCK_CLOEXEC, MSG_NOSIGNAL */
#include "notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *state)
{
    static int fd = -1;
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un to;
    size_t len;
    socklen_t tl;
    if (name == NULL || (name[0] != '/' && name[0] != '@')) {
        return 0; /* not started by a manager (or by one this program does not know) */
    }
    len = strlen(name);
    if (len < 2 || len >= sizeof(to.sun_path)) {
        return 0;
    }
    memset(&to, 0, sizeof(to));
    to.sun_family = AF_UNIX;
    memcpy(to.sun_path, name, len);
    if (name[0] == '@') {
        to.sun_path[0] = '\0'; /* an abstract socket: no NUL after its name */
    }
    tl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/' ? 1u : 0u));
    if (fd < 0) {
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return 0;
        }
    }
    return sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&to, tl) ==
           (ssize_t)strlen(state);
}

uint64_t notify_watchdog_ns(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end = NULL;
    unsigned long long n;
    if (usec == NULL || usec[0] < '0' || usec[0] > '9') {
        return 0;
    }
    if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid()) {
        return 0; /* the pings are asked of another process */
    }
    n = strtoull(usec, &end, 10);
    if (*end != '\0' || n == 0 || n > UINT64_MAX / 1000u) {
        return 0;
    }
    return (uint64_t)n * 1000u;
}
