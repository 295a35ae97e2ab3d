/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file config.h
 * @brief Compile-time switches, for devices that do not need every part of the core.
 *
 * A profile (MASQUE_BUILD_PROFILE) sets the default of every switch at once; a switch defined
 * on its own (e.g. -DMASQUE_ENABLE_HTTP=0) overrides its profile's default. The same values
 * must be used for the library and for the code that includes its headers (sessions check the
 * size of their structs at run time and refuse a mismatch with MASQUE_ERR_ABI).
 *
 * | profile              | what is in it                                                  |
 * |----------------------|----------------------------------------------------------------|
 * | MASQUE_BUILD_FULL    | everything (the default)                                       |
 * | MASQUE_BUILD_MINIMAL | both session roles; no HTTP helpers, policy, draft-04, IPv6,   |
 * |                      | auto-compression or error texts; small queues                  |
 * | MASQUE_BUILD_CLIENT  | as minimal, without the proxy role and without argument checks |
 * | MASQUE_BUILD_CODEC   | varints, capsules, datagrams, addresses; no context table, no  |
 * |                      | sessions, no argument checks                                   |
 */
#ifndef MASQUE_CONFIG_H
#define MASQUE_CONFIG_H

/** Profile: every part of the core (the default). */
#define MASQUE_BUILD_FULL    1
/** Profile: the core a device running either role needs. */
#define MASQUE_BUILD_MINIMAL 2
/** Profile: a Bind client on a device whose code calls the library correctly. */
#define MASQUE_BUILD_CLIENT  3
/** Profile: the wire codec alone (encode/decode over buffers, no state). */
#define MASQUE_BUILD_CODEC   4

#ifndef MASQUE_BUILD_PROFILE
/** Which profile sets the defaults below: one of the MASQUE_BUILD_* values. */
#define MASQUE_BUILD_PROFILE MASQUE_BUILD_FULL
#endif

#if MASQUE_BUILD_PROFILE != MASQUE_BUILD_FULL && MASQUE_BUILD_PROFILE != MASQUE_BUILD_MINIMAL &&   \
    MASQUE_BUILD_PROFILE != MASQUE_BUILD_CLIENT && MASQUE_BUILD_PROFILE != MASQUE_BUILD_CODEC
#error "MASQUE_BUILD_PROFILE must be MASQUE_BUILD_FULL, _MINIMAL, _CLIENT or _CODEC"
#endif

/** 1 in the full profile: the default of the optional features below. */
#define MASQUE_PROFILE_IS_FULL (MASQUE_BUILD_PROFILE == MASQUE_BUILD_FULL)

#ifndef MASQUE_ENABLE_SESSION
/** Sessions and the context table (session.h, context.h); the codec profile leaves them out. */
#define MASQUE_ENABLE_SESSION (MASQUE_BUILD_PROFILE != MASQUE_BUILD_CODEC)
#endif

#ifndef MASQUE_ENABLE_PROXY
/**
 * The proxy role of sessions. Without it masque_session_init() refuses MASQUE_ROLE_PROXY with
 * MASQUE_ERR_UNSUPPORTED.
 */
#define MASQUE_ENABLE_PROXY (MASQUE_ENABLE_SESSION && MASQUE_BUILD_PROFILE != MASQUE_BUILD_CLIENT)
#endif

#ifndef MASQUE_ENABLE_ARG_CHECKS
/**
 * Checks of the arguments a caller passes (NULL pointers, impossible enum values and sizes),
 * answered with MASQUE_ERR_INVALID_ARGUMENT. Without them such calls are undefined behaviour;
 * turn them off only where every caller is known to be correct (the client and codec profiles
 * do). Input from the network is checked in every build.
 */
#define MASQUE_ENABLE_ARG_CHECKS                                                                   \
    (MASQUE_BUILD_PROFILE != MASQUE_BUILD_CLIENT && MASQUE_BUILD_PROFILE != MASQUE_BUILD_CODEC)
#endif

#ifndef MASQUE_ENABLE_CONTEXT_INDEX
/**
 * Hash indexes over the context table (by Context ID and by tuple): lookups in constant time
 * at any size, for 8 more bytes of storage per context and about 1 KiB of code. Without them a
 * lookup scans the entries, which costs less for the handful of contexts a client device
 * holds; the client profile leaves them out.
 */
#define MASQUE_ENABLE_CONTEXT_INDEX                                                                \
    (MASQUE_ENABLE_SESSION && MASQUE_BUILD_PROFILE != MASQUE_BUILD_CLIENT)
#endif

#ifndef MASQUE_OPTIMIZE_SIZE
/**
 * 1: one out-of-line copy of the small wire helpers (varint reading) instead of fast inlined
 * ones in every file that reads the wire; smaller code, a call more per field. The default
 * outside the full profile, and in every profile when the compiler optimizes for size (-Os,
 * -Oz: GCC and clang define __OPTIMIZE_SIZE__), since that is what such a build asks for.
 */
#if defined(__OPTIMIZE_SIZE__)
#define MASQUE_OPTIMIZE_SIZE 1
#else
#define MASQUE_OPTIMIZE_SIZE (!MASQUE_PROFILE_IS_FULL)
#endif
#endif

#ifndef MASQUE_ENABLE_DRAFT04
/** The draft-04 codepoint profile (MASQUE_PROFILE_DRAFT04). */
#define MASQUE_ENABLE_DRAFT04 MASQUE_PROFILE_IS_FULL
#endif

#ifndef MASQUE_ENABLE_POLICY
/**
 * The target policy (policy.h). Without it a proxy session checks no target: the host must
 * filter every ASSIGN and uncompressed target itself (-10 §9).
 */
#define MASQUE_ENABLE_POLICY MASQUE_PROFILE_IS_FULL
#endif

#ifndef MASQUE_ENABLE_AUTO_COMPRESS
/** Auto-compression of busy targets in sessions. */
#define MASQUE_ENABLE_AUTO_COMPRESS MASQUE_PROFILE_IS_FULL
#endif

#ifndef MASQUE_ENABLE_HTTP
/** The header and URI template helpers (http.h). */
#define MASQUE_ENABLE_HTTP MASQUE_PROFILE_IS_FULL
#endif

#ifndef MASQUE_ENABLE_IPV6
/**
 * IPv6 targets. Without it the wire codec still decodes IPv6 fields (a peer may send them), but
 * sessions refuse IPv6 registrations with COMPRESSION_CLOSE, drop IPv6 uncompressed datagrams,
 * and the text forms handle IPv4 only.
 */
#define MASQUE_ENABLE_IPV6 MASQUE_PROFILE_IS_FULL
#endif

#ifndef MASQUE_ENABLE_ERROR_TEXT
/** Texts for masque_strerror(); without them it returns "masque error" for every code. */
#define MASQUE_ENABLE_ERROR_TEXT MASQUE_PROFILE_IS_FULL
#endif

#endif /* MASQUE_CONFIG_H */
