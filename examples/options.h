/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Command-line values of masque-proxy and masque-bind-client, read strictly: a value that is
 * not what its option wants ends the program (exit status 2) with a line on stderr, never a
 * silent default or a number cut short ("10k" is not 10, "-1" is not 4294967295).
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

#endif /* MASQUE_EXAMPLES_OPTIONS_H */
