/* SPDX-License-Identifier: GPL-3.0-only */
/*
 * What the session's files share. session.c holds what both roles do (set-up, the stream and
 * datagram paths, the validate step every peer ASSIGN passes, the queues, timers and queries);
 * session_client.c and session_proxy.c hold what only one role does: how it answers the peer's
 * COMPRESSION_ASSIGN (client_on_assign / proxy_on_assign) and, for the proxy, whether a
 * datagram on the uncompressed context may go to its target (proxy_allows). The role is chosen
 * once per capsule or datagram, in session.c, as picotls chooses its handshake handlers.
 */
#ifndef MASQUE_INTERNAL_SESSION_H
#define MASQUE_INTERNAL_SESSION_H

#include "internal/context.h"
#include "masque/session.h"

/* Marks the session failed with a stream error and returns it. */
int masque_sess_fail(masque_session *s, int code);

#if MASQUE_OPTIMIZE_SIZE
/* Adds one to a 64-bit counter: one call where a 32-bit core spends four instructions on
 * each of the session's counters (config.h: builds that count bytes of code). */
void masque_sess_count(uint64_t *counter);
#define MASQUE_SESS_COUNT(s, name) masque_sess_count(&(s)->stats.name)
#else
#define MASQUE_SESS_COUNT(s, name) ((s)->stats.name++)
#endif

/* Whether this build leaves out a's family (IPv6, config.h). Only builds without IPv6 have the
 * test: in the others it would be a condition that is always false, which costs every datagram
 * with a tuple a few instructions and static analysers a finding. */
#if MASQUE_ENABLE_IPV6
#define MASQUE_SESS_FAMILY_COMPILED_OUT(a) 0
#else
#define MASQUE_SESS_FAMILY_COMPILED_OUT(a) ((a)->version == MASQUE_IP_V6)
#endif

/* Whether the family is one of advertised_families (all are, when that is 0): -10 §7, a
 * client does not use families the proxy did not advertise, and a proxy has no public address
 * to use them from. */
static inline int masque_sess_family_advertised(const masque_session *s, const masque_address *a)
{
    unsigned bit = a->version == MASQUE_IP_V4 ? MASQUE_FAMILY_V4 : MASQUE_FAMILY_V6;
    return s->cfg.advertised_families == 0 || (s->cfg.advertised_families & bit) != 0;
}

/* The queued capsules that fit in cap, from the oldest, encoded into dst and left in the queue
 * (*count: how many); masque_session_write_stream()'s answer otherwise. The adapter takes them
 * with masque_sess_stream_taken() once its host has written them. */
masque_ssize masque_sess_stream_peek(masque_session *s, uint8_t *dst, size_t cap, size_t *count);

/* Takes the oldest `count` queued capsules off the queue: they are written. */
void masque_sess_stream_taken(masque_session *s, size_t count);

/* Whether the -10 §9 bound leaves room for `needed` more responses. */
int masque_sess_responses_fit(const masque_session *s, size_t needed);

/* Accepts the peer's ASSIGN (-10 §3.1: saved, then acknowledged). */
int masque_sess_accept(masque_session *s, uint64_t id, const masque_address *target, uint64_t now);

/* Closes our own context for a tuple the peer registered too, before its ASSIGN is accepted
 * (-10 §3.1: the proxy's registration goes). The proxy's only. */
void masque_sess_close_ours(masque_session *s, masque_context *ours);

/* Refuses the peer's ASSIGN with COMPRESSION_CLOSE (-10 §3.1) and remembers its ID. */
int masque_sess_refuse(masque_session *s, uint64_t id, const masque_address *target, int reason);

/* The role's answer to a valid ASSIGN (target NULL: IP Version 0); `ours` is our own open
 * context for the tuple, or NULL. MASQUE_OK, or a stream error. */
int masque_sess_client_on_assign(masque_session *s, uint64_t id, const masque_address *target,
                                 const masque_context *ours, uint64_t now);
int masque_sess_proxy_on_assign(masque_session *s, uint64_t id, const masque_address *target,
                                masque_context *ours, uint64_t now);

/* Whether the proxy lets traffic go to a target (-10 §9): asked of every datagram on the
 * uncompressed context (the one question about a received datagram that only a role answers; a
 * client hears from whatever peer the proxy relays, -10 §8) and of every registration. */
int masque_sess_proxy_allows(const masque_session *s, const masque_address *target);

#if MASQUE_ENABLE_PROXY
/* Whether the session is a client's; a constant where the proxy role is compiled out, so that
 * its branches go too. */
#define MASQUE_SESS_IS_CLIENT(s) ((s)->cfg.role == MASQUE_ROLE_CLIENT)
#else
#define MASQUE_SESS_IS_CLIENT(s)       ((void)(s), 1)
/* Never called (every session is a client's), but named in the branches the constant above
 * removes; without session_proxy.c they resolve to the client's functions. */
#define masque_sess_proxy_on_assign    masque_sess_client_on_assign
#define masque_sess_proxy_allows(s, t) ((void)(s), (void)(t), 1)
#endif

#endif /* MASQUE_INTERNAL_SESSION_H */
