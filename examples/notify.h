/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * systemd's notification protocol (sd_notify(3)), without libsystemd: a service of Type=notify
 * says when it is ready and what it does, and, under WatchdogSec=, that its loop still turns.
 * Each call is one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET; without that
 * variable (not started by systemd) nothing is sent.
 */
#ifndef MASQUE_EXAMPLES_NOTIFY_H
#define MASQUE_EXAMPLES_NOTIFY_H

#include <stdint.h>

/**
 * Sends @p state ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...", several separated by
 * newlines) to the service manager. 1 when it was sent, 0 when there is no manager to tell or
 * the socket refused it (the service goes on either way).
 */
int notify_send(const char *state);

/**
 * The watchdog's interval, in nanoseconds, when the manager asks this process for pings
 * ($WATCHDOG_USEC, and $WATCHDOG_PID when set names this process); 0 when it does not. A
 * service pings at least every half of it.
 */
uint64_t notify_watchdog_ns(void);

#endif /* MASQUE_EXAMPLES_NOTIFY_H */
