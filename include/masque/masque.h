/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file masque.h
 * @brief libmasque umbrella header: MASQUE CONNECT-UDP Bind (draft-ietf-masque-connect-udp-
 *        listen-10) over RFC 9298 and RFC 9297, sans-IO, allocation-free, zero-copy.
 */
#ifndef MASQUE_MASQUE_H
#define MASQUE_MASQUE_H

#include "masque/address.h"
#include "masque/capsule.h"
#include "masque/context.h"
#include "masque/datagram.h"
#include "masque/error.h"
#include "masque/http.h"
#include "masque/policy.h"
#include "masque/session.h"
#include "masque/varint.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Major version of the library. */
#define MASQUE_VERSION_MAJOR  0
/** Minor version of the library. */
#define MASQUE_VERSION_MINOR  2
/** Patch version of the library. */
#define MASQUE_VERSION_PATCH  0
/** Version as text. */
#define MASQUE_VERSION_STRING "0.2.0"
/** Version as one number: major * 10000 + minor * 100 + patch. */
#define MASQUE_VERSION_NUMBER                                                                      \
    (MASQUE_VERSION_MAJOR * 10000 + MASQUE_VERSION_MINOR * 100 + MASQUE_VERSION_PATCH)

/**
 * @brief Version of the library actually linked, as MASQUE_VERSION_STRING.
 * @return A static NUL-terminated string.
 */
MASQUE_API const char *masque_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_MASQUE_H */
