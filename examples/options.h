/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * Command-line values of masque-proxy and masque-bind-client, read strictly: a value that is
 * not what its option wants ends the program with a line on stderr (exit status 2), never a
 * silent default or a number cut short ("10k" is not 10, "-1" is not 4294967295).
 */
#ifndef MASQUE_EXAMPLES_OPTIONS_H
#define MASQUE_EXAMPLES_OPTIONS_H

#include <stdint.h>

/**
 * A whole number in decimal digits only, from @p min to @p max.
 * @return 0 with *out set, or -1 after saying on stderr what @p option wants.
 */
int option_number(const char *program, const char *option, const char *text, uint64_t min,
                  uint64_t max, uint64_t *out);

/**
 * A duration in seconds, not negative (a fraction allowed: "0.5").
 * @return 0 with *out set, or -1 after saying on stderr what @p option wants.
 */
int option_seconds(const char *program, const char *option, const char *text, double *out);

#endif /* MASQUE_EXAMPLES_OPTIONS_H */
