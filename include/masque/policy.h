/* SPDX-License-Identifier: GPL-3.0-only */
/**
 * @file policy.h
 * @brief Which targets a proxy lets a client reach (-10 §9, RFC 9298 §7).
 *
 * A proxy consults the policy for every COMPRESSION_ASSIGN and for the target of every
 * uncompressed datagram (-10 §9: checking the ASSIGNs alone is not enough). The order is:
 * 1. the caller's rules, first match wins (so a rule can open a special range, e.g.
 *    loopback for a demo, or close a public one);
 * 2. the host callback, if any (authorization is the host's; it gets the session's user
 *    pointer);
 * 3. unless allow_special_purpose is set, special-purpose ranges are denied: unspecified,
 *    loopback, private, shared (CGN), link-local, documentation, benchmarking, multicast,
 *    broadcast, reserved, IPv4-mapped addresses of those, unique-local IPv6, and the
 *    IETF protocol assignments block;
 * 4. everything else is allowed, port 0 excepted.
 */
#ifndef MASQUE_POLICY_H
#define MASQUE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "masque/address.h"
#include "masque/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief One rule: a prefix and a port range, allowing or denying. */
typedef struct masque_policy_rule {
    masque_address prefix; /**< Version and address bytes; the port is ignored. */
    uint8_t prefix_len;    /**< Bits of the prefix that must match (0..32 or 0..128). */
    uint16_t port_min;     /**< Lowest port the rule covers. */
    uint16_t port_max;     /**< Highest port (0 means 65535). */
    uint8_t allow;         /**< 1 allows, 0 denies. */
} masque_policy_rule;

/** @brief Answer of a host callback. */
typedef enum masque_policy_verdict {
    MASQUE_POLICY_DENY = 0,      /**< Refuse the target. */
    MASQUE_POLICY_ALLOW = 1,     /**< Allow the target. */
    MASQUE_POLICY_NO_OPINION = 2 /**< Let the built-in defaults decide. */
} masque_policy_verdict;

/**
 * @brief Host callback consulted after the rules.
 * @param callback_user The policy's callback_user.
 * @param session_user The session's user pointer (who the client is).
 * @param target The target being checked.
 */
typedef masque_policy_verdict (*masque_policy_callback)(void *callback_user, void *session_user,
                                                        const masque_address *target);

/** @brief A target policy; the all-zero value is the safe default (special ranges denied). */
typedef struct masque_policy {
    const masque_policy_rule *rules; /**< Rules, first match wins; may be NULL. */
    size_t rule_count;               /**< Number of rules. */
    masque_policy_callback callback; /**< May be NULL. */
    void *callback_user;             /**< Passed to the callback. */
    int allow_special_purpose;       /**< Non-zero: skip the special-purpose deny list. */
} masque_policy;

/**
 * @brief Decide whether a target may be reached.
 * @param policy The policy (NULL means the defaults).
 * @param session_user Passed to the callback.
 * @param target The target tuple.
 * @return MASQUE_OK to allow; MASQUE_ERR_POLICY to refuse; MASQUE_ERR_ADDRESS for a target that
 *         is neither IPv4 nor IPv6.
 */
MASQUE_API int masque_policy_check(const masque_policy *policy, void *session_user,
                                   const masque_address *target);

/**
 * @brief Whether an address lies in a special-purpose range (see the file comment).
 * @return 1 if special-purpose, 0 if not.
 */
MASQUE_API int masque_address_is_special(const masque_address *a);

/**
 * @brief Parse a rule from text: "CIDR[:PORT[-PORT]]", e.g. "127.0.0.0/8:1-65535",
 *        "[::1]/128:4433", "203.0.113.7". IPv6 prefixes with a port range take brackets.
 * @param[out] rule Receives the rule; untouched on error.
 * @param text The text.
 * @param len Its length.
 * @param allow 1 for an allow rule, 0 for a deny rule.
 * @return MASQUE_OK or MASQUE_ERR_ADDRESS.
 */
MASQUE_API int masque_policy_rule_parse(masque_policy_rule *rule, const char *text, size_t len,
                                        int allow);

#ifdef __cplusplus
}
#endif

#endif /* MASQUE_POLICY_H */
