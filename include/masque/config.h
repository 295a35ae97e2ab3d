/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file config.h
 * @brief Compile-time switches, for devices that do not need every part of the core.
 *
 * Each defaults to 1; define it to 0 (e.g. -DMASQUE_ENABLE_HTTP=0) to compile the part out.
 * The same value must be used for the library and for the code that includes its headers.
 */
#ifndef MASQUE_CONFIG_H
#define MASQUE_CONFIG_H

#ifndef MASQUE_ENABLE_DRAFT04
/** The draft-04 codepoint profile (MASQUE_PROFILE_DRAFT04). */
#define MASQUE_ENABLE_DRAFT04 1
#endif

#ifndef MASQUE_ENABLE_POLICY
/**
 * The target policy (policy.h). Without it a proxy session checks no target: the host must
 * filter every ASSIGN and uncompressed target itself (-10 §9).
 */
#define MASQUE_ENABLE_POLICY 1
#endif

#ifndef MASQUE_ENABLE_AUTO_COMPRESS
/** Auto-compression of busy targets in sessions. */
#define MASQUE_ENABLE_AUTO_COMPRESS 1
#endif

#ifndef MASQUE_ENABLE_HTTP
/** The header and URI template helpers (http.h). */
#define MASQUE_ENABLE_HTTP 1
#endif

#ifndef MASQUE_ENABLE_IPV6
/**
 * IPv6 targets. Without it the wire codec still decodes IPv6 fields (a peer may send them), but
 * sessions refuse IPv6 registrations with COMPRESSION_CLOSE, drop IPv6 uncompressed datagrams,
 * and the text forms handle IPv4 only.
 */
#define MASQUE_ENABLE_IPV6 1
#endif

#ifndef MASQUE_ENABLE_ERROR_TEXT
/** Texts for masque_strerror(); without them it returns "masque error" for every code. */
#define MASQUE_ENABLE_ERROR_TEXT 1
#endif

#endif /* MASQUE_CONFIG_H */
