/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Command-line values of masque-proxy and masque-bind-client, read strictly: a value that is
 * not what its option wants ends the program (exit status 2) with a line on stderr, never a
 * silent default or a number cut short ("10k" is not 10, "-1" is not 4294967295). And the
 * standard descriptors, made sure of before anything else.
 */
#ifndef MASQUE_EXAMPLES_OPTIONS_H
#define MASQUE_EXAMPLES_OPTIONS_H

#include <stdint.h>

/**
 * A whole number in decimal digits only, from @p min to @p max; anything else ends the
 * program (exit status 2) after saying on stderr what @p option wants.
 */
uint64_t option_number(const char *program, const char *option, const char *text, uint64_t min,
                       uint64_t max);

/**
 * A duration in seconds, not negative, at most a year (a fraction allowed: "0.5"); anything
 * else ends the program as option_number() does.
 */
double option_seconds(const char *program, const char *option, const char *text);

/**
 * Opens /dev/null on each standard descriptor (0, 1, 2) that is closed, as each program does
 * first. Started with one closed (`<&-`, a supervisor that closes them), a program's first
 * socket would take that number: masque-bind-client then read its own QUIC packets as lines
 * of stdin, and either program would write its log lines into a socket.
 */
void open_standard_fds(void);

#endif /* MASQUE_EXAMPLES_OPTIONS_H */
