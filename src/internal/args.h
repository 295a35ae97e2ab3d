/* SPDX-License-Identifier: GPL-3.0-only */
/* Checks of what a caller passes (config.h, MASQUE_ENABLE_ARG_CHECKS). Only a caller's
 * mistakes go through this macro: NULL pointers, lengths no buffer can have. Everything that
 * comes from the network is checked in every build. */
#ifndef MASQUE_INTERNAL_ARGS_H
#define MASQUE_INTERNAL_ARGS_H

#include "masque/config.h"

#if MASQUE_ENABLE_ARG_CHECKS
/* 1 when the caller broke the function's contract. */
#define MASQUE_BAD_ARGS(cond) (cond)
#else
/* The caller is trusted (a firmware profile): the check compiles to nothing. */
#define MASQUE_BAD_ARGS(cond) 0
#endif

#endif /* MASQUE_INTERNAL_ARGS_H */
